//! What `compose config` prints: the resolved project as YAML, top-level
//! keys in compose v2's order (`name`, `services`, `networks`, `volumes`,
//! `secrets`, `configs`), a service's keys sorted as compose sorts them,
//! a network joined without options as `null`; strings quoted (double
//! quotes) wherever plain YAML would read them as something else.

use serde_json::{Map, Value};

use crate::model::Project;

/// The project as `docker compose config` prints it (the project's
/// directory, which compose does not print, left out).
pub fn to_yaml(project: &Project) -> String {
    let Ok(Value::Object(mut top)) = serde_json::to_value(project) else {
        return String::new();
    };
    let mut out = Map::new();
    if let Some(n) = top.remove("name") {
        out.insert("name".into(), n);
    }
    if let Some(Value::Object(services)) = top.remove("services") {
        let mut sorted = Map::new();
        for (name, s) in services {
            let Value::Object(s) = s else { continue };
            let mut keys: Vec<(String, Value)> = s.into_iter().collect();
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            let mut svc = Map::new();
            for (k, mut v) in keys {
                durations(&k, &mut v);
                if k == "networks"
                    && let Value::Object(nets) = &mut v
                {
                    for n in nets.values_mut() {
                        if n.as_object().is_some_and(Map::is_empty) {
                            *n = Value::Null;
                        }
                    }
                }
                svc.insert(k, v);
            }
            sorted.insert(name, Value::Object(svc));
        }
        out.insert("services".into(), Value::Object(sorted));
    }
    for k in ["networks", "volumes", "secrets", "configs"] {
        if let Some(v) = top.remove(k) {
            out.insert(k.into(), v);
        }
    }
    let mut s = String::new();
    map(&mut s, &out, 0, false);
    s
}

/// The model keeps durations in nanoseconds; compose prints them as Go
/// does (`1m30s`), and reads them back only so.
fn durations(key: &str, v: &mut Value) {
    let fix = |v: Option<&mut Value>| {
        if let Some(v) = v
            && let Some(ns) = v.as_i64()
        {
            *v = Value::String(go_duration(ns));
        }
    };
    match key {
        "stop_grace_period" => fix(Some(v)),
        "healthcheck" => {
            for k in ["interval", "timeout", "start_period", "start_interval"] {
                fix(v.get_mut(k));
            }
        }
        "deploy" => {
            for k in ["delay", "window"] {
                fix(v.get_mut("restart_policy").and_then(|r| r.get_mut(k)));
            }
        }
        _ => {}
    }
}

/// Go's `time.Duration.String`.
pub fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let frac = |n: u64, unit: u64| -> String {
        let (whole, rest) = (n / unit, n % unit);
        if rest == 0 {
            return whole.to_string();
        }
        let width = unit.ilog10() as usize;
        let f = format!("{rest:0width$}");
        format!("{whole}.{}", f.trim_end_matches('0'))
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", frac(u, 1_000));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 1_000_000));
    }
    let secs = u / 1_000_000_000;
    let sub = u % 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let s = frac(s * 1_000_000_000 + sub, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{sign}{s}s"),
        (0, m) => format!("{sign}{m}m{s}s"),
        (h, m) => format!("{sign}{h}h{m}m{s}s"),
    }
}

fn pad(s: &mut String, n: usize) {
    s.extend(std::iter::repeat_n(' ', n));
}

/// A mapping's entries at `indent`; when `inline`, the first one follows
/// a `- ` already written.
fn map(s: &mut String, m: &Map<String, Value>, indent: usize, inline: bool) {
    for (i, (k, v)) in m.iter().enumerate() {
        if !(inline && i == 0) {
            pad(s, indent);
        }
        s.push_str(&scalar_str(k));
        s.push(':');
        match v {
            Value::Object(o) if !o.is_empty() => {
                s.push('\n');
                map(s, o, indent + 2, false);
            }
            Value::Array(a) if !a.is_empty() => {
                s.push('\n');
                seq(s, a, indent + 2);
            }
            v => {
                s.push(' ');
                s.push_str(&scalar(v));
                s.push('\n');
            }
        }
    }
}

fn seq(s: &mut String, a: &[Value], indent: usize) {
    for v in a {
        pad(s, indent);
        s.push_str("- ");
        match v {
            Value::Object(o) if !o.is_empty() => map(s, o, indent + 2, true),
            Value::Array(inner) if !inner.is_empty() => {
                s.push('\n');
                seq(s, inner, indent + 2);
            }
            v => {
                s.push_str(&scalar(v));
                s.push('\n');
            }
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar_str(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string plain when YAML reads it back as the same string, else
/// double-quoted (JSON's escapes are YAML's).
fn scalar_str(s: &str) -> String {
    if needs_quotes(s) {
        serde_json::to_string(s).unwrap_or_default()
    } else {
        s.to_string()
    }
}

fn needs_quotes(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return true;
    };
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    ) {
        return true;
    }
    if first.is_ascii_digit() || "+.".contains(first) {
        return true;
    }
    if first == '-' {
        // `-x` is a plain string; `-`, `- x`, `-1`, `-.5` are not.
        match s.chars().nth(1) {
            Some(c) if !(c.is_whitespace() || c.is_ascii_digit() || c == '.') => {}
            _ => return true,
        }
    }
    if "?:,[]{}#&*!|>'\"%@`".contains(first) {
        return true;
    }
    if s.starts_with(' ') || s.ends_with(' ') || s.ends_with(':') {
        return true;
    }
    if s.contains(": ") || s.contains(" #") {
        return true;
    }
    s.chars().any(|c| c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        for q in [
            "", "8080", "1.0", "yes", "No", "null", "a: b", "a #b", "x:", " a", "@x", "l\nm",
        ] {
            assert!(needs_quotes(q), "{q:?}");
        }
        for p in [
            "nginx:latest",
            "/a:/b",
            "CMD-SHELL",
            "a#b",
            "echo hi",
            "host:1.2.3.4",
            "-g",
        ] {
            assert!(!needs_quotes(p), "{p:?}");
        }
        for q in ["-", "-1", "- x", "-.5"] {
            assert!(needs_quotes(q), "{q:?}");
        }
    }

    #[test]
    fn durations_as_go_prints_them() {
        let cases = [
            (0, "0s"),
            (30_000_000_000, "30s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (1_500_000_000, "1.5s"),
            (500_000_000, "500ms"),
            (1_500, "1.5µs"),
            (12, "12ns"),
            (93_784_000_000_000, "26h3m4s"),
            (-2_000_000_000, "-2s"),
        ];
        for (ns, s) in cases {
            assert_eq!(go_duration(ns), s);
        }
    }
}
