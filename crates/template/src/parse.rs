//! Parser and AST: a port of Go's `text/template/parse/parse.go` and the
//! `String()` forms of `node.go` (used in error messages).

use std::collections::HashMap;
use std::fmt;

use crate::Error;
use crate::fmt::go_quote;
use crate::funcs::is_function;
use crate::lex::{Item, Lexer, Tok};

/// Maximum nesting of parenthesised pipelines and control structures (Go
/// allows 10000 parentheses and unbounded control nesting; we recurse on the
/// native stack, so keep it modest).
const MAX_STACK_DEPTH: usize = 200;

#[derive(Debug)]
pub(crate) enum Node {
    Text(String),
    Action(Action),
    If(Branch),
    Range(Branch),
    With(Branch),
    Template(TemplateCall),
    Break,
    Continue,
}

#[derive(Debug)]
pub(crate) struct Action {
    pub pipe: Pipe,
}

#[derive(Debug)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug)]
pub(crate) struct TemplateCall {
    pub pos: usize,
    pub name: String,
    pub pipe: Option<Pipe>,
}

#[derive(Debug)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

#[derive(Debug)]
pub(crate) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug)]
pub(crate) struct Number {
    pub text: String,
    pub is_int: bool,
    pub is_uint: bool,
    pub is_float: bool,
    pub int: i64,
    pub float: f64,
}

