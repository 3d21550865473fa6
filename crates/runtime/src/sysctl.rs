//! Which sysctls a container may set: only those of a kernel namespace the
//! container has of its own, as runc decides (libcontainer's validator).
//! Anything else would be written to the host's /proc/sys: a
//! `kernel.core_pattern` pipe, say, runs a program as root on the host.
//! The engine asks the same question at create (a 400 naming the sysctl);
//! the runtime asks it again for any spec it is given.

/// Which of the container's namespaces are its own, not the host's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Separate {
    pub ipc: bool,
    pub net: bool,
    pub uts: bool,
}

/// The IPC sysctls the kernel keeps per IPC namespace.
const IPC: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Whether `key` may be set, with runc's error when not.
pub fn check(key: &str, ns: Separate) -> Result<(), String> {
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        return if ns.ipc {
            Ok(())
        } else {
            Err(format!(
                "sysctl {key:?} is not allowed in the hosts ipc namespace"
            ))
        };
    }
    if key.starts_with("net.") {
        return if ns.net {
            Ok(())
        } else {
            Err(format!(
                "sysctl {key:?} is not allowed in the hosts network namespace"
            ))
        };
    }
    match key {
        "kernel.domainname" if ns.uts => Ok(()),
        "kernel.domainname" => Err(format!(
            "sysctl {key:?} is not allowed in the hosts uts namespace"
        )),
        "kernel.hostname" => Err(format!(
            "sysctl {key:?} is not allowed as it conflicts with the OCI \"hostname\" field"
        )),
        _ => Err(format!(
            "sysctl {key:?} is not in a separate kernel namespace"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_namespaced_sysctls_pass() {
        let all = Separate {
            ipc: true,
            net: true,
            uts: true,
        };
        for ok in [
            "kernel.msgmax",
            "kernel.shm_rmid_forced",
            "fs.mqueue.msg_max",
            "net.ipv4.ip_forward",
            "kernel.domainname",
        ] {
            assert!(check(ok, all).is_ok(), "{ok}");
        }
        for host in [
            "kernel.core_pattern",
            "vm.overcommit_ratio",
            "kernel.hostname",
            "fs.file-max",
            "kernel.modprobe",
        ] {
            assert!(check(host, all).is_err(), "{host}");
        }
        let none = Separate::default();
        assert_eq!(
            check("net.ipv4.ip_forward", none).unwrap_err(),
            "sysctl \"net.ipv4.ip_forward\" is not allowed in the hosts network namespace"
        );
        assert!(check("fs.mqueue.msg_max", none).is_err());
        assert!(check("kernel.domainname", none).is_err());
    }
}
