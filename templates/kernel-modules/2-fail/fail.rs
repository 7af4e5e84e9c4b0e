// SPDX-License-Identifier: GPL-2.0

//! kernel-modules lab (Rust), task 2: a module whose init fails.
//!
//! When `init` returns an error, the kernel does not load the module and `insmod` reports
//! the error to user space. What init set up before failing must be undone first: nothing
//! runs the exit (`Drop`) of a module that never loaded. In Rust the compiler does that part
//! for you: a value owned by `init` is dropped (freed) when `init` returns, whatever it
//! returns. Check it with `cargo xtask check kernel-modules/2-fail`.

use kernel::prelude::*;

module! {
    type: Fail,
    name: "fail",
    author: "klab",
    description: "A module that refuses to load",
    license: "GPL",
}

struct Fail;

impl kernel::Module for Fail {
    #[allow(unreachable_code)]
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let buffer = KVec::<u8>::with_capacity(64, GFP_KERNEL)?;
        pr_info!("buffer allocated, looking for the device\n");

        // The device is never there.
        // TODO 1/3: free the buffer (drop it), log "no device, giving up" with pr_err! and return ENODEV
        drop(buffer);
        pr_err!("no device, giving up\n");
        return Err(ENODEV);

        Ok(Fail)
    }
}

impl Drop for Fail {
    fn drop(&mut self) {
        pr_info!("unloaded (this never happens)\n");
    }
}
