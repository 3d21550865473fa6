//! berth's firewall: one `inet` table of its own, changed in nftables
//! transactions over a NETLINK_NETFILTER socket (DESIGN.md 1.3, 1.4).
//!
//! Not the `nftables` crate: it runs the `nft` binary (`nft -j -f -`) for
//! every change, ~6 ms a call and a program the host must have; here a
//! change is one netlink batch of ~0.1 ms. Every rule mirrors the register
//! program `nft` generates for it (expr.rs), so `nft list table inet berth`
//! reads as if typed by hand:
//!
//! ```text
//! table inet berth {
//!   set bridges { type ifname }                  # every network's bridge
//!   chain raw-prerouting   { filter prerouting -300: iifname != "lo" ip daddr 127.0.0.0/8 drop }
//!   chain nat-prerouting   { nat prerouting -100: fib daddr type local jump ports }
//!   chain nat-output       { nat output -100:     fib daddr type local jump ports }
//!   chain ports            { [ip daddr H] tcp dport P dnat ip to C:Q ... }
//!   chain nat-postrouting  { nat postrouting 100: per network (not --internal):
//!       ip saddr S oifname != "br" masquerade            # when masquerading
//!       oifname "br" fib saddr type local masquerade     # host and 127.0.0.1 -> container
//!       oifname "br" ip saddr S ct status dnat masquerade }  # hairpin, no iifname
//!   chain filter-forward   { filter forward 0: ct status dnat accept, then per network:
//!       iifname "br" oifname @bridges oifname != "br" drop        # isolation
//!       or, --internal: iifname "br" oifname != "br" drop; oifname "br" iifname != "br" drop }
//! }
//! ```
//!
//! Isolation is one rule per network against the set of berth's bridges,
//! not one per ordered pair: n rules instead of n², and a new network
//! changes no other network's rules (only the set gains an element).
//!
//! The raw guard keeps `route_localnet` (set on every bridge so 127.0.0.1
//! reaches published ports without a userland proxy) from opening the
//! host's loopback to its neighbours (CVE-2020-8558).
//!
//! A port range whose host and container ports are the same is one rule
//! that keeps the port; one that maps to other ports is one rule per port,
//! because a NAT range picks any port of the range rather than the one at
//! the same offset.
//!
//! Rules are added with NLM_F_ECHO and kept by the kernel's handles; they
//! are deleted by handle. The whole table is rebuilt in one transaction at
//! daemon start, so nothing about rules is stored.

mod compat;
mod conn;
mod expr;

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_ECHO};
use netlink_packet_netfilter::NetfilterProtoFamily;
use netlink_packet_netfilter::nftables::{InetHookNumber, NfTablesMessage, TableMessage};

use conn::{Conn, Request};
use expr::Expr;

/// A published port's transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Sctp => 132,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        })
    }
}

impl FromStr for Proto {
    type Err = io::Error;
    fn from_str(s: &str) -> io::Result<Proto> {
        match s {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "sctp" => Ok(Proto::Sctp),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid proto: {s}"),
            )),
        }
    }
}

/// One bridge network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkRules {
    /// The Linux bridge name.
    pub bridge: String,
    /// IPv4 and/or IPv6.
    pub subnets: Vec<IpNet>,
    /// `--internal`: no way in or out of the bridge except to itself.
    pub internal: bool,
    /// Outbound NAT (true by default; false for internal).
    pub masquerade: bool,
    /// Containers of the bridge may talk to each other (dockerd's
    /// `enable_icc`, true by default); false drops bridged traffic between
    /// them, published ports (DNAT) still accepted before.
    pub icc: bool,
}

/// One published port range of one container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRule {
    /// None = every address (0.0.0.0 / ::); an unspecified address counts
    /// as None.
    pub host_ip: Option<IpAddr>,
    pub proto: Proto,
    /// Inclusive range; (p, p) for one.
    pub host_ports: (u16, u16),
    pub container_ip: IpAddr,
    /// Same length as host_ports.
    pub container_ports: (u16, u16),
}

/// Everything the table must hold.
#[derive(Clone, Debug, Default)]
pub struct Desired {
    pub networks: Vec<NetworkRules>,
    pub ports: Vec<PortRule>,
}

/// What was added for one network or one set of ports: the kernel's rule
/// handles (with their chains) and, for a network, its bridge in the set.
/// Each entry remembers the table it was made in (`generation`): a rebuilt
/// table numbers its rules from 1 again, so an old handle may name a new
/// rule, and must not be used.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handles {
    rules: Vec<(u64, String, u64)>,
    bridges: Vec<(u64, String)>,
}

