//! The seeded generator behind drawn parameters: SplitMix64 (Steele, Lea and Flood, 2014),
//! small and fully specified, so a seed draws the same values on every machine and every
//! klab version that keeps this file (a library generator may change its stream).

use std::hash::{BuildHasher, Hasher};

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0), without modulo bias: draws past the last whole multiple
    /// of `n` are drawn again.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// Uniform in `min..=max`.
    pub fn in_range(&mut self, min: u64, max: u64) -> u64 {
        match (max - min).checked_add(1) {
            Some(n) => min + self.below(n),
            None => self.next_u64(),
        }
    }
}

/// Seeds above 2^53 lose digits in JavaScript's JSON readers (Gradescope's pages among them).
const SEED_LIMIT: u64 = 1 << 53;

/// A fresh seed for a run without `--seed`, from the operating system's randomness (std seeds
/// its `RandomState` from it), below 2^53 so that every JSON reader keeps it exact.
pub fn random_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(std::process::id().into());
    hasher.finish() % SEED_LIMIT
}

/// The seed of one submission's draw: the run's seed and the submission's name (FNV-1a),
/// mixed. A submission graded again with the same `--seed` under the same name gets the same
/// values, whatever else is graded with it.
pub fn submission_seed(run_seed: u64, name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    Rng::new(run_seed ^ hash).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_splitmix64() {
        // SplitMix64 from state 0 starts with 0xe220a8397b1dcdaf, as its reference does.
        let mut rng = Rng::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn ranges_are_inclusive_and_cover_every_value() {
        let mut rng = Rng::new(7);
        let mut seen = [false; 5];
        for _ in 0..200 {
            let v = rng.in_range(10, 14);
            assert!((10..=14).contains(&v), "{v}");
            seen[(v - 10) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
        assert_eq!(rng.in_range(3, 3), 3);
        let _ = rng.in_range(0, u64::MAX);
    }

    #[test]
    fn submission_seeds_depend_on_the_run_seed_and_the_name() {
        let a = submission_seed(1, "alice");
        assert_eq!(a, submission_seed(1, "alice"));
        assert_ne!(a, submission_seed(2, "alice"));
        assert_ne!(a, submission_seed(1, "bob"));
    }

    #[test]
    fn random_seeds_stay_below_2_to_the_53() {
        let seeds: Vec<u64> = (0..20).map(|_| random_seed()).collect();
        assert!(seeds.iter().all(|s| *s < SEED_LIMIT));
        assert!(seeds.windows(2).any(|w| w[0] != w[1]), "{seeds:?}");
    }
}
