//! The build cache: each build step's cache key (its parent image, its
//! instruction and what the instruction read) names the image the step
//! made. An entry whose image is gone is no entry.

use berth_store::Kind;

use super::{ImageRecord, ImageStore, store_error};
use crate::digest::Digest;
use crate::error::Result;

impl ImageStore {
    /// The image a step with this key made, if it is still here.
    pub fn cached_step(&self, key: &str) -> Result<Option<ImageRecord>> {
        let id: Option<Digest> = self
            .records
            .get(Kind::BuildCache, key)
            .map_err(store_error)?;
        let Some(id) = id else { return Ok(None) };
        Ok(self.load()?.images.get(&id.to_string()).cloned())
    }

    /// Records that the step with this key made image `id`.
    pub fn cache_step(&self, key: &str, id: &Digest) -> Result<()> {
        self.records
            .put(Kind::BuildCache, key, id)
            .map_err(store_error)
    }

    /// Records `parent` as the image `id` was built on.
    pub fn set_parent(&self, id: &Digest, parent: Option<&Digest>) -> Result<ImageRecord> {
        let _lock = self.lock()?;
        let before = self.load()?;
        let mut db = before.clone();
        let rec = db
            .images
            .get_mut(&id.to_string())
            .ok_or_else(|| crate::Error::ImageNotFound(id.to_string()))?;
        rec.parent = parent.cloned();
        let out = rec.clone();
        self.save(&before, &db)?;
        Ok(out)
    }

    /// Forgets every cache entry; returns how many there were. The images
    /// they named stay until nothing refers to them (`image prune`).
    pub fn clear_build_cache(&self) -> Result<usize> {
        let keys = self
            .records
            .all_raw(Kind::BuildCache)
            .map_err(store_error)?;
        let writes = keys
            .iter()
            .map(|(k, _)| (Kind::BuildCache, k.clone(), None))
            .collect::<Vec<_>>();
        let n = writes.len();
        if n > 0 {
            self.records.apply(writes).map_err(store_error)?;
        }
        Ok(n)
    }

    /// The ids the cache names (for `system df` and pruning).
    pub fn build_cache_images(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for (key, bytes) in self
            .records
            .all_raw(Kind::BuildCache)
            .map_err(store_error)?
        {
            let id: Digest = serde_json::from_slice(&bytes)
                .map_err(|e| crate::Error::invalid(format!("build cache entry {key}"), e))?;
            out.push(id);
        }
        Ok(out)
    }
}
