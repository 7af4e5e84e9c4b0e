//! A submission's `.tar.gz` or `.zip` unpacked by our own code, entry by entry, under limits:
//! an absolute or climbing path, a link or a device rejects the whole submission; so do a
//! file past the per-file limit, more entries than allowed, or more bytes in all; a
//! `.tar.gz`'s decompressed stream is capped as a whole, and no name longer than a path is
//! kept or quoted.
//!
//! It owns reading archives only: it never chooses which files a task takes (that is
//! [`super::take`]) and never writes outside the scratch folder it is given.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::{Limits, Rejected};

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

pub(super) fn unpack_tar_gz(archive: &Path, dest: &Path, limits: Limits) -> Result<(), Rejected> {
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

pub(super) fn unpack_zip(archive: &Path, dest: &Path, limits: Limits) -> Result<(), Rejected> {
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
