//! The merged project normalized, as compose-go's `Normalize` does:
//! defaults, the implicit `default` network, resource names, dependencies
//! implied by links and shared namespaces, variables without a value
//! taken from the environment.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// Defaults set on every loaded model (the main project's and each
/// included one's) before its paths are resolved.
pub fn defaults(dict: &mut Map<String, Value>) {
    if let Some(Value::Object(services)) = dict.get_mut("services") {
        for s in services.values_mut() {
            if let Some(Value::Object(b)) = s.get_mut("build") {
                b.entry("context").or_insert(json!("."));
            }
        }
    }
}

/// Variables named without a value (`environment: [FOO]`) set from the
/// environment when it has them.
pub fn resolve_environment(dict: &mut Map<String, Value>, env: &BTreeMap<String, String>) {
    let Some(Value::Object(services)) = dict.get_mut("services") else {
        return;
    };
    for s in services.values_mut() {
        if let Some(Value::Object(vars)) = s.get_mut("environment") {
            for (k, v) in vars.iter_mut() {
                if v.is_null()
                    && let Some(val) = env.get(k)
                {
                    *v = json!(val);
                }
            }
        }
    }
}

/// compose-go's `Normalize` on the whole project.
pub fn normalize(dict: &mut Map<String, Value>, name: &str, env: &BTreeMap<String, String>) {
    let mut uses_default = false;
    if let Some(Value::Object(services)) = dict.get_mut("services") {
        for s in services.values_mut() {
            let Value::Object(s) = s else { continue };
            if s.get("pull_policy").and_then(Value::as_str) == Some("if_not_present") {
                s.insert("pull_policy".into(), json!("missing"));
            }
            if let Some(Value::Object(b)) = s.get_mut("build") {
                b.entry("context").or_insert(json!("."));
                if !b.contains_key("dockerfile") && !b.contains_key("dockerfile_inline") {
                    b.insert("dockerfile".into(), json!("Dockerfile"));
                }
                if let Some(Value::Object(args)) = b.get_mut("args") {
                    // An argument without a value: the environment's, else
                    // none at all.
                    let names: Vec<String> = args.keys().cloned().collect();
                    for k in names {
                        if args[&k].is_null() {
                            match env.get(&k) {
                                Some(v) => {
                                    args.insert(k, json!(v));
                                }
                                None => {
                                    args.shift_remove(&k);
                                }
                            }
                        }
                    }
                }
            }
            if let Some(Value::Array(secrets)) = s.get_mut("secrets") {
                for r in secrets {
                    if let Value::Object(r) = r
                        && !r.contains_key("target")
                    {
                        let t = format!(
                            "/run/secrets/{}",
                            r.get("source").and_then(Value::as_str).unwrap_or_default()
                        );
                        r.insert("target".into(), json!(t));
                    }
                }
            }
            implied_dependencies(s);
            if !s.contains_key("network_mode") {
                let nets = s
                    .entry("networks")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(n) = nets {
                    if n.is_empty() {
                        n.insert("default".into(), json!({}));
                    }
                    uses_default |= n.contains_key("default");
                }
            }
        }
    }
    if uses_default {
        let nets = dict
            .entry("networks")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(n) = nets {
            n.entry("default").or_insert_with(|| json!({}));
        }
    }
    for kind in ["networks", "volumes", "secrets", "configs"] {
        let Some(Value::Object(objs)) = dict.get_mut(kind) else {
            continue;
        };
        for (key, o) in objs.iter_mut() {
            if o.is_null() {
                *o = json!({});
            }
            let Value::Object(o) = o else { continue };
            if !o.contains_key("name") {
                let external = o.get("external") == Some(&json!(true));
                let n = if external {
                    key.clone()
                } else {
                    format!("{name}_{key}")
                };
                o.insert("name".into(), json!(n));
            }
            if kind == "configs"
                && let Some(var) = o.get("environment").and_then(Value::as_str)
                && let Some(val) = env.get(var)
            {
                o.insert("content".into(), json!(val));
            }
        }
    }
}

/// `links`, `volumes_from` and `service:` namespaces are dependencies.
fn implied_dependencies(s: &mut Map<String, Value>) {
    let mut implied: Vec<(String, bool)> = Vec::new();
    if let Some(Value::Array(links)) = s.get("links") {
        for l in links.iter().filter_map(Value::as_str) {
            let name = match l.split(':').collect::<Vec<_>>().as_slice() {
                [n, _] => n.to_string(),
                _ => l.to_string(),
            };
            implied.push((name, true));
        }
    }
    for ns in ["network_mode", "ipc", "pid"] {
        if let Some(r) = s.get(ns).and_then(Value::as_str)
            && let Some(svc) = r.strip_prefix("service:")
        {
            implied.push((svc.to_string(), true));
        }
    }
    if let Some(Value::Array(from)) = s.get("volumes_from") {
        for v in from.iter().filter_map(Value::as_str) {
            if !v.starts_with("container:") {
                implied.push((v.split(':').next().unwrap_or(v).to_string(), false));
            }
        }
    }
    if implied.is_empty() {
        return;
    }
    let deps = s
        .entry("depends_on")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(d) = deps {
        for (name, restart) in implied {
            d.entry(name).or_insert_with(
                || json!({"condition": "service_started", "restart": restart, "required": true}),
            );
        }
    }
}
