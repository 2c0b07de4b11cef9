//! The raw operations the stand-by supervisor (`intercept::notify::standby`) needs: `fork`,
//! passing the listener over a socket (`SCM_RIGHTS`), `ppoll`, resetting signal dispositions,
//! an atfork handler and `exit_group`. Every call goes through the exempt trampoline except
//! `fork` and `pthread_atfork` (libc's, so that malloc's locks are reset in the child).

use super::syscall;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

/// libc's `fork()` (its atfork handlers run, and malloc is usable in the child). Returns the
/// child's pid, 0 in the child, or `-errno`.
pub(crate) fn fork() -> i64 {
    // SAFETY: fork has no memory-safety preconditions; in the child the caller only runs
    // the stand-by's own code (it never returns into the caller's frames) and ends with
    // `exit_group`.
    let r = unsafe { libc::fork() };
    if r < 0 {
        // SAFETY: errno is the calling thread's.
        -(unsafe { *libc::__errno_location() }) as i64
    } else {
        r as i64
    }
}

/// End the whole process now, without running atexit handlers or destructors.
pub(crate) fn exit_group(code: i32) -> ! {
    loop {
        syscall(libc::SYS_exit_group, [code as u64, 0, 0, 0, 0, 0]);
    }
}

/// Send `data` on the connected socket `sock`, with `fd` attached (`SCM_RIGHTS`) if it is
/// `>= 0`. Returns the raw result.
pub(crate) fn send_with_fd(sock: i32, data: &[u8], fd: i32) -> i64 {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // One cmsghdr with one int: CMSG_SPACE(4) is 24 bytes on 64-bit Linux.
    let mut control = [0u64; 3];
    // SAFETY: msghdr is plain old data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if fd >= 0 {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: CMSG_FIRSTHDR/CMSG_DATA point into `control`, which holds one cmsghdr
        // followed by one int (CMSG_SPACE(4) <= 24 bytes).
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<i32>(), fd);
        }
    }
    loop {
        let r = syscall(
            libc::SYS_sendmsg,
            [
                sock as u64,
                &msg as *const libc::msghdr as u64,
                libc::MSG_NOSIGNAL as u64,
                0,
                0,
                0,
            ],
        );
        if r != -(libc::EINTR as i64) {
            return r;
        }
    }
}

/// Receive one message from `sock` into `buf`. Returns the raw result and the fd that came
/// with it (`SCM_RIGHTS`, made close-on-exec), or -1.
pub(crate) fn recv_with_fd(sock: i32, buf: &mut [u8]) -> (i64, i32) {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain old data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    let r = loop {
        let r = syscall(
            libc::SYS_recvmsg,
            [
                sock as u64,
                &mut msg as *mut libc::msghdr as u64,
                libc::MSG_CMSG_CLOEXEC as u64,
                0,
                0,
                0,
            ],
        );
        if r != -(libc::EINTR as i64) {
            break r;
        }
    };
    let mut fd = -1;
    if r >= 0 {
        // SAFETY: the kernel filled `control` up to msg_controllen; CMSG_FIRSTHDR and
        // CMSG_NXTHDR stay within it, and an SCM_RIGHTS header carries ints after it.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let n = ((*c).cmsg_len - libc::CMSG_LEN(0) as usize) / 4;
                    let data = libc::CMSG_DATA(c).cast::<i32>();
                    for i in 0..n {
                        let f = std::ptr::read_unaligned(data.add(i));
                        if fd < 0 {
                            fd = f;
                        } else {
                            syscall(libc::SYS_close, [f as u64, 0, 0, 0, 0, 0]);
                        }
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
    }
    (r, fd)
}

/// In a freshly forked stand-by: every signal back to its default action (no handler of the
/// function runs there; SIGTERM and SIGINT end it as they end the function), SIGPIPE ignored
/// (a closed stdout must not kill the supervisor), and no signal blocked.
pub(crate) fn reset_signals() {
    for sig in 1..=64u64 {
        if sig == libc::SIGKILL as u64 || sig == libc::SIGSTOP as u64 {
            continue;
        }
        // SAFETY: sigaction is plain old data; all-zero is SIG_DFL with no flags and an
        // empty mask.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        if sig == libc::SIGPIPE as u64 {
            sa.sa_sigaction = libc::SIG_IGN;
        }
        syscall(
            libc::SYS_rt_sigaction,
            [sig, &sa as *const libc::sigaction as u64, 0, 8, 0, 0],
        );
    }
    let none: u64 = 0;
    syscall(
        libc::SYS_rt_sigprocmask,
        [
            libc::SIG_SETMASK as u64,
            &none as *const u64 as u64,
            0,
            8,
            0,
            0,
        ],
    );
}

/// The fd closed in every child `fork()` creates (see [`close_in_forked_children`]).
static CLOSE_IN_CHILD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn atfork_child() {
    let fd = CLOSE_IN_CHILD.load(Ordering::Acquire);
    if fd >= 0 {
        syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
    }
}

/// Close `fd` in every child process libc's `fork()` creates from now on (a `pthread_atfork`
/// child handler: async-signal-safe, one `close`). Returns `false` if the handler could not
/// be registered.
pub(crate) fn close_in_forked_children(fd: i32) -> bool {
    static REGISTERED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    CLOSE_IN_CHILD.store(fd, Ordering::Release);
    if REGISTERED.swap(true, Ordering::AcqRel) {
        return true;
    }
    // SAFETY: registers a handler that only performs one close syscall on an atomic fd
    // number; it stays valid for the life of the process (a static function).
    unsafe { libc::pthread_atfork(None, None, Some(atfork_child)) == 0 }
}

/// `n` zeroed 64-bit words in a shared anonymous mapping (`MAP_SHARED`): a process forked
/// after this call shares them with this one. Never unmapped. `None` if `mmap` failed.
pub(crate) fn shared_words(n: usize) -> Option<&'static [AtomicU64]> {
    let len = (n * 8) as u64;
    let p = syscall(
        libc::SYS_mmap,
        [
            0,
            len,
            (libc::PROT_READ | libc::PROT_WRITE) as u64,
            (libc::MAP_SHARED | libc::MAP_ANONYMOUS) as u64,
            -1i64 as u64,
            0,
        ],
    );
    if p < 0 && p > -4096 {
        return None;
    }
    // SAFETY: the mapping is `n * 8` bytes, readable and writable, zero-filled and page-aligned
    // (so 8-aligned), and never unmapped: a `'static` slice of `n` AtomicU64 (same layout as
    // u64; all-zero is a valid value), only ever accessed atomically.
    Some(unsafe { std::slice::from_raw_parts(p as usize as *const AtomicU64, n) })
}
