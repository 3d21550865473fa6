//! What loading a project can fail with. Each names the file, and the key
//! (`services.web.ports[0]`, which names the service too) where there is
//! one; the texts follow compose v2's where it has one.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No compose file found by discovery (nor named by `-f` or
    /// `COMPOSE_FILE`).
    #[error("no configuration file provided: not found")]
    NotFound,
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not YAML (or a YAML that compose-go refuses: a duplicate key, a
    /// non-string key).
    #[error("failed to parse {}: line {line} column {column}: {message}", file.display())]
    Yaml {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// `${...}`: an invalid template or a required variable unset.
    #[error("{}: {message}", file.display())]
    Interpolation {
        file: PathBuf,
        /// Where the string was (`services.web.image`).
        path: String,
        message: String,
    },
    /// A key compose does not know, a value of the wrong type or form.
    #[error("validating {}: {path} {message}", file.display())]
    Invalid {
        file: PathBuf,
        /// The mapping or value at fault (`services.web`).
        path: String,
        message: String,
    },
    /// A key compose knows and berth does not implement.
    #[error("{}: {path}: berth does not support `{key}` yet", file.display())]
    Unsupported {
        file: PathBuf,
        path: String,
        key: String,
    },
    /// About a file as a whole (extends, include, env files).
    #[error("{}: {message}", file.display())]
    File { file: PathBuf, message: String },
    /// About the project as a whole (a service referring to what is not
    /// there, a dependency cycle, the project name).
    #[error("{0}")]
    Project(String),
}

impl LoadError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LoadError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        LoadError::File {
            file: file.into(),
            message: message.into(),
        }
    }
}
