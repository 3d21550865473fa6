#![forbid(unsafe_code)]
//! Paths inside a root directory (a container's root filesystem, a layer
//! being unpacked), resolved by the kernel as if that
//! directory were `/` (openat2 with RESOLVE_IN_ROOT): a symlink in the rootfs,
//! even one swapped in by a racing process, cannot lead outside it.
//!
//! A mount is then made onto `/proc/self/fd/<n>` of the descriptor we resolved,
//! so the checked target is exactly the one mounted on (CVE-2021-30465).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat2, readlinkat};
use nix::sys::stat::Mode;
use nix::sys::stat::fstatat;

fn how(flags: OFlag) -> OpenHow {
    // openat2 refuses a mode unless it creates.
    let mode = if flags.contains(OFlag::O_CREAT) {
        Mode::from_bits_truncate(0o644)
    } else {
        Mode::empty()
    };
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .mode(mode)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// Opens `path` (absolute or not, taken relative to `root`) inside `root`.
pub fn open_in_root(root: &impl AsFd, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let rel = relative(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel.as_path()
    };
    loop {
        match openat2(root.as_fd(), rel, how(flags)) {
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// Opens, creating it when missing, the mount target `path` inside `root`: a
/// directory, or an empty file when `file` is set (a bind mount of a file).
/// Symlinks on the way are followed as if `root` were `/`, and what they name
/// is created there. Returns an O_PATH descriptor of the target.
pub fn ensure_in_root(root: &impl AsFd, path: &Path, file: bool) -> io::Result<OwnedFd> {
    let mut pending: VecDeque<OsString> = names(&relative(path));
    // `cur` is free of symlinks: each component was looked at without following.
    let mut cur = PathBuf::new();
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        let last = pending.is_empty();
        let parent = open_in_root(root, &cur, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|e| err_at(&cur, e))?;
        let here = cur.join(&name);
        match fstatat(
            parent.as_fd(),
            name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                links += 1;
                if links > 40 {
                    return Err(err_at(&here, Errno::ELOOP));
                }
                let target =
                    readlinkat(parent.as_fd(), name.as_os_str()).map_err(|e| err_at(&here, e))?;
                let resolved = if Path::new(&target).is_absolute() {
                    PathBuf::from(&target)
                } else {
                    cur.join(&target)
                };
                let mut rest = names(&relative(&resolved));
                rest.extend(pending);
                pending = rest;
                cur = PathBuf::new();
            }
            Ok(st) => {
                if !last && st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                    return Err(err_at(&here, Errno::ENOTDIR));
                }
                cur = here;
            }
            Err(Errno::ENOENT) => {
                let created = if last && file {
                    nix::fcntl::openat(
                        parent.as_fd(),
                        name.as_os_str(),
                        OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_WRONLY
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map(drop)
                } else {
                    nix::sys::stat::mkdirat(
                        parent.as_fd(),
                        name.as_os_str(),
                        Mode::from_bits_truncate(0o755),
                    )
                };
                match created {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(err_at(&here, e)),
                }
                cur = here;
            }
            Err(e) => return Err(err_at(&here, e)),
        }
    }
    open_in_root(root, &cur, OFlag::O_PATH).map_err(|e| err_at(&cur, e))
}

fn names(p: &Path) -> VecDeque<OsString> {
    p.components()
        .map(|c| c.as_os_str().to_os_string())
        .collect()
}

/// An error that names the path, as seen from inside the root.
fn err_at(rel: &Path, e: Errno) -> io::Error {
    let e = io::Error::from(e);
    io::Error::new(
        e.kind(),
        format!(
            "{} in the root filesystem: {e}",
            Path::new("/").join(rel).display()
        ),
    )
}

/// The text of a regular file inside `root` (an image's /etc/passwd), at
/// most `limit` bytes. Opening never blocks and only a regular file is
/// read: a FIFO, a device or a socket an image put there is refused, so
/// that a hostile image cannot wedge whoever reads it.
pub fn read_regular_in_root(root: &impl AsFd, path: &Path, limit: u64) -> io::Result<String> {
    use std::io::Read;
    let fd = open_in_root(root, path, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
    let st = nix::sys::stat::fstat(fd.as_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(limit)
        .read_to_string(&mut text)?;
    Ok(text)
}

pub fn is_dir(fd: &impl AsFd) -> bool {
    nix::sys::stat::fstat(fd.as_fd()).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// The path the kernel resolves to the descriptor itself: a mount target that
/// cannot be redirected after it was checked.
pub fn proc_fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `path` without its root, `.` or `..` parts taken lexically (`..` at the top
/// stays at the top, as it would in a chroot).
fn relative(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        // An absolute symlink and a climbing one both point "at the host".
        symlink("/", root.join("abs")).unwrap();
        symlink("../../../../../../", root.join("up")).unwrap();
        let rootfd =
            nix::fcntl::open(&root, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        for link in ["abs", "up"] {
            let fd =
                ensure_in_root(&rootfd, &Path::new("/").join(link).join("made"), false).unwrap();
            drop(fd);
            assert!(
                root.join("made").is_dir(),
                "{link}: created inside the root"
            );
            std::fs::remove_dir(root.join("made")).unwrap();
        }
        assert!(!Path::new("/made").exists());
    }

    #[test]
    fn dangling_symlinks_are_created_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let host = tempfile::tempdir().unwrap();
        let root = d.path();
        symlink(host.path().join("t"), root.join("abs")).unwrap();
        symlink("../../../../x/y", root.join("rel")).unwrap();
        let rootfd =
            nix::fcntl::open(root, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        ensure_in_root(&rootfd, Path::new("/abs/sub"), false).unwrap();
        ensure_in_root(&rootfd, Path::new("/rel"), true).unwrap();
        assert!(
            root.join(host.path().strip_prefix("/").unwrap())
                .join("t/sub")
                .is_dir()
        );
        assert!(root.join("x/y").is_file());
        assert!(std::fs::read_dir(host.path()).unwrap().next().is_none());
    }

    #[test]
    fn symlink_loops_end() {
        let d = tempfile::tempdir().unwrap();
        symlink("b", d.path().join("a")).unwrap();
        symlink("a", d.path().join("b")).unwrap();
        let rootfd =
            nix::fcntl::open(d.path(), OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        assert!(ensure_in_root(&rootfd, Path::new("/a/x"), false).is_err());
    }

    #[test]
    fn creates_files_and_directories() {
        let d = tempfile::tempdir().unwrap();
        let rootfd =
            nix::fcntl::open(d.path(), OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        ensure_in_root(&rootfd, Path::new("/a/b/c"), false).unwrap();
        ensure_in_root(&rootfd, Path::new("/a/f"), true).unwrap();
        assert!(d.path().join("a/b/c").is_dir());
        assert!(d.path().join("a/f").is_file());
        assert!(ensure_in_root(&rootfd, Path::new("/a/f/x"), false).is_err());
    }
}
