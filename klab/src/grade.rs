//! `cargo xtask grade`: many untrusted submissions, scores, machine-readable results.
//!
//! Each submission is taken in by `crate::lab::submission` (only the files the manifest names;
//! everything else comes from the generated skeleton), then built, booted and checked like
//! `check` does, in its own stage, image and VMs: a fresh VM for every task. Results are
//! written atomically per submission as soon as it is graded, so an interrupted run keeps
//! what it finished.

pub mod shard;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::grade::shard::Shard;
use crate::judge::rubric::{self, Rubric};
use crate::lab::manifest::Lab;
use crate::lab::params::{self, Draw};
use crate::lab::selection::select;
use crate::lab::submission::{self, Limits};
use crate::report::{self, SubmissionGrade, TaskGrade};
use anyhow::{bail, Context, Result};

use crate::build::SourceRoot;
use crate::kernel::KernelTree;
use crate::run::tasks::{self, SnapshotMode};
use crate::run::Workspace;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    /// Progress and a summary table on the terminal.
    Human,
    /// A KTAP stream on stdout (progress goes to stderr).
    Tap,
}

pub struct GradeOptions {
    pub lab: String,
    pub submissions: Vec<PathBuf>,
    pub out: PathBuf,
    pub jobs: usize,
    pub shard: Option<Shard>,
    pub format: Format,
    /// Seed of the lab parameters drawn per submission; `None`: a random one.
    pub seed: Option<u64>,
}

/// Writes through a temporary file and a rename: a crash never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// The generated skeleton of every task: `(task, relative path) → bytes`.
fn skeleton_of(ctx: &Workspace, lab: &Lab) -> Result<BTreeMap<(String, String), Vec<u8>>> {
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

/// What every submission of a run is graded with.
struct Grading<'a> {
    kernel: &'a KernelTree,
    lab: &'a Lab,
    skeleton: &'a BTreeMap<(String, String), Vec<u8>>,
    /// Where results go.
    out: &'a Path,
    /// The run's seed of the lab parameters.
    seed: u64,
}

