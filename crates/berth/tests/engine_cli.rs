#![forbid(unsafe_code)]
//! The `berth` CLI's container and system verbs against a real engine over
//! the Docker Engine API: output, exit codes (125/126/127 and the
//! container's), errors, flags reaching the engine, streams and terminals.
//!
//! Every check is a scenario taking the engine under test as a parameter
//! ([`common::engine::Engine`]); one `#[test]` per engine starts it once and
//! runs the scenarios on a few threads (each uses its own uniquely named
//! containers), reporting every failing scenario. `BERTH_SCENARIOS=a,b`
//! runs only those. Needs root and the engine's tools: skips otherwise,
//! except under CI=true.

mod common;

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use berth_testkit::{OutputExt, unique_id};
use common::engine::{Engine, eventually};

type Scenario = fn(&Engine);

const SCENARIOS: &[(&str, Scenario)] = &[
    ("run_output_and_exit_codes", run_output_and_exit_codes),
    ("run_flags_reach_the_process", run_flags_reach_the_process),
    ("workdir_is_created", workdir_is_created),
    ("realtime_cpu", realtime_cpu),
    (
        "unsupported_flags_are_refused",
        unsupported_flags_are_refused,
    ),
    (
        "create_flags_reach_the_engine",
        create_flags_reach_the_engine,
    ),
    ("detached_logs_stop", detached_logs_stop),
    ("ps_listing", ps_listing),
    ("exec_verbs", exec_verbs),
    ("terminals", terminals),
    ("detach_keys", detach_keys),
    ("attach_verb", attach_verb),
    ("signals_are_proxied", signals_are_proxied),
    ("inspect_start_wait", inspect_start_wait),
    ("unknown_container_errors", unknown_container_errors),
    ("rm_force_and_autoremove", rm_force_and_autoremove),
    ("restart_policy_and_restart", restart_policy_and_restart),
    ("cp_both_ways", cp_both_ways),
    ("top_and_stats", top_and_stats),
    ("diff_and_export", diff_and_export),
    ("pause_rename_events", pause_rename_events),
    ("prune_verbs", prune_verbs),
    ("system_verbs", system_verbs),
    ("same_output_as_docker_cli", same_output_as_docker_cli),
];

/// How many scenarios run at once (the machines have 2 cores).
const PARALLEL: usize = 4;

#[test]
fn engine_cli_private_dockerd() {
    let Some(engine) = Engine::private_dockerd() else {
        return;
    };
    run_scenarios(&engine);
}

/// The same scenarios against a private `berth daemon` (`BERTH_TEST_DAEMON_BIN`
/// names another build's berth to use as the daemon).
#[test]
fn engine_cli_private_berth_daemon() {
    let Some(engine) = Engine::private_berth_daemon() else {
        return;
    };
    run_scenarios(&engine);
}

/// Runs every (selected) scenario against `e`; panics naming the failures.
fn run_scenarios(e: &Engine) {
    let only: Option<Vec<String>> = std::env::var("BERTH_SCENARIOS")
        .ok()
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    let todo: Vec<&(&str, Scenario)> = SCENARIOS
        .iter()
        .filter(|(n, _)| only.as_ref().is_none_or(|o| o.iter().any(|x| x == n)))
        .collect();
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((name, f)) = todo.get(i) else { break };
                    let started = Instant::now();
                    eprintln!("[{}] {name}: start", e.kind);
                    let r = std::panic::catch_unwind(AssertUnwindSafe(|| f(e)));
                    let took = started.elapsed();
                    match r {
                        Ok(()) => eprintln!("[{}] {name}: ok ({took:.1?})", e.kind),
                        Err(_) => {
                            eprintln!("[{}] {name}: FAILED ({took:.1?})", e.kind);
                            failed.lock().unwrap().push(*name);
                        }
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap();
    assert!(
        failed.is_empty(),
        "{} scenarios failed against {}: {failed:?}",
        failed.len(),
        e.kind
    );
}

// ---------------------------------------------------------------- helpers

#[track_caller]
fn assert_out(out: &std::process::Output, want: &str) {
    assert_eq!(
        out.stdout_str(),
        want,
        "unexpected stdout (exit {:?}, stderr {:?})",
        out.status.code(),
        out.stderr_str()
    );
    out.assert_success();
}

#[track_caller]
fn assert_fails(out: &std::process::Output, code: i32, stderr_has: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code (stdout {:?}, stderr {:?})",
        out.stdout_str(),
        out.stderr_str()
    );
    assert!(
        out.stderr_str().contains(stderr_has),
        "stderr should contain {stderr_has:?}: {:?}",
        out.stderr_str()
    );
}

fn inspect(e: &Engine, format: &str, name: &str) -> String {
    let out = e.berth(&["inspect", "-f", format, name]);
    out.assert_success();
    out.stdout_str().trim_end_matches('\n').to_string()
}

fn is_full_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Removes the named containers however the scenario ends.
struct Cleanup<'a> {
    e: &'a Engine,
    names: Vec<String>,
}

impl<'a> Cleanup<'a> {
    fn new(e: &'a Engine) -> Cleanup<'a> {
        Cleanup {
            e,
            names: Vec::new(),
        }
    }

    fn name(&mut self, what: &str) -> String {
        let n = self.e.name(what);
        self.names.push(n.clone());
        n
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = self.e.run_quiet(&["rm", "-f", "-v", n]);
        }
    }
}

trait Quiet {
    fn run_quiet(&self, args: &[&str]) -> Option<std::process::Output>;
}

impl Quiet for Engine {
    fn run_quiet(&self, args: &[&str]) -> Option<std::process::Output> {
        std::panic::catch_unwind(AssertUnwindSafe(|| self.berth(args))).ok()
    }
}

// ---------------------------------------------------------------- scenarios

