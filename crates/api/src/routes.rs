//! Method and path to handler.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use crate::{API_VERSION, Body, MIN_API_VERSION, State, error, full, json};

pub async fn route(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    if let Some(refused) = version_out_of_bounds(req.uri().path()) {
        return error(400, refused);
    }
    // Percent-escapes undone, as Go's server gives dockerd's router the
    // path (docker-py asks for `/networks/test%2001`).
    let path = unescape_path(strip_version(req.uri().path()));
    let query = query(req.uri().query());
    match (method.clone(), path.as_str()) {
        (Method::GET | Method::HEAD, "/_ping") => ping(method == Method::HEAD),
        (Method::GET, "/version") => json(200, &version()),
        (Method::GET, "/info") => {
            let engine = state.engine.clone();
            match tokio::task::spawn_blocking(move || info(&engine)).await {
                Ok(Ok(v)) => json(200, &v),
                Ok(Err(e)) => crate::containers::engine_error(e),
                Err(e) => error(500, e),
            }
        }
        (
            _,
            "/auth" | "/images/json" | "/images/load" | "/images/create" | "/images/get"
            | "/images/prune",
        ) => crate::images::route(state, req, method, &path, &query).await,
        (m, p) if p == "/volumes" || p.starts_with("/volumes/") => {
            let version = api_version(req.uri().path());
            crate::volumes::route(state.engine.clone(), req, m, p, &query, version).await
        }
        (m, p) if p == "/networks" || p.starts_with("/networks/") => {
            crate::networks::route(state.engine.clone(), req, m, p, &query).await
        }
        (Method::GET, "/system/df") => crate::system::df(state.engine.clone()).await,
        (Method::POST, "/build") => crate::build::build(state.engine.clone(), req, &query).await,
        (Method::POST, "/build/prune") => crate::build::prune(state.engine.clone(), &query).await,
        (Method::POST, "/commit") => crate::commit::commit(state.engine.clone(), req, &query).await,
        (Method::GET, "/events") => crate::events::events(state.engine.clone(), &query).await,
        (m, p) if p.starts_with("/containers/") => {
            let rest = p["/containers/".len()..].to_string();
            crate::containers::route(state, req, m, &rest, &query).await
        }
        (m, p) if p.starts_with("/exec/") => {
            let rest = p["/exec/".len()..].to_string();
            crate::exec::route(state.engine.clone(), req, m, &rest, &query).await
        }
        (m, p) if p.starts_with("/images/") => crate::images::route(state, req, m, p, &query).await,
        // What a dockerd that is not in a swarm answers (docker-py and the
        // CLI read the 503 as "no swarm here").
        (_, p)
            if SWARM_PATHS
                .iter()
                .any(|s| p == *s || p.starts_with(&format!("{s}/"))) =>
        {
            error(
                503,
                "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.",
            )
        }
        _ => error(
            404,
            format!("page not found: {} {}", req.method(), req.uri().path()),
        ),
    }
}

/// The endpoints of swarm mode, which berth does not run.
const SWARM_PATHS: &[&str] = &[
    "/swarm",
    "/nodes",
    "/services",
    "/tasks",
    "/secrets",
    "/configs",
];

/// `/v1.45/images/json` -> `/images/json`.
fn strip_version(path: &str) -> &str {
    if let Some(rest) = path.strip_prefix("/v")
        && let Some(slash) = rest.find('/')
        && rest[..slash]
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.')
    {
        return &rest[slash..];
    }
    path
}

