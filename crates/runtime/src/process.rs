//! The container process's own settings, applied last before execve: rlimits,
//! oom_score_adj, identity, capabilities, no_new_privs, seccomp, the program.

use std::collections::HashSet;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use caps::{CapSet, Capability as Cap};
use oci_spec::runtime::{Capabilities, LinuxCapabilities, PosixRlimitType, Process};

use crate::error::{Context, Error, Result};
use berth_sys as sys;

/// The PATH a program is looked up in when the spec's environment has none
/// (runc's), and Docker's default PATH: the engine's defaults use this copy.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The program to execute, found before the container is reported created,
/// so that a missing or non-executable one fails `create` with the wording
/// dockerd maps to exit codes 127 and 126.
pub struct Program {
    pub path: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
}

pub fn find_program(process: &Process) -> Result<Program> {
    let args = process.args().clone().unwrap_or_default();
    let mut env = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        // As runc: HOME from the container's /etc/passwd, else "/".
        env.push(format!("HOME={}", home_of(process.user().uid())));
    }
    let name = args.first().cloned().unwrap_or_default();
    let path = if name.contains('/') {
        let p = PathBuf::from(&name);
        let meta = std::fs::metadata(&p)
            .map_err(|e| Error::Other(format!("exec: {name:?}: stat {name}: {}", os_text(&e))))?;
        if meta.is_dir() || meta.permissions().mode() & 0o111 == 0 {
            return Err(Error::Other(format!("exec: {name:?}: permission denied")));
        }
        p
    } else {
        let search = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH)
            .to_string();
        let mut denied = false;
        let found = search.split(':').filter(|d| !d.is_empty()).find_map(|dir| {
            let p = Path::new(dir).join(&name);
            let meta = std::fs::metadata(&p).ok()?;
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                Some(p)
            } else {
                denied |= meta.is_file();
                None
            }
        });
        match found {
            Some(p) => p,
            None if denied => {
                return Err(Error::Other(format!("exec: {name:?}: permission denied")));
            }
            None => {
                return Err(Error::Other(format!(
                    "exec: {name:?}: executable file not found in $PATH"
                )));
            }
        }
    };
    let cstr = |s: &str| {
        CString::new(s).map_err(|_| Error::Config(format!("process: {s:?} contains a NUL byte")))
    };
    Ok(Program {
        path: cstr(&path.to_string_lossy())?,
        argv: args.iter().map(|a| cstr(a)).collect::<Result<_>>()?,
        envp: env.iter().map(|e| cstr(e)).collect::<Result<_>>()?,
    })
}

/// The home directory of `uid` in the container's /etc/passwd.
fn home_of(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[2].parse() == Ok(uid))
        .map(|f| f[5].to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into())
}

fn os_text(e: &std::io::Error) -> String {
    // "No such file or directory (os error 2)" -> as Go prints it.
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

/// Sets rlimits, asking no more than the host's hard limit where raising it is
/// not allowed (these hosts withhold CAP_SYS_RESOURCE).
pub fn set_rlimits(process: &Process) -> Result<()> {
    for r in process.rlimits().iter().flatten() {
        let res = rlimit_resource(r.typ());
        let (soft, hard) = (r.soft(), r.hard());
        if soft > hard {
            return Err(Error::Config(format!(
                "process.rlimits {}: soft {soft} above hard {hard}",
                r.typ()
            )));
        }
        if let Err(e) = sys::set_rlimit(res, soft, hard) {
            if e.raw_os_error() != Some(libc::EPERM) {
                return Err(Error::io(format!("setting {}", r.typ()), e));
            }
            let (_, host_hard) = sys::rlimit(res);
            sys::set_rlimit(res, soft.min(host_hard), hard.min(host_hard)).ctx(|| {
                format!(
                    "setting {} (clamped to the hard limit {host_hard})",
                    r.typ()
                )
            })?;
        }
    }
    Ok(())
}

fn rlimit_resource(t: PosixRlimitType) -> libc::__rlimit_resource_t {
    use PosixRlimitType::*;
    (match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }) as libc::__rlimit_resource_t
}

