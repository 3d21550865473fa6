//! The lifecycle operations on a container, run from the runtime process:
//! create, start, state, kill, delete, exec, pause, resume, update, stats.
//!
//! Invariant: an operation that fails leaves nothing behind that it made (no
//! state directory, cgroup or process); the container's mounts live only in
//! its own mount namespace, so they go with its last process.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, LinuxResources, Process};

use crate::cgroups::{CgroupPaths, Layout, Stats};
use crate::error::{Context, Error, Result, bail};
use crate::init::{self, ConsoleTarget, InitArgs};
use crate::spec::{self, Bundle};
use crate::state::{self, Record, StateOutput, Status};
use crate::sync::{Channel, Msg};
use crate::{hooks, seccomp};
use berth_sys as sys;

/// Compiled seccomp programs, under the root: a name no container id can
/// take (ids never start with a dot).
const SECCOMP_CACHE: &str = ".seccomp-cache";

/// The runtime: a state root holding one directory per container.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub root: PathBuf,
}

#[derive(Debug, Default)]
pub struct CreateOptions {
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    /// The config file, relative to the bundle (crun's `--config`); None
    /// for config.json.
    pub config: Option<PathBuf>,
    /// No cgroup at all (crun's `--cgroup-manager disabled`): the init stays
    /// in the caller's cgroups and nothing is made or removed for it.
    pub no_cgroup: bool,
    /// NAME=value entries added to process.env (LISTEN_FDS, LISTEN_PID of
    /// socket activation passed through), overriding the spec's.
    pub extra_env: Vec<String>,
}

#[derive(Debug, Default)]
pub struct ExecOptions {
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    /// `--cgroup`, runc 1.1's: "path" (every controller) or
    /// "ctrl[,ctrl]:path", sub-cgroups of the container's that must exist.
    pub cgroups: Vec<String>,
}

/// A container made by this process, whose init is our child.
pub struct Spawned {
    pub record: Record,
    /// The terminal's master side, when `run` keeps the terminal itself.
    pub console: Option<OwnedFd>,
}

/// How `create` hands the terminal out.
#[derive(Debug, PartialEq, Eq)]
pub enum ConsoleMode {
    /// To the --console-socket, or an error if the spec wants a terminal.
    Socket,
    /// Back to this process (for `run` in the foreground).
    Keep,
}

