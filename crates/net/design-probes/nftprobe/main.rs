//! One nftables transaction over netlink, no nft binary: table inet bprobe,
//! a nat postrouting chain with `oifname "brA" masquerade` and a nat
//! prerouting chain with `tcp dport 8080 dnat ip to 10.99.0.2:80`.
use netlink_packet_core::{
    DefaultNla, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST,
};
use netlink_packet_netfilter::{
    nftables::{
        ChainAttribute, ChainMessage, Cmp, DataAttribute, Expressions, Hook, Immediate,
        InetHookNumber, Meta, MetaKey, NfTablesMessage, Operator, Payload, Register,
        RuleAttribute, RuleMessage, TableAttribute, TableMessage,
    },
    none::ControlMessage, // batch begin/end
    NetfilterHeader, NetfilterMessage, NetfilterProtoFamily,
};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const T: &str = "bprobe";

fn be(v: u32) -> Vec<u8> { v.to_be_bytes().to_vec() }
fn other(name: &str, attrs: &[(u16, Vec<u8>)]) -> Expressions {
    Expressions::Other {
        expression_type: name.into(),
        attributes: attrs.iter().map(|(k, v)| DefaultNla::new(*k, v.clone())).collect(),
    }
}
fn ifname(name: &str) -> Vec<u8> { let mut v = name.as_bytes().to_vec(); v.resize(16, 0); v }

fn main() {
    let fam = NetfilterProtoFamily::Inet;
    let msg = |inner: NfTablesMessage| NetfilterMessage::new(NetfilterHeader::new(fam, 0, 0), inner);
    let mut msgs: Vec<NetlinkMessage<NetfilterMessage>> = Vec::new();
    msgs.push(NetfilterMessage::new(
        NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, NFNL_SUBSYS_NFTABLES),
        ControlMessage::BatchBegin).into());
    msgs.push(msg(NfTablesMessage::NewTable(TableMessage { attributes: vec![TableAttribute::Name(T.into())] })).into());
    for (name, hook, prio) in [("post", InetHookNumber::PostRouting, 100i32), ("pre", InetHookNumber::PreRouting, -100)] {
        msgs.push(msg(NfTablesMessage::NewChain(ChainMessage { attributes: vec![
            ChainAttribute::Table(T.into()),
            ChainAttribute::Name(name.into()),
            ChainAttribute::Type("nat".into()),
            ChainAttribute::Hook(vec![Hook::Number(hook.into()), Hook::Priority(prio as u32)]),
            ChainAttribute::Policy(1),
        ]})).into());
    }
    // oifname "brA" masquerade
    msgs.push(msg(NfTablesMessage::NewRule(RuleMessage { attributes: vec![
        RuleAttribute::Table(T.into()), RuleAttribute::Chain("post".into()),
        RuleAttribute::Expressions(vec![
            Expressions::Meta(vec![Meta::DestinationRegister(Register::Reg1), Meta::Key(MetaKey::Oifname)]).into(),
            Expressions::Cmp(vec![Cmp::SourceRegister(Register::Reg1), Cmp::Op(Operator::Equal), Cmp::Data(DataAttribute::Value(ifname("brA")))]).into(),
            other("masq", &[]).into(),
        ]),
    ]})).into());
    // meta l4proto tcp tcp dport 8080 dnat ip to 10.99.0.2:80
    msgs.push(msg(NfTablesMessage::NewRule(RuleMessage { attributes: vec![
        RuleAttribute::Table(T.into()), RuleAttribute::Chain("pre".into()),
        RuleAttribute::Expressions(vec![
            Expressions::Meta(vec![Meta::DestinationRegister(Register::Reg1), Meta::Key(MetaKey::L4Proto)]).into(),
            Expressions::Cmp(vec![Cmp::SourceRegister(Register::Reg1), Cmp::Op(Operator::Equal), Cmp::Data(DataAttribute::Value(vec![6]))]).into(),
            Expressions::Payload(vec![Payload::DestinationRegister(Register::Reg1), Payload::Base(2), Payload::Offset(2), Payload::Len(2)]).into(),
            Expressions::Cmp(vec![Cmp::SourceRegister(Register::Reg1), Cmp::Op(Operator::Equal), Cmp::Data(DataAttribute::Value(8080u16.to_be_bytes().to_vec()))]).into(),
            Expressions::Immediate(vec![Immediate::DestinationRegister(Register::Reg1), Immediate::Data(DataAttribute::Value(vec![10, 99, 0, 2]))]).into(),
            Expressions::Immediate(vec![Immediate::DestinationRegister(Register::Reg2), Immediate::Data(DataAttribute::Value(80u16.to_be_bytes().to_vec()))]).into(),
            // NFTA_NAT_TYPE=1 (DNAT=1), FAMILY=2 (IPv4=2), REG_ADDR_MIN=3, REG_PROTO_MIN=5, FLAGS=7 (PROTO_SPECIFIED=2)
            other("nat", &[(1, be(1)), (2, be(2)), (3, be(1)), (5, be(2)), (7, be(2))]).into(),
        ]),
    ]})).into());
    msgs.push(NetfilterMessage::new(
        NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, NFNL_SUBSYS_NFTABLES),
        ControlMessage::BatchEnd).into());

    let mut buf = Vec::new();
    let n = msgs.len();
    for (i, mut m) in msgs.into_iter().enumerate() {
        m.header.sequence_number = i as u32 + 1;
        m.header.flags |= NLM_F_REQUEST;
        if i != 0 && i != n - 1 { m.header.flags |= NLM_F_ACK | NLM_F_CREATE; }
        m.finalize();
        let s = buf.len();
        buf.resize(s + m.buffer_len(), 0);
        m.serialize(&mut buf[s..]);
    }
    let mut sock = Socket::new(NETLINK_NETFILTER).unwrap();
    sock.bind_auto().unwrap();
    sock.connect(&SocketAddr::new(0, 0)).unwrap();
    let t0 = std::time::Instant::now();
    sock.send(&buf, 0).unwrap();
    let mut acks = 0;
    let mut rb = vec![0u8; 65536];
    while acks < n - 2 {
        let len = sock.recv(&mut &mut rb[..], 0).unwrap();
        let mut off = 0;
        while off < len {
            let m = NetlinkMessage::<NetfilterMessage>::deserialize(&rb[off..len]).unwrap();
            off += m.header.length as usize;
            if let NetlinkPayload::Error(e) = m.payload {
                if let Some(code) = e.code { eprintln!("seq {}: error {}", m.header.sequence_number, code); std::process::exit(1); }
                acks += 1;
            }
        }
    }
    println!("batch of {} messages applied in {:?}", n, t0.elapsed());
}
