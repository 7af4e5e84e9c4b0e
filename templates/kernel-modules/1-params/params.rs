// SPDX-License-Identifier: GPL-2.0

//! kernel-modules lab (Rust), task 1: a module with parameters and module information.
//!
//! `insmod params.ko who=NAME count=N` sets the parameters; the module greets NAME and says
//! how many times it was asked to. `modinfo params.ko` shows the module's description,
//! author, license and parameters. (The lab kernel's `module_param!` keeps parameters out of
//! sysfs: see the README.) Check it with `cargo xtask check kernel-modules/1-params`.

use kernel::prelude::*;

module! {
    type: Params,
    name: "params",
    // TODO 1/2: describe the module: its author ("klab") and description ("Greets whoever its parameters name")
    author: "klab",
    description: "Greets whoever its parameters name",
    license: "GPL",
}

// TODO 2/3: declare `who` (a string, default "world") and `count` (an integer, default 1) with kernel::module_param!, described as modinfo shows them
kernel::module_param!(WHO: &CStr = "world", name: "who", desc: "Whom to greet");
kernel::module_param!(COUNT: i32 = 1, name: "count", desc: "How many greetings were asked for");

struct Params;

impl kernel::Module for Params {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // TODO 3/1: print "hello, <who> (count <count>)" with pr_info! (the "params: " prefix is added for you)
        pr_info!("hello, {} (count {})\n", WHO.get(), COUNT.get());
        Ok(Params)
    }
}

impl Drop for Params {
    fn drop(&mut self) {
        // TODO 3/1: print "goodbye, <who> (count <count>)" when the module is removed
        pr_info!("goodbye, {} (count {})\n", WHO.get(), COUNT.get());
    }
}