/// dockerd's refusal of a path naming an API version it does not serve.
fn version_out_of_bounds(path: &str) -> Option<String> {
    let named = path.strip_prefix("/v")?.split('/').next()?;
    let (major, minor) = named.split_once('.')?;
    let v: (u32, u32) = (major.parse().ok()?, minor.parse().ok()?);
    let parse = |s: &str| {
        let (a, b) = s.split_once('.').expect("major.minor");
        (
            a.parse::<u32>().expect("major"),
            b.parse::<u32>().expect("minor"),
        )
    };
    if v < parse(MIN_API_VERSION) {
        Some(format!(
            "client version {named} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        ))
    } else if v > parse(API_VERSION) {
        Some(format!(
            "client version {named} is too new. Maximum supported API version is {API_VERSION}"
        ))
    } else {
        None
    }
}

/// The API version a request names in its path (`/v1.41/...`), else ours,
/// as (major, minor).
pub(crate) fn api_version(path: &str) -> (u32, u32) {
    let named = path
        .strip_prefix("/v")
        .and_then(|rest| rest.split('/').next())
        .and_then(|v| v.split_once('.'))
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    named.unwrap_or_else(|| {
        let (a, b) = API_VERSION
            .split_once('.')
            .expect("API_VERSION is major.minor");
        (a.parse().expect("major"), b.parse().expect("minor"))
    })
}

fn query(q: Option<&str>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(q.unwrap_or("").as_bytes()) {
        out.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    out
}

/// A path's `%XX` escapes decoded (an escape that is not one stays as it
/// is; bytes that are not UTF-8 become U+FFFD).
fn unescape_path(path: &str) -> String {
    if !path.contains('%') {
        return path.to_string();
    }
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub type Query = BTreeMap<String, Vec<String>>;

pub fn first<'a>(q: &'a BTreeMap<String, Vec<String>>, k: &str) -> Option<&'a str> {
    q.get(k).and_then(|v| v.first()).map(String::as_str)
}

/// moby's BoolValue: absent, empty, `0`, `no`, `false` and `none` (any
/// case) are false; anything else is true (docker-py sends `False`).
pub fn truthy(q: &BTreeMap<String, Vec<String>>, k: &str) -> bool {
    first(q, k).is_some_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "no" | "false" | "none"
        )
    })
}

fn ping(head: bool) -> Response<Body> {
    Response::builder()
        .status(200)
        .header("Api-Version", API_VERSION)
        .header("Docker-Experimental", "false")
        .header("Builder-Version", "1")
        .header("Ostype", "linux")
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(full(if head {
            Bytes::new()
        } else {
            Bytes::from_static(b"OK")
        }))
        .expect("a valid response")
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn version() -> serde_json::Value {
    let v = env!("CARGO_PKG_VERSION");
    serde_json::json!({
        "Platform": {"Name": "berth"},
        "Components": [{"Name": "Engine", "Version": v, "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux", "Arch": arch(), "KernelVersion": kernel()}}],
        "Version": v,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch(),
        "KernelVersion": kernel(),
        "BuildTime": "",
    })
}

fn info(engine: &berth_engine::Engine) -> berth_engine::Result<serde_json::Value> {
    // Every image, as dockerd counts its store: builds' intermediate
    // images too (`images -a` lists them).
    let images = engine
        .image_list(&berth_engine::images::ImageFilters {
            all: true,
            ..Default::default()
        })?
        .len();
    let all = engine.list();
    let count =
        |st: berth_engine::model::Status| all.iter().filter(|c| c.state.status == st).count();
    let running = count(berth_engine::model::Status::Running);
    let paused = count(berth_engine::model::Status::Paused);
    Ok(serde_json::json!({
        "ID": "berth",
        "Containers": all.len(), "ContainersRunning": running, "ContainersPaused": paused,
        "ContainersStopped": all.len() - running - paused,
        "Images": images,
        "Driver": "overlay2",
        "DockerRootDir": engine.data_root(),
        "CgroupDriver": "cgroupfs",
        "KernelVersion": kernel(),
        "OperatingSystem": "berth",
        "OSType": "linux",
        "Debug": false,
        "ExperimentalBuild": false,
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "Name": std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim(),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "SecurityOptions": [],
        "Runtimes": {"berth": {"path": "berth-runtime"}},
        "DefaultRuntime": "berth",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_stripped() {
        assert_eq!(strip_version("/v1.45/images/json"), "/images/json");
        assert!(version_out_of_bounds("/v1.41/version").is_none());
        assert!(version_out_of_bounds("/version").is_none());
        assert!(
            version_out_of_bounds("/v0.1/version")
                .unwrap()
                .contains("too old")
        );
        assert!(
            version_out_of_bounds("/v9.99/version")
                .unwrap()
                .contains("too new")
        );
        assert!(version_out_of_bounds("/v1.45/version").is_none());
        assert_eq!(strip_version("/images/json"), "/images/json");
        assert_eq!(strip_version("/version"), "/version");
        assert_eq!(unescape_path("/networks/test%2001"), "/networks/test 01");
        assert_eq!(unescape_path("/images/a%2Fb/json"), "/images/a/b/json");
        assert_eq!(unescape_path("/x/100%/%zz%4"), "/x/100%/%zz%4");
        let q = query(Some("names=a%2Fb&names=c&force=1"));
        assert_eq!(q["names"], vec!["a/b", "c"]);
        assert!(truthy(&q, "force"));
    }
}
