//! `compose up`: the project's networks and volumes made, its images built
//! or pulled, and each service's containers brought to what the model says,
//! in the order depends_on gives, waiting for the conditions it names.
//!
//! A container is kept when its config hash and image are the model's (a
//! second `up` changes nothing), recreated when they are not, and made
//! when missing; containers numbered beyond the service's scale go.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use berth_client::Engine;
use serde_json::{Value, json};

use crate::model::{Project, Service};
use crate::{build, engine, labels, spec};

#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Services named on the command line (all when empty).
    pub services: Vec<String>,
    pub build: bool,
    pub no_build: bool,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub no_deps: bool,
    pub remove_orphans: bool,
    /// `--scale svc=n`.
    pub scale: BTreeMap<String, u32>,
    /// `--wait`: until every container runs (and is healthy if it has a
    /// healthcheck).
    pub wait: bool,
    /// Seconds to wait for dependencies to become healthy and for `--wait`.
    pub wait_timeout: Option<u64>,
    /// Stop timeout for recreated containers.
    pub timeout: Option<i64>,
}

fn say(kind: &str, name: &str, what: &str) {
    eprintln!(" ✔ {kind} {name}  {what}");
}

/// The services `names` need, dependencies first (all when `names` is
/// empty); a cycle is refused.
pub fn order(project: &Project, names: &[String], with_deps: bool) -> Result<Vec<String>> {
    for n in names {
        if !project.services.contains_key(n) {
            bail!("no such service: {n}");
        }
    }
    let roots: Vec<String> = if names.is_empty() {
        project.services.keys().cloned().collect()
    } else {
        names.to_vec()
    };
    let mut out = Vec::new();
    let mut visiting = BTreeSet::new();
    fn visit(
        p: &Project,
        n: &str,
        deps: bool,
        visiting: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) -> Result<()> {
        if out.iter().any(|o| o == n) {
            return Ok(());
        }
        if !visiting.insert(n.to_string()) {
            bail!("dependency cycle detected: service {n} depends on itself");
        }
        if deps && let Some(s) = p.services.get(n) {
            for d in s.depends_on.keys() {
                if p.services.contains_key(d) {
                    visit(p, d, deps, visiting, out)?;
                }
            }
        }
        visiting.remove(n);
        out.push(n.to_string());
        Ok(())
    }
    for r in &roots {
        visit(project, r, with_deps, &mut visiting, &mut out)?;
    }
    Ok(out)
}