impl Handles {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.bridges.is_empty()
    }

    /// Takes `other`'s handles too (a container's ports from several
    /// PortRules, deleted at once).
    pub fn extend(&mut self, other: Handles) {
        self.rules.extend(other.rules);
        self.bridges.extend(other.bridges);
    }

    fn new(generation: u64, added: Vec<conn::Added>, bridge: Option<&str>) -> Handles {
        Handles {
            rules: added
                .into_iter()
                .map(|a| (generation, a.chain, a.handle))
                .collect(),
            bridges: bridge
                .map(|b| (generation, b.to_string()))
                .into_iter()
                .collect(),
        }
    }
}

const SET: &str = "bridges";
const RAW_PREROUTING: &str = "raw-prerouting";
const NAT_PREROUTING: &str = "nat-prerouting";
const NAT_OUTPUT: &str = "nat-output";
const PORTS: &str = "ports";
const NAT_POSTROUTING: &str = "nat-postrouting";
const FILTER_FORWARD: &str = "filter-forward";

/// berth's firewall in the calling thread's network namespace.
pub struct Firewall {
    conn: Conn,
    table: String,
    /// `BERTH-FORWARD...` in `ip filter` / `ip6 filter` (compat.rs).
    compat_chain: String,
    /// The bridges that have rules now: the compat chain's content.
    bridges: BTreeSet<String>,
    /// Counts the rebuilds of the table (apply_all, remove_all); handles
    /// of an older one are ignored.
    generation: u64,
}

impl fmt::Debug for Firewall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Firewall")
            .field("table", &self.table)
            .field("bridges", &self.bridges)
            .finish()
    }
}

