//! Addresses for networks, as dockerd's default IPAM hands them out: a
//! subnet from Docker's default pools that nothing on the host (a route, an
//! address, another network) overlaps, or the one asked for; in a subnet, the
//! gateway first and then the lowest free address (within `--ip-range`).

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid subnet {0}: {1}")]
    InvalidSubnet(String, String),
    #[error("Pool overlaps with other one on this address space")]
    Overlap,
    #[error(
        "no available IPv4 address pool: all of Docker's default pools overlap with routes or networks on this host"
    )]
    NoPool,
    #[error("no available IPv4 addresses on this network's address pools: {0}")]
    Exhausted(IpNet),
    #[error("Address already in use: {0}")]
    InUse(IpAddr),
    #[error("invalid address {0}: not in the network's subnet {1}")]
    OutOfRange(IpAddr, IpNet),
    #[error("invalid gateway {0}: not in subnet {1}")]
    BadGateway(IpAddr, IpNet),
    #[error("invalid ip-range {0}: not in subnet {1}")]
    BadRange(IpNet, IpNet),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Docker's default address pools (`default-address-pools`): 172.17.0.0/16
/// to 172.31.0.0/16 as /16s, then 192.168.0.0/16 as /20s.
pub fn default_pools() -> impl Iterator<Item = IpNet> {
    let wide = (17u8..=31).map(|b| format!("172.{b}.0.0/16").parse().expect("a valid net"));
    let narrow = (0u8..16).map(|i| {
        format!("192.168.{}.0/20", i * 16)
            .parse()
            .expect("a valid net")
    });
    wide.chain(narrow)
}

/// The first default pool that overlaps nothing in `taken` (the host's
/// routes and addresses, the other networks' subnets).
pub fn pick_subnet(taken: &[IpNet]) -> Result<IpNet> {
    default_pools()
        .find(|net| !taken.iter().any(|t| overlaps(net, t)))
        .ok_or(Error::NoPool)
}

/// Whether two networks share an address.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Parses a `--subnet` as dockerd does: the address must be the network's
/// own (`10.1.2.0/24`, not `10.1.2.3/24`).
pub fn parse_subnet(s: &str) -> Result<IpNet> {
    let net: IpNet = s
        .parse()
        .map_err(|e| Error::InvalidSubnet(s.to_string(), format!("{e}")))?;
    if net.addr() != net.network() {
        return Err(Error::InvalidSubnet(
            s.to_string(),
            format!("the address is not the network's ({})", net.trunc()),
        ));
    }
    if net.prefix_len() >= net.max_prefix_len() - 1 {
        return Err(Error::InvalidSubnet(
            s.to_string(),
            "too small for a network".into(),
        ));
    }
    Ok(net)
}

/// One subnet's addresses: which are handed out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    pub subnet: IpNet,
    pub gateway: IpAddr,
    /// `--ip-range`: where dynamic addresses come from (the subnet when None).
    pub range: Option<IpNet>,
    /// Addresses in use, the gateway's included.
    used: BTreeSet<IpAddr>,
}

impl Pool {
    /// A pool over `subnet`, its gateway given or the first host address.
    pub fn new(subnet: IpNet, gateway: Option<IpAddr>, range: Option<IpNet>) -> Result<Pool> {
        let gateway = match gateway {
            Some(g) if !subnet.contains(&g) || g == subnet.network() || g == subnet.broadcast() => {
                return Err(Error::BadGateway(g, subnet));
            }
            Some(g) => g,
            // The first address after the network's own (ipnet's IPv6
            // hosts() starts at the network address itself).
            None => subnet
                .hosts()
                .find(|ip| *ip != subnet.network())
                .ok_or(Error::Exhausted(subnet))?,
        };
        if let Some(r) = range
            && !subnet.contains(&r)
        {
            return Err(Error::BadRange(r, subnet));
        }
        Ok(Pool {
            subnet,
            gateway,
            range,
            used: BTreeSet::from([gateway]),
        })
    }

    /// An address for an endpoint: `want` if free and in the subnet, else
    /// the lowest free one of the range.
    pub fn allocate(&mut self, want: Option<IpAddr>) -> Result<IpAddr> {
        let ip = match want {
            Some(ip) => {
                if !self.subnet.contains(&ip)
                    || ip == self.subnet.network()
                    || ip == self.subnet.broadcast()
                {
                    return Err(Error::OutOfRange(ip, self.subnet));
                }
                if self.used.contains(&ip) {
                    return Err(Error::InUse(ip));
                }
                ip
            }
            None => {
                // Every address of the range, its own network and
                // broadcast addresses included (dockerd allocates those of
                // a sub-range); only the subnet's are never handed out.
                let range = self.range.unwrap_or(self.subnet);
                let all: ipnet::IpAddrRange = match range {
                    IpNet::V4(n) => ipnet::Ipv4AddrRange::new(n.network(), n.broadcast()).into(),
                    IpNet::V6(n) => ipnet::Ipv6AddrRange::new(n.network(), n.broadcast()).into(),
                };
                all.filter(|ip| *ip != self.subnet.network() && *ip != self.subnet.broadcast())
                    .find(|ip| !self.used.contains(ip))
                    .ok_or(Error::Exhausted(self.subnet))?
            }
        };
        self.used.insert(ip);
        Ok(ip)
    }

