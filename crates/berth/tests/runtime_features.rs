#![forbid(unsafe_code)]
//! The runtime-spec features runc and crun honour beyond the basics (issue
//! 15), each observed from inside the container or, where the container
//! cannot see it, from the host: a missing cwd, relative masked paths,
//! mounts without a mount namespace, the loopback, devices outside /dev,
//! execCPUAffinity, the scheduler, the I/O priority, the personality, time
//! namespaces, exec --cgroup, seccomp notify, the memory policy.

use std::path::Path;

use berth_testkit::{Bundle, OutputExt, Runtime, require_root, unique_id};
use serde_json::json;

fn run(b: &Bundle) -> std::process::Output {
    Runtime::berth().run(b, &unique_id("feat"))
}

/// The pid of a created (not started) container.
fn pid_of(rt: &Runtime, id: &str) -> i32 {
    rt.state_json(id).expect("state")["pid"].as_i64().unwrap() as i32
}

#[test]
fn missing_cwd_is_made_root_owned_0755() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&["sh", "-c", "pwd; stat -c '%u:%g %a' /made/here"]);
    b.edit(|c| c["process"]["cwd"] = json!("/made/here"));
    let out = run(&b);
    out.assert_success();
    assert_eq!(out.stdout_str(), "/made/here\n0:0 755\n");
}

#[test]
fn relative_masked_and_readonly_paths_are_taken_from_the_root() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "echo \"[$(cat /secret)]\"; (touch /rodir/x) 2>/dev/null && echo rw || echo ro",
    ]);
    b.write_file_in_rootfs("secret", "hidden\n", 0o644);
    std::fs::create_dir_all(b.rootfs().join("rodir")).unwrap();
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["linux"]["maskedPaths"] = json!(["secret"]);
        c["linux"]["readonlyPaths"] = json!(["rodir"]);
    });
    let out = run(&b);
    out.assert_success();
    assert_eq!(out.stdout_str(), "[]\nro\n");
}

#[test]
fn mounts_without_a_mount_namespace_stay_off_the_host() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    // runc would make these in the host's mount namespace: refused.
    let mut b = Bundle::with_args(&["true"]);
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "uts"}]);
        c["linux"]["maskedPaths"] = json!([]);
        c["linux"]["readonlyPaths"] = json!([]);
    });
    let out = rt.run(&b, &unique_id("nomntns"));
    assert!(!out.status.success());
    assert!(
        out.stderr_str()
            .contains("does not mount in the host's mount namespace"),
        "{}",
        out.stderr_str()
    );
    // Without mounts: the caller's mount namespace, chrooted.
    let id = unique_id("nomntns");
    let mut b = Bundle::with_args(&["sleep", "100"]);
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "uts"}]);
        c["linux"]["maskedPaths"] = json!([]);
        c["linux"]["readonlyPaths"] = json!([]);
        c["mounts"] = json!([]);
        c["process"]["cwd"] = json!("/work/dir");
    });
    rt.create(&b, &id).assert_success();
    let pid = pid_of(&rt, &id);
    let ns = |p: String| std::fs::read_link(p).unwrap();
    assert_eq!(
        ns(format!("/proc/{pid}/ns/mnt")),
        ns("/proc/self/ns/mnt".into())
    );
    let after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let bundle = b.path().to_string_lossy().to_string();
    assert!(
        !after.contains(&bundle),
        "a mount of the bundle on the host"
    );
    assert_eq!(
        before
            .lines()
            .filter(|l| l.contains(" / / "))
            .collect::<Vec<_>>(),
        after
            .lines()
            .filter(|l| l.contains(" / / "))
            .collect::<Vec<_>>(),
        "the host's root mount changed"
    );
    // chrooted into the rootfs, in the made working directory.
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        b.rootfs().join("work/dir")
    );
    rt.delete_force(&id).assert_success();
    // Masked paths need a mount namespace: refused in runc's words.
    let mut b = Bundle::with_args(&["true"]);
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([{"type": "pid"}]);
        c["mounts"] = json!([]);
    });
    let out = rt.run(&b, &unique_id("nomntns"));
    assert!(!out.status.success());
    assert!(
        out.stderr_str()
            .contains("unable to restrict sys entries without a private MNT namespace"),
        "{}",
        out.stderr_str()
    );
}

