//! `POST /networks/create`: dockerd's checks of a bridge network's
//! name, driver, options and IPAM (its error texts and statuses), the
//! subnets picked, and the bridge made before the record is stored.

use std::collections::BTreeMap;
use std::net::IpAddr;

use berth_models::network as wire;
use berth_net::ipam;
use ipnet::IpNet;

use super::record::{self, BRIDGE, HOST, NONE, Subnet};
use super::{NetworkRecord, first_host, live, now, parse_bool_opt, pick_subnet};
use crate::{Engine, Error, Result};

/// The bridge driver's `-o` options berth applies; any other is refused
/// rather than ignored.
const BRIDGE_OPTIONS: &[&str] = &[
    record::OPT_BRIDGE_NAME,
    record::OPT_MTU,
    record::OPT_ICC,
    record::OPT_MASQUERADE,
    record::OPT_HOST_BINDING,
];

impl Engine {
    /// `POST /networks/create`.
    pub fn network_create(
        &self,
        req: wire::NetworkCreateRequest,
    ) -> Result<wire::NetworkCreateResponse> {
        let name = req.name.trim().to_string();
        if name.is_empty() {
            return Err(Error::Invalid("network name cannot be empty".into()));
        }
        if matches!(name.as_str(), BRIDGE | HOST | NONE) {
            return Err(Error::Forbidden(format!(
                "{name} is a pre-defined network and cannot be created"
            )));
        }
        let driver = req.driver.clone().unwrap_or_default();
        match driver.as_str() {
            "" | "bridge" => {}
            "host" | "null" => {
                return Err(Error::Forbidden(format!(
                    "only one instance of \"{driver}\" network is allowed"
                )));
            }
            other => {
                return Err(Error::NotFound(format!(
                    "plugin \"{other}\" not found (Driver: berth has the bridge driver only)"
                )));
            }
        }
        let refuse = |what: &str| {
            Err(Error::Invalid(format!(
                "{what}: swarm networks are not supported by berth"
            )))
        };
        if req.ingress {
            return refuse("Ingress");
        }
        if req.config_only
            || req
                .config_from
                .as_ref()
                .is_some_and(|c| !c.network.is_empty())
        {
            return refuse("ConfigOnly/ConfigFrom");
        }
        if req
            .scope
            .as_deref()
            .is_some_and(|s| !s.is_empty() && s != "local")
        {
            return refuse("Scope");
        }
        if req.enable_ipv4 == Some(false) {
            return Err(Error::Invalid(
                "EnableIPv4=false: IPv6-only networks are not supported by berth".into(),
            ));
        }
        let options = req.options.clone().unwrap_or_default();
        for key in options.keys() {
            if !BRIDGE_OPTIONS.contains(&key.as_str()) {
                return Err(Error::Invalid(format!(
                    "network option {key} (--opt) is not supported by berth's bridge driver"
                )));
            }
        }
        parse_bool_opt(&options, record::OPT_ICC)?;
        parse_bool_opt(&options, record::OPT_MASQUERADE)?;
        let ipam = req.ipam.clone().unwrap_or_default();
        if !matches!(ipam.driver.as_str(), "" | "default") {
            return Err(Error::NotFound(format!(
                "plugin \"{}\" not found (IPAM.Driver: berth has the default IPAM only)",
                ipam.driver
            )));
        }
        let existing = self.networks()?;
        if existing.iter().any(|n| n.name == name) {
            return Err(Error::Conflict(format!(
                "network with name {name} already exists"
            )));
        }
        let enable_ipv6 = req.enable_ipv6.unwrap_or(false);
        let mut taken: Vec<IpNet> = existing
            .iter()
            .flat_map(|n| n.subnets.iter().map(|s| s.subnet))
            .collect();
        let mut subnets = Vec::new();
        for c in ipam.config.iter().flatten() {
            let subnet = match &c.subnet {
                Some(s) if !s.is_empty() => Some(ipam::parse_subnet(s).map_err(|e| {
                    // dockerd's words for what does not parse at all.
                    if s.parse::<IpNet>().is_err() {
                        Error::Invalid(format!("Invalid subnet {s} : invalid CIDR address: {s}"))
                    } else {
                        Error::Invalid(format!("Invalid subnet {s} : {e}"))
                    }
                })?),
                _ => None,
            };
            let gateway: Option<IpAddr> = match &c.gateway {
                Some(g) if !g.is_empty() => Some(g.parse().map_err(|_| {
                    Error::Invalid(format!("invalid gateway address {g}: not an IP address"))
                })?),
                _ => None,
            };
            let range: Option<IpNet> = match &c.ip_range {
                Some(r) if !r.is_empty() => Some(
                    r.parse()
                        .map_err(|e| Error::Invalid(format!("invalid ip-range {r}: {e}")))?,
                ),
                _ => None,
            };
            let Some(subnet) = subnet else {
                if gateway.is_some() || range.is_some() {
                    return Err(Error::Invalid(
                        "a gateway or ip-range needs its subnet (--subnet)".into(),
                    ));
                }
                if c.auxiliary_addresses.iter().flatten().next().is_some() {
                    return Err(Error::Invalid(
                        "auxiliary addresses (--aux-address) need their subnet (--subnet)".into(),
                    ));
                }
                continue;
            };
            if subnet.addr().is_ipv6() && !enable_ipv6 {
                return Err(Error::Invalid(format!(
                    "IPv6 subnet {subnet} given, but IPv6 is not enabled on the network (--ipv6)"
                )));
            }
            if taken.iter().any(|t| ipam::overlaps(t, &subnet)) {
                return Err(Error::Forbidden(ipam::Error::Overlap.to_string()));
            }
            // Without one, dockerd's gateway is the first address of the
            // range (of the subnet when none).
            let implicit = match (gateway, range) {
                (None, Some(r)) if r.network() != subnet.network() => Some(r.network()),
                _ => None,
            };
            // Validates the gateway and range against the subnet.
            let mut pool =
                ipam::Pool::new(subnet, gateway.or(implicit), range).map_err(|e| match e {
                    // dockerd answers 500 for it.
                    ipam::Error::BadGateway(g, _) => Error::Internal(format!(
                        "failed to allocate gateway ({g}): Requested address is out of range"
                    )),
                    other => other.into(),
                })?;
            let aux = aux_addresses(&name, subnet, &mut pool, c.auxiliary_addresses.as_ref())?;
            if subnets
                .iter()
                .any(|s: &Subnet| s.subnet.addr().is_ipv4() == subnet.addr().is_ipv4())
            {
                return Err(Error::Invalid(
                    "more than one subnet of a family on a network is not supported by berth yet"
                        .into(),
                ));
            }
            taken.push(subnet);
            subnets.push(Subnet {
                subnet,
                gateway: pool.gateway,
                ip_range: range,
                user: true,
                // dockerd lists a gateway only when the user gave one.
                gateway_listed: gateway.is_some(),
                aux,
            });
        }
        if !subnets.iter().any(|s| s.subnet.addr().is_ipv4()) {
            let mut all_taken = taken.clone();
            all_taken.extend(live::host_subnets());
            let subnet = pick_subnet(&all_taken)?;
            subnets.insert(
                0,
                Subnet {
                    subnet,
                    gateway: first_host(subnet)?,
                    ip_range: None,
                    user: false,
                    gateway_listed: true,
                    aux: BTreeMap::new(),
                },
            );
        }
        if enable_ipv6 && !subnets.iter().any(|s| s.subnet.addr().is_ipv6()) {
            return Err(Error::Forbidden(
                "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"
                    .into(),
            ));
        }
        let id = crate::names::random_id();
        let bridge = options
            .get(record::OPT_BRIDGE_NAME)
            .cloned()
            .unwrap_or_else(|| format!("br-{}", &id[..12]));
        if bridge.is_empty() || bridge.len() > 15 || bridge.contains(['/', ' ']) {
            return Err(Error::Invalid(format!(
                "invalid bridge name {bridge:?} ({}): 1 to 15 characters, no '/' or space",
                record::OPT_BRIDGE_NAME
            )));
        }
        if existing.iter().any(|n| n.bridge == bridge) {
            return Err(Error::Conflict(format!(
                "bridge {bridge} is already used by another network"
            )));
        }
        let mtu = match options.get(record::OPT_MTU) {
            Some(m) => m
                .parse::<u32>()
                .ok()
                .filter(|m| (68..=65535).contains(m))
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "invalid MTU {m:?} ({}): a number from 68 to 65535",
                        record::OPT_MTU
                    ))
                })?,
            None => live::uplink_mtu(),
        };
        let n = NetworkRecord {
            id: id.clone(),
            name: name.clone(),
            driver: "bridge".into(),
            created: now(),
            internal: req.internal,
            attachable: req.attachable,
            enable_ipv6,
            subnets,
            options,
            labels: req.labels.unwrap_or_default(),
            ipam_options: ipam.options,
            bridge,
            mtu,
        };
        self.live_network_up(&n)?;
        if let Err(e) = self.write_network_records(|s| s.put(berth_store::Kind::Networks, &id, &n))
        {
            self.live_network_down(&n);
            return Err(e);
        }
        self.network_event("create", &n, None);
        Ok(wire::NetworkCreateResponse {
            id,
            warning: String::new(),
        })
    }
}

