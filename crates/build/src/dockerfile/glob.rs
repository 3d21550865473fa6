//! The shell patterns of `${VAR#p}`, `${VAR%p}` and `${VAR/p/r}`, matched as
//! buildkit's regexp translation of them matches: `*` and `?` never match a
//! newline, and among several matches the one a backtracking regexp finds
//! first wins (shortest or longest per star, leftmost first).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(char),
    /// `?`
    Any,
    /// `*`
    Star,
}

/// `*`, `?`, `\*`, `\?`, `\\`; `\}` and `\/` are the literal characters
/// (escaped only to get them into `${...}`); any other escape is an error.
pub(crate) fn compile(pattern: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        toks.push(match c {
            '*' => Tok::Star,
            '?' => Tok::Any,
            '\\' => match chars.peek() {
                Some('}' | '/') => continue,
                Some(&e @ ('*' | '?' | '\\')) => {
                    chars.next();
                    Tok::Lit(e)
                }
                Some(&e) => return Err(format!("invalid escape '\\{e}'")),
                None => return Err("invalid escape '\\'".into()),
            },
            c => Tok::Lit(c),
        });
    }
    Ok(toks)
}

/// Where a match of `toks` starting at `i` ends, trying each star's
/// shortest (or, greedy, longest) extent first.
fn match_at(toks: &[Tok], s: &[char], i: usize, greedy: bool) -> Option<usize> {
    let Some((tok, rest)) = toks.split_first() else {
        return Some(i);
    };
    match tok {
        Tok::Lit(c) => (s.get(i) == Some(c)).then(|| match_at(rest, s, i + 1, greedy))?,
        Tok::Any => {
            (s.get(i).is_some_and(|c| *c != '\n')).then(|| match_at(rest, s, i + 1, greedy))?
        }
        Tok::Star => {
            let max = s[i..]
                .iter()
                .position(|c| *c == '\n')
                .map_or(s.len(), |n| i + n);
            if greedy {
                (i..=max).rev().find_map(|j| match_at(rest, s, j, greedy))
            } else {
                (i..=max).find_map(|j| match_at(rest, s, j, greedy))
            }
        }
    }
}

/// `${VAR#p}` (shortest) and `${VAR##p}` (greedy).
pub(crate) fn trim_prefix(toks: &[Tok], value: &str, greedy: bool) -> String {
    let s: Vec<char> = value.chars().collect();
    match match_at(toks, &s, 0, greedy) {
        Some(end) => s[end..].iter().collect(),
        None => value.to_string(),
    }
}

/// `${VAR%p}` and `${VAR%%p}`: a prefix trim of both reversed.
pub(crate) fn trim_suffix(toks: &[Tok], value: &str, greedy: bool) -> String {
    let rev_toks: Vec<Tok> = toks.iter().rev().copied().collect();
    let rev: String = value.chars().rev().collect();
    trim_prefix(&rev_toks, &rev, greedy).chars().rev().collect()
}

/// `${VAR/p/r}` replaces the leftmost longest match, `${VAR//p/r}` all of
/// them as Go's Regexp.ReplaceAllString walks them (an empty match right
/// after a match is not replaced). The replacement is literal.
pub(crate) fn replace(toks: &[Tok], value: &str, replacement: &str, all: bool) -> String {
    let s: Vec<char> = value.chars().collect();
    let find =
        |from: usize| (from..=s.len()).find_map(|i| match_at(toks, &s, i, true).map(|e| (i, e)));
    let mut out = String::new();
    let mut last_end = 0;
    let mut search = 0;
    while search <= s.len() {
        let Some((start, end)) = find(search) else {
            break;
        };
        out.extend(&s[last_end..start]);
        if end > last_end || start == 0 {
            out.push_str(replacement);
        }
        last_end = end;
        search = if end > search { end } else { search + 1 };
        if !all {
            break;
        }
    }
    out.extend(&s[last_end.min(s.len())..]);
    out
}
