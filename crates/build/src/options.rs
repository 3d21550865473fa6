//! What a build is asked to do: the Engine API's `POST /build` parameters
//! that reach the builder.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `-t`, each as given (`web`, `web:1`, `registry:5000/web`).
    pub tags: Vec<String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--build-arg`: None is a name without a value (unset).
    pub build_args: BTreeMap<String, Option<String>>,
    /// `--label`, set on the final image.
    pub labels: BTreeMap<String, String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`: FROM images are pulled even when present.
    pub pull: bool,
    /// `--network` for RUN steps (`bridge` when empty).
    pub network: String,
    /// `--platform`: only the host's is built.
    pub platform: Option<String>,
    /// `--cache-from`: images whose steps a build may reuse, matched by
    /// their history (local images; not pulled).
    pub cache_from: Vec<String>,
}
