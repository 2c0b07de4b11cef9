//! The install sequence: choose the interceptor → compile the filter → arm it → report what is
//! enforced. Each step is a function below; [`install`] runs them in order and turns a refusal
//! by the kernel into an honest report (or an error, with `require_enforcement`).

use super::decide::{Decider, ModeSlot};
use super::enforcement::{
    Enforcement, EnforcementState, FeatureStatus, KernelProbe, LibcLayer, Mechanism,
    PolicyEnforcement,
};
use super::filter::Filter;
use super::mounts::MountRoots;
use super::probe;
use super::shared::{InterceptState, STATE};
use super::spec::{needs, notify_filter_spec, trap_filter_spec, Needs};
use super::{libc_layer, notify, threads, trap};
use crate::error::InstallError;
use crate::event::{Action, Details, Event, Reporter};
use crate::policy::{InterceptorChoice, Mode, Policy, PolicyKind};
use crate::sys;
use std::sync::Arc;

/// Tighten a policy (see [`crate::Shield::tighten`]).
pub(crate) fn tighten(policy: PolicyKind, to: Mode) -> Option<Mode> {
    // Nothing can be tightened unless the filter is in or the libc layer enforces (a refused
    // install without the layer leaves the state, unused).
    if !INSTALLED.load(std::sync::atomic::Ordering::Acquire) && !libc_layer::active() {
        return None;
    }
    let st = STATE.get()?;
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
        notify::standby::tightened(s, to);
    }
    Some(now)
}

/// Set once the filter is installed.
static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

static INTERCEPTED: [std::sync::atomic::AtomicBool; 5] =
    [const { std::sync::atomic::AtomicBool::new(false) }; 5];

/// Install kernel enforcement of `policy` in this process, recording degradation events with
/// `reporter`, and report what is enforced.
///
/// # Errors
///
/// [`InstallError::NotEnforced`] when `require_enforcement` is set and a policy is not
/// enforced at all; [`InstallError::AlreadyInstalled`] when a filter is already in place;
/// [`InstallError::Setup`] when the filter does not compile or the supervisor thread cannot
/// start. A kernel that refuses seccomp is not an error: the report says so.
pub(crate) fn install(
    policy: &Policy,
    reporter: &Arc<Reporter>,
) -> Result<Enforcement, InstallError> {
    crate::event::set_tmp_root(policy.tmp_root());
    // The memory the interceptors may copy from without process_vm_readv.
    crate::sys::readable::learn_process();
    // What /etc/hosts answers, read before any filter is in place.
    libc_layer::prepare_hosts_answers();
    // The name servers libc's resolver reads from its configuration: the ones the function
    // did not write into `_res` itself.
    #[cfg(all(feature = "libc-layer", target_os = "linux", target_env = "gnu"))]
    crate::sys::libc_hooks::snapshot_name_servers();
    let mut kernel = probe::probe();
    let choice = choose(policy);
    if let Some(reason) = choice.refused_by_probe(&kernel) {
        let report = refused(policy, reporter, kernel, choice.why, &reason)?;
        return finish(policy, reporter, report);
    }
    if let Some(reason) = choice.unavailable(&kernel) {
        let report = refused(policy, reporter, kernel, choice.why, reason)?;
        return finish(policy, reporter, report);
    }
    let mut compiled = compile(policy, &kernel, &choice)?;
    let killable = match arm(policy, reporter, &mut kernel, &mut compiled) {
        Ok(killable) => killable,
        Err(Armed::Refused(reason)) => {
            notify::standby::abandon();
            // Roots taken before the refusal: nothing guards or uses them.
            if let Some(st) = STATE.get() {
                st.roots.release();
            }
            let report = refused(policy, reporter, kernel, choice.why, &reason)?;
            return finish(policy, reporter, report);
        }
        Err(Armed::Failed(e)) => {
            notify::standby::abandon();
            if let Some(st) = STATE
                .get()
                .filter(|_| !matches!(e, InstallError::AlreadyInstalled))
            {
                st.roots.release();
            }
            return Err(e);
        }
    };
    let mut report = report(policy, kernel, choice, &compiled, killable);
    if let Some(st) = STATE.get().filter(|st| st.check_exe) {
        report.interceptor_reason.push_str("; ");
        report.interceptor_reason.push_str(&st.roots.note());
    }
    if !compiled.needs.permissive && crate::sys::held::held_from() == 0 {
        unguarded_descriptors(&mut report);
    }
    report.libc_layer = if libc_layer::activate(compiled.needs.exec) {
        report.interceptor_reason.push_str(
            "; libc layer active: calls through the libc entry points are decided in process and reach the kernel through the exempt trampoline (no trap)",
        );
        LibcLayer::Active
    } else if libc_layer::BUILT {
        LibcLayer::Inactive
    } else {
        LibcLayer::NotBuilt
    };
    finish(policy, reporter, report)
}

