//! A container on its networks, once created (request.rs checked what it
//! asked for). At start, before the bundle, addresses and
//! host ports are taken (`plan`: /etc/hosts needs the addresses); once the
//! shim reports the container's pid, its namespace gets a veth per network
//! and the DNAT rules go in (`plumb`), before the process runs. At exit
//! everything taken goes back (`release`); the veths go with the namespace.

use std::collections::HashMap;
use std::fs::File;
use std::net::IpAddr;
use std::sync::Arc;

use berth_models::network::{EndpointSettings, NetworkSettings, PortMap};
use berth_net::endpoint::{self, Endpoint};
use berth_net::ipam::Pool;
use berth_net::nft::{Handles, PortRule};
use berth_net::ports::Reservation;
use ipnet::IpNet;

use super::record::{BRIDGE, NONE};
use super::{NetworkRecord, ports};
use crate::model::{Container, HostConfig};
use crate::{Engine, Error, Result};

/// What a running container holds of the networks, until its exit.
#[derive(Default)]
pub struct Attached {
    /// Per network id, the host end of the container's veth on it.
    veths: Vec<(String, String)>,
    ips: Vec<(String, IpAddr)>,
    reservations: Vec<Reservation>,
    handles: Vec<Handles>,
    /// The embedded DNS server in its namespace (user networks only).
    dns: Option<berth_net::dns::Server>,
}

/// One endpoint of a start: the network, the settings inspect shows, and
/// the link to make.
pub struct PlannedEndpoint {
    pub network: NetworkRecord,
    pub name: String,
    pub settings: EndpointSettings,
    pub link: Endpoint,
    /// `--link-local-ip` addresses (/16 for IPv4, /64 for IPv6, as
    /// libnetwork's): on the link too, not among the container's addresses
    /// in /etc/hosts.
    pub link_local: Vec<IpNet>,
}

/// A start's networking, taken before the bundle is written.
#[derive(Default)]
pub struct Plan {
    pub endpoints: Vec<PlannedEndpoint>,
    pub ports: PortMap,
    rules: Vec<PortRule>,
    reservations: Vec<Reservation>,
    ips: Vec<(String, IpAddr)>,
}

impl Plan {
    /// The container's own addresses, for /etc/hosts.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.endpoints
            .iter()
            .flat_map(|e| e.link.addresses.iter().map(|a| a.addr()))
            .collect()
    }
}

/// The network a container's mode names: "default" is the default bridge
/// when the daemon has one, else none (dockerd with `--bridge none`).
pub(crate) fn mode_network(hc: &HostConfig, has_default_bridge: bool) -> String {
    match hc.network_mode.as_str() {
        "" | "default" if has_default_bridge => BRIDGE.into(),
        "" | "default" => NONE.into(),
        m => m.into(),
    }
}

/// The host end of an endpoint's veth: `veth` and 7 hex digits, as
/// dockerd's, taken from the endpoint's id.
fn veth_name(endpoint_id: &str) -> String {
    format!("veth{}", &endpoint_id[..7])
}

impl Engine {
    pub(super) fn has_default_bridge(&self) -> bool {
        self.config.net.bridge.is_some()
    }

    /// At start: addresses and host ports for every bridge endpoint.
    pub(crate) fn network_plan(&self, c: &Container) -> Result<Plan> {
        let mut plan = Plan::default();
        let result = self.fill_plan(c, &mut plan);
        if let Err(e) = result {
            self.give_back(&plan.ips);
            return Err(e);
        }
        Ok(plan)
    }

