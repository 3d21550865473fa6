//! The repository's example stack loads as docker compose loads it.

mod common;

use std::path::PathBuf;

use berth_compose::{LoadOptions, to_yaml};
use common::{env, load_ok};

#[test]
fn flask_postgres_example() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/flask-postgres");
    let dir = dir.canonicalize().unwrap();
    let p = load_ok(&LoadOptions {
        working_dir: dir.clone(),
        environment: env(&[("WEB_PORT", "9000")]),
        ..LoadOptions::default()
    });
    assert_eq!(p.name, "flask-postgres");
    let web = &p.services["web"];
    assert_eq!(web.ports[0].published.as_deref(), Some("9000"));
    assert_eq!(web.ports[0].target, 5000);
    assert_eq!(web.build.as_ref().unwrap().context, dir.join("app"));
    assert_eq!(
        web.build.as_ref().unwrap().args["BASE"].as_deref(),
        Some("berth-debian:bookworm")
    );
    assert_eq!(web.depends_on["db"].condition, "service_healthy");
    assert_eq!(p.networks["backend"].name, "flask-postgres_backend");
    assert_eq!(p.volumes["dbdata"].name, "flask-postgres_dbdata");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let yaml = to_yaml(&p);
    assert!(
        yaml.starts_with("name: flask-postgres\nservices:\n  db:\n"),
        "{yaml}"
    );
}
