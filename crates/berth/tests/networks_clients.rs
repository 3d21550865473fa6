#![forbid(unsafe_code)]
//! Networks through Docker's own clients, with the same results on berth as
//! on dockerd (issue 11): each test starts a private `berth daemon` and a
//! private dockerd 20.10, each inside a scratch network namespace of its own
//! (common/netns.rs; dockerd with its iptables rules and its docker0 there,
//! see `Dockerd::start_in_netns`), drives both with the same client and
//! compares what came back, step by step:
//!
//! 1. docker's CLI (28.x, pinned to API 1.41): network create/ls (formats
//!    and filters)/inspect, containers on user networks with aliases and a
//!    published port, connect and disconnect, name and alias resolution
//!    between containers, the refusals and their texts, prune;
//! 2. docker-compose 1.29.2: a stack with its default network and a named
//!    one with an alias, up and down;
//! 3. the Python docker SDK: networks.create/list/get, connect with
//!    aliases, reload().containers, disconnect, remove, prune, refusals.
//!
//! Values that legitimately differ (ids, timestamps, the default bridge's
//! name) are masked before comparing. Where berth differs from dockerd
//! because berth is wrong, the step is listed in [`KNOWN_DIFFERENCES`]: a
//! difference is excused only when it matches an entry (the step and the
//! wrong text berth gives), and every excused one is printed. Anything else
//! that differs fails the test. With `BERTH_TEST_TRANSCRIPTS=<dir>`, both
//! transcripts of each test are written there, for `diff`.
//!
//! Needs root, dockerd (with containerd, runc, docker-proxy, iptables),
//! docker, docker-compose and the Python SDK: skips without them, except
//! under CI=true. Nothing touches the host's links, rules or ports.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use berth_testkit::{OutputExt, require_python_sdk, require_root, require_tool};
use common::berthd::run_with_timeout;
use common::dockerd::Dockerd;
use common::engine::{Engine, eventually};
use common::netns::ScratchNet;
use serde_json::Value;

/// Both engines answer as API 1.41 (Debian's dockerd 20.10); the docker CLI
/// is 28.x and would speak 1.45 to berth otherwise.
const API: &str = "1.41";
/// The busybox image both engines have.
const IMAGE: &str = "berthbb:test";
/// The limit for one client call.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// A difference between berth and dockerd: berth's to fix, or (the one
/// left) chosen.
struct Known {
    /// A part of the step's name (the command, or the SDK step's label).
    step: &'static str,
    /// A part of what berth gives there: the wrong thing.
    berth: &'static str,
    /// What dockerd does, and what berth does instead.
    why: &'static str,
}

/// Where berth is known to differ from dockerd 20.10 through Docker's real
/// clients. Each entry excuses only its step and only when berth's output
/// has the text named; the test prints every one it excused.
const KNOWN_DIFFERENCES: &[Known] = &[Known {
    step: "duplicate name",
    berth: "409",
    why: "API 1.41 without CheckDuplicate (the SDK's default): dockerd 20.10 makes a \
              second network of the same name; berth refuses (as moby 25+ does at every \
              version)",
}];

// ------------------------------------------------------------ the two engines

/// Which daemon a side runs; held for its drop, which tears it down.
#[allow(dead_code)]
enum Daemon {
    Berth(Engine),
    Dockerd(Dockerd),
}

/// One engine in its scratch network namespace, and the clients' settings.
struct Side {
    kind: &'static str,
    /// `unix:///...`
    host: String,
    docker: PathBuf,
    /// A scratch directory of the test's own (CLI config, compose files).
    dir: PathBuf,
    /// Dropped before `net`: the daemon leaves the namespace first.
    #[allow(dead_code)]
    daemon: Daemon,
    net: ScratchNet,
}

impl Side {
    fn berth(docker: PathBuf) -> Option<Side> {
        let net = ScratchNet::new();
        let e = Engine::berth_daemon_in_netns(&net)?;
        assert_eq!(e.image, IMAGE);
        Some(Side {
            kind: "berth",
            host: e.host.clone(),
            docker,
            dir: e.dir.clone(),
            daemon: Daemon::Berth(e),
            net,
        })
    }

    fn dockerd(docker: PathBuf) -> Option<Side> {
        let dockerd = require_tool("dockerd")?;
        for tool in [
            "containerd",
            "containerd-shim-runc-v2",
            "runc",
            "docker-proxy",
            "iptables",
            "nsenter",
            "tar",
        ] {
            require_tool(tool)?;
        }
        let net = ScratchNet::new();
        let d = Dockerd::start_in_netns(&dockerd, docker.clone(), &net.path());
        d.import_busybox(IMAGE);
        let dir = d.dir.join("scratch");
        std::fs::create_dir(&dir).unwrap();
        Some(Side {
            kind: "dockerd",
            host: d.host.clone(),
            docker,
            dir,
            daemon: Daemon::Dockerd(d),
            net,
        })
    }

    /// `docker -H <host> <args>` with `env`, nothing from the machine's
    /// Docker settings.
    fn docker(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.docker);
        cmd.env("DOCKER_CONFIG", self.dir.join("docker-cli"));
        for var in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "DOCKER_API_VERSION",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied())
            .args(["-H", &self.host])
            .args(args)
            .stdin(Stdio::null());
        run_with_timeout(cmd, CALL_TIMEOUT)
    }
}

