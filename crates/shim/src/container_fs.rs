//! `berth container-fs`: the helper for files in and out of a container
//! (`docker cp`, export). It first confines itself to the container's root
//! with chroot(2), so that no path or symlink inside the container can lead
//! to the host. A running container's root is `/proc/<pid>/root`; a stopped
//! one's overlay is mounted in the helper's own mount namespace and goes
//! away with it.
//!
//! Why a process and chroot rather than in-root resolution in the daemon:
//! a tar walk and extraction touch many paths; confining the whole process
//! covers every one of them, symlinks created mid-walk included.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the helper finds the container's root.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Root {
    /// A running container: its init's root.
    Pid(i32),
    /// A stopped one: mount this overlay (options) at this directory, and
    /// its volumes and binds over it, so that `cp` reads and writes them as
    /// dockerd's does.
    Overlay {
        options: String,
        target: PathBuf,
        #[serde(default)]
        binds: Vec<Bind>,
    },
}

/// A host directory (a volume's `_data`, a bind's source) at a path of the
/// container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bind {
    pub source: PathBuf,
    pub destination: PathBuf,
    pub read_only: bool,
}

/// What `HEAD /archive` reports (moby's PathStat), base64 JSON in the
/// `X-Docker-Container-Path-Stat` header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go's os.FileMode bits that moby's clients read.
const MODE_DIR: u32 = 1 << 31;
const MODE_SYMLINK: u32 = 1 << 27;

/// `berth container-fs <stat|get|put|export> <root JSON> <path>`.
pub fn helper_main(args: &[String]) -> i32 {
    let [op, root, path] = args else {
        eprintln!("usage: berth container-fs <stat|get|put|export> <root> <path>");
        return 2;
    };
    let res = serde_json::from_str::<Root>(root)
        .map_err(|e| io::Error::other(format!("bad root: {e}")))
        .and_then(|r| confine(&r))
        .and_then(|()| match op.as_str() {
            "stat" => stat(Path::new(path)),
            "get" => get(Path::new(path)),
            "put" => put(Path::new(path)),
            "export" => export(),
            other => Err(io::Error::other(format!("unknown operation {other}"))),
        });
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{path}: {e}");
            1
        }
    }
}

fn confine(root: &Root) -> io::Result<()> {
    let dir = match root {
        Root::Pid(pid) => PathBuf::from(format!("/proc/{pid}/root")),
        Root::Overlay {
            options,
            target,
            binds,
        } => {
            crate::rootfs::mount_in_own_namespace(target, options)?;
            for b in binds {
                bind_in_root(target, b)?;
            }
            target.clone()
        }
    };
    nix::unistd::chroot(&dir)?;
    std::env::set_current_dir("/")?;
    Ok(())
}

/// Mounts `b` in the root at `target`, its destination resolved inside that
/// root (a symlink in the container cannot place it on the host).
fn bind_in_root(target: &Path, b: &Bind) -> io::Result<()> {
    use nix::mount::{MsFlags, mount};
    let root = fs::File::open(target)?;
    let file = !fs::metadata(&b.source)?.is_dir();
    let at = berth_safefs::ensure_in_root(&root, &b.destination, file)?;
    let at_path = berth_safefs::proc_fd_path(&at);
    let ctx = |what: &str, e: nix::Error| {
        io::Error::other(format!(
            "{what} {} at {}: {e}",
            b.source.display(),
            b.destination.display()
        ))
    };
    let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount(Some(&b.source), &at_path, None::<&str>, flags, None::<&str>)
        .map_err(|e| ctx("mounting", e))?;
    if b.read_only {
        let ro = flags | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        mount(None::<&str>, &at_path, None::<&str>, ro, None::<&str>)
            .map_err(|e| ctx("making read-only", e))?;
    }
    Ok(())
}

fn go_mode(meta: &fs::Metadata) -> u32 {
    let mut mode = meta.permissions().mode() & 0o777;
    if meta.is_dir() {
        mode |= MODE_DIR;
    }
    if meta.file_type().is_symlink() {
        mode |= MODE_SYMLINK;
    }
    mode
}

fn base_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into())
}

fn stat(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let link = if meta.file_type().is_symlink() {
        fs::read_link(path)?.to_string_lossy().into_owned()
    } else {
        String::new()
    };
    let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_secs(meta.mtime().max(0) as u64);
    let st = PathStat {
        name: base_name(path),
        size: meta.len() as i64,
        mode: go_mode(&meta),
        mtime: humantime::format_rfc3339_seconds(mtime).to_string(),
        link_target: link,
    };
    io::stdout().write_all(&serde_json::to_vec(&st).expect("json serializes"))
}

/// A tar of `path` on stdout, its top entry named by the path's last part.
fn get(path: &Path) -> io::Result<()> {
    fs::symlink_metadata(path)?;
    let out = io::BufWriter::with_capacity(256 * 1024, io::stdout().lock());
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let name = PathBuf::from(base_name(path));
    append_tree(&mut b, path, &name, None)?;
    b.into_inner()?.flush()
}

/// The whole root, minus what is mounted over it (proc, sys, dev, binds).
fn export() -> io::Result<()> {
    let dev = fs::symlink_metadata("/")?.dev();
    let out = io::BufWriter::with_capacity(256 * 1024, io::stdout().lock());
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let mut entries: Vec<_> = fs::read_dir("/")?.collect::<io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = PathBuf::from(e.file_name());
        append_tree(&mut b, &Path::new("/").join(&name), &name, Some(dev))?;
    }
    b.into_inner()?.flush()
}

/// Appends `src` as `name`, recursing into directories; with `one_dev`,
/// what lies on another device (a mount) is left out.
fn append_tree<W: Write>(
    b: &mut tar::Builder<W>,
    src: &Path,
    name: &Path,
    one_dev: Option<u64>,
) -> io::Result<()> {
    let meta = fs::symlink_metadata(src)?;
    if one_dev.is_some_and(|d| d != meta.dev()) {
        return Ok(());
    }
    b.append_path_with_name(src, name)?;
    if meta.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(src)?.collect::<io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            append_tree(
                b,
                &src.join(e.file_name()),
                &name.join(e.file_name()),
                one_dev,
            )?;
        }
    }
    Ok(())
}

/// Extracts the tar on stdin into the directory `path` (inside the chroot,
/// so `..` and absolute names stay in the container).
fn put(path: &Path) -> io::Result<()> {
    let meta = fs::metadata(path)?;
    if !meta.is_dir() {
        return Err(io::Error::other("not a directory"));
    }
    let mut a = tar::Archive::new(io::stdin().lock());
    a.set_preserve_permissions(true);
    a.set_overwrite(true);
    a.unpack(path)
}
