//! `run`/`create` flags to the Engine API's create body, as docker's CLI builds it.

use std::collections::HashMap;

use anyhow::{Context, Result, anyhow, bail};
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig,
    NetworkingConfig, PortBinding, ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
};

use super::RunArgs;

/// The label carrying `--health-on-failure` (a berth extension).
pub const HEALTH_ON_FAILURE_LABEL: &str = "io.berth.health-on-failure";

/// What `run` attaches, decided from -d, -i and -a.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// The create body, and what to attach.
pub fn build(
    a: &RunArgs,
    detached: bool,
    console: Option<(u16, u16)>,
) -> Result<(ContainerCreateBody, Attach)> {
    let image = a
        .args
        .first()
        .ok_or_else(|| anyhow!("requires at least 1 argument"))?;
    let cmd: Vec<String> = a.args[1..].to_vec();

    let mut attach = Attach::default();
    if !detached {
        if a.attach.is_empty() {
            attach.stdout = true;
            attach.stderr = true;
            attach.stdin = a.interactive;
        } else {
            for s in &a.attach {
                match s.to_ascii_lowercase().as_str() {
                    "stdin" => attach.stdin = true,
                    "stdout" => attach.stdout = true,
                    "stderr" => attach.stderr = true,
                    other => bail!(
                        "invalid argument {other:?} for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
                    ),
                }
            }
        }
    } else if !a.attach.is_empty() {
        bail!("conflicting options: cannot specify both --attach and --detach");
    }

    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(read_env_file(f)?);
    }
    for e in &a.env {
        env.extend(env_entry(e));
    }

    let mut labels: HashMap<String, String> = HashMap::new();
    for l in &a.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    if let Some(v) = &a.health_on_failure {
        match v.as_str() {
            "none" | "kill" | "restart" | "stop" => {}
            _ => bail!(
                "invalid --health-on-failure {v:?}: valid actions are none, kill, restart and stop"
            ),
        }
        labels.insert(HEALTH_ON_FAILURE_LABEL.to_string(), v.clone());
    }

    let mut host = HostConfig {
        auto_remove: Some(a.rm),
        privileged: Some(a.privileged),
        readonly_rootfs: Some(a.read_only),
        restart_policy: Some(parse_restart(&a.restart)?),
        ..Default::default()
    };
    if a.rm && !matches!(a.restart.as_str(), "no" | "") {
        bail!("conflicting options: cannot specify both --restart and --rm");
    }
    if a.init {
        host.init = Some(true);
    }
    if a.log_driver.is_some() || !a.log_opt.is_empty() {
        let mut opts = HashMap::new();
        for kv in &a.log_opt {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                anyhow!(
                    "invalid argument {kv:?} for \"--log-opt\" flag: log options must be KEY=VALUE"
                )
            })?;
            opts.insert(k.to_string(), v.to_string());
        }
        host.log_config = Some(bollard::models::HostConfigLogConfig {
            typ: a.log_driver.clone(),
            config: (!opts.is_empty()).then_some(opts),
        });
    }
    if !a.sysctl.is_empty() {
        let mut map = HashMap::new();
        for kv in &a.sysctl {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                anyhow!("invalid argument {kv:?} for \"--sysctl\" flag: sysctl must be KEY=VALUE")
            })?;
            map.insert(k.to_string(), v.to_string());
        }
        host.sysctls = Some(map);
    }
    if let Some(m) = &a.memory {
        host.memory = Some(
            parse_bytes(m)
                .with_context(|| format!("invalid argument {m:?} for \"-m, --memory\" flag"))?,
        );
    }
    if let Some(s) = &a.shm_size {
        host.shm_size = Some(
            parse_bytes(s)
                .with_context(|| format!("invalid argument {s:?} for \"--shm-size\" flag"))?,
        );
    }
    if let Some(c) = &a.cpus {
        host.nano_cpus = Some(parse_cpus(c)?);
    }
    host.cpu_shares = a.cpu_shares;
    host.pids_limit = a.pids_limit;
    if !a.ulimit.is_empty() {
        host.ulimits = Some(
            a.ulimit
                .iter()
                .map(|u| parse_ulimit(u))
                .collect::<Result<_>>()?,
        );
    }
    if !a.cap_add.is_empty() {
        host.cap_add = Some(a.cap_add.clone());
    }
    if !a.cap_drop.is_empty() {
        host.cap_drop = Some(a.cap_drop.clone());
    }
    if !a.security_opt.is_empty() {
        host.security_opt = Some(a.security_opt.clone());
    }
    if !a.tmpfs.is_empty() {
        let mut m = HashMap::new();
        for t in &a.tmpfs {
            let (p, o) = t.split_once(':').unwrap_or((t, ""));
            if !p.starts_with('/') {
                bail!(
                    "invalid argument {t:?} for \"--tmpfs\" flag: the mount point must be absolute"
                );
            }
            m.insert(p.to_string(), o.to_string());
        }
        host.tmpfs = Some(m);
    }
    if !a.mount.is_empty() {
        host.mounts = Some(
            a.mount
                .iter()
                .map(|m| parse_mount(m))
                .collect::<Result<_>>()?,
        );
    }
    if !a.device.is_empty() {
        host.devices = Some(
            a.device
                .iter()
                .map(|d| parse_device(d))
                .collect::<Result<_>>()?,
        );
    }
    if !a.device_cgroup_rule.is_empty() {
        host.device_cgroup_rules = Some(a.device_cgroup_rule.clone());
    }
    host.pid_mode = a.pid.clone();
    host.ipc_mode = a.ipc.clone();
    host.uts_mode = a.uts.clone();
    if !a.group_add.is_empty() {
        host.group_add = Some(a.group_add.clone());
    }
    if !a.add_host.is_empty() {
        let mut hosts = Vec::new();
        for h in &a.add_host {
            let (name, ip) = h
                .split_once('=')
                .or_else(|| h.split_once(':'))
                .ok_or_else(|| anyhow!("invalid argument {h:?} for \"--add-host\" flag: bad format for add-host: {h:?}"))?;
            hosts.push(format!("{name}:{ip}"));
        }
        host.extra_hosts = Some(hosts);
    }
    let mode = a
        .network
        .first()
        .cloned()
        .unwrap_or_else(|| "default".to_string());
    host.network_mode = Some(mode.clone());
    let networking = networking_config(a, &mode)?;
    if !a.links.is_empty() {
        host.links = Some(a.links.clone());
    }
    for (flag, list, field) in [
        ("dns", &a.dns, &mut host.dns),
        ("dns-search", &a.dns_search, &mut host.dns_search),
        ("dns-option", &a.dns_option, &mut host.dns_options),
    ] {
        if flag == "dns" {
            for d in list {
                if d.parse::<std::net::IpAddr>().is_err() {
                    bail!("invalid argument {d:?} for \"--dns\" flag: {d} is not an ip address");
                }
            }
        }
        if !list.is_empty() {
            *field = Some(list.clone());
        }
    }
    host.runtime = a.runtime.clone();

    // Volumes: `src:dst[:opts]` are binds (named volumes too); a lone `/dst` is
    // an anonymous volume.
    let mut volumes = Vec::new();
    let mut binds = Vec::new();
    for v in &a.volume {
        if v.contains(':') {
            binds.push(v.clone());
        } else if v.starts_with('/') {
            volumes.push(v.clone());
        } else {
            bail!("invalid argument {v:?} for \"-v, --volume\" flag: invalid volume specification");
        }
    }
    if !binds.is_empty() {
        host.binds = Some(binds);
    }

    let mut exposed: Vec<String> = Vec::new();
    for e in &a.expose {
        exposed.extend(expand_port_spec(e)?);
    }
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &a.publish {
        for (port, binding) in parse_publish(p)? {
            if !exposed.contains(&port) {
                exposed.push(port.clone());
            }
            bindings
                .entry(port)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(binding);
        }
    }
    if !bindings.is_empty() {
        host.port_bindings = Some(bindings);
    }
    if a.publish_all {
        host.publish_all_ports = Some(true);
    }
    if a.tty
        && let Some((h, w)) = console
    {
        host.console_size = Some(vec![h as usize, w as usize]);
    }

    let healthcheck = health(a)?;

    let stdin_once = attach.stdin && !detached;
    let body = ContainerCreateBody {
        image: Some(image.clone()),
        cmd: (!cmd.is_empty()).then_some(cmd),
        entrypoint: a.entrypoint.as_ref().map(|e| vec![e.clone()]),
        env: (!env.is_empty()).then_some(env),
        working_dir: a.workdir.clone(),
        user: a.user.clone(),
        hostname: a.hostname.clone(),
        domainname: a.domainname.clone(),
        labels: (!labels.is_empty()).then_some(labels),
        tty: Some(a.tty),
        open_stdin: Some(a.interactive),
        stdin_once: Some(stdin_once),
        attach_stdin: Some(attach.stdin),
        attach_stdout: Some(attach.stdout),
        attach_stderr: Some(attach.stderr),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        volumes: (!volumes.is_empty()).then_some(volumes),
        healthcheck,
        stop_signal: a.stop_signal.clone(),
        stop_timeout: a.stop_timeout,
        host_config: Some(host),
        networking_config: networking,
        ..Default::default()
    };
    Ok((body, attach))
}

