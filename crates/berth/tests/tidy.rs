#![forbid(unsafe_code)]
//! The architecture's rules as tests (as rust-analyzer's tidy.rs): the
//! crate layers of DESIGN.md, unsafe code only in `sys`, and a small
//! `berth-runtime` binary. Read from `cargo metadata` and the sources, so a
//! change that breaks a rule fails here with the rule's name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/berth sits two levels below the workspace")
        .to_path_buf()
}

/// The host's target triple (`rustc -vV`).
fn host_triple() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("running rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // This host's dependencies only: a build fetched those, and --offline
    // would fail on another platform's (windows crates) never downloaded.
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host_triple()])
        .current_dir(workspace_root())
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON")
}

/// Which workspace crates each crate may use (normal dependencies), one
/// layer over the next; DESIGN.md's table of crates.
const LAYERS: &[(&str, &[&str])] = &[
    ("berth-sys", &[]),
    ("berth-safefs", &["berth-sys"]),
    ("berth-store", &[]),
    ("berth-template", &[]),
    ("berth-units", &[]),
    ("berth-dockerignore", &[]),
    ("berth-runtime", &["berth-sys", "berth-safefs"]),
    ("berth-runtime-cli", &["berth-runtime", "berth-sys"]),
    ("berth-image", &["berth-safefs", "berth-store", "berth-sys"]),
    (
        "berth-build",
        &[
            "berth-dockerignore",
            "berth-image",
            "berth-safefs",
            "berth-units",
        ],
    ),
    (
        "berth-volume",
        &["berth-safefs", "berth-store", "berth-sys", "berth-units"],
    ),
    (
        "berth-shim",
        &["berth-runtime", "berth-safefs", "berth-sys"],
    ),
    (
        "berth-engine",
        &[
            "berth-store",
            "berth-image",
            "berth-build",
            "berth-models",
            "berth-volume",
            "berth-net",
            "berth-shim",
            "berth-runtime",
            "berth-safefs",
            "berth-sys",
            "berth-units",
        ],
    ),
    ("berth-models", &[]),
    ("berth-net", &["berth-sys"]),
    (
        "berth-api",
        &["berth-engine", "berth-models", "berth-sys", "berth-units"],
    ),
    (
        "berth-client",
        &["berth-dockerignore", "berth-models", "berth-sys"],
    ),
    (
        "berth-cli",
        &["berth-client", "berth-template", "berth-units"],
    ),
    (
        "berth-compose",
        &["berth-client", "berth-models", "berth-units"],
    ),
    ("berth-testkit", &["berth-sys"]),
];