/// Makes the project's networks and volumes the services use.
pub async fn ensure_resources(e: &Engine, project: &Project, services: &[String]) -> Result<()> {
    let mut nets = BTreeSet::new();
    let mut vols = BTreeSet::new();
    for s in services {
        let svc = &project.services[s];
        nets.extend(svc.networks.keys().cloned());
        for v in &svc.volumes {
            if v.kind == "volume"
                && let Some(src) = &v.source
                && project.volumes.contains_key(src)
            {
                vols.insert(src.clone());
            }
        }
    }
    for key in nets {
        let Some(net) = project.networks.get(&key) else {
            bail!("service network {key} is not declared in the project's networks");
        };
        let path = format!("/networks/{}", net.name);
        if engine::exists(e, &path).await? {
            continue;
        }
        if net.external {
            bail!(
                "network {} declared as external, but could not be found",
                net.name
            );
        }
        let mut labels = net.labels.clone();
        labels.insert(labels::PROJECT.into(), project.name.clone());
        labels.insert(labels::NETWORK.into(), key.clone());
        labels.insert(labels::VERSION.into(), labels::COMPOSE_VERSION.into());
        if net.enable_ipv4 == Some(false) {
            bail!(
                "network {}: enable_ipv4: false is not supported by berth",
                net.name
            );
        }
        let mut body = json!({
            "Name": net.name,
            "Driver": net.driver.clone().unwrap_or_else(|| "bridge".into()),
            "Internal": net.internal,
            "Attachable": net.attachable,
            "EnableIPv6": net.enable_ipv6,
            "Options": net.driver_opts,
            "Labels": labels,
            "CheckDuplicate": true,
        });
        if let Some(ipam) = &net.ipam {
            body["IPAM"] = json!({
                "Driver": ipam.driver.clone().unwrap_or_else(|| "default".into()),
                "Options": ipam.options,
                "Config": ipam.config.iter().map(|c| {
                    let mut m = json!({});
                    if let Some(s) = &c.subnet { m["Subnet"] = json!(s); }
                    if let Some(g) = &c.gateway { m["Gateway"] = json!(g); }
                    if let Some(r) = &c.ip_range { m["IPRange"] = json!(r); }
                    if !c.aux_addresses.is_empty() { m["AuxiliaryAddresses"] = json!(c.aux_addresses); }
                    m
                }).collect::<Vec<_>>(),
            });
        }
        e.post_json("/networks/create", &body)
            .await
            .with_context(|| format!("creating network {}", net.name))?;
        say("Network", &net.name, "Created");
    }
    for key in vols {
        let vol = &project.volumes[&key];
        let path = format!("/volumes/{}", vol.name);
        if engine::exists(e, &path).await? {
            continue;
        }
        if vol.external {
            bail!("external volume \"{}\" not found", vol.name);
        }
        let mut labels = vol.labels.clone();
        labels.insert(labels::PROJECT.into(), project.name.clone());
        labels.insert(labels::VOLUME.into(), key.clone());
        labels.insert(labels::VERSION.into(), labels::COMPOSE_VERSION.into());
        e.post_json(
            "/volumes/create",
            &json!({
                "Name": vol.name,
                "Driver": vol.driver.clone().unwrap_or_else(|| "local".into()),
                "DriverOpts": vol.driver_opts,
                "Labels": labels,
            }),
        )
        .await
        .with_context(|| format!("creating volume {}", vol.name))?;
        say("Volume", &format!("\"{}\"", vol.name), "Created");
    }
    Ok(())
}

/// The image id a service runs, building or pulling it as needed.
pub async fn ensure_image(
    e: &Engine,
    project: &Project,
    name: &str,
    opts: &UpOptions,
) -> Result<String> {
    let service = &project.services[name];
    let image = spec::image_name(project, name, service);
    let have = engine::image_id(e, &image).await?;
    if service.build.is_some() && !opts.no_build && (opts.build || have.is_none()) {
        return build::build(e, project, name, false).await;
    }
    if let Some(id) = have
        && service.pull_policy.as_deref() != Some("always")
    {
        return Ok(id);
    }
    if service.pull_policy.as_deref() == Some("never") {
        bail!("service {name}: image {image} is not here and pull_policy is never");
    }
    crate::pull::pull(e, &image).await?;
    engine::image_id(e, &image)
        .await?
        .ok_or_else(|| anyhow::anyhow!("service {name}: image {image} is missing after its pull"))
}

