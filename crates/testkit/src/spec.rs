//! The default OCI runtime spec used by [`crate::Bundle`].

use serde_json::{Value, json};

/// `process.env`'s `PATH` in [`default_spec`].
pub const DEFAULT_PATH_ENV: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `hostname` in [`default_spec`].
pub const DEFAULT_HOSTNAME: &str = "berth-test";

/// The spec that `runc spec` (runc 1.1) writes, with these differences:
///
/// * `process.terminal` is `false` (tests capture stdout/stderr through pipes
///   or files), and `process.env` is only [`DEFAULT_PATH_ENV`] (no `TERM`);
/// * capabilities are `CAP_AUDIT_WRITE`, `CAP_KILL`, `CAP_NET_BIND_SERVICE` in
///   the bounding, effective and permitted sets only (no ambient set, as in
///   runc ≥ 1.2's `runc spec`);
/// * `hostname` is [`DEFAULT_HOSTNAME`];
/// * `linux.namespaces` adds `cgroup` to pid, network, ipc, uts and mount.
///
/// Everything else is as `runc spec`: ociVersion `1.0.2-dev`, args `["sh"]`,
/// user 0:0, cwd `/`, RLIMIT_NOFILE 1024/1024, noNewPrivileges, a read-only
/// `rootfs` root, the proc/dev/devpts/shm/mqueue/sysfs/cgroup mounts, a
/// deny-all device cgroup rule, and the masked and read-only paths.
pub fn default_spec() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [DEFAULT_PATH_ENV],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps
            },
            "rlimits": [
                { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }
            ],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": DEFAULT_HOSTNAME,
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            {
                "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]
            },
            {
                "destination": "/dev/pts", "type": "devpts", "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
            },
            {
                "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
            },
            {
                "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"]
            },
            {
                "destination": "/sys", "type": "sysfs", "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"]
            },
            {
                "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
            }
        ],
        "linux": {
            "resources": {
                "devices": [ { "allow": false, "access": "rwm" } ]
            },
            "namespaces": [
                { "type": "pid" },
                { "type": "network" },
                { "type": "ipc" },
                { "type": "uts" },
                { "type": "mount" },
                { "type": "cgroup" }
            ],
            "maskedPaths": [
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger"
            ]
        }
    })
}
