//! The seccomp profile a container gets unless it is privileged or asks for
//! `--security-opt seccomp=unconfined` (or gives its own profile file).
//!
//! Docker's default profile is an allowlist of ~350 calls whose effect is to
//! refuse the ones below; we write that effect directly as a denylist (EPERM),
//! with Docker's capability exceptions (a container given CAP_SYS_ADMIN may
//! mount, one given CAP_SYS_PTRACE may ptrace, ...), its argument rules for
//! new user namespaces, and clone3 answered ENOSYS so that libcs fall back
//! to clone, whose flags can be checked.

use serde_json::{Value, json};

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

/// The profile for a container with capabilities `caps`.
pub fn default_profile(caps: &[String]) -> Value {
    let has = |c: &str| caps.iter().any(|x| x == c);
    let mut denied: Vec<&str> = ALWAYS.to_vec();
    for (cap, calls) in GATED {
        if !has(cap) {
            denied.extend(calls.iter().filter(|c| **c != "clone3"));
        }
    }
    denied.sort();
    denied.dedup();
    let mut syscalls = vec![json!({"names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": 1})];
    if !has("CAP_SYS_ADMIN") {
        // New user namespaces need CAP_SYS_ADMIN here, as in Docker's profile.
        syscalls.push(json!({
            "names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
            "args": [{"index": 0, "value": CLONE_NEWUSER, "valueTwo": CLONE_NEWUSER, "op": "SCMP_CMP_MASKED_EQ"}],
        }));
        syscalls.push(json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}));
    }
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "syscalls": syscalls,
    })
}

/// What `--security-opt seccomp=...` asks for: None for unconfined, else
/// the profile (the default, or a file in the runtime spec's format).
pub fn from_option(value: Option<&str>, caps: &[String]) -> Result<Option<Value>> {
    match value {
        None | Some("default") | Some("builtin") => Ok(Some(default_profile(caps))),
        Some("unconfined") => Ok(None),
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                Error::Invalid(format!("opening seccomp profile ({path}) failed: {e}"))
            })?;
            let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
                Error::Invalid(format!("decoding seccomp profile ({path}) failed: {e}"))
            })?;
            if !v["defaultAction"].is_string() {
                return Err(Error::Invalid(format!(
                    "seccomp profile ({path}): defaultAction is missing"
                )));
            }
            Ok(Some(v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_open_their_calls() {
        let plain = default_profile(&[]);
        let names = plain["syscalls"][0]["names"].to_string();
        assert!(names.contains("\"mount\"") && names.contains("\"ptrace\""));
        let admin = default_profile(&["CAP_SYS_ADMIN".into()]);
        let names = admin["syscalls"][0]["names"].to_string();
        assert!(!names.contains("\"mount\"") && names.contains("\"ptrace\""));
        assert_eq!(admin["syscalls"].as_array().unwrap().len(), 1);
    }
}
