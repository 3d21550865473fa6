//! Coexisting with an iptables-nft `FORWARD` chain whose policy is drop
//! (dockerd sets one). Every base chain on a hook sees the packet and any
//! drop is final, so berth's own accepts cannot help: the bridges must be
//! accepted inside that table too (DESIGN.md 1.4). Then a chain of berth's
//! own lives in `ip filter` (and `ip6 filter`), jumped to from the top of
//! FORWARD, with `iifname "br" accept` and `oifname "br" accept` per
//! bridge. Only meta, cmp and immediate expressions, so that iptables-nft
//! still lists the table (`-A FORWARD -j BERTH-FORWARD`,
//! `-A BERTH-FORWARD -i br-x -j ACCEPT`). Its content is a function of the
//! set of bridges: it is refilled whole on every change, never tracked by
//! handle. Legacy (x_tables) iptables is not covered.

use std::collections::BTreeSet;
use std::io;

use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE};
use netlink_packet_netfilter::NetfilterProtoFamily;
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, DataAttribute, ExpressionAttribute, Expressions, Immediate,
    ListAttribute, NfTablesMessage, RuleAttribute, RuleMessage, VerdictAttribute,
};

use super::conn::{Conn, Request};
use super::expr;

const TABLE: &str = "filter";
const FORWARD: &str = "FORWARD";

/// What one family's `filter` table holds now.
pub struct State {
    pub family: NetfilterProtoFamily,
    /// FORWARD exists as a base chain with policy drop.
    pub forward_drops: bool,
    /// Our chain exists.
    pub chain_exists: bool,
    /// Handles of FORWARD's rules that jump to our chain.
    pub jumps: Vec<u64>,
}

/// The chain's name for berth's table: `BERTH-FORWARD` for `berth`,
/// `BERTH-FORWARD-1a2b3c4d` for `berth-1a2b3c4d`, so that daemons with
/// other data roots keep to their own. iptables allows 28 characters.
pub fn chain_name(table: &str) -> String {
    let mut name = match table.strip_prefix("berth") {
        Some("") => "BERTH-FORWARD".to_string(),
        Some(rest) if rest.starts_with('-') => format!("BERTH-FORWARD{rest}"),
        _ => format!("BERTH-FORWARD-{table}"),
    };
    while name.len() > 28 {
        name.pop();
    }
    name
}

fn family_name(family: NetfilterProtoFamily) -> &'static str {
    if family == NetfilterProtoFamily::IPv6 {
        "ip6"
    } else {
        "ip"
    }
}

/// Reads `family`'s filter table: two dumps, the rules only when needed.
pub fn state(conn: &mut Conn, family: NetfilterProtoFamily, chain: &str) -> io::Result<State> {
    let fam = family_name(family);
    let chains = conn.dump(
        family,
        NfTablesMessage::GetChain(ChainMessage { attributes: vec![] }),
        &format!("listing the chains of {fam}"),
    )?;
    let mut st = State {
        family,
        forward_drops: false,
        chain_exists: false,
        jumps: Vec::new(),
    };
    let mut forward_exists = false;
    for c in chains {
        let NfTablesMessage::NewChain(c) = c else {
            continue;
        };
        let (mut table, mut name, mut policy, mut hooked) = (None, None, None, false);
        for a in c.attributes {
            match a {
                ChainAttribute::Table(t) => table = Some(t),
                ChainAttribute::Name(n) => name = Some(n),
                ChainAttribute::Policy(p) => policy = Some(p),
                ChainAttribute::Hook(_) => hooked = true,
                _ => {}
            }
        }
        if table.as_deref() != Some(TABLE) {
            continue;
        }
        match name.as_deref() {
            Some(FORWARD) if hooked => {
                forward_exists = true;
                st.forward_drops = policy == Some(0);
            }
            Some(n) if n == chain => st.chain_exists = true,
            _ => {}
        }
    }
    if forward_exists && (st.forward_drops || st.chain_exists) {
        let rules = conn.dump(
            family,
            NfTablesMessage::GetRule(RuleMessage {
                attributes: vec![
                    RuleAttribute::Table(TABLE.into()),
                    RuleAttribute::Chain(FORWARD.into()),
                ],
            }),
            &format!("listing {fam} filter FORWARD"),
        )?;
        for r in rules {
            if let NfTablesMessage::NewRule(r) = r
                && let Some(handle) = jump_handle(&r.attributes, chain)
            {
                st.jumps.push(handle);
            }
        }
    }
    Ok(st)
}

