//! The image records: which manifest and config make an image, its layers'
//! snapshots, and the names (tags) that point at it. Kept in the engine's
//! state store (berth-store's `images` and `tags` tables, beside the
//! containers): each change is one transaction, made under this store's
//! lock, so records and tags never disagree, even after a crash. A root
//! with the `images.json` of an older berth is moved into the store at open.
//!
//! An image's id is its config digest, as in Docker.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use berth_store::{Kind, Store};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Context, Error, Result};
use crate::manifest::{self, Manifest, Parsed};
use crate::reference::ImageRef;
use crate::snapshot::{self, Snapshots};
use crate::store::ContentStore;

mod build_cache;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    pub id: Digest,
    pub manifest: Digest,
    pub diff_ids: Vec<Digest>,
    /// Chain id of the top layer; None for an image without layers.
    pub top: Option<Digest>,
    /// Uncompressed size of all layers.
    pub size: u64,
    pub created: Option<String>,
    /// `name@digest` forms, from registries.
    #[serde(default)]
    pub repo_digests: BTreeSet<String>,
    /// The image this one was built on by a build step or commit
    /// (moby's `Parent`); None for pulled, loaded and imported images.
    #[serde(default)]
    pub parent: Option<Digest>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Db {
    images: BTreeMap<String, ImageRecord>,
    /// Full reference ("docker.io/library/busybox:latest") to image id.
    tags: BTreeMap<String, Digest>,
}

/// What `remove` did, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    Untagged(String),
    Deleted(Digest),
}

#[derive(Clone)]
pub struct ImageStore {
    root: PathBuf,
    pub content: ContentStore,
    pub snapshots: Snapshots,
    records: Arc<Store>,
    /// Held while records are read, changed and written back: one change
    /// at a time (the store's file lock keeps other processes out).
    lock: Arc<Mutex<()>>,
}

impl std::fmt::Debug for ImageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageStore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// The guard of a read-change-write of the records.
type Lock<'a> = MutexGuard<'a, ()>;

fn store_error(e: berth_store::Error) -> Error {
    Error::io("the image records", std::io::Error::other(e.to_string()))
}

impl ImageStore {
    /// Opens the images under `root` with a state store of their own (for
    /// tools and tests; the engine shares its store: [`ImageStore::with_store`]).
    pub fn open(root: impl Into<PathBuf>) -> Result<ImageStore> {
        let root = root.into();
        let store = Store::open(&root).map_err(store_error)?;
        ImageStore::with_store(root, Arc::new(store))
    }

    /// The images under `root`, their records in `records`.
    pub fn with_store(root: impl Into<PathBuf>, records: Arc<Store>) -> Result<ImageStore> {
        let root = root.into();
        let content = ContentStore::open(root.join("content"))?;
        let snapshots = Snapshots::open(root.join("snapshots"))?;
        let s = ImageStore {
            root,
            content,
            snapshots,
            records,
            lock: Arc::new(Mutex::new(())),
        };
        s.migrate_json()?;
        Ok(s)
    }

