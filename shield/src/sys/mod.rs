//! The only module with `unsafe` code: the syscall trampoline, seccomp installation, copies
//! from and into process memory, clocks, and the SIGSYS signal handler. Every `unsafe` block
//! carries a `// SAFETY:` comment. The interceptors in `intercept/` build on these wrappers.
#![allow(unsafe_code)]

pub(crate) mod held;
#[cfg(all(feature = "libc-layer", target_os = "linux", target_env = "gnu"))]
pub(crate) mod libc_hooks;
pub(crate) mod notif;
pub(crate) mod readable;
pub(crate) mod sigsys;
pub(crate) mod standby;

use std::arch::global_asm;

#[cfg(target_arch = "x86_64")]
global_asm!(
    ".text",
    ".globl fnshield_syscall6_filtered",
    ".type fnshield_syscall6_filtered,@function",
    "fnshield_syscall6_filtered:",
    "mov rax, rdi",
    "mov rdi, rsi",
    "mov rsi, rdx",
    "mov rdx, rcx",
    "mov r10, r8",
    "mov r8, r9",
    "mov r9, [rsp+8]",
    "syscall",
    "ret",
    ".size fnshield_syscall6_filtered, .-fnshield_syscall6_filtered",
);

#[cfg(target_arch = "aarch64")]
global_asm!(
    ".text",
    ".globl fnshield_syscall6_filtered",
    ".type fnshield_syscall6_filtered,%function",
    "fnshield_syscall6_filtered:",
    "mov x8, x0",
    "mov x0, x1",
    "mov x1, x2",
    "mov x2, x3",
    "mov x3, x4",
    "mov x4, x5",
    "mov x5, x6",
    "svc #0",
    "ret",
    ".size fnshield_syscall6_filtered, .-fnshield_syscall6_filtered",
);

extern "C" {
    #[cfg_attr(not(feature = "libc-layer"), allow(dead_code))]
    fn fnshield_syscall6_filtered(
        nr: i64,
        a0: u64,
        a1: u64,
        a2: u64,
        a3: u64,
        a4: u64,
        a5: u64,
    ) -> i64;
}

/// The exempt trampoline: one system-call instruction and a return, entered by [`syscall`]
/// with the registers already set. A private naked function, so that nothing outside this
/// module can name it: the global symbol it had (`fnshield_syscall6`) let any dependency
/// declare it `extern "C"` and call it, every syscall then passing the filter undecided
/// (exempt by instruction pointer). Its address can still be found by scanning executable
/// memory for the two instructions: that is native code targeting the shield (README, threat
/// model).
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
extern "C" fn exempt_syscall_insn() {
    std::arch::naked_asm!("syscall", "ret");
}

#[cfg(target_arch = "aarch64")]
#[unsafe(naked)]
extern "C" fn exempt_syscall_insn() {
    std::arch::naked_asm!("svc #0", "ret");
}

/// Length of the system-call instruction (`syscall`: 0f 05; `svc #0`: 4 bytes).
#[cfg(target_arch = "x86_64")]
const SYSCALL_INSN_LEN: u64 = 2;
#[cfg(target_arch = "aarch64")]
const SYSCALL_INSN_LEN: u64 = 4;

/// The address the kernel reports as `instruction_pointer` for calls made through the
/// trampoline; the filter exempts it from TRAP and USER_NOTIF.
pub(crate) fn trampoline_ip() -> u64 {
    exempt_syscall_insn as *const () as u64 + SYSCALL_INSN_LEN
}

