//! What a parsed Dockerfile is. Words are kept as written (quotes and `$`
//! references included) wherever Docker expands them at build time; the
//! builder expands them with the ARG and ENV in scope.

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The `# escape=` directive (default `\`).
    pub escape: char,
    /// The `# syntax=` directive, if any (recorded, not acted on).
    pub syntax: Option<String>,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line where the instruction starts.
    pub line: usize,
    /// 1-based line where it ends (continuations and heredocs included).
    pub end_line: usize,
    /// The instruction as docker's classic builder prints it in `Step N/M :
    /// ...`: its lines joined with continuations removed, keyword as
    /// written, comments inside continuations dropped.
    pub original: String,
    pub kind: Kind,
}

/// A command in shell form (run by the SHELL) or exec form (a JSON array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Shell(String),
    Exec(Vec<String>),
}

/// A heredoc body (`<<EOF`, `<<-EOF`, `<<"EOF"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, without quotes or `-`.
    pub name: String,
    /// The body, every line ending in `\n`; with `<<-`, leading tabs removed.
    pub content: String,
    /// False when the delimiter was quoted: no expansion of the body.
    pub expand: bool,
    /// `<<-`: leading tabs were stripped.
    pub strip_tabs: bool,
}

/// `--flag=value` options of RUN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFlags {
    /// Each `--mount=...` value as written (e.g. `type=cache,target=/x`).
    pub mounts: Vec<String>,
    /// `--network=none|host|default`.
    pub network: Option<String>,
    /// `--security=insecure|sandbox`.
    pub security: Option<String>,
}

/// The sources, destination and flags of COPY and ADD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyArgs {
    /// Sources as written (unexpanded); heredoc sources appear as their
    /// `<<NAME` word and in `heredocs`.
    pub sources: Vec<String>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub excludes: Vec<String>,
    /// ADD only.
    pub checksum: Option<String>,
    /// ADD only.
    pub keep_git_dir: bool,
    /// ADD only: `--unpack[=bool]` (Dockerfile 1.17); None when not given,
    /// so the builder keeps ADD's default (unpack local archives only).
    pub unpack: Option<bool>,
    pub heredocs: Vec<Heredoc>,
}

/// HEALTHCHECK's options; durations as written (`30s`, `1m30s`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthFlags {
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub retries: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    From {
        image: String,
        alias: Option<String>,
        platform: Option<String>,
    },
    Run {
        flags: RunFlags,
        command: Command,
        heredocs: Vec<Heredoc>,
    },
    Cmd(Command),
    Entrypoint(Command),
    Copy(CopyArgs),
    Add(CopyArgs),
    /// Pairs as written: the legacy `ENV key value` form gives one pair
    /// whose value is the rest of the line.
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    /// Names with their default value, if any (unexpanded).
    Arg(Vec<(String, Option<String>)>),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    StopSignal(String),
    /// None is `HEALTHCHECK NONE`.
    Healthcheck(Option<(HealthFlags, Command)>),
    Shell(Vec<String>),
    /// The trigger, parsed. Its `original` is the trigger as docker stores it
    /// in the image config's `OnBuild`: the text after `ONBUILD`, with any
    /// heredoc bodies appended (`\n<body><NAME>` each).
    Onbuild(Box<Instruction>),
    Maintainer(String),
}
