#![forbid(unsafe_code)]
//! berth-runtime runs real bundles as root; each test asserts from inside the
//! container what the config asked for.

use std::time::Duration;

use berth_testkit::{Bundle, OutputExt, Runtime, require_root, unique_id};
use serde_json::json;

fn run(b: &Bundle) -> std::process::Output {
    Runtime::berth().run(b, &unique_id("iso"))
}

#[test]
fn hostname_pid1_env_cwd_and_exit_code() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "hostname; echo $$; echo $FOO; pwd; cat /proc/sys/kernel/domainname; exit 7",
    ]);
    b.edit(|c| {
        // Written although /proc/sys is among the read-only paths, as docker sets it.
        c["linux"]["sysctl"] = json!({"kernel.domainname": "berth.local"});
        c["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!("FOO=bar"));
        c["process"]["cwd"] = json!("/tmp");
    });
    let out = run(&b);
    out.assert_code(7);
    assert_eq!(out.stdout_str(), "berth-test\n1\nbar\n/tmp\nberth.local\n");
}

#[test]
fn capabilities_no_new_privs_and_identity() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; id; hostname nope 2>&1 || echo denied",
    ]);
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20]});
        // A non-root process keeps capabilities across execve only as ambient ones.
        let set = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
        c["process"]["capabilities"]["inheritable"] = set.clone();
        c["process"]["capabilities"]["ambient"] = set;
    });
    let out = run(&b);
    out.assert_success();
    let s = out.stdout_str();
    assert!(s.contains("CapInh:\t0000000020000420"), "{s}");
    assert!(s.contains("CapAmb:\t0000000020000420"), "{s}");
    assert!(s.contains("CapPrm:\t0000000020000420"), "{s}");
    assert!(s.contains("CapEff:\t0000000020000420"), "{s}");
    assert!(s.contains("CapBnd:\t0000000020000420"), "{s}");
    assert!(s.contains("NoNewPrivs:\t1"), "{s}");
    assert!(s.contains("uid=1000 gid=1000 groups=10,20"), "{s}");
    assert!(
        s.trim_end().ends_with("denied"),
        "sethostname without CAP_SYS_ADMIN: {s}"
    );
}

#[test]
fn mounts_masked_and_readonly_paths() {
    if !require_root() {
        return;
    }
    // A masked file that this kernel has (not every kernel has /proc/kcore).
    let masked = [
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
        "/proc/kcore",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("a masked /proc file exists on the host");
    let script = format!(
        "cat /proc/self/mountinfo; echo ---; \
         wc -c < {masked}; ls /proc/acpi | wc -l; \
         (echo 1 > /proc/sys/kernel/domainname) 2>&1 | grep -c 'Read-only'; \
         (touch /newfile) 2>&1 | grep -c 'Read-only'; \
         touch /dev/shm/ok && echo shm-writable; ls /dev"
    );
    let b = Bundle::with_args(&["sh", "-c", &script]);
    let out = run(&b);
    out.assert_success();
    let s = out.stdout_str();
    let (mountinfo, rest) = s.split_once("---\n").unwrap();
    let points: Vec<(&str, &str)> = mountinfo
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[4], f[5])
        })
        .collect();
    for want in [
        "/",
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
    ] {
        assert!(
            points.iter().any(|(p, _)| *p == want),
            "{want} missing in {mountinfo}"
        );
    }
    assert!(
        points.iter().any(|(p, o)| *p == "/" && o.starts_with("ro")),
        "root is read-only: {mountinfo}"
    );
    let lines: Vec<&str> = rest.lines().collect();
    assert_eq!(lines[0].trim(), "0", "masked {masked} reads empty");
    assert_eq!(lines[1].trim(), "0", "masked /proc/acpi is empty");
    assert_eq!(lines[2].trim(), "1", "/proc/sys is read-only");
    assert_eq!(lines[3].trim(), "1", "root is read-only");
    assert_eq!(lines[4], "shm-writable");
    for dev in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "fd", "stdin", "stdout",
        "stderr", "pts", "shm",
    ] {
        assert!(lines[5..].contains(&dev), "/dev/{dev} missing: {rest}");
    }
}

#[test]
fn seccomp_denies_with_errno_and_argument_conditions() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "touch /dev/shm/a; chmod 700 /dev/shm/a 2>&1 || true; chmod 755 /dev/shm/a && echo chmod-755; \
         grep Seccomp: /proc/self/status",
    ]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["chmod", "fchmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                 "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"}]},
                {"names": ["fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                 "args": [{"index": 2, "value": 0o700, "op": "SCMP_CMP_EQ"}]}
            ]
        });
    });
    let out = run(&b);
    out.assert_success();
    let s = out.stdout_str();
    assert!(
        s.contains("Operation not permitted"),
        "chmod 700 denied: {s}"
    );
    assert!(s.contains("chmod-755"), "chmod 755 allowed: {s}");
    assert!(s.contains("Seccomp:\t2"), "filter mode: {s}");
}

