//! `cargo xtask copy`: the guest root as a cpio initramfs, written without root or mounts.
//!
//! Two archives, concatenated (the kernel unpacks them in order): the base (busybox, the
//! `rootfs/` recipe, klab's guest tools), which rarely changes, and the lab files of the
//! selected tasks under `/lab/<lab>/<task>/`.

use std::path::{Path, PathBuf};

use crate::guest::cpio::CpioWriter;
use anyhow::{Context, Result};
use xshell::{cmd, Shell};

use crate::build::BuiltTask;
use crate::host::MUSL_TARGET;
use crate::paths::Paths;

const BUSYBOX: &str = "/bin/busybox";

/// Builds klab's static guest tools (our `nc` and `ftpd`) and returns `(guest path, host file)`
/// pairs. A build whose binaries are newer than every file it is made from (`guest-tools/`,
/// the workspace's `Cargo.toml` and `Cargo.lock`) is not run: cargo's own no-op check costs
/// a tenth of a second on every `check`.
pub fn guest_tools(sh: &Shell, paths: &Paths) -> Result<Vec<(String, PathBuf)>> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| paths.root.join("target"));
    let release = target.join(MUSL_TARGET).join("release");
    let tools = vec![
        ("bin/nc".to_owned(), release.join("nc")),
        ("bin/ftpd".to_owned(), release.join("ftpd")),
    ];
    if !up_to_date(paths, &tools) {
        // Marked built as of the start: an edit made while cargo runs is seen next time.
        let started = std::time::SystemTime::now();
        let _dir = sh.push_dir(&paths.root);
        cmd!(
            sh,
            "cargo build --quiet --release -p klab-nc -p klab-ftpd --target {MUSL_TARGET}"
        )
        .run()
        .context("building the guest tools (guest-tools/nc, guest-tools/ftpd) for musl")?;
        // cargo leaves a binary it did not need to rebuild as it was: marked built now, so
        // that the next check needs no cargo at all.
        for (_, tool) in &tools {
            std::fs::File::options()
                .write(true)
                .open(tool)
                .and_then(|f| f.set_modified(started))
                .with_context(|| format!("marking {} up to date", tool.display()))?;
        }
    }
    Ok(tools)
}

/// Whether every built tool is newer than every source it is built from.
fn up_to_date(paths: &Paths, tools: &[(String, PathBuf)]) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(oldest_tool) = tools.iter().map(|(_, p)| modified(p)).min().flatten() else {
        return false;
    };
    let sources = walkdir::WalkDir::new(paths.root.join("guest-tools"))
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .chain(["Cargo.toml", "Cargo.lock"].map(|f| paths.root.join(f)));
    let mut newest_source = None;
    for source in sources {
        match modified(&source) {
            Some(t) => newest_source = newest_source.max(Some(t)),
            None => return false,
        }
    }
    newest_source.is_some_and(|newest| newest < oldest_tool)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// The base archive: busybox with its applet links, `rootfs/init`, `rootfs/overlay/`, tools.
pub fn base_archive(sh: &Shell, paths: &Paths, tools: &[(String, PathBuf)]) -> Result<Vec<u8>> {
    let mut w = CpioWriter::new(Vec::new());
    for dir in [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "usr/local",
        "usr/local/bin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "root",
        "lab",
    ] {
        w.dir(dir)?;
    }
    w.char_device("dev/console", 0o600, 5, 1)?;
    w.char_device("dev/null", 0o666, 1, 3)?;
    w.file("bin/busybox", 0o755, &read(Path::new(BUSYBOX))?)?;
    let applets = cmd!(sh, "{BUSYBOX} --list-full")
        .quiet()
        .read()
        .context("listing busybox applets")?;
    let ours: Vec<&str> = tools.iter().map(|(p, _)| p.as_str()).collect();
    for applet in applets
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "bin/busybox")
    {
        let name = applet.rsplit('/').next().unwrap_or(applet);
        if ours.iter().any(|t| t.rsplit('/').next() == Some(name)) {
            continue; // our tool replaces busybox's (e.g. nc with UDP support)
        }
        w.symlink(applet, "/bin/busybox")?;
    }
    w.file("init", 0o755, &read(&paths.rootfs.join("init"))?)?;
    let overlay = paths.rootfs.join("overlay");
    for entry in walkdir::WalkDir::new(&overlay)
        .min_depth(1)
        .sort_by_file_name()
    {
        let entry = entry?;
        let rel = entry
            .path()
            .strip_prefix(&overlay)?
            .to_string_lossy()
            .into_owned();
        if entry.file_type().is_dir() {
            w.dir(&rel)?;
        } else {
            let mode = if rel.contains("/bin/") { 0o755 } else { 0o644 };
            w.file(&rel, mode, &read(entry.path())?)?;
        }
    }
    for (guest, host) in tools {
        w.file(guest, 0o755, &read(host)?)?;
    }
    Ok(w.finish()?)
}

