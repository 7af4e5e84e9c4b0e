//! `cargo xtask`: klab's driver. Thin: argument parsing and the order of steps; the logic
//! lives in the `checker` library and in one small module per step here.

mod accel;
mod bench;
mod bless;
mod build;
mod check;
mod doc;
mod grade;
mod ide;
mod kernel;
mod kernel_pack;
mod launch;
mod paths;
mod profile;
mod progress;
mod rootfs;
mod sandbox;
mod saved_guest;
mod setup;
mod skels_cmd;
mod stress;
mod symbols;
mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use checker::manifest::{self, Lab};
use checker::qemu::{qemu_args, ShellPort, VmImage};
use checker::selection::{select, Selected};
use clap::{Parser, Subcommand};
use launch::{Launch, Restore};
use xshell::{cmd, Shell};

use crate::build::SourceRoot;
use crate::check::{Prepared, SnapshotMode};
use crate::kernel::{KernelTree, SourceSpec};
use crate::paths::Paths;
use crate::progress::Step;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "klab: kernel labs from templates to graded verdicts in a real VM"
)]
struct Cli {
    /// Build and boot with this kbuild tree instead of klab's cached lab kernel.
    #[arg(long, global = true, value_name = "DIR", env = "KLAB_KERNEL_TREE")]
    kernel_tree: Option<PathBuf>,
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
    kernel_profile: Option<profile::Profile>,
    /// Use this folder instead of `skels/` for student skeletons.
    #[arg(long, global = true, value_name = "DIR")]
    skels_dir: Option<PathBuf>,
    /// Build without the bubblewrap sandbox (trusted code only; `grade` refuses otherwise).
    #[arg(long, global = true)]
    no_sandbox: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
pub struct Sel {
    /// `LAB` or `LAB/TASK`, several allowed; default: `$LABS`, else every lab.
    #[arg(value_name = "LAB[/TASK]")]
    select: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
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
        /// Submissions graded in parallel (one VM each).
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Grade only shard I of N (also read from CI_NODE_INDEX/CI_NODE_TOTAL or JOB_COMPLETION_INDEX).
        #[arg(long, value_name = "I/N", value_parser = parse_shard)]
        shard: Option<checker::shard::Shard>,
        #[arg(long, value_enum, default_value = "human")]
        format: grade::Format,
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
        /// Instead: grade N copies of a lab's reference solutions (2 jobs) and print throughput.
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
    },
    /// Provision everything, then run the test suite (`cargo test --workspace`).
    Test,
}

#[derive(Subcommand)]
enum KernelAction {
    /// Build the lab kernel (if not cached).
    Build,
    /// Show the cache key, folder and state.
    Info,
    /// Remove every cached kernel.
    Clean,
    /// Boot with KUnit on and report the kernel's Rust doctests (KTAP on the console).
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

/// What every command shares.
pub struct Ctx {
    pub sh: Shell,
    pub paths: Paths,
    pub spec: SourceSpec,
    /// The profile of the cached lab kernel to use (`--kernel-tree` says its own).
    pub profile: profile::Profile,
    kernel_tree: Option<PathBuf>,
    labs: Vec<Lab>,
    /// The base initramfs (busybox, rootfs/, guest tools), built once per process and shared
    /// with worker contexts: grading many submissions must not rebuild it for each.
    base_archive: std::sync::Arc<std::sync::Mutex<Option<std::sync::Arc<Vec<u8>>>>>,
    /// Whether builds may run without the sandbox, and the sandbox once probed.
    sandbox_policy: sandbox::Policy,
    sandbox: std::sync::Arc<std::sync::Mutex<Option<sandbox::Sandbox>>>,
}

impl Ctx {
    fn new(cli: &Cli) -> Result<Ctx> {
        let paths = Paths::discover(cli.skels_dir.as_deref())?;
        let sh = Shell::new()?;
        let spec = SourceSpec::load(&paths)?;
        let labs = manifest::discover(&paths.labs)?;
        let profile = match cli.kernel_profile {
            Some(profile) => profile,
            None => profile::CourseConfig::load(&paths.root)?
                .kernel
                .profile
                .unwrap_or_default(),
        };
        let sandbox_policy = match (cli.no_sandbox, &cli.command) {
            (true, _) => sandbox::Policy::Off,
            (false, Command::Grade { .. }) => sandbox::Policy::Required,
            (false, _) => sandbox::Policy::Preferred,
        };
        Ok(Ctx {
            sh,
            paths,
            spec,
            profile,
            kernel_tree: cli.kernel_tree.clone(),
            labs,
            base_archive: Default::default(),
            sandbox_policy,
            sandbox: Default::default(),
        })
    }

