use super::*;
use crate::judge::diff::{FailedChecks, RecordDiff};
use crate::judge::record::Record;
use crate::judge::rubric::Visibility;
use serde_json::Value;

/// A FAIL whose kernel log says `got` where the snapshot says `expected`.
fn mismatch() -> Mismatch {
    let record = |line: &str| Record {
        output: vec!["$ sh test.sh".into(), "[exit status 0]".into()],
        dmesg: vec![line.into()],
    };
    Mismatch {
        diff: RecordDiff::between(&record("expected"), &record("got ``` \u{1b}[0m <tag>")),
        checks: Some(FailedChecks {
            failed: vec!["filter honoured".into()],
            total: 2,
        }),
    }
}

pub(super) fn grade() -> SubmissionGrade {
    let check = |name: &str, points: f64, max: f64| CheckScore {
        name: name.into(),
        points,
        max_points: max,
        passed: points == max,
        visibility: Visibility::Visible,
        hint: None,
    };
    SubmissionGrade {
        name: "alice <&> \"o'neil\"".into(),
        lab: "net".into(),
        tasks: vec![
            TaskGrade {
                id: "net/1-a".into(),
                status: "FAIL".into(),
                explanation: "  - expected\n  + got \u{1b}[0m <tag>".into(),
                mismatch: Some(mismatch()),
                warnings: vec!["filter.c:3: uses `goto`".into()],
                checks: vec![
                    check("SYN logged", 2.0, 2.0),
                    CheckScore {
                        visibility: Visibility::AfterDueDate,
                        hint: Some("Is the filter address compared in network byte order?".into()),
                        ..check("filter honoured", 0.0, 3.0)
                    },
                ],
                duration: Duration::from_millis(1500),
                console_log: Some("vm-1.console.log".into()),
            },
            TaskGrade {
                id: "net/2-b".into(),
                status: "PASS".into(),
                explanation: String::new(),
                mismatch: None,
                warnings: vec![],
                checks: vec![check("output matches the reviewed snapshot", 1.0, 1.0)],
                duration: Duration::from_millis(500),
                console_log: None,
            },
        ],
        notes: vec!["ignored: 1-a/Makefile".into()],
        execution_time: Duration::from_secs(12),
        incomplete: false,
        params: None,
    }
}

/// The Gradescope field set, as documented for results.json: a schema of our own.
fn assert_gradescope_schema(v: &Value) {
    let obj = v.as_object().expect("an object");
    assert!(obj["score"].is_number() && obj["max_score"].is_number());
    assert!(obj["execution_time"].is_u64());
    assert!(obj["output"].is_string());
    assert!(["visible", "hidden", "after_due_date", "after_published"]
        .contains(&obj["visibility"].as_str().unwrap()));
    for test in obj["tests"].as_array().expect("tests[]") {
        let t = test.as_object().unwrap();
        for key in t.keys() {
            assert!(
                [
                    "name",
                    "number",
                    "score",
                    "max_score",
                    "status",
                    "output",
                    "visibility",
                    "tags",
                    "name_format",
                    "output_format"
                ]
                .contains(&key.as_str()),
                "unknown test field {key}"
            );
        }
        assert!(t["name"].is_string() && t["number"].is_string() && t["output"].is_string());
        assert!(t["score"].is_number() && t["max_score"].is_number());
        assert!(["passed", "failed"].contains(&t["status"].as_str().unwrap()));
    }
}

#[test]
fn gradescope_results_follow_the_field_set_and_add_up() {
    let v = gradescope(&grade());
    assert_gradescope_schema(&v);
    assert_eq!(v["score"], 3.0);
    assert_eq!(v["max_score"], 6.0);
    assert_eq!(v["tests"].as_array().unwrap().len(), 3);
    assert_eq!(v["tests"][1]["status"], "failed");
    assert!(v["tests"][1]["output"]
        .as_str()
        .unwrap()
        .contains("- expected"));
    assert!(v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["output_format"] == "md"));
    assert!(v["output"]
        .as_str()
        .unwrap()
        .contains("ignored: 1-a/Makefile"));
}

#[test]
fn the_drawn_parameters_and_their_seed_are_in_extra_data_and_grade_json() {
    let plain = gradescope(&grade());
    assert!(plain.get("extra_data").is_none(), "{plain:#}");
    let mut g = grade();
    g.params = Some(Draw {
        seed: 9007199254740991,
        values: crate::lab::params::Values::from_pairs([("PORT".into(), "61234".into())]),
    });
    let v = gradescope(&g);
    assert_gradescope_schema(&v);
    assert_eq!(v["extra_data"]["klab"]["seed"], 9007199254740991u64);
    assert_eq!(v["extra_data"]["klab"]["params"]["PORT"], "61234");
    assert!(v["output"]
        .as_str()
        .unwrap()
        .contains("lab parameters of this grading: PORT=61234 (seed 9007199254740991)"));
    // grade.json keeps them for `grade --merge`; files written before parameters still load.
    let text = serde_json::to_string(&g).unwrap();
    let back: SubmissionGrade = serde_json::from_str(&text).unwrap();
    assert_eq!(back.params, g.params);
    let mut old: Value = serde_json::from_str(&text).unwrap();
    old.as_object_mut().unwrap().remove("params");
    let old: SubmissionGrade = serde_json::from_value(old).unwrap();
    assert_eq!(old.params, None);
}

