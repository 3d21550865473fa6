//! A private Linux bridge for a test's daemon, made with iproute2's `ip` and
//! removed on drop (also when the test panics).
//!
//! Why: a private dockerd must never run with `--bridge=none`, because dockerd
//! then deletes the host's `docker0` and the machine's own Docker can no longer
//! start containers. Given a bridge of its own (`--bridge=<name>`, with
//! `--iptables=false --ip-masq=false --ip-forward=false`), dockerd touches
//! nothing else on the host.
//!
//! Each bridge has a unique name, `<prefix><pid in hex>-<counter in hex>`
//! (at most 15 bytes, the kernel's limit), and the address `10.231.X.1/24`,
//! where X is derived from the pid and the counter and moved on until the
//! /24 overlaps no address and no route on the host. The choice and the
//! `ip addr add` happen under an exclusive lock on [`LOCK_PATH`], which the
//! benchmark scripts take too, so parallel tests and test binaries never get
//! the same subnet.

use std::fs::{File, OpenOptions};
use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::fcntl::{Flock, FlockArg};

use crate::env::find_tool;

/// Held while a subnet is chosen and assigned (shared with bench/*/run.sh).
pub const LOCK_PATH: &str = "/tmp/berth-bridge.lock";
/// The test subnets are `10.231.X.0/24`.
pub const SUBNET_BASE: [u8; 2] = [10, 231];
/// Linux interface names are at most 15 bytes (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

/// A bridge made for one test; `ip link del` on drop.
#[derive(Debug)]
pub struct TestBridge {
    ip: PathBuf,
    name: String,
    octet: u8,
}

impl TestBridge {
    /// Makes a bridge named `<prefix><pid hex>-<n hex>` with address
    /// `10.231.X.1/24` on a free X, and sets it up. `prefix` is 1 to 3
    /// lowercase ASCII letters. Also removes bridges of the same prefix whose
    /// process is gone (left by a test that was SIGKILLed). Needs root and
    /// `ip`; panics (removing what it made) when something fails.
    pub fn create(prefix: &str) -> TestBridge {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        assert!(
            (1..=3).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_lowercase()),
            "bridge prefix {prefix:?}: 1 to 3 lowercase letters"
        );
        let ip = find_tool("ip").expect("`ip` (iproute2) is needed to make a test bridge");
        let pid = std::process::id();
        let _lock = lock();
        reap_stale(&ip, prefix);

        // The name: a stale link of a dead process with our pid may hold it.
        let mut attempt = 0;
        let mut bridge = loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("{prefix}{pid:x}-{n:x}");
            assert!(name.len() <= IFNAME_MAX, "bridge name too long: {name}");
            let out = run(&ip, &["link", "add", &name, "type", "bridge"]);
            if out.status.success() {
                // From here on, a panic removes the link.
                break TestBridge {
                    ip: ip.clone(),
                    name,
                    octet: 0,
                };
            }
            attempt += 1;
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("exists") && attempt < 16,
                "ip link add {name} type bridge: {err}"
            );
        };

        let used = host_ipv4_networks(&ip);
        let n = bridge
            .name
            .rsplit('-')
            .next()
            .and_then(|n| u32::from_str_radix(n, 16).ok())
            .unwrap_or(0);
        let start = pid.wrapping_mul(31).wrapping_add(n.wrapping_mul(97)) % 256;
        bridge.octet = (0..256u32)
            .map(|i| ((start + i) % 256) as u8)
            .find(|&x| {
                let net = (
                    u32::from(Ipv4Addr::new(SUBNET_BASE[0], SUBNET_BASE[1], x, 0)),
                    24,
                );
                !used.iter().any(|&other| overlaps(net, other))
            })
            .unwrap_or_else(|| {
                panic!(
                    "no free /24 in {}.{}.0.0/16",
                    SUBNET_BASE[0], SUBNET_BASE[1]
                )
            });

        let addr = format!("{}/24", bridge.gateway());
        run(&ip, &["addr", "add", &addr, "dev", &bridge.name]).assert_ok();
        run(&ip, &["link", "set", &bridge.name, "up"]).assert_ok();
        bridge
    }

    /// The link's name, for `dockerd --bridge=<name>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bridge's own address, `10.231.X.1`.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(SUBNET_BASE[0], SUBNET_BASE[1], self.octet, 1)
    }

    /// Its subnet, `10.231.X.0/24`.
    pub fn subnet(&self) -> String {
        format!("{}.{}.{}.0/24", SUBNET_BASE[0], SUBNET_BASE[1], self.octet)
    }

    /// Whether `addr` lies in [`TestBridge::subnet`].
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        let o = addr.octets();
        o[..3] == [SUBNET_BASE[0], SUBNET_BASE[1], self.octet]
    }
}

