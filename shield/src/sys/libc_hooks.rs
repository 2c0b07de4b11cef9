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

// ---------------------------------------------------------------------------------------------
// The open family.

#[no_mangle]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    openat(libc::AT_FDCWD, path, flags, mode)
}

#[no_mangle]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    openat(libc::AT_FDCWD, path, flags, mode)
}

#[no_mangle]
pub unsafe extern "C" fn __open_2(path: *const c_char, flags: c_int) -> c_int {
    openat(libc::AT_FDCWD, path, flags, 0)
}

#[no_mangle]
pub unsafe extern "C" fn __open64_2(path: *const c_char, flags: c_int) -> c_int {
    openat(libc::AT_FDCWD, path, flags, 0)
}

#[no_mangle]
pub unsafe extern "C" fn openat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    // The mode is only passed (and only meaningful) with O_CREAT or O_TMPFILE.
    let mode = if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
        mode as u64
    } else {
        0
    };
    ret(sys(
        libc::SYS_openat,
        [dirfd as i64 as u64, p(path), flags as u64, mode, 0, 0],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn openat64(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    openat(dirfd, path, flags, mode)
}

#[no_mangle]
pub unsafe extern "C" fn __openat_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    openat(dirfd, path, flags, 0)
}

#[no_mangle]
pub unsafe extern "C" fn __openat64_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    openat(dirfd, path, flags, 0)
}

#[no_mangle]
pub unsafe extern "C" fn creat(path: *const c_char, mode: mode_t) -> c_int {
    openat(
        libc::AT_FDCWD,
        path,
        libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
        mode,
    )
}

#[no_mangle]
pub unsafe extern "C" fn creat64(path: *const c_char, mode: mode_t) -> c_int {
    creat(path, mode)
}

/// The `open(2)` flags of an `fopen` mode string, or `None` for an invalid mode.
fn fopen_flags(mode: *const c_char) -> Option<c_int> {
    let mut m = [0u8; 8];
    if super::read_mem(p(mode), &mut m) == 0 {
        return None;
    }
    let (mut acc, mut flags) = match m[0] {
        b'r' => (libc::O_RDONLY, 0),
        b'w' => (libc::O_WRONLY, libc::O_CREAT | libc::O_TRUNC),
        b'a' => (libc::O_WRONLY, libc::O_CREAT | libc::O_APPEND),
        _ => return None,
    };
    for &c in &m[1..] {
        match c {
            b'+' => acc = libc::O_RDWR,
            b'x' => flags |= libc::O_EXCL,
            b'e' => flags |= libc::O_CLOEXEC,
            0 | b',' => break,
            _ => {}
        }
    }
    Some(acc | flags)
}

#[no_mangle]
pub unsafe extern "C" fn fopen(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    let Some(flags) = fopen_flags(mode) else {
        ret(-(libc::EINVAL as i64));
        return std::ptr::null_mut();
    };
    let fd = openat(libc::AT_FDCWD, path, flags, 0o666);
    if fd < 0 {
        return std::ptr::null_mut();
    }
    // SAFETY: `fd` is an fd we just opened; `mode` is the caller's valid mode string.
    let f = unsafe { libc::fdopen(fd, mode) };
    if f.is_null() {
        // SAFETY: errno is the calling thread's; `fd` is ours to close.
        unsafe {
            let e = *libc::__errno_location();
            libc::close(fd);
            *libc::__errno_location() = e;
        }
    }
    f
}

#[no_mangle]
pub unsafe extern "C" fn fopen64(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    fopen(path, mode)
}

#[no_mangle]
pub unsafe extern "C" fn opendir(path: *const c_char) -> *mut libc::DIR {
    let fd = openat(
        libc::AT_FDCWD,
        path,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    );
    if fd < 0 {
        return std::ptr::null_mut();
    }
    // SAFETY: `fd` is a directory fd we just opened; fdopendir takes it over on success.
    let d = unsafe { libc::fdopendir(fd) };
    if d.is_null() {
        // SAFETY: errno is the calling thread's; `fd` is ours to close.
        unsafe {
            let e = *libc::__errno_location();
            libc::close(fd);
            *libc::__errno_location() = e;
        }
    }
    d
}

// ---------------------------------------------------------------------------------------------
// The stat / access / readlink family (decided where a tmp read policy needs it).

#[no_mangle]
pub unsafe extern "C" fn stat(path: *const c_char, buf: *mut libc::stat) -> c_int {
    fstatat(libc::AT_FDCWD, path, buf, 0)
}

#[no_mangle]
pub unsafe extern "C" fn stat64(path: *const c_char, buf: *mut libc::stat) -> c_int {
    fstatat(libc::AT_FDCWD, path, buf, 0)
}

#[no_mangle]
pub unsafe extern "C" fn lstat(path: *const c_char, buf: *mut libc::stat) -> c_int {
    fstatat(libc::AT_FDCWD, path, buf, libc::AT_SYMLINK_NOFOLLOW)
}

