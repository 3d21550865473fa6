//! Docker's defaults, in one place: what a container gets where its request
//! says nothing (moby's oci/defaults.go, oci/caps/defaults.go and the
//! daemon's configuration). spec.rs builds the runtime spec on them; Docker's
//! default seccomp profile is seccomp.rs's.

use oci_spec::runtime::{Mount, MountBuilder};

/// The PATH a process gets when neither its image nor its request sets one.
/// The runtime's program lookup falls back on the same PATH (as runc's), and
/// the runtime may not depend on the engine: the one copy lives there.
pub const PATH: &str = berth_runtime::process::DEFAULT_PATH;

/// `TERM` for a container with a terminal.
pub const TERM: &str = "xterm";

/// Docker's default capability set.
pub const CAPABILITIES: &[&str] = &[
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

/// Paths hidden from an unprivileged container (an empty file or tmpfs
/// over them).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths an unprivileged container sees read-only.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The size of /dev/shm unless `--shm-size` says otherwise.
pub const SHM_SIZE: i64 = 64 << 20;

/// The CFS period `--cpus` (NanoCpus) is a share of, in microseconds.
pub const CPU_PERIOD: i64 = 100_000;

/// Where `--init` puts the init, as Docker does.
pub const INIT_PATH: &str = "/sbin/docker-init";

/// The nameservers of a container whose host has none it could reach (the
/// host's loopback resolvers are not reachable from the container).
pub const FALLBACK_NAMESERVERS: &[&str] = &["8.8.8.8", "8.8.4.4"];

/// The logging driver when the request names none.
pub const LOG_DRIVER: &str = "json-file";

/// The signal `stop` sends unless the container or the request names one
/// (SIGTERM).
pub const STOP_SIGNAL: i32 = 15;

/// Seconds `stop` waits for the stop signal to work before it kills.
pub const STOP_TIMEOUT: i64 = 10;

/// The filesystems every container has, in mount order; /dev/shm follows,
/// as the IPC mode decides ([`shm_mount`]).
const MOUNTS: &[(&str, &str, &str, &[&str])] = &[
    ("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
    (
        "/dev",
        "tmpfs",
        "tmpfs",
        &["nosuid", "strictatime", "mode=755", "size=65536k"],
    ),
    (
        "/dev/pts",
        "devpts",
        "devpts",
        &[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ],
    ),
    (
        "/sys",
        "sysfs",
        "sysfs",
        &["nosuid", "noexec", "nodev", "ro"],
    ),
    (
        "/sys/fs/cgroup",
        "cgroup",
        "cgroup",
        &["ro", "nosuid", "noexec", "nodev"],
    ),
    (
        "/dev/mqueue",
        "mqueue",
        "mqueue",
        &["nosuid", "noexec", "nodev"],
    ),
];

/// Docker's default mounts.
pub fn mounts() -> Vec<Mount> {
    MOUNTS
        .iter()
        .map(|(dest, typ, source, options)| mount(dest, typ, source, options))
        .collect()
}

/// A private /dev/shm of `size` bytes.
pub fn shm_mount(size: i64) -> Mount {
    let size = format!("size={size}");
    mount(
        "/dev/shm",
        "tmpfs",
        "shm",
        &["nosuid", "noexec", "nodev", "mode=1777", &size],
    )
}

/// One mount from its four parts.
pub fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .expect("a mount with a destination builds")
}
