#![forbid(unsafe_code)]
//! Volumes as Docker users drive them, through real clients:
//!
//! 1. one scenario of docker's CLI (volume verbs, every mount form, copy-up,
//!    nocopy, read-only, anonymous volume lifetimes, --volumes-from, tmpfs,
//!    bad input) against a private `berth daemon` and a private dockerd,
//!    each transcript checked on its own and then compared line by line;
//! 2. the seed's promise: data written to a named volume survives the
//!    container's SIGKILL, its removal and a SIGKILL of the daemon;
//! 3. the Python docker SDK's volume calls against both engines.
//!
//! Needs root, dockerd and docker: skips without them, except under
//! CI=true. Each engine, directory and volume is the test's own.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use berth_testkit::{OutputExt, busybox_rootfs, require_root, require_tool, unique_id};
use common::engine::Engine;

/// Both engines speak 1.41 (Debian's dockerd): `volume prune` means the
/// same on both.
const API: (&str, &str) = ("DOCKER_API_VERSION", "1.41");

/// One step of the transcript: what was run and what came back, with the
/// values that legitimately differ (paths under the data root, ids, random
/// names) replaced.
struct Transcript<'a> {
    e: &'a Engine,
    lines: Vec<String>,
    /// (text, placeholder) replaced in every output.
    subst: Vec<(String, String)>,
}

impl<'a> Transcript<'a> {
    fn new(e: &'a Engine) -> Self {
        Transcript {
            e,
            lines: Vec::new(),
            subst: Vec::new(),
        }
    }

    fn docker(&mut self, args: &[&str]) -> Output {
        let out = self
            .e
            .docker_env(&[API], args)
            .expect("docker's CLI (required above)");
        let mut line = format!(
            "$ docker {}\n[{}] {}{}",
            args.join(" "),
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for (from, to) in &self.subst {
            line = line.replace(from.as_str(), to);
        }
        self.lines.push(mask_hex64(&line));
        out
    }

    /// Runs and requires success; the stdout, trimmed.
    fn ok(&mut self, args: &[&str]) -> String {
        let out = self.docker(args);
        out.assert_success();
        out.stdout_str().trim().to_string()
    }

    /// How many volumes the engine has (not in the transcript: dockerd
    /// leaves volumes behind where berth does not, see below).
    fn volume_count(&self) -> usize {
        let out = self.e.docker_env(&[API], &["volume", "ls", "-q"]).unwrap();
        out.assert_success();
        out.stdout_str().lines().count()
    }

    /// Runs and requires failure with `code` and `says` in stderr.
    fn fails(&mut self, args: &[&str], code: i32, says: &str) {
        let out = self.docker(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{} on {}: {}",
            args.join(" "),
            self.e.kind,
            out.stderr_str()
        );
        assert!(
            out.stderr_str().contains(says),
            "{} on {}: {:?} lacks {says:?}",
            args.join(" "),
            self.e.kind,
            out.stderr_str()
        );
    }
}

/// 64-hex ids and names (containers, anonymous volumes) as `<hex64>`.
fn mask_hex64(s: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in s.chars() {
        if c.is_ascii_hexdigit() && c.is_ascii_lowercase() || c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() == 64 { "<hex64>" } else { &run });
        run.clear();
        out.push(c);
    }
    out.push_str(if run.len() == 64 { "<hex64>" } else { &run });
    out
}

