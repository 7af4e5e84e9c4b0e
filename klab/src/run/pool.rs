//! The one worker pool: `jobs` scoped threads take items in order and produce a result per
//! item, returned in the items' order. Task builds and graded submissions both use it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `work(worker, index, item)` for every item on `workers.len()` threads (at least one),
/// each thread owning one `worker` (its own shell, its own workspace). Items are taken in
/// order; `stop()` is asked before each item is taken, and items not started when it says so
/// get `None`.
pub fn run<W, T, R>(
    workers: Vec<W>,
    items: &[T],
    stop: impl Fn() -> bool + Sync,
    work: impl Fn(&W, usize, &T) -> R + Sync,
) -> Vec<Option<R>>
where
    W: Send,
    T: Sync,
    R: Send,
{
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for worker in workers {
            let (next, results, work, stop) = (&next, &results, &work, &stop);
            scope.spawn(move || loop {
                if stop() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let result = work(&worker, i, item);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// How many threads for `items` items: at most `jobs` (and at least one).
pub fn width(jobs: usize, items: usize) -> usize {
    jobs.max(1).min(items.max(1))
}

/// The host's cores (2 when unknown).
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Memory one grading job may take: a VM (QEMU's resident set peaks near 300 MiB) and a
/// module build beside it (rustc or clang, a few hundred MiB).
const MEMORY_PER_JOB: u64 = 1 << 30;

/// How many submissions to grade at once: four per core, since a job's VM mostly waits (test
/// sleeps, `nc -w`, timeouts) and builds take turns in one build room (measured on 2 cores
/// with the networking lab: 8 jobs keep the cores about 55% busy and every copy scores full
/// marks; BENCHMARKS.md); fewer when memory would not hold them ([`MEMORY_PER_JOB`] each, from
/// `MemAvailable`).
pub fn auto_jobs() -> usize {
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| mem_available(&m));
    jobs_for(cores(), available)
}

fn jobs_for(cores: usize, mem_available: Option<u64>) -> usize {
    let by_cpu = 4 * cores;
    let by_memory = mem_available.map_or(by_cpu, |bytes| (bytes / MEMORY_PER_JOB) as usize);
    by_cpu.min(by_memory).max(1)
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_jobs_are_four_per_core_within_memory() {
        assert_eq!(jobs_for(2, Some(23 << 30)), 8);
        assert_eq!(jobs_for(2, Some(3 << 30)), 3);
        assert_eq!(jobs_for(8, Some(512 << 20)), 1, "never none");
        assert_eq!(jobs_for(2, None), 8);
        let meminfo = "MemTotal:       24000000 kB\nMemAvailable:    2097152 kB\n";
        assert_eq!(mem_available(meminfo), Some(2 << 30));
    }

    #[test]
    fn every_item_gets_its_result_in_order_whatever_the_thread() {
        let items: Vec<u32> = (0..50).collect();
        let out = run(
            vec![(), (), ()],
            &items,
            || false,
            |_, i, x| (i as u32, x * 2),
        );
        let out: Vec<(u32, u32)> = out.into_iter().map(Option::unwrap).collect();
        assert_eq!(out, items.iter().map(|x| (*x, x * 2)).collect::<Vec<_>>());
    }

    #[test]
    fn a_stop_leaves_the_items_not_started_without_a_result() {
        let items: Vec<u32> = (0..10).collect();
        let started = AtomicUsize::new(0);
        let out = run(
            vec![()],
            &items,
            || started.load(Ordering::SeqCst) >= 3,
            |_, _, x| {
                started.fetch_add(1, Ordering::SeqCst);
                *x
            },
        );
        assert_eq!(out.iter().filter(|r| r.is_some()).count(), 3);
        assert!(out[3..].iter().all(Option::is_none));
    }
}
