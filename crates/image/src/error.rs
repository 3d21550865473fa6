//! Errors of the image subsystem: each names the object (blob, reference, layer
//! entry, archive member) and the cause.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid digest {digest:?}: {reason}")]
    InvalidDigest { digest: String, reason: String },
    #[error("invalid reference format {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },
    #[error("blob {0} not found in the content store")]
    BlobNotFound(crate::Digest),
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("layer entry {entry:?}: {reason}")]
    LayerEntry { entry: String, reason: String },
    #[error("No such image: {0}")]
    ImageNotFound(String),
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(context: impl std::fmt::Display, source: impl Into<io::Error>) -> Error {
        Error::Io {
            context: context.to_string(),
            source: source.into(),
        }
    }

    pub fn invalid(what: impl std::fmt::Display, reason: impl std::fmt::Display) -> Error {
        Error::Invalid {
            what: what.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Adds what was being done, and to what, to an I/O error.
pub trait Context<T> {
    fn ctx<C: std::fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<io::Error>> Context<T> for std::result::Result<T, E> {
    fn ctx<C: std::fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::io(context(), e))
    }
}