#[test]
fn crates_depend_only_on_the_layers_below_them() {
    let meta = metadata();
    let members: BTreeSet<&str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["source"].is_null())
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let rules: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut broken = Vec::new();
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        if !members.contains(name) || name == "berth" {
            // `berth` is the composition root: it may use every crate.
            continue;
        }
        let Some(allowed) = rules.get(name) else {
            broken.push(format!(
                "{name} is a workspace crate with no layer in tidy.rs's LAYERS (add it, as DESIGN.md places it)"
            ));
            continue;
        };
        for d in p["dependencies"].as_array().unwrap() {
            let dep = d["name"].as_str().unwrap();
            let normal = d["kind"].is_null();
            if normal && members.contains(dep) && !allowed.contains(&dep) {
                broken.push(format!(
                    "{name} depends on {dep}, which its layer must not use"
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "layer rules broken:\n{}",
        broken.join("\n")
    );
}

/// The OCI runtime that containerd and Kubernetes nodes run stays a small
/// synchronous program.
#[test]
fn the_berth_runtime_binary_has_no_async_http_or_store_in_its_tree() {
    let meta = metadata();
    let nodes = meta["resolve"]["nodes"].as_array().unwrap();
    let by_id: BTreeMap<&str, &Value> = nodes
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let name_of = |id: &str| -> String {
        meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["name"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let root = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "berth-runtime-cli")
        .expect("the berth-runtime-cli package")["id"]
        .as_str()
        .unwrap();
    // Normal (not dev, not build) dependencies, transitively.
    let mut seen = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for d in by_id[id]["deps"].as_array().unwrap() {
            let normal = d["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            if normal {
                todo.push(d["pkg"].as_str().unwrap());
            }
        }
    }
    let names: BTreeSet<String> = seen.iter().map(|id| name_of(id)).collect();
    let forbidden: Vec<&str> = ["tokio", "hyper", "redb", "ureq", "bollard"]
        .into_iter()
        .filter(|f| names.contains(*f))
        .collect();
    assert!(
        forbidden.is_empty(),
        "berth-runtime's tree holds {forbidden:?} ({} crates in all)",
        names.len()
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target" && n != "data") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// True when `line` uses the `unsafe` keyword in code (not in a comment or
/// a string that merely says the word).
fn uses_unsafe(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    let code = code.split('"').step_by(2).collect::<Vec<_>>().join(" ");
    code.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|w| w == "unsafe")
        && !code.contains("forbid(unsafe_code)")
}

#[test]
fn unsafe_code_lives_only_in_sys() {
    let crates = workspace_root().join("crates");
    let mut offenders = Vec::new();
    for entry in std::fs::read_dir(&crates).unwrap().flatten() {
        let dir = entry.path();
        if dir.file_name().is_some_and(|n| n == "sys") {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (i, line) in text.lines().enumerate() {
                if uses_unsafe(line) {
                    offenders.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                }
            }
        }
        // Each crate root says so, so the compiler holds the rule too.
        for root in ["src/lib.rs", "src/main.rs"] {
            let p = dir.join(root);
            if let Ok(text) = std::fs::read_to_string(&p)
                && !text.contains("#![forbid(unsafe_code)]")
            {
                offenders.push(format!("{}: no #![forbid(unsafe_code)]", p.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "unsafe outside crates/sys:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_unsafe_detector_tells_code_from_words() {
    assert!(uses_unsafe("    unsafe { libc::kill(1, 9) };"));
    assert!(uses_unsafe("pub unsafe fn f() {}"));
    assert!(!uses_unsafe("#![forbid(unsafe_code)]"));
    assert!(!uses_unsafe("// unsafe here would be wrong"));
    // Spelled in two halves, so this file itself holds no such line.
    let word = ["un", "safe"].concat();
    assert!(!uses_unsafe(&format!("let s = \"{word}\";")));
}

/// The repository's shell scripts (README's commands, CI's entry, the
/// benchmarks and their shared bench/lib): each one parses, and shellcheck
/// finds no warning in it, following what it sources. Benchmarks are not run
/// by CI, so this is what keeps a refactor of bench/lib honest.
#[test]
fn shell_scripts_parse_and_pass_shellcheck() {
    let Some(shellcheck) = berth_testkit::require_tool("shellcheck") else {
        return;
    };
    let root = workspace_root();
    let listed = Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .args(["scripts", ".ci", "bench"])
        .current_dir(&root)
        .output()
        .expect("git ls-files");
    let mut failures = Vec::new();
    let mut checked = 0;
    for rel in String::from_utf8_lossy(&listed.stdout).lines() {
        let path = root.join(rel);
        let head = std::fs::read(&path).unwrap_or_default();
        let is_shell = rel.ends_with(".sh")
            || head.starts_with(b"#!/usr/bin/env bash")
            || head.starts_with(b"#!/bin/bash")
            || head.starts_with(b"#!/bin/sh");
        if !is_shell {
            continue;
        }
        checked += 1;
        let dir = path.parent().unwrap();
        let name = path.file_name().unwrap();
        let parse = Command::new("bash").arg("-n").arg(&path).output().unwrap();
        if !parse.status.success() {
            failures.push(format!("{rel}: {}", String::from_utf8_lossy(&parse.stderr)));
        }
        // From the script's directory, so `source "$SCRIPT_DIR/../lib/x.sh"`
        // directives (shellcheck source=../lib/x.sh) resolve.
        let check = Command::new(&shellcheck)
            .args(["-S", "warning", "-x"])
            .arg(name)
            .current_dir(dir)
            .output()
            .unwrap();
        if !check.status.success() {
            failures.push(format!(
                "{rel}:\n{}",
                String::from_utf8_lossy(&check.stdout)
            ));
        }
    }
    assert!(checked >= 10, "only {checked} shell scripts found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
