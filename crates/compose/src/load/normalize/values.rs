//! Reading one value of a compose file as the type its key takes, the way
//! compose-go casts after interpolation (a string `"true"` is a boolean,
//! `"8080"` an integer), with errors naming the key.

use std::path::Path;

use serde_json::{Map, Number, Value};

use crate::load::error::LoadError;

/// Where a value is: `services.web.ports[0]`.
#[derive(Debug, Clone, Default)]
pub struct Loc(String);

impl Loc {
    pub fn root() -> Self {
        Loc(String::new())
    }

    pub fn key(&self, k: &str) -> Self {
        if self.0.is_empty() {
            Loc(k.to_string())
        } else {
            Loc(format!("{}.{k}", self.0))
        }
    }

    pub fn index(&self, i: usize) -> Self {
        Loc(format!("{}[{i}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        if self.0.is_empty() { "(root)" } else { &self.0 }
    }
}

/// The file being read and what its reading warns about.
pub struct Cx<'a> {
    pub file: &'a Path,
    pub warnings: &'a mut Vec<String>,
}

impl Cx<'_> {
    pub fn invalid(&self, at: &Loc, message: impl Into<String>) -> LoadError {
        LoadError::Invalid {
            file: self.file.to_path_buf(),
            path: at.as_str().to_string(),
            message: message.into(),
        }
    }

    /// A key the compose specification does not have (at `parent`).
    pub fn unknown(&self, parent: &Loc, key: &str) -> LoadError {
        self.invalid(parent, format!("additional properties '{key}' not allowed"))
    }

    /// A key compose has and berth does not implement (at `parent`).
    pub fn unsupported(&self, parent: &Loc, key: &str) -> LoadError {
        LoadError::Unsupported {
            file: self.file.to_path_buf(),
            path: parent.key(key).as_str().to_string(),
            key: key.to_string(),
        }
    }

    pub fn warn(&mut self, message: String) {
        if !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }

    /// A key the file may carry and berth ignores, said so.
    pub fn ignored(&mut self, parent: &Loc, key: &str, why: &str) {
        let m = format!(
            "{}: {} is ignored: {why}",
            self.file.display(),
            parent.key(key).as_str()
        );
        self.warn(m);
    }
}

pub fn object(v: Value, at: &Loc, cx: &Cx) -> Result<Map<String, Value>, LoadError> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(cx.invalid(at, "must be a mapping")),
    }
}

pub fn list(v: Value, at: &Loc, cx: &Cx) -> Result<Vec<Value>, LoadError> {
    match v {
        Value::Array(a) => Ok(a),
        _ => Err(cx.invalid(at, "must be a list")),
    }
}

pub fn string(v: Value, at: &Loc, cx: &Cx) -> Result<String, LoadError> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(cx.invalid(at, "must be a string")),
    }
}

/// Go's `fmt.Sprint` of a YAML number (`1.0` is `1`).
pub fn number_text(n: &Number) -> String {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
        if f.fract() == 0.0 && f.abs() < 1e21 {
            return format!("{f:.0}");
        }
        return format!("{f}");
    }
    n.to_string()
}

/// A string, a number or a boolean, as text.
pub fn scalar_string(v: Value, at: &Loc, cx: &Cx) -> Result<String, LoadError> {
    match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(number_text(&n)),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(cx.invalid(at, "must be a string or number")),
    }
}

/// compose-go's toBoolean: `true`/`false`, and YAML 1.1's `yes`/`no`/`on`/
/// `off`/`y`/`n` with a warning.
pub fn boolean(v: Value, at: &Loc, cx: &mut Cx) -> Result<bool, LoadError> {
    match v {
        Value::Bool(b) => Ok(b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            l @ ("y" | "yes" | "on" | "n" | "no" | "off") => {
                let t = matches!(l, "y" | "yes" | "on");
                cx.warn(format!(
                    "{}: {}: {s:?} for boolean is not supported by YAML 1.2, please use `{t}`",
                    cx.file.display(),
                    at.as_str()
                ));
                Ok(t)
            }
            _ => Err(cx.invalid(at, format!("invalid boolean: {s}"))),
        },
        _ => Err(cx.invalid(at, "must be a boolean")),
    }
}

pub fn integer(v: Value, at: &Loc, cx: &Cx) -> Result<i64, LoadError> {
    match &v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| cx.invalid(at, "must be an integer")),
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| {
            cx.invalid(
                at,
                format!("failed to cast to expected type: invalid integer {s:?}"),
            )
        }),
        _ => Err(cx.invalid(at, "must be an integer")),
    }
}

pub fn unsigned(v: Value, at: &Loc, cx: &Cx) -> Result<u64, LoadError> {
    let n = integer(v, at, cx)?;
    u64::try_from(n).map_err(|_| cx.invalid(at, "must be greater than or equal to 0"))
}

pub fn float(v: Value, at: &Loc, cx: &Cx) -> Result<f64, LoadError> {
    match &v {
        Value::Number(n) => n.as_f64().ok_or_else(|| cx.invalid(at, "must be a number")),
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| {
            cx.invalid(
                at,
                format!("failed to cast to expected type: invalid number {s:?}"),
            )
        }),
        _ => Err(cx.invalid(at, "must be a number")),
    }
}