    fn fill_plan(&self, c: &Container, plan: &mut Plan) -> Result<()> {
        if c.config.network_disabled {
            return Ok(());
        }
        let mut names: Vec<&String> = c.network_settings.networks.keys().collect();
        let mode = mode_network(&c.host_config, self.has_default_bridge());
        names.sort_by_key(|n| (**n != mode, (*n).clone()));
        // The default route goes by the mode's network, unless it is
        // internal and another is not (dockerd's Endpoint.Less).
        let internal = |name: &String| {
            let asked = &c.network_settings.networks[name];
            self.network(&asked.network_id)
                .or_else(|_| self.network(name))
                .is_ok_and(|n| n.internal)
        };
        let gateway_network = names
            .iter()
            .find(|n| !internal(n))
            .or(names.first())
            .map(|n| (*n).clone());
        for (i, name) in names.into_iter().enumerate() {
            let asked = &c.network_settings.networks[name];
            let route = gateway_network.as_ref() == Some(name);
            let planned = self.plan_endpoint(c, name, asked, i, route, &mut plan.ips)?;
            if let Some(ep) = planned {
                plan.endpoints.push(ep);
            }
        }
        // Ports go to the endpoint that carries the default route (the
        // first one), as dockerd maps them on its gateway endpoint.
        let target = plan
            .endpoints
            .first()
            .and_then(|e| e.link.addresses.iter().find(|a| a.addr().is_ipv4()))
            .map(|a| a.addr());
        let wanted = ports::wanted(&c.config, &c.host_config)?;
        let exposed = ports::exposed_keys(&c.config, &c.host_config);
        let published = ports::publish(&wanted, &exposed, target)?;
        plan.reservations = published.reservations;
        plan.rules = published.rules;
        plan.ports = published.map;
        Ok(())
    }

    /// One endpoint's addresses, MAC and link; None for a network that
    /// has no bridge (host, none).
    pub(crate) fn plan_endpoint(
        &self,
        c: &Container,
        name: &str,
        asked: &EndpointSettings,
        index: usize,
        default_route: bool,
        ips: &mut Vec<(String, IpAddr)>,
    ) -> Result<Option<PlannedEndpoint>> {
        let n = self
            .network(&asked.network_id)
            .or_else(|_| self.network(name))?;
        if !n.is_bridge() {
            return Ok(None);
        }
        let mut settings = asked.clone();
        settings.network_id = n.id.clone();
        let mut addresses = Vec::new();
        let mut gateways = Vec::new();
        let want = asked.ipam_config.clone().unwrap_or_default();
        // Before any address is taken: an error here gives nothing back.
        let link_local = super::request::link_local_ips(&want)?
            .into_iter()
            .map(|ip| IpNet::new(ip, if ip.is_ipv4() { 16 } else { 64 }).expect("prefix"))
            .collect();
        for subnet in &n.subnets {
            let requested = if subnet.subnet.addr().is_ipv4() {
                &want.ipv4_address
            } else {
                &want.ipv6_address
            };
            let requested: Option<IpAddr> = match requested.as_str() {
                "" => None,
                s => Some(s.parse().map_err(|_| {
                    Error::Invalid(format!("invalid IP address {s} for network {}", n.name))
                })?),
            };
            let ip = self.allocate(&n, subnet.subnet, requested)?;
            ips.push((n.id.clone(), ip));
            addresses.push(IpNet::new(ip, subnet.subnet.prefix_len()).expect("prefix"));
            if ip.is_ipv4() {
                settings.ip_address = ip.to_string();
                settings.ip_prefix_len = subnet.subnet.prefix_len();
                settings.gateway = subnet.gateway.to_string();
            } else {
                settings.global_ipv6_address = ip.to_string();
                settings.global_ipv6_prefix_len = subnet.subnet.prefix_len();
                settings.ipv6_gateway = subnet.gateway.to_string();
            }
            // An internal network's route leads nowhere beyond its bridge
            // (the firewall drops it), as on dockerd.
            if default_route {
                gateways.push(subnet.gateway);
            }
        }
        let first = addresses
            .iter()
            .find(|a| a.addr().is_ipv4())
            .or(addresses.first())
            .map(|a| a.addr())
            .ok_or_else(|| Error::Internal(format!("network {}: no subnet", n.name)))?;
        let mac = if asked.mac_address.is_empty() {
            endpoint::mac_for(first)
        } else {
            parse_mac(&asked.mac_address)?
        };
        settings.mac_address = format_mac(&mac);
        settings.endpoint_id = crate::names::random_id();
        // Found again from the record after a daemon restart.
        let host_name = veth_name(&settings.endpoint_id);
        if n.is_user_bridge() {
            let mut dns = vec![c.name.clone()];
            dns.extend(asked.aliases.iter().flatten().cloned());
            dns.push(c.short_id().to_string());
            if !c.config.hostname.is_empty() {
                dns.push(c.config.hostname.clone());
            }
            let mut seen = std::collections::HashSet::new();
            dns.retain(|n| seen.insert(n.clone()));
            settings.dns_names = Some(dns);
        }
        Ok(Some(PlannedEndpoint {
            link: Endpoint {
                host_name,
                name: format!("eth{index}"),
                bridge_index: 0,
                mtu: n.mtu,
                mac,
                addresses,
                gateways,
            },
            network: n,
            name: name.to_string(),
            settings,
            link_local,
        }))
    }

