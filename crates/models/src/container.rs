//! Containers: the swagger's `ContainerConfig`, `HostConfig` and the types
//! inside them, as clients send them and `inspect` shows them (fields berth
//! does not act on are kept and echoed; unknown fields are ignored, as
//! dockerd's JSON decoder does), and the inspect answer itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// `Cmd`, `Entrypoint` and `Healthcheck.Test` accept a string or a list.
fn str_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(vec![s])),
        Some(serde_json::Value::Array(a)) => a
            .into_iter()
            .map(|x| match x {
                serde_json::Value::String(s) => Ok(s),
                other => Err(other),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
            .map_err(|other| {
                serde::de::Error::custom(format!("expected a list of strings, found {other}"))
            }),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a string or a list of strings, found {other}"
        ))),
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(skip_serializing_if = "none_or_empty")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "str_or_list")]
    pub cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    pub image: String,
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub working_dir: String,
    #[serde(deserialize_with = "str_or_list")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub network_disabled: bool,
    pub on_build: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// `--mac-address` as API versions before 1.44 send it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    /// The create body's `NetworkingConfig`, which the API decodes with
    /// the Config: checked at create, never kept.
    #[serde(skip_serializing)]
    pub networking_config: Option<NetworkingConfig>,
}

/// `NetworkingConfig` of a create: an endpoint per network to join.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    pub endpoints_config: Option<BTreeMap<String, Option<crate::network::EndpointSettings>>>,
}

/// Durations are in nanoseconds, as in the API.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthConfig {
    // Every member is Go's `omitempty`: a zero is not sent.
    #[serde(
        deserialize_with = "str_or_list",
        skip_serializing_if = "none_or_empty"
    )]
    pub test: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub start_interval: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    pub container_i_d_file: String,
    pub log_config: LogConfig,
    pub network_mode: String,
    pub port_bindings: Option<BTreeMap<String, serde_json::Value>>,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    pub volume_driver: String,
    pub volumes_from: Option<Vec<String>>,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub dns: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
    pub group_add: Option<Vec<String>>,
    pub ipc_mode: String,
    pub oom_score_adj: i64,
    pub pid_mode: String,
    pub privileged: bool,
    pub publish_all_ports: bool,
    pub readonly_rootfs: bool,
    pub security_opt: Option<Vec<String>>,
    #[serde(skip_serializing_if = "none_or_empty")]
    pub tmpfs: Option<BTreeMap<String, String>>,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub shm_size: i64,
    pub cpu_shares: i64,
    pub memory: i64,
    pub nano_cpus: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub memory_reservation: i64,
    pub memory_swap: i64,
    pub oom_kill_disable: Option<bool>,
    pub pids_limit: Option<i64>,
    pub ulimits: Option<Vec<Ulimit>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    #[serde(skip_serializing_if = "none_or_empty")]
    pub sysctls: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "none_or_empty")]
    pub mounts: Option<Vec<Mount>>,
    pub devices: Option<Vec<DeviceMapping>>,
    pub device_cgroup_rules: Option<Vec<String>>,
    pub device_requests: Option<Vec<serde_json::Value>>,
    pub links: Option<Vec<String>>,
    pub runtime: String,
    /// The cgroup the container's goes under (`<parent>/<id>`), instead of
    /// the daemon's.
    pub cgroup_parent: String,
    /// `private` (a cgroup namespace of its own) or `host`.
    pub cgroupns_mode: String,
    pub cpuset_mems: String,
    /// Go decodes JSON keys without regard to case, and docker-py sends
    /// these two as `CPURealtimePeriod` and `CPURealtimeRuntime`.
    #[serde(alias = "CPURealtimePeriod")]
    pub cpu_realtime_period: i64,
    #[serde(alias = "CPURealtimeRuntime")]
    pub cpu_realtime_runtime: i64,
    /// 0 to 100; -1 (older clients' "unset") or none keeps the kernel's.
    pub memory_swappiness: Option<i64>,
    pub blkio_weight: u16,
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    /// Replace Docker's masked and read-only paths when set (an empty list
    /// is `--security-opt systempaths=unconfined`); create fills in
    /// Docker's for an unprivileged container, as dockerd.
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    /// The runtime spec's annotations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The terminal's initial [height, width]; Go's `[2]uint`, so `[0, 0]`
    /// when not given.
    #[serde(serialize_with = "console_size")]
    pub console_size: Option<[u64; 2]>,
    // Fields berth has no use for on Linux, kept to be refused (or warned
    // about) when set: see sysinfo.rs and `refuse_unsupported`.
    pub kernel_memory: i64,
    #[serde(rename = "KernelMemoryTCP")]
    pub kernel_memory_tcp: i64,
    pub cpu_count: i64,
    pub cpu_percent: i64,
    #[serde(rename = "IOMaximumIOps")]
    pub io_maximum_iops: u64,
    #[serde(rename = "IOMaximumBandwidth")]
    pub io_maximum_bandwidth: u64,
    pub cgroup: String,
    pub userns_mode: String,
    pub isolation: String,
    #[serde(skip_serializing_if = "none_or_empty")]
    pub storage_opt: Option<BTreeMap<String, String>>,
}

