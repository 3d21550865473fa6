//! The container's first process, from clone to execve. It runs in the new
//! namespaces, reports each step to the runtime over the sync channel, and
//! waits on the exec fifo until `start` before it becomes the program.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::sched::CloneFlags;
use oci_spec::runtime::{Linux, LinuxNamespaceType, Process};

use crate::cgroups::CgroupPaths;
use crate::error::{Context, Error, Result};
use crate::process::{self, Program};
use crate::spec::Bundle;
use crate::sync::{Channel, Msg};
use crate::{attrs, console, hooks, rootfs, seccomp};
use berth_sys as sys;

/// Where the master side of a terminal goes.
pub enum ConsoleTarget {
    None,
    /// A connected unix socket (`--console-socket`).
    Socket(OwnedFd),
    /// The runtime process itself, over the sync channel (`run -t`).
    Parent,
}

pub struct InitArgs<'a> {
    pub id: &'a str,
    pub bundle: &'a Bundle,
    pub cgroup: &'a CgroupPaths,
    pub channel: &'a Channel,
    pub new_userns: bool,
    pub console: ConsoleTarget,
    /// An O_PATH descriptor of the exec fifo.
    pub exec_fifo: &'a OwnedFd,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub seccomp: Option<&'a seccomp::Filter>,
    pub join_user: Option<OwnedFd>,
    pub join_mount: Option<OwnedFd>,
    /// linux.devices nodes the runtime made for a user namespace (see
    /// `rootfs::prepare_userns_devices`).
    pub devices: &'a [(std::path::PathBuf, std::path::PathBuf)],
}

