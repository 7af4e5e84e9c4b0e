//! What a toolchain program says about itself, remembered between runs: the version lines
//! the kernel cache key covers (`clang --version`, `rustc --version`, `bindgen --version`) and
//! the Rust sysroot the build sandbox binds (`rustc --print sysroot`). Asking them costs a
//! fifth of a second on every command.
//!
//! A remembered line is used only while what could change it has not changed: the program
//! found on `PATH` (size and modification time) and, for the programs rustup runs, rustup's
//! settings, `RUSTUP_TOOLCHAIN`, the repository's `rust-toolchain` files and every installed
//! toolchain's `rustc`. Otherwise the program is asked again. A memo that cannot be read or
//! written only costs the asking.

use std::path::Path;

use xshell::{cmd, Shell};

use crate::paths::Paths;

const MEMO: &str = "remembered";

/// What a version line depends on, as it is now.
fn identity(paths: &Paths, program: &str) -> String {
    let found = crate::host::find_program(Path::new(program));
    let mut parts = vec![found.as_deref().map_or_else(
        || format!("{program} not found"),
        crate::host::file_identity,
    )];
    parts.extend(crate::host::rustup_identity(&format!("bin/{program}")));
    for file in ["rust-toolchain", "rust-toolchain.toml"] {
        parts.push(crate::host::file_identity(&paths.root.join(file)));
    }
    parts.join(" ")
}

/// The first line `program args` prints, remembered while the program's identity holds.
pub fn first_line(sh: &Shell, paths: &Paths, program: &str, args: &[&str]) -> String {
    let memo = paths.out.join(format!(
        "{MEMO}-{program}{}",
        args.join("").replace('/', "_")
    ));
    let identity = identity(paths, program);
    if let Ok(text) = std::fs::read_to_string(&memo) {
        if let Some((seen, line)) = text.split_once('\n') {
            if seen == identity {
                return line.to_owned();
            }
        }
    }
    let line = cmd!(sh, "{program} {args...}")
        .quiet()
        .ignore_status()
        .ignore_stderr()
        .read()
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    if !line.is_empty() && std::fs::create_dir_all(&paths.out).is_ok() {
        let _ = crate::atomic_file::write(&memo, format!("{identity}\n{line}").as_bytes());
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_line_is_used_while_the_program_is_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Paths::discover(None).unwrap();
        paths.out = dir.path().to_path_buf();
        let sh = Shell::new().unwrap();
        assert_eq!(first_line(&sh, &paths, "echo", &["one"]), "one");
        let memo = dir.path().join("remembered-echoone");
        let text = std::fs::read_to_string(&memo).unwrap();
        let (seen, _) = text.split_once('\n').unwrap();
        std::fs::write(&memo, format!("{seen}\nremembered")).unwrap();
        assert_eq!(first_line(&sh, &paths, "echo", &["one"]), "remembered");
        // Another identity (another program, an updated toolchain): asked again.
        std::fs::write(&memo, "something else\nremembered").unwrap();
        assert_eq!(first_line(&sh, &paths, "echo", &["one"]), "one");
        // Other arguments, another memo.
        assert_eq!(first_line(&sh, &paths, "echo", &["two"]), "two");
    }
}
