//! Runs the runtime from a sealed in-memory copy of its own binary.
//!
//! While the container's init (or an exec'd process) is still the runtime, its
//! /proc/<pid>/exe is the runtime binary; a process in the container that got
//! hold of it could overwrite the host's binary once we exit (CVE-2019-5736).
//! Executing from a sealed memfd means that /proc/<pid>/exe is a copy that
//! cannot be written, so there is nothing on the host to reach.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Context, Result};

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// True when this process already runs from a sealed copy.
pub fn is_cloned() -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: F_GET_SEALS only reads flags of a descriptor we hold.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

/// Re-executes this program from a sealed memfd copy unless it already runs
/// from one. Returns only on failure.
pub fn reexec_sealed() -> Result<()> {
    if is_cloned() {
        return Ok(());
    }
    let memfd = make_copy()?;
    let args: Vec<CString> = std::env::args_os()
        .map(|a| {
            CString::new(std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str())).unwrap_or_default()
        })
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = std::os::unix::ffi::OsStrExt::as_bytes(k.as_os_str()).to_vec();
            kv.push(b'=');
            kv.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()));
            CString::new(kv).ok()
        })
        .collect();
    let err = nix::unistd::fexecve(&memfd, &args, &env).unwrap_err();
    Err(crate::error::Error::io(
        "re-executing from a sealed copy",
        err,
    ))
}

fn make_copy() -> Result<OwnedFd> {
    let name = c"berth-runtime";
    // MFD_EXEC (0x10) says so explicitly on kernels with vm.memfd_noexec.
    let mut flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING | 0x10;
    // SAFETY: memfd_create with a valid C string returns a new descriptor.
    let mut fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    if fd < 0 {
        flags &= !0x10;
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    }
    if fd < 0 {
        return Err(crate::error::Error::io(
            "memfd_create",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fresh descriptor, owned by nobody else.
    let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut src = std::fs::File::open("/proc/self/exe").ctx(|| "opening /proc/self/exe")?;
    let mut dst = std::fs::File::from(memfd.try_clone().ctx(|| "dup")?);
    std::io::copy(&mut src, &mut dst).ctx(|| "copying the runtime binary")?;
    // SAFETY: F_ADD_SEALS takes an int of seal flags.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(crate::error::Error::io(
            "sealing the binary copy",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(memfd)
}
