//! `pull`: manifest (through an index, by platform), config, then the layers,
//! several at a time, each streamed once: the download is written to the
//! content store (digest and size checked) while it is decompressed, digested
//! again (diff_id) and unpacked into its snapshot.

use std::io::{Read, Write};

use super::progress::{Counting, Event, Sink};
use super::{Options, client};
use crate::error::{Error, Result};
use crate::images::{ImageRecord, ImageStore, diff_ids};
use crate::manifest::{self, Parsed, Platform};
use crate::reference::ImageRef;
use crate::snapshot::{self, Unpacked};
use crate::store::Expected;

/// How many layers download at once (Docker's default is 3).
const PARALLEL: usize = 3;

pub fn pull(
    store: &ImageStore,
    reference: &ImageRef,
    platform: Option<&Platform>,
    opts: &Options,
    progress: Sink<'_>,
) -> Result<ImageRecord> {
    let c = client(reference.registry(), opts)?;
    let repo = reference.repository();
    let wanted = reference
        .digest()
        .map(|d| d.to_string())
        .or_else(|| reference.tag().map(str::to_string))
        .unwrap_or_else(|| "latest".into());
    progress(Event::about(
        reference.tag().unwrap_or(&wanted),
        format!("Pulling from {repo}"),
    ));
    let mut fetched = c.get_manifest(repo, &wanted)?;
    let platform = platform.cloned().unwrap_or_else(Platform::host);
    let top_digest = fetched.digest.clone();
    if let Parsed::Index(idx) = manifest::parse(&fetched.bytes, Some(&fetched.media_type))? {
        let d = manifest::select(&idx, &platform)?;
        fetched = c.get_manifest(repo, &d.digest.to_string())?;
    }
    let Parsed::Manifest(m) = manifest::parse(&fetched.bytes, Some(&fetched.media_type))? else {
        return Err(Error::invalid(
            format!("{reference}"),
            "an index inside an index",
        ));
    };
    let mdigest = store.content.put_expected(
        &fetched.bytes,
        Expected {
            digest: Some(fetched.digest.clone()),
            what: "manifest".into(),
            ..Default::default()
        },
    )?;
    // The config.
    if !store.content.has(&m.config.digest) {
        let (mut r, _) = c.blob(repo, &m.config.digest)?;
        let mut w = store.content.writer(Expected {
            digest: Some(m.config.digest.clone()),
            size: Some(m.config.size),
            what: "image config".into(),
        })?;
        std::io::copy(&mut r, &mut w).map_err(|e| Error::io("downloading the image config", e))?;
        w.commit()?;
    }
    let config = store.read_config(&m)?;
    let ids = diff_ids(&config)?;
    if ids.len() != m.layers.len() {
        return Err(Error::invalid(
            format!("image config {}", m.config.digest),
            format!("lists {} diff_ids for {} layers", ids.len(), m.layers.len()),
        ));
    }
    // The layers: those whose snapshot is missing are fetched, PARALLEL at a time.
    let chains = snapshot::chain_ids(&ids);
    let todo: Vec<usize> = (0..m.layers.len())
        .filter(|i| !store.snapshots.has(&chains[*i]))
        .collect();
    for (i, layer) in m.layers.iter().enumerate() {
        let status = if todo.contains(&i) {
            "Pulling fs layer"
        } else {
            "Already exists"
        };
        progress(Event::about(layer.digest.short(), status));
    }
    let mut unpacked: Vec<Option<Unpacked>> = (0..m.layers.len()).map(|_| None).collect();
    for batch in todo.chunks(PARALLEL) {
        let results: Vec<(usize, Result<Unpacked>)> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .iter()
                .map(|&i| {
                    let layer = &m.layers[i];
                    let c = &c;
                    s.spawn(move || (i, fetch_layer(store, c, repo, i, layer, progress)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("layer thread"))
                .collect()
        });
        for (i, r) in results {
            let u = r?;
            if u.applied.diff_id != ids[i] {
                return Err(Error::DigestMismatch {
                    what: format!(
                        "layer {} ({}): the image config's diff_id",
                        i + 1,
                        m.layers[i].digest
                    ),
                    expected: ids[i].to_string(),
                    actual: u.applied.diff_id.to_string(),
                });
            }
            progress(Event::about(m.layers[i].digest.short(), "Pull complete"));
            unpacked[i] = Some(u);
        }
    }
    for (i, u) in unpacked.into_iter().enumerate() {
        if let Some(u) = u {
            store
                .snapshots
                .publish(u, if i == 0 { None } else { Some(&chains[i - 1]) })?;
        }
    }
    let tags: Vec<ImageRef> = if reference.digest().is_some() {
        Vec::new()
    } else {
        vec![reference.clone()]
    };
    let rec = store.add(&mdigest, &tags)?;
    store.add_repo_digest(
        &rec.id,
        format!("{}@{top_digest}", reference.familiar_name()),
    )?;
    progress(Event::line(format!("Digest: {top_digest}")));
    progress(Event::line(format!(
        "Status: Downloaded newer image for {}",
        reference.familiar()
    )));
    Ok(rec)
}

/// Downloads one layer into the content store while unpacking it.
fn fetch_layer(
    store: &ImageStore,
    c: &super::Client,
    repo: &str,
    i: usize,
    layer: &manifest::Descriptor,
    progress: Sink<'_>,
) -> Result<Unpacked> {
    let (body, _) = c.blob(repo, &layer.digest)?;
    let writer = store.content.writer(Expected {
        digest: Some(layer.digest.clone()),
        size: Some(layer.size),
        what: format!("layer {} ({})", i + 1, layer.digest),
    })?;
    let short = layer.digest.short();
    let mut tee = Tee {
        inner: Counting::new(body, progress, short, "Downloading", layer.size),
        copy: writer,
        failed: None,
    };
    let unpacked = store.snapshots.unpack(&mut tee);
    if let Some(e) = tee.failed.take() {
        return Err(Error::io(format!("storing layer {}", layer.digest), e));
    }
    let unpacked =
        unpacked.map_err(|e| Error::invalid(format!("layer {} ({})", i + 1, layer.digest), e))?;
    // Whatever the tar did not need (padding) still belongs to the blob.
    std::io::copy(&mut tee, &mut std::io::sink())
        .map_err(|e| Error::io(format!("downloading layer {}", layer.digest), e))?;
    tee.copy.commit()?;
    progress(Event::about(short, "Download complete"));
    Ok(unpacked)
}

/// Passes reads through, writing a copy of every byte.
struct Tee<R> {
    inner: R,
    copy: crate::store::BlobWriter,
    failed: Option<std::io::Error>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(e) = self.copy.write_all(&buf[..n]) {
            self.failed = Some(std::io::Error::new(e.kind(), e.to_string()));
            return Err(e);
        }
        Ok(n)
    }
}