impl Runtime {
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime { root: root.into() }
    }

    fn ensure_root(&self) -> Result<()> {
        fs::create_dir_all(&self.root)
            .ctx(|| format!("creating the state root {}", self.root.display()))?;
        let _ = fs::set_permissions(
            &self.root,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        );
        Ok(())
    }

    /// Creates the container: namespaces, cgroup, root filesystem, process
    /// settings; its init then waits for `start`.
    pub fn create(&self, id: &str, bundle: &Path, opts: &CreateOptions) -> Result<Record> {
        self.spawn(id, bundle, opts, ConsoleMode::Socket)
            .map(|s| s.record)
    }

    pub fn spawn(
        &self,
        id: &str,
        bundle: &Path,
        opts: &CreateOptions,
        console: ConsoleMode,
    ) -> Result<Spawned> {
        spec::check_id(id)?;
        if !sys::single_threaded() {
            bail!("the runtime must create containers from a single-threaded process");
        }
        let mut bundle = Bundle::load_config(bundle, opts.config.as_deref())?;
        if !opts.extra_env.is_empty()
            && let Some(mut process) = bundle.spec.process().clone()
        {
            let mut env = process.env().clone().unwrap_or_default();
            for e in &opts.extra_env {
                let name = e.split('=').next().unwrap_or(e);
                env.retain(|x| x.split('=').next() != Some(name));
                env.push(e.clone());
            }
            process.set_env(Some(env));
            bundle.spec.set_process(Some(process));
        }
        self.ensure_root()?;
        let dir = state::dir(&self.root, id);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(id.into()));
            }
            Err(e) => return Err(Error::io(format!("creating {}", dir.display()), e)),
        }
        let mut undo = Undo {
            dir: Some(dir.clone()),
            cgroup: None,
            pid: None,
        };
        let spawned = self.spawn_in(id, &bundle, opts, console, &mut undo)?;
        undo.disarm();
        Ok(spawned)
    }

    fn spawn_in(
        &self,
        id: &str,
        bundle: &Bundle,
        opts: &CreateOptions,
        console_mode: ConsoleMode,
        undo: &mut Undo,
    ) -> Result<Spawned> {
        let spec = &bundle.spec;
        let linux = spec.linux().clone().unwrap_or_default();
        let filter = linux
            .seccomp()
            .as_ref()
            .map(|s| seccomp::compile(s, Some(&self.root.join(SECCOMP_CACHE))))
            .transpose()?;
        let process = spec
            .process()
            .clone()
            .ok_or_else(|| Error::Config("process: missing".into()))?;
        let terminal = process.terminal().unwrap_or(false);
        let console = match (&opts.console_socket, terminal, &console_mode) {
            (Some(path), true, _) => ConsoleTarget::Socket(
                UnixStream::connect(path)
                    .ctx(|| format!("connecting to the console socket {}", path.display()))?
                    .into(),
            ),
            (None, true, ConsoleMode::Keep) => ConsoleTarget::Parent,
            (None, true, ConsoleMode::Socket) => {
                return Err(Error::Config(
                    "process.terminal is true but no --console-socket was given: use --console-socket"
                        .into(),
                ));
            }
            (_, false, _) => ConsoleTarget::None,
        };

        let rel = linux
            .cgroups_path()
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("/berth/{id}")));
        let rel = cgroup_rel(&rel)?;
        let cgroup = if opts.no_cgroup {
            if linux.resources().is_some() {
                return Err(Error::Config(
                    "linux.resources: cgroup limits need a cgroup manager (--cgroup-manager disabled)"
                        .into(),
                ));
            }
            CgroupPaths::default()
        } else {
            CgroupPaths::resolve(&Layout::host(), &rel)
        };
        undo.cgroup = Some(cgroup.clone());
        // Docker sends zeros for unset limits (cpu.shares, blockIO.weight...):
        // as in runc, zero means "not set" at create too.
        let resources = linux
            .resources()
            .as_ref()
            .map(drop_zero_values)
            .transpose()?;
        cgroup.create(resources.as_ref())?;

        let dir = state::dir(&self.root, id);
        let fifo_path = dir.join(state::EXEC_FIFO);
        nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
            .ctx(|| "creating the exec fifo")?;
        let _ = fs::set_permissions(
            &fifo_path,
            std::os::unix::fs::PermissionsExt::from_mode(0o622),
        );
        let fifo = nix::fcntl::open(&fifo_path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .ctx(|| "opening the exec fifo")?;

        // Namespaces given by path: joined here before the clone (the child
        // inherits them), except user and mount, which the child joins.
        let mut flags = CloneFlags::empty();
        let mut join_user = None;
        let mut join_mount = None;
        let mut new_userns = false;
        // The time namespace: clone(2) has no room for CLONE_NEWTIME (its
        // bit is the exit signal's), and a time namespace is entered by the
        // children of the process that unshares or joins it. So this process
        // makes it (or joins it) for its next child, the init, and goes back
        // to its own time namespace right after the clone.
        let mut time_ns = None;
        for ns in linux.namespaces().iter().flatten() {
            if ns.typ() == LinuxNamespaceType::Time {
                time_ns = Some(ns.path().clone());
                continue;
            }
            let flag = CloneFlags::from_bits_truncate(ns.typ() as libc::c_int);
            match ns.path() {
                None => {
                    if ns.typ() == LinuxNamespaceType::User {
                        new_userns = true;
                    }
                    // The cgroup namespace is made by the child once it is in its cgroup.
                    if ns.typ() != LinuxNamespaceType::Cgroup {
                        flags |= flag;
                    }
                }
                Some(path) => {
                    let fd = nix::fcntl::open(
                        path.as_path(),
                        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .ctx(|| {
                        format!(
                            "opening {} namespace {}",
                            spec::ns_name(ns.typ()),
                            path.display()
                        )
                    })?;
                    match ns.typ() {
                        LinuxNamespaceType::User => join_user = Some(fd),
                        LinuxNamespaceType::Mount => join_mount = Some(fd),
                        _ => nix::sched::setns(&fd, flag).ctx(|| {
                            format!(
                                "joining {} namespace {}",
                                spec::ns_name(ns.typ()),
                                path.display()
                            )
                        })?,
                    }
                }
            }
        }

        // In a user namespace device nodes cannot be made, so the init binds
        // them: the host's node, or one made here when the host has none.
        let devices = if new_userns || join_user.is_some() {
            crate::rootfs::prepare_userns_devices(&state::dir(&self.root, id), &linux)?
        } else {
            Vec::new()
        };
        let (parent_ch, child_ch) = Channel::pair()?;
        // No mount namespace at all: the container shares the caller's, as
        // under runc, not the private one this process re-executed in
        // (cloned_exe.rs). Entered for the clone only.
        let caller_mount = if linux
            .namespaces()
            .iter()
            .flatten()
            .any(|n| n.typ() == LinuxNamespaceType::Mount)
        {
            None
        } else {
            crate::cloned_exe::caller_mount_ns()
                .map(CallerMount::enter)
                .transpose()?
        };
        let time = match time_ns
            .map(|path| TimeNamespace::enter(path.as_deref(), &linux))
            .transpose()
        {
            Ok(t) => t,
            Err(e) => {
                if let Some(m) = caller_mount {
                    m.leave()?;
                }
                return Err(e);
            }
        };
        let pid = sys::clone_checked(flags.bits()).ctx(|| "clone");
        // Only this process goes back: the child stays in the new one.
        if matches!(pid, Err(_) | Ok(1..)) {
            if let Some(t) = time {
                t.leave()?;
            }
            if let Some(m) = caller_mount {
                m.leave()?;
            }
        }
        let pid = pid?;
        if pid == 0 {
            drop(parent_ch);
            init::run(InitArgs {
                id,
                bundle,
                cgroup: &cgroup,
                channel: &child_ch,
                new_userns,
                console,
                exec_fifo: &fifo,
                no_pivot: opts.no_pivot,
                preserve_fds: opts.preserve_fds,
                seccomp: filter.as_ref(),
                join_user,
                join_mount,
                devices: &devices,
            });
        }
        drop(child_ch);
        drop(console);
        undo.pid = Some(pid);

        if new_userns {
            write_id_maps(pid, &linux)?;
            // The child, root only in its own user namespace, cannot
            // write the host's cgroup files; otherwise it joins itself.
            cgroup.add(pid)?;
        }
        parent_ch.send(&Msg::Go)?;
        let mut master = None;
        loop {
            let (bytes, fd) = parent_ch.recv_raw()?;
            if bytes == b"console" {
                master = fd;
                continue;
            }
            if bytes == b"seccomp" {
                let (Some(fd), Some(l)) = (fd, filter.as_ref().and_then(|f| f.listener.as_ref()))
                else {
                    bail!("the container's init sent no seccomp descriptor");
                };
                seccomp::send_to_agent(l, &fd, pid, &hook_state(id, bundle, pid, "creating"))?;
                parent_ch.send(&Msg::Go)?;
                continue;
            }
            match parse(&bytes)? {
                Some(Msg::Hooks) => {
                    let state = hook_state(id, bundle, pid, "created");
                    let h = spec.hooks().as_ref();
                    hooks::run("prestart", h.and_then(|h| h.prestart().as_ref()), &state)?;
                    hooks::run(
                        "createRuntime",
                        h.and_then(|h| h.create_runtime().as_ref()),
                        &state,
                    )?;
                    parent_ch.send(&Msg::Go)?;
                }
                Some(Msg::Ready) => break,
                Some(Msg::Failed(e)) => return Err(Error::Other(e)),
                Some(Msg::Go) => bail!("unexpected message from the container's init"),
                None => bail!("the container's init exited during setup"),
            }
        }
        let (_, start_time) = state::proc_stat(pid)
            .ok_or_else(|| Error::Other("the container's init exited during setup".into()))?;
        let record = Record {
            id: id.to_string(),
            pid,
            start_time,
            bundle: bundle.path.clone(),
            rootfs: bundle.rootfs.clone(),
            created: state::now_rfc3339(),
            cgroup,
            spec: bundle.spec.clone(),
        };
        record.save(&self.root)?;
        if let Some(p) = &opts.pid_file {
            write_pid_file(p, pid)?;
        }
        Ok(Spawned {
            record,
            console: master,
        })
    }

    pub fn load(&self, id: &str) -> Result<Record> {
        Record::load(&self.root, id)
    }

    pub fn state(&self, id: &str) -> Result<StateOutput> {
        Ok(self.load(id)?.output(&self.root))
    }

    /// Every container under the root, in id order.
    pub fn list(&self) -> Result<Vec<StateOutput>> {
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Ok(out);
        };
        for e in entries.flatten() {
            if let Some(id) = e.file_name().to_str()
                && let Ok(r) = Record::load(&self.root, id)
            {
                out.push(r.output(&self.root));
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Lets a created container's init go on to execute its program.
    pub fn start(&self, id: &str) -> Result<()> {
        self.start_record(&self.load(id)?)
    }

    /// `start` with the record in hand (`run` has it from `spawn`).
    pub fn start_record(&self, record: &Record) -> Result<()> {
        match record.status(&self.root) {
            Status::Created => {}
            Status::Stopped => bail!("cannot start a container that has stopped"),
            _ => bail!("cannot start an already running container"),
        }
        let fifo = record.dir(&self.root).join(state::EXEC_FIFO);
        let f = nix::fcntl::open(
            &fifo,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| "opening the exec fifo")?;
        let mut pfd = [nix::poll::PollFd::new(
            f.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        loop {
            match nix::poll::poll(&mut pfd, 50u16) {
                Ok(n) if n > 0 => break,
                Ok(_) | Err(nix::errno::Errno::EINTR) => {
                    if !record.alive() {
                        bail!("cannot start a container that has stopped");
                    }
                }
                Err(e) => return Err(Error::io("waiting on the exec fifo", e)),
            }
        }
        let mut byte = [0u8; 1];
        let n = nix::unistd::read(&f, &mut byte).ctx(|| "reading the exec fifo")?;
        if n != 1 {
            bail!("cannot start a container that has stopped");
        }
        fs::remove_file(&fifo).ctx(|| "removing the exec fifo")?;
        let state = hook_state_record(record, "running");
        if let Err(e) = hooks::run(
            "poststart",
            record
                .spec
                .hooks()
                .as_ref()
                .and_then(|h| h.poststart().as_ref()),
            &state,
        ) {
            // As runc: a failed poststart hook fails the start, and the
            // container it started goes.
            let _ = kill_and_wait(record);
            return Err(e);
        }
        Ok(())
    }

    pub fn kill(&self, id: &str, signal: Signal, all: bool) -> Result<()> {
        let record = self.load(id)?;
        let status = record.status(&self.root);
        if all {
            let frozen = status == Status::Paused;
            for pid in record.cgroup.pids() {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
            }
            if frozen && signal == Signal::SIGKILL {
                let _ = record.cgroup.freeze(false);
            }
            return Ok(());
        }
        if status == Status::Stopped {
            bail!("container not running");
        }
        nix::sys::signal::kill(Pid::from_raw(record.pid), signal)
            .ctx(|| format!("signalling pid {}", record.pid))?;
        if status == Status::Paused && signal == Signal::SIGKILL {
            let _ = record.cgroup.freeze(false);
        }
        Ok(())
    }

    /// Removes a stopped or created container; `force` kills a running one first.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let record = match self.load(id) {
            Ok(r) => r,
            Err(Error::NotFound(_)) if force => {
                let _ = fs::remove_dir_all(state::dir(&self.root, id));
                return Ok(());
            }
            Err(Error::NotFound(_)) => {
                // A directory without a state file is what a crash mid-create leaves.
                let dir = state::dir(&self.root, id);
                if dir.exists() {
                    let _ = fs::remove_dir_all(&dir);
                }
                return Err(Error::NotFound(id.into()));
            }
            Err(e) => return Err(e),
        };
        self.delete_record(&record, force)
    }

    /// `delete` with the record in hand.
    pub fn delete_record(&self, record: &Record, force: bool) -> Result<()> {
        let id = record.id.as_str();
        let status = record.status(&self.root);
        let killed = match status {
            Status::Stopped => Ok(()),
            Status::Created => kill_and_wait(record),
            Status::Running | Status::Paused | Status::Creating if force => kill_and_wait(record),
            _ => bail!("cannot delete container {id} that is not stopped: {status}"),
        };
        // As crun: `delete --force` removes the container even when its
        // init does not go in time (stuck in a frozen cgroup it was moved
        // to, in uninterruptible sleep), with a warning.
        match killed {
            Ok(()) => {}
            Err(e) if force => eprintln!("berth-runtime: warning: {e}; removing its state anyway"),
            Err(e) => return Err(e),
        }
        // Whatever is left in the cgroup (with the host's pid namespace,
        // processes can outlive the init) goes too.
        match record.cgroup.destroy() {
            Ok(()) => {}
            Err(e) if force => eprintln!("berth-runtime: warning: {e}"),
            Err(e) => return Err(e),
        }
        let state = hook_state_record(record, "stopped");
        let poststop = hooks::run(
            "poststop",
            record
                .spec
                .hooks()
                .as_ref()
                .and_then(|h| h.poststop().as_ref()),
            &state,
        );
        fs::remove_dir_all(record.dir(&self.root)).ctx(|| format!("removing the state of {id}"))?;
        // As runc: a failed poststop hook fails the delete (the container
        // is gone all the same).
        poststop
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        let record = self.load(id)?;
        match record.status(&self.root) {
            Status::Running | Status::Created => record.cgroup.freeze(true),
            s => Err(Error::State {
                id: id.into(),
                status: s,
                action: "pause",
            }),
        }
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        let record = self.load(id)?;
        // A paused cgroup whose init died meanwhile must still thaw.
        if record.status(&self.root) == Status::Paused || record.cgroup.frozen() {
            return record.cgroup.freeze(false);
        }
        Err(Error::Other(format!("container {id} is not paused")))
    }

    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        Ok(self.load(id)?.cgroup.pids())
    }

    pub fn stats(&self, id: &str) -> Result<Stats> {
        Ok(self.load(id)?.cgroup.stats())
    }

    /// Changes resources; zero values mean "unchanged", as runc and docker use them.
    pub fn update(&self, id: &str, resources: &LinuxResources) -> Result<()> {
        let mut record = self.load(id)?;
        if record.status(&self.root) == Status::Stopped {
            return Err(Error::State {
                id: id.into(),
                status: Status::Stopped,
                action: "update",
            });
        }
        let resources = drop_zero_values(resources)?;
        record.cgroup.update(&resources)?;
        let linux = record.spec.linux_mut().get_or_insert_with(Default::default);
        let merged = merge_resources(linux.resources().clone().unwrap_or_default(), &resources)?;
        linux.set_resources(Some(merged));
        record.save(&self.root)
    }

    /// Runs `process` inside the container; returns the new process's pid
    /// (the caller waits for it unless detached).
    pub fn exec(
        &self,
        id: &str,
        process: &Process,
        opts: &ExecOptions,
    ) -> Result<(i32, Option<OwnedFd>)> {
        if !sys::single_threaded() {
            bail!("the runtime must exec from a single-threaded process");
        }
        let record = self.load(id)?;
        match record.status(&self.root) {
            Status::Stopped => bail!("cannot exec in a stopped container"),
            Status::Paused if !opts.ignore_paused => {
                bail!("cannot exec in a paused container (use --ignore-paused)")
            }
            _ => {}
        }
        if process.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(Error::Config(
                "process.args: must name the program to run".into(),
            ));
        }
        let linux = record.spec.linux().clone().unwrap_or_default();
        let filter = linux
            .seccomp()
            .as_ref()
            .map(|s| seccomp::compile(s, Some(&self.root.join(SECCOMP_CACHE))))
            .transpose()?;
        let terminal = process.terminal().unwrap_or(false);
        let console = match (&opts.console_socket, terminal) {
            (Some(p), true) => ConsoleTarget::Socket(
                UnixStream::connect(p)
                    .ctx(|| format!("connecting to the console socket {}", p.display()))?
                    .into(),
            ),
            (None, true) if !opts.detach => ConsoleTarget::Parent,
            (None, true) => {
                return Err(Error::Config(
                    "process.terminal is true but no --console-socket was given: use --console-socket"
                        .into(),
                ));
            }
            _ => ConsoleTarget::None,
        };
        // The init's namespaces, those that differ from ours.
        let mut joins: Vec<(LinuxNamespaceType, OwnedFd)> = Vec::new();
        for ns in linux.namespaces().iter().flatten() {
            let name = ns.typ().to_string();
            let theirs = format!("/proc/{}/ns/{name}", record.pid);
            let same = match (
                fs::metadata(&theirs),
                fs::metadata(format!("/proc/self/ns/{name}")),
            ) {
                (Ok(a), Ok(b)) => {
                    std::os::unix::fs::MetadataExt::ino(&a)
                        == std::os::unix::fs::MetadataExt::ino(&b)
                }
                _ => false,
            };
            if same {
                continue;
            }
            let fd = nix::fcntl::open(
                theirs.as_str(),
                OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .ctx(|| format!("opening {theirs}"))?;
            joins.push((ns.typ(), fd));
        }
        // The pid namespace applies to children: join it here, then fork.
        if let Some((_, fd)) = joins.iter().find(|(t, _)| *t == LinuxNamespaceType::Pid) {
            nix::sched::setns(fd, CloneFlags::CLONE_NEWPID).ctx(|| "joining the pid namespace")?;
        }
        let in_userns = joins.iter().any(|(t, _)| *t == LinuxNamespaceType::User);
        crate::attrs::check_process(process)?;
        let affinity = crate::attrs::ExecAffinity::of(process)?;
        let cgroup = exec_cgroup(&record.cgroup, &opts.cgroups)?;
        let (parent_ch, child_ch) = Channel::pair()?;
        let pid = sys::clone_checked(0).ctx(|| "fork")?;
        if pid == 0 {
            drop(parent_ch);
            let r = exec_child(
                &child_ch,
                &cgroup,
                &joins,
                process,
                &linux,
                &affinity,
                filter.as_ref(),
                in_userns,
                &console,
                opts.preserve_fds,
            );
            let e = r.unwrap_err();
            let _ = child_ch.send(&Msg::Failed(e.to_string()));
            sys::exit_child(255);
        }
        drop(child_ch);
        drop(console);
        let fail = |e: Error| {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
            e
        };
        // The child joins the cgroup itself (`join_self`), before any setns.
        parent_ch.send(&Msg::Go).map_err(fail)?;
        let mut master = None;
        loop {
            let (bytes, fd) = parent_ch.recv_raw().map_err(fail)?;
            if bytes == b"console" {
                master = fd;
                continue;
            }
            if bytes == b"seccomp" {
                let (Some(fd), Some(l)) = (fd, filter.as_ref().and_then(|f| f.listener.as_ref()))
                else {
                    return Err(fail(Error::Other(
                        "the exec'd process sent no seccomp descriptor".into(),
                    )));
                };
                seccomp::send_to_agent(l, &fd, pid, &hook_state_record(&record, "running"))
                    .map_err(fail)?;
                parent_ch.send(&Msg::Go).map_err(fail)?;
                continue;
            }
            match parse(&bytes).map_err(fail)? {
                // End of file: the close-on-exec channel closed in execve.
                None => break,
                Some(Msg::Failed(e)) => return Err(fail(Error::Other(e))),
                Some(m) => return Err(fail(Error::Other(format!("unexpected message {m:?}")))),
            }
        }
        if let Some(p) = &opts.pid_file {
            write_pid_file(p, pid)?;
        }
        Ok((pid, master))
    }
}

#[allow(clippy::too_many_arguments)]
fn exec_child(
    ch: &Channel,
    cgroup: &CgroupPaths,
    joins: &[(LinuxNamespaceType, OwnedFd)],
    process: &Process,
    linux: &oci_spec::runtime::Linux,
    affinity: &crate::attrs::ExecAffinity,
    filter: Option<&seccomp::Filter>,
    in_userns: bool,
    console: &ConsoleTarget,
    preserve_fds: u32,
) -> Result<std::convert::Infallible> {
    // Processes in the container must not reach us through /proc while we
    // still are the runtime binary (CVE-2019-5736).
    nix::sys::prctl::set_dumpable(false).ctx(|| "PR_SET_DUMPABLE")?;
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).ctx(|| "PR_SET_PDEATHSIG")?;
    match ch.recv()? {
        Some(Msg::Go) => {}
        _ => bail!("runtime went away"),
    }
    // As runc: execCPUAffinity.initial before the cgroup, final after.
    affinity.apply_initial()?;
    // Before any setns: still in the host's user namespace.
    cgroup.join_self()?;
    affinity.apply_final()?;
    // User first (it grants the rights to join the rest), mount last.
    let order = [
        LinuxNamespaceType::User,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Cgroup,
        LinuxNamespaceType::Time,
        LinuxNamespaceType::Mount,
    ];
    for t in order {
        if let Some((_, fd)) = joins.iter().find(|(typ, _)| *typ == t) {
            nix::sched::setns(fd, CloneFlags::from_bits_truncate(t as libc::c_int))
                .ctx(|| format!("joining the {} namespace", spec::ns_name(t)))?;
        }
    }
    let pty = if process.terminal().unwrap_or(false) {
        let pty = crate::console::open_pty(
            process
                .console_size()
                .map(|b| (b.height() as u16, b.width() as u16)),
        )?;
        match console {
            ConsoleTarget::Socket(s) => crate::console::send_master(s.as_raw_fd(), &pty)?,
            ConsoleTarget::Parent => ch.send_raw(b"console", Some(pty.master.as_raw_fd()))?,
            ConsoleTarget::None => {}
        }
        Some(pty)
    } else {
        None
    };
    let program = init::prepare_process(
        process,
        Some(linux),
        filter,
        ch,
        in_userns,
        pty.as_ref().map(|p| &p.slave),
    )?;
    drop(pty);
    init::finish_fds(preserve_fds)?;
    nix::sys::prctl::set_pdeathsig(None).ctx(|| "PR_SET_PDEATHSIG")?;
    Err(crate::process::exec(&program))
}

