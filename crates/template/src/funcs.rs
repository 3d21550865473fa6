//! Builtin functions: Go's `text/template/funcs.go` plus docker's
//! `templates.go` (`json`, `split`, `join`, `title`, `lower`, `upper`,
//! `pad`, `truncate`) and its `HeaderFunctions` variants.

use serde_json::Value;

use crate::Env;
use crate::exec::State;
use crate::fmt::{
    NilFn, html_escape, js_escape, json_encode, sprint, sprintf, sprintln, url_query_escape,
};
use crate::value::{NIL_TEXT, NilKind, Num, Sel, Val, nil_kind_of};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    And,
    Call,
    Html,
    Index,
    Slice,
    Js,
    Len,
    Not,
    Or,
    Print,
    Printf,
    Println,
    Urlquery,
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
    Ne,
    Json,
    Split,
    Join,
    Title,
    Lower,
    Upper,
    Pad,
    Truncate,
}

const ALL: &[(&str, Func)] = &[
    ("and", Func::And),
    ("call", Func::Call),
    ("html", Func::Html),
    ("index", Func::Index),
    ("slice", Func::Slice),
    ("js", Func::Js),
    ("len", Func::Len),
    ("not", Func::Not),
    ("or", Func::Or),
    ("print", Func::Print),
    ("printf", Func::Printf),
    ("println", Func::Println),
    ("urlquery", Func::Urlquery),
    ("eq", Func::Eq),
    ("ge", Func::Ge),
    ("gt", Func::Gt),
    ("le", Func::Le),
    ("lt", Func::Lt),
    ("ne", Func::Ne),
    ("json", Func::Json),
    ("split", Func::Split),
    ("join", Func::Join),
    ("title", Func::Title),
    ("lower", Func::Lower),
    ("upper", Func::Upper),
    ("pad", Func::Pad),
    ("truncate", Func::Truncate),
];

pub(crate) fn lookup(name: &str) -> Option<Func> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

pub(crate) fn is_function(name: &str) -> bool {
    lookup(name).is_some()
}

pub(crate) fn name(f: Func) -> &'static str {
    ALL.iter()
        .find(|(_, g)| *g == f)
        .map(|(n, _)| *n)
        .unwrap_or("")
}

/// A parameter's Go type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Param {
    /// `reflect.Value`: anything, including "no value".
    Value,
    /// `interface{}`.
    Any,
    /// No type (chain receivers).
    Untyped,
    Str,
    Int,
    StrSlice,
}

impl Param {
    pub(crate) fn go_name(self) -> &'static str {
        match self {
            Param::Value => "reflect.Value",
            Param::Any | Param::Untyped => "interface {}",
            Param::Str => "string",
            Param::Int => "int",
            Param::StrSlice => "[]string",
        }
    }
}

pub(crate) struct Sig {
    pub fixed: &'static [Param],
    pub variadic: Option<Param>,
}

const fn sig(fixed: &'static [Param], variadic: Option<Param>) -> Sig {
    Sig { fixed, variadic }
}

use Param::{Any, Int, Str, StrSlice, Value as V};

pub(crate) fn signature(f: Func, header: bool) -> Sig {
    if header {
        // docker's HeaderFunctions keep the column title intact.
        match f {
            Func::Json | Func::Title | Func::Lower | Func::Upper => return sig(&[Str], None),
            Func::Split | Func::Join => return sig(&[Str, Str], None),
            Func::Truncate => return sig(&[Str, Int], None),
            _ => {}
        }
    }
    match f {
        Func::And | Func::Or | Func::Call | Func::Index | Func::Slice | Func::Eq => {
            sig(&[V], Some(V))
        }
        Func::Html | Func::Js | Func::Urlquery | Func::Print | Func::Println => sig(&[], Some(Any)),
        Func::Printf => sig(&[Str], Some(Any)),
        Func::Len | Func::Not => sig(&[V], None),
        Func::Ge | Func::Gt | Func::Le | Func::Lt | Func::Ne => sig(&[V, V], None),
        Func::Json => sig(&[Any], None),
        Func::Split => sig(&[Str, Str], None),
        Func::Join => sig(&[StrSlice, Str], None),
        Func::Title | Func::Lower | Func::Upper => sig(&[Str], None),
        Func::Pad => sig(&[Str, Int, Int], None),
        Func::Truncate => sig(&[Str, Int], None),
    }
}

