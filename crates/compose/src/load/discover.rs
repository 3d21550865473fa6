//! Which files, which project directory, which variables: `-f` (else
//! `COMPOSE_FILE`, else `compose.yaml` and its override searched upwards
//! from the working directory), `--project-directory` (else the first
//! file's directory), the process environment and the `.env` file (or
//! `--env-file`s) under it, as the docker compose CLI sets them up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::LoadOptions;
use super::dotenv;
use super::error::LoadError;
use super::normalize::volumes::clean;

/// compose-go's `DefaultFileNames`, in order of preference.
pub const FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// compose-go's `DefaultOverrideFileNames`, in order of preference.
pub const OVERRIDE_NAMES: [&str; 4] = [
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

pub struct Setup {
    pub files: Vec<PathBuf>,
    pub project_dir: PathBuf,
    /// The process environment, then what `.env` adds to it.
    pub env: BTreeMap<String, String>,
}

/// `p` absolute against `cwd`, cleaned.
pub fn absolute(p: &Path, cwd: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    };
    PathBuf::from(clean(&joined.to_string_lossy()))
}

fn parent(p: &Path) -> PathBuf {
    p.parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

pub fn setup(opts: &LoadOptions, warnings: &mut Vec<String>) -> Result<Setup, LoadError> {
    let cwd = absolute(&opts.working_dir, Path::new("/"));
    let abs = |p: &Path| absolute(p, &cwd);
    let explicit_dir = opts.project_dir.as_deref().map(abs);
    let mut env = opts.environment.clone();

    // The .env of the directory known so far (it may name COMPOSE_FILE).
    let first_dir = explicit_dir
        .clone()
        .or_else(|| opts.files.first().map(|f| parent(&abs(f))))
        .unwrap_or_else(|| cwd.clone());
    let explicit_env: Vec<PathBuf> = opts.env_files.iter().map(|f| abs(f)).collect();
    let default_env_off = env
        .get("COMPOSE_DISABLE_ENV_FILE")
        .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "TRUE" | "True"));
    let env_files = |dir: &Path| -> Vec<PathBuf> {
        if !explicit_env.is_empty() {
            return explicit_env.clone();
        }
        let f = dir.join(".env");
        if !default_env_off && f.is_file() {
            vec![f]
        } else {
            Vec::new()
        }
    };
    let first_env = env_files(&first_dir);
    load_env_files(&mut env, &first_env, warnings)?;

    let mut files: Vec<PathBuf> = Vec::new();
    for f in &opts.files {
        if f.as_os_str() == "-" {
            return Err(LoadError::Project(
                "berth does not support reading a compose file from stdin (`-f -`) yet".into(),
            ));
        }
        files.push(abs(f));
    }
    if files.is_empty()
        && let Some(list) = env.get("COMPOSE_FILE").filter(|v| !v.is_empty())
    {
        let sep = env
            .get("COMPOSE_PATH_SEPARATOR")
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| ":".into());
        files = list
            .split(sep.as_str())
            .filter(|f| !f.is_empty())
            .map(|f| abs(Path::new(f)))
            .collect();
    }
    if files.is_empty() {
        files = find(explicit_dir.as_deref().unwrap_or(&cwd), warnings);
    }
    if files.is_empty() {
        return Err(LoadError::NotFound);
    }
    let project_dir = explicit_dir.unwrap_or_else(|| parent(&files[0]));

    // Then the .env of the project directory, if that is another one.
    if project_dir != first_dir {
        let more = env_files(&project_dir);
        if more != first_env {
            load_env_files(&mut env, &more, warnings)?;
        }
    }
    Ok(Setup {
        files,
        project_dir,
        env,
    })
}

/// The compose file (and its override) of `start` or the nearest
/// directory above it that has one.
fn find(start: &Path, warnings: &mut Vec<String>) -> Vec<PathBuf> {
    for dir in start.ancestors() {
        let found: Vec<PathBuf> = FILE_NAMES
            .iter()
            .map(|n| dir.join(n))
            .filter(|p| p.is_file())
            .collect();
        let Some(winner) = found.first() else {
            continue;
        };
        let mut files = vec![winner.clone()];
        if found.len() > 1 {
            warnings.push(format!(
                "Found multiple config files with supported names: {}",
                join(&found)
            ));
            warnings.push(format!("Using {}", winner.display()));
        }
        let overrides: Vec<PathBuf> = OVERRIDE_NAMES
            .iter()
            .map(|n| dir.join(n))
            .filter(|p| p.is_file())
            .collect();
        if let Some(o) = overrides.first() {
            if overrides.len() > 1 {
                warnings.push(format!(
                    "Found multiple override files with supported names: {}",
                    join(&overrides)
                ));
                warnings.push(format!("Using {}", o.display()));
            }
            files.push(o.clone());
        }
        return files;
    }
    Vec::new()
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Env files' variables added to `env` where it has none (the process
/// environment wins); each file may use the variables before it.
pub fn load_env_files(
    env: &mut BTreeMap<String, String>,
    files: &[PathBuf],
    warnings: &mut Vec<String>,
) -> Result<(), LoadError> {
    let mut from_files: BTreeMap<String, String> = BTreeMap::new();
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LoadError::Project(format!(
                    "couldn't find env file: {}",
                    f.display()
                )));
            }
            Err(e) => return Err(LoadError::io(f, e)),
        };
        let current: &BTreeMap<String, String> = env;
        let earlier = from_files.clone();
        let lookup = |k: &str| current.get(k).or_else(|| earlier.get(k)).cloned();
        let pairs = dotenv::parse(&text, &lookup, warnings).map_err(|e| LoadError::file(f, e))?;
        from_files.extend(pairs);
    }
    for (k, v) in from_files {
        env.entry(k).or_insert(v);
    }
    Ok(())
}
