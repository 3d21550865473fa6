//! Networks for real: a berth daemon in a scratch network namespace (a
//! "host" with an uplink to an "outside" host, common/netns.rs) makes its
//! bridges, veths and nftables rules there; the tests reach containers from
//! that host's loopback and address, from the outside, and from other
//! containers, and read the rules back with `nft`. The real host is never
//! touched. Needs root (CI=true: fails without it rather than skip).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use berth_testkit::OutputExt;
use common::engine::{Engine, eventually};
use common::netns::{HOST_IP, ScratchNet};
use serde_json::Value;

/// An HTTP GET of `/` from the calling thread's namespace; the body.
fn http_get(addr: &str) -> Option<String> {
    let addr: SocketAddr = addr.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

/// A UDP request and its answer, from the calling thread's namespace.
fn udp_ask(addr: &str, msg: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut buf = [0u8; 512];
    for _ in 0..3 {
        s.send_to(msg, addr).ok()?;
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            return Some(buf[..n].to_vec());
        }
    }
    None
}

struct Net {
    e: Engine,
    net: ScratchNet,
}

impl Net {
    fn new() -> Option<Net> {
        let net = ScratchNet::new();
        let e = Engine::berth_daemon_in_netns(&net)?;
        Some(Net { e, net })
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.e.berth(args);
        assert!(out.status.success(), "berth {args:?}: {}", out.stderr_str());
        out.stdout_str().trim().to_string()
    }

    fn fails(&self, args: &[&str], says: &str) -> String {
        let out = self.e.berth(args);
        assert!(!out.status.success(), "berth {args:?} succeeded");
        let err = out.stderr_str();
        assert!(err.contains(says), "berth {args:?}: {err}");
        err
    }

    fn inspect(&self, what: &str) -> Value {
        let raw = self.ok(&["inspect", what]);
        let v: Value = serde_json::from_str(&raw).unwrap();
        v[0].clone()
    }

    /// A busybox web server answering its name, detached.
    fn web(&self, name: &str, extra: &[&str]) -> String {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(extra);
        let script = format!(
            "mkdir -p /www && echo {name} > /www/index.html && exec httpd -f -p 80 -h /www"
        );
        args.extend_from_slice(&[&self.e.image, "sh", "-c"]);
        let mut args: Vec<String> = args.into_iter().map(str::to_string).collect();
        args.push(script);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ok(&refs)
    }

    /// The berth table's rules, as nft lists them, without handles.
    fn rules(&self) -> String {
        let out = self
            .net
            .command("nft")
            .args(["list", "ruleset"])
            .output()
            .unwrap();
        assert!(out.status.success(), "nft: {}", out.stderr_str());
        out.stdout_str()
    }
}

