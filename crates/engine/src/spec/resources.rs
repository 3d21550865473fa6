//! `linux.resources`: the cgroup limits of a host config, as dockerd's
//! WithResources writes them. What the host cannot enforce was discarded at
//! create (sysinfo.rs); zero means "not set" throughout.

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxCpuBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder,
    LinuxMemory, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
    LinuxThrottleDevice, LinuxThrottleDeviceBuilder, LinuxWeightDevice, LinuxWeightDeviceBuilder,
};

use super::oci;
use crate::defaults;
use crate::error::{Error, Result};
use crate::model::{HostConfig, ThrottleDevice};

/// The limits; `device_rules` are those `--device` and
/// `--device-cgroup-rule` allow.
pub(super) fn resources(
    hc: &HostConfig,
    device_rules: Vec<LinuxDeviceCgroup>,
) -> Result<LinuxResources> {
    let mut r = LinuxResourcesBuilder::default().devices(device_access(hc, device_rules)?);
    if let Some(m) = memory(hc)? {
        r = r.memory(m);
    }
    if let Some(c) = cpu(hc)? {
        r = r.cpu(c);
    }
    if let Some(limit) = hc.pids_limit.filter(|l| *l != 0) {
        r = r.pids(
            LinuxPidsBuilder::default()
                .limit(limit)
                .build()
                .map_err(oci)?,
        );
    }
    if let Some(io) = block_io(hc)? {
        r = r.block_io(io);
    }
    r.build().map_err(oci)
}

/// Nothing but the given rules, or everything for --privileged.
fn device_access(hc: &HostConfig, rules: Vec<LinuxDeviceCgroup>) -> Result<Vec<LinuxDeviceCgroup>> {
    let all = |allow: bool| {
        LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .access("rwm")
            .build()
            .map_err(oci)
    };
    if hc.privileged {
        return Ok(vec![all(true)?]);
    }
    let mut out = vec![all(false)?];
    out.extend(rules);
    Ok(out)
}

fn memory(hc: &HostConfig) -> Result<Option<LinuxMemory>> {
    let mut m = LinuxMemoryBuilder::default();
    let mut set = false;
    if hc.memory > 0 {
        m = m.limit(hc.memory);
        // -1 is unlimited swap; 0 leaves the kernel's.
        if hc.memory_swap != 0 {
            m = m.swap(hc.memory_swap);
        }
        set = true;
    }
    if hc.memory_reservation > 0 {
        m = m.reservation(hc.memory_reservation);
        set = true;
    }
    if let Some(s) = hc.memory_swappiness.filter(|s| *s >= 0) {
        m = m.swappiness(s as u64);
        set = true;
    }
    // Leaving the OOM killer on is the kernel's default: only "off" is news.
    if hc.oom_kill_disable == Some(true) {
        m = m.disable_oom_killer(true);
        set = true;
    }
    set.then(|| m.build().map_err(oci)).transpose()
}

fn cpu(hc: &HostConfig) -> Result<Option<LinuxCpu>> {
    let mut c = LinuxCpuBuilder::default();
    let mut set = false;
    if hc.cpu_shares > 0 {
        c = c.shares(hc.cpu_shares as u64);
        set = true;
    }
    if hc.nano_cpus > 0 {
        let period = defaults::CPU_PERIOD;
        c = c
            .period(period as u64)
            .quota(hc.nano_cpus * period / 1_000_000_000);
        set = true;
    } else {
        if hc.cpu_quota > 0 {
            c = c.quota(hc.cpu_quota);
            set = true;
        }
        if hc.cpu_period > 0 {
            c = c.period(hc.cpu_period as u64);
            set = true;
        }
    }
    if hc.cpu_realtime_period > 0 {
        c = c.realtime_period(hc.cpu_realtime_period as u64);
        set = true;
    }
    if hc.cpu_realtime_runtime > 0 {
        c = c.realtime_runtime(hc.cpu_realtime_runtime);
        set = true;
    }
    if !hc.cpuset_cpus.is_empty() {
        c = c.cpus(hc.cpuset_cpus.clone());
        set = true;
    }
    if !hc.cpuset_mems.is_empty() {
        c = c.mems(hc.cpuset_mems.clone());
        set = true;
    }
    set.then(|| c.build().map_err(oci)).transpose()
}

/// `--blkio-weight`, `--blkio-weight-device` and the read/write throttles,
/// the devices by their numbers as the kernel takes them.
fn block_io(hc: &HostConfig) -> Result<Option<LinuxBlockIo>> {
    let throttles = |devices: &Option<Vec<ThrottleDevice>>, field: &str| {
        let all = devices
            .iter()
            .flatten()
            .map(|d| throttle_device(d, field))
            .collect::<Result<Vec<_>>>()?;
        Ok::<_, Error>((!all.is_empty()).then_some(all))
    };
    let weights = hc
        .blkio_weight_device
        .iter()
        .flatten()
        .map(|d| weight_device(&d.path, d.weight))
        .collect::<Result<Vec<_>>>()?;
    let mut io = LinuxBlockIo::default();
    io.set_weight((hc.blkio_weight > 0).then_some(hc.blkio_weight));
    io.set_weight_device((!weights.is_empty()).then_some(weights));
    io.set_throttle_read_bps_device(throttles(&hc.blkio_device_read_bps, "BlkioDeviceReadBps")?);
    io.set_throttle_write_bps_device(throttles(
        &hc.blkio_device_write_bps,
        "BlkioDeviceWriteBps",
    )?);
    io.set_throttle_read_iops_device(throttles(
        &hc.blkio_device_read_iops,
        "BlkioDeviceReadIOps",
    )?);
    io.set_throttle_write_iops_device(throttles(
        &hc.blkio_device_write_iops,
        "BlkioDeviceWriteIOps",
    )?);
    Ok((io != LinuxBlockIo::default()).then_some(io))
}

/// A block device's numbers, from its node on the host.
fn block_device(path: &str, field: &str) -> Result<(i64, i64)> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::Invalid(format!("HostConfig.{field}: device {path:?}: {e}")))?;
    match super::devices::device_numbers(&meta) {
        Some((oci_spec::runtime::LinuxDeviceType::B, major, minor)) => Ok((major, minor)),
        _ => Err(Error::Invalid(format!(
            "HostConfig.{field}: {path:?} is not a block device"
        ))),
    }
}

fn weight_device(path: &str, weight: u16) -> Result<LinuxWeightDevice> {
    let (major, minor) = block_device(path, "BlkioWeightDevice")?;
    LinuxWeightDeviceBuilder::default()
        .major(major)
        .minor(minor)
        .weight(weight)
        .build()
        .map_err(oci)
}

fn throttle_device(d: &ThrottleDevice, field: &str) -> Result<LinuxThrottleDevice> {
    let (major, minor) = block_device(&d.path, field)?;
    LinuxThrottleDeviceBuilder::default()
        .major(major)
        .minor(minor)
        .rate(d.rate)
        .build()
        .map_err(oci)
}
