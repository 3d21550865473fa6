//! A service's `volumes:`: the short syntax (`name:/path[:ro]`,
//! `./rel:/path`, `/abs:/path:ro,z`, `~/x:/x`, `/path` for an anonymous
//! volume) as compose-go's `format.ParseVolume` reads it, and the long
//! syntax. Host paths stay as written here; they are made absolute once
//! the directory they are relative to is known.

use serde_json::{Map, Value, json};

use super::values::{Cx, Loc, boolean, list, mode, object, size, string};
use crate::load::error::LoadError;

pub fn volumes(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Vec::new();
    for (i, item) in list(v, at, cx)?.into_iter().enumerate() {
        let at = at.index(i);
        out.push(match item {
            Value::String(s) => short(&s, &at, cx)?,
            Value::Object(_) => long(item, &at, cx)?,
            _ => return Err(cx.invalid(&at, "must be a string or mapping")),
        });
    }
    Ok(Value::Array(out))
}

fn short(spec: &str, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let invalid = |e: &str| cx.invalid(at, format!("invalid spec: {spec}: {e}"));
    if spec.is_empty() {
        return Err(cx.invalid(at, "invalid empty volume spec"));
    }
    let mut out = Map::new();
    if spec.len() <= 2 {
        out.insert("type".into(), json!("volume"));
        out.insert("target".into(), json!(spec));
        return Ok(Value::Object(out));
    }
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(invalid("empty section between colons"));
    }
    let (source, target, options) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => (*s, *t, ""),
        [s, t, o] => (*s, *t, *o),
        _ => return Err(invalid("too many colons")),
    };
    let mut read_only = false;
    let mut bind = Map::new();
    let mut volume = Map::new();
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "nocopy" => {
                volume.insert("nocopy".into(), json!(true));
            }
            "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave" => {
                bind.insert("propagation".into(), json!(o));
            }
            "z" | "Z" => {
                bind.insert("selinux".into(), json!(o));
            }
            _ => cx.warn(format!(
                "{}: {}: volume option {o:?} is ignored (as compose ignores it)",
                cx.file.display(),
                at.as_str()
            )),
        }
    }
    let is_path = source.starts_with(['.', '/', '~']);
    out.insert(
        "type".into(),
        json!(if is_path { "bind" } else { "volume" }),
    );
    if !source.is_empty() {
        out.insert("source".into(), json!(source));
    }
    out.insert("target".into(), json!(clean(target)));
    if read_only {
        out.insert("read_only".into(), json!(true));
    }
    if is_path {
        // The short syntax creates a missing host path, as docker-compose
        // v1 did.
        bind.insert("create_host_path".into(), json!(true));
    }
    if !bind.is_empty() {
        out.insert("bind".into(), Value::Object(bind));
    }
    if !is_path {
        out.insert("volume".into(), Value::Object(volume));
    }
    Ok(Value::Object(out))
}

fn long(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        let c = match k.as_str() {
            "type" => {
                let t = string(v, &a, cx)?;
                match t.as_str() {
                    "volume" | "bind" | "tmpfs" => json!(t),
                    "npipe" | "cluster" | "image" => {
                        return Err(cx.unsupported(at, &format!("type: {t}")));
                    }
                    _ => return Err(cx.invalid(&a, format!("invalid mount type {t:?}"))),
                }
            }
            "source" => json!(string(v, &a, cx)?),
            "target" => json!(clean(&string(v, &a, cx)?)),
            "read_only" => json!(boolean(v, &a, cx)?),
            "consistency" => {
                string(v, &a, cx)?;
                cx.ignored(
                    at,
                    "consistency",
                    "it only applies to Docker Desktop's shared files",
                );
                continue;
            }
            "bind" => bind(v, &a, cx)?,
            "volume" => volume(v, &a, cx)?,
            "tmpfs" => tmpfs(v, &a, cx)?,
            "image" => return Err(cx.unsupported(at, &k)),
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    if !out.contains_key("type") {
        return Err(cx.invalid(at, "missing property 'type'"));
    }
    if !out.contains_key("target") {
        return Err(cx.invalid(
            at,
            "is missing a mount target (service volume has no `target`)",
        ));
    }
    Ok(Value::Object(out))
}

fn bind(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        let c = match k.as_str() {
            "propagation" => json!(string(v, &a, cx)?),
            "create_host_path" => json!(boolean(v, &a, cx)?),
            "selinux" => {
                let s = string(v, &a, cx)?;
                if s != "z" && s != "Z" {
                    return Err(cx.invalid(&a, "must be one of \"z\", \"Z\""));
                }
                json!(s)
            }
            "recursive" => return Err(cx.unsupported(at, &k)),
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    out.entry("create_host_path").or_insert(json!(false));
    Ok(Value::Object(out))
}

fn volume(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        let c = match k.as_str() {
            "nocopy" => json!(boolean(v, &a, cx)?),
            "subpath" => json!(string(v, &a, cx)?),
            "labels" => return Err(cx.unsupported(at, &k)),
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    Ok(Value::Object(out))
}

fn tmpfs(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        let c = match k.as_str() {
            "size" => json!(size(v, &a, cx)?),
            "mode" => json!(mode(v, &a, cx)?),
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    Ok(Value::Object(out))
}

/// Go's `path.Clean`.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// The key compose merges volumes by: the target.
pub fn merge_key(v: &Value) -> String {
    v.get("target")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(spec: &str) -> Value {
        let mut w = Vec::new();
        let mut cx = Cx {
            file: std::path::Path::new("f"),
            warnings: &mut w,
        };
        short(spec, &Loc::root(), &mut cx).unwrap()
    }

    #[test]
    fn short_forms() {
        assert_eq!(
            s("data:/var/lib/x:ro"),
            json!({"type": "volume", "source": "data", "target": "/var/lib/x", "read_only": true, "volume": {}})
        );
        assert_eq!(
            s("./rel:/path/"),
            json!({"type": "bind", "source": "./rel", "target": "/path", "bind": {"create_host_path": true}})
        );
        assert_eq!(
            s("/abs:/p:ro,z"),
            json!({"type": "bind", "source": "/abs", "target": "/p", "read_only": true, "bind": {"selinux": "z", "create_host_path": true}})
        );
        assert_eq!(
            s("/anon"),
            json!({"type": "volume", "target": "/anon", "volume": {}})
        );
        assert_eq!(
            s("data:/x:nocopy"),
            json!({"type": "volume", "source": "data", "target": "/x", "volume": {"nocopy": true}})
        );
    }

    #[test]
    fn clean_paths() {
        assert_eq!(clean("/a/./b/../c/"), "/a/c");
        assert_eq!(clean("a//b"), "a/b");
        assert_eq!(clean("/.."), "/");
        assert_eq!(clean("../x"), "../x");
    }
}
