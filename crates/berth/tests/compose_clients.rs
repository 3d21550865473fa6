#![forbid(unsafe_code)]
//! Compose across engines and tools (issue 13): the same stack, driven by
//! `berth compose` and by docker-compose 1.29.2, each against a private
//! `berth daemon` and a private dockerd 20.10 (each daemon in a scratch
//! network namespace of its own), must give the same observable results:
//! the services running, the web service serving what the database service
//! wrote into their shared volume through its published port, a second
//! `up` recreating nothing, and `down -v` leaving no container, network or
//! volume of the project. `docker compose` with berth as docker's CLI
//! plugin is a third tool.
//!
//! Needs root, dockerd (with containerd, runc, docker-proxy, iptables),
//! docker and docker-compose: skips without them, except under CI=true.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use berth_testkit::{OutputExt, require_root, require_tool};
use common::berthd::run_with_timeout;
use common::dockerd::Dockerd;
use common::engine::{Engine, eventually};
use common::netns::ScratchNet;

const IMAGE: &str = "berthbb:test";
const PROJECT: &str = "cclients";

/// The stack, in a form both Compose v2 and docker-compose 1.29.2 read.
const STACK: &str = r#"
services:
  db:
    image: berthbb:test
    command: ["sh", "-c", "echo stored > /data/greeting; touch /tmp/ready; exec sleep 1000"]
    stop_grace_period: 1s
    volumes:
      - dbdata:/data
    networks: [backend]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 10
  web:
    image: berthbb:test
    command: ["sh", "-c", "mkdir -p /www && cat /data/greeting > /www/index.html && exec httpd -f -p 80 -h /www"]
    stop_grace_period: 1s
    volumes:
      - dbdata:/data:ro
    ports:
      - "18095:80"
    networks: [backend]
    depends_on:
      db:
        condition: service_healthy
networks:
  backend: {}
volumes:
  dbdata: {}
"#;

/// An engine in its own scratch namespace.
struct Side {
    kind: &'static str,
    host: String,
    dir: PathBuf,
    net: ScratchNet,
    _daemon: Box<dyn std::any::Any + Send>,
}

fn berth_side() -> Option<Side> {
    let net = ScratchNet::new();
    let e = Engine::berth_daemon_in_netns(&net)?;
    Some(Side {
        kind: "berth",
        host: e.host.clone(),
        dir: e.dir.clone(),
        net,
        _daemon: Box::new(e),
    })
}

fn dockerd_side() -> Option<Side> {
    let dockerd = require_tool("dockerd")?;
    let docker = require_tool("docker")?;
    for tool in ["containerd", "runc", "docker-proxy", "iptables", "nsenter"] {
        require_tool(tool)?;
    }
    let net = ScratchNet::new();
    let d = Dockerd::start_in_netns(&dockerd, docker, &net.path());
    d.import_busybox(IMAGE);
    let dir = d.dir.join("scratch");
    std::fs::create_dir_all(&dir).unwrap();
    Some(Side {
        kind: "dockerd",
        host: d.host.clone(),
        dir,
        net,
        _daemon: Box::new(d),
    })
}

#[derive(Clone, Copy, Debug)]
enum Tool {
    BerthCompose,
    DockerCompose,
    /// `docker compose`: docker's CLI running berth as its compose plugin
    /// (a link named docker-compose in the CLI's cli-plugins directory).
    DockerPlugin,
}

fn tool_cmd(tool: Tool, side: &Side, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = match tool {
        Tool::BerthCompose => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
            c.env("BERTH_NO_AUTOSTART", "1")
                .args(["-H", &side.host, "compose", "-p", PROJECT]);
            c
        }
        Tool::DockerCompose => {
            let mut c = Command::new(require_tool("docker-compose").expect("checked"));
            c.env("DOCKER_HOST", &side.host)
                .env("COMPOSE_API_VERSION", "1.41")
                .args(["-p", PROJECT]);
            c
        }
        Tool::DockerPlugin => {
            let plugins = side.dir.join("docker-cli/cli-plugins");
            std::fs::create_dir_all(&plugins).unwrap();
            let link = plugins.join("docker-compose");
            if !link.exists() {
                std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_berth"), &link).unwrap();
            }
            let mut c = Command::new(require_tool("docker").expect("checked"));
            c.args(["-H", &side.host, "compose", "-p", PROJECT]);
            c
        }
    };
    cmd.env("DOCKER_CONFIG", side.dir.join("docker-cli"))
        .env_remove("DOCKER_CONTEXT")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null());
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    eprintln!(
        "[{} via {tool:?}] {}: {}{}",
        side.kind,
        args.join(" "),
        out.stdout_str(),
        out.stderr_str()
    );
    out
}

