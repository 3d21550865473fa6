//! The image verbs of `berth` over a local store (the daemon will serve the
//! same through the Engine API): images, load, save, import, tag, rmi,
//! history, image inspect, image prune.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use berth_image::archive::{self, Format};
use berth_image::images::{ImageStore, Removed};
use berth_image::import::{self, ImportOptions};
use berth_image::{Digest, ImageRef};
use berth_image::{inspect, registry};
use clap::{Args, Subcommand};

use crate::container_cli::format::{self as fmt, Template};

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
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
}

/// How to reach registries; shared by pull, push and login.
#[derive(Args, Debug)]
pub struct RegistryFlags {
    /// Speak plain HTTP to this registry (loopback registries always are).
    #[arg(
        long = "insecure-registry",
        env = "BERTH_INSECURE_REGISTRIES",
        value_delimiter = ','
    )]
    pub insecure: Vec<String>,
}

#[derive(Args, Debug)]
pub struct Pull {
    /// os/arch[/variant] to pull (default: the host's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the image's name.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    pub reference: String,
}

#[derive(Args, Debug)]
pub struct Push {
    /// Print only the digest.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
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
    #[command(flatten)]
    pub registry: RegistryFlags,
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
    /// Show all images (berth keeps no intermediate images: same as without).
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
}

pub fn run(store: &ImageStore, cmd: &ImageCommand) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    // Images containers use are kept by rmi and prune, daemon running or not.
    let used = berth_engine::images_in_use(store.root());
    let in_use = |d: &Digest| used.contains(&d.to_string());
    match cmd {
        ImageCommand::Ls(c) => images(store, c, &mut out)?,
        ImageCommand::Load(c) => {
            let loaded = match &c.input {
                Some(p) => archive::load(
                    store,
                    std::fs::File::open(p)
                        .map_err(|e| anyhow::anyhow!("open {}: {e}", p.display()))?,
                )?,
                None => {
                    if std::io::stdin().is_terminal() {
                        anyhow::bail!("requested load from stdin, but stdin is empty");
                    }
                    archive::load(store, std::io::stdin().lock())?
                }
            };
            if !c.quiet {
                for l in loaded {
                    if l.tags.is_empty() {
                        writeln!(out, "Loaded image ID: {}", l.image.id)?;
                    }
                    for t in l.tags {
                        writeln!(out, "Loaded image: {}", t.familiar())?;
                    }
                }
            }
        }
        ImageCommand::Save(c) => {
            let format = match c.format.as_str() {
                "docker-archive" | "docker" => Format::Docker,
                "oci-archive" | "oci" => Format::Oci,
                other => {
                    anyhow::bail!("unknown --format {other:?}: use docker-archive or oci-archive")
                }
            };
            match &c.output {
                Some(p) => {
                    // Written beside, renamed when whole: no half archive under the name.
                    let tmp = p.with_extension("berth-partial");
                    let f = std::fs::File::create(&tmp)
                        .map_err(|e| anyhow::anyhow!("create {}: {e}", tmp.display()))?;
                    if let Err(e) =
                        archive::save(store, &c.images, format, std::io::BufWriter::new(f))
                    {
                        let _ = std::fs::remove_file(&tmp);
                        return Err(e.into());
                    }
                    std::fs::rename(&tmp, p)?;
                }
                None => {
                    if std::io::stdout().is_terminal() {
                        anyhow::bail!(
                            "cowardly refusing to save to a terminal. Use the -o flag or redirect"
                        );
                    }
                    archive::save(store, &c.images, format, std::io::BufWriter::new(out))?;
                }
            }
        }
        ImageCommand::Import(c) => {
            let opts = ImportOptions {
                changes: c.change.clone(),
                message: c.message.clone(),
                tag: c.reference.as_deref().map(ImageRef::parse).transpose()?,
                platform: c
                    .platform
                    .as_deref()
                    .map(berth_image::manifest::Platform::parse)
                    .transpose()?,
            };
            let rec = if c.file == "-" {
                import::import(store, std::io::stdin().lock(), &opts)?
            } else {
                import::import(
                    store,
                    std::fs::File::open(&c.file)
                        .map_err(|e| anyhow::anyhow!("open {}: {e}", c.file))?,
                    &opts,
                )?
            };
            writeln!(out, "{}", rec.id)?;
        }
        ImageCommand::Tag(c) => store.tag(&c.source, &ImageRef::parse(&c.target)?)?,
        ImageCommand::Rm(c) => {
            let mut failed = false;
            for name in &c.images {
                match store.remove(name, c.force, &in_use) {
                    Ok(removed) => print_removed(&mut out, &removed)?,
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        failed = true;
                    }
                }
            }
            return Ok(if failed { 1 } else { 0 });
        }
        ImageCommand::History(c) => history(store, c, &mut out)?,
        ImageCommand::Pull(c) => {
            let r = ImageRef::parse(&c.reference)?;
            let opts = registry::Options {
                insecure: c.registry.insecure.clone(),
                credentials: None,
                progress: !c.quiet && std::io::stderr().is_terminal(),
            };
            let platform = c
                .platform
                .as_deref()
                .map(berth_image::manifest::Platform::parse)
                .transpose()?;
            if c.quiet {
                registry::pull::pull(store, &r, platform.as_ref(), &opts, &mut std::io::sink())?;
                writeln!(out, "{}", r.familiar())?;
            } else {
                registry::pull::pull(store, &r, platform.as_ref(), &opts, &mut out)?;
                writeln!(out, "{}", r)?;
            }
        }
        ImageCommand::Push(c) => {
            let r = ImageRef::parse(&c.reference)?;
            let opts = registry::Options {
                insecure: c.registry.insecure.clone(),
                credentials: None,
                progress: false,
            };
            if c.quiet {
                let d = registry::push::push(store, &r, &opts, &mut std::io::sink())?;
                writeln!(out, "{d}")?;
            } else {
                registry::push::push(store, &r, &opts, &mut out)?;
            }
        }
        ImageCommand::Inspect(c) => {
            let mut all = Vec::new();
            let mut failed = false;
            for name in &c.images {
                match inspect(store, name) {
                    Ok(v) => all.push(v),
                    Err(e) => {
                        eprintln!("Error: {e}");
                        failed = true;
                    }
                }
            }
            match &c.format {
                Some(f) => {
                    let t = Template::parse(f)?;
                    for v in &all {
                        writeln!(out, "{}", t.render(v)?)?;
                    }
                }
                None => writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?,
            }
            return Ok(if failed { 1 } else { 0 });
        }
        ImageCommand::Prune(c) => {
            if !c.force && std::io::stdin().is_terminal() {
                eprint!(
                    "WARNING! This will remove {} images without at least one container associated to them.\nAre you sure you want to continue? [y/N] ",
                    if c.all { "all" } else { "dangling" }
                );
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if !answer.trim().eq_ignore_ascii_case("y") {
                    return Ok(0);
                }
            }
            let before = store_size(store);
            let removed = store.prune(c.all, &in_use)?;
            if !removed.is_empty() {
                writeln!(out, "Deleted Images:")?;
                print_removed(&mut out, &removed)?;
                writeln!(out)?;
            }
            writeln!(
                out,
                "Total reclaimed space: {}",
                fmt::human_size(before.saturating_sub(store_size(store)) as f64)
            )?;
        }
    }
    Ok(0)
}

