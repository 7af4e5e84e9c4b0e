//! klab's checker library.
//!
//! Everything here is testable without a VM except [`vm`], which owns the QEMU process.
//! Data flow of a check: [`manifest`] says what a task is, [`vm`] runs its test script in
//! the guest and returns its output, [`normalize`] removes what varies from run to run,
//! [`record`] keeps the script's output and the kernel log apart, [`snapshot`] compares
//! with the reviewed snapshot, [`verdict`] says pass or fail and why, and [`rubric`] scores
//! checks, each in its own section.

pub mod console;
pub mod cpio;
pub mod deadline;
pub mod doc_items;
pub mod kbuild;
pub mod kconfig;
pub mod ktap;
pub mod limits;
pub mod line_reader;
pub mod manifest;
pub mod monitor;
pub mod naming;
pub mod normalize;
pub mod params;
pub mod qemu;
pub mod record;
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
