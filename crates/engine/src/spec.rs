//! A container's OCI runtime spec, from its config, its host config and its
//! image, as dockerd makes one: Docker's default mounts, capabilities,
//! masked paths, resources (defaults.rs) and the files it writes per
//! container.

mod devices;
mod resources;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oci_spec::OciSpecError;
use oci_spec::runtime::{
    Capabilities, Capability, Linux, LinuxBuilder, LinuxCapabilities, LinuxCapabilitiesBuilder,
    LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType, Mount, PosixRlimit,
    PosixRlimitBuilder, PosixRlimitType, Process, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    User, UserBuilder,
};

use crate::defaults;
use crate::error::{Error, Result};
use crate::model::{Container, HostConfig};

/// A spec part that did not build: the engine's own mistake.
fn oci(e: OciSpecError) -> Error {
    Error::Internal(format!("building the runtime spec: {e}"))
}

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
        defaults::CAPABILITIES
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
    set(&format!("PATH={}", defaults::PATH));
    set(&format!("HOSTNAME={hostname}"));
    if tty {
        set(&format!("TERM={}", defaults::TERM));
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
    let passwd = read_image_file(layers, "etc/passwd")?;
    let group = read_image_file(layers, "etc/group")?;
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
fn read_image_file(layers: &[PathBuf], rel: &str) -> Result<String> {
    for layer in layers {
        let Ok(root) = std::fs::File::open(layer) else {
            continue;
        };
        match berth_safefs::read_regular_in_root(&root, Path::new(rel), 1 << 20) {
            Ok(text) => return Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::Invalid(format!("the image's /{rel}: {e}"))),
        }
    }
    Ok(String::new())
}

/// Parses a size as Docker does (go-units' RAMInBytes, berth-units).
pub fn parse_size(s: &str) -> Option<u64> {
    berth_units::ram_in_bytes(s).ok().map(|n| n as u64)
}

pub struct Files<'a> {
    pub hosts: &'a Path,
    pub hostname: &'a Path,
    pub resolv: &'a Path,
    /// `--network container:<x>`: x's namespace (None when only checking
    /// a create) and hostname.
    pub shared_network: Option<SharedNetwork<'a>>,
}

#[derive(Clone, Copy)]
pub struct SharedNetwork<'a> {
    pub netns: Option<&'a Path>,
    pub hostname: &'a str,
}

/// The whole runtime spec; `user_mounts` are the container's own (binds,
/// volumes, tmpfs: mounts.rs), after Docker's. `cgroup_parent` is the
/// daemon's, which the container's `CgroupParent` overrides.
pub fn build(
    c: &Container,
    image_env: &[String],
    layers: &[PathBuf],
    files: &Files<'_>,
    cgroup_parent: &str,
    user_mounts: Vec<Mount>,
) -> Result<Spec> {
    let hc = &c.host_config;
    let ns = namespace_modes(c)?;
    let security = SecurityOpts::parse(hc)?;
    let caps = capabilities(c)?;
    let hostname = match files.shared_network {
        Some(shared) => shared.hostname.to_string(),
        None => hostname(c),
    };
    let init = match hc.init {
        Some(true) => Some(init_binary()?),
        _ => None,
    };
    let env = environment(
        image_env,
        c.config.env.as_deref().unwrap_or_default(),
        &hostname,
        c.config.tty,
    );
    let process = process(c, layers, env, &caps, &security, init.is_some())?;
    let propagation = crate::mounts::rootfs_propagation(&user_mounts)?;
    let mounts = mounts(ns.ipc, hc.shm_size, files, user_mounts, init);
    let mut linux = linux(
        c,
        &ns,
        &caps,
        &security,
        cgroup_parent,
        files.shared_network,
    )?;
    // A shared or slave bind propagates through the root, as dockerd sets it.
    if let Some(p) = propagation {
        linux.set_rootfs_propagation(Some(p.to_string()));
    }
    let root = RootBuilder::default()
        .path("rootfs")
        .readonly(hc.readonly_rootfs)
        .build()
        .map_err(oci)?;
    let mut spec = SpecBuilder::default()
        .version("1.2.0")
        .root(root)
        .mounts(mounts)
        .process(process)
        .linux(linux)
        .build()
        .map_err(oci)?;
    // The builder starts from youki's defaults: a hostname, no annotations.
    spec.set_hostname(None);
    spec.set_annotations(
        hc.annotations
            .as_ref()
            .map(|a| a.clone().into_iter().collect::<HashMap<_, _>>()),
    );
    // With the host's UTS namespace the names are the host's to keep.
    if !ns.uts_host {
        spec.set_hostname(Some(hostname));
        if !c.config.domainname.is_empty() {
            spec.set_domainname(Some(c.config.domainname.clone()));
        }
    }
    Ok(spec)
}

