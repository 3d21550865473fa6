//! Hermetic runners for OCI runtimes: berth-runtime, runc and crun.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::bundle::Bundle;
use crate::env::require_tool;

/// How long one runtime invocation may take before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// crun 1.8 refuses a hybrid cgroup layout (cgroup2 at
/// `/sys/fs/cgroup/unified` beside v1 controllers). It is run inside a private
/// mount namespace (`unshare -m`) where that mount is gone; `$0` is crun.
const CRUN_WRAPPER: &str = r#"umount /sys/fs/cgroup/unified 2>/dev/null; exec "$0" "$@""#;

/// Which OCI runtime a [`Runtime`] drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuntimeKind {
    /// berth's own `berth-runtime` binary.
    Berth,
    /// runc, the reference runtime.
    Runc,
    /// crun.
    Crun,
}

impl RuntimeKind {
    /// `"berth"`, `"runc"` or `"crun"`.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::Berth => "berth",
            RuntimeKind::Runc => "runc",
            RuntimeKind::Crun => "crun",
        }
    }
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Locates the `berth-runtime` binary:
///
/// 1. `$BERTH_RUNTIME`, if set (returned even if it does not exist);
/// 2. beside the running test binary's profile dir (`target/<profile>/deps/x`
///    → `target/<profile>/berth-runtime`), which follows `CARGO_TARGET_DIR`
///    and the profile the tests were built with;
/// 3. `$CARGO_TARGET_DIR` or `<workspace>/target`, in `debug/` then `release/`
///    (the newer of the two if both exist).
///
/// `berth-runtime` is the binary of the `berth-runtime-cli` package, which
/// cargo does not build for other packages' tests: build it first
/// (`cargo build --workspace`, as scripts/test does) or set `BERTH_RUNTIME`.
pub fn berth_runtime_path() -> Option<PathBuf> {
    const NAME: &str = "berth-runtime";
    if let Some(p) = std::env::var_os("BERTH_RUNTIME") {
        return Some(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe() {
        let candidates = exe.parent().into_iter().flat_map(|d| {
            [
                d.join(NAME),
                d.parent().map(|p| p.join(NAME)).unwrap_or_default(),
            ]
        });
        if let Some(p) = candidates.into_iter().find(|p| p.is_file()) {
            return Some(p);
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| workspace_root().map(|w| w.join("target")))?;
    ["debug", "release"]
        .iter()
        .map(|profile| target.join(profile).join(NAME))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max_by_key(|(mtime, _)| *mtime)
        .map(|(_, p)| p)
}

/// The nearest ancestor of this crate's manifest dir whose Cargo.toml has `[workspace]`.
fn workspace_root() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find_map(|dir| {
            let toml = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
            toml.contains("[workspace]").then(|| dir.to_path_buf())
        })
}

/// Whether cgroup2 is mounted at /sys/fs/cgroup/unified (hybrid layout).
fn hybrid_cgroups() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| {
        m.lines()
            .any(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup/unified"))
    })
}

/// A runner for one OCI runtime with its own fresh `--root` state directory.
///
/// Every invocation has stdin on `/dev/null`, stdout and stderr captured in
/// files (never pipes: a container started by `create` inherits them and would
/// keep a pipe open), its own process group, and a timeout
/// ([`DEFAULT_TIMEOUT`]; see [`Runtime::set_timeout`]) after which the group is
/// SIGKILLed and `timed out` is appended to stderr.
///
/// On drop, every container id this runner created (or was told about with
/// [`Runtime::track`]) is `delete --force`d, then the state directory is
/// removed; errors are ignored.
pub struct Runtime {
    kind: RuntimeKind,
    binary: PathBuf,
    /// `unshare`, when crun needs the hybrid-cgroup workaround.
    unshare: Option<PathBuf>,
    /// `<dir>/state` is `--root`; `<dir>/io` holds captured output.
    dir: TempDir,
    ids: Mutex<Vec<String>>,
    stdio: Mutex<HashMap<String, (PathBuf, PathBuf)>>,
    seq: AtomicU64,
    timeout: Duration,
}

impl Runtime {
    /// A runner for `berth-runtime` (see [`berth_runtime_path`]). Panics with
    /// a hint when the binary cannot be found: berth's tests never skip for that.
    pub fn berth() -> Runtime {
        match berth_runtime_path() {
            Some(p) if p.is_file() => Runtime::new(RuntimeKind::Berth, p),
            found => panic!(
                "berth-testkit: berth-runtime binary not found ({found:?}); build it with \
                 `cargo build -p berth-runtime-cli` or set BERTH_RUNTIME"
            ),
        }
    }

    /// A runner for runc, or `None` (after a skip message; a panic in CI) when
    /// runc is not installed.
    pub fn runc() -> Option<Runtime> {
        Some(Runtime::new(RuntimeKind::Runc, require_tool("runc")?))
    }

    /// A runner for crun, or `None` (after a skip message; a panic in CI) when
    /// crun, or `unshare` needed on a hybrid-cgroup host, is not installed.
    pub fn crun() -> Option<Runtime> {
        let crun = require_tool("crun")?;
        let mut rt = Runtime::new(RuntimeKind::Crun, crun);
        if hybrid_cgroups() {
            rt.unshare = Some(require_tool("unshare")?);
        }
        Some(rt)
    }

    /// A runner for `binary`, treated as `kind`. No wrapper is applied.
    pub fn new(kind: RuntimeKind, binary: impl Into<PathBuf>) -> Runtime {
        let dir = tempfile::Builder::new()
            .prefix(&format!("berth-{kind}-"))
            .tempdir()
            .expect("berth-testkit: cannot create runtime tempdir");
        std::fs::create_dir(dir.path().join("state"))
            .expect("berth-testkit: cannot create state dir");
        std::fs::create_dir(dir.path().join("io")).expect("berth-testkit: cannot create io dir");
        Runtime {
            kind,
            binary: binary.into(),
            unshare: None,
            dir,
            ids: Mutex::new(Vec::new()),
            stdio: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Which runtime this is.
    pub fn kind(&self) -> RuntimeKind {
        self.kind
    }

    /// The runtime binary.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The `--root` state directory passed to every invocation.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Sets the per-invocation timeout.
    pub fn set_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// A command for the runtime with `--root` already set: append the
    /// subcommand and its arguments. For crun on a hybrid-cgroup host it is
    /// `unshare -m sh -c '<umount unified; exec crun "$@">' crun --root …`.
    /// Running it yourself bypasses the timeout and cleanup: use
    /// [`Runtime::exec`] and [`Runtime::track`] for those.
    pub fn command(&self) -> Command {
        let mut cmd = match &self.unshare {
            Some(unshare) => {
                let mut c = Command::new(unshare);
                c.args(["-m", "sh", "-c", CRUN_WRAPPER]).arg(&self.binary);
                c
            }
            None => Command::new(&self.binary),
        };
        cmd.arg("--root").arg(self.root());
        cmd
    }

    /// Registers `id` for `delete --force` when the runner is dropped.
    pub fn track(&self, id: &str) {
        let mut ids = self.ids.lock().unwrap();
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }

    /// Runs `<runtime> --root <root> <args…>` with capture and timeout.
    pub fn exec(&self, args: &[&str]) -> Output {
        let (out, err) = self.io_paths("exec");
        let mut cmd = self.command();
        cmd.args(args);
        self.exec_cmd(cmd, &out, &err, self.timeout)
    }

    /// `run --bundle <bundle> <id>`: runs the container to completion and
    /// returns its exit status and output. Writes `config.json` first if the
    /// bundle's spec was edited ([`Bundle::sync`]).
    pub fn run(&self, bundle: &Bundle, id: &str) -> Output {
        bundle.sync();
        self.track(id);
        let bundle_path = bundle.path().to_string_lossy();
        self.exec(&["run", "--bundle", &bundle_path, id])
    }

    /// `create --bundle <bundle> <id>` (syncing `config.json` first).
    ///
    /// The container inherits the files that capture this call's stdout and
    /// stderr, so the returned [`Output`] holds what was written by the time
    /// `create` exited; read the container's later output with
    /// [`Runtime::container_output`].
    pub fn create(&self, bundle: &Bundle, id: &str) -> Output {
        bundle.sync();
        self.track(id);
        let (out, err) = self.io_paths(id);
        self.stdio
            .lock()
            .unwrap()
            .entry(id.to_string())
            .or_insert_with(|| (out.clone(), err.clone()));
        let mut cmd = self.command();
        cmd.args(["create", "--bundle"]).arg(bundle.path()).arg(id);
        self.exec_cmd(cmd, &out, &err, self.timeout)
    }

    /// Everything written so far to the stdout and stderr of the first
    /// [`Runtime::create`] of `id` — the runtime's own messages from `create`
    /// followed by the container process's output. Empty if `id` was never
    /// created by this runner.
    pub fn container_output(&self, id: &str) -> (String, String) {
        let paths = self.stdio.lock().unwrap().get(id).cloned();
        let read =
            |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
        paths.map_or_else(Default::default, |(o, e)| (read(&o), read(&e)))
    }

    /// `start <id>`.
    pub fn start(&self, id: &str) -> Output {
        self.exec(&["start", id])
    }

    /// `state <id>`.
    pub fn state(&self, id: &str) -> Output {
        self.exec(&["state", id])
    }

    /// `state <id>`, parsed; `None` if the command failed or printed no JSON.
    pub fn state_json(&self, id: &str) -> Option<Value> {
        let out = self.state(id);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// The `status` field of `state <id>` ("created", "running", "stopped", …).
    pub fn status(&self, id: &str) -> Option<String> {
        self.state_json(id)?["status"].as_str().map(String::from)
    }

    /// Polls [`Runtime::status`] until it equals `want` or `timeout` elapses;
    /// returns whether it got there.
    pub fn wait_for_status(&self, id: &str, want: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.status(id).as_deref() == Some(want) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill <id> <signal>`; `signal` as the runtimes take it: `KILL`,
    /// `SIGTERM`, `9`…
    pub fn kill(&self, id: &str, signal: &str) -> Output {
        self.exec(&["kill", id, signal])
    }

    /// `delete <id>`.
    pub fn delete(&self, id: &str) -> Output {
        self.exec(&["delete", id])
    }

    /// `delete --force <id>`.
    pub fn delete_force(&self, id: &str) -> Output {
        self.exec(&["delete", "--force", id])
    }

    /// Fresh capture file paths for one invocation.
    fn io_paths(&self, tag: &str) -> (PathBuf, PathBuf) {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let io = self.dir.path().join("io");
        (
            io.join(format!("{n}-{tag}.out")),
            io.join(format!("{n}-{tag}.err")),
        )
    }

    fn exec_cmd(&self, mut cmd: Command, out: &Path, err: &Path, timeout: Duration) -> Output {
        let create = |p: &Path| {
            File::create(p)
                .unwrap_or_else(|e| panic!("berth-testkit: cannot create {}: {e}", p.display()))
        };
        cmd.stdin(Stdio::null())
            .stdout(create(out))
            .stderr(create(err))
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("berth-testkit: cannot spawn {cmd:?}: {e}"));
        let deadline = Instant::now() + timeout;
        let mut timed_out = false;
        let status = loop {
            match child.try_wait().expect("berth-testkit: wait failed") {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    timed_out = true;
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(child.id() as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    break child.wait().expect("berth-testkit: wait failed");
                }
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let mut stderr = std::fs::read(err).unwrap_or_default();
        if timed_out {
            stderr.extend_from_slice(
                format!("\nberth-testkit: {cmd:?} timed out after {timeout:?}\n").as_bytes(),
            );
        }
        Output {
            status,
            stdout: std::fs::read(out).unwrap_or_default(),
            stderr,
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("kind", &self.kind)
            .field("binary", &self.binary)
            .field("root", &self.root())
            .finish_non_exhaustive()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut *self.ids.lock().unwrap_or_else(|e| e.into_inner()));
        for id in ids.iter().rev() {
            let (out, err) = self.io_paths("cleanup");
            let mut cmd = self.command();
            cmd.args(["delete", "--force", id]);
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.exec_cmd(cmd, &out, &err, Duration::from_secs(10))
            }));
        }
        // The TempDir removes the state and io directories when dropped.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_has_root() {
        let rt = Runtime::new(RuntimeKind::Runc, "/bin/echo");
        let out = rt.exec(&["state", "x"]);
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("--root {} state x\n", rt.root().display())
        );
    }

    #[test]
    fn timeout_kills() {
        let mut rt = Runtime::new(RuntimeKind::Runc, "/bin/sleep");
        rt.set_timeout(Duration::from_millis(200));
        let t = Instant::now();
        // `sleep --root <dir> 30` fails fast, so go through sh.
        let (out, err) = rt.io_paths("t");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30"]);
        let o = rt.exec_cmd(cmd, &out, &err, rt.timeout);
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("timed out"));
    }

    #[test]
    fn root_removed_on_drop() {
        let rt = Runtime::new(RuntimeKind::Runc, "/bin/true");
        rt.track("abc");
        let root = rt.root();
        assert!(root.is_dir());
        drop(rt);
        assert!(!root.exists());
    }

    #[test]
    fn finds_workspace() {
        let ws = workspace_root().unwrap();
        assert!(ws.join("crates/testkit").is_dir());
    }
}
