//! A task's staging folder under `target/klab/stage/<label>/<lab>/<task>/`: the student's
//! regular files copied in (unchanged files left alone, so kbuild's incremental build works;
//! deleted sources removed), and the stamp that says its modules are built from these
//! sources against this kernel.
//!
//! It never takes a student's Makefile or Kbuild, never follows a link out of the task
//! folder, and never runs anything.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{kbuild, SourceRoot};
use crate::lab::selection::Selected;
use crate::paths::Paths;

/// Files in a task folder the harness never takes from a student.
const IGNORED_NAMES: &[&str] = &["Makefile", "Kbuild", "makefile", "GNUmakefile"];

pub(super) fn stage_dir(paths: &Paths, source: &SourceRoot, sel: &Selected) -> PathBuf {
    paths
        .work
        .join("stage")
        .join(&source.label)
        .join(&sel.lab.name)
        .join(&sel.task.name)
}

/// Copies `src` into `stage` (regular files only, unchanged files left alone).
pub(super) fn sync_sources(
    src: &Path,
    stage: &Path,
    shown: &str,
    warnings: &mut Vec<String>,
) -> Result<()> {
    std::fs::create_dir_all(stage)?;
    let mut wanted = std::collections::HashSet::new();
    for entry in walkdir::WalkDir::new(src).follow_links(false) {
        let entry = entry.with_context(|| format!("reading {shown}"))?;
        let rel = entry.path().strip_prefix(src)?.to_path_buf();
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_symlink() {
            warnings.push(format!(
                "{shown}/{}: symbolic links are ignored",
                rel.display()
            ));
            continue;
        }
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(stage.join(&rel))?;
            continue;
        }
        if IGNORED_NAMES.contains(&name.as_ref()) {
            warnings.push(format!(
                "{shown}/{}: ignored (klab writes the Kbuild it builds with)",
                rel.display()
            ));
            continue;
        }
        let data = std::fs::read(entry.path())
            .with_context(|| format!("reading {shown}/{}", rel.display()))?;
        if name.ends_with(".rs") {
            for line in kbuild::unsafe_lines(&String::from_utf8_lossy(&data)) {
                warnings.push(format!(
                    "{shown}/{}:{line}: uses `unsafe`; the lab's kernel abstractions make it unnecessary",
                    rel.display()
                ));
            }
        }
        let dest = stage.join(&rel);
        if std::fs::read(&dest).ok().as_deref() != Some(&data[..]) {
            std::fs::write(&dest, &data)?;
        }
        wanted.insert(rel);
    }
    // Sources deleted by the student must not linger in the stage.
    for entry in walkdir::WalkDir::new(stage)
        .into_iter()
        .filter_map(|e| e.ok())
    {
        let rel = entry.path().strip_prefix(stage)?.to_path_buf();
        let is_source = rel
            .extension()
            .is_some_and(|e| e == "c" || e == "h" || e == "rs");
        // kbuild's own `X.mod.c` (modpost's output) is not a student's source: removing it
        // would make every rebuild compile and link the module's `.mod.o` again.
        let generated = rel.to_string_lossy().ends_with(".mod.c");
        if entry.file_type().is_file() && is_source && !generated && !wanted.contains(&rel) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

pub(crate) fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_source_leaves_the_stage_and_kbuilds_own_mod_c_stays() {
        let dir = tempfile::tempdir().unwrap();
        let (src, stage) = (dir.path().join("src"), dir.path().join("stage"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("hello.c"), "int x;").unwrap();
        std::fs::write(src.join("old.c"), "int y;").unwrap();
        let mut warnings = Vec::new();
        sync_sources(&src, &stage, "skels/t", &mut warnings).unwrap();
        // What kbuild leaves beside them.
        std::fs::write(stage.join("hello.mod.c"), "/* modpost */").unwrap();
        std::fs::remove_file(src.join("old.c")).unwrap();
        sync_sources(&src, &stage, "skels/t", &mut warnings).unwrap();
        assert!(stage.join("hello.c").is_file());
        assert!(
            !stage.join("old.c").exists(),
            "a deleted source must not linger"
        );
        assert!(
            stage.join("hello.mod.c").is_file(),
            "modpost's output is not the student's"
        );
    }
}
