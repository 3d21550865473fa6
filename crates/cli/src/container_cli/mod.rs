//! The container and system verbs: every one is a Docker Engine API call to the
//! engine found by [`berth_client`], so the same CLI drives berth's
//! daemon and a real dockerd. Flags, defaults, output and exit codes follow
//! docker's CLI.

mod args;
mod create;
pub(crate) mod format;
pub(crate) mod gotypes;
mod ps;
mod run;
mod stream;
pub(crate) mod system;
pub(crate) mod verbs;

use std::path::Path;

use anyhow::Result;
use clap::Subcommand;

pub use args::*;

use berth_client::{Engine, HostSpec};

use crate::image_cli::{self, ImageCommand};

/// The verbs shared by `berth <verb>` and `berth container <verb>`.
#[derive(Subcommand, Debug)]
pub enum ContainerVerb {
    /// Create and run a new container from an image.
    Run(Box<RunArgs>),
    /// Create a new container.
    Create(Box<RunArgs>),
    /// Start one or more stopped containers.
    Start(StartArgs),
    /// Stop one or more running containers.
    Stop(StopArgs),
    /// Kill one or more running containers.
    Kill(KillArgs),
    /// Restart one or more containers.
    Restart(RestartArgs),
    /// Remove one or more containers.
    Rm(RmArgs),
    /// Fetch the logs of a container.
    Logs(LogsArgs),
    /// Execute a command in a running container.
    Exec(ExecArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(AttachArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(WaitArgs),
    /// Display the running processes of a container.
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(StatsArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(CpArgs),
    /// Pause all processes within one or more containers.
    Pause(NamesArgs),
    /// Unpause all processes within one or more containers.
    Unpause(NamesArgs),
    /// Rename a container.
    Rename(RenameArgs),
    /// List port mappings or a specific mapping for the container.
    Port(PortArgs),
    /// Update configuration of one or more containers.
    Update(UpdateArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(DiffArgs),
    /// Export a container's filesystem as a tar archive.
    Export(ExportArgs),
    /// Create a new image from a container's changes.
    Commit(CommitArgs),
}

/// The engine verbs of `berth` itself.
#[derive(Subcommand, Debug)]
pub enum EngineCommand {
    #[command(flatten)]
    Verb(ContainerVerb),
    /// List containers.
    Ps(PsArgs),
    /// Return low-level information on containers or images.
    Inspect(InspectArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerGroup),
    /// Manage the engine.
    #[command(subcommand)]
    System(SystemCommand),
    /// Display system-wide information.
    Info(InfoArgs),
    /// Show the berth version information.
    Version(VersionArgs),
    /// Get real time events from the server.
    Events(EventsArgs),
    /// Build an image from a Dockerfile.
    Build(Box<crate::build_cli::BuildArgs>),
    /// Manage builds.
    #[command(subcommand)]
    Builder(crate::build_cli::BuilderCommand),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// List images.
    Images(image_cli::Images),
    /// Load images from an archive.
    Load(image_cli::Load),
    /// Save images to an archive.
    Save(image_cli::Save),
    /// Make an image from a root filesystem tarball.
    Import(image_cli::Import),
    /// Give an image another name.
    Tag(image_cli::Tag),
    /// Remove images.
    Rmi(image_cli::Rmi),
    /// Show the history of an image.
    History(image_cli::History),
    /// Download an image from a registry.
    Pull(image_cli::Pull),
    /// Upload an image to a registry.
    Push(image_cli::Push),
    /// Log in to a registry.
    Login(image_cli::Login),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(crate::volume_cli::VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(crate::network_cli::NetworkCommand),
}

/// `berth container <verb>`.
#[derive(Subcommand, Debug)]
pub enum ContainerGroup {
    #[command(flatten)]
    Verb(ContainerVerb),
    /// List containers.
    #[command(visible_aliases = ["ps", "list"])]
    Ls(PsArgs),
    /// Display detailed information on one or more containers.
    Inspect(InspectArgs),
    /// Remove all stopped containers.
    Prune(PruneArgs),
}

/// `berth system <verb>`.
#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Show the engine's disk usage.
    Df(DfArgs),
    /// Remove unused data.
    Prune(SystemPruneArgs),
    /// Display system-wide information.
    Info(InfoArgs),
    /// Get real time events from the server.
    Events(EventsArgs),
}

/// The verbs (first words) this module serves.
const VERBS: &[&str] = &[
    "run",
    "create",
    "start",
    "stop",
    "kill",
    "restart",
    "rm",
    "logs",
    "exec",
    "attach",
    "wait",
    "top",
    "stats",
    "cp",
    "pause",
    "unpause",
    "rename",
    "update",
    "diff",
    "export",
    "commit",
    "ps",
    "inspect",
    "container",
    "system",
    "info",
    "version",
    "events",
    "image",
    "images",
    "load",
    "save",
    "import",
    "tag",
    "rmi",
    "history",
    "pull",
    "push",
    "login",
    "build",
    "builder",
];

/// Parses the command line as `C::parse` does, except that a usage error of
/// a container or system verb exits 125, as docker's CLI does (clap's is 2).
pub fn parse<C: clap::Parser>() -> C {
    parse_from(std::env::args_os())
}

/// [`parse`] of a command line made by the caller.
pub fn parse_from<C: clap::Parser>(args: impl IntoIterator<Item = std::ffi::OsString>) -> C {
    match C::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            let code = if e.use_stderr() && is_engine_verb() {
                125
            } else {
                e.exit_code()
            };
            std::process::exit(code);
        }
    }
}

/// True when the first word after the global flags is one of [`VERBS`].
fn is_engine_verb() -> bool {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-H" | "--host" | "--data-root" => {
                args.next();
            }
            a if a.starts_with('-') => {}
            a => return VERBS.contains(&a),
        }
    }
    false
}

