#![forbid(unsafe_code)]
//! `berth compose` (issue 13) on busybox stacks that need no network
//! access, against a private `berth daemon` in a scratch network namespace
//! (common/netns.rs: its bridges and rules never touch the host's):
//!
//! 1. a two-service stack (a network, a named volume, depends_on on a
//!    healthcheck, a published port): `up -d`; `up` again changes nothing
//!    (the same container ids and start times); a changed environment
//!    recreates that service only; `--scale web=3` runs three containers
//!    that all answer to the service's name; `down -v` leaves no container,
//!    network or volume;
//! 2. `config`, `ps`, `logs`, `stop`/`start`, and bad input.
//!
//! Needs root: skips without it, except under CI=true.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use berth_testkit::OutputExt;
use common::engine::{Engine, eventually};
use common::netns::ScratchNet;

fn project_dir(e: &Engine, name: &str, compose: &str) -> PathBuf {
    e.tree(name, &[("compose.yaml", compose)])
}

/// `berth compose <args>` in `dir`.
fn compose(e: &Engine, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = e.berth_cmd(&["compose"]);
    cmd.args(args).current_dir(dir);
    let out = cmd.output().unwrap();
    eprintln!(
        "$ berth compose {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The project's containers as `name id started`, sorted.
fn containers(e: &Engine, project: &str) -> Vec<(String, String, String)> {
    let out = e.berth(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--format",
        "{{.Names}} {{.ID}}",
    ]);
    out.assert_success();
    let mut list: Vec<(String, String, String)> = out
        .stdout_str()
        .lines()
        .map(|l| {
            let (name, id) = l.split_once(' ').unwrap();
            let started = e.berth(&["inspect", "--format", "{{.State.StartedAt}}", id]);
            (
                name.to_string(),
                id.to_string(),
                started.stdout_str().trim().to_string(),
            )
        })
        .collect();
    list.sort();
    list
}

const STACK: &str = r#"
services:
  db:
    image: berthbb:test
    command: ["sh", "-c", "echo ${GREETING:-hello} > /data/greeting; touch /tmp/ready; exec sleep 1000"]
    volumes:
      - dbdata:/data
    networks: [backend]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 10
  web:
    image: berthbb:test
    command: ["sh", "-c", "mkdir -p /www && cat /data/greeting > /www/index.html && exec httpd -f -p 80 -h /www"]
    stop_grace_period: 1s
    environment:
      MODE: ${MODE:-one}
    volumes:
      - dbdata:/data:ro
    ports:
      - "80"
    networks: [backend]
    depends_on:
      db:
        condition: service_healthy
networks:
  backend: {}
volumes:
  dbdata: {}
"#;

#[test]
fn a_stack_comes_up_stays_up_changes_scales_and_goes() {
    if !berth_testkit::require_root() {
        return;
    }
    let net = ScratchNet::new();
    let Some(e) = Engine::berth_daemon_in_netns(&net) else {
        return;
    };
    let dir = project_dir(&e, "stack", STACK);
    let p = ["-p", "cstack"];
    let up = |extra: &[&str]| {
        let mut args = p.to_vec();
        args.extend(["up", "-d"]);
        args.extend(extra);
        compose(&e, &dir, &args)
    };
    up(&[]).assert_success();
    let first = containers(&e, "cstack");
    assert_eq!(
        first.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["cstack-db-1", "cstack-web-1"]
    );
    // The web container reads what db wrote into the shared volume, and
    // is published on the scratch host's port.
    // (Any free host port: the service scales below.)
    let port = e.berth(&["port", "cstack-web-1", "80/tcp"]);
    port.assert_success();
    let addr = port
        .stdout_str()
        .lines()
        .next()
        .unwrap()
        .trim()
        .replace("0.0.0.0", "127.0.0.1");
    let fetch = || {
        net.run(|| {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr.as_str()).ok()?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
            let mut body = String::new();
            s.read_to_string(&mut body).ok()?;
            Some(body)
        })
    };
    assert!(eventually(Duration::from_secs(10), || fetch()
        .is_some_and(|b| b.ends_with("hello\n"))));

    // Again: nothing changes.
    let out = up(&[]);
    out.assert_success();
    assert_eq!(
        containers(&e, "cstack"),
        first,
        "a second up recreated something"
    );
    assert!(out.stderr_str().contains("Running"), "{}", out.stderr_str());

    // A changed environment recreates web only.
    let mut cmd = e.berth_cmd(&["compose", "-p", "cstack", "up", "-d"]);
    cmd.current_dir(&dir).env("MODE", "two");
    let out = cmd.output().unwrap();
    out.assert_success();
    let second = containers(&e, "cstack");
    assert_eq!(second[0], first[0], "db was recreated");
    assert_ne!(second[1].1, first[1].1, "web was not recreated");
    let env = e.berth(&[
        "inspect",
        "--format",
        "{{json .Config.Env}}",
        "cstack-web-1",
    ]);
    assert!(
        env.stdout_str().contains("MODE=two"),
        "{}",
        env.stdout_str()
    );

    // Three web containers, all under the service's name.
    let mut cmd = e.berth_cmd(&["compose", "-p", "cstack", "up", "-d", "--scale", "web=3"]);
    cmd.current_dir(&dir).env("MODE", "two");
    cmd.output().unwrap().assert_success();
    let names: Vec<String> = containers(&e, "cstack").into_iter().map(|c| c.0).collect();
    assert_eq!(
        names,
        [
            "cstack-db-1",
            "cstack-web-1",
            "cstack-web-2",
            "cstack-web-3"
        ]
    );
    let lookup = e.berth(&["exec", "cstack-db-1", "nslookup", "web"]);
    lookup.assert_success();
    let answers = lookup
        .stdout_str()
        .lines()
        .filter(|l| l.starts_with("Address") && !l.contains("127.0.0.11"))
        .count();
    assert_eq!(answers, 3, "{}", lookup.stdout_str());

    // ps and logs.
    let out = compose(&e, &dir, &["-p", "cstack", "ps"]);
    out.assert_success();
    assert!(out.stdout_str().starts_with("NAME"), "{}", out.stdout_str());
    assert!(
        out.stdout_str().contains("->80/tcp"),
        "{}",
        out.stdout_str()
    );

    // port, top, ls.
    let out = compose(
        &e,
        &dir,
        &["-p", "cstack", "port", "--index", "2", "web", "80"],
    );
    out.assert_success();
    assert!(
        out.stdout_str()
            .trim()
            .rsplit(':')
            .next()
            .unwrap()
            .parse::<u16>()
            .is_ok(),
        "{}",
        out.stdout_str()
    );
    let out = compose(&e, &dir, &["-p", "cstack", "top", "db"]);
    out.assert_success();
    assert!(
        out.stdout_str().starts_with("cstack-db-1\n"),
        "{}",
        out.stdout_str()
    );
    assert!(
        out.stdout_str().contains("sleep 1000"),
        "{}",
        out.stdout_str()
    );
    let out = compose(&e, &dir, &["ls"]);
    out.assert_success();
    let file = dir.join("compose.yaml").display().to_string();
    assert!(
        out.stdout_str()
            .lines()
            .any(|l| l.starts_with("cstack ") && l.contains("running(4)") && l.ends_with(&file)),
        "{}",
        out.stdout_str()
    );
    let out = compose(
        &e,
        &dir,
        &["ls", "--format", "json", "--filter", "name=cstack"],
    );
    let listed: serde_json::Value = serde_json::from_str(&out.stdout_str()).unwrap();
    assert_eq!(
        listed,
        serde_json::json!([{"Name": "cstack", "Status": "running(4)", "ConfigFiles": file}])
    );

    // down -v: nothing left.
    compose(&e, &dir, &["-p", "cstack", "down", "-v"]).assert_success();
    assert!(containers(&e, "cstack").is_empty());
    let nets = e.berth(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        !nets.stdout_str().contains("cstack"),
        "{}",
        nets.stdout_str()
    );
    let vols = e.berth(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(
        !vols.stdout_str().contains("cstack"),
        "{}",
        vols.stdout_str()
    );
}

/// `up` in the foreground: each container's output under its name, a
/// line when one exits, and Ctrl-C (SIGINT) stops the others and exits 130.
#[test]
fn attached_up_streams_output_and_ctrl_c_stops_the_stack() {
    if !berth_testkit::require_root() {
        return;
    }
    let net = ScratchNet::new();
    let Some(e) = Engine::berth_daemon_in_netns(&net) else {
        return;
    };
    let dir = project_dir(
        &e,
        "attached",
        r#"
services:
  talker:
    image: berthbb:test
    command: ["sh", "-c", "echo hello from talker; exec sleep 1000"]
    stop_grace_period: 1s
  quitter:
    image: berthbb:test
    command: ["sh", "-c", "echo bye; exit 3"]
"#,
    );
    let file = dir.join("compose.yaml").display().to_string();
    let mut up = e.spawn(&["compose", "-f", &file, "-p", "cattach", "up"]);
    let said = |up: &common::engine::Background, who: &str, what: &str| {
        up.stdout()
            .lines()
            .any(|l| l.starts_with(who) && l.ends_with(what))
    };
    assert!(
        eventually(Duration::from_secs(30), || said(
            &up,
            "cattach-talker-1 ",
            "| hello from talker"
        ) && said(
            &up,
            "cattach-quitter-1 ",
            "exited with code 3"
        )),
        "stdout:\n{}\nstderr:\n{}",
        up.stdout(),
        up.stderr()
    );
    assert!(said(&up, "cattach-quitter-1 ", "| bye"), "{}", up.stdout());
    up.signal(libc::SIGINT);
    let status = up
        .wait(Duration::from_secs(30))
        .expect("up exits after Ctrl-C");
    assert_eq!(status.code(), Some(130), "{}", up.stderr());
    assert!(
        up.stderr().contains("Gracefully stopping"),
        "{}",
        up.stderr()
    );
    let state = e.berth(&["inspect", "-f", "{{.State.Status}}", "cattach-talker-1"]);
    assert_eq!(state.stdout_str().trim(), "exited");
    compose(&e, &dir, &["-p", "cattach", "down"]).assert_success();
}

#[test]
fn config_resolves_and_bad_files_are_refused() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let dir = project_dir(
        &e,
        "cfg",
        "services:\n  app:\n    image: berthbb:test\n    environment:\n      - A=${A:-default}\n    ports: [\"8080:80\"]\n",
    );
    let out = compose(&e, &dir, &["-p", "cfg", "config"]);
    out.assert_success();
    let text = out.stdout_str();
    assert!(text.contains("name: cfg"), "{text}");
    assert!(text.contains("A: default"), "{text}");
    assert!(
        text.contains("published: \"8080\"") || text.contains("published: '8080'"),
        "{text}"
    );
    let out = compose(&e, &dir, &["config", "--services"]);
    assert_eq!(out.stdout_str(), "app\n");

    fs::write(
        dir.join("compose.yaml"),
        "services:\n  app:\n    image: x\n    imagee: y\n",
    )
    .unwrap();
    let out = compose(&e, &dir, &["config"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stderr_str().contains("imagee"), "{}", out.stderr_str());

    fs::write(dir.join("compose.yaml"), "services:\n  app: [unclosed\n").unwrap();
    let out = compose(&e, &dir, &["config"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        out.stderr_str().contains("compose.yaml"),
        "{}",
        out.stderr_str()
    );
}

#[test]
fn bad_projects_are_refused_before_anything_is_made() {
    if !berth_testkit::require_root() {
        return;
    }
    let net = ScratchNet::new();
    let Some(e) = Engine::berth_daemon_in_netns(&net) else {
        return;
    };
    let cases = [
        (
            "cycle",
            "services:\n  a:\n    image: berthbb:test\n    depends_on: [b]\n  b:\n    image: berthbb:test\n    depends_on: [a]\n",
            "dependency cycle detected",
        ),
        (
            "required",
            "services:\n  a:\n    image: ${NOPE:?set NOPE first}\n",
            "required variable NOPE is missing a value: set NOPE first",
        ),
        (
            "type",
            "services:\n  a:\n    image: berthbb:test\n    ports: 8080\n",
            "services.a.ports must be a list",
        ),
        (
            "name",
            "services:\n  \"web app\":\n    image: berthbb:test\n",
            "'web app' not allowed",
        ),
        (
            "clash",
            "services:\n  a:\n    image: berthbb:test\n    ports: [\"18097:80\"]\n    networks: [n]\n  b:\n    image: berthbb:test\n    ports: [\"18097:81\"]\n    networks: [n]\nnetworks:\n  n: {}\nvolumes:\n  v: {}\n",
            "services a and b both publish port 18097/tcp",
        ),
        (
            "context",
            "services:\n  a:\n    build: ./nowhere\n    networks: [n]\nnetworks:\n  n: {}\n",
            "nowhere",
        ),
    ];
    for (name, file, want) in cases {
        let dir = project_dir(&e, &format!("bad-{name}"), file);
        let out = compose(&e, &dir, &["-p", "cbad", "up", "-d"]);
        assert_ne!(out.status.code(), Some(0), "{name} came up");
        assert!(
            out.stderr_str().contains(want),
            "{name}: wanted {want:?} in {}",
            out.stderr_str()
        );
        // Nothing was made.
        assert!(containers(&e, "cbad").is_empty(), "{name}: containers left");
        let nets = e.berth(&[
            "network",
            "ls",
            "--filter",
            "label=com.docker.compose.project=cbad",
            "-q",
        ]);
        assert_eq!(nets.stdout_str().trim(), "", "{name}: networks left");
        let vols = e.berth(&[
            "volume",
            "ls",
            "--filter",
            "label=com.docker.compose.project=cbad",
            "-q",
        ]);
        assert_eq!(vols.stdout_str().trim(), "", "{name}: volumes left");
    }
}

#[test]
fn five_services_with_an_override_file_extends_and_a_profile() {
    if !berth_testkit::require_root() {
        return;
    }
    let net = ScratchNet::new();
    let Some(e) = Engine::berth_daemon_in_netns(&net) else {
        return;
    };
    let base = r#"
x-common: &common
  image: berthbb:test
  stop_grace_period: 1s
  command: ["sleep", "1000"]
services:
  a: *common
  b:
    <<: *common
    depends_on: [a]
  c:
    extends:
      file: common.yaml
      service: sleeper
    depends_on: [b]
  d:
    <<: *common
    depends_on: [c]
  e:
    <<: *common
    environment:
      ROLE: ${ROLE:-worker}
    depends_on: [d]
  debug:
    <<: *common
    profiles: [debug]
"#;
    let dir = e.tree(
        "five",
        &[
            ("compose.yaml", base),
            (
                "compose.override.yaml",
                "services:\n  e:\n    environment:\n      EXTRA: from-override\n",
            ),
            (
                "common.yaml",
                "services:\n  sleeper:\n    image: berthbb:test\n    stop_grace_period: 1s\n    command: [\"sleep\", \"1000\"]\n    labels:\n      tier: extended\n",
            ),
            (".env", "ROLE=from-dotenv\n"),
        ],
    );
    compose(&e, &dir, &["-p", "cfive", "up", "-d"]).assert_success();
    let names: Vec<String> = containers(&e, "cfive").into_iter().map(|c| c.0).collect();
    assert_eq!(
        names,
        [
            "cfive-a-1",
            "cfive-b-1",
            "cfive-c-1",
            "cfive-d-1",
            "cfive-e-1"
        ]
    );
    let env = e.berth(&["inspect", "--format", "{{json .Config.Env}}", "cfive-e-1"]);
    assert!(
        env.stdout_str().contains("ROLE=from-dotenv"),
        "{}",
        env.stdout_str()
    );
    assert!(
        env.stdout_str().contains("EXTRA=from-override"),
        "{}",
        env.stdout_str()
    );
    let label = e.berth(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"tier\"}}",
        "cfive-c-1",
    ]);
    assert_eq!(label.stdout_str().trim(), "extended");
    // The profile's service comes up only when asked.
    compose(&e, &dir, &["-p", "cfive", "--profile", "debug", "up", "-d"]).assert_success();
    assert_eq!(containers(&e, "cfive").len(), 6);
    compose(&e, &dir, &["-p", "cfive", "--profile", "debug", "down"]).assert_success();
    assert!(containers(&e, "cfive").is_empty());
}

#[test]
fn build_push_and_pull_a_service_image_through_a_registry() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let Some(reg) = common::Registry::start(None) else {
        return;
    };
    let image = format!("{}/composed/app:1", reg.host());
    let dir = e.tree(
        "push",
        &[
            (
                "compose.yaml",
                &format!("services:\n  app:\n    build: ./app\n    image: {image}\n"),
            ),
            (
                "app/Dockerfile",
                "FROM berthbb:test\nLABEL made=by-compose\n",
            ),
        ],
    );
    compose(&e, &dir, &["-p", "cpush", "build"]).assert_success();
    compose(&e, &dir, &["-p", "cpush", "push"]).assert_success();
    e.berth(&["rmi", &image]).assert_success();
    compose(&e, &dir, &["-p", "cpush", "pull"]).assert_success();
    let label = e.berth(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"made\"}}",
        &image,
    ]);
    assert_eq!(label.stdout_str().trim(), "by-compose");
}
