//! YAML text to [`serde_json::Value`], read as compose-go's go-yaml (v3)
//! reads a compose file.
//!
//! The crate is `saphyr-parser`, the event parser under `saphyr`, chosen
//! over the others after trying each on anchors, merge keys, duplicate
//! keys and what it pulls in:
//! - `serde_yaml` is archived; its forks `serde_yaml_ng` and
//!   `serde_norway` sit on a C-to-Rust translation of libyaml
//!   (`unsafe-libyaml`), report a duplicate key without its line, fail a
//!   whole document on one integer past u64, and their `apply_merge`
//!   leaves a `<<` inside a merged anchor unresolved.
//! - `yaml-rust2` and `saphyr` (same maintainers, saphyr the maintained
//!   successor) resolve scalars as YAML 1.2's core schema (`0755` is 755,
//!   where go-yaml reads 493, and file modes are written that way) and do
//!   no merge keys.
//! - `saphyr-parser` is pure Rust with two small dependencies
//!   (`arraydeque`, `thiserror`), gives every event a line and column,
//!   resolves nothing itself: so this module resolves scalars as go-yaml
//!   does, expands aliases (with a bound on what they expand to), applies
//!   `<<` merge keys (one map or a list of maps, earlier maps winning,
//!   explicit keys over merged ones), refuses duplicate keys with both
//!   lines in compose's words, and records compose's `!reset` and
//!   `!override` tags for the merge of override files.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

/// Past this many nodes (aliases counted as what they expand to) a file is
/// refused: a few aliases of aliases make gigabytes otherwise.
const MAX_NODES: usize = 1_000_000;

/// One YAML document of a compose file.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    /// Where `!reset` and `!override` stood (paths of mapping keys).
    pub tags: Vec<TaggedPath>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    /// `!reset`: the key is dropped here and from what this file overrides.
    Reset,
    /// `!override`: the value replaces, rather than merges with, the
    /// overridden one.
    Override,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedPath {
    pub path: Vec<String>,
    pub kind: TagKind,
}

/// A syntax error with where it is (line 1-based, column 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl YamlError {
    fn at(span: &Span, message: String) -> Self {
        YamlError {
            line: span.start.line(),
            column: span.start.col() + 1,
            message,
        }
    }
}

