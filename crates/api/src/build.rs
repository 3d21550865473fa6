//! `POST /build` (the classic builder's protocol: a tar context in the
//! body, moby's JSON message stream back) and `POST /build/prune`.
//!
//! The context is unpacked as it arrives (no spool file); a client that
//! goes away mid-upload ends the build with nothing left behind.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use berth_engine::build::{Context, Message, Options, Output, RunDefaults};
use berth_engine::{Engine, Error};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::containers::engine_error;
use crate::routes::{Query, first, truthy};
use crate::{Body, error, json};

/// The request body as a blocking reader, for the unpacking thread.
struct BodyReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

fn body_reader(req: Request<Incoming>) -> BodyReader {
    let (tx, rx) = mpsc::channel(16);
    let mut body = req.into_body();
    tokio::spawn(async move {
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    if let Some(data) = f.data_ref()
                        && tx.send(Ok(data.clone())).await.is_err()
                    {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx
                        .send(Err(format!(
                            "the client's upload of the context ended: {e}"
                        )))
                        .await;
                    return;
                }
            }
        }
    });
    BodyReader {
        rx,
        current: Bytes::new(),
    }
}

/// A JSON object parameter (`buildargs`, `labels`).
fn json_param<T: serde::de::DeserializeOwned + Default>(q: &Query, k: &str) -> Result<T, String> {
    match first(q, k).filter(|v| !v.is_empty()) {
        None => Ok(T::default()),
        Some(v) => serde_json::from_str(v).map_err(|e| format!("invalid {k}: {e}")),
    }
}

fn int_param(q: &Query, k: &str) -> Result<i64, String> {
    match first(q, k).filter(|v| !v.is_empty()) {
        None => Ok(0),
        Some(v) => v
            .parse()
            .map_err(|_| format!("invalid {k}: {v:?} is not a number")),
    }
}

/// The query as build options and RUN defaults; what berth cannot do is
/// refused by name.
fn parse(q: &Query) -> Result<(Options, RunDefaults, String, bool), String> {
    if let Some(v) = first(q, "version")
        && v != "1"
        && !v.is_empty()
    {
        return Err(format!(
            "builder version {v:?} (BuildKit) is not supported by berth: use the classic builder (DOCKER_BUILDKIT=0)"
        ));
    }
    if truthy(q, "squash") {
        return Err("squash is not supported by berth".into());
    }
    if first(q, "outputs").is_some_and(|v| !v.is_empty() && v != "[]" && v != "null") {
        return Err("outputs is a BuildKit option, not supported by berth".into());
    }
    let cache_from: Vec<String> =
        json_param::<Option<Vec<String>>>(q, "cachefrom")?.unwrap_or_default();
    if first(q, "isolation").is_some_and(|v| !v.is_empty() && v != "default") {
        return Err("isolation: only \"default\" is supported on Linux".into());
    }
    let build_args: BTreeMap<String, Option<String>> =
        json_param::<Option<_>>(q, "buildargs")?.unwrap_or_default();
    let labels: BTreeMap<String, String> =
        json_param::<Option<_>>(q, "labels")?.unwrap_or_default();
    let network = match first(q, "networkmode").unwrap_or("") {
        "default" => String::new(),
        n => n.to_string(),
    };
    let opts = Options {
        tags: q
            .get("t")
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect(),
        target: first(q, "target")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        build_args,
        labels,
        no_cache: truthy(q, "nocache"),
        pull: truthy(q, "pull"),
        network,
        cache_from,
        platform: first(q, "platform")
            .filter(|p| !p.is_empty())
            .map(str::to_string),
    };
    let mut hc = berth_models::container::HostConfig {
        memory: int_param(q, "memory")?,
        memory_swap: int_param(q, "memswap")?,
        cpu_shares: int_param(q, "cpushares")?,
        cpu_period: int_param(q, "cpuperiod")?,
        cpu_quota: int_param(q, "cpuquota")?,
        shm_size: int_param(q, "shmsize")?,
        cpuset_cpus: first(q, "cpusetcpus").unwrap_or("").to_string(),
        cpuset_mems: first(q, "cpusetmems").unwrap_or("").to_string(),
        cgroup_parent: first(q, "cgroupparent").unwrap_or("").to_string(),
        ..Default::default()
    };
    // Clients repeat the parameter, one host each (docker-py, docker's CLI).
    let hosts: Vec<String> = q
        .get("extrahosts")
        .into_iter()
        .flatten()
        .flat_map(|v| v.split([',', ' ']))
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .collect();
    if !hosts.is_empty() {
        hc.extra_hosts = Some(hosts);
    }
    hc.ulimits = json_param(q, "ulimits")?;
    // rm defaults to true; forcerm asks that failed steps' containers go
    // too, which berth always does.
    let remove = first(q, "rm").is_none() || truthy(q, "rm");
    let run = RunDefaults {
        host_config: hc,
        remove,
    };
    let dockerfile = first(q, "dockerfile").unwrap_or("Dockerfile").to_string();
    Ok((opts, run, dockerfile, truthy(q, "q")))
}

