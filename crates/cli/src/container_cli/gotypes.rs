//! The Go types docker's `inspect` decodes the engine's JSON into, so that
//! `inspect -f` sees what docker's CLI sees.
//!
//! docker runs an inspect template twice at most: over its typed struct
//! (`container.InspectResponse`, `image.InspectResponse`), and, when that
//! fails, over the raw JSON map with `missingkey=error`. The typed pass is
//! reproduced here over a *typed document*: the JSON decoded as Go decodes it
//! into the struct ([`decode`]): keys are the Go field names (`ID`, `DNS`,
//! `NanoCPUs`; `.Id` is not a field of the struct, and fails there), every
//! field is present (zero when the JSON lacks it), unknown keys are dropped,
//! a `time.Time` or `time.Duration` holds its printed form (`String()`).
//! [`TypedEnv`] makes a missing field of a struct an error, `json` write
//! struct fields in declaration order under their JSON names with
//! `omitempty` ([`marshal`]), and JSON nulls print as their Go nil.
//! [`RawEnv`] is the raw pass.
//!
//! The types are moby's api/types as of docker 28.2 (API 1.50); a field
//! the engine sends that they lack is only seen by the raw pass, as in docker.

use std::collections::HashMap;
use std::sync::OnceLock;

use berth_template::{Env, GoField, Missing};
use serde_json::{Map, Value};

