//! Go's `fmt` printing (`%v`, `Sprint`, `Sprintln`, `Sprintf`) and the
//! `strconv`/`encoding/json`/escaping helpers, over [`Val`]s.

use std::fmt::Write as _;

use serde_json::Value;

use crate::value::{NIL_TEXT, Num, Val, go_type_of, num};
use crate::{Env, GoField};

/// The caller's hooks, for printing: the text a JSON null printed under an
/// object key stands for ([`Env::nil_text`]), which objects are Go structs
/// ([`Env::struct_fields`]).
pub(crate) type NilFn<'a> = &'a dyn Env;

/// A printable view of a value.
#[derive(Clone, Copy)]
enum Pv<'a> {
    /// An untyped nil interface.
    Nil,
    /// A typed nil with its text.
    NilText(&'a str),
    Json(&'a Value),
}

fn pv<'a>(v: &'a Val) -> Pv<'a> {
    match v {
        Val::NoValue => Pv::Nil,
        Val::Nil(t) => Pv::NilText(t),
        Val::Ref(j) => Pv::Json(j),
        Val::Own(j) => Pv::Json(j),
    }
}

#[derive(Clone, Copy, Default)]
struct Flags {
    sharp: bool,
    zero: bool,
    plus: bool,
    minus: bool,
    space: bool,
    sharp_v: bool,
    plus_v: bool,
    wid: usize,
    wid_present: bool,
    prec: usize,
    prec_present: bool,
}

struct Printer<'a> {
    buf: String,
    f: Flags,
    nil_text: NilFn<'a>,
}

const LDIGITS: &[u8] = b"0123456789abcdefx";
const UDIGITS: &[u8] = b"0123456789ABCDEFX";

impl<'a> Printer<'a> {
    fn new(nil_text: NilFn<'a>) -> Printer<'a> {
        Printer {
            buf: String::new(),
            f: Flags::default(),
            nil_text,
        }
    }

    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        for _ in 0..n {
            self.buf.push(c);
        }
    }

    fn pad(&mut self, s: &str) {
        if !self.f.wid_present || self.f.wid == 0 {
            self.buf.push_str(s);
            return;
        }
        let n = s.chars().count();
        let width = self.f.wid.saturating_sub(n);
        if !self.f.minus {
            self.write_padding(width);
            self.buf.push_str(s);
        } else {
            self.buf.push_str(s);
            self.write_padding(width);
        }
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present
            && let Some((i, _)) = s.char_indices().nth(self.f.prec)
        {
            return &s[..i];
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            self.pad(&format!("`{s}`"));
            return;
        }
        let q = if self.f.plus {
            quote_with(s, '"', true)
        } else {
            go_quote(s)
        };
        self.pad(&q);
    }

