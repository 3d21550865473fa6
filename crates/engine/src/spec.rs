//! A container's OCI runtime spec, from its config, its host config and its
//! image, as dockerd makes one: Docker's default mounts, capabilities,
//! masked paths, resources and the files it writes per container.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::model::{Container, DeviceMapping, HostConfig};

use berth_image::bundle::DEFAULT_PATH;

/// Every capability, by number (the index is the capability's bit).
const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Every capability the engine itself holds (its bounding set): what
/// `--privileged` and `--cap-add ALL` give. A host may withhold some (these
/// machines withhold CAP_SYS_RESOURCE), and a container cannot get more.
pub fn all_caps() -> Vec<String> {
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    ALL_CAPS
        .iter()
        .enumerate()
        .filter(|(bit, _)| bounding & (1u64 << bit) != 0)
        .map(|(_, s)| s.to_string())
        .collect()
}

/// The capability set: Docker's defaults, then --cap-add and --cap-drop
/// (`ALL` in either), or every capability for --privileged.
pub fn capabilities(c: &Container) -> Result<Vec<String>> {
    let hc = &c.host_config;
    if hc.privileged {
        return Ok(all_caps());
    }
    let norm = |s: &str| -> Result<String> {
        let up = s.to_ascii_uppercase();
        let name = if up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        };
        if name == "CAP_ALL" || ALL_CAPS.contains(&name.as_str()) {
            Ok(name)
        } else {
            Err(Error::Invalid(format!("unknown capability: {s:?}")))
        }
    };
    let adds: Vec<String> = hc
        .cap_add
        .iter()
        .flatten()
        .map(|s| norm(s))
        .collect::<Result<_>>()?;
    let drops: Vec<String> = hc
        .cap_drop
        .iter()
        .flatten()
        .map(|s| norm(s))
        .collect::<Result<_>>()?;
    let mut caps: Vec<String> = if adds.iter().any(|a| a == "CAP_ALL") {
        all_caps()
    } else {
        berth_image::bundle::DEFAULT_CAPS
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    if drops.iter().any(|d| d == "CAP_ALL") {
        caps.clear();
    }
    for a in adds.into_iter().filter(|a| a != "CAP_ALL") {
        if !caps.contains(&a) && !drops.contains(&a) {
            caps.push(a);
        }
    }
    caps.retain(|c| !drops.contains(c));
    Ok(caps)
}

/// The environment: the image's, overridden per key by the request's, with
/// PATH, HOSTNAME (and TERM for a terminal) as dockerd adds them.
pub fn environment(image_env: &[String], env: &[String], hostname: &str, tty: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let key = |e: &str| e.split('=').next().unwrap_or("").to_string();
    let mut set = |e: &str| {
        let k = key(e);
        if let Some(slot) = out.iter_mut().find(|x| key(x) == k) {
            *slot = e.to_string();
        } else {
            out.push(e.to_string());
        }
    };
    set(DEFAULT_PATH);
    set(&format!("HOSTNAME={hostname}"));
    if tty {
        set("TERM=xterm");
    }
    for e in image_env.iter().chain(env) {
        // `-e NAME` without a value means "take it from the client", which
        // the client has resolved; a bare name left here is dropped.
        if e.contains('=') {
            set(e);
        }
    }
    out
}

pub fn hostname(c: &Container) -> String {
    if c.host_config.network_mode == "host" || c.host_config.uts_mode == "host" {
        return nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    if c.config.hostname.is_empty() {
        c.short_id().to_string()
    } else {
        c.config.hostname.clone()
    }
}

/// Resolves `user[:group]` against the image's /etc/passwd and /etc/group
/// (read from its layers without following links out of them).
pub fn resolve_user(user: &str, layers: &[PathBuf]) -> Result<(u32, u32, Vec<u32>)> {
    if user.is_empty() {
        return Ok((0, 0, Vec::new()));
    }
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = read_image_file(layers, "etc/passwd");
    let group = read_image_file(layers, "etc/group");
    let (uid, primary_gid) = match u.parse::<u32>() {
        Ok(uid) => {
            let gid = passwd
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 3 && f[2] == u)
                .and_then(|f| f[3].parse().ok())
                .unwrap_or(0);
            (uid, gid)
        }
        Err(_) => passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[0] == u)
            .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unable to find user {u}: no matching entries in passwd file"
                ))
            })?,
    };
    let gid = match g {
        None => primary_gid,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => group
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        },
    };
    // Supplementary groups: those that list the user by name.
    let extra = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() > 3 && f[3].split(',').any(|m| m == u))
        .filter_map(|f| f[2].parse().ok())
        .filter(|g| *g != gid)
        .collect();
    Ok((uid, gid, extra))
}

