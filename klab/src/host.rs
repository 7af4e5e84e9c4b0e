//! Facts about the host the engine asks for: where a program is, whether we are root, the
//! target the static guest tools build for. Never installs anything (that is `xtask setup`).

pub mod remembered;

use std::path::{Path, PathBuf};

pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

/// `program` itself if it is a path, else where `PATH` finds it.
pub fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.exists().then(|| program.to_path_buf());
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// What tells a file's version apart without reading it: its path, size and modification
/// time (`None` when it does not exist). Stamps and memos compare these.
pub fn file_identity(path: &Path) -> String {
    let meta = std::fs::metadata(path)
        .ok()
        .map(|m| (m.len(), m.modified().ok()));
    format!("{} {meta:?}", path.display())
}

/// The identity of every rustup toolchain file `relative` names (e.g. `bin/rustc`,
/// `lib/rustlib/components`), with rustup's settings and `RUSTUP_TOOLCHAIN`: what changes
/// when a toolchain, component or target is added, updated or chosen.
pub fn rustup_identity(relative: &str) -> Vec<String> {
    let home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")));
    let mut parts = vec![format!("{:?}", std::env::var_os("RUSTUP_TOOLCHAIN"))];
    if let Some(home) = home {
        parts.push(file_identity(&home.join("settings.toml")));
        let mut toolchains: Vec<PathBuf> = std::fs::read_dir(home.join("toolchains"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join(relative))
            .collect();
        toolchains.sort();
        parts.extend(toolchains.iter().map(|t| file_identity(t)));
    }
    parts
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs `command` with its stdout sent to stderr, where the user still sees it: the engine's
/// stdout carries only results (JSON lines under `--message-format json`).
pub fn run_on_stderr(command: xshell::Cmd<'_>) -> anyhow::Result<()> {
    use anyhow::Context;
    let shown = command.to_string();
    let mut command: std::process::Command = command.into();
    let status = command
        .stdout(std::io::stderr())
        .status()
        .with_context(|| format!("starting `{shown}`"))?;
    if !status.success() {
        anyhow::bail!("`{shown}` failed ({status})");
    }
    Ok(())
}