fn run_output_and_exit_codes(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    assert_out(&e.berth(&["run", "--rm", img, "echo", "hello"]), "hello\n");

    // stdout and stderr stay apart; the container's exit code is ours.
    let out = e.berth(&[
        "run",
        "--rm",
        img,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    out.assert_code(3);
    assert_eq!(out.stdout_str(), "out\n");
    assert_eq!(out.stderr_str(), "err\n");

    // The engine's start errors: not found 127, cannot invoke 126.
    let out = e.berth(&["run", "--rm", img, "/nope"]);
    assert_fails(&out, 127, "berth: Error response from daemon:");
    let out = e.berth(&["run", "--rm", img, "/etc/passwd"]);
    assert_fails(&out, 126, "berth: Error response from daemon:");

    // Usage errors: 125, before the engine is asked.
    let out = e.berth(&["run", "--nope", img, "true"]);
    assert_fails(&out, 125, "unknown flag: --nope");
    let out = e.berth(&["ps", "--nope"]);
    assert_fails(&out, 125, "--nope");
    let out = e.berth(&["exec", "--nope", "x", "true"]);
    assert_fails(&out, 125, "unknown flag: --nope");

    // The CLI's or the engine's refusals: 125.
    let out = e.berth(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "berth-no-such-image:1",
        "true",
    ]);
    assert_fails(&out, 125, "berth: Error response from daemon:");
    assert!(
        out.stderr_str().contains("berth-no-such-image"),
        "{}",
        out.stderr_str()
    );
    let out = e.berth(&["run", "--rm", "--restart", "sometimes", img, "true"]);
    assert_fails(&out, 125, "invalid restart policy");
    let out = e.berth(&["run", "--rm", "-m", "12x", img, "true"]);
    assert_fails(&out, 125, "--memory");
    let out = e.berth(&["run", "--rm", "--restart", "always", img, "true"]);
    assert_fails(&out, 125, "conflicting options");
    let name = c.name("dup");
    e.berth(&["create", "--name", &name, img, "true"])
        .assert_success();
    let out = e.berth(&["run", "--name", &name, img, "true"]);
    assert_fails(&out, 125, "already in use");

    // -i: our stdin reaches the container, its EOF too.
    let out = e.berth_stdin(
        &["run", "--rm", "-i", img, "sh", "-c", "cat; echo after"],
        b"piped\n",
    );
    assert_out(&out, "piped\nafter\n");
    // Without -i the container's stdin is empty.
    let out = e.berth_stdin(
        &["run", "--rm", img, "sh", "-c", "cat; echo none"],
        b"ignored\n",
    );
    assert_out(&out, "none\n");
    // -a stdout only: stderr is not attached.
    let out = e.berth(&[
        "run",
        "--rm",
        "-a",
        "stdout",
        img,
        "sh",
        "-c",
        "echo o; echo e >&2",
    ]);
    assert_out(&out, "o\n");
    assert_eq!(out.stderr_str(), "");

    // --rm leaves nothing behind; a command may start with a dash.
    let name = c.name("rm");
    assert_out(
        &e.berth(&["run", "--rm", "--name", &name, img, "echo", "-n", "x"]),
        "x",
    );
    let out = e.berth(&["ps", "-a", "-q", "--filter", &format!("name={name}")]);
    assert_out(&out, "");
}

fn run_flags_reach_the_process(e: &Engine) {
    let img = e.image.as_str();
    let env_file = e.path(&format!("{}.env", unique_id("env")));
    std::fs::write(&env_file, "# comment\nB=two\n\nC=three four\n").unwrap();
    let out = e.berth(&[
        "run",
        "--rm",
        "-e",
        "A=one",
        "--env-file",
        env_file.to_str().unwrap(),
        "-w",
        "/tmp",
        "-u",
        "1000:1001",
        "-h",
        "myhost",
        img,
        "sh",
        "-c",
        "echo $A $B $C $(pwd) $(id -u) $(id -g) $(hostname)",
    ]);
    assert_out(&out, "one two three four /tmp 1000 1001 myhost\n");
    // --entrypoint replaces the image's, the rest are its arguments.
    let out = e.berth(&[
        "run",
        "--rm",
        "--entrypoint",
        "/bin/echo",
        img,
        "via",
        "entrypoint",
    ]);
    assert_out(&out, "via entrypoint\n");
    // --read-only with a --tmpfs.
    let out = e.berth(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        img,
        "sh",
        "-c",
        "touch /scratch/ok && echo tmpfs-ok; touch /nope 2>/dev/null || echo ro-ok",
    ]);
    assert_out(&out, "tmpfs-ok\nro-ok\n");
    // --add-host reaches /etc/hosts; --network none has only lo.
    let out = e.berth(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--add-host",
        "berth-peer:10.1.2.3",
        img,
        "sh",
        "-c",
        "grep berth-peer /etc/hosts | cut -f1; ls /sys/class/net",
    ]);
    assert_out(&out, "10.1.2.3\nlo\n");
    // A bind mount, read-only.
    let dir = e.path(&unique_id("bind"));
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("f"), "bound\n").unwrap();
    let spec = format!("{}:/bind:ro", dir.display());
    let out = e.berth(&[
        "run",
        "--rm",
        "-v",
        &spec,
        img,
        "sh",
        "-c",
        "cat /bind/f; touch /bind/g 2>/dev/null || echo ro",
    ]);
    assert_out(&out, "bound\nro\n");
    // --pids-limit and -m reach the cgroup.
    if std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
        let out = e.berth(&[
            "run",
            "--rm",
            "-m",
            "32m",
            img,
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        ]);
        assert_out(&out, "33554432\n");
    }
}

/// A missing working directory (`-w`, the image's WORKDIR) is made in the
/// container before its process starts: root's, mode 0755, whatever the
/// user (as dockerd and runc make it), on a read-only root too, inside a
/// bind mount when it is under one, and never through a symlink out of the
/// container's root.
/// HostConfig.CpuRealtimePeriod and CpuRealtimeRuntime (docker-py's
/// test_create_with_cpu_rt_options): kept and shown by inspect; a runtime
/// over the period refused in dockerd's words. Berth also starts such a
/// container: the runtime gives berth's own cgroups the budget (dockerd
/// needs its --cpu-rt-runtime for that, so its side stops at create).
fn realtime_cpu(e: &Engine) {
    let mut c = Cleanup::new(e);
    let name = c.name("rt");
    let create = |name: &str, period: i64, runtime: i64| {
        let body = serde_json::json!({
            "Image": e.image, "Cmd": ["sleep", "60"],
            "HostConfig": {"CpuRealtimePeriod": period, "CpuRealtimeRuntime": runtime},
        });
        e.api(
            "POST",
            &format!("/v1.41/containers/create?name={name}"),
            Some(&body.to_string()),
        )
    };
    let (status, out) = create(&name, 100_000, 5_000);
    // A kernel without real-time group scheduling (or a cgroup v2 host)
    // gets dockerd's refusal instead.
    if !std::path::Path::new("/sys/fs/cgroup/cpu/cpu.rt_period_us").exists() {
        assert!(
            out.contains("Your kernel does not support CPU real-time scheduler"),
            "{status} {out}"
        );
        return;
    }
    assert_eq!(status, 201, "{out}");
    assert_eq!(
        inspect(
            e,
            "{{.HostConfig.CpuRealtimePeriod}} {{.HostConfig.CpuRealtimeRuntime}}",
            &name
        ),
        "100000 5000"
    );
    let over = c.name("rt-over");
    let (status, out) = create(&over, 1_000, 2_000);
    // dockerd 20.10 answers this with a 500 (its 400s came later).
    let want = if e.kind == "berth" { 400 } else { 500 };
    assert_eq!(status, want, "{out}");
    assert!(
        out.contains("cpu real-time runtime cannot be higher than cpu real-time period"),
        "{out}"
    );
    if e.kind != "berth" {
        return;
    }
    // The runtime leaves the budget it gave berth's cgroups (as crun
    // does): given back here, so that the host ends as it began.
    let budgets = RtBudgets::save();
    e.berth(&["start", &name]).assert_success();
    let pid = inspect(e, "{{.State.Pid}}", &name);
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = cgroups
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
            controllers
                .split(',')
                .any(|c| c == "cpu")
                .then(|| path.to_string())
        })
        .expect("the container's cpu cgroup");
    let dir = format!("/sys/fs/cgroup/cpu{path}");
    let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
    assert_eq!(read("cpu.rt_period_us").trim(), "100000");
    assert_eq!(read("cpu.rt_runtime_us").trim(), "5000");
    e.berth(&["rm", "-f", &name]).assert_success();
    drop(budgets);
}

/// The cpu.rt_runtime_us of every cgroup-v1 cpu cgroup below the root (two
/// levels), written back on drop: children first, so each parent can go
/// back down.
struct RtBudgets(Vec<(std::path::PathBuf, String)>);

impl RtBudgets {
    fn save() -> RtBudgets {
        let mut saved = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from("/sys/fs/cgroup/cpu")];
        for _ in 0..2 {
            let mut next = Vec::new();
            for d in &dirs {
                for entry in std::fs::read_dir(d).into_iter().flatten().flatten() {
                    let p = entry.path();
                    if p.is_dir() {
                        if let Ok(v) = std::fs::read_to_string(p.join("cpu.rt_runtime_us")) {
                            saved.push((p.join("cpu.rt_runtime_us"), v.trim().to_string()));
                        }
                        next.push(p);
                    }
                }
            }
            dirs = next;
        }
        RtBudgets(saved)
    }
}

impl Drop for RtBudgets {
    fn drop(&mut self) {
        // Deeper paths first.
        self.0
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (path, value) in &self.0 {
            let _ = std::fs::write(path, value);
        }
    }
}

