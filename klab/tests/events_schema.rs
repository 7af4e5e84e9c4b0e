//! docs/events.md is the JSON event stream's schema: every event is documented there with an
//! example line, and each example is exactly what klab writes for it (read, then written
//! again, it comes out the same: no field missing, none unknown, none renamed).

use std::collections::BTreeSet;

use klab::events::json::{read, JsonLines};
use klab::events::{Event, Reporter};

/// The documented name of every event. The match is exhaustive: a new event does not
/// compile here until it is named, and then the test asks for its section in the doc.
fn name(event: &Event) -> &'static str {
    match event {
        Event::StepStarted { .. } => "step_started",
        Event::StepProgress { .. } => "step_progress",
        Event::StepFinished { .. } => "step_finished",
        Event::VmStarted { .. } => "vm_started",
        Event::VmStopped { .. } => "vm_stopped",
        Event::TaskBuilt { .. } => "task_built",
        Event::BuildFailed { .. } => "build_failed",
        Event::Verdict(_) => "verdict",
        Event::Warning { .. } => "warning",
        Event::Note { .. } => "note",
        Event::Graded { .. } => "graded",
        Event::Output { .. } => "output",
        Event::Summary { .. } => "summary",
    }
}

const ALL: [&str; 13] = [
    "step_started",
    "step_progress",
    "step_finished",
    "vm_started",
    "vm_stopped",
    "task_built",
    "build_failed",
    "verdict",
    "warning",
    "note",
    "graded",
    "output",
    "summary",
];

/// `(section heading, example line)` for each `### name` section of docs/events.md.
fn documented() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events.md"))
        .expect("docs/events.md");
    let mut out = Vec::new();
    let mut heading = None;
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if let Some(h) = line.strip_prefix("### ") {
            heading = Some(h.trim().to_owned());
        } else if line.trim() == "```json" {
            let example = lines.next().expect("an example line after ```json");
            assert_eq!(
                lines.next().map(str::trim),
                Some("```"),
                "one line per example"
            );
            let h = heading
                .take()
                .expect("every example sits under a ### heading");
            out.push((h, example.to_owned()));
        }
    }
    out
}

#[test]
fn every_event_is_documented_once_with_an_example_klab_writes_exactly() {
    let docs = documented();
    let headings: Vec<&str> = docs.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        headings.iter().copied().collect::<BTreeSet<_>>(),
        ALL.iter().copied().collect::<BTreeSet<_>>(),
        "docs/events.md documents each event once"
    );
    assert_eq!(headings.len(), ALL.len(), "no event documented twice");

    for (heading, example) in &docs {
        let event: Event = serde_json::from_str(example)
            .unwrap_or_else(|e| panic!("the `{heading}` example does not parse: {e}\n{example}"));
        assert_eq!(name(&event), heading, "the example under `### {heading}`");
        let written = serde_json::to_value(&event).unwrap();
        let doc_value: serde_json::Value = serde_json::from_str(example).unwrap();
        assert_eq!(
            written, doc_value,
            "klab writes the `{heading}` event as documented (same fields, same names)"
        );
    }
}

#[test]
fn a_stream_written_by_json_lines_reads_back_as_the_same_events() {
    let events: Vec<Event> = documented()
        .iter()
        .map(|(_, example)| serde_json::from_str(example).unwrap())
        .collect();
    let writer = JsonLines::new(Vec::new());
    for event in &events {
        writer.report(event.clone());
    }
    let text = String::from_utf8(writer.into_inner()).unwrap();
    assert_eq!(text.lines().count(), events.len(), "one line per event");
    assert_eq!(read(&text).unwrap(), events);
}

#[test]
fn a_line_that_is_not_an_event_is_an_error_not_skipped() {
    let text = "{\"event\":\"note\",\"message\":\"ok\"}\nPASS intro/1-2-hello\n";
    assert!(read(text).is_err());
    let unknown = "{\"event\":\"no_such_event\"}\n";
    assert!(read(unknown).is_err());
}
