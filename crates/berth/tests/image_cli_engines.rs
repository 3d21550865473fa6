#![forbid(unsafe_code)]
//! The `berth` CLI's image verbs over the Docker Engine API, against any
//! engine: one scenario (import, tag, images and its filters and formats,
//! history, image inspect, save/rmi/load, push/rmi/pull through a loopback
//! registry, rmi of an image a container uses, image prune) run with
//! `berth -H unix://...` against a private `berth daemon` and a private
//! dockerd, each checked on its own and then compared step by step; pull
//! progress that streams while a layer is still on its way (docker's CLI and
//! berth's against berth's daemon, a proxy holding one blob back); and an
//! image verb against an engine that is down naming its socket.
//!
//! Needs root, dockerd, docker, docker-registry: skips without them, except
//! under CI=true. Every engine, registry, proxy and directory is the test's
//! own and goes away with its guard, so these run beside any other test.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use berth_testkit::{OutputExt, busybox_rootfs, require_root, require_tool, unique_id};
use common::Registry;
use common::engine::Engine;
use serde_json::Value;

/// The limit for one CLI call in the scenario (a push or pull included).
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a held-back blob may wait for the first progress line.
const FIRST_LINE_TIMEOUT: Duration = Duration::from_secs(30);

// ------------------------------------------------------------ 1: one scenario, two engines

/// The same scenario through `berth -H` against a private berth daemon and
/// a private dockerd: each run checks what docker's contract says, then the
/// two transcripts (outputs with the values that legitimately differ
/// replaced by placeholders) must be equal step by step.
#[test]
fn image_verbs_through_the_engine_api_same_on_berth_and_dockerd() {
    if !require_root() {
        return;
    }
    let Some(_) = require_tool("docker-registry") else {
        return;
    };
    let Some(_) = require_tool("sha256sum") else {
        return;
    };
    // One rootfs tarball for both engines: both keep an imported tarball
    // as its layer verbatim, so the layer's diff ID is the same value on
    // both (the image IDs are not: the config holds the import's time).
    let work = tempfile::tempdir().unwrap();
    let tarball = busybox_tarball(work.path());
    let diff_id = format!("sha256:{}", sha256_file(&tarball));

    // Both engines start at once (dockerd takes a few seconds).
    let (berth, dockerd) = std::thread::scope(|s| {
        let b = s.spawn(Engine::private_berth_daemon);
        let d = s.spawn(Engine::private_dockerd);
        (b.join(), d.join())
    });
    let berth = berth.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let dockerd = dockerd.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let (Some(berth), Some(dockerd)) = (berth, dockerd) else {
        return;
    };
    // A registry each: the same repository path on both, nothing shared.
    let (Some(reg_b), Some(reg_d)) = (Registry::start(None), Registry::start(None)) else {
        return;
    };

    let mut runs = [
        Run::new(&berth, &reg_b, &tarball, &diff_id),
        Run::new(&dockerd, &reg_d, &tarball, &diff_id),
    ];
    std::thread::scope(|s| {
        for run in runs.iter_mut() {
            s.spawn(move || {
                let started = Instant::now();
                let r = std::panic::catch_unwind(AssertUnwindSafe(|| scenario(run)));
                if let Err(p) = r {
                    let msg = panic_text(&p);
                    run.t.failures.push(format!("stopped: {msg}"));
                }
                eprintln!(
                    "[{}] scenario done in {:.1?}, {} failures",
                    run.e.kind,
                    started.elapsed(),
                    run.t.failures.len()
                );
            });
        }
    });

    let mut report = Vec::new();
    for run in &runs {
        for f in &run.t.failures {
            report.push(format!("[{}] {f}", run.e.kind));
        }
    }
    let [b, d] = &runs;
    let (nb, nd) = (b.t.normalized(), d.t.normalized());
    for (step, got_b) in &nb {
        let Some((_, got_d)) = nd.iter().find(|(s, _)| s == step) else {
            continue; // one run stopped before it: its failure says why
        };
        if got_b != got_d {
            report.push(format!(
                "step {step:?} differs:\n--- berth ---\n{got_b}\n--- dockerd ---\n{got_d}"
            ));
        }
    }
    assert!(
        report.is_empty(),
        "{} problems:\n\n{}",
        report.len(),
        report.join("\n\n")
    );
}

/// One engine's run: the engine, its registry, and what it printed.
struct Run<'a> {
    e: &'a Engine,
    reg: String,
    tarball: PathBuf,
    diff_id: String,
    /// `DOCKER_CONFIG` for the CLI: no credentials from the machine.
    config: PathBuf,
    t: Transcript,
}

/// What a run printed, step by step, and the checks that failed.
#[derive(Default)]
struct Transcript {
    steps: Vec<(String, String)>,
    /// A value of this engine's and the placeholder that stands for it.
    aliases: Vec<(String, String)>,
    failures: Vec<String>,
}

impl Transcript {
    fn record(&mut self, step: &str, text: &str) {
        self.steps.push((step.to_string(), text.to_string()));
    }

    /// From now on `value` shows as `placeholder` in the comparison.
    fn alias(&mut self, value: &str, placeholder: &str) {
        if !value.is_empty() {
            self.aliases
                .push((value.to_string(), placeholder.to_string()));
        }
    }

    #[track_caller]
    fn check(&mut self, ok: bool, what: impl Into<String>) -> bool {
        if !ok {
            let at = std::panic::Location::caller();
            self.failures
                .push(format!("{} (line {})", what.into(), at.line()));
        }
        ok
    }

    /// The steps with every alias replaced, longest value first (a full ID
    /// before its 12-character prefix).
    fn normalized(&self) -> Vec<(String, String)> {
        let mut aliases = self.aliases.clone();
        aliases.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        self.steps
            .iter()
            .map(|(step, text)| {
                let mut t = text.clone();
                for (v, p) in &aliases {
                    t = t.replace(v, p);
                }
                (step.clone(), t)
            })
            .collect()
    }
}