fn workdir_is_created(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let out = e.berth(&[
        "run",
        "--rm",
        "-w",
        "/new/dir",
        img,
        "sh",
        "-c",
        "pwd; stat -c '%u:%g %a' /new /new/dir",
    ]);
    assert_out(&out, "/new/dir\n0:0 755\n0:0 755\n");
    let out = e.berth(&[
        "run",
        "--rm",
        "--read-only",
        "-u",
        "65534:65534",
        "-w",
        "/made/for/nobody",
        img,
        "sh",
        "-c",
        "pwd; stat -c '%u:%g %a' .; touch x 2>/dev/null || echo ro",
    ]);
    assert_out(&out, "/made/for/nobody\n0:0 755\nro\n");
    // Under a bind mount: made in the mounted directory, on the host.
    let dir = e.path(&unique_id("wdbind"));
    std::fs::create_dir(&dir).unwrap();
    let spec = format!("{}:/data", dir.display());
    let out = e.berth(&["run", "--rm", "-v", &spec, "-w", "/data/sub", img, "pwd"]);
    assert_out(&out, "/data/sub\n");
    assert!(dir.join("sub").is_dir(), "made in the bind mount's source");
    // The directory stays in the container's filesystem, as docker diff shows.
    let name = c.name("wd");
    e.berth(&["run", "--name", &name, "-w", "/kept/wd", img, "true"])
        .assert_success();
    let diff = e.berth(&["diff", &name]);
    assert!(
        diff.stdout_str().contains("A /kept/wd"),
        "{}",
        diff.stdout_str()
    );
    // The image's WORKDIR, through a symlink that points at the host's /:
    // the directory is made inside the container's root, not on the host.
    let base = c.name("wdbase");
    e.berth(&["run", "--name", &base, img, "ln", "-s", "/", "/escape"])
        .assert_success();
    let escape = unique_id("berth-wd-escape");
    let tag = format!("{}:wd", unique_id("bcli-wdimg"));
    e.berth(&[
        "commit",
        "-c",
        &format!("WORKDIR /escape/{escape}/wd"),
        &base,
        &tag,
    ])
    .assert_success();
    let out = e.berth(&[
        "run",
        "--rm",
        &tag,
        "sh",
        "-c",
        &format!("ls -d /{escape}/wd && echo inside"),
    ]);
    let _ = e.run_quiet(&["rmi", "-f", &tag]);
    assert_out(&out, &format!("/{escape}/wd\ninside\n"));
    assert!(
        !std::path::Path::new("/").join(&escape).exists(),
        "the working directory escaped to the host"
    );
}

/// What berth does not do yet is refused at create, exit 125, naming the
/// flag and saying so, and leaves no container: never accepted and ignored.
/// (dockerd has them all: the scenario is berth's.)
fn unsupported_flags_are_refused(e: &Engine) {
    if e.kind != "berth" {
        return;
    }
    let img = e.image.as_str();
    let label = format!("berth.test={}", unique_id("refused"));
    let cases: &[(&[&str], &str)] = &[(&["--pid", "container:other"], "--pid container:other")];
    for (flags, says) in cases {
        for verb in ["run", "create"] {
            let mut args = vec![verb, "--rm", "-l", &label];
            if verb == "create" {
                args.remove(1);
            }
            args.extend(*flags);
            args.extend([img, "true"]);
            let out = e.berth(&args);
            assert_fails(&out, 125, says);
            assert!(
                out.stderr_str().contains("not supported yet"),
                "{flags:?}: {}",
                out.stderr_str()
            );
        }
    }
    let left = e.berth(&["ps", "-aq", "--filter", &format!("label={label}")]);
    assert_out(&left, "");
    // What docker's CLI and berth's send when the flags are not given is
    // not a request: the defaults still run.
    let out = e.berth(&["run", "--rm", "--network", "default", img, "echo", "ok"]);
    assert_out(&out, "ok\n");
}

fn create_flags_reach_the_engine(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("flags");
    let bind = e.path(&unique_id("bind"));
    std::fs::create_dir(&bind).unwrap();
    let bind_spec = format!("{}:/bind:ro", bind.display());
    // A published port where the engine has them; berth refuses them
    // until it does (unsupported_flags_are_refused).
    let volumes_and_ports: &[&str] = if e.kind == "berth" {
        &["-v", "/data"]
    } else {
        &["-v", "/data", "-p", "127.0.0.1:8080:80/tcp"]
    };
    let mut args = vec![
        "create",
        "--name",
        &name,
        "-l",
        "k=v",
        "--entrypoint",
        "/bin/sh",
        "-m",
        "64m",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--pids-limit",
        "100",
        "--ulimit",
        "nofile=1024:2048",
        "--cap-add",
        "NET_ADMIN",
        "--cap-drop",
        "MKNOD",
        "--security-opt",
        "no-new-privileges",
        "--init",
        "--tmpfs",
        "/run:size=1m",
        "--add-host",
        "foo:10.0.0.1",
        "--network",
        "none",
        "--health-cmd",
        "true",
        "--health-interval",
        "5s",
        "--health-timeout",
        "2s",
        "--health-retries",
        "2",
        "--health-start-period",
        "1m",
        "--health-on-failure",
        "restart",
        "-v",
        &bind_spec,
        "--expose",
        "80",
        "--stop-signal",
        "SIGUSR1",
        "--stop-timeout",
        "7",
        "--restart",
        "on-failure:3",
    ];
    args.extend(volumes_and_ports);
    args.extend([img, "-c", "echo hi"]);
    let out = e.berth(&args);
    out.assert_success();
    assert!(
        is_full_id(out.stdout_str().trim()),
        "create prints the id: {:?}",
        out.stdout_str()
    );
    let mut checks: Vec<(&str, String)> = vec![
        ("{{index .Config.Labels \"k\"}}", "v".into()),
        (
            "{{index .Config.Labels \"io.berth.health-on-failure\"}}",
            "restart".into(),
        ),
        ("{{json .Config.Entrypoint}}", "[\"/bin/sh\"]".into()),
        ("{{json .Config.Cmd}}", "[\"-c\",\"echo hi\"]".into()),
        ("{{.HostConfig.Memory}}", "67108864".into()),
        ("{{.HostConfig.NanoCpus}}", "500000000".into()),
        ("{{.HostConfig.CpuShares}}", "512".into()),
        ("{{.HostConfig.PidsLimit}}", "100".into()),
        (
            "{{json .HostConfig.Ulimits}}",
            // docker's units.Ulimit, in its field order.
            "[{\"Name\":\"nofile\",\"Hard\":2048,\"Soft\":1024}]".into(),
        ),
        ("{{json .HostConfig.CapAdd}}", "[\"NET_ADMIN\"]".into()),
        ("{{json .HostConfig.CapDrop}}", "[\"MKNOD\"]".into()),
        (
            "{{json .HostConfig.SecurityOpt}}",
            "[\"no-new-privileges\"]".into(),
        ),
        ("{{.HostConfig.Init}}", "true".into()),
        (
            "{{json .HostConfig.Tmpfs}}",
            "{\"/run\":\"size=1m\"}".into(),
        ),
        (
            "{{json .HostConfig.ExtraHosts}}",
            "[\"foo:10.0.0.1\"]".into(),
        ),
        ("{{.HostConfig.NetworkMode}}", "none".into()),
        (
            "{{json .Config.Healthcheck.Test}}",
            "[\"CMD-SHELL\",\"true\"]".into(),
        ),
        // time.Duration prints as Go prints it.
        ("{{.Config.Healthcheck.Interval}}", "5s".into()),
        ("{{.Config.Healthcheck.Timeout}}", "2s".into()),
        ("{{.Config.Healthcheck.Retries}}", "2".into()),
        ("{{.Config.Healthcheck.StartPeriod}}", "1m0s".into()),
        ("{{json .HostConfig.Binds}}", format!("[\"{bind_spec}\"]")),
        ("{{json .Config.ExposedPorts}}", "{\"80/tcp\":{}}".into()),
        ("{{.Config.StopSignal}}", "SIGUSR1".into()),
        ("{{.Config.StopTimeout}}", "7".into()),
        (
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
            "on-failure:3".into(),
        ),
        ("{{.State.Status}}", "created".into()),
    ];
    checks.push(("{{json .Config.Volumes}}", "{\"/data\":{}}".into()));
    if e.kind != "berth" {
        checks.extend([(
            "{{json .HostConfig.PortBindings}}",
            "{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}]}".into(),
        )]);
    }
    for (format, want) in &checks {
        assert_eq!(&inspect(e, format, &name), want, "inspect -f {format}");
    }
    // create records what `start -a` attaches, as docker's create does.
    let name = c.name("attachflags");
    e.berth(&["create", "-i", "--name", &name, img, "cat"])
        .assert_success();
    assert_eq!(
        inspect(
            e,
            "{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.OpenStdin}} {{.Config.StdinOnce}}",
            &name
        ),
        "true true true true"
    );
    assert_out(
        &e.berth_stdin(&["start", "-a", "-i", &name], b"via start\n"),
        "via start\n",
    );
    let name = c.name("attach-a");
    e.berth(&["create", "-a", "stderr", "--name", &name, img, "true"])
        .assert_success();
    assert_eq!(
        inspect(
            e,
            "{{.Config.AttachStdout}} {{.Config.AttachStderr}}",
            &name
        ),
        "false true"
    );
    // --no-healthcheck disables the image's check.
    let name = c.name("nohc");
    e.berth(&["create", "--name", &name, "--no-healthcheck", img, "true"])
        .assert_success();
    assert_eq!(
        inspect(e, "{{json .Config.Healthcheck.Test}}", &name),
        "[\"NONE\"]"
    );
    // A bad value is refused before the engine sees it.
    let out = e.berth(&["create", "--health-on-failure", "explode", img, "true"]);
    assert_fails(&out, 125, "--health-on-failure");
    let out = e.berth(&["create", "--ulimit", "nofile=x", img, "true"]);
    assert_fails(&out, 125, "--ulimit");
    let out = e.berth(&["create", "-p", "1:2:3:4", img, "true"]);
    assert_fails(&out, 125, "--publish");
}

