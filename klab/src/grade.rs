//! `grade`: many untrusted submissions, scores, machine-readable results.
//!
//! Each submission is taken in by `crate::lab::submission` (only the files the manifest
//! names; everything else comes from the generated skeleton), then goes through the same
//! pipeline as `check`, in its own private folder, stage, image and VMs: a fresh VM for
//! every task ([`submission`]). Results are written atomically per submission as soon as it
//! is graded ([`results`]), so an interrupted run keeps what it finished. Submissions are
//! graded on the worker pool, `jobs` at a time.

mod desk;
pub mod results;
mod room;
pub mod shard;
mod submission;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::events::{Event, Reporter};
use crate::grade::shard::Shard;
use crate::judge::rubric::Rubric;
use crate::lab::params;
use crate::report::SubmissionGrade;
use crate::run::{interrupt, pool, Workspace};
use results::{finish, task_ids, write_results};
use submission::{grade_one, skeleton_of, zero_grade, Grading};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    /// Progress and a summary table on the terminal.
    Human,
    /// A KTAP stream on stdout (progress goes to stderr).
    Tap,
}

/// How many submissions are graded at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jobs {
    /// From the host's cores and memory ([`pool::auto_jobs`]).
    Auto,
    Count(usize),
}

impl Jobs {
    pub fn count(self) -> usize {
        match self {
            Jobs::Auto => pool::auto_jobs(),
            Jobs::Count(n) => n.max(1),
        }
    }
}

impl std::str::FromStr for Jobs {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Jobs, String> {
        if s == "auto" {
            return Ok(Jobs::Auto);
        }
        match s.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Jobs::Count(n)),
            _ => Err(format!(
                "`{s}` is neither `auto` nor a number of jobs (1 or more)"
            )),
        }
    }
}

/// What to grade, and how.
#[derive(Debug, Clone)]
pub struct GradeOptions {
    pub lab: String,
    pub submissions: Vec<PathBuf>,
    pub out: PathBuf,
    /// Submissions graded at once, each on its own desk with its own VMs.
    pub jobs: Jobs,
    pub shard: Option<Shard>,
    pub format: Format,
    /// Seed of the lab parameters drawn per submission; `None`: a random one.
    pub seed: Option<u64>,
}

/// A submission's own name: its file name without the archive extension (not yet safe).
fn submission_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "submission".into());
    [".tar.gz", ".tgz", ".zip"].iter().fold(name, |n, ext| {
        n.strip_suffix(ext).map(str::to_owned).unwrap_or(n)
    })
}

/// Each submission with its results folder name: safe, and distinct from every other's
/// (`crate::lab::naming`). Names are given in the sorted order of the paths, so every shard of
/// a sharded run names every submission the same, whatever order they were listed in.
fn named(submissions: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let mut order: Vec<usize> = (0..submissions.len()).collect();
    order.sort_by(|&a, &b| submissions[a].cmp(&submissions[b]));
    let raws: Vec<String> = order
        .iter()
        .map(|&i| submission_name(&submissions[i]))
        .collect();
    let mut names = vec![String::new(); submissions.len()];
    for (&i, name) in order
        .iter()
        .zip(crate::lab::naming::distinct_folder_names(&raws))
    {
        names[i] = name;
    }
    submissions.iter().cloned().zip(names).collect()
}

