//! `compose ps` and `compose logs`.

use std::io::Write;

use anyhow::Result;
use berth_client::Engine;
use berth_client::frames::Frames;

use crate::model::Project;
use crate::{engine, labels};

fn ports(c: &serde_json::Value) -> String {
    let mut out = Vec::new();
    for p in c["Ports"].as_array().into_iter().flatten() {
        let private = p["PrivatePort"].as_u64().unwrap_or(0);
        let proto = p["Type"].as_str().unwrap_or("tcp");
        match p["PublicPort"].as_u64() {
            Some(public) => {
                let ip = p["IP"].as_str().unwrap_or("0.0.0.0");
                let ip = if ip.contains(':') {
                    format!("[{ip}]")
                } else {
                    ip.to_string()
                };
                out.push(format!("{ip}:{public}->{private}/{proto}"));
            }
            None => out.push(format!("{private}/{proto}")),
        }
    }
    out.dedup();
    out.join(", ")
}

/// `ps`: NAME IMAGE COMMAND SERVICE CREATED STATUS PORTS, as compose v2.
pub async fn ps(
    e: &Engine,
    project: &Project,
    all: bool,
    quiet: bool,
    services: &[String],
) -> Result<()> {
    let mut list = engine::of_services(e, &project.name, services).await?;
    list.retain(|c| all || c["State"].as_str() == Some("running"));
    list.sort_by_key(|c| c["Names"][0].as_str().unwrap_or_default().to_string());
    let mut out = std::io::stdout().lock();
    if quiet {
        for c in &list {
            writeln!(out, "{}", c["Id"].as_str().unwrap_or_default())?;
        }
        return Ok(());
    }
    let rows: Vec<[String; 7]> = list
        .iter()
        .map(|c| {
            let created = c["Created"].as_i64().unwrap_or(0);
            let age = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64 - created)
                .unwrap_or(0)
                .max(0) as u64;
            [
                c["Names"][0]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                c["Image"].as_str().unwrap_or_default().to_string(),
                format!("\"{}\"", c["Command"].as_str().unwrap_or_default()),
                c["Labels"][labels::SERVICE]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                format!(
                    "{} ago",
                    berth_units::human_duration(std::time::Duration::from_secs(age))
                ),
                c["Status"].as_str().unwrap_or_default().to_string(),
                ports(c),
            ]
        })
        .collect();
    let header = [
        "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
    ];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}   ", w = widths[i]));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(&header.map(String::from)))?;
    for r in &rows {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}

const COLOURS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

