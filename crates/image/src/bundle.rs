//! An image made runnable: its snapshots mounted as one overlayfs root. The
//! runtime spec is the engine's (crates/engine: spec.rs on Docker's
//! defaults, defaults.rs); this is the part that belongs to the image.

use std::path::Path;

use crate::error::{Context, Error, Result};
use crate::images::{ImageRecord, ImageStore};

/// The mount options of an overlay whose lower layers are the image's and
/// whose upper and work dirs are `upper` and `work`.
pub fn overlay_options(
    store: &ImageStore,
    rec: &ImageRecord,
    upper: &Path,
    work: &Path,
) -> Result<String> {
    let lower = match &rec.top {
        Some(top) => store.snapshots.lower_dirs(top)?,
        None => {
            return Err(Error::invalid(
                format!("image {}", rec.id.short()),
                "has no layers",
            ));
        }
    };
    Ok(overlay_options_for(&lower, upper, work))
}

/// The overlay mount options for lower dirs (topmost first), upper and work.
pub fn overlay_options_for(lower: &[std::path::PathBuf], upper: &Path, work: &Path) -> String {
    let lower: Vec<String> = lower.iter().map(|p| p.display().to_string()).collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    )
}

/// Mounts the image's overlay at `rootfs` (upper/work under `scratch`).
pub fn mount_rootfs(
    store: &ImageStore,
    rec: &ImageRecord,
    scratch: &Path,
    rootfs: &Path,
) -> Result<()> {
    let upper = scratch.join("upper");
    let work = scratch.join("work");
    for d in [&upper, &work, &rootfs.to_path_buf()] {
        std::fs::create_dir_all(d).ctx(|| format!("creating {}", d.display()))?;
    }
    let opts = overlay_options(store, rec, &upper, &work)?;
    nix::mount::mount(
        Some("overlay"),
        rootfs,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(opts.as_str()),
    )
    .ctx(|| format!("mounting the image's layers at {}", rootfs.display()))
}
