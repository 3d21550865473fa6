#![forbid(unsafe_code)]
//! berth's OCI runtime: turns a runtime-spec bundle (config.json and a root
//! filesystem) into a process in real isolation.
//!
//! Start reading at [`container::Runtime`]: each lifecycle operation is a method
//! there. The container's own first process runs [`init`]; what it applies comes
//! from [`rootfs`], [`process`], [`attrs`], [`seccomp`] and [`cgroups`]. Raw system calls
//! live in berth-sys; resolving paths inside the rootfs is berth-safefs's job.

pub mod attrs;
pub mod cgroups;
pub mod cloned_exe;
pub mod console;
pub mod container;
pub mod error;
pub mod hooks;
pub mod init;
pub mod process;
pub mod rootfs;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod state;
pub mod sync;
pub mod sysctl;

pub use container::{ConsoleMode, CreateOptions, ExecOptions, Runtime, Spawned};
pub use error::{Error, Result};
pub use state::{StateOutput, Status};
