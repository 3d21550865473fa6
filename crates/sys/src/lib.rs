//! The raw system calls that nix does not wrap, each small and with the reason
//! it is sound. Every `unsafe` block of berth lives in this crate: the other
//! crates `#![forbid(unsafe_code)]` (the tidy test checks), so this file is
//! the whole list of what must be argued sound.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Forks with `flags` (CLONE_NEW* namespace flags) and returns the child's pid
/// in the parent, 0 in the child.
///
/// The raw clone system call with a null stack behaves like fork(2) (the child
/// runs on a copy of the parent's stack), which lets the child start in new
/// namespaces, the pid namespace included, without a helper process.
///
/// # Safety
/// The caller must be single-threaded: like fork, the child has only the
/// calling thread, and locks held by other threads would never be released.
pub unsafe fn clone_process(flags: libc::c_int) -> io::Result<libc::pid_t> {
    // SAFETY: on x86_64 and aarch64 the argument order is (flags, stack,
    // parent_tid, child_tid, tls); null pointers mean "not used".
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as libc::pid_t)
    }
}

/// [`clone_process`] for a caller that has not proven it is single-threaded:
/// refuses a multi-threaded process (the one case in which the child could
/// inherit a lock another thread holds), so it is safe to call.
pub fn clone_checked(flags: libc::c_int) -> io::Result<libc::pid_t> {
    if !single_threaded() {
        return Err(io::Error::other(
            "clone from a multi-threaded process is not allowed",
        ));
    }
    // SAFETY: the process has one thread (checked above).
    unsafe { clone_process(flags) }
}

/// Ends a forked child at once, without running the parent's destructors or
/// atexit handlers (which would flush the parent's buffers a second time).
pub fn exit_child(code: i32) -> ! {
    // SAFETY: _exit takes an int and does not return.
    unsafe { libc::_exit(code) }
}

/// setdomainname(2), which nix does not wrap.
pub fn set_domainname(name: &str) -> io::Result<()> {
    // SAFETY: setdomainname reads `len` bytes of a buffer that outlives the call.
    let r = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one message and the descriptors passed with it (SCM_RIGHTS),
/// close-on-exec, each owned by the caller from then on.
pub fn recv_with_fds(
    socket: std::os::fd::BorrowedFd<'_>,
    buf: &mut [u8],
) -> io::Result<(usize, Vec<OwnedFd>)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut iov = [io::IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            for fd in raw {
                // SAFETY: SCM_RIGHTS has just installed this descriptor in
                // our table; nothing else holds it.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Ok((msg.bytes, fds))
}

/// Loads a seccomp BPF program into the calling thread (and, with
/// SECCOMP_FILTER_FLAG_TSYNC in `flags`, its siblings). A positive answer
/// with TSYNC names the thread that could not be synchronized.
pub fn load_seccomp_program(
    program: &[libc::sock_filter],
    flags: libc::c_ulong,
) -> io::Result<i64> {
    let len = u16::try_from(program.len())
        .map_err(|_| io::Error::other("seccomp program longer than 65535 instructions"))?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points to `program`, alive and unchanged for the call
    // (the kernel only reads it, despite the pointer's mutability); the
    // kernel copies the program before returning.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r)
}

/// [`load_seccomp_program`] with SECCOMP_FILTER_FLAG_NEW_LISTENER added to
/// `flags`: returns the filter's notification descriptor (SCMP_ACT_NOTIFY).
pub fn load_seccomp_listener(
    program: &[libc::sock_filter],
    flags: libc::c_ulong,
) -> io::Result<OwnedFd> {
    let fd = load_seccomp_program(program, flags | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER)?;
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::other("seccomp: bad listener fd"))?;
    // SAFETY: with NEW_LISTENER a successful seccomp(2) returns a new
    // descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Runs `cmd`'s child in a new session (setsid), detached from the caller's
/// terminal and process group, as a daemon started in the background must be.
pub fn spawn_in_new_session(cmd: &mut std::process::Command) {
    // SAFETY: the hook runs between fork and exec; setsid is
    // async-signal-safe and touches no memory of the parent.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, || {
            nix::unistd::setsid().map_err(io::Error::from)?;
            Ok(())
        });
    }
}

/// How many bytes socket `fd` has sent that its peer has not read yet
/// (SIOCOUTQ: for a unix stream socket, the data still queued on the
/// reader's side). The API server waits for 0 after a 101, so that a
/// hijacked stream's first bytes are not read by the client's buffered
/// HTTP parser together with the head.
///
/// `fd` must be a socket the caller holds open; another descriptor gives
/// an error, never memory unsafety.
pub fn unread_by_peer(fd: RawFd) -> io::Result<usize> {
    let mut queued: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one int through the pointer,
    // which points to a live local for the call; a wrong fd fails the call.
    let r = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued as *mut libc::c_int) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(queued.max(0) as usize)
}

