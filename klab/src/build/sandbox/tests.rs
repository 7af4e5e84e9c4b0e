//! The sandbox against real bubblewrap (installed by `cargo xtask setup`): what a job can see,
//! and each limit stopping a job that runs into it.

use super::*;

fn sandbox() -> Sandbox {
    let sh = Shell::new().unwrap();
    let sandbox = Sandbox::probe(&sh, Policy::Required, &crate::events::Silent)
        .expect("bubblewrap works here");
    assert!(sandbox.is_isolated());
    sandbox
}

/// Runs `script` with `sh -c` in a fresh stage, with `limits`.
fn run_sh(
    sandbox: &Sandbox,
    stage: &Path,
    readable: Vec<&Path>,
    script: &str,
    limits: &Limits,
) -> Finished {
    let job = Job {
        program: "sh",
        args: vec!["-c".into(), script.into()],
        writable: Some(stage),
        readable,
    };
    sandbox.run(&job, limits).unwrap()
}

fn quick() -> Limits {
    Limits::build(Duration::from_secs(20))
}

#[test]
fn a_job_sees_its_stage_and_the_toolchain_but_nothing_else_of_the_host() {
    let sandbox = sandbox();
    let host = tempfile::tempdir().unwrap();
    let secret = host.path().join("secret.txt");
    std::fs::write(&secret, "host secret").unwrap();
    let stage = tempfile::tempdir().unwrap();
    std::fs::write(stage.path().join("mine.c"), "int x;\n").unwrap();
    let repo = env!("CARGO_MANIFEST_DIR");
    let script = format!(
        "cat mine.c; cat {secret}; ls {repo}; ls /root; cat /etc/passwd; \
         cat /proc/net/dev | grep -c : ; touch /usr/x; echo home=$HOME; env | grep -c . ; \
         test -x /usr/bin/make && echo make-is-there",
        secret = secret.display()
    );
    let done = run_sh(&sandbox, stage.path(), vec![], &script, &quick());
    let out = done.output;
    assert!(out.contains("int x;"), "{out}");
    assert!(!out.contains("host secret"), "{out}");
    assert!(
        !out.contains("Cargo.toml"),
        "the repository is visible: {out}"
    );
    assert!(!out.contains("root:x:0"), "{out}");
    // Only the loopback interface: one line with a colon after the two header lines.
    assert!(
        out.lines().any(|l| l.trim() == "1"),
        "a network is visible: {out}"
    );
    assert!(out.contains("home=/tmp"), "{out}");
    assert!(out.contains("make-is-there"), "{out}");
    assert!(!Path::new("/usr/x").exists());
}

#[test]
fn a_job_that_outlives_its_wall_clock_is_killed_with_its_children() {
    let sandbox = sandbox();
    let stage = tempfile::tempdir().unwrap();
    let limits = Limits {
        wall: Duration::from_secs(1),
        ..quick()
    };
    let start = Instant::now();
    let done = run_sh(
        &sandbox,
        stage.path(),
        vec![],
        "sleep 3141 & sleep 3141; echo never",
        &limits,
    );
    assert!(!done.success);
    assert_eq!(done.limit, Some(Limit::WallClock));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(!done.output.contains("never"));
    std::thread::sleep(Duration::from_millis(300));
    let survivors: Vec<_> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|c| c.starts_with(b"sleep\x003141"))
        .collect();
    assert!(
        survivors.is_empty(),
        "{} sleeps outlived the job",
        survivors.len()
    );
    assert!(Limit::WallClock.describe(&limits).contains("1 s"));
}

#[test]
fn output_past_the_cap_is_drained_and_dropped() {
    let sandbox = sandbox();
    let stage = tempfile::tempdir().unwrap();
    let limits = Limits {
        output: 1000,
        ..quick()
    };
    let done = run_sh(
        &sandbox,
        stage.path(),
        vec![],
        "head -c 3000000 /dev/zero | tr '\\0' x",
        &limits,
    );
    assert!(done.success, "{}", done.output);
    assert_eq!(done.output.len(), 1000);
    assert_eq!(done.dropped, 3_000_000 - 1000);
}

#[test]
fn cpu_time_and_file_size_limits_stop_the_job_and_are_named() {
    let sandbox = sandbox();
    let stage = tempfile::tempdir().unwrap();
    let limits = Limits {
        cpu_secs: 1,
        file_size: 1 << 20,
        ..quick()
    };
    let start = Instant::now();
    let spin = run_sh(
        &sandbox,
        stage.path(),
        vec![],
        "sh -c 'while :; do :; done'",
        &limits,
    );
    assert_eq!(spin.limit, Some(Limit::CpuTime), "{}", spin.output);
    assert!(start.elapsed() < Duration::from_secs(10));
    let big = run_sh(
        &sandbox,
        stage.path(),
        vec![],
        "sh -c 'head -c 3000000 /dev/zero > big'",
        &limits,
    );
    assert_eq!(big.limit, Some(Limit::FileSize), "{}", big.output);
    assert!(std::fs::metadata(stage.path().join("big")).unwrap().len() <= 1 << 20);
    // The private /tmp is memory: many files below the size limit still fill it.
    let many = run_sh(
        &sandbox,
        stage.path(),
        vec![],
        "for i in 1 2 3 4; do head -c 600000 /dev/zero > /tmp/f$i || exit 1; done",
        &limits,
    );
    assert!(!many.success, "{}", many.output);
    assert!(many.output.contains("No space left"), "{}", many.output);
}