#[derive(Debug)]
pub(crate) enum Arg {
    /// `.A.B`: idents without dots.
    Field {
        pos: usize,
        idents: Vec<String>,
    },
    /// `$x.A`: idents[0] is the variable name including `$`.
    Variable {
        pos: usize,
        idents: Vec<String>,
    },
    /// `(pipe).A.B` or `func.A`.
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
    Identifier {
        pos: usize,
        name: String,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Bool {
        pos: usize,
        val: bool,
    },
    Number {
        pos: usize,
        num: Box<Number>,
    },
    String {
        pos: usize,
        quoted: String,
        text: String,
    },
    Pipe(Box<Pipe>),
}

impl Arg {
    pub(crate) fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Bool { pos, .. }
            | Arg::Number { pos, .. }
            | Arg::String { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

// ---------------------------------------------------------------------------
// String forms (Go's node String methods).

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable { idents, .. } => write!(f, "{}", idents.join(".")),
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(p) = node.as_ref() {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Identifier { name, .. } => f.write_str(name),
            Arg::Dot { .. } => f.write_str("."),
            Arg::Nil { .. } => f.write_str("nil"),
            Arg::Bool { val, .. } => write!(f, "{val}"),
            Arg::Number { num, .. } => f.write_str(&num.text),
            Arg::String { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let Arg::Pipe(p) = a {
                write!(f, "({p})")?;
            } else {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, list: &[Node]) -> fmt::Result {
    for n in list {
        write!(f, "{n}")?;
    }
    Ok(())
}

fn write_branch(f: &mut fmt::Formatter<'_>, name: &str, b: &Branch) -> fmt::Result {
    write!(f, "{{{{{name} {}}}}}", b.pipe)?;
    write_list(f, &b.list)?;
    if let Some(e) = &b.else_list {
        f.write_str("{{else}}")?;
        write_list(f, e)?;
    }
    f.write_str("{{end}}")
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Text(t) => f.write_str(t),
            Node::Action(a) => write!(f, "{{{{{}}}}}", a.pipe),
            Node::If(b) => write_branch(f, "if", b),
            Node::Range(b) => write_branch(f, "range", b),
            Node::With(b) => write_branch(f, "with", b),
            Node::Template(t) => match &t.pipe {
                Some(p) => write!(f, "{{{{template {} {p}}}}}", go_quote(&t.name)),
                None => write!(f, "{{{{template {}}}}}", go_quote(&t.name)),
            },
            Node::Break => f.write_str("{{break}}"),
            Node::Continue => f.write_str("{{continue}}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Parser.

/// What `textOrAction` returns: a node, or the `{{end}}`/`{{else}}` that
/// terminates a list.
enum Parsed {
    Node(Node),
    End,
    Else,
}

impl fmt::Display for Parsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Parsed::Node(n) => write!(f, "{n}"),
            Parsed::End => f.write_str("{{end}}"),
            Parsed::Else => f.write_str("{{else}}"),
        }
    }
}

/// Per-tree parse state (Go creates a new Tree for each define/block).
struct TreeState {
    token: [Item; 3],
    peek_count: usize,
    vars: Vec<String>,
    action_line: usize,
    range_depth: usize,
    stack_depth: usize,
}

impl TreeState {
    fn new() -> TreeState {
        TreeState {
            token: [Item::empty(), Item::empty(), Item::empty()],
            peek_count: 0,
            vars: vec!["$".to_string()],
            action_line: 0,
            range_depth: 0,
            stack_depth: 0,
        }
    }
}

pub(crate) struct Parser<'a> {
    lex: Lexer<'a>,
    st: TreeState,
    pub(crate) trees: HashMap<String, Vec<Node>>,
}

type PResult<T> = Result<T, Error>;

fn is_empty_tree(list: &[Node]) -> bool {
    list.iter().all(|n| match n {
        Node::Text(t) => t.trim().is_empty(),
        _ => false,
    })
}

impl<'a> Parser<'a> {
    pub(crate) fn new(text: &'a str) -> Parser<'a> {
        Parser {
            lex: Lexer::new(text),
            st: TreeState::new(),
            trees: HashMap::new(),
        }
    }

    fn errorf(&self, msg: impl fmt::Display) -> Error {
        Error::parse(format!("template: :{}: {}", self.st.token[0].line, msg))
    }

    fn next(&mut self) -> Item {
        if self.st.peek_count > 0 {
            self.st.peek_count -= 1;
        } else {
            self.st.token[0] = self.lex.next_item();
        }
        self.st.token[self.st.peek_count].clone()
    }

    fn backup(&mut self) {
        self.st.peek_count += 1;
    }

    fn backup2(&mut self, t1: Item) {
        self.st.token[1] = t1;
        self.st.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item, t1: Item) {
        self.st.token[1] = t1;
        self.st.token[2] = t2;
        self.st.peek_count = 3;
    }

    fn peek(&mut self) -> Item {
        if self.st.peek_count > 0 {
            return self.st.token[self.st.peek_count - 1].clone();
        }
        self.st.peek_count = 1;
        self.st.token[0] = self.lex.next_item();
        self.st.token[0].clone()
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let t = self.next();
            if t.typ != Tok::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn expect(&mut self, expected: Tok, context: &str) -> PResult<Item> {
        let t = self.next_non_space();
        if t.typ != expected {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn expect_one_of(&mut self, e1: Tok, e2: Tok, context: &str) -> PResult<Item> {
        let t = self.next_non_space();
        if t.typ != e1 && t.typ != e2 {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn unexpected(&self, token: &Item, context: &str) -> Error {
        if token.typ == Tok::Error {
            let mut extra = String::new();
            let al = self.st.action_line;
            if al != 0 && al != token.line {
                extra = format!(" in action started at :{al}");
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format!("{}{}", token.describe(), extra));
        }
        self.errorf(format!("unexpected {} in {}", token.describe(), context))
    }

    /// Runs `f` as the parse of a fresh tree sharing the lexer.
    fn sub_tree<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let saved = std::mem::replace(&mut self.st, TreeState::new());
        let r = f(self);
        self.st = saved;
        r
    }

    fn add(&mut self, name: String, root: Vec<Node>) -> PResult<()> {
        match self.trees.get(&name) {
            Some(old) if !is_empty_tree(old) => {
                if !is_empty_tree(&root) {
                    return Err(self.errorf(format!(
                        "template: multiple definition of template {}",
                        go_quote(&name)
                    )));
                }
                Ok(())
            }
            _ => {
                self.trees.insert(name, root);
                Ok(())
            }
        }
    }

    /// Parses the whole input; the top-level template is named "".
    pub(crate) fn parse(&mut self) -> PResult<()> {
        let mut root = Vec::new();
        while self.peek().typ != Tok::Eof {
            if self.peek().typ == Tok::LeftDelim {
                let delim = self.next();
                if self.next_non_space().typ == Tok::Define {
                    self.sub_tree(|p| p.parse_definition())?;
                    continue;
                }
                self.backup2(delim);
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.push(n),
                other => return Err(self.errorf(format!("unexpected {other}"))),
            }
        }
        self.add(String::new(), root)
    }

    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let name = self.expect_one_of(Tok::String, Tok::RawString, CONTEXT)?;
        let name = unquote(&name.val).map_err(|e| self.errorf(e))?;
        self.expect(Tok::RightDelim, CONTEXT)?;
        let (list, end) = self.item_list()?;
        if !matches!(end, Parsed::End) {
            return Err(self.errorf(format!("unexpected {end} in {CONTEXT}")));
        }
        self.add(name, list)
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, Parsed)> {
        let mut list = Vec::new();
        while self.peek_non_space().typ != Tok::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.push(n),
                end => return Ok((list, end)),
            }
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            Tok::Text => Ok(Parsed::Node(Node::Text(token.val))),
            Tok::LeftDelim => {
                self.st.action_line = token.line;
                let r = self.action();
                self.st.action_line = 0;
                r
            }
            _ => Err(self.unexpected(&token, "input")),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            Tok::Block => return self.block_control().map(Parsed::Node),
            Tok::Break => return self.break_control("{{break}}", Node::Break),
            Tok::Continue => return self.break_control("{{continue}}", Node::Continue),
            Tok::Else => return self.else_control(),
            Tok::End => {
                self.expect(Tok::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            Tok::If => return self.parse_control("if").map(|b| Parsed::Node(Node::If(b))),
            Tok::Range => {
                return self
                    .parse_control("range")
                    .map(|b| Parsed::Node(Node::Range(b)));
            }
            Tok::Template => return self.template_control().map(Parsed::Node),
            Tok::With => {
                return self
                    .parse_control("with")
                    .map(|b| Parsed::Node(Node::With(b)));
            }
            _ => {}
        }
        self.backup();
        let pipe = self.pipeline("command", Tok::RightDelim)?;
        Ok(Parsed::Node(Node::Action(Action { pipe })))
    }

    fn break_control(&mut self, what: &str, node: Node) -> PResult<Parsed> {
        let token = self.next_non_space();
        if token.typ != Tok::RightDelim {
            return Err(self.unexpected(&token, what));
        }
        if self.st.range_depth == 0 {
            return Err(self.errorf(format!("{what} outside {{{{range}}}}")));
        }
        Ok(Parsed::Node(node))
    }

    fn pipeline(&mut self, context: &str, end: Tok) -> PResult<Pipe> {
        let token = self.peek_non_space();
        let mut pipe = Pipe {
            pos: token.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        loop {
            let v = self.peek_non_space();
            if v.typ != Tok::Variable {
                break;
            }
            self.next();
            let after = self.peek();
            let next = self.peek_non_space();
            if next.typ == Tok::Assign || next.typ == Tok::Declare {
                pipe.is_assign = next.typ == Tok::Assign;
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.st.vars.push(v.val);
            } else if next.typ == Tok::Char && next.val == "," {
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.st.vars.push(v.val);
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().typ {
                        Tok::Variable | Tok::RightDelim | Tok::RightParen => continue,
                        _ => return Err(self.errorf("range can only initialize variables")),
                    }
                }
                return Err(self.errorf(format!("too many declarations in {context}")));
            } else if after.typ == Tok::Space {
                self.backup3(v, after);
            } else {
                self.backup2(v);
            }
            break;
        }
        loop {
            let token = self.next_non_space();
            if token.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match token.typ {
                Tok::Bool
                | Tok::CharConstant
                | Tok::Complex
                | Tok::Dot
                | Tok::Field
                | Tok::Identifier
                | Tok::Number
                | Tok::Nil
                | Tok::RawString
                | Tok::String
                | Tok::Variable
                | Tok::LeftParen => {
                    self.backup();
                    let c = self.command()?;
                    pipe.cmds.push(c);
                }
                _ => return Err(self.unexpected(&token, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0],
                Arg::Bool { .. }
                    | Arg::Dot { .. }
                    | Arg::Nil { .. }
                    | Arg::Number { .. }
                    | Arg::String { .. }
            ) {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn parse_control(&mut self, context: &str) -> PResult<Branch> {
        // Go has no limit here; we recurse on the native stack.
        if self.st.stack_depth >= MAX_STACK_DEPTH {
            return Err(self.errorf("max expression depth exceeded"));
        }
        self.st.stack_depth += 1;
        let nvars = self.st.vars.len();
        let r = self.parse_control_inner(context);
        self.st.vars.truncate(nvars);
        self.st.stack_depth -= 1;
        r
    }

    fn parse_control_inner(&mut self, context: &str) -> PResult<Branch> {
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        if context == "range" {
            self.st.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.st.range_depth -= 1;
        }
        let mut else_list = None;
        if let Parsed::Else = next {
            if context == "if" && self.peek().typ == Tok::If {
                self.next();
                let b = self.parse_control("if")?;
                else_list = Some(vec![Node::If(b)]);
            } else if context == "with" && self.peek().typ == Tok::With {
                self.next();
                let b = self.parse_control("with")?;
                else_list = Some(vec![Node::With(b)]);
            } else {
                let (l, next) = self.item_list()?;
                if !matches!(next, Parsed::End) {
                    return Err(self.errorf(format!("expected end; found {next}")));
                }
                else_list = Some(l);
            }
        }
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn else_control(&mut self) -> PResult<Parsed> {
        let peek = self.peek_non_space();
        if peek.typ == Tok::If || peek.typ == Tok::With {
            return Ok(Parsed::Else);
        }
        self.expect(Tok::RightDelim, "else")?;
        Ok(Parsed::Else)
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, Tok::RightDelim)?;
        let (list, end) = self.sub_tree(|p| p.item_list())?;
        if !matches!(end, Parsed::End) {
            return Err(self.errorf(format!("unexpected {end} in {CONTEXT}")));
        }
        self.add(name.clone(), list)?;
        Ok(Node::Template(TemplateCall {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        }))
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, CONTEXT)?;
        let pipe = if self.next_non_space().typ != Tok::RightDelim {
            self.backup();
            Some(self.pipeline(CONTEXT, Tok::RightDelim)?)
        } else {
            None
        };
        Ok(Node::Template(TemplateCall {
            pos: token.pos,
            name,
            pipe,
        }))
    }

    fn parse_template_name(&self, token: &Item, context: &str) -> PResult<String> {
        match token.typ {
            Tok::String | Tok::RawString => unquote(&token.val).map_err(|e| self.errorf(e)),
            _ => Err(self.unexpected(token, context)),
        }
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let token = self.next();
            match token.typ {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => self.backup(),
                Tok::Pipe => {}
                _ => return Err(self.unexpected(&token, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.errorf("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != Tok::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == Tok::Field {
            let f = self.next().val;
            fields.push(f[1..].to_string());
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return Err(self.errorf(format!(
                    "unexpected . after term {}",
                    go_quote(&node.to_string())
                )));
            }
            node => Arg::Chain {
                pos,
                node: Box::new(node),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space();
        let pos = token.pos;
        Ok(Some(match token.typ {
            Tok::Identifier => {
                if !is_function(&token.val) {
                    return Err(
                        self.errorf(format!("function {} not defined", go_quote(&token.val)))
                    );
                }
                Arg::Identifier {
                    pos,
                    name: token.val,
                }
            }
            Tok::Dot => Arg::Dot { pos },
            Tok::Nil => Arg::Nil { pos },
            Tok::Variable => {
                if !self.st.vars.contains(&token.val) {
                    return Err(self.errorf(format!("undefined variable {}", go_quote(&token.val))));
                }
                Arg::Variable {
                    pos,
                    idents: vec![token.val],
                }
            }
            Tok::Field => Arg::Field {
                pos,
                idents: token.val[1..].split('.').map(str::to_string).collect(),
            },
            Tok::Bool => Arg::Bool {
                pos,
                val: token.val == "true",
            },
            Tok::CharConstant | Tok::Number | Tok::Complex => {
                let num = new_number(&token.val, token.typ).map_err(|e| self.errorf(e))?;
                Arg::Number {
                    pos,
                    num: Box::new(num),
                }
            }
            Tok::LeftParen => {
                if self.st.stack_depth >= MAX_STACK_DEPTH {
                    return Err(self.errorf("max expression depth exceeded"));
                }
                self.st.stack_depth += 1;
                let p = self.pipeline("parenthesized pipeline", Tok::RightParen);
                self.st.stack_depth -= 1;
                Arg::Pipe(Box::new(p?))
            }
            Tok::String | Tok::RawString => {
                let text = unquote(&token.val).map_err(|e| self.errorf(e))?;
                Arg::String {
                    pos,
                    quoted: token.val,
                    text,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

// ---------------------------------------------------------------------------
// Literals (strconv.Unquote, strconv.UnquoteChar, parse.newNumber).

const SYNTAX: &str = "invalid syntax";

/// Decodes one (possibly escaped) character at the start of `s`, Go's
/// `strconv.UnquoteChar`. Returns the char (or a raw byte for `\x`/octal
/// escapes above 0x7f) and the rest.
fn unquote_char(s: &str, quote: char) -> Result<(u32, bool, &str), &'static str> {
    let mut chars = s.chars();
    let c = chars.next().ok_or(SYNTAX)?;
    if c == quote && (quote == '\'' || quote == '"') {
        return Err(SYNTAX);
    }
    if c != '\\' {
        return Ok((c as u32, false, chars.as_str()));
    }
    let c = chars.next().ok_or(SYNTAX)?;
    let rest = chars.as_str();
    let simple = match c {
        'a' => Some(7),
        'b' => Some(8),
        'f' => Some(12),
        'n' => Some(10),
        'r' => Some(13),
        't' => Some(9),
        'v' => Some(11),
        '\\' => Some(92),
        '\'' | '"' => {
            if c != quote {
                return Err(SYNTAX);
            }
            Some(c as u32)
        }
        _ => None,
    };
    if let Some(v) = simple {
        return Ok((v, false, rest));
    }
    match c {
        'x' | 'u' | 'U' => {
            let n = match c {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            if rest.len() < n || !rest.is_char_boundary(n) {
                return Err(SYNTAX);
            }
            let v = u32::from_str_radix(&rest[..n], 16).map_err(|_| SYNTAX)?;
            if rest[..n].starts_with(['+', '-']) {
                return Err(SYNTAX);
            }
            if c == 'x' {
                return Ok((v, true, &rest[n..]));
            }
            if char::from_u32(v).is_none() {
                return Err(SYNTAX);
            }
            Ok((v, false, &rest[n..]))
        }
        '0'..='7' => {
            let digits = format!("{c}{}", rest.get(..2).ok_or(SYNTAX)?);
            if !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return Err(SYNTAX);
            }
            let v = u32::from_str_radix(&digits, 8).map_err(|_| SYNTAX)?;
            if v > 255 {
                return Err(SYNTAX);
            }
            Ok((v, true, &rest[2..]))
        }
        _ => Err(SYNTAX),
    }
}

/// Go's `strconv.Unquote` for "..." and `...` literals.
pub(crate) fn unquote(s: &str) -> Result<String, &'static str> {
    if s.len() < 2 {
        return Err(SYNTAX);
    }
    let quote = s.chars().next().ok_or(SYNTAX)?;
    if !s.ends_with(quote) {
        return Err(SYNTAX);
    }
    let inner = &s[1..s.len() - 1];
    if quote == '`' {
        if inner.contains('`') {
            return Err(SYNTAX);
        }
        return Ok(inner.replace('\r', ""));
    }
    if quote != '"' {
        return Err(SYNTAX);
    }
    if inner.contains('\n') {
        return Err(SYNTAX);
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(inner.len());
    let mut rest = inner;
    while !rest.is_empty() {
        let (v, is_byte, r) = unquote_char(rest, '"')?;
        rest = r;
        if is_byte {
            bytes.push(v as u8);
        } else if let Some(c) = char::from_u32(v) {
            let mut b = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn parse_go_uint(text: &str) -> Option<u64> {
    let t = text.replace('_', "");
    let (digits, radix) = if let Some(r) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (r.to_string(), 16)
    } else if let Some(r) = t.strip_prefix("0o").or_else(|| t.strip_prefix("0O")) {
        (r.to_string(), 8)
    } else if let Some(r) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        (r.to_string(), 2)
    } else if t.len() > 1 && t.starts_with('0') {
        (t[1..].to_string(), 8)
    } else {
        (t.clone(), 10)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    u64::from_str_radix(&digits, radix).ok()
}

fn parse_go_int(text: &str) -> Option<i64> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let u = parse_go_uint(body)?;
    if neg {
        if u <= i64::MAX as u64 + 1 {
            Some((u as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

fn parse_go_float(text: &str) -> Option<f64> {
    let t = text.replace('_', "");
    let lower = t.to_ascii_lowercase();
    if lower.contains("inf") || lower.contains("nan") || lower.contains('x') {
        return None;
    }
    let f: f64 = t.parse().ok()?;
    f.is_finite().then_some(f)
}

fn new_number(text: &str, typ: Tok) -> Result<Number, String> {
    let mut n = Number {
        text: text.to_string(),
        is_int: false,
        is_uint: false,
        is_float: false,
        int: 0,
        float: 0.0,
    };
    if typ == Tok::CharConstant {
        let inner = &text[1..];
        let (v, _, tail) = unquote_char(inner, '\'').map_err(str::to_string)?;
        if tail != "'" {
            return Err(format!("malformed character constant: {text}"));
        }
        n.int = i64::from(v);
        n.is_int = true;
        n.is_uint = true;
        n.float = f64::from(v);
        n.is_float = true;
        return Ok(n);
    }
    if typ == Tok::Complex || text.ends_with('i') {
        return Err(format!("complex constant {text} is not supported"));
    }
    let u = parse_go_uint(text);
    if u.is_some() {
        n.is_uint = true;
    }
    if let Some(i) = parse_go_int(text) {
        n.is_int = true;
        n.int = i;
        if i == 0 {
            n.is_uint = true;
        }
    }
    if n.is_int {
        n.is_float = true;
        n.float = n.int as f64;
    } else if let Some(u) = u {
        n.is_float = true;
        n.float = u as f64;
    } else if let Some(f) = parse_go_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", go_quote(text)));
        }
        n.is_float = true;
        n.float = f;
        if !n.is_int && (f as i64) as f64 == f {
            n.is_int = true;
            n.int = f as i64;
        }
        if !n.is_uint && f >= 0.0 && (f as u64) as f64 == f {
            n.is_uint = true;
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!("illegal number syntax: {}", go_quote(text)));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_go_escapes() {
        assert_eq!(unquote(r#""a\tb\n\x41\u00e9\101""#).unwrap(), "a\tb\nAéA");
        assert_eq!(unquote("`a\\n`").unwrap(), "a\\n");
        assert!(unquote(r#""\q""#).is_err());
        assert!(unquote(r#""\'""#).is_err());
    }

    #[test]
    fn numbers() {
        let n = new_number("0x1F", Tok::Number).unwrap();
        assert!(n.is_int && n.int == 31);
        let n = new_number("1.5", Tok::Number).unwrap();
        assert!(n.is_float && !n.is_int);
        let n = new_number("'a'", Tok::CharConstant).unwrap();
        assert_eq!(n.int, 97);
        let n = new_number("0377", Tok::Number).unwrap();
        assert_eq!(n.int, 255);
        let n = new_number("1_000", Tok::Number).unwrap();
        assert_eq!(n.int, 1000);
        assert!(new_number("1.2.3", Tok::Number).is_err());
    }
}
