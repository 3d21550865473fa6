#![forbid(unsafe_code)]
//! Go's `text/template`, as the docker CLI evaluates `--format` templates,
//! over [`serde_json::Value`] data.
//!
//! ```
//! use berth_template::Template;
//! let t = Template::parse("{{.Name | upper}} {{join .Args \",\"}}").unwrap();
//! let out = t.execute(&serde_json::json!({"Name": "web", "Args": ["a", "b"]})).unwrap();
//! assert_eq!(out, "WEB a,b");
//! ```
//!
//! The language is Go's (actions, trim markers, comments, pipelines,
//! variables, `if`/`else if`/`range`/`with`/`else with`/`break`/`continue`,
//! `define`/`template`/`block`), with Go's builtins (`and`, `or`, `not`,
//! `len`, `index`, `slice`, `print`, `printf`, `println`, `eq`, `ne`, `lt`,
//! `le`, `gt`, `ge`, `html`, `js`, `urlquery`, `call`) and docker's
//! (`json`, `split`, `join`, `title`, `lower`, `upper`, `pad`, `truncate`).
//! Error messages are Go's, for the template name `""` that docker uses:
//! `template: :1: unclosed action`,
//! `template: :1:2: executing "" at <.X>: map has no entry for key "X"`.
//!
//! # Go values over JSON
//!
//! JSON integers behave as Go `int`, other numbers as `float64`, arrays as
//! `[]interface{}`, objects as `map[string]interface{}` (printed
//! `map[k:v ...]` with sorted keys, ranged in sorted key order). An [`Env`]
//! lets the caller add what the JSON lost of docker's Go types: methods with
//! arguments (`{{.Label "x"}}`), the printed form of a `null` field (nil
//! slice `[]`, nil map `map[]`, nil pointer `<nil>`), whether a missing
//! field is an error, which objects are structs (printed `{v1 v2}` in field
//! order, not ranged over) and how `json` encodes a value (struct field
//! order, `omitempty`, a type's `MarshalJSON`). The hooks get references
//! into the data given to `execute`, so they may find a value's place in it
//! by address.
//!
//! # Choices and deviations from Go
//!
//! * Without [`Env::struct_fields`], JSON objects print as maps
//!   (`map[k:v]`, sorted keys). A pointer inside a struct prints as what it
//!   points to (Go prints its address). Without [`Env::marshal_json`],
//!   `json` writes objects as Go maps, keys sorted.
//! * `json` is docker's: `SetEscapeHTML(false)`, so `<`, `>`, `&` are
//!   written as is (Go's `json.Marshal` would escape them; [`go_json`] can).
//! * A missing map key: field syntax (`.M.k`) gives "no value" (`<no value>`)
//!   or what [`Env::missing_field`] says; `index` gives Go's zero value of the
//!   map's element type, which JSON lacks: `""` when every value of the
//!   object is a string (or it is empty, or a `map[]` nil), like docker's
//!   `map[string]string` labels, else "no value".
//! * A `null` field is a typed Go nil whose flavour comes from
//!   [`Env::nil_text`] (default: nil pointer, printed `<nil>`); `range`
//!   over any nil is empty (Go errors for a nil pointer). A `null` array
//!   element prints `<nil>`.
//! * Values passed to [`Env::call_method`] are untyped JSON; the hook does
//!   its own argument checks. Its arguments are evaluated before it is
//!   asked, so an argument error wins over "X is not a method but has
//!   arguments".
//! * Complex constants (`1i`) and hex floats (`0x1p4`) are rejected at parse
//!   time; `%x`/`%b` on floats print like `%g`; `%#v` is approximate.
//!   `truncate` and `slice` on strings cut bytes as Go does; a cut inside a
//!   UTF-8 sequence yields U+FFFD.
//! * Parenthesis and control-structure nesting is limited to 200 and
//!   `{{template}}` recursion to 1000 (native stack), with Go's messages.
//! * `unicode.IsPrint` (for `%q`, `js`) is approximated.

mod exec;
mod fmt;
mod funcs;
mod lex;
mod parse;
mod value;

