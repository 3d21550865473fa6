//! Secrets and configs in a service's containers, as docker compose puts
//! them there: one from a file is bind-mounted read-only; one from an
//! environment variable or inline content is copied in after the create
//! (a tar through `PUT /containers/{id}/archive`), at `/run/secrets/<name>`
//! for a secret and `/<name>` for a config unless a target is given.

use anyhow::{Context, Result, bail};
use berth_client::{Engine, RequestBody};
use serde_json::{Value, json};

use crate::model::{FileObject, FileRef, Project, Service};

/// Where a reference lands in the container.
fn target(r: &FileRef, secret: bool) -> String {
    match &r.target {
        Some(t) if t.starts_with('/') => t.clone(),
        Some(t) if secret => format!("/run/secrets/{t}"),
        Some(t) => format!("/{t}"),
        None if secret => format!("/run/secrets/{}", r.source),
        None => format!("/{}", r.source),
    }
}

/// Each reference of the service with its object and kind.
fn refs<'a>(
    project: &'a Project,
    service: &'a Service,
) -> Result<Vec<(&'a FileRef, &'a FileObject, bool)>> {
    let mut out = Vec::new();
    for (list, objects, secret) in [
        (&service.secrets, &project.secrets, true),
        (&service.configs, &project.configs, false),
    ] {
        for r in list {
            let Some(o) = objects.get(&r.source) else {
                bail!(
                    "{} {} is not declared in the project",
                    if secret { "secret" } else { "config" },
                    r.source
                );
            };
            if o.external {
                bail!(
                    "external {} {} (a swarm object) is not supported by berth",
                    if secret { "secret" } else { "config" },
                    r.source
                );
            }
            out.push((r, o, secret));
        }
    }
    Ok(out)
}

/// The read-only bind mounts of the file-based references.
pub fn mounts(project: &Project, service: &Service) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for (r, o, secret) in refs(project, service)? {
        if let Some(file) = &o.file {
            if r.uid.is_some() || r.gid.is_some() || r.mode.is_some() {
                bail!(
                    "{}: uid, gid and mode need the content copied in; give the {} as `environment:` or `content:`, or drop them",
                    r.source,
                    if secret { "secret" } else { "config" }
                );
            }
            out.push(json!({
                "Type": "bind",
                "Source": file.display().to_string(),
                "Target": target(r, secret),
                "ReadOnly": true,
            }));
        }
    }
    Ok(out)
}

/// Copies the content-based references into container `id`.
pub async fn copy_in(
    e: &Engine,
    project: &Project,
    service: &Service,
    id: &str,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    for (r, o, secret) in refs(project, service)? {
        if o.file.is_some() {
            continue;
        }
        let content = match (&o.content, &o.environment) {
            (Some(c), _) => c.clone(),
            (None, Some(var)) => env
                .get(var)
                .cloned()
                .with_context(|| format!("{}: environment variable {var} is not set", r.source))?,
            (None, None) => bail!("{} has no file, environment or content", r.source),
        };
        let path = target(r, secret);
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(r.mode.unwrap_or(0o444));
        h.set_uid(r.uid.as_deref().and_then(|u| u.parse().ok()).unwrap_or(0));
        h.set_gid(r.gid.as_deref().and_then(|g| g.parse().ok()).unwrap_or(0));
        h.set_mtime(0);
        let mut tar = tar::Builder::new(Vec::new());
        tar.append_data(&mut h, path.trim_start_matches('/'), content.as_bytes())?;
        let bytes = tar.into_inner()?;
        let q = format!("/containers/{id}/archive?path=/");
        let headers = [("Content-Type", "application/x-tar".to_string())];
        let mut resp = e
            .stream_with(
                "PUT",
                &q,
                &headers,
                RequestBody::Stream(Box::new(std::io::Cursor::new(bytes))),
            )
            .await
            .with_context(|| format!("copying {path} into {id}"))?;
        while resp.next().await?.is_some() {}
    }
    Ok(())
}
