//! The engine under test for the `berth` CLI's container verbs: anything that
//! serves the Docker Engine API on a unix socket. Each constructor starts a
//! private engine with an imported busybox image and returns None (after
//! testkit's skip message) when the machine cannot run it; dropping the
//! `Engine` tears it down.
//!
//! A private dockerd ([`Engine::private_dockerd`]) and a private `berth
//! daemon` ([`Engine::private_berth_daemon`]).
#![allow(dead_code)]

use std::any::Any;
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use berth_testkit::{require_root, require_tool, unique_id};

use super::dockerd::{self, Dockerd};

/// Default time limit for one berth CLI call.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Engine {
    /// What it is, for messages: "dockerd", "berth".
    pub kind: &'static str,
    /// `unix:///path/to.sock`, given to the CLI as `-H`.
    pub host: String,
    /// A busybox image the engine has.
    pub image: String,
    /// A scratch directory for the test's own files (removed with the engine).
    pub dir: PathBuf,
    /// `script` (util-linux), for commands that need a terminal.
    pub script: Option<PathBuf>,
    /// docker's CLI, to compare outputs with (it drives any engine).
    pub docker: Option<PathBuf>,
    seq: AtomicUsize,
    /// Keeps the engine running; its drop tears it down.
    _engine: Box<dyn Any + Send + Sync>,
}

impl Engine {
    /// A private dockerd (Debian's 20.10 and its containerd, runc) with
    /// busybox imported as `berthbb:test`.
    pub fn private_dockerd() -> Option<Engine> {
        if !require_root() {
            return None;
        }
        let dockerd = require_tool("dockerd")?;
        let docker = require_tool("docker")?;
        for tool in ["containerd", "containerd-shim-runc-v2", "runc", "tar"] {
            require_tool(tool)?;
        }
        let d = Dockerd::start(&dockerd, docker, None);
        let image = "berthbb:test".to_string();
        d.import_busybox(&image);
        let dir = d.dir.join("scratch");
        fs::create_dir(&dir).unwrap();
        Some(Engine {
            kind: "dockerd",
            host: d.host.clone(),
            image,
            dir,
            script: require_tool("script"),
            docker: Some(d.docker.clone()),
            seq: AtomicUsize::new(0),
            _engine: Box::new(d),
        })
    }

    /// A private `berth daemon` (the binary `BERTH_TEST_DAEMON_BIN` names, else
    /// this build's `berth`): its own data root, exec root and socket in a
    /// fresh directory under /tmp, busybox imported as `berthbb:test`.
    pub fn private_berth_daemon() -> Option<Engine> {
        Engine::berth_daemon_in(None)
    }

    /// A private berth daemon inside a scratch network namespace (see
    /// common/netns.rs), with its default bridge there.
    pub fn berth_daemon_in_netns(net: &super::netns::ScratchNet) -> Option<Engine> {
        require_tool("nsenter")?;
        Engine::berth_daemon_in(Some(net.path()))
    }

    /// A private berth daemon started with more flags.
    pub fn private_berth_daemon_with(flags: &[&str]) -> Option<Engine> {
        let mut e = Engine::private_berth_daemon()?;
        let d = e.berth_daemon();
        d.extra = flags.iter().map(|f| f.to_string()).collect();
        d.restart();
        Some(e)
    }

    /// The berth daemon behind this engine (berth engines only).
    pub fn berth_daemon(&mut self) -> &mut BerthDaemon {
        self._engine
            .downcast_mut::<BerthDaemon>()
            .expect("a berth daemon")
    }

