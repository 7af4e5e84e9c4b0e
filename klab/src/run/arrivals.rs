//! The task builds of a streamed run as they finish on the worker pool, put back in task
//! order for the VM side (`streamed`): task `i` is handed over once it and every task before
//! it have arrived. A failed build arrives as the task's verdict-to-be; an error building
//! one (the sandbox would not start) ends the run when that task's turn comes, so the tasks
//! before it still run.

use std::collections::BTreeMap;
use std::sync::mpsc::Receiver;

use anyhow::{bail, Result};

use crate::events::Reporter;
use crate::lab::selection::Selected;
use crate::run::builds::{prepared, Checked};
use crate::run::tasks::Prepared;

/// What the builder thread sends: a task's index and its build.
pub(crate) type Arrival = (usize, Result<Checked>);

pub(crate) struct Arrivals<'x, 'a> {
    arriving: Receiver<Arrival>,
    /// Finished ahead of a task before them.
    ahead: BTreeMap<usize, Result<Checked>>,
    pub selected: &'x [Selected<'a>],
    /// The tasks arrived, in order: `tasks[i]` is `selected[i]`'s.
    pub tasks: Vec<Prepared<'a>>,
    reporter: &'x dyn Reporter,
    /// The error building the next task in order: returned when its turn comes.
    error: Option<anyhow::Error>,
}

impl<'x, 'a> Arrivals<'x, 'a> {
    pub fn new(
        arriving: Receiver<Arrival>,
        selected: &'x [Selected<'a>],
        reporter: &'x dyn Reporter,
    ) -> Self {
        Arrivals {
            arriving,
            ahead: BTreeMap::new(),
            selected,
            tasks: Vec::new(),
            reporter,
            error: None,
        }
    }

    /// Waits until task `i` (and so every task before it) has arrived: `Ok(false)` when the
    /// builds stopped first because of a Ctrl-C.
    pub fn wait_for(&mut self, i: usize) -> Result<bool> {
        while self.tasks.len() <= i {
            if let Some(e) = self.error.take() {
                return Err(e);
            }
            match self.arriving.recv() {
                Ok((j, checked)) => {
                    self.ahead.insert(j, checked);
                    self.in_order();
                }
                Err(_) if crate::run::interrupt::requested() => return Ok(false),
                Err(_) => bail!(
                    "the task builds stopped after {} of {} tasks",
                    self.tasks.len(),
                    self.selected.len()
                ),
            }
        }
        Ok(true)
    }

    /// Takes, without waiting, what has arrived.
    pub fn take_ready(&mut self) {
        while let Ok((j, checked)) = self.arriving.try_recv() {
            self.ahead.insert(j, checked);
        }
        self.in_order();
    }

    /// Moves the arrived builds that continue the order into `tasks` (a failed build is
    /// reported as it joins), up to an error building one.
    fn in_order(&mut self) {
        while self.error.is_none() {
            let Some(checked) = self.ahead.remove(&self.tasks.len()) else {
                break;
            };
            match checked {
                Ok(checked) => {
                    let sel = self.selected[self.tasks.len()].clone();
                    self.tasks.push(prepared(self.reporter, sel, checked));
                }
                Err(e) => self.error = Some(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::events::{Event, Recorder};
    use crate::lab::manifest::{Lab, LabManifest};

    fn lab() -> Lab {
        let manifest: LabManifest = toml::from_str(
            "title = 't'\nlanguage = 'c'\n[[tasks]]\nname = '1-a'\nmodules = ['a']\n[[tasks]]\nname = '2-b'\nmodules = ['b']\n[[tasks]]\nname = '3-c'\nmodules = ['c']\n",
        )
        .unwrap();
        Lab {
            name: "net".into(),
            dir: "labs/net".into(),
            manifest,
        }
    }

    fn selected(lab: &Lab) -> Vec<Selected<'_>> {
        let tasks = lab.manifest.tasks.iter();
        tasks.map(|task| Selected { lab, task }).collect()
    }

    fn failed(why: &str) -> Result<Checked> {
        Ok((Err(why.to_owned()), Vec::new()))
    }

    #[test]
    fn builds_finishing_out_of_order_arrive_in_task_order() {
        let (lab, recorder) = (lab(), Recorder::default());
        let selected = selected(&lab);
        let (sent, arriving) = mpsc::channel();
        let mut arrivals = Arrivals::new(arriving, &selected, &recorder);
        sent.send((2, failed("third"))).unwrap();
        sent.send((1, failed("second"))).unwrap();
        arrivals.take_ready();
        assert!(arrivals.tasks.is_empty(), "nothing before the first task");
        sent.send((0, failed("first"))).unwrap();
        assert!(arrivals.wait_for(0).unwrap());
        let order: Vec<String> = arrivals.tasks.iter().map(|p| p.sel.id()).collect();
        assert_eq!(order, ["net/1-a", "net/2-b", "net/3-c"]);
        let reported: Vec<String> = recorder
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::BuildFailed { task, .. } => Some(task),
                _ => None,
            })
            .collect();
        assert_eq!(reported, order, "failures reported in task order");
    }

    #[test]
    fn an_error_building_a_task_ends_the_run_at_its_turn_not_before() {
        let (lab, recorder) = (lab(), Recorder::default());
        let selected = selected(&lab);
        let (sent, arriving) = mpsc::channel();
        let mut arrivals = Arrivals::new(arriving, &selected, &recorder);
        sent.send((1, Err(anyhow::anyhow!("no sandbox")))).unwrap();
        sent.send((0, failed("first"))).unwrap();
        sent.send((2, failed("third"))).unwrap();
        assert!(
            arrivals.wait_for(0).unwrap(),
            "the task before it is handed over"
        );
        arrivals.take_ready();
        assert_eq!(arrivals.tasks.len(), 1, "nothing past the error");
        let err = arrivals.wait_for(1).unwrap_err();
        assert!(format!("{err:#}").contains("no sandbox"), "{err:#}");
    }

    #[test]
    fn builds_that_stop_without_a_ctrl_c_are_an_error() {
        let (lab, recorder) = (lab(), Recorder::default());
        let selected = selected(&lab);
        let (sent, arriving) = mpsc::channel();
        let mut arrivals = Arrivals::new(arriving, &selected, &recorder);
        sent.send((0, failed("first"))).unwrap();
        drop(sent);
        let err = arrivals.wait_for(2).unwrap_err();
        assert!(err.to_string().contains("stopped after 1 of 3"), "{err}");
    }
}