    /// A context for another thread: the same paths and labs, its own shell.
    pub fn worker(&self) -> Result<Ctx> {
        Ok(Ctx {
            sh: Shell::new()?,
            paths: self.paths.clone(),
            spec: self.spec.clone(),
            profile: self.profile,
            kernel_tree: self.kernel_tree.clone(),
            labs: self.labs.clone(),
            base_archive: self.base_archive.clone(),
            sandbox_policy: self.sandbox_policy,
            sandbox: self.sandbox.clone(),
        })
    }

    /// A context whose run files (stages, images, VM logs) go to `work` (a grader's private
    /// temporary folder, outside the repository).
    pub fn working_in(&self, work: &Path) -> Result<Ctx> {
        let mut ctx = self.worker()?;
        ctx.paths = self.paths.working_in(work);
        Ok(ctx)
    }

    /// The build sandbox, probed on first use (an error under `grade` if it does not work).
    pub fn sandbox(&self) -> Result<sandbox::Sandbox> {
        let mut cached = self.sandbox.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sandbox) = cached.as_ref() {
            return Ok(sandbox.clone());
        }
        let sandbox = sandbox::Sandbox::probe(&self.sh, self.sandbox_policy)?;
        *cached = Some(sandbox.clone());
        Ok(sandbox)
    }

    pub fn lab(&self, name: &str) -> Result<&Lab> {
        self.labs.iter().find(|l| l.name == name).with_context(|| {
            let names: Vec<&str> = self.labs.iter().map(|l| l.name.as_str()).collect();
            format!("no lab named `{name}`; the labs are: {}", names.join(", "))
        })
    }

