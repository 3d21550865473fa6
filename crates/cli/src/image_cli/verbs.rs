//! Each image verb as Engine API calls, printed as docker's CLI prints it.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result, anyhow, bail};
use berth_client::credentials::{self, Credentials};
use berth_client::{Engine, RequestBody, status_of, urlencode};
use serde_json::{Value, json};

use super::progress::{self, Outcome};
use super::*;
use crate::container_cli::format as fmt;
use crate::container_cli::gotypes::Kind;

/// Runs an image verb against the engine; the exit code.
pub async fn dispatch(e: &Engine, cmd: ImageCommand) -> Result<i32> {
    if let ImageCommand::Build(a) = &cmd {
        return crate::build_cli::build(e, a).await;
    }
    let mut out = std::io::stdout().lock();
    match cmd {
        ImageCommand::Build(_) => unreachable!("handled above"),
        ImageCommand::Ls(c) => images(e, &c, &mut out).await,
        ImageCommand::Load(c) => load(e, &c, &mut out).await,
        ImageCommand::Save(c) => save(e, &c).await,
        ImageCommand::Import(c) => import(e, &c, &mut out).await,
        ImageCommand::Tag(c) => tag(e, &c).await,
        ImageCommand::Rm(c) => rmi(e, &c, &mut out).await,
        ImageCommand::History(c) => history(e, &c, &mut out).await,
        ImageCommand::Inspect(c) => inspect(e, &c, &mut out).await,
        ImageCommand::Prune(c) => prune(e, &c, &mut out).await,
        ImageCommand::Pull(c) => pull(e, &c, &mut out).await,
        ImageCommand::Push(c) => push(e, &c, &mut out).await,
        ImageCommand::Login(c) => login(e, &c).await,
    }
}

/// The registry a reference names, as docker decides it: a first component
/// with a dot, a colon, or `localhost` is a host; else Docker Hub.
fn registry_of(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

/// The X-Registry-Auth header for `reference`'s registry, from the
/// credentials `login` kept; docker sends one always (`{}` when none).
fn auth_header(reference: &str) -> Result<(&'static str, String)> {
    let registry = registry_of(reference);
    let value = match credentials::lookup(registry)? {
        Some(c) => c.header(registry),
        None => {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE.encode("{}")
        }
    };
    Ok(("X-Registry-Auth", value))
}

/// `repo:tag` split as docker splits it (a colon after the last slash).
fn split_tag(reference: &str) -> (&str, Option<&str>) {
    if reference.contains('@') {
        return (reference, None);
    }
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
        _ => (reference, None),
    }
}

async fn pull(e: &Engine, c: &Pull, out: &mut dyn Write) -> Result<i32> {
    let (repo, tag) = match c.reference.split_once('@') {
        Some((repo, digest)) => (repo, Some(digest)),
        None => split_tag(&c.reference),
    };
    let tag = tag.unwrap_or("latest");
    let mut path = format!(
        "/images/create?fromImage={}&tag={}",
        urlencode(repo),
        urlencode(tag)
    );
    if let Some(p) = &c.platform {
        path.push_str(&format!("&platform={}", urlencode(p)));
    }
    let headers = [auth_header(&c.reference)?];
    let body = e
        .stream_with("POST", &path, &headers, RequestBody::Empty)
        .await?;
    let terminal = std::io::stdout().is_terminal();
    progress::render(body, out, terminal, c.quiet).await?;
    // docker prints the full reference last.
    let full = if c.reference.contains('@') {
        c.reference.clone()
    } else {
        format!("{repo}:{tag}")
    };
    writeln!(out, "{}", canonical(&full))?;
    Ok(0)
}

/// `busybox:1` -> `docker.io/library/busybox:1`, as docker prints after a pull.
fn canonical(reference: &str) -> String {
    if registry_of(reference) != "docker.io" || reference.starts_with("docker.io/") {
        return reference.to_string();
    }
    if reference.contains('/') {
        format!("docker.io/{reference}")
    } else {
        format!("docker.io/library/{reference}")
    }
}

