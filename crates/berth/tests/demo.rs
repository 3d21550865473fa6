#![forbid(unsafe_code)]
//! The main job as README runs it (issue 13): `scripts/demo` on a fresh
//! clone of the repository's HEAD. The demo checks what it shows (the note
//! read back through the published port, a second `up` that recreates
//! nothing, the data through a SIGKILL of the database and a `down` +
//! `up`, the multi-stage image smaller than the single-stage one) and
//! exits non-zero when one fails; this test runs it with a port and a
//! bridge of its own and reads its verdict.
//!
//! Slow (a release build, Debian's packages, PyPI): ignored by a plain
//! `cargo test`; scripts/test runs it after the rest. Needs root, the
//! network to deb.debian.org and PyPI, git and curl.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_testkit::{require_root, require_tool, unique_id};

/// A first run downloads Debian's packages and builds berth in release.
const DEMO_TIMEOUT: Duration = Duration::from_secs(40 * 60);

#[test]
#[ignore = "slow: scripts/test runs it after the rest (cargo test -p berth --test demo -- --ignored)"]
fn the_demo_runs_on_a_fresh_clone() {
    if !require_root() {
        return;
    }
    for tool in ["git", "curl"] {
        if require_tool(tool).is_none() {
            return;
        }
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let clone = dir.path().join("berth");
    let out = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(&repo)
        .arg(&clone)
        .output()
        .unwrap();
    assert!(out.status.success(), "git clone: {out:?}");
    let head = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(&clone)
        .output()
        .unwrap();
    eprintln!(
        "demo on a fresh clone of {}",
        String::from_utf8_lossy(&head.stdout).trim()
    );

    // A port nobody listens on now, a bridge name no other test uses.
    let port = TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let id = unique_id("d");
    let bridge = format!("bd{}", &id[id.len() - 8..]);
    // The release build reuses the checkout's compiled dependencies.
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(|t| Path::new(&t).join("static"))
        .unwrap_or_else(|_| repo.join("target/static"));
    let log = std::fs::File::create(dir.path().join("demo.log")).unwrap();
    let mut child = Command::new(clone.join("scripts/demo"))
        .env("WEB_PORT", port.to_string())
        .env("BERTH_DEMO_BRIDGE", &bridge)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("BERTH_DEMO_KEEP")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap();
    let status = match wait_timeout(&mut child, DEMO_TIMEOUT) {
        Some(s) => s,
        None => {
            // SIGTERM to the whole group: the demo's trap takes its stack,
            // engine and bridge down.
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{}", child.id())])
                .status();
            wait_timeout(&mut child, Duration::from_secs(60));
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the demo did not finish in {DEMO_TIMEOUT:?}:\n{}",
                output(dir.path())
            );
        }
    };
    let text = output(dir.path());
    eprintln!("{text}");
    assert!(status.success(), "the demo failed ({status}):\n{text}");
    for seen in [
        "the same containers: nothing was recreated",
        "/notes-db-1 restarted 1 time(s), healthy",
        "demo: every check passed",
    ] {
        assert!(text.contains(seen), "the demo did not say {seen:?}");
    }
    // Its cleanup left no bridge behind.
    assert!(
        !berth_testkit::link_exists(&bridge),
        "the demo left its bridge {bridge}"
    );
}

fn output(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("demo.log")).unwrap_or_default()
}

fn wait_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    None
}
