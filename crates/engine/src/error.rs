//! Engine errors, each of a kind the API maps to moby's status codes.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// 404: no such container, image, exec instance.
    NotFound(String),
    /// 409: a name in use, a container running when it must not be.
    Conflict(String),
    /// 403: refused by the object's own rules (a network in use, a
    /// pre-defined network, an address pool that overlaps).
    Forbidden(String),
    /// 400: a request that cannot be honoured as asked.
    Invalid(String),
    /// 401: a registry refused the credentials.
    Unauthorized(String),
    /// 304: start of a running container, stop of a stopped one.
    NotModified,
    /// 500: anything else; the message names the object and the cause.
    Internal(String),
    /// A build step that failed (a RUN's exit `code`): reported in the
    /// build's stream, where docker takes the code as its exit status.
    Build { message: String, code: i64 },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn status(&self) -> u16 {
        match self {
            Error::NotFound(_) => 404,
            Error::Conflict(_) => 409,
            Error::Invalid(_) => 400,
            Error::Forbidden(_) => 403,
            Error::Unauthorized(_) => 401,
            Error::NotModified => 304,
            Error::Internal(_) | Error::Build { .. } => 500,
        }
    }

    pub fn no_such_container(name: &str) -> Error {
        Error::NotFound(format!("No such container: {name}"))
    }

    pub fn io(what: impl fmt::Display, e: std::io::Error) -> Error {
        Error::Internal(format!("{what}: {e}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(m)
            | Error::Conflict(m)
            | Error::Invalid(m)
            | Error::Forbidden(m)
            | Error::Unauthorized(m)
            | Error::Internal(m)
            | Error::Build { message: m, .. } => f.write_str(m),
            Error::NotModified => f.write_str("not modified"),
        }
    }
}

impl std::error::Error for Error {}

impl From<berth_store::Error> for Error {
    fn from(e: berth_store::Error) -> Error {
        Error::Internal(e.to_string())
    }
}