fn ip_of(v: &Value, network: &str) -> String {
    v["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn network_objects_as_dockerd_shows_them() {
    let Some(t) = Net::new() else { return };
    let ls = t.ok(&[
        "network",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
    ]);
    assert_eq!(ls, "bridge bridge local\nhost host local\nnone null local");

    let id = t.ok(&[
        "network",
        "create",
        "--subnet",
        "10.201.0.0/24",
        "--ip-range",
        "10.201.0.128/25",
        "--gateway",
        "10.201.0.254",
        "--label",
        "team=a",
        "appnet",
    ]);
    assert_eq!(id.len(), 64, "{id}");
    let n = t.inspect("appnet");
    let n: Value = if n.is_null() {
        serde_json::from_str::<Value>(&t.ok(&["network", "inspect", "appnet"])).unwrap()[0].clone()
    } else {
        n
    };
    assert_eq!(n["Id"], id.as_str());
    assert_eq!(n["Driver"], "bridge");
    assert_eq!(
        n["IPAM"]["Config"],
        serde_json::json!([{"Subnet": "10.201.0.0/24", "IPRange": "10.201.0.128/25", "Gateway": "10.201.0.254"}])
    );
    assert_eq!(n["Labels"]["team"], "a");
    // Its bridge is up with the gateway's address, in the scratch host.
    let br = format!("br-{}", &id[..12]);
    let addr = t
        .net
        .command("ip")
        .args(["-o", "addr", "show", "dev", &br])
        .output()
        .unwrap();
    assert!(
        addr.stdout_str().contains("10.201.0.254/24"),
        "{}",
        addr.stdout_str()
    );

    // A container there gets the first address of the range.
    let c = t.ok(&[
        "run",
        "-d",
        "--network",
        "appnet",
        &t.e.image,
        "sleep",
        "60",
    ]);
    let v = t.inspect(&c);
    assert_eq!(ip_of(&v, "appnet"), "10.201.0.128");
    assert_eq!(
        v["NetworkSettings"]["Networks"]["appnet"]["Gateway"],
        "10.201.0.254"
    );
    assert_eq!(
        v["NetworkSettings"]["Networks"]["appnet"]["MacAddress"],
        "02:42:0a:c9:00:80"
    );
    let n: Value =
        serde_json::from_str::<Value>(&t.ok(&["network", "inspect", "appnet"])).unwrap()[0].clone();
    assert_eq!(n["Containers"][&c]["IPv4Address"], "10.201.0.128/24");
    // Inside: eth0 with the address, the default route by the gateway.
    let inside = t.ok(&["exec", &c, "sh", "-c", "ip -o -4 addr show eth0; ip route"]);
    assert!(inside.contains("10.201.0.128/24"), "{inside}");
    assert!(inside.contains("default via 10.201.0.254"), "{inside}");

    // Bad input: named errors, nothing made.
    t.fails(
        &["network", "create", "--subnet", "10.201.0.0/16", "other"],
        "Pool overlaps with other one on this address space",
    );
    t.fails(
        &["network", "create", "appnet"],
        "network with name appnet already exists",
    );
    // Another kind of link of that name is never taken over.
    t.fails(
        &[
            "network",
            "create",
            "-o",
            "com.docker.network.bridge.name=vethout",
            "steal2",
        ],
        "exists and is not a bridge",
    );
    let up = t
        .net
        .command("ip")
        .args(["-o", "addr", "show", "dev", "vethout"])
        .output()
        .unwrap();
    assert!(
        !up.stdout_str().contains("inet 172."),
        "{}",
        up.stdout_str()
    );
    t.fails(
        &["network", "create", "--subnet", "nonsense", "bad"],
        "invalid CIDR address: nonsense",
    );
    t.fails(
        &[
            "network",
            "create",
            "--subnet",
            "10.9.0.0/24",
            "--gateway",
            "10.8.0.1",
            "bad",
        ],
        "no matching subnet for gateway 10.8.0.1",
    );
    t.fails(
        &["network", "rm", "bridge"],
        "bridge is a pre-defined network and cannot be removed",
    );
    t.fails(&["network", "rm", "appnet"], "has active endpoints");
    t.fails(&["network", "inspect", "nope"], "network nope not found");
    t.fails(
        &["run", "--rm", "--network", "nope", &t.e.image, "true"],
        "network nope not found",
    );
    t.fails(
        &[
            "run",
            "--rm",
            "--ip",
            "10.99.0.1",
            "--network",
            "appnet",
            &t.e.image,
            "true",
        ],
        "It does not belong to any of this network's subnets",
    );
    t.fails(
        &["run", "--rm", "--ip", "172.17.0.9", &t.e.image, "true"],
        "user specified IP address is supported on user defined networks only",
    );
    t.fails(
        &["run", "--rm", "--network-alias", "x", &t.e.image, "true"],
        "network-scoped aliases are only supported for user-defined networks",
    );
    t.fails(
        &["run", "--rm", "-p", "abc:80", &t.e.image, "true"],
        "invalid",
    );
    let names = t.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(names.lines().count(), 4, "{names}");

    // Removal: the bridge goes with the network.
    t.ok(&["rm", "-f", &c]);
    t.ok(&["network", "rm", "appnet"]);
    let table = t.rules();
    assert!(
        !table.contains(&br),
        "the network's rules go with it: {table}"
    );
    let links = t.net.command("ip").args(["-o", "link"]).output().unwrap();
    assert!(!links.stdout_str().contains(&br), "{}", links.stdout_str());
    t.ok(&["network", "create", "spare"]);
    let pruned = t.ok(&["network", "prune", "-f"]);
    assert_eq!(pruned, "Deleted Networks:\nspare");
}

#[test]
fn published_ports_reach_the_container_from_everywhere() {
    let Some(t) = Net::new() else { return };
    let web = t.web(
        "web",
        &[
            "-p",
            "8080:80",
            "-p",
            "127.0.0.1:8081:80",
            "-p",
            "9000-9001:80-81",
            "-p",
            "80",
        ],
    );
    let v = t.inspect(&web);
    let ports = &v["NetworkSettings"]["Ports"];
    assert_eq!(ports["80/tcp"][0]["HostPort"], "8080");
    assert_eq!(ports["80/tcp"][0]["HostIp"], "0.0.0.0");
    let chosen = ports["80/tcp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["HostPort"].as_str().unwrap().to_string())
        .find(|p| !["8080", "8081", "9000"].contains(&p.as_str()))
        .expect("a port chosen for -p 80");
    let port = t.ok(&["port", &web, "80"]);
    assert!(port.contains("0.0.0.0:8080"), "{port}");
    // -P: every exposed port on a port of the ephemeral range.
    let all = t.web("all", &["--expose", "80", "-P"]);
    let p = t.inspect(&all)["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
        .as_str()
        .unwrap()
        .parse::<u16>()
        .unwrap();
    assert!(p >= 1024, "{p}");
    let ready = |addr: String, body: &str| {
        eventually(Duration::from_secs(10), || {
            t.net.run(|| http_get(&addr)).as_deref() == Some(body)
        })
    };
    assert!(ready(format!("127.0.0.1:{p}"), "all\n"));
    assert!(ready("127.0.0.1:8080".into(), "web\n"));

    let host = |p: &str| format!("{HOST_IP}:{p}");
    let got = t.net.run(|| {
        [
            http_get("127.0.0.1:8080"),
            http_get("127.0.0.1:8081"),
            http_get(&host("8080")),
            http_get(&host("9000")),
            http_get(&format!("127.0.0.1:{chosen}")),
        ]
    });
    for g in &got {
        assert_eq!(g.as_deref(), Some("web\n"), "{got:?}");
    }
    // From another host: the published port, not the loopback-only one.
    let outside = t
        .net
        .outside(|| (http_get(&host("8080")), http_get(&host("8081"))));
    assert_eq!(outside.0.as_deref(), Some("web\n"));
    assert_eq!(
        outside.1, None,
        "127.0.0.1:8081 is not reachable from outside"
    );

    // Hairpin: a neighbour, and the container itself, through the host port.
    let neighbour = t.ok(&[
        "run",
        "--rm",
        &t.e.image,
        "wget",
        "-qO-",
        &format!("http://{HOST_IP}:8080/index.html"),
    ]);
    assert_eq!(neighbour, "web");
    let own = t.ok(&[
        "exec",
        &web,
        "wget",
        "-qO-",
        &format!("http://{HOST_IP}:8080/index.html"),
    ]);
    assert_eq!(own, "web");

    // A port taken by berth: refused, naming it; nothing left behind.
    let links_before = t
        .net
        .command("ip")
        .args(["-o", "link"])
        .output()
        .unwrap()
        .stdout_str();
    let rules_before = strip_handles(&t.rules());
    t.fails(
        &["run", "-d", "-p", "8080:80", &t.e.image, "sleep", "5"],
        "port is already allocated",
    );
    // Taken by someone else.
    let holder = t
        .net
        .run(|| std::net::TcpListener::bind("0.0.0.0:8090").unwrap());
    t.fails(
        &["run", "-d", "-p", "8090:80", &t.e.image, "sleep", "5"],
        "port is already allocated",
    );
    drop(holder);
    let links_after = t
        .net
        .command("ip")
        .args(["-o", "link"])
        .output()
        .unwrap()
        .stdout_str();
    assert_eq!(
        links_after.lines().count(),
        links_before.lines().count(),
        "{links_after}"
    );
    assert_eq!(strip_handles(&t.rules()), rules_before);

    // Rules go with the container.
    assert!(t.rules().contains("dport 8080"), "{}", t.rules());
    t.ok(&["rm", "-f", &web]);
    assert!(
        eventually(Duration::from_secs(5), || !t.rules().contains("dport 8080")),
        "{}",
        t.rules()
    );
    assert_eq!(t.net.run(|| http_get("127.0.0.1:8080")), None);
}

#[test]
fn udp_is_published_too() {
    let Some(t) = Net::new() else { return };
    // An echo server: the host's Python, run from its /usr in the container.
    let echo = "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',53))\nwhile True:\n d,a=s.recvfrom(512)\n s.sendto(b'echo:'+d,a)\n";
    let loader = [
        "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "/usr/lib64/ld-linux-x86-64.so.2",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists());
    let Some(loader) = loader else {
        eprintln!("skipping: no x86-64 loader for the host's python3");
        return;
    };
    t.ok(&[
        "run",
        "-d",
        "--name",
        "udp",
        "-v",
        "/usr:/usr:ro",
        "-p",
        "5353:53/udp",
        &t.e.image,
        loader,
        "/usr/bin/python3",
        "-c",
        echo,
    ]);
    let got = t.net.run(|| {
        let mut answer = None;
        eventually(Duration::from_secs(10), || {
            answer = udp_ask("127.0.0.1:5353", b"hi");
            answer.is_some()
        });
        answer
    });
    assert_eq!(got.as_deref(), Some(&b"echo:hi"[..]));
    let outside = t
        .net
        .outside(|| udp_ask(&format!("{HOST_IP}:5353"), b"out"));
    assert_eq!(outside.as_deref(), Some(&b"echo:out"[..]));
}

#[test]
fn networks_are_isolated_and_a_container_on_both_reaches_each() {
    let Some(t) = Net::new() else { return };
    t.ok(&["network", "create", "--subnet", "10.210.0.0/24", "red"]);
    t.ok(&["network", "create", "--subnet", "10.211.0.0/24", "blue"]);
    let r = t.web("r", &["--network", "red"]);
    let b = t.web("b", &["--network", "blue"]);
    let (rip, bip) = (ip_of(&t.inspect(&r), "red"), ip_of(&t.inspect(&b), "blue"));
    let get = |net: &str, url_ip: &str| {
        t.e.berth(&[
            // Not as pid 1, which a timeout's signal cannot stop.
            "run",
            "--rm",
            "--network",
            net,
            &t.e.image,
            "sh",
            "-c",
            &format!("timeout 3 wget -qO- http://{url_ip}/index.html; exit $?"),
        ])
    };
    let reached = |net: &str, ip: &str, who: &str| {
        eventually(Duration::from_secs(10), || {
            get(net, ip).stdout_str().trim() == who
        })
    };
    assert!(reached("red", &rip, "r"), "red could not reach its own");
    assert!(reached("blue", &bip, "b"), "blue could not reach its own");
    assert!(!get("red", &bip).status.success(), "red reached blue");
    assert!(!get("blue", &rip).status.success(), "blue reached red");
    // On both: connect a running container, it reaches each.
    let both = t.ok(&["run", "-d", "--network", "red", &t.e.image, "sleep", "60"]);
    t.ok(&["network", "connect", "blue", &both]);
    let v = t.inspect(&both);
    assert!(!ip_of(&v, "blue").is_empty(), "{v}");
    for (ip, who) in [(&rip, "r"), (&bip, "b")] {
        let got = t.ok(&[
            "exec",
            &both,
            "timeout",
            "3",
            "wget",
            "-qO-",
            &format!("http://{ip}/index.html"),
        ]);
        assert_eq!(got, who);
    }
    t.ok(&["network", "disconnect", "blue", &both]);
    let after = t.e.berth(&[
        "exec",
        &both,
        "timeout",
        "3",
        "wget",
        "-qO-",
        &format!("http://{bip}/index.html"),
    ]);
    assert!(!after.status.success(), "still on blue after disconnect");
    assert!(ip_of(&t.inspect(&both), "blue").is_empty());

    // --internal: no way out, but its members reach each other.
    t.ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.212.0.0/24",
        "inner",
    ]);
    let i = t.web("i", &["--network", "inner"]);
    let iip = ip_of(&t.inspect(&i), "inner");
    assert!(reached("inner", &iip, "i"), "inner could not reach its own");
    let out = t.e.berth(&[
        "run",
        "--rm",
        "--network",
        "inner",
        &t.e.image,
        "sh",
        "-c",
        &format!("timeout 3 wget -qO- http://{HOST_IP}:1/; exit $?"),
    ]);
    assert!(!out.status.success());
    let routes = t.ok(&[
        "run",
        "--rm",
        "--network",
        "inner",
        &t.e.image,
        "ip",
        "route",
    ]);
    // As on dockerd, the default route is there; it leads nowhere.
    assert!(routes.contains("default via 10.212.0.1"), "{routes}");
}

#[test]
fn host_none_and_outbound_nat() {
    let Some(t) = Net::new() else { return };
    // As dockerd leaves a host: iptables' FORWARD policy DROP, and a chain
    // of its own. berth's traffic must still flow, and theirs stay as it is.
    for args in [
        &["-P", "FORWARD", "DROP"][..],
        &["-N", "DOCKER-USER"],
        &["-A", "FORWARD", "-j", "DOCKER-USER"],
    ] {
        let st = t.net.command("iptables").args(args).status().unwrap();
        assert!(st.success(), "iptables {args:?}");
    }
    let none = t.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &t.e.image,
        "ip",
        "-o",
        "link",
    ]);
    assert_eq!(none.lines().count(), 1, "only lo: {none}");
    assert!(
        none.contains("lo:") && none.contains(",UP"),
        "lo is up: {none}"
    );
    t.fails(
        &[
            "run",
            "--rm",
            "--network",
            "host",
            "--network",
            "bridge",
            &t.e.image,
            "true",
        ],
        "one of the networks in private (host) mode",
    );
    let host = t.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        &t.e.image,
        "ip",
        "-o",
        "-4",
        "addr",
    ]);
    assert!(host.contains(HOST_IP), "{host}");
    // Outbound: the outside sees the host's address (masquerade), and
    // has no route back to the bridge.
    let server = t
        .net
        .outside(|| std::net::TcpListener::bind("0.0.0.0:7000").unwrap());
    let accept = std::thread::spawn(move || server.accept().map(|(_, a)| a.ip().to_string()));
    let c = t.e.berth(&[
        "run",
        "--rm",
        &t.e.image,
        "sh",
        "-c",
        &format!("echo hi | nc -w 3 {} 7000", common::netns::OUTSIDE_IP),
    ]);
    assert!(c.status.success(), "{}", c.stderr_str());
    assert_eq!(accept.join().unwrap().unwrap(), HOST_IP);
    let theirs = t
        .net
        .command("iptables")
        .arg("-S")
        .output()
        .unwrap()
        .stdout_str();
    assert!(theirs.contains("-P FORWARD DROP"), "{theirs}");
    assert!(theirs.contains("-A FORWARD -j DOCKER-USER"), "{theirs}");
    assert!(theirs.contains("-A FORWARD -j BERTH-FORWARD"), "{theirs}");
}