fn print_removed(out: &mut impl Write, removed: &[Removed]) -> std::io::Result<()> {
    for r in removed {
        match r {
            Removed::Untagged(t) => writeln!(out, "Untagged: {t}")?,
            Removed::Deleted(d) => writeln!(out, "Deleted: {d}")?,
        }
    }
    Ok(())
}

fn store_size(store: &ImageStore) -> u64 {
    store
        .list()
        .map(|l| l.iter().map(|(r, _)| r.size).sum())
        .unwrap_or(0)
}

fn images(store: &ImageStore, c: &Images, out: &mut impl Write) -> anyhow::Result<()> {
    let filters = inspect::Filters::parse(&c.filter)?;
    let mut rows = Vec::new();
    for (rec, tags) in store.list()? {
        let config = store.config(&rec).unwrap_or_default();
        if !filters.keep(&tags, &config) {
            continue;
        }
        let created = config["created"].as_str().unwrap_or("").to_string();
        let id = if c.no_trunc {
            rec.id.to_string()
        } else {
            rec.id.short().to_string()
        };
        let digest = rec
            .repo_digests
            .iter()
            .next()
            .and_then(|d| d.split_once('@'))
            .map(|(_, d)| d.to_string())
            .unwrap_or_else(|| "<none>".into());
        let names: Vec<(String, String)> = if tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            tags.iter()
                .map(|t| (t.familiar_name(), t.tag().unwrap_or("<none>").to_string()))
                .collect()
        };
        for (repo, tag) in names {
            if !filters.reference_matches(&repo, &tag) {
                continue;
            }
            if let Some(want) = &c.repository {
                let want = ImageRef::parse(want)
                    .map(|r| r.familiar_name())
                    .unwrap_or_else(|_| want.clone());
                if repo != want {
                    continue;
                }
            }
            rows.push(serde_json::json!({
                "Repository": repo, "Tag": tag, "ID": id, "Digest": digest,
                "CreatedSince": since(&created), "CreatedAt": created, "Size": image_size(rec.size),
            }));
        }
    }
    if c.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for r in &rows {
            let id = r["ID"].as_str().unwrap_or_default().to_string();
            if seen.insert(id.clone()) {
                writeln!(out, "{id}")?;
            }
        }
        return Ok(());
    }
    let default = if c.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let t = Template::parse(c.format.as_deref().unwrap_or(default))?;
    let mut lines = Vec::new();
    if t.table {
        lines.push(t.header(&|f| match f {
            "ID" => Some("IMAGE ID"),
            "CreatedSince" => Some("CREATED"),
            "CreatedAt" => Some("CREATED AT"),
            _ => None,
        }));
    }
    for r in &rows {
        lines.push(t.render(r)?);
    }
    write!(out, "{}", fmt::tabwrite(&lines))?;
    Ok(())
}

