//! `run`, `create`, `start`, `attach` and `exec`: the verbs that may hold a
//! hijacked stream.

use anyhow::{Result, anyhow};
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::create::{self, Attach};
use super::stream::{self, Outcome, RawTerminal, ResizeTarget};
use super::{AttachArgs, ExecArgs, RunArgs, StartArgs};
use berth_client::{ApiError, Engine, api_err, status_of, urlencode};

/// Docker's exit code for a failed start: 127 when the program is not found,
/// 126 when it cannot be invoked, else 125.
pub fn start_error_code(msg: &str) -> i32 {
    if msg.contains("executable file not found")
        || msg.contains("no such file or directory")
        || msg.contains("system cannot find the file specified")
    {
        127
    } else if msg.contains("permission denied") || msg.contains("is a directory") {
        126
    } else {
        125
    }
}

/// "Error response from daemon: ..." for the engine's errors, the error itself otherwise.
pub fn describe(e: &anyhow::Error) -> String {
    match e.downcast_ref::<ApiError>() {
        Some(a) => format!("Error response from daemon: {}", a.message),
        None => format!("{e:#}"),
    }
}

fn report(verb: &str, e: &anyhow::Error) {
    eprintln!("berth: {}\nSee 'berth {verb} --help'.", describe(e));
}

/// `run` (or `create` when `create_only`): the exit code.
pub async fn run(e: &Engine, a: &RunArgs, create_only: bool) -> i32 {
    let verb = if create_only { "create" } else { "run" };
    if a.tty && a.interactive && !create_only && !a.detach && !stream::is_tty(0) {
        eprintln!("the input device is not a TTY");
        return 1;
    }
    let (body, attach) = match create::build(a, a.detach, stream::term_size()) {
        Ok(b) => b,
        Err(err) => {
            report(verb, &err);
            return 125;
        }
    };
    let id = match create_container(e, a, body).await {
        Ok(id) => id,
        Err(err) => {
            report(verb, &err);
            return 125;
        }
    };
    if create_only {
        println!("{id}");
        return 0;
    }
    if a.detach {
        if let Err(err) = e.docker.start_container(&id, None).await.map_err(api_err) {
            report(verb, &err);
            if a.rm {
                remove_quietly(e, &id).await;
            }
            return start_error_code(&describe(&err));
        }
        println!("{id}");
        return 0;
    }
    match attach_start_wait(
        e,
        &id,
        a.tty,
        attach,
        a.rm,
        a.sig_proxy,
        a.detach_keys.as_deref(),
    )
    .await
    {
        Ok(code) => code,
        Err((err, stage)) => {
            report(verb, &err);
            if a.rm {
                remove_quietly(e, &id).await;
            }
            match stage {
                Stage::Start => start_error_code(&describe(&err)),
                Stage::Attach | Stage::Stream => 125,
            }
        }
    }
}

/// Where `attach_start_wait` failed: only a failed start maps to 126/127.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Attach,
    Start,
    Stream,
}

async fn remove_quietly(e: &Engine, id: &str) {
    let o = bollard::query_parameters::RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    let _ = e.docker.remove_container(id, Some(o)).await;
}

/// Creates the container, pulling the image first if it is missing (and
/// `--pull` allows) or always with `--pull always`.
async fn create_container(
    e: &Engine,
    a: &RunArgs,
    body: bollard::models::ContainerCreateBody,
) -> Result<String> {
    let image = a.args[0].clone();
    if a.pull == "always" {
        pull(e, &image, a.quiet).await?;
    } else if a.pull != "missing" && a.pull != "never" {
        return Err(anyhow!(
            "invalid pull option: '{}': must be one of \"always\", \"missing\" or \"never\"",
            a.pull
        ));
    }
    let path = match &a.name {
        Some(n) => format!("/containers/create?name={}", urlencode(n)),
        None => "/containers/create".to_string(),
    };
    let body = serde_json::to_value(&body)?;
    let created = match e.post_json(&path, &body).await {
        Err(err)
            if status_of(&err) == Some(404)
                && a.pull == "missing"
                && err.to_string().contains("image") =>
        {
            eprintln!("Unable to find image '{}' locally", full_ref(&image));
            pull(e, &image, a.quiet).await?;
            e.post_json(&path, &body).await?
        }
        r => r?,
    };
    for w in created["Warnings"].as_array().into_iter().flatten() {
        eprintln!("WARNING: {}", w.as_str().unwrap_or_default());
    }
    created["Id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the engine's create answer has no Id: {created}"))
}

/// `busybox` -> `busybox:latest` (as docker prints it).
fn full_ref(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// `repo[:tag]` split as the API wants it: the tag is what follows the last
/// ':' unless that ':' belongs to a registry's host:port.
pub(super) fn split_repo_tag(r: &str) -> (&str, &str) {
    match r.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (r, ""),
    }
}