fn detached_logs_stop(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("logs");
    let out = e.berth(&[
        "run",
        "-d",
        "--name",
        &name,
        img,
        "sh",
        "-c",
        "echo start; echo to-stderr >&2; i=0; while true; do echo tick$i; i=$((i+1)); sleep 1; done",
    ]);
    out.assert_success();
    assert!(
        is_full_id(out.stdout_str().trim_end()),
        "run -d prints the full id: {:?}",
        out.stdout_str()
    );
    assert!(out.stdout_str().ends_with('\n'));

    let mut follow = e.spawn(&["logs", "-f", &name]);
    assert!(
        eventually(Duration::from_secs(20), || follow
            .stdout()
            .contains("tick1")),
        "logs -f: {:?} {:?}",
        follow.stdout(),
        follow.stderr()
    );
    // stderr of the container is stderr of logs.
    assert!(
        follow.stderr().contains("to-stderr"),
        "{:?}",
        follow.stderr()
    );
    assert!(!follow.stdout().contains("to-stderr"));

    // sh as pid 1 ignores SIGTERM: stop -t 1 kills it after a second.
    let started = Instant::now();
    assert_out(&e.berth(&["stop", "-t", "1", &name]), &format!("{name}\n"));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stop took {:?}",
        started.elapsed()
    );
    assert_eq!(
        inspect(e, "{{.State.Running}} {{.State.ExitCode}}", &name),
        "false 137"
    );
    // logs -f ends with the container.
    let status = follow.wait(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "logs -f did not end: {status:?}"
    );
    assert!(
        follow.stdout().starts_with("start\ntick0\n"),
        "{:?}",
        follow.stdout()
    );

    let out = e.berth(&["logs", "--tail", "1", &name]);
    out.assert_success();
    assert_eq!(
        out.stdout_str().lines().count(),
        1,
        "{:?}",
        out.stdout_str()
    );
    assert!(out.stdout_str().starts_with("tick"));
    let out = e.berth(&["logs", "-n", "2", "-t", &name]);
    out.assert_success();
    for l in out.stdout_str().lines() {
        assert!(
            l.starts_with("20") && l.contains("Z tick"),
            "timestamped: {l:?}"
        );
    }
    // --since in the future: nothing.
    let out = e.berth(&["logs", "--since", "2100-01-01T00:00:00Z", &name]);
    assert_out(&out, "");
}

fn ps_listing(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let tag = unique_id("ps");
    let label = format!("berth.test={tag}");
    let filter = format!("label={label}");
    let running = c.name("ps-run");
    let exited = c.name("ps-exit");
    let out = e.berth(&[
        "run", "-d", "--name", &running, "-l", &label, img, "sleep", "1000",
    ]);
    out.assert_success();
    let running_id = out.stdout_str().trim().to_string();
    e.berth(&["run", "--name", &exited, "-l", &label, img, "true"])
        .assert_success();

    assert_out(
        &e.berth(&["ps", "-q", "--filter", &filter]),
        &format!("{}\n", &running_id[..12]),
    );
    let out = e.berth(&["ps", "-a", "-q", "--no-trunc", "--filter", &filter]);
    out.assert_success();
    let ids: Vec<String> = out.stdout_str().lines().map(str::to_string).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.iter().all(|i| is_full_id(i)) && ids.contains(&running_id));
    assert_out(
        &e.berth(&[
            "ps",
            "-a",
            "--filter",
            &filter,
            "--filter",
            "status=exited",
            "--format",
            "{{.Names}}",
        ]),
        &format!("{exited}\n"),
    );
    let out = e.berth(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--format",
        "{{.Names}} {{.Label \"berth.test\"}} {{.State}} {{.Image}}",
    ]);
    out.assert_success();
    let mut lines: Vec<String> = out.stdout_str().lines().map(str::to_string).collect();
    lines.sort();
    let mut want = vec![
        format!("{running} {tag} running {img}"),
        format!("{exited} {tag} exited {img}"),
    ];
    want.sort();
    assert_eq!(lines, want);

    // The default table: docker's header and columns.
    let out = e.berth(&["ps", "--filter", &filter]);
    out.assert_success();
    let text = out.stdout_str();
    let mut rows = text.lines();
    let header = rows.next().unwrap_or_default();
    assert!(
        header.starts_with("CONTAINER ID   IMAGE          COMMAND   ")
            || header.starts_with("CONTAINER ID   IMAGE"),
        "{header:?}"
    );
    for col in ["COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"] {
        assert!(header.contains(col), "{header:?}");
    }
    let row = rows.next().unwrap_or_default();
    assert!(row.starts_with(&running_id[..12]), "{row:?}");
    assert!(
        row.contains("\"sleep 1000\"") && row.contains("Up ") && row.ends_with(&running),
        "{row:?}"
    );
    assert_eq!(rows.next(), None);

    // table with a custom template; json.
    let out = e.berth(&[
        "ps",
        "--filter",
        &filter,
        "--format",
        "table {{.ID}}\\t{{.Names}}",
    ]);
    assert_out(
        &out,
        &format!("CONTAINER ID   NAMES\n{}   {running}\n", &running_id[..12]),
    );
    let out = e.berth(&["ps", "-a", "--filter", &filter, "--format", "json"]);
    out.assert_success();
    let names: Vec<String> = out
        .stdout_str()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("one JSON object a line")["Names"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names.len(), 2);
    // -n / -l: the latest created, whatever its state.
    assert_out(
        &e.berth(&["ps", "-l", "--filter", &filter, "--format", "{{.Names}}"]),
        &format!("{exited}\n"),
    );
    assert_out(
        &e.berth(&["ps", "-n", "1", "-q", "--filter", &filter])
            .clone(),
        &e.berth(&["ps", "-l", "-q", "--filter", &filter])
            .stdout_str(),
    );
    // The `container ls` alias.
    assert_out(
        &e.berth(&["container", "ls", "-q", "--filter", &filter]),
        &format!("{}\n", &running_id[..12]),
    );
}