#[test]
fn new_network_namespace_has_loopback_up() {
    if !require_root() {
        return;
    }
    let b = Bundle::with_args(&["cat", "/sys/class/net/lo/flags"]);
    let out = run(&b);
    out.assert_success();
    let flags = u32::from_str_radix(out.stdout_str().trim().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "lo is not up: {}", out.stdout_str());
}

#[test]
fn devices_outside_dev_are_made_where_the_spec_says() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&["stat", "-c", "%t:%T %a %u:%g %F", "/extra/null2"]);
    b.edit(|c| {
        c["linux"]["devices"] = json!([{"path": "/extra/null2", "type": "c", "major": 1,
            "minor": 3, "fileMode": 0o640, "uid": 7, "gid": 8}]);
    });
    let out = run(&b);
    out.assert_success();
    assert_eq!(out.stdout_str(), "1:3 640 7:8 character special file\n");
}

/// Runs `process` (a process object) by `exec --process` in a sleeping
/// container and returns the output.
fn exec_process(tweak: impl Fn(&mut serde_json::Value)) -> std::process::Output {
    let rt = Runtime::berth();
    let id = unique_id("execattr");
    let b = Bundle::with_args(&["sleep", "100"]);
    rt.create(&b, &id).assert_success();
    rt.start(&id).assert_success();
    let mut process = b.config()["process"].clone();
    tweak(&mut process);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("process.json");
    std::fs::write(&file, serde_json::to_vec(&process).unwrap()).unwrap();
    let out = rt.exec(&["exec", "--process", &file.to_string_lossy(), &id]);
    rt.delete_force(&id).assert_success();
    out
}

#[test]
fn exec_cpu_affinity_initial_and_final() {
    if !require_root() {
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        assert!(!berth_testkit::in_ci(), "execCPUAffinity needs 2 cpus");
        return;
    }
    let probe = json!([
        "sh",
        "-c",
        "grep Cpus_allowed_list /proc/self/status | cut -f2"
    ]);
    let out = exec_process(|p| {
        p["args"] = probe.clone();
        p["execCPUAffinity"] = json!({"initial": "0", "final": "1"});
    });
    out.assert_success();
    assert_eq!(out.stdout_str(), "1\n");
    let out = exec_process(|p| {
        p["args"] = probe.clone();
        p["execCPUAffinity"] = json!({"initial": "0-1"});
    });
    out.assert_success();
    assert_eq!(out.stdout_str(), "0-1\n");
    let out = exec_process(|p| {
        p["args"] = probe.clone();
        p["execCPUAffinity"] = json!({"final": "0"});
    });
    out.assert_success();
    assert_eq!(out.stdout_str(), "0\n");
    let out = exec_process(|p| {
        p["args"] = probe.clone();
        p["execCPUAffinity"] = json!({"final": "0-x"});
    });
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("execCPUAffinity.final"),
        "{}",
        out.stderr_str()
    );
}

/// Fields 19 (nice), 40 (rt_priority) and 41 (policy) of the shell's own
/// /proc/<pid>/stat, and of a child it forks.
const SCHED_PROBE: &str = "s=$(cut -d' ' -f19,40,41 /proc/$$/stat); c=$(sh -c 'cut -d\" \" -f19,40,41 /proc/$$/stat'); echo \"$s/$c\"";

#[test]
fn scheduler_policy_nice_and_reset_on_fork() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&["sh", "-c", SCHED_PROBE]);
    b.edit(|c| {
        c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    });
    let out = run(&b);
    out.assert_success();
    // SCHED_BATCH is 3; children keep it.
    assert_eq!(out.stdout_str(), "7 0 3/7 0 3\n");
    // A real-time policy reset on fork, with the cgroup's real-time budget.
    let mut b = Bundle::with_args(&["sh", "-c", SCHED_PROBE]);
    b.edit(|c| {
        c["process"]["scheduler"] = json!({"policy": "SCHED_RR", "priority": 9,
            "flags": ["SCHED_FLAG_RESET_ON_FORK"]});
    });
    let out = run(&b);
    if out.status.success() {
        assert_eq!(out.stdout_str(), "0 9 2/0 0 0\n");
    } else {
        // The kernel's RT group scheduling gives a new cgroup no budget:
        // refused, naming the field.
        assert!(
            out.stderr_str().contains("process.scheduler"),
            "{}",
            out.stderr_str()
        );
    }
    // By exec as well.
    let out = exec_process(|p| {
        p["args"] = json!(["sh", "-c", SCHED_PROBE]);
        p["scheduler"] = json!({"policy": "SCHED_IDLE"});
    });
    out.assert_success();
    assert_eq!(out.stdout_str(), "0 0 5/0 0 5\n");
}

