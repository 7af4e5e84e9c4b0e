//! Taking a student's submission in: a folder, a `.tar.gz` or a `.zip`, untrusted.
//!
//! Archives are unpacked by this code (no external tool), with limits: entries whose path
//! is absolute or climbs out with `..`, links and device nodes reject the whole submission;
//! files past the size limits, or archives that expand past the total limit, too; a
//! `.tar.gz`'s decompressed stream is capped as a whole (the `tar` crate holds a long-name
//! entry in memory before any limit here sees it), and no name longer than a path is kept
//! or quoted. From the unpacked tree only the files the lab manifest names are taken; the
//! rest is reported. A folder (a git clone keeps links) is never read through a symbolic
//! link: a linked task or wrapping folder would take the grader's own files (the reference
//! solution, another student's).
//!
//! This module owns what is taken from a submission; reading archives is [`archive`]'s. It
//! never builds or runs anything of the student's.

mod archive;

use std::path::{Component, Path, PathBuf};

use crate::lab::manifest::{Lab, TaskManifest};
use archive::{unpack_tar_gz, unpack_zip};

/// Size limits for one submission.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file_bytes: 1 << 20,
            max_total_bytes: 32 << 20,
            max_entries: 5000,
        }
    }
}

/// Why a submission was not accepted at all (it scores 0, with this message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub String);

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Rejected {}

/// A submission's files, unpacked when it was an archive.
#[derive(Debug)]
pub struct Unpacked {
    /// The folder holding the task folders (`1-2-netfilter/`, …).
    pub lab_root: PathBuf,
}

/// Finds the folder that holds the lab's task folders: the submission itself, `<lab>/`
/// inside it, or one wrapping folder (as archives often have), up to two levels down.
fn find_lab_root(top: &Path, lab: &Lab) -> Option<PathBuf> {
    let holds_a_task = |dir: &Path| {
        lab.manifest
            .tasks
            .iter()
            .any(|t| dir.join(&t.name).is_dir())
    };
    let mut candidates = vec![top.to_path_buf(), top.join(&lab.name)];
    if let Ok(entries) = std::fs::read_dir(top) {
        let dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        if dirs.len() == 1 {
            candidates.push(dirs[0].clone());
            candidates.push(dirs[0].join(&lab.name));
        }
    }
    candidates
        .into_iter()
        .find(|dir| std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) && holds_a_task(dir))
}

/// Opens a submission: a folder, or an archive unpacked into `scratch`.
pub fn open(path: &Path, scratch: &Path, lab: &Lab, limits: Limits) -> Result<Unpacked, Rejected> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| Rejected(format!("{}: {e}", path.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let top = if meta.is_dir() {
        path.to_path_buf()
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") || name.ends_with(".zip") {
        let _ = std::fs::remove_dir_all(scratch);
        std::fs::create_dir_all(scratch)
            .map_err(|e| Rejected(format!("creating {}: {e}", scratch.display())))?;
        if name.ends_with(".zip") {
            unpack_zip(path, scratch, limits)?;
        } else {
            unpack_tar_gz(path, scratch, limits)?;
        }
        scratch.to_path_buf()
    } else {
        return Err(Rejected(format!(
            "{} is neither a folder, a .tar.gz nor a .zip",
            path.display()
        )));
    };
    let lab_root = find_lab_root(&top, lab).ok_or_else(|| {
        let tasks: Vec<&str> = lab.manifest.tasks.iter().map(|t| t.name.as_str()).collect();
        Rejected(format!(
            "no task folder of lab `{}` found (expected folders like {}; wrong lab or layout?)",
            lab.name,
            tasks.join(", ")
        ))
    })?;
    Ok(Unpacked { lab_root })
}

/// The files a grader takes from a submission for a task: its `student_files`, or every
/// module source the template has (with the `mod` files beside a Rust crate root).
pub fn student_files(task: &TaskManifest, template_dir: &Path) -> Vec<String> {
    if !task.student_files.is_empty() {
        return task.student_files.clone();
    }
    let mut files: Vec<String> = Vec::new();
    for module in &task.modules {
        for file in module.student_sources(template_dir) {
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    files
}

/// What was taken for a task, what was missing, what was refused.
#[derive(Debug, Default)]
pub struct Taken {
    pub files: Vec<(String, Vec<u8>)>,
    pub missing: Vec<String>,
    pub refused: Vec<String>,
}

/// The first symbolic link among the folders from `root` down to `root/rel` (`rel`'s own last
/// component is the caller's to check), if any.
fn linked_folder(root: &Path, rel: &Path) -> Option<PathBuf> {
    let parts: Vec<Component> = rel.components().collect();
    let mut path = root.to_path_buf();
    for part in &parts[..parts.len().saturating_sub(1)] {
        path.push(part);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Some(path);
        }
    }
    None
}

pub fn take(lab_root: &Path, task: &TaskManifest, wanted: &[String], limits: Limits) -> Taken {
    let mut taken = Taken::default();
    for rel in wanted {
        let path = lab_root.join(&task.name).join(rel);
        if let Some(link) = linked_folder(lab_root, &Path::new(&task.name).join(rel)) {
            let link = link.strip_prefix(lab_root).unwrap_or(&link).display();
            taken.refused.push(format!(
                "{}/{rel}: reached through a symbolic link (`{link}`); only regular files and folders are accepted",
                task.name
            ));
            continue;
        }
        match std::fs::symlink_metadata(&path) {
            Err(_) => taken.missing.push(format!("{}/{rel}", task.name)),
            Ok(meta) if !meta.is_file() => taken
                .refused
                .push(format!("{}/{rel}: not a regular file", task.name)),
            Ok(meta) if meta.len() > limits.max_file_bytes => taken.refused.push(format!(
                "{}/{rel}: {} bytes, over the per-file limit",
                task.name,
                meta.len()
            )),
            Ok(_) => match std::fs::read(&path) {
                Ok(data) => taken.files.push((rel.clone(), data)),
                Err(e) => taken.refused.push(format!("{}/{rel}: {e}", task.name)),
            },
        }
    }
    taken
}

/// Files in the submission that no task takes (reported, never used).
pub fn ignored(lab_root: &Path, wanted: &[(String, Vec<String>)]) -> Vec<String> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(lab_root)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
    {
        if entry.file_type().is_dir() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(lab_root) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        let used = wanted
            .iter()
            .any(|(task, files)| files.iter().any(|f| rel == format!("{task}/{f}")));
        if !used {
            out.push(rel);
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests;
