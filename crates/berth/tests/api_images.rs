#![forbid(unsafe_code)]
//! `berth daemon` serves the Engine API: the real docker CLI drives berth's
//! images through it, and bad requests get moby's statuses and messages
//! while the daemon keeps serving.

mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_testkit::{OutputExt, require_root};
use common::berthd::Berthd;
use common::{Registry, Store};

#[test]
fn docker_cli_manages_berth_images() {
    if !require_root() {
        return;
    }
    let s = Store::new();
    let id = s.import_busybox("bb:1");
    let Some(d) = Berthd::start(&s, true) else {
        return;
    };
    let v = d.docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    v.assert_success();
    assert_eq!(v.stdout_str(), "1.45\n");
    let images = d.docker(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    images.assert_success();
    assert_eq!(images.stdout_str(), format!("bb:1 {}\n", &id[7..19]));
    // docker import through the API (POST /images/create?fromSrc=-).
    let tar = s.path("rootfs.tar");
    let imported = d.docker(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        "-m",
        "via the API",
        &tar,
        "imported:1",
    ]);
    imported.assert_success();
    assert!(
        imported.stdout_str().starts_with("sha256:"),
        "{}",
        imported.stdout_str()
    );
    let hist = d.docker(&["history", "--format", "{{.Comment}}", "imported:1"]);
    assert_eq!(hist.stdout_str(), "via the API\n");
    let garbage = s.path("garbage.tar");
    std::fs::write(&garbage, "not a tar").unwrap();
    let out = d.docker(&["import", &garbage, "bad:1"]);
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("not a tar archive"),
        "{}",
        out.stderr_str()
    );
    d.docker(&["rmi", "imported:1"]).assert_success();
    let cmd = d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Id}} {{json .Config.Cmd}}",
        "bb:1",
    ]);
    assert_eq!(cmd.stdout_str(), format!("{id} [\"sh\"]\n"));
    d.docker(&["tag", "bb:1", "other/bb:2"]).assert_success();
    let filtered = d.docker(&["images", "--format", "{{.Repository}}:{{.Tag}}", "other/bb"]);
    assert_eq!(filtered.stdout_str(), "other/bb:2\n");
    let history = d.docker(&["history", "--format", "{{.Comment}}", "bb:1"]);
    assert_eq!(history.stdout_str(), "Imported from -\n");
    let out = d.docker(&["rmi", "other/bb:2"]);
    out.assert_success();
    assert_eq!(out.stdout_str(), "Untagged: other/bb:2\n");
    let out = d.docker(&["rmi", "nope:1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr_str().contains("No such image: nope:1"),
        "{}",
        out.stderr_str()
    );
    // save and load through the API, both ways.
    let saved = s.path("via-api.tar");
    d.docker(&["save", "-o", &saved, "bb:1"]).assert_success();
    let other = Store::new();
    let out = other.berth(&["load", "-i", &saved]);
    out.assert_success();
    assert_eq!(out.stdout_str(), "Loaded image: bb:1\n");
    d.docker(&["rmi", "bb:1"]).assert_success();
    let out = d.docker(&["load", "-i", &saved]);
    out.assert_success();
    assert!(
        out.stdout_str().contains("Loaded image: bb:1"),
        "{}",
        out.stdout_str()
    );
    let info = d.docker(&["info", "--format", "{{.Images}} {{.CgroupDriver}}"]);
    assert_eq!(info.stdout_str(), "1 cgroupfs\n");
}

#[test]
fn bad_requests_get_moby_errors_and_the_daemon_keeps_serving() {
    if !require_root() {
        return;
    }
    let s = Store::new();
    let Some(d) = Berthd::start(&s, true) else {
        return;
    };
    let (status, body) = d.raw(
        "GET /v1.45/images/nope/json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
    );
    assert_eq!(status, 404);
    assert!(
        body.contains("\"message\":\"No such image: nope\""),
        "{body}"
    );
    let (status, body) = d.raw(
        "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
    );
    assert_eq!(status, 404, "{body}");
    // An archive of an image that is not there: 404 before any byte of tar.
    let (status, body) = d.raw(
        "GET /images/get?names=nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
    );
    assert_eq!(status, 404, "{body}");
    let garbage = b"this is not a tar archive at all";
    let req = format!(
        "POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        garbage.len()
    );
    // As dockerd: a 200, the archive's error in the JSON stream.
    let (status, body) = d.raw(&req, garbage);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"errorDetail\""), "{body}");
    let (status, _) = d.raw(
        "POST /images/bb/tag HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        b"",
    );
    assert_eq!(status, 400);
    // A client that hangs up mid-request.
    {
        let mut c = UnixStream::connect(&d.socket).unwrap();
        c.write_all(
            b"POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial",
        )
        .unwrap();
    }
    let (status, body) = d.raw(
        "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
    );
    assert_eq!((status, body.as_str()), (200, "OK"));
    // The aborted upload's spool file goes once the server sees the hang-up.
    let spooled = || {
        std::fs::read_dir(s.root())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".load-"))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while spooled() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!spooled(), "a spooled upload was left behind");
}

#[test]
fn docker_pull_through_the_berth_daemon() {
    if !require_root() {
        return;
    }
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let src = Store::new();
    src.import_busybox("bb:1");
    let name = format!("{}/api/bb:1", reg.host());
    src.berth(&["tag", "bb:1", &name]).assert_success();
    src.berth(&["push", &name]).assert_success();
    let s = Store::new();
    let Some(d) = Berthd::start(&s, true) else {
        return;
    };
    let out = d.docker(&["pull", &name]);
    out.assert_success();
    assert!(
        out.stdout_str().contains("Downloaded newer image"),
        "{}",
        out.stdout_str()
    );
    let images = d.docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.stdout_str(), format!("{name}\n"));
    // And back up under another name, by `docker push` through berth.
    let again = format!("{}/api/again:2", reg.host());
    d.docker(&["tag", &name, &again]).assert_success();
    let out = d.docker(&["push", &again]);
    out.assert_success();
    let third = Store::new();
    third.berth(&["pull", &again]).assert_success();
    let out = d.docker(&["pull", &format!("{}/api/missing:1", reg.host())]);
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("not found"),
        "{}",
        out.stderr_str()
    );
}

/// The Python docker SDK, unchanged, against berth.
#[test]
fn python_docker_sdk_lists_and_removes_images() {
    if !require_root() {
        return;
    }
    let Some(python) = berth_testkit::require_python_sdk() else {
        return;
    };
    let s = Store::new();
    let id = s.import_busybox("bb:1");
    let Some(d) = Berthd::start(&s, false) else {
        return;
    };
    let script = r#"
import docker
c = docker.DockerClient(base_url="unix://" + SOCK)
assert c.version()["ApiVersion"] == "1.45", c.version()
assert c.ping()
tags = sorted(t for i in c.images.list() for t in i.tags)
print(tags)
img = c.images.get("bb:1")
print(img.id, img.attrs["Config"]["Cmd"])
img.tag("sdk/tagged", "3")
print(sorted(c.images.get("bb:1").tags))
c.images.remove("sdk/tagged:3")
try:
    c.images.get("nope:1")
except docker.errors.ImageNotFound as e:
    print("not found:", e.explanation)
"#
    .replace("SOCK", &format!("{:?}", d.socket.display().to_string()));
    let out = Command::new(python).args(["-c", &script]).output().unwrap();
    out.assert_success();
    assert_eq!(
        out.stdout_str(),
        format!(
            "['bb:1']\n{id} ['sh']\n['bb:1', 'sdk/tagged:3']\nnot found: No such image: nope:1\n"
        )
    );
}
