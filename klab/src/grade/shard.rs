//! Splitting a grading run across machines: `--shard I/N`, or the index/total variables of
//! GitLab CI (`CI_NODE_INDEX`/`CI_NODE_TOTAL`, 1-based) and of a Kubernetes Indexed Job
//! (`JOB_COMPLETION_INDEX`, 0-based, with the total from `--shard`'s N or `KLAB_SHARD_TOTAL`).

use anyhow::{bail, Context, Result};

/// Shard `index` (1-based) of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub total: usize,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Shard> {
        let (i, n) = text
            .split_once('/')
            .with_context(|| format!("--shard `{text}`: expected I/N, like 2/4"))?;
        let index: usize = i
            .trim()
            .parse()
            .with_context(|| format!("--shard `{text}`: I is not a number"))?;
        let total: usize = n
            .trim()
            .parse()
            .with_context(|| format!("--shard `{text}`: N is not a number"))?;
        if total == 0 || index == 0 || index > total {
            bail!("--shard `{text}`: I must be between 1 and N");
        }
        Ok(Shard { index, total })
    }

    /// From the CI environment, when `--shard` was not given. `get` reads a variable.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>> {
        if let (Some(i), Some(n)) = (get("CI_NODE_INDEX"), get("CI_NODE_TOTAL")) {
            return Shard::parse(&format!("{i}/{n}"))
                .map(Some)
                .context("from CI_NODE_INDEX/CI_NODE_TOTAL");
        }
        if let Some(i) = get("JOB_COMPLETION_INDEX") {
            let n = get("KLAB_SHARD_TOTAL").context(
                "JOB_COMPLETION_INDEX is set: set KLAB_SHARD_TOTAL to the Job's completions",
            )?;
            let i: usize = i
                .trim()
                .parse()
                .context("JOB_COMPLETION_INDEX is not a number")?;
            return Shard::parse(&format!("{}/{n}", i + 1))
                .map(Some)
                .context("from JOB_COMPLETION_INDEX/KLAB_SHARD_TOTAL");
        }
        Ok(None)
    }

    /// The items of this shard: sorted, then every N-th starting at I. Deterministic for a
    /// given list whatever order it came in.
    pub fn pick<T: Clone + Ord>(&self, items: &[T]) -> Vec<T> {
        let mut sorted = items.to_vec();
        sorted.sort();
        sorted
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.total == self.index - 1)
            .map(|(_, t)| t)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_reject() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, total: 4 });
        assert!(Shard::parse("0/4").is_err());
        assert!(Shard::parse("5/4").is_err());
        assert!(Shard::parse("x").is_err());
    }

    #[test]
    fn shards_partition_the_items() {
        let items: Vec<u32> = (0..10).rev().collect();
        let mut all: Vec<u32> = (1..=3)
            .flat_map(|i| Shard { index: i, total: 3 }.pick(&items))
            .collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(Shard { index: 1, total: 3 }.pick(&items), [0, 3, 6, 9]);
    }

    #[test]
    fn environment_of_gitlab_and_kubernetes() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Shard::from_env(env(&[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")])).unwrap(),
            Some(Shard { index: 2, total: 3 })
        );
        assert_eq!(
            Shard::from_env(env(&[
                ("JOB_COMPLETION_INDEX", "0"),
                ("KLAB_SHARD_TOTAL", "2")
            ]))
            .unwrap(),
            Some(Shard { index: 1, total: 2 })
        );
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "0")])).is_err());
        assert_eq!(Shard::from_env(env(&[])).unwrap(), None);
    }
}
