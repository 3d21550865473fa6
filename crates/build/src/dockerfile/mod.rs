//! The Dockerfile syntax: directives, comments, line continuations,
//! heredocs, instructions and their flags ([`parse`]); and the word
//! expansion of Docker's shell lexer ([`expand`]), applied at build time
//! because it depends on the ARG and ENV in scope.
//!
//! Our own parser, following buildkit's Dockerfile frontend: the
//! `parse-dockerfile` crate keeps flags as unchecked name/value pairs, words
//! docker's errors differently, has no `Step` text and no word expansion.
//!
//! [`parse`] runs what buildkit runs before building: its parser (lines,
//! heredocs), its instruction checks (flags, argument counts, stage names),
//! and the two stage checks every build hits (an instruction before the
//! first FROM other than ARG; no FROM at all). What needs the build's
//! arguments (expansion, `--mount` fields, platforms) is the builder's.
//! Unlike buildkit, an ONBUILD trigger is parsed (and checked) right away,
//! and flags are checked on every instruction (buildkit ignores them on
//! ARG, STOPSIGNAL and HEALTHCHECK NONE).

mod ast;

mod error;
pub mod expand;
mod flags;
mod glob;
mod heredoc;
mod instructions;
mod lines;
mod words;

pub use ast::*;

pub use error::ParseError;
pub use expand::{ExpandError, expand_word, expand_words};

/// Parses instructions without asking for stages: an image's ONBUILD
/// triggers, which run inside the stage that uses the image.
pub fn parse_instructions(src: &str) -> Result<Vec<Instruction>, ParseError> {
    let mut lines = lines::Lines::new(src);
    let mut list = Vec::new();
    while let Some(logical) = lines.next_instruction()? {
        list.push(instructions::parse(&logical, &mut lines)?);
    }
    Ok(list)
}

/// Parses a Dockerfile.
pub fn parse(src: &str) -> Result<Dockerfile, ParseError> {
    let mut lines = lines::Lines::new(src);
    let mut list = Vec::new();
    while let Some(logical) = lines.next_instruction()? {
        list.push(instructions::parse(&logical, &mut lines)?);
    }
    let last_line = lines.line().max(1);
    if list.is_empty() {
        return Err(ParseError::new(last_line, "file with no instructions"));
    }
    // Only ARG may come before the first FROM.
    let first_from = list
        .iter()
        .position(|i| matches!(i.kind, Kind::From { .. }));
    let before = first_from.unwrap_or(list.len());
    if let Some(i) = list[..before]
        .iter()
        .find(|i| !matches!(i.kind, Kind::Arg(_)))
    {
        return Err(ParseError::new(i.line, "no build stage in current context"));
    }
    if first_from.is_none() {
        return Err(ParseError::new(
            last_line,
            "dockerfile contains no stages to build",
        ));
    }
    Ok(Dockerfile {
        escape: lines.escape,
        syntax: lines.syntax,
        instructions: list,
    })
}
