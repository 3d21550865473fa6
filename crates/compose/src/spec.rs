//! A service's container as the Engine API creates it: the `Config`,
//! `HostConfig` and first network of `POST /containers/create`, made from
//! the resolved model; other networks are connected after the create (an
//! API before 1.44 takes one network at create).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::labels;
use crate::model::{Project, Service};

/// The image a service runs: its `image`, else the one `build` makes,
/// named `<project>-<service>` as docker compose names it.
pub fn image_name(project: &Project, name: &str, service: &Service) -> String {
    service
        .image
        .clone()
        .unwrap_or_else(|| format!("{}-{name}", project.name))
}

/// `<project>-<service>-<n>`, or `container_name`.
pub fn container_name(project: &Project, name: &str, service: &Service, number: u32) -> String {
    service
        .container_name
        .clone()
        .unwrap_or_else(|| format!("{}-{name}-{number}", project.name))
}

/// The networks a service is on, by the engine's names, in the order
/// compose connects them (priority, then name), with their settings.
pub fn networks<'a>(
    project: &'a Project,
    service: &'a Service,
) -> Vec<(String, &'a crate::model::ServiceNetwork)> {
    let mut list: Vec<(&String, &crate::model::ServiceNetwork)> = service.networks.iter().collect();
    list.sort_by_key(|(k, n)| (-n.priority.unwrap_or(0), (*k).clone()));
    list.into_iter()
        .map(|(key, n)| {
            let name = project
                .networks
                .get(key)
                .map(|net| net.name.clone())
                .unwrap_or_else(|| format!("{}_{key}", project.name));
            (name, n)
        })
        .collect()
}

fn endpoint(service_name: &str, container: &str, n: &crate::model::ServiceNetwork) -> Value {
    let mut aliases = vec![service_name.to_string(), container.to_string()];
    aliases.extend(n.aliases.iter().cloned());
    let mut e = json!({ "Aliases": aliases });
    if n.ipv4_address.is_some() || n.ipv6_address.is_some() {
        e["IPAMConfig"] = json!({
            "IPv4Address": n.ipv4_address.clone().unwrap_or_default(),
            "IPv6Address": n.ipv6_address.clone().unwrap_or_default(),
        });
    }
    e
}

/// The endpoint settings of the service's container on network `net`.
pub fn endpoint_for(
    project: &Project,
    service_name: &str,
    service: &Service,
    container: &str,
    net: &str,
) -> Value {
    networks(project, service)
        .into_iter()
        .find(|(n, _)| n == net)
        .map(|(_, s)| endpoint(service_name, container, s))
        .unwrap_or_else(|| json!({}))
}

