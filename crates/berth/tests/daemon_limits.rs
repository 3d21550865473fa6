#![forbid(unsafe_code)]
//! The API server against clients that hold connections: more idle
//! connections than the daemon may open files, accept(2) failing for want
//! of descriptors, request heads that never end, idle keep-alive
//! connections; and the long answers (a followed log, attach, wait,
//! events) that no timeout may cut. Each test runs its own daemon (own
//! data root, exec root and socket), as root.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_testkit::{require_root, require_tool};
use common::engine::{BerthDaemon, Engine, eventually};

/// A private daemon (the binary `BERTH_TEST_DAEMON_BIN` names, else this
/// build's) started through `wrapper` with `flags`; None (a skip) without
/// root.
fn daemon(wrapper: &[&str], flags: &[&str]) -> Option<BerthDaemon> {
    if !require_root() {
        return None;
    }
    let bin = std::env::var_os("BERTH_TEST_DAEMON_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_berth")));
    Some(BerthDaemon::start_with(&bin, wrapper, flags))
}

fn socket(host: &str) -> PathBuf {
    PathBuf::from(host.strip_prefix("unix://").expect("a unix:// host"))
}

/// `GET /_ping` on a connection of its own answers 200 before `timeout`.
fn pings_within(socket: &Path, timeout: Duration) -> bool {
    let ping = || -> Option<()> {
        let mut s = UnixStream::connect(socket).ok()?;
        s.set_read_timeout(Some(timeout)).ok()?;
        s.write_all(b"GET /_ping HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        text.starts_with("HTTP/1.1 200").then_some(())
    };
    eventually(timeout, || ping().is_some())
}

/// Opens `n` connections that say nothing.
fn idle_connections(socket: &Path, n: usize) -> Vec<UnixStream> {
    (0..n)
        .map(|i| {
            UnixStream::connect(socket)
                .unwrap_or_else(|e| panic!("connection {i}: {e} (the listen backlog holds 4096)"))
        })
        .collect()
}

/// The daemon's pid, from its pidfile.
fn pid_in(pidfile: &Path) -> u32 {
    std::fs::read_to_string(pidfile)
        .unwrap_or_else(|e| panic!("{}: {e}", pidfile.display()))
        .trim()
        .parse()
        .unwrap()
}

/// Waits (at most 10 s) until the daemon's log says `said` or it exits.
fn wait_for_log_or_exit(d: &mut BerthDaemon, said: &str) {
    eventually(Duration::from_secs(10), || {
        d.exit_status().is_some() || d.log().contains(said)
    });
}

fn assert_alive(d: &mut BerthDaemon) {
    let status = d.exit_status();
    assert!(
        status.is_none(),
        "the daemon ended ({status:?}): {}",
        d.log()
    );
}

/// The daemon lives, still has its socket and its pidfile, and answers.
fn assert_serving(d: &mut BerthDaemon, pidfile: &Path) {
    assert_alive(d);
    let socket = socket(&d.host);
    assert!(socket.exists(), "{} is gone", socket.display());
    assert!(pidfile.exists(), "{} is gone", pidfile.display());
    assert!(
        pings_within(&socket, Duration::from_secs(20)),
        "the daemon does not answer: {}",
        d.log()
    );
}

/// 300 idle connections to a daemon that may open 256 files: it serves 128
/// (half its limit) and leaves the rest in the listen backlog, says so,
/// and lives; once they close it answers again, its socket and pidfile in
/// place. Before the bound, accept(2) failed with EMFILE and the daemon
/// exited.
#[test]
fn idle_connections_beyond_the_open_file_limit_wait_their_turn() {
    let Some(prlimit) = require_tool("prlimit") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("berth.pid");
    let prlimit = prlimit.to_string_lossy().into_owned();
    let pidfile_arg = pidfile.to_string_lossy().into_owned();
    let Some(mut d) = daemon(
        &[&prlimit, "--nofile=256:256", "--"],
        &["--pidfile", &pidfile_arg],
    ) else {
        return;
    };
    let conns = idle_connections(&socket(&d.host), 300);
    let said = "128 API connections open, the most at once";
    wait_for_log_or_exit(&mut d, said);
    // Time for anything more it would accept, and die of.
    std::thread::sleep(Duration::from_secs(1));
    assert_alive(&mut d);
    assert!(d.log().contains(said), "no word of the bound: {}", d.log());
    drop(conns);
    assert_serving(&mut d, &pidfile);
}

/// The open-file limit lowered under a running daemon (its bound still the
/// old limit's half): accept(2) fails with EMFILE; the daemon logs it,
/// backs off, and accepts again once connections close.
#[test]
fn accept_failing_for_want_of_descriptors_is_waited_out() {
    let Some(prlimit) = require_tool("prlimit") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("berth.pid");
    let pidfile_arg = pidfile.to_string_lossy().into_owned();
    let Some(mut d) = daemon(&[], &["--pidfile", &pidfile_arg]) else {
        return;
    };
    let pid = pid_in(&pidfile);
    let st = Command::new(prlimit)
        .arg(format!("--pid={pid}"))
        .arg("--nofile=64:64")
        .status()
        .unwrap();
    assert!(st.success(), "prlimit: {st}");
    let conns = idle_connections(&socket(&d.host), 100);
    let said = "cannot accept API connections (the daemon has as many files open as its \
                RLIMIT_NOFILE allows): Too many open files";
    wait_for_log_or_exit(&mut d, said);
    std::thread::sleep(Duration::from_secs(1));
    assert_alive(&mut d);
    assert!(d.log().contains(said), "no word of EMFILE: {}", d.log());
    drop(conns);
    assert_serving(&mut d, &pidfile);
    assert!(
        d.log().contains("accepting API connections again"),
        "{}",
        d.log()
    );
}

/// Reads one response whose body has a Content-Length; its text.
fn read_response(s: &mut UnixStream) -> String {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .expect("a Content-Length");
            if body.len() >= len {
                return text;
            }
        }
        let n = s.read(&mut buf).expect("a response");
        assert!(n > 0, "the connection closed mid-response: {text:?}");
        raw.extend_from_slice(&buf[..n]);
    }
}

