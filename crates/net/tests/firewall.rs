#![forbid(unsafe_code)]
//! berth's nftables firewall for real, each test in a scratch network
//! namespace ("the host") with bridges and container namespaces of its own:
//! the rule set as `nft` lists it, rebuilds without duplicates, deletion by
//! handle, TCP through DNAT (host address, 127.0.0.1, hairpin, from
//! outside), isolation and --internal, coexistence with an iptables-nft
//! FORWARD drop policy, and the DNS redirect. Needs root (CI=true: fails
//! without it rather than skip).

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use berth_net::nft::{Desired, Firewall, Handles, NetworkRules, PortRule, Proto, dns_redirect};
use berth_net::nl::Netlink;
use common::{ask, bridge, container, in_scratch, root, run, serve_peer_address};

fn network(bridge: &str, subnets: &[&str]) -> NetworkRules {
    NetworkRules {
        bridge: bridge.into(),
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
        internal: false,
        masquerade: true,
        icc: true,
    }
}

fn port(
    host_ip: Option<&str>,
    proto: Proto,
    host: (u16, u16),
    ctr: &str,
    to: (u16, u16),
) -> PortRule {
    PortRule {
        host_ip: host_ip.map(|h| h.parse().unwrap()),
        proto,
        host_ports: host,
        container_ip: ctr.parse().unwrap(),
        container_ports: to,
    }
}

fn list(table: &str) -> String {
    run("nft", &["list", "table", "inet", table]).unwrap()
}

/// The rules of one chain, as nft's JSON has them.
fn rules_in(table: &str, chain: &str) -> usize {
    let out = run("nft", &["-j", "list", "table", "inet", table]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["rule"]["chain"] == chain)
        .count()
}

#[test]
fn apply_all_twice_gives_the_same_ruleset() {
    if !root() {
        return;
    }
    in_scratch(|| {
        let mut fw = Firewall::open("berth-t1").unwrap();
        let mut internal = network("brI", &["10.98.0.0/24"]);
        internal.internal = true;
        internal.masquerade = false;
        let desired = Desired {
            networks: vec![network("brA", &["10.99.0.0/24", "fd00:99::/64"]), internal],
            ports: vec![
                port(None, Proto::Tcp, (8080, 8080), "10.99.0.2", (80, 80)),
                port(
                    Some("127.0.0.1"),
                    Proto::Tcp,
                    (8081, 8081),
                    "10.99.0.2",
                    (80, 80),
                ),
                port(None, Proto::Udp, (5353, 5353), "10.99.0.2", (53, 53)),
                port(None, Proto::Sctp, (9999, 9999), "10.99.0.2", (99, 99)),
                port(None, Proto::Tcp, (9000, 9002), "10.99.0.2", (7000, 7002)),
                port(None, Proto::Tcp, (9100, 9101), "10.99.0.2", (9100, 9101)),
                port(
                    Some("fd00:99::1"),
                    Proto::Tcp,
                    (8080, 8080),
                    "fd00:99::2",
                    (80, 80),
                ),
                port(
                    Some("0.0.0.0"),
                    Proto::Tcp,
                    (8082, 8082),
                    "10.99.0.3",
                    (80, 80),
                ),
            ],
        };
        let (nets, ports) = fw.apply_all(&desired).unwrap();
        assert_eq!(nets.len(), 2);
        assert_eq!(ports.len(), 8);
        assert!(ports.iter().all(|h| !h.is_empty()));
        let first = list("berth-t1");
        for line in [
            "set bridges {",
            "type ifname",
            "elements = { \"brA\",",
            "\"brI\" }",
            "type filter hook prerouting priority raw; policy accept;",
            "iifname != \"lo\" ip daddr 127.0.0.0/8 drop",
            "type nat hook prerouting priority dstnat; policy accept;",
            "type nat hook output priority -100; policy accept;",
            "fib daddr type local jump ports",
            "tcp dport 8080 dnat ip to 10.99.0.2:80",
            "ip daddr 127.0.0.1 tcp dport 8081 dnat ip to 10.99.0.2:80",
            "udp dport 5353 dnat ip to 10.99.0.2:53",
            "sctp dport 9999 dnat ip to 10.99.0.2:99",
            "tcp dport 9000 dnat ip to 10.99.0.2:7000",
            "tcp dport 9002 dnat ip to 10.99.0.2:7002",
            "tcp dport 9100-9101 dnat ip to 10.99.0.2",
            "ip6 daddr fd00:99::1 tcp dport 8080 dnat ip6 to [fd00:99::2]:80",
            "tcp dport 8082 dnat ip to 10.99.0.3:80",
            "type nat hook postrouting priority srcnat; policy accept;",
            "ip saddr 10.99.0.0/24 oifname != \"brA\" masquerade",
            "ip6 saddr fd00:99::/64 oifname != \"brA\" masquerade",
            "oifname \"brA\" fib saddr type local masquerade",
            "oifname \"brA\" ip saddr 10.99.0.0/24 ct status dnat masquerade",
            "oifname \"brA\" ip6 saddr fd00:99::/64 ct status dnat masquerade",
            "type filter hook forward priority filter; policy accept;",
            "ct status dnat accept",
            "iifname \"brA\" oifname @bridges oifname != \"brA\" drop",
            "iifname \"brI\" oifname != \"brI\" drop",
            "oifname \"brI\" iifname != \"brI\" drop",
        ] {
            assert!(first.contains(line), "missing {line:?} in\n{first}");
        }
        // Internal: no NAT at all.
        assert!(!first.contains("10.98.0.0/24"), "{first}");
        // The range 9000-9002 -> 7000-7002 is three rules; 8 ports in all.
        assert_eq!(rules_in("berth-t1", "ports"), 10);

        let (nets2, ports2) = fw.apply_all(&desired).unwrap();
        assert_eq!(list("berth-t1"), first, "a rebuild changed the ruleset");
        assert_eq!((nets2.len(), ports2.len()), (2, 8));
        // Only berth's table, and no compat chain without a drop policy.
        let all = run("nft", &["list", "ruleset"]).unwrap();
        assert!(!all.contains("BERTH-FORWARD"), "{all}");
        fw.remove_all().unwrap();
        assert!(run("nft", &["list", "table", "inet", "berth-t1"]).is_err());
        fw.remove_all().unwrap();
    });
}

