//! Registry credentials in Docker's config.json ($DOCKER_CONFIG/config.json or
//! ~/.docker/config.json): `auths` with base64 `user:password`, and the
//! credential helpers (`credsStore`, `credHelpers`) run as
//! `docker-credential-<name> get|store|erase`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::{Value, json};

use anyhow::{Context, Result, anyhow};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    /// The X-Registry-Auth header's value: base64url of moby's AuthConfig.
    pub fn header(&self, server: &str) -> String {
        let json = json!({
            "username": self.username,
            "password": self.password,
            "serveraddress": server,
        });
        base64::engine::general_purpose::URL_SAFE.encode(json.to_string())
    }
}

/// The key Docker files a registry's credentials under.
pub fn server_key(registry: &str) -> String {
    if registry == "docker.io" || registry == "index.docker.io" {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry.to_string()
    }
}

pub fn config_path() -> PathBuf {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".docker")
        });
    dir.join("config.json")
}

fn read_config() -> Result<Value> {
    let p = config_path();
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| anyhow!("{}: {e}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({})),
        Err(e) => Err(anyhow!("reading {}: {e}", p.display())),
    }
}

/// The config file's `detachKeys`, which docker's CLI sends for attach,
/// run and exec when no `--detach-keys` is given (an unreadable config
/// gives none, as the keys then are the engine's default).
pub fn detach_keys() -> Option<String> {
    read_config().ok()?["detachKeys"]
        .as_str()
        .filter(|k| !k.is_empty())
        .map(str::to_string)
}

fn write_config(v: &Value) -> Result<()> {
    let p = config_path();
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = p.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(v).expect("serializes"))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .with_context(|| "chmod")?;
    std::fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))
}

fn helper_for(cfg: &Value, key: &str) -> Option<String> {
    cfg["credHelpers"][key]
        .as_str()
        .or_else(|| cfg["credsStore"].as_str())
        .map(str::to_string)
}

fn run_helper(helper: &str, verb: &str, input: &str) -> Result<String> {
    let prog = format!("docker-credential-{helper}");
    let mut child = Command::new(&prog)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running credential helper {prog}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())
        .with_context(|| format!("writing to {prog}"))?;
    let out = child
        .wait_with_output()
        .with_context(|| format!("running {prog}"))?;
    if !out.status.success() {
        return Err(anyhow!(
            "credential helper {prog} {verb}: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The stored credentials for `registry`, if any.
pub fn lookup(registry: &str) -> Result<Option<Credentials>> {
    let cfg = read_config()?;
    let key = server_key(registry);
    if let Some(helper) = helper_for(&cfg, &key) {
        return match run_helper(&helper, "get", &key) {
            Ok(out) => {
                let v: Value = serde_json::from_str(&out)
                    .map_err(|e| anyhow!("{}: {e}", "credential helper output"))?;
                Ok(Some(Credentials {
                    username: v["Username"].as_str().unwrap_or_default().to_string(),
                    password: v["Secret"].as_str().unwrap_or_default().to_string(),
                }))
            }
            // Helpers say "credentials not found" with a failure.
            Err(_) => Ok(None),
        };
    }
    let Some(auth) = cfg["auths"][&key]["auth"].as_str() else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .map_err(|e| anyhow!("credentials for {key} in {}: {e}", config_path().display()))?;
    let text = String::from_utf8_lossy(&decoded);
    let (u, p) = text
        .split_once(':')
        .ok_or_else(|| anyhow!("credentials for {key}: not user:password"))?;
    Ok(Some(Credentials {
        username: u.to_string(),
        password: p.to_string(),
    }))
}

/// Stores credentials (through the helper when one is configured).
pub fn store(registry: &str, c: &Credentials) -> Result<()> {
    let mut cfg = read_config()?;
    let key = server_key(registry);
    if let Some(helper) = helper_for(&cfg, &key) {
        let input =
            json!({"ServerURL": key, "Username": c.username, "Secret": c.password}).to_string();
        run_helper(&helper, "store", &input)?;
        return Ok(());
    }
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
    if !cfg["auths"].is_object() {
        cfg["auths"] = json!({});
    }
    cfg["auths"][key] = json!({"auth": auth});
    write_config(&cfg)
}

/// Forgets the credentials; false when there were none.
pub fn erase(registry: &str) -> Result<bool> {
    let mut cfg = read_config()?;
    let key = server_key(registry);
    if let Some(helper) = helper_for(&cfg, &key) {
        return Ok(run_helper(&helper, "erase", &key).is_ok());
    }
    let removed = cfg["auths"]
        .as_object_mut()
        .and_then(|a| a.remove(&key))
        .is_some();
    if removed {
        write_config(&cfg)?;
    }
    Ok(removed)
}