#[test]
fn exactly_the_needed_rules_come_back_after_a_daemon_sigkill() {
    let Some(mut t) = Net::new() else { return };
    t.ok(&["network", "create", "--subnet", "10.220.0.0/24", "keep"]);
    let kept = t.web("kept", &["--network", "keep", "-p", "8080:80"]);
    let gone = t.web("gone", &["-p", "8082:80"]);
    let before = t.rules();
    assert!(before.contains("dport 8082"), "{before}");
    let pid = t.inspect_pid_unchecked(&gone);
    t.e.berth_daemon().kill9();
    // While the daemon is down, one container dies.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    t.e.berth_daemon().restart();
    let after = t.rules();
    assert!(after.contains("dport 8080"), "{after}");
    assert!(
        eventually(Duration::from_secs(5), || !t.rules().contains("dport 8082")),
        "{}",
        t.rules()
    );
    assert_eq!(
        t.net.run(|| http_get("127.0.0.1:8080")).as_deref(),
        Some("kept\n")
    );
    // Its DNS server came back too (new sockets, the redirect replaced).
    let kept_ip = ip_of(&t.inspect(&kept), "keep");
    assert_eq!(resolve(&t, &kept, "kept"), vec![kept_ip]);
    // A restart with nothing changed gives the same table, rule for rule.
    let steady = t.rules();
    t.e.berth_daemon().kill9();
    t.e.berth_daemon().restart();
    assert_eq!(strip_handles(&t.rules()), strip_handles(&steady));
    t.ok(&["rm", "-f", &kept]);
}

