//! `skels`: student skeletons from the templates, then their editor files (once the lab
//! kernel is built; a failure there is a warning, the skeletons stand without them).

use anyhow::Result;

use crate::events::{Step, StepKind};
use crate::lab::skeletons;
use crate::run::Workspace;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SkelsOptions {
    pub select: Vec<String>,
    /// Keep the solutions of TODOs numbered below this.
    pub todo: u32,
    /// Regenerate over edited files (each kept as FILE.orig).
    pub force: bool,
}

pub fn skels(ws: &Workspace, options: &SkelsOptions) -> Result<()> {
    let selected = ws.select(&options.select)?;
    let step = Step::start(
        ws.reporter(),
        StepKind::Skeletons,
        format!("generating skeletons for {} task(s)", selected.len()),
    );
    skeletons::generate(
        &ws.paths,
        &selected,
        options.todo,
        options.force,
        ws.reporter(),
    )?;
    step.done();
    if let Err(e) = crate::ide::after_skels(ws, &selected) {
        ws.reporter().warning(format!(
            "no editor files were written: {e:#}\n(`cargo xtask ide` tries again)"
        ));
    }
    Ok(())
}
