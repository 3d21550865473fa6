//! The spec's seccomp profile (Docker's format) compiled by libseccomp.

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use crate::error::{Error, Result};

/// Checks what parsing cannot: actions we cannot carry out, argument indexes.
pub fn check(s: &LinuxSeccomp) -> Result<()> {
    let bad = |m: String| Err(Error::Config(format!("linux.seccomp: {m}")));
    if s.default_action() == LinuxSeccompAction::ScmpActNotify {
        return bad("defaultAction SCMP_ACT_NOTIFY is not supported".into());
    }
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        if sc.action() == LinuxSeccompAction::ScmpActNotify {
            return bad(format!(
                "syscalls[{i}]: action SCMP_ACT_NOTIFY is not supported"
            ));
        }
        if sc.names().is_empty() {
            return bad(format!("syscalls[{i}]: names is empty"));
        }
        for a in sc.args().iter().flatten() {
            if a.index() > 5 {
                return bad(format!(
                    "syscalls[{i}]: argument index {} is above 5",
                    a.index()
                ));
            }
        }
    }
    Ok(())
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> ScmpAction {
    match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => {
            ScmpAction::Errno(errno.unwrap_or(libc::EPERM as u32) as i32)
        }
        LinuxSeccompAction::ScmpActTrace => {
            ScmpAction::Trace(errno.unwrap_or(libc::EPERM as u32) as u16)
        }
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    }
}

fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

fn op(o: LinuxSeccompOperator, value: u64, value_two: Option<u64>) -> ScmpCompareOp {
    match o {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // Docker's profile: value is the mask, valueTwo the expected result.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            let _ = value_two;
            ScmpCompareOp::MaskedEqual(value)
        }
    }
}

/// Builds the filter; it is loaded later, as late as the process allows.
pub fn compile(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let e = |what: &str, err: libseccomp::error::SeccompError| {
        Error::Other(format!("seccomp: {what}: {err}"))
    };
    let default = action(s.default_action(), s.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(default).map_err(|x| e("creating the filter", x))?;
    // The spec decides no_new_privs; libseccomp would otherwise set it on load.
    ctx.set_ctl_nnp(false)
        .map_err(|x| e("no_new_privs attribute", x))?;
    for a in s.architectures().iter().flatten() {
        let a = arch(*a);
        if !ctx.is_arch_present(a).unwrap_or(false) {
            ctx.add_arch(a)
                .map_err(|x| e(&format!("architecture {a:?}"), x))?;
        }
    }
    for f in s.flags().iter().flatten() {
        match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => {
                ctx.set_ctl_log(true)
                    .map_err(|x| e("flag SECCOMP_FILTER_FLAG_LOG", x))?;
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                ctx.set_ctl_ssb(true)
                    .map_err(|x| e("flag SECCOMP_FILTER_FLAG_SPEC_ALLOW", x))?;
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => {
                ctx.set_ctl_tsync(true)
                    .map_err(|x| e("flag SECCOMP_FILTER_FLAG_TSYNC", x))?;
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {}
        }
    }
    for sc in s.syscalls().iter().flatten() {
        let act = action(sc.action(), sc.errno_ret());
        if act == default {
            continue; // libseccomp refuses rules equal to the default action
        }
        let conds: Vec<ScmpArgCompare> = sc
            .args()
            .iter()
            .flatten()
            .map(|a| {
                let datum = if a.op() == LinuxSeccompOperator::ScmpCmpMaskedEq {
                    a.value_two().unwrap_or(0)
                } else {
                    a.value()
                };
                ScmpArgCompare::new(
                    a.index() as u32,
                    op(a.op(), a.value(), a.value_two()),
                    datum,
                )
            })
            .collect();
        for name in sc.names() {
            // Names this libseccomp or architecture does not know are skipped,
            // as runc and crun do: profiles list syscalls of many kernels.
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let r = if conds.is_empty() {
                ctx.add_rule(act, nr)
            } else if same_arg_twice(sc.args().as_deref().unwrap_or(&[])) {
                // libseccomp ANDs conditions; several on one argument mean
                // "any of", so add one rule each, as runc does.
                conds
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(act, nr, &[*c]).map(|_| ()))
                    .map(|_| &mut ctx)
            } else {
                ctx.add_rule_conditional(act, nr, &conds)
            };
            r.map_err(|x| e(&format!("rule for {name}"), x))?;
        }
    }
    Ok(ctx)
}

fn same_arg_twice(args: &[oci_spec::runtime::LinuxSeccompArg]) -> bool {
    let idx: Vec<usize> = args.iter().map(|a| a.index()).collect();
    (1..idx.len()).any(|i| idx[..i].contains(&idx[i]))
}

pub fn load(ctx: &ScmpFilterContext) -> Result<()> {
    ctx.load()
        .map_err(|e| Error::Other(format!("loading the seccomp filter: {e}")))
}
