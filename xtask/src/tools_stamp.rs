//! Whether the host's tools were verified since anything that could change them changed, so
//! that `check` does not ask dpkg, rustup (twice) and bindgen on every run (a quarter of a
//! second of a one-second edit loop).
//!
//! The stamp (`target/klab/tools-verified`) holds what the last successful verification saw:
//! dpkg's status file, each rustup toolchain's component list, the `bindgen` on `PATH`,
//! `PATH` itself and this very `xtask` binary (a new one may want other tools). Any of them
//! changed, or no stamp: the tools are verified again. It never decides what is installed.

use std::path::Path;

const STAMP: &str = "tools-verified";

/// What the stamp records, as it is now.
fn now(bindgen_version: &str) -> String {
    use klab::host::{file_identity, find_program, rustup_identity};
    let mut seen = vec![format!("bindgen wanted {bindgen_version}")];
    seen.push(file_identity(Path::new("/var/lib/dpkg/status")));
    seen.extend(rustup_identity("lib/rustlib/components"));
    if let Some(bindgen) = find_program(Path::new("bindgen")) {
        seen.push(file_identity(&bindgen));
    }
    if let Ok(exe) = std::env::current_exe() {
        seen.push(file_identity(&exe));
    }
    seen.push(format!(
        "PATH {}",
        std::env::var("PATH").unwrap_or_default()
    ));
    seen.join("\n")
}

/// Whether the tools were verified with everything as it is now.
pub fn fresh(out: &Path, bindgen_version: &str) -> bool {
    std::fs::read_to_string(out.join(STAMP)).is_ok_and(|s| s == now(bindgen_version))
}

/// Records a successful verification (a stamp that cannot be written only costs the next
/// run a verification).
pub fn record(out: &Path, bindgen_version: &str) {
    let _ = std::fs::create_dir_all(out);
    let _ = klab::atomic_file::write(&out.join(STAMP), now(bindgen_version).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_verification_holds_until_what_it_saw_changes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!fresh(dir.path(), "0.73.2"), "no stamp, no verification");
        record(dir.path(), "0.73.2");
        assert!(fresh(dir.path(), "0.73.2"));
        assert!(!fresh(dir.path(), "0.74.0"), "another bindgen is wanted");
    }
}