fn zero_grade(lab: &Lab, status: &str, why: &str) -> Vec<TaskGrade> {
    lab.manifest
        .tasks
        .iter()
        .map(|task| TaskGrade {
            id: format!("{}/{}", lab.name, task.name),
            status: status.into(),
            explanation: why.into(),
            checks: rubric::zero(task),
            duration: std::time::Duration::ZERO,
        })
        .collect()
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

fn grade_one(
    ctx: &Workspace,
    grading: &Grading,
    path: &Path,
    name: &str,
) -> Result<SubmissionGrade> {
    let (kernel, lab, skeleton, out) = (grading.kernel, grading.lab, grading.skeleton, grading.out);
    let seed = grading.seed;
    let start = Instant::now();
    // Everything of this submission's (unpacked files, stage, image, VM logs) lives in a
    // private folder outside the repository, removed when it is graded: a build sees none of
    // the repository, and no submission sees another's files.
    let private = tempfile::Builder::new()
        .prefix("klab-grade-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .context("making a private folder for the submission")?;
    let work = private.path().to_path_buf();
    let ctx = &ctx.working_in(&work)?;
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
            write_atomic(&task_src.join(rel), bytes)?;
        }
        let template_dir = ctx.paths.templates.join(&lab.name).join(&task.name);
        let wanted = submission::student_files(task, &template_dir);
        let taken = submission::take(&unpacked.lab_root, task, &wanted, Limits::default());
        for (rel, bytes) in &taken.files {
            write_atomic(&task_src.join(rel), bytes)?;
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

    let selected = select(
        std::slice::from_ref(lab),
        std::slice::from_ref(&lab.name),
        None,
    )?;
    // The label names the stage, image and VM folders, all inside the private folder: no
    // other grader, check or submission shares them.
    let source = SourceRoot {
        label: format!("grade-{name}"),
        dir: src,
    };
    let mut prepared = ctx.build_all(kernel, &source, selected)?;
    let draw = draw_for(lab, seed, name)?;
    if let Some(draw) = &draw {
        prepared
            .iter_mut()
            .for_each(|p| p.params = draw.values.clone());
    }
    let files = ctx.copy(&source, &prepared)?;
    let launch = ctx.launch(kernel, &files);
    // A fresh VM per task: nothing one task's module leaves behind shapes the next verdict.
    let how = tasks::RunOptions {
        mode: SnapshotMode::Compare,
        policy: tasks::VmPolicy::FreshPerTask,
        print: false,
    };
    let sandbox = ctx.sandbox()?;
    let verdicts = tasks::run_tasks(&ctx.paths, &sandbox, &source, &launch, &prepared, how, None)?;
    let mut tasks = Vec::new();
    for (prepared, verdict) in prepared.iter().zip(&verdicts) {
        let rubric = Rubric::of_lab(lab, prepared.sel.task)?;
        let mut explanation = verdict.explain();
        for w in &verdict.warnings {
            explanation.push_str(&format!("\n  warning: {w}"));
        }
        // Rubric blocks hold placeholders as snapshots do: filled in with this run's values,
        // each check still looking in the section its block has in the reviewed snapshot.
        let mut task = prepared.sel.task.clone();
        for check in &mut task.checks {
            check.block = prepared.params.expand(&check.block);
        }
        let filled = Rubric {
            task: &task,
            sections: rubric.sections.clone(),
        };
        tasks.push(TaskGrade {
            id: verdict.id.clone(),
            status: verdict.status().into(),
            explanation,
            checks: filled.score_verdict(verdict),
            duration: verdict.duration,
        });
        if let Some(record) = &verdict.record {
            write_atomic(
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
        let vm = log
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Ok(bytes) = std::fs::read(&log) {
            write_atomic(&out.join(name).join(format!("{vm}.console.log")), &bytes)?;
        }
    }
    // Results and logs are saved; the private folder goes with `private`.
    drop(private);
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

fn write_results(out: &Path, grade: &SubmissionGrade) -> Result<()> {
    let dir = out.join(&grade.name);
    write_atomic(
        &dir.join("results.json"),
        serde_json::to_string_pretty(&report::gradescope(grade))?.as_bytes(),
    )?;
    write_atomic(&dir.join("junit.xml"), report::junit(grade).as_bytes())?;
    write_atomic(
        &dir.join("grade.json"),
        serde_json::to_string_pretty(grade)?.as_bytes(),
    )?;
    Ok(())
}

fn task_ids(lab: &Lab) -> Vec<String> {
    lab.manifest
        .tasks
        .iter()
        .map(|t| format!("{}/{}", lab.name, t.name))
        .collect()
}

fn finish(out: &Path, grades: &[SubmissionGrade], ids: &[String], format: Format) -> Result<()> {
    write_atomic(&out.join("scores.csv"), report::csv(grades, ids).as_bytes())?;
    match format {
        Format::Tap => print!("{}", report::ktap(grades)),
        Format::Human => {
            println!();
            print!("{}", report::summary_table(grades, ids));
            println!(
                "results: {} (results.json, junit.xml per submission; scores.csv)",
                out.display()
            );
        }
    }
    Ok(())
}

pub fn run(ctx: &Workspace, opts: GradeOptions) -> Result<bool> {
    let lab = ctx.lab(&opts.lab)?;
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
            eprintln!(
                "==> shard {}/{}: {} of {} submissions",
                s.index,
                s.total,
                picked.len(),
                opts.submissions.len()
            );
            picked
        }
        None => all,
    };
    let (submissions, names): (Vec<PathBuf>, Vec<String>) = submissions.into_iter().unzip();
    // Every check must say where it looks before anything is graded.
    for task in &lab.manifest.tasks {
        Rubric::of_lab(lab, task)?;
    }
    // Before anything is built or booted: no sandbox, no grading.
    ctx.sandbox()?;
    let seed = opts.seed.unwrap_or_else(params::random_seed);
    if !lab.manifest.params.is_empty() {
        eprintln!(
            "==> lab parameters drawn per submission with seed {seed} (to draw them again: --seed {seed})"
        );
    }
    let kernel = ctx.kernel()?;
    let skeleton = skeleton_of(ctx, lab)?;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<SubmissionGrade>>> = Mutex::new(vec![None; submissions.len()]);
    let jobs = opts.jobs.max(1).min(submissions.len().max(1));
    eprintln!(
        "==> grading {} submission(s) of {} with {jobs} job(s)",
        submissions.len(),
        lab.name
    );
    let workers = (0..jobs)
        .map(|_| ctx.worker())
        .collect::<Result<Vec<_>>>()?;
    let grading = Grading {
        kernel: &kernel,
        lab,
        skeleton: &skeleton,
        out: &opts.out,
        seed,
    };
    let (next, shared, submissions, names, grading) =
        (&next, &results, &submissions, &names, &grading);
    let out = &opts.out;
    std::thread::scope(|scope| -> Result<()> {
        let mut handles = Vec::new();
        for worker in workers {
            handles.push(scope.spawn(move || -> Result<()> {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if crate::run::interrupt::requested() {
                        return Ok(());
                    }
                    let Some(path) = submissions.get(i) else {
                        return Ok(());
                    };
                    let mut grade = grade_one(&worker, grading, path, &names[i])
                        .with_context(|| format!("grading {}", path.display()))?;
                    // A VM killed by Ctrl-C makes a verdict that says nothing about the student.
                    grade.incomplete = crate::run::interrupt::requested();
                    write_results(out, &grade)?;
                    eprintln!(
                        "    {}: {}/{}",
                        grade.name,
                        report::fmt_points(grade.score()),
                        report::fmt_points(grade.max_score())
                    );
                    shared.lock().unwrap()[i] = Some(grade);
                }
            }));
        }
        for h in handles {
            h.join().expect("a grading worker panicked")?;
        }
        Ok(())
    })?;
    let mut grades: Vec<SubmissionGrade> = Vec::new();
    for (i, grade) in results.into_inner().unwrap().into_iter().enumerate() {
        match grade {
            Some(g) => grades.push(g),
            None => {
                // Never started (interrupted): listed, with nothing scored, marked incomplete.
                let tasks = zero_grade(
                    lab,
                    "NOT GRADED",
                    "grading was interrupted before this submission",
                );
                let grade = SubmissionGrade {
                    name: names[i].clone(),
                    lab: lab.name.clone(),
                    tasks,
                    notes: vec!["not graded: the run was interrupted".into()],
                    execution_time: std::time::Duration::ZERO,
                    incomplete: true,
                    params: None,
                };
                write_results(&opts.out, &grade)?;
                grades.push(grade);
            }
        }
    }
    finish(&opts.out, &grades, &task_ids(lab), opts.format)?;
    if crate::run::interrupt::requested() {
        eprintln!(
            "grading was interrupted: partial results are marked incomplete in {}",
            opts.out.display()
        );
        return Ok(false);
    }
    Ok(true)
}

/// `grade --merge DIR...`: joins the shards' results into one summary and CSV.
pub fn merge(
    ctx: &Workspace,
    lab: &str,
    dirs: &[PathBuf],
    out: &Path,
    format: Format,
) -> Result<bool> {
    let lab = ctx.lab(lab)?;
    let mut grades = Vec::new();
    for dir in dirs {
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let file = entry?.path().join("grade.json");
            if file.is_file() {
                let text = std::fs::read_to_string(&file)?;
                grades.push(
                    serde_json::from_str::<SubmissionGrade>(&text)
                        .with_context(|| format!("parsing {}", file.display()))?,
                );
            }
        }
    }
    grades.sort_by(|a, b| a.name.cmp(&b.name));
    eprintln!(
        "==> merged {} submission(s) from {} folder(s)",
        grades.len(),
        dirs.len()
    );
    finish(out, &grades, &task_ids(lab), format)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

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
