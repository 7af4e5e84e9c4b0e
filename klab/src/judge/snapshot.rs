//! Reviewed snapshots in insta's file format, so `cargo insta review` works on them.
//!
//! A snapshot is `labs/<lab>/snapshots/<task>.snap`: an insta header (`source`,
//! `expression`) and the normalised record of a task run. A run that differs writes a pending
//! `<task>.snap.new` beside it (what differs: [`crate::judge::diff`]); `cargo xtask bless` (or `cargo insta review`) accepts it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The snapshot body as stored (without the header), newline-terminated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub body: String,
}

impl Snapshot {
    pub fn new(body: &str) -> Snapshot {
        let mut body = body.trim_end_matches('\n').to_owned();
        body.push('\n');
        Snapshot { body }
    }

    /// Parses an insta `.snap` file: a `---` header block, then the body.
    pub fn parse(text: &str) -> Snapshot {
        let body = text
            .strip_prefix("---\n")
            .and_then(|rest| rest.split_once("\n---\n"))
            .map(|(_, body)| body)
            .unwrap_or(text);
        Snapshot::new(body)
    }

    /// The file text, insta-compatible. `source` names what produced it.
    pub fn to_file_text(&self, source: &str, expression: &str) -> String {
        format!(
            "---\nsource: {source}\nexpression: {expression}\n---\n{}",
            self.body
        )
    }

    pub fn read(path: &Path) -> Result<Option<Snapshot>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(Snapshot::parse(&text))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading snapshot {}", path.display())),
        }
    }

    /// Writes atomically, so a crash never leaves half a snapshot.
    pub fn write(&self, path: &Path, source: &str, expression: &str) -> Result<()> {
        crate::atomic_file::write(path, self.to_file_text(source, expression).as_bytes())
    }
}

/// Where a run's differing snapshot waits for review.
pub fn pending_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_text_round_trips_and_reads_insta_files() {
        let snap = Snapshot::new("a\nb");
        let text = snap.to_file_text("labs/x/lab.toml", "x/1-a");
        assert_eq!(
            text,
            "---\nsource: labs/x/lab.toml\nexpression: x/1-a\n---\na\nb\n"
        );
        assert_eq!(Snapshot::parse(&text), snap);
        let insta_written = "---\nsource: tests/t.rs\nassertion_line: 3\nexpression: out\nsnapshot_kind: text\n---\na\nb\n\n";
        assert_eq!(Snapshot::parse(insta_written), snap);
    }

    #[test]
    fn write_is_atomic_and_pending_path_sits_beside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snaps/1-a.snap");
        Snapshot::new("hello").write(&path, "s", "e").unwrap();
        assert_eq!(Snapshot::read(&path).unwrap(), Some(Snapshot::new("hello")));
        assert!(!path.with_extension("tmp").exists());
        assert_eq!(pending_path(&path), dir.path().join("snaps/1-a.snap.new"));
        assert_eq!(Snapshot::read(&dir.path().join("none.snap")).unwrap(), None);
    }
}