/// Grades the submissions; `Ok(false)` when the run was interrupted or a submission could not
/// be graded (its results are written and marked incomplete).
pub fn grade(ws: &Workspace, opts: &GradeOptions) -> Result<bool> {
    let lab = ws.lab(&opts.lab)?;
    if opts.submissions.is_empty() {
        bail!(
            "no submissions given: `cargo xtask grade --lab {} DIR_OR_ARCHIVE...`",
            lab.name
        );
    }
    let shard = match opts.shard {
        Some(s) => Some(s),
        None => Shard::from_env(|k| std::env::var(k).ok())?,
    };
    let all = named(&opts.submissions);
    let submissions = match shard {
        Some(s) => {
            let picked = s.pick(&all);
            ws.reporter().note(format!(
                "shard {}/{}: {} of {} submissions",
                s.index,
                s.total,
                picked.len(),
                opts.submissions.len()
            ));
            picked
        }
        None => all,
    };
    // Every check must say where it looks before anything is graded.
    for task in &lab.manifest.tasks {
        Rubric::of_lab(lab, task)?;
    }
    // Before anything is built or booted: no sandbox, no grading.
    ws.sandbox()?;
    let seed = opts.seed.unwrap_or_else(params::random_seed);
    if !lab.manifest.params.is_empty() {
        ws.reporter().note(format!(
            "lab parameters drawn per submission with seed {seed} (to draw them again: --seed {seed})"
        ));
    }
    let kernel = ws.kernel()?;
    let grading = Grading {
        kernel: &kernel,
        lab,
        skeleton: skeleton_of(ws, lab)?,
        out: &opts.out,
        seed,
        room: room::Room::new(ws)?,
    };
    let jobs = pool::width(opts.jobs.count(), submissions.len());
    ws.reporter().note(format!(
        "grading {} submission(s) of {} with {jobs} job(s)",
        submissions.len(),
        lab.name
    ));
    let desks = (0..jobs)
        .map(|_| desk::Desk::new(ws))
        .collect::<Result<Vec<_>>>()?;
    let graded = pool::run(
        desks,
        &submissions,
        interrupt::requested,
        |desk, _, (path, name)| -> Result<SubmissionGrade> {
            let mut grade = match grade_one(desk, &grading, path, name) {
                Ok(grade) => grade,
                // The grader's own failure (a folder it could not write, an interrupted
                // build): this submission is listed as not graded, the others go on.
                Err(e) => {
                    let why = format!("the grader failed on {}: {e:#}", path.display());
                    desk.ws.reporter().warning(why.clone());
                    not_graded(lab, name, &why)
                }
            };
            // A VM killed by Ctrl-C makes a verdict that says nothing about the student.
            grade.incomplete |= interrupt::requested();
            write_results(&opts.out, &grade)?;
            report_graded(desk.ws.reporter(), &grade);
            Ok(grade)
        },
    );
    let mut grades: Vec<SubmissionGrade> = Vec::new();
    for ((_, name), grade) in submissions.iter().zip(graded) {
        match grade {
            Some(grade) => grades.push(grade?),
            None => {
                // Never started (interrupted): listed, with nothing scored, marked incomplete.
                let grade = not_graded(lab, name, "grading was interrupted before this submission");
                write_results(&opts.out, &grade)?;
                grades.push(grade);
            }
        }
    }
    finish(
        &opts.out,
        &grades,
        &task_ids(lab),
        opts.format,
        ws.reporter(),
        |name| format!("{name}/report.html"),
    )?;
    if interrupt::requested() {
        ws.reporter().warning(format!(
            "grading was interrupted: partial results are marked incomplete in {}",
            opts.out.display()
        ));
        return Ok(false);
    }
    let failed = grades.iter().filter(|g| g.incomplete).count();
    if failed > 0 {
        ws.reporter().warning(format!(
            "{failed} submission(s) could not be graded (marked incomplete in {}): see the warnings above, then grade them again",
            opts.out.display()
        ));
        return Ok(false);
    }
    Ok(true)
}

/// A submission listed with nothing scored, marked incomplete, saying why.
fn not_graded(lab: &crate::lab::manifest::Lab, name: &str, why: &str) -> SubmissionGrade {
    SubmissionGrade {
        name: name.to_owned(),
        lab: lab.name.clone(),
        tasks: zero_grade(lab, "NOT GRADED", why),
        notes: vec![format!("not graded: {why}")],
        execution_time: Duration::ZERO,
        incomplete: true,
        params: None,
    }
}

fn report_graded(reporter: &dyn Reporter, grade: &SubmissionGrade) {
    reporter.report(Event::Graded {
        submission: grade.name.clone(),
        score: grade.score(),
        max_score: grade.max_score(),
    });
}

