#![forbid(unsafe_code)]
//! The OCI runtime CLI: the verbs and flags that containerd's runc shim and
//! dockerd call (see ARCHITECTURE.md for the contract), over `berth_runtime`.

mod args;
mod features;
mod foreground;
mod log;
mod spec_template;

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;

use berth_runtime::{ConsoleMode, CreateOptions, ExecOptions, Runtime, Status};
use clap::Parser;

use args::{Cli, Command};

/// Runs the CLI; returns the process exit code.
pub fn main(argv: Vec<OsString>) -> i32 {
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    // The descriptors --preserve-fds passes are the caller's: hold the
    // numbers the caller left closed, so that nothing the runtime opens
    // (its sync socket, exec.fifo, its log) lands among them and into the
    // container.
    let preserve = match &cli.command {
        Command::Create(c) => listen_fds() + c.common.preserve_fds,
        Command::Run(c) => listen_fds() + c.common.preserve_fds,
        Command::Exec(c) => c.preserve_fds,
        _ => 0,
    };
    for fd in 3..3 + preserve as i32 {
        if let Err(e) = berth_sys::hold_fd(fd) {
            eprintln!("berth-runtime: holding descriptor {fd} for --preserve-fds: {e}");
            return 1;
        }
    }
    // Where the container's init may still be this binary, run it from a
    // sealed copy (CVE-2019-5736).
    if matches!(
        cli.command,
        Command::Create(_) | Command::Run(_) | Command::Exec(_)
    ) && let Err(e) = berth_runtime::cloned_exe::reexec_protected()
    {
        eprintln!("berth-runtime: {e}");
        return 1;
    }
    // Claimed at once, so the inherited descriptor is close-on-exec.
    let _ = berth_runtime::cloned_exe::caller_mount_ns();
    let logger = log::Logger::open(cli.log.as_deref(), cli.log_format);
    let fail_code = if matches!(cli.command, Command::Exec(_)) {
        255
    } else {
        1
    };
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            logger.error(&e.to_string());
            fail_code
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<i32> {
    let rt = Runtime::new(&cli.root);
    let creates = matches!(cli.command, Command::Create(_) | Command::Run(_));
    if cli.systemd_cgroup && creates {
        anyhow::bail!(
            "--systemd-cgroup is not supported: berth drives cgroupfs itself (these hosts have no systemd)"
        );
    }
    if cli.cgroup_manager == Some(args::CgroupManager::Systemd) && creates {
        anyhow::bail!(
            "--cgroup-manager systemd is not supported: berth drives cgroupfs itself (these hosts have no systemd)"
        );
    }
    let no_cgroup = cli.cgroup_manager == Some(args::CgroupManager::Disabled);
    match &cli.command {
        Command::Create(c) => {
            rt.create(&c.id, &c.bundle, &create_options(&c.common, no_cgroup))?;
        }
        Command::Start(c) => rt.start(&c.id)?,
        Command::State(c) => println!("{}", serde_json::to_string_pretty(&rt.state(&c.id)?)?),
        Command::Kill(c) => rt.kill(&c.id, args::parse_signal(&c.signal)?, c.all)?,
        Command::Delete(c) => rt.delete(&c.id, c.force)?,
        Command::Run(c) => return run_container(&rt, c, no_cgroup),
        Command::Exec(c) => return exec(&rt, c),
        Command::Ps(c) => ps(&rt, c)?,
        Command::Pause(c) => rt.pause(&c.id)?,
        Command::Resume(c) => rt.resume(&c.id)?,
        Command::Events(c) => events(&rt, c)?,
        Command::Update(c) => {
            let resources = c.resources()?;
            rt.update(&c.id, &resources)?;
        }
        Command::Features => println!("{}", features::json()),
        Command::Spec(c) => spec_template::write(&c.bundle, c.rootless)?,
        Command::List(c) => list(&rt, c)?,
        Command::Checkpoint(_) | Command::Restore(_) => {
            anyhow::bail!("checkpoint and restore are not supported (no CRIU here)")
        }
    }
    Ok(0)
}

/// systemd socket activation, passed through as runc and crun do: with
/// LISTEN_FDS=N in our environment (and LISTEN_PID, when set, ours), the
/// descriptors 3..3+N go to the container before any --preserve-fds ones.
fn listen_fds() -> u32 {
    let Some(n) = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
    else {
        return 0;
    };
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .is_none_or(|p| p.trim() == std::process::id().to_string());
    if ours { n.min(1024) } else { 0 }
}

fn create_options(c: &args::CreateCommon, no_cgroup: bool) -> CreateOptions {
    let listen = listen_fds();
    CreateOptions {
        pid_file: c.pid_file.clone(),
        console_socket: c.console_socket.clone(),
        no_pivot: c.no_pivot,
        preserve_fds: listen + c.preserve_fds,
        config: c.config.clone(),
        no_cgroup,
        extra_env: if listen > 0 {
            vec![format!("LISTEN_FDS={listen}"), "LISTEN_PID=1".to_string()]
        } else {
            Vec::new()
        },
    }
}

/// create + start + wait + delete, with the terminal and signals relayed.
fn run_container(rt: &Runtime, c: &args::Run, no_cgroup: bool) -> anyhow::Result<i32> {
    if c.detach && c.common.console_socket.is_none() && wants_terminal(c) {
        // Before anything else, the config's other faults included (crun).
        anyhow::bail!(
            "process.terminal is true and run --detach has nowhere to send the terminal: use --console-socket"
        );
    }
    let mode = if c.detach || c.common.console_socket.is_some() {
        ConsoleMode::Socket
    } else {
        ConsoleMode::Keep
    };
    let spawned = rt.spawn(
        &c.id,
        &c.bundle,
        &create_options(&c.common, no_cgroup),
        mode,
    )?;
    // The record from `spawn` serves start and delete: no rereading it.
    if let Err(e) = rt.start_record(&spawned.record) {
        let _ = rt.delete_record(&spawned.record, true);
        return Err(e.into());
    }
    if c.detach {
        return Ok(0);
    }
    let code = foreground::wait(spawned.record.pid, spawned.console);
    if !c.keep {
        rt.delete_record(&spawned.record, true)?;
    }
    Ok(code)
}

/// Whether the bundle's config asks for a terminal, read loosely (the
/// full check comes with create).
fn wants_terminal(c: &args::Run) -> bool {
    let config = c
        .bundle
        .join(c.common.config.as_deref().unwrap_or("config.json".as_ref()));
    std::fs::read(config)
        .ok()
        .and_then(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["process"]["terminal"] == serde_json::Value::Bool(true))
}

fn exec(rt: &Runtime, c: &args::Exec) -> anyhow::Result<i32> {
    let record = rt.load(&c.id)?;
    let process = c.process(&record.spec)?;
    let opts = ExecOptions {
        pid_file: c.pid_file.clone(),
        console_socket: c.console_socket.clone(),
        detach: c.detach,
        preserve_fds: c.preserve_fds,
        ignore_paused: c.ignore_paused,
        cgroups: c.cgroup.clone(),
    };
    let (pid, console) = rt.exec(&c.id, &process, &opts)?;
    if c.detach {
        return Ok(0);
    }
    Ok(foreground::wait(pid, console))
}

fn ps(rt: &Runtime, c: &args::Ps) -> anyhow::Result<()> {
    let pids = rt.pids(&c.id)?;
    if c.format == "json" {
        println!(
            "{}",
            if pids.is_empty() {
                "null".to_string()
            } else {
                serde_json::to_string(&pids)?
            }
        );
        return Ok(());
    }
    // The table is the host's ps, cut to the container's processes, as runc does.
    let ps_args = if c.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        c.ps_args.clone()
    };
    let out = std::process::Command::new("ps").args(&ps_args).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(());
    };
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| anyhow::anyhow!("ps output has no PID column"))?;
    println!("{header}");
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            println!("{l}");
        }
    }
    Ok(())
}

