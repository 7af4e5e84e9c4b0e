//! Tests of `lab.toml` loading: defaults, every field's errors naming the file and field.

use super::*;
use crate::judge::rubric::Visibility;

fn lab_from(toml_text: &str) -> Result<Lab> {
    let dir = tempfile::tempdir()?;
    let lab_dir = dir.path().join("demo");
    std::fs::create_dir(&lab_dir)?;
    std::fs::write(lab_dir.join("lab.toml"), toml_text)?;
    Lab::load(&lab_dir)
}

#[test]
fn a_minimal_manifest_loads_with_defaults() {
    let lab = lab_from(
        "title = 'Demo'\nlanguage = 'rust'\n[[tasks]]\nname = '1-hello'\nmodules = ['hello']\n",
    )
    .unwrap();
    assert_eq!(lab.name, "demo");
    let task = lab.task("1-hello").unwrap();
    assert_eq!(task.timeout_secs, DEFAULT_TASK_TIMEOUT_SECS);
    assert!(lab
        .snapshot_path(task)
        .ends_with("demo/snapshots/1-hello.snap"));
}

#[test]
fn unknown_fields_are_errors_naming_the_file() {
    let err = lab_from("title = 'Demo'\nlanguage = 'c'\n[[tasks]]\nname = 'a'\nmodulez = []\n")
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("lab.toml") && text.contains("modulez"),
        "{text}"
    );
}

#[test]
fn duplicate_tasks_and_bad_names_are_rejected() {
    let dup = "title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = 'a'\n[[tasks]]\nname = 'a'\n";
    assert!(format!("{:#}", lab_from(dup).unwrap_err()).contains("listed twice"));
    let bad = "title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = '../x'\n";
    assert!(format!("{:#}", lab_from(bad).unwrap_err()).contains("plain folder name"));
    let prog = "title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = 'a'\nprograms = ['../evil.c']\n";
    assert!(format!("{:#}", lab_from(prog).unwrap_err()).contains("relative path"));
}

#[test]
fn names_that_would_reach_a_shell_or_climb_a_path_are_rejected_naming_the_field() {
    let task =
        |field: &str| format!("title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = 'a'\n{field}\n");
    for (field, named) in [
        ("modules = ['-f']", "`modules` entry `-f`"),
        ("modules = ['x; poweroff']", "`modules` entry"),
        ("modules = ['a.b']", "`modules` entry `a.b`"),
        ("programs = ['user/../../x.c']", "`programs` entry"),
        ("programs = ['user/$(id).c']", "`programs` entry"),
        ("programs = ['user/-x.c']", "`programs` entry"),
        (
            "student_files = ['../../etc/passwd']",
            "`student_files` entry",
        ),
    ] {
        let text = format!("{:#}", lab_from(&task(field)).unwrap_err());
        assert!(
            text.contains("lab.toml") && text.contains(named),
            "{field}: {text}"
        );
    }
    for name in ["a b", "-x", "$(id)", "a..b"] {
        let bad = format!("title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = '{name}'\n");
        let text = format!("{:#}", lab_from(&bad).unwrap_err());
        assert!(text.contains("task name"), "{name}: {text}");
    }
    let dir = tempfile::tempdir().unwrap();
    let lab_dir = dir.path().join("my lab");
    std::fs::create_dir(&lab_dir).unwrap();
    std::fs::write(
        lab_dir.join("lab.toml"),
        "title = 'D'\nlanguage = 'c'\ntasks = []\n",
    )
    .unwrap();
    let text = format!("{:#}", Lab::load(&lab_dir).unwrap_err());
    assert!(
        text.contains("lab.toml") && text.contains("folder name `my lab`"),
        "{text}"
    );
    let ok = task("modules = ['udp_sock', 'tcp-sock']\nprograms = ['user/test.c']");
    assert!(lab_from(&ok).is_ok());
}

#[test]
fn scripts_can_come_from_another_lab() {
    let lab = lab_from(
        "title = 'D'\nlanguage = 'rust'\nscripts_from = 'demo-c'\n[[tasks]]\nname = '1-a'\n",
    )
    .unwrap();
    let task = lab.task("1-a").unwrap();
    assert!(
        lab.test_script(task).ends_with("demo-c/1-a/test.sh"),
        "{}",
        lab.test_script(task).display()
    );
    assert!(lab.stress_script(task).ends_with("demo-c/1-a/stress.sh"));
    assert!(lab_from("title = 'D'\nlanguage = 'c'\nscripts_from = '../x'\n").is_err());
}

