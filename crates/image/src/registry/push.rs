//! `push`: blobs the registry lacks are mounted from another repository of
//! the same registry when the image came from one, else uploaded; then the
//! manifest is put under the tag.

use super::progress::{Counting, Event, Sink};
use super::{Options, client};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::images::ImageStore;
use crate::reference::ImageRef;

pub fn push(
    store: &ImageStore,
    reference: &ImageRef,
    opts: &Options,
    progress: Sink<'_>,
) -> Result<Digest> {
    let rec = store.resolve(&reference.to_string())?;
    let m = store.manifest(&rec)?;
    let c = client(reference.registry(), opts)?;
    let repo = reference.repository();
    progress(Event::line(format!(
        "The push refers to repository [{}]",
        reference.familiar_name()
    )));
    // Repositories of the same registry that already hold this image's blobs.
    let sources: Vec<String> = rec
        .repo_digests
        .iter()
        .filter_map(|rd| rd.split_once('@').map(|(n, _)| n.to_string()))
        .filter_map(|n| ImageRef::parse(&n).ok())
        .filter(|r| r.registry() == reference.registry() && r.repository() != repo)
        .map(|r| r.repository().to_string())
        .collect();
    let blobs: Vec<(&Digest, u64)> = m
        .layers
        .iter()
        .map(|l| (&l.digest, l.size))
        .chain(std::iter::once((&m.config.digest, m.config.size)))
        .collect();
    // Progress is about layers, as docker shows it; the config goes quietly.
    let is_layer = |d: &Digest| *d != m.config.digest;
    for (digest, _) in blobs.iter().filter(|(d, _)| is_layer(d)) {
        progress(Event::about(digest.short(), "Preparing"));
    }
    let quiet = |_: Event| {};
    for (digest, size) in blobs {
        let progress: Sink<'_> = if is_layer(digest) { progress } else { &quiet };
        if c.has_blob(repo, digest)? {
            progress(Event::about(digest.short(), "Layer already exists"));
            continue;
        }
        let mut mounted = false;
        for from in &sources {
            if c.mount_blob(repo, digest, from)? {
                progress(Event::about(digest.short(), format!("Mounted from {from}")));
                mounted = true;
                break;
            }
        }
        if !mounted {
            let f = store.content.open_blob(digest)?;
            let mut f = Counting::new(f, progress, digest.short(), "Pushing", size);
            c.upload_blob(repo, digest, size, &mut f)?;
            progress(Event::about(digest.short(), "Pushed"));
        }
    }
    let bytes = store.content.read(&rec.manifest)?;
    let media_type = m
        .media_type
        .clone()
        .unwrap_or_else(|| crate::manifest::OCI_MANIFEST.to_string());
    let tag = reference
        .tag()
        .ok_or_else(|| Error::invalid(format!("{reference}"), "push needs a tag"))?;
    let digest = c.put_manifest(repo, tag, &media_type, &bytes)?;
    store.add_repo_digest(&rec.id, format!("{}@{digest}", reference.familiar_name()))?;
    progress(Event::line(format!(
        "{tag}: digest: {digest} size: {}",
        bytes.len()
    )));
    Ok(digest)
}
