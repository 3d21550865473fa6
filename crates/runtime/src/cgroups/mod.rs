//! Control groups through cgroupfs, without systemd: cgroup v1, v2, and the hybrid
//! layout (v1 controllers plus a cgroup2 mount), found from /proc/self/mountinfo.
//!
//! A container's cgroup is one directory per hierarchy, recorded in
//! [`CgroupPaths`] so that later commands (kill --all, pause, stats, delete)
//! work from the record, not from a fresh guess.

mod layout;
mod resources;
mod stats;

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Result};
pub use layout::{Hierarchy, Layout};
pub use stats::Stats;

/// The directories of one container's cgroup, one per mounted hierarchy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CgroupPaths {
    /// cgroup v1: each hierarchy's directory, keyed by its controllers
    /// ("memory", "cpu", "name=systemd", ...).
    pub v1: BTreeMap<String, PathBuf>,
    /// The cgroup2 directory: the only one on a v2 host, the extra one on a
    /// hybrid host.
    pub unified: Option<PathBuf>,
    /// True on a pure cgroup v2 host, where `unified` holds every controller.
    pub v2_only: bool,
}

impl CgroupPaths {
    /// The directories `rel` (like "/berth/<id>") names in each hierarchy.
    pub fn resolve(layout: &Layout, rel: &Path) -> CgroupPaths {
        let rel = rel.strip_prefix("/").unwrap_or(rel);
        let mut paths = CgroupPaths::default();
        for h in &layout.hierarchies {
            match h {
                Hierarchy::V1 { key, mount, .. } => {
                    paths.v1.insert(key.clone(), mount.join(rel));
                }
                Hierarchy::V2 { mount } => paths.unified = Some(mount.join(rel)),
            }
        }
        paths.v2_only = paths.v1.is_empty() && paths.unified.is_some();
        if !paths.v2_only {
            // On a hybrid host the cgroup2 hierarchy has no controller a
            // container's limits use; crun leaves it alone too.
            paths.unified = None;
        }
        paths
    }

    /// Makes the directories and applies the limits; the container's process
    /// joins later with [`CgroupPaths::add`].
    pub fn create(&self, resources: Option<&LinuxResources>) -> Result<()> {
        for (key, dir) in &self.v1 {
            mkdir_all(dir)?;
            if key == "cpuset" {
                // A new v1 cpuset is empty and refuses tasks until it is filled.
                inherit_cpuset(dir)?;
            }
        }
        if let Some(dir) = &self.unified {
            if self.v2_only {
                resources::enable_v2_controllers(dir)?;
            }
            mkdir_all(dir)?;
        }
        resources::apply(self, resources, true)
    }

    /// Changes the limits of a live cgroup (`update`).
    pub fn update(&self, resources: &LinuxResources) -> Result<()> {
        resources::apply(self, Some(resources), false)
    }

    /// Moves a process into every hierarchy of this cgroup.
    pub fn add(&self, pid: i32) -> Result<()> {
        for dir in self.dirs() {
            std::fs::write(dir.join("cgroup.procs"), pid.to_string())
                .ctx(|| format!("adding pid {pid} to cgroup {}", dir.display()))?;
        }
        Ok(())
    }

    /// Moves the calling process, which must be single-threaded, into every
    /// hierarchy of this cgroup.
    ///
    /// On v1 it writes 0 (itself) to `tasks`: moving one thread that is the
    /// caller, the kernel need not hold the global threadgroup lock whose
    /// write side waits for an RCU grace period, 10-15 ms per container here
    /// and a point where parallel starts queue (what `add` pays). The one
    /// thread is the whole process. v2 has no per-thread file outside
    /// threaded subtrees, so there it is `cgroup.procs`.
    pub fn join_self(&self) -> Result<()> {
        for dir in self.v1.values() {
            std::fs::write(dir.join("tasks"), "0")
                .ctx(|| format!("joining cgroup {}", dir.display()))?;
        }
        if let Some(dir) = &self.unified {
            std::fs::write(dir.join("cgroup.procs"), "0")
                .ctx(|| format!("joining cgroup {}", dir.display()))?;
        }
        Ok(())
    }

    pub fn dirs(&self) -> impl Iterator<Item = &PathBuf> {
        self.v1.values().chain(self.unified.iter())
    }

    /// The hierarchy directory that holds `controller`, v1 first.
    pub fn dir_of(&self, controller: &str) -> Option<&Path> {
        if self.v2_only {
            return self.unified.as_deref();
        }
        self.v1
            .iter()
            .find(|(key, _)| key.split(',').any(|c| c == controller))
            .map(|(_, d)| d.as_path())
    }

