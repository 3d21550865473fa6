#![forbid(unsafe_code)]
//! The Docker Engine API over a unix socket (HTTP/1.1, hyper): what exists of
//! the engine today, the images, answered in moby's swagger shapes, on the
//! bare paths and the versioned ones (`/v1.45/...`).
//!
//! Start at [`route`]: one match over method and path. The image store's
//! calls block on disk, so they run on tokio's blocking pool. [`serve`]
//! (server.rs) accepts the connections, bounded and timed as dockerd's.

mod archive;
mod build;
mod commit;
mod containers;
mod events;
mod exec;
mod filters;
mod hijack;
mod images;
mod logs;
mod networks;
mod routes;
mod server;
mod stats;
mod stream;
mod system;
mod volumes;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Response;

pub use routes::route;
pub use server::{HEADER_TIMEOUT, Limits, serve};

/// The API version berth reports, and the oldest it answers.
pub const API_VERSION: &str = "1.45";
pub const MIN_API_VERSION: &str = "1.24";

/// What the handlers share.
pub struct State {
    pub engine: Arc<berth_engine::Engine>,
}

/// Every response body: whole (JSON) or streamed (archives).
pub type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A body held whole in memory.
pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into()).boxed()
}

/// `{"message": ...}` with a status, as moby answers errors.
pub fn error(status: u16, message: impl std::fmt::Display) -> Response<Body> {
    json(status, &serde_json::json!({"message": message.to_string()}))
}

pub fn json(status: u16, v: &serde_json::Value) -> Response<Body> {
    typed(status, v)
}

/// A response with no body (204 No Content and friends).
pub fn empty(status: u16) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Api-Version", API_VERSION)
        .body(full(Bytes::new()))
        .expect("a valid response")
}

/// A response of one of berth-models' wire types (or any serializable
/// value), as JSON.
pub fn typed(status: u16, v: &impl serde::Serialize) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .header("Api-Version", API_VERSION)
        .body(full(Bytes::from(
            serde_json::to_vec(v).expect("json serializes"),
        )))
        .expect("a valid response")
}
