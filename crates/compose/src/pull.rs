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
