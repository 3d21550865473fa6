//! Networks as the engine serves them: the records (record.rs), `network
//! ls/inspect/rm/prune` here and create (create.rs), and the live part
//! (live.rs: bridges, the firewall, address pools) that containers attach
//! through: their requests checked at create (request.rs), their endpoints
//! at start and exit (attach.rs), connect/disconnect (connect.rs), their
//! files (files.rs), names (dns.rs), ports (ports.rs) and links (links.rs).
//! The mechanisms (netlink, nftables, IPAM, DNS) are berth-net's; what is
//! here is dockerd's rules about them.

pub mod attach;
mod connect;
mod create;
pub mod dns;
mod files;
pub mod links;
pub mod live;
pub mod ports;
pub mod record;
mod request;

use std::collections::BTreeMap;
use std::net::IpAddr;

use berth_models::network as wire;
use berth_net::ipam;
use ipnet::IpNet;

pub use record::NetworkRecord;
use record::{BRIDGE, HOST, NONE, Subnet};

use crate::events::Event;
use crate::{Engine, Error, Result};

/// What the daemon's flags say of the default bridge (dockerd's `-b` and
/// `--bip`).
#[derive(Debug, Clone, Default)]
pub struct NetConfig {
    /// The default bridge's Linux name (`berth0`); None: no default bridge
    /// (`--bridge none`), containers default to `none`.
    pub bridge: Option<String>,
    /// The default bridge's gateway with its prefix (`--bip 10.1.0.1/24`).
    pub bip: Option<IpNet>,
    /// berth's nftables table (`berth`, or per data root).
    pub firewall_table: String,
}

impl From<ipam::Error> for Error {
    fn from(e: ipam::Error) -> Error {
        match e {
            ipam::Error::Overlap => Error::Forbidden(e.to_string()),
            ipam::Error::InUse(_) => Error::Forbidden(e.to_string()),
            _ => Error::Invalid(e.to_string()),
        }
    }
}

/// `GET /networks`'s filters, parsed.
#[derive(Debug, Default, Clone)]
pub struct NetworkFilters {
    pub driver: Vec<String>,
    pub id: Vec<String>,
    pub label: Vec<String>,
    pub label_not: Vec<String>,
    pub name: Vec<String>,
    /// `builtin` or `custom`.
    pub kind: Vec<String>,
    pub dangling: Option<bool>,
    /// Created before this RFC 3339 time (prune's `until`).
    pub until: Option<String>,
    /// A scope filter that no local network matches.
    pub only_none: bool,
}

impl NetworkFilters {
    fn keeps(&self, n: &NetworkRecord, in_use: bool) -> bool {
        let label_ok = |spec: &String| match spec.split_once('=') {
            Some((k, v)) => n.labels.get(k).is_some_and(|x| x == v),
            None => n.labels.contains_key(spec.as_str()),
        };
        let kind = if n.is_builtin() { "builtin" } else { "custom" };
        !self.only_none
            && (self.driver.is_empty() || self.driver.contains(&n.driver))
            && (self.id.is_empty() || self.id.iter().any(|i| n.id.starts_with(i.as_str())))
            && self.label.iter().all(label_ok)
            && !self.label_not.iter().any(label_ok)
            && (self.name.is_empty() || self.name.iter().any(|x| n.name.contains(x.as_str())))
            && (self.kind.is_empty() || self.kind.iter().any(|k| k == kind))
            && self.dangling.is_none_or(|d| d != in_use)
            && self.until.as_ref().is_none_or(|u| n.created < *u)
    }
}

fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

