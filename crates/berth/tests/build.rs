#![forbid(unsafe_code)]
//! Builds (issue 12) through berth's own CLI against a private `berth
//! daemon`, from the busybox image the test imports (no network needed):
//!
//! 1. every instruction's effect, seen in `image inspect` and in a run;
//! 2. multi-stage: an artifact made in one stage copied into the final
//!    one, which is smaller than the single-stage equivalent;
//! 3. `.dockerignore` with `**` and `!` exceptions;
//! 4. the cache: reused when nothing changed (a touched file included),
//!    invalidated from exactly the COPY of a changed file on, by a changed
//!    build arg from its RUN on, and never with `--no-cache`;
//! 5. hostile input: a clear error with the line, nothing tagged, no
//!    container, mount or context directory left, the cache still sound;
//! 6. a RUN that reaches a web server through the default bridge (the
//!    daemon in a scratch network namespace, see common/netns.rs).
//!
//! Needs root: skips without it, except under CI=true.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use berth_testkit::OutputExt;
use common::engine::Engine;

/// A context directory under the engine's scratch directory.
fn context(e: &Engine, name: &str, files: &[(&str, &str)]) -> PathBuf {
    e.tree(name, files)
}

fn build(e: &Engine, dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    let d = dir.to_string_lossy().into_owned();
    all.push(&d);
    e.berth(&all)
}

fn inspect(e: &Engine, image: &str, format: &str) -> String {
    let out = e.berth(&["image", "inspect", "--format", format, image]);
    out.assert_success();
    out.stdout_str().trim().to_string()
}

fn run(e: &Engine, image: &str, cmd: &[&str]) -> String {
    let mut args = vec!["run", "--rm"];
    // Options before the image (`-u 0`).
    let (opts, cmd): (Vec<&str>, Vec<&str>) = match cmd {
        ["-u", u, rest @ ..] => (vec!["-u", u], rest.to_vec()),
        _ => (vec![], cmd.to_vec()),
    };
    args.extend(opts);
    args.push(image);
    args.extend(cmd);
    let out = e.berth(&args);
    out.assert_success();
    out.stdout_str()
}

/// The engine's data root (common/engine.rs puts it beside the scratch
/// directory).
fn data_root(e: &Engine) -> PathBuf {
    e.dir.parent().unwrap().join("data")
}

