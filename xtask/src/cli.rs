//! The command line: every subcommand and option (clap). Parsing only.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use klab::kernel::profile;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "klab: kernel labs from templates to graded verdicts in a real VM"
)]
pub struct Cli {
    /// Build and boot with this kbuild tree instead of klab's cached lab kernel.
    #[arg(long, global = true, value_name = "DIR", env = "KLAB_KERNEL_TREE")]
    pub kernel_tree: Option<PathBuf>,
    /// The lab kernel profile: `lean` (fast) or `debug` (KASAN, lockdep, kmemleak, …).
    /// Default: `[kernel] profile` in klab.toml, else lean.
    #[arg(
        long = "kernel-profile",
        visible_alias = "profile",
        global = true,
        value_enum,
        value_name = "PROFILE",
        env = "KLAB_KERNEL_PROFILE"
    )]
    pub kernel_profile: Option<profile::Profile>,
    /// Use this folder instead of `skels/` for student skeletons.
    #[arg(long, global = true, value_name = "DIR")]
    pub skels_dir: Option<PathBuf>,
    /// How events are shown: `human` (progress on stderr, verdicts on stdout) or `json` (one
    /// JSON object per event per line on stdout; schema in docs/events.md).
    #[arg(long, global = true, value_enum, default_value = "human")]
    pub message_format: MessageFormat,
    /// Build without the bubblewrap sandbox (trusted code only; `grade` refuses otherwise).
    #[arg(long, global = true)]
    pub no_sandbox: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MessageFormat {
    Human,
    Json,
}

#[derive(clap::Args, Clone)]
pub struct Sel {
    /// `LAB` or `LAB/TASK`, several allowed; default: `$LABS`, else every lab.
    #[arg(value_name = "LAB[/TASK]")]
    pub select: Vec<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Install or verify every tool, and build the lab kernel.
    Setup,
    /// Manage the cached lab kernel.
    Kernel {
        #[command(subcommand)]
        action: KernelAction,
    },
    /// Generate student skeletons in skels/ from templates/ (and their editor files, once
    /// the lab kernel is built).
    Skels {
        #[command(flatten)]
        sel: Sel,
        /// Keep the solutions of TODOs numbered below N.
        #[arg(long, value_name = "N", default_value_t = 1)]
        todo: u32,
        /// Regenerate over edited files (each is kept as FILE.orig).
        #[arg(long)]
        force: bool,
    },
    /// Write editor support into each task folder: rust-project.json (rust-analyzer) for
    /// Rust tasks, compile_commands.json (clangd) for C tasks.
    Ide {
        #[command(flatten)]
        sel: Sel,
        /// For the reference solutions (templates/) instead of skels/.
        #[arg(long)]
        solution: bool,
    },
    /// Build the lab kernel's Rust documentation (once per kernel) and print where the items
    /// the selected labs use are documented.
    Doc {
        #[command(flatten)]
        sel: Sel,
        /// Open the documentation in a browser.
        #[arg(long)]
        open: bool,
    },
    /// Build the modules and test programs of the selected tasks.
    Build {
        #[command(flatten)]
        sel: Sel,
        /// Build the reference solutions (templates/) instead of skels/.
        #[arg(long)]
        solution: bool,
    },
    /// Build, then write the guest root image with the selected tasks' files.
    Copy {
        #[command(flatten)]
        sel: Sel,
        #[arg(long)]
        solution: bool,
    },
    /// Boot the VM with the selected tasks' files under /lab.
    Boot {
        #[command(flatten)]
        sel: Sel,
        #[arg(long)]
        solution: bool,
        /// A shell on the serial console (Ctrl-a x or `poweroff` ends it).
        #[arg(long)]
        interactive: bool,
    },
    /// Build, copy, boot and run each task's test; compare with the reviewed snapshots.
    Check {
        #[command(flatten)]
        sel: Sel,
        /// Check the reference solutions (templates/) instead of skels/.
        #[arg(long)]
        solution: bool,
        /// Keep running: check again each task whose files change (Ctrl-C to stop).
        #[arg(long)]
        watch: bool,
        /// Also write your page (the one `grade` writes per submission) and print its path.
        #[arg(long)]
        html: bool,
    },
    /// Load and unload each task's modules many times in one VM (its stress.sh); check for leaks.
    Stress {
        #[command(flatten)]
        sel: Sel,
        #[arg(long)]
        solution: bool,
        /// Load/unload cycles per task.
        #[arg(long, default_value_t = 100)]
        cycles: u32,
    },
    /// (Instructors) record the reference solutions' runs as the reviewed snapshots, then
    /// lint the rubric: each check's block in its snapshot, none passing on the skeleton.
    Bless {
        #[command(flatten)]
        sel: Sel,
    },
    /// (Graders) grade student submissions: folders, .tar.gz or .zip of their skels/<lab>/.
    Grade {
        /// The lab the submissions are for.
        #[arg(long)]
        lab: String,
        /// Submission folders or archives.
        #[arg(value_name = "SUBMISSION")]
        submissions: Vec<PathBuf>,
        /// Where results go (a folder per submission, scores.csv).
        #[arg(long, default_value = "target/klab/grades")]
        out: PathBuf,
        /// Submissions graded at once, each with its own VMs (builds take turns): a number, or
        /// `auto` (four per core, as memory allows: a job's VM mostly waits).
        #[arg(long, default_value = "auto")]
        jobs: klab::grade::Jobs,
        /// Grade only shard I of N (also read from CI_NODE_INDEX/CI_NODE_TOTAL or JOB_COMPLETION_INDEX).
        #[arg(long, value_name = "I/N", value_parser = parse_shard)]
        shard: Option<klab::grade::shard::Shard>,
        #[arg(long, value_enum, default_value = "human")]
        format: klab::grade::Format,
        /// Join the results of earlier (sharded) runs found in these folders instead of grading.
        #[arg(long, value_name = "DIR", num_args = 1..)]
        merge: Vec<PathBuf>,
        /// Seed of the lab parameters drawn for each submission (default: random). Results
        /// record it: the same seed and submission name draw the same values again.
        #[arg(long, value_name = "SEED")]
        seed: Option<u64>,
    },
    /// Print per-phase timings for one task and for whole labs.
    Bench {
        /// Instead: grade N copies of a lab's reference solutions (2 jobs, then `--jobs auto`)
        /// and print throughput and CPU utilisation.
        #[arg(long, value_name = "N")]
        grade: Option<usize>,
        /// The lab for --grade.
        #[arg(long, default_value = "networking-c")]
        lab: String,
        /// Instead: only compare the lean and the debug kernel (build time, VM start, one task).
        #[arg(long, conflicts_with = "grade")]
        profiles: bool,
        /// Instead: only measure what the build sandbox costs on a task build.
        #[arg(long, conflicts_with_all = ["grade", "profiles"])]
        sandbox: bool,
        /// Instead: only time the whole `cargo xtask check` process after an edit (median of 5).
        #[arg(long, conflicts_with_all = ["grade", "profiles", "sandbox"])]
        edit_loop: bool,
        /// Instead: time a fresh machine's first verdict for real (the README's first command
        /// with an empty cargo home, target folder and kernel cache, no bindgen on PATH; it
        /// builds a kernel: minutes, on an idle machine).
        #[arg(long, conflicts_with_all = ["grade", "profiles", "sandbox", "edit_loop"])]
        fresh: bool,
    },
    /// Provision everything, then check formatting (`cargo fmt --all -- --check`) and run the
    /// test suite (`cargo test --workspace`).
    Test,
}

