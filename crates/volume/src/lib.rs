//! Named volumes of the `local` driver, as dockerd keeps them: a record per
//! volume in the engine's state store, its data under
//! `<data-root>/volumes/<name>/_data`, and, when it has driver options
//! (`type`, `device`, `o`), a filesystem mounted there while a container
//! uses it.
//!
//! Crash safety: a volume exists when its record does. Creation writes the
//! record before the directory (a record whose directory is missing gets it
//! back on open); removal first renames the directory aside, then deletes
//! the record, then the data, and on open a renamed-aside directory goes back
//! in place if its record is still there or away if not. A daemon killed at
//! any point leaves either the whole volume or nothing.
//!
//! Which containers use a volume is the engine's knowledge, not ours: it
//! checks before asking for a removal.

#![forbid(unsafe_code)]

mod copy;
mod driver;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_store::{Kind, Store};
use serde::{Deserialize, Serialize};

pub use copy::copy_up;

/// The only driver berth has.
pub const LOCAL: &str = "local";

/// The label dockerd (23+) puts on anonymous volumes; `volume prune` without
/// `--all` removes only volumes that carry it.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// Prefix of a directory renamed aside by a removal in progress.
const TRASH_PREFIX: &str = ".removing-";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: a name, a driver, an option (HTTP 400).
    #[error("{0}")]
    InvalidParameter(String),
    #[error("get {0}: no such volume")]
    NotFound(String),
    /// The volume is mounted by us and cannot go (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] berth_store::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// A volume's record: what `volume inspect` shows, minus what is derived
/// (mountpoint, scope).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// RFC 3339, seconds.
    pub created_at: String,
}

impl Volume {
    /// Made by a container's `-v /path` or an image's VOLUME, not by name.
    pub fn is_anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }
}

/// What `volume create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    /// None: an anonymous volume, a random 64-hex name and the
    /// [`ANONYMOUS_LABEL`].
    pub name: Option<String>,
    /// None or empty: `local`.
    pub driver: Option<String>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

pub struct Volumes {
    /// `<data-root>/volumes`.
    dir: PathBuf,
    store: Arc<Store>,
    /// Creations and removals, one at a time (cheap, and it keeps a
    /// create racing a remove of the same name simple).
    changes: Mutex<()>,
    /// Volumes with driver options: how many containers have them mounted.
    active: Mutex<HashMap<String, usize>>,
}

