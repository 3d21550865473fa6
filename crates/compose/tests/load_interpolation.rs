//! `${VAR}` interpolation and where variables come from.

mod common;

use common::{Dir, env, load_err, load_ok};

fn environment(p: &berth_compose::model::Project, svc: &str, k: &str) -> Option<String> {
    p.services[svc].environment.get(k).cloned().flatten()
}

#[test]
fn every_form() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        r#"
services:
  web:
    image: "nginx:${TAG}"
    environment:
      PLAIN: $SET
      BRACED: ${SET}
      EMPTY_DASH: ${EMPTY-d1}
      EMPTY_COLON_DASH: ${EMPTY:-d2}
      UNSET_DASH: ${UNSET-d3}
      UNSET_COLON_DASH: ${UNSET:-d4}
      PLUS_SET: ${SET+alt}
      PLUS_EMPTY: ${EMPTY+alt}
      COLON_PLUS_EMPTY: ${EMPTY:+alt}
      COLON_PLUS_UNSET: ${UNSET:+alt}
      REQUIRED: ${SET:?must be set}
      REQUIRED_EMPTY_OK: ${EMPTY?set but empty is fine}
      ESCAPED: $$SET and $${SET}
      NESTED: ${UNSET:-${ALSO_UNSET:-${SET}}}
      NESTED_SET: ${SET:-${UNSET}}
      DOLLAR_DIGIT: cost $5
      MIXED: a-${SET}-$SET-b
      UNSET_PLAIN: x${UNSET}y
"#,
    );
    let mut o = d.opts();
    o.environment = env(&[("TAG", "1.25"), ("SET", "v"), ("EMPTY", "")]);
    let p = load_ok(&o);
    assert_eq!(p.services["web"].image.as_deref(), Some("nginx:1.25"));
    let want = [
        ("PLAIN", "v"),
        ("BRACED", "v"),
        ("EMPTY_DASH", ""),
        ("EMPTY_COLON_DASH", "d2"),
        ("UNSET_DASH", "d3"),
        ("UNSET_COLON_DASH", "d4"),
        ("PLUS_SET", "alt"),
        ("PLUS_EMPTY", "alt"),
        ("COLON_PLUS_EMPTY", ""),
        ("COLON_PLUS_UNSET", ""),
        ("REQUIRED", "v"),
        ("REQUIRED_EMPTY_OK", ""),
        ("ESCAPED", "$SET and ${SET}"),
        ("NESTED", "v"),
        ("NESTED_SET", "v"),
        ("DOLLAR_DIGIT", "cost $5"),
        ("MIXED", "a-v-v-b"),
        ("UNSET_PLAIN", "xy"),
    ];
    for (k, v) in want {
        assert_eq!(environment(&p, "web", k).as_deref(), Some(v), "{k}");
    }
    assert!(
        p.warnings
            .contains(&"The \"UNSET\" variable is not set. Defaulting to a blank string.".into()),
        "{:?}",
        p.warnings
    );
    // A variable with a default is not warned about.
    assert!(!p.warnings.iter().any(|w| w.contains("ALSO_UNSET")));
}

#[test]
fn keys_are_not_interpolated_and_types_are_cast_after() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    labels:\n      ${KEY}: ${VAL}\n    privileged: ${PRIV}\n    scale: ${N}\n    ports:\n      - ${PORT}:80\n",
    );
    let mut o = d.opts();
    o.environment = env(&[
        ("KEY", "k"),
        ("VAL", "v"),
        ("PRIV", "true"),
        ("N", "2"),
        ("PORT", "8080"),
    ]);
    let p = load_ok(&o);
    let web = &p.services["web"];
    assert_eq!(web.labels.get("${KEY}").map(String::as_str), Some("v"));
    assert!(web.privileged);
    assert_eq!(web.scale, Some(2));
    assert_eq!(web.ports[0].published.as_deref(), Some("8080"));
}

#[test]
fn required_variable_error_names_file_key_and_variable() {
    let d = Dir::new();
    let f = d.write(
        "compose.yaml",
        "services:\n  web:\n    image: ${IMAGE:?the image to run}\n",
    );
    let e = d.err();
    assert_eq!(
        e,
        format!(
            "{}: error while interpolating services.web.image: required variable IMAGE is missing a value: the image to run",
            f.display()
        )
    );
    d.write("compose.yaml", "services:\n  web:\n    image: ${IMAGE?}\n");
    assert!(
        d.err()
            .ends_with("required variable IMAGE is missing a value")
    );
    // `:?` refuses an empty value, `?` does not.
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x${IMAGE:?}\n",
    );
    let mut o = d.opts();
    o.environment = env(&[("IMAGE", "")]);
    assert!(load_err(&o).contains("required variable IMAGE is missing a value"));
}

