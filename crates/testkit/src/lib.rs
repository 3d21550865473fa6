#![forbid(unsafe_code)]
//! Test harness shared by berth's integration tests.
//!
//! * [`require_root`] / [`require_tool`]: skip a test when the machine can't run
//!   it — but never silently in CI (`CI=true` or `CI=1` turns a skip into a panic).
//! * [`busybox_rootfs`]: a minimal root filesystem built from Debian's
//!   `busybox-static`.
//! * [`Bundle`]: an OCI bundle in a temporary directory, with a `runc spec`-like
//!   default `config.json` held as a [`serde_json::Value`] that tests can edit.
//! * [`Runtime`]: hermetic runners for `berth-runtime`, `runc` and `crun`, each
//!   with its own `--root` state directory and cleanup on drop.
//! * [`unique_id`]: container ids that never collide within or across processes.
//! * [`TestBridge`]: a private Linux bridge with a unique name and /24 for a
//!   test's daemon (a private dockerd must never run with `--bridge=none`),
//!   removed on drop.
//!
//! ```no_run
//! use berth_testkit::{Bundle, OutputExt, Runtime, require_root, unique_id};
//!
//! if !require_root() {
//!     return;
//! }
//! let Some(runc) = Runtime::runc() else { return };
//! let mut bundle = Bundle::new();
//! bundle.args(&["echo", "hello"]);
//! let out = runc.run(&bundle, &unique_id("hello"));
//! out.assert_success();
//! assert_eq!(out.stdout_str(), "hello\n");
//! ```

mod bridge;
mod bundle;
mod console;
mod env;
mod id;
mod output;
mod procs;
mod rootfs;
mod runtime;
mod spec;

pub use bridge::{TestBridge, link_exists};
pub use bundle::Bundle;
pub use console::recv_fd;
pub use env::{find_tool, in_ci, require_python_sdk, require_root, require_tool};
pub use id::unique_id;
pub use output::OutputExt;
pub use procs::{kill_strays, stat_of};
pub use rootfs::{busybox_path, busybox_rootfs};
pub use runtime::{DEFAULT_TIMEOUT, Runtime, RuntimeKind, berth_runtime_path};
pub use spec::{DEFAULT_HOSTNAME, DEFAULT_PATH_ENV, default_spec};
