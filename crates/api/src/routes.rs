//! Method and path to handler.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use berth_image::images::Removed;
use berth_image::{Error as ImageError, ImageRef, archive, inspect};

use crate::{API_VERSION, Body, MIN_API_VERSION, State, error, full, json};

pub async fn route(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = strip_version(req.uri().path()).to_string();
    let query = query(req.uri().query());
    match (method.clone(), path.as_str()) {
        (Method::GET | Method::HEAD, "/_ping") => ping(method == Method::HEAD),
        (Method::GET, "/version") => json(200, &version()),
        (Method::GET, "/info") => blocking(state, move |s| Ok(json(200, &info(s)?))).await,
        (Method::GET, "/images/json") => {
            let filters = first(&query, "filters").unwrap_or("{}").to_string();
            blocking(state, move |s| {
                let f = inspect::Filters::from_json(&filters)?;
                Ok(json(
                    200,
                    &serde_json::json!(inspect::summaries(&s.engine.images, &f)?),
                ))
            })
            .await
        }
        (Method::POST, "/images/load") => load(state, req).await,
        (Method::POST, "/images/create") if first(&query, "fromSrc").is_some() => {
            import(state, req, &query).await
        }
        (Method::POST, "/images/create") => {
            let auth = req
                .headers()
                .get("X-Registry-Auth")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            create(state, &query, auth).await
        }
        (Method::GET, "/images/get") => {
            let names = query.get("names").cloned().unwrap_or_default();
            save(state, names).await
        }
        (Method::POST, "/images/prune") => {
            let filters = first(&query, "filters").unwrap_or("{}").to_string();
            blocking(state, move |s| {
                let f: BTreeMap<String, serde_json::Value> = serde_json::from_str(&filters)
                    .map_err(|e| ImageError::invalid("filters", e))?;
                // dangling=false prunes every image no container uses.
                let all = f.get("dangling").is_some_and(|v| {
                    v.to_string().contains("false") || v.to_string().contains('0')
                });
                let in_use =
                    |id: &berth_image::Digest| s.engine.image_in_use(&id.to_string()).is_some();
                let removed = s.engine.images.prune(all, &in_use)?;
                let items = removed_items(&removed);
                Ok(json(
                    200,
                    &serde_json::json!({"ImagesDeleted": items, "SpaceReclaimed": 0}),
                ))
            })
            .await
        }
        (Method::GET, "/system/df") => crate::system::df(state.engine.clone()).await,
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
        (m, p) if p.starts_with("/images/") => {
            let auth = req
                .headers()
                .get("X-Registry-Auth")
                .and_then(|v| v.to_str().ok())
                .and_then(registry_auth);
            image_route(state, m, &p["/images/".len()..], &query, auth).await
        }
        _ => error(
            404,
            format!("page not found: {} {}", req.method(), req.uri().path()),
        ),
    }
}

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

fn query(q: Option<&str>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(q.unwrap_or("").as_bytes()) {
        out.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    out
}

pub type Query = BTreeMap<String, Vec<String>>;

pub fn first<'a>(q: &'a BTreeMap<String, Vec<String>>, k: &str) -> Option<&'a str> {
    q.get(k).and_then(|v| v.first()).map(String::as_str)
}

pub fn truthy(q: &BTreeMap<String, Vec<String>>, k: &str) -> bool {
    matches!(first(q, k), Some("1" | "true" | "True"))
}

fn ping(head: bool) -> Response<Body> {
    Response::builder()
        .status(200)
        .header("Api-Version", API_VERSION)
        .header("Docker-Experimental", "false")
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

fn info(s: &State) -> berth_image::Result<serde_json::Value> {
    let images = s.engine.images.list()?.len();
    let all = s.engine.list();
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
        "DockerRootDir": s.engine.data_root(),
        "CgroupDriver": "cgroupfs",
        "KernelVersion": kernel(),
        "OperatingSystem": "berth",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "Name": std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim(),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "SecurityOptions": [],
        "Runtimes": {"berth": {"path": "berth-runtime"}},
        "DefaultRuntime": "berth",
    }))
}

