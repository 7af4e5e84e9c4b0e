//! `cargo xtask grade` on real submissions in real VMs: full marks for the reference
//! solutions, zero for the skeletons, and the asserted verdicts for faulty submissions
//! (a panic at insmod, a compile error, a printk flood, not an archive, an archive that
//! escapes, a wrong layout) — each graded without hiding the other tasks' results.
//!
//! The faulty submissions are made here from the templates with one deliberate change each,
//! so they follow the templates as those evolve.
//!
//! How a grading run is split into shards, merged and interrupted is vm_grade_runs.rs's.

mod support;

use support::{
    copy_template_task, replace_in, repo, results, task_scores, write, xtask, xtask_env,
};

#[test]
fn grading_scores_solutions_skeletons_and_faulty_submissions() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");

    // The reference solutions, as a student folder.
    copy_template_task(&subs.join("solution"), "intro", "1-2-hello");
    copy_template_task(&subs.join("solution"), "intro", "3-fail");

    // The generated skeletons, as a .tar.gz with a wrapping folder.
    let skels = dir.path().join("skels");
    assert_eq!(
        xtask(&["--skels-dir", skels.to_str().unwrap(), "skels", "intro"]).code,
        0
    );
    let status = std::process::Command::new("tar")
        .args(["czf"])
        .arg(subs.join("skeleton.tar.gz"))
        .args(["-C"])
        .arg(&skels)
        .arg("intro")
        .status()
        .unwrap();
    assert!(status.success());

    // A module that panics at insmod: FAULT for that task, the other task still graded.
    let panics = copy_template_task(&subs.join("panics"), "intro", "1-2-hello");
    replace_in(
        &panics.join("hello.rs"),
        "Ok(Hello)",
        "panic!(\"grading fixture: panic in init\")",
    );
    copy_template_task(&subs.join("panics"), "intro", "3-fail");

    // A compile error in one task, a printk flood in the other.
    let broken = copy_template_task(&subs.join("broken"), "intro", "3-fail");
    replace_in(&broken.join("fail.rs"), "Ok(Fail)", "Ok(Fial)");
    let flood = copy_template_task(&subs.join("broken"), "intro", "1-2-hello");
    replace_in(
        &flood.join("hello.rs"),
        "Ok(Hello)",
        "for i in 0..20000 {\n            pr_info!(\"grading fixture: flood line {i} with some padding to make it long\\n\");\n        }\n        Ok(Hello)",
    );

    // Not an archive; a wrong layout; an empty folder.
    write(
        &subs.join("notes.txt"),
        "my homework is in the other email\n",
    );
    write(&subs.join("wrong-layout/src/hello.rs"), "fn main() {}\n");
    std::fs::create_dir_all(subs.join("empty")).unwrap();

    let out = dir.path().join("out");
    let mut args = vec![
        "grade",
        "--lab",
        "intro",
        "--jobs",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    let names: Vec<String> = std::fs::read_dir(&subs)
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .collect();
    args.extend(names.iter().map(String::as_str));
    // The graders' desks go in the test's own temporary folder, so that a VM left running
    // can be told from another test's.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let started = std::time::Instant::now();
    let run = xtask_env(&args, &[("TMPDIR", tmp.to_str().unwrap())]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(600),
        "grading took too long"
    );

    let full = results(&out, "solution");
    assert_eq!(
        (full["score"].as_f64(), full["max_score"].as_f64()),
        (Some(3.0), Some(3.0)),
        "{full:#}"
    );

    let skeleton = results(&out, "skeleton");
    assert_eq!(skeleton["score"].as_f64(), Some(0.0), "{skeleton:#}");
    for test in skeleton["tests"].as_array().unwrap() {
        assert_eq!(
            test["status"], "failed",
            "every check fails on the skeleton: {test:#}"
        );
    }

    let panicked = results(&out, "panics");
    assert_eq!(
        task_scores(&panicked),
        [
            ("intro/1-2-hello".to_string(), 0.0),
            ("intro/3-fail".to_string(), 1.0)
        ]
    );
    assert!(
        panicked["tests"][0]["output"]
            .as_str()
            .unwrap()
            .contains("FAULT"),
        "{panicked:#}"
    );
    assert!(panicked["tests"][0]["output"]
        .as_str()
        .unwrap()
        .contains("grading fixture: panic in init"));

    let broken = results(&out, "broken");
    let scores = task_scores(&broken);
    assert_eq!(scores[1], ("intro/3-fail".to_string(), 0.0));
    assert!(
        broken["tests"][2]["output"]
            .as_str()
            .unwrap()
            .contains("BUILD FAILED"),
        "{broken:#}"
    );
    assert!(
        broken["tests"][2]["output"]
            .as_str()
            .unwrap()
            .contains("fail.rs:"),
        "the compiler's message names the file"
    );
    // The flood still gets a verdict, and the console log kept for it is capped.
    assert!(
        broken["tests"][0]["output"]
            .as_str()
            .unwrap()
            .contains("intro/1-2-hello:"),
        "{broken:#}"
    );

    for rejected in ["notes.txt", "wrong-layout", "empty"] {
        let v = results(&out, rejected);
        assert_eq!(v["score"].as_f64(), Some(0.0), "{rejected}: {v:#}");
        assert!(
            v["output"]
                .as_str()
                .unwrap()
                .contains("submission rejected"),
            "{rejected}: {v:#}"
        );
    }
    assert!(results(&out, "notes.txt")["output"]
        .as_str()
        .unwrap()
        .contains("neither a folder, a .tar.gz nor a .zip"));
    assert!(results(&out, "wrong-layout")["output"]
        .as_str()
        .unwrap()
        .contains("no task folder of lab `intro`"));

    let csv = std::fs::read_to_string(out.join("scores.csv")).unwrap();
    assert!(
        csv.starts_with("submission,intro/1-2-hello,intro/3-fail,score,max_score,incomplete\n"),
        "{csv}"
    );
    assert!(csv.contains("\nsolution,2,1,3,3,false\n"), "{csv}");
    assert!(out.join("solution/junit.xml").is_file());

    // No QEMU outlives the run.
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let mine = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains("qemu-system") && l.contains(&*tmp.to_string_lossy()))
        .count();
    assert_eq!(mine, 0, "a grading VM outlived the run");
}

