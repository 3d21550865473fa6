//! The top-level `networks`, `volumes`, `secrets` and `configs`.

use serde_json::{Map, Value, json};

use super::values::{Cx, Loc, boolean, key_values, list, object, string, string_map};
use crate::load::error::LoadError;

/// `external: true`, or the deprecated `external: {name: x}` (which names
/// the resource, with a warning).
fn external(
    v: Value,
    at: &Loc,
    out: &mut Map<String, Value>,
    cx: &mut Cx,
) -> Result<Value, LoadError> {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match k.as_str() {
                    "name" => {
                        let name = string(v, &at.key("name"), cx)?;
                        cx.warn(format!(
                            "{}: {}: external.name is deprecated. Please set name and external: true",
                            cx.file.display(),
                            at.as_str()
                        ));
                        if let Some(n) = out.get("name")
                            && n.as_str() != Some(name.as_str())
                        {
                            return Err(
                                cx.invalid(at, "name and external.name conflict; only use name")
                            );
                        }
                        out.insert("name".into(), json!(name));
                    }
                    k if k.starts_with("x-") => {}
                    _ => return Err(cx.unknown(at, &k)),
                }
            }
            Ok(json!(true))
        }
        v => Ok(json!(boolean(v, at, cx)?)),
    }
}

pub fn network(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    let mut ext = None;
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        if v.is_null() {
            continue;
        }
        let c = match k.as_str() {
            "name" | "driver" => json!(string(v, &a, cx)?),
            "driver_opts" => Value::Object(string_map(v, &a, cx)?),
            "labels" => Value::Object(key_values(v, &a, cx, false)?),
            "internal" | "attachable" | "enable_ipv4" | "enable_ipv6" => {
                json!(boolean(v, &a, cx)?)
            }
            "ipam" => ipam(v, &a, cx)?,
            "external" => {
                ext = Some((v, a));
                continue;
            }
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    if let Some((v, a)) = ext {
        let e = external(v, &a, &mut out, cx)?;
        out.insert("external".into(), e);
    }
    Ok(Value::Object(out))
}

fn ipam(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        if v.is_null() {
            continue;
        }
        let c = match k.as_str() {
            "driver" => json!(string(v, &a, cx)?),
            "options" => Value::Object(string_map(v, &a, cx)?),
            "config" => {
                let mut pools = Vec::new();
                for (i, p) in list(v, &a, cx)?.into_iter().enumerate() {
                    let b = a.index(i);
                    let mut o = Map::new();
                    for (k, v) in object(p, &b, cx)? {
                        let c = match k.as_str() {
                            "subnet" | "ip_range" | "gateway" => json!(string(v, &b.key(&k), cx)?),
                            "aux_addresses" => Value::Object(string_map(v, &b.key(&k), cx)?),
                            k if k.starts_with("x-") => continue,
                            _ => return Err(cx.unknown(&b, &k)),
                        };
                        o.insert(k, c);
                    }
                    pools.push(Value::Object(o));
                }
                Value::Array(pools)
            }
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    Ok(Value::Object(out))
}

pub fn volume(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    let mut ext = None;
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        if v.is_null() {
            continue;
        }
        let c = match k.as_str() {
            "name" | "driver" => json!(string(v, &a, cx)?),
            "driver_opts" => Value::Object(string_map(v, &a, cx)?),
            "labels" => Value::Object(key_values(v, &a, cx, false)?),
            "external" => {
                ext = Some((v, a));
                continue;
            }
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    if let Some((v, a)) = ext {
        let e = external(v, &a, &mut out, cx)?;
        if e == json!(true)
            && let Some(k) = out.keys().find(|k| *k != "name")
        {
            return Err(cx.invalid(
                at,
                format!("conflicting parameters \"external\" and {k:?} specified"),
            ));
        }
        out.insert("external".into(), e);
    }
    Ok(Value::Object(out))
}

/// A secret (`config` false) or a config.
pub fn file_object(v: Value, at: &Loc, cx: &mut Cx, config: bool) -> Result<Value, LoadError> {
    let mut out = Map::new();
    let mut ext = None;
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        if v.is_null() {
            continue;
        }
        let c = match k.as_str() {
            "name" | "file" | "environment" => json!(string(v, &a, cx)?),
            "content" if config => json!(string(v, &a, cx)?),
            "external" => {
                ext = Some((v, a));
                continue;
            }
            "labels" | "template_driver" => return Err(cx.unsupported(at, &k)),
            "driver" | "driver_opts" if !config => return Err(cx.unsupported(at, &k)),
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    let is_external = match ext {
        Some((v, a)) => {
            let e = external(v, &a, &mut out, cx)?;
            out.insert("external".into(), e.clone());
            e == json!(true)
        }
        None => false,
    };
    let sources: &[&str] = if config {
        &["file", "environment", "content"]
    } else {
        &["file", "environment"]
    };
    let n = sources.iter().filter(|s| out.contains_key(**s)).count();
    if n > 1 {
        return Err(cx.invalid(
            at,
            format!("{} attributes are mutually exclusive", sources.join("|")),
        ));
    }
    if n == 0 && !is_external {
        return Err(cx.invalid(at, format!("one of {} must be set", sources.join("|"))));
    }
    Ok(Value::Object(out))
}
