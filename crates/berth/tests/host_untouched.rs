#![forbid(unsafe_code)]
//! The private dockerd that tests and benchmarks start leaves the host's
//! network alone.
//!
//! The bug this guards against: the harness used to start dockerd with
//! `--bridge=none`, and dockerd then deletes the host's `docker0`, after which
//! the machine's own Docker cannot start containers ("could not find bridge
//! docker0"). Now each private dockerd gets a bridge of its own
//! ([`berth_testkit::TestBridge`]: a unique name and a unique 10.231.X.0/24),
//! plus `--iptables=false --ip-masq=false --ip-forward=false`.
//!
//! [`private_dockerd_leaves_the_host_network_alone`] snapshots what dockerd
//! could change on the host, runs two private dockerds at the same time (one
//! of them torn down by a deliberate panic), runs containers through both,
//! stops them, and compares. What is compared, and why only that (this suite
//! runs with several test threads, and other test binaries or benchmarks may
//! run next to it, each making and deleting its own bridges, veths and
//! mounts):
//!
//! * `docker0`: whether it exists, its ifindex (a deleted and re-made
//!   `docker0` gets a new one) and its addresses (`ip -o link/addr show
//!   docker0`). Absent before means absent after too: a dockerd without
//!   `--bridge` would create it. Other links are not compared: parallel tests
//!   add and remove their own bridges and veths at any time; instead the test
//!   checks that its own bridges are gone after the teardown.
//! * The iptables rules (`iptables-save`, `ip6tables-save` when installed),
//!   comments and counters left out: dockerd touches the firewall only
//!   through iptables, and nothing else in this workspace does.
//! * The nftables ruleset (`nft -s list ruleset`, stateless, so no counters),
//!   table by table. The tables iptables-nft keeps (`ip`/`ip6` `filter`,
//!   `nat`, `mangle`, `raw`, `security`; `arp filter`; `bridge filter`, `nat`,
//!   `broute`) are where dockerd's rules would land: they must be identical,
//!   including whether they exist (on a host with an empty ruleset, dockerd
//!   with iptables would make `table ip filter` and `table ip nat`). Every
//!   other table present both before and after must be identical; one that
//!   appears or disappears in between is only reported: it can only be
//!   another process's own table (dockerd 20.10 makes no native nft tables),
//!   and comparing those would make the test fail for what a parallel test
//!   does.
//! * The forwarding sysctls (`net.ipv4.ip_forward`,
//!   `net.ipv6.conf.all.forwarding`, `net.bridge.bridge-nf-call-ip*tables`),
//!   which dockerd sets on the host unless told not to.
//!
//! While the dockerds run, it also checks that each was started with
//! `--bridge=<its own bridge>` and never `--bridge=none` (on a machine without
//! `docker0`, as this one may be, that is what shows that `docker0` would
//! not be deleted), that each uses its bridge's subnet, and that the two
//! bridges and subnets differ.
//!
//! [`test_bridges_are_distinct_and_removed_even_on_panic`] checks the bridge
//! guard alone: many at once from several threads, and one dropped by a panic.
//!
//! Needs root, `ip` and `nft`, and for the first test `dockerd`, `docker`,
//! `containerd`, `containerd-shim-runc-v2`, `runc` and `tar`; skips without
//! them, except with `CI=true`, where it panics.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::thread;

use berth_testkit::{OutputExt, TestBridge, find_tool, link_exists, require_root, require_tool};
use common::dockerd::Dockerd;

/// The busybox image imported into each private daemon.
const IMAGE: &str = "berthbb:test";
/// The panic message of the thread that tears its dockerd down by unwinding.
const DELIBERATE: &str = "deliberate panic: the Dockerd guard must clean up on unwind";

/// What a private dockerd could change on the host's network.
#[derive(Debug)]
struct HostNet {
    /// `docker0`: (ifindex, addresses), or None when it does not exist.
    docker0: Option<(String, Vec<String>)>,
    /// nftables tables: "family name" -> the table's text.
    nft: BTreeMap<String, String>,
    /// "iptables-save" / "ip6tables-save" -> its output, without comments
    /// and counters.
    iptables: BTreeMap<String, String>,
    /// sysctl path -> value.
    sysctls: BTreeMap<String, String>,
}

