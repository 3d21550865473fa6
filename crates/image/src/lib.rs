#![forbid(unsafe_code)]
//! berth's images: a content-addressed blob store, references, manifests,
//! layers applied into snapshots, archives (Docker's and OCI's), and the
//! image records that tie names to them.
//!
//! Start at [`store::ContentStore`] (blobs) and [`reference::ImageRef`] (names).

pub mod archive;
pub mod bundle;
pub mod commit;
pub mod diff;
pub mod digest;
pub mod error;
pub mod images;
pub mod import;
pub mod inspect;
pub mod layer;
pub mod manifest;
pub mod reference;
pub mod registry;
pub mod snapshot;
pub mod store;

pub use digest::Digest;
pub use error::{Error, Result};
pub use reference::ImageRef;