    pub fn select(&self, sel: &Sel) -> Result<Vec<Selected<'_>>> {
        let env = std::env::var("LABS").ok();
        select(&self.labs, &sel.select, env.as_deref())
    }

    fn tools(&self) -> Result<()> {
        setup::ensure_tools(&self.sh, &self.spec.bindgen)
    }

    /// The lab kernel if it is there without a build: cached, or the `--kernel-tree`.
    pub fn kernel_if_built(&self) -> Result<Option<KernelTree>> {
        match &self.kernel_tree {
            Some(dir) => KernelTree::external(dir).map(Some),
            None => kernel::cached(&self.sh, &self.paths, &self.spec, self.profile),
        }
    }

    /// Tools, then the kernel: built once and cached, or the `--kernel-tree`.
    pub fn kernel(&self) -> Result<KernelTree> {
        self.kernel_of(self.profile)
    }

    /// The cached lab kernel of `profile` (or the `--kernel-tree`), tools first.
    pub fn kernel_of(&self, profile: profile::Profile) -> Result<KernelTree> {
        self.tools()?;
        match &self.kernel_tree {
            Some(dir) => KernelTree::external(dir),
            None => {
                let jobs = std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2);
                kernel::ensure(&self.sh, &self.paths, &self.spec, profile, jobs)
            }
        }
    }

    /// Where sources come from; the label names the build stage, image and run logs, so that
    /// runs over different folders (tests, graders) never share them.
    fn source(&self, solution: bool) -> SourceRoot {
        let mut source = self.source_folder(solution);
        source.label = self.profile_label(&source.label);
        if source.label.starts_with("skels-") {
            self.prune_gone_skels_dirs();
            let stage = self.paths.out.join("stage").join(&source.label);
            let _ = std::fs::create_dir_all(&stage);
            let _ = std::fs::write(
                stage.join(".source"),
                source.dir.as_os_str().as_encoded_bytes(),
            );
        }
        source
    }

    /// `label` for this profile: the debug profile's builds and images are its own, so
    /// switching profiles rebuilds nothing, and lean and debug runs never share files.
    pub fn profile_label(&self, label: &str) -> String {
        if self.profile == profile::Profile::Debug && self.kernel_tree.is_none() {
            format!("{label}-debug")
        } else {
            label.to_owned()
        }
    }

    fn source_folder(&self, solution: bool) -> SourceRoot {
        if solution {
            return SourceRoot {
                label: "templates".into(),
                dir: self.paths.templates.clone(),
            };
        }
        let dir = self.paths.skels.clone();
        if dir == self.paths.root.join("skels") {
            return SourceRoot {
                label: "skels".to_owned(),
                dir,
            };
        }
        let label = format!(
            "skels-{:08x}",
            kernel::fnv64(&[dir.as_os_str().as_encoded_bytes()]) as u32
        );
        SourceRoot { label, dir }
    }

    /// Build files of `--skels-dir` folders that no longer exist (tests' temporary folders)
    /// are removed, so `target/klab` does not grow run after run.
    fn prune_gone_skels_dirs(&self) {
        let Ok(entries) = std::fs::read_dir(self.paths.out.join("stage")) else {
            return;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let label = entry.file_name().to_string_lossy().into_owned();
            let Ok(source) = std::fs::read(entry.path().join(".source")) else {
                continue;
            };
            let source = std::path::PathBuf::from(String::from_utf8_lossy(&source).into_owned());
            if label.starts_with("skels-") && !source.exists() {
                let _ = std::fs::remove_dir_all(entry.path());
                let _ = std::fs::remove_dir_all(self.paths.out.join("runs").join(&label));
                let _ = std::fs::remove_dir_all(self.paths.out.join("ide").join(&label));
                let _ = std::fs::remove_file(self.paths.out.join(format!("initrd-{label}.cpio")));
                let _ = std::fs::remove_file(self.paths.out.join(format!("lab-{label}.img")));
            }
        }
    }

    /// Builds every selected task; a build failure is a verdict, not an error.
    pub fn build_all<'a>(
        &self,
        kernel: &KernelTree,
        source: &SourceRoot,
        selected: Vec<Selected<'a>>,
    ) -> Result<Vec<Prepared<'a>>> {
        let step = Step::start(format!(
            "building {} task(s) from {}/",
            selected.len(),
            source.label
        ));
        // Tasks build in parallel (kbuild of one small module is mostly serial), one shell each.
        let jobs = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .min(selected.len().max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<std::sync::Mutex<Option<Result<build::BuildOutcome>>>> = selected
            .iter()
            .map(|_| std::sync::Mutex::new(None))
            .collect();
        let sandbox = self.sandbox()?;
        let paths = &self.paths;
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                let (next, results, selected, sandbox) = (&next, &results, &selected, &sandbox);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(sel) = selected.get(i) else { break };
                    let built = build::build_task(sandbox, paths, kernel, source, sel)
                        .with_context(|| format!("building {}", sel.id()));
                    *results[i].lock().unwrap() = Some(built);
                });
            }
        });
        let mut out = Vec::new();
        for (sel, result) in selected.into_iter().zip(results) {
            let built = result
                .into_inner()
                .unwrap()
                .expect("every task was built")?;
            if let Err(message) = &built {
                eprintln!("    {}: build failed", sel.id());
                eprintln!(
                    "{}",
                    message
                        .lines()
                        .map(|l| format!("    | {l}\n"))
                        .collect::<String>()
                        .trim_end()
                );
            }
            out.push(Prepared::new(sel, built));
        }
        step.done();
        Ok(out)
    }

    /// Writes the guest's files for the tasks that built: the initramfs that boots with them,
    /// and the lab disk a restored guest loads them from.
    pub fn copy(&self, source: &SourceRoot, prepared: &[Prepared]) -> Result<GuestFiles> {
        let step = Step::start("writing the guest root (cpio initramfs)");
        let base = self.base()?;
        let built: Vec<(String, &build::BuiltTask)> = prepared
            .iter()
            .filter_map(|p| p.built.as_ref().ok().map(|b| (p.sel.id(), b)))
            .collect();
        let lab = rootfs::lab_archive(&built)?;
        let initrd = rootfs::write_initrd(&self.paths, &source.label, &base, &lab)?;
        let base_initrd = rootfs::write_base_initrd(&self.paths, &base)?;
        let lab_disk = rootfs::write_lab_disk(&self.paths, &source.label, &lab)?;
        step.tick(&format!(
            "{} ({:.1} MB)",
            self.paths.show(&initrd),
            (base.len() + lab.len()) as f64 / 1e6
        ));
        step.done();
        Ok(GuestFiles {
            initrd,
            base_initrd,
            lab_disk,
        })
    }

    /// The base archive (busybox, rootfs/, guest tools), built on first use.
    fn base(&self) -> Result<std::sync::Arc<Vec<u8>>> {
        let mut cached = self.base_archive.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(base) = cached.as_ref() {
            return Ok(base.clone());
        }
        let tools = rootfs::guest_tools(&self.sh, &self.paths)?;
        let base = std::sync::Arc::new(rootfs::base_archive(&self.sh, &self.paths, &tools)?);
        *cached = Some(base.clone());
        Ok(base)
    }

    /// Starts resuming the saved guest for `source`'s run now, so that it is ready when the
    /// tasks are built (the lab disk is written after the build). `None` if the fast path is
    /// off or unavailable; the run then starts its VMs the usual way.
    pub fn resume_early(&self, kernel: &KernelTree, source: &SourceRoot) -> Option<launch::Early> {
        if !launch::fast_path_wanted() {
            return None;
        }
        let disk = rootfs::lab_disk_path(&self.paths, &source.label);
        let files = (|| -> Result<GuestFiles> {
            let base_initrd = rootfs::write_base_initrd(&self.paths, &self.base()?)?;
            // The disk must exist, at its size, when QEMU opens it.
            if std::fs::metadata(&disk).map(|m| m.len()).ok() != Some(rootfs::LAB_DISK_BYTES) {
                rootfs::write_lab_disk(&self.paths, &source.label, &[])?;
            }
            Ok(GuestFiles {
                initrd: base_initrd.clone(),
                base_initrd,
                lab_disk: Some(disk.clone()),
            })
        })()
        .ok()?;
        let fast = self.restore_for(kernel, &files, &disk)?;
        let runs_dir = self.paths.work.join("runs").join(&source.label);
        let _ = std::fs::remove_dir_all(&runs_dir);
        Some(launch::Early::start(
            fast,
            runs_dir.join("vm-1"),
            check::BOOT_TIMEOUT,
        ))
    }

    pub fn image(&self, kernel: &KernelTree, initrd: PathBuf) -> VmImage {
        VmImage {
            qemu: accel::QEMU.into(),
            kernel: kernel.bzimage.clone(),
            initrd,
            // Also for the debug profile: KASAN's shadow (1/8) fits, and every kmemleak scan
            // walks each page's `struct page`, so more memory costs time after every task.
            memory_mb: 256,
            accel: accel::resolve(&self.paths, kernel),
            kunit: false,
            lab_disk: None,
        }
    }

    /// How this run's VMs start: restored from the saved guest (made on first use) unless
    /// `KLAB_BOOT=cold` or the lab does not fit the disk; booted otherwise.
    pub fn launch(&self, kernel: &KernelTree, files: &GuestFiles) -> Launch {
        let cold = self.image(kernel, files.initrd.clone());
        let fast = match (&files.lab_disk, launch::fast_path_wanted()) {
            (Some(disk), true) => self.restore_for(kernel, files, disk),
            _ => None,
        };
        Launch {
            cold,
            fast,
            profile: kernel.profile,
        }
    }

    fn restore_for(&self, kernel: &KernelTree, files: &GuestFiles, disk: &Path) -> Option<Restore> {
        let saved = (|| -> Result<Restore> {
            let mut base = self.image(kernel, files.base_initrd.clone());
            base.lab_disk = Some(rootfs::empty_lab_disk(&self.paths)?);
            let saved = saved_guest::saved_state(&self.paths, &base, check::BOOT_TIMEOUT)?;
            base.lab_disk = Some(disk.to_path_buf());
            Ok(Restore {
                image: base,
                state: saved.path,
                in_use: saved.in_use,
            })
        })();
        match saved {
            Ok(restore) => Some(restore),
            Err(e) => {
                eprintln!("warning: no saved VM to resume ({e:#}); booting instead");
                None
            }
        }
    }
}

