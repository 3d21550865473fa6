//! A private dockerd for a test, next to anything else on the machine: its
//! own data root, exec root, pid file, socket, daemon config and docker CLI
//! config in a fresh directory under /tmp (short, because unix socket paths
//! are limited to 108 bytes), and its own bridge ([`TestBridge`]: a unique
//! name and /24, made before dockerd starts). A drop guard removes the
//! containers, stops dockerd (SIGTERM, then SIGKILL of its process group),
//! kills any containerd or shim left behind, unmounts whatever is still
//! mounted under the directory and removes it, and then deletes the bridge,
//! also when a check fails.
//!
//! Never `--bridge=none`: with it dockerd deletes the host's `docker0`, and
//! the Docker already running on the machine can no longer start containers
//! ("could not find bridge docker0"). With `--bridge=<ours>`,
//! `--iptables=false`, `--ip-masq=false` and `--ip-forward=false` it leaves
//! `docker0`, the firewall rules and the forwarding sysctls of the host alone
//! (tests/host_untouched.rs checks that).
//!
//! [`Dockerd::start_in_netns`] runs it instead inside a scratch network
//! namespace (`nsenter --net=`, see netns.rs) as on a host of its own: there
//! it makes its default bridge `docker0`, sets ip forwarding and writes its
//! iptables rules (so `-p` works), all inside that namespace, and none of it
//! outlives the namespace. No bridge is made on the host then.
#![allow(dead_code)]

use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use berth_testkit::{OutputExt, TestBridge, busybox_rootfs, unique_id};

/// Default time limit for one docker CLI call.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long dockerd may take to answer on its socket.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long dockerd may take to exit after SIGTERM.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);

/// A private dockerd and everything it owns; torn down on drop.
pub struct Dockerd {
    /// The fresh directory under /tmp holding everything.
    pub dir: PathBuf,
    pub docker: PathBuf,
    /// `unix://<dir>/docker.sock`
    pub host: String,
    child: Option<Child>,
    /// dockerd's bridge (`--bridge=<name>`); dropped, so deleted, after
    /// [`Drop::drop`] has stopped dockerd. None in a scratch namespace.
    bridge: Option<TestBridge>,
    /// Container names to `docker rm -f` on drop (besides `docker ps -aq`).
    containers: Mutex<Vec<String>>,
    /// Numbers the output files of commands.
    seq: AtomicUsize,
}

impl Dockerd {
    /// Starts dockerd in a fresh directory and waits until it answers; with
    /// `runtime`, dockerd knows that OCI runtime by that name
    /// (`--add-runtime NAME=PATH`). Panics (after cleaning up) when it does not.
    pub fn start(dockerd: &Path, docker: PathBuf, runtime: Option<(&str, &Path)>) -> Dockerd {
        Dockerd::launch(dockerd, docker, runtime, None)
    }

    /// Starts dockerd inside the network namespace at `netns` (a path for
    /// `nsenter --net=`, e.g. a `ScratchNet`'s), with its networking as
    /// on a real host: the default bridge `docker0`, iptables rules,
    /// masquerade and ip forwarding, all in that namespace. The caller
    /// keeps the namespace until this value is dropped.
    pub fn start_in_netns(dockerd: &Path, docker: PathBuf, netns: &str) -> Dockerd {
        Dockerd::launch(dockerd, docker, None, Some(netns))
    }

