use std::path::{Path, PathBuf};

use super::*;

const KDIR: &str = "/k";

fn rec(text: &str) -> Recorded {
    parse_cmd(text, Path::new(KDIR)).expect("a .cmd file")
}

fn object(target: &str, src: &str, deps: &[&str]) -> Recorded {
    let mut text = format!(
        "savedcmd_{target} := clang -c -o {target} {src} ; ./tools/objtool/objtool --module {target}\n\nsource_{target} := {src}\n\ndeps_{target} := \\\n"
    );
    for d in deps {
        text.push_str(&format!("  {d} \\\n"));
    }
    text.push_str(&format!(
        "\n{target}: $(deps_{target})\n\n$(deps_{target}):\n"
    ));
    rec(&text)
}

fn module_tail(stage: &str, name: &str) -> Vec<Recorded> {
    vec![
        rec(&format!("savedcmd_{stage}/Module.symvers :=  scripts/mod/modpost -M -o {stage}/Module.symvers -T {stage}/modules.order\n")),
        rec(&format!("savedcmd_{stage}/{name}.mod.o := clang -c -o {stage}/{name}.mod.o {stage}/{name}.mod.c\n")),
        rec(&format!("savedcmd_{stage}/{name}.ko := ld.lld -r -o {stage}/{name}.ko {stage}/{name}.o {stage}/{name}.mod.o\n")),
    ]
}

#[test]
fn a_cmd_file_gives_its_target_command_and_dependencies() {
    let r = object(
        "/s/p.o",
        "/s/p.c",
        &[
            "include/linux/module.h",
            "/s/p.h",
            "$(wildcard include/config/X)",
        ],
    );
    assert_eq!(r.target, PathBuf::from("/s/p.o"));
    assert!(r.command.starts_with("clang -c -o /s/p.o /s/p.c ;"));
    assert_eq!(
        r.deps,
        vec![
            PathBuf::from("/s/p.c"),
            PathBuf::from("/k/include/linux/module.h"),
            PathBuf::from("/s/p.h"),
        ]
    );
    // make's `$$` is the shell's `$`.
    let m = rec("savedcmd_/s/x.mod := printf '%s\\n' x.o | awk '!x[$$0]++ { print(\"/s/\"$$0) }' > /s/x.mod\n");
    assert!(m.command.contains("!x[$0]++"), "{}", m.command);
}

#[test]
fn only_the_changed_objects_then_modpost_and_every_link_are_replayed() {
    let mut all = vec![
        object("/s/a.o", "/s/a.c", &["/s/common.h"]),
        object("/s/b.o", "/s/b.c", &["/s/common.h"]),
        object("/s/c.o", "/s/c.c", &[]),
    ];
    all.extend(module_tail("/s", "a"));
    let steps = commands(&all, &[PathBuf::from("/s/b.c")]).unwrap();
    assert_eq!(steps.compile.len(), 1);
    assert!(steps.compile[0].contains("-o /s/b.o"));
    assert!(steps.modpost.contains("modpost"));
    assert_eq!(steps.mod_objects[0].0, PathBuf::from("/s/a.mod.c"));
    assert_eq!(steps.link.len(), 1);
    // A header: every object that includes it.
    let steps = commands(&all, &[PathBuf::from("/s/common.h")]).unwrap();
    assert_eq!(steps.compile.len(), 2);
}

#[test]
fn a_composite_module_relinks_its_object_after_its_parts() {
    let mut all = vec![
        object("/s/kernel/m_main.o", "/s/kernel/m_main.c", &[]),
        object("/s/kernel/m_ops.o", "/s/kernel/m_ops.c", &[]),
        rec("savedcmd_/s/kernel/m.o := ld.lld -r -o /s/kernel/m.o /s/kernel/m_main.o /s/kernel/m_ops.o\n"),
    ];
    all.extend(module_tail("/s", "kernel/m"));
    let steps = commands(&all, &[PathBuf::from("/s/kernel/m_ops.c")]).unwrap();
    assert_eq!(steps.compile.len(), 2, "{:?}", steps.compile);
    assert!(steps.compile[0].contains("-o /s/kernel/m_ops.o"));
    assert!(steps.compile[1].starts_with("ld.lld -r -o /s/kernel/m.o"));
}

#[test]
fn what_no_object_depends_on_or_a_missing_step_means_kbuild() {
    let mut all = vec![object("/s/a.o", "/s/a.c", &[])];
    assert!(
        commands(&all, &[PathBuf::from("/s/a.c")]).is_none(),
        "no modpost, no link"
    );
    all.extend(module_tail("/s", "a"));
    assert!(commands(&all, &[PathBuf::from("/s/unused.h")]).is_none());
    assert!(commands(&all, &[PathBuf::from("/s/a.c")]).is_some());
}

