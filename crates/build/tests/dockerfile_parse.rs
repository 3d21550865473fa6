//! The Dockerfile parser against cases of the kinds buildkit keeps under
//! frontend/dockerfile/parser/testfiles (our own Dockerfiles).

use berth_build::dockerfile::{
    Command, CopyArgs, Dockerfile, HealthFlags, Heredoc, Instruction, Kind, RunFlags, parse,
};

fn ok(src: &str) -> Dockerfile {
    parse(src).unwrap_or_else(|e| panic!("{e}\n--- in:\n{src}"))
}

/// The instructions after the leading `FROM`.
fn body(src: &str) -> Vec<Instruction> {
    let mut df = ok(&format!("FROM scratch\n{src}"));
    df.instructions.remove(0);
    df.instructions
}

fn kinds(src: &str) -> Vec<Kind> {
    body(src).into_iter().map(|i| i.kind).collect()
}

fn one(src: &str) -> Kind {
    let mut k = kinds(src);
    assert_eq!(k.len(), 1, "{k:?}");
    k.remove(0)
}

/// The error's line and message, for a Dockerfile that must not parse.
fn err(src: &str) -> (usize, String) {
    match parse(src) {
        Ok(df) => panic!("parsed: {df:#?}"),
        Err(e) => (e.line, e.message),
    }
}

/// The message of an error in the instruction after `FROM scratch`.
fn err_msg(src: &str) -> String {
    let (line, msg) = err(&format!("FROM scratch\n{src}"));
    assert_eq!(line, 2, "{msg}");
    msg
}

fn shell(s: &str) -> Command {
    Command::Shell(s.into())
}

