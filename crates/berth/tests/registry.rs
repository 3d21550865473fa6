#![forbid(unsafe_code)]
//! A real registry (Debian's docker-registry, CNCF distribution) on loopback,
//! open and with htpasswd basic auth: push an image made from busybox, remove
//! it locally, pull it back, run it; digests identical.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use berth_testkit::{OutputExt, require_root};
use common::{Registry, Store, run_image};

fn repo_digests(s: &Store, image: &str) -> Vec<String> {
    let out = s.berth(&["image", "inspect", "-f", "{{json .RepoDigests}}", image]);
    out.assert_success();
    serde_json::from_str(out.stdout_str().trim()).unwrap()
}

#[test]
fn push_remove_pull_and_run_through_an_open_registry() {
    if !require_root() {
        return;
    }
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let s = Store::new();
    s.import_busybox("bb:1");
    let name = format!("{}/team/bb:1", reg.host());
    s.berth(&["tag", "bb:1", &name]).assert_success();
    let out = s.berth(&["push", &name]);
    out.assert_success();
    let pushed = out.stdout_str();
    let digest = pushed
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    assert!(digest.starts_with("sha256:"), "{pushed}");
    // Remove it locally, entirely.
    s.berth(&["rmi", &name]).assert_success();
    s.berth(&["rmi", "bb:1"]).assert_success();
    assert!(s.snapshot_dirs().is_empty());
    let out = s.berth(&["pull", &name]);
    out.assert_success();
    assert!(
        out.stdout_str().contains(&format!("Digest: {digest}")),
        "{}",
        out.stdout_str()
    );
    assert_eq!(
        repo_digests(&s, &name),
        vec![format!("{}/team/bb@{digest}", reg.host())]
    );
    let run = run_image(&s, &name, &["sh", "-c", "echo pulled $GREETING"]);
    run.assert_success();
    assert_eq!(run.stdout_str(), "pulled hello\n");
    // By digest too, and a second repository gets its blobs mounted.
    let by_digest = format!("{}/team/bb@{digest}", reg.host());
    let fresh = Store::new();
    fresh.berth(&["pull", "-q", &by_digest]).assert_success();
    let other = format!("{}/other/bb:2", reg.host());
    s.berth(&["tag", &name, &other]).assert_success();
    let out = s.berth(&["push", &other]);
    out.assert_success();
    assert!(
        out.stdout_str().contains("Mounted from team/bb"),
        "{}",
        out.stdout_str()
    );
    // A tag that is not there.
    let out = s.berth(&["pull", &format!("{}/team/bb:nope", reg.host())]);
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("not found"),
        "{}",
        out.stderr_str()
    );
}

#[test]
fn basic_auth_registry_needs_login() {
    if !require_root() {
        return;
    }
    let Some(reg) = Registry::start(Some(("berth", "s3cret"))) else {
        return;
    };
    let s = Store::new();
    s.import_busybox("bb:1");
    let name = format!("{}/private/bb:1", reg.host());
    s.berth(&["tag", "bb:1", &name]).assert_success();
    let out = s.berth(&["push", &name]);
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("authentication required"),
        "{}",
        out.stderr_str()
    );
    let login = |pass: &str| {
        let mut child = s
            .berth_cmd(&["login", "-u", "berth", "--password-stdin", &reg.host()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{pass}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = login("wrong");
    assert!(!out.status.success(), "a wrong password was accepted");
    let out = login("s3cret");
    out.assert_success();
    assert_eq!(out.stdout_str(), "Login Succeeded\n");
    let config =
        std::fs::read_to_string(Path::new(&s.path("docker-config")).join("config.json")).unwrap();
    assert!(config.contains(&reg.host()), "{config}");
    s.berth(&["push", &name]).assert_success();
    s.berth(&["rmi", &name]).assert_success();
    s.berth(&["rmi", "bb:1"]).assert_success();
    s.berth(&["pull", &name]).assert_success();
    let run = run_image(&s, &name, &["echo", "private"]);
    assert_eq!(run.stdout_str(), "private\n");
    let out = s.berth(&["logout", &reg.host()]);
    out.assert_success();
    s.berth(&["rmi", &name]).assert_success();
    let out = s.berth(&["pull", &name]);
    assert!(!out.status.success(), "pulled after logout");
}

/// With `credsStore` set, credentials go through the helper program
/// (`docker-credential-<name> store|get|erase`), not into config.json.
#[test]
fn credential_helpers_are_honoured() {
    if !require_root() {
        return;
    }
    let Some(reg) = Registry::start(Some(("helper", "pa55"))) else {
        return;
    };
    let s = Store::new();
    s.import_busybox("bb:1");
    let bin = Path::new(&s.path("bin")).to_path_buf();
    std::fs::create_dir_all(&bin).unwrap();
    let vault = s.path("vault.json");
    // A helper that keeps one secret in a file, as the protocol says.
    let helper = bin.join("docker-credential-berthtest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n  store) cat > {vault} ;;\n  get) read server; [ -f {vault} ] && sed 's/\"ServerURL\":\"[^\"]*\",//' {vault} || {{ echo 'credentials not found'; exit 1; }} ;;\n  erase) rm -f {vault} ;;\nesac\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config_dir = Path::new(&s.path("docker-config")).to_path_buf();
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.json"),
        r#"{"credsStore": "berthtest"}"#,
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let berth = |args: &[&str], stdin: &str| {
        let mut c = s.berth_cmd(args);
        c.env("PATH", &path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    berth(
        &["login", "-u", "helper", "--password-stdin", &reg.host()],
        "pa55\n",
    )
    .assert_success();
    let stored = std::fs::read_to_string(&vault).unwrap();
    assert!(stored.contains("\"Secret\":\"pa55\""), "{stored}");
    let config = std::fs::read_to_string(config_dir.join("config.json")).unwrap();
    assert!(
        !config.contains("pa55") && !config.contains("auths"),
        "the secret leaked into config.json: {config}"
    );
    let name = format!("{}/helped/bb:1", reg.host());
    berth(&["tag", "bb:1", &name], "").assert_success();
    berth(&["push", &name], "").assert_success();
    berth(&["logout", &reg.host()], "").assert_success();
    assert!(!Path::new(&vault).exists());
    let out = berth(&["push", &name], "");
    assert!(!out.status.success(), "pushed without credentials");
}