impl Volumes {
    /// Opens the volumes of `data_root`, finishing what a killed daemon left
    /// half done (see the module's notes).
    pub fn open(data_root: &Path, store: Arc<Store>) -> Result<Volumes> {
        let dir = data_root.join("volumes");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o701)
            .create(&dir)
            .map_err(io_err(format!("creating {}", dir.display())))?;
        let volumes = Volumes {
            dir,
            store,
            changes: Mutex::new(()),
            active: Mutex::new(HashMap::new()),
        };
        volumes.recover()?;
        Ok(volumes)
    }

    fn recover(&self) -> Result<()> {
        let entries =
            fs::read_dir(&self.dir).map_err(io_err(format!("reading {}", self.dir.display())))?;
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(name) = file_name
                .to_str()
                .and_then(|n| n.strip_prefix(TRASH_PREFIX))
            else {
                continue;
            };
            if self.store.get::<Volume>(Kind::Volumes, name)?.is_some() {
                fs::rename(entry.path(), self.dir.join(name))
                    .map_err(io_err(format!("restoring volume {name}")))?;
            } else {
                fs::remove_dir_all(entry.path())
                    .map_err(io_err(format!("finishing the removal of volume {name}")))?;
            }
        }
        for v in self.store.all::<Volume>(Kind::Volumes)? {
            self.make_data_dir(&v.name)?;
        }
        Ok(())
    }

    /// `<data-root>/volumes/<name>/_data`: what a container mounts.
    pub fn mountpoint(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    fn make_data_dir(&self, name: &str) -> Result<()> {
        let data = self.mountpoint(name);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&data)
            .map_err(io_err(format!("creating {}", data.display())))
    }

    /// Creates a volume, or returns the one of that name when it exists
    /// with the same driver (as dockerd does: `create` is idempotent).
    pub fn create(&self, req: CreateRequest) -> Result<Volume> {
        let driver = match req.driver.as_deref() {
            None | Some("") => LOCAL,
            Some(d) => d,
        };
        if driver != LOCAL {
            return Err(Error::InvalidParameter(format!(
                "error looking up volume plugin {driver}: plugin \"{driver}\" not found"
            )));
        }
        let mut labels = req.labels;
        let name = match req.name.as_deref() {
            // No name: an anonymous volume, labelled so, as dockerd does.
            None | Some("") => {
                labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
                random_name()?
            }
            Some(n) => {
                validate_name(n)?;
                n.to_string()
            }
        };
        driver::validate(&req.options)?;
        let _guard = self.changes.lock().expect("volume changes lock");
        if let Some(existing) = self.store.get::<Volume>(Kind::Volumes, &name)? {
            return Ok(existing);
        }
        let v = Volume {
            name: name.clone(),
            driver: driver.to_string(),
            labels,
            options: req.options,
            created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        };
        self.store.put(Kind::Volumes, &name, &v)?;
        if let Err(e) = self.make_data_dir(&name) {
            let _ = self.store.delete(Kind::Volumes, &name);
            let _ = fs::remove_dir_all(self.dir.join(&name));
            return Err(e);
        }
        Ok(v)
    }

    pub fn get(&self, name: &str) -> Result<Volume> {
        self.store
            .get(Kind::Volumes, name)?
            .ok_or_else(|| Error::NotFound(name.to_string()))
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<Volume>> {
        let mut all: Vec<Volume> = self.store.all(Kind::Volumes)?;
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// Removes the volume and its data. The caller has checked that no
    /// container uses it.
    pub fn remove(&self, name: &str) -> Result<()> {
        let _guard = self.changes.lock().expect("volume changes lock");
        self.get(name)?;
        if self
            .active
            .lock()
            .expect("active volumes lock")
            .contains_key(name)
        {
            return Err(Error::Conflict(format!(
                "remove {name}: volume is in use (its filesystem is mounted)"
            )));
        }
        let home = self.dir.join(name);
        let trash = self.dir.join(format!("{TRASH_PREFIX}{name}"));
        match fs::rename(&home, &trash) {
            Ok(()) => {}
            // Already gone from disk: only the record is left to remove.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(format!("removing volume {name}"))(e)),
        }
        self.store.delete(Kind::Volumes, name)?;
        match fs::remove_dir_all(&trash) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(format!("removing the data of volume {name}"))(e)),
        }
    }

    /// Makes the volume's data ready for a container and returns the host
    /// path to bind: for a volume with driver options, its filesystem is
    /// mounted on first use. Each call pairs with one [`Volumes::release`].
    pub fn acquire(&self, v: &Volume) -> Result<PathBuf> {
        let path = self.mountpoint(&v.name);
        if !driver::needs_mount(&v.options) {
            return Ok(path);
        }
        let mut active = self.active.lock().expect("active volumes lock");
        let count = active.entry(v.name.clone()).or_insert(0);
        if *count == 0
            && !driver::is_mounted(&path)
            && let Err(e) = driver::mount(&v.options, &path)
        {
            active.remove(&v.name);
            return Err(e);
        }
        *count += 1;
        Ok(path)
    }

    /// A container stopped using the volume: the last one unmounts its
    /// filesystem.
    pub fn release(&self, v: &Volume) -> Result<()> {
        if !driver::needs_mount(&v.options) {
            return Ok(());
        }
        let mut active = self.active.lock().expect("active volumes lock");
        let Some(count) = active.get_mut(&v.name) else {
            return Ok(());
        };
        *count -= 1;
        if *count == 0 {
            active.remove(&v.name);
            driver::unmount(&self.mountpoint(&v.name))?;
        }
        Ok(())
    }

    /// Bytes the volume's data takes (`system df -v`).
    pub fn size(&self, name: &str) -> u64 {
        copy::disk_usage(&self.mountpoint(name))
    }
}

/// dockerd's rule for local volume names: two or more characters of
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]`.
pub fn validate_name(name: &str) -> Result<()> {
    if name.len() == 1 {
        return Err(Error::InvalidParameter(
            "volume name is too short, names should be at least two alphanumeric characters".into(),
        ));
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !first_ok || !rest_ok {
        return Err(Error::InvalidParameter(format!(
            "{name:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )));
    }
    Ok(())
}

/// 64 hex characters, as dockerd names anonymous volumes.
fn random_name() -> Result<String> {
    let mut bytes = [0u8; 32];
    let mut f = fs::File::open("/dev/urandom").map_err(io_err("opening /dev/urandom"))?;
    std::io::Read::read_exact(&mut f, &mut bytes).map_err(io_err("reading /dev/urandom"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests;