/// Both engines, started at once (dockerd takes a few seconds); None (a
/// skip) when the machine lacks what they need.
fn both() -> Option<(Side, Side)> {
    if !require_root() {
        return None;
    }
    let docker = require_tool("docker")?;
    require_tool("nsenter")?;
    let (b, d) = std::thread::scope(|s| {
        let b = s.spawn(|| Side::berth(docker.clone()));
        let d = s.spawn(|| Side::dockerd(docker.clone()));
        (b.join(), d.join())
    });
    let b = b.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let d = d.unwrap_or_else(|p| std::panic::resume_unwind(p));
    Some((b?, d?))
}

/// An HTTP GET of `/index.html` from the calling thread's namespace; the body.
fn http_get(addr: &str) -> Option<String> {
    let addr: SocketAddr = addr.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

// ------------------------------------------------------------ transcripts

/// What one engine gave, step by step (normalized), and the checks of
/// docker's contract that failed on it (with the step they belong to).
struct Transcript<'a> {
    s: &'a Side,
    steps: Vec<(String, String)>,
    failures: Vec<(Option<String>, String)>,
}

impl<'a> Transcript<'a> {
    fn new(s: &'a Side) -> Self {
        Transcript {
            s,
            steps: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Records `value` under `key` (a repeated key gets `#2`, `#3`...);
    /// the key as recorded.
    fn note(&mut self, key: &str, value: &str) -> String {
        let key = normalize(key);
        let n = self
            .steps
            .iter()
            .filter(|(k, _)| k == &key || k.starts_with(&format!("{key} #")))
            .count();
        let key = if n == 0 {
            key
        } else {
            format!("{key} #{}", n + 1)
        };
        self.steps.push((key.clone(), normalize(value)));
        key
    }

    /// A check of docker's contract, on its own.
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.failures.push((None, what()));
        }
    }

    /// A check of what the step `key` gave.
    fn check_step(&mut self, key: &str, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.failures.push((Some(key.to_string()), what()));
        }
    }

    /// `docker <args>` (API 1.41), recorded as `[exit code] stdout stderr`.
    fn docker(&mut self, args: &[&str]) -> Output {
        self.docker_keyed(args).1
    }

    fn docker_keyed(&mut self, args: &[&str]) -> (String, Output) {
        let out = self.s.docker(&[("DOCKER_API_VERSION", API)], args);
        let key = self.note(&key_of(args), &shown(&out));
        (key, out)
    }

    /// Like [`Transcript::docker`], recording the output's lines sorted
    /// (for outputs in no set order).
    fn docker_sorted(&mut self, args: &[&str]) -> Output {
        let out = self.s.docker(&[("DOCKER_API_VERSION", API)], args);
        let stdout = out.stdout_str();
        let mut lines: Vec<&str> = stdout.lines().collect();
        lines.sort();
        let value = format!(
            "[{}] {}\n{}",
            out.status.code().unwrap_or(-1),
            lines.join("\n"),
            out.stderr_str()
        );
        self.note(&key_of(args), &value);
        out
    }

    /// Runs and requires success; the stdout, trimmed.
    fn ok(&mut self, args: &[&str]) -> String {
        let (key, out) = self.docker_keyed(args);
        self.check_step(&key, out.status.success(), || {
            format!("failed: {}", out.stderr_str())
        });
        out.stdout_str().trim().to_string()
    }

    /// Runs and requires exit `code` and `says` in stderr.
    fn fails(&mut self, args: &[&str], code: i32, says: &str) {
        let (key, out) = self.docker_keyed(args);
        let err = out.stderr_str();
        self.check_step(
            &key,
            out.status.code() == Some(code) && err.contains(says),
            || {
                format!(
                    "exit {:?}, {err:?} (wanted {code} and {says:?})",
                    out.status.code()
                )
            },
        );
    }

    /// `docker network create <args>`, which must succeed; the id.
    fn create_network(&mut self, args: &[&str]) -> String {
        let mut full = vec!["network", "create"];
        full.extend_from_slice(args);
        let (key, out) = self.docker_keyed(&full);
        let id = out.stdout_str().trim().to_string();
        self.check_step(&key, out.status.success(), || {
            format!("failed: {}", out.stderr_str())
        });
        self.check_step(&key, is_hex(&id, 64), || format!("the id: {id:?}"));
        id
    }

    /// `docker exec <container> nslookup <name>`, recorded as the exit code
    /// and the addresses answered (not the server's), sorted: busybox
    /// prints the A and AAAA answers in the order they come.
    fn resolve(&mut self, container: &str, name: &str, want: &[&str]) {
        let args = ["exec", container, "nslookup", name];
        let out = self.s.docker(&[("DOCKER_API_VERSION", API)], &args);
        let ips = addresses(&out.stdout_str());
        let key = self.note(
            &key_of(&args),
            &format!("[{}] {}", out.status.code().unwrap_or(-1), ips.join(" ")),
        );
        self.check_step(&key, ips == want, || {
            format!("answered {ips:?}, wanted {want:?}: {}", out.stdout_str())
        });
    }

    /// `docker inspect -f '{{json .NetworkSettings.Networks}}' <container>`,
    /// recorded field by field (the names on a line of their own); the
    /// parsed map.
    fn networks_of(&mut self, container: &str) -> Value {
        let args = [
            "inspect",
            "-f",
            "{{json .NetworkSettings.Networks}}",
            container,
        ];
        let out = self.s.docker(&[("DOCKER_API_VERSION", API)], &args);
        let v: Value = serde_json::from_str(out.stdout_str().trim()).unwrap_or_default();
        let map = v.as_object().cloned().unwrap_or_default();
        let key = self.note(
            &format!("{} :: networks", key_of(&args)),
            &map.keys().cloned().collect::<Vec<_>>().join(" "),
        );
        self.check_step(&key, out.status.success() && v.is_object(), || {
            format!("failed: {}", out.stderr_str())
        });
        for (name, ep) in &map {
            let f = |k: &str| ep[k].to_string();
            self.note(
                &format!("{} :: {name}", key_of(&args)),
                &format!(
                    "ip={} len={} gw={} mac={} ipam={} links={} v6={} v6gw={} opts={} netid={} epid={}",
                    f("IPAddress"),
                    f("IPPrefixLen"),
                    f("Gateway"),
                    f("MacAddress"),
                    f("IPAMConfig"),
                    f("Links"),
                    f("GlobalIPv6Address"),
                    f("IPv6Gateway"),
                    f("DriverOpts"),
                    f("NetworkID"),
                    f("EndpointID"),
                ),
            );
            self.note(
                &format!("{} :: aliases on {name}", key_of(&args)),
                &format!("aliases={} dnsnames={}", f("Aliases"), f("DNSNames")),
            );
        }
        v
    }

    /// One HTTP GET of 127.0.0.1:`port` from the engine's namespace,
    /// retried for a while when `retry`; recorded.
    fn http_get(&mut self, port: u16, retry: bool) -> Option<String> {
        let addr = format!("127.0.0.1:{port}");
        let mut got = None;
        eventually(Duration::from_secs(if retry { 10 } else { 0 }), || {
            got = self.s.net.run(|| http_get(&addr));
            got.is_some()
        });
        self.note(
            &format!("GET http://{addr}/index.html in the namespace"),
            &format!("{got:?}"),
        );
        got
    }
}

