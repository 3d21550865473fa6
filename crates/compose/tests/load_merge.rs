//! Several files merged with compose's override rules; YAML anchors and
//! merge keys.

mod common;

use std::collections::BTreeMap;

use common::{Dir, load_ok};

#[test]
fn override_file_rules() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        r#"
services:
  web:
    image: web:1
    command: ["serve", "--port", "80"]
    entrypoint: /init
    environment:
      A: base
      B: base
    labels:
      keep: base
      change: base
    ports:
      - "8080:80"
      - "9090:90"
    expose: ["1000"]
    volumes:
      - data:/data
      - ./conf:/etc/conf:ro
    cap_add: [NET_ADMIN]
    dns: [1.1.1.1]
    networks: [front]
    depends_on: [db]
    healthcheck:
      test: ["CMD", "true"]
      interval: 10s
    ulimits:
      nofile: {soft: 1, hard: 2}
    logging:
      driver: json-file
      options:
        max-size: 1m
    secrets: [s]
    extra_hosts: ["a:1.1.1.1"]
    build:
      context: .
      args: [X=1]
  db:
    image: db
volumes:
  data:
    driver: local
networks:
  front:
    labels: [a=1]
secrets:
  s:
    file: s.txt
"#,
    );
    d.write(
        "compose.override.yaml",
        r#"
services:
  web:
    image: web:2
    command: serve --debug
    environment:
      - B=override
      - C=new
    labels:
      change: override
    ports:
      - "8080:80"
      - "7070:70"
    expose: ["1000", "2000"]
    volumes:
      - other:/data
    cap_add: [NET_ADMIN, SYS_TIME]
    dns: 8.8.8.8
    networks:
      back:
    depends_on:
      db:
        condition: service_healthy
    healthcheck:
      test: ["CMD", "false"]
    ulimits:
      nofile: 10
    logging:
      options:
        max-file: "3"
    secrets:
      - source: s
        target: /run/secrets/s
        mode: 0400
    extra_hosts: ["a:1.1.1.1", "b:2.2.2.2"]
    build:
      args:
        Y: "2"
  db:
    environment: [ONLY=db]
volumes:
  other:
  data:
    labels: [x=y]
networks:
  back:
  front:
    labels: [b=2]
"#,
    );
    let p = d.load();
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("web:2"));
    assert_eq!(
        web.command,
        Some(vec!["serve".to_string(), "--debug".to_string()])
    );
    assert_eq!(web.entrypoint, Some(vec!["/init".to_string()]));
    let e: Vec<(&str, Option<&str>)> = web
        .environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect();
    assert_eq!(
        e,
        vec![
            ("A", Some("base")),
            ("B", Some("override")),
            ("C", Some("new"))
        ]
    );
    assert_eq!(
        web.labels,
        BTreeMap::from([
            ("keep".to_string(), "base".to_string()),
            ("change".to_string(), "override".to_string())
        ])
    );
    let ports: Vec<(u16, Option<&str>)> = web
        .ports
        .iter()
        .map(|p| (p.target, p.published.as_deref()))
        .collect();
    assert_eq!(
        ports,
        vec![(80, Some("8080")), (90, Some("9090")), (70, Some("7070"))]
    );
    assert_eq!(web.expose, vec!["1000", "2000"]);
    // Volumes are merged by target: the override's /data replaces the base's.
    let vols: Vec<(&str, Option<&str>)> = web
        .volumes
        .iter()
        .map(|v| (v.target.as_str(), v.source.as_deref()))
        .collect();
    let conf = d.path("conf").display().to_string();
    assert_eq!(
        vols,
        vec![("/data", Some("other")), ("/etc/conf", Some(conf.as_str()))]
    );
    assert_eq!(web.cap_add, vec!["NET_ADMIN", "SYS_TIME"]);
    assert_eq!(web.dns, vec!["1.1.1.1", "8.8.8.8"]);
    assert_eq!(
        web.networks.keys().collect::<Vec<_>>(),
        vec!["back", "front"]
    );
    assert_eq!(web.depends_on["db"].condition, "service_healthy");
    let hc = web.healthcheck.as_ref().unwrap();
    assert_eq!(hc.test, vec!["CMD", "false"]);
    assert_eq!(hc.interval, Some(10_000_000_000));
    assert_eq!(web.ulimits["nofile"].soft, 10);
    assert_eq!(web.ulimits["nofile"].hard, 10);
    let logging = web.logging.as_ref().unwrap();
    assert_eq!(logging.driver.as_deref(), Some("json-file"));
    assert_eq!(logging.options.len(), 2);
    assert_eq!(web.secrets.len(), 1);
    assert_eq!(web.secrets[0].mode, Some(0o400));
    assert_eq!(web.extra_hosts, vec!["a:1.1.1.1", "b:2.2.2.2"]);
    let args = &web.build.as_ref().unwrap().args;
    assert_eq!(args["X"].as_deref(), Some("1"));
    assert_eq!(args["Y"].as_deref(), Some("2"));
    assert_eq!(p.services["db"].image.as_deref(), Some("db"));
    assert_eq!(p.volumes["data"].driver.as_deref(), Some("local"));
    assert_eq!(p.volumes["data"].labels["x"], "y");
    assert_eq!(p.volumes["other"].name, "myapp_other");
    assert_eq!(p.networks["front"].labels.len(), 2);
}

