#![forbid(unsafe_code)]
//! Builds through Docker's own clients against a private `berth daemon`
//! (issue 12), each one as its users run it:
//!
//! 1. docker's CLI (its classic builder protocol: berth's `_ping` says
//!    Builder-Version 1): `build -t x .`, `build -f - .`, `--target`,
//!    `--build-arg`, `-q`, `--iidfile`, and a failing RUN's exit status;
//! 2. docker-compose 1.29.2: `build` of a service with `build:` (context,
//!    dockerfile, args, target), then `up` of the built image;
//! 3. the Python docker SDK: `client.images.build(path=..., tag=...,
//!    buildargs=..., target=...)` and its BuildError on a failing RUN.
//!
//! Needs root, docker, docker-compose and the Python SDK: skips without
//! them, except under CI=true.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use berth_testkit::{OutputExt, require_python_sdk, require_tool};
use common::berthd::run_with_timeout;
use common::engine::Engine;

/// docker-compose 1.29.2 and the SDK speak 1.41; the CLI asks the version.
const API: (&str, &str) = ("DOCKER_API_VERSION", "1.41");

fn context(e: &Engine, name: &str, files: &[(&str, &str)]) -> PathBuf {
    e.tree(name, files)
}

/// The app the seed builds: a multi-stage Dockerfile whose first stage
/// "compiles" and whose last one ships the result.
fn app_context(e: &Engine, name: &str) -> PathBuf {
    let dockerfile = format!(
        "ARG BASE={base}\nFROM ${{BASE}} AS compile\nARG FLAVOUR=plain\n\
         COPY src/ /src/\nRUN cat /src/main.txt > /app.bin && echo \"flavour=$FLAVOUR\" >> /app.bin\n\
         FROM ${{BASE}} AS tests\nRUN echo the tests stage ran\n\
         FROM ${{BASE}}\nCOPY --from=compile /app.bin /app.bin\nCMD [\"cat\", \"/app.bin\"]\n",
        base = e.image
    );
    context(
        e,
        name,
        &[
            ("Dockerfile", &dockerfile),
            ("src/main.txt", "main program\n"),
            (".dockerignore", "*.tmp\n"),
            ("junk.tmp", "ignored\n"),
        ],
    )
}

