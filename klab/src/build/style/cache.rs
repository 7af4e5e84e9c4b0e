//! A task's style findings kept in its stage beside the build record, so that a task whose
//! sources did not change since its last build (`BuildHow::UpToDate`) does not run checkpatch
//! (a quarter of a second of CPU per C file) and rustfmt again.
//!
//! The kept findings are those of the build recorded in `.klab-built` at the time, by this
//! klab (the record's bytes and the running program are hashed into the key): a record that
//! changed since, another klab, or a file that cannot be read means the style is checked
//! again. Findings of a tool that did not run to its end are never kept.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::build::replay::RECORD;

const KEPT: &str = ".klab-style";

#[derive(Serialize, Deserialize)]
struct Kept {
    record: u64,
    findings: Vec<(String, Option<u32>, String, String)>,
}

fn record_hash(stage: &Path) -> Option<u64> {
    let mut bytes = std::fs::read(stage.join(RECORD)).ok()?;
    // Another klab may check style differently (its filters, its tools' flags).
    if let Ok(program) = std::env::current_exe() {
        bytes.extend(crate::host::file_identity(&program).bytes());
    }
    Some(xxhash_rust::xxh3::xxh3_64(&bytes))
}

/// The tool names a finding can have (`Finding::tool` is static).
const TOOLS: &[&str] = &["checkpatch", "rustfmt", "rustc", "clippy", "cc"];

/// The findings kept for the stage's current build, if any.
pub fn load(stage: &Path) -> Option<Vec<Finding>> {
    let kept: Kept = serde_json::from_slice(&std::fs::read(stage.join(KEPT)).ok()?).ok()?;
    if Some(kept.record) != record_hash(stage) {
        return None;
    }
    kept.findings
        .into_iter()
        .map(|(file, line, tool, message)| {
            let tool = TOOLS.iter().find(|t| **t == tool)?;
            Some(Finding {
                file,
                line,
                tool,
                message,
            })
        })
        .collect()
}

/// Keeps `findings` as those of the stage's current build (nothing when it has no record).
pub fn save(stage: &Path, findings: &[Finding]) {
    let Some(record) = record_hash(stage) else {
        return;
    };
    if findings.iter().any(Finding::is_tool_failure) {
        let _ = std::fs::remove_file(stage.join(KEPT));
        return;
    }
    let kept = Kept {
        record,
        findings: findings
            .iter()
            .map(|f| (f.file.clone(), f.line, f.tool.to_owned(), f.message.clone()))
            .collect(),
    };
    if let Ok(bytes) = serde_json::to_vec(&kept) {
        let _ = crate::atomic_file::write(&stage.join(KEPT), &bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_findings_hold_only_for_the_build_they_were_found_on() {
        let stage = tempfile::tempdir().unwrap();
        let stage = stage.path();
        let finding = Finding {
            file: "skels/l/t/a.c".into(),
            line: Some(3),
            tool: "checkpatch",
            message: "WARNING:X: y".into(),
        };
        save(stage, std::slice::from_ref(&finding));
        assert_eq!(load(stage), None, "no build record, nothing kept");
        std::fs::write(stage.join(RECORD), "build one").unwrap();
        save(stage, std::slice::from_ref(&finding));
        assert_eq!(load(stage), Some(vec![finding.clone()]));
        save(stage, &[]);
        assert_eq!(load(stage), Some(vec![]), "no findings is a result too");
        let failed = Finding {
            file: String::new(),
            line: None,
            tool: "rustfmt",
            message: "could not run".into(),
        };
        save(stage, &[failed]);
        assert_eq!(
            load(stage),
            None,
            "a tool that failed: checked again next time"
        );
        std::fs::write(stage.join(RECORD), "build two").unwrap();
        assert_eq!(load(stage), None, "another build: checked again");
    }
}