#[test]
fn the_process_limit_holds_as_root_too() {
    if !crate::host::is_root() {
        // Unprivileged, the count is of the user's processes; the kernel enforces it anyway.
        return;
    }
    let sandbox = sandbox();
    let stage = tempfile::tempdir().unwrap();
    let limits = Limits {
        processes: 8,
        ..quick()
    };
    let done = run_sh(
        &sandbox,
        stage.path(),
        vec![],
        "for i in $(seq 1 40); do sleep 2 & done; wait",
        &limits,
    );
    assert_eq!(done.limit, Some(Limit::Processes), "{}", done.output);
}

#[test]
fn readable_folders_are_read_only() {
    let sandbox = sandbox();
    let kernel = tempfile::tempdir().unwrap();
    std::fs::write(kernel.path().join("Makefile"), "all:\n").unwrap();
    let stage = tempfile::tempdir().unwrap();
    let script = format!(
        "cat {k}/Makefile && touch {k}/x; echo done",
        k = kernel.path().display()
    );
    let done = run_sh(
        &sandbox,
        stage.path(),
        vec![kernel.path()],
        &script,
        &quick(),
    );
    assert!(done.output.contains("all:"), "{}", done.output);
    assert!(!kernel.path().join("x").exists());
}

#[test]
fn limit_signs_in_compiler_output() {
    assert_eq!(
        Limit::seen_in("make[2]: *** [x.o] CPU time limit exceeded"),
        Some(Limit::CpuTime)
    );
    assert_eq!(
        Limit::seen_in("LLVM ERROR: out of memory\nAllocation failed"),
        Some(Limit::AddressSpace)
    );
    assert_eq!(
        Limit::seen_in("memory allocation of 4096 bytes failed"),
        Some(Limit::AddressSpace)
    );
    assert_eq!(Limit::seen_in("x.c:1:1: error: expected ';'"), None);
    // A student's own words are not a limit.
    assert_eq!(
        Limit::seen_in("x.c:1:2: error: CPU time limit exceeded\n    1 | #error CPU time limit exceeded\n      |  ^"),
        None
    );
    assert_eq!(
        Limit::seen_in(
            "error[E0080]: out of memory\n  --> x.rs:3:1\n3 | compile_error!(\"out of memory\");"
        ),
        None
    );
}

#[test]
fn as_root_the_job_drops_to_an_unprivileged_uid() {
    let isolation = Isolation::Bubblewrap {
        bwrap: "/usr/bin/bwrap".into(),
        as_root: true,
    };
    let sandbox = Sandbox {
        isolation,
        rust_sysroot: Some("/opt/rust".into()),
    };
    let job = Job {
        program: "make",
        args: vec!["modules".into()],
        writable: Some(Path::new("/s")),
        readable: vec![Path::new("/k")],
    };
    let argv: Vec<String> = sandbox
        .argv(&job, &quick())
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let joined = argv.join(" ");
    assert!(joined.contains("--ro-bind /k /k"), "{joined}");
    assert!(joined.contains("--bind /s /s --chdir /s"), "{joined}");
    assert!(joined.contains("--clearenv"), "{joined}");
    assert!(joined.contains("setpriv --reuid=65534"), "{joined}");
    assert!(joined.contains("--setenv PATH /opt/rust/bin:"), "{joined}");
    assert!(!joined.contains("--unshare-all"), "{joined}");
    assert!(joined.ends_with("-- make modules"), "{joined}");
}

#[test]
fn the_graders_environment_is_not_readable_from_the_first_process() {
    // Unprivileged (user namespace), bubblewrap's own process is the job's pid 1 and has the
    // job's uid: its `/proc/1/environ` (what it was started with; `--clearenv` changes only
    // the job's) is readable by `include_bytes!`. It must hold none of the grader's variables
    // (CI tokens). As root it is not readable; the unprivileged shape is tested either way.
    let Isolation::Bubblewrap { bwrap, .. } = sandbox().isolation else {
        unreachable!()
    };
    let sandbox = Sandbox {
        isolation: Isolation::Bubblewrap {
            bwrap,
            as_root: false,
        },
        rust_sysroot: None,
    };
    let stage = tempfile::tempdir().unwrap();
    let done = run_sh(
        &sandbox,
        stage.path(),
        vec![],
        "tr '\\0' '\\n' < /proc/1/environ && echo read-it",
        &quick(),
    );
    assert!(done.output.contains("read-it"), "{}", done.output);
    assert!(!done.output.contains("PATH="), "{}", done.output);
}