/// Every document of `text` (an empty file has none).
pub fn parse(text: &str) -> Result<Vec<Document>, YamlError> {
    let mut b = Builder::default();
    for event in Parser::new_from_str(text).keep_tags(true) {
        let (event, span) = event.map_err(|e| YamlError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        b.event(event, span)?;
    }
    Ok(b.docs)
}

#[derive(Debug)]
enum Key {
    Name(String),
    /// A plain `<<`.
    Merge,
}

#[derive(Debug)]
enum Frame {
    Map {
        map: Map<String, Value>,
        path: Vec<String>,
        anchor: usize,
        tag: Option<TagKind>,
        key: Option<Key>,
        lines: HashMap<String, usize>,
        merges: Vec<Value>,
        tags_from: usize,
    },
    Seq {
        seq: Vec<Value>,
        path: Vec<String>,
        anchor: usize,
        tag: Option<TagKind>,
        /// The list after a `<<`: its items merge into the parent map.
        merge: bool,
        tags_from: usize,
    },
}

#[derive(Debug)]
struct Anchored {
    value: Value,
    nodes: usize,
    /// Tag paths inside the anchored node, relative to it.
    tags: Vec<TaggedPath>,
}

#[derive(Debug, Default)]
struct Builder {
    docs: Vec<Document>,
    stack: Vec<Frame>,
    tags: Vec<TaggedPath>,
    anchors: HashMap<usize, Anchored>,
    nodes: usize,
    root: Option<Value>,
    /// The scalar being added is a plain, untagged `<<`.
    plain_merge: bool,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {
                self.root = None;
                self.tags.clear();
                self.anchors.clear();
                self.nodes = 0;
            }
            Event::DocumentEnd => {
                let value = self.root.take().unwrap_or(Value::Null);
                self.docs.push(Document {
                    value,
                    tags: std::mem::take(&mut self.tags),
                });
            }
            Event::Scalar(text, style, anchor, tag) => {
                let kind = tag_kind(tag.as_deref());
                let value = resolve_scalar(&text, style, tag.as_deref())
                    .map_err(|m| YamlError::at(&span, m))?;
                let path = self.child_path();
                let tags_from = self.tags.len();
                self.plain_merge = style == ScalarStyle::Plain && tag.is_none() && text == "<<";
                let added = self.add(value, anchor, kind, path, tags_from, 1, &span);
                self.plain_merge = false;
                added?;
            }
            Event::Alias(id) => {
                let Some(a) = self.anchors.get(&id) else {
                    return Err(YamlError::at(&span, "unknown anchor".into()));
                };
                self.nodes += a.nodes;
                if self.nodes > MAX_NODES {
                    return Err(YamlError::at(
                        &span,
                        format!(
                            "document too large: more than {MAX_NODES} nodes once aliases are expanded"
                        ),
                    ));
                }
                let value = a.value.clone();
                let rel = a.tags.clone();
                let path = self.child_path();
                let tags_from = self.tags.len();
                for t in rel {
                    let mut p = path.clone();
                    p.extend(t.path);
                    self.tags.push(TaggedPath {
                        path: p,
                        kind: t.kind,
                    });
                }
                self.add(value, 0, None, path, tags_from, 0, &span)?;
            }
            Event::MappingStart(anchor, tag) => {
                let path = self.child_path();
                self.stack.push(Frame::Map {
                    map: Map::new(),
                    path,
                    anchor,
                    tag: tag_kind(tag.as_deref()),
                    key: None,
                    lines: HashMap::new(),
                    merges: Vec::new(),
                    tags_from: self.tags.len(),
                });
            }
            Event::SequenceStart(anchor, tag) => {
                let merge = matches!(
                    self.stack.last(),
                    Some(Frame::Map {
                        key: Some(Key::Merge),
                        ..
                    })
                );
                let path = self.child_path();
                self.stack.push(Frame::Seq {
                    seq: Vec::new(),
                    path,
                    anchor,
                    tag: tag_kind(tag.as_deref()),
                    merge,
                    tags_from: self.tags.len(),
                });
            }
            Event::MappingEnd => {
                let Some(Frame::Map {
                    mut map,
                    path,
                    anchor,
                    tag,
                    merges,
                    tags_from,
                    ..
                }) = self.stack.pop()
                else {
                    return Err(YamlError::at(&span, "unbalanced mapping".into()));
                };
                if !merges.is_empty() {
                    let mut merged = Map::new();
                    for m in merges {
                        if let Value::Object(m) = m {
                            for (k, v) in m {
                                merged.entry(k).or_insert(v);
                            }
                        }
                    }
                    for (k, v) in map {
                        merged.insert(k, v);
                    }
                    map = merged;
                }
                self.add(Value::Object(map), anchor, tag, path, tags_from, 1, &span)?;
            }
            Event::SequenceEnd => {
                let Some(Frame::Seq {
                    seq,
                    path,
                    anchor,
                    tag,
                    tags_from,
                    ..
                }) = self.stack.pop()
                else {
                    return Err(YamlError::at(&span, "unbalanced sequence".into()));
                };
                self.add(Value::Array(seq), anchor, tag, path, tags_from, 1, &span)?;
            }
        }
        Ok(())
    }

    /// The path the next node will have: merged maps' keys belong to the
    /// map they merge into, so `<<` and its list are left out.
    fn child_path(&self) -> Vec<String> {
        match self.stack.last() {
            None => Vec::new(),
            Some(Frame::Map { path, key, .. }) => {
                let mut p = path.clone();
                if let Some(Key::Name(k)) = key {
                    p.push(k.clone());
                }
                p
            }
            Some(Frame::Seq {
                seq, path, merge, ..
            }) => {
                let mut p = path.clone();
                if !merge {
                    p.push(seq.len().to_string());
                }
                p
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        value: Value,
        anchor: usize,
        tag: Option<TagKind>,
        path: Vec<String>,
        tags_from: usize,
        nodes: usize,
        span: &Span,
    ) -> Result<(), YamlError> {
        self.nodes += nodes;
        if self.nodes > MAX_NODES {
            return Err(YamlError::at(
                span,
                format!("document too large: more than {MAX_NODES} nodes"),
            ));
        }
        let is_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
        if anchor != 0 {
            let tags = self.tags[tags_from..]
                .iter()
                .filter(|t| t.path.starts_with(&path))
                .map(|t| TaggedPath {
                    path: t.path[path.len()..].to_vec(),
                    kind: t.kind,
                })
                .collect();
            let count = count_nodes(&value);
            self.anchors.insert(
                anchor,
                Anchored {
                    value: value.clone(),
                    nodes: count,
                    tags,
                },
            );
        }
        if let Some(kind) = tag
            && !is_key
        {
            self.tags.push(TaggedPath {
                path: path.clone(),
                kind,
            });
            if kind == TagKind::Reset {
                // The key (or item) is dropped from this document altogether.
                if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                    *key = None;
                }
                return Ok(());
            }
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { seq, .. }) => seq.push(value),
            Some(Frame::Map {
                map,
                key,
                lines,
                merges,
                ..
            }) => match key.take() {
                None => {
                    let line = span.start.line();
                    let k = match value {
                        Value::String(s) => s,
                        other => {
                            let at = if path.is_empty() {
                                "at top level".to_string()
                            } else {
                                format!("in {}", path.join("."))
                            };
                            return Err(YamlError::at(
                                span,
                                format!("non-string key {at}: {other}"),
                            ));
                        }
                    };
                    if self.plain_merge {
                        *key = Some(Key::Merge);
                        return Ok(());
                    }
                    if let Some(first) = lines.get(&k) {
                        return Err(YamlError::at(
                            span,
                            format!("mapping key {k:?} already defined at line {first}"),
                        ));
                    }
                    lines.insert(k.clone(), line);
                    *key = Some(Key::Name(k));
                }
                Some(Key::Merge) => match value {
                    Value::Object(_) => merges.push(value),
                    Value::Array(items) => {
                        for item in items {
                            if !item.is_object() {
                                return Err(YamlError::at(
                                    span,
                                    "map merge requires map or sequence of maps as the value"
                                        .into(),
                                ));
                            }
                            merges.push(item);
                        }
                    }
                    _ => {
                        return Err(YamlError::at(
                            span,
                            "map merge requires map or sequence of maps as the value".into(),
                        ));
                    }
                },
                Some(Key::Name(k)) => {
                    map.insert(k, value);
                }
            },
        }
        Ok(())
    }
}

