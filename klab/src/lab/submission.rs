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

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::lab::manifest::{Lab, TaskManifest};

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

/// The longest entry name accepted (Linux's `PATH_MAX`); a longer one is never quoted.
const MAX_NAME_BYTES: usize = 4096;

/// How much decompressed stream a `.tar.gz` may yield: its files' data, plus a header,
/// padding and a long-name entry per entry. The `tar` crate reads a GNU long-name or pax
/// entry whole into memory before it hands out the entry it describes, and skips a claimed
/// size it is never asked to read: only this cap bounds either.
fn tar_stream_cap(limits: Limits) -> u64 {
    limits.max_total_bytes + (limits.max_entries as u64 + 2) * (4 * 512 + MAX_NAME_BYTES as u64)
}

/// A reader that fails once it has given `left` bytes.
struct Capped<R> {
    inner: R,
    left: u64,
    cap: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 && !buf.is_empty() {
            return Err(std::io::Error::other(format!(
                "the archive expands past {} bytes",
                self.cap
            )));
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Refuses a name too long to be a path, without quoting it.
fn check_name_length(name: &Path) -> Result<(), Rejected> {
    let len = name.as_os_str().len();
    if len > MAX_NAME_BYTES {
        return Err(Rejected(format!(
            "an entry's name is {len} bytes long, over the {MAX_NAME_BYTES}-byte limit"
        )));
    }
    Ok(())
}

fn safe_relative(path: &Path) -> Result<PathBuf, Rejected> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => {
                return Err(Rejected(format!(
                    "the archive entry `{}` escapes the submission folder",
                    path.display()
                )))
            }
        }
    }
    Ok(out)
}

struct Budget {
    limits: Limits,
    total: u64,
    entries: usize,
}

impl Budget {
    fn entry(&mut self, name: &Path, size: u64) -> Result<(), Rejected> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(Rejected(format!(
                "the archive has more than {} entries",
                self.limits.max_entries
            )));
        }
        if size > self.limits.max_file_bytes {
            return Err(Rejected(format!(
                "`{}` is {size} bytes, over the {}-byte limit per file",
                name.display(),
                self.limits.max_file_bytes
            )));
        }
        self.total += size;
        if self.total > self.limits.max_total_bytes {
            return Err(Rejected(format!(
                "the archive expands past {} bytes",
                self.limits.max_total_bytes
            )));
        }
        Ok(())
    }
}

/// Reads at most `limit + 1` bytes, so an entry lying about its size cannot blow past it.
fn read_limited(reader: impl Read, limit: u64, name: &Path) -> Result<Vec<u8>, Rejected> {
    let mut data = Vec::new();
    reader.take(limit + 1).read_to_end(&mut data).map_err(|e| {
        Rejected(format!(
            "reading `{}` from the archive: {e}",
            name.display()
        ))
    })?;
    if data.len() as u64 > limit {
        return Err(Rejected(format!(
            "`{}` is over the {limit}-byte limit per file",
            name.display()
        )));
    }
    Ok(data)
}

fn write_entry(dest: &Path, rel: &Path, data: &[u8]) -> Result<(), Rejected> {
    let path = dest.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Rejected(format!("unpacking: {e}")))?;
    }
    std::fs::write(&path, data).map_err(|e| Rejected(format!("unpacking `{}`: {e}", rel.display())))
}

fn unpack_tar_gz(archive: &Path, dest: &Path, limits: Limits) -> Result<(), Rejected> {
    let file = std::fs::File::open(archive)
        .map_err(|e| Rejected(format!("opening {}: {e}", archive.display())))?;
    let cap = tar_stream_cap(limits);
    let mut tar = tar::Archive::new(Capped {
        inner: flate2::read::GzDecoder::new(file),
        left: cap,
        cap,
    });
    let mut budget = Budget {
        limits,
        total: 0,
        entries: 0,
    };
    let entries = tar
        .entries()
        .map_err(|e| Rejected(format!("not a readable .tar.gz: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| Rejected(format!("not a readable .tar.gz: {e}")))?;
        let raw = entry
            .path()
            .map_err(|e| Rejected(format!("bad entry name: {e}")))?
            .into_owned();
        check_name_length(&raw)?;
        let rel = safe_relative(&raw)?;
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                budget.entry(&raw, 0)?;
                std::fs::create_dir_all(dest.join(&rel))
                    .map_err(|e| Rejected(format!("unpacking: {e}")))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                budget.entry(&raw, entry.header().size().unwrap_or(u64::MAX))?;
                let data = read_limited(entry, limits.max_file_bytes, &raw)?;
                write_entry(dest, &rel, &data)?;
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => {
                return Err(Rejected(format!(
                "`{}` is a {other:?} entry; only regular files and folders are accepted (no links)",
                raw.display()
            )))
            }
        }
    }
    Ok(())
}

fn unpack_zip(archive: &Path, dest: &Path, limits: Limits) -> Result<(), Rejected> {
    let file = std::fs::File::open(archive)
        .map_err(|e| Rejected(format!("opening {}: {e}", archive.display())))?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| Rejected(format!("not a readable .zip: {e}")))?;
    let mut budget = Budget {
        limits,
        total: 0,
        entries: 0,
    };
    for i in 0..zip.len() {
        let entry = zip
            .by_index(i)
            .map_err(|e| Rejected(format!("not a readable .zip: {e}")))?;
        let raw = PathBuf::from(
            entry
                .name()
                .map_err(|e| Rejected(format!("bad entry name: {e}")))?
                .into_owned(),
        );
        check_name_length(&raw)?;
        let rel = safe_relative(&raw)?;
        if entry.is_symlink() {
            return Err(Rejected(format!(
                "`{}` is a link; only regular files and folders are accepted",
                raw.display()
            )));
        }
        if entry.is_dir() {
            budget.entry(&raw, 0)?;
            std::fs::create_dir_all(dest.join(&rel))
                .map_err(|e| Rejected(format!("unpacking: {e}")))?;
            continue;
        }
        budget.entry(&raw, entry.size())?;
        let data = read_limited(entry, limits.max_file_bytes, &raw)?;
        write_entry(dest, &rel, &data)?;
    }
    Ok(())
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
