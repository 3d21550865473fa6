//! `stats`, `container prune`, `system df`, `system prune`, `info`, `version`
//! and `events`.

use std::io::{BufRead, Write};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Result, anyhow};
use serde_json::{Value, json};

use super::format::{self, Template};
use super::*;
use berth_client::{Engine, status_of};

/// Asks `[y/N]` on stderr/stdin; true for y or yes.
pub(crate) fn confirm(warning: &str) -> bool {
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_lowercase().as_str(), "y" | "yes")
}

pub(crate) fn filters_query(list: &[String]) -> Result<String> {
    let f = format::filters(list)?;
    if f.is_empty() {
        return Ok(String::new());
    }
    let json = serde_json::to_string(&f)?;
    let enc: String = berth_client::urlencode(&json);
    Ok(format!("?filters={enc}"))
}

async fn prune_containers(e: &Engine, filters: &[String]) -> Result<(Vec<String>, u64)> {
    let v: Value = serde_json::from_slice(
        &e.call(
            "POST",
            &format!("/containers/prune{}", filters_query(filters)?),
            None,
        )
        .await?,
    )?;
    let ids = v["ContainersDeleted"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok((ids, v["SpaceReclaimed"].as_u64().unwrap_or(0)))
}

pub async fn container_prune(e: &Engine, a: &PruneArgs) -> Result<i32> {
    if !a.force && !confirm("WARNING! This will remove all stopped containers.") {
        return Ok(0);
    }
    let (ids, space) = prune_containers(e, &a.filter).await?;
    if !ids.is_empty() {
        println!("Deleted Containers:");
        for i in &ids {
            println!("{i}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        format::human_size(space as f64)
    );
    Ok(0)
}

pub async fn system_prune(e: &Engine, a: &SystemPruneArgs) -> Result<i32> {
    if !a.force {
        let mut w = String::from(
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
        );
        if a.volumes {
            w.push_str("  - all anonymous volumes not used by at least one container\n");
        }
        if a.all {
            w.push_str("  - all images without at least one container associated to them\n");
        } else {
            w.push_str("  - all dangling images\n");
        }
        w.push_str("  - unused build cache\n");
        if !confirm(&w) {
            return Ok(0);
        }
    }
    let mut total = 0u64;
    let (ids, space) = prune_containers(e, &a.filter).await?;
    total += space;
    if !ids.is_empty() {
        println!("Deleted Containers:");
        for i in &ids {
            println!("{i}");
        }
        println!();
    }
    // The other kinds: an engine without the endpoint (404) has nothing to prune.
    let optional = |r: Result<Vec<u8>>| -> Result<Value> {
        match r {
            Ok(b) => Ok(serde_json::from_slice(&b).unwrap_or(Value::Null)),
            Err(err) if matches!(status_of(&err), Some(404) | Some(501)) => Ok(Value::Null),
            Err(err) => Err(err),
        }
    };
    let q = filters_query(&a.filter)?;
    let nets = optional(e.call("POST", &format!("/networks/prune{q}"), None).await)?;
    if let Some(n) = nets["NetworksDeleted"].as_array().filter(|n| !n.is_empty()) {
        println!("Deleted Networks:");
        for i in n {
            println!("{}", i.as_str().unwrap_or_default());
        }
        println!();
    }
    if a.volumes {
        let vols = optional(e.call("POST", &format!("/volumes/prune{q}"), None).await)?;
        if let Some(n) = vols["VolumesDeleted"].as_array().filter(|n| !n.is_empty()) {
            println!("Deleted Volumes:");
            for i in n {
                println!("{}", i.as_str().unwrap_or_default());
            }
            println!();
        }
        total += vols["SpaceReclaimed"].as_u64().unwrap_or(0);
    }
    let mut f = a.filter.clone();
    f.push(format!("dangling={}", !a.all));
    let imgs = optional(
        e.call(
            "POST",
            &format!("/images/prune{}", filters_query(&f)?),
            None,
        )
        .await,
    )?;
    if let Some(n) = imgs["ImagesDeleted"].as_array().filter(|n| !n.is_empty()) {
        println!("Deleted Images:");
        for i in n {
            if let Some(u) = i["Untagged"].as_str() {
                println!("untagged: {u}");
            }
            if let Some(d) = i["Deleted"].as_str() {
                println!("deleted: {d}");
            }
        }
        println!();
    }
    total += imgs["SpaceReclaimed"].as_u64().unwrap_or(0);
    let cache = optional(
        e.call(
            "POST",
            &format!("/build/prune{}", if a.all { "?all=1" } else { "" }),
            None,
        )
        .await,
    )?;
    if let Some(n) = cache["CachesDeleted"].as_array().filter(|n| !n.is_empty()) {
        println!("Deleted build cache objects:");
        for i in n {
            println!("{}", i.as_str().unwrap_or_default());
        }
        println!();
    }
    total += cache["SpaceReclaimed"].as_u64().unwrap_or(0);
    println!(
        "Total reclaimed space: {}",
        format::human_size(total as f64)
    );
    Ok(0)
}

pub async fn df(e: &Engine, a: &DfArgs) -> Result<i32> {
    let v = e.get_json("/system/df").await?;
    let pct = |r: f64, s: f64| {
        if s > 0.0 {
            format!("{} ({}%)", format::human_size(r), (100.0 * r / s) as i64)
        } else {
            format::human_size(r)
        }
    };
    let arr = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let images = arr("Images");
    let img_active = images
        .iter()
        .filter(|i| i["Containers"].as_i64().unwrap_or(0) > 0)
        .count();
    let img_size = v["LayersSize"].as_f64().unwrap_or(0.0);
    let img_reclaim: f64 = images
        .iter()
        .filter(|i| i["Containers"].as_i64().unwrap_or(0) <= 0)
        .map(|i| {
            (i["Size"].as_f64().unwrap_or(0.0) - i["SharedSize"].as_f64().unwrap_or(0.0).max(0.0))
                .max(0.0)
        })
        .sum();
    let containers = arr("Containers");
    let c_active = containers
        .iter()
        .filter(|c| c["State"].as_str() == Some("running"))
        .count();
    let c_size: f64 = containers
        .iter()
        .map(|c| c["SizeRw"].as_f64().unwrap_or(0.0))
        .sum();
    let c_reclaim: f64 = containers
        .iter()
        .filter(|c| c["State"].as_str() != Some("running"))
        .map(|c| c["SizeRw"].as_f64().unwrap_or(0.0))
        .sum();
    let volumes = arr("Volumes");
    let v_active = volumes
        .iter()
        .filter(|x| x["UsageData"]["RefCount"].as_i64().unwrap_or(0) > 0)
        .count();
    let v_size: f64 = volumes
        .iter()
        .map(|x| x["UsageData"]["Size"].as_f64().unwrap_or(0.0).max(0.0))
        .sum();
    let v_reclaim: f64 = volumes
        .iter()
        .filter(|x| x["UsageData"]["RefCount"].as_i64().unwrap_or(0) <= 0)
        .map(|x| x["UsageData"]["Size"].as_f64().unwrap_or(0.0).max(0.0))
        .sum();
    let cache = arr("BuildCache");
    let b_active = cache
        .iter()
        .filter(|x| x["InUse"].as_bool().unwrap_or(false))
        .count();
    let b_size: f64 = cache
        .iter()
        .map(|x| x["Size"].as_f64().unwrap_or(0.0))
        .sum();
    let b_reclaim: f64 = cache
        .iter()
        .filter(|x| {
            !x["InUse"].as_bool().unwrap_or(false) && !x["Shared"].as_bool().unwrap_or(false)
        })
        .map(|x| x["Size"].as_f64().unwrap_or(0.0))
        .sum();
    let rows = [
        json!({"Type": "Images", "TotalCount": images.len().to_string(), "Active": img_active.to_string(), "Size": format::human_size(img_size), "Reclaimable": pct(img_reclaim, img_size)}),
        json!({"Type": "Containers", "TotalCount": containers.len().to_string(), "Active": c_active.to_string(), "Size": format::human_size(c_size), "Reclaimable": pct(c_reclaim, c_size)}),
        json!({"Type": "Local Volumes", "TotalCount": volumes.len().to_string(), "Active": v_active.to_string(), "Size": format::human_size(v_size), "Reclaimable": pct(v_reclaim, v_size)}),
        json!({"Type": "Build Cache", "TotalCount": cache.len().to_string(), "Active": b_active.to_string(), "Size": format::human_size(b_size), "Reclaimable": format::human_size(b_reclaim)}),
    ];
    if a.verbose && a.format.is_none() {
        print_df_verbose(&images, &containers, &volumes, b_size);
        return Ok(0);
    }
    let fmt = a.format.clone().unwrap_or_else(|| {
        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}".into()
    });
    print_rows(&fmt, &rows, &|f| {
        Some(match f {
            "Type" => "TYPE",
            "TotalCount" => "TOTAL",
            "Active" => "ACTIVE",
            "Size" => "SIZE",
            "Reclaimable" => "RECLAIMABLE",
            _ => return None,
        })
    })?;
    Ok(0)
}

/// `system df -v` without `--format`: each kind's own table, as docker's
/// CLI prints them.
fn print_df_verbose(images: &[Value], containers: &[Value], volumes: &[Value], cache: f64) {
    let size = |v: &Value| format::human_size(v.as_f64().unwrap_or(0.0).max(0.0));
    let short = |id: &str| {
        id.trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect::<String>()
    };
    let mut lines = vec![
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS"
            .to_string(),
    ];
    for i in images {
        let tags: Vec<&str> = i["RepoTags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let names = if tags.is_empty() {
            vec!["<none>:<none>"]
        } else {
            tags
        };
        let shared = i["SharedSize"].as_f64().unwrap_or(-1.0);
        let unique = i["Size"].as_f64().unwrap_or(0.0) - shared.max(0.0);
        for t in names {
            let (repo, tag) = t.rsplit_once(':').unwrap_or((t, "<none>"));
            lines.push(format!(
                "{repo}\t{tag}\t{}\t{}\t{}\t{}\t{}\t{}",
                short(i["Id"].as_str().unwrap_or_default()),
                format::ago(i["Created"].as_i64().unwrap_or(0)),
                size(&i["Size"]),
                if shared < 0.0 {
                    "N/A".into()
                } else {
                    format::human_size(shared)
                },
                if shared < 0.0 {
                    "N/A".into()
                } else {
                    format::human_size(unique)
                },
                i["Containers"].as_i64().unwrap_or(0)
            ));
        }
    }
    print!("Images space usage:\n\n{}", format::tabwrite(&lines));
    let mut lines = vec![
        "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES".to_string(),
    ];
    for c in containers {
        let volumes = c["Mounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["Type"] == "volume")
            .count();
        let names: Vec<&str> = c["Names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|n| n.trim_start_matches('/'))
            .collect();
        lines.push(format!(
            "{}\t{}\t\"{}\"\t{volumes}\t{}\t{}\t{}\t{}",
            short(c["Id"].as_str().unwrap_or_default()),
            c["Image"].as_str().unwrap_or_default(),
            c["Command"].as_str().unwrap_or_default(),
            size(&c["SizeRw"]),
            format::ago(c["Created"].as_i64().unwrap_or(0)),
            c["Status"].as_str().unwrap_or_default(),
            names.join(",")
        ));
    }
    print!("\nContainers space usage:\n\n{}", format::tabwrite(&lines));
    let mut lines = vec!["VOLUME NAME\tLINKS\tSIZE".to_string()];
    for v in volumes {
        let usage = &v["UsageData"];
        lines.push(format!(
            "{}\t{}\t{}",
            v["Name"].as_str().unwrap_or_default(),
            usage["RefCount"].as_i64().unwrap_or(0),
            size(&usage["Size"])
        ));
    }
    print!(
        "\nLocal Volumes space usage:\n\n{}",
        format::tabwrite(&lines)
    );
    println!("\nBuild cache usage: {}\n", format::human_size(cache));
    print!(
        "{}",
        format::tabwrite(&[
            "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED".to_string()
        ])
    );
}

/// Prints rows through a template (`json` for one JSON object a line).
fn print_rows(
    fmt: &str,
    rows: &[Value],
    names: &dyn Fn(&str) -> Option<&'static str>,
) -> Result<()> {
    if fmt == "json" {
        for r in rows {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(());
    }
    let t = Template::parse(fmt)?;
    let mut lines = Vec::new();
    if t.table {
        lines.push(t.header(names));
    }
    for r in rows {
        lines.push(t.render(r)?);
    }
    if t.table {
        print!("{}", format::tabwrite(&lines));
    } else {
        for l in lines {
            println!("{l}");
        }
    }
    Ok(())
}

pub async fn info(e: &Engine, a: &InfoArgs) -> Result<i32> {
    let v = e.get_json("/info").await?;
    if let Some(f) = &a.format {
        if f == "json" {
            println!("{}", serde_json::to_string(&v)?);
        } else {
            println!("{}", Template::parse(f)?.render(&v)?);
        }
        return Ok(0);
    }
    let s = |k: &str| format::to_text(&v[k]);
    println!("Client:");
    println!(" Version:    {}", env!("CARGO_PKG_VERSION"));
    println!(" Context:    {}", e.host);
    println!();
    println!("Server:");
    println!(" Containers: {}", s("Containers"));
    println!("  Running: {}", s("ContainersRunning"));
    println!("  Paused: {}", s("ContainersPaused"));
    println!("  Stopped: {}", s("ContainersStopped"));
    println!(" Images: {}", s("Images"));
    println!(" Server Version: {}", s("ServerVersion"));
    for (label, key) in [
        ("Storage Driver", "Driver"),
        ("Logging Driver", "LoggingDriver"),
        ("Cgroup Driver", "CgroupDriver"),
        ("Cgroup Version", "CgroupVersion"),
    ] {
        if !v[key].is_null() {
            println!(" {label}: {}", s(key));
        }
    }
    if let Some(r) = v["Runtimes"].as_object() {
        let mut names: Vec<&String> = r.keys().collect();
        names.sort();
        println!(
            " Runtimes: {}",
            names
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if !v["DefaultRuntime"].is_null() {
        println!(" Default Runtime: {}", s("DefaultRuntime"));
    }
    for (label, key) in [
        ("Kernel Version", "KernelVersion"),
        ("Operating System", "OperatingSystem"),
        ("OSType", "OSType"),
        ("Architecture", "Architecture"),
        ("CPUs", "NCPU"),
    ] {
        if !v[key].is_null() {
            println!(" {label}: {}", s(key));
        }
    }
    if let Some(m) = v["MemTotal"].as_f64() {
        println!(" Total Memory: {}", format::bytes_size(m));
    }
    for (label, key) in [
        ("Name", "Name"),
        ("ID", "ID"),
        ("Docker Root Dir", "DockerRootDir"),
    ] {
        if !v[key].is_null() {
            println!(" {label}: {}", s(key));
        }
    }
    if let Some(w) = v["Warnings"].as_array() {
        for w in w {
            eprintln!("{}", w.as_str().unwrap_or_default());
        }
    }
    Ok(0)
}

pub async fn version(e: &Engine, a: &VersionArgs) -> Result<i32> {
    let client = json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": e.api_version,
        "DefaultAPIVersion": format!("{}.{}", bollard::API_DEFAULT_VERSION.major_version, bollard::API_DEFAULT_VERSION.minor_version),
        "Os": std::env::consts::OS,
        "Arch": go_arch(),
        "Context": e.host,
    });
    let server = e.get_json("/version").await;
    let all = json!({"Client": client, "Server": server.as_ref().ok()});
    if let Some(f) = &a.format {
        if f == "json" {
            println!("{}", serde_json::to_string(&all)?);
        } else {
            println!("{}", Template::parse(f)?.render(&all)?);
        }
        return server.map(|_| 0);
    }
    let c = &all["Client"];
    println!("Client:");
    println!(" Version:           {}", format::to_text(&c["Version"]));
    let default_api = c["DefaultAPIVersion"].as_str().unwrap_or_default();
    if e.api_version != default_api {
        println!(
            " API version:       {} (downgraded from {default_api})",
            e.api_version
        );
    } else {
        println!(" API version:       {}", e.api_version);
    }
    println!(" OS/Arch:           {}/{}", std::env::consts::OS, go_arch());
    println!(" Context:           {}", e.host);
    println!();
    let s = server?;
    let t = |k: &str| format::to_text(&s[k]);
    println!("Server:");
    println!(" Engine:");
    println!("  Version:          {}", t("Version"));
    println!(
        "  API version:      {} (minimum version {})",
        t("ApiVersion"),
        t("MinAPIVersion")
    );
    if !s["GoVersion"].is_null() {
        println!("  Go version:       {}", t("GoVersion"));
    }
    if !s["GitCommit"].is_null() {
        println!("  Git commit:       {}", t("GitCommit"));
    }
    if !s["BuildTime"].is_null() {
        println!("  Built:            {}", t("BuildTime"));
    }
    println!("  OS/Arch:          {}/{}", t("Os"), t("Arch"));
    if !s["Experimental"].is_null() {
        println!("  Experimental:     {}", t("Experimental"));
    }
    for comp in s["Components"].as_array().into_iter().flatten() {
        let name = comp["Name"].as_str().unwrap_or_default();
        if name == "Engine" {
            continue;
        }
        println!(" {name}:");
        println!("  Version:          {}", format::to_text(&comp["Version"]));
        if let Some(d) = comp["Details"].as_object() {
            for (k, v) in d {
                let k = if k == "GitCommit" {
                    "GitCommit"
                } else {
                    k.as_str()
                };
                println!("  {:<18}{}", format!("{k}:"), format::to_text(v));
            }
        }
    }
    Ok(0)
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub async fn events(e: &Engine, a: &EventsArgs) -> Result<i32> {
    let mut q = Vec::new();
    if let Some(s) = &a.since {
        q.push(format!("since={}", format::parse_timestamp(s)?));
    }
    if let Some(u) = &a.until {
        q.push(format!("until={}", format::parse_timestamp(u)?));
    }
    let f = format::filters(&a.filter)?;
    if !f.is_empty() {
        q.push(format!(
            "filters={}",
            berth_client::urlencode(&serde_json::to_string(&f)?)
        ));
    }
    let template = match a.format.as_deref() {
        None | Some("") | Some("json") => None,
        Some(f) => Some(Template::parse(f)?),
    };
    let mut body = e.stream("GET", &format!("/events?{}", q.join("&"))).await?;
    // A stream of JSON objects, split anywhere by the transport.
    let mut pending: Vec<u8> = Vec::new();
    while let Some(data) = body.next().await? {
        pending.extend_from_slice(data);
        let mut it = serde_json::Deserializer::from_slice(&pending).into_iter::<Value>();
        let mut used = 0;
        loop {
            match it.next() {
                Some(Ok(ev)) => {
                    let end = it.byte_offset();
                    // json: the engine's bytes, keys in its order.
                    let raw = String::from_utf8_lossy(&pending[used..end]);
                    print_event(&ev, raw.trim(), a.format.as_deref(), template.as_ref())?;
                    used = end;
                }
                Some(Err(err)) if err.is_eof() => break,
                Some(Err(err)) => return Err(anyhow!("decoding an event: {err}")),
                None => {
                    used = pending.len();
                    break;
                }
            }
        }
        pending.drain(..used);
    }
    Ok(0)
}

fn print_event(
    ev: &Value,
    raw: &str,
    format: Option<&str>,
    template: Option<&Template>,
) -> Result<()> {
    let line = if format == Some("json") {
        raw.to_string()
    } else if let Some(t) = template {
        // Docker's CLI renders events.Message, whose Go fields are named
        // apart from their JSON keys: ID is "id", Status "status", ...
        let mut go = ev.clone();
        if let Some(obj) = go.as_object_mut() {
            for (field, key) in [
                ("ID", "id"),
                ("Status", "status"),
                ("From", "from"),
                ("Scope", "scope"),
                ("Time", "time"),
                ("TimeNano", "timeNano"),
            ] {
                if let Some(v) = ev.get(key) {
                    obj.entry(field).or_insert_with(|| v.clone());
                }
            }
        }
        t.render(&go)?
    } else {
        let nanos = ev["timeNano"]
            .as_i64()
            .unwrap_or_else(|| ev["time"].as_i64().unwrap_or(0) * 1_000_000_000);
        let t = UNIX_EPOCH + Duration::from_nanos(nanos.max(0) as u64);
        let ts = humantime::format_rfc3339_nanos(t);
        let mut attrs: Vec<(String, String)> = ev["Actor"]["Attributes"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), format::to_text(v)))
                    .collect()
            })
            .unwrap_or_default();
        attrs.sort();
        let attrs = attrs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut l = format!(
            "{ts} {} {} {}",
            format::to_text(&ev["Type"]),
            format::to_text(&ev["Action"]),
            ev["Actor"]["ID"].as_str().unwrap_or_default()
        );
        if !attrs.is_empty() {
            l.push_str(&format!(" ({attrs})"));
        }
        l
    };
    let mut o = std::io::stdout().lock();
    writeln!(o, "{line}")?;
    o.flush()?;
    Ok(())
}

/// One stats sample as docker's columns.
fn stats_row(id: &str, name: &str, s: &Value, trunc: bool) -> Value {
    let cpu = &s["cpu_stats"];
    let pre = &s["precpu_stats"];
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let cpu_delta = f(&cpu["cpu_usage"]["total_usage"]) - f(&pre["cpu_usage"]["total_usage"]);
    let sys_delta = f(&cpu["system_cpu_usage"]) - f(&pre["system_cpu_usage"]);
    let online = cpu["online_cpus"]
        .as_f64()
        .filter(|n| *n > 0.0)
        .unwrap_or_else(|| {
            cpu["cpu_usage"]["percpu_usage"]
                .as_array()
                .map(|a| a.len() as f64)
                .unwrap_or(1.0)
        });
    let cpu_pct = if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    };
    let mem = &s["memory_stats"];
    let mut usage = f(&mem["usage"]);
    let inactive = mem["stats"]["total_inactive_file"]
        .as_f64()
        .or_else(|| mem["stats"]["inactive_file"].as_f64())
        .unwrap_or(0.0);
    if inactive < usage {
        usage -= inactive;
    }
    let limit = f(&mem["limit"]);
    let mem_pct = if limit > 0.0 {
        usage / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    if let Some(n) = s["networks"].as_object() {
        for v in n.values() {
            rx += f(&v["rx_bytes"]);
            tx += f(&v["tx_bytes"]);
        }
    }
    let (mut rd, mut wr) = (0.0, 0.0);
    for e in s["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match e["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => rd += f(&e["value"]),
            Some("write") => wr += f(&e["value"]),
            _ => {}
        }
    }
    let id_out = if trunc {
        id.chars().take(12).collect()
    } else {
        id.to_string()
    };
    json!({
        "Container": id_out.clone(),
        "ID": id_out,
        "Name": name,
        "CPUPerc": format!("{cpu_pct:.2}%"),
        "MemUsage": format!("{} / {}", format::bytes_size(usage), format::bytes_size(limit)),
        "MemPerc": format!("{mem_pct:.2}%"),
        "NetIO": format!("{} / {}", format::human_size(rx), format::human_size(tx)),
        "BlockIO": format!("{} / {}", format::human_size(rd), format::human_size(wr)),
        "PIDs": s["pids_stats"]["current"].as_u64().unwrap_or(0).to_string(),
    })
}

pub async fn stats(e: &Engine, a: &StatsArgs) -> Result<i32> {
    let fmt = a.format.clone().unwrap_or_else(|| {
        "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}".into()
    });
    let names = |f: &str| -> Option<&'static str> {
        Some(match f {
            "Container" => "CONTAINER",
            "ID" => "CONTAINER ID",
            "Name" => "NAME",
            "CPUPerc" => "CPU %",
            "MemUsage" => "MEM USAGE / LIMIT",
            "MemPerc" => "MEM %",
            "NetIO" => "NET I/O",
            "BlockIO" => "BLOCK I/O",
            "PIDs" => "PIDS",
            _ => return None,
        })
    };
    loop {
        let targets: Vec<(String, String)> = if a.containers.is_empty() {
            let list = e
                .get_json(&format!("/containers/json?all={}", a.all as u8))
                .await?;
            list.as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let name = c["Names"][0].as_str().unwrap_or_default();
                    (
                        c["Id"].as_str().unwrap_or_default().to_string(),
                        name.trim_start_matches('/').to_string(),
                    )
                })
                .collect()
        } else {
            let mut t = Vec::new();
            for n in &a.containers {
                let c = e.get_json(&format!("/containers/{n}/json")).await?;
                t.push((
                    c["Id"].as_str().unwrap_or_default().to_string(),
                    c["Name"]
                        .as_str()
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_string(),
                ));
            }
            t
        };
        let mut rows = Vec::new();
        for (id, name) in &targets {
            let s = e
                .get_json(&format!("/containers/{id}/stats?stream=0"))
                .await;
            match s {
                Ok(s) => rows.push(stats_row(id, name, &s, !a.no_trunc)),
                Err(err) if !a.containers.is_empty() => return Err(err),
                Err(_) => {}
            }
        }
        if !a.no_stream {
            print!("\x1b[2J\x1b[H");
        }
        print_rows(&fmt, &rows, &names)?;
        std::io::stdout().flush()?;
        if a.no_stream {
            return Ok(0);
        }
        if rows.is_empty() && !a.containers.is_empty() {
            return Err(anyhow!("no stats"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
