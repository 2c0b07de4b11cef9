//! The filter specification compiled from a policy: which syscalls go to the interceptor,
//! which the kernel answers itself with an errno, and which pass. Pure: inspect it, compile it
//! with [`Filter::try_from`](super::filter::Filter) and run it through
//! [`Filter::run`](super::filter::Filter::run) without installing anything.

use super::arch::{self, nr};
use super::filter::{Action as F, ArgCmp, FilterSpec, Rule, SyscallPlan};
use crate::policy::{Mode, Policy};

fn plan(nr: i64, action: F) -> SyscallPlan {
    SyscallPlan {
        nr,
        branches: Vec::new(),
        default: action,
    }
}

fn when(nr: i64, rules: Vec<Rule>, then: F, otherwise: F) -> SyscallPlan {
    SyscallPlan {
        nr,
        branches: vec![(rules, then)],
        default: otherwise,
    }
}

/// Which policies need interception (not `allow`, or tightening requested).
pub(crate) struct Needs {
    pub(crate) outbound: bool,
    pub(crate) paths_open: bool,
    pub(crate) paths_read: bool,
    pub(crate) paths_write: bool,
    pub(crate) exec: bool,
    pub(crate) fork_in_kernel: bool,
}

pub(crate) fn needs(p: &Policy) -> Needs {
    let m = p.modes();
    let on = |mode: Mode| mode != Mode::Allow || p.runtime_tightening();
    Needs {
        outbound: on(m.outbound()),
        paths_open: on(m.tmp_read()) || on(m.tmp_write()) || on(m.read_handler()),
        paths_read: on(m.tmp_read()),
        paths_write: on(m.tmp_write()),
        exec: on(m.child()),
        fork_in_kernel: m.child() == Mode::Block && p.exec_allow().is_empty(),
    }
}

/// The filter specification for `policy` with the trap interceptor. Pure: inspect it and run
/// it through [`Filter::run`](super::filter::Filter::run) without installing it.
///
/// Process creation in `block` mode goes to the supervisor (`fork_events`: it refuses with
/// EPERM and reports an event) or is refused in the kernel with EPERM (no event).
pub fn trap_filter_spec(policy: &Policy, trampoline_ip: u64, fork_events: bool) -> FilterSpec {
    filter_spec(policy, trampoline_ip, F::Trap, fork_events)
}

/// The filter specification for `policy` with the user-notification interceptor.
pub fn notify_filter_spec(policy: &Policy, trampoline_ip: u64) -> FilterSpec {
    filter_spec(policy, trampoline_ip, F::Notify, true)
}

fn filter_spec(policy: &Policy, trampoline_ip: u64, intercept: F, fork_events: bool) -> FilterSpec {
    let n = needs(policy);
    let enosys = F::Errno(libc::ENOSYS as u16);
    let eperm = F::Errno(libc::EPERM as u16);
    let mut s = vec![
        plan(nr::CLONE3, enosys),
        plan(nr::IO_URING_SETUP, enosys),
        plan(nr::IO_URING_ENTER, enosys),
        plan(nr::IO_URING_REGISTER, enosys),
        plan(nr::PTRACE, eperm),
        // The trampoline may write into a caller's memory (notify emulation); everyone else
        // gets EPERM from the interceptor.
        plan(
            nr::PROCESS_VM_WRITEV,
            if intercept == F::Notify {
                intercept
            } else {
                eperm
            },
        ),
        when(
            nr::RT_SIGACTION,
            vec![
                Rule {
                    arg: 0,
                    cmp: ArgCmp::Eq(libc::SIGSYS as u64),
                },
                Rule {
                    arg: 1,
                    cmp: ArgCmp::NonZero,
                },
            ],
            eperm,
            F::Allow,
        ),
    ];
    if n.outbound {
        s.push(plan(nr::CONNECT, intercept));
        s.push(when(
            nr::SENDTO,
            vec![Rule {
                arg: 4,
                cmp: ArgCmp::NonZero,
            }],
            intercept,
            F::Allow,
        ));
        s.push(plan(nr::SENDMSG, intercept));
        s.push(plan(nr::SENDMMSG, intercept));
        s.push(when(
            nr::RECVFROM,
            vec![Rule {
                arg: 4,
                cmp: ArgCmp::NonZero,
            }],
            intercept,
            F::Allow,
        ));
        // recvmsg's source address lives inside the msghdr, so it cannot be checked in the
        // filter: the trap interceptor takes every recvmsg (to learn DNS answers); the notify
        // interceptor does not emulate recvmsg (see the README's limits).
        if intercept == F::Trap {
            s.push(plan(nr::RECVMSG, intercept));
        }
    }
    if n.paths_open {
        for &o in arch::groups::OPEN {
            if o == nr::OPEN_BY_HANDLE_AT {
                s.push(plan(o, eperm));
            } else {
                s.push(plan(o, intercept));
            }
        }
    }
    if n.paths_read {
        for &o in arch::groups::PATH_READ {
            s.push(plan(o, intercept));
        }
        s.push(plan(nr::NAME_TO_HANDLE_AT, intercept));
    }
    if n.paths_write {
        for &o in arch::groups::PATH_WRITE {
            s.push(plan(o, intercept));
        }
    }
    if n.exec {
        s.push(plan(nr::EXECVE, intercept));
        s.push(plan(nr::EXECVEAT, intercept));
    }
    if n.fork_in_kernel {
        // Never TRAP here: glibc blocks every signal around clone (posix_spawn), and a trap
        // with SIGSYS blocked kills the process. USER_NOTIF needs no signal.
        let refuse = if fork_events { F::Notify } else { eperm };
        #[cfg(target_arch = "x86_64")]
        {
            s.push(plan(nr::FORK, refuse));
            s.push(plan(nr::VFORK, refuse));
        }
        s.push(when(
            nr::CLONE,
            vec![Rule {
                arg: 0,
                cmp: ArgCmp::MaskedEq {
                    mask: libc::CLONE_THREAD as u64,
                    value: 0,
                },
            }],
            refuse,
            F::Allow,
        ));
    }
    FilterSpec {
        arch: arch::AUDIT_ARCH,
        syscalls: s,
        exempt_ip: Some(trampoline_ip),
        exempt_actions: vec![F::Trap, F::Notify],
        otherwise: F::Allow,
    }
}
