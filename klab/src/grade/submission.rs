//! One submission graded: taken in (only the files the manifest names, the skeleton for the
//! rest) in a private folder outside the repository, through the pipeline with its drawn
//! parameters and a fresh VM per task, scored by the rubric; its records and console logs
//! saved beside its results.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use super::desk::Desk;
use crate::atomic_file;
use crate::build::style::Finding;
use crate::build::SourceRoot;
use crate::judge::rubric::CheckScore;
use crate::judge::rubric::{self, Rubric};
use crate::kernel::KernelTree;
use crate::lab::manifest::Lab;
use crate::lab::params::{self, Draw};
use crate::lab::submission::{self, Limits};
use crate::paths::{Origin, RunLabel};
use crate::report::{SubmissionGrade, TaskGrade};
use crate::run::pipeline::Start;
use crate::run::tasks::{SnapshotMode, VmPolicy};
use crate::run::Workspace;

/// What every submission of a run is graded with.
pub(super) struct Grading<'a> {
    pub kernel: &'a KernelTree,
    pub lab: &'a Lab,
    pub skeleton: BTreeMap<(String, String), Vec<u8>>,
    /// Where results go.
    pub out: &'a Path,
    /// The run's seed of the lab parameters.
    pub seed: u64,
    /// Where every submission is built, one at a time.
    pub room: super::room::Room,
}

/// The generated skeleton of every task: `(task, relative path) → bytes`.
pub(super) fn skeleton_of(
    ctx: &Workspace,
    lab: &Lab,
) -> Result<BTreeMap<(String, String), Vec<u8>>> {
    let mut files = BTreeMap::new();
    for task in &lab.manifest.tasks {
        for (rel, content) in
            crate::lab::skeletons::skeleton_files(&ctx.paths, &lab.name, &task.name, 1)?
        {
            files.insert(
                (task.name.clone(), rel.to_string_lossy().into_owned()),
                content,
            );
        }
    }
    Ok(files)
}

pub(super) fn zero_grade(lab: &Lab, status: &str, why: &str) -> Vec<TaskGrade> {
    let mut tasks: Vec<TaskGrade> = lab
        .manifest
        .tasks
        .iter()
        .map(|task| TaskGrade {
            id: format!("{}/{}", lab.name, task.name),
            status: status.into(),
            explanation: why.into(),
            mismatch: None,
            warnings: vec![],
            checks: rubric::zero(task),
            duration: std::time::Duration::ZERO,
            console_log: None,
        })
        .collect();
    // Every submission has the same tests, so every max_score is the same.
    if lab.manifest.grading.style_points > 0.0 {
        let style = style_grade(&lab.name, lab.manifest.grading.style_points, &tasks, &[]);
        tasks.push(style);
    }
    tasks
}

/// The parameters submission `name` is graded with (`None`: the lab has none).
fn draw_for(lab: &Lab, seed: u64, name: &str) -> Result<Option<Draw>> {
    let declared = &lab.manifest.params;
    if declared.is_empty() {
        return Ok(None);
    }
    let values = declared
        .draw(params::submission_seed(seed, name))
        .with_context(|| format!("drawing the parameters of labs/{}/lab.toml", lab.name))?;
    Ok(Some(Draw { seed, values }))
}

pub(super) fn grade_one(
    desk: &Desk,
    grading: &Grading,
    path: &Path,
    name: &str,
) -> Result<SubmissionGrade> {
    let start = Instant::now();
    // Everything of this submission's (unpacked files, stage, image, VM logs) lives in the
    // desk, a private folder outside the repository, emptied when it is graded: a build sees
    // none of the repository, and no submission sees another's files.
    desk.clear()?;
    let graded = grade_on_desk(desk, grading, path, name, start);
    // The clear before the next submission is what keeps submissions apart; this one only
    // frees the space early, and must not cost a finished grade.
    if let Err(e) = desk.clear() {
        desk.ws
            .reporter()
            .warning(format!("emptying a grading desk: {e:#}"));
    }
    graded
}