#[test]
fn io_priority_of_init_and_exec() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let id = unique_id("ioprio");
    let mut b = Bundle::with_args(&["sleep", "100"]);
    b.edit(|c| c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6}));
    rt.create(&b, &id).assert_success();
    let pid = pid_of(&rt, &id);
    assert_eq!(berth_sys::ioprio_get(pid).unwrap(), (2, 6));
    rt.delete_force(&id).assert_success();
    let mut b = Bundle::with_args(&["sleep", "100"]);
    b.edit(|c| c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 9}));
    let out = rt.run(&b, &unique_id("ioprio"));
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("process.ioPriority.priority"),
        "{}",
        out.stderr_str()
    );
}

#[test]
fn personality_linux32() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&["sh", "-c", "cat /proc/self/personality; uname -m"]);
    b.edit(|c| c["linux"]["personality"] = json!({"domain": "LINUX32"}));
    let out = run(&b);
    out.assert_success();
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "00000008");
    if std::env::consts::ARCH == "x86_64" {
        assert_eq!(lines[1], "i686");
    }
}

fn uptime_secs(text: &str) -> f64 {
    text.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn time_namespace_with_offsets_and_joined_by_path() {
    if !require_root() {
        return;
    }
    if !Path::new("/proc/self/timens_offsets").exists() {
        assert!(!berth_testkit::in_ci(), "no time namespaces in this kernel");
        return;
    }
    let year = 365 * 86400;
    let host = uptime_secs(&std::fs::read_to_string("/proc/uptime").unwrap());
    let rt = Runtime::berth();
    let owner = unique_id("timens");
    let mut b = Bundle::with_args(&["sleep", "100"]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] = json!({"boottime": {"secs": year, "nanosecs": 0},
            "monotonic": {"secs": 2 * year}});
    });
    rt.create(&b, &owner).assert_success();
    let pid = pid_of(&rt, &owner);
    assert_ne!(
        std::fs::read_link(format!("/proc/{pid}/ns/time")).unwrap(),
        std::fs::read_link("/proc/self/ns/time").unwrap()
    );
    // The runtime (here a separate process) went back to its own.
    let offsets = std::fs::read_to_string(format!("/proc/{pid}/timens_offsets")).unwrap();
    let offsets: Vec<String> = offsets
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        offsets.contains(&format!("monotonic {} 0", 2 * year)),
        "{offsets:?}"
    );
    assert!(
        offsets.contains(&format!("boottime {year} 0")),
        "{offsets:?}"
    );
    let mut joiner = Bundle::with_args(&["cat", "/proc/uptime"]);
    joiner.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time", "path": format!("/proc/{pid}/ns/time")}));
    });
    let out = run(&joiner);
    out.assert_success();
    let inside = uptime_secs(&out.stdout_str());
    assert!(
        inside >= host + year as f64 && inside < host + year as f64 + 600.0,
        "uptime {inside} inside, {host} on the host"
    );
    rt.delete_force(&owner).assert_success();
    // Offsets without a time namespace: refused naming the field.
    let mut b = Bundle::with_args(&["true"]);
    b.edit(|c| c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 1}}));
    let out = run(&b);
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("linux.timeOffsets"),
        "{}",
        out.stderr_str()
    );
}

#[test]
fn memory_policy_bind_node_0() {
    if !require_root() {
        return;
    }
    if !Path::new("/proc/self/numa_maps").exists() {
        assert!(!berth_testkit::in_ci(), "no NUMA support in this kernel");
        return;
    }
    let mut b = Bundle::with_args(&["sh", "-c", "grep -c ' bind=static:0 ' /proc/self/numa_maps"]);
    b.edit(|c| {
        c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0",
            "flags": ["MPOL_F_STATIC_NODES"]})
    });
    let out = run(&b);
    out.assert_success();
    let n: u32 = out.stdout_str().trim().parse().unwrap();
    assert!(n > 0, "no mapping bound to node 0");
    let mut b = Bundle::with_args(&["true"]);
    b.edit(|c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0-"}));
    let out = run(&b);
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("linux.memoryPolicy.nodes"),
        "{}",
        out.stderr_str()
    );
}

