//! The `local` driver's options, as dockerd takes them: `type` (a
//! filesystem type, `none` with `o=bind` for a host directory), `device`,
//! and `o` (mount(8) options), mounted on the volume's `_data` while a
//! container uses it.

use std::collections::BTreeMap;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags, umount2};

use crate::{Error, Result};

const VALID: [&str; 4] = ["type", "o", "device", "size"];

/// Which options need which others (dockerd's `mandatoryOpts`), checked in
/// this order so that the error is the same on every run.
const REQUIRES: [(&str, &[&str]); 3] = [
    ("device", &["type"]),
    ("o", &["device", "type"]),
    ("type", &["device"]),
];

/// The options of `volume create -o`, refused as dockerd refuses them.
pub fn validate(opts: &BTreeMap<String, String>) -> Result<()> {
    for key in opts.keys() {
        if !VALID.contains(&key.as_str()) {
            return Err(Error::InvalidParameter(format!("invalid option: {key:?}")));
        }
    }
    if let Some(size) = opts.get("size") {
        let bytes = berth_units::ram_in_bytes(size).map_err(Error::InvalidParameter)?;
        // dockerd sets quotas only on xfs with project quotas, which
        // berth's data roots do not have.
        if bytes > 0 {
            return Err(Error::InvalidParameter(
                "quota size requested but no quota support".into(),
            ));
        }
    }
    for (key, needs) in REQUIRES {
        if opts.contains_key(key) {
            for need in needs {
                if !opts.contains_key(*need) {
                    return Err(Error::InvalidParameter(format!(
                        "missing required option: {need:?}"
                    )));
                }
            }
        }
    }
    if let Some(o) = opts.get("o") {
        split_options(o)?;
    }
    Ok(())
}

/// A volume whose options name a filesystem is mounted while in use.
pub fn needs_mount(opts: &BTreeMap<String, String>) -> bool {
    opts.contains_key("type") || opts.contains_key("device")
}

/// Whether something is mounted right on `path` (its mount differs from its
/// parent's).
pub fn is_mounted(path: &Path) -> bool {
    match (
        berth_sys::mount_id(path),
        path.parent().and_then(berth_sys::mount_id),
    ) {
        (Some(own), Some(parent)) => own != parent,
        _ => false,
    }
}

pub fn mount(opts: &BTreeMap<String, String>, target: &Path) -> Result<()> {
    let device = opts.get("device").map(String::as_str).unwrap_or_default();
    let fstype = opts.get("type").map(String::as_str).unwrap_or_default();
    let (flags, data) = split_options(opts.get("o").map(String::as_str).unwrap_or_default())?;
    let fstype = (!fstype.is_empty() && fstype != "none").then_some(fstype);
    let data = (!data.is_empty()).then_some(data.as_str());
    nix::mount::mount(Some(device), target, fstype, flags, data).map_err(|e| Error::Io {
        what: format!(
            "failed to mount local volume: mount {device}:{} (type {}, options {:?})",
            target.display(),
            fstype.unwrap_or("none"),
            opts.get("o").map(String::as_str).unwrap_or_default()
        ),
        source: e.into(),
    })?;
    // A bind keeps the source's flags: read-only and friends need a remount.
    let remount = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
    if flags.contains(MsFlags::MS_BIND) && !remount.is_empty() {
        let again = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | remount;
        if let Err(e) = nix::mount::mount(None::<&str>, target, None::<&str>, again, None::<&str>) {
            let _ = umount2(target, MntFlags::MNT_DETACH);
            return Err(Error::Io {
                what: format!("remounting the local volume at {}", target.display()),
                source: e.into(),
            });
        }
    }
    Ok(())
}

pub fn unmount(target: &Path) -> Result<()> {
    match umount2(target, MntFlags::MNT_DETACH) {
        Ok(()) => Ok(()),
        Err(_) if !is_mounted(target) => Ok(()),
        Err(e) => Err(Error::Io {
            what: format!("unmounting the local volume at {}", target.display()),
            source: e.into(),
        }),
    }
}

/// `o=`'s words: mount(8) flags become mount flags, the rest (`size=`,
/// `uid=`, `mode=`, `addr=`) the filesystem's data, in their order. Written
/// here because it is mount(8)'s table, which no crate we use exposes.
fn split_options(o: &str) -> Result<(MsFlags, String)> {
    let mut flags = MsFlags::empty();
    let mut data: Vec<&str> = Vec::new();
    for word in o.split(',').filter(|w| !w.is_empty()) {
        let (set, clear) = match word {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            w if w.contains(['\0']) => {
                return Err(Error::InvalidParameter(format!(
                    "invalid mount option {w:?}"
                )));
            }
            w => {
                data.push(w);
                continue;
            }
        };
        flags = (flags | set) & !clear;
    }
    Ok((flags, data.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_are_checked_as_dockerd_checks_them() {
        assert!(validate(&opts(&[])).is_ok());
        assert!(
            validate(&opts(&[
                ("type", "tmpfs"),
                ("device", "tmpfs"),
                ("o", "size=1m")
            ]))
            .is_ok()
        );
        let err = |o| validate(&opts(o)).unwrap_err().to_string();
        assert_eq!(err(&[("foo", "bar")]), "invalid option: \"foo\"");
        assert_eq!(
            err(&[("type", "tmpfs")]),
            "missing required option: \"device\""
        );
        assert_eq!(
            err(&[("device", "tmpfs")]),
            "missing required option: \"type\""
        );
        assert_eq!(
            err(&[("o", "size=1m")]),
            "missing required option: \"device\""
        );
        assert_eq!(
            err(&[("size", "10m")]),
            "quota size requested but no quota support"
        );
        assert!(err(&[("size", "ten")]).contains("ten"));
    }

    #[test]
    fn mount_words_split_into_flags_and_data() {
        let (flags, data) = split_options("ro,nosuid,size=10m,uid=1000,bind").unwrap();
        assert_eq!(
            flags,
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_BIND
        );
        assert_eq!(data, "size=10m,uid=1000");
        let (flags, _) = split_options("ro,rw").unwrap();
        assert_eq!(flags, MsFlags::empty());
    }
}