    /// An older berth's `images.json`: its records and tags move into the
    /// store in one transaction, then the file goes.
    fn migrate_json(&self) -> Result<()> {
        let path = self.root.join("images.json");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        let old: Db =
            serde_json::from_slice(&bytes).map_err(|e| Error::invalid(path.display(), e))?;
        let _lock = self.lock()?;
        let current = self.load()?;
        let mut merged = current.clone();
        merged.images.extend(old.images);
        merged.tags.extend(old.tags);
        self.save(&current, &merged)?;
        fs::remove_file(&path).ctx(|| format!("removing {}", path.display()))?;
        let _ = fs::remove_file(self.root.join("images.lock"));
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self) -> Result<Lock<'_>> {
        Ok(self.lock.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn load(&self) -> Result<Db> {
        let mut db = Db::default();
        for (id, bytes) in self.records.all_raw(Kind::Images).map_err(store_error)? {
            let rec: ImageRecord = serde_json::from_slice(&bytes)
                .map_err(|e| Error::invalid(format!("the record of image {id}"), e))?;
            db.images.insert(id, rec);
        }
        for (tag, bytes) in self.records.all_raw(Kind::Tags).map_err(store_error)? {
            let id: Digest = serde_json::from_slice(&bytes)
                .map_err(|e| Error::invalid(format!("the tag {tag}"), e))?;
            db.tags.insert(tag, id);
        }
        Ok(db)
    }

    /// Writes what changed from `before` to `after`, in one transaction.
    fn save(&self, before: &Db, after: &Db) -> Result<()> {
        let mut writes = Vec::new();
        for (id, rec) in &after.images {
            let bytes = serde_json::to_vec(rec).expect("records serialize");
            let same = before
                .images
                .get(id)
                .is_some_and(|b| serde_json::to_vec(b).expect("records serialize") == bytes);
            if !same {
                writes.push((Kind::Images, id.clone(), Some(bytes)));
            }
        }
        for id in before
            .images
            .keys()
            .filter(|id| !after.images.contains_key(*id))
        {
            writes.push((Kind::Images, id.clone(), None));
        }
        for (tag, id) in &after.tags {
            if before.tags.get(tag) != Some(id) {
                let bytes = serde_json::to_vec(id).expect("digests serialize");
                writes.push((Kind::Tags, tag.clone(), Some(bytes)));
            }
        }
        for tag in before.tags.keys().filter(|t| !after.tags.contains_key(*t)) {
            writes.push((Kind::Tags, tag.clone(), None));
        }
        if writes.is_empty() {
            return Ok(());
        }
        self.records.apply(writes).map_err(store_error)
    }

    /// Reads the manifest at `manifest_digest` (its config and layers already
    /// in the content store), unpacks the layers into snapshots, checks them
    /// against the config's diff_ids, and records the image under `tags`.
    /// Stores an image made here (import, commit): its config, an OCI
    /// manifest over `layers` (blobs already in the content store), and
    /// the record with `tags`.
    pub fn add_oci(
        &self,
        config: &serde_json::Value,
        layers: Vec<manifest::Descriptor>,
        tags: &[ImageRef],
    ) -> Result<ImageRecord> {
        let config_bytes = serde_json::to_vec(config).expect("config serializes");
        let config_digest = self.content.put(&config_bytes)?;
        let m = manifest::Manifest {
            schema_version: 2,
            media_type: Some(manifest::OCI_MANIFEST.into()),
            config: manifest::Descriptor::new(
                manifest::OCI_CONFIG,
                config_digest,
                config_bytes.len() as u64,
            ),
            layers,
            annotations: None,
        };
        let digest = self
            .content
            .put(&serde_json::to_vec(&m).expect("manifest serializes"))?;
        self.add(&digest, tags)
    }

    pub fn add(&self, manifest_digest: &Digest, tags: &[ImageRef]) -> Result<ImageRecord> {
        let bytes = self.content.read(manifest_digest)?;
        let m = match manifest::parse(&bytes, None)? {
            Parsed::Manifest(m) => *m,
            Parsed::Index(_) => {
                return Err(Error::invalid(
                    format!("manifest {manifest_digest}"),
                    "is an index, not an image manifest",
                ));
            }
        };
        let config = self.read_config(&m)?;
        let diff_ids = diff_ids(&config)?;
        if diff_ids.len() != m.layers.len() {
            return Err(Error::invalid(
                format!("image config {}", m.config.digest),
                format!(
                    "lists {} diff_ids for {} layers",
                    diff_ids.len(),
                    m.layers.len()
                ),
            ));
        }
        let mut parent: Option<Digest> = None;
        let mut size = 0;
        for (i, (layer, diff_id)) in m.layers.iter().zip(&diff_ids).enumerate() {
            let chain = snapshot::chain_id(parent.as_ref(), diff_id);
            if !self.snapshots.has(&chain) {
                let blob = self.content.open_blob(&layer.digest)?;
                self.snapshots
                    .apply(parent.as_ref(), blob, Some(diff_id))
                    .map_err(|e| {
                        Error::invalid(format!("layer {} ({})", i + 1, layer.digest), e)
                    })?;
            }
            // The files' sizes, as docker counts an image's size.
            size += du(&self.snapshots.fs(&chain));
            parent = Some(chain);
        }
        let record = ImageRecord {
            id: m.config.digest.clone(),
            manifest: manifest_digest.clone(),
            diff_ids,
            top: parent,
            size,
            created: config
                .get("created")
                .and_then(|c| c.as_str())
                .map(str::to_string),
            repo_digests: BTreeSet::new(),
            parent: None,
        };
        let _lock = self.lock()?;
        let before = self.load()?;
        let mut db = before.clone();
        let mut rec = db
            .images
            .get(&record.id.to_string())
            .cloned()
            .unwrap_or(record);
        rec.manifest = manifest_digest.clone();
        db.images.insert(rec.id.to_string(), rec.clone());
        for t in tags {
            db.tags.insert(t.to_string(), rec.id.clone());
        }
        self.save(&before, &db)?;
        Ok(rec)
    }

    pub fn read_config(&self, m: &Manifest) -> Result<serde_json::Value> {
        let bytes = self.content.read(&m.config.digest)?;
        if bytes.len() as u64 != m.config.size {
            return Err(Error::SizeMismatch {
                what: format!("image config {}", m.config.digest),
                expected: m.config.size,
                actual: bytes.len() as u64,
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(format!("image config {}", m.config.digest), e))
    }

    pub fn manifest(&self, rec: &ImageRecord) -> Result<Manifest> {
        match manifest::parse(&self.content.read(&rec.manifest)?, None)? {
            Parsed::Manifest(m) => Ok(*m),
            Parsed::Index(_) => Err(Error::invalid(
                format!("manifest {}", rec.manifest),
                "is an index",
            )),
        }
    }

    pub fn config(&self, rec: &ImageRecord) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.content.read(&rec.id)?)
            .map_err(|e| Error::invalid(format!("image config {}", rec.id), e))
    }

    /// The image a name, an id, or a unique id prefix names.
    pub fn resolve(&self, name: &str) -> Result<ImageRecord> {
        let db = self.load()?;
        resolve_in(&db, name).map(|(rec, _)| rec)
    }

    /// Every image with its full tags.
    pub fn list(&self) -> Result<Vec<(ImageRecord, Vec<ImageRef>)>> {
        let db = self.load()?;
        Ok(db
            .images
            .values()
            .map(|rec| {
                let tags = db
                    .tags
                    .iter()
                    .filter(|(_, id)| **id == rec.id)
                    .filter_map(|(t, _)| ImageRef::parse(t).ok())
                    .collect();
                (rec.clone(), tags)
            })
            .collect())
    }

    pub fn tag(&self, source: &str, target: &ImageRef) -> Result<()> {
        let _lock = self.lock()?;
        let before = self.load()?;
        let mut db = before.clone();
        let (rec, _) = resolve_in(&db, source)?;
        db.tags.insert(target.to_string(), rec.id);
        self.save(&before, &db)
    }

    /// Docker's rmi: a name is untagged, and the image deleted with its last
    /// name; an id with several names needs `force`. `in_use` tells whether a
    /// container uses the image (refused unless `force`).
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        in_use: &dyn Fn(&Digest) -> bool,
    ) -> Result<Vec<Removed>> {
        let _lock = self.lock()?;
        let before = self.load()?;
        let mut db = before.clone();
        let (rec, by_name) = resolve_in(&db, name)?;
        let tags: Vec<String> = db
            .tags
            .iter()
            .filter(|(_, id)| **id == rec.id)
            .map(|(t, _)| t.clone())
            .collect();
        let mut out = Vec::new();
        if let Some(full) = &by_name {
            if tags.len() > 1 {
                db.tags.remove(full);
                out.push(Removed::Untagged(familiar(full)));
                // The repository's last name goes: its digests go with it.
                let repo = repo_of(full);
                if !tags.iter().any(|t| t != full && repo_of(t) == repo)
                    && let Some(r) = db.images.get_mut(&rec.id.to_string())
                {
                    let gone: Vec<String> = r
                        .repo_digests
                        .iter()
                        .filter(|d| d.split('@').next() == Some(repo.as_str()))
                        .cloned()
                        .collect();
                    for d in gone {
                        r.repo_digests.remove(&d);
                        out.push(Removed::Untagged(d));
                    }
                }
                self.save(&before, &db)?;
                return Ok(out);
            }
        } else if tags.len() > 1 && !force {
            return Err(Error::invalid(
                format!(
                    "conflict: unable to delete {} (must be forced)",
                    rec.id.short()
                ),
                "image is referenced in multiple repositories",
            ));
        }
        if in_use(&rec.id) && !force {
            return Err(Error::invalid(
                format!(
                    "conflict: unable to remove image {} (must force)",
                    rec.id.short()
                ),
                "a container is using it",
            ));
        }
        for t in tags {
            db.tags.remove(&t);
            out.push(Removed::Untagged(familiar(&t)));
        }
        out.extend(rec.repo_digests.iter().cloned().map(Removed::Untagged));
        db.images.remove(&rec.id.to_string());
        out.push(Removed::Deleted(rec.id.clone()));
        self.save(&before, &db)?;
        drop(_lock);
        self.gc()?;
        Ok(out)
    }