/// The soft `RLIMIT_NOFILE` was too low to reserve a descriptor range (see
/// `sys::held::reserve_held_range`): the descriptors the shield holds its decided objects in are
/// not guarded against another thread's `dup2`, so the path policies are not fully enforced.
fn unguarded_descriptors(report: &mut Enforcement) {
    for p in &mut report.policies {
        if matches!(p.policy, PolicyKind::ReadWriteTmp | PolicyKind::ReadHandler)
            && p.state != EnforcementState::NotEnforced
        {
            p.state = EnforcementState::PartiallyEnforced;
            p.reason.push_str(&format!("; the soft RLIMIT_NOFILE is below {}, too low to reserve descriptors for the shield: another thread could dup2 a directory onto a descriptor the shield decided on between the decision and the act (raise the limit)", 4 * crate::sys::held::HELD_SLOTS_MIN));
        }
    }
}

/// Step 1: the interceptor for this policy, and why.
struct Choice {
    /// USER_NOTIF with a supervisor thread (otherwise SIGSYS trap).
    notify: bool,
    why: String,
}

fn choose(policy: &Policy) -> Choice {
    let children = policy.children_may_run();
    let (notify, why) = match policy.interceptor() {
        InterceptorChoice::Notify => (true, "forced by configuration (interceptor = \"notify\")".to_owned()),
        InterceptorChoice::Trap => (false, "forced by configuration (interceptor = \"trap\")".to_owned()),
        _ if children => (
            true,
            "child processes may run (create_child_process is not block, or executables are allowed); TRAP would kill exec'd children".to_owned(),
        ),
        _ => (false, "no child process can run, so the SIGSYS trap (the fast path) is safe".to_owned()),
    };
    Choice { notify, why }
}

impl Choice {
    /// What the probes found that rules out any install: the forked child's verdict on
    /// prctl/seccomp (a sandbox that kills or refuses them), and a refused process_vm_readv
    /// (both interceptors copy pointer arguments with it; every intercepted call would fail
    /// with EFAULT). Checked before anything is claimed or started.
    fn refused_by_probe(&self, kernel: &KernelProbe) -> Option<String> {
        for f in ["prctl_no_new_privs", "seccomp_filter"] {
            let call = if f == "seccomp_filter" {
                "seccomp(SECCOMP_SET_MODE_FILTER)"
            } else {
                "prctl(PR_SET_NO_NEW_PRIVS)"
            };
            match kernel.feature(f) {
                FeatureStatus::Killed(sig) => return Some(format!(
                    "{call} killed the probe process (signal {sig}): this sandbox's own filter kills it, so fnshield does not call it"
                )),
                FeatureStatus::Refused(e) if f == "seccomp_filter" => return Some(format!(
                    "{call} refused: errno {e} ({})",
                    std::io::Error::from_raw_os_error(e)
                )),
                FeatureStatus::Refused(e) => return Some(format!(
                    "{call} refused (errno {e}) and NoNewPrivs is not already set"
                )),
                _ => {}
            }
        }
        if let FeatureStatus::Refused(e) = kernel.feature("process_vm_readv") {
            return Some(format!(
                "process_vm_readv is refused ({}): the interceptors could not copy any pointer argument, so every intercepted call would fail; nothing is installed",
                std::io::Error::from_raw_os_error(e)
            ));
        }
        None
    }

