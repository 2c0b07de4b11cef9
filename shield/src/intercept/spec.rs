//! The filter specification compiled from a policy: which syscalls go to the interceptor,
//! which the kernel answers itself with an errno, and which pass. Pure: inspect it, compile it
//! with [`Filter::try_from`](super::filter::Filter) and run it through
//! [`Filter::run`](super::filter::Filter::run) without installing anything.

use super::arch::{self, nr};
use super::filter::{ArgCmp, Condition, FilterSpec, ReturnAction as Ret, SyscallPlan};
use crate::policy::{Mode, Policy};

fn plan(nr: i64, action: Ret) -> SyscallPlan {
    SyscallPlan {
        nr,
        branches: Vec::new(),
        default: action,
    }
}

fn when(nr: i64, conditions: Vec<Condition>, then: Ret, otherwise: Ret) -> SyscallPlan {
    SyscallPlan {
        nr,
        branches: vec![(conditions, then)],
        default: otherwise,
    }
}

/// `UFFD_USER_MODE_ONLY`: the userfaultfd handles only faults taken in user mode.
const UFFD_USER_MODE_ONLY: u64 = 1;
/// `USERFAULTFD_IOC_NEW` (`_IO(0xAA, 0x00)`), the ioctl of `/dev/userfaultfd`.
const USERFAULTFD_IOC_NEW: i32 = 0xAA00;

/// `prctl(PR_SET_SYSCALL_USER_DISPATCH, ...)`.
const PR_SET_SYSCALL_USER_DISPATCH: u64 = 59;

/// `rt_sigaction`: SIGSYS cannot be re-hooked (EPERM); under the trap interceptor, installing
/// any other handler traps so that SIGSYS is removed from the handler's mask.
fn rt_sigaction_plan(intercept: Ret) -> SyscallPlan {
    let mut branches = vec![(
        vec![
            Condition {
                arg: 0,
                cmp: ArgCmp::Eq(libc::SIGSYS as u64),
            },
            Condition {
                arg: 1,
                cmp: ArgCmp::NonZero,
            },
        ],
        Ret::Errno(libc::EPERM as u16),
    )];
    if intercept == Ret::Trap {
        branches.push((
            vec![Condition {
                arg: 1,
                cmp: ArgCmp::NonZero,
            }],
            Ret::Trap,
        ));
    }
    SyscallPlan {
        nr: nr::RT_SIGACTION,
        branches,
        default: Ret::Allow,
    }
}

/// `prctl`: syscall user dispatch (it turns any syscall into a SIGSYS) is refused; while a
/// policy blocks, so is `PR_SET_SECCOMP` with a filter (see the `seccomp` rule in
/// `filter_spec`).
fn prctl_plan(permissive: bool) -> SyscallPlan {
    let mut branches = vec![(
        vec![Condition {
            arg: 0,
            cmp: ArgCmp::Eq(PR_SET_SYSCALL_USER_DISPATCH),
        }],
        Ret::Errno(libc::EPERM as u16),
    )];
    if !permissive {
        branches.push((
            vec![
                int_eq(0, libc::PR_SET_SECCOMP),
                Condition {
                    arg: 1,
                    cmp: ArgCmp::Eq(libc::SECCOMP_MODE_FILTER as u64),
                },
            ],
            Ret::Errno(libc::EPERM as u16),
        ));
    }
    SyscallPlan {
        nr: nr::PRCTL,
        branches,
        default: Ret::Allow,
    }
}

