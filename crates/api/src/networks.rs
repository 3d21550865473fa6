//! The network endpoints: create, list, inspect, remove, connect,
//! disconnect, prune. Every call goes to the engine (berth-engine's
//! networks.rs); this module decodes the request and sends berth-models'
//! wire types.

use std::sync::Arc;

use berth_engine::Engine;
use berth_engine::networks::NetworkFilters;
use berth_models::network::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use crate::containers::read_json;
use crate::filters::Filters;
use crate::images::blocking;
use crate::routes::Query;
use crate::{Body, error, typed};

/// `/networks` and `/networks/...`, after the router matched the prefix.
pub async fn route(
    engine: Arc<Engine>,
    req: Request<Incoming>,
    method: Method,
    path: &str,
    q: &Query,
) -> Response<Body> {
    let rest = path.strip_prefix("/networks/").unwrap_or("").to_string();
    match (method, path) {
        (Method::GET, "/networks") => {
            let f = match filters(
                q,
                &[
                    "dangling", "driver", "id", "label", "label!", "name", "scope", "type",
                ],
            ) {
                Ok(f) => f,
                Err(r) => return *r,
            };
            blocking(engine, move |e| Ok(typed(200, &e.network_list(&f)?))).await
        }
        (Method::POST, "/networks/create") => {
            let body: NetworkCreateRequest = match read_json(req).await {
                Ok(o) => o,
                Err(r) => return r,
            };
            blocking(engine, move |e| Ok(typed(201, &e.network_create(body)?))).await
        }
        (Method::POST, "/networks/prune") => {
            let f = match filters(q, &["until", "label", "label!"]) {
                Ok(f) => f,
                Err(r) => return *r,
            };
            blocking(engine, move |e| Ok(typed(200, &e.network_prune(&f)?))).await
        }
        (Method::POST, _) if rest.ends_with("/connect") => {
            let id = rest.trim_end_matches("/connect").to_string();
            let body: NetworkConnectRequest = match read_json(req).await {
                Ok(o) => o,
                Err(r) => return r,
            };
            match engine.network_connect(&id, body).await {
                Ok(()) => crate::empty(200),
                Err(e) => crate::containers::engine_error(e),
            }
        }
        (Method::POST, _) if rest.ends_with("/disconnect") => {
            let id = rest.trim_end_matches("/disconnect").to_string();
            let body: NetworkDisconnectRequest = match read_json(req).await {
                Ok(o) => o,
                Err(r) => return r,
            };
            match engine.network_disconnect(&id, body).await {
                Ok(()) => crate::empty(200),
                Err(e) => crate::containers::engine_error(e),
            }
        }
        (Method::GET, _) if !rest.is_empty() && !rest.contains('/') => {
            blocking(engine, move |e| Ok(typed(200, &e.network_inspect(&rest)?))).await
        }
        (Method::DELETE, _) if !rest.is_empty() && !rest.contains('/') => {
            blocking(engine, move |e| {
                e.network_remove(&rest)?;
                Ok(crate::empty(204))
            })
            .await
        }
        (m, p) => error(404, format!("page not found: {m} {p}")),
    }
}

fn filters(q: &Query, allowed: &[&str]) -> Result<NetworkFilters, Box<Response<Body>>> {
    let raw = crate::filters::parse(q, allowed)?;
    crate::filters::check_bool(&raw, "dangling")?;
    for t in raw.get("type").into_iter().flatten() {
        if !matches!(t.as_str(), "builtin" | "custom") {
            return Err(Box::new(error(
                400,
                format!("invalid filter: 'type'='{t}'"),
            )));
        }
    }
    for s in raw.get("scope").into_iter().flatten() {
        if !matches!(s.as_str(), "local" | "global" | "swarm") {
            return Err(Box::new(error(
                400,
                format!("invalid filter: 'scope'='{s}'"),
            )));
        }
    }
    Ok(network_filters(raw))
}

fn network_filters(mut raw: Filters) -> NetworkFilters {
    let mut take = |k: &str| raw.remove(k).unwrap_or_default();
    let scope = take("scope");
    NetworkFilters {
        dangling: take("dangling").first().map(|v| v == "true" || v == "1"),
        driver: take("driver"),
        id: take("id"),
        label: take("label"),
        label_not: take("label!"),
        name: take("name"),
        kind: take("type"),
        // Every berth network is local.
        until: take("until").first().map(|u| until_time(u)),
        only_none: !scope.is_empty() && !scope.iter().any(|s| s == "local"),
    }
}

/// Prune's `until`: an RFC 3339 time, a Unix timestamp or a duration ago
/// (`24h`), as dockerd takes it; turned into RFC 3339 for comparison.
fn until_time(u: &str) -> String {
    let now = std::time::SystemTime::now();
    let t = if let Ok(secs) = u.parse::<f64>() {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs.max(0.0))
    } else if let Ok(d) = humantime::parse_duration(u) {
        now.checked_sub(d).unwrap_or(std::time::UNIX_EPOCH)
    } else {
        return u.to_string();
    };
    humantime::format_rfc3339_nanos(t).to_string()
}
