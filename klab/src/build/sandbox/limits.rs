//! The limits of one sandboxed job, and how a failed job's output names the one it hit.

use std::time::Duration;

/// Limits on one sandboxed job. Each hit is reported as the limit's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub wall: Duration,
    /// CPU seconds per process.
    pub cpu_secs: u64,
    /// Address space per process.
    pub address_space: u64,
    /// The largest file a process may write.
    pub file_size: u64,
    /// Processes (and threads) of the job's user.
    pub processes: u64,
    /// Bytes of output kept (the rest is read and dropped).
    pub output: usize,
}

pub const MIB: u64 = 1 << 20;

impl Limits {
    /// A module or program build: `wall` from the lab (`build_timeout_secs`).
    pub fn build(wall: Duration) -> Limits {
        Limits {
            wall,
            cpu_secs: wall.as_secs().max(1),
            // The largest Rust module with debug info needs under 512 MiB (RSS 156 MB);
            // two compilers per build, two builds at once: 4 GiB per graded submission.
            address_space: 1024 * MIB,
            file_size: 512 * MIB,
            processes: 256,
            output: 256 * 1024,
        }
    }

    /// A quick tool over a built file (readelf, addr2line).
    pub fn tool() -> Limits {
        Limits {
            wall: Duration::from_secs(20),
            cpu_secs: 20,
            address_space: 1024 * MIB,
            file_size: 16 * MIB,
            processes: 16,
            output: 4 * MIB as usize,
        }
    }
}

/// Which limit a job ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    WallClock,
    CpuTime,
    AddressSpace,
    FileSize,
    Processes,
}

impl Limit {
    /// What the student reads: the limit and its value.
    pub fn describe(self, limits: &Limits) -> String {
        match self {
            Limit::WallClock => format!(
                "the build hit its time limit ({} s of wall clock; `build_timeout_secs` in lab.toml)",
                limits.wall.as_secs()
            ),
            Limit::CpuTime => format!(
                "the build hit its CPU time limit ({} s per process)",
                limits.cpu_secs
            ),
            Limit::AddressSpace => format!(
                "the build hit its memory limit ({} MiB of address space per process)",
                limits.address_space / MIB
            ),
            Limit::FileSize => format!(
                "the build hit its file size limit ({} MiB per file)",
                limits.file_size / MIB
            ),
            Limit::Processes => format!(
                "the build hit its process limit ({} processes)",
                limits.processes
            ),
        }
    }

    /// The limit a failed job's output shows it ran into (the tools' and make's own words
    /// for the signal or error each limit causes), if any. Diagnostics and the source lines
    /// they quote are not signs: a student's `#error "out of memory"` names no limit.
    pub fn seen_in(output: &str) -> Option<Limit> {
        const SIGNS: &[(&str, Limit)] = &[
            ("CPU time limit exceeded", Limit::CpuTime),
            ("File size limit exceeded", Limit::FileSize),
            ("out of memory", Limit::AddressSpace),
            ("Cannot allocate memory", Limit::AddressSpace),
            ("std::bad_alloc", Limit::AddressSpace),
            ("memory allocation of", Limit::AddressSpace),
            ("Cannot fork", Limit::Processes),
            ("fork: Resource temporarily unavailable", Limit::Processes),
            ("vfork: Resource temporarily unavailable", Limit::Processes),
        ];
        let quoted = |line: &str| {
            let code = line.trim_start();
            ["error:", "warning:", "note:", "error["]
                .iter()
                .any(|d| line.contains(d))
                || code.starts_with('|')
                || code
                    .split_once(" |")
                    .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        };
        output
            .lines()
            .filter(|line| !quoted(line))
            .find_map(|line| SIGNS.iter().find(|(sign, _)| line.contains(sign)))
            .map(|(_, limit)| *limit)
    }
}
