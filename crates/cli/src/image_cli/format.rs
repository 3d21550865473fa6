//! Output as docker prints it: Go-template-like `--format` strings
//! (`{{.Field}}`, `{{json .}}`, `table` for a header), sizes and ages.

use std::io::Write;

/// A parsed `--format` string.
pub struct Template {
    table: bool,
    parts: Vec<Part>,
}

enum Part {
    Text(String),
    Field(String),
    Json(Option<String>),
}

impl Template {
    pub fn parse(s: &str) -> Template {
        let (table, body) = match s.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, s),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut parts = Vec::new();
        let mut rest = body.as_str();
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let Some(end) = rest[start..].find("}}") else {
                parts.push(Part::Text(rest[start..].to_string()));
                rest = "";
                break;
            };
            let inner = rest[start + 2..start + end].trim();
            parts.push(if let Some(arg) = inner.strip_prefix("json") {
                let arg = arg.trim();
                Part::Json((arg != ".").then(|| arg.trim_start_matches('.').to_string()))
            } else {
                Part::Field(inner.trim_start_matches('.').to_string())
            });
            rest = &rest[start + end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Template { table, parts }
    }

    pub fn render(&self, v: &serde_json::Value) -> String {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => s.push_str(t),
                Part::Field(f) => s.push_str(&plain(lookup(v, f))),
                Part::Json(None) => s.push_str(&v.to_string()),
                Part::Json(Some(f)) => s.push_str(&lookup(v, f).to_string()),
            }
        }
        s
    }

    /// Rows under a header (for `table`), columns aligned as docker's tabwriter does.
    pub fn print_table(
        &self,
        out: &mut impl Write,
        rows: &[serde_json::Value],
        headers: &[(&str, &str)],
    ) -> std::io::Result<()> {
        let mut lines: Vec<String> = Vec::new();
        if self.table {
            let mut h = String::new();
            for p in &self.parts {
                match p {
                    Part::Text(t) => h.push_str(t),
                    Part::Field(f) => h.push_str(
                        &headers
                            .iter()
                            .find(|(k, _)| k == f)
                            .map(|(_, v)| v.to_string())
                            .unwrap_or_else(|| f.to_uppercase()),
                    ),
                    Part::Json(_) => h.push_str("JSON"),
                }
            }
            lines.push(h);
        }
        lines.extend(rows.iter().map(|r| self.render(r)));
        let cells: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
        let cols = cells.iter().map(|c| c.len()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|i| {
                cells
                    .iter()
                    .filter_map(|c| c.get(i))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in cells {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 < row.len() {
                    line.push_str(&format!("{cell:<w$}   ", w = widths[i]));
                } else {
                    line.push_str(cell);
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

fn lookup<'a>(v: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    path.split('.')
        .filter(|p| !p.is_empty())
        .fold(v, |v, k| v.get(k).unwrap_or(&serde_json::Value::Null))
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "<no value>".into(),
        other => other.to_string(),
    }
}

/// Sizes as docker prints them (decimal units).
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes}B")
    } else {
        format!("{:.3}", v)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
            + units[i]
    }
}

/// "3 weeks ago", from an RFC 3339 time, in the words of docker's go-units.
pub fn since(rfc3339: &str) -> String {
    let Ok(t) = humantime::parse_rfc3339_weak(
        rfc3339
            .trim_end_matches('Z')
            .split('.')
            .next()
            .unwrap_or(""),
    ) else {
        return "N/A".into();
    };
    let secs = std::time::SystemTime::now()
        .duration_since(t)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (m, h) = (secs / 60, secs / 3600);
    let text = match () {
        _ if secs < 1 => "Less than a second".to_string(),
        _ if secs == 1 => "1 second".to_string(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if m == 1 => "About a minute".to_string(),
        _ if m < 60 => format!("{m} minutes"),
        _ if h == 1 => "About an hour".to_string(),
        _ if h < 48 => format!("{h} hours"),
        _ if h < 24 * 7 * 2 => format!("{} days", h / 24),
        _ if h < 24 * 30 * 2 => format!("{} weeks", h / 24 / 7),
        _ if h < 24 * 365 * 2 => format!("{} months", h / 24 / 30),
        _ => format!("{} years", h / 24 / 365),
    };
    format!("{text} ago")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        let v = serde_json::json!({"Repository": "busybox", "Tag": "latest", "Config": {"Cmd": ["sh"]}});
        assert_eq!(
            Template::parse("{{.Repository}}:{{.Tag}}").render(&v),
            "busybox:latest"
        );
        assert_eq!(
            Template::parse("{{json .Config.Cmd}}").render(&v),
            r#"["sh"]"#
        );
        assert_eq!(Template::parse("{{.Nope}}").render(&v), "<no value>");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4_261_000), "4.261MB");
        assert_eq!(human_size(1_500_000_000), "1.5GB");
    }
}