/// A Go type, as far as printing, JSON and field lookup tell them apart.
#[derive(Clone, Copy, Debug)]
pub enum Ty {
    /// A string kind.
    Str,
    Bool,
    /// Any integer kind.
    Int,
    /// `time.Time`: RFC 3339 in JSON, printed as Go's `Time.String`.
    Time,
    /// `time.Duration`: nanoseconds in JSON, printed as Go's
    /// `Duration.String` (`1m30s`).
    Duration,
    /// Kept as the JSON says (`[]byte`, types not modelled).
    Any,
    Slice(&'static Ty),
    /// A Go array (`[2]uint`): never nil, zero is `n` zero elements.
    Array(&'static Ty, usize),
    /// `map[string]T`.
    Map(&'static Ty),
    Ptr(&'static Ty),
    Struct(&'static Struct),
}

/// A Go struct: its type name (for errors) and its fields in declaration
/// order, embedded structs' fields inlined as Go promotes them.
#[derive(Debug)]
pub struct Struct {
    pub name: &'static str,
    pub fields: &'static [Field],
}

/// A struct field: Go name, JSON name, type, `omitempty`; or an embedded
/// struct (its type name and type), whose fields are promoted.
#[derive(Debug)]
pub struct Field {
    pub go: &'static str,
    pub json: &'static str,
    pub ty: Ty,
    pub omitempty: bool,
    pub embedded: bool,
}

const fn f(go: &'static str, ty: Ty) -> Field {
    Field {
        go,
        json: go,
        ty,
        omitempty: false,
        embedded: false,
    }
}

/// A field whose JSON name differs from its Go name.
const fn fj(go: &'static str, json: &'static str, ty: Ty) -> Field {
    Field {
        go,
        json,
        ty,
        omitempty: false,
        embedded: false,
    }
}

/// An `omitempty` field.
const fn fo(go: &'static str, ty: Ty) -> Field {
    Field {
        go,
        json: go,
        ty,
        omitempty: true,
        embedded: false,
    }
}

/// An `omitempty` field whose JSON name differs from its Go name.
const fn fjo(go: &'static str, json: &'static str, ty: Ty) -> Field {
    Field {
        go,
        json,
        ty,
        omitempty: true,
        embedded: false,
    }
}

/// An embedded struct.
const fn emb(name: &'static str, s: &'static Struct) -> Field {
    Field {
        go: name,
        json: "",
        ty: Ty::Struct(s),
        omitempty: false,
        embedded: true,
    }
}

/// The fields of `s` as its JSON and field lookups see them: embedded
/// structs' fields inlined.
fn flat_fields(s: &'static Struct) -> Vec<&'static Field> {
    let mut out = Vec::with_capacity(s.fields.len());
    for f in s.fields {
        match (f.embedded, f.ty) {
            (true, Ty::Struct(inner)) => out.extend(flat_fields(inner)),
            _ => out.push(f),
        }
    }
    out
}

use Ty::{Any, Bool, Int, Str};

const STRS: Ty = Ty::Slice(&Str);
const STR_MAP: Ty = Ty::Map(&Str);
/// `map[string]struct{}` (nat.PortSet, Volumes).
const SET: Ty = Ty::Map(&Ty::Struct(&EMPTY));
const PORT_MAP: Ty = Ty::Map(&Ty::Slice(&Ty::Struct(&PORT_BINDING)));

static EMPTY: Struct = Struct {
    name: "struct {}",
    fields: &[],
};

static CONTAINER: Struct = Struct {
    name: "container.InspectResponse",
    fields: &[
        // *ContainerJSONBase
        fj("ID", "Id", Str),
        f("Created", Str),
        f("Path", Str),
        f("Args", STRS),
        f("State", Ty::Ptr(&Ty::Struct(&STATE))),
        f("Image", Str),
        f("ResolvConfPath", Str),
        f("HostnamePath", Str),
        f("HostsPath", Str),
        f("LogPath", Str),
        f("Name", Str),
        f("RestartCount", Int),
        f("Driver", Str),
        f("Platform", Str),
        f("MountLabel", Str),
        f("ProcessLabel", Str),
        f("AppArmorProfile", Str),
        f("ExecIDs", STRS),
        f("HostConfig", Ty::Ptr(&Ty::Struct(&HOST_CONFIG))),
        f("GraphDriver", Ty::Struct(&DRIVER_DATA)),
        fo("SizeRw", Ty::Ptr(&Int)),
        fo("SizeRootFs", Ty::Ptr(&Int)),
        // InspectResponse
        f("Mounts", Ty::Slice(&Ty::Struct(&MOUNT_POINT))),
        f("Config", Ty::Ptr(&Ty::Struct(&CONFIG))),
        f("NetworkSettings", Ty::Ptr(&Ty::Struct(&NETWORK_SETTINGS))),
        fo("ImageManifestDescriptor", Ty::Ptr(&Ty::Struct(&DESCRIPTOR))),
    ],
};

static STATE: Struct = Struct {
    name: "*container.State",
    fields: &[
        f("Status", Str),
        f("Running", Bool),
        f("Paused", Bool),
        f("Restarting", Bool),
        f("OOMKilled", Bool),
        f("Dead", Bool),
        f("Pid", Int),
        f("ExitCode", Int),
        f("Error", Str),
        f("StartedAt", Str),
        f("FinishedAt", Str),
        fo("Health", Ty::Ptr(&Ty::Struct(&HEALTH))),
    ],
};

static HEALTH: Struct = Struct {
    name: "*container.Health",
    fields: &[
        f("Status", Str),
        f("FailingStreak", Int),
        f("Log", Ty::Slice(&Ty::Ptr(&Ty::Struct(&HEALTH_RESULT)))),
    ],
};

static HEALTH_RESULT: Struct = Struct {
    name: "*container.HealthcheckResult",
    fields: &[
        f("Start", Ty::Time),
        f("End", Ty::Time),
        f("ExitCode", Int),
        f("Output", Str),
    ],
};

static MOUNT_POINT: Struct = Struct {
    name: "container.MountPoint",
    fields: &[
        fo("Type", Str),
        fo("Name", Str),
        f("Source", Str),
        f("Destination", Str),
        fo("Driver", Str),
        f("Mode", Str),
        f("RW", Bool),
        f("Propagation", Str),
    ],
};

static DRIVER_DATA: Struct = Struct {
    name: "storage.DriverData",
    fields: &[f("Data", STR_MAP), f("Name", Str)],
};

static CONFIG: Struct = Struct {
    name: "*container.Config",
    fields: &[
        f("Hostname", Str),
        f("Domainname", Str),
        f("User", Str),
        f("AttachStdin", Bool),
        f("AttachStdout", Bool),
        f("AttachStderr", Bool),
        fo("ExposedPorts", SET),
        f("Tty", Bool),
        f("OpenStdin", Bool),
        f("StdinOnce", Bool),
        f("Env", STRS),
        f("Cmd", STRS),
        fo("Healthcheck", Ty::Ptr(&Ty::Struct(&HEALTH_CONFIG))),
        fo("ArgsEscaped", Bool),
        f("Image", Str),
        f("Volumes", SET),
        f("WorkingDir", Str),
        f("Entrypoint", STRS),
        fo("NetworkDisabled", Bool),
        fo("MacAddress", Str),
        f("OnBuild", STRS),
        f("Labels", STR_MAP),
        fo("StopSignal", Str),
        fo("StopTimeout", Ty::Ptr(&Int)),
        fo("Shell", STRS),
    ],
};

static HEALTH_CONFIG: Struct = Struct {
    name: "*v1.HealthcheckConfig",
    fields: &[
        fo("Test", STRS),
        fo("Interval", Ty::Duration),
        fo("Timeout", Ty::Duration),
        fo("StartPeriod", Ty::Duration),
        fo("StartInterval", Ty::Duration),
        fo("Retries", Int),
    ],
};

static HOST_CONFIG: Struct = Struct {
    name: "*container.HostConfig",
    fields: &[
        f("Binds", STRS),
        f("ContainerIDFile", Str),
        f("LogConfig", Ty::Struct(&LOG_CONFIG)),
        f("NetworkMode", Str),
        f("PortBindings", PORT_MAP),
        f("RestartPolicy", Ty::Struct(&RESTART_POLICY)),
        f("AutoRemove", Bool),
        f("VolumeDriver", Str),
        f("VolumesFrom", STRS),
        f("ConsoleSize", Ty::Array(&Int, 2)),
        fo("Annotations", STR_MAP),
        f("CapAdd", STRS),
        f("CapDrop", STRS),
        f("CgroupnsMode", Str),
        fj("DNS", "Dns", STRS),
        fj("DNSOptions", "DnsOptions", STRS),
        fj("DNSSearch", "DnsSearch", STRS),
        f("ExtraHosts", STRS),
        f("GroupAdd", STRS),
        f("IpcMode", Str),
        f("Cgroup", Str),
        f("Links", STRS),
        f("OomScoreAdj", Int),
        f("PidMode", Str),
        f("Privileged", Bool),
        f("PublishAllPorts", Bool),
        f("ReadonlyRootfs", Bool),
        f("SecurityOpt", STRS),
        fo("StorageOpt", STR_MAP),
        fo("Tmpfs", STR_MAP),
        f("UTSMode", Str),
        f("UsernsMode", Str),
        f("ShmSize", Int),
        fo("Sysctls", STR_MAP),
        fo("Runtime", Str),
        f("Isolation", Str),
        emb("Resources", &RESOURCES),
        fo("Mounts", Ty::Slice(&Ty::Struct(&MOUNT))),
        f("MaskedPaths", STRS),
        f("ReadonlyPaths", STRS),
        fo("Init", Ty::Ptr(&Bool)),
    ],
};

static RESOURCES: Struct = Struct {
    name: "container.Resources",
    fields: &[
        fj("CPUShares", "CpuShares", Int),
        f("Memory", Int),
        fj("NanoCPUs", "NanoCpus", Int),
        f("CgroupParent", Str),
        f("BlkioWeight", Int),
        f(
            "BlkioWeightDevice",
            Ty::Slice(&Ty::Ptr(&Ty::Struct(&WEIGHT_DEVICE))),
        ),
        f("BlkioDeviceReadBps", THROTTLE_DEVICES),
        f("BlkioDeviceWriteBps", THROTTLE_DEVICES),
        f("BlkioDeviceReadIOps", THROTTLE_DEVICES),
        f("BlkioDeviceWriteIOps", THROTTLE_DEVICES),
        fj("CPUPeriod", "CpuPeriod", Int),
        fj("CPUQuota", "CpuQuota", Int),
        fj("CPURealtimePeriod", "CpuRealtimePeriod", Int),
        fj("CPURealtimeRuntime", "CpuRealtimeRuntime", Int),
        f("CpusetCpus", Str),
        f("CpusetMems", Str),
        f("Devices", Ty::Slice(&Ty::Struct(&DEVICE_MAPPING))),
        f("DeviceCgroupRules", STRS),
        f("DeviceRequests", Ty::Slice(&Ty::Struct(&DEVICE_REQUEST))),
        fo("KernelMemory", Int),
        fo("KernelMemoryTCP", Int),
        f("MemoryReservation", Int),
        f("MemorySwap", Int),
        f("MemorySwappiness", Ty::Ptr(&Int)),
        f("OomKillDisable", Ty::Ptr(&Bool)),
        f("PidsLimit", Ty::Ptr(&Int)),
        f("Ulimits", Ty::Slice(&Ty::Ptr(&Ty::Struct(&ULIMIT)))),
        fj("CPUCount", "CpuCount", Int),
        fj("CPUPercent", "CpuPercent", Int),
        f("IOMaximumIOps", Int),
        f("IOMaximumBandwidth", Int),
    ],
};

const THROTTLE_DEVICES: Ty = Ty::Slice(&Ty::Ptr(&Ty::Struct(&THROTTLE_DEVICE)));

static LOG_CONFIG: Struct = Struct {
    name: "container.LogConfig",
    fields: &[f("Type", Str), f("Config", STR_MAP)],
};

static RESTART_POLICY: Struct = Struct {
    name: "container.RestartPolicy",
    fields: &[f("Name", Str), f("MaximumRetryCount", Int)],
};

static PORT_BINDING: Struct = Struct {
    name: "nat.PortBinding",
    fields: &[fj("HostIP", "HostIp", Str), f("HostPort", Str)],
};

static WEIGHT_DEVICE: Struct = Struct {
    name: "*blkiodev.WeightDevice",
    fields: &[f("Path", Str), f("Weight", Int)],
};

static THROTTLE_DEVICE: Struct = Struct {
    name: "*blkiodev.ThrottleDevice",
    fields: &[f("Path", Str), f("Rate", Int)],
};

static DEVICE_MAPPING: Struct = Struct {
    name: "container.DeviceMapping",
    fields: &[
        f("PathOnHost", Str),
        f("PathInContainer", Str),
        f("CgroupPermissions", Str),
    ],
};

static DEVICE_REQUEST: Struct = Struct {
    name: "container.DeviceRequest",
    fields: &[
        f("Driver", Str),
        f("Count", Int),
        f("DeviceIDs", STRS),
        f("Capabilities", Ty::Slice(&STRS)),
        f("Options", STR_MAP),
    ],
};

static ULIMIT: Struct = Struct {
    name: "*units.Ulimit",
    fields: &[f("Name", Str), f("Hard", Int), f("Soft", Int)],
};

static MOUNT: Struct = Struct {
    name: "mount.Mount",
    fields: &[
        fo("Type", Str),
        fo("Source", Str),
        fo("Target", Str),
        fo("ReadOnly", Bool),
        fo("Consistency", Str),
        fo("BindOptions", Ty::Ptr(&Ty::Struct(&BIND_OPTIONS))),
        fo("VolumeOptions", Ty::Ptr(&Ty::Struct(&VOLUME_OPTIONS))),
        fo("ImageOptions", Ty::Ptr(&Ty::Struct(&IMAGE_OPTIONS))),
        fo("TmpfsOptions", Ty::Ptr(&Ty::Struct(&TMPFS_OPTIONS))),
        fo("ClusterOptions", Ty::Ptr(&Ty::Struct(&EMPTY))),
    ],
};

static BIND_OPTIONS: Struct = Struct {
    name: "*mount.BindOptions",
    fields: &[
        fo("Propagation", Str),
        fo("NonRecursive", Bool),
        fo("CreateMountpoint", Bool),
        fo("ReadOnlyNonRecursive", Bool),
        fo("ReadOnlyForceRecursive", Bool),
    ],
};

static VOLUME_OPTIONS: Struct = Struct {
    name: "*mount.VolumeOptions",
    fields: &[
        fo("NoCopy", Bool),
        fo("Labels", STR_MAP),
        fo("Subpath", Str),
        fo("DriverConfig", Ty::Ptr(&Ty::Struct(&MOUNT_DRIVER))),
    ],
};

static MOUNT_DRIVER: Struct = Struct {
    name: "*mount.Driver",
    fields: &[fo("Name", Str), fo("Options", STR_MAP)],
};

static IMAGE_OPTIONS: Struct = Struct {
    name: "*mount.ImageOptions",
    fields: &[fo("Subpath", Str)],
};

static TMPFS_OPTIONS: Struct = Struct {
    name: "*mount.TmpfsOptions",
    fields: &[
        fo("SizeBytes", Int),
        fo("Mode", Int),
        fo("Options", Ty::Slice(&STRS)),
    ],
};

static NETWORK_SETTINGS: Struct = Struct {
    name: "*container.NetworkSettings",
    fields: &[
        emb("NetworkSettingsBase", &NETWORK_SETTINGS_BASE),
        emb("DefaultNetworkSettings", &DEFAULT_NETWORK_SETTINGS),
        f(
            "Networks",
            Ty::Map(&Ty::Ptr(&Ty::Struct(&ENDPOINT_SETTINGS))),
        ),
    ],
};

static NETWORK_SETTINGS_BASE: Struct = Struct {
    name: "container.NetworkSettingsBase",
    fields: &[
        f("Bridge", Str),
        f("SandboxID", Str),
        f("SandboxKey", Str),
        f("Ports", PORT_MAP),
        f("HairpinMode", Bool),
        f("LinkLocalIPv6Address", Str),
        f("LinkLocalIPv6PrefixLen", Int),
        f("SecondaryIPAddresses", Ty::Slice(&Ty::Struct(&ADDRESS))),
        f("SecondaryIPv6Addresses", Ty::Slice(&Ty::Struct(&ADDRESS))),
    ],
};

static DEFAULT_NETWORK_SETTINGS: Struct = Struct {
    name: "container.DefaultNetworkSettings",
    fields: &[
        f("EndpointID", Str),
        f("Gateway", Str),
        f("GlobalIPv6Address", Str),
        f("GlobalIPv6PrefixLen", Int),
        f("IPAddress", Str),
        f("IPPrefixLen", Int),
        f("IPv6Gateway", Str),
        f("MacAddress", Str),
    ],
};

static ADDRESS: Struct = Struct {
    name: "network.Address",
    fields: &[f("Addr", Str), f("PrefixLen", Int)],
};

static ENDPOINT_SETTINGS: Struct = Struct {
    name: "*network.EndpointSettings",
    fields: &[
        f("IPAMConfig", Ty::Ptr(&Ty::Struct(&ENDPOINT_IPAM_CONFIG))),
        f("Links", STRS),
        f("Aliases", STRS),
        f("MacAddress", Str),
        f("DriverOpts", STR_MAP),
        f("GwPriority", Int),
        f("NetworkID", Str),
        f("EndpointID", Str),
        f("Gateway", Str),
        f("IPAddress", Str),
        f("IPPrefixLen", Int),
        f("IPv6Gateway", Str),
        f("GlobalIPv6Address", Str),
        f("GlobalIPv6PrefixLen", Int),
        f("DNSNames", STRS),
    ],
};

static ENDPOINT_IPAM_CONFIG: Struct = Struct {
    name: "*network.EndpointIPAMConfig",
    fields: &[
        fo("IPv4Address", Str),
        fo("IPv6Address", Str),
        fo("LinkLocalIPs", STRS),
    ],
};

static DESCRIPTOR: Struct = Struct {
    name: "*v1.Descriptor",
    fields: &[
        fj("MediaType", "mediaType", Str),
        fj("Digest", "digest", Str),
        fj("Size", "size", Int),
        fjo("URLs", "urls", STRS),
        fjo("Annotations", "annotations", STR_MAP),
        fjo("Data", "data", Any),
        fjo("Platform", "platform", Ty::Ptr(&Ty::Struct(&PLATFORM))),
        fjo("ArtifactType", "artifactType", Str),
    ],
};

static PLATFORM: Struct = Struct {
    name: "*v1.Platform",
    fields: &[
        fj("Architecture", "architecture", Str),
        fj("OS", "os", Str),
        fjo("OSVersion", "os.version", Str),
        fjo("OSFeatures", "os.features", STRS),
        fjo("Variant", "variant", Str),
    ],
};

static IMAGE: Struct = Struct {
    name: "image.InspectResponse",
    fields: &[
        fj("ID", "Id", Str),
        f("RepoTags", STRS),
        f("RepoDigests", STRS),
        f("Parent", Str),
        f("Comment", Str),
        fo("Created", Str),
        fo("Container", Str),
        fo("ContainerConfig", Ty::Ptr(&Ty::Struct(&CONFIG))),
        f("DockerVersion", Str),
        f("Author", Str),
        f("Config", Ty::Ptr(&Ty::Struct(&IMAGE_CONFIG))),
        f("Architecture", Str),
        fo("Variant", Str),
        f("Os", Str),
        fo("OsVersion", Str),
        f("Size", Int),
        fo("VirtualSize", Int),
        f("GraphDriver", Ty::Struct(&DRIVER_DATA)),
        f("RootFS", Ty::Struct(&ROOT_FS)),
        f("Metadata", Ty::Struct(&METADATA)),
        fo("Descriptor", Ty::Ptr(&Ty::Struct(&DESCRIPTOR))),
        fo("Manifests", Ty::Slice(&Any)),
    ],
};

static IMAGE_CONFIG: Struct = Struct {
    name: "*v1.DockerOCIImageConfig",
    fields: &[
        emb("ImageConfig", &OCI_IMAGE_CONFIG),
        emb("DockerOCIImageConfigExt", &IMAGE_CONFIG_EXT),
    ],
};

static OCI_IMAGE_CONFIG: Struct = Struct {
    name: "v1.ImageConfig",
    fields: &[
        fo("User", Str),
        fo("ExposedPorts", SET),
        fo("Env", STRS),
        fo("Entrypoint", STRS),
        fo("Cmd", STRS),
        fo("Volumes", SET),
        fo("WorkingDir", Str),
        fo("Labels", STR_MAP),
        fo("StopSignal", Str),
        fo("ArgsEscaped", Bool),
    ],
};

static IMAGE_CONFIG_EXT: Struct = Struct {
    name: "v1.DockerOCIImageConfigExt",
    fields: &[
        fo("Healthcheck", Ty::Ptr(&Ty::Struct(&HEALTH_CONFIG))),
        fo("OnBuild", STRS),
        fo("Shell", STRS),
    ],
};

static ROOT_FS: Struct = Struct {
    name: "image.RootFS",
    fields: &[fo("Type", Str), fo("Layers", STRS)],
};

static METADATA: Struct = Struct {
    name: "image.Metadata",
    // `omitempty` never omits a struct such as time.Time.
    fields: &[f("LastTagTime", Ty::Time)],
};

static VOLUME: Struct = Struct {
    name: "volume.Volume",
    fields: &[
        fo("ClusterVolume", Ty::Ptr(&Any)),
        fo("CreatedAt", Str),
        f("Driver", Str),
        f("Labels", STR_MAP),
        f("Mountpoint", Str),
        f("Name", Str),
        f("Options", STR_MAP),
        f("Scope", Str),
        fo("Status", Ty::Map(&Any)),
        fo("UsageData", Ty::Ptr(&Ty::Struct(&USAGE_DATA))),
    ],
};

static USAGE_DATA: Struct = Struct {
    name: "*volume.UsageData",
    fields: &[f("RefCount", Int), f("Size", Int)],
};

static NETWORK: Struct = Struct {
    name: "network.Inspect",
    fields: &[
        f("Name", Str),
        fj("ID", "Id", Str),
        f("Created", Ty::Time),
        f("Scope", Str),
        f("Driver", Str),
        f("EnableIPv4", Ty::Bool),
        f("EnableIPv6", Ty::Bool),
        f("IPAM", Ty::Struct(&NETWORK_IPAM)),
        f("Internal", Ty::Bool),
        f("Attachable", Ty::Bool),
        f("Ingress", Ty::Bool),
        f("ConfigFrom", Ty::Struct(&NETWORK_CONFIG_REFERENCE)),
        f("ConfigOnly", Ty::Bool),
        f(
            "Containers",
            Ty::Map(&Ty::Struct(&NETWORK_ENDPOINT_RESOURCE)),
        ),
        f("Options", STR_MAP),
        f("Labels", STR_MAP),
        fo("Peers", Ty::Slice(&Any)),
        fo("Services", Ty::Map(&Any)),
    ],
};

static NETWORK_IPAM: Struct = Struct {
    name: "network.IPAM",
    fields: &[
        f("Driver", Str),
        f("Options", STR_MAP),
        f("Config", Ty::Slice(&Ty::Struct(&NETWORK_IPAM_CONFIG))),
    ],
};

static NETWORK_IPAM_CONFIG: Struct = Struct {
    name: "network.IPAMConfig",
    fields: &[
        fo("Subnet", Str),
        fo("IPRange", Str),
        fo("Gateway", Str),
        fjo("AuxAddress", "AuxiliaryAddresses", STR_MAP),
    ],
};

static NETWORK_CONFIG_REFERENCE: Struct = Struct {
    name: "network.ConfigReference",
    fields: &[f("Network", Str)],
};

static NETWORK_ENDPOINT_RESOURCE: Struct = Struct {
    name: "network.EndpointResource",
    fields: &[
        f("Name", Str),
        f("EndpointID", Str),
        f("MacAddress", Str),
        f("IPv4Address", Str),
        f("IPv6Address", Str),
    ],
};

/// What `inspect` found: which Go type docker decodes it into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Container,
    Image,
    Volume,
    Network,
}

impl Kind {
    pub fn ty(self) -> Ty {
        match self {
            Kind::Container => Ty::Struct(&CONTAINER),
            Kind::Image => Ty::Struct(&IMAGE),
            Kind::Volume => Ty::Struct(&VOLUME),
            Kind::Network => Ty::Struct(&NETWORK),
        }
    }
}

// ---------------------------------------------------------------------------
// Decoding and encoding.

/// Go's zero value of `ty`, in the typed document.
pub fn zero(ty: &Ty) -> Value {
    match ty {
        Ty::Str => Value::String(String::new()),
        Ty::Bool => Value::Bool(false),
        Ty::Int => Value::from(0),
        Ty::Time => Value::String(ZERO_TIME.into()),
        Ty::Duration => Value::String("0s".into()),
        Ty::Any | Ty::Slice(_) | Ty::Map(_) | Ty::Ptr(_) => Value::Null,
        Ty::Array(t, n) => Value::Array(vec![zero(t); *n]),
        Ty::Struct(s) => Value::Object(
            flat_fields(s)
                .into_iter()
                .map(|f| (f.go.to_string(), zero(&f.ty)))
                .collect(),
        ),
    }
}

const ZERO_TIME: &str = "0001-01-01 00:00:00 +0000 UTC";

/// The JSON value of a struct field: its JSON name, else a key equal to it
/// but for case (Go's decoder is case-insensitive).
fn json_field<'v>(m: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    m.get(name).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The raw JSON decoded into `ty` as Go's `encoding/json` does, in the
/// typed document's form (see the module docs). A value of the wrong JSON
/// kind is kept as it is.
pub fn decode(ty: &Ty, raw: &Value) -> Value {
    if raw.is_null() {
        return zero(ty);
    }
    match (ty, raw) {
        (Ty::Time, Value::String(s)) => go_time(s).map_or_else(|| raw.clone(), Value::String),
        (Ty::Duration, Value::Number(n)) => match n.as_i64() {
            Some(ns) => Value::String(go_duration(ns)),
            None => raw.clone(),
        },
        (Ty::Slice(t), Value::Array(a)) => Value::Array(a.iter().map(|e| decode(t, e)).collect()),
        (Ty::Array(t, n), Value::Array(a)) => Value::Array(
            (0..*n)
                .map(|i| a.get(i).map_or_else(|| zero(t), |e| decode(t, e)))
                .collect(),
        ),
        (Ty::Map(t), Value::Object(m)) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), decode(t, &m[k])))
                    .collect(),
            )
        }
        (Ty::Ptr(t), _) => decode(t, raw),
        (Ty::Struct(s), Value::Object(m)) => Value::Object(
            flat_fields(s)
                .into_iter()
                .map(|f| {
                    let v = json_field(m, f.json).map_or_else(|| zero(&f.ty), |v| decode(&f.ty, v));
                    (f.go.to_string(), v)
                })
                .collect(),
        ),
        _ => raw.clone(),
    }
}

