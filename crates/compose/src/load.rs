//! The loader: compose files read into the resolved [`Project`], in
//! compose-go's order — discovery and the `.env` file, the project name,
//! then for each file: YAML, interpolation, validation and the long
//! syntax, `include`, `extends`, the merge over the files before it; then
//! defaults, paths, the implicit network and names, profiles, `env_file`s
//! and the consistency of the whole.

mod assemble;
mod check;
mod discover;
mod dotenv;
mod emit;
mod error;
mod extends;
mod finish;
mod include;
mod interpolate;
mod merge;
mod normalize;
mod paths;
mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub use self::emit::to_yaml;
pub use self::error::LoadError;
use self::interpolate::Interpolator;
use self::normalize::values::Cx;
use self::yaml::{Document, TaggedPath};
use crate::model::Project;

/// What `docker compose` takes from its command line and environment.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f`, in order; empty: `COMPOSE_FILE`, else discovery.
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_dir: Option<PathBuf>,
    /// `--env-file`; empty: `<project dir>/.env` if there is one.
    pub env_files: Vec<PathBuf>,
    /// `--profile`; empty: `COMPOSE_PROFILES`.
    pub profiles: Vec<String>,
    /// Services named on the command line: enabled whatever their
    /// profiles (theirs are activated).
    pub services: Vec<String>,
    /// The process environment (passed in, for tests).
    pub environment: BTreeMap<String, String>,
    /// Where discovery starts and relative paths given here are from (the
    /// current directory).
    pub working_dir: PathBuf,
}

/// Loads the project `opts` designate, as `docker compose` (v2) would.
pub fn load(opts: &LoadOptions) -> Result<Project, LoadError> {
    let mut warnings = Vec::new();
    let setup = discover::setup(opts, &mut warnings)?;
    let mut env = setup.env;
    let mut loader = Loader {
        warnings: Vec::new(),
    };

    // Every file read first: the project name may come from any of them.
    let mut docs = Vec::new();
    for f in &setup.files {
        docs.push((f.clone(), loader.read(f)?));
    }
    let name = project_name(opts, &env, &setup.project_dir, &docs, &mut loader)?;
    env.insert("COMPOSE_PROJECT_NAME".into(), name.clone());

    let scope = Scope {
        base_dir: setup.project_dir.clone(),
        env: &env,
        included: Vec::new(),
    };
    let mut dict = Map::new();
    for (file, documents) in docs {
        for doc in documents {
            loader.doc(&file, doc, &scope, &mut dict)?;
        }
    }
    if dict.is_empty() {
        return Err(LoadError::file(&setup.files[0], "empty compose file"));
    }
    finish::defaults(&mut dict);
    paths::resolve(&mut dict, &setup.project_dir, &env);
    finish::resolve_environment(&mut dict, &env);
    finish::normalize(&mut dict, &name, &env);

    let mut profiles = opts.profiles.clone();
    if profiles.is_empty()
        && let Some(p) = env.get("COMPOSE_PROFILES")
    {
        profiles = p
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
    }
    let fin = assemble::Finish {
        name,
        project_dir: setup.project_dir,
        env: &env,
        profiles,
        services: opts.services.clone(),
    };
    warnings.append(&mut loader.warnings);
    let mut project = fin.project(dict, &mut warnings)?;
    project.warnings = warnings;
    project.config_files = setup.files;
    Ok(project)
}

/// The files of one project (the main one, or an included one): where
/// their relative paths are from, their variables, and the chain of
/// includes that led to them.
pub(crate) struct Scope<'a> {
    pub base_dir: PathBuf,
    pub env: &'a BTreeMap<String, String>,
    pub included: Vec<PathBuf>,
}

pub(crate) struct Loader {
    pub warnings: Vec<String>,
}

impl Loader {
    /// A file's YAML documents.
    pub fn read(&mut self, file: &Path) -> Result<Vec<Document>, LoadError> {
        let text = std::fs::read_to_string(file).map_err(|e| LoadError::io(file, e))?;
        yaml::parse(&text).map_err(|e| LoadError::Yaml {
            file: file.to_path_buf(),
            line: e.line,
            column: e.column,
            message: e.message,
        })
    }

