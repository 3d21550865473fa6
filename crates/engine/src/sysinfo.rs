//! What the host's cgroups can enforce, found as dockerd's pkg/sysinfo finds
//! it, and a request's resources checked against it as dockerd's
//! verifyPlatformContainerResources checks them: a limit the kernel cannot
//! apply is discarded with dockerd's warning (the create or update
//! response's `Warnings`), a value out of range is refused.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use berth_runtime::cgroups::{Hierarchy, Layout};

use crate::error::{Error, Result};
use crate::model::HostConfig;

/// dockerd's smallest memory limit and reservation.
const MIN_MEMORY: i64 = 6 << 20;

/// What the host's cgroups offer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SysInfo {
    pub memory: bool,
    pub swap_limit: bool,
    pub memory_reservation: bool,
    pub oom_kill_disable: bool,
    pub memory_swappiness: bool,
    pub cpu_shares: bool,
    pub cpu_cfs: bool,
    /// cgroup v1's cpu.rt_period_us: real-time group scheduling.
    pub cpu_realtime: bool,
    pub cpuset: bool,
    /// The CPUs and memory nodes a cpuset may name, as the kernel lists
    /// them ("0-3").
    pub cpus: String,
    pub mems: String,
    pub pids: bool,
    pub blkio_weight: bool,
    pub blkio_weight_device: bool,
    pub blkio_read_bps: bool,
    pub blkio_write_bps: bool,
    pub blkio_read_iops: bool,
    pub blkio_write_iops: bool,
}

impl SysInfo {
    /// The host's, read once: the daemon's cgroup mounts do not change
    /// under it.
    pub fn host() -> &'static SysInfo {
        static INFO: OnceLock<SysInfo> = OnceLock::new();
        INFO.get_or_init(|| SysInfo::read(&Layout::host()))
    }

    pub fn read(layout: &Layout) -> SysInfo {
        match layout.unified() {
            Some(root) if layout.is_v2_only() => SysInfo::v2(root),
            _ => SysInfo::v1(layout),
        }
    }

    /// cgroup v1 (and hybrid hosts, whose limits are v1's): a controller's
    /// file at the root of its hierarchy says the kernel has the feature.
    fn v1(layout: &Layout) -> SysInfo {
        let mount = |controller: &str| -> Option<PathBuf> {
            layout.hierarchies.iter().find_map(|h| match h {
                Hierarchy::V1 { key, mount } if key.split(',').any(|k| k == controller) => {
                    Some(mount.clone())
                }
                _ => None,
            })
        };
        let has =
            |controller: &str, file: &str| mount(controller).is_some_and(|m| m.join(file).exists());
        let cpuset = mount("cpuset");
        SysInfo {
            memory: mount("memory").is_some(),
            swap_limit: has("memory", "memory.memsw.limit_in_bytes"),
            memory_reservation: has("memory", "memory.soft_limit_in_bytes"),
            oom_kill_disable: has("memory", "memory.oom_control"),
            memory_swappiness: has("memory", "memory.swappiness"),
            cpu_shares: has("cpu", "cpu.shares"),
            cpu_cfs: has("cpu", "cpu.cfs_quota_us"),
            cpu_realtime: has("cpu", "cpu.rt_period_us"),
            cpus: read_list(cpuset.as_deref(), "cpuset.cpus"),
            mems: read_list(cpuset.as_deref(), "cpuset.mems"),
            cpuset: cpuset.is_some(),
            pids: mount("pids").is_some(),
            blkio_weight: has("blkio", "blkio.weight"),
            blkio_weight_device: has("blkio", "blkio.weight_device"),
            blkio_read_bps: has("blkio", "blkio.throttle.read_bps_device"),
            blkio_write_bps: has("blkio", "blkio.throttle.write_bps_device"),
            blkio_read_iops: has("blkio", "blkio.throttle.read_iops_device"),
            blkio_write_iops: has("blkio", "blkio.throttle.write_iops_device"),
        }
    }

    /// cgroup v2: the root's controllers; v2 has no OOM-killer switch and
    /// no swappiness.
    fn v2(root: &Path) -> SysInfo {
        let controllers =
            std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
        let io = has("io");
        SysInfo {
            memory: has("memory"),
            swap_limit: has("memory") && swap_accounted(root),
            memory_reservation: has("memory"),
            oom_kill_disable: false,
            memory_swappiness: false,
            cpu_shares: has("cpu"),
            cpu_cfs: has("cpu"),
            // cgroup v2 has no real-time budgets.
            cpu_realtime: false,
            cpuset: has("cpuset"),
            cpus: read_list(Some(root), "cpuset.cpus.effective"),
            mems: read_list(Some(root), "cpuset.mems.effective"),
            pids: has("pids"),
            blkio_weight: io,
            blkio_weight_device: io,
            blkio_read_bps: io,
            blkio_write_bps: io,
            blkio_read_iops: io,
            blkio_write_iops: io,
        }
    }
}