fn docker(e: &Engine, dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let docker = e.docker.as_ref().expect("docker's CLI (required above)");
    let mut cmd = Command::new(docker);
    cmd.current_dir(dir)
        .env("DOCKER_HOST", &e.host)
        .env("DOCKER_CONFIG", e.path("docker-cli"))
        .env_remove("DOCKER_BUILDKIT")
        .env_remove("DOCKER_CONTEXT")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn berth_run(e: &Engine, image: &str) -> String {
    let out = e.berth(&["run", "--rm", image]);
    out.assert_success();
    out.stdout_str()
}

#[test]
fn docker_cli_builds_against_berth() {
    if require_tool("docker").is_none() {
        return;
    }
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let dir = app_context(&e, "cli");

    // `docker build -t x .`, with a build arg.
    let out = docker(
        &e,
        &dir,
        &[
            "build",
            "-t",
            "cliapp:1",
            "--build-arg",
            "FLAVOUR=spicy",
            ".",
        ],
        None,
    );
    out.assert_success();
    let log = out.stdout_str();
    assert!(log.contains("Step 1/"), "{log}");
    assert!(log.contains("Successfully tagged cliapp:1"), "{log}");
    assert!(
        !log.contains("the tests stage ran"),
        "an unneeded stage ran: {log}"
    );
    assert_eq!(berth_run(&e, "cliapp:1"), "main program\nflavour=spicy\n");

    // `docker build -f - .`: the Dockerfile from stdin, the context from the directory.
    let stdin_dockerfile = format!(
        "FROM {}\nCOPY src/main.txt /m.txt\nCMD [\"cat\", \"/m.txt\"]\n",
        e.image
    );
    let out = docker(
        &e,
        &dir,
        &["build", "-f", "-", "-t", "cliapp:stdin", "."],
        Some(stdin_dockerfile.as_bytes()),
    );
    out.assert_success();
    assert_eq!(berth_run(&e, "cliapp:stdin"), "main program\n");

    // `--target`, `-q` and `--iidfile`.
    let iid = e.path("iid");
    let out = docker(
        &e,
        &dir,
        &[
            "build",
            "-q",
            "--target",
            "compile",
            "--iidfile",
            &iid.to_string_lossy(),
            "-t",
            "cliapp:compile",
            ".",
        ],
        None,
    );
    out.assert_success();
    let id = out.stdout_str().trim().to_string();
    assert!(id.starts_with("sha256:"), "-q prints the id: {id}");
    // docker's CLI writes what -q printed (the id and a newline).
    assert_eq!(fs::read_to_string(&iid).unwrap().trim(), id);
    let inspect = e.berth(&["image", "inspect", "--format", "{{.Id}}", "cliapp:compile"]);
    assert_eq!(inspect.stdout_str().trim(), id);

    // A failing RUN: docker exits with its code, and names the command.
    let failing = format!("FROM {}\nRUN echo going down; exit 5\n", e.image);
    let out = docker(
        &e,
        &dir,
        &["build", "-f", "-", "-t", "cliapp:broken", "."],
        Some(failing.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(5), "{}", out.stderr_str());
    assert!(
        out.stderr_str().contains(
            "The command '/bin/sh -c echo going down; exit 5' returned a non-zero code: 5"
        ),
        "{}",
        out.stderr_str()
    );
    let images = e.berth(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(!images.stdout_str().contains("cliapp:broken"));

    // A Dockerfile that does not parse: docker's "Error response from daemon".
    let bad = "FROM x\nNOPE\n";
    let out = docker(&e, &dir, &["build", "-f", "-", "."], Some(bad.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr_str()
            .contains("Error response from daemon: dockerfile parse error on line 2: unknown instruction: NOPE"),
        "{}",
        out.stderr_str()
    );
}

#[test]
fn docker_compose_builds_and_runs_a_service() {
    let Some(compose) = require_tool("docker-compose") else {
        return;
    };
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let dir = app_context(&e, "compose");
    fs::write(
        dir.join("docker-compose.yml"),
        r#"version: "3.8"
services:
  app:
    build:
      context: .
      dockerfile: Dockerfile
      target: compile
      args:
        FLAVOUR: composed
    image: composeapp:built
    command: ["cat", "/app.bin"]
"#,
    )
    .unwrap();
    let project = format!("bb{}", std::process::id());
    let compose_cmd = |args: &[&str]| {
        let mut cmd = Command::new(&compose);
        cmd.current_dir(&dir)
            .env("DOCKER_HOST", &e.host)
            .env("COMPOSE_PROJECT_NAME", &project)
            .env("COMPOSE_API_VERSION", API.1)
            .env("DOCKER_CONFIG", e.path("docker-cli"))
            .env_remove("DOCKER_BUILDKIT")
            .env_remove("COMPOSE_DOCKER_CLI_BUILD")
            .args(args)
            .stdin(Stdio::null());
        run_with_timeout(cmd, Duration::from_secs(120))
    };
    let out = compose_cmd(&["build"]);
    assert!(
        out.status.success(),
        "docker-compose build: {}{}",
        out.stdout_str(),
        out.stderr_str()
    );
    assert!(
        out.stdout_str()
            .contains("Successfully tagged composeapp:built"),
        "{}",
        out.stdout_str()
    );
    let out = compose_cmd(&["up", "--no-build", "--exit-code-from", "app"]);
    assert!(
        out.stdout_str().contains("main program") && out.stdout_str().contains("flavour=composed"),
        "docker-compose up: {}{}",
        out.stdout_str(),
        out.stderr_str()
    );
    compose_cmd(&["down"]);
}

const SDK_SCRIPT: &str = r#"
import sys, docker
host, context, base = sys.argv[1], sys.argv[2], sys.argv[3]
client = docker.DockerClient(base_url=host, version="1.41")
image, logs = client.images.build(path=context, tag="sdkapp:1", buildargs={"FLAVOUR": "sdk"}, rm=True)
print("tags|" + ",".join(image.tags))
print("steps|" + str(sum(1 for l in logs if "stream" in l and l["stream"].startswith("Step "))))
print("run|" + client.containers.run("sdkapp:1", remove=True).decode().replace("\n", "/"))
image, _ = client.images.build(path=context, tag="sdkapp:compile", target="compile")
print("target|" + str(image.attrs["Config"]["Cmd"]))
import io
try:
    client.images.build(fileobj=io.BytesIO(("FROM %s\nRUN exit 4\n" % base).encode()), tag="sdkapp:broken")
    print("broken|built")
except docker.errors.BuildError as e:
    print("broken|" + e.msg)
# A RUN's stderr comes in red, as dockerd's classic builder sends it.
api = client.api
lines = [c.get("stream") for c in api.build(fileobj=io.BytesIO(("FROM %s\nRUN echo to-stderr >&2\n" % base).encode()), decode=True, nocache=True)]
print("stderr|" + str("\x1b[91mto-stderr\n\x1b[0m" in lines))
# extrahosts repeated: every host in the build's /etc/hosts.
df = "FROM %s\nRUN grep -q one.test /etc/hosts && grep -q two.test /etc/hosts\n" % base
_, logs = client.images.build(fileobj=io.BytesIO(df.encode()), extra_hosts={"one.test": "127.0.0.1", "two.test": "127.0.0.2"}, nocache=True)
print("extrahosts|ok")
# cache_from: only the named images' chains are cache sources.
df = "FROM %s\nENV CF=1\nRUN echo cf > /cf\n" % base
client.images.build(fileobj=io.BytesIO(df.encode()), tag="cf:1")
def cached(cache_from):
    out = api.build(fileobj=io.BytesIO(df.encode()), cache_from=cache_from, decode=True)
    return sum(1 for c in out if "Using cache" in (c.get("stream") or ""))
print("cachefrom|%d,%d" % (cached(["nosuchtag"]), cached(["cf:1"])))
# A Dockerfile from outside the context (the SDK adds it as .dockerfile.<hash>
# and lists it in .dockerignore): neither is in the context's COPY.
import os, tempfile
ctx = tempfile.mkdtemp()
open(os.path.join(ctx, "file.txt"), "w").write("x")
outside = tempfile.NamedTemporaryFile("w", suffix="Dockerfile", delete=False)
outside.write("FROM %s\nCOPY . /src\n" % base); outside.close()
img, _ = client.images.build(path=ctx, dockerfile=outside.name, tag="outside:1")
print("outside|" + client.containers.run("outside:1", "ls -A /src", remove=True).decode().replace("\n", " ").strip())
"#;

#[test]
fn python_sdk_builds_images() {
    let Some(python) = require_python_sdk() else {
        return;
    };
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let dir = app_context(&e, "sdk");
    let mut cmd = Command::new(python);
    cmd.args(["-c", SDK_SCRIPT, &e.host, &dir.to_string_lossy(), &e.image])
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::null());
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(out.status.success(), "the SDK script: {}", out.stderr_str());
    let got: std::collections::BTreeMap<String, String> = out
        .stdout_str()
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(got["tags"], "sdkapp:1");
    assert_eq!(got["steps"], "8", "{got:?}");
    assert_eq!(got["run"], "main program/flavour=sdk/");
    assert_eq!(got["target"], "['sh']");
    assert_eq!(
        got["broken"],
        "The command '/bin/sh -c exit 4' returned a non-zero code: 4"
    );
    assert_eq!(got["stderr"], "True", "{got:?}");
    assert_eq!(got["extrahosts"], "ok");
    // Two cacheable steps (ENV, RUN): none with an unknown image named,
    // both with the image that has them.
    assert_eq!(got["cachefrom"], "0,2", "{got:?}");
    assert_eq!(got["outside"], "file.txt", "{got:?}");
}
