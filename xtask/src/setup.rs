//! `cargo xtask setup`: install or verify every tool the workflow needs.
//!
//! Idempotent and quick when all is there, so every command calls it first. On Debian as
//! root it installs what is missing; elsewhere it says exactly what is missing. The editor
//! tools (clangd, rust-analyzer) are `setup`'s alone: nothing else needs them, and a grading
//! machine need not have them.

use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use xshell::{cmd, Shell};

use klab::events::{Reporter, Step, StepKind};
use klab::guest::rootfs;
use klab::host::{find_program, is_root, run_on_stderr, MUSL_TARGET};
use klab::kernel::{self, profile::Profile};
use klab::run::Workspace;
use klab::vm::accel;

/// Debian packages and a file each one provides (to check non-Debian hosts too).
const PACKAGES: &[(&str, &str)] = &[
    ("qemu-system-x86", "qemu-system-x86_64"),
    ("busybox-static", "/bin/busybox"),
    ("clang", "clang"),
    ("lld", "ld.lld"),
    ("llvm", "llvm-ar"),
    ("libclang-dev", "/usr/lib/llvm-14/lib/libclang.so"),
    ("flex", "flex"),
    ("bison", "bison"),
    ("bc", "bc"),
    ("make", "make"),
    ("gcc", "gcc"),
    // readelf and addr2line: kernel reports name the student's file:line (the debug profile)
    ("binutils", "addr2line"),
    ("libc6-dev", "/usr/include/stdio.h"),
    ("libelf-dev", "/usr/include/libelf.h"),
    ("libssl-dev", "/usr/include/openssl/ssl.h"),
    ("xz-utils", "xz"),
    ("lz4", "lz4"),
    ("patch", "patch"),
    ("musl-tools", "musl-gcc"),
    ("cpio", "cpio"),
    ("python3", "python3"),
    // the sandbox of every host step over student input (builds, binutils on a .ko)
    ("bubblewrap", "bwrap"),
    ("util-linux", "prlimit"),
];

/// The language servers the editor files of `cargo xtask skels`/`ide` are for (and that the
/// test suite runs over the reference solutions): clangd here, rust-analyzer from rustup.
const EDITOR_PACKAGES: &[(&str, &str)] = &[("clangd", "clangd")];

fn on_path(bin: &str) -> bool {
    find_program(Path::new(bin)).is_some()
}

