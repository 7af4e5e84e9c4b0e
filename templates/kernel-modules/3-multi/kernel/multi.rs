// SPDX-License-Identifier: GPL-2.0

//! kernel-modules lab (Rust), task 3: a module built from two source files.
//!
//! `insmod multi.ko a=X b=Y` computes the greatest common divisor of X and Y with
//! `ops::gcd`, which lives in the other file of the crate, `ops.rs` (declared below with
//! `mod ops;`, found beside this file), and logs it:
//!   multi: gcd(X, Y) = G
//! Check it with `cargo xtask check kernel-modules/3-multi`.

use kernel::prelude::*;

mod ops;

module! {
    type: Multi,
    name: "multi",
    author: "klab",
    description: "A module of two source files",
    license: "GPL",
}

kernel::module_param!(A: i32 = 1, name: "a", desc: "First number");
kernel::module_param!(B: i32 = 1, name: "b", desc: "Second number");

struct Multi;

impl kernel::Module for Multi {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let (Ok(a), Ok(b)) = (u32::try_from(A.get()), u32::try_from(B.get())) else {
            pr_err!("a and b must be positive\n");
            return Err(EINVAL);
        };
        if a == 0 || b == 0 {
            pr_err!("a and b must not be 0\n");
            return Err(EINVAL);
        }
        #[allow(unused_mut, unused_assignments)]
        let mut gcd = 0;
        // TODO 1/1: set gcd with ops::gcd() from ops.rs
        gcd = ops::gcd(a, b);
        pr_info!("gcd({}, {}) = {}\n", a, b, gcd);
        Ok(Multi)
    }
}

impl Drop for Multi {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
