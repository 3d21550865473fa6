//! `GET /containers/{id}/stats`: moby's stats JSON from the container's
//! cgroups, once (`stream=false`) or every second.

use std::sync::Arc;
use std::time::Duration;

use berth_engine::Engine;
use bytes::Bytes;
use hyper::Response;
use serde_json::{Value, json};

use crate::Body;
use crate::containers::engine_error;
use crate::routes::{Query, first};

fn system_cpu_usage() -> u64 {
    // The first line of /proc/stat in clock ticks (USER_HZ 100) -> ns.
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks * 10_000_000
}

/// No limit reads as the host's memory, as dockerd reports it.
fn memory_limit(limit: u64) -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(u64::MAX, |kb| kb * 1024);
    if limit == 0 { total } else { limit.min(total) }
}

async fn sample(engine: &Engine, id: &str, name: &str) -> Value {
    let s = engine.stats(id).await.ok().flatten().unwrap_or(Value::Null);
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let usage = &s["cpu"]["usage"];
    let mem = &s["memory"];
    json!({
        "read": humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        "preread": "0001-01-01T00:00:00Z",
        "id": id,
        "name": format!("/{name}"),
        "pids_stats": {"current": s["pids"]["current"], "limit": s["pids"]["limit"]},
        "cpu_stats": {
            "cpu_usage": {
                "total_usage": usage["total"].as_u64().unwrap_or(0),
                "usage_in_kernelmode": usage["kernel"].as_u64().unwrap_or(0),
                "usage_in_usermode": usage["user"].as_u64().unwrap_or(0),
            },
            "system_cpu_usage": system_cpu_usage(),
            "online_cpus": ncpu,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
        "memory_stats": {
            "usage": mem["usage"]["usage"].as_u64().unwrap_or(0),
            "limit": memory_limit(mem["usage"]["limit"].as_u64().unwrap_or(0)),
            "max_usage": mem["usage"]["max"].as_u64().unwrap_or(0),
            "stats": mem["raw"],
        },
        "blkio_stats": {},
        "networks": {},
    })
}

pub async fn stats(engine: Arc<Engine>, name: &str, q: &Query) -> Response<Body> {
    let c = match engine.get(name) {
        Ok(c) => c,
        Err(e) => return engine_error(e),
    };
    let stream = !matches!(first(q, "stream"), Some("0" | "false" | "False"));
    let one_shot = matches!(first(q, "one-shot"), Some("1" | "true"));
    let (tx, body) = crate::stream::async_channel();
    tokio::spawn(async move {
        let mut pre: Option<Value> = None;
        loop {
            let mut v = sample(&engine, &c.id, &c.name).await;
            if let Some(p) = pre.take() {
                v["precpu_stats"] = p["cpu_stats"].clone();
                v["preread"] = p["read"].clone();
            } else if !stream && !one_shot {
                // Like dockerd, a single sample carries a second's delta.
                tokio::time::sleep(Duration::from_secs(1)).await;
                let first = v;
                v = sample(&engine, &c.id, &c.name).await;
                v["precpu_stats"] = first["cpu_stats"].clone();
                v["preread"] = first["read"].clone();
            }
            let mut bytes = serde_json::to_vec(&v).expect("json serializes");
            bytes.push(b'\n');
            if tx.send(Bytes::from(bytes)).await.is_err() || !stream {
                return;
            }
            pre = Some(v);
            tokio::time::sleep(Duration::from_secs(1)).await;
            if !engine.get(&c.id).is_ok_and(|c| c.is_running()) {
                return;
            }
        }
    });
    Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .body(body)
        .expect("a valid response")
}
