//! The pipeline: selected tasks → builds → the guest image → VMs → task runs, with the VM
//! reuse and restart policy. Every command that runs tasks in a VM goes through here.

pub mod arrivals;
pub mod builds;
pub mod guest_files;
pub mod interrupt;
pub mod tasks;
pub mod workspace;

pub use workspace::{Workspace, WorkspaceOptions};
pub mod pipeline;
pub mod pool;
pub mod runner;
pub mod streamed;