use std::collections::HashMap;

use serde_json::Value;

use crate::parse::{Arg, Node, Parser};

/// A parse or execution error; `Display` gives Go's message
/// (docker prints it after `template parsing error: `).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    msg: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ErrorKind {
    Parse,
    Exec,
}

impl Error {
    pub(crate) fn parse(msg: String) -> Error {
        Error {
            kind: ErrorKind::Parse,
            msg,
        }
    }

    pub(crate) fn exec(msg: String) -> Error {
        Error {
            kind: ErrorKind::Exec,
            msg,
        }
    }

    /// Whether the template failed to parse (rather than to execute).
    pub fn is_parse(&self) -> bool {
        self.kind == ErrorKind::Parse
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

/// What a field or key missing from an object does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Missing {
    /// Go's default for maps: the value is "no value" and prints `<no value>`.
    NoValue,
    /// Go's `missingkey=error` (docker's `inspect` fallback):
    /// `map has no entry for key "F"`.
    Error,
    /// A Go struct of the given type name:
    /// `can't evaluate field F in type T`.
    Field(String),
    /// A field the Go struct has but the JSON omits (`omitempty`): it is
    /// nil, printed as [`Env::nil_text`] says.
    Nil,
}

/// Hooks that make JSON data behave like docker's Go types. Every method has
/// a default, so `impl Env for MyEnv {}` is the plain JSON behaviour.
pub trait Env {
    /// Method call hook: `{{.Label "com.example"}}` on a receiver calls
    /// `call_method(receiver, "Label", ["com.example"])`. Fields and keys are
    /// asked here first (Go looks for methods before fields), with `args`
    /// empty when none were given. Return `None` when `name` is not a method
    /// of `receiver` (field lookup follows), `Some(Err(msg))` to fail with
    /// `error calling Label: msg`.
    fn call_method(
        &self,
        receiver: &Value,
        name: &str,
        args: &[Value],
    ) -> Option<Result<Value, String>> {
        let _ = (receiver, name, args);
        None
    }

    /// The text a JSON `null` under field `field` prints as, standing for
    /// the Go nil behind it: `"[]"` (nil slice: also empty for `len`,
    /// `range`, `index`), `"map[]"` (nil map: empty, `index` gives the zero
    /// value), `"<no value>"` (nil interface), anything else a nil pointer
    /// (`len`/`index` on it fail as in Go). `None` means `<nil>`.
    fn nil_text(&self, field: &str) -> Option<String> {
        let _ = field;
        None
    }

    /// What looking up `field` on an object lacking it does. `receiver` is
    /// the object (`null` when the receiver is itself missing). A struct
    /// ([`Missing::Field`]) also gets Go's "can't evaluate field" when the
    /// name is called with arguments.
    fn missing_field(&self, receiver: &Value, field: &str) -> Missing {
        let _ = (receiver, field);
        Missing::NoValue
    }

    /// What `json` writes for `value`, standing for a Go type with its own
    /// encoding: struct fields in declaration order under their JSON names,
    /// `omitempty`, a `MarshalJSON` method (docker's table rows marshal as a
    /// map: sorted keys, HTML escaped). `None` means the plain encoding,
    /// objects as Go maps: sorted keys ([`go_json`] writes them in the
    /// `serde_json::Map` order instead).
    fn marshal_json(&self, value: &Value) -> Option<String> {
        let _ = value;
        None
    }

    /// The fields of `value`, in declaration order, when the object stands
    /// for a Go struct: it prints as Go prints a struct (`{v1 v2}`, with
    /// `%+v` `{F1:v1 F2:v2}`), and `range`, `index` and `len` refuse it as
    /// Go does. `None` (the default) means a map.
    fn struct_fields(&self, value: &Value) -> Option<Vec<GoField>> {
        let _ = value;
        None
    }
}

/// A field of a Go struct, for printing it ([`Env::struct_fields`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GoField {
    /// A field: its name, a key of the object.
    Named(String),
    /// An embedded struct (its type's name and its fields), whose fields
    /// are keys of the object itself, as Go promotes them: printed as a
    /// nested struct.
    Embedded(String, Vec<GoField>),
}