#[test]
fn exec_into_a_sub_cgroup() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let id = unique_id("execcg");
    let b = Bundle::with_args(&["sleep", "100"]);
    rt.create(&b, &id).assert_success();
    rt.start(&id).assert_success();
    let memory = Path::new("/sys/fs/cgroup/memory/berth").join(&id);
    if !memory.is_dir() {
        rt.delete_force(&id).assert_success();
        assert!(
            !berth_testkit::in_ci(),
            "no v1 memory cgroup at {}",
            memory.display()
        );
        return;
    }
    let sub = memory.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let out = rt.exec(&[
        "exec",
        "--cgroup",
        "memory:sub",
        &id,
        "cat",
        "/proc/self/cgroup",
    ]);
    let missing = rt.exec(&["exec", "--cgroup", "nosuch", &id, "true"]);
    let escape = rt.exec(&["exec", "--cgroup", "memory:../..", &id, "true"]);
    std::fs::remove_dir(&sub).unwrap();
    rt.delete_force(&id).assert_success();
    out.assert_success();
    let text = out.stdout_str();
    let line = |c: &str| {
        text.lines()
            .find(|l| {
                l.split(':')
                    .nth(1)
                    .is_some_and(|k| k.split(',').any(|x| x == c))
            })
            .map(|l| l.rsplit(':').next().unwrap().to_string())
    };
    // Inside the container's cgroup namespace: its root is the container's.
    assert_eq!(line("memory").as_deref(), Some("/sub"), "{text}");
    assert_eq!(line("pids").as_deref(), Some("/"), "{text}");
    assert!(!missing.status.success());
    assert!(
        missing.stderr_str().contains("nosuch does not exist"),
        "{}",
        missing.stderr_str()
    );
    assert!(!escape.status.success());
    assert!(
        escape
            .stderr_str()
            .contains("inside the container's cgroup"),
        "{}",
        escape.stderr_str()
    );
}

#[test]
fn seccomp_notify_sends_the_listener_to_the_agent() {
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixListener;
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    // The agent: takes the message and the descriptor, then closes it, so
    // the notified system call fails with ENOSYS instead of waiting.
    let agent = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = nix::sys::socket::recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        let mut fds = Vec::new();
        for c in msg.cmsgs().unwrap() {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(r) = c {
                fds.extend(r);
            }
        }
        let len = msg.bytes;
        let fds: Vec<String> = fds
            .into_iter()
            .map(|fd| {
                let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
                nix::unistd::close(fd).unwrap();
                link.to_string_lossy().into_owned()
            })
            .collect();
        (buf[..len].to_vec(), fds)
    });
    let mut b = Bundle::with_args(&["sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "meta-x",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        });
    });
    let id = unique_id("notify");
    let out = Runtime::berth().run(&b, &id);
    let (message, fds) = agent.join().unwrap();
    out.assert_success();
    assert!(
        out.stdout_str().contains("Function not implemented"),
        "{}",
        out.stdout_str()
    );
    assert_eq!(fds, vec!["anon_inode:seccomp notify".to_string()]);
    let state: serde_json::Value = serde_json::from_slice(&message).unwrap();
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], json!("meta-x"));
    assert_eq!(state["state"]["status"], json!("creating"));
    assert_eq!(state["state"]["id"], json!(id));
    assert!(state["pid"].as_i64().unwrap() > 0);
    assert_eq!(state["pid"], state["state"]["pid"]);
    // Without listenerPath nobody would answer: refused, naming the field.
    let mut b = Bundle::with_args(&["true"]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
    });
    let out = run(&b);
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("listenerPath"),
        "{}",
        out.stderr_str()
    );
}

