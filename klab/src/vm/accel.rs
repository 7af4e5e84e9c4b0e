//! Choosing KVM or TCG once per machine: `/dev/kvm` can exist while KVM guests hang.

use std::time::Duration;

use crate::vm::qemu::{probe_kvm, Accel, KvmProbe};

use crate::events::Reporter;
use crate::kernel::KernelTree;
use crate::paths::Paths;

pub const QEMU: &str = "qemu-system-x86_64";
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// `KLAB_ACCEL` wins; then the cached probe result; then a probe (at most 5 s), cached.
pub fn resolve(paths: &Paths, kernel: &KernelTree, reporter: &dyn Reporter) -> Accel {
    if let Some(accel) = std::env::var("KLAB_ACCEL")
        .ok()
        .as_deref()
        .and_then(Accel::parse)
    {
        return accel;
    }
    let cache = paths.cache.join("accel");
    if let Some(accel) = std::fs::read_to_string(&cache)
        .ok()
        .as_deref()
        .and_then(Accel::parse)
    {
        return accel;
    }
    reprobe(paths, kernel, reporter)
}

/// Probes again (`cargo xtask setup` does) and caches the answer.
pub fn reprobe(paths: &Paths, kernel: &KernelTree, reporter: &dyn Reporter) -> Accel {
    let accel = match probe_kvm(std::path::Path::new(QEMU), &kernel.bzimage, PROBE_TIMEOUT) {
        KvmProbe::Works => {
            reporter.note("KVM works here: guests run accelerated".into());
            Accel::Kvm
        }
        KvmProbe::NoDevice => {
            reporter.note("no /dev/kvm: using TCG (software emulation)".into());
            Accel::Tcg
        }
        KvmProbe::Failed(why) => {
            reporter.note(format!("/dev/kvm exists but a KVM guest fails here ({why}): using TCG (software emulation)"));
            Accel::Tcg
        }
        KvmProbe::TimedOut => {
            reporter.note(format!(
                "/dev/kvm exists but a KVM guest did not start within {} s: using TCG (software emulation)",
                PROBE_TIMEOUT.as_secs()
            ));
            Accel::Tcg
        }
    };
    let _ = std::fs::create_dir_all(&paths.cache);
    let _ = std::fs::write(paths.cache.join("accel"), accel.name());
    accel
}
