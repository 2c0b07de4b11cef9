//! The SIGSYS trap interceptor.
//!
//! Everything reachable from [`on_trap`] is async-signal-safe: no allocation, no locks, no
//! tracing, no `regex`. It reads pointer arguments with `process_vm_readv` into its own stack
//! buffers (a bad pointer gives EFAULT, never a crash), decides on the copies with the
//! precompiled [`Decider`](super::decide::Decider), re-issues the syscall on the copies
//! through the exempt trampoline, and records events into the lock-free ring. The signal
//! handler itself (registers in, return value out, `errno` saved) is `sys::sigsys`.

use super::arch::nr;
use super::decide::{Access, Verdict, PATH_MAX};
use super::shared::{
    check_exec, check_path_arg, classify_arg, decide_dest, inet, open_access, path_table,
    verify_identity, verify_opened, PathArg, PathCopy, TrapState, EXEMPT, HOSTS, MSGHDR, SA_MAX,
    STATE,
};
use crate::sys::{self, now_monotonic_secs, read_mem, syscall};

const AT_FDCWD: i64 = libc::AT_FDCWD as i64;
const EACCES: i64 = libc::EACCES as i64;
const EPERM: i64 = libc::EPERM as i64;
const EFAULT: i64 = libc::EFAULT as i64;

/// The trap handler's entry point, registered with `sys::install_sigsys_handler`: the value
/// the trapped caller sees for syscall `nr` with arguments `a`. Async-signal-safe.
pub(crate) fn on_trap(nr: i64, a: [u64; 6]) -> i64 {
    match STATE.get() {
        Some(st) => handle(st, nr, a),
        None => -(libc::ENOSYS as i64),
    }
}

