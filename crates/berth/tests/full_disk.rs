#![forbid(unsafe_code)]
//! A full data root under a running `berth daemon`: creates fail with
//! "no space left on device", lists go on, and once space is freed the same
//! creates succeed with no restart of the daemon.
//!
//! Needs root (a small tmpfs as the data root): skips without it, except
//! under CI=true.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_testkit::{OutputExt, require_root};
use common::Store;

/// A tmpfs mounted on `dir`, unmounted when dropped (lazily, so a daemon
/// still running after a failed assertion does not keep it).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("running mount");
        assert!(status.success(), "mount -t tmpfs on {dir:?}");
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 << 10];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.write_all(&[0u8; 512]);
}

#[test]
fn a_full_data_root_fails_creates_clearly_and_the_daemon_recovers_by_itself() {
    if !require_root() {
        return;
    }
    let store = Store::new();
    let _fs = Tmpfs::mount(&store.root(), "16m");
    let image = store.import_busybox("fullbb:test");
    store
        .berth(&["volume", "create", "before"])
        .assert_success();
    store
        .berth(&["create", "--name", "c-before", &image, "true"])
        .assert_success();

    let filler = store.root().join("filler");
    fill(&filler);

    // Full: creates fail, saying why.
    for args in [
        &["volume", "create", "during"][..],
        &["create", "--name", "c-during", &image, "true"][..],
    ] {
        let out = store.berth(args);
        assert!(!out.status.success(), "{args:?} succeeded on a full disk");
        let err = out.stderr_str();
        assert!(
            err.contains("no space left on device"),
            "{args:?}: {err}\nthe daemon's log:\n{}",
            std::fs::read_to_string(store.path("store-daemon.log")).unwrap_or_default()
        );
    }

    // Lists go on, and show what was there before.
    let vols = store.berth(&["volume", "ls", "-q"]);
    vols.assert_success();
    assert!(vols.stdout_str().lines().any(|l| l == "before"), "{vols:?}");
    assert!(!vols.stdout_str().contains("during"), "{vols:?}");
    let ps = store.berth(&["ps", "-a", "--format", "{{.Names}}"]);
    ps.assert_success();
    assert!(ps.stdout_str().contains("c-before"), "{ps:?}");

    // Space again: the same creates succeed from the same daemon.
    std::fs::remove_file(&filler).unwrap();
    store
        .berth(&["volume", "create", "during"])
        .assert_success();
    store
        .berth(&["create", "--name", "c-during", &image, "true"])
        .assert_success();
    let vols = store.berth(&["volume", "ls", "-q"]).stdout_str();
    assert!(vols.lines().any(|l| l == "during"), "{vols}");
    let ps = store
        .berth(&["ps", "-a", "--format", "{{.Names}}"])
        .stdout_str();
    assert!(ps.contains("c-during") && ps.contains("c-before"), "{ps}");

    store
        .berth(&["rm", "c-before", "c-during"])
        .assert_success();
    store.stop_daemon();
}
