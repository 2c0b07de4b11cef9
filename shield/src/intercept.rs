//! Glue between the shield and the kernel interceptors: choose the interceptor, compile the
//! filter from the policy, install it, and report what is enforced.

use crate::arch::{self, nr};
use crate::decide::{Decider, ModeSlot};
use crate::enforce::{Enforcement, EnforcementState, KernelProbe, Mechanism, PolicyEnforcement};
use crate::event::{Action, Details, Event};
use crate::filter::{Action as F, ArgCmp, Filter, FilterSpec, Rule, SyscallPlan};
use crate::policy::{InterceptorChoice, Mode, Policy, PolicyKind};
use crate::shield::{Inner, InstallError};
use crate::sys;

/// Tighten a policy (see [`crate::Shield::tighten`]).
pub(crate) fn tighten(policy: PolicyKind, to: Mode) -> Option<Mode> {
    let st = sys::trap::STATE.get()?;
    let slots: &[ModeSlot] = match policy {
        PolicyKind::OutboundConnectivity => &[ModeSlot::Outbound],
        PolicyKind::ReadWriteTmp => &[ModeSlot::TmpRead, ModeSlot::TmpWrite],
        PolicyKind::CreateChildProcess => &[ModeSlot::Child],
        PolicyKind::ReadHandler => &[ModeSlot::ReadHandler],
        _ => return None,
    };
    let mut now = to;
    for &s in slots {
        if st.decider.mode(s) == Mode::Allow
            && !INTERCEPTED[s as usize].load(std::sync::atomic::Ordering::Relaxed)
        {
            return None;
        }
        now = st.decider.tighten(s, to);
    }
    Some(now)
}

static INTERCEPTED: [std::sync::atomic::AtomicBool; 5] =
    [const { std::sync::atomic::AtomicBool::new(false) }; 5];

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
    pub outbound: bool,
    pub paths_open: bool,
    pub paths_read: bool,
    pub paths_write: bool,
    pub exec: bool,
    pub fork_in_kernel: bool,
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
/// it through [`Filter::run`] without installing it.
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

fn not_enforced(reason: &str) -> Vec<PolicyEnforcement> {
    PolicyKind::RUNTIME
        .iter()
        .map(|&p| PolicyEnforcement {
            policy: p,
            state: EnforcementState::NotEnforced,
            mechanism: Mechanism::None,
            reason: reason.to_owned(),
        })
        .collect()
}

fn exe_identity() -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/exe")
        .map(|m| (m.dev(), m.ino()))
        .unwrap_or((u64::MAX, u64::MAX))
}

