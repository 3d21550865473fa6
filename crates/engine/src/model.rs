//! A container as the engine keeps it: the wire types of berth-models
//! (Config, HostConfig and theirs, as the client sent them) and what only
//! the engine knows (its state, its resolved mounts).

use serde::{Deserialize, Serialize};

pub use berth_models::container::*;

/// What the engine knows of a container's process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    pub pid: i32,
    /// The shim holding the container; 0 when none.
    pub shim_pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub oom_killed: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub health: Option<Health>,
    /// Set by stop/kill so that the restart policy leaves it stopped.
    #[serde(default)]
    pub stopped_by_user: bool,
}

/// The persisted record of one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    /// Without the leading `/` the API adds.
    pub name: String,
    pub created: String,
    /// The image's id (`sha256:...`).
    pub image: String,
    /// The path and args the container runs (entrypoint + cmd merged).
    pub path: String,
    pub args: Vec<String>,
    pub config: Config,
    pub host_config: HostConfig,
    pub state: State,
    pub restart_count: i64,
    /// Resolved at create (mounts.rs); older records have none.
    #[serde(default)]
    pub mounts: Vec<crate::mounts::MountPoint>,
    /// The networks it is on (asked for at create and connect; addresses
    /// and ports filled while it runs), in inspect's shape.
    #[serde(default)]
    pub network_settings: berth_models::network::NetworkSettings,
}

impl Container {
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }

    pub fn labels_get(&self, key: &str) -> Option<&str> {
        self.config.labels.as_ref()?.get(key).map(String::as_str)
    }

    /// The volumes the container mounts, by name.
    pub fn volume_names(&self) -> impl Iterator<Item = &str> {
        self.mounts
            .iter()
            .filter(|m| m.kind == crate::mounts::Kind::Volume)
            .map(|m| m.name.as_str())
    }

    pub fn is_running(&self) -> bool {
        matches!(
            self.state.status,
            Status::Running | Status::Paused | Status::Restarting
        )
    }
}
