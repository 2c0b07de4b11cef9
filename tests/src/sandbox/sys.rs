//! The sandbox launcher's only `unsafe` code: raw syscalls with pointer arguments.
#![allow(unsafe_code)]

/// One classic-BPF instruction (`struct sock_filter`).
pub type Insn = libc::sock_filter;

/// `syscall(nr, a0..a5)`, returning the raw result or `-errno`.
///
/// # Safety
/// Any pointer-valued argument must be valid for what syscall `nr` does with it.
pub unsafe fn raw(nr: libc::c_long, a: [u64; 6]) -> i64 {
    // SAFETY: forwarded to the caller's contract.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r < 0 {
        -(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO) as i64)
    } else {
        r
    }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`: the raw result (a listener fd with
/// NEW_LISTENER, else 0) or `-errno`.
pub fn set_mode_filter(prog: &[Insn], flags: u64) -> i64 {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut Insn,
    };
    // SAFETY: `fprog` points at `prog`, which outlives the call; the kernel copies it.
    unsafe {
        raw(
            libc::SYS_seccomp,
            [
                libc::SECCOMP_SET_MODE_FILTER as u64,
                flags,
                &fprog as *const _ as u64,
                0,
                0,
                0,
            ],
        )
    }
}

/// `seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action)`: 0 or `-errno`.
pub fn action_avail(action: u32) -> i64 {
    // SAFETY: the kernel reads one u32 from a live local.
    unsafe {
        raw(
            libc::SYS_seccomp,
            [
                libc::SECCOMP_GET_ACTION_AVAIL as u64,
                0,
                &action as *const u32 as u64,
                0,
                0,
                0,
            ],
        )
    }
}

/// `seccomp(SECCOMP_GET_NOTIF_SIZES, 0, sizes)`: 0 or `-errno`.
pub fn seccomp_get_notif_sizes(sizes: &mut [u16; 3]) -> i64 {
    // SAFETY: the kernel writes one `struct seccomp_notif_sizes` (three u16) into `sizes`.
    unsafe {
        raw(
            libc::SYS_seccomp,
            [
                libc::SECCOMP_GET_NOTIF_SIZES as u64,
                0,
                sizes.as_mut_ptr() as u64,
                0,
                0,
                0,
            ],
        )
    }
}

/// `ioctl(fd, req, &arg)` where the kernel reads or writes `*arg`: the raw result or `-errno`.
pub fn ioctl_with<T>(fd: i32, req: u64, arg: &mut T) -> i64 {
    // SAFETY: `arg` is a live, exclusively borrowed `T`, the type the request `req` reads or
    // writes on a seccomp listener (the caller pairs them).
    unsafe {
        raw(
            libc::SYS_ioctl,
            [fd as u64, req, arg as *mut T as u64, 0, 0, 0],
        )
    }
}

/// `ioctl(fd, req, value)` where the argument is a plain value: the raw result or `-errno`.
pub fn ioctl_value(fd: i32, req: u64, value: u64) -> i64 {
    // SAFETY: no pointer is passed.
    unsafe { raw(libc::SYS_ioctl, [fd as u64, req, value, 0, 0, 0]) }
}

/// `waitpid(-1, &status, __WALL)`: `(pid, raw status)`, or `-errno`. The raw status, because
/// nix's `WaitStatus` cannot hold a stop by a real-time signal (it answers EINVAL, and the
/// launcher died on glibc's SIGSETXID, signal 33).
pub fn wait_any() -> Result<(i32, i32), i64> {
    let mut status = 0i32;
    // SAFETY: `status` is a valid, writable int for the kernel to fill.
    let r = unsafe {
        raw(
            libc::SYS_wait4,
            [
                u64::MAX,
                &mut status as *mut i32 as u64,
                libc::__WALL as u64,
                0,
                0,
                0,
            ],
        )
    };
    if r < 0 {
        Err(r)
    } else {
        Ok((r as i32, status))
    }
}

/// A syscall whose arguments are plain values (no pointers): the raw result or `-errno`.
pub fn value_syscall(nr: libc::c_long, a: [u64; 6]) -> i64 {
    // SAFETY: the callers pass only integer arguments (or null pointers, which the kernel
    // checks) — see each call site.
    unsafe { raw(nr, a) }
}

/// `openat2(AT_FDCWD, path, &how, sizeof how)` with an all-zero `open_how` plus `flags`.
pub fn openat2(path: &std::ffi::CStr, flags: u64) -> i64 {
    let how: [u64; 3] = [flags, 0, 0];
    // SAFETY: `path` is NUL-terminated and `how` is a live 24-byte `struct open_how`.
    unsafe {
        raw(
            libc::SYS_openat2,
            [
                libc::AT_FDCWD as u64,
                path.as_ptr() as u64,
                how.as_ptr() as u64,
                24,
                0,
                0,
            ],
        )
    }
}

/// `process_vm_readv` of `buf.len()` bytes at `addr` in `pid`: bytes read or `-errno`.
pub fn vm_read(pid: i32, addr: u64, buf: &mut [u8]) -> i64 {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` covers `buf`, which we borrow exclusively; the remote side is checked by
    // the kernel against the other process's address space.
    unsafe {
        raw(
            libc::SYS_process_vm_readv,
            [
                pid as u64,
                &local as *const _ as u64,
                1,
                &remote as *const _ as u64,
                1,
                0,
            ],
        )
    }
}

/// Enter the kernel through the 32-bit `int 0x80` path with `getpid` (i386 number 20).
/// Lambda's filter kills the process here; elsewhere it returns the pid.
#[cfg(target_arch = "x86_64")]
pub fn int80_getpid() -> i64 {
    let mut eax: i64 = 20;
    // SAFETY: i386 getpid takes no arguments and touches no memory; `int 0x80` writes eax
    // (declared) and, on old kernels, zeroes r8-r11 (declared clobbered); asm! assumes the
    // flags clobbered.
    unsafe {
        std::arch::asm!(
            "int 0x80",
            inout("rax") eax,
            lateout("r8") _, lateout("r9") _, lateout("r10") _, lateout("r11") _,
            options(nostack),
        );
    }
    eax
}

/// Take ownership of descriptor `fd`, inherited across exec for the purpose of this call.
///
/// # Panics
/// If `fd` is not an open descriptor (so no other owner can exist).
pub fn adopt_inherited(fd: std::os::fd::RawFd) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    assert!(
        fd > 2
            && value_syscall(
                libc::SYS_fcntl,
                [fd as u64, libc::F_GETFD as u64, 0, 0, 0, 0]
            ) >= 0,
        "descriptor {fd} is not an inherited descriptor"
    );
    // SAFETY: `fd` is open (checked) and was inherited by this freshly exec'd process for this
    // one purpose; nothing else in the process has wrapped it, so it gets a single owner.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}
