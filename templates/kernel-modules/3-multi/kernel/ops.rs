// SPDX-License-Identifier: GPL-2.0

//! kernel-modules lab (Rust), task 3: the second source file of the `multi` module.
//!
//! `mod ops;` in `multi.rs` makes this file the crate's module `ops`: rustc compiles both
//! files as one crate into `multi.ko`. `pub(crate)` lets the rest of the crate call `gcd`;
//! nothing outside the module sees it (no `EXPORT_SYMBOL`, as in C within one module).

/// The greatest common divisor of `a` and `b` (both non-zero).
#[allow(unused_mut, unused_variables, unreachable_code)]
pub(crate) fn gcd(mut a: u32, mut b: u32) -> u32 {
    // TODO 1/6: Euclid's algorithm: replace (a, b) by (b, a mod b) until b is 0; a is the answer
    while b != 0 {
        let rest = a % b;
        a = b;
        b = rest;
    }
    return a;
    0
}
