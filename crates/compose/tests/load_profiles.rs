//! Profiles: services enabled by an active profile, or named.

mod common;

use common::{Dir, load_err, load_ok};

const FILE: &str = r#"
services:
  web:
    image: web
  debug:
    image: debug
    profiles: [dev]
  seed:
    image: seed
    profiles: [dev, ops]
  admin:
    image: admin
    profiles: [ops]
    depends_on:
      debug:
        condition: service_started
        required: false
"#;

fn names(m: &std::collections::BTreeMap<String, berth_compose::model::Service>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}

#[test]
fn no_profile_active() {
    let d = Dir::new();
    d.write("compose.yaml", FILE);
    let p = d.load();
    assert_eq!(names(&p.services), vec!["web"]);
    assert_eq!(names(&p.disabled), vec!["admin", "debug", "seed"]);
}

#[test]
fn profiles_from_options_and_environment() {
    let d = Dir::new();
    d.write("compose.yaml", FILE);
    let mut o = d.opts();
    o.profiles = vec!["dev".into()];
    let p = load_ok(&o);
    assert_eq!(names(&p.services), vec!["debug", "seed", "web"]);
    assert_eq!(names(&p.disabled), vec!["admin"]);

    let mut o = d.opts();
    o.environment
        .insert("COMPOSE_PROFILES".into(), "ops, dev".into());
    assert_eq!(
        names(&load_ok(&o).services),
        vec!["admin", "debug", "seed", "web"]
    );

    // --profile wins over COMPOSE_PROFILES.
    o.profiles = vec!["ops".into()];
    let p = load_ok(&o);
    // admin's dependency on the disabled debug is not required.
    assert_eq!(names(&p.services), vec!["admin", "seed", "web"]);

    o.profiles = vec!["*".into()];
    assert_eq!(load_ok(&o).services.len(), 4);
}

#[test]
fn naming_a_service_enables_it() {
    let d = Dir::new();
    d.write("compose.yaml", FILE);
    let mut o = d.opts();
    o.services = vec!["debug".into()];
    let p = load_ok(&o);
    // Its profile is activated, so what shares it comes along.
    assert_eq!(names(&p.services), vec!["debug", "seed", "web"]);
    o.services = vec!["nope".into()];
    assert_eq!(load_err(&o), "no such service: nope");
}

#[test]
fn required_dependency_on_a_disabled_service() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    depends_on: [db]\n  db:\n    image: db\n    profiles: [db]\n",
    );
    assert_eq!(
        d.err(),
        "service \"web\" depends on service \"db\" which is disabled by the active profiles (set `required: false` or enable one of its profiles): invalid compose project"
    );
    let mut o = d.opts();
    o.profiles = vec!["db".into()];
    assert_eq!(load_ok(&o).services.len(), 2);
}
