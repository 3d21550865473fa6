//! One synchronous NETLINK_ROUTE socket: requests sent in one batch, one
//! acknowledgement read per request, a kernel error turned into an
//! io::Error that names what was asked. Synchronous on purpose: the part
//! done inside a container's namespace runs on a thread that has entered it
//! (see crates/net/DESIGN.md, 1.1), and a socket serves the namespace it was
//! opened in.

use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};

/// One request: the message, its extra header flags, and what it does (for
/// the error).
pub struct Request {
    pub message: RouteNetlinkMessage,
    pub flags: u16,
    pub what: String,
}

impl Request {
    /// A request that creates something (and fails if it exists).
    pub fn create(message: RouteNetlinkMessage, what: impl Into<String>) -> Request {
        Request {
            message,
            flags: NLM_F_CREATE | NLM_F_EXCL,
            what: what.into(),
        }
    }

    /// A request that changes or removes something.
    pub fn change(message: RouteNetlinkMessage, what: impl Into<String>) -> Request {
        Request {
            message,
            flags: 0,
            what: what.into(),
        }
    }
}

pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// Sends every request at once and waits for each one's answer. The
    /// first failure is returned, with the request's description; the
    /// requests after it may have been applied (the caller undoes).
    pub fn apply(&mut self, requests: Vec<Request>) -> io::Result<()> {
        let first_seq = self.seq + 1;
        let mut buf = Vec::new();
        for r in &requests {
            self.seq += 1;
            let mut header = NetlinkHeader::default();
            header.flags = NLM_F_REQUEST | NLM_F_ACK | r.flags;
            header.sequence_number = self.seq;
            let mut msg =
                NetlinkMessage::new(header, NetlinkPayload::InnerMessage(r.message.clone()));
            msg.finalize();
            let start = buf.len();
            buf.resize(start + msg.buffer_len(), 0);
            msg.serialize(&mut buf[start..]);
        }
        self.socket.send(&buf, 0)?;
        let mut answered = 0;
        let mut failure: Option<io::Error> = None;
        let mut rb = vec![0u8; 64 * 1024];
        while answered < requests.len() {
            let len = self.socket.recv(&mut &mut rb[..], 0)?;
            let mut off = 0;
            while off < len {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rb[off..len])
                    .map_err(|e| io::Error::other(format!("netlink answer: {e}")))?;
                off += (msg.header.length as usize).max(1);
                let NetlinkPayload::Error(e) = msg.payload else {
                    continue;
                };
                answered += 1;
                if let Some(code) = e.code
                    && failure.is_none()
                {
                    let index = msg.header.sequence_number.wrapping_sub(first_seq) as usize;
                    let what = requests
                        .get(index)
                        .map_or("netlink request", |r| r.what.as_str());
                    let os = io::Error::from_raw_os_error(-code.get());
                    failure = Some(io::Error::new(os.kind(), format!("{what}: {os}")));
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Whether a link of that name exists, and whether it is a bridge.
    pub fn link_is_bridge(&mut self, name: &str) -> io::Result<Option<bool>> {
        self.seq += 1;
        let mut l = LinkMessage::default();
        l.attributes.push(LinkAttribute::IfName(name.into()));
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK;
        header.sequence_number = self.seq;
        let mut msg = NetlinkMessage::new(
            header,
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::GetLink(l)),
        );
        msg.finalize();
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut buf[..]);
        self.socket.send(&buf, 0)?;
        let mut found = None;
        let mut rb = vec![0u8; 64 * 1024];
        loop {
            let len = self.socket.recv(&mut &mut rb[..], 0)?;
            let mut off = 0;
            while off < len {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rb[off..len])
                    .map_err(|e| io::Error::other(format!("netlink answer: {e}")))?;
                off += (msg.header.length as usize).max(1);
                match msg.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
                        let bridge = link.attributes.iter().any(|a| {
                            matches!(a, LinkAttribute::LinkInfo(infos)
                                if infos.iter().any(|i| matches!(i, LinkInfo::Kind(InfoKind::Bridge))))
                        });
                        found = Some(bridge);
                    }
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(found),
                            Some(c) if -c.get() == libc_enodev() => Ok(None),
                            Some(c) => {
                                let os = io::Error::from_raw_os_error(-c.get());
                                Err(io::Error::new(
                                    os.kind(),
                                    format!("looking up link {name}: {os}"),
                                ))
                            }
                        };
                    }
                    _ => {}
                }
            }
        }
    }
}

fn libc_enodev() -> i32 {
    nix::errno::Errno::ENODEV as i32
}

/// Sets a link up, by name.
pub fn link_up(name: &str) -> Request {
    let mut l = LinkMessage::default();
    l.header.flags = LinkFlags::Up;
    l.header.change_mask = LinkFlags::Up;
    l.attributes.push(LinkAttribute::IfName(name.into()));
    Request::change(
        RouteNetlinkMessage::SetLink(l),
        format!("setting {name} up"),
    )
}

/// Deletes a link, by name.
pub fn link_delete(name: &str) -> Request {
    let mut l = LinkMessage::default();
    l.attributes.push(LinkAttribute::IfName(name.into()));
    Request::change(
        RouteNetlinkMessage::DelLink(l),
        format!("deleting link {name}"),
    )
}

/// The index of a link in the calling thread's namespace.
pub fn ifindex(name: &str) -> io::Result<u32> {
    nix::net::if_::if_nametoindex(name)
        .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("link {name}: {e}")))
}
