use crate::dockerfile::{Instruction, ParseError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Bad input: the Dockerfile's meaning, the context, the options.
    #[error("{0}")]
    Invalid(String),
    /// A step that did not go through: `The command '...' returned a
    /// non-zero code: 3` and the like.
    #[error("{0}")]
    Step(String),
    /// A RUN that exited non-zero: docker exits with its code.
    #[error("{message}")]
    Exit { message: String, code: i64 },
    /// The client went away.
    #[error("the build was cancelled")]
    Cancelled,
}

impl Error {
    /// An error in the instruction on `ins`'s line, as BuildKit words them.
    pub fn at(ins: &Instruction, msg: impl std::fmt::Display) -> Error {
        Error::Invalid(format!("Dockerfile:{}: {}: {msg}", ins.line, ins.original))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
