//! Running `cargo xtask` from integration tests, and reading its verdict lines.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// `(status, lab/task)` of every verdict line (`PASS  intro/1-2-hello  (1.2 s)`).
    pub fn verdicts(&self) -> Vec<(String, String)> {
        let statuses = [
            "PASS",
            "FAIL",
            "NO SNAPSHOT",
            "FAULT",
            "TIMEOUT",
            "BUILD FAILED",
            "VM ERROR",
        ];
        self.stdout
            .lines()
            .filter_map(|line| {
                let status = statuses
                    .iter()
                    .find(|s| line.starts_with(*s) && line.ends_with(" s)"))?;
                let id = line[status.len()..].split_whitespace().next()?;
                Some((status.to_string(), id.to_string()))
            })
            .collect()
    }

    pub fn all(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// Runs the xtask binary with `args`; `LABS` and `KLAB_BOOT` are cleared so the caller's
/// environment cannot change the selection or how VMs start.
pub fn xtask(args: &[&str]) -> Run {
    xtask_env(args, &[])
}

/// [`xtask`] with extra environment variables.
pub fn xtask_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env_remove("LABS")
        .env_remove("KLAB_BOOT")
        .envs(env.iter().copied())
        .current_dir(repo())
        .output()
        .expect("running xtask");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `cargo xtask FLAGS... --skels-dir SKELS check SEL...`: a student's folder checked.
pub fn check_skels(flags: &[&str], skels: &Path, sel: &[&str]) -> Run {
    let mut args = flags.to_vec();
    args.extend(["--skels-dir", skels.to_str().unwrap(), "check"]);
    args.extend(sel);
    xtask(&args)
}

/// Every `lab/task` the repository's manifests list.
pub fn all_task_ids() -> Vec<String> {
    let labs = klab::lab::manifest::discover(&repo().join("labs")).unwrap();
    labs.iter()
        .flat_map(|l| {
            l.manifest
                .tasks
                .iter()
                .map(move |t| format!("{}/{}", l.name, t.name))
        })
        .collect()
}

/// Copies a template task into `skels_dir` as a student would have it, then lets the caller
/// break it.
pub fn copy_template_task(skels_dir: &Path, lab: &str, task: &str) -> PathBuf {
    let src = repo().join("templates").join(lab).join(task);
    let dst = skels_dir.join(lab).join(task);
    std::fs::create_dir_all(&dst).unwrap();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(&src).unwrap();
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(dst.join(rel)).unwrap();
        } else {
            std::fs::copy(entry.path(), dst.join(rel)).unwrap();
        }
    }
    dst
}

/// Writes `text` to `path`, its folders made first.
pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Edits a fixture file in place; the edit must apply (a fixture that silently stayed the
/// same would make its test meaningless).
pub fn replace_in(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains(from),
        "{} does not contain {from:?}",
        path.display()
    );
    std::fs::write(path, text.replace(from, to)).unwrap();
}

/// The Gradescope `results.json` written for submission `name`.
pub fn results(out: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join(name).join("results.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `(status of the task's first test, score)` per task id, from results.json.
pub fn task_scores(v: &serde_json::Value) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for test in v["tests"].as_array().unwrap() {
        let id = test["name"]
            .as_str()
            .unwrap()
            .split(" — ")
            .next()
            .unwrap()
            .to_owned();
        let score = test["score"].as_f64().unwrap();
        match out.iter_mut().find(|(t, _)| *t == id) {
            Some((_, s)) => *s += score,
            None => out.push((id, score)),
        }
    }
    out
}

/// `(check name, passed)` of every rubric check in a submission's results.json.
pub fn checks(v: &serde_json::Value) -> Vec<(String, bool)> {
    v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let name = t["name"].as_str().unwrap();
            let check = name.split(" — ").nth(1).unwrap_or(name).to_owned();
            (check, t["score"].as_f64() == t["max_score"].as_f64())
        })
        .collect()
}