#[test]
fn a_kernel_panic_and_an_unremovable_module_cost_only_their_own_task() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("kfaults");
    // A real kernel panic at insmod: the VM dies; the verdict carries the panic.
    let filter = copy_template_task(&sub, "networking-c", "1-2-netfilter");
    replace_in(
        &filter.join("filter.c"),
        "static int __init my_hook_init(void)\n{\n\tint err = 0;\n",
        "static int __init my_hook_init(void)\n{\n\tint err = 0;\n\n\tpanic(\"grading fixture: kernel panic in init\");\n",
    );
    copy_template_task(&sub, "networking-c", "3-4-tcp-sock");
    // A module that pins itself: rmmod fails; reported, and the VM is restarted.
    let udp = copy_template_task(&sub, "networking-c", "5-udp-sock");
    replace_in(
        &udp.join("udp_sock.c"),
        "static int __init my_udp_sock_init(void)\n{\n\tint err = 0;\n",
        "static int __init my_udp_sock_init(void)\n{\n\tint err = 0;\n\n\t__module_get(THIS_MODULE);\n",
    );

    // A module that only prints, from its init, the lines the test script prints when the
    // task is solved: the kernel log then holds every output block of the rubric.
    let forger = dir.path().join("forger");
    let forged = forger.join("networking-c/1-2-netfilter");
    let snapshot = klab::judge::snapshot::Snapshot::read(
        &repo().join("labs/networking-c/snapshots/1-2-netfilter.snap"),
    )
    .unwrap()
    .unwrap();
    let printed = klab::judge::record::Record::of_snapshot(&snapshot).output;
    let printks: String = printed[1..printed.len() - 1]
        .iter()
        .map(|line| {
            let escaped = line
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('%', "%%");
            format!("\tprintk(KERN_INFO \"{escaped}\\n\");\n")
        })
        .collect();
    write(
        &forged.join("filter.c"),
        &format!(
            "#include <linux/module.h>\n#include <linux/printk.h>\n\nMODULE_LICENSE(\"GPL\");\n\n\
             static int __init forge_init(void)\n{{\n{printks}\treturn 0;\n}}\n\n\
             static void __exit forge_exit(void)\n{{\n}}\n\n\
             module_init(forge_init);\nmodule_exit(forge_exit);\n"
        ),
    );

    let out = dir.path().join("out");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let run = xtask_env(
        &[
            "grade",
            "--lab",
            "networking-c",
            "--out",
            out.to_str().unwrap(),
            sub.to_str().unwrap(),
            forger.to_str().unwrap(),
        ],
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    // The forged lines are in the record, in its kernel log: they earn nothing.
    let forged_record = std::fs::read_to_string(out.join("forger/1-2-netfilter.record.txt"))
        .expect("the forger's task ran to the end");
    let forged_record = klab::judge::record::Record::of_snapshot(
        &klab::judge::snapshot::Snapshot::new(&forged_record),
    );
    assert!(
        klab::judge::rubric::block_in(
            &forged_record.dmesg,
            &printed[1..printed.len() - 1].join("\n")
        ),
        "{forged_record:#?}"
    );
    let v = results(&out, "forger");
    assert_eq!(
        task_scores(&v)[0],
        ("networking-c/1-2-netfilter".to_string(), 0.0),
        "printing the script's lines from the kernel scores nothing: {v:#}"
    );
    let v = results(&out, "kfaults");
    let scores = task_scores(&v);
    assert_eq!(
        scores[0],
        ("networking-c/1-2-netfilter".to_string(), 0.0),
        "{v:#}"
    );
    assert_eq!(
        scores[1],
        ("networking-c/3-4-tcp-sock".to_string(), 6.0),
        "the task after the panic is graded: {v:#}"
    );
    let first = v["tests"][0]["output"].as_str().unwrap();
    assert!(
        first.contains("FAULT") && first.contains("kernel panic"),
        "{first}"
    );
    assert!(
        first.contains("grading fixture: kernel panic in init"),
        "{first}"
    );
    let udp_outputs: Vec<&str> = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["name"]
                .as_str()
                .unwrap()
                .starts_with("networking-c/5-udp-sock")
        })
        .map(|t| t["output"].as_str().unwrap())
        .collect();
    assert!(!udp_outputs.is_empty());
    let csv = std::fs::read_to_string(out.join("scores.csv")).unwrap();
    assert!(csv.contains("\nkfaults,0,6,"), "{csv}");
    let grade: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("kfaults/grade.json")).unwrap())
            .unwrap();
    let udp_task = &grade["tasks"][2];
    assert!(
        udp_task["explanation"]
            .as_str()
            .unwrap()
            .contains("could not be unloaded"),
        "the stuck module is reported: {udp_task:#}"
    );
    // The graders' desks (stages, images, VM logs) are removed with the run.
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(
        left.is_empty(),
        "per-submission build files are cleaned up: {left:?}"
    );
}
