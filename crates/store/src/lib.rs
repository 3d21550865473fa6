#![forbid(unsafe_code)]
//! berth's state store: one redb database under the data root, one
//! table per kind of object, each object a JSON document under its id.
//!
//! Why redb: an embedded, pure-Rust, copy-on-write B-tree with ACID
//! transactions; a commit is atomic and durable when `commit` returns, so a
//! daemon killed with SIGKILL at any instant reopens to the last commit. It
//! also locks the file, so two daemons cannot share one data root.
//!
//! Writes commit in groups: a writer queues its change (cheap, so callers
//! queue under their own lock and the store's order is theirs), then waits
//! for it to be durable; the first waiter commits everything queued so far
//! in one transaction, one fsync, while later writers queue behind it. One
//! write at a time costs what it did; a hundred at once cost a few commits
//! instead of a hundred fsyncs in a row.
//!
//! After an I/O error (a full disk above all) redb refuses every later
//! transaction until the database is closed and opened again; the store
//! does that itself before its next call, so a full disk costs the writes
//! it refused and nothing else: reads go on, and writes work again as soon
//! as there is space.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, RwLock};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What can go wrong with the store; the engine maps these to its own
/// error classes at its edge.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Another process (a second daemon on the same data root) holds the
    /// database's lock.
    #[error("{path} is in use by another berth daemon{}", holder.map(|p| format!(" (pid {p} holds its lock)")).unwrap_or_default())]
    Locked {
        path: std::path::PathBuf,
        holder: Option<u32>,
    },
    #[error("state store {path}: {message}")]
    Open {
        path: std::path::PathBuf,
        message: String,
    },
    /// The file system under the database is full: the write was refused,
    /// nothing committed before it is lost, and writes work again once
    /// there is space.
    #[error("state store {path}: no space left on device")]
    NoSpace { path: PathBuf },
    #[error("state store: {0}")]
    Db(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The kinds of objects the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Containers,
    /// Image records, by image id.
    Images,
    /// Full references (`docker.io/library/busybox:latest`) to image ids.
    Tags,
    /// Volume records, by volume name.
    Volumes,
    /// Network records, by network id.
    Networks,
    /// Build cache: a step's cache key to the image id it made.
    BuildCache,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Containers,
        Kind::Images,
        Kind::Tags,
        Kind::Volumes,
        Kind::Networks,
        Kind::BuildCache,
    ];

    fn table(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        match self {
            Kind::Containers => TableDefinition::new("containers"),
            Kind::Images => TableDefinition::new("images"),
            Kind::Tags => TableDefinition::new("tags"),
            Kind::Volumes => TableDefinition::new("volumes"),
            Kind::Networks => TableDefinition::new("networks"),
            Kind::BuildCache => TableDefinition::new("build_cache"),
        }
    }
}

/// One change of a batch: an object written (Some) or removed (None).
pub type Write = (Kind, String, Option<Vec<u8>>);

const CACHE_BYTES: usize = 4 << 20;

pub struct Store {
    path: PathBuf,
    db: RwLock<Db>,
    queue: Mutex<Queue>,
    committed: Condvar,
}

/// The open database, or none when reopening it after an I/O error failed
/// (the next call tries again).
struct Db {
    db: Option<Database>,
    /// How many times it was opened: a caller reopens only the database it
    /// saw fail, not one another caller has reopened since.
    generation: u64,
}

/// A queued write's place in line: [`Store::wait`] returns once it is durable.
#[must_use = "a queued write is durable only after Store::wait"]
pub struct Ticket(u64);

#[derive(Default)]
struct Queue {
    writes: Vec<(Kind, String, Option<Vec<u8>>)>,
    /// The ticket the next queued write gets.
    next: u64,
    /// Every ticket below this has been committed (or failed).
    done: u64,
    /// A waiter is committing a batch now.
    committing: bool,
    /// Batches that failed, [from, to) with the error; the last few.
    failed: Vec<(u64, u64, Error)>,
}

fn store_err(e: impl std::fmt::Display) -> Error {
    Error::Db(e.to_string())
}