/// Runs an engine verb; the process exit code.
pub fn main(cmd: EngineCommand, host: Option<&str>, data_root: &Path) -> i32 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berth: cannot start the async runtime: {e}");
            return 125;
        }
    };
    let is_run = matches!(
        cmd,
        EngineCommand::Verb(ContainerVerb::Run(_) | ContainerVerb::Create(_))
            | EngineCommand::Container(ContainerGroup::Verb(
                ContainerVerb::Run(_) | ContainerVerb::Create(_)
            ))
    );
    // An unknown flag lands in a trailing positional (run's image, exec's
    // container): refuse it before reaching (or starting) the engine.
    let first = match &cmd {
        EngineCommand::Verb(v) | EngineCommand::Container(ContainerGroup::Verb(v)) => match v {
            ContainerVerb::Run(a) => a.args.first().map(|f| ("run", f)),
            ContainerVerb::Create(a) => a.args.first().map(|f| ("create", f)),
            ContainerVerb::Exec(a) => a.args.first().map(|f| ("exec", f)),
            _ => None,
        },
        _ => None,
    };
    if let Some((verb, flag)) = first.filter(|(_, f)| f.starts_with('-')) {
        eprintln!("berth: unknown flag: {flag}\nSee 'berth {verb} --help'.");
        return 125;
    }
    let code = rt.block_on(async move {
        let engine = match connect(host, data_root).await {
            Ok(e) => e,
            Err(e) => {
                if is_run {
                    eprintln!("berth: {e:#}");
                    return 125;
                }
                eprintln!("Error: {e:#}");
                return 1;
            }
        };
        match dispatch(&engine, cmd).await {
            Ok(code) => code,
            Err(e) if is_broken_pipe(&e) => 1,
            Err(e) => {
                eprintln!("Error: {e:#}");
                1
            }
        }
    });
    // stdin readers may still be blocked in a read: do not wait for them.
    rt.shutdown_background();
    code
}

/// Our stdout went away (`berth export | head`): nothing to say. Only a
/// bare I/O error (a write of ours to stdout) counts: one from the engine's
/// connection carries context and is reported.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().count() == 1
        && e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        })
}

async fn connect(host: Option<&str>, data_root: &Path) -> Result<Engine> {
    let spec = HostSpec::resolve(host)?;
    let autostart = std::env::var_os("BERTH_NO_AUTOSTART").is_none();
    Engine::connect(&spec, data_root, autostart).await
}