/// Whether `omitempty` leaves out `v` (false, 0, "", nil, empty slice or
/// map; a struct or array never).
fn is_empty(ty: &Ty, v: &Value) -> bool {
    match (ty, v) {
        (_, Value::Null) => true,
        (Ty::Struct(_) | Ty::Array(..) | Ty::Time, _) => false,
        (Ty::Duration, Value::String(s)) => s == "0s",
        (_, Value::Bool(b)) => !b,
        (_, Value::Number(n)) => n.as_f64() == Some(0.0),
        (_, Value::String(s)) => s.is_empty(),
        (_, Value::Array(a)) => a.is_empty(),
        (_, Value::Object(m)) => m.is_empty(),
    }
}

/// `encoding/json` of a typed-document value of type `ty` (no HTML
/// escaping, as docker's `json` function).
pub fn marshal(ty: &Ty, v: &Value, out: &mut String) {
    match (ty, v) {
        (_, Value::Null) => out.push_str("null"),
        (Ty::Time, Value::String(s)) => match rfc3339(s) {
            Some(t) => out.push_str(&berth_template::go_json(&Value::String(t), false)),
            None => out.push_str(&berth_template::go_json(v, false)),
        },
        (Ty::Duration, Value::String(s)) => match parse_go_duration(s) {
            Some(ns) => out.push_str(&ns.to_string()),
            None => out.push_str(&berth_template::go_json(v, false)),
        },
        (Ty::Ptr(t), _) => marshal(t, v, out),
        (Ty::Slice(t) | Ty::Array(t, _), Value::Array(a)) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                marshal(t, e, out);
            }
            out.push(']');
        }
        (Ty::Map(t), Value::Object(m)) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&berth_template::go_json(&Value::String(k.clone()), false));
                out.push(':');
                marshal(t, &m[k], out);
            }
            out.push('}');
        }
        (Ty::Struct(s), Value::Object(m)) => {
            out.push('{');
            let mut first = true;
            for f in flat_fields(s) {
                let Some(fv) = m.get(f.go) else { continue };
                if f.omitempty && is_empty(&f.ty, fv) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&berth_template::go_json(
                    &Value::String(f.json.into()),
                    false,
                ));
                out.push(':');
                marshal(&f.ty, fv, out);
            }
            out.push('}');
        }
        _ => out.push_str(&berth_template::go_json(v, false)),
    }
}