#[test]
fn params_load_and_a_scripts_from_lab_takes_the_other_labs() {
    let dir = tempfile::tempdir().unwrap();
    let write = |lab: &str, text: &str| {
        std::fs::create_dir_all(dir.path().join(lab)).unwrap();
        std::fs::write(dir.path().join(lab).join("lab.toml"), text).unwrap();
    };
    let tasks = "[[tasks]]\nname = '1-a'\n";
    write(
        "c",
        &format!(
            "title = 'C'\nlanguage = 'c'\n[params.PORT]\nkind = 'port'\ndefault = 60000\n{tasks}"
        ),
    );
    write(
        "rust",
        &format!("title = 'R'\nlanguage = 'rust'\nscripts_from = 'c'\n{tasks}"),
    );
    let c = Lab::load(&dir.path().join("c")).unwrap();
    let rust = Lab::load(&dir.path().join("rust")).unwrap();
    assert_eq!(c.manifest.params.defaults().get("PORT"), Some("60000"));
    assert_eq!(
        rust.manifest.params.defaults(),
        c.manifest.params.defaults()
    );

    write(
        "both",
        &format!("title = 'R'\nlanguage = 'rust'\nscripts_from = 'c'\n[params.N]\nkind = 'int'\ndefault = 1\nmin = 2\nmax = 3\n{tasks}"),
    );
    let e = format!("{:#}", Lab::load(&dir.path().join("both")).unwrap_err());
    assert!(
        e.contains("both/lab.toml") && e.contains("labs/c/lab.toml"),
        "{e}"
    );

    write(
        "bad",
        &format!("title = 'B'\nlanguage = 'c'\n[params.N]\nkind = 'int'\ndefault = 1\nmin = 5\nmax = 3\n{tasks}"),
    );
    let e = format!("{:#}", Lab::load(&dir.path().join("bad")).unwrap_err());
    assert!(e.contains("bad/lab.toml") && e.contains("params.N"), "{e}");
}

#[test]
fn program_binary_names() {
    assert_eq!(TaskManifest::program_binary_name("user/test.c"), "test");
    assert_eq!(TaskManifest::program_binary_name("probe.c"), "probe");
}

#[test]
fn module_and_program_tables_files_and_requires_config_load() {
    let lab = lab_from(
        r#"title = 'D'
language = 'c'
requires_config = ['CONFIG_KPROBES']
[[tasks]]
name = '0-plain'
modules = ['plain']
programs = ['user/test.c']
[[tasks]]
name = '1-a'
files = ['data/input.txt']
[[tasks.modules]]
name = 'plain'
[[tasks.modules]]
name = 'multi'
dir = 'kernel'
sources = ['main.c', 'helper.c']
ccflags = ['-DLAB=1']
[[tasks.programs]]
name = 'test'
sources = ['user/test.c']
[[tasks.programs]]
name = 'stress'
sources = ['user/stress.c']
libs = ['pthread']
include = ['include']
"#,
    )
    .unwrap();
    assert_eq!(lab.manifest.requires_config, ["CONFIG_KPROBES"]);
    let plain = lab.task("0-plain").unwrap();
    let task = lab.task("1-a").unwrap();
    assert_eq!(plain.modules, task.modules[..1]);
    assert_eq!(plain.programs, task.programs[..1]);
    let names: Vec<&str> = task.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["plain", "multi"]);
    assert_eq!(task.modules[1].ko_path(), "kernel/multi.ko");
    let names: Vec<&str> = task.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["test", "stress"]);
    assert_eq!(task.files, ["data/input.txt"]);
}

