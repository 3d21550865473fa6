//! Output as docker prints it: Go templates over JSON values (berth-template,
//! with docker's `table` prefix and struct-like nil printing), a tabwriter
//! like Go's (minwidth 10, padding 3), and go-units' human durations and
//! sizes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

use super::gotypes::{self, Kind, RawEnv, TypedEnv};

/// A parsed `--format` template: Go's text/template (berth-template) with
/// docker's conventions on top: `table` turns on a header line and tab
/// alignment, `\t` and `\n` in the flag are a tab and a newline, `json`
/// alone means the JSON of each object.
#[derive(Debug)]
pub struct Template {
    inner: berth_template::Template,
    /// `table ...`: a header line and tab alignment.
    pub table: bool,
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
        if f == "json" {
            f = "{{json .}}".to_string();
        }
        let inner = berth_template::Template::parse(&f)
            .map_err(|e| anyhow!("template parsing error: {e}"))?;
        Ok(Template { inner, table })
    }

    /// Parses `format` as docker's table formatter does (`ps`, `images`,
    /// `volume ls`: `Context.preFormat`): `table` at its start turns on the table mode,
    /// `json` alone is `{{json .}}`, spaces around the rest are trimmed,
    /// then `\t` and `\n` become a tab and a newline. The error is the
    /// template's own (Go's text).
    pub fn parse_formatter(format: &str) -> std::result::Result<Template, berth_template::Error> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) => (true, rest),
            None if format == "json" => (false, "{{json .}}"),
            None => (false, format),
        };
        let f = body
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        let inner = berth_template::Template::parse(&f)?;
        Ok(Template { inner, table })
    }

    /// Renders for one value.
    pub fn render(&self, v: &Value) -> Result<String> {
        self.inner
            .execute_with(v, &RowEnv { row: v })
            .map_err(|e| anyhow!("{e}"))
    }

    /// Renders one row of docker's table formatter (see [`ContextEnv`]).
    pub fn render_row(
        &self,
        env: &ContextEnv,
    ) -> std::result::Result<String, berth_template::Error> {
        self.inner.execute_with(env.row, env)
    }

    /// The header line, as docker makes it: the template run over an object
    /// of column titles (`names`' entry for a field, else the field's name
    /// in capitals).
    pub fn header(&self, names: &dyn Fn(&str) -> Option<&'static str>) -> String {
        let mut titles = serde_json::Map::new();
        for f in self.inner.fields() {
            let title = names(&f)
                .map(str::to_string)
                .unwrap_or_else(|| f.to_uppercase());
            titles.insert(f, Value::String(title));
        }
        self.inner
            .execute_header(&Value::Object(titles), &HeaderEnv)
    }
}

/// One row of a list verb (ps, images, volume ls): docker's formatter
/// context's fields, and the labels its `Label` method reads.
pub struct ContextRow {
    pub fields: Value,
    pub labels: Option<Value>,
}

/// Prints list rows as docker's formatter does: `format` in its table or
/// plain form, the context's Go type (`*formatter.ContainerContext`) in the
/// errors, `names` for the header's titles; any error is a "template
/// parsing error" on stderr, exit 1, and nothing printed.
pub fn print_context_rows(
    format: &str,
    context: &'static str,
    rows: &[ContextRow],
    names: &dyn Fn(&str) -> Option<&'static str>,
    out: &mut dyn std::io::Write,
) -> Result<i32> {
    let t = match Template::parse_formatter(format) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("template parsing error: {e}");
            return Ok(1);
        }
    };
    let mut lines = Vec::new();
    if t.table {
        lines.push(t.header(names));
    }
    for r in rows {
        match t.render_row(&ContextEnv::new(context, &r.fields, r.labels.as_ref())) {
            Ok(line) => lines.push(line),
            Err(e) => {
                eprintln!("template parsing error: {e}");
                return Ok(1);
            }
        }
    }
    if t.table {
        write!(out, "{}", tabwrite(&lines))?;
    } else {
        for l in lines {
            writeln!(out, "{l}")?;
        }
    }
    Ok(0)
}

/// A row of docker's table formatter (`ps`, `images`, `volume ls`): a Go
/// struct whose fields are methods (`*formatter.ContainerContext`). A name it lacks is
/// an error naming the type; `{{.Label "k"}}` reads `labels`; `{{json .}}`
/// is the struct's `MarshalJSON`: its methods as a map (sorted keys, HTML
/// escaped, as `json.Marshal` writes).
pub struct ContextEnv<'a> {
    type_name: &'static str,
    row: &'a Value,
    labels: Option<&'a Value>,
    used: std::cell::RefCell<Vec<String>>,
}

impl<'a> ContextEnv<'a> {
    /// `type_name` is the Go type (`*formatter.ContainerContext`);
    /// `labels` the object `Label` reads, if the type has that method.
    pub fn new(type_name: &'static str, row: &'a Value, labels: Option<&'a Value>) -> Self {
        ContextEnv {
            type_name,
            row,
            labels,
            used: Default::default(),
        }
    }

