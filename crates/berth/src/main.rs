#![forbid(unsafe_code)]
//! `berth`: the composition root. One binary, dispatched on its name (a
//! `berth-runtime` link to it is the OCI runtime) and then on its first
//! argument: the hidden `shim` and `container-fs` (started by the daemon,
//! straight there without building the command line's parser), `runtime`
//! (runc's command line), `daemon`, and every user verb (berth-cli); as
//! `docker-compose` or `berth-compose` (a link) it is `berth compose`.

mod compose_entry;
mod daemon;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    version,
    about = "berth: containers, faster; Docker's workflow and clients"
)]
struct Cli {
    /// Where images, containers and volumes are kept.
    #[arg(
        long,
        global = true,
        env = "BERTH_DATA_ROOT",
        default_value = "/var/lib/berth"
    )]
    data_root: PathBuf,
    /// The engine's socket for the container verbs (unix:///path); else
    /// BERTH_HOST, else unix:///run/berth/berth.sock. When nothing answers
    /// there, `berth daemon` is started on it (not with BERTH_NO_AUTOSTART=1).
    #[arg(short = 'H', long = "host")]
    host: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Log out of a registry.
    Logout(berth_cli::image_cli::Logout),
    /// Run the engine: serve the Docker Engine API (images today) on a unix socket.
    Daemon(daemon::Daemon),
    /// The per-container process the daemon starts (not for people).
    #[command(hide = true)]
    Shim { bundle: PathBuf },
    /// The OCI runtime (runc's command line): `berth runtime --help`.
    Runtime {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Define and run multi-container applications (compose.yaml).
    Compose(berth_compose::cli::ComposeArgs),
    #[command(flatten)]
    Engine(berth_cli::container_cli::EngineCommand),
}

/// One engine verb parsed from a command line made here (compose exec).
#[derive(Parser, Debug)]
struct VerbOnly {
    #[command(subcommand)]
    command: berth_cli::container_cli::EngineCommand,
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let name = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned());
    if name.as_deref() == Some("berth-runtime") {
        std::process::exit(berth_runtime_cli::main(args));
    }
    if let Some(n @ ("docker-compose" | "berth-compose")) = name.as_deref() {
        match compose_entry::rewrite(args, n == "docker-compose") {
            Ok(compose_entry::Entry::Metadata) => println!("{}", compose_entry::metadata()),
            Ok(compose_entry::Entry::Berth(argv)) => {
                let cli: Cli = berth_cli::container_cli::parse_from(argv);
                exit_with(run(cli));
            }
            Err(e) => {
                eprintln!("{e:#}");
                std::process::exit(125);
            }
        }
        return;
    }
    if args.get(1).is_some_and(|a| a == "container-fs") {
        // The engine's confined helper for cp and export (not for people).
        let rest: Vec<String> = args[2..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        std::process::exit(berth_shim::container_fs::helper_main(&rest));
    }
    if args.get(1).is_some_and(|a| a == "shim") && args.len() == 3 {
        // The engine starts one per container: straight there, without
        // building the whole command line's parser first.
        std::process::exit(berth_shim::main(Path::new(&args[2])));
    }
    if args.get(1).is_some_and(|a| a == "runtime") {
        let mut rest = vec![OsString::from("berth runtime")];
        rest.extend(args.into_iter().skip(2));
        std::process::exit(berth_runtime_cli::main(rest));
    }
    let cli: Cli = berth_cli::container_cli::parse();
    exit_with(run(cli));
}

fn exit_with(result: anyhow::Result<i32>) -> ! {
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Logout(c) => berth_cli::image_cli::logout(&c),
        Command::Daemon(d) => daemon::run(&cli.data_root, &d),
        Command::Shim { bundle } => Ok(berth_shim::main(&bundle)),
        Command::Runtime { .. } => unreachable!("dispatched before parsing"),
        Command::Compose(c) => match &c.command {
            // The CLI's exec does the terminal and the streams.
            berth_compose::cli::ComposeCommand::Exec(x) => {
                let container = berth_compose::cli::exec_target(&c, x)?;
                let mut argv = vec!["berth".to_string()];
                argv.extend(x.exec_argv(&container));
                let verb = VerbOnly::try_parse_from(argv)?;
                Ok(berth_cli::container_cli::main(
                    verb.command,
                    cli.host.as_deref(),
                    &cli.data_root,
                ))
            }
            berth_compose::cli::ComposeCommand::Run(r) => {
                compose_run(&c, r, cli.host.as_deref(), &cli.data_root)
            }
            _ => match berth_compose::cli::run_offline(&c) {
                Some(r) => r,
                None => compose(&c, cli.host.as_deref(), &cli.data_root),
            },
        },
        Command::Engine(c) => Ok(berth_cli::container_cli::main(
            c,
            cli.host.as_deref(),
            &cli.data_root,
        )),
    }
}

/// `berth compose`: connects as the other verbs do, then runs the compose
/// command.
fn compose(
    c: &berth_compose::cli::ComposeArgs,
    host: Option<&str>,
    data_root: &Path,
) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let spec = berth_client::HostSpec::resolve(host)?;
        let autostart = std::env::var_os("BERTH_NO_AUTOSTART").is_none();
        let engine = berth_client::Engine::connect(&spec, data_root, autostart).await?;
        berth_compose::cli::run(&engine, c).await
    })
}

/// `berth compose run`: compose makes the one-off container; the CLI's
/// `start -a -i` runs it attached (the terminal, the streams, the exit
/// code); `--rm` removes it after.
fn compose_run(
    c: &berth_compose::cli::ComposeArgs,
    r: &berth_compose::cli::RunArgs,
    host: Option<&str>,
    data_root: &Path,
) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let connect = || async {
        let spec = berth_client::HostSpec::resolve(host)?;
        let autostart = std::env::var_os("BERTH_NO_AUTOSTART").is_none();
        berth_client::Engine::connect(&spec, data_root, autostart).await
    };
    let id = rt
        .block_on(async { berth_compose::cli::create_oneoff(&connect().await?, c, r).await })?
        .0;
    let verb = |argv: &[&str]| -> anyhow::Result<i32> {
        let mut all = vec!["berth"];
        all.extend_from_slice(argv);
        let v = VerbOnly::try_parse_from(all)?;
        Ok(berth_cli::container_cli::main(v.command, host, data_root))
    };
    if r.detach {
        let code = verb(&["start", &id])?;
        return Ok(code);
    }
    let code = verb(&["start", "-a", "-i", &id])?;
    if r.rm {
        rt.block_on(async {
            let path = format!("/containers/{id}?force=1&v=1");
            connect().await?.call("DELETE", &path, None).await
        })?;
    }
    Ok(code)
}
