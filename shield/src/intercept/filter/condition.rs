//! The filter specification: per syscall, branches of argument conditions, each with a return
//! action, and what the filter does otherwise. Checked before compiling.

use super::bpf::{ret, SeccompData};
use super::{FilterError, MAX_ERRNO, X32_SYSCALL_BIT};
use crate::intercept::arch::AUDIT_ARCH_X86_64;
use std::collections::HashSet;

/// What the filter does with a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReturnAction {
    /// Let it run (`SECCOMP_RET_ALLOW`).
    Allow,
    /// Fail it with this errno without running it (`SECCOMP_RET_ERRNO`); at most
    /// [`MAX_ERRNO`].
    Errno(u16),
    /// Send SIGSYS to the calling thread (`SECCOMP_RET_TRAP`).
    Trap,
    /// Ask the user-space supervisor (`SECCOMP_RET_USER_NOTIF`).
    Notify,
    /// Kill the whole process (`SECCOMP_RET_KILL_PROCESS`).
    KillProcess,
    /// Let it run and log it (`SECCOMP_RET_LOG`).
    Log,
}

impl ReturnAction {
    /// The `SECCOMP_RET_*` value a filter returns for this action.
    pub const fn to_ret(self) -> u32 {
        match self {
            ReturnAction::Allow => ret::ALLOW,
            ReturnAction::Errno(e) => ret::ERRNO | e as u32,
            ReturnAction::Trap => ret::TRAP,
            ReturnAction::Notify => ret::USER_NOTIF,
            ReturnAction::KillProcess => ret::KILL_PROCESS,
            ReturnAction::Log => ret::LOG,
        }
    }

    /// The action a `SECCOMP_RET_*` value stands for, or `None` for values this crate
    /// never emits (e.g. `KILL_THREAD`, `TRACE`, or TRAP with data).
    pub const fn from_ret(v: u32) -> Option<ReturnAction> {
        let data = v & ret::DATA;
        match v & ret::ACTION_FULL {
            ret::ALLOW if data == 0 => Some(ReturnAction::Allow),
            ret::ERRNO => Some(ReturnAction::Errno(data as u16)),
            ret::TRAP if data == 0 => Some(ReturnAction::Trap),
            ret::USER_NOTIF if data == 0 => Some(ReturnAction::Notify),
            ret::KILL_PROCESS if data == 0 => Some(ReturnAction::KillProcess),
            ret::LOG if data == 0 => Some(ReturnAction::Log),
            _ => None,
        }
    }
}

/// A test on one 64-bit syscall argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgCmp {
    /// `arg == v`.
    Eq(u64),
    /// `arg != v`.
    Ne(u64),
    /// `arg & mask == value` (never holds when `value` has bits outside `mask`).
    MaskedEq {
        /// Bits to keep.
        mask: u64,
        /// Expected value of the kept bits.
        value: u64,
    },
    /// `arg & mask != value`.
    MaskedNe {
        /// Bits to keep.
        mask: u64,
        /// Value the kept bits must differ from.
        value: u64,
    },
    /// `arg != 0` (e.g. a non-NULL pointer).
    NonZero,
    /// `arg == 0` (e.g. a NULL pointer).
    Zero,
    /// The low 32 bits of `arg`, unsigned, are at least `v` (an `int` or `unsigned int`
    /// argument: the kernel ignores the upper half). A descriptor number `>= v`.
    Low32AtLeast(u32),
}

impl ArgCmp {
    /// Whether `arg` passes this test (the reference semantics the compiled code has).
    pub const fn holds(self, arg: u64) -> bool {
        match self {
            ArgCmp::Eq(v) => arg == v,
            ArgCmp::Ne(v) => arg != v,
            ArgCmp::MaskedEq { mask, value } => arg & mask == value,
            ArgCmp::MaskedNe { mask, value } => arg & mask != value,
            ArgCmp::NonZero => arg != 0,
            ArgCmp::Zero => arg == 0,
            ArgCmp::Low32AtLeast(v) => arg as u32 >= v,
        }
    }
}

/// One condition of a branch: argument number `arg` (0–5) passes `cmp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Condition {
    /// Argument index, 0 to 5.
    pub arg: u8,
    /// The test.
    pub cmp: ArgCmp,
}

