#![forbid(unsafe_code)]
//! `--format` templates, table-driven: each (command, template) runs through
//! the real docker CLI and through `berth -H`, both against the same private
//! berth daemon, and must print the same stdout and exit with the same code
//! (failing cases: the same Go error text, from "template: :" on).
//!
//! Left out, as they cannot match by design, with what each prints:
//! * a Go pointer inside a printed struct or map: docker prints its address
//!   (`{{.NetworkSettings.Networks}}`: `map[none:0xc0003e20e0]`,
//!   `{{.HostConfig}}` with its `*bool`/`*int64` fields), berth what it
//!   points to;
//! * quirks of docker's raw-JSON fallback, where numbers are `json.Number`
//!   (a string type): `{{.Id}} {{len .State.Pid}}` gives the pid's digit
//!   count (berth: "len of type int"), and `{{.Id}} {{eq .State.ExitCode
//!   0}}` (the typed pass fails on `.Id`, the struct's field being `ID`)
//!   fails with "incompatible types for comparison" (berth prints `...
//!   true`);
//! * `ps --format '{{range .}}'` and `{{.}}` on a table row: docker prints
//!   its formatter's internals (`{{map[Command:COMMAND ...]} false {...}}`).

mod common;

use std::process::Output;
use std::time::Duration;

use berth_testkit::{OutputExt, require_root};
use common::Store;
use common::berthd::Berthd;

/// One row of the table: the arguments after `docker` / `berth -H ...`.
struct Case {
    args: Vec<&'static str>,
    /// The output holds a relative time ("Up 3 seconds"), which may tick
    /// between the two runs: a mismatch is run again once.
    timed: bool,
}