/// `--security-opt`: no-new-privileges and a seccomp profile.
struct SecurityOpts {
    no_new_privs: bool,
    seccomp: Option<String>,
}

impl SecurityOpts {
    fn parse(hc: &HostConfig) -> Result<SecurityOpts> {
        let mut out = SecurityOpts {
            no_new_privs: false,
            seccomp: None,
        };
        for opt in hc.security_opt.iter().flatten() {
            let (k, v) = opt.split_once(['=', ':']).unwrap_or((opt, "true"));
            match k {
                "no-new-privileges" => out.no_new_privs = v != "false",
                "seccomp" => out.seccomp = Some(v.to_string()),
                // No AppArmor or SELinux on these hosts: accepted, as dockerd
                // accepts them where those are off.
                "apparmor" | "label" => {}
                _ => {
                    return Err(Error::Invalid(format!("invalid --security-opt: {opt:?}")));
                }
            }
        }
        Ok(out)
    }
}

/// The container's first process: `--init`'s tini in front when asked.
fn process(
    c: &Container,
    layers: &[PathBuf],
    env: Vec<String>,
    caps: &[String],
    security: &SecurityOpts,
    init: bool,
) -> Result<Process> {
    let hc = &c.host_config;
    let mut args = vec![c.path.clone()];
    args.extend(c.args.iter().cloned());
    if init {
        args.splice(0..0, [defaults::INIT_PATH.to_string(), "--".to_string()]);
    }
    let cwd = if c.config.working_dir.is_empty() {
        "/"
    } else {
        c.config.working_dir.as_str()
    };
    let mut p = ProcessBuilder::default()
        .terminal(c.config.tty)
        .user(user(c, layers)?)
        .args(args)
        .env(env)
        .cwd(cwd)
        .capabilities(capability_sets(caps)?)
        .rlimits(rlimits(hc)?)
        .no_new_privileges(security.no_new_privs)
        .build()
        .map_err(oci)?;
    if hc.oom_score_adj != 0 {
        let adj = i32::try_from(hc.oom_score_adj)
            .ok()
            .filter(|a| (-1000..=1000).contains(a))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "Invalid value {}, range for oom score adj is [-1000, 1000]",
                    hc.oom_score_adj
                ))
            })?;
        p.set_oom_score_adj(Some(adj));
    }
    if let Some([height, width]) = hc.console_size.filter(|s| c.config.tty && *s != [0, 0]) {
        p.set_console_size(Some(
            oci_spec::runtime::BoxBuilder::default()
                .height(height)
                .width(width)
                .build()
                .map_err(oci)?,
        ));
    }
    Ok(p)
}

/// The user and groups: `-u`, then `--group-add`'s.
fn user(c: &Container, layers: &[PathBuf]) -> Result<User> {
    let (uid, gid, mut groups) = resolve_user(&c.config.user, layers)?;
    let added = c.host_config.group_add.as_deref().unwrap_or_default();
    for g in resolve_groups(added, layers)? {
        if g != gid && !groups.contains(&g) {
            groups.push(g);
        }
    }
    UserBuilder::default()
        .uid(uid)
        .gid(gid)
        .additional_gids(groups)
        .build()
        .map_err(oci)
}

/// The same capabilities bounding, effective and permitted; none inherited
/// or ambient, as dockerd gives them.
pub(crate) fn capability_sets(names: &[String]) -> Result<LinuxCapabilities> {
    let set: Capabilities = names
        .iter()
        .map(|n| {
            serde_json::from_value::<Capability>(serde_json::Value::String(n.clone()))
                .map_err(|_| Error::Invalid(format!("unknown capability: {n:?}")))
        })
        .collect::<Result<_>>()?;
    let mut caps = LinuxCapabilitiesBuilder::default()
        .bounding(set.clone())
        .effective(set.clone())
        .permitted(set)
        .build()
        .map_err(oci)?;
    caps.set_inheritable(None);
    caps.set_ambient(None);
    Ok(caps)
}