/// A file from the topmost layer that has it; empty when none does.
fn read_image_file(layers: &[PathBuf], rel: &str) -> String {
    for layer in layers {
        let Ok(root) = std::fs::File::open(layer) else {
            continue;
        };
        if let Ok(fd) = berth_safefs::open_in_root(
            &root,
            Path::new(rel),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        ) {
            let mut s = String::new();
            let _ = std::fs::File::from(fd).take(1 << 20).read_to_string(&mut s);
            return s;
        }
    }
    String::new()
}

/// Parses a size as Docker does (go-units' RAMInBytes, berth-units).
pub fn parse_size(s: &str) -> Option<u64> {
    berth_units::ram_in_bytes(s).ok().map(|n| n as u64)
}

pub struct Files<'a> {
    pub hosts: &'a Path,
    pub hostname: &'a Path,
    pub resolv: &'a Path,
}

/// The whole runtime spec; `user_mounts` are the container's own (binds,
/// volumes, tmpfs: mounts.rs), after Docker's.
pub fn build(
    c: &Container,
    image_env: &[String],
    layers: &[PathBuf],
    files: &Files<'_>,
    cgroup_parent: &str,
    user_mounts: Vec<oci_spec::runtime::Mount>,
) -> Result<Value> {
    let hc = &c.host_config;
    let hostname = hostname(c);
    let (uid, gid, mut groups) = resolve_user(&c.config.user, layers)?;
    for g in resolve_groups(hc.group_add.as_deref().unwrap_or_default(), layers)? {
        if g != gid && !groups.contains(&g) {
            groups.push(g);
        }
    }
    let caps = capabilities(c)?;
    let ns = namespace_modes(c)?;
    let mut args = vec![c.path.clone()];
    args.extend(c.args.iter().cloned());
    let init = if hc.init == Some(true) {
        let bin = init_binary()?;
        args.splice(0..0, [INIT_PATH.to_string(), "--".to_string()]);
        Some(bin)
    } else {
        None
    };
    let env = environment(
        image_env,
        c.config.env.as_deref().unwrap_or_default(),
        &hostname,
        c.config.tty,
    );
    let mut no_new_privs = false;
    let mut seccomp_opt: Option<String> = None;
    for opt in hc.security_opt.iter().flatten() {
        let (k, v) = opt.split_once(['=', ':']).unwrap_or((opt, "true"));
        match k {
            "no-new-privileges" => no_new_privs = v != "false",
            "seccomp" => seccomp_opt = Some(v.to_string()),
            // No AppArmor or SELinux on these hosts: accepted, as dockerd
            // accepts them where those are off.
            "apparmor" | "label" => {}
            _ => {
                return Err(Error::Invalid(format!("invalid --security-opt: {opt:?}")));
            }
        }
    }
    let mut rlimits = Vec::new();
    for u in hc.ulimits.iter().flatten() {
        let name = format!("RLIMIT_{}", u.name.to_ascii_uppercase());
        rlimits.push(json!({"type": name, "soft": u.soft, "hard": u.hard}));
    }
    let shm = if hc.shm_size > 0 {
        hc.shm_size as u64
    } else {
        64 << 20
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
    ];
    match ns.ipc {
        // Docker's --ipc none: a private namespace and no /dev/shm.
        Ipc::None => {}
        // --ipc host: the host's shared memory, as Docker binds it.
        Ipc::Host => mounts.push(json!({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": ["rbind", "rprivate"]})),
        Ipc::Private => mounts.push(json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={shm}")]})),
    }
    for (dest, src) in [
        ("/etc/resolv.conf", files.resolv),
        ("/etc/hostname", files.hostname),
        ("/etc/hosts", files.hosts),
    ] {
        mounts.push(json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]}));
    }
    for m in user_mounts {
        mounts.push(serde_json::to_value(m).expect("json serializes"));
    }
    if let Some(bin) = init {
        mounts.push(json!({"destination": INIT_PATH, "type": "bind", "source": bin, "options": ["bind", "ro", "nosuid", "nodev"]}));
    }

    let mut namespaces = vec![json!({"type": "mount"}), json!({"type": "cgroup"})];
    if !ns.pid_host {
        namespaces.push(json!({"type": "pid"}));
    }
    if ns.ipc != Ipc::Host {
        namespaces.push(json!({"type": "ipc"}));
    }
    if !ns.uts_host {
        namespaces.push(json!({"type": "uts"}));
    }
    match hc.network_mode.as_str() {
        "host" => {}
        "" | "none" | "default" | "bridge" => namespaces.push(json!({"type": "network"})),
        other => {
            return Err(Error::NotFound(format!("network {other} not found")));
        }
    }

    let (devices, mut device_rules) = devices(hc)?;
    device_rules.splice(0..0, [json!({"allow": false, "access": "rwm"})]);
    let mut resources = json!({"devices": device_rules});
    let mut memory = serde_json::Map::new();
    if hc.memory > 0 {
        memory.insert("limit".into(), json!(hc.memory));
        // Docker's default: swap as much again as memory (-1 means unlimited).
        if hc.memory_swap != 0 {
            memory.insert("swap".into(), json!(hc.memory_swap));
        }
    }
    if hc.memory_reservation > 0 {
        memory.insert("reservation".into(), json!(hc.memory_reservation));
    }
    if !memory.is_empty() {
        resources["memory"] = Value::Object(memory);
    }
    let mut cpu = serde_json::Map::new();
    if hc.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(hc.cpu_shares));
    }
    if hc.nano_cpus > 0 {
        let period = 100_000i64;
        cpu.insert("period".into(), json!(period));
        cpu.insert("quota".into(), json!(hc.nano_cpus * period / 1_000_000_000));
    } else if hc.cpu_quota > 0 {
        cpu.insert("quota".into(), json!(hc.cpu_quota));
        if hc.cpu_period > 0 {
            cpu.insert("period".into(), json!(hc.cpu_period));
        }
    }
    if !hc.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(hc.cpuset_cpus));
    }
    if !cpu.is_empty() {
        resources["cpu"] = Value::Object(cpu);
    }
    if let Some(limit) = hc.pids_limit.filter(|l| *l != 0) {
        resources["pids"] = json!({"limit": limit});
    }
    if hc.privileged {
        resources["devices"] = json!([{"allow": true, "access": "rwm"}]);
    }

    let mut linux = json!({
        "namespaces": namespaces,
        "resources": resources,
        "cgroupsPath": format!("{cgroup_parent}/{}", c.id),
        "sysctl": hc.sysctls.clone().unwrap_or_default(),
    });
    if !devices.is_empty() {
        linux["devices"] = Value::Array(devices);
    }
    if !hc.privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
        if let Some(profile) = crate::seccomp::from_option(seccomp_opt.as_deref(), &caps)? {
            linux["seccomp"] = profile;
        }
    }
    let mut process = json!({
        "terminal": c.config.tty,
        "user": {"uid": uid, "gid": gid, "additionalGids": groups},
        "args": args,
        "env": env,
        "cwd": if c.config.working_dir.is_empty() { "/" } else { c.config.working_dir.as_str() },
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": rlimits,
        "noNewPrivileges": no_new_privs,
    });
    if hc.oom_score_adj != 0 {
        process["oomScoreAdj"] = json!(hc.oom_score_adj);
    }
    let mut spec = json!({
        "ociVersion": "1.2.0",
        "process": process,
        "root": {"path": "rootfs", "readonly": hc.readonly_rootfs},
        "mounts": mounts,
        "linux": linux,
    });
    // With the host's UTS namespace the names are the host's to keep.
    if !ns.uts_host {
        spec["hostname"] = json!(hostname);
        if !c.config.domainname.is_empty() {
            spec["domainname"] = json!(c.config.domainname);
        }
    }
    Ok(spec)
}

