//! `berth compose ...`: Docker Compose v2's command line over the loader
//! and the reconciler.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Result, bail};
use berth_client::Engine;
use clap::{Args, Subcommand};

use crate::down::DownOptions;
use crate::load::{LoadOptions, load, to_yaml};
use crate::model::Project;
use crate::up::UpOptions;

#[derive(Args, Debug)]
pub struct ComposeArgs {
    /// Compose configuration files (default: compose.yaml and the like,
    /// searched upwards, with its override file).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Project name.
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Alternate working directory (default: the first file's directory).
    #[arg(long)]
    pub project_directory: Option<PathBuf>,
    /// An alternate environment file.
    #[arg(long = "env-file")]
    pub env_files: Vec<PathBuf>,
    /// A profile to enable.
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    #[command(subcommand)]
    pub command: ComposeCommand,
}

#[derive(Subcommand, Debug)]
pub enum ComposeCommand {
    /// Create and start containers.
    Up(UpArgs),
    /// Stop and remove containers, networks (and volumes, images).
    Down(DownArgs),
    /// List containers.
    Ps(PsArgs),
    /// View output from containers.
    Logs(LogsArgs),
    /// Build or rebuild services.
    Build(BuildArgs),
    /// Parse, resolve and render the compose file in canonical format.
    Config(ConfigArgs),
    /// Start services.
    Start(Services),
    /// Stop services.
    Stop(StopArgs),
    /// Restart service containers.
    Restart(StopArgs),
    /// Force stop service containers.
    Kill(KillArgs),
    /// Remove stopped service containers.
    Rm(RmArgs),
    /// Pull service images.
    Pull(Services),
    /// List images used by the created containers.
    Images(Services),
    /// Push service images.
    Push(Services),
    /// Display the running processes.
    Top(Services),
    /// Print the public port for a port binding.
    Port(PortArgs),
    /// List running compose projects.
    Ls(LsArgs),
    /// Execute a command in a running container.
    Exec(ExecArgs),
    /// Run a one-off command on a service.
    Run(RunArgs),
    /// Show the Compose version information.
    Version,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    /// tcp or udp.
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// Index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    pub private_port: u16,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Show all stopped Compose projects.
    #[arg(short, long)]
    pub all: bool,
    /// Only display project names.
    #[arg(short, long)]
    pub quiet: bool,
    /// Format the output: table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Filter output based on conditions provided (name=<project>).
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short, long)]
    pub detach: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// Disable pseudo-TTY allocation (default: a TTY when stdin is one).
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Run command with the service's ports enabled and mapped to the host.
    #[arg(long)]
    pub service_ports: bool,
    /// Run as specified username or uid.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Override the entrypoint of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `run`: its dependencies up (unless `--no-deps`) and the one-off
/// container created, not started; returns its id and whether it has a
/// TTY. The binary starts it attached through the CLI's `start -a -i`.
pub async fn create_oneoff(e: &Engine, a: &ComposeArgs, r: &RunArgs) -> Result<(String, bool)> {
    use std::io::IsTerminal;
    let project = project(a)?;
    let Some(service) = project.services.get(&r.service) else {
        bail!("no such service: {}", r.service);
    };
    let mut service = service.clone();
    if !r.no_deps && !service.depends_on.is_empty() {
        let deps: Vec<String> = service.depends_on.keys().cloned().collect();
        let opts = UpOptions {
            services: deps,
            ..Default::default()
        };
        crate::up::up(e, &project, &opts, &environment()).await?;
    }
    crate::up::ensure_resources(e, &project, std::slice::from_ref(&r.service)).await?;
    let image = crate::up::ensure_image(e, &project, &r.service, &UpOptions::default()).await?;
    if !r.command.is_empty() {
        service.command = Some(r.command.clone());
    }
    if let Some(ep) = &r.entrypoint {
        service.entrypoint = Some(vec![ep.clone()]);
    }
    for kv in &r.env {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        service.environment.insert(k.into(), Some(v.into()));
    }
    if let Some(u) = &r.user {
        service.user = Some(u.clone());
    }
    if let Some(w) = &r.workdir {
        service.working_dir = Some(w.clone());
    }
    if !r.service_ports {
        service.ports.clear();
    }
    service.restart = None;
    service.tty = !r.no_tty && !r.detach && std::io::stdin().is_terminal();
    service.stdin_open = !r.detach;
    let suffix: String = {
        let mut b = [0u8; 6];
        if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
            use std::io::Read;
            let _ = f.read_exact(&mut b);
        }
        b.iter().map(|x| format!("{x:02x}")).collect()
    };
    let name = r
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-run-{suffix}", project.name, r.service));
    service.container_name = Some(name.clone());
    let attach = !r.detach;
    let id = crate::up::create_with(
        e,
        &project,
        &r.service,
        &service,
        1,
        &image,
        &environment(),
        |body| {
            body["Labels"][crate::labels::ONEOFF] = serde_json::json!("True");
            body["AttachStdin"] = serde_json::json!(attach);
        },
    )
    .await?;
    Ok((id, service.tty))
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Disable pseudo-TTY allocation (default: a TTY when stdin is one).
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Set environment variables.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Path to workdir directory for this command.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Run the command as this user.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Give extended privileges to the process.
    #[arg(long)]
    pub privileged: bool,
    /// Index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