    fn berth_daemon_in(netns: Option<String>) -> Option<Engine> {
        if !require_root() {
            return None;
        }
        require_tool("tar")?;
        let bin = std::env::var_os("BERTH_TEST_DAEMON_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_berth")));
        let d = BerthDaemon::start_in(&bin, netns);
        let image = "berthbb:test".to_string();
        d.import_busybox(&image);
        let dir = d.dir.join("scratch");
        fs::create_dir(&dir).unwrap();
        Some(Engine {
            kind: "berth",
            host: d.host.clone(),
            image,
            dir,
            script: require_tool("script"),
            docker: berth_testkit::find_tool("docker"),
            seq: AtomicUsize::new(0),
            _engine: Box::new(d),
        })
    }

    /// A unique container name.
    pub fn name(&self, what: &str) -> String {
        unique_id(&format!("bcli-{what}"))
    }

    /// A path in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A directory `name` in the scratch directory holding `files` (path
    /// in it, text): a build context, a compose project.
    pub fn tree(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.path(name);
        fs::create_dir_all(&dir).unwrap();
        for (path, text) in files {
            let p = dir.join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        dir
    }

    /// One raw API request over the engine's socket (HTTP/1.0, the body
    /// as JSON when given): (status, body).
    pub fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        use std::io::{Read, Write};
        let socket = self.host.strip_prefix("unix://").unwrap();
        let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
        let body = body.unwrap_or("");
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status = out[9..12].parse().unwrap();
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
        (status, body.unwrap_or_default())
    }

    /// `berth -H <host> <args>`, stdin from /dev/null.
    pub fn berth(&self, args: &[&str]) -> Output {
        self.run(self.berth_cmd(args), None, CMD_TIMEOUT)
    }

    /// `berth -H <host> <args>` with `input` on stdin.
    pub fn berth_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        self.run(self.berth_cmd(args), Some(input), CMD_TIMEOUT)
    }

    /// `docker -H <host> <args>` (None without a docker CLI), its own config.
    pub fn docker(&self, args: &[&str]) -> Option<Output> {
        self.docker_env(&[], args)
    }

    /// [`Engine::docker`] with variables set (`DOCKER_API_VERSION` to hold
    /// both engines to one API version).
    pub fn docker_env(&self, env: &[(&str, &str)], args: &[&str]) -> Option<Output> {
        let docker = self.docker.as_ref()?;
        let mut cmd = Command::new(docker);
        cmd.env("DOCKER_CONFIG", self.dir.join("docker-cli"));
        for var in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "DOCKER_API_VERSION",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied());
        cmd.args(["-H", &self.host]).args(args);
        Some(self.run(cmd, None, CMD_TIMEOUT))
    }

    /// The command, environment cleaned: no BERTH_HOST, no autostart.
    pub fn berth_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
        cmd.env_remove("BERTH_HOST")
            .env_remove("DOCKER_HOST")
            .env("BERTH_NO_AUTOSTART", "1")
            .arg("--data-root")
            .arg(self.dir.join("berth-data"))
            .args(["-H", &self.host])
            .args(args);
        cmd
    }

    /// `berth ... <line>` under `script`, which gives it a terminal. Its
    /// stdin is a pipe kept open until it exits.
    pub fn berth_tty(&self, line: &str) -> Option<Output> {
        self.berth_tty_input(line, b"", Duration::ZERO)
    }

    /// Like [`Engine::berth_tty`], typing `input` on the terminal after `delay`.
    pub fn berth_tty_input(&self, line: &str, input: &[u8], delay: Duration) -> Option<Output> {
        self.berth_tty_input_env(&[], line, input, delay)
    }

    /// [`Engine::berth_tty_input`] with variables set (`DOCKER_CONFIG`).
    pub fn berth_tty_input_env(
        &self,
        env: &[(&str, &str)],
        line: &str,
        input: &[u8],
        delay: Duration,
    ) -> Option<Output> {
        let script = self.script.as_ref()?;
        let full = format!(
            "{} --data-root {} -H {} {line}",
            env!("CARGO_BIN_EXE_berth"),
            self.dir.join("berth-data").display(),
            self.host
        );
        let mut cmd = Command::new(script);
        cmd.env_remove("BERTH_HOST")
            .env("BERTH_NO_AUTOSTART", "1")
            .envs(env.iter().copied())
            .args(["-q", "-e", "-c", &full, "/dev/null"]);
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        cmd.stdin(Stdio::piped());
        Some(self.capture(cmd, n, CMD_TIMEOUT, Some((input, delay, Feed::EveryDelay))))
    }

    /// Starts `berth <args>` in the background, its stdout and stderr going
    /// to the returned files.
    pub fn spawn(&self, args: &[&str]) -> Background {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let out = self.dir.join(format!("bg{n}.out"));
        let err = self.dir.join(format!("bg{n}.err"));
        let mut cmd = self.berth_cmd(args);
        cmd.stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap())
            .process_group(0);
        let child = cmd.spawn().expect("spawning berth");
        Background {
            child: Some(child),
            out,
            err,
        }
    }

    fn run(&self, mut cmd: Command, input: Option<&[u8]>, timeout: Duration) -> Output {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let in_path = self.dir.join(format!("cmd{n}.in"));
        let stdin = match input {
            Some(data) => {
                fs::write(&in_path, data).unwrap();
                Stdio::from(File::open(&in_path).unwrap())
            }
            None => Stdio::null(),
        };
        cmd.stdin(stdin);
        let out = self.capture(cmd, n, timeout, None);
        let _ = fs::remove_file(&in_path);
        out
    }

    /// `berth -H <host> <args>` with `input` written to a stdin pipe that
    /// stays open until the command exits (no early EOF).
    pub fn berth_stdin_open(&self, args: &[&str], input: &[u8]) -> Output {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut cmd = self.berth_cmd(args);
        cmd.stdin(Stdio::piped());
        self.capture(
            cmd,
            n,
            CMD_TIMEOUT,
            Some((input, Duration::ZERO, Feed::Once)),
        )
    }

    /// Runs `cmd` in its own process group, output to files (a grandchild
    /// holding a pipe cannot hang us); on timeout kills the group and panics.
    fn capture(
        &self,
        mut cmd: Command,
        n: usize,
        timeout: Duration,
        input: Option<(&[u8], Duration, Feed)>,
    ) -> Output {
        let out_path = self.dir.join(format!("cmd{n}.out"));
        let err_path = self.dir.join(format!("cmd{n}.err"));
        cmd.stdout(File::create(&out_path).unwrap())
            .stderr(File::create(&err_path).unwrap())
            .process_group(0);
        let what = format!("{cmd:?}");
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
        // A piped stdin gets `input` after its delay and stays open until
        // the command has exited (no early EOF).
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let writer = match (input, child.stdin.take()) {
            (Some((data, delay, feed)), Some(mut stdin)) => {
                let data = data.to_vec();
                Some(std::thread::spawn(move || {
                    loop {
                        // Anything but a timeout means the command has exited.
                        if !matches!(
                            done_rx.recv_timeout(delay),
                            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                        ) {
                            return;
                        }
                        let _ = std::io::Write::write_all(&mut stdin, &data);
                        if feed == Feed::Once {
                            let _ = done_rx.recv();
                            return;
                        }
                    }
                }))
            }
            _ => None,
        };
        let status = dockerd::wait_timeout(&mut child, timeout);
        if status.is_none() {
            dockerd::kill(-(child.id() as i32), libc::SIGKILL);
            let _ = child.wait();
        }
        drop(child);
        drop(done_tx);
        if let Some(w) = writer {
            let _ = w.join();
        }
        let stdout = fs::read(&out_path).unwrap_or_default();
        let stderr = fs::read(&err_path).unwrap_or_default();
        let _ = fs::remove_file(&out_path);
        let _ = fs::remove_file(&err_path);
        match status {
            Some(status) => Output {
                status,
                stdout,
                stderr,
            },
            None => panic!(
                "timed out after {timeout:?}: {what}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            ),
        }
    }
}

