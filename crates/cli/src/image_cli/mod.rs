//! The image verbs: images, load, save, import, tag, rmi, history, image
//! inspect, image prune, pull, push, login, logout. Every one is an Engine
//! API call (logout excepted: credentials are the client's), so they drive
//! berth's daemon and dockerd alike.

pub(crate) mod progress;
mod verbs;

use std::path::PathBuf;

use clap::{Args, Subcommand};

pub use verbs::{dispatch, logout};

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Build an image from a Dockerfile.
    Build(Box<crate::build_cli::BuildArgs>),
    /// List images.
    #[command(alias = "list")]
    Ls(Images),
    /// Load images from a Docker or OCI archive (a file, or stdin).
    Load(Load),
    /// Save images to an archive (a file, or stdout).
    Save(Save),
    /// Make an image from a root filesystem tarball.
    Import(Import),
    /// Give an image another name.
    Tag(Tag),
    /// Remove images.
    Rm(Rmi),
    /// Show the history of an image.
    History(History),
    /// Show images as JSON.
    Inspect(Inspect),
    /// Remove unused images.
    Prune(Prune),
    /// Download an image from a registry.
    Pull(Pull),
    /// Upload an image to a registry.
    Push(Push),
    /// Log in to a registry.
    #[command(hide = true)]
    Login(Login),
}

#[derive(Args, Debug)]
pub struct Pull {
    /// os/arch[/variant] to pull (default: the host's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the image's name.
    #[arg(short, long)]
    pub quiet: bool,
    pub reference: String,
}

#[derive(Args, Debug)]
pub struct Push {
    /// Print only the digest.
    #[arg(short, long)]
    pub quiet: bool,
    pub reference: String,
}

#[derive(Args, Debug)]
pub struct Login {
    #[arg(short, long)]
    pub username: Option<String>,
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// The registry (default: Docker Hub).
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct Logout {
    /// The registry (default: Docker Hub).
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct Images {
    /// Show only image ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show all images (the default hides the intermediate images of builds).
    #[arg(short, long)]
    pub all: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Do not truncate ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// Go template: {{.Repository}} {{.Tag}} {{.ID}} {{.Digest}} {{.CreatedSince}} {{.CreatedAt}} {{.Size}}; "table ..." for a header.
    #[arg(long)]
    pub format: Option<String>,
    /// Filter: dangling=true|false, reference=PATTERN (with *), label=KEY[=VALUE].
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Only images whose repository matches (as `docker images busybox`).
    pub repository: Option<String>,
}

#[derive(Args, Debug)]
pub struct Load {
    /// Read from this file instead of stdin.
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct Save {
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// docker-archive (as `docker save`) or oci-archive (an OCI image layout).
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct Import {
    /// Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL).
    #[arg(short, long)]
    pub change: Vec<String>,
    /// A commit message for the image's history.
    #[arg(short, long)]
    pub message: Option<String>,
    /// os/arch of the image (default: the host's).
    #[arg(long)]
    pub platform: Option<String>,
    /// The tarball, or - for stdin.
    pub file: String,
    /// REPOSITORY[:TAG] to name the image.
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct Tag {
    pub source: String,
    pub target: String,
}

#[derive(Args, Debug)]
pub struct Rmi {
    /// Remove even when other names or containers use it.
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct History {
    /// Show only image ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    pub image: String,
}

#[derive(Args, Debug)]
pub struct Inspect {
    /// Go template over each image, e.g. {{.Id}}.
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct Prune {
    /// Remove all images no container uses, not only untagged ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask.
    #[arg(short, long)]
    pub force: bool,
    /// Only images matching: label=KEY[=VALUE], label!=KEY[=VALUE].
    #[arg(long)]
    pub filter: Vec<String>,
}
