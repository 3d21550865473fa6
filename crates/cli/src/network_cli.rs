//! The network verbs: `network create`, `ls`, `inspect`, `rm`, `connect`,
//! `disconnect`, `prune`, each an Engine API call, so they drive berth's
//! daemon and dockerd alike. Flags, columns and exit codes follow docker's
//! CLI, its checks before the call included.

use std::io::Write;
use std::net::IpAddr;

use anyhow::{Result, bail};
use berth_client::models::network::{Network, NetworkPruneResponse};
use berth_client::{Engine, status_of};
use clap::{Args, Subcommand};
use ipnet::IpNet;
use serde_json::{Value, json};

use crate::container_cli::format as fmt;
use crate::container_cli::gotypes::Kind;
use crate::container_cli::system::{confirm, filters_query};
use crate::volume_cli::{inspect_paths, key_values};

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a network.
    Create(Create),
    /// List networks.
    #[command(visible_alias = "list")]
    Ls(Ls),
    /// Display detailed information on one or more networks.
    Inspect(Inspect),
    /// Remove one or more networks.
    #[command(visible_alias = "remove")]
    Rm(Rm),
    /// Connect a container to a network.
    Connect(Connect),
    /// Disconnect a container from a network.
    Disconnect(Disconnect),
    /// Remove all unused networks.
    Prune(Prune),
}

#[derive(Args, Debug)]
pub struct Create {
    /// Driver to manage the Network.
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment.
    #[arg(long)]
    pub subnet: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet.
    #[arg(long)]
    pub gateway: Vec<String>,
    /// Allocate container ip from a sub-range.
    #[arg(long = "ip-range")]
    pub ip_range: Vec<String>,
    /// Auxiliary IPv4 or IPv6 addresses used by Network driver.
    #[arg(long = "aux-address")]
    pub aux_address: Vec<String>,
    /// IP Address Management Driver.
    #[arg(long = "ipam-driver", default_value = "default")]
    pub ipam_driver: String,
    /// Set IPAM driver specific options.
    #[arg(long = "ipam-opt")]
    pub ipam_opt: Vec<String>,
    /// Set driver specific options.
    #[arg(short, long = "opt")]
    pub opt: Vec<String>,
    /// Set metadata on a network.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Restrict external access to the network.
    #[arg(long)]
    pub internal: bool,
    /// Enable manual container attachment.
    #[arg(long)]
    pub attachable: bool,
    /// Enable or disable IPv6 networking.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub ipv6: Option<bool>,
    /// Enable or disable IPv4 address assignment.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub ipv4: Option<bool>,
    /// Create swarm routing-mesh network.
    #[arg(long)]
    pub ingress: bool,
    /// Control the network's scope.
    #[arg(long)]
    pub scope: Option<String>,
    /// Create a configuration only network.
    #[arg(long = "config-only")]
    pub config_only: bool,
    /// The network from which to copy the configuration.
    #[arg(long = "config-from")]
    pub config_from: Option<String>,
    pub network: String,
}

