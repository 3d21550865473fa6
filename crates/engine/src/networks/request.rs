//! At create: the endpoints a container asks for (its network mode,
//! `NetworkingConfig`, `--mac-address`, ports, links), checked against
//! dockerd's rules and kept in its record as `NetworkSettings.Networks`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use berth_models::network::{EndpointSettings, NetworkSettings};

use super::attach::{mode_network, parse_mac};
use super::record::{HOST, NONE};
use super::{NetworkRecord, ports};
use crate::model::{Config, HostConfig};
use crate::{Engine, Error, Result};

impl Engine {
    /// At create: the endpoints the container asks for, checked; a warning
    /// when ports are dropped (`--network host`), as dockerd's.
    pub(crate) fn requested_networks(
        &self,
        config: &mut Config,
        hc: &mut HostConfig,
    ) -> Result<(NetworkSettings, Vec<String>)> {
        let mut warnings = Vec::new();
        let mode = mode_network(hc, self.has_default_bridge());
        if let Some(owner) = mode.strip_prefix("container:") {
            self.get(owner)?;
            let conflicts = [
                (!config.hostname.is_empty(), "hostname"),
                (
                    hc.dns.iter().flatten().next().is_some()
                        || hc.dns_search.iter().flatten().next().is_some()
                        || hc.dns_options.iter().flatten().next().is_some(),
                    "dns",
                ),
                (
                    hc.extra_hosts.iter().flatten().next().is_some(),
                    "custom host-to-IP mapping",
                ),
                (!config.mac_address.is_empty(), "mac-address"),
            ];
            if let Some((_, what)) = conflicts.iter().find(|(set, _)| *set) {
                return Err(Error::Invalid(format!(
                    "conflicting options: {what} and the network mode"
                )));
            }
            if !ports::wanted(config, hc)?.is_empty() {
                return Err(Error::Invalid(
                    "conflicting options: port publishing and the container type network mode"
                        .into(),
                ));
            }
            let endpoints = config
                .networking_config
                .take()
                .and_then(|n| n.endpoints_config);
            if endpoints.iter().flatten().any(|(k, v)| {
                k != "default" && k != &mode || v.as_ref().is_some_and(|v| *v != Default::default())
            }) {
                return Err(Error::Invalid(format!(
                    "conflicting options: networks and --network {mode}: a container on another's network has no endpoints of its own"
                )));
            }
            return Ok((NetworkSettings::default(), warnings));
        }
        let mut asked: BTreeMap<String, EndpointSettings> = config
            .networking_config
            .take()
            .and_then(|n| n.endpoints_config)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                (
                    if k == "default" { mode.clone() } else { k },
                    v.unwrap_or_default(),
                )
            })
            .collect();
        asked.entry(mode.clone()).or_default();
        if !config.mac_address.is_empty() {
            // API < 1.44 sends it in Config, for the mode's network.
            let ep = asked.get_mut(&mode).expect("inserted");
            if ep.mac_address.is_empty() {
                ep.mac_address = std::mem::take(&mut config.mac_address);
            }
        }
        let mut out = NetworkSettings::default();
        for (name, mut ep) in asked {
            let n = match self.network(&name) {
                Ok(n) => n,
                Err(Error::NotFound(_)) => {
                    // dockerd creates it and fails the start (404): docker's
                    // CLI would take a 404 at create for a missing image.
                    out.networks.insert(name, ep);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let private = n.name == HOST || n.name == NONE;
            // host or none alone: nothing may come before it.
            if private && !out.networks.is_empty() {
                return Err(conflict_private(&n.name));
            }
            if !private && out.networks.keys().any(|k| k == HOST || k == NONE) {
                return Err(conflict_private(
                    out.networks
                        .keys()
                        .find(|k| *k == HOST || *k == NONE)
                        .expect("found"),
                ));
            }
            check_endpoint(&n, &ep)?;
            ep.network_id = n.id.clone();
            out.networks.insert(n.name.clone(), ep);
        }
        if mode == HOST {
            let published = hc.port_bindings.iter().flatten().next().is_some();
            if published || hc.publish_all_ports {
                warnings.push("Published ports are discarded when using host network mode".into());
                hc.port_bindings = None;
                hc.publish_all_ports = false;
            }
        }
        let wanted = ports::wanted(config, hc)?;
        let bridged = out.networks.keys().any(|k| k != HOST && k != NONE);
        if !wanted.is_empty() && !bridged {
            return Err(Error::Invalid(
                "conflicting options: port publishing and the container type network mode".into(),
            ));
        }
        for l in super::links::of(hc)? {
            // 400, not 404: docker's CLI reads a 404 at create as a
            // missing image and pulls.
            self.get(&l.name).map_err(|_| {
                Error::Invalid(format!(
                    "could not get container for {0}: No such container: {0}",
                    l.name
                ))
            })?;
        }
        Ok((out, warnings))
    }
}

