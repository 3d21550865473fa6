//! `include:` — other compose projects loaded apart (their own project
//! directory, their own `.env` under the including one's variables, their
//! paths resolved against their directory) and their services, networks,
//! volumes, secrets and configs imported; what the including file defines
//! under the same name is merged over the imported definition.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::LoadError;
use super::{Loader, Scope, discover, finish, merge, paths};

pub fn apply(
    loader: &mut Loader,
    entries: Value,
    scope: &Scope,
    chain: &[PathBuf],
    canon: &mut Map<String, Value>,
) -> Result<(), LoadError> {
    let Value::Array(entries) = entries else {
        return Ok(());
    };
    let including = chain.last().cloned().unwrap_or_default();
    for entry in entries {
        let strings = |k: &str| -> Vec<String> {
            entry
                .get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        let files: Vec<PathBuf> = strings("path")
            .iter()
            .map(|p| PathBuf::from(paths::absolute(p, &scope.base_dir, scope.env)))
            .collect();
        let Some(main) = files.first() else { continue };
        let project_dir = match entry.get("project_directory").and_then(Value::as_str) {
            Some(d) => PathBuf::from(paths::absolute(d, &scope.base_dir, scope.env)),
            None => main
                .parent()
                .map_or_else(|| PathBuf::from("/"), Path::to_path_buf),
        };
        if chain.contains(main) {
            let mut lines = vec![
                "include cycle detected:".to_string(),
                chain[0].display().to_string(),
            ];
            for f in chain[1..].iter().chain(std::iter::once(main)) {
                lines.push(format!(" include {}", f.display()));
            }
            return Err(LoadError::file(&including, lines.join("\n")));
        }
        let env_files: Vec<PathBuf> = if entry.get("env_file").is_none() {
            let f = project_dir.join(".env");
            if f.is_file() { vec![f] } else { Vec::new() }
        } else {
            let mut out = Vec::new();
            for f in strings("env_file") {
                if f == "/dev/null" {
                    continue;
                }
                let p = PathBuf::from(paths::absolute(&f, &scope.base_dir, scope.env));
                if !p.is_file() {
                    return Err(LoadError::file(
                        &including,
                        format!("include env_file {} is not a file", p.display()),
                    ));
                }
                out.push(p);
            }
            out
        };
        let mut env = scope.env.clone();
        discover::load_env_files(&mut env, &env_files, &mut loader.warnings)?;
        let child = Scope {
            base_dir: project_dir.clone(),
            env: &env,
            included: chain.to_vec(),
        };
        let mut model = loader.model(&files, &child)?;
        finish::defaults(&mut model);
        paths::resolve(&mut model, &project_dir, &env);
        finish::resolve_environment(&mut model, &env);
        import(model, canon);
    }
    Ok(())
}

/// The included project's resources added; the including file's
/// definitions of the same names merged over them.
fn import(mut model: Map<String, Value>, canon: &mut Map<String, Value>) {
    for kind in ["services", "volumes", "networks", "secrets", "configs"] {
        let Some(Value::Object(from)) = model.shift_remove(kind) else {
            continue;
        };
        let to = canon
            .entry(kind)
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(to) = to else { continue };
        for (name, def) in from {
            let merged = match to.shift_remove(&name) {
                Some(local) => {
                    let mut path = vec![kind.to_string(), name.clone()];
                    merge::merge(def, local, &mut path)
                }
                None => def,
            };
            to.insert(name, merged);
        }
    }
    merge::unique_services(canon);
}