fn events(rt: &Runtime, c: &args::Events) -> anyhow::Result<()> {
    loop {
        let record = rt.load(&c.id)?;
        if record.status(&rt.root) == Status::Stopped && !c.stats {
            return Ok(());
        }
        let ev = serde_json::json!({"type": "stats", "id": c.id, "data": record.cgroup.stats()});
        println!("{ev}");
        if c.stats {
            return Ok(());
        }
        std::thread::sleep(c.interval());
    }
}

fn list(rt: &Runtime, c: &args::List) -> anyhow::Result<()> {
    let all = rt.list()?;
    if c.quiet {
        for s in &all {
            println!("{}", s.id);
        }
    } else if c.format == "json" {
        println!("{}", serde_json::to_string(&all)?);
    } else {
        println!(
            "{:<20} {:<8} {:<10} {:<40} {:<32} OWNER",
            "ID", "PID", "STATUS", "BUNDLE", "CREATED"
        );
        for s in &all {
            println!(
                "{:<20} {:<8} {:<10} {:<40} {:<32} root",
                s.id,
                s.pid,
                s.status.to_string(),
                s.bundle.display(),
                s.created
            );
        }
    }
    Ok(())
}

/// Reads a JSON document from a file, or from stdin for "-".
pub(crate) fn read_json_arg(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut buf)?;
    } else {
        buf =
            std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    }
    Ok(buf)
}