fn case(args: &[&'static str]) -> Case {
    Case {
        args: args.to_vec(),
        timed: false,
    }
}

fn timed(args: &[&'static str]) -> Case {
    Case {
        args: args.to_vec(),
        timed: true,
    }
}

/// Cases that differ from docker today, each with why (none at present).
/// A known case that starts to match is reported, an unknown mismatch fails
/// the test.
const KNOWN: &[(&str, &str)] = &[];

const WEB: &str = "fmt-web";
const DONE: &str = "fmt-done";
/// Created, never started: a healthcheck, an exposed port, a bind mount.
const HC: &str = "fmt-hc";
const VOL: &str = "fmt-vol";

/// Templates that do not parse: Go's wording, for `inspect` (exit 64) and
/// `ps` ("failed to parse template").
const BAD_TEMPLATES: &[&str] = &[
    "{{.Name | }}",
    "{{if}}{{end}}",
    "{{$x}}",
    r#"{{"unterminated}}"#,
    "{{.Name}}{{else}}",
    r#"{{define "x"}}"#,
    "{{1 | 2}}",
    "{{range $i, $j, $k := .Args}}{{end}}",
    "{{break}}",
    "{{with}}{{end}}",
    "{{ .Name}",
    "{{.Name}}}}{{",
    "{{/* open comment }}",
    "{{printf}} {{.",
    "{{(.Name}}",
    "{{.Name)}}",
    "{{$x := }}",
    "{{$x = 1}}",
    "{{if .Name}}{{else if}}{{end}}",
    "{{range .Args}}{{continue 1}}{{end}}",
    "{{nil}}",
    "{{.Na-me}}",
    "{{'ab'}}",
    "{{0x}}",
    "{{template}}",
    "{{block \"b\" .}}",
    "{{end}}{{if .Name}}",
];

/// Templates for `inspect` on both containers (one line each).
const CONTAINER_TEMPLATES: &[&str] = &[
    "{{.Id}}",
    "{{.Name}}",
    "{{if .State.Running}}up{{else}}down{{end}}",
    r#"{{with .Config.Labels}}{{index . "a"}}{{end}}"#,
    "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}},{{end}}",
    "{{json .Config.Env}}",
    "{{len .Config.Env}}",
    r#"{{printf "%s-%d" .Name .State.ExitCode}}"#,
    "{{.Name | upper}}",
    "{{lower .Config.Image}}",
    "{{title .State.Status}}",
    r#"{{join .Config.Cmd ","}}"#,
    r#"{{split .Config.Image ":"}}"#,
    "{{pad .State.Status 2 3}}",
    "{{truncate .Id 12}}",
    "{{println .Name}}",
    "{{.Config.Labels}}",
    "{{.HostConfig.Binds}}",
    "{{.State.Health}}",
    r#"{{index .Config.Labels "missing"}}"#,
    r#"{{eq .State.Status "running"}}"#,
    "{{and .State.Running .State.Pid}}",
    "{{$n := .Name}}{{$n}}",
    "x {{- .Name -}} y",
    "{{json .State.Running}}",
    "{{.Config.Cmd}}",
    "{{json .Config.Labels}}",
    "{{.HostConfig.RestartPolicy.Name}}",
    "{{json .HostConfig.RestartPolicy}}",
    "{{json .State}}",
    "{{.Mounts}}",
    "{{range .Mounts}}m{{else}}no mounts{{end}}",
    "{{.Config.ExposedPorts}}",
    "{{.Config.Healthcheck}}",
    // The typed field is DNS (json "Dns"): docker falls back to the JSON.
    "{{.HostConfig.Dns}}",
    "{{index .Config.Env 0}}",
    "{{slice .Id 0 5}}",
    "{{range .Config.Env}}{{.}};{{end}}",
    r#"{{printf "%T" .State.Pid}}"#,
    r#"{{printf "%T" .Config.Labels}}"#,
    "{{json .Config}}",
    "{{.State.StartedAt}}",
    "{{.Created}}",
    "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.NetworkMode}}",
    r#"{{or .Config.Labels.missing "dflt"}}"#,
    "{{.Config.Labels.missing}}",
    r#"{{if and .State.Running (eq .State.ExitCode 0)}}healthy{{else if .State.Running}}odd{{else}}stopped({{.State.ExitCode}}){{end}}"#,
    r#"{{range $i, $e := .Config.Env}}{{if $i}} {{end}}{{$e}}{{end}}"#,
    "{{len .Name}} {{not .State.Paused}} {{ne .State.Pid 0}}",
    r#"{{.Name | printf "%q"}} {{.Name | len}}"#,
    "{{/* a comment */}}{{.Path}} {{.Args}}",
    "{{.Config.Tty}} {{.Config.OpenStdin}} {{.Config.User}}|{{.Config.WorkingDir}}|",
    // The typed pass: Go field names, Go structs, fields the engine omits.
    "{{.ID}}",
    "{{.HostConfig.NanoCPUs}} {{.HostConfig.DNS}} {{.HostConfig.CPUShares}}",
    "{{.HostConfig.Isolation}}|{{.HostConfig.CgroupnsMode}}|{{.HostConfig.ConsoleSize}}",
    "{{.State}}",
    "{{.HostConfig.RestartPolicy}}",
    "{{.HostConfig.LogConfig}}",
    "{{.GraphDriver}}",
    "{{.Config}}",
    "{{.Config.Volumes}} {{.Config.ExposedPorts}}",
    r#"{{printf "%+v" .HostConfig.RestartPolicy}}"#,
    "{{json .}}",
    "{{json .HostConfig}}",
    "{{json .NetworkSettings}}",
    "{{json .Mounts}}",
    "{{json .GraphDriver}}",
    // The typed pass fails, the raw JSON answers (or fails).
    "{{.Id}} {{.Config.Labels.missing}}",
    "{{range $k, $v := .State}}{{$k}};{{end}}",
    "{{len .State}}",
    r#"{{index .State "Status"}}"#,
    "{{.State.Health.Status}}",
    "table {{.Name}}",
];

/// Templates for `image inspect` on both images.
const IMAGE_TEMPLATES: &[&str] = &[
    "{{.Id}}",
    "{{index .RepoTags 0}}",
    "{{range .RepoTags}}{{.}} {{end}}",
    "{{range $i, $t := .RepoTags}}{{$i}}={{$t}};{{end}}",
    "{{.Config.Labels}}",
    r#"{{with .Config.Labels}}{{index . "a"}}{{else}}none{{end}}"#,
    "{{json .Config.Env}}",
    "{{.Config.Cmd}}",
    "{{.Os}}/{{.Architecture}}",
    "{{.RepoDigests}}",
    "{{.Size}}",
    "{{len .RootFS.Layers}} {{.RootFS.Type}}",
    "{{.Metadata.LastTagTime}}",
    "{{.Created}}",
    "{{json .RootFS}}",
    "{{.Config.Healthcheck}}",
    "{{.Parent}}|{{.Comment}}|",
    "{{json .RepoTags}}",
    "{{json .Config.Labels}}",
    "{{.ID}}",
    "{{.Config}}",
    "{{.RootFS}} {{.Metadata}} {{.GraphDriver.Name}}",
    "{{.Descriptor}} {{.VirtualSize}} {{.Variant}}|",
    "{{json .}}",
    "{{json .Config}}",
    "{{json .Metadata}}",
];

fn cases() -> Vec<Case> {
    let mut v = vec![
        // ps: docker's ContainerContext.
        case(&["ps", "--format", "{{.Names}}"]),
        case(&["ps", "-a", "--format", "{{.ID}}"]),
        case(&["ps", "-a", "--no-trunc", "--format", "{{.ID}}"]),
        case(&["ps", "-a", "--format", r#"{{.Names}}:{{.Label "app"}}"#]),
        case(&["ps", "-a", "--format", r#"{{.Label "nosuch"}}|"#]),
        timed(&["ps", "-a", "--format", "table {{.Names}}\\t{{.Status}}"]),
        // .Labels is a string (k=v,...) in docker, in map order: one label.
        case(&[
            "ps",
            "-a",
            "--filter",
            "name=fmt-done",
            "--format",
            "{{.Labels}}",
        ]),
        case(&[
            "ps",
            "-a",
            "--filter",
            "name=fmt-done",
            "--format",
            "{{json .Labels}}",
        ]),
        case(&["ps", "-a", "--format", "{{.Image}} {{.Command}}"]),
        case(&[
            "ps",
            "--format",
            "{{.Names}} {{.Ports}}|{{.Mounts}}|{{.Networks}}",
        ]),
        case(&[
            "ps",
            "-a",
            "--format",
            r#"table {{.ID}}\t{{.Image}}\t{{.Label "com.example.role"}}"#,
        ]),
        case(&["ps", "-a", "--format", "{{.State}}"]),
        case(&[
            "ps",
            "-a",
            "--filter",
            "label=app=web",
            "--format",
            "{{.Names}}",
        ]),
        timed(&["ps", "-a", "--format", "{{json .}}"]),
        case(&[
            "ps",
            "-a",
            "--format",
            r#"{{if eq .State "running"}}R{{else}}S{{end}} {{.Names | upper}}"#,
        ]),
        case(&["ps", "-a", "--format", "{{.CreatedAt}}"]),
        timed(&["ps", "-a", "--format", "{{.RunningFor}}"]),
        timed(&["ps", "-a", "--format", "table"]),
        case(&[
            "ps",
            "-a",
            "--format",
            r#"{{range $i, $e := split .Names "-"}}{{$i}}{{$e}}{{end}}"#,
        ]),
        case(&["ps", "--format", "{{.Names.Foo}}"]),
        case(&["ps", "--format", "{{.NoSuch}}"]),
        case(&["ps", "--format", "{{.Names"]),
        case(&["images", "--format", "{{.NoSuch}}"]),
        // images: docker's ImageContext.
        case(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        case(&["images", "--format", "table {{.Repository}}\\t{{.ID}}"]),
        case(&["images", "--format", "{{.ID}}"]),
        case(&["images", "--no-trunc", "--format", "{{.ID}}"]),
        case(&["images", "--format", "{{.Repository}} {{.Digest}}"]),
        timed(&[
            "images",
            "--format",
            "table {{.Repository}}\\t{{.Tag}}\\t{{.CreatedSince}}",
        ]),
        case(&["images", "fmt", "--format", "{{.Tag}}"]),
        case(&["images", "--format", "{{.Size}}"]),
        case(&["images", "--format", "{{json .Repository}}"]),
        case(&["images", "--format", "{{.CreatedAt}}"]),
        timed(&["images", "--format", "json"]),
        timed(&["images", "--format", "table"]),
        case(&["images", "--format", "{{end}}"]),
        case(&["images", "--format", r#"{{.Label "x"}}"#]),
        case(&[
            "images",
            "--format",
            "{{.VirtualSize}} {{.SharedSize}} {{.UniqueSize}}",
        ]),
        case(&[
            "images",
            "--format",
            "table {{.Repository}}\\t{{.VirtualSize}}\\t{{.SharedSize}}\\t{{.UniqueSize}}",
        ]),
        case(&["images", "--format", " {{.Repository}} "]),
        case(&["ps", "-a", "--format", " {{.Names}} "]),
        case(&["ps", "-a", "--format", "{{.Names}} {{.Platform}}"]),
        case(&["ps", "-a", "--format", "{{.Names}} {{.Size}}"]),
        case(&["ps", "-a", "--format", "{{slice .ID 0 3}}"]),
        // inspect: the top-level verb finds images too.
        case(&["inspect", "-f", "{{.Id}} {{.RepoTags}}", "fmt:1"]),
        case(&["inspect", "--type", "image", "-f", "{{.RepoTags}}", "fmt:2"]),
        case(&["container", "inspect", "-f", "{{.Name}}", WEB]),
        // Execution errors: docker tries its typed struct, then the raw JSON
        // with missingkey=error.
        case(&["inspect", "-f", "{{.NoSuchField}}", WEB]),
        case(&["inspect", "-f", "{{.State.NoSuch}}", WEB]),
        case(&["inspect", "-f", "{{index .Config.Cmd 5}}", WEB]),
        // An element's error does not stop the others.
        case(&["inspect", "-f", "{{index .Config.Cmd 2}}", WEB, DONE]),
        case(&["image", "inspect", "-f", "{{.NoSuchField}}", "fmt:1"]),
        // Bad templates.
        case(&["inspect", "-f", "{{.Name", WEB]),
        case(&["inspect", "-f", "{{nosuchfunc .Name}}", WEB]),
        case(&["inspect", "-f", "{{end}}", WEB]),
        case(&["image", "inspect", "-f", "{{range .RepoTags}}", "fmt:1"]),
        // Missing objects.
        case(&["inspect", "-f", "{{.Name}}", "nosuch"]),
        case(&["inspect", "-f", "{{.Name}}", WEB, "nosuch"]),
        case(&["inspect", "-f", "{{.Name}}", "nosuch", "nosuch2"]),
        case(&["image", "inspect", "-f", "{{.Id}}", "nosuch:1", "fmt:1"]),
        // Durations, struct{} values, mounts, a pointer to an int.
        case(&["inspect", "-f", "{{.Config.Healthcheck}}", HC]),
        case(&["inspect", "-f", "{{json .Config.Healthcheck}}", HC]),
        case(&["inspect", "-f", "{{.Config.Healthcheck.Interval}}", HC]),
        case(&[
            "inspect",
            "-f",
            "{{.Config.ExposedPorts}} {{json .Config.ExposedPorts}}",
            HC,
        ]),
        case(&["inspect", "-f", "{{.Mounts}}", HC]),
        case(&["inspect", "-f", "{{json .Mounts}}", HC]),
        case(&[
            "inspect",
            "-f",
            "{{.HostConfig.Binds}} {{.Config.StopTimeout}}",
            HC,
        ]),
        case(&["inspect", "-f", "{{.State}}", HC]),
        // Volumes: docker keeps no raw JSON, so the typed error shows.
        case(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{.Labels}} {{.Options}} {{.Scope}} {{.UsageData}}",
            VOL,
        ]),
        case(&["volume", "inspect", "-f", "{{json .}}", VOL]),
        case(&["volume", "inspect", "-f", "{{.NoSuch}}", VOL]),
        case(&["volume", "inspect", "-f", "{{.Name}}", "fmt-nosuch", VOL]),
        case(&["volume", "inspect", "-f", "{{.Name", VOL]),
        // The top-level verb finds volumes too (with the raw fallback).
        case(&["inspect", "-f", "{{.Name}} {{.Driver}} {{.Labels}}", VOL]),
        case(&["inspect", "-f", "{{.NoSuch}}", VOL]),
        case(&["inspect", "--type", "volume", "-f", "{{.Name}}", VOL]),
        case(&[
            "inspect",
            "--type",
            "volume",
            "-f",
            "{{.Name}}",
            "fmt-nosuch",
        ]),
        case(&["inspect", "-f", "{{.Name}}", "fmt-nosuch", VOL]),
        case(&["volume", "ls", "--format", "{{json .}}"]),
        case(&["volume", "ls", "--format", "json"]),
        case(&[
            "volume",
            "ls",
            "--format",
            r#"{{.Name}} {{.Label "a"}} {{.Labels}}"#,
        ]),
        case(&["volume", "ls", "--format", "{{.NoSuch}}"]),
        case(&[
            "volume",
            "ls",
            "--format",
            "table {{.Name}}\\t{{.Links}}\\t{{.Size}}",
        ]),
        // Without a template: the engine's JSON, indented as docker does.
        case(&["image", "inspect", "fmt:1"]),
        case(&["inspect", "plain:1", "nosuch"]),
        case(&["container", "inspect", "-f", "{{.Name}}", "nosuch", WEB]),
        case(&["inspect", "--type", "image", "-f", "{{.Id}}", "nosuch:1"]),
    ];
    for t in CONTAINER_TEMPLATES {
        v.push(case(&["inspect", "--format", t, WEB, DONE]));
    }
    for t in BAD_TEMPLATES {
        v.push(case(&["inspect", "-f", t, WEB]));
        v.push(case(&["ps", "--format", t]));
    }
    for t in IMAGE_TEMPLATES {
        v.push(case(&[
            "image", "inspect", "--format", t, "fmt:1", "plain:1",
        ]));
    }
    v
}

/// stderr from Go's "template: :" on (the error, without the prefix the
/// CLI puts before it), else all of it.
fn error_text(o: &Output) -> String {
    let e = o.stderr_str();
    match e.find("template: :") {
        Some(i) => e[i..].trim_end().to_string(),
        None => e.trim_end().to_string(),
    }
}

/// Why the two outputs differ, or None.
fn differ(docker: &Output, berth: &Output) -> Option<String> {
    let mut why = Vec::new();
    if docker.status.code() != berth.status.code() {
        why.push("exit code");
    }
    if docker.stdout != berth.stdout {
        why.push("stdout");
    }
    if !docker.status.success() && error_text(docker) != error_text(berth) {
        why.push("error text");
    }
    (!why.is_empty()).then(|| why.join(", "))
}

fn show(o: &Output) -> String {
    format!(
        "    exit {:?}\n    stdout {:?}\n    stderr {:?}",
        o.status.code(),
        o.stdout_str(),
        o.stderr_str()
    )
}

#[test]
fn format_templates_match_docker() {
    if !require_root() {
        return;
    }
    let s = Store::new();
    s.import_busybox_with("fmt:1", &["LABEL a=b", "LABEL zz=last"]);
    s.import_busybox("plain:1");
    // Its own image: docker orders an image's repositories as a Go map.
    s.import_busybox_with(
        "registry.example.com:5000/team/other:latest",
        &["LABEL x=y"],
    );
    let Some(d) = Berthd::start(&s, true) else {
        return;
    };
    d.docker(&["tag", "fmt:1", "fmt:2"]).assert_success();
    d.docker(&[
        "run",
        "-d",
        "--name",
        WEB,
        "-l",
        "app=web",
        "-l",
        "com.example.role=db",
        "-e",
        "FOO=bar",
        "-e",
        "EMPTY=",
        "fmt:1",
        "sleep",
        "600",
    ])
    .assert_success();
    d.docker(&[
        "run", "--name", DONE, "-l", "only=one", "plain:1", "sh", "-c", "exit 3",
    ])
    .assert_code(3);
    d.docker(&[
        "create",
        "--name",
        HC,
        "--health-cmd",
        "true",
        "--health-interval",
        "30s",
        "--health-start-period",
        "1500ms",
        "--expose",
        "80",
        "-v",
        "/tmp:/data:ro",
        "--stop-timeout",
        "7",
        "plain:1",
        "sleep",
        "1",
    ])
    .assert_success();
    d.docker(&["volume", "create", "--label", "a=b", VOL])
        .assert_success();

    let cases = cases();
    let mut failed = 0;
    let mut known_seen = 0;
    for c in &cases {
        let run = || {
            let docker = d.docker(&c.args);
            let berth = d.store_berth(&c.args);
            let why = differ(&docker, &berth);
            (docker, berth, why)
        };
        let (mut docker, mut berth, mut why) = run();
        if why.is_some() && c.timed {
            std::thread::sleep(Duration::from_millis(200));
            (docker, berth, why) = run();
        }
        let matched = why.is_none();
        match why {
            None if docker.stderr != berth.stderr && !docker.status.success() => println!(
                "ok: {:?} (stderr differs before the Go error: docker {:?}, berth {:?})",
                c.args,
                docker.stderr_str(),
                berth.stderr_str()
            ),
            None => println!("ok: {:?}", c.args),
            Some(why) => {
                let key = c.args.join(" ");
                let known = KNOWN.iter().find(|(k, _)| *k == key);
                if known.is_none() {
                    failed += 1;
                } else {
                    known_seen += 1;
                }
                println!(
                    "{} ({why}): {:?}{}\n  docker:\n{}\n  berth:\n{}",
                    if known.is_some() { "KNOWN" } else { "MISMATCH" },
                    c.args,
                    known.map(|(_, r)| format!(" -- {r}")).unwrap_or_default(),
                    show(&docker),
                    show(&berth)
                );
            }
        }
        if matched && KNOWN.iter().any(|(k, _)| *k == c.args.join(" ")) {
            println!(
                "note: {:?} is listed as known but matches now: drop it from KNOWN",
                c.args
            );
        }
    }
    println!(
        "{} of {} cases match; {known_seen} known differences; {failed} new ones",
        cases.len() - failed - known_seen,
        cases.len()
    );
    assert_eq!(
        failed,
        0,
        "{failed} of {} format cases differ from docker (see above)",
        cases.len()
    );
}
