//! Image archives: Docker's (`docker save`: manifest.json, `<config>.json`,
//! `<layer>/layer.tar`) and OCI image layouts (oci-layout, index.json,
//! blobs/sha256/...), both read by `load` and written by `save`.
//!
//! Loading streams the archive once: every regular member is written to the
//! content store, under its own digest, while it is read; the archive's
//! descriptions are then checked against what was stored (a digest or size
//! that lies is refused, naming the member) before any image is recorded.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Context, Error, Result};
use crate::images::{ImageRecord, ImageStore};
use crate::layer;
use crate::manifest::{self, Compression, Descriptor, Index, Manifest, Parsed, Platform};
use crate::reference::ImageRef;
use crate::store::Expected;

/// One entry of Docker's manifest.json.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// An image that `load` recorded, with the names it got.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub image: ImageRecord,
    pub tags: Vec<ImageRef>,
}

/// Loads a Docker archive or an OCI layout archive (plain, gzip or zstd).
pub fn load(store: &ImageStore, reader: impl Read) -> Result<Vec<Loaded>> {
    let mut archive = tar::Archive::new(layer::decompress(reader)?);
    let mut members: BTreeMap<String, (Digest, u64)> = BTreeMap::new();
    for entry in archive
        .entries()
        .map_err(|e| Error::invalid("archive", e))?
    {
        let mut entry = entry
            .map_err(|e| Error::invalid("archive", format!("reading it: {e} (truncated?)")))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = normalize_member(
            &entry
                .path()
                .map_err(|e| Error::invalid("archive", e))?
                .to_string_lossy(),
        );
        let mut w = store.content.writer(Expected {
            what: format!("archive member {name}"),
            ..Default::default()
        })?;
        layer::copy_large(&mut entry, &mut w).map_err(|e| {
            Error::invalid(
                format!("archive member {name}"),
                format!("{e} (truncated?)"),
            )
        })?;
        let (digest, size) = w.commit()?;
        members.insert(name, (digest, size));
    }
    let member = |name: &str| -> Result<&(Digest, u64)> {
        members
            .get(&normalize_member(name))
            .ok_or_else(|| Error::invalid("archive", format!("member {name} is missing")))
    };
    // An OCI layout keeps blobs by digest: each must be what its name says.
    for (name, (digest, _)) in &members {
        if let Some(hex) = name.strip_prefix("blobs/sha256/")
            && hex != digest.hex()
        {
            return Err(Error::DigestMismatch {
                what: format!("archive member {name}"),
                expected: format!("sha256:{hex}"),
                actual: digest.to_string(),
            });
        }
    }
    if members.contains_key("manifest.json") {
        let (d, _) = member("manifest.json")?;
        let entries: Vec<DockerEntry> = serde_json::from_slice(&store.content.read(d)?)
            .map_err(|e| Error::invalid("archive manifest.json", e))?;
        let mut out = Vec::new();
        for e in entries {
            let (config, config_size) = member(&e.config)?.clone();
            let mut layers = Vec::new();
            for l in &e.layers {
                let (digest, size) = member(l)?.clone();
                let head = head_of(store, &digest)?;
                let media_type = match Compression::sniff(&head) {
                    Compression::Gzip => manifest::DOCKER_LAYER_GZIP,
                    Compression::Zstd => manifest::OCI_LAYER_ZSTD,
                    Compression::None => "application/vnd.docker.image.rootfs.diff.tar",
                };
                layers.push(Descriptor::new(media_type, digest, size));
            }
            let m = Manifest {
                schema_version: 2,
                media_type: Some(manifest::DOCKER_MANIFEST.into()),
                config: Descriptor::new(manifest::DOCKER_CONFIG, config, config_size),
                layers,
                annotations: None,
            };
            let mdigest = store
                .content
                .put(&serde_json::to_vec(&m).expect("manifest serializes"))?;
            let tags = e
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| ImageRef::parse(t))
                .collect::<Result<Vec<_>>>()?;
            let image = store.add(&mdigest, &tags)?;
            out.push(Loaded { image, tags });
        }
        return Ok(out);
    }
    if members.contains_key("index.json") {
        let (d, _) = member("index.json")?;
        let index: Index = serde_json::from_slice(&store.content.read(d)?)
            .map_err(|e| Error::invalid("archive index.json", e))?;
        let mut out = Vec::new();
        for desc in &index.manifests {
            let tags = oci_names(desc)?;
            let mdigest = resolve_manifest(store, desc, &Platform::host())?;
            let image = store.add(&mdigest, &tags)?;
            out.push(Loaded { image, tags });
        }
        return Ok(out);
    }
    Err(Error::invalid(
        "archive",
        "neither a Docker archive (manifest.json) nor an OCI layout (index.json)",
    ))
}