/// What `copy` wrote for a run.
pub struct GuestFiles {
    /// Base and lab files: what a booted VM starts from.
    pub initrd: PathBuf,
    /// The base alone: what the saved guest booted from.
    pub base_initrd: PathBuf,
    /// The lab files on a disk for a restored guest (`None`: too big, boot instead).
    pub lab_disk: Option<PathBuf>,
}

/// build → copy: the selected tasks built and how to start their VMs.
fn build_and_copy<'a>(
    ctx: &'a Ctx,
    sel: &Sel,
    solution: bool,
    label_prefix: Option<&str>,
) -> Result<(SourceRoot, Vec<Prepared<'a>>, Launch)> {
    let selected = ctx.select(sel)?;
    let kernel = ctx.kernel()?;
    let source = ctx.source(solution);
    // `boot` gets its own stage and image, so a student's VM never races a running `check`.
    let source = match label_prefix {
        Some(prefix) => SourceRoot {
            label: format!("{prefix}-{}", source.label),
            dir: source.dir,
        },
        None => source,
    };
    let prepared = ctx.build_all(&kernel, &source, selected)?;
    let files = ctx.copy(&source, &prepared)?;
    // A person's VM boots (a saved guest has no console shell).
    let launch = match label_prefix {
        Some(_) => Launch {
            cold: ctx.image(&kernel, files.initrd.clone()),
            fast: None,
            profile: kernel.profile,
        },
        None => ctx.launch(&kernel, &files),
    };
    Ok((source, prepared, launch))
}

