//! One entry point per command, each taking an options struct (as cargo's `ops::`).

pub mod bless;
pub mod boot;
pub mod check;
pub mod doc;
pub mod doctests;
pub mod skels;
pub mod stress;