fn normalize_member(name: &str) -> String {
    name.trim_start_matches("./")
        .trim_start_matches('/')
        .to_string()
}

fn head_of(store: &ImageStore, d: &Digest) -> Result<Vec<u8>> {
    let mut head = [0u8; 4];
    let mut f = store.content.open_blob(d)?;
    let n = f.read(&mut head).ctx(|| format!("reading blob {d}"))?;
    Ok(head[..n].to_vec())
}

/// Checks that the blob a descriptor names is there with its size.
fn check(store: &ImageStore, desc: &Descriptor, what: &str) -> Result<()> {
    let size = store
        .content
        .size(&desc.digest)
        .map_err(|_| Error::invalid(what, format!("blob {} is not in the archive", desc.digest)))?;
    if size != desc.size {
        return Err(Error::SizeMismatch {
            what: format!("{what} {}", desc.digest),
            expected: desc.size,
            actual: size,
        });
    }
    Ok(())
}

/// The image manifest a descriptor leads to (through an index, by platform),
/// with its config and layers checked.
fn resolve_manifest(store: &ImageStore, desc: &Descriptor, platform: &Platform) -> Result<Digest> {
    check(store, desc, "manifest")?;
    match manifest::parse(&store.content.read(&desc.digest)?, Some(&desc.media_type))? {
        Parsed::Index(idx) => resolve_manifest(store, manifest::select(&idx, platform)?, platform),
        Parsed::Manifest(m) => {
            check(store, &m.config, "image config")?;
            for (i, l) in m.layers.iter().enumerate() {
                check(store, l, &format!("layer {}", i + 1))?;
            }
            Ok(desc.digest.clone())
        }
    }
}

/// The names an OCI index entry gives its image: containerd's full name, or
/// the ref.name annotation when it is a reference.
fn oci_names(desc: &Descriptor) -> Result<Vec<ImageRef>> {
    let ann = desc.annotations.clone().unwrap_or_default();
    if let Some(full) = ann.get("io.containerd.image.name") {
        return Ok(vec![ImageRef::parse(full)?]);
    }
    match ann.get("org.opencontainers.image.ref.name") {
        // A bare tag ("latest") names no repository: the image loads untagged.
        Some(n) if n.contains(':') || n.contains('/') => Ok(vec![ImageRef::parse(n)?]),
        _ => Ok(Vec::new()),
    }
}

/// The format `save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Docker,
    Oci,
}

/// Whether [`save`] of `names` finds every image, checked before an
/// archive starts streaming (a missing name is then a plain error).
pub fn check_save(store: &ImageStore, names: &[String]) -> Result<()> {
    associations(store, names).map(drop)
}

