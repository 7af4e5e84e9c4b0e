//! [`Workspace`]: what every command of one invocation shares, and where a run's sources
//! come from (their label names the run's stage, image and VM logs).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use xshell::Shell;

use crate::build::sandbox;
use crate::build::SourceRoot;
use crate::events::Reporter;
use crate::kernel::{self, profile, KernelTree, SourceSpec};
use crate::lab::manifest::{self, Lab};
use crate::lab::selection::{select, Selected};
use crate::paths::{Origin, Paths, RunLabel};

/// How a [`Workspace`] is made (`cargo xtask`'s global options).
#[derive(Debug, Clone, Default)]
pub struct WorkspaceOptions {
    /// Use this folder instead of `skels/` for student skeletons.
    pub skels_dir: Option<PathBuf>,
    /// Build and boot with this kbuild tree instead of the cached lab kernel.
    pub kernel_tree: Option<PathBuf>,
    /// The lab kernel profile (default: klab.toml's, else lean).
    pub profile: Option<profile::Profile>,
    /// Whether builds of student input may run without the sandbox.
    pub sandbox: sandbox::Policy,
    /// Run VMs with this program instead of `qemu-system-x86_64` (found on `PATH`): the
    /// pipeline's own tests point it at `klab-fake-vm`.
    pub qemu: Option<PathBuf>,
}

/// What every command of one klab invocation shares: the repository's paths and labs, the
/// lab kernel it uses, the sandbox, and the base image once built. Cheap to clone for a
/// worker thread ([`Workspace::worker`]).
pub struct Workspace {
    pub sh: Shell,
    pub paths: Paths,
    pub spec: SourceSpec,
    /// The profile of the cached lab kernel to use (`--kernel-tree` says its own).
    pub profile: profile::Profile,
    kernel_tree: Option<PathBuf>,
    /// The program that runs VMs ([`WorkspaceOptions::qemu`]).
    pub qemu: PathBuf,
    labs: Vec<Lab>,
    /// The base initramfs (busybox, rootfs/, guest tools), built once per process and shared
    /// with worker contexts: grading many submissions must not rebuild it for each.
    pub(crate) base_archive: Arc<Mutex<Option<Arc<Vec<u8>>>>>,
    /// Whether builds may run without the sandbox, and the sandbox once probed.
    sandbox_policy: sandbox::Policy,
    sandbox: Arc<Mutex<Option<sandbox::Sandbox>>>,
    /// Held while this process makes the saved guest (its workers wait for each other).
    pub(crate) making_saved_guest: Arc<Mutex<()>>,
    /// Where the engine's events go (the face's renderer, JSON lines, a recorder).
    reporter: Arc<dyn Reporter>,
}

impl Workspace {
    /// Discovers the repository and its labs. The profile is `options.profile`, else the
    /// course's `klab.toml`, else lean.
    pub fn new(options: &WorkspaceOptions, reporter: Arc<dyn Reporter>) -> Result<Workspace> {
        let paths = Paths::discover(options.skels_dir.as_deref())?;
        let sh = Shell::new()?;
        let spec = SourceSpec::load(&paths)?;
        let labs = manifest::discover(&paths.labs)?;
        let profile = match options.profile {
            Some(profile) => profile,
            None => profile::CourseConfig::load(&paths.root)?
                .kernel
                .profile
                .unwrap_or_default(),
        };
        Ok(Workspace {
            sh,
            paths,
            spec,
            profile,
            kernel_tree: options.kernel_tree.clone(),
            qemu: options
                .qemu
                .clone()
                .unwrap_or_else(|| crate::vm::accel::QEMU.into()),
            labs,
            base_archive: Default::default(),
            sandbox_policy: options.sandbox,
            sandbox: Default::default(),
            making_saved_guest: Default::default(),
            reporter,
        })
    }

    /// A context for another thread: the same paths and labs, its own shell.
    pub fn worker(&self) -> Result<Workspace> {
        Ok(Workspace {
            sh: Shell::new()?,
            paths: self.paths.clone(),
            spec: self.spec.clone(),
            profile: self.profile,
            kernel_tree: self.kernel_tree.clone(),
            qemu: self.qemu.clone(),
            labs: self.labs.clone(),
            base_archive: self.base_archive.clone(),
            sandbox_policy: self.sandbox_policy,
            sandbox: self.sandbox.clone(),
            making_saved_guest: self.making_saved_guest.clone(),
            reporter: self.reporter.clone(),
        })
    }

    /// A context whose run files (stages, images, VM logs) go to `work` (a grader's private
    /// temporary folder, outside the repository).
    pub fn working_in(&self, work: &Path) -> Result<Workspace> {
        let mut ctx = self.worker()?;
        ctx.paths = self.paths.working_in(work);
        Ok(ctx)
    }