/// `--network` (several), `--network-alias`, `--ip`, `--ip6`,
/// `--mac-address`, `--link-local-ip` as docker's CLI sends them: an
/// endpoint per network, the per-endpoint flags on the first.
fn networking_config(a: &RunArgs, mode: &str) -> Result<Option<NetworkingConfig>> {
    let per_endpoint = !a.network_alias.is_empty()
        || a.ip.is_some()
        || a.ip6.is_some()
        || a.mac_address.is_some()
        || !a.link_local_ip.is_empty();
    if a.network.len() <= 1 && !per_endpoint {
        return Ok(None);
    }
    let mut endpoints = HashMap::new();
    for name in &a.network {
        if endpoints.contains_key(name) {
            bail!("network {name:?} is specified multiple times");
        }
        endpoints.insert(name.clone(), EndpointSettings::default());
    }
    let first = endpoints.entry(mode.to_string()).or_default();
    if !a.network_alias.is_empty() {
        first.aliases = Some(a.network_alias.clone());
    }
    if a.ip.is_some() || a.ip6.is_some() || !a.link_local_ip.is_empty() {
        first.ipam_config = Some(EndpointIpamConfig {
            ipv4_address: a.ip.clone(),
            ipv6_address: a.ip6.clone(),
            link_local_ips: (!a.link_local_ip.is_empty()).then(|| a.link_local_ip.clone()),
        });
    }
    if let Some(mac) = &a.mac_address {
        first.mac_address = Some(mac.clone());
    }
    Ok(Some(NetworkingConfig {
        endpoints_config: Some(endpoints),
    }))
}