/// True when the process has exactly one thread (required before forking).
pub fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count() == 1)
        .unwrap_or(true)
}

/// Marks every descriptor from `first` up close-on-exec, so that nothing of
/// the host's (a directory handle, a socket) survives into the container.
pub fn cloexec_from(first: RawFd) -> io::Result<()> {
    // SAFETY: close_range only changes descriptor flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if ret == 0 {
        return Ok(());
    }
    // Kernels before 5.11: walk /proc/self/fd instead.
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first)
        .collect();
    for fd in fds {
        // SAFETY: setting FD_CLOEXEC on a descriptor that may already be closed is harmless.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Clears close-on-exec on `fd` (for descriptors passed with --preserve-fds).
pub fn keep_on_exec(fd: RawFd) {
    // SAFETY: only changes descriptor flags.
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
}

/// Makes sure descriptor `fd` is open: if it is not, /dev/null is put
/// there (without close-on-exec), so that nothing the process opens later
/// gets that number.
pub fn hold_fd(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
        return Ok(());
    }
    // SAFETY: a plain open of a constant, NUL-terminated path.
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
    if null < 0 {
        return Err(io::Error::last_os_error());
    }
    if null != fd {
        // SAFETY: dup2 onto a number we checked is not open, then closing
        // the descriptor we just opened and own.
        let r = unsafe { libc::dup2(null, fd) };
        unsafe { libc::close(null) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A descriptor that becomes readable when process `pid` exits, child or not.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open returns a new descriptor we then own.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: the descriptor is fresh and owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
    }
}

/// Waits up to `timeout_ms` (-1: forever) for the process behind `pidfd` to exit.
pub fn wait_pidfd(pidfd: &OwnedFd, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return r > 0;
    }
}

