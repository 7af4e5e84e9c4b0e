//! `cargo xtask skels`: generation from the real templates, and a student's work is never lost.
//! No VM needed.

mod support;

use support::{repo, xtask};

#[test]
fn skeletons_lose_their_solutions_and_keep_their_markers() {
    let dir = tempfile::tempdir().unwrap();
    let run = xtask(&[
        "--skels-dir",
        dir.path().to_str().unwrap(),
        "skels",
        "intro",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    let hello = std::fs::read_to_string(dir.path().join("intro/1-2-hello/hello.rs")).unwrap();
    assert!(
        hello.contains("// TODO 1: print \"Hello from a Rust module!\""),
        "{hello}"
    );
    assert!(
        !hello.contains("pr_info!(\"Hello from a Rust module!\\n\")"),
        "{hello}"
    );
    let template =
        std::fs::read_to_string(repo().join("templates/intro/1-2-hello/hello.rs")).unwrap();
    assert!(template.contains("pr_info!(\"Hello from a Rust module!\\n\")"));
}

#[test]
fn todo_option_keeps_earlier_solutions() {
    let dir = tempfile::tempdir().unwrap();
    let run = xtask(&[
        "--skels-dir",
        dir.path().to_str().unwrap(),
        "skels",
        "intro/3-fail",
        "--todo",
        "4",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    let fail = std::fs::read_to_string(dir.path().join("intro/3-fail/fail.rs")).unwrap();
    assert!(
        fail.contains("return Err(ENODEV);"),
        "TODO 3 < 4 keeps its solution:\n{fail}"
    );
}

#[test]
fn regenerating_never_overwrites_an_edited_skeleton_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let skels = dir.path().to_str().unwrap();
    assert_eq!(xtask(&["--skels-dir", skels, "skels", "intro"]).code, 0);
    let file = dir.path().join("intro/3-fail/fail.rs");
    let mine = "// my work in progress\n";
    std::fs::write(&file, mine).unwrap();

    // Unedited files regenerate silently; the edited one stops the run, untouched.
    let again = xtask(&["--skels-dir", skels, "skels", "intro"]);
    assert_ne!(again.code, 0, "{}", again.all());
    assert!(
        again.stderr.contains("intro/3-fail/fail.rs") && again.stderr.contains("--force"),
        "{}",
        again.all()
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), mine);

    let forced = xtask(&["--skels-dir", skels, "skels", "intro", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.all());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("intro/3-fail/fail.rs.orig")).unwrap(),
        mine
    );
    assert!(std::fs::read_to_string(&file).unwrap().contains("TODO 3"));
}

#[test]
fn a_count_running_past_a_real_template_is_an_error() {
    let template = std::fs::read_to_string(repo().join("templates/intro/3-fail/fail.rs")).unwrap();
    let broken = template.replace("TODO 3/2:", "TODO 3/40:");
    let err = klab::lab::markers::skeletonize(klab::lab::markers::SourceKind::CLike, &broken, 1)
        .unwrap_err();
    assert!(err.message.contains("TODO 3 removes 40 lines"), "{err}");
}

#[test]
fn unknown_selections_are_clear_errors() {
    let run = xtask(&["skels", "no-such-lab"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("no lab named `no-such-lab`; the labs are: "),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("intro"), "{}", run.all());
}
