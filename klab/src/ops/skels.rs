//! `skels`: student skeletons from the templates, then their editor files (once the lab
//! kernel is built; a failure there is a warning, the skeletons stand without them).

use anyhow::Result;

use crate::lab::skeletons;
use crate::progress::Step;
use crate::run::Workspace;

pub fn skels(ws: &Workspace, select: &[String], todo: u32, force: bool) -> Result<()> {
    let selected = ws.select(select)?;
    let step = Step::start(format!(
        "generating skeletons for {} task(s)",
        selected.len()
    ));
    skeletons::generate(&ws.paths, &selected, todo, force)?;
    step.done();
    if let Err(e) = crate::ide::after_skels(ws, &selected) {
        eprintln!("warning: no editor files were written: {e:#}\n(`cargo xtask ide` tries again)");
    }
    Ok(())
}