type FResult<'d> = Result<Val<'d>, String>;

fn s<'a>(v: &'a Val) -> &'a str {
    v.as_str().unwrap_or("")
}

fn i(v: &Val) -> i64 {
    match v.as_num() {
        Some(Num::Int(i)) => i,
        _ => 0,
    }
}

/// Calls a builtin with type-checked arguments.
pub(crate) fn call<'d>(st: &State<'_, 'd, '_>, f: Func, argv: Vec<Val<'d>>) -> FResult<'d> {
    let env = st.env();
    let nt: NilFn = env;
    if st.header
        && let Func::Json
        | Func::Split
        | Func::Join
        | Func::Title
        | Func::Lower
        | Func::Upper
        | Func::Truncate = f
    {
        return Ok(argv[0].clone());
    }
    match f {
        // Handled by the executor.
        Func::And | Func::Or | Func::Call => Ok(Val::NoValue),
        Func::Not => Ok(Val::bool(!argv[0].truth())),
        Func::Len => length(env, &argv[0]).map(|n| Val::int(n as i64)),
        Func::Index => index(env, &argv[0], &argv[1..]),
        Func::Slice => slice(&argv[0], &argv[1..]),
        Func::Eq => eq(&argv[0], &argv[1..], nt).map(Val::bool),
        Func::Ne => eq(&argv[0], &argv[1..], nt).map(|b| Val::bool(!b)),
        Func::Lt => lt(&argv[0], &argv[1]).map(Val::bool),
        Func::Le => le(&argv[0], &argv[1], nt).map(Val::bool),
        Func::Gt => le(&argv[0], &argv[1], nt).map(|b| Val::bool(!b)),
        Func::Ge => lt(&argv[0], &argv[1]).map(|b| Val::bool(!b)),
        Func::Print => Ok(Val::str(sprint(&argv, nt))),
        Func::Println => Ok(Val::str(sprintln(&argv, nt))),
        Func::Printf => Ok(Val::str(sprintf(s(&argv[0]), &argv[1..], nt))),
        Func::Html => Ok(Val::str(html_escape(&eval_args(argv, nt)))),
        Func::Js => Ok(Val::str(js_escape(&eval_args(argv, nt)))),
        Func::Urlquery => Ok(Val::str(url_query_escape(&eval_args(argv, nt)))),
        Func::Json => {
            let mut out = String::new();
            match argv[0].json() {
                Some(v) => match env.marshal_json(v) {
                    Some(s) => out = s,
                    None => json_encode(v, &mut out, true),
                },
                None => out.push_str("null"),
            }
            Ok(Val::str(out))
        }
        Func::Split => Ok(Val::own(Value::Array(
            split(s(&argv[0]), s(&argv[1]))
                .into_iter()
                .map(Value::String)
                .collect(),
        ))),
        Func::Join => {
            let parts: Vec<&str> = argv[0]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            Ok(Val::str(parts.join(s(&argv[1]))))
        }
        Func::Title => Ok(Val::str(title(s(&argv[0])))),
        Func::Lower => Ok(Val::str(map_case(s(&argv[0]), false))),
        Func::Upper => Ok(Val::str(map_case(s(&argv[0]), true))),
        Func::Pad => {
            let src = s(&argv[0]);
            if src.is_empty() {
                return Ok(Val::str(""));
            }
            let (l, r) = (i(&argv[1]), i(&argv[2]));
            if l < 0 || r < 0 {
                return Err("strings: negative Repeat count".into());
            }
            Ok(Val::str(format!(
                "{}{src}{}",
                " ".repeat(l as usize),
                " ".repeat(r as usize)
            )))
        }
        Func::Truncate => {
            let src = s(&argv[0]);
            let n = i(&argv[1]);
            if (src.len() as i64) < n {
                return Ok(Val::str(src));
            }
            if n < 0 {
                return Err(format!("runtime error: slice bounds out of range [:{n}]"));
            }
            Ok(Val::str(String::from_utf8_lossy(
                &src.as_bytes()[..n as usize],
            )))
        }
    }
}