/// How long after `since` the server closed `s` (read gives EOF or a
/// reset); None if it is still open at `since + limit`.
fn closed_after(s: &mut UnixStream, since: Instant, limit: Duration) -> Option<Duration> {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while since.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return Some(since.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(since.elapsed()),
        }
    }
    None
}

/// With a 2 s head timeout: a head that never ends, a connection that says
/// nothing, and a keep-alive connection idle after its requests are each
/// closed about 2 s on; requests on a connection less than 2 s apart are
/// all answered. Before, all three stayed open for good.
#[test]
fn heads_that_never_end_and_idle_connections_are_closed() {
    let Some(d) = daemon(&[], &["--api-header-timeout", "2s"]) else {
        return;
    };
    let socket = socket(&d.host);
    let mut partial = UnixStream::connect(&socket).unwrap();
    partial
        .write_all(b"GET /_ping HTTP/1.1\r\nHost: berth\r\n")
        .unwrap();
    let partial_since = Instant::now();
    let mut silent = UnixStream::connect(&socket).unwrap();
    let silent_since = Instant::now();

    let mut kept = UnixStream::connect(&socket).unwrap();
    for _ in 0..3 {
        kept.write_all(b"GET /_ping HTTP/1.1\r\nHost: berth\r\n\r\n")
            .unwrap();
        let answer = read_response(&mut kept);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        std::thread::sleep(Duration::from_secs(1));
    }
    // One second idle already.
    let kept_since = Instant::now() - Duration::from_secs(1);

    let limit = Duration::from_secs(15);
    for (what, s, since) in [
        ("a head that never ends", &mut partial, partial_since),
        ("a connection that says nothing", &mut silent, silent_since),
        ("an idle keep-alive connection", &mut kept, kept_since),
    ] {
        let after = closed_after(s, since, limit)
            .unwrap_or_else(|| panic!("{what} is still open after {limit:?}"));
        assert!(
            after >= Duration::from_millis(1500) && after < Duration::from_secs(10),
            "{what} closed after {after:?}, not about 2 s"
        );
    }
    assert!(pings_within(&socket, Duration::from_secs(5)), "{}", d.log());
}

/// One request on its own connection, left open: the stream.
fn open_stream(socket: &Path, request: &str) -> UnixStream {
    let mut s = UnixStream::connect(socket).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    s
}

/// Reads `s` until its text contains `needle`; the text so far if it never
/// does before `deadline` or the connection ends.
fn read_until(s: &mut UnixStream, needle: &str, deadline: Instant) -> Result<String, String> {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&raw).into_owned();
        if text.contains(needle) {
            return Ok(text);
        }
        if Instant::now() > deadline {
            return Err(format!("{text:?} (timed out)"));
        }
        match s.read(&mut buf) {
            Ok(0) => return Err(format!("{text:?} (closed)")),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(format!("{text:?} ({e})")),
        }
    }
}

/// With a 2 s head timeout, answers that stay silent for 6 s go on: a
/// followed log, a hijacked attach, a wait, the events stream. The
/// timeout is for the wait for a request's head only.
#[test]
fn long_answers_outlive_the_head_timeout() {
    let Some(e) = Engine::private_berth_daemon_with(&["--api-header-timeout", "2s"]) else {
        return;
    };
    let socket = socket(&e.host);
    let name = e.name("late");
    let out = e.berth(&[
        "run",
        "-d",
        "--name",
        &name,
        &e.image,
        "sh",
        "-c",
        "sleep 6; echo late; exec sleep 1000",
    ]);
    assert!(
        out.status.success(),
        "run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started = Instant::now();
    let mut logs = open_stream(
        &socket,
        &format!(
            "GET /containers/{name}/logs?follow=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: berth\r\n\r\n"
        ),
    );
    let mut attach = open_stream(
        &socket,
        &format!(
            "POST /containers/{name}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: berth\r\n\
             Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        ),
    );
    let mut wait = open_stream(
        &socket,
        &format!("POST /containers/{name}/wait HTTP/1.1\r\nHost: berth\r\n\r\n"),
    );
    let mut events = open_stream(&socket, "GET /events HTTP/1.1\r\nHost: berth\r\n\r\n");

    let deadline = started + Duration::from_secs(30);
    for (what, s) in [("logs -f", &mut logs), ("attach", &mut attach)] {
        if let Err(text) = read_until(s, "late", deadline) {
            panic!("{what} never showed the late line: {text}");
        }
    }
    assert!(
        started.elapsed() > Duration::from_secs(4),
        "the late line came early: the streams were not tested past the timeout"
    );
    let out = e.berth(&["kill", &name]);
    assert!(
        out.status.success(),
        "kill: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    if let Err(text) = read_until(&mut wait, "StatusCode", deadline) {
        panic!("wait gave no answer: {text}");
    }
    if let Err(text) = read_until(&mut events, "\"die\"", deadline) {
        panic!("events missed the container's death: {text}");
    }
}