/// Which policies need interception (not `allow`, or tightening requested).
pub(crate) struct Needs {
    pub(crate) outbound: bool,
    /// `read_handler` may need other processes' memory and descriptors decided.
    pub(crate) other_procs: bool,
    /// Every policy io_uring could bypass (outbound, tmp, read_handler) is `alert` or `allow`
    /// for good (no runtime tightening), and one alerts: io_uring is allowed and reported.
    pub(crate) io_uring_alert: bool,
    /// Same condition over the path policies, for `open_by_handle_at` (which names no path).
    pub(crate) handle_open_alert: bool,
    pub(crate) paths_open: bool,
    pub(crate) paths_read: bool,
    pub(crate) paths_write: bool,
    pub(crate) exec: bool,
    pub(crate) fork_in_kernel: bool,
    /// No policy blocks and none can be tightened: what the filter would otherwise refuse in
    /// the kernel for every policy at once (`ptrace`, the 32-bit ABI) runs as with no
    /// shield, and is reported when [`alert_only`](Self::alert_only).
    pub(crate) permissive: bool,
    /// [`permissive`](Self::permissive), and a policy alerts.
    pub(crate) alert_only: bool,
}

pub(crate) fn needs(p: &Policy) -> Needs {
    let m = p.modes();
    let on = |mode: Mode| mode != Mode::Allow || p.runtime_tightening();
    let bypassable = [m.outbound(), m.tmp_read(), m.tmp_write(), m.read_handler()];
    let never_blocks = !p.runtime_tightening() && bypassable.iter().all(|&x| x != Mode::Block);
    let paths = [m.tmp_read(), m.tmp_write(), m.read_handler()];
    let wipe = p.wipe().enabled;
    Needs {
        outbound: on(m.outbound()),
        other_procs: on(m.read_handler()),
        io_uring_alert: never_blocks && bypassable.contains(&Mode::Alert),
        handle_open_alert: !p.runtime_tightening()
            && paths.iter().all(|&x| x != Mode::Block)
            && paths.contains(&Mode::Alert),
        // The wipe removes only what the function created, which the interceptor learns from
        // its writes (wipe::journal): with the wipe on, writes are intercepted even in allow.
        paths_open: on(m.tmp_read()) || on(m.tmp_write()) || on(m.read_handler()) || wipe,
        paths_read: on(m.tmp_read()),
        paths_write: on(m.tmp_write()) || wipe,
        exec: on(m.child()),
        fork_in_kernel: m.child() == Mode::Block && p.exec_allow().is_empty(),
        permissive: never_blocks && m.child() != Mode::Block,
        alert_only: never_blocks
            && m.child() != Mode::Block
            && (bypassable.contains(&Mode::Alert) || m.child() == Mode::Alert),
    }
}

/// The filter specification for `policy` with the trap interceptor. Pure: inspect it and run
/// it through [`Filter::run`](super::filter::Filter::run) without installing it.
///
/// Process creation in `block` mode goes to the supervisor (`fork_events`: it refuses with
/// EPERM and reports an event) or is refused in the kernel with EPERM (no event).
pub fn trap_filter_spec(policy: &Policy, trampoline_ip: u64, fork_events: bool) -> FilterSpec {
    filter_spec(policy, trampoline_ip, Ret::Trap, fork_events)
}

/// The filter specification for `policy` with the user-notification interceptor.
pub fn notify_filter_spec(policy: &Policy, trampoline_ip: u64) -> FilterSpec {
    filter_spec(policy, trampoline_ip, Ret::Notify, true)
}