async fn push(e: &Engine, c: &Push, out: &mut dyn Write) -> Result<i32> {
    let (repo, tag) = split_tag(&c.reference);
    let mut path = format!("/images/{repo}/push");
    if let Some(t) = tag {
        path.push_str(&format!("?tag={}", urlencode(t)));
    }
    let headers = [auth_header(&c.reference)?];
    let body = e
        .stream_with("POST", &path, &headers, RequestBody::Empty)
        .await?;
    let terminal = std::io::stdout().is_terminal();
    let Outcome { aux, .. } = progress::render(body, out, terminal, c.quiet).await?;
    if c.quiet {
        match aux.iter().find_map(|a| a["Digest"].as_str()) {
            Some(d) => writeln!(out, "{d}")?,
            None => writeln!(out, "{}", c.reference)?,
        }
    }
    Ok(0)
}

async fn login(e: &Engine, c: &Login) -> Result<i32> {
    let server = c.server.clone().unwrap_or_else(|| "docker.io".into());
    let server = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let username = match &c.username {
        Some(u) => u.clone(),
        None => prompt("Username: ")?,
    };
    let password = if c.password_stdin {
        let mut p = String::new();
        std::io::stdin().read_line(&mut p)?;
        p.trim_end_matches(['\n', '\r']).to_string()
    } else {
        match &c.password {
            Some(p) => {
                eprintln!(
                    "WARNING! Using --password via the CLI is insecure. Use --password-stdin."
                );
                p.clone()
            }
            None => prompt("Password: ")?,
        }
    };
    if c.password.is_some() && c.password_stdin {
        bail!("--password and --password-stdin are mutually exclusive");
    }
    e.post_json(
        "/auth",
        &json!({"username": username, "password": password, "serveraddress": server}),
    )
    .await
    .map_err(|err| anyhow!("Error response from daemon: {err:#}"))?;
    credentials::store(&server, &Credentials { username, password })?;
    println!("Login Succeeded");
    Ok(0)
}

/// `logout`: forgets the credentials; no engine needed.
pub fn logout(c: &Logout) -> Result<i32> {
    let server = c.server.clone().unwrap_or_else(|| "docker.io".into());
    if credentials::erase(&server)? {
        println!(
            "Removing login credentials for {}",
            credentials::server_key(&server)
        );
    } else {
        println!("Not logged in to {server}");
    }
    Ok(0)
}

fn prompt(label: &str) -> Result<String> {
    eprint!("{label}");
    let mut s = String::new();
    std::io::stdin().read_line(&mut s)?;
    Ok(s.trim().to_string())
}

/// An upload body: a file, or stdin (refused when it is a terminal).
async fn upload(file: Option<&str>, what: &str) -> Result<RequestBody> {
    match file {
        Some(p) if p != "-" => {
            let f = tokio::fs::File::open(p)
                .await
                .with_context(|| format!("open {p}"))?;
            Ok(RequestBody::Stream(Box::new(f)))
        }
        _ => {
            if std::io::stdin().is_terminal() {
                bail!("requested {what} from stdin, but stdin is empty");
            }
            Ok(RequestBody::Stream(Box::new(tokio::io::stdin())))
        }
    }
}

async fn load(e: &Engine, c: &Load, out: &mut dyn Write) -> Result<i32> {
    let input = c.input.as_ref().map(|p| p.to_string_lossy().into_owned());
    let body = upload(input.as_deref(), "load").await?;
    let q = if c.quiet { "?quiet=1" } else { "" };
    let resp = e
        .stream_with("POST", &format!("/images/load{q}"), &[], body)
        .await?;
    progress::render(resp, out, false, c.quiet).await?;
    Ok(0)
}

