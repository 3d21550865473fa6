//! Dockerfile builds. The parser ([`dockerfile`]) turns a Dockerfile into
//! instructions; the [`Builder`] walks the stages a target needs, reuses
//! cached steps and asks its [`Backend`] (the engine) to run what changed.
#![forbid(unsafe_code)]

mod archive;
mod args;
mod backend;
mod builder;
mod cache_from;
mod config;
mod context;
mod copy;
pub mod dockerfile;
mod error;
mod fetch;
mod options;
mod output;
mod stages;
mod users;

pub use backend::{Backend, Fill, Image, RunMount, RunSpec, StepFailure};
pub use builder::{Builder, Built};
pub use context::{Context, ContextLimit};
pub use error::{Error, Result};
pub use options::BuildOptions;
pub use output::{Message, Output};
