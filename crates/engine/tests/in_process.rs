#![forbid(unsafe_code)]
//! The engine tested on its own: an `Engine` opened in this process on a
//! temporary data root, a busybox image imported, containers created,
//! started, waited for, inspected and removed through the engine's methods,
//! without the API, the CLI or the `berth` binary. The spec a host config
//! gives is read back from the bundle's config.json.
//!
//! This binary is also the shim the engine starts (`<exe> shim <bundle>`),
//! so it runs without libtest's harness (Cargo.toml): `main` dispatches the
//! shim, else runs the tests one by one. They need root and busybox: they
//! skip without them, and fail in CI (`CI=true`).

use std::ffi::OsString;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_engine::containers::CreateRequest;
use berth_engine::images::ImageFilters;
use berth_engine::sysinfo::SysInfo;
use berth_engine::{Config, Engine, Error};
use serde_json::{Value, json};

type Test = fn(&Harness);

const TESTS: &[(&str, Test)] = &[
    (
        "refused_fields_name_the_field",
        refused_fields_name_the_field,
    ),
    ("names_are_unique", names_are_unique),
    (
        "a_container_runs_exits_and_is_removed",
        a_container_runs_exits_and_is_removed,
    ),
    (
        "host_config_reaches_the_spec_and_cgroup",
        host_config_reaches_the_spec_and_cgroup,
    ),
    (
        "unenforceable_limits_are_warned_about",
        unenforceable_limits_are_warned_about,
    ),
    (
        "images_are_listed_and_filtered",
        images_are_listed_and_filtered,
    ),
];

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "shim") && args.len() == 3 {
        std::process::exit(berth_shim::main(Path::new(&args[2])));
    }
    // libtest's flags (--test-threads, --nocapture...) are accepted and
    // ignored; a bare word selects the tests whose name holds it.
    let filter: Option<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .find(|a| !a.starts_with('-') && !a.chars().all(|c| c.is_ascii_digit()));
    let selected: Vec<&(&str, Test)> = TESTS
        .iter()
        .filter(|(name, _)| filter.as_deref().is_none_or(|f| name.contains(f)))
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return;
    }
    if selected.is_empty() || !can_run() {
        return;
    }
    println!("\nrunning {} tests", selected.len());
    let mut failed = Vec::new();
    for (name, test) in &selected {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let h = Harness::new();
            test(&h);
        }));
        let ok = outcome.is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if !ok {
            failed.push(*name);
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        println!("failures: {failed:?}");
        std::process::exit(101);
    }
}

/// Root and a static busybox, or a skip (a failure in CI).
fn can_run() -> bool {
    berth_testkit::require_root()
        && berth_testkit::require_tool(&berth_testkit::busybox_path().display().to_string())
            .is_some()
}

