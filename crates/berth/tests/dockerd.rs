#![forbid(unsafe_code)]
//! A real client drives `berth-runtime`: a private dockerd (Debian's 20.10,
//! with its own containerd and containerd-shim-runc-v2) runs containers with
//! `--runtime berth`, and the docker CLI checks what a user sees: output,
//! exit codes (including docker's 126/127 mapping of create errors), memory
//! limits, `exec`, `stop` escalating to SIGKILL, and terminals through the
//! console socket.
//!
//! Needs root, `dockerd`, `docker`, `containerd`, `containerd-shim-runc-v2`
//! and `tar` (plus util-linux `script` for the terminal checks). Without them
//! the test skips with a message, except with `CI=true`, where it panics.
//!
//! Everything is hermetic: data root, exec root, pid file, socket, daemon
//! config and docker CLI config live in a fresh directory under /tmp (short,
//! because unix socket paths are limited to 108 bytes). A drop guard removes
//! the containers, stops dockerd (SIGTERM, then SIGKILL of its process group),
//! kills any containerd or shim left behind, unmounts whatever is still
//! mounted under the directory and removes it, also when a check fails.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use berth_testkit::{OutputExt, require_root, require_tool, unique_id};
use common::dockerd::Dockerd;

/// The name dockerd knows berth-runtime by (`--add-runtime berth=...`).
const RUNTIME: &str = "berth";
/// The busybox image imported into the private daemon.
const IMAGE: &str = "berthbb:test";