impl HostNet {
    fn snapshot(ip: &Path, nft: &Path) -> HostNet {
        let docker0 = cmd(ip, &["-o", "link", "show", "docker0"])
            .filter(|s| !s.trim().is_empty())
            .map(|link| {
                let ifindex = link.split(':').next().unwrap_or("").trim().to_string();
                let addrs = cmd(ip, &["-o", "addr", "show", "docker0"]).unwrap_or_default();
                let mut addrs: Vec<String> = addrs
                    .lines()
                    .filter_map(|l| {
                        let mut w = l.split_whitespace();
                        w.find(|&w| w == "inet" || w == "inet6")?;
                        w.next().map(String::from)
                    })
                    .collect();
                addrs.sort();
                (ifindex, addrs)
            });

        let ruleset = cmd(nft, &["-s", "list", "ruleset"]).expect("nft -s list ruleset failed");
        let mut tables = BTreeMap::new();
        let mut current: Option<(String, String)> = None;
        for line in ruleset.lines() {
            if let Some(head) = line.strip_prefix("table ") {
                let key = head.trim_end_matches('{').trim().to_string();
                current = Some((key, String::new()));
            }
            if let Some((_, text)) = current.as_mut() {
                text.push_str(line);
                text.push('\n');
            }
            if line == "}"
                && let Some((key, text)) = current.take()
            {
                tables.insert(key, text);
            }
        }

        let mut iptables = BTreeMap::new();
        for tool in ["iptables-save", "ip6tables-save"] {
            let Some(path) = find_tool(tool) else {
                eprintln!("note: {tool} not installed; its tables are still in the nft ruleset");
                continue;
            };
            let out = cmd(&path, &[]).unwrap_or_else(|| panic!("{tool} failed"));
            let rules: String = out
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| {
                    // ":INPUT ACCEPT [12:3456]": chain counters change with traffic.
                    let l = match (l.starts_with(':'), l.rfind(" [")) {
                        (true, Some(i)) => &l[..i],
                        _ => l,
                    };
                    format!("{l}\n")
                })
                .collect();
            iptables.insert(tool.to_string(), rules);
        }

        let sysctls = [
            "/proc/sys/net/ipv4/ip_forward",
            "/proc/sys/net/ipv6/conf/all/forwarding",
            "/proc/sys/net/bridge/bridge-nf-call-iptables",
            "/proc/sys/net/bridge/bridge-nf-call-ip6tables",
        ]
        .into_iter()
        .filter_map(|p| {
            let v = std::fs::read_to_string(p).ok()?;
            Some((p.to_string(), v.trim().to_string()))
        })
        .collect();

        HostNet {
            docker0,
            nft: tables,
            iptables,
            sysctls,
        }
    }

    /// The differences from `before` that the test fails on (see the module
    /// docs); prints the ones it tolerates.
    fn differences(&self, before: &HostNet) -> Vec<String> {
        let mut diffs = Vec::new();
        if self.docker0 != before.docker0 {
            diffs.push(format!(
                "docker0 (ifindex, addresses) was {:?}, is {:?}",
                before.docker0, self.docker0
            ));
        }
        let keys: BTreeSet<&String> = before.nft.keys().chain(self.nft.keys()).collect();
        for key in keys {
            match (before.nft.get(key), self.nft.get(key)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(a), Some(b)) => diffs.push(format!(
                    "nft table {key} changed:\n--- before ---\n{a}--- after ---\n{b}"
                )),
                (a, b) if is_xtables_table(key) => diffs.push(format!(
                    "iptables-nft table {key} {}:\n{}",
                    if a.is_some() {
                        "disappeared"
                    } else {
                        "appeared"
                    },
                    a.or(b).unwrap()
                )),
                (a, _) => eprintln!(
                    "note: nft table {key} {} during the test; not iptables', so another \
                     process's own (tolerated)",
                    if a.is_some() {
                        "disappeared"
                    } else {
                        "appeared"
                    }
                ),
            }
        }
        if self.iptables != before.iptables {
            diffs.push(format!(
                "iptables rules changed:\n--- before ---\n{:#?}\n--- after ---\n{:#?}",
                before.iptables, self.iptables
            ));
        }
        if self.sysctls != before.sysctls {
            diffs.push(format!(
                "sysctls changed: before {:?}, after {:?}",
                before.sysctls, self.sysctls
            ));
        }
        diffs
    }
}

/// Whether "family name" is a table that iptables-nft (or arptables-nft,
/// ebtables-nft) keeps, i.e. where dockerd's rules would go.
fn is_xtables_table(key: &str) -> bool {
    let (family, name) = key.split_once(' ').unwrap_or((key, ""));
    match family {
        "ip" | "ip6" => ["filter", "nat", "mangle", "raw", "security"].contains(&name),
        "arp" => name == "filter",
        "bridge" => ["filter", "nat", "broute"].contains(&name),
        _ => false,
    }
}