    /// How many processes the kernel's OOM killer ended in the cgroup
    /// (`oom_kill` of memory.events on v2, of memory.oom_control on v1).
    pub fn oom_kills(&self) -> u64 {
        let Some(dir) = self.dir_of("memory") else {
            return 0;
        };
        let file = if self.v2_only {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        std::fs::read_to_string(dir.join(file))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The pids in the cgroup (every process of the container).
    pub fn pids(&self) -> Vec<i32> {
        let dir = self
            .dir_of("pids")
            .or_else(|| self.dir_of("memory"))
            .or_else(|| self.dirs().next().map(|p| p.as_path()));
        let Some(dir) = dir else { return Vec::new() };
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    pub fn freeze(&self, frozen: bool) -> Result<()> {
        if let Some(dir) = self.v2_freezer() {
            std::fs::write(dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })
                .ctx(|| format!("freezing cgroup {}", dir.display()))?;
            // Freezing completes asynchronously; cgroup.events tells when.
            let want = if frozen { "frozen 1" } else { "frozen 0" };
            for _ in 0..1000 {
                let events = std::fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
                if events.lines().any(|l| l == want) {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            crate::error::bail!("cgroup {} did not reach {want}", dir.display())
        }
        let dir = self
            .dir_of("freezer")
            .ok_or_else(|| crate::error::Error::Other("no freezer cgroup is mounted".into()))?;
        let want = if frozen { "FROZEN" } else { "THAWED" };
        for _ in 0..1000 {
            std::fs::write(dir.join("freezer.state"), want)
                .ctx(|| format!("writing {want} to {}", dir.display()))?;
            let now = std::fs::read_to_string(dir.join("freezer.state")).unwrap_or_default();
            if now.trim() == want {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        crate::error::bail!("cgroup {} did not reach {want}", dir.display())
    }

    pub fn frozen(&self) -> bool {
        if let Some(dir) = self.v2_freezer() {
            return std::fs::read_to_string(dir.join("cgroup.freeze"))
                .is_ok_and(|s| s.trim() == "1");
        }
        self.dir_of("freezer").is_some_and(|d| {
            std::fs::read_to_string(d.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
        })
    }

    fn v2_freezer(&self) -> Option<&Path> {
        let dir = self.unified.as_deref()?;
        (self.v2_only || self.dir_of("freezer").is_none())
            .then_some(dir)
            .filter(|d| d.join("cgroup.freeze").exists())
    }

    pub fn stats(&self) -> Stats {
        stats::read(self)
    }

    /// Removes the directories; processes still inside are killed first.
    pub fn destroy(&self) -> Result<()> {
        for dir in self.dirs() {
            remove_dir(dir)?;
        }
        Ok(())
    }
}

/// Thaws every freezer cgroup process `pid` is in, wherever they are (the
/// container's own, or one the process was moved to): a frozen task takes
/// no signal, not even SIGKILL, until it is thawed. Best effort.
pub fn thaw_cgroups_of(pid: i32) {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return;
    };
    let layout = Layout::host();
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        if controllers.is_empty() {
            for h in &layout.hierarchies {
                if let Hierarchy::V2 { mount } = h {
                    let file = mount.join(rel).join("cgroup.freeze");
                    if std::fs::read_to_string(&file).is_ok_and(|s| s.trim() == "1") {
                        let _ = std::fs::write(&file, "0");
                    }
                }
            }
        } else if controllers.split(',').any(|c| c == "freezer") {
            for h in &layout.hierarchies {
                if let Hierarchy::V1 { key, mount } = h
                    && key == controllers
                {
                    let _ = std::fs::write(mount.join(rel).join("freezer.state"), "THAWED");
                }
            }
        }
    }
}

fn mkdir_all(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).ctx(|| format!("creating cgroup {}", dir.display()))
}

fn remove_dir(dir: &Path) -> Result<()> {
    for attempt in 0..200 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if attempt == 199 => {
                return Err(crate::error::Error::io(
                    format!("removing cgroup {}", dir.display()),
                    e,
                ));
            }
            Err(_) => {
                // Busy: processes remain, or are still exiting.
                if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    Ok(())
}

/// Copies cpuset.cpus and cpuset.mems down from the nearest parent that has them.
fn inherit_cpuset(dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let mut chain = Vec::new();
        let mut cur = dir.to_path_buf();
        // Walk up to the first ancestor with a value, then fill back down.
        let value = loop {
            let v = std::fs::read_to_string(cur.join(file)).unwrap_or_default();
            if !v.trim().is_empty() {
                break v;
            }
            chain.push(cur.clone());
            if !cur.pop() || !cur.join(file).exists() {
                break String::new();
            }
        };
        for d in chain.iter().rev() {
            std::fs::write(d.join(file), value.trim())
                .ctx(|| format!("writing {file} of {}", d.display()))?;
        }
    }
    Ok(())
}
