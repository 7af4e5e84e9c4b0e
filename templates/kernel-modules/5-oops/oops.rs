// SPDX-License-Identifier: GPL-2.0

//! kernel-modules lab (Rust), task 5: a module that oopses.
//!
//! `insmod oops.ko value=N` keeps N in a counter the module allocates, and logs it on load
//! and on unload:
//!   oops: counter set to N
//!   oops: counter was N
//! As given, init unwraps a counter that was never allocated: safe Rust cannot write through
//! a NULL pointer, so it panics instead, and a panic in the kernel is a `BUG()`: an oops that
//! kills insmod and leaves the module half-loaded. `cargo xtask check` shows the report and
//! the line of this file it happened at; fix the TODO.

use kernel::prelude::*;

module! {
    type: Oops,
    name: "oops",
    author: "klab",
    description: "A module that oopses until it is fixed",
    license: "GPL",
}

kernel::module_param!(VALUE: i32 = 1, name: "value", desc: "The counter's first value");

struct Counter {
    value: i32,
}

struct Oops {
    counter: KBox<Counter>,
}

impl kernel::Module for Oops {
    #[allow(unused_mut, unused_assignments)]
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let mut counter: Option<KBox<Counter>> = None;
        // TODO 1/1: allocate the counter (KBox::new) before using it; return the error if that fails (`?`)
        counter = Some(KBox::new(Counter { value: 0 }, GFP_KERNEL)?);
        let mut counter = counter.unwrap(); // the oops, until the TODO is done
        counter.value = VALUE.get();
        pr_info!("counter set to {}\n", counter.value);
        Ok(Oops { counter })
    }
}

impl Drop for Oops {
    fn drop(&mut self) {
        pr_info!("counter was {}\n", self.counter.value);
    }
}
