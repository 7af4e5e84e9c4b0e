//! `cargo xtask skels`: student skeletons from the templates, never clobbering a student's work.
//!
//! Each generated task folder holds `.klab-skel`, the hashes of what was generated. A file
//! whose content no longer matches is the student's work: regenerating refuses to touch it
//! unless `--force`, and then keeps it as `FILE.orig`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::lab::markers::{skeletonize, SourceKind};
use crate::lab::selection::Selected;
use anyhow::{bail, Context, Result};

use crate::events::Reporter;
use crate::kernel::fnv64;
use crate::paths::Paths;

const STAMP: &str = ".klab-skel";

struct Planned {
    dest: PathBuf,
    content: Vec<u8>,
}

/// The skeleton of one task: `(path relative to the task folder, content)` per template file.
pub fn skeleton_files(
    paths: &Paths,
    lab: &str,
    task: &str,
    keep_below: u32,
) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let src = paths.templates.join(lab).join(task);
    if !src.is_dir() {
        bail!(
            "{} does not exist: the lab manifest lists task `{task}`",
            paths.show(&src)
        );
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&src).sort_by_file_name() {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(&src)?.to_path_buf();
        // `cargo xtask ide --solution` writes them into templates/: they name those files.
        if crate::ide::is_editor_file(&rel) {
            continue;
        }
        let bytes = std::fs::read(entry.path())
            .with_context(|| format!("reading {}", paths.show(entry.path())))?;
        let kind = SourceKind::of_file_name(&entry.file_name().to_string_lossy());
        let content = match (kind, String::from_utf8(bytes.clone())) {
            (SourceKind::Verbatim, _) | (_, Err(_)) => bytes,
            (kind, Ok(text)) => skeletonize(kind, &text, keep_below)
                .map_err(|e| {
                    anyhow::anyhow!("{}:{}: {}", paths.show(entry.path()), e.line, e.message)
                })?
                .into_bytes(),
        };
        files.push((rel, content));
    }
    Ok(files)
}

fn plan_task(paths: &Paths, sel: &Selected, keep_below: u32) -> Result<Vec<Planned>> {
    let dest_dir = paths.skels.join(&sel.lab.name).join(&sel.task.name);
    Ok(
        skeleton_files(paths, &sel.lab.name, &sel.task.name, keep_below)?
            .into_iter()
            .map(|(rel, content)| Planned {
                dest: dest_dir.join(rel),
                content,
            })
            .collect(),
    )
}

fn read_stamp(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(dir.join(STAMP))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn hash(bytes: &[u8]) -> String {
    format!("{:016x}", fnv64(&[bytes]))
}

pub fn generate(
    paths: &Paths,
    selected: &[Selected],
    keep_below: u32,
    force: bool,
    reporter: &dyn Reporter,
) -> Result<()> {
    // Validate every template before writing anything.
    let mut plans = Vec::new();
    for sel in selected {
        plans.push((sel, plan_task(paths, sel, keep_below)?));
    }
    let mut edited = Vec::new();
    for (sel, planned) in &plans {
        let dir = paths.skels.join(&sel.lab.name).join(&sel.task.name);
        let stamp = read_stamp(&dir);
        for p in planned {
            let Ok(existing) = std::fs::read(&p.dest) else {
                continue;
            };
            if existing == p.content {
                continue;
            }
            let rel = p.dest.strip_prefix(&dir)?.to_string_lossy().into_owned();
            if stamp.get(&rel) != Some(&hash(&existing)) {
                edited.push(p.dest.clone());
            }
        }
    }
    if !edited.is_empty() && !force {
        let list: Vec<String> = edited.iter().map(|p| paths.show(p)).collect();
        bail!(
            "these skeleton files hold your edits and were left alone:\n  {}\nto regenerate anyway, run again with --force (each edited file is kept as FILE.orig)",
            list.join("\n  ")
        );
    }
    for (sel, planned) in &plans {
        let dir = paths.skels.join(&sel.lab.name).join(&sel.task.name);
        let mut stamp = BTreeMap::new();
        for p in planned {
            if let Some(parent) = p.dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            if edited.contains(&p.dest) {
                let mut backup = p.dest.clone().into_os_string();
                backup.push(".orig");
                std::fs::rename(&p.dest, &backup)?;
                reporter.note(format!(
                    "kept your edited {} as {}.orig",
                    paths.show(&p.dest),
                    paths.show(&p.dest)
                ));
            }
            if std::fs::read(&p.dest).ok().as_deref() != Some(&p.content[..]) {
                std::fs::write(&p.dest, &p.content)
                    .with_context(|| format!("writing {}", paths.show(&p.dest)))?;
            }
            let rel = p.dest.strip_prefix(&dir)?.to_string_lossy().into_owned();
            stamp.insert(rel, hash(&p.content));
        }
        std::fs::write(dir.join(STAMP), serde_json::to_string_pretty(&stamp)?)?;
        reporter.note(format!("{}: {} files", paths.show(&dir), planned.len()));
    }
    Ok(())
}