#[test]
fn junit_is_well_formed_xml_with_one_testcase_per_check() {
    let xml = junit(&grade());
    assert_eq!(xml.matches("<testcase ").count(), 3);
    assert_eq!(xml.matches("<failure ").count(), 1);
    assert!(
        !xml.contains('\u{1b}'),
        "control characters are not allowed in XML"
    );
    // A real JUnit consumer reads it: junitparser (installed by .ci/run; `pip install junitparser`).
    let script = "import sys, junitparser\n\
x = junitparser.JUnitXml.fromstring(sys.stdin.read())\n\
cases = [c for s in x for c in s]\n\
print(len(cases), sum(1 for c in cases if not c.is_passed))";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(xml.as_bytes())?;
            child.wait_with_output()
        })
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "junitparser rejected the report (is it installed? pip install junitparser): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "3 1",
        "3 testcases, 1 failed"
    );
}

#[test]
fn ktap_csv_and_table() {
    let grades = [grade()];
    let tap = ktap(&grades);
    assert!(tap.starts_with("KTAP version 1\n1..1\n"), "{tap}");
    assert!(tap.contains("    ok 1 net/1-a — SYN logged"));
    assert!(tap.contains("    not ok 2 net/1-a — filter honoured"));
    assert!(tap.contains("not ok 1 alice"));
    let ids = vec!["net/1-a".to_string(), "net/2-b".to_string()];
    assert_eq!(
        csv(&grades, &ids),
        "submission,net/1-a,net/2-b,score,max_score,incomplete\n\"alice <&> \"\"o'neil\"\"\",2,1,3,6,false\n"
    );
    let table = summary_table(&grades, &ids);
    assert!(
        table.contains("2/5") && table.contains("1/1") && table.contains("3/6"),
        "{table}"
    );
}

#[test]
fn gradescope_tests_carry_visibility_hints_and_the_diff_in_a_fenced_block() {
    let v = gradescope(&grade());
    let tests = v["tests"].as_array().unwrap();
    let visibility: Vec<&str> = tests
        .iter()
        .map(|t| t["visibility"].as_str().unwrap())
        .collect();
    assert_eq!(visibility, ["visible", "after_due_date", "visible"]);
    let failed = tests[1]["output"].as_str().unwrap();
    insta::assert_snapshot!(failed);
    // A passed check shows no hint and no diff.
    let passed = tests[0]["output"].as_str().unwrap();
    assert_eq!(passed, "**net/1-a: FAIL**\n");
    // grade.json written before these fields still loads.
    let text = serde_json::to_string(&grade()).unwrap();
    let mut old: Value = serde_json::from_str(&text).unwrap();
    for task in old["tasks"].as_array_mut().unwrap() {
        task.as_object_mut().unwrap().remove("mismatch");
        task.as_object_mut().unwrap().remove("warnings");
        for check in task["checks"].as_array_mut().unwrap() {
            check.as_object_mut().unwrap().remove("visibility");
            check.as_object_mut().unwrap().remove("hint");
        }
    }
    let old: SubmissionGrade = serde_json::from_value(old).unwrap();
    assert_eq!(old.tasks[0].checks[1].visibility, Visibility::Visible);
}

#[test]
fn a_students_explanation_ends_with_the_warnings_even_on_a_pass() {
    use crate::judge::verdict::{Outcome, TaskVerdict};
    let mut pass = TaskVerdict::early("lab/t".into(), Outcome::Pass);
    assert_eq!(TaskGrade::explanation_of(&pass), "");
    pass.warnings = vec!["style: a.c:3: checkpatch: WARNING:X: y".into()];
    assert_eq!(
        TaskGrade::explanation_of(&pass),
        "  warning: style: a.c:3: checkpatch: WARNING:X: y"
    );
    let mut missing = TaskVerdict::early("lab/t".into(), Outcome::NoSnapshot);
    missing.warnings = pass.warnings.clone();
    let text = TaskGrade::explanation_of(&missing);
    assert!(text.starts_with("  no reviewed snapshot"), "{text}");
    assert!(text.ends_with("\n  warning: style: a.c:3: checkpatch: WARNING:X: y"));
}
