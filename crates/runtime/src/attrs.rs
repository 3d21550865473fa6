//! The process attributes set with one system call each, as runc 1.2+ sets
//! them, for the container's init and for exec'd processes alike:
//! process.scheduler (sched_setattr), process.ioPriority (ioprio_set),
//! linux.personality, linux.memoryPolicy (set_mempolicy), and
//! process.execCPUAffinity (sched_setaffinity, exec only).
//!
//! `check_*` run in the runtime process before anything is made, so a bad
//! value is refused naming its field; `apply_*` run in the child, and a
//! refusal by the kernel is reported naming the field too.

use nix::sched::CpuSet;
use nix::unistd::Pid;
use oci_spec::runtime::{
    ExecCPUAffinity, IOPriorityClass, Linux, LinuxMemoryPolicy, LinuxPersonalityDomain,
    LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType, Process,
    Scheduler,
};

use crate::error::{Error, Result};
use berth_sys as sys;

/// A list like "0-3,7" (cpus or NUMA nodes) as its numbers, in order.
pub fn parse_list(s: &str) -> std::result::Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(format!("{s:?}: empty element"));
        }
        let num = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("{s:?}: {t:?} is not a number"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("{s:?}: range {part:?} goes backwards"));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    Ok(out)
}

fn cpu_set(field: &str, list: &str) -> Result<CpuSet> {
    let cpus = parse_list(list).map_err(|e| Error::Config(format!("{field} {e}")))?;
    let mut set = CpuSet::new();
    for c in cpus {
        set.set(c).map_err(|_| {
            Error::Config(format!(
                "{field} {list:?}: cpu {c} is above {}",
                CpuSet::count() - 1
            ))
        })?;
    }
    Ok(set)
}

/// Checks process.scheduler, ioPriority and execCPUAffinity.
pub fn check_process(p: &Process) -> Result<()> {
    if let Some(s) = p.scheduler() {
        sched_attr(s)?;
    }
    if let Some(io) = p.io_priority()
        && !(0..=7).contains(&io.priority())
    {
        return Err(Error::Config(format!(
            "process.ioPriority.priority {}: must be 0 to 7",
            io.priority()
        )));
    }
    if let Some(a) = p.exec_cpu_affinity() {
        affinity_sets(a)?;
    }
    Ok(())
}

/// Checks linux.personality and linux.memoryPolicy.
pub fn check_linux(l: &Linux) -> Result<()> {
    if let Some(p) = l.personality()
        && p.flags().as_ref().is_some_and(|f| !f.is_empty())
    {
        // runc warns and drops them; the specification defines none.
        return Err(Error::Config(format!(
            "linux.personality.flags {:?}: no flag is defined by the runtime specification",
            p.flags().as_ref().unwrap()
        )));
    }
    if let Some(m) = l.memory_policy() {
        mempolicy(m)?;
    }
    Ok(())
}

fn sched_attr(s: &Scheduler) -> Result<sys::SchedAttr> {
    use LinuxSchedulerPolicy::*;
    let policy = match s.policy() {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => 4,
        SchedIdle => 5,
        SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        use LinuxSchedulerFlag::*;
        flags |= match f {
            SchedResetOnFork => 0x01,
            SchedFlagReclaim => 0x02,
            SchedFlagDLOverrun => 0x04,
            SchedFlagKeepPolicy => 0x08,
            SchedFlagKeepParams => 0x10,
            SchedFlagUtilClampMin => 0x20,
            SchedFlagUtilClampMax => 0x40,
        };
    }
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(Error::Config(format!(
            "process.scheduler.nice {nice}: must be -20 to 19"
        )));
    }
    let priority = s.priority().unwrap_or(0);
    let priority = u32::try_from(priority).map_err(|_| {
        Error::Config(format!(
            "process.scheduler.priority {priority}: must not be negative"
        ))
    })?;
    Ok(sys::SchedAttr {
        policy,
        flags,
        nice,
        priority,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    })
}

fn affinity_sets(a: &ExecCPUAffinity) -> Result<(Option<CpuSet>, Option<CpuSet>)> {
    let set = |field: &str, v: &Option<String>| {
        v.as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| cpu_set(field, s))
            .transpose()
    };
    Ok((
        set("process.execCPUAffinity.initial", a.initial())?,
        set("process.execCPUAffinity.final", a.cpu_affinity_final())?,
    ))
}

fn mempolicy(m: &LinuxMemoryPolicy) -> Result<(libc::c_int, Vec<u64>)> {
    use MemoryPolicyModeType::*;
    let mut mode = match m.mode() {
        MpolDefault => 0,
        MpolPreferred => 1,
        MpolBind => 2,
        MpolInterleave => 3,
        MpolLocal => 4,
        MpolPreferredMany => 5,
        MpolWeightedInterleave => 6,
    };
    for f in m.flags().iter().flatten() {
        mode |= match f {
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
        };
    }
    let mut words: Vec<u64> = Vec::new();
    if let Some(nodes) = m.nodes().as_deref().filter(|n| !n.trim().is_empty()) {
        let list = parse_list(nodes)
            .map_err(|e| Error::Config(format!("linux.memoryPolicy.nodes {e}")))?;
        for n in list {
            if n >= 4096 {
                return Err(Error::Config(format!(
                    "linux.memoryPolicy.nodes {nodes:?}: node {n} is out of range"
                )));
            }
            if words.len() <= n / 64 {
                words.resize(n / 64 + 1, 0);
            }
            words[n / 64] |= 1 << (n % 64);
        }
    }
    Ok((mode, words))
}

