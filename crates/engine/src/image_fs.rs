//! An image's files mounted in the daemon's own mount namespace: a
//! read-only view (a volume's copy-up, `COPY --from`) and a writable
//! overlay whose upper directory becomes a build step's layer. Both are
//! unmounted and removed on drop.

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use crate::error::{Error, Result};

/// A fresh directory under `base`.
fn fresh_dir(base: &Path, prefix: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(base)
        .map_err(|e| Error::io(format!("creating {}", base.display()), e))?;
    for _ in 0..16 {
        let path = base.join(format!("{prefix}-{}", &crate::names::random_id()[..16]));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(format!("creating {}", path.display()), e)),
        }
    }
    Err(Error::Internal(format!(
        "no free temporary directory under {}",
        base.display()
    )))
}

fn overlay(lower: &[PathBuf], upper: Option<(&Path, &Path)>, target: &Path) -> Result<()> {
    let lower: Vec<String> = lower.iter().map(|l| l.display().to_string()).collect();
    let mut data = format!("lowerdir={}", lower.join(":"));
    let mut flags = MsFlags::empty();
    match upper {
        Some((upper, work)) => {
            data.push_str(&format!(
                ",upperdir={},workdir={}",
                upper.display(),
                work.display()
            ));
        }
        None => flags |= MsFlags::MS_RDONLY,
    }
    nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        flags,
        Some(data.as_str()),
    )
    .map_err(|e| {
        Error::Internal(format!(
            "mounting an image's layers at {}: {e}",
            target.display()
        ))
    })
}

/// A writable root on an image (COPY, ADD): what is written lands in
/// `upper`.
pub struct WritableRoot {
    base: PathBuf,
    /// Where to write: the overlay, or `upper` itself when the image has
    /// no layers.
    path: PathBuf,
    mounted: bool,
}

impl WritableRoot {
    pub fn mount(layers: &[PathBuf], tmp: &Path) -> Result<WritableRoot> {
        let base = fresh_dir(tmp, "build")?;
        let mut root = WritableRoot {
            path: base.join("upper"),
            base,
            mounted: false,
        };
        for d in ["upper", "work", "root"] {
            std::fs::create_dir(root.base.join(d))
                .map_err(|e| Error::io("creating a build root", e))?;
        }
        if !layers.is_empty() {
            let target = root.base.join("root");
            overlay(
                layers,
                Some((&root.base.join("upper"), &root.base.join("work"))),
                &target,
            )?;
            root.mounted = true;
            root.path = target;
        }
        Ok(root)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Unmounts; what remains is the upper directory, removed on drop.
    pub fn finish(mut self) -> Result<Upper> {
        if self.mounted {
            nix::mount::umount2(&self.base.join("root"), MntFlags::empty())
                .map_err(|e| Error::Internal(format!("unmounting a build root: {e}")))?;
            self.mounted = false;
        }
        let base = std::mem::take(&mut self.base);
        Ok(Upper { base })
    }
}

impl Drop for WritableRoot {
    fn drop(&mut self) {
        if self.mounted {
            let _ = nix::mount::umount2(&self.base.join("root"), MntFlags::MNT_DETACH);
        }
        if !self.base.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }
}

/// A written root's upper directory: the new layer's files.
pub struct Upper {
    base: PathBuf,
}

impl Upper {
    pub fn path(&self) -> PathBuf {
        self.base.join("upper")
    }
}

impl Drop for Upper {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// An image's files, read-only (`COPY --from`, `RUN --mount=from=`).
pub struct ImageView {
    path: PathBuf,
    mounted: bool,
    /// An empty directory standing for an image without layers.
    empty: Option<PathBuf>,
}

impl ImageView {
    pub fn mount(layers: &[PathBuf], data_root: &Path) -> Result<ImageView> {
        match layers {
            [] => {
                let dir = fresh_dir(&data_root.join("tmp"), "view")?;
                Ok(ImageView {
                    path: dir.clone(),
                    mounted: false,
                    empty: Some(dir),
                })
            }
            [only] => Ok(ImageView {
                path: only.clone(),
                mounted: false,
                empty: None,
            }),
            _ => {
                let path = fresh_dir(&data_root.join("tmp"), "view")?;
                if let Err(e) = overlay(layers, None, &path) {
                    let _ = std::fs::remove_dir(&path);
                    return Err(e);
                }
                Ok(ImageView {
                    path,
                    mounted: true,
                    empty: None,
                })
            }
        }
    }
}

impl AsRef<Path> for ImageView {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for ImageView {
    fn drop(&mut self) {
        if self.mounted {
            let _ = nix::mount::umount2(&self.path, MntFlags::MNT_DETACH);
            let _ = std::fs::remove_dir(&self.path);
        }
        if let Some(d) = &self.empty {
            let _ = std::fs::remove_dir(d);
        }
    }
}
