//! The sandbox's shape: the command line that starts a job, bubblewrap's options (what is
//! bound, read-only or not, which namespaces, the environment), the drop to an unprivileged
//! uid as root, and the `prlimit` limits around the job's program.
//!
//! Pure: it builds an argument list and never starts a process (that is [`Sandbox::run`]'s),
//! and never binds a folder a [`Job`] does not name beyond the toolchain's.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Isolation, Job, Limits, Sandbox, JOB_UID};

impl Sandbox {
    /// `PATH` inside: the Rust toolchain first, then `/usr/bin`.
    fn path_env(&self) -> OsString {
        let mut path = OsString::new();
        if let Some(sysroot) = &self.rust_sysroot {
            path.push(sysroot.join("bin"));
            path.push(":");
        }
        path.push("/usr/local/bin:/usr/bin:/bin");
        path
    }

    /// The full command line: bubblewrap's options, the uid drop, the limits, the job.
    pub(super) fn argv(&self, job: &Job, limits: &Limits) -> Vec<OsString> {
        let mut argv: Vec<OsString> = Vec::new();
        let mut push = |args: &[&dyn AsRef<std::ffi::OsStr>]| {
            argv.extend(args.iter().map(|a| a.as_ref().to_os_string()));
        };
        let as_root = match &self.isolation {
            Isolation::Bubblewrap { bwrap, as_root } => {
                push(&[bwrap]);
                if *as_root {
                    // `--unshare-all` less the user namespace: inside a new one, root cannot
                    // become an unprivileged host uid, and only that makes RLIMIT_NPROC hold.
                    for ns in [
                        "--unshare-ipc",
                        "--unshare-pid",
                        "--unshare-net",
                        "--unshare-uts",
                    ] {
                        push(&[&ns]);
                    }
                    push(&[&"--unshare-cgroup-try"]);
                } else {
                    push(&[&"--unshare-all"]);
                }
                push(&[&"--die-with-parent", &"--new-session", &"--clearenv"]);
                // The private /tmp first: folders bound below may live under the host's /tmp.
                // /tmp lives in memory: bounded like a file.
                let tmp_size = limits.file_size.to_string();
                push(&[&"--proc", &"/proc", &"--dev", &"/dev"]);
                push(&[
                    &"--perms", &"1777", &"--size", &tmp_size, &"--tmpfs", &"/tmp",
                ]);
                push(&[&"--ro-bind", &"/usr", &"/usr"]);
                for dir in ["bin", "sbin", "lib", "lib64", "lib32", "libx32"] {
                    let host = Path::new("/").join(dir);
                    match std::fs::read_link(&host) {
                        Ok(target) => push(&[&"--symlink", &target, &host]),
                        Err(_) if host.is_dir() => push(&[&"--ro-bind", &host, &host]),
                        Err(_) => {}
                    }
                }
                push(&[&"--perms", &"0755", &"--dir", &"/etc"]);
                for file in ["/etc/alternatives", "/etc/ld.so.cache"] {
                    push(&[&"--ro-bind-try", &file, &file]);
                }
                // Folders bound at their host paths; their parents are made 0755 first
                // (bubblewrap would copy a private parent's mode, e.g. /root's 0700, and the
                // unprivileged job could not reach the folder).
                let bound: Vec<&Path> = self
                    .rust_sysroot
                    .iter()
                    .map(PathBuf::as_path)
                    .chain(job.readable.iter().copied())
                    .chain(job.writable)
                    .collect();
                let mut parents: Vec<&Path> = bound
                    .iter()
                    .flat_map(|p| p.ancestors().skip(1))
                    .filter(|p| p.components().count() > 1)
                    .collect();
                parents.sort();
                parents.dedup();
                for parent in parents {
                    push(&[&"--perms", &"0755", &"--dir", &parent]);
                }
                if let Some(sysroot) = &self.rust_sysroot {
                    push(&[&"--ro-bind", sysroot, sysroot]);
                }
                for dir in &job.readable {
                    push(&[&"--ro-bind", dir, dir]);
                }
                match job.writable {
                    Some(dir) => push(&[&"--bind", &dir, &dir, &"--chdir", &dir]),
                    None => push(&[&"--chdir", &"/tmp"]),
                }
                push(&[&"--setenv", &"PATH", &self.path_env()]);
                push(&[
                    &"--setenv",
                    &"HOME",
                    &"/tmp",
                    &"--setenv",
                    &"TMPDIR",
                    &"/tmp",
                ]);
                push(&[&"--setenv", &"LC_ALL", &"C"]);
                push(&[&"--"]);
                *as_root
            }
            Isolation::Unsandboxed => false,
        };
        if as_root {
            let id = JOB_UID.to_string();
            push(&[
                &"setpriv",
                &format!("--reuid={id}"),
                &format!("--regid={id}"),
                &"--clear-groups",
                &"--inh-caps=-all",
                &"--bounding-set=-all",
                &"--no-new-privs",
                &"--",
            ]);
        }
        push(&[
            &"prlimit",
            // SIGXCPU at the soft limit (the tools then say "CPU time limit exceeded"),
            // SIGKILL a little later for a process that catches it.
            &format!("--cpu={}:{}", limits.cpu_secs, limits.cpu_secs + 5),
            &format!("--as={}", limits.address_space),
            &format!("--fsize={}", limits.file_size),
            &format!("--nproc={}", limits.processes),
            &"--core=0",
            &"--",
            &job.program,
        ]);
        argv.extend(job.args.iter().cloned());
        argv
    }
}