impl<'a> Run<'a> {
    fn new(e: &'a Engine, reg: &Registry, tarball: &Path, diff_id: &str) -> Run<'a> {
        let config = e.path("docker-config");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(config.join("config.json"), "{\"auths\":{}}\n").unwrap();
        let mut t = Transcript::default();
        t.alias(&reg.host(), "<REGISTRY>");
        Run {
            e,
            reg: reg.host(),
            tarball: tarball.to_path_buf(),
            diff_id: diff_id.to_string(),
            config,
            t,
        }
    }

    /// `berth -H <engine> <args>`.
    fn berth(&self, args: &[&str]) -> Output {
        let mut cmd = self.e.berth_cmd(args);
        cmd.env("DOCKER_CONFIG", &self.config)
            .stdin(Stdio::null())
            .process_group(0);
        common::berthd::run_with_timeout(cmd, CALL_TIMEOUT)
    }

    /// Runs a verb that must succeed (the rest of the scenario needs it);
    /// its stdout.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.berth(args);
        assert!(
            out.status.success(),
            "[{}] berth {args:?} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.e.kind,
            out.status,
            out.stdout_str(),
            out.stderr_str()
        );
        out.stdout_str()
    }

    /// Runs a verb whose output is a step of the transcript; its stdout.
    #[track_caller]
    fn step(&mut self, step: &str, args: &[&str]) -> String {
        let out = self.ok(args);
        self.t.record(step, &out);
        out
    }

    /// `image inspect --format <format> <image>`, trimmed.
    #[track_caller]
    fn inspect(&self, format: &str, image: &str) -> String {
        self.ok(&["image", "inspect", "--format", format, image])
            .trim_end()
            .to_string()
    }

    /// The image's RootFS layers (diff IDs).
    fn layers(&self, image: &str) -> Vec<String> {
        serde_json::from_str(&self.inspect("{{json .RootFS.Layers}}", image)).unwrap_or_default()
    }
}

