//! `berth build` (also `image build`) and `builder prune`: the context
//! packed as docker's CLI packs it, sent to `POST /build`, and the
//! engine's progress printed as it comes (`Step 1/5 : FROM busybox`, the
//! commands' output, `Successfully built ...`).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use berth_client::build_context;
use berth_client::{Engine, RequestBody, urlencode};
use clap::{ArgAction, Args, Subcommand};
use serde_json::json;

use crate::image_cli::progress::{self, StreamError};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag (name:tag); may be given several times.
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: PATH/Dockerfile); `-` reads it from stdin.
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Set build-time variables (KEY=VALUE, or KEY to take it from the environment).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Set metadata for the image (KEY=VALUE).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use the cache when building the image.
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image.
    #[arg(long)]
    pub pull: bool,
    /// Suppress the build output and print the image ID on success.
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to the file.
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Set the networking mode for the RUN instructions during build.
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Set platform if server is multi-platform capable (the host's only).
    #[arg(long)]
    pub platform: Option<String>,
    /// Remove intermediate containers after a successful build.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub rm: bool,
    /// Always remove intermediate containers.
    #[arg(long)]
    pub force_rm: bool,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host")]
    pub add_hosts: Vec<String>,
    /// Size of /dev/shm.
    #[arg(long)]
    pub shm_size: Option<String>,
    /// Memory limit.
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap.
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<i64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) period.
    #[arg(long)]
    pub cpu_period: Option<i64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Optional parent cgroup for the container.
    #[arg(long)]
    pub cgroup_parent: Option<String>,
    /// Ulimit options (name=soft[:hard]).
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Images to consider as cache sources.
    #[arg(long)]
    pub cache_from: Vec<String>,
    /// Squash newly built layers into a single new layer.
    #[arg(long)]
    pub squash: bool,
    /// Container isolation technology.
    #[arg(long)]
    pub isolation: Option<String>,
    /// Compress the build context using gzip.
    #[arg(long)]
    pub compress: bool,
    /// The context: a directory, or `-` for a tar or a Dockerfile on stdin.
    pub path: String,
}

#[derive(Subcommand, Debug)]
pub enum BuilderCommand {
    /// Remove build cache.
    Prune(BuilderPruneArgs),
}

#[derive(Args, Debug)]
pub struct BuilderPruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Remove all unused build cache, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
}

/// `KEY=VALUE` pairs; `KEY` alone takes the environment's value, or none.
fn build_args(args: &[String]) -> BTreeMap<String, Option<String>> {
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (a.clone(), std::env::var(a).ok()),
        })
        .collect()
}

fn size_param(name: &str, v: &Option<String>) -> Result<Option<i64>> {
    v.as_ref()
        .map(|s| {
            if s == "-1" {
                return Ok(-1);
            }
            berth_units::ram_in_bytes(s)
                .map_err(|e| anyhow::anyhow!("invalid argument {s:?} for \"--{name}\" flag: {e}"))
        })
        .transpose()
}