fn health(a: &RunArgs) -> Result<Option<HealthConfig>> {
    let any = a.health_cmd.is_some()
        || a.health_interval.is_some()
        || a.health_timeout.is_some()
        || a.health_retries.is_some()
        || a.health_start_period.is_some()
        || a.health_start_interval.is_some();
    if a.no_healthcheck {
        if any {
            bail!("--no-healthcheck conflicts with --health-* options");
        }
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".to_string()]),
            ..Default::default()
        }));
    }
    if !any {
        return Ok(None);
    }
    let dur = |name: &str, v: &Option<String>| -> Result<Option<i64>> {
        v.as_ref()
            .map(|s| {
                let ns = parse_duration_ns(s)
                    .with_context(|| format!("invalid argument {s:?} for \"--{name}\" flag"))?;
                if ns < 0 {
                    bail!("--{name} cannot be negative");
                }
                Ok(ns)
            })
            .transpose()
    };
    if a.health_retries.is_some_and(|r| r < 0) {
        bail!("--health-retries cannot be negative");
    }
    Ok(Some(HealthConfig {
        test: a
            .health_cmd
            .as_ref()
            .map(|c| vec!["CMD-SHELL".to_string(), c.clone()]),
        interval: dur("health-interval", &a.health_interval)?,
        timeout: dur("health-timeout", &a.health_timeout)?,
        retries: a.health_retries,
        start_period: dur("health-start-period", &a.health_start_period)?,
        start_interval: dur("health-start-interval", &a.health_start_interval)?,
    }))
}