async fn dispatch(e: &Engine, cmd: EngineCommand) -> Result<i32> {
    match cmd {
        EngineCommand::Verb(v) => verb(e, v).await,
        EngineCommand::Ps(a) => ps::ps(e, &a).await,
        EngineCommand::Inspect(a) => verbs::inspect(e, &a, true).await,
        EngineCommand::Container(ContainerGroup::Verb(v)) => verb(e, v).await,
        EngineCommand::Container(ContainerGroup::Ls(a)) => ps::ps(e, &a).await,
        EngineCommand::Container(ContainerGroup::Inspect(a)) => verbs::inspect(e, &a, false).await,
        EngineCommand::Container(ContainerGroup::Prune(a)) => system::container_prune(e, &a).await,
        EngineCommand::System(SystemCommand::Df(a)) => system::df(e, &a).await,
        EngineCommand::System(SystemCommand::Prune(a)) => system::system_prune(e, &a).await,
        EngineCommand::System(SystemCommand::Info(a)) | EngineCommand::Info(a) => {
            system::info(e, &a).await
        }
        EngineCommand::System(SystemCommand::Events(a)) | EngineCommand::Events(a) => {
            system::events(e, &a).await
        }
        EngineCommand::Version(a) => system::version(e, &a).await,
        EngineCommand::Build(a) => crate::build_cli::build(e, &a).await,
        EngineCommand::Builder(c) => crate::build_cli::builder(e, &c).await,
        EngineCommand::Image(c) => image_cli::dispatch(e, c).await,
        EngineCommand::Images(c) => image_cli::dispatch(e, ImageCommand::Ls(c)).await,
        EngineCommand::Load(c) => image_cli::dispatch(e, ImageCommand::Load(c)).await,
        EngineCommand::Save(c) => image_cli::dispatch(e, ImageCommand::Save(c)).await,
        EngineCommand::Import(c) => image_cli::dispatch(e, ImageCommand::Import(c)).await,
        EngineCommand::Tag(c) => image_cli::dispatch(e, ImageCommand::Tag(c)).await,
        EngineCommand::Rmi(c) => image_cli::dispatch(e, ImageCommand::Rm(c)).await,
        EngineCommand::History(c) => image_cli::dispatch(e, ImageCommand::History(c)).await,
        EngineCommand::Pull(c) => image_cli::dispatch(e, ImageCommand::Pull(c)).await,
        EngineCommand::Push(c) => image_cli::dispatch(e, ImageCommand::Push(c)).await,
        EngineCommand::Login(c) => image_cli::dispatch(e, ImageCommand::Login(c)).await,
        EngineCommand::Volume(c) => crate::volume_cli::dispatch(e, c).await,
        EngineCommand::Network(c) => crate::network_cli::dispatch(e, c).await,
    }
}

async fn verb(e: &Engine, v: ContainerVerb) -> Result<i32> {
    match v {
        ContainerVerb::Run(a) => Ok(run::run(e, &a, false).await),
        ContainerVerb::Create(a) => Ok(run::run(e, &a, true).await),
        ContainerVerb::Start(a) => run::start(e, &a).await,
        ContainerVerb::Attach(a) => run::attach(e, &a).await,
        ContainerVerb::Exec(a) => run::exec(e, &a).await,
        ContainerVerb::Stop(a) => verbs::stop(e, &a).await,
        ContainerVerb::Kill(a) => verbs::kill(e, &a).await,
        ContainerVerb::Restart(a) => verbs::restart(e, &a).await,
        ContainerVerb::Rm(a) => verbs::rm(e, &a).await,
        ContainerVerb::Logs(a) => verbs::logs(e, &a).await,
        ContainerVerb::Wait(a) => verbs::wait(e, &a).await,
        ContainerVerb::Top(a) => verbs::top(e, &a).await,
        ContainerVerb::Stats(a) => system::stats(e, &a).await,
        ContainerVerb::Cp(a) => verbs::cp(e, &a).await,
        ContainerVerb::Pause(a) => verbs::pause(e, &a, true).await,
        ContainerVerb::Unpause(a) => verbs::pause(e, &a, false).await,
        ContainerVerb::Rename(a) => verbs::rename(e, &a).await,
        ContainerVerb::Port(a) => verbs::port(e, &a).await,
        ContainerVerb::Update(a) => verbs::update(e, &a).await,
        ContainerVerb::Diff(a) => verbs::diff(e, &a).await,
        ContainerVerb::Export(a) => verbs::export(e, &a).await,
        ContainerVerb::Commit(a) => verbs::commit(e, &a).await,
    }
}
