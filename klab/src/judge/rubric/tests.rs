use super::*;
use crate::lab::manifest::LabManifest;

fn task(toml_text: &str) -> TaskManifest {
    toml::from_str(toml_text).unwrap()
}

fn lab() -> Lab {
    Lab {
        name: "demo".into(),
        dir: "labs/demo".into(),
        manifest: LabManifest {
            title: "Demo".into(),
            language: "c".into(),
            scripts_from: None,
            build_timeout_secs: crate::lab::manifest::DEFAULT_BUILD_TIMEOUT_SECS,
            params: Default::default(),
            requires_config: vec![],
            grading: Default::default(),
            tasks: vec![],
        },
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

/// What the reference run recorded: `ok: 1` from the script, `x: 1` from the kernel.
fn reviewed() -> Snapshot {
    Snapshot::new("$ sh test.sh\nok: 1\nboth\n[exit status 0]\n--- dmesg ---\nx: 1\ny: 1\nboth\n")
}

fn resolve<'a>(t: &'a TaskManifest) -> Result<Rubric<'a>> {
    Rubric::resolve(
        &lab(),
        t,
        Some(&reviewed()),
        Path::new("labs/demo/snapshots/t.snap"),
    )
}

#[test]
fn blocks_must_be_contiguous_and_in_order() {
    let record = "a\nb\nc\nd\n";
    assert!(contains_block(record, "b\nc"));
    assert!(contains_block(record, "\nb\nc\n"));
    assert!(!contains_block(record, "b\nd"));
    assert!(!contains_block(record, "c\nb"));
    assert!(!contains_block(record, ""));
}

#[test]
fn a_check_matches_only_in_the_section_its_block_comes_from() {
    let t = task("name = 't'\n[[checks]]\nname = 'prints ok'\npoints = 2\nblock = 'ok: 1'\n[[checks]]\nname = 'logs x'\npoints = 3\nblock = 'x: 1'\n");
    let rubric = resolve(&t).unwrap();
    assert_eq!(rubric.sections, [Section::Output, Section::Dmesg]);
    let points = |output: &str, dmesg: &str| {
        let record = Record {
            output: lines(output),
            dmesg: lines(dmesg),
        };
        rubric
            .score(Some(&record), false)
            .iter()
            .map(|s| s.points)
            .collect::<Vec<_>>()
    };
    assert_eq!(points("ok: 1", "x: 1"), [2.0, 3.0]);
    // A module that logs the script's line earns nothing for it, and the other way round.
    assert_eq!(points("x: 1", "ok: 1"), [0.0, 0.0]);
    assert_eq!(points("", "ok: 1\nx: 1"), [0.0, 3.0]);
    assert!(rubric.score(None, false).iter().all(|s| s.points == 0.0));
}

#[test]
fn an_explicit_section_must_hold_the_block() {
    let t =
        task("name = 't'\n[[checks]]\nname = 'c'\npoints = 1\nblock = 'both'\nsection = 'dmesg'\n");
    assert_eq!(resolve(&t).unwrap().sections, [Section::Dmesg]);
    let wrong = task(
        "name = 't'\n[[checks]]\nname = 'c'\npoints = 1\nblock = 'ok: 1'\nsection = 'dmesg'\n",
    );
    let text = resolve(&wrong).unwrap_err().to_string();
    assert!(
        text.contains("labs/demo/lab.toml")
            && text.contains("check `c`")
            && text.contains("dmesg section"),
        "{text}"
    );
    assert!(toml::from_str::<TaskManifest>(
        "name = 't'\n[[checks]]\nname = 'c'\npoints = 1\nblock = 'x'\nsection = 'kernel'\n"
    )
    .is_err());
}

#[test]
fn a_block_in_neither_or_both_sections_is_an_error_naming_the_check() {
    for (block, says) in [
        (
            "ok: 1\n[exit status 0]\n--- dmesg ---\nx: 1",
            "neither section",
        ),
        ("y: 1\nx: 1", "neither section"),
        ("both", "both the output and the dmesg section"),
    ] {
        let t = task(&format!(
            "name = 't'\n[[checks]]\nname = 'spans'\npoints = 1\nblock = {block:?}\n"
        ));
        let text = resolve(&t).unwrap_err().to_string();
        assert!(
            text.contains("labs/demo/lab.toml")
                && text.contains("check `spans`")
                && text.contains(says),
            "{block:?}: {text}"
        );
    }
    let t = task("name = 't'\n[[checks]]\nname = 'c'\npoints = 1\nblock = 'ok: 1'\n");
    let none = Rubric::resolve(&lab(), &t, None, Path::new("t.snap"));
    assert!(none
        .unwrap_err()
        .to_string()
        .contains("no reviewed snapshot"));
}