fn strip_handles(s: &str) -> String {
    s.lines()
        .map(|l| l.split(" # handle").next().unwrap_or(l).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

impl Net {
    /// The container's pid, read before the daemon is killed.
    fn inspect_pid_unchecked(&self, id: &str) -> i32 {
        self.inspect(id)["State"]["Pid"].as_i64().unwrap() as i32
    }
}

/// The seed's scenario: a database and a web app on one network, the app
/// reaching the database by its name, the app published on the host.
#[test]
fn web_reaches_db_by_name_and_the_host_reaches_web() {
    let Some(t) = Net::new() else { return };
    t.ok(&["network", "create", "appnet"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "appnet",
        &t.e.image,
        "sh",
        "-c",
        "mkdir -p /srv && echo rows-from-db > /srv/index.html && exec httpd -f -p 5432 -h /srv",
    ]);
    // The app serves what it fetched from http://db:5432.
    t.ok(&[
        "run", "-d", "--name", "web", "--network", "appnet", "-p", "8080:80", &t.e.image, "sh",
        "-c",
        "mkdir -p /www; (while true; do wget -qO /www/new http://db:5432/index.html && mv /www/new /www/index.html; sleep 0.2; done) & exec httpd -f -p 80 -h /www",
    ]);
    let from = |addr: String| {
        let mut got = None;
        eventually(Duration::from_secs(15), || {
            got = t.net.run(|| http_get(&addr));
            got.as_deref() == Some("rows-from-db\n")
        });
        got
    };
    assert_eq!(
        from("127.0.0.1:8080".into()).as_deref(),
        Some("rows-from-db\n")
    );
    assert_eq!(
        from(format!("{HOST_IP}:8080")).as_deref(),
        Some("rows-from-db\n")
    );
    let resolv = t.ok(&["exec", "web", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 127.0.0.11"), "{resolv}");
    assert!(resolv.contains("options ndots:0"), "{resolv}");
}

/// Looks `name` up from inside a container; the addresses answered.
fn resolve(t: &Net, container: &str, name: &str) -> Vec<String> {
    let out = t.e.berth(&["exec", container, "nslookup", name]);
    let text = out.stdout_str();
    let mut ips: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("Name:"))
        .filter_map(|l| l.strip_prefix("Address:"))
        .map(|a| a.trim().to_string())
        .collect();
    ips.sort();
    ips
}

#[test]
fn names_aliases_and_connect_change_what_resolves() {
    let Some(t) = Net::new() else { return };
    t.ok(&["network", "create", "--subnet", "10.230.0.0/24", "names"]);
    t.ok(&["network", "create", "--subnet", "10.231.0.0/24", "other"]);
    let ask = t.ok(&[
        "run",
        "-d",
        "--name",
        "asker",
        "--network",
        "names",
        &t.e.image,
        "sleep",
        "120",
    ]);
    let a = t.ok(&[
        "run",
        "-d",
        "--name",
        "a",
        "--network",
        "names",
        "--network-alias",
        "shared",
        &t.e.image,
        "sleep",
        "120",
    ]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "b",
        "--network",
        "names",
        "--network-alias",
        "shared",
        &t.e.image,
        "sleep",
        "120",
    ]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "elsewhere",
        "--network",
        "other",
        &t.e.image,
        "sleep",
        "120",
    ]);
    let a_ip = ip_of(&t.inspect("a"), "names");
    let b_ip = ip_of(&t.inspect("b"), "names");
    assert_eq!(resolve(&t, &ask, "a"), vec![a_ip.clone()]);
    let mut both = vec![a_ip.clone(), b_ip.clone()];
    both.sort();
    assert_eq!(
        resolve(&t, &ask, "shared"),
        both,
        "one answer per container"
    );
    assert_eq!(
        resolve(&t, &ask, &a[..12]),
        vec![a_ip.clone()],
        "the short id"
    );
    assert_eq!(resolve(&t, &ask, "a.names"), vec![a_ip.clone()]);
    assert!(
        resolve(&t, &ask, "elsewhere").is_empty(),
        "another network's name"
    );
    let v = t.inspect("a");
    assert_eq!(
        v["NetworkSettings"]["Networks"]["names"]["DNSNames"],
        serde_json::json!(["a", "shared", &a[..12]])
    );

    // Disconnect b: its names go; connect elsewhere with an alias: it comes.
    t.ok(&["network", "disconnect", "names", "b"]);
    assert_eq!(resolve(&t, &ask, "shared"), vec![a_ip.clone()]);
    t.ok(&[
        "network",
        "connect",
        "--alias",
        "late",
        "names",
        "elsewhere",
    ]);
    let late = ip_of(&t.inspect("elsewhere"), "names");
    assert_eq!(resolve(&t, &ask, "late"), vec![late.clone()]);
    assert_eq!(resolve(&t, &ask, "elsewhere"), vec![late]);
    // A stopped container answers no more.
    t.ok(&["stop", "-t", "0", "a"]);
    assert!(resolve(&t, &ask, "a").is_empty());

    // Other names go to the container's --dns servers: a resolver on the
    // outside host answers 203.0.113.7 for anything.
    let upstream = t.net.outside(|| UdpSocket::bind("0.0.0.0:53").unwrap());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            upstream
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let mut buf = [0u8; 512];
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok((n, from)) = upstream.recv_from(&mut buf) else {
                    continue;
                };
                let mut reply = buf[..n].to_vec();
                reply[2] = 0x81;
                reply[3] = 0x80;
                let is_a = n > 4 && buf[n - 4..n - 2] == [0, 1];
                if is_a {
                    reply[7] = 1;
                    reply.extend_from_slice(&[
                        0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 7,
                    ]);
                }
                let _ = upstream.send_to(&reply, from);
            }
        })
    };
    let outside = t.ok(&[
        "run",
        "-d",
        "--name",
        "fwd",
        "--network",
        "names",
        "--dns",
        common::netns::OUTSIDE_IP,
        &t.e.image,
        "sleep",
        "60",
    ]);
    assert_eq!(
        resolve(&t, &outside, "example.org"),
        vec!["203.0.113.7".to_string()]
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    server.join().unwrap();
}