#[test]
fn crun_cgroup_manager_and_config_flags() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    // `--config`: a file relative to the bundle, not config.json.
    let b = Bundle::with_args(&["echo", "from-config-json"]);
    b.write();
    let mut other = b.config().clone();
    other["process"]["args"] = json!(["echo", "from-other"]);
    std::fs::create_dir_all(b.path().join("conf")).unwrap();
    std::fs::write(b.path().join("conf/other.json"), other.to_string()).unwrap();
    let bundle = b.path().to_string_lossy().to_string();
    for (manager, config) in [
        (["--cgroup-manager", "cgroupfs"].as_slice(), "--config"),
        (["--cgroup-manager=cgroupfs"].as_slice(), "-f"),
    ] {
        let id = unique_id("cgm");
        rt.track(&id);
        let mut args = manager.to_vec();
        args.extend(["run", config, "conf/other.json", "--bundle", &bundle, &id]);
        let out = rt.exec(&args);
        out.assert_success();
        assert_eq!(out.stdout_str(), "from-other\n");
    }
    // systemd is refused as --systemd-cgroup is.
    let id = unique_id("cgm");
    rt.track(&id);
    let out = rt.exec(&[
        "--cgroup-manager",
        "systemd",
        "run",
        "--bundle",
        &bundle,
        &id,
    ]);
    assert!(!out.status.success());
    assert!(
        out.stderr_str()
            .contains("--cgroup-manager systemd is not supported"),
        "{}",
        out.stderr_str()
    );
    let out = rt.exec(&["--cgroup-manager", "nope", "state", "x"]);
    assert!(!out.status.success());
    // disabled: no cgroup made; the init stays in the caller's cgroups.
    let mut b = Bundle::with_args(&["sleep", "100"]);
    b.edit(|c| {
        c["linux"].as_object_mut().unwrap().remove("resources");
    });
    b.write();
    let bundle = b.path().to_string_lossy().to_string();
    let id = unique_id("cgm");
    rt.track(&id);
    let out = rt.exec(&[
        "--cgroup-manager=disabled",
        "create",
        "--bundle",
        &bundle,
        &id,
    ]);
    out.assert_success();
    let pid = pid_of(&rt, &id);
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap(),
        std::fs::read_to_string("/proc/self/cgroup").unwrap()
    );
    assert!(!Path::new(&format!("/sys/fs/cgroup/memory/berth/{id}")).exists());
    rt.delete_force(&id).assert_success();
    // Limits without a cgroup manager are refused, not ignored.
    let b = Bundle::with_args(&["true"]);
    b.write();
    let bundle = b.path().to_string_lossy().to_string();
    let id = unique_id("cgm");
    rt.track(&id);
    let out = rt.exec(&[
        "--cgroup-manager",
        "disabled",
        "run",
        "--bundle",
        &bundle,
        &id,
    ]);
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("linux.resources"),
        "{}",
        out.stderr_str()
    );
}

/// The recursive mount options (rro, rnosuid, ...) reach the mounts below
/// the bind too, through mount_setattr(2) with AT_RECURSIVE.
#[test]
fn recursive_mount_options_apply_to_submounts() {
    if !require_root() {
        return;
    }
    // A host directory with a mount inside it, as the submount to reach.
    let host = tempfile::tempdir().unwrap();
    std::fs::create_dir(host.path().join("sub")).unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(host.path().join("sub"))
        .status()
        .unwrap();
    assert!(status.success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(host.path().join("sub"));
    let src = host.path().to_string_lossy().to_string();
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "for d in a b c d; do awk -v m=/$d/sub '$5 == m { print m, $6 }' /proc/self/mountinfo; done; \
         touch /a/sub/x 2>/dev/null && echo a-rw || echo a-ro; \
         touch /d/sub/x 2>/dev/null && echo d-rw || echo d-ro",
    ]);
    b.edit(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        for (dest, opts) in [
            ("/a", json!(["rbind", "rro"])),
            ("/b", json!(["rbind", "rnosuid", "rnodev", "rnoexec"])),
            (
                "/c",
                json!(["rbind", "rnoatime", "rnosymfollow", "rnodiratime"]),
            ),
            ("/d", json!(["rbind", "ro", "rrw"])),
        ] {
            mounts
                .push(json!({"destination": dest, "type": "bind", "source": src, "options": opts}));
        }
    });
    let out = run(&b);
    out.assert_success();
    let text = out.stdout_str();
    let opts_of = |m: &str| -> Vec<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{m} ")))
            .unwrap_or_else(|| panic!("{m} not mounted: {text}"))
            .split(',')
            .map(String::from)
            .collect()
    };
    let has = |m: &str, o: &str| opts_of(m).iter().any(|x| x == o);
    assert!(has("/a/sub", "ro"), "{text}");
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(has("/b/sub", o), "/b/sub {o}: {text}");
    }
    for o in ["noatime", "nosymfollow", "nodiratime"] {
        assert!(has("/c/sub", o), "/c/sub {o}: {text}");
    }
    assert!(has("/d/sub", "rw"), "{text}");
    assert!(text.contains("a-ro\n") && text.contains("d-rw\n"), "{text}");
}

