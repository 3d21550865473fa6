//! One service, every short syntax made long: what is left is the model's
//! [`Service`](crate::model::Service) as JSON, plus what the loader still
//! needs (`extends`, `env_file`), with host paths as written.

use serde_json::{Map, Value, json};

use super::values::{
    Cx, Loc, boolean, check_name, float, integer, key_values, list, mode, object, scalar_string,
    scalar_strings, size, string, string_or_list, strings,
};
use super::{build, deploy, ports, shell, volumes};
use crate::load::error::LoadError;

/// Keys compose knows that berth does not implement yet.
const UNSUPPORTED: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "gpus",
    "isolation",
    "label_file",
    "mem_swappiness",
    "models",
    "post_start",
    "pre_start",
    "pre_stop",
    "provider",
    "pull_refresh_after",
    "storage_opt",
    "use_api_socket",
    "uts",
];

pub fn service(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        if v.is_null() {
            continue;
        }
        let c = match k.as_str() {
            "image" | "container_name" | "network_mode" | "restart" | "user" | "working_dir"
            | "hostname" | "domainname" | "stop_signal" | "pid" | "ipc" | "pull_policy"
            | "platform" | "cpuset" | "cgroup_parent" | "runtime" | "userns_mode"
            | "mac_address" => json!(string(v, &a, cx)?),
            "init" | "read_only" | "privileged" | "tty" | "stdin_open" | "oom_kill_disable" => {
                json!(boolean(v, &a, cx)?)
            }
            "oom_score_adj" | "pids_limit" | "cpu_shares" => json!(integer(v, &a, cx)?),
            "scale" => json!(deploy::replicas(v, &a, cx)?),
            "mem_limit" | "shm_size" | "mem_reservation" | "memswap_limit" => {
                json!(size(v, &a, cx)?)
            }
            "cpus" => json!(float(v, &a, cx)?),
            "stop_grace_period" => json!(super::values::duration(v, &a, cx)?),
            "command" | "entrypoint" => command(v, &a, cx)?,
            "environment" => Value::Object(key_values(v, &a, cx, true)?),
            "labels" => Value::Object(key_values(v, &a, cx, false)?),
            "sysctls" => Value::Object(key_values(v, &a, cx, false)?),
            "env_file" => env_file(v, &a, cx)?,
            "build" => build::build(v, &a, cx)?,
            "ports" => ports::ports(v, &a, cx)?,
            "expose" => Value::Array(scalar_strings(v, &a, cx)?),
            "volumes" => volumes::volumes(v, &a, cx)?,
            "tmpfs" | "dns" | "dns_search" => Value::Array(string_or_list(v, &a, cx)?),
            "cap_add" | "cap_drop" | "dns_opt" | "security_opt" | "profiles" | "links"
            | "external_links" | "volumes_from" => Value::Array(strings(v, &a, cx)?),
            "group_add" => Value::Array(scalar_strings(v, &a, cx)?),
            "devices" => devices(v, &a, cx)?,
            "networks" => networks(v, &a, cx)?,
            "depends_on" => depends_on(v, &a, cx)?,
            "healthcheck" => deploy::healthcheck(v, &a, cx)?,
            "deploy" => deploy::deploy(v, &a, cx)?,
            "logging" => deploy::logging(v, &a, cx)?,
            "ulimits" => deploy::ulimits(v, &a, cx)?,
            "secrets" | "configs" => file_refs(v, &a, cx)?,
            "extra_hosts" => extra_hosts(v, &a, cx)?,
            "extends" => extends(v, &a, cx)?,
            k if k.starts_with("x-") => continue,
            k if UNSUPPORTED.contains(&k) => return Err(cx.unsupported(at, k)),
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    Ok(Value::Object(out))
}

/// A string split as a shell would, or a list of strings.
fn command(v: Value, at: &Loc, cx: &Cx) -> Result<Value, LoadError> {
    match v {
        Value::String(s) => {
            let words = shell::split(&s).map_err(|e| cx.invalid(at, e))?;
            Ok(json!(words))
        }
        Value::Array(_) => Ok(Value::Array(strings(v, at, cx)?)),
        _ => Err(cx.invalid(at, "must be a string or list")),
    }
}

/// `env_file`: a path, or a list of paths and `{path, required, format}`.
fn env_file(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let items = match v {
        Value::String(s) => vec![Value::String(s)],
        Value::Array(a) => a,
        _ => return Err(cx.invalid(at, "must be a string or list")),
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let a = at.index(i);
        let mut e = Map::new();
        match item {
            Value::String(p) => {
                e.insert("path".into(), json!(p));
            }
            Value::Object(m) => {
                for (k, v) in m {
                    let c = match k.as_str() {
                        "path" | "format" => json!(string(v, &a.key(&k), cx)?),
                        "required" => json!(boolean(v, &a.key(&k), cx)?),
                        _ => return Err(cx.unknown(&a, &k)),
                    };
                    e.insert(k, c);
                }
                if !e.contains_key("path") {
                    return Err(cx.invalid(&a, "missing property 'path'"));
                }
            }
            _ => return Err(cx.invalid(&a, "must be a string or mapping")),
        }
        e.entry("required").or_insert(json!(true));
        out.push(Value::Object(e));
    }
    Ok(Value::Array(out))
}

/// `devices`: `host[:container[:permissions]]` or `{source, target,
/// permissions}`, as the first.
fn devices(v: Value, at: &Loc, cx: &Cx) -> Result<Value, LoadError> {
    let mut out = Vec::new();
    for (i, item) in list(v, at, cx)?.into_iter().enumerate() {
        let a = at.index(i);
        let s = match item {
            Value::String(s) => s,
            Value::Object(m) => {
                let (mut src, mut dst, mut perm) = (None, None, None);
                for (k, v) in m {
                    let s = string(v, &a.key(&k), cx)?;
                    match k.as_str() {
                        "source" => src = Some(s),
                        "target" => dst = Some(s),
                        "permissions" => perm = Some(s),
                        k if k.starts_with("x-") => {}
                        _ => return Err(cx.unknown(&a, &k)),
                    }
                }
                let src = src.ok_or_else(|| cx.invalid(&a, "missing property 'source'"))?;
                let dst = dst.unwrap_or_else(|| src.clone());
                match perm {
                    Some(p) => format!("{src}:{dst}:{p}"),
                    None => format!("{src}:{dst}"),
                }
            }
            _ => return Err(cx.invalid(&a, "must be a string or mapping")),
        };
        out.push(json!(s));
    }
    Ok(Value::Array(out))
}

/// A list of network names, or a mapping of names to null or options.
fn networks(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    match v {
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                out.insert(string(item, &at.index(i), cx)?, json!({}));
            }
        }
        Value::Object(m) => {
            for (name, opts) in m {
                check_name(&name, at, cx)?;
                let a = at.key(&name);
                let mut o = Map::new();
                for (k, v) in object(opts, &a, cx)? {
                    let b = a.key(&k);
                    if v.is_null() {
                        continue;
                    }
                    let c = match k.as_str() {
                        "aliases" => Value::Array(strings(v, &b, cx)?),
                        "ipv4_address" | "ipv6_address" => json!(string(v, &b, cx)?),
                        "priority" => json!(integer(v, &b, cx)?),
                        "interface_name" | "link_local_ips" | "mac_address" | "driver_opts"
                        | "gw_priority" => return Err(cx.unsupported(&a, &k)),
                        k if k.starts_with("x-") => continue,
                        _ => return Err(cx.unknown(&a, &k)),
                    };
                    o.insert(k, c);
                }
                out.insert(name, Value::Object(o));
            }
        }
        _ => return Err(cx.invalid(at, "must be a mapping or list")),
    }
    Ok(Value::Object(out))
}

