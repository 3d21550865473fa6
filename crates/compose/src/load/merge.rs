//! Merging a file over the files before it (and a service over the one it
//! extends), with compose-go's override rules, on canonical values:
//! mappings merge key by key; lists are appended, then made unique by
//! their key (ports by `ip:published:target/protocol`, volumes by target,
//! secrets and configs by their path in the container, environment and
//! labels by name, ...); `command`, `entrypoint`, `healthcheck.test` and
//! each `ulimits` entry are replaced whole; `logging` options merge only
//! when the driver is the same; a null in the override keeps what was
//! there; `!reset` removes a key and `!override` replaces it.

use serde_json::{Map, Value};

use super::normalize::port_key;
use super::yaml::TaggedPath;

enum Rule {
    Generic,
    Replace,
    /// A mapping where the override's entries win, nulls included.
    KeyValue,
    /// A list appended with what it does not hold yet.
    AppendNew,
    Logging,
    IpamConfig,
}

fn rule(path: &[String]) -> Rule {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        ["services", _, "command" | "entrypoint"]
        | ["services", _, "healthcheck", "test"]
        | ["services", _, "ulimits", _] => Rule::Replace,
        ["services", _, "environment" | "labels" | "sysctls"]
        | ["services", _, "build", "args" | "labels"]
        | ["services", _, "deploy", "labels"]
        | ["networks" | "volumes", _, "labels"] => Rule::KeyValue,
        ["services", _, "extra_hosts"] | ["services", _, "build", "extra_hosts"] => Rule::AppendNew,
        ["services", _, "logging"] => Rule::Logging,
        ["networks", _, "ipam", "config"] => Rule::IpamConfig,
        _ => Rule::Generic,
    }
}

/// `over` merged onto `base`, `path` naming where they are (`services`,
/// `web`, ...).
pub fn merge(base: Value, over: Value, path: &mut Vec<String>) -> Value {
    match rule(path) {
        Rule::Replace => {
            if over.is_null() {
                base
            } else {
                over
            }
        }
        Rule::KeyValue => match (base, over) {
            (Value::Object(mut b), Value::Object(o)) => {
                for (k, v) in o {
                    b.insert(k, v);
                }
                Value::Object(b)
            }
            (b, Value::Null) => b,
            (_, o) => o,
        },
        Rule::AppendNew => match (base, over) {
            (Value::Array(mut b), Value::Array(o)) => {
                for v in o {
                    if !b.contains(&v) {
                        b.push(v);
                    }
                }
                Value::Array(b)
            }
            (b, Value::Null) => b,
            (_, o) => o,
        },
        Rule::Logging => {
            let same = match (base.get("driver"), over.get("driver")) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
            if same {
                generic(base, over, path)
            } else {
                over
            }
        }
        Rule::IpamConfig => match (base, over) {
            (Value::Array(mut b), Value::Array(o)) => {
                for pool in o {
                    let subnet = pool.get("subnet").cloned();
                    match b.iter_mut().find(|p| p.get("subnet").cloned() == subnet) {
                        Some(existing) => {
                            let e = std::mem::take(existing);
                            *existing = generic(e, pool, path);
                        }
                        None => b.push(pool),
                    }
                }
                Value::Array(b)
            }
            (b, Value::Null) => b,
            (_, o) => o,
        },
        Rule::Generic => generic(base, over, path),
    }
}

fn generic(base: Value, over: Value, path: &mut Vec<String>) -> Value {
    match (base, over) {
        (b, Value::Null) => b,
        (Value::Object(mut b), Value::Object(o)) => {
            for (k, v) in o {
                let merged = match b.get_mut(&k) {
                    Some(existing) => {
                        let e = std::mem::take(existing);
                        path.push(k.clone());
                        let m = merge(e, v, path);
                        path.pop();
                        m
                    }
                    None => v,
                };
                b.insert(k, merged);
            }
            Value::Object(b)
        }
        (Value::Array(mut b), Value::Array(o)) => {
            b.extend(o);
            Value::Array(b)
        }
        (_, o) => o,
    }
}

/// The top level of a file merged onto what was loaded before it.
pub fn merge_file(dict: &mut Map<String, Value>, file: Map<String, Value>) {
    let mut path = Vec::new();
    let base = Value::Object(std::mem::take(dict));
    if let Value::Object(m) = merge(base, Value::Object(file), &mut path) {
        *dict = m;
    }
    unique_services(dict);
}

