//! One NETLINK_NETFILTER socket: nftables transactions (a batch between
//! BATCH_BEGIN and BATCH_END, applied by the kernel all or nothing) and
//! dumps. Synchronous for the same reason as nl.rs: the DNS table is
//! written from a thread that has entered a container's namespace, and a
//! socket serves the namespace it was opened in.

use std::collections::HashSet;
use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NetlinkBuffer, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_netfilter::nftables::{NfTablesMessage, RuleAttribute};
use netlink_packet_netfilter::none::ControlMessage;
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};
use netlink_sys::protocols::NETLINK_NETFILTER;
use netlink_sys::{Socket, SocketAddr};
use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, setsockopt, sockopt};
use nix::sys::time::TimeVal;

/// The nftables subsystem, in the batch messages' res_id.
const NFNL_SUBSYS_NFTABLES: u16 = 10;

/// Echoed rules cost a page or two of receive buffer each until read, and
/// the kernel queues every answer of a batch before `send` returns: without
/// room for them a full rebuild would lose answers (ENOBUFS). The sender
/// side needs room for the whole batch in one message. Root may exceed
/// rmem_max/wmem_max (the `*FORCE` options), as `nft` itself does.
const BUFFER: usize = 8 << 20;

/// One message of a transaction and what it does, for the error.
pub struct Request {
    pub family: NetfilterProtoFamily,
    pub message: NfTablesMessage,
    /// NLM_F_CREATE, NLM_F_APPEND, NLM_F_ECHO ...
    pub flags: u16,
    pub what: String,
    /// For an echoed rule: which of the caller's lists its handle joins.
    pub keep: Option<usize>,
}

/// A batch applied (the rules added), or refused: (index, errno) of each
/// request the kernel refused.
type Outcome = Result<Vec<Added>, Vec<(usize, i32)>>;

/// A rule the kernel added, as its echo named it.
pub struct Added {
    pub keep: usize,
    pub chain: String,
    pub handle: u64,
}

pub struct Conn {
    socket: Socket,
    seq: u32,
}

impl Conn {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Conn> {
        let mut socket = Socket::new(NETLINK_NETFILTER)
            .map_err(|e| io::Error::new(e.kind(), format!("nftables: netlink socket: {e}")))?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        if setsockopt(&socket, sockopt::RcvBufForce, &BUFFER).is_err() {
            let _ = socket.set_rx_buf_sz(BUFFER);
        }
        let _ = setsockopt(&socket, sockopt::SndBufForce, &BUFFER);
        // The kernel answers a batch before `send` returns; a read that
        // still waits after this long means an answer was lost.
        setsockopt(&socket, sockopt::ReceiveTimeout, &TimeVal::new(5, 0))?;
        Ok(Conn { socket, seq: 0 })
    }

    /// Applies `requests` as one transaction and returns the handles of
    /// the echoed rules. With `tolerate_missing`, requests that fail with
    /// ENOENT (deleting what is already gone) are dropped and the rest is
    /// sent again: the kernel applies a batch whole or not at all.
    pub fn commit(
        &mut self,
        mut requests: Vec<Request>,
        tolerate_missing: bool,
    ) -> io::Result<Vec<Added>> {
        loop {
            if requests.is_empty() {
                return Ok(Vec::new());
            }
            let failures = match self.batch(&requests)? {
                Ok(added) => return Ok(added),
                Err(failures) => failures,
            };
            let missing = |code: &i32| *code == Errno::ENOENT as i32;
            if tolerate_missing && failures.iter().all(|(_, code)| missing(code)) {
                let gone: HashSet<usize> = failures.iter().map(|(i, _)| *i).collect();
                let mut i = 0;
                requests.retain(|_| {
                    i += 1;
                    !gone.contains(&(i - 1))
                });
                continue;
            }
            // The first failure is the cause; later ones may follow from it.
            let (index, code) = failures.into_iter().min().expect("a failure");
            return Err(kernel_error(&requests[index].what, code));
        }
    }