fn count_nodes(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(count_nodes).sum::<usize>(),
        Value::Object(m) => 1 + m.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

fn tag_kind(tag: Option<&Tag>) -> Option<TagKind> {
    let tag = tag?;
    if tag.handle != "!" {
        return None;
    }
    match tag.suffix.as_str() {
        "reset" => Some(TagKind::Reset),
        "override" => Some(TagKind::Override),
        _ => None,
    }
}

fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag
        && tag.is_yaml_core_schema()
    {
        return match tag.suffix.as_str() {
            "str" => Ok(Value::String(text.to_string())),
            "null" => Ok(Value::Null),
            "bool" => match text {
                "true" | "True" | "TRUE" => Ok(Value::Bool(true)),
                "false" | "False" | "FALSE" => Ok(Value::Bool(false)),
                _ => Err(format!("cannot decode {text:?} as a !!bool")),
            },
            "int" => int(text).ok_or_else(|| format!("cannot decode {text:?} as an !!int")),
            "float" => int(text)
                .or_else(|| float(text))
                .ok_or_else(|| format!("cannot decode {text:?} as a !!float")),
            _ => Ok(Value::String(text.to_string())),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    Ok(plain(text))
}

/// go-yaml v3's resolution of a plain scalar: null, bool, int (Go's base
/// prefixes, `0777` octal as YAML 1.1 had it, `_` separators), float,
/// else a string. `.inf` and `.nan` stay strings: JSON has no such numbers.
pub fn plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if (first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.'))
        && let Some(v) = int(text).or_else(|| float(text))
    {
        return v;
    }
    Value::String(text.to_string())
}

fn int(text: &str) -> Option<Value> {
    let t = text.replace('_', "");
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, &t[..]),
    };
    let (radix, digits) = if let Some(d) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, d)
    } else if let Some(d) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, d)
    } else if let Some(d) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, d)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        let n = i64::try_from(n)
            .ok()
            .or_else(|| (n == 1 << 63).then_some(i64::MIN))?;
        Some(Value::Number(Number::from(n.wrapping_neg())))
    } else if let Ok(n) = i64::try_from(n) {
        Some(Value::Number(Number::from(n)))
    } else {
        Some(Value::Number(Number::from(n)))
    }
}

