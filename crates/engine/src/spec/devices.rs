//! `--device HOST[:CONTAINER][:PERMS]` and `--device-cgroup-rule`: the
//! nodes the runtime makes (`linux.devices`, with the host node's type,
//! numbers, mode and owner) and the cgroup rules that let the container use
//! them, as dockerd derives them. A directory gives every device under it.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
};

use super::oci;
use crate::error::{Error, Result};
use crate::model::{DeviceMapping, HostConfig};

/// The device nodes and the cgroup rules for them.
pub(super) fn devices(hc: &HostConfig) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>)> {
    let mut nodes = Vec::new();
    let mut rules = Vec::new();
    for d in hc.devices.iter().flatten() {
        device_nodes(d, &mut nodes, &mut rules)?;
    }
    for r in hc.device_cgroup_rules.iter().flatten() {
        rules.push(device_cgroup_rule(r)?);
    }
    Ok((nodes, rules))
}

fn device_nodes(
    d: &DeviceMapping,
    nodes: &mut Vec<LinuxDevice>,
    rules: &mut Vec<LinuxDeviceCgroup>,
) -> Result<()> {
    let host = d.path_on_host.as_str();
    let gather = |e: std::io::Error| {
        Error::Invalid(format!(
            "error gathering device information while adding custom device {host:?}: {e}"
        ))
    };
    if host.is_empty() {
        return Err(Error::Invalid(
            "invalid device mapping: PathOnHost must not be empty".into(),
        ));
    }
    let ctr = if d.path_in_container.is_empty() {
        host
    } else {
        d.path_in_container.as_str()
    };
    if !ctr.starts_with("/dev/") {
        return Err(Error::Invalid(format!(
            "invalid device mapping {host}:{ctr}: the container path must be under /dev/"
        )));
    }
    let perms = if d.cgroup_permissions.is_empty() {
        "rwm"
    } else {
        d.cgroup_permissions.as_str()
    };
    if !perms.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err(Error::Invalid(format!(
            "invalid device mode {perms:?} for {host}: use r, w and m"
        )));
    }
    // A symlink (/dev/disk/by-id/...) stands for the node it names.
    let resolved = std::fs::canonicalize(host).map_err(gather)?;
    let meta = std::fs::metadata(&resolved).map_err(gather)?;
    if meta.is_dir() {
        let mut found = 0;
        for (path, meta) in device_files(&resolved)? {
            let rel = path.strip_prefix(&resolved).unwrap_or(&path);
            let inside = Path::new(ctr).join(rel);
            if let Some((node, rule)) = device_node(&inside, &meta, perms)? {
                nodes.push(node);
                rules.push(rule);
                found += 1;
            }
        }
        if found == 0 {
            return Err(Error::Invalid(format!(
                "error gathering device information while adding custom device {host:?}: no device nodes under it"
            )));
        }
        return Ok(());
    }
    let (node, rule) = device_node(Path::new(ctr), &meta, perms)?.ok_or_else(|| {
        Error::Invalid(format!(
            "error gathering device information while adding custom device {host:?}: not a device node"
        ))
    })?;
    nodes.push(node);
    rules.push(rule);
    Ok(())
}