#[test]
fn the_plan_replays_only_when_sources_alone_changed() {
    let inputs = |kernel: &str, files: &[(&str, u64)]| Inputs {
        kernel: kernel.into(),
        files: files.iter().map(|(p, h)| (PathBuf::from(p), *h)).collect(),
    };
    let before = inputs("k1", &[("/s/Kbuild", 1), ("/s/a.c", 2), ("/s/a.h", 3)]);
    assert_eq!(before.plan(&before.clone()), Plan::UpToDate);
    assert_eq!(
        before.plan(&inputs(
            "k1",
            &[("/s/Kbuild", 1), ("/s/a.c", 9), ("/s/a.h", 3)]
        )),
        Plan::Replay(vec![PathBuf::from("/s/a.c")])
    );
    for after in [
        inputs("k2", &[("/s/Kbuild", 1), ("/s/a.c", 2), ("/s/a.h", 3)]),
        inputs("k1", &[("/s/Kbuild", 7), ("/s/a.c", 2), ("/s/a.h", 3)]),
        inputs("k1", &[("/s/Kbuild", 1), ("/s/a.c", 2)]),
        inputs(
            "k1",
            &[
                ("/s/Kbuild", 1),
                ("/s/a.c", 2),
                ("/s/a.h", 3),
                ("/s/b.c", 4),
            ],
        ),
    ] {
        assert_eq!(before.plan(&after), Plan::Full, "{after:?}");
    }
}

#[test]
fn the_record_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Kbuild"), "obj-m += a.o\n").unwrap();
    std::fs::write(dir.path().join("a.c"), "int x;\n").unwrap();
    std::fs::write(dir.path().join("a.mod.c"), "generated\n").unwrap();
    let now = Inputs::read(dir.path(), Path::new("/nonexistent-kernel")).unwrap();
    assert_eq!(now.files.len(), 2, "{now:?}");
    now.save(dir.path()).unwrap();
    assert_eq!(Inputs::load(dir.path()), Some(now));
}

#[test]
fn a_composite_linked_from_its_mod_file_list_is_relinked() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().display().to_string();
    std::fs::write(
        dir.path().join("m.mod"),
        format!("{s}/m_main.o\n{s}/m_ops.o\n"),
    )
    .unwrap();
    let mut all = vec![
        object(&format!("{s}/m_main.o"), &format!("{s}/m_main.c"), &[]),
        object(&format!("{s}/m_ops.o"), &format!("{s}/m_ops.c"), &[]),
        rec(&format!(
            "savedcmd_{s}/m.o := ld.lld -r -o {s}/m.o @{s}/m.mod ; objtool --module {s}/m.o\n"
        )),
    ];
    all.extend(module_tail(&s, "m"));
    let steps = commands(&all, &[PathBuf::from(format!("{s}/m_main.c"))]).unwrap();
    assert_eq!(steps.compile.len(), 2, "{:?}", steps.compile);
    assert!(steps.compile[1].starts_with("ld.lld -r"));
}

#[test]
fn every_file_but_what_kbuild_and_klab_write_is_an_input() {
    for input in [
        "hello.rs",
        "a.c",
        "a.h",
        "Kbuild",
        "entry.S",
        "table.bin",
        ".secret.h",
    ] {
        assert!(is_input(Path::new(input)), "{input}");
    }
    for output in [
        "hello.o",
        "hello.ko",
        "hello.mod",
        "hello.mod.c",
        ".hello.o.cmd",
        ".hello.o.d",
        "modules.order",
        "Module.symvers",
        "test.klab-program",
        ".klab-built",
    ] {
        assert!(!is_input(Path::new(output)), "{output}");
    }
}

#[test]
fn cleaning_a_stage_keeps_only_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let stage = dir.path();
    for file in [
        "hello.rs",
        "Kbuild",
        "hello.o",
        "hello.mod.o",
        "hello.mod.c",
        ".hello.o.cmd",
    ] {
        std::fs::write(stage.join(file), "x").unwrap();
    }
    clean_outputs(stage).unwrap();
    let mut left: Vec<String> = std::fs::read_dir(stage)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["Kbuild", "hello.rs"]);
}

#[test]
fn a_record_of_an_earlier_format_is_no_record() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(RECORD),
        "kernel /k Some((1, None))\n00000000000000aa /s/hello.rs\n",
    )
    .unwrap();
    assert!(Inputs::load(dir.path()).is_none());
    let now = Inputs::read(dir.path(), Path::new("/nonexistent-kernel")).unwrap();
    now.save(dir.path()).unwrap();
    assert_eq!(Inputs::load(dir.path()), Some(now));
}