/// As crun: a listenerPath without any SCMP_ACT_NOTIFY rule still gets the
/// listener descriptor and the state (crun's test_seccomp seccomp-listener);
/// the agent is never left waiting.
#[test]
fn seccomp_listener_path_without_notify_rules_still_gets_the_descriptor() {
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixListener;
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let mut b = Bundle::with_args(&["echo", "ran"]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "meta-y",
        });
    });
    let id = unique_id("listener");
    let out = Runtime::berth().run(&b, &id);
    out.assert_success();
    assert_eq!(out.stdout_str(), "ran\n");
    // The runtime connected and sent before the container ran: the
    // connection waits in the backlog; nothing there fails, never hangs.
    listener.set_nonblocking(true).unwrap();
    let (conn, _) = listener.accept().expect("the runtime never connected");
    conn.set_nonblocking(false).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        nix::sys::socket::MsgFlags::empty(),
    )
    .unwrap();
    let mut fds = Vec::new();
    for c in msg.cmsgs().unwrap() {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(r) = c {
            fds.extend(r);
        }
    }
    let len = msg.bytes;
    assert_eq!(fds.len(), 1);
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fds[0])).unwrap();
    nix::unistd::close(fds[0]).unwrap();
    assert_eq!(link.to_string_lossy(), "anon_inode:seccomp notify");
    let state: serde_json::Value = serde_json::from_slice(&buf[..len]).unwrap();
    assert_eq!(state["metadata"], json!("meta-y"));
    assert_eq!(state["state"]["id"], json!(id));
}

/// runc's fixStdioPermissions (crun's test_uid_gid regular-files-chowned):
/// stdio that is not /dev/null becomes the process user's.
#[test]
fn stdio_is_chowned_to_the_process_user() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "stat -L -c %u:%g /proc/self/fd/1; stat -L -c %u:%g /proc/self/fd/0",
    ]);
    b.edit(|c| c["process"]["user"] = json!({"uid": 1, "gid": 2}));
    let out = run(&b);
    out.assert_success();
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "1:2", "{lines:?}");
    // stdin is /dev/null here: left as it is.
    let null = std::fs::metadata("/dev/null").unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(lines[1], format!("{}:{}", null.uid(), null.gid()));
}

/// crun's test_delete test_simple_delete: the init moved into a foreign,
/// FROZEN v1 freezer cgroup takes no SIGKILL; `delete -f` thaws the
/// freezer cgroups the init is in, so it dies, and removes the container.
#[test]
fn delete_force_thaws_a_foreign_frozen_cgroup() {
    if !require_root() {
        return;
    }
    let freezer = Path::new("/sys/fs/cgroup/freezer");
    if !freezer.join("freezer.state").exists() && !freezer.join("cgroup.procs").exists() {
        eprintln!("skip: no cgroup v1 freezer hierarchy");
        return;
    }
    let rt = Runtime::berth();
    let id = unique_id("frozen");
    let b = Bundle::with_args(&["sleep", "100"]);
    rt.create(&b, &id).assert_success();
    let pid = pid_of(&rt, &id);
    let frozen = freezer.join(format!("berth-test-{id}"));
    std::fs::create_dir(&frozen).unwrap();
    struct Rmdir(std::path::PathBuf);
    impl Drop for Rmdir {
        fn drop(&mut self) {
            let _ = std::fs::write(self.0.join("freezer.state"), "THAWED");
            for _ in 0..100 {
                if std::fs::remove_dir(&self.0).is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
    let _rmdir = Rmdir(frozen.clone());
    std::fs::write(frozen.join("cgroup.procs"), pid.to_string()).unwrap();
    std::fs::write(frozen.join("freezer.state"), "FROZEN").unwrap();
    let started = std::time::Instant::now();
    let out = rt.delete_force(&id);
    out.assert_success();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "delete waited {:?}",
        started.elapsed()
    );
    assert!(rt.state_json(&id).is_none(), "the state is still there");
    // The init is gone (reaped by its parent, or a zombie at worst).
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    });
    assert!(!alive, "the init {pid} survived");
}