#[test]
fn container_mode_hosts_and_names() {
    let Some(t) = Net::new() else { return };
    let owner = t.web(
        "owner",
        &["--hostname", "h1", "--domainname", "example.org"],
    );
    let ip = ip_of(&t.inspect(&owner), "bridge");
    // /etc/hosts: its address with its full name; --add-host host-gateway
    // is the default bridge's gateway.
    let hosts = t.ok(&["exec", &owner, "cat", "/etc/hosts"]);
    assert!(
        hosts.contains(&format!("{ip}\th1.example.org h1")),
        "{hosts}"
    );
    let gw = t.inspect(&owner)["NetworkSettings"]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    let added = t.ok(&[
        "run",
        "--rm",
        "--add-host",
        "gw:host-gateway",
        "--add-host",
        "db=10.0.0.9",
        &t.e.image,
        "cat",
        "/etc/hosts",
    ]);
    assert!(added.contains(&format!("{gw}\tgw")), "{added}");
    assert!(added.contains("10.0.0.9\tdb"), "{added}");

    // container:<owner>: its namespace (its address, its server on
    // localhost), its hostname, no networks of its own.
    let joined = t.ok(&[
        "run",
        "--rm",
        "--network",
        "container:owner",
        &t.e.image,
        "sh",
        "-c",
        "hostname; ip -o -4 addr show eth0; wget -qO- http://127.0.0.1/index.html",
    ]);
    assert!(joined.starts_with("h1\n"), "{joined}");
    assert!(joined.contains(&ip), "{joined}");
    assert!(joined.ends_with("owner"), "{joined}");
    let c = t.ok(&["create", "--network", "container:owner", &t.e.image, "true"]);
    let v = t.inspect(&c);
    assert_eq!(v["NetworkSettings"]["Networks"], serde_json::json!({}));
    t.fails(
        &[
            "run",
            "--rm",
            "--network",
            "container:nope",
            &t.e.image,
            "true",
        ],
        "No such container: nope",
    );
    t.fails(
        &[
            "run",
            "--rm",
            "--network",
            "container:owner",
            "-p",
            "81:81",
            &t.e.image,
            "true",
        ],
        "conflicting options: port publishing",
    );
    t.ok(&["stop", "-t", "0", "owner"]);
    t.fails(
        &["start", &c],
        "cannot join network of a non running container",
    );
}