fn check(ctx: &Ctx, sel: &Sel, solution: bool, mode: SnapshotMode) -> Result<bool> {
    let selected = ctx.select(sel)?;
    let kernel = ctx.kernel()?;
    let source = ctx.source(solution);
    // The first VM resumes while the tasks build: the two overlap.
    let early = ctx.resume_early(&kernel, &source);
    let built = ctx
        .build_all(&kernel, &source, selected)
        .and_then(|prepared| Ok((ctx.copy(&source, &prepared)?, prepared)));
    let (files, prepared) = match built {
        Ok(built) => built,
        Err(e) => {
            if let Some(early) = early {
                early.cancel();
            }
            return Err(e);
        }
    };
    let launch = ctx.launch(&kernel, &files);
    let first = early.and_then(launch::Early::finish);
    let step = Step::start(format!(
        "running {} task(s) in the VM ({}, {})",
        prepared.len(),
        launch.cold.accel.name(),
        if launch.fast.is_some() {
            "resumed from the saved guest"
        } else {
            "booted"
        }
    ));
    let how = check::RunOptions {
        mode,
        policy: check::VmPolicy::Reuse,
        print: true,
    };
    let sandbox = ctx.sandbox()?;
    let verdicts = check::run_tasks(
        &ctx.paths, &sandbox, &source, &launch, &prepared, how, first,
    )?;
    step.done();
    let what = if mode == SnapshotMode::Accept {
        "bless"
    } else {
        "check"
    };
    let ok = check::summarize(&ctx.paths, &verdicts, what);
    if mode == SnapshotMode::Accept {
        println!("snapshots written under labs/*/snapshots/: review them with `git diff` before committing");
    }
    Ok(ok)
}