#[test]
fn new_fields_errors_name_the_file_and_the_field() {
    let task =
        |field: &str| format!("title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = 'a'\n{field}\n");
    for (text, named) in [
        (
            task("[[tasks.modules]]\nname = 'm'\nsource = ['a.c']"),
            "unknown field `source`",
        ),
        (
            task("[[tasks.modules]]\nname = 'm'\ndir = '/etc'"),
            "`dir` `/etc`",
        ),
        (
            task("[[tasks.programs]]\nname = 'p'\nsources = ['p.c']\nlibs = ['-x']"),
            "`libs` entry `-x`",
        ),
        (task("files = ['../secret']"), "`files` entry `../secret`"),
        (task("files = ['test.sh']"), "`files`: `test.sh`"),
        (
            task("modules = ['m']\nfiles = ['x/m.ko']"),
            "`files`: `m.ko`",
        ),
        (
            task("programs = ['user/p.c', 'other/p.c']"),
            "`programs`: `p`",
        ),
        (task("modules = ['m', 'm']"), "`modules`: `m.ko`"),
        (
            "title = 'D'\nlanguage = 'c'\nrequires_config = ['KPROBES']\ntasks = []\n".to_owned(),
            "`requires_config` entry `KPROBES`",
        ),
    ] {
        let err = format!("{:#}", lab_from(&text).unwrap_err());
        assert!(
            err.contains("lab.toml") && err.contains(named),
            "{text}: {err}"
        );
    }
}

#[test]
fn grading_style_points_default_to_zero_and_are_checked() {
    let base = "title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = 'a'\n";
    assert_eq!(lab_from(base).unwrap().manifest.grading.style_points, 0.0);
    let lab = lab_from(&format!("{base}[grading]\nstyle_points = 2\n")).unwrap();
    assert_eq!(lab.manifest.grading.style_points, 2.0);
    for (bad, field) in [
        ("style_points = -1", "style_points"),
        ("style_pts = 1", "style_pts"),
    ] {
        let err = lab_from(&format!("[grading]\n{bad}\n{base}")).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("lab.toml") && text.contains(field),
            "{bad}: {text}"
        );
    }
}

/// A lab whose one task has one check with `extra` lines.
fn lab_with_check(extra: &str) -> Result<Lab> {
    lab_from(&format!(
        "title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = 'a'\n[[tasks.checks]]\nname = 'greets'\npoints = 1\nblock = 'hi'\n{extra}\n"
    ))
}

#[test]
fn check_visibility_defaults_to_visible_and_takes_gradescope_values() {
    let lab = lab_with_check("").unwrap();
    let check = &lab.task("a").unwrap().checks[0];
    assert_eq!(check.visibility, Visibility::Visible);
    assert_eq!(check.hint, None);
    for (value, parsed) in [
        ("after_due_date", Visibility::AfterDueDate),
        ("after_published", Visibility::AfterPublished),
        ("visible", Visibility::Visible),
    ] {
        let lab = lab_with_check(&format!("visibility = '{value}'")).unwrap();
        assert_eq!(lab.task("a").unwrap().checks[0].visibility, parsed);
        assert_eq!(parsed.name(), value);
    }
}

#[test]
fn an_unknown_visibility_is_an_error_naming_the_file_and_field() {
    let text = format!("{:#}", lab_with_check("visibility = 'soon'").unwrap_err());
    assert!(
        text.contains("lab.toml") && text.contains("visibility") && text.contains("after_due_date"),
        "{text}"
    );
}

#[test]
fn a_hidden_check_must_be_worth_no_points() {
    let text = format!("{:#}", lab_with_check("visibility = 'hidden'").unwrap_err());
    assert!(
        text.contains("lab.toml") && text.contains("check `greets`") && text.contains("visibility"),
        "{text}"
    );
    let free = "title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = 'a'\n[[tasks.checks]]\nname = 'extra'\npoints = 0\nblock = 'hi'\nvisibility = 'hidden'\n";
    let lab = lab_from(free).unwrap();
    assert_eq!(
        lab.task("a").unwrap().checks[0].visibility,
        Visibility::Hidden
    );
}

#[test]
fn a_hint_is_kept_and_an_empty_long_or_binary_one_is_an_error_naming_the_field() {
    let lab = lab_with_check("hint = 'Compare in network byte order.'").unwrap();
    assert_eq!(
        lab.task("a").unwrap().checks[0].hint.as_deref(),
        Some("Compare in network byte order.")
    );
    let long = format!(
        "hint = '{}'",
        "x".repeat(crate::judge::rubric::HINT_MAX_CHARS + 1)
    );
    for extra in [
        "hint = '  '",
        long.as_str(),
        "hint = \"a\\u001b[31m\"",
        "hint = 3",
    ] {
        let text = format!("{:#}", lab_with_check(extra).unwrap_err());
        assert!(
            text.contains("lab.toml") && text.contains("hint"),
            "{extra}: {text}"
        );
    }
}
