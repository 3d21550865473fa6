//! One logical line into an [`Instruction`]: the keyword, the flags each
//! instruction accepts and its arguments, with buildkit's checks and error
//! wording (its parser's line parsers and its instructions package).

use super::ast::*;
use super::error::{ParseError, suggest};
use super::flags::{self, FlagKind, FlagKind::*, Flags};
use super::heredoc;
use super::lines::{Lines, Logical};
use super::words::{is_blank, json_array, quoted_words, split_blanks};
use std::num::IntErrorKind;

const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// What every instruction of one logical line shares (an ONBUILD and its
/// trigger): where it is and its heredocs.
struct Ctx<'a> {
    line: usize,
    end_line: usize,
    escape: char,
    docs: &'a [Doc],
}

/// A heredoc as the AST has it, and its body as read (tabs not stripped),
/// which ONBUILD keeps in the trigger's text.
struct Doc {
    heredoc: Heredoc,
    raw: String,
}

pub(crate) fn parse(logical: &Logical, lines: &mut Lines) -> Result<Instruction, ParseError> {
    let escape = lines.escape;
    let err = |m: String| ParseError::new(logical.start, m);
    // Heredoc bodies follow the instruction's line(s): read them first.
    let docs = if takes_heredocs(&logical.text, escape) {
        read_heredocs(&logical.text, lines).map_err(err)?
    } else {
        Vec::new()
    };
    let ctx = Ctx {
        line: logical.start,
        end_line: lines.line(),
        escape,
        docs: &docs,
    };
    let kind = parse_kind(&ctx, &logical.text).map_err(err)?;
    Ok(Instruction {
        line: ctx.line,
        end_line: ctx.end_line,
        original: logical.text.trim().to_string(),
        kind,
    })
}

/// RUN, COPY and ADD in shell form (or as an ONBUILD trigger) with a `<<`.
fn takes_heredocs(text: &str, escape: char) -> bool {
    let (mut cmd, _, mut args) = split_command(text, escape);
    if cmd.eq_ignore_ascii_case("onbuild") {
        (cmd, _, args) = split_command(args, escape);
    }
    matches!(cmd.to_lowercase().as_str(), "run" | "copy" | "add")
        && !matches!(json_array(args), Ok(Some(_)))
        && text.contains("<<")
}

fn read_heredocs(text: &str, lines: &mut Lines) -> Result<Vec<Doc>, String> {
    let mut docs = Vec::new();
    for m in heredoc::from_line(text)? {
        let raw = lines
            .read_heredoc(&m.name, m.strip_tabs)
            .ok_or("unterminated heredoc")?;
        let content = if m.strip_tabs {
            raw.split_inclusive('\n')
                .map(|l| l.trim_start_matches('\t'))
                .collect()
        } else {
            raw.clone()
        };
        let heredoc = Heredoc {
            name: m.name,
            content,
            expand: m.expand,
            strip_tabs: m.strip_tabs,
        };
        docs.push(Doc { heredoc, raw });
    }
    Ok(docs)
}

/// The keyword, the leading `--` flags and the rest (trimmed).
fn split_command(line: &str, escape: char) -> (&str, Vec<String>, &str) {
    let line = line.trim();
    let Some(i) = line.find(is_blank) else {
        return (line, Vec::new(), "");
    };
    let (flags, args) = flags::extract(line[i..].trim_start_matches(is_blank), escape);
    (&line[..i], flags, args.trim())
}

/// An instruction's parts, split from its line.
struct Parts<'a> {
    ctx: &'a Ctx<'a>,
    /// The keyword as written, and upper-cased for messages.
    cmd: &'a str,
    name: String,
    flag_words: Vec<String>,
    /// The arguments after the flags, trimmed.
    args: &'a str,
    /// The whole logical line (ONBUILD keeps its text).
    text: &'a str,
}