#[test]
fn logging_with_another_driver_is_replaced() {
    let d = Dir::new();
    d.write(
        "a.yaml",
        "services:\n  w:\n    image: x\n    logging:\n      driver: json-file\n      options: {max-size: 1m}\n",
    );
    d.write(
        "b.yaml",
        "services:\n  w:\n    logging:\n      driver: syslog\n",
    );
    let mut o = d.opts();
    o.files = vec!["a.yaml".into(), "b.yaml".into()];
    let p = load_ok(&o);
    let l = p.services["w"].logging.as_ref().unwrap();
    assert_eq!(l.driver.as_deref(), Some("syslog"));
    assert!(l.options.is_empty());
}

#[test]
fn reset_and_override_tags() {
    let d = Dir::new();
    d.write(
        "a.yaml",
        "services:\n  w:\n    image: x\n    ports: ['80:80', '81:81']\n    environment: {A: '1', B: '2'}\n    command: [a]\n",
    );
    d.write(
        "b.yaml",
        "services:\n  w:\n    ports: !reset []\n    environment: !override\n      C: '3'\n    command: !reset null\n",
    );
    let mut o = d.opts();
    o.files = vec!["a.yaml".into(), "b.yaml".into()];
    let p = load_ok(&o);
    let w = &p.services["w"];
    assert!(w.ports.is_empty());
    assert_eq!(w.environment.keys().collect::<Vec<_>>(), vec!["C"]);
    assert_eq!(w.command, None);
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        r#"
x-env: &env
  TZ: UTC
  LANG: C
x-base: &base
  image: base
  restart: always
  environment: *env
x-logging: &logging
  logging:
    driver: local
services:
  one:
    <<: *base
  two:
    <<: [*base, *logging]
    image: two
    environment:
      <<: *env
      LANG: en_US
  three:
    <<: *base
    ports: &ports
      - "80"
  four:
    image: four
    ports: *ports
"#,
    );
    let p = d.load();
    assert_eq!(p.services["one"].image.as_deref(), Some("base"));
    assert_eq!(p.services["one"].restart.as_deref(), Some("always"));
    assert_eq!(p.services["one"].environment["TZ"].as_deref(), Some("UTC"));
    let two = &p.services["two"];
    assert_eq!(two.image.as_deref(), Some("two"));
    assert_eq!(two.restart.as_deref(), Some("always"));
    assert_eq!(two.environment["LANG"].as_deref(), Some("en_US"));
    assert_eq!(two.environment["TZ"].as_deref(), Some("UTC"));
    assert_eq!(
        two.logging.as_ref().unwrap().driver.as_deref(),
        Some("local")
    );
    assert_eq!(p.services["four"].ports[0].target, 80);
}

#[test]
fn multiple_documents_in_one_file_merge() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  a:\n    image: one\n---\nservices:\n  a:\n    image: two\n",
    );
    assert_eq!(d.load().services["a"].image.as_deref(), Some("two"));
}
