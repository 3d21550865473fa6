//! Builders for the register programs `nft` itself generates (recorded with
//! `nft --debug=netlink` in design-probes/dbg.out), so that `nft list` and
//! iptables-nft print berth's rules as if typed by hand; and the table,
//! chain, set and rule messages. Expressions the crate has no type for
//! (nat, masq, fib, ct) are raw attributes, numbered as in the kernel's
//! include/uapi/linux/netfilter/nf_tables.h.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::DefaultNla;
use netlink_packet_netfilter::nftables::{
    Bitwise, ChainAttribute, ChainMessage, Cmp, DataAttribute, ExpressionAttribute, Expressions,
    Hook, Immediate, InetHookNumber, ListAttribute, Lookup, Meta, MetaKey, NfTablesMessage,
    Operator, Payload, Register, RuleAttribute, RuleMessage, SetAttribute, SetElementAttribute,
    SetElementList, SetElementMessage, SetMessage, TableAttribute, TableMessage, Verdict,
    VerdictAttribute,
};

pub type Expr = ListAttribute<ExpressionAttribute>;

/// Interface names are compared as 16 bytes padded with NULs.
const IFNAMSIZ: usize = 16;
/// nft's data type for interface names (TYPE_IFNAME), as a set's key.
const TYPE_IFNAME: u32 = 41;

const NF_DROP: u32 = 0;
const NF_ACCEPT: u32 = 1;
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;
const PAYLOAD_NETWORK: u32 = 1;
const PAYLOAD_TRANSPORT: u32 = 2;

/// The name as the kernel compares it; None when it cannot be one.
pub fn ifname(name: &str) -> Option<Vec<u8>> {
    if name.is_empty() || name.len() >= IFNAMSIZ || name.contains('\0') {
        return None;
    }
    let mut v = name.as_bytes().to_vec();
    v.resize(IFNAMSIZ, 0);
    Some(v)
}

fn padded(name: &str) -> Vec<u8> {
    ifname(name).expect("interface names are checked before rules are built")
}

fn meta(key: MetaKey) -> Expr {
    Expressions::Meta(vec![
        Meta::DestinationRegister(Register::Reg1),
        Meta::Key(key),
    ])
    .into()
}

fn cmp(op: Operator, data: Vec<u8>) -> Expr {
    Expressions::Cmp(vec![
        Cmp::SourceRegister(Register::Reg1),
        Cmp::Op(op),
        Cmp::Data(DataAttribute::Value(data)),
    ])
    .into()
}

fn payload(base: u32, offset: u32, len: u32) -> Expr {
    Expressions::Payload(vec![
        Payload::DestinationRegister(Register::Reg1),
        Payload::Base(base),
        Payload::Offset(offset),
        Payload::Len(len),
    ])
    .into()
}

/// `reg1 = (reg1 & mask) ^ 0`
fn and(mask: Vec<u8>) -> Expr {
    let len = mask.len();
    Expressions::Bitwise(vec![
        Bitwise::SourceRegister(Register::Reg1),
        Bitwise::DestinationRegister(Register::Reg1),
        Bitwise::Length(len as u32),
        Bitwise::Mask(DataAttribute::Value(mask)),
        Bitwise::Xor(DataAttribute::Value(vec![0; len])),
    ])
    .into()
}

fn immediate(register: Register, data: Vec<u8>) -> Expr {
    Expressions::Immediate(vec![
        Immediate::DestinationRegister(register),
        Immediate::Data(DataAttribute::Value(data)),
    ])
    .into()
}

fn verdict(attrs: Vec<VerdictAttribute>) -> Expr {
    Expressions::Immediate(vec![
        Immediate::DestinationRegister(Register::Verdict),
        Immediate::Data(DataAttribute::Verdict(attrs)),
    ])
    .into()
}

/// An expression the crate has no type for; values are big-endian u32.
fn raw(name: &str, attrs: &[(u16, u32)]) -> Expr {
    Expressions::Other {
        expression_type: name.into(),
        attributes: attrs
            .iter()
            .map(|(kind, v)| DefaultNla::new(*kind, v.to_be_bytes().to_vec()))
            .collect(),
    }
    .into()
}

// Matches.

/// `iifname "br"` (or `!=`).
pub fn iifname(name: &str, equal: bool) -> Vec<Expr> {
    vec![meta(MetaKey::Iifname), cmp(op(equal), padded(name))]
}

/// `oifname "br"` (or `!=`).
pub fn oifname(name: &str, equal: bool) -> Vec<Expr> {
    vec![meta(MetaKey::Oifname), cmp(op(equal), padded(name))]
}

/// `oifname @set`
pub fn oifname_in(set: &str) -> Vec<Expr> {
    vec![
        meta(MetaKey::Oifname),
        Expressions::Lookup(vec![
            Lookup::Set(set.into()),
            Lookup::SourceRegister(Register::Reg1),
        ])
        .into(),
    ]
}

fn op(equal: bool) -> Operator {
    if equal {
        Operator::Equal
    } else {
        Operator::NotEqual
    }
}