#[test]
fn ports_added_then_deleted_leave_the_ports_chain_empty() {
    if !root() {
        return;
    }
    in_scratch(|| {
        let mut fw = Firewall::open("berth-t2").unwrap();
        let desired = Desired {
            networks: vec![network("brA", &["10.99.0.0/24"])],
            ports: vec![],
        };
        let (nets, _) = fw.apply_all(&desired).unwrap();
        let mut h = fw
            .add_ports(&[port(None, Proto::Tcp, (8080, 8080), "10.99.0.2", (80, 80))])
            .unwrap();
        h.extend(
            fw.add_ports(&[
                port(None, Proto::Udp, (8080, 8080), "10.99.0.2", (80, 80)),
                port(
                    Some("127.0.0.1"),
                    Proto::Tcp,
                    (8090, 8091),
                    "10.99.0.2",
                    (90, 91),
                ),
            ])
            .unwrap(),
        );
        assert_eq!(rules_in("berth-t2", "ports"), 4);
        fw.delete(&h).unwrap();
        assert_eq!(rules_in("berth-t2", "ports"), 0, "{}", list("berth-t2"));
        // Again: already gone, no error.
        fw.delete(&h).unwrap();

        // A network's rules and its place in the set go the same way.
        let b = fw.add_network(&network("brB", &["10.98.0.0/24"])).unwrap();
        let with_b = list("berth-t2");
        assert!(with_b.contains("\"brB\" }"), "{with_b}");
        fw.delete(&b).unwrap();
        let after = list("berth-t2");
        assert!(!after.contains("brB"), "{after}");
        fw.delete(&b).unwrap();
        fw.delete(&nets[0]).unwrap();
        assert_eq!(rules_in("berth-t2", "nat-postrouting"), 0);
        assert_eq!(rules_in("berth-t2", "filter-forward"), 1); // ct status dnat accept

        // Handles from before a rebuild name nothing any more, even where
        // the new table's numbers coincide.
        let old = fw
            .add_ports(&[port(None, Proto::Tcp, (8080, 8080), "10.99.0.2", (80, 80))])
            .unwrap();
        fw.apply_all(&Desired::default()).unwrap();
        fw.add_ports(&[port(None, Proto::Tcp, (7070, 7070), "10.99.0.5", (80, 80))])
            .unwrap();
        fw.delete(&old).unwrap();
        assert_eq!(rules_in("berth-t2", "ports"), 1);
        fw.delete(&Handles::default()).unwrap();
    });
}

