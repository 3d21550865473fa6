//! Loading and checking a bundle's config.json before anything is created.
//!
//! Every check that can fail runs here, in the runtime process, so that a bad
//! config is refused with one line that names the field, and nothing is left behind.

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Mount, Process, Spec};

use crate::error::{Error, Result};

/// A bundle's config, checked, with its root filesystem resolved.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub path: PathBuf,
    pub rootfs: PathBuf,
    pub spec: Spec,
}

impl Bundle {
    /// Reads `<bundle>/config.json`, parses it, and checks it.
    pub fn load(bundle: &Path) -> Result<Bundle> {
        Bundle::load_config(bundle, None)
    }

    /// As [`Bundle::load`], with the config file `config` (relative to the
    /// bundle, or absolute; crun's `--config`) instead of config.json.
    pub fn load_config(bundle: &Path, config: Option<&Path>) -> Result<Bundle> {
        let path = std::fs::canonicalize(bundle)
            .map_err(|e| Error::io(format!("bundle {}", bundle.display()), e))?;
        let config = path.join(config.unwrap_or(Path::new("config.json")));
        let text = std::fs::read(&config)
            .map_err(|e| Error::io(format!("reading {}", config.display()), e))?;
        let spec = parse(&text).map_err(|e| Error::Config(format!("{}: {e}", config.display())))?;
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| Error::Config("root: missing".into()))?;
        let rootfs = path.join(root.path());
        let rootfs = std::fs::canonicalize(&rootfs)
            .map_err(|e| Error::Config(format!("root.path {}: {e}", rootfs.display())))?;
        if !rootfs.is_dir() {
            return Err(Error::Config(format!(
                "root.path {}: not a directory",
                rootfs.display()
            )));
        }
        validate(&spec)?;
        Ok(Bundle { path, rootfs, spec })
    }
}

/// Parses config.json; a failure names the JSON path of the offending field.
pub fn parse(text: &[u8]) -> std::result::Result<Spec, String> {
    parse_as(text, &["process", "scheduler", "flags"])
}

/// Parses a process object (`exec --process`), as [`parse`] does.
pub fn parse_process(text: &[u8]) -> std::result::Result<Process, String> {
    parse_as(text, &["scheduler", "flags"])
}

/// The runtime specification's names of two scheduler flags, which
/// oci-spec 0.10 spells otherwise (its serde names come from the variant
/// names): both spellings are read.
const SCHED_FLAG_NAMES: [(&str, &str); 2] = [
    ("SCHED_FLAG_RESET_ON_FORK", "SCHED_RESET_ON_FORK"),
    ("SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_D_L_OVERRUN"),
];

fn parse_as<T: serde::de::DeserializeOwned>(
    text: &[u8],
    flags_at: &[&str],
) -> std::result::Result<T, String> {
    let name_path = |e: serde_path_to_error::Error<serde_json::Error>| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        }
    };
    let renamed = SCHED_FLAG_NAMES
        .iter()
        .any(|(spec, _)| text.windows(spec.len()).any(|w| w == spec.as_bytes()));
    if !renamed {
        // The common case, read straight from the bytes.
        let de = &mut serde_json::Deserializer::from_slice(text);
        return serde_path_to_error::deserialize(de).map_err(name_path);
    }
    let mut value: serde_json::Value = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    let mut at = Some(&mut value);
    for key in flags_at {
        at = at.and_then(|v| v.get_mut(*key));
    }
    if let Some(serde_json::Value::Array(flags)) = at {
        for f in flags.iter_mut() {
            if let Some((_, ours)) = SCHED_FLAG_NAMES.iter().find(|(spec, _)| f == spec) {
                *f = serde_json::Value::from(*ours);
            }
        }
    }
    serde_path_to_error::deserialize(value).map_err(name_path)
}

