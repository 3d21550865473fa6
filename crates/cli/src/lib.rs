//! The `berth` command line: the OCI runtime CLI (`berth-runtime`, or
//! `berth runtime ...`), the image verbs over a local store, and the container
//! and system verbs, which are Engine API calls to the daemon.

pub mod daemon;
pub mod image_cli;
pub mod runtime_cli;

// The container and system verbs, over the Engine API.
pub mod container_cli;
pub mod engine_client;