/// Runs a store call on the blocking pool; maps image errors to statuses.
async fn blocking(
    state: Arc<State>,
    f: impl FnOnce(&State) -> berth_image::Result<Response<Body>> + Send + 'static,
) -> Response<Body> {
    match tokio::task::spawn_blocking(move || f(&state)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => image_error(e),
        Err(e) => error(500, e),
    }
}

fn image_error(e: ImageError) -> Response<Body> {
    let status = match &e {
        ImageError::ImageNotFound(_) | ImageError::BlobNotFound(_) => 404,
        ImageError::InvalidReference { .. } | ImageError::InvalidDigest { .. } => 400,
        ImageError::Invalid { what, .. } if what.starts_with("conflict") => 409,
        ImageError::Invalid { .. }
        | ImageError::LayerEntry { .. }
        | ImageError::DigestMismatch { .. }
        | ImageError::SizeMismatch { .. } => 400,
        ImageError::Io { .. } => 500,
    };
    error(status, e)
}

async fn image_route(
    state: Arc<State>,
    method: Method,
    rest: &str,
    q: &BTreeMap<String, Vec<String>>,
    auth: Option<berth_image::registry::Credentials>,
) -> Response<Body> {
    let (name, action) = match rest.rsplit_once('/') {
        Some((n, a @ ("json" | "history" | "tag" | "get" | "push"))) => (n.to_string(), a),
        _ => (rest.to_string(), ""),
    };
    match (method, action) {
        (Method::GET, "json") => {
            blocking(state, move |s| {
                Ok(json(200, &inspect::image(&s.engine.images, &name)?))
            })
            .await
        }
        (Method::GET, "history") => {
            blocking(state, move |s| {
                Ok(json(
                    200,
                    &serde_json::json!(inspect::history(&s.engine.images, &name)?),
                ))
            })
            .await
        }
        (Method::POST, "tag") => {
            let Some(repo) = first(q, "repo")
                .filter(|r| !r.is_empty())
                .map(str::to_string)
            else {
                return error(400, "repository name must have at least one component");
            };
            let target = match first(q, "tag").filter(|t| !t.is_empty()) {
                Some(t) => format!("{repo}:{t}"),
                None => repo,
            };
            blocking(state, move |s| {
                s.engine.images.tag(&name, &ImageRef::parse(&target)?)?;
                Ok(Response::builder()
                    .status(201)
                    .body(full(Bytes::new()))
                    .expect("response"))
            })
            .await
        }
        (Method::GET, "get") => save(state, vec![name]).await,
        (Method::POST, "push") => {
            let reference = match first(q, "tag").filter(|t| !t.is_empty()) {
                Some(t) => format!("{name}:{t}"),
                None => name,
            };
            push(state, reference, auth).await
        }
        (Method::DELETE, "") => {
            let force = truthy(q, "force");
            blocking(state, move |s| {
                let in_use =
                    |id: &berth_image::Digest| s.engine.image_in_use(&id.to_string()).is_some();
                let removed = s.engine.images.remove(&name, force, &in_use)?;
                let items = removed_items(&removed);
                Ok(json(200, &serde_json::json!(items)))
            })
            .await
        }
        _ => error(404, format!("page not found: /images/{rest}")),
    }
}

/// `POST /images/create?fromImage=..&tag=..`: a pull, answered with the
/// progress messages as a JSON stream (a failure mid-way is an `error` message,
/// as moby sends it once the stream has begun).
async fn create(
    state: Arc<State>,
    q: &BTreeMap<String, Vec<String>>,
    auth: Option<String>,
) -> Response<Body> {
    let Some(from) = first(q, "fromImage").map(str::to_string) else {
        return error(400, "fromImage or fromSrc is required");
    };
    let reference = match first(q, "tag").filter(|t| !t.is_empty()) {
        Some(t) if t.starts_with("sha256:") => format!("{from}@{t}"),
        Some(t) => format!("{from}:{t}"),
        None => from,
    };
    let platform = first(q, "platform")
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let creds = auth.and_then(|a| registry_auth(&a));
    blocking(state, move |s| {
        let r = ImageRef::parse(&reference)?;
        let platform = platform
            .as_deref()
            .map(berth_image::manifest::Platform::parse)
            .transpose()?;
        let opts = berth_image::registry::Options {
            credentials: creds,
            ..Default::default()
        };
        let mut log = Vec::new();
        let result = berth_image::registry::pull::pull(
            &s.engine.images,
            &r,
            platform.as_ref(),
            &opts,
            &mut log,
        );
        progress_stream(&log, result.map(|_| ()))
    })
    .await
}

