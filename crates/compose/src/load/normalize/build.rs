//! `build:`: a string (the context) or the long syntax. The context stays
//! as written here; it is made absolute with the other paths.

use serde_json::{Map, Value, json};

use super::values::{Cx, Loc, boolean, key_values, size, string, strings};
use crate::load::error::LoadError;

pub fn build(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let map = match v {
        Value::String(context) => return Ok(json!({ "context": context })),
        Value::Object(m) => m,
        _ => return Err(cx.invalid(at, "must be a string or mapping")),
    };
    let mut out = Map::new();
    for (k, v) in map {
        let a = at.key(&k);
        if v.is_null() {
            continue;
        }
        let c = match k.as_str() {
            "context" | "dockerfile" | "dockerfile_inline" | "target" | "network" => {
                json!(string(v, &a, cx)?)
            }
            "args" => Value::Object(key_values(v, &a, cx, true)?),
            "labels" => Value::Object(key_values(v, &a, cx, false)?),
            "cache_from" => Value::Array(strings(v, &a, cx)?),
            "extra_hosts" => super::service::extra_hosts(v, &a, cx)?,
            "shm_size" => json!(size(v, &a, cx)?),
            "no_cache" | "pull" => json!(boolean(v, &a, cx)?),
            "ssh"
            | "secrets"
            | "cache_to"
            | "additional_contexts"
            | "tags"
            | "platforms"
            | "privileged"
            | "ulimits"
            | "isolation"
            | "entitlements"
            | "provenance"
            | "sbom"
            | "no_cache_filter" => return Err(cx.unsupported(at, &k)),
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    Ok(Value::Object(out))
}