/// The body of `POST /containers/create` for container `number` of the
/// service; `env` is the environment `up` runs in (for variables the
/// model names without a value).
#[allow(clippy::too_many_arguments)]
pub fn create_body(
    project: &Project,
    name: &str,
    service: &Service,
    number: u32,
    image_id: &str,
    env: &BTreeMap<String, String>,
) -> Value {
    let container = container_name(project, name, service, number);
    let mut labels: Map<String, Value> = service
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    for (k, v) in [
        (labels::PROJECT, project.name.clone()),
        (labels::SERVICE, name.to_string()),
        (labels::NUMBER, number.to_string()),
        (labels::ONEOFF, "False".to_string()),
        (labels::CONFIG_HASH, labels::config_hash(service)),
        (labels::IMAGE, image_id.to_string()),
        (labels::VERSION, labels::COMPOSE_VERSION.to_string()),
        (
            labels::WORKING_DIR,
            project.working_dir.display().to_string(),
        ),
        (
            labels::CONFIG_FILES,
            project
                .config_files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            labels::DEPENDS_ON,
            service
                .depends_on
                .iter()
                .map(|(d, c)| format!("{d}:{}:{}", c.condition, c.restart))
                .collect::<Vec<_>>()
                .join(","),
        ),
    ] {
        labels.insert(k.to_string(), json!(v));
    }
    let environment: Vec<String> = service
        .environment
        .iter()
        .filter_map(|(k, v)| match v {
            Some(v) => Some(format!("{k}={v}")),
            None => env.get(k).map(|v| format!("{k}={v}")),
        })
        .collect();
    let mut exposed = Map::new();
    let mut bindings: Map<String, Value> = Map::new();
    for p in &service.ports {
        let key = format!("{}/{}", p.target, p.protocol);
        exposed.insert(key.clone(), json!({}));
        let entry = bindings.entry(key).or_insert_with(|| json!([]));
        entry.as_array_mut().expect("made an array").push(json!({
            "HostIp": p.host_ip.clone().unwrap_or_default(),
            "HostPort": p.published.clone().unwrap_or_default(),
        }));
    }
    for e in &service.expose {
        let key = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        exposed.insert(key, json!({}));
    }
    let mut mounts = Vec::new();
    for v in &service.volumes {
        let mut m = json!({
            "Type": v.kind,
            "Target": v.target,
            "ReadOnly": v.read_only,
        });
        match v.kind.as_str() {
            "volume" => {
                let source = v.source.as_ref().map(|s| {
                    project
                        .volumes
                        .get(s)
                        .map(|vol| vol.name.clone())
                        .unwrap_or_else(|| s.clone())
                });
                m["Source"] = json!(source.unwrap_or_default());
                if let Some(o) = &v.volume {
                    let mut vo = json!({ "NoCopy": o.nocopy });
                    if let Some(sub) = &o.subpath {
                        vo["Subpath"] = json!(sub);
                    }
                    m["VolumeOptions"] = vo;
                }
            }
            "bind" => {
                m["Source"] = json!(v.source.clone().unwrap_or_default());
                // A missing host path is made by `up` beforehand when the
                // short syntax (create_host_path) asks for it. `z`/`Z`
                // (selinux) relabel on SELinux hosts only; dockerd ignores
                // them elsewhere, and berth runs without SELinux.
                if let Some(p) = v.bind.as_ref().and_then(|b| b.propagation.as_ref()) {
                    m["BindOptions"] = json!({ "Propagation": p });
                }
            }
            "tmpfs" => {
                if let Some(t) = &v.tmpfs {
                    let mut o = json!({});
                    if let Some(s) = t.size {
                        o["SizeBytes"] = json!(s);
                    }
                    if let Some(mode) = t.mode {
                        o["Mode"] = json!(mode);
                    }
                    m["TmpfsOptions"] = o;
                }
            }
            _ => {}
        }
        mounts.push(m);
    }
    let restart = match service.restart.as_deref() {
        None | Some("no") | Some("") => json!({ "Name": "no" }),
        Some(r) => match r.split_once(':') {
            Some((name, n)) => {
                json!({ "Name": name, "MaximumRetryCount": n.parse::<i64>().unwrap_or(0) })
            }
            None => json!({ "Name": r }),
        },
    };
    let nets = networks(project, service);
    let network_mode = match &service.network_mode {
        Some(m) => match m.strip_prefix("service:") {
            // `service:x` is the first container of service x.
            Some(other) => format!("container:{}-{other}-1", project.name),
            None => m.clone(),
        },
        None => nets.first().map(|(n, _)| n.clone()).unwrap_or_default(),
    };
    let limits = service
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.limits.as_ref());
    let memory = service
        .mem_limit
        .or(limits.and_then(|l| l.memory))
        .unwrap_or(0);
    let cpus = service.cpus.or(limits.and_then(|l| l.cpus)).unwrap_or(0.0);
    let mut host = json!({
        "Mounts": mounts,
        "PortBindings": bindings,
        "RestartPolicy": restart,
        "NetworkMode": network_mode,
        "ReadonlyRootfs": service.read_only,
        "Privileged": service.privileged,
        "CapAdd": service.cap_add,
        "CapDrop": service.cap_drop,
        "ExtraHosts": service.extra_hosts,
        "Dns": service.dns,
        "DnsSearch": service.dns_search,
        "Memory": memory,
        "NanoCpus": (cpus * 1e9) as i64,
        "SecurityOpt": service.security_opt,
        "Sysctls": service.sysctls,
        "Ulimits": service.ulimits.iter().map(|(n, u)| json!({"Name": n, "Soft": u.soft, "Hard": u.hard})).collect::<Vec<_>>(),
    });
    if let Some(i) = service.init {
        host["Init"] = json!(i);
    }
    if !service.dns_opt.is_empty() {
        host["DnsOptions"] = json!(service.dns_opt);
    }
    if !service.group_add.is_empty() {
        host["GroupAdd"] = json!(service.group_add);
    }
    // Links to another service name its first container, under the
    // service's name or the alias given.
    let links: Vec<String> = service
        .links
        .iter()
        .map(|l| {
            let (svc, alias) = l.split_once(':').unwrap_or((l, l));
            format!("{}-{svc}-1:{alias}", project.name)
        })
        .chain(service.external_links.iter().map(|l| {
            let (c, alias) = l.split_once(':').unwrap_or((l, l));
            format!("{c}:{alias}")
        }))
        .collect();
    if !links.is_empty() {
        host["Links"] = json!(links);
    }
    if !service.volumes_from.is_empty() {
        host["VolumesFrom"] = json!(
            service
                .volumes_from
                .iter()
                .map(|v| match v.strip_prefix("container:") {
                    Some(c) => c.to_string(),
                    None => {
                        let (svc, mode) = v
                            .split_once(':')
                            .map_or((v.as_str(), None), |(a, b)| (a, Some(b)));
                        let c = format!("{}-{svc}-1", project.name);
                        mode.map_or(c.clone(), |m| format!("{c}:{m}"))
                    }
                })
                .collect::<Vec<_>>()
        );
    }
    let reservation = service.mem_reservation.or_else(|| {
        service
            .deploy
            .as_ref()
            .and_then(|d| d.resources.as_ref())
            .and_then(|r| r.reservations.as_ref())
            .and_then(|r| r.memory)
    });
    for (field, v) in [
        ("MemoryReservation", reservation),
        ("MemorySwap", service.memswap_limit),
        ("OomScoreAdj", service.oom_score_adj),
        ("CpuShares", service.cpu_shares),
    ] {
        if let Some(v) = v {
            host[field] = json!(v);
        }
    }
    if service.oom_kill_disable {
        host["OomKillDisable"] = json!(true);
    }
    if let Some(p) = service.pids_limit {
        host["PidsLimit"] = json!(p);
    }
    for (field, v) in [
        ("CpusetCpus", &service.cpuset),
        ("CgroupParent", &service.cgroup_parent),
        ("Runtime", &service.runtime),
        ("UsernsMode", &service.userns_mode),
    ] {
        if let Some(v) = v {
            host[field] = json!(v);
        }
    }
    if let Some(s) = service.shm_size {
        host["ShmSize"] = json!(s);
    }
    if let Some(p) = limits.and_then(|l| l.pids) {
        host["PidsLimit"] = json!(p);
    }
    if !service.tmpfs.is_empty() {
        let t: Map<String, Value> = service
            .tmpfs
            .iter()
            .map(|t| match t.split_once(':') {
                Some((p, o)) => (p.to_string(), json!(o)),
                None => (t.clone(), json!("")),
            })
            .collect();
        host["Tmpfs"] = json!(t);
    }
    if let Some(p) = &service.pid {
        host["PidMode"] = json!(p);
    }
    if let Some(i) = &service.ipc {
        host["IpcMode"] = json!(i);
    }
    if !service.devices.is_empty() {
        host["Devices"] = json!(service
            .devices
            .iter()
            .map(|d| {
                let mut parts = d.splitn(3, ':');
                let on_host = parts.next().unwrap_or_default();
                let in_ctr = parts.next().unwrap_or(on_host);
                let perms = parts.next().unwrap_or("rwm");
                json!({"PathOnHost": on_host, "PathInContainer": in_ctr, "CgroupPermissions": perms})
            })
            .collect::<Vec<_>>());
    }
    if let Some(l) = &service.logging {
        host["LogConfig"] = json!({
            "Type": l.driver.clone().unwrap_or_else(|| "json-file".into()),
            "Config": l.options,
        });
    }
    // The image by name, as compose creates it (ps shows it); its id is
    // in the labels, to see when the name moved to another image.
    let mut config = json!({
        "Image": image_name(project, name, service),
        "Env": environment,
        "Labels": labels,
        "ExposedPorts": exposed,
        "Tty": service.tty,
        "OpenStdin": service.stdin_open,
        "AttachStdout": true,
        "AttachStderr": true,
        "HostConfig": host,
    });
    if let Some(c) = &service.command {
        config["Cmd"] = json!(c);
    }
    if let Some(e) = &service.entrypoint {
        config["Entrypoint"] = json!(e);
    }
    for (field, v) in [
        ("User", &service.user),
        ("WorkingDir", &service.working_dir),
        ("Hostname", &service.hostname),
        ("Domainname", &service.domainname),
        ("StopSignal", &service.stop_signal),
    ] {
        if let Some(v) = v {
            config[field] = json!(v);
        }
    }
    if let Some(m) = &service.mac_address {
        config["MacAddress"] = json!(m);
    }
    if let Some(g) = service.stop_grace_period {
        config["StopTimeout"] = json!(g / 1_000_000_000);
    }
    if let Some(h) = &service.healthcheck {
        let test = if h.disable {
            vec!["NONE".to_string()]
        } else {
            h.test.clone()
        };
        let mut hc = json!({ "Test": test });
        for (k, v) in [
            ("Interval", h.interval),
            ("Timeout", h.timeout),
            ("StartPeriod", h.start_period),
            ("StartInterval", h.start_interval),
        ] {
            if let Some(v) = v {
                hc[k] = json!(v);
            }
        }
        if let Some(r) = h.retries {
            hc["Retries"] = json!(r);
        }
        config["Healthcheck"] = hc;
    }
    if service.network_mode.is_none()
        && let Some((first, settings)) = nets.first()
    {
        config["NetworkingConfig"] = json!({
            "EndpointsConfig": { first.clone(): endpoint(name, &container, settings) }
        });
    }
    config
}
