//! The libc layer's entry points: fnshield defines these glibc functions in the function's own
//! binary, so calls that Rust std, tokio/mio and C code linked into the binary make through
//! them reach fnshield first (the executable's definition wins over libc's at link time).
//!
//! Each hook turns its call into the system call it stands for and asks
//! [`crate::intercept::libc::call`] to decide and carry it out; a call the layer does not
//! decide goes to the kernel through [`super::syscall_filtered`], which the seccomp filter sees
//! as the caller's own. The result follows libc's convention (`-1` and `errno`, or an error
//! number for the `posix_spawn` family).
//!
//! ABI notes:
//! - `open`, `openat` and `syscall` are variadic in C. On x86_64 (System V) and aarch64 (AAPCS64
//!   as Linux uses it) variadic integer arguments travel in the same registers as fixed ones,
//!   so a fixed-argument definition reads them where the caller put them; an argument the
//!   caller did not pass (no `mode` without `O_CREAT`) is a don't-care register value that is
//!   only used when the flags say it was passed.
//! - The LFS64 names (`open64`, `stat64`, …) are the same functions on 64-bit targets.
//! - `_FORTIFY_SOURCE` builds call `__open_2` and friends.
//! - The functions that cannot be rebuilt from system calls (`fdopen`-based `fopen` aside) are
//!   called through libc's own definitions, found once with `dlsym(RTLD_NEXT, …)` in a
//!   constructor that runs before `main` (never inside a hook), or through the public aliases
//!   glibc exports (`__sigaction`, `bsd_signal`).
//!
//! Every hook is async-signal-safe where the libc function it replaces is: no allocation, no
//! locks (stack buffers and atomics only).
//!
//! Only built for glibc targets with the `libc-layer` feature (see `Cargo.toml`): musl and
//! static builds resolve libc symbols differently, and the report says the layer is absent.
#![allow(clippy::missing_safety_doc)] // libc's own contracts: these are libc's functions.

use crate::intercept::libc_layer as layer;
use libc::{c_char, c_int, c_long, c_void, mode_t, pid_t, size_t, sockaddr, socklen_t};
use std::sync::atomic::{AtomicUsize, Ordering};

const AT_FDCWD: u64 = libc::AT_FDCWD as i64 as u64;

/// `errno = e; return -1` for a raw result.
#[inline]
fn ret(r: i64) -> i64 {
    if r < 0 && r > -4096 {
        // SAFETY: __errno_location returns the calling thread's errno slot.
        unsafe { *libc::__errno_location() = -r as c_int };
        -1
    } else {
        r
    }
}

/// Decide and carry out system call `nr`, or pass it through to the kernel undecided.
#[inline]
fn sys(nr: c_long, a: [u64; 6]) -> i64 {
    let nr: i64 = nr;
    match layer::call(nr, a) {
        Some(r) => r,
        // SAFETY: the hooks pass the caller's arguments unchanged, with the contract of the
        // libc function the caller called.
        None => unsafe { super::syscall_filtered(nr, a) },
    }
}

fn p<T>(ptr: *const T) -> u64 {
    ptr as usize as u64
}

mod files;
mod net;
mod signals;
mod spawn;

pub(crate) use net::snapshot_name_servers;

#[allow(unused_imports)]
use files::*;
#[allow(unused_imports)]
use net::*;
#[allow(unused_imports)]
use signals::*;
#[allow(unused_imports)]
use spawn::*;

// ---------------------------------------------------------------------------------------------
// libc's generic `syscall()`: decided by number, as the trap handler decides.