#[test]
fn invalid_template_error() {
    let d = Dir::new();
    let f = d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    command: echo ${not closed\n",
    );
    assert_eq!(
        d.err(),
        format!(
            "{}: invalid interpolation format for services.web.command.\nYou may need to escape any $ with another $.\necho ${{not closed",
            f.display()
        )
    );
    d.write("compose.yaml", "services:\n  web:\n    image: ${1BAD}\n");
    assert!(
        d.err()
            .contains("invalid interpolation format for services.web.image")
    );
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    environment:\n      - A=${B C}\n",
    );
    assert!(
        d.err()
            .contains("invalid interpolation format for services.web.environment[0]")
    );
}

#[test]
fn dot_env_provides_variables_and_the_process_environment_wins() {
    let d = Dir::new();
    d.write(
        ".env",
        "# comment\nTAG=from-dotenv\nONLY_DOTENV=dot\nexport QUOTED=\"a b\"\nREF=${ONLY_DOTENV}-ref\n",
    );
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: nginx:${TAG}\n    environment:\n      A: ${ONLY_DOTENV}\n      B: ${QUOTED}\n      C: ${REF}\n",
    );
    let p = d.load();
    assert_eq!(
        p.services["web"].image.as_deref(),
        Some("nginx:from-dotenv")
    );
    assert_eq!(environment(&p, "web", "A").as_deref(), Some("dot"));
    assert_eq!(environment(&p, "web", "B").as_deref(), Some("a b"));
    assert_eq!(environment(&p, "web", "C").as_deref(), Some("dot-ref"));
    let mut o = d.opts();
    o.environment.insert("TAG".into(), "from-process".into());
    let p = load_ok(&o);
    assert_eq!(
        p.services["web"].image.as_deref(),
        Some("nginx:from-process")
    );
}

#[test]
fn env_files_replace_dot_env_and_later_ones_do_not_override_earlier() {
    let d = Dir::new();
    d.write(".env", "TAG=dotenv\n");
    d.write("one.env", "TAG=one\nX=one\n");
    d.write("two.env", "TAG=two\nY=${X}-two\n");
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: nginx:${TAG}\n    environment:\n      Y: ${Y}\n",
    );
    let mut o = d.opts();
    o.env_files = vec!["one.env".into(), "two.env".into()];
    let p = load_ok(&o);
    // compose reads the files in order, a later file's value winning.
    assert_eq!(p.services["web"].image.as_deref(), Some("nginx:two"));
    assert_eq!(environment(&p, "web", "Y").as_deref(), Some("one-two"));
    o.env_files = vec!["missing.env".into()];
    assert!(load_err(&o).starts_with("couldn't find env file: "));
}

#[test]
fn bad_dot_env_names_the_file_and_line() {
    let d = Dir::new();
    let f = d.write(".env", "A=1\nB C=2\n");
    d.write("compose.yaml", "services:\n  web:\n    image: x\n");
    assert_eq!(
        d.err(),
        format!("{}: line 2: key cannot contain a space", f.display())
    );
}

#[test]
fn compose_project_name_is_a_variable() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    container_name: ${COMPOSE_PROJECT_NAME}-web\n",
    );
    let p = d.load();
    assert_eq!(
        p.services["web"].container_name.as_deref(),
        Some("myapp-web")
    );
}

#[test]
fn variables_without_value_come_from_the_environment() {
    let d = Dir::new();
    d.write(".env", "FROM_DOTENV=d\n");
    d.write(
        "compose.yaml",
        "services:\n  web:\n    image: x\n    environment:\n      - FROM_PROCESS\n      - FROM_DOTENV\n      - NOWHERE\n      - EMPTY=\n",
    );
    let mut o = d.opts();
    o.environment.insert("FROM_PROCESS".into(), "p".into());
    let p = load_ok(&o);
    let e = &p.services["web"].environment;
    assert_eq!(e["FROM_PROCESS"].as_deref(), Some("p"));
    assert_eq!(e["FROM_DOTENV"].as_deref(), Some("d"));
    assert_eq!(e["NOWHERE"], None);
    assert_eq!(e["EMPTY"].as_deref(), Some(""));
}
