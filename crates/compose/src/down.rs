//! `compose down`, `stop`, `start`, `restart`, `rm`, `kill`: what the
//! project's labels find, stopped and removed, networks too, volumes and
//! images when asked.

use anyhow::{Context, Result};
use berth_client::{Engine, status_of, urlencode};

use crate::model::Project;
use crate::{engine, labels, spec};

#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    pub volumes: bool,
    /// `--rmi all|local`.
    pub rmi: Option<String>,
    pub remove_orphans: bool,
    pub timeout: Option<i64>,
}

fn say(kind: &str, name: &str, what: &str) {
    eprintln!(" ✔ {kind} {name}  {what}");
}

fn name_of(c: &serde_json::Value) -> String {
    c["Names"][0]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string()
}

pub async fn down(e: &Engine, project: &Project, opts: &DownOptions) -> Result<()> {
    // Dependents first: the reverse of up's order.
    let order = crate::up::order(project, &[], true)?;
    let mut containers = engine::containers(e, &project.name, None).await?;
    containers.sort_by_key(|c| {
        let svc = c["Labels"][labels::SERVICE]
            .as_str()
            .unwrap_or_default()
            .to_string();
        std::cmp::Reverse(order.iter().position(|s| *s == svc).unwrap_or(usize::MAX))
    });
    containers.retain(|c| {
        let svc = c["Labels"][labels::SERVICE].as_str().unwrap_or_default();
        opts.remove_orphans
            || project.services.contains_key(svc)
            || project.disabled.contains_key(svc)
    });
    // A service's containers go together (their stop timeouts overlap);
    // services one after the other, dependents first.
    for group in
        containers.chunk_by(|a, b| a["Labels"][labels::SERVICE] == b["Labels"][labels::SERVICE])
    {
        let stops = group.iter().map(|c| async move {
            let id = c["Id"].as_str().unwrap_or_default();
            engine::stop(e, id, opts.timeout).await?;
            engine::remove(e, id, opts.volumes).await?;
            say("Container", &name_of(c), "Removed");
            anyhow::Ok(())
        });
        for r in futures_util::future::join_all(stops).await {
            r?;
        }
    }
    let q = urlencode(&labels::filter(&[(labels::PROJECT, &project.name)]));
    let nets = e.get_json(&format!("/networks?filters={q}")).await?;
    for n in nets.as_array().into_iter().flatten() {
        let name = n["Name"].as_str().unwrap_or_default();
        match e.call("DELETE", &format!("/networks/{name}"), None).await {
            Ok(_) => say("Network", name, "Removed"),
            Err(err) if status_of(&err) == Some(404) => {}
            Err(err) => return Err(err.context(format!("removing network {name}"))),
        }
    }
    if opts.volumes {
        let vols = e.get_json(&format!("/volumes?filters={q}")).await?;
        for v in vols["Volumes"].as_array().into_iter().flatten() {
            let name = v["Name"].as_str().unwrap_or_default();
            match e.call("DELETE", &format!("/volumes/{name}"), None).await {
                Ok(_) => say("Volume", name, "Removed"),
                Err(err) if status_of(&err) == Some(404) => {}
                Err(err) => return Err(err.context(format!("removing volume {name}"))),
            }
        }
    }
    if let Some(rmi) = &opts.rmi {
        for (name, s) in &project.services {
            // `local`: only images compose named itself (no `image:`).
            if rmi == "local" && s.image.is_some() {
                continue;
            }
            let image = spec::image_name(project, name, s);
            match e.call("DELETE", &format!("/images/{image}"), None).await {
                Ok(_) => say("Image", &image, "Removed"),
                Err(err) if status_of(&err) == Some(404) => {}
                Err(err) => return Err(err.context(format!("removing image {image}"))),
            }
        }
    }
    Ok(())
}

/// `stop`, `start`, `restart`, `kill`, `rm` on the selected containers.
pub async fn each(
    e: &Engine,
    project: &Project,
    services: &[String],
    verb: &str,
    arg: Option<&str>,
) -> Result<()> {
    for c in engine::of_services(e, &project.name, services).await? {
        let id = c["Id"].as_str().unwrap_or_default();
        let name = name_of(&c);
        match verb {
            "stop" => {
                engine::stop(e, id, arg.and_then(|t| t.parse().ok())).await?;
                say("Container", &name, "Stopped");
            }
            "start" => {
                engine::start(e, id).await?;
                say("Container", &name, "Started");
            }
            "restart" => {
                let t = arg.map(|t| format!("?t={t}")).unwrap_or_default();
                e.call("POST", &format!("/containers/{id}/restart{t}"), None)
                    .await
                    .with_context(|| format!("restarting {name}"))?;
                say("Container", &name, "Started");
            }
            "kill" => {
                let s = arg.unwrap_or("SIGKILL");
                e.call(
                    "POST",
                    &format!("/containers/{id}/kill?signal={}", urlencode(s)),
                    None,
                )
                .await
                .with_context(|| format!("killing {name}"))?;
                say("Container", &name, "Killed");
            }
            "rm" => {
                if c["State"].as_str() == Some("running") {
                    continue;
                }
                engine::remove(e, id, arg == Some("volumes")).await?;
                say("Container", &name, "Removed");
            }
            other => unreachable!("no verb {other}"),
        }
    }
    Ok(())
}
