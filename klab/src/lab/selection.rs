//! Which labs and tasks a command works on: `LAB`, `LAB/TASK`, or the `LABS` variable.

use anyhow::{bail, Result};

use crate::lab::manifest::{Lab, TaskManifest};

/// One selected task of one lab.
#[derive(Debug, Clone)]
pub struct Selected<'a> {
    pub lab: &'a Lab,
    pub task: &'a TaskManifest,
}

impl Selected<'_> {
    /// `lab/task`, as users type it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.lab.name, self.task.name)
    }
}

/// Resolves selectors against the labs. Empty selectors (and no `LABS`) select everything.
/// `labs_env` is the value of `LABS`, whitespace-separated as in linux-kernel-labs.
pub fn select<'a>(
    labs: &'a [Lab],
    selectors: &[String],
    labs_env: Option<&str>,
) -> Result<Vec<Selected<'a>>> {
    let mut words: Vec<String> = selectors.to_vec();
    if words.is_empty() {
        if let Some(env) = labs_env {
            words = env.split_whitespace().map(str::to_owned).collect();
        }
    }
    let mut out: Vec<Selected<'a>> = Vec::new();
    let mut push = |sel: Selected<'a>| {
        if !out.iter().any(|s| std::ptr::eq(s.task, sel.task)) {
            out.push(sel);
        }
    };
    if words.is_empty() {
        for lab in labs {
            for task in &lab.manifest.tasks {
                push(Selected { lab, task });
            }
        }
    }
    for word in &words {
        let word = word.trim_end_matches('/');
        let (lab_name, task_name) = match word.split_once('/') {
            Some((l, t)) => (l, Some(t)),
            None => (word, None),
        };
        let Some(lab) = labs.iter().find(|l| l.name == lab_name) else {
            let names: Vec<&str> = labs.iter().map(|l| l.name.as_str()).collect();
            bail!(
                "no lab named `{lab_name}`; the labs are: {}",
                names.join(", ")
            );
        };
        match task_name {
            None => lab
                .manifest
                .tasks
                .iter()
                .for_each(|task| push(Selected { lab, task })),
            Some(t) => {
                let Some(task) = lab.task(t) else {
                    let names: Vec<&str> =
                        lab.manifest.tasks.iter().map(|t| t.name.as_str()).collect();
                    bail!(
                        "lab `{lab_name}` has no task `{t}`; its tasks are: {}",
                        names.join(", ")
                    );
                };
                push(Selected { lab, task });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::manifest::LabManifest;

    fn labs() -> Vec<Lab> {
        let lab = |name: &str, tasks: &[&str]| {
            let toml_text = tasks
                .iter()
                .map(|t| format!("[[tasks]]\nname = '{t}'\n"))
                .collect::<String>();
            let manifest: LabManifest =
                toml::from_str(&format!("title = 't'\nlanguage = 'c'\n{toml_text}")).unwrap();
            Lab {
                name: name.into(),
                dir: name.into(),
                manifest,
            }
        };
        vec![
            lab("intro", &["1-2-hello", "3-fail"]),
            lab("net", &["1-x", "2-y"]),
        ]
    }

    fn ids(labs: &[Lab], sel: &[&str], env: Option<&str>) -> Result<Vec<String>> {
        let sel: Vec<String> = sel.iter().map(|s| s.to_string()).collect();
        Ok(select(labs, &sel, env)?.iter().map(Selected::id).collect())
    }

    #[test]
    fn nothing_selects_everything_in_order() {
        assert_eq!(
            ids(&labs(), &[], None).unwrap(),
            ["intro/1-2-hello", "intro/3-fail", "net/1-x", "net/2-y"]
        );
    }

    #[test]
    fn labs_tasks_and_the_environment() {
        let l = labs();
        assert_eq!(
            ids(&l, &["net/2-y", "intro"], None).unwrap(),
            ["net/2-y", "intro/1-2-hello", "intro/3-fail"]
        );
        assert_eq!(
            ids(&l, &[], Some("net/1-x  intro/3-fail")).unwrap(),
            ["net/1-x", "intro/3-fail"]
        );
        assert_eq!(
            ids(&l, &["net/1-x"], Some("intro")).unwrap(),
            ["net/1-x"],
            "arguments win over LABS"
        );
        assert_eq!(
            ids(&l, &["net", "net/1-x"], None).unwrap(),
            ["net/1-x", "net/2-y"],
            "no duplicates"
        );
    }

    #[test]
    fn unknown_names_list_what_exists() {
        let l = labs();
        assert_eq!(
            ids(&l, &["nope"], None).unwrap_err().to_string(),
            "no lab named `nope`; the labs are: intro, net"
        );
        assert_eq!(
            ids(&l, &["net/9"], None).unwrap_err().to_string(),
            "lab `net` has no task `9`; its tasks are: 1-x, 2-y"
        );
    }
}