fn read_list(dir: Option<&Path>, file: &str) -> String {
    dir.and_then(|d| std::fs::read_to_string(d.join(file)).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Whether the kernel accounts swap per cgroup: a cgroup below the root
/// (the root has no memory files) has memory.swap.max.
fn swap_accounted(root: &Path) -> bool {
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("0::")
                .map(|p| p.trim_start_matches('/').to_string())
        })
        .filter(|p| !p.is_empty());
    if let Some(own) = own {
        return root.join(own).join("memory.swap.max").exists();
    }
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.path().join("memory.swap.max").exists())
}

/// Checks `hc`'s resources against `info` as dockerd does, clearing what
/// the host cannot enforce. `update`: as `docker update` checks them.
pub fn verify(hc: &mut HostConfig, info: &SysInfo, update: bool) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    memory(hc, info, update, &mut warnings)?;
    cpu(hc, info, &mut warnings)?;
    cpuset(hc, info, &mut warnings)?;
    blkio(hc, info, &mut warnings)?;
    not_linux(hc, &mut warnings)?;
    Ok(warnings)
}

/// What dockerd fills in at create when the request leaves it out.
pub fn adapt(hc: &mut HostConfig) {
    if hc.memory > 0 && hc.memory_swap == 0 {
        // As much swap again as memory.
        hc.memory_swap = hc.memory * 2;
    }
    // dockerd's defaults, which inspect shows (`verify` then discards the
    // OOM-killer switch where the kernel has none, as dockerd does).
    if hc.shm_size == 0 {
        hc.shm_size = crate::defaults::SHM_SIZE;
    }
    if hc.oom_kill_disable.is_none() {
        hc.oom_kill_disable = Some(false);
    }
    if hc.ipc_mode.is_empty() {
        hc.ipc_mode = "private".into();
    }
}

fn invalid<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::Invalid(msg.into()))
}