/// `--ulimit`: -1 (as the client sends "unlimited") is RLIM_INFINITY.
fn rlimits(hc: &HostConfig) -> Result<Vec<PosixRlimit>> {
    hc.ulimits
        .iter()
        .flatten()
        .map(|u| {
            let name = format!("RLIMIT_{}", u.name.to_ascii_uppercase());
            let typ: PosixRlimitType = name
                .parse()
                .map_err(|_| Error::Invalid(format!("invalid ulimit type: {}", u.name)))?;
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(u.soft as u64)
                .hard(u.hard as u64)
                .build()
                .map_err(oci)
        })
        .collect()
}

/// Docker's mounts, /dev/shm as the IPC mode wants it, the files dockerd
/// writes per container, the container's own mounts, and the init.
fn mounts(
    ipc: Ipc,
    shm_size: i64,
    files: &Files<'_>,
    user_mounts: Vec<Mount>,
    init: Option<PathBuf>,
) -> Vec<Mount> {
    let mut mounts = defaults::mounts();
    let bind = ["rbind", "rprivate"];
    match ipc {
        // Docker's --ipc none: a private namespace and no /dev/shm.
        Ipc::None => {}
        // --ipc host: the host's shared memory, as Docker binds it.
        Ipc::Host => mounts.push(defaults::mount("/dev/shm", "bind", "/dev/shm", &bind)),
        Ipc::Private => mounts.push(defaults::shm_mount(if shm_size > 0 {
            shm_size
        } else {
            defaults::SHM_SIZE
        })),
    }
    let mut own: Vec<Mount> = [
        ("/etc/resolv.conf", files.resolv),
        ("/etc/hostname", files.hostname),
        ("/etc/hosts", files.hosts),
    ]
    .into_iter()
    .map(|(dest, src)| defaults::mount(dest, "bind", &src.to_string_lossy(), &bind))
    .collect();
    if let Some(bin) = init {
        let options = ["bind", "ro", "nosuid", "nodev"];
        let src = bin.to_string_lossy();
        own.push(defaults::mount(defaults::INIT_PATH, "bind", &src, &options));
    }
    // A user's mount on a path replaces Docker's there (a volume at
    // /dev/shm, a bind of /etc/hosts), as dockerd filters them.
    let taken: Vec<PathBuf> = user_mounts
        .iter()
        .map(|m| m.destination().clone())
        .collect();
    mounts.retain(|m| !taken.contains(m.destination()));
    own.retain(|m| !taken.contains(m.destination()));
    own.extend(user_mounts);
    // Parents before children, as dockerd sorts them: a volume at /etc
    // goes under the /etc/hosts bind, not over it.
    own.sort_by_key(|m| m.destination().components().count());
    mounts.extend(own);
    mounts
}

/// The `linux` part: namespaces, cgroup and its limits, devices, sysctls,
/// and for an unprivileged container the masked paths and seccomp.
fn linux(
    c: &Container,
    ns: &NamespaceModes,
    caps: &[String],
    security: &SecurityOpts,
    cgroup_parent: &str,
    shared_network: Option<SharedNetwork<'_>>,
) -> Result<Linux> {
    let hc = &c.host_config;
    let (devices, device_rules) = devices::devices(hc)?;
    let sysctl: HashMap<String, String> =
        hc.sysctls.clone().unwrap_or_default().into_iter().collect();
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces(c, ns, shared_network)?)
        .resources(resources::resources(hc, device_rules)?)
        .cgroups_path(cgroups_path(hc, cgroup_parent, &c.id)?)
        .sysctl(sysctl)
        .build()
        .map_err(oci)?;
    linux.set_devices((!devices.is_empty()).then_some(devices));
    // The builder's defaults are youki's masked and read-only paths.
    linux.set_masked_paths(None);
    linux.set_readonly_paths(None);
    if !hc.privileged {
        let paths = |given: &Option<Vec<String>>, default: &[&str]| {
            given
                .clone()
                .unwrap_or_else(|| default.iter().map(|p| p.to_string()).collect())
        };
        linux.set_masked_paths(Some(paths(&hc.masked_paths, defaults::MASKED_PATHS)));
        linux.set_readonly_paths(Some(paths(&hc.readonly_paths, defaults::READONLY_PATHS)));
        linux.set_seccomp(crate::seccomp::from_option(
            security.seccomp.as_deref(),
            caps,
        )?);
    }
    Ok(linux)
}

