//! Client paths: virtual paths ("/" is the served root) and the real files
//! they name, which must never lie outside the root.

use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// A `..` component, or a path (through a symlink) out of the root.
    Denied,
    /// Nothing there (or not reachable).
    Missing,
}

/// A client path, found.
#[derive(Debug, PartialEq, Eq)]
pub struct Found {
    /// Normalised: "/" or "/a/b", no `.`, `..` or empty components.
    pub virt: String,
    /// Canonical, inside the root.
    pub real: PathBuf,
}

/// Finds `arg`, absolute or relative to the virtual directory `cwd`, under
/// `root`, which must be canonical.
pub fn resolve(root: &Path, cwd: &str, arg: &str) -> Result<Found, Error> {
    let virt = join(cwd, arg)?;
    let real = locate(root, &virt)?;
    Ok(Found { virt, real })
}

/// Joins `arg` to `cwd` and normalises the result. Any `..` is refused,
/// even one that would stay inside the root: simpler, and just as safe.
pub fn join(cwd: &str, arg: &str) -> Result<String, Error> {
    let base = if arg.starts_with('/') { "" } else { cwd };
    let mut virt = String::new();
    for part in base.split('/').chain(arg.split('/')) {
        match part {
            "" | "." => {}
            ".." => return Err(Error::Denied),
            name => {
                virt.push('/');
                virt.push_str(name);
            }
        }
    }
    if virt.is_empty() {
        virt.push('/');
    }
    Ok(virt)
}

/// The real, symlink-free path of the normalised virtual path `virt`. It
/// must exist: resolving the symlinks is what shows where it really is.
pub fn locate(root: &Path, virt: &str) -> Result<PathBuf, Error> {
    let real =
        fs::canonicalize(root.join(virt.trim_start_matches('/'))).map_err(|_| Error::Missing)?;
    // Component-wise: /srv/ftp2 does not start with /srv/ftp.
    if real.starts_with(root) {
        Ok(real)
    } else {
        Err(Error::Denied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn joining() {
        assert_eq!(join("/", "a.txt"), Ok("/a.txt".into()));
        assert_eq!(join("/", "/"), Ok("/".into()));
        assert_eq!(join("/d", "."), Ok("/d".into()));
        assert_eq!(join("/d", "./e//f/"), Ok("/d/e/f".into()));
        assert_eq!(join("/d", "/x/y"), Ok("/x/y".into()));
        assert_eq!(join("/d", "...").as_deref(), Ok("/d/..."));
        assert_eq!(join("/d", "..x").as_deref(), Ok("/d/..x"));
        for bad in [
            "..",
            "../x",
            "/..",
            "/../etc/passwd",
            "a/../b",
            "a/..",
            "a/../../x",
        ] {
            assert_eq!(join("/d", bad), Err(Error::Denied), "{bad}");
        }
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("klab-ftpd-unit-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            // The temp dir itself may be reached through a symlink.
            TempDir(fs::canonicalize(&dir).unwrap())
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn confinement() {
        let tmp = TempDir::new("confinement");
        let root = tmp.0.join("root");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("sub/f.txt"), "in").unwrap();
        fs::write(tmp.0.join("secret"), "out").unwrap();
        fs::create_dir(tmp.0.join("root2")).unwrap();
        symlink("../secret", root.join("escape")).unwrap();
        symlink(tmp.0.join("secret"), root.join("escape-abs")).unwrap();
        symlink("..", root.join("up")).unwrap();
        symlink("../root2", root.join("sibling")).unwrap();
        symlink("sub/f.txt", root.join("alias")).unwrap();
        symlink("/", root.join("slash")).unwrap();

        let found = |cwd, arg| resolve(&root, cwd, arg);
        let real = |rel: &str| Ok(root.join(rel));
        assert_eq!(
            found("/", "sub/f.txt"),
            Ok(Found {
                virt: "/sub/f.txt".into(),
                real: root.join("sub/f.txt"),
            })
        );
        assert_eq!(found("/sub", "f.txt").map(|f| f.real), real("sub/f.txt"));
        assert_eq!(
            found("/sub", "/sub/f.txt").map(|f| f.real),
            real("sub/f.txt")
        );
        assert_eq!(found("/sub", "/").map(|f| f.real), Ok(root.clone()));
        // A symlink that stays inside is followed.
        assert_eq!(found("/", "alias").map(|f| f.real), real("sub/f.txt"));
        // Absolute client paths are inside the root, not the real /.
        assert_eq!(found("/", "/secret"), Err(Error::Missing));
        assert_eq!(found("/", "sub/missing"), Err(Error::Missing));
        assert_eq!(found("/", "sub/f.txt/x"), Err(Error::Missing));
        assert_eq!(found("/sub", "../secret"), Err(Error::Denied));
        assert_eq!(found("/", "../secret"), Err(Error::Denied));
        assert_eq!(found("/", "/../secret"), Err(Error::Denied));
        for escape in [
            "escape",
            "escape-abs",
            "up",
            "up/secret",
            "sibling",
            "slash",
            "slash/etc",
        ] {
            assert_eq!(found("/", escape), Err(Error::Denied), "{escape}");
        }
    }
}