    /// One batch. Ok(Err(failures)) when the kernel refused some of its
    /// messages (then none was applied): (index, errno) for each.
    fn batch(&mut self, requests: &[Request]) -> io::Result<Outcome> {
        self.drain();
        if self.seq > u32::MAX - requests.len() as u32 - 3 {
            self.seq = 0; // keep the batch's numbers in order
        }
        let begin = self.next_seq();
        let mut buf = Vec::new();
        push(
            &mut buf,
            control(ControlMessage::BatchBegin),
            NLM_F_REQUEST,
            begin,
        );
        let first = begin + 1;
        for r in requests {
            let seq = self.next_seq();
            let msg =
                NetfilterMessage::new(NetfilterHeader::new(r.family, 0, 0), r.message.clone());
            push(&mut buf, msg, NLM_F_REQUEST | NLM_F_ACK | r.flags, seq);
        }
        let end = self.next_seq();
        push(
            &mut buf,
            control(ControlMessage::BatchEnd),
            NLM_F_REQUEST,
            end,
        );
        self.socket.send(&buf, 0).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("nftables: sending a batch of {} bytes: {e}", buf.len()),
            )
        })?;

        let mut tally = Tally {
            begin,
            first,
            end,
            answered: 0,
            failures: Vec::new(),
            added: Vec::new(),
        };
        let mut rb = vec![0u8; 64 * 1024];
        while tally.answered < requests.len() {
            let len = match self.socket.recv(&mut &mut rb[..], 0) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "nftables: the kernel did not answer the transaction",
                    ));
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("nftables: reading the answers: {e}"),
                    ));
                }
            };
            if let Err(e) = tally.take(&rb[..len], requests) {
                self.drain();
                return Err(e);
            }
        }
        // Echoes are sent at the commit, before the acks; take any late one.
        while let Ok(len) = self
            .socket
            .recv(&mut &mut rb[..], MsgFlags::MSG_DONTWAIT.bits())
        {
            tally.take(&rb[..len], requests)?;
        }
        if tally.failures.is_empty() {
            Ok(Ok(tally.added))
        } else {
            Ok(Err(tally.failures))
        }
    }

    /// Every object a GET request with NLM_F_DUMP lists.
    pub fn dump(
        &mut self,
        family: NetfilterProtoFamily,
        message: NfTablesMessage,
        what: &str,
    ) -> io::Result<Vec<NfTablesMessage>> {
        self.drain();
        let seq = self.next_seq();
        let mut buf = Vec::new();
        let msg = NetfilterMessage::new(NetfilterHeader::new(family, 0, 0), message);
        push(&mut buf, msg, NLM_F_REQUEST | NLM_F_DUMP, seq);
        self.socket.send(&buf, 0)?;
        let mut out = Vec::new();
        let mut rb = vec![0u8; 64 * 1024];
        loop {
            let len = self
                .socket
                .recv(&mut &mut rb[..], 0)
                .map_err(|e| io::Error::new(e.kind(), format!("nftables: {what}: {e}")))?;
            let mut off = 0;
            while off + 16 <= len {
                let Ok(nb) = NetlinkBuffer::new_checked(&rb[off..len]) else {
                    break;
                };
                let (mlen, kind, mseq) = (
                    nb.length() as usize,
                    nb.message_type(),
                    nb.sequence_number(),
                );
                let this = &rb[off..off + mlen.min(len - off)];
                off += align(mlen.max(16));
                if mseq != seq {
                    continue;
                }
                if kind == NLMSG_DONE {
                    return Ok(out);
                }
                // Rules of other programs may hold expressions the crate
                // cannot parse; skip those, they are not ours.
                let Ok(m) = NetlinkMessage::<NetfilterMessage>::deserialize(this) else {
                    continue;
                };
                match m.payload {
                    NetlinkPayload::Error(e) if kind == NLMSG_ERROR => {
                        if let Some(code) = e.code {
                            return Err(kernel_error(what, -code.get()));
                        }
                    }
                    NetlinkPayload::InnerMessage(NetfilterMessage {
                        inner: NetfilterMessageInner::NfTables(inner),
                        ..
                    }) => out.push(inner),
                    _ => {}
                }
            }
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Throws away answers still queued from an earlier call.
    fn drain(&mut self) {
        let mut rb = vec![0u8; 64 * 1024];
        while self
            .socket
            .recv(&mut &mut rb[..], MsgFlags::MSG_DONTWAIT.bits())
            .is_ok()
        {}
    }
}

/// The answers to one batch so far.
struct Tally {
    begin: u32,
    first: u32,
    end: u32,
    answered: usize,
    failures: Vec<(usize, i32)>,
    added: Vec<Added>,
}

impl Tally {
    /// Takes one datagram's answers; an error on the batch itself (no
    /// permission, the commit failed) ends the transaction.
    fn take(&mut self, data: &[u8], requests: &[Request]) -> io::Result<()> {
        for (seq, payload) in messages(data) {
            if seq == self.begin {
                if let NetlinkPayload::Error(e) = payload
                    && let Some(code) = e.code
                {
                    return Err(kernel_error("transaction", -code.get()));
                }
                continue;
            }
            if seq < self.first || seq >= self.end {
                continue; // a late answer to an earlier call
            }
            let index = (seq - self.first) as usize;
            match payload {
                NetlinkPayload::Error(e) => {
                    self.answered += 1;
                    if let Some(code) = e.code {
                        self.failures.push((index, -code.get()));
                    }
                }
                NetlinkPayload::InnerMessage(NetfilterMessage {
                    inner: NetfilterMessageInner::NfTables(NfTablesMessage::NewRule(rule)),
                    ..
                }) => {
                    if let Some(keep) = requests[index].keep
                        && let Some((chain, handle)) = chain_and_handle(&rule.attributes)
                    {
                        self.added.push(Added {
                            keep,
                            chain,
                            handle,
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// `nftables: <what>: <the kernel's reason>`, with the errno's kind.
pub fn kernel_error(what: &str, code: i32) -> io::Error {
    let errno = Errno::from_raw(code);
    io::Error::new(
        io::Error::from(errno).kind(),
        format!("nftables: {what}: {}", errno.desc()),
    )
}

fn control(c: ControlMessage) -> NetfilterMessage {
    NetfilterMessage::new(
        NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, NFNL_SUBSYS_NFTABLES),
        c,
    )
}

fn push(buf: &mut Vec<u8>, msg: NetfilterMessage, flags: u16, seq: u32) {
    let mut m = NetlinkMessage::from(msg);
    m.header.flags = flags;
    m.header.sequence_number = seq;
    m.finalize();
    let start = buf.len();
    buf.resize(start + m.buffer_len(), 0);
    m.serialize(&mut buf[start..]);
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// The messages of one datagram with their sequence numbers; ones that do
/// not parse are skipped.
fn messages(data: &[u8]) -> Vec<(u32, NetlinkPayload<NetfilterMessage>)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 16 <= data.len() {
        let Ok(nb) = NetlinkBuffer::new_checked(&data[off..]) else {
            break;
        };
        let mlen = nb.length() as usize;
        let this = &data[off..off + mlen.min(data.len() - off)];
        off += align(mlen.max(16));
        if let Ok(m) = NetlinkMessage::<NetfilterMessage>::deserialize(this) {
            out.push((m.header.sequence_number, m.payload));
        }
    }
    out
}

fn chain_and_handle(attributes: &[RuleAttribute]) -> Option<(String, u64)> {
    let chain = attributes.iter().find_map(|a| match a {
        RuleAttribute::Chain(c) => Some(c.clone()),
        _ => None,
    })?;
    let handle = attributes.iter().find_map(|a| match a {
        RuleAttribute::Handle(h) => Some(*h),
        _ => None,
    })?;
    Some((chain, handle))
}