fn memory(hc: &mut HostConfig, info: &SysInfo, update: bool, w: &mut Vec<String>) -> Result<()> {
    // -1 is how clients say "unset".
    if hc.memory_swappiness == Some(-1) {
        hc.memory_swappiness = None;
    }
    if hc.memory < 0 || hc.memory_reservation < 0 {
        return invalid("resource values cannot be negative");
    }
    if hc.memory != 0 && hc.memory < MIN_MEMORY {
        return invalid("Minimum memory limit allowed is 6MB");
    }
    if hc.memory > 0 && !info.memory {
        w.push("Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.".into());
        hc.memory = 0;
        hc.memory_swap = -1;
    }
    if hc.memory > 0 && hc.memory_swap != -1 && !info.swap_limit {
        w.push("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.".into());
        hc.memory_swap = -1;
    }
    if hc.memory > 0 && hc.memory_swap > 0 && hc.memory_swap < hc.memory {
        return invalid("Minimum memoryswap limit should be larger than memory limit, see usage");
    }
    if hc.memory == 0 && hc.memory_swap > 0 && !update {
        return invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        );
    }
    if hc.memory_swappiness.is_some() && !info.memory_swappiness {
        w.push("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.".into());
        hc.memory_swappiness = None;
    }
    if let Some(s) = hc.memory_swappiness.filter(|s| !(0..=100).contains(s)) {
        return invalid(format!(
            "Invalid value: {s}, valid memory swappiness range is 0-100"
        ));
    }
    if hc.memory_reservation > 0 && !info.memory_reservation {
        w.push("Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.".into());
        hc.memory_reservation = 0;
    }
    if hc.memory_reservation > 0 && hc.memory_reservation < MIN_MEMORY {
        return invalid("Minimum memory reservation allowed is 6MB");
    }
    if hc.memory > 0 && hc.memory_reservation > 0 && hc.memory < hc.memory_reservation {
        return invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        );
    }
    if hc.oom_kill_disable.is_some() && !info.oom_kill_disable {
        if hc.oom_kill_disable == Some(true) {
            w.push("Your kernel does not support OomKillDisable. OomKillDisable discarded.".into());
        }
        hc.oom_kill_disable = None;
    }
    if hc.oom_kill_disable == Some(true) && hc.memory == 0 {
        w.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".into());
    }
    if hc.pids_limit.is_some() && !info.pids {
        if hc.pids_limit.is_some_and(|l| l > 0) {
            w.push("Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.".into());
        }
        hc.pids_limit = None;
    }
    if hc.kernel_memory > 0 {
        // Gone from cgroup v2 and deprecated in v1 since Linux 5.4.
        w.push("Specifying a kernel memory limit is deprecated and will be removed in a future release.".into());
        w.push("Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.".into());
        hc.kernel_memory = 0;
    }
    if hc.kernel_memory_tcp > 0 {
        w.push("Your kernel does not support kernel memory TCP limit capabilities or the cgroup is not mounted. Limitation discarded.".into());
        hc.kernel_memory_tcp = 0;
    }
    Ok(())
}

