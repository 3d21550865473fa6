#![forbid(unsafe_code)]
//! The engine's core, under the API: containers (create from an image,
//! start through a shim, stop, remove, restart policies), the state store,
//! the shim itself, logs and events.
//!
//! Start at [`Engine`]: it owns the store, the image store and the live
//! view of the containers; `containers.rs` has the lifecycle, `shim/` the
//! per-container process, `spec.rs` the runtime spec dockerd would write.
//!
//! Invariant: the store is the truth about containers; the in-memory map is
//! a cache written through to it under one lock, so a daemon killed at any
//! point reopens to a consistent set, and re-adopts running containers from
//! their shims (or their exit files).

pub mod archive;
pub mod build;
pub mod changes;
pub mod containers;
pub mod defaults;
pub mod error;
pub mod events;
pub mod exec;
pub mod health;
mod image_fs;
pub mod images;
mod init_layer;
pub mod logs;
pub mod model;
pub mod mounts;
pub mod names;
pub mod networks;
pub mod seccomp;
pub mod spec;
pub mod sysinfo;
pub mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Bytes under a directory (apparent sizes of its regular files).
pub use berth_image::images::du as disk_usage;
/// Docker's multiplexed stdio framing: the shim writes attach streams in it,
/// the API's logs and exec streams reuse it.
pub use berth_shim::protocol::frame;
pub use error::{Error, Result};
pub use model::Container;

/// Where an engine keeps its state, and the binary its shims run.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    /// The berth executable (`berth shim`, `berth runtime exec`).
    pub exe: PathBuf,
    /// The cgroup under which containers go (`berth` as docker's `docker`).
    pub cgroup_parent: String,
    /// Registries spoken to over plain HTTP though not on loopback
    /// (dockerd's `--insecure-registry`).
    pub insecure_registries: Vec<String>,
    /// The default bridge and the firewall table (networks.rs).
    pub net: networks::NetConfig,
    /// The most a build context may hold, unpacked (None: the default).
    pub build_context_limit: Option<u64>,
}

pub struct Engine {
    pub config: Config,
    pub images: berth_image::images::ImageStore,
    pub volumes: berth_volume::Volumes,
    pub events: events::Events,
    store: std::sync::Arc<berth_store::Store>,
    containers: Mutex<BTreeMap<String, Container>>,
    /// Attach requests waiting for a container's next start.
    pending_attach: Mutex<HashMap<String, Vec<containers::PendingAttach>>>,
    execs: Mutex<HashMap<String, exec::ExecInstance>>,
    /// The layer of mount points over every container's image (init_layer.rs).
    init_layer: PathBuf,
    /// Bridges, firewall and address pools (networks/live.rs).
    net_live: networks::live::Live,
    /// What each running container holds of its networks.
    net_attached: Mutex<HashMap<String, networks::attach::Attached>>,
    /// Serialises changes to which containers are on which network
    /// against network removal.
    network_changes: Mutex<()>,
}

impl Engine {
    /// Opens the stores; [`Engine::adopt`] then takes back running containers.
    pub fn open(config: Config) -> Result<Engine> {
        // One state store: containers, images and tags in one database.
        let store = std::sync::Arc::new(berth_store::Store::open(&config.data_root)?);
        let images = berth_image::images::ImageStore::with_store(&config.data_root, store.clone())?;
        let volumes = berth_volume::Volumes::open(&config.data_root, store.clone())?;
        let all: Vec<Container> = store.all(berth_store::Kind::Containers)?;
        let containers: BTreeMap<String, Container> =
            all.into_iter().map(|c| (c.id.clone(), c)).collect();
        for dir in [
            config.exec_root.join("shims"),
            config.exec_root.join("execs"),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let init_layer = init_layer::ensure(&config.data_root)?;
        // What a crash left: the trash, and bundles of containers the store
        // no longer has (removed, their files not yet deleted).
        let mut leftovers = vec![config.data_root.join("trash")];
        leftovers.extend(
            std::fs::read_dir(config.exec_root.join("bundles"))
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| !containers.contains_key(&*e.file_name().to_string_lossy()))
                .map(|e| e.path()),
        );
        std::thread::spawn(move || {
            berth_sys::become_background_thread();
            for dir in leftovers {
                let _ = std::fs::remove_dir_all(dir);
            }
        });
        Engine {
            config,
            images,
            volumes,
            events: events::Events::default(),
            store,
            containers: Mutex::new(containers),
            pending_attach: Mutex::new(HashMap::new()),
            execs: Mutex::new(HashMap::new()),
            init_layer,
            net_live: Default::default(),
            net_attached: Mutex::new(HashMap::new()),
            network_changes: Mutex::new(()),
        }
        .with_builtin_networks()
    }

    fn with_builtin_networks(self) -> Result<Engine> {
        self.ensure_builtin_networks()?;
        Ok(self)
    }