/// The images `names` save, each with the tags the archive gives it, as
/// moby's tarexport chooses them: an image id (`sha256:...`, or a prefix)
/// saves no tag, a name without a tag every tag of that repository, a
/// `name:tag` that tag (a digest reference none). An image named twice is
/// saved once, with the union of its tags, in the order first named.
fn associations(
    store: &ImageStore,
    names: &[String],
) -> Result<Vec<(crate::images::ImageRecord, Vec<ImageRef>)>> {
    let mut out: Vec<(crate::images::ImageRecord, Vec<ImageRef>)> = Vec::new();
    let mut add = |rec: crate::images::ImageRecord, tag: Option<ImageRef>| {
        let i = match out.iter().position(|(r, _)| r.id == rec.id) {
            Some(i) => i,
            None => {
                out.push((rec, Vec::new()));
                out.len() - 1
            }
        };
        if let Some(t) = tag
            && !out[i].1.contains(&t)
        {
            out[i].1.push(t);
        }
    };
    for name in names {
        let is_id = name.starts_with("sha256:")
            || (name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()));
        let parsed = if is_id {
            None
        } else {
            ImageRef::parse(name).ok()
        };
        let Some(r) = parsed else {
            add(store.resolve(name)?, None);
            continue;
        };
        let last = name.rsplit('/').next().unwrap_or(name);
        if r.digest().is_some() {
            add(store.resolve(name)?, None);
        } else if last.contains(':') {
            let rec = store.resolve(name)?;
            let tagged = store.tags_of(&rec.id)?.contains(&r);
            add(rec, tagged.then_some(r));
        } else {
            // A name alone: every tag of the repository; else an id prefix.
            let mut found = false;
            for (rec, tags) in store.list()? {
                for t in tags
                    .into_iter()
                    .filter(|t| t.name() == r.name() && t.digest().is_none())
                {
                    found = true;
                    add(rec.clone(), Some(t));
                }
            }
            if !found {
                add(store.resolve(name)?, None);
            }
        }
    }
    Ok(out)
}

/// Writes `images` (names or ids) as one archive.
pub fn save(store: &ImageStore, names: &[String], format: Format, out: impl Write) -> Result<()> {
    let mut b = tar::Builder::new(out);
    let mut written: std::collections::BTreeSet<String> = Default::default();
    let mut docker_entries = Vec::new();
    let mut index = Index {
        schema_version: 2,
        media_type: Some(manifest::OCI_INDEX.into()),
        manifests: Vec::new(),
        annotations: None,
    };
    if format == Format::Oci {
        append(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        append_dir(&mut b, "blobs/")?;
        append_dir(&mut b, "blobs/sha256/")?;
    }
    for (rec, tags) in associations(store, names)? {
        let m = store.manifest(&rec)?;
        match format {
            Format::Docker => {
                let config_name = format!("{}.json", rec.id.hex());
                if written.insert(config_name.clone()) {
                    append(&mut b, &config_name, &store.content.read(&rec.id)?)?;
                }
                let mut layer_names = Vec::new();
                for (l, diff_id) in m.layers.iter().zip(&rec.diff_ids) {
                    let name = format!("{}/layer.tar", diff_id.hex());
                    if written.insert(name.clone()) {
                        append_dir(&mut b, &format!("{}/", diff_id.hex()))?;
                        append_layer_uncompressed(store, &mut b, &name, &l.digest)?;
                    }
                    layer_names.push(name);
                }
                docker_entries.push(DockerEntry {
                    config: config_name,
                    repo_tags: (!tags.is_empty())
                        .then(|| tags.iter().map(|t| t.familiar()).collect()),
                    layers: layer_names,
                });
            }
            Format::Oci => {
                // OCI tools (umoci) want OCI media types: convert Docker's.
                let config_desc = Descriptor {
                    media_type: manifest::OCI_CONFIG.into(),
                    ..m.config.clone()
                };
                let mut layers = Vec::new();
                for l in &m.layers {
                    let media_type = match Compression::sniff(&head_of(store, &l.digest)?) {
                        Compression::Gzip => manifest::OCI_LAYER_GZIP,
                        Compression::Zstd => manifest::OCI_LAYER_ZSTD,
                        Compression::None => manifest::OCI_LAYER,
                    };
                    layers.push(Descriptor {
                        media_type: media_type.into(),
                        ..l.clone()
                    });
                }
                let om = Manifest {
                    schema_version: 2,
                    media_type: Some(manifest::OCI_MANIFEST.into()),
                    config: config_desc,
                    layers: layers.clone(),
                    annotations: None,
                };
                let mbytes = serde_json::to_vec(&om).expect("manifest serializes");
                let mdigest = Digest::of(&mbytes);
                for d in std::iter::once(&rec.id).chain(layers.iter().map(|l| &l.digest)) {
                    let name = format!("blobs/sha256/{}", d.hex());
                    if written.insert(name.clone()) {
                        append_blob(store, &mut b, &name, d)?;
                    }
                }
                let name = format!("blobs/sha256/{}", mdigest.hex());
                if written.insert(name.clone()) {
                    append(&mut b, &name, &mbytes)?;
                }
                let platform = platform_of(&store.config(&rec)?);
                let entries: Vec<Option<&ImageRef>> = if tags.is_empty() {
                    vec![None]
                } else {
                    tags.iter().map(Some).collect()
                };
                for t in entries {
                    let mut ann = BTreeMap::new();
                    if let Some(t) = t {
                        ann.insert("io.containerd.image.name".to_string(), t.to_string());
                        ann.insert(
                            "org.opencontainers.image.ref.name".to_string(),
                            t.tag().unwrap_or("latest").to_string(),
                        );
                    }
                    index.manifests.push(Descriptor {
                        media_type: manifest::OCI_MANIFEST.into(),
                        digest: mdigest.clone(),
                        size: mbytes.len() as u64,
                        urls: None,
                        annotations: (!ann.is_empty()).then_some(ann),
                        platform: platform.clone(),
                    });
                }
            }
        }
    }
    match format {
        Format::Docker => append(
            &mut b,
            "manifest.json",
            &serde_json::to_vec(&docker_entries).expect("serializes"),
        )?,
        Format::Oci => append(
            &mut b,
            "index.json",
            &serde_json::to_vec(&index).expect("serializes"),
        )?,
    }
    b.into_inner()
        .ctx(|| "finishing the archive")?
        .flush()
        .ctx(|| "writing the archive")?;
    Ok(())
}

fn platform_of(config: &serde_json::Value) -> Option<Platform> {
    Some(Platform {
        architecture: config.get("architecture")?.as_str()?.to_string(),
        os: config.get("os")?.as_str()?.to_string(),
        variant: config
            .get("variant")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        os_version: None,
    })
}

fn header(size: u64, dir: bool) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h
}

