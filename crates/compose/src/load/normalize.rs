//! One compose file (after interpolation) checked key by key and made
//! canonical: every short syntax in its long form, every value its type,
//! in the shape of the model's JSON, so that files merge as like with
//! like. Keys compose does not know are refused as compose refuses them
//! (`additional properties 'x' not allowed`); keys it knows that berth
//! does not implement are refused by name; `x-` keys are dropped.

mod build;
mod deploy;
mod ports;
mod resources;
mod service;
pub mod shell;
pub mod values;
pub mod volumes;

use serde_json::{Map, Value, json};

use self::values::{Cx, Loc, check_name, object, string, string_or_list};
use crate::load::error::LoadError;

pub use self::ports::merge_key as port_key;

/// The top level of one file. `name` and `version` are left out (the
/// project name is decided apart, `version` is obsolete: a warning).
pub fn file(v: Value, cx: &mut Cx) -> Result<Map<String, Value>, LoadError> {
    let root = Loc::root();
    let map = match v {
        Value::Object(m) => m,
        _ => return Err(cx.invalid(&root, "top-level object must be a mapping")),
    };
    let mut out = Map::new();
    for (k, v) in map {
        let at = root.key(&k);
        let c = match k.as_str() {
            "version" => {
                cx.warn(format!(
                    "{}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion",
                    cx.file.display()
                ));
                continue;
            }
            "name" => {
                if !v.is_null() {
                    string(v, &at, cx)?;
                }
                continue;
            }
            "include" => include(v, &at, cx)?,
            "services" => named(v, &at, cx, service::service)?,
            "networks" => named(v, &at, cx, resources::network)?,
            "volumes" => named(v, &at, cx, resources::volume)?,
            "secrets" => named(v, &at, cx, |v, a, cx| {
                resources::file_object(v, a, cx, false)
            })?,
            "configs" => named(v, &at, cx, |v, a, cx| {
                resources::file_object(v, a, cx, true)
            })?,
            "models" => return Err(cx.unsupported(&root, &k)),
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(&root, &k)),
        };
        out.insert(k, c);
    }
    Ok(out)
}

/// A mapping of names (`[a-zA-Z0-9._-]+`) to definitions.
fn named(
    v: Value,
    at: &Loc,
    cx: &mut Cx,
    each: impl Fn(Value, &Loc, &mut Cx) -> Result<Value, LoadError>,
) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (name, def) in object(v, at, cx)? {
        check_name(&name, at, cx)?;
        let a = at.key(&name);
        let def = match def {
            Value::Null => Value::Object(Map::new()),
            Value::Object(_) => def,
            _ => return Err(cx.invalid(&a, "must be a mapping")),
        };
        out.insert(name, each(def, &a, cx)?);
    }
    Ok(Value::Object(out))
}

/// `include:` entries: a path, or `{path, env_file, project_directory}`
/// with `path` and `env_file` a string or a list.
fn include(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Vec::new();
    for (i, item) in values::list(v, at, cx)?.into_iter().enumerate() {
        let a = at.index(i);
        let mut o = Map::new();
        match item {
            Value::String(p) => {
                o.insert("path".into(), json!([p]));
            }
            Value::Object(m) => {
                for (k, v) in m {
                    let b = a.key(&k);
                    let c = match k.as_str() {
                        "path" | "env_file" => Value::Array(string_or_list(v, &b, cx)?),
                        "project_directory" => json!(string(v, &b, cx)?),
                        _ => return Err(cx.unknown(&a, &k)),
                    };
                    o.insert(k, c);
                }
                if !o.contains_key("path") {
                    return Err(cx.invalid(&a, "missing property 'path'"));
                }
            }
            _ => return Err(cx.invalid(&a, "must be a string or mapping")),
        }
        out.push(Value::Object(o));
    }
    Ok(Value::Array(out))
}