#[test]
fn memory_hog_is_killed_under_its_limit() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; tail /dev/zero",
    ]);
    b.edit(|c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 33554432, "swap": 33554432});
        c["linux"]["resources"]["pids"] = json!({"limit": 32});
        c["linux"]["resources"]["cpu"] = json!({"shares": 512});
    });
    let out = run(&b);
    assert_eq!(out.status.code(), Some(137), "killed by SIGKILL: {out:?}");
    assert_eq!(out.stdout_str(), "33554432\n");
}

#[test]
fn user_namespace_maps_ids() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /dev/shm/f && stat -c %u /dev/shm/f",
    ]);
    // The mapped root must be able to walk to the rootfs.
    let mut p = b.path().to_path_buf();
    while p != std::path::Path::new("/") {
        let _ = std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755));
        p.pop();
    }
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    let out = run(&b);
    out.assert_success();
    let s = out.stdout_str();
    let fields: Vec<Vec<&str>> = s.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(fields[0], ["0", "100000", "65536"], "{s}");
    assert_eq!(fields[1], ["0", "100000", "65536"], "{s}");
    assert_eq!(fields[2], ["0"]);
    assert_eq!(fields[3], ["0"]);
}

#[test]
fn signals_reach_the_container_and_set_the_exit_code() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let id = unique_id("sig");
    let b = Bundle::with_args(&[
        "sh",
        "-c",
        "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done",
    ]);
    b.write();
    let child = rt
        .command()
        .args(["run", "--bundle"])
        .arg(b.path())
        .arg(&id)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    rt.track(&id);
    assert!(rt.wait_for_status(&id, "running", Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(300));
    rt.kill(&id, "TERM").assert_success();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(42), "{out:?}");
}

#[test]
fn lifecycle_states_exec_pause_and_delete() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let id = unique_id("life");
    let b = Bundle::with_args(&["sleep", "1000"]);
    rt.create(&b, &id).assert_success();
    let st = rt.state_json(&id).unwrap();
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0);
    // The init waits as a runtime binary that cannot be written: a read-only
    // mount of it, or a sealed copy (CVE-2019-5736).
    let exe = format!("/proc/{pid}/exe");
    assert!(std::fs::OpenOptions::new().append(true).open(&exe).is_err());
    let target = std::fs::read_link(&exe).unwrap();
    let sealed_copy = target.to_string_lossy().starts_with("/memfd:");
    let st = nix::sys::statvfs::statvfs(exe.as_str()).unwrap();
    assert!(
        sealed_copy || st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
        "{target:?} is writable"
    );
    rt.start(&id).assert_success();
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    let out = rt.exec(&["exec", &id, "sh", "-c", "echo in-exec $$; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout_str().starts_with("in-exec "), "{out:?}");
    let ps = rt.exec(&["ps", "--format", "json", &id]);
    ps.assert_success();
    let pids: Vec<i64> = serde_json::from_str(&ps.stdout_str()).unwrap();
    assert_eq!(pids, vec![pid]);
    rt.exec(&["pause", &id]).assert_success();
    assert_eq!(rt.status(&id).as_deref(), Some("paused"));
    rt.exec(&["resume", &id]).assert_success();
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    let ev = rt.exec(&["events", "--stats", &id]);
    ev.assert_success();
    let ev: serde_json::Value = serde_json::from_str(&ev.stdout_str()).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["data"]["pids"]["current"], 1);
    let upd = rt.exec(&["update", "--memory", "67108864", "--pids-limit", "50", &id]);
    upd.assert_success();
    let mem = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/memory/berth/{id}/memory.limit_in_bytes"
    ))
    .unwrap();
    assert_eq!(mem.trim(), "67108864");
    // runc's and crun's spelling of the flag.
    rt.exec(&["update", "--cpu-share", "512", &id])
        .assert_success();
    let shares =
        std::fs::read_to_string(format!("/sys/fs/cgroup/cpu/berth/{id}/cpu.shares")).unwrap();
    assert_eq!(shares.trim(), "512");
    let del = rt.delete(&id);
    assert!(
        !del.status.success(),
        "a running container is not deleted without --force"
    );
    assert!(
        del.stderr_str().contains("not stopped"),
        "{}",
        del.stderr_str()
    );
    rt.kill(&id, "KILL").assert_success();
    assert!(rt.wait_for_status(&id, "stopped", Duration::from_secs(10)));
    let again = rt.kill(&id, "KILL");
    assert!(again.stderr_str().contains("container not running"));
    rt.delete(&id).assert_success();
    assert!(!rt.root().join(&id).exists());
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/memory/berth/{id}")).exists());
    let gone = rt.state(&id);
    assert!(gone.stderr_str().contains("container does not exist"));
    rt.delete_force(&id).assert_success();
}

