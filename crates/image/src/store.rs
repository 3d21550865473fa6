//! The content store: blobs under `blobs/sha256/<hex>`, each written to
//! `ingest/` first and renamed into place only once its digest (and size,
//! when known) is verified and the data is on disk. So a blob visible under
//! its digest is always whole and correct, even after a crash mid-write;
//! `ingest/` holds at most leftovers, removed by [`ContentStore::clean_ingest`].

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::digest::{Digest, DigestWriter};
use crate::error::{Context, Error, Result};

#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
}

/// What a blob being written must turn out to be.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub digest: Option<Digest>,
    pub size: Option<u64>,
    /// Names the blob in errors ("layer 2 of busybox:latest").
    pub what: String,
}

impl ContentStore {
    pub fn open(root: impl Into<PathBuf>) -> Result<ContentStore> {
        let root = root.into();
        for d in ["blobs/sha256", "ingest"] {
            fs::create_dir_all(root.join(d))
                .ctx(|| format!("creating {}", root.join(d).display()))?;
        }
        Ok(ContentStore { root })
    }

    pub fn path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    pub fn has(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    pub fn size(&self, d: &Digest) -> Result<u64> {
        fs::metadata(self.path(d))
            .map(|m| m.len())
            .map_err(|_| Error::BlobNotFound(d.clone()))
    }

    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        File::open(self.path(d)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::BlobNotFound(d.clone()),
            _ => Error::io(format!("opening blob {d}"), e),
        })
    }

    pub fn read(&self, d: &Digest) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.open_blob(d)?
            .read_to_end(&mut buf)
            .ctx(|| format!("reading blob {d}"))?;
        Ok(buf)
    }

    /// Stores `data`; returns its digest.
    pub fn put(&self, data: &[u8]) -> Result<Digest> {
        let mut w = self.writer(Expected::default())?;
        w.write_all(data).ctx(|| "writing a blob")?;
        Ok(w.commit()?.0)
    }

    /// Stores `data`, which must have digest `expected`.
    pub fn put_expected(&self, data: &[u8], expected: Expected) -> Result<Digest> {
        let mut w = self.writer(expected)?;
        w.write_all(data).ctx(|| "writing a blob")?;
        Ok(w.commit()?.0)
    }

    /// A writer whose data becomes a blob on [`BlobWriter::commit`].
    pub fn writer(&self, expected: Expected) -> Result<BlobWriter> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = self.root.join("ingest").join(name);
        let file = File::create(&tmp).ctx(|| format!("creating {}", tmp.display()))?;
        Ok(BlobWriter {
            store: self.clone(),
            tmp: Some(tmp),
            out: Some(DigestWriter::new(file)),
            expected,
        })
    }

    pub fn delete(&self, d: &Digest) -> Result<()> {
        match fs::remove_file(self.path(d)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing blob {d}"), e)),
        }
    }

    pub fn list(&self) -> Result<Vec<Digest>> {
        let dir = self.root.join("blobs/sha256");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).ctx(|| format!("listing {}", dir.display()))? {
            let e = e.ctx(|| "listing blobs")?;
            if let Ok(d) = format!("sha256:{}", e.file_name().to_string_lossy()).parse() {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes what interrupted writes left in `ingest/`.
    pub fn clean_ingest(&self) -> Result<usize> {
        let dir = self.root.join("ingest");
        let mut n = 0;
        for e in fs::read_dir(&dir)
            .ctx(|| format!("listing {}", dir.display()))?
            .flatten()
        {
            if fs::remove_file(e.path()).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }
}

/// A blob being written. Dropped without `commit`, it leaves nothing behind.
pub struct BlobWriter {
    store: ContentStore,
    tmp: Option<PathBuf>,
    /// Taken by `commit`; always there while the writer is in use.
    out: Option<DigestWriter<File>>,
    expected: Expected,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.as_mut().expect("not committed").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.as_mut().expect("not committed").flush()
    }
}

impl BlobWriter {
    /// Verifies, syncs and publishes the blob; returns its digest and size.
    pub fn commit(mut self) -> Result<(Digest, u64)> {
        let tmp = self.tmp.take().expect("committed once");
        let (file, digest, size) = self.out.take().expect("committed once").finish();
        let what = if self.expected.what.is_empty() {
            digest.to_string()
        } else {
            self.expected.what.clone()
        };
        let fail = |e: Error| {
            let _ = fs::remove_file(&tmp);
            e
        };
        if let Some(want) = &self.expected.digest
            && *want != digest
        {
            return Err(fail(Error::DigestMismatch {
                what,
                expected: want.to_string(),
                actual: digest.to_string(),
            }));
        }
        if let Some(want) = self.expected.size
            && want != size
        {
            return Err(fail(Error::SizeMismatch {
                what,
                expected: want,
                actual: size,
            }));
        }
        file.sync_all()
            .map_err(|e| fail(Error::io(format!("syncing {}", tmp.display()), e)))?;
        drop(file);
        let dest = self.store.path(&digest);
        fs::rename(&tmp, &dest)
            .map_err(|e| fail(Error::io(format!("publishing blob {digest}"), e)))?;
        Ok((digest, size))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_read_and_verify() {
        let d = tempfile::tempdir().unwrap();
        let s = ContentStore::open(d.path()).unwrap();
        let dg = s.put(b"hello").unwrap();
        assert_eq!(s.read(&dg).unwrap(), b"hello");
        assert_eq!(s.list().unwrap(), vec![dg.clone()]);
        let wrong = Digest::of(b"other");
        let err = s.put_expected(
            b"hello!",
            Expected {
                digest: Some(wrong.clone()),
                what: "layer 1".into(),
                ..Default::default()
            },
        );
        assert!(matches!(err, Err(Error::DigestMismatch { .. })), "{err:?}");
        assert!(!s.has(&wrong));
        let err = s.put_expected(
            b"abc",
            Expected {
                size: Some(4),
                ..Default::default()
            },
        );
        assert!(matches!(err, Err(Error::SizeMismatch { .. })));
        assert_eq!(
            fs::read_dir(d.path().join("ingest")).unwrap().count(),
            0,
            "no partial blob left"
        );
    }

    #[test]
    fn an_abandoned_writer_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let s = ContentStore::open(d.path()).unwrap();
        let mut w = s.writer(Expected::default()).unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        assert_eq!(fs::read_dir(d.path().join("ingest")).unwrap().count(), 0);
        assert!(s.list().unwrap().is_empty());
    }
}
