#![forbid(unsafe_code)]
//! The API crate tested on its own: an engine opened in this process, the
//! API served on a socket in a temporary directory, raw HTTP/1.1 requests,
//! no CLI and no `berth` binary. The image endpoints need no container, so
//! they run here whole; bad input gets moby's errors.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

struct Daemon {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    _rt: tokio::runtime::Runtime,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let engine = berth_engine::Engine::open(berth_engine::Config {
            data_root: dir.path().join("data"),
            exec_root: dir.path().join("exec"),
            // No container is started here: the shim binary is never run.
            exe: PathBuf::from("/bin/false"),
            cgroup_parent: "berth-api-test".into(),
            insecure_registries: Vec::new(),
            net: Default::default(),
            build_context_limit: None,
        })
        .unwrap();
        let state = Arc::new(berth_api::State {
            engine: Arc::new(engine),
        });
        let socket = dir.path().join("api.sock");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = {
            let _guard = rt.enter();
            tokio::net::UnixListener::bind(&socket).unwrap()
        };
        rt.spawn(berth_api::serve(
            listener,
            state,
            berth_api::Limits::from_rlimit(),
        ));
        Daemon {
            _dir: dir,
            socket,
            _rt: rt,
        }
    }

    /// One request on its own connection; (status, body).
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut s = UnixStream::connect(&self.socket).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete response head");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap();
        let mut body = raw[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = unchunk(&body);
        }
        (status, body)
    }

    fn json(&self, method: &str, path: &str) -> (u16, Value) {
        let (status, body) = self.request(method, path, b"");
        let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, v)
    }
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[nl + 2 + size + 2..];
    }
}

/// A root filesystem tarball of a few files (no busybox needed).
fn rootfs_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("etc/hostname", &b"berth\n"[..]),
        ("bin/hello", b"#!/bin/sh\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn images_through_the_api_alone() {
    if !berth_testkit::require_root() {
        return;
    }
    let d = Daemon::start();
    let tar = rootfs_tar();

    // Import: the image's id as a JSON message.
    let (status, body) = d.request(
        "POST",
        "/v1.45/images/create?fromSrc=-&repo=api/bb&tag=1&changes=CMD%20%5B%22sh%22%5D",
        &tar,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let msg: Value = serde_json::from_slice(body.split(|b| *b == b'\n').next().unwrap()).unwrap();
    let id = msg["status"].as_str().unwrap().to_string();
    assert!(id.starts_with("sha256:"), "{msg}");

    // List, tag, inspect, history.
    let (status, list) = d.json("GET", "/images/json");
    assert_eq!(status, 200);
    assert_eq!(list[0]["Id"], id.as_str());
    assert_eq!(list[0]["RepoTags"], serde_json::json!(["api/bb:1"]));
    let (status, _) = d.json("POST", "/images/api/bb:1/tag?repo=api/bb&tag=2");
    assert_eq!(status, 201);
    let (status, img) = d.json("GET", "/images/api/bb:2/json");
    assert_eq!(status, 200);
    assert_eq!(img["Id"], id.as_str());
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["sh"]));
    let (status, history) = d.json("GET", "/images/api/bb:1/history");
    assert_eq!(status, 200);
    assert_eq!(history[0]["Id"], id.as_str());

    // Save streams an archive that loads back.
    let (status, archive) = d.request("GET", "/images/get?names=api/bb:1", b"");
    assert_eq!(status, 200);
    assert!(archive.len() > 1024);

    // rmi: one name untagged, then the image deleted with its last.
    let (status, removed) = d.json("DELETE", "/images/api/bb:2");
    assert_eq!(status, 200);
    assert_eq!(removed, serde_json::json!([{"Untagged": "api/bb:2"}]));
    let (status, removed) = d.json("DELETE", "/images/api/bb:1");
    assert_eq!(status, 200);
    assert_eq!(removed[1]["Deleted"], id.as_str());
    let (status, list) = d.json("GET", "/images/json");
    assert_eq!(status, 200);
    assert_eq!(list, serde_json::json!([]));

    let (status, body) = d.request("POST", "/images/load", &archive);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        String::from_utf8_lossy(&body).contains("Loaded image: api/bb:1"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (_, img) = d.json("GET", "/images/api/bb:1/json");
    assert_eq!(img["Id"], id.as_str(), "the same image after save and load");
}