/// Go's `encoding/json` text of a JSON value: object keys in the
/// `serde_json::Map` order, `U+2028`/`U+2029` escaped, and, with
/// `escape_html`, `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`
/// (`json.Marshal`; docker's `json` template function does not escape).
pub fn go_json(value: &Value, escape_html: bool) -> String {
    let mut out = String::new();
    fmt::json_encode(value, &mut out, false);
    if escape_html {
        out = fmt::escape_html_in_json(&out);
    }
    out
}

/// The plain JSON [`Env`].
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonEnv;

impl Env for JsonEnv {}

/// A parsed template.
#[derive(Debug)]
pub struct Template {
    text: String,
    trees: HashMap<String, Vec<Node>>,
}

impl Template {
    /// Parses `src` as docker does (`template.New("").Funcs(...).Parse(src)`).
    pub fn parse(src: &str) -> Result<Template, Error> {
        let mut p = Parser::new(src);
        p.parse()?;
        Ok(Template {
            text: src.to_string(),
            trees: std::mem::take(&mut p.trees),
        })
    }

    /// Executes over `data` with plain JSON semantics.
    pub fn execute(&self, data: &Value) -> Result<String, Error> {
        self.execute_with(data, &JsonEnv)
    }

    /// Executes over `data` with the caller's [`Env`] hooks.
    pub fn execute_with(&self, data: &Value, env: &dyn Env) -> Result<String, Error> {
        let mut out = String::new();
        self.execute_into(data, env, &mut out)?;
        Ok(out)
    }

    /// Like [`execute_with`](Self::execute_with), appending to `out`; on
    /// error `out` keeps what was written before it, as Go's writer does.
    pub fn execute_into(&self, data: &Value, env: &dyn Env, out: &mut String) -> Result<(), Error> {
        exec::State::new(self, env, false, out).run(data)
    }

    /// Renders a table header the way docker does: executes the template
    /// over `header` (docker's header context: an object mapping each field
    /// name to its column title, e.g. `{"ID": "CONTAINER ID"}`) with docker's
    /// `HeaderFunctions` (`json`, `split`, `join`, `title`, `lower`,
    /// `upper`, `truncate` return their first argument unchanged, `pad`
    /// still pads), and returns what was written, ignoring any error, as
    /// docker does. Methods such as `{{.Label "com.x"}}` go through `env`
    /// (docker's header `Label` returns the last dot-separated part of its
    /// argument with `-` and `_` replaced by spaces).
    pub fn execute_header(&self, header: &Value, env: &dyn Env) -> String {
        let mut out = String::new();
        let _ = exec::State::new(self, env, true, &mut out).run(header);
        out
    }

    /// For each action directly in the top-level template, the name of the
    /// last field its pipeline refers to (`{{.ID}}` → `ID`,
    /// `{{json .Mounts}}` → `Mounts`, `{{.Label "a"}}` → `Label`,
    /// `{{.Name | upper}}` → `Name`), or `""` when it has none.
    pub fn fields(&self) -> Vec<String> {
        let Some(root) = self.trees.get("") else {
            return Vec::new();
        };
        root.iter()
            .filter_map(|n| match n {
                Node::Action(a) => Some(last_field(&a.pipe)),
                _ => None,
            })
            .collect()
    }
}

fn last_field(pipe: &parse::Pipe) -> String {
    for cmd in pipe.cmds.iter().rev() {
        for arg in cmd.args.iter().rev() {
            let name = match arg {
                Arg::Field { idents, .. } => idents.last().cloned(),
                Arg::Variable { idents, .. } if idents.len() > 1 => idents.last().cloned(),
                Arg::Chain { fields, .. } => fields.last().cloned(),
                Arg::Pipe(p) => {
                    let f = last_field(p);
                    (!f.is_empty()).then_some(f)
                }
                _ => None,
            };
            if let Some(n) = name {
                return n;
            }
        }
    }
    String::new()
}
