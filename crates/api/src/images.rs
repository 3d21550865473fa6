//! The image endpoints: list, inspect, history, tag, remove, prune, pull and
//! push (progress streamed as it happens), load, save, import, and `/auth`.
//! Every call goes to the engine (berth-engine's images.rs); this module
//! only decodes requests and shapes responses.

use std::sync::Arc;

use berth_engine::images::{ArchiveFormat, ImageFilters, ProgressSink};
use berth_engine::{Engine, Error};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::containers::{engine_error, read_json};
use crate::filters::label_matches;
use crate::routes::{Query, first, truthy};
use crate::{Body, State, error, full, json};

/// `/images/...` and `/auth`, after the router matched the prefix.
pub async fn route(
    state: Arc<State>,
    req: Request<Incoming>,
    method: Method,
    path: &str,
    q: &Query,
) -> Response<Body> {
    let engine = state.engine.clone();
    let auth = req
        .headers()
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .and_then(registry_auth);
    match (method, path) {
        (Method::POST, "/auth") => login(engine, req).await,
        (Method::GET, "/images/json") => {
            let allowed = ["dangling", "reference", "label", "before", "since"];
            let mut f = match crate::filters::parse(q, &allowed) {
                Ok(f) => f,
                Err(r) => return *r,
            };
            let dangling = match dangling_filter(&f) {
                Ok(d) => d,
                Err(msg) => return error(400, msg),
            };
            let mut take = |k: &str| f.remove(k).unwrap_or_default();
            let filters = ImageFilters {
                all: truthy(q, "all"),
                dangling,
                reference: take("reference"),
                labels: take("label"),
                before: take("before").pop(),
                since: take("since").pop(),
            };
            blocking(engine, move |e| {
                Ok(json(200, &json!(e.image_list(&filters)?)))
            })
            .await
        }
        (Method::POST, "/images/load") => load(engine, req, truthy(q, "quiet")).await,
        (Method::POST, "/images/create") if first(q, "fromSrc").is_some() => {
            import(engine, req, q).await
        }
        (Method::POST, "/images/create") => pull(engine, q, auth).await,
        (Method::GET, "/images/get") => {
            let names = q.get("names").cloned().unwrap_or_default();
            save(engine, names, q).await
        }
        (Method::POST, "/images/prune") => {
            let f = match crate::filters::parse(q, &["dangling", "label", "label!"]) {
                Ok(f) => f,
                Err(r) => return *r,
            };
            let all = match dangling_filter(&f) {
                Ok(d) => d == Some(false),
                Err(msg) => return error(400, msg),
            };
            blocking(engine, move |e| {
                let selected = |labels: &Value| {
                    let get = |k: &str| labels.get(k).and_then(Value::as_str);
                    f.get("label")
                        .into_iter()
                        .flatten()
                        .all(|l| label_matches(l, get))
                        && !f
                            .get("label!")
                            .into_iter()
                            .flatten()
                            .any(|l| label_matches(l, get))
                };
                Ok(json(200, &e.image_prune(all, &selected)?))
            })
            .await
        }
        (m, p) if p.starts_with("/images/") => {
            named(engine, m, &p["/images/".len()..], q, auth).await
        }
        (m, p) => error(404, format!("page not found: {m} {p}")),
    }
}

/// `/images/{name}[/action]`; a name may hold slashes (`localhost:5000/a/b`).
async fn named(
    engine: Arc<Engine>,
    method: Method,
    rest: &str,
    q: &Query,
    auth: Option<berth_engine::images::Credentials>,
) -> Response<Body> {
    let (name, action) = match rest.rsplit_once('/') {
        Some((n, a @ ("json" | "history" | "tag" | "get" | "push"))) => (n.to_string(), a),
        _ => (rest.to_string(), ""),
    };
    match (method, action) {
        (Method::GET, "json") => {
            blocking(engine, move |e| Ok(json(200, &e.image_inspect(&name)?))).await
        }
        (Method::GET, "history") => {
            blocking(engine, move |e| Ok(json(200, &e.image_history(&name)?))).await
        }
        (Method::POST, "tag") => {
            let repo = first(q, "repo").unwrap_or("").to_string();
            let tag = first(q, "tag").map(str::to_string);
            blocking(engine, move |e| {
                e.image_tag(&name, &repo, tag.as_deref())?;
                Ok(Response::builder()
                    .status(201)
                    .body(full(Bytes::new()))
                    .expect("a valid response"))
            })
            .await
        }
        (Method::GET, "get") => save(engine, vec![name], q).await,
        (Method::POST, "push") => {
            let reference = match first(q, "tag").filter(|t| !t.is_empty()) {
                Some(t) => format!("{name}:{t}"),
                None => name,
            };
            streamed(engine, move |e, sink| e.image_push(&reference, auth, sink)).await
        }
        (Method::DELETE, "") => {
            let force = truthy(q, "force");
            blocking(engine, move |e| {
                Ok(json(200, &json!(e.image_remove(&name, force)?)))
            })
            .await
        }
        (m, _) => error(404, format!("page not found: {m} /images/{rest}")),
    }
}