/// What a build must not leave: containers, mounts under the data root,
/// unpacked contexts and build roots.
fn assert_nothing_left(e: &Engine) {
    let ps = e.berth(&["ps", "-aq"]);
    ps.assert_success();
    assert_eq!(ps.stdout_str().trim(), "", "containers left behind");
    let root = data_root(e);
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root_s = root.to_string_lossy().into_owned();
    assert!(
        !mounts.lines().any(|l| l.contains(&root_s)),
        "mounts left under {root_s}"
    );
    let tmp: Vec<_> = fs::read_dir(root.join("tmp"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "left in {}/tmp: {tmp:?}", root.display());
}

#[test]
fn every_instruction_shows_in_the_image_and_in_a_run() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let base = &e.image;
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(6);
    h.set_mode(0o640);
    h.set_uid(1234);
    h.set_gid(55);
    h.set_cksum();
    tar.append_data(&mut h, "unpacked/inside.txt", &b"inside"[..])
        .unwrap();
    let tarball = tar.into_inner().unwrap();
    let dockerfile = format!(
        r#"# syntax=docker/dockerfile:1
ARG BASE={base}
FROM --platform=$BUILDPLATFORM ${{BASE}}
ARG WHO=nobody
ARG UNUSED
ENV GREETING="hello there" \
    PLACE=${{WHO:-x}}
LABEL org.example.name="berth test" version=1
WORKDIR /app
WORKDIR sub
COPY --chown=1000:1000 --chmod=0751 tool.sh ./
COPY files/ /data/
COPY --parents files/deep/b.txt /par/
ADD archive.tar /opt/
RUN echo "$GREETING $WHO" > /app/sub/greeting.txt
RUN <<EOF
echo heredoc-ran > /app/sub/heredoc.txt
EOF
COPY <<EOT /etc/motd
welcome ${{WHO}}
EOT
SHELL ["/bin/sh", "-ec"]
RUN test "$0" = /bin/sh && echo shell-ok > /app/sub/shell.txt
EXPOSE 8080 53/udp
VOLUME /var/lib/thing
USER 1000:1000
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD test -f /app/sub/greeting.txt
ONBUILD RUN echo triggered > /tmp/trigger.txt
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/sub/greeting.txt"]
"#
    );
    let dir = context(
        &e,
        "all",
        &[
            ("Dockerfile", &dockerfile),
            ("tool.sh", "#!/bin/sh\necho tool\n"),
            ("files/a.txt", "A\n"),
            ("files/deep/b.txt", "B\n"),
        ],
    );
    fs::write(dir.join("archive.tar"), &tarball).unwrap();
    let out = build(&e, &dir, &["-t", "every:1", "--build-arg", "WHO=world"]);
    out.assert_success();
    let log = out.stdout_str();
    assert!(log.contains("Step 1/"), "{log}");
    assert!(log.contains("Successfully tagged every:1"), "{log}");
    assert!(
        !log.contains("[Warning] One or more build-args"),
        "WHO is consumed: {log}"
    );

    let f = |fmt: &str| inspect(&e, "every:1", fmt);
    assert_eq!(f("{{.Config.WorkingDir}}"), "/app/sub");
    assert_eq!(f("{{.Config.User}}"), "1000:1000");
    assert_eq!(f("{{.Config.StopSignal}}"), "SIGINT");
    assert_eq!(f("{{json .Config.Entrypoint}}"), r#"["/bin/sh","-c"]"#);
    assert_eq!(
        f("{{json .Config.Cmd}}"),
        r#"["cat /app/sub/greeting.txt"]"#
    );
    assert_eq!(f("{{json .Config.Shell}}"), r#"["/bin/sh","-ec"]"#);
    assert_eq!(
        f("{{json .Config.ExposedPorts}}"),
        r#"{"53/udp":{},"8080/tcp":{}}"#
    );
    assert_eq!(f("{{json .Config.Volumes}}"), r#"{"/var/lib/thing":{}}"#);
    assert_eq!(
        f("{{index .Config.Labels \"org.example.name\"}}"),
        "berth test"
    );
    assert_eq!(f("{{index .Config.Labels \"version\"}}"), "1");
    let env = f("{{json .Config.Env}}");
    assert!(env.contains(r#""GREETING=hello there""#), "{env}");
    assert!(env.contains(r#""PLACE=world""#), "{env}");
    assert!(!env.contains("WHO="), "an ARG is not kept: {env}");
    assert_eq!(
        f("{{json .Config.Healthcheck}}"),
        r#"{"Test":["CMD-SHELL","test -f /app/sub/greeting.txt"],"Interval":5000000000,"Timeout":2000000000,"Retries":4}"#
    );
    assert_eq!(
        f("{{json .Config.OnBuild}}"),
        r#"["RUN echo triggered > /tmp/trigger.txt"]"#
    );

    // The image's files, as a run sees them.
    assert_eq!(run(&e, "every:1", &[]), "hello there world\n");
    let check = |cmd: &str| run(&e, "every:1", &[cmd]);
    assert_eq!(check("cat /app/sub/heredoc.txt"), "heredoc-ran\n");
    assert_eq!(check("cat /app/sub/shell.txt"), "shell-ok\n");
    assert_eq!(check("cat /etc/motd"), "welcome world\n");
    assert_eq!(
        check("stat -c '%u:%g %a' /app/sub/tool.sh"),
        "1000:1000 751\n"
    );
    assert_eq!(
        check("cat /data/a.txt /data/deep/b.txt; stat -c '%u' /data/a.txt"),
        "A\nB\n0\n"
    );
    // The archive's owner and mode are kept: root reads it.
    assert_eq!(
        run(
            &e,
            "every:1",
            &[
                "-u",
                "0",
                "cat /opt/unpacked/inside.txt; stat -c ' %u:%g %a' /opt/unpacked/inside.txt"
            ]
        ),
        "inside 1234:55 640\n"
    );
    assert_eq!(check("cat /par/files/deep/b.txt"), "B\n");
    assert_eq!(check("id -u"), "1000\n");

    // ONBUILD fires in an image built FROM this one.
    let child = context(&e, "child", &[("Dockerfile", "FROM every:1\nUSER 0\n")]);
    let out = build(&e, &child, &["-t", "child:1"]);
    out.assert_success();
    assert!(
        out.stdout_str().contains("# Executing 1 build trigger"),
        "{}",
        out.stdout_str()
    );
    assert_eq!(run(&e, "child:1", &["cat /tmp/trigger.txt"]), "triggered\n");
    assert_eq!(inspect(&e, "child:1", "{{json .Config.OnBuild}}"), "null");

    // --label and an unused --build-arg.
    let out = build(
        &e,
        &child,
        &[
            "-t",
            "child:2",
            "--label",
            "extra=yes",
            "--build-arg",
            "NOPE=1",
        ],
    );
    out.assert_success();
    assert!(
        out.stdout_str()
            .contains("[Warning] One or more build-args [NOPE] were not consumed"),
        "{}",
        out.stdout_str()
    );
    assert_eq!(
        inspect(&e, "child:2", "{{index .Config.Labels \"extra\"}}"),
        "yes"
    );
    assert_nothing_left(&e);
}

#[test]
fn multi_stage_copies_an_artifact_and_ships_only_the_last_stage() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let base = &e.image;
    // The "toolchain": 4 MiB the build needs and the app does not.
    let single = format!(
        "FROM {base}\nRUN head -c 4194304 /dev/zero > /toolchain.bin\n\
         RUN echo built-artifact > /artifact.txt\nCMD [\"cat\", \"/artifact.txt\"]\n"
    );
    let multi = format!(
        "FROM {base} AS builder\nRUN head -c 4194304 /dev/zero > /toolchain.bin\n\
         RUN echo built-artifact > /artifact.txt\n\
         FROM {base} AS unused\nRUN exit 9\n\
         FROM {base}\nCOPY --from=builder /artifact.txt /artifact.txt\n\
         CMD [\"cat\", \"/artifact.txt\"]\n"
    );
    let dir = context(
        &e,
        "ms",
        &[("single.Dockerfile", &single), ("multi.Dockerfile", &multi)],
    );
    let f = |name: &str| dir.join(name).to_string_lossy().into_owned();
    build(
        &e,
        &dir,
        &["-t", "app:single", "-f", &f("single.Dockerfile")],
    )
    .assert_success();
    let out = build(&e, &dir, &["-t", "app:multi", "-f", &f("multi.Dockerfile")]);
    out.assert_success();
    // The stage nothing needs is not built (its RUN would fail).
    assert!(!out.stdout_str().contains("exit 9"), "{}", out.stdout_str());
    assert_eq!(run(&e, "app:multi", &[]), "built-artifact\n");
    let size = |tag: &str| -> u64 { inspect(&e, tag, "{{.Size}}").parse().unwrap() };
    let (single, multi) = (size("app:single"), size("app:multi"));
    println!("single-stage image: {single} bytes; multi-stage image: {multi} bytes");
    assert!(
        multi + 4_000_000 < single,
        "the final stage carries the toolchain: {multi} vs {single}"
    );
    // --target builds a stage and what it needs, and stops there.
    let out = build(
        &e,
        &dir,
        &[
            "-t",
            "app:builder",
            "--target",
            "builder",
            "-f",
            &f("multi.Dockerfile"),
        ],
    );
    out.assert_success();
    assert_eq!(
        run(&e, "app:builder", &["ls", "/toolchain.bin"]),
        "/toolchain.bin\n"
    );
    assert_nothing_left(&e);
}

#[test]
fn independent_stages_are_built_together() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    // Each of the two first stages waits for the other's mark in a cache
    // mount they share: built one after the other, the first would give
    // up after 30 s and fail the build.
    let wait_for = |me: &str, other: &str| {
        format!(
            "RUN --mount=type=cache,id=rendezvous,target=/sync touch /sync/{me} && \
             i=0; while [ ! -f /sync/{other} ]; do i=$((i+1)); [ $i -lt 300 ] || exit 7; sleep 0.1; done; \
             echo {me} > /{me}.txt\n"
        )
    };
    let dockerfile = format!(
        "FROM {base} AS left\n{left}FROM {base} AS right\n{right}\
         FROM {base}\nCOPY --from=left /left.txt /\nCOPY --from=right /right.txt /\n\
         CMD [\"cat\", \"/left.txt\", \"/right.txt\"]\n",
        base = e.image,
        left = wait_for("left", "right"),
        right = wait_for("right", "left"),
    );
    let dir = context(&e, "parallel", &[("Dockerfile", &dockerfile)]);
    let out = build(&e, &dir, &["-t", "par:1"]);
    out.assert_success();
    assert_eq!(run(&e, "par:1", &[]), "left\nright\n");
    // The output reads as if built one after the other: steps in order.
    let numbers: Vec<usize> = out
        .stdout_str()
        .lines()
        .filter_map(|l| l.strip_prefix("Step ")?.split('/').next()?.parse().ok())
        .collect();
    assert_eq!(numbers, (1..=8).collect::<Vec<_>>(), "{}", out.stdout_str());
    assert_nothing_left(&e);
}

#[test]
fn dockerignore_leaves_files_out_and_exceptions_in() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let dockerfile = format!("FROM {}\nCOPY . /ctx/\n", e.image);
    let dir = context(
        &e,
        "ign",
        &[
            ("Dockerfile", &dockerfile),
            (
                ".dockerignore",
                "# comment\n**/*.log\nsecrets\nbuild/*\n!build/keep.txt\nDockerfile\n.dockerignore\n",
            ),
            ("app.py", "print()\n"),
            ("debug.log", "x"),
            ("deep/er/trace.log", "x"),
            ("deep/er/kept.txt", "k"),
            ("secrets/key", "k"),
            ("build/out.o", "o"),
            ("build/keep.txt", "keep"),
        ],
    );
    build(&e, &dir, &["-t", "ign:1"]).assert_success();
    let listing = run(
        &e,
        "ign:1",
        &["sh", "-c", "cd /ctx && find . -type f | sort"],
    );
    assert_eq!(
        listing,
        // The Dockerfile and .dockerignore are always sent (docker's CLI
        // sends them whatever .dockerignore says); the engine drops them
        // once the Dockerfile is read, as dockerd does, since they match.
        "./app.py\n./build/keep.txt\n./deep/er/kept.txt\n"
    );
    // Not excluded, they stay (and a .dockerignore that does not name
    // itself stays too).
    std::fs::write(dir.join(".dockerignore"), "*.log\n").unwrap();
    build(&e, &dir, &["-t", "ign:2"]).assert_success();
    let listing = run(&e, "ign:2", &["sh", "-c", "cd /ctx && ls -A | sort"]);
    assert!(listing.contains(".dockerignore\nDockerfile\n"), "{listing}");
}

/// `build - < Dockerfile` (a context of the Dockerfile alone) and
/// `build -f - DIR` (the Dockerfile from stdin, the files from DIR).
#[test]
fn a_dockerfile_on_stdin_builds() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let alone = format!("FROM {}\nRUN echo alone > /f\n", e.image);
    e.berth_stdin(&["build", "-q", "-t", "stdin:alone", "-"], alone.as_bytes())
        .assert_success();
    assert_eq!(run(&e, "stdin:alone", &["cat", "/f"]), "alone\n");
    let dir = context(&e, "stdin-dir", &[("file.txt", "from the dir\n")]);
    let with_dir = format!("FROM {}\nCOPY file.txt /f\n", e.image);
    let d = dir.to_string_lossy().into_owned();
    e.berth_stdin(
        &["build", "-q", "-t", "stdin:dir", "-f", "-", &d],
        with_dir.as_bytes(),
    )
    .assert_success();
    assert_eq!(run(&e, "stdin:dir", &["cat", "/f"]), "from the dir\n");
}

#[test]
fn the_cache_is_reused_and_invalidated_exactly() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let dockerfile = format!(
        "FROM {}\nARG V=1\nENV A=1\nCOPY one.txt /one.txt\nRUN echo ran-one\n\
         COPY two.txt /two.txt\nRUN echo ran-two-$V\nCMD cat /one.txt /two.txt\n",
        e.image
    );
    let dir = context(
        &e,
        "cache",
        &[
            ("Dockerfile", &dockerfile),
            ("one.txt", "1\n"),
            ("two.txt", "2\n"),
        ],
    );
    let steps = |out: &Output| -> (usize, String) {
        out.assert_success();
        let s = out.stdout_str();
        (s.matches(" ---> Using cache").count(), s)
    };
    let (hits, log) = steps(&build(&e, &dir, &["-t", "c:1"]));
    assert_eq!(hits, 0, "{log}");
    assert!(
        log.contains("\nran-one\n") && log.contains("\nran-two-1\n"),
        "{log}"
    );

    // Nothing changed: every step but FROM and ARG comes from the cache.
    let (hits, log) = steps(&build(&e, &dir, &["-t", "c:2"]));
    assert_eq!(hits, 6, "{log}");
    assert!(!log.contains("Running in"), "{log}");
    assert_eq!(inspect(&e, "c:1", "{{.Id}}"), inspect(&e, "c:2", "{{.Id}}"));

    // A touched file (new mtime, same content) is no change.
    let f = fs::File::options()
        .append(true)
        .open(dir.join("one.txt"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    let (hits, log) = steps(&build(&e, &dir, &["-t", "c:3"]));
    assert_eq!(hits, 6, "{log}");

    // A changed second file: its COPY and every step after it run again.
    fs::write(dir.join("two.txt"), "2 changed\n").unwrap();
    let (hits, log) = steps(&build(&e, &dir, &["-t", "c:4"]));
    assert_eq!(hits, 3, "ENV, COPY one.txt, RUN one cached: {log}");
    assert!(
        !log.contains("\nran-one\n") && log.contains("\nran-two-1\n"),
        "{log}"
    );
    assert_eq!(run(&e, "c:4", &[]), "1\n2 changed\n");

    // A changed build arg: as in docker, every RUN after its ARG sees it
    // (in its environment), so the first RUN misses and all after it.
    let (hits, log) = steps(&build(&e, &dir, &["-t", "c:5", "--build-arg", "V=2"]));
    assert!(
        log.contains("\nran-one\n") && log.contains("\nran-two-2\n"),
        "{log}"
    );
    assert_eq!(hits, 2, "ENV, COPY one.txt cached: {log}");

    // --no-cache: nothing from the cache.
    let (hits, log) = steps(&build(&e, &dir, &["-t", "c:6", "--no-cache"]));
    assert_eq!(hits, 0, "{log}");

    // `system df` counts the cache; `builder prune` forgets it, and the
    // tagged images stay whole.
    let df = |e: &Engine| {
        let out = e.berth(&["system", "df", "--format", "{{.Type}}={{.TotalCount}}"]);
        out.assert_success();
        out.stdout_str()
    };
    assert!(!df(&e).contains("Build Cache=0"), "{}", df(&e));
    let out = e.berth(&["builder", "prune", "-f"]);
    out.assert_success();
    assert!(
        out.stdout_str().contains("Total reclaimed space"),
        "{}",
        out.stdout_str()
    );
    assert!(df(&e).contains("Build Cache=0"), "{}", df(&e));
    let (hits, log) = steps(&build(&e, &dir, &["-t", "c:7"]));
    assert_eq!(hits, 0, "{log}");
    assert_eq!(run(&e, "c:1", &[]), "1\n2\n");
    assert_nothing_left(&e);
}

#[test]
fn bad_input_is_refused_with_its_line_and_leaves_nothing_behind() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let base = &e.image;
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown",
            format!("FROM {base}\nRUN true\nFROBNICATE x\n"),
            "line 3: unknown instruction: FROBNICATE",
        ),
        (
            "heredoc",
            format!("FROM {base}\nRUN <<EOF\necho never ends\n"),
            "unterminated heredoc",
        ),
        (
            "quote",
            format!("FROM {base}\nENV A=\"open\n"),
            "Dockerfile:2: ENV A=\"open: failed to process",
        ),
        (
            "outside",
            format!("FROM {base}\nCOPY ../../etc/passwd /x\n"),
            "outside the build context",
        ),
        (
            "target",
            format!("FROM {base} AS one\nRUN true\n"),
            "failed to reach build target nope",
        ),
        (
            "cycle",
            "FROM b AS a\nRUN true\nFROM a AS b\nRUN true\n".to_string(),
            "circular dependency detected on stage",
        ),
        (
            "empty",
            "# nothing\n".to_string(),
            "file with no instructions",
        ),
        (
            "platform",
            format!("FROM --platform=linux/s390x {base}\nRUN true\n"),
            "berth builds for this host only",
        ),
        (
            "nofrom",
            "RUN true\n".to_string(),
            "no build stage in current context",
        ),
    ];
    for (name, dockerfile, want) in &cases {
        let dir = context(&e, &format!("bad-{name}"), &[("Dockerfile", dockerfile)]);
        let mut args = vec!["-t", "bad:latest"];
        if *name == "target" {
            args.extend(["--target", "nope"]);
        }
        let out = build(&e, &dir, &args);
        assert_ne!(out.status.code(), Some(0), "{name} built");
        assert!(
            out.stderr_str().contains(want),
            "{name}: wanted {want:?} in {}",
            out.stderr_str()
        );
    }
    // A symlink that leaves the context leads nowhere outside it.
    let dir = context(
        &e,
        "bad-link",
        &[("Dockerfile", &format!("FROM {base}\nCOPY link /x\n"))],
    );
    std::os::unix::fs::symlink("/etc/passwd", dir.join("link")).unwrap();
    let out = build(&e, &dir, &["-t", "bad:latest"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        out.stderr_str().contains("file not found in build context"),
        "{}",
        out.stderr_str()
    );

    // A failing RUN: its step, its code as the exit status, nothing tagged,
    // and the steps before it still cached for the next build.
    let good = format!("FROM {base}\nRUN echo step-one\nRUN echo about to fail; exit 3\n");
    let dir = context(&e, "bad-run", &[("Dockerfile", &good)]);
    let out = build(&e, &dir, &["-t", "bad:latest"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        out.stdout_str(),
        out.stderr_str()
    );
    assert!(
        out.stdout_str().contains("about to fail"),
        "{}",
        out.stdout_str()
    );
    assert!(
        out.stderr_str().contains(
            "The command '/bin/sh -c echo about to fail; exit 3' returned a non-zero code: 3"
        ),
        "{}",
        out.stderr_str()
    );
    let out = build(&e, &dir, &["-q", "-t", "bad:latest"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        out.stderr_str()
            .contains("Step 3/3 : RUN echo about to fail; exit 3")
            && out.stderr_str().contains("about to fail\n"),
        "quiet: the step and its output's tail in the error: {}",
        out.stderr_str()
    );
    let images = e.berth(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        !images.stdout_str().contains("bad:"),
        "{}",
        images.stdout_str()
    );
    fs::write(
        dir.join("Dockerfile"),
        format!("FROM {base}\nRUN echo step-one\nRUN echo fixed\n"),
    )
    .unwrap();
    let out = build(&e, &dir, &["-t", "bad:fixed"]);
    out.assert_success();
    assert_eq!(
        out.stdout_str().matches("Using cache").count(),
        1,
        "{}",
        out.stdout_str()
    );
    assert_nothing_left(&e);
}

#[test]
fn a_client_that_goes_away_mid_upload_leaves_nothing() {
    use std::io::Write;
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let socket = e.host.strip_prefix("unix://").unwrap().to_string();
    let mut s = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    write!(
        s,
        "POST /build?t=half HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    // Half a tar: a header for a 1 MiB file and a little of its data.
    let mut h = tar::Header::new_gnu();
    h.set_path("big.bin").unwrap();
    h.set_size(1 << 20);
    h.set_mode(0o644);
    h.set_cksum();
    let mut chunk = h.as_bytes().to_vec();
    chunk.extend(vec![7u8; 4096]);
    write!(s, "{:x}\r\n", chunk.len()).unwrap();
    s.write_all(&chunk).unwrap();
    s.write_all(b"\r\n").unwrap();
    s.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(s);
    assert!(common::engine::eventually(
        std::time::Duration::from_secs(10),
        || {
            fs::read_dir(data_root(&e).join("tmp"))
                .map(|d| d.count() == 0)
                .unwrap_or(true)
        }
    ));
    assert_nothing_left(&e);
    // The daemon is still serving.
    e.berth(&["images"]).assert_success();
}

#[test]
fn a_run_step_reaches_a_server_through_the_default_bridge() {
    if !berth_testkit::require_root() {
        return;
    }
    let net = common::netns::ScratchNet::new();
    let Some(e) = Engine::berth_daemon_in_netns(&net) else {
        return;
    };
    let gateway = inspect_network_gateway(&e);
    // A web server on the bridge's address in the daemon's namespace (a
    // socket stays in the namespace it was made in): it serves one file.
    let addr: std::net::SocketAddr = format!("{gateway}:18731").parse().unwrap();
    let listener = net.run(|| std::net::TcpListener::bind(addr).unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut req = [0u8; 1024];
            let _ = conn.read(&mut req);
            let body = "served by the host\n";
            let _ = write!(
                conn,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let dockerfile = format!(
        "FROM {}\nRUN for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O /fetched.txt http://{gateway}:18731/payload.txt && break; sleep 0.5; done; cat /fetched.txt\n",
        e.image
    );
    let dir = context(&e, "net", &[("Dockerfile", &dockerfile)]);
    let out = build(&e, &dir, &["-t", "net:1"]);
    out.assert_success();
    assert!(
        out.stdout_str().contains("served by the host"),
        "{}",
        out.stdout_str()
    );
    assert_eq!(
        run(&e, "net:1", &["cat", "/fetched.txt"]),
        "served by the host\n"
    );
    // --network none: no way out.
    let dir = context(
        &e,
        "nonet",
        &[(
            "Dockerfile",
            &format!(
                "FROM {}\nRUN wget -q -T 2 -O- http://{gateway}:18731/payload.txt\n",
                e.image
            ),
        )],
    );
    let out = build(&e, &dir, &["--network", "none", "--no-cache"]);
    assert_ne!(out.status.code(), Some(0), "{}", out.stdout_str());
}

/// The default bridge's gateway, as a container on it sees it.
fn inspect_network_gateway(e: &Engine) -> String {
    let name = e.name("gw");
    e.berth(&["run", "-d", "--name", &name, &e.image, "sleep", "30"])
        .assert_success();
    let out = e.berth(&["inspect", "--format", "{{.NetworkSettings.Gateway}}", &name]);
    e.berth(&["rm", "-f", &name]).assert_success();
    out.assert_success();
    let gw = out.stdout_str().trim().to_string();
    assert!(!gw.is_empty(), "no gateway on the default bridge");
    gw
}

/// A web server on 127.0.0.1 serving `files` (path, body) with a
/// Last-Modified; runs until the test's process ends.
fn serve(files: Vec<(String, Vec<u8>)>) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut req = [0u8; 2048];
            let n = conn.read(&mut req).unwrap_or(0);
            let text = String::from_utf8_lossy(&req[..n]);
            let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
            match files.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => {
                    let _ = write!(
                        conn,
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n",
                        body.len()
                    );
                    let _ = conn.write_all(body);
                }
                None => {
                    let _ = write!(conn, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                }
            }
        }
    });
    port
}

#[test]
fn add_downloads_urls_checks_digests_and_remote_contexts_build() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let body = b"remote content\n".to_vec();
    let digest = {
        use sha2::Digest;
        let h = sha2::Sha256::digest(&body);
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let remote_dockerfile = format!(
        "FROM {}\nCOPY hello.txt /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n",
        e.image
    );
    let mut tar = tar::Builder::new(Vec::new());
    for (name, text) in [
        ("Dockerfile", remote_dockerfile.as_str()),
        ("hello.txt", "from a remote context\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        tar.append_data(&mut h, name, text.as_bytes()).unwrap();
    }
    let port = serve(vec![
        ("/file.txt".into(), body.clone()),
        ("/ctx.tar".into(), tar.into_inner().unwrap()),
    ]);
    let url = format!("http://127.0.0.1:{port}/file.txt");
    let dockerfile = format!(
        "FROM {}\nADD {url} /srv/\nADD --checksum=sha256:{digest} {url} /checked.txt\n",
        e.image
    );
    let dir = context(&e, "url", &[("Dockerfile", &dockerfile)]);
    build(&e, &dir, &["-t", "url:1"]).assert_success();
    assert_eq!(
        run(
            &e,
            "url:1",
            &[
                "sh",
                "-c",
                "cat /srv/file.txt /checked.txt; stat -c '%a %Y' /srv/file.txt"
            ]
        ),
        // Mode 0600 and the server's Last-Modified, as docker gives them.
        "remote content\nremote content\n600 1445412480\n"
    );
    // A digest that does not match: the step fails, nothing is tagged.
    let wrong = format!(
        "FROM {}\nADD --checksum=sha256:{} {url} /x\n",
        e.image,
        "0".repeat(64)
    );
    fs::write(dir.join("Dockerfile"), wrong).unwrap();
    let out = build(&e, &dir, &["-t", "url:wrong"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        out.stderr_str()
            .contains(&format!("the digest of {url} is sha256:{digest}")),
        "{}",
        out.stderr_str()
    );
    // A missing file: the server's status.
    fs::write(
        dir.join("Dockerfile"),
        format!("FROM {}\nADD http://127.0.0.1:{port}/nope /x\n", e.image),
    )
    .unwrap();
    let out = build(&e, &dir, &["-t", "url:missing"]);
    assert!(out.stderr_str().contains("404"), "{}", out.stderr_str());
    // A context given by URL: the engine fetches and unpacks it.
    let out = e.berth(&[
        "build",
        "-t",
        "remote:1",
        &format!("http://127.0.0.1:{port}/ctx.tar"),
    ]);
    out.assert_success();
    assert_eq!(run(&e, "remote:1", &[]), "from a remote context\n");
    // A context URL the server does not have: its status, nothing kept.
    let out = e.berth(&[
        "build",
        "-t",
        "remote:2",
        &format!("http://127.0.0.1:{port}/gone.tar"),
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stderr_str().contains("404"), "{}", out.stderr_str());
    assert_nothing_left(&e);
}

#[test]
fn a_context_over_the_limit_is_refused_and_leaves_nothing() {
    let Some(e) = Engine::private_berth_daemon_with(&["--build-context-limit", "64k"]) else {
        return;
    };
    let dockerfile = format!("FROM {}\nCOPY . /ctx/\n", e.image);
    let dir = context(&e, "big", &[("Dockerfile", &dockerfile)]);
    fs::write(dir.join("big.bin"), vec![1u8; 256 << 10]).unwrap();
    let out = build(&e, &dir, &["-t", "big:1"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        out.stderr_str()
            .contains("the build context is larger than the limit of 65536 bytes"),
        "{}: stdout {:?}, stderr {:?}",
        out.status,
        out.stdout_str(),
        out.stderr_str()
    );
    assert_nothing_left(&e);
    // A context under the limit still builds.
    fs::remove_file(dir.join("big.bin")).unwrap();
    build(&e, &dir, &["-t", "big:1"]).assert_success();
}

#[test]
fn cache_from_reuses_the_steps_of_a_loaded_image() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let dockerfile = format!(
        "FROM {}\nENV MODE=prod\nCOPY app.txt /app.txt\nRUN echo compiled > /out.txt\nCMD [\"cat\", \"/out.txt\"]\n",
        e.image
    );
    let dir = context(
        &e,
        "cachefrom",
        &[("Dockerfile", &dockerfile), ("app.txt", "v1\n")],
    );
    build(&e, &dir, &["-t", "cf:1"]).assert_success();
    // The image travels as an archive (as through a registry): what comes
    // back has no build cache and no parents.
    let archive = e.path("cf.tar");
    e.berth(&["save", "-o", &archive.to_string_lossy(), "cf:1"])
        .assert_success();
    e.berth(&["rmi", "cf:1"]).assert_success();
    e.berth(&["builder", "prune", "-f"]).assert_success();
    e.berth(&["image", "prune", "-f"]).assert_success();
    e.berth(&["load", "-i", &archive.to_string_lossy()])
        .assert_success();
    let out = build(&e, &dir, &["-t", "cf:2", "--cache-from", "cf:1"]);
    out.assert_success();
    let log = out.stdout_str();
    assert_eq!(log.matches("Using cache").count(), 4, "{log}");
    assert!(!log.contains("Running in"), "{log}");
    assert_eq!(run(&e, "cf:2", &[]), "compiled\n");
    assert_eq!(
        inspect(&e, "cf:2", "{{json .RootFS.Layers}}"),
        inspect(&e, "cf:1", "{{json .RootFS.Layers}}")
    );
    // A changed file: its COPY and what follows are built again.
    fs::write(dir.join("app.txt"), "v2\n").unwrap();
    let out = build(&e, &dir, &["-t", "cf:3", "--cache-from", "cf:1"]);
    out.assert_success();
    // ENV came from the cache already (cf:2's build); COPY and RUN run.
    assert_eq!(
        out.stdout_str().matches("Using cache").count(),
        1,
        "{}",
        out.stdout_str()
    );
}
