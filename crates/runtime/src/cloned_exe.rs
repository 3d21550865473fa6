//! Runs the runtime from a binary that cannot be written through /proc.
//!
//! While the container's init (or an exec'd process) is still the runtime, its
//! /proc/<pid>/exe is the runtime binary; a process in the container that got
//! hold of it could overwrite the host's binary once we exit (CVE-2019-5736).
//! So before entering a container the runtime re-executes itself from a
//! read-only bind mount of its own file, made in a private mount namespace (no
//! copy: the page cache is shared), or, where mounting fails, from a sealed
//! memfd copy. Either way /proc/<pid>/exe leads to nothing writable.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::fcntl::OFlag;
use nix::mount::{MsFlags, mount};
use nix::sys::stat::Mode;

use crate::error::{Context, Error, Result};

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// True when this process's binary cannot be written through /proc/self/exe:
/// it sits on a read-only mount, or it is a sealed copy.
pub fn is_protected() -> bool {
    use nix::sys::statvfs::{FsFlags, statvfs};
    if statvfs("/proc/self/exe").is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY)) {
        return true;
    }
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    let seals = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_GET_SEALS).unwrap_or(-1);
    seals >= 0 && seals & SEALS == SEALS
}

/// Re-executes this program from a protected binary unless it already runs
/// from one. Returns only on failure.
pub fn reexec_protected() -> Result<()> {
    if is_protected() {
        return Ok(());
    }
    let (args, mut env) = argv_envp();
    // The caller's mount namespace, for a container that has none of its
    // own (it shares the caller's, as under runc), passed across execve.
    let caller_ns = nix::fcntl::open("/proc/self/ns/mnt", OFlag::O_RDONLY, Mode::empty()).ok();
    if let Some(fd) = &caller_ns
        && let Ok(var) = CString::new(format!("{CALLER_MNTNS_ENV}={}", fd.as_raw_fd()))
    {
        env.retain(|e| !e.as_bytes().starts_with(CALLER_MNTNS_ENV.as_bytes()));
        env.push(var);
    }
    if let Some(exe) = read_only_self()
        && let Ok(path) = CString::new(exe.as_os_str().as_bytes())
    {
        let err = nix::unistd::execve(&path, &args, &env).unwrap_err();
        return Err(Error::io("re-executing from a read-only mount", err));
    }
    let memfd = make_copy()?;
    let err = nix::unistd::fexecve(&memfd, &args, &env).unwrap_err();
    Err(Error::io("re-executing from a sealed copy", err))
}

/// The environment variable naming the inherited descriptor of the
/// caller's mount namespace (hooks.rs keeps it from hooks).
pub const CALLER_MNTNS_ENV: &str = "_BERTH_RUNTIME_CALLER_MNTNS";

/// The caller's mount namespace when this process re-executed itself into
/// a private one ([`reexec_protected`]); None when it did not.
pub fn caller_mount_ns() -> Option<&'static OwnedFd> {
    static NS: std::sync::OnceLock<Option<OwnedFd>> = std::sync::OnceLock::new();
    NS.get_or_init(|| {
        let fd = std::env::var(CALLER_MNTNS_ENV).ok()?.parse().ok()?;
        let fd = berth_sys::take_inherited_fd(fd)?;
        // Only a mount namespace (nsfs) is taken.
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
        link.to_string_lossy().starts_with("mnt:[").then_some(fd)
    })
    .as_ref()
}

/// In a private mount namespace, binds our own binary read-only over itself;
/// returns its path, or None when that cannot be done here.
fn read_only_self() -> Option<PathBuf> {
    let exe = std::fs::read_link("/proc/self/exe").ok()?;
    if exe.to_string_lossy().ends_with(" (deleted)") {
        return None;
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).ok()?;
    // The bind must not propagate back to the host: make the mount holding
    // the binary a slave in our copy (only it, not the whole tree).
    let parent = berth_sys::mount_point_of(&exe)?;
    mount(
        None::<&str>,
        &parent,
        None::<&str>,
        MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .ok()?;
    mount(
        Some(&exe),
        &exe,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .ok()?;
    let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    mount(None::<&str>, &exe, None::<&str>, ro, None::<&str>).ok()?;
    Some(exe)
}

fn argv_envp() -> (Vec<CString>, Vec<CString>) {
    let args = std::env::args_os()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let env = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    (args, env)
}

fn make_copy() -> Result<OwnedFd> {
    let name = c"berth-runtime";
    // MFD_EXEC (0x10) says so explicitly on kernels with vm.memfd_noexec.
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let memfd = memfd_create(name, flags | MFdFlags::from_bits_retain(0x10))
        .or_else(|_| memfd_create(name, flags))
        .map_err(|e| Error::io("memfd_create", std::io::Error::from(e)))?;
    let mut src = std::fs::File::open("/proc/self/exe").ctx(|| "opening /proc/self/exe")?;
    let mut dst = std::fs::File::from(memfd.try_clone().ctx(|| "dup")?);
    std::io::copy(&mut src, &mut dst).ctx(|| "copying the runtime binary")?;
    nix::fcntl::fcntl(
        &memfd,
        nix::fcntl::FcntlArg::F_ADD_SEALS(nix::fcntl::SealFlag::from_bits_retain(SEALS)),
    )
    .map_err(|e| Error::io("sealing the binary copy", std::io::Error::from(e)))?;
    Ok(memfd)
}
