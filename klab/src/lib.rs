//! klab, the engine: a kernel lab from its folder to verdicts and scores.
//!
//! Modules are laid out as the data flows, and each calls only downward:
//! [`lab`] (what a lab and its tasks are, skeletons, submissions) → [`kernel`] (the lab
//! kernel: built once, cached) → [`build`] (a task's modules and programs, in the sandbox) →
//! [`guest`] (the guest's root image, lab disk and saved state) → [`vm`] (QEMU, the serial
//! protocol, the console's fault watch) → [`run`] (the pipeline: selected tasks through
//! builds and VMs to task runs) → [`judge`] (pure functions of text: record, snapshot,
//! verdict, rubric) → [`grade`] (submissions to scores) → [`report`] (the formats people and
//! machines read). [`ops`] holds one entry point per command, each taking an options struct;
//! `cargo xtask` is a thin face over them.

pub mod atomic_file;
pub mod build;
pub mod events;
pub mod grade;
pub mod guest;
pub mod host;
pub mod ide;
pub mod judge;
pub mod kernel;
pub mod lab;
pub mod ops;
pub mod paths;
pub mod report;
pub mod run;
pub mod vm;