#[test]
fn published_ports_reach_the_container() {
    if !root() {
        return;
    }
    in_scratch(|| {
        let mut nl = Netlink::open().unwrap();
        let p = bridge(&mut nl, "brP", "10.77.1.1/24");
        let c1 = container(&mut nl, p, "vethp1", "10.77.1.2/24", "10.77.1.1");
        serve_peer_address(&c1, "0.0.0.0:80");
        // Somewhere else: a namespace behind a bridge berth does not own.
        let x = bridge(&mut nl, "brX", "10.77.9.1/24");
        let outside = container(&mut nl, x, "vethx1", "10.77.9.2/24", "10.77.9.1");

        let mut fw = Firewall::open("berth-t3").unwrap();
        fw.apply_all(&Desired {
            networks: vec![network("brP", &["10.77.1.0/24"])],
            ports: vec![port(None, Proto::Tcp, (8080, 8080), "10.77.1.2", (80, 80))],
        })
        .unwrap();
        let local = fw
            .add_ports(&[port(
                Some("127.0.0.1"),
                Proto::Tcp,
                (8081, 8081),
                "10.77.1.2",
                (80, 80),
            )])
            .unwrap();

        // From the host: its address on the bridge, and loopback (seen from
        // the gateway: masqueraded, or the reply could not come back).
        assert_eq!(
            ask(None, "10.77.1.1:8080").unwrap().to_string(),
            "10.77.1.1"
        );
        assert_eq!(
            ask(None, "127.0.0.1:8080").unwrap().to_string(),
            "10.77.1.1"
        );
        assert_eq!(
            ask(None, "127.0.0.1:8081").unwrap().to_string(),
            "10.77.1.1"
        );
        // From outside: the published port, not the 127.0.0.1-only one.
        assert_eq!(
            ask(Some(&outside), "10.77.9.1:8080").unwrap().to_string(),
            "10.77.9.2"
        );
        assert!(ask(Some(&outside), "10.77.9.1:8081").is_err());
        // Hairpin: the container to its own published port.
        assert_eq!(
            ask(Some(&c1), "10.77.1.1:8080").unwrap().to_string(),
            "10.77.1.1"
        );
        fw.delete(&local).unwrap();
        assert!(ask(None, "127.0.0.1:8081").is_err());
        assert!(ask(None, "127.0.0.1:8080").is_ok());
    });
}

#[test]
fn networks_are_isolated_but_published_ports_cross() {
    if !root() {
        return;
    }
    in_scratch(|| {
        let mut nl = Netlink::open().unwrap();
        let a = bridge(&mut nl, "brA", "10.77.4.1/24");
        let b = bridge(&mut nl, "brB", "10.77.5.1/24");
        let i = bridge(&mut nl, "brI", "10.77.6.1/24");
        let a1 = container(&mut nl, a, "vetha1", "10.77.4.2/24", "10.77.4.1");
        let b1 = container(&mut nl, b, "vethb1", "10.77.5.2/24", "10.77.5.1");
        let i1 = container(&mut nl, i, "vethi1", "10.77.6.2/24", "10.77.6.1");
        serve_peer_address(&b1, "0.0.0.0:80");
        serve_peer_address(&i1, "0.0.0.0:80");
        serve_peer_address(&a1, "0.0.0.0:80");
        // Without berth's rules everything routes.
        assert!(ask(Some(&a1), "10.77.5.2:80").is_ok());

        let mut internal = network("brI", &["10.77.6.0/24"]);
        internal.internal = true;
        internal.masquerade = false;
        let mut fw = Firewall::open("berth-t5").unwrap();
        let (nets, _) = fw
            .apply_all(&Desired {
                networks: vec![
                    network("brA", &["10.77.4.0/24"]),
                    network("brB", &["10.77.5.0/24"]),
                    internal,
                ],
                ports: vec![port(None, Proto::Tcp, (8080, 8080), "10.77.5.2", (80, 80))],
            })
            .unwrap();
        assert!(ask(Some(&a1), "10.77.5.2:80").is_err(), "brA reached brB");
        assert!(ask(Some(&b1), "10.77.4.2:80").is_err(), "brB reached brA");
        assert!(ask(Some(&a1), "10.77.6.2:80").is_err(), "brA reached brI");
        assert!(ask(Some(&i1), "10.77.5.2:80").is_err(), "brI reached out");
        // A published port is reachable from another network, through the
        // host's address (masqueraded: brB sees its gateway).
        assert_eq!(
            ask(Some(&a1), "10.77.4.1:8080").unwrap().to_string(),
            "10.77.5.1"
        );
        // The host still reaches the internal network (no forwarding).
        assert!(ask(None, "10.77.6.2:80").is_ok());

        // brB's network removed: brA's isolation no longer covers it.
        fw.delete(&nets[1]).unwrap();
        assert!(ask(Some(&a1), "10.77.5.2:80").is_ok());
        fw.remove_all().unwrap();
    });
}