fn line(v: &Value) -> Bytes {
    let mut out = serde_json::to_vec(v).expect("json serializes");
    out.push(b'\n');
    Bytes::from(out)
}

fn message_line(m: Message) -> Bytes {
    match m {
        Message::Stream(s) => line(&json!({"stream": s})),
        Message::Progress(v) => line(&v),
        Message::Aux(v) => line(&json!({"aux": v})),
    }
}

/// moby's error message; a failed RUN's code is docker's exit status.
fn error_line(e: &Error) -> Bytes {
    let code = match e {
        Error::Build { code, .. } => *code,
        _ => 1,
    };
    line(&json!({
        "errorDetail": {"code": code, "message": e.to_string()},
        "error": e.to_string(),
    }))
}

/// `POST /build`.
pub async fn build(engine: Arc<Engine>, req: Request<Incoming>, q: &Query) -> Response<Body> {
    let (opts, run, dockerfile, quiet) = match parse(q) {
        Ok(p) => p,
        Err(e) => return error(400, e),
    };
    let tmp = engine.build_tmp();
    let limit = engine.build_context_limit();
    let remote = first(q, "remote")
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let reader = body_reader(req);
    let unpack = move || match remote {
        Some(url) => Context::download(&url, &tmp, limit),
        None => Context::unpack(reader, &tmp, limit),
    };
    let context = match tokio::task::spawn_blocking(unpack).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return error(400, e),
        Err(e) => return error(500, e),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let out = Output::new(tx, quiet);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let r = engine.build(&context, &dockerfile, &opts, run, out).await;
        drop(context);
        let _ = done_tx.send(r);
    });
    // An error before the first message (a Dockerfile that does not parse,
    // an unknown target) is a plain error response, as dockerd answers.
    // A step that failed is in the stream, quiet or not.
    let first = rx.recv().await;
    if first.is_none() {
        return match done_rx.await {
            Ok(Err(e @ Error::Build { .. })) => Response::builder()
                .status(200)
                .header("Content-Type", "application/json")
                .body(crate::full(error_line(&e)))
                .expect("a valid response"),
            Ok(Err(e)) => engine_error(e),
            Ok(Ok(_)) => json(200, &json!({})),
            Err(e) => error(500, e),
        };
    }
    let (body_tx, body) = crate::stream::async_channel();
    tokio::spawn(async move {
        if let Some(m) = first
            && body_tx.send(message_line(m)).await.is_err()
        {
            return;
        }
        while let Some(m) = rx.recv().await {
            if body_tx.send(message_line(m)).await.is_err() {
                // The client went away: the output's sender sees the
                // channel closed and the build stops at its next step.
                rx.close();
                return;
            }
        }
        if let Ok(Err(e)) = done_rx.await {
            let _ = body_tx.send(error_line(&e)).await;
        }
    });
    Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .body(body)
        .expect("a valid response")
}

/// `POST /build/prune`: the build cache forgotten, the images only it kept
/// removed. `all` changes nothing (every entry is unused once the build
/// is over); filters and a storage to keep are refused.
pub async fn prune(engine: Arc<Engine>, q: &Query) -> Response<Body> {
    if first(q, "filters").is_some_and(|f| !f.is_empty() && f != "{}") {
        return error(400, "build cache prune: filters are not supported by berth");
    }
    if first(q, "keep-storage").is_some_and(|k| !k.is_empty() && k != "0") {
        return error(
            400,
            "build cache prune: keep-storage is not supported by berth",
        );
    }
    match tokio::task::spawn_blocking(move || engine.build_prune()).await {
        Ok(Ok((ids, freed))) => json(200, &json!({"CachesDeleted": ids, "SpaceReclaimed": freed})),
        Ok(Err(e)) => engine_error(e),
        Err(e) => error(500, e),
    }
}
