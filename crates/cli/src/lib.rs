#![forbid(unsafe_code)]
//! The `berth` command line's verbs: every one an Engine API call through
//! berth-client, so the same verbs drive berth's daemon and a real dockerd.

pub mod build_cli;
pub mod container_cli;
pub mod image_cli;
pub mod network_cli;
pub mod volume_cli;