/// A busybox tarball for `docker import` with changes.
fn busybox_tarball(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("rootfs");
    busybox_rootfs(&root).unwrap();
    let tar = dir.join("bb.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    tar
}

/// The docker CLI scenario; returns the normalized transcript.
fn scenario(e: &Engine, tarball: &Path) -> Vec<String> {
    let mut t = Transcript::new(e);
    let id = unique_id("v");
    let vol = |what: &str| format!("{id}-{what}");
    let img = format!("volimg-{id}:1");
    let (named, labeled, tmpfsvol, cu, nc) = (
        vol("named"),
        vol("labeled"),
        vol("tmpfs"),
        vol("copyup"),
        vol("nocopy"),
    );
    t.subst.push((id.clone(), "<id>".into()));
    t.subst
        .push((e.dir.display().to_string(), "<scratch>".into()));
    let info = e
        .docker(&["info", "--format", "{{.DockerRootDir}}"])
        .unwrap();
    info.assert_success();
    t.subst
        .push((info.stdout_str().trim().to_string(), "<root>".into()));
    t.ok(&[
        "import",
        "-c",
        "VOLUME /etc",
        "-c",
        "CMD [\"sh\"]",
        tarball.to_str().unwrap(),
        &img,
    ]);

    // The volume verbs.
    assert_eq!(t.ok(&["volume", "create", &named]), named);
    t.ok(&["volume", "create", "--label", "tier=db", &labeled]);
    t.ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=2m",
        &tmpfsvol,
    ]);
    // create is idempotent.
    assert_eq!(t.ok(&["volume", "create", &named]), named);
    t.ok(&["volume", "ls", "-q", "-f", &format!("name={id}")]);
    t.ok(&[
        "volume",
        "ls",
        "-f",
        "label=tier=db",
        "--format",
        "{{.Name}} {{.Driver}} {{.Labels}}",
    ]);
    t.ok(&[
        "volume",
        "inspect",
        "-f",
        "{{.Name}} {{.Driver}} {{.Scope}} {{.Mountpoint}} {{.Labels}} {{.Options}}",
        &named,
        &tmpfsvol,
    ]);
    t.fails(&["volume", "inspect", &vol("nope")], 1, "no such volume");
    t.fails(&["volume", "create", "x"], 1, "volume name is too short");
    t.fails(
        &["volume", "create", "-o", "bogus=1", &vol("bad")],
        1,
        "invalid option",
    );
    t.fails(
        &["volume", "create", "-o", "type=tmpfs", &vol("bad")],
        1,
        "missing required option",
    );

    // A named volume: copy-up from the image, then the data stays.
    let listing = t.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{cu}:/etc"),
        &img,
        "ls",
        "/etc",
    ]);
    // The container's /etc as dockerd copies it: the init layer's files too.
    assert_eq!(
        listing, "group\nhostname\nhosts\nmtab\npasswd\nresolv.conf",
        "copy-up on {}",
        e.kind
    );
    t.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{cu}:/etc"),
        &img,
        "sh",
        "-c",
        "echo kept > /etc/note",
    ]);
    let note = t.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{cu}:/etc"),
        &img,
        "cat",
        "/etc/note",
    ]);
    assert_eq!(note, "kept");
    // The owner and mode of the image's directory (/root is 0700).
    let mode = t.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/root", vol("rootdir")),
        &img,
        "stat",
        "-c",
        "%a %u",
        "/root",
    ]);
    assert_eq!(mode, "700 0");
    // nocopy: nothing from the image (only the mount points of the
    // container's own /etc files, made by the runtime as dockerd's is).
    let empty = t.ok(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=volume,src={nc},dst=/etc,volume-nocopy"),
        &img,
        "ls",
        "-A",
        "/etc",
    ]);
    assert_eq!(empty, "hostname\nhosts\nresolv.conf");
    // Read-only.
    let ro = t.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{named}:/d:ro"),
        &img,
        "touch",
        "/d/x",
    ]);
    assert_ne!(ro.status.code(), Some(0));
    assert!(
        ro.stderr_str().contains("Read-only file system"),
        "{}",
        ro.stderr_str()
    );
    t.ok(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=volume,src={named},dst=/d,readonly"),
        &img,
        "true",
    ]);
    // A volume with driver options mounts its filesystem in the container.
    let df = t.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{tmpfsvol}:/t"),
        &img,
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts | cut -d' ' -f1,3",
    ]);
    assert_eq!(df, "tmpfs tmpfs");

    // In use: volume rm is refused; rm -v takes anonymous volumes, not named.
    let ctr = vol("user");
    t.ok(&[
        "create",
        "--name",
        &ctr,
        "-v",
        &format!("{named}:/d"),
        "-v",
        "/anon",
        &img,
        "true",
    ]);
    // A create refused after its anonymous volume was made (the name is
    // taken) leaves no volume behind on berth.
    let before = t.volume_count();
    let dup = e
        .docker_env(
            &[API],
            &["create", "--name", &ctr, "-v", "/again", &img, "true"],
        )
        .unwrap();
    // docker's CLI exits 1 for a create the daemon refuses (125 is run's).
    assert_eq!(dup.status.code(), Some(1), "{}", dup.stderr_str());
    assert!(
        dup.stderr_str().contains("already in use"),
        "{}",
        dup.stderr_str()
    );
    if e.kind == "berth" {
        assert_eq!(t.volume_count(), before);
    }
    t.fails(&["volume", "rm", &named], 1, "volume is in use");
    // Not in the transcript: dockerd lists mounts in no set order.
    let listed = e
        .docker_env(
            &[API],
            &[
                "inspect",
                "-f",
                "{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}};{{end}}",
                &ctr,
            ],
        )
        .unwrap();
    listed.assert_success();
    let mounts = listed.stdout_str();
    for m in ["volume /d true", "volume /anon true", "volume /etc true"] {
        assert!(mounts.contains(m), "{mounts}");
    }
    let anon: Vec<String> = t
        .ok(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}",
            &ctr,
        ])
        .lines()
        .map(str::to_string)
        .collect();
    t.ok(&["rm", "-v", &ctr]);
    t.fails(&["volume", "inspect", &anon[0]], 1, "no such volume");
    t.ok(&["volume", "inspect", "-f", "{{.Name}}", &named]);
    // --rm removes the anonymous volumes; without -v they stay.
    let before = t.volume_count();
    t.ok(&["run", "--rm", "-v", "/scratch", &img, "true"]);
    assert_eq!(t.volume_count(), before);
    let keep = vol("keep");
    t.ok(&["create", "--name", &keep, "-v", "/scratch", &img, "true"]);
    t.ok(&["rm", &keep]);
    // One for /scratch, one for the image's /etc.
    assert_eq!(t.volume_count(), before + 2);

    // docker cp into and out of a stopped container's volume writes the
    // volume, not the container's layer.
    let cpc = vol("cp");
    t.ok(&[
        "create",
        "--name",
        &cpc,
        "-v",
        &format!("{named}:/d"),
        &img,
        "true",
    ]);
    let local = e.path(&format!("{id}-cpfile"));
    std::fs::write(&local, "copied\n").unwrap();
    t.ok(&["cp", local.to_str().unwrap(), &format!("{cpc}:/d/cpfile")]);
    let back = t.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{named}:/v"),
        &img,
        "cat",
        "/v/cpfile",
    ]);
    assert_eq!(back, "copied");
    let out = e.docker(&["cp", &format!("{cpc}:/d/cpfile"), "-"]).unwrap();
    out.assert_success();
    assert!(out.stdout_str().contains("copied"));
    t.ok(&["rm", &cpc]);

    // --volumes-from.
    let src = vol("src");
    t.ok(&[
        "create",
        "--name",
        &src,
        "-v",
        &format!("{named}:/shared"),
        &img,
        "true",
    ]);
    t.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        &src,
        &img,
        "sh",
        "-c",
        "echo from > /shared/f",
    ]);
    let from = t.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        &format!("{src}:ro"),
        &img,
        "sh",
        "-c",
        "cat /shared/f; touch /shared/g 2>&1 || true",
    ]);
    assert!(from.starts_with("from"), "{from}");
    assert!(from.contains("Read-only"), "{from}");
    t.ok(&["rm", &src]);

    // tmpfs: size and mode.
    let tm = t.ok(&[
        "run", "--rm", "--mount", "type=tmpfs,dst=/tm,tmpfs-size=1m,tmpfs-mode=1770", "--tmpfs",
        "/tf:size=2m", &img, "sh", "-c",
        "stat -c %a /tm; for d in /tm /tf; do grep \" $d \" /proc/mounts | cut -d' ' -f4 | tr , '\\n' | grep size; done",
    ]);
    assert_eq!(tm, "1770\nsize=1024k\nsize=2048k");

    // Binds: -v creates a missing source, --mount refuses it.
    let missing = e.path(&format!("{id}-made"));
    t.subst
        .push((e.dir.display().to_string(), "<scratch>".into()));
    t.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/m", missing.display()),
        &img,
        "true",
    ]);
    assert!(missing.is_dir());
    let gone = e.path(&format!("{id}-gone"));
    t.fails(
        &[
            "run",
            "--rm",
            "--mount",
            &format!("type=bind,src={},dst=/m", gone.display()),
            &img,
            "true",
        ],
        125,
        "bind source path does not exist",
    );
    assert!(!gone.exists());

    // Propagation and mode words as given, in inspect.
    let prop = vol("prop");
    let shared_src = e.path(&format!("{id}-shared"));
    std::fs::create_dir(&shared_src).unwrap();
    t.ok(&[
        "create",
        "--name",
        &prop,
        "-v",
        &format!("{}:/p:ro,rslave", shared_src.display()),
        "--mount",
        &format!(
            "type=bind,src={},dst=/q,bind-propagation=rshared",
            shared_src.display()
        ),
        &img,
        "true",
    ]);
    // Not in the transcript: dockerd lists mounts in no set order.
    let props = e
        .docker_env(
            &[API],
            &[
                "inspect", "-f",
                "{{range .Mounts}}{{if eq .Type \"bind\"}}{{.Destination}} {{.Mode}} {{.RW}} {{.Propagation}};{{end}}{{end}}",
                &prop,
            ],
        )
        .unwrap()
        .stdout_str();
    for want in ["/p ro,rslave false rslave;", "/q  true rshared;"] {
        assert!(props.contains(want), "{props}");
    }
    t.ok(&["rm", "-v", &prop]);

    // Bad input: refused alike; berth makes nothing (dockerd may leave the
    // volumes it made before it found the error).
    let count = t.volume_count();
    t.fails(
        &[
            "run",
            "--rm",
            "-v",
            &format!("{}:/d", vol("bad1")),
            "-v",
            &format!("{}:/d", vol("bad2")),
            &img,
            "true",
        ],
        125,
        "Duplicate mount point",
    );
    t.fails(
        &["run", "--rm", "-v", "a:b:c:d", &img, "true"],
        125,
        "invalid",
    );
    t.fails(
        &[
            "run",
            "--rm",
            "-v",
            &format!("{}:relative", vol("bad3")),
            &img,
            "true",
        ],
        125,
        "",
    );
    if e.kind == "berth" {
        assert_eq!(t.volume_count(), count);
    }

    // prune (API 1.41: every unused volume but those with driver options).
    // Not in the transcript: dockerd lists in no set order, and counts the
    // volumes its refused creates left behind.
    let pruned = e.docker_env(&[API], &["volume", "prune", "-f"]).unwrap();
    pruned.assert_success();
    assert!(
        pruned.stdout_str().contains(&named),
        "{}",
        pruned.stdout_str()
    );
    for v in [&named, &labeled, &cu, &nc] {
        t.fails(&["volume", "inspect", v], 1, "no such volume");
    }
    t.ok(&["volume", "inspect", "-f", "{{.Name}}", &tmpfsvol]);
    t.ok(&["volume", "rm", &tmpfsvol]);
    e.docker(&["rmi", &img]).unwrap().assert_success();
    t.lines
}