/// The type of the node `target` of the typed document `root` (of type
/// `ty`), found by address: template values are references into it.
pub fn locate(root: &Value, ty: &Ty, target: &Value) -> Option<Ty> {
    if std::ptr::eq(root, target) {
        return Some(*ty);
    }
    match (ty, root) {
        (Ty::Ptr(t), _) => locate(root, t, target),
        (Ty::Slice(t) | Ty::Array(t, _), Value::Array(a)) => {
            a.iter().find_map(|e| locate(e, t, target))
        }
        (Ty::Map(t), Value::Object(m)) => m.values().find_map(|e| locate(e, t, target)),
        (Ty::Struct(s), Value::Object(m)) => flat_fields(s)
            .into_iter()
            .find_map(|f| m.get(f.go).and_then(|e| locate(e, &f.ty, target))),
        _ => None,
    }
}

/// The struct a type is, through pointers.
fn as_struct(ty: &Ty) -> Option<&'static Struct> {
    match ty {
        Ty::Struct(s) => Some(s),
        Ty::Ptr(t) => as_struct(t),
        _ => None,
    }
}

/// How a nil field named `go` prints, by the first field of that name in
/// the types (`[]`, `map[]`, `<nil>`).
fn nil_text(go: &str) -> Option<&'static str> {
    static TABLE: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    fn walk(ty: &Ty, t: &mut HashMap<&'static str, &'static str>, seen: &mut Vec<usize>) {
        match ty {
            Ty::Ptr(x) | Ty::Slice(x) | Ty::Array(x, _) | Ty::Map(x) => walk(x, t, seen),
            Ty::Struct(s) => {
                let id = *s as *const Struct as usize;
                if seen.contains(&id) {
                    return;
                }
                seen.push(id);
                let fields = flat_fields(s);
                for f in &fields {
                    let text = match f.ty {
                        Ty::Slice(_) => "[]",
                        Ty::Map(_) => "map[]",
                        Ty::Ptr(_) | Ty::Any => "<nil>",
                        _ => continue,
                    };
                    t.entry(f.go).or_insert(text);
                }
                for f in fields {
                    walk(&f.ty, t, seen);
                }
            }
            _ => {}
        }
    }
    TABLE
        .get_or_init(|| {
            let mut t = HashMap::new();
            let mut seen = Vec::new();
            walk(&Kind::Container.ty(), &mut t, &mut seen);
            walk(&Kind::Image.ty(), &mut t, &mut seen);
            t
        })
        .get(go)
        .copied()
}

