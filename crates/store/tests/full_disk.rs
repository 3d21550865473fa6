//! A full disk under the store: writes fail with a clear error naming the
//! database, reads go on, and writes work again once space is freed,
//! without reopening the store; nothing committed is lost.
//!
//! Needs root, for a small tmpfs as the data root.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_store::{Error, Kind, Store};

/// A tmpfs mounted on a temporary directory, unmounted when dropped (also
/// when the test fails).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("running mount");
        assert!(status.success(), "mount -t tmpfs on {:?}", dir.path());
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a store still open (a panic mid-test) must not leave the
        // mount behind.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 << 10];
    loop {
        match f.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filling {path:?}: {e}"),
        }
    }
    // What the last partial write left: fill the last few bytes too.
    let _ = f.write_all(&[0u8; 512]);
}

fn record(i: usize) -> (String, String) {
    (format!("v{i}"), format!("{i}:{}", "x".repeat(2000)))
}

fn assert_no_space(err: &Error, db: &Path) {
    let Error::NoSpace { path } = err else {
        panic!("not a full-disk error: {err}");
    };
    assert_eq!(path, db);
    let text = err.to_string();
    assert!(text.contains("no space left on device"), "{text}");
    assert!(text.contains(&db.display().to_string()), "{text}");
}

/// The store holds exactly the `committed` records, none of the `failed`.
fn check(store: &Store, committed: &[usize], failed: &[usize]) {
    let mut all: Vec<String> = store.all(Kind::Volumes).unwrap();
    all.sort();
    let mut expected: Vec<String> = committed.iter().map(|&i| record(i).1).collect();
    expected.sort();
    assert_eq!(all, expected);
    for &i in failed {
        let got: Option<String> = store.get(Kind::Volumes, &record(i).0).unwrap();
        assert!(got.is_none(), "v{i} failed, yet it is there");
    }
}

#[test]
fn a_full_disk_refuses_writes_clearly_and_the_store_recovers_by_itself() {
    if !berth_testkit::require_root() {
        return;
    }
    let fs = Tmpfs::mount("2m");
    let db: PathBuf = fs.path().join("berth.db");
    let filler = fs.path().join("filler");
    let store = Store::open(fs.path()).unwrap();

    let mut committed = Vec::new();
    for i in 0..20 {
        let (id, v) = record(i);
        store.put(Kind::Volumes, &id, &v).unwrap();
        committed.push(i);
    }

    // Full: a write fails, soon, with the path and the cause.
    fill(&filler);
    let mut failed = Vec::new();
    for i in 20..2000 {
        let (id, v) = record(i);
        match store.put(Kind::Volumes, &id, &v) {
            Ok(()) => committed.push(i),
            Err(e) => {
                assert_no_space(&e, &db);
                failed.push(i);
                break;
            }
        }
    }
    assert!(!failed.is_empty(), "no write failed on a full tmpfs");

    // The next writes say the same, not redb's "previous I/O error"; a
    // batch fails as one.
    let (id, v) = record(5000);
    assert_no_space(&store.put(Kind::Volumes, &id, &v).unwrap_err(), &db);
    failed.push(5000);
    let batch = (5001..5004)
        .map(|i| {
            let (id, v) = record(i);
            (Kind::Volumes, id, Some(serde_json::to_vec(&v).unwrap()))
        })
        .collect();
    assert_no_space(&store.apply(batch).unwrap_err(), &db);
    failed.extend(5001..5004);

    // Reads go on, and see every committed record and no failed one.
    check(&store, &committed, &failed);

    // Space again: the same store writes, with no restart.
    std::fs::remove_file(&filler).unwrap();
    let (id, v) = record(failed[0]);
    store.put(Kind::Volumes, &id, &v).unwrap();
    committed.push(failed.remove(0));
    let (id, v) = record(9000);
    store.put(Kind::Volumes, &id, &v).unwrap();
    committed.push(9000);
    store.delete(Kind::Volumes, &record(0).0).unwrap();
    committed.retain(|&i| i != 0);
    check(&store, &committed, &failed);

    // And all of it is durable: a fresh open sees the same.
    drop(store);
    let store = Store::open(fs.path()).unwrap();
    check(&store, &committed, &failed);
}
