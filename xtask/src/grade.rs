//! `cargo xtask grade`: many untrusted submissions, scores, machine-readable results.
//!
//! Each submission is taken in by `checker::submission` (only the files the manifest names;
//! everything else comes from the generated skeleton), then built, booted and checked like
//! `check` does, in its own stage, image and VMs. Results are written atomically per
//! submission as soon as it is graded, so an interrupted run keeps what it finished.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use checker::manifest::Lab;
use checker::params::{self, Draw};
use checker::report::{self, SubmissionGrade, TaskGrade};
use checker::rubric;
use checker::selection::select;
use checker::shard::Shard;
use checker::submission::{self, Limits};
use checker::verdict::Outcome;

use crate::build::SourceRoot;
use crate::check::{self, SnapshotMode};
use crate::kernel::KernelTree;
use crate::Ctx;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
fn skeleton_of(ctx: &Ctx, lab: &Lab) -> Result<BTreeMap<(String, String), Vec<u8>>> {
    let mut files = BTreeMap::new();
    for task in &lab.manifest.tasks {
        for (rel, content) in
            crate::skels_cmd::skeleton_files(&ctx.paths, &lab.name, &task.name, 1)?
        {
            files.insert(
                (task.name.clone(), rel.to_string_lossy().into_owned()),
                content,
            );
        }
    }
    Ok(files)
}

fn submission_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "submission".into());
    let name = [".tar.gz", ".tgz", ".zip"].iter().fold(name, |n, ext| {
        n.strip_suffix(ext).map(str::to_owned).unwrap_or(n)
    });
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn zero_grade(lab: &Lab, status: &str, why: &str) -> Vec<TaskGrade> {
    lab.manifest
        .tasks
        .iter()
        .map(|task| TaskGrade {
            id: format!("{}/{}", lab.name, task.name),
            status: status.into(),
            explanation: why.into(),
            checks: rubric::score(task, None, false),
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

#[allow(clippy::too_many_arguments)]
fn grade_one(
    ctx: &Ctx,
    kernel: &KernelTree,
    lab: &Lab,
    skeleton: &BTreeMap<(String, String), Vec<u8>>,
    path: &Path,
    name: &str,
    out: &Path,
    seed: u64,
) -> Result<SubmissionGrade> {
    let start = Instant::now();
    let work = ctx.paths.out.join("grade").join(name);
    let _ = std::fs::remove_dir_all(&work);
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
    // The process id keeps concurrent graders in one checkout (CI shards, a course's
    // parallel jobs) out of each other's stages and images when submissions share names.
    let source = SourceRoot {
        label: format!("grade-{}-{name}", std::process::id()),
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
    let verdicts = check::run_tasks(
        &ctx.paths,
        &source,
        &launch,
        &prepared,
        SnapshotMode::Compare,
        false,
        None,
    )?;
    let mut tasks = Vec::new();
    for (prepared, verdict) in prepared.iter().zip(&verdicts) {
        let whole = matches!(verdict.outcome, Outcome::Pass);
        let record = match verdict.outcome {
            Outcome::Pass | Outcome::Mismatch { .. } | Outcome::NoSnapshot => {
                verdict.record.as_ref()
            }
            _ => None,
        };
        let mut explanation = verdict.explain();
        for w in &verdict.warnings {
            explanation.push_str(&format!("\n  warning: {w}"));
        }
        // Rubric blocks hold placeholders as snapshots do: filled in with this run's values.
        let mut task = prepared.sel.task.clone();
        for check in &mut task.checks {
            check.block = prepared.params.expand(&check.block);
        }
        tasks.push(TaskGrade {
            id: verdict.id.clone(),
            status: verdict.status().into(),
            explanation,
            checks: rubric::score(&task, record, whole),
            duration: verdict.duration,
        });
        if let Some(record) = &verdict.record {
            write_atomic(
                &out.join(name)
                    .join(format!("{}.record.txt", prepared.sel.task.name)),
                record.body.as_bytes(),
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
    // Results and logs are saved: the per-submission build stage, image, VM logs and
    // unpacked files go, so that grading hundreds of submissions does not fill the disk.
    for leftover in [
        work.clone(),
        ctx.paths.out.join("stage").join(&source.label),
        ctx.paths.out.join("runs").join(&source.label),
        ctx.paths.out.join(format!("initrd-{}.cpio", source.label)),
        ctx.paths.out.join(format!("lab-{}.img", source.label)),
    ] {
        let _ = std::fs::remove_dir_all(&leftover).or_else(|_| std::fs::remove_file(&leftover));
    }
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

pub fn run(ctx: &Ctx, opts: GradeOptions) -> Result<bool> {
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
    let submissions = match shard {
        Some(s) => {
            let picked = s.pick(&opts.submissions);
            eprintln!(
                "==> shard {}/{}: {} of {} submissions",
                s.index,
                s.total,
                picked.len(),
                opts.submissions.len()
            );
            picked
        }
        None => opts.submissions.clone(),
    };
    let seed = opts.seed.unwrap_or_else(params::random_seed);
    if !lab.manifest.params.is_empty() {
        eprintln!(
            "==> lab parameters drawn per submission with seed {seed} (to draw them again: --seed {seed})"
        );
    }
    let kernel = ctx.kernel()?;
    let skeleton = skeleton_of(ctx, lab)?;
    let mut names: Vec<String> = Vec::new();
    for path in &submissions {
        let mut name = submission_name(path);
        if names.contains(&name) {
            name = format!("{name}-{}", names.len() + 1);
        }
        names.push(name);
    }
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
    let (next, shared, submissions, names, skeleton, kernel) =
        (&next, &results, &submissions, &names, &skeleton, &kernel);
    let out = &opts.out;
    std::thread::scope(|scope| -> Result<()> {
        let mut handles = Vec::new();
        for worker in workers {
            handles.push(scope.spawn(move || -> Result<()> {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if crate::INTERRUPTED.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    let Some(path) = submissions.get(i) else {
                        return Ok(());
                    };
                    let mut grade =
                        grade_one(&worker, kernel, lab, skeleton, path, &names[i], out, seed)
                            .with_context(|| format!("grading {}", path.display()))?;
                    // A VM killed by Ctrl-C makes a verdict that says nothing about the student.
                    grade.incomplete = crate::INTERRUPTED.load(Ordering::SeqCst);
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
    if crate::INTERRUPTED.load(Ordering::SeqCst) {
        eprintln!(
            "grading was interrupted: partial results are marked incomplete in {}",
            opts.out.display()
        );
        return Ok(false);
    }
    Ok(true)
}

/// `grade --merge DIR...`: joins the shards' results into one summary and CSV.
pub fn merge(ctx: &Ctx, lab: &str, dirs: &[PathBuf], out: &Path, format: Format) -> Result<bool> {
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