fn conflict_private(name: &str) -> Error {
    Error::Invalid(format!(
        "container cannot be connected to multiple networks with one of the networks in private ({name}) mode"
    ))
}

/// dockerd's rules for what an endpoint may ask of its network.
pub(crate) fn check_endpoint(n: &NetworkRecord, ep: &EndpointSettings) -> Result<()> {
    if ep.aliases.iter().flatten().next().is_some() && !n.is_user_bridge() {
        return Err(Error::Invalid(
            "network-scoped aliases are only supported for user-defined networks".into(),
        ));
    }
    // dockerd's bridge driver ignores endpoint options it does not know
    // (kept, and shown in inspect); those of its own namespace it would act
    // on, which berth's does not.
    if let Some(key) = ep
        .driver_opts
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| k.starts_with("com.docker.network."))
    {
        return Err(Error::Invalid(format!(
            "endpoint driver option {key} (--network name={},driver-opt=... / EndpointsConfig.{0}.DriverOpts) is not supported by berth's bridge driver",
            n.name
        )));
    }
    for l in ep.links.iter().flatten() {
        super::links::parse(l)?;
    }
    if !ep.mac_address.is_empty() {
        if !n.is_bridge() {
            return Err(Error::Invalid(
                "conflicting options: mac-address and the network mode".into(),
            ));
        }
        parse_mac(&ep.mac_address)?;
    }
    let Some(ipam) = &ep.ipam_config else {
        return Ok(());
    };
    // Malformed link-local addresses are refused at start (and at a running
    // container's connect), as dockerd 20.10 does.
    for (addr, v6) in [(&ipam.ipv4_address, false), (&ipam.ipv6_address, true)] {
        if addr.is_empty() {
            continue;
        }
        if !n.is_user_bridge() {
            return Err(Error::Invalid(
                "user specified IP address is supported on user defined networks only".into(),
            ));
        }
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| Error::Invalid(format!("invalid IP address: {addr}")))?;
        if ip.is_ipv6() != v6 {
            return Err(Error::Invalid(format!(
                "invalid IPv{} address: {addr}",
                if v6 { 6 } else { 4 }
            )));
        }
        if v6 && !n.enable_ipv6 {
            return Err(Error::Invalid(format!(
                "IPv6 address {addr} given, but network {} has no IPv6 (--ipv6)",
                n.name
            )));
        }
        let subnet = n
            .subnets
            .iter()
            .find(|s| s.subnet.addr().is_ipv6() == v6 && s.user);
        let Some(subnet) = subnet else {
            return Err(Error::Invalid(
                "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
            ));
        };
        if !subnet.subnet.contains(&ip) {
            return Err(Error::Invalid(format!(
                "Invalid address {ip}: It does not belong to any of this network's subnets"
            )));
        }
    }
    Ok(())
}

/// An endpoint's `--link-local-ip` addresses, as dockerd parses them
/// (buildCreateEndpointOptions: any address; its error names the list).
pub(crate) fn link_local_ips(
    ipam: &berth_models::network::EndpointIpamConfig,
) -> Result<Vec<IpAddr>> {
    let all = ipam.link_local_ips.iter().flatten();
    all.filter(|s| !s.is_empty())
        .map(|s| {
            s.parse().map_err(|_| {
                Error::Invalid(format!(
                    "Invalid link-local IP address: [{}]",
                    ipam.link_local_ips
                        .iter()
                        .flatten()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" ")
                ))
            })
        })
        .collect()
}