    /// Why the kernel cannot host this interceptor, if it cannot.
    fn unavailable(&self, kernel: &KernelProbe) -> Option<&'static str> {
        if self.notify && !kernel.notify_available {
            Some(
                "the kernel does not offer SECCOMP_RET_USER_NOTIF (seccomp unavailable or refused)",
            )
        } else if !self.notify && !kernel.trap_available {
            Some("the kernel does not offer SECCOMP_RET_TRAP (seccomp unavailable or refused)")
        } else {
            None
        }
    }
}

/// Step 2: the compiled filter and what it needs at arm time.
struct Compiled {
    filter: Filter,
    needs: Needs,
    /// Trap mode with a supervisor that reports refused forks.
    fork_events: bool,
    /// Whether the filter is installed with a listener (and a supervisor thread).
    listener: bool,
    /// The numbers the filter sends to TRAP (see `InterceptState::trapped`).
    trapped: [u64; 8],
    /// The stand-by supervisor (notify only): its pid, or why there is none.
    standby: Option<Result<i32, String>>,
}

fn compile(
    policy: &Policy,
    kernel: &KernelProbe,
    choice: &Choice,
) -> Result<Compiled, InstallError> {
    let n = needs(policy);
    // In trap mode, a supervisor thread also takes process creation in block mode, so that
    // refused forks are reported (when the kernel offers USER_NOTIF).
    let fork_events = !choice.notify && n.fork_in_kernel && kernel.notify_available;
    let mut spec = if choice.notify {
        notify_filter_spec(policy, sys::trampoline_ip())
    } else {
        trap_filter_spec(policy, sys::trampoline_ip(), fork_events)
    };
    // The shield's held objects live in a reserved descriptor range (see sys::held::HELD_FROM).
    let from = if n.permissive {
        0
    } else {
        crate::sys::held::reserve_held_range()
    };
    super::spec::reserve_descriptors(&mut spec, from, intercept_of(choice.notify));
    let filter =
        Filter::try_from(&spec).map_err(|e| InstallError::Setup(format!("filter: {e}")))?;
    Ok(Compiled {
        trapped: super::shared::trapped_numbers(&spec),
        filter,
        needs: n,
        fork_events,
        listener: choice.notify || fork_events,
        standby: None,
    })
}

/// The return action of the interceptor in use.
fn intercept_of(notify: bool) -> super::filter::ReturnAction {
    if notify {
        super::filter::ReturnAction::Notify
    } else {
        super::filter::ReturnAction::Trap
    }
}

/// Why arming stopped.
enum Armed {
    /// The kernel refused a step: nothing is enforced, and the report says why.
    Refused(String),
    /// A setup error the caller gets as is.
    Failed(InstallError),
}

