//! Execution: a port of Go's `text/template/exec.go` over [`Val`]s.

use serde_json::Value;

use crate::fmt::{go_quote, sprint_value};
use crate::funcs::{self, Func, Param};
use crate::parse::{Arg, Branch, Command, Node, Pipe, TemplateCall};
use crate::value::{NIL_TEXT, NilKind, Num, Sel, Val};
use crate::{Env, Error, Missing, Template};

/// Nesting limit for `{{template}}` calls (Go: 100000; we recurse on the
/// native stack).
pub(crate) const MAX_EXEC_DEPTH: usize = 1000;

pub(crate) enum Flow {
    Break,
    Continue,
    Err(Error),
}

pub(crate) type R<T> = Result<T, Flow>;

/// The node errors are reported at (Go's `state.node`).
#[derive(Clone, Copy)]
enum Loc<'t> {
    None,
    Node(&'t Node),
    Pipe(&'t Pipe),
    Cmd(&'t Command),
    Arg(&'t Arg),
}

impl Loc<'_> {
    fn pos_and_context(&self) -> Option<(usize, String)> {
        Some(match self {
            Loc::None => return None,
            Loc::Node(n) => (node_pos(n), n.to_string()),
            Loc::Pipe(p) => (p.pos, p.to_string()),
            Loc::Cmd(c) => (c.pos, c.to_string()),
            Loc::Arg(a) => (a.pos(), a.to_string()),
        })
    }
}

fn node_pos(n: &Node) -> usize {
    match n {
        Node::Action(a) => a.pipe.pos,
        Node::If(b) | Node::Range(b) | Node::With(b) => b.pipe.pos,
        Node::Template(t) => t.pos,
        Node::Text(_) | Node::Break | Node::Continue => 0,
    }
}

pub(crate) struct State<'t, 'd, 'o> {
    tmpl: &'t Template,
    env: &'d dyn Env,
    pub(crate) header: bool,
    out: &'o mut String,
    name: &'t str,
    node: Loc<'t>,
    vars: Vec<(&'t str, Val<'d>)>,
    depth: usize,
}

impl<'t, 'd, 'o> State<'t, 'd, 'o> {
    pub(crate) fn new(
        tmpl: &'t Template,
        env: &'d dyn Env,
        header: bool,
        out: &'o mut String,
    ) -> Self {
        State {
            tmpl,
            env,
            header,
            out,
            name: "",
            node: Loc::None,
            vars: Vec::new(),
            depth: 0,
        }
    }

    pub(crate) fn env(&self) -> &'d dyn Env {
        self.env
    }

    /// Text of a JSON null found under `field`.
    pub(crate) fn nil_val(&self, field: &str) -> Val<'d> {
        let t = self.env.nil_text(field);
        match t.as_deref() {
            None => Val::nil(NIL_TEXT),
            Some("<no value>") => Val::NoValue,
            Some(t) => Val::nil(t),
        }
    }

    pub(crate) fn run(&mut self, data: &'d Value) -> Result<(), Error> {
        let dot = if data.is_null() {
            Val::NoValue
        } else {
            Val::Ref(data)
        };
        self.vars = vec![("$", dot.clone())];
        let Some(root) = self.tmpl.trees.get("") else {
            return Err(Error::exec(
                "template: : \"\" is an incomplete or empty template".to_string(),
            ));
        };
        match self.walk_list(&dot, root) {
            Ok(()) => Ok(()),
            Err(Flow::Err(e)) => Err(e),
            // The parser rejects break/continue outside range.
            Err(Flow::Break | Flow::Continue) => Ok(()),
        }
    }

    fn at(&mut self, loc: Loc<'t>) {
        self.node = loc;
    }

    /// Go's `state.errorf`.
    pub(crate) fn errorf(&self, msg: impl AsRef<str>) -> Flow {
        let msg = msg.as_ref();
        let text = match self.node.pos_and_context() {
            None => format!("template: {}: {}", self.name, msg),
            Some((pos, ctx)) => {
                let src = &self.tmpl.text[..pos.min(self.tmpl.text.len())];
                let line = 1 + src.bytes().filter(|&b| b == b'\n').count();
                let col = match src.rfind('\n') {
                    None => pos,
                    Some(i) => pos - (i + 1),
                };
                format!(
                    "template: :{line}:{col}: executing {} at <{ctx}>: {msg}",
                    go_quote(self.name)
                )
            }
        };
        Flow::Err(Error::exec(text))
    }

    // -----------------------------------------------------------------------
    // Variables.

    fn push(&mut self, name: &'t str, v: Val<'d>) {
        self.vars.push((name, v));
    }

    fn set_var(&mut self, name: &str, v: Val<'d>) -> R<()> {
        for slot in self.vars.iter_mut().rev() {
            if slot.0 == name {
                slot.1 = v;
                return Ok(());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn set_top_var(&mut self, n: usize, v: Val<'d>) {
        let i = self.vars.len() - n;
        self.vars[i].1 = v;
    }

    fn var_value(&self, name: &str) -> R<Val<'d>> {
        for slot in self.vars.iter().rev() {
            if slot.0 == name {
                return Ok(slot.1.clone());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    // -----------------------------------------------------------------------
    // Walking.

    fn walk_list(&mut self, dot: &Val<'d>, list: &'t [Node]) -> R<()> {
        for n in list {
            self.walk(dot, n)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Val<'d>, node: &'t Node) -> R<()> {
        self.at(Loc::Node(node));
        match node {
            Node::Text(t) => {
                self.out.push_str(t);
                Ok(())
            }
            Node::Action(a) => {
                let v = self.eval_pipeline(dot, &a.pipe)?;
                if a.pipe.decl.is_empty() {
                    self.at(Loc::Node(node));
                    let s = self.sprint(&v);
                    self.out.push_str(&s);
                }
                Ok(())
            }
            Node::If(b) => self.walk_if_or_with(false, dot, b),
            Node::With(b) => self.walk_if_or_with(true, dot, b),
            Node::Range(b) => self.walk_range(dot, node, b),
            Node::Template(t) => self.walk_template(dot, node, t),
            Node::Break => Err(Flow::Break),
            Node::Continue => Err(Flow::Continue),
        }
    }

    pub(crate) fn sprint(&self, v: &Val<'d>) -> String {
        let env = self.env;
        sprint_value(v, env)
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Val<'d>, b: &'t Branch) -> R<()> {
        let mark = self.vars.len();
        let r = self.if_or_with_inner(with, dot, b);
        self.vars.truncate(mark);
        r
    }

    fn if_or_with_inner(&mut self, with: bool, dot: &Val<'d>, b: &'t Branch) -> R<()> {
        let val = self.eval_pipeline(dot, &b.pipe)?;
        if val.truth() {
            if with {
                self.walk_list(&val, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)
        } else {
            Ok(())
        }
    }

    fn walk_range(&mut self, dot: &Val<'d>, node: &'t Node, b: &'t Branch) -> R<()> {
        self.at(Loc::Node(node));
        let mark0 = self.vars.len();
        let r = self.range_inner(dot, b);
        self.vars.truncate(mark0);
        match r {
            Err(Flow::Break) => Ok(()),
            r => r,
        }
    }

    /// One range iteration; Ok(false) means a `{{break}}` stopped the loop.
    fn one_iteration(
        &mut self,
        b: &'t Branch,
        mark: usize,
        index: Val<'d>,
        elem: Val<'d>,
    ) -> R<bool> {
        let decl = &b.pipe.decl;
        if !decl.is_empty() {
            if b.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(&decl[0], index.clone())?;
                } else {
                    self.set_var(&decl[0], elem.clone())?;
                }
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if b.pipe.is_assign {
                self.set_var(&decl[1], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let r = self.walk_list(&elem, &b.list);
        self.vars.truncate(mark);
        match r {
            Ok(()) | Err(Flow::Continue) => Ok(true),
            Err(Flow::Break) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn range_inner(&mut self, dot: &Val<'d>, b: &'t Branch) -> R<()> {
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let mut ran = false;
        match &val {
            Val::NoValue | Val::Nil(_) => {}
            _ => match val.json() {
                Some(Value::Number(n)) => {
                    let count = match crate::value::num(n) {
                        Num::Int(i) => i.max(0) as u64,
                        Num::Uint(u) => u,
                        Num::Float(_) => {
                            let s = self.sprint(&val);
                            return Err(self.errorf(format!("range can't iterate over {s}")));
                        }
                    };
                    if b.pipe.decl.len() > 1 {
                        let s = self.sprint(&val);
                        return Err(self.errorf(format!(
                            "can't use {s} to iterate over more than one variable"
                        )));
                    }
                    for i in 0..count {
                        ran = true;
                        let v = match i64::try_from(i) {
                            Ok(i) => Val::int(i),
                            Err(_) => Val::own(Value::from(i)),
                        };
                        if !self.one_iteration(b, mark, Val::NoValue, v)? {
                            break;
                        }
                    }
                }
                Some(Value::Array(a)) => {
                    for i in 0..a.len() {
                        ran = true;
                        let elem = match val.select(Sel::Index(i)) {
                            Some(e) if e.is_json_null() => Val::nil(NIL_TEXT),
                            Some(e) => e,
                            None => Val::NoValue,
                        };
                        if !self.one_iteration(b, mark, Val::int(i as i64), elem)? {
                            break;
                        }
                    }
                }
                Some(obj @ Value::Object(m)) => {
                    if self.env.struct_fields(obj).is_some() {
                        let s = self.sprint(&val);
                        return Err(self.errorf(format!("range can't iterate over {s}")));
                    }
                    let mut keys: Vec<&String> = m.keys().collect();
                    keys.sort();
                    for k in keys {
                        ran = true;
                        let elem = match val.select(Sel::Key(k)) {
                            Some(e) if e.is_json_null() => self.nil_val(k),
                            Some(e) => e,
                            None => Val::NoValue,
                        };
                        if !self.one_iteration(b, mark, Val::str(k.as_str()), elem)? {
                            break;
                        }
                    }
                }
                _ => {
                    let s = self.sprint(&val);
                    return Err(self.errorf(format!("range can't iterate over {s}")));
                }
            },
        }
        if !ran && let Some(e) = &b.else_list {
            return self.walk_list(dot, e);
        }
        Ok(())
    }

    fn walk_template(&mut self, dot: &Val<'d>, node: &'t Node, t: &'t TemplateCall) -> R<()> {
        self.at(Loc::Node(node));
        let Some(tree) = self.tmpl.trees.get(&t.name) else {
            return Err(self.errorf(format!("template {} not defined", go_quote(&t.name))));
        };
        if self.depth >= MAX_EXEC_DEPTH {
            return Err(self.errorf(format!(
                "exceeded maximum template depth ({MAX_EXEC_DEPTH})"
            )));
        }
        let new_dot = match &t.pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Val::NoValue,
        };
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$", new_dot.clone())]);
        let saved_name = std::mem::replace(&mut self.name, t.name.as_str());
        self.depth += 1;
        let r = self.walk_list(&new_dot, tree);
        self.depth -= 1;
        self.name = saved_name;
        self.vars = saved_vars;
        r
    }

    // -----------------------------------------------------------------------
    // Evaluation.

    fn eval_pipeline(&mut self, dot: &Val<'d>, pipe: &'t Pipe) -> R<Val<'d>> {
        self.at(Loc::Pipe(pipe));
        let mut value: Option<Val<'d>> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Val::NoValue);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.push(name, value.clone());
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], fin: &Option<Val<'d>>) -> R<()> {
        if args.len() > 1 || fin.is_some() {
            return Err(self.errorf(format!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Val<'d>,
        cmd: &'t Command,
        fin: Option<Val<'d>>,
    ) -> R<Val<'d>> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { .. } => return self.eval_field_node(dot, first, &cmd.args, fin),
            Arg::Chain { .. } => return self.eval_chain_node(dot, first, &cmd.args, fin),
            Arg::Identifier { name, .. } => {
                return self.eval_function(dot, first, name, Loc::Cmd(cmd), &cmd.args[1..], fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { .. } => return self.eval_variable_node(dot, first, &cmd.args, fin),
            _ => {}
        }
        self.at(Loc::Arg(first));
        self.not_a_function(&cmd.args, &fin)?;
        match first {
            Arg::Bool { val, .. } => Ok(Val::bool(*val)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Err(self.errorf("nil is not a command")),
            Arg::Number { .. } => self.ideal_constant(first),
            Arg::String { text, .. } => Ok(Val::str(text.as_str())),
            _ => Err(self.errorf(format!(
                "can't evaluate command {}",
                go_quote(&first.to_string())
            ))),
        }
    }

    fn ideal_constant(&mut self, arg: &'t Arg) -> R<Val<'d>> {
        self.at(Loc::Arg(arg));
        let Arg::Number { num, .. } = arg else {
            return Ok(Val::NoValue);
        };
        let t = &num.text;
        let is_hex_int = t.len() > 2
            && t.starts_with('0')
            && matches!(t.as_bytes()[1], b'x' | b'X')
            && !t.contains(['p', 'P']);
        let is_rune = t.starts_with('\'');
        if num.is_float && !is_hex_int && !is_rune && t.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Val::float(num.float));
        }
        if num.is_int {
            return Ok(Val::int(num.int));
        }
        if num.is_uint {
            return Err(self.errorf(format!("{t} overflows int")));
        }
        Ok(Val::NoValue)
    }

    fn eval_field_node(
        &mut self,
        dot: &Val<'d>,
        field: &'t Arg,
        args: &'t [Arg],
        fin: Option<Val<'d>>,
    ) -> R<Val<'d>> {
        self.at(Loc::Arg(field));
        let Arg::Field { idents, .. } = field else {
            return Ok(Val::NoValue);
        };
        self.eval_field_chain(dot, dot.clone(), Loc::Arg(field), idents, args, fin)
    }

    fn eval_chain_node(
        &mut self,
        dot: &Val<'d>,
        chain: &'t Arg,
        args: &'t [Arg],
        fin: Option<Val<'d>>,
    ) -> R<Val<'d>> {
        self.at(Loc::Arg(chain));
        let Arg::Chain { node, fields, .. } = chain else {
            return Ok(Val::NoValue);
        };
        if matches!(node.as_ref(), Arg::Nil { .. }) {
            return Err(self.errorf(format!("indirection through explicit nil in {chain}")));
        }
        let recv = self.eval_arg(dot, Param::Untyped, node)?;
        self.eval_field_chain(dot, recv, Loc::Arg(chain), fields, args, fin)
    }

    fn eval_variable_node(
        &mut self,
        dot: &Val<'d>,
        var: &'t Arg,
        args: &'t [Arg],
        fin: Option<Val<'d>>,
    ) -> R<Val<'d>> {
        self.at(Loc::Arg(var));
        let Arg::Variable { idents, .. } = var else {
            return Ok(Val::NoValue);
        };
        let value = self.var_value(&idents[0])?;
        if idents.len() == 1 {
            if !args.is_empty() {
                self.not_a_function(args, &fin)?;
            } else if fin.is_some() {
                return Err(self.errorf(format!("can't give argument to non-function {var}")));
            }
            return Ok(value);
        }
        self.eval_field_chain(dot, value, Loc::Arg(var), &idents[1..], args, fin)
    }

    /// `args` is the whole command (args[0] is the field itself), or empty
    /// when the field is evaluated as an argument.
    fn eval_field_chain(
        &mut self,
        dot: &Val<'d>,
        mut recv: Val<'d>,
        node: Loc<'t>,
        idents: &'t [String],
        args: &'t [Arg],
        fin: Option<Val<'d>>,
    ) -> R<Val<'d>> {
        let n = idents.len();
        for id in &idents[..n - 1] {
            recv = self.eval_field(dot, id, node, &[], None, recv)?;
        }
        self.eval_field(dot, &idents[n - 1], node, args, fin, recv)
    }

    fn eval_field(
        &mut self,
        dot: &Val<'d>,
        name: &'t str,
        node: Loc<'t>,
        args: &'t [Arg],
        fin: Option<Val<'d>>,
        recv: Val<'d>,
    ) -> R<Val<'d>> {
        let has_args = args.len() > 1 || fin.is_some();
        let loc = self.node;
        let json = match &recv {
            Val::NoValue => {
                if self.env.missing_field(&Value::Null, name) == Missing::Error {
                    return Err(
                        self.errorf(format!("nil data; no entry for key {}", go_quote(name)))
                    );
                }
                return Ok(Val::NoValue);
            }
            Val::Nil(t) => match crate::value::nil_kind_of(t) {
                NilKind::Map => None,
                NilKind::Slice => {
                    return Err(self.errorf(format!(
                        "can't evaluate field {name} in type []interface {{}}"
                    )));
                }
                NilKind::Ptr => {
                    return Err(
                        self.errorf(format!("nil pointer evaluating interface {{}}.{name}"))
                    );
                }
            },
            _ => recv.json(),
        };
        // Methods first, as Go does.
        if let Some(j) = json {
            let argv = if args.len() > 1 || fin.is_some() {
                let mut v = Vec::new();
                for a in args.iter().skip(1) {
                    let x = self.eval_arg(dot, Param::Any, a)?;
                    v.push(x.to_json());
                }
                if let Some(f) = &fin {
                    v.push(f.to_json());
                }
                v
            } else {
                Vec::new()
            };
            if let Some(res) = self.env.call_method(j, name, &argv) {
                return match res {
                    Ok(Value::Null) => Ok(self.nil_val(name)),
                    Ok(v) => Ok(Val::own(v)),
                    Err(e) => {
                        self.at(node);
                        Err(self.errorf(format!("error calling {name}: {e}")))
                    }
                };
            }
            self.at(loc);
        }
        match json {
            None | Some(Value::Object(_)) => {
                let found = recv.select(Sel::Key(name));
                if has_args {
                    // A struct without that method or field (Go checks the
                    // field before the arguments).
                    if let (None, Some(j)) = (&found, json)
                        && let Missing::Field(ty) = self.env.missing_field(j, name)
                    {
                        return Err(
                            self.errorf(format!("can't evaluate field {name} in type {ty}"))
                        );
                    }
                    return Err(self.errorf(format!("{name} is not a method but has arguments")));
                }
                match found {
                    Some(v) if v.is_json_null() => Ok(self.nil_val(name)),
                    Some(v) => Ok(v),
                    None => {
                        let recv_json = json.unwrap_or(&Value::Null);
                        match self.env.missing_field(recv_json, name) {
                            Missing::NoValue => Ok(Val::NoValue),
                            Missing::Nil => Ok(self.nil_val(name)),
                            Missing::Error => {
                                Err(self
                                    .errorf(format!("map has no entry for key {}", go_quote(name))))
                            }
                            // A nil map is a map, not a struct.
                            Missing::Field(_) if json.is_none() => Ok(Val::NoValue),
                            Missing::Field(ty) => {
                                Err(self
                                    .errorf(format!("can't evaluate field {name} in type {ty}")))
                            }
                        }
                    }
                }
            }
            Some(_) => {
                let ty = recv.go_type();
                Err(self.errorf(format!("can't evaluate field {name} in type {ty}")))
            }
        }
    }

    fn eval_function(
        &mut self,
        dot: &Val<'d>,
        ident: &'t Arg,
        name: &str,
        call_loc: Loc<'t>,
        args: &'t [Arg],
        fin: Option<Val<'d>>,
    ) -> R<Val<'d>> {
        self.at(Loc::Arg(ident));
        let Some(f) = funcs::lookup(name) else {
            return Err(self.errorf(format!("{} is not a defined function", go_quote(name))));
        };
        self.eval_call(dot, f, call_loc, args, fin)
    }

    fn eval_call(
        &mut self,
        dot: &Val<'d>,
        f: Func,
        call_loc: Loc<'t>,
        args: &'t [Arg],
        fin: Option<Val<'d>>,
    ) -> R<Val<'d>> {
        let sig = funcs::signature(f, self.header);
        let name = funcs::name(f);
        let num_in = args.len() + usize::from(fin.is_some());
        let num_fixed = sig.fixed.len();
        match sig.variadic {
            Some(_) => {
                if num_in < num_fixed {
                    return Err(self.errorf(format!(
                        "wrong number of args for {name}: want at least {num_fixed} got {}",
                        args.len()
                    )));
                }
            }
            None => {
                if num_in != num_fixed {
                    return Err(self.errorf(format!(
                        "wrong number of args for {name}: want {num_fixed} got {num_in}"
                    )));
                }
            }
        }
        // and/or short-circuit.
        if matches!(f, Func::And | Func::Or) {
            let is_or = f == Func::Or;
            let mut v = Val::NoValue;
            for a in args {
                v = self.eval_arg(dot, Param::Value, a)?;
                if v.truth() == is_or {
                    return Ok(v);
                }
            }
            if let Some(x) = fin {
                v = x;
            }
            return Ok(v);
        }
        let mut argv: Vec<Val<'d>> = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            let p = if i < num_fixed {
                sig.fixed[i]
            } else {
                sig.variadic.unwrap_or(Param::Any)
            };
            argv.push(self.eval_arg(dot, p, a)?);
        }
        if let Some(x) = fin {
            let p = match sig.variadic {
                Some(vp) if num_in > num_fixed => vp,
                _ => sig.fixed[num_in - 1],
            };
            argv.push(self.validate(x, p)?);
        }
        if f == Func::Call {
            let callee = match args.first() {
                Some(a) => a.to_string(),
                None => match argv[0].as_str() {
                    Some(s) => s.to_string(),
                    None => format!("<{} Value>", argv[0].go_type()),
                },
            };
            let msg = match &argv[0] {
                Val::NoValue | Val::Nil(_) => "call of nil".to_string(),
                v => format!("non-function {callee} of type {}", v.go_type()),
            };
            self.at(call_loc);
            return Err(self.errorf(format!("error calling call: {msg}")));
        }
        match funcs::call(self, f, argv) {
            Ok(v) => Ok(v),
            Err(e) => {
                self.at(call_loc);
                Err(self.errorf(format!("error calling {name}: {e}")))
            }
        }
    }

    fn eval_arg(&mut self, dot: &Val<'d>, p: Param, arg: &'t Arg) -> R<Val<'d>> {
        self.at(Loc::Arg(arg));
        match arg {
            Arg::Dot { .. } => return self.validate(dot.clone(), p),
            Arg::Nil { .. } => {
                return match p {
                    Param::Value | Param::Any | Param::Untyped => Ok(Val::NoValue),
                    Param::StrSlice => Ok(Val::own(Value::Array(Vec::new()))),
                    _ => Err(self.errorf(format!("cannot assign nil to {}", p.go_name()))),
                };
            }
            Arg::Field { .. } => {
                let v = self.eval_field_node(dot, arg, std::slice::from_ref(arg), None)?;
                return self.validate(v, p);
            }
            Arg::Variable { .. } => {
                let v = self.eval_variable_node(dot, arg, &[], None)?;
                return self.validate(v, p);
            }
            Arg::Pipe(pipe) => {
                let v = self.eval_pipeline(dot, pipe)?;
                return self.validate(v, p);
            }
            Arg::Identifier { name, .. } => {
                let v = self.eval_function(dot, arg, name, Loc::Arg(arg), &[], None)?;
                return self.validate(v, p);
            }
            Arg::Chain { .. } => {
                let v = self.eval_chain_node(dot, arg, &[], None)?;
                return self.validate(v, p);
            }
            _ => {}
        }
        match p {
            Param::Value | Param::Any | Param::Untyped => match arg {
                Arg::Bool { val, .. } => Ok(Val::bool(*val)),
                Arg::Number { .. } => self.ideal_constant(arg),
                Arg::String { text, .. } => Ok(Val::str(text.as_str())),
                _ => Err(self.errorf(format!(
                    "can't handle assignment of {arg} to empty interface argument"
                ))),
            },
            Param::Str => match arg {
                Arg::String { text, .. } => Ok(Val::str(text.as_str())),
                _ => Err(self.errorf(format!("expected string; found {arg}"))),
            },
            Param::Int => match arg {
                Arg::Number { num, .. } if num.is_int => Ok(Val::int(num.int)),
                _ => Err(self.errorf(format!("expected integer; found {arg}"))),
            },
            Param::StrSlice => {
                Err(self.errorf(format!("can't handle {arg} for arg of type []string")))
            }
        }
    }

    /// Go's `validateType`: checks a value against a parameter type.
    fn validate(&self, v: Val<'d>, p: Param) -> R<Val<'d>> {
        let wrong = |v: &Val<'d>| {
            let got = match v {
                Val::Nil(_) => "interface {}".to_string(),
                _ => v.go_type(),
            };
            self.errorf(format!(
                "wrong type for value; expected {}; got {got}",
                p.go_name()
            ))
        };
        match p {
            Param::Value | Param::Any | Param::Untyped => Ok(v),
            Param::Str => match &v {
                Val::NoValue => Err(self.errorf("invalid value; expected string")),
                _ if v.as_str().is_some() => Ok(v),
                _ => Err(wrong(&v)),
            },
            Param::Int => match &v {
                Val::NoValue => Err(self.errorf("invalid value; expected int")),
                _ => match v.as_num() {
                    Some(Num::Int(_)) => Ok(v),
                    _ => Err(wrong(&v)),
                },
            },
            Param::StrSlice => {
                match &v {
                    Val::NoValue => Ok(Val::own(Value::Array(Vec::new()))),
                    Val::Nil(t) if crate::value::nil_kind_of(t) == NilKind::Slice => {
                        Ok(Val::own(Value::Array(Vec::new())))
                    }
                    _ => match v.as_array() {
                        Some(a) if a.iter().all(Value::is_string) => Ok(v),
                        Some(_) => Err(self
                            .errorf("wrong type for value; expected []string; got []interface {}")),
                        None => Err(wrong(&v)),
                    },
                }
            }
        }
    }
}