/// The cgroup an exec'd process joins: the container's, or sub-cgroups of
/// it named by `exec --cgroup` (runc 1.1's forms: "path" for every
/// controller, "ctrl[,ctrl]:path" for some). Each must exist.
fn exec_cgroup(base: &CgroupPaths, specs: &[String]) -> Result<CgroupPaths> {
    let mut out = base.clone();
    let bad = |s: &String, why: &str| Error::Config(format!("--cgroup {s:?}: {why}"));
    for s in specs {
        let (controllers, sub) = match s.split_once(':') {
            Some((c, p)) => (Some(c), p),
            None => (None, s.as_str()),
        };
        let sub = Path::new(sub);
        if sub.as_os_str().is_empty() {
            return Err(bad(s, "no path"));
        }
        let mut rel = PathBuf::new();
        for c in sub.components() {
            match c {
                std::path::Component::Normal(n) => rel.push(n),
                std::path::Component::RootDir | std::path::Component::CurDir => {}
                _ => return Err(bad(s, "the path must stay inside the container's cgroup")),
            }
        }
        let join = |dir: &Path| -> Result<PathBuf> {
            let d = dir.join(&rel);
            if !d.is_dir() {
                return Err(bad(s, &format!("{} does not exist", d.display())));
            }
            Ok(d)
        };
        match controllers {
            None => {
                for (key, dir) in out.v1.iter_mut() {
                    *dir = join(&base.v1[key])?;
                }
                if let Some(u) = &base.unified {
                    out.unified = Some(join(u)?);
                }
            }
            Some(list) => {
                for ctrl in list.split(',').filter(|c| !c.is_empty()) {
                    if base.v2_only {
                        let u = base.unified.as_ref().ok_or_else(|| bad(s, "no cgroup"))?;
                        out.unified = Some(join(u)?);
                        continue;
                    }
                    let key = base
                        .v1
                        .keys()
                        .find(|k| {
                            k.split(',')
                                .any(|c| c == ctrl || c.strip_prefix("name=") == Some(ctrl))
                        })
                        .cloned()
                        .ok_or_else(|| bad(s, &format!("no cgroup controller {ctrl:?}")))?;
                    out.v1.insert(key.clone(), join(&base.v1[&key])?);
                }
            }
        }
    }
    Ok(out)
}