/// What `--ipc` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ipc {
    Private,
    /// A private namespace without /dev/shm.
    None,
    Host,
}

/// `--pid`, `--ipc` and `--uts` (HostConfig.PidMode, IpcMode, UTSMode).
struct NamespaceModes {
    pid_host: bool,
    ipc: Ipc,
    uts_host: bool,
}

/// The namespace modes, as dockerd validates them. Joining another
/// container's namespaces (`container:NAME`) is refused at create
/// (containers.rs) until berth can; here it is an error all the same.
fn namespace_modes(c: &Container) -> Result<NamespaceModes> {
    let hc = &c.host_config;
    let pid_host = match hc.pid_mode.as_str() {
        "" => false,
        "host" => true,
        m => return Err(Error::Invalid(format!("invalid PID mode: {m}"))),
    };
    let ipc = match hc.ipc_mode.as_str() {
        "" | "private" | "shareable" => Ipc::Private,
        "none" => Ipc::None,
        "host" => Ipc::Host,
        m => return Err(Error::Invalid(format!("invalid IPC mode: {m}"))),
    };
    let uts_host = match hc.uts_mode.as_str() {
        "" => false,
        "host" => true,
        m => return Err(Error::Invalid(format!("invalid UTS mode: {m}"))),
    };
    if uts_host && !c.config.hostname.is_empty() {
        return Err(Error::Invalid(
            "conflicting options: hostname and the UTS mode".into(),
        ));
    }
    Ok(NamespaceModes {
        pid_host,
        ipc,
        uts_host,
    })
}