// ---------------------------------------------------------------------------
// The two passes.

/// docker's typed pass over a typed document (see the module docs).
pub struct TypedEnv<'a> {
    pub root: &'a Value,
    pub ty: Ty,
}

impl Env for TypedEnv<'_> {
    fn nil_text(&self, field: &str) -> Option<String> {
        Some(nil_text(field).unwrap_or("<nil>").to_string())
    }

    fn missing_field(&self, receiver: &Value, _field: &str) -> Missing {
        match locate(self.root, &self.ty, receiver)
            .as_ref()
            .and_then(as_struct)
        {
            Some(s) => Missing::Field(s.name.to_string()),
            None => Missing::NoValue,
        }
    }

    fn struct_fields(&self, value: &Value) -> Option<Vec<GoField>> {
        fn fields(s: &Struct) -> Vec<GoField> {
            s.fields
                .iter()
                .map(|f| match (f.embedded, f.ty) {
                    (true, Ty::Struct(inner)) => GoField::Embedded(f.go.to_string(), fields(inner)),
                    _ => GoField::Named(f.go.to_string()),
                })
                .collect()
        }
        Some(fields(as_struct(&locate(self.root, &self.ty, value)?)?))
    }

    fn marshal_json(&self, value: &Value) -> Option<String> {
        let ty = locate(self.root, &self.ty, value)?;
        let mut out = String::new();
        marshal(&ty, value, &mut out);
        Some(out)
    }
}