async fn pull(e: &Engine, image: &str, quiet: bool) -> Result<()> {
    let full = full_ref(image);
    let (name, tag) = split_repo_tag(&full);
    let o = CreateImageOptionsBuilder::new()
        .from_image(name)
        .tag(tag)
        .build();
    let mut s = e.docker.create_image(Some(o), None, None);
    while let Some(item) = s.next().await {
        let info = item.map_err(api_err)?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(anyhow::Error::new(ApiError {
                status: 500,
                message: err,
            }));
        }
        if !quiet && let Some(status) = info.status {
            match info.id {
                Some(id) => eprintln!("{id}: {status}"),
                None => eprintln!("{status}"),
            }
        }
    }
    Ok(())
}

/// Attach (before start, so no output is lost), register the wait, start,
/// stream, then the exit code. An error says at which stage it came.
#[allow(clippy::too_many_arguments)]
async fn attach_start_wait(
    e: &Engine,
    id: &str,
    tty: bool,
    attach: Attach,
    auto_remove: bool,
    sig_proxy: bool,
    detach_keys: Option<&str>,
) -> std::result::Result<i32, (anyhow::Error, Stage)> {
    // The flag, else the config file's, as docker's CLI.
    let detach_keys = detach_keys
        .map(str::to_string)
        .or_else(berth_client::credentials::detach_keys);
    let detach_keys = detach_keys.as_deref();
    let keys = stream::parse_detach_keys(detach_keys.unwrap_or("ctrl-p,ctrl-q"))
        .map_err(|e| (e, Stage::Attach))?;
    let hijacked = if attach.stdin || attach.stdout || attach.stderr {
        let mut path = format!(
            "/containers/{id}/attach?stream=1&stdin={}&stdout={}&stderr={}",
            attach.stdin as u8, attach.stdout as u8, attach.stderr as u8
        );
        if let Some(k) = detach_keys {
            path.push_str(&format!("&detachKeys={}", urlencode(k)));
        }
        Some(
            e.hijack(&path, None)
                .await
                .map_err(|e| (e, Stage::Attach))?,
        )
    } else {
        None
    };
    let condition = if auto_remove { "removed" } else { "next-exit" };
    let waiter = e
        .wait_registered(id, condition)
        .await
        .map_err(|e| (e, Stage::Attach))?;
    let raw = if tty && attach.stdin {
        RawTerminal::stdin()
    } else {
        None
    };
    if let Err(err) = e.docker.start_container(id, None).await.map_err(api_err) {
        drop(raw);
        return Err((err, Stage::Start));
    }
    if tty {
        stream::monitor_resize(e, ResizeTarget::Container(id.to_string()));
    } else if sig_proxy {
        stream::proxy_signals(e, id);
    }
    if let Some(h) = hijacked {
        let detach = (tty && attach.stdin).then_some(keys);
        match stream::pump(h, tty, attach.stdin, detach).await {
            Ok(Outcome::Detached) => {
                drop(raw);
                return Ok(0);
            }
            Ok(Outcome::Ended) => {}
            Err(err) => {
                drop(raw);
                return Err((err, Stage::Stream));
            }
        }
    }
    drop(raw);
    waiter
        .await
        .map(|c| c as i32)
        .map_err(|e| (e, Stage::Stream))
}

/// `start`: without -a, starts each and prints its name; with -a/-i, attaches
/// to the one container and exits with its code.
pub async fn start(e: &Engine, a: &StartArgs) -> Result<i32> {
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            return Err(anyhow!(
                "you cannot start and attach multiple containers at once"
            ));
        }
        let c = e
            .get_json(&format!("/containers/{}/json", a.containers[0]))
            .await?;
        let id = c["Id"].as_str().unwrap_or_default().to_string();
        let tty = c["Config"]["Tty"].as_bool().unwrap_or(false);
        let open_stdin = c["Config"]["OpenStdin"].as_bool().unwrap_or(false);
        let auto_remove = c["HostConfig"]["AutoRemove"].as_bool().unwrap_or(false);
        let attach = Attach {
            stdin: a.interactive && open_stdin,
            stdout: true,
            stderr: true,
        };
        return match attach_start_wait(
            e,
            &id,
            tty,
            attach,
            auto_remove,
            true,
            a.detach_keys.as_deref(),
        )
        .await
        {
            Ok(code) => Ok(code),
            Err((err, stage)) => {
                eprintln!("Error: {}", describe(&err));
                Ok(match stage {
                    Stage::Start => start_error_code(&describe(&err)),
                    Stage::Attach | Stage::Stream => 1,
                })
            }
        };
    }
    let mut code = 0;
    for c in &a.containers {
        match e.docker.start_container(c, None).await.map_err(api_err) {
            Ok(()) => println!("{c}"),
            Err(err) => {
                eprintln!("Error response from daemon: {err}");
                code = 1;
            }
        }
    }
    if code != 0 {
        eprintln!(
            "Error: failed to start containers: {}",
            a.containers.join(", ")
        );
    }
    Ok(code)
}

