//! Writing an OCI `LinuxResources` into cgroup files, for v1 and v2.

use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources, LinuxThrottleDevice,
};

use super::CgroupPaths;
use crate::error::{Error, Result};

/// Applies `resources`; `creating` adds the default device rules on v1.
pub fn apply(
    paths: &CgroupPaths,
    resources: Option<&LinuxResources>,
    creating: bool,
) -> Result<()> {
    if paths.v2_only {
        if let (Some(dir), Some(r)) = (&paths.unified, resources) {
            apply_v2(dir, r)?;
        }
        return Ok(());
    }
    if let Some(dir) = paths.dir_of("devices")
        && creating
    {
        apply_v1_devices(
            dir,
            resources
                .and_then(|r| r.devices().as_deref())
                .unwrap_or(&[]),
        )?;
    }
    let Some(r) = resources else { return Ok(()) };
    if let Some(mem) = r.memory() {
        let dir = need(paths.dir_of("memory"), "memory")?;
        let limit = mem.limit();
        // v1 refuses a memory limit above memsw's, and memsw below memory's, so
        // when both are set the order depends on the direction of the change.
        let swap = mem.swap();
        let set_limit = |d: &Path| -> Result<()> {
            if let Some(l) = limit {
                write(d, "memory.limit_in_bytes", &l.to_string())?;
            }
            Ok(())
        };
        let set_swap = |d: &Path| -> Result<()> {
            if let Some(s) = swap {
                if d.join("memory.memsw.limit_in_bytes").exists() {
                    write(d, "memory.memsw.limit_in_bytes", &s.to_string())?;
                } else if s != -1 && Some(s) != limit {
                    return Err(Error::Other(
                        "memory.swap: the kernel does not account swap (no memory.memsw.limit_in_bytes)".into(),
                    ));
                }
            }
            Ok(())
        };
        if set_limit(dir).is_err() {
            set_swap(dir)?;
            set_limit(dir)?;
        } else {
            set_swap(dir)?;
        }
        if let Some(r) = mem.reservation() {
            write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
        }
        if let Some(s) = mem.swappiness() {
            if s > 100 {
                return Err(Error::Config(format!(
                    "linux.resources.memory.swappiness {s}: must be 0 to 100"
                )));
            }
            write_if_present(dir, "memory.swappiness", &s.to_string())?;
        }
        if mem.disable_oom_killer() == Some(true) {
            write(dir, "memory.oom_control", "1")?;
        }
    }
    if let Some(cpu) = r.cpu() {
        if cpu.shares().is_some() || cpu.quota().is_some() || cpu.period().is_some() {
            let dir = need(paths.dir_of("cpu"), "cpu")?;
            if let Some(s) = cpu.shares() {
                write(dir, "cpu.shares", &s.to_string())?;
            }
            if let Some(p) = cpu.period() {
                write(dir, "cpu.cfs_period_us", &p.to_string())?;
            }
            if let Some(q) = cpu.quota() {
                write(dir, "cpu.cfs_quota_us", &q.to_string())?;
            }
        }
        if cpu.realtime_runtime().is_some() || cpu.realtime_period().is_some() {
            let dir = need(paths.dir_of("cpu"), "cpu")?;
            if let Some(p) = cpu.realtime_period() {
                write(dir, "cpu.rt_period_us", &p.to_string())?;
            }
            if let Some(r) = cpu.realtime_runtime() {
                if r > 0 {
                    give_rt_budget(dir, r as u64)?;
                }
                write(dir, "cpu.rt_runtime_us", &r.to_string())?;
            }
        }
        if cpu.cpus().is_some() || cpu.mems().is_some() {
            let dir = need(paths.dir_of("cpuset"), "cpuset")?;
            if let Some(c) = cpu.cpus() {
                write(dir, "cpuset.cpus", c)?;
            }
            if let Some(m) = cpu.mems() {
                write(dir, "cpuset.mems", m)?;
            }
        }
    }
    if let Some(pids) = r.pids() {
        let dir = need(paths.dir_of("pids"), "pids")?;
        write(dir, "pids.max", &pids_max(pids.limit()))?;
    }
    if let Some(bio) = r.block_io() {
        apply_v1_block_io(paths, bio)?;
    }
    if let Some(hp) = r.hugepage_limits() {
        for l in hp {
            let file = format!("hugetlb.{}.limit_in_bytes", l.page_size());
            let dir = need(paths.dir_of("hugetlb"), "hugetlb")?;
            write(dir, &file, &l.limit().to_string())?;
        }
    }
    Ok(())
}

