//! Unpacking a kernel pack entry by entry: only files, folders and links inside `linux/`; no
//! absolute paths, no `..`, no links pointing out, no hard links or devices; a size limit.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::manifest::{open_pack, MANIFEST};
use super::{mb, TICK, TREE};
use crate::events::Step;

/// An import refuses a pack that expands past this (a real one is about 150 MB).
const MAX_UNPACKED: u64 = 4 << 30;

/// An entry's path, relative and inside `linux/`, or why it is refused.
fn tree_path(raw: &Path) -> Result<PathBuf, String> {
    let mut rel = PathBuf::new();
    for component in raw.components() {
        match component {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            _ => {
                return Err(format!(
                    "the entry `{}` is absolute or climbs out with `..`",
                    raw.display()
                ))
            }
        }
    }
    if !rel.starts_with(TREE) {
        return Err(format!("the entry `{}` is outside {TREE}/", raw.display()));
    }
    Ok(rel)
}

/// Whether a link at `entry` (inside `linux/`) pointing at `target` stays inside `linux/`.
fn link_stays_inside(entry: &Path, target: &Path) -> bool {
    // Folders below the archive's top; `linux/` itself is depth 1 and must not be left.
    let mut depth = entry.components().count().saturating_sub(1);
    if target.as_os_str().is_empty() {
        return false;
    }
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth > 1 => depth -= 1,
            _ => return false,
        }
    }
    true
}

/// Unpacks the tree under `dest/linux`, refusing anything that could land outside it.
pub fn unpack(file: &Path, dest: &Path, step: &Step) -> Result<()> {
    let mut pack = open_pack(file)?;
    pack.set_preserve_mtime(true);
    let (mut total, mut last_tick) = (0u64, Duration::ZERO);
    for entry in pack.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        if raw == Path::new(MANIFEST) {
            continue;
        }
        let rel = tree_path(&raw).map_err(anyhow::Error::msg)?;
        match entry.header().entry_type() {
            tar::EntryType::Directory | tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Symlink => {
                let target = entry.link_name()?.unwrap_or_default().into_owned();
                if !link_stays_inside(&rel, &target) {
                    bail!(
                        "the link `{}` points at `{}`, outside {TREE}/",
                        raw.display(),
                        target.display()
                    );
                }
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
            other => bail!(
                "`{}` is a {other:?} entry; a kernel pack holds only files, folders and links inside {TREE}/",
                raw.display()
            ),
        }
        total += entry.header().size()?;
        if total > MAX_UNPACKED {
            bail!("the pack expands past {}", mb(MAX_UNPACKED));
        }
        if !entry
            .unpack_in(dest)
            .with_context(|| format!("unpacking `{}`", raw.display()))?
        {
            bail!("`{}` was refused by the unpacker", raw.display());
        }
        if step.elapsed() - last_tick >= TICK {
            last_tick = step.elapsed();
            step.tick(&format!("{} unpacked", mb(total)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::*;
    /// A .tar.gz with the manifest first, then `entries` as (name, link target or contents).
    fn pack_with(dir: &Path, entries: &[(&str, Result<&str, &[u8]>)]) -> PathBuf {
        let file = dir.join("pack.tar.gz");
        let gz = flate2::write::GzEncoder::new(
            File::create(&file).unwrap(),
            flate2::Compression::fast(),
        );
        let mut pack = tar::Builder::new(gz);
        let mut add = |name: &str, kind: tar::EntryType, link: &str, data: &[u8]| {
            let mut header = tar::Header::new_gnu();
            // Written raw: `Header::set_path` refuses `..`, a hostile pack does not.
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_entry_type(kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o755);
            if !link.is_empty() {
                header.set_link_name(link).unwrap();
            }
            header.set_cksum();
            pack.append(&header, data).unwrap();
        };
        add(MANIFEST, tar::EntryType::Regular, "", b"{}");
        for (name, what) in entries {
            match what {
                Ok(target) => add(name, tar::EntryType::Symlink, target, b""),
                Err(data) => add(name, tar::EntryType::Regular, "", data),
            }
        }
        pack.into_inner().unwrap().finish().unwrap();
        file
    }

    fn unpack_into(dir: &Path, entries: &[(&str, Result<&str, &[u8]>)]) -> Result<PathBuf> {
        let file = pack_with(dir, entries);
        let dest = dir.join("out");
        std::fs::create_dir_all(&dest).unwrap();
        unpack(
            &file,
            &dest,
            &Step::start(
                &crate::events::Silent,
                crate::events::StepKind::Kernel,
                "test",
            ),
        )
        .map(|()| dest)
    }

    #[test]
    fn a_good_pack_unpacks_with_its_modes_and_inner_links() {
        let dir = tempfile::tempdir().unwrap();
        let dest = unpack_into(
            dir.path(),
            &[
                ("linux/scripts/dummy-tools/ld", Err(b"#!/bin/sh\n")),
                ("linux/scripts/dummy-tools/nm", Ok("ld")),
            ],
        )
        .unwrap();
        let tools = dest.join("linux/scripts/dummy-tools");
        assert_eq!(std::fs::read(tools.join("nm")).unwrap(), b"#!/bin/sh\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tools.join("ld"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "the executable bit was lost");
        assert!(!dest.join(MANIFEST).exists());
    }

    #[test]
    fn hostile_entries_refuse_the_pack_and_write_nothing_outside() {
        for (name, what, why) in [
            ("linux/../escaped", Err(&b"x"[..]), "climbs out"),
            ("/tmp/klab-absolute", Err(&b"x"[..]), "absolute"),
            ("elsewhere/file", Err(&b"x"[..]), "outside linux/"),
            ("linux/include/l", Ok("../../escaped"), "outside linux/"),
            ("linux/include/l", Ok("/etc/passwd"), "outside linux/"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let err = unpack_into(dir.path(), &[(name, what)]).unwrap_err();
            assert!(
                format!("{err:#}").contains(why),
                "{name}: `{err:#}` does not say `{why}`"
            );
            assert!(!dir.path().join("escaped").exists());
            assert!(!dir.path().join("out/escaped").exists());
        }
    }

    #[test]
    fn entries_must_stay_inside_the_tree() {
        assert_eq!(
            tree_path(Path::new("linux/include/linux/module.h")).unwrap(),
            Path::new("linux/include/linux/module.h")
        );
        assert_eq!(
            tree_path(Path::new("./linux/Makefile")).unwrap(),
            Path::new("linux/Makefile")
        );
        for bad in [
            "/etc/passwd",
            "linux/../../etc/passwd",
            "linux/include/../../x",
            "other/Makefile",
            "Makefile",
            "linuxx/Makefile",
        ] {
            assert!(tree_path(Path::new(bad)).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn links_must_point_inside_the_tree() {
        let entry = Path::new("linux/include/dt-bindings/input/linux-event-codes.h");
        assert!(link_stays_inside(
            entry,
            Path::new("../../uapi/linux/input-event-codes.h")
        ));
        assert!(link_stays_inside(
            Path::new("linux/scripts/dummy-tools/nm"),
            Path::new("ld")
        ));
        assert!(link_stays_inside(
            Path::new("linux/a/b"),
            Path::new("./c/../d")
        ));
        assert!(!link_stays_inside(
            Path::new("linux/a/b"),
            Path::new("../../x")
        ));
        assert!(!link_stays_inside(Path::new("linux/a"), Path::new("../x")));
        assert!(!link_stays_inside(
            Path::new("linux/a/b"),
            Path::new("/etc/passwd")
        ));
        assert!(!link_stays_inside(Path::new("linux/a/b"), Path::new("")));
    }
}