/// This process's own mount namespace and working directory, to go back
/// to once the init, which starts in the caller's, is cloned.
struct CallerMount {
    own: OwnedFd,
    cwd: OwnedFd,
}

impl CallerMount {
    fn enter(caller: &OwnedFd) -> Result<CallerMount> {
        let open = |p: &str, flags: OFlag| {
            nix::fcntl::open(p, flags | OFlag::O_CLOEXEC, Mode::empty())
                .ctx(|| format!("opening {p}"))
        };
        let m = CallerMount {
            own: open("/proc/self/ns/mnt", OFlag::O_RDONLY)?,
            cwd: open(".", OFlag::O_PATH | OFlag::O_DIRECTORY)?,
        };
        nix::sched::setns(caller, CloneFlags::CLONE_NEWNS)
            .ctx(|| "joining the caller's mount namespace")?;
        Ok(m)
    }

    fn leave(self) -> Result<()> {
        nix::sched::setns(&self.own, CloneFlags::CLONE_NEWNS)
            .ctx(|| "going back to the runtime's mount namespace")?;
        nix::unistd::fchdir(&self.cwd).ctx(|| "going back to the working directory")
    }
}

/// This process's own time namespace, to go back to once the init, which
/// starts in a new or joined one, is cloned.
struct TimeNamespace {
    own: OwnedFd,
}