/// The query of `POST /build`.
fn query(a: &BuildArgs, dockerfile: &str) -> Result<String> {
    let mut q: Vec<(String, String)> = Vec::new();
    for t in &a.tags {
        q.push(("t".into(), t.clone()));
    }
    q.push(("dockerfile".into(), dockerfile.to_string()));
    let args = build_args(&a.build_args);
    if !args.is_empty() {
        q.push(("buildargs".into(), json!(args).to_string()));
    }
    if !a.labels.is_empty() {
        let labels: BTreeMap<&str, &str> = a
            .labels
            .iter()
            .map(|l| l.split_once('=').unwrap_or((l.as_str(), "")))
            .collect();
        q.push(("labels".into(), json!(labels).to_string()));
    }
    if let Some(t) = &a.target {
        q.push(("target".into(), t.clone()));
    }
    for (flag, set) in [
        ("nocache", a.no_cache),
        ("pull", a.pull),
        ("q", a.quiet),
        ("forcerm", a.force_rm),
        ("squash", a.squash),
    ] {
        if set {
            q.push((flag.into(), "1".into()));
        }
    }
    q.push(("rm".into(), if a.rm { "1" } else { "0" }.into()));
    q.push(("networkmode".into(), a.network.clone()));
    if let Some(p) = &a.platform {
        q.push(("platform".into(), p.clone()));
    }
    if !a.add_hosts.is_empty() {
        q.push(("extrahosts".into(), a.add_hosts.join(",")));
    }
    for (k, v) in [
        ("shmsize", size_param("shm-size", &a.shm_size)?),
        ("memory", size_param("memory", &a.memory)?),
        ("memswap", size_param("memory-swap", &a.memory_swap)?),
        ("cpushares", a.cpu_shares),
        ("cpuperiod", a.cpu_period),
        ("cpuquota", a.cpu_quota),
    ] {
        if let Some(v) = v {
            q.push((k.into(), v.to_string()));
        }
    }
    for (k, v) in [
        ("cpusetcpus", &a.cpuset_cpus),
        ("cpusetmems", &a.cpuset_mems),
        ("cgroupparent", &a.cgroup_parent),
        ("isolation", &a.isolation),
    ] {
        if let Some(v) = v {
            q.push((k.into(), v.clone()));
        }
    }
    if !a.ulimit.is_empty() {
        let mut limits = Vec::new();
        for u in &a.ulimit {
            let (name, vals) = u
                .split_once('=')
                .with_context(|| format!("invalid ulimit argument: {u}"))?;
            let (soft, hard) = vals.split_once(':').unwrap_or((vals, vals));
            let n = |s: &str| {
                s.parse::<i64>()
                    .with_context(|| format!("invalid ulimit argument: {u}"))
            };
            limits.push(json!({"Name": name, "Soft": n(soft)?, "Hard": n(hard)?}));
        }
        q.push(("ulimits".into(), json!(limits).to_string()));
    }
    if !a.cache_from.is_empty() {
        q.push(("cachefrom".into(), json!(a.cache_from).to_string()));
    }
    Ok(q.iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&"))
}

/// Whether `data` starts like a tar or a compressed stream (a context on
/// stdin), rather than a Dockerfile.
fn looks_like_archive(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
        || data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || data.starts_with(b"BZh")
        || data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || (data.len() > 262 && &data[257..262] == b"ustar")
}

fn read_stdin(what: &str) -> Result<Vec<u8>> {
    if std::io::stdin().is_terminal() {
        bail!("{what} is read from stdin, but stdin is a terminal");
    }
    let mut data = Vec::new();
    std::io::stdin().read_to_end(&mut data)?;
    Ok(data)
}

/// The context as it will be sent, and the Dockerfile's name in it.
enum ContextSource {
    /// Bytes already read (stdin).
    Bytes(Vec<u8>),
    /// A directory, packed as it is sent.
    Dir {
        dir: PathBuf,
        keep: Option<String>,
        extra: Option<(String, Vec<u8>)>,
    },
}

fn context(a: &BuildArgs) -> Result<(ContextSource, String)> {
    if a.path == "-" {
        if a.file.as_deref() == Some("-") {
            bail!("invalid argument: can't use stdin for both build context and dockerfile");
        }
        let data = read_stdin("the context")?;
        if looks_like_archive(&data) {
            let name = a.file.clone().unwrap_or_else(|| "Dockerfile".into());
            return Ok((ContextSource::Bytes(data), name));
        }
        let mut tar = Vec::new();
        build_context::dockerfile_only(&data, &mut tar)?;
        return Ok((ContextSource::Bytes(tar), "Dockerfile".into()));
    }
    if a.path.starts_with("git@") || a.path.starts_with("git://") || a.path.ends_with(".git") {
        bail!(
            "git contexts ({}) are not supported by berth yet: clone the repository and build the directory",
            a.path
        );
    }
    let dir = PathBuf::from(&a.path);
    let meta = std::fs::metadata(&dir)
        .with_context(|| format!("unable to prepare context: path {:?} not found", a.path))?;
    if !meta.is_dir() {
        bail!(
            "unable to prepare context: path {:?} is not a directory",
            a.path
        );
    }
    // A random name for a Dockerfile that is not in the context.
    let outside_name = format!(".dockerfile.{}", &random_hex()[..20]);
    let (keep, extra, name) = match a.file.as_deref() {
        Some("-") => {
            let text = read_stdin("the Dockerfile")?;
            (None, Some((outside_name.clone(), text)), outside_name)
        }
        None => (
            Some("Dockerfile".to_string()),
            None,
            "Dockerfile".to_string(),
        ),
        Some(f) => {
            // -f is relative to the current directory, as docker's.
            let abs_file = std::fs::canonicalize(f).with_context(|| {
                format!("unable to prepare context: the Dockerfile {f:?} was not found")
            })?;
            let abs_dir = std::fs::canonicalize(&dir)?;
            match abs_file.strip_prefix(&abs_dir) {
                Ok(rel) => {
                    let rel = rel.to_string_lossy().into_owned();
                    (Some(rel.clone()), None, rel)
                }
                Err(_) => {
                    let text = std::fs::read(&abs_file).with_context(|| format!("reading {f}"))?;
                    (None, Some((outside_name.clone(), text)), outside_name)
                }
            }
        }
    };
    Ok((ContextSource::Dir { dir, keep, extra }, name))
}

/// The body of `POST /build`: the context packed on a thread as the
/// request sends it (a large context is never held in memory), gzipped
/// with `--compress`.
fn body(ctx: ContextSource, compress: bool) -> Result<RequestBody> {
    let (reader, writer) = std::io::pipe()?;
    std::thread::spawn(move || {
        let pack = |w: &mut dyn Write| -> Result<()> {
            match ctx {
                ContextSource::Bytes(b) => w.write_all(&b)?,
                ContextSource::Dir { dir, keep, extra } => {
                    let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
                    let extra = extra.as_ref().map(|(n, d)| (n.as_str(), d.as_slice()));
                    build_context::write_context(Some(&dir), &keep, extra, &mut *w)?;
                }
            }
            Ok(())
        };
        let mut writer = writer;
        let result = if compress {
            let mut gz = flate2::write::GzEncoder::new(&mut writer, flate2::Compression::fast());
            pack(&mut gz).and_then(|_| gz.finish().map(drop).map_err(Into::into))
        } else {
            pack(&mut writer)
        };
        // A failure shows as a truncated upload; say why here too.
        if let Err(e) = result {
            eprintln!("berth build: {e:#}");
        }
    });
    let file = std::fs::File::from(std::os::fd::OwnedFd::from(reader));
    Ok(RequestBody::Stream(Box::new(tokio::fs::File::from_std(
        file,
    ))))
}

fn random_hex() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub async fn build(e: &Engine, a: &BuildArgs) -> Result<i32> {
    let remote = a.path.starts_with("http://") || a.path.starts_with("https://");
    let (path, body) = if remote {
        // The engine fetches a context given by URL itself, as dockerd.
        let dockerfile = a.file.clone().unwrap_or_else(|| "Dockerfile".into());
        let q = query(a, &dockerfile)?;
        (
            format!("/build?{q}&remote={}", urlencode(&a.path)),
            RequestBody::Empty,
        )
    } else {
        let (ctx, dockerfile) = context(a)?;
        (
            format!("/build?{}", query(a, &dockerfile)?),
            body(ctx, a.compress)?,
        )
    };
    let headers = [("Content-Type", "application/x-tar".to_string())];
    let resp = e.stream_with("POST", &path, &headers, body).await?;
    let mut stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let outcome = match progress::render(resp, &mut stdout, terminal, false).await {
        Ok(o) => o,
        Err(err) => {
            if let Some(s) = err.downcast_ref::<StreamError>() {
                eprintln!("{}", s.message);
                return Ok(s.code.filter(|c| *c > 0 && *c < 256).unwrap_or(1) as i32);
            }
            return Err(err);
        }
    };
    let id = outcome
        .aux
        .iter()
        .find_map(|a| a["ID"].as_str())
        .map(str::to_string);
    if let (Some(file), Some(id)) = (&a.iidfile, &id) {
        std::fs::write(file, id)
            .with_context(|| format!("writing the image ID to {}", file.display()))?;
    }
    Ok(0)
}

pub async fn builder(e: &Engine, c: &BuilderCommand) -> Result<i32> {
    match c {
        BuilderCommand::Prune(p) => {
            if !p.force {
                eprint!(
                    "WARNING! This will remove all dangling build cache.\nAre you sure you want to continue? [y/N] "
                );
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    return Ok(0);
                }
            }
            let q = if p.all { "?all=1" } else { "" };
            let v = e.post_json(&format!("/build/prune{q}"), &json!({})).await?;
            let ids = v["CachesDeleted"].as_array().cloned().unwrap_or_default();
            if !ids.is_empty() {
                println!("Deleted build cache objects:");
                for id in ids {
                    println!("{}", id.as_str().unwrap_or_default());
                }
            }
            println!(
                "Total reclaimed space: {}",
                berth_units::human_size(v["SpaceReclaimed"].as_f64().unwrap_or(0.0), 3)
            );
            Ok(0)
        }
    }
}
