//! Lexer: a port of Go's `text/template/parse/lex.go` (Go 1.22+ behaviour:
//! newlines inside actions, trim markers, `break`/`continue`, comments).
//!
//! Items carry the byte offset and the line on which they start; the parser
//! uses both to build Go-identical error messages.

use crate::fmt::{go_quote, go_u_sharp, is_print};

const LEFT_DELIM: &str = "{{";
const RIGHT_DELIM: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";
const TRIM_MARKER_LEN: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // Keywords.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl Tok {
    fn is_keyword(self) -> bool {
        matches!(
            self,
            Tok::Block
                | Tok::Break
                | Tok::Continue
                | Tok::Dot
                | Tok::Define
                | Tok::Else
                | Tok::End
                | Tok::If
                | Tok::Nil
                | Tok::Range
                | Tok::Template
                | Tok::With
        )
    }
}

fn keyword(word: &str) -> Option<Tok> {
    Some(match word {
        "." => Tok::Dot,
        "block" => Tok::Block,
        "break" => Tok::Break,
        "continue" => Tok::Continue,
        "define" => Tok::Define,
        "else" => Tok::Else,
        "end" => Tok::End,
        "if" => Tok::If,
        "range" => Tok::Range,
        "nil" => Tok::Nil,
        "template" => Tok::Template,
        "with" => Tok::With,
        _ => return None,
    })
}

/// A lexed token.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub typ: Tok,
    pub pos: usize,
    pub val: String,
    pub line: usize,
}

impl Item {
    pub(crate) fn empty() -> Item {
        Item {
            typ: Tok::Eof,
            pos: 0,
            val: String::new(),
            line: 0,
        }
    }

    /// Go's `item.String()`, used in "unexpected X in Y" messages.
    pub(crate) fn describe(&self) -> String {
        if self.typ == Tok::Eof {
            return "EOF".to_string();
        }
        if self.typ == Tok::Error {
            return self.val.clone();
        }
        if self.typ.is_keyword() {
            return format!("<{}>", self.val);
        }
        if self.val.len() > 10 {
            let head: String = self.val.chars().take(10).collect();
            return format!("{}...", go_quote(&head));
        }
        go_quote(&self.val)
    }
}

#[derive(Clone, Copy)]
enum St {
    Text,
    LeftDelim,
    Comment,
    RightDelim,
    InsideAction,
    Space,
    Identifier,
    Field,
    Variable,
    Char,
    Number,
    Quote,
    RawQuote,
}

pub(crate) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    at_eof: bool,
    paren_depth: i32,
    line: usize,
    start_line: usize,
    item: Item,
    inside_action: bool,
}

fn is_space(c: Option<char>) -> bool {
    matches!(c, Some(' ' | '\t' | '\r' | '\n'))
}

pub(crate) fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

fn has_left_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && matches!(b[1], b' ' | b'\t' | b'\r' | b'\n')
}

fn has_right_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && matches!(b[0], b' ' | b'\t' | b'\r' | b'\n') && b[1] == b'-'
}

fn is_space_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn right_trim_length(s: &str) -> usize {
    s.len() - s.trim_end_matches(is_space_char).len()
}

fn left_trim_length(s: &str) -> usize {
    s.len() - s.trim_start_matches(is_space_char).len()
}

