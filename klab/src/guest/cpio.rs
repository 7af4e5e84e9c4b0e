//! A writer for the `newc` cpio format the kernel unpacks as its initramfs.
//!
//! Written by hand (it is ~60 lines) so that building the guest root needs no root, no
//! mount and no external tool, and so that owners, modes and device nodes are exactly ours.

use std::io::{self, Write};

const MODE_DIR: u32 = 0o040000;
const MODE_FILE: u32 = 0o100000;
const MODE_SYMLINK: u32 = 0o120000;
const MODE_CHAR: u32 = 0o020000;

/// Writes entries one by one; call [`CpioWriter::finish`] to add the trailer.
pub struct CpioWriter<W: Write> {
    out: W,
    next_ino: u32,
    written: u64,
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> CpioWriter<W> {
        CpioWriter::with_first_inode(out, 1)
    }

    /// Starts inode numbers at `first` (use distinct ranges for archives that get concatenated).
    pub fn with_first_inode(out: W, first: u32) -> CpioWriter<W> {
        CpioWriter {
            out,
            next_ino: first,
            written: 0,
        }
    }

    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) -> io::Result<()> {
        let name = name.trim_start_matches('/');
        let ino = self.next_ino;
        self.next_ino += 1;
        let nlink = if mode & 0o170000 == MODE_DIR { 2 } else { 1 };
        let header = format!(
            "070701{ino:08x}{mode:08x}{uid:08x}{gid:08x}{nlink:08x}{mtime:08x}{size:08x}{maj:08x}{min:08x}{rmaj:08x}{rmin:08x}{namesize:08x}{check:08x}",
            uid = 0,
            gid = 0,
            mtime = 0,
            size = data.len(),
            maj = 0,
            min = 0,
            rmaj = rdev.0,
            rmin = rdev.1,
            namesize = name.len() + 1,
            check = 0,
        );
        self.write_padded(header.as_bytes(), &[name.as_bytes(), b"\0"].concat())?;
        self.write_padded(data, &[])
    }

    /// Writes `a` then `b`, then pads to a multiple of four bytes.
    fn write_padded(&mut self, a: &[u8], b: &[u8]) -> io::Result<()> {
        self.out.write_all(a)?;
        self.out.write_all(b)?;
        self.written += (a.len() + b.len()) as u64;
        let pad = (4 - (self.written % 4) as usize) % 4;
        self.out.write_all(&[0; 3][..pad])?;
        self.written += pad as u64;
        Ok(())
    }

    pub fn dir(&mut self, name: &str) -> io::Result<()> {
        self.entry(name, MODE_DIR | 0o755, (0, 0), &[])
    }

    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        self.entry(name, MODE_FILE | (perm & 0o7777), (0, 0), data)
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> io::Result<()> {
        self.entry(name, MODE_SYMLINK | 0o777, (0, 0), target.as_bytes())
    }

    pub fn char_device(&mut self, name: &str, perm: u32, major: u32, minor: u32) -> io::Result<()> {
        self.entry(name, MODE_CHAR | (perm & 0o7777), (major, minor), &[])
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.entry("TRAILER!!!", 0, (0, 0), &[])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_aligned_and_end_with_a_trailer() {
        let mut w = CpioWriter::new(Vec::new());
        w.dir("lab").unwrap();
        w.file("lab/a", 0o755, b"hello").unwrap();
        w.symlink("bin/sh", "busybox").unwrap();
        w.char_device("dev/console", 0o600, 5, 1).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len() % 4, 0);
        assert!(bytes.starts_with(b"070701"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("lab/a\0"));
        assert!(text.contains("TRAILER!!!\0"));
    }

    #[test]
    fn the_system_cpio_lists_what_we_wrote() {
        // `cargo xtask setup` installs cpio: a missing one is a failure, not a skip.
        let status = std::process::Command::new("cpio").arg("--version").output();
        assert!(
            status.is_ok_and(|o| o.status.success()),
            "cpio is not installed (cargo xtask setup installs it)"
        );
        let mut w = CpioWriter::new(Vec::new());
        w.dir("lab").unwrap();
        w.file("lab/test.sh", 0o755, b"echo hi\n").unwrap();
        w.symlink("lab/link", "test.sh").unwrap();
        let bytes = w.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.cpio");
        std::fs::write(&archive, bytes).unwrap();
        let out = std::process::Command::new("cpio")
            .args(["-i", "-t", "-v", "-F"])
            .arg(&archive)
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            listing.contains("lab/test.sh") && listing.contains("-rwxr-xr-x"),
            "{listing}"
        );
        assert!(listing.contains("lab/link -> test.sh"), "{listing}");
    }
}
