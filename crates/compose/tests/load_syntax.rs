//! A service's other keys: every short syntax expanded, the long ones read.

mod common;

use std::collections::BTreeMap;

use berth_compose::model::*;
use common::{Dir, load_err, load_ok};

fn one(yaml: &str) -> (Dir, Project) {
    let d = Dir::new();
    d.write("compose.yaml", yaml);
    let p = d.load();
    (d, p)
}

#[test]
fn environment_list_map_and_env_files() {
    let d = Dir::new();
    d.write(
        "common.env",
        "A=from-file\nB=from-file\nC=${FROM_PROJECT}\n# c\nD='lit $x'\n",
    );
    d.write("web.env", "B=from-web-file\n");
    d.write("raw.env", "R=\"kept quotes\" ${NOT}\n");
    d.write(
        "compose.yaml",
        r#"
services:
  list:
    image: x
    env_file: common.env
    environment:
      - A=from-environment
      - NUM=1
  map:
    image: x
    env_file:
      - common.env
      - path: web.env
      - path: missing.env
        required: false
      - path: raw.env
        format: raw
    environment:
      NUM: 1.50
      FLOAT: 2.0
      BOOL: true
      NO_VALUE:
"#,
    );
    let mut o = d.opts();
    o.environment.insert("FROM_PROJECT".into(), "proj".into());
    let p = load_ok(&o);
    let s = |svc: &str| -> BTreeMap<String, Option<String>> { p.services[svc].environment.clone() };
    let m = |pairs: &[(&str, Option<&str>)]| -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(String::from)))
            .collect()
    };
    assert_eq!(
        s("list"),
        m(&[
            ("A", Some("from-environment")),
            ("B", Some("from-file")),
            ("C", Some("proj")),
            ("D", Some("lit $x")),
            ("NUM", Some("1")),
        ])
    );
    assert_eq!(
        s("map"),
        m(&[
            ("A", Some("from-file")),
            ("B", Some("from-web-file")),
            ("BOOL", Some("true")),
            ("C", Some("proj")),
            ("D", Some("lit $x")),
            ("FLOAT", Some("2")),
            ("NO_VALUE", None),
            ("NUM", Some("1.5")),
            ("R", Some("\"kept quotes\" ${NOT}")),
        ])
    );
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    env_file: nope.env\n",
    );
    let e = load_err(&d.opts());
    assert!(
        e.starts_with(&format!(
            "env file {} not found",
            d.path("nope.env").display()
        )),
        "{e}"
    );
}

#[test]
fn networks_and_the_default_network() {
    let (_, p) = one(r#"
services:
  plain:
    image: x
  listed:
    image: x
    networks: [front, back]
  mapped:
    image: x
    networks:
      front:
        aliases: [api]
        ipv4_address: 172.20.0.5
        priority: 10
      default:
  host:
    image: x
    network_mode: host
networks:
  front:
    driver: bridge
    driver_opts:
      com.docker.network.bridge.name: br-front
      mtu: 1400
    ipam:
      config:
        - subnet: 172.20.0.0/16
          gateway: 172.20.0.1
    labels: [a=b]
  back:
    name: shared-back
    internal: true
  outside:
    external: true
  renamed:
    external: true
    name: real-name
"#);
    let nets = |s: &str| p.services[s].networks.keys().cloned().collect::<Vec<_>>();
    assert_eq!(nets("plain"), vec!["default"]);
    assert_eq!(nets("listed"), vec!["back", "front"]);
    assert_eq!(nets("mapped"), vec!["default", "front"]);
    assert!(p.services["host"].networks.is_empty());
    assert_eq!(
        p.services["mapped"].networks["front"],
        ServiceNetwork {
            aliases: vec!["api".into()],
            ipv4_address: Some("172.20.0.5".into()),
            ipv6_address: None,
            priority: Some(10),
        }
    );
    assert_eq!(p.networks["default"].name, "myapp_default");
    assert_eq!(p.networks["back"].name, "shared-back");
    assert!(p.networks["back"].internal);
    assert_eq!(p.networks["outside"].name, "outside");
    assert!(p.networks["outside"].external);
    assert_eq!(p.networks["renamed"].name, "real-name");
    let front = &p.networks["front"];
    assert_eq!(front.name, "myapp_front");
    assert_eq!(front.driver.as_deref(), Some("bridge"));
    assert_eq!(front.driver_opts["mtu"], "1400");
    assert_eq!(front.labels["a"], "b");
    assert_eq!(
        front.ipam.as_ref().unwrap().config[0].subnet.as_deref(),
        Some("172.20.0.0/16")
    );
}

#[test]
fn no_default_network_when_unused() {
    let (_, p) = one("services:\n  a:\n    image: x\n    network_mode: none\n");
    assert!(p.networks.is_empty());
}

#[test]
fn undefined_network_and_exclusive_network_mode() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    networks: [front]\n",
    );
    assert_eq!(
        d.err(),
        "service \"web\" refers to undefined network front: invalid compose project"
    );
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    network_mode: host\n    networks: [default]\n",
    );
    assert!(
        d.err()
            .contains("declares mutually exclusive `network_mode` and `networks`")
    );
}