impl TimeNamespace {
    /// A new time namespace for this process's next children, with
    /// linux.timeOffsets written before any process is in it; or the one
    /// at `path`.
    fn enter(path: Option<&Path>, linux: &oci_spec::runtime::Linux) -> Result<TimeNamespace> {
        let own = nix::fcntl::open(
            "/proc/self/ns/time",
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| "opening /proc/self/ns/time")?;
        let t = TimeNamespace { own };
        match path {
            Some(path) => {
                let fd = nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                    .ctx(|| format!("opening time namespace {}", path.display()))?;
                sys::setns_time(&fd).map_err(|e| {
                    Error::io(format!("joining time namespace {}", path.display()), e)
                })?;
            }
            None => {
                sys::unshare_time_for_children()
                    .map_err(|e| Error::io("creating the time namespace", e))?;
                let mut text = String::new();
                let mut offsets: Vec<_> = linux.time_offsets().iter().flatten().collect();
                offsets.sort_by(|a, b| a.0.cmp(b.0));
                for (clock, o) in offsets {
                    text.push_str(&format!(
                        "{clock} {} {}\n",
                        o.secs().unwrap_or(0),
                        o.nanosecs().unwrap_or(0)
                    ));
                }
                if !text.is_empty()
                    && let Err(e) = fs::write("/proc/self/timens_offsets", &text)
                {
                    let _ = t.leave();
                    return Err(Error::io(
                        format!(
                            "linux.timeOffsets: writing {:?} to /proc/self/timens_offsets",
                            text.trim_end()
                        ),
                        e,
                    ));
                }
            }
        }
        Ok(t)
    }