/// Runs in the cloned child; never returns.
pub fn run(args: InitArgs) -> ! {
    let (program, host_proc) = match setup(&args) {
        Ok(p) => p,
        Err(e) => {
            let _ = args.channel.send(&Msg::Failed(e.to_string()));
            sys::exit_child(1)
        }
    };
    // Block until `start` opens the other end, then tell it we go on.
    // Reopened through /proc: the container's, or, chrooted without a
    // mount namespace (no /proc inside), the host's, opened before.
    let fifo = format!("self/fd/{}", args.exec_fifo.as_raw_fd());
    let opened = match &host_proc {
        Some(proc_dir) => nix::fcntl::openat(
            proc_dir,
            fifo.as_str(),
            nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map(std::fs::File::from)
        .map_err(std::io::Error::from),
        None => std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/{fifo}")),
    };
    drop(host_proc);
    match opened {
        Ok(mut f) => {
            use std::io::Write;
            let _ = f.write_all(b"0");
        }
        Err(e) => die(&format!("opening the exec fifo: {e}"), 1),
    }
    if let Err(e) = start_hooks(args.id, args.bundle) {
        die(&e.to_string(), 1);
    }
    let err = process::exec(&program);
    let code = match err.raw_os_error() {
        Some(libc::ENOENT) => 127,
        _ => 126,
    };
    die(&err.to_string(), code)
}

fn die(msg: &str, code: i32) -> ! {
    eprintln!("berth-runtime: {msg}");
    sys::exit_child(code)
}

fn wait_go(ch: &Channel) -> Result<()> {
    match ch.recv()? {
        Some(Msg::Go) => Ok(()),
        other => Err(Error::Other(format!(
            "runtime went away during setup ({other:?})"
        ))),
    }
}

fn namespaces(bundle: &Bundle) -> Vec<(LinuxNamespaceType, bool)> {
    bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
        .iter()
        .map(|n| (n.typ(), n.path().is_none()))
        .collect()
}

fn setup(a: &InitArgs) -> Result<(Program, Option<OwnedFd>)> {
    // Nothing in the container may read our memory or /proc/self/exe (the
    // runtime binary) while we are still the runtime (CVE-2019-5736).
    nix::sys::prctl::set_dumpable(false).ctx(|| "PR_SET_DUMPABLE")?;
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).ctx(|| "PR_SET_PDEATHSIG")?;
    wait_go(a.channel)?;
    if !a.new_userns {
        // Still privileged on the host: join the cgroup ourselves, the
        // cheap way (see `join_self`). In a new user namespace the runtime
        // has moved us already.
        a.cgroup.join_self()?;
    }
    if let Some(fd) = &a.join_user {
        nix::sched::setns(fd, CloneFlags::CLONE_NEWUSER).ctx(|| "joining the user namespace")?;
    }
    if a.new_userns || a.join_user.is_some() {
        // Become root of the new user namespace if root is mapped in it.
        let _ = nix::unistd::setresgid(0.into(), 0.into(), 0.into());
        let _ = nix::unistd::setresuid(0.into(), 0.into(), 0.into());
    }
    if let Some(fd) = &a.join_mount {
        nix::sched::setns(fd, CloneFlags::CLONE_NEWNS).ctx(|| "joining the mount namespace")?;
    }
    let ns = namespaces(a.bundle);
    let new = |t| ns.iter().any(|(typ, is_new)| *typ == t && *is_new);
    if new(LinuxNamespaceType::Cgroup) {
        // Now that we are in the container's cgroup, it becomes the namespace's root.
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).ctx(|| "creating the cgroup namespace")?;
    }
    if new(LinuxNamespaceType::Network) {
        // A new network namespace gets its loopback up, as runc's
        // "loopback" network does; the engine adds the rest before start.
        sys::loopback_up().ctx(|| "bringing up the loopback interface")?;
    }
    let spec = &a.bundle.spec;
    if new(LinuxNamespaceType::Uts) {
        if let Some(h) = spec.hostname() {
            nix::unistd::sethostname(h).ctx(|| format!("setting hostname {h:?}"))?;
        }
        if let Some(d) = spec.domainname() {
            set_domainname(d)?;
        }
    }
    let has_mount_ns = new(LinuxNamespaceType::Mount);
    if has_mount_ns {
        rootfs::prepare(&rootfs::RootfsContext {
            spec,
            rootfs: &a.bundle.rootfs,
            cgroup: a.cgroup,
            in_userns: a.new_userns || a.join_user.is_some(),
            devices: a.devices,
        })?;
    }
    a.channel.send(&Msg::Hooks)?;
    wait_go(a.channel)?;
    let state =
        crate::container::hook_state(a.id, a.bundle, nix::unistd::getpid().as_raw(), "created");
    hooks::run(
        "createContainer",
        spec.hooks()
            .as_ref()
            .and_then(|h| h.create_container().as_ref()),
        &state,
    )?;
    let mut host_proc = None;
    if has_mount_ns {
        rootfs::pivot(&a.bundle.rootfs, a.no_pivot)?;
    } else if a.join_mount.is_none() {
        // No mount namespace (and so no mounts: spec.rs): the root is
        // entered by chroot, and a missing process.cwd is made as runc
        // makes it.
        host_proc = Some(
            nix::fcntl::open(
                "/proc",
                nix::fcntl::OFlag::O_PATH
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ctx(|| "opening /proc")?,
        );
        nix::unistd::chroot(&a.bundle.rootfs).ctx(|| "chroot")?;
        nix::unistd::chdir("/").ctx(|| "chdir /")?;
        rootfs::make_cwd_in_root(spec)?;
    }
    let process = spec
        .process()
        .clone()
        .ok_or_else(|| Error::Config("process: missing".into()))?;
    let terminal = process.terminal().unwrap_or(false);
    let pty = if terminal {
        let pty = console::open_pty(
            process
                .console_size()
                .map(|b| (b.height() as u16, b.width() as u16)),
        )?;
        if has_mount_ns {
            rootfs::bind_console(&pty.slave_path)?;
        }
        Some(pty)
    } else {
        None
    };
    // Before finish: docker lists /proc/sys among the read-only paths.
    rootfs::apply_sysctl(spec)?;
    if has_mount_ns {
        rootfs::finish(spec)?;
    }
    send_console(a, pty.as_ref())?;
    let program = prepare_process(
        &process,
        spec.linux().as_ref(),
        a.seccomp,
        a.channel,
        a.new_userns || a.join_user.is_some(),
        pty.as_ref().map(|p| &p.slave),
    )?;
    finish_fds(a.preserve_fds)?;
    nix::sys::prctl::set_pdeathsig(None).ctx(|| "PR_SET_PDEATHSIG")?;
    a.channel.send(&Msg::Ready)?;
    Ok((program, host_proc))
}

fn send_console(a: &InitArgs, pty: Option<&console::Pty>) -> Result<()> {
    let Some(pty) = pty else { return Ok(()) };
    match &a.console {
        ConsoleTarget::Socket(sock) => console::send_master(sock.as_raw_fd(), pty),
        ConsoleTarget::Parent => a.channel.send_raw(b"console", Some(pty.master.as_raw_fd())),
        ConsoleTarget::None => Err(Error::Config(
            "process.terminal is true but no --console-socket was given".into(),
        )),
    }
}

