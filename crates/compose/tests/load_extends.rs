//! `extends` (same file, other file, recursive, cycles) and `include`.

mod common;

use common::{Dir, load_ok};

#[test]
fn extends_in_the_same_file_recursively() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        r#"
services:
  base:
    image: base
    environment: [A=base, B=base]
    ports: ["80"]
    command: base
  middle:
    extends: base
    environment:
      B: middle
    ports: ["81"]
  web:
    extends:
      service: middle
    command: web
    cap_add: [X]
"#,
    );
    let p = d.load();
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("base"));
    assert_eq!(web.environment["A"].as_deref(), Some("base"));
    assert_eq!(web.environment["B"].as_deref(), Some("middle"));
    assert_eq!(
        web.ports.iter().map(|p| p.target).collect::<Vec<_>>(),
        vec![80, 81]
    );
    assert_eq!(web.command, Some(vec!["web".to_string()]));
    assert_eq!(web.cap_add, vec!["X"]);
    assert_eq!(p.services["middle"].command, Some(vec!["base".to_string()]));
}

#[test]
fn extends_another_file_with_its_own_relative_paths() {
    let d = Dir::new();
    d.write(
        "common/services.yaml",
        r#"
services:
  app:
    build: ./app
    volumes: ["./data:/data"]
    env_file: app.env
    environment:
      FROM: common
  grand:
    extends:
      file: ../common/more.yaml
      service: deep
"#,
    );
    d.write("common/app.env", "FROM_FILE=yes\n");
    d.write(
        "common/more.yaml",
        "services:\n  deep:\n    image: deep\n    labels: [deep=1]\n",
    );
    d.write(
        "compose.yaml",
        r#"
services:
  web:
    extends:
      file: common/services.yaml
      service: app
    environment:
      LOCAL: "1"
  other:
    extends:
      file: ./common/services.yaml
      service: grand
"#,
    );
    let p = d.load();
    let web = &p.services["web"];
    assert_eq!(web.build.as_ref().unwrap().context, d.path("common/app"));
    assert_eq!(
        web.volumes[0].source.as_deref(),
        Some(d.path("common/data").to_str().unwrap())
    );
    assert_eq!(web.environment["FROM"].as_deref(), Some("common"));
    assert_eq!(web.environment["LOCAL"].as_deref(), Some("1"));
    assert_eq!(web.environment["FROM_FILE"].as_deref(), Some("yes"));
    assert_eq!(p.services["other"].image.as_deref(), Some("deep"));
    assert_eq!(p.services["other"].labels["deep"], "1");
    // The other file's services are not part of the project.
    assert!(!p.services.contains_key("app"));
}

#[test]
fn extends_errors() {
    let d = Dir::new();
    let f = d.write("compose.yaml", "services:\n  web:\n    extends: nope\n");
    assert_eq!(
        d.err(),
        format!(
            "{0}: cannot extend service \"web\" in {0}: service \"nope\" not found",
            f.display()
        )
    );
    d.write(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    extends: b\n  b:\n    extends: a\n",
    );
    assert_eq!(
        d.err(),
        format!(
            "{0}: Circular reference:\n  a in {0}\n  extends b in {0}\n  extends a in {0}",
            f.display()
        )
    );
    d.write("other.yaml", "services:\n  x:\n    image: x\n");
    d.write(
        "compose.yaml",
        "services:\n  a:\n    extends:\n      file: other.yaml\n      service: y\n",
    );
    assert!(d.err().ends_with("service \"y\" not found in other.yaml"));
}

#[test]
fn extending_service_can_reset_what_it_inherits() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  base:\n    image: x\n    ports: ['80']\n  web:\n    extends: base\n    ports: !reset []\n",
    );
    let p = d.load();
    assert!(p.services["web"].ports.is_empty());
    assert_eq!(p.services["base"].ports.len(), 1);
}

#[test]
fn include_with_its_own_directory_and_env() {
    let d = Dir::new();
    d.write(
        "db/compose.yaml",
        r#"
services:
  db:
    image: postgres:${PG_VERSION}
    volumes: ["./init:/docker-entrypoint-initdb.d", "pgdata:/var/lib/postgresql/data"]
    environment: [FROM_INCLUDE_ENV]
volumes:
  pgdata:
"#,
    );
    d.write(
        "db/.env",
        "PG_VERSION=16\nFROM_INCLUDE_ENV=inc\nSHARED=from-include\n",
    );
    d.write(".env", "SHARED=from-main\n");
    d.write(
        "compose.yaml",
        r#"
include:
  - db/compose.yaml
services:
  web:
    image: web
    depends_on: [db]
    environment:
      SHARED: ${SHARED}
"#,
    );
    let p = d.load();
    let db = &p.services["db"];
    assert_eq!(db.image.as_deref(), Some("postgres:16"));
    assert_eq!(
        db.volumes[0].source.as_deref(),
        Some(d.path("db/init").to_str().unwrap())
    );
    assert_eq!(db.environment["FROM_INCLUDE_ENV"].as_deref(), Some("inc"));
    assert_eq!(p.volumes["pgdata"].name, "myapp_pgdata");
    assert_eq!(
        p.services["web"].environment["SHARED"].as_deref(),
        Some("from-main")
    );
}

#[test]
fn include_long_syntax_and_local_overrides() {
    let d = Dir::new();
    d.write(
        "lib/a.yaml",
        "services:\n  a:\n    image: a:${V}\n    ports: ['80']\n",
    );
    d.write("lib/a-more.yaml", "services:\n  a:\n    command: more\n");
    d.write("custom.env", "V=custom\n");
    d.write(
        "compose.yaml",
        r#"
include:
  - path: [lib/a.yaml, lib/a-more.yaml]
    env_file: custom.env
    project_directory: lib
services:
  a:
    environment: [LOCAL=1]
"#,
    );
    let p = d.load();
    let a = &p.services["a"];
    assert_eq!(a.image.as_deref(), Some("a:custom"));
    assert_eq!(a.command, Some(vec!["more".to_string()]));
    assert_eq!(a.environment["LOCAL"].as_deref(), Some("1"));
}

#[test]
fn include_cycle() {
    let d = Dir::new();
    let main = d.write(
        "compose.yaml",
        "include: [b.yaml]\nservices:\n  a:\n    image: x\n",
    );
    let b = d.write("b.yaml", "include: [compose.yaml]\n");
    assert_eq!(
        d.err(),
        format!(
            "{1}: include cycle detected:\n{0}\n include {1}\n include {0}",
            main.display(),
            b.display()
        )
    );
}

#[test]
fn include_and_profiles_and_extends_together() {
    let d = Dir::new();
    d.write(
        "tools.yaml",
        "services:\n  tool:\n    image: t\n    profiles: [tools]\n",
    );
    d.write(
        "compose.yaml",
        "include: [tools.yaml]\nservices:\n  web:\n    image: w\n  web2:\n    extends: web\n",
    );
    let mut o = d.opts();
    let p = load_ok(&o);
    assert!(p.disabled.contains_key("tool"));
    assert_eq!(p.services["web2"].image.as_deref(), Some("w"));
    o.profiles = vec!["tools".into()];
    assert!(load_ok(&o).services.contains_key("tool"));
}
