//! The container's root filesystem as the shim and the archive helper see
//! it: its overlay, mounted in a mount namespace of the caller's own, so it
//! is visible to that process (and its children, the container among them)
//! and goes away with it, whatever kills it; nothing is mounted on the host.

use std::io;
use std::path::Path;

use nix::mount::{MsFlags, mount};

/// Unshares the caller's mount namespace (its mounts become slaves of the
/// host's: nothing propagates back) and mounts the overlay with `options`
/// at `target`, which is made if missing. For a single-threaded process.
pub fn mount_in_own_namespace(target: &Path, options: &str) -> io::Result<()> {
    let ctx = |what: &str, e: nix::Error| io::Error::other(format!("{what}: {e}"));
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| ctx("unshare(CLONE_NEWNS)", e))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| ctx("making / a slave mount", e))?;
    std::fs::create_dir_all(target)
        .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", target.display())))?;
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(options),
    )
    .map_err(|e| ctx("mounting the container's root filesystem", e))
}
