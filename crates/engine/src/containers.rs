//! The container lifecycle: create, start (through a shim), stop, kill,
//! wait, restart policies, remove, and taking containers back after a
//! daemon restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::model::{Config, Container, HostConfig, State, Status};
use crate::{Engine, names, spec, sysinfo};
use berth_shim::protocol::{Exit, Ready, Reply, Request, ShimConfig};

/// An attach made before the container runs; fulfilled at its next start.
pub struct PendingAttach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tx: oneshot::Sender<Result<UnixStream>>,
}

pub struct CreateRequest {
    pub name: Option<String>,
    pub config: Config,
    pub host_config: HostConfig,
}

fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

pub(crate) fn strings(v: &serde_json::Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    })
}

/// The request's config completed by the image's, as dockerd merges them.
fn merge_image_config(config: &mut Config, image: &serde_json::Value) {
    let ic = &image["config"];
    let image_env = strings(&ic["Env"]).unwrap_or_default();
    let mut env = image_env;
    for e in config.env.take().unwrap_or_default() {
        let key = e.split('=').next().unwrap_or("").to_string();
        env.retain(|x| x.split('=').next() != Some(key.as_str()));
        env.push(e);
    }
    config.env = Some(env);
    if config.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            config.cmd = strings(&ic["Cmd"]);
        }
        if config.entrypoint.is_none() {
            config.entrypoint = strings(&ic["Entrypoint"]);
        }
    }
    if config.working_dir.is_empty() {
        config.working_dir = ic["WorkingDir"].as_str().unwrap_or("").to_string();
    }
    if config.user.is_empty() {
        config.user = ic["User"].as_str().unwrap_or("").to_string();
    }
    if config.stop_signal.is_none() {
        config.stop_signal = ic["StopSignal"].as_str().map(str::to_string);
    }
    if let Some(labels) = ic["Labels"].as_object() {
        let mine = config.labels.get_or_insert_with(Default::default);
        for (k, v) in labels {
            if let Some(v) = v.as_str() {
                mine.entry(k.clone()).or_insert_with(|| v.to_string());
            }
        }
    }
    if config.healthcheck.is_none() && ic["Healthcheck"].is_object() {
        config.healthcheck = serde_json::from_value(ic["Healthcheck"].clone()).ok();
    }
    // The image's VOLUMEs join the request's, as dockerd merges them.
    if let Some(volumes) = ic["Volumes"].as_object().filter(|v| !v.is_empty()) {
        let mine = config.volumes.get_or_insert_with(Default::default);
        for (path, v) in volumes {
            mine.entry(path.clone()).or_insert_with(|| v.clone());
        }
    }
    if config.exposed_ports.is_none() {
        config.exposed_ports = ic["ExposedPorts"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    }
}

fn validate_host_config(hc: &mut HostConfig) -> Result<()> {
    match hc.runtime.as_str() {
        // berth's own runtime is the one there is; docker's clients name
        // runc, which inspect then shows, as dockerd's default.
        "" => hc.runtime = "runc".into(),
        "runc" | "berth" => {}
        other => {
            return Err(Error::Invalid(format!(
                "unknown or invalid runtime name: {other}"
            )));
        }
    }
    match hc.log_config.kind.as_str() {
        "" => hc.log_config.kind = crate::defaults::LOG_DRIVER.into(),
        k if k == crate::defaults::LOG_DRIVER || k == "none" => {}
        // Docker's other drivers, which berth does not have.
        other @ ("local" | "syslog" | "journald" | "gelf" | "fluentd" | "awslogs" | "splunk"
        | "etwlogs" | "gcplogs" | "logentries") => {
            return Err(Error::Invalid(format!(
                "logging driver {other:?} is not supported by berth (json-file and none are)"
            )));
        }
        other => {
            // dockerd's words: a driver it does not know is looked up as a plugin.
            return Err(Error::Invalid(format!(
                "error looking up logging plugin {other}: plugin \"{other}\" not found"
            )));
        }
    }
    match hc.restart_policy.name.as_str() {
        "" | "no" | "always" | "unless-stopped" => {
            if hc.restart_policy.maximum_retry_count != 0 {
                return Err(Error::Invalid(format!(
                    "maximum retry count cannot be used with restart policy '{}'",
                    hc.restart_policy.name
                )));
            }
        }
        "on-failure" => {
            if hc.restart_policy.maximum_retry_count < 0 {
                return Err(Error::Invalid(
                    "maximum retry count cannot be negative".into(),
                ));
            }
        }
        other => {
            return Err(Error::Invalid(format!("invalid restart policy '{other}'")));
        }
    }
    if hc.shm_size < 0 {
        return Err(Error::Invalid("SHM size can not be less than 0".into()));
    }
    if hc.auto_remove && !matches!(hc.restart_policy.name.as_str(), "" | "no") {
        return Err(Error::Invalid(
            "can't create 'AutoRemove' container with restart policy".into(),
        ));
    }
    // Only sysctls of a namespace the container has of its own: any other
    // would be the host's (berth-runtime checks the spec again).
    let separate = berth_runtime::sysctl::Separate {
        ipc: hc.ipc_mode != "host",
        net: hc.network_mode != "host",
        uts: hc.uts_mode != "host",
    };
    for key in hc.sysctls.iter().flatten().map(|(k, _)| k) {
        berth_runtime::sysctl::check(key, separate).map_err(Error::Invalid)?;
    }
    // The resources are checked against the host's cgroups (sysinfo.rs).
    Ok(())
}

/// What berth does not do yet (networks, published ports, shared
/// namespaces), refused at create with a 400 that names the flag and the
/// API field, rather than accepted and silently ignored. Empty values are
/// not requests and pass: docker's CLI sends `PortBindings: {}`,
/// `Volumes: {}`, `NetworkMode: "default"` and `Links: null` by default.
fn refuse_unsupported(hc: &HostConfig) -> Result<()> {
    let not_yet = |what: String| Err(Error::Invalid(format!("{what} not supported yet")));
    for (mode, flag, field) in [
        (&hc.pid_mode, "--pid", "PidMode"),
        (&hc.ipc_mode, "--ipc", "IpcMode"),
    ] {
        if mode.starts_with("container:") {
            return not_yet(format!(
                "joining another container's namespace ({flag} {mode} / HostConfig.{field}) is"
            ));
        }
    }
    if hc.device_requests.iter().flatten().next().is_some() {
        return not_yet("device requests (--gpus / HostConfig.DeviceRequests) are".into());
    }
    if !hc.cgroup.is_empty() {
        return not_yet(format!(
            "sharing another container's cgroup (HostConfig.Cgroup {:?}) is",
            hc.cgroup
        ));
    }
    if !matches!(hc.userns_mode.as_str(), "" | "host") {
        return not_yet(format!(
            "user namespaces (--userns {0} / HostConfig.UsernsMode {0:?}) are",
            hc.userns_mode
        ));
    }
    if hc.storage_opt.iter().flatten().next().is_some() {
        return not_yet("storage options (--storage-opt / HostConfig.StorageOpt) are".into());
    }
    Ok(())
}