/// A list of services (started), or a mapping to `{condition, restart,
/// required}`.
fn depends_on(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    match v {
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                let name = string(item, &at.index(i), cx)?;
                out.insert(
                    name,
                    json!({"condition": "service_started", "required": true}),
                );
            }
        }
        Value::Object(m) => {
            for (name, d) in m {
                let a = at.key(&name);
                let mut o = Map::new();
                for (k, v) in object(d, &a, cx)? {
                    let b = a.key(&k);
                    let c = match k.as_str() {
                        "condition" => {
                            let c = string(v, &b, cx)?;
                            if !matches!(
                                c.as_str(),
                                "service_started"
                                    | "service_healthy"
                                    | "service_completed_successfully"
                            ) {
                                return Err(cx.invalid(
                                    &b,
                                    "must be one of \"service_started\", \"service_healthy\", \"service_completed_successfully\"",
                                ));
                            }
                            json!(c)
                        }
                        "restart" | "required" => json!(boolean(v, &b, cx)?),
                        k if k.starts_with("x-") => continue,
                        _ => return Err(cx.unknown(&a, &k)),
                    };
                    o.insert(k, c);
                }
                o.entry("condition").or_insert(json!("service_started"));
                o.entry("required").or_insert(json!(true));
                out.insert(name, Value::Object(o));
            }
        }
        _ => return Err(cx.invalid(at, "must be a mapping or list")),
    }
    Ok(Value::Object(out))
}