fn filter_spec(
    policy: &Policy,
    trampoline_ip: u64,
    intercept: Ret,
    fork_events: bool,
) -> FilterSpec {
    let n = needs(policy);
    let enosys = Ret::Errno(libc::ENOSYS as u16);
    let eperm = Ret::Errno(libc::EPERM as u16);
    let io_uring = if n.io_uring_alert { Ret::Allow } else { enosys };
    let mut s = vec![
        // clone3's flags live in a struct the filter cannot read, so it cannot tell a thread
        // from a process: ENOSYS (glibc falls back to clone) only when process creation is
        // refused in the kernel; otherwise it runs as with no shield (children stay under the
        // filter, and their exec is decided).
        plan(
            nr::CLONE3,
            if n.fork_in_kernel { enosys } else { Ret::Allow },
        ),
        // io_uring's operations bypass seccomp. ENOSYS (callers fall back to plain syscalls)
        // while any policy it could bypass blocks; in alert mode it runs and is reported.
        plan(
            nr::IO_URING_SETUP,
            if n.io_uring_alert { intercept } else { enosys },
        ),
        plan(nr::IO_URING_ENTER, io_uring),
        plan(nr::IO_URING_REGISTER, io_uring),
        // A tracer reads and steers other processes (read_handler, and through its tracees
        // every policy): refused, except in alert-only mode, where it runs and is reported.
        plan(
            nr::PTRACE,
            match (n.alert_only, n.permissive) {
                (true, _) => intercept,
                (false, true) => Ret::Allow,
                _ => eperm,
            },
        ),
        // Writing another process's memory: decided by the interceptor (read_handler), which
        // also lets the shield's own trampoline write its callers' results back.
        plan(nr::PROCESS_VM_WRITEV, intercept),
        rt_sigaction_plan(intercept),
        prctl_plan(n.permissive),
    ];
    if !n.permissive {
        // Another filter stacked on ours sees the shield's own calls too (the trampoline is
        // exempt from ours only): one refusing `readlinkat` blinded every read-back of where a
        // descriptor really is, one refusing `unlinkat` or `write` would stop the wipe or the
        // events. While a policy blocks, the function cannot install one (EPERM). Strict mode
        // (`SECCOMP_SET_MODE_STRICT`) binds only the calling thread and stays allowed.
        s.push(when(
            nr::SECCOMP,
            vec![int_eq(0, 1 /* SECCOMP_SET_MODE_FILTER */)],
            eperm,
            Ret::Allow,
        ));
    }
    if intercept == Ret::Notify {
        // A userfaultfd that handles faults the kernel takes on a caller's memory can stall
        // the supervisor's copy of a pointer argument (process_vm_readv) for ever, and with
        // it every notified call of every thread. Only user-mode-only instances (Linux 5.11+:
        // the kernel's own faults on them fail with EFAULT) are allowed; the rest get EPERM,
        // as from a kernel with `vm.unprivileged_userfaultfd = 0`.
        let not_user_only = Condition {
            arg: 0,
            cmp: ArgCmp::MaskedEq {
                mask: UFFD_USER_MODE_ONLY,
                value: 0,
            },
        };
        s.push(when(
            nr::USERFAULTFD,
            vec![not_user_only],
            eperm,
            Ret::Allow,
        ));
    }
    // The filter has a listener under notify, and under trap when forks go to one.
    let listener = intercept == Ret::Notify || (fork_events && n.fork_in_kernel);
    if listener {
        s.push(ioctl_plan(intercept == Ret::Notify));
    }
    if n.other_procs {
        // Other processes' memory and descriptors (a Lambda extension, the runtime).
        s.push(plan(nr::PROCESS_VM_READV, intercept));
        s.push(plan(nr::PIDFD_GETFD, intercept));
    }
    if intercept == Ret::Trap {
        // A trap with SIGSYS blocked kills the process: SIG_BLOCK masks (pthread_sigmask,
        // sigprocmask, glibc's block-all around clone) are re-issued without SIGSYS (the trap
        // handler strips the bit). SIG_SETMASK is not trapped: glibc restores saved masks with
        // it, possibly while a mask taken before install still blocks SIGSYS, and a trap
        // then would be fatal (see the README's limits).
        s.push(when(
            nr::RT_SIGPROCMASK,
            vec![
                Condition {
                    arg: 0,
                    cmp: ArgCmp::Eq(libc::SIG_BLOCK as u64),
                },
                Condition {
                    arg: 1,
                    cmp: ArgCmp::NonZero,
                },
            ],
            Ret::Trap,
            Ret::Allow,
        ));
    }
    if intercept == Ret::Trap && !n.permissive {
        // A process may queue itself a SIGSYS with any siginfo (si_code SYS_SECCOMP, si_arch,
        // si_syscall), and deliver it with any registers (a signal handler's edited
        // ucontext). The handler runs the filter again on what it sees and acts only on what
        // it traps, but a forged SIGSYS could still land on a thread of the shield's own (the
        // exempt wipe) at a moment of its choosing: while a policy blocks, queueing SIGSYS with
        // a siginfo is refused (EPERM). `kill`/`tgkill` stay allowed: the kernel stamps their
        // si_code (SI_USER, SI_TKILL), which no trap carries.
        let sigsys = libc::SIGSYS;
        s.push(when(
            nr::RT_SIGQUEUEINFO,
            vec![int_eq(1, sigsys)],
            eperm,
            Ret::Allow,
        ));
        s.push(when(
            nr::RT_TGSIGQUEUEINFO,
            vec![int_eq(2, sigsys)],
            eperm,
            Ret::Allow,
        ));
        s.push(when(
            nr::PIDFD_SEND_SIGNAL,
            vec![
                int_eq(1, sigsys),
                Condition {
                    arg: 2,
                    cmp: ArgCmp::NonZero,
                },
            ],
            eperm,
            Ret::Allow,
        ));
    }
    if n.outbound {
        s.push(socket_plan(intercept));
        s.push(setsockopt_plan(intercept));
        s.push(plan(nr::CONNECT, intercept));
        s.push(when(
            nr::SENDTO,
            vec![Condition {
                arg: 4,
                cmp: ArgCmp::NonZero,
            }],
            intercept,
            Ret::Allow,
        ));
        s.push(plan(nr::SENDMSG, intercept));
        s.push(plan(nr::SENDMMSG, intercept));
        s.push(when(
            nr::RECVFROM,
            vec![Condition {
                arg: 4,
                cmp: ArgCmp::NonZero,
            }],
            intercept,
            Ret::Allow,
        ));
        // recvmsg's source address lives inside the msghdr, so it cannot be checked in the
        // filter: the trap interceptor takes every recvmsg (to learn DNS answers); the notify
        // interceptor does not emulate recvmsg (see the README's limits).
        if intercept == Ret::Trap {
            s.push(plan(nr::RECVMSG, intercept));
        }
    }
    if n.paths_open {
        for &o in arch::groups::OPEN {
            if o == nr::OPEN_BY_HANDLE_AT {
                // The handle names no path to decide on: refused unless no path policy blocks
                // (alert mode), where it runs and what it opened is reported.
                s.push(plan(
                    o,
                    if n.handle_open_alert {
                        intercept
                    } else {
                        eperm
                    },
                ));
            } else {
                s.push(plan(o, intercept));
            }
        }
    }
    if n.paths_open {
        // Path-taking calls the shield does not decide: ENOSYS and an event in block mode.
        for o in super::pathcalls::unclassified() {
            s.push(plan(o, intercept));
        }
    }
    if n.paths_read {
        for &o in arch::groups::PATH_READ {
            s.push(plan(o, intercept));
        }
        s.push(plan(nr::NAME_TO_HANDLE_AT, intercept));
        s.push(plan(nr::INOTIFY_ADD_WATCH, intercept));
    }
    if n.paths_write {
        for &o in arch::groups::PATH_WRITE {
            s.push(plan(o, intercept));
        }
        // An AF_UNIX bind creates a file.
        s.push(plan(nr::BIND, intercept));
    }
    if n.exec {
        s.push(plan(nr::EXECVE, intercept));
        s.push(plan(nr::EXECVEAT, intercept));
    }
    if n.paths_open && !n.permissive {
        // A thread or child in another mount namespace (or user namespace, which brings one)
        // sees other objects behind the same paths than the shield resolves: refused with
        // EPERM while a policy blocks. (It needs CAP_SYS_ADMIN or user namespaces, which
        // Lambda refuses; clone3 cannot be checked here, see the README's limits, and the
        // notify supervisor refuses path calls from callers whose view differs.)
        let new_ns = (libc::CLONE_NEWNS | libc::CLONE_NEWUSER) as u64;
        let any_ns = Condition {
            arg: 0,
            cmp: ArgCmp::MaskedNe {
                mask: new_ns,
                value: 0,
            },
        };
        s.push(when(nr::UNSHARE, vec![any_ns], eperm, Ret::Allow));
        let mut setns = plan(nr::SETNS, Ret::Allow);
        setns.branches = vec![
            (vec![int_eq(1, 0)], eperm),
            (
                vec![Condition {
                    arg: 1,
                    cmp: ArgCmp::MaskedNe {
                        mask: new_ns,
                        value: 0,
                    },
                }],
                eperm,
            ),
        ];
        s.push(setns);
        if !n.fork_in_kernel {
            s.push(when(nr::CLONE, vec![any_ns], eperm, Ret::Allow));
        }
    }
    if n.fork_in_kernel {
        // Never TRAP here: glibc blocks every signal around clone (posix_spawn), and a trap
        // with SIGSYS blocked kills the process. USER_NOTIF needs no signal.
        let refuse = if fork_events { Ret::Notify } else { eperm };
        #[cfg(target_arch = "x86_64")]
        {
            s.push(plan(nr::FORK, refuse));
            s.push(plan(nr::VFORK, refuse));
        }
        s.push(when(
            nr::CLONE,
            vec![Condition {
                arg: 0,
                cmp: ArgCmp::MaskedEq {
                    mask: libc::CLONE_THREAD as u64,
                    value: 0,
                },
            }],
            refuse,
            Ret::Allow,
        ));
    }
    FilterSpec {
        arch: arch::AUDIT_ARCH,
        // The 32-bit ABI (`int 0x80`): its numbers and arguments are not the native ones, so
        // nothing above applies to it and it is killed. In alert-only mode it runs as with no
        // shield: the supervisor reports it and continues it. The trap interceptor cannot
        // continue a call, so there it runs unreported (alert-only mode normally uses notify:
        // children may run).
        foreign_arch: match (n.alert_only, n.permissive, intercept) {
            (true, _, Ret::Notify) => Ret::Notify,
            (_, true, _) => Ret::Allow,
            _ => Ret::KillProcess,
        },
        syscalls: s,
        exempt_ip: Some(trampoline_ip),
        exempt_actions: vec![Ret::Trap, Ret::Notify, LISTENER_IOCTL],
        otherwise: Ret::Allow,
    }
}