    /// Whether the template asked for the field or method `name`.
    pub fn used(&self, name: &str) -> bool {
        self.used.borrow().iter().any(|u| u == name)
    }
}

impl berth_template::Env for ContextEnv<'_> {
    fn call_method(
        &self,
        receiver: &Value,
        name: &str,
        args: &[Value],
    ) -> Option<std::result::Result<Value, String>> {
        if !std::ptr::eq(receiver, self.row) {
            return None;
        }
        {
            let mut used = self.used.borrow_mut();
            if !used.iter().any(|u| u == name) {
                used.push(name.to_string());
            }
        }
        let labels = self.labels.filter(|_| name == "Label")?;
        Some(match args {
            [Value::String(key)] => Ok(labels
                .get(key)
                .cloned()
                .unwrap_or(Value::String(String::new()))),
            _ => Err(format!(
                "wrong number of args for Label: want 1 got {}",
                args.len()
            )),
        })
    }

    fn nil_text(&self, _field: &str) -> Option<String> {
        // Platform, the one pointer: a nil *Platform.
        Some("<nil>".to_string())
    }

    fn missing_field(&self, receiver: &Value, _field: &str) -> berth_template::Missing {
        if std::ptr::eq(receiver, self.row) {
            berth_template::Missing::Field(self.type_name.to_string())
        } else {
            berth_template::Missing::NoValue
        }
    }

    fn marshal_json(&self, value: &Value) -> Option<String> {
        std::ptr::eq(value, self.row)
            .then(|| berth_template::go_json(&super::gotypes::sorted(value), true))
    }
}

/// The values `render` formats (`system df`, `stats`, `info`, `version`,
/// `events`) are Go structs: nil fields print by their type. `{{json .}}`
/// writes the value with sorted keys (a formatter context's
/// `MarshalJSON`); a value inside it keeps the engine's key order (a Go
/// struct in the engine's field order, or a map the engine sorted).
struct RowEnv<'a> {
    row: &'a Value,
}

impl berth_template::Env for RowEnv<'_> {
    fn marshal_json(&self, value: &Value) -> Option<String> {
        Some(if std::ptr::eq(value, self.row) {
            berth_template::go_json(&super::gotypes::sorted(value), false)
        } else {
            berth_template::go_json(value, false)
        })
    }

    fn nil_text(&self, field: &str) -> Option<String> {
        Some(null_text(field).to_string())
    }

    /// A nil map or pointer field of docker's types that the engine's JSON
    /// omits (`omitempty`) prints as Go prints the nil, not `<no value>`.
    fn missing_field(&self, _receiver: &Value, field: &str) -> berth_template::Missing {
        if OMITTED_NILS.contains(&field) {
            berth_template::Missing::Nil
        } else {
            berth_template::Missing::NoValue
        }
    }
}

/// Fields of docker's types that are nil maps or pointers and that the API
/// leaves out when nil.
const OMITTED_NILS: &[&str] = &["Health", "Healthcheck", "Labels"];

/// docker's header for `{{.Label "a.b-c"}}`: "b c".
struct HeaderEnv;

