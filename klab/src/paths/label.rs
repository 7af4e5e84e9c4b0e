//! [`RunLabel`]: the name of one run's files (its stage, guest image, lab disk and VM logs
//! under `target/klab`), typed by where its sources come from, so that runs over different
//! folders, kernel profiles or purposes never share files, and code asks what a run is
//! instead of comparing names.

use std::fmt;
use std::path::Path;

/// Where a run's sources come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The reference solutions, `templates/`.
    Templates,
    /// The student's `skels/`.
    Skels,
    /// A `--skels-dir` folder elsewhere (tests, a grader's scratch copy), by a hash of its path.
    SkelsDir(u32),
    /// A graded submission (its private folder).
    Graded(String),
    /// A run of the harness's own (`doctests`, `bless-skeleton`, `bench`, …).
    Own(String),
}

/// A run's label: its origin, whether it is a person's VM (`boot`: its own files, never
/// raced by a `check`), and whether it runs on the debug kernel (its own files too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLabel {
    origin: Origin,
    /// What the run is called in messages.
    name: String,
    /// The folder name of its files: the name, except for a graded submission, whose files
    /// are always in the same folders (of the run's build room, `grade::room`, then of its
    /// job's desk), so that its build replays the room's seed build, recorded at the same
    /// paths.
    folder: String,
}

const SKELS_DIR_PREFIX: &str = "skels-";

impl RunLabel {
    pub fn new(origin: Origin) -> RunLabel {
        let name = match &origin {
            Origin::Templates => "templates".to_owned(),
            Origin::Skels => "skels".to_owned(),
            Origin::SkelsDir(hash) => format!("{SKELS_DIR_PREFIX}{hash:08x}"),
            Origin::Graded(name) => format!("grade-{name}"),
            Origin::Own(name) => name.clone(),
        };
        let folder = match &origin {
            Origin::Graded(_) => "graded".to_owned(),
            _ => name.clone(),
        };
        RunLabel {
            origin,
            name,
            folder,
        }
    }

    /// A run of the harness's own, named `name`.
    pub fn own(name: impl Into<String>) -> RunLabel {
        RunLabel::new(Origin::Own(name.into()))
    }

    /// The same sources in a person's VM (`boot`).
    pub fn for_boot(mut self) -> RunLabel {
        self.name = format!("boot-{}", self.name);
        self.folder = format!("boot-{}", self.folder);
        self
    }

    /// The same sources on the debug kernel.
    pub fn on_debug_kernel(mut self) -> RunLabel {
        self.name = format!("{}-debug", self.name);
        self.folder = format!("{}-debug", self.folder);
        self
    }

    /// A variant for a purpose of the harness's own (`stress-…`).
    pub fn prefixed(mut self, prefix: &str) -> RunLabel {
        self.name = format!("{prefix}-{}", self.name);
        self.folder = format!("{prefix}-{}", self.folder);
        self
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The folder name of the run's files (its stage, image and VM logs).
    pub fn as_str(&self) -> &str {
        &self.folder
    }

    /// Whether a folder named `name` under `target/klab/stage` holds a `--skels-dir` run's
    /// files (pruned once that folder is gone).
    pub fn names_skels_dir_run(name: &str) -> bool {
        name.strip_prefix(SKELS_DIR_PREFIX).is_some_and(|rest| {
            let hash = rest.strip_suffix("-debug").unwrap_or(rest);
            hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit())
        })
    }
}

impl fmt::Display for RunLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl AsRef<Path> for RunLabel {
    fn as_ref(&self) -> &Path {
        Path::new(&self.folder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_origin_purpose_and_profile() {
        assert_eq!(RunLabel::new(Origin::Skels).to_string(), "skels");
        assert_eq!(
            RunLabel::new(Origin::Templates)
                .on_debug_kernel()
                .for_boot()
                .to_string(),
            "boot-templates-debug"
        );
        assert_eq!(
            RunLabel::new(Origin::SkelsDir(0xab)).to_string(),
            "skels-000000ab"
        );
        assert_eq!(
            RunLabel::new(Origin::Graded("x-2".into())).to_string(),
            "grade-x-2"
        );
    }

    #[test]
    fn graded_submissions_keep_their_name_and_share_their_desks_folders() {
        let a = RunLabel::new(Origin::Graded("alice".into()));
        let b = RunLabel::new(Origin::Graded("bob".into())).on_debug_kernel();
        assert_eq!(a.to_string(), "grade-alice");
        assert_eq!(a.as_str(), "graded");
        assert_eq!(b.as_str(), "graded-debug");
        let skels = RunLabel::new(Origin::Skels).for_boot();
        assert_eq!(skels.as_str(), skels.to_string());
    }

    #[test]
    fn only_skels_dir_runs_are_pruned() {
        assert!(RunLabel::names_skels_dir_run("skels-0000abcd"));
        assert!(RunLabel::names_skels_dir_run("skels-0000abcd-debug"));
        assert!(!RunLabel::names_skels_dir_run("skels"));
        assert!(!RunLabel::names_skels_dir_run("skels-debug"));
        assert!(!RunLabel::names_skels_dir_run("templates"));
    }

    #[test]
    fn the_origin_survives_the_variants() {
        let label = RunLabel::new(Origin::Skels).on_debug_kernel().for_boot();
        assert_eq!(label.origin(), &Origin::Skels);
    }
}
