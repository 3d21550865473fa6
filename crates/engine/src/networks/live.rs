//! The kernel's side of the engine's networks: bridges, berth's nftables
//! table, the address pools. Made lazily, at a network's first endpoint,
//! so a daemon that never runs a bridged container changes nothing on its
//! host; rebuilt at open from the store (`restore`), so a daemon killed at
//! any point comes back with exactly the rules its live containers need.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use berth_net::bridge::{self, Bridge};
use berth_net::ipam::Pool;
use berth_net::nft::{self, Firewall, Handles, NetworkRules};
use berth_net::nl::Netlink;
use ipnet::IpNet;

use super::NetworkRecord;
use crate::{Engine, Error, Result};

/// The live state, one per engine.
#[derive(Default)]
pub struct Live {
    netlink: Mutex<Option<Netlink>>,
    firewall: Mutex<Option<Firewall>>,
    /// Networks whose bridge and rules are in place: the bridge's index
    /// and the rules' handles.
    up: Mutex<HashMap<String, (u32, Handles)>>,
    /// Per network id, a pool per subnet.
    pub(crate) pools: Mutex<HashMap<String, Vec<Pool>>>,
    /// The store's network records, read once (starts look them up
    /// several times); dropped at every write.
    pub(crate) records: Mutex<Option<Vec<NetworkRecord>>>,
    /// berth's table exists (made by a whole rebuild): rules can be added.
    table_ready: std::sync::atomic::AtomicBool,
}

impl Live {
    /// Runs `f` with the daemon's netlink socket, opened on first use.
    pub(crate) fn netlink<T>(
        &self,
        f: impl FnOnce(&mut Netlink) -> std::io::Result<T>,
    ) -> Result<T> {
        let mut guard = self.netlink.lock().expect("netlink lock");
        if guard.is_none() {
            *guard = Some(Netlink::open().map_err(|e| Error::io("opening netlink", e))?);
        }
        f(guard.as_mut().expect("opened")).map_err(|e| Error::Internal(e.to_string()))
    }

    /// Runs `f` with berth's firewall, opened on first use.
    pub(crate) fn firewall<T>(
        &self,
        table: &str,
        f: impl FnOnce(&mut Firewall) -> std::io::Result<T>,
    ) -> Result<T> {
        let mut guard = self.firewall.lock().expect("firewall lock");
        if guard.is_none() {
            *guard = Some(Firewall::open(table).map_err(|e| Error::io("opening nftables", e))?);
        }
        f(guard.as_mut().expect("opened")).map_err(|e| Error::Internal(e.to_string()))
    }
}

/// What nftables needs of a network.
pub(crate) fn rules_for(n: &NetworkRecord) -> NetworkRules {
    let masquerade = n
        .options
        .get(super::record::OPT_MASQUERADE)
        .is_none_or(|v| v == "true" || v == "1");
    NetworkRules {
        bridge: n.bridge.clone(),
        subnets: n.subnets.iter().map(|s| s.subnet).collect(),
        internal: n.internal,
        masquerade: masquerade && !n.internal,
        icc: n
            .options
            .get(super::record::OPT_ICC)
            .is_none_or(|v| v == "true" || v == "1"),
    }
}

fn gateway_net(s: &super::record::Subnet) -> IpNet {
    IpNet::new(s.gateway, s.subnet.prefix_len()).expect("a prefix of the subnet")
}

impl Engine {
    /// The network's bridge, addresses and rules, made if missing. Returns
    /// the bridge's index.
    pub(crate) fn live_network_up(&self, n: &NetworkRecord) -> Result<u32> {
        if !n.is_bridge() {
            return Ok(0);
        }
        let live = &self.net_live;
        // The common case, every start after a network's first: nothing to
        // ask the kernel.
        if let Some((index, _)) = live.up.lock().expect("live lock").get(&n.id) {
            return Ok(*index);
        }
        let v4 = n
            .v4()
            .ok_or_else(|| Error::Internal(format!("network {}: no IPv4 subnet", n.name)))?;
        let b = Bridge {
            name: n.bridge.clone(),
            alias: format!("berth:{}", n.id),
            gateway: gateway_net(v4),
            mtu: n.mtu,
        };
        let index = live.netlink(|nl| {
            let index = bridge::ensure(nl, &b)?;
            if let Some(v6) = n.v6() {
                let net = gateway_net(v6);
                match nl.apply(vec![bridge::address(
                    index,
                    net,
                    format!("adding {net} to bridge {}", n.bridge),
                )]) {
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    other => other?,
                }
            }
            Ok(index)
        })?;
        let mut up = live.up.lock().expect("live lock");
        if !up.contains_key(&n.id) {
            enable_forwarding(n.enable_ipv6)?;
            let rules = rules_for(n);
            let table = &self.config.net.firewall_table;
            let handles = if live.table_ready.load(Ordering::SeqCst) {
                live.firewall(table, |fw| fw.add_network(&rules))
            } else {
                // The first network of this daemon's life on a host with
                // no table of ours: the table is made whole, with it.
                let desired = nft::Desired {
                    networks: vec![rules],
                    ports: Vec::new(),
                };
                live.firewall(table, |fw| fw.apply_all(&desired))
                    .map(|(mut nets, _)| nets.pop().unwrap_or_default())
                    .inspect(|_| live.table_ready.store(true, Ordering::SeqCst))
            };
            let handles = match handles {
                Ok(h) => h,
                Err(e) => {
                    drop(up);
                    let _ = live.netlink(|nl| bridge::delete(nl, &n.bridge));
                    return Err(e);
                }
            };
            up.insert(n.id.clone(), (index, handles));
        }
        Ok(index)
    }