/// How a command's stdin gets its input.
#[derive(Clone, Copy, PartialEq)]
enum Feed {
    /// Once, after the delay.
    Once,
    /// Again after every delay until the command exits: keys typed before
    /// the CLI has put its terminal in raw mode are eaten by the line
    /// discipline (ctrl-q is START), so a user would type them again.
    EveryDelay,
}

/// A berth command running in the background; killed on drop.
pub struct Background {
    child: Option<Child>,
    pub out: PathBuf,
    pub err: PathBuf,
}

impl Background {
    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Sends `sig` to the berth process.
    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            dockerd::kill(c.id() as i32, sig);
        }
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        dockerd::wait_timeout(self.child.as_mut().unwrap(), timeout)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if c.try_wait().ok().flatten().is_none() {
                dockerd::kill(-(c.id() as i32), libc::SIGKILL);
            }
            let _ = c.wait();
        }
    }
}

/// Polls `f` every 100 ms until it is true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A private `berth daemon` and everything it owns; torn down on drop.
pub struct BerthDaemon {
    pub dir: PathBuf,
    pub host: String,
    bin: PathBuf,
    child: Option<Child>,
    /// The network namespace it runs in (`/proc/<pid>/fd/<n>`); None: the
    /// host's, with no default bridge (`--bridge none`), so that parallel
    /// daemons never share a bridge or touch the host's links.
    netns: Option<String>,
    /// More daemon flags (`--build-context-limit 1m`).
    extra: Vec<String>,
    /// A command that execs the daemon in its place (`prlimit --nofile=256:256 --`).
    wrapper: Vec<String>,
}

impl BerthDaemon {
    pub fn start(bin: &Path) -> BerthDaemon {
        BerthDaemon::start_in(bin, None)
    }

    /// A daemon inside the network namespace at `netns` (a scratch one:
    /// see common/netns.rs), with its default bridge.
    pub fn start_in(bin: &Path, netns: Option<String>) -> BerthDaemon {
        BerthDaemon::spawned(bin, netns, &[], &[])
    }

