//! A project directory in a temporary directory, compose files written
//! into it, loaded with a fixed environment.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_compose::model::Project;
use berth_compose::{LoadOptions, load};

pub struct Dir {
    _tmp: tempfile::TempDir,
    /// `<tmp>/myapp`: the project directory (so the project is `myapp`).
    pub root: PathBuf,
}

impl Dir {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap().join("myapp");
        std::fs::create_dir(&root).unwrap();
        Dir { _tmp: tmp, root }
    }

    /// Writes `text` at `rel` (under the project directory), parents made.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Options as `docker compose` run in the project directory with
    /// `HOME=/home/me` only.
    pub fn opts(&self) -> LoadOptions {
        LoadOptions {
            working_dir: self.root.clone(),
            environment: env(&[("HOME", "/home/me")]),
            ..LoadOptions::default()
        }
    }

    pub fn load(&self) -> Project {
        load_ok(&self.opts())
    }

    pub fn err(&self) -> String {
        load_err(&self.opts())
    }
}

pub fn load_ok(opts: &LoadOptions) -> Project {
    match load(opts) {
        Ok(p) => p,
        Err(e) => panic!("load failed: {e}"),
    }
}

pub fn load_err(opts: &LoadOptions) -> String {
    match load(opts) {
        Ok(p) => panic!("loaded, expected an error: {p:#?}"),
        Err(e) => e.to_string(),
    }
}

pub fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `s` as a `PathBuf` under `root`.
pub fn under(root: &Path, s: &str) -> String {
    root.join(s).display().to_string()
}