fn exec(v: &[&str]) -> Command {
    Command::Exec(v.iter().map(|s| s.to_string()).collect())
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn run(command: Command) -> Kind {
    Kind::Run {
        flags: RunFlags::default(),
        command,
        heredocs: vec![],
    }
}

fn doc(name: &str, content: &str, expand: bool, strip_tabs: bool) -> Heredoc {
    Heredoc {
        name: name.into(),
        content: content.into(),
        expand,
        strip_tabs,
    }
}

// ---- every instruction ----

#[test]
fn every_instruction_in_one_file() {
    let df = ok(r#"# syntax=docker/dockerfile:1
ARG BASE=alpine:3.20
FROM --platform=$BUILDPLATFORM ${BASE} AS Build
MAINTAINER Jane Doe <jane@example.com>
RUN apk add curl
CMD ["sh", "-c", "echo hi"]
ENTRYPOINT /bin/entry --flag
COPY --from=build --chown=1:1 a b /dst/
ADD --checksum=sha256:abc https://example.com/x.tgz /x
ENV A=1 B="two words"
LABEL org.opencontainers.image.title="berth"
EXPOSE 80/tcp 443
VOLUME /data /cache
WORKDIR /src
USER app:app
STOPSIGNAL SIGTERM
HEALTHCHECK CMD curl -f http://localhost/
SHELL ["/bin/bash", "-c"]
ONBUILD RUN make
"#);
    assert_eq!(df.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(df.escape, '\\');
    let k: Vec<Kind> = df.instructions.iter().map(|i| i.kind.clone()).collect();
    assert_eq!(
        k[0],
        Kind::Arg(vec![("BASE".into(), Some("alpine:3.20".into()))])
    );
    assert_eq!(
        k[1],
        Kind::From {
            image: "${BASE}".into(),
            alias: Some("build".into()),
            platform: Some("$BUILDPLATFORM".into()),
        }
    );
    assert_eq!(k[2], Kind::Maintainer("Jane Doe <jane@example.com>".into()));
    assert_eq!(k[3], run(shell("apk add curl")));
    assert_eq!(k[4], Kind::Cmd(exec(&["sh", "-c", "echo hi"])));
    assert_eq!(k[5], Kind::Entrypoint(shell("/bin/entry --flag")));
    assert_eq!(
        k[6],
        Kind::Copy(CopyArgs {
            sources: strs(&["a", "b"]),
            dest: "/dst/".into(),
            from: Some("build".into()),
            chown: Some("1:1".into()),
            ..CopyArgs::default()
        })
    );
    assert_eq!(
        k[7],
        Kind::Add(CopyArgs {
            sources: strs(&["https://example.com/x.tgz"]),
            dest: "/x".into(),
            checksum: Some("sha256:abc".into()),
            ..CopyArgs::default()
        })
    );
    assert_eq!(
        k[8],
        Kind::Env(pairs(&[("A", "1"), ("B", "\"two words\"")]))
    );
    assert_eq!(
        k[9],
        Kind::Label(pairs(&[("org.opencontainers.image.title", "\"berth\"")]))
    );
    assert_eq!(k[10], Kind::Expose(strs(&["80/tcp", "443"])));
    assert_eq!(k[11], Kind::Volume(strs(&["/data", "/cache"])));
    assert_eq!(k[12], Kind::Workdir("/src".into()));
    assert_eq!(k[13], Kind::User("app:app".into()));
    assert_eq!(k[14], Kind::StopSignal("SIGTERM".into()));
    assert_eq!(
        k[15],
        Kind::Healthcheck(Some((
            HealthFlags::default(),
            shell("curl -f http://localhost/")
        )))
    );
    assert_eq!(k[16], Kind::Shell(strs(&["/bin/bash", "-c"])));
    let Kind::Onbuild(trigger) = &k[17] else {
        panic!("{:?}", k[17])
    };
    assert_eq!(trigger.kind, run(shell("make")));
    assert_eq!(trigger.original, "RUN make");
    // Lines count from 1, the directive included.
    let lines: Vec<usize> = df.instructions.iter().map(|i| i.line).collect();
    assert_eq!(lines, (2..=19).collect::<Vec<_>>());
}

#[test]
fn keywords_are_case_insensitive_and_kept_as_written() {
    let df = ok("from alpine as base\nRun echo 1\nworkDir /x\n");
    assert_eq!(
        df.instructions[0].kind,
        Kind::From {
            image: "alpine".into(),
            alias: Some("base".into()),
            platform: None
        }
    );
    assert_eq!(df.instructions[1].kind, run(shell("echo 1")));
    assert_eq!(df.instructions[1].original, "Run echo 1");
    assert_eq!(df.instructions[2].kind, Kind::Workdir("/x".into()));
    assert_eq!(df.instructions[2].original, "workDir /x");
}

// ---- continuations, comments, original ----

#[test]
fn continuations_join_lines_keeping_their_leading_blanks() {
    let df = ok("FROM a\nRUN echo hello\\\n  world \\\n  again  \\  \nend\n");
    let i = &df.instructions[1];
    assert_eq!(i.kind, run(shell("echo hello  world   again  end")));
    assert_eq!(i.original, "RUN echo hello  world   again  end");
    assert_eq!((i.line, i.end_line), (2, 5));
}

#[test]
fn comments_and_empty_lines_inside_a_continuation_are_dropped() {
    let src = "FROM a\nRUN apt-get update && \\\n# a comment\n    # an indented comment\n\n   \n    apt-get install -y x\nCMD done\n";
    let df = ok(src);
    let i = &df.instructions[1];
    assert_eq!(
        i.kind,
        run(shell("apt-get update &&     apt-get install -y x"))
    );
    assert_eq!(i.original, "RUN apt-get update &&     apt-get install -y x");
    assert_eq!((i.line, i.end_line), (2, 7));
    assert_eq!(df.instructions[2].line, 8);
}

#[test]
fn an_escaped_escape_at_the_end_does_not_continue() {
    let k = kinds("ENV A a\\\\\nENV B b\n");
    assert_eq!(k[0], Kind::Env(pairs(&[("A", "a\\\\")])));
    assert_eq!(k[1], Kind::Env(pairs(&[("B", "b")])));
}

#[test]
fn a_lone_escape_line_continues_and_so_does_the_end_of_file() {
    let k = kinds("ENV E hello\\\n\\\nworld\nRUN something \\");
    assert_eq!(k[0], Kind::Env(pairs(&[("E", "helloworld")])));
    assert_eq!(k[1], run(shell("something")));
}

#[test]
fn a_comment_line_ending_in_the_escape_does_not_continue() {
    let k = kinds("# RUN commands \\\nRUN ls\n   # indented comment\nRUN pwd\n");
    assert_eq!(k, vec![run(shell("ls")), run(shell("pwd"))]);
}

#[test]
fn original_is_trimmed_and_keeps_inner_blanks() {
    let df = ok("   FROM   alpine   \nRUN    sh -c 'echo x'   \n");
    assert_eq!(df.instructions[0].original, "FROM   alpine");
    assert_eq!(df.instructions[1].original, "RUN    sh -c 'echo x'");
    assert_eq!(df.instructions[1].kind, run(shell("sh -c 'echo x'")));
}

#[test]
fn crlf_line_endings_and_a_byte_order_mark() {
    let df = ok("\u{feff}# escape=`\r\nFROM a\r\nRUN echo `\r\n  hi\r\n");
    assert_eq!(df.escape, '`');
    assert_eq!(df.instructions[1].kind, run(shell("echo   hi")));
    assert_eq!(df.instructions[1].line, 3);
}

// ---- directives ----

#[test]
fn escape_directive_backtick_for_windows_paths() {
    let df = ok(
        "# escape=`\n\nFROM mcr.microsoft.com/windows/servercore\nCOPY testfile.txt c:\\\nRUN dir c:\\ `\n    && echo done\nWORKDIR c:\\Users\\app\n",
    );
    assert_eq!(df.escape, '`');
    let k: Vec<Kind> = df.instructions.iter().map(|i| i.kind.clone()).collect();
    assert_eq!(
        k[1],
        Kind::Copy(CopyArgs {
            sources: strs(&["testfile.txt"]),
            dest: "c:\\".into(),
            ..CopyArgs::default()
        })
    );
    assert_eq!(k[2], run(shell("dir c:\\     && echo done")));
    assert_eq!(k[3], Kind::Workdir("c:\\Users\\app".into()));
}

#[test]
fn directives_are_case_insensitive_and_allow_blanks() {
    let df = ok(
        "#  SYNTAX = docker/dockerfile:1.7  \n  # Escape = `\n# check=skip=all\nFROM a\nRUN a `\n b\n",
    );
    assert_eq!(df.syntax.as_deref(), Some("docker/dockerfile:1.7"));
    assert_eq!(df.escape, '`');
    assert_eq!(df.instructions[1].kind, run(shell("a  b")));
}

#[test]
fn a_directive_after_a_comment_or_blank_line_is_a_comment() {
    let df = ok("# hello\n# escape=`\nFROM a\nRUN a \\\n b\n");
    assert_eq!(df.escape, '\\');
    assert_eq!(df.instructions[1].kind, run(shell("a  b")));
    let df = ok("\n# syntax=x\nFROM a\n");
    assert_eq!(df.syntax, None);
    // After an instruction too.
    let df = ok("FROM a\n# escape=`\nRUN a \\\n b\n");
    assert_eq!(df.escape, '\\');
    assert_eq!(df.instructions[1].kind, run(shell("a  b")));
    // An unknown directive ends them.
    let df = ok("# foo=bar\n# escape=`\nFROM a\n");
    assert_eq!(df.escape, '\\');
}

#[test]
fn directive_errors() {
    assert_eq!(
        err("# escape=`\n# escape=\\\nFROM a\n"),
        (2, "only one escape parser directive can be used".into())
    );
    assert_eq!(
        err("# escape=x\nFROM a\n"),
        (1, "invalid escape token 'x' does not match ` or \\".into())
    );
}

// ---- JSON and shell forms ----

#[test]
fn exec_form_for_run_cmd_entrypoint() {
    let k = kinds(
        "RUN [\"echo\", \"'1234'\"]\nCMD [ \"\\/usr\\\\bin/znc\", \"-f\" ]\nENTRYPOINT [\"a b\"]\nCMD []\n",
    );
    assert_eq!(k[0], run(exec(&["echo", "'1234'"])));
    assert_eq!(k[1], Kind::Cmd(exec(&["/usr\\bin/znc", "-f"])));
    assert_eq!(k[2], Kind::Entrypoint(exec(&["a b"])));
    assert_eq!(k[3], Kind::Cmd(exec(&[])));
}

#[test]
fn invalid_json_falls_back_to_shell_form() {
    let k = kinds(
        "CMD ['echo','single quotes']\nCMD [\"echo\", \"unterminated\"\nRUN [\"a\"] trailing\nCMD \"[\\\"echo\\\"]\"\n",
    );
    assert_eq!(k[0], Kind::Cmd(shell("['echo','single quotes']")));
    assert_eq!(k[1], Kind::Cmd(shell("[\"echo\", \"unterminated\"")));
    assert_eq!(k[2], run(shell("[\"a\"] trailing")));
    assert_eq!(k[3], Kind::Cmd(shell("\"[\\\"echo\\\"]\"")));
}

#[test]
fn json_arrays_of_non_strings_are_errors() {
    let msg = "when using JSON array syntax, arrays must be comprised of strings only";
    assert_eq!(err_msg("CMD [ \"echo\", [ \"nested\" ] ]"), msg);
    assert_eq!(err_msg("RUN [1, 2]"), msg);
    assert_eq!(err_msg("COPY [\"a\", null]"), msg);
}

#[test]
fn empty_commands_are_kept_as_buildkit_keeps_them() {
    // buildkit's parser accepts a bare RUN, CMD and ENTRYPOINT.
    assert_eq!(
        kinds("CMD\nENTRYPOINT\n"),
        vec![Kind::Cmd(shell("")), Kind::Entrypoint(shell(""))]
    );
}

#[test]
fn shell_requires_json() {
    assert_eq!(
        one("SHELL [\"pwsh\", \"-c\"]"),
        Kind::Shell(strs(&["pwsh", "-c"]))
    );
    assert_eq!(
        err_msg("SHELL /bin/sh -c"),
        "SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(err_msg("SHELL []"), "SHELL requires at least one argument");
    assert_eq!(err_msg("SHELL"), "SHELL requires at least one argument");
    assert_eq!(
        err_msg("SHELL ['sh']"),
        "SHELL requires the arguments to be in JSON form"
    );
}

// ---- heredocs ----

#[test]
fn run_heredoc() {
    let b = body("RUN <<EOF\napt-get update\n# not a comment here\nEOF\nCMD x\n");
    assert_eq!(
        b[0].kind,
        Kind::Run {
            flags: RunFlags::default(),
            command: shell("<<EOF"),
            heredocs: vec![doc(
                "EOF",
                "apt-get update\n# not a comment here\n",
                true,
                false
            )],
        }
    );
    assert_eq!(b[0].original, "RUN <<EOF");
    assert_eq!((b[0].line, b[0].end_line), (2, 5));
    assert_eq!((b[1].line, b[1].kind.clone()), (6, Kind::Cmd(shell("x"))));
}

#[test]
fn heredoc_with_program_flags_and_strip_tabs() {
    let k = one(
        "RUN --mount=type=cache,target=/root/.cache python3 <<-PY\n\timport sys\n\t\tprint(sys.argv)\n\tPY\n",
    );
    assert_eq!(
        k,
        Kind::Run {
            flags: RunFlags {
                mounts: strs(&["type=cache,target=/root/.cache"]),
                ..RunFlags::default()
            },
            command: shell("python3 <<-PY"),
            heredocs: vec![doc("PY", "import sys\nprint(sys.argv)\n", true, true)],
        }
    );
}

#[test]
fn quoted_heredoc_names_turn_expansion_off() {
    let k = kinds(
        "RUN <<'EOF'\necho $HOME\nEOF\nRUN <<\"EOF\"\nx\nEOF\nRUN <<eo'f'\ny\neof\nRUN <<eo\\'f\nz\neo'f\nRUN <<  SPACED\nw\nSPACED\nRUN 3<<FD\nv\nFD\n",
    );
    let docs: Vec<Heredoc> = k
        .iter()
        .map(|k| match k {
            Kind::Run { heredocs, .. } => heredocs[0].clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(docs[0], doc("EOF", "echo $HOME\n", false, false));
    assert_eq!(docs[1], doc("EOF", "x\n", false, false));
    assert_eq!(docs[2], doc("eof", "y\n", false, false));
    assert_eq!(docs[3], doc("eo'f", "z\n", true, false));
    assert_eq!(docs[4], doc("SPACED", "w\n", true, false));
    assert_eq!(docs[5], doc("FD", "v\n", true, false));
}

#[test]
fn several_heredocs_on_one_line() {
    let b = body(
        "COPY <<FILE1 <<FILE2 /dest/\ncontent 1\nFILE1\ncontent 2\nFILE2\nCOPY <<X <<Y /d\nY\nX\nX\nY\n",
    );
    assert_eq!(
        b[0].kind,
        Kind::Copy(CopyArgs {
            sources: strs(&["<<FILE1", "<<FILE2"]),
            dest: "/dest/".into(),
            heredocs: vec![
                doc("FILE1", "content 1\n", true, false),
                doc("FILE2", "content 2\n", true, false)
            ],
            ..CopyArgs::default()
        })
    );
    assert_eq!((b[0].line, b[0].end_line), (2, 6));
    let Kind::Copy(c) = &b[1].kind else { panic!() };
    assert_eq!(
        c.heredocs,
        vec![doc("X", "Y\n", true, false), doc("Y", "X\n", true, false)]
    );
    assert_eq!((b[1].line, b[1].end_line), (7, 11));
}

#[test]
fn heredocs_in_add_and_empty_bodies() {
    let k = one("ADD --chmod=755 <<EOF /run.sh\nEOF\n");
    assert_eq!(
        k,
        Kind::Add(CopyArgs {
            sources: strs(&["<<EOF"]),
            dest: "/run.sh".into(),
            chmod: Some("755".into()),
            heredocs: vec![doc("EOF", "", true, false)],
            ..CopyArgs::default()
        })
    );
}

#[test]
fn no_heredoc_in_exec_form_quotes_or_other_instructions() {
    let k = kinds("RUN [\"<<EOF\"]\nRUN echo \"<<NOHEREDOC\"\nRUN echo a<b\n");
    assert_eq!(k[0], run(exec(&["<<EOF"])));
    assert_eq!(k[1], run(shell("echo \"<<NOHEREDOC\"")));
    assert_eq!(k[2], run(shell("echo a<b")));
    // USER takes no heredoc: the next line is an instruction of its own.
    assert_eq!(
        err("FROM a\nUSER <<INVALID\nINVALID\n"),
        (3, "unknown instruction: INVALID".into())
    );
}

#[test]
fn unterminated_heredoc_is_an_error_at_its_instruction() {
    assert_eq!(
        err("FROM a\nRUN true\nRUN <<EOF\necho hi\nEO\n"),
        (3, "unterminated heredoc".into())
    );
    // The second of two heredocs missing.
    assert_eq!(
        err("FROM a\nCOPY <<A <<B /d\na\nA\nb\n"),
        (2, "unterminated heredoc".into())
    );
}

#[test]
fn heredoc_as_destination_is_an_error() {
    assert_eq!(
        err_msg("COPY <<A <<B\nA\nB\n"),
        "COPY cannot accept a heredoc as a destination"
    );
}

#[test]
fn onbuild_with_a_heredoc_keeps_the_body_in_its_trigger_text() {
    let b = body("ONBUILD RUN <<-EOF\n\techo $X\n\tEOF\n");
    let Kind::Onbuild(t) = &b[0].kind else {
        panic!("{:?}", b[0].kind)
    };
    assert_eq!(b[0].original, "ONBUILD RUN <<-EOF");
    assert_eq!(t.original, "RUN <<-EOF\n\techo $X\nEOF");
    assert_eq!(
        t.kind,
        Kind::Run {
            flags: RunFlags::default(),
            command: shell("<<-EOF"),
            heredocs: vec![doc("EOF", "echo $X\n", true, true)],
        }
    );
    assert_eq!((t.line, t.end_line), (2, 4));
}

// ---- ENV, LABEL, ARG ----

#[test]
fn env_forms() {
    let k = kinds(
        r#"ENV name value with  spaces
ENV name=value
ENV a=1 b=2
ENV name="value value1"
ENV name=value\ value2
ENV name="value'quote space'value2"
ENV name='a\'b'
ENV name="a\"b" other=''
ENV x=${Y:-z} PATH=/opt/bin:$PATH
ENV a=1 \
    b="2a \
       2b" \
    c=3
"#,
    );
    assert_eq!(k[0], Kind::Env(pairs(&[("name", "value with  spaces")])));
    assert_eq!(k[1], Kind::Env(pairs(&[("name", "value")])));
    assert_eq!(k[2], Kind::Env(pairs(&[("a", "1"), ("b", "2")])));
    assert_eq!(k[3], Kind::Env(pairs(&[("name", "\"value value1\"")])));
    assert_eq!(k[4], Kind::Env(pairs(&[("name", "value\\ value2")])));
    assert_eq!(
        k[5],
        Kind::Env(pairs(&[("name", "\"value'quote space'value2\"")]))
    );
    assert_eq!(k[6], Kind::Env(pairs(&[("name", "'a\\'b'")])));
    assert_eq!(
        k[7],
        Kind::Env(pairs(&[("name", "\"a\\\"b\""), ("other", "''")]))
    );
    assert_eq!(
        k[8],
        Kind::Env(pairs(&[("x", "${Y:-z}"), ("PATH", "/opt/bin:$PATH")]))
    );
    assert_eq!(
        k[9],
        Kind::Env(pairs(&[("a", "1"), ("b", "\"2a        2b\""), ("c", "3")]))
    );
}

#[test]
fn env_and_label_errors() {
    assert_eq!(err_msg("ENV PATH"), "ENV must have two arguments");
    assert_eq!(err_msg("LABEL foo"), "LABEL must have two arguments");
    assert_eq!(err_msg("ENV"), "ENV requires at least one argument");
    assert_eq!(err_msg("LABEL"), "LABEL requires at least one argument");
    assert_eq!(
        err_msg("ENV a=1 b"),
        "Syntax error - can't find = in \"b\". Must be of the form: name=value"
    );
    assert_eq!(err_msg("ENV =x"), "ENV names can not be blank");
    assert_eq!(err_msg("LABEL a=b =c"), "LABEL names can not be blank");
    assert_eq!(err_msg("ENV --x=1 a=b"), "unknown flag: --x");
}

#[test]
fn label_forms() {
    let k = kinds(
        "LABEL maintainer Erik <e@x.org>\nLABEL \"com.example.vendor\"=\"ACME\" version=1.0 description=\"multi \\\nline\"\n",
    );
    assert_eq!(
        k[0],
        Kind::Label(pairs(&[("maintainer", "Erik <e@x.org>")]))
    );
    assert_eq!(
        k[1],
        Kind::Label(pairs(&[
            ("\"com.example.vendor\"", "\"ACME\""),
            ("version", "1.0"),
            ("description", "\"multi line\"")
        ]))
    );
}

#[test]
fn arg_forms() {
    let df = ok("ARG A\nARG B=1 C D=\"x y\" E=\nFROM a\nARG F=${A:-f}\n");
    let k: Vec<Kind> = df.instructions.iter().map(|i| i.kind.clone()).collect();
    assert_eq!(k[0], Kind::Arg(vec![("A".into(), None)]));
    assert_eq!(
        k[1],
        Kind::Arg(vec![
            ("B".into(), Some("1".into())),
            ("C".into(), None),
            ("D".into(), Some("\"x y\"".into())),
            ("E".into(), Some(String::new())),
        ])
    );
    assert_eq!(k[3], Kind::Arg(vec![("F".into(), Some("${A:-f}".into()))]));
    assert_eq!(err_msg("ARG"), "ARG requires at least one argument");
    assert_eq!(err_msg("ARG =1"), "ARG names can not be blank");
}

// ---- FROM ----

#[test]
fn from_forms() {
    let df = ok(
        "FROM --platform=linux/arm64 golang:1.22 aS Builder_1.x-y\nFROM scratch\nFROM builder_1.x-y AS final\n",
    );
    let k: Vec<Kind> = df.instructions.iter().map(|i| i.kind.clone()).collect();
    assert_eq!(
        k[0],
        Kind::From {
            image: "golang:1.22".into(),
            alias: Some("builder_1.x-y".into()),
            platform: Some("linux/arm64".into())
        }
    );
    assert_eq!(
        k[1],
        Kind::From {
            image: "scratch".into(),
            alias: None,
            platform: None
        }
    );
    assert_eq!(
        df.instructions[0].original,
        "FROM --platform=linux/arm64 golang:1.22 aS Builder_1.x-y"
    );
}

#[test]
fn from_errors() {
    let three = "FROM requires either one or three arguments";
    assert_eq!(err("FROM\n"), (1, three.into()));
    assert_eq!(err("FROM a b\n"), (1, three.into()));
    assert_eq!(err("FROM a TO b\n"), (1, three.into()));
    assert_eq!(err("FROM a AS b c\n"), (1, three.into()));
    assert_eq!(err("FROM --platform=x\n"), (1, three.into()));
    assert_eq!(
        err("FROM a AS 1st\n"),
        (1, "invalid name for build stage: \"1st\", name can't start with a number or contain symbols".into())
    );
    assert_eq!(
        err("FROM a AS my$stage\n"),
        (1, "invalid name for build stage: \"my$stage\", name can't start with a number or contain symbols".into())
    );
    assert_eq!(
        err("FROM --plattform=x a\n"),
        (
            1,
            "unknown flag: --plattform (did you mean platform?)".into()
        )
    );
}

// ---- flags ----

#[test]
fn copy_flags() {
    let k = one(
        "COPY --from=build --chown=app:app --chmod=0644 --link --parents --exclude=*.md --exclude='**/tmp' ./a ./b /dst/",
    );
    assert_eq!(
        k,
        Kind::Copy(CopyArgs {
            sources: strs(&["./a", "./b"]),
            dest: "/dst/".into(),
            from: Some("build".into()),
            chown: Some("app:app".into()),
            chmod: Some("0644".into()),
            link: true,
            parents: true,
            excludes: strs(&["*.md", "**/tmp"]),
            ..CopyArgs::default()
        })
    );
}

#[test]
fn add_flags() {
    let k = one(
        "ADD --keep-git-dir=true --link=false --unpack=false --checksum=sha256:00 --exclude=x git@github.com:a/b.git /src",
    );
    assert_eq!(
        k,
        Kind::Add(CopyArgs {
            sources: strs(&["git@github.com:a/b.git"]),
            dest: "/src".into(),
            keep_git_dir: true,
            link: false,
            unpack: Some(false),
            checksum: Some("sha256:00".into()),
            excludes: strs(&["x"]),
            ..CopyArgs::default()
        })
    );
}

#[test]
fn copy_json_form_and_double_dash() {
    let k =
        kinds("COPY [\"test file\", \"/tmp/a b\"]\nCOPY --link -- --weird /d\nCOPY -- foo /tmp/\n");
    assert_eq!(
        k[0],
        Kind::Copy(CopyArgs {
            sources: strs(&["test file"]),
            dest: "/tmp/a b".into(),
            ..CopyArgs::default()
        })
    );
    assert_eq!(
        k[1],
        Kind::Copy(CopyArgs {
            sources: strs(&["--weird"]),
            dest: "/d".into(),
            link: true,
            ..CopyArgs::default()
        })
    );
    assert_eq!(
        k[2],
        Kind::Copy(CopyArgs {
            sources: strs(&["foo"]),
            dest: "/tmp/".into(),
            ..CopyArgs::default()
        })
    );
}

#[test]
fn flag_values_lose_their_quotes() {
    let k = one("RUN --mount=\"type=secret,id=a b\" --network='none' cat /run/secrets/a");
    assert_eq!(
        k,
        Kind::Run {
            flags: RunFlags {
                mounts: strs(&["type=secret,id=a b"]),
                network: Some("none".into()),
                security: None
            },
            command: shell("cat /run/secrets/a"),
            heredocs: vec![]
        }
    );
}

#[test]
fn run_flags() {
    let k = one(
        "RUN --mount=type=cache,target=/a --mount=type=tmpfs,target=/t --network=host --security=insecure make",
    );
    assert_eq!(
        k,
        Kind::Run {
            flags: RunFlags {
                mounts: strs(&["type=cache,target=/a", "type=tmpfs,target=/t"]),
                network: Some("host".into()),
                security: Some("insecure".into())
            },
            command: shell("make"),
            heredocs: vec![]
        }
    );
    assert_eq!(
        err_msg("RUN --network=bridge x"),
        "invalid network mode \"bridge\""
    );
    assert_eq!(
        err_msg("RUN --security=privileged x"),
        "security \"privileged\" is not valid"
    );
    // --device is only in the labs syntax.
    assert_eq!(
        err_msg("RUN --device=nvidia.com/gpu=all x"),
        "unknown flag: --device"
    );
}

#[test]
fn flag_errors() {
    assert_eq!(
        err_msg("COPY --form=a b c"),
        "unknown flag: --form (did you mean from?)"
    );
    assert_eq!(
        err_msg("COPY --chown=a --chown=b x y"),
        "duplicate flag specified: --chown"
    );
    assert_eq!(
        err_msg("COPY --from a b"),
        "missing a value on flag: --from"
    );
    assert_eq!(
        err_msg("COPY --exclude a b"),
        "missing a value on flag: --exclude"
    );
    assert_eq!(
        err_msg("COPY --link= a b"),
        "missing a value on flag: --link"
    );
    assert_eq!(
        err_msg("COPY --link=yes a b"),
        "expecting boolean value for flag --link, not: yes"
    );
    assert_eq!(err_msg("ADD --from=x a b"), "unknown flag: --from");
    assert_eq!(err_msg("ADD --parents a b"), "unknown flag: --parents");
    assert_eq!(
        err_msg("COPY --checksum=sha256:0 a b"),
        "unknown flag: --checksum"
    );
    assert_eq!(
        err_msg("COPY --keep-git-dir a b"),
        "unknown flag: --keep-git-dir"
    );
    assert_eq!(
        err_msg("MAINTAINER --boo joe@example.com"),
        "unknown flag: --boo"
    );
    assert_eq!(err_msg("CMD --doit [\"a\"]"), "unknown flag: --doit");
    assert_eq!(err_msg("WORKDIR --x=1 /a"), "unknown flag: --x");
    assert_eq!(err_msg("STOPSIGNAL --x SIGKILL"), "unknown flag: --x");
    assert_eq!(err_msg("ARG --x A"), "unknown flag: --x");
}

// ---- the other instructions ----

#[test]
fn expose_volume_workdir_user_stopsignal_maintainer() {
    let k = kinds(
        "EXPOSE 3000\nEXPOSE 9000 5000/udp\t${PORT}\nVOLUME [\"/test\", \"/test 2\"]\nVOLUME /a /b\nWORKDIR /path with spaces\nUSER docker:root\nSTOPSIGNAL 9\nMAINTAINER a b <c@d>\n",
    );
    assert_eq!(k[0], Kind::Expose(strs(&["3000"])));
    assert_eq!(k[1], Kind::Expose(strs(&["9000", "5000/udp", "${PORT}"])));
    assert_eq!(k[2], Kind::Volume(strs(&["/test", "/test 2"])));
    assert_eq!(k[3], Kind::Volume(strs(&["/a", "/b"])));
    assert_eq!(k[4], Kind::Workdir("/path with spaces".into()));
    assert_eq!(k[5], Kind::User("docker:root".into()));
    assert_eq!(k[6], Kind::StopSignal("9".into()));
    assert_eq!(k[7], Kind::Maintainer("a b <c@d>".into()));
}

#[test]
fn missing_arguments() {
    for (src, msg) in [
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("user", "USER requires exactly one argument"),
        ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
        ("MAINTAINER", "MAINTAINER requires exactly one argument"),
        ("EXPOSE", "EXPOSE requires at least one argument"),
        ("VOLUME", "VOLUME requires at least one argument"),
        ("VOLUME []", "VOLUME requires at least one argument"),
        (
            "VOLUME [\" \"]",
            "VOLUME specified can not be an empty string",
        ),
        (
            "COPY",
            "COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "ADD a",
            "ADD requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "COPY [\"a\"]",
            "COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
        ("ONBUILD", "ONBUILD requires at least one argument"),
    ] {
        assert_eq!(err_msg(src), msg, "{src}");
    }
}

#[test]
fn healthcheck_forms() {
    let k = kinds(
        "HEALTHCHECK NONE\nHEALTHCHECK --interval=5s --timeout=3s --retries=3 \\\n  CMD /app/check.sh --quiet\nhealthcheck --start-period=1m30s --start-interval=0s cmd [\"foo\", \"bar\"]\nHEALTHCHECK   CMD   a b\n",
    );
    assert_eq!(k[0], Kind::Healthcheck(None));
    assert_eq!(
        k[1],
        Kind::Healthcheck(Some((
            HealthFlags {
                interval: Some("5s".into()),
                timeout: Some("3s".into()),
                retries: Some("3".into()),
                ..HealthFlags::default()
            },
            shell("/app/check.sh --quiet")
        )))
    );
    assert_eq!(
        k[2],
        Kind::Healthcheck(Some((
            HealthFlags {
                start_period: Some("1m30s".into()),
                start_interval: Some("0s".into()),
                ..HealthFlags::default()
            },
            exec(&["foo", "bar"])
        )))
    );
    assert_eq!(
        k[3],
        Kind::Healthcheck(Some((HealthFlags::default(), shell("a b"))))
    );
}

#[test]
fn healthcheck_errors() {
    for (src, msg) in [
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        (
            "HEALTHCHECK CONNECT TCP 7000",
            "Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)",
        ),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        (
            "HEALTHCHECK CMD []",
            "Missing command after HEALTHCHECK CMD",
        ),
        (
            "HEALTHCHECK --interval=5 CMD x",
            "time: missing unit in duration \"5\"",
        ),
        (
            "HEALTHCHECK --timeout=abc CMD x",
            "time: invalid duration \"abc\"",
        ),
        (
            "HEALTHCHECK --timeout=3y CMD x",
            "time: unknown unit \"y\" in duration \"3y\"",
        ),
        (
            "HEALTHCHECK --interval=10us CMD x",
            "Interval \"interval\" cannot be less than 1ms",
        ),
        (
            "HEALTHCHECK --start-period=-1s CMD x",
            "Interval \"start-period\" cannot be less than 1ms",
        ),
        (
            "HEALTHCHECK --retries=-1 CMD x",
            "--retries cannot be negative (-1)",
        ),
        (
            "HEALTHCHECK --retries=x CMD x",
            "strconv.ParseInt: parsing \"x\": invalid syntax",
        ),
        (
            "HEALTHCHECK --retries=99999999999 CMD x",
            "strconv.ParseInt: parsing \"99999999999\": value out of range",
        ),
        (
            "HEALTHCHECK --intervall=5s CMD x",
            "unknown flag: --intervall (did you mean interval?)",
        ),
    ] {
        assert_eq!(err_msg(src), msg, "{src}");
    }
}

#[test]
fn onbuild_triggers() {
    let b =
        body("ONBUILD RUN [\"echo\", \"test\"]\nonbuild   copy --chown=1 . /\nONBUILD ADD x /y\n");
    let triggers: Vec<(String, Kind)> = b
        .iter()
        .map(|i| match &i.kind {
            Kind::Onbuild(t) => (t.original.clone(), t.kind.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        triggers[0],
        (
            "RUN [\"echo\", \"test\"]".into(),
            run(exec(&["echo", "test"]))
        )
    );
    assert_eq!(
        triggers[1],
        (
            "copy --chown=1 . /".into(),
            Kind::Copy(CopyArgs {
                sources: strs(&["."]),
                dest: "/".into(),
                chown: Some("1".into()),
                ..CopyArgs::default()
            })
        )
    );
    assert_eq!(b[1].original, "onbuild   copy --chown=1 . /");
    assert_eq!(
        triggers[2].1,
        Kind::Add(CopyArgs {
            sources: strs(&["x"]),
            dest: "/y".into(),
            ..CopyArgs::default()
        })
    );
}

#[test]
fn onbuild_errors() {
    assert_eq!(
        err_msg("ONBUILD ONBUILD RUN touch foobar"),
        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
    assert_eq!(
        err_msg("ONBUILD FROM scratch"),
        "FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        err_msg("onbuild maintainer me"),
        "MAINTAINER isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(err_msg("ONBUILD --x RUN a"), "unknown flag: --x");
    // The trigger is checked now (buildkit checks it when it fires).
    assert_eq!(err_msg("ONBUILD COPY --bogus a b"), "unknown flag: --bogus");
    assert_eq!(err_msg("ONBUILD XYZZY bar"), "unknown instruction: XYZZY");
}

// ---- unknown instructions, stages, the error's form ----

#[test]
fn unknown_instructions() {
    assert_eq!(
        err("FROM a\nXYZZY bar\n"),
        (2, "unknown instruction: XYZZY".into())
    );
    // A near miss gets buildkit's hint, in the case it was written in.
    assert_eq!(
        err("FROM a\nFOO bar\n"),
        (2, "unknown instruction: FOO (did you mean FROM?)".into())
    );
    assert_eq!(
        err("FROM a\nfoo bar\n"),
        (2, "unknown instruction: foo (did you mean from?)".into())
    );
    assert_eq!(
        err("FROM a\nRUNN x\n"),
        (2, "unknown instruction: RUNN (did you mean RUN?)".into())
    );
    assert_eq!(
        err("FROM a\ncopyy x y\n"),
        (2, "unknown instruction: copyy (did you mean copy?)".into())
    );
    // A continued line errs at its first line.
    assert_eq!(
        err("FROM a\nRUN a \\\n b\nXYZZY \\\n x\n"),
        (4, "unknown instruction: XYZZY".into())
    );
}

#[test]
fn stage_checks() {
    assert_eq!(err(""), (1, "file with no instructions".into()));
    assert_eq!(
        err("# Hello\n# only comments\n\n"),
        (3, "file with no instructions".into())
    );
    assert_eq!(
        err("ARG A\nRUN x\nFROM a\n"),
        (2, "no build stage in current context".into())
    );
    assert_eq!(
        err("ARG A\nARG B=1\n"),
        (2, "dockerfile contains no stages to build".into())
    );
    let df = ok("ARG A\nARG B\nFROM a\nRUN x\n");
    assert_eq!(df.instructions.len(), 4);
}

#[test]
fn the_error_displays_like_buildkit() {
    let e = parse("FROM a\n\nXYZZY x\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "dockerfile parse error on line 3: unknown instruction: XYZZY"
    );
}