/// Install kernel enforcement for `shield` and report what is enforced.
pub(crate) fn install(shield: &Inner) -> Result<Enforcement, InstallError> {
    let policy = &shield.policy;
    let kernel = sys::probe::probe();
    let children = policy.children_may_run();
    let (want_notify, why) = match policy.interceptor() {
        InterceptorChoice::Notify => (true, "forced by configuration (interceptor = \"notify\")".to_owned()),
        InterceptorChoice::Trap => (false, "forced by configuration (interceptor = \"trap\")".to_owned()),
        _ if children => (
            true,
            "child processes may run (create_child_process is not block, or executables are allowed); TRAP would kill exec'd children".to_owned(),
        ),
        _ => (false, "no child process can run, so the SIGSYS trap (the fast path) is safe".to_owned()),
    };
    let available = if want_notify {
        kernel.notify_available
    } else {
        kernel.trap_available
    };
    if !available {
        let reason = if want_notify {
            "the kernel does not offer SECCOMP_RET_USER_NOTIF (seccomp unavailable or refused)"
        } else {
            "the kernel does not offer SECCOMP_RET_TRAP (seccomp unavailable or refused)"
        };
        return refused(shield, kernel, why, reason);
    }
    let n = needs(policy);
    // In trap mode, a supervisor thread also takes process creation in block mode, so that
    // refused forks are reported (when the kernel offers USER_NOTIF).
    let fork_events = !want_notify && n.fork_in_kernel && kernel.notify_available;
    let listener_needed = want_notify || fork_events;
    let spec = if want_notify {
        notify_filter_spec(policy, sys::trampoline_ip())
    } else {
        trap_filter_spec(policy, sys::trampoline_ip(), fork_events)
    };
    let filter =
        Filter::try_from(&spec).map_err(|e| InstallError::Setup(format!("filter: {e}")))?;
    let state = sys::trap::TrapState {
        decider: Decider::new(policy),
        exe: exe_identity(),
        check_exe: n.paths_open,
    };
    if sys::trap::STATE.set(state).is_err() {
        return Err(InstallError::AlreadyInstalled);
    }
    if let Err(e) = sys::install_sigsys_handler() {
        let reason = format!("sigaction(SIGSYS) failed: errno {e}");
        return refused(shield, kernel, why, &reason);
    }
    if !kernel.no_new_privs {
        let r = sys::set_no_new_privs();
        if r < 0 {
            let reason = format!(
                "prctl(PR_SET_NO_NEW_PRIVS) refused (errno {}) and NoNewPrivs is not already set",
                -r
            );
            return refused(shield, kernel, why, &reason);
        }
    }
    // The reporter thread drains the ring as it fills (started before the filter).
    sys::start_reporter(shield.reporter.clone());
    const TSYNC: u64 = 1;
    const NEW_LISTENER: u64 = 1 << 3;
    const TSYNC_ESRCH: u64 = 1 << 4;
    const WAIT_KILLABLE_RECV: u64 = 1 << 5;
    let mut killable = false;
    // The supervisor thread starts before the filter (see prepare_shield_thread) and
    // receives the listener once it exists.
    let supervisor = if listener_needed {
        let (tx, rx) = std::sync::mpsc::channel::<i32>();
        let started = sys::spawn_shield_thread("fnshield-supervisor", move || {
            if let Ok(listener) = rx.recv() {
                if listener >= 0 {
                    sys::notify::supervise(listener);
                }
            }
        });
        match started {
            Ok(()) => Some(tx),
            // Without a supervisor every notified call would hang or fail: refuse to run.
            Err(e) => {
                return Err(InstallError::Setup(format!(
                    "cannot start the supervisor thread: {e}"
                )))
            }
        }
    } else {
        None
    };
    let r = if listener_needed {
        // WAIT_KILLABLE_RECV (Linux 6.0+): once the supervisor has received a call, only a
        // fatal signal interrupts the caller, so emulated calls are not replayed after EINTR.
        let r = sys::install_filter(
            filter.insns(),
            NEW_LISTENER | TSYNC | TSYNC_ESRCH | WAIT_KILLABLE_RECV,
        );
        if r == -(libc::EINVAL as i64) {
            sys::install_filter(filter.insns(), NEW_LISTENER | TSYNC | TSYNC_ESRCH)
        } else {
            killable = r >= 0;
            r
        }
    } else {
        sys::install_filter(filter.insns(), TSYNC)
    };
    let bad = if listener_needed { r < 0 } else { r != 0 };
    if bad {
        let reason = if r > 0 || r == -(libc::ESRCH as i64) {
            format!("seccomp TSYNC could not synchronise a thread ({r})")
        } else {
            format!("seccomp(SECCOMP_SET_MODE_FILTER) refused: errno {}", -r)
        };
        return refused(shield, kernel, why, &reason);
    }
    if let Some(tx) = supervisor {
        // The listener is an fd of this process; the supervisor thread takes it from here.
        let _ = tx.send(r as i32);
    }
    let mechanism = if want_notify {
        Mechanism::SeccompNotify
    } else {
        Mechanism::SeccompTrap
    };
    let why = if want_notify {
        format!(
            "{why}; {}",
            if killable {
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV in use"
            } else {
                "this kernel lacks WAIT_KILLABLE_RECV: handlers without SA_RESTART may see EINTR"
            }
        )
    } else {
        why
    };
    let m = policy.modes();
    for (slot, on) in [
        (ModeSlot::Outbound, n.outbound),
        (ModeSlot::TmpRead, n.paths_open),
        (ModeSlot::TmpWrite, n.paths_open),
        (ModeSlot::Child, n.exec),
        (ModeSlot::ReadHandler, n.paths_open),
    ] {
        INTERCEPTED[slot as usize].store(on, std::sync::atomic::Ordering::Relaxed);
    }
    let line =
        |p: PolicyKind, mode: Mode, state: EnforcementState, mech: Mechanism, reason: &str| {
            PolicyEnforcement {
                policy: p,
                state: if mode == Mode::Allow && !policy.runtime_tightening() {
                    EnforcementState::NotEnforced
                } else {
                    state
                },
                mechanism: if mode == Mode::Allow && !policy.runtime_tightening() {
                    Mechanism::None
                } else {
                    mech
                },
                reason: if mode == Mode::Allow && !policy.runtime_tightening() {
                    "mode is allow".to_owned()
                } else {
                    reason.to_owned()
                },
            }
        };
    let tmp_mode = m.tmp_read().max(m.tmp_write());
    let full = EnforcementState::FullyEnforced;
    let policies = if want_notify {
        let (tmp_state, tmp_reason) = if m.tmp_write() == Mode::Block {
            (
                EnforcementState::PartiallyEnforced,
                "opens are emulated (ADDFD) and verified, in this process and its children; other path-based writes and the stat family are decided on a copy and then continued, so a racing thread could swap the path after the check",
            )
        } else {
            (full, "opens emulated (ADDFD) and verified; path-based writes and the stat family decided by the supervisor, in this process and its children")
        };
        let (child_state, child_reason) = if m.child() == Mode::Block
            && !policy.exec_allow().is_empty()
        {
            (
                EnforcementState::PartiallyEnforced,
                "execve/execveat decided by the supervisor; an allowed executable continues after the check, so a racing thread could swap the path; children stay supervised",
            )
        } else {
            (full, "execve/execveat decided by the supervisor; children stay supervised; clone3 ENOSYS")
        };
        vec![
            line(PolicyKind::OutboundConnectivity, m.outbound(), full, mechanism,
                "connect, sendto, sendmsg, sendmmsg decided on copies and emulated on a duplicate socket (pidfd_getfd), in this process and its children; host names learnt from DNS answers"),
            line(PolicyKind::ReadWriteTmp, tmp_mode, tmp_state, mechanism, tmp_reason),
            line(PolicyKind::CreateChildProcess, m.child(), child_state, mechanism, child_reason),
            line(PolicyKind::ReadHandler, m.read_handler(), full, mechanism,
                "opens emulated (ADDFD) and verified by path and by the executable's inode, in this process and its children"),
        ]
    } else {
        vec![
            line(PolicyKind::OutboundConnectivity, m.outbound(), full, mechanism,
                "connect, sendto, sendmsg, sendmmsg trapped and re-issued on copies; host names learnt from DNS answers received with recvfrom"),
            line(PolicyKind::ReadWriteTmp, tmp_mode, full, mechanism,
                "opens, the stat/access/readlink family and path-based writes trapped and re-issued on copies; opened files verified"),
            line(PolicyKind::CreateChildProcess, m.child(), full, mechanism,
                if fork_events {
                "execve/execveat trapped; fork, vfork and clone without CLONE_THREAD refused (EPERM) and reported by a supervisor thread (user notification); clone3 ENOSYS"
            } else {
                "execve/execveat trapped; fork, vfork and clone without CLONE_THREAD refused in the kernel (EPERM, no event: USER_NOTIF unavailable); clone3 ENOSYS"
            }),
            line(PolicyKind::ReadHandler, m.read_handler(), full, mechanism,
                "opens trapped and re-issued on copies; the opened file is verified by path and by the executable's inode"),
        ]
    };
    finish(
        shield,
        Enforcement {
            policies,
            interceptor: mechanism,
            interceptor_reason: why,
            kernel,
        },
    )
}