/// Packages of `wanted` dpkg does not list as installed.
fn missing_debian_packages(
    sh: &Shell,
    wanted: &[(&'static str, &str)],
) -> Result<Vec<&'static str>> {
    let names: Vec<&'static str> = wanted.iter().map(|(p, _)| *p).collect();
    let queried = names.clone();
    let format = "-f=${Package}\\t${Status}\\n";
    let listing = cmd!(sh, "dpkg-query -W {format} {queried...}")
        .ignore_status()
        .quiet()
        .ignore_stderr()
        .read()?;
    Ok(names
        .into_iter()
        .filter(|name| {
            !listing
                .lines()
                .any(|l| l.split('\t').next() == Some(name) && l.ends_with("install ok installed"))
        })
        .collect())
}

/// Installs (Debian, as root) or names what is missing of `wanted`.
pub fn ensure_packages(
    sh: &Shell,
    reporter: &dyn Reporter,
    wanted: &[(&'static str, &str)],
) -> Result<()> {
    let missing = packages_to_install(sh, wanted)?;
    install_packages(sh, reporter, &missing)
}

/// The Debian packages of `wanted` to install; an error naming what is missing when they
/// cannot be installed here (not Debian, or not root). Quick: it installs nothing.
fn packages_to_install(sh: &Shell, wanted: &[(&'static str, &str)]) -> Result<Vec<&'static str>> {
    let debian = Path::new("/etc/debian_version").exists() && on_path("dpkg-query");
    if !debian {
        let missing: Vec<String> = wanted
            .iter()
            .filter(|(_, probe)| !on_path(probe))
            .map(|(pkg, probe)| format!("{probe} (Debian package {pkg})"))
            .collect();
        if missing.is_empty() {
            return Ok(vec![]);
        }
        bail!(
            "this is not a Debian host, and these tools are missing:\n  {}\ninstall them with your package manager, then run the command again",
            missing.join("\n  ")
        );
    }
    let missing = missing_debian_packages(sh, wanted)?;
    if !missing.is_empty() && !is_root() {
        bail!(
            "missing Debian packages: {m}\nrun: sudo apt-get update && sudo apt-get install -y {m}",
            m = missing.join(" ")
        );
    }
    Ok(missing)
}

/// `apt-get install`s `missing` (none: nothing to do).
fn install_packages(sh: &Shell, reporter: &dyn Reporter, missing: &[&str]) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    let step = Step::start(
        reporter,
        StepKind::Tools,
        format!("installing Debian packages: {}", missing.join(" ")),
    );
    let _env = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
    run_on_stderr(cmd!(sh, "apt-get update -q"))
        .context("apt-get update failed: check the network and apt sources")?;
    run_on_stderr(cmd!(
        sh,
        "apt-get install -y -q --no-install-recommends {missing...}"
    ))
    .context("apt-get install failed (see its output above)")?;
    step.done();
    Ok(())
}

pub fn ensure_rust_pieces(
    sh: &Shell,
    reporter: &dyn Reporter,
    bindgen_version: &str,
) -> Result<()> {
    if !on_path("rustup") {
        bail!("rustup is not on PATH: klab needs rustup to add the rust-src component and the musl target");
    }
    let components = cmd!(sh, "rustup component list --installed")
        .quiet()
        .read()?;
    if !components.lines().any(|l| l.starts_with("rust-src")) {
        let step = Step::start(
            reporter,
            StepKind::Tools,
            "adding the rust-src component (the kernel builds `core` from it)",
        );
        run_on_stderr(cmd!(sh, "rustup component add rust-src"))
            .context("rustup component add rust-src failed")?;
        step.done();
    }
    let targets = cmd!(sh, "rustup target list --installed").quiet().read()?;
    if !targets.lines().any(|l| l.trim() == MUSL_TARGET) {
        let step = Step::start(
            reporter,
            StepKind::Tools,
            format!("adding the {MUSL_TARGET} target (static guest tools)"),
        );
        run_on_stderr(cmd!(sh, "rustup target add {MUSL_TARGET}"))
            .context("rustup target add failed")?;
        step.done();
    }
    let have = cmd!(sh, "bindgen --version")
        .quiet()
        .ignore_status()
        .ignore_stderr()
        .read()
        .unwrap_or_default();
    if !have.split_whitespace().any(|w| w == bindgen_version) {
        let step = Step::start(
            reporter,
            StepKind::Tools,
            format!("installing bindgen-cli {bindgen_version} (about 30 s; the kernel's Rust bindings need it)"),
        );
        // Unoptimised: it compiles in a quarter of the time (26 s against 106 s on 2 cores)
        // and writes the same bindings, ~6 s slower, once per kernel build (BENCHMARKS.md,
        // "Fresh machine to the first verdict"). Release otherwise: no debug assertions.
        run_on_stderr(
            cmd!(
                sh,
                "cargo install --locked bindgen-cli --version {bindgen_version}"
            )
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
        )
        .context("cargo install bindgen-cli failed (see above)")?;
        step.done();
    }
    Ok(())
}

/// Everything but the kernel. The Debian packages and the Rust pieces are installed at once:
/// `cargo install bindgen-cli` needs none of the packages (bindgen-cli loads libclang at run
/// time, and cargo links with the `cc` that linked xtask), and on a fresh machine it is the
/// longer of the two. When the command is about to build its first kernel of
/// `kernel_wanted`'s profile, the kernel's source is downloaded and unpacked meanwhile too
/// ([`kernel::source::prefetch`], once the packages are in: `xz` may be one).
pub fn ensure_tools(ws: &Workspace, kernel_wanted: Option<Profile>) -> Result<()> {
    let reporter = ws.reporter();
    // Checked first: a host that cannot install them says so before anything is built.
    let missing = packages_to_install(&ws.sh, PACKAGES)?;
    let (cwd, bindgen) = (ws.sh.current_dir(), ws.spec.bindgen.as_str());
    let prefetch = kernel_wanted.filter(|&profile| {
        ws.builds_its_kernel() && kernel::source::worth_prefetching(&ws.paths, &ws.spec, profile)
    });
    let (apt_done, wait_for_apt) = std::sync::mpsc::channel::<bool>();
    std::thread::scope(|scope| {
        let rust = scope.spawn(move || {
            let sh = Shell::new()?;
            sh.change_dir(cwd);
            ensure_rust_pieces(&sh, reporter, bindgen)
        });
        let source = prefetch.map(|_| {
            let (paths, spec) = (&ws.paths, &ws.spec);
            scope.spawn(move || {
                let apt_done = move || wait_for_apt.recv().unwrap_or(false);
                kernel::source::prefetch(&Shell::new()?, paths, spec, apt_done, reporter)
            })
        });
        let packages = install_packages(&ws.sh, reporter, &missing);
        let _ = apt_done.send(packages.is_ok());
        let rust = rust
            .join()
            .unwrap_or_else(|_| Err(anyhow!("installing the Rust pieces panicked")));
        if let Some(source) = source {
            // Not fatal: the build downloads and unpacks again, and says what failed.
            match source.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => reporter.warning(format!(
                    "getting the kernel source ahead of the build failed (the build tries again): {e:#}"
                )),
                Err(_) => reporter.warning("getting the kernel source ahead of the build panicked".into()),
            }
        }
        match (packages, rust) {
            (Err(apt), Err(rust)) => {
                reporter.warning(format!("{rust:#}"));
                Err(apt)
            }
            (packages, rust) => packages.and(rust),
        }
    })
}

/// Builds the lab kernel of `profile` when it is not cached yet, with klab's guest tools (a
/// release build for musl, which the command's first VM needs) built beside it: the kernel
/// build leaves a core idle in its serial stretches (configuring, the Rust crates one after
/// another, linking). Nothing to do when the kernel is cached or given (`--kernel-tree`).
pub fn kernel_beside_guest_tools(ws: &Workspace, profile: Profile) -> Result<()> {
    let built = if profile == ws.profile {
        ws.kernel_if_built()?
    } else {
        kernel::cached(&ws.sh, &ws.paths, &ws.spec, profile)?
    };
    if built.is_some() {
        return Ok(());
    }
    let (paths, reporter) = (&ws.paths, ws.reporter());
    reporter
        .note("building the guest tools (guest-tools/, release, musl) beside the kernel".into());
    std::thread::scope(|scope| {
        let tools = scope.spawn(move || {
            let started = Instant::now();
            rootfs::guest_tools(&Shell::new()?, paths)?;
            Ok::<_, anyhow::Error>(started.elapsed())
        });
        let kernel = ws.kernel_of(profile);
        let tools = tools
            .join()
            .unwrap_or_else(|_| Err(anyhow!("building the guest tools panicked")));
        kernel?;
        reporter.note(format!(
            "guest tools built beside the kernel in {:.1} s",
            tools?.as_secs_f64()
        ));
        Ok(())
    })
}

/// clangd and rust-analyzer (`cargo xtask setup` and `test` only).
pub fn ensure_editor_tools(ws: &Workspace) -> Result<()> {
    let sh = &ws.sh;
    ensure_packages(sh, ws.reporter(), EDITOR_PACKAGES)?;
    let components = cmd!(sh, "rustup component list --installed")
        .quiet()
        .read()?;
    if !components.lines().any(|l| l.starts_with("rust-analyzer")) {
        let step = Step::start(
            ws.reporter(),
            StepKind::Tools,
            "adding the rust-analyzer component (editor support for the Rust labs)",
        );
        run_on_stderr(cmd!(sh, "rustup component add rust-analyzer"))
            .context("rustup component add rust-analyzer failed")?;
        step.done();
    }
    Ok(())
}

/// `cargo xtask setup`: the tools (checked already), the editor tools, the lab kernel.
pub fn run(ws: &Workspace) -> Result<()> {
    let step = Step::start(
        ws.reporter(),
        StepKind::Tools,
        "checking tools and the lab kernel",
    );
    ensure_editor_tools(ws)?;
    let kernel = ws.kernel()?;
    accel::reprobe(&ws.paths, &kernel, ws.reporter());
    step.done();
    ws.reporter()
        .output_line(format!("ready: lab kernel at {}", kernel.dir.display()));
    Ok(())
}

/// `cargo xtask test`: provision what the suite needs, once and with progress, then run it.
pub fn test(ws: &Workspace) -> Result<bool> {
    // The suite boots both profiles (vm_debug.rs runs the debug one): build both kernels
    // here, once and with progress, rather than inside a test.
    for profile in Profile::ALL {
        ws.kernel_of(profile)?;
    }
    // The suite runs rust-analyzer and clangd over the reference solutions.
    ensure_editor_tools(ws)?;
    let kernel = ws.kernel()?;
    // Probe KVM once here, not in each of the suite's parallel VM tests.
    accel::resolve(&ws.paths, &kernel, ws.reporter());
    // The suite opens grade's report.html in a real browser (headless).
    ensure_packages(&ws.sh, ws.reporter(), &[("chromium", "chromium")])?;
    // The suite reads its JUnit report with a real JUnit consumer.
    if cmd!(ws.sh, "python3 -c 'import junitparser'")
        .quiet()
        .ignore_stderr()
        .run()
        .is_err()
    {
        let step = Step::start(
            ws.reporter(),
            StepKind::Tools,
            "installing junitparser (the suite's JUnit consumer) with pip",
        );
        run_on_stderr(cmd!(ws.sh, "python3 -m pip install --quiet junitparser"))
            .context("pip install junitparser failed")?;
        step.done();
    }
    let _dir = ws.sh.push_dir(&ws.paths.root);
    // Formatting is part of the suite: unformatted code fails it (the tests still run), with
    // a warning naming the command that mends it.
    let formatted = cmd!(ws.sh, "cargo fmt --all -- --check").run().is_ok();
    if !formatted {
        ws.reporter()
            .warning("the code is not formatted as rustfmt would: run `cargo fmt --all`".into());
    }
    let tested = cmd!(ws.sh, "cargo test --workspace").run().is_ok();
    Ok(formatted && tested)
}