#[test]
fn ipv6_networks() {
    let Some(t) = Net::new() else { return };
    t.fails(
        &["network", "create", "--ipv6", "nov6pool"],
        "non-overlapping IPv6 address pool",
    );
    t.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.240.0.0/24",
        "--subnet",
        "fd00:b::/64",
        "dual",
    ]);
    let c = t.web("six", &["--network", "dual", "--ip6", "fd00:b::42"]);
    let ep = t.inspect(&c)["NetworkSettings"]["Networks"]["dual"].clone();
    assert_eq!(ep["GlobalIPv6Address"], "fd00:b::42");
    assert_eq!(ep["GlobalIPv6PrefixLen"], 64);
    assert_eq!(ep["IPv6Gateway"], "fd00:b::1");
    let got = t.ok(&[
        "run",
        "--rm",
        "--network",
        "dual",
        &t.e.image,
        "sh",
        "-c",
        "wget -qO- 'http://[fd00:b::42]/index.html'",
    ]);
    assert_eq!(got, "six");
    t.fails(
        &["run", "--rm", "--ip6", "fd00:c::1", &t.e.image, "true"],
        "user specified IP address is supported on user defined networks only",
    );
    t.ok(&["network", "create", "--subnet", "10.241.0.0/24", "v4only"]);
    t.fails(
        &[
            "run",
            "--rm",
            "--network",
            "v4only",
            "--ip6",
            "fd00:b::9",
            &t.e.image,
            "true",
        ],
        "has no IPv6",
    );
}

