//! The runtime value model: JSON values standing in for Go values.
//!
//! Go kinds map as follows: JSON integers are Go `int` (or `uint64` above
//! `i64::MAX`), other JSON numbers `float64`, strings `string`, booleans
//! `bool`, arrays `[]interface {}`, objects `map[string]interface {}`.
//! Two extra states mirror Go's nil flavours:
//! * [`Val::NoValue`]: Go's invalid `reflect.Value` (a missing map key, an
//!   untyped nil); the template prints it as `<no value>`.
//! * [`Val::Nil`]: a JSON `null`, standing for a typed Go nil. It carries the
//!   text it prints as (`<nil>` for a nil pointer, `[]` for a nil slice,
//!   `map[]` for a nil map), and that text also selects its behaviour.

use std::rc::Rc;

use serde_json::{Number, Value};

#[derive(Clone, Debug)]
pub(crate) enum Val<'d> {
    NoValue,
    Nil(Rc<str>),
    Ref(&'d Value),
    Own(Rc<Value>),
}

/// What a typed nil behaves like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NilKind {
    /// A nil slice: empty for `len`, `range`, `index`.
    Slice,
    /// A nil map: empty for `len`, `range`, `index`, field access.
    Map,
    /// A nil pointer (or anything else).
    Ptr,
}

pub(crate) const NIL_TEXT: &str = "<nil>";

/// A Go number kind.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Num {
    Int(i64),
    Uint(u64),
    Float(f64),
}

pub(crate) fn num(n: &Number) -> Num {
    if let Some(i) = n.as_i64() {
        Num::Int(i)
    } else if let Some(u) = n.as_u64() {
        Num::Uint(u)
    } else {
        Num::Float(n.as_f64().unwrap_or(0.0))
    }
}

/// Selects a child of a JSON container.
pub(crate) enum Sel<'k> {
    Key(&'k str),
    Index(usize),
}

fn pick<'v>(v: &'v Value, s: &Sel) -> Option<&'v Value> {
    match (v, s) {
        (Value::Object(m), Sel::Key(k)) => m.get(*k),
        (Value::Array(a), Sel::Index(i)) => a.get(*i),
        _ => None,
    }
}

impl<'d> Val<'d> {
    pub(crate) fn nil(text: &str) -> Val<'d> {
        Val::Nil(Rc::from(text))
    }

    pub(crate) fn own(v: Value) -> Val<'d> {
        if v.is_null() {
            Val::nil(NIL_TEXT)
        } else {
            Val::Own(Rc::new(v))
        }
    }

    pub(crate) fn str(s: impl Into<String>) -> Val<'d> {
        Val::Own(Rc::new(Value::String(s.into())))
    }

    pub(crate) fn int(i: i64) -> Val<'d> {
        Val::Own(Rc::new(Value::Number(i.into())))
    }

    pub(crate) fn bool(b: bool) -> Val<'d> {
        Val::Own(Rc::new(Value::Bool(b)))
    }

    pub(crate) fn float(f: f64) -> Val<'d> {
        match Number::from_f64(f) {
            Some(n) => Val::Own(Rc::new(Value::Number(n))),
            None => Val::NoValue,
        }
    }

    pub(crate) fn json(&self) -> Option<&Value> {
        match self {
            Val::Ref(v) => Some(v),
            Val::Own(v) => Some(v),
            _ => None,
        }
    }

    /// The child selected by `s`, JSON null included (as a JSON value).
    pub(crate) fn select(&self, s: Sel) -> Option<Val<'d>> {
        match self {
            Val::Ref(v) => pick(v, &s).map(Val::Ref),
            Val::Own(v) => pick(v, &s).map(|c| Val::Own(Rc::new(c.clone()))),
            _ => None,
        }
    }

    /// Whether this is JSON null (which `select` may return).
    pub(crate) fn is_json_null(&self) -> bool {
        matches!(self.json(), Some(Value::Null))
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self.json() {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_num(&self) -> Option<Num> {
        match self.json() {
            Some(Value::Number(n)) => Some(num(n)),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&Vec<Value>> {
        match self.json() {
            Some(Value::Array(a)) => Some(a),
            _ => None,
        }
    }

    /// The JSON value handed to hooks (`null` for nils).
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Val::NoValue | Val::Nil(_) => Value::Null,
            Val::Ref(v) => (*v).clone(),
            Val::Own(v) => (**v).clone(),
        }
    }

    /// Go's `isTrue`.
    pub(crate) fn truth(&self) -> bool {
        match self {
            Val::NoValue | Val::Nil(_) => false,
            _ => match self.json() {
                Some(v) => json_truth(v),
                None => false,
            },
        }
    }

    /// The Go type name (`%T`, error messages).
    pub(crate) fn go_type(&self) -> String {
        match self {
            Val::NoValue | Val::Nil(_) => "<nil>".to_string(),
            _ => self.json().map(go_type_of).unwrap_or_default(),
        }
    }
}

pub(crate) fn nil_kind_of(text: &str) -> NilKind {
    match text {
        "[]" => NilKind::Slice,
        "map[]" => NilKind::Map,
        _ => NilKind::Ptr,
    }
}

pub(crate) fn json_truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => match num(n) {
            Num::Int(i) => i != 0,
            Num::Uint(u) => u != 0,
            Num::Float(f) => f != 0.0,
        },
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// Go type names for JSON values. Arrays and objects whose elements are all
/// strings are named as docker's typed fields would be (`[]string`,
/// `map[string]string`).
pub(crate) fn go_type_of(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) => match num(n) {
            Num::Int(_) => "int".into(),
            Num::Uint(_) => "uint64".into(),
            Num::Float(_) => "float64".into(),
        },
        Value::String(_) => "string".into(),
        Value::Array(a) => {
            if !a.is_empty() && a.iter().all(Value::is_string) {
                "[]string".into()
            } else {
                "[]interface {}".into()
            }
        }
        Value::Object(m) => {
            if !m.is_empty() && m.values().all(Value::is_string) {
                "map[string]string".into()
            } else {
                "map[string]interface {}".into()
            }
        }
    }
}
