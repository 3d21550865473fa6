//! Output as docker prints it: a Go-template subset over JSON values
//! (`{{.A.B}}`, `{{json .X}}`, `{{.Label "k"}}`, `{{index .M "k"}}`,
//! `{{join .L ","}}`, `{{upper .X}}`, `{{lower .X}}`, `{{len .X}}`), the
//! `table` prefix with a tabwriter like Go's (minwidth 10, padding 3), and
//! go-units' human durations and sizes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
    /// `table ...`: a header line and tab alignment.
    pub table: bool,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Action(Vec<Arg>),
}

#[derive(Debug, Clone)]
enum Arg {
    Path(Vec<String>),
    Str(String),
    Ident(String),
}

impl Template {
    /// Parses `format`; `table` at its start turns on the table mode.
    pub fn parse(format: &str) -> Result<Template> {
        let mut f = format.replace("\\t", "\t").replace("\\n", "\n");
        let mut table = false;
        if let Some(rest) = f.strip_prefix("table") {
            table = true;
            f = rest.trim_start_matches(' ').to_string();
        }
        let mut parts = Vec::new();
        let mut rest = f.as_str();
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| anyhow!("template parsing error: unclosed action in {format:?}"))?;
            let inner = after[..end]
                .trim()
                .trim_start_matches('-')
                .trim_end_matches('-')
                .trim();
            parts.push(Part::Action(parse_action(inner, format)?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts, table })
    }

    /// Renders for one value.
    pub fn render(&self, v: &Value) -> Result<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Action(args) => {
                    let value = eval(args, v)?;
                    match (&value, args.as_slice()) {
                        // A nil field: as Go prints its type's nil.
                        (Value::Null, [Arg::Path(p)]) => {
                            out.push_str(null_text(p.last().map(String::as_str).unwrap_or("")))
                        }
                        _ => out.push_str(&to_text(&value)),
                    }
                }
            }
        }
        Ok(out)
    }

    /// The header line: every field by its upper-case name (or `names`' entry).
    pub fn header(&self, names: &dyn Fn(&str) -> Option<&'static str>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                // docker's header for {{.Label "a.b-c"}}: "b c".
                Part::Action(args)
                    if matches!(args.as_slice(), [Arg::Path(p), Arg::Str(_)]
                        if p.last().map(String::as_str) == Some("Label")) =>
                {
                    if let [_, Arg::Str(key)] = args.as_slice() {
                        let last = key.rsplit('.').next().unwrap_or(key);
                        out.push_str(&last.replace(['-', '_'], " "));
                    }
                }
                Part::Action(args) => {
                    let field = args.iter().rev().find_map(|a| match a {
                        Arg::Path(p) => p.last().cloned(),
                        _ => None,
                    });
                    let f = field.unwrap_or_default();
                    match names(&f) {
                        Some(n) => out.push_str(n),
                        None => out.push_str(&f.to_uppercase()),
                    }
                }
            }
        }
        out
    }
}

fn parse_action(inner: &str, format: &str) -> Result<Vec<Arg>> {
    let mut args = Vec::new();
    let mut rest = inner;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').ok_or_else(|| {
                anyhow!("template parsing error: unterminated string in {format:?}")
            })?;
            args.push(Arg::Str(r[..end].to_string()));
            rest = &r[end + 1..];
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let tok = &rest[..end];
        rest = &rest[end..];
        if let Some(p) = tok.strip_prefix('.') {
            let path = if p.is_empty() {
                Vec::new()
            } else {
                p.split('.').map(str::to_string).collect()
            };
            args.push(Arg::Path(path));
        } else if tok.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            args.push(Arg::Ident(tok.to_string()));
        } else {
            bail!("template parsing error: unexpected {tok:?} in {format:?}");
        }
    }
    if args.is_empty() {
        bail!("template parsing error: missing value for command in {format:?}");
    }
    Ok(args)
}

/// A missing field, printed as Go prints it.
const NO_VALUE: &str = "<no value>";

fn lookup(v: &Value, path: &[String]) -> Value {
    let mut cur = v;
    for k in path {
        match cur.get(k) {
            Some(n) => cur = n,
            None => return Value::String(NO_VALUE.to_string()),
        }
    }
    cur.clone()
}