/// A Go duration (`1m30s`, `500ms`, also `2d` and `1w` as compose's
/// str2duration takes them), in nanoseconds.
pub fn duration(v: Value, at: &Loc, cx: &Cx) -> Result<i64, LoadError> {
    let s = match v {
        Value::String(s) => s,
        Value::Number(n) => number_text(&n),
        _ => return Err(cx.invalid(at, "must be a duration")),
    };
    parse_duration(&s).map_err(|e| cx.invalid(at, e))
}

pub fn parse_duration(s: &str) -> Result<i64, String> {
    if !s.contains(['d', 'w']) {
        return berth_units::parse_go_duration(s);
    }
    // Days and weeks first, the rest as Go reads it.
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let mut total: i64 = 0;
    let mut rest = body;
    let mut plain = String::new();
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        let u = rest[n..]
            .bytes()
            .take_while(|c| !(c.is_ascii_digit() || *c == b'.'))
            .count();
        let (num, unit) = (&rest[..n], &rest[n..n + u]);
        let day = match unit {
            "d" => 86_400_000_000_000f64,
            "w" => 7.0 * 86_400_000_000_000f64,
            _ => {
                plain.push_str(&rest[..n + u]);
                rest = &rest[n + u..];
                continue;
            }
        };
        let f: f64 = num
            .parse()
            .map_err(|_| format!("time: invalid duration {s:?}"))?;
        total += (f * day) as i64;
        rest = &rest[n + u..];
    }
    if !plain.is_empty() {
        total += berth_units::parse_go_duration(&plain)?;
    }
    Ok(if neg { -total } else { total })
}

/// Bytes: an integer, or `512m`, `1g`, `1.5GiB` (binary units).
pub fn size(v: Value, at: &Loc, cx: &Cx) -> Result<i64, LoadError> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| cx.invalid(at, "must be a size in bytes")),
        Value::String(s) => {
            if let Ok(n) = s.trim().parse::<i64>() {
                return Ok(n);
            }
            berth_units::ram_in_bytes(&s).map_err(|e| cx.invalid(at, e))
        }
        _ => Err(cx.invalid(at, "must be a string or number")),
    }
}

/// A file mode: an integer (`0440` in YAML is octal already) or an octal
/// string (`"0440"`).
pub fn mode(v: Value, at: &Loc, cx: &Cx) -> Result<u32, LoadError> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| cx.invalid(at, "must be a file mode")),
        Value::String(s) => u32::from_str_radix(s.trim(), 8)
            .map_err(|_| cx.invalid(at, format!("invalid file mode {s:?}"))),
        _ => Err(cx.invalid(at, "must be a file mode")),
    }
}

/// A list of strings.
pub fn strings(v: Value, at: &Loc, cx: &Cx) -> Result<Vec<Value>, LoadError> {
    let mut out = Vec::new();
    for (i, item) in list(v, at, cx)?.into_iter().enumerate() {
        out.push(Value::String(string(item, &at.index(i), cx)?));
    }
    Ok(out)
}

/// A list of strings or numbers, as strings.
pub fn scalar_strings(v: Value, at: &Loc, cx: &Cx) -> Result<Vec<Value>, LoadError> {
    let mut out = Vec::new();
    for (i, item) in list(v, at, cx)?.into_iter().enumerate() {
        out.push(Value::String(scalar_string(item, &at.index(i), cx)?));
    }
    Ok(out)
}

/// A string or a list of strings, as a list.
pub fn string_or_list(v: Value, at: &Loc, cx: &Cx) -> Result<Vec<Value>, LoadError> {
    match v {
        Value::String(s) => Ok(vec![Value::String(s)]),
        Value::Array(_) => strings(v, at, cx),
        _ => Err(cx.invalid(at, "must be a string or list")),
    }
}

/// `KEY=VALUE` items or a mapping, as a mapping of strings. A key without
/// a value is null when `nulls` (environment, build args: set from the
/// environment later), else the empty string (labels).
pub fn key_values(
    v: Value,
    at: &Loc,
    cx: &Cx,
    nulls: bool,
) -> Result<Map<String, Value>, LoadError> {
    let mut out = Map::new();
    let none = || {
        if nulls {
            Value::Null
        } else {
            Value::String(String::new())
        }
    };
    match v {
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                let s = scalar_string(item, &at.index(i), cx)?;
                match s.split_once('=') {
                    Some((k, v)) => out.insert(k.to_string(), Value::String(v.to_string())),
                    None => out.insert(s, none()),
                };
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                let v = match v {
                    Value::Null => none(),
                    v => Value::String(scalar_string(v, &at.key(&k), cx)?),
                };
                out.insert(k, v);
            }
        }
        Value::Null => {}
        _ => Err(cx.invalid(at, "must be a mapping or list"))?,
    }
    Ok(out)
}

/// A mapping whose values are all strings (numbers taken as text).
pub fn string_map(v: Value, at: &Loc, cx: &Cx) -> Result<Map<String, Value>, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let v = match v {
            Value::Null => String::new(),
            v => scalar_string(v, &at.key(&k), cx)?,
        };
        out.insert(k, Value::String(v));
    }
    Ok(out)
}

/// compose's names of services, networks, volumes...: `[a-zA-Z0-9._-]+`.
pub fn check_name(name: &str, parent: &Loc, cx: &Cx) -> Result<(), LoadError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(cx.unknown(parent, name))
    }
}