fn apply_v1_block_io(paths: &CgroupPaths, bio: &LinuxBlockIo) -> Result<()> {
    let throttles = throttles(bio);
    if bio.weight().is_none() && bio.weight_device().is_none() && throttles.is_empty() {
        return Ok(());
    }
    let dir = need(paths.dir_of("blkio"), "blkio")?;
    if let Some(w) = bio.weight() {
        if dir.join("blkio.weight").exists() {
            write(dir, "blkio.weight", &w.to_string())?;
        } else if dir.join("blkio.bfq.weight").exists() {
            write(dir, "blkio.bfq.weight", &w.to_string())?;
        } else {
            return Err(Error::Other(
                "linux.resources.blockIO.weight: the kernel's block I/O scheduler has no weights"
                    .into(),
            ));
        }
    }
    for d in bio.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let line = format!("{}:{} {w}", d.major(), d.minor());
            write(dir, "blkio.weight_device", &line)?;
        }
    }
    // One device per write, as the kernel reads these files.
    for (kind, d) in throttles {
        let line = format!("{}:{} {}", d.major(), d.minor(), d.rate());
        write(dir, &format!("blkio.throttle.{}_device", kind.v1()), &line)?;
    }
    Ok(())
}

/// The four kinds of block I/O throttle: a v1 file each, a key of v2's
/// io.max each.
#[derive(Clone, Copy)]
enum Throttle {
    ReadBps,
    WriteBps,
    ReadIops,
    WriteIops,
}

impl Throttle {
    fn v1(self) -> &'static str {
        match self {
            Throttle::ReadBps => "read_bps",
            Throttle::WriteBps => "write_bps",
            Throttle::ReadIops => "read_iops",
            Throttle::WriteIops => "write_iops",
        }
    }

    fn v2(self) -> &'static str {
        match self {
            Throttle::ReadBps => "rbps",
            Throttle::WriteBps => "wbps",
            Throttle::ReadIops => "riops",
            Throttle::WriteIops => "wiops",
        }
    }
}

fn throttles(bio: &LinuxBlockIo) -> Vec<(Throttle, &LinuxThrottleDevice)> {
    [
        (Throttle::ReadBps, bio.throttle_read_bps_device()),
        (Throttle::WriteBps, bio.throttle_write_bps_device()),
        (Throttle::ReadIops, bio.throttle_read_iops_device()),
        (Throttle::WriteIops, bio.throttle_write_iops_device()),
    ]
    .into_iter()
    .flat_map(|(kind, devices)| devices.iter().flatten().map(move |d| (kind, d)))
    .collect()
}

/// blkio.weight's range (10..1000) onto io.weight's (1..10000).
fn io_weight(w: u16) -> u64 {
    1 + (u64::from(w).saturating_sub(10)) * 9999 / 990
}

fn apply_v2_block_io(dir: &Path, bio: &LinuxBlockIo) -> Result<()> {
    let bfq = dir.join("io.bfq.weight").exists();
    if let Some(w) = bio.weight() {
        if bfq {
            write(dir, "io.bfq.weight", &w.to_string())?;
        } else {
            write(dir, "io.weight", &format!("default {}", io_weight(w)))?;
        }
    }
    for d in bio.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let (file, w) = if bfq {
                ("io.bfq.weight", u64::from(w))
            } else {
                ("io.weight", io_weight(w))
            };
            write(dir, file, &format!("{}:{} {w}", d.major(), d.minor()))?;
        }
    }
    for (kind, d) in throttles(bio) {
        let line = format!("{}:{} {}={}", d.major(), d.minor(), kind.v2(), d.rate());
        write(dir, "io.max", &line)?;
    }
    Ok(())
}

fn pids_max(limit: i64) -> String {
    if limit <= 0 {
        "max".into()
    } else {
        limit.to_string()
    }
}

/// Turns on, in every ancestor of `dir`, the controllers the parent offers, so
/// that `dir` gets its own memory, cpu, pids and io files.
pub fn enable_v2_controllers(dir: &Path) -> Result<()> {
    let mut ancestors: Vec<&Path> = dir.ancestors().skip(1).collect();
    ancestors.reverse();
    for parent in ancestors {
        let controllers = match std::fs::read_to_string(parent.join("cgroup.controllers")) {
            Ok(c) => c,
            Err(_) => continue,
        };
        if !parent.exists() {
            std::fs::create_dir(parent)
                .map_err(|e| Error::io(format!("creating cgroup {}", parent.display()), e))?;
        }
        let want: Vec<String> = controllers
            .split_whitespace()
            .filter(|c| ["cpu", "cpuset", "memory", "pids", "io", "hugetlb"].contains(c))
            .map(|c| format!("+{c}"))
            .collect();
        if !want.is_empty() {
            // Best effort: a controller may be busy in a threaded subtree.
            let _ = std::fs::write(parent.join("cgroup.subtree_control"), want.join(" "));
        }
    }
    Ok(())
}