/// The lab archive: each built task's files under `lab/<lab>/<task>/`.
pub fn lab_archive(tasks: &[(String, &BuiltTask)]) -> Result<Vec<u8>> {
    // Start inode numbers far from the base archive's so the two never collide.
    let mut w = CpioWriter::with_first_inode(Vec::new(), 1 << 20);
    let mut dirs = std::collections::BTreeSet::new();
    for (id, _) in tasks {
        let lab = id.split('/').next().unwrap_or(id);
        dirs.insert(format!("lab/{lab}"));
        dirs.insert(format!("lab/{id}"));
    }
    for dir in &dirs {
        w.dir(dir)?;
    }
    for (id, built) in tasks {
        for (name, host) in &built.files {
            let mode = if name.ends_with(".ko") { 0o644 } else { 0o755 };
            w.file(&format!("lab/{id}/{name}"), mode, &read(host)?)?;
        }
    }
    Ok(w.finish()?)
}

/// Writes `target/klab/initrd-<label>.cpio` (base + lab) if its bytes changed.
pub fn write_initrd(paths: &Paths, label: &str, base: &[u8], lab: &[u8]) -> Result<PathBuf> {
    std::fs::create_dir_all(&paths.work)?;
    let path = paths.work.join(format!("initrd-{label}.cpio"));
    let mut bytes = Vec::with_capacity(base.len() + lab.len());
    bytes.extend_from_slice(base);
    bytes.extend_from_slice(lab);
    if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
        write_padded(&path, &bytes, bytes.len() as u64)?;
    }
    Ok(path)
}

/// Size of the lab disk (a sparse file): a restored guest's virtio disk must keep the size
/// the saved guest saw at boot.
pub const LAB_DISK_BYTES: u64 = 64 << 20;

/// Writes `bytes` to `path` atomically, padded with zeros (a sparse tail) to `len`.
fn write_padded(path: &Path, bytes: &[u8], len: u64) -> Result<()> {
    // Several klab processes (parallel tests, CI jobs) may write the same shared file.
    crate::atomic_file::write_with(path, |file| {
        std::io::Write::write_all(file, bytes)?;
        file.set_len(len)?;
        Ok(())
    })
}

/// `target/klab/initrd-base.cpio`: the base alone, which the saved guest booted from.
pub fn write_base_initrd(paths: &Paths, base: &[u8]) -> Result<PathBuf> {
    std::fs::create_dir_all(&paths.out)?;
    let path = paths.out.join("initrd-base.cpio");
    if std::fs::read(&path).ok().as_deref() != Some(base) {
        write_padded(&path, base, base.len() as u64)?;
    }
    Ok(path)
}

/// Where the lab disk of `label` is.
pub fn lab_disk_path(paths: &Paths, label: &str) -> PathBuf {
    paths.work.join(format!("lab-{label}.img"))
}

/// `target/klab/lab-<label>.img`: the lab archive on a fixed-size disk for a restored guest
/// (`klab-load-lab` unpacks it); `None` if it does not fit (such labs boot instead).
///
/// Written in place, not replaced: a VM resumed before the build finished already has the
/// file open, and reads what is written here when the guest loads the lab.
pub fn write_lab_disk(paths: &Paths, label: &str, lab: &[u8]) -> Result<Option<PathBuf>> {
    if lab.len() as u64 > LAB_DISK_BYTES {
        return Ok(None);
    }
    let path = lab_disk_path(paths, label);
    std::fs::create_dir_all(&paths.work)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    std::io::Write::write_all(&mut file, lab)?;
    file.set_len(LAB_DISK_BYTES)?;
    Ok(Some(path))
}

/// `target/klab/lab-empty.img`: the placeholder disk the saved guest boots with.
pub fn empty_lab_disk(paths: &Paths) -> Result<PathBuf> {
    std::fs::create_dir_all(&paths.out)?;
    let path = paths.out.join("lab-empty.img");
    if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(LAB_DISK_BYTES) {
        write_padded(&path, &[], LAB_DISK_BYTES)?;
    }
    Ok(path)
}