    fn allocate(&self, n: &NetworkRecord, subnet: IpNet, want: Option<IpAddr>) -> Result<IpAddr> {
        let mut pools = self.net_live.pools.lock().expect("pools lock");
        let list = pools.entry(n.id.clone()).or_insert_with(|| {
            n.subnets
                .iter()
                .filter_map(|s| match Pool::new(s.subnet, Some(s.gateway), s.ip_range) {
                    Ok(mut p) => {
                        // Auxiliary addresses are never a container's.
                        for ip in s.aux.values() {
                            let _ = p.reserve(*ip);
                        }
                        Some(p)
                    }
                    Err(e) => {
                        eprintln!("berth: network {}: {e}", n.name);
                        None
                    }
                })
                .collect()
        });
        let pool = list
            .iter_mut()
            .find(|p| p.subnet == subnet)
            .ok_or_else(|| Error::Internal(format!("network {}: no pool for {subnet}", n.name)))?;
        pool.allocate(want).map_err(|e| match e {
            berth_net::ipam::Error::InUse(_) => Error::Forbidden("Address already in use".into()),
            berth_net::ipam::Error::OutOfRange(ip, _) => Error::Invalid(format!(
                "Invalid address {ip}: It does not belong to any of this network's subnets"
            )),
            other => other.into(),
        })
    }

    fn give_back(&self, ips: &[(String, IpAddr)]) {
        let mut pools = self.net_live.pools.lock().expect("pools lock");
        for (net, ip) in ips {
            if let Some(list) = pools.get_mut(net) {
                for p in list.iter_mut().filter(|p| p.subnet.contains(ip)) {
                    p.release(*ip);
                }
            }
        }
    }

    /// After the shim's Ready, before the process runs: the bridges (made
    /// at their first endpoint), a veth per endpoint into `/proc/<pid>/ns/net`,
    /// the DNAT rules. Blocking (netlink): call from a blocking thread.
    pub(crate) fn network_plumb(
        self: &Arc<Self>,
        id: &str,
        pid: i32,
        mut plan: Plan,
    ) -> Result<()> {
        if plan.endpoints.is_empty() {
            return Ok(());
        }
        let netns = File::open(format!("/proc/{pid}/ns/net"))
            .map_err(|e| Error::io(format!("container {}: its network namespace", &id[..12]), e))?;
        let mut made: Vec<(String, String)> = Vec::new();
        let mut dns = None;
        let result = (|| -> Result<Vec<Handles>> {
            for ep in &mut plan.endpoints {
                ep.link.bridge_index = self.live_network_up(&ep.network)?;
                let mut link = ep.link.clone();
                link.addresses.extend(ep.link_local.iter().copied());
                self.net_live
                    .netlink(|nl| endpoint::plumb(nl, &netns, &link))
                    .map_err(|e| {
                        Error::Internal(format!(
                            "container {}: joining network {}: {e}",
                            &id[..12],
                            ep.network.name
                        ))
                    })?;
                made.push((ep.network.id.clone(), link.host_name));
            }
            let user_network = plan.endpoints.iter().any(|e| e.network.is_user_bridge());
            if user_network && !self.has_dns(id) {
                dns = Some(self.start_dns(id, &netns)?);
            }
            if plan.rules.is_empty() {
                return Ok(Vec::new());
            }
            let rules = plan.rules.clone();
            Ok(vec![
                self.net_live
                    .firewall(&self.config.net.firewall_table, |fw| fw.add_ports(&rules))?,
            ])
        })();
        match result {
            Ok(handles) => {
                let mut attached = self.attached();
                let a = attached.entry(id.to_string()).or_default();
                a.veths.extend(made);
                a.ips.append(&mut plan.ips);
                a.reservations.append(&mut plan.reservations);
                a.handles.extend(handles);
                if dns.is_some() {
                    a.dns = dns;
                }
                Ok(())
            }
            Err(e) => {
                for (_, veth) in made {
                    let _ = self.net_live.netlink(|nl| endpoint::unplumb(nl, &veth));
                }
                self.give_back(&plan.ips);
                Err(e)
            }
        }
    }