/// `attach`: to a running container; its exit code once it ends.
pub async fn attach(e: &Engine, a: &AttachArgs) -> Result<i32> {
    let c = e
        .get_json(&format!("/containers/{}/json", a.container))
        .await?;
    let id = c["Id"].as_str().unwrap_or_default().to_string();
    if !c["State"]["Running"].as_bool().unwrap_or(false) {
        return Err(anyhow!(
            "You cannot attach to a stopped container, start it first"
        ));
    }
    if c["State"]["Paused"].as_bool().unwrap_or(false) {
        return Err(anyhow!(
            "You cannot attach to a paused container, unpause it first"
        ));
    }
    let tty = c["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = !a.no_stdin && c["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    if tty && stdin && !stream::is_tty(0) {
        return Err(anyhow!("the input device is not a TTY"));
    }
    // The flag, else the config file's, as docker's CLI.
    let detach_keys = a
        .detach_keys
        .clone()
        .or_else(berth_client::credentials::detach_keys);
    let keys = stream::parse_detach_keys(detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"))?;
    let mut path = format!(
        "/containers/{id}/attach?stream=1&stdin={}&stdout=1&stderr=1",
        stdin as u8
    );
    if let Some(k) = &detach_keys {
        path.push_str(&format!("&detachKeys={}", urlencode(k)));
    }
    let h = e.hijack(&path, None).await?;
    let waiter = e.wait_registered(&id, "not-running").await?;
    let raw = if tty && stdin {
        RawTerminal::stdin()
    } else {
        None
    };
    if tty {
        stream::monitor_resize(e, ResizeTarget::Container(id.clone()));
    } else if a.sig_proxy {
        stream::proxy_signals(e, &id);
    }
    let outcome = stream::pump(h, tty, stdin, (tty && stdin).then_some(keys)).await;
    drop(raw);
    if outcome? == Outcome::Detached {
        eprintln!("read escape sequence");
        return Ok(0);
    }
    Ok(waiter.await? as i32)
}

/// `exec`: the command's exit code (from the exec's inspect).
pub async fn exec(e: &Engine, a: &ExecArgs) -> Result<i32> {
    let container = &a.args[0];
    let cmd: Vec<String> = a.args[1..].to_vec();
    if a.tty && a.interactive && !a.detach && !stream::is_tty(0) {
        return Err(anyhow!("the input device is not a TTY"));
    }
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(create::read_env_file(f)?);
    }
    for v in &a.env {
        env.extend(create::env_entry(v));
    }
    let stdin = a.interactive && !a.detach;
    // The flag, else the config file's, as docker's CLI.
    let detach_keys = a
        .detach_keys
        .clone()
        .or_else(berth_client::credentials::detach_keys);
    let config = bollard::models::ExecConfig {
        attach_stdin: Some(stdin),
        attach_stdout: Some(!a.detach),
        attach_stderr: Some(!a.detach),
        tty: Some(a.tty),
        detach_keys: detach_keys.clone(),
        env: (!env.is_empty()).then_some(env),
        cmd: Some(cmd),
        privileged: Some(a.privileged),
        user: a.user.clone(),
        working_dir: a.workdir.clone(),
        console_size: if a.tty {
            stream::term_size().map(|(h, w)| vec![h as usize, w as usize])
        } else {
            None
        },
    };
    let exec_id = e
        .docker
        .create_exec(container, config)
        .await
        .map_err(api_err)?
        .id;
    if a.detach {
        let body = serde_json::json!({"Detach": true, "Tty": a.tty});
        e.call("POST", &format!("/exec/{exec_id}/start"), Some(&body))
            .await?;
        return Ok(0);
    }
    let keys = stream::parse_detach_keys(detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"))?;
    let body = serde_json::json!({"Detach": false, "Tty": a.tty});
    let h = e
        .hijack(&format!("/exec/{exec_id}/start"), Some(&body))
        .await?;
    let raw = if a.tty && stdin {
        RawTerminal::stdin()
    } else {
        None
    };
    if a.tty {
        stream::monitor_resize(e, ResizeTarget::Exec(exec_id.clone()));
    }
    let outcome = stream::pump(h, a.tty, stdin, (a.tty && stdin).then_some(keys)).await;
    drop(raw);
    if outcome? == Outcome::Detached {
        return Ok(0);
    }
    let info = e.docker.inspect_exec(&exec_id).await.map_err(api_err)?;
    Ok(info.exit_code.unwrap_or(0) as i32)
}