impl Parts<'_> {
    fn flags(&self, spec: &[(&'static str, FlagKind)]) -> Result<Flags, String> {
        flags::parse(&self.flag_words, spec)
    }
    fn no_flags(&self) -> Result<(), String> {
        self.flags(&[]).map(drop)
    }
    fn heredocs(&self) -> Vec<Heredoc> {
        self.ctx.docs.iter().map(|d| d.heredoc.clone()).collect()
    }
}

fn parse_kind(ctx: &Ctx, text: &str) -> Result<Kind, String> {
    let (cmd, flag_words, args) = split_command(text, ctx.escape);
    let p = Parts {
        ctx,
        cmd,
        name: cmd.to_uppercase(),
        flag_words,
        args,
        text,
    };
    match cmd.to_lowercase().as_str() {
        "from" => from(&p),
        "run" => run(&p),
        "cmd" => Ok(Kind::Cmd(command(&p)?)),
        "entrypoint" => Ok(Kind::Entrypoint(command(&p)?)),
        "copy" | "add" => copy(&p),
        "env" => Ok(Kind::Env(name_values(&p)?)),
        "label" => Ok(Kind::Label(name_values(&p)?)),
        "arg" => arg(&p),
        "workdir" => Ok(Kind::Workdir(exactly_one(&p)?)),
        "user" => Ok(Kind::User(exactly_one(&p)?)),
        "stopsignal" => Ok(Kind::StopSignal(exactly_one(&p)?)),
        "maintainer" => Ok(Kind::Maintainer(exactly_one(&p)?)),
        "expose" => expose(&p),
        "volume" => volume(&p),
        "shell" => shell(&p),
        "healthcheck" => healthcheck(&p),
        "onbuild" => onbuild(&p),
        _ => Err(suggest(
            format!("unknown instruction: {cmd}"),
            cmd,
            INSTRUCTIONS,
            false,
        )),
    }
}

/// Exec form if `args` is a JSON array of strings, else shell form.
fn exec_or_shell(args: &str) -> Result<Command, String> {
    Ok(match json_array(args)? {
        Some(list) => Command::Exec(list),
        None => Command::Shell(args.to_string()),
    })
}

/// CMD and ENTRYPOINT (empty is allowed, as buildkit).
fn command(p: &Parts) -> Result<Command, String> {
    let command = exec_or_shell(p.args)?;
    p.no_flags()?;
    Ok(command)
}

fn from(p: &Parts) -> Result<Kind, String> {
    let words = split_blanks(p.args);
    let alias = match words.as_slice() {
        [_, kw, name] if kw.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !valid_stage_name(&lower) {
                return Err(format!(
                    "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                ));
            }
            Some(lower)
        }
        [_] => None,
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    Ok(Kind::From {
        image: words[0].clone(),
        alias,
        platform: p.flags(&[("platform", Str)])?.string("platform"),
    })
}

/// `^[a-z][a-z0-9-_.]*$`
fn valid_stage_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// RUN's network and security values are checked here, as buildkit does;
/// `--mount` values are the builder's (they may use build arguments).
fn run(p: &Parts) -> Result<Kind, String> {
    let command = exec_or_shell(p.args)?;
    let f = p.flags(&[("mount", Strings), ("network", Str), ("security", Str)])?;
    let network = f.string("network");
    if let Some(n) = network.as_deref()
        && !matches!(n, "default" | "none" | "host")
    {
        return Err(format!("invalid network mode {n:?}"));
    }
    let security = f.string("security");
    if let Some(s) = security.as_deref()
        && !matches!(s, "insecure" | "sandbox")
    {
        return Err(format!("security {s:?} is not valid"));
    }
    let flags = RunFlags {
        mounts: f.strings("mount"),
        network,
        security,
    };
    Ok(Kind::Run {
        flags,
        command,
        heredocs: p.heredocs(),
    })
}

const COPY_FLAGS: &[(&str, FlagKind)] = &[
    ("chown", Str),
    ("from", Str),
    ("chmod", Str),
    ("link", Bool),
    ("exclude", Strings),
    ("parents", Bool),
];

const ADD_FLAGS: &[(&str, FlagKind)] = &[
    ("chown", Str),
    ("chmod", Str),
    ("link", Bool),
    ("keep-git-dir", Bool),
    ("checksum", Str),
    ("unpack", Bool),
    ("exclude", Strings),
];

/// COPY and ADD: sources then the destination, as a JSON array or words.
fn copy(p: &Parts) -> Result<Kind, String> {
    let list = json_array(p.args)?.unwrap_or_else(|| split_blanks(p.args));
    let name = &p.name;
    let Some((dest, sources)) = list.split_last().filter(|(_, s)| !s.is_empty()) else {
        return Err(format!(
            "{name} requires at least two arguments, but only one was provided. Destination could not be determined"
        ));
    };
    let is_copy = name == "COPY";
    let f = p.flags(if is_copy { COPY_FLAGS } else { ADD_FLAGS })?;
    if matches!(heredoc::parse(dest), Ok(Some(_))) {
        return Err(format!("{name} cannot accept a heredoc as a destination"));
    }
    let args = CopyArgs {
        sources: sources.to_vec(),
        dest: dest.clone(),
        from: f.string("from"),
        chown: f.string("chown"),
        chmod: f.string("chmod"),
        link: f.bool("link") == Some(true),
        parents: f.bool("parents") == Some(true),
        excludes: f.strings("exclude"),
        checksum: f.string("checksum"),
        keep_git_dir: f.bool("keep-git-dir") == Some(true),
        unpack: f.bool("unpack"),
        heredocs: p.heredocs(),
    };
    Ok(if is_copy {
        Kind::Copy(args)
    } else {
        Kind::Add(args)
    })
}

/// ENV and LABEL: `k=v ...` (quotes kept in the values), or the legacy
/// `k v` whose value is the rest of the line.
fn name_values(p: &Parts) -> Result<Vec<(String, String)>, String> {
    let (args, name) = (p.args, &p.name);
    let words = quoted_words(args, p.ctx.escape);
    let pairs = match words.first() {
        None => Vec::new(),
        Some(first) if !first.contains('=') => {
            let Some(i) = args.find(is_blank) else {
                return Err(format!("{name} must have two arguments"));
            };
            let value = args[i..].trim_start_matches(is_blank);
            vec![(args[..i].to_string(), value.to_string())]
        }
        Some(_) => words
            .iter()
            .map(|w| match w.split_once('=') {
                Some((k, v)) => Ok((k.to_string(), v.to_string())),
                None => Err(format!(
                    "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
                )),
            })
            .collect::<Result<_, _>>()?,
    };
    p.no_flags()?;
    if pairs.is_empty() {
        return Err(format!("{name} requires at least one argument"));
    }
    if pairs.iter().any(|(k, _)| k.is_empty()) {
        return Err(format!("{name} names can not be blank"));
    }
    Ok(pairs)
}

/// ARG: names, each with an optional `=default` (kept as written).
fn arg(p: &Parts) -> Result<Kind, String> {
    let words = quoted_words(p.args, p.ctx.escape);
    if words.is_empty() {
        return Err("ARG requires at least one argument".into());
    }
    p.no_flags()?;
    let mut pairs = Vec::new();
    for w in words {
        pairs.push(match w.split_once('=') {
            Some(("", _)) => return Err("ARG names can not be blank".into()),
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w, None),
        });
    }
    Ok(Kind::Arg(pairs))
}

/// WORKDIR, USER, STOPSIGNAL, MAINTAINER: the rest of the line.
fn exactly_one(p: &Parts) -> Result<String, String> {
    if p.args.is_empty() {
        return Err(format!("{} requires exactly one argument", p.name));
    }
    p.no_flags()?;
    Ok(p.args.to_string())
}

fn expose(p: &Parts) -> Result<Kind, String> {
    let ports = split_blanks(p.args);
    if ports.is_empty() {
        return Err("EXPOSE requires at least one argument".into());
    }
    p.no_flags()?;
    Ok(Kind::Expose(ports))
}

fn volume(p: &Parts) -> Result<Kind, String> {
    let list = json_array(p.args)?.unwrap_or_else(|| split_blanks(p.args));
    if list.is_empty() {
        return Err("VOLUME requires at least one argument".into());
    }
    p.no_flags()?;
    let list: Vec<String> = list.iter().map(|v| v.trim().to_string()).collect();
    if list.iter().any(String::is_empty) {
        return Err("VOLUME specified can not be an empty string".into());
    }
    Ok(Kind::Volume(list))
}

fn shell(p: &Parts) -> Result<Kind, String> {
    let json = json_array(p.args)?;
    p.no_flags()?;
    match json {
        Some(list) if !list.is_empty() => Ok(Kind::Shell(list)),
        None if !p.args.is_empty() => Err("SHELL requires the arguments to be in JSON form".into()),
        _ => Err("SHELL requires at least one argument".into()),
    }
}

/// The trigger is parsed now; docker stores it as the text after ONBUILD,
/// with any heredoc bodies appended.
fn onbuild(p: &Parts) -> Result<Kind, String> {
    if p.args.is_empty() {
        return Err("ONBUILD requires at least one argument".into());
    }
    p.no_flags()?;
    let trigger = split_command(p.args, p.ctx.escape).0.to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
        "MAINTAINER" | "FROM" => {
            return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"));
        }
        _ => {}
    }
    let mut original = strip_keyword(p.text, p.cmd).to_string();
    for d in p.ctx.docs {
        original.push('\n');
        original.push_str(&d.raw);
        original.push_str(&d.heredoc.name);
    }
    Ok(Kind::Onbuild(Box::new(Instruction {
        line: p.ctx.line,
        end_line: p.ctx.end_line,
        original,
        kind: parse_kind(p.ctx, p.args)?,
    })))
}

const HEALTH_FLAGS: &[(&str, FlagKind)] = &[
    ("interval", Str),
    ("timeout", Str),
    ("start-period", Str),
    ("start-interval", Str),
    ("retries", Str),
];

/// `NONE`, or options then `CMD <command>`; durations and retries are
/// checked here as buildkit does, and kept as written.
fn healthcheck(p: &Parts) -> Result<Kind, String> {
    let args = p.args;
    let sep = args.find(char::is_whitespace).unwrap_or(args.len());
    let (typ, rest) = (&args[..sep], args[sep..].trim_start());
    if typ.is_empty() {
        return Err("HEALTHCHECK requires at least one argument".into());
    }
    let command = exec_or_shell(rest)?;
    let f = p.flags(HEALTH_FLAGS)?;
    let no_command = match &command {
        Command::Exec(list) => list.is_empty(),
        Command::Shell(s) => s.is_empty(),
    };
    let typ = typ.to_uppercase();
    if typ == "NONE" {
        if !no_command {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        return Ok(Kind::Healthcheck(None));
    }
    if typ != "CMD" {
        return Err(format!("Unknown type {typ:?} in HEALTHCHECK (try CMD)"));
    }
    if no_command {
        return Err("Missing command after HEALTHCHECK CMD".into());
    }
    for name in ["interval", "timeout", "start-period", "start-interval"] {
        let Some(v) = f.string(name).filter(|v| !v.is_empty()) else {
            continue;
        };
        let d = berth_units::parse_go_duration(&v)?;
        if d != 0 && d < 1_000_000 {
            return Err(format!("Interval {name:?} cannot be less than 1ms"));
        }
    }
    if let Some(v) = f.string("retries").filter(|v| !v.is_empty()) {
        let n: i32 = v.parse().map_err(|e: std::num::ParseIntError| {
            let why = match e.kind() {
                IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
                _ => "invalid syntax",
            };
            format!("strconv.ParseInt: parsing {v:?}: {why}")
        })?;
        if n < 0 {
            return Err(format!("--retries cannot be negative ({n})"));
        }
    }
    let flags = HealthFlags {
        interval: f.string("interval"),
        timeout: f.string("timeout"),
        start_period: f.string("start-period"),
        start_interval: f.string("start-interval"),
        retries: f.string("retries"),
    };
    Ok(Kind::Healthcheck(Some((flags, command))))
}

/// `text` without its leading keyword and the blanks after it.
fn strip_keyword<'a>(text: &'a str, keyword: &str) -> &'a str {
    let t = text.trim_start();
    match t.get(..keyword.len()) {
        Some(k) if k.eq_ignore_ascii_case(keyword) => t[keyword.len()..].trim_start(),
        _ => t,
    }
}
