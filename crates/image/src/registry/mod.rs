//! Registries: pull and push over the OCI distribution API, and the
//! credentials `login` keeps.

pub mod client;
pub mod progress;
pub mod pull;
pub mod push;

pub use client::Client;

/// A user name and password for a registry, as a client sent them
/// (X-Registry-Auth); where they are kept is the client's business.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// What pulls and pushes need besides the image.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Registries spoken to over plain HTTP though not on loopback.
    pub insecure: Vec<String>,
    /// Credentials to use instead of the stored ones.
    pub credentials: Option<Credentials>,
}

/// A client for `registry`, with the credentials the request carried.
pub fn client(registry: &str, opts: &Options) -> crate::Result<Client> {
    Ok(Client::new(
        registry_host(registry),
        &opts.insecure,
        opts.credentials.clone(),
    ))
}

/// Docker Hub's API host.
pub fn registry_host(registry: &str) -> &str {
    if registry == "docker.io" {
        "registry-1.docker.io"
    } else {
        registry
    }
}
