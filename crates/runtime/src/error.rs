//! The runtime's error type: every error names the object it is about and the cause.

use std::fmt;
use std::io;

/// What went wrong, as the CLI reports it in one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container does not exist: {0}")]
    NotFound(String),
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error(
        "invalid container id {0:?}: use letters, digits, '_', '-' and '.' (not starting with '.')"
    )]
    InvalidId(String),
    #[error("invalid config: {0}")]
    Config(String),
    #[error("container {id:?} is {status}: cannot {action}")]
    State {
        id: String,
        status: crate::state::Status,
        action: &'static str,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(context: impl fmt::Display, source: impl Into<io::Error>) -> Self {
        Error::Io {
            context: context.to_string(),
            source: source.into(),
        }
    }

    /// The OS error behind this error, if there is one (callers map ENOENT or
    /// EACCES of an exec to the exit codes 127 and 126).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// Adds what was being done, and to what, to a system error.
pub trait Context<T> {
    fn ctx<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, io::Error> {
    fn ctx<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::io(context(), e))
    }
}

impl<T> Context<T> for std::result::Result<T, nix::Error> {
    fn ctx<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::io(context(), io::Error::from(e)))
    }
}

/// Shorthand for an error that is only a message.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::Other(format!($($arg)*)))
    };
}
pub(crate) use bail;

impl<T> Context<T> for std::result::Result<T, caps::errors::CapsError> {
    fn ctx<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::Other(format!("{}: {e}", context())))
    }
}
