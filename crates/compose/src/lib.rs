//! Compose: a project read from compose files into one resolved model
//! ([`model`]), then brought to life, and kept there, over the Engine API.
#![forbid(unsafe_code)]

pub mod model;