    fn leave(self) -> Result<()> {
        sys::setns_time(&self.own)
            .map_err(|e| Error::io("going back to the runtime's time namespace", e))
    }
}

fn parse(bytes: &[u8]) -> Result<Option<Msg>> {
    Ok(Some(match bytes {
        b"" => return Ok(None),
        b"go" => Msg::Go,
        b"hooks" => Msg::Hooks,
        b"ready" => Msg::Ready,
        other => match other.strip_prefix(b"err:") {
            Some(e) => Msg::Failed(String::from_utf8_lossy(e).into_owned()),
            None => bail!("unexpected message {:?}", String::from_utf8_lossy(other)),
        },
    }))
}

/// The cgroup path of the spec, relative; "slice:prefix:name" (systemd's
/// form) is refused with a clear message since no systemd runs here.
fn cgroup_rel(p: &Path) -> Result<PathBuf> {
    let s = p.to_string_lossy();
    if !s.starts_with('/') && s.contains(':') {
        return Err(Error::Config(format!(
            "linux.cgroupsPath {s:?}: systemd cgroup paths need --systemd-cgroup, which berth does not support (no systemd)"
        )));
    }
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::ParentDir => {
                return Err(Error::Config(format!(
                    "linux.cgroupsPath {s:?}: must not contain .."
                )));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn write_id_maps(pid: i32, linux: &oci_spec::runtime::Linux) -> Result<()> {
    let lines = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> String {
        maps.iter()
            .flatten()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect()
    };
    fs::write(format!("/proc/{pid}/uid_map"), lines(linux.uid_mappings()))
        .ctx(|| "writing uid_map")?;
    fs::write(format!("/proc/{pid}/gid_map"), lines(linux.gid_mappings()))
        .ctx(|| "writing gid_map")?;
    Ok(())
}

/// Writes the pid atomically, without a newline, as go-runc parses it.
fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::Other(format!("pid file {}: not a file name", path.display())))?;
    let tmp = dir.join(format!(".{}", name.to_string_lossy()));
    fs::write(&tmp, pid.to_string()).ctx(|| format!("writing pid file {}", tmp.display()))?;
    fs::rename(&tmp, path).ctx(|| format!("writing pid file {}", path.display()))
}