/// `POST /images/{name}/push?tag=..`: progress as a JSON stream.
async fn push(
    state: Arc<State>,
    reference: String,
    creds: Option<berth_image::registry::Credentials>,
) -> Response<Body> {
    blocking(state, move |s| {
        let r = ImageRef::parse(&reference)?;
        let opts = berth_image::registry::Options {
            credentials: creds,
            ..Default::default()
        };
        let mut log = Vec::new();
        let result = berth_image::registry::push::push(&s.engine.images, &r, &opts, &mut log);
        progress_stream(&log, result.map(|_| ()))
    })
    .await
}

/// The lines a pull or push wrote, as moby's JSON progress stream; a failure
/// after some progress is an `error` message in the stream, as moby sends it.
fn progress_stream(
    log: &[u8],
    result: berth_image::Result<()>,
) -> berth_image::Result<Response<Body>> {
    let mut out = Vec::new();
    let mut put = |v: serde_json::Value| {
        out.extend(serde_json::to_vec(&v).expect("json"));
        out.push(b'\n');
    };
    for line in String::from_utf8_lossy(log).lines() {
        put(serde_json::json!({"status": line}));
    }
    if let Err(e) = result {
        if log.is_empty() {
            return Err(e);
        }
        put(serde_json::json!({"errorDetail": {"message": e.to_string()}, "error": e.to_string()}));
    }
    Ok(Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .body(full(Bytes::from(out)))
        .expect("response"))
}

/// The X-Registry-Auth header: base64url JSON with username and password.
fn registry_auth(header: &str) -> Option<berth_image::registry::Credentials> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(header.trim())
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(header.trim()))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    let username = v["username"]
        .as_str()
        .filter(|u| !u.is_empty())?
        .to_string();
    Some(berth_image::registry::Credentials {
        username,
        password: v["password"].as_str().unwrap_or("").to_string(),
    })
}

/// `POST /images/load`: the archive is spooled to a file under the data root
/// (it may be large), loaded, and answered as a JSON message stream.
/// The request body written to a file under the data root (removed when the
/// returned guard drops, however the request ends).
async fn spool_body(state: &State, req: Request<Incoming>) -> Result<Spool, Box<Response<Body>>> {
    let spool = Spool(state.engine.data_root().join(format!(
        ".load-{}",
        std::process::id() as u64 * 1_000_000 + rand_suffix()
    )));
    let mut body = req.into_body();
    let mut file = tokio::fs::File::create(&spool.0)
        .await
        .map_err(|e| Box::new(error(500, format!("spooling the archive: {e}"))))?;
    use tokio::io::AsyncWriteExt;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Box::new(error(400, format!("reading the archive: {e}"))))?;
        if let Some(data) = frame.data_ref() {
            file.write_all(data)
                .await
                .map_err(|e| Box::new(error(500, format!("spooling the archive: {e}"))))?;
        }
    }
    Ok(spool)
}

/// `POST /images/create?fromSrc=-`: `docker import` of the request body.
/// The image a `repo` (and `tag`) query names, for import and commit;
/// None without a repo.
pub(crate) fn repo_tag(q: &BTreeMap<String, Vec<String>>) -> Result<Option<ImageRef>, ImageError> {
    let Some(repo) = first(q, "repo").filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let full = match first(q, "tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo.to_string(),
    };
    ImageRef::parse(&full).map(Some)
}

