//! Pulls through `POST /images/create`, progress reduced to a line per
//! image.

use anyhow::{Result, bail};
use berth_client::{Engine, RequestBody, urlencode};

pub async fn pull(e: &Engine, image: &str) -> Result<()> {
    let (repo, tag) = match image.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (image, "latest"),
    };
    eprintln!(" ⠿ {image} Pulling");
    let path = format!(
        "/images/create?fromImage={}&tag={}",
        urlencode(repo),
        urlencode(tag)
    );
    let mut body = e
        .stream_with("POST", &path, &[], RequestBody::Empty)
        .await?;
    let mut all = Vec::new();
    while let Some(chunk) = body.next().await? {
        all.extend_from_slice(chunk);
    }
    for line in all.split(|&b| b == b'\n') {
        if let Ok(m) = serde_json::from_slice::<serde_json::Value>(line)
            && let Some(err) = m["errorDetail"]["message"].as_str().or(m["error"].as_str())
        {
            bail!("pulling {image}: {err}");
        }
    }
    eprintln!(" ✔ {image} Pulled");
    Ok(())
}

/// Pushes `image` through `POST /images/{name}/push`, with the client's
/// stored credentials for its registry when there are some.
pub async fn push(e: &Engine, image: &str) -> Result<()> {
    let (repo, tag) = match image.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (image, "latest"),
    };
    eprintln!(" ⠿ {image} Pushing");
    let path = format!("/images/{repo}/push?tag={}", urlencode(tag));
    // An empty auth object: the engine uses what it has (anonymous, or a
    // registry on loopback).
    let headers = [("X-Registry-Auth", "e30=".to_string())];
    let mut body = e
        .stream_with("POST", &path, &headers, RequestBody::Empty)
        .await?;
    let mut all = Vec::new();
    while let Some(chunk) = body.next().await? {
        all.extend_from_slice(chunk);
    }
    for line in all.split(|&b| b == b'\n') {
        if let Ok(m) = serde_json::from_slice::<serde_json::Value>(line)
            && let Some(err) = m["errorDetail"]["message"].as_str().or(m["error"].as_str())
        {
            bail!("pushing {image}: {err}");
        }
    }
    eprintln!(" ✔ {image} Pushed");
    Ok(())
}