impl ExecArgs {
    /// The `exec` command line that runs this in `container` (the CLI's
    /// own exec does the terminal and the streams).
    pub fn exec_argv(&self, container: &str) -> Vec<String> {
        use std::io::IsTerminal;
        let mut argv = vec!["exec".to_string()];
        if self.detach {
            argv.push("-d".into());
        } else {
            argv.push("-i".into());
            if !self.no_tty && std::io::stdin().is_terminal() {
                argv.push("-t".into());
            }
        }
        for e in &self.env {
            argv.extend(["-e".into(), e.clone()]);
        }
        if let Some(w) = &self.workdir {
            argv.extend(["-w".into(), w.clone()]);
        }
        if let Some(u) = &self.user {
            argv.extend(["-u".into(), u.clone()]);
        }
        if self.privileged {
            argv.push("--privileged".into());
        }
        argv.push(container.to_string());
        argv.extend(self.command.iter().cloned());
        argv
    }
}

/// The container `exec` runs in: the service's `index`th.
pub fn exec_target(a: &ComposeArgs, x: &ExecArgs) -> Result<String> {
    let project = project(a)?;
    let Some(service) = project.services.get(&x.service) else {
        bail!("service {:?} is not running", x.service);
    };
    Ok(crate::spec::container_name(
        &project, &x.service, service, x.index,
    ))
}

#[derive(Args, Debug, Default)]
pub struct Services {
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Detached mode: run containers in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Build images before starting containers.
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's missing.
    #[arg(long)]
    pub no_build: bool,
    /// Recreate containers even if their configuration hasn't changed.
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them.
    #[arg(long)]
    pub no_recreate: bool,
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// Remove containers for services not defined in the Compose file.
    #[arg(long)]
    pub remove_orphans: bool,
    /// Scale SERVICE to NUM instances (SERVICE=NUM).
    #[arg(long)]
    pub scale: Vec<String>,
    /// Wait for services to be running|healthy. Implies detached mode.
    #[arg(long)]
    pub wait: bool,
    /// Maximum duration to wait for the project to be running|healthy (seconds).
    #[arg(long)]
    pub wait_timeout: Option<u64>,
    /// Use this timeout in seconds for container shutdown.
    #[arg(short, long)]
    pub timeout: Option<i64>,
    /// Stops all containers if any container was stopped.
    #[arg(long)]
    pub abort_on_container_exit: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    /// Remove named volumes declared in the "volumes" section and anonymous volumes.
    #[arg(short, long)]
    pub volumes: bool,
    /// Remove images used by services: "local" (no custom tag) or "all".
    #[arg(long)]
    pub rmi: Option<String>,
    /// Remove containers for services not defined in the Compose file.
    #[arg(long)]
    pub remove_orphans: bool,
    /// Specify a shutdown timeout in seconds.
    #[arg(short, long)]
    pub timeout: Option<i64>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all stopped containers.
    #[arg(short, long)]
    pub all: bool,
    /// Only display IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Display services.
    #[arg(long)]
    pub services: bool,
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs for each container.
    #[arg(short = 'n', long)]
    pub tail: Option<String>,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Do not use cache when building the image.
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image.
    #[arg(long)]
    pub pull: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Print the service names, one per line.
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line.
    #[arg(long)]
    pub volumes: bool,
    /// Print the profile names, one per line.
    #[arg(long)]
    pub profiles: bool,
    /// Only validate the configuration, don't print anything.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Specify a shutdown timeout in seconds.
    #[arg(short, long)]
    pub timeout: Option<i64>,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// SIGNAL to send to the container.
    #[arg(short, long, default_value = "SIGKILL")]
    pub signal: String,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Don't ask to confirm removal.
    #[arg(short, long)]
    pub force: bool,
    /// Stop the containers, if required, before removing.
    #[arg(short, long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers.
    #[arg(short, long)]
    pub volumes: bool,
    pub services: Vec<String>,
}

fn environment() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