#[test]
fn depends_on_list_and_map_and_implied() {
    let (_, p) = one(r#"
services:
  db:
    image: x
  cache:
    image: x
  web:
    image: x
    depends_on: [db]
  api:
    image: x
    depends_on:
      db:
        condition: service_healthy
        restart: true
      cache:
        condition: service_started
        required: false
  side:
    image: x
    network_mode: service:web
    links: [db:database]
    volumes_from: [cache:ro, container:other]
"#);
    let dep = |c: &str, restart, required| DependsOn {
        condition: c.into(),
        restart,
        required,
    };
    assert_eq!(
        p.services["web"].depends_on,
        BTreeMap::from([("db".to_string(), dep("service_started", false, true))])
    );
    assert_eq!(
        p.services["api"].depends_on,
        BTreeMap::from([
            ("db".to_string(), dep("service_healthy", true, true)),
            ("cache".to_string(), dep("service_started", false, false)),
        ])
    );
    assert_eq!(
        p.services["side"].depends_on,
        BTreeMap::from([
            ("web".to_string(), dep("service_started", true, true)),
            ("db".to_string(), dep("service_started", true, true)),
            ("cache".to_string(), dep("service_started", false, true)),
        ])
    );
}

#[test]
fn dependency_errors() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    depends_on: [db]\n",
    );
    assert_eq!(
        d.err(),
        "service \"web\" depends on undefined service \"db\": invalid compose project"
    );
    d.write(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n",
    );
    assert_eq!(d.err(), "dependency cycle detected: a -> b -> c -> a");
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: service_ready\n",
    );
    assert!(
        d.err()
            .contains("services.web.depends_on.db.condition must be one of")
    );
}

#[test]
fn healthcheck_durations_and_test_forms() {
    let (_, p) = one(r#"
services:
  a:
    image: x
    healthcheck:
      test: curl -f http://localhost
      interval: 1m30s
      timeout: 10s
      start_period: 1.5s
      start_interval: 500ms
      retries: 3
    stop_grace_period: 1d2h
  b:
    image: x
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "pg"]
  c:
    image: x
    healthcheck:
      disable: true
"#);
    assert_eq!(
        p.services["a"].healthcheck,
        Some(Healthcheck {
            test: vec!["CMD-SHELL".into(), "curl -f http://localhost".into()],
            interval: Some(90_000_000_000),
            timeout: Some(10_000_000_000),
            start_period: Some(1_500_000_000),
            start_interval: Some(500_000_000),
            retries: Some(3),
            disable: false,
        })
    );
    assert_eq!(
        p.services["a"].stop_grace_period,
        Some(26 * 3_600_000_000_000)
    );
    assert_eq!(
        p.services["b"].healthcheck.as_ref().unwrap().test,
        vec!["CMD", "pg_isready", "-U", "pg"]
    );
    assert!(p.services["c"].healthcheck.as_ref().unwrap().disable);

    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    healthcheck:\n      test: [curl, x]\n",
    );
    assert_eq!(
        d.err(),
        "services.a.healthcheck.test must start either by \"CMD\", \"CMD-SHELL\" or \"NONE\""
    );
}

