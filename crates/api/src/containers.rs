//! The container endpoints: `/containers/...` in moby's shapes.

use std::sync::Arc;

use berth_engine::containers::CreateRequest;
use berth_engine::model::{Config, Container, ContainerInspect, HostConfig, Status};
use berth_engine::{Engine, Error};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::filters;
use crate::hijack;
use crate::routes::{Query, first, truthy};
use crate::{Body, State, error, json};

/// The most a JSON request body may be; past it the request is refused.
const MAX_BODY: usize = 16 << 20;

pub fn engine_error(e: Error) -> Response<Body> {
    if let Error::NotModified = e {
        return Response::builder()
            .status(304)
            .body(crate::full(Bytes::new()))
            .expect("a valid response");
    }
    error(e.status(), e)
}

/// Reads a whole JSON body, bounded; `{}` when empty.
pub async fn read_json<T: for<'de> Deserialize<'de>>(
    req: Request<Incoming>,
) -> Result<T, Response<Body>> {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY);
    let bytes = match limited.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Err(error(400, format!("reading the request body: {e}")));
        }
    };
    let bytes = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        Bytes::from_static(b"{}")
    } else {
        bytes
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return Err(error(400, format!("invalid JSON: {e}"))),
    };
    serde_path_to_error::deserialize(without_nulls(value)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            error(400, format!("invalid JSON: {inner}"))
        } else {
            error(400, format!("invalid JSON: {path}: {inner}"))
        }
    })
}

/// Go's JSON decoding of `null`: a member that is null leaves its field
/// as it was (zero, or nil), so it is read as absent. docker-compose 1.29.2
/// sends `"Healthcheck": {"Timeout": null, ...}`, for one.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Deserializes one part of a request, naming the field that is wrong.
fn typed<T: for<'de> Deserialize<'de>>(v: Value, prefix: &str) -> Result<T, String> {
    serde_path_to_error::deserialize(without_nulls(v)).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            String::new()
        } else {
            format!("{prefix}{path}: ")
        };
        format!("invalid JSON: {path}{}", e.into_inner())
    })
}

/// The create body: a Config with HostConfig (and NetworkingConfig) in it.
fn create_body(mut v: Value) -> Result<(Config, HostConfig), String> {
    if !v.is_object() {
        return Err("invalid JSON: the body must be an object".into());
    }
    let hc = v
        .as_object_mut()
        .and_then(|o| o.remove("HostConfig"))
        .filter(|h| !h.is_null())
        .unwrap_or_else(|| json!({}));
    Ok((typed(v, "")?, typed(hc, "HostConfig.")?))
}

