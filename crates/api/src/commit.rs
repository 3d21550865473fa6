//! `POST /commit`: a container's changes as a new image.

use std::sync::Arc;

use berth_engine::Engine;
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{Value, json};

use crate::containers::{engine_error, read_json};
use crate::routes::{Query, first};
use crate::{Body, error};

pub async fn commit(engine: Arc<Engine>, req: Request<Incoming>, q: &Query) -> Response<Body> {
    let Some(container) = first(q, "container").map(str::to_string) else {
        return error(400, "container is required");
    };
    let tag = crate::images::repo_tag(q);
    let comment = first(q, "comment").unwrap_or("").to_string();
    let author = first(q, "author").unwrap_or("").to_string();
    let changes: Vec<String> = q
        .get("changes")
        .into_iter()
        .flatten()
        .flat_map(|c| c.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|c| !c.trim().is_empty())
        .collect();
    let config: Value = match read_json(req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let config = config
        .as_object()
        .filter(|o| !o.is_empty())
        .map(|_| config.clone());
    let res = tokio::task::spawn_blocking(move || {
        engine.commit(
            &container,
            tag.as_deref(),
            &comment,
            &author,
            &changes,
            config,
        )
    })
    .await;
    match res {
        Ok(Ok(id)) => crate::json(201, &json!({"Id": id})),
        Ok(Err(e)) => engine_error(e),
        Err(e) => error(500, e),
    }
}