fn scenario(r: &mut Run) {
    let kind = r.e.kind;
    let tar = r.tarball.to_string_lossy().into_owned();
    let diff_id = r.diff_id.clone();
    let diff12 = hex12(&diff_id);
    r.t.alias(&diff12, "<LAYER12>");

    // The harness's own image: `image prune -a` below removes it.
    let base = r.e.image.clone();
    let base_id = r.inspect("{{.Id}}", &base);
    r.t.alias(&hex(&base_id), "<BASE>");
    r.t.alias(&hex12(&base_id), "<BASE12>");
    let base_layers = r.layers(&base);

    // ---- import: the image ID is the config's digest, and the config
    // holds the time of the import: an ID per engine and per run (shape).
    let out = r.ok(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        "-c",
        "ENV GREETING=hello",
        &tar,
        "imgcli:1",
    ]);
    let id = out.trim().to_string();
    r.t.check(
        is_sha256(&id),
        format!("import prints sha256:<id>: {out:?}"),
    );
    r.t.alias(&hex(&id), "<ID>");
    let id12 = hex12(&id);
    r.t.alias(&id12, "<ID12>");
    r.t.record("import", &out);
    // The same rootfs with a label and no name: a dangling image.
    let out = r.ok(&["import", "-c", "LABEL stage=dangling", &tar]);
    let dangling = out.trim().to_string();
    r.t.check(
        is_sha256(&dangling) && dangling != id,
        format!("an unnamed import prints another sha256:<id>: {out:?}"),
    );
    r.t.alias(&hex(&dangling), "<DANGLING>");
    r.t.alias(&hex12(&dangling), "<DANGLING12>");
    r.t.record("import without a name", &out);
    r.step("tag", &["tag", "imgcli:1", "imgcli:2"]);

    // ---- images: the default table. CREATED and SIZE compare by shape:
    // the times are the engine's, and the sizes are each engine's own
    // measure (dockerd sums its graph driver's files, berth its layers).
    let out = r.ok(&["images", "imgcli"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    r.t.check(
        header == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"],
        format!("images header: {out:?}"),
    );
    let mut rows = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        let shape_ok = f.len() >= 6
            && f[f.len() - 2] == "ago"
            && is_human_size(f[f.len() - 1])
            && f[2].len() == 12;
        r.t.check(shape_ok, format!("images row {line:?}"));
        rows.push(format!(
            "{} {} {} <created> <size>",
            f.first().unwrap_or(&""),
            f.get(1).unwrap_or(&""),
            f.get(2).unwrap_or(&"")
        ));
    }
    r.t.check(
        rows == [
            format!("imgcli 1 {id12} <created> <size>"),
            format!("imgcli 2 {id12} <created> <size>"),
        ],
        format!("images imgcli: {out:?}"),
    );
    r.t.record("images table", &rows.join("\n"));

    // ---- images: --format, -q, reference and dangling filters.
    let out = r.step(
        "images --format",
        &[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}}",
            "-f",
            "reference=imgcli",
        ],
    );
    r.t.check(
        out == format!("imgcli:1 {id12}\nimgcli:2 {id12}\n"),
        format!("images --format -f reference=imgcli: {out:?}"),
    );
    let out = r.step("images -q", &["images", "-q", "-f", "reference=imgcli"]);
    // The image's ID, once (berth's CLI) or once per name (docker 28's
    // CLI): either way the same client on both engines, so the same text.
    let ids: Vec<&str> = out.lines().collect();
    r.t.check(
        (1..=2).contains(&ids.len()) && ids.iter().all(|l| *l == id12),
        format!("images -q -f reference=imgcli: {out:?}"),
    );
    let out = r.step(
        "images reference glob",
        &[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "-f",
            "reference=img*:2",
        ],
    );
    r.t.check(
        out == "imgcli:2\n",
        format!("images -f reference=img*:2: {out:?}"),
    );
    let out = r.step(
        "images dangling -q",
        &["images", "-q", "-f", "dangling=true"],
    );
    r.t.check(
        out == format!("{}\n", hex12(&dangling)),
        format!("images -q -f dangling=true: {out:?}"),
    );
    let out = r.step(
        "images dangling --format",
        &[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}}",
            "-f",
            "dangling=true",
        ],
    );
    r.t.check(
        out == format!("<none>:<none> {}\n", hex12(&dangling)),
        format!("images -f dangling=true: {out:?}"),
    );
    // Not dangling: ours and the harness's image (sorted: two images made
    // in the same second may list either way).
    let out = r.ok(&[
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        "-f",
        "dangling=false",
    ]);
    let mut names: Vec<&str> = out.lines().collect();
    names.sort();
    r.t.check(
        names == [base.as_str(), "imgcli:1", "imgcli:2"],
        format!("images -f dangling=false: {out:?}"),
    );
    r.t.record("images not dangling", &names.join("\n"));

    // ---- history: one entry, the import. CREATED by shape; SIZE is the
    // layer's and must not be zero (the tarball holds busybox).
    let out = r.ok(&["history", "imgcli:1"]);
    let mut lines = out.lines();
    let header = lines.next().unwrap_or("");
    let cols = columns(
        header,
        &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
    );
    r.t.check(cols.is_some(), format!("history header: {out:?}"));
    let rows: Vec<Vec<String>> = lines
        .map(|l| cut(l, cols.as_deref().unwrap_or(&[])))
        .collect();
    let mut shown = vec![header.split_whitespace().collect::<Vec<_>>().join(" ")];
    for row in &rows {
        let [image, created, by, size, comment] = &row[..] else {
            r.t.check(false, format!("history row {row:?}"));
            continue;
        };
        r.t.check(
            created.ends_with(" ago"),
            format!("history CREATED {created:?}"),
        );
        r.t.check(is_human_size(size), format!("history SIZE {size:?}"));
        r.t.check(
            size != "0B",
            format!("history of an imported busybox shows its layer's size, not {size:?}: {out:?}"),
        );
        shown.push(format!("{image} | <created> | {by} | <size> | {comment}"));
    }
    r.t.check(
        shown[1..] == [format!("{id12} | <created> |  | <size> | Imported from -")],
        format!("history imgcli:1: {out:?}"),
    );
    r.t.record("history", &shown.join("\n"));
    let out = r.step("history -q", &["history", "-q", "imgcli:1"]);
    r.t.check(out == format!("{id12}\n"), format!("history -q: {out:?}"));
    let out = r.step(
        "history -q --no-trunc",
        &["history", "-q", "--no-trunc", "imgcli:1"],
    );
    r.t.check(
        out == format!("{id}\n"),
        format!("history -q --no-trunc: {out:?}"),
    );

    // ---- image inspect.
    let out = r.step(
        "inspect .Id",
        &["image", "inspect", "--format", "{{.Id}}", "imgcli:1"],
    );
    r.t.check(out == format!("{id}\n"), format!("inspect .Id: {out:?}"));
    let out = r.step(
        "inspect .RepoTags",
        &[
            "image",
            "inspect",
            "--format",
            "{{json .RepoTags}}",
            "imgcli:1",
        ],
    );
    r.t.check(
        out == "[\"imgcli:1\",\"imgcli:2\"]\n",
        format!("inspect RepoTags: {out:?}"),
    );
    // The layer: the same value on both engines, the tarball's digest.
    let out = r.step(
        "inspect .RootFS.Layers",
        &[
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            "imgcli:1",
        ],
    );
    r.t.check(
        out == format!("[\"{diff_id}\"]\n"),
        format!("inspect RootFS.Layers is the tarball's digest {diff_id}: {out:?}"),
    );
    r.step(
        "inspect .Config",
        &[
            "image",
            "inspect",
            "--format",
            "{{json .Config.Cmd}} {{json .Config.Labels}}",
            "imgcli:1",
        ],
    );
    let env = r.inspect("{{json .Config.Env}}", "imgcli:1");
    r.t.check(
        env.contains("\"GREETING=hello\""),
        format!("inspect Config.Env has the import's ENV: {env}"),
    );
    let out = r.berth(&[
        "image", "inspect", "--format", "{{.Id}}", "imgcli:1", "nosuch:1",
    ]);
    r.t.check(
        out.status.code() == Some(1)
            && out.stdout_str() == format!("{id}\n")
            && out.stderr_str().contains("No such image: nosuch:1"),
        format!(
            "inspect of one image and a missing one: exit {:?}, {:?}, {:?}",
            out.status.code(),
            out.stdout_str(),
            out.stderr_str()
        ),
    );
    // The engine's own words follow "Error response from daemon: ", as in
    // docker's CLI; dockerd 20.10's repeat themselves ("no such image: x: No
    // such image: x"), so only what the check above asks is compared.
    r.t.record(
        "inspect with a missing image",
        &format!("exit {:?}\n{}", out.status.code(), out.stdout_str()),
    );

    // ---- rmi of the dangling image, by its short ID. Its layer is
    // imgcli's too, so no engine deletes a layer here.
    let out = r.step("rmi dangling", &["rmi", &hex12(&dangling)]);
    r.t.check(
        out == format!("Deleted: {dangling}\n"),
        format!("rmi of the dangling image: {out:?}"),
    );

    // ---- save -o, rmi, load -i: the same image ID comes back.
    let archive = r.e.path("imgcli-save.tar");
    let archive_s = archive.to_string_lossy().into_owned();
    r.step("save -o", &["save", "-o", &archive_s, "imgcli:1"]);
    let shape = archive_shape(&archive, &diff_id);
    r.t.check(
        shape
            == format!(
                "Config: {}.json\nRepoTags: [\"imgcli:1\"]\nLayers: <dir>/layer.tar\nlayer digest is the diff ID: true",
                hex(&id)
            ),
        format!("save archive: {shape}"),
    );
    r.t.record("save archive", &shape);
    // Which tags an archive carries, as moby's tarexport picks them: none
    // for an image saved by its ID, every tag of the repository for a name
    // without one (docker-py's image.save() saves by ID, then counts what
    // load reports).
    for (what, name, want) in [
        ("save by ID", id.as_str(), "null"),
        (
            "save by repository",
            "imgcli",
            "[\"imgcli:1\",\"imgcli:2\"]",
        ),
    ] {
        let other = r.e.path("imgcli-tags.tar");
        r.ok(&["save", "-o", &other.to_string_lossy(), name]);
        let tags = repo_tags(&other);
        r.t.check(tags == want, format!("{what}: RepoTags {tags}"));
        r.t.record(what, &tags);
    }
    let out = r.ok(&["rmi", "imgcli:1", "imgcli:2"]);
    let out = without_layer_lines(&out, &[diff_id.as_str()]);
    r.t.check(
        out == format!("Untagged: imgcli:1\nUntagged: imgcli:2\nDeleted: {id}\n"),
        format!("rmi imgcli:1 imgcli:2: {out:?}"),
    );
    r.t.record("rmi both names", &out);
    let out = r.step(
        "images after rmi",
        &["images", "-q", "-f", "reference=imgcli"],
    );
    r.t.check(out.is_empty(), format!("images after rmi: {out:?}"));
    let out = r.berth(&["image", "inspect", &id]);
    r.t.check(
        out.status.code() == Some(1) && out.stderr_str().contains("No such image"),
        format!(
            "inspect after rmi: {:?} {:?}",
            out.status.code(),
            out.stderr_str()
        ),
    );
    let out = r.step("load -i", &["load", "-i", &archive_s]);
    r.t.check(
        out == "Loaded image: imgcli:1\n",
        format!("load -i: {out:?}"),
    );
    let got = r.inspect("{{.Id}}", "imgcli:1");
    r.t.check(got == id, format!("load gives back {id}, not {got}"));
    r.t.record("inspect after load", &got);

    // ---- push to the loopback registry (plain HTTP for both engines).
    // Layer blobs differ by engine: dockerd pushes gzip, berth the tar
    // itself; so the manifest's digest and size are the engine's (shape).
    let pushed = format!("{}/imgcli/bb:1", r.reg);
    r.step("tag for the registry", &["tag", "imgcli:1", &pushed]);
    let out = r.ok(&["push", &pushed]);
    let last = out.lines().last().unwrap_or("").to_string();
    let (digest, size) = match last.split_whitespace().collect::<Vec<_>>()[..] {
        ["1:", "digest:", d, "size:", n] => (d.to_string(), n.to_string()),
        _ => (String::new(), String::new()),
    };
    r.t.check(
        is_sha256(&digest) && size.parse::<u64>().is_ok(),
        format!("push ends with `1: digest: sha256:... size: N`: {out:?}"),
    );
    r.t.alias(&hex(&digest), "<DIGEST>");
    r.t.alias(&format!("size: {size}"), "size: <N>");
    r.t.check(
        out.starts_with(&format!(
            "The push refers to repository [{}/imgcli/bb]\n",
            r.reg
        )) && out.contains(&format!("{diff12}: Preparing\n"))
            && out.contains(&format!("{diff12}: Pushed\n")),
        format!("push progress: {out:?}"),
    );
    // docker's push lists the layers; the config blob is no layer.
    r.t.check(
        !out.contains(&id12),
        format!("push lists the image config {id12} as a layer: {out:?}"),
    );
    r.t.record("push", &out);
    let blobs = manifest_layers(&r.reg, "imgcli/bb", "1");
    r.t.check(
        blobs.len() == 1,
        format!("the manifest's layers: {blobs:?}"),
    );

    // ---- rmi every name, pull back: a real download, the same image ID.
    let out = r.ok(&["rmi", &pushed, "imgcli:1"]);
    let out = without_layer_lines(&out, &[diff_id.as_str()]);
    // dockerd forgets the repository's digest reference with its last tag
    // (and says so).
    let want = format!(
        "Untagged: {pushed}\nUntagged: {}/imgcli/bb@{digest}\nUntagged: imgcli:1\nDeleted: {id}\n",
        r.reg
    );
    r.t.check(
        out == want,
        format!("rmi after push: {out:?}, want {want:?}"),
    );
    r.t.record("rmi after push", &out);
    let out = r.berth(&["image", "inspect", &id]);
    r.t.check(
        out.status.code() == Some(1),
        format!("the image is gone before the pull: {:?}", out.stdout_str()),
    );
    let out = r.ok(&["pull", &pushed]);
    let statuses = progress_statuses(&out);
    for want in [
        "1: Pulling from imgcli/bb".to_string(),
        format!("Digest: {digest}"),
        format!("Status: Downloaded newer image for {pushed}"),
    ] {
        r.t.check(
            out.lines().any(|l| l == want),
            format!("pull prints {want:?}: {out:?}"),
        );
    }
    for b in &blobs {
        for status in ["Pulling fs layer", "Pull complete"] {
            r.t.check(
                statuses.contains(&(hex12(b), status.to_string())),
                format!("pull: {}: {status}: {out:?}", hex12(b)),
            );
        }
    }
    r.t.check(
        out.lines().last() == Some(pushed.as_str()),
        format!("pull ends with the reference: {out:?}"),
    );
    // Between "Pulling fs layer" and "Pull complete" each engine says what
    // it does (dockerd: Waiting, Verifying Checksum, Download complete):
    // compared are the statuses both engines send. A pull names a layer by
    // its blob's digest: dockerd's gzip, berth's the diff ID itself.
    let mut shape = pull_shape(&out);
    for b in &blobs {
        shape = shape.replace(&hex12(b), "<BLOB12>");
    }
    r.t.record("pull", &shape);
    let got = r.inspect("{{.Id}}", &pushed);
    r.t.check(got == id, format!("pull gives back {id}, not {got}"));
    let out = r.step(
        "inspect after pull",
        &[
            "image",
            "inspect",
            "--format",
            "{{json .RepoTags}} {{json .RepoDigests}}",
            &pushed,
        ],
    );
    r.t.check(
        out == format!("[\"{pushed}\"] [\"{}/imgcli/bb@{digest}\"]\n", r.reg),
        format!("RepoTags and RepoDigests after pull: {out:?}"),
    );

    // ---- another name, the registry's untagged: the digest goes with its
    // repository's last tag (dockerd), and a name without one shows none.
    r.step("tag after pull", &["tag", &pushed, "imgcli:1"]);
    let out = r.ok(&[
        "images",
        "--digests",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.Digest}}",
    ]);
    let mut rows: Vec<&str> = out.lines().collect();
    rows.sort();
    let mut want = vec![
        format!("{base} <none>"),
        format!("{}/imgcli/bb:1 {digest}", r.reg),
        "imgcli:1 <none>".to_string(),
    ];
    want.sort();
    r.t.check(
        rows == want,
        format!("images --digests: a digest shows beside its own repository only: {out:?}"),
    );
    r.t.record("images --digests", &rows.join("\n"));
    let out = r.step("rmi the registry's name", &["rmi", &pushed]);
    r.t.check(
        out == format!(
            "Untagged: {pushed}\nUntagged: {}/imgcli/bb@{digest}\n",
            r.reg
        ),
        format!("rmi of the pulled name: {out:?}"),
    );
    let out = r.step(
        "inspect after untag",
        &[
            "image",
            "inspect",
            "--format",
            "{{json .RepoTags}} {{json .RepoDigests}}",
            "imgcli:1",
        ],
    );
    r.t.check(
        out == "[\"imgcli:1\"] []\n",
        format!("RepoTags and RepoDigests after the registry's name is gone: {out:?}"),
    );

    // ---- rmi of an image a container uses: refused, exit 1. The wording
    // is each engine's (dockerd: `unable to remove repository reference
    // "imgcli:1" (must force) - container <id> is using its referenced
    // image <id12>`); both say conflict and name the image.
    let cname = r.e.name("imgcli-user");
    r.ok(&["create", "--name", &cname, "imgcli:1", "true"]);
    for target in ["imgcli:1", id12.as_str()] {
        let out = r.berth(&["rmi", target]);
        let err = out.stderr_str();
        r.t.check(
            out.status.code() == Some(1),
            format!(
                "rmi {target} of a used image exits 1, not {:?}: {err:?}",
                out.status.code()
            ),
        );
        r.t.check(
            err.contains("conflict")
                && (err.contains("is being used") || err.contains("is using"))
                && (err.contains(&id12) || err.contains(target)),
            format!("rmi {target} of a used image says conflict and names it: {err:?}"),
        );
        r.t.record(
            &format!(
                "rmi {} in use",
                if target == id12 { "<ID12>" } else { target }
            ),
            &format!("exit {:?}\n{}", out.status.code(), out.stdout_str()),
        );
    }
    let got = r.inspect("{{.Id}}", "imgcli:1");
    r.t.check(got == id, format!("the used image is still there: {got}"));

    // ---- image prune: nothing dangling; then -a takes what no container
    // uses (the harness's image), and after the container is gone, ours.
    // The sizes reclaimed are the engines' measures (shape); dockerd also
    // names the layers it deletes (dropped from the comparison).
    let out = r.step("image prune -f", &["image", "prune", "-f"]);
    r.t.check(
        out == "Total reclaimed space: 0B\n",
        format!("image prune -f with nothing dangling: {out:?}"),
    );
    let out = r.ok(&["image", "prune", "-a", "-f"]);
    let layers: Vec<&str> = base_layers.iter().map(String::as_str).collect();
    let shown = prune_shape(&without_layer_lines(&out, &layers));
    // docker's CLI prints `untagged:` and `deleted:` in image prune.
    let want = format!(
        "Deleted Images:\nuntagged: {base}\ndeleted: {base_id}\n\nTotal reclaimed space: <size>"
    );
    r.t.check(
        shown == want,
        format!("image prune -a -f: {shown:?} (layer lines dropped from {out:?}), want {want:?}"),
    );
    r.t.record("image prune -a -f", &shown);
    let out = r.step(
        "images after prune",
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
    );
    r.t.check(
        out == "imgcli:1\n",
        format!("prune -a keeps the used image only: {out:?}"),
    );
    r.ok(&["rm", &cname]);
    let out = r.ok(&["image", "prune", "-a", "-f"]);
    let shown = prune_shape(&without_layer_lines(&out, &[diff_id.as_str()]));
    let want = format!(
        "Deleted Images:\nuntagged: imgcli:1\ndeleted: {id}\n\nTotal reclaimed space: <size>"
    );
    r.t.check(
        shown == want,
        format!("image prune -a -f: {shown:?} (layer lines dropped from {out:?}), want {want:?}"),
    );
    r.t.record("image prune -a -f, no container", &shown);
    let out = r.step("images at the end", &["images", "-q"]);
    r.t.check(out.is_empty(), format!("no image left: {out:?}"));
    eprintln!("[{kind}] scenario ran to its end");
}

