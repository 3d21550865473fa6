#![forbid(unsafe_code)]
//! Host port reservations, in scratch network namespaces (their port
//! space is their own, so the host's ports are never touched). Needs root
//! for the namespace (CI=true: fails without it rather than skip).

mod common;

use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};

use berth_net::nft::Proto;
use berth_net::ports::{reserve, reserve_any};
use common::{in_scratch, root};

#[test]
fn a_reserved_port_is_already_allocated_until_dropped() {
    if !root() {
        return;
    }
    in_scratch(|| {
        let (port, held) = reserve_any(None, Proto::Tcp).unwrap();
        assert!(held.is_held());
        let err = reserve(None, Proto::Tcp, port).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        assert_eq!(
            err.to_string(),
            format!("Bind for 0.0.0.0:{port} failed: port is already allocated")
        );
        // Every address is covered: one v4 address, and other programs.
        let err = reserve(Some("127.0.0.1".parse().unwrap()), Proto::Tcp, port).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Bind for 127.0.0.1:{port} failed: port is already allocated")
        );
        assert!(TcpListener::bind(("0.0.0.0", port)).is_err());
        assert!(TcpListener::bind(("::", port)).is_err());
        // UDP is a port space of its own.
        let udp = reserve(None, Proto::Udp, port).unwrap();
        assert!(UdpSocket::bind(("127.0.0.1", port)).is_err());
        assert!(reserve(None, Proto::Udp, port).is_err());
        drop(udp);
        drop(held);
        let again = reserve(None, Proto::Tcp, port).unwrap();
        assert!(again.is_held());
        drop(again);
        assert!(TcpListener::bind(("0.0.0.0", port)).is_ok());

        // One address only: the others stay free.
        let one = reserve(Some("127.0.0.1".parse().unwrap()), Proto::Udp, 5353).unwrap();
        let err = reserve(Some("127.0.0.1".parse().unwrap()), Proto::Udp, 5353).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Bind for 127.0.0.1:5353 failed: port is already allocated"
        );
        assert!(
            reserve(None, Proto::Udp, 5353).is_err(),
            "the wildcard overlaps it"
        );
        assert!(reserve(Some("::1".parse().unwrap()), Proto::Udp, 5353).is_ok());
        drop(one);
    });
}

#[test]
fn reserve_any_takes_the_first_free_port_of_the_local_range() {
    if !root() {
        return;
    }
    in_scratch(|| {
        // The scratch namespace's own range, narrowed.
        std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "40000 40002").unwrap();
        let outsider = TcpListener::bind("0.0.0.0:40000").unwrap();
        let (a, ra) = reserve_any(None, Proto::Tcp).unwrap();
        let (b, rb) = reserve_any(None, Proto::Tcp).unwrap();
        assert_eq!((a, b), (40001, 40002));
        let err = reserve_any(None, Proto::Tcp).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        assert!(err.to_string().contains("all ports are allocated"), "{err}");
        drop(ra);
        assert_eq!(reserve_any(None, Proto::Tcp).unwrap().0, 40001);
        drop((rb, outsider));
        assert_eq!(
            reserve_any(Some("127.0.0.1".parse().unwrap()), Proto::Udp)
                .unwrap()
                .0,
            40000
        );
    });
}

#[test]
fn sctp_is_reserved_when_the_kernel_has_it() {
    if !root() {
        return;
    }
    in_scratch(|| {
        let (port, held) = reserve_any(None, Proto::Sctp).unwrap();
        if held.is_held() {
            let err = reserve(None, Proto::Sctp, port).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("Bind for 0.0.0.0:{port} failed: port is already allocated")
            );
        } else {
            eprintln!("no SCTP in this kernel: nothing held");
        }
    });
}