/// The key of a docker command: its words, as run.
fn key_of(args: &[&str]) -> String {
    format!("docker {}", args.join(" "))
}

/// `[exit code] stdout stderr`.
fn shown(out: &Output) -> String {
    format!(
        "[{}] {}{}",
        out.status.code().unwrap_or(-1),
        out.stdout_str(),
        out.stderr_str()
    )
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The addresses in busybox nslookup's answers (not the server's), sorted.
fn addresses(text: &str) -> Vec<String> {
    let mut ips: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("Name:") && !l.starts_with("Non-authoritative"))
        .filter_map(|l| l.strip_prefix("Address:"))
        .map(|a| a.trim().to_string())
        .filter(|a| !a.starts_with("127.0.0.11"))
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// Masks what legitimately differs between two engines: 64-hex ids as
/// `<id>`, 12-hex short ids as `<short>`, creation times as `<time>`, the
/// default bridge's name (docker0, berth0) as `<default-bridge>`.
fn normalize(s: &str) -> String {
    let s = s
        .replace("berth0", "<default-bridge>")
        .replace("docker0", "<default-bridge>");
    let s = mask_created(&s);
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let hex = word
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        match word.len() {
            64 if hex => out.push_str("<id>"),
            12 if hex => out.push_str("<short>"),
            _ => out.push_str(word),
        }
        word.clear();
    };
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// `"Created": "<anything>"` (either JSON spacing) as `"Created": "<time>"`.
fn mask_created(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    loop {
        let at = ["\"Created\": \"", "\"Created\":\""]
            .iter()
            .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
            .min();
        let Some((i, n)) = at else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i + n]);
        rest = &rest[i + n..];
        let end = rest.find('"').unwrap_or(rest.len());
        out.push_str("<time>");
        rest = &rest[end..];
    }
}

