//! The init layer: one read-only directory, shared by every container, that
//! sits between the image's layers and the container's upper directory and
//! holds the mount points the runtime needs (/etc/hosts, /etc/hostname,
//! /etc/resolv.conf, /proc, /sys, /dev) and Docker's /etc/mtab link. Docker
//! makes the same layer per container; its contents do not depend on the
//! image, so one serves all.
//!
//! Without it each start would create those files and copy /etc up into the
//! container's upper directory: disk inodes made (and later deleted) per
//! container, and entries `diff` and `commit` must leave out.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const DIRS: &[&str] = &["dev", "proc", "sys", "etc"];
const FILES: &[&str] = &["etc/hosts", "etc/hostname", "etc/resolv.conf"];

/// Makes the layer under `data_root` unless it is there. It is built aside
/// and renamed into place, so that it exists only whole.
pub fn ensure(data_root: &Path) -> Result<PathBuf> {
    let dir = data_root.join("init-layer");
    if dir.is_dir() {
        // A layer made before /etc/mtab was part of it gets the link: a new
        // name in a lower directory, which running containers may or may
        // not see, and nothing they rely on.
        let mtab = dir.join("etc/mtab");
        if mtab.symlink_metadata().is_err() {
            let _ = std::os::unix::fs::symlink("/proc/mounts", &mtab);
        }
        return Ok(dir);
    }
    let io = |what: &Path, e| Error::io(format!("making the init layer: {}", what.display()), e);
    let tmp = data_root.join(format!("init-layer.tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    // Modes set outright, not left to the daemon's umask: as the topmost
    // lower layer, these directories' modes are what every container sees.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).map_err(|e| io(p, e))
    };
    for d in DIRS {
        let p = tmp.join(d);
        std::fs::create_dir_all(&p).map_err(|e| io(&p, e))?;
        mode(&p, 0o755)?;
    }
    for f in FILES {
        let p = tmp.join(f);
        std::fs::write(&p, b"").map_err(|e| io(&p, e))?;
        mode(&p, 0o644)?;
    }
    let mtab = tmp.join("etc/mtab");
    std::os::unix::fs::symlink("/proc/mounts", &mtab).map_err(|e| io(&mtab, e))?;
    mode(&tmp, 0o755)?;
    if let Err(e) = std::fs::rename(&tmp, &dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        if !dir.is_dir() {
            return Err(io(&dir, e));
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    #[test]
    fn made_once_with_every_mount_point() {
        let root = tempfile::tempdir().unwrap();
        let dir = super::ensure(root.path()).unwrap();
        for f in super::FILES {
            assert!(dir.join(f).is_file(), "{f}");
        }
        use std::os::unix::fs::PermissionsExt;
        for d in super::DIRS {
            assert!(dir.join(d).is_dir(), "{d}");
            let mode = std::fs::metadata(dir.join(d)).unwrap().permissions().mode();
            assert_eq!(mode & 0o7777, 0o755, "{d}");
        }
        // A second call finds it done and changes nothing.
        std::fs::write(dir.join("etc/hosts"), b"kept").unwrap();
        assert_eq!(super::ensure(root.path()).unwrap(), dir);
        assert_eq!(std::fs::read(dir.join("etc/hosts")).unwrap(), b"kept");
    }
}
