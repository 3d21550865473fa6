//! An image made runnable: its snapshots mounted as one overlayfs root and a
//! runtime spec from its config, ready for the runtime. (The engine will make
//! these per container; this is the part that belongs to the image.)

use std::path::Path;

use serde_json::{Value, json};

use crate::error::{Context, Error, Result};
use crate::images::{ImageRecord, ImageStore};

/// The PATH a process gets when its image sets none (Docker's).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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

/// The process part of a runtime spec from the image config and an optional
/// command that replaces its Cmd, as `docker run image cmd...` does.
pub fn process(config: &Value, cmd: &[String]) -> Result<Value> {
    let c = &config["config"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut args = strings(&c["Entrypoint"]);
    if cmd.is_empty() {
        args.extend(strings(&c["Cmd"]));
    } else {
        args.extend(cmd.iter().cloned());
    }
    if args.is_empty() {
        return Err(Error::invalid("image", "no command specified"));
    }
    let mut env = strings(&c["Env"]);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    let (uid, gid) = match c["User"].as_str().unwrap_or("") {
        "" => (0, 0),
        u => {
            let (a, b) = u.split_once(':').unwrap_or((u, "0"));
            let num = |s: &str| {
                s.parse::<u32>().map_err(|_| {
                    Error::invalid(
                        format!("image user {u:?}"),
                        "only numeric users can be used here",
                    )
                })
            };
            (num(a)?, num(b)?)
        }
    };
    Ok(json!({
        "terminal": false,
        "user": {"uid": uid, "gid": gid},
        "args": args,
        "env": env,
        "cwd": c["WorkingDir"].as_str().filter(|w| !w.is_empty()).unwrap_or("/"),
        "capabilities": {
            "bounding": DEFAULT_CAPS, "effective": DEFAULT_CAPS, "permitted": DEFAULT_CAPS
        },
        "noNewPrivileges": true
    }))
}

/// Docker's default capability set.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

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
