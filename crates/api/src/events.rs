//! `GET /events`: the engine's events as a stream of JSON objects, with
//! since/until and docker's filters (type, event, container, image, label).

use std::sync::Arc;

use berth_engine::Engine;
use berth_engine::events::Event;
use bytes::Bytes;
use hyper::Response;

use crate::Body;
use crate::filters;
use crate::routes::{Query, first};

struct Filter(filters::Filters);

impl Filter {
    fn matches(&self, e: &Event) -> bool {
        let any = |k: &str, f: &dyn Fn(&str) -> bool| {
            self.0.get(k).is_none_or(|vals| vals.iter().any(|v| f(v)))
        };
        let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str).unwrap_or("");
        any("type", &|v| v == e.kind)
            && any("event", &|v| {
                v == e.action || e.action.starts_with(&format!("{v}:"))
            })
            && any("container", &|v| {
                e.kind == "container" && (e.actor.id.starts_with(v) || attr("name") == v)
            })
            && any("image", &|v| attr("image") == v || e.from == v)
            && any("scope", &|v| v == e.scope)
            // Only container events exist yet: a filter on another kind of
            // object matches none of them.
            && ["network", "volume", "daemon", "plugin", "node", "service", "secret", "config"]
                .iter()
                .all(|k| !self.0.contains_key(*k))
            && self.0.get("label").is_none_or(|vals| {
                vals.iter().all(|v| {
                    filters::label_matches(v, |k| e.actor.attributes.get(k).map(String::as_str))
                })
            })
    }
}

/// `since`/`until` in nanoseconds since the epoch.
fn time_of(s: Option<&str>) -> Option<i64> {
    let t = berth_engine::logs::parse_time(s?)?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos() as i64)
}

pub async fn events(engine: Arc<Engine>, q: &Query) -> Response<Body> {
    const ALLOWED: &[&str] = &[
        "type",
        "event",
        "container",
        "image",
        "label",
        "scope",
        "network",
        "volume",
        "daemon",
        "plugin",
        "node",
        "service",
        "secret",
        "config",
    ];
    let filters = match filters::parse(q, ALLOWED) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let filter = Filter(filters);
    let since = time_of(first(q, "since"));
    let until = time_of(first(q, "until"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as i64;
    let (past, mut rx) = engine.events.subscribe();
    let (tx, body) = crate::stream::async_channel();
    tokio::spawn(async move {
        let send = |e: &Event| {
            let mut b = serde_json::to_vec(e).expect("json serializes");
            b.push(b'\n');
            Bytes::from(b)
        };
        if let Some(since) = since {
            for e in past
                .iter()
                .filter(|e| e.time_nano >= since && until.is_none_or(|u| e.time_nano <= u))
            {
                if filter.matches(e) && tx.send(send(e)).await.is_err() {
                    return;
                }
            }
        }
        if until.is_some_and(|u| u <= now) {
            return;
        }
        let deadline = until.map(|u| std::time::Duration::from_nanos((u - now).max(0) as u64));
        let stream = async {
            loop {
                match rx.recv().await {
                    Ok(e) => {
                        if filter.matches(&e) && tx.send(send(&e)).await.is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            }
        };
        match deadline {
            Some(d) => {
                let _ = tokio::time::timeout(d, stream).await;
            }
            None => stream.await,
        }
    });
    Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .body(body)
        .expect("a valid response")
}