/// In a user namespace the default devices are binds of the host's nodes,
/// mounted nosuid,noexec as crun does (test_devices
/// userns-precreated-devices-flags).
#[test]
fn device_binds_in_a_user_namespace_are_nosuid_noexec() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&[
        "awk",
        "$5 ~ /^\\/dev\\/(null|zero|full|tty|random|urandom)$/ { print $5, $6 }",
        "/proc/self/mountinfo",
    ]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        let full = json!([{"containerID": 0, "hostID": 0, "size": 4294967295u64}]);
        c["linux"]["uidMappings"] = full.clone();
        c["linux"]["gidMappings"] = full;
    });
    let out = run(&b);
    out.assert_success();
    let text = out.stdout_str();
    assert_eq!(text.lines().count(), 6, "{text}");
    for l in text.lines() {
        let opts: Vec<&str> = l.split_whitespace().nth(1).unwrap().split(',').collect();
        assert!(opts.contains(&"nosuid") && opts.contains(&"noexec"), "{l}");
    }
}

/// systemd socket activation passed through (runc, crun): with LISTEN_FDS=N
/// in the runtime's environment, descriptors 3..3+N reach the container,
/// which sees LISTEN_FDS=N and LISTEN_PID=1 (crun's test_start
/// listen_pid_env).
#[test]
fn socket_activation_descriptors_and_env_pass_through() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), "first\n").unwrap();
    std::fs::write(dir.path().join("b"), "second\n").unwrap();
    let b = Bundle::with_args(&[
        "sh",
        "-c",
        "echo $LISTEN_FDS $LISTEN_PID; cat <&3; cat <&4; [ -e /proc/self/fd/5 ] && echo leaked-5 || true",
    ]);
    b.write();
    let id = unique_id("listen");
    rt.track(&id);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("exec 3<\"$A\" 4<\"$B\" 5<\"$A\"; exec \"$@\"")
        .arg("sh")
        .arg(rt.binary())
        .arg("--root")
        .arg(rt.root())
        .args(["run", "--bundle"])
        .arg(b.path())
        .arg(&id)
        .env("A", dir.path().join("a"))
        .env("B", dir.path().join("b"))
        .env("LISTEN_FDS", "2")
        .env_remove("LISTEN_PID")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    out.assert_success();
    assert_eq!(out.stdout_str(), "2 1\nfirst\nsecond\n");
}

/// A linux.devices entry in a user namespace whose node the host lacks:
/// the runtime makes it (mode, owner mapped) and the init binds it, where
/// runc would bind a host path that is not there (crun's test_devices
/// owner-device, userns part).
#[test]
fn userns_device_the_host_lacks_is_made_with_its_owner() {
    if !require_root() {
        return;
    }
    let name = format!("berth-nodev-{}", std::process::id());
    assert!(!Path::new("/dev").join(&name).exists());
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        &format!("stat -c '%u:%g %t:%T %F %a' /dev/{name}"),
    ]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        let full = json!([{"containerID": 0, "hostID": 0, "size": 4294967295u64}]);
        c["linux"]["uidMappings"] = full.clone();
        c["linux"]["gidMappings"] = full;
        c["linux"]["devices"] = json!([{
            "path": format!("/dev/{name}"), "type": "b", "major": 1, "minor": 5,
            "uid": 10, "gid": 11, "fileMode": 0o640
        }]);
    });
    let out = run(&b);
    out.assert_success();
    assert_eq!(out.stdout_str(), "10:11 1:5 block special file 640\n");
    assert!(
        !Path::new("/dev").join(&name).exists(),
        "made on the host's /dev"
    );
}