impl Firewall {
    /// `table` is the name of berth's `inet` table (e.g. "berth" or
    /// "berth-1a2b3c4d" per daemon).
    pub fn open(table: &str) -> io::Result<Firewall> {
        if table.is_empty() || table.len() > 255 || table.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("nftables: invalid table name {table:?}"),
            ));
        }
        Ok(Firewall {
            conn: Conn::open()?,
            table: table.into(),
            compat_chain: compat::chain_name(table),
            bridges: BTreeSet::new(),
            generation: 1,
        })
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// At daemon start: in ONE transaction delete the table if present and
    /// recreate it with the base chains and every rule for `desired`, and
    /// bring the compat chain in line (made when a FORWARD drop policy
    /// needs it, removed when there are no networks). Returns the handles
    /// per network and per port rule, in the order given.
    pub fn apply_all(&mut self, desired: &Desired) -> io::Result<(Vec<Handles>, Vec<Handles>)> {
        let bridges: BTreeSet<String> = desired.networks.iter().map(|n| n.bridge.clone()).collect();
        let nets = desired.networks.len();
        let mut requests = self.skeleton();
        for (i, n) in desired.networks.iter().enumerate() {
            requests.extend(self.network_requests(n, i)?);
        }
        for (j, p) in desired.ports.iter().enumerate() {
            requests.extend(self.port_requests(p, nets + j)?);
        }
        requests.extend(self.compat_requests(&bridges, true)?);
        let added = self.conn.commit(requests, false)?;
        self.generation += 1;
        let g = self.generation;
        let mut all = vec![Handles::default(); nets + desired.ports.len()];
        for (i, n) in desired.networks.iter().enumerate() {
            all[i].bridges.push((g, n.bridge.clone()));
        }
        for a in added {
            all[a.keep].rules.push((g, a.chain, a.handle));
        }
        self.bridges = bridges;
        let ports = all.split_off(nets);
        Ok((all, ports))
    }

    /// Adds one network's rules: masquerade, hairpin and host masquerade,
    /// isolation against every other berth bridge, internal drops, and the
    /// compat accepts (the FORWARD policy is checked again each time).
    pub fn add_network(&mut self, n: &NetworkRules) -> io::Result<Handles> {
        let mut requests = self.network_requests(n, 0)?;
        let mut bridges = self.bridges.clone();
        bridges.insert(n.bridge.clone());
        requests.extend(self.compat_requests(&bridges, true)?);
        let added = self.conn.commit(requests, false)?;
        self.bridges = bridges;
        Ok(Handles::new(self.generation, added, Some(&n.bridge)))
    }

    /// DNAT rules for one container's ports. Also makes the compat chain
    /// if a FORWARD drop policy appeared since (a dockerd started later).
    pub fn add_ports(&mut self, ports: &[PortRule]) -> io::Result<Handles> {
        let mut requests = Vec::new();
        for p in ports {
            requests.extend(self.port_requests(p, 0)?);
        }
        if requests.is_empty() {
            return Ok(Handles::default());
        }
        let bridges = self.bridges.clone();
        requests.extend(self.compat_requests(&bridges, false)?);
        let added = self.conn.commit(requests, false)?;
        Ok(Handles::new(self.generation, added, None))
    }

    /// Deletes rules by handle. Missing ones are no error, and handles
    /// from before the last apply_all or remove_all are skipped: that
    /// table is gone, and its numbers may name rules of the new one.
    pub fn delete(&mut self, handles: &Handles) -> io::Result<()> {
        let t = &self.table;
        let g = self.generation;
        let mut requests: Vec<Request> = handles
            .rules
            .iter()
            .filter(|(generation, _, _)| *generation == g)
            .map(|(_, chain, h)| {
                inet(
                    expr::delete_rules(t, chain, Some(*h)),
                    0,
                    format!("delete rule {h} from {chain}"),
                )
            })
            .collect();
        let mut bridges = self.bridges.clone();
        for (_, b) in handles
            .bridges
            .iter()
            .filter(|(generation, _)| *generation == g)
        {
            requests.push(inet(
                expr::ifname_element(t, SET, b, false),
                0,
                format!("remove {b} from set {SET}"),
            ));
            bridges.remove(b);
        }
        if bridges != self.bridges {
            requests.extend(self.compat_requests(&bridges, true)?);
        }
        self.conn.commit(requests, true)?;
        self.bridges = bridges;
        Ok(())
    }

    /// Deletes berth's table and its compat chain and jump entirely.
    pub fn remove_all(&mut self) -> io::Result<()> {
        let t = &self.table;
        let mut requests = vec![
            inet(
                NfTablesMessage::NewTable(expr::table(t)),
                NLM_F_CREATE,
                format!("add table inet {t}"),
            ),
            inet(
                NfTablesMessage::DeleteTable(expr::table(t)),
                0,
                format!("delete table inet {t}"),
            ),
        ];
        requests.extend(self.compat_requests(&BTreeSet::new(), true)?);
        self.conn.commit(requests, false)?;
        self.bridges.clear();
        self.generation += 1;
        Ok(())
    }

    /// The table made anew (added first so that deleting it cannot fail),
    /// its set, chains and the rules that do not depend on networks.
    fn skeleton(&self) -> Vec<Request> {
        let t = &self.table;
        let table = |m: fn(TableMessage) -> NfTablesMessage, flags, what: &str| {
            inet(m(expr::table(t)), flags, format!("{what} table inet {t}"))
        };
        let mut out = vec![
            table(NfTablesMessage::NewTable, NLM_F_CREATE, "add"),
            table(NfTablesMessage::DeleteTable, 0, "delete"),
            table(NfTablesMessage::NewTable, NLM_F_CREATE, "add"),
            inet(
                expr::ifname_set(t, SET),
                NLM_F_CREATE,
                format!("add set {SET}"),
            ),
        ];
        use InetHookNumber::{Forward, LocalOut, PostRouting, PreRouting};
        let base = [
            (RAW_PREROUTING, "filter", PreRouting, -300),
            (NAT_PREROUTING, "nat", PreRouting, -100),
            (NAT_OUTPUT, "nat", LocalOut, -100),
            (NAT_POSTROUTING, "nat", PostRouting, 100),
            (FILTER_FORWARD, "filter", Forward, 0),
        ];
        out.push(inet(
            expr::regular_chain(t, PORTS),
            NLM_F_CREATE,
            format!("add chain {PORTS}"),
        ));
        for (name, kind, hook, prio) in base {
            out.push(inet(
                expr::base_chain(t, name, kind, hook, prio),
                NLM_F_CREATE,
                format!("add chain {name}"),
            ));
        }
        let mut guard = expr::iifname("lo", false);
        guard.extend(expr::addr(
            IpNet::new(Ipv4Addr::LOCALHOST.into(), 8).expect("a /8"),
            false,
            true,
        ));
        guard.push(expr::drop());
        let mut local = expr::fib_local(true);
        local.push(expr::jump(PORTS));
        let mut dnatted = expr::ct_status_dnat();
        dnatted.push(expr::accept());
        for (chain, exprs, what) in [
            (RAW_PREROUTING, guard, "the loopback guard"),
            (NAT_PREROUTING, local.clone(), "the jump to ports"),
            (NAT_OUTPUT, local, "the jump to ports"),
            (FILTER_FORWARD, dnatted, "ct status dnat accept"),
        ] {
            out.push(inet(
                expr::rule(t, chain, exprs),
                NLM_F_CREATE | NLM_F_APPEND,
                format!("add {what} to {chain}"),
            ));
        }
        out
    }

    /// One network's set element and rules, echoed into list `keep`.
    fn network_requests(&self, n: &NetworkRules, keep: usize) -> io::Result<Vec<Request>> {
        let b = n.bridge.as_str();
        if expr::ifname(b).is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("nftables: {b:?} is not an interface name"),
            ));
        }
        let t = &self.table;
        let mut out = vec![inet(
            expr::ifname_element(t, SET, b, true),
            NLM_F_CREATE,
            format!("add {b} to set {SET}"),
        )];
        let mut rules: Vec<(&str, Vec<Expr>, String)> = Vec::new();
        if !n.icc {
            let mut within = expr::iifname(b, true);
            within.extend(expr::oifname(b, true));
            within.push(expr::drop());
            rules.push((
                FILTER_FORWARD,
                within,
                format!("add drop within {b} (icc off)"),
            ));
        }
        if n.internal {
            let mut out_of = expr::iifname(b, true);
            out_of.extend(expr::oifname(b, false));
            out_of.push(expr::drop());
            let mut into = expr::oifname(b, true);
            into.extend(expr::iifname(b, false));
            into.push(expr::drop());
            rules.push((
                FILTER_FORWARD,
                out_of,
                format!("add drop of {b}'s outbound (internal)"),
            ));
            rules.push((
                FILTER_FORWARD,
                into,
                format!("add drop of {b}'s inbound (internal)"),
            ));
        } else {
            if n.masquerade {
                for s in &n.subnets {
                    let mut e = expr::addr(*s, true, true);
                    e.extend(expr::oifname(b, false));
                    e.push(expr::masquerade());
                    rules.push((
                        NAT_POSTROUTING,
                        e,
                        format!("add masquerade of {s} out of {b}"),
                    ));
                }
            }
            let mut host = expr::oifname(b, true);
            host.extend(expr::fib_local(false));
            host.push(expr::masquerade());
            rules.push((
                NAT_POSTROUTING,
                host,
                format!("add masquerade of the host into {b}"),
            ));
            for s in &n.subnets {
                let mut e = expr::oifname(b, true);
                e.extend(expr::addr(*s, true, true));
                e.extend(expr::ct_status_dnat());
                e.push(expr::masquerade());
                rules.push((
                    NAT_POSTROUTING,
                    e,
                    format!("add hairpin masquerade of {s} on {b}"),
                ));
            }
            let mut isolate = expr::iifname(b, true);
            isolate.extend(expr::oifname_in(SET));
            isolate.extend(expr::oifname(b, false));
            isolate.push(expr::drop());
            rules.push((FILTER_FORWARD, isolate, format!("add isolation of {b}")));
        }
        for (chain, exprs, what) in rules {
            out.push(echoed(expr::rule(t, chain, exprs), what, keep));
        }
        Ok(out)
    }

    /// The DNAT rules of one port range, echoed into list `keep`.
    fn port_requests(&self, p: &PortRule, keep: usize) -> io::Result<Vec<Request>> {
        let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidInput, why);
        let (hlo, hhi) = p.host_ports;
        let (clo, chi) = p.container_ports;
        if hlo > hhi || clo > chi || hhi - hlo != chi - clo {
            return Err(invalid(format!(
                "nftables: port ranges {hlo}-{hhi} and {clo}-{chi} do not match"
            )));
        }
        let host = p.host_ip.filter(|ip| !ip.is_unspecified());
        if let Some(h) = host
            && h.is_ipv4() != p.container_ip.is_ipv4()
        {
            return Err(invalid(format!(
                "nftables: cannot publish {h} to {}: the address families differ",
                p.container_ip
            )));
        }
        // (host ports, the ports to DNAT to: None keeps them)
        let mut pieces: Vec<(Range, Option<Range>)> = Vec::new();
        if hlo == hhi {
            pieces.push(((hlo, hlo), Some((clo, clo))));
        } else if hlo == clo {
            pieces.push(((hlo, hhi), None));
        } else {
            for i in 0..=(hhi - hlo) {
                pieces.push(((hlo + i, hlo + i), Some((clo + i, clo + i))));
            }
        }
        let mut out = Vec::new();
        for ((lo, hi), to) in pieces {
            let mut e = Vec::new();
            if let Some(h) = host {
                e.extend(expr::addr(IpNet::from(h), false, true));
            }
            e.extend(expr::l4proto(p.proto.number()));
            e.extend(expr::dport(lo, hi));
            e.extend(expr::dnat(p.container_ip, to));
            let from = endpoint(host, lo, hi);
            let (tlo, thi) = to.unwrap_or((lo, hi));
            let to = endpoint(Some(p.container_ip), tlo, thi);
            out.push(echoed(
                expr::rule(&self.table, PORTS, e),
                format!("add DNAT {} {from} -> {to}", p.proto),
                keep,
            ));
        }
        Ok(out)
    }

    /// The compat chain's changes for `bridges`, after reading both
    /// families' filter tables.
    fn compat_requests(
        &mut self,
        bridges: &BTreeSet<String>,
        refill: bool,
    ) -> io::Result<Vec<Request>> {
        let mut out = Vec::new();
        for family in [NetfilterProtoFamily::IPv4, NetfilterProtoFamily::IPv6] {
            let st = compat::state(&mut self.conn, family, &self.compat_chain)?;
            out.extend(compat::requests(&st, &self.compat_chain, bridges, refill));
        }
        Ok(out)
    }
}

