//! `docker exec`: a process in a running container, run by the runtime's
//! own `exec` (`berth runtime exec`, a single-threaded process, as the
//! runtime's clone requires), with pipes or a terminal the daemon relays.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use oci_spec::runtime::{Process, Spec, UserBuilder};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::model::Status;
use crate::{Engine, names};

/// The body of `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub privileged: bool,
    pub user: String,
    pub working_dir: String,
    /// docker-py sends `detachKeys` (Go's decoder matches names in any case).
    #[serde(alias = "detachKeys")]
    pub detach_keys: String,
    pub console_size: Option<Vec<u16>>,
}

pub struct ExecInstance {
    pub id: String,
    pub container: String,
    pub config: ExecConfig,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: i32,
    /// The terminal's master side, for resize.
    pub master: Option<Arc<OwnedFd>>,
    /// When it ended: kept for inspect a while, then dropped.
    pub ended: Option<std::time::Instant>,
}

/// How long an ended exec stays inspectable (dockerd's exec GC runs every
/// five minutes and drops what ended before its last run).
const ENDED_EXEC_KEPT: std::time::Duration = std::time::Duration::from_secs(300);

/// A started exec's streams, for the API to relay.
pub struct ExecSession {
    pub tty: bool,
    pub stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    /// (stream id, bytes): 1 stdout, 2 stderr; ends when the process does.
    pub output: mpsc::Receiver<(u8, Vec<u8>)>,
    /// The sequence that detaches a client from a terminal exec (parsed
    /// `DetachKeys`; empty is Docker's default, ctrl-p ctrl-q).
    pub detach_keys: Vec<u8>,
}

impl Engine {
    /// `POST /containers/{id}/exec`.
    pub fn exec_create(&self, name: &str, config: ExecConfig) -> Result<String> {
        let c = self.get(name)?;
        if c.state.status == Status::Paused {
            return Err(Error::Conflict(format!(
                "Container {} is paused, unpause the container before exec",
                c.id
            )));
        }
        if c.state.status != Status::Running {
            return Err(Error::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(Error::Invalid("No exec command specified".into()));
        }
        detach_keys(&config.detach_keys)?;
        let id = names::random_id();
        let mut execs = self.execs.lock().expect("exec lock");
        // Ended ones go after a while: a container exec'd into for months
        // does not keep every exec it ever ran.
        execs.retain(|_, e| e.ended.is_none_or(|t| t.elapsed() < ENDED_EXEC_KEPT));
        execs.insert(
            id.clone(),
            ExecInstance {
                id: id.clone(),
                container: c.id.clone(),
                config,
                running: false,
                exit_code: None,
                pid: 0,
                master: None,
                ended: None,
            },
        );
        drop(execs);
        self.event("exec_create", &c, &[]);
        Ok(id)
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, id: &str) -> Result<serde_json::Value> {
        let execs = self.execs.lock().expect("exec lock");
        let e = execs
            .get(id)
            .ok_or_else(|| Error::NotFound(format!("No such exec instance: {id}")))?;
        let cmd = e.config.cmd.clone().unwrap_or_default();
        Ok(serde_json::json!({
            "ID": e.id,
            "Running": e.running,
            "ExitCode": e.exit_code,
            "ProcessConfig": {
                "tty": e.config.tty,
                "entrypoint": cmd.first(),
                "arguments": cmd.get(1..).unwrap_or_default(),
                "privileged": e.config.privileged,
                "user": e.config.user,
            },
            "OpenStdin": e.config.attach_stdin,
            "OpenStderr": e.config.attach_stderr,
            "OpenStdout": e.config.attach_stdout,
            "CanRemove": false,
            "ContainerID": e.container,
            // Go's []byte of the parsed keys, as dockerd: base64.
            "DetachKeys": base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                detach_keys(&e.config.detach_keys).unwrap_or_default(),
            ),
            "Pid": e.pid,
        }))
    }

    /// A container's exec instances that have not ended (made, or
    /// running), as inspect's ExecIDs lists them; None when there is none
    /// (dockerd's nil).
    pub fn exec_ids(&self, container: &str) -> Option<Vec<String>> {
        let execs = self.execs.lock().expect("exec lock");
        let ids: Vec<String> = execs
            .values()
            .filter(|e| e.container == container && e.exit_code.is_none())
            .map(|e| e.id.clone())
            .collect();
        (!ids.is_empty()).then_some(ids)
    }