/// The pid holding a lock on `path`, from /proc/locks (flock and POSIX
/// locks both appear there, keyed by device and inode).
fn lock_holder(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    let inode = meta.ino().to_string();
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|l| {
        // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
        let f: Vec<&str> = l.split_whitespace().collect();
        let (pid, dev_ino) = (f.get(4)?, f.get(5)?);
        (dev_ino.rsplit(':').next()? == inode).then(|| pid.parse().ok())?
    })
}

/// Opens (or creates) the database at `path`.
fn open_db(path: &Path) -> Result<Database> {
    // A small cache: the store holds a few KiB per container, and the
    // daemon's resident memory is a figure we are measured on.
    redb::Builder::new()
        .set_cache_size(CACHE_BYTES)
        .create(path)
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::Locked {
                holder: lock_holder(path),
                path: path.to_path_buf(),
            },
            redb::DatabaseError::Storage(redb::StorageError::Io(io)) if is_enospc(&io) => {
                Error::NoSpace {
                    path: path.to_path_buf(),
                }
            }
            e => Error::Open {
                path: path.to_path_buf(),
                message: e.to_string(),
            },
        })
}

fn is_enospc(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
}

/// A redb error as the store reports it: a full disk by its name and the
/// database's path, anything else as redb words it.
fn db_error(path: &Path, e: redb::Error) -> Error {
    match e {
        redb::Error::Io(io) if is_enospc(&io) => Error::NoSpace {
            path: path.to_path_buf(),
        },
        e => store_err(e),
    }
}

impl Store {
    /// Opens (or creates) `<root>/berth.db`; fails when another daemon holds it.
    pub fn open(root: &Path) -> Result<Store> {
        std::fs::create_dir_all(root).map_err(|e| Error::Open {
            path: root.to_path_buf(),
            message: format!("creating the directory: {e}"),
        })?;
        let path = root.join("berth.db");
        let db = open_db(&path)?;
        // Make every table exist so that readers never meet a missing one.
        let tx = db.begin_write().map_err(store_err)?;
        for kind in Kind::ALL {
            tx.open_table(kind.table()).map_err(store_err)?;
        }
        tx.commit().map_err(|e| db_error(&path, e.into()))?;
        Ok(Store {
            path,
            db: RwLock::new(Db {
                db: Some(db),
                generation: 0,
            }),
            queue: Mutex::new(Queue::default()),
            committed: Condvar::new(),
        })
    }

    /// Runs `op` on the database. redb answers every call after an I/O
    /// error with `PreviousIo` until it is closed and opened again: then
    /// the database is reopened (which rolls back what the failed commit
    /// left and keeps every commit before it) and `op` runs once more.
    fn with_db<T>(&self, op: impl Fn(&Database) -> Result<T, redb::Error>) -> Result<T> {
        let mut retried = false;
        loop {
            let generation = {
                let db = self.db.read().expect("store database lock");
                match db.db.as_ref().map(&op) {
                    Some(Ok(v)) => return Ok(v),
                    Some(Err(redb::Error::PreviousIo)) if !retried => {}
                    Some(Err(e)) => return Err(db_error(&self.path, e)),
                    // Closed by a reopen that failed: try again.
                    None if !retried => {}
                    None => return Err(store_err("the database is closed")),
                }
                db.generation
            };
            self.reopen(generation)?;
            retried = true;
        }
    }

    /// Closes and reopens the database unless someone did since `generation`.
    fn reopen(&self, generation: u64) -> Result<()> {
        let mut db = self.db.write().expect("store database lock");
        if db.generation != generation {
            return Ok(());
        }
        // Dropped first: redb's file lock refuses a second opener, this
        // process included.
        db.db = None;
        db.db = Some(open_db(&self.path)?);
        db.generation += 1;
        Ok(())
    }

    /// Writes one object and waits until it is durable.
    pub fn put<T: Serialize>(&self, kind: Kind, id: &str, value: &T) -> Result<()> {
        let t = self.queue_put(kind, id, value)?;
        self.wait(t)
    }

    /// Removes one object and waits until that is durable.
    pub fn delete(&self, kind: Kind, id: &str) -> Result<()> {
        let t = self.queue_delete(kind, id);
        self.wait(t)
    }

