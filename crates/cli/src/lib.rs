//! The `berth` command line: the OCI runtime CLI (`berth-runtime`, or
//! `berth runtime ...`) and the image verbs over a local store. The engine's
//! container verbs come with the daemon.

pub mod daemon;
pub mod image_cli;
pub mod runtime_cli;