#[no_mangle]
pub unsafe extern "C" fn syscall(
    n: c_long,
    a0: c_long,
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
) -> c_long {
    let mut a = [
        a0 as u64, a1 as u64, a2 as u64, a3 as u64, a4 as u64, a5 as u64,
    ];
    // A process made through `syscall()` (a clone without CLONE_THREAD, fork, vfork) where no
    // child may run: refused as the `fork` hook refuses it (libc alone has no filter).
    let creates = match n {
        libc::SYS_clone => a[0] & libc::CLONE_THREAD as u64 == 0,
        #[cfg(target_arch = "x86_64")]
        libc::SYS_fork | libc::SYS_vfork => true,
        libc::SYS_clone3 => {
            let mut flags = [0u8; 8];
            // clone_args.flags is its first field; an unreadable one is the kernel's EFAULT.
            super::read_mem(a[0], &mut flags) == 8
                && u64::from_ne_bytes(flags) & libc::CLONE_THREAD as u64 == 0
        }
        _ => false,
    };
    if creates {
        if let Some(e) = layer::refuse_fork() {
            return ret(-(e as i64)) as c_long;
        }
    }
    // Another process's memory through ptrace (as the `ptrace` hook).
    if n == libc::SYS_ptrace
        && a[0] != libc::PTRACE_TRACEME as u64
        && layer::refuse_other_process(a[1] as i32)
    {
        return ret(-(libc::EPERM as i64)) as c_long;
    }
    // The kernel's sigset is the first 8 bytes of libc's; copies live until the call returns.
    let mut copy = [0u64; 2];
    let pselect_arg: [u64; 2];
    if layer::guard_sigsys() {
        if n == libc::SYS_rt_sigaction && a0 == libc::SIGSYS as c_long && a1 != 0 {
            return ret(-(libc::EPERM as i64)) as c_long;
        }
        // Every mask this call would put in force: SIGSYS taken out of a copy (an unreadable
        // mask goes to the kernel as it is, which answers EFAULT).
        let mask_arg = match n {
            libc::SYS_rt_sigprocmask if a0 != libc::SIG_UNBLOCK as c_long => Some(1),
            libc::SYS_rt_sigsuspend => Some(0),
            libc::SYS_ppoll => Some(3),
            libc::SYS_epoll_pwait | libc::SYS_epoll_pwait2 => Some(4),
            _ => None,
        };
        if let Some(i) = mask_arg {
            if a[i] != 0 && strip_sigsys(a[i], &mut copy[0]) {
                a[i] = p(&copy[0]);
            }
        }
        // pselect6's last argument is { const sigset_t *ss; size_t ss_len }.
        if n == libc::SYS_pselect6 && a[5] != 0 {
            let mut raw = [0u8; 16];
            if super::read_mem(a[5], &mut raw) == 16 {
                let ss = u64::from_ne_bytes(raw[..8].try_into().unwrap_or([0; 8]));
                let len = u64::from_ne_bytes(raw[8..].try_into().unwrap_or([0; 8]));
                if ss != 0 && strip_sigsys(ss, &mut copy[1]) {
                    pselect_arg = [p(&copy[1]), len];
                    a[5] = p(&pselect_arg);
                }
            }
        }
    }
    ret(sys(n, a)) as c_long
}

/// The kernel sigset at `addr` with SIGSYS taken out, into `out`; false when unreadable.
fn strip_sigsys(addr: u64, out: &mut u64) -> bool {
    let mut mask = [0u8; 8];
    if super::read_mem(addr, &mut mask) != 8 {
        return false;
    }
    *out = u64::from_ne_bytes(mask) & !(1u64 << (libc::SIGSYS - 1));
    true
}

/// libc's own definitions of the functions that fnshield cannot rebuild from system calls,
/// found once before `main`.
struct Real {
    posix_spawn: AtomicUsize,
    posix_spawnp: AtomicUsize,
    system: AtomicUsize,
    popen: AtomicUsize,
    getaddrinfo: AtomicUsize,
    gethostbyname: AtomicUsize,
    gethostbyname2: AtomicUsize,
    gethostbyname_r: AtomicUsize,
    gethostbyname2_r: AtomicUsize,
    fork: AtomicUsize,
    sigprocmask: AtomicUsize,
    pthread_sigmask: AtomicUsize,
    freopen: AtomicUsize,
    freopen64: AtomicUsize,
    scandirat: AtomicUsize,
    fork_: AtomicUsize,
    clone: AtomicUsize,
    daemon: AtomicUsize,
    forkpty: AtomicUsize,
    wordexp: AtomicUsize,
    ptrace: AtomicUsize,
    res_query: AtomicUsize,
    res_search: AtomicUsize,
    res_querydomain: AtomicUsize,
    res_send: AtomicUsize,
    res_nquery: AtomicUsize,
    res_nsearch: AtomicUsize,
    res_nquerydomain: AtomicUsize,
    res_nsend: AtomicUsize,
    sighold: AtomicUsize,
    sigset: AtomicUsize,
    sigignore: AtomicUsize,
    sigblock: AtomicUsize,
    sigsetmask: AtomicUsize,
    sysv_signal: AtomicUsize,
    pthread_attr_setsigmask_np: AtomicUsize,
    sigsuspend: AtomicUsize,
    fts64_open: AtomicUsize,
    fts_open: AtomicUsize,
    ftw64: AtomicUsize,
    ftw: AtomicUsize,
    nftw64: AtomicUsize,
    nftw: AtomicUsize,
    glob64: AtomicUsize,
    glob: AtomicUsize,
    rexec_af: AtomicUsize,
    rcmd_af: AtomicUsize,
    getaddrinfo_a: AtomicUsize,
    gethostbyaddr_r: AtomicUsize,
    gethostbyaddr: AtomicUsize,
    getnameinfo: AtomicUsize,
    epoll_pwait: AtomicUsize,
    pselect: AtomicUsize,
    ppoll: AtomicUsize,
}

