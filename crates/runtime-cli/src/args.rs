//! The command line, as runc spells it.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use nix::sys::signal::Signal;
use oci_spec::runtime::{LinuxResources, Process, Spec};

#[derive(Parser, Debug)]
#[command(
    name = "berth-runtime",
    version,
    about = "berth's OCI runtime: runs containers from OCI bundles (runc-compatible command line)"
)]
pub struct Cli {
    /// Directory holding the containers' state.
    #[arg(long, global = true, default_value = "/run/berth-runtime")]
    pub root: PathBuf,
    /// File to write errors to, as well as stderr (one JSON line each with --log-format json).
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of the log file.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Accepted for compatibility; refused on create (berth drives cgroupfs, without systemd).
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// crun's choice of cgroup manager: cgroupfs (what berth does), systemd
    /// (refused, as --systemd-cgroup), or disabled (no cgroup at all).
    #[arg(long, global = true, value_enum)]
    pub cgroup_manager: Option<CgroupManager>,
    /// Accepted for compatibility.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for compatibility (checkpointing is not supported).
    #[arg(long, global = true, hide = true)]
    pub criu: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupManager {
    Cgroupfs,
    Systemd,
    Disabled,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container from a bundle; its process waits for `start`.
    Create(Create),
    /// Start the process of a created container.
    Start(Id),
    /// Print the state of a container as JSON.
    State(Id),
    /// Send a signal to the container's init (or, with --all, every process).
    Kill(Kill),
    /// Delete a container and everything the runtime made for it.
    Delete(Delete),
    /// Create, start and wait for a container, then delete it.
    Run(Run),
    /// Run a new process inside a running container.
    Exec(Exec),
    /// List the processes of a container.
    Ps(Ps),
    /// Freeze every process of a container.
    Pause(Id),
    /// Thaw a paused container.
    Resume(Id),
    /// Print resource usage of a container, once (--stats) or periodically.
    Events(Events),
    /// Change the resource limits of a container.
    Update(Update),
    /// Print the features this runtime supports, as JSON.
    Features,
    /// Write a default config.json into a bundle.
    Spec(SpecCmd),
    /// List the containers under the root.
    List(List),
    /// Not supported.
    #[command(hide = true)]
    Checkpoint(Rest),
    /// Not supported.
    #[command(hide = true)]
    Restore(Rest),
}

#[derive(Args, Debug)]
pub struct Id {
    /// The container id.
    pub id: String,
}

#[derive(Args, Debug)]
pub struct Rest {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

#[derive(Args, Debug)]
pub struct CreateCommon {
    /// File to write the container's init pid to.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the terminal's master side to (process.terminal).
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Use chroot instead of pivot_root (for a root on a ramdisk).
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for compatibility (no session keyring is made).
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many descriptors after stdio (3, 4, ...) to the container.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// The config file, relative to the bundle, instead of config.json (crun's).
    #[arg(long, short = 'f')]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct Create {
    /// The bundle directory (holding config.json).
    #[arg(long, short, default_value = ".")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub common: CreateCommon,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct Run {
    /// The bundle directory (holding config.json).
    #[arg(long, short, default_value = ".")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub common: CreateCommon,
    /// Return once the container runs, leaving it running.
    #[arg(long, short)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct Kill {
    /// Signal every process in the container's cgroup.
    #[arg(long, short)]
    pub all: bool,
    pub id: String,
    /// A signal number or name (KILL, SIGKILL, 9).
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct Delete {
    /// Kill a running container first; an unknown id is not an error.
    #[arg(long, short)]
    pub force: bool,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct Exec {
    /// A JSON file with the process (runtime spec's process object).
    #[arg(long, short)]
    pub process: Option<PathBuf>,
    /// Allocate a terminal.
    #[arg(long, short)]
    pub tty: bool,
    /// Unix socket to send the terminal's master side to.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// File to write the new process's pid to.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Return once the process runs.
    #[arg(long, short)]
    pub detach: bool,
    /// Working directory in the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Extra environment, NAME=value.
    #[arg(long, short)]
    pub env: Vec<String>,
    /// uid[:gid] to run as.
    #[arg(long, short)]
    pub user: Option<String>,
    /// Additional group ids.
    #[arg(long = "additional-gids", short = 'g')]
    pub additional_gids: Vec<u32>,
    /// Capabilities to add (CAP_...).
    #[arg(long, short)]
    pub cap: Vec<String>,
    /// Set no_new_privileges.
    #[arg(long)]
    pub no_new_privs: bool,
    /// Pass this many descriptors after stdio to the process.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Exec even into a paused container.
    #[arg(long)]
    pub ignore_paused: bool,
    /// Run in a sub-cgroup of the container's, "path" or
    /// "controller[,controller]:path" (may be repeated).
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// Accepted for compatibility.
    #[arg(long, hide = true)]
    pub process_label: Option<String>,
    /// Accepted for compatibility.
    #[arg(long, hide = true)]
    pub apparmor: Option<String>,
    pub id: String,
    /// The command and its arguments (when no --process is given).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl Exec {
    /// The process to run: the --process file, or the container's own
    /// process with the command and flags applied.
    pub fn process(&self, spec: &Spec) -> anyhow::Result<Process> {
        let mut p: Process = match &self.process {
            Some(path) => {
                let data = super::read_json_arg(path)?;
                berth_runtime::spec::parse_process(&data)
                    .map_err(|e| anyhow::anyhow!("process file {}: {e}", path.display()))?
            }
            None => {
                if self.command.is_empty() {
                    anyhow::bail!("exec: give a command, or --process");
                }
                let mut p = spec.process().clone().unwrap_or_default();
                p.set_args(Some(self.command.clone()));
                p.set_terminal(Some(self.tty));
                p
            }
        };
        if let Some(cwd) = &self.cwd {
            p.set_cwd(cwd.clone());
        }
        if !self.env.is_empty() {
            // A name given again overrides the spec's value, as runc's
            // environment does (the later setenv wins).
            let mut env = p.env().clone().unwrap_or_default();
            for e in &self.env {
                let name = e.split('=').next().unwrap_or(e);
                env.retain(|x| x.split('=').next() != Some(name));
                env.push(e.clone());
            }
            p.set_env(Some(env));
        }
        if let Some(u) = &self.user {
            let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
            let user = p.user_mut();
            user.set_uid(
                uid.parse()
                    .map_err(|_| anyhow::anyhow!("--user {u}: uid must be a number"))?,
            );
            user.set_gid(
                gid.parse()
                    .map_err(|_| anyhow::anyhow!("--user {u}: gid must be a number"))?,
            );
        }
        if !self.additional_gids.is_empty() {
            p.user_mut()
                .set_additional_gids(Some(self.additional_gids.clone()));
        }
        if self.no_new_privs {
            p.set_no_new_privileges(Some(true));
        }
        if !self.cap.is_empty() {
            let mut caps = p.capabilities().clone().unwrap_or_default();
            for name in &self.cap {
                let cap = oci_spec::runtime::Capability::from_str(name.trim_start_matches("CAP_"))
                    .map_err(|_| anyhow::anyhow!("--cap {name}: unknown capability"))?;
                let add = |s: &Option<oci_spec::runtime::Capabilities>| {
                    let mut s = s.clone().unwrap_or_default();
                    s.insert(cap);
                    Some(s)
                };
                // As runc: bounding, effective and permitted; ambient only
                // where the spec has inheritable bits (the kernel takes no
                // ambient capability that is not inheritable); never the
                // inheritable set itself.
                let (b, e, pm) = (
                    add(caps.bounding()),
                    add(caps.effective()),
                    add(caps.permitted()),
                );
                caps.set_bounding(b);
                caps.set_effective(e);
                caps.set_permitted(pm);
                if caps.inheritable().as_ref().is_some_and(|i| !i.is_empty()) {
                    let a = add(caps.ambient());
                    caps.set_ambient(a);
                }
            }
            p.set_capabilities(Some(caps));
        }
        Ok(p)
    }
}

#[derive(Args, Debug)]
pub struct Ps {
    /// table or json.
    #[arg(long, short, default_value = "table")]
    pub format: String,
    pub id: String,
    /// Arguments for ps (table format).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct Events {
    /// Print the statistics once and exit.
    #[arg(long)]
    pub stats: bool,
    /// Interval between statistics, like 5s or 500ms.
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

impl Events {
    pub fn interval(&self) -> Duration {
        parse_duration(&self.interval).unwrap_or(Duration::from_secs(5))
    }
}

fn parse_duration(s: &str) -> Option<Duration> {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    if let Some(sec) = s.strip_suffix('s') {
        return sec.parse::<f64>().ok().map(Duration::from_secs_f64);
    }
    s.parse().ok().map(Duration::from_secs)
}

#[derive(Args, Debug)]
pub struct Update {
    /// A JSON file with LinuxResources, or - for stdin.
    #[arg(long, short)]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes.
    #[arg(long)]
    pub memory: Option<i64>,
    /// Memory reservation (soft limit) in bytes.
    #[arg(long)]
    pub memory_reservation: Option<i64>,
    /// Memory plus swap limit in bytes (-1: unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// CPU shares (relative weight); `--cpu-share` is runc's and crun's
    /// spelling.
    #[arg(long, alias = "cpu-share")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds (-1: unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds.
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPUs the container may use (0-3, 0,1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use.
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 or 0: unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block I/O weight (10 to 1000).
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    pub id: String,
}

impl Update {
    pub fn resources(&self) -> anyhow::Result<LinuxResources> {
        let mut v = match &self.resources {
            Some(p) => {
                let data = super::read_json_arg(p)?;
                serde_json::from_slice::<serde_json::Value>(&data)
                    .map_err(|e| anyhow::anyhow!("resources {}: {e}", p.display()))?
            }
            None => serde_json::json!({}),
        };
        let mut set = |section: &str, key: &str, val: serde_json::Value| {
            v[section][key] = val;
        };
        if let Some(m) = self.memory {
            set("memory", "limit", m.into())
        }
        if let Some(m) = self.memory_reservation {
            set("memory", "reservation", m.into())
        }
        if let Some(m) = self.memory_swap {
            set("memory", "swap", m.into())
        }
        if let Some(c) = self.cpu_shares {
            set("cpu", "shares", c.into())
        }
        if let Some(c) = self.cpu_quota {
            set("cpu", "quota", c.into())
        }
        if let Some(c) = self.cpu_period {
            set("cpu", "period", c.into())
        }
        if let Some(c) = &self.cpuset_cpus {
            set("cpu", "cpus", c.clone().into())
        }
        if let Some(c) = &self.cpuset_mems {
            set("cpu", "mems", c.clone().into())
        }
        if let Some(p) = self.pids_limit {
            set("pids", "limit", p.into())
        }
        if let Some(w) = self.blkio_weight {
            set("blockIO", "weight", w.into())
        }
        let de = serde_json::to_vec(&v)?;
        let de = &mut serde_json::Deserializer::from_slice(&de);
        serde_path_to_error::deserialize(de)
            .map_err(|e| anyhow::anyhow!("resources: {}: {}", e.path(), e.inner()))
    }
}

#[derive(Args, Debug)]
pub struct SpecCmd {
    /// Where to write config.json.
    #[arg(long, short, default_value = ".")]
    pub bundle: PathBuf,
    /// A spec for running without root (a user namespace mapping the caller).
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Args, Debug)]
pub struct List {
    /// table or json.
    #[arg(long, short, default_value = "table")]
    pub format: String,
    /// Print only the ids.
    #[arg(long, short)]
    pub quiet: bool,
}

/// A signal by number or name, with or without SIG, any case.
pub fn parse_signal(s: &str) -> anyhow::Result<Signal> {
    berth_runtime::signal::parse(s).ok_or_else(|| anyhow::anyhow!("invalid signal {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("kill").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("SIGTERM").unwrap(), Signal::SIGTERM);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
    }
}
