//! Applying a layer (a tar stream, plain, gzip or zstd) into an empty
//! directory that becomes a snapshot's upper layer: OCI whiteouts become
//! overlayfs whiteouts, and ownership, modes, times, xattrs, hard links and
//! device nodes are kept.
//!
//! Extraction is our own, not the tar crate's `unpack`: every entry's parent
//! is resolved inside the destination by the kernel (openat2 with
//! RESOLVE_IN_ROOT, through berth-safefs) and the entry is made relative to
//! that directory handle, so no name, symlink or hard link in the layer can
//! write outside it. A name that climbs out with `..` is refused; an absolute
//! name is taken relative to the root (its leading `/` dropped), as Docker
//! and containerd do.

use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::{Gid, Uid};

use crate::digest::{Digest, DigestReader};
use crate::error::{Context, Error, Result};
use crate::manifest::Compression;

/// What applying a layer found: the digest and size of its uncompressed tar
/// (the `diff_id` an image config lists).
#[derive(Debug, Clone)]
pub struct Applied {
    pub diff_id: Digest,
    pub size: u64,
}

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Decompresses `reader` as its first bytes say.
pub fn decompress<'a>(reader: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
    let mut br = BufReader::with_capacity(64 * 1024, reader);
    let head = br.fill_buf().ctx(|| "reading the layer")?;
    Ok(match Compression::sniff(head) {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(br)),
        Compression::Zstd => Box::new(
            ruzstd::decoding::StreamingDecoder::new(br)
                .map_err(|e| Error::invalid("layer", format!("bad zstd stream: {e}")))?,
        ),
        Compression::None => Box::new(br),
    })
}

/// Applies the layer in `reader` into `dest` (an empty directory).
pub fn apply(reader: impl Read, dest: &Path) -> Result<Applied> {
    let digester = DigestReader::new(decompress(reader)?);
    let mut archive = tar::Archive::new(digester);
    let root = nix::fcntl::open(
        dest,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("opening {}", dest.display()))?;
    let mut dirs: Vec<(PathBuf, i64)> = Vec::new();
    let entries = archive.entries().map_err(|e| stream_error(&e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| stream_error(&e))?;
        let raw = entry.path().map_err(|e| stream_error(&e))?.into_owned();
        let shown = raw.display().to_string();
        let fail = |reason: String| Error::LayerEntry {
            entry: shown.clone(),
            reason,
        };
        let Some(rel) = confine(&raw) else {
            return Err(fail("the name climbs out of the layer root with ..".into()));
        };
        if rel.as_os_str().is_empty() {
            continue; // the root itself ("./")
        }
        if let Some(mtime) =
            apply_entry(&root, &rel, &mut entry).map_err(|e| fail(e.to_string()))?
        {
            dirs.push((rel, mtime));
        }
    }
    // Creating entries inside directories changed their times: set them last.
    for (rel, mtime) in dirs.iter().rev() {
        if let Ok((parent, name)) = parent_of(&root, rel) {
            let _ = set_mtime(&parent, &name, *mtime);
        }
    }
    let (diff_id, size) = archive
        .into_inner()
        .finish()
        .map_err(|e| stream_error(&e))?;
    Ok(Applied { diff_id, size })
}

fn stream_error(e: &io::Error) -> Error {
    Error::invalid(
        "layer",
        format!("reading the tar stream: {e} (truncated or corrupt?)"),
    )
}

