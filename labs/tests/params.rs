//! Lab parameters must be usable and unambiguous: every one is read by the lab's scripts, and
//! no default appears in a snapshot or rubric block except where its placeholder stands (so
//! that `bless`, which turns the defaults back into placeholders, writes what was reviewed).
//! No VM needed.

use klab::judge::snapshot::Snapshot;

mod support;

use support::labs;

/// Where `text` differs from itself with placeholders filled in and written back.
fn ambiguity(values: &klab::lab::params::Values, text: &str) -> Option<String> {
    let again = values.placeholders(&values.expand(text));
    (again != text).then(|| {
        text.lines()
            .zip(again.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("`{a}` would be blessed as `{b}`"))
            .unwrap_or_default()
    })
}

#[test]
fn defaults_appear_only_where_their_placeholders_stand() {
    for lab in labs() {
        let defaults = lab.manifest.params.defaults();
        for task in &lab.manifest.tasks {
            let snap = Snapshot::read(&lab.snapshot_path(task)).unwrap();
            if let Some(why) = snap.and_then(|s| ambiguity(&defaults, &s.body)) {
                panic!(
                    "{}/{}: a parameter's default is in the snapshot as plain text: {why}; write the placeholder, or pick a more distinctive default in labs/{}/lab.toml",
                    lab.name, task.name, lab.name
                );
            }
            for check in &task.checks {
                if let Some(why) = ambiguity(&defaults, &check.block) {
                    panic!(
                        "{}/{}: check {:?}: a parameter's default is in the block as plain text: {why}",
                        lab.name, task.name, check.name
                    );
                }
            }
        }
    }
}

#[test]
fn every_parameter_is_read_by_the_labs_scripts() {
    for lab in labs() {
        let scripts: String = lab
            .manifest
            .tasks
            .iter()
            .flat_map(|t| [lab.test_script(t), lab.stress_script(t)])
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect();
        for name in lab.manifest.params.names() {
            assert!(
                scripts.contains(&format!("${name}")) || scripts.contains(&format!("${{{name}")),
                "labs/{}: parameter {name} is declared but no test.sh or stress.sh reads ${name}",
                lab.name
            );
        }
    }
}

#[test]
fn the_lint_catches_a_default_written_out() {
    let values = klab::lab::params::Values::from_pairs([("WHO".into(), "students".into())]);
    assert_eq!(ambiguity(&values, "hello: Hello, [WHO]!\n"), None);
    assert!(ambiguity(&values, "hello: Hello, students!\n").is_some());
}
