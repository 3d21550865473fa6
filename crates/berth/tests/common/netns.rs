//! A scratch "host" for network tests: a network namespace of its own,
//! with loopback up and an uplink (a bridge `uplink0`, 198.18.0.1/24) to a
//! second namespace, the "outside" (198.18.0.2, the host's default route),
//! from which other hosts' traffic comes. A berth daemon started in it
//! ([`super::engine::BerthDaemon::start_in`]) makes its bridges and rules
//! there, so the real host is never touched; everything goes when the last
//! process in it exits and the files here close.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;

use berth_net::bridge::{self, Bridge};
use berth_net::endpoint::{self, Endpoint, mac_for};
use berth_net::nl::{Netlink, link_up};
use nix::sched::{CloneFlags, setns, unshare};

pub const HOST_IP: &str = "198.18.0.1";
pub const OUTSIDE_IP: &str = "198.18.0.2";

pub struct ScratchNet {
    host: File,
    outside: File,
}

/// A new network namespace, held by the returned file.
fn new_namespace() -> File {
    std::thread::spawn(|| {
        unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        File::open("/proc/thread-self/ns/net").unwrap()
    })
    .join()
    .unwrap()
}

impl ScratchNet {
    pub fn new() -> ScratchNet {
        let net = ScratchNet {
            host: new_namespace(),
            outside: new_namespace(),
        };
        let outside = &net.outside;
        net.run(|| {
            let mut nl = Netlink::open().unwrap();
            nl.apply(vec![link_up("lo")]).unwrap();
            let b = Bridge {
                name: "uplink0".into(),
                alias: "test uplink".into(),
                gateway: format!("{HOST_IP}/24").parse().unwrap(),
                mtu: 1500,
            };
            let index = bridge::ensure(&mut nl, &b).unwrap();
            let ip = OUTSIDE_IP.parse().unwrap();
            endpoint::plumb(
                &mut nl,
                outside,
                &Endpoint {
                    host_name: "vethout".into(),
                    name: "eth0".into(),
                    bridge_index: index,
                    mtu: 1500,
                    mac: mac_for(ip),
                    addresses: vec![format!("{OUTSIDE_IP}/24").parse().unwrap()],
                    gateways: vec![HOST_IP.parse().unwrap()],
                },
            )
            .unwrap();
        });
        // The host's default route leaves by the uplink, as on a machine.
        let st = Command::new("nsenter")
            .arg(format!("--net={}", net.path()))
            .args(["ip", "route", "add", "default", "via", OUTSIDE_IP])
            .status()
            .unwrap();
        assert!(st.success(), "default route in the scratch namespace");
        net
    }

    /// `/proc/<pid>/fd/<n>`: for `nsenter --net=`.
    pub fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.host.as_raw_fd())
    }

    /// Runs `f` on a thread inside the scratch host.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                setns(&self.host, CloneFlags::CLONE_NEWNET).unwrap();
                f()
            })
            .join()
            .unwrap()
        })
    }

    /// Runs `f` on a thread in the outside namespace (another host).
    pub fn outside<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                setns(&self.outside, CloneFlags::CLONE_NEWNET).unwrap();
                f()
            })
            .join()
            .unwrap()
        })
    }

    /// A command run inside the scratch host (`nft`, `ip`, `iptables`).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path())).arg(program);
        c
    }
}
