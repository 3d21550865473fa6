//! The Dockerfile syntax: directives, comments, line continuations,
//! heredocs, instructions and their flags ([`parse`]); and the word
//! expansion of Docker's shell lexer ([`expand`]), applied at build time
//! because it depends on the ARG and ENV in scope.

mod ast;
pub use ast::*;
