//! `to_yaml`: what `compose config` prints.

mod common;

use berth_compose::to_yaml;
use common::{Dir, load_ok};

#[test]
fn config_output() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        r#"
services:
  web:
    image: nginx:1.25
    ports: ["8080:80"]
    environment:
      MODE: "yes"
      EMPTY: ""
    command: nginx -g 'daemon off;'
    volumes: [data:/data]
    depends_on: [db]
  db:
    image: postgres
    networks: [back]
volumes:
  data:
networks:
  back:
    internal: true
"#,
    );
    let p = d.load();
    let want = r#"name: myapp
services:
  db:
    image: postgres
    networks:
      back: null
  web:
    command:
      - nginx
      - -g
      - daemon off;
    depends_on:
      db:
        condition: service_started
        required: true
    environment:
      EMPTY: ""
      MODE: "yes"
    image: nginx:1.25
    networks:
      default: null
    ports:
      - target: 80
        published: "8080"
        protocol: tcp
        mode: ingress
    volumes:
      - type: volume
        source: data
        target: /data
        volume: {}
networks:
  back:
    name: myapp_back
    internal: true
  default:
    name: myapp_default
volumes:
  data:
    name: myapp_data
"#;
    assert_eq!(to_yaml(&p), want);
}

#[test]
fn config_output_loads_back_to_the_same_project() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        r#"
services:
  app:
    build:
      context: ./app
      args: [V=1]
    environment:
      MULTI: "line one\nline two"
      COLON: "a: b"
      HASH: "x #y"
    healthcheck:
      test: curl -f localhost
      interval: 30s
    extra_hosts: ["h:1.2.3.4"]
    ulimits:
      nofile: 1024
    labels:
      "1": numeric-looking key
    secrets: [s]
    deploy:
      resources:
        limits:
          memory: 1g
secrets:
  s:
    file: ./s.txt
"#,
    );
    let p = d.load();
    let yaml = to_yaml(&p);
    let again = d.write("again/compose.yaml", &yaml);
    let mut o = d.opts();
    o.files = vec![again];
    o.project_dir = Some(d.root.clone());
    let q = load_ok(&o);
    assert_eq!(p.services, q.services, "{yaml}");
    assert_eq!(p.secrets, q.secrets);
}