/// The ioctl type of the seccomp user-notification API (`SECCOMP_IOCTL_NOTIF_*` are
/// `_IO*('!', 0..4, ..)`; no other driver uses `'!'`).
const SECCOMP_IOC_TYPE: u64 = b'!' as u64;

/// What the filter answers a `SECCOMP_IOCTL_NOTIF_*` ioctl from anywhere but the shield's
/// trampoline: ENOTTY, what the kernel answers on an fd that is no listener. Exempt for the
/// trampoline (see `exempt_actions`), so the supervisor's own ioctls pass.
pub(crate) const LISTENER_IOCTL: Ret = Ret::Errno(libc::ENOTTY as u16);

/// `ioctl`: the shield's listener is an fd of the function (the supervisor thread shares its
/// fd table), so code of the function could receive notifications itself and answer them
/// with `SECCOMP_USER_NOTIF_FLAG_CONTINUE` (the call then runs undecided, with no event), or
/// install fds with `SECCOMP_IOCTL_NOTIF_ADDFD`. Every ioctl of the seccomp notification API
/// (whatever its size and direction bits: the kernel matches ADDFD by number alone) gets
/// ENOTTY unless the shield's trampoline makes it, in every mode. A process under this filter
/// can hold no other listener that it could use (the kernel allows one per filter chain), so
/// this changes nothing for code that does not attack the shield; a listener received from a
/// process outside the filter cannot be driven (README, "Stand-by supervisor"). Only in a
/// filter that has a listener: otherwise the function may create and drive its own.
/// Under notify, `/dev/userfaultfd`'s USERFAULTFD_IOC_NEW (Linux 6.1+) without
/// `UFFD_USER_MODE_ONLY` gets EPERM, like the `userfaultfd` syscall.
fn ioctl_plan(notify: bool) -> SyscallPlan {
    let mut branches = vec![(
        vec![Condition {
            arg: 1,
            cmp: ArgCmp::MaskedEq {
                mask: 0xff00,
                value: SECCOMP_IOC_TYPE << 8,
            },
        }],
        LISTENER_IOCTL,
    )];
    if notify {
        branches.push((
            vec![
                int_eq(1, USERFAULTFD_IOC_NEW),
                Condition {
                    arg: 2,
                    cmp: ArgCmp::MaskedEq {
                        mask: UFFD_USER_MODE_ONLY,
                        value: 0,
                    },
                },
            ],
            Ret::Errno(libc::EPERM as u16),
        ));
    }
    SyscallPlan {
        nr: nr::IOCTL,
        branches,
        default: Ret::Allow,
    }
}