#[test]
fn forward_drop_policy_still_forwards_berth_bridges() {
    if !root() {
        return;
    }
    in_scratch(|| {
        let mut nl = Netlink::open().unwrap();
        let f = bridge(&mut nl, "brF", "10.77.2.1/24");
        let c1 = container(&mut nl, f, "vethf1", "10.77.2.2/24", "10.77.2.1");
        let c2 = container(&mut nl, f, "vethf2", "10.77.2.3/24", "10.77.2.1");
        let x = bridge(&mut nl, "brX", "10.77.3.1/24");
        let world = container(&mut nl, x, "vethx2", "10.77.3.2/24", "10.77.3.1");
        serve_peer_address(&world, "0.0.0.0:80");
        serve_peer_address(&c2, "0.0.0.0:80");
        let bridged = std::fs::read_to_string("/proc/sys/net/bridge/bridge-nf-call-iptables")
            .is_ok_and(|v| v.trim() == "1");

        // What dockerd does to the host.
        run("iptables", &["-P", "FORWARD", "DROP"]).unwrap();
        run("iptables", &["-N", "DOCKER-USER"]).unwrap();
        run("iptables", &["-A", "DOCKER-USER", "-j", "RETURN"]).unwrap();
        run("iptables", &["-I", "FORWARD", "-j", "DOCKER-USER"]).unwrap();
        run("ip6tables", &["-P", "FORWARD", "DROP"]).unwrap();
        assert!(
            ask(Some(&c1), "10.77.3.2:80").is_err(),
            "the drop policy let it through"
        );
        if bridged {
            assert!(ask(Some(&c1), "10.77.2.3:80").is_err());
        }

        let mut fw = Firewall::open("berth-t4").unwrap();
        let desired = Desired {
            networks: vec![network("brF", &["10.77.2.0/24"])],
            ports: vec![],
        };
        fw.apply_all(&desired).unwrap();
        assert_eq!(
            ask(Some(&c1), "10.77.3.2:80").unwrap().to_string(),
            "10.77.3.1"
        );
        assert_eq!(
            ask(Some(&c1), "10.77.2.3:80").unwrap().to_string(),
            "10.77.2.2"
        );

        let rules = run("iptables", &["-S"]).unwrap();
        for line in [
            "-P FORWARD DROP",
            "-N BERTH-FORWARD-t4",
            "-A FORWARD -j BERTH-FORWARD-t4",
            "-A FORWARD -j DOCKER-USER",
            "-A BERTH-FORWARD-t4 -i brF -j ACCEPT",
            "-A BERTH-FORWARD-t4 -o brF -j ACCEPT",
        ] {
            assert!(rules.contains(line), "missing {line:?} in\n{rules}");
        }
        assert!(
            run("ip6tables", &["-S"])
                .unwrap()
                .contains("-A BERTH-FORWARD-t4 -i brF -j ACCEPT")
        );
        // iptables still edits its table around ours.
        run(
            "iptables",
            &["-A", "DOCKER-USER", "-i", "docker9", "-j", "DROP"],
        )
        .unwrap();
        run(
            "iptables",
            &["-D", "DOCKER-USER", "-i", "docker9", "-j", "DROP"],
        )
        .unwrap();

        // Rebuilt: the same, not twice.
        fw.apply_all(&desired).unwrap();
        assert_eq!(run("iptables", &["-S"]).unwrap(), rules);

        // A second network joins the chain; removing it takes it out.
        let g = fw.add_network(&network("brG", &["10.77.7.0/24"])).unwrap();
        let with_g = run("iptables", &["-S"]).unwrap();
        assert!(
            with_g.contains("-A BERTH-FORWARD-t4 -o brG -j ACCEPT"),
            "{with_g}"
        );
        fw.delete(&g).unwrap();
        assert_eq!(run("iptables", &["-S"]).unwrap(), rules);

        // No networks: nothing of berth's in iptables' table.
        fw.apply_all(&Desired::default()).unwrap();
        let none = run("iptables", &["-S"]).unwrap();
        assert!(!none.contains("BERTH"), "{none}");
        assert!(none.contains("-A FORWARD -j DOCKER-USER"), "{none}");
        fw.apply_all(&desired).unwrap();
        fw.remove_all().unwrap();
        let none = run("iptables", &["-S"]).unwrap();
        assert!(!none.contains("BERTH"), "{none}");
        assert!(!run("ip6tables", &["-S"]).unwrap().contains("BERTH"));
        assert!(run("nft", &["list", "table", "inet", "berth-t4"]).is_err());
    });
}