/// Go's `evalArgs` (html, js, urlquery): `fmt.Sprint` with missing values
/// printed as `<no value>`.
fn eval_args(argv: Vec<Val>, nt: NilFn) -> String {
    if argv.len() == 1
        && let Some(s) = argv[0].as_str()
    {
        return s.to_string();
    }
    let args: Vec<Val> = argv
        .into_iter()
        .map(|a| match a {
            Val::NoValue => Val::str("<no value>"),
            a => a,
        })
        .collect();
    sprint(&args, nt)
}

fn length(env: &dyn Env, v: &Val) -> Result<usize, String> {
    if let Some(o @ Value::Object(_)) = v.json()
        && env.struct_fields(o).is_some()
    {
        return Err("len of type struct".into());
    }
    match v {
        Val::NoValue => Err("reflect: call of reflect.Value.Type on zero Value".into()),
        Val::Nil(t) => match nil_kind_of(t) {
            NilKind::Slice | NilKind::Map => Ok(0),
            NilKind::Ptr => Err("len of nil pointer".into()),
        },
        _ => match v.json() {
            Some(Value::String(s)) => Ok(s.len()),
            Some(Value::Array(a)) => Ok(a.len()),
            Some(Value::Object(m)) => Ok(m.len()),
            _ => Err(format!("len of type {}", v.go_type())),
        },
    }
}

fn index_arg(idx: &Val, cap: usize) -> Result<usize, String> {
    let x: i128 = match idx {
        Val::NoValue | Val::Nil(_) => return Err("cannot index slice/array with nil".into()),
        _ => match idx.as_num() {
            Some(Num::Int(i)) => i128::from(i),
            Some(Num::Uint(u)) => i128::from(u),
            _ => {
                return Err(format!(
                    "cannot index slice/array with type {}",
                    idx.go_type()
                ));
            }
        },
    };
    if x < 0 || x > cap as i128 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

/// The zero value Go's `index` returns for a missing map key: `""` for
/// string maps (docker's labels), no value otherwise.
fn map_zero<'d>(m: &serde_json::Map<String, Value>) -> Val<'d> {
    if m.values().all(Value::is_string) {
        Val::str("")
    } else {
        Val::NoValue
    }
}

fn index<'d>(env: &dyn Env, item: &Val<'d>, idxs: &[Val<'d>]) -> FResult<'d> {
    if matches!(item, Val::NoValue) {
        return Err("index of untyped nil".into());
    }
    let mut cur = item.clone();
    for idx in idxs {
        let empty_map = serde_json::Map::new();
        match &cur {
            Val::NoValue => return Err("index of nil pointer".into()),
            Val::Nil(t) => match nil_kind_of(t) {
                NilKind::Ptr => return Err("index of nil pointer".into()),
                NilKind::Slice => {
                    index_arg(idx, 0)?;
                    return Err("reflect: slice index out of range".into());
                }
                NilKind::Map => {
                    key_of(idx)?;
                    cur = map_zero(&empty_map);
                    continue;
                }
            },
            _ => {}
        }
        let next = match cur.json() {
            Some(Value::String(s)) => {
                let x = index_arg(idx, s.len())?;
                if x == s.len() {
                    return Err("reflect: string index out of range".into());
                }
                Val::int(i64::from(s.as_bytes()[x]))
            }
            Some(Value::Array(a)) => {
                let x = index_arg(idx, a.len())?;
                if x == a.len() {
                    return Err("reflect: slice index out of range".into());
                }
                match cur.select(Sel::Index(x)) {
                    Some(v) if v.is_json_null() => Val::nil(NIL_TEXT),
                    Some(v) => v,
                    None => Val::NoValue,
                }
            }
            Some(o @ Value::Object(m)) => {
                if env.struct_fields(o).is_some() {
                    return Err("can't index item of type struct".into());
                }
                let k = key_of(idx)?;
                match cur.select(Sel::Key(k)) {
                    Some(v) if v.is_json_null() => Val::nil(NIL_TEXT),
                    Some(v) => v,
                    None => map_zero(m),
                }
            }
            _ => return Err(format!("can't index item of type {}", cur.go_type())),
        };
        cur = next;
    }
    Ok(cur)
}

fn key_of<'a>(idx: &'a Val) -> Result<&'a str, String> {
    match idx {
        Val::NoValue | Val::Nil(_) => Err("value is nil; should be of type string".into()),
        _ => idx
            .as_str()
            .ok_or_else(|| format!("value has type {}; should be string", idx.go_type())),
    }
}