/// Keep descriptors `from..` (the range the shield holds its decided objects in, see
/// `sys::held::HELD_FROM`) out of reach of every caller but the trampoline: `dup2`/`dup3` onto
/// them and `fcntl(F_DUPFD*)` into them, `close` of them and a `close_range` reaching them go
/// to the interceptor (exempt for the trampoline), which answers as if they lay beyond the
/// descriptor limit (EBADF, EINVAL) and carries out a `close_range` below them. Only while a
/// policy blocks (a swapped descriptor redirects a call the shield decided) and `from > 0`.
pub(crate) fn reserve_descriptors(spec: &mut FilterSpec, from: i32, intercept: Ret) {
    if from <= 0 {
        return;
    }
    let at_least = |arg: u8| Condition {
        arg,
        cmp: ArgCmp::Low32AtLeast(from as u32),
    };
    let mut plans = vec![
        when(nr::CLOSE, vec![at_least(0)], intercept, Ret::Allow),
        when(nr::DUP3, vec![at_least(1)], intercept, Ret::Allow),
        when(nr::CLOSE_RANGE, vec![at_least(1)], intercept, Ret::Allow),
    ];
    #[cfg(target_arch = "x86_64")]
    plans.push(when(nr::DUP2, vec![at_least(1)], intercept, Ret::Allow));
    let mut fcntl = plan(nr::FCNTL, Ret::Allow);
    for cmd in [libc::F_DUPFD, libc::F_DUPFD_CLOEXEC] {
        fcntl
            .branches
            .push((vec![int_eq(1, cmd), at_least(2)], intercept));
    }
    plans.push(fcntl);
    for p in plans {
        if !spec.syscalls.iter().any(|q| q.nr == p.nr) {
            spec.syscalls.push(p);
        }
    }
}

