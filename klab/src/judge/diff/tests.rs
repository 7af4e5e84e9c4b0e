use super::*;
use crate::judge::snapshot::Snapshot;

fn record(text: &str) -> Record {
    Record::of_snapshot(&Snapshot::new(text))
}

/// The netfilter task of networking-c, solved but for one thing: the hook also logs the
/// SYN-ACKs the listener sends back (`if (!tcph->syn)`), as `cargo xtask check` recorded it.
fn syn_ack() -> Mismatch {
    let reviewed = record(include_str!("fixtures/syn-ack.reviewed.txt"));
    let run = record(include_str!("fixtures/syn-ack.run.txt"));
    Mismatch {
        diff: RecordDiff::between(&reviewed, &run),
        checks: Some(FailedChecks {
            failed: vec![
                "SYN to 127.0.0.1 logged with no filter set".into(),
                "SYN to the filter address logged".into(),
            ],
            total: 5,
        }),
    }
}

/// Brackets instead of colours, so a snapshot shows which part got which style.
struct Marked;

impl Paint for Marked {
    fn paint(&self, role: Role, text: &str) -> String {
        format!("<{role:?}>{text}</{role:?}>")
    }
}

#[test]
fn syn_ack_plain() {
    insta::assert_snapshot!(syn_ack().explain(&Plain));
}

#[test]
fn syn_ack_marked() {
    insta::assert_snapshot!(syn_ack().explain(&Marked));
}

#[test]
fn hunks_have_context_steps_and_section_titles() {
    let m = syn_ack();
    let [output, dmesg] = m.diff.sections.as_slice() else {
        panic!("two sections: {m:?}");
    };
    assert_eq!(
        (output.section, dmesg.section),
        (Section::Output, Section::Dmesg)
    );
    let hunk = &output.hunks[0];
    assert_eq!(
        hunk.step.as_deref(),
        Some("-- 1. no filter set, connecting to 127.0.0.1:60121")
    );
    assert_eq!(hunk.lines.first().unwrap().kind, LineKind::Context);
    assert_eq!(hunk.lines.last().unwrap().kind, LineKind::Context);
    // The kernel log has no steps.
    assert_eq!(dmesg.hunks[0].step, None);
}

#[test]
fn a_step_is_the_nearest_step_line_at_or_above_the_first_change() {
    let expected = record("$ sh test.sh\n-- 1. a\nx\n-- 2. b\ny\nz\n[exit status 0]");
    let changed =
        |text: &str| RecordDiff::between(&expected, &record(text)).sections[0].hunks[0].clone();
    let in_two = changed("$ sh test.sh\n-- 1. a\nx\n-- 2. b\ny\nZ\n[exit status 0]");
    assert_eq!(in_two.step.as_deref(), Some("-- 2. b"));
    // A changed step line heads its own hunk.
    let header = changed("$ sh test.sh\n-- 1. a\nx\n-- 2. B\ny\nz\n[exit status 0]");
    assert_eq!(header.step.as_deref(), Some("-- 2. b"));
    // Before any step: no heading.
    let before = changed("$ sh test.sh!\n-- 1. a\nx\n-- 2. b\ny\nz\n[exit status 0]");
    assert_eq!(before.step, None);
    assert_eq!((before.expected_start, before.actual_start), (1, 1));
}

#[test]
fn a_line_the_script_printed_and_the_kernel_logged_is_shown_in_its_section() {
    let expected = record("$ sh test.sh\nok\n[exit status 0]\n--- dmesg ---\nhello");
    let moved = Record {
        output: vec![
            "$ sh test.sh".into(),
            "ok".into(),
            "hello".into(),
            "[exit status 0]".into(),
        ],
        dmesg: vec![],
    };
    let text = Mismatch {
        diff: RecordDiff::between(&expected, &moved),
        checks: None,
    }
    .explain(&Plain);
    assert!(
        text.contains("--- output (what test.sh printed)\n  @@ -1,3 +1,4 @@\n    $ sh test.sh\n    ok\n  + hello\n")
            && text.contains("--- dmesg (the kernel log)\n  @@ -1 +0,0 @@\n  - hello\n"),
        "{text}"
    );
}

#[test]
fn lines_that_differ_never_look_alike() {
    let expected = record("$ sh test.sh\na\tb\nc\u{a0}d\n[exit status 0]");
    let run = record("$ sh test.sh\na    b\nc d\u{1b}[0m\n[exit status 0]");
    let text = RecordDiff::between(&expected, &run).render("", &Plain);
    assert!(
        text.contains("- a\\tb\n- c\\u{a0}d\n+ a    b\n+ c d\\x1b[0m\n"),
        "{text}"
    );
    for line in text.lines().filter(|l| l.starts_with('-')) {
        assert!(!text.contains(&format!("+{}", &line[1..])), "{text}");
    }
}

#[test]
fn replaced_lines_that_are_equal_become_context() {
    let lines = [
        line(LineKind::Expected, "same"),
        line(LineKind::Expected, "old"),
        line(LineKind::Expected, "end"),
        line(LineKind::Actual, "same"),
        line(LineKind::Actual, "new"),
        line(LineKind::Actual, "end"),
    ];
    let kinds: Vec<(LineKind, String)> = without_equal_pairs(lines.to_vec())
        .into_iter()
        .map(|l| (l.kind, l.text))
        .collect();
    assert_eq!(
        kinds,
        [
            (LineKind::Context, "same".into()),
            (LineKind::Expected, "old".into()),
            (LineKind::Actual, "new".into()),
            (LineKind::Context, "end".into()),
        ]
    );
}

#[test]
fn equal_records_have_no_diff_and_the_summary_names_the_checks() {
    let r = record("$ sh test.sh\n[exit status 0]\n--- dmesg ---\nx");
    assert!(RecordDiff::between(&r, &r).is_empty());
    let none = FailedChecks {
        failed: vec![],
        total: 2,
    };
    assert!(none.summary().contains("every check"), "{}", none.summary());
}