/// Issue a syscall through the exempt trampoline. Returns the raw result (`-errno` on
/// failure). Async-signal-safe.
///
/// Callers pass either plain integers or pointers to memory that is live for the call and
/// valid for what the syscall does with it; pointer arguments copied from a trapped call are
/// forwarded as the trapped caller gave them, and the kernel validates them.
#[inline]
pub(crate) fn syscall(nr: i64, a: [u64; 6]) -> i64 {
    let r: i64;
    // SAFETY: the trampoline performs exactly one syscall with these registers and returns
    // (the call pushes a return address: no `nostack`); callers uphold the pointer contract
    // in this function's documentation.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!(
            "call {f}",
            f = sym exempt_syscall_insn,
            inlateout("rax") nr => r,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    // SAFETY: as above (`bl` sets the link register).
    #[cfg(target_arch = "aarch64")]
    unsafe {
        std::arch::asm!(
            "bl {f}",
            f = sym exempt_syscall_insn,
            in("x8") nr,
            inlateout("x0") a[0] => r,
            in("x1") a[1],
            in("x2") a[2],
            in("x3") a[3],
            in("x4") a[4],
            in("x5") a[5],
            lateout("x30") _,
        );
    }
    r
}

/// Issue a syscall through a stub the filter does NOT exempt: the seccomp filter (when one is
/// installed) sees it as it would see the caller's own. The libc layer uses it for calls it
/// passes on undecided, so that moving a call into the layer never takes it out of the
/// kernel's view. Returns the raw result (`-errno` on failure). Async-signal-safe.
///
/// # Safety
///
/// Pointer-valued arguments must be valid for what syscall `nr` does with them, exactly as
/// for the libc function the caller called.
#[inline]
#[cfg_attr(not(feature = "libc-layer"), allow(dead_code))]
pub(crate) unsafe fn syscall_filtered(nr: i64, a: [u64; 6]) -> i64 {
    // SAFETY: the stub performs exactly one syscall with these registers and returns; the
    // caller upholds the pointer contract above.
    unsafe { fnshield_syscall6_filtered(nr, a[0], a[1], a[2], a[3], a[4], a[5]) }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`. Returns the raw result.
/// The kernel copies (and validates) the program; a bad pointer in `prog` gives EFAULT.
pub(crate) fn install_filter(prog: &libc::sock_fprog, flags: u64) -> i64 {
    syscall(
        libc::SYS_seccomp,
        [
            1, /* SECCOMP_SET_MODE_FILTER */
            flags,
            prog as *const _ as u64,
            0,
            0,
            0,
        ],
    )
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`. Returns the raw result.
pub(crate) fn set_no_new_privs() -> i64 {
    syscall(
        libc::SYS_prctl,
        [libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0, 0, 0],
    )
}

/// Copy up to `buf.len()` bytes of this process's memory at `addr` without faulting: bad
/// addresses give a short (or zero) count instead of a crash. Async-signal-safe.
///
/// Memory proven readable ([`readable`]: this thread's stack, the main stack, the executable's
/// segments) is copied directly; anything else goes through `process_vm_readv`.
pub(crate) fn read_mem(addr: u64, buf: &mut [u8]) -> usize {
    if readable::copy(addr, buf) {
        return buf.len();
    }
    read_mem_of(0, addr, buf)
}

/// [`read_mem`] of process (or thread) `pid`; 0 means this process.
pub(crate) fn read_mem_of(pid: i64, addr: u64, buf: &mut [u8]) -> usize {
    vm_copy(
        libc::SYS_process_vm_readv,
        pid,
        addr,
        buf.as_mut_ptr(),
        buf.len(),
    )
}

/// Copy `buf` into process `pid`'s memory at `addr` (through the trampoline, which the filter
/// exempts from its `process_vm_writev` rule). Returns the bytes written.
pub(crate) fn write_mem_of(pid: i64, addr: u64, buf: &[u8]) -> usize {
    vm_copy(
        libc::SYS_process_vm_writev,
        pid,
        addr,
        buf.as_ptr() as *mut u8,
        buf.len(),
    )
}

/// One `process_vm_readv`/`process_vm_writev` of `len` bytes between `local` and `addr` in
/// process `pid` (0: this process).
fn vm_copy(nr: i64, pid: i64, addr: u64, local: *mut u8, len: usize) -> usize {
    if addr == 0 || len == 0 {
        return 0;
    }
    let local = libc::iovec {
        iov_base: local.cast(),
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: len,
    };
    let pid = if pid == 0 {
        syscall(libc::SYS_getpid, [0; 6])
    } else {
        pid
    };
    let r = syscall(
        nr,
        [
            pid as u64,
            &local as *const _ as u64,
            1,
            &remote as *const _ as u64,
            1,
            0,
        ],
    );
    if r < 0 {
        0
    } else {
        r as usize
    }
}

/// Read a NUL-terminated string at `addr` of process `pid` (0: this process) into `buf`
/// without faulting. Returns its length (without the NUL), or `None` if it is unreadable or
/// does not fit.
///
/// For this process, a string in memory proven readable ([`readable`]) is copied directly.
pub(crate) fn read_cstr_of(pid: i64, addr: u64, buf: &mut [u8]) -> Option<usize> {
    if pid == 0 {
        if let Some(n) = readable::cstr(addr, buf) {
            return Some(n);
        }
    }
    let mut have = 0usize;
    while have < buf.len() {
        // Read up to the end of the current page, at most 256 bytes at a time.
        let a = addr + have as u64;
        let to_page_end = 4096 - (a as usize & 4095);
        let want = to_page_end.min(256).min(buf.len() - have);
        let got = read_mem_of(pid, a, &mut buf[have..have + want]);
        if got == 0 {
            return None;
        }
        if let Some(z) = buf[have..have + got].iter().position(|&b| b == 0) {
            return Some(have + z);
        }
        have += got;
    }
    None
}

/// A NUL-terminated copy of a path argument (at most `PATH_MAX` bytes and the NUL).
///
/// Its buffer is not zeroed first (4 KiB per copy, ≈0.2 µs of every libc-layer open): only the
/// bytes up to and including the NUL are ever written or read.
pub(crate) struct PathCopy {
    buf: [std::mem::MaybeUninit<u8>; PATH_MAX + 1],
    /// `buf[..=len]` is initialised; `buf[len]` is the NUL.
    len: usize,
}

use crate::intercept::decide::PATH_MAX;

impl PathCopy {
    /// Copy the path at `addr` of process `pid` (0: this process): `-EFAULT` if it is
    /// unreadable, `-ENAMETOOLONG` if it has no NUL within `PATH_MAX` bytes.
    pub(crate) fn read_of(pid: i64, addr: u64) -> Result<PathCopy, i64> {
        let mut c = PathCopy::empty();
        c.fill(pid, addr).map(|()| c)
    }

    /// Copy the path at `addr` of process `pid` (0: this process) into `slot`, in place, as
    /// [`Self::read_of`] does: the copy, or `-EFAULT` / `-ENAMETOOLONG`.
    ///
    /// Where [`Self::read_of`] returns a `Result` by value, the compiler zeroed the 4 KiB
    /// buffer of [`Self::empty`] and then moved it into the caller's frame: 8 KiB of memory
    /// traffic on every libc-layer open (perf: `memset` + `memcpy` of 0x1009 bytes in
    /// `trap::open_like`, ≈5% of an allowed open + close). Here nothing is written but the
    /// length and the path's bytes.
    pub(crate) fn read_in(
        slot: &mut std::mem::MaybeUninit<PathCopy>,
        pid: i64,
        addr: u64,
    ) -> Result<&mut PathCopy, i64> {
        let p = slot.as_mut_ptr();
        // SAFETY: `p` points to `slot`'s storage, valid for writes; the fields are written
        // through raw pointers without reading or dropping the uninitialised contents.
        unsafe {
            std::ptr::addr_of_mut!((*p).len).write(0);
            std::ptr::addr_of_mut!((*p).buf)
                .cast::<std::mem::MaybeUninit<u8>>()
                .write(std::mem::MaybeUninit::new(0));
        }
        // SAFETY: every field is initialised now: `len` was just written, and `buf` is an
        // array of `MaybeUninit<u8>`, valid uninitialised; `buf[..=len]` (the NUL) is written.
        let c = unsafe { slot.assume_init_mut() };
        c.fill(pid, addr)?;
        Ok(c)
    }

    /// An empty copy, to be filled in place with [`Self::fill`] (no second 4 KiB copy on the
    /// stack when the result is moved: see `trap::handle` on stack use).
    pub(crate) const fn empty() -> PathCopy {
        let mut c = PathCopy {
            buf: [std::mem::MaybeUninit::uninit(); PATH_MAX + 1],
            len: 0,
        };
        c.buf[0] = std::mem::MaybeUninit::new(0);
        c
    }

    /// Copy the path at `addr` of process `pid` (0: this process) into `self`: `-EFAULT` if
    /// it is unreadable, `-ENAMETOOLONG` if it has no NUL within `PATH_MAX` bytes (`self` is
    /// then empty).
    pub(crate) fn fill(&mut self, pid: i64, addr: u64) -> Result<(), i64> {
        if pid == 0 {
            let dst = self.buf.as_mut_ptr().cast::<u8>();
            if let Some(n) = readable::cstr_into(addr, dst, PATH_MAX) {
                // readable::cstr_into wrote buf[..=n], the NUL at n.
                self.len = n;
                return Ok(());
            }
        }
        // The kernel's copy: zero the buffer first, then view it as bytes.
        for b in &mut self.buf {
            b.write(0);
        }
        self.len = 0;
        // SAFETY: every byte of `buf` was just initialised.
        let bytes: &mut [u8; PATH_MAX + 1] = unsafe { &mut *self.buf.as_mut_ptr().cast() };
        match read_cstr_of(pid, addr, &mut bytes[..PATH_MAX]) {
            Some(n) => {
                bytes[n] = 0;
                self.len = n;
                Ok(())
            }
            None if read_mem_of(pid, addr, &mut [0u8; 1]) == 0 => Err(-(libc::EFAULT as i64)),
            None => Err(-(libc::ENAMETOOLONG as i64)),
        }
    }

    /// A copy of `path` (no NUL inside), or `None` if it is longer than `PATH_MAX`.
    pub(crate) fn from_bytes(path: &[u8]) -> Option<PathCopy> {
        if path.len() > PATH_MAX {
            return None;
        }
        let mut c = PathCopy {
            buf: [std::mem::MaybeUninit::uninit(); PATH_MAX + 1],
            len: path.len(),
        };
        for (d, &b) in c.buf.iter_mut().zip(path) {
            d.write(b);
        }
        c.buf[path.len()].write(0);
        Some(c)
    }

    /// The path, without the NUL.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `buf[..=len]` is initialised (every constructor writes it).
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr().cast::<u8>(), self.len) }
    }

    /// The path with its NUL.
    pub(crate) fn bytes_with_nul(&self) -> &[u8] {
        // SAFETY: `buf[..=len]` is initialised (every constructor writes it).
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr().cast::<u8>(), self.len + 1) }
    }

    /// The address of the NUL-terminated copy, for a system call.
    pub(crate) fn ptr(&self) -> u64 {
        self.buf.as_ptr() as u64
    }
}