    /// Queues a write of the object; durable after [`Store::wait`].
    pub fn queue_put<T: Serialize>(&self, kind: Kind, id: &str, value: &T) -> Result<Ticket> {
        let bytes = serde_json::to_vec(value).map_err(store_err)?;
        Ok(self.queue(kind, id, Some(bytes)))
    }

    /// Writes and removals that must happen together: queued at once, so
    /// they commit in one transaction (all or none), then waited for.
    pub fn apply(&self, writes: Vec<Write>) -> Result<()> {
        let ticket = {
            let mut q = self.queue.lock().expect("store queue lock");
            q.next += writes.len().max(1) as u64;
            q.writes.extend(writes);
            Ticket(q.next - 1)
        };
        self.wait(ticket)
    }

    /// Every object of a kind, with its key, as stored.
    pub fn all_raw(&self, kind: Kind) -> Result<Vec<(String, Vec<u8>)>> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(kind.table())?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (k, v) = entry?;
                out.push((k.value().to_string(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// Queues the removal of an object; durable after [`Store::wait`].
    pub fn queue_delete(&self, kind: Kind, id: &str) -> Ticket {
        self.queue(kind, id, None)
    }

    fn queue(&self, kind: Kind, id: &str, bytes: Option<Vec<u8>>) -> Ticket {
        let mut q = self.queue.lock().expect("store queue lock");
        q.writes.push((kind, id.to_string(), bytes));
        q.next += 1;
        Ticket(q.next - 1)
    }

    /// Waits until the ticket's write (and every one queued before it) is
    /// committed, committing the queue itself when no one else is.
    pub fn wait(&self, t: Ticket) -> Result<()> {
        let mut q = self.queue.lock().expect("store queue lock");
        loop {
            if t.0 < q.done {
                return match q
                    .failed
                    .iter()
                    .find(|(from, to, _)| (*from..*to).contains(&t.0))
                {
                    Some((_, _, e)) => Err(e.clone()),
                    None => Ok(()),
                };
            }
            if q.committing {
                q = self.committed.wait(q).expect("store queue lock");
                continue;
            }
            q.committing = true;
            let batch = std::mem::take(&mut q.writes);
            let (from, to) = (q.done, q.next);
            drop(q);
            let res = self.commit(&batch);
            q = self.queue.lock().expect("store queue lock");
            q.committing = false;
            q.done = to;
            if let Err(e) = res {
                q.failed.push((from, to, e));
                let excess = q.failed.len().saturating_sub(64);
                q.failed.drain(..excess);
            }
            self.committed.notify_all();
        }
    }

    /// One transaction for the whole batch, in queue order.
    fn commit(&self, batch: &[(Kind, String, Option<Vec<u8>>)]) -> Result<()> {
        // Set when `commit` itself failed: redb's failed commit is all or
        // nothing, but "nothing" is not certain, it may have become durable
        // before the error (a failed fsync). (A retry after PreviousIo is
        // harmless: the batch's writes are idempotent.)
        let unsure = std::cell::Cell::new(false);
        let res = self.with_db(|db| {
            let tx = db.begin_write()?;
            for (kind, id, bytes) in batch {
                let mut table = tx.open_table(kind.table())?;
                match bytes {
                    Some(b) => table.insert(id.as_str(), b.as_slice()).map(|_| ())?,
                    None => table.remove(id.as_str()).map(|_| ())?,
                }
            }
            tx.commit().inspect_err(|e| {
                unsure.set(!matches!(e, redb::CommitError::TransactionPoisoned));
            })?;
            Ok(())
        });
        let Err(e) = res else { return Ok(()) };
        if !unsure.get() {
            return Err(e);
        }
        // Reopened, the database tells which, so that a writer is never
        // told that a write failed which is in fact there.
        let generation = self.db.read().expect("store database lock").generation;
        if self.reopen(generation).is_ok() && self.batch_is_there(batch) {
            return Ok(());
        }
        Err(e)
    }

    /// True when every key of the batch holds what the batch left in it.
    fn batch_is_there(&self, batch: &[(Kind, String, Option<Vec<u8>>)]) -> bool {
        // The last write of a key is what it must hold.
        let mut last = std::collections::HashMap::new();
        for (kind, id, bytes) in batch {
            last.insert((*kind, id.as_str()), bytes);
        }
        self.with_db(|db| {
            let tx = db.begin_read()?;
            for ((kind, id), bytes) in &last {
                let table = tx.open_table(kind.table())?;
                let now = table.get(*id)?;
                if now.as_ref().map(|v| v.value()) != bytes.as_deref() {
                    return Ok(false);
                }
            }
            Ok(true)
        })
        .unwrap_or(false)
    }

    /// Every object of a kind. A record that no longer parses is reported,
    /// not dropped silently, and does not stop the others from loading.
    pub fn all<T: DeserializeOwned>(&self, kind: Kind) -> Result<Vec<T>> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(kind.table())?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (k, v) = entry?;
                match serde_json::from_slice(v.value()) {
                    Ok(obj) => out.push(obj),
                    Err(e) => eprintln!("berth: state store: skipping {kind:?} {}: {e}", k.value()),
                }
            }
            Ok(out)
        })
    }

    /// One object, or None when there is none by that id.
    pub fn get<T: DeserializeOwned>(&self, kind: Kind, id: &str) -> Result<Option<T>> {
        let bytes = self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(kind.table())?;
            Ok(table.get(id)?.map(|v| v.value().to_vec()))
        })?;
        let Some(v) = bytes else { return Ok(None) };
        serde_json::from_slice(&v)
            .map(Some)
            .map_err(|e| Error::Db(format!("{kind:?} {id}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_writers_share_commits_and_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = std::sync::Arc::new(Store::open(dir.path()).unwrap());
            let threads: Vec<_> = (0..8)
                .map(|t| {
                    let store = store.clone();
                    std::thread::spawn(move || {
                        for i in 0..50 {
                            store
                                .put(Kind::Containers, &format!("{t}-{i}"), &(t, i))
                                .unwrap();
                        }
                        // The same key rewritten: the last queued wins.
                        for i in 0..5 {
                            store
                                .put(Kind::Containers, &format!("{t}-last"), &i)
                                .unwrap();
                        }
                        store.delete(Kind::Containers, &format!("{t}-0")).unwrap();
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
        // Reopened: every write that returned is there.
        let store = Store::open(dir.path()).unwrap();
        let all: Vec<serde_json::Value> = store.all(Kind::Containers).unwrap();
        assert_eq!(all.len(), 8 * 50 - 8 + 8);
        for t in 0..8 {
            let last: Option<i32> = store.get(Kind::Containers, &format!("{t}-last")).unwrap();
            assert_eq!(last, Some(4));
            let gone: Option<(i32, i32)> = store.get(Kind::Containers, &format!("{t}-0")).unwrap();
            assert!(gone.is_none());
            let v: Option<(i32, i32)> = store.get(Kind::Containers, &format!("{t}-49")).unwrap();
            assert_eq!(v, Some((t, 49)));
        }
    }

    #[test]
    fn a_second_opener_is_refused_with_the_path_and_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path()).err().expect("the lock is held");
        let Error::Locked { path, holder } = &err else {
            panic!("not a lock error: {err}");
        };
        assert_eq!(path, &dir.path().join("berth.db"));
        // redb locks the file in this very process: /proc/locks names us.
        assert_eq!(*holder, Some(std::process::id()));
        let text = err.to_string();
        assert!(
            text.contains("berth.db is in use by another berth daemon"),
            "{text}"
        );
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
    }

    #[test]
    fn queued_writes_commit_in_queue_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = store.queue_put(Kind::Containers, "x", &1).unwrap();
        let b = store.queue_put(Kind::Containers, "x", &2).unwrap();
        let c = store.queue_delete(Kind::Containers, "y");
        // Waiting for the last commits the earlier ones with it.
        store.wait(c).unwrap();
        store.wait(a).unwrap();
        store.wait(b).unwrap();
        let all: Vec<i32> = store.all(Kind::Containers).unwrap();
        assert_eq!(all, vec![2]);
    }
}