/// `check --watch`: check the selection, then each task again whenever its folder changes.
fn check_watch(ctx: &Ctx, sel: &Sel, solution: bool, mode: SnapshotMode) -> Result<bool> {
    let source = ctx.source(solution);
    let folders: Vec<(String, PathBuf)> = ctx
        .select(sel)?
        .iter()
        .map(|s| (s.id(), source.dir.join(&s.lab.name).join(&s.task.name)))
        .collect();
    let mut state = watch::snapshot(&folders);
    let mut ids: Vec<String> = folders.iter().map(|(id, _)| id.clone()).collect();
    loop {
        // A failed build or check is a result to show, not a reason to stop watching.
        if let Err(e) = check(ctx, &Sel { select: ids }, solution, mode) {
            eprintln!("error: {e:#}");
        }
        println!(
            "\nwatching {} task folder(s) under {} for changes; Ctrl-C to stop",
            folders.len(),
            ctx.paths.show(&source.dir)
        );
        ids = loop {
            std::thread::sleep(watch::POLL);
            if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(true);
            }
            let now = watch::snapshot(&folders);
            let changed: Vec<String> = watch::changed(&state, &now)
                .into_iter()
                .map(str::to_owned)
                .collect();
            if !changed.is_empty() {
                // Let an editor finish writing (several files, or write-then-rename).
                std::thread::sleep(watch::POLL);
                state = watch::snapshot(&folders);
                println!("\n==> changed: {}", changed.join(", "));
                break changed;
            }
        };
    }
}

fn boot(ctx: &Ctx, sel: &Sel, solution: bool, interactive: bool) -> Result<bool> {
    let (_, _, launch) = build_and_copy(ctx, sel, solution, Some("boot"))?;
    let image = launch.cold;
    if interactive {
        eprintln!("==> booting ({}); in the guest: cd /lab/<lab>/<task>; leave with `poweroff` or Ctrl-a x", image.accel.name());
        let args = qemu_args(&image, &ShellPort::Interactive);
        let qemu = &image.qemu;
        // QEMU must own the terminal (raw mode, Ctrl-a escapes): hand it our stdin as is.
        let mut command: std::process::Command = cmd!(ctx.sh, "{qemu} {args...}").into();
        let status = command
            .stdin(std::process::Stdio::inherit())
            .status()
            .context("starting QEMU")?;
        return Ok(status.success());
    }
    let step = Step::start(format!(
        "booting the VM ({}) to its shell prompt",
        image.accel.name()
    ));
    let run_dir = ctx.paths.out.join("runs/boot");
    let mut vm = checker::vm::VmSession::boot(&image, &run_dir, check::BOOT_TIMEOUT)
        .map_err(|e| anyhow::anyhow!("{e}; see {}", run_dir.join("console.log").display()))?;
    let uname = vm
        .run("uname -r; ls /lab", std::time::Duration::from_secs(10))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    step.tick(&format!(
        "guest says: {}",
        uname
            .output
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    ));
    vm.shutdown();
    step.done();
    Ok(true)
}