/// An eventfd (close-on-exec) for waking the reporter thread; the raw result.
pub(crate) fn eventfd() -> i64 {
    syscall(
        libc::SYS_eventfd2,
        [0, libc::EFD_CLOEXEC as u64, 0, 0, 0, 0],
    )
}

/// Block until the reporter is woken (or interrupted).
pub(crate) fn wait_wake(fd: i32) -> i64 {
    let mut v = 0u64;
    syscall(
        libc::SYS_read,
        [fd as u64, &mut v as *mut u64 as u64, 8, 0, 0, 0],
    )
}

/// `CLOCK_REALTIME` in nanoseconds. Async-signal-safe.
pub(crate) fn now_realtime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `ts`; it is async-signal-safe (vDSO).
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `CLOCK_MONOTONIC` in whole seconds. Async-signal-safe.
pub(crate) fn now_monotonic_secs() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: as in `now_realtime_ns`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64
}

/// The FNV-1a hash of environment variable `name`'s value as libc sees it now (what its
/// resolver reads), or `None` when it is unset. Allocation-free; call it outside signal
/// handlers (`getenv` reads `environ`, which `setenv` may be changing on another thread — as
/// libc's own resolver does).
pub(crate) fn env_hash(name: &std::ffi::CStr) -> Option<u64> {
    // SAFETY: `name` is NUL-terminated; getenv returns NULL or a NUL-terminated string in
    // the environment, read at once and not kept.
    let v = unsafe { libc::getenv(name.as_ptr()) };
    if v.is_null() {
        return None;
    }
    // SAFETY: as above, a NUL-terminated string.
    let bytes = unsafe { std::ffi::CStr::from_ptr(v) }.to_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    Some(h)
}