/// Every file under `dir` (not following links), with its metadata.
fn device_files(dir: &Path) -> Result<Vec<(PathBuf, std::fs::Metadata)>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| Error::io(format!("reading {}", d.display()), e))?;
        for e in entries.flatten() {
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if meta.is_dir() {
                todo.push(e.path());
            } else {
                out.push((e.path(), meta));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A node's type and numbers; None when it is no character or block device.
pub(super) fn device_numbers(meta: &std::fs::Metadata) -> Option<(LinuxDeviceType, i64, i64)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let kind = if meta.file_type().is_char_device() {
        LinuxDeviceType::C
    } else if meta.file_type().is_block_device() {
        LinuxDeviceType::B
    } else {
        return None;
    };
    let rdev = meta.rdev();
    let (major, minor) = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
    Some((kind, major as i64, minor as i64))
}

/// The spec's device entry and allow rule for a character or block node.
fn device_node(
    inside: &Path,
    meta: &std::fs::Metadata,
    perms: &str,
) -> Result<Option<(LinuxDevice, LinuxDeviceCgroup)>> {
    use std::os::unix::fs::MetadataExt;
    let Some((kind, major, minor)) = device_numbers(meta) else {
        return Ok(None);
    };
    let node = LinuxDeviceBuilder::default()
        .path(inside)
        .typ(kind)
        .major(major)
        .minor(minor)
        .file_mode(meta.mode() & 0o777)
        .uid(meta.uid())
        .gid(meta.gid())
        .build()
        .map_err(oci)?;
    let rule = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(kind)
        .major(major)
        .minor(minor)
        .access(perms)
        .build()
        .map_err(oci)?;
    Ok(Some((node, rule)))
}

/// `--device-cgroup-rule 'c 1:3 rwm'` (`*` for any number), as dockerd parses it.
pub(super) fn device_cgroup_rule(rule: &str) -> Result<LinuxDeviceCgroup> {
    let bad = || Error::Invalid(format!("invalid device cgroup rule format: '{rule}'"));
    let parts: Vec<&str> = rule.split_whitespace().collect();
    let [kind, numbers, access] = parts.as_slice() else {
        return Err(bad());
    };
    let kind = match *kind {
        "a" => LinuxDeviceType::A,
        "b" => LinuxDeviceType::B,
        "c" => LinuxDeviceType::C,
        _ => return Err(bad()),
    };
    if access.is_empty() || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err(bad());
    }
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| -> Result<Option<i64>> {
        if n == "*" {
            Ok(None)
        } else {
            n.parse::<i64>().map(Some).map_err(|_| bad())
        }
    };
    let mut r = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(kind)
        .access(*access)
        .build()
        .map_err(oci)?;
    r.set_major(number(major)?);
    r.set_minor(number(minor)?);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn device_cgroup_rules() {
        let rule = |r: &str| serde_json::to_value(device_cgroup_rule(r).unwrap()).unwrap();
        assert_eq!(
            rule("c 1:3 rwm"),
            json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
        );
        assert_eq!(
            rule("b 8:* r"),
            json!({"allow": true, "type": "b", "major": 8, "access": "r"})
        );
        for bad in ["c 1:3", "x 1:3 rwm", "c 1 rwm", "c a:3 rw", "c 1:3 rwx"] {
            assert!(device_cgroup_rule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn devices_from_the_host_node() {
        let hc = HostConfig {
            devices: Some(vec![DeviceMapping {
                path_on_host: "/dev/null".into(),
                path_in_container: "/dev/xnull".into(),
                cgroup_permissions: "rw".into(),
            }]),
            ..Default::default()
        };
        let (nodes, rules) = devices(&hc).unwrap();
        assert_eq!(nodes[0].path(), Path::new("/dev/xnull"));
        assert_eq!(
            (nodes[0].typ(), nodes[0].major(), nodes[0].minor()),
            (LinuxDeviceType::C, 1, 3)
        );
        assert_eq!(rules[0].access().as_deref(), Some("rw"));
        let bad = |host: &str, ctr: &str, perms: &str| {
            let hc = HostConfig {
                devices: Some(vec![DeviceMapping {
                    path_on_host: host.into(),
                    path_in_container: ctr.into(),
                    cgroup_permissions: perms.into(),
                }]),
                ..Default::default()
            };
            devices(&hc).unwrap_err().to_string()
        };
        assert!(bad("/dev/null", "", "rwx").contains("invalid device mode"));
        assert!(bad("/etc/passwd", "/dev/p", "").contains("not a device node"));
        assert!(bad("/dev/no-such", "", "").contains("/dev/no-such"));
    }
}
