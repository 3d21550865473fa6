//! Registries: pull and push over the OCI distribution API, and the
//! credentials `login` keeps.

pub mod client;
pub mod credentials;
mod progress;
pub mod pull;
pub mod push;

pub use client::Client;
pub use credentials::Credentials;

/// What pulls and pushes need besides the image.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Registries spoken to over plain HTTP though not on loopback.
    pub insecure: Vec<String>,
    /// Credentials to use instead of the stored ones.
    pub credentials: Option<Credentials>,
    /// Show progress bars (when the output is a terminal).
    pub progress: bool,
}

/// A client for `registry`, with `opts`' or the stored credentials.
pub fn client(registry: &str, opts: &Options) -> crate::Result<Client> {
    let creds = match &opts.credentials {
        Some(c) => Some(c.clone()),
        None => credentials::lookup(registry)?,
    };
    Ok(Client::new(registry_host(registry), &opts.insecure, creds))
}

/// Docker Hub's API host.
pub fn registry_host(registry: &str) -> &str {
    if registry == "docker.io" {
        "registry-1.docker.io"
    } else {
        registry
    }
}