impl Engine {
    /// The engine's networks, read from the store, and the builtin ones
    /// made when missing (the default bridge only with `NetConfig.bridge`).
    pub(crate) fn ensure_builtin_networks(&self) -> Result<()> {
        let have: Vec<NetworkRecord> = self.store.all(berth_store::Kind::Networks)?;
        let mut taken: Vec<IpNet> = have
            .iter()
            .flat_map(|n| n.subnets.iter().map(|s| s.subnet))
            .collect();
        let find = |name: &str| have.iter().find(|n| n.name == name);
        let mut made = Vec::new();
        for (name, driver) in [(HOST, "host"), (NONE, "null")] {
            if find(name).is_none() {
                made.push(builtin(name, driver));
            }
        }
        let existing = find(BRIDGE).cloned();
        match (&self.config.net.bridge, existing) {
            (None, Some(old)) => {
                // `--bridge none`: no default bridge, as dockerd then has none.
                if !self.network_users(&old.id, false).is_empty() {
                    return Err(Error::Invalid(
                        "--bridge none: containers are still on the default bridge network".into(),
                    ));
                }
                self.write_network_records(|s| s.delete(berth_store::Kind::Networks, &old.id))?;
            }
            (Some(want), Some(old))
                if old.bridge == *want
                    && self
                        .config
                        .net
                        .bip
                        .is_none_or(|b| old.v4().is_some_and(|s| s.subnet == b.trunc())) => {}
            (Some(want), old) => {
                if let Some(old) = &old {
                    taken.retain(|t| !old.subnets.iter().any(|s| s.subnet == *t));
                }
                let (subnet, gateway) = match self.config.net.bip {
                    Some(bip) => (bip.trunc(), bip.addr()),
                    None => {
                        let subnet = pick_subnet(&taken)?;
                        (subnet, first_host(subnet)?)
                    }
                };
                let mut n = builtin(BRIDGE, "bridge");
                if let Some(old) = old {
                    n.id = old.id;
                }
                n.bridge = want.clone();
                n.mtu = live::uplink_mtu();
                n.subnets = vec![Subnet {
                    subnet,
                    gateway,
                    ip_range: None,
                    user: false,
                    // As dockerd shows its default bridge: the subnet only.
                    gateway_listed: self.config.net.bip.is_some(),
                    aux: Default::default(),
                }];
                n.options = [
                    (record::OPT_DEFAULT_BRIDGE, "true".to_string()),
                    (record::OPT_ICC, "true".into()),
                    (record::OPT_MASQUERADE, "true".into()),
                    (record::OPT_HOST_BINDING, "0.0.0.0".into()),
                    (record::OPT_BRIDGE_NAME, want.clone()),
                    (record::OPT_MTU, n.mtu.to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                made.push(n);
            }
            (None, None) => {}
        }
        for n in made {
            self.write_network_records(|s| s.put(berth_store::Kind::Networks, &n.id, &n))?;
        }
        Ok(())
    }

    /// Every network record.
    pub fn networks(&self) -> Result<Vec<NetworkRecord>> {
        let mut cached = self.net_live.records.lock().expect("records lock");
        if let Some(all) = cached.as_ref() {
            return Ok(all.clone());
        }
        let mut all: Vec<NetworkRecord> = self.store.all(berth_store::Kind::Networks)?;
        all.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
        *cached = Some(all.clone());
        Ok(all)
    }

    /// A write of network records, under the cache's lock (no read caches
    /// what it replaces); the next read loads them again.
    fn write_network_records(
        &self,
        write: impl FnOnce(&berth_store::Store) -> berth_store::Result<()>,
    ) -> Result<()> {
        let mut cached = self.net_live.records.lock().expect("records lock");
        *cached = None;
        Ok(write(&self.store)?)
    }

    /// The network a full id, a name or a unique id prefix names, as
    /// dockerd looks them up.
    pub fn network(&self, name: &str) -> Result<NetworkRecord> {
        let all = self.networks()?;
        if let Some(n) = all.iter().find(|n| n.id == name || n.name == name) {
            return Ok(n.clone());
        }
        let hits: Vec<&NetworkRecord> = all
            .iter()
            .filter(|n| !name.is_empty() && n.id.starts_with(name))
            .collect();
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::NotFound(format!("network {name} not found"))),
            _ => Err(Error::Invalid(format!(
                "network {name} is ambiguous ({} matches found based on ID prefix)",
                hits.len()
            ))),
        }
    }

    /// Ids of the containers on the network: every one that names it, or
    /// (`active`) the running ones, whose endpoints exist; dockerd refuses
    /// `network rm` only for those.
    pub fn network_users(&self, network_id: &str, active: bool) -> Vec<String> {
        self.list()
            .into_iter()
            .filter(|c| !active || c.is_running())
            .filter(|c| {
                c.network_settings
                    .networks
                    .values()
                    .any(|e| e.network_id == network_id)
            })
            .map(|c| c.id)
            .collect()
    }