/// The identity and change stamp of the file at `path` (`stat`, following symlinks, issued
/// through the trampoline): device, inode, size, mtime and ctime (seconds, nanoseconds), or
/// `None` if it cannot be stat'ed. Async-signal-safe.
pub(crate) fn file_stamp(path: &std::ffi::CStr) -> Option<[i64; 7]> {
    // SAFETY: a zeroed `stat` is a valid plain-data value for the kernel to fill.
    let mut sb: libc::stat = unsafe { std::mem::zeroed() };
    let r = syscall(
        libc::SYS_newfstatat,
        [
            libc::AT_FDCWD as i64 as u64,
            path.as_ptr() as u64,
            &mut sb as *mut _ as u64,
            0,
            0,
            0,
        ],
    );
    (r == 0).then_some([
        sb.st_dev as i64,
        sb.st_ino as i64,
        sb.st_size as i64,
        sb.st_mtime as i64,
        sb.st_mtime_nsec as i64,
        sb.st_ctime as i64,
        sb.st_ctime_nsec as i64,
    ])
}

/// `st_mode` of the file open as `fd` (an `O_PATH` descriptor will do), or `None` if `fstat`
/// fails. Async-signal-safe.
pub(crate) fn fstat_mode(fd: i64) -> Option<u32> {
    // SAFETY: a zeroed `stat` is a valid plain-data value for fstat to fill.
    let mut sb: libc::stat = unsafe { std::mem::zeroed() };
    let r = syscall(
        libc::SYS_fstat,
        [fd as u64, &mut sb as *mut _ as u64, 0, 0, 0, 0],
    );
    (r == 0).then_some(sb.st_mode)
}

/// `ppoll` on `fds` (`revents` filled in), waiting at most `timeout_ms` (-1: no limit).
/// Returns the raw result. Async-signal-safe.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: i64) -> i64 {
    let ts = libc::timespec {
        tv_sec: timeout_ms.max(0) / 1000,
        tv_nsec: (timeout_ms.max(0) % 1000) * 1_000_000,
    };
    let tsp = if timeout_ms < 0 {
        0
    } else {
        &ts as *const libc::timespec as u64
    };
    syscall(
        libc::SYS_ppoll,
        [fds.as_mut_ptr() as u64, fds.len() as u64, tsp, 0, 8, 0],
    )
}

/// `(st_dev, st_ino)` of the file open as `fd`, or `None` if `fstat` fails.
/// Async-signal-safe.
pub(crate) fn fstat_identity(fd: i64) -> Option<(u64, u64)> {
    // SAFETY: a zeroed `stat` is a valid plain-data value for fstat to fill.
    let mut sb: libc::stat = unsafe { std::mem::zeroed() };
    let r = syscall(
        libc::SYS_fstat,
        [fd as u64, &mut sb as *mut _ as u64, 0, 0, 0, 0],
    );
    (r == 0).then_some((sb.st_dev, sb.st_ino))
}
