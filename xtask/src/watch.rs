//! `cargo xtask check --watch`: check, then check again each task whose source folder
//! changes, until Ctrl-C.
//!
//! Polling (a stat of every file every 300 ms) rather than inotify: a task folder holds a
//! handful of files, it needs no dependency, and it sees editors that replace files by
//! renaming a new one over them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Result;
use klab::ops::check::CheckOptions;
use klab::run::Workspace;

/// What a file looked like: enough to notice an edit.
type Stamp = (SystemTime, u64);

/// The files of one task folder (relative path → stamp).
pub type FolderState = BTreeMap<PathBuf, Stamp>;

pub const POLL: Duration = Duration::from_millis(300);

/// Files an editor or klab writes that are not sources.
fn ignored(name: &str) -> bool {
    name.starts_with(".#")
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".orig")
        || name == ".klab-skel"
        || name == "4913" // vim's write test file
}

/// The current state of `dir` (missing: empty).
pub fn folder_state(dir: &Path) -> FolderState {
    let mut state = FolderState::new();
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if !entry.file_type().is_file() || ignored(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        // Editor files, and clangd's index, which it rewrites after each edit.
        if klab::ide::is_editor_file(rel) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        state.insert(rel.to_path_buf(), (mtime, meta.len()));
    }
    state
}

/// The ids (in `before`'s order) whose folder state differs between `before` and `after`.
pub fn changed<'a>(
    before: &'a [(String, FolderState)],
    after: &[(String, FolderState)],
) -> Vec<&'a str> {
    before
        .iter()
        .zip(after)
        .filter(|((_, b), (_, a))| a != b)
        .map(|((id, _), _)| id.as_str())
        .collect()
}

/// The state of every watched task folder: `(task id, folder)` in, `(task id, state)` out.
pub fn snapshot(folders: &[(String, PathBuf)]) -> Vec<(String, FolderState)> {
    folders
        .iter()
        .map(|(id, dir)| (id.clone(), folder_state(dir)))
        .collect()
}

/// `check --watch`: check the selection, then each task again whenever its folder changes.
pub fn check_watch(ctx: &Workspace, mut options: CheckOptions) -> Result<bool> {
    let source = ctx.source(options.solution);
    let folders: Vec<(String, PathBuf)> = ctx
        .select(&options.select)?
        .iter()
        .map(|s| (s.id(), source.dir.join(&s.lab.name).join(&s.task.name)))
        .collect();
    let mut state = snapshot(&folders);
    options.select = folders.iter().map(|(id, _)| id.clone()).collect();
    loop {
        // A failed build or check is a result to show, not a reason to stop watching.
        if let Err(e) = klab::ops::check::check(ctx, &options) {
            eprintln!("error: {e:#}");
        }
        ctx.reporter().output_line(format!(
            "\nwatching {} task folder(s) under {} for changes; Ctrl-C to stop",
            folders.len(),
            ctx.paths.show(&source.dir)
        ));
        options.select = loop {
            std::thread::sleep(POLL);
            if klab::run::interrupt::requested() {
                return Ok(true);
            }
            let now = snapshot(&folders);
            let changed: Vec<String> = changed(&state, &now)
                .into_iter()
                .map(str::to_owned)
                .collect();
            if !changed.is_empty() {
                // Let an editor finish writing (several files, or write-then-rename).
                std::thread::sleep(POLL);
                state = snapshot(&folders);
                ctx.reporter()
                    .output_line(format!("\n==> changed: {}", changed.join(", ")));
                break changed;
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn an_edit_a_new_file_and_a_removal_are_changes_and_editor_files_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        write(&a.join("hello.rs"), "one");
        write(&b.join("fail.rs"), "one");
        let folders = vec![
            ("lab/a".to_string(), a.clone()),
            ("lab/b".to_string(), b.clone()),
        ];
        let start = snapshot(&folders);
        assert!(changed(&start, &snapshot(&folders)).is_empty());

        // Same length, later mtime: still an edit.
        std::thread::sleep(Duration::from_millis(20));
        write(&a.join("hello.rs"), "two");
        assert_eq!(changed(&start, &snapshot(&folders)), ["lab/a"]);

        let start = snapshot(&folders);
        for name in [
            ".hello.rs.swp",
            "hello.rs~",
            ".#hello.rs",
            "hello.rs.orig",
            ".klab-skel",
            "rust-project.json",
            "compile_commands.json",
            ".cache/clangd/index/fail.rs.0123.idx",
        ] {
            write(&b.join(name), "noise");
        }
        assert!(changed(&start, &snapshot(&folders)).is_empty());

        write(&b.join("user/test.c"), "int main(void) { return 0; }");
        assert_eq!(changed(&start, &snapshot(&folders)), ["lab/b"]);
        let start = snapshot(&folders);
        std::fs::remove_file(b.join("fail.rs")).unwrap();
        assert_eq!(changed(&start, &snapshot(&folders)), ["lab/b"]);
    }

    #[test]
    fn a_missing_folder_is_empty_and_its_creation_is_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let folders = vec![("lab/t".to_string(), gone.clone())];
        let start = snapshot(&folders);
        assert!(start[0].1.is_empty());
        write(&gone.join("m.rs"), "x");
        assert_eq!(changed(&start, &snapshot(&folders)), ["lab/t"]);
    }
}
