use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::{
    address::{AddressAttribute, AddressMessage},
    link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage},
    route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType},
    AddressFamily, RouteNetlinkMessage,
};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::time::Instant;

struct Nl {
    s: Socket,
    seq: u32,
}

impl Nl {
    fn new() -> Nl {
        let mut s = Socket::new(NETLINK_ROUTE).unwrap();
        s.bind_auto().unwrap();
        s.connect(&SocketAddr::new(0, 0)).unwrap();
        Nl { s, seq: 0 }
    }
    /// Sends all, then reads one ack per message.
    fn batch(&mut self, msgs: Vec<(RouteNetlinkMessage, u16)>) {
        let mut buf = Vec::new();
        let n = msgs.len();
        for (m, extra) in msgs {
            self.seq += 1;
            let mut h = NetlinkHeader::default();
            h.flags = NLM_F_REQUEST | NLM_F_ACK | extra;
            h.sequence_number = self.seq;
            let mut nm = NetlinkMessage::new(h, NetlinkPayload::InnerMessage(m));
            nm.finalize();
            let start = buf.len();
            buf.resize(start + nm.buffer_len(), 0);
            nm.serialize(&mut buf[start..]);
        }
        self.s.send(&buf, 0).unwrap();
        let mut acks = 0;
        let mut rb = vec![0u8; 65536];
        while acks < n {
            let len = self.s.recv(&mut &mut rb[..], 0).unwrap();
            let mut off = 0;
            while off < len {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rb[off..len]).unwrap();
                off += m.header.length as usize;
                match m.payload {
                    NetlinkPayload::Error(e) => {
                        if let Some(code) = e.code {
                            panic!("netlink error {code}");
                        }
                        acks += 1;
                    }
                    _ => {}
                }
            }
        }
    }
}

fn link_up_by_name(name: &str) -> RouteNetlinkMessage {
    let mut l = LinkMessage::default();
    l.header.flags = LinkFlags::Up;
    l.header.change_mask = LinkFlags::Up;
    l.attributes.push(LinkAttribute::IfName(name.into()));
    RouteNetlinkMessage::SetLink(l)
}

fn ifindex(name: &str) -> u32 {
    nix::net::if_::if_nametoindex(name).unwrap()
}