/// `ip saddr 10.99.0.0/24`, `ip6 daddr fd00::1`... In an inet table the
/// match is preceded by `meta nfproto ipv4|ipv6`, as nft does; in an ip
/// table it is not. Only the prefix's whole bytes are loaded, with a mask
/// for a partial last byte.
pub fn addr(net: IpNet, source: bool, inet: bool) -> Vec<Expr> {
    let net = net.trunc();
    let (family, offset, bytes) = match net {
        IpNet::V4(n) => (
            NFPROTO_IPV4,
            if source { 12 } else { 16 },
            n.addr().octets().to_vec(),
        ),
        IpNet::V6(n) => (
            NFPROTO_IPV6,
            if source { 8 } else { 24 },
            n.addr().octets().to_vec(),
        ),
    };
    let mut out = Vec::new();
    if inet {
        out.push(meta(MetaKey::Nfproto));
        out.push(cmp(Operator::Equal, vec![family]));
    }
    let prefix = net.prefix_len() as usize;
    let len = prefix.div_ceil(8);
    if len == 0 {
        return out; // 0.0.0.0/0: the family alone
    }
    out.push(payload(PAYLOAD_NETWORK, offset, len as u32));
    if !prefix.is_multiple_of(8) {
        let mut mask = vec![0xffu8; len];
        mask[len - 1] = 0xff << (8 - prefix % 8);
        out.push(and(mask));
    }
    out.push(cmp(Operator::Equal, bytes[..len].to_vec()));
    out
}

/// `meta l4proto tcp`
pub fn l4proto(number: u8) -> Vec<Expr> {
    vec![meta(MetaKey::L4Proto), cmp(Operator::Equal, vec![number])]
}

/// `th dport 8080` or `th dport 9000-9002` (after l4proto: tcp, udp and
/// sctp all have the destination port at offset 2).
pub fn dport(lo: u16, hi: u16) -> Vec<Expr> {
    let mut out = vec![payload(PAYLOAD_TRANSPORT, 2, 2)];
    if lo == hi {
        out.push(cmp(Operator::Equal, lo.to_be_bytes().to_vec()));
    } else {
        out.push(cmp(Operator::GreatherThanEqual, lo.to_be_bytes().to_vec()));
        out.push(cmp(Operator::LessThanEqual, hi.to_be_bytes().to_vec()));
    }
    out
}

/// `ct status dnat` (the status word is in host byte order).
pub fn ct_status_dnat() -> Vec<Expr> {
    const NFTA_CT_DREG: u16 = 1;
    const NFTA_CT_KEY: u16 = 2;
    const NFT_CT_STATUS: u32 = 2;
    const IPS_DST_NAT: u32 = 0x20;
    vec![
        raw("ct", &[(NFTA_CT_DREG, 1), (NFTA_CT_KEY, NFT_CT_STATUS)]),
        and(IPS_DST_NAT.to_ne_bytes().to_vec()),
        cmp(Operator::NotEqual, 0u32.to_ne_bytes().to_vec()),
    ]
}

/// `fib daddr type local` (or saddr).
pub fn fib_local(daddr: bool) -> Vec<Expr> {
    const NFTA_FIB_DREG: u16 = 1;
    const NFTA_FIB_RESULT: u16 = 2;
    const NFTA_FIB_FLAGS: u16 = 3;
    const NFT_FIB_RESULT_ADDRTYPE: u32 = 3;
    const NFTA_FIB_F_SADDR: u32 = 1;
    const NFTA_FIB_F_DADDR: u32 = 2;
    const RTN_LOCAL: u32 = 2;
    let flags = if daddr {
        NFTA_FIB_F_DADDR
    } else {
        NFTA_FIB_F_SADDR
    };
    vec![
        raw(
            "fib",
            &[
                (NFTA_FIB_DREG, 1),
                (NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE),
                (NFTA_FIB_FLAGS, flags),
            ],
        ),
        cmp(Operator::Equal, RTN_LOCAL.to_ne_bytes().to_vec()),
    ]
}

// Statements.

pub fn accept() -> Expr {
    verdict(vec![VerdictAttribute::Code(Verdict::Other(NF_ACCEPT))])
}

pub fn drop() -> Expr {
    verdict(vec![VerdictAttribute::Code(Verdict::Other(NF_DROP))])
}

pub fn jump(chain: &str) -> Expr {
    verdict(vec![
        VerdictAttribute::Code(Verdict::Jump),
        VerdictAttribute::Chain(chain.into()),
    ])
}

pub fn masquerade() -> Expr {
    raw("masq", &[])
}

