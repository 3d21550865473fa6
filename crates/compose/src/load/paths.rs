//! Host paths made absolute against the directory a file's paths are
//! relative to (the project directory for the `-f` files, an included
//! project's directory, an extended file's directory), `~` expanded: build
//! contexts (unless remote), `env_file`s, bind mount sources, secret and
//! config files, a local volume's bind `device`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::normalize::volumes::clean;

/// `p` made absolute against `base`: `~` and `~/x` are the home directory.
pub fn absolute(p: &str, base: &Path, env: &BTreeMap<String, String>) -> String {
    let p = expand_user(p, env);
    if p.starts_with('/') {
        return clean(&p);
    }
    if p.is_empty() {
        return p;
    }
    clean(&format!("{}/{p}", base.display()))
}

fn expand_user(p: &str, env: &BTreeMap<String, String>) -> String {
    let Some(home) = env.get("HOME") else {
        return p.to_string();
    };
    if p == "~" {
        home.clone()
    } else if let Some(rest) = p.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else {
        p.to_string()
    }
}

/// A build context that is not a directory: a git repository or a URL.
pub fn is_remote(context: &str) -> bool {
    context.contains("://") || context.starts_with("git@") || context.starts_with("github.com/")
}

/// Every relative host path in a canonical file (or project) resolved.
pub fn resolve(dict: &mut Map<String, Value>, base: &Path, env: &BTreeMap<String, String>) {
    let abs = |v: &mut Value| {
        if let Value::String(s) = v {
            *s = absolute(s, base, env);
        }
    };
    if let Some(Value::Object(services)) = dict.get_mut("services") {
        for s in services.values_mut() {
            if let Some(ctx) = s.pointer_mut("/build/context")
                && !ctx.as_str().is_some_and(is_remote)
            {
                abs(ctx);
            }
            if let Some(Value::Array(files)) = s.get_mut("env_file") {
                for f in files {
                    if let Some(p) = f.get_mut("path") {
                        abs(p);
                    }
                }
            }
            if let Some(Value::Array(vols)) = s.get_mut("volumes") {
                for v in vols {
                    if v.get("type").and_then(Value::as_str) == Some("bind")
                        && let Some(src) = v.get_mut("source")
                    {
                        abs(src);
                    }
                }
            }
        }
    }
    for kind in ["secrets", "configs"] {
        if let Some(Value::Object(objs)) = dict.get_mut(kind) {
            for o in objs.values_mut() {
                if let Some(f) = o.get_mut("file") {
                    abs(f);
                }
            }
        }
    }
    if let Some(Value::Object(vols)) = dict.get_mut("volumes") {
        for v in vols.values_mut() {
            let local_bind = v.get("driver").and_then(Value::as_str) == Some("local")
                && v.pointer("/driver_opts/o").and_then(Value::as_str) == Some("bind");
            if local_bind && let Some(dev) = v.pointer_mut("/driver_opts/device") {
                abs(dev);
            }
        }
    }
}