#[derive(Subcommand)]
pub enum KernelAction {
    /// Build the lab kernel (if not cached).
    Build,
    /// Show the cache key, folder and state.
    Info,
    /// Remove every cached kernel.
    Clean,
    /// Boot the debug kernel (the profile with KUnit) with KUnit on and report the kernel's
    /// Rust doctests (KTAP on the console). Builds that kernel first if need be.
    Doctests,
    /// Write the built lab kernel (what module builds need, and the bzImage) to a .tar.gz.
    Export {
        /// The pack to write, e.g. klab-kernel.tar.gz.
        file: PathBuf,
    },
    /// Install a pack from `kernel export` into the cache instead of building (same inputs only).
    Import {
        file: PathBuf,
        /// Replace a kernel already cached for this key.
        #[arg(long)]
        force: bool,
    },
}

pub fn parse_shard(text: &str) -> Result<klab::grade::shard::Shard> {
    klab::grade::shard::Shard::parse(text)
}

impl Command {
    /// Whether the command builds or boots (the host's tools are checked first).
    pub fn needs_tools(&self) -> bool {
        !matches!(
            self,
            Command::Skels { .. }
                | Command::Kernel {
                    action: KernelAction::Info | KernelAction::Clean
                }
        ) && !matches!(self, Command::Grade { merge, .. } if !merge.is_empty())
    }

    /// The kernel profile whose VMs the command boots (`profile`: the one it was given), if
    /// it boots any; `setup` and `test` count (they provision for the commands that do).
    pub fn boots(&self, profile: profile::Profile) -> Option<profile::Profile> {
        match self {
            Command::Kernel {
                action: KernelAction::Doctests,
            } => Some(profile::Profile::DOCTESTS),
            Command::Grade { merge, .. } if !merge.is_empty() => None,
            Command::Setup
            | Command::Boot { .. }
            | Command::Check { .. }
            | Command::Stress { .. }
            | Command::Bless { .. }
            | Command::Grade { .. }
            | Command::Test => Some(profile),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use profile::Profile;

    fn command(args: &[&str]) -> Command {
        let mut argv = vec!["xtask"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("valid arguments").command
    }

    #[test]
    fn doctests_boot_the_profile_with_kunit_whatever_the_profile_given() {
        assert_eq!(
            command(&["kernel", "doctests"]).boots(Profile::Lean),
            Some(Profile::DOCTESTS)
        );
        assert_eq!(
            command(&["check", "--solution"]).boots(Profile::Lean),
            Some(Profile::Lean)
        );
        assert_eq!(
            command(&["check"]).boots(Profile::Debug),
            Some(Profile::Debug)
        );
        assert_eq!(command(&["kernel", "build"]).boots(Profile::Lean), None);
        assert_eq!(command(&["skels"]).boots(Profile::Lean), None);
    }
}
