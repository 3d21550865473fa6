#![forbid(unsafe_code)]
//! `berth shim <bundle>`: the one small process per container. It creates
//! the container through the runtime library in-process, holds its stdio or
//! terminal, writes its json-file log, serves attach/start/resize/kill/wait
//! on a unix socket, reaps its exit, and outlives the daemon.
//!
//! It is single-threaded by necessity (the runtime clones without a helper)
//! and by design (a poll loop over a handful of descriptors needs no more,
//! and keeps the per-container memory small).
//!
//! Lifecycle: the process the daemon starts forks at once; the child (the
//! shim proper) starts a new session, makes the container, reports
//! [`protocol::Ready`] through a pipe, and the first process prints that
//! report and exits, so the daemon never has a long-lived child to reap.

pub mod container_fs;
pub mod log;
pub mod protocol;
pub mod rootfs;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_runtime::{ConsoleMode, CreateOptions, Runtime, state::Record};
use berth_sys as sys;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use protocol::{Exit, Ready, Reply, Request, ShimConfig, frame};

/// An attached client's output is dropped, and it disconnected, past this.
const MAX_PENDING: usize = 4 << 20;
/// How long output may keep coming after the container's init has exited.
const DRAIN: Duration = Duration::from_secs(2);
/// Quiet for this long, the shim gives back the memory its work used; the
/// first time (after set-up) sooner, later less eagerly, so that a
/// container that writes now and then does not make its shim release and
/// fault the same pages back at every line.
const IDLE_FIRST: Duration = Duration::from_secs(1);
const IDLE_AGAIN: Duration = Duration::from_secs(30);

/// Runs the shim for the bundle; returns the first process's exit code.
pub fn main(bundle: &Path) -> i32 {
    let config: ShimConfig = match std::fs::read(bundle.join("shim.json"))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            report(
                &mut std::io::stdout(),
                &Ready {
                    pid: 0,
                    shim_pid: 0,
                    error: Some(format!("reading {}/shim.json: {e}", bundle.display())),
                },
            );
            return 1;
        }
    };
    let (read_end, write_end) = match nix::unistd::pipe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("berth shim: pipe: {e}");
            return 1;
        }
    };
    match sys::fork() {
        Err(e) => {
            eprintln!("berth shim: fork: {e}");
            1
        }
        Ok(0) => {
            drop(read_end);
            let code = shim(bundle, &config, File::from(write_end));
            std::process::exit(code);
        }
        Ok(_) => {
            drop(write_end);
            // One line, not to EOF: the container's init holds a copy of
            // the pipe until it execs, which waits for `start`.
            let mut report = String::new();
            let _ = std::io::BufRead::read_line(
                &mut std::io::BufReader::new(File::from(read_end)),
                &mut report,
            );
            let _ = std::io::stdout().write_all(report.as_bytes());
            0
        }
    }
}

fn report(w: &mut impl Write, ready: &Ready) {
    let mut line = serde_json::to_vec(ready).expect("json serializes");
    line.push(b'\n');
    let _ = w.write_all(&line);
}

/// The shim proper: set up, report, serve until the container has exited.
fn shim(bundle: &Path, config: &ShimConfig, mut report_pipe: File) -> i32 {
    detach_stdio(bundle);
    let mut shim = match Shim::setup(bundle, config) {
        Ok(s) => s,
        Err(e) => {
            report(
                &mut report_pipe,
                &Ready {
                    pid: 0,
                    shim_pid: 0,
                    error: Some(e),
                },
            );
            return 1;
        }
    };
    report(
        &mut report_pipe,
        &Ready {
            pid: shim.pid.as_raw(),
            shim_pid: std::process::id() as i32,
            error: None,
        },
    );
    drop(report_pipe);
    shim.serve();
    0
}

/// The daemon reads the first process's stdout to its end; the shim must
/// not hold it. Its own complaints go to `<bundle>/shim.log`.
fn detach_stdio(bundle: &Path) {
    let _ = nix::unistd::setsid();
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        let _ = sys::dup_onto(null.as_raw_fd(), 0);
        let _ = sys::dup_onto(null.as_raw_fd(), 1);
    }
    if let Ok(log) = File::options()
        .create(true)
        .append(true)
        .open(bundle.join("shim.log"))
    {
        let _ = sys::dup_onto(log.as_raw_fd(), 2);
    }
}

enum Role {
    /// Has not sent its request line yet.
    Pending,
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    Wait,
}

struct Client {
    stream: UnixStream,
    role: Role,
    input: Vec<u8>,
    output: VecDeque<u8>,
    /// Close once the output is flushed.
    closing: bool,
    /// The client has shut its sending side: nothing more to read.
    eof: bool,
}

