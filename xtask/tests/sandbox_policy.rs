//! `grade` without a working sandbox: refused before anything is built, with what to do.
//! (No VM: the refusal comes first.)

mod support;

use support::xtask_env;

#[test]
fn grading_refuses_to_run_without_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("student");
    std::fs::create_dir_all(&sub).unwrap();
    let run = xtask_env(
        &[
            "grade",
            "--lab",
            "intro",
            "--out",
            dir.path().join("out").to_str().unwrap(),
            sub.to_str().unwrap(),
        ],
        &[("KLAB_BWRAP", "/nonexistent/bwrap")],
    );
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("grading needs the build sandbox"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("--no-sandbox"), "{}", run.all());
    assert!(run.stderr.contains("/nonexistent/bwrap"), "{}", run.all());
    assert!(!dir.path().join("out").join("scores.csv").exists());
}
