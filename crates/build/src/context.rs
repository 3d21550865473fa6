//! The build context: the tar the client sends (plain, gzip or zstd),
//! unpacked into a directory of its own that goes with the build, and
//! the Dockerfile read from it.

use std::io::{self, Read};
use std::path::Path;

use nix::fcntl::OFlag;

use crate::dockerfile::{self, Dockerfile};
use crate::error::{Error, Result};

/// The most a context may hold, unpacked.
#[derive(Debug, Clone, Copy)]
pub struct ContextLimit(pub u64);

impl Default for ContextLimit {
    /// 16 GiB: far above any sane context, below a full disk.
    fn default() -> Self {
        ContextLimit(16 << 30)
    }
}

pub struct Context {
    dir: tempfile::TempDir,
}

/// Counts what passes and fails once past the limit.
struct Limited<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(io::Error::other(format!(
                "the build context is larger than the limit of {} bytes",
                self.limit
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Ends a tar stream that stops short of its padding and end-of-archive
/// blocks with zeros: docker's CLI sends a context so when it adds a
/// Dockerfile from stdin (its tar writer is never closed), and dockerd
/// reads it. Only a clean end of the stream is completed; a client that
/// goes away mid-upload is an error before this sees an end.
struct TarTail<R> {
    inner: R,
    read: u64,
    /// Zeros still to give after the end: None until the end is seen.
    zeros: Option<u64>,
}

impl<R: Read> Read for TarTail<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(left) = &mut self.zeros {
            let n = (*left).min(buf.len() as u64) as usize;
            buf[..n].fill(0);
            *left -= n as u64;
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let pad = (512 - self.read % 512) % 512;
            self.zeros = Some(pad + 1024);
            return self.read(buf);
        }
        self.read += n as u64;
        Ok(n)
    }
}

impl Context {
    /// Unpacks `body` into a new directory under `under`. Entries are
    /// confined to that directory (no `..`, no symlink leads out).
    pub fn unpack(body: impl Read, under: &Path, limit: ContextLimit) -> Result<Context> {
        std::fs::create_dir_all(under)
            .map_err(|e| Error::Invalid(format!("creating {}: {e}", under.display())))?;
        let dir = tempfile::Builder::new()
            .prefix("context-")
            .tempdir_in(under)
            .map_err(|e| Error::Invalid(format!("a directory for the build context: {e}")))?;
        let reader = berth_image::layer::decompress(body)
            .map_err(|e| Error::Invalid(format!("reading the build context: {e}")))?;
        let limited = TarTail {
            inner: Limited {
                inner: reader,
                left: limit.0,
                limit: limit.0,
            },
            read: 0,
            zeros: None,
        };
        berth_image::layer::apply(limited, dir.path())
            .map_err(|e| Error::Invalid(format!("unpacking the build context: {e}")))?;
        Ok(Context { dir })
    }

    /// A context given by URL (`remote=`): a tarball (plain, gzip or
    /// zstd) unpacked, or else a Dockerfile alone, as dockerd takes them.
    /// Git repositories are refused.
    pub fn download(url: &str, under: &Path, limit: ContextLimit) -> Result<Context> {
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.ends_with(".git") {
            return Err(Error::Invalid(format!(
                "remote context {url}: only http(s) URLs of a tarball or a Dockerfile are supported (no git)"
            )));
        }
        std::fs::create_dir_all(under)
            .map_err(|e| Error::Invalid(format!("creating {}: {e}", under.display())))?;
        let file = tempfile::NamedTempFile::new_in(under)
            .map_err(|e| Error::Invalid(format!("a file for the remote context: {e}")))?;
        crate::fetch::fetch(url, file.path(), limit.0).map_err(Error::Invalid)?;
        let mut head = [0u8; 262];
        let n = std::fs::File::open(file.path())
            .and_then(|mut f| f.read(&mut head))
            .map_err(|e| Error::Invalid(format!("reading the remote context: {e}")))?;
        let archive = head.starts_with(&[0x1f, 0x8b])
            || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
            || (n >= 262 && &head[257..262] == b"ustar");
        if archive {
            let f = std::fs::File::open(file.path())
                .map_err(|e| Error::Invalid(format!("reading the remote context: {e}")))?;
            return Context::unpack(f, under, limit);
        }
        let ctx = Context::unpack(std::io::empty(), under, limit)?;
        std::fs::copy(file.path(), ctx.path().join("Dockerfile"))
            .map_err(|e| Error::Invalid(format!("the remote Dockerfile: {e}")))?;
        Ok(ctx)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The Dockerfile at `name` in the context (`Dockerfile`, then
    /// `dockerfile`, when empty), parsed. Then, as dockerd does, the
    /// Dockerfile and `.dockerignore` leave the context when its
    /// `.dockerignore` excludes them: clients always send both (docker's CLI
    /// and the SDK, which also adds a Dockerfile from outside the context
    /// as `.dockerfile.<hash>` and lists it there), so that `COPY .` does
    /// not copy them.
    pub fn dockerfile(&self, name: &str) -> Result<Dockerfile> {
        let names: Vec<&str> = if name.is_empty() || name == "Dockerfile" {
            vec!["Dockerfile", "dockerfile"]
        } else {
            vec![name]
        };
        let root = nix::fcntl::open(
            self.path(),
            OFlag::O_PATH | OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Error::Invalid(format!("opening the build context: {e}")))?;
        for n in &names {
            match berth_safefs::read_regular_in_root(&root, Path::new(n), 16 << 20) {
                Ok(text) => {
                    let parsed = dockerfile::parse(&text)?;
                    drop_ignored(&root, &[".dockerignore", n])?;
                    return Ok(parsed);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::Invalid(format!("reading the Dockerfile {n}: {e}"))),
            }
        }
        Err(Error::Invalid(format!(
            "Cannot locate specified Dockerfile: {}",
            names[0]
        )))
    }
}

/// Removes those of `names` that the context's `.dockerignore` excludes
/// (none without one). Through `root`'s descriptor: a name's directories
/// are resolved inside the context, and only the last link is removed.
fn drop_ignored(root: &std::os::fd::OwnedFd, names: &[&str]) -> Result<()> {
    let text = match berth_safefs::read_regular_in_root(root, Path::new(".dockerignore"), 1 << 20) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::Invalid(format!("reading .dockerignore: {e}"))),
    };
    let ignore = berth_dockerignore::DockerIgnore::try_parse(&text)
        .map_err(|e| Error::Invalid(format!(".dockerignore: {e}")))?;
    for name in names.iter().filter(|n| ignore.is_excluded(n)) {
        let path = Path::new(name);
        let (Some(dir), Some(file)) = (path.parent(), path.file_name()) else {
            continue;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let parent = berth_safefs::open_in_root(root, dir, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|e| Error::Invalid(format!("opening {}: {e}", dir.display())))?;
        match nix::unistd::unlinkat(&parent, file, nix::unistd::UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => {
                return Err(Error::Invalid(format!(
                    "removing {name} from the context: {e}"
                )));
            }
        }
    }
    Ok(())
}