/// cgroup v2 files from the v1-shaped OCI fields, as the runtime spec's
/// conversion rules say.
pub fn apply_v2(dir: &Path, r: &LinuxResources) -> Result<()> {
    if let Some(mem) = r.memory() {
        if let Some(l) = mem.limit() {
            write(dir, "memory.max", &max_or(l))?;
        }
        if let Some(res) = mem.reservation() {
            write(dir, "memory.low", &max_or(res))?;
        }
        if let Some(s) = mem.swap() {
            // OCI swap is memory+swap; v2's swap.max counts swap alone.
            let v = match (s, mem.limit()) {
                (-1, _) => "max".to_string(),
                (s, Some(l)) if l > 0 => (s - l).max(0).to_string(),
                (s, _) => s.to_string(),
            };
            write_if_present(dir, "memory.swap.max", &v)?;
        }
    }
    if let Some(cpu) = r.cpu() {
        if let Some(shares) = cpu.shares() {
            write(dir, "cpu.weight", &shares_to_weight(shares).to_string())?;
        }
        if cpu.quota().is_some() || cpu.period().is_some() {
            let quota = match cpu.quota() {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".into(),
            };
            let period = cpu.period().unwrap_or(100_000);
            write(dir, "cpu.max", &format!("{quota} {period}"))?;
        }
        if let Some(c) = cpu.cpus() {
            write(dir, "cpuset.cpus", c)?;
        }
        if let Some(m) = cpu.mems() {
            write(dir, "cpuset.mems", m)?;
        }
    }
    if let Some(pids) = r.pids() {
        write(dir, "pids.max", &pids_max(pids.limit()))?;
    }
    if let Some(bio) = r.block_io() {
        apply_v2_block_io(dir, bio)?;
    }
    for (file, value) in r.unified().iter().flatten() {
        if file.contains('/') || file.starts_with('.') {
            return Err(Error::Config(format!(
                "linux.resources.unified: bad file name {file:?}"
            )));
        }
        write(dir, file, value)?;
    }
    Ok(())
}

/// The runtime spec's mapping of cpu shares (2..262144) onto cgroup v2 weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

fn max_or(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}

/// cgroup v1 device rules: deny everything, the spec's rules in order, then
/// what every container needs.
fn apply_v1_devices(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    write(dir, "devices.deny", "a")?;
    for r in rules {
        let line = device_rule(r);
        let file = if r.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write(dir, file, &line)?;
    }
    // After the spec's rules, as runc adds them: a deny-all rule in the spec
    // must not take away the nodes every container has.
    for rule in DEFAULT_ALLOWED {
        write(dir, "devices.allow", rule)?;
    }
    Ok(())
}

/// The nodes a container's /dev always has, and mknod of anything (opening
/// what was made is still governed by the rules).
const DEFAULT_ALLOWED: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

pub fn device_rule(r: &LinuxDeviceCgroup) -> String {
    let typ = match r.typ() {
        None | Some(LinuxDeviceType::A) => "a",
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        Some(LinuxDeviceType::P) => "p",
    };
    if typ == "a" && r.major().is_none() && r.minor().is_none() {
        return "a".into();
    }
    let num = |n: Option<i64>| {
        n.filter(|v| *v >= 0)
            .map_or("*".to_string(), |v| v.to_string())
    };
    let access = r.access().clone().unwrap_or_else(|| "rwm".into());
    format!("{typ} {}:{} {access}", num(r.major()), num(r.minor()))
}

fn need<'a>(dir: Option<&'a Path>, controller: &str) -> Result<&'a Path> {
    dir.ok_or_else(|| Error::Other(format!("the {controller} cgroup controller is not mounted")))
}

