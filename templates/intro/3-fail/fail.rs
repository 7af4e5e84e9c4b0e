// SPDX-License-Identifier: GPL-2.0

//! Intro lab, task 3: a module whose init fails.
//!
//! When `init` returns an error, the kernel does not load the module and `insmod` reports
//! the error code to user space. Build and check it with `cargo xtask check intro/3-fail`.

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
        pr_info!("checking for the device\n");
        // The device is not there: refuse to load with the "no such device" error.
        // TODO 3/2: log "no device, refusing to load" with pr_err!, then return ENODEV
        pr_err!("no device, refusing to load\n");
        return Err(ENODEV);
        Ok(Fail)
    }
}
