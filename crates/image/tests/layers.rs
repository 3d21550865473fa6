//! Applying layers: the hostile corpus (tests/data/hostile, made by
//! make-hostile.py) never writes outside the destination and gets a clear
//! error naming the entry; a well-formed layer keeps everything a layer holds.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_image::layer;
use berth_testkit::require_root;

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hostile")
        .join(name)
}

/// A sandbox with `dest` (where the layer goes) beside `outside` (which must
/// not change): returns the result of applying, and the sandbox.
fn apply_hostile(name: &str) -> (berth_image::Result<layer::Applied>, tempfile::TempDir) {
    let sandbox = tempfile::tempdir().unwrap();
    fs::create_dir(sandbox.path().join("dest")).unwrap();
    fs::create_dir(sandbox.path().join("outside")).unwrap();
    fs::write(sandbox.path().join("outside/sentinel"), "keep\n").unwrap();
    let r = layer::apply(
        fs::File::open(corpus(name)).unwrap(),
        &sandbox.path().join("dest"),
    );
    (r, sandbox)
}

fn assert_nothing_outside(sandbox: &Path) {
    let mut names: Vec<String> = fs::read_dir(sandbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["dest", "outside"],
        "something was written beside the destination"
    );
    let outside: Vec<_> = fs::read_dir(sandbox.join("outside")).unwrap().collect();
    assert_eq!(outside.len(), 1);
    assert_eq!(
        fs::read_to_string(sandbox.join("outside/sentinel")).unwrap(),
        "keep\n"
    );
    assert!(!Path::new("/escaped").exists() && !Path::new("/tmp/pwned").exists());
}

fn refused(name: &str, entry: &str, why: &str) {
    let (r, sandbox) = apply_hostile(name);
    let err = r.expect_err(name).to_string();
    assert!(
        err.contains(entry),
        "{name}: error {err:?} does not name {entry:?}"
    );
    assert!(
        err.contains(why),
        "{name}: error {err:?} does not say {why:?}"
    );
    assert_nothing_outside(sandbox.path());
}

#[test]
fn dotdot_entries_are_refused() {
    if !require_root() {
        return;
    }
    refused("dotdot.tar", "../escaped", "climbs out");
    refused("dotdot-nested.tar", "a/../../escaped", "climbs out");
}

#[test]
fn absolute_names_are_confined() {
    if !require_root() {
        return;
    }
    let (r, sandbox) = apply_hostile("absolute.tar");
    r.unwrap();
    assert_eq!(
        fs::read_to_string(sandbox.path().join("dest/etc/absolute-file")).unwrap(),
        "confined\n"
    );
    assert_nothing_outside(sandbox.path());
    let (r, sandbox) = apply_hostile("symlink-absolute.tar");
    r.unwrap();
    assert_eq!(
        fs::read_to_string(sandbox.path().join("dest/etc/through-abs")).unwrap(),
        "confined\n"
    );
    assert_nothing_outside(sandbox.path());
}

#[test]
fn symlink_escapes_are_refused() {
    if !require_root() {
        return;
    }
    refused(
        "symlink-relative-escape.tar",
        "evil/pwned",
        "points outside the layer",
    );
    refused("symlink-loop.tar", "a/x", "");
}

#[test]
fn hard_links_to_outside_are_refused() {
    if !require_root() {
        return;
    }
    refused("hardlink-dotdot.tar", "h", "climbs out of the layer root");
    refused("hardlink-absolute-missing.tar", "h", "/etc/shadow");
    refused("hardlink-through-symlink.tar", "h", "s/etc/passwd");
}

#[test]
fn truncated_gzip_is_an_error() {
    if !require_root() {
        return;
    }
    let (r, sandbox) = apply_hostile("truncated.tar.gz");
    let err = r.unwrap_err().to_string();
    assert!(err.contains("big") || err.contains("tar stream"), "{err}");
    assert!(
        err.contains("truncated") || err.contains("incomplete"),
        "{err}"
    );
    assert_nothing_outside(sandbox.path());
}