/// Runs an engine call on the blocking pool (image calls read and write disk).
pub(crate) async fn blocking(
    engine: Arc<Engine>,
    f: impl FnOnce(&Engine) -> Result<Response<Body>, Error> + Send + 'static,
) -> Response<Body> {
    match tokio::task::spawn_blocking(move || f(&engine)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => engine_error(e),
        Err(e) => error(500, e),
    }
}

enum Item {
    Line(Bytes),
    Failed(Error),
}

fn line(v: &Value) -> Bytes {
    let mut out = serde_json::to_vec(v).expect("json serializes");
    out.push(b'\n');
    Bytes::from(out)
}

/// A long operation whose progress goes out as moby's JSON message stream
/// while it runs. A failure before the first message is a plain error
/// response with its status (a 404 for an unknown image, as dockerd); after
/// it, an `error` message ends the stream, as dockerd sends it.
async fn streamed(
    engine: Arc<Engine>,
    job: impl FnOnce(&Engine, ProgressSink<'_>) -> Result<(), Error> + Send + 'static,
) -> Response<Body> {
    let (tx, mut rx) = mpsc::channel::<Item>(64);
    tokio::task::spawn_blocking(move || {
        let sink = |v: Value| {
            // A client that went away: the job runs to its end all the same,
            // so what it fetched is kept whole.
            let _ = tx.blocking_send(Item::Line(line(&v)));
        };
        if let Err(e) = job(&engine, &sink) {
            let _ = tx.blocking_send(Item::Failed(e));
        }
    });
    let first = match rx.recv().await {
        None => return json_stream(Bytes::new()),
        Some(Item::Failed(e)) => return engine_error(e),
        Some(Item::Line(b)) => b,
    };
    let (out, body) = crate::stream::async_channel();
    tokio::spawn(async move {
        if out.send(first).await.is_err() {
            return;
        }
        while let Some(item) = rx.recv().await {
            let bytes = match item {
                Item::Line(b) => b,
                Item::Failed(e) => line(&json!({
                    "errorDetail": {"message": e.to_string()},
                    "error": e.to_string(),
                })),
            };
            if out.send(bytes).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .body(body)
        .expect("a valid response")
}

/// `POST /images/create?fromImage=..&tag=..`: a pull.
async fn pull(
    engine: Arc<Engine>,
    q: &Query,
    auth: Option<berth_engine::images::Credentials>,
) -> Response<Body> {
    let Some(from) = first(q, "fromImage").filter(|f| !f.is_empty()) else {
        return error(400, "fromImage or fromSrc is required");
    };
    let reference = match first(q, "tag").filter(|t| !t.is_empty()) {
        Some(t) if t.starts_with("sha256:") => format!("{from}@{t}"),
        Some(t) => format!("{from}:{t}"),
        None => from.to_string(),
    };
    let platform = first(q, "platform").map(str::to_string);
    streamed(engine, move |e, sink| {
        e.image_pull(&reference, platform.as_deref(), auth, sink)
    })
    .await
}

/// `POST /auth`: moby's AuthConfig; the registry is asked, nothing is kept.
async fn login(engine: Arc<Engine>, req: Request<Incoming>) -> Response<Body> {
    let body: Value = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let username = body["username"].as_str().unwrap_or_default().to_string();
    if username.is_empty() {
        return error(400, "auth: username is required");
    }
    let creds = berth_engine::images::Credentials {
        username,
        password: body["password"].as_str().unwrap_or_default().to_string(),
    };
    let server = body["serveraddress"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    blocking(engine, move |e| {
        e.registry_login(&server, creds)?;
        Ok(json(
            200,
            &json!({"Status": "Login Succeeded", "IdentityToken": ""}),
        ))
    })
    .await
}

/// The X-Registry-Auth header: base64url JSON with username and password.
fn registry_auth(header: &str) -> Option<berth_engine::images::Credentials> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(header.trim())
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(header.trim()))
        .ok()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    let username = v["username"]
        .as_str()
        .filter(|u| !u.is_empty())?
        .to_string();
    Some(berth_engine::images::Credentials {
        username,
        password: v["password"].as_str().unwrap_or("").to_string(),
    })
}

/// prune's `dangling` filter: true (the default) prunes untagged images,
/// false every image no container uses.
/// The `dangling` filter: Some(true) for untagged images only, Some(false)
/// for tagged ones (prune: every unused image), None when absent.
fn dangling_filter(f: &crate::filters::Filters) -> Result<Option<bool>, String> {
    let mut wanted = None;
    for d in f.get("dangling").into_iter().flatten() {
        wanted = Some(match d.as_str() {
            "false" | "0" => false,
            "true" | "1" => true,
            other => {
                return Err(format!(
                    "invalid filter 'dangling={other}': use true or false"
                ));
            }
        });
    }
    Ok(wanted)
}

/// The image a `repo` (and `tag`) query names, for import and commit; None
/// without a repo. The engine checks the name.
pub fn repo_tag(q: &Query) -> Option<String> {
    let repo = first(q, "repo").filter(|r| !r.is_empty())?;
    Some(match first(q, "tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo.to_string(),
    })
}

/// The request body written to a file under the data root (it may be
/// large), removed when the guard drops, however the request ends.
async fn spool_body(engine: &Engine, req: Request<Incoming>) -> Result<Spool, Box<Response<Body>>> {
    use tokio::io::AsyncWriteExt;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let spool = Spool(
        engine
            .data_root()
            .join(format!(".upload-{}-{n}", std::process::id())),
    );
    let mut body = req.into_body();
    let mut file = tokio::fs::File::create(&spool.0)
        .await
        .map_err(|e| Box::new(error(500, format!("spooling the upload: {e}"))))?;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Box::new(error(400, format!("reading the upload: {e}"))))?;
        if let Some(data) = frame.data_ref() {
            file.write_all(data)
                .await
                .map_err(|e| Box::new(error(500, format!("spooling the upload: {e}"))))?;
        }
    }
    // tokio's File writes from a background thread: without this the last
    // write may still be in flight when the blocking reader opens the path
    // (a flake seen under load: `docker import` of a non-tar read as empty).
    file.flush()
        .await
        .map_err(|e| Box::new(error(500, format!("spooling the upload: {e}"))))?;
    Ok(spool)
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

/// `POST /images/create?fromSrc=-`: `docker import` of the request body.
async fn import(engine: Arc<Engine>, req: Request<Incoming>, q: &Query) -> Response<Body> {
    if first(q, "fromSrc") != Some("-") {
        return error(
            400,
            "fromSrc: only \"-\" (the request body) is supported; berth fetches no URLs",
        );
    }
    let tag = repo_tag(q);
    let changes = q.get("changes").cloned().unwrap_or_default();
    let message = first(q, "message")
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    let platform = first(q, "platform").map(str::to_string);
    let spool = match spool_body(&engine, req).await {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let path = spool.0.clone();
    let resp = blocking(engine, move |e| {
        let file = std::fs::File::open(&path)
            .map_err(|err| Error::io("reading the spooled tarball", err))?;
        let id = e.image_import(file, changes, message, tag.as_deref(), platform.as_deref())?;
        Ok(json_stream(line(&json!({"status": id}))))
    })
    .await;
    drop(spool);
    resp
}

fn json_stream(body: Bytes) -> Response<Body> {
    Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .body(full(body))
        .expect("a valid response")
}

/// `POST /images/load`: a Docker or OCI archive. As dockerd, the answer
/// is a 200 and a chunked JSON stream whatever happens: "Loaded image"
/// messages (the same with `quiet` or not: berth reports no per-layer
/// progress), or the archive's error as an `error` message.
async fn load(engine: Arc<Engine>, req: Request<Incoming>, _quiet: bool) -> Response<Body> {
    let spool = match spool_body(&engine, req).await {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (out, body) = crate::stream::async_channel();
    tokio::task::spawn_blocking(move || {
        let loaded = std::fs::File::open(&spool.0)
            .map_err(|err| Error::io("reading the spooled archive", err))
            .and_then(|file| engine.image_load(file));
        drop(spool);
        let lines = match loaded {
            Ok(loaded) => loaded
                .iter()
                .map(|l| line(&json!({"stream": format!("{l}\n")})))
                .collect(),
            Err(e) => vec![line(&json!({
                "errorDetail": {"message": e.to_string()},
                "error": e.to_string(),
            }))],
        };
        for l in lines {
            if out.blocking_send(l).is_err() {
                return;
            }
        }
    });
    Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .body(body)
        .expect("a valid response")
}

/// `GET /images/get` and `/images/{name}/get`: one archive of the named
/// images, streamed as it is written. berth also writes an OCI image layout
/// with `format=oci` (its own parameter; dockerd has none).
async fn save(engine: Arc<Engine>, names: Vec<String>, q: &Query) -> Response<Body> {
    if names.is_empty() {
        return error(400, "no images named");
    }
    let format = match first(q, "format").unwrap_or("docker") {
        "docker" | "" => ArchiveFormat::Docker,
        "oci" => ArchiveFormat::Oci,
        other => return error(400, format!("format {other:?}: use docker or oci")),
    };
    // Unknown names are a 404 before the stream starts.
    if let Err(e) = engine.image_save_check(&names) {
        return engine_error(e);
    }
    let (writer, body) = crate::stream::channel();
    tokio::task::spawn_blocking(move || {
        let out = std::io::BufWriter::with_capacity(256 * 1024, writer);
        // A failure here (or a client that went away) ends the stream short,
        // which the client sees as a truncated archive.
        let _ = engine.image_save(&names, format, out);
    });
    Response::builder()
        .status(200)
        .header("Content-Type", "application/x-tar")
        .body(body)
        .expect("a valid response")
}