#[test]
fn volume_cli_same_on_berth_and_dockerd() {
    if !require_root() || require_tool("docker").is_none() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let tarball = busybox_tarball(work.path());
    let Some(berth) = Engine::private_berth_daemon() else {
        return;
    };
    let ours = scenario(&berth, &tarball);
    drop(berth);
    let Some(dockerd) = Engine::private_dockerd() else {
        return;
    };
    let theirs = scenario(&dockerd, &tarball);
    let mut diffs = Vec::new();
    for (a, b) in ours.iter().zip(&theirs) {
        if a != b {
            diffs.push(format!("berth:\n{a}\ndockerd:\n{b}\n"));
        }
    }
    assert_eq!(ours.len(), theirs.len());
    assert!(
        diffs.is_empty(),
        "{} steps differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

// ------------------------------------------------------------ 2: the seed's promise

/// A database's data survives: the container writing it is SIGKILLed and
/// removed, a new one reads every byte; the daemon is SIGKILLed and
/// restarted and the data and the record are still there; `volume rm` is
/// refused while a container uses the volume.
#[test]
fn named_volume_data_survives_kill_remove_and_daemon_crash() {
    if !require_root() {
        return;
    }
    let s = common::Store::new();
    s.import_busybox("bb:1");
    let Some(mut d) = common::berthd::Berthd::start(&s, true) else {
        return;
    };
    let vol = unique_id("db");
    let writer = unique_id("writer");
    // 4 MiB of records, fsynced, then a marker; the writer keeps running.
    d.docker(&[
        "run", "-d", "--name", &writer, "-v", &format!("{vol}:/var/lib/db"), "bb:1", "sh", "-c",
        "i=0; while [ $i -lt 4096 ]; do head -c 1024 /dev/urandom >> /var/lib/db/records; i=$((i+1)); done; \
         sync; md5sum /var/lib/db/records > /var/lib/db/sum; sync; touch /var/lib/db/done; sleep 600",
    ])
    .assert_success();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !d
        .docker(&["exec", &writer, "test", "-e", "/var/lib/db/done"])
        .status
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer did not finish"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = d.docker(&["volume", "rm", &vol]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr_str().contains("volume is in use"),
        "{}",
        out.stderr_str()
    );
    d.docker(&["kill", "-s", "KILL", &writer]).assert_success();
    d.docker(&["rm", &writer]).assert_success();
    let check = |d: &common::berthd::Berthd| {
        let out = d.docker(&[
            "run",
            "--rm",
            "-v",
            &format!("{vol}:/var/lib/db"),
            "bb:1",
            "sh",
            "-c",
            "cd /var/lib/db && md5sum -c sum >/dev/null && wc -c < records",
        ]);
        out.assert_success();
        assert_eq!(out.stdout_str().trim(), "4194304");
    };
    check(&d);
    d.kill9();
    d.restart();
    let name = d.docker(&["volume", "inspect", "-f", "{{.Name}} {{.Driver}}", &vol]);
    name.assert_success();
    assert_eq!(name.stdout_str().trim(), format!("{vol} local"));
    check(&d);
    d.docker(&["volume", "rm", &vol]).assert_success();
    let out = d.docker(&["volume", "inspect", &vol]);
    assert_eq!(out.status.code(), Some(1));
}

// ------------------------------------------------------------ 3: the Python SDK

/// docker-py's volume calls and `containers.run(volumes=...)`, the same
/// answers from berth and from dockerd.
#[test]
fn python_sdk_volumes_same_on_berth_and_dockerd() {
    if !require_root() {
        return;
    }
    let Some(python) = berth_testkit::require_python_sdk() else {
        return;
    };
    let script = r#"
import docker, sys
c = docker.DockerClient(base_url=sys.argv[1], version="1.41")
img, sfx = sys.argv[2], sys.argv[3]
v = c.volumes.create(name="sdk-" + sfx, labels={"k": "v"})
print(v.name == "sdk-" + sfx, v.attrs["Driver"], v.attrs["Labels"], v.attrs["Scope"])
print([x.name for x in c.volumes.list(filters={"label": "k=v"})] == ["sdk-" + sfx])
print(c.volumes.get("sdk-" + sfx).attrs["Mountpoint"].endswith("/_data"))
out = c.containers.run(img, ["sh", "-c", "echo hello > /data/f; cat /data/f"],
                       volumes={"sdk-" + sfx: {"bind": "/data", "mode": "rw"}}, remove=True)
print(out.decode().strip())
out = c.containers.run(img, ["cat", "/data/f"], volumes=["sdk-" + sfx + ":/data:ro"], remove=True)
print(out.decode().strip())
try:
    c.volumes.get("nope-" + sfx)
except docker.errors.NotFound as e:
    print("not found")
try:
    c.volumes.create(name="x")
except docker.errors.APIError as e:
    print(e.status_code)
ctr = c.containers.create(img, ["true"], volumes={"sdk-" + sfx: {"bind": "/data"}})
try:
    v.remove()
except docker.errors.APIError as e:
    print(e.status_code, "in use" in str(e))
ctr.remove()
r = c.volumes.prune(filters={"label": "k=v"})
print(r["VolumesDeleted"] == ["sdk-" + sfx])
print([x.name for x in c.volumes.list(filters={"name": sfx})])
"#;
    let want = "True local {'k': 'v'} local\nTrue\nTrue\nhello\nhello\nnot found\n400\n409 True\nTrue\n[]\n";
    let Some(berth) = Engine::private_berth_daemon() else {
        return;
    };
    let Some(dockerd) = Engine::private_dockerd() else {
        return;
    };
    for e in [&berth, &dockerd] {
        let out = Command::new(&python)
            .args(["-c", script, &e.host, &e.image, &unique_id("s")])
            .output()
            .unwrap();
        assert_eq!(
            out.stdout_str(),
            want,
            "on {}: {}",
            e.kind,
            out.stderr_str()
        );
    }
}

// ------------------------------------------------------------ 4: docker-compose

/// docker-compose 1.29.2 with a named volume: `up` creates it, the data
/// outlives `down` and is there on the next `up`; `down -v` removes it.
/// Same on berth and dockerd. (network_mode: none until berth has networks.)
#[test]
fn compose_named_volume_outlives_down_and_goes_with_down_v() {
    if !require_root() {
        return;
    }
    let Some(compose) = require_tool("docker-compose") else {
        return;
    };
    let Some(berth) = Engine::private_berth_daemon() else {
        return;
    };
    let Some(dockerd) = Engine::private_dockerd() else {
        return;
    };
    for e in [&berth, &dockerd] {
        let project = unique_id("cv").replace('-', "");
        let dir = e.path(&project);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(
            dir.join("docker-compose.yml"),
            format!(
                r#"version: "3.8"
services:
  app:
    image: {img}
    command: ["sh", "-c", "echo up >> /data/log; sleep 300"]
    network_mode: none
    stop_grace_period: 1s
    volumes:
      - appdata:/data
volumes:
  appdata:
"#,
                img = e.image
            ),
        )
        .unwrap();
        let run = |args: &[&str]| {
            let out = Command::new(&compose)
                .current_dir(&dir)
                .env("DOCKER_HOST", &e.host)
                .env_remove("DOCKER_CONTEXT")
                .args(["-p", &project])
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "docker-compose {} on {}: {}",
                args.join(" "),
                e.kind,
                out.stderr_str()
            );
        };
        let volume = format!("{project}_appdata");
        let log = || {
            let out = e
                .docker(&[
                    "run",
                    "--rm",
                    "-v",
                    &format!("{volume}:/data"),
                    &e.image,
                    "sh",
                    "-c",
                    "cat /data/log 2>/dev/null; true",
                ])
                .unwrap();
            out.assert_success();
            out.stdout_str()
        };
        let wait_for = |want: &str| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while log() != want {
                assert!(
                    std::time::Instant::now() < deadline,
                    "on {}: {:?}",
                    e.kind,
                    log()
                );
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        };
        run(&["up", "-d"]);
        wait_for("up\n");
        run(&["down"]);
        assert_eq!(log(), "up\n", "on {}", e.kind);
        run(&["up", "-d"]);
        wait_for("up\nup\n");
        run(&["down", "-v"]);
        let out = e.docker(&["volume", "inspect", &volume]).unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "on {}: {}",
            e.kind,
            out.stdout_str()
        );
    }
}