    /// Drops a finished (or abandoned) exec instance from the table.
    pub fn exec_forget(&self, id: &str) {
        self.execs.lock().expect("exec lock").remove(id);
    }

    /// SIGKILL to an exec's process and everything it started (a health
    /// probe past its timeout): the runtime that waits for it, and its
    /// descendants, which in the container are the process and its children.
    pub fn exec_kill(&self, id: &str) {
        let pid = match self.execs.lock().expect("exec lock").get(id) {
            Some(e) if e.running && e.pid > 0 => e.pid,
            _ => return,
        };
        // Children first: a parent killed first would leave them to init.
        let mut tree = descendants(pid);
        tree.reverse();
        tree.push(pid);
        for p in tree {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    /// `POST /exec/{id}/resize`.
    pub fn exec_resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        let execs = self.execs.lock().expect("exec lock");
        let e = execs
            .get(id)
            .ok_or_else(|| Error::NotFound(format!("No such exec instance: {id}")))?;
        let master = e
            .master
            .as_ref()
            .ok_or_else(|| Error::Conflict(format!("exec {id} has no terminal")))?;
        berth_sys::set_winsize(
            std::os::fd::AsRawFd::as_raw_fd(master.as_ref()),
            height,
            width,
        )
        .map_err(|e| Error::io("resizing the exec's terminal", e))
    }

    /// The runtime spec process for an exec: the container's, with the
    /// exec's command, environment, user, directory and terminal.
    fn exec_process(&self, container: &str, cfg: &ExecConfig) -> Result<Process> {
        let dir = self.current_bundle(container);
        let spec: Spec = std::fs::read(dir.join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| Error::Internal(format!("container {container}: no runtime spec")))?;
        let mut process = spec
            .process()
            .clone()
            .ok_or_else(|| Error::Internal(format!("container {container}: no process")))?;
        process.set_args(Some(cfg.cmd.clone().unwrap_or_default()));
        process.set_terminal(Some(cfg.tty));
        if let Some(env) = &cfg.env {
            let mut all = process.env().clone().unwrap_or_default();
            for e in env.iter().filter(|e| e.contains('=')) {
                let key = e.split('=').next().unwrap_or("");
                all.retain(|x| x.split('=').next() != Some(key));
                all.push(e.clone());
            }
            process.set_env(Some(all));
        }
        if !cfg.working_dir.is_empty() {
            process.set_cwd(PathBuf::from(&cfg.working_dir));
        }
        if !cfg.user.is_empty() {
            let c = self.get(container)?;
            let layers = self.layers(&c)?;
            let (uid, gid, groups) = crate::spec::resolve_user(&cfg.user, &layers)?;
            let user = UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .additional_gids(groups)
                .build()
                .map_err(|e| Error::Internal(format!("the exec's user: {e}")))?;
            process.set_user(user);
        }
        if cfg.privileged {
            let all = crate::spec::all_caps();
            process.set_capabilities(Some(crate::spec::capability_sets(&all)?));
        }
        Ok(process)
    }

    /// What `exec_start` would refuse, checked without starting: the API
    /// answers these before it hijacks the connection, and starts the
    /// process only after (as dockerd), so that no output can reach the
    /// client inside the same read as the 101's head.
    pub fn exec_startable(&self, id: &str) -> Result<bool> {
        let (container, tty) = {
            let execs = self.execs.lock().expect("exec lock");
            let e = execs
                .get(id)
                .ok_or_else(|| Error::NotFound(format!("No such exec instance: {id}")))?;
            if e.running || e.exit_code.is_some() {
                return Err(Error::Conflict(format!(
                    "Error: Exec command {id} has already run"
                )));
            }
            (e.container.clone(), e.config.tty)
        };
        let c = self.get(&container)?;
        if c.state.status != Status::Running {
            return Err(Error::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        Ok(tty)
    }

    /// `POST /exec/{id}/start`: runs the process; its streams come back.
    pub async fn exec_start(self: &Arc<Self>, id: &str) -> Result<ExecSession> {
        let (container, cfg) = {
            let mut execs = self.execs.lock().expect("exec lock");
            let e = execs
                .get_mut(id)
                .ok_or_else(|| Error::NotFound(format!("No such exec instance: {id}")))?;
            if e.running || e.exit_code.is_some() {
                return Err(Error::Conflict(format!(
                    "Error: Exec command {id} has already run"
                )));
            }
            e.running = true;
            (e.container.clone(), e.config.clone())
        };
        let c = self.get(&container)?;
        if c.state.status != Status::Running {
            self.exec_done(id, 126);
            return Err(Error::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let process = self.exec_process(&container, &cfg)?;
        let execs_dir = self.config.exec_root.join("execs");
        let process_file = execs_dir.join(format!("{}.json", &id[..16]));
        std::fs::write(
            &process_file,
            serde_json::to_vec(&process).expect("json serializes"),
        )
        .map_err(|e| Error::io("writing the exec's process", e))?;
        let mut cmd = tokio::process::Command::new(&self.config.exe);
        // With a log, the runtime's failure reaches the exec's stderr as
        // the bare message (its log line goes to the log).
        cmd.arg("runtime")
            .arg("--root")
            .arg(self.runtime_root())
            .args(["--log", "/dev/null"])
            .arg("exec")
            .arg("--process")
            .arg(&process_file);
        let session = if cfg.tty {
            self.exec_tty(id, &c.id, cmd, &execs_dir, process_file.clone())
                .await
        } else {
            self.exec_pipes(id, &c.id, cmd, &cfg, process_file.clone())
        }
        .map(|mut s| {
            // Checked at create.
            s.detach_keys = detach_keys(&cfg.detach_keys).unwrap_or_default();
            s
        });
        if session.is_err() {
            let _ = std::fs::remove_file(&process_file);
            self.exec_done(id, 126);
        }
        self.event("exec_start", &c, &[("execID", id.to_string())]);
        session
    }

    fn exec_done(&self, id: &str, code: i32) {
        if let Some(e) = self.execs.lock().expect("exec lock").get_mut(id) {
            e.running = false;
            e.exit_code = Some(code);
            e.master = None;
            e.ended = Some(std::time::Instant::now());
        }
    }

    fn exec_pipes(
        self: &Arc<Self>,
        id: &str,
        container: &str,
        mut cmd: tokio::process::Command,
        cfg: &ExecConfig,
        process_file: PathBuf,
    ) -> Result<ExecSession> {
        cmd.arg(container)
            .stdin(if cfg.attach_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::io("starting the runtime's exec", e))?;
        if let Some(e) = self.execs.lock().expect("exec lock").get_mut(id) {
            e.pid = child.id().unwrap_or(0) as i32;
        }
        let (tx, rx) = mpsc::channel(64);
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let stdin = child
            .stdin
            .take()
            .map(|s| Box::new(s) as Box<dyn AsyncWrite + Send + Unpin>);
        let engine = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            let a = pump(stdout, 1, tx.clone());
            let b = pump(stderr, 2, tx.clone());
            let (_, tail, status) = tokio::join!(a, b, child.wait());
            let code = runtime_exit_code(status.map_or(126, exit_code), &tail);
            let _ = std::fs::remove_file(process_file);
            engine.exec_done(&id, code);
            drop(tx);
        });
        Ok(ExecSession {
            tty: false,
            stdin,
            output: rx,
            detach_keys: Vec::new(),
        })
    }

    async fn exec_tty(
        self: &Arc<Self>,
        id: &str,
        container: &str,
        mut cmd: tokio::process::Command,
        dir: &std::path::Path,
        process_file: PathBuf,
    ) -> Result<ExecSession> {
        let socket: PathBuf = dir.join(format!("{}.sock", &id[..16]));
        let _ = std::fs::remove_file(&socket);
        let listener = std::os::unix::net::UnixListener::bind(&socket)
            .map_err(|e| Error::io(format!("listening on {}", socket.display()), e))?;
        cmd.arg("--console-socket")
            .arg(&socket)
            .arg(container)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::io("starting the runtime's exec", e))?;
        let received = tokio::task::spawn_blocking(move || receive_fd(&listener))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        let _ = std::fs::remove_file(&socket);
        let master = match received {
            Ok(fd) => fd,
            Err(e) => {
                let mut err = String::new();
                if let Some(mut s) = child.stderr.take() {
                    let _ = s.read_to_string(&mut err).await;
                }
                let _ = child.wait().await;
                return Err(Error::Invalid(format!(
                    "OCI runtime exec failed: {}",
                    if err.trim().is_empty() {
                        e.to_string()
                    } else {
                        err.trim().to_string()
                    }
                )));
            }
        };
        let master = Arc::new(master);
        let read_half = std::fs::File::from(
            master
                .try_clone()
                .map_err(|e| Error::io("duplicating the terminal", e))?,
        );
        let write_half = std::fs::File::from(
            master
                .try_clone()
                .map_err(|e| Error::io("duplicating the terminal", e))?,
        );
        if let Some(e) = self.execs.lock().expect("exec lock").get_mut(id) {
            e.master = Some(master.clone());
            e.pid = child.id().unwrap_or(0) as i32;
        }
        let (tx, rx) = mpsc::channel(64);
        let engine = self.clone();
        let id = id.to_string();
        let mut runtime_err = child.stderr.take();
        tokio::spawn(async move {
            let reader = pump(tokio::fs::File::from_std(read_half), 1, tx.clone());
            // The runtime's own failure (a program not found) comes on its
            // stderr, after the terminal was sent.
            let errors = async {
                let mut text = Vec::new();
                if let Some(e) = runtime_err.as_mut() {
                    let _ = e.read_to_end(&mut text).await;
                }
                text
            };
            let (_, errors, status) = tokio::join!(reader, errors, child.wait());
            let _ = std::fs::remove_file(process_file);
            let status = status.map_or(126, exit_code);
            if status == 255 && !errors.is_empty() {
                // Said on the terminal, as dockerd says it in the stream;
                // the exit code is Docker's (127 not found, 126 not runnable).
                let _ = tx.send((1, errors.clone())).await;
            }
            engine.exec_done(&id, runtime_exit_code(status, &errors));
            drop(master);
        });
        Ok(ExecSession {
            tty: true,
            stdin: Some(Box::new(tokio::fs::File::from_std(write_half))),
            output: rx,
            detach_keys: Vec::new(),
        })
    }
}

/// An exec's `DetachKeys` parsed (empty when not given), refused in
/// dockerd's words and, as dockerd 20.10, with a 500.
fn detach_keys(keys: &str) -> Result<Vec<u8>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    berth_models::detach::parse(keys)
        .map_err(|_| Error::Internal(format!("Invalid escape keys ({keys}) provided")))
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(126)
}

/// The runtime's exec exits 255 when it cannot start the process; Docker
/// reports 127 (not found) and 126 (not executable) instead.
/// An exec whose program could not start (not found, in PATH or at its
/// path, or not runnable) ends with 126: dockerd records that code for
/// any exec start failure (run's 127 is the container's, not an exec's).
fn runtime_exit_code(code: i32, stderr_tail: &[u8]) -> i32 {
    match code {
        255 => crate::containers::exec_failure_code(&String::from_utf8_lossy(stderr_tail))
            .map_or(255, |_| 126),
        c => c,
    }
}

/// Copies a reader into the channel as (stream, bytes) until EOF (or EIO,
/// which a terminal's master gives once the other side is closed); returns
/// the last bytes it saw.
async fn pump(
    mut r: impl AsyncRead + Unpin,
    stream: u8,
    tx: mpsc::Sender<(u8, Vec<u8>)>,
) -> Vec<u8> {
    let mut buf = vec![0u8; 32 * 1024];
    let mut tail = Vec::new();
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return tail,
            Ok(n) => {
                tail.extend_from_slice(&buf[..n]);
                let cut = tail.len().saturating_sub(4096);
                tail.drain(..cut);
                // A client gone does not stop the draining: the process
                // must not block on a full pipe.
                let _ = tx.send((stream, buf[..n].to_vec())).await;
            }
        }
    }
}

/// Accepts one connection on the console socket and takes the terminal's
/// master descriptor from it, within 10 seconds.
fn receive_fd(listener: &std::os::unix::net::UnixListener) -> std::io::Result<OwnedFd> {
    listener.set_nonblocking(true)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if std::time::Instant::now() > deadline {
                    return Err(std::io::Error::other("the runtime sent no terminal"));
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    };
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    berth_runtime::console::receive_fd(&stream)
}

/// The processes below `root`, parents before their children, from
/// /proc/<pid>/stat's ppid field.
fn descendants(root: i32) -> Vec<i32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The name in parentheses may hold spaces: the fields follow its ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}