    /// One document interpolated and made canonical.
    pub fn prepare(
        &mut self,
        file: &Path,
        value: Value,
        env: &BTreeMap<String, String>,
    ) -> Result<Map<String, Value>, LoadError> {
        let mut value = value;
        let mut interp = Interpolator::new(env);
        let r = interp.value(&mut value, &mut Vec::new());
        self.warn_all(interp.warnings);
        r.map_err(|(path, message)| LoadError::Interpolation {
            file: file.to_path_buf(),
            path,
            message,
        })?;
        let mut cx = Cx {
            file,
            warnings: &mut self.warnings,
        };
        normalize::file(value, &mut cx)
    }

    /// One document of a file of `scope` merged into `dict`.
    pub fn doc(
        &mut self,
        file: &Path,
        doc: Document,
        scope: &Scope,
        dict: &mut Map<String, Value>,
    ) -> Result<(), LoadError> {
        let mut canon = self.prepare(file, doc.value, scope.env)?;
        if let Some(entries) = canon.shift_remove("include") {
            let mut chain = scope.included.clone();
            chain.push(file.to_path_buf());
            include::apply(self, entries, scope, &chain, &mut canon)?;
        }
        extends::apply(
            self,
            &mut canon,
            file,
            &scope.base_dir,
            scope.env,
            &doc.tags,
        )?;
        merge::apply_tags(dict, &doc.tags);
        merge::merge_file(dict, canon);
        Ok(())
    }

    /// All the files of a project merged (no paths resolved yet).
    pub fn model(
        &mut self,
        files: &[PathBuf],
        scope: &Scope,
    ) -> Result<Map<String, Value>, LoadError> {
        let mut dict = Map::new();
        for f in files {
            for doc in self.read(f)? {
                self.doc(f, doc, scope, &mut dict)?;
            }
        }
        Ok(dict)
    }

    fn warn_all(&mut self, warnings: Vec<String>) {
        for w in warnings {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
    }
}

/// `-p`, else `COMPOSE_PROJECT_NAME`, else the last `name:` of the files
/// (interpolated, normalized), else the project directory's name
/// (normalized). Given names must be valid already, as compose requires.
fn project_name(
    opts: &LoadOptions,
    env: &BTreeMap<String, String>,
    project_dir: &Path,
    docs: &[(PathBuf, Vec<Document>)],
    loader: &mut Loader,
) -> Result<String, LoadError> {
    let given = opts
        .project_name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            env.get("COMPOSE_PROJECT_NAME")
                .filter(|n| !n.is_empty())
                .cloned()
        });
    if let Some(n) = given {
        if normalize_name(&n) != n {
            return Err(LoadError::Project(format!(
                "invalid project name {n:?}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number"
            )));
        }
        return Ok(n);
    }
    let mut from_files = None;
    for (file, documents) in docs {
        for d in documents {
            if let Some(Value::String(n)) = d.value.get("name")
                && !n.is_empty()
            {
                from_files = Some((file, n.clone()));
            }
        }
    }
    let name = match from_files {
        Some((file, n)) => {
            let mut interp = Interpolator::new(env);
            let r = interp.substitute(&n);
            loader.warn_all(interp.warnings);
            let n = r.map_err(|e| LoadError::Interpolation {
                file: file.clone(),
                path: "name".into(),
                message: e.describe("name", &n),
            })?;
            normalize_name(&n)
        }
        None => normalize_name(
            &project_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    };
    if name.is_empty() {
        return Err(LoadError::Project("project name must not be empty".into()));
    }
    Ok(name)
}

/// compose's `NormalizeProjectName`: lowercase, only `[a-z0-9_-]`, no
/// leading `_` or `-`.
pub fn normalize_name(s: &str) -> String {
    let s: String = s
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    s.trim_start_matches(['_', '-']).to_string()
}

/// Tag paths under `services.<name>`, relative to the service.
pub(crate) fn service_tags(tags: &[TaggedPath], name: &str) -> Vec<TaggedPath> {
    tags.iter()
        .filter(|t| t.path.len() > 2 && t.path[0] == "services" && t.path[1] == name)
        .map(|t| TaggedPath {
            path: t.path[2..].to_vec(),
            kind: t.kind,
        })
        .collect()
}