/// `docker -H host args`: every engine is read the same way.
fn docker(side: &Side, args: &[&str]) -> String {
    let mut cmd = Command::new(require_tool("docker").expect("checked"));
    cmd.env("DOCKER_CONFIG", side.dir.join("docker-cli"))
        .env("DOCKER_API_VERSION", "1.41")
        .args(["-H", &side.host])
        .args(args)
        .stdin(Stdio::null());
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    out.assert_success();
    out.stdout_str()
}

fn http_get(side: &Side) -> Option<String> {
    side.net.run(|| {
        use std::io::{Read, Write};
        let addr: std::net::SocketAddr = "127.0.0.1:18095".parse().unwrap();
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
    })
}

/// The scenario; what was observed, in words that do not depend on the
/// engine or the tool (names and ids left out).
fn scenario(side: &Side, tool: Tool) -> Vec<String> {
    let dir = side.dir.join(format!("{tool:?}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("docker-compose.yml"), STACK).unwrap();
    let mut seen = Vec::new();
    let label = format!("label=com.docker.compose.project={PROJECT}");
    let services = || {
        let mut s: Vec<String> = docker(
            side,
            &[
                "ps",
                "-a",
                "--filter",
                &label,
                "--format",
                "{{.Label \"com.docker.compose.service\"}} {{.State}}",
            ],
        )
        .lines()
        .map(str::to_string)
        .collect();
        s.sort();
        s
    };
    let ids = || docker(side, &["ps", "-aq", "--no-trunc", "--filter", &label]);

    let up = tool_cmd(tool, side, &dir, &["up", "-d"]);
    seen.push(format!("up: exit {}", up.status.code().unwrap_or(-1)));
    seen.push(format!("services: {:?}", services()));
    let served = eventually(Duration::from_secs(10), || {
        http_get(side).is_some_and(|b| b == "stored\n")
    });
    seen.push(format!("web serves the volume's content: {served}"));
    let before = ids();
    let again = tool_cmd(tool, side, &dir, &["up", "-d"]);
    seen.push(format!(
        "up again: exit {}",
        again.status.code().unwrap_or(-1)
    ));
    seen.push(format!("up again kept the containers: {}", ids() == before));
    let down = tool_cmd(tool, side, &dir, &["down", "-v"]);
    seen.push(format!(
        "down -v: exit {}",
        down.status.code().unwrap_or(-1)
    ));
    seen.push(format!("left: {:?}", services()));
    let nets = docker(side, &["network", "ls", "--filter", &label, "-q"]);
    let vols = docker(side, &["volume", "ls", "--filter", &label, "-q"]);
    seen.push(format!(
        "networks left: {}, volumes left: {}",
        nets.lines().count(),
        vols.lines().count()
    ));
    seen
}

fn expected() -> Vec<String> {
    [
        "up: exit 0",
        "services: [\"db running\", \"web running\"]",
        "web serves the volume's content: true",
        "up again: exit 0",
        "up again kept the containers: true",
        "down -v: exit 0",
        "left: []",
        "networks left: 0, volumes left: 0",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn both_compose_tools_give_the_same_results_on_both_engines() {
    if !require_root()
        || require_tool("docker-compose").is_none()
        || require_tool("docker").is_none()
    {
        return;
    }
    let (b, d) = std::thread::scope(|s| {
        let b = s.spawn(berth_side);
        let d = s.spawn(dockerd_side);
        (b.join().unwrap(), d.join().unwrap())
    });
    let (Some(b), Some(d)) = (b, d) else {
        return;
    };
    let mut failures = Vec::new();
    for side in [&b, &d] {
        for tool in [Tool::BerthCompose, Tool::DockerCompose, Tool::DockerPlugin] {
            let seen = scenario(side, tool);
            if seen != expected() {
                failures.push(format!(
                    "{} via {tool:?}:\n  got  {seen:?}\n  want {:?}",
                    side.kind,
                    expected()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