    /// Takes a running container off one network (`network disconnect`):
    /// its veth there goes, its address there is free.
    pub(crate) fn network_unplumb(&self, id: &str, network_id: &str) {
        let mut attached = self.attached();
        let Some(a) = attached.get_mut(id) else {
            return;
        };
        let (gone, kept): (Vec<_>, Vec<_>) = a.veths.drain(..).partition(|(n, _)| n == network_id);
        a.veths = kept;
        let (freed, ips): (Vec<_>, Vec<_>) = a.ips.drain(..).partition(|(n, _)| n == network_id);
        a.ips = ips;
        drop(attached);
        for (_, veth) in gone {
            let _ = self.net_live.netlink(|nl| endpoint::unplumb(nl, &veth));
        }
        self.give_back(&freed);
    }

    /// On a user-defined network: names resolve through the embedded
    /// server (127.0.0.11).
    pub(crate) fn uses_embedded_dns(&self, c: &Container) -> bool {
        !c.config.network_disabled
            && c.network_settings.networks.values().any(|e| {
                self.network(&e.network_id)
                    .is_ok_and(|n| n.is_user_bridge())
            })
    }

    fn has_dns(&self, id: &str) -> bool {
        self.attached().get(id).is_some_and(|a| a.dns.is_some())
    }

    /// The container's DNS server: sockets on 127.0.0.11 in its namespace,
    /// served on the daemon's runtime with the engine's names.
    fn start_dns(self: &Arc<Self>, id: &str, netns: &File) -> Result<berth_net::dns::Server> {
        let fail = |e: std::io::Error| {
            Error::Internal(format!("container {}: its DNS server: {e}", &id[..12]))
        };
        let listener = berth_net::dns::bind_in(netns).map_err(fail)?;
        let names = Arc::new(super::dns::EngineNames(Arc::downgrade(self)));
        let rt = tokio::runtime::Handle::try_current().map_err(|e| {
            Error::Internal(format!("the DNS server needs the daemon's runtime: {e}"))
        })?;
        berth_net::dns::serve(&rt, listener, id.to_string(), names).map_err(fail)
    }

    /// A plan that will not be plumbed (the start failed before): its
    /// addresses go back; its sockets close with it.
    pub(crate) fn network_abandon(&self, plan: Plan) {
        self.give_back(&plan.ips);
    }

    /// At exit: the DNAT rules go, the host ports and addresses are free.
    pub(crate) fn network_release(&self, id: &str) {
        let Some(a) = self.attached().remove(id) else {
            return;
        };
        for h in &a.handles {
            let _ = self
                .net_live
                .firewall(&self.config.net.firewall_table, |fw| fw.delete(h));
        }
        self.give_back(&a.ips);
        drop(a.reservations);
    }