/// Kills the init (and the cgroup), waiting until the init has exited.
fn kill_and_wait(record: &Record) -> Result<()> {
    let pidfd = sys::pidfd_open(record.pid).ok();
    let frozen = record.cgroup.frozen();
    for pid in record.cgroup.pids() {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = nix::sys::signal::kill(Pid::from_raw(record.pid), Signal::SIGKILL);
    if frozen {
        let _ = record.cgroup.freeze(false);
    }
    // A frozen freezer cgroup outside the container's (the init moved
    // there) holds the SIGKILL too: thaw what the init is in.
    if pidfd.as_ref().is_some_and(|fd| !sys::wait_pidfd(fd, 50)) {
        crate::cgroups::thaw_cgroups_of(record.pid);
    }
    match pidfd {
        Some(fd) => {
            if !sys::wait_pidfd(&fd, 10_000) {
                bail!(
                    "container init still running after SIGKILL (pid {})",
                    record.pid
                );
            }
        }
        None => {
            for _ in 0..1000 {
                if !record.alive() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
    Ok(())
}

/// The state JSON hooks read on stdin.
pub fn hook_state(id: &str, bundle: &Bundle, pid: i32, status: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "ociVersion": bundle.spec.version(),
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle.path,
        "annotations": bundle.spec.annotations().clone().unwrap_or_default(),
    }))
    .expect("state serializes")
}

fn hook_state_record(r: &Record, status: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "ociVersion": r.spec.version(),
        "id": r.id,
        "status": status,
        "pid": r.pid,
        "bundle": r.bundle,
        "annotations": r.spec.annotations().clone().unwrap_or_default(),
    }))
    .expect("state serializes")
}