fn count_nl(s: &str) -> usize {
    s.bytes().filter(|&b| b == b'\n').count()
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a str) -> Lexer<'a> {
        Lexer {
            input,
            pos: 0,
            start: 0,
            at_eof: false,
            paren_depth: 0,
            line: 1,
            start_line: 1,
            item: Item::empty(),
            inside_action: false,
        }
    }

    fn next(&mut self) -> Option<char> {
        if self.pos >= self.input.len() {
            self.at_eof = true;
            return None;
        }
        let c = self.input[self.pos..].chars().next()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        let c = self.next();
        self.backup();
        c
    }

    fn backup(&mut self) {
        if !self.at_eof
            && self.pos > 0
            && let Some(c) = self.input[..self.pos].chars().next_back()
        {
            self.pos -= c.len_utf8();
            if c == '\n' {
                self.line -= 1;
            }
        }
    }

    fn this_item(&mut self, typ: Tok) -> Item {
        let i = Item {
            typ,
            pos: self.start,
            val: self.input[self.start..self.pos].to_string(),
            line: self.start_line,
        };
        self.start = self.pos;
        self.start_line = self.line;
        i
    }

    fn emit(&mut self, typ: Tok) -> Option<St> {
        self.item = self.this_item(typ);
        None
    }

    fn ignore(&mut self) {
        self.line += count_nl(&self.input[self.start..self.pos]);
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(c) if valid.contains(c) => true,
            _ => {
                self.backup();
                false
            }
        }
    }

    fn accept_run(&mut self, valid: &str) {
        loop {
            match self.next() {
                Some(c) if valid.contains(c) => {}
                _ => break,
            }
        }
        self.backup();
    }

    fn errorf(&mut self, msg: String) -> Option<St> {
        self.item = Item {
            typ: Tok::Error,
            pos: self.start,
            val: msg,
            line: self.start_line,
        };
        self.start = 0;
        self.pos = 0;
        self.input = "";
        None
    }

    /// Returns the next item (Go's `nextItem`).
    pub(crate) fn next_item(&mut self) -> Item {
        self.item = Item {
            typ: Tok::Eof,
            pos: self.pos,
            val: "EOF".to_string(),
            line: self.start_line,
        };
        let mut st = if self.inside_action {
            St::InsideAction
        } else {
            St::Text
        };
        loop {
            match self.step(st) {
                Some(next) => st = next,
                None => return std::mem::replace(&mut self.item, Item::empty()),
            }
        }
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = &self.input[self.pos..];
        if has_right_trim_marker(rest) && rest[TRIM_MARKER_LEN..].starts_with(RIGHT_DELIM) {
            return (true, true);
        }
        if rest.starts_with(RIGHT_DELIM) {
            return (true, false);
        }
        (false, false)
    }

    fn at_terminator(&mut self) -> bool {
        let r = self.peek();
        if is_space(r) {
            return true;
        }
        match r {
            None | Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.input[self.pos..].starts_with(RIGHT_DELIM),
        }
    }

    fn step(&mut self, st: St) -> Option<St> {
        match st {
            St::Text => self.lex_text(),
            St::LeftDelim => self.lex_left_delim(),
            St::Comment => self.lex_comment(),
            St::RightDelim => self.lex_right_delim(),
            St::InsideAction => self.lex_inside_action(),
            St::Space => self.lex_space(),
            St::Identifier => self.lex_identifier(),
            St::Field => self.lex_field_or_variable(Tok::Field),
            St::Variable => {
                if self.at_terminator() {
                    return self.emit(Tok::Variable);
                }
                self.lex_field_or_variable(Tok::Variable)
            }
            St::Char => self.lex_char(),
            St::Number => self.lex_number(),
            St::Quote => self.lex_quote(),
            St::RawQuote => self.lex_raw_quote(),
        }
    }

    fn lex_text(&mut self) -> Option<St> {
        if let Some(x) = self.input[self.pos..].find(LEFT_DELIM) {
            if x > 0 {
                self.pos += x;
                let mut trim = 0;
                let delim_end = self.pos + LEFT_DELIM.len();
                if has_left_trim_marker(&self.input[delim_end..]) {
                    trim = right_trim_length(&self.input[self.start..self.pos]);
                }
                self.pos -= trim;
                self.line += count_nl(&self.input[self.start..self.pos]);
                let i = self.this_item(Tok::Text);
                self.pos += trim;
                self.ignore();
                if !i.val.is_empty() {
                    self.item = i;
                    return None;
                }
            }
            return Some(St::LeftDelim);
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.line += count_nl(&self.input[self.start..self.pos]);
            return self.emit(Tok::Text);
        }
        self.emit(Tok::Eof)
    }

    fn lex_left_delim(&mut self) -> Option<St> {
        self.pos += LEFT_DELIM.len();
        let trim = has_left_trim_marker(&self.input[self.pos..]);
        let after = if trim { TRIM_MARKER_LEN } else { 0 };
        if self.input[self.pos + after..].starts_with(LEFT_COMMENT) {
            self.pos += after;
            self.ignore();
            return Some(St::Comment);
        }
        let i = self.this_item(Tok::LeftDelim);
        self.inside_action = true;
        self.pos += after;
        self.ignore();
        self.paren_depth = 0;
        self.item = i;
        None
    }

    fn lex_comment(&mut self) -> Option<St> {
        self.pos += LEFT_COMMENT.len();
        let Some(x) = self.input[self.pos..].find(RIGHT_COMMENT) else {
            return self.errorf("unclosed comment".into());
        };
        self.pos += x + RIGHT_COMMENT.len();
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.errorf("comment ends before closing delimiter".into());
        }
        self.line += count_nl(&self.input[self.start..self.pos]);
        let _comment = self.this_item(Tok::Text);
        if trim {
            self.pos += TRIM_MARKER_LEN;
        }
        self.pos += RIGHT_DELIM.len();
        if trim {
            self.pos += left_trim_length(&self.input[self.pos..]);
        }
        self.ignore();
        Some(St::Text)
    }

    fn lex_right_delim(&mut self) -> Option<St> {
        let (_, trim) = self.at_right_delim();
        if trim {
            self.pos += TRIM_MARKER_LEN;
            self.ignore();
        }
        self.pos += RIGHT_DELIM.len();
        let i = self.this_item(Tok::RightDelim);
        if trim {
            self.pos += left_trim_length(&self.input[self.pos..]);
            self.ignore();
        }
        self.inside_action = false;
        self.item = i;
        None
    }

    fn lex_inside_action(&mut self) -> Option<St> {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return Some(St::RightDelim);
            }
            return self.errorf("unclosed left paren".into());
        }
        let r = self.next();
        let Some(c) = r else {
            return self.errorf("unclosed action".into());
        };
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                self.backup();
                Some(St::Space)
            }
            '=' => self.emit(Tok::Assign),
            ':' => {
                if self.next() != Some('=') {
                    return self.errorf("expected :=".into());
                }
                self.emit(Tok::Declare)
            }
            '|' => self.emit(Tok::Pipe),
            '"' => Some(St::Quote),
            '`' => Some(St::RawQuote),
            '$' => Some(St::Variable),
            '\'' => Some(St::Char),
            '.' => {
                if let Some(&b) = self.input.as_bytes().get(self.pos)
                    && !b.is_ascii_digit()
                {
                    return Some(St::Field);
                }
                self.backup();
                Some(St::Number)
            }
            '+' | '-' | '0'..='9' => {
                self.backup();
                Some(St::Number)
            }
            c if is_alnum(c) => {
                self.backup();
                Some(St::Identifier)
            }
            '(' => {
                self.paren_depth += 1;
                self.emit(Tok::LeftParen)
            }
            ')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.errorf("unexpected right paren".into());
                }
                self.emit(Tok::RightParen)
            }
            c if c.is_ascii() && is_print(c) => self.emit(Tok::Char),
            c => self.errorf(format!(
                "unrecognized character in action: {}",
                go_u_sharp(c)
            )),
        }
    }

    fn lex_space(&mut self) -> Option<St> {
        let mut num = 0;
        while is_space(self.peek()) {
            self.next();
            num += 1;
        }
        let rest = &self.input[self.pos - 1..];
        if has_right_trim_marker(rest) && rest[TRIM_MARKER_LEN..].starts_with(RIGHT_DELIM) {
            self.backup();
            if num == 1 {
                return Some(St::RightDelim);
            }
        }
        self.emit(Tok::Space)
    }

    fn lex_identifier(&mut self) -> Option<St> {
        loop {
            let r = self.next();
            match r {
                Some(c) if is_alnum(c) => {}
                _ => {
                    self.backup();
                    if !self.at_terminator() {
                        return self.bad_char(r);
                    }
                    let word = &self.input[self.start..self.pos];
                    let typ = if let Some(k) = keyword(word) {
                        k
                    } else if word == "true" || word == "false" {
                        Tok::Bool
                    } else {
                        Tok::Identifier
                    };
                    return self.emit(typ);
                }
            }
        }
    }

    fn bad_char(&mut self, r: Option<char>) -> Option<St> {
        let desc = match r {
            Some(c) => go_u_sharp(c),
            None => "U+FFFFFFFFFFFFFFFF".to_string(),
        };
        self.errorf(format!("bad character {desc}"))
    }

    fn lex_field_or_variable(&mut self, typ: Tok) -> Option<St> {
        if self.at_terminator() {
            return self.emit(if typ == Tok::Variable {
                Tok::Variable
            } else {
                Tok::Dot
            });
        }
        let mut r;
        loop {
            r = self.next();
            match r {
                Some(c) if is_alnum(c) => {}
                _ => {
                    self.backup();
                    break;
                }
            }
        }
        if !self.at_terminator() {
            return self.bad_char(r);
        }
        self.emit(typ)
    }

    fn lex_char(&mut self) -> Option<St> {
        loop {
            match self.next() {
                Some('\\') => {
                    let r = self.next();
                    if r.is_none() || r == Some('\n') {
                        return self.errorf("unterminated character constant".into());
                    }
                }
                None | Some('\n') => return self.errorf("unterminated character constant".into()),
                Some('\'') => break,
                _ => {}
            }
        }
        self.emit(Tok::CharConstant)
    }

    fn lex_number(&mut self) -> Option<St> {
        if !self.scan_number() {
            let s = self.input[self.start..self.pos].to_string();
            return self.errorf(format!("bad number syntax: {}", go_quote(&s)));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                let s = self.input[self.start..self.pos].to_string();
                return self.errorf(format!("bad number syntax: {}", go_quote(&s)));
            }
            return self.emit(Tok::Complex);
        }
        self.emit(Tok::Number)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 10 + 1 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 16 + 6 + 1 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if let Some(c) = self.peek()
            && is_alnum(c)
        {
            self.next();
            return false;
        }
        true
    }

    fn lex_quote(&mut self) -> Option<St> {
        loop {
            match self.next() {
                Some('\\') => {
                    let r = self.next();
                    if r.is_none() || r == Some('\n') {
                        return self.errorf("unterminated quoted string".into());
                    }
                }
                None | Some('\n') => return self.errorf("unterminated quoted string".into()),
                Some('"') => break,
                _ => {}
            }
        }
        self.emit(Tok::String)
    }

    fn lex_raw_quote(&mut self) -> Option<St> {
        loop {
            match self.next() {
                None => return self.errorf("unterminated raw quoted string".into()),
                Some('`') => break,
                _ => {}
            }
        }
        self.emit(Tok::RawString)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<(Tok, String)> {
        let mut l = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let i = l.next_item();
            let done = matches!(i.typ, Tok::Eof | Tok::Error);
            out.push((i.typ, i.val));
            if done {
                return out;
            }
        }
    }

    #[test]
    fn basic_tokens() {
        let t = toks("a{{.X.Y | printf \"%d\" $x}}b");
        let types: Vec<Tok> = t.iter().map(|x| x.0).collect();
        assert_eq!(
            types,
            vec![
                Tok::Text,
                Tok::LeftDelim,
                Tok::Field,
                Tok::Field,
                Tok::Space,
                Tok::Pipe,
                Tok::Space,
                Tok::Identifier,
                Tok::Space,
                Tok::String,
                Tok::Space,
                Tok::Variable,
                Tok::RightDelim,
                Tok::Text,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn trim_markers() {
        let t = toks("x \n {{- 3 -}} \n y");
        assert_eq!(t[0], (Tok::Text, "x".to_string()));
        assert_eq!(t[2], (Tok::Number, "3".to_string()));
        assert_eq!(t[4], (Tok::Text, "y".to_string()));
    }

    #[test]
    fn comment_is_skipped() {
        let t = toks("a{{/* c */}}b");
        assert_eq!(
            t,
            vec![
                (Tok::Text, "a".into()),
                (Tok::Text, "b".into()),
                (Tok::Eof, "".into())
            ]
        );
    }

    #[test]
    fn errors() {
        assert_eq!(toks("{{.X").last().unwrap().1, "unclosed action");
        assert_eq!(
            toks("{{\"a}}").last().unwrap().1,
            "unterminated quoted string"
        );
        assert_eq!(toks("{{a#}}").last().unwrap().1, "bad character U+0023 '#'");
    }
}
