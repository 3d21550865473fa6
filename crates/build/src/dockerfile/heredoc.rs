//! Finding heredoc markers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) on an
//! instruction's line, as buildkit's heredocsFromLine and ParseHeredoc.

use super::expand::Lexer;

/// A `<<` word: where the body ends and how it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    pub name: String,
    /// `<<-`: leading tabs are stripped from the body and the terminator.
    pub strip_tabs: bool,
    /// False when any part of the name was quoted.
    pub expand: bool,
}

const NO_ENV: &dyn Fn(&str) -> Option<String> = &|_| None;

/// The markers among a line's words, in order. A line that does not lex
/// (an unclosed quote) has none, as in buildkit.
pub(crate) fn from_line(line: &str) -> Result<Vec<Marker>, String> {
    // Always `\`: buildkit lexes heredoc words with the default escape.
    let mut lex = Lexer::new('\\', NO_ENV);
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    lex.skip_unset = true;
    let Ok((_, words)) = lex.process(line) else {
        return Ok(Vec::new());
    };
    let mut markers = Vec::new();
    for word in words {
        markers.extend(parse(&word)?);
    }
    Ok(markers)
}

/// `^(\d*)<<(-?)\s*([^<]*)$` whose rest lexes to one word; None if `word`
/// is not a heredoc marker.
pub(crate) fn parse(word: &str) -> Result<Option<Marker>, String> {
    let Some(after) = word
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .strip_prefix("<<")
    else {
        return Ok(None);
    };
    let strip_tabs = after.starts_with('-');
    let rest = after
        .strip_prefix('-')
        .unwrap_or(after)
        .trim_start_matches(['\t', '\n', '\x0c', '\r', ' ']);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let mut lex = Lexer::new('\\', NO_ENV);
    lex.skip_unset = true;
    let words = lex.process(rest).map_err(|e| e.to_string())?.1;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    // Quoting anywhere in the name turns expansion off: count the quotes
    // that survive with and without quote removal.
    lex.raw_quotes = true;
    let raw = lex.process(rest).map_err(|e| e.to_string())?.1;
    let quotes = |s: &str| s.chars().filter(|c| matches!(c, '\'' | '"')).count();
    let [raw_name] = raw.as_slice() else {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    };
    Ok(Some(Marker {
        name: name.clone(),
        strip_tabs,
        expand: quotes(name) == quotes(raw_name),
    }))
}
