//! A container's link to a bridge: a veth pair made in one request, its
//! host end on the bridge and up, its peer created straight inside the
//! container's network namespace as `eth0`; then, from a thread that has
//! entered that namespace, loopback up, the address, eth0 up and the default
//! route, in one batch. Nothing is undone on the container's exit: the
//! kernel removes the pair with the namespace (an explicit delete costs tens
//! of milliseconds, DESIGN.md 1.1).

use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

use ipnet::IpNet;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};

use crate::bridge::address;
use crate::nl::{Netlink, Request, ifindex, link_delete, link_up};

/// One container's place on one network.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The host end's name (`veth` and 7 hex digits, as dockerd's).
    pub host_name: String,
    /// The name inside the container (`eth0`).
    pub name: String,
    pub bridge_index: u32,
    pub mtu: u32,
    pub mac: [u8; 6],
    /// The container's addresses with their subnets' prefixes (IPv4, and
    /// IPv6 on a network that has it).
    pub addresses: Vec<IpNet>,
    /// Default routes, one per family; empty when another of the
    /// container's networks gives its default route.
    pub gateways: Vec<IpAddr>,
}

/// Docker's MAC for an IPv4 address: 02:42 and the address's four bytes.
pub fn mac_for(ip: IpAddr) -> [u8; 6] {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            [0x02, 0x42, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            [0x02, 0x42, o[12], o[13], o[14], o[15]]
        }
    }
}

/// Plumbs `ep` into the namespace `netns` (an open `/proc/<pid>/ns/net`).
/// `nl` is a socket in the bridge's namespace. On failure what was made is
/// removed.
pub fn plumb(nl: &mut Netlink, netns: &File, ep: &Endpoint) -> io::Result<()> {
    let mut peer = LinkMessage::default();
    peer.attributes.push(LinkAttribute::IfName(ep.name.clone()));
    peer.attributes
        .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
    peer.attributes.push(LinkAttribute::Mtu(ep.mtu));
    peer.attributes
        .push(LinkAttribute::Address(ep.mac.to_vec()));
    let mut veth = LinkMessage::default();
    veth.header.flags = LinkFlags::Up;
    veth.header.change_mask = LinkFlags::Up;
    veth.attributes
        .push(LinkAttribute::IfName(ep.host_name.clone()));
    veth.attributes.push(LinkAttribute::Mtu(ep.mtu));
    veth.attributes
        .push(LinkAttribute::Controller(ep.bridge_index));
    veth.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    nl.apply(vec![Request::create(
        RouteNetlinkMessage::NewLink(veth),
        format!("creating veth {} (peer {})", ep.host_name, ep.name),
    )])?;
    // Hairpin: a container reaching its own published port comes back out
    // of the port it entered by (DESIGN.md 1.4).
    let mut port = LinkMessage::default();
    port.attributes
        .push(LinkAttribute::IfName(ep.host_name.clone()));
    port.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::PortKind(InfoPortKind::Bridge),
        LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
            true,
        )])),
    ]));
    // RTM_NEWLINK on an existing link, as `ip link set ... type
    // bridge_slave` sends: only that path applies a port's settings.
    let hairpin = nl.apply(vec![Request::change(
        RouteNetlinkMessage::NewLink(port),
        format!("setting hairpin on {}", ep.host_name),
    )]);
    if let Err(e) = hairpin {
        let _ = nl.apply(vec![link_delete(&ep.host_name)]);
        return Err(e);
    }
    if let Err(e) = in_namespace(netns, |nl| configure(nl, ep)) {
        let _ = nl.apply(vec![link_delete(&ep.host_name)]);
        return Err(e);
    }
    Ok(())
}

/// Loopback up and nothing else (`--network none`, and every container's
/// namespace before its networks).
pub fn loopback_only(netns: &File) -> io::Result<()> {
    in_namespace(netns, |nl| nl.apply(vec![link_up("lo")]))
}

/// Inside the namespace: lo up, the addresses, the link up, the default
/// routes.
fn configure(nl: &mut Netlink, ep: &Endpoint) -> io::Result<()> {
    let index = ifindex(&ep.name)?;
    let mut up = LinkMessage::default();
    up.header.index = index;
    up.header.flags = LinkFlags::Up;
    up.header.change_mask = LinkFlags::Up;
    let mut requests = vec![link_up("lo")];
    for a in &ep.addresses {
        requests.push(address(index, *a, format!("adding {a} to {}", ep.name)));
    }
    requests.push(Request::change(
        RouteNetlinkMessage::SetLink(up),
        format!("setting {} up", ep.name),
    ));
    for gw in &ep.gateways {
        requests.push(Request::create(
            RouteNetlinkMessage::NewRoute(default_route(index, *gw)),
            format!("adding the default route via {gw}"),
        ));
    }
    nl.apply(requests)
}

fn default_route(index: u32, gateway: IpAddr) -> RouteMessage {
    let mut route = RouteMessage::default();
    route.header = RouteHeader {
        address_family: if gateway.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        },
        table: RouteHeader::RT_TABLE_MAIN,
        protocol: RouteProtocol::Boot,
        scope: RouteScope::Universe,
        kind: RouteType::Unicast,
        ..Default::default()
    };
    let via = match gateway {
        IpAddr::V4(v4) => RouteAddress::Inet(v4),
        IpAddr::V6(v6) => RouteAddress::Inet6(v6),
    };
    route.attributes.push(RouteAttribute::Gateway(via));
    route.attributes.push(RouteAttribute::Oif(index));
    route
}

/// Removes a running container's endpoint (`network disconnect`): the
/// host end goes, and its peer with it.
pub fn unplumb(nl: &mut Netlink, host_name: &str) -> io::Result<()> {
    nl.apply(vec![link_delete(host_name)])
}

/// Runs `f` with a netlink socket inside `netns`, on a thread of its own
/// that enters it (a thread's namespace is its own; the caller's stays as
/// it was).
fn in_namespace<T: Send>(
    netns: &File,
    f: impl FnOnce(&mut Netlink) -> io::Result<T> + Send,
) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                io::Error::other(format!("entering the container's network namespace: {e}"))
            })?;
            let mut nl = Netlink::open()?;
            f(&mut nl)
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the namespace thread panicked")))
    })
}
