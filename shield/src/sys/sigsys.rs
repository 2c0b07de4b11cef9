//! The SIGSYS signal handler of the trap interceptor: it takes the syscall number and
//! arguments out of the `ucontext_t`, asks the registered handler (the interceptor's
//! `on_trap`) for the result, and writes it to the return register, with `errno` preserved.

use std::sync::OnceLock;

/// The C library's own signal for applying `setuid`, `setgid`, `setgroups` and the like to
/// every thread (glibc: SIGSETXID, 33; musl: SIGSYNCCALL, 34). The caller sends it to each
/// thread and waits until all have made the change, so a thread that blocks it makes that call
/// wait for ever: the shield's threads, which block every other signal, leave it deliverable.
/// Only the C library's handler runs for it (its `sigaction` refuses the number), and that
/// handler makes the one id-changing system call, which no filter intercepts.
pub(crate) const LIBC_SETXID_BIT: u64 = if cfg!(target_env = "musl") {
    1 << (34 - 1)
} else if cfg!(target_env = "gnu") {
    1 << (33 - 1)
} else {
    0
};

/// What a trapped syscall returns: `handler(nr, args, ip, mask)`, or `None` when the filter
/// does not trap that call (then the interrupted code resumes untouched). Set once, before the
/// filter goes in. Runs in signal context: it must be async-signal-safe.
///
/// `nr` is the number as the kernel's seccomp saw it (the low 32 bits of the register);
/// `ip` is the interrupted instruction pointer (for a genuine trap, the address after the
/// syscall instruction, which the filter saw as `instruction_pointer`).
///
/// The last argument is the first word of the interrupted code's signal mask (restored by
/// `sigreturn` when the handler returns): a handler that emulates `rt_sigprocmask` changes it
/// there, since a real `rt_sigprocmask` inside the handler would act on the handler's own mask.
pub(crate) type TrapHandler = fn(Trapped, [u64; 6], u64, &mut u64) -> Option<i64>;

/// The syscall number of a trap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Trapped {
    /// The number seccomp saw: the register's low 32 bits, sign-extended.
    pub(crate) nr: i64,
    /// Whether the register's upper 32 bits agree (the kernel's own dispatch differs between
    /// versions for a number that does not fit: 5.10 answers ENOSYS, 6.x runs the low half).
    pub(crate) whole: bool,
}

/// `si_code` of a SIGSYS raised by a seccomp filter (`SYS_SECCOMP`).
const SYS_SECCOMP: i32 = 1;

static HANDLER: OnceLock<TrapHandler> = OnceLock::new();

/// Install the SIGSYS handler that answers trapped syscalls with `handler`. Returns an errno
/// on failure.
pub(crate) fn install(handler: TrapHandler) -> Result<(), i32> {
    let _ = HANDLER.set(handler);
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; we then fill the
    // handler and flags. `on_sigsys` has the SA_SIGINFO signature and is
    // async-signal-safe. SA_ONSTACK is deliberately not set: Rust's per-thread alternate
    // stacks are too small for the handler's buffers.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigsys as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        // Every other signal is blocked while the handler runs: a user handler interrupting it
        // would run with SIGSYS blocked, and its first trapped call would kill the process.
        libc::sigfillset(&mut sa.sa_mask);
        if libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()) != 0 {
            return Err(*libc::__errno_location());
        }
    }
    Ok(())
}

/// The SIGSYS handler. It acts only on what looks like a genuine seccomp trap: `si_code` is
/// `SYS_SECCOMP` (a `tgkill`, a timer, `F_SETSIG` or syscall user dispatch cannot forge it),
/// `si_arch` is the native architecture, and `si_syscall` is the number in the syscall
/// register. That is not proof: a thread may queue itself any siginfo (`rt_tgsigqueueinfo`,
/// or the main thread `rt_sigqueueinfo` to the process), and a signal handler that edits its
/// `ucontext` before returning sets every register the pending SIGSYS is then delivered with.
/// So the registered handler runs the installed filter itself on the registers (number,
/// arguments, instruction pointer) and acts only where it answers `SECCOMP_RET_TRAP` (see
/// `intercept::trap::on_trap`); where a policy blocks, the filter also refuses queueing SIGSYS
/// with a siginfo. Anything else returns at once, nothing re-issued.
///
/// Async-signal-safe: saves and restores `errno`, touches only the precompiled tables, atomics,
/// the event ring and its own stack.
extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: __errno_location returns the calling thread's errno slot, valid for the
    // thread's lifetime.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: as above.
    let saved = unsafe { *errno };
    let uc = ctx.cast::<libc::ucontext_t>();
    // SAFETY: for an SA_SIGINFO handler the kernel passes a valid ucontext_t as the third
    // argument; it lives on this stack frame's caller for the handler's duration.
    let (nr, args, ip) = unsafe { regs(&*uc) };
    // SAFETY: for an SA_SIGINFO handler the kernel passes a valid siginfo_t (128 bytes) as the
    // second argument; its first 32 bytes are read as plain data.
    let head = unsafe { std::ptr::read(info.cast::<[u8; 32]>()) };
    let word = |o: usize| i32::from_ne_bytes([head[o], head[o + 1], head[o + 2], head[o + 3]]);
    let trapped = Trapped {
        nr: i64::from(nr as i32),
        whole: i64::from(nr as i32) == nr,
    };
    let genuine = word(8) == SYS_SECCOMP
        && word(28) as u32 == crate::intercept::arch::AUDIT_ARCH
        && i64::from(word(24)) == trapped.nr;
    // SAFETY: the same ucontext; uc_sigmask is a kernel sigset whose first 64-bit word holds
    // signals 1-64 on x86_64 and aarch64.
    let mask = unsafe { &mut *std::ptr::addr_of_mut!((*uc).uc_sigmask).cast::<u64>() };
    let ret = match HANDLER.get() {
        Some(handler) if genuine => handler(trapped, args, ip, mask),
        _ => None,
    };
    let Some(ret) = ret else {
        // SAFETY: as above.
        unsafe { *errno = saved };
        return;
    };
    // SAFETY: same ucontext as above; writing the return register is how a trap handler
    // completes an emulated syscall.
    unsafe { set_ret(&mut *uc, ret) };
    // SAFETY: as above.
    unsafe { *errno = saved };
}

#[cfg(target_arch = "x86_64")]
fn regs(uc: &libc::ucontext_t) -> (i64, [u64; 6], u64) {
    let g = &uc.uc_mcontext.gregs;
    let r = |i: libc::c_int| g[i as usize] as u64;
    (
        g[libc::REG_RAX as usize],
        [
            r(libc::REG_RDI),
            r(libc::REG_RSI),
            r(libc::REG_RDX),
            r(libc::REG_R10),
            r(libc::REG_R8),
            r(libc::REG_R9),
        ],
        r(libc::REG_RIP),
    )
}

#[cfg(target_arch = "x86_64")]
fn set_ret(uc: &mut libc::ucontext_t, ret: i64) {
    uc.uc_mcontext.gregs[libc::REG_RAX as usize] = ret;
}

#[cfg(target_arch = "aarch64")]
fn regs(uc: &libc::ucontext_t) -> (i64, [u64; 6], u64) {
    let r = &uc.uc_mcontext.regs;
    (
        r[8] as i64,
        [r[0], r[1], r[2], r[3], r[4], r[5]],
        uc.uc_mcontext.pc,
    )
}

#[cfg(target_arch = "aarch64")]
fn set_ret(uc: &mut libc::ucontext_t, ret: i64) {
    uc.uc_mcontext.regs[0] = ret as u64;
}
