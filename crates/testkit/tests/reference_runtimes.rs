//! Proves the harness against the reference runtimes, runc and crun: a busybox
//! bundle runs, output is captured, the default capability set applies, the
//! create/start/state/kill/delete cycle works, and drop cleans up.

use std::time::Duration;

use berth_testkit::{Bundle, OutputExt, Runtime, require_root, unique_id};

/// CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29).
const DEFAULT_CAPEFF: &str = "CapEff:\t0000000020000420";

fn reference_runtimes() -> Vec<Runtime> {
    if !require_root() {
        return Vec::new();
    }
    [Runtime::runc(), Runtime::crun()]
        .into_iter()
        .flatten()
        .collect()
}

#[test]
fn echo_hello() {
    for rt in reference_runtimes() {
        let bundle = Bundle::with_args(&["echo", "hello"]);
        let out = rt.run(&bundle, &unique_id("echo"));
        out.assert_success();
        assert_eq!(out.stdout_str(), "hello\n", "{}", rt.kind());
    }
}

#[test]
fn default_capabilities() {
    for rt in reference_runtimes() {
        let bundle = Bundle::with_args(&["sh", "-c", "cat /proc/self/status | grep CapEff"]);
        let out = rt.run(&bundle, &unique_id("caps"));
        out.assert_success();
        assert_eq!(out.stdout_str().trim_end(), DEFAULT_CAPEFF, "{}", rt.kind());
    }
}

#[test]
fn exit_code_stderr_and_edits() {
    for rt in reference_runtimes() {
        let mut bundle = Bundle::new();
        bundle
            .args(&[
                "sh",
                "-c",
                "hostname; echo \"$FOO\" >&2; cat /etc/motd; exit 3",
            ])
            .edit(|v| {
                v["process"]["env"]
                    .as_array_mut()
                    .unwrap()
                    .push("FOO=bar".into())
            });
        bundle.write_file_in_rootfs("/etc/motd", "motd\n", 0o644);
        let out = rt.run(&bundle, &unique_id("edit"));
        out.assert_code(3);
        assert_eq!(out.stdout_str(), "berth-test\nmotd\n", "{}", rt.kind());
        assert_eq!(out.stderr_str(), "bar\n", "{}", rt.kind());
    }
}

#[test]
fn lifecycle() {
    for rt in reference_runtimes() {
        let kind = rt.kind();
        let bundle = Bundle::with_args(&["sh", "-c", "echo started; exec sleep 60"]);
        let id = unique_id("life");
        rt.create(&bundle, &id).assert_success();
        assert_eq!(rt.status(&id).as_deref(), Some("created"), "{kind}");
        rt.start(&id).assert_success();
        assert!(
            rt.wait_for_status(&id, "running", Duration::from_secs(10)),
            "{kind}"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !rt.container_output(&id).0.contains("started")
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(rt.container_output(&id).0, "started\n", "{kind}");
        rt.kill(&id, "KILL").assert_success();
        assert!(
            rt.wait_for_status(&id, "stopped", Duration::from_secs(10)),
            "{kind}"
        );
        rt.delete(&id).assert_success();
        assert!(rt.state_json(&id).is_none(), "{kind}");
    }
}

#[test]
fn drop_deletes_leftover_containers() {
    for rt in reference_runtimes() {
        let kind = rt.kind();
        let bundle = Bundle::with_args(&["sleep", "60"]);
        let id = unique_id("leak");
        rt.create(&bundle, &id).assert_success();
        rt.start(&id).assert_success();
        assert!(
            rt.wait_for_status(&id, "running", Duration::from_secs(10)),
            "{kind}"
        );
        let pid = rt.state_json(&id).unwrap()["pid"].as_i64().unwrap();
        let root = rt.root();
        drop(rt);
        assert!(!root.exists(), "{kind}: state dir left behind");
        // The init process is gone, or a zombie awaiting a reaper that isn't us.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z "),
            "{kind}: container {pid} still alive: {stat}"
        );
    }
}