/// `secrets` and `configs` of a service: names, or `{source, target, uid,
/// gid, mode}`.
fn file_refs(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Vec::new();
    for (i, item) in list(v, at, cx)?.into_iter().enumerate() {
        let a = at.index(i);
        match item {
            Value::String(s) => out.push(json!({ "source": s })),
            Value::Object(m) => {
                let mut o = Map::new();
                for (k, v) in m {
                    let b = a.key(&k);
                    let c = match k.as_str() {
                        "source" | "target" => json!(string(v, &b, cx)?),
                        "uid" | "gid" => json!(scalar_string(v, &b, cx)?),
                        "mode" => json!(mode(v, &b, cx)?),
                        k if k.starts_with("x-") => continue,
                        _ => return Err(cx.unknown(&a, &k)),
                    };
                    o.insert(k, c);
                }
                if !o.contains_key("source") {
                    return Err(cx.invalid(&a, "missing property 'source'"));
                }
                out.push(Value::Object(o));
            }
            _ => return Err(cx.invalid(&a, "must be a string or mapping")),
        }
    }
    Ok(Value::Array(out))
}

/// `extra_hosts`: `host:ip`, `host=ip` or a mapping of host to an address
/// or a list of them; kept as `host:ip`, the Engine API's form (an IPv6
/// address without its brackets).
pub fn extra_hosts(v: Value, at: &Loc, cx: &Cx) -> Result<Value, LoadError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    match v {
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                let a = at.index(i);
                let s = scalar_string(item, &a, cx)?;
                let (h, ips) =
                    s.split_once('=')
                        .or_else(|| s.split_once(':'))
                        .ok_or_else(|| {
                            cx.invalid(&a, format!("invalid additional host, missing IP: {s}"))
                        })?;
                for ip in ips.split(',') {
                    pairs.push((h.to_string(), ip.to_string()));
                }
            }
        }
        Value::Object(m) => {
            for (h, ips) in m {
                let a = at.key(&h);
                match ips {
                    Value::Array(items) => {
                        for (i, ip) in items.into_iter().enumerate() {
                            pairs.push((h.clone(), scalar_string(ip, &a.index(i), cx)?));
                        }
                    }
                    Value::Null => pairs.push((h, String::new())),
                    ip => pairs.push((h, scalar_string(ip, &a, cx)?)),
                }
            }
        }
        _ => return Err(cx.invalid(at, "must be a mapping or list")),
    }
    let mut out = Vec::new();
    for (h, ip) in pairs {
        if h.is_empty() || h.contains([':', '=']) {
            return Err(cx.invalid(at, format!("bad host name '{h}'")));
        }
        let ip = ip
            .strip_prefix('[')
            .and_then(|i| i.strip_suffix(']'))
            .unwrap_or(&ip);
        out.push(json!(format!("{h}:{ip}")));
    }
    Ok(Value::Array(out))
}

/// `extends: base` or `extends: {service: base, file: other.yaml}`.
fn extends(v: Value, at: &Loc, cx: &Cx) -> Result<Value, LoadError> {
    match v {
        Value::String(s) => Ok(json!({ "service": s })),
        Value::Object(m) => {
            let mut o = Map::new();
            for (k, v) in m {
                let c = match k.as_str() {
                    "service" | "file" => json!(string(v, &at.key(&k), cx)?),
                    _ => return Err(cx.unknown(at, &k)),
                };
                o.insert(k, c);
            }
            if !o.contains_key("service") {
                return Err(cx.invalid(at, "missing property 'service'"));
            }
            Ok(Value::Object(o))
        }
        _ => Err(cx.invalid(at, "must be a string or mapping")),
    }
}