/// What rmi and image prune removed, as moby's ImageDeleteResponseItem.
fn removed_items(removed: &[Removed]) -> Vec<serde_json::Value> {
    removed
        .iter()
        .map(|r| match r {
            Removed::Untagged(t) => serde_json::json!({"Untagged": t}),
            Removed::Deleted(d) => serde_json::json!({"Deleted": d.to_string()}),
        })
        .collect()
}

async fn import(
    state: Arc<State>,
    req: Request<Incoming>,
    q: &BTreeMap<String, Vec<String>>,
) -> Response<Body> {
    if first(q, "fromSrc") != Some("-") {
        return error(
            400,
            "fromSrc: only \"-\" (the request body) is supported; berth fetches no URLs",
        );
    }
    let tag = match repo_tag(q) {
        Ok(t) => t,
        Err(e) => return image_error(e),
    };
    let opts = berth_image::import::ImportOptions {
        changes: q.get("changes").cloned().unwrap_or_default(),
        message: first(q, "message")
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        tag,
        platform: None,
    };
    let spool = match spool_body(&state, req).await {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let path = spool.0.clone();
    let resp = blocking(state, move |s| {
        let file = std::fs::File::open(&path)
            .map_err(|e| ImageError::io("reading the spooled tarball", e))?;
        let rec = berth_image::import::import(&s.engine.images, file, &opts)?;
        let mut out =
            serde_json::to_vec(&serde_json::json!({"status": rec.id.to_string()})).expect("json");
        out.push(b'\n');
        Ok(json_stream(out))
    })
    .await;
    drop(spool);
    resp
}

fn json_stream(body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .body(full(body))
        .expect("a valid response")
}

async fn load(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let spool = match spool_body(&state, req).await {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let path = spool.0.clone();
    let resp = blocking(state, move |s| {
        let loaded = archive::load(&s.engine.images, std::fs::File::open(&path).map_err(|e| ImageError::io("reading the spooled archive", e))?)?;
        let mut out = Vec::new();
        for l in loaded {
            if l.tags.is_empty() {
                out.extend(serde_json::to_vec(&serde_json::json!({"stream": format!("Loaded image ID: {}\n", l.image.id)})).expect("json"));
                out.push(b'\n');
            }
            for t in l.tags {
                out.extend(serde_json::to_vec(&serde_json::json!({"stream": format!("Loaded image: {}\n", t.familiar())})).expect("json"));
                out.push(b'\n');
            }
        }
        Ok(Response::builder().status(200).header("Content-Type", "application/json").body(full(Bytes::from(out))).expect("response"))
    })
    .await;
    drop(spool);
    resp
}

/// The spooled upload, removed however the request ends: hyper drops the
/// handler's future when the client hangs up, so cleanup cannot wait for code
/// after an `.await`.
struct Spool(std::path::PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `GET /images/get`: a Docker archive of the named images, streamed as it
/// is written (an image may be larger than the daemon should hold in memory).
async fn save(state: Arc<State>, names: Vec<String>) -> Response<Body> {
    if names.is_empty() {
        return error(400, "no images named");
    }
    // Unknown names are a 404 before the stream starts; after, the status is sent.
    for n in &names {
        if let Err(e) = state.engine.images.resolve(n) {
            return image_error(e);
        }
    }
    let (writer, body) = crate::stream::channel();
    tokio::task::spawn_blocking(move || {
        let out = std::io::BufWriter::with_capacity(256 * 1024, writer);
        // A failure here (or a client that went away) ends the stream short,
        // which the client sees as a truncated archive.
        let _ = archive::save(&state.engine.images, &names, archive::Format::Docker, out);
    });
    Response::builder()
        .status(200)
        .header("Content-Type", "application/x-tar")
        .body(body)
        .expect("response")
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_stripped() {
        assert_eq!(strip_version("/v1.45/images/json"), "/images/json");
        assert_eq!(strip_version("/images/json"), "/images/json");
        assert_eq!(strip_version("/version"), "/version");
        let q = query(Some("names=a%2Fb&names=c&force=1"));
        assert_eq!(q["names"], vec!["a/b", "c"]);
        assert!(truthy(&q, "force"));
    }
}
