#![forbid(unsafe_code)]
//! More of config.json honoured, each observed from inside the container:
//! namespaces joined by path, --no-pivot, bind mounts with options, rlimits,
//! oom_score_adj, cpu and memory limits, and the in-container hooks.

use std::time::Duration;

use berth_testkit::{Bundle, OutputExt, Runtime, require_root, unique_id};
use serde_json::json;

fn run(b: &Bundle) -> std::process::Output {
    Runtime::berth().run(b, &unique_id("cfg"))
}

#[test]
fn namespaces_joined_by_path() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let first = unique_id("ns-owner");
    let owner = Bundle::with_args(&["sleep", "100"]);
    rt.create(&owner, &first).assert_success();
    let pid = rt.state_json(&first).unwrap()["pid"].as_i64().unwrap();
    let ns = |name: &str| std::fs::read_link(format!("/proc/{pid}/ns/{name}")).unwrap();
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "for n in net ipc uts; do readlink /proc/self/ns/$n; done; hostname",
    ]);
    b.edit(|c| {
        let mut list = vec![json!({"type": "pid"}), json!({"type": "mount"})];
        for t in ["network", "ipc", "uts"] {
            let name = if t == "network" { "net" } else { t };
            list.push(json!({"type": t, "path": format!("/proc/{pid}/ns/{name}")}));
        }
        c["linux"]["namespaces"] = json!(list);
    });
    let out = run(&b);
    out.assert_success();
    let want = format!(
        "{}\n{}\n{}\nberth-test\n",
        ns("net").display(),
        ns("ipc").display(),
        ns("uts").display()
    );
    assert_eq!(out.stdout_str(), want);
    rt.delete_force(&first).assert_success();
}

#[test]
fn no_pivot_uses_chroot() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let id = unique_id("nopivot");
    let b = Bundle::with_args(&[
        "sh",
        "-c",
        "ls /bin/busybox && cat /proc/self/mountinfo | wc -l",
    ]);
    b.write();
    let out = rt
        .command()
        .args(["run", "--no-pivot", "--bundle"])
        .arg(b.path())
        .arg(&id)
        .output()
        .unwrap();
    rt.track(&id);
    out.assert_success();
    assert!(
        out.stdout_str().starts_with("/bin/busybox\n"),
        "{}",
        out.stdout_str()
    );
}

#[test]
fn bind_mounts_with_options_and_propagation() {
    if !require_root() {
        return;
    }
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("file"), "from the host\n").unwrap();
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "cat /data/file; (echo x > /data/new) 2>/dev/null && echo data-writable || echo data-readonly; \
         echo y > /rw/made && echo rw-writable; cat /single",
    ]);
    let rw = tempfile::tempdir().unwrap();
    b.edit(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": "/data", "type": "bind", "source": host.path(), "options": ["rbind", "ro", "rprivate"]}));
        mounts.push(json!({"destination": "/rw", "type": "bind", "source": rw.path(), "options": ["bind", "rw"]}));
        mounts.push(json!({"destination": "/single", "type": "bind", "source": host.path().join("file"), "options": ["bind", "ro"]}));
        c["linux"]["rootfsPropagation"] = json!("rslave");
    });
    let out = run(&b);
    out.assert_success();
    assert_eq!(
        out.stdout_str(),
        "from the host\ndata-readonly\nrw-writable\nfrom the host\n"
    );
    assert_eq!(
        std::fs::read_to_string(rw.path().join("made")).unwrap(),
        "y\n"
    );
    assert!(!host.path().join("new").exists());
}

#[test]
fn rlimits_clamped_and_oom_score_adj() {
    if !require_root() {
        return;
    }
    let (_, hard_max) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; ulimit -s; cat /proc/self/oom_score_adj",
    ]);
    b.edit(|c| {
        c["process"]["rlimits"] = json!([
            // Far above what this host grants without CAP_SYS_RESOURCE.
            {"type": "RLIMIT_NOFILE", "soft": 1u64 << 40, "hard": 1u64 << 40},
            {"type": "RLIMIT_STACK", "soft": 4194304, "hard": 8388608},
        ]);
        c["process"]["oomScoreAdj"] = json!(500);
    });
    let out = run(&b);
    out.assert_success();
    let lines: Vec<String> = out.stdout_str().lines().map(String::from).collect();
    let got: u64 = lines[0].parse().unwrap();
    assert!(
        got <= hard_max,
        "soft {got} above the host's hard {}",
        hard_max
    );
    assert_eq!(lines[2], "4096", "stack soft limit in KiB");
    assert_eq!(lines[3], "500");
}

