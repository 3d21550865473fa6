//! The Engine API calls Compose makes, over berth-client: one place for
//! the paths and the JSON they take, so the reconciler reads as steps.
//! Names go into paths as they are, as docker's clients send them (image,
//! network and volume names are of [a-z0-9._:/@-]); query values are
//! encoded.

use anyhow::{Context, Result};
use berth_client::{Engine, status_of, urlencode};
use serde_json::{Value, json};

use crate::labels;

/// A project's containers (`oneoff`: `run`'s too), stopped ones included.
pub async fn containers(e: &Engine, project: &str, service: Option<&str>) -> Result<Vec<Value>> {
    let mut l = vec![(labels::PROJECT, project)];
    if let Some(s) = service {
        l.push((labels::SERVICE, s));
    }
    let q = urlencode(&labels::filter(&l));
    let v = e
        .get_json(&format!("/containers/json?all=1&filters={q}"))
        .await?;
    Ok(v.as_array().cloned().unwrap_or_default())
}

/// The project's containers of `services` (all when empty).
pub async fn of_services(e: &Engine, project: &str, services: &[String]) -> Result<Vec<Value>> {
    let all = containers(e, project, None).await?;
    Ok(all
        .into_iter()
        .filter(|c| {
            services.is_empty()
                || services
                    .iter()
                    .any(|s| c["Labels"][labels::SERVICE].as_str() == Some(s.as_str()))
        })
        .collect())
}

pub async fn inspect(e: &Engine, id: &str) -> Result<Value> {
    e.get_json(&format!("/containers/{id}/json")).await
}

pub async fn create(e: &Engine, name: &str, body: &Value) -> Result<String> {
    let v = e
        .post_json(
            &format!("/containers/create?name={}", urlencode(name)),
            body,
        )
        .await
        .with_context(|| format!("creating container {name}"))?;
    Ok(v["Id"].as_str().unwrap_or_default().to_string())
}

pub async fn connect(e: &Engine, network: &str, container: &str, endpoint: &Value) -> Result<()> {
    e.post_json(
        &format!("/networks/{network}/connect"),
        &json!({ "Container": container, "EndpointConfig": endpoint }),
    )
    .await
    .with_context(|| format!("connecting {container} to network {network}"))?;
    Ok(())
}

/// Starts a container; one already running is fine (304).
pub async fn start(e: &Engine, id: &str) -> Result<()> {
    match e
        .call("POST", &format!("/containers/{id}/start"), None)
        .await
    {
        Ok(_) => Ok(()),
        Err(err) if status_of(&err) == Some(304) => Ok(()),
        Err(err) => Err(err.context(format!("starting container {id}"))),
    }
}

/// Stops a container (`timeout` seconds, else its own); a stopped one is fine.
pub async fn stop(e: &Engine, id: &str, timeout: Option<i64>) -> Result<()> {
    let q = timeout.map(|t| format!("?t={t}")).unwrap_or_default();
    match e
        .call("POST", &format!("/containers/{id}/stop{q}"), None)
        .await
    {
        Ok(_) => Ok(()),
        Err(err) if matches!(status_of(&err), Some(304 | 404)) => Ok(()),
        Err(err) => Err(err.context(format!("stopping container {id}"))),
    }
}

/// SIGKILL; a container already stopped (409) or gone (404) is what the
/// kill was for.
pub async fn kill(e: &Engine, id: &str) -> Result<()> {
    match e
        .call("POST", &format!("/containers/{id}/kill"), None)
        .await
    {
        Ok(_) => Ok(()),
        Err(err) if matches!(status_of(&err), Some(404 | 409)) => Ok(()),
        Err(err) => Err(err.context(format!("killing container {id}"))),
    }
}

pub async fn remove(e: &Engine, id: &str, volumes: bool) -> Result<()> {
    let v = if volumes { "&v=1" } else { "" };
    match e
        .call("DELETE", &format!("/containers/{id}?force=1{v}"), None)
        .await
    {
        Ok(_) => Ok(()),
        Err(err) if status_of(&err) == Some(404) => Ok(()),
        Err(err) => Err(err.context(format!("removing container {id}"))),
    }
}

/// Whether the object at `path` exists (a 404 says no).
pub async fn exists(e: &Engine, path: &str) -> Result<bool> {
    match e.get_json(path).await {
        Ok(_) => Ok(true),
        Err(err) if status_of(&err) == Some(404) => Ok(false),
        Err(err) => Err(err),
    }
}

/// An image's id, if the engine has it.
pub async fn image_id(e: &Engine, name: &str) -> Result<Option<String>> {
    match e.get_json(&format!("/images/{name}/json")).await {
        Ok(v) => Ok(v["Id"].as_str().map(str::to_string)),
        Err(err) if status_of(&err) == Some(404) => Ok(None),
        Err(err) => Err(err),
    }
}
