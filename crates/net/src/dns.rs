//! The embedded DNS server of user-defined networks, as dockerd's: it
//! listens on 127.0.0.11 inside each container's network namespace (the
//! sockets are bound there, then served from the daemon), answers the
//! names the engine knows (containers, aliases, short ids; A, AAAA and
//! PTR) and relays every other query, as raw bytes, to the host's
//! resolvers. hickory-proto reads and writes the messages; the server
//! itself is this small loop, because hickory-server's Authority/Catalog
//! framework does not fit a per-asker table that changes with every start
//! (DESIGN.md 1.5).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where containers find the server, as with Docker.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// Docker's TTL for the names it answers.
const TTL: u32 = 600;

/// How long an upstream resolver may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// What the server asks of the engine, per asking container.
pub trait Names: Send + Sync + 'static {
    /// The addresses of `name` (lowercase, no trailing dot) on the
    /// asker's networks; None when it is not a name the engine knows.
    fn lookup(&self, asker: &str, name: &str) -> Option<Vec<IpAddr>>;
    /// The name of an address on the asker's networks.
    fn reverse(&self, asker: &str, ip: IpAddr) -> Option<String>;
    /// Resolvers for every other name; empty when the asker has no way
    /// out (only on `--internal` networks).
    fn upstreams(&self, asker: &str) -> Vec<SocketAddr>;
}

/// The server's sockets in one container's namespace.
pub struct Listener {
    pub udp: UdpSocket,
    pub tcp: TcpListener,
}

/// Binds the server's sockets in the calling thread's network namespace
/// (a thread that has entered the container's) and sends port 53 of
/// 127.0.0.11 to them, so that a process in the container may still bind
/// port 53 itself.
pub fn bind_here() -> io::Result<Listener> {
    let udp = UdpSocket::bind((ADDRESS, 0))?;
    let tcp = TcpListener::bind((ADDRESS, 0))?;
    udp.set_nonblocking(true)?;
    tcp.set_nonblocking(true)?;
    crate::nft::dns_redirect(udp.local_addr()?.port(), tcp.local_addr()?.port())?;
    Ok(Listener { udp, tcp })
}

/// [`bind_here`] from a thread that enters `netns` (an open
/// `/proc/<pid>/ns/net`); the caller's own namespace is untouched.
pub fn bind_in(netns: &std::fs::File) -> io::Result<Listener> {
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                io::Error::other(format!("entering the container's network namespace: {e}"))
            })?;
            bind_here()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the namespace thread panicked")))
    })
}

