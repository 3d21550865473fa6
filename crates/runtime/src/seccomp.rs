//! The spec's seccomp profile (Docker's format) compiled by libseccomp into
//! a classic BPF program, which the container's init loads itself.
//!
//! Compiling a profile of some 300 syscall names costs milliseconds, and an
//! engine starts containers with the same profile over and over: programs
//! are cached under the runtime's root, keyed by a hash of the profile and
//! the libseccomp version, each file carrying the hash of its own contents.

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A compiled filter: the program and the flags to load it with.
pub struct Filter {
    program: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
    /// Where the notification descriptor goes when the spec has a
    /// listenerPath (with or without SCMP_ACT_NOTIFY rules), with
    /// listenerMetadata.
    pub listener: Option<Listener>,
}

#[derive(Debug, Clone)]
pub struct Listener {
    pub path: std::path::PathBuf,
    pub metadata: String,
}

const INSN: usize = std::mem::size_of::<libc::sock_filter>();

/// Checks what parsing cannot: actions we cannot carry out, argument indexes.
pub fn check(s: &LinuxSeccomp) -> Result<()> {
    let bad = |m: String| Err(Error::Config(format!("linux.seccomp: {m}")));
    // runc's words for what it refuses: the runtime itself must go on
    // writing after the filter is loaded.
    if s.default_action() == LinuxSeccompAction::ScmpActNotify {
        return bad("SCMP_ACT_NOTIFY cannot be used as default action".into());
    }
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        if sc.action() == LinuxSeccompAction::ScmpActNotify {
            if s.listener_path().is_none() {
                // Nobody would answer: the container would hang.
                return bad(format!(
                    "syscalls[{i}]: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath (the seccomp agent's socket)"
                ));
            }
            if sc.names().iter().any(|n| n == "write") {
                return bad(format!(
                    "syscalls[{i}]: SCMP_ACT_NOTIFY cannot be used for the write syscall"
                ));
            }
        }
        if sc.names().is_empty() {
            return bad(format!("syscalls[{i}]: names is empty"));
        }
        for a in sc.args().iter().flatten() {
            if a.index() > 5 {
                return bad(format!(
                    "syscalls[{i}]: argument index {} is above 5",
                    a.index()
                ));
            }
        }
    }
    Ok(())
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> ScmpAction {
    match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => {
            ScmpAction::Errno(errno.unwrap_or(libc::EPERM as u32) as i32)
        }
        LinuxSeccompAction::ScmpActTrace => {
            ScmpAction::Trace(errno.unwrap_or(libc::EPERM as u32) as u16)
        }
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    }
}

/// Sends the notification descriptor to the seccomp agent listening at
/// listenerPath, with the ContainerProcessState of the runtime
/// specification (runtime.md): `state` is the container's state and `pid`
/// the process the filter is on.
pub fn send_to_agent(
    listener: &Listener,
    fd: &std::os::fd::OwnedFd,
    pid: i32,
    state: &[u8],
) -> Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    use std::os::fd::AsRawFd;
    let state: serde_json::Value = serde_json::from_slice(state).unwrap_or_default();
    let message = serde_json::json!({
        "ociVersion": state["ociVersion"],
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": listener.metadata,
        "state": state,
    });
    let bytes = serde_json::to_vec(&message).expect("JSON");
    let what = || format!("linux.seccomp.listenerPath {}", listener.path.display());
    let sock = std::os::unix::net::UnixStream::connect(&listener.path)
        .map_err(|e| Error::io(format!("{}: connecting", what()), e))?;
    let fds = [fd.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[std::io::IoSlice::new(&bytes)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| Error::io(format!("{}: sending the seccomp descriptor", what()), e))?;
    Ok(())
}

fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

fn op(o: LinuxSeccompOperator, value: u64, value_two: Option<u64>) -> ScmpCompareOp {
    match o {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // Docker's profile: value is the mask, valueTwo the expected result.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            let _ = value_two;
            ScmpCompareOp::MaskedEqual(value)
        }
    }
}