fn cpu(hc: &mut HostConfig, info: &SysInfo, w: &mut Vec<String>) -> Result<()> {
    if hc.nano_cpus < 0 || hc.cpu_shares < 0 || hc.cpu_period < 0 {
        return invalid("resource values cannot be negative");
    }
    if hc.nano_cpus > 0 && hc.cpu_period > 0 {
        return invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    }
    if hc.nano_cpus > 0 && hc.cpu_quota > 0 {
        return invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    }
    if hc.nano_cpus > 0 && !info.cpu_cfs {
        return invalid(
            "NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted",
        );
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    if hc.nano_cpus > cpus * 1_000_000_000 {
        return invalid(format!(
            "range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        ));
    }
    if hc.cpu_shares > 0 && !info.cpu_shares {
        w.push(
            "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded."
                .into(),
        );
        hc.cpu_shares = 0;
    }
    if (hc.cpu_period != 0 || hc.cpu_quota != 0) && !info.cpu_cfs {
        w.push(
            "Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.".into(),
        );
        hc.cpu_period = 0;
        hc.cpu_quota = 0;
    }
    if hc.cpu_period != 0 && !(1000..=1_000_000).contains(&hc.cpu_period) {
        return invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        );
    }
    if hc.cpu_quota > 0 && hc.cpu_quota < 1000 {
        return invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    // dockerd's words and order; the budget itself is the runtime's to
    // find (it raises berth's intermediate cgroups' share).
    if (hc.cpu_realtime_period != 0 || hc.cpu_realtime_runtime != 0) && !info.cpu_realtime {
        return invalid("Your kernel does not support CPU real-time scheduler");
    }
    if hc.cpu_realtime_period < 0 || hc.cpu_realtime_runtime < 0 {
        return invalid("resource values cannot be negative");
    }
    if hc.cpu_realtime_period != 0
        && hc.cpu_realtime_runtime != 0
        && hc.cpu_realtime_runtime > hc.cpu_realtime_period
    {
        return invalid("cpu real-time runtime cannot be higher than cpu real-time period");
    }
    Ok(())
}

fn cpuset(hc: &mut HostConfig, info: &SysInfo, w: &mut Vec<String>) -> Result<()> {
    if (!hc.cpuset_cpus.is_empty() || !hc.cpuset_mems.is_empty()) && !info.cpuset {
        w.push(
            "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded."
                .into(),
        );
        hc.cpuset_cpus.clear();
        hc.cpuset_mems.clear();
    }
    for (asked, have, what, words) in [
        (&hc.cpuset_cpus, &info.cpus, "cpuset cpus", "CPUs"),
        (&hc.cpuset_mems, &info.mems, "cpuset mems", "memory nodes"),
    ] {
        if asked.is_empty() {
            continue;
        }
        let wanted = parse_list(asked)
            .map_err(|e| Error::Invalid(format!("Invalid value {asked} for {what}: {e}")))?;
        let available = parse_list(have).unwrap_or_default();
        if !wanted.iter().all(|n| available.contains(n)) {
            return invalid(format!(
                "Requested {words} are not available - requested {asked}, available: {have}"
            ));
        }
    }
    Ok(())
}

/// A kernel list ("0-3,5") as numbers.
fn parse_list(s: &str) -> std::result::Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let bad = || format!("invalid format: {s}");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b || b - a > 4096 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(out)
}

fn blkio(hc: &mut HostConfig, info: &SysInfo, w: &mut Vec<String>) -> Result<()> {
    if hc.blkio_weight > 0 && !info.blkio_weight {
        w.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".into());
        hc.blkio_weight = 0;
    }
    if hc.blkio_weight > 0 && !(10..=1000).contains(&hc.blkio_weight) {
        return invalid("Range of blkio weight is from 10 to 1000");
    }
    if hc.io_maximum_bandwidth != 0 || hc.io_maximum_iops != 0 {
        return invalid(
            "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps",
        );
    }
    let present = |v: &Option<Vec<_>>| v.as_ref().is_some_and(|v: &Vec<_>| !v.is_empty());
    if present(&hc.blkio_weight_device) && !info.blkio_weight_device {
        w.push("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.".into());
        hc.blkio_weight_device = None;
    }
    for d in hc.blkio_weight_device.iter().flatten() {
        if !(10..=1000).contains(&d.weight) {
            return invalid(format!(
                "invalid weight for device {}: {} (the range is 10 to 1000)",
                d.path, d.weight
            ));
        }
    }
    let throttles = [
        (
            &mut hc.blkio_device_read_bps,
            info.blkio_read_bps,
            "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.",
        ),
        (
            &mut hc.blkio_device_write_bps,
            info.blkio_write_bps,
            "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded.",
        ),
        (
            &mut hc.blkio_device_read_iops,
            info.blkio_read_iops,
            "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded.",
        ),
        (
            &mut hc.blkio_device_write_iops,
            info.blkio_write_iops,
            "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.",
        ),
    ];
    for (devices, supported, warning) in throttles {
        if devices.as_ref().is_some_and(|d| !d.is_empty()) && !supported {
            w.push(warning.into());
            *devices = None;
        }
    }
    Ok(())
}

/// Windows' settings, which dockerd on Linux discards or refuses.
fn not_linux(hc: &mut HostConfig, w: &mut Vec<String>) -> Result<()> {
    if hc.cpu_percent > 0 {
        w.push("linux does not support CPU percent. Percent discarded.".into());
        hc.cpu_percent = 0;
    }
    if hc.cpu_count > 0 {
        w.push("linux does not support CPU count. Count discarded.".into());
        hc.cpu_count = 0;
    }
    match hc.isolation.as_str() {
        "" | "default" => Ok(()),
        other => invalid(format!(
            "Invalid isolation: \"{other}\" - linux only supports 'default'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(v: serde_json::Value) -> HostConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("0-2,5").unwrap(), [0, 1, 2, 5]);
        assert_eq!(parse_list("").unwrap(), Vec::<u32>::new());
        assert!(parse_list("1-x").is_err());
        assert!(parse_list("3-1").is_err());
    }

    #[test]
    fn unsupported_limits_are_discarded_with_dockerds_warnings() {
        let v2 = SysInfo {
            memory: true,
            swap_limit: true,
            memory_reservation: true,
            cpus: "0-1".into(),
            mems: "0".into(),
            cpuset: true,
            pids: true,
            cpu_cfs: true,
            cpu_shares: true,
            ..Default::default()
        };
        let mut h = hc(serde_json::json!({
            "Memory": 64 << 20, "MemorySwappiness": 10, "OomKillDisable": true,
            "BlkioWeight": 300, "BlkioDeviceReadBps": [{"Path": "/dev/vda", "Rate": 1}],
            "CpuPercent": 50}));
        let w = verify(&mut h, &v2, false).unwrap();
        assert_eq!(
            w,
            [
                "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.",
                "Your kernel does not support OomKillDisable. OomKillDisable discarded.",
                "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
                "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.",
                "linux does not support CPU percent. Percent discarded.",
            ]
        );
        assert_eq!(
            (
                h.memory_swappiness,
                h.oom_kill_disable,
                h.blkio_weight,
                h.cpu_percent
            ),
            (None, None, 0, 0)
        );
        assert!(h.blkio_device_read_bps.is_none());
        // Clients' "unset" values pass without a word.
        let mut h = hc(
            serde_json::json!({"MemorySwappiness": -1, "OomKillDisable": false,
            "BlkioWeightDevice": [], "BlkioDeviceReadBps": []}),
        );
        assert_eq!(verify(&mut h, &v2, false).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn bad_values_are_refused() {
        let all = SysInfo {
            memory: true,
            swap_limit: true,
            memory_swappiness: true,
            cpuset: true,
            cpus: "0-1".into(),
            mems: "0".into(),
            cpu_cfs: true,
            ..Default::default()
        };
        for (v, says) in [
            (
                serde_json::json!({"MemorySwappiness": 101}),
                "valid memory swappiness range is 0-100",
            ),
            (
                serde_json::json!({"CpusetMems": "1"}),
                "Requested memory nodes are not available - requested 1, available: 0",
            ),
            (
                serde_json::json!({"CpusetCpus": "0-x"}),
                "Invalid value 0-x for cpuset cpus",
            ),
            (
                serde_json::json!({"NanoCpus": 1, "CpuQuota": 2000}),
                "Nano CPUs and CPU Quota",
            ),
            (serde_json::json!({"IOMaximumIOps": 5}), "Maximum IO"),
            (
                serde_json::json!({"Isolation": "hyperv"}),
                "Invalid isolation",
            ),
            (
                serde_json::json!({"Memory": 1024}),
                "Minimum memory limit allowed is 6MB",
            ),
        ] {
            let e = verify(&mut hc(v.clone()), &all, false)
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{v}: {e}");
        }
    }

    #[test]
    fn memory_without_swap_accounting_keeps_no_swap() {
        let info = SysInfo {
            memory: true,
            ..Default::default()
        };
        let mut h = hc(serde_json::json!({"Memory": 64 << 20}));
        adapt(&mut h);
        assert_eq!(h.memory_swap, 128 << 20);
        let w = verify(&mut h, &info, false).unwrap();
        assert!(w[0].contains("Memory limited without swap"), "{w:?}");
        assert_eq!(h.memory_swap, -1);
    }
}