pub fn set_oom_score_adj(process: &Process) -> Result<()> {
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .ctx(|| format!("setting oom_score_adj {adj}"))?;
    }
    Ok(())
}

/// The capabilities this kernel knows (read once: the caps crate would probe
/// each one with a system call every time).
fn supported() -> &'static HashSet<Cap> {
    static SUPPORTED: std::sync::OnceLock<HashSet<Cap>> = std::sync::OnceLock::new();
    SUPPORTED.get_or_init(|| {
        let last: u8 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40);
        caps::all()
            .into_iter()
            .filter(|c| c.index() <= last)
            .collect()
    })
}

fn to_caps(set: &Option<Capabilities>) -> HashSet<Cap> {
    set.iter()
        .flatten()
        .filter_map(|c| Cap::from_str(&format!("CAP_{c}")).ok())
        .filter(|c| supported().contains(c))
        .collect()
}

/// Switches to the process's user and capability sets. Capabilities outside
/// the bounding set are dropped first, while we still may (CAP_SETPCAP).
pub fn set_identity(process: &Process, may_setgroups: bool) -> Result<()> {
    let user = process.user();
    let wanted = process.capabilities().clone().unwrap_or_else(empty_caps);
    let bounding = to_caps(wanted.bounding());
    for &c in supported() {
        if !bounding.contains(&c) {
            caps::drop(None, CapSet::Bounding, c)
                .ctx(|| format!("dropping {c} from the bounding set"))?;
        }
    }
    // Keep the permitted set across the uid change; capset below decides.
    nix::sys::prctl::set_keepcaps(true).ctx(|| "PR_SET_KEEPCAPS")?;
    if may_setgroups {
        let gids: Vec<nix::unistd::Gid> = user
            .additional_gids()
            .iter()
            .flatten()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&gids).ctx(|| "setgroups")?;
    }
    let gid = nix::unistd::Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid).ctx(|| format!("setting gid {}", user.gid()))?;
    let uid = nix::unistd::Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid).ctx(|| format!("setting uid {}", user.uid()))?;
    nix::sys::prctl::set_keepcaps(false).ctx(|| "PR_SET_KEEPCAPS")?;

    let effective = to_caps(wanted.effective());
    let permitted = to_caps(wanted.permitted());
    let inheritable = to_caps(wanted.inheritable());
    // Effective must stay within permitted at every step.
    caps::set(
        None,
        CapSet::Effective,
        &effective.intersection(&permitted).copied().collect(),
    )
    .ctx(|| "setting effective capabilities")?;
    caps::set(None, CapSet::Inheritable, &inheritable)
        .ctx(|| "setting inheritable capabilities")?;
    caps::set(None, CapSet::Permitted, &permitted).ctx(|| "setting permitted capabilities")?;
    caps::set(None, CapSet::Effective, &effective).ctx(|| "setting effective capabilities")?;
    caps::clear(None, CapSet::Ambient).ctx(|| "clearing ambient capabilities")?;
    for c in to_caps(wanted.ambient()) {
        // As runc and crun: an ambient capability the kernel refuses (not in
        // the inheritable and permitted sets) is left out, not an error.
        let _ = sys::raise_ambient(c.index());
    }
    Ok(())
}

fn empty_caps() -> LinuxCapabilities {
    serde_json::from_str("{}").expect("empty capabilities")
}

pub fn set_no_new_privs() -> Result<()> {
    nix::sys::prctl::set_no_new_privs().ctx(|| "PR_SET_NO_NEW_PRIVS")
}

/// Replaces this process with the program; returns only on failure.
pub fn exec(program: &Program) -> Error {
    let err = nix::unistd::execve(&program.path, &program.argv, &program.envp).unwrap_err();
    Error::io(format!("exec {:?}", program.path), err)
}
