//! `commit`: a container's changes (its overlay upper directory) become a
//! new layer on top of its image, with the container's config as the new
//! image's config and a history entry, as `docker commit` makes them.

use std::path::Path;

use serde_json::{Value, json};

use crate::diff;
use crate::digest::Digest;
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
    let mut config = store.config(parent)?;
    let mut section = opts.config.clone();
    for c in &opts.changes {
        crate::import::apply_change(&mut section, c)?;
    }
    config["config"] = section;
    config["container"] = json!(opts.container_id);
    if !opts.author.is_empty() {
        config["author"] = json!(opts.author);
    }
    let mut entry = json!({"created_by": opts.created_by});
    if !opts.comment.is_empty() {
        entry["comment"] = json!(opts.comment);
    }
    if !opts.author.is_empty() {
        entry["author"] = json!(opts.author);
    }
    let tags: Vec<ImageRef> = opts.tag.iter().cloned().collect();
    add_layer(
        store,
        Some(parent),
        config,
        NewLayer::Dir(upper),
        entry,
        &tags,
    )
}

/// What a new image adds to its parent's layers.
#[derive(Debug, Clone)]
pub enum NewLayer<'a> {
    /// Nothing: a step that changed only the config.
    None,
    /// A directory of new files (an overlay upper directory, or any
    /// directory), written out as one more layer.
    Dir(&'a Path),
    /// A layer already in the content store (another image's), with its
    /// diff_id: a build step reused from `--cache-from`.
    Existing(Box<Descriptor>, Digest),
}

/// A new image on `parent` (None: on nothing, `FROM scratch`) with `layer`
/// on top, and `config`, the whole image config, its `created`, `rootfs`
/// and `history` brought up to date here. `history` is the new history
/// entry (`created_by`, `comment`, ...); a step without a layer is marked
/// `empty_layer` as Docker marks it.
pub fn add_layer(
    store: &ImageStore,
    parent: Option<&ImageRecord>,
    mut config: Value,
    layer: NewLayer<'_>,
    mut history: Value,
    tags: &[ImageRef],
) -> Result<ImageRecord> {
    let mut layers = match parent {
        Some(p) => store.manifest(p)?.layers,
        None => Vec::new(),
    };
    let now = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
    config["created"] = json!(now);
    if history["created"].is_null() {
        history["created"] = json!(now);
    }
    if config["rootfs"]["diff_ids"].as_array().is_none() {
        config["rootfs"] = json!({"type": "layers", "diff_ids": []});
    }
    let mut push = |config: &mut Value, desc: Descriptor, diff_id: &Digest| {
        config["rootfs"]["diff_ids"]
            .as_array_mut()
            .expect("diff_ids made an array above")
            .push(json!(diff_id.to_string()));
        layers.push(desc);
    };
    match layer {
        NewLayer::Dir(upper) => {
            // The layer is kept uncompressed: its digest is then its diff_id.
            let mut w = store.content.writer(Expected {
                what: "a new layer".into(),
                ..Default::default()
            })?;
            diff::write_layer(upper, &mut w)?;
            let (digest, size) = w.commit()?;
            push(
                &mut config,
                Descriptor::new(manifest::OCI_LAYER, digest.clone(), size),
                &digest,
            );
        }
        NewLayer::Existing(desc, diff_id) => push(&mut config, *desc, &diff_id),
        NewLayer::None => history["empty_layer"] = json!(true),
    }
    match config["history"].as_array_mut() {
        Some(h) => h.push(history),
        None => config["history"] = json!([history]),
    }
    let rec = store.add_oci(&config, layers, tags)?;
    store.set_parent(&rec.id, parent.map(|p| &p.id))
}
