//! Volumes: the swagger's `Volume`, `VolumeCreateOptions`,
//! `VolumeListResponse`, and the prune answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /volumes/{name}`, and each entry of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub created_at: String,
    pub driver: String,
    #[serde(with = "crate::empty_as_null")]
    pub labels: BTreeMap<String, String>,
    pub mountpoint: String,
    pub name: String,
    #[serde(with = "crate::empty_as_null")]
    pub options: BTreeMap<String, String>,
    pub scope: String,
    /// Only `GET /system/df` fills it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usage_data: Option<UsageData>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UsageData {
    /// Bytes; -1 when not computed.
    pub size: i64,
    /// Containers that reference the volume; -1 when not computed.
    pub ref_count: i64,
}

/// `POST /volumes/create`'s body. Unknown fields are refused by the server
/// (ClusterVolumeSpec belongs to swarm, which berth does not have).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeCreateOptions {
    pub name: Option<String>,
    pub driver: Option<String>,
    pub driver_opts: Option<BTreeMap<String, String>>,
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_volume_spec: Option<serde_json::Value>,
}

/// `GET /volumes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeListResponse {
    pub volumes: Vec<Volume>,
    pub warnings: Option<Vec<String>>,
}

/// `POST /volumes/prune`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumePruneResponse {
    #[serde(with = "crate::empty_as_null")]
    pub volumes_deleted: Vec<String>,
    pub space_reclaimed: u64,
}