fn exec_verbs(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("exec");
    e.berth(&["run", "-d", "--name", &name, img, "sleep", "1000"])
        .assert_success();
    assert_out(&e.berth(&["exec", &name, "echo", "inexec"]), "inexec\n");
    e.berth(&["exec", &name, "sh", "-c", "exit 5"])
        .assert_code(5);
    let out = e.berth(&["exec", &name, "sh", "-c", "echo out; echo err >&2"]);
    assert_out(&out, "out\n");
    assert_eq!(out.stderr_str(), "err\n");
    let out = e.berth(&[
        "exec",
        "-e",
        "FOO=bar",
        "-w",
        "/tmp",
        "-u",
        "1000",
        &name,
        "sh",
        "-c",
        "echo $FOO $(pwd) $(id -u)",
    ]);
    assert_out(&out, "bar /tmp 1000\n");
    assert_out(
        &e.berth_stdin(&["exec", "-i", &name, "cat"], b"fed\n"),
        "fed\n",
    );
    assert_out(
        &e.berth(&["exec", "-d", &name, "sh", "-c", "echo detached > /tmp/d"]),
        "",
    );
    assert!(eventually(Duration::from_secs(10), || e
        .berth(&["exec", &name, "cat", "/tmp/d"])
        .stdout_str()
        == "detached\n"));
    // A program that is not there: dockerd's 126 for an exec, with and
    // without a terminal (the message on it).
    let out = e.berth(&["exec", &name, "/nope"]);
    assert_eq!(out.status.code(), Some(126), "{}", out.stderr_str());
    if let Some(out) = e.berth_tty(&format!("exec -t {name} /nope")) {
        assert_eq!(out.status.code(), Some(126), "{}", out.stdout_str());
        assert!(out.stdout_str().contains("/nope"), "{}", out.stdout_str());
    }
    // A name not found in PATH: 126 too (dockerd's code for every exec
    // that cannot start).
    let out = e.berth(&["exec", &name, "no-such-program"]);
    assert_eq!(out.status.code(), Some(126), "{}", out.stderr_str());
    // exec in a stopped container fails.
    e.berth(&["kill", &name]).assert_success();
    let out = e.berth(&["exec", &name, "true"]);
    assert_fails(&out, 1, "is not running");
}

fn terminals(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    // run -t without a terminal of ours: the container still gets one.
    let out = e.berth(&["run", "--rm", "-t", img, "tty"]);
    out.assert_success();
    assert!(
        out.stdout_str().starts_with("/dev/pts/"),
        "{:?}",
        out.stdout_str()
    );
    // -it needs a terminal on our side.
    let out = e.berth(&["run", "--rm", "-it", img, "true"]);
    assert_fails(&out, 1, "not a TTY");
    let Some(out) = e.berth_tty(&format!("run --rm -it {img} sh -c 'tty; echo done'")) else {
        return;
    };
    out.assert_success();
    assert!(
        out.stdout_str().contains("/dev/pts/") && out.stdout_str().contains("done"),
        "{:?} {:?}",
        out.stdout_str(),
        out.stderr_str()
    );
    e.berth_tty(&format!("run --rm -it {img} sh -c 'exit 9'"))
        .unwrap()
        .assert_code(9);
    let name = c.name("tty");
    e.berth(&["run", "-d", "--name", &name, img, "sleep", "1000"])
        .assert_success();
    let out = e
        .berth_tty(&format!("exec -it {name} sh -c 'tty; echo edone'"))
        .unwrap();
    out.assert_success();
    assert!(
        out.stdout_str().contains("/dev/pts/") && out.stdout_str().contains("edone"),
        "{:?}",
        out.stdout_str()
    );
    e.berth_tty(&format!("exec -it {name} sh -c 'exit 7'"))
        .unwrap()
        .assert_code(7);
    // ctrl-p ctrl-q detaches: the CLI exits 0, the container runs on.
    let name = c.name("detach");
    let started = Instant::now();
    let out = e
        .berth_tty_input(
            &format!("run -it --name {name} {img} sleep 60"),
            b"\x10\x11",
            Duration::from_secs(2),
        )
        .unwrap();
    out.assert_success();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "did not detach"
    );
    assert_eq!(inspect(e, "{{.State.Running}}", &name), "true");
}

/// `--detach-keys` on run, attach and exec, and the config file's
/// `detachKeys` when no flag is given: the CLI returns at once with 0 and
/// the container (or exec'd process) runs on.
fn detach_keys(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let quick = |out: std::process::Output, started: Instant, what: &str| {
        out.assert_success();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what}: did not detach"
        );
    };
    let name = c.name("dkrun");
    let started = Instant::now();
    let out = e
        .berth_tty_input(
            &format!("run -it --detach-keys ctrl-x --name {name} {img} sleep 60"),
            b"\x18",
            Duration::from_secs(2),
        )
        .unwrap();
    quick(out, started, "run --detach-keys");
    assert_eq!(inspect(e, "{{.State.Running}}", &name), "true");

    let started = Instant::now();
    let out = e
        .berth_tty_input(
            &format!("attach --detach-keys a,b {name}"),
            b"ab",
            Duration::from_secs(2),
        )
        .unwrap();
    quick(out, started, "attach --detach-keys");
    assert_eq!(inspect(e, "{{.State.Running}}", &name), "true");

    let started = Instant::now();
    let out = e
        .berth_tty_input(
            &format!("exec -it --detach-keys ctrl-x {name} sleep 60"),
            b"\x18",
            Duration::from_secs(2),
        )
        .unwrap();
    quick(out, started, "exec --detach-keys");

    // The config file's keys, docker's `detachKeys`.
    let config = e.path(&format!("{name}-config"));
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.json"), r#"{"detachKeys": "ctrl-x"}"#).unwrap();
    let started = Instant::now();
    let out = e
        .berth_tty_input_env(
            &[("DOCKER_CONFIG", config.to_str().unwrap())],
            &format!("attach {name}"),
            b"\x18",
            Duration::from_secs(2),
        )
        .unwrap();
    quick(out, started, "attach with the config file's keys");
    assert_eq!(inspect(e, "{{.State.Running}}", &name), "true");
}

/// Without a terminal, signals to the CLI go to the container (--sig-proxy).
fn signals_are_proxied(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("sigproxy");
    let mut bg = e.spawn(&[
        "run",
        "--name",
        &name,
        img,
        "sh",
        "-c",
        "trap 'echo got-int; exit 42' INT; echo ready; while :; do sleep 1; done",
    ]);
    assert!(
        eventually(Duration::from_secs(20), || bg.stdout().contains("ready")),
        "{:?}",
        bg.stderr()
    );
    bg.signal(libc::SIGINT);
    let status = bg.wait(Duration::from_secs(20));
    assert_eq!(status.and_then(|s| s.code()), Some(42), "{:?}", bg.stderr());
    assert_eq!(bg.stdout(), "ready\ngot-int\n");
}

fn attach_verb(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("attach");
    e.berth(&[
        "run",
        "-d",
        "--name",
        &name,
        img,
        "sh",
        "-c",
        "sleep 3; echo attached-out; echo attached-err >&2; exit 4",
    ])
    .assert_success();
    let out = e.berth(&["attach", &name]);
    out.assert_code(4);
    assert_eq!(out.stdout_str(), "attached-out\n");
    assert_eq!(out.stderr_str(), "attached-err\n");
    // Stopped: refused.
    let out = e.berth(&["attach", &name]);
    assert_fails(&out, 1, "You cannot attach to a stopped container");

    // stdin through attach.
    let name = c.name("attach-in");
    e.berth(&[
        "run",
        "-d",
        "-i",
        "--name",
        &name,
        img,
        "sh",
        "-c",
        "read x; echo got $x",
    ])
    .assert_success();
    // (stdin stays open: at its EOF the engine ends the attach, as dockerd does)
    assert_out(
        &e.berth_stdin_open(&["attach", &name], b"hello\n"),
        "got hello\n",
    );
    assert_eq!(inspect(e, "{{.State.ExitCode}}", &name), "0");
}

