//! The graph of stages: a Dockerfile cut at each FROM, the stage a build
//! targets, and the stages it needs (its base and every `--from`), in the
//! order they must be built. A name refers to a stage before it refers to
//! an image, as in BuildKit, so a reference can point forward and a cycle
//! is refused.

use std::collections::{BTreeMap, BTreeSet};

use crate::dockerfile::{Dockerfile, Instruction, Kind};
use crate::error::{Error, Result};

/// One stage: its FROM and the instructions up to the next FROM.
#[derive(Debug, Clone)]
pub struct Stage {
    pub index: usize,
    /// `AS name`, lowercased as Docker keeps it.
    pub name: Option<String>,
    pub from: Instruction,
    pub steps: Vec<Instruction>,
}

impl Stage {
    /// The base as written (`busybox`, `${BASE}`, another stage's name).
    pub fn base(&self) -> &str {
        match &self.from.kind {
            Kind::From { image, .. } => image,
            _ => unreachable!("a stage starts with FROM"),
        }
    }
}

/// A Dockerfile cut into stages.
#[derive(Debug, Clone)]
pub struct Stages {
    /// ARG instructions before the first FROM: usable in FROM lines.
    pub meta_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
}

impl Stages {
    pub fn split(df: &Dockerfile) -> Result<Stages> {
        let mut meta_args = Vec::new();
        let mut stages: Vec<Stage> = Vec::new();
        for ins in &df.instructions {
            match (&ins.kind, stages.last_mut()) {
                (Kind::From { alias, .. }, _) => {
                    let name = alias.as_ref().map(|a| a.to_lowercase());
                    if let Some(n) = &name
                        && stages.iter().any(|s| s.name.as_ref() == Some(n))
                    {
                        return Err(Error::at(ins, format!("duplicate stage name {n:?}")));
                    }
                    stages.push(Stage {
                        index: stages.len(),
                        name,
                        from: ins.clone(),
                        steps: Vec::new(),
                    });
                }
                (Kind::Arg(_), None) => meta_args.push(ins.clone()),
                (_, None) => {
                    return Err(Error::at(
                        ins,
                        "no build stage in current context: a Dockerfile starts with FROM (ARG may come before it)",
                    ));
                }
                (_, Some(stage)) => stage.steps.push(ins.clone()),
            }
        }
        if stages.is_empty() {
            return Err(Error::Invalid(
                "the Dockerfile has no FROM: there is nothing to build".into(),
            ));
        }
        Ok(Stages { meta_args, stages })
    }

    /// The stage `--target` names, or the last one.
    pub fn target(&self, target: Option<&str>) -> Result<usize> {
        match target {
            None | Some("") => Ok(self.stages.len() - 1),
            Some(t) => self.by_name(t).ok_or_else(|| {
                Error::Invalid(format!("failed to reach build target {t} in Dockerfile"))
            }),
        }
    }

    /// A stage by its name (any case) or, for `--from`, its index.
    pub fn by_name(&self, name: &str) -> Option<usize> {
        let lower = name.to_lowercase();
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
    }

    /// What `--from=<x>` names: a stage (by name or index) or an image.
    pub fn by_name_or_index(&self, name: &str) -> Option<usize> {
        self.by_name(name).or_else(|| {
            name.parse::<usize>()
                .ok()
                .filter(|i| *i < self.stages.len())
        })
    }

    /// The stages `target` needs, each after the stages it needs, the
    /// target last. `resolve` expands a reference (its ARGs) first.
    pub fn needed(
        &self,
        target: usize,
        resolve: &dyn Fn(&str) -> Result<String>,
    ) -> Result<Vec<usize>> {
        let mut order = Vec::new();
        let mut visiting = BTreeSet::new();
        self.visit(target, resolve, &mut visiting, &mut order)?;
        Ok(order)
    }

    fn visit(
        &self,
        i: usize,
        resolve: &dyn Fn(&str) -> Result<String>,
        visiting: &mut BTreeSet<usize>,
        order: &mut Vec<usize>,
    ) -> Result<()> {
        if order.contains(&i) {
            return Ok(());
        }
        let stage = &self.stages[i];
        if !visiting.insert(i) {
            let name = stage.name.clone().unwrap_or_else(|| i.to_string());
            return Err(Error::at(
                &stage.from,
                format!("circular dependency detected on stage: {name}"),
            ));
        }
        for dep in self.dependencies(stage, resolve)? {
            self.visit(dep, resolve, visiting, order)?;
        }
        visiting.remove(&i);
        order.push(i);
        Ok(())
    }

    /// `needed` (in build order) in waves: each stage in the first wave
    /// after every stage it reads, so the stages of a wave can be built
    /// together.
    pub fn waves(
        &self,
        needed: &[usize],
        resolve: &dyn Fn(&str) -> Result<String>,
    ) -> Result<Vec<Vec<usize>>> {
        let mut level: BTreeMap<usize, usize> = BTreeMap::new();
        let mut waves: Vec<Vec<usize>> = Vec::new();
        for &i in needed {
            let deps = self.dependencies(&self.stages[i], resolve)?;
            let l = deps
                .iter()
                .map(|d| level.get(d).map_or(0, |l| l + 1))
                .max()
                .unwrap_or(0);
            level.insert(i, l);
            if waves.len() <= l {
                waves.resize(l + 1, Vec::new());
            }
            waves[l].push(i);
        }
        Ok(waves)
    }

    /// The stages `stage` reads: its base and its `--from`s.
    fn dependencies(
        &self,
        stage: &Stage,
        resolve: &dyn Fn(&str) -> Result<String>,
    ) -> Result<Vec<usize>> {
        let mut deps = Vec::new();
        let base = resolve(stage.base())?;
        if let Some(i) = self.by_name(&base) {
            deps.push(i);
        }
        for ins in &stage.steps {
            let from = match &ins.kind {
                Kind::Copy(c) | Kind::Add(c) => c.from.clone(),
                Kind::Run { flags, .. } => flags
                    .mounts
                    .iter()
                    .find_map(|m| mount_from(m).map(str::to_string)),
                _ => None,
            };
            if let Some(from) = from {
                let from = resolve(&from)?;
                if let Some(i) = self.by_name_or_index(&from) {
                    if i == stage.index {
                        return Err(Error::at(ins, format!("stage {from} refers to itself")));
                    }
                    deps.push(i);
                }
            }
        }
        Ok(deps)
    }
}

/// The `from=` of a `RUN --mount` value.
pub fn mount_from(mount: &str) -> Option<&str> {
    mount.split(',').find_map(|kv| {
        kv.strip_prefix("from=")
            .or_else(|| kv.strip_prefix("source-from="))
    })
}