/// `logs`: every selected container's log, each line prefixed with the
/// container's name (coloured on a terminal), followed with `follow`.
pub async fn logs(
    e: &Engine,
    project: &Project,
    services: &[String],
    follow: bool,
    tail: Option<&str>,
    timestamps: bool,
    report_exit: bool,
) -> Result<()> {
    use std::io::IsTerminal;
    let list = engine::of_services(e, &project.name, services).await?;
    let width = list
        .iter()
        .map(|c| c["Names"][0].as_str().unwrap_or_default().len())
        .max()
        .unwrap_or(0);
    let colour = std::io::stdout().is_terminal();
    let mut tasks = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let id = c["Id"].as_str().unwrap_or_default().to_string();
        let name = c["Names"][0]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string();
        let prefix = if colour {
            format!(
                "\x1b[{}m{name:<width$}|\x1b[0m ",
                COLOURS[i % COLOURS.len()],
                width = width
            )
        } else {
            format!("{name:<width$}| ", width = width)
        };
        let tty = engine::inspect(e, &id).await?["Config"]["Tty"]
            .as_bool()
            .unwrap_or(false);
        let mut q = format!("stdout=1&stderr=1&tail={}", tail.unwrap_or("all"));
        if follow {
            q.push_str("&follow=1");
        }
        if timestamps {
            q.push_str("&timestamps=1");
        }
        let e = e.clone();
        tasks.push(tokio::spawn(async move {
            let mut body = e
                .stream("GET", &format!("/containers/{id}/logs?{q}"))
                .await?;
            let mut frames = Frames::default();
            let mut line = Vec::new();
            while let Some(chunk) = body.next().await? {
                let pieces: Vec<Vec<u8>> = if tty {
                    vec![chunk.to_vec()]
                } else {
                    frames.feed(chunk).into_iter().map(|(_, p)| p).collect()
                };
                for p in pieces {
                    for b in p {
                        line.push(b);
                        if b == b'\n' {
                            let mut o = std::io::stdout().lock();
                            o.write_all(prefix.as_bytes())?;
                            o.write_all(&line)?;
                            o.flush()?;
                            line.clear();
                        }
                    }
                }
            }
            if !line.is_empty() {
                let mut o = std::io::stdout().lock();
                o.write_all(prefix.as_bytes())?;
                o.write_all(&line)?;
                o.write_all(b"\n")?;
            }
            // The stream of a followed log ends when its container stops.
            if report_exit {
                let state = engine::inspect(&e, &id).await?;
                let code = state["State"]["ExitCode"].as_i64().unwrap_or(0);
                writeln!(std::io::stdout().lock(), "{name} exited with code {code}")?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// `top`: each container's processes, under its name.
pub async fn top(e: &Engine, project: &Project, services: &[String]) -> Result<()> {
    let mut list = engine::of_services(e, &project.name, services).await?;
    list.retain(|c| c["State"].as_str() == Some("running"));
    list.sort_by_key(|c| c["Names"][0].as_str().unwrap_or_default().to_string());
    let mut out = std::io::stdout().lock();
    for c in list {
        let id = c["Id"].as_str().unwrap_or_default();
        let top = e.get_json(&format!("/containers/{id}/top")).await?;
        writeln!(
            out,
            "{}",
            c["Names"][0]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/')
        )?;
        let titles: Vec<&str> = top["Titles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str())
            .collect();
        writeln!(out, "{}", titles.join("\t"))?;
        for p in top["Processes"].as_array().into_iter().flatten() {
            let cells: Vec<&str> = p
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str())
                .collect();
            writeln!(out, "{}", cells.join("\t"))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// `ls`: the projects the engine's containers belong to, as compose v2
/// lists them: NAME, STATUS (`running(2), exited(1)`) and CONFIG FILES
/// (from the label `up` writes; containers made by a Compose that did not
/// write it show the project's working directory instead).
pub async fn ls(e: &Engine, opts: &LsOptions) -> Result<()> {
    let q = berth_client::urlencode(&serde_json::json!({"label": [labels::PROJECT]}).to_string());
    let list = e
        .get_json(&format!("/containers/json?all=1&filters={q}"))
        .await?;
    #[derive(Default)]
    struct Listed {
        states: std::collections::BTreeMap<String, usize>,
        files: String,
    }
    let mut projects: std::collections::BTreeMap<String, Listed> = Default::default();
    for c in list.as_array().into_iter().flatten() {
        let label = |k: &str| c["Labels"][k].as_str().unwrap_or_default().to_string();
        let name = label(labels::PROJECT);
        if !opts.names.is_empty() && !opts.names.contains(&name) {
            continue;
        }
        let entry = projects.entry(name).or_default();
        if entry.files.is_empty() {
            entry.files = match label(labels::CONFIG_FILES) {
                f if f.is_empty() => label(labels::WORKING_DIR),
                f => f,
            };
        }
        let state = c["State"].as_str().unwrap_or("unknown").to_string();
        *entry.states.entry(state).or_default() += 1;
    }
    projects.retain(|_, p| opts.all || p.states.contains_key("running"));
    let mut out = std::io::stdout().lock();
    let status = |p: &Listed| {
        p.states
            .iter()
            .map(|(s, n)| format!("{s}({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if opts.quiet {
        for name in projects.keys() {
            writeln!(out, "{name}")?;
        }
    } else if opts.json {
        let rows: Vec<serde_json::Value> = projects
            .iter()
            .map(|(name, p)| {
                serde_json::json!({"Name": name, "Status": status(p), "ConfigFiles": p.files})
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(rows))?;
    } else {
        let width = |f: &dyn Fn(&str, &Listed) -> usize, min: usize| {
            projects
                .iter()
                .map(|(n, p)| f(n, p))
                .max()
                .unwrap_or(0)
                .max(min)
                + 3
        };
        let (w_name, w_status) = (width(&|n, _| n.len(), 4), width(&|_, p| status(p).len(), 6));
        writeln!(
            out,
            "{:<w_name$}{:<w_status$}CONFIG FILES",
            "NAME", "STATUS"
        )?;
        for (name, p) in &projects {
            writeln!(out, "{name:<w_name$}{:<w_status$}{}", status(p), p.files)?;
        }
    }
    Ok(())
}

/// What `compose ls` was asked for.
pub struct LsOptions {
    pub all: bool,
    pub quiet: bool,
    /// `--format json` (else a table).
    pub json: bool,
    /// `--filter name=...`: only these projects.
    pub names: Vec<String>,
}