/// `dnat ip to 10.99.0.2:80`, `...:7000-7002`, or with no port (the
/// destination port is kept).
pub fn dnat(to: IpAddr, ports: Option<(u16, u16)>) -> Vec<Expr> {
    const NFTA_NAT_TYPE: u16 = 1;
    const NFTA_NAT_FAMILY: u16 = 2;
    const NFTA_NAT_REG_ADDR_MIN: u16 = 3;
    const NFTA_NAT_REG_PROTO_MIN: u16 = 5;
    const NFTA_NAT_REG_PROTO_MAX: u16 = 6;
    const NFTA_NAT_FLAGS: u16 = 7;
    const NFT_NAT_DNAT: u32 = 1;
    const NF_NAT_RANGE_PROTO_SPECIFIED: u32 = 2;
    let (family, bytes) = match to {
        IpAddr::V4(a) => (NFPROTO_IPV4, a.octets().to_vec()),
        IpAddr::V6(a) => (NFPROTO_IPV6, a.octets().to_vec()),
    };
    let mut out = vec![immediate(Register::Reg1, bytes)];
    let mut attrs = vec![
        (NFTA_NAT_TYPE, NFT_NAT_DNAT),
        (NFTA_NAT_FAMILY, family as u32),
        (NFTA_NAT_REG_ADDR_MIN, 1),
    ];
    if let Some((lo, hi)) = ports {
        out.push(immediate(Register::Reg2, lo.to_be_bytes().to_vec()));
        attrs.push((NFTA_NAT_REG_PROTO_MIN, 2));
        if hi != lo {
            out.push(immediate(Register::Reg3, hi.to_be_bytes().to_vec()));
            attrs.push((NFTA_NAT_REG_PROTO_MAX, 3));
        }
        attrs.push((NFTA_NAT_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED));
    }
    out.push(raw("nat", &attrs));
    out
}

// Messages.

pub fn table(name: &str) -> TableMessage {
    TableMessage {
        attributes: vec![TableAttribute::Name(name.into())],
    }
}

/// A base chain with policy accept.
pub fn base_chain(
    table: &str,
    name: &str,
    kind: &str,
    hook: InetHookNumber,
    priority: i32,
) -> NfTablesMessage {
    NfTablesMessage::NewChain(ChainMessage {
        attributes: vec![
            ChainAttribute::Table(table.into()),
            ChainAttribute::Name(name.into()),
            ChainAttribute::Hook(vec![
                Hook::Number(hook.into()),
                Hook::Priority(priority as u32),
            ]),
            ChainAttribute::Policy(NF_ACCEPT),
            ChainAttribute::Type(kind.into()),
        ],
    })
}

fn chain_message(table: &str, name: &str) -> ChainMessage {
    ChainMessage {
        attributes: vec![
            ChainAttribute::Table(table.into()),
            ChainAttribute::Name(name.into()),
        ],
    }
}

pub fn regular_chain(table: &str, name: &str) -> NfTablesMessage {
    NfTablesMessage::NewChain(chain_message(table, name))
}

pub fn delete_chain(table: &str, name: &str) -> NfTablesMessage {
    NfTablesMessage::DeleteChain(chain_message(table, name))
}

pub fn rule(table: &str, chain: &str, exprs: Vec<Expr>) -> NfTablesMessage {
    NfTablesMessage::NewRule(RuleMessage {
        attributes: vec![
            RuleAttribute::Table(table.into()),
            RuleAttribute::Chain(chain.into()),
            RuleAttribute::Expressions(exprs),
        ],
    })
}

/// Deletes one rule by handle, or with no handle every rule of the chain.
pub fn delete_rules(table: &str, chain: &str, handle: Option<u64>) -> NfTablesMessage {
    let mut attributes = vec![
        RuleAttribute::Table(table.into()),
        RuleAttribute::Chain(chain.into()),
    ];
    attributes.extend(handle.map(RuleAttribute::Handle));
    NfTablesMessage::DeleteRule(RuleMessage { attributes })
}

/// A named set of interface names.
pub fn ifname_set(table: &str, name: &str) -> NfTablesMessage {
    NfTablesMessage::NewSet(SetMessage {
        attributes: vec![
            SetAttribute::Table(table.into()),
            SetAttribute::Name(name.into()),
            SetAttribute::KeyType(TYPE_IFNAME),
            SetAttribute::KeyLen(IFNAMSIZ as u32),
            // Required by the kernel: names the set within the transaction.
            SetAttribute::Id(1),
            // What nft stores (libnftnl udata: KEYBYTEORDER = host
            // endian); without it `nft list` prints the names as "".
            SetAttribute::UserData(udata_key_host_endian()),
        ],
    })
}

fn udata_key_host_endian() -> Vec<u8> {
    const NFTNL_UDATA_SET_KEYBYTEORDER: u8 = 0;
    const BYTEORDER_HOST_ENDIAN: u32 = 1;
    let mut v = vec![NFTNL_UDATA_SET_KEYBYTEORDER, 4];
    v.extend(BYTEORDER_HOST_ENDIAN.to_ne_bytes());
    v
}

/// Adds (or with `add` false removes) one interface name of a set.
pub fn ifname_element(table: &str, set: &str, name: &str, add: bool) -> NfTablesMessage {
    let m = SetElementMessage {
        attributes: vec![
            SetElementList::Table(table.into()),
            SetElementList::Set(set.into()),
            SetElementList::Elements(vec![ListAttribute::Element(vec![
                SetElementAttribute::Key(DataAttribute::Value(padded(name))),
            ])]),
        ],
    };
    if add {
        NfTablesMessage::NewSetElement(m)
    } else {
        NfTablesMessage::DeleteSetElement(m)
    }
}