/// A layer with every kind of entry, built with Python's tarfile.
#[test]
fn everything_a_layer_holds_is_kept() {
    if !require_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let tar = work.path().join("layer.tar.gz");
    let script = format!(
        r##"
import gzip, io, tarfile
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    def add(name, **kw):
        data = kw.pop("data", None)
        i = tarfile.TarInfo(name)
        i.mtime = 1600000000
        for k, v in kw.items():
            setattr(i, k, v)
        if data is not None:
            i.size = len(data)
        t.addfile(i, io.BytesIO(data) if data is not None else None)
    add("bin", type=tarfile.DIRTYPE, mode=0o755)
    add("bin/su", data=b"#!/bin/sh\n", mode=0o4755, uid=0, gid=0)
    add("home", type=tarfile.DIRTYPE, mode=0o755)
    add("home/user", type=tarfile.DIRTYPE, mode=0o700, uid=1000, gid=1000)
    add("home/user/file", data=b"hello\n", mode=0o640, uid=1000, gid=1001)
    add("home/user/link", type=tarfile.SYMTYPE, linkname="file", uid=1000, gid=1000)
    add("home/user/hard", type=tarfile.LNKTYPE, linkname="home/user/file")
    add("dev", type=tarfile.DIRTYPE, mode=0o755)
    add("dev/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)
    add("fifo", type=tarfile.FIFOTYPE, mode=0o600)
    add("etc", type=tarfile.DIRTYPE, mode=0o755)
    add("etc/.wh.removed")
    add("opaque", type=tarfile.DIRTYPE, mode=0o755)
    add("opaque/.wh..wh..opq")
    i = tarfile.TarInfo("caps")
    i.pax_headers = {{"SCHILY.xattr.user.berth": "yes"}}
    i.size = 1
    t.addfile(i, io.BytesIO(b"x"))
open("{}", "wb").write(gzip.compress(buf.getvalue()))
"##,
        tar.display()
    );
    let ok = std::process::Command::new("python3")
        .arg("-c")
        .arg(&script)
        .status()
        .unwrap();
    assert!(ok.success());
    let dest = work.path().join("dest");
    fs::create_dir(&dest).unwrap();
    let applied = layer::apply(fs::File::open(&tar).unwrap(), &dest).unwrap();
    assert!(applied.size > 0);

    let su = fs::metadata(dest.join("bin/su")).unwrap();
    assert_eq!(
        su.permissions().mode() & 0o7777,
        0o4755,
        "setuid kept after chown"
    );
    let file = fs::metadata(dest.join("home/user/file")).unwrap();
    assert_eq!(
        (file.uid(), file.gid(), file.mode() & 0o777),
        (1000, 1001, 0o640)
    );
    assert_eq!(file.mtime(), 1600000000);
    assert_eq!(file.nlink(), 2, "hard link shares the inode");
    assert_eq!(
        fs::metadata(dest.join("home/user/hard")).unwrap().ino(),
        file.ino()
    );
    assert_eq!(
        fs::read_link(dest.join("home/user/link")).unwrap(),
        Path::new("file")
    );
    let home = fs::metadata(dest.join("home/user")).unwrap();
    assert_eq!(
        (home.uid(), home.mode() & 0o777, home.mtime()),
        (1000, 0o700, 1600000000)
    );
    let null = fs::metadata(dest.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert!(
        fs::metadata(dest.join("fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // OCI whiteouts became overlayfs ones.
    let wh = fs::symlink_metadata(dest.join("etc/removed")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert!(!dest.join("etc/.wh.removed").exists());
    let opq = xattr(&dest.join("opaque"), "trusted.overlay.opaque");
    assert_eq!(opq.as_deref(), Some(&b"y"[..]));
    assert_eq!(
        xattr(&dest.join("caps"), "user.berth").as_deref(),
        Some(&b"yes"[..])
    );
}

fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    xattr::get(p, name).ok().flatten()
}

/// Changes made through an overlay mount come back out of its upper
/// directory as an OCI layer: deletions as `.wh.` files, a replaced
/// directory as opaque, new and changed files as themselves.
#[test]
fn overlay_changes_become_a_layer() {
    if !require_root() {
        return;
    }
    let w = tempfile::tempdir().unwrap();
    let [lower, upper, work, merged] = ["lower", "upper", "work", "merged"].map(|d| {
        let p = w.path().join(d);
        fs::create_dir(&p).unwrap();
        p
    });
    fs::write(lower.join("gone"), "x").unwrap();
    fs::write(lower.join("keep"), "old").unwrap();
    fs::create_dir(lower.join("d")).unwrap();
    fs::write(lower.join("d/old"), "x").unwrap();
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    nix::mount::mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(opts.as_str()),
    )
    .unwrap();
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let guard = Unmount(merged.clone());
    fs::remove_file(merged.join("gone")).unwrap();
    fs::write(merged.join("keep"), "new").unwrap();
    fs::remove_dir_all(merged.join("d")).unwrap();
    fs::create_dir(merged.join("d")).unwrap();
    fs::write(merged.join("d/fresh"), "y").unwrap();
    fs::write(merged.join("added"), "z").unwrap();
    drop(guard);

    let mut tar = Vec::new();
    let (diff_id, size) = berth_image::diff::write_layer(&upper, &mut tar).unwrap();
    assert_eq!(size as usize, tar.len());
    assert_eq!(diff_id, berth_image::Digest::of(&tar));
    let mut names: Vec<String> = tar::Archive::new(&tar[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "added",
            "d",
            "d/.wh..wh..opq",
            "d/fresh",
            "keep",
            ".wh.gone"
        ]
        .map(String::from)
        .iter()
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    // And applying it again gives the same upper layer.
    let again = w.path().join("again");
    fs::create_dir(&again).unwrap();
    let applied = layer::apply(&tar[..], &again).unwrap();
    assert_eq!(applied.diff_id, diff_id);
    assert!(
        fs::symlink_metadata(again.join("gone"))
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert_eq!(
        xattr(&again.join("d"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(fs::read_to_string(again.join("keep")).unwrap(), "new");
}

/// zstd-compressed layers (OCI's tar+zstd) apply like gzip ones.
#[test]
fn zstd_layers_apply() {
    if !require_root() {
        return;
    }
    let Some(zstd) = berth_testkit::require_tool("zstd") else {
        return;
    };
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    fs::create_dir_all(src.join("etc")).unwrap();
    fs::write(src.join("etc/hello"), "zstd\n").unwrap();
    let tar = w.path().join("l.tar");
    assert!(
        std::process::Command::new("tar")
            .arg("-C")
            .arg(&src)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap()
            .success()
    );
    assert!(
        std::process::Command::new(zstd)
            .arg("-q")
            .arg(&tar)
            .status()
            .unwrap()
            .success()
    );
    let dest = w.path().join("dest");
    fs::create_dir(&dest).unwrap();
    let applied = layer::apply(fs::File::open(w.path().join("l.tar.zst")).unwrap(), &dest).unwrap();
    assert_eq!(
        fs::read_to_string(dest.join("etc/hello")).unwrap(),
        "zstd\n"
    );
    // The diff_id is the digest of the uncompressed tar.
    assert_eq!(
        applied.diff_id,
        berth_image::Digest::of(&fs::read(&tar).unwrap())
    );
}