/// cgroup v1 real-time budget: a cgroup gets rt runtime only within its
/// parent's (the kernel's ratio runtime/period, summed over siblings). A
/// new cgroup under berth's intermediate ones (which start with 0) could
/// get none: give each ancestor below the hierarchy's root, from the top
/// down, at least the share `runtime` over `dir`'s period needs, as crun
/// does for the cgroups it makes.
fn give_rt_budget(dir: &Path, runtime: u64) -> Result<()> {
    let num = |d: &Path, f: &str| -> Option<u64> {
        std::fs::read_to_string(d.join(f)).ok()?.trim().parse().ok()
    };
    let Some(period) = num(dir, "cpu.rt_period_us").filter(|p| *p > 0) else {
        return Ok(());
    };
    let mut ancestors: Vec<&Path> = dir
        .ancestors()
        .skip(1)
        .take_while(|a| a.join("cpu.rt_runtime_us").exists())
        .collect();
    ancestors.pop(); // the hierarchy's root: the kernel's, not ours
    for anc in ancestors.into_iter().rev() {
        let (Some(have), Some(p)) = (num(anc, "cpu.rt_runtime_us"), num(anc, "cpu.rt_period_us"))
        else {
            continue;
        };
        let need = (runtime as u128 * p as u128).div_ceil(period as u128) as u64;
        if have < need {
            write(anc, "cpu.rt_runtime_us", &need.to_string())?;
        }
    }
    Ok(())
}

fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    std::fs::write(dir.join(file), value).map_err(|e| {
        Error::io(
            format!("writing {value:?} to {}", dir.join(file).display()),
            e,
        )
    })
}

fn write_if_present(dir: &Path, file: &str, value: &str) -> Result<()> {
    if dir.join(file).exists() {
        write(dir, file, value)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "memory.max",
            "memory.low",
            "memory.swap.max",
            "cpu.weight",
            "cpu.max",
            "pids.max",
            "io.weight",
            "cpuset.cpus",
        ] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        d
    }

    fn read(d: &Path, f: &str) -> String {
        std::fs::read_to_string(d.join(f)).unwrap()
    }

    #[test]
    fn v2_files_follow_the_conversion_rules() {
        let d = v2_dir();
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":67108864,"reservation":33554432,"swap":134217728},
                "cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0"},
                "pids":{"limit":64},"blockIO":{"weight":500},
                "unified":{"memory.high":"50000000"}}"#,
        )
        .unwrap();
        apply_v2(d.path(), &r).unwrap();
        assert_eq!(read(d.path(), "memory.max"), "67108864");
        assert_eq!(read(d.path(), "memory.low"), "33554432");
        assert_eq!(read(d.path(), "memory.swap.max"), "67108864");
        assert_eq!(read(d.path(), "cpu.weight"), "39");
        assert_eq!(read(d.path(), "cpu.max"), "50000 100000");
        assert_eq!(read(d.path(), "cpuset.cpus"), "0");
        assert_eq!(read(d.path(), "pids.max"), "64");
        assert_eq!(read(d.path(), "io.weight"), "default 4950");
        assert_eq!(read(d.path(), "memory.high"), "50000000");
    }

    #[test]
    fn v2_block_io_limits() {
        let d = v2_dir();
        let r: LinuxResources = serde_json::from_str(
            r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":1000}],
                "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
                "throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":10}]}}"#,
        )
        .unwrap();
        apply_v2(d.path(), &r).unwrap();
        assert_eq!(read(d.path(), "io.weight"), "8:0 10000");
        // The last write is the one a plain file keeps.
        assert_eq!(read(d.path(), "io.max"), "8:16 wiops=10");
    }

    #[test]
    fn v2_unlimited_values() {
        let d = v2_dir();
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":-1,"swap":-1},"cpu":{"quota":-1},"pids":{"limit":0}}"#,
        )
        .unwrap();
        apply_v2(d.path(), &r).unwrap();
        assert_eq!(read(d.path(), "memory.max"), "max");
        assert_eq!(read(d.path(), "memory.swap.max"), "max");
        assert_eq!(read(d.path(), "cpu.max"), "max 100000");
        assert_eq!(read(d.path(), "pids.max"), "max");
    }

    #[test]
    fn v2_refuses_path_like_unified_keys() {
        let d = v2_dir();
        let r: LinuxResources = serde_json::from_str(r#"{"unified":{"../x":"1"}}"#).unwrap();
        assert!(apply_v2(d.path(), &r).is_err());
    }

    #[test]
    fn weights() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10000);
        assert_eq!(shares_to_weight(1024), 39);
    }

    #[test]
    fn device_rules() {
        let r: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}"#)
                .unwrap();
        assert_eq!(device_rule(&r), "c 1:3 rw");
        let r: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":false,"access":"rwm"}"#).unwrap();
        assert_eq!(device_rule(&r), "a");
        let r: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":true,"type":"b","major":8}"#).unwrap();
        assert_eq!(device_rule(&r), "b 8:* rwm");
    }
}