/// A value a client sends when it means nothing.
fn is_empty(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(is_empty),
        Value::Object(o) => o.values().all(is_empty),
    }
}

impl Engine {
    /// `POST /containers/create`: a container record and its directory.
    pub fn create(&self, req: CreateRequest) -> Result<(Container, Vec<String>)> {
        let CreateRequest {
            name,
            mut config,
            mut host_config,
        } = req;
        if config.image.is_empty() {
            return Err(Error::Invalid("No image specified".into()));
        }
        refuse_unsupported(&host_config)?;
        let (network_settings, mut warnings) =
            self.requested_networks(&mut config, &mut host_config)?;
        let image = self.images.resolve(&config.image)?;
        let image_config = self.images.config(&image)?;
        merge_image_config(&mut config, &image_config);
        validate_host_config(&mut host_config)?;
        sysinfo::adapt(&mut host_config);
        // dockerd's defaults, which inspect shows: the masked and read-only
        // paths of an unprivileged container, no Env when neither the image
        // nor the request has one.
        if !host_config.privileged {
            let defaults = |d: &[&str]| Some(d.iter().map(|p| p.to_string()).collect());
            if host_config.masked_paths.is_none() {
                host_config.masked_paths = defaults(crate::defaults::MASKED_PATHS);
            }
            if host_config.readonly_paths.is_none() {
                host_config.readonly_paths = defaults(crate::defaults::READONLY_PATHS);
            }
        }
        if config.env.as_ref().is_some_and(Vec::is_empty) {
            config.env = None;
        }
        warnings.extend(sysinfo::verify(
            &mut host_config,
            sysinfo::SysInfo::host(),
            false,
        )?);
        if host_config.cgroupns_mode.is_empty() {
            // What the container gets, for inspect (spec.rs: private).
            host_config.cgroupns_mode = "private".into();
        }
        if !config.working_dir.is_empty() && !config.working_dir.starts_with('/') {
            return Err(Error::Invalid(format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                config.working_dir
            )));
        }
        let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
        argv.extend(config.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(Error::Invalid("No command specified".into()));
        }
        let id = names::random_id();
        let mut c = Container {
            id: id.clone(),
            name: String::new(),
            created: now(),
            image: image.id.to_string(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config,
            host_config,
            state: State::default(),
            restart_count: 0,
            mounts: Vec::new(),
            network_settings,
        };
        // Building the spec now turns bad flags into errors at create, as
        // dockerd reports them, rather than at start.
        let layers = self.layers_of(&image)?;
        let files = spec::Files {
            hosts: Path::new("/"),
            hostname: Path::new("/"),
            resolv: Path::new("/"),
            shared_network: None,
        };
        spec::build(&c, &[], &layers, &files, "berth", Vec::new())?;
        spec::hosts_file(
            c.host_config.extra_hosts.as_deref().unwrap_or_default(),
            &[],
            "",
            "",
            None,
        )?;
        // Last of the checks, as it makes volumes: undone if the create
        // fails after it.
        c.mounts = self.resolve_mounts(&c.config, &c.host_config)?;
        let undo_mounts = |c: &Container| self.remove_anonymous_volumes(&c.mounts);

        // The directory before the lock: the id is fresh, and a disk inode
        // can cost a while (parallel creates would queue on it).
        let dir = self.container_dir(&id);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            undo_mounts(&c);
            return Err(Error::io(format!("creating {}", dir.display()), e));
        }
        let named = self.insert_new(&mut c, name);
        let ticket = match named {
            Ok(t) => t,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                undo_mounts(&c);
                return Err(e);
            }
        };
        if let Err(e) = self.durable(ticket) {
            self.containers.lock().expect("containers lock").remove(&id);
            let _ = std::fs::remove_dir_all(&dir);
            undo_mounts(&c);
            return Err(e);
        }
        self.event("create", &c, &[]);
        Ok((c, warnings))
    }

    /// Names the new container (the given name, or a generated one), puts
    /// it in the map and queues its record, all under the map's lock.
    fn insert_new(&self, c: &mut Container, name: Option<String>) -> Result<berth_store::Ticket> {
        let id = c.id.clone();
        let mut map = self.containers.lock().expect("containers lock");
        c.name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let n = names::validate(&n)?;
                if let Some(other) = map.values().find(|o| o.name == n) {
                    return Err(Error::Conflict(format!(
                        "Conflict. The container name \"/{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                        other.id
                    )));
                }
                n
            }
            None => {
                let seed = u64::from_str_radix(&id[..12], 16).unwrap_or(0);
                names::generate(|n| map.values().any(|o| o.name == n), seed)
            }
        };
        let ticket = self
            .store
            .queue_put(berth_store::Kind::Containers, &id, &*c)?;
        map.insert(id, c.clone());
        Ok(ticket)
    }

    /// The mount options of the container's root filesystem: the init
    /// layer (mount points the runtime would otherwise create in the upper
    /// directory) over the image's layers, under the container's own upper.
    pub(crate) fn overlay_options(
        &self,
        c: &Container,
        layers: &[std::path::PathBuf],
    ) -> Result<String> {
        let dir = self.container_dir(&c.id);
        let (upper, work) = (dir.join("upper"), dir.join("work"));
        for d in [&upper, &work] {
            std::fs::create_dir_all(d).map_err(|e| {
                Error::io(
                    format!("container {}: creating {}", c.short_id(), d.display()),
                    e,
                )
            })?;
        }
        let mut lower = vec![self.init_layer.clone()];
        lower.extend_from_slice(layers);
        Ok(berth_image::bundle::overlay_options_for(
            &lower, &upper, &work,
        ))
    }

    pub(crate) fn layers(&self, c: &Container) -> Result<Vec<std::path::PathBuf>> {
        let digest: berth_image::Digest = c.image.parse().map_err(|_| {
            Error::Internal(format!("container {}: bad image id {}", c.id, c.image))
        })?;
        let rec = self.images.resolve(&digest.to_string())?;
        self.layers_of(&rec)
    }

    /// The overlay's lower directories of a container, as inspect's
    /// GraphDriver.Data.LowerDir says them (the init layer, then the
    /// image's layers, topmost first); None when its image is gone.
    pub fn lower_dir(&self, c: &Container) -> Option<String> {
        let mut lower = vec![self.init_layer.clone()];
        lower.extend(self.layers(c).ok()?);
        let lower: Vec<String> = lower.iter().map(|p| p.display().to_string()).collect();
        Some(lower.join(":"))
    }

    /// An image's snapshot directories, topmost first.
    pub(crate) fn layers_of(
        &self,
        rec: &berth_image::images::ImageRecord,
    ) -> Result<Vec<std::path::PathBuf>> {
        match &rec.top {
            Some(top) => Ok(self.images.snapshots.lower_dirs(top)?),
            None => Ok(Vec::new()),
        }
    }

    pub(crate) fn event(&self, action: &str, c: &Container, attrs: &[(&str, String)]) {
        let image = if c.config.image.is_empty() {
            c.image.clone()
        } else {
            c.config.image.clone()
        };
        self.events.container(
            action,
            &c.id,
            &c.name,
            &image,
            c.config.labels.as_ref(),
            attrs,
        );
    }

    /// Writes the bundle: config.json, the per-container files, shim.json.
    fn prepare_bundle(&self, c: &Container, addresses: &[std::net::IpAddr]) -> Result<ShimConfig> {
        let dir = self.bundle_dir(&c.id);
        let io = |what: &str, e| Error::io(format!("container {}: {what}", c.short_id()), e);
        let layers = self.layers(c)?;
        if layers.is_empty() {
            return Err(Error::Invalid(format!(
                "image {} has no layers to run",
                c.config.image
            )));
        }
        std::fs::create_dir_all(dir.join("rootfs")).map_err(|e| io("creating the bundle", e))?;
        let net_files = self.network_files(c, &dir, addresses)?;
        let files = net_files.files();
        let mounts = self.start_mounts(&c.mounts, &layers)?;
        let held = self.hold_mounts(&c.mounts);
        let link_env = crate::networks::links::env(&c.name, &self.default_bridge_links(c)?);
        let with_links;
        let c = if link_env.is_empty() {
            c
        } else {
            let mut linked = c.clone();
            linked
                .config
                .env
                .get_or_insert_with(Vec::new)
                .splice(0..0, link_env);
            with_links = linked;
            &with_links
        };
        let spec = spec::build(c, &[], &layers, &files, &self.config.cgroup_parent, mounts)?;
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(&spec).expect("json serializes"),
        )
        .map_err(|e| io("writing config.json", e))?;
        let overlay = self.overlay_options(c, &layers)?;
        let lc = &c.host_config.log_config.config;
        let shim = ShimConfig {
            id: c.id.clone(),
            runtime_root: self.runtime_root(),
            socket: self.shim_socket(&c.id),
            // The `none` driver: the shim's log goes nowhere.
            log: if c.host_config.log_config.kind == "none" {
                PathBuf::from("/dev/null")
            } else {
                self.log_path(&c.id)
            },
            log_max_size: lc
                .get("max-size")
                // Decimal, as dockerd reads max-size (go-units' FromHumanSize).
                .and_then(|s| berth_units::from_human_size(s).ok().map(|n| n as u64))
                .unwrap_or(0),
            log_max_files: lc.get("max-file").and_then(|s| s.parse().ok()).unwrap_or(1),
            overlay: Some(overlay),
            tty: c.config.tty,
            stdin: c.config.open_stdin,
            stdin_once: c.config.stdin_once,
        };
        std::fs::write(
            dir.join("shim.json"),
            serde_json::to_vec(&shim).expect("json serializes"),
        )
        .map_err(|e| io("writing shim.json", e))?;
        let _ = std::fs::remove_file(dir.join("exit.json"));
        held.keep();
        Ok(shim)
    }

    /// `POST /containers/{id}/start`.
    pub async fn start(self: &Arc<Self>, name: &str) -> Result<()> {
        let c = self.get(name)?;
        match c.state.status {
            Status::Running | Status::Restarting => return Err(Error::NotModified),
            Status::Paused => {
                return Err(Error::Conflict(
                    "cannot start a paused container, try unpause instead".into(),
                ));
            }
            Status::Removing | Status::Dead => {
                return Err(Error::Conflict(format!(
                    "container {} is marked for removal and cannot be started",
                    c.id
                )));
            }
            Status::Created | Status::Exited => {}
        }
        self.start_container(&c).await
    }

    async fn start_container(self: &Arc<Self>, c: &Container) -> Result<()> {
        // Addresses and host ports first: /etc/hosts needs the addresses.
        let plan = match self.network_plan(c) {
            Ok(p) => p,
            Err(e) => {
                self.failed_start(c, &e).await;
                return Err(e);
            }
        };
        let addresses = plan.addresses();
        let shim = {
            let engine = self.clone();
            let c = c.clone();
            tokio::task::spawn_blocking(move || engine.prepare_bundle(&c, &addresses))
                .await
                .map_err(|e| Error::Internal(e.to_string()))?
        };
        let shim = match shim {
            Ok(s) => s,
            Err(e) => {
                self.network_abandon(plan);
                if self.get(&c.id).is_err() {
                    self.discard_dir(&c.id); // removed meanwhile
                }
                return Err(e);
            }
        };
        let ready = self.spawn_shim(&c.id).await;
        let ready = match ready {
            Ok(r) => r,
            Err(e) => {
                self.network_abandon(plan);
                self.failed_start(c, &e).await;
                return Err(e);
            }
        };
        // The container's namespace exists, its process waits for Start:
        // its links and rules go in now.
        let networks = plan.network_settings(&c.network_settings);
        let plumbed = {
            let engine = self.clone();
            let (id, pid) = (c.id.clone(), ready.pid);
            tokio::task::spawn_blocking(move || engine.network_plumb(&id, pid, plan))
                .await
                .map_err(|e| Error::Internal(e.to_string()))
                .and_then(|r| r)
        };
        if let Err(e) = plumbed {
            let _ = shim_call(&shim.socket, &Request::Kill { signal: 9 }).await;
            self.failed_start(c, &e).await;
            return Err(e);
        }
        // Its DNS server answers from its record: the names and addresses
        // are there before its process runs (written to disk just below).
        let _ = self.update_unsaved(&c.id, |c| c.network_settings = networks.clone());
        // Attachments made before the start get the first byte of output.
        let pending = self
            .pending_attach
            .lock()
            .expect("attach lock")
            .remove(&c.id)
            .unwrap_or_default();
        for p in pending {
            let stream = shim_attach(&shim.socket, p.stdin, p.stdout, p.stderr).await;
            let _ = p.tx.send(stream);
        }
        if let Err(e) = shim_call(&shim.socket, &Request::Start).await {
            let _ = shim_call(&shim.socket, &Request::Kill { signal: 9 }).await;
            self.failed_start(c, &e).await;
            return Err(e);
        }
        let started = match self.update(&c.id, |c| {
            c.network_settings = networks;
            c.state.status = Status::Running;
            c.state.stopped_by_user = false;
            c.state.pid = ready.pid;
            c.state.shim_pid = ready.shim_pid;
            c.state.started_at = Some(now());
            c.state.error.clear();
            c.state.exit_code = 0;
            c.state.oom_killed = false;
            c.clone()
        }) {
            Ok(c) => c,
            Err(e) => {
                // Removed while it started (an `rm -f` racing a restart by
                // policy or health check): what this start made goes too.
                let _ = shim_call(&shim.socket, &Request::Kill { signal: 9 }).await;
                self.network_release(&c.id);
                self.release_mounts(&c.mounts);
                self.discard_dir(&c.id);
                return Err(e);
            }
        };
        self.network_events("connect", &started);
        self.event("start", &started, &[]);
        self.monitor(started.id.clone());
        crate::health::watch(self, &started);
        Ok(())
    }

    /// A start that failed: Docker's exit codes for "not found" (127) and
    /// "cannot execute" (126) are recorded with the error.
    async fn failed_start(self: &Arc<Self>, c: &Container, e: &Error) {
        let id = c.id.as_str();
        self.release_mounts(&c.mounts);
        self.network_release(id);
        // Attachments waiting for this start end with it.
        self.pending_attach.lock().expect("attach lock").remove(id);
        let msg = e.to_string();
        let code = exec_failure_code(&msg).unwrap_or(128);
        let _ = self.update(id, |c| {
            c.state.status = if c.state.started_at.is_some() {
                Status::Exited
            } else {
                Status::Created
            };
            c.state.exit_code = code;
            c.state.error = msg.clone();
            c.state.pid = 0;
        });
        // As dockerd: an --rm container that cannot start is removed, with
        // its anonymous volumes.
        if c.host_config.auto_remove {
            let _ = self.remove(id, true, true).await;
        }
        // Removed while it started (an `rm -f` racing a restart): the
        // bundle this start made goes with it.
        if self.get(id).is_err() {
            self.discard_dir(id);
        }
    }

    async fn spawn_shim(&self, id: &str) -> Result<Ready> {
        let dir = self.bundle_dir(id);
        let out = tokio::process::Command::new(&self.config.exe)
            .arg("shim")
            .arg(&dir)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output()
            .await
            .map_err(|e| {
                Error::io(
                    format!("starting the shim {}", self.config.exe.display()),
                    e,
                )
            })?;
        let ready: Ready = serde_json::from_slice(&out.stdout).map_err(|e| {
            Error::Internal(format!(
                "container {}: the shim reported nothing usable ({e}): {}",
                &id[..12],
                String::from_utf8_lossy(&out.stdout)
            ))
        })?;
        match ready.error {
            Some(err) => Err(start_error(&err)),
            None => Ok(ready),
        }
    }

    /// Watches a running container's shim for its exit.
    pub(crate) fn monitor(self: &Arc<Self>, id: String) {
        let engine = self.clone();
        tokio::spawn(async move {
            let socket = engine.shim_socket(&id);
            let exit = match shim_wait(&socket).await {
                Some(exit) => exit,
                None => match engine.exit_file(&id) {
                    Some(exit) => exit,
                    None => engine.shim_lost(&id).await,
                },
            };
            engine.exited(&id, exit).await;
        });
    }

    fn exit_file(&self, id: &str) -> Option<Exit> {
        std::fs::read(self.current_bundle(id).join("exit.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// The shim is gone without a word (killed): nobody holds the
    /// container's stdio or reaps it any more, so its processes are killed
    /// and its runtime state and cgroup removed; the exit reads 255.
    async fn shim_lost(&self, id: &str) -> Exit {
        let rt = berth_runtime::Runtime::new(self.runtime_root());
        let id_owned = id.to_string();
        let _ = tokio::task::spawn_blocking(move || rt.delete(&id_owned, true)).await;
        let _ = std::fs::remove_file(self.shim_socket(id));
        Exit {
            exit_code: 255,
            finished_at: now(),
            oom_killed: false,
        }
    }

    /// Records an exit, then removes or restarts as the host config says.
    async fn exited(self: &Arc<Self>, id: &str, exit: Exit) {
        let auto_remove = self.get(id).is_ok_and(|c| c.host_config.auto_remove);
        let record = |c: &mut Container| {
            c.state.status = Status::Exited;
            c.state.exit_code = exit.exit_code;
            c.state.finished_at = Some(exit.finished_at.clone());
            c.state.oom_killed = exit.oom_killed;
            c.state.pid = 0;
            c.state.shim_pid = 0;
            crate::networks::attach::clear_addresses(&mut c.network_settings);
            if let Some(h) = c.state.health.as_mut() {
                h.status = "unhealthy".into();
            }
            c.clone()
        };
        // An --rm container is removed next: its exit need not reach the disk.
        let recorded = if auto_remove {
            self.update_unsaved(id, record)
        } else {
            self.update(id, record)
        };
        let Ok(c) = recorded else {
            return; // removed meanwhile
        };
        self.release_mounts(&c.mounts);
        self.network_release(id);
        self.network_events("disconnect", &c);
        if exit.oom_killed {
            self.event("oom", &c, &[]);
        }
        self.event("die", &c, &[("exitCode", exit.exit_code.to_string())]);
        if c.host_config.auto_remove {
            let _ = self.remove(id, true, true).await;
            return;
        }
        if let Some(delay) = self.restart_delay(&c) {
            let _ = self.update(id, |c| {
                c.state.status = Status::Restarting;
                c.restart_count += 1;
            });
            let engine = self.clone();
            let id = id.to_string();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let Ok(c) = engine.get(&id) else { return };
                if c.state.status != Status::Restarting || c.state.stopped_by_user {
                    return;
                }
                if let Err(e) = engine.start_container(&c).await {
                    eprintln!("berth: restarting {}: {e}", c.name);
                }
            });
        }
    }

    /// Docker's policy: None when the container stays down, else the delay
    /// (100 ms doubling per restart, capped at a minute).
    fn restart_delay(&self, c: &Container) -> Option<Duration> {
        if c.state.stopped_by_user {
            return None;
        }
        let p = &c.host_config.restart_policy;
        let restart = match p.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                c.state.exit_code != 0
                    && (p.maximum_retry_count == 0 || c.restart_count < p.maximum_retry_count)
            }
            _ => false,
        };
        restart.then(|| {
            let n = c.restart_count.clamp(0, 10) as u32;
            Duration::from_millis(100 * 2u64.pow(n)).min(Duration::from_secs(60))
        })
    }

    /// `POST /containers/{id}/kill`.
    pub async fn kill(&self, name: &str, signal: Option<&str>) -> Result<()> {
        let c = self.get(name)?;
        // A bad signal is the request's fault whatever the container's state.
        let sig = parse_signal(signal.unwrap_or("KILL"))?;
        if !c.is_running() {
            return Err(Error::Conflict(format!(
                "Cannot kill container: {name}: Container {} is not running",
                c.id
            )));
        }
        self.update(&c.id, |c| c.state.stopped_by_user = true)?;
        // As dockerd: a SIGKILL returns once the container is dead, so an
        // inspect or rm right after sees it exited.
        let (_, mut rx) = self.events.subscribe();
        self.signal(&c, sig).await?;
        self.event("kill", &c, &[("signal", sig.to_string())]);
        if sig == 9 && self.get(&c.id).is_ok_and(|c| c.is_running()) {
            wait_for(&mut rx, &c.id, Some(KILL_WAIT)).await;
        }
        Ok(())
    }

    async fn signal(&self, c: &Container, sig: i32) -> Result<()> {
        if c.state.status == Status::Restarting {
            return Ok(());
        }
        if c.state.status == Status::Paused && sig == 9 {
            // A frozen process would take SIGKILL only once thawed.
            let _ = shim_query(&self.shim_socket(&c.id), &Request::Resume).await;
        }
        shim_call(&self.shim_socket(&c.id), &Request::Kill { signal: sig }).await
    }

    /// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after
    /// the timeout (the request's, the container's StopTimeout, or 10 s).
    pub async fn stop(
        self: &Arc<Self>,
        name: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let c = self.get(name)?;
        let sig = match signal.or(c.config.stop_signal.as_deref()) {
            Some(s) => parse_signal(s)?,
            None => crate::defaults::STOP_SIGNAL,
        };
        if !c.is_running() {
            return Err(Error::NotModified);
        }
        if c.state.status == Status::Restarting {
            self.update(&c.id, |c| {
                c.state.stopped_by_user = true;
                c.state.status = Status::Exited;
            })?;
            return Ok(());
        }
        // Written with the exit that follows, unless that exit came first.
        let status = self.update_unsaved(&c.id, |c| {
            c.state.stopped_by_user = true;
            c.state.status
        })?;
        if status != Status::Running && status != Status::Paused {
            self.update(&c.id, |_| ())?;
        }
        let timeout = timeout
            .or(c.config.stop_timeout)
            .unwrap_or(crate::defaults::STOP_TIMEOUT);
        let (_, mut rx) = self.events.subscribe();
        let _ = self.signal(&c, sig).await;
        self.event("kill", &c, &[("signal", sig.to_string())]);
        let exited = if timeout < 0 {
            wait_for(&mut rx, &c.id, None).await
        } else {
            wait_for(&mut rx, &c.id, Some(Duration::from_secs(timeout as u64))).await
        };
        if !exited && self.get(&c.id).is_ok_and(|c| c.is_running()) {
            let _ = self.signal(&c, 9).await;
            self.event("kill", &c, &[("signal", "9".into())]);
            wait_for(&mut rx, &c.id, Some(Duration::from_secs(30))).await;
        }
        if let Ok(c) = self.get(&c.id) {
            self.event("stop", &c, &[]);
        }
        Ok(())
    }

    /// `POST /containers/{id}/restart`.
    pub async fn restart(
        self: &Arc<Self>,
        name: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        match self.stop(name, timeout, signal).await {
            Ok(()) | Err(Error::NotModified) => {}
            Err(e) => return Err(e),
        }
        let c = self.get(name)?;
        self.start_container(&c).await?;
        self.event("restart", &c, &[]);
        Ok(())
    }

    /// `POST /containers/{id}/wait`: the exit code once `condition` holds
    /// (not-running, next-exit, removed). The subscription is made before
    /// this returns, so an exit after the call is never missed.
    pub fn wait_registered(
        self: &Arc<Self>,
        name: &str,
        condition: &str,
    ) -> impl std::future::Future<Output = Result<i32>> + Send + 'static {
        let mut rx = self.events.subscribe().1;
        let found = self.get(name);
        let condition = condition.to_string();
        let engine = self.clone();
        async move {
            let c = found?;
            let id = c.id.clone();
            match condition.as_str() {
                "" | "not-running" => {
                    if !c.is_running() {
                        return Ok(c.state.exit_code);
                    }
                }
                "next-exit" | "removed" => {}
                other => {
                    return Err(Error::Invalid(format!("invalid condition: \"{other}\"")));
                }
            }
            let mut code = c.state.exit_code;
            loop {
                match rx.recv().await {
                    Ok(ev) if ev.actor.id == id => match ev.action.as_str() {
                        "die" => {
                            code = ev
                                .actor
                                .attributes
                                .get("exitCode")
                                .and_then(|c| c.parse().ok())
                                .unwrap_or(0);
                            if condition != "removed" {
                                return Ok(code);
                            }
                        }
                        "destroy" => return Ok(code),
                        _ => {}
                    },
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        match engine.get(&id) {
                            Ok(c) if !c.is_running() && condition != "removed" => {
                                return Ok(c.state.exit_code);
                            }
                            Err(_) => return Ok(code),
                            _ => {}
                        }
                    }
                    Err(_) => return Ok(code),
                }
            }
        }
    }

    /// `DELETE /containers/{id}`; `volumes` (`rm -v`, `--rm`) removes its
    /// anonymous volumes too, those no other container uses.
    pub async fn remove(self: &Arc<Self>, name: &str, force: bool, volumes: bool) -> Result<()> {
        let c = self.get(name)?;
        if c.is_running() {
            if !force {
                return Err(Error::Conflict(format!(
                    "You cannot remove a {} container {}. Stop the container before attempting removal or force remove",
                    c.state.status.as_str(),
                    c.id
                )));
            }
            let (_, mut rx) = self.events.subscribe();
            self.update_unsaved(&c.id, |c| c.state.stopped_by_user = true)?;
            if self.signal(&c, 9).await.is_ok() {
                wait_for(&mut rx, &c.id, Some(Duration::from_secs(30))).await;
            }
        }
        let ticket = {
            let mut map = self.containers.lock().expect("containers lock");
            if map.remove(&c.id).is_none() {
                return Ok(()); // another remove won
            }
            self.store
                .queue_delete(berth_store::Kind::Containers, &c.id)
        };
        self.durable(ticket)?;
        self.pending_attach
            .lock()
            .expect("attach lock")
            .remove(&c.id);
        // Its exec instances go with it, as dockerd's (they were kept
        // for inspect; without this every exec ever made stays in memory).
        self.execs
            .lock()
            .expect("exec lock")
            .retain(|_, e| e.container != c.id);
        self.discard_dir(&c.id);
        self.event("destroy", &c, &[]);
        if volumes {
            self.remove_anonymous_volumes(&c.mounts);
        }
        Ok(())
    }

    /// `POST /containers/{id}/rename`.
    pub fn rename(&self, name: &str, new: &str) -> Result<()> {
        let new = names::validate(new)?;
        let c = self.get(name)?;
        {
            let map = self.containers.lock().expect("containers lock");
            if let Some(other) = map.values().find(|o| o.name == new && o.id != c.id) {
                return Err(Error::Conflict(format!(
                    "Conflict. The container name \"/{new}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    other.id
                )));
            }
        }
        let c = self.update(&c.id, |c| {
            c.name = new.clone();
            c.clone()
        })?;
        self.event(
            "rename",
            &c,
            &[("oldName", format!("/{}", name.trim_start_matches('/')))],
        );
        Ok(())
    }

    /// The cgroup counters of a running container (the runtime's Stats as
    /// JSON), from its shim; None when it is not running.
    pub async fn stats(&self, name: &str) -> Result<Option<serde_json::Value>> {
        let c = self.get(name)?;
        if !c.is_running() {
            return Ok(None);
        }
        shim_query(&self.shim_socket(&c.id), &Request::Stats).await
    }

    /// The host pids of a running container's processes, from its shim.
    pub async fn pids(&self, name: &str) -> Result<Vec<i32>> {
        let c = self.get(name)?;
        if !c.is_running() {
            return Err(Error::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let v = shim_query(&self.shim_socket(&c.id), &Request::Pids).await?;
        serde_json::from_value(v.unwrap_or_default())
            .map_err(|e| Error::Internal(format!("the shim's pids: {e}")))
    }

    /// `POST /containers/{id}/pause` and `/unpause`: the cgroup freezer.
    pub async fn pause(&self, name: &str, pause: bool) -> Result<()> {
        let c = self.get(name)?;
        let socket = self.shim_socket(&c.id);
        match (c.state.status, pause) {
            (Status::Running, true) => shim_query(&socket, &Request::Pause)
                .await
                .map_err(|e| Error::Internal(format!("pausing {}: {e}", c.name)))
                .map(drop)?,
            (Status::Paused, false) => shim_query(&socket, &Request::Resume)
                .await
                .map_err(|e| Error::Internal(format!("unpausing {}: {e}", c.name)))
                .map(drop)?,
            (Status::Paused, true) => {
                return Err(Error::Conflict(format!(
                    "Container {} is already paused",
                    c.id
                )));
            }
            (_, true) => {
                return Err(Error::Conflict(format!(
                    "Container {} is not running",
                    c.id
                )));
            }
            (_, false) => {
                return Err(Error::Conflict(format!("Container {} is not paused", c.id)));
            }
        }
        let c = self.update(&c.id, |c| {
            c.state.status = if pause {
                Status::Paused
            } else {
                Status::Running
            };
            c.clone()
        })?;
        self.event(if pause { "pause" } else { "unpause" }, &c, &[]);
        Ok(())
    }

    /// A stream to the container's stdio (attach): now when it runs, else
    /// at its next start (as `docker run` attaches before it starts). The
    /// request is registered before this returns.
    pub fn attach(
        self: &Arc<Self>,
        id: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<UnixStream>> + Send>> {
        let c = match self.get(id) {
            Ok(c) => c,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        if matches!(c.state.status, Status::Running | Status::Paused) {
            let socket = self.shim_socket(&c.id);
            return Box::pin(async move { shim_attach(&socket, stdin, stdout, stderr).await });
        }
        let (tx, rx) = oneshot::channel();
        self.pending_attach
            .lock()
            .expect("attach lock")
            .entry(c.id.clone())
            .or_default()
            .push(PendingAttach {
                stdin,
                stdout,
                stderr,
                tx,
            });
        Box::pin(async move {
            rx.await
                .map_err(|_| Error::Conflict(format!("container {} was removed", c.id)))?
        })
    }

    /// `POST /containers/{id}/resize`.
    pub async fn resize(&self, name: &str, height: u16, width: u16) -> Result<()> {
        let c = self.get(name)?;
        if !c.is_running() {
            return Err(Error::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        // As dockerd: a container without a terminal has nothing to
        // resize, and that is no error.
        if !c.config.tty {
            return Ok(());
        }
        shim_call(&self.shim_socket(&c.id), &Request::Resize { height, width }).await
    }

    /// After a daemon start: running containers whose shim still answers
    /// are watched again; the others get the exit their shim recorded.
    pub fn adopt(self: &Arc<Self>) {
        // The firewall first: rebuilt for the containers still alive.
        let alive = |c: &Container| {
            matches!(c.state.status, Status::Running | Status::Paused)
                && c.state.pid > 0
                && Path::new(&format!("/proc/{}", c.state.pid)).exists()
        };
        let ports: Vec<_> = self
            .list()
            .iter()
            .filter(|c| alive(c))
            .map(|c| (c.id.clone(), self.network_adopt(c)))
            .collect();
        if let Err(e) = self.restore_networks(ports) {
            eprintln!("berth: restoring the networks' rules: {e}");
        }
        for c in self.list() {
            if !matches!(c.state.status, Status::Running | Status::Paused) {
                self.sweep_cut_start(&c.id);
            }
            match c.state.status {
                Status::Running | Status::Paused => {
                    // Its volumes' filesystems are still mounted: count it
                    // as a user again, so that its exit can unmount them.
                    self.adopt_mounts(&c.mounts);
                    self.monitor(c.id.clone())
                }
                Status::Restarting => self.restart_on_start(c),
                Status::Exited if restarts_with_the_daemon(&c) => self.restart_on_start(c),
                _ => {}
            }
        }
    }

    /// A start a crash of the daemon cut short (its shim spawned, the
    /// record not yet saying running) leaves a shim, maybe a process, the
    /// runtime's state and a cgroup behind a record that says the
    /// container is down: they go, so that it starts again ("container with
    /// id exists" otherwise) and `rm` leaves nothing.
    fn sweep_cut_start(&self, id: &str) {
        let socket = self.shim_socket(id);
        let state = self.runtime_root().join(id);
        if !socket.exists() && !state.exists() {
            return;
        }
        let bundle = self.bundle_dir(id);
        for pid in shims_of(&bundle) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        // Kills what runs in the container and removes its cgroup.
        let rt = berth_runtime::Runtime::new(self.runtime_root());
        if let Err(e) = rt.delete(id, true) {
            eprintln!("berth: removing what a cut start of {id} left: {e}");
        }
        let _ = std::fs::remove_file(&socket);
    }

    fn restart_on_start(self: &Arc<Self>, c: Container) {
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.start_container(&c).await {
                eprintln!("berth: restarting {}: {e}", c.name);
            }
        });
    }
}

/// The shim processes (`<exe> shim <bundle>`) serving `bundle`.
fn shims_of(bundle: &Path) -> Vec<i32> {
    let want = bundle.as_os_str().as_encoded_bytes();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        if args.len() >= 3 && args[1] == b"shim" && args[2] == want {
            found.push(pid);
        }
    }
    found
}

/// Whether a container that is down when the daemon starts is started
/// again, as dockerd decides it: `always` even after a stop by the user
/// (Docker's documented behaviour), `unless-stopped` unless the user
/// stopped it, `on-failure` after a failure the user did not cause.
fn restarts_with_the_daemon(c: &Container) -> bool {
    let user = c.state.stopped_by_user;
    match c.host_config.restart_policy.name.as_str() {
        "always" => true,
        "unless-stopped" => !user,
        "on-failure" => {
            let p = &c.host_config.restart_policy;
            !user
                && c.state.exit_code != 0
                && (p.maximum_retry_count == 0 || c.restart_count < p.maximum_retry_count)
        }
        _ => false,
    }
}

/// Turns the runtime's words into Docker's, which clients match on to pick
/// the exit codes 126 and 127.
fn start_error(err: &str) -> Error {
    match exec_failure_code(err) {
        Some(127) => Error::Invalid(format!(
            "failed to create task for container: OCI runtime create failed: {err}: unknown"
        )),
        Some(_) => Error::Invalid(format!(
            "failed to create task for container: OCI runtime create failed: {err}: permission denied"
        )),
        None => Error::Internal(format!("failed to create task for container: {err}")),
    }
}

/// Docker's exit code for a process the runtime could not start, from the
/// runtime's (runc's) words: 127 not found, 126 not executable.
pub(crate) fn exec_failure_code(runtime_message: &str) -> Option<i32> {
    let m = runtime_message;
    if m.contains("executable file not found") || m.contains("no such file or directory") {
        Some(127)
    } else if m.to_ascii_lowercase().contains("permission denied") {
        Some(126)
    } else {
        None
    }
}

pub fn parse_signal(s: &str) -> Result<i32> {
    berth_runtime::signal::parse(s)
        .map(|sig| sig as i32)
        .ok_or_else(|| Error::Invalid(format!("Invalid signal: {s}")))
}

/// How long a SIGKILL's request waits for the exit (a process in
/// uninterruptible sleep can outlive a SIGKILL for a while).
const KILL_WAIT: Duration = Duration::from_secs(30);

/// Waits for a `die` (or `destroy`) of `id`; false on timeout.
async fn wait_for(
    rx: &mut tokio::sync::broadcast::Receiver<crate::events::Event>,
    id: &str,
    timeout: Option<Duration>,
) -> bool {
    let fut = async {
        loop {
            match rx.recv().await {
                Ok(ev) if ev.actor.id == id && (ev.action == "die" || ev.action == "destroy") => {
                    return true;
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return false,
            }
        }
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, fut).await.unwrap_or(false),
        None => fut.await,
    }
}

async fn send_request(socket: &Path, req: &Request) -> Result<UnixStream> {
    let mut stream = UnixStream::connect(socket)
        .await
        .map_err(|e| Error::io(format!("connecting to the shim at {}", socket.display()), e))?;
    let mut line = serde_json::to_vec(req).expect("json serializes");
    line.push(b'\n');
    stream
        .write_all(&line)
        .await
        .map_err(|e| Error::io("writing to the shim", e))?;
    Ok(stream)
}

/// One request, one reply line; a start's failure as the exit code docker
/// gives it (126, 127).
async fn shim_call(socket: &Path, req: &Request) -> Result<()> {
    let reply = shim_reply(socket, req).await?;
    match reply.error {
        None => Ok(()),
        Some(e) => Err(start_error(&e)),
    }
}

/// One request, one reply line, and what it answers (stats, pids).
pub(crate) async fn shim_query(socket: &Path, req: &Request) -> Result<Option<serde_json::Value>> {
    let reply = shim_reply(socket, req).await?;
    match reply.error {
        None => Ok(reply.value),
        Some(e) => Err(Error::Internal(e)),
    }
}

async fn shim_reply(socket: &Path, req: &Request) -> Result<Reply> {
    let stream = send_request(socket, req).await?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .await
        .map_err(|e| Error::io("reading the shim's reply", e))?;
    serde_json::from_str(&line)
        .map_err(|e| Error::Internal(format!("the shim's reply {line:?}: {e}")))
}

/// Waits for the container's exit; None when the shim is not there.
async fn shim_wait(socket: &Path) -> Option<Exit> {
    let stream = send_request(socket, &Request::Wait).await.ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).await.ok()?;
    serde_json::from_str(&line).ok()
}

/// An attach stream, after the shim's one-line acknowledgement.
async fn shim_attach(socket: &Path, stdin: bool, stdout: bool, stderr: bool) -> Result<UnixStream> {
    let mut stream = send_request(
        socket,
        &Request::Attach {
            stdin,
            stdout,
            stderr,
        },
    )
    .await?;
    // Read the ack byte by byte: what follows it is the container's output.
    let mut ack = Vec::new();
    loop {
        let mut b = [0u8; 1];
        let n = tokio::io::AsyncReadExt::read(&mut stream, &mut b)
            .await
            .map_err(|e| Error::io("reading the shim's reply", e))?;
        if n == 0 || b[0] == b'\n' || ack.len() > 4096 {
            break;
        }
        ack.push(b[0]);
    }
    if ack != b"{}" {
        return Err(Error::Internal(format!(
            "attach: the shim answered {:?}",
            String::from_utf8_lossy(&ack)
        )));
    }
    Ok(stream)
}

/// The host config fields `docker update` may change.
const UPDATABLE: &[&str] = &[
    "Memory",
    "MemoryReservation",
    "MemorySwap",
    "NanoCpus",
    "CpuShares",
    "CpuPeriod",
    "CpuQuota",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "CpusetCpus",
    "CpusetMems",
    "BlkioWeight",
    "PidsLimit",
    "RestartPolicy",
];

impl Engine {
    /// `POST /containers/{id}/update`: resources (applied to the running
    /// container's cgroup too) and the restart policy.
    pub async fn update_container(
        &self,
        name: &str,
        body: &serde_json::Value,
    ) -> Result<Vec<String>> {
        let c = self.get(name)?;
        let mut hc = serde_json::to_value(&c.host_config).expect("json serializes");
        let Some(fields) = body.as_object() else {
            return Err(Error::Invalid("the update must be a JSON object".into()));
        };
        // Clients send every field; as dockerd, zero and empty leave the
        // container's value alone (a PidsLimit of 0 is "unlimited").
        for (k, v) in fields {
            let unchanged = if k == "PidsLimit" {
                v.is_null()
            } else {
                is_empty(v)
            };
            if UPDATABLE.contains(&k.as_str()) && !unchanged {
                hc[k] = v.clone();
            }
        }
        let mut hc: HostConfig = serde_json::from_value(hc)
            .map_err(|e| Error::Invalid(format!("invalid update: {e}")))?;
        validate_host_config(&mut hc)?;
        let warnings = sysinfo::verify(&mut hc, sysinfo::SysInfo::host(), true)?;
        let mut next = c.clone();
        next.host_config = hc;
        if next.is_running() {
            let resources = self.live_resources(&next)?;
            shim_query(&self.shim_socket(&c.id), &Request::Update { resources })
                .await
                .map_err(|e| Error::Internal(format!("updating {}: {e}", c.name)))?;
        }
        let updated = self.update(&c.id, |c| {
            c.host_config = next.host_config.clone();
            c.clone()
        })?;
        self.event("update", &updated, &[]);
        Ok(warnings)
    }

    /// The limits for a running container's cgroup, as its spec has them;
    /// the device rules, set at create, stay as they are.
    fn live_resources(&self, c: &Container) -> Result<serde_json::Value> {
        let layers = self.layers(c)?;
        let files = spec::Files {
            hosts: Path::new("/"),
            hostname: Path::new("/"),
            resolv: Path::new("/"),
            shared_network: None,
        };
        // Resources only: the mounts stay as the start made them.
        let spec = spec::build(
            c,
            &[],
            &layers,
            &files,
            &self.config.cgroup_parent,
            Vec::new(),
        )?;
        let mut resources = spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().clone())
            .unwrap_or_default();
        resources.set_devices(None);
        Ok(serde_json::to_value(resources).expect("json serializes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: serde_json::Value) -> (Config, HostConfig) {
        let mut v = v;
        let hc = v
            .as_object_mut()
            .and_then(|o| o.remove("HostConfig"))
            .unwrap_or_else(|| serde_json::json!({}));
        (
            serde_json::from_value(v).unwrap(),
            serde_json::from_value(hc).unwrap(),
        )
    }

    #[test]
    fn what_clients_send_by_default_is_not_refused() {
        // docker's CLI (28) without flags; and the Python SDK with a bind,
        // whose target it lists in Config.Volumes too.
        for v in [
            serde_json::json!({"Image": "x", "Volumes": {}, "HostConfig": {
                "Binds": null, "NetworkMode": "default", "PortBindings": {},
                "VolumeDriver": "", "VolumesFrom": null, "Links": null, "PidMode": "",
                "IpcMode": "", "UTSMode": "", "PublishAllPorts": false, "Devices": [],
                "DeviceRequests": null}}),
            serde_json::json!({"Image": "x", "Volumes": {"/x": {}}, "HostConfig": {
                "NetworkMode": "default", "Binds": ["/tmp:/x:ro"]}}),
            serde_json::json!({"Image": "x", "HostConfig": {"PortBindings": {"80/tcp": null},
                "NetworkMode": "none"}}),
            // docker's CLI 28: an endpoint for the network mode, all empty.
            serde_json::json!({"Image": "x", "HostConfig": {"NetworkMode": "default",
                "Cgroup": "", "UsernsMode": "", "Isolation": "", "CpuCount": 0},
                "NetworkingConfig": {"EndpointsConfig": {"default": {"IPAMConfig": null,
                "Links": null, "Aliases": null, "MacAddress": "", "DriverOpts": null,
                "GwPriority": 0, "NetworkID": "", "IPPrefixLen": 0, "DNSNames": null}}}}),
        ] {
            let (c, hc) = body(v.clone());
            let _ = c;
            refuse_unsupported(&hc).unwrap_or_else(|e| panic!("{v}: {e}"));
        }
    }

    #[test]
    fn unsupported_fields_are_refused_by_name() {
        for (hc, says) in [
            (
                serde_json::json!({"PidMode": "container:a"}),
                "--pid container:a",
            ),
            (
                serde_json::json!({"UsernsMode": "private"}),
                "--userns private",
            ),
            (
                serde_json::json!({"Cgroup": "container:a"}),
                "HostConfig.Cgroup",
            ),
            (
                serde_json::json!({"StorageOpt": {"size": "1G"}}),
                "HostConfig.StorageOpt",
            ),
        ] {
            let (_, hc) = body(serde_json::json!({"Image": "x", "HostConfig": hc}));
            let e = refuse_unsupported(&hc).unwrap_err();
            assert_eq!(e.status(), 400);
            let msg = e.to_string();
            assert!(
                msg.contains(says) && msg.ends_with("not supported yet"),
                "{msg}"
            );
        }
    }
}