    /// Removes the network's rules and bridge (`network rm`).
    pub(crate) fn live_network_down(&self, n: &NetworkRecord) {
        let live = &self.net_live;
        if let Some((_, h)) = live.up.lock().expect("live lock").remove(&n.id) {
            let _ = live.firewall(&self.config.net.firewall_table, |fw| fw.delete(&h));
        }
        live.pools.lock().expect("pools lock").remove(&n.id);
        if n.is_bridge() {
            let _ = live.netlink(|nl| bridge::delete(nl, &n.bridge));
        }
        // The last network gone: the table goes too, and the host is as
        // it was before berth's first network.
        let empty = live.up.lock().expect("live lock").is_empty();
        if empty && live.table_ready.load(Ordering::SeqCst) {
            live.table_ready.store(false, Ordering::SeqCst);
            let _ = live.firewall(&self.config.net.firewall_table, |fw| fw.remove_all());
        }
    }

    /// At open, after a restart or a SIGKILL: the firewall table is
    /// rebuilt in one transaction for the networks that have a bridge and
    /// the ports of running containers; nothing else survives.
    pub(crate) fn restore_networks(&self, ports: Vec<(String, Vec<nft::PortRule>)>) -> Result<()> {
        let networks: Vec<NetworkRecord> = self
            .networks()?
            .into_iter()
            .filter(|n| n.is_bridge())
            .filter(|n| berth_net::nl::ifindex(&n.bridge).is_ok())
            .collect();
        let owners: Vec<(String, usize)> =
            ports.iter().map(|(id, r)| (id.clone(), r.len())).collect();
        let ports: Vec<nft::PortRule> = ports.into_iter().flat_map(|(_, r)| r).collect();
        if networks.is_empty() && ports.is_empty() {
            // Nothing of berth's on this host: leave it untouched, but
            // drop a table a previous life left.
            self.net_live.table_ready.store(false, Ordering::SeqCst);
            return self
                .net_live
                .firewall(&self.config.net.firewall_table, |fw| fw.remove_all());
        }
        let desired = nft::Desired {
            networks: networks.iter().map(rules_for).collect(),
            ports,
        };
        let (net_handles, port_handles) = self
            .net_live
            .firewall(&self.config.net.firewall_table, |fw| fw.apply_all(&desired))?;
        self.net_live.table_ready.store(true, Ordering::SeqCst);
        let mut up = self.net_live.up.lock().expect("live lock");
        up.clear();
        for (n, h) in networks.iter().zip(net_handles) {
            // Its bridge exists (the filter above): only the index is asked.
            let index = berth_net::nl::ifindex(&n.bridge).unwrap_or(0);
            up.insert(n.id.clone(), (index, h));
        }
        drop(up);
        // One Handles per rule, in the order given: back to their owners.
        let mut handles = port_handles.into_iter();
        for (id, count) in &owners {
            for h in handles.by_ref().take(*count) {
                self.network_adopted_rules(id, h);
            }
        }
        Ok(())
    }
}

/// Routing between the bridges and the uplink, as dockerd turns it on (a
/// new network namespace starts with it off).
fn enable_forwarding(ipv6: bool) -> Result<()> {
    let mut knobs = vec!["/proc/sys/net/ipv4/ip_forward"];
    if ipv6 {
        knobs.push("/proc/sys/net/ipv6/conf/all/forwarding");
    }
    for knob in knobs {
        if std::fs::read_to_string(knob).is_ok_and(|v| v.trim() == "1") {
            continue;
        }
        std::fs::write(knob, "1").map_err(|e| Error::io(format!("enabling {knob}"), e))?;
    }
    Ok(())
}

/// The subnets of the host's IPv4 routes (connected networks included),
/// which a new network must not overlap. /proc/net/route is the kernel's
/// own table, in the daemon's network namespace.
pub fn host_subnets() -> Vec<IpNet> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            if mask == 0 {
                return None;
            }
            // Little-endian words, as the kernel prints them.
            let addr = std::net::Ipv4Addr::from(dest.swap_bytes());
            let prefix = mask.count_ones() as u8;
            IpNet::new(IpAddr::V4(addr), prefix).ok().map(|n| n.trunc())
        })
        .collect()
}

/// The MTU of the link the default route leaves by (dockerd's "MTU from
/// the uplink"); 1500 when there is none.
pub fn uplink_mtu() -> u32 {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    text.lines()
        .skip(1)
        .find_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.get(1) == Some(&"00000000") && f.get(7) == Some(&"00000000"))
                .then(|| f[0].to_string())
        })
        .and_then(|dev| std::fs::read_to_string(format!("/sys/class/net/{dev}/mtu")).ok())
        .and_then(|m| m.trim().parse().ok())
        .unwrap_or(1500)
}
