//! COPY and ADD of local files: finding the sources (globs, `--exclude`),
//! their content hash for the cache, and the copy into a writable root.
//!
//! Both ends are resolved by the kernel inside their root (berth-safefs,
//! openat2 RESOLVE_IN_ROOT): a source symlink that points out of the
//! context, or a destination symlink in the image that points out of the
//! image, leads to a path inside the same root, never to the host. Below
//! a source, directories are opened one name at a time with O_NOFOLLOW,
//! and symlinks are copied as symlinks.

use std::fs::{self, File, Metadata};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::OFlag;
use sha2::{Digest, Sha256};

use berth_safefs::{ensure_in_root, open_in_root, proc_fd_path};

/// What the copy does to ownership and modes.
#[derive(Debug, Clone, Default)]
pub struct Attrs {
    /// `--chown`, resolved; None keeps the source's owner (`--from`) or
    /// makes it root (the context), as `keep_owner` says.
    pub owner: Option<(u32, u32)>,
    pub keep_owner: bool,
    /// `--chmod`.
    pub mode: Option<u32>,
    /// `--parents`: each source keeps its path under the destination.
    pub parents: bool,
}

/// A source, cleaned and relative to its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub rel: PathBuf,
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Cleans `path` (as Go's filepath.Clean) relative to the root; a path
/// that climbs out of it is refused.
pub fn clean(path: &str) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err(format!("forbidden path outside the build context: {path}"));
                }
            }
            Component::Normal(n) => out.push(n),
        }
    }
    Ok(out)
}

/// The host path of `rel` resolved inside `root` (its symlinks followed
/// as if `root` were `/`).
pub fn resolve_in(root: &Path, rel: &Path) -> Result<PathBuf, String> {
    let root_fd = open_root(root)?;
    let fd = open_in_root(&root_fd, rel, OFlag::O_PATH)
        .map_err(|e| format!("{}: {e}", rel.display()))?;
    fs::read_link(proc_fd_path(&fd)).map_err(|e| format!("{}: {e}", rel.display()))
}

/// The sources a COPY names: each path as is, each glob by what it matches
/// in `root` (Go's filepath.Match on the whole path: `*` stops at `/`).
pub fn find_sources(root: &Path, patterns: &[String]) -> Result<Vec<Source>, String> {
    let root_fd = open_root(root)?;
    let mut out = Vec::new();
    for p in patterns {
        let rel = clean(p)?;
        if !has_glob(p) {
            open_in_root(&root_fd, &rel, OFlag::O_PATH).map_err(|e| {
                format!(
                    "file not found in build context or excluded by .dockerignore: stat {}: {}",
                    rel.display(),
                    if e == nix::errno::Errno::ENOENT {
                        "file does not exist".to_string()
                    } else {
                        e.desc().to_lowercase()
                    }
                )
            })?;
            out.push(Source { rel });
            continue;
        }
        let pattern = glob::Pattern::new(&rel.to_string_lossy())
            .map_err(|e| format!("bad source pattern {p:?}: {e}"))?;
        let depth = rel.components().count();
        let mut found = Vec::new();
        walk_names(&root_fd, Path::new(""), depth, &mut |path| {
            if pattern.matches_path_with(path, MATCH) {
                found.push(Source {
                    rel: path.to_path_buf(),
                });
            }
        })
        .map_err(|e| format!("reading the build context: {e}"))?;
        found.sort_by(|a, b| a.rel.cmp(&b.rel));
        out.extend(found);
    }
    if out.is_empty() {
        return Err("no source files were specified".into());
    }
    Ok(out)
}

const MATCH: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

fn open_root(root: &Path) -> Result<OwnedFd, String> {
    nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| format!("opening {}: {e}", root.display()))
}

/// Every path under `dir` down to `depth` names, without following links.
fn walk_names(
    root: &OwnedFd,
    dir: &Path,
    depth: usize,
    visit: &mut dyn FnMut(&Path),
) -> std::io::Result<()> {
    if depth == 0 {
        return Ok(());
    }
    let fd = open_in_root(
        root,
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
    )?;
    for entry in fs::read_dir(proc_fd_path(&fd))? {
        let entry = entry?;
        let path = dir.join(entry.file_name());
        visit(&path);
        if entry.file_type()?.is_dir() {
            walk_names(root, &path, depth - 1, visit)?;
        }
    }
    Ok(())
}

/// One thing found below a source.
enum Item {
    Dir,
    File(File),
    Link(PathBuf),
    /// Devices, fifos, sockets: Docker copies them; so do we, by mode.
    Special,
}

