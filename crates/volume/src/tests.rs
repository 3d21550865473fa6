use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::*;

/// A volume root's permission bits.
fn data_mode(vols: &Volumes, name: &str) -> Option<u32> {
    fs::metadata(vols.mountpoint(name))
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

fn open(dir: &Path) -> Volumes {
    let store = Arc::new(Store::open(dir).unwrap());
    Volumes::open(dir, store).unwrap()
}

fn named(name: &str) -> CreateRequest {
    CreateRequest {
        name: Some(name.into()),
        ..Default::default()
    }
}

#[test]
fn create_is_idempotent_and_lists_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let vols = open(dir.path());
    let a = vols.create(named("zeta")).unwrap();
    vols.create(named("alpha")).unwrap();
    assert_eq!(vols.create(named("zeta")).unwrap(), a);
    let names: Vec<String> = vols.list().unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["alpha", "zeta"]);
    assert!(vols.mountpoint("zeta").is_dir());
    assert_eq!(data_mode(&vols, "zeta"), Some(0o755));
    let anon = vols.create(CreateRequest::default()).unwrap();
    assert_eq!(anon.name.len(), 64);
    assert!(anon.is_anonymous());
    assert_eq!(anon.driver, LOCAL);
}

#[test]
fn bad_names_drivers_and_options_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let vols = open(dir.path());
    for (name, want) in [
        ("a", "too short"),
        ("../x", "invalid characters"),
        ("-x", "invalid characters"),
        ("a b", "invalid characters"),
        ("x/y", "invalid characters"),
    ] {
        let err = vols.create(named(name)).unwrap_err();
        assert!(matches!(err, Error::InvalidParameter(_)), "{name}: {err}");
        assert!(err.to_string().contains(want), "{name}: {err}");
    }
    let err = vols
        .create(CreateRequest {
            name: Some("ok".into()),
            driver: Some("nfsplug".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        err.to_string().contains("plugin \"nfsplug\" not found"),
        "{err}"
    );
    let err = vols
        .create(CreateRequest {
            name: Some("ok".into()),
            options: [("type".to_string(), "tmpfs".to_string())].into(),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "missing required option: \"device\"");
    assert!(vols.list().unwrap().is_empty());
    let left: Vec<_> = fs::read_dir(dir.path().join("volumes")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn remove_takes_record_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let vols = open(dir.path());
    vols.create(named("data")).unwrap();
    fs::write(vols.mountpoint("data").join("f"), b"x").unwrap();
    vols.remove("data").unwrap();
    assert!(matches!(vols.get("data"), Err(Error::NotFound(_))));
    assert!(!dir.path().join("volumes/data").exists());
    assert_eq!(
        vols.remove("data").unwrap_err().to_string(),
        "get data: no such volume"
    );
}

/// A daemon killed between the steps of a removal or a creation: on the
/// next open the volume is whole or gone.
#[test]
fn interrupted_changes_are_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let vols = open(dir.path());
        vols.create(named("kept")).unwrap();
        vols.create(named("gone")).unwrap();
        vols.create(named("bare")).unwrap();
        fs::write(vols.mountpoint("kept").join("f"), b"data").unwrap();
        // kept: renamed aside, record still there (killed before the delete).
        fs::rename(
            dir.path().join("volumes/kept"),
            dir.path().join("volumes/.removing-kept"),
        )
        .unwrap();
        // gone: renamed aside and record deleted (killed before the data).
        fs::rename(
            dir.path().join("volumes/gone"),
            dir.path().join("volumes/.removing-gone"),
        )
        .unwrap();
        vols.store.delete(Kind::Volumes, "gone").unwrap();
        // bare: record written, directory not yet made.
        fs::remove_dir_all(dir.path().join("volumes/bare")).unwrap();
    }
    let vols = open(dir.path());
    assert_eq!(
        fs::read(vols.mountpoint("kept").join("f")).unwrap(),
        b"data"
    );
    assert!(!dir.path().join("volumes/.removing-kept").exists());
    assert!(!dir.path().join("volumes/.removing-gone").exists());
    assert!(vols.get("gone").is_err());
    assert!(vols.mountpoint("bare").is_dir());
}

#[test]
fn copy_up_keeps_metadata_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let src = root.join("var/lib/app");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("sub/file"), b"hello").unwrap();
    fs::set_permissions(src.join("sub/file"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::hard_link(src.join("sub/file"), src.join("link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.join("abs")).unwrap();
    fs::set_permissions(&src, fs::Permissions::from_mode(0o750)).unwrap();
    // A symlink in the image that points out of its root resolves inside it.
    std::os::unix::fs::symlink("/var/lib/app", root.join("alias")).unwrap();

    let dest = dir.path().join("vol");
    fs::create_dir(&dest).unwrap();
    assert!(copy_up(&root, "/alias", &dest).unwrap());
    assert_eq!(fs::read(dest.join("sub/file")).unwrap(), b"hello");
    let f = fs::metadata(dest.join("sub/file")).unwrap();
    assert_eq!(f.permissions().mode() & 0o7777, 0o640);
    assert_eq!(f.ino(), fs::metadata(dest.join("link")).unwrap().ino());
    assert_eq!(
        fs::read_link(dest.join("abs")).unwrap(),
        Path::new("/etc/passwd")
    );
    assert_eq!(
        fs::metadata(&dest).unwrap().permissions().mode() & 0o7777,
        0o750
    );

    // Not empty any more: never overwritten.
    fs::write(dest.join("sub/file"), b"changed").unwrap();
    assert!(!copy_up(&root, "/var/lib/app", &dest).unwrap());
    assert_eq!(fs::read(dest.join("sub/file")).unwrap(), b"changed");

    // A path the image lacks, or a file: nothing to copy.
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    assert!(!copy_up(&root, "/nope", &empty).unwrap());
    assert!(!copy_up(&root, "/var/lib/app/sub/file", &empty).unwrap());
    // `..` cannot climb out of the root.
    assert!(!copy_up(&root, "/../../../../etc", &empty).unwrap());
}

#[test]
fn disk_usage_counts_hard_links_once() {
    let dir = tempfile::tempdir().unwrap();
    let vols = open(dir.path());
    vols.create(named("du")).unwrap();
    let data = vols.mountpoint("du");
    fs::write(data.join("a"), vec![0u8; 1000]).unwrap();
    fs::hard_link(data.join("a"), data.join("b")).unwrap();
    assert_eq!(vols.size("du"), 1000);
}

/// A volume with driver options has its filesystem mounted while in use.
#[test]
fn tmpfs_volume_is_mounted_while_acquired() {
    if !nix::unistd::Uid::effective().is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI runs this as root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vols = open(dir.path());
    let v = vols
        .create(CreateRequest {
            name: Some("scratch".into()),
            options: [
                ("type", "tmpfs"),
                ("device", "tmpfs"),
                ("o", "size=1m,mode=0710"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
            ..Default::default()
        })
        .unwrap();
    let path = vols.acquire(&v).unwrap();
    let again = vols.acquire(&v).unwrap();
    assert_eq!(path, again);
    assert!(driver::is_mounted(&path));
    assert_eq!(data_mode(&vols, "scratch"), Some(0o710));
    // Removal while mounted is refused; the mount stays.
    assert!(matches!(vols.remove("scratch"), Err(Error::Conflict(_))));
    vols.release(&v).unwrap();
    assert!(driver::is_mounted(&path), "still one user");
    vols.release(&v).unwrap();
    assert!(!driver::is_mounted(&path));
    vols.remove("scratch").unwrap();
}