/// Checks what the types alone do not: process, mounts, namespaces, ids.
pub fn validate(spec: &Spec) -> Result<()> {
    let cfg = |msg: String| Err(Error::Config(msg));
    // A 1.x specification (runc refuses others): MAJOR.MINOR.PATCH[-pre].
    let version = spec.version();
    let core = version.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        || parts[0] != "1"
    {
        return cfg(format!(
            "ociVersion {version:?}: not a version of the 1.x runtime specification"
        ));
    }
    if let Some(process) = spec.process() {
        match process.args() {
            Some(args) if !args.is_empty() && !args[0].is_empty() => {}
            _ => return cfg("process.args: must name the program to run".into()),
        }
        if !process.cwd().is_absolute() {
            return cfg(format!(
                "process.cwd {:?}: must be an absolute path",
                process.cwd()
            ));
        }
        for env in process.env().iter().flatten() {
            if !env.contains('=') {
                return cfg(format!("process.env {env:?}: not of the form NAME=value"));
            }
        }
        crate::attrs::check_process(process)?;
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        check_mount(i, m)?;
    }
    if let Some(linux) = spec.linux() {
        // As crun: the same name set twice, differently, is a mistake the
        // user would not see (which write wins is the runtime's order).
        // (kernel.hostname beside `hostname` is refused whatever its value,
        // in runc's words, with the other sysctls.)
        let sysctl = linux
            .sysctl()
            .iter()
            .flatten()
            .find_map(|(k, v)| (k.replace('/', ".") == "kernel.domainname").then_some(v));
        if let (Some(name), Some(sysctl)) = (spec.domainname(), sysctl)
            && name != sysctl
        {
            return cfg(format!(
                "domainname {name:?} conflicts with linux.sysctl kernel.domainname {sysctl:?}: set one, or both to the same value"
            ));
        }
        let mut seen = Vec::new();
        let namespaces = linux.namespaces().clone().unwrap_or_default();
        for ns in &namespaces {
            if seen.contains(&ns.typ()) {
                return cfg(format!(
                    "linux.namespaces: {} appears twice",
                    ns_name(ns.typ())
                ));
            }
            seen.push(ns.typ());
            if let Some(p) = ns.path()
                && !p.is_absolute()
            {
                return cfg(format!(
                    "linux.namespaces: {} path {:?} must be absolute",
                    ns_name(ns.typ()),
                    p
                ));
            }
        }
        let new_user = namespaces
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
        let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            && linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
        if new_user && !has_maps {
            return cfg("linux.uidMappings/gidMappings: a new user namespace needs both".into());
        }
        if !new_user
            && (linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
                || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty()))
        {
            return cfg("linux.uidMappings: mappings given without a new user namespace".into());
        }
        let has_mount_ns = namespaces
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::Mount);
        if !has_mount_ns && spec.mounts().as_ref().is_some_and(|m| !m.is_empty()) {
            // runc accepts this and mounts in the host's namespace: it binds
            // the rootfs over itself, mounts each entry under it, and first
            // makes the host's / an rslave mount. berth never mounts there.
            return cfg(
                "mounts: given without a mount namespace: berth-runtime does not mount in the host's mount namespace (runc does); add a mount namespace or remove the mounts"
                    .into(),
            );
        }
        let restricted = linux.masked_paths().as_ref().is_some_and(|p| !p.is_empty())
            || linux
                .readonly_paths()
                .as_ref()
                .is_some_and(|p| !p.is_empty());
        if restricted && !has_mount_ns {
            // runc's refusal, in its words.
            return cfg(
                "linux.maskedPaths/readonlyPaths: unable to restrict sys entries without a private MNT namespace"
                    .into(),
            );
        }
        let time_ns = namespaces
            .iter()
            .find(|n| n.typ() == LinuxNamespaceType::Time);
        if let Some(offsets) = linux.time_offsets() {
            match time_ns {
                None => {
                    return cfg(
                        "linux.timeOffsets: given without a time namespace in linux.namespaces"
                            .into(),
                    );
                }
                Some(ns) if ns.path().is_some() => {
                    return cfg(
                        "linux.timeOffsets: given with a time namespace joined by path (give one or the other)"
                            .into(),
                    );
                }
                Some(_) => {}
            }
            for clock in offsets.keys() {
                if clock != "monotonic" && clock != "boottime" {
                    return cfg(format!(
                        "linux.timeOffsets {clock:?}: only monotonic and boottime have offsets"
                    ));
                }
            }
        }
        if time_ns.is_some() && !Path::new("/proc/self/timens_offsets").exists() {
            return cfg("linux.namespaces: time namespaces aren't enabled in the kernel".into());
        }
        crate::attrs::check_linux(linux)?;
        if let Some(prop) = linux.rootfs_propagation()
            && crate::rootfs::propagation_flag(prop).is_none()
        {
            return cfg(format!("linux.rootfsPropagation {prop:?}: unknown"));
        }
        if let Some(sysctl) = linux.sysctl() {
            let separate = crate::sysctl::Separate {
                ipc: own_namespace(&namespaces, LinuxNamespaceType::Ipc),
                net: own_namespace(&namespaces, LinuxNamespaceType::Network),
                uts: own_namespace(&namespaces, LinuxNamespaceType::Uts),
            };
            for key in sysctl.keys() {
                if key.contains("..") || key.contains('/') && key.contains('.') {
                    return cfg(format!("linux.sysctl {key:?}: not a sysctl name"));
                }
                crate::sysctl::check(key, separate).map_err(Error::Config)?;
            }
        }
        if let Some(seccomp) = linux.seccomp() {
            crate::seccomp::check(seccomp)?;
        }
    }
    Ok(())
}

