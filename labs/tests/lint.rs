//! Every lab must be complete and consistent: a manifest that loads, a template and a test
//! script per task, a reviewed snapshot per task, a student README, and templates whose TODO
//! markers parse and actually remove something. No VM needed.

use std::path::{Path, PathBuf};

use klab::judge::snapshot::Snapshot;
use klab::lab::manifest::{Lab, TaskManifest};
use klab::lab::markers::{skeletonize, SourceKind};

mod support;

use support::{labs, root};

fn template_dir(lab: &Lab, task: &TaskManifest) -> PathBuf {
    root().join("templates").join(&lab.name).join(&task.name)
}

#[test]
fn there_are_labs_and_each_has_a_readme() {
    let labs = labs();
    assert!(
        labs.len() >= 2,
        "expected at least the intro and networking-c labs"
    );
    for lab in &labs {
        assert!(
            lab.dir.join("README.md").is_file(),
            "labs/{}/README.md is missing",
            lab.name
        );
        assert!(
            !lab.manifest.tasks.is_empty(),
            "labs/{} has no tasks",
            lab.name
        );
    }
}

#[test]
fn every_task_has_its_sources_script_and_snapshot() {
    for lab in labs() {
        for task in &lab.manifest.tasks {
            let dir = template_dir(&lab, task);
            for module in &task.modules {
                let sources = module.source_paths(&dir);
                assert!(
                    !sources.is_empty(),
                    "{}: module `{}` has no source in {}",
                    task.name,
                    module.name,
                    dir.display()
                );
                for source in sources {
                    assert!(
                        dir.join(&source).is_file(),
                        "{}: {source}, a source of module `{}`, is missing",
                        task.name,
                        module.name
                    );
                }
            }
            for program in &task.programs {
                for source in &program.sources {
                    assert!(
                        dir.join(source).is_file(),
                        "{}: {source}, a source of program `{}`, is missing",
                        task.name,
                        program.name
                    );
                }
            }
            for file in &task.files {
                assert!(
                    dir.join(file).is_file(),
                    "{}: {file} (in `files`) is missing",
                    task.name
                );
            }
            assert!(
                lab.test_script(task).is_file(),
                "{}/{}: test.sh is missing",
                lab.name,
                task.name
            );
            let snap = Snapshot::read(&lab.snapshot_path(task)).unwrap();
            let snap = snap.unwrap_or_else(|| {
                panic!(
                    "{}/{}: no reviewed snapshot (cargo xtask bless)",
                    lab.name, task.name
                )
            });
            assert!(
                snap.body.starts_with("$ sh test.sh\n"),
                "{}/{}: malformed snapshot",
                lab.name,
                task.name
            );
            // A rubric check that the reviewed run does not pass would cost every student
            // its points: each block must be in one section of the snapshot as it stands
            // (the section it then checks), or in the one its `section` names.
            if let Err(e) = klab::judge::rubric::Rubric::of_lab(&lab, task) {
                panic!("{e:#}");
            }
        }
    }
}

/// Every file under `dir`, its subfolders (`kernel/`, `user/`) included.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn every_template_has_markers_that_parse_and_remove_code() {
    for lab in labs() {
        for task in &lab.manifest.tasks {
            let dir = template_dir(&lab, task);
            let mut removed_somewhere = false;
            for path in files_under(&dir) {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let kind = SourceKind::of_file_name(&name);
                if !path.is_file() || kind == SourceKind::Verbatim {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let skel = skeletonize(kind, &text, 1)
                    .unwrap_or_else(|e| panic!("{}:{e}", path.display()));
                removed_somewhere |= skel != text;
            }
            assert!(
                removed_somewhere,
                "{}/{}: no TODO marker removes any line",
                lab.name, task.name
            );
        }
    }
}

#[test]
fn every_rust_lab_s_readme_lists_the_kernel_crate_items_it_needs() {
    // `cargo xtask doc` shows these; xtask's tests check that each one has a page.
    for lab in labs().iter().filter(|l| l.manifest.language == "rust") {
        let readme = lab.dir.join("README.md");
        let text = std::fs::read_to_string(&readme).unwrap();
        let items = klab::lab::doc_items::items(&text)
            .unwrap_or_else(|e| panic!("{}: {e:#}", readme.display()));
        assert!(
            !items.is_empty(),
            "{}: no \"{}\" section listing the items its TODOs need",
            readme.display(),
            klab::lab::doc_items::SECTION
        );
    }
}
