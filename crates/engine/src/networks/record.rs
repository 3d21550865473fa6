//! A network as the engine keeps it in the store's `networks` table: what
//! `network create` asked for, resolved (the subnets picked, the bridge's
//! name, the MTU). Addresses handed to containers are not here: they live in
//! the container records, and the pools are rebuilt from those at open.

use std::collections::BTreeMap;
use std::net::IpAddr;

use berth_models::network as wire;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The three networks every engine has, as dockerd's.
pub const BRIDGE: &str = "bridge";
pub const HOST: &str = "host";
pub const NONE: &str = "none";

/// Options dockerd reports for its default bridge.
pub const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
pub const OPT_MTU: &str = "com.docker.network.driver.mtu";
pub const OPT_DEFAULT_BRIDGE: &str = "com.docker.network.bridge.default_bridge";
pub const OPT_ICC: &str = "com.docker.network.bridge.enable_icc";
pub const OPT_MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
pub const OPT_HOST_BINDING: &str = "com.docker.network.bridge.host_binding_ipv4";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet: IpNet,
    pub gateway: IpAddr,
    pub ip_range: Option<IpNet>,
    /// Given by the user (`--subnet`): only then may a container ask for
    /// its address (`--ip`), as dockerd rules.
    pub user: bool,
    /// The gateway was given, or is IPv4 (dockerd lists those, not an
    /// implicit IPv6 gateway).
    pub gateway_listed: bool,
    /// Auxiliary addresses (`--aux-address name=ip`): kept for inspect and
    /// never handed to a container.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux: BTreeMap<String, IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    pub created: String,
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: bool,
    pub subnets: Vec<Subnet>,
    /// `-o` as given (or the default bridge's, as dockerd shows them).
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// IPAM driver options (`--ipam-opt`); None when the client sent
    /// null, which dockerd answers as null.
    #[serde(default)]
    pub ipam_options: Option<BTreeMap<String, String>>,
    /// The Linux bridge; empty for host and none.
    pub bridge: String,
    pub mtu: u32,
}

impl NetworkRecord {
    pub fn is_bridge(&self) -> bool {
        self.driver == "bridge"
    }

    /// The engine's own networks, which cannot be removed.
    pub fn is_builtin(&self) -> bool {
        matches!(self.name.as_str(), BRIDGE | HOST | NONE)
    }

    /// A user-defined bridge: the only kind with aliases and a DNS server.
    pub fn is_user_bridge(&self) -> bool {
        self.is_bridge() && self.name != BRIDGE
    }

    pub fn v4(&self) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.subnet.addr().is_ipv4())
    }

    pub fn v6(&self) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.subnet.addr().is_ipv6())
    }

    /// The swagger's `Network`, without its containers.
    pub fn to_wire(&self) -> wire::Network {
        let builtin = self.is_builtin();
        let config = if self.is_bridge() {
            Some(
                self.subnets
                    .iter()
                    .map(|s| wire::IpamConfig {
                        subnet: Some(s.subnet.to_string()),
                        ip_range: s.ip_range.map(|r| r.to_string()),
                        gateway: s.gateway_listed.then(|| s.gateway.to_string()),
                        auxiliary_addresses: (!s.aux.is_empty()).then(|| {
                            s.aux
                                .iter()
                                .map(|(k, ip)| (k.clone(), ip.to_string()))
                                .collect()
                        }),
                    })
                    .collect(),
            )
        } else {
            Some(Vec::new())
        };
        wire::Network {
            name: self.name.clone(),
            id: self.id.clone(),
            created: self.created.clone(),
            scope: "local".into(),
            driver: self.driver.clone(),
            enable_ipv6: self.enable_ipv6,
            ipam: wire::Ipam {
                driver: "default".into(),
                options: if builtin {
                    None
                } else {
                    self.ipam_options.clone()
                },
                config,
            },
            internal: self.internal,
            attachable: self.attachable,
            ingress: false,
            config_from: wire::ConfigReference::default(),
            config_only: false,
            containers: BTreeMap::new(),
            options: self.options.clone(),
            labels: self.labels.clone(),
        }
    }
}