/// `grade --merge DIR...`: joins the shards' results into one summary and CSV.
pub fn merge(
    ws: &Workspace,
    lab: &str,
    dirs: &[PathBuf],
    out: &Path,
    format: Format,
) -> Result<bool> {
    let lab = ws.lab(lab)?;
    let mut grades = Vec::new();
    // Where each submission's page is: in its shard's folder.
    let mut pages = std::collections::BTreeMap::new();
    for dir in dirs {
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let folder = entry?.path();
            let file = folder.join("grade.json");
            if file.is_file() {
                let text = std::fs::read_to_string(&file)?;
                let grade = serde_json::from_str::<SubmissionGrade>(&text)
                    .with_context(|| format!("parsing {}", file.display()))?;
                pages.insert(
                    grade.name.clone(),
                    link_from(out, &folder.join("report.html")),
                );
                grades.push(grade);
            }
        }
    }
    grades.sort_by(|a, b| a.name.cmp(&b.name));
    ws.reporter().note(format!(
        "merged {} submission(s) from {} folder(s)",
        grades.len(),
        dirs.len()
    ));
    finish(
        out,
        &grades,
        &task_ids(lab),
        format,
        ws.reporter(),
        |name| pages.get(name).cloned().unwrap_or_default(),
    )?;
    Ok(true)
}

/// A link from a page in `out` to `page`: relative when `page` is inside `out`, else its
/// absolute path (a page opened from a file resolves both).
fn link_from(out: &Path, page: &Path) -> String {
    let abs = |p: &Path| {
        std::fs::canonicalize(p)
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let (out, page) = (abs(out), abs(page));
    match page.strip_prefix(&out) {
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => page.to_string_lossy().into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_points_fall_a_fifth_per_finding_and_scale_with_the_tasks_points_earned() {
        use crate::build::style::Finding;
        use crate::judge::rubric::CheckScore;
        use crate::report::TaskGrade;
        let task = |earned: f64| TaskGrade {
            id: "lab/t".into(),
            status: "PASS".into(),
            explanation: String::new(),
            checks: vec![CheckScore {
                name: "c".into(),
                points: earned,
                max_points: 4.0,
                passed: earned == 4.0,
                visibility: Default::default(),
                hint: None,
            }],
            mismatch: None,
            warnings: vec![],
            duration: std::time::Duration::ZERO,
            console_log: None,
        };
        let finding = Finding {
            file: "skels/lab/t/a.c".into(),
            line: Some(3),
            tool: "checkpatch",
            message: "WARNING:X: y".into(),
        };
        let score = |earned: f64, n: usize| {
            let findings = vec![&finding; n];
            let g = submission::style_grade("lab", 2.0, &[task(earned)], &findings);
            assert_eq!(g.id, "lab/style");
            assert_eq!(g.checks[0].max_points, 2.0);
            g.checks[0].points
        };
        assert_eq!(score(4.0, 0), 2.0);
        assert_eq!(score(4.0, 1), 1.6);
        assert_eq!(score(4.0, 5), 0.0);
        assert_eq!(score(4.0, 9), 0.0);
        assert_eq!(
            score(2.0, 0),
            1.0,
            "half the tasks' points, half the style points"
        );
        assert_eq!(
            score(0.0, 0),
            0.0,
            "a clean, untouched skeleton earns nothing"
        );
        let g = submission::style_grade("lab", 2.0, &[task(4.0)], &[&finding]);
        assert!(g
            .explanation
            .contains("skels/lab/t/a.c:3: checkpatch: WARNING:X: y"));
    }

    fn names_of(paths: &[&str]) -> Vec<String> {
        let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        named(&paths).into_iter().map(|(_, name)| name).collect()
    }

    #[test]
    fn submissions_whose_names_collide_get_distinct_folders_whatever_their_order() {
        assert_eq!(
            names_of(&["in/a/x", "in/b/x-3.zip", "in/c/x.tar.gz"]),
            ["x", "x-3", "x-2"]
        );
        // Listed in another order (another shard's command line): the same folder each.
        assert_eq!(
            names_of(&["in/c/x.tar.gz", "in/a/x", "in/b/x-3.zip"]),
            ["x-2", "x", "x-3"]
        );
        assert_eq!(
            names_of(&["in/..zip", "in/.zip"]),
            ["submission-.", "submission"]
        );
    }
}