#[test]
fn links_on_the_default_bridge_and_as_aliases_on_user_networks() {
    let Some(t) = Net::new() else { return };
    let db = t.web("db", &["--expose", "80", "-e", "SECRET=s3"]);
    let ip = ip_of(&t.inspect(&db), "bridge");
    let out = t.ok(&[
        "run",
        "--rm",
        "--link",
        "db:data",
        &t.e.image,
        "sh",
        "-c",
        "grep data /etc/hosts; env | grep ^DATA_ | sort; wget -qO- http://data/index.html",
    ]);
    assert!(
        out.contains(&format!("{ip}\tdata {} db", &db[..12])),
        "{out}"
    );
    assert!(out.contains("DATA_NAME=/"), "{out}");
    assert!(out.contains(&format!("DATA_PORT=tcp://{ip}:80")), "{out}");
    assert!(
        out.contains(&format!("DATA_PORT_80_TCP_ADDR={ip}")),
        "{out}"
    );
    assert!(out.contains("DATA_ENV_SECRET=s3"), "{out}");
    assert!(out.ends_with("db"), "{out}");
    t.fails(
        &["run", "--rm", "--link", "nope:x", &t.e.image, "true"],
        "No such container: nope",
    );
    // On a user network, the alias is a name its DNS answers.
    t.ok(&["network", "create", "--subnet", "10.250.0.0/24", "linked"]);
    let store = t.web("store", &["--network", "linked"]);
    let sip = ip_of(&t.inspect(&store), "linked");
    let client = t.ok(&[
        "run",
        "-d",
        "--network",
        "linked",
        "--link",
        "store:cache",
        &t.e.image,
        "sleep",
        "60",
    ]);
    assert_eq!(resolve(&t, &client, "cache"), vec![sip]);
}