fn main() {
    let n: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(50);
    let mut host = Nl::new();
    // bridge
    let mut br = LinkMessage::default();
    br.header.flags = LinkFlags::Up;
    br.header.change_mask = LinkFlags::Up;
    br.attributes.push(LinkAttribute::IfName("bndbr0".into()));
    br.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
    host.batch(vec![(RouteNetlinkMessage::NewLink(br), NLM_F_CREATE | NLM_F_EXCL)]);
    let bri = ifindex("bndbr0");
    let mut a = AddressMessage::default();
    a.header.family = AddressFamily::Inet;
    a.header.prefix_len = 16;
    a.header.index = bri;
    a.attributes.push(AddressAttribute::Local(IpAddr::V4(Ipv4Addr::new(10, 88, 0, 1))));
    a.attributes.push(AddressAttribute::Address(IpAddr::V4(Ipv4Addr::new(10, 88, 0, 1))));
    host.batch(vec![(RouteNetlinkMessage::NewAddress(a), NLM_F_CREATE | NLM_F_EXCL)]);

    if std::env::args().nth(2).as_deref() == Some("par") {
        let t0 = Instant::now();
        let hs: Vec<_> = (0..n).map(|i| std::thread::spawn(move || {
            let nsfd: File = std::thread::spawn(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                File::open("/proc/thread-self/ns/net").unwrap()
            }).join().unwrap();
            let mut host = Nl::new();
            let mut peer = LinkMessage::default();
            peer.attributes.push(LinkAttribute::IfName("eth0".into()));
            peer.attributes.push(LinkAttribute::NetNsFd(nsfd.as_raw_fd()));
            let mut v = LinkMessage::default();
            v.header.flags = LinkFlags::Up;
            v.header.change_mask = LinkFlags::Up;
            v.attributes.push(LinkAttribute::IfName(format!("vp{i}")));
            v.attributes.push(LinkAttribute::Controller(bri));
            v.attributes.push(LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
            ]));
            host.batch(vec![(RouteNetlinkMessage::NewLink(v), NLM_F_CREATE | NLM_F_EXCL)]);
            let ip = Ipv4Addr::new(10, 88, (2 + i / 250) as u8, (2 + i % 250) as u8);
            nix::sched::setns(&nsfd, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let mut c = Nl::new();
            let eth0 = ifindex("eth0");
            let mut a = AddressMessage::default();
            a.header.family = AddressFamily::Inet;
            a.header.prefix_len = 16;
            a.header.index = eth0;
            a.attributes.push(AddressAttribute::Local(IpAddr::V4(ip)));
            a.attributes.push(AddressAttribute::Address(IpAddr::V4(ip)));
            let mut up = LinkMessage::default();
            up.header.index = eth0;
            up.header.flags = LinkFlags::Up;
            up.header.change_mask = LinkFlags::Up;
            c.batch(vec![(link_up_by_name("lo"), 0), (RouteNetlinkMessage::NewAddress(a), NLM_F_CREATE | NLM_F_EXCL), (RouteNetlinkMessage::SetLink(up), 0)]);
            nsfd
        })).collect();
        let fds: Vec<File> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        println!("{n} endpoints in parallel threads: {:?} wall", t0.elapsed());
        drop(fds);
        return;
    }
    let mut keep = Vec::new();
    let (mut t_ns, mut t_veth, mut t_inside, mut t_lo_only) = (0u128, 0u128, 0u128, 0u128);
    for i in 0..n {
        // 1. a netns, as the runtime's clone would make it (a thread unshares; its fd keeps it)
        let t0 = Instant::now();
        let nsfd: File = std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            File::open("/proc/thread-self/ns/net").unwrap()
        })
        .join()
        .unwrap();
        let t1 = Instant::now();
        // 2. veth: host end on the bridge and up, peer "eth0" straight into the netns, one message
        let mut peer = LinkMessage::default();
        peer.attributes.push(LinkAttribute::IfName("eth0".into()));
        peer.attributes.push(LinkAttribute::NetNsFd(nsfd.as_raw_fd()));
        peer.attributes.push(LinkAttribute::Mtu(1500));
        let mut v = LinkMessage::default();
        v.header.flags = LinkFlags::Up;
        v.header.change_mask = LinkFlags::Up;
        v.attributes.push(LinkAttribute::IfName(format!("vb{i}")));
        v.attributes.push(LinkAttribute::Mtu(1500));
        v.attributes.push(LinkAttribute::Controller(bri));
        v.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        host.batch(vec![(RouteNetlinkMessage::NewLink(v), NLM_F_CREATE | NLM_F_EXCL)]);
        let t2 = Instant::now();
        // 3. inside: lo up, eth0 addr, eth0 up, default route (a thread joins the netns, opens a socket)
        let ip = Ipv4Addr::new(10, 88, (2 + i / 250) as u8, (2 + i % 250) as u8);
        let fdc = nsfd.try_clone().unwrap();
        std::thread::spawn(move || {
            nix::sched::setns(&fdc, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let mut c = Nl::new();
            let eth0 = ifindex("eth0");
            let mut a = AddressMessage::default();
            a.header.family = AddressFamily::Inet;
            a.header.prefix_len = 16;
            a.header.index = eth0;
            a.attributes.push(AddressAttribute::Local(IpAddr::V4(ip)));
            a.attributes.push(AddressAttribute::Address(IpAddr::V4(ip)));
            a.attributes.push(AddressAttribute::Broadcast(Ipv4Addr::new(10, 88, 255, 255)));
            let mut up = LinkMessage::default();
            up.header.index = eth0;
            up.header.flags = LinkFlags::Up;
            up.header.change_mask = LinkFlags::Up;
            let mut r = RouteMessage::default();
            r.header = RouteHeader {
                address_family: AddressFamily::Inet,
                table: RouteHeader::RT_TABLE_MAIN,
                protocol: RouteProtocol::Boot,
                scope: RouteScope::Universe,
                kind: RouteType::Unicast,
                ..Default::default()
            };
            r.attributes.push(RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::new(10, 88, 0, 1))));
            r.attributes.push(RouteAttribute::Oif(eth0));
            c.batch(vec![
                (link_up_by_name("lo"), 0),
                (RouteNetlinkMessage::NewAddress(a), NLM_F_CREATE | NLM_F_EXCL),
                (RouteNetlinkMessage::SetLink(up), 0),
                (RouteNetlinkMessage::NewRoute(r), NLM_F_CREATE | NLM_F_EXCL),
            ]);
        })
        .join()
        .unwrap();
        let t3 = Instant::now();
        // 4. what --network none costs today: lo up only (a thread, a socket, one message)
        let fdc = nsfd.try_clone().unwrap();
        std::thread::spawn(move || {
            nix::sched::setns(&fdc, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let mut c = Nl::new();
            c.batch(vec![(link_up_by_name("lo"), 0)]);
        })
        .join()
        .unwrap();
        let t4 = Instant::now();
        t_ns += (t1 - t0).as_micros();
        t_veth += (t2 - t1).as_micros();
        t_inside += (t3 - t2).as_micros();
        t_lo_only += (t4 - t3).as_micros();
        keep.push(nsfd);
    }
    let n128 = n as u128;
    println!(
        "per endpoint (mean of {n}): netns create {} us; veth+peer-in-ns+master+up {} us; inside (thread+setns+socket, lo up, addr, up, route) {} us; lo-only (none) {} us",
        t_ns / n128, t_veth / n128, t_inside / n128, t_lo_only / n128
    );
    // ping a neighbour? skip. Drop netns fds: veths go away asynchronously.
    let t0 = Instant::now();
    drop(keep);
    let t1 = Instant::now();
    println!("dropping {n} netns fds: {} us total", (t1 - t0).as_micros());
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let left = std::fs::read_dir("/sys/class/net").unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("vb")).count();
    println!("veths left 1.5 s later: {left}");
}
