//! The canonical project made the model, as compose-go's `Transform`,
//! `WithProfiles` and `WithServicesEnvironmentResolved` do: services and
//! resources typed, profiles applied, `env_file`s read.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::check::check;
use super::dotenv;
use super::error::LoadError;
use crate::model::{Project, Service};

/// One service's env files: `{path, required, format}`.
struct EnvFile {
    path: PathBuf,
    required: bool,
    format: Option<String>,
}

/// The canonical project made the model, profiles applied, env files
/// read, consistency checked.
pub struct Finish<'a> {
    pub name: String,
    pub project_dir: PathBuf,
    pub env: &'a BTreeMap<String, String>,
    pub profiles: Vec<String>,
    pub services: Vec<String>,
}

impl Finish<'_> {
    pub fn project(
        &self,
        mut dict: Map<String, Value>,
        warnings: &mut Vec<String>,
    ) -> Result<Project, LoadError> {
        let mut project = Project {
            name: self.name.clone(),
            working_dir: self.project_dir.clone(),
            ..Project::default()
        };
        let mut env_files: BTreeMap<String, Vec<EnvFile>> = BTreeMap::new();
        let mut all: BTreeMap<String, Service> = BTreeMap::new();
        if let Some(Value::Object(services)) = dict.shift_remove("services") {
            for (name, s) in services {
                let Value::Object(mut s) = s else { continue };
                s.shift_remove("extends");
                if let Some(Value::Array(files)) = s.shift_remove("env_file") {
                    let files = files
                        .iter()
                        .map(|f| EnvFile {
                            path: PathBuf::from(f["path"].as_str().unwrap_or_default()),
                            required: f.get("required") != Some(&json!(false)),
                            format: f.get("format").and_then(Value::as_str).map(String::from),
                        })
                        .collect();
                    env_files.insert(name.clone(), files);
                }
                let service: Service = from_json(Value::Object(s), &format!("services.{name}"))?;
                all.insert(name, service);
            }
        }
        macro_rules! section {
            ($key:literal, $field:ident) => {
                if let Some(Value::Object(objs)) = dict.shift_remove($key) {
                    for (k, v) in objs {
                        let o = from_json(v, &format!("{}.{k}", $key))?;
                        project.$field.insert(k, o);
                    }
                }
            };
        }
        section!("networks", networks);
        section!("volumes", volumes);
        section!("secrets", secrets);
        section!("configs", configs);

        // Profiles, and services named explicitly enabling theirs.
        let mut active = self.profiles.clone();
        for name in &self.services {
            let Some(s) = all.get(name) else {
                return Err(LoadError::Project(format!("no such service: {name}")));
            };
            if !enabled(s, &active) {
                active.extend(s.profiles.iter().cloned());
            }
        }
        for (name, mut s) in all {
            let on = enabled(&s, &active);
            let files = env_files.remove(&name).unwrap_or_default();
            match self.read_env_files(&mut s, &files, warnings) {
                Ok(()) => {}
                Err(e) if on => return Err(e),
                Err(_) => {}
            }
            if on {
                project.services.insert(name, s);
            } else {
                project.disabled.insert(name, s);
            }
        }
        check(&project)?;
        Ok(project)
    }

    /// `env_file` first, then `environment` over it (its names without a
    /// value included, as compose does).
    fn read_env_files(
        &self,
        s: &mut Service,
        files: &[EnvFile],
        warnings: &mut Vec<String>,
    ) -> Result<(), LoadError> {
        if files.is_empty() {
            return Ok(());
        }
        let mut vars: BTreeMap<String, Option<String>> = BTreeMap::new();
        for f in files {
            let text = match std::fs::read_to_string(&f.path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !f.required => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(LoadError::Project(format!(
                        "env file {} not found: {e}",
                        f.path.display()
                    )));
                }
                Err(e) => return Err(LoadError::io(&f.path, e)),
            };
            let pairs = match f.format.as_deref() {
                None | Some("") | Some("dotenv") => {
                    let service_env = &s.environment;
                    let lookup = |k: &str| {
                        self.env
                            .get(k)
                            .cloned()
                            .or_else(|| service_env.get(k).cloned().flatten())
                    };
                    dotenv::parse(&text, &lookup, warnings)
                        .map_err(|e| LoadError::file(&f.path, e))?
                }
                Some("raw") => dotenv::parse_raw(&text),
                Some(other) => {
                    return Err(LoadError::file(
                        &f.path,
                        format!("unsupported env_file format {other:?}"),
                    ));
                }
            };
            for (k, v) in pairs {
                vars.insert(k, Some(v));
            }
        }
        for (k, v) in std::mem::take(&mut s.environment) {
            vars.insert(k, v);
        }
        s.environment = vars;
        Ok(())
    }
}

fn enabled(s: &Service, active: &[String]) -> bool {
    s.profiles.is_empty()
        || active.iter().any(|p| p == "*")
        || s.profiles.iter().any(|p| active.contains(p))
}

/// A canonical value as the model's type; a key the model did not take
/// is an error rather than dropped silently (a loader bug if ever seen).
fn from_json<T: serde::de::DeserializeOwned + serde::Serialize>(
    v: Value,
    at: &str,
) -> Result<T, LoadError> {
    let t: T =
        serde_json::from_value(v.clone()).map_err(|e| LoadError::Project(format!("{at}: {e}")))?;
    let back = serde_json::to_value(&t).unwrap_or(Value::Null);
    if let Some(lost) = dropped(&v, &back, at) {
        return Err(LoadError::Project(format!(
            "{lost}: the loader lost this key on the way to the model (a berth bug)"
        )));
    }
    Ok(t)
}

fn dropped(canonical: &Value, model: &Value, at: &str) -> Option<String> {
    let empty = |v: &Value| match v {
        Value::Null | Value::Bool(false) => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    match (canonical, model) {
        (Value::Object(c), Value::Object(m)) => c.iter().find_map(|(k, v)| {
            let here = format!("{at}.{k}");
            match m.get(k) {
                None if empty(v) => None,
                None => Some(here),
                Some(mv) => dropped(v, mv, &here),
            }
        }),
        (Value::Array(c), Value::Array(m)) => c
            .iter()
            .zip(m)
            .enumerate()
            .find_map(|(i, (c, m))| dropped(c, m, &format!("{at}[{i}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::dropped;
    use serde_json::json;

    #[test]
    fn a_key_the_model_lost_is_found() {
        let c = json!({"a": 1, "b": {"c": 2, "d": false, "e": []}, "l": [{"x": 1}]});
        assert_eq!(
            dropped(&c, &json!({"a": 1, "b": {"c": 2}, "l": [{"x": 1}]}), "s"),
            None
        );
        assert_eq!(
            dropped(&c, &json!({"a": 1, "b": {}, "l": [{"x": 1}]}), "s"),
            Some("s.b.c".into())
        );
        assert_eq!(
            dropped(&c, &json!({"a": 1, "b": {"c": 2}, "l": [{}]}), "s"),
            Some("s.l[0].x".into())
        );
    }
}
