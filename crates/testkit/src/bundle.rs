//! OCI bundles in temporary directories.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use tempfile::TempDir;

use crate::rootfs::busybox_rootfs;
use crate::spec::default_spec;

/// An OCI bundle: a fresh temporary directory (removed on drop) holding a
/// busybox `rootfs/` and a `config.json`.
///
/// The spec lives in memory as a [`serde_json::Value`]. Edits ([`Bundle::args`],
/// [`Bundle::terminal`], [`Bundle::edit`], [`Bundle::config_mut`]) change only
/// the memory copy; [`Bundle::write`] writes `config.json`. The runners in
/// [`crate::Runtime`] call [`Bundle::sync`] first, so a forgotten `write()` is
/// harmless — and a `config.json` a test wrote by hand is left alone unless the
/// memory copy was edited after the last write.
pub struct Bundle {
    dir: TempDir,
    config: Value,
    dirty: AtomicBool,
}

impl Bundle {
    /// A bundle with a fresh busybox rootfs and [`default_spec`], already
    /// written to `config.json`. Panics if the bundle cannot be built.
    pub fn new() -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("berth-bundle-")
            .tempdir()
            .expect("berth-testkit: cannot create bundle tempdir");
        busybox_rootfs(&dir.path().join("rootfs"))
            .expect("berth-testkit: cannot build busybox rootfs");
        let bundle = Bundle {
            dir,
            config: default_spec(),
            dirty: AtomicBool::new(true),
        };
        bundle.write();
        bundle
    }

    /// Shorthand for `Bundle::new()` followed by [`Bundle::args`].
    pub fn with_args(args: &[&str]) -> Bundle {
        let mut b = Bundle::new();
        b.args(args);
        b
    }

    /// The bundle directory (pass it as `--bundle`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `<bundle>/rootfs`.
    pub fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }

    /// `<bundle>/config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.path().join("config.json")
    }

    /// The in-memory spec.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// The in-memory spec, mutably (marks it as changed).
    pub fn config_mut(&mut self) -> &mut Value {
        self.dirty.store(true, Ordering::Relaxed);
        &mut self.config
    }

    /// Sets `process.args`.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config_mut()["process"]["args"] = args.iter().map(|a| Value::from(*a)).collect();
        self
    }

    /// Sets `process.terminal`.
    pub fn terminal(&mut self, terminal: bool) -> &mut Self {
        self.config_mut()["process"]["terminal"] = Value::from(terminal);
        self
    }

    /// Applies `f` to the spec: any field can be changed, added or removed.
    ///
    /// ```no_run
    /// # let mut bundle = berth_testkit::Bundle::new();
    /// bundle.edit(|v| {
    ///     v["process"]["user"]["uid"] = 65534.into();
    ///     v["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "network");
    /// });
    /// ```
    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) -> &mut Self {
        f(self.config_mut());
        self
    }

    /// (Re)writes `config.json` from the in-memory spec. Panics on I/O errors.
    pub fn write(&self) -> &Self {
        let text = serde_json::to_string_pretty(&self.config).expect("spec serializes");
        fs::write(self.config_path(), text).expect("berth-testkit: cannot write config.json");
        self.dirty.store(false, Ordering::Relaxed);
        self
    }

    /// Writes `config.json` if the in-memory spec changed since the last write.
    pub fn sync(&self) {
        if self.dirty.load(Ordering::Relaxed) {
            self.write();
        }
    }

    /// Writes `contents` to `rel` inside the rootfs with permission bits
    /// `mode` (e.g. `0o755`), creating parent directories; returns the host
    /// path. `rel` may start with `/`; `..` components are refused. Panics on
    /// errors.
    pub fn write_file_in_rootfs(
        &self,
        rel: impl AsRef<Path>,
        contents: impl AsRef<[u8]>,
        mode: u32,
    ) -> PathBuf {
        let rel = rel.as_ref();
        let mut path = self.rootfs();
        for c in rel.components() {
            match c {
                Component::Normal(part) => path.push(part),
                Component::RootDir | Component::CurDir => {}
                _ => panic!("berth-testkit: bad path in rootfs: {}", rel.display()),
            }
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("berth-testkit: cannot create parent dirs in rootfs");
        }
        // Remove first so a busybox applet symlink is replaced, not followed.
        let _ = fs::remove_file(&path);
        fs::write(&path, contents).expect("berth-testkit: cannot write file in rootfs");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .expect("berth-testkit: cannot chmod file in rootfs");
        path
    }
}

