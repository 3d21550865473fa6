//! berth called by another name: as `docker-compose` (the docker CLI's
//! plugin for `docker compose`, installed as a link named docker-compose
//! in a cli-plugins directory, or called directly) and as `berth-compose`.
//! Both become `berth [-H host] compose ...`.
//!
//! The docker CLI runs a plugin as `docker-compose docker-cli-plugin-
//! metadata` to list it, and as `docker-compose [GLOBAL OPTIONS] compose
//! [ARGS]` to run it (docs/extend/cli_plugins.md in docker/cli). Under the
//! docker name, the engine is the one docker's CLI would use: -H, else
//! DOCKER_HOST, else the current context's endpoint, else
//! /var/run/docker.sock; never a berth daemon started on the way.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// What the command line asks for.
pub enum Entry {
    /// Print the plugin's metadata for the docker CLI.
    Metadata,
    /// Run berth with these arguments.
    Berth(Vec<OsString>),
}

const METADATA: &str = concat!(
    r#"{"SchemaVersion":"0.1.0","Vendor":"berth","Version":""#,
    env!("CARGO_PKG_VERSION"),
    r#"","ShortDescription":"Docker Compose, by berth"}"#
);

pub fn metadata() -> &'static str {
    METADATA
}

/// `args` (argv, the program first) as berth's own command line.
pub fn rewrite(args: Vec<OsString>, docker_name: bool) -> Result<Entry> {
    let mut rest = args.into_iter().skip(1).peekable();
    if rest
        .peek()
        .is_some_and(|a| a == "docker-cli-plugin-metadata")
    {
        return Ok(Entry::Metadata);
    }
    let mut host = None;
    let mut context = None;
    let mut config_dir = None;
    // The docker CLI's global options, before the plugin's name.
    while let Some(arg) = rest.peek().map(|a| a.to_string_lossy().into_owned()) {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let slot = match flag.as_str() {
            "-H" | "--host" => &mut host,
            "-c" | "--context" => &mut context,
            "--config" => &mut config_dir,
            "-D" | "--debug" | "-l" | "--log-level" | "--tls" | "--tlsverify" | "--tlscacert"
            | "--tlscert" | "--tlskey" => {
                bail!("berth compose: the docker option {flag} is not supported")
            }
            _ => break,
        };
        rest.next();
        let value = match inline {
            Some(v) => v,
            None => match rest.next() {
                Some(v) => v.to_string_lossy().into_owned(),
                None => bail!("flag needs an argument: {flag}"),
            },
        };
        *slot = Some(value);
    }
    // The plugin's own name, when the docker CLI runs it.
    if rest.peek().is_some_and(|a| a == "compose") {
        rest.next();
    }
    if docker_name && host.is_none() {
        host = Some(docker_host(context, config_dir.map(PathBuf::from))?);
    } else if context.is_some() || config_dir.is_some() {
        bail!("berth-compose: --context and --config are docker's options; use -H");
    }
    let mut argv = vec![OsString::from("berth")];
    if let Some(h) = host {
        argv.extend([OsString::from("-H"), OsString::from(h)]);
    }
    argv.push(OsString::from("compose"));
    argv.extend(rest);
    Ok(Entry::Berth(argv))
}

/// The engine docker's CLI would talk to, without -H.
fn docker_host(context: Option<String>, config_dir: Option<PathBuf>) -> Result<String> {
    if context.is_none()
        && let Ok(h) = std::env::var("DOCKER_HOST")
        && !h.is_empty()
    {
        return Ok(h);
    }
    let config_dir = config_dir
        .or_else(|| std::env::var_os("DOCKER_CONFIG").map(PathBuf::from))
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")))
        .unwrap_or_else(|| PathBuf::from("/root/.docker"));
    let name = match context.or_else(|| std::env::var("DOCKER_CONTEXT").ok()) {
        Some(n) => n,
        None => std::fs::read(config_dir.join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|c| c["currentContext"].as_str().map(String::from))
            .unwrap_or_default(),
    };
    if name.is_empty() || name == "default" {
        return Ok("unix:///var/run/docker.sock".into());
    }
    // A context's metadata lives under the SHA-256 of its name.
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let meta = config_dir
        .join("contexts/meta")
        .join(digest)
        .join("meta.json");
    let text = std::fs::read(&meta)
        .map_err(|e| anyhow::anyhow!("context {name:?}: reading {}: {e}", meta.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| anyhow::anyhow!("context {name:?}: {}: {e}", meta.display()))?;
    match v["Endpoints"]["docker"]["Host"].as_str() {
        Some(h) => Ok(h.to_string()),
        None => bail!("context {name:?} names no docker endpoint"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berth_args(args: &[&str], docker_name: bool) -> Vec<String> {
        let args = args.iter().map(OsString::from).collect();
        match rewrite(args, docker_name).unwrap() {
            Entry::Berth(a) => a.into_iter().map(|a| a.into_string().unwrap()).collect(),
            Entry::Metadata => vec!["metadata".into()],
        }
    }

    #[test]
    fn the_docker_cli_runs_the_plugin_with_its_global_options() {
        assert_eq!(
            berth_args(
                &[
                    "docker-compose",
                    "-H",
                    "unix:///x.sock",
                    "compose",
                    "up",
                    "-d"
                ],
                true
            ),
            ["berth", "-H", "unix:///x.sock", "compose", "up", "-d"]
        );
        assert_eq!(
            berth_args(
                &["docker-compose", "--host=unix:///y", "compose", "ps"],
                true
            ),
            ["berth", "-H", "unix:///y", "compose", "ps"]
        );
        assert_eq!(
            berth_args(&["docker-compose", "docker-cli-plugin-metadata"], true),
            ["metadata"]
        );
        let meta: serde_json::Value = serde_json::from_str(metadata()).unwrap();
        assert_eq!(meta["SchemaVersion"], "0.1.0");
    }

    #[test]
    fn standalone_names_take_compose_options_first() {
        assert_eq!(
            berth_args(&["berth-compose", "-f", "a.yml", "-p", "x", "up"], false),
            ["berth", "compose", "-f", "a.yml", "-p", "x", "up"]
        );
        let args = ["docker-compose", "--tlsverify", "compose", "up"]
            .iter()
            .map(OsString::from)
            .collect();
        let err = rewrite(args, true).err().unwrap().to_string();
        assert!(err.contains("--tlsverify"), "{err}");
    }
}
