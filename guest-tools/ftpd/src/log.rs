//! The event log: whole lines, shared by all sessions, flushed one by one.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

pub struct Log {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Log {
    pub fn stderr() -> Log {
        Log::new(Box::new(io::stderr()))
    }

    /// Appends to `path`, creating it if needed.
    pub fn file(path: &Path) -> io::Result<Log> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Log::new(Box::new(file)))
    }

    fn new(out: Box<dyn Write + Send>) -> Log {
        Log {
            out: Mutex::new(out),
        }
    }

    /// Writes `text` and a newline in one write. Errors are ignored: a
    /// broken log must not take the server down.
    pub fn line(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.write_all(format!("{text}\n").as_bytes());
        let _ = out.flush();
    }
}