fn grade_on_desk(
    desk: &Desk,
    grading: &Grading,
    path: &Path,
    name: &str,
    start: Instant,
) -> Result<SubmissionGrade> {
    let (kernel, lab, skeleton, out) =
        (grading.kernel, grading.lab, &grading.skeleton, grading.out);
    let seed = grading.seed;
    let work = desk.path().to_path_buf();
    let ctx = &desk.ws;
    let mut notes = Vec::new();
    let unpacked = match submission::open(path, &work.join("unpacked"), lab, Limits::default()) {
        Ok(u) => u,
        Err(rejected) => {
            notes.push(format!("submission rejected: {rejected}"));
            let tasks = zero_grade(lab, "REJECTED", &rejected.0);
            return Ok(SubmissionGrade {
                name: name.into(),
                lab: lab.name.clone(),
                tasks,
                notes,
                execution_time: start.elapsed(),
                incomplete: false,
                params: None,
            });
        }
    };
    let src = work.join("src");
    let mut wanted_all = Vec::new();
    for task in &lab.manifest.tasks {
        let task_src = src.join(&lab.name).join(&task.name);
        for ((_, rel), bytes) in skeleton.iter().filter(|((t, _), _)| t == &task.name) {
            atomic_file::write(&task_src.join(rel), bytes)?;
        }
        let template_dir = ctx.paths.templates.join(&lab.name).join(&task.name);
        let wanted = submission::student_files(task, &template_dir);
        let taken = submission::take(&unpacked.lab_root, task, &wanted, Limits::default());
        for (rel, bytes) in &taken.files {
            atomic_file::write(&task_src.join(rel), bytes)?;
        }
        notes.extend(
            taken
                .missing
                .iter()
                .map(|m| format!("missing (the skeleton was used): {m}")),
        );
        notes.extend(taken.refused.iter().map(|r| format!("refused: {r}")));
        wanted_all.push((task.name.clone(), wanted));
    }
    let ignored = submission::ignored(&unpacked.lab_root, &wanted_all);
    if !ignored.is_empty() {
        notes.push(format!("ignored (not graded): {}", ignored.join(", ")));
    }

    // Built in the build room, then staged, imaged and run on the desk: the label names the
    // stage, image and VM folders, all inside private folders no other grader, check or
    // submission shares.
    let source = SourceRoot {
        label: RunLabel::new(Origin::Graded(name.to_owned())),
        dir: src,
    };
    let draw = draw_for(lab, seed, name)?;
    let built = grading.room.build(grading, &work, source.label.clone())?;
    let mut staged = ctx.stage_built(kernel, source, built, Start::Harness)?;
    if let Some(draw) = &draw {
        staged = staged.with_params(&draw.values);
    }
    // A fresh VM per task: nothing one task's module leaves behind shapes the next verdict.
    let verdicts = staged.run(ctx, SnapshotMode::Compare, VmPolicy::FreshPerTask)?;
    let prepared = &staged.tasks;
    let mut tasks = Vec::new();
    for (prepared, verdict) in prepared.iter().zip(&verdicts) {
        let rubric = Rubric::of_lab(lab, prepared.sel.task)?;
        tasks.push(TaskGrade::of(
            verdict,
            rubric.score_verdict_with(verdict, &prepared.params),
            TaskGrade::explanation_of(verdict),
            verdict.console_log.as_deref().map(saved_log_name),
        ));
        if let Some(record) = &verdict.record {
            atomic_file::write(
                &out.join(name)
                    .join(format!("{}.record.txt", prepared.sel.task.name)),
                record.snapshot().body.as_bytes(),
            )?;
        }
    }
    for log in verdicts
        .iter()
        .filter_map(|v| v.console_log.clone())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if let Ok(bytes) = std::fs::read(&log) {
            atomic_file::write(&out.join(name).join(saved_log_name(&log)), &bytes)?;
        }
    }
    let style_points = lab.manifest.grading.style_points;
    if style_points > 0.0 {
        let findings: Vec<&Finding> = staged.tasks.iter().flat_map(|p| &p.style).collect();
        tasks.push(style_grade(&lab.name, style_points, &tasks, &findings));
    }
    // Results and logs are saved; the desk is emptied by `grade_one`.
    Ok(SubmissionGrade {
        name: name.into(),
        lab: lab.name.clone(),
        tasks,
        notes,
        execution_time: start.elapsed(),
        incomplete: false,
        params: draw,
    })
}

/// The name a VM's console log (`…/runs/<label>/vm-N/console.log`) is saved under in the
/// submission's results folder: `vm-N.console.log`.
fn saved_log_name(log: &Path) -> String {
    let vm = log
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{vm}.console.log")
}

/// The style test of a lab with `[grading] style_points`: a fifth of the points off per
/// finding, none from five on, and scaled by the share of the tasks' points earned, so that
/// an untouched skeleton (clean, and worth nothing) earns no style points either.
pub(super) fn style_grade(
    lab: &str,
    points: f64,
    tasks: &[TaskGrade],
    findings: &[&Finding],
) -> TaskGrade {
    let (earned, max): (f64, f64) = tasks
        .iter()
        .flat_map(|t| &t.checks)
        .fold((0.0, 0.0), |(e, m), c| (e + c.points, m + c.max_points));
    let share = if max > 0.0 { earned / max } else { 0.0 };
    let clean = (1.0 - findings.len() as f64 / 5.0).max(0.0);
    let score = ((points * clean * share) * 100.0).round() / 100.0;
    let mut explanation: Vec<String> = findings.iter().map(|f| f.to_string()).collect();
    if share < 1.0 {
        explanation.push(format!(
            "style points are scaled by the share of the tasks' points earned ({:.0}%)",
            share * 100.0
        ));
    }
    TaskGrade {
        id: format!("{lab}/style"),
        status: if findings.is_empty() { "PASS" } else { "FAIL" }.into(),
        explanation: explanation.join("\n"),
        checks: vec![CheckScore {
            name: "kernel style (checkpatch, rustfmt, rustc and clippy warnings)".into(),
            points: score,
            max_points: points,
            passed: findings.is_empty() && score == points,
            visibility: Default::default(),
            hint: None,
        }],
        mismatch: None,
        warnings: vec![],
        duration: std::time::Duration::ZERO,
        console_log: None,
    }
}