/// docker's fallback: the raw JSON as `map[string]interface{}` with
/// `missingkey=error`; a JSON null is a nil interface.
pub struct RawEnv;

impl Env for RawEnv {
    fn nil_text(&self, _field: &str) -> Option<String> {
        Some("<no value>".to_string())
    }

    fn missing_field(&self, _receiver: &Value, _field: &str) -> Missing {
        Missing::Error
    }
}

/// The JSON with every object's keys sorted, as Go writes a map.
pub fn sorted(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        v => v.clone(),
    }
}

// ---------------------------------------------------------------------------
// Go's time.Time and time.Duration texts.

/// Go's `Time.String()` of an RFC 3339 time:
/// `2024-01-02 15:04:05.5 +0000 UTC`; `None` if it does not parse.
pub fn go_time(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = &s[..10];
    let hms = &s[11..19];
    let digits = |t: &str| {
        t.bytes()
            .all(|c| c.is_ascii_digit() || c == b'-' || c == b':')
    };
    if !digits(date) || !digits(hms) {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = "";
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        frac = r[..n].trim_end_matches('0');
        rest = &r[n..];
    }
    let zone = match rest {
        "Z" | "z" => "+0000 UTC".to_string(),
        z if z.len() == 6 && matches!(&z[..1], "+" | "-") && &z[3..4] == ":" => {
            let off = format!("{}{}{}", &z[..1], &z[1..3], &z[4..6]);
            if &off[1..] == "0000" {
                "+0000 UTC".to_string()
            } else {
                format!("{off} {off}")
            }
        }
        _ => return None,
    };
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    Some(format!("{date} {hms}{frac} {zone}"))
}

