//! Physical lines into logical ones, as buildkit's `parser.Parse` reads
//! them: parser directives at the very top, comment lines, line
//! continuations with the escape character, and heredoc bodies (read on
//! request, since only the instruction knows whether it takes heredocs).

use super::error::ParseError;

/// One instruction's text: its lines joined without the continuations.
pub(crate) struct Logical {
    /// 1-based first line.
    pub start: usize,
    pub text: String,
}

pub(crate) struct Lines<'a> {
    /// What is not read yet.
    rest: &'a str,
    /// How many lines were read (the number of the last one).
    line: usize,
    pub escape: char,
    pub syntax: Option<String>,
    /// Directives are only looked for until the first line that is not one.
    directives_done: bool,
    seen: Vec<String>,
}

impl<'a> Lines<'a> {
    pub fn new(src: &'a str) -> Self {
        Lines {
            rest: src.strip_prefix('\u{feff}').unwrap_or(src),
            line: 0,
            escape: '\\',
            syntax: None,
            directives_done: false,
            seen: Vec::new(),
        }
    }

    /// The number of the last line read.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The next line, with its line ending.
    fn next_raw(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let end = self.rest.find('\n').map_or(self.rest.len(), |i| i + 1);
        let (line, rest) = self.rest.split_at(end);
        self.rest = rest;
        self.line += 1;
        Some(line)
    }

    /// The next instruction's lines joined: comment lines and empty lines
    /// inside a continuation are dropped, each continued line loses its
    /// escape and trailing blanks but keeps its leading ones (as docker).
    pub fn next_instruction(&mut self) -> Result<Option<Logical>, ParseError> {
        while let Some(raw) = self.next_raw() {
            let token = self.process(raw, true)?;
            let start = self.line;
            let (first, mut done) = trim_continuation(token, self.escape);
            if done && first.is_empty() {
                continue;
            }
            let mut text = first.to_string();
            while !done {
                let Some(raw) = self.next_raw() else { break };
                let token = self.process(raw, false)?;
                if token.trim_start().is_empty() {
                    continue; // a comment or an empty continuation line
                }
                let (part, d) = trim_continuation(token, self.escape);
                text.push_str(part);
                done = d;
            }
            return Ok(Some(Logical { start, text }));
        }
        Ok(None)
    }

    /// A heredoc body up to the line that is `name` (after leading tabs
    /// with `<<-`); lines keep their endings. None if the file ends first.
    pub fn read_heredoc(&mut self, name: &str, strip_tabs: bool) -> Option<String> {
        let mut content = String::new();
        while let Some(raw) = self.next_raw() {
            let mut end = trim_newline(raw);
            if strip_tabs {
                end = end.trim_start_matches('\t');
            }
            if end == name {
                return Some(content);
            }
            content.push_str(raw);
        }
        None
    }

    /// A line without its ending (and leading blanks on an instruction's
    /// first line), checked for a directive, and empty if it is a comment.
    fn process(&mut self, raw: &'a str, strip_left: bool) -> Result<&'a str, ParseError> {
        let mut token = trim_newline(raw);
        if strip_left {
            token = token.trim_start();
        }
        if !self.directives_done {
            self.directive(token)
                .map_err(|m| ParseError::new(self.line, m))?;
        }
        Ok(if token.trim_start().starts_with('#') {
            ""
        } else {
            token
        })
    }

    /// `# name=value` for syntax, escape and check, as buildkit's
    /// DirectiveParser: any other line ends the directives.
    fn directive(&mut self, token: &str) -> Result<(), String> {
        let Some((key, value)) = split_directive(token) else {
            self.directives_done = true;
            return Ok(());
        };
        if self.seen.contains(&key) {
            return Err(format!("only one {key} parser directive can be used"));
        }
        match key.as_str() {
            "escape" => {
                self.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(format!(
                            "invalid escape token '{value}' does not match ` or \\"
                        ));
                    }
                }
            }
            "syntax" => self.syntax = Some(value.to_string()),
            _ => {} // check: lint settings, not acted on
        }
        self.seen.push(key);
        Ok(())
    }
}

/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` for a known directive: the
/// lowercased name and the value.
fn split_directive(token: &str) -> Option<(String, &str)> {
    let body = token.strip_prefix('#')?.trim_start();
    let name_len = body
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(body.len());
    let (name, after) = body.split_at(name_len);
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = after.trim_start().strip_prefix('=')?.trim();
    let key = name.to_ascii_lowercase();
    let known = matches!(key.as_str(), "syntax" | "escape" | "check");
    (known && !value.is_empty()).then_some((key, value))
}

fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// A line ending in the escape character (blanks after it allowed) continues
/// on the next line: the escape and what follows go. An escape preceded by
/// another escape does not continue (docker's regexp cannot tell `\\\`).
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(before) if !before.ends_with(escape) => (before, false),
        _ => (line, true),
    }
}