/// Whether the spec gives the container a namespace of this type that is
/// not the host's: a new one, or one joined by path that is not the one
/// this process (the host's side) is in.
fn own_namespace(
    namespaces: &[oci_spec::runtime::LinuxNamespace],
    typ: LinuxNamespaceType,
) -> bool {
    namespaces
        .iter()
        .filter(|n| n.typ() == typ)
        .any(|n| match n.path() {
            None => true,
            Some(path) => {
                let proc_name = match typ {
                    LinuxNamespaceType::Network => "net",
                    LinuxNamespaceType::Mount => "mnt",
                    other => ns_name(other),
                };
                let here = format!("/proc/self/ns/{proc_name}");
                match (std::fs::metadata(path), std::fs::metadata(here)) {
                    (Ok(a), Ok(b)) => {
                        use std::os::unix::fs::MetadataExt;
                        (a.dev(), a.ino()) != (b.dev(), b.ino())
                    }
                    // A path that cannot be read fails later, at setns.
                    _ => true,
                }
            }
        })
}

fn check_mount(i: usize, m: &Mount) -> Result<()> {
    let dest = m.destination();
    if !dest.is_absolute() {
        return Err(Error::Config(format!(
            "mounts[{i}].destination {dest:?}: must be an absolute path"
        )));
    }
    if escapes(dest) {
        return Err(Error::Config(format!(
            "mounts[{i}].destination {dest:?}: climbs out of the root filesystem"
        )));
    }
    Ok(())
}

/// True when `..` components take the path above its root.
fn escapes(path: &Path) -> bool {
    let mut depth: i32 = 0;
    for c in path.components() {
        match c {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    false
}

pub fn ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

/// A container id as runc accepts it: it becomes a directory name, so no
/// separators and no leading dot.
pub fn check_id(id: &str) -> Result<()> {
    if id.is_empty() {
        // runc's words, which harnesses match.
        return Err(Error::Other("container id cannot be empty".into()));
    }
    let ok = !id.is_empty()
        && id.len() <= 1024
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId(id.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_destinations() {
        assert!(escapes(Path::new("/../etc")));
        assert!(escapes(Path::new("/a/../../etc")));
        assert!(!escapes(Path::new("/a/../etc")));
        assert!(!escapes(Path::new("/proc")));
    }

    #[test]
    fn ids() {
        assert!(check_id("abc-1_2.x").is_ok());
        for bad in ["", ".", "..", "a/b", ".hidden", "a b"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scheduler_flags_as_the_specification_spells_them() {
        let text = br#"{"ociVersion":"1.2.0","process":{"cwd":"/","user":{"uid":0,"gid":0},
            "scheduler":{"policy":"SCHED_OTHER","flags":["SCHED_FLAG_RESET_ON_FORK",
            "SCHED_FLAG_DL_OVERRUN","SCHED_FLAG_KEEP_POLICY"]}}}"#;
        let spec = parse(text).unwrap();
        let flags = spec
            .process()
            .as_ref()
            .unwrap()
            .scheduler()
            .as_ref()
            .unwrap()
            .flags();
        use oci_spec::runtime::LinuxSchedulerFlag::*;
        assert_eq!(
            flags.as_deref(),
            Some(&[SchedResetOnFork, SchedFlagDLOverrun, SchedFlagKeepPolicy][..])
        );
        let p = parse_process(
            br#"{"cwd":"/","user":{"uid":0,"gid":0},
            "scheduler":{"policy":"SCHED_BATCH","flags":["SCHED_FLAG_RESET_ON_FORK"]}}"#,
        )
        .unwrap();
        assert!(p.scheduler().is_some());
    }

    #[test]
    fn parse_errors_name_the_field() {
        let bad = br#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},
            "capabilities":{"bounding":["CAP_NOPE"]}}}"#;
        let err = parse(bad).unwrap_err();
        assert!(err.contains("process.capabilities.bounding"), "{err}");
        let bad = br#"{"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"bogus"}]}}"#;
        let err = parse(bad).unwrap_err();
        assert!(err.contains("linux.namespaces"), "{err}");
    }
}
