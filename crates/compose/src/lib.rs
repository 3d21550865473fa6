//! Compose: a project read from compose files into one resolved model
//! ([`model`]), then brought to life, and kept there, over the Engine API
//! (`up.rs`, `down.rs`, `ps.rs`; the container a service runs is
//! `spec.rs`'s; the labels that find a project again are `labels.rs`'s).
#![forbid(unsafe_code)]

pub mod attach;
pub mod build;
pub mod cli;
pub mod down;
mod engine;
mod files;
pub mod labels;
pub mod load;
pub mod model;
pub mod ps;
mod pull;
pub mod spec;
pub mod up;

pub use load::{LoadError, LoadOptions, load, to_yaml};