#[test]
fn dns_redirect_reaches_listeners_on_127_0_0_11() {
    if !root() {
        return;
    }
    in_scratch(|| {
        let udp = UdpSocket::bind("127.0.0.11:0").unwrap();
        let tcp = TcpListener::bind("127.0.0.11:0").unwrap();
        let (up, tp) = (
            udp.local_addr().unwrap().port(),
            tcp.local_addr().unwrap().port(),
        );
        // Twice: the table is replaced, not doubled.
        dns_redirect(1, 2).unwrap();
        dns_redirect(up, tp).unwrap();
        let listed = run("nft", &["list", "table", "ip", "berth-dns"]).unwrap();
        assert!(
            listed.contains(&format!(
                "ip daddr 127.0.0.11 udp dport 53 dnat to 127.0.0.11:{up}"
            )),
            "{listed}"
        );
        assert_eq!(listed.matches("dnat to").count(), 2, "{listed}");

        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        client.send_to(b"query", "127.0.0.11:53").unwrap();
        let mut buf = [0u8; 64];
        udp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let (n, from) = udp.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"query");
        udp.send_to(b"answer", from).unwrap();
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"answer");
        assert_eq!(
            from.to_string(),
            "127.0.0.11:53",
            "the reply must come from :53"
        );

        let mut c =
            TcpStream::connect_timeout(&"127.0.0.11:53".parse().unwrap(), Duration::from_secs(2))
                .unwrap();
        let (mut s, _) = tcp.accept().unwrap();
        std::io::Write::write_all(&mut s, b"over tcp").unwrap();
        drop(s);
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert_eq!(got, "over tcp");
    });
}

#[test]
fn errors_name_what_was_being_done() {
    if !root() {
        return;
    }
    in_scratch(|| {
        let mut fw = Firewall::open("berth-none").unwrap();
        // No table yet.
        let err = fw
            .add_ports(&[port(None, Proto::Tcp, (8080, 8080), "10.99.0.2", (80, 80))])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "nftables: add DNAT tcp 8080 -> 10.99.0.2:80: No such file or directory"
        );
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        let err = fw
            .add_ports(&[port(None, Proto::Tcp, (8080, 8081), "10.99.0.2", (80, 80))])
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        let err = fw
            .add_ports(&[port(
                Some("::1"),
                Proto::Tcp,
                (8080, 8080),
                "10.99.0.2",
                (80, 80),
            )])
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        let err = fw
            .apply_all(&Desired {
                networks: vec![network("a-bridge-name-too-long", &["10.99.0.0/24"])],
                ports: vec![],
            })
            .unwrap_err();
        assert!(err.to_string().contains("a-bridge-name-too-long"), "{err}");
        // Nothing was made by the refused transaction.
        assert!(run("nft", &["list", "table", "inet", "berth-none"]).is_err());
        fw.remove_all().unwrap();
        fw.delete(&Handles::default()).unwrap();
    });
}

#[test]
fn a_large_rebuild_keeps_every_handle() {
    if !root() {
        return;
    }
    in_scratch(|| {
        let mut fw = Firewall::open("berth-t6").unwrap();
        let desired = Desired {
            networks: (0..50)
                .map(|i| network(&format!("brN{i}"), &[&format!("10.100.{i}.0/24")]))
                .collect(),
            ports: (0..2000)
                .map(|i| {
                    port(
                        None,
                        Proto::Tcp,
                        (20000 + i, 20000 + i),
                        "10.100.0.2",
                        (80, 80),
                    )
                })
                .collect(),
        };
        let start = std::time::Instant::now();
        let (nets, ports) = fw.apply_all(&desired).unwrap();
        eprintln!(
            "apply_all of 50 networks and 2000 ports: {:?}",
            start.elapsed()
        );
        assert!(nets.iter().chain(&ports).all(|h| !h.is_empty()));
        assert_eq!(rules_in("berth-t6", "ports"), 2000);
        let start = std::time::Instant::now();
        let one = fw
            .add_ports(&[port(None, Proto::Tcp, (8080, 8080), "10.100.1.2", (80, 80))])
            .unwrap();
        eprintln!("add_ports of one port: {:?}", start.elapsed());
        let start = std::time::Instant::now();
        fw.delete(&one).unwrap();
        eprintln!("delete of one port: {:?}", start.elapsed());
        let mut all = Handles::default();
        for h in ports {
            all.extend(h);
        }
        fw.delete(&all).unwrap();
        assert_eq!(rules_in("berth-t6", "ports"), 0);
        fw.remove_all().unwrap();
    });
}

/// The engine keeps one behind a Mutex and uses it from spawn_blocking.
#[test]
fn a_firewall_can_move_between_threads() {
    fn send<T: Send>() {}
    send::<Firewall>();
}