/// The kernel refused (or lacks) what the interceptor needs: nothing is enforced.
fn refused(
    shield: &Inner,
    mut kernel: KernelProbe,
    why: String,
    reason: &str,
) -> Result<Enforcement, InstallError> {
    kernel.refused = Some(reason.to_owned());
    finish(
        shield,
        Enforcement {
            policies: not_enforced(reason),
            interceptor: Mechanism::None,
            interceptor_reason: why,
            kernel,
        },
    )
}

fn finish(shield: &Inner, report: Enforcement) -> Result<Enforcement, InstallError> {
    let degraded: Vec<_> = report
        .policies
        .iter()
        .filter(|p| p.state != EnforcementState::FullyEnforced && p.reason != "mode is allow")
        .collect();
    // require_enforcement refuses to run *unprotected*: a policy that is not enforced at all.
    // A partially enforced one (a documented residual race) is reported, not fatal.
    if shield.policy.require_enforcement()
        && degraded
            .iter()
            .any(|p| p.state == EnforcementState::NotEnforced)
    {
        return Err(InstallError::NotEnforced(Box::new(report)));
    }
    for p in degraded {
        shield.reporter.record(Event::new(
            PolicyKind::Shield,
            Action::Alerted,
            Details::Degraded {
                policy: p.policy.as_str().to_owned(),
                reason: format!("{:?} via {}: {}", p.state, p.mechanism, p.reason),
            },
            "unknown",
        ));
    }
    shield.reporter.flush(None);
    Ok(report)
}

/// Kernel probe without installing anything.
pub fn probe_kernel() -> KernelProbe {
    sys::probe::probe()
}