/// berth beside a real dockerd on one host (a scratch namespace for both):
/// dockerd's docker0, its iptables chains and FORWARD DROP policy, its
/// docker-proxy; each engine's published ports and networks work, and
/// dockerd's rules are still there.
#[test]
fn berth_and_dockerd_share_a_host() {
    let (Some(dockerd), Some(docker)) = (
        berth_testkit::require_tool("dockerd"),
        berth_testkit::require_tool("docker"),
    ) else {
        return;
    };
    if berth_testkit::require_tool("containerd").is_none() {
        return;
    }
    let net = ScratchNet::new();
    // dockerd first: it takes 172.17/16, berth's default bridge another.
    let d = common::dockerd::Dockerd::start_in_netns(&dockerd, docker, &net.path());
    d.import_busybox("bbd:1");
    // dockerd sets it when it turns forwarding on itself; make sure of it,
    // as on a host where it did.
    let st = net
        .command("iptables")
        .args(["-P", "FORWARD", "DROP"])
        .status()
        .unwrap();
    assert!(st.success());
    let Some(e) = Engine::berth_daemon_in_netns(&net) else {
        return;
    };
    let t = Net { e, net };
    let theirs = d.docker(&[
        "run",
        "-d",
        "--name",
        "dweb",
        "-p",
        "8090:80",
        "bbd:1",
        "sh",
        "-c",
        "mkdir -p /www && echo dockerd > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    assert!(theirs.status.success(), "{}", theirs.stderr_str());
    t.web("bweb", &["-p", "8080:80"]);
    t.ok(&["network", "create", "ours"]);
    t.web("named", &["--network", "ours"]);
    let bridge_net = t.inspect("bweb")["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !bridge_net.starts_with("172.17."),
        "berth took docker0's subnet: {bridge_net}"
    );
    let fetch = |addr: String, body: &'static str| {
        eventually(Duration::from_secs(10), || {
            t.net.run(|| http_get(&addr)).as_deref() == Some(body)
        })
    };
    assert!(
        fetch("127.0.0.1:8080".into(), "bweb\n"),
        "berth from 127.0.0.1"
    );
    assert!(
        fetch(format!("{HOST_IP}:8080"), "bweb\n"),
        "berth from the host's address"
    );
    assert!(
        fetch(format!("{HOST_IP}:8090"), "dockerd\n"),
        "dockerd's port"
    );
    let outside = t.net.outside(|| {
        (
            http_get(&format!("{HOST_IP}:8080")),
            http_get(&format!("{HOST_IP}:8090")),
        )
    });
    assert_eq!(outside.0.as_deref(), Some("bweb\n"));
    assert_eq!(outside.1.as_deref(), Some("dockerd\n"));
    // Container to container by name on berth's network, past FORWARD DROP.
    let got = t.ok(&[
        "run",
        "--rm",
        "--network",
        "ours",
        &t.e.image,
        "wget",
        "-qO-",
        "http://named/index.html",
    ]);
    assert_eq!(got, "named");
    let rules = t
        .net
        .command("iptables")
        .arg("-S")
        .output()
        .unwrap()
        .stdout_str();
    for theirs in ["-P FORWARD DROP", "-N DOCKER", "-A FORWARD -j DOCKER-USER"] {
        assert!(
            rules.contains(theirs),
            "dockerd's {theirs:?} is gone: {rules}"
        );
    }
    let _ = d.docker(&["rm", "-f", "dweb"]);
}

#[test]
fn icc_off_keeps_containers_of_a_network_apart() {
    let Some(t) = Net::new() else { return };
    t.ok(&[
        "network",
        "create",
        "--subnet",
        "10.251.0.0/24",
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        "apart",
    ]);
    let a = t.web("lonely", &["--network", "apart", "-p", "8085:80"]);
    let ip = ip_of(&t.inspect(&a), "apart");
    let direct = t.e.berth(&[
        "run",
        "--rm",
        "--network",
        "apart",
        &t.e.image,
        "sh",
        "-c",
        &format!("timeout 3 wget -qO- http://{ip}/index.html; exit $?"),
    ]);
    assert!(!direct.status.success(), "icc off: reached {ip}");
    // Its published port is still reachable, from the host and the network.
    assert!(eventually(Duration::from_secs(10), || {
        t.net.run(|| http_get("127.0.0.1:8085")).as_deref() == Some("lonely\n")
    }));
    let via_host = t.ok(&[
        "run",
        "--rm",
        "--network",
        "apart",
        &t.e.image,
        "wget",
        "-qO-",
        &format!("http://{HOST_IP}:8085/index.html"),
    ]);
    assert_eq!(via_host, "lonely");
    t.fails(
        &[
            "network",
            "create",
            "-o",
            "com.docker.network.bridge.enable_icc=maybe",
            "x",
        ],
        "invalid value",
    );
}
