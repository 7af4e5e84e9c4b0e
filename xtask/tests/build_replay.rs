//! A rebuild in which only the student's sources changed replays kbuild's recorded commands
//! instead of running kbuild (build::replay), and the module it makes is the one kbuild
//! makes from the same sources: byte for byte, for a Rust module and for a C module linked
//! from two files.

mod support;

use std::path::{Path, PathBuf};

use support::{copy_template_task, replace_in, repo, xtask};

/// The stage folder `cargo xtask --skels-dir DIR build` uses for `lab/task`.
fn stage_of(skels: &Path, lab: &str, task: &str) -> PathBuf {
    let stages = repo().join("target/klab/stage");
    for entry in std::fs::read_dir(&stages).unwrap() {
        let dir = entry.unwrap().path();
        let source = std::fs::read_to_string(dir.join(".source")).unwrap_or_default();
        if Path::new(&source) == skels {
            return dir.join(lab).join(task);
        }
    }
    panic!("no stage for {}", skels.display());
}

fn build(skels: &Path, sel: &[&str]) {
    let mut args = vec!["--skels-dir", skels.to_str().unwrap(), "build"];
    args.extend(sel);
    let run = xtask(&args);
    assert_eq!(run.code, 0, "{}", run.all());
}

fn replayed(stage: &Path) -> bool {
    stage.join(".klab-replayed").exists()
}

#[test]
fn a_replayed_rebuild_makes_the_module_kbuild_makes() {
    let dir = tempfile::tempdir().unwrap();
    let skels = std::fs::canonicalize(dir.path()).unwrap();
    let rust = copy_template_task(&skels, "intro", "1-2-hello");
    let c = copy_template_task(&skels, "kernel-modules-c", "3-multi");
    let sel = ["intro/1-2-hello", "kernel-modules-c/3-multi"];
    build(&skels, &sel);
    let stages = [
        (stage_of(&skels, "intro", "1-2-hello"), "hello.ko"),
        (
            stage_of(&skels, "kernel-modules-c", "3-multi"),
            "kernel/multi.ko",
        ),
    ];
    for (stage, _) in &stages {
        assert!(!replayed(stage), "the first build is kbuild's");
    }

    // The student edits one file of each task.
    replace_in(
        &rust.join("hello.rs"),
        "Hello from a Rust module!",
        "Hello from a replayed Rust module!",
    );
    replace_in(
        &c.join("kernel/multi_ops.c"),
        "Euclid's algorithm",
        "Euclid's algorithm (edited)",
    );
    let gcd = std::fs::read_to_string(c.join("kernel/multi_ops.c")).unwrap();
    std::fs::write(
        c.join("kernel/multi_ops.c"),
        format!("{gcd}\nint multi_replay_marker(void);\nint multi_replay_marker(void)\n{{\n\treturn 7;\n}}\n"),
    )
    .unwrap();
    build(&skels, &sel);
    let mut made = Vec::new();
    for (stage, ko) in &stages {
        assert!(
            replayed(stage),
            "{}: only a source changed",
            stage.display()
        );
        made.push(std::fs::read(stage.join(ko)).unwrap());
    }
    let hello = String::from_utf8_lossy(&made[0]).into_owned();
    assert!(
        hello.contains("Hello from a replayed Rust module!"),
        "the edit is in"
    );
    assert!(
        String::from_utf8_lossy(&made[1]).contains("multi_replay_marker"),
        "the edited object is linked in"
    );

    // A second edit in a row is replayed too: what a replay leaves in the stage (the
    // compilers' dependency files) is not taken for a new input.
    replace_in(
        &rust.join("hello.rs"),
        "Hello from a replayed Rust module!",
        "Hello from a twice replayed Rust module!",
    );
    build(&skels, &sel[..1]);
    assert!(replayed(&stages[0].0), "the second edit is replayed");
    made[0] = std::fs::read(stages[0].0.join(stages[0].1)).unwrap();
    assert!(String::from_utf8_lossy(&made[0]).contains("Hello from a twice replayed Rust module!"));

    // The same sources through kbuild.
    for (stage, _) in &stages {
        std::fs::remove_file(stage.join(".klab-built")).unwrap();
    }
    build(&skels, &sel);
    for ((stage, ko), replayed_ko) in stages.iter().zip(&made) {
        assert!(!replayed(stage), "forgetting the record means kbuild");
        let kbuild_ko = std::fs::read(stage.join(ko)).unwrap();
        assert!(
            &kbuild_ko == replayed_ko,
            "{ko}: the replayed module is kbuild's, byte for byte"
        );
    }

    // A replayed step that fails is kbuild's again, and kbuild's message names the file.
    replace_in(&rust.join("hello.rs"), "Ok(Hello)", "Ok(Helo)");
    let run = xtask(&["--skels-dir", skels.to_str().unwrap(), "build", sel[0]]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(!replayed(&stages[0].0));
    assert!(
        run.all()
            .contains(&format!("{}/intro/1-2-hello/hello.rs:", skels.display())),
        "{}",
        run.all()
    );
}