async fn import(e: &Engine, c: &Import, out: &mut dyn Write) -> Result<i32> {
    let mut path = String::from("/images/create?fromSrc=-");
    if let Some(r) = &c.reference {
        let (repo, tag) = split_tag(r);
        path.push_str(&format!("&repo={}", urlencode(repo)));
        if let Some(t) = tag {
            path.push_str(&format!("&tag={}", urlencode(t)));
        }
    }
    for ch in &c.change {
        path.push_str(&format!("&changes={}", urlencode(ch)));
    }
    if let Some(m) = &c.message {
        path.push_str(&format!("&message={}", urlencode(m)));
    }
    if let Some(p) = &c.platform {
        path.push_str(&format!("&platform={}", urlencode(p)));
    }
    let body = upload(Some(&c.file), "import").await?;
    let resp = e.stream_with("POST", &path, &[], body).await?;
    let Outcome { statuses, .. } =
        progress::render(resp, &mut std::io::sink(), false, true).await?;
    for s in statuses {
        writeln!(out, "{s}")?;
    }
    Ok(0)
}

async fn save(e: &Engine, c: &Save) -> Result<i32> {
    let oci = match c.format.as_str() {
        "docker-archive" | "docker" => false,
        "oci-archive" | "oci" => true,
        other => bail!("unknown --format {other:?}: use docker-archive or oci-archive"),
    };
    if oci {
        // An OCI layout is berth's own parameter; another engine would
        // silently write its usual archive.
        let v = e.get_json("/version").await?;
        if v["Platform"]["Name"].as_str() != Some("berth") {
            bail!(
                "--format oci-archive: the engine at {} is not berth",
                e.host
            );
        }
    }
    let mut path = String::from("/images/get?");
    for (i, n) in c.images.iter().enumerate() {
        if i > 0 {
            path.push('&');
        }
        path.push_str(&format!("names={}", urlencode(n)));
    }
    if oci {
        path.push_str("&format=oci");
    }
    if c.output.is_none() && std::io::stdout().is_terminal() {
        bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let mut body = e.stream_with("GET", &path, &[], RequestBody::Empty).await?;
    match &c.output {
        Some(p) => {
            // Written beside, renamed when whole: no half archive under the name.
            let tmp = p.with_extension("berth-partial");
            let mut f =
                std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
            let res = async {
                while let Some(chunk) = body.next().await? {
                    f.write_all(chunk)?;
                }
                f.sync_all()?;
                Ok::<_, anyhow::Error>(())
            }
            .await;
            if let Err(err) = res {
                let _ = std::fs::remove_file(&tmp);
                return Err(err);
            }
            std::fs::rename(&tmp, p).with_context(|| format!("rename to {}", p.display()))?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            while let Some(chunk) = body.next().await? {
                out.write_all(chunk)?;
            }
            out.flush()?;
        }
    }
    Ok(0)
}

async fn tag(e: &Engine, c: &Tag) -> Result<i32> {
    let (repo, tag) = split_tag(&c.target);
    let mut path = format!("/images/{}/tag?repo={}", c.source, urlencode(repo));
    if let Some(t) = tag {
        path.push_str(&format!("&tag={}", urlencode(t)));
    }
    e.call("POST", &path, None).await?;
    Ok(0)
}

fn print_removed(out: &mut dyn Write, items: &Value) -> std::io::Result<()> {
    for item in items.as_array().into_iter().flatten() {
        if let Some(t) = item["Untagged"].as_str() {
            writeln!(out, "Untagged: {t}")?;
        }
        if let Some(d) = item["Deleted"].as_str() {
            writeln!(out, "Deleted: {d}")?;
        }
    }
    Ok(())
}

async fn rmi(e: &Engine, c: &Rmi, out: &mut dyn Write) -> Result<i32> {
    let mut failed = false;
    for name in &c.images {
        let q = if c.force { "?force=1" } else { "" };
        match e.call("DELETE", &format!("/images/{name}{q}"), None).await {
            Ok(body) => {
                let items: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                print_removed(out, &items)?;
            }
            Err(err) => {
                eprintln!("Error response from daemon: {err:#}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

async fn prune(e: &Engine, c: &Prune, out: &mut dyn Write) -> Result<i32> {
    if !c.force && std::io::stdin().is_terminal() {
        eprint!(
            "WARNING! This will remove {} images without at least one container associated to them.\nAre you sure you want to continue? [y/N] ",
            if c.all { "all" } else { "all dangling" }
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !answer.trim().eq_ignore_ascii_case("y") {
            return Ok(0);
        }
    }
    let mut filters = json!({"dangling": [if c.all { "false" } else { "true" }]});
    for (k, vs) in fmt::filters(&c.filter)? {
        if k != "label" && k != "label!" {
            bail!("invalid filter '{k}'");
        }
        filters[k] = json!(vs);
    }
    // No body, as docker's CLI sends it.
    let body = e
        .call(
            "POST",
            &format!("/images/prune?filters={}", urlencode(&filters.to_string())),
            None,
        )
        .await?;
    let v: Value = serde_json::from_slice(&body).context("decoding the prune answer")?;
    if let Some(items) = v["ImagesDeleted"].as_array().filter(|a| !a.is_empty()) {
        // prune's words are lower case, unlike rmi's (docker's CLI).
        writeln!(out, "Deleted Images:")?;
        for item in items {
            if let Some(t) = item["Untagged"].as_str() {
                writeln!(out, "untagged: {t}")?;
            }
            if let Some(d) = item["Deleted"].as_str() {
                writeln!(out, "deleted: {d}")?;
            }
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        fmt::human_size(v["SpaceReclaimed"].as_f64().unwrap_or(0.0))
    )?;
    Ok(0)
}

/// `images -f`: docker's filter flags as the API's filters JSON.
fn filters_json(c: &Images) -> Result<String> {
    let mut map = fmt::filters(&c.filter)?;
    for k in map.keys() {
        if !["dangling", "reference", "label", "before", "since"].contains(&k.as_str()) {
            bail!("invalid filter '{k}'");
        }
    }
    if let Some(repo) = &c.repository {
        map.entry("reference".into())
            .or_default()
            .push(repo.clone());
    }
    let obj: serde_json::Map<String, Value> = map
        .into_iter()
        .map(|(k, vs)| {
            let set: serde_json::Map<String, Value> =
                vs.into_iter().map(|v| (v, Value::Bool(true))).collect();
            (k, Value::Object(set))
        })
        .collect();
    Ok(Value::Object(obj).to_string())
}

async fn images(e: &Engine, c: &Images, out: &mut dyn Write) -> Result<i32> {
    let filters = filters_json(c)?;
    let list = e
        .get_json(&format!(
            "/images/json?filters={}{}",
            urlencode(&filters),
            if c.all { "&all=1" } else { "" }
        ))
        .await?;
    let mut rows = Vec::new();
    for img in list.as_array().into_iter().flatten() {
        let full_id = img["Id"].as_str().unwrap_or_default();
        let id = if c.no_trunc {
            full_id.to_string()
        } else {
            full_id
                .trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect()
        };
        let created = img["Created"].as_i64().unwrap_or(0);
        let digests: Vec<&str> = img["RepoDigests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        // A name's digest is its repository's, if it has one.
        let digest_of = |repo: &str| {
            digests
                .iter()
                .find(|d| d.split('@').next() == Some(repo))
                .and_then(|d| d.split_once('@'))
                .map(|(_, d)| d.to_string())
                .unwrap_or_else(|| "<none>".into())
        };
        let tags: Vec<&str> = img["RepoTags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|t| *t != "<none>:<none>")
            .collect();
        let names: Vec<(String, String)> = if tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            tags.iter()
                .map(|t| {
                    let (r, t) = split_tag(t);
                    (r.to_string(), t.unwrap_or("<none>").to_string())
                })
                .collect()
        };
        // docker's imageContext: SharedSize -1 is "not computed".
        let size = img["Size"].as_i64().unwrap_or(0);
        let shared = img["SharedSize"].as_i64().unwrap_or(0);
        let na_or = |n: i64, unknown: bool| {
            if unknown {
                "N/A".to_string()
            } else {
                fmt::human_size(n as f64)
            }
        };
        for (repo, tag) in names {
            rows.push(json!({
                "Repository": repo, "Tag": tag, "ID": id, "Digest": digest_of(&repo),
                "CreatedSince": if created > 0 { fmt::ago(created) } else { "N/A".into() },
                "CreatedAt": if created > 0 { fmt::go_time(created) } else { String::new() },
                "Size": fmt::human_size_prec(size as f64, 3),
                "Containers": img["Containers"].as_i64().map_or("N/A".into(), |n| if n < 0 { "N/A".to_string() } else { n.to_string() }),
                "VirtualSize": fmt::human_size(size as f64),
                "SharedSize": na_or(shared, shared == -1),
                "UniqueSize": na_or(size - shared, size == -1 || shared == -1),
            }));
        }
    }
    if c.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for r in &rows {
            let id = r["ID"].as_str().unwrap_or_default().to_string();
            if seen.insert(id.clone()) {
                writeln!(out, "{id}")?;
            }
        }
        return Ok(0);
    }
    let default = if c.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    // A bare `table` is the default table, as docker takes it.
    let format = match c.format.as_deref() {
        None | Some("table") => default,
        Some(f) => f,
    };
    let names = |f: &str| match f {
        "ID" => Some("IMAGE ID"),
        "CreatedSince" => Some("CREATED"),
        "CreatedAt" => Some("CREATED AT"),
        "VirtualSize" => Some("SIZE"),
        "SharedSize" => Some("SHARED SIZE"),
        "UniqueSize" => Some("UNIQUE SIZE"),
        _ => None,
    };
    let rows: Vec<fmt::ContextRow> = rows
        .into_iter()
        .map(|fields| fmt::ContextRow {
            fields,
            labels: None,
        })
        .collect();
    fmt::print_context_rows(format, "*formatter.imageContext", &rows, &names, out)
}

async fn history(e: &Engine, c: &History, out: &mut dyn Write) -> Result<i32> {
    let entries = e.get_json(&format!("/images/{}/history", c.image)).await?;
    let entries = entries.as_array().cloned().unwrap_or_default();
    let short = |id: &str| -> String {
        if c.no_trunc || id == "<missing>" {
            id.to_string()
        } else {
            id.trim_start_matches("sha256:").chars().take(12).collect()
        }
    };
    if c.quiet {
        for h in &entries {
            writeln!(out, "{}", short(h["Id"].as_str().unwrap_or_default()))?;
        }
        return Ok(0);
    }
    let mut lines = vec!["IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT".to_string()];
    for h in &entries {
        let by = h["CreatedBy"].as_str().unwrap_or("");
        let by = if c.no_trunc || by.chars().count() <= 45 {
            by.to_string()
        } else {
            format!("{}…", by.chars().take(44).collect::<String>())
        };
        let created = h["Created"].as_i64().unwrap_or(0);
        lines.push(format!(
            "{}\t{}\t{}\t{}\t{}",
            short(h["Id"].as_str().unwrap_or_default()),
            if created > 0 {
                fmt::ago(created)
            } else {
                "N/A".into()
            },
            by,
            fmt::human_size_prec(h["Size"].as_f64().unwrap_or(0.0), 3),
            h["Comment"].as_str().unwrap_or("")
        ));
    }
    write!(out, "{}", fmt::tabwrite(&lines))?;
    Ok(0)
}

async fn inspect(e: &Engine, c: &Inspect, out: &mut dyn Write) -> Result<i32> {
    // As docker: the template first (a bad one exits 64), errors after the
    // output.
    let template = match c.format.as_deref() {
        None | Some("") | Some("json") => None,
        Some(f) => match fmt::Inspector::parse(f) {
            Ok(t) => Some(t),
            Err(msg) => {
                eprintln!("{msg}");
                return Ok(64);
            }
        },
    };
    let mut found = Vec::new();
    for name in &c.images {
        match e.call("GET", &format!("/images/{name}/json"), None).await {
            Ok(b) => found.push(Ok(b)),
            Err(err) if status_of(&err) == Some(404) => {
                found.push(Err(format!("Error response from daemon: {err}")))
            }
            Err(err) => return Err(err),
        }
    }
    crate::container_cli::verbs::print_inspected(found, Kind::Image, template, out)
}