    fn fmt_sx(&mut self, s: &str, digits: &[u8]) {
        let b = s.as_bytes();
        let mut length = b.len();
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                self.write_padding(self.f.wid);
            }
            return;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.write_padding(self.f.wid - width);
        }
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(digits[16] as char);
        }
        for (i, &c) in b.iter().take(length).enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(digits[16] as char);
                }
            }
            self.buf.push(digits[(c >> 4) as usize] as char);
            self.buf.push(digits[(c & 0xF) as usize] as char);
        }
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.write_padding(self.f.wid - width);
        }
    }

    fn fmt_integer(&mut self, u: u64, base: u64, signed: bool, verb: char, digits: &[u8]) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative {
            (u as i64).unsigned_abs()
        } else {
            u
        };
        let mut prec = 0usize;
        if self.f.prec_present {
            prec = self.f.prec;
            if prec == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid);
                self.f.zero = old;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        // Built right to left.
        let mut rev: Vec<u8> = Vec::new();
        loop {
            rev.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while rev.len() < prec {
            rev.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => rev.extend_from_slice(b"b0"),
                8 if rev.last() != Some(&b'0') => rev.push(b'0'),
                16 => {
                    rev.push(digits[16]);
                    rev.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            rev.extend_from_slice(b"o0");
        }
        if negative {
            rev.push(b'-');
        } else if self.f.plus {
            rev.push(b'+');
        } else if self.f.space {
            rev.push(b' ');
        }
        rev.reverse();
        let s = String::from_utf8(rev).unwrap_or_default();
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn fmt_c(&mut self, u: u64) {
        let c = u32::try_from(u)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}');
        self.pad(&c.to_string());
    }

    fn fmt_qc(&mut self, u: u64) {
        let c = u32::try_from(u)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}');
        if self.f.sharp && c != '`' && can_backquote(&c.to_string()) {
            self.pad(&format!("'{c}'"));
            return;
        }
        let q = quote_rune(c, self.f.plus);
        self.pad(&q);
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut s = format!("U+{u:04X}");
        if self.f.prec_present && self.f.prec > 4 {
            s = format!("U+{:0width$X}", u, width = self.f.prec);
        }
        if self.f.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && is_print(c)
        {
            s.push_str(&format!(" '{c}'"));
        }
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn fmt_int_verb(&mut self, v: u64, signed: bool, verb: char, arg: Pv) {
        match verb {
            'v' | 'd' => self.fmt_integer(v, 10, signed, verb, LDIGITS),
            'b' => self.fmt_integer(v, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_integer(v, 8, signed, verb, LDIGITS),
            'x' => self.fmt_integer(v, 16, signed, verb, LDIGITS),
            'X' => self.fmt_integer(v, 16, signed, verb, UDIGITS),
            'c' => self.fmt_c(v),
            'q' => self.fmt_qc(v),
            'U' => self.fmt_unicode(v),
            _ => self.bad_verb(verb, arg),
        }
    }

    fn fmt_float(&mut self, v: f64, verb: char, arg: Pv) {
        let prec = if self.f.prec_present {
            Some(self.f.prec)
        } else {
            None
        };
        let body = match verb {
            'v' => format_float(v, 'g', prec),
            'g' | 'G' | 'e' | 'E' | 'f' | 'F' => {
                let p = if matches!(verb, 'g' | 'G') {
                    prec
                } else {
                    Some(prec.unwrap_or(6))
                };
                format_float(v, verb, p)
            }
            'b' | 'x' | 'X' => format_float(v, 'g', prec),
            _ => {
                self.bad_verb(verb, arg);
                return;
            }
        };
        // body carries a leading '-' for negatives.
        let (neg, digits) = match body.strip_prefix('-') {
            Some(rest) => (true, rest.to_string()),
            None => (false, body),
        };
        if v.is_infinite() || v.is_nan() {
            let mut s = String::new();
            if neg {
                s.push('-');
            } else if self.f.plus {
                s.push('+');
            } else if self.f.space {
                s.push(' ');
            }
            s.push_str(&digits);
            let old = self.f.zero;
            self.f.zero = false;
            self.pad(&s);
            self.f.zero = old;
            return;
        }
        let sign = if neg {
            Some('-')
        } else if self.f.plus {
            Some('+')
        } else if self.f.space {
            Some(' ')
        } else {
            None
        };
        match sign {
            Some(sc) => {
                let len = digits.chars().count() + 1;
                if self.f.zero && !self.f.minus && self.f.wid_present && self.f.wid > len {
                    self.buf.push(sc);
                    self.write_padding(self.f.wid - len);
                    self.buf.push_str(&digits);
                } else {
                    let mut s = String::with_capacity(len);
                    s.push(sc);
                    s.push_str(&digits);
                    self.pad(&s);
                }
            }
            None => self.pad(&digits),
        }
    }

    fn fmt_string(&mut self, s: &str, verb: char, arg: Pv) {
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.fmt_q(s)
                } else {
                    self.fmt_s(s)
                }
            }
            's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, LDIGITS),
            'X' => self.fmt_sx(s, UDIGITS),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, arg),
        }
    }

    fn bad_verb(&mut self, verb: char, arg: Pv) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        match arg {
            Pv::Nil | Pv::NilText(_) => self.buf.push_str(NIL_TEXT),
            Pv::Json(Value::Null) => self.buf.push_str(NIL_TEXT),
            Pv::Json(v) => {
                self.buf.push_str(&go_type_of(v));
                self.buf.push('=');
                self.print_arg(arg, 'v');
            }
        }
        self.buf.push(')');
    }

    fn print_arg(&mut self, arg: Pv, verb: char) {
        match arg {
            Pv::Nil | Pv::Json(Value::Null) => match verb {
                'T' | 'v' => self.pad(NIL_TEXT),
                _ => self.bad_verb(verb, arg),
            },
            Pv::NilText(t) => match verb {
                'T' => self.fmt_s(NIL_TEXT),
                'v' | 's' => self.pad(t),
                _ => self.bad_verb(verb, arg),
            },
            Pv::Json(v) => {
                if verb == 'T' {
                    self.fmt_s(&go_type_of(v));
                    return;
                }
                self.print_json(v, verb, arg);
            }
        }
    }

    fn print_json(&mut self, v: &Value, verb: char, arg: Pv) {
        match v {
            Value::Null => self.print_arg(Pv::Nil, verb),
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(verb, arg),
            },
            Value::Number(n) => match num(n) {
                Num::Int(i) => self.fmt_int_verb(i as u64, true, verb, arg),
                Num::Uint(u) => self.fmt_int_verb(u, false, verb, arg),
                Num::Float(f) => self.fmt_float(f, verb, arg),
            },
            Value::String(s) => self.fmt_string(s, verb, arg),
            Value::Array(a) => {
                if self.f.sharp_v {
                    self.buf.push_str(&go_type_of(v));
                    self.buf.push('{');
                    for (i, e) in a.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        if e.is_null() {
                            self.buf.push_str("interface {}(nil)");
                        } else {
                            self.print_arg(Pv::Json(e), verb);
                        }
                    }
                    self.buf.push('}');
                    return;
                }
                self.buf.push('[');
                for (i, e) in a.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(' ');
                    }
                    if e.is_null() {
                        self.pad(NIL_TEXT);
                    } else {
                        self.print_arg(Pv::Json(e), verb);
                    }
                }
                self.buf.push(']');
            }
            Value::Object(m) => {
                if !self.f.sharp_v
                    && let Some(fields) = self.nil_text.struct_fields(v)
                {
                    self.print_struct(m, &fields, verb);
                    return;
                }
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                if self.f.sharp_v {
                    self.buf.push_str(&go_type_of(v));
                    self.buf.push('{');
                    for (i, k) in keys.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        self.buf.push_str(&go_quote(k));
                        self.buf.push(':');
                        match &m[k.as_str()] {
                            Value::Null => self.buf.push_str("interface {}(nil)"),
                            e => self.print_arg(Pv::Json(e), verb),
                        }
                    }
                    self.buf.push('}');
                    return;
                }
                self.buf.push_str("map[");
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(' ');
                    }
                    let kv = Value::String((*k).clone());
                    self.print_arg(Pv::Json(&kv), verb);
                    self.buf.push(':');
                    match &m[k.as_str()] {
                        Value::Null => {
                            // A nil interface inside a map prints as fmt
                            // prints it, `<nil>`, not as "no value".
                            let t = self
                                .nil_text
                                .nil_text(k)
                                .filter(|t| t != "<no value>")
                                .unwrap_or_else(|| NIL_TEXT.to_string());
                            self.pad(&t);
                        }
                        e => self.print_arg(Pv::Json(e), verb),
                    }
                }
                self.buf.push(']');
            }
        }
    }

    /// A Go struct: `{v1 v2}`, `%+v` `{F1:v1 F2:v2}`. A nested pointer
    /// prints as what it points to (Go prints its address).
    fn print_struct(&mut self, m: &serde_json::Map<String, Value>, fields: &[GoField], verb: char) {
        self.buf.push('{');
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.buf.push(' ');
            }
            let name = match field {
                GoField::Named(n) | GoField::Embedded(n, _) => n,
            };
            if self.f.plus_v {
                self.buf.push_str(name);
                self.buf.push(':');
            }
            if let GoField::Embedded(_, inner) = field {
                self.print_struct(m, inner, verb);
                continue;
            }
            match m.get(name.as_str()) {
                None | Some(Value::Null) => {
                    let t = self
                        .nil_text
                        .nil_text(name)
                        .filter(|t| t != "<no value>")
                        .unwrap_or_else(|| NIL_TEXT.to_string());
                    self.pad(&t);
                }
                Some(e) => self.print_arg(Pv::Json(e), verb),
            }
        }
        self.buf.push('}');
    }

    fn do_printf(&mut self, format: &str, args: &[Val]) {
        let fb = format.as_bytes();
        let end = fb.len();
        let mut arg_num = 0usize;
        let mut after_index;
        let mut reordered = false;
        let mut i = 0usize;
        'format: while i < end {
            let mut good_arg_num = true;
            let lasti = i;
            while i < end && fb[i] != b'%' {
                i += 1;
            }
            if i > lasti {
                self.buf.push_str(&format[lasti..i]);
            }
            if i >= end {
                break;
            }
            i += 1;
            self.f = Flags::default();
            while i < end {
                match fb[i] {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = true,
                    b'+' => self.f.plus = true,
                    b'-' => self.f.minus = true,
                    b' ' => self.f.space = true,
                    _ => break,
                }
                i += 1;
            }
            // Argument index.
            let (n, ni, found) = arg_number(
                arg_num,
                format,
                i,
                args.len(),
                &mut good_arg_num,
                &mut reordered,
            );
            arg_num = n;
            i = ni;
            after_index = found;
            // Width.
            if i < end && fb[i] == b'*' {
                i += 1;
                let (w, ok, n) = int_from_arg(args, arg_num);
                arg_num = n;
                self.f.wid_present = ok;
                if !ok {
                    self.buf.push_str("%!(BADWIDTH)");
                }
                if w < 0 {
                    self.f.wid = w.unsigned_abs() as usize;
                    self.f.minus = true;
                    self.f.zero = false;
                } else {
                    self.f.wid = w as usize;
                }
                after_index = false;
            } else {
                let (w, ok, ni) = parse_num(format, i, end);
                self.f.wid = w;
                self.f.wid_present = ok;
                i = ni;
                if after_index && ok {
                    good_arg_num = false;
                }
            }
            // Precision.
            if i + 1 < end && fb[i] == b'.' {
                i += 1;
                if after_index {
                    good_arg_num = false;
                }
                let (n, ni, found) = arg_number(
                    arg_num,
                    format,
                    i,
                    args.len(),
                    &mut good_arg_num,
                    &mut reordered,
                );
                arg_num = n;
                i = ni;
                after_index = found;
                if i < end && fb[i] == b'*' {
                    i += 1;
                    let (p, ok, n) = int_from_arg(args, arg_num);
                    arg_num = n;
                    if p < 0 {
                        self.f.prec = 0;
                        self.f.prec_present = false;
                    } else {
                        self.f.prec = p as usize;
                        self.f.prec_present = ok;
                    }
                    if !ok {
                        self.buf.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (p, ok, ni) = parse_num(format, i, end);
                    i = ni;
                    self.f.prec = if ok { p } else { 0 };
                    self.f.prec_present = true;
                }
            }
            if !after_index {
                let (n, ni, _) = arg_number(
                    arg_num,
                    format,
                    i,
                    args.len(),
                    &mut good_arg_num,
                    &mut reordered,
                );
                arg_num = n;
                i = ni;
            }
            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break 'format;
            }
            let verb = format[i..].chars().next().unwrap_or('?');
            i += verb.len_utf8();
            if verb == '%' {
                self.buf.push('%');
            } else if !good_arg_num {
                let _ = write!(self.buf, "%!{verb}(BADINDEX)");
            } else if arg_num >= args.len() {
                let _ = write!(self.buf, "%!{verb}(MISSING)");
            } else {
                if verb == 'v' {
                    self.f.sharp_v = self.f.sharp;
                    self.f.sharp = false;
                    self.f.plus_v = self.f.plus;
                    self.f.plus = false;
                }
                self.print_arg(pv(&args[arg_num]), verb);
                arg_num += 1;
            }
        }
        if !reordered && arg_num < args.len() {
            self.f = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (k, a) in args[arg_num..].iter().enumerate() {
                if k > 0 {
                    self.buf.push_str(", ");
                }
                match pv(a) {
                    Pv::Nil | Pv::NilText(_) => self.buf.push_str(NIL_TEXT),
                    p => {
                        self.buf.push_str(&a.go_type());
                        self.buf.push('=');
                        self.print_arg(p, 'v');
                    }
                }
            }
            self.buf.push(')');
        }
    }
}