/// An image's size as `docker images` and `history` print it (go-units,
/// three significant digits).
fn image_size(bytes: u64) -> String {
    fmt::human_size_prec(bytes as f64, 3)
}

/// "3 weeks ago" for an RFC 3339 time, "N/A" without one.
fn since(rfc3339: &str) -> String {
    if rfc3339.is_empty() {
        return "N/A".into();
    }
    fmt::parse_timestamp(rfc3339)
        .map(fmt::ago)
        .unwrap_or_else(|_| "N/A".into())
}

fn history(store: &ImageStore, c: &History, out: &mut impl Write) -> anyhow::Result<()> {
    let rec = store.resolve(&c.image)?;
    let config = store.config(&rec)?;
    let entries = config["history"].as_array().cloned().unwrap_or_default();
    let id = if c.no_trunc {
        rec.id.to_string()
    } else {
        rec.id.short().to_string()
    };
    if c.quiet {
        writeln!(out, "{id}")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<14} {:<15} {:<45} {:<9} COMMENT",
        "IMAGE", "CREATED", "CREATED BY", "SIZE"
    )?;
    for (i, h) in entries.iter().rev().enumerate() {
        let by = h["created_by"].as_str().unwrap_or("");
        let by = if c.no_trunc || by.len() <= 44 {
            by.to_string()
        } else {
            format!("{}…", &by[..by.floor_char_boundary(43)])
        };
        let shown_id = if i == 0 {
            id.clone()
        } else {
            "<missing>".into()
        };
        writeln!(
            out,
            "{:<14} {:<15} {:<45} {:<9} {}",
            shown_id,
            since(h["created"].as_str().unwrap_or("")),
            by,
            if h["empty_layer"].as_bool() == Some(true) {
                "0B".into()
            } else {
                "-".to_string()
            },
            h["comment"].as_str().unwrap_or("")
        )?;
    }
    Ok(())
}

fn inspect(store: &ImageStore, name: &str) -> anyhow::Result<serde_json::Value> {
    Ok(berth_image::inspect::image(store, name)?)
}

/// `login`: checks the credentials against the registry, then keeps them in
/// Docker's config.json (or its credential helper).
pub fn login(c: &Login) -> anyhow::Result<i32> {
    let server = c.server.clone().unwrap_or_else(|| "docker.io".into());
    let server = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let username = match &c.username {
        Some(u) => u.clone(),
        None => prompt("Username: ")?,
    };
    let password = if c.password_stdin {
        let mut p = String::new();
        std::io::stdin().read_line(&mut p)?;
        p.trim_end_matches(['\n', '\r']).to_string()
    } else {
        match &c.password {
            Some(p) => {
                eprintln!(
                    "WARNING! Using --password via the CLI is insecure. Use --password-stdin."
                );
                p.clone()
            }
            None => prompt("Password: ")?,
        }
    };
    let creds = registry::Credentials { username, password };
    let client = registry::Client::new(
        registry::registry_host(&server),
        &c.registry.insecure,
        Some(creds.clone()),
    );
    client
        .ping()
        .map_err(|e| anyhow::anyhow!("Error response from daemon: login to {server}: {e}"))?;
    registry::credentials::store(&server, &creds)?;
    println!("Login Succeeded");
    Ok(0)
}

pub fn logout(c: &Logout) -> anyhow::Result<i32> {
    let server = c.server.clone().unwrap_or_else(|| "docker.io".into());
    if registry::credentials::erase(&server)? {
        println!(
            "Removing login credentials for {}",
            registry::credentials::server_key(&server)
        );
    } else {
        println!("Not logged in to {server}");
    }
    Ok(0)
}

fn prompt(label: &str) -> anyhow::Result<String> {
    eprint!("{label}");
    let mut s = String::new();
    std::io::stdin().read_line(&mut s)?;
    Ok(s.trim().to_string())
}

#[cfg(test)]
mod output_tests {
    use super::*;

    #[test]
    fn sizes_and_ages_as_docker_prints_them() {
        assert_eq!(image_size(4_261_000), "4.26MB");
        assert_eq!(image_size(999), "999B");
        assert_eq!(image_size(1_500_000_000), "1.5GB");
        assert_eq!(since(""), "N/A");
        assert_eq!(since("not a time"), "N/A");
        assert!(since("2020-01-01T00:00:00.123456789Z").ends_with("years ago"));
    }
}