pub async fn route(
    state: Arc<State>,
    req: Request<Incoming>,
    method: Method,
    rest: &str,
    q: &Query,
) -> Response<Body> {
    let engine = state.engine.clone();
    let version = crate::routes::api_version(req.uri().path());
    match (method, rest) {
        (Method::POST, "create") => {
            let name = first(q, "name").map(str::to_string);
            let body: Value = match read_json(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let (config, host_config) = match create_body(body) {
                Ok(p) => p,
                Err(msg) => return error(400, msg),
            };
            let res = tokio::task::spawn_blocking(move || {
                engine.create(CreateRequest {
                    name,
                    config,
                    host_config,
                })
            })
            .await;
            match res {
                Ok(Ok((c, warnings))) => json(201, &json!({"Id": c.id, "Warnings": warnings})),
                Ok(Err(e)) => engine_error(e),
                Err(e) => error(500, e),
            }
        }
        (Method::GET, "json") => list(&engine, q, version),
        (Method::POST, "prune") => prune(&engine, q).await,
        (m, rest) => {
            let (name, action) = rest.split_once('/').unwrap_or((rest, ""));
            let name = name.to_string();
            container_route(engine, req, m, &name, action, q).await
        }
    }
}

async fn container_route(
    engine: Arc<Engine>,
    req: Request<Incoming>,
    method: Method,
    name: &str,
    action: &str,
    q: &Query,
) -> Response<Body> {
    let done = |r: Result<(), Error>| match r {
        Ok(()) => Response::builder()
            .status(204)
            .body(crate::full(Bytes::new()))
            .expect("a valid response"),
        Err(e) => engine_error(e),
    };
    // A timeout that is not a number is the request's fault (dockerd:
    // strconv.Atoi's error), not "no timeout".
    let timeout = match first(q, "t").or(first(q, "timeout")) {
        Some(t) if !t.is_empty() => match t.parse::<i64>() {
            Ok(t) => Some(t),
            Err(_) => {
                return error(400, format!("strconv.Atoi: parsing {t:?}: invalid syntax"));
            }
        },
        _ => None,
    };
    let signal = first(q, "signal").filter(|s| !s.is_empty());
    let version = crate::routes::api_version(req.uri().path());
    match (method, action) {
        (Method::GET, "json") => match engine.get(name) {
            Ok(c) => crate::typed(200, &inspect(&engine, &c, truthy(q, "size"), version)),
            Err(e) => engine_error(e),
        },
        (Method::POST, "start") => done(engine.start(name).await),
        (Method::POST, "stop") => done(engine.stop(name, timeout, signal).await),
        (Method::POST, "restart") => done(engine.restart(name, timeout, signal).await),
        (Method::POST, "kill") => done(engine.kill(name, signal).await),
        (Method::POST, "pause") => done(engine.pause(name, true).await),
        (Method::POST, "unpause") => done(engine.pause(name, false).await),
        (Method::POST, "rename") => match first(q, "name") {
            Some(new) => done(engine.rename(name, new)),
            None => error(400, "rename: the new name is missing (?name=)"),
        },
        (Method::POST, "resize") => {
            let h = first(q, "h").and_then(|v| v.parse().ok()).unwrap_or(0);
            let w = first(q, "w").and_then(|v| v.parse().ok()).unwrap_or(0);
            // 200, not 204: moby's answer (swagger: "200 no error").
            match engine.resize(name, h, w).await {
                Ok(()) => crate::empty(200),
                Err(e) => engine_error(e),
            }
        }
        (Method::POST, "wait") => wait(engine, name, first(q, "condition").unwrap_or("")).await,
        // A container's own name is no link to remove (dockerd's words).
        (Method::DELETE, "") if truthy(q, "link") => error(
            500,
            "Conflict, cannot remove the default link name of the container",
        ),
        (Method::DELETE, "") => {
            let force = truthy(q, "force");
            done(engine.remove(name, force, truthy(q, "v")).await)
        }
        // `docker rm --link parent/alias`.
        (Method::DELETE, alias) if truthy(q, "link") && !alias.contains('/') => {
            match engine.remove_link(name, alias) {
                Ok(()) => crate::empty(204),
                Err(e) => engine_error(e),
            }
        }
        (Method::POST, "attach") => attach(engine, req, name, q).await,
        (Method::GET, "logs") => crate::logs::logs(engine, name, q).await,
        (Method::GET, "top") => top(&engine, name, first(q, "ps_args").unwrap_or("-ef")).await,
        (Method::GET, "stats") => crate::stats::stats(engine, name, q).await,
        (Method::GET, "changes") => match engine.changes(name) {
            Ok(list) => json(
                200,
                &Value::Array(
                    list.into_iter()
                        .map(|(p, k)| json!({"Path": p, "Kind": k}))
                        .collect(),
                ),
            ),
            Err(e) => engine_error(e),
        },
        (Method::POST, "update") => {
            let body: Value = match read_json(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            match engine.update_container(name, &body).await {
                Ok(warnings) => json(200, &json!({"Warnings": warnings})),
                Err(e) => engine_error(e),
            }
        }
        (m @ (Method::GET | Method::HEAD | Method::PUT), "archive") => {
            crate::archive::archive(engine, req, m, name, q).await
        }
        (Method::GET, "export") => crate::archive::export(&engine, name),
        (Method::POST, "exec") => {
            let body: berth_engine::exec::ExecConfig = match read_json(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            match engine.exec_create(name, body) {
                Ok(id) => json(201, &json!({"Id": id})),
                Err(e) => engine_error(e),
            }
        }
        (m, a) => error(404, format!("page not found: {m} /containers/{name}/{a}")),
    }
}

/// `POST /containers/{id}/wait`: the headers go out at once, so that a
/// client knows its wait is registered before it starts the container.
async fn wait(engine: Arc<Engine>, name: &str, condition: &str) -> Response<Body> {
    if let Err(e) = engine.get(name) {
        return engine_error(e);
    }
    if !matches!(condition, "" | "not-running" | "next-exit" | "removed") {
        return error(400, format!("invalid condition: \"{condition}\""));
    }
    let (tx, body) = crate::stream::async_channel();
    let fut = engine.wait_registered(name, condition);
    tokio::spawn(async move {
        let res = fut.await;
        let v = match res {
            Ok(code) => json!({"StatusCode": code, "Error": null}),
            Err(e) => json!({"StatusCode": -1, "Error": {"Message": e.to_string()}}),
        };
        let mut bytes = serde_json::to_vec(&v).expect("json serializes");
        bytes.push(b'\n');
        let _ = tx.send(Bytes::from(bytes)).await;
    });
    Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .body(body)
        .expect("a valid response")
}

/// `POST /containers/{id}/attach`: the hijacked connection carries the
/// container's stdio until it exits.
async fn attach(
    engine: Arc<Engine>,
    mut req: Request<Incoming>,
    name: &str,
    q: &Query,
) -> Response<Body> {
    // As dockerd: the keys are checked before the container is looked up,
    // and a refusal is said as plain text on the raw stream.
    let keys = match first(q, "detachKeys").filter(|k| !k.is_empty()) {
        Some(k) => match berth_models::detach::parse(k) {
            Ok(keys) => keys,
            Err(_) => {
                return hijack::refuse(400, &format!("Invalid detach keys ({k}) provided"));
            }
        },
        None => Vec::new(),
    };
    let c = match engine.get(name) {
        Ok(c) => c,
        Err(e) => return hijack::refuse(e.status(), &e.to_string()),
    };
    let logs = truthy(q, "logs");
    let stream = truthy(q, "stream") || !logs;
    let (stdin, stdout, stderr) = (truthy(q, "stdin"), truthy(q, "stdout"), truthy(q, "stderr"));
    // As dockerd: `logs=1` replays what the log holds first (framed as
    // the stream is), then `stream=1` goes on live; `stream=0` ends there.
    let replay = logs.then(|| {
        let opts = berth_engine::logs::LogOptions {
            stdout,
            stderr,
            ..Default::default()
        };
        (engine.log_path(&c.id), opts)
    });
    let tty = c.config.tty;
    // dockerd watches only a terminal's input for the detach keys.
    let keys = tty.then_some(keys);
    // Registered now, before the response: a client that starts the
    // container right after the 101 must not lose its first output.
    let shim = stream.then(|| engine.attach(&c.id, stdin, stdout, stderr));
    hijack::respond(&mut req, tty, move |mut conn| async move {
        if let Some((path, opts)) = replay {
            use tokio::io::AsyncWriteExt;
            let mut reader = berth_engine::logs::open(&path, &opts);
            loop {
                let batch = reader.next_batch(256 * 1024);
                if batch.is_empty() {
                    break;
                }
                let mut buf = Vec::new();
                for e in &batch {
                    crate::logs::encode(e, tty, false, &mut buf);
                }
                if conn.write_all(&buf).await.is_err() {
                    return;
                }
            }
            if shim.is_none() {
                let _ = conn.shutdown().await;
                return;
            }
        }
        match shim {
            Some(shim) => match shim.await {
                Ok(shim) => hijack::splice(conn, shim, keys).await,
                Err(e) => hijack::fail(conn, &e.to_string()).await,
            },
            None => {
                use tokio::io::AsyncWriteExt;
                let _ = conn.shutdown().await;
            }
        }
    })
}

async fn top(engine: &Engine, name: &str, ps_args: &str) -> Response<Body> {
    let c = match engine.get(name) {
        Ok(c) => c,
        Err(e) => return engine_error(e),
    };
    if !c.is_running() {
        return error(409, format!("Container {} is not running", c.id));
    }
    let pids = match engine.pids(&c.id).await {
        Ok(p) => p,
        Err(e) => return engine_error(e),
    };
    let out = tokio::process::Command::new("ps")
        .args(ps_args.split_whitespace())
        .output()
        .await;
    let out = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            return error(
                500,
                format!(
                    "ps {ps_args}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            );
        }
        Err(e) => return error(500, format!("running ps: {e}")),
    };
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let pid_col = header.iter().position(|h| *h == "PID");
    let Some(pid_col) = pid_col else {
        return error(500, format!("ps {ps_args}: no PID column"));
    };
    let n = header.len();
    let mut procs = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < n {
            continue;
        }
        let Ok(pid) = fields[pid_col].parse::<i32>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        let mut row: Vec<String> = fields[..n - 1].iter().map(|s| s.to_string()).collect();
        row.push(fields[n - 1..].join(" "));
        procs.push(row);
    }
    json(200, &json!({"Titles": header, "Processes": procs}))
}

/// `POST /containers/prune`: stopped containers, filtered by `label`,
/// `label!` and `until` as dockerd filters them.
async fn prune(engine: &Arc<Engine>, q: &Query) -> Response<Body> {
    let filters = match filters::parse(q, &["label", "label!", "until"]) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let until = filters
        .get("until")
        .and_then(|v| v.first())
        .map(|u| berth_engine::logs::parse_time(u).ok_or(u.clone()));
    let until = match until {
        Some(Err(u)) => return error(400, format!("invalid filter 'until={u}'")),
        Some(Ok(t)) => Some(t),
        None => None,
    };
    let mut deleted = Vec::new();
    let mut reclaimed: u64 = 0;
    for c in engine.list() {
        let label_ok = |v: &String| filters::label_matches(v, |k| c.labels_get(k));
        let keep = filters
            .get("label")
            .is_some_and(|vals| !vals.iter().all(label_ok))
            || filters
                .get("label!")
                .is_some_and(|vals| vals.iter().any(label_ok))
            || until.is_some_and(|u| humantime::parse_rfc3339(&c.created).is_ok_and(|t| t > u));
        if keep {
            continue;
        }
        if !matches!(
            c.state.status,
            Status::Exited | Status::Created | Status::Dead
        ) {
            continue;
        }
        // What its writable layer held, as dockerd counts it (SizeRw).
        let rw = berth_engine::disk_usage(&engine.container_dir(&c.id).join("upper"));
        if engine.remove(&c.id, false, false).await.is_ok() {
            deleted.push(c.id);
            reclaimed += rw;
        }
    }
    json(
        200,
        &json!({"ContainersDeleted": deleted, "SpaceReclaimed": reclaimed}),
    )
}

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A container's `NetworkSettings` as dockerd fills them: the engine's
/// record, with the sandbox (its namespace while it runs) and the default
/// bridge's endpoint repeated at the top level.
fn network_settings(
    engine: &Engine,
    c: &Container,
    version: (u32, u32),
) -> berth_models::network::NetworkSettings {
    let mut ns = c.network_settings.clone();
    let never_started = !c.is_running() && c.state.started_at.is_none();
    let mode = c.host_config.network_mode.as_str();
    for (name, ep) in ns.networks.iter_mut() {
        let user_network = engine
            .network(&ep.network_id)
            .is_ok_and(|n| n.is_user_bridge());
        // dockerd adds the short id when it connects the endpoint: at the
        // start, or at a `network connect` of a stopped container; not at
        // create (the network of NetworkMode).
        let from_create = name == mode
            || (!mode.is_empty() && !ep.network_id.is_empty() && ep.network_id.starts_with(mode));
        if version < (1, 44) {
            // Before DNSNames (API 1.44), the short id was one of the
            // aliases on a user network.
            // Once: a client may have given it (docker-compose 1.29 does).
            if ep.dns_names.take().is_some() || (never_started && user_network && !from_create) {
                let aliases = ep.aliases.get_or_insert_with(Vec::new);
                let short = c.short_id().to_string();
                if !aliases.contains(&short) {
                    aliases.push(short);
                }
            }
        }
        if never_started {
            // dockerd knows a network's id once the endpoint exists.
            ep.network_id.clear();
        }
    }
    if c.is_running() && c.state.pid > 0 {
        ns.sandbox_key = format!("/proc/{}/ns/net", c.state.pid);
        ns.sandbox_id = c.id.clone();
    }
    if let Some(ep) = ns.networks.get("bridge").cloned() {
        ns.endpoint_id = ep.endpoint_id;
        ns.gateway = ep.gateway;
        ns.ip_address = ep.ip_address;
        ns.ip_prefix_len = ep.ip_prefix_len;
        ns.ipv6_gateway = ep.ipv6_gateway;
        ns.global_ipv6_address = ep.global_ipv6_address;
        ns.global_ipv6_prefix_len = ep.global_ipv6_prefix_len;
        ns.mac_address = ep.mac_address;
    }
    ns
}

/// `GET /containers/json`'s `Ports`: each binding, and each exposed port
/// without one.
fn port_list(c: &Container) -> Vec<Value> {
    let mut out = Vec::new();
    for (key, bindings) in &c.network_settings.ports {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let private: u16 = port.parse().unwrap_or(0);
        match bindings {
            Some(list) if !list.is_empty() => {
                for b in list {
                    out.push(json!({
                        "IP": b.host_ip,
                        "PrivatePort": private,
                        "PublicPort": b.host_port.parse::<u16>().unwrap_or(0),
                        "Type": proto,
                    }));
                }
            }
            _ => out.push(json!({"PrivatePort": private, "Type": proto})),
        }
    }
    out
}

fn mounts(c: &Container) -> Vec<berth_models::container::MountPoint> {
    c.mounts
        .iter()
        .filter(|m| m.listed)
        .map(|m| m.wire())
        .collect()
}

fn state(c: &Container) -> berth_models::container::ContainerState {
    let s = &c.state;
    berth_models::container::ContainerState {
        status: s.status.as_str().into(),
        running: matches!(
            s.status,
            Status::Running | Status::Paused | Status::Restarting
        ),
        paused: s.status == Status::Paused,
        restarting: s.status == Status::Restarting,
        oom_killed: s.oom_killed,
        dead: s.status == Status::Dead,
        pid: s.pid,
        exit_code: s.exit_code,
        error: s.error.clone(),
        started_at: s.started_at.as_deref().unwrap_or(ZERO_TIME).into(),
        finished_at: s.finished_at.as_deref().unwrap_or(ZERO_TIME).into(),
        health: s.health.clone(),
    }
}

/// `GET /containers/{id}/json`.
pub fn inspect(
    engine: &Engine,
    c: &Container,
    _size: bool,
    version: (u32, u32),
) -> ContainerInspect {
    let dir = engine.container_dir(&c.id);
    let bundle = engine.bundle_dir(&c.id);
    let path = |p: std::path::PathBuf| p.display().to_string();
    let mut config = c.config.clone();
    // dockerd shows `{}` for a container without labels.
    config.labels.get_or_insert_with(Default::default);
    ContainerInspect {
        id: c.id.clone(),
        created: c.created.clone(),
        path: c.path.clone(),
        args: c.args.clone(),
        state: state(c),
        image: c.image.clone(),
        resolv_conf_path: path(bundle.join("resolv.conf")),
        hostname_path: path(bundle.join("hostname")),
        hosts_path: path(bundle.join("hosts")),
        log_path: path(engine.log_path(&c.id)),
        name: format!("/{}", c.name),
        restart_count: c.restart_count,
        driver: "overlay2".into(),
        platform: "linux".into(),
        mount_label: String::new(),
        process_label: String::new(),
        app_armor_profile: String::new(),
        exec_ids: engine.exec_ids(&c.id),
        host_config: c.host_config.clone(),
        graph_driver: berth_models::container::GraphDriver {
            name: "overlay2".into(),
            data: [
                ("UpperDir", dir.join("upper")),
                ("WorkDir", dir.join("work")),
                ("MergedDir", bundle.join("rootfs")),
            ]
            .into_iter()
            .map(|(k, p)| (k.to_string(), path(p)))
            .chain(engine.lower_dir(c).map(|l| ("LowerDir".to_string(), l)))
            .collect(),
        },
        size_rw: None,
        size_root_fs: None,
        mounts: mounts(c),
        config,
        network_settings: network_settings(engine, c, version),
    }
}

/// Docker's "Up 5 minutes" wording (go-units HumanDuration, berth-units).
pub fn human_duration(secs: u64) -> String {
    berth_units::human_duration(std::time::Duration::from_secs(secs))
}

fn since(t: Option<&str>) -> u64 {
    t.and_then(|t| humantime::parse_rfc3339(t).ok())
        .and_then(|t| std::time::SystemTime::now().duration_since(t).ok())
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn status_text(c: &Container) -> String {
    let s = &c.state;
    let health = match s.health.as_ref().map(|h| h.status.as_str()) {
        Some("starting") => " (health: starting)",
        Some("healthy") => " (healthy)",
        Some("unhealthy") => " (unhealthy)",
        _ => "",
    };
    match s.status {
        Status::Created => "Created".into(),
        Status::Running => format!(
            "Up {}{health}",
            human_duration(since(s.started_at.as_deref()))
        ),
        Status::Paused => format!(
            "Up {} (Paused)",
            human_duration(since(s.started_at.as_deref()))
        ),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            human_duration(since(s.finished_at.as_deref()))
        ),
        Status::Removing => "Removal In Progress".into(),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            s.exit_code,
            human_duration(since(s.finished_at.as_deref()))
        ),
        Status::Dead => "Dead".into(),
    }
}

pub(crate) fn unix_secs(t: &str) -> i64 {
    humantime::parse_rfc3339(t)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// `GET /containers/json` with docker's filters.
fn list(engine: &Engine, q: &Query, version: (u32, u32)) -> Response<Body> {
    let all = truthy(q, "all");
    const ALLOWED: &[&str] = &[
        "id", "name", "label", "status", "exited", "ancestor", "before", "since", "health",
        "network", "volume", "is-task", "publish", "expose",
    ];
    let wanted = match filters::parse(q, ALLOWED) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    for s in wanted.get("status").into_iter().flatten() {
        if ![
            "created",
            "restarting",
            "running",
            "removing",
            "paused",
            "exited",
            "dead",
        ]
        .contains(&s.as_str())
        {
            return error(400, format!("invalid filter 'status={s}'"));
        }
    }
    let containers = engine.list();
    let created_of = |name: &str| engine.get(name).ok().map(|c| c.created);
    let before = wanted
        .get("before")
        .and_then(|v| v.first())
        .and_then(|n| created_of(n));
    let since_c = wanted
        .get("since")
        .and_then(|v| v.first())
        .and_then(|n| created_of(n));
    let limit = first(q, "limit")
        .and_then(|l| l.parse::<i64>().ok())
        .filter(|l| *l > 0);
    let mut out = Vec::new();
    for c in containers {
        let any = |k: &str, f: &dyn Fn(&str) -> bool| {
            wanted.get(k).is_none_or(|vals| vals.iter().any(|v| f(v)))
        };
        let has_status_filter = wanted.contains_key("status") || wanted.contains_key("exited");
        if !all && !has_status_filter && !c.is_running() && limit.is_none() {
            continue;
        }
        let labels = c.config.labels.clone().unwrap_or_default();
        let binds: Vec<&str> = c
            .host_config
            .binds
            .iter()
            .flatten()
            .flat_map(|b| b.split(':').take(2))
            .collect();
        let ok = any("id", &|v| c.id.starts_with(v))
            && any("name", &|v| c.name.contains(v.trim_start_matches('/')))
            && wanted.get("label").is_none_or(|vals| {
                vals.iter().all(|v| filters::label_matches(v, |k| c.labels_get(k)))
            })
            // No ports are published and no container is a swarm task yet;
            // volumes are host binds.
            && any("volume", &|v| binds.contains(&v))
            && any("expose", &|v| c.config.exposed_ports.as_ref().is_some_and(|p| p.contains_key(v) || p.contains_key(&format!("{v}/tcp"))))
            && any("publish", &|v| {
                let key = if v.contains('/') { v.to_string() } else { format!("{v}/tcp") };
                c.network_settings.ports.get(&key).is_some_and(|b| b.is_some())
            })
            && any("is-task", &|v| v == "false")
            && any("status", &|v| v == c.state.status.as_str())
            && any("exited", &|v| {
                c.state.status == Status::Exited && v.parse() == Ok(c.state.exit_code)
            })
            && any("ancestor", &|v| {
                v == c.config.image
                    || c.image.starts_with(v)
                    || c.image == format!("sha256:{v}")
                    || engine
                        .images
                        .resolve(v)
                        .is_ok_and(|r| r.id.to_string() == c.image)
            })
            && any("health", &|v| {
                let h = c
                    .state
                    .health
                    .as_ref()
                    .map_or("none", |h| h.status.as_str());
                v == h
            })
            // A network's name or id, as dockerd matches it.
            && any("network", &|v| {
                c.network_settings
                    .networks
                    .iter()
                    .any(|(name, ep)| name == v || (!v.is_empty() && ep.network_id.starts_with(v)))
            })
            && before.as_ref().is_none_or(|b| c.created < *b)
            && since_c.as_ref().is_none_or(|s| c.created > *s);
        if !ok {
            continue;
        }
        let mut command = c.path.clone();
        for a in &c.args {
            command.push(' ');
            command.push_str(a);
        }
        let net = network_settings(engine, &c, version);
        out.push(json!({
            "Id": c.id,
            "Names": [format!("/{}", c.name)],
            "Image": if c.config.image.is_empty() { &c.image } else { &c.config.image },
            "ImageID": c.image,
            "Command": command,
            "Created": unix_secs(&c.created),
            "Ports": port_list(&c),
            "Labels": labels,
            "State": c.state.status.as_str(),
            "Status": status_text(&c),
            "HostConfig": {"NetworkMode": if c.host_config.network_mode.is_empty() { "default" } else { c.host_config.network_mode.as_str() }},
            "NetworkSettings": {"Networks": net.networks},
            "Mounts": mounts(&c),
        }));
        if limit.is_some_and(|l| out.len() as i64 >= l) {
            break;
        }
    }
    json(200, &Value::Array(out))
}

#[cfg(test)]
mod null_tests {
    use super::*;

    #[test]
    fn nulls_read_as_absent_as_go_reads_them() {
        let v = serde_json::json!({"Image": "x", "Healthcheck": {"Test": ["CMD", "true"], "Timeout": null, "Retries": null}, "Labels": null});
        let c: Config = typed(v, "").unwrap();
        let h = c.healthcheck.unwrap();
        assert_eq!((h.timeout, h.retries), (0, 0));
        assert_eq!(c.labels, None);
        // A wrong type is still an error naming the field.
        let bad = serde_json::json!({"Healthcheck": {"Timeout": "soon"}});
        assert!(
            typed::<Config>(bad, "")
                .unwrap_err()
                .contains("Healthcheck.Timeout")
        );
    }
}
