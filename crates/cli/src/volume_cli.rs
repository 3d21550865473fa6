//! The volume verbs: `volume create`, `ls`, `inspect`, `rm`, `prune`, each
//! an Engine API call, so they drive berth's daemon and dockerd alike.
//! Flags, columns and exit codes follow docker's CLI.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Result, bail};
use berth_client::models::volume::{Volume, VolumeListResponse, VolumePruneResponse};
use berth_client::{Engine, status_of};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::container_cli::format as fmt;
use crate::container_cli::gotypes::Kind;
use crate::container_cli::system::{confirm, filters_query};

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume.
    Create(Create),
    /// List volumes.
    #[command(visible_alias = "list")]
    Ls(Ls),
    /// Display detailed information on one or more volumes.
    Inspect(Inspect),
    /// Remove one or more volumes.
    #[command(visible_alias = "remove")]
    Rm(Rm),
    /// Remove unused local volumes.
    Prune(Prune),
}

#[derive(Args, Debug)]
pub struct Create {
    /// Specify volume driver name.
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume (key=value).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Set driver specific options (key=value).
    #[arg(short = 'o', long = "opt")]
    pub opts: Vec<String>,
    /// Specify volume name (the positional argument is the same).
    #[arg(long, hide = true)]
    pub name: Option<String>,
    pub volume: Option<String>,
}

#[derive(Args, Debug)]
pub struct Ls {
    /// Provide filter values (e.g. 'dangling=true').
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print volumes using a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Only display volume names.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct Inspect {
    /// Format the output using the given Go template.
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub volumes: Vec<String>,
}

#[derive(Args, Debug)]
pub struct Rm {
    /// Force the removal of one or more volumes.
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub volumes: Vec<String>,
}

#[derive(Args, Debug)]
pub struct Prune {
    /// Remove all unused volumes, not just anonymous ones.
    #[arg(short, long)]
    pub all: bool,
    /// Provide filter values (e.g. 'label=<label>').
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

pub async fn dispatch(e: &Engine, c: VolumeCommand) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    match c {
        VolumeCommand::Create(c) => create(e, &c, &mut out).await,
        VolumeCommand::Ls(c) => ls(e, &c, &mut out).await,
        VolumeCommand::Inspect(c) => inspect(e, &c, &mut out).await,
        VolumeCommand::Rm(c) => rm(e, &c, &mut out).await,
        VolumeCommand::Prune(c) => prune(e, &c, &mut out).await,
    }
}

/// `k=v` flags as a map; a bare `k` is `k=""`, as docker's opts do.
pub(crate) fn key_values(list: &[String]) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.clone(), String::new()),
        })
        .collect()
}

async fn create(e: &Engine, c: &Create, out: &mut dyn Write) -> Result<i32> {
    let name = match (&c.name, &c.volume) {
        (Some(a), Some(b)) if a != b => {
            bail!("conflicting options: either specify --name or provide positional arg, not both")
        }
        (a, b) => a.clone().or_else(|| b.clone()).unwrap_or_default(),
    };
    let body = json!({
        "Name": name,
        "Driver": c.driver,
        "DriverOpts": key_values(&c.opts),
        "Labels": key_values(&c.labels),
    });
    let v: Volume = serde_json::from_value(e.post_json("/volumes/create", &body).await?)?;
    writeln!(out, "{}", v.name)?;
    Ok(0)
}

async fn ls(e: &Engine, c: &Ls, out: &mut dyn Write) -> Result<i32> {
    let path = format!("/volumes{}", filters_query(&c.filter)?);
    let list: VolumeListResponse = serde_json::from_value(e.get_json(&path).await?)?;
    for w in list.warnings.iter().flatten() {
        eprintln!("{w}");
    }
    let mut volumes = list.volumes;
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    if c.quiet {
        for v in &volumes {
            writeln!(out, "{}", v.name)?;
        }
        return Ok(0);
    }
    let format = match c.format.as_deref() {
        None | Some("") | Some("table") => "table {{.Driver}}\t{{.Name}}",
        Some(f) => f,
    };
    let rows: Vec<fmt::ContextRow> = volumes
        .iter()
        .map(|v| {
            Ok(fmt::ContextRow {
                fields: row(v),
                labels: Some(serde_json::to_value(&v.labels)?),
            })
        })
        .collect::<Result<_>>()?;
    let names = |f: &str| match f {
        "Name" => Some("VOLUME NAME"),
        _ => None,
    };
    fmt::print_context_rows(format, "*formatter.volumeContext", &rows, &names, out)
}

