// SPDX-License-Identifier: GPL-2.0

//! Syscall-hook lab, tasks 1 and 2: intercept every unlink with a kprobe on `vfs_unlink`, log
//! it (task 1), and refuse to remove the file named by the `protect` parameter (task 2).
//!
//! The old way, replacing `sys_call_table[__NR_unlink]`, no longer works (the table is
//! read-only and not exported); see README.md for why a kprobe is the modern answer.
//!
//! Build and check it with `cargo xtask check syscall-hook/1-2-unlink-hook`.

use kernel::prelude::*;
// TODO 1/1: the kprobe abstraction: a registration, its handler trait, the probed function
use kernel::kprobes::{Action, Handler, Registration, UnlinkCall, VfsUnlink};

module! {
    type: UnlinkHook,
    name: "unlink_hook",
    author: "klab",
    description: "Intercepts unlink with a kprobe; protects one file name",
    license: "GPL",
}

// TODO 2/1: a string parameter `protect` (default "": protect nothing)
kernel::module_param!(PROTECT: &CStr = "", name: "protect", desc: "a file name unlink must refuse to remove");

/// The kprobe's handler: runs at the entry of every `vfs_unlink` call, in atomic context.
struct Interceptor;

// TODO 1/14: implement Handler for Interceptor: on every call, log "unlink intercepted: <name>" and let the call continue
impl Handler for Interceptor {
    type Target = VfsUnlink;

    fn call(&self, call: &UnlinkCall<'_>) -> Action {
        let name = call.name();
        pr_info!("unlink intercepted: {}\n", name);
        // TODO 2/4: a call for the protected name fails with EPERM: log "unlink refused: <name>"
        if !PROTECT.get().is_empty() && name.as_bytes() == PROTECT.get().as_bytes() {
            pr_info!("unlink refused: {}\n", name);
            return Action::Fail(EPERM);
        }
        Action::Continue
    }
}

/// The module: the probe stays registered while it is loaded.
struct UnlinkHook {
    // TODO 1/1: keep the registration (dropping it unregisters the probe)
    _probe: Pin<KBox<Registration<Interceptor>>>,
}

impl kernel::Module for UnlinkHook {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // TODO 1/1: register the kprobe (KBox::pin_init of Registration::register)
        let probe = KBox::pin_init(Registration::register(Interceptor), GFP_KERNEL)?;
        pr_info!("unlink hook installed\n");
        Ok(UnlinkHook {
            // TODO 1/1: keep it in the module
            _probe: probe,
        })
    }
}

impl Drop for UnlinkHook {
    fn drop(&mut self) {
        pr_info!("unlink hook removed\n");
    }
}