fn slice<'d>(item: &Val<'d>, idxs: &[Val<'d>]) -> FResult<'d> {
    let item = match item {
        Val::NoValue => return Err("slice of untyped nil".into()),
        Val::Nil(t) => match nil_kind_of(t) {
            NilKind::Ptr => return Err("slice of nil pointer".into()),
            NilKind::Slice => Val::own(Value::Array(Vec::new())),
            NilKind::Map => {
                return Err("can't slice item of type map[string]interface {}".into());
            }
        },
        v => v.clone(),
    };
    if idxs.len() > 3 {
        return Err(format!("too many slice indexes: {}", idxs.len()));
    }
    let len = match item.json() {
        Some(Value::String(s)) => {
            if idxs.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Some(Value::Array(a)) => a.len(),
        _ => return Err(format!("can't slice item of type {}", item.go_type())),
    };
    let mut idx = [0usize, len, 0];
    for (k, x) in idxs.iter().enumerate() {
        idx[k] = index_arg(x, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if idxs.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item.json() {
        Some(Value::String(s)) => Val::str(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]])),
        Some(Value::Array(a)) => Val::own(Value::Array(a[idx[0]..idx[1]].to_vec())),
        _ => Val::NoValue,
    })
}

// ---------------------------------------------------------------------------
// Comparison.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    Str,
}

fn basic_kind(v: &Val) -> Kind {
    match v.json() {
        Some(Value::Bool(_)) => Kind::Bool,
        Some(Value::Number(n)) => match crate::value::num(n) {
            Num::Int(_) => Kind::Int,
            Num::Uint(_) => Kind::Uint,
            Num::Float(_) => Kind::Float,
        },
        Some(Value::String(_)) => Kind::Str,
        _ => Kind::Invalid,
    }
}

/// reflect kinds of non-basic values, for `canCompare`.
#[derive(PartialEq, Eq)]
enum RKind {
    Invalid,
    Ptr,
    Slice,
    Map,
    Other,
}

fn rkind(v: &Val) -> RKind {
    match v {
        Val::NoValue => RKind::Invalid,
        Val::Nil(t) => match nil_kind_of(t) {
            NilKind::Ptr => RKind::Ptr,
            NilKind::Slice => RKind::Slice,
            NilKind::Map => RKind::Map,
        },
        _ => match v.json() {
            Some(Value::Array(_)) => RKind::Slice,
            Some(Value::Object(_)) => RKind::Map,
            _ => RKind::Other,
        },
    }
}

fn is_nil(v: &Val) -> bool {
    matches!(v, Val::NoValue | Val::Nil(_))
}

fn num_i(v: &Val) -> i64 {
    match v.as_num() {
        Some(Num::Int(i)) => i,
        _ => 0,
    }
}

fn num_u(v: &Val) -> u64 {
    match v.as_num() {
        Some(Num::Uint(u)) => u,
        _ => 0,
    }
}

fn num_f(v: &Val) -> f64 {
    match v.as_num() {
        Some(Num::Float(f)) => f,
        _ => 0.0,
    }
}

fn sfmt(v: &Val, nt: NilFn) -> String {
    sprintf("%s", std::slice::from_ref(v), nt)
}

