//! What the builder asks of the engine: images by name, containers that
//! run a step, writable roots that take copied files, new images, and the
//! cache's memory. The engine implements it; the builder decides what to
//! ask for and in which order.

use std::future::Future;
use std::path::Path;

use serde_json::Value;

use crate::output::Output;

/// An image as the builder sees it: its id and its whole config (the OCI
/// image config: `config`, `rootfs`, `history`, ...).
#[derive(Debug, Clone)]
pub struct Image {
    pub id: String,
    pub config: Value,
}

/// A RUN step's container.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// The whole command line (the SHELL and the command, or exec form).
    pub cmd: Vec<String>,
    /// The image's environment, then the build args in scope.
    pub env: Vec<String>,
    pub user: String,
    pub workdir: String,
    /// `--network` of RUN, else the build's; empty: the engine's default.
    pub network: String,
    pub mounts: Vec<RunMount>,
}

/// A `RUN --mount`, resolved to what the engine mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMount {
    /// A host directory (a cache directory, the context, another stage's
    /// files) bound at `target`.
    Bind {
        source: std::path::PathBuf,
        target: String,
        read_only: bool,
    },
    Tmpfs {
        target: String,
    },
}

/// Why a step failed: a command that exited non-zero, or anything else.
#[derive(Debug, thiserror::Error)]
pub enum StepFailure {
    #[error("returned a non-zero code: {code}")]
    Exit { code: i64 },
    #[error("{0}")]
    Other(String),
}

/// What COPY and ADD write into a writable root (its path given).
pub type Fill<'a> = &'a mut (dyn FnMut(&Path) -> Result<(), StepFailure> + Send);

/// The engine's side of a build.
pub trait Backend: Send + Sync {
    /// A read-only view of an image's files, released on drop.
    type View: AsRef<Path> + Send;

    /// FROM: the image `name`, pulled when missing, or always with `pull`,
    /// the pull's progress in `out`.
    fn image(
        &self,
        name: &str,
        pull: bool,
        out: &Output,
    ) -> impl Future<Output = Result<Image, StepFailure>> + Send;

    /// An image here by name, never pulled (`--cache-from`).
    fn local_image(&self, name: &str) -> Option<Image>;

    /// A step of `source` (a `--cache-from` image) taken over: an image on
    /// `parent` with `source`'s layer number `layer` when the step made
    /// one, `config`, and `history`, the step's entry in `source`.
    fn reuse(
        &self,
        parent: Option<&Image>,
        source: &Image,
        layer: Option<usize>,
        config: Value,
        history: Value,
    ) -> Result<Image, StepFailure>;

    /// A cache hit: the image a step with `key` made, if it is still here.
    fn cached(&self, key: &str) -> Option<Image>;

    /// Remembers that the step with `key` made image `id`.
    fn remember(&self, key: &str, id: &str) -> Result<(), StepFailure>;

    /// Runs `spec` in a container of `parent`; its output goes to `out` as
    /// it comes. When it exits 0, its changes become a new image with
    /// `config` and the history entry `history`; the container is gone
    /// either way.
    fn run(
        &self,
        parent: &Image,
        spec: RunSpec,
        config: Value,
        history: Value,
        out: &Output,
    ) -> impl Future<Output = Result<Image, StepFailure>> + Send;

    /// A new image on `parent` (None: on nothing) with `config`. With
    /// `fill`, a layer is made of what `fill` writes into a writable root
    /// on `parent` (given its path); without, the image has no new layer.
    fn commit(
        &self,
        parent: Option<&Image>,
        fill: Option<Fill<'_>>,
        config: Value,
        history: Value,
    ) -> Result<Image, StepFailure>;

    /// The files of image `id`, for `COPY --from` and `RUN --mount=from=`.
    fn view(&self, image: &Image) -> Result<Self::View, StepFailure>;

    /// A persistent directory for `RUN --mount=type=cache`, by its id.
    fn cache_dir(&self, id: &str) -> Result<std::path::PathBuf, StepFailure>;

    /// Tags `id` with each of `tags`; returns them as Docker prints them
    /// (`web:latest`).
    fn tag(&self, id: &str, tags: &[String]) -> Result<Vec<String>, StepFailure>;
}