/// Duplicates `fd` onto `target` (for stdio), keeping `fd` open.
pub fn dup_onto(fd: RawFd, target: RawFd) -> io::Result<()> {
    if fd == target {
        keep_on_exec(fd);
        return Ok(());
    }
    // SAFETY: dup2 onto a standard descriptor; both are ints the kernel checks.
    if unsafe { libc::dup2(fd, target) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes `fd` the controlling terminal of this (new) session.
pub fn set_controlling_terminal(fd: RawFd) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument, no memory.
    if unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets a terminal's window size.
pub fn set_winsize(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize struct that outlives the call.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads a terminal's window size.
pub fn get_winsize(fd: RawFd) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize struct we own.
    (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0).then_some((ws.ws_row, ws.ws_col))
}

/// Raises ambient capability `cap` (caps' own helper needs the crate's type;
/// the number is what the kernel takes).
pub fn raise_ambient(cap: u8) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE,
            cap as libc::c_ulong,
            0,
            0,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The scheduling attributes of sched_setattr(2) (process.scheduler).
#[derive(Debug, Clone, Copy, Default)]
pub struct SchedAttr {
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// sched_setattr(2) on the calling thread, which libc does not wrap.
pub fn sched_setattr(a: &SchedAttr) -> io::Result<()> {
    let attr = libc::sched_attr {
        size: std::mem::size_of::<libc::sched_attr>() as u32,
        sched_policy: a.policy,
        sched_flags: a.flags,
        sched_nice: a.nice,
        sched_priority: a.priority,
        sched_runtime: a.runtime,
        sched_deadline: a.deadline,
        sched_period: a.period,
    };
    // SAFETY: pid 0 is the calling thread; `attr` is a complete sched_attr
    // whose size field says so, alive for the call; the kernel only reads it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_setattr,
            0,
            &attr as *const libc::sched_attr,
            0u32,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// IOPRIO_WHO_PROCESS of ioprio_set(2)/ioprio_get(2).
const IOPRIO_WHO_PROCESS: libc::c_int = 1;

/// ioprio_set(2) of the calling process (process.ioPriority): `class` is
/// IOPRIO_CLASS_RT 1, BE 2, IDLE 3; `level` 0 (highest) to 7.
pub fn ioprio_set_self(class: u32, level: u32) -> io::Result<()> {
    let prio = ((class << 13) | level) as libc::c_int;
    // SAFETY: ioprio_set takes three integers; who 0 is the caller.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// ioprio_get(2) of process `pid`: (class, level).
pub fn ioprio_get(pid: libc::pid_t) -> io::Result<(u32, u32)> {
    // SAFETY: ioprio_get takes two integers and returns one.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, pid) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let v = r as u32;
    Ok((v >> 13, v & 0x1fff))
}

/// set_mempolicy(2) (linux.memoryPolicy): `mode` with its MPOL_F_* flags,
/// and the node mask as 64-bit words.
pub fn set_mempolicy(mode: libc::c_int, nodes: &[u64]) -> io::Result<()> {
    let (ptr, maxnode) = if nodes.is_empty() {
        (std::ptr::null(), 0)
    } else {
        (nodes.as_ptr(), nodes.len() as libc::c_ulong * 64)
    };
    // SAFETY: `nodes` holds maxnode bits, alive for the call; the kernel
    // copies the mask; a null mask with maxnode 0 means "no nodes".
    let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// unshare(CLONE_NEWTIME): the caller's next children start in a new time
/// namespace (the caller stays in its own); nix has no flag for it.
pub fn unshare_time_for_children() -> io::Result<()> {
    // SAFETY: unshare takes an integer.
    if unsafe { libc::unshare(libc::CLONE_NEWTIME) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// setns(2) into the time namespace `fd` (for this process and its children).
pub fn setns_time(fd: &impl std::os::fd::AsFd) -> io::Result<()> {
    // SAFETY: setns takes a descriptor, borrowed and open for the call.
    if unsafe { libc::setns(fd.as_fd().as_raw_fd(), libc::CLONE_NEWTIME) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Takes ownership of descriptor `fd`, inherited across execve from our own
/// previous image (which named it in an environment variable), and makes
/// it close-on-exec. None when `fd` is not open.
///
/// The caller must call this at most once for a given inherited `fd`: it
/// belongs to no other object in this process.
pub fn take_inherited_fd(fd: RawFd) -> Option<OwnedFd> {
    if fd < 3 {
        return None;
    }
    // SAFETY: F_GETFD/F_SETFD only read and set the descriptor's flags.
    unsafe {
        if libc::fcntl(fd, libc::F_GETFD) < 0 {
            return None;
        }
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    // SAFETY: the descriptor is open (checked) and, inherited by contract
    // from our previous image, owned by nothing else in this process.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets the process's personality (linux.personality: LINUX or LINUX32).
pub fn set_personality(persona: libc::c_ulong) -> io::Result<()> {
    // SAFETY: personality(2) takes an integer.
    if unsafe { libc::personality(persona) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The hard limit of an rlimit as this process has it.
pub fn rlimit(resource: libc::__rlimit_resource_t) -> (u64, u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one struct we own.
    unsafe { libc::getrlimit(resource, &mut r) };
    (r.rlim_cur, r.rlim_max)
}

pub fn set_rlimit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> io::Result<()> {
    let r = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads one struct that outlives the call.
    if unsafe { libc::setrlimit(resource, &r) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Restores every signal's default disposition and unblocks them all.
pub fn reset_signals() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition; invalid numbers fail harmlessly.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: an empty, initialised set and a null old-set pointer.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// The mount id of `path` (statx STX_MNT_ID, Linux 5.8+), following symlinks.
pub fn mount_id(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statx writes one statx struct we own; the path is a valid C string.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::statx(libc::AT_FDCWD, c.as_ptr(), 0, libc::STATX_MNT_ID, &mut st) };
    (r == 0 && st.stx_mask & libc::STATX_MNT_ID != 0).then_some(st.stx_mnt_id)
}

/// The mount point of the mount that holds `path`: the highest ancestor on the
/// same mount. A few statx calls instead of reading /proc/self/mountinfo, which
/// on a host with many containers has hundreds of lines.
pub fn mount_point_of(path: &std::path::Path) -> Option<std::path::PathBuf> {
    let id = mount_id(path)?;
    let mut top = path.to_path_buf();
    let mut cur = path.parent();
    while let Some(p) = cur {
        if mount_id(p)? != id {
            break;
        }
        top = p.to_path_buf();
        cur = p.parent();
    }
    Some(top)
}

/// fork(2) for a single-threaded caller: `Ok(0)` in the child, the child's
/// pid in the parent. Safe to call because it refuses a multi-threaded
/// process, the one case in which the child could inherit a held lock.
pub fn fork() -> io::Result<libc::pid_t> {
    if !single_threaded() {
        return Err(io::Error::other(
            "fork from a multi-threaded process is not allowed",
        ));
    }
    // SAFETY: the process has one thread (checked above).
    unsafe { clone_process(0) }
}

/// Brings the loopback interface of the calling thread's network namespace
/// up, as Docker does for a container's own namespace (`--network none`).
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: a plain socket(2) call; the descriptor is owned right after.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by socket(2) and nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; zeroed is a valid value, and the name
    // "lo" with its NUL fits in IFNAMSIZ.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Hands freed heap memory back to the kernel (glibc's malloc_trim), for a
/// long-lived process whose set-up allocated more than it keeps.
pub fn release_free_memory() {
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Caps glibc's malloc arenas for a multi-threaded daemon: by default each
/// thread may get its own arena, each keeping freed memory resident.
pub fn limit_malloc_arenas(n: i32) {
    // SAFETY: mallopt only sets an allocator parameter; called before the
    // daemon starts its threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, n);
    }
}

/// Drops this process's resident copies of pages it can get back unchanged
/// from their files: the read-only, private, file-backed mappings (its code
/// and constants) that hold no page of its own. For a long-lived process
/// whose set-up ran far more code than its steady state does (the shim):
/// what it touches again is faulted back in from the page cache, the rest
/// stops counting against it.
///
/// A mapping qualifies only if smaps reports it `Anonymous: 0 kB`: no page
/// was ever copied on write (relocations of a PIE binary's `.data.rel.ro`
/// are), so every page is the file's and dropping it loses nothing.
pub fn release_clean_file_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_ascii_whitespace();
        let first = fields.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            let perms = fields.next().unwrap_or_default();
            let path = fields.nth(3).unwrap_or_default();
            let clean_candidate =
                perms.starts_with('r') && !perms.contains('w') && perms.ends_with('p');
            current = (clean_candidate && path.starts_with('/')).then_some((start, end));
        } else if first == "Anonymous:"
            && let Some((start, end)) = current.take()
            && fields.next() == Some("0")
        {
            // SAFETY: [start, end) is a whole mapping of this process, read
            // only, private and file-backed with no private pages: after
            // MADV_DONTNEED each page reads again as the same file contents
            // (the code running now included, faulted back on return).
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
}

/// Frees the main thread's stack pages below the caller's frame (keeping a
/// margin for the calls it makes next): set-up code ran deep, the loop that
/// follows does not. Does nothing off the main thread.
#[inline(never)]
pub fn release_unused_stack() {
    const MARGIN: usize = 32 << 10;
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    let Some(start) = maps.lines().find_map(|l| {
        let (range, _) = l.split_once(' ')?;
        let (start, end) = range.split_once('-')?;
        let (start, end) = (
            usize::from_str_radix(start, 16).ok()?,
            usize::from_str_radix(end, 16).ok()?,
        );
        (l.ends_with("[stack]") && start <= here && here < end).then_some(start)
    }) else {
        return;
    };
    let limit = here.saturating_sub(MARGIN) & !(page_size() - 1);
    if limit > start {
        // SAFETY: [start, limit) is the part of this thread's own stack
        // mapping below its live frames (and their red zone, by a wide
        // margin): nothing refers to it, and a later use gets zeroed pages.
        unsafe {
            libc::madvise(
                start as *mut libc::c_void,
                limit - start,
                libc::MADV_DONTNEED,
            );
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf only reads a system value.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as usize } else { 4096 }
}

/// Lowers the calling thread to the lowest CPU weight (nice 19) and the
/// lowest best-effort I/O priority, for work nobody waits on (deleting a
/// removed container's files). Not the idle classes: a thread starved
/// there could hold a directory's lock (the parent of what it deletes)
/// that a start or a removal then waits on.
pub fn become_background_thread() {
    const IOPRIO_CLASS_BE: libc::c_long = 2;
    const IOPRIO_CLASS_SHIFT: libc::c_long = 13;
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    // SAFETY: both calls change only this thread's priorities (who 0 is
    // the calling thread) and take plain integers.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0 as libc::c_long,
            (IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | 7,
        );
    }
}

/// mount_setattr(2)'s attribute bits (linux/mount.h).
pub mod mount_attr {
    pub const RDONLY: u64 = 0x0000_0001;
    pub const NOSUID: u64 = 0x0000_0002;
    pub const NODEV: u64 = 0x0000_0004;
    pub const NOEXEC: u64 = 0x0000_0008;
    /// The access-time field: one of RELATIME, NOATIME, STRICTATIME.
    pub const ATIME_MASK: u64 = 0x0000_0070;
    pub const RELATIME: u64 = 0x0000_0000;
    pub const NOATIME: u64 = 0x0000_0010;
    pub const STRICTATIME: u64 = 0x0000_0020;
    pub const NODIRATIME: u64 = 0x0000_0080;
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

/// struct mount_attr of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) on the mount `fd` (an O_PATH descriptor of its root)
/// and every mount below it (AT_RECURSIVE): sets `set`, clears `clear`
/// (bits of [`mount_attr`]); propagation untouched.
pub fn mount_setattr_recursive(
    fd: &impl std::os::fd::AsFd,
    set: u64,
    clear: u64,
) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    let empty = c"";
    // SAFETY: the descriptor is borrowed and open for the call, the path a
    // NUL-terminated empty string, and `attr` a live struct mount_attr whose
    // size is passed with it; the kernel only reads them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            empty.as_ptr(),
            (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
