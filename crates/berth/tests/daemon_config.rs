#![forbid(unsafe_code)]
//! `berth daemon --config-file`: dockerd's daemon.json keys; an unknown key
//! or bad JSON is refused by name before anything is opened or bound.

use std::process::Command;

use berth_testkit::OutputExt;

fn daemon_with(config: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("daemon.json");
    std::fs::write(&file, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .args(["daemon", "--config-file"])
        .arg(&file)
        .arg("-H")
        .arg(format!("unix://{}", dir.path().join("s.sock").display()))
        .output()
        .unwrap();
    assert!(
        !dir.path().join("data").exists(),
        "a refused config left a data root behind"
    );
    out
}

#[test]
fn unknown_keys_and_bad_json_are_refused_by_name() {
    let out = daemon_with(r#"{"insecure-registries": ["r:5000"], "no-such-key": 1}"#);
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("no-such-key"),
        "{}",
        out.stderr_str()
    );
    let out = daemon_with("{not json");
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("invalid daemon config"),
        "{}",
        out.stderr_str()
    );
}