    /// Deletes images without tags (`all`: also tagged ones no container uses).
    pub fn prune(&self, all: bool, in_use: &dyn Fn(&Digest) -> bool) -> Result<Vec<Removed>> {
        let _lock = self.lock()?;
        let before = self.load()?;
        let mut db = before.clone();
        let mut out = Vec::new();
        let ids: Vec<Digest> = db.images.values().map(|r| r.id.clone()).collect();
        let tagged: BTreeSet<&Digest> = db.tags.values().collect();
        // What stays keeps the images it was built on (a build's
        // intermediate images, its cache), as dockerd keeps parents.
        let mut kept: BTreeSet<Digest> = BTreeSet::new();
        for id in ids
            .iter()
            .filter(|id| (!all && tagged.contains(id)) || in_use(id))
        {
            let mut at = Some(id.clone());
            while let Some(i) = at {
                if !kept.insert(i.clone()) {
                    break;
                }
                at = db.images.get(&i.to_string()).and_then(|r| r.parent.clone());
            }
        }
        for id in ids {
            if kept.contains(&id) {
                continue;
            }
            let tags: Vec<String> = db
                .tags
                .iter()
                .filter(|(_, i)| **i == id)
                .map(|(t, _)| t.clone())
                .collect();
            for t in tags {
                db.tags.remove(&t);
                out.push(Removed::Untagged(familiar(&t)));
            }
            db.images.remove(&id.to_string());
            out.push(Removed::Deleted(id));
        }
        self.save(&before, &db)?;
        drop(_lock);
        self.gc()?;
        Ok(out)
    }