    /// `GET /networks/{id}`: the network with the containers on it.
    pub fn network_inspect(&self, name: &str) -> Result<wire::Network> {
        let n = self.network(name)?;
        let mut out = n.to_wire();
        for c in self.list() {
            if let Some((_, ep)) = c
                .network_settings
                .networks
                .iter()
                .find(|(_, e)| e.network_id == n.id)
            {
                if !c.is_running() {
                    continue;
                }
                let v6 = if ep.global_ipv6_address.is_empty() {
                    String::new()
                } else {
                    format!("{}/{}", ep.global_ipv6_address, ep.global_ipv6_prefix_len)
                };
                let v4 = if ep.ip_address.is_empty() {
                    String::new()
                } else {
                    format!("{}/{}", ep.ip_address, ep.ip_prefix_len)
                };
                out.containers.insert(
                    c.id.clone(),
                    wire::NetworkContainer {
                        name: c.name.clone(),
                        endpoint_id: ep.endpoint_id.clone(),
                        mac_address: ep.mac_address.clone(),
                        ipv4_address: v4,
                        ipv6_address: v6,
                    },
                );
            }
        }
        Ok(out)
    }

    /// `GET /networks`.
    pub fn network_list(&self, f: &NetworkFilters) -> Result<Vec<wire::Network>> {
        let mut out = Vec::new();
        for n in self.networks()? {
            let in_use = n.is_builtin() || !self.network_users(&n.id, true).is_empty();
            if f.keeps(&n, in_use) {
                out.push(n.to_wire());
            }
        }
        Ok(out)
    }

    /// `DELETE /networks/{id}`.
    pub fn network_remove(&self, name: &str) -> Result<()> {
        let n = self.network(name)?;
        if n.is_builtin() {
            return Err(Error::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        let _guard = self.network_changes.lock().expect("network lock");
        if !self.network_users(&n.id, true).is_empty() {
            return Err(Error::Forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                n.name, n.id
            )));
        }
        self.write_network_records(|s| s.delete(berth_store::Kind::Networks, &n.id))?;
        self.live_network_down(&n);
        self.network_event("destroy", &n, None);
        Ok(())
    }

    /// `POST /networks/prune`: user networks no container is on.
    pub fn network_prune(&self, f: &NetworkFilters) -> Result<wire::NetworkPruneResponse> {
        let mut deleted = Vec::new();
        for n in self.networks()? {
            if n.is_builtin() || !f.keeps(&n, false) || !self.network_users(&n.id, true).is_empty()
            {
                continue;
            }
            if self.network_remove(&n.id).is_ok() {
                deleted.push(n.name.clone());
            }
        }
        self.events
            .publish(Event::new("network", "prune", "", BTreeMap::new()));
        Ok(wire::NetworkPruneResponse {
            networks_deleted: deleted,
        })
    }

    pub(crate) fn network_event(&self, action: &str, n: &NetworkRecord, container: Option<&str>) {
        let mut attributes = BTreeMap::from([
            ("name".to_string(), n.name.clone()),
            ("type".to_string(), n.driver.clone()),
        ]);
        if let Some(c) = container {
            attributes.insert("container".into(), c.to_string());
        }
        self.events
            .publish(Event::new("network", action, &n.id, attributes));
    }
}

fn builtin(name: &str, driver: &str) -> NetworkRecord {
    NetworkRecord {
        id: crate::names::random_id(),
        name: name.into(),
        driver: driver.into(),
        created: now(),
        internal: false,
        attachable: false,
        enable_ipv6: false,
        subnets: Vec::new(),
        options: BTreeMap::new(),
        labels: BTreeMap::new(),
        ipam_options: None,
        bridge: String::new(),
        mtu: 0,
    }
}

fn pick_subnet(taken: &[IpNet]) -> Result<IpNet> {
    let mut all = taken.to_vec();
    all.extend(live::host_subnets());
    Ok(ipam::pick_subnet(&all)?)
}

fn first_host(subnet: IpNet) -> Result<IpAddr> {
    Ok(ipam::Pool::new(subnet, None, None)?.gateway)
}

fn parse_bool_opt(options: &BTreeMap<String, String>, key: &str) -> Result<bool> {
    match options.get(key).map(String::as_str) {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(v) => Err(Error::Invalid(format!(
            "invalid value {v:?} for {key}: true or false"
        ))),
    }
}
