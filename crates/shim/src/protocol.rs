//! What the daemon and a shim say to each other over the shim's socket: one
//! JSON request line from the daemon, then either one JSON reply line
//! (start, resize, kill, pause, resume, update, stats, pids), the exit when
//! it happens (wait), or a raw stream
//! (attach: the container's output, in Docker's multiplexed framing unless
//! the container has a terminal, and the client's bytes as its stdin).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How the daemon starts a shim: `berth shim <bundle>` reads this from
/// `<bundle>/shim.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShimConfig {
    pub id: String,
    pub runtime_root: PathBuf,
    pub socket: PathBuf,
    pub log: PathBuf,
    /// Rotate the log past this many bytes; 0 never rotates.
    pub log_max_size: u64,
    /// How many log files to keep, the current one included (at least 1).
    pub log_max_files: u32,
    /// overlayfs options for `<bundle>/rootfs`, mounted in the shim's own
    /// mount namespace so that nothing is left mounted on the host.
    pub overlay: Option<String>,
    pub tty: bool,
    /// Give the container a stdin (Docker's OpenStdin).
    pub stdin: bool,
    /// Close the container's stdin when the first attached client's ends.
    pub stdin_once: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    Start,
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    Resize {
        height: u16,
        width: u16,
    },
    Kill {
        signal: i32,
    },
    Wait,
    /// Freeze the container's cgroup.
    Pause,
    /// Thaw it.
    Resume,
    /// New cgroup limits (an OCI LinuxResources document).
    Update {
        resources: serde_json::Value,
    },
    /// The cgroup's counters (the runtime's Stats), in the reply's `value`.
    Stats,
    /// The pids in the container's cgroup, in the reply's `value`.
    Pids,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Reply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What a query (stats, pids) answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// What the shim reports once the container exists, on its stdout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ready {
    #[serde(default)]
    pub pid: i32,
    #[serde(default)]
    pub shim_pid: i32,
    #[serde(default)]
    pub error: Option<String>,
}

/// The end of a container, sent to waiters and kept in `<bundle>/exit.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Exit {
    pub exit_code: i32,
    pub finished_at: String,
    #[serde(default)]
    pub oom_killed: bool,
}

/// Docker's stream ids in the multiplexed framing.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

/// One frame of Docker's multiplexed stream: [id, 0, 0, 0, size BE32] + data.
pub fn frame(stream: u8, data: &[u8], out: &mut Vec<u8>) {
    out.push(stream);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}
