//! Discovery, multiple files, the project name and directory, and the
//! errors of files compose refuses.

mod common;

use std::path::PathBuf;

use berth_compose::LoadOptions;
use common::{Dir, load_err, load_ok};

#[test]
fn discovery_searches_upwards_and_takes_the_override() {
    let d = Dir::new();
    d.write("compose.yaml", "services:\n  web:\n    image: base\n");
    d.write(
        "compose.override.yml",
        "services:\n  web:\n    image: overridden\n",
    );
    std::fs::create_dir_all(d.path("sub/deeper")).unwrap();
    let mut o = d.opts();
    o.working_dir = d.path("sub/deeper");
    let p = load_ok(&o);
    assert_eq!(p.services["web"].image.as_deref(), Some("overridden"));
    assert_eq!(p.working_dir, d.root);
    assert_eq!(p.name, "myapp");
}

#[test]
fn discovery_prefers_compose_yaml_and_warns_about_the_others() {
    let d = Dir::new();
    d.write("compose.yaml", "services:\n  a:\n    image: x\n");
    d.write("docker-compose.yml", "services:\n  b:\n    image: x\n");
    let p = d.load();
    assert!(p.services.contains_key("a") && !p.services.contains_key("b"));
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("Found multiple config files with supported names: ")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn docker_compose_yml_is_found_too() {
    let d = Dir::new();
    d.write("docker-compose.yml", "services:\n  a:\n    image: x\n");
    d.write(
        "docker-compose.override.yml",
        "services:\n  a:\n    command: run\n",
    );
    let p = d.load();
    assert_eq!(p.services["a"].command, Some(vec!["run".to_string()]));
}

#[test]
fn nothing_found() {
    let d = Dir::new();
    assert_eq!(d.err(), "no configuration file provided: not found");
}

#[test]
fn compose_file_variable_lists_files() {
    let d = Dir::new();
    d.write(
        "base.yml",
        "services:\n  web:\n    image: a\n    ports: ['80']\n",
    );
    d.write("more.yml", "services:\n  web:\n    image: b\n");
    d.write("compose.yaml", "services:\n  other:\n    image: x\n");
    let mut o = d.opts();
    o.environment
        .insert("COMPOSE_FILE".into(), "base.yml:more.yml".into());
    let p = load_ok(&o);
    assert_eq!(p.services.keys().collect::<Vec<_>>(), vec!["web"]);
    assert_eq!(p.services["web"].image.as_deref(), Some("b"));
    // COMPOSE_FILE may come from .env too; COMPOSE_PATH_SEPARATOR changes
    // the separator.
    d.write(
        ".env",
        "COMPOSE_FILE=base.yml;more.yml\nCOMPOSE_PATH_SEPARATOR=;\n",
    );
    let p = d.load();
    assert_eq!(p.services["web"].image.as_deref(), Some("b"));
}

#[test]
fn files_are_relative_to_the_first_files_directory() {
    let d = Dir::new();
    d.write("app/compose.yaml", "services:\n  web:\n    build: .\n");
    d.write(
        "overrides/dev.yaml",
        "services:\n  web:\n    volumes: ['./src:/src']\n",
    );
    let mut o = d.opts();
    o.files = vec!["app/compose.yaml".into(), "overrides/dev.yaml".into()];
    let p = load_ok(&o);
    assert_eq!(p.name, "app");
    let web = &p.services["web"];
    assert_eq!(web.build.as_ref().unwrap().context, d.path("app"));
    // The override's relative path is the project directory's, not its
    // own directory's.
    assert_eq!(
        web.volumes[0].source.as_deref(),
        Some(d.path("app/src").to_str().unwrap())
    );
    o.project_dir = Some("elsewhere".into());
    std::fs::create_dir(d.path("elsewhere")).unwrap();
    let p = load_ok(&o);
    assert_eq!(p.name, "elsewhere");
    assert_eq!(p.working_dir, d.path("elsewhere"));
    assert_eq!(
        p.services["web"].build.as_ref().unwrap().context,
        d.path("elsewhere")
    );
}

#[test]
fn project_dot_env_is_read_from_the_project_directory() {
    let d = Dir::new();
    d.write("app/.env", "TAG=app\n");
    d.write(
        "app/compose.yaml",
        "services:\n  web:\n    image: x:${TAG}\n",
    );
    let mut o = d.opts();
    o.files = vec![PathBuf::from("app/compose.yaml")];
    let p = load_ok(&o);
    assert_eq!(p.services["web"].image.as_deref(), Some("x:app"));
}

#[test]
fn project_name_rules() {
    let d = Dir::new();
    d.write("compose.yaml", "services:\n  web:\n    image: x\n");
    assert_eq!(d.load().name, "myapp");

    // -p wins, then COMPOSE_PROJECT_NAME, then `name:`, then the directory.
    let mut o = d.opts();
    o.project_name = Some("given".into());
    o.environment
        .insert("COMPOSE_PROJECT_NAME".into(), "fromenv".into());
    assert_eq!(load_ok(&o).name, "given");
    o.project_name = None;
    assert_eq!(load_ok(&o).name, "fromenv");

    d.write(
        "compose.yaml",
        "name: My_App.${SUFFIX:-Dev}\nservices:\n  web:\n    image: x\n",
    );
    // A name from the file is normalized: lowercased, only [a-z0-9_-].
    assert_eq!(d.load().name, "my_appdev");

    // A given name must be valid already.
    o.environment
        .insert("COMPOSE_PROJECT_NAME".into(), "Bad".into());
    assert_eq!(
        load_err(&o),
        "invalid project name \"Bad\": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number"
    );
    o.environment.remove("COMPOSE_PROJECT_NAME");
    o.project_name = Some("_under".into());
    assert!(load_err(&o).starts_with("invalid project name \"_under\""));
    o.project_name = Some("ok-1_x".into());
    assert_eq!(load_ok(&o).name, "ok-1_x");

    d.write(
        "compose.yaml",
        "name: '---'\nservices:\n  web:\n    image: x\n",
    );
    assert_eq!(d.err(), "project name must not be empty");
}

#[test]
fn directory_names_are_normalized() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("-My Project.v2");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("compose.yaml"), "services:\n  a:\n    image: x\n").unwrap();
    let p = load_ok(&LoadOptions {
        working_dir: dir,
        ..LoadOptions::default()
    });
    assert_eq!(p.name, "myprojectv2");
}

