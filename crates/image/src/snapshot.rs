//! Snapshots: each applied layer is a directory keyed by its chain ID, shared
//! by every image that has the same layers below it. A snapshot holds `fs/`
//! (the layer's files, whiteouts as overlayfs has them) and `parent` (the
//! chain ID below it). Mounted as overlayfs, `fs/` dirs are the lower dirs.
//!
//! A snapshot is unpacked under a temporary name and renamed into place only
//! when whole, so a snapshot present under its chain ID is always complete.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;
use crate::error::{Context, Error, Result};
use crate::layer::{self, Applied};

/// A layer unpacked under a temporary name; removed unless published.
pub struct Unpacked {
    tmp: Option<PathBuf>,
    pub applied: Applied,
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        if let Some(t) = self.tmp.take() {
            let _ = remove_tree(&t);
        }
    }
}

#[derive(Debug, Clone)]
pub struct Snapshots {
    root: PathBuf,
}

/// The chain ID of a layer: its diff_id at the bottom, else
/// sha256("<parent chain ID> <diff_id>"), as the OCI image spec defines it.
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => {
            let h = Sha256::new_with_prefix(format!("{p} {diff_id}"));
            let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            format!("sha256:{hex}").parse().expect("a sha256 digest")
        }
    }
}

/// The chain IDs of a stack of layers, bottom first.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let c = chain_id(out.last(), d);
        out.push(c);
    }
    out
}

impl Snapshots {
    pub fn open(root: impl Into<PathBuf>) -> Result<Snapshots> {
        let root = root.into();
        fs::create_dir_all(&root).ctx(|| format!("creating {}", root.display()))?;
        Ok(Snapshots { root })
    }

    pub fn dir(&self, chain: &Digest) -> PathBuf {
        self.root.join(chain.hex())
    }

    /// The layer's files.
    pub fn fs(&self, chain: &Digest) -> PathBuf {
        self.dir(chain).join("fs")
    }

    pub fn has(&self, chain: &Digest) -> bool {
        self.fs(chain).is_dir()
    }

    pub fn parent(&self, chain: &Digest) -> Option<Digest> {
        fs::read_to_string(self.dir(chain).join("parent"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Applies `layer` on top of `parent`; `expected` is the diff_id the image
    /// config promises. Returns the new chain ID and what was applied.
    pub fn apply(
        &self,
        parent: Option<&Digest>,
        layer: impl Read,
        expected: Option<&Digest>,
    ) -> Result<(Digest, Applied)> {
        let unpacked = self.unpack(layer)?;
        let applied = unpacked.applied.clone();
        if let Some(want) = expected
            && *want != applied.diff_id
        {
            return Err(Error::DigestMismatch {
                what: "layer (the image config's diff_id)".into(),
                expected: want.to_string(),
                actual: applied.diff_id.to_string(),
            });
        }
        let chain = self.publish(unpacked, parent)?;
        Ok((chain, applied))
    }

    /// Unpacks a layer under a temporary name. Layers unpack into their own
    /// empty directories, so several can be unpacked at once (a pull does);
    /// they get their chain IDs, which need their parents, in `publish`.
    pub fn unpack(&self, layer: impl Read) -> Result<Unpacked> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let tmp = self.root.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = remove_tree(&tmp);
        fs::create_dir_all(tmp.join("fs")).ctx(|| format!("creating {}", tmp.display()))?;
        match layer::apply(layer, &tmp.join("fs")) {
            Ok(applied) => Ok(Unpacked {
                tmp: Some(tmp),
                applied,
            }),
            Err(e) => {
                let _ = remove_tree(&tmp);
                Err(e)
            }
        }
    }

    /// Makes an unpacked layer the snapshot above `parent`; returns its chain ID.
    pub fn publish(&self, mut unpacked: Unpacked, parent: Option<&Digest>) -> Result<Digest> {
        let tmp = unpacked.tmp.take().expect("published once");
        let chain = chain_id(parent, &unpacked.applied.diff_id);
        let result = (|| {
            if let Some(p) = parent {
                fs::write(tmp.join("parent"), p.to_string())
                    .ctx(|| "writing the snapshot's parent")?;
            }
            if self.has(&chain) {
                // Another image brought it meanwhile: keep that one.
                let _ = remove_tree(&tmp);
            } else {
                fs::rename(&tmp, self.dir(&chain))
                    .ctx(|| format!("publishing snapshot {chain}"))?;
            }
            Ok(chain)
        })();
        if result.is_err() {
            let _ = remove_tree(&tmp);
        }
        result
    }

    /// The `fs/` directories from `top` down to the bottom layer: overlayfs's
    /// lowerdir order.
    pub fn lower_dirs(&self, top: &Digest) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let mut cur = Some(top.clone());
        while let Some(c) = cur {
            if !self.has(&c) {
                return Err(Error::invalid(format!("snapshot {c}"), "missing"));
            }
            out.push(self.fs(&c));
            cur = self.parent(&c);
        }
        Ok(out)
    }

    pub fn remove(&self, chain: &Digest) -> Result<()> {
        remove_tree(&self.dir(chain)).ctx(|| format!("removing snapshot {chain}"))
    }

    pub fn list(&self) -> Vec<Digest> {
        let mut out: Vec<Digest> = fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                format!("sha256:{}", e.file_name().to_string_lossy())
                    .parse()
                    .ok()
            })
            .collect();
        out.sort();
        out
    }

    /// Removes what interrupted unpacks left.
    pub fn clean_tmp(&self) {
        for e in fs::read_dir(&self.root).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(".tmp-") {
                let _ = remove_tree(&e.path());
            }
        }
    }
}

/// remove_dir_all where a missing tree is not an error. (Read-only
/// directories in a layer do not stop root.)
fn remove_tree(p: &Path) -> std::io::Result<()> {
    match fs::remove_dir_all(p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_spec() {
        let a: Digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
            .parse()
            .unwrap();
        let b: Digest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
            .parse()
            .unwrap();
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], Digest::of(format!("{a} {b}").as_bytes()));
    }
}
