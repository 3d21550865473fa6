//! `${VAR}` interpolation, as compose-go's `template` package does it:
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`,
//! `${VAR?err}`, `${VAR:+alt}`, `${VAR+alt}`, `$$` for a literal `$`, and
//! defaults that are templates themselves (`${A:-${B:-c}}`). An unset
//! variable without a default is empty, with a warning; a `$` followed by
//! anything else (`$1`, `$ `) is left as it is.

use std::collections::BTreeMap;

use serde_json::Value;

/// Why a template could not be substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `${` not closed, or not a name and an operator.
    Invalid,
    /// `${VAR:?reason}` or `${VAR?reason}` on an unset (or empty) variable.
    Required { variable: String, reason: String },
}

impl TemplateError {
    /// compose's wording, `path` naming where the string was.
    pub fn describe(&self, path: &str, template: &str) -> String {
        match self {
            TemplateError::Invalid => format!(
                "invalid interpolation format for {path}.\nYou may need to escape any $ with another $.\n{template}"
            ),
            TemplateError::Required { variable, reason } if reason.is_empty() => format!(
                "error while interpolating {path}: required variable {variable} is missing a value"
            ),
            TemplateError::Required { variable, reason } => format!(
                "error while interpolating {path}: required variable {variable} is missing a value: {reason}"
            ),
        }
    }
}

/// Looks variables up and collects the warnings for unset ones.
pub struct Interpolator<'a> {
    env: &'a BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

impl<'a> Interpolator<'a> {
    pub fn new(env: &'a BTreeMap<String, String>) -> Self {
        Interpolator {
            env,
            warnings: Vec::new(),
        }
    }

    fn lookup(&self, name: &str) -> Option<&'a str> {
        self.env.get(name).map(String::as_str)
    }

    fn unset(&mut self, name: &str) {
        let w = format!("The {name:?} variable is not set. Defaulting to a blank string.");
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    /// One string.
    pub fn substitute(&mut self, template: &str) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if after.starts_with('{') {
                let close = closing_brace(after).ok_or(TemplateError::Invalid)?;
                out.push_str(&self.braced(&after[1..close])?);
                rest = &after[close + 1..];
            } else {
                let n = name_len(after);
                if n == 0 {
                    out.push('$');
                    rest = after;
                } else {
                    let name = &after[..n];
                    match self.lookup(name) {
                        Some(v) => out.push_str(v),
                        None => self.unset(name),
                    }
                    rest = &after[n..];
                }
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The inside of `${...}`.
    fn braced(&mut self, inner: &str) -> Result<String, TemplateError> {
        let n = name_len(inner);
        if n == 0 {
            return Err(TemplateError::Invalid);
        }
        let (name, op) = inner.split_at(n);
        let value = self.lookup(name);
        let (colon, op) = match op.strip_prefix(':') {
            Some(o) => (true, o),
            None => (false, op),
        };
        if op.is_empty() {
            if colon {
                return Err(TemplateError::Invalid);
            }
            return Ok(match value {
                Some(v) => v.to_string(),
                None => {
                    self.unset(name);
                    String::new()
                }
            });
        }
        if !op.starts_with(['-', '+', '?']) {
            return Err(TemplateError::Invalid);
        }
        let arg = &op[1..];
        // `:` makes an empty value count as unset.
        let set = match value {
            Some(v) => !(colon && v.is_empty()),
            None => false,
        };
        match op.as_bytes()[0] {
            b'-' => {
                if set {
                    Ok(value.unwrap_or_default().to_string())
                } else {
                    self.substitute(arg)
                }
            }
            b'+' => {
                if set {
                    self.substitute(arg)
                } else {
                    Ok(value.unwrap_or_default().to_string())
                }
            }
            b'?' => {
                if set {
                    Ok(value.unwrap_or_default().to_string())
                } else {
                    Err(TemplateError::Required {
                        variable: name.to_string(),
                        reason: self.substitute(arg)?,
                    })
                }
            }
            _ => Err(TemplateError::Invalid),
        }
    }

    /// Every string in `value` (not keys), `path` naming where it is for
    /// errors, which are `(path, message)`.
    pub fn value(
        &mut self,
        value: &mut Value,
        path: &mut Vec<String>,
    ) -> Result<(), (String, String)> {
        match value {
            Value::String(s) if s.contains('$') => {
                *s = self.substitute(s).map_err(|e| {
                    let p = join(path);
                    let m = e.describe(&p, s);
                    (p, m)
                })?;
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    path.push(format!("[{i}]"));
                    let r = self.value(item, path);
                    path.pop();
                    r?;
                }
            }
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    path.push(k.clone());
                    let r = self.value(v, path);
                    path.pop();
                    r?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// `services.web.ports[0]`.
fn join(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if !out.is_empty() && !seg.starts_with('[') {
            out.push('.');
        }
        out.push_str(seg);
    }
    out
}

/// `[_a-zA-Z][_a-zA-Z0-9]*` at the start of `s`.
fn name_len(s: &str) -> usize {
    let b = s.as_bytes();
    if b.is_empty() || !(b[0] == b'_' || b[0].is_ascii_alphabetic()) {
        return 0;
    }
    b.iter()
        .take_while(|c| **c == b'_' || c.is_ascii_alphanumeric())
        .count()
}

/// The index of the `}` closing the `{` that `s` starts with, braces
/// nested inside counted.
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.bytes().enumerate() {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(t: &str) -> Result<String, TemplateError> {
        let env = BTreeMap::from([("A".to_string(), "a".to_string())]);
        Interpolator::new(&env).substitute(t)
    }

    #[test]
    fn odd_templates() {
        assert_eq!(sub("${A€}"), Err(TemplateError::Invalid));
        assert_eq!(sub("${A:}"), Err(TemplateError::Invalid));
        assert_eq!(sub("${}"), Err(TemplateError::Invalid));
        assert_eq!(sub("€$A€").unwrap(), "€a€");
        assert_eq!(sub("$").unwrap(), "$");
        assert_eq!(sub("a$$$A").unwrap(), "a$a");
        assert_eq!(sub("${A:-{x}}").unwrap(), "a");
        assert_eq!(sub("${B:-{x}}").unwrap(), "{x}");
        assert_eq!(sub("${B:-a}${A}").unwrap(), "aa");
    }
}