/// Runs `scenario` on both sides at once; then compares the transcripts
/// and fails on any difference KNOWN_DIFFERENCES does not excuse (printing
/// those it does).
fn compare_on_both(test: &str, berth: &Side, dockerd: &Side, scenario: fn(&mut Transcript)) {
    let mut runs = [Transcript::new(berth), Transcript::new(dockerd)];
    std::thread::scope(|s| {
        for t in runs.iter_mut() {
            s.spawn(move || {
                let started = std::time::Instant::now();
                let r = std::panic::catch_unwind(AssertUnwindSafe(|| scenario(t)));
                if let Err(p) = r {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    t.failures.push((None, format!("stopped: {msg}")));
                }
                eprintln!(
                    "[{}] scenario done in {:.1?}: {} steps, {} failures",
                    t.s.kind,
                    started.elapsed(),
                    t.steps.len(),
                    t.failures.len()
                );
            });
        }
    });
    let [b, d] = &runs;
    let known = |key: &str, ours: &str| {
        KNOWN_DIFFERENCES
            .iter()
            .find(|k| key.contains(k.step) && ours.contains(k.berth))
    };
    let output_of = |t: &Transcript, key: &str| {
        t.steps
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if let Some(dir) = std::env::var_os("BERTH_TEST_TRANSCRIPTS") {
        // Both transcripts, for `diff` (set to a directory).
        for t in &runs {
            let text: String = t
                .steps
                .iter()
                .map(|(k, v)| format!("$ {k}\n{}\n", v.trim_end()))
                .collect();
            let name = format!("{test}-{}.txt", t.s.kind);
            std::fs::write(PathBuf::from(&dir).join(name), text).unwrap();
        }
    }
    let mut problems: Vec<String> = Vec::new();
    // Per step, what was excused (a difference, a failed check or both).
    let mut excused: std::collections::BTreeMap<String, String> = Default::default();
    for (key, msg) in &d.failures {
        problems.push(format!(
            "[dockerd] {}: {msg}",
            key.as_deref().unwrap_or("check")
        ));
    }
    for (key, msg) in &b.failures {
        let excuse = key.as_deref().and_then(|k| known(k, &output_of(b, k)));
        match (key, excuse) {
            (Some(key), Some(k)) => {
                excused.insert(
                    key.clone(),
                    format!("$ {key}\n  berth's check failed: {msg}\n  known: {}", k.why),
                );
            }
            _ => problems.push(format!(
                "[berth] {}: {msg}",
                key.as_deref().unwrap_or("check")
            )),
        }
    }
    for (key, theirs) in &d.steps {
        let Some((_, ours)) = b.steps.iter().find(|(k, _)| k == key) else {
            problems.push(format!("step {key:?} ran on dockerd only"));
            continue;
        };
        if ours == theirs {
            continue;
        }
        match known(key, ours) {
            Some(k) => {
                excused.insert(
                    key.clone(),
                    format!(
                        "$ {key}\n  dockerd: {}\n  berth:   {}\n  known: {}",
                        theirs.trim().replace('\n', "\n           "),
                        ours.trim().replace('\n', "\n           "),
                        k.why
                    ),
                );
            }
            None => problems.push(format!(
                "step {key:?} differs:\n--- berth ---\n{ours}\n--- dockerd ---\n{theirs}"
            )),
        }
    }
    for (key, _) in &b.steps {
        if !d.steps.iter().any(|(k, _)| k == key) {
            problems.push(format!("step {key:?} ran on berth only"));
        }
    }
    if !excused.is_empty() {
        eprintln!(
            "KNOWN_DIFFERENCES: berth differs from dockerd here ({} excused; berth is to be fixed):\n\n{}\n",
            excused.len(),
            excused.into_values().collect::<Vec<_>>().join("\n\n")
        );
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

// ------------------------------------------------------------ 1: docker's CLI

/// A busybox web server answering `who` on port 80, as `sh -c` words.
fn serve(who: &str) -> String {
    format!("mkdir -p /www && echo {who} > /www/index.html && exec httpd -f -p 80 -h /www")
}

fn cli_scenario(t: &mut Transcript) {
    let s = t.s;
    t.docker(&[
        "network",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
    ]);

    // create, with and without --subnet/--gateway/--label.
    let appnet = t.create_network(&[
        "--subnet",
        "10.77.0.0/24",
        "--gateway",
        "10.77.0.254",
        "--label",
        "team=a",
        "appnet",
    ]);
    t.create_network(&["plain"]);
    t.create_network(&[
        "--internal",
        "--attachable",
        "-o",
        "com.docker.network.driver.mtu=1400",
        "--subnet",
        "10.79.0.0/24",
        "--label",
        "tier=back",
        "inner",
    ]);
    t.create_network(&[
        "--subnet",
        "10.81.0.0/24",
        "--ip-range",
        "10.81.0.128/25",
        "ranged",
    ]);

    // ls: the table, formats, filters.
    t.docker(&["network", "ls"]);
    t.docker(&[
        "network",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.IPv6}} {{.Labels}}",
    ]);
    for filter in [
        "name=app",
        "name=appnet",
        "driver=bridge",
        "driver=null",
        "label=team=a",
        "label=tier",
        "label=team=b",
        "type=custom",
        "type=builtin",
        "scope=local",
    ] {
        t.docker(&["network", "ls", "--filter", filter, "--format", "{{.Name}}"]);
    }
    t.docker(&[
        "network",
        "ls",
        "-f",
        "type=custom",
        "-f",
        "label=tier",
        "--format",
        "{{.Name}}",
    ]);
    let q = t.ok(&[
        "network",
        "ls",
        "-q",
        "--no-trunc",
        "--filter",
        "name=appnet",
    ]);
    t.check(q == appnet, || {
        format!("ls -q --no-trunc gave {q:?}, create {appnet:?}")
    });
    t.docker(&["network", "ls", "-q", "--filter", "label=team=a"]);
    t.fails(
        &["network", "ls", "--filter", "type=bogus"],
        1,
        "'type'='bogus'",
    );

    // inspect.
    t.docker(&[
        "network",
        "inspect",
        "-f",
        "{{.Name}} {{.Driver}} {{.Scope}} int={{.Internal}} att={{.Attachable}} ingress={{.Ingress}} v6={{.EnableIPv6}} {{json .Labels}} {{json .Options}} {{json .ConfigFrom}} {{.ConfigOnly}} {{json .Containers}}",
        "appnet",
        "plain",
        "inner",
        "ranged",
    ]);
    for n in ["appnet", "plain", "inner", "ranged", "bridge"] {
        t.docker(&["network", "inspect", "-f", "{{json .IPAM}}", n]);
    }
    t.docker(&["network", "inspect", "-f", "{{json .Options}}", "bridge"]);

    // A web server with an alias and a loopback-only published port.
    let web = t.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "appnet",
        "--network-alias",
        "webalias",
        "-p",
        "127.0.0.1:8080:80",
        IMAGE,
        "sh",
        "-c",
        &serve("web"),
    ]);
    // The whole object, raw as the daemon sends it, with one container.
    t.docker(&["network", "inspect", "appnet"]);
    let out = s.docker(
        &[("DOCKER_API_VERSION", API)],
        &["network", "inspect", "-f", "{{json .Containers}}", "appnet"],
    );
    let containers: Value = serde_json::from_str(out.stdout_str().trim()).unwrap_or_default();
    let web_ip = containers[&web]["IPv4Address"]
        .as_str()
        .unwrap_or("")
        .to_string();
    t.check(web_ip == "10.77.0.1/24", || {
        format!("web in appnet: {containers}")
    });

    let nets = t.networks_of("web");
    let ep = &nets["appnet"];
    t.check(
        ep["IPAddress"] == "10.77.0.1" && ep["Gateway"] == "10.77.0.254",
        || format!("web's endpoint: {ep}"),
    );
    t.check(ep["NetworkID"] == appnet.as_str(), || {
        format!("NetworkID: {ep}")
    });
    t.docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.NetworkMode}} ip=[{{.NetworkSettings.IPAddress}}] gw=[{{.NetworkSettings.Gateway}}] mac=[{{.NetworkSettings.MacAddress}}] {{json .NetworkSettings.Ports}} {{json .HostConfig.PortBindings}} {{json .Config.ExposedPorts}}",
        "web",
    ]);
    t.docker(&["port", "web"]);
    t.docker(&["port", "web", "80"]);
    t.fails(&["port", "web", "81"], 1, "No public port '81");
    // The published port from the engine's host (its namespace).
    let got = t.http_get(8080, true);
    t.check(got.as_deref() == Some("web\n"), || {
        format!("127.0.0.1:8080 in the namespace gave {got:?}")
    });

    // Another container reaches web by name, alias and short id.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "cli",
        "--network",
        "appnet",
        IMAGE,
        "sleep",
        "600",
    ]);
    t.docker_sorted(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{.IPv4Address}} {{.MacAddress}} [{{.IPv6Address}}]{{println}}{{end}}",
        "appnet",
    ]);
    for name in ["web", "webalias", &web[..12], "web.appnet"] {
        t.resolve("cli", name, &["10.77.0.1"]);
    }
    for url in ["http://web/index.html", "http://webalias/index.html"] {
        let body = t.ok(&["exec", "cli", "wget", "-qO-", url]);
        t.check(body == "web", || format!("{url}: {body:?}"));
    }
    t.docker(&["exec", "cli", "cat", "/etc/resolv.conf"]);
    t.docker(&["exec", "cli", "sh", "-c", "grep -v '^#' /etc/hosts"]);

    // connect, disconnect.
    t.ok(&["network", "connect", "--alias", "extra", "plain", "cli"]);
    let nets = t.networks_of("cli");
    let plain_ip = nets["plain"]["IPAddress"]
        .as_str()
        .unwrap_or("")
        .to_string();
    t.check(plain_ip.starts_with("172.18."), || {
        format!("cli on plain: {nets}")
    });
    t.docker(&[
        "exec",
        "cli",
        "sh",
        "-c",
        "ip -o -4 addr show | awk '{print $2, $4}'; ip route",
    ]);
    t.docker_sorted(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{println}}{{end}}",
        "plain",
    ]);
    t.fails(
        &["network", "connect", "plain", "cli"],
        1,
        "endpoint with name cli already exists in network plain",
    );
    t.fails(
        &["network", "connect", "host", "cli"],
        1,
        "container cannot be disconnected from host network or connected to host network",
    );
    t.ok(&["network", "disconnect", "plain", "cli"]);
    t.fails(
        &["network", "disconnect", "plain", "cli"],
        1,
        "is not connected to network plain",
    );
    t.networks_of("cli");
    t.docker(&[
        "exec",
        "cli",
        "sh",
        "-c",
        "ip -o -4 addr show | awk '{print $2, $4}'",
    ]);
    t.docker(&["network", "inspect", "-f", "{{json .Containers}}", "plain"]);
    // A stopped container: connected in its record only.
    t.ok(&["create", "--name", "idle", IMAGE, "true"]);
    t.ok(&["network", "connect", "appnet", "idle"]);
    t.networks_of("idle");
    t.ok(&["network", "disconnect", "appnet", "idle"]);
    t.ok(&["rm", "idle"]);

    // What the other networks give a container.
    t.docker(&[
        "run",
        "--rm",
        "--network",
        "inner",
        IMAGE,
        "cat",
        "/sys/class/net/eth0/mtu",
    ]);
    t.docker(&[
        "run",
        "--rm",
        "--network",
        "inner",
        IMAGE,
        "sh",
        "-c",
        "ip -o -4 addr show eth0 | awk '{print $4}'",
    ]);
    t.docker(&["run", "--rm", "--network", "inner", IMAGE, "ip", "route"]);
    t.docker(&[
        "run",
        "--rm",
        "--network",
        "ranged",
        IMAGE,
        "sh",
        "-c",
        "ip -o -4 addr show eth0 | awk '{print $4}'; ip route",
    ]);

    // Refusals: texts and exit codes.
    t.fails(&["network", "rm", "appnet"], 1, "has active endpoints");
    t.fails(&["network", "rm", "nope"], 1, "network nope not found");
    t.fails(&["network", "inspect", "nope"], 1, "network nope not found");
    t.fails(
        &["network", "connect", "nope", "cli"],
        1,
        "network nope not found",
    );
    t.fails(
        &["network", "disconnect", "nope", "cli"],
        1,
        "network nope not found",
    );
    t.fails(
        &["run", "--rm", "--network", "nope", IMAGE, "true"],
        125,
        "network nope not found",
    );
    t.fails(
        &["network", "create", "--subnet", "10.77.0.0/16", "over"],
        1,
        "Pool overlaps with other one on this address space",
    );
    t.fails(
        &["network", "create", "appnet"],
        1,
        "network with name appnet already exists",
    );
    t.fails(
        &[
            "network",
            "create",
            "--subnet",
            "10.78.0.0/24",
            "--gateway",
            "10.79.0.1",
            "gw",
        ],
        1,
        "no matching subnet for gateway 10.79.0.1",
    );
    t.fails(
        &["network", "create", "--subnet", "nonsense", "bad"],
        1,
        "Invalid subnet nonsense",
    );
    t.fails(
        &["network", "rm", "bridge"],
        1,
        "bridge is a pre-defined network and cannot be removed",
    );
    t.fails(
        &["network", "create", "-d", "host", "h"],
        1,
        "only one instance of \"host\" network is allowed",
    );
    t.docker(&["network", "ls", "--format", "{{.Name}}"]);

    // prune: by label, then every unused one.
    t.create_network(&["--label", "tmp=1", "spare"]);
    t.docker_sorted(&["network", "prune", "-f", "--filter", "label=tmp=1"]);
    t.docker_sorted(&["network", "prune", "-f"]);
    let left = t.ok(&["network", "ls", "--format", "{{.Name}}"]);
    t.check(left == "appnet\nbridge\nhost\nnone", || {
        format!("after prune: {left:?}")
    });

    // A stopped container keeps its networks, not its addresses.
    t.ok(&["stop", "-t", "0", "cli"]);
    t.networks_of("cli");
    t.docker(&["network", "inspect", "-f", "{{json .Containers}}", "appnet"]);
    t.ok(&["start", "cli"]);
    t.networks_of("cli");
    t.resolve("cli", "web", &["10.77.0.1"]);

    // rm once the containers are gone.
    t.ok(&["rm", "-f", "web", "cli"]);
    t.ok(&["network", "rm", "appnet"]);
    t.docker(&["network", "ls", "--format", "{{.Name}}"]);
    let gone = t.http_get(8080, false);
    t.check(gone.is_none(), || {
        format!("127.0.0.1:8080 after rm: {gone:?}")
    });
}

