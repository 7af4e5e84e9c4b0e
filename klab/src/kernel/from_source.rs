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
use super::{objects, source, SourceSpec};
use crate::events::{Reporter, Step, StepKind};
use crate::host::run_on_stderr;
use crate::kernel::profile::Profile;
use crate::paths::Paths;

/// How the profile's `.config` is made, in one Kconfig pass where `make tinyconfig` and a
/// merge would take three: `allnoconfig` with tinyconfig's base, then tinyconfig's fragments
/// (the kernel's and x86's) and the profile's merged in that order, then one `olddefconfig`.
/// The same `.config` as `make tinyconfig` + merge + `olddefconfig` for the lean profile
/// (compared when this changed), 7 s sooner. Part of the cache key: a change here rebuilds.
pub const CONFIGURE_RECIPE: &str = "KCONFIG_ALLCONFIG=kernel/configs/tiny-base.config allnoconfig; merge kernel/configs/tiny.config arch/x86/configs/tiny.config <fragments>; olddefconfig";

/// The kernel's own fragments `make tinyconfig` merges, before the profile's.
const TINY_FRAGMENTS: [&str; 2] = ["kernel/configs/tiny.config", "arch/x86/configs/tiny.config"];

/// Writes the profile's `.config` in `tree` ([`CONFIGURE_RECIPE`]) and checks that every
/// option a fragment sets or unsets survived. When `CONFIG_RUST` did not, says why with
/// `make rustavailable` (only then: on the way to a build it is one more `make` run).
fn configure(
    sh: &Shell,
    paths: &Paths,
    profile: Profile,
    tree: &Path,
    reporter: &dyn Reporter,
) -> Result<()> {
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
    cmd!(sh, "make LLVM=1 allnoconfig")
        .env("KCONFIG_ALLCONFIG", "kernel/configs/tiny-base.config")
        .quiet()
        .ignore_stdout()
        .run()
        .context("make allnoconfig (tinyconfig's base) failed")?;
    let mut merged: Vec<PathBuf> = TINY_FRAGMENTS.iter().map(|f| tree.join(f)).collect();
    merged.extend(frags.iter().cloned());
    cmd!(sh, "scripts/kconfig/merge_config.sh -m .config {merged...}")
        .quiet()
        .ignore_stdout()
        .run()
        .context("merging the configuration fragments failed")?;
    cmd!(sh, "make LLVM=1 olddefconfig")
        .quiet()
        .ignore_stdout()
        .run()
        .context("make olddefconfig failed")?;
    let config = std::fs::read_to_string(tree.join(".config"))?;
    if !config.lines().any(|l| l == "CONFIG_RUST=y") {
        explain_no_rust(sh)?;
    }
    for frag in &frags {
        let text = std::fs::read_to_string(frag)?;
        if let Some(lost) = lost_option(&config, &text) {
            bail!(
                "`{lost}` from {} did not survive olddefconfig (a dependency is missing, or another option selects it); see {}",
                paths.show(frag),
                tree.join(".config").display()
            );
        }
    }
    step.done();
    Ok(())
}

/// Fails with what `make rustavailable` says when the toolchain cannot build the kernel's
/// Rust (rust-src, bindgen or the compilers missing or too old).
fn explain_no_rust(sh: &Shell) -> Result<()> {
    let out = cmd!(sh, "make LLVM=1 rustavailable")
        .ignore_status()
        .quiet()
        .output()?;
    if out.status.success() {
        return Ok(());
    }
    bail!(
        "the kernel cannot build Rust with this toolchain:\n{}{}\nrun `cargo xtask setup`, which installs rust-src and bindgen-cli",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The first line of `fragment` that `config` (the resulting `.config`) does not honour: a
/// `CONFIG_X=v` not there as written, or a `# CONFIG_X is not set` that ended up set.
pub(super) fn lost_option<'a>(config: &str, fragment: &'a str) -> Option<&'a str> {
    fragment.lines().find(|line| {
        if line.starts_with("CONFIG_") {
            return !config.lines().any(|l| l == *line);
        }
        let Some(name) = line
            .strip_prefix("# ")
            .and_then(|l| l.strip_suffix(" is not set"))
        else {
            return false;
        };
        config.lines().any(|l| {
            l.split_once('=')
                .is_some_and(|(n, v)| n == name && v != "n")
        })
    })
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
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    source::unpack_into(sh, paths, spec, &dir.join("linux"), reporter)?;
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

    configure(sh, paths, profile, &tree, reporter)?;

    let log_path = dir.join("build.log");
    let step = Step::start(reporter, StepKind::Kernel, format!(
        "building the {} lab kernel with {jobs} jobs (6-8 min on 2 idle cores, longer while other work runs; log: {})",
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

#[cfg(test)]
mod tests {
    use super::lost_option;

    #[test]
    fn an_option_set_or_unset_by_a_fragment_must_survive() {
        let config = "CONFIG_NET=y\nCONFIG_INET=y\n# CONFIG_IPV6 is not set\nCONFIG_ACPI=y\nCONFIG_LOG_BUF_SHIFT=17\n";
        let kept = "# comment\nCONFIG_NET=y\n# CONFIG_IPV6 is not set\n# CONFIG_PNP is not set\nCONFIG_LOG_BUF_SHIFT=17\n";
        assert_eq!(lost_option(config, kept), None);
        assert_eq!(
            lost_option(config, "CONFIG_NET=y\nCONFIG_KPROBES=y\n"),
            Some("CONFIG_KPROBES=y")
        );
        assert_eq!(
            lost_option(config, "CONFIG_LOG_BUF_SHIFT=14\n"),
            Some("CONFIG_LOG_BUF_SHIFT=14")
        );
        assert_eq!(
            lost_option(config, "# CONFIG_ACPI is not set\n"),
            Some("# CONFIG_ACPI is not set")
        );
    }
}