fn project(a: &ComposeArgs) -> Result<Project> {
    let opts = LoadOptions {
        files: a.files.clone(),
        project_name: a.project_name.clone(),
        project_dir: a.project_directory.clone(),
        env_files: a.env_files.clone(),
        profiles: a.profiles.clone(),
        environment: environment(),
        working_dir: std::env::current_dir()?,
        ..Default::default()
    };
    let p = load(&opts)?;
    for w in &p.warnings {
        eprintln!("WARN[0000] {w}");
    }
    Ok(p)
}

/// The commands that need no engine (`config`, `version`): their exit
/// code, or None for the others.
pub fn run_offline(a: &ComposeArgs) -> Option<Result<i32>> {
    match &a.command {
        ComposeCommand::Version => {
            println!("berth compose version {}", crate::labels::COMPOSE_VERSION);
            Some(Ok(0))
        }
        ComposeCommand::Config(c) => Some(project(a).map(|p| config(&p, c))),
        _ => None,
    }
}

fn config(project: &Project, c: &ConfigArgs) -> i32 {
    if c.quiet {
    } else if c.services {
        for s in project.services.keys() {
            println!("{s}");
        }
    } else if c.volumes {
        for v in project.volumes.keys() {
            println!("{v}");
        }
    } else if c.profiles {
        let mut all: Vec<&String> = project
            .services
            .values()
            .chain(project.disabled.values())
            .flat_map(|s| &s.profiles)
            .collect();
        all.sort();
        all.dedup();
        for p in all {
            println!("{p}");
        }
    } else {
        print!("{}", to_yaml(project));
    }
    0
}

