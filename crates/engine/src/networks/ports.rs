//! Published ports: `HostConfig.PortBindings` (and `-P`'s exposed ports)
//! checked at create, host ports reserved at start (berth-net's ports.rs:
//! a bound socket per port, so nobody else takes it), and the DNAT rules
//! they become.

use std::collections::BTreeMap;
use std::net::IpAddr;

use berth_models::network::{PortBinding, PortMap};
use berth_net::nft::{PortRule, Proto};
use berth_net::ports::{self, Reservation};

use crate::model::{Config, HostConfig};
use crate::{Error, Result};

/// One host binding asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub container_port: u16,
    pub proto: Proto,
    pub host_ip: Option<IpAddr>,
    /// None: any free port; a range: the first free one in it.
    pub host_ports: Option<(u16, u16)>,
}

/// `80/tcp` → (80, tcp), as dockerd parses a port key.
pub fn parse_key(key: &str) -> Result<(u16, Proto)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = match proto {
        "tcp" | "" => Proto::Tcp,
        "udp" => Proto::Udp,
        "sctp" => Proto::Sctp,
        other => return Err(Error::Invalid(format!("invalid proto: {other}"))),
    };
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| Error::Invalid(format!("invalid containerPort: {port}")))?;
    Ok((port, proto))
}

fn parse_host_ports(s: &str) -> Result<Option<(u16, u16)>> {
    if s.is_empty() {
        return Ok(None);
    }
    let one = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| Error::Invalid(format!("invalid hostPort: {s}")))
    };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (one(a)?, one(b)?),
        None => (one(s)?, one(s)?),
    };
    if a > b {
        return Err(Error::Invalid(format!("invalid hostPort: {s}")));
    }
    // Port 0 means "any", as an empty one.
    Ok((a != 0).then_some((a, b)))
}

/// Every binding the container asks for, checked: `PortBindings`, and with
/// `PublishAllPorts` every exposed port not bound otherwise, on a free port.
pub fn wanted(config: &Config, hc: &HostConfig) -> Result<Vec<Wanted>> {
    let mut out = Vec::new();
    let mut bound = std::collections::HashSet::new();
    for (key, bindings) in hc.port_bindings.iter().flatten() {
        let (container_port, proto) = parse_key(key)?;
        let list: Vec<PortBinding> = match bindings {
            serde_json::Value::Null => Vec::new(),
            v => serde_json::from_value(v.clone())
                .map_err(|e| Error::Invalid(format!("HostConfig.PortBindings.{key}: {e}")))?,
        };
        for b in list {
            let host_ip = match b.host_ip.as_str() {
                "" => None,
                ip => Some(ip.parse::<IpAddr>().map_err(|_| {
                    Error::Invalid(format!(
                        "invalid IP address: {ip} (HostConfig.PortBindings.{key}.HostIp)"
                    ))
                })?),
            };
            let host_ports = parse_host_ports(&b.host_port)?;
            bound.insert((container_port, proto));
            out.push(Wanted {
                container_port,
                proto,
                host_ip,
                host_ports,
            });
        }
    }
    if hc.publish_all_ports {
        for key in config.exposed_ports.iter().flatten().map(|(k, _)| k) {
            let (container_port, proto) = parse_key(key)?;
            if bound.insert((container_port, proto)) {
                out.push(Wanted {
                    container_port,
                    proto,
                    host_ip: None,
                    host_ports: None,
                });
            }
        }
    }
    Ok(out)
}

/// Host ports held for one run: the sockets, the rules to add, and what
/// inspect shows.
#[derive(Default)]
pub struct Published {
    pub reservations: Vec<Reservation>,
    pub rules: Vec<PortRule>,
    pub map: PortMap,
}

/// Reserves every wanted port for a container at `container_ip`. The
/// exposed ports without a binding show as `null`, as dockerd's.
pub fn publish(
    wanted: &[Wanted],
    exposed: &[String],
    container_ip: Option<IpAddr>,
) -> Result<Published> {
    let mut out = Published::default();
    for key in exposed {
        out.map.entry(key.clone()).or_insert(None);
    }
    let Some(container_ip) = container_ip else {
        return Ok(out);
    };
    for w in wanted {
        let (port, reservation) = reserve(w)?;
        out.reservations.push(reservation);
        out.rules.push(PortRule {
            host_ip: w.host_ip,
            proto: w.proto,
            host_ports: (port, port),
            container_ip,
            container_ports: (w.container_port, w.container_port),
        });
        let shown = match w.host_ip {
            Some(ip) => ip.to_string(),
            None => "0.0.0.0".into(),
        };
        out.map
            .entry(format!("{}/{}", w.container_port, w.proto))
            .or_insert(None)
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: shown,
                host_port: port.to_string(),
            });
    }
    Ok(out)
}

fn reserve(w: &Wanted) -> Result<(u16, Reservation)> {
    let taken = |e: std::io::Error| Error::Invalid(e.to_string());
    match w.host_ports {
        None => ports::reserve_any(w.host_ip, w.proto).map_err(taken),
        Some((a, b)) if a == b => Ok((a, ports::reserve(w.host_ip, w.proto, a).map_err(taken)?)),
        Some((a, b)) => {
            let mut last = None;
            for p in a..=b {
                match ports::reserve(w.host_ip, w.proto, p) {
                    Ok(r) => return Ok((p, r)),
                    Err(e) => last = Some(e),
                }
            }
            Err(taken(last.expect("a non-empty range")))
        }
    }
}

/// The exposed ports' keys, normalised (`80` → `80/tcp`).
pub fn exposed_keys(config: &Config, hc: &HostConfig) -> Vec<String> {
    let mut keys: BTreeMap<String, ()> = BTreeMap::new();
    for k in config.exposed_ports.iter().flatten().map(|(k, _)| k) {
        if let Ok((p, proto)) = parse_key(k) {
            keys.insert(format!("{p}/{proto}"), ());
        }
    }
    for k in hc.port_bindings.iter().flatten().map(|(k, _)| k) {
        if let Ok((p, proto)) = parse_key(k) {
            keys.insert(format!("{p}/{proto}"), ());
        }
    }
    keys.into_keys().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_host_ports_parse_as_dockerd_does() {
        assert_eq!(parse_key("80/tcp").unwrap(), (80, Proto::Tcp));
        assert_eq!(parse_key("53/udp").unwrap(), (53, Proto::Udp));
        assert_eq!(parse_key("9/sctp").unwrap(), (9, Proto::Sctp));
        assert_eq!(parse_key("8080").unwrap(), (8080, Proto::Tcp));
        assert!(
            parse_key("abc/tcp")
                .unwrap_err()
                .to_string()
                .contains("invalid containerPort: abc")
        );
        assert!(parse_key("80/icmp").is_err());
        assert_eq!(parse_host_ports("").unwrap(), None);
        assert_eq!(parse_host_ports("0").unwrap(), None);
        assert_eq!(parse_host_ports("8080").unwrap(), Some((8080, 8080)));
        assert_eq!(parse_host_ports("8000-8010").unwrap(), Some((8000, 8010)));
        assert!(
            parse_host_ports("70000")
                .unwrap_err()
                .to_string()
                .contains("invalid hostPort: 70000")
        );
        assert!(parse_host_ports("9-3").is_err());
    }
}