// ------------------------------------------------------------ 2: pull progress streams

/// `docker pull` and `berth pull` against berth's daemon print the first
/// progress line while a layer is still held back on its way from the
/// registry: the daemon streams its progress, and so does berth's CLI.
#[test]
fn pull_progress_streams_before_the_last_layer_arrives() {
    if !require_root() {
        return;
    }
    let Some(docker) = require_tool("docker") else {
        return;
    };
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    // A 2-layer image: the busybox import and a commit on top of it.
    let work = e.name("progress");
    e.berth(&[
        "run",
        "--name",
        &work,
        &e.image,
        "sh",
        "-c",
        "head -c 300000 /dev/urandom > /payload && echo two > /etc/two",
    ])
    .assert_success();
    let repo = "progress/two";
    let pushed = format!("{}/{repo}:1", reg.host());
    e.berth(&["commit", &work, &pushed]).assert_success();
    e.berth(&["rm", &work]).assert_success();
    e.berth(&["push", &pushed]).assert_success();
    let layers = manifest_layers(&reg.host(), repo, "1");
    assert_eq!(layers.len(), 2, "a 2-layer image: {layers:?}");
    // The last layer is held back; both are downloaded for real (the base
    // image goes too, so no layer is already there).
    let held = layers[1].clone();
    e.berth(&["rmi", &pushed, &e.image]).assert_success();

    let dcfg = e.path("docker-cli");
    let pull_with_docker = |reference: &str| {
        let mut cmd = Command::new(&docker);
        cmd.env("DOCKER_CONFIG", &dcfg);
        for var in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "DOCKER_API_VERSION",
        ] {
            cmd.env_remove(var);
        }
        cmd.args(["-H", &e.host, "pull", reference]);
        cmd
    };
    let bcfg = e.path("berth-cli-config");
    let pull_with_berth = |reference: &str| {
        let mut cmd = e.berth_cmd(&["pull", reference]);
        cmd.env("DOCKER_CONFIG", &bcfg);
        cmd
    };
    let clients: [(&str, PullCommand); 2] =
        [("docker", &pull_with_docker), ("berth", &pull_with_berth)];
    for (client, make) in clients {
        let proxy = HoldProxy::start(&reg.host(), &format!("/v2/{repo}/blobs/{held}"));
        let reference = format!("127.0.0.1:{}/{repo}:1", proxy.port);
        let pull = watch_pull(make(&reference), &proxy, &e.path(&format!("{client}-pull")));
        let out = &pull.lines;
        let text = out.join("\n");
        assert!(
            pull.status.success(),
            "{client} pull failed ({}): {text}\nstderr: {}",
            pull.status,
            pull.stderr
        );
        eprintln!(
            "{client} pull: first line {:?} after {:.1?}; {} lines read while {} was held",
            out.first(),
            pull.first_after,
            pull.before_release.len(),
            hex12(&held)
        );
        assert!(
            proxy.held_requests() >= 1,
            "{client} pull never asked for the held blob {held}: {text}"
        );
        assert_eq!(
            out.first().map(String::as_str),
            Some(format!("1: Pulling from {repo}").as_str()),
            "{client} pull's first line: {text}"
        );
        // Progress went on while the blob was held: the layers' first
        // statuses came before it was let through.
        assert!(
            pull.before_release
                .iter()
                .any(|l| l.ends_with(": Pulling fs layer")),
            "{client} pull: no layer status before the held blob was released: {:?}",
            pull.before_release
        );
        for l in &layers {
            for status in ["Pulling fs layer", "Pull complete"] {
                let want = format!("{}: {status}", hex12(l));
                assert!(out.contains(&want), "{client} pull: no {want:?}: {text}");
            }
        }
        assert!(
            out.iter().any(|l| l.starts_with("Digest: sha256:")),
            "{client} pull: no digest line: {text}"
        );
        // Gone again, so that the next client's pull is a real one too.
        e.berth(&["rmi", &reference]).assert_success();
    }
}