/// The process-level setup shared by create and exec. On return the process
/// has its final identity and filters; only execve remains.
#[allow(clippy::too_many_arguments)]
pub fn prepare_process(
    process: &Process,
    linux: Option<&Linux>,
    filter: Option<&seccomp::Filter>,
    channel: &Channel,
    in_userns: bool,
    tty: Option<&OwnedFd>,
) -> Result<Program> {
    if let Some(slave) = tty {
        // The terminal is the process's own user's, as runc makes it.
        let user = process.user();
        nix::unistd::fchown(
            slave,
            Some(nix::unistd::Uid::from_raw(user.uid())),
            Some(nix::unistd::Gid::from_raw(user.gid())),
        )
        .ctx(|| "chown of the terminal to process.user")?;
        console::attach_stdio(slave)?;
    } else {
        fix_stdio_owner(process)?;
    }
    // The program starts with default signal handling, whatever the runtime's
    // was (Rust ignores SIGPIPE, and that would be inherited across execve).
    sys::reset_signals();
    process::set_oom_score_adj(process)?;
    process::set_rlimits(process)?;
    // While still privileged (a real-time policy needs CAP_SYS_NICE), as runc.
    let has_cpuset = linux
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.cpu().as_ref())
        .is_some_and(|c| c.cpus().as_ref().is_some_and(|s| !s.is_empty()));
    attrs::apply_process(process, has_cpuset)?;
    if let Some(l) = linux {
        attrs::apply_linux(l)?;
    }
    let cwd = process.cwd();
    nix::unistd::chdir(cwd).ctx(|| format!("chdir to process.cwd {}", cwd.display()))?;
    // The working directory must be inside the container (CVE-2024-21626).
    let here = std::env::current_dir().ctx(|| "getcwd")?;
    if !here.starts_with("/") || here.to_string_lossy().starts_with("(unreachable)") {
        return Err(Error::Other(format!(
            "process.cwd {} is outside the container",
            cwd.display()
        )));
    }
    let program = process::find_program(process)?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    if let (Some(f), false) = (filter, nnp) {
        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
        // before the capabilities go.
        to_agent(channel, seccomp::load(f)?)?;
    }
    process::set_identity(process, !in_userns || setgroups_allowed())?;
    if nnp {
        process::set_no_new_privs()?;
        if let Some(f) = filter {
            to_agent(channel, seccomp::load(f)?)?;
        }
    }
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    Ok(program)
}

/// runc's fixStdioPermissions, crun's too: stdio that is not /dev/null
/// (a pipe, a file) becomes the process user's, so that it can reopen it
/// (/proc/self/fd/1, /dev/stdout). A descriptor the kernel will not let us
/// chown (an owner outside the user namespace, a read-only filesystem) is
/// left as it is.
fn fix_stdio_owner(process: &Process) -> Result<()> {
    use std::os::fd::AsFd;
    let user = process.user();
    let (uid, gid) = (user.uid(), user.gid());
    let null = nix::sys::stat::makedev(1, 3);
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let stdio = [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()];
    for (n, fd) in stdio.into_iter().enumerate() {
        let Ok(st) = nix::sys::stat::fstat(fd) else {
            continue; // closed
        };
        let is_char = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
        if (st.st_uid == uid && st.st_gid == gid) || (is_char && st.st_rdev == null) {
            continue;
        }
        match nix::unistd::fchown(
            fd,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        ) {
            Ok(()) => {}
            Err(
                nix::errno::Errno::EINVAL | nix::errno::Errno::EPERM | nix::errno::Errno::EROFS,
            ) => {}
            Err(e) => return Err(Error::io(format!("chown of stdio descriptor {n}"), e)),
        }
    }
    Ok(())
}

/// Hands a seccomp notification descriptor to the runtime, which sends it
/// to the agent at listenerPath, and waits until it has.
fn to_agent(channel: &Channel, fd: Option<OwnedFd>) -> Result<()> {
    let Some(fd) = fd else { return Ok(()) };
    channel.send_raw(b"seccomp", Some(fd.as_raw_fd()))?;
    drop(fd);
    wait_go(channel)
}

fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() == "allow")
        .unwrap_or(true)
}

/// Descriptors 3.. are closed on exec, except the `preserve` right after stdio.
pub fn finish_fds(preserve: u32) -> Result<()> {
    let first = 3 + preserve as RawFd;
    sys::cloexec_from(first).ctx(|| "closing inherited descriptors")?;
    for fd in 3..first {
        sys::keep_on_exec(fd);
    }
    Ok(())
}

fn start_hooks(id: &str, bundle: &Bundle) -> Result<()> {
    let hooks = bundle
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref());
    if hooks.is_none() {
        return Ok(());
    }
    let state = crate::container::hook_state(id, bundle, nix::unistd::getpid().as_raw(), "running");
    // As runc: run by the container's init, a hook without an env inherits
    // the container process's environment.
    let env = bundle.spec.process().as_ref().and_then(|p| p.env().clone());
    hooks::run_inheriting(
        "startContainer",
        hooks,
        &state,
        Some(env.as_deref().unwrap_or(&[])),
    )
}

fn set_domainname(name: &str) -> Result<()> {
    sys::set_domainname(name).map_err(|e| Error::io(format!("setting domainname {name:?}"), e))
}

pub fn path_exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}