/// `-e KEY=v` as is; `-e KEY` takes KEY from this environment, or is dropped.
pub fn env_entry(e: &str) -> Option<String> {
    if e.contains('=') {
        return Some(e.to_string());
    }
    std::env::var(e).ok().map(|v| format!("{e}={v}"))
}

/// docker's env-file: one VAR=value a line, `#` comments, `VAR` alone from
/// the environment.
pub fn read_env_file(path: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("open {path}"))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim_start();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (k, _) = l.split_once('=').unwrap_or((l, ""));
        if k.is_empty() || k.contains(char::is_whitespace) {
            bail!("{path}: variable '{k}' contains whitespaces");
        }
        out.extend(env_entry(l));
    }
    Ok(out)
}

/// docker's RAMInBytes (berth-units): `512`, `32m`, `1.5g`, `64MB`.
pub fn parse_bytes(s: &str) -> Result<i64> {
    berth_units::ram_in_bytes(s).map_err(|e| anyhow!("{e}"))
}

/// `--device HOST[:CONTAINER][:PERMS]`, as docker's CLI splits it.
fn parse_device(spec: &str) -> Result<bollard::models::DeviceMapping> {
    let parts: Vec<&str> = spec.split(':').collect();
    let is_perms = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let (host, container, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_perms(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] if is_perms(p) => (*h, *c, *p),
        _ => bail!("invalid argument {spec:?} for \"--device\" flag: bad format for path: {spec}"),
    };
    if !container.starts_with('/') {
        bail!(
            "invalid argument {spec:?} for \"--device\" flag: {container} is not an absolute path"
        );
    }
    Ok(bollard::models::DeviceMapping {
        path_on_host: Some(host.to_string()),
        path_in_container: Some(container.to_string()),
        cgroup_permissions: Some(perms.to_string()),
    })
}

