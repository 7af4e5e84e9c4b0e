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