/// Compiles the profile, or takes its program from the cache in
/// `cache_dir` (made if missing; a cache that cannot be used is skipped).
pub fn compile(s: &LinuxSeccomp, cache_dir: Option<&Path>) -> Result<Filter> {
    let flags = load_flags(s);
    // As crun: with a listenerPath the filter is loaded with a listener,
    // and the agent gets its descriptor, whether or not a rule notifies
    // (an agent waiting at listenerPath is never left waiting).
    let listener = s.listener_path().as_ref().map(|path| Listener {
        path: path.clone(),
        metadata: s.listener_metadata().clone().unwrap_or_default(),
    });
    let cached = cache_dir.map(|d| d.join(format!("{}.bpf", cache_key(s))));
    if let Some(program) = cached.as_deref().and_then(read_cached) {
        return Ok(Filter {
            program,
            flags,
            listener,
        });
    }
    let bytes = export(&build(s)?)?;
    if let Some(path) = &cached {
        write_cached(path, &bytes);
    }
    let program = to_program(&bytes)
        .ok_or_else(|| Error::Other("seccomp: libseccomp exported a malformed program".into()))?;
    Ok(Filter {
        program,
        flags,
        listener,
    })
}

/// The flags libseccomp would pass to seccomp(2) for this profile (it
/// sets no_new_privs only when asked to; the spec decides that).
fn load_flags(s: &LinuxSeccomp) -> libc::c_ulong {
    let mut flags = 0;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        };
    }
    flags
}

fn cache_key(s: &LinuxSeccomp) -> String {
    let v = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(format!("{v} {}\n", std::env::consts::ARCH));
    h.update(serde_json::to_vec(s).expect("json serializes"));
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A cache file is the SHA-256 of the program, then the program: a torn or
/// damaged file is never loaded.
fn read_cached(path: &Path) -> Option<Vec<libc::sock_filter>> {
    let bytes = std::fs::read(path).ok()?;
    let (sum, program) = bytes.split_at_checked(32)?;
    if Sha256::digest(program).as_slice() != sum {
        return None;
    }
    to_program(program)
}

fn write_cached(path: &Path, program: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let mut bytes = Sha256::digest(program).to_vec();
    bytes.extend_from_slice(program);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, &bytes).is_ok() && std::fs::rename(&tmp, path).is_ok() {
        return;
    }
    let _ = std::fs::remove_file(&tmp);
}

fn to_program(bytes: &[u8]) -> Option<Vec<libc::sock_filter>> {
    // The kernel takes at most BPF_MAXINSNS (4096) instructions.
    if bytes.is_empty() || !bytes.len().is_multiple_of(INSN) || bytes.len() / INSN > 4096 {
        return None;
    }
    let program = bytes
        .chunks_exact(INSN)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    Some(program)
}

/// The program libseccomp generates, in the kernel's layout.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>> {
    use std::io::{Read, Seek};
    // libseccomp 2.5 exports only to a descriptor: an anonymous file.
    let fd = nix::sys::memfd::memfd_create(c"seccomp-bpf", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(|e| Error::Other(format!("seccomp: memfd_create: {e}")))?;
    let mut file = std::fs::File::from(fd);
    ctx.export_bpf(&file)
        .map_err(|e| Error::Other(format!("seccomp: generating the program: {e}")))?;
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| Error::Other(format!("seccomp: reading the program: {e}")))?;
    Ok(bytes)
}

/// The profile as libseccomp rules.
fn build(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let e = |what: &str, err: libseccomp::error::SeccompError| {
        Error::Other(format!("seccomp: {what}: {err}"))
    };
    let default = action(s.default_action(), s.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(default).map_err(|x| e("creating the filter", x))?;
    for a in s.architectures().iter().flatten() {
        let a = arch(*a);
        if !ctx.is_arch_present(a).unwrap_or(false) {
            ctx.add_arch(a)
                .map_err(|x| e(&format!("architecture {a:?}"), x))?;
        }
    }
    for sc in s.syscalls().iter().flatten() {
        let act = action(sc.action(), sc.errno_ret());
        if act == default {
            continue; // libseccomp refuses rules equal to the default action
        }
        let conds: Vec<ScmpArgCompare> = sc
            .args()
            .iter()
            .flatten()
            .map(|a| {
                let datum = if a.op() == LinuxSeccompOperator::ScmpCmpMaskedEq {
                    a.value_two().unwrap_or(0)
                } else {
                    a.value()
                };
                ScmpArgCompare::new(
                    a.index() as u32,
                    op(a.op(), a.value(), a.value_two()),
                    datum,
                )
            })
            .collect();
        for name in sc.names() {
            // Names this libseccomp or architecture does not know are skipped,
            // as runc and crun do: profiles list syscalls of many kernels.
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let r = if conds.is_empty() {
                ctx.add_rule(act, nr)
            } else if same_arg_twice(sc.args().as_deref().unwrap_or(&[])) {
                // libseccomp ANDs conditions; several on one argument mean
                // "any of", so add one rule each, as runc does.
                conds
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(act, nr, &[*c]).map(|_| ()))
                    .map(|_| &mut ctx)
            } else {
                ctx.add_rule_conditional(act, nr, &conds)
            };
            r.map_err(|x| e(&format!("rule for {name}"), x))?;
        }
    }
    Ok(ctx)
}

