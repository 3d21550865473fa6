#![forbid(unsafe_code)]
//! Images through the `berth` CLI on a private store: import, tag, save in
//! Docker's and OCI's formats read back by skopeo and umoci, archives written
//! by skopeo loaded and run through the runtime, rmi and prune, and hostile
//! archives refused with the store left as it was.

use std::path::Path;
use std::process::Command;

use berth_testkit::{OutputExt, require_root, require_tool};

mod common;
use common::{Store, run_image, tree};

#[test]
fn import_tag_inspect_history_and_run() {
    if !require_root() {
        return;
    }
    let s = Store::new();
    let id = s.import_busybox("bb:1");
    assert!(id.starts_with("sha256:"), "{id}");
    s.berth(&["tag", "bb:1", "localhost:5000/team/bb:2"])
        .assert_success();
    let images = s.berth(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    images.assert_success();
    let text = images.stdout_str();
    assert!(text.contains(&format!("bb:1 {}", &id[7..19])), "{text}");
    assert!(text.contains("localhost:5000/team/bb:2"), "{text}");
    let filtered = s.berth(&[
        "images",
        "-f",
        "reference=bb*",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    assert_eq!(filtered.stdout_str(), "bb:1\n");
    let dangling = s.berth(&["images", "-q", "-f", "dangling=true"]);
    assert_eq!(dangling.stdout_str(), "");
    assert!(!s.berth(&["images", "-f", "nonsense"]).status.success());
    let table = s.berth(&["images"]).stdout_str();
    assert!(table.starts_with("REPOSITORY"), "{table}");
    let inspect = s.berth(&["image", "inspect", "bb:1"]);
    inspect.assert_success();
    let v: serde_json::Value = serde_json::from_str(&inspect.stdout_str()).unwrap();
    assert_eq!(v[0]["Id"], id.as_str());
    assert_eq!(v[0]["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(v[0]["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    let history = s.berth(&["history", "bb:1"]).stdout_str();
    assert!(history.contains("Imported from -"), "{history}");
    let out = run_image(
        &s,
        "localhost:5000/team/bb:2",
        &["sh", "-c", "echo $GREETING from $(hostname)"],
    );
    out.assert_success();
    assert_eq!(out.stdout_str(), "hello from berth-test\n");
}

#[test]
fn save_is_read_by_skopeo_and_umoci() {
    if !require_root() {
        return;
    }
    let (Some(_), Some(_)) = (require_tool("skopeo"), require_tool("umoci")) else {
        return;
    };
    let s = Store::new();
    s.import_busybox("bb:1");
    let docker = s.path("docker.tar");
    s.berth(&["save", "-o", &docker, "bb:1"]).assert_success();
    let out = Command::new("skopeo")
        .args(["inspect", &format!("docker-archive:{docker}")])
        .output()
        .unwrap();
    out.assert_success();
    let v: serde_json::Value = serde_json::from_str(&out.stdout_str()).unwrap();
    let layer = s.berth(&[
        "image",
        "inspect",
        "-f",
        "{{index .RootFS.Layers 0}}",
        "bb:1",
    ]);
    layer.assert_success();
    assert_eq!(v["Layers"][0], layer.stdout_str().trim());

    let oci = s.path("oci.tar");
    s.berth(&["save", "--format", "oci-archive", "-o", &oci, "bb:1"])
        .assert_success();
    let layout = s.path("layout");
    std::fs::create_dir(&layout).unwrap();
    assert!(
        Command::new("tar")
            .args(["-C", &layout, "-xf", &oci])
            .status()
            .unwrap()
            .success()
    );
    let unpacked = s.path("umoci");
    let out = Command::new("umoci")
        .args(["unpack", "--image", &format!("{layout}:1"), &unpacked])
        .output()
        .unwrap();
    out.assert_success();
    // The image's one layer: its snapshot is the overlay's only lower dir.
    let lower = s.berth(&[
        "image",
        "inspect",
        "-f",
        "{{.GraphDriver.Data.LowerDir}}",
        "bb:1",
    ]);
    lower.assert_success();
    let ours = std::path::PathBuf::from(lower.stdout_str().trim());
    assert_eq!(
        tree(&Path::new(&unpacked).join("rootfs")),
        tree(&ours),
        "umoci's tree differs from berth's snapshot"
    );
}

#[test]
fn archives_written_by_skopeo_load_and_run() {
    if !require_root() {
        return;
    }
    let Some(_) = require_tool("skopeo") else {
        return;
    };
    let s = Store::new();
    s.import_busybox("bb:1");
    let src = s.path("src.tar");
    s.berth(&["save", "-o", &src, "bb:1"]).assert_success();
    let (as_docker, as_oci) = (s.path("skopeo-docker.tar"), s.path("skopeo-oci.tar"));
    for dest in [
        format!("docker-archive:{as_docker}:example.com/skopeo/docker:v1"),
        format!("oci-archive:{as_oci}:example.com/skopeo/oci:v2"),
    ] {
        let out = Command::new("skopeo")
            .args(["copy", &format!("docker-archive:{src}"), &dest])
            .output()
            .unwrap();
        out.assert_success();
    }
    let fresh = Store::new();
    let out = fresh.berth(&["load", "-i", &as_docker]);
    out.assert_success();
    assert!(
        out.stdout_str()
            .contains("Loaded image: example.com/skopeo/docker:v1"),
        "{}",
        out.stdout_str()
    );
    let out = fresh.berth(&["load", "-i", &as_oci]);
    out.assert_success();
    assert!(
        out.stdout_str()
            .contains("Loaded image: example.com/skopeo/oci:v2"),
        "{}",
        out.stdout_str()
    );
    for image in ["example.com/skopeo/docker:v1", "example.com/skopeo/oci:v2"] {
        let out = run_image(&fresh, image, &["sh", "-c", "echo ran $GREETING"]);
        out.assert_success();
        assert_eq!(out.stdout_str(), "ran hello\n");
    }
    // Both archives hold the same layer: one snapshot serves both images.
    assert_eq!(
        fresh.snapshot_dirs().len(),
        1,
        "{:?}",
        fresh.snapshot_dirs()
    );
}

#[test]
fn rmi_and_prune_follow_docker() {
    if !require_root() {
        return;
    }
    let s = Store::new();
    let id = s.import_busybox("bb:1");
    s.berth(&["tag", "bb:1", "bb:2"]).assert_success();
    let out = s.berth(&["rmi", &id[7..19]]);
    assert!(
        !out.status.success() && out.stderr_str().contains("must be forced"),
        "{}",
        out.stderr_str()
    );
    let out = s.berth(&["rmi", "bb:2"]);
    out.assert_success();
    assert_eq!(out.stdout_str(), "Untagged: bb:2\n");
    let out = s.berth(&["rmi", "bb:1"]);
    out.assert_success();
    assert_eq!(out.stdout_str(), format!("Untagged: bb:1\nDeleted: {id}\n"));
    assert!(
        s.snapshot_dirs().is_empty(),
        "snapshots left: {:?}",
        s.snapshot_dirs()
    );
    let blobs = std::fs::read_dir(s.root().join("content/blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(blobs, 0, "blobs left after the last image went");
    let out = s.berth(&["rmi", "bb:1"]);
    assert!(out.stderr_str().contains("No such image: bb:1"));
    s.import_busybox("bb:3");
    let out = s.berth(&["image", "prune", "-a", "-f"]);
    out.assert_success();
    assert!(
        out.stdout_str().contains("untagged: bb:3"),
        "{}",
        out.stdout_str()
    );
}

/// Archives that lie: refused with an error naming what lied, and the store
/// keeps its images and has no half-made snapshot.
#[test]
fn hostile_archives_are_refused() {
    if !require_root() {
        return;
    }
    let s = Store::new();
    s.import_busybox("keep:1");
    let good = s.path("good.tar");
    s.berth(&["save", "--format", "oci-archive", "-o", &good, "keep:1"])
        .assert_success();
    let layout = s.path("layout");
    std::fs::create_dir(&layout).unwrap();
    assert!(
        Command::new("tar")
            .args(["-C", &layout, "-xf", &good])
            .status()
            .unwrap()
            .success()
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(&layout).join("index.json")).unwrap())
            .unwrap();
    let mdigest = index["manifests"][0]["digest"].as_str().unwrap()[7..].to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new(&layout).join("blobs/sha256").join(&mdigest)).unwrap(),
    )
    .unwrap();
    let config_hex = manifest["config"]["digest"].as_str().unwrap()[7..].to_string();

    // Each case edits a copy of the layout, archives it, and loads it.
    let case = |name: &str, edit: &dyn Fn(&Path), needle: &str| {
        let dir = s.path(&format!("case-{name}"));
        assert!(
            Command::new("cp")
                .args(["-a", &layout, &dir])
                .status()
                .unwrap()
                .success()
        );
        edit(Path::new(&dir));
        let tar = format!("{dir}.tar");
        assert!(
            Command::new("tar")
                .args(["-C", &dir, "-cf", &tar, "."])
                .status()
                .unwrap()
                .success()
        );
        let before = s.berth(&["images", "-q"]).stdout_str();
        let out = s.berth(&["load", "-i", &tar]);
        assert!(!out.status.success(), "{name}: loaded");
        assert!(
            out.stderr_str().contains(needle),
            "{name}: {:?} lacks {needle:?}",
            out.stderr_str()
        );
        assert_eq!(
            s.berth(&["images", "-q"]).stdout_str(),
            before,
            "{name}: images changed"
        );
        assert!(
            !s.snapshot_dirs().iter().any(|d| d.starts_with(".tmp")),
            "{name}: half-made snapshot"
        );
    };
    let blob = |dir: &Path, hex: &str| dir.join("blobs/sha256").join(hex);
    case(
        "digest-lies",
        &|d| std::fs::write(blob(d, &config_hex), b"{\"not\": \"the config\"}").unwrap(),
        "digest mismatch for archive member blobs/sha256/",
    );
    case(
        "size-lies",
        &|d| {
            let p = blob(d, &mdigest);
            let mut m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            m["layers"][0]["size"] = serde_json::json!(12345);
            let bytes = serde_json::to_vec(&m).unwrap();
            let hex = berth_image::Digest::of(&bytes).hex().to_string();
            std::fs::remove_file(&p).unwrap();
            std::fs::write(blob(d, &hex), &bytes).unwrap();
            let mut idx: serde_json::Value =
                serde_json::from_slice(&std::fs::read(d.join("index.json")).unwrap()).unwrap();
            idx["manifests"][0]["digest"] = serde_json::json!(format!("sha256:{hex}"));
            idx["manifests"][0]["size"] = serde_json::json!(bytes.len());
            std::fs::write(d.join("index.json"), serde_json::to_vec(&idx).unwrap()).unwrap();
        },
        "size mismatch for layer 1",
    );
    case(
        "diff-ids-lie",
        &|d| {
            // A config whose diff_id is not the layer's, under a new digest.
            let p = blob(d, &config_hex);
            let mut c: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            c["rootfs"]["diff_ids"][0] = serde_json::json!(format!("sha256:{}", "0".repeat(64)));
            let bytes = serde_json::to_vec(&c).unwrap();
            let chex = berth_image::Digest::of(&bytes).hex().to_string();
            std::fs::write(blob(d, &chex), &bytes).unwrap();
            let mp = blob(d, &mdigest);
            let mut m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&mp).unwrap()).unwrap();
            m["config"]["digest"] = serde_json::json!(format!("sha256:{chex}"));
            m["config"]["size"] = serde_json::json!(bytes.len());
            let mbytes = serde_json::to_vec(&m).unwrap();
            let mhex = berth_image::Digest::of(&mbytes).hex().to_string();
            std::fs::write(blob(d, &mhex), &mbytes).unwrap();
            let mut idx: serde_json::Value =
                serde_json::from_slice(&std::fs::read(d.join("index.json")).unwrap()).unwrap();
            idx["manifests"][0]["digest"] = serde_json::json!(format!("sha256:{mhex}"));
            idx["manifests"][0]["size"] = serde_json::json!(mbytes.len());
            idx["manifests"][0]["annotations"]["io.containerd.image.name"] =
                serde_json::json!("docker.io/library/liar:1");
            std::fs::write(d.join("index.json"), serde_json::to_vec(&idx).unwrap()).unwrap();
        },
        "diff_id",
    );
    case(
        "bad-reference",
        &|d| {
            let mut idx: serde_json::Value =
                serde_json::from_slice(&std::fs::read(d.join("index.json")).unwrap()).unwrap();
            idx["manifests"][0]["annotations"]["io.containerd.image.name"] =
                serde_json::json!("Not A/Valid::Ref");
            std::fs::write(d.join("index.json"), serde_json::to_vec(&idx).unwrap()).unwrap();
        },
        "invalid reference format",
    );
    // A truncated archive.
    let bytes = std::fs::read(&good).unwrap();
    let cut = s.path("cut.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let out = s.berth(&["load", "-i", &cut]);
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("truncated") || out.stderr_str().contains("missing"),
        "{}",
        out.stderr_str()
    );
    // The original image still runs.
    assert!(s.berth(&["images", "-q"]).stdout_str().lines().count() == 1);
}

/// A gzip-layer image saved as a Docker archive: the layer goes in plain, the
/// archive reads back, and no extra blob is left in the store.
#[test]
fn save_decompresses_gzip_layers_without_leftovers() {
    if !require_root() {
        return;
    }
    let Some(_) = require_tool("skopeo") else {
        return;
    };
    let s = Store::new();
    s.import_busybox("bb:1");
    let plain = s.path("plain.tar");
    s.berth(&["save", "-o", &plain, "bb:1"]).assert_success();
    let gz = s.path("gz.tar");
    let out = Command::new("skopeo")
        .args(["copy", "--dest-compress", "--dest-compress-format", "gzip"])
        .arg(format!("docker-archive:{plain}"))
        .arg(format!("oci-archive:{gz}:example.com/gz/bb:1"))
        .output()
        .unwrap();
    out.assert_success();
    let fresh = Store::new();
    fresh.berth(&["load", "-i", &gz]).assert_success();
    let dir = fresh.root().join("content/blobs/sha256");
    let gzipped = std::fs::read_dir(&dir).unwrap().any(|e| {
        std::fs::read(e.unwrap().path())
            .unwrap()
            .starts_with(&[0x1f, 0x8b])
    });
    assert!(
        gzipped,
        "skopeo did not write a gzip layer: the test would prove nothing"
    );
    let blobs = || std::fs::read_dir(&dir).unwrap().count();
    let before = blobs();
    let saved = fresh.path("saved.tar");
    fresh
        .berth(&["save", "-o", &saved, "example.com/gz/bb:1"])
        .assert_success();
    assert_eq!(blobs(), before, "save left a blob behind");
    let again = Store::new();
    again.berth(&["load", "-i", &saved]).assert_success();
    let out = run_image(&again, "example.com/gz/bb:1", &["echo", "from gzip"]);
    assert_eq!(out.stdout_str(), "from gzip\n");
}