impl Drop for TestBridge {
    fn drop(&mut self) {
        let out = run(&self.ip, &["link", "del", &self.name]);
        if !out.status.success() && link_exists(&self.name) {
            eprintln!(
                "berth-testkit: cannot remove bridge {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
}

/// Whether a network interface of that name exists in this process's network
/// namespace (asked with `ip link show`, over netlink: /sys/class/net shows
/// the namespace sysfs was mounted in, which may be another). Needs `ip`.
pub fn link_exists(name: &str) -> bool {
    let ip = find_tool("ip").expect("`ip` (iproute2) not found");
    !name.is_empty()
        && Command::new(ip)
            .args(["link", "show", "dev", name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// The exclusive lock on [`LOCK_PATH`], released on drop.
fn lock() -> Flock<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(LOCK_PATH)
        .unwrap_or_else(|e| panic!("opening {LOCK_PATH}: {e}"));
    Flock::lock(file, FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("locking {LOCK_PATH}: {e}"))
}

/// Removes bridges named `<prefix><pid hex>-<n hex>` whose pid is not alive.
fn reap_stale(ip: &Path, prefix: &str) {
    let out = run(ip, &["-o", "link", "show", "type", "bridge"]);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "7: bt1a2b-0: <BROADCAST,...> ..."; a name may end in "@parent".
        let Some(name) = line.split(": ").nth(1) else {
            continue;
        };
        let name = name.split('@').next().unwrap_or(name);
        let Some((pid, n)) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('-'))
        else {
            continue;
        };
        let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex(pid) || !hex(n) {
            continue;
        }
        let Ok(pid) = u32::from_str_radix(pid, 16) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("berth-testkit: removing stale test bridge {name} (pid {pid} is gone)");
            let _ = run(ip, &["link", "del", name]);
        }
    }
}

/// The IPv4 networks on the host: its addresses (`ip -o -4 addr show`) and
/// its routes in every table (`ip -4 route show table all`), as (base, prefix
/// length); the default route is left out.
fn host_ipv4_networks(ip: &Path) -> Vec<(u32, u8)> {
    let mut nets = Vec::new();
    let addrs = run(ip, &["-o", "-4", "addr", "show"]);
    for line in String::from_utf8_lossy(&addrs.stdout).lines() {
        let mut words = line.split_whitespace();
        if words.any(|w| w == "inet") {
            nets.extend(words.next().and_then(parse_net));
        }
    }
    const ROUTE_TYPES: &[&str] = &[
        "unicast",
        "local",
        "broadcast",
        "multicast",
        "anycast",
        "unreachable",
        "blackhole",
        "prohibit",
        "throw",
        "nat",
    ];
    let routes = run(ip, &["-4", "route", "show", "table", "all"]);
    for line in String::from_utf8_lossy(&routes.stdout).lines() {
        let mut words = line.split_whitespace();
        let mut dest = words.next();
        if dest.is_some_and(|w| ROUTE_TYPES.contains(&w)) {
            dest = words.next();
        }
        nets.extend(dest.filter(|&d| d != "default").and_then(parse_net));
    }
    nets
}

/// "a.b.c.d/p" or "a.b.c.d" (a /32).
fn parse_net(s: &str) -> Option<(u32, u8)> {
    let (addr, len) = s.split_once('/').unwrap_or((s, "32"));
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u8 = len.parse().ok().filter(|&l| l <= 32)?;
    Some((u32::from(addr), len))
}

/// Whether two networks share an address: equal on the shorter prefix.
fn overlaps(a: (u32, u8), b: (u32, u8)) -> bool {
    let len = a.1.min(b.1);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    a.0 & mask == b.0 & mask
}

fn run(ip: &Path, args: &[&str]) -> Output {
    Command::new(ip)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {} {args:?}: {e}", ip.display()))
}

trait AssertOk {
    fn assert_ok(&self);
}

impl AssertOk for Output {
    #[track_caller]
    fn assert_ok(&self) {
        assert!(
            self.status.success(),
            "ip failed ({}): {}",
            self.status,
            String::from_utf8_lossy(&self.stderr).trim()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_and_parse() {
        let net = |s| parse_net(s).unwrap();
        assert!(overlaps(net("10.231.5.0/24"), net("10.231.5.1")));
        assert!(overlaps(net("10.231.5.0/24"), net("10.0.0.0/8")));
        assert!(!overlaps(net("10.231.5.0/24"), net("10.231.6.0/24")));
        assert!(!overlaps(net("10.231.5.0/24"), net("192.0.2.2/24")));
        assert!(overlaps(net("10.231.5.0/24"), net("0.0.0.0/0")));
        assert_eq!(parse_net("default"), None);
        assert_eq!(parse_net("10.0.0.0/33"), None);
    }
}