impl Default for Bundle {
    fn default() -> Self {
        Bundle::new()
    }
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("path", &self.path())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn on_disk(b: &Bundle) -> Value {
        serde_json::from_str(&fs::read_to_string(b.config_path()).unwrap()).unwrap()
    }

    #[test]
    fn new_writes_default_spec() {
        let b = Bundle::new();
        assert!(b.rootfs().join("bin/sh").exists());
        let v = on_disk(&b);
        assert_eq!(&v, b.config());
        assert_eq!(v["process"]["terminal"], false);
        assert_eq!(v["process"]["args"], json!(["sh"]));
        assert_eq!(v["process"]["noNewPrivileges"], true);
        assert_eq!(v["root"], json!({"path": "rootfs", "readonly": true}));
        assert_eq!(v["hostname"], "berth-test");
        let ns: Vec<_> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].clone())
            .collect();
        assert_eq!(
            ns,
            json!(["pid", "network", "ipc", "uts", "mount", "cgroup"])
                .as_array()
                .unwrap()
                .clone()
        );
        for set in ["bounding", "effective", "permitted"] {
            assert_eq!(
                v["process"]["capabilities"][set],
                json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
            );
        }
        let mounts: Vec<_> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(
            mounts,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/dev/shm",
                "/dev/mqueue",
                "/sys",
                "/sys/fs/cgroup"
            ]
        );
    }

    #[test]
    fn edits_stay_in_memory_until_written() {
        let mut b = Bundle::new();
        b.args(&["sh", "-c", "echo hi"]).terminal(true).edit(|v| {
            v["process"]["env"]
                .as_array_mut()
                .unwrap()
                .push("FOO=bar".into());
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "network");
        });
        assert_eq!(on_disk(&b)["process"]["args"], json!(["sh"]));
        b.write();
        let v = on_disk(&b);
        assert_eq!(v["process"]["args"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(v["process"]["terminal"], true);
        assert_eq!(v["process"]["env"][1], "FOO=bar");
        assert!(
            !v["linux"]["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["type"] == "network")
        );
    }

    #[test]
    fn sync_writes_only_when_dirty() {
        let mut b = Bundle::new();
        fs::write(b.config_path(), "{ hand-written").unwrap();
        b.sync();
        assert_eq!(
            fs::read_to_string(b.config_path()).unwrap(),
            "{ hand-written"
        );
        b.args(&["true"]);
        b.sync();
        assert_eq!(on_disk(&b)["process"]["args"], json!(["true"]));
    }

    #[test]
    fn write_file_in_rootfs() {
        let b = Bundle::new();
        let p = b.write_file_in_rootfs("/etc/app/conf", "x=1\n", 0o600);
        assert_eq!(p, b.rootfs().join("etc/app/conf"));
        assert_eq!(fs::read_to_string(&p).unwrap(), "x=1\n");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        // Replacing an applet symlink must not write through to bin/busybox.
        let p = b.write_file_in_rootfs("bin/true", "#!/bin/sh\nexit 0\n", 0o755);
        assert!(!fs::symlink_metadata(&p).unwrap().file_type().is_symlink());
        assert!(fs::metadata(b.rootfs().join("bin/busybox")).unwrap().len() > 100_000);
    }

    #[test]
    #[should_panic(expected = "bad path")]
    fn write_file_in_rootfs_refuses_dotdot() {
        Bundle::new().write_file_in_rootfs("../escape", "", 0o644);
    }

    #[test]
    fn bundle_dir_removed_on_drop() {
        let b = Bundle::new();
        let p = b.path().to_path_buf();
        assert!(p.exists());
        drop(b);
        assert!(!p.exists());
    }
}