/// What `!reset` and `!override` tagged in a file, removed from what the
/// file merges onto.
pub fn apply_tags(target: &mut Map<String, Value>, tags: &[TaggedPath]) {
    for t in tags {
        remove_path(target, &t.path);
    }
}

fn remove_path(m: &mut Map<String, Value>, path: &[String]) {
    match path {
        [] => {}
        [last] => {
            m.shift_remove(last);
        }
        [first, rest @ ..] => {
            if let Some(Value::Object(inner)) = m.get_mut(first) {
                remove_path(inner, rest);
            }
        }
    }
}

/// Each service's lists made unique by their key, the later entry
/// replacing the earlier one in its place.
pub fn unique_services(dict: &mut Map<String, Value>) {
    let Some(Value::Object(services)) = dict.get_mut("services") else {
        return;
    };
    for service in services.values_mut() {
        let Value::Object(s) = service else { continue };
        unique_service(s);
    }
}

pub fn unique_service(s: &mut Map<String, Value>) {
    for (key, list) in s.iter_mut() {
        let Value::Array(items) = list else { continue };
        let f: fn(&Value) -> String = match key.as_str() {
            "ports" => port_key,
            "volumes" => |v| super::normalize::volumes::merge_key(v),
            "secrets" => |v| mount_key(v, "/run/secrets/"),
            "configs" => |v| mount_key(v, "/"),
            "env_file" => |v| {
                v.get("path")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into()
            },
            "devices" => |v| {
                let s = v.as_str().unwrap_or_default();
                let mut parts = s.split(':');
                let first = parts.next().unwrap_or_default();
                parts.next().unwrap_or(first).to_string()
            },
            "tmpfs" => |v| {
                let s = v.as_str().unwrap_or_default();
                s.split(':').next().unwrap_or_default().to_string()
            },
            "expose" | "dns" | "dns_opt" | "dns_search" | "cap_add" | "cap_drop" | "profiles"
            | "links" => |v| v.as_str().unwrap_or_default().to_string(),
            _ => continue,
        };
        dedup(items, f);
    }
    if let Some(Value::Object(nets)) = s.get_mut("networks") {
        for n in nets.values_mut() {
            if let Some(Value::Array(aliases)) = n.get_mut("aliases") {
                dedup(aliases, |v| v.as_str().unwrap_or_default().to_string());
            }
        }
    }
}

fn mount_key(v: &Value, prefix: &str) -> String {
    match v.get("target").and_then(Value::as_str) {
        Some(t) => t.to_string(),
        None => format!(
            "{prefix}{}",
            v.get("source").and_then(Value::as_str).unwrap_or_default()
        ),
    }
}

fn dedup(items: &mut Vec<Value>, key: fn(&Value) -> String) {
    let mut keys: Vec<String> = Vec::new();
    let mut out: Vec<Value> = Vec::new();
    for item in items.drain(..) {
        let k = key(&item);
        match keys.iter().position(|x| *x == k) {
            Some(i) => out[i] = item,
            None => {
                keys.push(k);
                out.push(item);
            }
        }
    }
    *items = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn override_rules() {
        let mut dict = m(json!({"services": {"web": {
            "image": "a",
            "command": ["x", "y"],
            "environment": {"A": "1", "B": "2"},
            "ports": [{"target": 80, "published": "8080", "protocol": "tcp"}],
            "volumes": [{"type": "volume", "source": "d", "target": "/data"}],
            "cap_add": ["NET_ADMIN"],
            "logging": {"driver": "json-file", "options": {"max-size": "1m"}},
        }}}));
        merge_file(
            &mut dict,
            m(json!({"services": {"web": {
                "image": "b",
                "command": ["z"],
                "environment": {"B": null, "C": "3"},
                "ports": [{"target": 80, "published": "8080", "protocol": "tcp", "mode": "host"}, {"target": 81, "protocol": "tcp"}],
                "volumes": [{"type": "bind", "source": "/h", "target": "/data"}],
                "cap_add": ["NET_ADMIN", "SYS_TIME"],
                "logging": {"driver": "syslog"},
            }}})),
        );
        assert_eq!(
            Value::Object(dict),
            json!({"services": {"web": {
                "image": "b",
                "command": ["z"],
                "environment": {"A": "1", "B": null, "C": "3"},
                "ports": [{"target": 80, "published": "8080", "protocol": "tcp", "mode": "host"}, {"target": 81, "protocol": "tcp"}],
                "volumes": [{"type": "bind", "source": "/h", "target": "/data"}],
                "cap_add": ["NET_ADMIN", "SYS_TIME"],
                "logging": {"driver": "syslog"},
            }}})
        );
    }
}