    /// Removes blobs and snapshots no image refers to, and leftovers of
    /// interrupted writes. Returns how many bytes were freed (about).
    pub fn gc(&self) -> Result<u64> {
        let _lock = self.lock()?;
        let db = self.load()?;
        let mut blobs: BTreeSet<Digest> = BTreeSet::new();
        let mut snaps: BTreeSet<Digest> = BTreeSet::new();
        for rec in db.images.values() {
            blobs.insert(rec.manifest.clone());
            blobs.insert(rec.id.clone());
            if let Ok(m) = self.manifest(rec) {
                blobs.extend(m.layers.iter().map(|l| l.digest.clone()));
            }
            snaps.extend(snapshot::chain_ids(&rec.diff_ids));
        }
        let mut freed = 0;
        for b in self.content.list()? {
            if !blobs.contains(&b) {
                freed += self.content.size(&b).unwrap_or(0);
                self.content.delete(&b)?;
            }
        }
        for s in self.snapshots.list() {
            if !snaps.contains(&s) {
                freed += du(&self.snapshots.fs(&s));
                self.snapshots.remove(&s)?;
            }
        }
        self.content.clean_ingest()?;
        self.snapshots.clean_tmp();
        Ok(freed)
    }

    /// Tags of the image `id`, full form.
    pub fn tags_of(&self, id: &Digest) -> Result<Vec<ImageRef>> {
        let db = self.load()?;
        Ok(db
            .tags
            .iter()
            .filter(|(_, i)| *i == id)
            .filter_map(|(t, _)| ImageRef::parse(t).ok())
            .collect())
    }