fn too_large(x: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&x)
}

fn parse_num(s: &str, start: usize, end: usize) -> (usize, bool, usize) {
    let b = s.as_bytes();
    if start >= end {
        return (0, false, end);
    }
    let mut num: i64 = 0;
    let mut isnum = false;
    let mut i = start;
    while i < end && b[i].is_ascii_digit() {
        if too_large(num) {
            return (0, false, end);
        }
        num = num * 10 + i64::from(b[i] - b'0');
        isnum = true;
        i += 1;
    }
    (num as usize, isnum, i)
}

fn arg_number(
    arg_num: usize,
    format: &str,
    i: usize,
    num_args: usize,
    good: &mut bool,
    reordered: &mut bool,
) -> (usize, usize, bool) {
    let b = format.as_bytes();
    if b.len() <= i || b[i] != b'[' {
        return (arg_num, i, false);
    }
    *reordered = true;
    let rest = &format[i..];
    let (index, wid, ok) = parse_arg_number(rest);
    if ok && index >= 0 && (index as usize) < num_args {
        return (index as usize, i + wid, true);
    }
    *good = false;
    (arg_num, i + wid, ok)
}

fn parse_arg_number(format: &str) -> (i64, usize, bool) {
    let b = format.as_bytes();
    if b.len() < 3 {
        return (0, 1, false);
    }
    for (i, &c) in b.iter().enumerate().skip(1) {
        if c == b']' {
            let (width, ok, newi) = parse_num(format, 1, i);
            if !ok || newi != i {
                return (0, i + 1, false);
            }
            return (width as i64 - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

fn int_from_arg(args: &[Val], arg_num: usize) -> (i64, bool, usize) {
    if arg_num >= args.len() {
        return (0, false, arg_num);
    }
    let (mut n, mut ok) = match args[arg_num].as_num() {
        Some(Num::Int(i)) => (i, true),
        Some(Num::Uint(u)) => match i64::try_from(u) {
            Ok(i) => (i, true),
            Err(_) => (0, false),
        },
        _ => (0, false),
    };
    if too_large(n) {
        n = 0;
        ok = false;
    }
    (n, ok, arg_num + 1)
}

/// `fmt.Sprint(v)` for one value, as the template prints an action's value.
pub(crate) fn sprint_value(v: &Val, nil_text: NilFn) -> String {
    match v {
        Val::NoValue => "<no value>".to_string(),
        Val::Nil(t) => t.to_string(),
        _ => {
            let mut p = Printer::new(nil_text);
            p.print_arg(pv(v), 'v');
            p.buf
        }
    }
}

/// `fmt.Sprint(args...)`.
pub(crate) fn sprint(args: &[Val], nil_text: NilFn) -> String {
    let mut p = Printer::new(nil_text);
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = a.as_str().is_some();
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(pv(a), 'v');
        prev_string = is_string;
    }
    p.buf
}

/// `fmt.Sprintln(args...)`.
pub(crate) fn sprintln(args: &[Val], nil_text: NilFn) -> String {
    let mut p = Printer::new(nil_text);
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(pv(a), 'v');
    }
    p.buf.push('\n');
    p.buf
}

/// `fmt.Sprintf(format, args...)`.
pub(crate) fn sprintf(format: &str, args: &[Val], nil_text: NilFn) -> String {
    let mut p = Printer::new(nil_text);
    p.do_printf(format, args);
    p.buf
}

// ---------------------------------------------------------------------------
// Floats (strconv.FormatFloat).

/// Decimal digits of |v| and the decimal point position (Go's `decimalSlice`).
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

fn parse_sci(s: &str) -> Digits {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    Digits { d, dp: exp + 1 }
}

fn trim_zeros(mut d: Digits) -> Digits {
    while d.d.last() == Some(&b'0') {
        d.d.pop();
    }
    if d.d.is_empty() {
        d.dp = 0;
    }
    d
}

fn shortest_digits(v: f64) -> Digits {
    if v == 0.0 {
        return Digits { d: vec![], dp: 0 };
    }
    trim_zeros(parse_sci(&format!("{v:e}")))
}

fn fmt_e(d: &Digits, prec: i32, upper: bool) -> String {
    let mut s = String::new();
    let nd = d.d.len() as i32;
    s.push(if nd == 0 { '0' } else { d.d[0] as char });
    if prec > 0 {
        s.push('.');
        let mut i = 1;
        let m = nd.min(prec + 1);
        while i < m {
            s.push(d.d[i as usize] as char);
            i += 1;
        }
        while i <= prec {
            s.push('0');
            i += 1;
        }
    }
    s.push(if upper { 'E' } else { 'e' });
    let mut exp = d.dp - 1;
    if nd == 0 {
        exp = 0;
    }
    if exp < 0 {
        s.push('-');
        exp = -exp;
    } else {
        s.push('+');
    }
    if exp < 10 {
        s.push('0');
        s.push((b'0' + exp as u8) as char);
    } else {
        let _ = write!(s, "{exp}");
    }
    s
}

fn fmt_f(d: &Digits, prec: i32) -> String {
    let mut s = String::new();
    let nd = d.d.len() as i32;
    if d.dp > 0 {
        let m = nd.min(d.dp);
        for &c in &d.d[..m as usize] {
            s.push(c as char);
        }
        for _ in m..d.dp {
            s.push('0');
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            let j = d.dp + i - 1;
            let c = if j >= 0 && j < nd {
                d.d[j as usize] as char
            } else {
                '0'
            };
            s.push(c);
        }
    }
    s
}

/// Go's `strconv.FormatFloat(v, verb, prec, 64)`; `None` precision means
/// shortest. The result has a leading '-' for negative values.
pub(crate) fn format_float(v: f64, verb: char, prec: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let neg = v.is_sign_negative();
    let a = v.abs();
    let upper = verb.is_ascii_uppercase();
    let body = match verb.to_ascii_lowercase() {
        'e' => {
            let p = prec.unwrap_or(6);
            let d = if prec.is_none() {
                shortest_digits(a)
            } else {
                parse_sci(&format!("{:.*e}", p, a))
            };
            let p = if prec.is_none() {
                (d.d.len() as i32 - 1).max(0)
            } else {
                p as i32
            };
            fmt_e(&d, p, upper)
        }
        'f' => match prec {
            Some(p) => format!("{:.*}", p, a),
            None => {
                let d = shortest_digits(a);
                let p = (d.d.len() as i32 - d.dp).max(0);
                fmt_f(&d, p)
            }
        },
        _ => {
            // 'g'
            let shortest = prec.is_none();
            let (d, mut p) = match prec {
                None => {
                    let d = shortest_digits(a);
                    let n = d.d.len() as i32;
                    (d, n)
                }
                Some(p) => {
                    let p = p.max(1);
                    (
                        trim_zeros(parse_sci(&format!("{:.*e}", p - 1, a))),
                        p as i32,
                    )
                }
            };
            let nd = d.d.len() as i32;
            let mut eprec = p;
            if eprec > nd && nd >= d.dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = d.dp - 1;
            if exp < -4 || exp >= eprec {
                if p > nd {
                    p = nd;
                }
                fmt_e(&d, p - 1, upper)
            } else {
                if p > d.dp {
                    p = nd;
                }
                fmt_f(&d, (p - d.dp).max(0))
            }
        }
    };
    if neg { format!("-{body}") } else { body }
}

/// encoding/json's float format.
fn json_float(f: f64) -> String {
    let a = f.abs();
    let verb = if a != 0.0 && !(1e-6..1e21).contains(&a) {
        'e'
    } else {
        'f'
    };
    let mut s = format_float(f, verb, None);
    if verb == 'e' {
        // clean up e-09 to e-9
        let b = s.as_bytes();
        let n = b.len();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            s.remove(n - 2);
        }
    }
    s
}

// ---------------------------------------------------------------------------
// JSON (encoding/json with SetEscapeHTML(false), as docker's `json` does).

/// `encoding/json` of `v`; with `sort_keys`, objects are Go maps (keys
/// sorted), else their keys come in the `serde_json::Map` order.
pub(crate) fn json_encode(v: &Value, out: &mut String, sort_keys: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match num(n) {
            Num::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Num::Uint(u) => {
                let _ = write!(out, "{u}");
            }
            Num::Float(f) => out.push_str(&json_float(f)),
        },
        Value::String(s) => json_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_encode(e, out, sort_keys);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            if sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (k, e)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out);
                out.push(':');
                json_encode(e, out, sort_keys);
            }
            out.push('}');
        }
    }
}