#[test]
fn bad_image_requests_get_moby_errors() {
    if !berth_testkit::require_root() {
        return;
    }
    let d = Daemon::start();
    let cases: &[(&str, &str, u16, &str)] = &[
        ("GET", "/images/nope:1/json", 404, "No such image"),
        ("DELETE", "/images/nope:1", 404, "No such image"),
        ("GET", "/images/get?names=nope:1", 404, "No such image"),
        ("POST", "/images/create", 400, "fromImage"),
        (
            "POST",
            "/images/create?fromSrc=http://example.com/x.tar",
            400,
            "fromSrc",
        ),
        (
            "POST",
            "/images/prune?filters=%7B%22until%22%3A%5B%221h%22%5D%7D",
            400,
            "until",
        ),
        (
            "POST",
            "/images/prune?filters=%7B%22dangling%22%3A%5B%22maybe%22%5D%7D",
            400,
            "dangling",
        ),
        ("POST", "/images/prune?filters=not-json", 400, "filters"),
        ("POST", "/auth", 400, "username"),
        (
            "POST",
            "/images/create?fromImage=UPPER/case&tag=1",
            400,
            "invalid reference",
        ),
    ];
    for (method, path, want, words) in cases {
        let (status, body) = d.json(method, path);
        assert_eq!(status, *want, "{method} {path}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(words),
            "{method} {path}: {message:?} does not say {words:?}"
        );
    }
    // A hostile tarball (an entry that climbs out) is refused and leaves no image.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.as_gnu_mut().unwrap().name[..11].copy_from_slice(b"../../evil\0");
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    let (status, body) = d.request(
        "POST",
        "/images/create?fromSrc=-&repo=evil",
        &b.into_inner().unwrap(),
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (_, list) = d.json("GET", "/images/json");
    assert_eq!(list, serde_json::json!([]));
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// The volume endpoints need no container either: create, list with
/// filters, inspect, remove, prune (by API version), with dockerd's shapes.
#[test]
fn volumes_through_the_api_alone() {
    let d = Daemon::start();
    let (st, body) = d.request(
        "POST",
        "/volumes/create",
        br#"{"Name": "data", "Labels": {"tier": "db"}}"#,
    );
    assert_eq!(st, 201, "{}", String::from_utf8_lossy(&body));
    let v = json_of(&body);
    assert_eq!(v["Name"], "data");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Options"], Value::Null);
    assert!(
        v["Mountpoint"]
            .as_str()
            .unwrap()
            .ends_with("/volumes/data/_data")
    );
    // Go's field order, as docker prints inspect.
    let keys: Vec<&str> = std::str::from_utf8(&body)
        .unwrap()
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|k| k.chars().next().is_some_and(char::is_uppercase))
        .collect();
    assert_eq!(
        keys,
        [
            "CreatedAt",
            "Driver",
            "Labels",
            "Mountpoint",
            "Name",
            "Options",
            "Scope"
        ]
    );
    let (st, body) = d.request("POST", "/volumes/create", b"{}");
    assert_eq!(st, 201);
    let anon = json_of(&body)["Name"].as_str().unwrap().to_string();
    assert_eq!(anon.len(), 64);

    let names = |path: &str| -> Vec<String> {
        let (st, body) = d.request("GET", path, b"");
        assert_eq!(st, 200, "{path}: {}", String::from_utf8_lossy(&body));
        let mut n: Vec<String> = json_of(&body)["Volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["Name"].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names("/volumes").len(), 2);
    assert_eq!(
        names("/volumes?filters=%7B%22label%22%3A%5B%22tier%3Ddb%22%5D%7D"),
        ["data"]
    );
    assert_eq!(
        names("/volumes?filters=%7B%22name%22%3A%5B%22dat%22%5D%7D"),
        ["data"]
    );
    assert_eq!(
        names("/volumes?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D").len(),
        2
    );

    // Prune: 1.45 takes only anonymous volumes, 1.41 every unused one.
    let (st, body) = d.request("POST", "/v1.45/volumes/prune", b"");
    assert_eq!(st, 200);
    assert_eq!(json_of(&body)["VolumesDeleted"], serde_json::json!([anon]));
    let (st, body) = d.request("POST", "/v1.41/volumes/prune", b"");
    assert_eq!(st, 200);
    assert_eq!(
        json_of(&body)["VolumesDeleted"],
        serde_json::json!(["data"])
    );
    let (st, body) = d.request("POST", "/v1.45/volumes/prune", b"");
    assert_eq!(st, 200);
    assert_eq!(json_of(&body)["VolumesDeleted"], Value::Null);

    let (st, _) = d.request("POST", "/volumes/create", br#"{"Name": "gone"}"#);
    assert_eq!(st, 201);
    let (st, _) = d.request("DELETE", "/volumes/gone", b"");
    assert_eq!(st, 204);
    let (st, body) = d.request("GET", "/volumes/gone", b"");
    assert_eq!(st, 404);
    assert_eq!(json_of(&body)["message"], "get gone: no such volume");
    let (st, _) = d.request("DELETE", "/volumes/gone?force=1", b"");
    assert_eq!(st, 204, "force: a missing volume is no error");
}

/// Hostile and malformed volume requests: moby's status codes, the cause
/// named, and nothing created.
#[test]
fn bad_volume_requests_get_moby_errors_and_leave_nothing() {
    let d = Daemon::start();
    for (path, body, status, says) in [
        (
            "/volumes/create",
            &br#"{"Name": "x"}"#[..],
            400,
            "too short",
        ),
        (
            "/volumes/create",
            br#"{"Name": "../etc"}"#,
            400,
            "invalid characters",
        ),
        (
            "/volumes/create",
            br#"{"Name": "a/b"}"#,
            400,
            "invalid characters",
        ),
        (
            "/volumes/create",
            br#"{"Name": "ok", "Driver": "nfs"}"#,
            400,
            "plugin \"nfs\" not found",
        ),
        (
            "/volumes/create",
            br#"{"Name": "ok", "DriverOpts": {"foo": "1"}}"#,
            400,
            "invalid option: \"foo\"",
        ),
        (
            "/volumes/create",
            br#"{"Name": "ok", "DriverOpts": {"type": "tmpfs"}}"#,
            400,
            "missing required option",
        ),
        (
            "/volumes/create",
            br#"{"Name": "ok", "DriverOpts": {"size": "10G"}}"#,
            400,
            "quota",
        ),
        (
            "/volumes/create",
            br#"{"Name": "ok", "ClusterVolumeSpec": {}}"#,
            400,
            "ClusterVolumeSpec",
        ),
        ("/volumes/create", br#"{"Name": 5}"#, 400, "invalid JSON"),
        ("/volumes/create", b"{", 400, "invalid JSON"),
        (
            "/volumes?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
            b"",
            400,
            "bogus",
        ),
        (
            "/volumes?filters=%7B%22dangling%22%3A%5B%22maybe%22%5D%7D",
            b"",
            400,
            "dangling=maybe",
        ),
        ("/volumes?filters=nojson", b"", 400, "invalid filters"),
        (
            "/v1.41/volumes/prune?filters=%7B%22all%22%3A%5B%22true%22%5D%7D",
            b"",
            400,
            "all",
        ),
        (
            "/v1.45/volumes/prune?filters=%7B%22all%22%3A%5B%22perhaps%22%5D%7D",
            b"",
            400,
            "all=perhaps",
        ),
    ] {
        let method = if path.starts_with("/volumes?") {
            "GET"
        } else {
            "POST"
        };
        let (st, resp) = d.request(method, path, body);
        let msg = json_of(&resp)["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(
            st,
            status,
            "{path} {}: {msg}",
            String::from_utf8_lossy(body)
        );
        assert!(msg.contains(says), "{path}: {msg:?} lacks {says:?}");
    }
    let (st, body) = d.request("GET", "/volumes", b"");
    assert_eq!(st, 200);
    assert_eq!(json_of(&body)["Volumes"], serde_json::json!([]));
    let (st, _) = d.request("PUT", "/volumes/anything", b"{}");
    assert_eq!(st, 400);
}