/// `--mount type=..,source=..,target=..,...` as docker's CLI reads it; an
/// unknown key is refused by name.
fn parse_mount(spec: &str) -> Result<bollard::models::Mount> {
    use serde_json::{Value, json};
    let bad = |why: String| anyhow!("invalid argument {spec:?} for \"--mount\" flag: {why}");
    let mut m = json!({"Type": "volume"});
    let (mut bind, mut tmpfs, mut volume) = (json!({}), json!({}), json!({}));
    let truthy = |v: Option<&str>| -> Result<bool> {
        match v {
            None | Some("1") | Some("true") => Ok(true),
            Some("0") | Some("false") => Ok(false),
            Some(o) => Err(bad(format!("invalid value {o:?}: expected true or false"))),
        }
    };
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v)),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = || {
            v.map(str::to_string)
                .ok_or_else(|| bad(format!("invalid field '{field}' must be a key=value pair")))
        };
        match k.as_str() {
            "type" => m["Type"] = json!(need()?),
            "source" | "src" => m["Source"] = json!(need()?),
            "target" | "dst" | "destination" => m["Target"] = json!(need()?),
            "readonly" | "ro" => m["ReadOnly"] = json!(truthy(v)?),
            "consistency" => m["Consistency"] = json!(need()?),
            "bind-propagation" => bind["Propagation"] = json!(need()?),
            "bind-nonrecursive" => bind["NonRecursive"] = json!(truthy(v)?),
            "bind-create-mountpoint" => bind["CreateMountpoint"] = json!(truthy(v)?),
            "volume-nocopy" => volume["NoCopy"] = json!(truthy(v)?),
            "volume-driver" => volume["DriverConfig"]["Name"] = json!(need()?),
            "volume-opt" | "volume-label" => {
                let kv = need()?;
                let (ok, ov) = kv
                    .split_once('=')
                    .ok_or_else(|| bad(format!("invalid {k} {kv:?}")))?;
                let slot = if k == "volume-opt" {
                    "/DriverConfig/Options"
                } else {
                    "/Labels"
                };
                if volume.pointer(slot).is_none() {
                    if k == "volume-opt" {
                        volume["DriverConfig"]["Options"] = json!({});
                    } else {
                        volume["Labels"] = json!({});
                    }
                }
                if let Some(Value::Object(o)) = volume.pointer_mut(slot) {
                    o.insert(ok.to_string(), json!(ov));
                }
            }
            "tmpfs-size" => {
                let n = parse_bytes(&need()?).map_err(|e| bad(format!("tmpfs-size: {e}")))?;
                tmpfs["SizeBytes"] = json!(n);
            }
            "tmpfs-mode" => {
                let mode = need()?;
                let n = i64::from_str_radix(&mode, 8)
                    .map_err(|_| bad(format!("tmpfs-mode {mode:?} is not an octal mode")))?;
                tmpfs["Mode"] = json!(n);
            }
            other => return Err(bad(format!("unexpected key '{other}' in '{field}'"))),
        }
    }
    if m["Target"].is_null() {
        return Err(bad("target is required".into()));
    }
    for (key, opts) in [
        ("BindOptions", bind),
        ("TmpfsOptions", tmpfs),
        ("VolumeOptions", volume),
    ] {
        if opts.as_object().is_some_and(|o| !o.is_empty()) {
            m[key] = opts;
        }
    }
    serde_json::from_value(m).map_err(|e| bad(e.to_string()))
}

/// `--cpus 1.5` in nano CPUs.
pub fn parse_cpus(s: &str) -> Result<i64> {
    let v: f64 = s.parse().map_err(|_| {
        anyhow!(
            "invalid argument {s:?} for \"--cpus\" flag: failed to parse {s} as a rational number"
        )
    })?;
    if v < 0.0 {
        bail!("invalid argument {s:?} for \"--cpus\" flag: value must be positive");
    }
    Ok((v * 1e9).round() as i64)
}

/// Go's duration syntax (`1m30s`, `500ms`, `2h`), in nanoseconds.
pub fn parse_duration_ns(s: &str) -> Result<i64> {
    berth_units::parse_go_duration(s.trim()).map_err(|e| anyhow!(e))
}

/// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
pub fn parse_restart(s: &str) -> Result<RestartPolicy> {
    let (name, count) = s.split_once(':').unwrap_or((s, ""));
    let name = match name {
        "" | "no" => RestartPolicyNameEnum::NO,
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        _ => bail!(
            "invalid restart policy format: {s:?}: valid policies are no, always, unless-stopped and on-failure[:max-retries]"
        ),
    };
    let maximum_retry_count = if count.is_empty() {
        None
    } else {
        if name != RestartPolicyNameEnum::ON_FAILURE {
            bail!(
                "invalid restart policy format: maximum retry count can only be used with 'on-failure'"
            );
        }
        Some(count.parse::<i64>().map_err(|_| {
            anyhow!("invalid restart policy format: maximum retry count must be an integer")
        })?)
    };
    Ok(RestartPolicy {
        name: Some(name),
        maximum_retry_count,
    })
}