/// Step 3: set the interceptors' state, hook SIGSYS, set NoNewPrivs if needed, start the
/// reporter (and supervisor) threads and install the filter. Returns whether the listener has
/// `WAIT_KILLABLE_RECV`.
fn arm(
    policy: &Policy,
    reporter: &Arc<Reporter>,
    kernel: &mut KernelProbe,
    compiled: &mut Compiled,
) -> Result<bool, Armed> {
    let exe = exe_identity();
    let roots = if compiled.needs.paths_open {
        MountRoots::learn(exe, policy.tmp_root())
    } else {
        MountRoots::none()
    };
    let state = InterceptState {
        decider: Decider::new(policy),
        exe,
        check_exe: compiled.needs.paths_open,
        roots,
        trapped: compiled.trapped,
    };
    if let Err(unused) = STATE.set(state) {
        unused.roots.release();
        return Err(Armed::Failed(InstallError::AlreadyInstalled));
    }
    if policy.sinks().json {
        crate::event::durable::enable(policy.function_name());
    }
    if let Err(e) = sys::sigsys::install(trap::on_trap) {
        return Err(Armed::Refused(format!(
            "sigaction(SIGSYS) failed: errno {e}"
        )));
    }
    if !kernel.no_new_privs {
        let r = sys::set_no_new_privs();
        if r < 0 {
            return Err(Armed::Refused(format!(
                "prctl(PR_SET_NO_NEW_PRIVS) refused (errno {}) and NoNewPrivs is not already set",
                -r
            )));
        }
    }
    // The stand-by supervisor (notify): forked before the filter and before the shield's own
    // threads, so that it is not under the filter and inherits no lock they could hold.
    if compiled.listener && !compiled.fork_events {
        compiled.standby = Some(notify::standby::start(reporter));
    }
    // The reporter thread drains the ring as it fills (started before the filter). Without
    // it a burst of violations would overflow the ring between flushes: refuse to run.
    if let Err(e) = start_reporter_once(reporter) {
        return Err(Armed::Failed(InstallError::Setup(format!(
            "cannot start the event reporter thread: {e}"
        ))));
    }
    const TSYNC: u64 = libc::SECCOMP_FILTER_FLAG_TSYNC;
    const NEW_LISTENER: u64 = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    const TSYNC_ESRCH: u64 = libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    const WAIT_KILLABLE_RECV: u64 = libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    let mut killable = false;
    // The supervisor thread starts before the filter (see prepare_shield_thread) and
    // receives the listener once it exists.
    let supervisor = if compiled.listener {
        let (tx, rx) = std::sync::mpsc::channel::<i32>();
        // Whether the supervisor holds the listener in a file table of its own: this
        // process's copy is then closed (see notify::private_table).
        let (own_tx, own_rx) = std::sync::mpsc::channel::<bool>();
        let started = threads::spawn_shield_thread("fnshield-supervisor", move || {
            if let Ok(listener) = rx.recv() {
                if listener >= 0 {
                    let _ = own_tx.send(notify::private_table(listener));
                    notify::supervise(crate::sys::notif::Listener::from_raw(listener), -1);
                }
            }
        });
        match started {
            Ok(()) => Some((tx, own_rx)),
            // Without a supervisor every notified call would hang or fail: refuse to run.
            Err(e) => {
                return Err(Armed::Failed(InstallError::Setup(format!(
                    "cannot start the supervisor thread: {e}"
                ))))
            }
        }
    } else {
        None
    };
    // The holder of the stand-by's socket (see standby::spawn_link), started before the
    // filter like the supervisor.
    let link = match compiled.standby {
        Some(Ok(_)) => notify::standby::spawn_link(),
        _ => None,
    };
    let install = |filter: &Filter, flags: u64| {
        // The SIGSYS handler acts only where this very program answers TRAP.
        super::shared::arm_filter(filter);
        let insns = filter.insns();
        let prog = libc::sock_fprog {
            len: insns.len() as u16,
            // `Insn` has the layout of `sock_filter` (repr(C): u16, u8, u8, u32).
            filter: insns.as_ptr() as *mut libc::sock_filter,
        };
        sys::install_filter(&prog, flags)
    };
    let einval = -(libc::EINVAL as i64);
    let mut r = if compiled.listener {
        // WAIT_KILLABLE_RECV (Linux 6.0+): once the supervisor has received a call, only a
        // fatal signal interrupts the caller, so emulated calls are not replayed after EINTR.
        // TSYNC_ESRCH (5.7+) is what lets TSYNC and NEW_LISTENER go together.
        let base = NEW_LISTENER | TSYNC | TSYNC_ESRCH;
        let r = install(&compiled.filter, base | WAIT_KILLABLE_RECV);
        if r == einval {
            kernel.record("wait_killable_recv", einval);
            // `rt_sigreturn` is never notified, although that would show which calls the
            // kernel restarts after a handler (see notify::restart): without this flag a
            // signal interrupts a notified `rt_sigreturn`, and where that signal's handler
            // lacks SA_RESTART the kernel returns EINTR from it instead of restoring the
            // frame, so the thread runs on past the restorer and dies (SIGSEGV; parity.rs
            // own_signal_handlers_two_signal_storm, every run under the k5.10 profile).
            let r = install(&compiled.filter, base);
            kernel.record("new_listener", r.min(0));
            kernel.record("tsync_esrch", r.min(0));
            r
        } else {
            killable = r >= 0;
            if r >= 0 {
                for f in ["wait_killable_recv", "new_listener", "tsync_esrch"] {
                    kernel.record(f, 0);
                }
            }
            r
        }
    } else {
        install(&compiled.filter, TSYNC)
    };
    if r == einval && compiled.fork_events {
        // Linux 5.0-5.6 refuse NEW_LISTENER together with TSYNC (no TSYNC_ESRCH): keep the
        // trap interceptor and refuse process creation in the kernel, without fork events.
        let mut spec = trap_filter_spec(policy, sys::trampoline_ip(), false);
        super::spec::reserve_descriptors(
            &mut spec,
            crate::sys::held::held_from(),
            intercept_of(false),
        );
        compiled.filter = Filter::try_from(&spec)
            .map_err(|e| Armed::Failed(InstallError::Setup(format!("filter: {e}"))))?;
        compiled.fork_events = false;
        compiled.listener = false;
        r = install(&compiled.filter, TSYNC);
    }
    let bad = if compiled.listener { r < 0 } else { r != 0 };
    if bad {
        super::shared::disarm_filter();
        notify::standby::abandon();
        return Err(Armed::Refused(if r > 0 || r == -(libc::ESRCH as i64) {
            format!("seccomp TSYNC could not synchronise a thread ({r})")
        } else if r == einval && compiled.listener {
            "seccomp(SECCOMP_SET_MODE_FILTER) refused NEW_LISTENER with TSYNC (EINVAL: the kernel lacks TSYNC_ESRCH, Linux 5.7): the notify interceptor cannot be installed".to_owned()
        } else {
            format!("seccomp(SECCOMP_SET_MODE_FILTER) refused: errno {}", -r)
        }));
    }
    // The filter guards the descriptor range now: opens may start from the held roots.
    if let Some(st) = STATE.get() {
        st.roots.enable();
    }
    if compiled.listener {
        probe::probe_listener(kernel, r as i32);
        notify::configure(
            kernel.has("addfd_send"),
            kernel.has("addfd"),
            kernel.has("pidfd_getfd"),
        );
        if let Some(Ok(_)) = compiled.standby {
            if !notify::standby::hand_over(
                r as i32,
                kernel.has("addfd_send"),
                kernel.has("addfd"),
                kernel.has("pidfd_getfd"),
            ) {
                compiled.standby = Some(Err(
                    "the listener could not be handed to the stand-by process".to_owned(),
                ));
            } else if let Some(l) = link {
                // Without it the socket stays in this process's table (children made by
                // libc's fork() close it; others keep it: README, "Stand-by supervisor").
                notify::standby::link(l);
            }
        }
    }
    if let Some((tx, own_rx)) = supervisor {
        // The listener is an fd of this process; the supervisor thread takes it from here
        // (-1 when the fork listener was given up: the thread then ends), into a file table
        // of its own where the kernel allows: then this process's copy goes.
        let _ = tx.send(if compiled.listener { r as i32 } else { -1 });
        if compiled.listener && own_rx.recv() == Ok(true) {
            sys::syscall(libc::SYS_close, [r as u64, 0, 0, 0, 0, 0]);
        }
    }
    let n = &compiled.needs;
    // A slot can be tightened only if every syscall it decides is intercepted: tmp reads need
    // the opens and the stat family, tmp writes the opens and the path-based writes.
    for (slot, on) in [
        (ModeSlot::Outbound, n.outbound),
        (ModeSlot::TmpRead, n.paths_open && n.paths_read),
        (ModeSlot::TmpWrite, n.paths_open && n.paths_write),
        (ModeSlot::Child, n.exec),
        (ModeSlot::ReadHandler, n.paths_open),
    ] {
        INTERCEPTED[slot as usize].store(on, std::sync::atomic::Ordering::Relaxed);
    }
    INSTALLED.store(true, std::sync::atomic::Ordering::Release);
    Ok(killable)
}

