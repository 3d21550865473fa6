#![forbid(unsafe_code)]
//! Supervision does what it promises (issue 14), against a private
//! `berth daemon`:
//!
//! - a SIGKILL through `kill` returns once the container is dead: the
//!   inspect and `rm` right after see it exited;
//! - after a daemon restart, `--restart always` starts a container the user
//!   had stopped (Docker's documented behaviour) and `unless-stopped` keeps
//!   it stopped;
//! - a health probe that outlives its timeout is killed with what it
//!   started, and counts as a failure: probes never pile up.
//!
//! Needs root: skips without it, except under CI=true.

mod common;

use std::time::Duration;

use berth_testkit::OutputExt;
use common::engine::{Engine, eventually};

#[test]
fn kill_returns_when_the_container_is_dead() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    for round in 0..10 {
        let name = e.name(&format!("kill{round}"));
        e.berth(&["run", "-d", "--name", &name, &e.image, "sleep", "1000"])
            .assert_success();
        assert_eq!(
            e.api("POST", &format!("/containers/{name}/kill"), None).0,
            204
        );
        let (_, inspect) = e.api("GET", &format!("/containers/{name}/json"), None);
        let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
        assert_eq!(
            (&v["State"]["Running"], &v["State"]["ExitCode"]),
            (&serde_json::json!(false), &serde_json::json!(137)),
            "round {round}: inspect right after the kill"
        );
        // No 409 "container is running" from an rm right after.
        let (status, body) = e.api("DELETE", &format!("/containers/{name}"), None);
        assert_eq!(
            status, 204,
            "round {round}: rm right after the kill: {body}"
        );
    }
}

#[test]
fn restart_policies_across_a_daemon_restart() {
    let Some(mut e) = Engine::private_berth_daemon() else {
        return;
    };
    let always = e.name("always");
    let unless = e.name("unless");
    for (name, policy) in [(&always, "always"), (&unless, "unless-stopped")] {
        e.berth(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            &e.image,
            "sleep",
            "1000",
        ])
        .assert_success();
        e.berth(&["stop", "-t", "0", name]).assert_success();
    }
    let status = |e: &Engine, name: &str| {
        e.berth(&["inspect", "-f", "{{.State.Status}}", name])
            .stdout_str()
            .trim()
            .to_string()
    };
    // Stopped by the user: the running daemon leaves both down.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status(&e, &always), "exited");
    assert_eq!(status(&e, &unless), "exited");

    e.berth_daemon().restart();
    assert!(
        eventually(Duration::from_secs(20), || status(&e, &always) == "running"),
        "--restart always was not started with the daemon: {}",
        status(&e, &always)
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(status(&e, &unless), "exited");
    for name in [&always, &unless] {
        e.berth(&["rm", "-f", name]).assert_success();
    }
}

#[test]
fn a_probe_past_its_timeout_is_killed_and_fails() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let name = e.name("probe");
    e.berth(&[
        "run",
        "-d",
        "--name",
        &name,
        "--health-cmd",
        "sleep 100",
        "--health-interval",
        "1s",
        "--health-timeout",
        "1s",
        "--health-retries",
        "2",
        &e.image,
        "sleep",
        "1000",
    ])
    .assert_success();
    let health = |what: &str| {
        e.berth(&["inspect", "-f", what, &name])
            .stdout_str()
            .trim()
            .to_string()
    };
    assert!(
        eventually(Duration::from_secs(30), || health(
            "{{.State.Health.FailingStreak}}"
        )
        .parse::<u32>()
        .is_ok_and(|n| n >= 4)),
        "the probes did not fail: {}",
        health("{{json .State.Health}}")
    );
    assert_eq!(health("{{.State.Health.Status}}"), "unhealthy");
    assert!(
        health("{{json .State.Health}}").contains("Health check exceeded timeout"),
        "{}",
        health("{{json .State.Health}}")
    );
    // Four probes ran out their second; at most the one running now (and
    // its runtime) is alive.
    let top = e.berth(&["top", &name, "-o", "pid,args"]);
    let probes = top
        .stdout_str()
        .lines()
        .filter(|l| l.contains("sleep 100"))
        .count();
    assert!(probes <= 1, "probes pile up:\n{}", top.stdout_str());
    e.berth(&["rm", "-f", &name]).assert_success();
}

/// `rm -f` racing restarts by a health check's on-failure action leaves
/// nothing: no bundle, container directory, shim or runtime state.
#[test]
fn rm_racing_a_health_restart_leaves_nothing() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let base = e.dir.parent().unwrap().to_path_buf();
    let listing = |dir: &str| -> Vec<String> {
        std::fs::read_dir(base.join(dir))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default()
    };
    for round in 0..12u64 {
        let name = e.name(&format!("race{round}"));
        e.berth(&[
            "run",
            "-d",
            "--name",
            &name,
            "--health-cmd",
            "false",
            "--health-interval",
            "100ms",
            "--health-retries",
            "1",
            "-l",
            "io.berth.health-on-failure=restart",
            &e.image,
            "sleep",
            "1000",
        ])
        .assert_success();
        // Into the restarts, at a different point each round.
        std::thread::sleep(Duration::from_millis(150 + round * 45));
        e.berth(&["rm", "-f", &name]).assert_success();
    }
    for dir in [
        "exec/bundles",
        "exec/runtime",
        "exec/shims",
        "data/containers",
    ] {
        assert!(
            eventually(Duration::from_secs(10), || listing(dir).is_empty()),
            "{dir} left: {:?} ({})",
            listing(dir),
            String::from_utf8_lossy(
                &std::process::Command::new("find")
                    .arg(base.join(dir))
                    .output()
                    .unwrap()
                    .stdout
            )
        );
    }
}