/// One engine on its own temporary roots, with a busybox image `bb:1`
/// (CMD sh, LABEL tier=test). Dropping it removes every container, kills
/// what a failed test left running and removes its cgroups.
struct Harness {
    engine: Arc<Engine>,
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    cgroup_parent: String,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::Builder::new()
            .prefix("berth-engine-test")
            .tempdir()
            .unwrap();
        let cgroup_parent = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let engine = Engine::open(Config {
            data_root: dir.path().join("data"),
            exec_root: dir.path().join("exec"),
            exe: std::env::current_exe().unwrap(),
            cgroup_parent: cgroup_parent.clone(),
            insecure_registries: Vec::new(),
            net: Default::default(),
            build_context_limit: None,
        })
        .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let h = Harness {
            engine: Arc::new(engine),
            rt,
            dir,
            cgroup_parent,
        };
        h.import_busybox();
        h
    }

    fn import_busybox(&self) {
        let root = self.dir.path().join("rootfs");
        berth_testkit::busybox_rootfs(&root).unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        tar.follow_symlinks(false);
        tar.append_dir_all(".", &root).unwrap();
        let bytes = tar.into_inner().unwrap();
        let changes = vec!["CMD [\"sh\"]".into(), "LABEL tier=test".into()];
        self.engine
            .image_import(&bytes[..], changes, None, Some("bb:1"), None)
            .unwrap();
    }

    /// A create from the API's JSON: the Config with its HostConfig in it.
    fn create(
        &self,
        name: Option<&str>,
        mut body: Value,
    ) -> berth_engine::Result<(String, Vec<String>)> {
        let hc = body
            .as_object_mut()
            .and_then(|o| o.remove("HostConfig"))
            .unwrap_or_else(|| json!({}));
        let req = CreateRequest {
            name: name.map(str::to_string),
            config: serde_json::from_value(body).unwrap(),
            host_config: serde_json::from_value(hc).unwrap(),
        };
        self.engine.create(req).map(|(c, w)| (c.id, w))
    }

    fn start(&self, id: &str) {
        self.rt.block_on(self.engine.start(id)).unwrap();
    }

    /// Starts the container and waits for its exit code.
    fn run(&self, id: &str) -> i32 {
        let exited = self.engine.wait_registered(id, "next-exit");
        self.start(id);
        let waited = self.rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(30), exited).await
        });
        waited.expect("the container exits within 30 s").unwrap()
    }

    /// The config.json of the container's current run.
    fn spec(&self, id: &str) -> Value {
        let path = self.engine.bundle_dir(id).join("config.json");
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    fn remove(&self, id: &str, force: bool) -> berth_engine::Result<()> {
        self.rt.block_on(self.engine.remove(id, force, true))
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        for c in self.engine.list() {
            let _ = self.remove(&c.id, true);
        }
        berth_testkit::kill_strays(self.dir.path());
        remove_cgroups(&self.cgroup_parent);
    }
}

