//! Child processes: the exec family (with the variadic execl* entries), posix_spawn, system,
//! popen, fork and vfork.

#[allow(unused_imports)]
use super::*;
use crate::intercept::decide::PATH_MAX;
use crate::intercept::shared::PathCopy;

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
pub(super) fn path_search(
    file: *const c_char,
    mut f: impl FnMut(*const c_char) -> Option<i64>,
) -> i64 {
    // A path (with a `/`) may be as long as PATH_MAX; a bare name longer than NAME_MAX fails
    // in libc with ENAMETOOLONG. A name that cannot be read is an error, never "not found":
    // posix_spawnp would otherwise let libc run it undecided.
    let mut name = [0u8; PATH_MAX];
    let Some(n) = crate::sys::read_cstr_of(0, p(file), &mut name[..PATH_MAX - 1]) else {
        return if crate::sys::read_mem_of(0, p(file), &mut [0u8; 1]) == 0 {
            -(libc::EFAULT as i64)
        } else {
            -(libc::ENAMETOOLONG as i64)
        };
    };
    if n == 0 {
        return -(libc::ENOENT as i64);
    }
    if name[..n].contains(&b'/') {
        return f(name.as_ptr().cast()).unwrap_or(-(libc::ENOENT as i64));
    }
    if n > 255 {
        return -(libc::ENAMETOOLONG as i64);
    }
    // SAFETY: getenv reads the environment without allocating; the pointer is valid until
    // the environment changes.
    let path = unsafe { libc::getenv(c"PATH".as_ptr()) };
    const DEFAULT: &[u8] = b"/usr/local/bin:/usr/bin:/bin\0";
    // PATH is read entry by entry, however long it is (libc searches all of it; a copy into
    // a fixed buffer that did not fit searched nothing but the current directory).
    let mut dirs = PathEntries::new(if path.is_null() {
        DEFAULT.as_ptr() as u64
    } else {
        p(path)
    });
    let mut seen_eacces = false;
    // `dir/name` and its NUL in PATH_MAX + 1 bytes (n <= 255 here).
    let mut cand = [0u8; PATH_MAX + 1];
    while let Some(len) = dirs.next_into(&mut cand[..PATH_MAX - n - 1]) {
        // A candidate longer than PATH_MAX is no file the kernel could run either.
        let Some(mut len) = len else { continue };
        if len == 0 {
            cand[0] = b'.';
            len = 1;
        }
        cand[len] = b'/';
        cand[len + 1..len + 1 + n].copy_from_slice(&name[..n]);
        cand[len + 1 + n] = 0;
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

/// The `:`-separated entries of a NUL-terminated string in this process's memory (`PATH`),
/// read with checked copies a page-bounded chunk at a time: no allocation, no length limit.
struct PathEntries {
    addr: u64,
    chunk: [u8; 256],
    pos: usize,
    len: usize,
    /// The NUL (or unreadable memory) was reached: no more entries after the current one.
    end: bool,
    /// No more entries at all.
    done: bool,
}

impl PathEntries {
    fn new(addr: u64) -> Self {
        Self {
            addr,
            chunk: [0; 256],
            pos: 0,
            len: 0,
            end: false,
            done: false,
        }
    }

    /// The next byte of the string, `None` at its end.
    fn byte(&mut self) -> Option<u8> {
        if self.end {
            return None;
        }
        if self.pos == self.len {
            let to_page_end = 4096 - (self.addr as usize & 4095);
            let want = to_page_end.min(self.chunk.len());
            let got = crate::sys::read_mem_of(0, self.addr, &mut self.chunk[..want]);
            if got == 0 {
                self.end = true;
                return None;
            }
            self.addr += got as u64;
            self.pos = 0;
            self.len = got;
        }
        let b = self.chunk[self.pos];
        self.pos += 1;
        if b == 0 {
            self.end = true;
            return None;
        }
        Some(b)
    }

    /// Copies the next entry into `out`: `Some(Some(len))`, `Some(None)` for an entry that
    /// does not fit (skipped), `None` after the last entry.
    fn next_into(&mut self, out: &mut [u8]) -> Option<Option<usize>> {
        if self.done {
            return None;
        }
        let mut len = 0usize;
        let mut fits = true;
        loop {
            match self.byte() {
                Some(b':') => break,
                Some(b) => {
                    if len < out.len() {
                        out[len] = b;
                        len += 1;
                    } else {
                        fits = false;
                    }
                }
                None => {
                    self.done = true;
                    break;
                }
            }
        }
        Some(fits.then_some(len))
    }
}

/// Whether `path` names an existing file (no decision, no event: a lookup the kernel would
/// make anyway while searching `PATH`).
pub(super) fn exists(path: *const c_char) -> bool {
    crate::sys::syscall(
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
        if unsafe { *libc::__errno_location() } == libc::ENOEXEC {
            script_execute(cand, argv, envp);
        }
        // SAFETY: errno is the calling thread's.
        Some(-(unsafe { *libc::__errno_location() }) as i64)
    });
    ret(r) as c_int
}

/// The most arguments [`script_execute`] passes on (glibc has no limit); with more, the exec
/// fails with `ENOEXEC` as the file itself did.
const SCRIPT_ARGS_MAX: usize = 255;

/// What glibc's `execvp`/`execvpe` do when the kernel does not recognise a file's format
/// (`ENOEXEC`: a script without `#!`): run it with `/bin/sh file args...`, through [`execve`]
/// (so `/bin/sh` is decided like any exec). Returns only on failure, with errno set; with
/// more than [`SCRIPT_ARGS_MAX`] arguments, or an unreadable argv, it does nothing.
fn script_execute(file: *const c_char, argv: *const *const c_char, envp: *const *const c_char) {
    let mut args = [std::ptr::null::<c_char>(); SCRIPT_ARGS_MAX + 3];
    args[0] = c"/bin/sh".as_ptr();
    args[1] = file;
    // argv[1..] up to its NULL, read with checked copies.
    let mut i = 1usize;
    loop {
        let mut w = [0u8; 8];
        if crate::sys::read_mem(p(argv) + (i * 8) as u64, &mut w) != 8 {
            return;
        }
        let a = u64::from_ne_bytes(w) as usize as *const c_char;
        if a.is_null() {
            break;
        }
        if i > SCRIPT_ARGS_MAX {
            return;
        }
        args[i + 1] = a;
        i += 1;
    }
    // SAFETY: `args` is a NULL-terminated array of the caller's argument strings after
    // "/bin/sh" and the file's NUL-terminated path; envp is the caller's.
    let _ = unsafe { execve(args[0], args.as_ptr(), envp) };
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
pub(super) const EXECL: usize = 0;
pub(super) const EXECLP: usize = 1;
pub(super) const EXECLE: usize = 2;

/// The most arguments an `execl*` call may pass (with its NULL); more fail with E2BIG.
pub(super) const EXECL_MAX: usize = 256;

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
pub(super) const REGS: usize = 5;
#[cfg(target_arch = "aarch64")]
pub(super) const REGS: usize = 7;

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

pub(super) type SpawnFn = unsafe extern "C" fn(
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
    let Some(f) = real::<SpawnFn>(&REAL.posix_spawn) else {
        return libc::ENOSYS;
    };
    if !layer::active() {
        // SAFETY: libc's posix_spawn with the caller's arguments.
        return unsafe { f(pid, path, actions, attr, argv, envp) };
    }
    // Decide on a copy and hand libc that copy: a racing thread cannot swap the path after
    // the decision.
    let mut copy = PathCopy::empty();
    if let Err(e) = copy.fill(0, p(path)) {
        return -e as c_int;
    }
    if let Err(e) = layer::decide_spawn(&copy, p(argv)) {
        return e;
    }
    // SAFETY: libc's posix_spawn with the caller's arguments and the decided copy of the
    // path (NUL-terminated, alive until libc returns).
    unsafe { f(pid, copy.ptr() as *const c_char, actions, attr, argv, envp) }
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
    if !layer::active() {
        return match real::<SpawnFn>(&REAL.posix_spawnp) {
            // SAFETY: libc's posix_spawnp with the caller's arguments.
            Some(f) => unsafe { f(pid, file, actions, attr, argv, envp) },
            None => libc::ENOSYS,
        };
    }
    // Search PATH as libc would, decide on the executable found, and have libc spawn exactly
    // that file (posix_spawn with the decided copy): libc's own search could find another
    // file planted after ours, and a name our search cannot read must not run undecided. A
    // file that does not exist anywhere fails with ENOENT, as without the shield, and is no
    // violation.
    let mut chosen = PathCopy::empty();
    let r = path_search(file, |cand| {
        if !exists(cand) {
            return None;
        }
        if let Err(e) = chosen.fill(0, p(cand)) {
            return Some(e);
        }
        Some(match layer::decide_spawn(&chosen, p(argv)) {
            Ok(()) => 0,
            Err(e) => -(e as i64),
        })
    });
    if r < 0 {
        return -r as c_int;
    }
    match real::<SpawnFn>(&REAL.posix_spawn) {
        // SAFETY: libc's posix_spawn with the caller's arguments and the decided copy of the
        // executable's path (NUL-terminated, alive until libc returns).
        Some(f) => unsafe {
            f(
                pid,
                chosen.ptr() as *const c_char,
                actions,
                attr,
                argv,
                envp,
            )
        },
        None => libc::ENOSYS,
    }
}

/// Decide `/bin/sh -c command`.
pub(super) fn decide_shell(command: *const c_char) -> Result<(), i32> {
    let argv: [*const c_char; 4] = [c"sh".as_ptr(), c"-c".as_ptr(), command, std::ptr::null()];
    let mut sh = PathCopy::empty();
    sh.fill(0, p(c"/bin/sh".as_ptr())).map_err(|e| -e as i32)?;
    layer::decide_spawn(&sh, p(argv.as_ptr()))
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
// Other processes and namespaces.

/// Another process's memory is a `read_handler` violation (its secrets), as under seccomp.
#[no_mangle]
pub unsafe extern "C" fn process_vm_readv(
    pid: pid_t,
    local: *const libc::iovec,
    liovcnt: libc::c_ulong,
    remote: *const libc::iovec,
    riovcnt: libc::c_ulong,
    flags: libc::c_ulong,
) -> isize {
    ret(sys(
        libc::SYS_process_vm_readv,
        [pid as u64, p(local), liovcnt, p(remote), riovcnt, flags],
    )) as isize
}

/// As [`process_vm_readv`].
#[no_mangle]
pub unsafe extern "C" fn process_vm_writev(
    pid: pid_t,
    local: *const libc::iovec,
    liovcnt: libc::c_ulong,
    remote: *const libc::iovec,
    riovcnt: libc::c_ulong,
    flags: libc::c_ulong,
) -> isize {
    ret(sys(
        libc::SYS_process_vm_writev,
        [pid as u64, p(local), liovcnt, p(remote), riovcnt, flags],
    )) as isize
}

/// Another process's descriptors are a `read_handler` violation (glibc 2.36+ has the wrapper).
#[no_mangle]
pub unsafe extern "C" fn pidfd_getfd(pidfd: c_int, targetfd: c_int, flags: libc::c_uint) -> c_int {
    ret(sys(
        libc::SYS_pidfd_getfd,
        [pidfd as u64, targetfd as u64, flags as u64, 0, 0, 0],
    )) as c_int
}

/// Entering another mount or user namespace is refused (EPERM) while a path policy is
/// enforced and a policy blocks, as the filter refuses it: the shield would resolve paths in
/// a different view than the caller's.
#[no_mangle]
pub unsafe extern "C" fn setns(fd: c_int, nstype: c_int) -> c_int {
    ret(sys(libc::SYS_setns, [fd as u64, nstype as u64, 0, 0, 0, 0])) as c_int
}

/// As [`setns`], for a new mount or user namespace.
#[no_mangle]
pub unsafe extern "C" fn unshare(flags: c_int) -> c_int {
    ret(sys(libc::SYS_unshare, [flags as u64, 0, 0, 0, 0, 0])) as c_int
}

// ---------------------------------------------------------------------------------------------
// Process creation that glibc carries out with its internal `fork`/`clone` (issue 13, a
// red-team round): `_Fork`, `clone`, `daemon`, `forkpty` and `wordexp` created a process
// where `fork` was refused.

/// `refuse_fork`'s answer as libc's `-1`/errno, or `None` to go on.
fn fork_refused() -> Option<c_int> {
    layer::refuse_fork().map(|e| ret(-(e as i64)) as c_int)
}

#[no_mangle]
pub unsafe extern "C" fn _Fork() -> pid_t {
    if let Some(r) = fork_refused() {
        return r;
    }
    match real::<unsafe extern "C" fn() -> pid_t>(&REAL.fork_) {
        // SAFETY: libc's _Fork.
        Some(f) => unsafe { f() },
        None => ret(-(libc::ENOSYS as i64)) as pid_t,
    }
}

/// glibc's `clone`: a clone without `CLONE_THREAD` creates a process, decided as `fork`
/// (a thread is not a child process). The trailing arguments (`parent_tid`, `tls`,
/// `child_tid`) are variadic in C and passed on as they came (same registers and stack slots
/// as fixed arguments on x86_64 and aarch64).
#[no_mangle]
pub unsafe extern "C" fn clone(
    f: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    stack: *mut c_void,
    flags: c_int,
    arg: *mut c_void,
    ptid: *mut pid_t,
    tls: *mut c_void,
    ctid: *mut pid_t,
) -> c_int {
    if flags & libc::CLONE_THREAD == 0 {
        if let Some(r) = fork_refused() {
            return r;
        }
    }
    type F = unsafe extern "C" fn(
        Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
        *mut c_void,
        c_int,
        *mut c_void,
        *mut pid_t,
        *mut c_void,
        *mut pid_t,
    ) -> c_int;
    match real::<F>(&REAL.clone) {
        // SAFETY: libc's clone with the caller's arguments.
        Some(c) => unsafe { c(f, stack, flags, arg, ptid, tls, ctid) },
        None => ret(-(libc::ENOSYS as i64)) as c_int,
    }
}

#[no_mangle]
pub unsafe extern "C" fn daemon(nochdir: c_int, noclose: c_int) -> c_int {
    if let Some(r) = fork_refused() {
        return r;
    }
    match real::<unsafe extern "C" fn(c_int, c_int) -> c_int>(&REAL.daemon) {
        // SAFETY: libc's daemon with the caller's arguments.
        Some(f) => unsafe { f(nochdir, noclose) },
        None => ret(-(libc::ENOSYS as i64)) as c_int,
    }
}

#[no_mangle]
pub unsafe extern "C" fn forkpty(
    amaster: *mut c_int,
    name: *mut c_char,
    termp: *const c_void,
    winp: *const c_void,
) -> pid_t {
    if let Some(r) = fork_refused() {
        return r;
    }
    type F = unsafe extern "C" fn(*mut c_int, *mut c_char, *const c_void, *const c_void) -> pid_t;
    match real::<F>(&REAL.forkpty) {
        // SAFETY: libc's forkpty with the caller's arguments.
        Some(f) => unsafe { f(amaster, name, termp, winp) },
        None => ret(-(libc::ENOSYS as i64)) as pid_t,
    }
}

/// `wordexp` runs `/bin/sh -c` for a command substitution (`$(…)`, backquotes) through
/// glibc's internal spawn. Without `WRDE_NOCMD` the words are first expanded with it: if
/// libc finds no command substitution, that is the answer (no spawn, nothing to decide).
/// Otherwise the spawn of `/bin/sh -c WORDS` is decided (the event carries the words); a
/// refusal returns `WRDE_CMDSUB`, libc's answer when commands are not allowed. With
/// `WRDE_REUSE` or `WRDE_APPEND` a trial expansion would change the caller's list, so any
/// `` ` `` or `$(` in the words is decided as a spawn instead.
#[no_mangle]
pub unsafe extern "C" fn wordexp(
    words: *const c_char,
    we: *mut libc::c_void,
    flags: c_int,
) -> c_int {
    const WRDE_APPEND: c_int = 1 << 1;
    const WRDE_NOCMD: c_int = 1 << 2;
    const WRDE_REUSE: c_int = 1 << 3;
    const WRDE_CMDSUB: c_int = 4;
    type F = unsafe extern "C" fn(*const c_char, *mut c_void, c_int) -> c_int;
    let Some(f) = real::<F>(&REAL.wordexp) else {
        return WRDE_CMDSUB;
    };
    if !layer::active() || flags & WRDE_NOCMD != 0 || words.is_null() {
        // SAFETY: libc's wordexp with the caller's arguments.
        return unsafe { f(words, we, flags) };
    }
    let substitutes = if flags & (WRDE_REUSE | WRDE_APPEND) != 0 {
        let mut buf = [0u8; 4096];
        match crate::sys::read_cstr_of(0, p(words), &mut buf[..4095]) {
            Some(n) => buf[..n].contains(&b'`') || buf[..n].windows(2).any(|w| w == b"$("),
            None => true,
        }
    } else {
        // SAFETY: libc's wordexp with the caller's arguments and commands refused.
        let r = unsafe { f(words, we, flags | WRDE_NOCMD) };
        if r != WRDE_CMDSUB {
            return r;
        }
        true
    };
    if substitutes && decide_shell(words).is_err() {
        return WRDE_CMDSUB;
    }
    // SAFETY: libc's wordexp with the caller's arguments.
    unsafe { f(words, we, flags) }
}

/// `ptrace` of another process reads and writes its memory: a `read_handler` violation
/// (EPERM), as `process_vm_readv` is. `PTRACE_TRACEME` names no process. glibc's `ptrace` is
/// variadic (pid, addr, data travel as fixed arguments would) and is then called as it came
/// (it stores `PTRACE_PEEK*` results as the caller expects).
#[no_mangle]
pub unsafe extern "C" fn ptrace(
    request: c_int,
    pid: pid_t,
    addr: *mut c_void,
    data: *mut c_void,
) -> c_long {
    if request != libc::PTRACE_TRACEME as c_int && layer::refuse_other_process(pid) {
        return ret(-(libc::EPERM as i64)) as c_long;
    }
    type F = unsafe extern "C" fn(c_int, pid_t, *mut c_void, *mut c_void) -> c_long;
    match real::<F>(&REAL.ptrace) {
        // SAFETY: libc's ptrace with the caller's arguments.
        Some(f) => unsafe { f(request, pid, addr, data) },
        None => ret(-(libc::ENOSYS as i64)) as c_long,
    }
}