/// process.scheduler and process.ioPriority, applied to the calling process
/// while it still has its privileges (init and exec alike, as runc).
pub fn apply_process(p: &Process, has_cpuset: bool) -> Result<()> {
    if let Some(s) = p.scheduler() {
        let attr = sched_attr(s)?;
        if let Err(e) = sys::sched_setattr(&attr) {
            let hint = if e.raw_os_error() == Some(libc::EPERM) && has_cpuset {
                // runc's words: a real-time or deadline policy needs every cpu.
                " (process scheduler can't be used together with AllowedCPUs)"
            } else {
                ""
            };
            return Err(Error::Other(format!(
                "process.scheduler: sched_setattr policy {} priority {} nice {}: {e}{hint}",
                s.policy(),
                attr.priority,
                attr.nice
            )));
        }
    }
    if let Some(io) = p.io_priority() {
        let class = match io.class() {
            IOPriorityClass::IoprioClassRt => 1,
            IOPriorityClass::IoprioClassBe => 2,
            IOPriorityClass::IoprioClassIdle => 3,
        };
        sys::ioprio_set_self(class, io.priority() as u32).map_err(|e| {
            Error::Other(format!(
                "process.ioPriority: ioprio_set class {} priority {}: {e}",
                io.class(),
                io.priority()
            ))
        })?;
    }
    Ok(())
}

/// linux.personality and linux.memoryPolicy, applied to the calling process
/// (init and exec alike, as runc).
pub fn apply_linux(l: &Linux) -> Result<()> {
    if let Some(p) = l.personality() {
        let persona = match p.domain() {
            LinuxPersonalityDomain::PerLinux => 0x0000,
            LinuxPersonalityDomain::PerLinux32 => 0x0008,
        };
        sys::set_personality(persona)
            .map_err(|e| Error::Other(format!("linux.personality.domain {}: {e}", p.domain())))?;
    }
    if let Some(m) = l.memory_policy() {
        let (mode, nodes) = mempolicy(m)?;
        sys::set_mempolicy(mode, &nodes).map_err(|e| {
            Error::Other(format!(
                "linux.memoryPolicy: set_mempolicy {} nodes {:?}: {e}",
                m.mode(),
                m.nodes().as_deref().unwrap_or("")
            ))
        })?;
    }
    Ok(())
}

/// Which affinity an exec'd process gets before it joins the container's
/// cgroup (`initial`), and after (`final`, or every cpu so that it does not
/// keep the runtime's: the kernel then limits it to the cgroup's cpuset).
pub struct ExecAffinity {
    initial: Option<CpuSet>,
    last: Option<CpuSet>,
    given: bool,
}

impl ExecAffinity {
    pub fn of(p: &Process) -> Result<ExecAffinity> {
        match p.exec_cpu_affinity() {
            None => Ok(ExecAffinity {
                initial: None,
                last: None,
                given: false,
            }),
            Some(a) => {
                let (initial, last) = affinity_sets(a)?;
                let given = initial.is_some() || last.is_some();
                Ok(ExecAffinity {
                    initial,
                    last,
                    given,
                })
            }
        }
    }

    /// Before joining the cgroup.
    pub fn apply_initial(&self) -> Result<()> {
        if let Some(set) = &self.initial {
            nix::sched::sched_setaffinity(Pid::from_raw(0), set).map_err(|e| {
                Error::Other(format!(
                    "process.execCPUAffinity.initial: sched_setaffinity: {e}"
                ))
            })?;
        }
        Ok(())
    }

    /// After joining the cgroup.
    pub fn apply_final(&self) -> Result<()> {
        if let Some(set) = &self.last {
            return nix::sched::sched_setaffinity(Pid::from_raw(0), set).map_err(|e| {
                Error::Other(format!(
                    "process.execCPUAffinity.final: sched_setaffinity: {e}"
                ))
            });
        }
        if !self.given {
            // As runc: nothing asked, so do not inherit the runtime's
            // affinity; every cpu, which the kernel narrows to the cpuset.
            let mut all = CpuSet::new();
            for c in 0..CpuSet::count() {
                let _ = all.set(c);
            }
            let _ = nix::sched::sched_setaffinity(Pid::from_raw(0), &all);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(parse_list("0-1,3").unwrap(), vec![0, 1, 3]);
        assert_eq!(parse_list("7").unwrap(), vec![7]);
        assert!(parse_list("3-1").is_err());
        assert!(parse_list("a").is_err());
        assert!(parse_list("1,,2").is_err());
    }

    #[test]
    fn mempolicy_words() {
        let m: LinuxMemoryPolicy = serde_json::from_str(
            r#"{"mode":"MPOL_BIND","nodes":"0,65","flags":["MPOL_F_STATIC_NODES"]}"#,
        )
        .unwrap();
        let (mode, words) = mempolicy(&m).unwrap();
        assert_eq!(mode, 2 | 1 << 15);
        assert_eq!(words, vec![1, 2]);
    }
}