static REAL: Real = Real {
    posix_spawn: AtomicUsize::new(0),
    posix_spawnp: AtomicUsize::new(0),
    system: AtomicUsize::new(0),
    popen: AtomicUsize::new(0),
    getaddrinfo: AtomicUsize::new(0),
    gethostbyname: AtomicUsize::new(0),
    gethostbyname2: AtomicUsize::new(0),
    gethostbyname_r: AtomicUsize::new(0),
    gethostbyname2_r: AtomicUsize::new(0),
    fork: AtomicUsize::new(0),
    sigprocmask: AtomicUsize::new(0),
    pthread_sigmask: AtomicUsize::new(0),
    freopen: AtomicUsize::new(0),
    freopen64: AtomicUsize::new(0),
    scandirat: AtomicUsize::new(0),
    fork_: AtomicUsize::new(0),
    clone: AtomicUsize::new(0),
    daemon: AtomicUsize::new(0),
    forkpty: AtomicUsize::new(0),
    wordexp: AtomicUsize::new(0),
    ptrace: AtomicUsize::new(0),
    res_query: AtomicUsize::new(0),
    res_search: AtomicUsize::new(0),
    res_querydomain: AtomicUsize::new(0),
    res_send: AtomicUsize::new(0),
    res_nquery: AtomicUsize::new(0),
    res_nsearch: AtomicUsize::new(0),
    res_nquerydomain: AtomicUsize::new(0),
    res_nsend: AtomicUsize::new(0),
    sighold: AtomicUsize::new(0),
    sigset: AtomicUsize::new(0),
    sigignore: AtomicUsize::new(0),
    sigblock: AtomicUsize::new(0),
    sigsetmask: AtomicUsize::new(0),
    sysv_signal: AtomicUsize::new(0),
    pthread_attr_setsigmask_np: AtomicUsize::new(0),
    sigsuspend: AtomicUsize::new(0),
    fts64_open: AtomicUsize::new(0),
    fts_open: AtomicUsize::new(0),
    ftw64: AtomicUsize::new(0),
    ftw: AtomicUsize::new(0),
    nftw64: AtomicUsize::new(0),
    nftw: AtomicUsize::new(0),
    glob64: AtomicUsize::new(0),
    glob: AtomicUsize::new(0),
    rexec_af: AtomicUsize::new(0),
    rcmd_af: AtomicUsize::new(0),
    getaddrinfo_a: AtomicUsize::new(0),
    gethostbyaddr_r: AtomicUsize::new(0),
    gethostbyaddr: AtomicUsize::new(0),
    getnameinfo: AtomicUsize::new(0),
    epoll_pwait: AtomicUsize::new(0),
    pselect: AtomicUsize::new(0),
    ppoll: AtomicUsize::new(0),
};

