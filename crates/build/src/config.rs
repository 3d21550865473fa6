//! What the metadata instructions (ENV, LABEL, CMD, EXPOSE, ...) do to an
//! image's config, in moby's shapes: `Env` as `K=V` strings, `Labels`,
//! `ExposedPorts` and `Volumes` as maps, `Healthcheck` durations in
//! nanoseconds.

use serde_json::{Map, Value, json};

/// The config a `FROM scratch` starts with.
pub fn scratch() -> Value {
    json!({
        "architecture": host_arch(),
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    })
}

/// The host's architecture in OCI's words.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn section(config: &mut Value) -> &mut Map<String, Value> {
    if !config["config"].is_object() {
        config["config"] = json!({});
    }
    config["config"]
        .as_object_mut()
        .expect("made an object above")
}

/// The `K=V` environment of the config.
pub fn env(config: &Value) -> Vec<String> {
    config["config"]["Env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn env_get(config: &Value, key: &str) -> Option<String> {
    env(config)
        .into_iter()
        .find_map(|e| e.strip_prefix(&format!("{key}=")).map(str::to_string))
}

pub fn set_env(config: &mut Value, key: &str, value: &str) {
    let mut env = env(config);
    let kv = format!("{key}={value}");
    match env.iter().position(|e| e.split('=').next() == Some(key)) {
        Some(i) => env[i] = kv,
        None => env.push(kv),
    }
    section(config).insert("Env".into(), json!(env));
}

pub fn set(config: &mut Value, field: &str, value: Value) {
    section(config).insert(field.into(), value);
}

pub fn get<'a>(config: &'a Value, field: &str) -> &'a Value {
    &config["config"][field]
}

/// Adds `key` to a map field (`Labels` with a value, `ExposedPorts` and
/// `Volumes` with `{}`).
pub fn map_insert(config: &mut Value, field: &str, key: &str, value: Value) {
    let s = section(config);
    if !s.get(field).is_some_and(Value::is_object) {
        s.insert(field.into(), json!({}));
    }
    s[field]
        .as_object_mut()
        .expect("made an object above")
        .insert(key.into(), value);
}

/// EXPOSE's `80`, `80/udp`, `8000-8002/tcp` as `ExposedPorts` keys.
pub fn exposed_ports(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let parse = |p: &str| -> Result<u16, String> {
        p.parse().map_err(|_| format!("invalid containerPort: {p}"))
    };
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => (parse(ports)?, parse(ports)?),
    };
    if hi < lo {
        return Err(format!(
            "invalid range specified for container port: {ports}"
        ));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// A HEALTHCHECK's duration flag in nanoseconds, refusing what Docker
/// refuses (below 1ms, except 0 for the default).
pub fn health_duration(flag: &str, s: &str) -> Result<i64, String> {
    let ns = berth_units::parse_go_duration(s).map_err(|e| format!("--{flag}: {e}"))?;
    if ns != 0 && ns < 1_000_000 {
        return Err(format!("Interval \"{flag}\" cannot be less than 1ms"));
    }
    Ok(ns)
}