fn float(text: &str) -> Option<Value> {
    // `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let ok_mantissa = match mantissa.split_once('.') {
        Some(("", frac)) => !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()),
        Some((int, frac)) => {
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let ok_exp = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    if !(ok_mantissa && ok_exp) {
        return None;
    }
    let f: f64 = text.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Document {
        let mut d = parse(text).unwrap();
        assert_eq!(d.len(), 1);
        d.remove(0)
    }

    #[test]
    fn scalars_resolve_as_go_yaml_does() {
        let d = one(
            "a: 0755\nb: 0o17\nc: yes\nd: 1.5\ne: ~\nf: True\ng: '12'\nh: 1_000\ni: 0x1F\nj: -3\nk: .5\nl: 1e3\nm: 99999999999999999999\n",
        );
        assert_eq!(d.value["a"], json!(493));
        assert_eq!(d.value["b"], json!(15));
        assert_eq!(d.value["c"], json!("yes"));
        assert_eq!(d.value["d"], json!(1.5));
        assert_eq!(d.value["e"], json!(null));
        assert_eq!(d.value["f"], json!(true));
        assert_eq!(d.value["g"], json!("12"));
        assert_eq!(d.value["h"], json!(1000));
        assert_eq!(d.value["i"], json!(31));
        assert_eq!(d.value["j"], json!(-3));
        assert_eq!(d.value["k"], json!(0.5));
        assert_eq!(d.value["l"], json!(1000.0));
        assert_eq!(d.value["m"], json!(1e20));
    }

    #[test]
    fn merge_keys_and_anchors() {
        let d = one(
            "a: &a {p: 1, q: 2}\nb: &b {q: 3, r: 4}\nc:\n  <<: [*a, *b]\n  p: 9\nd: &d\n  <<: {z: 1}\n  k: 2\ne:\n  <<: *d\n  '<<': lit\n",
        );
        assert_eq!(d.value["c"], json!({"p": 9, "q": 2, "r": 4}));
        assert_eq!(d.value["e"], json!({"z": 1, "k": 2, "<<": "lit"}));
    }

    #[test]
    fn duplicate_keys_are_refused_with_both_lines() {
        let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (3, "mapping key \"a\" already defined at line 1")
        );
    }

    #[test]
    fn tags_are_recorded() {
        let d = one("services:\n  web:\n    ports: !reset []\n    command: !override [a]\n");
        assert_eq!(d.value, json!({"services": {"web": {"command": ["a"]}}}));
        assert_eq!(
            d.tags,
            vec![
                TaggedPath {
                    path: vec!["services".into(), "web".into(), "ports".into()],
                    kind: TagKind::Reset
                },
                TaggedPath {
                    path: vec!["services".into(), "web".into(), "command".into()],
                    kind: TagKind::Override
                },
            ]
        );
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("too large"), "{e:?}");
    }
}