/// Step 4: what is enforced, per policy, and by what.
fn report(
    policy: &Policy,
    kernel: KernelProbe,
    choice: Choice,
    compiled: &Compiled,
    killable: bool,
) -> Enforcement {
    let want_notify = choice.notify;
    let fork_events = compiled.fork_events;
    let mechanism = if want_notify {
        Mechanism::SeccompNotify
    } else {
        Mechanism::SeccompTrap
    };
    let why = if want_notify {
        format!(
            "{}; {}",
            choice.why,
            if killable {
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV in use"
            } else {
                "this kernel lacks WAIT_KILLABLE_RECV: handlers without SA_RESTART may see EINTR"
            }
        )
    } else {
        choice.why
    };
    let why = match &compiled.standby {
        Some(Ok(pid)) => format!("{why}; a stand-by supervisor process (pid {pid}) takes over the listener if this process execs (itself or another program), and exits with the process"),
        Some(Err(reason)) => format!("{why}; no stand-by supervisor ({reason}): after an execve of this process, every notified call of the new image fails with ENOSYS"),
        None => why,
    };
    let m = policy.modes();
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
                    super::enforcement::ALLOW_REASON.to_owned()
                } else {
                    reason.to_owned()
                },
            }
        };
    let tmp_mode = m.tmp_read().max(m.tmp_write());
    let full = EnforcementState::FullyEnforced;
    let policies = if want_notify {
        let partial = EnforcementState::PartiallyEnforced;
        // How an allowed open reaches the caller, from the listener probe.
        let (opens, open_state) = if kernel.has("addfd_send") {
            (
                "opens are emulated (ADDFD with SEND) and verified".to_owned(),
                full,
            )
        } else if kernel.has("addfd") {
            (
                format!("opens are emulated (ADDFD, then NOTIF_SEND with the new fd number: ADDFD_FLAG_SEND is {}) and verified", kernel.feature("addfd_send")),
                full,
            )
        } else {
            (
                format!("opens are decided on a copy of the path and then continued (ADDFD is {}), so a racing thread could swap the path after the check", kernel.feature("addfd")),
                partial,
            )
        };
        let (tmp_state, tmp_reason) = if m.tmp_write() == Mode::Block {
            (
                partial,
                format!("{opens}, in this process and its children; path-based writes are carried out by the supervisor on the decided objects; the stat family, chdir and writes that name their file by fd (AT_EMPTY_PATH, utimensat without a path) are decided and then continued, so a racing thread could swap the path or fd after the check"),
            )
        } else {
            (open_state, format!("{opens}; path-based writes and the stat family decided by the supervisor, in this process and its children"))
        };
        let (child_state, child_reason) = if m.child() == Mode::Block
            && !policy.exec_allow().is_empty()
        {
            (
                partial,
                "execve/execveat decided by the supervisor; an allowed executable continues after the check, so a racing thread could swap the path; children stay supervised",
            )
        } else {
            (full, "execve/execveat decided by the supervisor; children stay supervised; clone3 ENOSYS")
        };
        let replays = if killable {
            ""
        } else {
            "; this kernel lacks WAIT_KILLABLE_RECV, so a signal can make it restart an emulated call after its answer was sent: a restart is answered with the first result when the answer was lost, and a restarted connect's EISCONN is mapped back, but an answer the kernel accepted just as a signal woke the caller is discarded, and that restart counts as a new call (one more event, a datagram sent twice)"
        };
        let (net_state, net_reason) = if kernel.has("pidfd_getfd") {
            (full, format!("connect, sendto, sendmsg, sendmmsg decided on copies and emulated on a duplicate socket (pidfd_getfd), in this process and its children; host names learnt from DNS answers{replays}"))
        } else {
            (partial, format!("connect, sendto, sendmsg, sendmmsg decided on copies and then continued (pidfd_getfd is {}), so a racing thread could swap the address after the check; DNS answers received by notified recvfrom calls are not learnt", kernel.feature("pidfd_getfd")))
        };
        vec![
            line(PolicyKind::OutboundConnectivity, m.outbound(), net_state, mechanism, &net_reason),
            line(PolicyKind::ReadWriteTmp, tmp_mode, tmp_state, mechanism, &tmp_reason),
            line(PolicyKind::CreateChildProcess, m.child(), child_state, mechanism, child_reason),
            line(PolicyKind::ReadHandler, m.read_handler(), open_state, mechanism,
                &format!("{opens} by path and by the executable's inode, in this process and its children")),
        ]
    } else {
        vec![
            line(PolicyKind::OutboundConnectivity, m.outbound(), full, mechanism,
                "connect, sendto, sendmsg, sendmmsg trapped and re-issued on copies; host names learnt from DNS answers received with recvfrom"),
            line(PolicyKind::ReadWriteTmp, tmp_mode, full, mechanism,
                "opens, the stat/access/readlink family and path-based writes trapped and re-issued on copies; opened files verified"),
            line(PolicyKind::CreateChildProcess, m.child(), full, mechanism,
                &trap_child_reason(fork_events, m.child() != Mode::Block || !policy.exec_allow().is_empty())),
            line(PolicyKind::ReadHandler, m.read_handler(), full, mechanism,
                "opens trapped and re-issued on copies; the opened file is verified by path and by the executable's inode"),
        ]
    };
    Enforcement {
        policies,
        interceptor: mechanism,
        interceptor_reason: why,
        kernel,
        libc_layer: LibcLayer::Inactive,
    }
}