fn inspect_start_wait(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("wait");
    let out = e.berth(&["create", "--name", &name, img, "sh", "-c", "exit 6"]);
    out.assert_success();
    let id = out.stdout_str().trim().to_string();
    assert!(is_full_id(&id));
    assert_eq!(
        inspect(e, "{{.State.Status}} {{.Id}}", &name),
        format!("created {id}")
    );
    assert_eq!(
        inspect(e, "{{json .Config.Cmd}}", &name),
        "[\"sh\",\"-c\",\"exit 6\"]"
    );
    assert_out(&e.berth(&["start", &name]), &format!("{name}\n"));
    assert_out(&e.berth(&["wait", &name]), "6\n");
    assert_eq!(
        inspect(e, "{{.State.ExitCode}} {{.State.Running}}", &name),
        "6 false"
    );
    // Without -f: a JSON array of the engine's objects, indented by 4.
    let out = e.berth(&["inspect", &name]);
    out.assert_success();
    let v: serde_json::Value =
        serde_json::from_str(&out.stdout_str()).expect("inspect prints JSON");
    assert_eq!(v.as_array().map(|a| a.len()), Some(1));
    assert_eq!(v[0]["Name"], format!("/{name}"));
    assert!(
        out.stdout_str().starts_with("[\n    {\n        \""),
        "{}",
        &out.stdout_str()[..40.min(out.stdout_str().len())]
    );
    // Images: inspect falls back to them; --type says which.
    assert!(inspect(e, "{{.Id}}", img).starts_with("sha256:"));
    let out = e.berth(&["inspect", "--type", "image", "-f", "{{.Id}}", img]);
    out.assert_success();
    let out = e.berth(&["container", "inspect", img]);
    assert_fails(&out, 1, "Error response from daemon: No such container");

    // start -a: attached to the output, exits with the container's code.
    let name = c.name("start-a");
    e.berth(&[
        "create",
        "--name",
        &name,
        img,
        "sh",
        "-c",
        "echo fromstart; exit 2",
    ])
    .assert_success();
    let out = e.berth(&["start", "-a", &name]);
    out.assert_code(2);
    assert_eq!(out.stdout_str(), "fromstart\n");
    // wait on several: one code a line.
    let n2 = c.name("wait2");
    e.berth(&[
        "run",
        "-d",
        "--name",
        &n2,
        img,
        "sh",
        "-c",
        "sleep 1; exit 3",
    ])
    .assert_success();
    assert_out(&e.berth(&["wait", &n2, &name]), "3\n2\n");
}

fn unknown_container_errors(e: &Engine) {
    let nope = unique_id("berth-nope");
    for verb in [
        "rm", "stop", "kill", "restart", "wait", "pause", "unpause", "start",
    ] {
        let out = e.berth(&[verb, &nope]);
        assert_fails(&out, 1, &format!("No such container: {nope}"));
    }
    for verb in ["rm", "stop"] {
        let out = e.berth(&[verb, &nope]);
        assert_eq!(
            out.stderr_str(),
            format!("Error: No such container: {nope}\n"),
            "{verb}"
        );
    }
    // rm -f: an unknown container is reported but is no failure (docker's).
    let out = e.berth(&["rm", "-f", &nope]);
    out.assert_success();
    assert!(
        out.stderr_str().contains("No such container"),
        "{}",
        out.stderr_str()
    );
    let out = e.berth(&["container", "inspect", &nope]);
    assert_fails(
        &out,
        1,
        &format!("Error response from daemon: No such container: {nope}"),
    );
    let out = e.berth(&["inspect", &nope]);
    assert_fails(&out, 1, &format!("Error: No such object: {nope}"));
    assert_eq!(out.stdout_str(), "[]\n");
    for args in [
        vec!["logs", nope.as_str()],
        vec!["exec", nope.as_str(), "true"],
        vec!["attach", nope.as_str()],
        vec!["top", nope.as_str()],
        vec!["diff", nope.as_str()],
        vec!["rename", nope.as_str(), "other"],
    ] {
        let out = e.berth(&args);
        assert_fails(&out, 1, &format!("No such container: {nope}"));
    }
    // rm of several: the good ones go, the exit code says one failed.
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("rm-some");
    e.berth(&["create", "--name", &name, img, "true"])
        .assert_success();
    let out = e.berth(&["rm", &name, &nope]);
    out.assert_code(1);
    assert_eq!(out.stdout_str(), format!("{name}\n"));
}

fn rm_force_and_autoremove(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("rmf");
    e.berth(&["run", "-d", "--name", &name, img, "sleep", "1000"])
        .assert_success();
    let out = e.berth(&["rm", &name]);
    assert_fails(&out, 1, "running");
    assert_out(&e.berth(&["rm", "-f", &name]), &format!("{name}\n"));
    assert_out(
        &e.berth(&["ps", "-a", "-q", "--filter", &format!("name={name}")]),
        "",
    );

    // run -d --rm: AutoRemove, gone once it exits.
    let name = c.name("autorm");
    e.berth(&["run", "-d", "--rm", "--name", &name, img, "true"])
        .assert_success();
    assert!(
        eventually(Duration::from_secs(20), || {
            e.berth(&["ps", "-a", "-q", "--filter", &format!("name={name}")])
                .stdout_str()
                .is_empty()
        }),
        "{name} was not removed"
    );
    // run --rm that fails to start is removed too.
    let name = c.name("autorm-fail");
    e.berth(&["run", "--rm", "--name", &name, img, "/nope"])
        .assert_code(127);
    assert!(eventually(Duration::from_secs(20), || {
        e.berth(&["ps", "-a", "-q", "--filter", &format!("name={name}")])
            .stdout_str()
            .is_empty()
    }));
}

fn restart_policy_and_restart(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("onfail");
    e.berth(&[
        "run",
        "-d",
        "--name",
        &name,
        "--restart",
        "on-failure:2",
        img,
        "sh",
        "-c",
        "exit 1",
    ])
    .assert_success();
    let mut last = String::new();
    assert!(
        eventually(Duration::from_secs(40), || {
            last = inspect(
                e,
                "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
                &name,
            );
            last == "exited 2 1"
        }),
        "on-failure:2 should restart twice then stay exited: {last}"
    );
    // restart: a new start, still running.
    let name = c.name("restart");
    e.berth(&["run", "-d", "--name", &name, img, "sleep", "1000"])
        .assert_success();
    let before = inspect(e, "{{.State.StartedAt}} {{.State.Pid}}", &name);
    assert_out(
        &e.berth(&["restart", "-t", "0", &name]),
        &format!("{name}\n"),
    );
    let after = inspect(e, "{{.State.StartedAt}} {{.State.Pid}}", &name);
    assert_ne!(before, after);
    assert_eq!(inspect(e, "{{.State.Running}}", &name), "true");
    // update --restart and resources.
    assert_out(
        &e.berth(&[
            "update",
            "--restart",
            "always",
            "--cpu-shares",
            "256",
            &name,
        ]),
        &format!("{name}\n"),
    );
    assert_eq!(
        inspect(
            e,
            "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.CpuShares}}",
            &name
        ),
        "always 256"
    );
}