fn eq(a1: &Val, rest: &[Val], nt: NilFn) -> Result<bool, String> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(a1);
    for a in rest {
        let k2 = basic_kind(a);
        let truth = if k1 != k2 {
            match (k1, k2) {
                (Kind::Int, Kind::Uint) => num_i(a1) >= 0 && num_i(a1) as u64 == num_u(a),
                (Kind::Uint, Kind::Int) => num_i(a) >= 0 && num_u(a1) == num_i(a) as u64,
                _ => {
                    if a1.json().is_some() && a.json().is_some() {
                        return Err(format!(
                            "incompatible types for comparison: {} and {}",
                            a1.go_type(),
                            a.go_type()
                        ));
                    }
                    false
                }
            }
        } else {
            match k1 {
                Kind::Bool => a1.json() == a.json(),
                Kind::Int => num_i(a1) == num_i(a),
                Kind::Uint => num_u(a1) == num_u(a),
                Kind::Float => num_f(a1) == num_f(a),
                Kind::Str => a1.as_str() == a.as_str(),
                Kind::Invalid => {
                    let (r1, r2) = (rkind(a1), rkind(a));
                    if r1 != r2 && r1 != RKind::Invalid && r2 != RKind::Invalid {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            sfmt(a1, nt),
                            a1.go_type(),
                            a.go_type(),
                            sfmt(a, nt)
                        ));
                    }
                    if is_nil(a1) || is_nil(a) {
                        is_nil(a1) == is_nil(a)
                    } else {
                        return Err(format!(
                            "non-comparable type {}: {}",
                            sfmt(a, nt),
                            a.go_type()
                        ));
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a1: &Val, a2: &Val) -> Result<bool, String> {
    let k1 = basic_kind(a1);
    if k1 == Kind::Invalid {
        return Err("invalid type for comparison".into());
    }
    let k2 = basic_kind(a2);
    if k2 == Kind::Invalid {
        return Err("invalid type for comparison".into());
    }
    if k1 != k2 {
        return match (k1, k2) {
            (Kind::Int, Kind::Uint) => Ok(num_i(a1) < 0 || (num_i(a1) as u64) < num_u(a2)),
            (Kind::Uint, Kind::Int) => Ok(num_i(a2) >= 0 && num_u(a1) < num_i(a2) as u64),
            _ => Err(format!(
                "incompatible types for comparison: {} and {}",
                a1.go_type(),
                a2.go_type()
            )),
        };
    }
    Ok(match k1 {
        Kind::Bool | Kind::Invalid => return Err("invalid type for comparison".into()),
        Kind::Int => num_i(a1) < num_i(a2),
        Kind::Uint => num_u(a1) < num_u(a2),
        Kind::Float => num_f(a1) < num_f(a2),
        Kind::Str => a1.as_str() < a2.as_str(),
    })
}

fn le(a1: &Val, a2: &Val, nt: NilFn) -> Result<bool, String> {
    if lt(a1, a2)? {
        return Ok(true);
    }
    eq(a1, std::slice::from_ref(a2), nt)
}

// ---------------------------------------------------------------------------
// Strings.

fn split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(str::to_string).collect()
}

/// Go's simple (one-to-one) case mapping.
fn map_char(c: char, upper: bool) -> char {
    let mut it: Box<dyn Iterator<Item = char>> = if upper {
        Box::new(c.to_uppercase())
    } else {
        Box::new(c.to_lowercase())
    };
    match (it.next(), it.next()) {
        (Some(m), None) => m,
        _ => c,
    }
}

fn map_case(s: &str, upper: bool) -> String {
    s.chars().map(|c| map_char(c, upper)).collect()
}

/// Go's deprecated `strings.Title`.
fn title(s: &str) -> String {
    fn is_separator(c: char) -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphabetic() || c.is_numeric() {
            return false;
        }
        c.is_whitespace()
    }
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_separator(prev) {
                map_char(c, true)
            } else {
                c
            };
            prev = c;
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_helpers() {
        assert_eq!(title("hello wORLD foo_bar x-y"), "Hello WORLD Foo_bar X-Y");
        assert_eq!(split("a,b,,c", ","), vec!["a", "b", "", "c"]);
        assert_eq!(split("", ","), vec![""]);
        assert_eq!(split("ab", ""), vec!["a", "b"]);
        assert_eq!(map_case("Straße", true), "STRAßE");
    }
}