/// Visits `source` (a file, a link it leads to, or a directory and all
/// below it), parents before children. Paths given to `visit` are
/// relative to the source ("" for the source itself).
fn walk(
    root: &OwnedFd,
    source: &Path,
    excluded: &dyn Fn(&Path) -> bool,
    visit: &mut dyn FnMut(&Path, &Metadata, Item) -> Result<(), String>,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("reading {}: {e}", source.display());
    // The source itself is followed (inside the root), as Docker does.
    let fd = open_in_root(root, source, OFlag::O_PATH).map_err(|e| err(&e))?;
    let meta = fs::metadata(proc_fd_path(&fd)).map_err(|e| err(&e))?;
    if meta.is_dir() {
        visit(Path::new(""), &meta, Item::Dir)?;
        walk_dir(&fd, Path::new(""), excluded, visit)
    } else if meta.is_file() {
        let file = File::open(proc_fd_path(&fd)).map_err(|e| err(&e))?;
        visit(Path::new(""), &meta, Item::File(file))
    } else {
        visit(Path::new(""), &meta, Item::Special)
    }
}

fn walk_dir(
    dir: &OwnedFd,
    rel: &Path,
    excluded: &dyn Fn(&Path) -> bool,
    visit: &mut dyn FnMut(&Path, &Metadata, Item) -> Result<(), String>,
) -> Result<(), String> {
    let dir_path = proc_fd_path(dir);
    let mut names: Vec<_> = fs::read_dir(&dir_path)
        .and_then(|d| {
            d.map(|e| e.map(|e| e.file_name()))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| format!("reading {}: {e}", rel.display()))?;
    names.sort();
    for name in names {
        let path = rel.join(&name);
        if excluded(&path) {
            continue;
        }
        let err = |e: &dyn std::fmt::Display| format!("reading {}: {e}", path.display());
        let meta = fs::symlink_metadata(dir_path.join(&name)).map_err(|e| err(&e))?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(dir_path.join(&name)).map_err(|e| err(&e))?;
            visit(&path, &meta, Item::Link(target))?;
        } else if ft.is_dir() {
            let sub = nix::fcntl::openat(
                dir.as_fd(),
                name.as_os_str(),
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| err(&e))?;
            visit(&path, &meta, Item::Dir)?;
            walk_dir(&sub, &path, excluded, visit)?;
        } else if ft.is_file() {
            let fd = nix::fcntl::openat(
                dir.as_fd(),
                name.as_os_str(),
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| err(&e))?;
            visit(&path, &meta, Item::File(File::from(fd)))?;
        } else {
            visit(&path, &meta, Item::Special)?;
        }
    }
    Ok(())
}