/// Dispatch one trapped syscall; returns the value the caller sees.
pub(crate) fn handle(st: &TrapState, nr: i64, a: [u64; 6]) -> i64 {
    if EXEMPT.try_with(|e| e.get()).unwrap_or(false) {
        return syscall(nr, a);
    }
    match nr {
        nr::OPENAT => open_like(st, nr, a, a[0] as i32 as i64, 1, a[2], a[3]),
        #[cfg(target_arch = "x86_64")]
        nr::OPEN => open_like(st, nr, a, AT_FDCWD, 0, a[1], a[2]),
        #[cfg(target_arch = "x86_64")]
        nr::CREAT => open_like(
            st,
            nr,
            a,
            AT_FDCWD,
            0,
            (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64,
            a[1],
        ),
        nr::OPENAT2 => {
            let mut how = [0u8; 8];
            if a[3] < 8 || read_mem(a[2], &mut how) != 8 {
                return -EFAULT;
            }
            open_like(st, nr, a, a[0] as i32 as i64, 1, u64::from_le_bytes(how), 0)
        }
        nr::EXECVE => exec(st, nr, a, AT_FDCWD, 0, 1, 0),
        nr::EXECVEAT => exec(st, nr, a, a[0] as i32 as i64, 1, 2, a[4]),
        nr::CONNECT => net_addr(st, nr, a, 1, 2),
        nr::SENDTO => net_addr(st, nr, a, 4, 5),
        nr::SENDMSG => sendmsg(st, nr, a),
        nr::SENDMMSG => sendmmsg(st, nr, a),
        nr::RECVFROM => recvfrom(st, nr, a),
        nr::RECVMSG => recvmsg(st, nr, a),
        _ => match path_table(nr) {
            Some((paths, access, empty_flag)) => path_call(st, nr, a, paths, access, empty_flag),
            None => syscall(nr, a),
        },
    }
}

fn open_like(
    st: &TrapState,
    nr: i64,
    mut a: [u64; 6],
    dirfd: i64,
    path_idx: usize,
    flags: u64,
    mode: u64,
) -> i64 {
    let copy = match PathCopy::read(a[path_idx]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let access = open_access(flags);
    let mut abs = [0u8; PATH_MAX];
    let (d, _) = classify_arg(st, 0, nr, dirfd, copy.bytes(), access, &mut abs);
    if d.verdict == Verdict::Block {
        return -EACCES;
    }
    a[path_idx] = copy.ptr();
    if nr != nr::OPENAT2 && access != Access::Meta {
        // Fast path: open our copy with symlinks (and /proc magic links) refused. If that
        // works, the path was resolved purely lexically, so the decision above is exact and
        // only the executable's identity is left to check. Otherwise (ELOOP, or a kernel or
        // flag openat2 refuses) fall back to the plain call and verify what it opened.
        let how = [
            flags,
            if flags as i32 & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
                mode
            } else {
                0
            },
            RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        ];
        let base = if path_idx == 0 { AT_FDCWD as u64 } else { a[0] };
        let fd = syscall(
            nr::OPENAT2,
            [base, copy.ptr(), how.as_ptr() as u64, 24, 0, 0],
        );
        let fallback = [
            libc::ELOOP,
            libc::EINVAL,
            libc::ENOSYS,
            libc::E2BIG,
            libc::EPERM,
        ]
        .contains(&(-fd as i32));
        if !fallback {
            if fd < 0 {
                return fd;
            }
            return verify_identity(st, nr, fd, access, d);
        }
    }
    let fd = syscall(nr, a);
    if fd < 0 || access == Access::Meta {
        return fd;
    }
    verify_opened(st, nr, fd, access, d)
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;

fn path_call(
    st: &TrapState,
    nr: i64,
    mut a: [u64; 6],
    paths: &[PathArg],
    access: Access,
    empty: Option<(usize, u64)>,
) -> i64 {
    let mut copies: [Option<PathCopy>; 2] = [None, None];
    let mut blocked = false;
    for (slot, &(dirfd_idx, path_idx)) in paths.iter().enumerate().take(2) {
        if a[path_idx] == 0 {
            continue; // e.g. utimensat(fd, NULL, ...): acts on the fd.
        }
        let copy = match PathCopy::read(a[path_idx]) {
            Ok(c) => c,
            Err(e) => return e,
        };
        let dirfd = dirfd_idx.map_or(AT_FDCWD, |i| a[i] as i32 as i64);
        let empty_ok = empty.is_some_and(|(fi, bit)| a[fi] & bit != 0);
        blocked |= check_path_arg(st, 0, nr, dirfd, &copy, empty_ok, access) == Verdict::Block;
        copies[slot] = Some(copy);
    }
    if blocked {
        return -EACCES;
    }
    for (slot, &(_, path_idx)) in paths.iter().enumerate().take(2) {
        if let Some(c) = &copies[slot] {
            a[path_idx] = c.ptr();
        }
    }
    syscall(nr, a)
}

fn exec(
    st: &TrapState,
    nr: i64,
    mut a: [u64; 6],
    dirfd: i64,
    path_idx: usize,
    argv_idx: usize,
    flags: u64,
) -> i64 {
    let copy = match PathCopy::read(a[path_idx]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    if check_exec(st, 0, nr, dirfd, &copy, a[argv_idx], flags) == Verdict::Block {
        return -EACCES;
    }
    a[path_idx] = copy.ptr();
    syscall(nr, a)
}

fn net_addr(st: &TrapState, nr: i64, mut a: [u64; 6], addr_idx: usize, len_idx: usize) -> i64 {
    if a[addr_idx] == 0 {
        return syscall(nr, a);
    }
    let mut sa = [0u8; SA_MAX];
    let len = (a[len_idx] as usize).min(SA_MAX);
    if read_mem(a[addr_idx], &mut sa[..len]) != len {
        return -EFAULT;
    }
    if let Some((ip, port)) = inet(&sa[..len]) {
        if decide_dest(st, nr, ip, port) {
            return -EPERM;
        }
    }
    a[addr_idx] = sa.as_ptr() as u64;
    a[len_idx] = len as u64;
    syscall(nr, a)
}

fn sendmsg(st: &TrapState, nr: i64, mut a: [u64; 6]) -> i64 {
    let mut hdr = [0u8; MSGHDR];
    if read_mem(a[1], &mut hdr) != MSGHDR {
        return -EFAULT;
    }
    let mut sa = [0u8; SA_MAX];
    if let Err(e) = check_msghdr(st, nr, &mut hdr, &mut sa) {
        return e;
    }
    a[1] = hdr.as_ptr() as u64;
    syscall(nr, a)
}

/// Check a copied msghdr's destination; point its name at `sa` (our copy).
fn check_msghdr(
    st: &TrapState,
    nr: i64,
    hdr: &mut [u8; MSGHDR],
    sa: &mut [u8; SA_MAX],
) -> Result<(), i64> {
    let name = u64::from_ne_bytes(hdr[0..8].try_into().unwrap_or([0; 8]));
    let namelen = u32::from_ne_bytes(hdr[8..12].try_into().unwrap_or([0; 4])) as usize;
    if name == 0 || namelen == 0 {
        return Ok(());
    }
    let len = namelen.min(SA_MAX);
    if read_mem(name, &mut sa[..len]) != len {
        return Err(-EFAULT);
    }
    if let Some((ip, port)) = inet(&sa[..len]) {
        if decide_dest(st, nr, ip, port) {
            return Err(-EPERM);
        }
    }
    hdr[0..8].copy_from_slice(&(sa.as_ptr() as u64).to_ne_bytes());
    hdr[8..12].copy_from_slice(&(len as u32).to_ne_bytes());
    Ok(())
}

/// sendmmsg: at most this many messages are sent per call (the caller sees a short count,
/// which sendmmsg's contract allows).
const MMSG_MAX: usize = 8;

fn sendmmsg(st: &TrapState, nr: i64, mut a: [u64; 6]) -> i64 {
    const ENTRY: usize = std::mem::size_of::<libc::mmsghdr>();
    let vlen = (a[2] as usize).min(MMSG_MAX);
    let mut hdrs = [[0u8; MSGHDR]; MMSG_MAX];
    let mut names = [[0u8; SA_MAX]; MMSG_MAX];
    for i in 0..vlen {
        if read_mem(a[1] + (i * ENTRY) as u64, &mut hdrs[i]) != MSGHDR {
            return -EFAULT;
        }
        if let Err(e) = check_msghdr(st, nr, &mut hdrs[i], &mut names[i]) {
            return e;
        }
    }
    let mut vec = [[0u8; ENTRY]; MMSG_MAX];
    for i in 0..vlen {
        vec[i][..MSGHDR].copy_from_slice(&hdrs[i]);
    }
    let user = a[1];
    a[1] = vec.as_ptr() as u64;
    a[2] = vlen as u64;
    let r = syscall(nr, a);
    if r > 0 {
        for (i, entry) in vec.iter().enumerate().take(r as usize) {
            let v = u32::from_ne_bytes(entry[MSGHDR..MSGHDR + 4].try_into().unwrap_or([0; 4]));
            // msg_len of each sent entry, into the vector the caller passed to sendmmsg (we
            // read the same entries successfully above).
            sys::write_caller_u32(user + (i * ENTRY + MSGHDR) as u64, v);
        }
    }
    r
}

/// recvmsg: performed as asked; when the message came from a resolver on port 53, the first
/// iovec's data teaches the host table.
fn recvmsg(st: &TrapState, nr: i64, a: [u64; 6]) -> i64 {
    let r = syscall(nr, a);
    if r <= 0 {
        return r;
    }
    let mut hdr = [0u8; MSGHDR];
    if read_mem(a[1], &mut hdr) != MSGHDR {
        return r;
    }
    let word = |o: usize| u64::from_ne_bytes(hdr[o..o + 8].try_into().unwrap_or([0; 8]));
    let name = word(0);
    let namelen =
        (u32::from_ne_bytes(hdr[8..12].try_into().unwrap_or([0; 4])) as usize).min(SA_MAX);
    if name == 0 || namelen == 0 || word(24) == 0 {
        return r;
    }
    let mut sa = [0u8; SA_MAX];
    if read_mem(name, &mut sa[..namelen]) != namelen {
        return r;
    }
    if let Some((ip, 53)) = inet(&sa[..namelen]) {
        if st.decider.is_resolver(crate::policy::canonical(ip)) {
            let mut iov = [0u8; 16];
            if read_mem(word(16), &mut iov) == 16 {
                let base = u64::from_ne_bytes(iov[0..8].try_into().unwrap_or([0; 8]));
                let len = u64::from_ne_bytes(iov[8..16].try_into().unwrap_or([0; 8])) as usize;
                let mut msg = [0u8; 4096];
                let want = len.min(r as usize).min(msg.len());
                let n = read_mem(base, &mut msg[..want]);
                HOSTS.learn_from_response(&msg[..n], now_monotonic_secs());
            }
        }
    }
    r
}

/// recvfrom with a source address: performed as asked; answers from a resolver on port 53
/// teach the host table which names an address has.
fn recvfrom(st: &TrapState, nr: i64, a: [u64; 6]) -> i64 {
    let r = syscall(nr, a);
    if r <= 0 || a[4] == 0 || a[5] == 0 {
        return r;
    }
    let mut lenb = [0u8; 4];
    if read_mem(a[5], &mut lenb) != 4 {
        return r;
    }
    let len = (u32::from_ne_bytes(lenb) as usize).min(SA_MAX);
    let mut sa = [0u8; SA_MAX];
    if read_mem(a[4], &mut sa[..len]) != len {
        return r;
    }
    if let Some((ip, 53)) = inet(&sa[..len]) {
        if st.decider.is_resolver(crate::policy::canonical(ip)) {
            let mut msg = [0u8; 4096];
            let n = read_mem(a[1], &mut msg[..(r as usize).min(4096)]);
            HOSTS.learn_from_response(&msg[..n], now_monotonic_secs());
        }
    }
    r
}