#[test]
fn hooks_get_the_state_on_stdin() {
    if !require_root() {
        return;
    }
    let out_dir = tempfile::tempdir().unwrap();
    let log = out_dir.path().join("hooks.log");
    let mut b = Bundle::with_args(&["true"]);
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {name} $(cat) >> {}", log.display())]});
    b.edit(|c| {
        c["hooks"] = json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        });
    });
    run(&b).assert_success();
    let text = std::fs::read_to_string(&log).unwrap();
    let names: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        ["prestart", "createRuntime", "poststart", "poststop"],
        "{text}"
    );
    let state: serde_json::Value =
        serde_json::from_str(text.lines().next().unwrap().split_once(' ').unwrap().1).unwrap();
    assert!(state["pid"].as_i64().unwrap() > 0);
    assert_eq!(state["status"], "created");
}

/// Hooks as runc runs them: one without an env gets the runtime's own
/// environment, one with an env exactly that; a failing poststart hook
/// fails `start` (and the container goes), a failing poststop hook fails
/// `delete` (the container is gone all the same).
#[test]
fn hooks_environment_and_failures_as_runc() {
    if !require_root() {
        return;
    }
    let out_dir = tempfile::tempdir().unwrap();
    let log = out_dir.path().join("env.log");
    let rt = Runtime::berth();
    let id = unique_id("hookenv");
    let mut b = Bundle::with_args(&["sleep", "100"]);
    let write_env = |tag: &str| {
        format!(
            "echo {tag} \"$BERTH_HOOK_MARK\" \"$ONLY\" >> {}",
            log.display()
        )
    };
    b.edit(|c| {
        c["hooks"] = json!({
            "prestart": [
                {"path": "/bin/sh", "args": ["sh", "-c", write_env("inherited")]},
                {"path": "/bin/sh", "args": ["sh", "-c", write_env("given")], "env": ["ONLY=1"]},
            ],
            "poststart": [{"path": "/bin/false"}],
        });
    });
    b.write();
    // Its stdio to nothing: the container's init inherits it and lives on.
    let created = rt
        .command()
        .env("BERTH_HOOK_MARK", "from-the-runtime")
        .args(["create", "--bundle"])
        .arg(b.path())
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    rt.track(&id);
    assert!(created.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text, "inherited from-the-runtime \ngiven  1\n", "{text:?}");

    let start = rt.start(&id);
    assert_ne!(
        start.status.code(),
        Some(0),
        "a failed poststart hook passed"
    );
    assert!(
        start.stderr_str().contains("poststart"),
        "{}",
        start.stderr_str()
    );
    assert_eq!(rt.status(&id).as_deref(), Some("stopped"));
    rt.delete_force(&id).assert_success();

    let id = unique_id("poststop");
    let mut b = Bundle::with_args(&["true"]);
    b.edit(|c| c["hooks"] = json!({"poststop": [{"path": "/bin/false"}]}));
    rt.create(&b, &id).assert_success();
    rt.start(&id).assert_success();
    let del = rt.exec(&["delete", "--force", &id]);
    assert_ne!(del.status.code(), Some(0), "a failed poststop hook passed");
    assert!(
        del.stderr_str().contains("poststop"),
        "{}",
        del.stderr_str()
    );
    assert!(!rt.root().join(&id).exists(), "the state stayed");
}

#[test]
fn terminal_through_the_console_socket() {
    if !require_root() {
        return;
    }
    use std::io::Read;
    use std::os::unix::net::UnixListener;
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let rt = Runtime::berth();
    let id = unique_id("tty");
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "tty; [ -t 0 ] && [ -t 1 ] && echo isatty; sleep 0.2",
    ]);
    b.terminal(true);
    b.write();
    let out = rt
        .command()
        .args(["create", "--console-socket"])
        .arg(&sock)
        .arg("--bundle")
        .arg(b.path())
        .arg(&id)
        .output()
        .unwrap();
    rt.track(&id);
    out.assert_success();
    let (conn, _) = listener.accept().unwrap();
    let master = berth_testkit::recv_fd(&conn).expect("one descriptor over the console socket");
    rt.start(&id).assert_success();
    let mut f = std::fs::File::from(master);
    let mut text = String::new();
    let mut buf = [0u8; 1024];
    while !text.contains("isatty") {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(text.contains("/dev/pts/0"), "{text:?}");
    assert!(text.contains("isatty"), "{text:?}");
}