    fn launch(
        dockerd: &Path,
        docker: PathBuf,
        runtime: Option<(&str, &Path)>,
        netns: Option<&str>,
    ) -> Dockerd {
        let dir = PathBuf::from("/tmp").join(unique_id("bd"));
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let socket = dir.join("docker.sock");
        assert!(
            socket.as_os_str().len() < 100,
            "socket path too long: {}",
            socket.display()
        );
        // On the host, a bridge of its own: never `--bridge=none` (see the
        // module docs). Its own guard removes it if a panic comes before `d`
        // exists. In a scratch namespace, dockerd makes docker0 there.
        let bridge = netns.is_none().then(|| TestBridge::create("bt"));
        // The guard exists before dockerd does: from here on, any panic cleans up.
        let mut d = Dockerd {
            host: format!("unix://{}", socket.display()),
            dir,
            docker,
            child: None,
            bridge,
            containers: Mutex::new(Vec::new()),
            seq: AtomicUsize::new(0),
        };
        // An empty daemon config and CLI config: nothing from /etc/docker or ~/.docker.
        fs::write(d.dir.join("daemon.json"), "{}\n").unwrap();
        fs::create_dir(d.dir.join("cli")).unwrap();

        let log = File::create(d.dir.join("dockerd.log")).unwrap();
        let mut cmd = match netns {
            // nsenter enters the namespace and execs dockerd: the child's
            // pid is dockerd's.
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={ns}")).arg(dockerd);
                c
            }
            None => Command::new(dockerd),
        };
        cmd.arg("--data-root")
            .arg(d.dir.join("data"))
            .arg("--exec-root")
            .arg(d.dir.join("exec"))
            .arg("--pidfile")
            .arg(d.dir.join("dockerd.pid"))
            .arg("--config-file")
            .arg(d.dir.join("daemon.json"))
            .args(["-H", &d.host]);
        if let Some(bridge) = &d.bridge {
            cmd.args(["--iptables=false", "--ip-masq=false", "--ip-forward=false"])
                .arg(format!("--bridge={}", bridge.name()));
        }
        cmd.env_remove("NOTIFY_SOCKET")
            .env_remove("DOCKER_HOST")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group, so that teardown can kill all of it.
            .process_group(0);
        if let Some((name, path)) = runtime {
            assert!(path.is_absolute() && path.is_file(), "{}", path.display());
            cmd.arg("--add-runtime")
                .arg(format!("{name}={}", path.display()));
        }
        eprintln!("starting {cmd:?}");
        d.child = Some(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", dockerd.display())),
        );

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = d.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("dockerd exited during startup ({status}); see its log above");
            }
            let out = d.try_run(
                d.docker_cmd(&["version"]),
                Stdio::null(),
                Duration::from_secs(10),
            );
            if out.as_ref().is_some_and(|o| o.status.success()) {
                break;
            }
            if Instant::now() >= deadline {
                let err = out.map(|o| o.stderr_str()).unwrap_or_default();
                panic!(
                    "dockerd did not answer on {} within {STARTUP_TIMEOUT:?}: {err}",
                    d.host
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        eprintln!("dockerd answers on {}", d.host);
        d
    }

    /// The bridge dockerd attaches containers to (on the host: not for a
    /// dockerd in a scratch namespace, whose docker0 lives there).
    pub fn bridge(&self) -> &TestBridge {
        self.bridge
            .as_ref()
            .expect("a dockerd in a scratch network namespace has no host bridge")
    }

    /// dockerd's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `tar -C <busybox rootfs> -c . | docker import - <image>`.
    pub fn import_busybox(&self, image: &str) {
        let rootfs = self.dir.join("rootfs");
        busybox_rootfs(&rootfs).expect("building the busybox rootfs");
        let mut tar = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .expect("running tar");
        let tar_out = tar.stdout.take().unwrap();
        let out = self.run(
            self.docker_cmd(&["import", "-", image]),
            Stdio::from(tar_out),
            CMD_TIMEOUT,
        );
        let status = tar.wait().expect("waiting for tar");
        assert!(status.success(), "tar failed: {status}");
        out.assert_success();
    }

    /// A docker CLI command talking to this daemon only.
    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.docker);
        self.client_env(&mut cmd);
        cmd.args(["-H", &self.host]).args(args);
        cmd
    }

    pub fn client_env(&self, cmd: &mut Command) {
        cmd.env("DOCKER_CONFIG", self.dir.join("cli"));
        for var in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "DOCKER_API_VERSION",
        ] {
            cmd.env_remove(var);
        }
    }

    /// Runs `docker <args>` (stdin /dev/null) and returns its output.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_timeout(args, CMD_TIMEOUT)
    }

    pub fn docker_timeout(&self, args: &[&str], timeout: Duration) -> Output {
        self.run(self.docker_cmd(args), Stdio::null(), timeout)
    }

    /// Runs `docker <args>` under `script`, which gives the CLI a terminal
    /// (`script -qec "docker -H ... <args>" /dev/null`). Its stdin is a pipe
    /// kept open until it exits, so no EOF reaches the container early.
    pub fn script(&self, script: &Path, args: &str) -> Output {
        let line = format!("{} -H {} {args}", self.docker.display(), self.host);
        let mut cmd = Command::new(script);
        self.client_env(&mut cmd);
        cmd.args(["-q", "-e", "-c", &line, "/dev/null"]);
        self.run(cmd, Stdio::piped(), CMD_TIMEOUT)
    }

    /// Like [`Dockerd::try_run`], but a timeout panics.
    pub fn run(&self, cmd: Command, stdin: Stdio, timeout: Duration) -> Output {
        let what = format!("{cmd:?}");
        self.try_run(cmd, stdin, timeout)
            .unwrap_or_else(|| panic!("timed out after {timeout:?}: {what}"))
    }

    /// Runs `cmd` in its own process group with stdout and stderr going to
    /// files (a grandchild holding a pipe open cannot hang us). On timeout
    /// kills the group and returns None.
    pub fn try_run(&self, mut cmd: Command, stdin: Stdio, timeout: Duration) -> Option<Output> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let out_path = self.dir.join(format!("cmd{n}.out"));
        let err_path = self.dir.join(format!("cmd{n}.err"));
        cmd.stdin(stdin)
            .stdout(File::create(&out_path).unwrap())
            .stderr(File::create(&err_path).unwrap())
            .process_group(0);
        let what = format!("{cmd:?}");
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
        let status = wait_timeout(&mut child, timeout);
        if status.is_none() {
            kill(-(child.id() as i32), libc::SIGKILL);
            let _ = child.wait();
        }
        drop(child); // closes a piped stdin
        let stdout = fs::read(&out_path).unwrap_or_default();
        let stderr = fs::read(&err_path).unwrap_or_default();
        let _ = fs::remove_file(&out_path);
        let _ = fs::remove_file(&err_path);
        match status {
            Some(status) => Some(Output {
                status,
                stdout,
                stderr,
            }),
            None => {
                eprintln!(
                    "timed out after {timeout:?}: {what}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    String::from_utf8_lossy(&stdout),
                    String::from_utf8_lossy(&stderr)
                );
                None
            }
        }
    }

    pub fn track(&self, name: &str) {
        self.containers.lock().unwrap().push(name.to_string());
    }

    pub fn untrack(&self, name: &str) {
        self.containers.lock().unwrap().retain(|n| n != name);
    }

    /// The last `lines` warnings and errors of dockerd and containerd (the
    /// full log is mostly noise), where OCI runtime errors show up.
    pub fn log_problems(&self, lines: usize) -> String {
        let text = fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
        let all: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("level=info") && !l.contains("level=debug"))
            .collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Removes every container the daemon still has: those `docker ps -aq`
    /// lists, or, if that fails, the tracked names. (Not both in one `rm -f`:
    /// a name and an id of the same container race each other.)
    fn remove_containers(&self) {
        let ids: Vec<String> = match self.try_run(
            self.docker_cmd(&["ps", "-aq"]),
            Stdio::null(),
            Duration::from_secs(20),
        ) {
            Some(out) if out.status.success() => out
                .stdout_str()
                .split_whitespace()
                .map(String::from)
                .collect(),
            _ => self.containers.lock().unwrap().clone(),
        };
        if ids.is_empty() {
            return;
        }
        let mut args = vec!["rm", "-f"];
        args.extend(ids.iter().map(String::as_str));
        match self.try_run(self.docker_cmd(&args), Stdio::null(), CMD_TIMEOUT) {
            Some(out) if out.status.success() => {}
            Some(out) => eprintln!("cleanup: docker rm -f {ids:?}: {}", out.stderr_str()),
            None => eprintln!("cleanup: docker rm -f {ids:?} timed out"),
        }
    }

    /// SIGTERM, up to [`SHUTDOWN_TIMEOUT`] to exit, then SIGKILL to the
    /// whole process group.
    fn stop_daemon(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id() as i32;
        if child.try_wait().ok().flatten().is_none() {
            kill(pid, libc::SIGTERM);
            if wait_timeout(&mut child, SHUTDOWN_TIMEOUT).is_none() {
                eprintln!("cleanup: dockerd ignored SIGTERM for {SHUTDOWN_TIMEOUT:?}, killing it");
                kill(-pid, libc::SIGKILL);
                let _ = child.wait();
            }
        }
        // Whatever else is left in its process group.
        kill(-pid, libc::SIGKILL);
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- warnings and errors from {} (last 40) ---\n{}\n--- end of dockerd log ---",
                self.dir.join("dockerd.log").display(),
                self.log_problems(40)
            );
        }
        if self
            .child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
        {
            self.remove_containers();
        }
        self.stop_daemon();
        // containerd and the shims run in sessions of their own: find them by
        // the directory in their command lines.
        kill_strays(&self.dir);
        unmount_under(&self.dir);
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("cleanup: cannot remove {}: {e}", self.dir.display());
        }
        // `self.bridge` drops after this: `ip link del`, with dockerd gone.
    }
}

