// SPDX-License-Identifier: GPL-2.0

//! Intro lab, tasks 1 and 2: a first Rust kernel module, and a module parameter.
//!
//! Build and check it with `cargo xtask check intro/1-2-hello`.

use kernel::prelude::*;

module! {
    type: Hello,
    name: "hello",
    author: "klab",
    description: "A first Rust kernel module",
    license: "GPL",
}

// TODO 2/1: declare a string parameter `who` (default "world") with kernel::module_param!
kernel::module_param!(WHO: &CStr = "world", name: "who", desc: "who to greet");

struct Hello;

impl kernel::Module for Hello {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // TODO 1/1: print "Hello from a Rust module!" with pr_info! (mind the trailing newline)
        pr_info!("Hello from a Rust module!\n");
        // TODO 2/1: greet the parameter's value: "Hello, <who>!"
        pr_info!("Hello, {}!\n", WHO.get());
        Ok(Hello)
    }
}

impl Drop for Hello {
    fn drop(&mut self) {
        // TODO 1/1: print "Goodbye from a Rust module!" when the module is removed
        pr_info!("Goodbye from a Rust module!\n");
    }
}
