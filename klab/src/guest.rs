//! What the guest boots from: the initramfs (busybox, `rootfs/`, the guest tools, the lab's
//! files), the lab disk a resumed guest loads its files from, and the saved guest state.
//!
//! Writes files only; starting QEMU is `vm`'s.

pub mod cpio;
pub mod rootfs;
pub mod saved_guest;
