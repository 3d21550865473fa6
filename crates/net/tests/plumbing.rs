#![forbid(unsafe_code)]
//! Bridges and veths for real, in scratch network namespaces: the test's
//! thread leaves the host's namespace first, so every link it makes goes
//! away with it and the host is never touched. Needs root (CI=true: fails
//! without it rather than skip).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};

use berth_net::bridge::{self, Bridge};
use berth_net::endpoint::{self, Endpoint, mac_for};
use berth_net::nl::{Netlink, ifindex, link_up};
use nix::sched::{CloneFlags, setns, unshare};

fn root() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "CI=true: run as root");
    eprintln!("skipping: needs root");
    false
}

/// A new network namespace, held by the returned file (no thread keeps it).
fn scratch_namespace() -> File {
    std::thread::spawn(|| {
        unshare(CloneFlags::CLONE_NEWNET).unwrap();
        File::open("/proc/thread-self/ns/net").unwrap()
    })
    .join()
    .unwrap()
}

#[test]
fn a_container_reaches_its_gateway_over_the_bridge() {
    if !root() {
        return;
    }
    std::thread::spawn(|| {
        unshare(CloneFlags::CLONE_NEWNET).unwrap();
        let mut nl = Netlink::open().unwrap();
        nl.apply(vec![link_up("lo")]).unwrap();
        let b = Bridge {
            name: "btest0".into(),
            alias: "berth:test".into(),
            gateway: "10.77.0.1/24".parse().unwrap(),
            mtu: 1500,
        };
        let index = bridge::ensure(&mut nl, &b).unwrap();
        // Again: found, not made twice.
        assert_eq!(bridge::ensure(&mut nl, &b).unwrap(), index);
        assert_eq!(
            std::fs::read_to_string("/proc/sys/net/ipv4/conf/btest0/route_localnet")
                .unwrap()
                .trim(),
            "1"
        );

        let ctr = scratch_namespace();
        let ip: IpAddr = "10.77.0.2".parse().unwrap();
        let ep = Endpoint {
            host_name: "vethtest01".into(),
            name: "eth0".into(),
            bridge_index: index,
            mtu: 1500,
            mac: mac_for(ip),
            addresses: vec!["10.77.0.2/24".parse().unwrap()],
            gateways: vec!["10.77.0.1".parse().unwrap()],
        };
        endpoint::plumb(&mut nl, &ctr, &ep).unwrap();
        assert!(ifindex("vethtest01").is_ok());

        // From the container's namespace to a listener on the gateway.
        let listener = TcpListener::bind("10.77.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::thread::scope(|s| {
            let h = s.spawn(|| {
                setns(&ctr, CloneFlags::CLONE_NEWNET).unwrap();
                let mut c = TcpStream::connect(("10.77.0.1", port)).unwrap();
                c.write_all(b"hello from eth0").unwrap();
                c.local_addr().unwrap().ip()
            });
            let (mut conn, _) = listener.accept().unwrap();
            let mut got = String::new();
            conn.read_to_string(&mut got).unwrap();
            assert_eq!(got, "hello from eth0");
            h.join().unwrap()
        });
        assert_eq!(client, ip);

        // The same host name again: refused, named, nothing more left.
        let other = scratch_namespace();
        let err = endpoint::plumb(&mut nl, &other, &ep).unwrap_err();
        assert!(err.to_string().contains("vethtest01"), "{err}");

        // Loopback only, for --network none.
        endpoint::loopback_only(&other).unwrap();

        bridge::delete(&mut nl, "btest0").unwrap();
        assert!(ifindex("btest0").is_err());
        bridge::delete(&mut nl, "btest0").unwrap();
    })
    .join()
    .unwrap();
}

#[test]
fn docker_macs_come_from_the_address() {
    assert_eq!(
        mac_for("172.17.0.2".parse().unwrap()),
        [0x02, 0x42, 172, 17, 0, 2]
    );
}
