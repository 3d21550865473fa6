//! OCI hooks: programs run at points of the lifecycle, given the state on stdin.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::error::{Error, Result};

/// Runs `hooks` in order; the first failure stops the rest.
pub fn run(kind: &str, hooks: Option<&Vec<Hook>>, state_json: &[u8]) -> Result<()> {
    run_inheriting(kind, hooks, state_json, None)
}

/// As [`run`]; a hook without an env gets `inherit` (the container
/// process's, for startContainer hooks, as runc) instead of ours.
pub fn run_inheriting(
    kind: &str,
    hooks: Option<&Vec<Hook>>,
    state_json: &[u8],
    inherit: Option<&[String]>,
) -> Result<()> {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        run_one(h, state_json, inherit)
            .map_err(|e| Error::Other(format!("{kind} hook #{i} ({}): {e}", h.path().display())))?;
    }
    Ok(())
}

fn run_one(
    h: &Hook,
    state_json: &[u8],
    inherit: Option<&[String]>,
) -> std::result::Result<(), String> {
    use std::os::unix::process::CommandExt;
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some(arg0) = args.first() {
        cmd.arg0(arg0);
    }
    cmd.args(args.iter().skip(1));
    cmd.env_remove(crate::cloned_exe::CALLER_MNTNS_ENV);
    // As runc (Go's exec.Cmd with a nil Env): a hook without an env gets
    // the runtime's own; one with an env gets exactly that.
    if let Some(env) = h.env().as_deref().or(inherit) {
        cmd.env_clear()
            .envs(env.iter().filter_map(|e| e.split_once('=')));
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading its stdin; that is not an error.
        let _ = stdin.write_all(state_json);
    }
    let deadline = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            if status.success() {
                return Ok(());
            }
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                use std::io::Read;
                let _ = s.read_to_string(&mut err);
            }
            return Err(format!("{status}: {}", err.trim()));
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", h.timeout().unwrap_or(0)));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