/// Waits until `dep`'s containers meet `condition`.
async fn wait_for(
    e: &Engine,
    project: &Project,
    dep: &str,
    condition: &str,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let list = engine::containers(e, &project.name, Some(dep)).await?;
        let mut all = !list.is_empty();
        for c in &list {
            let id = c["Id"].as_str().unwrap_or_default();
            let i = engine::inspect(e, id).await?;
            let name = i["Name"].as_str().unwrap_or(id).trim_start_matches('/');
            let state = &i["State"];
            let ok = match condition {
                "service_healthy" => match state["Health"]["Status"].as_str() {
                    Some("healthy") => true,
                    Some("unhealthy") => {
                        bail!("dependency failed to start: container {name} is unhealthy")
                    }
                    None => bail!(
                        "dependency failed to start: container {name} has no healthcheck configured"
                    ),
                    _ => {
                        if !state["Running"].as_bool().unwrap_or(false) {
                            bail!(
                                "dependency failed to start: container {name} exited ({})",
                                state["ExitCode"]
                            );
                        }
                        false
                    }
                },
                "service_completed_successfully" => {
                    if state["Running"].as_bool().unwrap_or(false) {
                        false
                    } else if state["ExitCode"].as_i64() == Some(0) {
                        true
                    } else {
                        bail!(
                            "service {dep} didn't complete successfully: exit {}",
                            state["ExitCode"]
                        );
                    }
                }
                _ => state["Running"].as_bool().unwrap_or(false) || state["Status"] == "exited",
            };
            all &= ok;
        }
        if all {
            if condition == "service_healthy" {
                for c in &list {
                    let name = c["Names"][0]
                        .as_str()
                        .unwrap_or_default()
                        .trim_start_matches('/');
                    say("Container", name, "Healthy");
                }
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "timed out waiting for service {dep} to be {}",
                condition.trim_start_matches("service_")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Makes bind sources the short syntax asked to have.
fn make_host_paths(service: &Service) -> Result<()> {
    for v in &service.volumes {
        if v.kind == "bind"
            && v.bind.as_ref().is_some_and(|b| b.create_host_path)
            && let Some(src) = &v.source
        {
            std::fs::create_dir_all(src)
                .with_context(|| format!("creating the bind source {src}"))?;
        }
    }
    Ok(())
}

/// Brings service `name`'s containers to the model; returns their ids.
pub async fn converge(
    e: &Engine,
    project: &Project,
    name: &str,
    image_id: &str,
    opts: &UpOptions,
    env: &BTreeMap<String, String>,
) -> Result<Vec<String>> {
    let service = &project.services[name];
    make_host_paths(service)?;
    let want = opts
        .scale
        .get(name)
        .copied()
        .unwrap_or_else(|| service.replicas());
    let hash = labels::config_hash(service);
    let mut existing: BTreeMap<u32, Value> = BTreeMap::new();
    for c in engine::containers(e, &project.name, Some(name)).await? {
        if c["Labels"][labels::ONEOFF].as_str() == Some("True") {
            continue;
        }
        let n: u32 = c["Labels"][labels::NUMBER]
            .as_str()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        existing.insert(n, c);
    }
    let mut ids = Vec::new();
    for n in 1..=want {
        let cname = spec::container_name(project, name, service, n);
        if let Some(c) = existing.remove(&n) {
            let id = c["Id"].as_str().unwrap_or_default().to_string();
            let same = c["Labels"][labels::CONFIG_HASH].as_str() == Some(hash.as_str())
                && c["Labels"][labels::IMAGE].as_str() == Some(image_id);
            if opts.no_recreate || (same && !opts.force_recreate) {
                let running = c["State"].as_str() == Some("running");
                engine::start(e, &id).await?;
                say(
                    "Container",
                    &cname,
                    if running { "Running" } else { "Started" },
                );
                ids.push(id);
                continue;
            }
            engine::stop(e, &id, opts.timeout).await?;
            engine::remove(e, &id, false).await?;
            let id = create(e, project, name, service, n, image_id, env).await?;
            engine::start(e, &id).await?;
            say("Container", &cname, "Recreated");
            ids.push(id);
        } else {
            let id = create(e, project, name, service, n, image_id, env).await?;
            engine::start(e, &id).await?;
            say("Container", &cname, "Started");
            ids.push(id);
        }
    }
    // Scaled down: the highest numbers go.
    for (_, c) in existing.into_iter().rev() {
        let id = c["Id"].as_str().unwrap_or_default();
        engine::stop(e, id, opts.timeout).await?;
        engine::remove(e, id, false).await?;
        let cname = c["Names"][0].as_str().unwrap_or(id).trim_start_matches('/');
        say("Container", cname, "Removed");
    }
    Ok(ids)
}

async fn create(
    e: &Engine,
    project: &Project,
    name: &str,
    service: &Service,
    number: u32,
    image_id: &str,
    env: &BTreeMap<String, String>,
) -> Result<String> {
    create_with(e, project, name, service, number, image_id, env, |_| {}).await
}

/// Creates container `number` of the service (its secrets and configs in,
/// its other networks connected); `adjust` changes the create body first
/// (a one-off container's labels).
#[allow(clippy::too_many_arguments)]
pub async fn create_with(
    e: &Engine,
    project: &Project,
    name: &str,
    service: &Service,
    number: u32,
    image_id: &str,
    env: &BTreeMap<String, String>,
    adjust: impl FnOnce(&mut Value),
) -> Result<String> {
    let cname = spec::container_name(project, name, service, number);
    let mut body = spec::create_body(project, name, service, number, image_id, env);
    adjust(&mut body);
    for m in crate::files::mounts(project, service)? {
        body["HostConfig"]["Mounts"]
            .as_array_mut()
            .expect("create_body makes Mounts a list")
            .push(m);
    }
    let id = engine::create(e, &cname, &body).await?;
    crate::files::copy_in(e, project, service, &id, env).await?;
    if service.network_mode.is_none() {
        for (net, _) in spec::networks(project, service).into_iter().skip(1) {
            let ep = spec::endpoint_for(project, name, service, &cname, &net);
            engine::connect(e, &net, &id, &ep).await?;
        }
    }
    Ok(id)
}

/// `up`: returns the containers made or kept, by service.
pub async fn up(
    e: &Engine,
    project: &Project,
    opts: &UpOptions,
    env: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Vec<String>>> {
    let services = order(project, &opts.services, !opts.no_deps)?;
    port_clashes(project, &services, opts)?;
    // Images first: a build that fails leaves no network or volume.
    let mut images = BTreeMap::new();
    for s in &services {
        images.insert(s.clone(), ensure_image(e, project, s, opts).await?);
    }
    ensure_resources(e, project, &services).await?;
    let timeout = Duration::from_secs(opts.wait_timeout.unwrap_or(300));
    let mut made = BTreeMap::new();
    for s in &services {
        let service = &project.services[s];
        for (dep, cond) in &service.depends_on {
            if !services.contains(dep) {
                continue;
            }
            wait_for(e, project, dep, &cond.condition, timeout).await?;
        }
        let ids = converge(e, project, s, &images[s], opts, env).await?;
        made.insert(s.clone(), ids);
    }
    orphans(e, project, opts.remove_orphans).await?;
    if opts.wait {
        for s in &services {
            let has_health = project.services[s]
                .healthcheck
                .as_ref()
                .is_some_and(|h| !h.disable);
            let cond = if has_health {
                "service_healthy"
            } else {
                "service_started"
            };
            wait_for(e, project, s, cond, timeout).await?;
        }
    }
    Ok(made)
}

/// Two containers that would publish the same host port: refused before
/// anything starts (the second would fail with the first running).
fn port_clashes(project: &Project, services: &[String], opts: &UpOptions) -> Result<()> {
    let mut taken: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for s in services {
        let svc = &project.services[s];
        let n = opts.scale.get(s).copied().unwrap_or_else(|| svc.replicas());
        for p in &svc.ports {
            let Some(published) = p.published.as_ref().filter(|p| !p.contains('-')) else {
                continue;
            };
            let ip = p.host_ip.clone().unwrap_or_default();
            let key = (ip.clone(), published.clone(), p.protocol.clone());
            if let Some(other) = taken.get(&key) {
                let on = if ip.is_empty() {
                    String::new()
                } else {
                    format!(" on {ip}")
                };
                bail!(
                    "services {other} and {s} both publish port {published}/{}{on}",
                    p.protocol
                );
            }
            if n > 1 {
                bail!(
                    "service {s} publishes the fixed host port {published} and runs {n} containers: they cannot all bind it (publish a range or no host port)"
                );
            }
            taken.insert(key, s.clone());
        }
    }
    Ok(())
}

/// Containers of the project whose service is gone: reported, or removed.
pub async fn orphans(e: &Engine, project: &Project, remove: bool) -> Result<()> {
    let mut found = Vec::new();
    for c in engine::containers(e, &project.name, None).await? {
        let svc = c["Labels"][labels::SERVICE].as_str().unwrap_or_default();
        if !project.services.contains_key(svc) && !project.disabled.contains_key(svc) {
            found.push(c);
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    if remove {
        for c in &found {
            let id = c["Id"].as_str().unwrap_or_default();
            engine::stop(e, id, None).await?;
            engine::remove(e, id, false).await?;
            let n = c["Names"][0].as_str().unwrap_or(id).trim_start_matches('/');
            say("Container", n, "Removed");
        }
    } else {
        let names: Vec<&str> = found
            .iter()
            .filter_map(|c| c["Names"][0].as_str())
            .map(|n| n.trim_start_matches('/'))
            .collect();
        eprintln!(
            "WARN[0000] Found orphan containers ({}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(", ")
        );
    }
    Ok(())
}