    /// At open, for a container still running: its addresses are taken
    /// again, its host ports reserved again; the rules it needs are
    /// returned for the firewall's rebuild.
    pub(crate) fn network_adopt(self: &Arc<Self>, c: &Container) -> Vec<PortRule> {
        let mut a = Attached::default();
        for ep in c.network_settings.networks.values() {
            let Ok(n) = self.network(&ep.network_id) else {
                continue;
            };
            if ep.endpoint_id.len() >= 7 && n.is_bridge() {
                a.veths.push((n.id.clone(), veth_name(&ep.endpoint_id)));
            }
            for addr in [&ep.ip_address, &ep.global_ipv6_address] {
                if let Ok(ip) = addr.parse::<IpAddr>()
                    && let Some(s) = n.subnets.iter().find(|s| s.subnet.contains(&ip))
                    && self.allocate(&n, s.subnet, Some(ip)).is_ok()
                {
                    a.ips.push((n.id.clone(), ip));
                }
            }
        }
        let mut rules = Vec::new();
        let target = c
            .network_settings
            .networks
            .values()
            .find(|e| !e.ip_address.is_empty())
            .and_then(|e| e.ip_address.parse::<IpAddr>().ok());
        if let Some(target) = target {
            for (key, bindings) in &c.network_settings.ports {
                let Ok((cport, proto)) = ports::parse_key(key) else {
                    continue;
                };
                for b in bindings.iter().flatten() {
                    let Ok(hport) = b.host_port.parse::<u16>() else {
                        continue;
                    };
                    let host_ip = b
                        .host_ip
                        .parse::<IpAddr>()
                        .ok()
                        .filter(|ip| !ip.is_unspecified());
                    match berth_net::ports::reserve(host_ip, proto, hport) {
                        Ok(r) => a.reservations.push(r),
                        Err(e) => eprintln!("berth: container {}: {e}", c.name),
                    }
                    rules.push(PortRule {
                        host_ip,
                        proto,
                        host_ports: (hport, hport),
                        container_ip: target,
                        container_ports: (cport, cport),
                    });
                }
            }
        }
        let user_network = c
            .network_settings
            .networks
            .values()
            .any(|e| e.dns_names.is_some());
        self.attached().insert(c.id.clone(), a);
        if user_network {
            // The old sockets died with the old daemon: new ones, and the
            // redirect in the container's namespace replaced.
            match File::open(format!("/proc/{}/ns/net", c.state.pid)) {
                Ok(netns) => match self.start_dns(&c.id, &netns) {
                    Ok(server) => {
                        if let Some(a) = self.attached().get_mut(&c.id) {
                            a.dns = Some(server);
                        }
                    }
                    Err(e) => eprintln!("berth: container {}: {e}", c.name),
                },
                Err(e) => eprintln!("berth: container {}: its namespace: {e}", c.name),
            }
        }
        rules
    }

    /// `network connect` / `disconnect` events for each network a
    /// container is on, as dockerd sends at start and stop.
    pub(crate) fn network_events(&self, action: &str, c: &Container) {
        for ep in c.network_settings.networks.values() {
            if let Ok(n) = self.network(&ep.network_id) {
                self.network_event(action, &n, Some(&c.id));
            }
        }
    }

    /// What `host-gateway` in `--add-host` means: the default bridge's
    /// gateway, as dockerd's.
    pub(crate) fn host_gateway(&self) -> Option<IpAddr> {
        self.network(BRIDGE).ok()?.v4().map(|s| s.gateway)
    }

    /// The rules the firewall's rebuild made for an adopted container.
    pub(crate) fn network_adopted_rules(&self, id: &str, handles: Handles) {
        if let Some(a) = self.attached().get_mut(id) {
            a.handles.push(handles);
        }
    }

    fn attached(&self) -> std::sync::MutexGuard<'_, HashMap<String, Attached>> {
        self.net_attached.lock().expect("attached lock")
    }
}

/// What a stopped container keeps of its networks: what it asked for and
/// its names, not its addresses (dockerd clears those at stop).
pub(crate) fn clear_addresses(ns: &mut NetworkSettings) {
    ns.ports.clear();
    for ep in ns.networks.values_mut() {
        let asked = EndpointSettings {
            ipam_config: ep.ipam_config.take(),
            links: ep.links.take(),
            aliases: ep.aliases.take(),
            driver_opts: ep.driver_opts.take(),
            network_id: std::mem::take(&mut ep.network_id),
            mac_address: String::new(),
            // dockerd keeps the names (1.41: the short id alias).
            dns_names: ep.dns_names.take(),
            ..Default::default()
        };
        *ep = asked;
    }
}

impl Plan {
    /// One endpoint, for a running container's `network connect`.
    pub(crate) fn single(ep: PlannedEndpoint, ips: Vec<(String, IpAddr)>) -> Plan {
        Plan {
            endpoints: vec![ep],
            ips,
            ..Default::default()
        }
    }

    /// The container's `NetworkSettings` for this run.
    pub fn network_settings(&self, asked: &NetworkSettings) -> NetworkSettings {
        let mut out = asked.clone();
        for ep in &self.endpoints {
            out.networks.insert(ep.name.clone(), ep.settings.clone());
        }
        out.ports = self.ports.clone();
        out
    }
}

pub(super) fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let bad = || Error::Invalid(format!("invalid MAC address: {s}"));
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        mac[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(mac)
}

fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
