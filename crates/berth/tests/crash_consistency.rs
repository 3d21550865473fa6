#![forbid(unsafe_code)]
//! A crash loses nothing and leaves nothing (issue 14): the daemon is
//! SIGKILLed at varying points of parallel creates, starts, stops,
//! removals, image loads and volume creates, 20 rounds, then started
//! again; after each round every record must be true and every container
//! operable, and at the end `rm -f` of everything must leave no shim,
//! runtime state, bundle, cgroup or mount.
//!
//! Needs root: skips without it, except under CI=true.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_testkit::OutputExt;
use common::engine::{Engine, eventually};

const ROUNDS: u64 = 20;

/// The daemon's exec root and data root (common/engine.rs lays them out).
fn roots(e: &Engine) -> (PathBuf, PathBuf) {
    let base = e.dir.parent().unwrap();
    (base.join("exec"), base.join("data"))
}

/// `berth shim` processes serving bundles under `exec`.
fn shims(exec: &Path) -> Vec<i32> {
    let want = exec.join("bundles");
    let want = want.to_string_lossy();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.len() >= 3 && args[1] == "shim" && args[2].starts_with(want.as_ref()) {
            found.push(pid);
        }
    }
    found
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                // The runtime's caches (.seccomp-cache) are no container's.
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Cgroups named by a container id, under any controller's berth parent.
fn cgroups_of(ids: &[String]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for controller in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for id in ids {
            let p = controller.path().join("berth").join(id);
            if p.exists() {
                found.push(p);
            }
        }
    }
    found
}

fn ids(e: &Engine) -> Vec<String> {
    let out = e.berth(&["ps", "-aq", "--no-trunc"]);
    out.assert_success();
    out.stdout_str().lines().map(str::to_string).collect()
}

fn inspect(e: &Engine, id: &str, format: &str) -> String {
    let out = e.berth(&["inspect", "-f", format, id]);
    out.assert_success();
    out.stdout_str().trim().to_string()
}

/// Every record is true after a restart: a running container has a live
/// process and one shim; every other one starts.
fn check_records(e: &Engine, round: u64) {
    let (exec, _) = roots(e);
    for id in ids(e) {
        let status = inspect(e, &id, "{{.State.Status}}");
        match status.as_str() {
            "running" => {
                let pid = inspect(e, &id, "{{.State.Pid}}");
                assert!(
                    Path::new(&format!("/proc/{pid}")).exists(),
                    "round {round}: {id} is running in its record, but its pid {pid} is gone"
                );
            }
            "created" | "exited" => {
                let out = e.berth(&["start", &id]);
                assert!(
                    out.status.success(),
                    "round {round}: {id} ({status}) does not start: {}",
                    out.stderr_str()
                );
            }
            other => panic!("round {round}: {id} is {other} after a restart"),
        }
    }
    let running = ids(e).len();
    assert!(
        eventually(Duration::from_secs(10), || shims(&exec).len() == running),
        "round {round}: {} shims for {running} containers",
        shims(&exec).len()
    );
}

#[test]
fn sigkill_of_the_daemon_mid_operations_loses_and_leaves_nothing() {
    let Some(mut e) = Engine::private_berth_daemon() else {
        return;
    };
    let (exec, data) = roots(&e);
    let archive = e.path("image.tar");
    e.berth(&["save", "-o", &archive.to_string_lossy(), &e.image])
        .assert_success();
    let mut every_id = Vec::new();
    for round in 0..ROUNDS {
        let before = ids(&e);
        every_id.extend(before.iter().cloned());
        std::thread::scope(|s| {
            let e = &e;
            for _ in 0..6 {
                s.spawn(move || e.berth(&["run", "-d", &e.image, "sleep", "1000"]));
            }
            for _ in 0..2 {
                s.spawn(move || e.berth(&["create", &e.image, "sleep", "1000"]));
            }
            for id in before.iter().take(2) {
                s.spawn(move || e.berth(&["stop", "-t", "0", id]));
            }
            for id in before.iter().skip(2).take(2) {
                s.spawn(move || e.berth(&["rm", "-f", id]));
            }
            s.spawn(move || e.berth(&["volume", "create", &format!("crashvol{round}")]));
            let archive = archive.to_string_lossy().into_owned();
            s.spawn(move || e.berth(&["load", "-q", "-i", &archive]));
            // Points spread over the operations' span, the same every run.
            std::thread::sleep(Duration::from_millis(40 + (round * 37) % 400));
            e_kill(e);
        });
        e.berth_daemon().restart();
        check_records(&e, round);
        // Volumes and the image are whole: each volume mounts, the image runs.
        e.berth(&["run", "--rm", &e.image, "true"]).assert_success();
        let vols = e.berth(&["volume", "ls", "-q"]);
        for v in vols.stdout_str().lines() {
            e.berth(&[
                "run",
                "--rm",
                "-v",
                &format!("{v}:/v"),
                &e.image,
                "touch",
                "/v/ok",
            ])
            .assert_success();
        }
    }
    // Everything removed: nothing left of any container.
    let all = ids(&e);
    every_id.extend(all.iter().cloned());
    every_id.sort();
    every_id.dedup();
    for id in &all {
        e.berth(&["rm", "-f", id]).assert_success();
    }
    assert!(
        eventually(Duration::from_secs(10), || shims(&exec).is_empty()),
        "shims left: {:?}",
        shims(&exec)
    );
    for dir in ["runtime", "bundles", "shims"] {
        assert!(
            eventually(Duration::from_secs(5), || entries(&exec.join(dir))
                .is_empty()),
            "{dir} left: {:?}",
            entries(&exec.join(dir))
        );
    }
    assert_eq!(cgroups_of(&every_id), Vec::<PathBuf>::new());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = data.parent().unwrap().to_string_lossy().into_owned();
    let left: Vec<&str> = mounts.lines().filter(|l| l.contains(&root)).collect();
    assert!(left.is_empty(), "mounts left: {left:#?}");
}

/// SIGKILL to the daemon, as a crash (its containers and shims live on).
fn e_kill(e: &Engine) {
    let socket = e.host.strip_prefix("unix://").unwrap();
    let base = Path::new(socket).parent().unwrap();
    let pids = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| {
            let pid: i32 = p.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(p.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (text.contains(" daemon ") && text.contains(&*base.to_string_lossy())).then_some(pid)
        });
    for pid in pids {
        common::dockerd::kill(pid, libc::SIGKILL);
    }
}