/// Boots the lab kernel with KUnit enabled and reads the doctests' KTAP from the console.
fn doctests(ctx: &Ctx) -> Result<bool> {
    let kernel = ctx.kernel()?;
    // Its own image (no lab files), so a concurrent `check --solution` keeps its own.
    let source = SourceRoot {
        label: "doctests".into(),
        dir: ctx.paths.templates.clone(),
    };
    let files = ctx.copy(&source, &[])?;
    let mut image = ctx.image(&kernel, files.initrd);
    image.kunit = true;
    let step = Step::start("booting with KUnit on (the kernel crate's doctests run at boot)");
    let run_dir = ctx.paths.out.join("runs/doctests");
    let mut vm = checker::vm::VmSession::boot(&image, &run_dir, check::BOOT_TIMEOUT)
        .map_err(|e| anyhow::anyhow!("{e}; see {}", run_dir.join("console.log").display()))?;
    // `quiet` keeps KTAP (KERN_INFO) off the boot console: read it from the kernel log.
    let log = vm
        .run_checked("dmesg", std::time::Duration::from_secs(30))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let console: Vec<String> = log.output.lines().map(str::to_owned).collect();
    let mut watch = checker::console::FaultWatch::default();
    console.iter().for_each(|line| watch.feed(line));
    let fault = vm.take_fault().or_else(|| watch.take());
    vm.shutdown();
    step.done();
    let results = checker::ktap::results(console.iter().map(String::as_str));
    let (suites, passed, failed, skipped, names) = checker::ktap::summary(&results);
    println!("kunit: {suites} suite(s), {passed} passed, {failed} failed, {skipped} skipped");
    for name in &names {
        println!("  not ok: {name}");
    }
    if let Some(fault) = fault {
        println!(
            "  the kernel reported a {} during the tests:",
            fault.kind.describe()
        );
        fault
            .excerpt
            .iter()
            .take(20)
            .for_each(|l| println!("  | {l}"));
        return Ok(false);
    }
    if suites == 0 {
        println!("  no KTAP output: is CONFIG_KUNIT with CONFIG_RUST_KERNEL_DOCTESTS in the kernel? (see {})", run_dir.join("console.log").display());
        return Ok(false);
    }
    Ok(failed == 0)
}

fn parse_shard(text: &str) -> Result<checker::shard::Shard> {
    checker::shard::Shard::parse(text)
}

