//! The seccomp profile a container gets unless it is privileged or asks for
//! `--security-opt seccomp=unconfined` (or gives its own profile file).
//!
//! Docker's default profile is an allowlist of ~350 calls whose effect is to
//! refuse the ones below; we write that effect directly as a denylist (EPERM),
//! with Docker's capability exceptions (a container given CAP_SYS_ADMIN may
//! mount, one given CAP_SYS_PTRACE may ptrace, ...), its argument rules for
//! new user namespaces, and clone3 answered ENOSYS so that libcs fall back
//! to clone, whose flags can be checked.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};

use crate::error::{Error, Result};

/// Refused unless the container holds the capability next to them.
const GATED: &[(&str, &[&str])] = &[
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "name_to_handle_at",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &[
            "settimeofday",
            "stime",
            "clock_settime",
            "clock_settime64",
            "adjtimex",
            "clock_adjtime",
            "clock_adjtime64",
        ],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYSLOG", &["syslog"]),
];

/// Refused whatever the capabilities.
const ALWAYS: &[&str] = &[
    "add_key",
    "keyctl",
    "request_key",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "kexec_file_load",
    "kexec_load",
    "nfsservctl",
    "open_by_handle_at",
    "swapon",
    "swapoff",
    "sysfs",
    "_sysctl",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
    "pivot_root",
    "io_pgetevents",
];

const CLONE_NEWUSER: u64 = 0x1000_0000;

/// The architectures the profile covers (Docker's for x86-64 and arm64).
const ARCHES: &[Arch] = &[
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX86,
    Arch::ScmpArchX32,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchArm,
];

fn oci(e: oci_spec::OciSpecError) -> Error {
    Error::Internal(format!("building the seccomp profile: {e}"))
}

/// Calls answered with `errno` instead of being made.
fn refuse(names: Vec<String>, errno: u32) -> Result<LinuxSyscall> {
    LinuxSyscallBuilder::default()
        .names(names)
        .action(LinuxSeccompAction::ScmpActErrno)
        .errno_ret(errno)
        .build()
        .map_err(oci)
}

/// The profile for a container with capabilities `caps`.
pub fn default_profile(caps: &[String]) -> Result<LinuxSeccomp> {
    let has = |c: &str| caps.iter().any(|x| x == c);
    let mut denied: Vec<&str> = ALWAYS.to_vec();
    for (cap, calls) in GATED {
        if !has(cap) {
            denied.extend(calls.iter().filter(|c| **c != "clone3"));
        }
    }
    denied.sort();
    denied.dedup();
    let owned = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let mut syscalls = vec![refuse(owned(&denied), EPERM)?];
    if !has("CAP_SYS_ADMIN") {
        // New user namespaces need CAP_SYS_ADMIN here, as in Docker's profile.
        let newuser = LinuxSeccompArgBuilder::default()
            .index(0usize)
            .value(CLONE_NEWUSER)
            .value_two(CLONE_NEWUSER)
            .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
            .build()
            .map_err(oci)?;
        let mut clone = refuse(owned(&["clone"]), EPERM)?;
        clone.set_args(Some(vec![newuser]));
        syscalls.push(clone);
        syscalls.push(refuse(owned(&["clone3"]), ENOSYS)?);
    }
    LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .architectures(ARCHES.to_vec())
        .syscalls(syscalls)
        .build()
        .map_err(oci)
}

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// What `--security-opt seccomp=...` asks for: None for unconfined, else
/// the profile (the default, or a file in the runtime spec's format).
pub fn from_option(value: Option<&str>, caps: &[String]) -> Result<Option<LinuxSeccomp>> {
    match value {
        None | Some("default") | Some("builtin") => default_profile(caps).map(Some),
        Some("unconfined") => Ok(None),
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                Error::Invalid(format!("opening seccomp profile ({path}) failed: {e}"))
            })?;
            let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                Error::Invalid(format!("decoding seccomp profile ({path}) failed: {e}"))
            })?;
            if !v["defaultAction"].is_string() {
                return Err(Error::Invalid(format!(
                    "seccomp profile ({path}): defaultAction is missing"
                )));
            }
            serde_json::from_value(v).map(Some).map_err(|e| {
                Error::Invalid(format!("decoding seccomp profile ({path}) failed: {e}"))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(p: &LinuxSeccomp) -> Vec<String> {
        p.syscalls().as_ref().unwrap()[0].names().clone()
    }

    #[test]
    fn capabilities_open_their_calls() {
        let plain = default_profile(&[]).unwrap();
        let names = denied(&plain);
        assert!(names.iter().any(|n| n == "mount") && names.iter().any(|n| n == "ptrace"));
        let admin = default_profile(&["CAP_SYS_ADMIN".into()]).unwrap();
        let names = denied(&admin);
        assert!(!names.iter().any(|n| n == "mount") && names.iter().any(|n| n == "ptrace"));
        assert_eq!(admin.syscalls().as_ref().unwrap().len(), 1);
    }
}