#[derive(Args, Debug)]
pub struct Ls {
    /// Provide filter values (e.g. 'driver=bridge').
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print networks using a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate the output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display network IDs.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct Inspect {
    /// Format the output using the given Go template.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Verbose output for diagnostics.
    #[arg(short, long)]
    pub verbose: bool,
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Args, Debug)]
pub struct Rm {
    /// Do not error if the network does not exist.
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Args, Debug)]
pub struct Connect {
    /// Add network-scoped alias for the container.
    #[arg(long)]
    pub alias: Vec<String>,
    /// driver options for the network.
    #[arg(long = "driver-opt")]
    pub driver_opt: Vec<String>,
    /// IPv4 address (e.g., "172.30.100.104").
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., "2001:db8::33").
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add link to another container.
    #[arg(long)]
    pub link: Vec<String>,
    /// Add a link-local address for the container.
    #[arg(long = "link-local-ip")]
    pub link_local_ip: Vec<String>,
    pub network: String,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct Disconnect {
    /// Force the container to disconnect from a network.
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct Prune {
    /// Provide filter values (e.g. 'until=<timestamp>').
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

pub async fn dispatch(e: &Engine, c: NetworkCommand) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    match c {
        NetworkCommand::Create(c) => create(e, &c, &mut out).await,
        NetworkCommand::Ls(c) => ls(e, &c, &mut out).await,
        NetworkCommand::Inspect(c) => inspect(e, &c, &mut out).await,
        NetworkCommand::Rm(c) => rm(e, &c, &mut out).await,
        NetworkCommand::Connect(c) => connect(e, &c).await,
        NetworkCommand::Disconnect(c) => disconnect(e, &c).await,
        NetworkCommand::Prune(c) => prune(e, &c, &mut out).await,
    }
}

/// docker's CLI pairs each `--gateway` and `--ip-range` with the
/// `--subnet` that contains it before asking the daemon.
fn ipam_config(c: &Create) -> Result<Vec<Value>> {
    let subnets: Vec<IpNet> = c
        .subnet
        .iter()
        .map(|s| {
            s.parse::<IpNet>()
                .map_err(|_| anyhow::anyhow!("invalid CIDR address: {s}"))
        })
        .collect::<Result<_>>()?;
    let mut configs: Vec<Value> = c.subnet.iter().map(|s| json!({"Subnet": s})).collect();
    for r in &c.ip_range {
        let range: IpNet = r
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid CIDR address: {r}"))?;
        let Some(i) = subnets.iter().position(|s| s.contains(&range.network())) else {
            bail!("no matching subnet for range {r}");
        };
        if configs[i].get("IPRange").is_some() {
            bail!(
                "cannot configure multiple ranges ({r}, {}) on the same subnet ({})",
                configs[i]["IPRange"].as_str().unwrap_or(""),
                c.subnet[i]
            );
        }
        configs[i]["IPRange"] = json!(r);
    }
    for g in &c.gateway {
        let ip: IpAddr = g
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid IP address: {g}"))?;
        let Some(i) = subnets.iter().position(|s| s.contains(&ip)) else {
            bail!("no matching subnet for gateway {g}");
        };
        if configs[i].get("Gateway").is_some() {
            bail!(
                "cannot configure multiple gateways ({g}, {}) for the same subnet ({})",
                configs[i]["Gateway"].as_str().unwrap_or(""),
                c.subnet[i]
            );
        }
        configs[i]["Gateway"] = json!(g);
    }
    for a in &c.aux_address {
        let (name, ip) = a
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("invalid aux-address {a}: name=ip"))?;
        let addr: IpAddr = ip
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid IP address: {ip}"))?;
        let Some(i) = subnets.iter().position(|s| s.contains(&addr)) else {
            bail!("no matching subnet for aux-address {ip}");
        };
        configs[i]["AuxiliaryAddresses"][name] = json!(ip);
    }
    Ok(configs)
}

async fn create(e: &Engine, c: &Create, out: &mut dyn Write) -> Result<i32> {
    let mut body = json!({
        "Name": c.network,
        "Driver": c.driver,
        "Internal": c.internal,
        "Attachable": c.attachable,
        "Ingress": c.ingress,
        "ConfigOnly": c.config_only,
        "IPAM": {
            "Driver": c.ipam_driver,
            "Config": ipam_config(c)?,
            "Options": key_values(&c.ipam_opt),
        },
        "Options": key_values(&c.opt),
        "Labels": key_values(&c.labels),
    });
    if let Some(v6) = c.ipv6 {
        body["EnableIPv6"] = json!(v6);
    }
    if let Some(v4) = c.ipv4 {
        body["EnableIPv4"] = json!(v4);
    }
    if let Some(s) = &c.scope {
        body["Scope"] = json!(s);
    }
    if let Some(from) = &c.config_from {
        body["ConfigFrom"] = json!({"Network": from});
    }
    let v = e.post_json("/networks/create", &body).await?;
    if let Some(w) = v["Warning"].as_str().filter(|w| !w.is_empty()) {
        eprintln!("{w}");
    }
    writeln!(out, "{}", v["Id"].as_str().unwrap_or_default())?;
    Ok(0)
}

