//! `cargo xtask bench`: per-phase timings (kernel, build, copy, boot, test) printed as figures.

use anyhow::Result;

use crate::Ctx;

pub fn run(_ctx: &Ctx) -> Result<()> {
    anyhow::bail!("bench is not written yet")
}