#[no_mangle]
pub unsafe extern "C" fn lstat64(path: *const c_char, buf: *mut libc::stat) -> c_int {
    fstatat(libc::AT_FDCWD, path, buf, libc::AT_SYMLINK_NOFOLLOW)
}

#[no_mangle]
pub unsafe extern "C" fn fstatat(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
    flags: c_int,
) -> c_int {
    // glibc's `struct stat` is the kernel's on x86_64 and aarch64.
    ret(sys(
        libc::SYS_newfstatat,
        [dirfd as i64 as u64, p(path), p(buf), flags as u64, 0, 0],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn fstatat64(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
    flags: c_int,
) -> c_int {
    fstatat(dirfd, path, buf, flags)
}

#[no_mangle]
pub unsafe extern "C" fn statx(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mask: libc::c_uint,
    buf: *mut libc::statx,
) -> c_int {
    ret(sys(
        libc::SYS_statx,
        [
            dirfd as i64 as u64,
            p(path),
            flags as u64,
            mask as u64,
            p(buf),
            0,
        ],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn access(path: *const c_char, mode: c_int) -> c_int {
    faccessat(libc::AT_FDCWD, path, mode, 0)
}

#[no_mangle]
pub unsafe extern "C" fn faccessat(
    dirfd: c_int,
    path: *const c_char,
    mode: c_int,
    flags: c_int,
) -> c_int {
    let a = [
        dirfd as i64 as u64,
        p(path),
        mode as u64,
        flags as u64,
        0,
        0,
    ];
    ret(if flags == 0 {
        sys(libc::SYS_faccessat, a)
    } else {
        sys(libc::SYS_faccessat2, a)
    }) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn readlink(path: *const c_char, buf: *mut c_char, len: size_t) -> isize {
    readlinkat(libc::AT_FDCWD, path, buf, len)
}

#[no_mangle]
pub unsafe extern "C" fn readlinkat(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut c_char,
    len: size_t,
) -> isize {
    ret(sys(
        libc::SYS_readlinkat,
        [dirfd as i64 as u64, p(path), p(buf), len as u64, 0, 0],
    )) as isize
}

// ---------------------------------------------------------------------------------------------
// Path-based writes (read_write_tmp's write side).

#[no_mangle]
pub unsafe extern "C" fn mkdir(path: *const c_char, mode: mode_t) -> c_int {
    mkdirat(libc::AT_FDCWD, path, mode)
}

#[no_mangle]
pub unsafe extern "C" fn mkdirat(dirfd: c_int, path: *const c_char, mode: mode_t) -> c_int {
    ret(sys(
        libc::SYS_mkdirat,
        [dirfd as i64 as u64, p(path), mode as u64, 0, 0, 0],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn unlink(path: *const c_char) -> c_int {
    unlinkat(libc::AT_FDCWD, path, 0)
}

#[no_mangle]
pub unsafe extern "C" fn rmdir(path: *const c_char) -> c_int {
    unlinkat(libc::AT_FDCWD, path, libc::AT_REMOVEDIR)
}

#[no_mangle]
pub unsafe extern "C" fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    ret(sys(
        libc::SYS_unlinkat,
        [dirfd as i64 as u64, p(path), flags as u64, 0, 0, 0],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn rename(old: *const c_char, new: *const c_char) -> c_int {
    renameat2(libc::AT_FDCWD, old, libc::AT_FDCWD, new, 0)
}

#[no_mangle]
pub unsafe extern "C" fn renameat(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
) -> c_int {
    renameat2(olddir, old, newdir, new, 0)
}

#[no_mangle]
pub unsafe extern "C" fn renameat2(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
    flags: libc::c_uint,
) -> c_int {
    ret(sys(
        libc::SYS_renameat2,
        [
            olddir as i64 as u64,
            p(old),
            newdir as i64 as u64,
            p(new),
            flags as u64,
            0,
        ],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn link(old: *const c_char, new: *const c_char) -> c_int {
    linkat(libc::AT_FDCWD, old, libc::AT_FDCWD, new, 0)
}

#[no_mangle]
pub unsafe extern "C" fn linkat(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
    flags: c_int,
) -> c_int {
    ret(sys(
        libc::SYS_linkat,
        [
            olddir as i64 as u64,
            p(old),
            newdir as i64 as u64,
            p(new),
            flags as u64,
            0,
        ],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn symlink(target: *const c_char, path: *const c_char) -> c_int {
    symlinkat(target, libc::AT_FDCWD, path)
}

#[no_mangle]
pub unsafe extern "C" fn symlinkat(
    target: *const c_char,
    dirfd: c_int,
    path: *const c_char,
) -> c_int {
    ret(sys(
        libc::SYS_symlinkat,
        [p(target), dirfd as i64 as u64, p(path), 0, 0, 0],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn truncate(path: *const c_char, len: libc::off_t) -> c_int {
    ret(sys(libc::SYS_truncate, [p(path), len as u64, 0, 0, 0, 0])) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn truncate64(path: *const c_char, len: libc::off_t) -> c_int {
    truncate(path, len)
}

#[no_mangle]
pub unsafe extern "C" fn chmod(path: *const c_char, mode: mode_t) -> c_int {
    fchmodat(libc::AT_FDCWD, path, mode, 0)
}

#[no_mangle]
pub unsafe extern "C" fn fchmodat(
    dirfd: c_int,
    path: *const c_char,
    mode: mode_t,
    flags: c_int,
) -> c_int {
    let a = [
        dirfd as i64 as u64,
        p(path),
        mode as u64,
        flags as u64,
        0,
        0,
    ];
    ret(if flags == 0 {
        sys(libc::SYS_fchmodat, a)
    } else {
        sys(libc::SYS_fchmodat2, a)
    }) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn chown(path: *const c_char, uid: libc::uid_t, gid: libc::gid_t) -> c_int {
    fchownat(libc::AT_FDCWD, path, uid, gid, 0)
}

#[no_mangle]
pub unsafe extern "C" fn lchown(path: *const c_char, uid: libc::uid_t, gid: libc::gid_t) -> c_int {
    fchownat(libc::AT_FDCWD, path, uid, gid, libc::AT_SYMLINK_NOFOLLOW)
}

#[no_mangle]
pub unsafe extern "C" fn fchownat(
    dirfd: c_int,
    path: *const c_char,
    uid: libc::uid_t,
    gid: libc::gid_t,
    flags: c_int,
) -> c_int {
    ret(sys(
        libc::SYS_fchownat,
        [
            dirfd as i64 as u64,
            p(path),
            uid as u64,
            gid as u64,
            flags as u64,
            0,
        ],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn utimensat(
    dirfd: c_int,
    path: *const c_char,
    times: *const libc::timespec,
    flags: c_int,
) -> c_int {
    ret(sys(
        libc::SYS_utimensat,
        [dirfd as i64 as u64, p(path), p(times), flags as u64, 0, 0],
    )) as c_int
}

// ---------------------------------------------------------------------------------------------
// Network.

#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    ret(sys(
        libc::SYS_connect,
        [fd as u64, p(addr), len as u64, 0, 0, 0],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> isize {
    ret(sys(
        libc::SYS_sendto,
        [
            fd as u64,
            p(buf),
            len as u64,
            flags as u64,
            p(addr),
            alen as u64,
        ],
    )) as isize
}

#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> isize {
    ret(sys(
        libc::SYS_sendmsg,
        [fd as u64, p(msg), flags as u64, 0, 0, 0],
    )) as isize
}

#[no_mangle]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    msgs: *mut libc::mmsghdr,
    n: libc::c_uint,
    flags: c_int,
) -> c_int {
    ret(sys(
        libc::SYS_sendmmsg,
        [fd as u64, p(msgs), n as u64, flags as u64, 0, 0],
    )) as c_int
}

// ---------------------------------------------------------------------------------------------
// Child processes.

extern "C" {
    static environ: *const *const c_char;
}

#[no_mangle]
pub unsafe extern "C" fn execve(
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    ret(sys(libc::SYS_execve, [p(path), p(argv), p(envp), 0, 0, 0])) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn execveat(
    dirfd: c_int,
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    flags: c_int,
) -> c_int {
    ret(sys(
        libc::SYS_execveat,
        [
            dirfd as i64 as u64,
            p(path),
            p(argv),
            p(envp),
            flags as u64,
            0,
        ],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn fexecve(
    fd: c_int,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    execveat(fd, c"".as_ptr(), argv, envp, libc::AT_EMPTY_PATH)
}

#[no_mangle]
pub unsafe extern "C" fn execv(path: *const c_char, argv: *const *const c_char) -> c_int {
    // SAFETY: `environ` is libc's environment pointer, read once.
    execve(path, argv, unsafe { environ })
}

#[no_mangle]
pub unsafe extern "C" fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int {
    // SAFETY: as in `execv`.
    execvpe(file, argv, unsafe { environ })
}

/// Search `PATH` for `file` as `execvp` does, calling `f` with each candidate (a
/// NUL-terminated path on the stack) until it returns `Some`. Returns ENOENT (or EACCES when a
/// candidate was not executable) when none did.
fn path_search(file: *const c_char, mut f: impl FnMut(*const c_char) -> Option<i64>) -> i64 {
    let mut name = [0u8; 256];
    let Some(n) = super::read_cstr_of(0, p(file), &mut name[..255]) else {
        return -(libc::ENOENT as i64);
    };
    if n == 0 {
        return -(libc::ENOENT as i64);
    }
    if name[..n].contains(&b'/') {
        return f(file).unwrap_or(-(libc::ENOENT as i64));
    }
    // SAFETY: getenv reads the environment without allocating; the pointer is valid until
    // the environment changes, and we copy from it at once.
    let path = unsafe { libc::getenv(c"PATH".as_ptr()) };
    let mut dirs = [0u8; 1024];
    let len = if path.is_null() {
        let d = b"/usr/local/bin:/usr/bin:/bin";
        dirs[..d.len()].copy_from_slice(d);
        d.len()
    } else {
        super::read_cstr_of(0, p(path), &mut dirs[..1023]).unwrap_or(0)
    };
    let mut seen_eacces = false;
    for dir in dirs[..len].split(|&b| b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let mut cand = [0u8; 1024 + 256 + 2];
        if dir.len() + 1 + n + 1 > cand.len() {
            continue;
        }
        cand[..dir.len()].copy_from_slice(dir);
        cand[dir.len()] = b'/';
        cand[dir.len() + 1..dir.len() + 1 + n].copy_from_slice(&name[..n]);
        if let Some(r) = f(cand.as_ptr().cast()) {
            if r == -(libc::EACCES as i64) {
                seen_eacces = true;
                continue;
            }
            return r;
        }
    }
    if seen_eacces {
        -(libc::EACCES as i64)
    } else {
        -(libc::ENOENT as i64)
    }
}

/// Whether `path` names an existing file (no decision, no event: a lookup the kernel would
/// make anyway while searching `PATH`).
fn exists(path: *const c_char) -> bool {
    super::syscall(
        libc::SYS_faccessat,
        [AT_FDCWD, p(path), libc::F_OK as u64, 0, 0, 0],
    ) == 0
}

#[no_mangle]
pub unsafe extern "C" fn execvpe(
    file: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    let r = path_search(file, |cand| {
        if !exists(cand) {
            return None;
        }
        // SAFETY: `cand` is a NUL-terminated path on path_search's stack; argv and envp are
        // the caller's.
        let r = unsafe { execve(cand, argv, envp) };
        // Only returns on failure.
        let _ = r;
        // SAFETY: errno is the calling thread's.
        Some(-(unsafe { *libc::__errno_location() }) as i64)
    });
    ret(r) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn fork() -> pid_t {
    if let Some(e) = layer::refuse_fork() {
        ret(-(e as i64));
        return -1;
    }
    match real::<unsafe extern "C" fn() -> pid_t>(&REAL.fork) {
        // SAFETY: libc's fork (runs its atfork handlers).
        Some(f) => unsafe { f() },
        None => {
            ret(-(libc::ENOSYS as i64));
            -1
        }
    }
}

/// `vfork` is carried out as `fork` (which POSIX allows): a hook cannot return into a child
/// that shares the parent's stack, and a vfork child may only exec or `_exit`, which a forked
/// child does as well.
#[no_mangle]
pub unsafe extern "C" fn vfork() -> pid_t {
    // SAFETY: as `fork`.
    unsafe { fork() }
}

/// Which `execl` variant an assembly entry point stands for.
const EXECL: usize = 0;
const EXECLP: usize = 1;
const EXECLE: usize = 2;

/// The most arguments an `execl*` call may pass (with its NULL); more fail with E2BIG.
const EXECL_MAX: usize = 256;

/// The common body of `execl`, `execlp` and `execle`, called by their assembly entry points
/// (C variadic functions cannot be defined in stable Rust). `regs` holds the variadic
/// arguments that arrived in registers (`REGS` of them), `stack` points at the ones the caller
/// passed on the stack. The argument list ends at the first NULL; `execle` takes `envp` after
/// it.
///
/// # Safety
/// Called only by the entry points below, with the caller's argument registers and stack.
unsafe extern "C" fn execl_common(
    path: *const c_char,
    regs: *const usize,
    stack: *const usize,
    which: usize,
) -> c_int {
    let mut argv = [std::ptr::null::<c_char>(); EXECL_MAX + 1];
    // SAFETY: the i-th variadic argument: in `regs` for the first REGS, then on the stack.
    let arg = |i: usize| unsafe {
        if i < REGS {
            *regs.add(i)
        } else {
            *stack.add(i - REGS)
        }
    };
    let mut n = 0;
    loop {
        if n == EXECL_MAX {
            ret(-(libc::E2BIG as i64));
            return -1;
        }
        let a = arg(n);
        argv[n] = a as *const c_char;
        if a == 0 {
            break;
        }
        n += 1;
    }
    // SAFETY: `argv` is NULL-terminated; `path` and the arguments are the caller's.
    unsafe {
        match which {
            EXECLP => execvp(path, argv.as_ptr()),
            EXECLE => execve(path, argv.as_ptr(), arg(n + 1) as *const *const c_char),
            _ => execv(path, argv.as_ptr()),
        }
    }
}

/// How many variadic arguments arrive in registers after `path`.
#[cfg(target_arch = "x86_64")]
const REGS: usize = 5;
#[cfg(target_arch = "aarch64")]
const REGS: usize = 7;

// The entry points: spill the argument registers after `path` into an array on the stack,
// note where the caller's stack arguments start, and call `execl_common`.
#[cfg(target_arch = "x86_64")]
macro_rules! execl_entry {
    ($name:literal, $which:expr) => {
        std::arch::global_asm!(
            concat!(".globl ", $name),
            concat!(".type ", $name, ",@function"),
            concat!($name, ":"),
            // The caller's stack arguments start above the return address.
            "lea rax, [rsp + 8]",
            // 5 registers (40 bytes) + 8 to keep the stack 16-byte aligned at the call.
            "sub rsp, 56",
            "mov [rsp], rsi",
            "mov [rsp + 8], rdx",
            "mov [rsp + 16], rcx",
            "mov [rsp + 24], r8",
            "mov [rsp + 32], r9",
            "mov rsi, rsp",
            "mov rdx, rax",
            "mov rcx, {which}",
            "call {common}",
            "add rsp, 56",
            "ret",
            concat!(".size ", $name, ", . - ", $name),
            which = const $which,
            common = sym execl_common,
        );
    };
}

#[cfg(target_arch = "aarch64")]
macro_rules! execl_entry {
    ($name:literal, $which:expr) => {
        std::arch::global_asm!(
            concat!(".globl ", $name),
            concat!(".type ", $name, ",%function"),
            concat!($name, ":"),
            // The caller's stack arguments start at sp on entry.
            "mov x9, sp",
            "sub sp, sp, #64",
            "stp x1, x2, [sp]",
            "stp x3, x4, [sp, #16]",
            "stp x5, x6, [sp, #32]",
            "stp x7, x30, [sp, #48]",
            "mov x1, sp",
            "mov x2, x9",
            "mov x3, #{which}",
            "bl {common}",
            "ldr x30, [sp, #56]",
            "add sp, sp, #64",
            "ret",
            concat!(".size ", $name, ", . - ", $name),
            which = const $which,
            common = sym execl_common,
        );
    };
}

execl_entry!("execl", EXECL);
execl_entry!("execlp", EXECLP);
execl_entry!("execle", EXECLE);

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
    ] {
        // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name; runs before main, in the
        // dynamic loader's constructor phase, where dlsym may allocate and lock.
        let f = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
        slot.store(f as usize, Ordering::Release);
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

type SpawnFn = unsafe extern "C" fn(
    *mut pid_t,
    *const c_char,
    *const libc::posix_spawn_file_actions_t,
    *const libc::posix_spawnattr_t,
    *const *mut c_char,
    *const *mut c_char,
) -> c_int;

#[no_mangle]
pub unsafe extern "C" fn posix_spawn(
    pid: *mut pid_t,
    path: *const c_char,
    actions: *const libc::posix_spawn_file_actions_t,
    attr: *const libc::posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    if let Err(e) = layer::decide_spawn(p(path), p(argv)) {
        return e;
    }
    match real::<SpawnFn>(&REAL.posix_spawn) {
        // SAFETY: libc's posix_spawn with the caller's arguments.
        Some(f) => unsafe { f(pid, path, actions, attr, argv, envp) },
        None => libc::ENOSYS,
    }
}

#[no_mangle]
pub unsafe extern "C" fn posix_spawnp(
    pid: *mut pid_t,
    file: *const c_char,
    actions: *const libc::posix_spawn_file_actions_t,
    attr: *const libc::posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    if layer::active() {
        // Decide on the executable PATH search finds first; a file that does not exist
        // anywhere fails in libc with ENOENT, as without the shield, and is no violation.
        let r = path_search(file, |cand| {
            if !exists(cand) {
                return None;
            }
            Some(match layer::decide_spawn(p(cand), p(argv)) {
                Ok(()) => 0,
                Err(e) => -(e as i64),
            })
        });
        if r == -(libc::EACCES as i64) {
            return libc::EACCES;
        }
    }
    match real::<SpawnFn>(&REAL.posix_spawnp) {
        // SAFETY: libc's posix_spawnp with the caller's arguments.
        Some(f) => unsafe { f(pid, file, actions, attr, argv, envp) },
        None => libc::ENOSYS,
    }
}

/// Decide `/bin/sh -c command`.
fn decide_shell(command: *const c_char) -> Result<(), i32> {
    let argv: [*const c_char; 4] = [c"sh".as_ptr(), c"-c".as_ptr(), command, std::ptr::null()];
    layer::decide_spawn(p(c"/bin/sh".as_ptr()), p(argv.as_ptr()))
}

#[no_mangle]
pub unsafe extern "C" fn system(command: *const c_char) -> c_int {
    if !command.is_null() {
        if let Err(e) = decide_shell(command) {
            ret(-(e as i64));
            return -1;
        }
    }
    match real::<unsafe extern "C" fn(*const c_char) -> c_int>(&REAL.system) {
        // SAFETY: libc's system with the caller's argument.
        Some(f) => unsafe { f(command) },
        None => {
            ret(-(libc::ENOSYS as i64));
            -1
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn popen(command: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    if let Err(e) = decide_shell(command) {
        ret(-(e as i64));
        return std::ptr::null_mut();
    }
    type PopenFn = unsafe extern "C" fn(*const c_char, *const c_char) -> *mut libc::FILE;
    match real::<PopenFn>(&REAL.popen) {
        // SAFETY: libc's popen with the caller's arguments.
        Some(f) => unsafe { f(command, mode) },
        None => {
            ret(-(libc::ENOSYS as i64));
            std::ptr::null_mut()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Name resolution.

extern "C" {
    fn inet_aton(cp: *const c_char, inp: *mut libc::in_addr) -> c_int;
    fn inet_pton(af: c_int, src: *const c_char, dst: *mut c_void) -> c_int;
    /// glibc's per-thread `h_errno`.
    fn __h_errno_location() -> *mut c_int;
}

/// `HOST_NOT_FOUND` from `<netdb.h>` (glibc).
const HOST_NOT_FOUND: c_int = 1;

/// The caller's node name (`node`, a C string) copied into `buf`: its length, or `None` when
/// it is NULL or longer than the buffer.
fn node_name(node: *const c_char, buf: &mut [u8; 256]) -> Option<usize> {
    if node.is_null() {
        return None;
    }
    super::read_cstr_of(0, p(node), &mut buf[..255])
}

/// Whether libc reads `name` (NUL-terminated in `buf`) as a numeric address, which it answers
/// without any query: `inet_aton` forms (`127.1`, `0x7f000001`) and IPv6, with a `%scope`.
fn numeric(buf: &[u8; 256], len: usize) -> bool {
    let mut v4 = libc::in_addr { s_addr: 0 };
    // SAFETY: `buf` holds a NUL-terminated string (read_cstr_of left a NUL after `len`).
    if unsafe { inet_aton(buf.as_ptr().cast(), &mut v4) } != 0 {
        return true;
    }
    let mut v6 = [0u8; 16];
    let mut host = [0u8; 256];
    let end = buf[..len].iter().position(|&b| b == b'%').unwrap_or(len);
    host[..end].copy_from_slice(&buf[..end]);
    // SAFETY: `host` is NUL-terminated; `v6` has room for an in6_addr.
    unsafe { inet_pton(libc::AF_INET6, host.as_ptr().cast(), v6.as_mut_ptr().cast()) == 1 }
}

/// Decide looking `node` up (see [`layer::refuse_lookup`]): true when it must fail as "name
/// not found" before libc sends any query.
fn refuse_node(node: *const c_char, numeric_only: bool) -> bool {
    if !layer::active() || numeric_only {
        return false;
    }
    let mut buf = [0u8; 256];
    match node_name(node, &mut buf) {
        Some(n) => layer::refuse_lookup(&buf[..n], numeric(&buf, n)),
        // Longer than any DNS name: refused by the policy as not covered.
        None if !node.is_null() => layer::refuse_lookup(b"(a name longer than 255 bytes)", false),
        None => false,
    }
}

#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> c_int {
    type GaiFn = unsafe extern "C" fn(
        *const c_char,
        *const c_char,
        *const libc::addrinfo,
        *mut *mut libc::addrinfo,
    ) -> c_int;
    let Some(f) = real::<GaiFn>(&REAL.getaddrinfo) else {
        return libc::EAI_SYSTEM;
    };
    // SAFETY: `hints` is NULL or the caller's valid addrinfo.
    let numeric_only = !hints.is_null() && unsafe { (*hints).ai_flags } & libc::AI_NUMERICHOST != 0;
    if refuse_node(node, numeric_only) {
        return libc::EAI_NONAME;
    }
    // SAFETY: libc's getaddrinfo with the caller's arguments.
    let r = unsafe { f(node, service, hints, res) };
    if r == 0 && !node.is_null() && !res.is_null() && layer::active() {
        let mut name = [0u8; 256];
        if let Some(n) = node_name(node, &mut name) {
            // SAFETY: on success getaddrinfo stored a valid list head in *res; the list is
            // the caller's until freeaddrinfo, and we only read it.
            let mut ai = unsafe { *res };
            while !ai.is_null() {
                // SAFETY: `ai` is a node of the list getaddrinfo built.
                let a = unsafe { &*ai };
                let mut sa = [0u8; 28];
                let len = (a.ai_addrlen as usize).min(sa.len());
                if !a.ai_addr.is_null() && super::read_mem(p(a.ai_addr), &mut sa[..len]) == len {
                    if let Some((ip, _)) = crate::intercept::shared::inet(&sa[..len]) {
                        layer::learn(&name[..n], ip);
                    }
                }
                ai = a.ai_next;
            }
        }
    }
    r
}

/// Learn every address of a `hostent` that libc returned for `node`.
fn learn_hostent(node: *const c_char, h: *const libc::hostent) {
    if h.is_null() || !layer::active() {
        return;
    }
    let mut name = [0u8; 256];
    let Some(n) = node_name(node, &mut name) else {
        return;
    };
    // SAFETY: `h` is the hostent libc just returned (static or the caller's buffer), valid
    // until the next call in this thread; we only read it.
    let h = unsafe { &*h };
    let len = h.h_length as usize;
    if h.h_addr_list.is_null() || !(len == 4 || len == 16) {
        return;
    }
    for i in 0..64 {
        // SAFETY: h_addr_list is a NULL-terminated array of pointers to `len`-byte addresses.
        let a = unsafe { *h.h_addr_list.add(i) };
        if a.is_null() {
            break;
        }
        let mut b = [0u8; 16];
        if super::read_mem(p(a), &mut b[..len]) != len {
            break;
        }
        let ip = if len == 4 {
            std::net::IpAddr::from([b[0], b[1], b[2], b[3]])
        } else {
            std::net::IpAddr::from(b)
        };
        layer::learn(&name[..n], ip);
    }
}

/// Refuse a `gethostbyname*` lookup: `h_errno = HOST_NOT_FOUND`.
fn host_not_found() {
    // SAFETY: glibc's per-thread h_errno slot.
    unsafe { *__h_errno_location() = HOST_NOT_FOUND };
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname(name: *const c_char) -> *mut libc::hostent {
    if refuse_node(name, false) {
        host_not_found();
        return std::ptr::null_mut();
    }
    type F = unsafe extern "C" fn(*const c_char) -> *mut libc::hostent;
    let Some(f) = real::<F>(&REAL.gethostbyname) else {
        host_not_found();
        return std::ptr::null_mut();
    };
    // SAFETY: libc's gethostbyname with the caller's argument.
    let h = unsafe { f(name) };
    learn_hostent(name, h);
    h
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname2(name: *const c_char, af: c_int) -> *mut libc::hostent {
    if refuse_node(name, false) {
        host_not_found();
        return std::ptr::null_mut();
    }
    type F = unsafe extern "C" fn(*const c_char, c_int) -> *mut libc::hostent;
    let Some(f) = real::<F>(&REAL.gethostbyname2) else {
        host_not_found();
        return std::ptr::null_mut();
    };
    // SAFETY: libc's gethostbyname2 with the caller's arguments.
    let h = unsafe { f(name, af) };
    learn_hostent(name, h);
    h
}

type HostR = unsafe extern "C" fn(
    *const c_char,
    *mut libc::hostent,
    *mut c_char,
    size_t,
    *mut *mut libc::hostent,
    *mut c_int,
) -> c_int;

/// A refused reentrant lookup: no result, `*h_errnop = HOST_NOT_FOUND`, and the return value
/// glibc gives for a name that does not exist (0: not a system error).
///
/// # Safety
/// `result` and `h_errnop` are NULL or the caller's valid pointers.
unsafe fn refused_r(result: *mut *mut libc::hostent, h_errnop: *mut c_int) -> c_int {
    // SAFETY: the caller's out-pointers (checked for NULL).
    unsafe {
        if !result.is_null() {
            *result = std::ptr::null_mut();
        }
        if !h_errnop.is_null() {
            *h_errnop = HOST_NOT_FOUND;
        }
    }
    0
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname_r(
    name: *const c_char,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    len: size_t,
    result: *mut *mut libc::hostent,
    h_errnop: *mut c_int,
) -> c_int {
    if refuse_node(name, false) {
        // SAFETY: the caller's out-pointers.
        return unsafe { refused_r(result, h_errnop) };
    }
    let Some(f) = real::<HostR>(&REAL.gethostbyname_r) else {
        return libc::ENOSYS;
    };
    // SAFETY: libc's gethostbyname_r with the caller's arguments.
    let r = unsafe { f(name, ret, buf, len, result, h_errnop) };
    if r == 0 && !result.is_null() {
        // SAFETY: on return *result is NULL or `ret`.
        learn_hostent(name, unsafe { *result });
    }
    r
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname2_r(
    name: *const c_char,
    af: c_int,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    len: size_t,
    result: *mut *mut libc::hostent,
    h_errnop: *mut c_int,
) -> c_int {
    if refuse_node(name, false) {
        // SAFETY: the caller's out-pointers.
        return unsafe { refused_r(result, h_errnop) };
    }
    type F = unsafe extern "C" fn(
        *const c_char,
        c_int,
        *mut libc::hostent,
        *mut c_char,
        size_t,
        *mut *mut libc::hostent,
        *mut c_int,
    ) -> c_int;
    let Some(f) = real::<F>(&REAL.gethostbyname2_r) else {
        return libc::ENOSYS;
    };
    // SAFETY: libc's gethostbyname2_r with the caller's arguments.
    let r = unsafe { f(name, af, ret, buf, len, result, h_errnop) };
    if r == 0 && !result.is_null() {
        // SAFETY: on return *result is NULL or `ret`.
        learn_hostent(name, unsafe { *result });
    }
    r
}

// ---------------------------------------------------------------------------------------------
// Keeping SIGSYS deliverable: a thread that blocked SIGSYS (or a handler that masks it) and
// then made a trapped raw syscall would be killed by the kernel.

/// `set` without SIGSYS, in `copy`; returns the pointer to pass on.
fn without_sigsys(set: *const libc::sigset_t, copy: &mut libc::sigset_t) -> *const libc::sigset_t {
    if set.is_null() || !layer::guard_sigsys() {
        return set;
    }
    // SAFETY: `set` is the caller's valid sigset_t (libc's contract); we copy it and edit
    // the copy.
    unsafe {
        *copy = *set;
        libc::sigdelset(copy, libc::SIGSYS);
    }
    copy
}

type MaskFn = unsafe extern "C" fn(c_int, *const libc::sigset_t, *mut libc::sigset_t) -> c_int;

#[no_mangle]
pub unsafe extern "C" fn sigprocmask(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: an all-zero sigset_t is a valid (empty) set.
    let mut copy: libc::sigset_t = unsafe { std::mem::zeroed() };
    let set = if how == libc::SIG_UNBLOCK {
        set
    } else {
        without_sigsys(set, &mut copy)
    };
    match real::<MaskFn>(&REAL.sigprocmask) {
        // SAFETY: libc's sigprocmask with the caller's arguments (set possibly our copy).
        Some(f) => unsafe { f(how, set, old) },
        None => {
            ret(-(libc::ENOSYS as i64));
            -1
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn pthread_sigmask(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: an all-zero sigset_t is a valid (empty) set.
    let mut copy: libc::sigset_t = unsafe { std::mem::zeroed() };
    let set = if how == libc::SIG_UNBLOCK {
        set
    } else {
        without_sigsys(set, &mut copy)
    };
    match real::<MaskFn>(&REAL.pthread_sigmask) {
        // SAFETY: libc's pthread_sigmask with the caller's arguments (set possibly our copy).
        Some(f) => unsafe { f(how, set, old) },
        None => libc::ENOSYS,
    }
}

extern "C" {
    /// glibc's public alias of `sigaction`.
    fn __sigaction(sig: c_int, act: *const libc::sigaction, old: *mut libc::sigaction) -> c_int;
    /// glibc's public alias of `signal` (BSD semantics, as glibc's `signal`).
    fn bsd_signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t;
}

#[no_mangle]
pub unsafe extern "C" fn sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    if layer::guard_sigsys() && !act.is_null() {
        if sig == libc::SIGSYS {
            ret(-(libc::EPERM as i64));
            return -1;
        }
        // A handler that blocks SIGSYS while it runs would be killed by its first trapped
        // call: pass a copy without SIGSYS in sa_mask.
        // SAFETY: `act` is the caller's valid sigaction; we copy it and edit the copy.
        let mut copy = unsafe { *act };
        // SAFETY: `copy.sa_mask` is a valid sigset_t.
        unsafe { libc::sigdelset(&mut copy.sa_mask, libc::SIGSYS) };
        // SAFETY: libc's sigaction with our copy.
        return unsafe { __sigaction(sig, &copy, old) };
    }
    // SAFETY: libc's sigaction with the caller's arguments.
    unsafe { __sigaction(sig, act, old) }
}

#[no_mangle]
pub unsafe extern "C" fn signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    if layer::guard_sigsys() && sig == libc::SIGSYS {
        ret(-(libc::EPERM as i64));
        return libc::SIG_ERR;
    }
    // SAFETY: libc's signal with the caller's arguments.
    unsafe { bsd_signal(sig, handler) }
}

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
    if layer::guard_sigsys() {
        if n == libc::SYS_rt_sigaction && a0 == libc::SIGSYS as c_long && a1 != 0 {
            return ret(-(libc::EPERM as i64)) as c_long;
        }
        // SAFETY: an all-zero sigset_t is a valid (empty) set.
        let mut copy: libc::sigset_t = unsafe { std::mem::zeroed() };
        if n == libc::SYS_rt_sigprocmask && a0 != libc::SIG_UNBLOCK as c_long && a1 != 0 {
            let mut mask = [0u8; 8];
            if super::read_mem(a1 as u64, &mut mask) == 8 {
                let m = u64::from_ne_bytes(mask) & !(1u64 << (libc::SIGSYS - 1));
                // The kernel's sigset is the first 8 bytes of libc's.
                // SAFETY: `copy` is a local sigset_t of at least 8 bytes.
                unsafe { std::ptr::write_unaligned((&mut copy as *mut libc::sigset_t).cast(), m) };
                a[1] = p(&copy);
            }
        }
    }
    ret(sys(n, a)) as c_long
}
