//! Ports and volumes: every short syntax expanded, the long ones read.

mod common;

use berth_compose::model::*;
use common::Dir;

fn one(yaml: &str) -> (Dir, Project) {
    let d = Dir::new();
    d.write("compose.yaml", yaml);
    let p = d.load();
    (d, p)
}

fn port(target: u16, published: Option<&str>, host_ip: Option<&str>, protocol: &str) -> Port {
    Port {
        target,
        published: published.map(String::from),
        host_ip: host_ip.map(String::from),
        protocol: protocol.into(),
        mode: Some("ingress".into()),
        ..Port::default()
    }
}

#[test]
fn ports_short_and_long() {
    let (_, p) = one(r#"
services:
  web:
    image: x
    ports:
      - "80"
      - 81
      - "8080:82"
      - "127.0.0.1:8443:443/udp"
      - "8000-8001:90-91"
      - "9000-9010:92"
      - "[::1]:93:93"
      - "127.0.0.1::94"
      - target: 95
        published: 9595
        host_ip: 0.0.0.0
        protocol: sctp
        mode: host
        name: web
        app_protocol: http
"#);
    let want = vec![
        port(80, None, None, "tcp"),
        port(81, None, None, "tcp"),
        port(82, Some("8080"), None, "tcp"),
        port(443, Some("8443"), Some("127.0.0.1"), "udp"),
        port(90, Some("8000"), None, "tcp"),
        port(91, Some("8001"), None, "tcp"),
        port(92, Some("9000-9010"), None, "tcp"),
        port(93, Some("93"), Some("::1"), "tcp"),
        port(94, None, Some("127.0.0.1"), "tcp"),
        Port {
            target: 95,
            published: Some("9595".into()),
            host_ip: Some("0.0.0.0".into()),
            protocol: "sctp".into(),
            mode: Some("host".into()),
            name: Some("web".into()),
            app_protocol: Some("http".into()),
        },
    ];
    assert_eq!(p.services["web"].ports, want);
}

#[test]
fn bad_ports() {
    let d = Dir::new();
    for (spec, err) in [
        (
            "8000-8002:80-81",
            "invalid ranges specified for container and host Ports: 80-81 and 8000-8002",
        ),
        ("80/tcpx", "invalid proto: tcpx"),
        ("a:80", "invalid hostPort: a"),
        ("999999", "invalid containerPort: 999999"),
        ("300.0.0.1:80:80", "invalid IP address: 300.0.0.1"),
    ] {
        d.write(
            "compose.yaml",
            &format!("services:\n  web:\n    image: x\n    ports: [\"{spec}\"]\n"),
        );
        let e = d.err();
        assert!(
            e.ends_with(&format!("services.web.ports[0] {err}")),
            "{spec}: {e}"
        );
    }
}

#[test]
fn volumes_short_and_long() {
    let (d, p) = one(r#"
services:
  web:
    image: x
    volumes:
      - data:/var/lib/data
      - data2:/ro:ro
      - ./rel:/rel
      - ../up/../sibling:/sibling:rw
      - /abs:/abs:ro,z
      - ~/cfg:/cfg
      - /anon
      - cache:/nocopy:nocopy
      - type: bind
        source: ./long
        target: /long/
        read_only: true
        bind:
          propagation: rshared
          create_host_path: true
      - type: volume
        source: data
        target: /sub
        volume:
          nocopy: true
          subpath: a/b
      - type: tmpfs
        target: /tmp
        tmpfs:
          size: 64m
          mode: 01777
volumes:
  data: {}
  data2:
  cache:
"#);
    let root = d.root.display().to_string();
    let vol = |src: Option<&str>, target: &str, ro: bool, nocopy: bool| ServiceVolume {
        kind: "volume".into(),
        source: src.map(String::from),
        target: target.into(),
        read_only: ro,
        volume: Some(VolumeOptions {
            nocopy,
            ..VolumeOptions::default()
        }),
        ..ServiceVolume::default()
    };
    let bind = |src: String, target: &str, ro: bool, selinux: Option<&str>| ServiceVolume {
        kind: "bind".into(),
        source: Some(src),
        target: target.into(),
        read_only: ro,
        bind: Some(BindOptions {
            propagation: None,
            create_host_path: true,
            selinux: selinux.map(String::from),
        }),
        ..ServiceVolume::default()
    };
    let parent = d.root.parent().unwrap().display().to_string();
    let want = vec![
        vol(Some("data"), "/var/lib/data", false, false),
        vol(Some("data2"), "/ro", true, false),
        bind(format!("{root}/rel"), "/rel", false, None),
        bind(format!("{parent}/sibling"), "/sibling", false, None),
        bind("/abs".into(), "/abs", true, Some("z")),
        bind("/home/me/cfg".into(), "/cfg", false, None),
        vol(None, "/anon", false, false),
        vol(Some("cache"), "/nocopy", false, true),
        ServiceVolume {
            kind: "bind".into(),
            source: Some(format!("{root}/long")),
            target: "/long".into(),
            read_only: true,
            bind: Some(BindOptions {
                propagation: Some("rshared".into()),
                create_host_path: true,
                selinux: None,
            }),
            ..ServiceVolume::default()
        },
        ServiceVolume {
            kind: "volume".into(),
            source: Some("data".into()),
            target: "/sub".into(),
            volume: Some(VolumeOptions {
                nocopy: true,
                subpath: Some("a/b".into()),
            }),
            ..ServiceVolume::default()
        },
        ServiceVolume {
            kind: "tmpfs".into(),
            target: "/tmp".into(),
            tmpfs: Some(TmpfsOptions {
                size: Some(64 << 20),
                mode: Some(0o1777),
            }),
            ..ServiceVolume::default()
        },
    ];
    assert_eq!(p.services["web"].volumes, want);
    assert_eq!(p.volumes["data"].name, "myapp_data");
}

#[test]
fn undefined_volume_is_refused() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    volumes: ['data:/d']\n",
    );
    assert_eq!(
        d.err(),
        "service \"web\" refers to undefined volume data: invalid compose project"
    );
}

#[test]
fn top_level_volumes() {
    let (_, p) = one(r#"
services:
  a:
    image: x
    volumes: [data:/d, ext:/e, named:/n, old:/o]
volumes:
  data:
    driver: local
    driver_opts:
      type: none
      o: bind
      device: ./host-data
    labels:
      k: v
  ext:
    external: true
  named:
    name: my-volume
  old:
    external:
      name: legacy
"#);
    assert_eq!(p.volumes["data"].name, "myapp_data");
    assert!(p.volumes["data"].driver_opts["device"].ends_with("/myapp/host-data"));
    assert_eq!(p.volumes["ext"].name, "ext");
    assert!(p.volumes["ext"].external);
    assert_eq!(p.volumes["named"].name, "my-volume");
    assert_eq!(p.volumes["old"].name, "legacy");
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("external.name is deprecated"))
    );

    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  a:\n    image: x\nvolumes:\n  v:\n    external: true\n    driver: local\n",
    );
    assert!(
        d.err()
            .ends_with("volumes.v conflicting parameters \"external\" and \"driver\" specified")
    );
}

#[test]
fn duplicate_mount_targets() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    tmpfs: [/data]\n    volumes: ['/h:/data']\n",
    );
    assert_eq!(
        d.err(),
        "services.a.volumes[0]: target /data already mounted as services.a.tmpfs[0]"
    );
}