/// A running server; dropping it stops it and closes its sockets (which
/// must not outlive the container: they would keep its namespace alive).
pub struct Server {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Serves `asker`'s queries on the daemon's tokio runtime (`rt`).
pub fn serve(
    rt: &tokio::runtime::Handle,
    l: Listener,
    asker: String,
    names: Arc<dyn Names>,
) -> io::Result<Server> {
    let _guard = rt.enter();
    let udp = Arc::new(tokio::net::UdpSocket::from_std(l.udp)?);
    let tcp = tokio::net::TcpListener::from_std(l.tcp)?;
    let udp_task = {
        let (asker, names) = (asker.clone(), names.clone());
        rt.spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                    return;
                };
                let query = buf[..n].to_vec();
                let (udp, asker, names) = (udp.clone(), asker.clone(), names.clone());
                tokio::spawn(async move {
                    if let Some(reply) = respond(&query, &asker, names.as_ref(), false).await {
                        let _ = udp.send_to(&reply, from).await;
                    }
                });
            }
        })
    };
    let tcp_task = rt.spawn(async move {
        loop {
            let Ok((mut conn, _)) = tcp.accept().await else {
                return;
            };
            let (asker, names) = (asker.clone(), names.clone());
            tokio::spawn(async move {
                // RFC 1035 4.2.2: each message after its two-byte length.
                loop {
                    let Ok(len) = conn.read_u16().await else {
                        return;
                    };
                    let mut query = vec![0u8; len as usize];
                    if conn.read_exact(&mut query).await.is_err() {
                        return;
                    }
                    let Some(reply) = respond(&query, &asker, names.as_ref(), true).await else {
                        return;
                    };
                    let Ok(len) = u16::try_from(reply.len()) else {
                        return;
                    };
                    if conn.write_u16(len).await.is_err() || conn.write_all(&reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(Server {
        tasks: vec![udp_task, tcp_task],
    })
}

/// The answer to one query: from the engine's names, else relayed.
async fn respond(query: &[u8], asker: &str, names: &dyn Names, tcp: bool) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    if let Some(local) = answer_locally(&request, asker, names) {
        return local.to_vec().ok();
    }
    let upstreams = names.upstreams(asker);
    for server in upstreams {
        let relayed = if tcp {
            relay_tcp(query, server).await
        } else {
            relay_udp(query, server).await
        };
        if let Some(reply) = relayed {
            return Some(reply);
        }
    }
    let mut fail = Message::response(request.metadata.id, request.metadata.op_code);
    fail.metadata.response_code = ResponseCode::ServFail;
    fail.metadata.recursion_desired = request.metadata.recursion_desired;
    fail.metadata.recursion_available = true;
    fail.add_queries(request.queries.iter().cloned());
    fail.to_vec().ok()
}

/// The engine's answer, or None to relay the query.
pub fn answer_locally(request: &Message, asker: &str, names: &dyn Names) -> Option<Message> {
    if request.metadata.message_type != MessageType::Query
        || request.metadata.op_code != OpCode::Query
    {
        return None;
    }
    let [query] = request.queries.as_slice() else {
        return None;
    };
    let qname = query.name().to_lowercase();
    let text = qname.to_ascii();
    let text = text.trim_end_matches('.');
    let mut reply = Message::response(request.metadata.id, OpCode::Query);
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_query(query.clone());
    match query.query_type() {
        RecordType::PTR => {
            let ip = ptr_address(text)?;
            let name = names.reverse(asker, ip)?;
            let target = Name::from_ascii(format!("{name}.")).ok()?;
            reply.add_answer(Record::from_rdata(
                query.name().clone(),
                TTL,
                RData::PTR(PTR(target)),
            ));
        }
        kind => {
            let addresses = names.lookup(asker, text)?;
            for ip in addresses {
                let rdata = match (kind, ip) {
                    (RecordType::A, IpAddr::V4(v4)) => RData::A(A(v4)),
                    (RecordType::AAAA, IpAddr::V6(v6)) => RData::AAAA(AAAA(v6)),
                    _ => continue,
                };
                reply.add_answer(Record::from_rdata(query.name().clone(), TTL, rdata));
            }
            // A name we know with nothing of the type asked: an empty
            // answer (NODATA), as dockerd gives for AAAA on IPv4 networks.
        }
    }
    Some(reply)
}

/// `4.3.2.1.in-addr.arpa` → 1.2.3.4 (and the ip6.arpa nibble form).
fn ptr_address(name: &str) -> Option<IpAddr> {
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
        let mut octets: Vec<u8> = rest
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        if octets.len() != 4 {
            return None;
        }
        octets.reverse();
        return Some(IpAddr::V4(Ipv4Addr::new(
            octets[0], octets[1], octets[2], octets[3],
        )));
    }
    let rest = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = rest
        .split('.')
        .map(|p| u8::from_str_radix(p, 16).ok().filter(|n| *n < 16))
        .collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, pair) in nibbles
        .iter()
        .rev()
        .collect::<Vec<_>>()
        .chunks(2)
        .enumerate()
    {
        bytes[i] = (pair[0] << 4) | pair[1];
    }
    Some(IpAddr::V6(bytes.into()))
}

async fn relay_udp(query: &[u8], server: SocketAddr) -> Option<Vec<u8>> {
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().ok()?
    } else {
        "[::]:0".parse().ok()?
    };
    let s = tokio::net::UdpSocket::bind(bind).await.ok()?;
    s.connect(server).await.ok()?;
    s.send(query).await.ok()?;
    let mut buf = vec![0u8; 65535];
    let n = tokio::time::timeout(UPSTREAM_TIMEOUT, s.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

async fn relay_tcp(query: &[u8], server: SocketAddr) -> Option<Vec<u8>> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(server).await.ok()?;
        s.write_u16(u16::try_from(query.len()).ok()?).await.ok()?;
        s.write_all(query).await.ok()?;
        let len = s.read_u16().await.ok()?;
        let mut reply = vec![0u8; len as usize];
        s.read_exact(&mut reply).await.ok()?;
        Some(reply)
    };
    tokio::time::timeout(UPSTREAM_TIMEOUT, exchange)
        .await
        .ok()
        .flatten()
}

/// The host's resolvers from a resolv.conf's text, without loopback ones
/// (they would be the container's own loopback), as dockerd filters them.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ns| ns.trim().parse::<IpAddr>().ok())
        .filter(|ip| !ip.is_loopback())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;

    struct Table;

    impl Names for Table {
        fn lookup(&self, _asker: &str, name: &str) -> Option<Vec<IpAddr>> {
            match name {
                "db" => Some(vec!["10.1.0.2".parse().unwrap()]),
                "shared" => Some(vec![
                    "10.1.0.2".parse().unwrap(),
                    "10.1.0.3".parse().unwrap(),
                ]),
                _ => None,
            }
        }
        fn reverse(&self, _asker: &str, ip: IpAddr) -> Option<String> {
            (ip.to_string() == "10.1.0.2").then(|| "db.appnet".to_string())
        }
        fn upstreams(&self, _asker: &str) -> Vec<SocketAddr> {
            Vec::new()
        }
    }

    fn ask(name: &str, kind: RecordType) -> Option<Message> {
        let mut m = Message::query();
        m.metadata.id = 7;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
        let bytes = m.to_vec().unwrap();
        answer_locally(&Message::from_vec(&bytes).unwrap(), "c", &Table)
    }

    #[test]
    fn known_names_are_answered_and_others_relayed() {
        let a = ask("db.", RecordType::A).unwrap();
        assert_eq!(a.metadata.id, 7);
        assert_eq!(a.answers.len(), 1);
        let shared = ask("SHARED", RecordType::A).unwrap();
        assert_eq!(shared.answers.len(), 2, "one answer per container");
        let v6 = ask("db", RecordType::AAAA).unwrap();
        assert!(v6.answers.is_empty(), "NODATA, not NXDOMAIN");
        assert_eq!(v6.metadata.response_code, ResponseCode::NoError);
        assert!(ask("example.org.", RecordType::A).is_none());
        let ptr = ask("2.0.1.10.in-addr.arpa.", RecordType::PTR).unwrap();
        assert_eq!(ptr.answers.len(), 1);
    }

    #[test]
    fn reverse_names_parse() {
        assert_eq!(
            ptr_address("4.3.2.1.in-addr.arpa"),
            Some("1.2.3.4".parse().unwrap())
        );
        let v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
        assert_eq!(ptr_address(v6), Some("fd00::1".parse().unwrap()));
        assert_eq!(ptr_address("x.in-addr.arpa"), None);
    }

    #[test]
    fn loopback_resolvers_are_skipped() {
        let got = upstreams_from_resolv_conf(
            "search x\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nnameserver ::1\n",
        );
        assert_eq!(got, vec!["10.255.255.53:53".parse().unwrap()]);
    }
}