/// A 32-bit comparison on an `int` argument (the kernel ignores the upper half).
fn int_eq(arg: u8, v: i32) -> Condition {
    Condition {
        arg,
        cmp: ArgCmp::MaskedEq {
            mask: 0xffff_ffff,
            value: v as u32 as u64,
        },
    }
}

/// `socket(family, type, ..)`: ordinary sockets (AF_UNIX, AF_NETLINK, and AF_INET/AF_INET6 of
/// a type other than SOCK_RAW or SOCK_PACKET) are allowed in the kernel; everything else goes
/// to the interceptor, which refuses raw and packet sockets and unknown families under block.
fn socket_plan(intercept: Ret) -> SyscallPlan {
    let kind = |v: i32| Condition {
        arg: 1,
        cmp: ArgCmp::MaskedEq {
            mask: 0xf,
            value: v as u64,
        },
    };
    let mut branches = vec![
        (vec![int_eq(0, libc::AF_UNIX)], Ret::Allow),
        (vec![int_eq(0, libc::AF_NETLINK)], Ret::Allow),
    ];
    for fam in [libc::AF_INET, libc::AF_INET6] {
        branches.push((
            vec![int_eq(0, fam), int_eq(2, libc::IPPROTO_SCTP)],
            intercept,
        ));
        branches.push((vec![int_eq(0, fam), kind(libc::SOCK_RAW)], intercept));
        branches.push((vec![int_eq(0, fam), kind(10 /* SOCK_PACKET */)], intercept));
        branches.push((vec![int_eq(0, fam)], Ret::Allow));
    }
    SyscallPlan {
        nr: nr::SOCKET,
        branches,
        default: intercept,
    }
}

