//! The engine's state store: one redb database under the data root, one
//! table per kind of object, each object a JSON document under its id.
//!
//! Why redb: an embedded, pure-Rust, copy-on-write B-tree with ACID
//! transactions; a commit is atomic and durable when `commit` returns, so a
//! daemon killed with SIGKILL at any instant reopens to the last commit. It
//! also locks the file, so two daemons cannot share one data root.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The kinds of objects the store keeps.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Containers,
}

impl Kind {
    fn table(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        match self {
            Kind::Containers => TableDefinition::new("containers"),
        }
    }
}

const CACHE_BYTES: usize = 4 << 20;

pub struct Store {
    db: Database,
}

fn store_err(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("state store: {e}"))
}

impl Store {
    /// Opens (or creates) `<root>/berth.db`; fails when another daemon holds it.
    pub fn open(root: &Path) -> Result<Store> {
        std::fs::create_dir_all(root)
            .map_err(|e| Error::Internal(format!("creating {}: {e}", root.display())))?;
        let path = root.join("berth.db");
        // A small cache: the store holds a few KiB per container, and the
        // daemon's resident memory is a figure we are measured on.
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => Error::Internal(format!(
                    "{} is in use by another berth daemon",
                    path.display()
                )),
                e => Error::Internal(format!("opening the state store {}: {e}", path.display())),
            })?;
        // Make every table exist so that readers never meet a missing one.
        let tx = db.begin_write().map_err(store_err)?;
        tx.open_table(Kind::Containers.table()).map_err(store_err)?;
        tx.commit().map_err(store_err)?;
        Ok(Store { db })
    }

    /// Writes one object in its own transaction.
    pub fn put<T: Serialize>(&self, kind: Kind, id: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(store_err)?;
        let tx = self.db.begin_write().map_err(store_err)?;
        {
            let mut table = tx.open_table(kind.table()).map_err(store_err)?;
            table.insert(id, bytes.as_slice()).map_err(store_err)?;
        }
        tx.commit().map_err(store_err)
    }

    pub fn delete(&self, kind: Kind, id: &str) -> Result<()> {
        let tx = self.db.begin_write().map_err(store_err)?;
        {
            let mut table = tx.open_table(kind.table()).map_err(store_err)?;
            table.remove(id).map_err(store_err)?;
        }
        tx.commit().map_err(store_err)
    }

    /// Every object of a kind. A record that no longer parses is reported,
    /// not dropped silently, and does not stop the others from loading.
    pub fn all<T: DeserializeOwned>(&self, kind: Kind) -> Result<Vec<T>> {
        let tx = self.db.begin_read().map_err(store_err)?;
        let table = tx.open_table(kind.table()).map_err(store_err)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(store_err)? {
            let (k, v) = entry.map_err(store_err)?;
            match serde_json::from_slice(v.value()) {
                Ok(obj) => out.push(obj),
                Err(e) => eprintln!("berth: state store: skipping {kind:?} {}: {e}", k.value()),
            }
        }
        Ok(out)
    }
}