/// `--group-add`: group ids, or names looked up in the image's /etc/group.
fn resolve_groups(groups: &[String], layers: &[PathBuf]) -> Result<Vec<u32>> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let table = read_image_file(layers, "etc/group");
    groups
        .iter()
        .map(|g| {
            g.parse::<u32>().or_else(|_| {
                table
                    .lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .find(|f| f.len() > 2 && f[0] == g)
                    .and_then(|f| f[2].parse().ok())
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "unable to find group {g}: no matching entries in group file"
                        ))
                    })
            })
        })
        .collect()
}

/// `--device HOST[:CONTAINER][:PERMS]` and `--device-cgroup-rule`: the
/// nodes the runtime makes (`linux.devices`, with the host node's type,
/// numbers, mode and owner) and the cgroup rules that let the container use
/// them, as dockerd derives them. A directory gives every device under it.
fn devices(hc: &HostConfig) -> Result<(Vec<Value>, Vec<Value>)> {
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

fn device_nodes(d: &DeviceMapping, nodes: &mut Vec<Value>, rules: &mut Vec<Value>) -> Result<()> {
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
            if let Some((node, rule)) = device_node(&inside, &meta, perms) {
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
    let (node, rule) = device_node(Path::new(ctr), &meta, perms).ok_or_else(|| {
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

/// The spec's device entry and allow rule for a character or block node.
fn device_node(inside: &Path, meta: &std::fs::Metadata, perms: &str) -> Option<(Value, Value)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let kind = if meta.file_type().is_char_device() {
        "c"
    } else if meta.file_type().is_block_device() {
        "b"
    } else {
        return None;
    };
    let rdev = meta.rdev();
    let (major, minor) = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
    Some((
        json!({
            "path": inside, "type": kind, "major": major, "minor": minor,
            "fileMode": meta.mode() & 0o777, "uid": meta.uid(), "gid": meta.gid(),
        }),
        json!({"allow": true, "type": kind, "major": major, "minor": minor, "access": perms}),
    ))
}

/// `--device-cgroup-rule 'c 1:3 rwm'` (`*` for any number), as dockerd parses it.
fn device_cgroup_rule(rule: &str) -> Result<Value> {
    let bad = || Error::Invalid(format!("invalid device cgroup rule format: '{rule}'"));
    let parts: Vec<&str> = rule.split_whitespace().collect();
    let [kind, numbers, access] = parts.as_slice() else {
        return Err(bad());
    };
    if !matches!(*kind, "a" | "b" | "c")
        || access.is_empty()
        || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
    {
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
    let mut v = json!({"allow": true, "type": kind, "access": access});
    if let Some(n) = number(major)? {
        v["major"] = json!(n);
    }
    if let Some(n) = number(minor)? {
        v["minor"] = json!(n);
    }
    Ok(v)
}

/// Where `--init` puts the init, as Docker does.
const INIT_PATH: &str = "/sbin/docker-init";

/// The init `--init` runs as pid 1 (reaping zombies, passing signals on):
/// a static tini, bind-mounted read-only as Docker mounts its docker-init.
fn init_binary() -> Result<PathBuf> {
    [
        "/usr/bin/docker-init",
        "/usr/libexec/docker/docker-init",
        "/usr/bin/tini-static",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .ok_or_else(|| {
        Error::Invalid(
            "--init: no init binary on this host (install Debian's tini: /usr/bin/tini-static)"
                .into(),
        )
    })
}

/// `-v /host:/ctr[:ro|rw]`: a bind mount of a host path. Named volumes are
/// the volumes issue's.
/// /etc/hosts as dockerd writes it for a container without a bridge.
pub fn hosts_file(extra: &[String]) -> Result<String> {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for h in extra {
        let (name, ip) = h
            .split_once(':')
            .ok_or_else(|| Error::Invalid(format!("invalid --add-host {h:?}: expected host:ip")))?;
        let ip = if ip == "host-gateway" {
            "127.0.0.1"
        } else {
            ip
        };
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(Error::Invalid(format!(
                "invalid IP address in --add-host {h:?}"
            )));
        }
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    Ok(s)
}

/// The host's resolv.conf without loopback nameservers, which would point
/// into the container's own namespace; Google's as Docker falls back to.
pub fn resolv_conf(dns: &[String], search: &[String], options: &[String]) -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let mut servers = 0;
    if dns.is_empty() {
        for line in host.lines() {
            let t = line.trim();
            if let Some(ns) = t.strip_prefix("nameserver") {
                let ns = ns.trim();
                if ns.starts_with("127.") || ns == "::1" {
                    continue;
                }
                servers += 1;
            } else if (t.starts_with("search") && !search.is_empty())
                || (t.starts_with("options") && !options.is_empty())
            {
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        if servers == 0 {
            out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        }
    } else {
        for ns in dns {
            out.push_str(&format!("nameserver {ns}\n"));
        }
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64m"), Some(64 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("10kb"), Some(10 << 10));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn device_cgroup_rules() {
        assert_eq!(
            device_cgroup_rule("c 1:3 rwm").unwrap(),
            json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
        );
        assert_eq!(
            device_cgroup_rule("b 8:* r").unwrap(),
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
        assert_eq!(nodes[0]["path"], "/dev/xnull");
        assert_eq!(
            (&nodes[0]["type"], &nodes[0]["major"], &nodes[0]["minor"]),
            (&json!("c"), &json!(1), &json!(3))
        );
        assert_eq!(rules[0]["access"], "rw");
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

    #[test]
    fn env_overrides_by_key() {
        let env = environment(
            &["PATH=/x".into(), "A=1".into()],
            &["A=2".into(), "B".into()],
            "h",
            true,
        );
        assert_eq!(env, ["PATH=/x", "HOSTNAME=h", "TERM=xterm", "A=2"]);
    }
}