/// A subnet's auxiliary addresses (`--aux-address`), checked as
/// libnetwork's ipamAllocateVersion does (its words and dockerd 20.10's
/// statuses: a malformed one 500, one outside the subnet 403, one taken,
/// the gateway's or another's, 500) and reserved in `pool`.
fn aux_addresses(
    network: &str,
    subnet: IpNet,
    pool: &mut ipam::Pool,
    given: Option<&BTreeMap<String, String>>,
) -> Result<BTreeMap<String, IpAddr>> {
    let mut out = BTreeMap::new();
    for (k, v) in given.into_iter().flatten() {
        let ip: IpAddr = v.parse().map_err(|_| {
            Error::Internal(format!(
                "non parsable secondary ip address ({k}:{v}) passed for network {network}"
            ))
        })?;
        if !subnet.contains(&ip) {
            return Err(Error::Forbidden(format!(
                "auxiliary address: ({k}:{v}) must belong to the master pool: {subnet}"
            )));
        }
        pool.reserve(ip).map_err(|e| {
            let why = match e {
                ipam::Error::InUse(_) => "Address already in use".to_string(),
                other => other.to_string(),
            };
            Error::Internal(format!(
                "failed to allocate secondary ip address ({k}:{v}): {why}"
            ))
        })?;
        out.insert(k.clone(), ip);
    }
    Ok(out)
}