/// The namespaces the container gets of its own.
fn namespaces(
    c: &Container,
    ns: &NamespaceModes,
    shared_network: Option<SharedNetwork<'_>>,
) -> Result<Vec<LinuxNamespace>> {
    let hc = &c.host_config;
    let mut kinds = vec![LinuxNamespaceType::Mount];
    if !ns.cgroup_host {
        kinds.push(LinuxNamespaceType::Cgroup);
    }
    if !ns.pid_host {
        kinds.push(LinuxNamespaceType::Pid);
    }
    if ns.ipc != Ipc::Host {
        kinds.push(LinuxNamespaceType::Ipc);
    }
    if !ns.uts_host {
        kinds.push(LinuxNamespaceType::Uts);
    }
    let mut joined = Vec::new();
    match hc.network_mode.as_str() {
        // A container with its network disabled has only loopback, as
        // dockerd gives it, whatever the mode.
        "host" if !c.config.network_disabled => {}
        m if m.starts_with("container:") => {
            let mut b = LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::Network);
            if let Some(path) = shared_network.and_then(|s| s.netns) {
                b = b.path(path);
            }
            joined.push(b.build().map_err(oci)?);
        }
        // Every other mode names a network (checked at create): a
        // namespace of its own, which the engine plumbs before the start.
        _ => kinds.push(LinuxNamespaceType::Network),
    }
    let mut out: Vec<LinuxNamespace> = kinds
        .into_iter()
        .map(|k| LinuxNamespaceBuilder::default().typ(k).build().map_err(oci))
        .collect::<Result<_>>()?;
    out.extend(joined);
    Ok(out)
}

/// `<parent>/<id>`, the parent being the container's `CgroupParent` or the
/// daemon's, as dockerd's cgroupfs driver names it. Without systemd here,
/// a systemd slice ("a.slice:prefix:name") cannot be honoured.
fn cgroups_path(hc: &HostConfig, daemon_parent: &str, id: &str) -> Result<PathBuf> {
    let parent = if hc.cgroup_parent.is_empty() {
        daemon_parent
    } else {
        hc.cgroup_parent.as_str()
    };
    let p = Path::new(parent);
    if p.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(Error::Invalid(format!(
            "invalid cgroup parent {parent:?} (--cgroup-parent / HostConfig.CgroupParent): it must not contain .."
        )));
    }
    if !parent.starts_with('/') && parent.contains(':') {
        return Err(Error::Invalid(format!(
            "invalid cgroup parent {parent:?} (--cgroup-parent / HostConfig.CgroupParent): systemd cgroup paths need systemd, which berth does not use"
        )));
    }
    Ok(p.join(id))
}

/// What `--ipc` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ipc {
    Private,
    /// A private namespace without /dev/shm.
    None,
    Host,
}

/// `--pid`, `--ipc`, `--uts` and `--cgroupns` (HostConfig.PidMode,
/// IpcMode, UTSMode, CgroupnsMode).
struct NamespaceModes {
    pid_host: bool,
    ipc: Ipc,
    uts_host: bool,
    cgroup_host: bool,
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
    // berth's default is a private cgroup namespace, on any host (dockerd's
    // is `host` on cgroup v1).
    let cgroup_host = match hc.cgroupns_mode.as_str() {
        "" | "private" => false,
        "host" => true,
        m => {
            return Err(Error::Invalid(format!(
                "invalid cgroup namespace mode: {m}"
            )));
        }
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
        cgroup_host,
    })
}

/// `--group-add`: group ids, or names looked up in the image's /etc/group.
fn resolve_groups(groups: &[String], layers: &[PathBuf]) -> Result<Vec<u32>> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let table = read_image_file(layers, "etc/group")?;
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

/// /etc/hosts as dockerd writes it: loopback, `--add-host`s, then a line
/// per address of the container on its networks (`ip hostname`, with
/// `--domainname` first its full name). `host-gateway` is the default
/// bridge's gateway (loopback without one).
pub fn hosts_file(
    extra: &[String],
    addresses: &[std::net::IpAddr],
    hostname: &str,
    domainname: &str,
    host_gateway: Option<std::net::IpAddr>,
) -> Result<String> {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    let gateway = host_gateway.map(|g| g.to_string());
    for h in extra {
        let (name, ip) = h
            .split_once(':')
            .ok_or_else(|| Error::Invalid(format!("invalid --add-host {h:?}: expected host:ip")))?;
        let ip = if ip == "host-gateway" {
            gateway.as_deref().unwrap_or("127.0.0.1")
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
    let names = if domainname.is_empty() {
        hostname.to_string()
    } else {
        format!("{hostname}.{domainname} {hostname}")
    };
    for ip in addresses {
        s.push_str(&format!("{ip}\t{names}\n"));
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
            for ns in defaults::FALLBACK_NAMESERVERS {
                out.push_str(&format!("nameserver {ns}\n"));
            }
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
