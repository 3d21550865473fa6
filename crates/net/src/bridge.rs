//! A network's Linux bridge: made when missing, tagged with an alias so a
//! daemon recognises its own, given the gateway address, brought up, and
//! allowed to route 127.0.0.1 (published ports reached from the host's
//! loopback without a userland proxy, as dockerd's bridge driver sets it).

use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};

use crate::nl::{Netlink, Request, ifindex, link_delete};

/// What a network's bridge is.
#[derive(Debug, Clone)]
pub struct Bridge {
    pub name: String,
    /// `berth:<network id>`: whose bridge it is.
    pub alias: String,
    /// The gateway's address with the subnet's prefix (`172.18.0.1/16`).
    pub gateway: IpNet,
    pub mtu: u32,
}

/// An address on a link, as `ip addr add` makes it.
pub fn address(index: u32, net: IpNet, what: String) -> Request {
    let mut a = AddressMessage::default();
    a.header.family = match net.addr() {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    a.header.prefix_len = net.prefix_len();
    a.header.index = index;
    a.attributes.push(AddressAttribute::Local(net.addr()));
    a.attributes.push(AddressAttribute::Address(net.addr()));
    if net.addr().is_ipv6() {
        // No duplicate address detection: the address is usable at once
        // (a container's first packets would wait on it otherwise).
        a.header.flags = AddressHeaderFlags::Nodad;
        a.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    if let IpNet::V4(v4) = net {
        a.attributes
            .push(AddressAttribute::Broadcast(v4.broadcast()));
    }
    Request::create(RouteNetlinkMessage::NewAddress(a), what)
}

/// Makes the bridge (or finds it), gives it its address, brings it up.
/// Returns its index.
pub fn ensure(nl: &mut Netlink, b: &Bridge) -> io::Result<u32> {
    // Never take over another kind of link that has the name (`-o
    // com.docker.network.bridge.name=eth0`), as dockerd refuses it.
    if nl.link_is_bridge(&b.name)? == Some(false) {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("device {} exists and is not a bridge", b.name),
        ));
    }
    if ifindex(&b.name).is_err() {
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName(b.name.clone()));
        link.attributes
            .push(LinkAttribute::IfAlias(b.alias.clone()));
        link.attributes.push(LinkAttribute::Mtu(b.mtu));
        link.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        nl.apply(vec![Request::create(
            RouteNetlinkMessage::NewLink(link),
            format!("creating bridge {}", b.name),
        )])?;
    }
    let index = ifindex(&b.name)?;
    match nl.apply(vec![address(
        index,
        b.gateway,
        format!("adding {} to bridge {}", b.gateway, b.name),
    )]) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        other => other?,
    }
    let mut up = LinkMessage::default();
    up.header.index = index;
    up.header.flags = LinkFlags::Up;
    up.header.change_mask = LinkFlags::Up;
    nl.apply(vec![Request::change(
        RouteNetlinkMessage::SetLink(up),
        format!("setting bridge {} up", b.name),
    )])?;
    if b.gateway.addr().is_ipv4() {
        let knob = format!("/proc/sys/net/ipv4/conf/{}/route_localnet", b.name);
        std::fs::write(&knob, "1").map_err(|e| io::Error::new(e.kind(), format!("{knob}: {e}")))?;
    }
    Ok(index)
}

/// Removes the bridge; one that is already gone is no error.
pub fn delete(nl: &mut Netlink, name: &str) -> io::Result<()> {
    if ifindex(name).is_err() {
        return Ok(());
    }
    nl.apply(vec![link_delete(name)])
}