    /// What a container keeps across starts and reboots: its overlay's
    /// upper and work directories and its log.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.config.data_root.join("containers").join(id)
    }

    /// The runtime bundle of a container's current run (config.json,
    /// shim.json, hosts, hostname, resolv.conf, the rootfs mount point, the
    /// shim's log and exit.json): volatile, so under the exec root, and
    /// rewritten at each start. On most hosts that is a tmpfs (/run), where
    /// a file costs no disk inode to make and delete.
    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        self.config.exec_root.join("bundles").join(id)
    }

    /// The bundle of the container's current run: [`Engine::bundle_dir`],
    /// or the container directory for a run started by a berth from before
    /// bundles moved to the exec root (its shim still writes there).
    pub(crate) fn current_bundle(&self, id: &str) -> PathBuf {
        let bundle = self.bundle_dir(id);
        let legacy = self.container_dir(id);
        if !bundle.join("shim.json").exists() && legacy.join("shim.json").exists() {
            legacy
        } else {
            bundle
        }
    }

    pub fn runtime_root(&self) -> PathBuf {
        self.config.exec_root.join("runtime")
    }

    /// Short enough for sun_path whatever the exec root's length in tests.
    pub fn shim_socket(&self, id: &str) -> PathBuf {
        self.config
            .exec_root
            .join("shims")
            .join(format!("{}.sock", &id[..16]))
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(format!("{id}-json.log"))
    }

    /// The container a full id, a name (with or without `/`) or a unique id
    /// prefix names.
    pub fn get(&self, name: &str) -> Result<Container> {
        let map = self.containers.lock().expect("containers lock");
        find(&map, name).cloned()
    }

    /// Every container, newest first.
    pub fn list(&self) -> Vec<Container> {
        let map = self.containers.lock().expect("containers lock");
        let mut all: Vec<Container> = map.values().cloned().collect();
        all.sort_by(|a, b| b.created.cmp(&a.created));
        all
    }

    /// Applies `f` to the container and writes it through to the store:
    /// queued under the map's lock (so the store sees changes in the map's
    /// order), waited for after it (so parallel writers share commits). A
    /// commit that fails leaves the map ahead of the store until the
    /// container's next write, which carries the whole record.
    pub(crate) fn update<T>(&self, id: &str, f: impl FnOnce(&mut Container) -> T) -> Result<T> {
        let (out, ticket) = {
            let mut map = self.containers.lock().expect("containers lock");
            let c = map
                .get_mut(id)
                .ok_or_else(|| Error::no_such_container(id))?;
            let mut next = c.clone();
            let out = f(&mut next);
            let ticket = self
                .store
                .queue_put(berth_store::Kind::Containers, id, &next)?;
            *c = next;
            (out, ticket)
        };
        self.durable(ticket)?;
        Ok(out)
    }

    /// Waits for a queued store write. On the daemon's runtime the worker
    /// hands its other tasks over first (the wait may be a commit's fsync):
    /// with two workers, two waits would otherwise stall every connection.
    pub(crate) fn durable(&self, ticket: berth_store::Ticket) -> Result<()> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        match Handle::try_current() {
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.store.wait(ticket))
            }
            _ => self.store.wait(ticket),
        }
        .map_err(Error::from)
    }

    /// Applies `f` to the container in memory only, for a change whose
    /// durable record follows at once (an `--rm` container's exit, before
    /// its removal) or with the exit it leads to (`stopped_by_user`): one
    /// synced commit fewer on the way. Lost in a crash, it is as if the
    /// request had come a moment later.
    pub(crate) fn update_unsaved<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Container) -> T,
    ) -> Result<T> {
        let mut map = self.containers.lock().expect("containers lock");
        let c = map
            .get_mut(id)
            .ok_or_else(|| Error::no_such_container(id))?;
        Ok(f(c))
    }

    /// Images used by a container (for `rmi`'s in-use check).
    pub fn image_in_use(&self, image_id: &str) -> Option<String> {
        let map = self.containers.lock().expect("containers lock");
        map.values()
            .find(|c| c.image == image_id)
            .map(|c| c.id.clone())
    }

    /// Moves a removed container's directory out of the way at once (one
    /// rename) and deletes it in the background, at the lowest priority; what a
    /// crash leaves in the trash goes at the next start.
    pub(crate) fn discard_dir(&self, id: &str) {
        let trash = self.config.data_root.join("trash");
        let _ = std::fs::create_dir_all(&trash);
        let target = trash.join(id);
        let dir = match std::fs::rename(self.container_dir(id), &target) {
            Ok(()) => target,
            Err(_) => self.container_dir(id),
        };
        let bundle = self.bundle_dir(id);
        std::thread::spawn(move || {
            berth_sys::become_background_thread();
            let _ = std::fs::remove_dir_all(bundle);
            std::fs::remove_dir_all(dir)
        });
    }

    pub fn data_root(&self) -> &Path {
        &self.config.data_root
    }
}

fn find<'a>(map: &'a BTreeMap<String, Container>, name: &str) -> Result<&'a Container> {
    if let Some(c) = map.get(name) {
        return Ok(c);
    }
    let bare = name.strip_prefix('/').unwrap_or(name);
    if let Some(c) = map.values().find(|c| c.name == bare) {
        return Ok(c);
    }
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_hexdigit()) {
        let mut hits = map.values().filter(|c| c.id.starts_with(name));
        if let Some(first) = hits.next() {
            if hits.next().is_some() {
                return Err(Error::Invalid(format!(
                    "multiple IDs found with provided prefix: {name}"
                )));
            }
            return Ok(first);
        }
    }
    Err(Error::no_such_container(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_sweeps_what_a_crash_left() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_root: dir.path().join("data"),
            exec_root: dir.path().join("exec"),
            exe: PathBuf::from("/bin/false"),
            cgroup_parent: "berth-test".into(),
            insecure_registries: Vec::new(),
            net: Default::default(),
            build_context_limit: None,
        };
        let orphan = config.exec_root.join("bundles/0123abcd");
        let trashed = config.data_root.join("trash/4567ef");
        for d in [&orphan, &trashed] {
            std::fs::create_dir_all(d.join("rootfs")).unwrap();
            std::fs::write(d.join("config.json"), b"{}").unwrap();
        }
        let engine = Engine::open(config).unwrap();
        let gone = || !orphan.exists() && !trashed.exists();
        for _ in 0..100 {
            if gone() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(gone(), "the orphan bundle and the trash are deleted");
        assert!(
            engine
                .config
                .data_root
                .join("init-layer/etc/hosts")
                .is_file()
        );
    }
}
