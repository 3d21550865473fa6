//! The container's on-disk record under the runtime root: `<root>/<id>/state.json`
//! plus the exec fifo that holds a created container until `start`.
//!
//! Invariant: the state file is written atomically (temp file + rename), so a
//! reader sees the old record or the new one, never half of one.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::cgroups::CgroupPaths;
use crate::error::{Error, Result};

/// The states of the OCI runtime spec, plus `paused` as runc reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What the runtime remembers of a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// The init process, as the host's pid namespace sees it.
    pub pid: i32,
    /// Its start time in clock ticks since boot: tells our pid from a reused one.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub cgroup: CgroupPaths,
    pub spec: Spec,
}

/// The state as `state` prints it: the runtime spec's fields plus runc's extras,
/// which containerd's go-runc decodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateOutput {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<HashMap<String, String>>,
}

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

/// The directory that holds one container's record.
pub fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

impl Record {
    /// Drops the parts of the spec only set-up reads (process, mounts, the
    /// linux section with its seccomp profile, most of the spec's size),
    /// keeping what `delete` needs (hooks, annotations), for a monitor that
    /// holds the record for the container's whole life.
    pub fn keep_for_delete(&mut self) {
        self.spec.set_process(None);
        self.spec.set_mounts(None);
        self.spec.set_linux(None);
    }

    pub fn load(root: &Path, id: &str) -> Result<Record> {
        crate::spec::check_id(id)?;
        let path = dir(root, id).join(STATE_FILE);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.into()));
            }
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        serde_json::from_slice(&text)
            .map_err(|e| Error::Other(format!("state of container {id:?} is corrupt: {e}")))
    }

    pub fn save(&self, root: &Path) -> Result<()> {
        let d = dir(root, &self.id);
        let tmp = d.join(".state.json.tmp");
        let data = serde_json::to_vec(self).expect("state serializes");
        std::fs::write(&tmp, data)
            .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
        std::fs::rename(&tmp, d.join(STATE_FILE))
            .map_err(|e| Error::io(format!("saving state of {}", self.id), e))
    }

    pub fn dir(&self, root: &Path) -> PathBuf {
        dir(root, &self.id)
    }

    /// The container's status, read from the live system, not from the record.
    pub fn status(&self, root: &Path) -> Status {
        if !self.alive() {
            return Status::Stopped;
        }
        if self.dir(root).join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        if self.cgroup.frozen() {
            return Status::Paused;
        }
        Status::Running
    }

    /// Whether the init process still exists (a zombie counts as exited).
    pub fn alive(&self) -> bool {
        self.pid > 0
            && match proc_stat(self.pid) {
                Some((state, start)) => state != 'Z' && state != 'X' && start == self.start_time,
                None => false,
            }
    }

    pub fn output(&self, root: &Path) -> StateOutput {
        let status = self.status(root);
        StateOutput {
            oci_version: self.spec.version().clone(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: String::new(),
            annotations: self.spec.annotations().clone(),
        }
    }
}

/// Reads a process's state letter and start time from /proc/<pid>/stat.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain spaces or ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    // Field 22 of the whole line is the start time; `rest` starts at field 3.
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// Now, as RFC 3339 in UTC with nanoseconds, as runc writes `created`.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = now_rfc3339();
        assert!(t.ends_with('Z') && t.contains('T'), "{t}");
    }

    #[test]
    fn own_stat_is_readable() {
        let (state, start) = proc_stat(std::process::id() as i32).unwrap();
        assert!(state == 'R' || state == 'S');
        assert!(start > 0);
    }
}
