//! A private `berth daemon` for a test: its own data root, exec root and
//! socket under a temporary directory, driven by the real docker CLI (or
//! raw HTTP); on drop it removes its containers, stops, and kills strays.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::require_tool;

use super::Store;

pub struct Berthd {
    /// The store's directory and data root (the store outlives the daemon).
    dir: PathBuf,
    root: PathBuf,
    child: Option<Child>,
    pub socket: PathBuf,
    pub exec_root: PathBuf,
    docker: Option<PathBuf>,
    config: tempfile::TempDir,
}

impl Berthd {
    /// Starts a daemon over `store`; None (a skip) when docker is missing
    /// and `need_docker`.
    pub fn start(store: &Store, need_docker: bool) -> Option<Berthd> {
        let docker = if need_docker {
            Some(require_tool("docker")?)
        } else {
            berth_testkit::find_tool("docker")
        };
        store.stop_daemon();
        let mut d = Berthd {
            socket: PathBuf::from(store.path("api.sock")),
            exec_root: PathBuf::from(store.path("exec")),
            dir: PathBuf::from(store.path("")),
            root: store.root(),
            child: None,
            docker,
            config: tempfile::tempdir().unwrap(),
        };
        d.spawn();
        Some(d)
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("daemon.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("--data-root")
            .arg(&self.root)
            .args(["daemon", "-H", &self.host()])
            .arg("--exec-root")
            .arg(&self.exec_root)
            // No default bridge: parallel test daemons share the host.
            .args(["--bridge", "none"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.ping().is_none() {
            assert!(
                Instant::now() < deadline,
                "berth daemon did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn ping(&self) -> Option<()> {
        let mut s = UnixStream::connect(&self.socket).ok()?;
        s.write_all(b"GET /_ping HTTP/1.0\r\n\r\n").ok()?;
        let mut buf = String::new();
        s.read_to_string(&mut buf).ok()?;
        buf.contains("200 OK").then_some(())
    }

    /// SIGKILL: the daemon dies at once, its containers keep running.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the daemon again over the same roots.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        let docker = self.docker.as_ref().expect("docker is installed");
        let mut c = Command::new(docker);
        c.env("DOCKER_CONFIG", self.config.path())
            .env_remove("DOCKER_CONTEXT")
            .arg("-H")
            .arg(self.host())
            .args(args);
        c
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_timeout(args, Duration::from_secs(60))
    }

    /// Runs docker with stdin closed; kills it past `timeout`.
    pub fn docker_timeout(&self, args: &[&str], timeout: Duration) -> Output {
        let mut cmd = self.docker_cmd(args);
        cmd.stdin(Stdio::null());
        run_with_timeout(cmd, timeout)
    }

    /// One raw HTTP/1.1 request (with `Connection: close`); the status and body.
    pub fn raw(&self, request: &str, body: &[u8]) -> (u16, String) {
        let mut s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        // The daemon may answer (and hang up) before the body is all sent.
        let _ = s
            .write_all(request.as_bytes())
            .and_then(|_| s.write_all(body));
        let mut text = Vec::new();
        let _ = s.read_to_end(&mut text);
        let text = String::from_utf8_lossy(&text).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// A JSON request with a body; status and body.
    pub fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.raw(&head, body.as_bytes())
    }

    /// The berth CLI against this daemon.
    pub fn store_berth(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
        c.env("BERTH_NO_AUTOSTART", "1")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .stdin(Stdio::null());
        run_with_timeout(c, Duration::from_secs(60))
    }

    pub fn data_root(&self) -> &Path {
        &self.root
    }

    fn remove_all(&self) {
        let (status, body) = self.request("GET", "/containers/json?all=1", "");
        if status != 200 {
            return;
        }
        let list: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        for c in list.as_array().into_iter().flatten() {
            if let Some(id) = c["Id"].as_str() {
                self.request("DELETE", &format!("/containers/{id}?force=1"), "");
            }
        }
    }
}

pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let s = child.wait().unwrap();
            let stderr = String::from_utf8_lossy(&t2.join().unwrap()).into_owned();
            panic!("{cmd:?} did not finish in {timeout:?} ({s}); stderr: {stderr}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

impl Drop for Berthd {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.remove_all();
        }
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(5);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        // Shims that outlived the daemon (a failed test), and their containers.
        let strays = berth_testkit::kill_strays(&self.dir);
        if !strays.is_empty() {
            eprintln!("cleanup: killed leftover processes {strays:?}");
        }
    }
}
