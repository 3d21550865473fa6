#![forbid(unsafe_code)]
//! Bad input: a one-line error that names the field or object, a non-zero
//! exit, and nothing left behind (no state directory, cgroup, mount, process).

use std::path::Path;

use berth_testkit::{Bundle, OutputExt, Runtime, require_root, unique_id};
use serde_json::{Value, json};

/// Creates `bundle` as `id`, expects failure mentioning `needle`, and checks
/// that nothing of the container remains.
fn refused(bundle: &Bundle, needle: &str) {
    let rt = Runtime::berth();
    let id = unique_id("bad");
    let out = rt.create(bundle, &id);
    let err = out.stderr_str();
    assert!(!out.status.success(), "accepted: {err}");
    assert!(
        err.contains(needle),
        "error {err:?} does not mention {needle:?}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "more than one line: {err:?}"
    );
    assert!(!rt.root().join(&id).exists(), "state directory left behind");
    for hierarchy in ["memory", "pids", "cpu", "freezer", "devices"] {
        let cg = Path::new("/sys/fs/cgroup")
            .join(hierarchy)
            .join("berth")
            .join(&id);
        assert!(!cg.exists(), "cgroup {} left behind", cg.display());
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&*bundle.path().to_string_lossy()),
        "a mount left behind"
    );
}

fn edited(f: impl FnOnce(&mut Value)) -> Bundle {
    let mut b = Bundle::with_args(&["true"]);
    b.edit(f);
    b
}

#[test]
fn malformed_config_json() {
    if !require_root() {
        return;
    }
    let b = Bundle::with_args(&["true"]);
    b.write();
    std::fs::write(b.config_path(), "{\"ociVersion\": \"1.0.2\", \"process\": ").unwrap();
    refused(&b, "config.json");
}

#[test]
fn missing_rootfs() {
    if !require_root() {
        return;
    }
    refused(
        &edited(|c| c["root"]["path"] = json!("no-such-rootfs")),
        "root.path",
    );
}

#[test]
fn unknown_namespace_capability_and_seccomp_action() {
    if !require_root() {
        return;
    }
    refused(
        &edited(|c| c["linux"]["namespaces"] = json!([{"type": "bogus"}])),
        "linux.namespaces",
    );
    refused(
        &edited(|c| c["process"]["capabilities"]["bounding"] = json!(["CAP_NOPE"])),
        "process.capabilities.bounding",
    );
    refused(
        &edited(|c| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_NOPE"})),
        "linux.seccomp.defaultAction",
    );
    refused(
        &edited(|c| {
            c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]})
        }),
        "argument index 9",
    );
}

#[test]
fn relative_or_escaping_mount_destination() {
    if !require_root() {
        return;
    }
    let mount = |dest: &str| {
        edited(|c| {
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}))
        })
    };
    refused(&mount("tmp"), "must be an absolute path");
    refused(&mount("/../../etc"), "climbs out of the root filesystem");
}

/// Failures inside the container's init, after namespaces, cgroup and mounts
/// were made: all of it must be undone too.
#[test]
fn failures_during_setup_are_undone() {
    if !require_root() {
        return;
    }
    refused(
        &edited(|c| {
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": "/data", "type": "bind",
                "source": "/no/such/source", "options": ["rbind"]}))
        }),
        "/no/such/source",
    );
    refused(
        &Bundle::with_args(&["no-such-program"]),
        "executable file not found in $PATH",
    );
    refused(&Bundle::with_args(&["/etc/passwd"]), "permission denied");
    refused(
        &edited(|c| c["process"]["cwd"] = json!("relative")),
        "process.cwd",
    );
    refused(
        &edited(|c| c["process"]["terminal"] = json!(true)),
        "no --console-socket",
    );
}

#[test]
fn unknown_and_invalid_ids() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    for verb in ["state", "start", "delete", "pause", "resume"] {
        let out = rt.exec(&[verb, "no-such-container"]);
        assert!(!out.status.success());
        assert!(
            out.stderr_str().contains("container does not exist"),
            "{verb}: {}",
            out.stderr_str()
        );
    }
    let out = rt.exec(&["kill", "no-such-container", "KILL"]);
    assert!(out.stderr_str().contains("container does not exist"));
    let out = rt.exec(&["kill", "x", "NOSIG"]);
    assert!(out.stderr_str().contains("invalid signal"));
    let b = Bundle::with_args(&["true"]);
    let out = rt.exec(&[
        "create",
        "--bundle",
        &b.path().to_string_lossy(),
        "../escape",
    ]);
    assert!(
        out.stderr_str().contains("invalid container id"),
        "{}",
        out.stderr_str()
    );
    assert!(!rt.root().parent().unwrap().join("escape").exists());
    // A second create with an id in use is refused and leaves the first alone.
    let id = unique_id("dup");
    let b = Bundle::with_args(&["sleep", "100"]);
    rt.create(&b, &id).assert_success();
    let out = rt.create(&b, &id);
    assert!(out.stderr_str().contains("exists"), "{}", out.stderr_str());
    assert_eq!(rt.status(&id).as_deref(), Some("created"));
    rt.delete(&id).assert_success();
}