async fn ls(e: &Engine, c: &Ls, out: &mut dyn Write) -> Result<i32> {
    let path = format!("/networks{}", filters_query(&c.filter)?);
    let mut networks: Vec<Network> = serde_json::from_value(e.get_json(&path).await?)?;
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    let id = |n: &Network| {
        if c.no_trunc {
            n.id.clone()
        } else {
            n.id.chars().take(12).collect()
        }
    };
    if c.quiet {
        for n in &networks {
            writeln!(out, "{}", id(n))?;
        }
        return Ok(0);
    }
    let format = match c.format.as_deref() {
        None | Some("") | Some("table") => "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
        Some(f) => f,
    };
    let rows: Vec<fmt::ContextRow> = networks
        .iter()
        .map(|n| {
            Ok(fmt::ContextRow {
                fields: row(n, id(n)),
                labels: Some(serde_json::to_value(&n.labels)?),
            })
        })
        .collect::<Result<_>>()?;
    let names = |f: &str| match f {
        "ID" => Some("NETWORK ID"),
        "IPv6" => Some("IPV6"),
        "IPv4" => Some("IPV4"),
        "CreatedAt" => Some("CREATED AT"),
        _ => None,
    };
    fmt::print_context_rows(format, "*formatter.networkContext", &rows, &names, out)
}

/// A `network ls` row: docker's network context's fields.
fn row(n: &Network, id: String) -> Value {
    let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    json!({
        "ID": id,
        "Name": n.name,
        "Driver": n.driver,
        "Scope": n.scope,
        "IPv6": n.enable_ipv6.to_string(),
        "IPv4": "true",
        "Internal": n.internal.to_string(),
        "Labels": labels.join(","),
        "CreatedAt": humantime::parse_rfc3339_weak(&n.created)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| fmt::go_time(d.as_secs() as i64))
            .unwrap_or_default(),
    })
}

async fn inspect(e: &Engine, c: &Inspect, out: &mut dyn Write) -> Result<i32> {
    let verbose = if c.verbose { "?verbose=true" } else { "" };
    let paths = c.networks.iter().map(|n| format!("/networks/{n}{verbose}"));
    // docker's network inspect keeps the raw JSON: a template the typed
    // pass fails runs over it.
    inspect_paths(e, paths, Kind::Network, c.format.as_deref(), true, out).await
}

async fn rm(e: &Engine, c: &Rm, out: &mut dyn Write) -> Result<i32> {
    let mut code = 0;
    for name in &c.networks {
        match e.call("DELETE", &format!("/networks/{name}"), None).await {
            Ok(_) => writeln!(out, "{name}")?,
            Err(err) if c.force && status_of(&err) == Some(404) => {}
            Err(err) => {
                eprintln!("Error response from daemon: {err:#}");
                code = 1;
            }
        }
    }
    Ok(code)
}

async fn connect(e: &Engine, c: &Connect) -> Result<i32> {
    let mut endpoint = json!({});
    if !c.alias.is_empty() {
        endpoint["Aliases"] = json!(c.alias);
    }
    if !c.link.is_empty() {
        endpoint["Links"] = json!(c.link);
    }
    if !c.driver_opt.is_empty() {
        endpoint["DriverOpts"] = json!(key_values(&c.driver_opt));
    }
    if c.ip.is_some() || c.ip6.is_some() || !c.link_local_ip.is_empty() {
        endpoint["IPAMConfig"] = json!({
            "IPv4Address": c.ip.clone().unwrap_or_default(),
            "IPv6Address": c.ip6.clone().unwrap_or_default(),
            "LinkLocalIPs": c.link_local_ip,
        });
    }
    let body = json!({"Container": c.container, "EndpointConfig": endpoint});
    let path = format!("/networks/{}/connect", c.network);
    e.call("POST", &path, Some(&body)).await?;
    Ok(0)
}

async fn disconnect(e: &Engine, c: &Disconnect) -> Result<i32> {
    let body = json!({"Container": c.container, "Force": c.force});
    let path = format!("/networks/{}/disconnect", c.network);
    e.call("POST", &path, Some(&body)).await?;
    Ok(0)
}

async fn prune(e: &Engine, c: &Prune, out: &mut dyn Write) -> Result<i32> {
    if !c.force
        && !confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )
    {
        return Ok(0);
    }
    let path = format!("/networks/prune{}", filters_query(&c.filter)?);
    let report: NetworkPruneResponse = serde_json::from_slice(&e.call("POST", &path, None).await?)?;
    if !report.networks_deleted.is_empty() {
        writeln!(out, "Deleted Networks:")?;
        for n in &report.networks_deleted {
            writeln!(out, "{n}")?;
        }
    }
    Ok(0)
}