/// The entry's path relative to the root, or None if `..` climbs above it.
fn confine(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

/// The directory that holds `rel` (created if missing, resolved inside the
/// root) and the entry's own name.
fn parent_of(root: &OwnedFd, rel: &Path) -> io::Result<(OwnedFd, OsString)> {
    let name = rel.file_name().map(OsStr::to_os_string).unwrap_or_default();
    let parent_rel = rel.parent().unwrap_or(Path::new(""));
    refuse_climbing_symlinks(root, parent_rel, 0)?;
    let parent = berth_safefs::ensure_in_root(root, parent_rel, false)?;
    Ok((parent, name))
}

/// An entry written through a symlink of the layer that points above the
/// root (`../../..`) is refused by name. (The kernel would confine the write
/// anyway; the error says what the layer tried.) Absolute targets name paths
/// of the image's own root and are followed there, as Docker does.
fn refuse_climbing_symlinks(root: &OwnedFd, dir: &Path, depth: u32) -> io::Result<()> {
    if depth > 40 {
        return Err(io::Error::other("too many levels of symbolic links"));
    }
    let mut cur = PathBuf::new();
    for c in dir.components() {
        cur.push(c);
        let Ok(st) = nix::sys::stat::fstatat(root, &cur, AtFlags::AT_SYMLINK_NOFOLLOW) else {
            return Ok(()); // missing from here on: nothing to go through
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
            continue;
        }
        let target = nix::fcntl::readlinkat(root, &cur)?;
        let target = Path::new(&target);
        if target.is_relative()
            && confine(&cur.parent().unwrap_or(Path::new("")).join(target)).is_none()
        {
            return Err(io::Error::other(format!(
                "goes through the symlink /{} -> {}, which points outside the layer",
                cur.display(),
                target.display()
            )));
        }
        // Follow it: the rest of the walk continues from where it points.
        return refuse_climbing_symlinks(
            root,
            &{
                let base = if target.is_absolute() {
                    PathBuf::new()
                } else {
                    cur.parent().unwrap_or(Path::new("")).to_path_buf()
                };
                let mut rest = confine(&base.join(target)).unwrap_or_default();
                rest.push(dir.strip_prefix(&cur).unwrap_or(Path::new("")));
                rest
            },
            depth + 1,
        );
    }
    Ok(())
}

/// Makes one entry; returns the mtime to set on it later for directories.
fn apply_entry(
    root: &OwnedFd,
    rel: &Path,
    entry: &mut tar::Entry<impl Read>,
) -> io::Result<Option<i64>> {
    let (parent, name) = parent_of(root, rel)?;
    let name_str = name.to_string_lossy();
    if name_str == OPAQUE {
        set_xattr(&parent, None, "trusted.overlay.opaque", b"y")?;
        return Ok(None);
    }
    if let Some(hidden) = name_str.strip_prefix(WHITEOUT_PREFIX) {
        if hidden.is_empty() || hidden == "." || hidden == ".." {
            return Err(io::Error::other("invalid whiteout name"));
        }
        remove_existing(&parent, OsStr::new(hidden))?;
        // overlayfs's whiteout: a character device 0/0.
        nix::sys::stat::mknodat(&parent, hidden, SFlag::S_IFCHR, Mode::empty(), 0)?;
        return Ok(None);
    }
    let header = entry.header().clone();
    let mode = header.mode().map_err(io::Error::other)? & 0o7777;
    let kind = header.entry_type();
    let mut dir_mtime = None;
    match kind {
        tar::EntryType::Directory => {
            match nix::sys::stat::mkdirat(
                &parent,
                name.as_os_str(),
                Mode::from_bits_truncate(0o700),
            ) {
                Ok(()) => {}
                Err(Errno::EEXIST) if is_dir_at(&parent, &name) => {}
                Err(Errno::EEXIST) => {
                    remove_existing(&parent, &name)?;
                    nix::sys::stat::mkdirat(
                        &parent,
                        name.as_os_str(),
                        Mode::from_bits_truncate(0o700),
                    )?;
                }
                Err(e) => return Err(e.into()),
            }
            dir_mtime = Some(header.mtime().unwrap_or(0) as i64);
        }
        tar::EntryType::Regular | tar::EntryType::Continuous => {
            remove_existing(&parent, &name)?;
            let fd = nix::fcntl::openat(
                &parent,
                name.as_os_str(),
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_WRONLY
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )?;
            let mut file = std::fs::File::from(fd);
            copy_large(entry, &mut file)?;
        }
        tar::EntryType::Symlink => {
            let target = entry
                .link_name()?
                .ok_or_else(|| io::Error::other("symlink without a target"))?;
            remove_existing(&parent, &name)?;
            nix::unistd::symlinkat(target.as_os_str(), &parent, name.as_os_str())?;
        }
        tar::EntryType::Link => {
            let target = entry
                .link_name()?
                .ok_or_else(|| io::Error::other("hard link without a target"))?;
            let target_rel = confine(&target).ok_or_else(|| {
                io::Error::other(format!(
                    "hard link target {} climbs out of the layer root",
                    target.display()
                ))
            })?;
            let tname = target_rel
                .file_name()
                .ok_or_else(|| io::Error::other("hard link to the root"))?;
            let tparent = berth_safefs::open_in_root(
                root,
                target_rel.parent().unwrap_or(Path::new("")),
                OFlag::O_PATH | OFlag::O_DIRECTORY,
            )
            .map_err(|e| io::Error::other(format!("hard link target {}: {e}", target.display())))?;
            remove_existing(&parent, &name)?;
            nix::unistd::linkat(&tparent, tname, &parent, name.as_os_str(), AtFlags::empty())
                .map_err(|e| {
                    io::Error::other(format!("hard link target {}: {e}", target.display()))
                })?;
            // A hard link shares its target's inode: nothing more to set.
            return Ok(None);
        }
        tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
            let kind = match kind {
                tar::EntryType::Char => SFlag::S_IFCHR,
                tar::EntryType::Block => SFlag::S_IFBLK,
                _ => SFlag::S_IFIFO,
            };
            // Fifos may carry empty device fields.
            let major = header.device_major().ok().flatten().unwrap_or(0);
            let minor = header.device_minor().ok().flatten().unwrap_or(0);
            let dev = nix::sys::stat::makedev(major as u64, minor as u64);
            remove_existing(&parent, &name)?;
            nix::sys::stat::mknodat(
                &parent,
                name.as_os_str(),
                kind,
                Mode::from_bits_truncate(mode),
                dev,
            )?;
        }
        tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => return Ok(None),
        other => {
            return Err(io::Error::other(format!(
                "unsupported entry type {other:?}"
            )));
        }
    }
    let uid = header.uid().map_err(io::Error::other)? as u32;
    let gid = header.gid().map_err(io::Error::other)? as u32;
    nix::unistd::fchownat(
        &parent,
        name.as_os_str(),
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    if kind != tar::EntryType::Symlink {
        // After chown, which clears set-id bits.
        nix::sys::stat::fchmodat(
            &parent,
            name.as_os_str(),
            Mode::from_bits_truncate(mode),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )?;
    }
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            if let Some(attr) = ext.key().ok().and_then(|k| k.strip_prefix("SCHILY.xattr.")) {
                set_xattr(&parent, Some(&name), attr, ext.value_bytes())?;
            }
        }
    }
    if dir_mtime.is_none() {
        set_mtime(&parent, &name, header.mtime().unwrap_or(0) as i64)?;
    }
    Ok(dir_mtime)
}

