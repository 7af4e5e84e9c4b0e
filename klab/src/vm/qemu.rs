//! The QEMU command line, and the probe that decides between KVM and TCG.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How the guest's CPU is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    pub fn parse(s: &str) -> Option<Accel> {
        match s.trim() {
            "kvm" => Some(Accel::Kvm),
            "tcg" => Some(Accel::Tcg),
            _ => None,
        }
    }
}

/// What a VM boots.
#[derive(Debug, Clone)]
pub struct VmImage {
    pub qemu: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub memory_mb: u32,
    pub accel: Accel,
    /// Run the kernel's built-in KUnit tests (the Rust doctests) at boot; off normally.
    pub kunit: bool,
    /// A raw disk image attached as a read-only virtio disk (`/dev/vda`): how the lab's files
    /// reach a guest restored from a saved state, whose initramfs was loaded long ago.
    pub lab_disk: Option<PathBuf>,
}

/// Where the guest's shell is.
#[derive(Debug, Clone)]
pub enum ShellPort {
    /// The harness: kernel console on stdout, the command shell on a second serial port
    /// behind a unix socket, so command output and kernel messages never interleave.
    /// `monitor`: QEMU's human monitor on a unix socket (stop, migrate, cont). `incoming`:
    /// a unix socket QEMU listens on for a saved guest state to resume instead of booting.
    Harness {
        socket: PathBuf,
        monitor: Option<PathBuf>,
        incoming: Option<PathBuf>,
    },
    /// A person: one serial port on the terminal, shell and kernel messages together.
    Interactive,
}

/// The kernel command line shared by every mode.
pub fn kernel_cmdline(shell: &ShellPort, kunit: bool) -> String {
    let shell = match shell {
        ShellPort::Harness { .. } => "klab.shell=ttyS1",
        ShellPort::Interactive => "klab.shell=console",
    };
    let kunit = if kunit { 1 } else { 0 };
    // No ACPI in the lab kernel (kernel/lean.config): PCI interrupts are routed by the BIOS's
    // tables, and a reboot (panic=-1, sysrq `b`, `reboot -f`) ends QEMU (-no-reboot).
    // Without ACPI there is no HPET or PM timer, so the clocksource watchdog would judge the
    // TSC against jiffies, which lag whenever the host is busy (TCG, a grading run's 8 VMs on
    // 2 cores): it then marks the TSC unstable, prints it into the running task's kernel log
    // (a FAIL against the snapshot) and drops the guest to a jiffies clock. The TSC QEMU gives
    // the guest is derived from the host's clock: trusted.
    format!("console=ttyS0 panic=-1 quiet tsc=reliable kunit.enable={kunit} {shell}")
}

pub fn qemu_args(image: &VmImage, shell: &ShellPort) -> Vec<String> {
    let mut args: Vec<String> = [
        "-nodefaults",
        "-no-user-config",
        "-no-reboot",
        "-display",
        "none",
        "-accel",
        image.accel.name(),
        "-cpu",
        if image.accel == Accel::Kvm {
            "host"
        } else {
            "max"
        },
        "-smp",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(["-m".into(), image.memory_mb.to_string()]);
    args.extend(["-kernel".into(), image.kernel.display().to_string()]);
    args.extend(["-initrd".into(), image.initrd.display().to_string()]);
    args.extend(["-append".into(), kernel_cmdline(shell, image.kunit)]);
    if let Some(disk) = &image.lab_disk {
        args.extend([
            "-drive".into(),
            format!(
                "file={},if=none,id=lab,format=raw,readonly=on",
                qemu_opt_value(&disk.display().to_string())
            ),
            "-device".into(),
            "virtio-blk-pci,drive=lab".into(),
        ]);
    }
    match shell {
        ShellPort::Harness {
            socket,
            monitor,
            incoming,
        } => {
            let monitor = match monitor {
                Some(path) => format!(
                    "unix:{},server=on,wait=off",
                    qemu_opt_value(&path.display().to_string())
                ),
                None => "none".into(),
            };
            args.extend(["-monitor".into(), monitor, "-serial".into(), "stdio".into()]);
            args.extend([
                "-chardev".into(),
                format!(
                    "socket,id=shell,path={},server=on,wait=on",
                    qemu_opt_value(&socket.display().to_string())
                ),
                "-serial".into(),
                "chardev:shell".into(),
            ]);
            if let Some(path) = incoming {
                args.extend(["-incoming".into(), format!("unix:{}", path.display())]);
            }
        }
        ShellPort::Interactive => {
            // mon:stdio keeps QEMU's Ctrl-a escapes (Ctrl-a x quits, Ctrl-a c the monitor).
            args.extend(["-serial".into(), "mon:stdio".into()]);
        }
    }
    args
}

/// A value inside a QEMU `key=value,...` option: commas are doubled.
fn qemu_opt_value(value: &str) -> String {
    value.replace(',', ",,")
}

/// What the KVM probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvmProbe {
    Works,
    NoDevice,
    /// QEMU with KVM exited before the guest printed anything: its first error line.
    Failed(String),
    /// No console output within the time limit (a hanging KVM guest).
    TimedOut,
}

