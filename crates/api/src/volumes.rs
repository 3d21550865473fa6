//! The volume endpoints: create, list, inspect, remove, prune. Every call
//! goes to the engine (berth-engine's volumes.rs); this module decodes the
//! request and sends berth-models' wire types.

use std::sync::Arc;

use berth_engine::Engine;
use berth_engine::volumes::VolumeFilters;
use berth_models::volume::VolumeCreateOptions;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use crate::containers::read_json;
use crate::filters::Filters;
use crate::images::blocking;
use crate::routes::{Query, truthy};
use crate::{Body, error, typed};

/// `/volumes` and `/volumes/...`, after the router matched the prefix.
/// `version` is the API version the client asked for: prune's meaning
/// changed in 1.42.
pub async fn route(
    engine: Arc<Engine>,
    req: Request<Incoming>,
    method: Method,
    path: &str,
    q: &Query,
    version: (u32, u32),
) -> Response<Body> {
    let name = path.strip_prefix("/volumes/").unwrap_or("").to_string();
    match (method, path) {
        (Method::GET, "/volumes") => {
            let f = match filters(q, &["dangling", "driver", "label", "label!", "name"]) {
                Ok(f) => f,
                Err(r) => return *r,
            };
            blocking(engine, move |e| Ok(typed(200, &e.volume_list(&f)?))).await
        }
        (Method::POST, "/volumes/create") => {
            let opts: VolumeCreateOptions = match read_json(req).await {
                Ok(o) => o,
                Err(r) => return r,
            };
            blocking(engine, move |e| Ok(typed(201, &e.volume_create(opts)?))).await
        }
        (Method::POST, "/volumes/prune") => {
            // Before 1.42 every unused volume went; since, only anonymous
            // ones unless `all=true` asks for the named ones too.
            let new_api = version >= (1, 42);
            let allowed: &[&str] = if new_api {
                &["label", "label!", "all"]
            } else {
                &["label", "label!"]
            };
            let (f, all) = match crate::filters::parse(q, allowed) {
                Ok(raw) => match prune_all(&raw) {
                    Ok(all) => (volume_filters(raw), all || !new_api),
                    Err(msg) => return error(400, msg),
                },
                Err(r) => return *r,
            };
            blocking(engine, move |e| Ok(typed(200, &e.volume_prune(&f, all)?))).await
        }
        (Method::GET, _) if !name.is_empty() => {
            blocking(engine, move |e| Ok(typed(200, &e.volume_inspect(&name)?))).await
        }
        (Method::DELETE, _) if !name.is_empty() => {
            let force = truthy(q, "force");
            blocking(engine, move |e| {
                e.volume_remove(&name, force)?;
                Ok(crate::empty(204))
            })
            .await
        }
        (Method::PUT, _) if !name.is_empty() => error(
            400,
            "updating a volume is for cluster volumes, which need swarm: berth does not have it",
        ),
        (m, p) => error(404, format!("page not found: {m} {p}")),
    }
}

fn filters(q: &Query, allowed: &[&str]) -> Result<VolumeFilters, Box<Response<Body>>> {
    let raw = crate::filters::parse(q, allowed)?;
    crate::filters::check_bool(&raw, "dangling")?;
    Ok(volume_filters(raw))
}

fn volume_filters(mut raw: Filters) -> VolumeFilters {
    let mut take = |k: &str| raw.remove(k).unwrap_or_default();
    VolumeFilters {
        dangling: take("dangling").first().map(|v| v == "true" || v == "1"),
        driver: take("driver"),
        label: take("label"),
        label_not: take("label!"),
        name: take("name"),
    }
}

/// Prune's `all` filter: `true`/`1` or `false`/`0`.
fn prune_all(raw: &Filters) -> Result<bool, String> {
    match raw.get("all").and_then(|v| v.first()).map(String::as_str) {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(format!("invalid filter 'all={other}'")),
    }
}