/// Runs `berth compose ...` against `e` (connected by the caller);
/// returns the exit code.
pub async fn run(e: &Engine, a: &ComposeArgs) -> Result<i32> {
    if let Some(r) = run_offline(a) {
        return r;
    }
    if let ComposeCommand::Ls(l) = &a.command {
        let json = match l.format.as_str() {
            "table" => false,
            "json" => true,
            other => bail!("invalid value for --format: {other:?} (table or json)"),
        };
        let mut names = Vec::new();
        for f in &l.filter {
            match f.split_once('=') {
                Some(("name", n)) => names.push(n.to_string()),
                _ => bail!("invalid filter {f:?}: compose ls filters by name=<project>"),
            }
        }
        let opts = crate::ps::LsOptions {
            all: l.all,
            quiet: l.quiet,
            json,
            names,
        };
        crate::ps::ls(e, &opts).await?;
        return Ok(0);
    }
    let project = project(a)?;
    match &a.command {
        ComposeCommand::Version | ComposeCommand::Config(_) | ComposeCommand::Ls(_) => {
            unreachable!("answered above")
        }
        ComposeCommand::Push(s) => {
            for n in crate::up::order(&project, &s.services, false)? {
                let svc = &project.services[&n];
                if let Some(image) = &svc.image {
                    crate::pull::push(e, image).await?;
                }
            }
            Ok(0)
        }
        ComposeCommand::Top(s) => {
            crate::ps::top(e, &project, &s.services).await?;
            Ok(0)
        }
        ComposeCommand::Port(p) => {
            let Some(svc) = project.services.get(&p.service) else {
                bail!("no such service: {}", p.service);
            };
            let name = crate::spec::container_name(&project, &p.service, svc, p.index);
            let c = crate::engine::inspect(e, &name).await?;
            let key = format!("{}/{}", p.private_port, p.protocol);
            match c["NetworkSettings"]["Ports"][&key]
                .as_array()
                .and_then(|b| b.first())
            {
                Some(b) => {
                    println!(
                        "{}:{}",
                        b["HostIp"].as_str().unwrap_or("0.0.0.0"),
                        b["HostPort"].as_str().unwrap_or_default()
                    );
                    Ok(0)
                }
                None => bail!("no port {key} for container {name}"),
            }
        }
        ComposeCommand::Exec(_) | ComposeCommand::Run(_) => {
            unreachable!("the binary runs exec and run through the CLI's verbs")
        }
        ComposeCommand::Up(u) => {
            if u.abort_on_container_exit && u.detach {
                bail!("--abort-on-container-exit and --detach are incompatible");
            }
            let mut scale = BTreeMap::new();
            for s in &u.scale {
                let (name, n) = s
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("invalid --scale {s:?}: SERVICE=NUM"))?;
                let n: u32 = n
                    .parse()
                    .map_err(|_| anyhow::anyhow!("invalid --scale {s:?}: SERVICE=NUM"))?;
                scale.insert(name.to_string(), n);
            }
            let opts = UpOptions {
                services: u.services.clone(),
                build: u.build,
                no_build: u.no_build,
                force_recreate: u.force_recreate,
                no_recreate: u.no_recreate,
                no_deps: u.no_deps,
                remove_orphans: u.remove_orphans,
                scale,
                wait: u.wait,
                wait_timeout: u.wait_timeout,
                timeout: u.timeout,
            };
            let made = crate::up::up(e, &project, &opts, &environment()).await?;
            if u.detach || u.wait {
                return Ok(0);
            }
            crate::attach::attach(e, &project, &made, u.abort_on_container_exit, u.timeout).await
        }
        ComposeCommand::Down(d) => {
            if let Some(r) = &d.rmi
                && r != "local"
                && r != "all"
            {
                bail!("invalid --rmi {r:?}: local or all");
            }
            crate::down::down(
                e,
                &project,
                &DownOptions {
                    volumes: d.volumes,
                    rmi: d.rmi.clone(),
                    remove_orphans: d.remove_orphans,
                    timeout: d.timeout,
                },
            )
            .await?;
            Ok(0)
        }
        ComposeCommand::Ps(p) => {
            if p.services {
                for s in project.services.keys() {
                    println!("{s}");
                }
                return Ok(0);
            }
            crate::ps::ps(e, &project, p.all, p.quiet, &p.names).await?;
            Ok(0)
        }
        ComposeCommand::Logs(l) => {
            crate::ps::logs(
                e,
                &project,
                &l.services,
                l.follow,
                l.tail.as_deref(),
                l.timestamps,
                false,
            )
            .await?;
            Ok(0)
        }
        ComposeCommand::Build(b) => {
            let names = crate::up::order(&project, &b.services, false)?;
            for n in names {
                let mut p = project.clone();
                if let Some(build) = p.services.get_mut(&n).and_then(|s| s.build.as_mut()) {
                    build.pull |= b.pull;
                } else {
                    continue;
                }
                crate::build::build(e, &p, &n, b.no_cache).await?;
            }
            Ok(0)
        }
        ComposeCommand::Start(s) => {
            crate::down::each(e, &project, &s.services, "start", None).await?;
            Ok(0)
        }
        ComposeCommand::Stop(s) => {
            let t = s.timeout.map(|t| t.to_string());
            crate::down::each(e, &project, &s.services, "stop", t.as_deref()).await?;
            Ok(0)
        }
        ComposeCommand::Restart(s) => {
            let t = s.timeout.map(|t| t.to_string());
            crate::down::each(e, &project, &s.services, "restart", t.as_deref()).await?;
            Ok(0)
        }
        ComposeCommand::Kill(k) => {
            crate::down::each(e, &project, &k.services, "kill", Some(&k.signal)).await?;
            Ok(0)
        }
        ComposeCommand::Rm(r) => {
            if r.stop {
                crate::down::each(e, &project, &r.services, "stop", None).await?;
            }
            let v = r.volumes.then_some("volumes");
            crate::down::each(e, &project, &r.services, "rm", v).await?;
            Ok(0)
        }
        ComposeCommand::Pull(s) => {
            let names = crate::up::order(&project, &s.services, false)?;
            for n in names {
                let svc = &project.services[&n];
                // A service that can be built may have no image to pull
                // yet: its failure is a warning, as compose's.
                match (&svc.image, &svc.build) {
                    (Some(image), None) => crate::pull::pull(e, image).await?,
                    (Some(image), Some(_)) => {
                        if let Err(err) = crate::pull::pull(e, image).await {
                            eprintln!("WARN[0000] {err:#} (service {n} can be built instead)");
                        }
                    }
                    _ => {}
                }
            }
            Ok(0)
        }
        ComposeCommand::Images(s) => {
            let list = crate::engine::containers(e, &project.name, None).await?;
            println!(
                "{:<24} {:<24} {:<10} {:<14}",
                "CONTAINER", "REPOSITORY", "TAG", "IMAGE ID"
            );
            for c in list {
                let svc = c["Labels"][crate::labels::SERVICE]
                    .as_str()
                    .unwrap_or_default();
                if !s.services.is_empty() && !s.services.iter().any(|x| x == svc) {
                    continue;
                }
                let image = c["Image"].as_str().unwrap_or_default();
                let (repo, tag) = image.rsplit_once(':').unwrap_or((image, "latest"));
                let id = c["ImageID"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("sha256:");
                println!(
                    "{:<24} {:<24} {:<10} {:<14}",
                    c["Names"][0]
                        .as_str()
                        .unwrap_or_default()
                        .trim_start_matches('/'),
                    repo,
                    tag,
                    &id[..id.len().min(12)]
                );
            }
            Ok(0)
        }
    }
}
