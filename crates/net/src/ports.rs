//! Published host ports, held by berth (DESIGN.md 1.4): a socket bound
//! without listen, so that no other program (docker-proxy included) can
//! take the port while a container publishes it. DNAT happens before the
//! socket lookup, so no traffic ever reaches these sockets. A taken port
//! gives dockerd's words: `Bind for 0.0.0.0:8080 failed: port is already
//! allocated`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, SockFlag, SockProtocol, SockType, SockaddrStorage, bind, setsockopt, socket,
    sockopt,
};

use crate::nft::Proto;

/// A held host port; dropping it frees the port.
#[derive(Debug)]
pub struct Reservation {
    sockets: Vec<OwnedFd>,
}

impl Reservation {
    /// False when nothing could be held: SCTP on a kernel without it.
    pub fn is_held(&self) -> bool {
        !self.sockets.is_empty()
    }
}

/// Reserves `host_ip:port` for `proto`. None means every address: one
/// dual-stack socket on [::] (IPV6_V6ONLY off), or 0.0.0.0 on a host
/// without IPv6.
pub fn reserve(host_ip: Option<IpAddr>, proto: Proto, port: u16) -> io::Result<Reservation> {
    let result = match host_ip {
        Some(ip) => bind_one(ip, proto, port, true),
        None => match bind_one(Ipv6Addr::UNSPECIFIED.into(), proto, port, false) {
            Err(Errno::EAFNOSUPPORT) => bind_one(Ipv4Addr::UNSPECIFIED.into(), proto, port, false),
            other => other,
        },
    };
    let shown = host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED.into());
    match result {
        Ok(socket) => Ok(Reservation {
            sockets: socket.into_iter().collect(),
        }),
        Err(Errno::EADDRINUSE) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("Bind for {shown}:{port} failed: port is already allocated"),
        )),
        Err(e) => Err(io::Error::new(
            io::Error::from(e).kind(),
            format!("Bind for {shown}:{port}/{proto} failed: {}", e.desc()),
        )),
    }
}

/// The first free port of the local port range (as dockerd picks one for
/// `-p 80` and `-P`), reserved.
pub fn reserve_any(host_ip: Option<IpAddr>, proto: Proto) -> io::Result<(u16, Reservation)> {
    let (lo, hi) = local_port_range();
    for port in lo..=hi {
        match reserve(host_ip, proto, port) {
            Ok(r) => return Ok((port, r)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("Bind for {lo}-{hi} failed: all ports are allocated"),
    ))
}

/// /proc/sys/net/ipv4/ip_local_port_range (of the caller's namespace), or
/// the kernel's default when it cannot be read.
fn local_port_range() -> (u16, u16) {
    let text =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut it = text.split_whitespace().map(str::parse::<u16>);
    match (it.next(), it.next()) {
        (Some(Ok(lo)), Some(Ok(hi))) if lo > 0 && lo <= hi => (lo, hi),
        _ => (32768, 60999),
    }
}

/// One bound socket; Ok(None) when the kernel has no SCTP.
fn bind_one(ip: IpAddr, proto: Proto, port: u16, v6only: bool) -> Result<Option<OwnedFd>, Errno> {
    let family = if ip.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let (kind, protocol) = match proto {
        Proto::Tcp => (SockType::Stream, SockProtocol::Tcp),
        Proto::Udp => (SockType::Datagram, SockProtocol::Udp),
        Proto::Sctp => (SockType::Stream, SockProtocol::Sctp),
    };
    // No SO_REUSEADDR: it would let a TCP listener share the port.
    let fd = match socket(family, kind, SockFlag::SOCK_CLOEXEC, protocol) {
        Ok(fd) => fd,
        Err(Errno::EPROTONOSUPPORT | Errno::ESOCKTNOSUPPORT) if proto == Proto::Sctp => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    if ip.is_ipv6() {
        setsockopt(&fd, sockopt::Ipv6V6Only, &v6only)?;
    }
    if proto == Proto::Udp {
        // Datagrams that no DNAT rule takes (IPv6 to an IPv4-only
        // container) queue here unread: keep that queue at its minimum.
        let _ = setsockopt(&fd, sockopt::RcvBuf, &0);
    }
    bind(
        fd.as_raw_fd(),
        &SockaddrStorage::from(SocketAddr::new(ip, port)),
    )?;
    Ok(Some(fd))
}