fn eval(args: &[Arg], v: &Value) -> Result<Value> {
    let arg = |a: &Arg| -> Value {
        match a {
            Arg::Path(p) => lookup(v, p),
            Arg::Str(s) => Value::String(s.clone()),
            Arg::Ident(i) => Value::String(i.clone()),
        }
    };
    match &args[0] {
        Arg::Path(p) if p.last().map(String::as_str) == Some("Label") && args.len() == 2 => {
            // ps's {{.Label "key"}}: from the labels map.
            let key = to_text(&arg(&args[1]));
            Ok(v.get("_labels")
                .and_then(|l| l.get(&key))
                .cloned()
                .unwrap_or(Value::String(String::new())))
        }
        Arg::Path(p) if args.len() == 1 => Ok(lookup(v, p)),
        Arg::Ident(f) => {
            let rest: Vec<Value> = args[1..].iter().map(arg).collect();
            match (f.as_str(), rest.as_slice()) {
                ("json", [x]) => Ok(Value::String(serde_json::to_string(x)?)),
                ("upper", [x]) => Ok(Value::String(to_text(x).to_uppercase())),
                ("lower", [x]) => Ok(Value::String(to_text(x).to_lowercase())),
                ("title", [x]) => {
                    let t = to_text(x);
                    let mut c = t.chars();
                    Ok(Value::String(
                        c.next()
                            .map(|f| f.to_uppercase().chain(c).collect())
                            .unwrap_or_default(),
                    ))
                }
                ("len", [x]) => Ok(Value::from(match x {
                    Value::Array(a) => a.len(),
                    Value::Object(o) => o.len(),
                    other => to_text(other).len(),
                })),
                ("index", [x, k]) => Ok(match (x, k) {
                    // A missing key: the map's zero value.
                    (Value::Object(o), k) => o
                        .get(&to_text(k))
                        .cloned()
                        .unwrap_or(Value::String(String::new())),
                    (Value::Array(a), Value::Number(n)) => a
                        .get(n.as_u64().unwrap_or(u64::MAX) as usize)
                        .cloned()
                        .unwrap_or(Value::Null),
                    _ => Value::String(NO_VALUE.into()),
                }),
                ("join", [Value::Array(a), sep]) => Ok(Value::String(
                    a.iter()
                        .map(to_text)
                        .collect::<Vec<_>>()
                        .join(&to_text(sep)),
                )),
                ("println", xs) => Ok(Value::String(
                    xs.iter().map(to_text).collect::<Vec<_>>().join(" ") + "\n",
                )),
                _ => bail!("template: function {f:?} is not supported with these arguments"),
            }
        }
        _ => bail!("template: cannot evaluate {args:?}"),
    }
}

/// How Go prints a nil field of the engine's types: a nil map, pointer or
/// slice (JSON null cannot say which; the field's name does).
fn null_text(field: &str) -> &'static str {
    match field {
        "Labels" | "Volumes" | "ExposedPorts" | "Ports" | "PortBindings" | "Tmpfs" | "Sysctls"
        | "StorageOpt" | "Options" | "DriverOpts" | "Networks" | "Annotations" | "Attributes"
        | "Config" | "Data" => "map[]",
        "Health"
        | "Healthcheck"
        | "Platform"
        | "Error"
        | "OomKillDisable"
        | "PidsLimit"
        | "MemorySwappiness"
        | "Init"
        | "IPAMConfig"
        | "Descriptor"
        | "ImageManifestDescriptor" => "<nil>",
        _ => "[]",
    }
}

/// Go's `%v` of a JSON value.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(to_text).collect::<Vec<_>>().join(" ")),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            format!(
                "map[{}]",
                keys.iter()
                    .map(|k| format!("{k}:{}", to_text(&o[*k])))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

/// Go's tabwriter as docker sets it up (minwidth 10, tabwidth 1, padding 3,
/// spaces): cells end at tabs, the last cell of a line is not padded.
pub fn tabwrite(lines: &[String]) -> String {
    tabwrite_min(lines, 10)
}