/// The handle of a rule that jumps to `chain`.
fn jump_handle(attributes: &[RuleAttribute], chain: &str) -> Option<u64> {
    let mut handle = None;
    let mut jumps = false;
    for a in attributes {
        match a {
            RuleAttribute::Handle(h) => handle = Some(*h),
            RuleAttribute::Expressions(list) => {
                for e in list {
                    let ListAttribute::Element(parts) = e else {
                        continue;
                    };
                    for p in parts {
                        if let ExpressionAttribute::Data(Expressions::Immediate(imm)) = p {
                            jumps |= imm.iter().any(|i| {
                                matches!(i, Immediate::Data(DataAttribute::Verdict(v))
                                    if v.contains(&VerdictAttribute::Chain(chain.into())))
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if jumps { handle } else { None }
}

/// What brings the table from `st` to holding exactly our chain for
/// `bridges` (or nothing of ours when no drop policy needs it or there are
/// no bridges). With `refill` false an existing chain is left as it is.
pub fn requests(st: &State, chain: &str, bridges: &BTreeSet<String>, refill: bool) -> Vec<Request> {
    let fam = family_name(st.family);
    let req = |message, flags, what: String| Request {
        family: st.family,
        message,
        flags,
        what,
        keep: None,
    };
    let mut out = Vec::new();
    if st.forward_drops && !bridges.is_empty() {
        if !st.chain_exists {
            out.push(req(
                expr::regular_chain(TABLE, chain),
                NLM_F_CREATE,
                format!("add chain {fam} filter {chain}"),
            ));
        } else if refill {
            out.push(req(
                expr::delete_rules(TABLE, chain, None),
                0,
                format!("flush chain {fam} filter {chain}"),
            ));
        }
        if !st.chain_exists || refill {
            for b in bridges {
                for (input, flag) in [(true, "iifname"), (false, "oifname")] {
                    let mut e = if input {
                        expr::iifname(b, true)
                    } else {
                        expr::oifname(b, true)
                    };
                    e.push(expr::accept());
                    out.push(req(
                        expr::rule(TABLE, chain, e),
                        NLM_F_CREATE | NLM_F_APPEND,
                        format!("add rule {fam} filter {chain} {flag} {b} accept"),
                    ));
                }
            }
        }
        match st.jumps.split_first() {
            // No NLM_F_APPEND: inserted at the top of FORWARD.
            None => out.push(req(
                expr::rule(TABLE, FORWARD, vec![expr::jump(chain)]),
                NLM_F_CREATE,
                format!("insert rule {fam} filter FORWARD jump {chain}"),
            )),
            Some((_, extra)) => {
                for h in extra {
                    out.push(req(
                        expr::delete_rules(TABLE, FORWARD, Some(*h)),
                        0,
                        format!("delete a second jump to {chain} from {fam} filter FORWARD"),
                    ));
                }
            }
        }
    } else if st.chain_exists {
        for h in &st.jumps {
            out.push(req(
                expr::delete_rules(TABLE, FORWARD, Some(*h)),
                0,
                format!("delete the jump to {chain} from {fam} filter FORWARD"),
            ));
        }
        out.push(req(
            expr::delete_rules(TABLE, chain, None),
            0,
            format!("flush chain {fam} filter {chain}"),
        ));
        out.push(req(
            expr::delete_chain(TABLE, chain),
            0,
            format!("delete chain {fam} filter {chain}"),
        ));
    }
    out
}
