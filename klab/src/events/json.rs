//! `--message-format json`: one JSON object per event per line, as cargo's
//! `--message-format json` and nextest's libtest-json, for editors and CI to follow a check
//! or a grade. The schema is [`super::Event`]'s serde form, documented in docs/events.md.

use std::io::Write;
use std::sync::Mutex;

use super::{Event, Reporter};

/// Writes each event as one line of JSON to `out` (stdout for the face).
pub struct JsonLines<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> JsonLines<W> {
    pub fn new(out: W) -> JsonLines<W> {
        JsonLines {
            out: Mutex::new(out),
        }
    }

    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl<W: Write + Send> Reporter for JsonLines<W> {
    fn report(&self, event: Event) {
        let line = serde_json::to_string(&event).expect("events serialize");
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // A closed pipe (an editor that went away) must not stop the run.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Reads a stream written by [`JsonLines`] back into events (tests, tools).
pub fn read(text: &str) -> serde_json::Result<Vec<Event>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect()
}
