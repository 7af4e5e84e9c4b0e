//! What the labs' lint tests share: where the repository is, and its labs as klab loads them.

use std::path::{Path, PathBuf};

use klab::lab::manifest::{discover, Lab};

/// The repository's root folder.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("labs/ is inside the repository")
        .to_path_buf()
}

/// Every lab the repository holds, loaded as the harness loads them.
pub fn labs() -> Vec<Lab> {
    discover(&root().join("labs")).expect("every lab manifest loads")
}
