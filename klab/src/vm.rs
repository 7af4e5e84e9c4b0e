//! QEMU: its command line and accelerator, its monitor, the session over the serial
//! console (commands with sentinels and deadlines), the console's fault watch, and how a
//! run's VMs start (resumed from the saved guest, or booted).
//!
//! Everything the guest prints is hostile input: bounded (`limits`), never a panic. Every
//! wait has a deadline.

pub mod accel;
pub mod console;
pub mod deadline;
pub mod launch;
pub mod limits;
pub mod line_reader;
pub mod monitor;
pub mod protocol;
pub mod qemu;
pub mod session;