/// Makes the pull command of a reference.
type PullCommand<'a> = &'a dyn Fn(&str) -> Command;

/// What a watched pull printed.
struct Pull {
    status: std::process::ExitStatus,
    lines: Vec<String>,
    /// The lines read before the held blob was let through.
    before_release: Vec<String>,
    first_after: Duration,
    stderr: String,
}

/// Runs the pull `cmd` with `proxy` holding its blob back: waits (up to
/// [`FIRST_LINE_TIMEOUT`]) for its first line of stdout, then until the
/// held request has come and a layer status has been printed, and only
/// then lets the blob through. Fails when no line came in time: the
/// progress was buffered until the pull was done.
fn watch_pull(mut cmd: Command, proxy: &HoldProxy, scratch: &Path) -> Pull {
    let err_path = scratch.with_extension("err");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .process_group(0);
    let what = format!("{cmd:?}");
    let started = Instant::now();
    let mut child = KillOnDrop(cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}")));
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = || std::fs::read_to_string(&err_path).unwrap_or_default();
    let mut lines = Vec::new();
    match rx.recv_timeout(FIRST_LINE_TIMEOUT) {
        Ok(l) => lines.push(l),
        Err(_) => {
            proxy.release();
            panic!(
                "{what}: no progress line in {FIRST_LINE_TIMEOUT:?} while a layer was held back \
                 (the progress is buffered until the pull is done); held requests: {}, stderr: {}",
                proxy.held_requests(),
                stderr()
            );
        }
    }
    let first_after = started.elapsed();
    // Keep holding until the blob has been asked for and a layer's status
    // shown (a bounded wait: the first line alone already proves the point).
    let deadline = Instant::now() + FIRST_LINE_TIMEOUT;
    while Instant::now() < deadline
        && !(proxy.held_requests() >= 1 && lines.iter().any(|l| l.ends_with(": Pulling fs layer")))
    {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(l) => lines.push(l),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let before_release = lines.clone();
    proxy.release();
    let deadline = Instant::now() + CALL_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!(
                    "{what}: not done in {CALL_TIMEOUT:?}: {lines:?}, stderr: {}",
                    stderr()
                )
            }
        }
    }
    let _ = reader.join();
    let status = common::dockerd::wait_timeout(&mut child.0, CALL_TIMEOUT)
        .unwrap_or_else(|| panic!("{what}: stdout closed, but it does not exit"));
    Pull {
        status,
        lines,
        before_release,
        first_after,
        stderr: stderr(),
    }
}