    /// The same workspace reporting to `reporter` (bench records step times).
    pub fn reporting_to(&self, reporter: Arc<dyn Reporter>) -> Result<Workspace> {
        let mut ws = self.worker()?;
        ws.reporter = reporter;
        Ok(ws)
    }

    /// Where events go, to keep (bench wraps it to watch the events go by).
    pub fn reporter_handle(&self) -> Arc<dyn Reporter> {
        self.reporter.clone()
    }

    /// Where events go.
    pub fn reporter(&self) -> &dyn Reporter {
        &*self.reporter
    }

    /// The build sandbox, probed on first use (an error under `grade` if it does not work).
    pub fn sandbox(&self) -> Result<sandbox::Sandbox> {
        let mut cached = self.sandbox.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sandbox) = cached.as_ref() {
            return Ok(sandbox.clone());
        }
        let sysroot = crate::host::remembered::first_line(
            &self.sh,
            &self.paths,
            "rustc",
            &["--print", "sysroot"],
        );
        let sandbox =
            sandbox::Sandbox::probe_with(self.sandbox_policy, self.reporter(), Some(&sysroot))?;
        *cached = Some(sandbox.clone());
        Ok(sandbox)
    }

    pub fn lab(&self, name: &str) -> Result<&Lab> {
        self.labs.iter().find(|l| l.name == name).with_context(|| {
            let names: Vec<&str> = self.labs.iter().map(|l| l.name.as_str()).collect();
            format!("no lab named `{name}`; the labs are: {}", names.join(", "))
        })
    }

    /// `LAB` or `LAB/TASK` words (none: `$LABS`, else every lab) into tasks.
    pub fn select(&self, words: &[String]) -> Result<Vec<Selected<'_>>> {
        let env = std::env::var("LABS").ok();
        select(&self.labs, words, env.as_deref())
    }

    /// Every lab of the repository.
    pub fn labs(&self) -> &[Lab] {
        &self.labs
    }

    /// Whether this workspace's kernel comes from klab's cache (built there when missing),
    /// not from a `--kernel-tree`.
    pub fn builds_its_kernel(&self) -> bool {
        self.kernel_tree.is_none()
    }

    /// The lab kernel if it is there without a build: cached, or the `--kernel-tree`.
    pub fn kernel_if_built(&self) -> Result<Option<KernelTree>> {
        match &self.kernel_tree {
            Some(dir) => KernelTree::external(dir).map(Some),
            None => kernel::cached(&self.sh, &self.paths, &self.spec, self.profile),
        }
    }

    /// The kernel: built once and cached, or the `--kernel-tree`. The host's tools must be
    /// there (`cargo xtask` checks them before any command that builds).
    pub fn kernel(&self) -> Result<KernelTree> {
        self.kernel_of(self.profile)
    }

    /// The cached lab kernel of `profile` (or the `--kernel-tree`).
    pub fn kernel_of(&self, profile: profile::Profile) -> Result<KernelTree> {
        match &self.kernel_tree {
            Some(dir) => KernelTree::external(dir),
            None => {
                let jobs = std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2);
                kernel::ensure(
                    &self.sh,
                    &self.paths,
                    &self.spec,
                    profile,
                    jobs,
                    self.reporter(),
                )
            }
        }
    }

    /// Where sources come from; the label names the build stage, image and run logs, so that
    /// runs over different folders (tests, graders) never share them.
    pub fn source(&self, solution: bool) -> SourceRoot {
        let mut source = self.source_folder(solution);
        source.label = self.profile_label(source.label);
        if let Origin::SkelsDir(_) = source.label.origin() {
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
    pub fn profile_label(&self, label: RunLabel) -> RunLabel {
        if self.profile == profile::Profile::Debug && self.kernel_tree.is_none() {
            label.on_debug_kernel()
        } else {
            label
        }
    }

    fn source_folder(&self, solution: bool) -> SourceRoot {
        if solution {
            return SourceRoot {
                label: RunLabel::new(Origin::Templates),
                dir: self.paths.templates.clone(),
            };
        }
        let dir = self.paths.skels.clone();
        if dir == self.paths.root.join("skels") {
            return SourceRoot {
                label: RunLabel::new(Origin::Skels),
                dir,
            };
        }
        let hash = kernel::fnv64(&[dir.as_os_str().as_encoded_bytes()]) as u32;
        SourceRoot {
            label: RunLabel::new(Origin::SkelsDir(hash)),
            dir,
        }
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
            if RunLabel::names_skels_dir_run(&label) && !source.exists() {
                let _ = std::fs::remove_dir_all(entry.path());
                let _ = std::fs::remove_dir_all(self.paths.out.join("runs").join(&label));
                let _ = std::fs::remove_dir_all(self.paths.out.join("ide").join(&label));
                let _ = std::fs::remove_file(self.paths.out.join(format!("initrd-{label}.cpio")));
                let _ = std::fs::remove_file(self.paths.out.join(format!("lab-{label}.img")));
            }
        }
    }
}
