use super::*;
use klab::judge::diff::{FailedChecks, Mismatch, RecordDiff};
use klab::judge::record::Record;
use klab::judge::snapshot::Snapshot;

/// networking-c's netfilter task whose hook also logs SYN-ACKs (the fixture klab's own
/// diff tests use), as `check` reports it.
fn syn_ack() -> VerdictEvent {
    let record = |text: &str| Record::of_snapshot(&Snapshot::new(text));
    let mismatch = Mismatch {
        diff: RecordDiff::between(
            &record(include_str!(
                "../../../klab/src/judge/diff/fixtures/syn-ack.reviewed.txt"
            )),
            &record(include_str!(
                "../../../klab/src/judge/diff/fixtures/syn-ack.run.txt"
            )),
        ),
        checks: Some(FailedChecks {
            failed: vec![
                "SYN to 127.0.0.1 logged with no filter set".into(),
                "SYN to the filter address logged".into(),
            ],
            total: 5,
        }),
    };
    VerdictEvent {
        task: "networking-c/1-2-netfilter".into(),
        status: "FAIL".into(),
        duration_secs: 1.5,
        warnings: vec![],
        explanation: mismatch.explain(&Plain).trim_end().to_owned(),
        console_log: Some("target/klab/runs/skels/vm-1/console.log".into()),
        mismatch: Some(mismatch),
    }
}

#[test]
fn syn_ack_verdict_plain() {
    let text = verdict_text(&syn_ack(), false);
    assert!(!text.contains('\x1b'));
    insta::assert_snapshot!(text);
}

#[test]
fn syn_ack_verdict_coloured() {
    // Escapes written out, so the snapshot shows where each colour starts and ends.
    insta::assert_snapshot!(verdict_text(&syn_ack(), true).replace('\x1b', "\\e"));
}

#[test]
fn plain_without_a_mismatch_prints_the_explanation() {
    let mut v = syn_ack();
    v.mismatch = None;
    v.status = "FAULT".into();
    v.explanation = "  the kernel reported a bug".into();
    assert_eq!(
        verdict_text(&v, false),
        "FAULT        networking-c/1-2-netfilter           (1.5 s)\n  the kernel reported a bug\n  kernel console log: target/klab/runs/skels/vm-1/console.log\n"
    );
    // Plain text and the explanation the JSON stream carries agree.
    let plain = verdict_text(&syn_ack(), false);
    assert!(plain.contains(&syn_ack().explanation), "{plain}");
}

#[test]
fn colour_only_on_a_terminal_without_no_color() {
    use std::ffi::OsStr;
    assert!(use_colour(true, None));
    assert!(use_colour(true, Some(OsStr::new(""))));
    assert!(!use_colour(true, Some(OsStr::new("1"))));
    assert!(!use_colour(false, None));
}