/// What the filter does for one syscall number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallPlan {
    /// Syscall number (see [`crate::intercept::arch::nr`]).
    pub nr: i64,
    /// Branches in order: the first whose conditions all hold (AND; an empty list always
    /// holds) decides.
    pub branches: Vec<(Vec<Condition>, ReturnAction)>,
    /// The action when no branch matches.
    pub default: ReturnAction,
}

/// Everything the filter decides, as data. Compile it with `Filter::try_from(&spec)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterSpec {
    /// The native `AUDIT_ARCH_*` (normally [`crate::intercept::arch::AUDIT_ARCH`]); calls
    /// through any other ABI (x86_64's `int 0x80`) get [`foreign_arch`](Self::foreign_arch).
    pub arch: u32,
    /// What a call through another ABI gets: normally [`ReturnAction::KillProcess`] (its numbers
    /// and arguments are not the native ones, so nothing else in the filter applies to it);
    /// the shield's alert-only filters send it to the interceptor instead, which reports it
    /// and lets it run.
    pub foreign_arch: ReturnAction,
    /// The handled syscalls; each number at most once.
    pub syscalls: Vec<SyscallPlan>,
    /// Calls whose instruction pointer equals this address (the shield's trampoline)
    /// are allowed when their outcome would be one of [`exempt_actions`](Self::exempt_actions).
    pub exempt_ip: Option<u64>,
    /// The outcomes the trampoline is exempt from, typically `[Trap, Notify]`: the
    /// trampoline is never exempt from an `Errno` rule.
    pub exempt_actions: Vec<ReturnAction>,
    /// The action for syscalls not listed, normally `Allow`.
    pub otherwise: ReturnAction,
}

impl FilterSpec {
    /// Reference semantics: what the compiled filter returns for `d`, computed directly
    /// from the spec. Tests compare [`Filter::run`](super::Filter::run) against it.
    pub fn evaluate(&self, d: &SeccompData) -> u32 {
        if d.arch != self.arch {
            return self.foreign_arch.to_ret();
        }
        let nr = d.nr as u32;
        if self.arch == AUDIT_ARCH_X86_64 && nr >= X32_SYSCALL_BIT {
            return ReturnAction::Errno(libc::ENOSYS as u16).to_ret();
        }
        let Some(plan) = self.syscalls.iter().find(|p| p.nr == i64::from(nr)) else {
            return self.otherwise.to_ret();
        };
        let outcome = plan
            .branches
            .iter()
            .find(|(conditions, _)| {
                conditions
                    .iter()
                    .all(|r| r.cmp.holds(d.args[usize::from(r.arg).min(5)]))
            })
            .map_or(plan.default, |(_, a)| *a);
        if self.exempt_ip == Some(d.instruction_pointer) && self.exempt_actions.contains(&outcome) {
            return ret::ALLOW;
        }
        outcome.to_ret()
    }
}

pub(super) fn validate(spec: &FilterSpec) -> Result<(), FilterError> {
    let max_nr = if spec.arch == AUDIT_ARCH_X86_64 {
        i64::from(X32_SYSCALL_BIT)
    } else {
        1 << 32
    };
    let mut seen = HashSet::new();
    let check_action = |a: ReturnAction| match a {
        ReturnAction::Errno(errno) if errno > MAX_ERRNO => {
            Err(FilterError::ErrnoOutOfRange { errno })
        }
        _ => Ok(()),
    };
    check_action(spec.otherwise)?;
    check_action(spec.foreign_arch)?;
    for p in &spec.syscalls {
        if !(0..max_nr).contains(&p.nr) {
            return Err(FilterError::SyscallOutOfRange { nr: p.nr });
        }
        if !seen.insert(p.nr) {
            return Err(FilterError::DuplicateSyscall { nr: p.nr });
        }
        check_action(p.default)?;
        for (conditions, a) in &p.branches {
            check_action(*a)?;
            if let Some(r) = conditions.iter().find(|r| r.arg > 5) {
                return Err(FilterError::ArgOutOfRange {
                    nr: p.nr,
                    arg: r.arg,
                });
            }
        }
    }
    Ok(())
}