/// Whether a KVM guest actually runs here. `/dev/kvm` can exist while guests hang or QEMU
/// aborts (nested virtualisation without support), so boot the kernel for real, without an
/// initrd, and wait for its first console line for at most `timeout`. Never hangs: the probe
/// VM is killed.
pub fn probe_kvm(qemu: &Path, kernel: &Path, timeout: Duration) -> KvmProbe {
    if !Path::new("/dev/kvm").exists() {
        return KvmProbe::NoDevice;
    }
    let child = Command::new(qemu)
        .args([
            "-nodefaults",
            "-no-user-config",
            "-no-reboot",
            "-display",
            "none",
            "-accel",
            "kvm",
            "-cpu",
            "host",
        ])
        .args(["-m", "128", "-serial", "stdio", "-kernel"])
        .arg(kernel)
        .args(["-append", "console=ttyS0 panic=-1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return KvmProbe::Failed(format!("starting {}: {e}", qemu.display())),
    };
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut seen = Vec::new();
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains("Linux version") {
                let _ = tx.send(true);
                return;
            }
        }
        let _ = tx.send(false);
    });
    let start = Instant::now();
    let outcome = match rx.recv_timeout(timeout.saturating_sub(start.elapsed())) {
        Ok(true) => KvmProbe::Works,
        Ok(false) => {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut err);
            }
            KvmProbe::Failed(err.lines().next().unwrap_or("QEMU exited").to_owned())
        }
        Err(_) => KvmProbe::TimedOut,
    };
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> VmImage {
        VmImage {
            qemu: "qemu-system-x86_64".into(),
            kernel: "/k/bzImage".into(),
            initrd: "/k/initrd.cpio".into(),
            memory_mb: 256,
            accel: Accel::Tcg,
            kunit: false,
            lab_disk: None,
        }
    }

    #[test]
    fn harness_mode_puts_the_shell_on_a_second_port() {
        let args = qemu_args(
            &image(),
            &ShellPort::Harness {
                socket: "/run/x/shell.sock".into(),
                monitor: None,
                incoming: None,
            },
        );
        let line = args.join(" ");
        assert!(line.contains("-serial stdio -chardev socket,id=shell,path=/run/x/shell.sock,server=on,wait=on -serial chardev:shell"), "{line}");
        assert!(
            line.contains(
                "-append console=ttyS0 panic=-1 quiet tsc=reliable kunit.enable=0 klab.shell=ttyS1"
            ),
            "{line}"
        );
        assert!(line.contains("-accel tcg -cpu max"), "{line}");
    }

    #[test]
    fn a_restored_guest_gets_its_monitor_state_socket_and_lab_disk() {
        let mut image = image();
        image.lab_disk = Some("/t/lab,1.img".into());
        let args = qemu_args(
            &image,
            &ShellPort::Harness {
                socket: "/run/x/shell.sock".into(),
                monitor: Some("/run/x/monitor.sock".into()),
                incoming: Some("/run/x/incoming.sock".into()),
            },
        );
        let line = args.join(" ");
        assert!(line.contains("-drive file=/t/lab,,1.img,if=none,id=lab,format=raw,readonly=on -device virtio-blk-pci,drive=lab"), "{line}");
        assert!(
            line.contains("-monitor unix:/run/x/monitor.sock,server=on,wait=off"),
            "{line}"
        );
        assert!(
            line.ends_with("-incoming unix:/run/x/incoming.sock"),
            "{line}"
        );
    }

    #[test]
    fn commas_in_socket_paths_are_doubled_for_qemu() {
        let args = qemu_args(
            &image(),
            &ShellPort::Harness {
                socket: "/run/a,b/shell.sock".into(),
                monitor: Some("/run/a,b/monitor.sock".into()),
                incoming: None,
            },
        );
        let line = args.join(" ");
        assert!(
            line.contains("socket,id=shell,path=/run/a,,b/shell.sock,server=on,wait=on"),
            "{line}"
        );
        assert!(
            line.contains("-monitor unix:/run/a,,b/monitor.sock,server=on"),
            "{line}"
        );
    }

    #[test]
    fn interactive_mode_keeps_the_escape_keys() {
        let args = qemu_args(&image(), &ShellPort::Interactive);
        assert!(args.join(" ").contains("-serial mon:stdio"));
        assert!(!args.iter().any(|a| a.contains("chardev")));
    }

    #[test]
    fn accel_names_round_trip() {
        for a in [Accel::Kvm, Accel::Tcg] {
            assert_eq!(Accel::parse(a.name()), Some(a));
        }
        assert_eq!(Accel::parse("hvf"), None);
    }
}