fn same_arg_twice(args: &[oci_spec::runtime::LinuxSeccompArg]) -> bool {
    let idx: Vec<usize> = args.iter().map(|a| a.index()).collect();
    (1..idx.len()).any(|i| idx[..i].contains(&idx[i]))
}

/// Installs the filter on the calling thread (all threads with TSYNC);
/// with SCMP_ACT_NOTIFY, returns the notification descriptor for the agent.
pub fn load(f: &Filter) -> Result<Option<std::os::fd::OwnedFd>> {
    if f.listener.is_some() {
        return berth_sys::load_seccomp_listener(&f.program, f.flags)
            .map(Some)
            .map_err(|e| Error::Other(format!("loading the seccomp filter: {e}")));
    }
    match berth_sys::load_seccomp_program(&f.program, f.flags) {
        Ok(0) => Ok(None),
        Ok(tid) => Err(Error::Other(format!(
            "loading the seccomp filter: thread {tid} could not be synchronized"
        ))),
        Err(e) => Err(Error::Other(format!("loading the seccomp filter: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> LinuxSeccomp {
        serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                {"names": ["mount", "umount2", "no_such_syscall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_NE"}]}
            ]
        }))
        .unwrap()
    }

    fn bytes(f: &Filter) -> Vec<(u16, u8, u8, u32)> {
        f.program
            .iter()
            .map(|i| (i.code, i.jt, i.jf, i.k))
            .collect()
    }

    #[test]
    fn the_cache_gives_back_the_same_program() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = compile(&profile(), None).unwrap();
        let first = compile(&profile(), Some(dir.path())).unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1, "one cache file");
        let cached = compile(&profile(), Some(dir.path())).unwrap();
        assert_eq!(bytes(&fresh), bytes(&first));
        assert_eq!(bytes(&fresh), bytes(&cached));
        // Another profile, another entry.
        let mut other = profile();
        other.set_default_action(LinuxSeccompAction::ScmpActLog);
        compile(&other, Some(dir.path())).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_damaged_cache_file_is_never_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let good = bytes(&compile(&profile(), Some(dir.path())).unwrap());
        let path = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut data = std::fs::read(&path).unwrap();
        // One flipped bit in the program: the checksum no longer matches.
        let last = data.len() - 1;
        data[last] ^= 1;
        std::fs::write(&path, &data).unwrap();
        assert!(read_cached(&path).is_none());
        // Torn files: shorter than the checksum, or cut mid-instruction.
        std::fs::write(&path, &data[..10]).unwrap();
        assert!(read_cached(&path).is_none());
        std::fs::write(&path, &data[..data.len() - 3]).unwrap();
        assert!(read_cached(&path).is_none());
        // Compiling again ignores it and heals the entry.
        assert_eq!(bytes(&compile(&profile(), Some(dir.path())).unwrap()), good);
        assert!(read_cached(&path).is_some());
    }

    #[test]
    fn programs_of_a_wrong_size_are_refused() {
        assert!(to_program(&[]).is_none());
        assert!(to_program(&[0u8; 12]).is_none());
        assert!(to_program(&vec![0u8; INSN * 4097]).is_none());
        assert_eq!(to_program(&[0u8; INSN * 2]).unwrap().len(), 2);
    }
}