/// The trap interceptor's child-process line. A child that may run inherits the filter but
/// not the SIGSYS handler (exec resets it), so its first intercepted call kills it: the report
/// says so whenever the policy lets any child run (alert mode, or an exec allowlist).
fn trap_child_reason(fork_events: bool, children_may_run: bool) -> String {
    let base = if fork_events {
        "execve/execveat trapped; fork, vfork and clone without CLONE_THREAD refused (EPERM) and reported by a supervisor thread (user notification); clone3 ENOSYS"
    } else {
        "execve/execveat trapped; fork, vfork and clone without CLONE_THREAD refused in the kernel (EPERM, no event: no user-notification listener on this kernel); clone3 ENOSYS"
    };
    if children_may_run {
        format!("{base}; a child this policy lets run is killed by SIGSYS at its first intercepted call (an exec'd image has no SIGSYS handler): children that must run need the notify interceptor")
    } else {
        base.to_owned()
    }
}

/// Start the reporter thread unless an earlier install step did.
fn start_reporter_once(reporter: &Arc<Reporter>) -> std::io::Result<()> {
    static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !STARTED.swap(true, std::sync::atomic::Ordering::AcqRel) {
        if let Err(e) = threads::start_reporter(reporter.clone()) {
            STARTED.store(false, std::sync::atomic::Ordering::Release);
            return Err(e);
        }
    }
    Ok(())
}

