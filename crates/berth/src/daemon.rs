//! `berth daemon`: the engine behind the Docker Engine API, with dockerd's
//! flag names; and `berth shim`, the per-container process it starts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct Daemon {
    /// Where to listen, as dockerd's -H: unix:///path/to.sock.
    #[arg(short = 'H', long = "host")]
    pub host: Option<String>,
    /// Group that may use the socket (mode 0660); root only when absent.
    #[arg(short = 'G', long)]
    pub group: Option<String>,
    /// Write the daemon's pid here.
    #[arg(short, long)]
    pub pidfile: Option<PathBuf>,
    /// Runtime state: shim sockets, the runtime's container states.
    #[arg(long)]
    pub exec_root: Option<PathBuf>,
    /// debug, info, warn, error or fatal.
    #[arg(short = 'l', long, default_value = "info")]
    pub log_level: String,
    /// A registry to speak plain HTTP to (loopback ones always are); repeat
    /// for more.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,
    /// A JSON file of settings, as dockerd's daemon.json: data-root,
    /// exec-root, hosts, group, pidfile, log-level, insecure-registries.
    /// Flags win over it; an unknown key is an error, as with dockerd.
    #[arg(long)]
    pub config_file: Option<PathBuf>,
    /// The default bridge's Linux name (dockerd's -b, under berth's own
    /// default so both engines share a host); "none": no default bridge,
    /// containers default to --network none.
    #[arg(short = 'b', long)]
    pub bridge: Option<String>,
    /// The default bridge's address and prefix (e.g. 10.88.0.1/16).
    #[arg(long)]
    pub bip: Option<String>,
    /// The most a build context may hold, unpacked (e.g. 512m, 20g;
    /// default 16g): a larger upload fails the build.
    #[arg(long, value_name = "SIZE")]
    pub build_context_limit: Option<String>,
    /// How long an API connection may go without a complete request head
    /// (a Go duration; default 5m, dockerd's). Hidden: dockerd has no such
    /// flag; tests shorten it.
    #[arg(long, hide = true, value_name = "DURATION")]
    pub api_header_timeout: Option<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
struct FileConfig {
    insecure_registries: Vec<String>,
    data_root: Option<PathBuf>,
    exec_root: Option<PathBuf>,
    hosts: Vec<String>,
    group: Option<String>,
    pidfile: Option<PathBuf>,
    log_level: Option<String>,
    bridge: Option<String>,
    bip: Option<String>,
    build_context_limit: Option<String>,
}

pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";
pub const DEFAULT_DATA_ROOT: &str = "/var/lib/berth";
pub const DEFAULT_BRIDGE: &str = "berth0";

/// berth's nftables table: `berth` for the default data root, else
/// `berth-<8 hex of the root's path>` so that daemons on other roots (tests
/// in parallel) never flush each other's rules.
fn firewall_table(data_root: &Path) -> String {
    if data_root == Path::new(DEFAULT_DATA_ROOT) {
        return "berth".into();
    }
    // FNV-1a: stable across builds, unlike std's hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in data_root.as_os_str().as_encoded_bytes() {
        h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    format!("berth-{h:08x}")
}

/// The API server's limits: the connection bound from this process's
/// open-file limit, the head timeout dockerd's unless the hidden flag says.
fn api_limits(header_timeout: Option<&str>) -> anyhow::Result<berth_api::Limits> {
    let mut limits = berth_api::Limits::from_rlimit();
    if let Some(t) = header_timeout {
        let nanos = berth_units::parse_go_duration(t)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                anyhow::anyhow!("--api-header-timeout {t:?}: a duration such as 30s or 5m")
            })?;
        limits.header_timeout = std::time::Duration::from_nanos(nanos as u64);
    }
    Ok(limits)
}