    /// Takes an address that is never handed out (an auxiliary address,
    /// `--aux-address`): in the subnet, not its network or broadcast
    /// address, not taken already.
    pub fn reserve(&mut self, ip: IpAddr) -> Result<()> {
        if !self.subnet.contains(&ip)
            || ip == self.subnet.network()
            || ip == self.subnet.broadcast()
        {
            return Err(Error::OutOfRange(ip, self.subnet));
        }
        if !self.used.insert(ip) {
            return Err(Error::InUse(ip));
        }
        Ok(())
    }

    /// Gives an address back (the gateway stays).
    pub fn release(&mut self, ip: IpAddr) {
        if ip != self.gateway {
            self.used.remove(&ip);
        }
    }

    pub fn in_use(&self) -> usize {
        self.used.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_skip_what_the_host_uses() {
        assert_eq!(pick_subnet(&[]).unwrap(), net("172.17.0.0/16"));
        // docker0's, and a host route inside 172.18/16.
        let taken = [net("172.17.0.0/16"), net("172.18.5.0/24")];
        assert_eq!(pick_subnet(&taken).unwrap(), net("172.19.0.0/16"));
        // A default route does not count: callers leave 0.0.0.0/0 out; a
        // route covering all of 172.16/12 does.
        let taken = [net("172.16.0.0/12")];
        assert_eq!(pick_subnet(&taken).unwrap(), net("192.168.0.0/20"));
        let all: Vec<IpNet> = default_pools().collect();
        assert_eq!(pick_subnet(&all), Err(Error::NoPool));
    }

    #[test]
    fn subnets_parse_as_dockerd_checks_them() {
        assert_eq!(parse_subnet("10.1.2.0/24").unwrap(), net("10.1.2.0/24"));
        assert!(
            parse_subnet("10.1.2.3/24")
                .unwrap_err()
                .to_string()
                .contains("10.1.2.0/24")
        );
        assert!(parse_subnet("10.1.2.0/33").is_err());
        assert!(parse_subnet("nonsense").is_err());
        assert!(parse_subnet("10.0.0.0/31").is_err());
        assert!(parse_subnet("fd00:1::/64").is_ok());
    }

    #[test]
    fn addresses_come_in_order_and_go_back() {
        let mut p = Pool::new(net("10.9.0.0/29"), None, None).unwrap();
        assert_eq!(p.gateway, ip("10.9.0.1"));
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.2"));
        assert_eq!(p.allocate(Some(ip("10.9.0.5"))).unwrap(), ip("10.9.0.5"));
        assert_eq!(
            p.allocate(Some(ip("10.9.0.5"))),
            Err(Error::InUse(ip("10.9.0.5")))
        );
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.3"));
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.4"));
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.6"));
        assert_eq!(p.allocate(None), Err(Error::Exhausted(net("10.9.0.0/29"))));
        p.release(ip("10.9.0.3"));
        p.release(ip("10.9.0.1"));
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.3"));
        assert!(matches!(
            p.allocate(Some(ip("10.8.0.1"))),
            Err(Error::OutOfRange(..))
        ));
        assert!(matches!(
            p.allocate(Some(ip("10.9.0.7"))),
            Err(Error::OutOfRange(..))
        ));
    }

    #[test]
    fn gateways_and_ranges_are_checked() {
        let s = net("10.9.0.0/24");
        assert!(matches!(
            Pool::new(s, Some(ip("10.8.0.1")), None),
            Err(Error::BadGateway(..))
        ));
        assert!(matches!(
            Pool::new(s, Some(ip("10.9.0.0")), None),
            Err(Error::BadGateway(..))
        ));
        assert!(matches!(
            Pool::new(s, None, Some(net("10.8.0.0/28"))),
            Err(Error::BadRange(..))
        ));
        let mut p = Pool::new(s, Some(ip("10.9.0.254")), Some(net("10.9.0.128/25"))).unwrap();
        // The range's own first address is a host of the subnet: dockerd
        // hands it out first.
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.128"));
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.129"));
        // Auxiliary addresses are never handed out.
        p.reserve(ip("10.9.0.130")).unwrap();
        assert_eq!(
            p.reserve(ip("10.9.0.130")),
            Err(Error::InUse(ip("10.9.0.130")))
        );
        assert_eq!(
            p.reserve(ip("10.9.0.254")),
            Err(Error::InUse(ip("10.9.0.254")))
        );
        assert!(matches!(
            p.reserve(ip("10.9.1.1")),
            Err(Error::OutOfRange(..))
        ));
        assert_eq!(p.allocate(None).unwrap(), ip("10.9.0.131"));
        assert_eq!(
            p.allocate(Some(ip("10.9.0.130"))),
            Err(Error::InUse(ip("10.9.0.130")))
        );
        let round: Pool = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(round, p);
    }
}