impl berth_template::Env for HeaderEnv {
    fn call_method(
        &self,
        _receiver: &Value,
        name: &str,
        args: &[Value],
    ) -> Option<std::result::Result<Value, String>> {
        match (name, args) {
            ("Label", [Value::String(key)]) => {
                let last = key.rsplit('.').next().unwrap_or(key);
                Some(Ok(Value::String(last.replace(['-', '_'], " "))))
            }
            _ => None,
        }
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

/// A parsed `inspect -f` template, run as docker's inspect runs it: over
/// the Go type the object decodes into, and if that fails, over the raw
/// JSON with `missingkey=error` (see [`gotypes`](super::gotypes)). No
/// `table` or `\t` handling here, as in docker.
#[derive(Debug)]
pub struct Inspector {
    t: berth_template::Template,
    raw_fallback: bool,
}

impl Inspector {
    /// Parses `format`; the error is docker's text (which exits 64).
    pub fn parse(format: &str) -> std::result::Result<Inspector, String> {
        berth_template::Template::parse(format)
            .map(|t| Inspector {
                t,
                raw_fallback: true,
            })
            .map_err(|e| format!("template parsing error: {e}"))
    }

    /// Without the raw JSON pass: the typed pass's error is the error
    /// (`docker volume inspect` keeps no raw JSON).
    pub fn typed_only(self) -> Inspector {
        Inspector {
            raw_fallback: false,
            ..self
        }
    }

    /// The text for one object of `kind` (the engine's JSON), or docker's
    /// error text.
    pub fn render(&self, kind: Kind, raw: &Value) -> std::result::Result<String, String> {
        let ty = kind.ty();
        let typed = gotypes::decode(&ty, raw);
        let err = match self.t.execute_with(&typed, &TypedEnv { root: &typed, ty }) {
            Ok(s) => return Ok(s),
            Err(e) if !self.raw_fallback => e,
            Err(_) => match self.t.execute_with(&gotypes::sorted(raw), &RawEnv) {
                Ok(s) => return Ok(s),
                Err(e) => e,
            },
        };
        Err(format!("template parsing error: {err}"))
    }

    /// docker's `inspect.Inspect` once the objects are looked up (each an
    /// object or the lookup's error text): a line per object that renders,
    /// or one empty line if none does, then every error on stderr; the exit
    /// code (1 on any error).
    pub fn print(
        &self,
        found: &[std::result::Result<(Kind, Value), String>],
        stdout: &mut dyn std::io::Write,
    ) -> std::io::Result<i32> {
        let mut out = String::new();
        let mut errors = Vec::new();
        for item in found {
            match item.as_ref().map(|(k, v)| self.render(*k, v)) {
                Ok(Ok(text)) => {
                    out.push_str(&text);
                    out.push('\n');
                }
                Ok(Err(e)) => errors.push(e),
                Err(e) => errors.push(e.clone()),
            }
        }
        if out.is_empty() {
            out.push('\n');
        }
        stdout.write_all(out.as_bytes())?;
        stdout.flush()?;
        if errors.is_empty() {
            return Ok(0);
        }
        eprintln!("{}", errors.join("\n"));
        Ok(1)
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

/// go-units' HumanDuration (berth-units).
pub fn human_duration(d: Duration) -> String {
    berth_units::human_duration(d)
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
    berth_units::human_size(n, 4)
}

/// go-units' HumanSizeWithPrecision: `prec` significant digits.
pub fn human_size_prec(n: f64, prec: i32) -> String {
    berth_units::human_size(n, prec)
}

/// go-units' BytesSize (binary): "1.5MiB".
pub fn bytes_size(n: f64) -> String {
    berth_units::bytes_size(n)
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
        let v = json!({"State": {"ExitCode": 3, "Running": false}, "Name": "/x", "L": ["a", "b"]});
        let t = Template::parse("{{.State.ExitCode}} {{.State.Running}} {{json .L}} {{.Nope}}")
            .unwrap();
        assert_eq!(t.render(&v).unwrap(), "3 false [\"a\",\"b\"] <no value>");
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
    fn formatter_rows_are_go_structs() {
        let row = json!({"Names": "web", "Image": "<none>", "Platform": null});
        let labels = json!({"a.b": "c"});
        let env = ContextEnv::new("*formatter.ContainerContext", &row, Some(&labels));
        let t =
            Template::parse_formatter(r#" {{.Names}} {{.Label "a.b"}}|{{.Platform}} "#).unwrap();
        assert_eq!(t.render_row(&env).unwrap(), "web c|<nil>");
        assert!(env.used("Label") && !env.used("Size"));
        let t = Template::parse_formatter("json").unwrap();
        assert_eq!(
            t.render_row(&env).unwrap(),
            r#"{"Image":"\u003cnone\u003e","Names":"web","Platform":null}"#
        );
        let t = Template::parse_formatter("{{.Nope}}").unwrap();
        assert_eq!(
            t.render_row(&env).unwrap_err().to_string(),
            "template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext"
        );
    }

    #[test]
    fn inspect_runs_the_typed_pass_then_the_raw_json() {
        let raw = json!({"Id": "abc", "State": {"Status": "running", "Pid": 7}, "Extra": "x"});
        let run = |f: &str| Inspector::parse(f).unwrap().render(Kind::Container, &raw);
        // Go field names; zero values of what the JSON lacks; Go structs.
        assert_eq!(
            run("{{.ID}} {{.Name}}|{{.State.Health}}").unwrap(),
            "abc |<nil>"
        );
        assert_eq!(
            run("{{.State}}").unwrap(),
            "{running false false false false false 7 0    <nil>}"
        );
        // Only the raw JSON has `Id` and `Extra`; it has no `Name`.
        assert_eq!(run("{{.Id}} {{.Extra}}").unwrap(), "abc x");
        assert_eq!(
            run("{{.Id}} {{.Name}}").unwrap_err(),
            "template parsing error: template: :1:10: executing \"\" at <.Name>: map has no entry for key \"Name\""
        );
        assert_eq!(
            Inspector::parse("{{.Id").unwrap_err(),
            "template parsing error: template: :1: unclosed action"
        );
    }

    #[test]
    fn omitted_nil_fields_print_as_go_prints_them() {
        let v = json!({"State": {}, "Config": {}});
        let t = Template::parse("{{.State.Health}} {{.Config.Labels}} {{.Config.Nope}}").unwrap();
        assert_eq!(t.render(&v).unwrap(), "<nil> map[] <no value>");
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
