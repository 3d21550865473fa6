//! `commit`: a container's changes (its overlay upper directory) become a
//! new layer on top of its image, with the container's config as the new
//! image's config and a history entry, as `docker commit` makes them.

use std::path::Path;

use serde_json::{Value, json};

use crate::diff;
use crate::error::Result;
use crate::images::{ImageRecord, ImageStore};
use crate::manifest::{self, Descriptor};
use crate::reference::ImageRef;
use crate::store::Expected;

#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The container's config (moby's ContainerConfig shape), which becomes
    /// the image's `config`; `--change` instructions apply on top.
    pub config: Value,
    pub changes: Vec<String>,
    pub comment: String,
    pub author: String,
    /// What history shows as `created_by` (the container's command).
    pub created_by: String,
    pub container_id: String,
    pub tag: Option<ImageRef>,
}

pub fn commit(
    store: &ImageStore,
    parent: &ImageRecord,
    upper: &Path,
    opts: &CommitOptions,
) -> Result<ImageRecord> {
    // The layer is kept uncompressed: its digest is then its diff_id.
    let mut w = store.content.writer(Expected {
        what: "committed layer".into(),
        ..Default::default()
    })?;
    diff::write_layer(upper, &mut w)?;
    let (layer_digest, layer_size) = w.commit()?;

    let parent_manifest = store.manifest(parent)?;
    let mut config = store.config(parent)?;
    let mut section = opts.config.clone();
    for c in &opts.changes {
        crate::import::apply_change(&mut section, c)?;
    }
    let now = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
    config["config"] = section;
    config["created"] = json!(now);
    config["container"] = json!(opts.container_id);
    if !opts.author.is_empty() {
        config["author"] = json!(opts.author);
    }
    match config["rootfs"]["diff_ids"].as_array_mut() {
        Some(ids) => ids.push(json!(layer_digest.to_string())),
        None => {
            config["rootfs"] = json!({"type": "layers", "diff_ids": [layer_digest.to_string()]})
        }
    }
    let mut entry = json!({"created": now, "created_by": opts.created_by});
    if !opts.comment.is_empty() {
        entry["comment"] = json!(opts.comment);
    }
    if !opts.author.is_empty() {
        entry["author"] = json!(opts.author);
    }
    match config["history"].as_array_mut() {
        Some(h) => h.push(entry),
        None => config["history"] = json!([entry]),
    }
    let mut layers = parent_manifest.layers.clone();
    layers.push(Descriptor::new(
        manifest::OCI_LAYER,
        layer_digest,
        layer_size,
    ));
    let tags: Vec<ImageRef> = opts.tag.iter().cloned().collect();
    store.add_oci(&config, layers, &tags)
}