/// A matcher for `--exclude` patterns, on paths relative to a source.
pub fn excluder(patterns: &[String]) -> Result<impl Fn(&Path) -> bool, String> {
    let pats = patterns
        .iter()
        .map(|p| {
            glob::Pattern::new(p.trim_start_matches('/'))
                .map_err(|e| format!("bad --exclude {p:?}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(move |p: &Path| pats.iter().any(|pat| pat.matches_path_with(p, MATCH)))
}

/// Adds what the copy of `sources` depends on to `hash`: names, types,
/// modes, owners when kept, link targets and contents; not times.
pub fn hash_sources(
    root: &Path,
    sources: &[Source],
    excludes: &[String],
    keep_owner: bool,
    hash: &mut Sha256,
) -> Result<(), String> {
    let root_fd = open_root(root)?;
    let excluded = excluder(excludes)?;
    for s in sources {
        hash.update(s.rel.as_os_str().as_encoded_bytes());
        hash.update([0]);
        walk(&root_fd, &s.rel, &excluded, &mut |path, meta, item| {
            hash.update(path.as_os_str().as_encoded_bytes());
            hash.update(format!("\0{:o}\0", meta.mode()));
            if keep_owner {
                hash.update(format!("{}:{}\0", meta.uid(), meta.gid()));
            }
            match item {
                Item::File(mut f) => {
                    std::io::copy(&mut f, &mut HashWriter(hash))
                        .map_err(|e| format!("reading {}: {e}", s.rel.join(path).display()))?;
                }
                Item::Link(t) => hash.update(t.as_os_str().as_encoded_bytes()),
                Item::Dir => {}
                Item::Special => hash.update(format!("{}", meta.rdev())),
            }
            hash.update([0xff]);
            Ok(())
        })?;
    }
    Ok(())
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where a source goes: Docker's rules for COPY's destination.
fn target_of(
    source: &Source,
    is_dir: bool,
    dest: &str,
    dest_is_dir: bool,
    parents: bool,
) -> PathBuf {
    let dest = PathBuf::from(dest);
    if parents {
        dest.join(&source.rel)
    } else if is_dir {
        // A directory's contents go into the destination.
        dest
    } else if dest_is_dir {
        dest.join(source.rel.file_name().unwrap_or_default())
    } else {
        dest
    }
}

/// Copies `sources` from `src_root` into `dest_root` at `dest` (absolute,
/// inside the root). `dest` is a directory when it ends in `/`, when there
/// are several sources, or when the image already has a directory there.
pub fn copy(
    src_root: &Path,
    sources: &[Source],
    dest_root: &Path,
    dest: &str,
    excludes: &[String],
    attrs: &Attrs,
) -> Result<(), String> {
    let src_fd = open_root(src_root)?;
    let dst_fd = open_root(dest_root)?;
    let excluded = excluder(excludes)?;
    let exists_as_dir =
        open_in_root(&dst_fd, Path::new(dest), OFlag::O_PATH | OFlag::O_DIRECTORY).is_ok();
    let dest_is_dir = dest.ends_with('/') || sources.len() > 1 || exists_as_dir;
    for s in sources {
        let top = open_in_root(&src_fd, &s.rel, OFlag::O_PATH)
            .map_err(|e| format!("reading {}: {e}", s.rel.display()))?;
        let is_dir = berth_safefs::is_dir(&top);
        let target = target_of(s, is_dir, dest, dest_is_dir, attrs.parents);
        let mut dirs: Vec<(PathBuf, Metadata)> = Vec::new();
        walk(&src_fd, &s.rel, &excluded, &mut |path, meta, item| {
            let at = if path.as_os_str().is_empty() {
                target.clone()
            } else {
                target.join(path)
            };
            let (uid, gid) = match attrs.owner {
                Some(o) => o,
                None if attrs.keep_owner => (meta.uid(), meta.gid()),
                None => (0, 0),
            };
            let mode = attrs.mode.unwrap_or(meta.mode() & 0o7777);
            put(&dst_fd, &at, meta, item, (uid, gid), mode)?;
            if meta.is_dir() {
                dirs.push((at, meta.clone()));
            }
            Ok(())
        })?;
        // Directory times last: writing into them changed them.
        for (at, meta) in dirs.iter().rev() {
            if let Ok(fd) = open_in_root(&dst_fd, at, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
                let _ = File::from(fd)
                    .set_modified(meta.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH));
            }
        }
    }
    Ok(())
}

/// Writes one item at `at` inside the root behind `root`.
fn put(
    root: &OwnedFd,
    at: &Path,
    meta: &Metadata,
    item: Item,
    (uid, gid): (u32, u32),
    mode: u32,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| {
        format!("copying to {}: {e}", Path::new("/").join(at).display())
    };
    if let Item::Dir = item {
        let fd = ensure_in_root(root, at, false).map_err(|e| err(&e))?;
        let path = proc_fd_path(&fd);
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).map_err(|e| err(&e))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(|e| err(&e))?;
        return Ok(());
    }
    let parent = at.parent().unwrap_or(Path::new(""));
    let name = at
        .file_name()
        .ok_or_else(|| err(&"the destination is the root"))?;
    let dir = ensure_in_root(root, parent, false).map_err(|e| err(&e))?;
    let path = proc_fd_path(&dir).join(name);
    // What was there goes, unless it is a directory (Docker refuses that).
    match fs::symlink_metadata(&path) {
        Ok(m) if m.is_dir() => {
            return Err(err(&"cannot overwrite a directory with a non-directory"));
        }
        Ok(_) => fs::remove_file(&path).map_err(|e| err(&e))?,
        Err(_) => {}
    }
    match item {
        Item::File(mut src) => {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc_o_nofollow())
                .open(&path)
                .map_err(|e| err(&e))?;
            std::io::copy(&mut src, &mut f).map_err(|e| err(&e))?;
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid)).map_err(|e| err(&e))?;
            f.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(|e| err(&e))?;
            if let Ok(t) = meta.modified() {
                f.set_modified(t).map_err(|e| err(&e))?;
            }
        }
        Item::Link(target) => {
            std::os::unix::fs::symlink(&target, &path).map_err(|e| err(&e))?;
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).map_err(|e| err(&e))?;
        }
        Item::Special => {
            let kind = nix::sys::stat::SFlag::from_bits_truncate(meta.mode() & libc_s_ifmt());
            nix::sys::stat::mknodat(
                dir.as_fd(),
                name,
                kind,
                nix::sys::stat::Mode::from_bits_truncate(mode),
                meta.rdev(),
            )
            .map_err(|e| err(&e))?;
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).map_err(|e| err(&e))?;
        }
        Item::Dir => unreachable!("handled above"),
    }
    Ok(())
}

fn libc_o_nofollow() -> i32 {
    OFlag::O_NOFOLLOW.bits()
}

fn libc_s_ifmt() -> u32 {
    nix::sys::stat::SFlag::S_IFMT.bits()
}