fn cp_both_ways(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("cp");
    e.berth(&["run", "-d", "--name", &name, img, "sleep", "1000"])
        .assert_success();
    let work = e.path(&unique_id("cp"));
    std::fs::create_dir(&work).unwrap();
    let file = work.join("f.txt");
    std::fs::write(&file, "hello cp\n").unwrap();
    let dir = work.join("d");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a.txt"), "a\n").unwrap();
    std::fs::write(dir.join("sub/b.txt"), "b\n").unwrap();
    let w = |p: &str| work.join(p).to_string_lossy().into_owned();

    // In: into a directory, to a new name, a whole directory.
    assert_out(&e.berth(&["cp", &w("f.txt"), &format!("{name}:/tmp/")]), "");
    assert_out(
        &e.berth(&["exec", &name, "cat", "/tmp/f.txt"]),
        "hello cp\n",
    );
    e.berth(&["cp", &w("f.txt"), &format!("{name}:/tmp/renamed.txt")])
        .assert_success();
    assert_out(
        &e.berth(&["exec", &name, "cat", "/tmp/renamed.txt"]),
        "hello cp\n",
    );
    e.berth(&["cp", &w("d"), &format!("{name}:/tmp")])
        .assert_success();
    assert_out(
        &e.berth(&["exec", &name, "cat", "/tmp/d/sub/b.txt", "/tmp/d/a.txt"]),
        "b\na\n",
    );
    // Files copied in belong to root unless -a.
    assert_out(
        &e.berth(&["exec", &name, "stat", "-c", "%u", "/tmp/f.txt"]),
        "0\n",
    );

    // Out: a file to a new name, a directory to a new and to an existing one.
    e.berth(&["cp", &format!("{name}:/tmp/f.txt"), &w("out.txt")])
        .assert_success();
    assert_eq!(
        std::fs::read_to_string(work.join("out.txt")).unwrap(),
        "hello cp\n"
    );
    e.berth(&["cp", &format!("{name}:/tmp/d"), &w("newdir")])
        .assert_success();
    assert_eq!(
        std::fs::read_to_string(work.join("newdir/sub/b.txt")).unwrap(),
        "b\n"
    );
    std::fs::create_dir(work.join("existing")).unwrap();
    e.berth(&["cp", &format!("{name}:/tmp/d"), &w("existing")])
        .assert_success();
    assert_eq!(
        std::fs::read_to_string(work.join("existing/d/a.txt")).unwrap(),
        "a\n"
    );
    // To stdout: a tar.
    let out = e.berth(&["cp", &format!("{name}:/tmp/f.txt"), "-"]);
    out.assert_success();
    let mut ar = tar::Archive::new(&out.stdout[..]);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|en| en.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["f.txt".to_string()]);
    // A missing source: an error.
    let out = e.berth(&["cp", &format!("{name}:/nope"), &w("x")]);
    assert_fails(&out, 1, "");
    assert!(!work.join("x").exists());
}

fn top_and_stats(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("topstats");
    let out = e.berth(&["run", "-d", "--name", &name, img, "sleep", "1000"]);
    out.assert_success();

    let out = e.berth(&["top", &name]);
    out.assert_success();
    assert!(
        out.stdout_str().starts_with("UID ") && out.stdout_str().contains("sleep 1000"),
        "{}",
        out.stdout_str()
    );

    let out = e.berth(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        &name,
    ]);
    assert_out(&out, &format!("{name} 1\n"));
    let out = e.berth(&["stats", "--no-stream", &name]);
    out.assert_success();
    assert!(
        out.stdout_str().starts_with("CONTAINER ID   NAME"),
        "{}",
        out.stdout_str()
    );
}

fn diff_and_export(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("diffexp");
    let out = e.berth(&["run", "-d", "--name", &name, img, "sleep", "1000"]);
    out.assert_success();
    e.berth(&["exec", &name, "touch", "/made-here"])
        .assert_success();
    let out = e.berth(&["diff", &name]);
    out.assert_success();
    assert!(
        out.stdout_str().lines().any(|l| l == "A /made-here"),
        "{}",
        out.stdout_str()
    );

    let tarball = e.path(&format!("{}.tar", unique_id("export")));
    assert_out(
        &e.berth(&["export", "-o", tarball.to_str().unwrap(), &name]),
        "",
    );
    let mut ar = tar::Archive::new(std::fs::File::open(&tarball).unwrap());
    assert!(ar.entries().unwrap().any(|en| {
        en.unwrap()
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            == "made-here"
    }));
}

fn pause_rename_events(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("pause");
    let out = e.berth(&["run", "-d", "--name", &name, img, "sleep", "1000"]);
    out.assert_success();
    let id = out.stdout_str().trim().to_string();
    assert_out(&e.berth(&["pause", &name]), &format!("{name}\n"));
    let st = e
        .berth(&[
            "ps",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.Status}}",
        ])
        .stdout_str();
    assert!(st.contains("(Paused)"), "{st:?}");
    assert_out(&e.berth(&["unpause", &name]), &format!("{name}\n"));

    let renamed = c.name("renamed");
    assert_out(&e.berth(&["rename", &name, &renamed]), "");
    assert_eq!(inspect(e, "{{.Name}}", &renamed), format!("/{renamed}"));

    // Events of our own container, between two times.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = e.berth(&[
        "events",
        "--since",
        &(now - 120).to_string(),
        "--until",
        &(now + 1).to_string(),
        "--filter",
        &format!("container={id}"),
        "--format",
        "{{.Type}} {{.Action}}",
    ]);
    out.assert_success();
    assert!(
        out.stdout_str().contains("container start"),
        "{:?}",
        out.stdout_str()
    );
}

fn prune_verbs(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    // container prune, limited to our label.
    let label = format!("berth.test={}", unique_id("prune"));
    let dead = c.name("prune");
    e.berth(&["run", "--name", &dead, "-l", &label, img, "true"])
        .assert_success();
    let out = e.berth(&[
        "container",
        "prune",
        "-f",
        "--filter",
        &format!("label={label}"),
    ]);
    out.assert_success();
    assert!(
        out.stdout_str().starts_with("Deleted Containers:\n"),
        "{}",
        out.stdout_str()
    );
    assert!(out.stdout_str().contains("Total reclaimed space:"));
    assert_out(
        &e.berth(&["ps", "-a", "-q", "--filter", &format!("name={dead}")]),
        "",
    );

    // system prune, limited to our label too; `container rm` is rm.
    let label = format!("berth.test={}", unique_id("sysprune"));
    let dead = c.name("sysprune");
    e.berth(&[
        "container",
        "run",
        "--name",
        &dead,
        "-l",
        &label,
        img,
        "true",
    ])
    .assert_success();
    let out = e.berth(&[
        "system",
        "prune",
        "-f",
        "--filter",
        &format!("label={label}"),
    ]);
    out.assert_success();
    assert!(
        out.stdout_str().starts_with("Deleted Containers:\n"),
        "{}",
        out.stdout_str()
    );
    assert!(
        out.stdout_str().ends_with("Total reclaimed space: 0B\n"),
        "{}",
        out.stdout_str()
    );
    let gone = c.name("container-rm");
    e.berth(&["container", "create", "--name", &gone, img, "true"])
        .assert_success();
    assert_out(&e.berth(&["container", "rm", &gone]), &format!("{gone}\n"));
}

fn system_verbs(e: &Engine) {
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let name = c.name("system");
    let out = e.berth(&["run", "-d", "--name", &name, img, "sleep", "1000"]);
    out.assert_success();
    let out = e.berth(&["system", "df"]);
    out.assert_success();
    assert!(
        out.stdout_str()
            .starts_with("TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\nImages "),
        "{}",
        out.stdout_str()
    );
    let out = e.berth(&["version"]);
    out.assert_success();
    assert!(
        out.stdout_str().starts_with("Client:\n") && out.stdout_str().contains("\nServer:\n"),
        "{}",
        out.stdout_str()
    );
    let out = e.berth(&["version", "--format", "{{.Server.ApiVersion}}"]);
    out.assert_success();
    assert!(
        out.stdout_str().trim().starts_with("1."),
        "{}",
        out.stdout_str()
    );
    let out = e.berth(&["info", "--format", "{{.ServerVersion}}"]);
    out.assert_success();
    assert!(!out.stdout_str().trim().is_empty());

    // The engine is found through BERTH_HOST too, and DOCKER_HOST is ignored.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.env("BERTH_HOST", &e.host)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("BERTH_NO_AUTOSTART", "1")
        .args(["ps", "-q", "--filter", &format!("name={name}")]);
    let out = cmd.output().unwrap();
    out.assert_success();
    assert_eq!(out.stdout_str().lines().count(), 1);
}