/// [`go_time`]'s text back to RFC 3339 (Go's `RFC3339Nano`).
fn rfc3339(s: &str) -> Option<String> {
    let (date, rest) = s.split_once(' ')?;
    let (clock, zone) = rest.split_once(' ')?;
    let off = zone.split(' ').next()?;
    let z = if off == "+0000" || off == "-0000" {
        "Z".to_string()
    } else if off.len() == 5 {
        format!("{}:{}", &off[..3], &off[3..])
    } else {
        return None;
    };
    Some(format!("{date}T{clock}{z}"))
}

/// Go's `Duration.String()`: `1h2m3.5s`, `1.5µs`, `0s`.
pub fn go_duration(ns: i64) -> String {
    let neg = ns < 0;
    let mut u = ns.unsigned_abs();
    // The fraction of u / 10^prec, without trailing zeros; u becomes the
    // integer part.
    let frac = |u: &mut u64, prec: u32| -> String {
        let p = 10u64.pow(prec);
        let f = *u % p;
        *u /= p;
        if f == 0 {
            return String::new();
        }
        let s = format!("{f:0width$}", width = prec as usize);
        format!(".{}", s.trim_end_matches('0'))
    };
    let body = if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0 => return "0s".to_string(),
            1..=999 => (0, "ns"),
            1_000..=999_999 => (3, "µs"),
            _ => (6, "ms"),
        };
        let fr = frac(&mut u, prec);
        format!("{u}{fr}{unit}")
    } else {
        let fr = frac(&mut u, 9);
        let secs = u % 60;
        u /= 60;
        let mut s = format!("{secs}{fr}s");
        if u > 0 {
            s = format!("{}m{s}", u % 60);
            u /= 60;
            if u > 0 {
                s = format!("{u}h{s}");
            }
        }
        s
    };
    if neg { format!("-{body}") } else { body }
}

