//! The parse error, worded as buildkit words it.

/// A Dockerfile that does not parse. Displays as buildkit's
/// `dockerfile parse error on line N: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dockerfile parse error on line {line}: {message}")]
pub struct ParseError {
    /// 1-based line where the offending instruction starts.
    pub line: usize,
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Self {
        ParseError {
            line,
            message: message.into(),
        }
    }
}

/// `msg (did you mean X?)` when one of `options` is within two edits of
/// `val`, as buildkit's suggest.WrapError. Case-insensitive matching answers
/// in the case `val` was written in (all lower or all upper).
pub(crate) fn suggest(msg: String, val: &str, options: &[&str], case_sensitive: bool) -> String {
    let fold = |s: &str| {
        if case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let val_f = fold(val);
    let mut best: Option<String> = None;
    let mut min = 3;
    for opt in options {
        let opt = fold(opt);
        if opt == val_f {
            return msg; // an exact match: the error is about something else
        }
        let d = levenshtein(&val_f, &opt);
        if d < min {
            min = d;
            best = Some(opt);
        }
    }
    let Some(mut best) = best else { return msg };
    if !case_sensitive && val == val.to_uppercase() && val != val.to_lowercase() {
        best = best.to_uppercase();
    }
    format!("{msg} (did you mean {best}?)")
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