/// [`tabwrite`] with another minimum cell width (`top` uses 20).
pub fn tabwrite_min(lines: &[String], min: usize) -> String {
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let ncols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut widths = vec![min; ncols];
    for r in &rows {
        for (i, c) in r.iter().enumerate().take(r.len().saturating_sub(1)) {
            widths[i] = widths[i].max(c.chars().count() + 3);
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i + 1 < r.len() {
                out.push_str(&" ".repeat(widths[i] - c.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

/// go-units' HumanDuration.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let hours_f = d.as_secs_f64() / 3600.0;
    if secs < 1 {
        "Less than a second".into()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if secs / 60 == 1 {
        "About a minute".into()
    } else if secs / 60 < 60 {
        format!("{} minutes", secs / 60)
    } else {
        let hours = (hours_f + 0.5) as u64;
        if hours == 1 {
            "About an hour".into()
        } else if hours < 48 {
            format!("{hours} hours")
        } else if hours < 24 * 7 * 2 {
            format!("{} days", hours / 24)
        } else if hours < 24 * 30 * 2 {
            format!("{} weeks", hours / 24 / 7)
        } else if hours < 24 * 365 * 2 {
            format!("{} months", hours / 24 / 30)
        } else {
            format!("{} years", hours_f as u64 / 24 / 365)
        }
    }
}

/// "5 seconds ago" for a unix time.
pub fn ago(unix: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format!(
        "{} ago",
        human_duration(Duration::from_secs((now - unix).max(0) as u64))
    )
}

/// go-units' HumanSize (decimal, 4 significant digits): "1.235MB".
pub fn human_size(n: f64) -> String {
    human_size_prec(n, 4)
}

/// go-units' HumanSizeWithPrecision: `prec` significant digits.
pub fn human_size_prec(n: f64, prec: i32) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = n;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(v, prec), units[i])
}

/// go-units' BytesSize (binary): "1.5MiB".
pub fn bytes_size(n: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = n;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g4(v), units[i])
}

/// Go's `%.4g` for the magnitudes sizes take.
fn go_g4(v: f64) -> String {
    go_g(v, 4)
}

/// Go's `%.<prec>g` for the magnitudes sizes take (below 1e21, no exponent).
fn go_g(v: f64, prec: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = (v.abs().log10().floor() as i32 + 1).max(1);
    let decimals = (prec - digits).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `2024-01-02 15:04:05 +0000 UTC`, as Go prints a time.
pub fn go_time(unix: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(unix.max(0) as u64);
    let s = humantime::format_rfc3339_seconds(t).to_string();
    // 2024-01-02T15:04:05Z
    format!("{} {} +0000 UTC", &s[..10], &s[11..19])
}

/// Docker's `--since`/`--until`: a unix time, an RFC 3339 time, or a
/// duration before now (`42m`); as unix seconds.
pub fn parse_timestamp(s: &str) -> Result<i64> {
    if let Ok(n) = s.parse::<f64>() {
        return Ok(n as i64);
    }
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Ok(t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0));
    }
    if let Ok(ns) = super::create::parse_duration_ns(s) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        return Ok(now - ns / 1_000_000_000);
    }
    bail!("invalid timestamp {s:?}: use a unix time, an RFC 3339 time, or a duration such as 42m")
}

/// `--filter k=v` flags to the API's filters map.
pub fn filters(list: &[String]) -> Result<std::collections::HashMap<String, Vec<String>>> {
    let mut m: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for f in list {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow!("bad format of filter (expected name=value): {f}"))?;
        m.entry(k.trim().to_lowercase())
            .or_default()
            .push(v.to_string());
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates() {
        let v = json!({"State": {"ExitCode": 3, "Running": false}, "Name": "/x", "L": ["a", "b"], "_labels": {"k": "v"}});
        let t = Template::parse(
            "{{.State.ExitCode}} {{.State.Running}} {{json .L}} {{.Label \"k\"}} {{.Nope}}",
        )
        .unwrap();
        assert_eq!(t.render(&v).unwrap(), "3 false [\"a\",\"b\"] v <no value>");
        let v =
            json!({"Config": {"Env": null, "Labels": null, "Healthcheck": null, "L": {"a": "b"}}});
        let t = Template::parse(
            "{{.Config.Env}} {{.Config.Labels}} {{.Config.Healthcheck}} {{index .Config.L \"x\"}}|",
        )
        .unwrap();
        assert_eq!(t.render(&v).unwrap(), "[] map[] <nil> |");
        let t = Template::parse("table {{.ID}}\\t{{.Names}}").unwrap();
        assert!(t.table);
        assert_eq!(
            t.header(&|f| (f == "ID").then_some("CONTAINER ID")),
            "CONTAINER ID\tNAMES"
        );
    }

    #[test]
    fn tabs() {
        let out = tabwrite(&[
            "CONTAINER ID\tIMAGE\tNAMES".into(),
            "abc\tbusybox:latest\tx".into(),
        ]);
        assert_eq!(
            out,
            "CONTAINER ID   IMAGE            NAMES\nabc            busybox:latest   x\n"
        );
    }

    #[test]
    fn humans() {
        assert_eq!(human_duration(Duration::from_secs(5)), "5 seconds");
        assert_eq!(human_duration(Duration::from_secs(3600)), "About an hour");
        assert_eq!(human_size(1_234_567.0), "1.235MB");
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size_prec(1_984_000.0, 3), "1.98MB");
        assert_eq!(bytes_size(1536.0 * 1024.0), "1.5MiB");
    }
}
