//! cgroup v2 driven on the host's real cgroup2 mount. On hybrid hosts that
//! mount has no resource controllers (v1 holds them), so this covers what v2
//! has everywhere: creation, joining, the freezer, cpu.stat, unified keys and
//! removal; the controllers' files are covered by unit tests on plain files.

use std::process::Command;

use berth_runtime::cgroups::{CgroupPaths, Layout};
use berth_testkit::{require_root, unique_id};

#[test]
fn v2_cgroup_lifecycle_on_the_real_mount() {
    if !require_root() {
        return;
    }
    let layout = Layout::host();
    let Some(mount) = layout.unified() else {
        assert!(
            !berth_testkit::in_ci(),
            "no cgroup2 mount on this CI machine"
        );
        eprintln!("skipped: no cgroup2 mount");
        return;
    };
    let dir = mount.join("berth-test").join(unique_id("v2"));
    let paths = CgroupPaths {
        unified: Some(dir.clone()),
        v2_only: true,
        ..Default::default()
    };
    let resources: oci_spec::runtime::LinuxResources =
        serde_json::from_str(r#"{"unified": {"cgroup.max.descendants": "5"}}"#).unwrap();
    paths.create(Some(&resources)).unwrap();
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id() as i32;
    let result = std::panic::catch_unwind(|| {
        assert_eq!(
            std::fs::read_to_string(dir.join("cgroup.max.descendants"))
                .unwrap()
                .trim(),
            "5"
        );
        paths.add(pid).unwrap();
        assert_eq!(paths.pids(), vec![pid]);
        paths.freeze(true).unwrap();
        assert!(paths.frozen());
        let events = std::fs::read_to_string(dir.join("cgroup.events")).unwrap();
        assert!(events.contains("frozen 1"), "{events}");
        paths.freeze(false).unwrap();
        assert!(!paths.frozen());
        let stats = paths.stats();
        assert!(stats.cpu.usage.total < 10_000_000_000, "{stats:?}");
        assert_eq!(
            stats.pids.current, 0,
            "no pids controller here, so no count"
        );
    });
    let _ = child.kill();
    let _ = child.wait();
    paths.destroy().unwrap();
    assert!(!dir.exists());
    let _ = std::fs::remove_dir(dir.parent().unwrap());
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
