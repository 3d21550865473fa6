//! A container's mounts: what the user asked for (`-v`, `--mount`,
//! `--tmpfs`, `--volumes-from`, the image's VOLUMEs) checked as dockerd
//! checks it and resolved once, at create, into [`MountPoint`]s that the
//! container keeps; at each start they become the spec's mounts, volumes
//! acquired and, when new, filled from the image (copy-up).
//!
//! Validation happens before anything is made, so a refused create leaves
//! no volume or directory behind; what the create made (anonymous volumes)
//! is undone when a later step fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_volume::CreateRequest;
use serde::{Deserialize, Serialize};

use crate::model::{Config, HostConfig, Mount};
use crate::{Engine, Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Bind,
    Volume,
    Tmpfs,
}

/// One mount of a container, as the engine keeps it; [`MountPoint::wire`]
/// is what inspect shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountPoint {
    pub kind: Kind,
    /// The volume's name (volumes only).
    #[serde(default)]
    pub name: String,
    /// The host path: a bind's source as given, a volume's `_data`.
    #[serde(default)]
    pub source: String,
    pub destination: String,
    /// The mode as the user gave it (`ro`, `z`, `rshared`...), for inspect.
    #[serde(default)]
    pub mode: String,
    pub rw: bool,
    /// Bind propagation (`rprivate` unless asked); empty for the others.
    #[serde(default)]
    pub propagation: String,
    /// Made for this container (`-v /path`, an image VOLUME): removed with
    /// it by `rm -v` and `--rm`.
    #[serde(default)]
    pub anonymous: bool,
    /// Fill a new, empty volume from the image (not with `nocopy`).
    #[serde(default)]
    pub copy_up: bool,
    /// A bind that is not recursive (`bind-nonrecursive`).
    #[serde(default)]
    pub non_recursive: bool,
    /// tmpfs options (`size=..`, `mode=..`, flags).
    #[serde(default)]
    pub tmpfs_options: Vec<String>,
    /// Shown in inspect's `Mounts` (a `--tmpfs` is not, as dockerd).
    #[serde(default)]
    pub listed: bool,
}

impl MountPoint {
    /// moby's MountPoint, as `GET /containers/{id}/json` lists it.
    pub fn wire(&self) -> berth_models::container::MountPoint {
        let volume = self.kind == Kind::Volume;
        berth_models::container::MountPoint {
            kind: match self.kind {
                Kind::Bind => "bind",
                Kind::Volume => "volume",
                Kind::Tmpfs => "tmpfs",
            }
            .into(),
            name: if volume {
                self.name.clone()
            } else {
                String::new()
            },
            source: self.source.clone(),
            destination: self.destination.clone(),
            driver: if volume {
                berth_volume::LOCAL.into()
            } else {
                String::new()
            },
            mode: self.mode.clone(),
            rw: self.rw,
            propagation: self.propagation.clone(),
        }
    }
}

/// What a volume mount names before it is made.
#[derive(Debug, Clone)]
enum VolumeSource {
    Named {
        name: String,
        driver: Option<String>,
        options: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
    },
    Anonymous,
}