/// stdout of `tool args`, or None when it fails.
fn cmd(tool: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(tool).args(args).output().ok()?;
    out.status.success().then(|| out.stdout_str())
}

/// What one private dockerd showed while it ran.
#[derive(Debug)]
struct Seen {
    bridge: String,
    subnet: String,
    dir: std::path::PathBuf,
}

/// Checks that `d` runs on its own bridge and runs containers there.
fn check_dockerd(d: &Dockerd) -> Seen {
    let bridge = d.bridge();
    assert!(
        link_exists(bridge.name()),
        "bridge {} missing",
        bridge.name()
    );

    // How dockerd was started: its own bridge, never --bridge=none.
    let pid = d.pid().expect("dockerd runs");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let want = format!("--bridge={}", bridge.name());
    assert!(args.contains(&want), "dockerd args {args:?} lack {want}");
    for arg in ["--iptables=false", "--ip-masq=false", "--ip-forward=false"] {
        assert!(
            args.iter().any(|a| a == arg),
            "dockerd args {args:?} lack {arg}"
        );
    }
    assert!(
        !args
            .iter()
            .any(|a| a == "--bridge=none" || a == "-b=none" || a == "none"),
        "dockerd args {args:?}: never --bridge=none, it deletes the host's docker0"
    );

    // dockerd's default network is that bridge, with its subnet.
    let out = d.docker(&[
        "network",
        "inspect",
        "bridge",
        "-f",
        "{{index .Options \"com.docker.network.bridge.name\"}} \
         {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
    ]);
    out.assert_success();
    assert_eq!(
        out.stdout_str().trim(),
        format!("{} {} {}", bridge.name(), bridge.subnet(), bridge.gateway())
    );

    d.import_busybox(IMAGE);
    d.docker(&["run", "--rm", IMAGE, "true"]).assert_success();
    // A container's address and default route are on the bridge.
    let out = d.docker(&[
        "run",
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "ip -4 addr show eth0; ip route",
    ]);
    out.assert_success();
    let text = out.stdout_str();
    let addr: Ipv4Addr = text
        .split_whitespace()
        .skip_while(|&w| w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no IPv4 address on eth0 in the container: {text}"));
    assert!(
        bridge.contains(addr) && addr != bridge.gateway(),
        "container address {addr} not in {}: {text}",
        bridge.subnet()
    );
    assert!(
        text.contains(&format!("default via {}", bridge.gateway())),
        "the container's default route is not via {}: {text}",
        bridge.gateway()
    );
    eprintln!(
        "dockerd {pid}: bridge {} ({}), a container got {addr}",
        bridge.name(),
        bridge.subnet()
    );
    Seen {
        bridge: bridge.name().to_string(),
        subnet: bridge.subnet(),
        dir: d.dir.clone(),
    }
}

/// The second dockerd's thread, released (the sender dropped) and joined on
/// drop, so that a failing test still waits for that dockerd's teardown
/// before the process may exit.
struct Joined(Option<mpsc::Sender<()>>, Option<thread::JoinHandle<()>>);

impl Joined {
    /// Lets the thread go on (to its deliberate panic) and waits for it.
    fn join(&mut self) -> thread::Result<()> {
        if let Some(go) = self.0.take() {
            let _ = go.send(());
        }
        self.1.take().map_or(Ok(()), |t| t.join())
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

#[test]
fn private_dockerd_leaves_the_host_network_alone() {
    if !require_root() {
        return;
    }
    let mut tools = Vec::new();
    for tool in [
        "ip",
        "nft",
        "dockerd",
        "docker",
        "containerd",
        "containerd-shim-runc-v2",
        "runc",
        "tar",
    ] {
        let Some(path) = require_tool(tool) else {
            return;
        };
        tools.push(path);
    }
    let (ip, nft, dockerd, docker) = (&tools[0], &tools[1], tools[2].clone(), tools[3].clone());

    let before = HostNet::snapshot(ip, nft);
    eprintln!("host before: {before:#?}");
    if before.docker0.is_none() {
        eprintln!(
            "note: this host has no docker0, so it cannot show that docker0 survives; \
             the dockerd arguments are checked instead (never --bridge=none)"
        );
    }

    // The second dockerd runs in a thread that, once both have been seen
    // running side by side, panics: its guard must tear it down on unwind.
    let (seen_tx, seen_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (dockerd2, docker2) = (dockerd.clone(), docker.clone());
    let mut second = Joined(
        Some(go_tx),
        Some(thread::spawn(move || {
            let d2 = Dockerd::start(&dockerd2, docker2, None);
            seen_tx.send(check_dockerd(&d2)).unwrap();
            // Also when the main thread fails: `second` drops the sender then.
            let _ = go_rx.recv();
            panic!("{DELIBERATE}");
        })),
    );

    let d1 = Dockerd::start(&dockerd, docker, None);
    let seen1 = check_dockerd(&d1);
    let Ok(seen2) = seen_rx.recv() else {
        // The thread failed for real: show its panic.
        std::panic::resume_unwind(second.join().unwrap_err());
    };
    eprintln!("dockerd 1: {seen1:?}\ndockerd 2: {seen2:?}");
    assert!(link_exists(&seen1.bridge) && link_exists(&seen2.bridge));
    assert_ne!(seen1.bridge, seen2.bridge, "two dockerds share a bridge");
    assert_ne!(seen1.subnet, seen2.subnet, "two dockerds share a subnet");
    // Both answer at the same time.
    d1.docker(&["run", "--rm", IMAGE, "true"]).assert_success();

    match second.join() {
        Ok(()) => unreachable!(),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            if !msg.contains(DELIBERATE) {
                std::panic::resume_unwind(payload);
            }
        }
    }
    assert!(
        !link_exists(&seen2.bridge),
        "bridge {} survived its dockerd's panic",
        seen2.bridge
    );
    assert!(!seen2.dir.exists(), "{} survived", seen2.dir.display());

    drop(d1);
    assert!(
        !link_exists(&seen1.bridge),
        "bridge {} survived its dockerd",
        seen1.bridge
    );
    assert!(!seen1.dir.exists(), "{} survived", seen1.dir.display());

    let after = HostNet::snapshot(ip, nft);
    let diffs = after.differences(&before);
    assert!(
        diffs.is_empty(),
        "the private dockerds changed the host:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn test_bridges_are_distinct_and_removed_even_on_panic() {
    if !require_root() {
        return;
    }
    let Some(ip) = require_tool("ip") else {
        return;
    };

    // 4 threads x 3 bridges, all alive at once.
    let (tx, rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let done_rx = std::sync::Arc::new(std::sync::Mutex::new(done_rx));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let tx = tx.clone();
            let done_rx = done_rx.clone();
            thread::spawn(move || {
                let bridges: Vec<TestBridge> = (0..3).map(|_| TestBridge::create("bt")).collect();
                for b in &bridges {
                    tx.send((b.name().to_string(), b.subnet(), b.gateway()))
                        .unwrap();
                }
                // Hold them until the main thread has looked.
                let _ = done_rx.lock().unwrap().recv();
            })
        })
        .collect();
    drop(tx);
    let made: Vec<(String, String, Ipv4Addr)> = rx.iter().take(12).collect();
    assert_eq!(made.len(), 12);
    let names: BTreeSet<&String> = made.iter().map(|m| &m.0).collect();
    let subnets: BTreeSet<&String> = made.iter().map(|m| &m.1).collect();
    assert_eq!(names.len(), 12, "names collide: {made:?}");
    assert_eq!(subnets.len(), 12, "subnets collide: {made:?}");
    for (name, _, gateway) in &made {
        assert!(name.len() <= 15, "{name}");
        let addrs = cmd(&ip, &["-o", "-4", "addr", "show", "dev", name]).unwrap_or_default();
        assert!(
            addrs.contains(&format!("inet {gateway}/24")),
            "{name} lacks {gateway}/24: {addrs}"
        );
        let link = cmd(&ip, &["-o", "link", "show", "dev", name]).unwrap_or_default();
        assert!(
            link.contains(",UP") || link.contains("<UP"),
            "{name} is not up: {link}"
        );
    }
    for _ in 0..4 {
        done_tx.send(()).unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    for (name, _, _) in &made {
        assert!(!link_exists(name), "{name} survived its guard");
    }

    // A panic while the guard lives removes the bridge too.
    let (name_tx, name_rx) = mpsc::channel();
    let panicked = thread::spawn(move || {
        let b = TestBridge::create("bt");
        name_tx.send(b.name().to_string()).unwrap();
        panic!("deliberate panic with a TestBridge alive");
    })
    .join();
    assert!(panicked.is_err());
    let name = name_rx.recv().unwrap();
    assert!(!link_exists(&name), "{name} survived a panic");
}