/// A child process killed (its whole group) on drop.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            common::dockerd::kill(-(self.0.id() as i32), libc::SIGKILL);
            let _ = self.0.wait();
        }
    }
}

// ------------------------------------------------------------ the holding proxy

/// A TCP proxy on 127.0.0.1 in front of a registry: forwards bytes both
/// ways, reading the client's HTTP/1.1 requests (keep-alive included) to
/// find a GET of `held_path`, which it passes on only once released. Its
/// threads end, and its sockets close, on drop.
struct HoldProxy {
    port: u16,
    shared: Arc<ProxyShared>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

struct ProxyShared {
    upstream: String,
    held_path: String,
    /// Open once released: a held request goes on.
    gate: Mutex<bool>,
    opened: Condvar,
    held: AtomicUsize,
    stop: AtomicBool,
    /// Every socket, to shut down on drop (threads blocked in reads end).
    sockets: Mutex<Vec<TcpStream>>,
}

/// The longest a request is ever held (the test fails well before).
const MAX_HOLD: Duration = Duration::from_secs(90);

impl HoldProxy {
    fn start(upstream: &str, held_path: &str) -> HoldProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(ProxyShared {
            upstream: upstream.to_string(),
            held_path: held_path.to_string(),
            gate: Mutex::new(false),
            opened: Condvar::new(),
            held: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            sockets: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        let acceptor = std::thread::spawn(move || {
            while !s.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let s = s.clone();
                        std::thread::spawn(move || s.serve(client));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => break,
                }
            }
        });
        HoldProxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Lets the held request (and any later one) through.
    fn release(&self) {
        *self.shared.gate.lock().unwrap() = true;
        self.shared.opened.notify_all();
    }

