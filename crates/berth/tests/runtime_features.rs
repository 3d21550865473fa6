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