/// A mount checked but not yet made.
#[derive(Debug, Clone)]
struct Planned {
    point: MountPoint,
    volume: Option<VolumeSource>,
    /// `-v` creates a missing bind source; `--mount` refuses it.
    create_source: bool,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

/// A path as dockerd compares destinations: `.` and `//` gone.
fn clean(p: &str) -> String {
    Path::new(p)
        .components()
        .collect::<PathBuf>()
        .display()
        .to_string()
}

fn check_destination(dest: &str, spec: &str) -> Result<()> {
    if !dest.starts_with('/') {
        return Err(invalid(format!(
            "invalid mount config: invalid mount path: '{dest}' mount path must be absolute ({spec})"
        )));
    }
    if clean(dest) == "/" {
        return Err(invalid(format!(
            "invalid specification: destination can't be '/' ({spec})"
        )));
    }
    Ok(())
}

/// `-v`'s mode words: at most one of each group.
fn parse_mode(mode: &str, spec: &str) -> Result<(bool, String, bool)> {
    let (mut rw, mut propagation, mut nocopy) = (None, None, false);
    let (mut label, mut seen_nocopy) = (false, false);
    for word in mode.split(',').filter(|w| !w.is_empty()) {
        let dup = match word {
            "ro" | "rw" => rw.replace(word == "rw").is_some(),
            "z" | "Z" => std::mem::replace(&mut label, true),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => {
                propagation.replace(word.to_string()).is_some()
            }
            "nocopy" => {
                nocopy = true;
                std::mem::replace(&mut seen_nocopy, true)
            }
            _ => return Err(invalid(format!("invalid mode: {mode} ({spec})"))),
        };
        if dup {
            return Err(invalid(format!("invalid mode: {mode} ({spec})")));
        }
    }
    Ok((rw.unwrap_or(true), propagation.unwrap_or_default(), nocopy))
}

/// One `HostConfig.Binds` entry: `src:dst[:mode]` (a bind when `src` is
/// absolute, else a named volume) or a lone `dst` (anonymous).
fn parse_bind(spec: &str) -> Result<Planned> {
    let bad = || invalid(format!("invalid volume specification: '{spec}'"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dest, mode) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => return Err(bad()),
    };
    if dest.is_empty() {
        return Err(bad());
    }
    let kind = if src.starts_with('/') {
        "bind"
    } else {
        "volume"
    };
    if !dest.starts_with('/') {
        return Err(invalid(format!(
            "invalid volume specification: '{spec}': invalid mount config for type \"{kind}\": invalid mount path: '{dest}' mount path must be absolute"
        )));
    }
    check_destination(dest, spec)?;
    let (rw, propagation, nocopy) = parse_mode(mode, spec)?;
    let mut point = MountPoint {
        kind: Kind::Volume,
        name: String::new(),
        source: String::new(),
        destination: dest.to_string(),
        mode: mode.to_string(),
        rw,
        propagation: String::new(),
        anonymous: false,
        copy_up: !nocopy,
        non_recursive: false,
        tmpfs_options: Vec::new(),
        listed: true,
    };
    if src.starts_with('/') {
        if nocopy {
            return Err(invalid(format!(
                "invalid mode: {mode}: nocopy is for volumes ({spec})"
            )));
        }
        point.kind = Kind::Bind;
        point.source = src.to_string();
        point.propagation = if propagation.is_empty() {
            "rprivate".into()
        } else {
            propagation
        };
        point.copy_up = false;
        return Ok(Planned {
            point,
            volume: None,
            create_source: true,
        });
    }
    if !propagation.is_empty() {
        return Err(invalid(format!(
            "invalid mode: {mode}: propagation is for bind mounts ({spec})"
        )));
    }
    let volume = if src.is_empty() {
        point.anonymous = true;
        VolumeSource::Anonymous
    } else {
        berth_volume::validate_name(src).map_err(|e| invalid(format!("{e} ({spec})")))?;
        point.name = src.to_string();
        if point.mode.is_empty() {
            point.mode = "z".into();
        }
        VolumeSource::Named {
            name: src.to_string(),
            driver: None,
            options: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    };
    Ok(Planned {
        point,
        volume: Some(volume),
        create_source: false,
    })
}

/// `--mount type=volume`'s options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct VolumeOptions {
    no_copy: bool,
    labels: Option<BTreeMap<String, String>>,
    driver_config: Option<DriverConfig>,
    subpath: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct DriverConfig {
    name: String,
    options: Option<BTreeMap<String, String>>,
}

/// One `HostConfig.Mounts` entry (`--mount`).
fn parse_api_mount(m: &Mount) -> Result<Planned> {
    let kind = m.kind.as_str();
    let bad = |why: String| invalid(format!("invalid mount config for type {kind:?}: {why}"));
    if m.target.is_empty() {
        return Err(bad("field Target must not be empty".into()));
    }
    if !m.target.starts_with('/') {
        return Err(bad(format!(
            "invalid mount path: '{}' mount path must be absolute",
            m.target
        )));
    }
    let forbid = |present: bool, field: &str| -> Result<()> {
        if present {
            return Err(bad(format!("field {field} must not be specified")));
        }
        Ok(())
    };
    let mut point = MountPoint {
        kind: Kind::Bind,
        name: String::new(),
        source: m.source.clone(),
        destination: m.target.clone(),
        mode: String::new(),
        rw: !m.read_only,
        propagation: String::new(),
        anonymous: false,
        copy_up: false,
        non_recursive: false,
        tmpfs_options: Vec::new(),
        listed: true,
    };
    match kind {
        "bind" => {
            if m.source.is_empty() {
                return Err(bad("field Source must not be empty".into()));
            }
            if !m.source.starts_with('/') {
                return Err(bad(format!(
                    "invalid mount path: '{}' mount path must be absolute",
                    m.source
                )));
            }
            forbid(m.tmpfs_options.is_some(), "TmpfsOptions")?;
            forbid(m.volume_options.is_some(), "VolumeOptions")?;
            let opts = m.bind_options.clone().unwrap_or_default();
            if opts.read_only_non_recursive || opts.read_only_force_recursive {
                return Err(bad(
                    "BindOptions.ReadOnlyNonRecursive and ReadOnlyForceRecursive are not supported"
                        .into(),
                ));
            }
            point.propagation = match opts.propagation.as_str() {
                "" => "rprivate".into(),
                p @ ("private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave") => {
                    p.into()
                }
                p => return Err(bad(format!("invalid propagation mode: {p}"))),
            };
            point.non_recursive = opts.non_recursive;
            Ok(Planned {
                point,
                volume: None,
                create_source: opts.create_mountpoint,
            })
        }
        "volume" => {
            forbid(m.bind_options.is_some(), "BindOptions")?;
            forbid(m.tmpfs_options.is_some(), "TmpfsOptions")?;
            let opts: VolumeOptions = match &m.volume_options {
                Some(v) => serde_json::from_value(v.clone())
                    .map_err(|e| bad(format!("VolumeOptions: {e}")))?,
                None => VolumeOptions::default(),
            };
            if !opts.subpath.is_empty() {
                return Err(bad(
                    "VolumeOptions.Subpath (volume-subpath) is not supported yet".into(),
                ));
            }
            point.kind = Kind::Volume;
            point.mode = "z".into();
            point.copy_up = !opts.no_copy;
            let driver = opts.driver_config.unwrap_or_default();
            let volume = if m.source.is_empty() {
                if driver.options.as_ref().is_some_and(|o| !o.is_empty()) {
                    // dockerd makes an anonymous volume with the options;
                    // berth's anonymous volumes take none yet.
                    return Err(bad("driver options need a volume name (Source)".into()));
                }
                point.anonymous = true;
                point.mode.clear();
                VolumeSource::Anonymous
            } else {
                berth_volume::validate_name(&m.source).map_err(|e| bad(e.to_string()))?;
                point.name = m.source.clone();
                point.source.clear();
                VolumeSource::Named {
                    name: m.source.clone(),
                    driver: (!driver.name.is_empty()).then_some(driver.name),
                    options: driver.options.unwrap_or_default(),
                    labels: opts.labels.unwrap_or_default(),
                }
            };
            Ok(Planned {
                point,
                volume: Some(volume),
                create_source: false,
            })
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(bad("field Source must not be specified".into()));
            }
            forbid(m.bind_options.is_some(), "BindOptions")?;
            forbid(m.volume_options.is_some(), "VolumeOptions")?;
            point.kind = Kind::Tmpfs;
            point.source.clear();
            if let Some(t) = &m.tmpfs_options {
                if t.size_bytes < 0 {
                    return Err(bad("size must not be negative".into()));
                }
                if t.mode != 0 {
                    point.tmpfs_options.push(format!("mode={:o}", t.mode));
                }
                if t.size_bytes > 0 {
                    point
                        .tmpfs_options
                        .push(format!("size={}", tmpfs_size(t.size_bytes)));
                }
                for o in t.options.iter().flatten() {
                    match o.as_slice() {
                        [flag] => point.tmpfs_options.push(flag.clone()),
                        [k, v] => point.tmpfs_options.push(format!("{k}={v}")),
                        _ => return Err(bad(format!("invalid tmpfs option {o:?}"))),
                    }
                }
            }
            Ok(Planned {
                point,
                volume: None,
                create_source: false,
            })
        }
        "" => Err(bad("mount type unknown".into())),
        other => Err(invalid(format!(
            "mount type {other:?} (--mount type={other} / HostConfig.Mounts) is not supported"
        ))),
    }
}

/// A tmpfs size as dockerd writes it: in the largest unit that divides it.
fn tmpfs_size(bytes: i64) -> String {
    for (suffix, unit) in [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if bytes % unit == 0 {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

/// One `--tmpfs /path[:opts]` (`HostConfig.Tmpfs`); its size is checked
/// here so that a bad one fails the create.
fn parse_tmpfs(dest: &str, opts: &str) -> Result<Planned> {
    check_destination(dest, dest)?;
    let mut tmpfs_options = Vec::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        if let Some(size) = o.strip_prefix("size=") {
            berth_units::ram_in_bytes(size)
                .map_err(|e| invalid(format!("invalid tmpfs option {o:?} for {dest}: {e}")))?;
        }
        tmpfs_options.push(o.to_string());
    }
    Ok(Planned {
        point: MountPoint {
            kind: Kind::Tmpfs,
            name: String::new(),
            source: String::new(),
            destination: dest.to_string(),
            mode: String::new(),
            rw: !tmpfs_options.iter().any(|o| o == "ro"),
            propagation: String::new(),
            anonymous: false,
            copy_up: false,
            non_recursive: false,
            tmpfs_options,
            listed: false,
        },
        volume: None,
        create_source: false,
    })
}

impl Engine {
    /// Checks and makes a new container's mounts: volumes named or
    /// anonymous (created when missing), bind sources `-v` creates,
    /// `--volumes-from`'s mounts, and an anonymous volume for each path of
    /// `Config.Volumes` (`-v /path`, the image's VOLUMEs) nothing else
    /// covers.
    pub(crate) fn resolve_mounts(
        &self,
        config: &Config,
        hc: &HostConfig,
    ) -> Result<Vec<MountPoint>> {
        let mut planned: Vec<Planned> = Vec::new();
        for spec in hc.volumes_from.iter().flatten() {
            planned.extend(self.volumes_from(spec)?);
        }
        let mut explicit = Vec::new();
        for b in hc.binds.iter().flatten() {
            explicit.push(parse_bind(b)?);
        }
        for m in hc.mounts.iter().flatten() {
            explicit.push(parse_api_mount(m)?);
        }
        for (dest, opts) in hc.tmpfs.iter().flatten() {
            explicit.push(parse_tmpfs(dest, opts)?);
        }
        let mut seen: Vec<String> = Vec::new();
        for p in &explicit {
            let dest = clean(&p.point.destination);
            if seen.contains(&dest) {
                return Err(invalid(format!("Duplicate mount point: {dest}")));
            }
            seen.push(dest);
        }
        // An explicit mount replaces one from --volumes-from on its path.
        planned.retain(|p| !seen.contains(&clean(&p.point.destination)));
        seen.extend(planned.iter().map(|p| clean(&p.point.destination)));
        planned.extend(explicit);
        // The image's VOLUMEs are in Config.Volumes by now (merged at create).
        for dest in config.volumes.iter().flat_map(|v| v.keys()) {
            check_destination(dest, dest)?;
            let d = clean(dest);
            if !seen.contains(&d) {
                seen.push(d);
                planned.push(parse_bind(dest)?);
            }
        }
        // `--volume-driver` names the driver of the volumes made here
        // (anonymous ones, and names that do not exist yet); berth has
        // only `local`. A container that makes none never asks for it, so
        // dockerd then takes any name, and so does berth.
        if !hc.volume_driver.is_empty() && hc.volume_driver != berth_volume::LOCAL {
            let makes_one = planned.iter().any(|p| match &p.volume {
                Some(VolumeSource::Anonymous) => true,
                Some(VolumeSource::Named {
                    name, driver: None, ..
                }) => {
                    matches!(
                        self.volumes.get(name),
                        Err(berth_volume::Error::NotFound(_))
                    )
                }
                _ => false,
            });
            if makes_one {
                // 404, as dockerd: the plugin is not found.
                return Err(Error::NotFound(format!(
                    "error looking up volume plugin {0}: plugin \"{0}\" not found (--volume-driver / HostConfig.VolumeDriver)",
                    hc.volume_driver
                )));
            }
        }
        self.make_mounts(planned)
    }

    /// `--volumes-from ctr[:ro|rw]`: that container's binds and volumes.
    fn volumes_from(&self, spec: &str) -> Result<Vec<Planned>> {
        let (name, mode) = match spec.rsplit_once(':') {
            Some((n, m @ ("ro" | "rw"))) => (n, Some(m)),
            Some((_, m)) if !m.contains('/') => {
                return Err(invalid(format!("invalid mode for volumes-from: {m}")));
            }
            _ => (spec, None),
        };
        let other = self.get(name)?;
        Ok(other
            .mounts
            .iter()
            .filter(|m| m.kind != Kind::Tmpfs)
            .map(|m| {
                let mut point = m.clone();
                point.anonymous = false;
                if let Some(mode) = mode {
                    point.rw = mode == "rw";
                    point.mode = mode.to_string();
                }
                Planned {
                    point,
                    volume: None,
                    create_source: false,
                }
            })
            .collect())
    }

    /// Creates what the planned mounts need; on failure removes the
    /// anonymous volumes made so far.
    fn make_mounts(&self, planned: Vec<Planned>) -> Result<Vec<MountPoint>> {
        let mut made: Vec<MountPoint> = Vec::new();
        for p in planned {
            match self.make_mount(p) {
                Ok(point) => made.push(point),
                Err(e) => {
                    self.remove_anonymous_volumes(&made);
                    return Err(e);
                }
            }
        }
        Ok(made)
    }

    fn make_mount(&self, p: Planned) -> Result<MountPoint> {
        let mut point = p.point;
        match p.volume {
            Some(VolumeSource::Anonymous) => {
                let v = self.volumes.create(CreateRequest::default())?;
                self.events.volume("create", &v.name, &v.driver);
                point.name = v.name;
            }
            Some(VolumeSource::Named {
                name,
                driver,
                options,
                labels,
            }) => {
                if let Err(berth_volume::Error::NotFound(_)) = self.volumes.get(&name) {
                    let v = self.volumes.create(CreateRequest {
                        name: Some(name.clone()),
                        driver,
                        options,
                        labels,
                    })?;
                    self.events.volume("create", &v.name, &v.driver);
                }
            }
            None => {}
        }
        match point.kind {
            Kind::Volume => {
                point.source = self.volumes.mountpoint(&point.name).display().to_string()
            }
            Kind::Bind if !Path::new(&point.source).exists() => {
                if !p.create_source {
                    return Err(invalid(format!(
                        "invalid mount config for type \"bind\": bind source path does not exist: {}",
                        point.source
                    )));
                }
                std::fs::create_dir_all(&point.source).map_err(|e| {
                    Error::io(format!("creating the bind source {}", point.source), e)
                })?;
            }
            _ => {}
        }
        Ok(point)
    }

    /// Removes the anonymous volumes among `mounts` that no other container
    /// uses (`rm -v`, `--rm`, a failed create).
    pub(crate) fn remove_anonymous_volumes(&self, mounts: &[MountPoint]) {
        let in_use = self.volumes_in_use();
        for m in mounts
            .iter()
            .filter(|m| m.anonymous && m.kind == Kind::Volume)
        {
            if !in_use.contains_key(&m.name) && self.volumes.remove(&m.name).is_ok() {
                self.events.volume("destroy", &m.name, berth_volume::LOCAL);
            }
        }
    }

    /// The spec's mounts for a start: volumes acquired (their filesystems
    /// mounted) and new ones filled from the image (`layers`, topmost
    /// first). Each acquired volume is released by [`Engine::release_mounts`].
    pub(crate) fn start_mounts(
        &self,
        mounts: &[MountPoint],
        layers: &[PathBuf],
    ) -> Result<Vec<oci_spec::runtime::Mount>> {
        let mut acquired = Vec::new();
        let result = self.start_mounts_inner(mounts, layers, &mut acquired);
        if result.is_err() {
            for v in acquired {
                let _ = self.volumes.release(&v);
            }
        }
        result
    }

    fn start_mounts_inner(
        &self,
        mounts: &[MountPoint],
        layers: &[PathBuf],
        acquired: &mut Vec<berth_volume::Volume>,
    ) -> Result<Vec<oci_spec::runtime::Mount>> {
        let mut fill = Vec::new();
        for m in mounts.iter().filter(|m| m.kind == Kind::Volume) {
            let v = self.volumes.get(&m.name)?;
            let path = self.volumes.acquire(&v)?;
            acquired.push(v);
            if m.copy_up && dir_is_empty(&path) && may_exist(layers, &m.destination) {
                fill.push((m.destination.as_str(), path));
            }
        }
        if !fill.is_empty() {
            // What the container sees under its upper layer, as dockerd
            // copies from the container's root: the init layer included.
            let mut lowers = vec![self.init_layer.clone()];
            lowers.extend_from_slice(layers);
            let view = crate::image_fs::ImageView::mount(&lowers, &self.config.data_root)?;
            for (dest, path) in fill {
                berth_volume::copy_up(view.as_ref(), dest, &path)?;
            }
        }
        mounts.iter().map(oci_mount).collect()
    }

    /// Releases `mounts` when dropped, unless [`HeldMounts::keep`] is called:
    /// a start that fails after [`Engine::start_mounts`] gives its volumes back
    /// on every path out.
    pub(crate) fn hold_mounts<'a>(&'a self, mounts: &'a [MountPoint]) -> HeldMounts<'a> {
        HeldMounts {
            engine: self,
            mounts,
            keep: false,
        }
    }

    /// A running container taken back by a new daemon: its volumes count
    /// it again (a mounted filesystem stays as it is).
    pub(crate) fn adopt_mounts(&self, mounts: &[MountPoint]) {
        for m in mounts.iter().filter(|m| m.kind == Kind::Volume) {
            if let Ok(v) = self.volumes.get(&m.name) {
                let _ = self.volumes.acquire(&v);
            }
        }
    }

    /// A container stopped: its volumes' filesystems may be unmounted.
    pub(crate) fn release_mounts(&self, mounts: &[MountPoint]) {
        for m in mounts.iter().filter(|m| m.kind == Kind::Volume) {
            if let Ok(v) = self.volumes.get(&m.name) {
                let _ = self.volumes.release(&v);
            }
        }
    }
}

/// Whether `dest` may name something in the image: false only when no
/// layer has it and no layer has a symlink on its way (a symlink could lead
/// anywhere; then the overlay is mounted and looked at for real). Spares a
/// start with a new volume on a path the image lacks (most of them) the
/// overlay mount.
fn may_exist(layers: &[PathBuf], dest: &str) -> bool {
    use std::path::Component;
    let parts: Vec<Component> = Path::new(dest).components().collect();
    if parts.iter().any(|c| matches!(c, Component::ParentDir)) {
        return true;
    }
    layers.iter().any(|layer| {
        let mut at = layer.clone();
        for part in parts.iter().filter(|c| matches!(c, Component::Normal(_))) {
            at.push(part);
            match std::fs::symlink_metadata(&at) {
                Ok(meta) if meta.file_type().is_symlink() => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        true
    })
}

/// See [`Engine::hold_mounts`].
pub(crate) struct HeldMounts<'a> {
    engine: &'a Engine,
    mounts: &'a [MountPoint],
    keep: bool,
}

impl HeldMounts<'_> {
    /// The start went through: the container's exit releases them.
    pub(crate) fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for HeldMounts<'_> {
    fn drop(&mut self) {
        if !self.keep {
            self.engine.release_mounts(self.mounts);
        }
    }
}

fn dir_is_empty(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

/// The root's propagation a container's binds need, as dockerd sets it:
/// `rshared` when a bind is shared, else `rslave` when one is a slave, and
/// a bind can propagate only from a host mount that does: its source must
/// be on a shared mount (a slave one will do for a slave bind), or the
/// start fails in dockerd's words.
pub fn rootfs_propagation(mounts: &[oci_spec::runtime::Mount]) -> Result<Option<&'static str>> {
    let mut wanted = None;
    for m in mounts {
        let options = m.options().as_deref().unwrap_or_default();
        let shared = options.iter().any(|o| o == "shared" || o == "rshared");
        let slave = options.iter().any(|o| o == "slave" || o == "rslave");
        if !shared && !slave {
            continue;
        }
        let Some(source) = m.source() else { continue };
        let info = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| Error::io("reading /proc/self/mountinfo", e))?;
        let (point, fields) = source_mount(&info, source)
            .ok_or_else(|| Error::Internal(format!("no mount holds {}", source.display())))?;
        let is_shared = fields.iter().any(|f| f.starts_with("shared:"));
        let is_slave = fields.iter().any(|f| f.starts_with("master:"));
        if shared && !is_shared {
            return Err(Error::Internal(format!(
                "path {} is mounted on {point} but it is not a shared mount",
                source.display()
            )));
        }
        if slave && !is_shared && !is_slave {
            return Err(Error::Internal(format!(
                "path {} is mounted on {point} but it is not a shared or slave mount",
                source.display()
            )));
        }
        if shared {
            wanted = Some("rshared");
        } else if wanted.is_none() {
            wanted = Some("rslave");
        }
    }
    Ok(wanted)
}

/// The mount (of /proc/self/mountinfo's text) that holds `path`: its
/// mount point and its optional fields (`shared:N`, `master:N`); the last
/// mounted of the deepest mount point wins, as the kernel resolves.
fn source_mount<'a>(info: &'a str, path: &Path) -> Option<(String, Vec<&'a str>)> {
    let mut best: Option<(String, Vec<&'a str>)> = None;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(point) = fields.get(4).map(|p| unescape_mountinfo(p)) else {
            continue;
        };
        if !path.starts_with(&point) {
            continue;
        }
        if best.as_ref().is_some_and(|(b, _)| {
            Path::new(b).components().count() > Path::new(&point).components().count()
        }) {
            continue;
        }
        let optional: Vec<&str> = fields
            .iter()
            .skip(6)
            .take_while(|f| **f != "-")
            .copied()
            .collect();
        best = Some((point, optional));
    }
    best
}

