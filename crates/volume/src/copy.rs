//! Docker's copy-up: an empty volume mounted over a directory that has
//! content in the image receives that content, and the directory's owner
//! and mode, on its first mount.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag, UtimensatFlags, mknod, utimensat};
use nix::sys::time::TimeSpec;

use crate::{Error, Result};

/// Copies the directory at `path` inside `root` (resolved in the root, so
/// no symlink in the image leads out of it) into `dest`, keeping owners,
/// modes, times, xattrs, symlinks, devices and hard links; `dest` itself
/// takes the directory's owner and mode. Does nothing, and says so, when
/// `dest` is not empty or the path is not a directory in the image.
///
/// `root` is a tree nobody changes while we copy (image layers, a stopped
/// container's filesystem), so the walk below it goes by path; it never
/// follows a symlink.
pub fn copy_up(root: &Path, path: &str, dest: &Path) -> Result<bool> {
    let io_err = |what: &str| {
        let what = format!(
            "copying {path} from the image into {}: {what}",
            dest.display()
        );
        move |source: io::Error| Error::Io { what, source }
    };
    let not_empty = fs::read_dir(dest)
        .map_err(io_err("reading the volume"))?
        .next()
        .is_some();
    if not_empty {
        return Ok(false);
    }
    let root_dir = fs::File::open(root).map_err(io_err("opening the image's root"))?;
    let source = match berth_safefs::open_in_root(
        &root_dir,
        Path::new(path),
        OFlag::O_PATH | OFlag::O_DIRECTORY,
    ) {
        Ok(fd) => fd,
        // Missing, or not a directory: nothing to copy.
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => return Ok(false),
        Err(e) => return Err(io_err("resolving the path")(e.into())),
    };
    let source_path = PathBuf::from(format!("/proc/self/fd/{}", source.as_raw_fd()));
    let mut links = HashMap::new();
    copy_children(&source_path, dest, &mut links).map_err(io_err("copying"))?;
    let meta = fs::metadata(&source_path).map_err(io_err("reading the directory"))?;
    apply_metadata(&source_path, dest, &meta).map_err(io_err("setting the volume's owner"))?;
    Ok(true)
}

/// Files already copied, by (device, inode): later names become hard links.
type Links = HashMap<(u64, u64), PathBuf>;

fn copy_children(src: &Path, dst: &Path, links: &mut Links) -> io::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        copy_entry(&entry.path(), &dst.join(entry.file_name()), links)?;
    }
    Ok(())
}

fn copy_entry(src: &Path, dst: &Path, links: &mut Links) -> io::Result<()> {
    let meta = fs::symlink_metadata(src)?;
    let kind = meta.file_type();
    if !kind.is_dir() && meta.nlink() > 1 {
        if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
            return fs::hard_link(first, dst);
        }
        links.insert((meta.dev(), meta.ino()), dst.to_path_buf());
    }
    if kind.is_dir() {
        fs::DirBuilder::new().mode(0o700).create(dst)?;
        copy_children(src, dst, links)?;
    } else if kind.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(src)?, dst)?;
    } else if kind.is_file() {
        let mut from = fs::OpenOptions::new()
            .read(true)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(src)?;
        let mut to = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dst)?;
        io::copy(&mut from, &mut to)?;
    } else {
        let sflag = SFlag::from_bits_truncate(meta.mode() & SFlag::S_IFMT.bits());
        mknod(dst, sflag, Mode::from_bits_truncate(0o600), meta.rdev())?;
    }
    apply_metadata(src, dst, &meta)
}

/// Owner, xattrs, mode (after the owner: chown clears set-id bits) and
/// times of `src` onto `dst`, without following a symlink.
fn apply_metadata(src: &Path, dst: &Path, meta: &fs::Metadata) -> io::Result<()> {
    std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))?;
    if let Ok(names) = xattr::list(src) {
        for name in names {
            if let Ok(Some(value)) = xattr::get(src, &name) {
                // An xattr the destination's filesystem refuses (a
                // trusted.overlay.* one, say) is not the data's.
                let _ = xattr::set(dst, &name, &value);
            }
        }
    }
    if !meta.file_type().is_symlink() {
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    let atime = TimeSpec::new(meta.atime(), meta.atime_nsec());
    let mtime = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    utimensat(
        nix::fcntl::AT_FDCWD,
        dst,
        &atime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}

/// Bytes under `path` as dockerd counts a volume's size: every entry's
/// apparent size, hard links once, symlinks not followed.
pub fn disk_usage(path: &Path) -> u64 {
    fn walk(p: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
        let Ok(meta) = fs::symlink_metadata(p) else {
            return 0;
        };
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            return 0;
        }
        let own = meta.len();
        if !meta.is_dir() {
            return own;
        }
        let children = fs::read_dir(p)
            .map(|rd| rd.flatten().map(|e| walk(&e.path(), seen)).sum())
            .unwrap_or(0);
        own + children
    }
    let mut seen = std::collections::HashSet::new();
    fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| walk(&e.path(), &mut seen)).sum())
        .unwrap_or(0)
}
