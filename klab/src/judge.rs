//! From a task's run to its verdict and scores: pure functions of text, like the kernel's
//! kunit_parser. The run's normalised record (the script's output and the kernel log apart),
//! the reviewed snapshot, the verdict and its explanation, the rubric's checks, a report's
//! frames placed at the student's file:line, KTAP counts.
//!
//! Never starts a process, never reads the VM: callers hand it text.

pub mod diff;
pub mod ktap;
pub mod normalize;
pub mod record;
pub mod rubric;
pub mod snapshot;
pub mod symbolize;
pub mod verdict;