/// mountinfo's octal escapes (`\040` for a space) undone.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A mount point as the runtime mounts it.
fn oci_mount(m: &MountPoint) -> Result<oci_spec::runtime::Mount> {
    let mut options: Vec<String> = Vec::new();
    let (kind, source) = match m.kind {
        Kind::Tmpfs => {
            // Docker's nosuid, nodev and noexec, then the given options (a
            // later `exec` wins over the default `noexec`).
            options.extend(["nosuid", "nodev", "noexec"].map(String::from));
            options.extend(m.tmpfs_options.iter().cloned());
            if !m.rw && !options.iter().any(|o| o == "ro") {
                options.push("ro".into());
            }
            ("tmpfs", "tmpfs".to_string())
        }
        Kind::Bind | Kind::Volume => {
            options.push(if m.non_recursive { "bind" } else { "rbind" }.into());
            options.push(if m.propagation.is_empty() {
                "rprivate".into()
            } else {
                m.propagation.clone()
            });
            options.push(if m.rw { "rw" } else { "ro" }.into());
            // A symlinked bind source resolves on the host, as dockerd's.
            let source = std::fs::canonicalize(&m.source)
                .map_err(|e| Error::io(format!("mount source {}", m.source), e))?;
            ("bind", source.display().to_string())
        }
    };
    oci_spec::runtime::MountBuilder::default()
        .destination(&m.destination)
        .typ(kind)
        .source(source)
        .options(options)
        .build()
        .map_err(|e| Error::Internal(format!("mount {}: {e}", m.destination)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deepest_mount_holds_a_path() {
        let info = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n\
                    30 22 0:5 / /srv/a\\040b rw shared:7 - tmpfs tmpfs rw\n\
                    31 22 0:6 / /srv rw master:3 - tmpfs tmpfs rw\n";
        let (point, fields) = source_mount(info, Path::new("/srv/a b/c")).unwrap();
        assert_eq!((point.as_str(), fields), ("/srv/a b", vec!["shared:7"]));
        let (point, fields) = source_mount(info, Path::new("/srv/x")).unwrap();
        assert_eq!((point.as_str(), fields), ("/srv", vec!["master:3"]));
        let (point, fields) = source_mount(info, Path::new("/tmp")).unwrap();
        assert_eq!((point.as_str(), fields), ("/", Vec::<&str>::new()));
    }

    #[test]
    fn binds_parse_as_dockerd_reads_them() {
        let p = parse_bind("/host:/ctr:ro,rshared").unwrap();
        assert_eq!(p.point.kind, Kind::Bind);
        assert!(!p.point.rw);
        assert_eq!(p.point.propagation, "rshared");
        assert_eq!(p.point.mode, "ro,rshared");
        let p = parse_bind("data:/var/lib/data").unwrap();
        assert_eq!(
            (p.point.kind, p.point.name.as_str(), p.point.mode.as_str()),
            (Kind::Volume, "data", "z")
        );
        assert!(p.point.copy_up);
        let p = parse_bind("data:/d:nocopy").unwrap();
        assert!(!p.point.copy_up);
        let p = parse_bind("/anon").unwrap();
        assert!(p.point.anonymous);
        for (spec, want) in [
            ("a:b:c:d", "invalid volume specification"),
            ("data:relative", "must be absolute"),
            ("data:/d:bogus", "invalid mode: bogus"),
            ("data:/d:ro,rw", "invalid mode"),
            ("data:/d:rshared", "propagation is for bind mounts"),
            ("/h:/d:nocopy", "nocopy is for volumes"),
            ("x:/d", "too short"),
            ("bad$name:/d", "invalid characters"),
            ("/h:/", "destination can't be '/'"),
        ] {
            let err = parse_bind(spec).unwrap_err().to_string();
            assert!(err.contains(want), "{spec}: {err}");
        }
    }

    #[test]
    fn tmpfs_mounts_as_dockerd_writes_them() {
        assert_eq!(tmpfs_size(1 << 20), "1m");
        assert_eq!(tmpfs_size(3 << 30), "3g");
        assert_eq!(tmpfs_size(1536), "1536");
        let m: Mount = serde_json::from_value(serde_json::json!({"Type": "tmpfs", "Target": "/t",
            "TmpfsOptions": {"SizeBytes": 65536, "Mode": 448, "Options": [["exec"]]}}))
        .unwrap();
        let mount = oci_mount(&parse_api_mount(&m).unwrap().point).unwrap();
        assert_eq!(
            mount.options().as_deref().unwrap(),
            ["nosuid", "nodev", "noexec", "mode=700", "size=64k", "exec"]
        );
    }

    #[test]
    fn only_paths_the_image_may_have_are_looked_at() {
        let dir = tempfile::tempdir().unwrap();
        let (lower, upper) = (dir.path().join("l"), dir.path().join("u"));
        std::fs::create_dir_all(lower.join("var/lib/db")).unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::os::unix::fs::symlink("/elsewhere", upper.join("link")).unwrap();
        let layers = [upper, lower];
        assert!(may_exist(&layers, "/var/lib/db"));
        assert!(may_exist(&layers, "/etc"));
        assert!(!may_exist(&layers, "/data"));
        assert!(!may_exist(&layers, "/var/lib/other"));
        assert!(may_exist(&layers, "/link/x"), "a symlink on the way");
        assert!(may_exist(&layers, "/a/../var"));
    }

    #[test]
    fn tmpfs_sizes_are_checked() {
        assert!(parse_tmpfs("/t", "size=1m,mode=1777").is_ok());
        let err = parse_tmpfs("/t", "size=lots").unwrap_err().to_string();
        assert!(err.contains("size=lots"), "{err}");
        assert!(parse_tmpfs("t", "").is_err());
    }
}