pub fn run(data_root: &Path, d: &Daemon) -> anyhow::Result<i32> {
    let file: FileConfig = match &d.config_file {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: invalid daemon config", p.display()))?
        }
        None => FileConfig::default(),
    };
    if !["debug", "info", "warn", "error", "fatal"].contains(&d.log_level.as_str()) {
        anyhow::bail!(
            "--log-level {:?}: expected debug, info, warn, error or fatal",
            d.log_level
        );
    }
    let data_root = match (&file.data_root, data_root == Path::new(DEFAULT_DATA_ROOT)) {
        (Some(f), true) => f.clone(),
        _ => data_root.to_path_buf(),
    };
    let exec_root = d
        .exec_root
        .clone()
        .or(file.exec_root.clone())
        .unwrap_or_else(|| PathBuf::from("/run/berth"));
    let host = d
        .host
        .clone()
        .or_else(|| file.hosts.first().cloned())
        .unwrap_or_else(|| DEFAULT_HOST.to_string());
    let group = d.group.clone().or(file.group.clone());
    let pidfile = d.pidfile.clone().or(file.pidfile.clone());
    let path = host
        .strip_prefix("unix://")
        .ok_or_else(|| anyhow::anyhow!("-H {host}: only unix:// sockets are supported"))?;
    let path = PathBuf::from(path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::os::unix::net::UnixStream::connect(&path).is_ok() {
        anyhow::bail!("{} is in use by another daemon", path.display());
    }
    let _ = std::fs::remove_file(&path);
    let exe = std::env::current_exe().context("finding the berth executable")?;
    let bridge = d
        .bridge
        .clone()
        .or(file.bridge.clone())
        .unwrap_or_else(|| DEFAULT_BRIDGE.to_string());
    let bridge = match bridge.as_str() {
        "none" => None,
        b if b.is_empty() || b.len() > 15 || b.contains(['/', ' ']) => {
            anyhow::bail!("--bridge {b:?}: an interface name of 1 to 15 characters, or none")
        }
        b => Some(b.to_string()),
    };
    let bip = match d.bip.clone().or(file.bip.clone()) {
        Some(b) => Some(
            b.parse::<ipnet::IpNet>()
                .ok()
                .filter(|n| n.addr().is_ipv4() && n.addr() != n.network())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--bip {b:?}: an IPv4 address with its prefix, e.g. 10.88.0.1/16"
                    )
                })?,
        ),
        None => None,
    };
    if bip.is_some() && bridge.is_none() {
        anyhow::bail!("--bip and --bridge none conflict: there is no default bridge to address");
    }
    let build_context_limit = match d
        .build_context_limit
        .clone()
        .or(file.build_context_limit.clone())
    {
        Some(s) => Some(
            berth_units::ram_in_bytes(&s)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    anyhow::anyhow!("--build-context-limit {s:?}: a size such as 512m or 20g")
                })? as u64,
        ),
        None => None,
    };
    let limits = api_limits(d.api_header_timeout.as_deref())?;
    let engine = berth_engine::Engine::open(berth_engine::Config {
        data_root: data_root.clone(),
        exec_root,
        exe,
        cgroup_parent: "berth".into(),
        insecure_registries: [
            d.insecure_registries.clone(),
            file.insecure_registries.clone(),
        ]
        .concat(),
        net: berth_engine::networks::NetConfig {
            bridge,
            bip,
            firewall_table: firewall_table(&data_root),
        },
        build_context_limit,
    })?;
    let engine = Arc::new(engine);
    let state = Arc::new(berth_api::State {
        engine: engine.clone(),
    });
    berth_sys::limit_malloc_arenas(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Threads a burst of starts made (store waits hand their worker
        // over) go soon after it, with their stacks.
        .thread_keep_alive(std::time::Duration::from_secs(2))
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        engine.adopt();
        let listener = tokio::net::UnixListener::bind(&path)
            .with_context(|| format!("listening on {}", path.display()))?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o660))?;
        if let Some(g) = &group {
            let gid = nix::unistd::Group::from_name(g)?
                .ok_or_else(|| anyhow::anyhow!("-G {g}: no such group"))?
                .gid;
            nix::unistd::chown(&path, None, Some(gid))?;
        }
        if let Some(p) = &pidfile {
            std::fs::write(p, std::process::id().to_string())?;
        }
        eprintln!(
            "berth daemon: API {} listening on {} (data root {})",
            berth_api::API_VERSION,
            path.display(),
            data_root.display()
        );
        eprintln!(
            "berth daemon: at most {} API connections at once, {:?} to send a request's head",
            limits.max_connections, limits.header_timeout
        );
        // After a burst the allocator keeps what it freed; every half
        // minute the daemon gives that back (cheap when there is none).
        tokio::spawn(async {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                berth_sys::release_free_memory();
            }
        });
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let served = tokio::select! {
            r = berth_api::serve(listener, state, limits) => {
                r.with_context(|| format!("serving the API on {}", path.display()))
            }
            _ = tokio::signal::ctrl_c() => Ok(()),
            _ = term.recv() => Ok(()),
        };
        // Containers keep running: their shims outlive the daemon. The
        // socket and pidfile go however serving ended, so that nothing
        // points at a daemon that is gone.
        let _ = std::fs::remove_file(&path);
        if let Some(p) = &pidfile {
            let _ = std::fs::remove_file(p);
        }
        served
    });
    // Requests still in flight (a blocking read that never ends among them)
    // do not hold the daemon's exit: a second for them, then it goes.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    result?;
    Ok(0)
}
