//! Dockerfile builds. The parser ([`dockerfile`]) turns a Dockerfile into
//! instructions; the builder walks the stages a target needs, reuses
//! cached steps and asks its [`Backend`] (the engine) to run what changed.
#![forbid(unsafe_code)]

pub mod dockerfile;