/// Go's `omitempty` on a map or slice: absent when nil or empty.
fn none_or_empty<T: crate::empty_as_null::IsEmpty>(v: &Option<T>) -> bool {
    v.as_ref().is_none_or(|v| v.is_empty_value())
}

fn console_size<S: serde::Serializer>(v: &Option<[u64; 2]>, s: S) -> Result<S::Ok, S::Error> {
    v.unwrap_or([0, 0]).serialize(s)
}

/// `--blkio-weight-device PATH:WEIGHT`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

/// `--device-read-bps PATH:RATE` and the other throttles (bytes or
/// operations per second).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

/// `--device HOST[:CONTAINER][:PERMS]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

/// One `--mount` (`HostConfig.Mounts`). The options are kept as sent;
/// berth reads what it acts on (see spec.rs).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    #[serde(rename = "Type")]
    pub kind: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub consistency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_options: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub propagation: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub non_recursive: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub create_mountpoint: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only_non_recursive: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only_force_recursive: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    #[serde(skip_serializing_if = "is_zero")]
    pub size_bytes: i64,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub mode: u32,
    /// `[["noexec"], ["nr_inodes", "1000"]]` (API 1.46).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<Vec<String>>>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLog {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// starting, healthy or unhealthy.
    pub status: String,
    pub failing_streak: i64,
    pub log: Vec<HealthLog>,
}

/// `State` in a container's inspect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub health: Option<Health>,
}

/// One of `Mounts` in a container's inspect (moby's MountPoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub name: String,
    pub source: String,
    pub destination: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub driver: String,
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
}

/// `GraphDriver` in inspect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

/// `GET /containers/{id}/json`, in moby's field order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: ContainerState,
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriver,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size_root_fs: Option<i64>,
    pub mounts: Vec<MountPoint>,
    pub config: Config,
    pub network_settings: crate::network::NetworkSettings,
}

#[cfg(test)]
mod tests {
    use super::HostConfig;

    #[test]
    fn realtime_fields_take_docker_pys_spelling() {
        let hc: HostConfig =
            serde_json::from_str(r#"{"CPURealtimePeriod": 1000, "CPURealtimeRuntime": 500}"#)
                .unwrap();
        assert_eq!(
            (hc.cpu_realtime_period, hc.cpu_realtime_runtime),
            (1000, 500)
        );
        let hc: HostConfig =
            serde_json::from_str(r#"{"CpuRealtimePeriod": 2000, "CpuRealtimeRuntime": 5}"#)
                .unwrap();
        assert_eq!((hc.cpu_realtime_period, hc.cpu_realtime_runtime), (2000, 5));
    }
}