#[test]
fn cpu_memory_and_pids_limits_are_visible_inside() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "cd /sys/fs/cgroup; cat cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares cpuset/cpuset.cpus \
         memory/memory.soft_limit_in_bytes memory/memory.limit_in_bytes pids/pids.max",
    ]);
    b.edit(|c| {
        c["linux"]["resources"]["cpu"] =
            json!({"quota": 50000, "period": 100000, "shares": 256, "cpus": "0"});
        c["linux"]["resources"]["memory"] = json!({"limit": 67108864, "reservation": 33554432});
        c["linux"]["resources"]["pids"] = json!({"limit": 20});
    });
    let out = run(&b);
    out.assert_success();
    assert_eq!(
        out.stdout_str(),
        "50000\n100000\n256\n0\n33554432\n67108864\n20\n"
    );
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&[
        "sh",
        "-c",
        "sh -c 'for i in $(seq 30); do sleep 5 & done' 2>/dev/null; \
         read n < /sys/fs/cgroup/pids/pids.current; read e < /sys/fs/cgroup/pids/pids.events; echo $n $e",
    ]);
    b.edit(|c| c["linux"]["resources"]["pids"] = json!({"limit": 10}));
    let rt = Runtime::berth();
    let mut rt = rt;
    rt.set_timeout(Duration::from_secs(30));
    let out = rt.run(&b, &unique_id("pids"));
    // ash gives up at the first refused fork; only builtins run after it.
    let text = out.stdout_str();
    let f: Vec<&str> = text.split_whitespace().collect();
    let n: u32 = f[0].parse().unwrap_or_else(|_| panic!("{out:?}"));
    assert!(n <= 10, "{n} processes under a limit of 10");
    assert_eq!(f[1], "max");
    assert!(
        f[2].parse::<u32>().unwrap() > 0,
        "forks were refused: {text}"
    );
}

#[test]
fn create_container_and_start_container_hooks_run_in_the_container() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&["sh", "-c", "cat /dev/shm/started"]);
    let marker = tempfile::tempdir().unwrap();
    let log = marker.path().join("cc");
    b.edit(|c| {
        c["hooks"] = json!({
            // Runs in the container's namespaces, before pivot_root: it sees
            // the container's hostname.
            "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", format!("hostname > {}", log.display())]}],
            // Runs after pivot_root: the path is the container's /bin/sh.
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo started > /dev/shm/started"]}],
        });
    });
    let out = run(&b);
    out.assert_success();
    assert_eq!(out.stdout_str(), "started\n");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "berth-test\n");
}

/// runc: a startContainer hook without an env, run by the container's init,
/// inherits the container process's environment (contest's
/// start_container_hook_env_inherit); one with an env gets exactly that.
#[test]
fn start_container_hooks_without_env_inherit_the_process_env() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::with_args(&["sh", "-c", "cat /dev/shm/seen"]);
    b.edit(|c| {
        c["process"]["env"] = json!(["PATH=/bin:/usr/bin", "ONE=two", "FOO=bar"]);
        c["hooks"] = json!({
            "startContainer": [
                {"path": "/bin/sh", "args": ["sh", "-c", "echo \"inherit $ONE $FOO\" > /dev/shm/seen"]},
                {"path": "/bin/sh", "args": ["sh", "-c", "echo \"own [$ONE] $X\" >> /dev/shm/seen"],
                 "env": ["X=y"]}
            ],
        });
    });
    let out = run(&b);
    out.assert_success();
    assert_eq!(out.stdout_str(), "inherit two bar\nown [] y\n");
}

/// cgroup v1 real-time CPU: the period is written before the runtime, and
/// the intermediate cgroups the runtime makes get the budget a child needs
/// (they start with none), as crun (test_cgroup_setup cgroup-cpu-realtime).
#[test]
fn realtime_cpu_budget_reaches_a_nested_cgroup() {
    if !require_root() {
        return;
    }
    let cpu = std::path::Path::new("/sys/fs/cgroup/cpu");
    if !cpu.join("cpu.rt_runtime_us").exists() {
        eprintln!("skip: no cgroup v1 cpu controller with real-time group scheduling");
        return;
    }
    let rt = Runtime::berth();
    let id = unique_id("rt");
    let top = format!("berth-rt-{id}");
    let mut b = Bundle::with_args(&["true"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{top}/mid/{id}"));
        c["linux"]["resources"]["cpu"] = json!({"realtimeRuntime": 1000, "realtimePeriod": 100000});
    });
    let out = rt.create(&b, &id);
    let read = |rel: &str, f: &str| {
        std::fs::read_to_string(cpu.join(rel).join(f)).map(|s| s.trim().to_string())
    };
    let leaf = format!("{top}/mid/{id}");
    let got = (
        read(&leaf, "cpu.rt_period_us"),
        read(&leaf, "cpu.rt_runtime_us"),
        read(&format!("{top}/mid"), "cpu.rt_runtime_us"),
        read(&top, "cpu.rt_runtime_us"),
    );
    rt.delete_force(&id);
    for rel in [format!("{top}/mid"), top.clone()] {
        for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let _ = std::fs::remove_dir(h.path().join(&rel));
        }
    }
    out.assert_success();
    assert_eq!(got.0.unwrap(), "100000");
    assert_eq!(got.1.unwrap(), "1000");
    // Each ancestor has the same share: 1000/100000 of its 1 s period.
    assert_eq!(got.2.unwrap(), "10000");
    assert_eq!(got.3.unwrap(), "10000");
}