/// `setsockopt`: only the options that route datagrams elsewhere go to the interceptor.
fn setsockopt_plan(intercept: Ret) -> SyscallPlan {
    use super::netcheck as nc;
    let mut branches = Vec::new();
    for opt in [
        nc::IPV6_RTHDR,
        nc::IPV6_2292RTHDR,
        nc::IPV6_2292PKTOPTIONS,
        nc::IPV6_NEXTHOP,
    ] {
        branches.push((
            vec![int_eq(1, libc::IPPROTO_IPV6), int_eq(2, opt)],
            intercept,
        ));
    }
    branches.push((
        vec![int_eq(1, libc::IPPROTO_IP), int_eq(2, nc::IP_OPTIONS)],
        intercept,
    ));
    SyscallPlan {
        nr: nr::SETSOCKOPT,
        branches,
        default: Ret::Allow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intercept::filter::{ret, Filter, SeccompData};

    fn policy(m: Mode) -> Policy {
        crate::Shield::builder()
            .env(crate::policy::Env::from_pairs([(
                "LAMBDA_TASK_ROOT",
                "/var/task",
            )]))
            .resolv_conf("nameserver 127.0.0.1\n")
            .tmp_root("/nonexistent-fnshield-tmp")
            .wipe_tmp(false)
            .mode(m)
            .build_policy()
            .unwrap()
    }

    fn run(p: &Policy, nr: i64, args: [u64; 6]) -> u32 {
        let f = Filter::try_from(&trap_filter_spec(p, 0x1000, false)).unwrap();
        f.run(&SeccompData {
            nr: nr as i32,
            arch: arch::AUDIT_ARCH,
            instruction_pointer: 0x2000,
            args,
        })
    }

    /// The reserved descriptor range: every way of replacing or closing a descriptor there
    /// goes to the interceptor, except from the trampoline; below it nothing changes.
    #[test]
    fn reserved_descriptors_are_out_of_reach() {
        let block = policy(Mode::Block);
        let mut spec = trap_filter_spec(&block, 0x1000, false);
        reserve_descriptors(&mut spec, 960, Ret::Trap);
        let f = Filter::try_from(&spec).unwrap();
        let at = |ip: u64, nr: i64, args: [u64; 6]| {
            f.run(&SeccompData {
                nr: nr as i32,
                arch: arch::AUDIT_ARCH,
                instruction_pointer: ip,
                args,
            })
        };
        let run = |nr, args| at(0x2000, nr, args);
        let (trap, allow) = (ret::TRAP, ret::ALLOW);
        assert_eq!(run(nr::CLOSE, [961, 0, 0, 0, 0, 0]), trap);
        assert_eq!(run(nr::CLOSE, [960, 0, 0, 0, 0, 0]), trap);
        assert_eq!(run(nr::CLOSE, [959, 0, 0, 0, 0, 0]), allow);
        // An int argument: the kernel ignores the upper half.
        assert_eq!(run(nr::CLOSE, [(1 << 32) | 5, 0, 0, 0, 0, 0]), allow);
        assert_eq!(run(nr::CLOSE, [(7 << 32) | 970, 0, 0, 0, 0, 0]), trap);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(run(nr::DUP2, [3, 970, 0, 0, 0, 0]), trap);
        assert_eq!(run(nr::DUP3, [3, 970, 0, 0, 0, 0]), trap);
        assert_eq!(run(nr::DUP3, [3, 10, 0, 0, 0, 0]), allow);
        let dupfd = libc::F_DUPFD as u64;
        let dupfd_cloexec = libc::F_DUPFD_CLOEXEC as u64;
        assert_eq!(run(nr::FCNTL, [3, dupfd, 970, 0, 0, 0]), trap);
        assert_eq!(run(nr::FCNTL, [3, dupfd_cloexec, 970, 0, 0, 0]), trap);
        assert_eq!(run(nr::FCNTL, [3, dupfd_cloexec, 3, 0, 0, 0]), allow);
        assert_eq!(
            run(nr::FCNTL, [3, libc::F_SETFD as u64, 970, 0, 0, 0]),
            allow
        );
        assert_eq!(run(nr::CLOSE_RANGE, [3, u32::MAX as u64, 0, 0, 0, 0]), trap);
        assert_eq!(run(nr::CLOSE_RANGE, [3, 100, 0, 0, 0, 0]), allow);
        // The shield's own calls, through the trampoline.
        assert_eq!(at(0x1000, nr::CLOSE, [961, 0, 0, 0, 0, 0]), allow);
        assert_eq!(
            at(0x1000, nr::FCNTL, [3, dupfd_cloexec, 960, 0, 0, 0]),
            allow
        );
    }

    /// Queueing SIGSYS with a siginfo is refused while a policy blocks (a forged trap could
    /// otherwise land on a shield thread); other signals, and every signal in alert mode, pass.
    #[test]
    fn queueing_sigsys_and_stacking_filters_are_refused_while_a_policy_blocks() {
        let eperm = ret::ERRNO | libc::EPERM as u32;
        let sys = libc::SIGSYS as u64;
        let usr = libc::SIGUSR1 as u64;
        let block = policy(Mode::Block);
        assert_eq!(
            run(&block, nr::RT_SIGQUEUEINFO, [1, sys, 8, 0, 0, 0]),
            eperm
        );
        assert_eq!(
            run(&block, nr::RT_TGSIGQUEUEINFO, [1, 2, sys, 8, 0, 0]),
            eperm
        );
        assert_eq!(
            run(&block, nr::PIDFD_SEND_SIGNAL, [3, sys, 8, 0, 0, 0]),
            eperm
        );
        // pidfd_send_signal without an info: the kernel stamps SI_USER.
        assert_eq!(
            run(&block, nr::PIDFD_SEND_SIGNAL, [3, sys, 0, 0, 0, 0]),
            ret::ALLOW
        );
        assert_eq!(
            run(&block, nr::RT_TGSIGQUEUEINFO, [1, 2, usr, 8, 0, 0]),
            ret::ALLOW
        );
        assert_eq!(
            run(&block, nr::RT_SIGQUEUEINFO, [1, usr, 8, 0, 0, 0]),
            ret::ALLOW
        );
        // Stacking another filter: refused while a policy blocks, strict mode allowed.
        assert_eq!(run(&block, nr::SECCOMP, [1, 0, 8, 0, 0, 0]), eperm);
        assert_eq!(run(&block, nr::SECCOMP, [0, 0, 0, 0, 0, 0]), ret::ALLOW);
        let pr_filter = [libc::PR_SET_SECCOMP as u64, 2, 8, 0, 0, 0];
        assert_eq!(run(&block, nr::PRCTL, pr_filter), eperm);
        let alert = policy(Mode::Alert);
        assert_eq!(run(&alert, nr::SECCOMP, [1, 0, 8, 0, 0, 0]), ret::ALLOW);
        assert_eq!(run(&alert, nr::PRCTL, pr_filter), ret::ALLOW);
        assert_eq!(
            run(&alert, nr::RT_TGSIGQUEUEINFO, [1, 2, sys, 8, 0, 0]),
            ret::ALLOW
        );
        assert_eq!(
            run(&alert, nr::RT_SIGQUEUEINFO, [1, sys, 8, 0, 0, 0]),
            ret::ALLOW
        );
    }
}
