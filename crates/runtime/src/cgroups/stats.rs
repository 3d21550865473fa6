//! Resource usage read from the cgroup files, in the shape of runc's `events --stats`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::CgroupPaths;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub memory: Memory,
    pub pids: Pids,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// CPU time in nanoseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CpuUsage {
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub percpu: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Throttling {
    pub periods: u64,
    #[serde(rename = "throttledPeriods")]
    pub throttled_periods: u64,
    #[serde(rename = "throttledTime")]
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Memory {
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MemoryEntry {
    pub limit: u64,
    pub usage: u64,
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Pids {
    pub current: u64,
    pub limit: u64,
}

pub fn read(paths: &CgroupPaths) -> Stats {
    if paths.v2_only {
        return paths.unified.as_deref().map(read_v2).unwrap_or_default();
    }
    let mut s = Stats::default();
    if let Some(d) = paths.dir_of("cpuacct") {
        s.cpu.usage.total = num(d, "cpuacct.usage");
        s.cpu.usage.percpu = std::fs::read_to_string(d.join("cpuacct.usage_percpu"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        // cpuacct.stat counts USER_HZ ticks (100 a second on Linux).
        let kv = keyed(d, "cpuacct.stat");
        s.cpu.usage.user = kv.get("user").copied().unwrap_or(0) * 10_000_000;
        s.cpu.usage.kernel = kv.get("system").copied().unwrap_or(0) * 10_000_000;
    }
    if let Some(d) = paths.dir_of("cpu") {
        let kv = keyed(d, "cpu.stat");
        s.cpu.throttling = Throttling {
            periods: kv.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: kv.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: kv.get("throttled_time").copied().unwrap_or(0),
        };
    }
    if let Some(d) = paths.dir_of("memory") {
        s.memory.usage = MemoryEntry {
            limit: num(d, "memory.limit_in_bytes"),
            usage: num(d, "memory.usage_in_bytes"),
            max: num(d, "memory.max_usage_in_bytes"),
            failcnt: num(d, "memory.failcnt"),
        };
        s.memory.swap = MemoryEntry {
            limit: num(d, "memory.memsw.limit_in_bytes"),
            usage: num(d, "memory.memsw.usage_in_bytes"),
            max: num(d, "memory.memsw.max_usage_in_bytes"),
            failcnt: num(d, "memory.memsw.failcnt"),
        };
        s.memory.raw = keyed(d, "memory.stat");
        s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
    }
    if let Some(d) = paths.dir_of("pids") {
        s.pids = Pids {
            current: num(d, "pids.current"),
            limit: num(d, "pids.max"),
        };
    }
    s
}

fn read_v2(d: &Path) -> Stats {
    let mut s = Stats::default();
    let cpu = keyed(d, "cpu.stat");
    let get = |k: &str| cpu.get(k).copied().unwrap_or(0);
    s.cpu.usage.total = get("usage_usec") * 1000;
    s.cpu.usage.user = get("user_usec") * 1000;
    s.cpu.usage.kernel = get("system_usec") * 1000;
    s.cpu.throttling = Throttling {
        periods: get("nr_periods"),
        throttled_periods: get("nr_throttled"),
        throttled_time: get("throttled_usec") * 1000,
    };
    s.memory.usage = MemoryEntry {
        limit: num(d, "memory.max"),
        usage: num(d, "memory.current"),
        max: num(d, "memory.peak"),
        failcnt: keyed(d, "memory.events").get("max").copied().unwrap_or(0),
    };
    s.memory.swap = MemoryEntry {
        limit: num(d, "memory.swap.max"),
        usage: num(d, "memory.swap.current"),
        ..Default::default()
    };
    s.memory.raw = keyed(d, "memory.stat");
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    s.pids = Pids {
        current: num(d, "pids.current"),
        limit: num(d, "pids.max"),
    };
    s
}

/// A file holding one number; "max" reads as u64::MAX, absence as 0.
fn num(d: &Path, file: &str) -> u64 {
    let text = std::fs::read_to_string(d.join(file)).unwrap_or_default();
    let t = text.trim();
    if t == "max" {
        u64::MAX
    } else {
        t.parse().unwrap_or(0)
    }
}

/// A file of "key value" lines.
fn keyed(d: &Path, file: &str) -> BTreeMap<String, u64> {
    std::fs::read_to_string(d.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_stats_from_files() {
        let d = tempfile::tempdir().unwrap();
        let w = |f: &str, v: &str| std::fs::write(d.path().join(f), v).unwrap();
        w(
            "cpu.stat",
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 3\n",
        );
        w("memory.current", "4096\n");
        w("memory.max", "max\n");
        w("pids.current", "2\n");
        w("pids.max", "10\n");
        let paths = CgroupPaths {
            unified: Some(d.path().into()),
            v2_only: true,
            ..Default::default()
        };
        let s = read(&paths);
        assert_eq!(s.cpu.usage.total, 1_500_000);
        assert_eq!(s.cpu.throttling.periods, 3);
        assert_eq!(s.memory.usage.usage, 4096);
        assert_eq!(s.memory.usage.limit, u64::MAX);
        assert_eq!((s.pids.current, s.pids.limit), (2, 10));
    }
}