#[test]
fn sizes_cpus_and_commands() {
    let (_, p) = one(r#"
services:
  a:
    image: x
    mem_limit: 512m
    shm_size: 1g
    memswap_limit: -1
    mem_reservation: 1048576
    cpus: "0.5"
    command: sh -c 'echo "hello world" && sleep 1' ignored\ space
    entrypoint: ["/bin/tini", "--"]
  b:
    image: x
    mem_limit: 1.5GiB
    cpus: 2
    command: ""
"#);
    let a = &p.services["a"];
    assert_eq!(a.mem_limit, Some(512 << 20));
    assert_eq!(a.shm_size, Some(1 << 30));
    assert_eq!(a.memswap_limit, Some(-1));
    assert_eq!(a.mem_reservation, Some(1 << 20));
    assert_eq!(a.cpus, Some(0.5));
    assert_eq!(
        a.command,
        Some(vec![
            "sh".into(),
            "-c".into(),
            "echo \"hello world\" && sleep 1".into(),
            "ignored space".into()
        ])
    );
    assert_eq!(a.entrypoint, Some(vec!["/bin/tini".into(), "--".into()]));
    let b = &p.services["b"];
    assert_eq!(b.mem_limit, Some(1536 << 20));
    assert_eq!(b.cpus, Some(2.0));
    assert_eq!(b.command, Some(vec![]));
}

#[test]
fn build_short_and_long() {
    let (d, p) = one(r#"
services:
  short:
    build: ./app
  long:
    build:
      context: ctx
      dockerfile: Dockerfile.dev
      args:
        - VERSION=1
        - FROM_ENV
        - NOT_SET
      target: prod
      cache_from: [a, b]
      labels:
        l: v
      network: host
      extra_hosts: ["h=1.2.3.4"]
      shm_size: 256m
      no_cache: true
      pull: "true"
  inline:
    build:
      dockerfile_inline: |
        FROM scratch
  remote:
    build: https://github.com/docker/x.git#main
"#);
    let _ = &d;
    let short = p.services["short"].build.as_ref().unwrap();
    assert_eq!(short.context, d.path("app"));
    assert_eq!(short.dockerfile.as_deref(), Some("Dockerfile"));
    let long = p.services["long"].build.as_ref().unwrap();
    assert_eq!(
        long,
        &Build {
            context: d.path("ctx"),
            dockerfile: Some("Dockerfile.dev".into()),
            dockerfile_inline: None,
            args: BTreeMap::from([("VERSION".into(), Some("1".into()))]),
            target: Some("prod".into()),
            cache_from: vec!["a".into(), "b".into()],
            labels: BTreeMap::from([("l".into(), "v".into())]),
            network: Some("host".into()),
            extra_hosts: vec!["h:1.2.3.4".into()],
            shm_size: Some(256 << 20),
            no_cache: true,
            pull: true,
        }
    );
    let inline = p.services["inline"].build.as_ref().unwrap();
    assert_eq!(inline.context, d.root);
    assert_eq!(inline.dockerfile, None);
    assert_eq!(inline.dockerfile_inline.as_deref(), Some("FROM scratch\n"));
    assert_eq!(
        p.services["remote"]
            .build
            .as_ref()
            .unwrap()
            .context
            .to_str(),
        Some("https://github.com/docker/x.git#main")
    );

    let mut o = d.opts();
    o.environment.insert("FROM_ENV".into(), "e".into());
    let p = load_ok(&o);
    assert_eq!(
        p.services["long"].build.as_ref().unwrap().args["FROM_ENV"].as_deref(),
        Some("e")
    );
}

#[test]
fn deploy_scale_labels_hosts_ulimits_and_more() {
    let (_, p) = one(r#"
services:
  a:
    image: x
    scale: 2
    deploy:
      replicas: 2
      resources:
        limits:
          cpus: '1.5'
          memory: 1g
          pids: 100
        reservations:
          memory: 256m
      restart_policy:
        condition: on-failure
        delay: 5s
        max_attempts: 3
        window: 2m
      labels:
        x: y
      update_config:
        parallelism: 2
    labels:
      - com.example.a=1
      - com.example.flag
    extra_hosts:
      - "db:10.0.0.2"
      - "v6=::1"
      - "br=[::2]"
    ulimits:
      nproc: 65535
      nofile:
        soft: 1024
        hard: 2048
    tmpfs: /run
    dns: 1.1.1.1
    cap_add: [NET_ADMIN]
    sysctls:
      net.core.somaxconn: 1024
    logging:
      driver: json-file
      options:
        max-size: 10m
        max-file: 3
    init: true
    read_only: yes
    expose: ["3000", 4000]
    group_add: [audio, 1000]
    devices:
      - /dev/fuse
      - source: /dev/sda
        target: /dev/xvda
        permissions: r
  b:
    image: x
    extra_hosts:
      db: 10.0.0.3
      multi: [10.0.0.4, 10.0.0.5]
"#);
    let a = &p.services["a"];
    assert_eq!(a.scale, Some(2));
    assert_eq!(a.replicas(), 2);
    let deploy = a.deploy.as_ref().unwrap();
    assert_eq!(deploy.replicas, Some(2));
    let limits = deploy.resources.as_ref().unwrap().limits.as_ref().unwrap();
    assert_eq!(
        limits,
        &Resource {
            cpus: Some(1.5),
            memory: Some(1 << 30),
            pids: Some(100)
        }
    );
    assert_eq!(
        deploy.restart_policy,
        Some(RestartPolicy {
            condition: Some("on-failure".into()),
            delay: Some(5_000_000_000),
            max_attempts: Some(3),
            window: Some(120_000_000_000),
        })
    );
    assert_eq!(deploy.labels["x"], "y");
    assert!(
        p.warnings.iter().any(|w| w
            .ends_with("services.a.deploy.update_config is ignored: it only applies to a Swarm")),
        "{:?}",
        p.warnings
    );
    assert_eq!(a.labels["com.example.a"], "1");
    assert_eq!(a.labels["com.example.flag"], "");
    assert_eq!(a.extra_hosts, vec!["db:10.0.0.2", "v6:::1", "br:::2"]);
    assert_eq!(
        a.ulimits["nproc"],
        Ulimit {
            soft: 65535,
            hard: 65535
        }
    );
    assert_eq!(
        a.ulimits["nofile"],
        Ulimit {
            soft: 1024,
            hard: 2048
        }
    );
    assert_eq!(a.tmpfs, vec!["/run"]);
    assert_eq!(a.dns, vec!["1.1.1.1"]);
    assert_eq!(a.sysctls["net.core.somaxconn"], "1024");
    let logging = a.logging.as_ref().unwrap();
    assert_eq!(logging.driver.as_deref(), Some("json-file"));
    assert_eq!(logging.options["max-file"], "3");
    assert_eq!(a.init, Some(true));
    assert!(a.read_only);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("\"yes\" for boolean is not supported by YAML 1.2"))
    );
    assert_eq!(a.expose, vec!["3000", "4000"]);
    assert_eq!(a.group_add, vec!["audio", "1000"]);
    assert_eq!(a.devices, vec!["/dev/fuse", "/dev/sda:/dev/xvda:r"]);
    assert_eq!(
        p.services["b"].extra_hosts,
        vec!["db:10.0.0.3", "multi:10.0.0.4", "multi:10.0.0.5"]
    );
}

#[test]
fn scale_and_replicas_must_agree() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    scale: 2\n    deploy:\n      replicas: 3\n",
    );
    assert_eq!(
        d.err(),
        "services.a: can't set distinct values on 'scale' and 'deploy.replicas': invalid compose project"
    );
    d.write(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    scale: 2\n    container_name: fixed\n",
    );
    assert!(d.err().contains("can't set container_name and scale"));
}