/// The test's cgroups, in every hierarchy, deepest first.
fn remove_cgroups(parent: &str) {
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let top = hierarchy.path().join(parent);
        let mut dirs = vec![];
        let mut todo = vec![top];
        while let Some(d) = todo.pop() {
            if let Ok(entries) = std::fs::read_dir(&d) {
                todo.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
                dirs.push(d);
            }
        }
        for d in dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn message(r: berth_engine::Result<(String, Vec<String>)>) -> (u16, String) {
    let e: Error = r.expect_err("the create is refused");
    (e.status(), e.to_string())
}

fn refused_fields_name_the_field(h: &Harness) {
    let refused = [
        (
            // This engine has no default bridge: the default is none.
            json!({"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}}),
            "conflicting options: port publishing and the container type network mode",
        ),
        (
            json!({"MacAddress": "02:42:ac:11:00:02"}),
            "conflicting options: mac-address and the network mode",
        ),
        (
            json!({"NetworkingConfig": {"EndpointsConfig": {"default": {"Aliases": ["db"]}}}}),
            "network-scoped aliases are only supported for user-defined networks",
        ),
        (
            json!({"HostConfig": {"CgroupnsMode": "shared"}}),
            "invalid cgroup namespace mode: shared",
        ),
        (
            json!({"HostConfig": {"CgroupParent": "../escape"}}),
            "HostConfig.CgroupParent",
        ),
        (
            json!({"HostConfig": {"BlkioDeviceReadBps": [{"Path": "/dev/null", "Rate": 1}]}}),
            "HostConfig.BlkioDeviceReadBps: \"/dev/null\" is not a block device",
        ),
        (
            json!({"HostConfig": {"CpusetMems": "0-x"}}),
            "Invalid value 0-x for cpuset mems",
        ),
        (
            json!({"HostConfig": {"UsernsMode": "private"}}),
            "HostConfig.UsernsMode",
        ),
        (
            json!({"HostConfig": {"OomScoreAdj": 1001}}),
            "range for oom score adj is [-1000, 1000]",
        ),
        (
            json!({"HostConfig": {"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}}),
            "invalid ulimit type: bogus",
        ),
    ];
    for (mut body, says) in refused {
        body["Image"] = json!("bb:1");
        let (status, msg) = message(h.create(None, body.clone()));
        assert_eq!(status, 400, "{body}: {msg}");
        assert!(msg.contains(says), "{body}: {msg}");
    }
    let (status, msg) = message(h.create(None, json!({"Image": "no-such:image"})));
    assert_eq!(status, 404, "{msg}");
    assert!(
        h.engine.list().is_empty(),
        "a refused create leaves nothing"
    );
}

fn names_are_unique(h: &Harness) {
    let (id, _) = h.create(Some("web"), json!({"Image": "bb:1"})).unwrap();
    let (status, msg) = message(h.create(Some("web"), json!({"Image": "bb:1"})));
    assert_eq!(status, 409, "{msg}");
    assert!(
        msg.contains("The container name \"/web\" is already in use") && msg.contains(&id),
        "{msg}"
    );
    let (status, msg) = message(h.create(Some("bad name"), json!({"Image": "bb:1"})));
    assert_eq!(status, 400, "{msg}");
    // Generated names never collide.
    let (a, _) = h.create(None, json!({"Image": "bb:1"})).unwrap();
    let (b, _) = h.create(None, json!({"Image": "bb:1"})).unwrap();
    let names = [
        h.engine.get(&a).unwrap().name,
        h.engine.get(&b).unwrap().name,
    ];
    assert_ne!(names[0], names[1]);
    assert_eq!(h.engine.get("web").unwrap().id, id);
}

fn a_container_runs_exits_and_is_removed(h: &Harness) {
    let (id, warnings) = h
        .create(
            Some("exits"),
            json!({"Image": "bb:1", "Cmd": ["sh", "-c", "echo out; echo err >&2; exit 3"],
                "Env": ["A=1"], "Labels": {"k": "v"}}),
        )
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let c = h.engine.get("exits").unwrap();
    assert_eq!((c.path.as_str(), c.args.len()), ("sh", 2));
    assert_eq!(c.config.labels.as_ref().unwrap()["k"], "v");
    // The image's label is merged in; its CMD is replaced.
    assert_eq!(c.config.labels.as_ref().unwrap()["tier"], "test");
    assert_eq!(c.state.status.as_str(), "created");
    assert_eq!(h.run(&id), 3);
    let c = h.engine.get(&id).unwrap();
    assert_eq!(c.state.status.as_str(), "exited");
    assert_eq!(c.state.exit_code, 3);
    assert!(c.state.started_at.is_some() && c.state.finished_at.is_some());
    let log = std::fs::read_to_string(h.engine.log_path(&id)).unwrap();
    assert!(
        log.contains("\"log\":\"out\\n\",\"stream\":\"stdout\"")
            && log.contains("\"log\":\"err\\n\",\"stream\":\"stderr\""),
        "{log}"
    );
    let spec = h.spec(&id);
    let env = spec["process"]["env"].to_string();
    assert!(
        env.contains("\"A=1\"") && env.contains("\"PATH=/usr/local/sbin"),
        "{env}"
    );

    // A running container goes only by force.
    let (long, _) = h
        .create(None, json!({"Image": "bb:1", "Cmd": ["sleep", "60"]}))
        .unwrap();
    h.start(&long);
    assert!(h.engine.get(&long).unwrap().is_running());
    let e = h.remove(&long, false).unwrap_err();
    assert_eq!(e.status(), 409, "{e}");
    h.remove(&long, true).unwrap();
    assert_eq!(h.engine.get(&long).unwrap_err().status(), 404);
    h.remove(&id, false).unwrap();
    assert!(h.engine.list().is_empty());
}

/// A block device of the host, as (path, "major:minor").
fn block_device() -> Option<(String, String)> {
    let entries = std::fs::read_dir("/sys/block").ok()?;
    entries.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let numbers = std::fs::read_to_string(e.path().join("dev")).ok()?;
        let path = format!("/dev/{name}");
        use std::os::unix::fs::FileTypeExt;
        let is_block = std::fs::metadata(&path).ok()?.file_type().is_block_device();
        (is_block && !name.starts_with("loop")).then(|| (path, numbers.trim().to_string()))
    })
}

/// The container's cgroup directory for `controller` on a v1 host.
fn v1_cgroup(controller: &str, path: &str) -> Option<PathBuf> {
    let dir = Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(path.trim_start_matches('/'));
    dir.is_dir().then_some(dir)
}

fn host_config_reaches_the_spec_and_cgroup(h: &Harness) {
    let info = SysInfo::host();
    let device = block_device();
    let parent = format!("{}/custom", h.cgroup_parent);
    let mut hc = json!({
        "CgroupParent": parent, "CgroupnsMode": "host", "CpusetMems": "0",
        "Memory": 64 << 20, "ShmSize": 1 << 20, "PidsLimit": 50,
        "MaskedPaths": [], "Annotations": {"org.example/a": "b"},
    });
    if let Some((path, _)) = &device {
        hc["BlkioDeviceReadBps"] = json!([{"Path": path, "Rate": 1048576}]);
    }
    let (id, _warnings) = h
        .create(
            None,
            json!({"Image": "bb:1", "Cmd": ["sleep", "60"], "HostConfig": hc}),
        )
        .unwrap();
    let c = h.engine.get(&id).unwrap();
    assert_eq!(c.host_config.cgroupns_mode, "host");
    h.start(&id);
    let spec = h.spec(&id);
    let linux = &spec["linux"];
    assert_eq!(linux["cgroupsPath"], format!("{parent}/{id}"));
    let namespaces = linux["namespaces"].to_string();
    assert!(
        !namespaces.contains("cgroup") && namespaces.contains("pid"),
        "{namespaces}"
    );
    assert_eq!(linux["resources"]["cpu"]["mems"], "0");
    assert_eq!(linux["resources"]["memory"]["limit"], 64 << 20);
    assert_eq!(linux["resources"]["pids"]["limit"], 50);
    assert_eq!(linux["maskedPaths"], json!([]));
    assert!(
        linux["readonlyPaths"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    );
    assert_eq!(spec["annotations"]["org.example/a"], "b");
    let shm = spec["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == "/dev/shm")
        .unwrap();
    assert!(shm["options"].to_string().contains("size=1048576"), "{shm}");
    let cgroup_path = format!("{parent}/{id}");
    if let Some((_, numbers)) = &device {
        let throttle = &linux["resources"]["blockIO"]["throttleReadBpsDevice"];
        if info.blkio_read_bps {
            let (major, minor) = numbers.split_once(':').unwrap();
            assert_eq!(
                (
                    &throttle[0]["major"],
                    &throttle[0]["minor"],
                    &throttle[0]["rate"]
                ),
                (
                    &json!(major.parse::<i64>().unwrap()),
                    &json!(minor.parse::<i64>().unwrap()),
                    &json!(1048576)
                )
            );
            if let Some(dir) = v1_cgroup("blkio", &cgroup_path) {
                let limits =
                    std::fs::read_to_string(dir.join("blkio.throttle.read_bps_device")).unwrap();
                assert_eq!(limits.trim(), format!("{numbers} 1048576"));
            }
        } else {
            assert!(throttle.is_null(), "discarded: {throttle}");
        }
    }
    if let Some(dir) = v1_cgroup("cpuset", &cgroup_path) {
        assert_eq!(
            std::fs::read_to_string(dir.join("cpuset.mems"))
                .unwrap()
                .trim(),
            "0"
        );
    }
    if let Some(dir) = v1_cgroup("pids", &cgroup_path) {
        assert_eq!(
            std::fs::read_to_string(dir.join("pids.max"))
                .unwrap()
                .trim(),
            "50"
        );
    }
    // An update reaches the running container's cgroup and its record.
    let warnings =
        h.rt.block_on(
            h.engine
                .update_container(&id, &json!({"PidsLimit": 60, "Memory": 0})),
        )
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let c = h.engine.get(&id).unwrap();
    assert_eq!(
        (c.host_config.pids_limit, c.host_config.memory),
        (Some(60), 64 << 20)
    );
    if let Some(dir) = v1_cgroup("pids", &cgroup_path) {
        assert_eq!(
            std::fs::read_to_string(dir.join("pids.max"))
                .unwrap()
                .trim(),
            "60"
        );
    }
    h.remove(&id, true).unwrap();
}

fn unenforceable_limits_are_warned_about(h: &Harness) {
    let info = SysInfo::host();
    let (id, warnings) = h
        .create(
            None,
            json!({"Image": "bb:1", "HostConfig": {"OomKillDisable": true,
                "MemorySwappiness": 10, "BlkioWeight": 300, "CpuPercent": 20,
                "Memory": 64 << 20}}),
        )
        .unwrap();
    let c = h.engine.get(&id).unwrap();
    let hc = &c.host_config;
    let said = |w: &str| warnings.iter().any(|x| x.contains(w));
    assert_eq!(
        said("OomKillDisable discarded"),
        !info.oom_kill_disable,
        "{warnings:?}"
    );
    assert_eq!(hc.oom_kill_disable, info.oom_kill_disable.then_some(true));
    assert_eq!(
        said("Memory swappiness discarded"),
        !info.memory_swappiness,
        "{warnings:?}"
    );
    assert_eq!(said("Block I/O weight"), !info.blkio_weight, "{warnings:?}");
    assert_eq!(hc.blkio_weight, if info.blkio_weight { 300 } else { 0 });
    assert_eq!(
        said("Memory limited without swap"),
        !info.swap_limit,
        "{warnings:?}"
    );
    assert!(said("linux does not support CPU percent"), "{warnings:?}");
    // What is kept reaches the spec.
    assert_eq!(h.run(&id), 0);
    let memory = &h.spec(&id)["linux"]["resources"]["memory"];
    assert_eq!(
        memory["disableOOMKiller"].as_bool(),
        info.oom_kill_disable.then_some(true)
    );
    assert_eq!(
        memory["swappiness"].as_u64(),
        info.memory_swappiness.then_some(10)
    );
}

fn images_are_listed_and_filtered(h: &Harness) {
    let list = |f: ImageFilters| h.engine.image_list(&f).unwrap();
    let by_ref = |r: &str| ImageFilters {
        reference: vec![r.to_string()],
        ..Default::default()
    };
    let by_label = |l: &str| ImageFilters {
        labels: vec![l.to_string()],
        ..Default::default()
    };
    let all = list(ImageFilters::default());
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["RepoTags"], json!(["bb:1"]));
    assert_eq!(list(by_ref("bb")).len(), 1);
    assert_eq!(list(by_ref("bb:*")).len(), 1);
    assert_eq!(list(by_ref("other")).len(), 0);
    assert_eq!(list(by_label("tier=test")).len(), 1);
    assert_eq!(list(by_label("tier")).len(), 1);
    assert_eq!(list(by_label("tier=prod")).len(), 0);
    let dangling = ImageFilters {
        dangling: Some(true),
        ..Default::default()
    };
    assert_eq!(list(dangling).len(), 0);
    h.engine.image_tag("bb:1", "bb", Some("2")).unwrap();
    assert_eq!(list(by_ref("bb:2")).len(), 1);
    // An image a container uses cannot go unless forced.
    h.create(None, json!({"Image": "bb:1"})).unwrap();
    let e = h.engine.image_remove("bb:2", false);
    assert!(e.is_ok(), "untagging one of two names is no removal: {e:?}");
    let e = h.engine.image_remove("bb:1", false).unwrap_err();
    assert_eq!(e.status(), 409, "{e}");
}