/// A `volume ls` row: docker's volume context's fields.
fn row(v: &Volume) -> Value {
    let labels: Vec<String> = v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let usage = v.usage_data;
    json!({
        "Name": v.name,
        "Driver": v.driver,
        "Scope": v.scope,
        "Mountpoint": v.mountpoint,
        "Labels": labels.join(","),
        "Links": usage.filter(|u| u.ref_count >= 0).map_or("N/A".into(), |u| u.ref_count.to_string()),
        "Size": usage.filter(|u| u.size >= 0).map_or("N/A".into(), |u| fmt::human_size(u.size as f64)),
        // Swarm's cluster volumes, which berth has not.
        "Group": "N/A",
        "Availability": "N/A",
        "Status": "N/A",
    })
}

async fn inspect(e: &Engine, c: &Inspect, out: &mut dyn Write) -> Result<i32> {
    let paths = c.volumes.iter().map(|name| format!("/volumes/{name}"));
    inspect_paths(e, paths, Kind::Volume, c.format.as_deref(), false, out).await
}

/// `volume inspect` and `network inspect`: as docker, the template first
/// (a bad one exits 64), each object's answer, errors after the output.
pub(crate) async fn inspect_paths(
    e: &Engine,
    paths: impl Iterator<Item = String>,
    kind: Kind,
    format: Option<&str>,
    raw_fallback: bool,
    out: &mut dyn Write,
) -> Result<i32> {
    let template = match format {
        None | Some("") | Some("json") => None,
        Some(f) => match fmt::Inspector::parse(f) {
            Ok(t) if raw_fallback => Some(t),
            Ok(t) => Some(t.typed_only()),
            Err(msg) => {
                eprintln!("{msg}");
                return Ok(64);
            }
        },
    };
    let mut found = Vec::new();
    for path in paths {
        match e.call("GET", &path, None).await {
            Ok(raw) => found.push(Ok(raw)),
            Err(err) if status_of(&err) == Some(404) => {
                found.push(Err(format!("Error response from daemon: {err:#}")))
            }
            Err(err) => return Err(err),
        }
    }
    crate::container_cli::verbs::print_inspected(found, kind, template, out)
}

async fn rm(e: &Engine, c: &Rm, out: &mut dyn Write) -> Result<i32> {
    let mut code = 0;
    let force = if c.force { "?force=1" } else { "" };
    for name in &c.volumes {
        match e
            .call("DELETE", &format!("/volumes/{name}{force}"), None)
            .await
        {
            Ok(_) => writeln!(out, "{name}")?,
            Err(err) => {
                eprintln!("Error response from daemon: {err:#}");
                code = 1;
            }
        }
    }
    Ok(code)
}

async fn prune(e: &Engine, c: &Prune, out: &mut dyn Write) -> Result<i32> {
    let mut filters = c.filter.clone();
    if c.all {
        filters.push("all=true".into());
    }
    if !c.force {
        let warning = if c.all {
            "WARNING! This will remove all local volumes not used by at least one container."
        } else {
            "WARNING! This will remove anonymous local volumes not used by at least one container."
        };
        if !confirm(warning) {
            return Ok(0);
        }
    }
    let path = format!("/volumes/prune{}", filters_query(&filters)?);
    // No body, as docker's CLI sends none.
    let report: VolumePruneResponse = serde_json::from_slice(&e.call("POST", &path, None).await?)?;
    if !report.volumes_deleted.is_empty() {
        writeln!(out, "Deleted Volumes:")?;
        for v in &report.volumes_deleted {
            writeln!(out, "{v}")?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        fmt::human_size(report.space_reclaimed as f64)
    )?;
    Ok(0)
}