/// Inclusive port range.
type Range = (u16, u16);

/// `8080`, `127.0.0.1:8081`, `[fd00::2]:80-82`
fn endpoint(ip: Option<IpAddr>, lo: u16, hi: u16) -> String {
    let ports = if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    };
    match ip {
        None => ports,
        Some(IpAddr::V4(a)) => format!("{a}:{ports}"),
        Some(IpAddr::V6(a)) => format!("[{a}]:{ports}"),
    }
}

fn inet(message: NfTablesMessage, flags: u16, what: String) -> Request {
    Request {
        family: NetfilterProtoFamily::Inet,
        message,
        flags,
        what,
        keep: None,
    }
}

/// A rule appended to berth's table whose handle the kernel echoes back.
fn echoed(message: NfTablesMessage, what: String, keep: usize) -> Request {
    Request {
        keep: Some(keep),
        ..inet(message, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ECHO, what)
    }
}

/// Inside a container's network namespace (from a thread that has entered
/// it): table `ip berth-dns` whose output nat chain sends 127.0.0.11 udp/53
/// to 127.0.0.11:`udp_port` and tcp/53 to 127.0.0.11:`tcp_port`, where the
/// daemon's resolver sockets are (DESIGN.md 1.5). Replaces the table if
/// present (a daemon restart binds new ports).
pub fn dns_redirect(udp_port: u16, tcp_port: u16) -> io::Result<()> {
    const TABLE: &str = "berth-dns";
    const CHAIN: &str = "output";
    let dns = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11));
    let ip = |message, flags, what: String| Request {
        family: NetfilterProtoFamily::IPv4,
        message,
        flags,
        what,
        keep: None,
    };
    let mut requests = vec![
        ip(
            NfTablesMessage::NewTable(expr::table(TABLE)),
            NLM_F_CREATE,
            format!("add table ip {TABLE}"),
        ),
        ip(
            NfTablesMessage::DeleteTable(expr::table(TABLE)),
            0,
            format!("delete table ip {TABLE}"),
        ),
        ip(
            NfTablesMessage::NewTable(expr::table(TABLE)),
            NLM_F_CREATE,
            format!("add table ip {TABLE}"),
        ),
        ip(
            expr::base_chain(TABLE, CHAIN, "nat", InetHookNumber::LocalOut, -100),
            NLM_F_CREATE,
            format!("add chain {CHAIN}"),
        ),
    ];
    for (proto, port) in [(Proto::Udp, udp_port), (Proto::Tcp, tcp_port)] {
        let mut e = expr::addr(IpNet::from(dns), false, false);
        e.extend(expr::l4proto(proto.number()));
        e.extend(expr::dport(53, 53));
        e.extend(expr::dnat(dns, Some((port, port))));
        requests.push(ip(
            expr::rule(TABLE, CHAIN, e),
            NLM_F_CREATE | NLM_F_APPEND,
            format!("add DNAT {proto} 127.0.0.11:53 -> 127.0.0.11:{port}"),
        ));
    }
    Conn::open()?.commit(requests, false)?;
    Ok(())
}
