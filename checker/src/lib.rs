//! klab's checker library.
//!
//! Everything here is testable without a VM except [`vm`], which owns the QEMU process.
//! Data flow of a check: [`manifest`] says what a task is, [`vm`] runs its test script in
//! the guest and returns its output, [`normalize`] removes what varies from run to run,
//! [`snapshot`] compares with the reviewed snapshot and [`verdict`] says pass or fail and why.

pub mod console;
pub mod cpio;
pub mod kbuild;
pub mod ktap;
pub mod manifest;
pub mod monitor;
pub mod normalize;
pub mod params;
pub mod qemu;
pub mod report;
pub mod rubric;
pub mod selection;
pub mod shard;
pub mod skels;
pub mod snapshot;
pub mod submission;
pub mod symbolize;
pub mod verdict;
pub mod vm;