extern "C" fn resolve_real() {
    for (slot, name) in [
        (&REAL.posix_spawn, c"posix_spawn"),
        (&REAL.posix_spawnp, c"posix_spawnp"),
        (&REAL.system, c"system"),
        (&REAL.popen, c"popen"),
        (&REAL.getaddrinfo, c"getaddrinfo"),
        (&REAL.gethostbyname, c"gethostbyname"),
        (&REAL.gethostbyname2, c"gethostbyname2"),
        (&REAL.gethostbyname_r, c"gethostbyname_r"),
        (&REAL.gethostbyname2_r, c"gethostbyname2_r"),
        (&REAL.fork, c"fork"),
        (&REAL.sigprocmask, c"sigprocmask"),
        (&REAL.pthread_sigmask, c"pthread_sigmask"),
        (&REAL.freopen, c"freopen"),
        (&REAL.freopen64, c"freopen64"),
        (&REAL.scandirat, c"scandirat"),
        (&REAL.fork_, c"_Fork"),
        (&REAL.clone, c"clone"),
        (&REAL.daemon, c"daemon"),
        (&REAL.forkpty, c"forkpty"),
        (&REAL.wordexp, c"wordexp"),
        (&REAL.ptrace, c"ptrace"),
        (&REAL.res_query, c"res_query"),
        (&REAL.res_search, c"res_search"),
        (&REAL.res_querydomain, c"res_querydomain"),
        (&REAL.res_send, c"res_send"),
        (&REAL.res_nquery, c"res_nquery"),
        (&REAL.res_nsearch, c"res_nsearch"),
        (&REAL.res_nquerydomain, c"res_nquerydomain"),
        (&REAL.res_nsend, c"res_nsend"),
        (&REAL.sighold, c"sighold"),
        (&REAL.sigset, c"sigset"),
        (&REAL.sigignore, c"sigignore"),
        (&REAL.sigblock, c"sigblock"),
        (&REAL.sigsetmask, c"sigsetmask"),
        (&REAL.sysv_signal, c"sysv_signal"),
        (
            &REAL.pthread_attr_setsigmask_np,
            c"pthread_attr_setsigmask_np",
        ),
        (&REAL.sigsuspend, c"sigsuspend"),
        (&REAL.fts64_open, c"fts64_open"),
        (&REAL.fts_open, c"fts_open"),
        (&REAL.ftw64, c"ftw64"),
        (&REAL.ftw, c"ftw"),
        (&REAL.nftw64, c"nftw64"),
        (&REAL.nftw, c"nftw"),
        (&REAL.glob64, c"glob64"),
        (&REAL.glob, c"glob"),
        (&REAL.rexec_af, c"rexec_af"),
        (&REAL.rcmd_af, c"rcmd_af"),
        (&REAL.getaddrinfo_a, c"getaddrinfo_a"),
        (&REAL.gethostbyaddr_r, c"gethostbyaddr_r"),
        (&REAL.gethostbyaddr, c"gethostbyaddr"),
        (&REAL.getnameinfo, c"getnameinfo"),
        (&REAL.epoll_pwait, c"epoll_pwait"),
        (&REAL.pselect, c"pselect"),
        (&REAL.ppoll, c"ppoll"),
    ] {
        // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name; runs before main, in the
        // dynamic loader's constructor phase, where dlsym may allocate and lock.
        let f = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
        slot.store(f as usize, Ordering::Release);
    }
    // Before glibc 2.34 the resolver's functions live in libresolv under `__res_*` names
    // (`<resolv.h>` renamed the calls); look those up where the plain names are absent.
    for (slot, name) in [
        (&REAL.res_query, c"__res_query"),
        (&REAL.res_search, c"__res_search"),
        (&REAL.res_querydomain, c"__res_querydomain"),
        (&REAL.res_send, c"__res_send"),
        (&REAL.res_nquery, c"__res_nquery"),
        (&REAL.res_nsearch, c"__res_nsearch"),
        (&REAL.res_nquerydomain, c"__res_nquerydomain"),
        (&REAL.res_nsend, c"__res_nsend"),
    ] {
        if slot.load(Ordering::Relaxed) == 0 {
            // SAFETY: as above.
            let f = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
            slot.store(f as usize, Ordering::Release);
        }
    }
}

/// Runs [`resolve_real`] before `main` (and before any hook can need libc's definitions).
#[used]
#[link_section = ".init_array"]
static RESOLVE_REAL: extern "C" fn() = resolve_real;

/// libc's definition `slot`, as a function of type `F`, or `None` if it was not found.
fn real<F: Copy>(slot: &AtomicUsize) -> Option<F> {
    let f = slot.load(Ordering::Acquire);
    if f == 0 {
        return None;
    }
    debug_assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<usize>());
    // SAFETY: `slot` holds the address dlsym returned for the libc function whose C type `F`
    // is (each caller names the matching type); function pointers are address-sized.
    Some(unsafe { std::mem::transmute_copy::<usize, F>(&f) })
}
