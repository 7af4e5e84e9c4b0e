//! Hostile submissions graded by `cargo xtask grade` in real VMs, each with its asserted
//! outcome: the reference solution pulled in by relative and absolute path, host files pulled
//! in by `#include`, `.incbin` and `include_str!`, builds that run past their time limit or
//! eat memory, a crafted oops frame and a 10 MB line from the guest. Each scores 0 on its
//! task while the other tasks of the submission are graded as usual; nothing of the host
//! reaches the results; no QEMU outlives the grade.
//!
//! Every hostile task is the template with one deliberate change, so the fixtures follow the
//! templates as those evolve.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{copy_template_task, repo, results, task_scores, xtask_env};

const LAB: &str = "networking-c";
const TASKS: [&str; 3] = ["1-2-netfilter", "3-4-tcp-sock", "5-udp-sock"];

/// A student folder with the reference solution of every task.
fn solution(subs: &Path, name: &str) -> PathBuf {
    for task in TASKS {
        copy_template_task(&subs.join(name), LAB, task);
    }
    subs.join(name).join(LAB)
}

fn edit(path: &Path, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    let new = f(text.clone());
    assert_ne!(
        text,
        new,
        "the fixture edit of {} changed nothing",
        path.display()
    );
    std::fs::write(path, new).unwrap();
}

/// Inserts `code` at the start of the module's init function (C).
fn in_init(path: &Path, init: &str, code: &str) {
    edit(path, |text| {
        let head = format!("static int __init {init}(void)\n{{\n");
        assert!(text.contains(&head), "{} has no {init}", path.display());
        text.replacen(&head, &format!("{head}{code}\n"), 1)
    });
}

/// Every file under `dir`, as text.
fn all_text(dir: &Path) -> String {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned())
        .collect()
}

/// QEMU processes whose command line names a grading folder that no longer exists.
fn orphaned_qemus() -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !args.first().is_some_and(|a| a.contains("qemu-system")) {
            continue;
        }
        for arg in &args {
            for part in arg.split([',', '=']) {
                if part.contains("/klab-grade-") && !Path::new(part).exists() {
                    found.push(args.join(" "));
                }
            }
        }
    }
    found
}