/// `nofile=1024[:2048]`.
pub fn parse_ulimit(s: &str) -> Result<ResourcesUlimits> {
    let bad =
        || anyhow!("invalid argument {s:?} for \"--ulimit\" flag: invalid ulimit argument: {s}");
    let (name, vals) = s.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = vals.split_once(':').unwrap_or((vals, vals));
    let soft: i64 = soft.parse().map_err(|_| bad())?;
    let hard: i64 = hard.parse().map_err(|_| bad())?;
    if soft > hard && hard != -1 {
        bail!(
            "invalid argument {s:?} for \"--ulimit\" flag: ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        );
    }
    Ok(ResourcesUlimits {
        name: Some(name.to_string()),
        soft: Some(soft),
        hard: Some(hard),
    })
}

/// `80`, `80/udp`, `8000-8010/tcp` to `port/proto` keys.
fn expand_port_spec(spec: &str) -> Result<Vec<String>> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let (lo, hi) = parse_range(ports).with_context(|| format!("invalid containerPort: {ports}"))?;
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

fn parse_range(s: &str) -> Result<(u16, u16)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse()?;
    let b: u16 = b.parse()?;
    if b < a {
        bail!("invalid range");
    }
    Ok((a, b))
}

/// `-p [ip:][hostPort:]containerPort[/proto]`, ranges allowed.
fn parse_publish(spec: &str) -> Result<Vec<(String, PortBinding)>> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p),
        None => (spec, "tcp"),
    };
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        bail!("invalid argument {spec:?} for \"-p, --publish\" flag: invalid proto: {proto}");
    }
    // An IPv6 host IP is bracketed: [::1]:80:80.
    let (ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, r) = r
            .split_once("]:")
            .ok_or_else(|| anyhow!("invalid argument {spec:?} for \"-p, --publish\" flag"))?;
        (ip.to_string(), r.to_string())
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), rest.to_string()),
            3 => (parts[0].to_string(), format!("{}:{}", parts[1], parts[2])),
            _ => bail!("invalid argument {spec:?} for \"-p, --publish\" flag: too many colons"),
        }
    };
    let (host_ports, container_ports) = match rest.split_once(':') {
        Some((h, c)) => (h.to_string(), c.to_string()),
        None => (String::new(), rest.clone()),
    };
    let (clo, chi) = parse_range(&container_ports)
        .map_err(|_| anyhow!("invalid argument {spec:?} for \"-p, --publish\" flag: invalid containerPort: {container_ports}"))?;
    let host_range = if host_ports.is_empty() {
        None
    } else {
        Some(
            parse_range(&host_ports)
                .map_err(|_| anyhow!("invalid argument {spec:?} for \"-p, --publish\" flag: invalid hostPort: {host_ports}"))?,
        )
    };
    let mut out = Vec::new();
    for (i, cp) in (clo..=chi).enumerate() {
        let host_port = match host_range {
            None => String::new(),
            Some((hlo, hhi)) if hhi - hlo == chi - clo => (hlo + i as u16).to_string(),
            Some((hlo, hhi)) if hlo == hhi => hlo.to_string(),
            Some((hlo, hhi)) => format!("{hlo}-{hhi}"),
        };
        out.push((
            format!("{cp}/{proto}"),
            PortBinding {
                host_ip: Some(ip.clone()),
                host_port: Some(host_port),
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("32m").unwrap(), 32 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("64MB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("512").unwrap(), 512);
        assert!(parse_bytes("12x").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration_ns("500ms").unwrap(), 500_000_000);
        assert!(parse_duration_ns("5").is_err());
    }

    #[test]
    fn publish() {
        let p = parse_publish("127.0.0.1:8080:80").unwrap();
        assert_eq!(p[0].0, "80/tcp");
        assert_eq!(p[0].1.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(p[0].1.host_port.as_deref(), Some("8080"));
        let p = parse_publish("8000-8001:80-81/udp").unwrap();
        assert_eq!(p[1].0, "81/udp");
        assert_eq!(p[1].1.host_port.as_deref(), Some("8001"));
        let p = parse_publish("53").unwrap();
        assert_eq!(p[0].1.host_port.as_deref(), Some(""));
    }

    #[test]
    fn restart() {
        let r = parse_restart("on-failure:3").unwrap();
        assert_eq!(r.maximum_retry_count, Some(3));
        assert!(parse_restart("sometimes").is_err());
        assert!(parse_restart("always:2").is_err());
    }
}