/// berth and docker's CLI on the same engine and containers print the same.
fn same_output_as_docker_cli(e: &Engine) {
    if e.docker.is_none() {
        eprintln!("no docker CLI: same_output_as_docker_cli skipped");
        return;
    }
    let img = e.image.as_str();
    let mut c = Cleanup::new(e);
    let label = format!("berth.test={}", unique_id("same"));
    let running = c.name("same-run");
    let exited = c.name("same-exit");
    let mut args = vec![
        "run",
        "-d",
        "--name",
        &running,
        "-l",
        &label,
        "-l",
        "html=<a>&b",
        "-e",
        "X=y z",
    ];
    // An anonymous volume for the Mounts column.
    args.extend(["-v", "/vol"]);
    args.extend([
        img,
        "sh",
        "-c",
        "echo out; echo err >&2; touch /new; sleep 1000",
    ]);
    e.berth(&args).assert_success();
    e.berth(&[
        "run",
        "--name",
        &exited,
        "-l",
        &label,
        img,
        "sh",
        "-c",
        "echo bye; exit 3",
    ])
    .assert_code(3);
    assert!(eventually(Duration::from_secs(10), || {
        e.berth(&["exec", &running, "test", "-e", "/new"])
            .status
            .success()
    }));
    let filter = format!("label={label}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (since, until) = ((now - 60).to_string(), (now + 1).to_string());
    let events_filter = format!("container={exited}");
    let table = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Ports}}\t{{.Names}}\t{{.Labels}}\t{{.State}}\t{{.Mounts}}\t{{.Networks}}\t{{.Size}}\t{{.LocalVolumes}}\t{{.Label \"berth.test\"}}";
    let same: Vec<Vec<&str>> = vec![
        vec!["inspect", &running],
        vec!["inspect", &exited],
        vec!["inspect", img],
        vec!["container", "inspect", &running, &exited],
        vec![
            "inspect",
            "-f",
            "{{.State.ExitCode}} {{.State.Status}} {{json .Config.Cmd}} {{index .Config.Labels \"html\"}} {{.Config.Env}} {{.Name}}",
            &exited,
        ],
        vec!["ps", "-a", "-s", "--filter", &filter, "--format", table],
        vec!["ps", "-a", "-q", "--no-trunc", "--filter", &filter],
        vec![
            "ps",
            "-a",
            "--filter",
            &filter,
            "--filter",
            "status=exited",
            "--format",
            "{{.Names}} {{.State}}",
        ],
        vec!["logs", &running],
        vec![
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            &events_filter,
        ],
        vec![
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            &events_filter,
            "--format",
            "json",
        ],
        vec![
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            &events_filter,
            "--format",
            "{{.ID}} {{.Status}} {{.Type}} {{.Action}} {{.Actor.ID}} {{.From}}",
        ],
        vec!["logs", "--tail", "1", &exited],
        vec!["top", &running, "-o", "pid,args"],
        vec!["diff", &running],
        vec!["wait", &exited],
        // Not NetIO: the container's interface keeps receiving (IPv6 router
        // solicitations, ...) between the two calls.
        vec![
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDs}} {{.ID}}",
            &running,
        ],
        vec![
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.Os}} {{.Server.Arch}}",
        ],
    ];
    // Every difference, not just the first.
    let mut differ = Vec::new();
    for args in &same {
        let ours = e.berth(args);
        let theirs = e.docker(args).unwrap();
        // The engine lists changes in no stable order (a Go map).
        let lines = |o: &std::process::Output| {
            let mut l: Vec<String> = o.stdout_str().lines().map(str::to_string).collect();
            if args[0] == "diff" {
                l.sort();
            }
            l
        };
        let ours = (lines(&ours), ours.stderr_str(), ours.status.code());
        let theirs = (lines(&theirs), theirs.stderr_str(), theirs.status.code());
        if ours != theirs {
            eprintln!("berth {args:?}:\n  berth:  {ours:?}\n  docker: {theirs:?}");
            differ.push(args[0]);
        }
    }
    assert!(
        differ.is_empty(),
        "berth and docker's CLI differ on {differ:?}"
    );
}

/// Not engine-specific: with nothing on its socket (the default, or
/// BERTH_HOST's), the CLI starts `berth daemon` there, detached, and uses
/// it; with BERTH_NO_AUTOSTART it says what is wrong instead. A socket named
/// with -H is someone's engine: never started, the error names the socket.
#[test]
fn autostart_starts_the_daemon() {
    let dir = std::path::PathBuf::from("/tmp").join(unique_id("bas"));
    std::fs::create_dir(&dir).unwrap();
    struct Guard(std::path::PathBuf);
    impl Drop for Guard {
        fn drop(&mut self) {
            common::dockerd::kill_strays(&self.0);
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _guard = Guard(dir.clone());
    let sock = dir.join("run/berth.sock");
    let host = format!("unix://{}", sock.display());
    let berth = |no_autostart: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_berth"));
        cmd.env("BERTH_HOST", &host)
            .arg("--data-root")
            .arg(dir.join("root"))
            .args(["version", "--format", "{{.Server.ApiVersion}}"]);
        if no_autostart {
            cmd.env("BERTH_NO_AUTOSTART", "1");
        } else {
            cmd.env_remove("BERTH_NO_AUTOSTART");
        }
        cmd.output().unwrap()
    };
    let out = berth(true);
    assert_fails(&out, 1, "Cannot connect to the berth engine");
    let explicit = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .env_remove("BERTH_NO_AUTOSTART")
        .env_remove("BERTH_HOST")
        .arg("--data-root")
        .arg(dir.join("root"))
        .args(["-H", &host, "images"])
        .output()
        .unwrap();
    assert_fails(&explicit, 1, &host);
    assert!(!sock.exists(), "a daemon was started at -H {host}");
    let out = berth(false);
    out.assert_success();
    let log = dir.join("run/berth-daemon.log");
    assert_eq!(
        out.stderr_str(),
        format!("berth: starting the engine (log: {})\n", log.display())
    );
    assert!(
        out.stdout_str().trim().starts_with("1."),
        "{}",
        out.stdout_str()
    );
    // Now it answers: no second start.
    let out = berth(false);
    out.assert_success();
    assert_eq!(out.stderr_str(), "");
}

/// The engine refuses host sysctls at create (a 400 naming the sysctl),
/// as docker's daemon and runc do between them; the host's values stay.
#[test]
fn host_sysctls_are_refused_at_create() {
    let Some(e) = Engine::private_berth_daemon() else {
        return;
    };
    let core = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let overcommit = std::fs::read_to_string("/proc/sys/vm/overcommit_ratio").unwrap();
    for (args, want) in [
        (
            vec![
                "--sysctl",
                "kernel.core_pattern=|/bin/touch /tmp/pwned-engine",
            ],
            "sysctl \"kernel.core_pattern\" is not in a separate kernel namespace",
        ),
        (
            vec!["--sysctl", "vm.overcommit_ratio=51"],
            "sysctl \"vm.overcommit_ratio\" is not in a separate kernel namespace",
        ),
        (
            vec!["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
            "is not allowed in the hosts network namespace",
        ),
        (
            vec!["--ipc", "host", "--sysctl", "fs.mqueue.msg_max=20"],
            "is not allowed in the hosts ipc namespace",
        ),
    ] {
        let mut all = vec!["run", "--rm"];
        all.extend(args.iter().copied());
        all.extend([e.image.as_str(), "true"]);
        let out = e.berth(&all);
        assert_eq!(out.status.code(), Some(125), "{args:?} was accepted");
        assert!(
            out.stderr_str().contains(want),
            "{args:?}: wanted {want:?} in {}",
            out.stderr_str()
        );
    }
    // A sysctl of the container's own namespace is set there.
    let out = e.berth(&[
        "run",
        "--rm",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        &e.image,
        "cat",
        "/proc/sys/net/ipv4/ip_forward",
    ]);
    out.assert_success();
    assert_eq!(out.stdout_str(), "1\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        core
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/vm/overcommit_ratio").unwrap(),
        overcommit
    );
    assert!(!std::path::Path::new("/tmp/pwned-engine").exists());
}