fn append<W: Write>(b: &mut tar::Builder<W>, name: &str, data: &[u8]) -> Result<()> {
    let mut h = header(data.len() as u64, false);
    b.append_data(&mut h, name, data)
        .ctx(|| format!("writing {name} to the archive"))
}

fn append_dir<W: Write>(b: &mut tar::Builder<W>, name: &str) -> Result<()> {
    let mut h = header(0, true);
    b.append_data(&mut h, name, std::io::empty())
        .ctx(|| format!("writing {name} to the archive"))
}

fn append_blob<W: Write>(
    store: &ImageStore,
    b: &mut tar::Builder<W>,
    name: &str,
    d: &Digest,
) -> Result<()> {
    let size = store.content.size(d)?;
    let mut h = header(size, false);
    b.append_data(&mut h, name, store.content.open_blob(d)?)
        .ctx(|| format!("writing {name} to the archive"))
}

/// Docker archives hold layers as plain tars. A tar header needs the size
/// before the data, so a compressed blob is decompressed twice: once to count,
/// once into the archive (nothing extra is written to disk or kept).
fn append_layer_uncompressed<W: Write>(
    store: &ImageStore,
    b: &mut tar::Builder<W>,
    name: &str,
    d: &Digest,
) -> Result<()> {
    if Compression::sniff(&head_of(store, d)?) == Compression::None {
        return append_blob(store, b, name, d);
    }
    let plain = || -> Result<Box<dyn Read>> { layer::decompress(store.content.open_blob(d)?) };
    let size = std::io::copy(&mut plain()?, &mut std::io::sink())
        .ctx(|| format!("decompressing layer {d}"))?;
    let mut h = header(size, false);
    b.append_data(&mut h, name, plain()?)
        .ctx(|| format!("writing {name} to the archive"))
}