    /// A daemon (no image imported) started through `wrapper` with more
    /// flags.
    pub fn start_with(bin: &Path, wrapper: &[&str], extra: &[&str]) -> BerthDaemon {
        BerthDaemon::spawned(bin, None, wrapper, extra)
    }

    fn spawned(bin: &Path, netns: Option<String>, wrapper: &[&str], extra: &[&str]) -> BerthDaemon {
        let dir = PathBuf::from("/tmp").join(unique_id("bbd"));
        fs::create_dir(&dir).unwrap();
        let socket = dir.join("berth.sock");
        let mut d = BerthDaemon {
            host: format!("unix://{}", socket.display()),
            dir,
            bin: bin.to_path_buf(),
            child: None,
            netns,
            extra: extra.iter().map(|f| f.to_string()).collect(),
            wrapper: wrapper.iter().map(|w| w.to_string()).collect(),
        };
        d.spawn();
        d
    }

    /// The daemon's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The daemon's exit status once it has exited; None while it runs.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().unwrap()
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }

    /// SIGKILL, as a crash: containers and their shims live on.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            dockerd::kill(child.id() as i32, libc::SIGKILL);
            let _ = child.wait();
        }
    }

    /// Starts the daemon again on the same roots (after [`Self::kill9`]).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    fn spawn(&mut self) {
        let d = self;
        let bin = d.bin.clone();
        let socket = d.dir.join("berth.sock");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.dir.join("daemon.log"))
            .unwrap();
        let mut argv: Vec<std::ffi::OsString> = d.wrapper.iter().map(Into::into).collect();
        if let Some(ns) = &d.netns {
            argv.extend(["nsenter".into(), format!("--net={ns}").into()]);
        }
        argv.push(bin.into_os_string());
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd.arg("--data-root")
            .arg(d.dir.join("data"))
            .arg("daemon")
            .args(["-H", &d.host])
            .arg("--exec-root")
            .arg(d.dir.join("exec"))
            .args(if d.netns.is_none() {
                &["--bridge", "none"][..]
            } else {
                &[][..]
            })
            .args(&d.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0);
        eprintln!("starting {cmd:?}");
        d.child = Some(cmd.spawn().expect("starting berth daemon"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Some(st) = d.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "berth daemon exited during startup ({st}): {}",
                    fs::read_to_string(d.dir.join("daemon.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "berth daemon did not listen on {}",
                d.host
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A busybox root as a tarball, imported through the daemon.
    pub fn import_busybox(&self, image: &str) {
        let rootfs = self.dir.join("rootfs");
        berth_testkit::busybox_rootfs(&rootfs).expect("building the busybox rootfs");
        let tarball = self.dir.join("rootfs.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tarball)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        // Through the daemon's API: the CLI keeps no image store.
        let out = Command::new(&self.bin)
            .env("BERTH_NO_AUTOSTART", "1")
            .args(["-H", &self.host, "import", "-c", "CMD [\"sh\"]"])
            .arg(&tarball)
            .arg(image)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn berth(&self, args: &[&str]) -> Option<Output> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
        cmd.env("BERTH_NO_AUTOSTART", "1")
            .args(["-H", &self.host])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().ok()?;
        match dockerd::wait_timeout(&mut child, Duration::from_secs(30)) {
            Some(_) => child.wait_with_output().ok(),
            None => {
                dockerd::kill(-(child.id() as i32), libc::SIGKILL);
                let _ = child.wait();
                None
            }
        }
    }
}

impl Drop for BerthDaemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "--- berth daemon log (last 40 lines) ---\n{}\n--- end ---",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        if let Some(out) = self.berth(&["ps", "-aq", "--no-trunc"])
            && out.status.success()
        {
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect();
            for id in &ids {
                let _ = self.berth(&["rm", "-f", id]);
            }
        }
        if let Some(mut child) = self.child.take() {
            let pid = child.id() as i32;
            dockerd::kill(pid, libc::SIGTERM);
            if dockerd::wait_timeout(&mut child, Duration::from_secs(15)).is_none() {
                dockerd::kill(-pid, libc::SIGKILL);
                let _ = child.wait();
            }
            dockerd::kill(-pid, libc::SIGKILL);
        }
        dockerd::kill_strays(&self.dir);
        dockerd::unmount_under(&self.dir);
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("cleanup: cannot remove {}: {e}", self.dir.display());
        }
    }
}
