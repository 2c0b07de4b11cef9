//! The calling process, seen from the shield: a duplicate of one of its fds, and fields of its
//! `/proc/<tid>/status`, and the `/proc/<pid>/…` paths and opens behind them. Used by the
//! notify supervisor and by the path resolution both interceptors share.

use super::arch::nr;
use crate::sys::syscall;

/// A duplicate of the caller's fd `fd`, in the supervisor (pidfd_open + pidfd_getfd).
pub(crate) fn dup_from(pid: i64, fd: i64) -> Result<i64, i32> {
    // The notification names a thread. PIDFD_THREAD (Linux 6.9) opens a thread's pidfd;
    // older kernels need the thread-group leader.
    const PIDFD_THREAD: u64 = libc::O_EXCL as u64;
    let mut pidfd = syscall(libc::SYS_pidfd_open, [pid as u64, PIDFD_THREAD, 0, 0, 0, 0]);
    if pidfd < 0 {
        let leader = tgid_of(pid).unwrap_or(pid);
        pidfd = syscall(libc::SYS_pidfd_open, [leader as u64, 0, 0, 0, 0, 0]);
    }
    if pidfd < 0 {
        return Err(-pidfd as i32);
    }
    let r = syscall(libc::SYS_pidfd_getfd, [pidfd as u64, fd as u64, 0, 0, 0, 0]);
    syscall(libc::SYS_close, [pidfd as u64, 0, 0, 0, 0, 0]);
    if r < 0 {
        Err(-r as i32)
    } else {
        Ok(r)
    }
}

/// A numeric field of `/proc/<tid>/status` (`Tgid:` in decimal, `Umask:` in octal).
pub(crate) fn status_field(tid: i64, field: &[u8], radix: i64) -> Option<i64> {
    proc_field(tid, b"status", field, radix)
}

/// The pid a pidfd refers to (`Pid:` in `/proc/<pid>/fdinfo/<fd>`; pid 0: this process).
pub(crate) fn pidfd_pid(pid: i64, fd: i64) -> Option<i64> {
    let mut what = [0u8; 32];
    what[..7].copy_from_slice(b"fdinfo/");
    let n = 7 + write_decimal(fd.max(0) as u64, &mut what[7..]);
    proc_field(pid, &what[..n], b"Pid:", 10)
}

/// A non-negative numeric field of `/proc/<tid>/<what>` (tid 0: this process), in `radix`.
fn proc_field(tid: i64, what: &[u8], field: &[u8], radix: i64) -> Option<i64> {
    let mut p = [0u8; 64];
    proc_path(tid, what, &mut p)?;
    let mut buf = [0u8; 1024];
    let n = read_start(&p, &mut buf).ok()?;
    let text = &buf[..n];
    let at = text.windows(field.len()).position(|w| w == field)? + field.len();
    let mut v = 0i64;
    let mut seen = false;
    for &b in &text[at..] {
        match b {
            b' ' | b'\t' if !seen => {}
            b'0'..=b'9' => {
                seen = true;
                v = v * radix + i64::from(b - b'0');
            }
            _ => break,
        }
    }
    seen.then_some(v)
}

/// The thread-group id of thread `tid`.
pub(crate) fn tgid_of(tid: i64) -> Option<i64> {
    status_field(tid, b"Tgid:", 10)
}

/// Write the NUL-terminated path `/proc/<pid>/<what>` (pid 0: `thread-self`) into `out`; its
/// length without the NUL, or `None` if it does not fit.
///
/// `thread-self`, not `self`: the notify supervisor thread has a file table of its own (see
/// `notify::private_table`), and `/proc/self/fd` names the thread-group leader's.
pub(crate) fn proc_path(pid: i64, what: &[u8], out: &mut [u8; 64]) -> Option<usize> {
    let mut n = 6;
    out[..6].copy_from_slice(b"/proc/");
    if pid == 0 {
        out[n..n + 11].copy_from_slice(b"thread-self");
        n += 11;
    } else {
        n += write_decimal(pid as u64, &mut out[n..]);
    }
    out[n] = b'/';
    n += 1;
    if n + what.len() >= out.len() {
        return None;
    }
    out[n..n + what.len()].copy_from_slice(what);
    out[n + what.len()] = 0;
    Some(n + what.len())
}

/// `openat(AT_FDCWD, path, flags)` through the trampoline; `path` is NUL-terminated.
pub(crate) fn open_path(path: &[u8], flags: i32) -> i64 {
    syscall(
        nr::OPENAT,
        [
            libc::AT_FDCWD as u64,
            path.as_ptr() as u64,
            (flags | libc::O_CLOEXEC) as u64,
            0,
            0,
            0,
        ],
    )
}

/// The start of the file at `path` (NUL-terminated), one `read` into `buf`, through the
/// trampoline: the bytes read, or the errno. For `/proc` files, whose short ones come whole.
pub(crate) fn read_start(path: &[u8], buf: &mut [u8]) -> Result<usize, i64> {
    let fd = open_path(path, libc::O_RDONLY);
    if fd < 0 {
        return Err(-fd);
    }
    let n = syscall(
        nr::READ,
        [
            fd as u64,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
            0,
            0,
            0,
        ],
    );
    syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
    if n < 0 {
        return Err(-n);
    }
    Ok(n as usize)
}

/// Write `v` in decimal into `out`; returns the digits written.
pub(crate) fn write_decimal(mut v: u64, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 20];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..n.min(out.len()) {
        out[i] = digits[n - 1 - i];
    }
    n.min(out.len())
}

/// The notify supervisor thread has a file table of its own (`notify::private_table`).
static PRIVATE_TABLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the notify supervisor thread has a file table of its own: callers' fd numbers are
/// then duplicated with `pidfd_getfd`, as another process's are.
pub(crate) fn has_private_table() -> bool {
    PRIVATE_TABLE.load(std::sync::atomic::Ordering::Relaxed)
}

/// Called by the notify supervisor thread once its file table is its own.
pub(crate) fn note_private_table() {
    PRIVATE_TABLE.store(true, std::sync::atomic::Ordering::Relaxed);
}
