//! Kernel profiles: `lean` (fast, the default) and `debug` (the kernel's own checkers: KASAN,
//! lockdep, atomic-sleep checks, kmemleak, debug objects; and KUnit with the Rust doctests,
//! which `kernel doctests` boots). Chosen with `--kernel-profile`, `KLAB_KERNEL_PROFILE`, or
//! pinned for a course in `klab.toml`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// tinyconfig + `kernel/lean.config`: boots in about a second under TCG.
    #[default]
    Lean,
    /// `lean` + `kernel/kunit.config` + `kernel/debug.config`: memory and locking bugs become
    /// verdicts; the kernel crate's doctests are built in (`kernel doctests`).
    Debug,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::Lean, Profile::Debug];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Lean => "lean",
            Profile::Debug => "debug",
        }
    }

    /// The fragment files (in `kernel/`) merged on top of tinyconfig, in order.
    pub fn fragment_names(self) -> &'static [&'static str] {
        match self {
            Profile::Lean => &["lean.config"],
            Profile::Debug => &["lean.config", "kunit.config", "debug.config"],
        }
    }

    /// The objects (kbuild's `CC`, `RUSTC`, `AS` and `LD` lines) a build of this profile
    /// makes, for the kernel build's progress when no earlier build log of the profile is in
    /// the cache to count them in. Measured on the build logs of linux-source-6.12 6.12.117
    /// with the fragments as they are now (lean 923, debug 985); a change of either only
    /// makes the first build's bar less exact (see `kernel::objects`).
    pub fn expected_objects(self) -> u64 {
        match self {
            Profile::Lean => 923,
            Profile::Debug => 985,
        }
    }

    /// The profile whose kernel has KUnit and the Rust doctests (`kernel/kunit.config`): the
    /// one `kernel doctests` boots. Not `lean`: no lab needs them, and a fresh machine's first
    /// build would pay for them (~2 % of the lean build).
    pub const DOCTESTS: Profile = Profile::Debug;

    /// Whether the kernel has kmemleak, so the harness scans for leaks after each task.
    pub fn kmemleak(self) -> bool {
        self == Profile::Debug
    }

    /// How much longer than on `lean` a task may take (task time limits are written for
    /// `lean`; KASAN and lockdep slow everything down, most of all under TCG).
    pub fn slowdown(self) -> u32 {
        match self {
            Profile::Lean => 1,
            Profile::Debug => 3,
        }
    }

    /// The debug info modules are built with, so reports name the student's file:line: line
    /// tables under `lean` (enough for `addr2line`, at about 1.5 times the size of a module
    /// without; full debug info makes a Rust module 20 to 80 times bigger, all of it copied
    /// into every guest), full debug info under `debug`.
    pub fn module_debug_info(self) -> crate::build::kbuild::DebugInfo {
        match self {
            Profile::Lean => crate::build::kbuild::DebugInfo::LineTables,
            Profile::Debug => crate::build::kbuild::DebugInfo::Full,
        }
    }

    /// What a kbuild `.config` says the tree is (for `--kernel-tree`).
    pub fn of_config(config: &str) -> Profile {
        let debug = [
            "CONFIG_KASAN=y",
            "CONFIG_DEBUG_KMEMLEAK=y",
            "CONFIG_PROVE_LOCKING=y",
        ];
        if config.lines().any(|l| debug.contains(&l.trim())) {
            Profile::Debug
        } else {
            Profile::Lean
        }
    }
}

/// `klab.toml` at the repository's top: course-wide settings that CI and every command use.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourseConfig {
    #[serde(default)]
    pub kernel: KernelSettings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelSettings {
    /// The profile every command uses unless `--kernel-profile` says otherwise.
    pub profile: Option<Profile>,
}

impl CourseConfig {
    pub fn path(root: &Path) -> PathBuf {
        root.join("klab.toml")
    }

    /// The course config, or the defaults when the file does not exist.
    pub fn load(root: &Path) -> Result<CourseConfig> {
        let path = Self::path(root);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).with_context(|| format!("parsing {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CourseConfig::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn parse(text: &str) -> Result<CourseConfig> {
        Ok(toml::from_str(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn course_config_pins_a_profile_and_rejects_typos() {
        let config = CourseConfig::parse("[kernel]\nprofile = \"debug\"\n").unwrap();
        assert_eq!(config.kernel.profile, Some(Profile::Debug));
        assert_eq!(CourseConfig::parse("").unwrap().kernel.profile, None);
        let err = CourseConfig::parse("[kernel]\nprofile = \"fast\"\n").unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown variant `fast`"),
            "{err:#}"
        );
        assert!(CourseConfig::parse("[kernal]\n").is_err());
    }

    #[test]
    fn a_tree_with_kasan_or_kmemleak_is_a_debug_tree() {
        assert_eq!(
            Profile::of_config("CONFIG_RUST=y\nCONFIG_KASAN=y\n"),
            Profile::Debug
        );
        assert_eq!(
            Profile::of_config("CONFIG_RUST=y\n# CONFIG_KASAN is not set\n"),
            Profile::Lean
        );
    }

    #[test]
    fn the_checked_in_course_config_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        CourseConfig::load(root).unwrap();
    }
}