#[test]
fn dockerd_runs_containers_with_berth_runtime() {
    if !require_root() {
        return;
    }
    let Some(dockerd) = require_tool("dockerd") else {
        return;
    };
    let Some(docker) = require_tool("docker") else {
        return;
    };
    // dockerd starts containerd, which starts the shim, from PATH.
    for tool in ["containerd", "containerd-shim-runc-v2", "tar"] {
        if require_tool(tool).is_none() {
            return;
        }
    }

    let runtime = berth_testkit::berth_runtime_path()
        .expect("berth-runtime is built (cargo build --workspace) or BERTH_RUNTIME names it");
    let runtime = runtime.as_path();
    let d = Dockerd::start(&dockerd, docker, Some((RUNTIME, runtime)));
    d.import_busybox(IMAGE);

    // 1. Output and exit codes of `docker run`.
    let out = d.docker(&["run", "--runtime", RUNTIME, "--rm", IMAGE, "echo", "hello"]);
    assert_stdout(&out, "hello\n");
    d.docker(&[
        "run",
        "--runtime",
        RUNTIME,
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "exit 3",
    ])
    .assert_code(3);
    // docker maps "no such file or directory" in the create error to 127 ...
    d.docker(&["run", "--runtime", RUNTIME, "--rm", IMAGE, "/nope"])
        .assert_code(127);
    // ... and "permission denied" to 126 (/etc/passwd is 0644).
    d.docker(&["run", "--runtime", RUNTIME, "--rm", IMAGE, "/etc/passwd"])
        .assert_code(126);

    // 2. A memory limit reaches the container's cgroup (v1 path, as the
    // container sees it through its cgroup mount).
    if Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
        let out = d.docker(&[
            "run",
            "--runtime",
            RUNTIME,
            "--rm",
            "-m",
            "32m",
            IMAGE,
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        ]);
        assert_stdout(&out, "33554432\n");
    } else {
        let out = d.docker(&[
            "run",
            "--runtime",
            RUNTIME,
            "--rm",
            "-m",
            "32m",
            IMAGE,
            "cat",
            "/sys/fs/cgroup/memory.max",
        ]);
        assert_stdout(&out, "33554432\n");
    }

    // 4a. `docker run -it`: the pty master goes through the console socket.
    let script = require_tool("script");
    if let Some(script) = &script {
        let out = d.script(
            script,
            &format!("run --runtime {RUNTIME} --rm -it {IMAGE} sh -c 'tty; echo done'"),
        );
        out.assert_success();
        let text = out.stdout_str();
        assert!(
            text.contains("/dev/pts/") && text.contains("done"),
            "docker run -it: expected a /dev/pts/N tty and `done`, got {text:?} (stderr {:?})",
            out.stderr_str()
        );
    }

    // 3. A detached container: exec, stop escalating to SIGKILL, rm.
    let name = unique_id("berth-dockerd");
    d.track(&name);
    d.docker(&[
        "run",
        "-d",
        "--runtime",
        RUNTIME,
        "--name",
        &name,
        IMAGE,
        "sleep",
        "1000",
    ])
    .assert_success();
    assert_stdout(&d.docker(&["exec", &name, "echo", "inexec"]), "inexec\n");
    d.docker(&["exec", &name, "sh", "-c", "exit 5"])
        .assert_code(5);
    // A failed exec start: the docker CLI reports 126, exactly as with runc.
    d.docker(&["exec", &name, "/nope"]).assert_code(126);

    // 4b. `docker exec -it` in the running container.
    if let Some(script) = &script {
        let out = d.script(script, &format!("exec -it {name} sh -c 'tty; echo edone'"));
        out.assert_success();
        let text = out.stdout_str();
        assert!(
            text.contains("/dev/pts/") && text.contains("edone"),
            "docker exec -it: expected a /dev/pts/N tty and `edone`, got {text:?} (stderr {:?})",
            out.stderr_str()
        );
        d.script(script, &format!("exec -it {name} sh -c 'exit 7'"))
            .assert_code(7);
    }

    // sleep as pid 1 has no SIGTERM handler, so the kernel ignores SIGTERM:
    // after 1s docker escalates to SIGKILL, which the shim reports as 137.
    let started = Instant::now();
    d.docker_timeout(&["stop", "-t", "1", &name], Duration::from_secs(30))
        .assert_success();
    eprintln!("docker stop -t 1 took {:?}", started.elapsed());
    assert_stdout(
        &d.docker(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.ExitCode}}",
            &name,
        ]),
        "false 137\n",
    );
    d.docker(&["rm", &name]).assert_success();
    d.untrack(&name);

    // 5. Archives both ways: docker's `save` loads into berth, berth's
    // `save` (Docker's format) loads into docker and runs there.
    // berth's side: a private berth daemon over its own store.
    let store = common::Store::new();
    let berth = |args: &[&str]| store.berth(args);
    let from_docker = d.dir.join("from-docker.tar").to_string_lossy().into_owned();
    d.docker(&["save", "-o", &from_docker, IMAGE])
        .assert_success();
    let out = berth(&["load", "-i", &from_docker]);
    out.assert_success();
    assert_eq!(out.stdout_str(), format!("Loaded image: {IMAGE}\n"));
    berth(&["tag", IMAGE, "berth-saved:1"]).assert_success();
    let from_berth = d.dir.join("from-berth.tar").to_string_lossy().into_owned();
    berth(&["save", "-o", &from_berth, "berth-saved:1"]).assert_success();
    let out = d.docker(&["load", "-i", &from_berth]);
    out.assert_success();
    assert!(
        out.stdout_str().contains("Loaded image: berth-saved:1"),
        "{}",
        out.stdout_str()
    );
    let out = d.docker(&[
        "run",
        "--runtime",
        RUNTIME,
        "--rm",
        "berth-saved:1",
        "echo",
        "round trip",
    ]);
    assert_stdout(&out, "round trip\n");
}

/// stdout must be exactly `want`, and the command must have succeeded.
#[track_caller]
fn assert_stdout(out: &Output, want: &str) {
    out.assert_success();
    assert_eq!(
        out.stdout_str(),
        want,
        "unexpected stdout (stderr: {:?})",
        out.stderr_str()
    );
}

#[test]
fn mountinfo_unescape() {
    assert_eq!(
        common::dockerd::unescape_mountinfo("/tmp/a\\040b\\134c"),
        std::path::PathBuf::from("/tmp/a b\\c")
    );
    assert_eq!(
        common::dockerd::unescape_mountinfo("/x\\04"),
        std::path::PathBuf::from("/x\\04")
    );
}
