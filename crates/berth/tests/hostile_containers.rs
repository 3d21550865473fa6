#![forbid(unsafe_code)]
//! What an image or a container controls must not wedge or bloat the
//! daemon (issue 14), against a private `berth daemon`:
//!
//! - an image whose /etc/passwd is a FIFO: `create --user nobody` fails at
//!   once with a clear error (it blocked forever), and the daemon still
//!   answers and stops on SIGTERM;
//! - `logs --tail N` of a huge json-file log (one line of it huge too)
//!   reads from the end: the daemon's peak memory barely moves.
//!
//! Needs root: skips without it, except under CI=true.

mod common;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_testkit::OutputExt;
use common::engine::Engine;

/// The daemon's peak resident memory so far (VmHWM), in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn an_image_with_a_fifo_for_passwd_cannot_wedge_the_daemon() {
    let Some(mut e) = Engine::private_berth_daemon() else {
        return;
    };
    let root = e.path("fifo-root");
    berth_testkit::busybox_rootfs(&root).unwrap();
    let passwd = root.join("etc/passwd");
    let _ = std::fs::remove_file(&passwd);
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let st = Command::new("mkfifo").arg(&passwd).status().unwrap();
    assert!(st.success());
    let tarball = e.path("fifo.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    e.berth(&["import", &tarball.display().to_string(), "fifo:test"])
        .assert_success();

    let started = Instant::now();
    let out = e.berth(&["create", "--user", "nobody", "fifo:test", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", out.stderr_str());
    assert!(
        out.stderr_str().contains("/etc/passwd: not a regular file"),
        "{}",
        out.stderr_str()
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // The daemon answers and stops at once on SIGTERM.
    e.berth(&["ps", "-a"]).assert_success();
    let d = e.berth_daemon();
    let pid = d.pid().unwrap();
    common::dockerd::kill(pid as i32, libc::SIGTERM);
    let stopped = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}/stat")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
    {
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "the daemon did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    d.restart();
}

#[test]
fn logs_tail_reads_a_huge_log_from_its_end() {
    let Some(mut e) = Engine::private_berth_daemon() else {
        return;
    };
    let name = e.name("biglog");
    e.berth(&["run", "--name", &name, &e.image, "echo", "first"])
        .assert_success();
    let log = e.berth(&["inspect", "-f", "{{.LogPath}}", &name]);
    log.assert_success();
    let path = log.stdout_str().trim().to_string();
    // 200 MB of lines, one of them 50 MB long, then two last lines.
    {
        let mut f = std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap(),
        );
        let line = format!(
            "{{\"log\":\"{}\\n\",\"stream\":\"stdout\",\"time\":\"2026-01-01T00:00:00Z\"}}\n",
            "y".repeat(1000)
        );
        for i in 0..150_000 {
            f.write_all(line.as_bytes()).unwrap();
            if i == 75_000 {
                let huge = "z".repeat(50 << 20);
                writeln!(
                    f,
                    "{{\"log\":\"{huge}\",\"stream\":\"stdout\",\"time\":\"2026-01-01T00:00:00Z\"}}"
                )
                .unwrap();
            }
        }
        for last in ["second to last", "last"] {
            writeln!(
                f,
                "{{\"log\":\"{last}\\n\",\"stream\":\"stdout\",\"time\":\"2026-01-01T00:00:01Z\"}}"
            )
            .unwrap();
        }
    }
    let pid = e.berth_daemon().pid().unwrap();
    let before = peak_kib(pid);
    let out = e.berth(&["logs", "--tail", "2", &name]);
    out.assert_success();
    assert_eq!(out.stdout_str(), "second to last\nlast\n");
    // The whole log, streamed: every line but the huge one, in bounded
    // batches (the client's pipe is read as it comes).
    let all = e.berth(&["logs", &name]);
    all.assert_success();
    assert_eq!(all.stdout_str().lines().count(), 1 + 150_000 + 2);
    let grew = peak_kib(pid).saturating_sub(before);
    eprintln!("the daemon's peak memory grew by {grew} KiB");
    assert!(
        grew < 32 * 1024,
        "logs grew the daemon's peak memory by {grew} KiB"
    );
    e.berth(&["rm", &name]).assert_success();
}
