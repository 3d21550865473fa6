//! Docker's word processing (buildkit's frontend/dockerfile/shell/lex.go):
//! quote removal, escapes and `$VAR` / `${VAR...}` expansion, done at build
//! time with the ARG and ENV in scope.
//!
//! Supported forms, as buildkit: `$VAR`, `${VAR}`, `${VAR:-w}`, `${VAR-w}`,
//! `${VAR:+w}`, `${VAR+w}`, `${VAR:?msg}`, `${VAR?msg}`, `${VAR#p}`,
//! `${VAR##p}`, `${VAR%s}`, `${VAR%%s}`, `${VAR/p/r}`, `${VAR//p/r}`.
//! Patterns know `*`, `?` and `\` escapes (no `[...]`, as buildkit); like
//! Go's regexp `.`, they never match a newline.

use super::glob;

/// A word that does not process: unterminated quote or `${`, bad
/// substitution, unsupported modifier, `${VAR?}` of an unset variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {word:?}: {message}")]
pub struct ExpandError {
    pub word: String,
    pub message: String,
}

/// `word` with quotes removed and variables expanded; whitespace is kept
/// (ENV values, WORKDIR, COPY sources...).
pub fn expand_word(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    Lexer::new(escape, lookup).process(word).map(|(w, _)| w)
}

/// `word` processed as [`expand_word`] and split on whitespace that was
/// neither quoted nor escaped (EXPOSE, and `${VAR}` values split too).
pub fn expand_words(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, ExpandError> {
    Lexer::new(escape, lookup).process(word).map(|(_, ws)| ws)
}

/// The lexer with buildkit's modes; the raw ones serve heredoc detection.
pub(crate) struct Lexer<'a> {
    escape: char,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Keep quote characters in the result.
    pub raw_quotes: bool,
    /// Keep escape characters in the result.
    pub raw_escapes: bool,
    /// Leave unset variables as written instead of expanding them to "".
    pub skip_unset: bool,
}

impl<'a> Lexer<'a> {
    pub fn new(escape: char, lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Lexer {
            escape,
            lookup,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset: false,
        }
    }

    /// The processed word, and its whitespace-split words.
    pub fn process(&self, word: &str) -> Result<(String, Vec<String>), ExpandError> {
        let mut w = Word {
            lex: self,
            chars: word.chars().collect(),
            pos: 0,
            raw_escapes: self.raw_escapes,
        };
        w.stop_on(None, self.raw_escapes)
            .map_err(|message| ExpandError {
                word: word.to_string(),
                message,
            })
    }
}

/// The split into words: text from `$` expansions splits on whitespace,
/// quoted and escaped text does not.
#[derive(Default)]
struct Words {
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if !ch.is_whitespace() {
            self.add_raw_char(ch);
        } else if self.in_word && !self.buf.is_empty() {
            self.words.push(std::mem::take(&mut self.buf));
            self.in_word = false;
        }
    }
    fn add_raw_char(&mut self, ch: char) {
        self.buf.push(ch);
        self.in_word = true;
    }
    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }
    fn add_raw_string(&mut self, s: &str) {
        self.buf.push_str(s);
        self.in_word = true;
    }
    fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(self.buf);
        }
        self.words
    }
}

struct Word<'l, 'a> {
    lex: &'l Lexer<'a>,
    chars: Vec<char>,
    pos: usize,
    raw_escapes: bool,
}

