//! The one-call verbs: stop, kill, restart, rm, logs, wait, top, cp, pause,
//! unpause, rename, update, diff, export, inspect.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use bollard::query_parameters as qp;
use futures_util::StreamExt;
use serde_json::Value;

use super::format;
use super::gotypes;
use super::*;
use berth_client::{Engine, api_err, status_of};

/// Runs `f` for each name; docker's way: errors printed as they come, the
/// names of the ones that worked printed, exit 1 if any failed.
async fn each<F, Fut>(names: &[String], mut f: F) -> Result<i32>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut code = 0;
    for n in names {
        match f(n.clone()).await {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error: {e:#}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub async fn stop(e: &Engine, a: &StopArgs) -> Result<i32> {
    each(&a.containers, |n| async move {
        let mut b = qp::StopContainerOptionsBuilder::new();
        if let Some(t) = a.timeout {
            b = b.t(t as i32);
        }
        if let Some(s) = &a.signal {
            b = b.signal(s);
        }
        e.docker
            .stop_container(&n, Some(b.build()))
            .await
            .map_err(api_err)
    })
    .await
}

pub async fn restart(e: &Engine, a: &RestartArgs) -> Result<i32> {
    each(&a.containers, |n| async move {
        let mut b = qp::RestartContainerOptionsBuilder::new();
        if let Some(t) = a.timeout {
            b = b.t(t as i32);
        }
        if let Some(s) = &a.signal {
            b = b.signal(s);
        }
        e.docker
            .restart_container(&n, Some(b.build()))
            .await
            .map_err(api_err)
    })
    .await
}

pub async fn kill(e: &Engine, a: &KillArgs) -> Result<i32> {
    each(&a.containers, |n| async move {
        let o = qp::KillContainerOptionsBuilder::new()
            .signal(&a.signal)
            .build();
        e.docker.kill_container(&n, Some(o)).await.map_err(api_err)
    })
    .await
}

pub async fn rm(e: &Engine, a: &RmArgs) -> Result<i32> {
    let mut code = 0;
    for n in &a.containers {
        let o = qp::RemoveContainerOptionsBuilder::new()
            .force(a.force)
            .v(a.volumes)
            .link(a.link)
            .build();
        match e.docker.remove_container(n, Some(o)).await.map_err(api_err) {
            Ok(()) => println!("{n}"),
            // docker's rm -f: an unknown container is said, not an error.
            Err(err) if a.force && status_of(&err) == Some(404) => eprintln!("Error: {err:#}"),
            Err(err) => {
                eprintln!("Error: {err:#}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub async fn pause(e: &Engine, a: &NamesArgs, pause: bool) -> Result<i32> {
    each(&a.containers, |n| async move {
        if pause {
            e.docker.pause_container(&n).await.map_err(api_err)
        } else {
            e.docker.unpause_container(&n).await.map_err(api_err)
        }
    })
    .await
}

pub async fn rename(e: &Engine, a: &RenameArgs) -> Result<i32> {
    let name = a.new_name.trim_start_matches('/');
    if name.is_empty() {
        bail!("Neither old nor new names may be empty");
    }
    let o = qp::RenameContainerOptionsBuilder::new().name(name).build();
    e.docker
        .rename_container(&a.container, o)
        .await
        .map_err(api_err)?;
    Ok(0)
}

/// `port`: docker's lines, `80/tcp -> 0.0.0.0:8080`, or for one port its
/// host addresses.
pub async fn port(e: &Engine, a: &PortArgs) -> Result<i32> {
    let v = e
        .get_json(&format!("/containers/{}/json", a.container))
        .await?;
    let ports = v["NetworkSettings"]["Ports"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let host = |b: &serde_json::Value| {
        let ip = b["HostIp"].as_str().unwrap_or_default();
        let port = b["HostPort"].as_str().unwrap_or_default();
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    };
    if let Some(want) = &a.port {
        let (p, proto) = want.split_once('/').unwrap_or((want, "tcp"));
        let key = format!("{p}/{proto}");
        let bindings = ports.get(&key).and_then(|b| b.as_array()).cloned();
        match bindings {
            Some(list) if !list.is_empty() => {
                for b in &list {
                    writeln!(out, "{}", host(b))?;
                }
                Ok(0)
            }
            _ => bail!("No public port '{key}' published for {}", a.container),
        }
    } else {
        let mut keys: Vec<&String> = ports.keys().collect();
        keys.sort_by_key(|k| {
            let (p, proto) = k.split_once('/').unwrap_or((k, ""));
            (p.parse::<u32>().unwrap_or(0), proto.to_string())
        });
        for k in keys {
            for b in ports[k].as_array().into_iter().flatten() {
                writeln!(out, "{k} -> {}", host(b))?;
            }
        }
        Ok(0)
    }
}

pub async fn update(e: &Engine, a: &UpdateArgs) -> Result<i32> {
    use super::create::{parse_bytes, parse_cpus, parse_restart};
    let mut body = bollard::models::ContainerUpdateBody {
        cpu_shares: a.cpu_shares,
        cpu_period: a.cpu_period,
        cpu_quota: a.cpu_quota,
        cpuset_cpus: a.cpuset_cpus.clone(),
        cpuset_mems: a.cpuset_mems.clone(),
        pids_limit: a.pids_limit,
        blkio_weight: a.blkio_weight,
        ..Default::default()
    };
    if let Some(m) = &a.memory {
        body.memory = Some(parse_bytes(m)?);
    }
    if let Some(m) = &a.memory_reservation {
        body.memory_reservation = Some(parse_bytes(m)?);
    }
    if let Some(m) = &a.memory_swap {
        body.memory_swap = Some(if m == "-1" { -1 } else { parse_bytes(m)? });
    }
    if let Some(c) = &a.cpus {
        body.nano_cpus = Some(parse_cpus(c)?);
    }
    if let Some(r) = &a.restart {
        body.restart_policy = Some(parse_restart(r)?);
    }
    let body = &body;
    each(&a.containers, |n| async move {
        e.docker
            .update_container(&n, body.clone())
            .await
            .map_err(api_err)
    })
    .await
}

pub async fn wait(e: &Engine, a: &WaitArgs) -> Result<i32> {
    let mut code = 0;
    for n in &a.containers {
        let r = async {
            let w = e.wait_registered(n, "not-running").await?;
            w.await
        }
        .await;
        match r {
            Ok(c) => println!("{c}"),
            Err(err) => {
                eprintln!("Error: {err:#}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub async fn logs(e: &Engine, a: &LogsArgs) -> Result<i32> {
    let c = e
        .get_json(&format!("/containers/{}/json", a.container))
        .await?;
    let id = c["Id"].as_str().unwrap_or_default().to_string();
    let tty = c["Config"]["Tty"].as_bool().unwrap_or(false);
    let mut q = format!(
        "stdout=1&stderr=1&follow={}&timestamps={}&details={}&tail={}",
        a.follow as u8,
        a.timestamps as u8,
        a.details as u8,
        berth_client::urlencode(&a.tail)
    );
    if let Some(s) = &a.since {
        q.push_str(&format!("&since={}", format::parse_timestamp(s)?));
    }
    if let Some(u) = &a.until {
        q.push_str(&format!("&until={}", format::parse_timestamp(u)?));
    }
    let mut body = e
        .stream("GET", &format!("/containers/{id}/logs?{q}"))
        .await?;
    let mut demux = super::stream::Demux::default();
    while let Some(data) = body.next().await? {
        if tty {
            let mut o = std::io::stdout().lock();
            o.write_all(data)?;
            o.flush()?;
        } else {
            demux.feed(data)?;
        }
    }
    Ok(0)
}

pub async fn top(e: &Engine, a: &TopArgs) -> Result<i32> {
    let mut b = qp::TopOptionsBuilder::new();
    let ps_args = a.ps_args.join(" ");
    if !ps_args.is_empty() {
        b = b.ps_args(&ps_args);
    }
    let r = e
        .docker
        .top_processes(&a.container, Some(b.build()))
        .await
        .map_err(api_err)?;
    let mut lines = vec![r.titles.unwrap_or_default().join("\t")];
    for p in r.processes.unwrap_or_default() {
        lines.push(p.join("\t"));
    }
    print!("{}", format::tabwrite_min(&lines, 20));
    Ok(0)
}

pub async fn diff(e: &Engine, a: &DiffArgs) -> Result<i32> {
    let v = e
        .get_json(&format!("/containers/{}/changes", a.container))
        .await?;
    for c in v.as_array().into_iter().flatten() {
        let kind = match c["Kind"].as_i64() {
            Some(1) => "A",
            Some(2) => "D",
            _ => "C",
        };
        println!("{kind} {}", c["Path"].as_str().unwrap_or_default());
    }
    Ok(0)
}

/// `commit`: POST /commit; prints the new image's id.
pub async fn commit(e: &Engine, a: &CommitArgs) -> Result<i32> {
    use berth_client::urlencode;
    let mut q = format!("container={}&pause={}", urlencode(&a.container), a.pause);
    if let Some(r) = &a.repository {
        let (repo, tag) = super::run::split_repo_tag(r);
        q.push_str(&format!("&repo={}&tag={}", urlencode(repo), urlencode(tag)));
    }
    if let Some(m) = &a.message {
        q.push_str(&format!("&comment={}", urlencode(m)));
    }
    if let Some(au) = &a.author {
        q.push_str(&format!("&author={}", urlencode(au)));
    }
    for c in &a.change {
        q.push_str(&format!("&changes={}", urlencode(c)));
    }
    let v = e
        .post_json(&format!("/commit?{q}"), &serde_json::json!({}))
        .await?;
    println!("{}", v["Id"].as_str().unwrap_or_default());
    Ok(0)
}

pub async fn export(e: &Engine, a: &ExportArgs) -> Result<i32> {
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("failed to export container: {p}"))?,
        ),
        None => {
            if super::stream::is_tty(1) {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            Box::new(std::io::stdout().lock())
        }
    };
    e.get_json(&format!("/containers/{}/json", a.container))
        .await?;
    let mut s = e.docker.export_container(&a.container);
    while let Some(chunk) = s.next().await {
        out.write_all(&chunk.map_err(api_err)?)?;
    }
    out.flush()?;
    Ok(0)
}

/// `inspect`: containers, then images, networks, volumes (unless --type says);
/// the JSON as the engine sent it, or `-f` per object as docker's inspect
/// runs it. Errors
/// (a missing object, a template failing on one) come after the output,
/// and the other objects are still printed.
pub async fn inspect(e: &Engine, a: &InspectArgs, top_level: bool) -> Result<i32> {
    let kind = match a.kind.as_deref() {
        None if top_level => None,
        None => Some("container"),
        Some(k @ ("container" | "image" | "network" | "volume")) => Some(k),
        Some(k) => bail!("\"{k}\" is not a valid value for --type"),
    };
    let wanted = |k: &str| kind.is_none_or(|want| want == k);
    // The template is parsed before any lookup; a bad one exits 64.
    let template = match a.format.as_deref() {
        None | Some("") | Some("json") => None,
        Some(f) => match format::Inspector::parse(f) {
            Ok(t) => Some(t),
            Err(msg) => {
                eprintln!("{msg}");
                return Ok(64);
            }
        },
    };
    let mut found: Vec<std::result::Result<(gotypes::Kind, Vec<u8>), String>> = Vec::new();
    for n in &a.names {
        let mut got = None;
        // With a type, docker reports the engine's own error.
        let mut not_found = format!("Error: No such object: {n}");
        // docker's order: containers, images, networks, volumes.
        let size = if a.size { "?size=1" } else { "" };
        let lookups = [
            (
                "container",
                gotypes::Kind::Container,
                format!("/containers/{n}/json{size}"),
            ),
            ("image", gotypes::Kind::Image, format!("/images/{n}/json")),
            ("network", gotypes::Kind::Network, format!("/networks/{n}")),
            ("volume", gotypes::Kind::Volume, format!("/volumes/{n}")),
        ];
        for (what, k, path) in lookups {
            if got.is_some() || !wanted(what) {
                continue;
            }
            match e.call("GET", &path, None).await {
                Ok(b) => got = Some((k, b)),
                Err(err) if status_of(&err) == Some(404) => {
                    if kind.is_some() {
                        not_found = format!("Error response from daemon: {err}");
                    }
                }
                Err(err) => return Err(err),
            }
        }
        found.push(got.ok_or(not_found));
    }
    if let Some(t) = template {
        let mut objects = Vec::new();
        for f in found {
            objects.push(match f {
                Ok((k, b)) => Ok((k, serde_json::from_slice::<Value>(&b)?)),
                Err(e) => Err(e),
            });
        }
        return Ok(t.print(&objects, &mut std::io::stdout())?);
    }
    let mut joined = b"[".to_vec();
    let mut errors = Vec::new();
    for f in &found {
        match f {
            Ok((_, raw)) => {
                if joined.len() > 1 {
                    joined.push(b',');
                }
                joined.extend_from_slice(raw);
            }
            Err(e) => errors.push(e.as_str()),
        }
    }
    joined.push(b']');
    println!("{}", indent_json(&joined));
    if errors.is_empty() {
        return Ok(0);
    }
    eprintln!("{}", errors.join("\n"));
    Ok(1)
}

/// What `image inspect` and `volume inspect` print for the objects found
/// (their raw JSON) and the names not found (the engine's error, in order):
/// the template per object, or the JSON array, then the errors; exit 1 when
/// one was missing, as docker's CLI.
pub(crate) fn print_inspected(
    found: Vec<std::result::Result<Vec<u8>, String>>,
    kind: super::gotypes::Kind,
    template: Option<super::format::Inspector>,
    out: &mut dyn std::io::Write,
) -> Result<i32> {
    if let Some(t) = template {
        let mut objects = Vec::new();
        for f in found {
            objects.push(match f {
                Ok(b) => Ok((kind, serde_json::from_slice::<Value>(&b)?)),
                Err(e) => Err(e),
            });
        }
        return Ok(t.print(&objects, out)?);
    }
    let mut joined = b"[".to_vec();
    let mut errors = Vec::new();
    for f in &found {
        match f {
            Ok(raw) => {
                if joined.len() > 1 {
                    joined.push(b',');
                }
                joined.extend_from_slice(raw);
            }
            Err(e) => errors.push(e.as_str()),
        }
    }
    joined.push(b']');
    writeln!(out, "{}", indent_json(&joined))?;
    if errors.is_empty() {
        return Ok(0);
    }
    out.flush()?;
    eprintln!("{}", errors.join("\n"));
    Ok(1)
}

/// Re-indents JSON text (4 spaces, as docker) keeping its key order.
pub(crate) fn indent_json(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let chars: Vec<char> = text.chars().collect();
    let nl = |out: &mut String, d: usize| {
        out.push('\n');
        out.push_str(&"    ".repeat(d));
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                // Empty containers stay on one line.
                let mut j = i + 1;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if j < chars.len() && (chars[j] == '}' || chars[j] == ']') {
                    out.push(c);
                    out.push(chars[j]);
                    i = j + 1;
                    continue;
                }
                out.push(c);
                depth += 1;
                nl(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                nl(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                nl(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// `cp`: CONTAINER:PATH to a local path (or `-` for a tar on stdout), or a
/// local path (or `-` for a tar on stdin) to CONTAINER:PATH.
pub async fn cp(e: &Engine, a: &CpArgs) -> Result<i32> {
    let split = |s: &str| -> Option<(String, String)> {
        // A local path with a colon must start with / or . to be local.
        if s.starts_with('/') || s.starts_with('.') {
            return None;
        }
        s.split_once(':')
            .map(|(c, p)| (c.to_string(), p.to_string()))
    };
    match (split(&a.src), split(&a.dest)) {
        (Some((c, p)), None) => cp_from(e, &c, &p, &a.dest).await,
        (None, Some((c, p))) => cp_to(e, &a.src, &c, &p, a.archive, a.follow_link).await,
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
    }
}

async fn cp_from(e: &Engine, container: &str, path: &str, dest: &str) -> Result<i32> {
    let path = if path.is_empty() { "/" } else { path };
    let o = qp::DownloadFromContainerOptionsBuilder::new()
        .path(path)
        .build();
    let mut s = e.docker.download_from_container(container, Some(o));
    if dest == "-" {
        let mut out = std::io::stdout().lock();
        while let Some(chunk) = s.next().await {
            out.write_all(&chunk.map_err(api_err)?)?;
        }
        out.flush()?;
        return Ok(0);
    }
    let mut data = Vec::new();
    while let Some(chunk) = s.next().await {
        data.extend_from_slice(&chunk.map_err(api_err)?);
    }
    let dest = PathBuf::from(dest);
    let copy_contents = path.ends_with("/.") || path == "/";
    if dest.is_dir() {
        if copy_contents {
            unpack_stripping_top(&data, &dest)?;
        } else {
            tar::Archive::new(&data[..])
                .unpack(&dest)
                .with_context(|| format!("extracting into {}", dest.display()))?;
        }
        return Ok(0);
    }
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        bail!(
            "destination directory {:?} must exist",
            parent.display().to_string()
        );
    }
    if dest.as_os_str().to_string_lossy().ends_with('/') {
        bail!(
            "destination {:?} must be a directory",
            dest.display().to_string()
        );
    }
    let tmp = tempdir_in(parent)?;
    let r = (|| -> Result<()> {
        tar::Archive::new(&data[..]).unpack(&tmp)?;
        let mut entries = std::fs::read_dir(&tmp)?;
        let top = entries
            .next()
            .ok_or_else(|| anyhow!("the engine sent an empty archive"))??;
        std::fs::rename(top.path(), &dest)
            .with_context(|| format!("moving into {}", dest.display()))?;
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    r?;
    Ok(0)
}

fn unpack_stripping_top(data: &[u8], dest: &Path) -> Result<()> {
    let tmp = tempdir_in(dest)?;
    let r = (|| -> Result<()> {
        tar::Archive::new(data).unpack(&tmp)?;
        for top in std::fs::read_dir(&tmp)? {
            let top = top?;
            if top.file_type()?.is_dir() {
                for child in std::fs::read_dir(top.path())? {
                    let child = child?;
                    let target = dest.join(child.file_name());
                    if target.is_dir() && child.file_type()?.is_dir() {
                        merge_dir(&child.path(), &target)?;
                    } else {
                        std::fs::rename(child.path(), target)?;
                    }
                }
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    r
}

fn merge_dir(from: &Path, to: &Path) -> Result<()> {
    for child in std::fs::read_dir(from)? {
        let child = child?;
        let target = to.join(child.file_name());
        if target.is_dir() && child.file_type()?.is_dir() {
            merge_dir(&child.path(), &target)?;
        } else {
            std::fs::rename(child.path(), target)?;
        }
    }
    Ok(())
}

fn tempdir_in(dir: &Path) -> Result<PathBuf> {
    for n in 0..100u32 {
        let p = dir.join(format!(".berth-cp-{}-{n}", std::process::id()));
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("creating a directory in {}", dir.display()));
            }
        }
    }
    bail!("cannot create a temporary directory in {}", dir.display())
}

async fn cp_to(
    e: &Engine,
    src: &str,
    container: &str,
    path: &str,
    archive: bool,
    follow: bool,
) -> Result<i32> {
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    };
    if src == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        upload(e, container, &path, buf).await?;
        return Ok(0);
    }
    let src_path = PathBuf::from(src);
    let meta = if follow {
        std::fs::metadata(&src_path)
    } else {
        std::fs::symlink_metadata(&src_path)
    }
    .with_context(|| format!("could not find the file {src} in the local filesystem"))?;
    // Where it lands: into `path` if that is a directory in the container,
    // else as `path` itself.
    let info = {
        let o = qp::ContainerArchiveInfoOptionsBuilder::new()
            .path(&path)
            .build();
        e.docker
            .get_container_archive_info(container, Some(o))
            .await
    };
    let (dir, name) = match info {
        Ok(stat) if stat.file_mode & (1 << 31) != 0 => {
            let contents = src.ends_with("/.");
            let name = if contents {
                String::new()
            } else {
                src_path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            (path.clone(), name)
        }
        Ok(_) if meta.is_dir() => bail!("cannot copy a directory to a file"),
        Ok(_) => {
            let p = Path::new(&path);
            (parent_of(p), base_of(p))
        }
        Err(err) => {
            let err = api_err(err);
            if status_of(&err) != Some(404) {
                return Err(err);
            }
            if path.ends_with('/') {
                bail!("destination \"{container}:{path}\" must be a directory");
            }
            let p = Path::new(&path);
            (parent_of(p), base_of(p))
        }
    };
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(follow);
    if meta.is_dir() {
        if name.is_empty() {
            builder.append_dir_all(".", &src_path)?;
        } else {
            builder.append_dir_all(&name, &src_path)?;
        }
    } else {
        builder.append_path_with_name(&src_path, &name)?;
    }
    let mut data = builder.into_inner()?;
    if !archive {
        // Without -a the files belong to root in the container, as docker does.
        data = chown_root(&data)?;
    }
    upload(e, container, &dir, data).await?;
    Ok(0)
}

fn parent_of(p: &Path) -> String {
    p.parent()
        .map(|d| d.to_string_lossy().into_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "/".to_string())
}

fn base_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Rewrites a tar with uid/gid 0.
fn chown_root(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = tar::Builder::new(Vec::new());
    let mut ar = tar::Archive::new(data);
    for entry in ar.entries()? {
        let mut entry = entry?;
        let mut h = entry.header().clone();
        h.set_uid(0);
        h.set_gid(0);
        let _ = h.set_username("root");
        let _ = h.set_groupname("root");
        let path = entry.path()?.into_owned();
        let link = entry.link_name()?.map(|l| l.into_owned());
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut buf)?;
        match link {
            Some(l) => out.append_link(&mut h, &path, &l)?,
            None => out.append_data(&mut h, &path, &buf[..])?,
        }
    }
    Ok(out.into_inner()?)
}

async fn upload(e: &Engine, container: &str, dir: &str, data: Vec<u8>) -> Result<()> {
    let o = qp::UploadToContainerOptionsBuilder::new().path(dir).build();
    e.docker
        .upload_to_container(container, Some(o), bollard::body_full(data.into()))
        .await
        .map_err(api_err)
}
