//! Building the lab kernel from Debian's source package: download it (`apt-get download`),
//! unpack it, apply `kernel/patches/`, check the Rust toolchain, configure the profile
//! (tinyconfig + fragments, each wanted option checked), then `make bzImage modules` with
//! its object count as progress.
//!
//! It writes only into the cache folder it is given and the downloads folder; it never takes
//! the cache's lock (its caller, [`super::cache::ensure`], holds it).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use super::cache::{fragments, patches, BUILD_TIME, READY_STAMP};
use super::make::{run_logged, Counting};
use super::{objects, SourceSpec};
use crate::events::{Reporter, Step, StepKind};
use crate::host::run_on_stderr;
use crate::kernel::profile::Profile;
use crate::paths::Paths;

fn fetch_tarball(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    reporter: &dyn Reporter,
) -> Result<PathBuf> {
    let downloads = paths.cache.join("downloads");
    std::fs::create_dir_all(&downloads)?;
    let unpacked = downloads.join(format!(
        "{}_{}",
        spec.package,
        spec.version.replace('~', "_")
    ));
    let tarball = unpacked.join(&spec.tarball);
    if tarball.exists() {
        return Ok(tarball);
    }
    let step = Step::start(
        reporter,
        StepKind::Kernel,
        format!(
            "downloading {} {} (apt-get download)",
            spec.package, spec.version
        ),
    );
    let _dir = sh.push_dir(&downloads);
    let (package, version) = (&spec.package, &spec.version);
    let pinned = format!("{package}={version}");
    if run_on_stderr(cmd!(sh, "apt-get download {pinned}")).is_err() {
        // The package lists may be stale on a fresh machine: refresh once, then try again.
        let _ = run_on_stderr(cmd!(sh, "apt-get update -q"));
        if run_on_stderr(cmd!(sh, "apt-get download {pinned}")).is_err() {
            reporter.note(format!(
                "{pinned} is no longer in the archive; taking the newest {package} instead"
            ));
            run_on_stderr(cmd!(sh, "apt-get download {package}")).with_context(|| {
                format!("apt-get download {package} failed: is Debian's archive reachable?")
            })?;
        }
    }
    let deb = std::fs::read_dir(&downloads)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{package}_")) && n.ends_with(".deb"))
        })
        .max()
        .with_context(|| {
            format!(
                "apt-get download left no {package}_*.deb in {}",
                downloads.display()
            )
        })?;
    cmd!(sh, "dpkg-deb -x {deb} {unpacked}")
        .run()
        .context("unpacking the source package")?;
    step.done();
    if !tarball.exists() {
        bail!(
            "{} has no {}: update `tarball` in kernel/source.toml",
            deb.display(),
            spec.tarball
        );
    }
    Ok(tarball)
}

/// Builds the lab kernel of `profile` into the cache folder `dir` (emptied first), stamped
/// ready last.
pub(super) fn build(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    profile: Profile,
    dir: &Path,
    jobs: usize,
    reporter: &dyn Reporter,
) -> Result<()> {
    // Counted before this folder is emptied (it never holds the log counted: see `expected`).
    let expected = objects::expected(dir.parent().unwrap_or(dir), profile, dir);
    let tarball = fetch_tarball(sh, paths, spec, reporter)?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let step = Step::start(
        reporter,
        StepKind::Kernel,
        format!("unpacking the kernel source into {}", dir.display()),
    );
    cmd!(sh, "tar -xf {tarball} -C {dir}")
        .run()
        .context("unpacking the kernel tarball")?;
    let top = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .find(|e| e.path().is_dir())
        .context("the kernel tarball holds no folder")?
        .path();
    std::fs::rename(&top, dir.join("linux"))?;
    step.done();
    let tree = dir.join("linux");
    let _cwd = sh.push_dir(&tree);

    for patch in patches(paths)? {
        let step = Step::start(
            reporter,
            StepKind::Kernel,
            format!("applying {}", paths.show(&patch)),
        );
        run_on_stderr(cmd!(sh, "patch -p1 --forward --batch -i {patch}")).with_context(|| {
            format!(
                "{} does not apply to {} {}",
                patch.display(),
                spec.package,
                spec.version
            )
        })?;
        step.done();
    }

    let step = Step::start(
        reporter,
        StepKind::Kernel,
        "checking the Rust toolchain (make LLVM=1 rustavailable)",
    );
    let out = cmd!(sh, "make LLVM=1 rustavailable")
        .ignore_status()
        .quiet()
        .output()?;
    if !out.status.success() {
        bail!(
            "the kernel cannot build Rust with this toolchain:\n{}{}\nrun `cargo xtask setup`, which installs rust-src and bindgen-cli",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    step.done();

    let frags = fragments(paths, profile);
    let step = Step::start(
        reporter,
        StepKind::Kernel,
        format!(
            "configuring the {} profile: tinyconfig + {}",
            profile.name(),
            frags
                .iter()
                .map(|f| paths.show(f))
                .collect::<Vec<_>>()
                .join(" + ")
        ),
    );
    cmd!(sh, "make LLVM=1 tinyconfig")
        .quiet()
        .ignore_stdout()
        .run()?;
    let frag_args = frags.clone();
    cmd!(
        sh,
        "scripts/kconfig/merge_config.sh -m .config {frag_args...}"
    )
    .quiet()
    .ignore_stdout()
    .run()?;
    cmd!(sh, "make LLVM=1 olddefconfig")
        .quiet()
        .ignore_stdout()
        .run()?;
    let config = std::fs::read_to_string(tree.join(".config"))?;
    for frag in &frags {
        for wanted in std::fs::read_to_string(frag)?
            .lines()
            .filter(|l| l.starts_with("CONFIG_"))
        {
            if !config.lines().any(|l| l == wanted) {
                bail!(
                    "{wanted} from {} did not survive olddefconfig (a dependency is missing); see {}",
                    paths.show(frag),
                    tree.join(".config").display()
                );
            }
        }
    }
    step.done();

    let log_path = dir.join("build.log");
    let step = Step::start(reporter, StepKind::Kernel, format!(
        "building the {} lab kernel with {jobs} jobs (5-20 min on 2 cores, longer while other work runs; log: {})",
        profile.name(),
        log_path.display()
    ));
    reporter.note(match &expected.from {
        Some(log) => format!(
            "about {} objects to make (as many as {} shows)",
            expected.total,
            log.display()
        ),
        None => format!(
            "about {} objects to make (measured for the {} profile)",
            expected.total,
            profile.name()
        ),
    });
    let goals = [format!("-j{jobs}"), "bzImage".into(), "modules".into()];
    let counting = Counting::Objects {
        expected: expected.total,
    };
    run_logged(sh, &tree, &goals, &log_path, &step, counting).context("the kernel build failed")?;
    // For `bench`, which compares the profiles' kernels.
    let _ = std::fs::write(
        dir.join(BUILD_TIME),
        format!("{:.1}\n", step.elapsed().as_secs_f64()),
    );
    step.done();
    std::fs::write(
        dir.join(READY_STAMP),
        format!("{} {} {}\n", spec.package, spec.version, profile.name()),
    )?;
    Ok(())
}
