//! What the embedded DNS server (berth-net's dns.rs) answers, from the
//! engine's containers: on the user-defined networks the asker is on, each
//! running container's DNS names (its name, its aliases, its short id;
//! `DNSNames` in inspect), also as `<name>.<network>`; everything else
//! goes to the asker's `--dns` servers or the host's.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Weak;

use berth_net::dns::{Names, upstreams_from_resolv_conf};

use crate::Engine;

pub struct EngineNames(pub Weak<Engine>);

impl EngineNames {
    /// The asker's user networks (their ids), and every running container
    /// with its names and addresses on them.
    fn on_my_networks<T>(
        &self,
        asker: &str,
        mut each: impl FnMut(&str, &[String], &str, &str, &str) -> Option<T>,
    ) -> Option<T> {
        let engine = self.0.upgrade()?;
        let map = engine.containers.lock().expect("containers lock");
        let me = map.get(asker)?;
        let mine: BTreeSet<&str> = me
            .network_settings
            .networks
            .values()
            .filter(|e| e.dns_names.is_some())
            .map(|e| e.network_id.as_str())
            .collect();
        for c in map.values().filter(|c| c.is_running()) {
            for (network, ep) in &c.network_settings.networks {
                let Some(names) = &ep.dns_names else { continue };
                if !mine.contains(ep.network_id.as_str()) {
                    continue;
                }
                if let Some(found) = each(
                    network,
                    names,
                    &ep.ip_address,
                    &ep.global_ipv6_address,
                    &c.name,
                ) {
                    return Some(found);
                }
            }
        }
        None
    }
}

impl Names for EngineNames {
    fn lookup(&self, asker: &str, name: &str) -> Option<Vec<IpAddr>> {
        // A link's alias names the linked container, for the linker only.
        let linked = self.0.upgrade().and_then(|e| {
            let me = e.get(asker).ok()?;
            let mut links: Vec<String> = me.host_config.links.clone().unwrap_or_default();
            for ep in me.network_settings.networks.values() {
                links.extend(ep.links.iter().flatten().cloned());
            }
            links
                .iter()
                .filter_map(|l| crate::networks::links::parse(l).ok())
                .find(|l| l.alias.eq_ignore_ascii_case(name))
                .map(|l| l.name)
        });
        let name = linked.as_deref().unwrap_or(name);
        let mut found: Vec<IpAddr> = Vec::new();
        let _: Option<()> = self.on_my_networks(asker, |network, names, v4, v6, _| {
            let hit = names.iter().any(|n| {
                n.eq_ignore_ascii_case(name)
                    || name
                        .strip_suffix(network)
                        .and_then(|s| s.strip_suffix('.'))
                        .is_some_and(|s| n.eq_ignore_ascii_case(s))
            });
            if hit {
                found.extend(v4.parse::<IpAddr>().ok());
                found.extend(v6.parse::<IpAddr>().ok());
            }
            None
        });
        (!found.is_empty()).then_some(found)
    }

    fn reverse(&self, asker: &str, ip: IpAddr) -> Option<String> {
        let ip = ip.to_string();
        self.on_my_networks(asker, |network, _, v4, v6, name| {
            (v4 == ip || v6 == ip).then(|| format!("{name}.{network}"))
        })
    }

    fn upstreams(&self, asker: &str) -> Vec<SocketAddr> {
        let Some(engine) = self.0.upgrade() else {
            return Vec::new();
        };
        let Ok(c) = engine.get(asker) else {
            return Vec::new();
        };
        // Only on internal networks: no way out, no forwarding.
        let way_out = c.network_settings.networks.values().any(|e| {
            engine
                .network(&e.network_id)
                .is_ok_and(|n| n.is_bridge() && !n.internal)
        });
        if !way_out {
            return Vec::new();
        }
        let dns = c.host_config.dns.clone().unwrap_or_default();
        if !dns.is_empty() {
            return dns
                .iter()
                .filter_map(|d| d.parse::<IpAddr>().ok())
                .map(|ip| SocketAddr::new(ip, 53))
                .collect();
        }
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let found = upstreams_from_resolv_conf(&host);
        if !found.is_empty() {
            return found;
        }
        crate::defaults::FALLBACK_NAMESERVERS
            .iter()
            .filter_map(|ns| ns.parse::<IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
            .collect()
    }
}

/// resolv.conf for a container on a user-defined network: the embedded
/// server, the search domains, `ndots:0` unless options are given.
pub fn resolv_conf(search: &[String], options: &[String]) -> String {
    let mut out = String::new();
    let host_search = if search.is_empty() {
        std::fs::read_to_string("/etc/resolv.conf")
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("search")
                    .map(|s| s.trim().to_string())
            })
    } else {
        Some(search.join(" "))
    };
    if let Some(s) = host_search.filter(|s| !s.is_empty()) {
        out.push_str(&format!("search {s}\n"));
    }
    out.push_str(&format!("nameserver {}\n", berth_net::dns::ADDRESS));
    if options.is_empty() {
        out.push_str("options ndots:0\n");
    } else {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}
