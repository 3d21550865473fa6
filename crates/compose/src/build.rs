//! `compose build`, and the builds `up` makes: each service with `build:`
//! sent to `POST /build` with its context packed as docker's CLI packs it,
//! the engine's output printed as it comes.

use anyhow::{Context, Result, bail};
use berth_client::build_context;
use berth_client::{Engine, RequestBody, urlencode};
use serde_json::{Value, json};

use crate::model::{Build, Project};
use crate::spec;

fn query(tag: &str, b: &Build) -> String {
    let mut q: Vec<(String, String)> = vec![("t".into(), tag.into())];
    q.push((
        "dockerfile".into(),
        b.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into()),
    ));
    if !b.args.is_empty() {
        q.push(("buildargs".into(), json!(b.args).to_string()));
    }
    if !b.labels.is_empty() {
        q.push(("labels".into(), json!(b.labels).to_string()));
    }
    if let Some(t) = &b.target {
        q.push(("target".into(), t.clone()));
    }
    if !b.cache_from.is_empty() {
        q.push(("cachefrom".into(), json!(b.cache_from).to_string()));
    }
    if let Some(n) = &b.network {
        q.push(("networkmode".into(), n.clone()));
    }
    if !b.extra_hosts.is_empty() {
        q.push(("extrahosts".into(), b.extra_hosts.join(",")));
    }
    if let Some(s) = b.shm_size {
        q.push(("shmsize".into(), s.to_string()));
    }
    if b.no_cache {
        q.push(("nocache".into(), "1".into()));
    }
    if b.pull {
        q.push(("pull".into(), "1".into()));
    }
    q.iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Builds service `name`'s image; returns its id.
pub async fn build(e: &Engine, project: &Project, name: &str, no_cache: bool) -> Result<String> {
    let service = &project.services[name];
    let Some(b) = &service.build else {
        bail!("service {name} has no build section");
    };
    let mut b = b.clone();
    b.no_cache |= no_cache;
    let tag = spec::image_name(project, name, service);
    let mut tar = Vec::new();
    match &b.dockerfile_inline {
        Some(text) => {
            let inline = ".berth-dockerfile-inline";
            build_context::write_context(
                Some(&b.context),
                &[],
                Some((inline, text.as_bytes())),
                &mut tar,
            )?;
            b.dockerfile = Some(inline.into());
        }
        None => {
            let keep = b.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into());
            build_context::write_context(Some(&b.context), &[&keep], None, &mut tar).with_context(
                || format!("service {name}: the build context {}", b.context.display()),
            )?;
        }
    }
    eprintln!("[+] Building {name} ({tag})");
    let path = format!("/build?{}", query(&tag, &b));
    let body = RequestBody::Stream(Box::new(std::io::Cursor::new(tar)));
    let headers = [("Content-Type", "application/x-tar".to_string())];
    let mut resp = e.stream_with("POST", &path, &headers, body).await?;
    let mut pending = Vec::new();
    let mut id = None;
    while let Some(chunk) = resp.next().await? {
        pending.extend_from_slice(chunk);
        while let Some(nl) = pending.iter().position(|&c| c == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            if let Some(found) = message(name, &line)? {
                id = Some(found);
            }
        }
    }
    if let Some(found) = message(name, &pending)? {
        id = Some(found);
    }
    id.ok_or_else(|| {
        anyhow::anyhow!("service {name}: the engine reported no image id for the build")
    })
}

/// Prints one message of the build's stream; the image id when it is the
/// `aux` one; an error message is the error.
fn message(service: &str, line: &[u8]) -> Result<Option<String>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let m: Value = serde_json::from_slice(line).context("the engine sent a bad build message")?;
    if let Some(err) = m["errorDetail"]["message"].as_str().or(m["error"].as_str()) {
        bail!("service {service}: failed to build: {err}");
    }
    if let Some(id) = m["aux"]["ID"].as_str() {
        return Ok(Some(id.to_string()));
    }
    if let Some(s) = m["stream"].as_str() {
        eprint!("{s}");
    } else if let Some(s) = m["status"].as_str() {
        eprintln!("{s}");
    }
    Ok(None)
}