/// [`go_duration`]'s text back to nanoseconds.
fn parse_go_duration(s: &str) -> Option<i64> {
    berth_units::parse_go_duration(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_times() {
        for (rfc, go) in [
            ("0001-01-01T00:00:00Z", "0001-01-01 00:00:00 +0000 UTC"),
            (
                "2026-12-05T12:51:00.105872850Z",
                "2026-12-05 12:51:00.10587285 +0000 UTC",
            ),
            (
                "2024-01-02T03:04:05+02:00",
                "2024-01-02 03:04:05 +0200 +0200",
            ),
        ] {
            assert_eq!(go_time(rfc).as_deref(), Some(go), "{rfc}");
        }
        assert_eq!(
            rfc3339("2026-12-05 12:51:00.10587285 +0000 UTC").as_deref(),
            Some("2026-12-05T12:51:00.10587285Z")
        );
        assert_eq!(
            rfc3339("2024-01-02 03:04:05 +0200 +0200").as_deref(),
            Some("2024-01-02T03:04:05+02:00")
        );
        assert_eq!(go_time("yesterday"), None);
    }

    #[test]
    fn go_durations() {
        for (ns, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (500_000_000, "500ms"),
            (1_000_000_000, "1s"),
            (90_000_000_000, "1m30s"),
            (3_723_500_000_000, "1h2m3.5s"),
            (-2_000_000_000, "-2s"),
        ] {
            assert_eq!(go_duration(ns), text);
            assert_eq!(parse_go_duration(text), Some(ns), "{text}");
        }
    }

    #[test]
    fn decode_and_marshal_follow_the_go_struct() {
        let raw = json!({
            "Status": "exited", "Running": false, "Pid": 0, "ExitCode": 3,
            "StartedAt": "x", "Extra": 1
        });
        let ty = Ty::Struct(&STATE);
        let typed = decode(&ty, &raw);
        assert_eq!(typed["Paused"], json!(false));
        assert_eq!(typed["Health"], Value::Null);
        assert!(typed.get("Extra").is_none());
        let mut out = String::new();
        marshal(&ty, &typed, &mut out);
        assert_eq!(
            out,
            r#"{"Status":"exited","Running":false,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":0,"ExitCode":3,"Error":"","StartedAt":"x","FinishedAt":""}"#
        );
        // Go names in the document, JSON names in the output.
        let raw = json!({"Dns": ["1.1.1.1"], "NanoCpus": 5, "Tmpfs": null});
        let typed = decode(&Ty::Struct(&HOST_CONFIG), &raw);
        assert_eq!(typed["DNS"], json!(["1.1.1.1"]));
        assert_eq!(typed["NanoCPUs"], json!(5));
        assert_eq!(typed["ConsoleSize"], json!([0, 0]));
        let mut out = String::new();
        marshal(&Ty::Struct(&HOST_CONFIG), &typed, &mut out);
        assert!(out.contains(r#""Dns":["1.1.1.1"]"#), "{out}");
        assert!(!out.contains("Tmpfs"), "{out}");
    }

    #[test]
    fn time_fields_print_as_go_and_marshal_as_rfc3339() {
        let raw = json!({"Metadata": {"LastTagTime": "2024-05-06T07:08:09.5Z"}});
        let typed = decode(&Kind::Image.ty(), &raw);
        assert_eq!(
            typed["Metadata"]["LastTagTime"],
            json!("2024-05-06 07:08:09.5 +0000 UTC")
        );
        let mut out = String::new();
        marshal(&Ty::Struct(&METADATA), &typed["Metadata"], &mut out);
        assert_eq!(out, r#"{"LastTagTime":"2024-05-06T07:08:09.5Z"}"#);
    }

    #[test]
    fn nil_texts_come_from_the_field_types() {
        assert_eq!(nil_text("Entrypoint"), Some("[]"));
        assert_eq!(nil_text("Labels"), Some("map[]"));
        assert_eq!(nil_text("Health"), Some("<nil>"));
        assert_eq!(nil_text("Config"), Some("<nil>"));
        assert_eq!(nil_text("Name"), None);
    }
}