struct Shim {
    config: ShimConfig,
    bundle: PathBuf,
    runtime: Runtime,
    record: Record,
    pid: Pid,
    /// stdout, or the terminal's master side.
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    stdin: Option<File>,
    listener: UnixListener,
    signals: SignalFd,
    clients: Vec<Client>,
    log: log::JsonLog,
    exit: Option<Exit>,
    stdin_claimed: bool,
}

impl Shim {
    fn setup(bundle: &Path, config: &ShimConfig) -> Result<Shim, String> {
        if let Some(opts) = &config.overlay {
            crate::rootfs::mount_in_own_namespace(&bundle.join("rootfs"), opts)
                .map_err(|e| e.to_string())?;
        }

        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        mask.add(Signal::SIGPIPE);
        mask.thread_block()
            .map_err(|e| format!("sigprocmask: {e}"))?;
        let mut chld = SigSet::empty();
        chld.add(Signal::SIGCHLD);
        let signals = SignalFd::with_flags(&chld, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|e| format!("signalfd: {e}"))?;

        let log = log::JsonLog::open(&config.log, config.log_max_size, config.log_max_files)
            .map_err(|e| format!("opening the log {}: {e}", config.log.display()))?;
        let runtime = Runtime::new(&config.runtime_root);
        let opts = CreateOptions::default();
        let (record, out, err, stdin) = if config.tty {
            let spawned = runtime
                .spawn(&config.id, bundle, &opts, ConsoleMode::Keep)
                .map_err(|e| e.to_string())?;
            let master = spawned.console.ok_or("the runtime kept no terminal")?;
            set_nonblocking(&master);
            let input = File::from(master.try_clone().map_err(|e| e.to_string())?);
            (spawned.record, Some(master), None, Some(input))
        } else {
            let (out_r, out_w) = nix::unistd::pipe().map_err(|e| e.to_string())?;
            let (err_r, err_w) = nix::unistd::pipe().map_err(|e| e.to_string())?;
            let (in_r, in_w) = if config.stdin {
                let (r, w) = nix::unistd::pipe().map_err(|e| e.to_string())?;
                (Some(r), Some(w))
            } else {
                (None, None)
            };
            // The container inherits descriptors 0-2 from us at create.
            let null = File::options()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map_err(|e| e.to_string())?;
            let saved_err =
                nix::unistd::dup(std::io::stderr().as_fd()).map_err(|e| e.to_string())?;
            let stdin_src = in_r.as_ref().map_or(null.as_raw_fd(), |r| r.as_raw_fd());
            let _ = sys::dup_onto(stdin_src, 0);
            let _ = sys::dup_onto(out_w.as_raw_fd(), 1);
            let _ = sys::dup_onto(err_w.as_raw_fd(), 2);
            let spawned = runtime.spawn(&config.id, bundle, &opts, ConsoleMode::Socket);
            let _ = sys::dup_onto(null.as_raw_fd(), 0);
            let _ = sys::dup_onto(null.as_raw_fd(), 1);
            let _ = sys::dup_onto(saved_err.as_raw_fd(), 2);
            let spawned = spawned.map_err(|e| e.to_string())?;
            set_nonblocking(&out_r);
            set_nonblocking(&err_r);
            if let Some(w) = &in_w {
                set_nonblocking(w);
            }
            (
                spawned.record,
                Some(out_r),
                Some(err_r),
                in_w.map(File::from),
            )
        };
        let pid = Pid::from_raw(record.pid);
        let _ = std::fs::remove_file(&config.socket);
        if let Some(dir) = config.socket.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let listener = UnixListener::bind(&config.socket)
            .map_err(|e| format!("listening on {}: {e}", config.socket.display()));
        let listener = match listener {
            Ok(l) => l,
            Err(e) => {
                let _ = runtime.delete_record(&record, true);
                return Err(e);
            }
        };
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok(Shim {
            config: config.clone(),
            bundle: bundle.to_path_buf(),
            runtime,
            record,
            pid,
            out,
            err,
            stdin,
            listener,
            signals,
            clients: Vec::new(),
            log,
            exit: None,
            stdin_claimed: false,
        })
    }

