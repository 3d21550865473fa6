//! `ps`: `GET /containers/json`, printed as docker prints it.

use anyhow::Result;
use serde_json::{Value, json};

use super::PsArgs;
use super::format;
use berth_client::{Engine, urlencode};

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// The table headers docker gives ps's fields.
fn header_name(field: &str) -> Option<&'static str> {
    Some(match field {
        "ID" => "CONTAINER ID",
        "Image" => "IMAGE",
        "Command" => "COMMAND",
        "CreatedAt" => "CREATED AT",
        "RunningFor" => "CREATED",
        "Status" => "STATUS",
        "Ports" => "PORTS",
        "Names" => "NAMES",
        "Labels" => "LABELS",
        "Label" => "LABEL",
        "State" => "STATE",
        "Size" => "SIZE",
        "Mounts" => "MOUNTS",
        "Networks" => "NETWORKS",
        "LocalVolumes" => "LOCAL VOLUMES",
        _ => return None,
    })
}

/// docker's Go type for a ps row.
const CONTEXT: &str = "*formatter.ContainerContext";

pub async fn ps(e: &Engine, a: &PsArgs) -> Result<i32> {
    let filters = format::filters(&a.filter)?;
    let limit = if a.latest { 1 } else { a.last };
    // As docker, a custom format is checked first: parsed as given, then run
    // once over an empty row; a template using .Size asks for sizes.
    let mut size = a.size;
    if let Some(f) = a.format.as_deref().filter(|f| !f.is_empty()) {
        let t = match berth_template::Template::parse(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("failed to parse template: {e}");
                return Ok(1);
            }
        };
        let empty = row(&json!({}), false);
        let env = format::ContextEnv::new(CONTEXT, &empty, Some(&Value::Null));
        if let Err(e) = t.execute_with(&empty, &env) {
            eprintln!("failed to execute template: {e}");
            return Ok(1);
        }
        size |= !a.quiet && env.used("Size");
    }
    let mut q = format!("all={}&size={}", (a.all || limit > 0) as u8, size as u8);
    if limit > 0 {
        q.push_str(&format!("&limit={limit}"));
    }
    if !filters.is_empty() {
        q.push_str(&format!(
            "&filters={}",
            urlencode(&serde_json::to_string(&filters)?)
        ));
    }
    // The engine's JSON as it is: an unknown state or field cannot fail ps.
    let list = e.get_json(&format!("/containers/json?{q}")).await?;
    let list: Vec<Value> = list.as_array().cloned().unwrap_or_default();

    if a.quiet {
        for c in &list {
            let id = c["Id"].as_str().unwrap_or_default();
            println!(
                "{}",
                if a.no_trunc {
                    id
                } else {
                    &id[..id.len().min(12)]
                }
            );
        }
        return Ok(0);
    }
    let fmt = match a.format.as_deref() {
        None | Some("") | Some("table") => {
            if a.size {
                format!("{DEFAULT_TABLE}\t{{{{.Size}}}}")
            } else {
                DEFAULT_TABLE.to_string()
            }
        }
        Some(f) => f.to_string(),
    };
    let rows: Vec<format::ContextRow> = list
        .iter()
        .map(|c| format::ContextRow {
            fields: row(c, !a.no_trunc),
            labels: Some(c["Labels"].clone()),
        })
        .collect();
    format::print_context_rows(
        &fmt,
        CONTEXT,
        &rows,
        &header_name,
        &mut std::io::stdout().lock(),
    )
}

/// Docker's ps fields for one container: the methods of docker's
/// `ContainerContext` without arguments (`Label` is the env's).
fn row(c: &Value, trunc: bool) -> Value {
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    let id = s("Id");
    let mut image = s("Image");
    if image.is_empty() {
        image = "<no image>".to_string();
    }
    if trunc && image.starts_with("sha256:") {
        image = image["sha256:".len()..].chars().take(12).collect();
    }
    let mut command = s("Command");
    if trunc && command.chars().count() > 20 {
        command = command.chars().take(19).collect::<String>() + "…";
    }
    let command = format!("{command:?}");
    let created = c["Created"].as_i64().unwrap_or(0);
    let names: Vec<String> = c["Names"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str())
                .map(|n| n.trim_start_matches('/'))
                .filter(|n| !trunc || !n.contains('/'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let mut labels: Vec<(String, String)> = c["Labels"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    labels.sort();
    let labels_text = labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let mounts: Vec<String> = c["Mounts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    let name = m["Name"].as_str().filter(|n| !n.is_empty());
                    let mut n = name
                        .map(str::to_string)
                        .unwrap_or_else(|| m["Source"].as_str().unwrap_or_default().to_string());
                    if trunc && n.chars().count() > 15 {
                        n = n.chars().take(14).collect::<String>() + "…";
                    }
                    n
                })
                .collect()
        })
        .unwrap_or_default();
    let local_volumes = c["Mounts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|m| m["Driver"].as_str() == Some("local"))
                .count()
        })
        .unwrap_or(0);
    let mut networks: Vec<String> = c["NetworkSettings"]["Networks"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    networks.sort();
    let size = match (c["SizeRw"].as_i64(), c["SizeRootFs"].as_i64()) {
        (None, None) => "0B".to_string(),
        (rw, root) => {
            let rw = rw.unwrap_or(0);
            let mut s = format::human_size_prec(rw as f64, 3);
            if let Some(r) = root
                && r > 0
            {
                s.push_str(&format!(
                    " (virtual {})",
                    format::human_size_prec(r as f64, 3)
                ));
            }
            s
        }
    };
    json!({
        "Command": command,
        "CreatedAt": format::go_time(created),
        "ID": if trunc { id.chars().take(12).collect::<String>() } else { id.clone() },
        "Image": image,
        "Labels": labels_text,
        "LocalVolumes": local_volumes.to_string(),
        "Mounts": mounts.join(","),
        "Names": names.join(","),
        "Networks": networks.join(","),
        // A nil *Platform unless the engine names the image's platform.
        "Platform": c["ImageManifestDescriptor"]["platform"].clone(),
        "Ports": ports(&c["Ports"]),
        "RunningFor": format::ago(created),
        "Size": size,
        "State": s("State"),
        "Status": s("Status"),
    })
}

/// `0.0.0.0:8080->80/tcp, 443/tcp`, in docker's order.
fn ports(p: &Value) -> String {
    let Some(list) = p.as_array() else {
        return String::new();
    };
    let mut items: Vec<(u64, String)> = list
        .iter()
        .map(|p| {
            let private = p["PrivatePort"].as_u64().unwrap_or(0);
            let typ = p["Type"].as_str().unwrap_or("tcp");
            let text = match (p["IP"].as_str(), p["PublicPort"].as_u64()) {
                (Some(ip), Some(public)) if public != 0 => {
                    let ip = if ip.contains(':') {
                        format!("[{ip}]")
                    } else {
                        ip.to_string()
                    };
                    format!("{ip}:{public}->{private}/{typ}")
                }
                _ => format!("{private}/{typ}"),
            };
            (private, text)
        })
        .collect();
    items.sort();
    items.dedup_by(|a, b| a.1 == b.1);
    items
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(", ")
}
