//! Compose: a project read from compose files into one resolved model
//! ([`model`]), then brought to life, and kept there, over the Engine API
//! (`up.rs`, `down.rs`, `ps.rs`; the container a service runs is
//! `spec.rs`'s; the labels that find a project again are `labels.rs`'s).
#![forbid(unsafe_code)]

pub mod attach;
pub mod build;
pub mod down;
mod engine;
pub mod labels;
pub mod model;
pub mod ps;
mod pull;
pub mod spec;
pub mod up;