    fn serve(&mut self) {
        let mut drain_until: Option<Instant> = None;
        // Set-up (spec parsing, seccomp, the runtime's mounts) ran much more
        // code and heap than the loop will: released at the first quiet.
        let mut released = false;
        let mut idle = IDLE_FIRST;
        loop {
            if let Some(deadline) = drain_until {
                let drained = self.out.is_none() && self.err.is_none();
                if drained || Instant::now() >= deadline {
                    break;
                }
            }
            let ms = |d: Duration| PollTimeout::try_from(d).unwrap_or(PollTimeout::MAX);
            let timeout = match drain_until {
                Some(d) => ms(d.saturating_duration_since(Instant::now())),
                None if !released => ms(idle),
                None => PollTimeout::NONE,
            };
            let Some(signalled) = self.poll_once(timeout) else {
                if drain_until.is_none() && !released {
                    release_memory();
                    released = true;
                    idle = IDLE_AGAIN;
                }
                continue;
            };
            released = false;
            if self.exit.is_none() && signalled {
                self.reap();
                if self.exit.is_some() {
                    drain_until = Some(Instant::now() + DRAIN);
                }
            }
        }
        self.finish();
    }

    /// One poll over every descriptor, handling what is ready: whether a
    /// SIGCHLD came, None when the time ran out with nothing to do.
    fn poll_once(&mut self, timeout: PollTimeout) -> Option<bool> {
        let mut fds: Vec<PollFd> = Vec::new();
        let sig = self.signals.as_fd();
        fds.push(PollFd::new(sig, PollFlags::POLLIN));
        fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
        let out_idx = self.out.as_ref().map(|fd| {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let err_idx = self.err.as_ref().map(|fd| {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let first_client = fds.len();
        for c in &self.clients {
            let mut flags = if c.eof {
                PollFlags::empty()
            } else {
                PollFlags::POLLIN
            };
            if !c.output.is_empty() {
                flags |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(c.stream.as_fd(), flags));
        }
        match poll(&mut fds, timeout) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => {
                if e != nix::errno::Errno::EINTR {
                    eprintln!("berth shim: poll: {e}");
                }
                return Some(false);
            }
        }
        let revents: Vec<PollFlags> = fds
            .iter()
            .map(|f| f.revents().unwrap_or(PollFlags::empty()))
            .collect();
        drop(fds);
        let has = |i: usize| !revents[i].is_empty();
        let signal = has(0);
        if signal {
            while let Ok(Some(_)) = self.signals.read_signal() {}
        }
        if has(1) {
            self.accept();
        }
        if out_idx.is_some_and(has) {
            self.read_output(protocol::STDOUT);
        }
        if err_idx.is_some_and(has) {
            self.read_output(protocol::STDERR);
        }
        // Clients accepted in this round were not polled; only the old ones.
        let polled = revents.len() - first_client;
        for i in (0..polled.min(self.clients.len())).rev() {
            let ev = revents[first_client + i];
            if ev.is_empty() {
                continue;
            }
            if !self.client_event(i, ev) {
                self.drop_client(i);
            }
        }
        Some(signal)
    }

    fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(true);
            self.clients.push(Client {
                stream,
                role: Role::Pending,
                input: Vec::new(),
                output: VecDeque::new(),
                closing: false,
                eof: false,
            });
        }
    }

    fn read_output(&mut self, stream: u8) {
        let mut buf = [0u8; 32 * 1024];
        loop {
            let fd = match stream {
                protocol::STDOUT => self.out.as_ref(),
                _ => self.err.as_ref(),
            };
            let Some(fd) = fd else { return };
            match nix::unistd::read(fd, &mut buf) {
                Ok(n) if n > 0 => self.output(stream, &buf[..n]),
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(nix::errno::Errno::EINTR) => continue,
                // EOF, or EIO on a terminal whose other side has all closed.
                res => {
                    if let Err(e) = res
                        && e != nix::errno::Errno::EIO
                    {
                        eprintln!("berth shim: reading the container's output: {e}");
                    }
                    match stream {
                        protocol::STDOUT => self.out = None,
                        _ => self.err = None,
                    }
                    return;
                }
            }
        }
    }

    fn output(&mut self, stream: u8, data: &[u8]) {
        self.log.write(stream, data);
        let tty = self.config.tty;
        let mut framed = Vec::new();
        if !tty {
            frame(stream, data, &mut framed);
        }
        for c in &mut self.clients {
            let wants = match c.role {
                Role::Attach { stdout, stderr, .. } => {
                    (stream == protocol::STDOUT && stdout) || (stream == protocol::STDERR && stderr)
                }
                _ => false,
            };
            if !wants || c.closing {
                continue;
            }
            let bytes = if tty { data } else { &framed[..] };
            if c.output.len() + bytes.len() > MAX_PENDING {
                // A client that does not read loses its attachment, never
                // the container its output.
                c.output.clear();
                c.closing = true;
                continue;
            }
            c.output.extend(bytes);
        }
    }

    /// Handles readiness of client `i`; false when it is to be dropped.
    fn client_event(&mut self, i: usize, ev: PollFlags) -> bool {
        if ev.contains(PollFlags::POLLOUT) && !flush(&mut self.clients[i]) {
            return false;
        }
        if self.clients[i].closing && self.clients[i].output.is_empty() {
            return false;
        }
        if ev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
            // Both directions closed: nothing can reach the client any more.
            if let Role::Attach { stdin: true, .. } = self.clients[i].role
                && self.config.stdin_once
            {
                self.stdin = None;
            }
            return false;
        }
        if !ev.contains(PollFlags::POLLIN) {
            return true;
        }
        let mut buf = [0u8; 16 * 1024];
        let n = match self.clients[i].stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(_) => 0,
        };
        if n == 0 {
            self.clients[i].eof = true;
            if let Role::Attach {
                stdin: true,
                stdout,
                stderr,
            } = self.clients[i].role
            {
                // Its input is over: the next attachment may feed stdin.
                self.clients[i].role = Role::Attach {
                    stdin: false,
                    stdout,
                    stderr,
                };
                self.stdin_claimed = false;
                if self.config.stdin_once {
                    self.stdin = None;
                }
            }
            // A waiter or an attached reader whose client half-closed still
            // wants what comes; only an attach with nothing to read ends.
            return match self.clients[i].role {
                Role::Attach { stdout, stderr, .. } => stdout || stderr,
                Role::Wait => true,
                Role::Pending => false,
            };
        }
        match self.clients[i].role {
            Role::Pending => {
                self.clients[i].input.extend_from_slice(&buf[..n]);
                let Some(nl) = self.clients[i].input.iter().position(|&b| b == b'\n') else {
                    return self.clients[i].input.len() < 64 * 1024;
                };
                let line: Vec<u8> = self.clients[i].input.drain(..=nl).collect();
                let rest = std::mem::take(&mut self.clients[i].input);
                self.request(i, &line, &rest)
            }
            Role::Attach { stdin: true, .. } => {
                self.write_stdin(&buf[..n]);
                true
            }
            _ => true,
        }
    }

    fn request(&mut self, i: usize, line: &[u8], rest: &[u8]) -> bool {
        let req: Request = match serde_json::from_slice(line) {
            Ok(r) => r,
            Err(e) => {
                self.reply(i, Some(format!("bad request: {e}")));
                return true;
            }
        };
        match req {
            Request::Start => {
                let res = self.runtime.start_record(&self.record);
                if res.is_ok() {
                    self.record.keep_for_delete();
                }
                self.reply(i, res.err().map(|e| e.to_string()));
            }
            Request::Kill { signal } => {
                let res = match (self.exit.is_some(), Signal::try_from(signal)) {
                    (true, _) => Ok(()),
                    (false, Ok(sig)) => {
                        nix::sys::signal::kill(self.pid, sig).map_err(|e| e.to_string())
                    }
                    (false, Err(e)) => Err(format!("signal {signal}: {e}")),
                };
                self.reply(i, res.err());
            }
            Request::Resize { height, width } => {
                let res = match (&self.out, self.config.tty) {
                    (Some(master), true) => sys::set_winsize(master.as_raw_fd(), height, width)
                        .map_err(|e| e.to_string()),
                    _ => Err("the container has no terminal".to_string()),
                };
                self.reply(i, res.err());
            }
            Request::Pause => {
                let res = self.runtime.pause(&self.config.id);
                self.reply(i, res.err().map(|e| e.to_string()));
            }
            Request::Resume => {
                let res = self.runtime.resume(&self.config.id);
                self.reply(i, res.err().map(|e| e.to_string()));
            }
            Request::Update { resources } => {
                let res = serde_json::from_value(resources)
                    .map_err(|e| format!("resources: {e}"))
                    .and_then(|r| {
                        self.runtime
                            .update(&self.config.id, &r)
                            .map_err(|e| e.to_string())
                    });
                self.reply(i, res.err());
            }
            Request::Stats => {
                let res = self
                    .runtime
                    .stats(&self.config.id)
                    .map(|s| serde_json::to_value(s).expect("stats serialize"));
                self.answer(i, res.map_err(|e| e.to_string()));
            }
            Request::Pids => {
                let res = self
                    .runtime
                    .pids(&self.config.id)
                    .map(|p| serde_json::json!(p));
                self.answer(i, res.map_err(|e| e.to_string()));
            }
            Request::Wait => {
                self.clients[i].role = Role::Wait;
                if let Some(exit) = self.exit.clone() {
                    send_exit(&mut self.clients[i], &exit);
                }
            }
            Request::Attach {
                stdin,
                stdout,
                stderr,
            } => {
                // Only one client feeds stdin, as one terminal would.
                let stdin = stdin && self.stdin.is_some() && !self.stdin_claimed;
                self.stdin_claimed |= stdin;
                self.clients[i].role = Role::Attach {
                    stdin,
                    stdout,
                    stderr,
                };
                self.clients[i].output.extend(b"{}\n");
                if stdin && !rest.is_empty() {
                    self.write_stdin(rest);
                }
            }
        }
        true
    }

    fn reply(&mut self, i: usize, error: Option<String>) {
        self.send_reply(i, Reply { error, value: None });
    }

    fn answer(&mut self, i: usize, res: Result<serde_json::Value, String>) {
        self.send_reply(
            i,
            match res {
                Ok(v) => Reply {
                    error: None,
                    value: Some(v),
                },
                Err(e) => Reply {
                    error: Some(e),
                    value: None,
                },
            },
        );
    }

    fn send_reply(&mut self, i: usize, reply: Reply) {
        let mut line = serde_json::to_vec(&reply).expect("json serializes");
        line.push(b'\n');
        let c = &mut self.clients[i];
        c.output.extend(line);
        c.closing = true;
    }

    fn write_stdin(&mut self, data: &[u8]) {
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        // The container's stdin is non-blocking: what it does not take now
        // is lost rather than stalling every other stream of the shim.
        let mut data = data;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !data.is_empty() && Instant::now() < deadline {
            match stdin.write(data) {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => {
                    self.stdin = None;
                    return;
                }
            }
        }
    }

    fn drop_client(&mut self, i: usize) {
        let c = self.clients.swap_remove(i);
        if let Role::Attach { stdin: true, .. } = c.role {
            self.stdin_claimed = false;
            if self.config.stdin_once {
                self.stdin = None;
            }
        }
    }

    fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == self.pid => self.exited(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == self.pid => {
                    self.exited(128 + sig as i32)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    }

    fn exited(&mut self, code: i32) {
        self.exit = Some(Exit {
            exit_code: code,
            finished_at: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
            oom_killed: false,
        });
        // Nobody can write to the container any more.
        self.stdin = None;
    }

    /// After the exit: record it, free the runtime's state and cgroup, tell
    /// the waiters, and let attached clients read their last bytes.
    fn finish(&mut self) {
        self.log.flush();
        let mut exit = self.exit.clone().expect("finish runs after the exit");
        exit.oom_killed = self.oom_killed();
        if let Err(e) = self.runtime.delete_record(&self.record, true) {
            eprintln!("berth shim: deleting {}: {e}", self.config.id);
        }
        let tmp = self.bundle.join("exit.json.tmp");
        let bytes = serde_json::to_vec(&exit).expect("json serializes");
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, self.bundle.join("exit.json"));
        }
        let _ = std::fs::remove_file(&self.config.socket);
        for c in &mut self.clients {
            match c.role {
                Role::Wait => send_exit(c, &exit),
                _ => c.closing = true,
            }
        }
        // Give every client up to a second to take its last bytes.
        let deadline = Instant::now() + Duration::from_secs(1);
        for c in &mut self.clients {
            let _ = c.stream.set_nonblocking(false);
            let _ = c.stream.set_write_timeout(Some(
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(10)),
            ));
            let (a, b) = c.output.as_slices();
            let _ = c.stream.write_all(a).and_then(|_| c.stream.write_all(b));
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Whether the kernel's OOM killer ended a process of the container.
    fn oom_killed(&self) -> bool {
        self.record.cgroup.oom_kills() > 0
    }
}

/// Gives back what the shim's work made resident and its loop does not
/// need: freed heap, stack below the loop, and code pages (faulted back in
/// from the page cache when next run). An idle shim so costs its
/// descriptors and a few hundred KiB.
fn release_memory() {
    sys::release_free_memory();
    sys::release_unused_stack();
    sys::release_clean_file_pages();
}

fn send_exit(c: &mut Client, exit: &Exit) {
    let mut line = serde_json::to_vec(exit).expect("json serializes");
    line.push(b'\n');
    c.output.extend(line);
    c.closing = true;
}

/// Writes what the client can take now; false when it is gone.
fn flush(c: &mut Client) -> bool {
    while !c.output.is_empty() {
        let (a, _) = c.output.as_slices();
        match c.stream.write(a) {
            Ok(0) => return false,
            Ok(n) => {
                c.output.drain(..n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
    true
}

fn set_nonblocking(fd: &impl AsFd) {
    let fd = fd.as_fd();
    if let Ok(flags) = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL) {
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags));
    }
}
