//! Shared by the root tests: the skip rule, scratch namespaces, a small
//! topology of bridges and containers, and TCP probes. Every test runs on a
//! thread that has left the host's network namespace, so nothing it makes
//! (links, nftables, iptables) touches the host.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use berth_net::bridge::{self, Bridge};
use berth_net::endpoint::{self, Endpoint, mac_for};
use berth_net::nl::{Netlink, link_up};
use ipnet::IpNet;
use nix::sched::{CloneFlags, setns, unshare};

pub fn root() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "CI=true: run as root");
    eprintln!("skipping: needs root");
    false
}

/// Runs `f` on a thread in a new network namespace with lo up: the
/// test's "host".
pub fn in_scratch(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(|| {
        unshare(CloneFlags::CLONE_NEWNET).unwrap();
        Netlink::open().unwrap().apply(vec![link_up("lo")]).unwrap();
        f()
    })
    .join()
    .unwrap();
}

/// A new network namespace, held by the returned file (no thread keeps it).
pub fn scratch_namespace() -> File {
    std::thread::spawn(|| {
        unshare(CloneFlags::CLONE_NEWNET).unwrap();
        File::open("/proc/thread-self/ns/net").unwrap()
    })
    .join()
    .unwrap()
}

/// A bridge with its gateway (`10.77.1.1/24`); returns its index.
pub fn bridge(nl: &mut Netlink, name: &str, gateway: &str) -> u32 {
    bridge::ensure(
        nl,
        &Bridge {
            name: name.into(),
            alias: format!("berth:{name}"),
            gateway: gateway.parse().unwrap(),
            mtu: 1500,
        },
    )
    .unwrap()
}

/// A "container": a namespace with eth0 at `address` (`10.77.1.2/24`) on
/// the bridge, default route via `gateway`.
pub fn container(
    nl: &mut Netlink,
    bridge_index: u32,
    veth: &str,
    address: &str,
    gateway: &str,
) -> File {
    let ns = scratch_namespace();
    let address: IpNet = address.parse().unwrap();
    endpoint::plumb(
        nl,
        &ns,
        &Endpoint {
            host_name: veth.into(),
            name: "eth0".into(),
            bridge_index,
            mtu: 1500,
            mac: mac_for(address.addr()),
            addresses: vec![address],
            gateways: vec![gateway.parse().unwrap()],
        },
    )
    .unwrap();
    ns
}

/// A TCP server inside `ns` on `addr` that answers every connection with
/// the address it came from, and keeps serving (the thread outlives the
/// test; the namespace goes with the process).
pub fn serve_peer_address(ns: &File, addr: &str) {
    let listener = in_namespace(ns, {
        let addr = addr.to_string();
        move || TcpListener::bind(addr).unwrap()
    });
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let peer = c.peer_addr().unwrap().ip().to_string();
            let _ = c.write_all(peer.as_bytes());
        }
    });
}

/// Connects from `ns` (None: the calling thread's namespace) and returns
/// what the server said: the address it saw us come from.
pub fn ask(ns: Option<&File>, to: &str) -> std::io::Result<IpAddr> {
    let to: SocketAddr = to.parse().unwrap();
    let go = move || -> std::io::Result<IpAddr> {
        let mut c = TcpStream::connect_timeout(&to, Duration::from_millis(1500))?;
        c.set_read_timeout(Some(Duration::from_secs(3)))?;
        let mut s = String::new();
        c.read_to_string(&mut s)?;
        s.parse()
            .map_err(|_| std::io::Error::other(format!("server said {s:?}")))
    };
    match ns {
        None => go(),
        Some(ns) => in_namespace(ns, go),
    }
}

/// Runs `f` on a thread that has entered `ns`.
pub fn in_namespace<T: Send>(ns: &File, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(ns, CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
        .join()
        .unwrap()
    })
}

/// Runs a program in the calling thread's namespace; its stdout, or the
/// failure with stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