#[test]
fn docker_cli_networks_same_on_berth_and_dockerd() {
    let Some((berth, dockerd)) = both() else {
        return;
    };
    compare_on_both("docker_cli", &berth, &dockerd, cli_scenario);
}

// ------------------------------------------------------------ 2: docker-compose

const COMPOSE_PROJECT: &str = "netproj";

fn compose_scenario(t: &mut Transcript) {
    let s = t.s;
    let compose = require_tool("docker-compose").expect("checked by the test");
    let dir = s.dir.join(COMPOSE_PROJECT);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        format!(
            r#"version: "3.8"
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /srv && echo rows-from-db > /srv/index.html && exec httpd -f -p 5432 -h /srv"]
    stop_grace_period: 1s
  app:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /www; while true; do wget -qO /www/new http://db:5432/index.html && mv /www/new /www/index.html; sleep 0.3; done"]
    stop_grace_period: 1s
  side:
    image: {IMAGE}
    command: ["sh", "-c", "{side}"]
    stop_grace_period: 1s
    networks:
      backend:
        aliases: [sidealias]
networks:
  backend:
"#,
            side = serve("side")
        ),
    )
    .unwrap();
    let run = |t: &mut Transcript, args: &[&str]| {
        let mut cmd = Command::new(&compose);
        cmd.current_dir(&dir)
            .env("DOCKER_HOST", &s.host)
            .env("COMPOSE_PROJECT_NAME", COMPOSE_PROJECT)
            .env("COMPOSE_API_VERSION", API)
            .env("DOCKER_CONFIG", s.dir.join("docker-cli"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .args(args)
            .stdin(Stdio::null());
        let out = run_with_timeout(cmd, CALL_TIMEOUT);
        // Services start in parallel: the lines in no set order; the
        // progress lines without "done" are left out.
        let mut lines: Vec<String> = out
            .stderr_str()
            .lines()
            .chain(out.stdout_str().lines())
            .filter(|l| l.contains("network") || l.ends_with("done"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        lines.sort();
        t.note(
            &format!("docker-compose {}", args.join(" ")),
            &format!("[{}] {}", out.status.code().unwrap_or(-1), lines.join("\n")),
        );
        let kind = s.kind;
        t.check(out.status.success(), || {
            format!(
                "docker-compose {} on {kind}: {}",
                args.join(" "),
                out.stderr_str()
            )
        });
    };
    let label = format!("label=com.docker.compose.project={COMPOSE_PROJECT}");
    let (default, backend) = (
        format!("{COMPOSE_PROJECT}_default"),
        format!("{COMPOSE_PROJECT}_backend"),
    );
    let (app, side) = (
        format!("{COMPOSE_PROJECT}_app_1"),
        format!("{COMPOSE_PROJECT}_side_1"),
    );

    run(t, &["up", "-d"]);
    // The networks compose made.
    let made = t.ok(&[
        "network",
        "ls",
        "--filter",
        &label,
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
    ]);
    t.check(
        made == format!("{backend} bridge local\n{default} bridge local"),
        || format!("compose's networks: {made:?}"),
    );
    t.docker(&[
        "network",
        "inspect",
        "-f",
        "{{.Name}} att={{.Attachable}} int={{.Internal}} {{json .Labels}} {{json .IPAM.Config}}",
        &default,
        &backend,
    ]);
    for n in [&default, &backend] {
        t.docker_sorted(&[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}}{{println}}{{end}}",
            n,
        ]);
    }
    t.docker_sorted(&["ps", "--format", "{{.Names}} {{.Networks}}"]);
    // The app reaches the database by its service name.
    let mut page = String::new();
    eventually(Duration::from_secs(20), || {
        let out = s.docker(&[], &["exec", &app, "cat", "/www/index.html"]);
        page = out.stdout_str();
        page == "rows-from-db\n"
    });
    t.note("the app's copy of http://db:5432/", &page);
    t.check(page == "rows-from-db\n", || {
        format!("app got {page:?} from db")
    });
    // The named network's alias and service name, from a container there.
    let out = t.s.docker(
        &[("DOCKER_API_VERSION", API)],
        &["inspect", "-f", "{{json .NetworkSettings.Networks}}", &side],
    );
    let nets: Value = serde_json::from_str(out.stdout_str().trim()).unwrap_or_default();
    let mut aliases: Vec<String> = nets[&backend]["Aliases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| normalize(a.as_str().unwrap_or("")))
        .collect();
    // compose passes them from a set: in no set order.
    aliases.sort();
    t.note(
        &format!("aliases of {side} on {backend}"),
        &aliases.join(" "),
    );
    t.check(aliases.iter().any(|a| a == "sidealias"), || {
        format!("side's aliases: {aliases:?}")
    });
    for url in ["http://sidealias/index.html", "http://side/index.html"] {
        let (key, out) = t.docker_keyed(&[
            "run",
            "--rm",
            "--network",
            &backend,
            IMAGE,
            "wget",
            "-qO-",
            url,
        ]);
        let body = out.stdout_str();
        t.check_step(&key, body == "side\n", || {
            format!("{url}: {body:?} {}", out.stderr_str())
        });
    }
    // Not from the default network.
    let side_ip = nets[&backend]["IPAddress"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let out = s.docker(
        &[],
        &[
            "exec",
            &app,
            "sh",
            "-c",
            &format!("timeout 3 wget -qO- http://{side_ip}/index.html"),
        ],
    );
    t.note(
        "the app reaches side's address on the other network",
        &out.status.success().to_string(),
    );
    t.check(!out.status.success(), || {
        "the app reached a container on another network".to_string()
    });

    run(t, &["down"]);
    let left = t.ok(&["network", "ls", "--filter", &label, "-q"]);
    t.check(left.is_empty(), || format!("networks after down: {left:?}"));
    t.docker(&["network", "ls", "--format", "{{.Name}}"]);
}

#[test]
fn compose_networks_same_on_berth_and_dockerd() {
    if !require_root() || require_tool("docker-compose").is_none() {
        return;
    }
    let Some((berth, dockerd)) = both() else {
        return;
    };
    compare_on_both("compose", &berth, &dockerd, compose_scenario);
}

// ------------------------------------------------------------ 3: the Python SDK

/// docker-py's network calls; one `label|json` line per step.
const SDK_SCRIPT: &str = r#"
import docker, json, sys
from docker.types import IPAMConfig, IPAMPool
c = docker.DockerClient(base_url=sys.argv[1], version="1.41")
img = sys.argv[2]
masks = {}
def mask(v):
    s = json.dumps(v, sort_keys=True)
    for k, m in masks.items():
        s = s.replace(k, m)
    return s
def out(label, v):
    print(label + "|" + mask(v), flush=True)
def step(label, f):
    try:
        out(label, f())
    except docker.errors.APIError as e:
        out(label, ["APIError", e.status_code, e.explanation])
    except Exception as e:
        out(label, ["exception", type(e).__name__, str(e)])
pool = lambda subnet, gateway=None: IPAMConfig(pool_configs=[IPAMPool(subnet=subnet, gateway=gateway)])

n = c.networks.create("sdknet", driver="bridge", labels={"via": "sdk"}, check_duplicate=True,
                      ipam=pool("10.88.0.0/24"))
masks[n.id] = "<net id>"
out("create id", [len(n.id), n.name])
keys = ["Name", "Driver", "Scope", "Internal", "Attachable", "Ingress", "EnableIPv6",
        "Labels", "Options", "Containers", "ConfigFrom", "ConfigOnly"]
step("create attrs", lambda: {k: n.attrs.get(k) for k in keys})
step("create IPAM Driver", lambda: n.attrs["IPAM"]["Driver"])
step("create IPAM Config", lambda: n.attrs["IPAM"]["Config"])
step("create IPAM Options", lambda: n.attrs["IPAM"]["Options"])
step("list names", lambda: [x.name for x in c.networks.list(names=["sdknet"])])
step("list ids", lambda: [x.name for x in c.networks.list(ids=[n.id])])
step("list label", lambda: [x.name for x in c.networks.list(filters={"label": "via=sdk"})])
step("list custom", lambda: sorted(x.name for x in c.networks.list(filters={"type": "custom"})))
step("list all", lambda: sorted((x.name, x.attrs["Driver"]) for x in c.networks.list()))
step("list greedy", lambda: [x.attrs["Containers"] for x in c.networks.list(names=["sdknet"], greedy=True)])
step("get by short id", lambda: c.networks.get(n.id[:12]).name)

web = c.containers.run(img, ["sh", "-c", sys.argv[3]], detach=True, name="sdkweb")
masks[web.id] = "<ctr id>"
masks[web.id[:12]] = "<ctr short>"
step("connect", lambda: n.connect(web, aliases=["sdkalias"]))
def reloaded():
    n.reload()
    return [x.name for x in n.containers]
step("reload().containers", reloaded)
step("containers ids", lambda: [x.id == web.id for x in n.containers])
step("attrs Containers", lambda: {k: {f: v[f] for f in ["Name", "IPv4Address", "MacAddress", "IPv6Address"]}
                                  for k, v in n.attrs["Containers"].items()})
def endpoint(fields):
    web.reload()
    ep = web.attrs["NetworkSettings"]["Networks"]["sdknet"]
    return {f: ep.get(f) for f in fields}
step("endpoint", lambda: endpoint(["IPAddress", "IPPrefixLen", "Gateway", "MacAddress", "IPAMConfig",
                                   "Links", "NetworkID", "DriverOpts"]))
step("endpoint names", lambda: endpoint(["Aliases", "DNSNames"]))
step("networks of web", lambda: sorted(web.attrs["NetworkSettings"]["Networks"]))
for name in ["sdkalias", "sdkweb"]:
    step("wget " + name, lambda: c.containers.run(img, ["wget", "-qO-", "http://%s/index.html" % name],
                                                  network="sdknet", remove=True).decode())
step("connect twice", lambda: n.connect(web))
step("remove in use", lambda: n.remove())
step("disconnect", lambda: n.disconnect(web))
step("after disconnect", reloaded)
step("networks of web after", lambda: (web.reload(), sorted(web.attrs["NetworkSettings"]["Networks"]))[1])
step("disconnect twice", lambda: n.disconnect(web))
step("connect with ipv4_address", lambda: n.connect(web, ipv4_address="10.88.0.50"))
step("endpoint with ipv4_address", lambda: endpoint(["IPAddress", "IPAMConfig"]))
step("disconnect force", lambda: n.disconnect(web, force=True))

step("overlap", lambda: c.networks.create("sdk-over", check_duplicate=True, ipam=pool("10.88.0.0/16")).name)
step("name clash", lambda: c.networks.create("sdknet", check_duplicate=True).name)
step("gateway outside", lambda: c.networks.create("sdk-gw", ipam=pool("10.89.0.0/24", "10.90.0.1")).name)
step("get unknown", lambda: c.networks.get("nope").name)
step("connect unknown", lambda: c.api.connect_container_to_network(web.id, "nope"))
step("remove unknown", lambda: c.api.remove_network("nope"))
web.remove(force=True)
step("remove", lambda: n.remove())
step("list after remove", lambda: [x.name for x in c.networks.list(names=["sdknet"])])
step("create spare", lambda: c.networks.create("sdk-spare", labels={"via": "sdk"}).name)
step("prune", lambda: c.networks.prune(filters={"label": "via=sdk"}))
step("list after prune", lambda: sorted(x.name for x in c.networks.list()))
# The SDK's default: no CheckDuplicate.
a = c.networks.create("sdk-dup")
def dup():
    b = c.networks.create("sdk-dup")
    b.remove()
    return "created"
step("duplicate name", dup)
a.remove()
step("list at the end", lambda: sorted(x.name for x in c.networks.list()))
"#;

fn sdk_scenario(t: &mut Transcript) {
    let s = t.s;
    let python = require_python_sdk().expect("checked by the test");
    let mut cmd = Command::new(python);
    cmd.args(["-c", SDK_SCRIPT, &s.host, IMAGE, &serve("sdkweb")])
        .env_remove("DOCKER_HOST")
        .env("DOCKER_CONFIG", s.dir.join("docker-cli"))
        .stdin(Stdio::null());
    let out = run_with_timeout(cmd, Duration::from_secs(300));
    let kind = s.kind;
    t.check(out.status.success(), || {
        format!("the SDK script on {kind}: {}", out.stderr_str())
    });
    for line in out.stdout_str().lines() {
        let (label, value) = line.split_once('|').unwrap_or((line, ""));
        let key = t.note(label, value);
        let v: Value = serde_json::from_str(value).unwrap_or_default();
        let ok = match label {
            "endpoint" => {
                v["IPAddress"] == "10.88.0.2"
                    && v["Gateway"] == "10.88.0.1"
                    && v["NetworkID"] == "<net id>"
            }
            "wget sdkalias" | "wget sdkweb" => v == "sdkweb\n",
            "reload().containers" => v == serde_json::json!(["sdkweb"]),
            "after disconnect" | "list after remove" => v == serde_json::json!([]),
            "endpoint with ipv4_address" => v["IPAddress"] == "10.88.0.50",
            _ => true,
        };
        t.check_step(&key, ok, || format!("{label}: {v}"));
    }
    t.check(out.stdout_str().contains("list at the end|"), || {
        format!("the SDK script stopped early: {}", out.stderr_str())
    });
}

#[test]
fn python_sdk_networks_same_on_berth_and_dockerd() {
    if !require_root() || require_python_sdk().is_none() {
        return;
    }
    let Some((berth, dockerd)) = both() else {
        return;
    };
    compare_on_both("python_sdk", &berth, &dockerd, sdk_scenario);
}
