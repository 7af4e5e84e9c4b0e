//! Progress lines: every long step says what it does and how long it took.

use std::time::{Duration, Instant};

/// A named step; prints `==> name` when it starts and `    done in 1.2 s` when it ends.
pub struct Step {
    name: String,
    start: Instant,
}

impl Step {
    pub fn start(name: impl Into<String>) -> Step {
        let name = name.into();
        eprintln!("==> {name}");
        Step {
            name,
            start: Instant::now(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A progress line while the step runs.
    pub fn tick(&self, what: &str) {
        eprintln!("    [{}] {what}", secs(self.elapsed()));
    }

    pub fn done(self) -> Duration {
        let elapsed = self.elapsed();
        eprintln!("    {} done in {}", self.name, secs(elapsed));
        elapsed
    }
}

pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