/// `json.Marshal`'s HTML escaping over encoded JSON text: `<`, `>` and `&`
/// only occur inside strings there, so each is replaced wherever it is.
pub(crate) fn escape_html_in_json(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

fn json_string(s: &str, out: &mut String) {
    const HEX: &[u8] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let b = c as u8;
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xF) as usize] as char);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------
// strconv quoting.

/// Approximation of Go's `unicode.IsPrint` / `strconv.IsPrint`.
pub(crate) fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    !matches!(
        u,
        0xAD | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0xD800..=0xDFFF
            | 0xE000..=0xF8FF
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0xFFFE
            | 0xFFFF
            | 0xE0001
            | 0xE0020..=0xE007F
            | 0xF0000..=0x10FFFF
    )
}

fn escape_rune(out: &mut String, c: char, quote: char, ascii_only: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if ascii_only {
        if c.is_ascii() && is_print(c) {
            out.push(c);
            return;
        }
    } else if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

fn quote_with(s: &str, quote: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        escape_rune(&mut out, c, quote, ascii_only);
    }
    out.push(quote);
    out
}

/// Go's `strconv.Quote` (`%q`).
pub(crate) fn go_quote(s: &str) -> String {
    quote_with(s, '"', false)
}

fn quote_rune(c: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    escape_rune(&mut out, c, '\'', ascii_only);
    out.push('\'');
    out
}

fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| {
        c != '`' && c != '\u{FEFF}' && (c == '\t' || !((c as u32) < 0x20 || c == '\u{7f}'))
    })
}

/// Go's `%#U`: `U+0023 '#'`.
pub(crate) fn go_u_sharp(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{}'", c as u32, c)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

// ---------------------------------------------------------------------------
// Escapers (html, js, urlquery builtins).

pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u00{:02X}", c as u32);
            }
            c if c.is_ascii() => out.push(c),
            c if is_print(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
        }
    }
    out
}

pub(crate) fn url_query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pf(f: &str, args: Vec<Value>) -> String {
        let vals: Vec<Val> = args.into_iter().map(Val::own).collect();
        sprintf(f, &vals, &crate::JsonEnv)
    }

    #[test]
    fn floats() {
        let g = |f: f64| format_float(f, 'g', None);
        assert_eq!(g(1.5), "1.5");
        assert_eq!(g(1e6), "1e+06");
        assert_eq!(g(123456.0), "123456");
        assert_eq!(g(1234567.0), "1.234567e+06");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(0.00001), "1e-05");
        assert_eq!(g(0.0), "0");
        assert_eq!(g(-2.5), "-2.5");
        assert_eq!(g(100.0), "100");
        assert_eq!(format_float(1.23456, 'f', Some(2)), "1.23");
        assert_eq!(format_float(1234.0, 'g', Some(3)), "1.23e+03");
        assert_eq!(format_float(1.0, 'g', Some(3)), "1");
        assert_eq!(format_float(1.5, 'e', Some(2)), "1.50e+00");
        assert_eq!(format_float(0.0, 'e', Some(3)), "0.000e+00");
        assert_eq!(json_float(1e21), "1e+21");
        assert_eq!(json_float(1e-7), "1e-7");
        assert_eq!(json_float(2.0), "2");
        assert_eq!(json_float(0.5), "0.5");
    }

    #[test]
    fn printf_verbs() {
        assert_eq!(
            pf("%5s|%-5s|", vec![json!("ab"), json!("cd")]),
            "   ab|cd   |"
        );
        assert_eq!(pf("%05d", vec![json!(42)]), "00042");
        assert_eq!(
            pf(
                "%+d %x %X %o %b",
                vec![json!(5), json!(255), json!(255), json!(8), json!(5)]
            ),
            "+5 ff FF 10 101"
        );
        assert_eq!(pf("%.2f", vec![json!(1.23456)]), "1.23");
        assert_eq!(pf("%q", vec![json!("a\"b")]), "\"a\\\"b\"");
        assert_eq!(pf("%v %t", vec![json!(true), json!(false)]), "true false");
        assert_eq!(pf("%d", vec![json!("x")]), "%!d(string=x)");
        assert_eq!(pf("%d %d", vec![json!(1)]), "1 %!d(MISSING)");
        assert_eq!(pf("%d", vec![json!(1), json!("a")]), "1%!(EXTRA string=a)");
        assert_eq!(pf("%v", vec![json!([1, "a", null])]), "[1 a <nil>]");
        assert_eq!(
            pf("%v", vec![json!({"b": 1, "a": [true]})]),
            "map[a:[true] b:1]"
        );
        assert_eq!(pf("%x", vec![json!("hi")]), "6869");
        assert_eq!(pf("%c|%U", vec![json!(65), json!(65)]), "A|U+0041");
        assert_eq!(pf("%6.2f|", vec![json!(-1.5)]), " -1.50|");
        assert_eq!(
            pf("%T %T", vec![json!(1.5), json!(["a"])]),
            "float64 []string"
        );
        assert_eq!(pf("100%%", vec![]), "100%");
        assert_eq!(pf("%", vec![]), "%!(NOVERB)");
        assert_eq!(pf("%*d", vec![json!(4), json!(7)]), "   7");
        assert_eq!(pf("%[2]d %[1]d", vec![json!(1), json!(2)]), "2 1");
        assert_eq!(pf("%#v", vec![json!("x")]), "\"x\"");
    }

    #[test]
    fn json_like_go() {
        let mut s = String::new();
        json_encode(
            &json!({"a": "<b>&\u{2028}\n", "n": 1.0, "i": 3}),
            &mut s,
            true,
        );
        assert_eq!(s, "{\"a\":\"<b>&\\u2028\\n\",\"i\":3,\"n\":1}");
    }

    #[test]
    fn escapers() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            js_escape("It'd <b>=&"),
            "It\\'d \\u003Cb\\u003E\\u003D\\u0026"
        );
        assert_eq!(
            url_query_escape("http://x.org/a b"),
            "http%3A%2F%2Fx.org%2Fa+b"
        );
        assert_eq!(go_quote("a\tb\u{1}é"), "\"a\\tb\\x01é\"");
    }
}