/// io::copy with a buffer large enough that big files go in few system calls
/// (io::copy's 8 KiB made loading a 200 MB layer a syscall storm).
pub(crate) fn copy_large(from: &mut impl Read, to: &mut impl std::io::Write) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

fn is_dir_at(parent: &OwnedFd, name: &OsStr) -> bool {
    nix::sys::stat::fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// Removes what the entry replaces (a directory with all it holds).
fn remove_existing(parent: &OwnedFd, name: &OsStr) -> io::Result<()> {
    match nix::sys::stat::fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e.into()),
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {
            let dir = nix::fcntl::openat(
                parent,
                name,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            let listing = nix::fcntl::openat(
                &dir,
                ".",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            let names: Vec<OsString> = nix::dir::Dir::from_fd(listing)?
                .iter()
                .filter_map(|e| e.ok())
                .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
                .filter(|n| n != "." && n != "..")
                .collect();
            for n in names {
                remove_existing(&dir, &n)?;
            }
            nix::unistd::unlinkat(parent, name, nix::unistd::UnlinkatFlags::RemoveDir)?;
            Ok(())
        }
        Ok(_) => Ok(nix::unistd::unlinkat(
            parent,
            name,
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )?),
    }
}

fn set_mtime(parent: &OwnedFd, name: &OsStr, mtime: i64) -> io::Result<()> {
    let t = nix::sys::time::TimeSpec::new(mtime, 0);
    nix::sys::stat::utimensat(
        parent,
        name,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}

/// Sets an xattr on `name` in `parent` (or on `parent` itself), without
/// following a final symlink: through /proc/self/fd, since O_PATH handles
/// take no fsetxattr.
fn set_xattr(parent: &OwnedFd, name: Option<&OsStr>, attr: &str, value: &[u8]) -> io::Result<()> {
    let dir = PathBuf::from(format!("/proc/self/fd/{}", parent.as_fd().as_raw_fd()));
    let r = match name {
        // The entry itself, not what it may point to.
        Some(n) => xattr::set(dir.join(n), attr, value),
        // The directory the magic link leads to.
        None => xattr::set_deref(&dir, attr, value),
    };
    r.map_err(|e| io::Error::other(format!("setting xattr {attr}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confinement() {
        assert_eq!(
            confine(Path::new("/etc/passwd")).unwrap(),
            PathBuf::from("etc/passwd")
        );
        assert_eq!(confine(Path::new("./a/../b")).unwrap(), PathBuf::from("b"));
        assert!(confine(Path::new("../x")).is_none());
        assert!(confine(Path::new("a/../../x")).is_none());
    }
}
