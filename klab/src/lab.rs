//! What a lab is, before anything is built: its manifest (`lab.toml`), the tasks a command
//! selects, the skeletons made from the templates (and the stamps that keep a student's
//! edits), the lab parameters, and submissions taken in from graders.
//!
//! Never starts a process and never reads a submission through a link.

pub mod doc_items;
pub mod manifest;
pub mod markers;
pub mod naming;
pub mod params;
pub mod selection;
pub mod skeletons;
pub mod submission;