#[test]
fn hostile_submissions_score_nothing_and_spoil_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    // A host file no build may read: its token must not reach any result.
    let token = format!("klab-host-secret-{}", std::process::id());
    let secret = dir.path().join("host").join("secret.txt");
    std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
    std::fs::write(&secret, format!("\"{token}\"\n")).unwrap();
    let secret = secret.display().to_string();
    let templates = repo().join("templates").join(LAB);

    // 1. The reference solution by relative path, at whatever depth the stage might be.
    let relative = solution(&subs, "include-relative");
    let mut text = String::from("/* all mine */\n");
    for depth in 1..=12 {
        let up = "../".repeat(depth);
        let target = format!("{up}templates/{LAB}/1-2-netfilter/filter.c");
        let word = if depth == 1 { "#if" } else { "#elif" };
        text.push_str(&format!(
            "{word} __has_include(\"{target}\")\n#include \"{target}\"\n"
        ));
    }
    text.push_str("#endif\n");
    std::fs::write(relative.join("1-2-netfilter/filter.c"), text).unwrap();

    // 2. The reference solution by absolute path.
    let absolute = solution(&subs, "include-absolute");
    std::fs::write(
        absolute.join("3-4-tcp-sock/tcp_sock.c"),
        format!(
            "#include \"{}\"\n",
            templates.join("3-4-tcp-sock/tcp_sock.c").display()
        ),
    )
    .unwrap();

    // 3. Host files pulled in: `#include` (5) and `.incbin` (1-2).
    let pulled = solution(&subs, "host-files");
    edit(&pulled.join("5-udp-sock/udp_sock.c"), |t| {
        format!("static const char *stolen = \n#include \"{secret}\"\n;\n{t}")
    });
    in_init(
        &pulled.join("5-udp-sock/udp_sock.c"),
        "my_udp_sock_init",
        "\tpr_info(\"%s\\n\", stolen);",
    );
    edit(&pulled.join("1-2-netfilter/filter.c"), |t| {
        format!(
            "{t}\nasm(\".pushsection .rodata\\n.global stolen_bytes\\nstolen_bytes:\\n.incbin \\\"{secret}\\\"\\n.byte 0\\n.popsection\");\n"
        )
    });
    in_init(
        &pulled.join("1-2-netfilter/filter.c"),
        "my_hook_init",
        "\t{ extern const char stolen_bytes[]; pr_info(\"%s\\n\", stolen_bytes); }",
    );

    // 4. A build that never ends (2^40 inclusions of itself in constant memory) and one that
    //    eats memory (a 2^30-element initializer).
    let bombs = solution(&subs, "build-bombs");
    edit(&bombs.join("3-4-tcp-sock/tcp_sock.c"), |t| {
        format!("#if __INCLUDE_LEVEL__ < 40\n#include \"tcp_sock.c\"\n#include \"tcp_sock.c\"\n#else\n{t}\n#endif\n")
    });
    edit(&bombs.join("5-udp-sock/udp_sock.c"), |t| {
        let mut bomb = String::from("#define B0 1,\n");
        for i in 1..=30 {
            bomb.push_str(&format!("#define B{i} B{} B{}\n", i - 1, i - 1));
        }
        format!("{bomb}static int bomb[] = {{ B30 }};\n{t}")
    });

    // 5. The guest turned against the grader: a crafted oops frame (1-2), a 10 MB line with
    //    no newline on both serial ports (5).
    let guest = solution(&subs, "guest-attacks");
    in_init(
        &guest.join("1-2-netfilter/filter.c"),
        "my_hook_init",
        "\tpr_emerg(\"BUG: unable to handle page fault for address: 0000000000000000\\n\");\n\
         \tpr_emerg(\"Call Trace:\\n\");\n\
         \tpr_emerg(\" my_hook_init+0xffffffffffffffff/0x1 [filter]\\n\");\n\
         \tpr_emerg(\" my_hook_init+0xfffffffffffffff0/0xffffffffffffffff [filter]\\n\");\n\
         \tpr_emerg(\" 0xffffffffffffffffffff+0x99999999999999999999/0x1 [filter]\\n\");",
    );
    edit(&guest.join("5-udp-sock/udp_sock.c"), |t| {
        t.replacen(
            "#include <linux/init.h>\n",
            "#include <linux/init.h>\n#include <linux/io.h>\n",
            1,
        )
    });
    in_init(
        &guest.join("5-udp-sock/udp_sock.c"),
        "my_udp_sock_init",
        // Instead of the task's work: the noise alone must earn nothing and break nothing.
        "\t{ unsigned long i; for (i = 0; i < (10UL << 20); i++) { outb('A', 0x3f8); outb('A', 0x2f8); } return 0; }",
    );

    let out = dir.path().join("out");
    let mut args = vec![
        "grade",
        "--lab",
        LAB,
        "--jobs",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    let names = [
        "include-relative",
        "include-absolute",
        "host-files",
        "build-bombs",
        "guest-attacks",
    ];
    let paths: Vec<String> = names
        .iter()
        .map(|n| subs.join(n).display().to_string())
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let start = Instant::now();
    let run = xtask_env(&args, &[("KLAB_BUILD_TIMEOUT_SECS", "60")]);
    let took = start.elapsed();
    eprintln!("{}", run.all());
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(took < Duration::from_secs(600), "the grade took {took:?}");

    let labs = klab::lab::manifest::discover(&repo().join("labs")).unwrap();
    let lab = labs.iter().find(|l| l.name == LAB).unwrap();
    let full = |task: &str| klab::judge::rubric::max_points(lab.task(task).unwrap());
    // (submission, the hostile tasks, the status each must have)
    let expected: [(&str, &[(&str, &str)]); 5] = [
        ("include-relative", &[("1-2-netfilter", "")]),
        ("include-absolute", &[("3-4-tcp-sock", "BUILD FAILED")]),
        (
            "host-files",
            &[
                ("1-2-netfilter", "BUILD FAILED"),
                ("5-udp-sock", "BUILD FAILED"),
            ],
        ),
        (
            "build-bombs",
            &[
                ("3-4-tcp-sock", "time limit"),
                ("5-udp-sock", "memory limit"),
            ],
        ),
        (
            "guest-attacks",
            &[("1-2-netfilter", "FAULT"), ("5-udp-sock", "")],
        ),
    ];
    for (name, hostile) in expected {
        let v = results(&out, name);
        let scores = task_scores(&v);
        let text = serde_json::to_string(&v).unwrap();
        for task in TASKS {
            let id = format!("{LAB}/{task}");
            let score = scores
                .iter()
                .find(|(t, _)| *t == id)
                .map(|(_, s)| *s)
                .unwrap_or_else(|| panic!("{name}: no score for {id}: {text}"));
            match hostile.iter().find(|(t, _)| *t == task) {
                Some((_, status)) => {
                    assert_eq!(score, 0.0, "{name}: {id} earned points: {text}");
                    assert!(
                        text.contains(status),
                        "{name}: {id} should say `{status}`: {text}"
                    );
                }
                None => assert_eq!(score, full(task), "{name}: {id} lost points: {text}"),
            }
        }
    }
    let everything = all_text(&out);
    assert!(
        !everything.contains(&token),
        "a host file reached the results"
    );
    assert!(
        everything.contains("build hit its time limit (60 s"),
        "{everything:.2000}"
    );
    assert!(orphaned_qemus().is_empty(), "{:?}", orphaned_qemus());
}
