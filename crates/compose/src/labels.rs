//! The labels Compose puts on what it makes (com.docker.compose.*), by
//! which a later `up`, `ps` or `down` finds a project's containers,
//! networks and volumes, docker-compose's and `docker compose`'s alike.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::model::Service;

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const IMAGE: &str = "com.docker.compose.image";
pub const VERSION: &str = "com.docker.compose.version";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";

/// What berth writes as the Compose version.
pub const COMPOSE_VERSION: &str = "2.0.0-berth";

/// The hash of what a service's containers are made from: a change
/// recreates them. How many there are is not part of it (scaling keeps
/// the containers that stay).
pub fn config_hash(service: &Service) -> String {
    let mut s = service.clone();
    s.scale = None;
    if let Some(d) = &mut s.deploy {
        d.replicas = None;
    }
    let bytes = serde_json::to_vec(&json!(s)).expect("the model serializes");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A `filters` query value selecting by labels (`k=v` each).
pub fn filter(labels: &[(&str, &str)]) -> String {
    let list: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    json!({ "label": list }).to_string()
}