fn run(cli: Cli) -> Result<bool> {
    let ctx = Ctx::new(&cli)?;
    match &cli.command {
        Command::Setup => {
            let step = Step::start("checking tools and the lab kernel");
            setup::ensure_editor_tools(&ctx.sh)?;
            let kernel = ctx.kernel()?;
            accel::reprobe(&ctx.paths, &kernel);
            step.done();
            println!("ready: lab kernel at {}", kernel.dir.display());
        }
        Command::Kernel { action } => match action {
            KernelAction::Build => {
                let kernel = ctx.kernel()?;
                println!("lab kernel: {}", kernel.bzimage.display());
            }
            KernelAction::Info => kernel::info(&ctx.sh, &ctx.paths, &ctx.spec, ctx.profile)?,
            KernelAction::Clean => kernel::clean(&ctx.paths)?,
            KernelAction::Doctests => return doctests(&ctx),
            KernelAction::Export { file } => {
                ctx.tools()?;
                kernel_pack::export(&ctx.sh, &ctx.paths, &ctx.spec, ctx.profile, file)?;
            }
            KernelAction::Import { file, force } => {
                ctx.tools()?;
                kernel_pack::import(&ctx.sh, &ctx.paths, &ctx.spec, ctx.profile, file, *force)?;
            }
        },
        Command::Skels { sel, todo, force } => {
            let selected = ctx.select(sel)?;
            let step = Step::start(format!(
                "generating skeletons for {} task(s)",
                selected.len()
            ));
            skels_cmd::generate(&ctx.paths, &selected, *todo, *force)?;
            step.done();
            // The skeletons stand without them: a failure here is a warning.
            if let Err(e) = ide::after_skels(&ctx, &selected) {
                eprintln!(
                    "warning: no editor files were written: {e:#}\n(`cargo xtask ide` tries again)"
                );
            }
        }
        Command::Ide { sel, solution } => return ide::run(&ctx, sel, *solution),
        Command::Doc { sel, open } => return doc::run(&ctx, sel, *open),
        Command::Build { sel, solution } => {
            let kernel = ctx.kernel()?;
            let prepared = ctx.build_all(&kernel, &ctx.source(*solution), ctx.select(sel)?)?;
            return Ok(prepared.iter().all(|p| p.built.is_ok()));
        }
        Command::Copy { sel, solution } => {
            let kernel = ctx.kernel()?;
            let source = ctx.source(*solution);
            let prepared = ctx.build_all(&kernel, &source, ctx.select(sel)?)?;
            ctx.copy(&source, &prepared)?;
        }
        Command::Boot {
            sel,
            solution,
            interactive,
        } => return boot(&ctx, sel, *solution, *interactive),
        Command::Check {
            sel,
            solution,
            watch,
        } => {
            let mode = if *solution {
                SnapshotMode::ComparePending
            } else {
                SnapshotMode::Compare
            };
            if *watch {
                return check_watch(&ctx, sel, *solution, mode);
            }
            return check(&ctx, sel, *solution, mode);
        }
        Command::Stress {
            sel,
            solution,
            cycles,
        } => return stress::run(&ctx, sel, *solution, *cycles),
        Command::Bless { sel } => return bless::run(&ctx, sel),
        Command::Grade {
            lab,
            submissions,
            out,
            jobs,
            shard,
            format,
            merge,
            seed,
        } => {
            if !merge.is_empty() {
                return grade::merge(&ctx, lab, merge, out, *format);
            }
            let opts = grade::GradeOptions {
                lab: lab.clone(),
                submissions: submissions.clone(),
                out: out.clone(),
                jobs: *jobs,
                shard: *shard,
                format: *format,
                seed: *seed,
            };
            return grade::run(&ctx, opts);
        }
        Command::Bench {
            grade: Some(n),
            lab,
            ..
        } => bench::grading(&ctx, lab, *n)?,
        Command::Bench { profiles: true, .. } => {
            let lines = bench::profiles(&ctx)?;
            println!(
                "\nkernel profiles (a task cycle: build + copy + resume + test, on the fast path):"
            );
            for line in lines {
                println!("{line}");
            }
        }
        Command::Bench { sandbox: true, .. } => {
            println!("\nthe build sandbox (median of 5, alternating):");
            for line in bench::sandbox_cost(&ctx, bench::SANDBOX_TASKS)? {
                println!("{line}");
            }
        }
        Command::Bench { .. } => bench::run(&ctx)?,
        Command::Test => {
            // The suite boots both profiles (vm_debug.rs runs the debug one): build both
            // kernels here, once and with progress, rather than inside a test.
            for profile in profile::Profile::ALL {
                ctx.kernel_of(profile)?;
            }
            // The suite runs rust-analyzer and clangd over the reference solutions.
            setup::ensure_editor_tools(&ctx.sh)?;
            let kernel = ctx.kernel()?;
            // Probe KVM once here, not in each of the suite's parallel VM tests.
            accel::resolve(&ctx.paths, &kernel);
            // The suite reads its JUnit report with a real JUnit consumer.
            if cmd!(ctx.sh, "python3 -c 'import junitparser'")
                .quiet()
                .ignore_stderr()
                .run()
                .is_err()
            {
                let step =
                    Step::start("installing junitparser (the suite's JUnit consumer) with pip");
                cmd!(ctx.sh, "python3 -m pip install --quiet junitparser")
                    .run()
                    .context("pip install junitparser failed")?;
                step.done();
            }
            let _dir = ctx.sh.push_dir(&ctx.paths.root);
            return Ok(cmd!(ctx.sh, "cargo test --workspace").run().is_ok());
        }
    }
    Ok(true)
}

/// Set by Ctrl-C, SIGTERM or SIGHUP (ctrlc's `termination`): long loops stop starting new
/// work, VMs are killed, partial results are marked incomplete.
pub static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let grading = matches!(cli.command, Command::Grade { .. });
    let _ = ctrlc::set_handler(move || {
        INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
        let killed = checker::vm::kill_all_vms();
        eprintln!("\ninterrupted: {killed} VM(s) killed");
        if !grading {
            std::process::exit(130);
        }
    });
    let result = run(cli);
    if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        if let Err(e) = &result {
            eprintln!("error: {e:#}");
        }
        return ExitCode::from(130);
    }
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