    /// How many GETs of the held path came.
    fn held_requests(&self) -> usize {
        self.shared.held.load(Ordering::SeqCst)
    }
}

impl Drop for HoldProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.release();
        for s in self.shared.sockets.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

impl ProxyShared {
    fn serve(&self, client: TcpStream) {
        let _ = client.set_nonblocking(false);
        let Ok(upstream) = TcpStream::connect(&self.upstream) else {
            return;
        };
        {
            let mut socks = self.sockets.lock().unwrap();
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            for s in [&client, &upstream] {
                if let Ok(c) = s.try_clone() {
                    socks.push(c);
                }
            }
        }
        // Responses: bytes as they come.
        let (mut up_r, mut cl_w) = (upstream.try_clone().unwrap(), client.try_clone().unwrap());
        let back = std::thread::spawn(move || {
            let _ = std::io::copy(&mut up_r, &mut cl_w);
            let _ = cl_w.shutdown(Shutdown::Write);
        });
        let _ = self.forward_requests(client, upstream.try_clone().unwrap());
        let _ = upstream.shutdown(Shutdown::Write);
        let _ = back.join();
    }

    /// Client to upstream, a request at a time; anything that is not
    /// HTTP/1.x with a Content-Length body (TLS, chunked) goes through raw.
    fn forward_requests(&self, mut client: TcpStream, mut up: TcpStream) -> std::io::Result<()> {
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            // A request's head.
            let head_end = loop {
                if let Some(i) = find(&buf, b"\r\n\r\n") {
                    break i + 4;
                }
                if !buf.is_empty() && !looks_like_http(&buf) {
                    up.write_all(&buf)?;
                    std::io::copy(&mut client, &mut up)?;
                    return Ok(());
                }
                let n = client.read(&mut chunk)?;
                if n == 0 {
                    up.write_all(&buf)?;
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let mut first = head.lines().next().unwrap_or("").split(' ');
            let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
            let path = target.split('?').next().unwrap_or("");
            let header = |name: &str| {
                head.lines().skip(1).find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_string())
                })
            };
            if method == "GET" && path == self.held_path {
                self.held.fetch_add(1, Ordering::SeqCst);
                self.wait_for_gate();
            }
            up.write_all(&buf[..head_end])?;
            buf.drain(..head_end);
            if header("transfer-encoding").is_some() {
                up.write_all(&buf)?;
                std::io::copy(&mut client, &mut up)?;
                return Ok(());
            }
            // GET and HEAD have no body; anything else its Content-Length.
            let mut body: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while body > 0 {
                if buf.is_empty() {
                    let n = client.read(&mut chunk)?;
                    if n == 0 {
                        return Ok(());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let n = body.min(buf.len());
                up.write_all(&buf[..n])?;
                buf.drain(..n);
                body -= n;
            }
        }
    }