#[test]
fn bad_yaml_names_the_file_and_line() {
    let d = Dir::new();
    let f = d.write("compose.yaml", "services:\n  web:\n    image: [x\n");
    let e = d.err();
    assert!(
        e.starts_with(&format!(
            "failed to parse {}: line 4 column 1:",
            f.display()
        )),
        "{e}"
    );
    let f = d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    image: y\n",
    );
    assert_eq!(
        d.err(),
        format!(
            "failed to parse {}: line 4 column 5: mapping key \"image\" already defined at line 3",
            f.display()
        )
    );
    d.write("compose.yaml", "- a\n- b\n");
    assert!(
        d.err()
            .ends_with("(root) top-level object must be a mapping")
    );
    d.write("compose.yaml", "");
    assert!(d.err().ends_with(": empty compose file"));
    d.write(
        "compose.yaml",
        "services:\n  web:\n    labels:\n      1: x\n",
    );
    assert!(d.err().contains("non-string key in services.web.labels: 1"));
}

#[test]
fn unknown_keys_are_refused_where_they_are() {
    let d = Dir::new();
    let f = d.write("compose.yaml", "services:\n  web:\n    imag: nginx\n");
    assert_eq!(
        d.err(),
        format!(
            "validating {}: services.web additional properties 'imag' not allowed",
            f.display()
        )
    );
    d.write("compose.yaml", "service:\n  web:\n    image: x\n");
    assert!(
        d.err()
            .ends_with("(root) additional properties 'service' not allowed")
    );
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    ports:\n      - target: 80\n        publish: 8080\n",
    );
    assert!(
        d.err()
            .ends_with("services.web.ports[0] additional properties 'publish' not allowed")
    );
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    healthcheck:\n      intervl: 5s\n",
    );
    assert!(
        d.err()
            .ends_with("services.web.healthcheck additional properties 'intervl' not allowed")
    );
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\nnetworks:\n  front:\n    drivr: bridge\n",
    );
    assert!(
        d.err()
            .ends_with("networks.front additional properties 'drivr' not allowed")
    );
    d.write("compose.yaml", "services:\n  'my web':\n    image: x\n");
    assert!(
        d.err()
            .ends_with("services additional properties 'my web' not allowed")
    );
}

#[test]
fn wrong_types_are_refused() {
    let d = Dir::new();
    d.write("compose.yaml", "services:\n  web:\n    image: [x]\n");
    assert!(d.err().ends_with("services.web.image must be a string"));
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    privileged: maybe\n",
    );
    assert!(
        d.err()
            .ends_with("services.web.privileged invalid boolean: maybe")
    );
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    mem_limit: lots\n",
    );
    assert!(
        d.err()
            .ends_with("services.web.mem_limit invalid size: 'lots'")
    );
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    stop_grace_period: 10\n",
    );
    assert!(
        d.err()
            .ends_with("services.web.stop_grace_period time: missing unit in duration \"10\"")
    );
}

#[test]
fn keys_berth_does_not_implement_are_refused_by_name() {
    let d = Dir::new();
    let f = d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    gpus: all\n",
    );
    assert_eq!(
        d.err(),
        format!(
            "{}: services.web.gpus: berth does not support `gpus` yet",
            f.display()
        )
    );
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    build:\n      context: .\n      ssh: [default]\n",
    );
    assert!(
        d.err()
            .ends_with("services.web.build.ssh: berth does not support `ssh` yet")
    );
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\nmodels:\n  m: {}\n",
    );
    assert!(
        d.err()
            .ends_with("models: berth does not support `models` yet")
    );
}

#[test]
fn version_is_obsolete_and_extensions_are_ignored() {
    let d = Dir::new();
    let f = d.write(
        "compose.yaml",
        "version: '3.8'\nx-common: &common\n  restart: always\nservices:\n  web:\n    <<: *common\n    image: x\n    x-notes: anything\n",
    );
    let p = d.load();
    assert_eq!(p.services["web"].restart.as_deref(), Some("always"));
    assert!(p.warnings.contains(&format!(
        "{}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion",
        f.display()
    )));
}

#[test]
fn missing_file() {
    let d = Dir::new();
    let mut o = d.opts();
    o.files = vec!["nope.yaml".into()];
    let e = load_err(&o);
    assert!(
        e.starts_with(&d.path("nope.yaml").display().to_string()),
        "{e}"
    );
}
