//! `.env` and `env_file` files, as compose-go's `dotenv` reads them:
//! `KEY=value` (or `KEY: value`), an optional `export `, `#` comments
//! (inline ones after a space on unquoted values), single quotes taken
//! literally, double quotes with escapes (`\n`, `\t`, `\"`, `\\`, `\$`) and
//! multi-line values, `${VAR}` interpolation in unquoted and double-quoted
//! values, and a bare `KEY` taken from the environment when set there.

use std::collections::BTreeMap;

use super::interpolate::{Interpolator, TemplateError};

/// Parses `text`; `lookup` answers for variables used in values and for
/// bare keys (before the file's own earlier keys). Errors are
/// `line N: ...`, warnings (unset variables) go to `warnings`.
pub fn parse(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut line = 1usize;
    let mut rest = text;
    loop {
        // Skip blanks and comment lines.
        let start = rest.trim_start_matches(|c: char| {
            if c == '\n' {
                line += 1;
            }
            c.is_whitespace()
        });
        rest = start;
        if rest.is_empty() {
            break;
        }
        if rest.starts_with('#') {
            rest = rest.find('\n').map_or("", |i| &rest[i..]);
            continue;
        }
        if let Some(r) = rest.strip_prefix("export")
            && r.starts_with([' ', '\t'])
        {
            rest = r.trim_start_matches([' ', '\t']);
        }
        let mut end = None;
        for (i, c) in rest.char_indices() {
            match c {
                '=' | ':' | '\n' => {
                    end = Some((i, c));
                    break;
                }
                ' ' | '\t' | '\r' | '_' | '.' | '-' | '[' | ']' => {}
                c if c.is_alphanumeric() => {}
                c => {
                    let first = rest.lines().next().unwrap_or("");
                    return Err(format!(
                        "line {line}: unexpected character {:?} in variable name {first:?}",
                        c.to_string()
                    ));
                }
            }
        }
        let (i, sep) = end.unwrap_or((rest.len(), '\n'));
        let key = rest[..i].trim_end().to_string();
        if key.contains(' ') {
            return Err(format!("line {line}: key cannot contain a space"));
        }
        if sep == '\n' {
            // A bare key: inherited when the environment has it.
            if let Some(v) = lookup(&key) {
                out.push((key, v));
            }
            rest = &rest[i..];
            continue;
        }
        rest = rest[i + 1..].trim_start_matches([' ', '\t']);
        let env_of = |out: &Vec<(String, String)>| {
            let mut m: BTreeMap<String, String> = BTreeMap::new();
            for (k, v) in out {
                m.insert(k.clone(), v.clone());
            }
            m
        };
        let value;
        match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &rest[1..];
                let mut chars = String::new();
                let mut escaped = false;
                let mut close = None;
                for (j, c) in body.char_indices() {
                    if c == '\n' {
                        line += 1;
                    }
                    if c != q {
                        if !escaped && c == '\\' {
                            escaped = true;
                            continue;
                        }
                        if escaped {
                            escaped = false;
                            chars.push('\\');
                        }
                        chars.push(c);
                        continue;
                    }
                    if escaped {
                        escaped = false;
                        chars.push(c);
                        continue;
                    }
                    close = Some(j);
                    break;
                }
                let Some(j) = close else {
                    let first = rest.lines().next().unwrap_or("");
                    return Err(format!("line {line}: unterminated quoted value {first}"));
                };
                value = if q == '"' {
                    expand(&unescape(&chars), lookup, &env_of(&out), warnings, line)?
                } else {
                    chars
                };
                rest = &body[j + 1..];
                // The rest of the line (a comment) is ignored.
                rest = rest.find('\n').map_or("", |k| &rest[k..]);
            }
            _ => {
                let (raw, tail) = rest.split_once('\n').unwrap_or((rest, ""));
                let raw = raw.split_once(" #").map_or(raw, |(v, _)| v).trim_end();
                value = expand(raw, lookup, &env_of(&out), warnings, line)?;
                line += 1;
                rest = tail;
            }
        }
        out.retain(|(k, _)| *k != key);
        out.push((key, value));
    }
    Ok(out)
}

/// The `raw` env_file format: `KEY=VALUE` lines taken as they are.
pub fn parse_raw(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for l in text.lines() {
        let l = l.trim_end_matches('\r');
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        let k = k.trim().to_string();
        out.retain(|(x, _)| *x != k);
        out.push((k, v.to_string()));
    }
    out
}

fn expand(
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    earlier: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
    line: usize,
) -> Result<String, String> {
    if !value.contains('$') {
        return Ok(value.to_string());
    }
    // The environment first, then the file's earlier keys.
    let mut env = earlier.clone();
    for name in variables(value) {
        if let Some(v) = lookup(&name) {
            env.insert(name, v);
        }
    }
    let mut i = Interpolator::new(&env);
    let r = i.substitute(value);
    for w in i.warnings {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    r.map_err(|e| match e {
        TemplateError::Invalid => format!("line {line}: invalid template: {value:?}"),
        TemplateError::Required { variable, reason } if reason.is_empty() => {
            format!("line {line}: required variable {variable} is missing a value")
        }
        TemplateError::Required { variable, reason } => {
            format!("line {line}: required variable {variable} is missing a value: {reason}")
        }
    })
}

/// Every name a template could look up (over-approximated: any
/// identifier after a `$` or `${`, defaults included).
fn variables(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let mut j = i + 1;
            if j < b.len() && b[j] == b'{' {
                j += 1;
            }
            let k = j + b[j..]
                .iter()
                .take_while(|c| **c == b'_' || c.is_ascii_alphanumeric())
                .count();
            if k > j {
                out.push(s[j..k].to_string());
            }
            i = k.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Double-quoted escapes: `\n \t \r \a \b \f \v \\ \" \$` and `\0NNN`
/// octal; any other backslash stays.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('f') => out.push('\x0c'),
            Some('v') => out.push('\x0b'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('$') => out.push_str("$$"),
            Some('0') => {
                chars.next();
                let mut n = 0u32;
                let mut digits = 0;
                while digits < 3 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            n = n * 8 + d;
                            chars.next();
                            digits += 1;
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(n).unwrap_or('\0'));
                continue;
            }
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Vec<(String, String)> {
        let env = |k: &str| (k == "HOME").then(|| "/home/me".to_string());
        parse(text, &env, &mut Vec::new()).unwrap()
    }

    #[test]
    fn forms() {
        let got = p(
            "# c\nA=1\nexport B = two words # comment\nC='${HOME} $x'\nD=\"a\\nb ${A}\"\nE: yaml\nHOME\nF=${HOME}/x\nG=\"multi\nline\"\nH=\n",
        );
        let want: Vec<(String, String)> = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "${HOME} $x"),
            ("D", "a\nb 1"),
            ("E", "yaml"),
            ("HOME", "/home/me"),
            ("F", "/home/me/x"),
            ("G", "multi\nline"),
            ("H", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("A=1\nB=\"open\n", &|_| None, &mut Vec::new()).unwrap_err();
        assert!(e.starts_with("line 3: unterminated quoted value"), "{e}");
        let e = parse("A=1\nB C=2\n", &|_| None, &mut Vec::new()).unwrap_err();
        assert_eq!(e, "line 2: key cannot contain a space");
    }
}