#[test]
fn secrets_and_configs() {
    let (d, p) = one(r#"
services:
  a:
    image: x
    secrets:
      - db_password
      - source: api_key
        target: /etc/key
        uid: "103"
        gid: 103
        mode: 0440
    configs:
      - app_config
      - source: inline
        target: /etc/inline.conf
        mode: "0644"
secrets:
  db_password:
    file: ./secrets/db.txt
  api_key:
    environment: API_KEY
configs:
  app_config:
    file: ~/app.conf
  inline:
    content: |
      key=value
  from_env:
    environment: CONFIG_VAR
  ext:
    external: true
"#);
    let a = &p.services["a"];
    assert_eq!(
        a.secrets,
        vec![
            FileRef {
                source: "db_password".into(),
                target: Some("/run/secrets/db_password".into()),
                ..FileRef::default()
            },
            FileRef {
                source: "api_key".into(),
                target: Some("/etc/key".into()),
                uid: Some("103".into()),
                gid: Some("103".into()),
                mode: Some(0o440),
            },
        ]
    );
    assert_eq!(
        a.configs,
        vec![
            FileRef {
                source: "app_config".into(),
                ..FileRef::default()
            },
            FileRef {
                source: "inline".into(),
                target: Some("/etc/inline.conf".into()),
                mode: Some(0o644),
                ..FileRef::default()
            },
        ]
    );
    assert_eq!(
        p.secrets["db_password"].file,
        Some(d.path("secrets/db.txt"))
    );
    assert_eq!(
        p.secrets["db_password"].name.as_deref(),
        Some("myapp_db_password")
    );
    assert_eq!(p.secrets["api_key"].environment.as_deref(), Some("API_KEY"));
    assert_eq!(
        p.configs["app_config"].file,
        Some("/home/me/app.conf".into())
    );
    assert_eq!(p.configs["inline"].content.as_deref(), Some("key=value\n"));
    assert!(p.configs["ext"].external);
    assert_eq!(p.configs["ext"].name.as_deref(), Some("ext"));

    d.write(
        "compose.yaml",
        "services:\n  a:\n    image: x\nsecrets:\n  s:\n    file: a\n    environment: B\n",
    );
    assert!(
        load_err(&d.opts())
            .ends_with("secrets.s file|environment attributes are mutually exclusive")
    );
    d.write(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    secrets: [nope]\n",
    );
    assert_eq!(
        load_err(&d.opts()),
        "service \"a\" refers to undefined secret nope: invalid compose project"
    );
}

#[test]
fn config_from_environment_gets_its_content() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    configs: [c]\nconfigs:\n  c:\n    environment: CONF\n",
    );
    let mut o = d.opts();
    o.environment.insert("CONF".into(), "v=1".into());
    let p = load_ok(&o);
    assert_eq!(p.configs["c"].content.as_deref(), Some("v=1"));
}

#[test]
fn image_or_build_is_required() {
    let d = Dir::new();
    d.write("compose.yaml", "services:\n  a:\n    restart: always\n");
    assert_eq!(
        d.err(),
        "service \"a\" has neither an image nor a build context specified: invalid compose project"
    );
}

#[test]
fn pull_policy_if_not_present_is_missing() {
    let (_, p) = one("services:\n  a:\n    image: x\n    pull_policy: if_not_present\n");
    assert_eq!(p.services["a"].pull_policy.as_deref(), Some("missing"));
}