#[test]
fn json_log_format_for_containerd() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.json");
    let b = Bundle::with_args(&["no-such-program"]);
    b.write();
    let id = unique_id("log");
    // Removed on drop should the create wrongly succeed.
    rt.track(&id);
    let out = rt.exec(&[
        "--log",
        &log.to_string_lossy(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        &b.path().to_string_lossy(),
        &id,
    ]);
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let line: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(
        line["msg"]
            .as_str()
            .unwrap()
            .contains("executable file not found")
    );
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
}

/// Malformed input to `update` and `exec --process`: a one-line error naming
/// the field, and the running container is left as it was.
#[test]
fn malformed_update_and_exec_process() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let id = unique_id("upd");
    let b = Bundle::with_args(&["sleep", "100"]);
    rt.create(&b, &id).assert_success();
    rt.start(&id).assert_success();
    let dir = tempfile::tempdir().unwrap();
    let res = dir.path().join("res.json");
    std::fs::write(&res, r#"{"memory": {"limit": "lots"}}"#).unwrap();
    let out = rt.exec(&["update", "--resources", &res.to_string_lossy(), &id]);
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("memory.limit"),
        "{}",
        out.stderr_str()
    );
    let proc_file = dir.path().join("process.json");
    std::fs::write(&proc_file, r#"{"args": ["true"], "cwd": 7}"#).unwrap();
    let out = rt.exec(&["exec", "--process", &proc_file.to_string_lossy(), &id]);
    assert!(!out.status.success());
    assert!(out.stderr_str().contains("cwd"), "{}", out.stderr_str());
    assert_eq!(out.stderr_str().trim_end().lines().count(), 1);
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    rt.delete_force(&id).assert_success();
}

/// A refusal is said as runc says it, which harnesses (containerd's,
/// youki's contest) match: a logrus line with `level=error` on stderr; with
/// `--log`, that line in the log and the bare message on stderr. runc, when
/// installed, says the same for the same commands.
#[test]
fn refusals_are_said_as_runc_says_them() {
    let mut runtimes = vec![Runtime::berth()];
    runtimes.extend(Runtime::runc());
    for rt in &runtimes {
        for (args, said) in [
            (&["delete", "berth-nope"][..], "container does not exist"),
            (&["kill", "berth-nope"][..], "container does not exist"),
            (&["delete", ""][..], "container id cannot be empty"),
        ] {
            let out = rt.exec(args);
            let err = out.stderr_str();
            assert_eq!(out.status.code(), Some(1), "{:?} {args:?}", rt.kind());
            assert!(
                err.contains("level=error") && err.contains(said),
                "{:?} {args:?}: {err}",
                rt.kind()
            );
        }
    }
    let rt = Runtime::berth();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = rt.command();
    cmd.args([
        "--log",
        &log.path().to_string_lossy(),
        "--log-format",
        "json",
    ])
    .args(["delete", "berth-nope"]);
    let out = cmd.output().unwrap();
    assert_eq!(
        out.stderr_str().trim(),
        "container does not exist: berth-nope"
    );
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(log.path()).unwrap().trim()).unwrap();
    assert_eq!(line["level"], "error");
    assert_eq!(line["msg"], "container does not exist: berth-nope");
}

/// As crun: `domainname` and sysctl kernel.domainname that disagree are
/// refused, the same value passes (`hostname` with kernel.hostname is
/// refused as runc refuses it).
#[test]
fn names_conflicting_with_their_sysctl() {
    if !require_root() {
        return;
    }
    refused(
        &edited(|c| {
            c["domainname"] = json!("foomachine");
            c["linux"]["sysctl"] = json!({"kernel.domainname": "foo"});
        }),
        "conflicts with linux.sysctl kernel.domainname",
    );
    refused(
        &edited(|c| {
            c["hostname"] = json!("a");
            c["linux"]["sysctl"] = json!({"kernel.hostname": "b"});
        }),
        "kernel.hostname",
    );
    // (kernel.hostname beside `hostname` is refused in any case, as runc.)
    let mut b = Bundle::with_args(&["cat", "/proc/sys/kernel/domainname"]);
    b.edit(|c| {
        c["domainname"] = json!("dom");
        c["linux"]["sysctl"] = json!({"kernel.domainname": "dom"});
    });
    let out = Runtime::berth().run(&b, &unique_id("names"));
    out.assert_success();
    assert_eq!(out.stdout_str(), "dom\n");
}

/// A terminal with nowhere to go: `run --detach` without --console-socket
/// says "use --console-socket" before anything else is read (crun's
/// test_tty test-detach-tty, whose args hold an integer); so does create.
#[test]
fn terminal_without_console_socket_says_use_console_socket() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let b = edited(|c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["args"] = json!(["/init", "isatty", 0]);
    });
    b.write();
    let id = unique_id("tty");
    rt.track(&id);
    let bundle = b.path().to_string_lossy().to_string();
    let out = rt.exec(&["run", "--detach", "--bundle", &bundle, &id]);
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("use --console-socket"),
        "{}",
        out.stderr_str()
    );
    assert!(!rt.root().join(&id).exists(), "state directory left behind");
    refused(
        &edited(|c| c["process"]["terminal"] = json!(true)),
        "use --console-socket",
    );
}