impl Word<'_, '_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }

    /// Processes up to `stop` (consumed) or the end; `${...}` words are
    /// processed with their own escape mode, restored after.
    fn stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let r = self.stop_on_inner(stop);
        self.raw_escapes = saved;
        r
    }

    fn stop_on_inner(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let v = self.dollar()?;
                    result.push_str(&v);
                    words.add_string(&v);
                }
                '<' | '\'' | '"' => {
                    let v = match ch {
                        '<' => self.possible_heredoc(),
                        '\'' => self.single_quote()?,
                        _ => self.double_quote()?,
                    };
                    result.push_str(&v);
                    words.add_raw_string(&v);
                }
                _ => {
                    self.next();
                    if ch != self.lex.escape {
                        words.add_char(ch);
                        result.push(ch);
                        continue;
                    }
                    if self.raw_escapes {
                        words.add_raw_char(ch);
                        result.push(ch);
                    }
                    // An escape at the very end is dropped.
                    let Some(c) = self.next() else { break };
                    words.add_raw_char(c);
                    result.push(c);
                }
            }
        }
        match stop {
            Some(c) => Err(format!(
                "unexpected end of statement while looking for matching {c}"
            )),
            None => Ok((result, words.finish())),
        }
    }

    /// Everything up to the next `'` as is: nothing escapes inside.
    fn single_quote(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let q = self.next();
        out.extend(q.filter(|_| self.lex.raw_quotes));
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    );
                }
                Some('\'') => {
                    out.extend(q.filter(|_| self.lex.raw_quotes));
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// Up to the next unescaped `"`, expanding `$`; the escape character
    /// only escapes `"`, `$` and itself, and stays otherwise.
    fn double_quote(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let q = self.next();
        out.extend(q.filter(|_| self.lex.raw_quotes));
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    );
                }
                Some('"') => {
                    self.next();
                    out.extend(q.filter(|_| self.lex.raw_quotes));
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(mut ch) => {
                    self.next();
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            out.push(ch);
                        }
                        match self.peek() {
                            None => continue, // then: unterminated
                            Some(c) if c == '"' || c == '$' || c == self.lex.escape => {
                                self.next();
                                ch = c;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.lex.lookup)(name)
    }

    fn dollar(&mut self) -> Result<String, String> {
        self.next(); // $
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.get(&name) {
                Some(v) => v,
                None if self.lex.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.next(); // {
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            _ => {}
        }
        let name = self.name();
        let Some(ch) = self.next() else {
            return Err("syntax error: missing '}'".into());
        };
        let value = self.get(&name);
        match ch {
            '}' => Ok(match value {
                Some(v) => v,
                None if self.lex.skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            ':' | '+' | '-' | '?' | '#' | '%' => {
                // `:` makes an empty value count as unset.
                let colon = ch == ':';
                let op = if colon { self.next() } else { Some(ch) };
                let modifier: String = [ch].into_iter().chain(op.filter(|_| colon)).collect();
                let patterned = matches!(op, Some('#' | '%'));
                if colon && patterned {
                    return Err(format!("unsupported modifier ({modifier}) in substitution"));
                }
                let word = self.sub_word('}', patterned, "syntax error: missing '}'")?;
                if value.is_none() && self.lex.skip_unset {
                    return Ok(format!("${{{name}{modifier}{word}}}"));
                }
                let set = value.is_some();
                let value = value.unwrap_or_default();
                let unset = !set || (colon && value.is_empty());
                match op {
                    Some('-') => Ok(if unset { word } else { value }),
                    Some('+') => Ok(if unset { String::new() } else { word }),
                    Some('?') if unset => {
                        let why = match (word.is_empty(), set) {
                            (false, _) => word,
                            (true, false) => "is not allowed to be unset".into(),
                            (true, true) => "is not allowed to be empty".into(),
                        };
                        Err(format!("{name}: {why}"))
                    }
                    Some('?') => Ok(value),
                    Some(op @ ('#' | '%')) => {
                        let (greedy, pattern) = match word.strip_prefix(op) {
                            Some(p) => (true, p),
                            None => (false, word.as_str()),
                        };
                        let toks = glob::compile(pattern).map_err(|e| {
                            format!("invalid pattern ({pattern}) in substitution: {e}")
                        })?;
                        Ok(if op == '#' {
                            glob::trim_prefix(&toks, &value, greedy)
                        } else {
                            glob::trim_suffix(&toks, &value, greedy)
                        })
                    }
                    _ => Err(format!("unsupported modifier ({modifier}) in substitution")),
                }
            }
            '/' => {
                let all = self.peek() == Some('/');
                if all {
                    self.next();
                }
                let pattern = self.sub_word('/', true, "syntax error: missing '/' in ${}")?;
                let replacement = self.sub_word('}', true, "syntax error: missing '}'")?;
                let Some(value) = value else {
                    return Ok(if self.lex.skip_unset {
                        format!("${{{name}/{pattern}/{replacement}}}")
                    } else {
                        String::new()
                    });
                };
                let toks = glob::compile(&pattern)
                    .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
                Ok(glob::replace(&toks, &value, &replacement, all))
            }
            _ => Err(format!("unsupported modifier ({ch}) in substitution")),
        }
    }

    /// The word of a `${...}` form up to `stop`; running out of input is
    /// `at_end` rather than the unterminated-quote message.
    fn sub_word(&mut self, stop: char, raw_escapes: bool, at_end: &str) -> Result<String, String> {
        match self.stop_on(Some(stop), raw_escapes) {
            Ok((w, _)) => Ok(w),
            Err(_) if self.peek().is_none() => Err(at_end.into()),
            Err(e) => Err(e),
        }
    }

    /// A variable name: letters, digits and `_`; or a run of digits
    /// (positional); or one special parameter (`$@`, `$?`, ...).
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_numeric() {
                while let Some(d) = self.peek().filter(|c| c.is_numeric()) {
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !(ch.is_alphanumeric() || ch == '_') {
                break;
            }
            name.push(ch);
            self.next();
        }
        name
    }

    /// `<<` keeps the blanks after it, so `<< EOF` stays one word.
    fn possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.next();
        let mut out = String::from("<<");
        while let Some(c) = self.peek().filter(|c| matches!(c, '\t' | '\r' | ' ')) {
            out.push(c);
            self.next();
        }
        out
    }
}