/// What the libc layer leaves uncovered where it is the only mechanism.
const LIBC_ONLY_GAPS: &str = "not covered: raw syscalls (inline assembly, e.g. rustix's linux_raw backend), io_uring, what child processes do after exec, calls made inside libc itself (getaddrinfo's own sockets, posix_spawn's clone), calls from shared libraries bound to libc's definitions directly (-Bsymbolic, glibc's internal names), and another thread replacing the descriptors the layer holds its decided objects in (dup2 onto them between the decision and the call; the kernel filter refuses that where seccomp is installed)";

/// The kernel refused (or lacks) what the interceptor needs. With the libc layer built, it
/// enforces every policy in process, partially (the report names the refusal and the gaps);
/// without it, nothing is enforced.
fn refused(
    policy: &Policy,
    reporter: &Arc<Reporter>,
    mut kernel: KernelProbe,
    why: String,
    reason: &str,
) -> Result<Enforcement, InstallError> {
    kernel.refused = Some(reason.to_owned());
    // With require_kernel_enforcement the install fails below; leave no state behind.
    // The layer copies arguments with process_vm_readv, like the trap handler: where a sandbox
    // refuses that, it would fail every call with EFAULT, so it stays off.
    let mut probe = [0u8; 1];
    // process_vm_readv itself: `read_mem` serves this stack buffer without it (the layer's
    // fast path for proven-readable memory), but heap arguments still need the syscall.
    let vm_readv = crate::sys::read_mem_of(0, probe.as_ptr() as u64, &mut probe) == 1;
    if libc_layer::BUILT && vm_readv && !policy.require_kernel_enforcement() {
        let state = InterceptState {
            decider: Decider::new(policy),
            exe: exe_identity(),
            check_exe: true,
            // Nothing guards the held descriptors without the filter: every open is checked.
            roots: MountRoots::none(),
            // No filter: nothing reaches the SIGSYS handler, which acts on trapped numbers only.
            trapped: [0; 8],
        };
        // Set unless the refused arm step already set it (it does, before asking the kernel).
        let _ = STATE.set(state);
        // First occurrences reach stdout before the call returns here too (issue 13 kind 9:
        // with the libc layer alone they waited in the ring for the flush, and `_exit` or
        // SIGKILL right after a violation lost them).
        if policy.sinks().json {
            crate::event::durable::enable(policy.function_name());
        }
        start_reporter_once(reporter).map_err(|e| {
            InstallError::Setup(format!("cannot start the event reporter thread: {e}"))
        })?;
        if libc_layer::activate(false) {
            for slot in &INTERCEPTED {
                slot.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let m = policy.modes();
            let tmp_mode = m.tmp_read().max(m.tmp_write());
            let policies = [
                (PolicyKind::OutboundConnectivity, m.outbound(), "connect, sendto, sendmsg, sendmmsg decided in process on copies; host names learnt from getaddrinfo answers (/etc/hosts, nscd, DNS)"),
                (PolicyKind::ReadWriteTmp, tmp_mode, "the open family, fopen, opendir, the stat/access/readlink family and path-based writes decided in process on copies"),
                (PolicyKind::CreateChildProcess, m.child(), "execve/execveat/fexecve, the execv* family, posix_spawn(p), system and popen decided in process, with the program and its arguments in events"),
                (PolicyKind::ReadHandler, m.read_handler(), "opens decided in process on copies and verified by path and by the executable's inode"),
            ]
            .into_iter()
            .map(|(p, mode, how)| {
                if mode == Mode::Allow && !policy.runtime_tightening() {
                    PolicyEnforcement {
                        policy: p,
                        state: EnforcementState::NotEnforced,
                        mechanism: Mechanism::None,
                        reason: "mode is allow".to_owned(),
                    }
                } else {
                    PolicyEnforcement {
                        policy: p,
                        state: EnforcementState::PartiallyEnforced,
                        mechanism: Mechanism::Libc,
                        reason: format!(
                            "seccomp refused ({reason}); {how}; {LIBC_ONLY_GAPS}"
                        ),
                    }
                }
            })
            .collect();
            return Ok(Enforcement {
                policies,
                interceptor: Mechanism::Libc,
                interceptor_reason: format!(
                    "{why}; the kernel refused it, so the libc layer enforces in process"
                ),
                kernel,
                libc_layer: LibcLayer::Active,
            });
        }
    }
    Ok(Enforcement {
        policies: not_enforced(reason),
        interceptor: Mechanism::None,
        interceptor_reason: why,
        kernel,
        libc_layer: if libc_layer::BUILT {
            LibcLayer::Inactive
        } else {
            LibcLayer::NotBuilt
        },
    })
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

/// Refuse to run unprotected if asked to; otherwise report every degraded policy as an event.
fn finish(
    policy: &Policy,
    reporter: &Reporter,
    report: Enforcement,
) -> Result<Enforcement, InstallError> {
    let degraded: Vec<_> = report
        .policies
        .iter()
        .filter(|p| {
            p.state != EnforcementState::FullyEnforced
                && p.reason != super::enforcement::ALLOW_REASON
        })
        .collect();
    // require_enforcement refuses to run *unprotected*: a policy that is not enforced at all.
    // A partially enforced one (a documented residual race) is reported, not fatal.
    if policy.require_enforcement()
        && degraded
            .iter()
            .any(|p| p.state == EnforcementState::NotEnforced)
    {
        return Err(InstallError::NotEnforced(Box::new(report)));
    }
    // require_kernel_enforcement also refuses the libc layer alone.
    if policy.require_kernel_enforcement()
        && degraded
            .iter()
            .any(|p| p.state == EnforcementState::NotEnforced || p.mechanism == Mechanism::Libc)
    {
        return Err(InstallError::NotEnforced(Box::new(report)));
    }
    for p in degraded {
        reporter.record(Event::new(
            PolicyKind::Shield,
            Action::Alerted,
            Details::Degraded {
                policy: p.policy.as_str().to_owned(),
                reason: format!("{:?} via {}: {}", p.state, p.mechanism, p.reason),
            },
            "unknown",
        ));
    }
    reporter.flush(None);
    Ok(report)
}