/// Removes what a failed create made: the process, the cgroup, the state dir.
struct Undo {
    dir: Option<PathBuf>,
    cgroup: Option<CgroupPaths>,
    pid: Option<i32>,
}

impl Undo {
    fn disarm(&mut self) {
        self.dir = None;
        self.cgroup = None;
        self.pid = None;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
        }
        if let Some(c) = &self.cgroup {
            let _ = c.destroy();
        }
        if let Some(d) = &self.dir {
            let _ = fs::remove_dir_all(d);
        }
    }
}

/// Zero means "leave as is" in update requests (docker sends zeros).
fn drop_zero_values(r: &LinuxResources) -> Result<LinuxResources> {
    let mut v = serde_json::to_value(r).map_err(|e| Error::Other(e.to_string()))?;
    fn prune(v: &mut serde_json::Value) {
        if let serde_json::Value::Object(m) = v {
            m.retain(|k, x| {
                // swappiness 0 is a real setting; runc writes it.
                k == "swappiness" && !x.is_null()
                    || !(x.is_null() || x.as_i64() == Some(0) || x.as_str() == Some(""))
            });
            for x in m.values_mut() {
                prune(x);
            }
            m.retain(|_, x| !x.as_object().is_some_and(|o| o.is_empty()));
        }
    }
    prune(&mut v);
    serde_json::from_value(v).map_err(|e| Error::Config(format!("resources: {e}")))
}

/// `base` with every field `update` sets replaced.
fn merge_resources(base: LinuxResources, update: &LinuxResources) -> Result<LinuxResources> {
    let mut b = serde_json::to_value(base).map_err(|e| Error::Other(e.to_string()))?;
    let u = serde_json::to_value(update).map_err(|e| Error::Other(e.to_string()))?;
    fn merge(a: &mut serde_json::Value, b: &serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) if !b.is_null() => *a = b.clone(),
            _ => {}
        }
    }
    merge(&mut b, &u);
    serde_json::from_value(b).map_err(|e| Error::Config(format!("resources: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_paths() {
        assert_eq!(
            cgroup_rel(Path::new("/docker/abc")).unwrap(),
            PathBuf::from("/docker/abc")
        );
        assert_eq!(
            cgroup_rel(Path::new("berth/x")).unwrap(),
            PathBuf::from("/berth/x")
        );
        assert!(cgroup_rel(Path::new("system.slice:docker:abc")).is_err());
        assert!(cgroup_rel(Path::new("/a/../../etc")).is_err());
    }

    #[test]
    fn zero_means_unchanged() {
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":67108864,"reservation":0,"swap":134217728,"kernel":0},"cpu":{"shares":0,"quota":0,"period":0},"blockIO":{"weight":0}}"#,
        )
        .unwrap();
        let r = drop_zero_values(&r).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["memory"]["limit"], 67108864);
        assert!(v["memory"].get("reservation").is_none());
        assert!(v.get("cpu").is_none());
        let r: LinuxResources = serde_json::from_str(r#"{"memory":{"swappiness":0}}"#).unwrap();
        let v = serde_json::to_value(drop_zero_values(&r).unwrap()).unwrap();
        assert_eq!(v["memory"]["swappiness"], 0, "swappiness 0 is a setting");
    }
}