    /// Adds a `name@digest` to the image (after a pull or push).
    pub fn add_repo_digest(&self, id: &Digest, repo_digest: String) -> Result<()> {
        let _lock = self.lock()?;
        let before = self.load()?;
        let mut db = before.clone();
        if let Some(rec) = db.images.get_mut(&id.to_string()) {
            rec.repo_digests.insert(repo_digest);
        }
        self.save(&before, &db)
    }
}

/// The familiar repository of a full reference (`docker.io/library/a:1` -> `a`).
fn repo_of(full: &str) -> String {
    ImageRef::parse(full)
        .map(|r| r.familiar_name())
        .unwrap_or_else(|_| full.to_string())
}

fn familiar(full: &str) -> String {
    ImageRef::parse(full)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| full.to_string())
}

/// Looks a name up as Docker does: a reference (tag), a full id, or an id
/// prefix. Returns the image and, when found by name, the full name.
fn resolve_in(db: &Db, name: &str) -> Result<(ImageRecord, Option<String>)> {
    let by_id = |hex: &str| -> Option<ImageRecord> {
        let matches: Vec<&ImageRecord> = db
            .images
            .values()
            .filter(|r| r.id.hex().starts_with(hex))
            .collect();
        (matches.len() == 1).then(|| matches[0].clone())
    };
    if let Some(hex) = name.strip_prefix("sha256:") {
        return by_id(hex)
            .ok_or_else(|| Error::ImageNotFound(name.to_string()))
            .map(|r| (r, None));
    }
    if let Ok(r) = ImageRef::parse(name) {
        if let Some(d) = r.digest() {
            if let Some(rec) = db.images.values().find(|rec| {
                rec.manifest == d
                    || rec
                        .repo_digests
                        .iter()
                        .any(|rd| rd.ends_with(&d.to_string()))
            }) {
                return Ok((rec.clone(), None));
            }
        } else if let Some(id) = db.tags.get(&r.to_string())
            && let Some(rec) = db.images.get(&id.to_string())
        {
            return Ok((rec.clone(), Some(r.to_string())));
        }
    }
    if name.len() >= 3
        && name.bytes().all(|c| c.is_ascii_hexdigit())
        && let Some(rec) = by_id(name)
    {
        return Ok((rec, None));
    }
    Err(Error::ImageNotFound(name.to_string()))
}

/// The config's rootfs.diff_ids.
pub fn diff_ids(config: &serde_json::Value) -> Result<Vec<Digest>> {
    let ids = config
        .pointer("/rootfs/diff_ids")
        .and_then(|v| v.as_array())
        .ok_or_else(|| Error::invalid("image config", "rootfs.diff_ids is missing"))?;
    ids.iter()
        .map(|v| {
            v.as_str()
                .ok_or_else(|| Error::invalid("image config", "a diff_id is not a string"))
                .and_then(|s| s.parse())
        })
        .collect()
}

/// Bytes used under a directory (apparent sizes of regular files).
pub fn du(p: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod store_tests {
    use super::*;

    fn digest(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .unwrap()
    }

    #[test]
    fn an_older_images_json_moves_into_the_state_store() {
        let dir = tempfile::tempdir().unwrap();
        let rec = ImageRecord {
            id: digest('a'),
            manifest: digest('b'),
            diff_ids: vec![],
            top: None,
            size: 7,
            created: None,
            repo_digests: BTreeSet::new(),
            parent: None,
        };
        let mut old = Db::default();
        old.images.insert(rec.id.to_string(), rec.clone());
        old.tags
            .insert("docker.io/library/bb:1".into(), rec.id.clone());
        fs::write(
            dir.path().join("images.json"),
            serde_json::to_vec(&old).unwrap(),
        )
        .unwrap();
        {
            let store = ImageStore::open(dir.path()).unwrap();
            assert_eq!(store.resolve("bb:1").unwrap().id, rec.id);
            assert!(!dir.path().join("images.json").exists());
            // A tag change is a transaction of its own.
            store
                .tag("bb:1", &ImageRef::parse("bb:2").unwrap())
                .unwrap();
        }
        // Reopened: the store, not the file, holds both names.
        let store = ImageStore::open(dir.path()).unwrap();
        assert_eq!(store.tags_of(&rec.id).unwrap().len(), 2);
        assert_eq!(store.list().unwrap().len(), 1);
    }
}
