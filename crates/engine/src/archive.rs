//! Files in and out of a container (`docker cp`, export): the engine's side.
//! The work is done by a helper process, `berth container-fs`
//! (berth-shim's `container_fs`), confined to the container's root; this
//! module says where that root is and starts the helper.

use std::process::Stdio;

pub use berth_shim::container_fs::PathStat;
use berth_shim::container_fs::{Bind, Root};

use crate::error::{Error, Result};
use crate::{Engine, model::Status};

impl Engine {
    fn archive_root(&self, name: &str) -> Result<Root> {
        let c = self.get(name)?;
        if matches!(c.state.status, Status::Running | Status::Paused) && c.state.pid > 0 {
            return Ok(Root::Pid(c.state.pid));
        }
        let layers = self.layers(&c)?;
        // Parents first, as at a start: a bind inside a volume goes over it.
        let mut mounts: Vec<_> = c
            .mounts
            .iter()
            .filter(|m| m.kind != crate::mounts::Kind::Tmpfs)
            .collect();
        mounts.sort_by_key(|m| std::path::Path::new(&m.destination).components().count());
        Ok(Root::Overlay {
            options: self.overlay_options(&c, &layers)?,
            target: self.bundle_dir(&c.id).join("rootfs"),
            binds: mounts
                .into_iter()
                .map(|m| Bind {
                    source: m.source.clone().into(),
                    destination: m.destination.clone().into(),
                    read_only: !m.rw,
                })
                .collect(),
        })
    }

    /// The helper process for `op` on `path`, with stdin and stdout piped.
    pub fn container_fs(&self, name: &str, op: &str, path: &str) -> Result<tokio::process::Child> {
        let root = self.archive_root(name)?;
        tokio::process::Command::new(&self.config.exe)
            .arg("container-fs")
            .arg(op)
            .arg(serde_json::to_string(&root).expect("json serializes"))
            .arg(path)
            .stdin(if op == "put" {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::io("starting the container-fs helper", e))
    }

    /// `HEAD /containers/{id}/archive`: the path's stat, or 404.
    pub async fn path_stat(&self, name: &str, path: &str) -> Result<PathStat> {
        let out = self
            .container_fs(name, "stat", path)?
            .wait_with_output()
            .await
            .map_err(|e| Error::io("running the container-fs helper", e))?;
        if !out.status.success() {
            return Err(helper_error(&out.stderr, path));
        }
        serde_json::from_slice(&out.stdout)
            .map_err(|e| Error::Internal(format!("container-fs stat: {e}")))
    }
}

/// The helper's stderr as an error of the right kind.
pub fn helper_error(stderr: &[u8], path: &str) -> Error {
    let msg = String::from_utf8_lossy(stderr).trim().to_string();
    if msg.contains("No such file") || msg.contains("not found") {
        Error::NotFound(format!("Could not find the file {path} in container"))
    } else if msg.contains("not a directory") {
        Error::Invalid(format!("{path}: not a directory"))
    } else {
        Error::Internal(msg)
    }
}
