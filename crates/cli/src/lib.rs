//! The `berth` command line. Today: the OCI runtime CLI (`berth-runtime`, or
//! `berth runtime ...`); the engine's verbs come with the daemon.

pub mod runtime_cli;