/// `run` and `exec` in the foreground with a terminal and no console socket:
/// the runtime keeps the master side and copies it to its own terminal
/// (util-linux `script` gives the runtime one).
#[test]
fn foreground_terminal_for_run_and_exec() {
    if !require_root() {
        return;
    }
    let Some(script) = berth_testkit::require_tool("script") else {
        return;
    };
    let rt = Runtime::berth();
    let id = unique_id("fgtty");
    let mut b = Bundle::with_args(&["sh", "-c", "tty; [ -t 0 ] && echo isatty; exit 4"]);
    b.terminal(true);
    b.write();
    let cmd = format!(
        "{} --root {} run --bundle {} {id}",
        rt.binary().display(),
        rt.root().display(),
        b.path().display()
    );
    rt.track(&id);
    let out = std::process::Command::new(&script)
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let text = out.stdout_str();
    assert!(
        text.contains("/dev/pts/0") && text.contains("isatty"),
        "{text:?}"
    );
    assert_eq!(out.status.code(), Some(4), "{text:?}");

    let id = unique_id("fgexec");
    let sleeper = Bundle::with_args(&["sleep", "100"]);
    rt.create(&sleeper, &id).assert_success();
    rt.start(&id).assert_success();
    let cmd = format!(
        "{} --root {} exec -t {id} sh -c 'tty; exit 6'",
        rt.binary().display(),
        rt.root().display()
    );
    let out = std::process::Command::new(&script)
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    assert!(
        out.stdout_str().contains("/dev/pts/"),
        "{:?}",
        out.stdout_str()
    );
    assert_eq!(out.status.code(), Some(6));
    rt.delete_force(&id).assert_success();
}

/// `exec`'s flags as runc has them: `--env` overrides the spec's value,
/// `--cap` adds to the bounding, effective and permitted sets only (not the
/// inheritable one), and `-t` makes the process a session leader on a
/// terminal owned by its `--user`.
#[test]
fn exec_flags_as_runc_has_them() {
    if !require_root() {
        return;
    }
    let Some(script) = berth_testkit::require_tool("script") else {
        return;
    };
    let rt = Runtime::berth();
    let id = unique_id("execflags");
    let mut b = Bundle::with_args(&["sleep", "100"]);
    b.edit(|c| {
        c["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!("A=from-spec"));
    });
    rt.create(&b, &id).assert_success();
    rt.start(&id).assert_success();

    let out = rt.exec(&["exec", "--env", "A=from-flag", &id, "sh", "-c", "echo $A"]);
    assert_eq!(out.stdout_str(), "from-flag\n");

    let status = |extra: &[&str]| {
        let mut args = vec!["exec"];
        args.extend_from_slice(extra);
        args.extend([id.as_str(), "cat", "/proc/self/status"]);
        let out = rt.exec(&args);
        out.assert_success();
        let text = out.stdout_str();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
                .unwrap()
        };
        (field("CapInh:"), field("CapEff:"))
    };
    let (inh, eff) = status(&[]);
    let (inh_cap, eff_cap) = status(&["--cap", "CAP_SYS_PTRACE"]);
    let ptrace = 1u64 << 19;
    assert_eq!(eff & ptrace, 0, "the default spec has no CAP_SYS_PTRACE");
    assert_ne!(eff_cap & ptrace, 0, "--cap did not reach the effective set");
    assert_eq!(inh_cap, inh, "--cap changed the inheritable set");

    let cmd = format!(
        "{} --root {} exec -t --user 1000:1000 {id} sh -c 'stat -c %u:%g $(tty); cut -d\" \" -f1,6 /proc/self/stat'",
        rt.binary().display(),
        rt.root().display()
    );
    let out = std::process::Command::new(&script)
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let text = out.stdout_str();
    assert!(text.contains("1000:1000"), "the terminal's owner: {text:?}");
    // `cut` runs as a child of sh: sh (its parent's session) leads it, so
    // the session id is not cut's pid; sh's is checked through $$ instead.
    let cmd = format!(
        "{} --root {} exec -t {id} sh -c 'echo $$ $(cut -d\" \" -f6 /proc/$$/stat)'",
        rt.binary().display(),
        rt.root().display()
    );
    let out = std::process::Command::new(&script)
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let text = out.stdout_str();
    // (script echoes what it reads of its stdin, /dev/null, as ^@ first.)
    let nums: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(nums.len(), 2, "{text:?}");
    assert_eq!(
        nums[0], nums[1],
        "the exec is not a session leader: {text:?}"
    );
    rt.delete_force(&id).assert_success();
}