    fn wait_for_gate(&self) {
        let deadline = Instant::now() + MAX_HOLD;
        let mut open = self.gate.lock().unwrap();
        while !*open && Instant::now() < deadline {
            open = self
                .opened
                .wait_timeout(open, Duration::from_millis(200))
                .unwrap()
                .0;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// An HTTP/1.x request line starts with an upper-case method and a space.
fn looks_like_http(buf: &[u8]) -> bool {
    let method: Vec<u8> = buf
        .iter()
        .take_while(|b| b.is_ascii_uppercase())
        .copied()
        .collect();
    match buf.get(method.len()) {
        Some(b' ') => !method.is_empty(),
        None => method.len() == buf.len() && buf.len() < 16,
        _ => false,
    }
}

// ------------------------------------------------------------ 3: an engine that is down

/// An image verb at a socket nothing listens on fails and names it (with
/// autostart off, and -H never starts a daemon anyway).
#[test]
fn image_verbs_against_an_engine_that_is_down_name_its_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = format!("/tmp/{}.sock", unique_id("berth-down"));
    assert!(!Path::new(&socket).exists());
    let host = format!("unix://{socket}");
    for args in [
        &["images"][..],
        &["image", "ls", "-q"],
        &["image", "inspect", "busybox"],
        &["history", "busybox"],
        &["rmi", "busybox"],
        &["tag", "busybox", "other:1"],
        &["pull", "127.0.0.1:1/none:1"],
        &["image", "prune", "-f"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_berth"))
            .env("BERTH_NO_AUTOSTART", "1")
            .env("DOCKER_CONFIG", dir.path())
            .env_remove("BERTH_HOST")
            .env_remove("DOCKER_HOST")
            .args(["-H", &host])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "berth -H {host} {args:?} succeeded: {}",
            out.stdout_str()
        );
        assert!(
            out.stderr_str().contains(&socket),
            "berth -H {host} {args:?}: stderr does not name the socket: {:?}",
            out.stderr_str()
        );
    }
    assert!(!Path::new(&socket).exists(), "something made {socket}");
}

// ------------------------------------------------------------ helpers

/// A busybox rootfs with a file of its own (so its layer is no other
/// image's), as a tarball in `dir`.
fn busybox_tarball(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    busybox_rootfs(&rootfs).expect("building the busybox rootfs");
    std::fs::write(rootfs.join("etc/imgcli"), unique_id("imgcli")).unwrap();
    let tarball = dir.join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success(), "tar: {st}");
    tarball
}

fn sha256_file(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    out.assert_success();
    out.stdout_str()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn sha256_bytes(data: &[u8], scratch: &Path) -> String {
    std::fs::write(scratch, data).unwrap();
    let sum = sha256_file(scratch);
    let _ = std::fs::remove_file(scratch);
    sum
}

/// `sha256:<64 hex>`.
fn is_sha256(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The hex of a `sha256:` digest.
fn hex(id: &str) -> String {
    id.trim_start_matches("sha256:").to_string()
}

fn hex12(id: &str) -> String {
    hex(id).chars().take(12).collect()
}

/// docker's human sizes: `0B`, `1.98MB`, `512kB`...
fn is_human_size(s: &str) -> bool {
    let num = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[num.len()..];
    !num.is_empty() && num.parse::<f64>().is_ok() && ["B", "kB", "MB", "GB", "TB"].contains(&unit)
}

/// Where each named column starts in a table's header (names in order;
/// a name is a whole header cell, so "CREATED" is not "CREATED BY").
fn columns(header: &str, names: &[&str]) -> Option<Vec<usize>> {
    let mut starts = Vec::new();
    let mut from = 0;
    for name in names {
        let at = header[from..]
            .match_indices(name)
            .map(|(at, _)| from + at)
            .find(|&at| {
                let rest = &header[at + name.len()..];
                rest.is_empty() || (rest.starts_with(' ') && !rest.starts_with(" BY"))
            })?;
        starts.push(header[..at].chars().count());
        from = at + name.len();
    }
    Some(starts)
}

/// A row cut at the column starts, each cell trimmed.
fn cut(row: &str, starts: &[usize]) -> Vec<String> {
    let chars: Vec<char> = row.chars().collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let end = starts
                .get(i + 1)
                .copied()
                .unwrap_or(chars.len())
                .min(chars.len());
            chars[s.min(end)..end]
                .iter()
                .collect::<String>()
                .trim()
                .to_string()
        })
        .collect()
}

/// Drops `Deleted: <layer>` lines (either case) naming one of `layers`:
/// dockerd reports the layers it deletes with an image, berth the image.
fn without_layer_lines(out: &str, layers: &[&str]) -> String {
    out.lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            !layers.iter().any(|d| l == format!("deleted: {d}"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// An `image prune` output with the reclaimed size by shape.
fn prune_shape(out: &str) -> String {
    out.lines()
        .map(|l| match l.strip_prefix("Total reclaimed space: ") {
            Some(size) if is_human_size(size) => "Total reclaimed space: <size>".to_string(),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `<id>: <status>` lines of a progress output.
fn progress_statuses(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let (id, status) = l.split_once(": ")?;
            (id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (id.to_string(), status.to_string()))
        })
        .collect()
}

/// A pull's output with only the layer statuses every engine sends.
fn pull_shape(out: &str) -> String {
    const COMMON: &[&str] = &["Pulling fs layer", "Already exists", "Pull complete"];
    out.lines()
        .filter(|l| match l.split_once(": ") {
            Some((id, status)) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
                COMMON.contains(&status)
            }
            _ => true,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A docker-archive's manifest.json and layer, by shape: the layer
/// directory is the engine's own name (dockerd a v1 ID, berth the diff
/// ID); its layer.tar must be the layer itself.
/// manifest.json's RepoTags of an archive's one image, sorted, as JSON.
fn repo_tags(archive: &Path) -> String {
    let mut ar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    for entry in ar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy() == "manifest.json" {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            let m: Value = serde_json::from_slice(&data).unwrap_or_default();
            let mut tags = m[0]["RepoTags"].clone();
            if let Some(a) = tags.as_array_mut() {
                a.sort_by_key(|v| v.to_string());
            }
            return format!("{}", tags);
        }
    }
    "no manifest.json".into()
}

fn archive_shape(archive: &Path, diff_id: &str) -> String {
    let mut manifest = None;
    let mut files = std::collections::BTreeMap::new();
    let mut ar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    for entry in ar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if path == "manifest.json" || path.ends_with("/layer.tar") {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            if path == "manifest.json" {
                manifest = Some(data);
            } else {
                files.insert(path, data);
            }
        }
    }
    let Some(manifest) = manifest else {
        return "no manifest.json".into();
    };
    let m: Value = serde_json::from_slice(&manifest).unwrap_or_default();
    let entry = &m[0];
    let layers: Vec<&str> = entry["Layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let same_layer = layers.len() == 1
        && files.get(layers[0]).is_some_and(|data| {
            let scratch = archive.with_extension("layer");
            format!("sha256:{}", sha256_bytes(data, &scratch)) == diff_id
        });
    let shapes: Vec<String> = layers
        .iter()
        .map(|l| match l.split_once('/') {
            Some((_, rest)) => format!("<dir>/{rest}"),
            None => l.to_string(),
        })
        .collect();
    format!(
        "Config: {}\nRepoTags: {}\nLayers: {}\nlayer digest is the diff ID: {same_layer}",
        entry["Config"].as_str().unwrap_or("?"),
        entry["RepoTags"],
        shapes.join(", ")
    )
}

/// The layer digests of `repo:tag`'s manifest in the registry at `host`.
fn manifest_layers(host: &str, repo: &str, tag: &str) -> Vec<String> {
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /v2/{repo}/manifests/{tag} HTTP/1.0\r\nHost: {host}\r\nAccept: \
         application/vnd.docker.distribution.manifest.v2+json, \
         application/vnd.oci.image.manifest.v1+json\r\n\r\n"
    )
    .unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let text = String::from_utf8_lossy(&resp);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let m: Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("manifest of {repo}:{tag}: {e}: {text}"));
    m["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["digest"].as_str().map(str::to_string))
        .collect()
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}
