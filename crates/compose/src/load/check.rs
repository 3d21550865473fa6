//! compose-go's `checkConsistency`: what services refer to exists, what
//! excludes each other is not set together, dependencies have no cycle.

use std::collections::{BTreeMap, BTreeSet};

use super::error::LoadError;
use crate::model::Project;

fn invalid(m: String) -> LoadError {
    LoadError::Project(format!("{m}: invalid compose project"))
}

/// compose-go's `checkConsistency`, on the enabled services.
pub fn check(p: &Project) -> Result<(), LoadError> {
    for (name, s) in &p.services {
        if s.image.is_none() && s.build.is_none() {
            return Err(invalid(format!(
                "service {name:?} has neither an image nor a build context specified"
            )));
        }
        if let Some(b) = &s.build
            && b.dockerfile.is_some()
            && b.dockerfile_inline.is_some()
        {
            return Err(invalid(format!(
                "service {name:?} declares mutualy exclusive dockerfile and dockerfile_inline"
            )));
        }
        if s.network_mode.is_some() && !s.networks.is_empty() {
            return Err(invalid(format!(
                "service {name} declares mutually exclusive `network_mode` and `networks`"
            )));
        }
        for n in s.networks.keys() {
            if !p.networks.contains_key(n) {
                return Err(invalid(format!(
                    "service {name:?} refers to undefined network {n}"
                )));
            }
        }
        if let Some(h) = &s.healthcheck
            && let Some(first) = h.test.first()
            && !matches!(first.as_str(), "CMD" | "CMD-SHELL" | "NONE")
        {
            return Err(LoadError::Project(format!(
                "services.{name}.healthcheck.test must start either by \"CMD\", \"CMD-SHELL\" or \"NONE\""
            )));
        }
        for (dep, d) in &s.depends_on {
            if p.services.contains_key(dep) {
                continue;
            }
            if p.disabled.contains_key(dep) {
                if !d.required {
                    continue;
                }
                return Err(invalid(format!(
                    "service {name:?} depends on service {dep:?} which is disabled by the active profiles (set `required: false` or enable one of its profiles)"
                )));
            }
            return Err(invalid(format!(
                "service {name:?} depends on undefined service {dep:?}"
            )));
        }
        for ns in [&s.network_mode, &s.ipc, &s.pid] {
            if let Some(r) = ns
                && let Some(svc) = r.strip_prefix("service:")
                && !p.services.contains_key(svc)
            {
                return Err(LoadError::Project(format!(
                    "service {svc:?} not found for network_mode 'service:{svc}'"
                )));
            }
        }
        for v in &s.volumes {
            if v.kind == "volume"
                && let Some(src) = &v.source
                && !p.volumes.contains_key(src)
            {
                return Err(invalid(format!(
                    "service {name:?} refers to undefined volume {src}"
                )));
            }
        }
        for c in &s.configs {
            if !p.configs.contains_key(&c.source) {
                return Err(invalid(format!(
                    "service {name:?} refers to undefined config {}",
                    c.source
                )));
            }
        }
        for c in &s.secrets {
            if !p.secrets.contains_key(&c.source) {
                return Err(invalid(format!(
                    "service {name:?} refers to undefined secret {}",
                    c.source
                )));
            }
        }
        let limits = s
            .deploy
            .as_ref()
            .and_then(|d| d.resources.as_ref())
            .and_then(|r| r.limits.as_ref());
        let reservations = s
            .deploy
            .as_ref()
            .and_then(|d| d.resources.as_ref())
            .and_then(|r| r.reservations.as_ref());
        let distinct = |what: &str| {
            invalid(format!(
                "services.{name}: can't set distinct values on {what}"
            ))
        };
        if let (Some(scale), Some(replicas)) = (s.scale, s.deploy.as_ref().and_then(|d| d.replicas))
            && scale != replicas
        {
            return Err(distinct("'scale' and 'deploy.replicas'"));
        }
        if let (Some(a), Some(b)) = (s.cpus, limits.and_then(|l| l.cpus))
            && (a as f32) != (b as f32)
        {
            return Err(distinct("'cpus' and 'deploy.resources.limits.cpus'"));
        }
        if let (Some(a), Some(b)) = (s.mem_limit, limits.and_then(|l| l.memory))
            && a != b
        {
            return Err(distinct("'mem_limit' and 'deploy.resources.limits.memory'"));
        }
        if let (Some(a), Some(b)) = (s.pids_limit, limits.and_then(|l| l.pids))
            && a != b
        {
            return Err(distinct("'pids_limit' and 'deploy.resources.limits.pids'"));
        }
        if let (Some(a), Some(b)) = (s.mem_reservation, reservations.and_then(|l| l.memory))
            && a != b
        {
            return Err(distinct(
                "'mem_reservation' and 'deploy.resources.reservations.memory'",
            ));
        }
        if s.replicas() > 1 && s.container_name.is_some() {
            let attr = if s.scale.is_some() {
                "scale"
            } else {
                "deploy.replicas"
            };
            return Err(invalid(format!(
                "services.{name}: can't set container_name and {attr} as container name must be unique"
            )));
        }
        let mut mounts: BTreeMap<String, String> = BTreeMap::new();
        let tmpfs = s.tmpfs.iter().map(|t| t.split(':').next().unwrap_or(t));
        let targets = tmpfs
            .enumerate()
            .map(|(i, t)| (t.to_string(), format!("services.{name}.tmpfs[{i}]")))
            .chain(
                s.volumes
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v.target.clone(), format!("services.{name}.volumes[{i}]"))),
            );
        for (target, loc) in targets {
            if let Some(first) = mounts.get(&target) {
                return Err(LoadError::Project(format!(
                    "{loc}: target {target} already mounted as {first}"
                )));
            }
            mounts.insert(target, loc);
        }
    }
    check_cycles(p)
}

/// `dependency cycle detected: a -> b -> a`.
fn check_cycles(p: &Project) -> Result<(), LoadError> {
    fn visit<'a>(
        p: &'a Project,
        name: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Result<(), LoadError> {
        if let Some(i) = path.iter().position(|n| *n == name) {
            return Err(LoadError::Project(format!(
                "dependency cycle detected: {} -> {name}",
                path[i..].join(" -> ")
            )));
        }
        if done.contains(name) {
            return Ok(());
        }
        let Some(s) = p.services.get(name) else {
            return Ok(());
        };
        path.push(name);
        for dep in s.depends_on.keys() {
            visit(p, dep, path, done)?;
        }
        path.pop();
        done.insert(name);
        Ok(())
    }
    let mut done = BTreeSet::new();
    for name in p.services.keys() {
        visit(p, name, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}