/// Waits for `child` up to `timeout`; None if it is still running.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => return None,
            Err(e) => panic!("waiting for pid {}: {e}", child.id()),
        }
    }
}

pub fn kill(pid: i32, sig: i32) {
    if let Ok(sig) = nix::sys::signal::Signal::try_from(sig) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
    }
}

/// SIGKILLs processes whose command line mentions `dir` (a containerd or
/// shim that outlived dockerd), and their children (container processes).
pub fn kill_strays(dir: &Path) {
    let victims = berth_testkit::kill_strays(dir);
    if !victims.is_empty() {
        eprintln!("cleanup: killed leftover processes {victims:?}");
    }
}

/// Lazily unmounts every mount at or under `dir`, deepest first.
pub fn unmount_under(dir: &Path) {
    for _round in 0..5 {
        let mut mounts = mounts_under(dir);
        if mounts.is_empty() {
            return;
        }
        mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
        for m in &mounts {
            if let Err(e) = nix::mount::umount2(m.as_path(), nix::mount::MntFlags::MNT_DETACH) {
                eprintln!("cleanup: umount {}: {e}", m.display());
            }
        }
    }
    let left = mounts_under(dir);
    if !left.is_empty() {
        eprintln!("cleanup: still mounted: {left:?}");
    }
}

/// Mount points at or under `dir`, from /proc/self/mountinfo.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|p| p.starts_with(dir))
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space, and so on).
pub fn unescape_mountinfo(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsStr::from_bytes(&out))
}