#[test]
fn partial_credit_per_check() {
    let t = task("name = 't'\npoints = 5\n[[checks]]\nname = 'one'\npoints = 2\nblock = 'x: 1'\n[[checks]]\nname = 'two'\npoints = 3\nblock = 'y: 1'\n");
    validate(&t).unwrap();
    let rubric = resolve(&t).unwrap();
    let rec = Record {
        output: vec![],
        dmesg: lines("x: 1\ny: 0"),
    };
    let scores = rubric.score(Some(&rec), false);
    assert_eq!(
        scores.iter().map(|s| s.points).collect::<Vec<_>>(),
        [2.0, 0.0]
    );
    assert_eq!(max_points(&t), 5.0);
    assert_eq!(zero(&t).iter().map(|s| s.max_points).sum::<f64>(), 5.0);
    assert!(zero(&t).iter().all(|s| s.points == 0.0));
}

#[test]
fn without_checks_the_snapshot_decides() {
    let t = task("name = 't'\npoints = 4\n");
    let rubric = Rubric::resolve(&lab(), &t, None, Path::new("t.snap")).unwrap();
    let rec = Record::of_snapshot(&Snapshot::new("anything"));
    assert_eq!(rubric.score(Some(&rec), true)[0].points, 4.0);
    assert_eq!(rubric.score(Some(&rec), false)[0].points, 0.0);
    assert_eq!(zero(&t)[0].max_points, 4.0);
}

#[test]
fn inconsistent_rubrics_are_rejected() {
    let t = task("name = 't'\npoints = 5\n[[checks]]\nname = 'one'\npoints = 2\nblock = 'x'\n");
    assert!(validate(&t)
        .unwrap_err()
        .to_string()
        .contains("add up to 2"));
    let empty = task("name = 't'\n[[checks]]\nname = 'e'\npoints = 1\nblock = '  '\n");
    assert!(validate(&empty).is_err());
    let twice = task("name = 't'\n[[checks]]\nname = 'e'\npoints = 1\nblock = 'a'\n[[checks]]\nname = 'e'\npoints = 1\nblock = 'b'\n");
    assert!(validate(&twice)
        .unwrap_err()
        .to_string()
        .contains("listed twice"));
}

#[test]
fn failed_checks_name_the_checks_a_run_misses_with_placeholders_filled_in() {
    let t = task("name = 't'\n[[checks]]\nname = 'prints ok'\npoints = 2\nblock = 'ok: 1'\n[[checks]]\nname = 'logs x'\npoints = 3\nblock = 'x: 1'\n");
    let rubric = resolve(&t).unwrap();
    let record = Record {
        output: lines("ok: 1"),
        dmesg: lines("x: 2"),
    };
    let none = Values::default();
    let failed = rubric.failed_checks(&record, &none).unwrap();
    assert_eq!(
        (failed.failed, failed.total),
        (vec!["logs x".to_owned()], 2)
    );
    // A block's placeholders take the run's values, as `grade` fills them in.
    let with_n = task("name = 't'\n[[checks]]\nname = 'n'\npoints = 1\nblock = 'x: [N]'\n");
    let reviewed = Snapshot::new("$ sh test.sh\n[exit status 0]\n--- dmesg ---\nx: [N]\n");
    let rubric = Rubric::resolve(&lab(), &with_n, Some(&reviewed), Path::new("t.snap")).unwrap();
    let two = Values::from_pairs([("N".into(), "2".into())]);
    assert!(rubric
        .failed_checks(&record, &two)
        .unwrap()
        .failed
        .is_empty());
    assert_eq!(rubric.failed_checks(&record, &none).unwrap().failed, ["n"]);
    // Without checks the snapshot decides: no line of checks.
    let plain = task("name = 't'\n");
    let rubric = Rubric::resolve(&lab(), &plain, None, Path::new("t.snap")).unwrap();
    assert!(rubric.failed_checks(&record, &none).is_none());
}
