//! `extends:` — a service built on another one, of the same file or of
//! another (whose relative paths are its own directory's), recursively,
//! merged with the override rules (the extending service over its base).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::LoadError;
use super::yaml::TaggedPath;
use super::{Loader, merge, paths, service_tags};

/// The services of one file, and where its relative paths are from.
struct Source {
    file: PathBuf,
    base_dir: PathBuf,
    services: Map<String, Value>,
    tags: Vec<TaggedPath>,
}

/// Every `extends` of a file's services applied.
pub fn apply(
    loader: &mut Loader,
    canon: &mut Map<String, Value>,
    file: &Path,
    base_dir: &Path,
    env: &BTreeMap<String, String>,
    tags: &[TaggedPath],
) -> Result<(), LoadError> {
    let Some(Value::Object(services)) = canon.get_mut("services") else {
        return Ok(());
    };
    if !services.values().any(|s| s.get("extends").is_some()) {
        return Ok(());
    }
    let mut src = Source {
        file: file.to_path_buf(),
        base_dir: base_dir.to_path_buf(),
        services: std::mem::take(services),
        tags: tags.to_vec(),
    };
    let names: Vec<String> = src.services.keys().cloned().collect();
    for name in names {
        resolve(loader, &mut src, &name, &[], env)?;
    }
    canon.insert("services".into(), Value::Object(src.services));
    Ok(())
}

fn resolve(
    loader: &mut Loader,
    src: &mut Source,
    name: &str,
    chain: &[(PathBuf, String)],
    env: &BTreeMap<String, String>,
) -> Result<Value, LoadError> {
    let service = src
        .services
        .get(name)
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let Some(ext) = service.get("extends").cloned() else {
        return Ok(service);
    };
    let me = (src.file.clone(), name.to_string());
    let mut chain = chain.to_vec();
    let cycle = chain.contains(&me);
    chain.push(me);
    if cycle {
        let mut lines = vec!["Circular reference:".to_string()];
        for (i, (f, s)) in chain.iter().enumerate() {
            let verb = if i == 0 { "" } else { "extends " };
            lines.push(format!("  {verb}{s} in {}", f.display()));
        }
        return Err(LoadError::file(&src.file, lines.join("\n")));
    }
    let base_name = ext
        .get("service")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let base = match ext.get("file").and_then(Value::as_str) {
        Some(f) => {
            let path = PathBuf::from(paths::absolute(f, &src.base_dir, env));
            let mut other = load_file(loader, &path, env)?;
            if !other.services.contains_key(&base_name) {
                return Err(LoadError::file(
                    &src.file,
                    format!(
                        "cannot extend service {name:?} in {}: service {base_name:?} not found in {f}",
                        src.file.display()
                    ),
                ));
            }
            resolve(loader, &mut other, &base_name, &chain, env)?
        }
        None => {
            if !src.services.contains_key(&base_name) {
                return Err(LoadError::file(
                    &src.file,
                    format!(
                        "cannot extend service {name:?} in {}: service {base_name:?} not found",
                        src.file.display()
                    ),
                ));
            }
            resolve(loader, src, &base_name, &chain, env)?
        }
    };
    let mut base = base;
    if let Value::Object(b) = &mut base {
        // The extending document's `!reset` and `!override` apply to the
        // base it extends.
        merge::apply_tags(b, &service_tags(&src.tags, name));
    }
    let mut service = service;
    if let Value::Object(s) = &mut service {
        s.shift_remove("extends");
    }
    let mut path = vec!["services".to_string(), name.to_string()];
    let mut merged = merge::merge(base, service, &mut path);
    if let Value::Object(m) = &mut merged {
        m.shift_remove("extends");
        merge::unique_service(m);
    }
    src.services.insert(name.to_string(), merged.clone());
    Ok(merged)
}

/// Another file's services, for `extends.file`: interpolated, canonical,
/// its relative paths resolved against its own directory (its `include`s
/// are not followed, as compose does not).
fn load_file(
    loader: &mut Loader,
    path: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Source, LoadError> {
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    let mut dict = Map::new();
    let mut tags = Vec::new();
    for doc in loader.read(path)? {
        let mut canon = loader.prepare(path, doc.value, env)?;
        canon.shift_remove("include");
        merge::apply_tags(&mut dict, &doc.tags);
        merge::merge_file(&mut dict, canon);
        tags.extend(doc.tags);
    }
    paths::resolve(&mut dict, &dir, env);
    let services = match dict.shift_remove("services") {
        Some(Value::Object(s)) => s,
        _ => {
            return Err(LoadError::file(
                path,
                format!(
                    "cannot extend service in {}: no services section",
                    path.display()
                ),
            ));
        }
    };
    Ok(Source {
        file: path.to_path_buf(),
        base_dir: dir,
        services,
        tags,
    })
}
