//! Typed wrappers for the seccomp user-notification API (`seccomp_unotify(2)`): the listener
//! fd, the notification it delivers, and the three ways to answer one (continue, an errno or a
//! value, an fd added to the caller). The ioctls and the pointers they take live here, so that
//! the supervisor in `intercept::notify` handles values, never raw memory.
//!
//! Every call returns the kernel's errno as `Err(errno)`; `ENOENT` means the notification is
//! no longer valid (its caller was interrupted or died).

use super::syscall;

/// A seccomp user-notification listener: the fd `SECCOMP_FILTER_FLAG_NEW_LISTENER` returned.
/// The supervisor owns it for the life of the process and never closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Listener(i32);

/// One notification: the calling thread, its syscall and the raw arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Notification {
    /// The cookie every answer must carry.
    pub(crate) id: u64,
    /// The calling thread's id, in the listener's pid namespace (0 if it is not visible).
    pub(crate) pid: u32,
    /// The syscall number.
    pub(crate) nr: i32,
    /// The caller's `AUDIT_ARCH_*`.
    pub(crate) arch: u32,
    /// The caller's instruction pointer.
    pub(crate) ip: u64,
    /// The six raw syscall arguments.
    pub(crate) args: [u64; 6],
}

/// An answer to a notification (`SECCOMP_IOCTL_NOTIF_SEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Response {
    /// Let the call run in the caller as it is (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`).
    Continue,
    /// The call fails with this errno (positive), without running.
    Errno(i32),
    /// The call returns this value (≥ 0), without running.
    Value(i64),
}

impl Listener {
    /// The listener with this fd number.
    pub(crate) const fn from_raw(fd: i32) -> Listener {
        Listener(fd)
    }

    /// The listener's fd number.
    pub(crate) const fn raw(self) -> i32 {
        self.0
    }

    fn ioctl<T>(self, request: u64, arg: &mut T) -> Result<i64, i32> {
        // The argument is a live, exclusively borrowed struct of the layout `request` expects
        // (each caller below passes the matching libc struct); the kernel reads and writes only
        // within it.
        let r = syscall(
            libc::SYS_ioctl,
            [self.0 as u64, request, arg as *mut T as u64, 0, 0, 0],
        );
        if r < 0 {
            Err(-r as i32)
        } else {
            Ok(r)
        }
    }

    /// Wait for the next notification (`SECCOMP_IOCTL_NOTIF_RECV`).
    ///
    /// # Errors
    ///
    /// The errno: `EINTR` (retry), `ENOENT` (the caller went away before it was read), or
    /// `EBADF`/`EINVAL` when the listener is unusable.
    pub(crate) fn recv(self) -> Result<Notification, i32> {
        // SAFETY: seccomp_notif is plain old data; all-zero is a valid value, and the kernel
        // requires the buffer zeroed before RECV.
        let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        self.ioctl(libc::SECCOMP_IOCTL_NOTIF_RECV, &mut n)?;
        Ok(Notification {
            id: n.id,
            pid: n.pid,
            nr: n.data.nr,
            arch: n.data.arch,
            ip: n.data.instruction_pointer,
            args: n.data.args,
        })
    }

    /// Answer notification `id`.
    ///
    /// # Errors
    ///
    /// The errno: `ENOENT` when the caller is gone (interrupted or dead) and got nothing.
    pub(crate) fn respond(self, id: u64, response: Response) -> Result<(), i32> {
        let (val, error, flags) = match response {
            Response::Continue => (0, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
            Response::Errno(e) => (0, -e, 0),
            Response::Value(v) if v < 0 => (0, v as i32, 0),
            Response::Value(v) => (v, 0, 0),
        };
        let mut r = libc::seccomp_notif_resp {
            id,
            val,
            error,
            flags,
        };
        self.ioctl(libc::SECCOMP_IOCTL_NOTIF_SEND, &mut r).map(drop)
    }

    /// Install a duplicate of our `fd` in the caller of notification `id`
    /// (`SECCOMP_IOCTL_NOTIF_ADDFD`, Linux 5.9+). With `send` (`SECCOMP_ADDFD_FLAG_SEND`,
    /// 5.14+) this also answers the call with the new fd number, atomically; without it the
    /// call still needs a [`respond`](Self::respond). Retries on `EINTR`.
    ///
    /// # Errors
    ///
    /// The errno: `ENOENT` (the caller is gone), `EINVAL` (e.g. `send` on a kernel without it),
    /// `EMFILE` (the caller's fd table is full), `EBUSY` (another ADDFD with SEND raced).
    pub(crate) fn add_fd(self, id: u64, fd: i32, cloexec: bool, send: bool) -> Result<i64, i32> {
        let mut add = libc::seccomp_notif_addfd {
            id,
            flags: if send {
                libc::SECCOMP_ADDFD_FLAG_SEND as u32
            } else {
                0
            },
            srcfd: fd as u32,
            newfd: 0,
            newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
        };
        loop {
            match self.ioctl(libc::SECCOMP_IOCTL_NOTIF_ADDFD, &mut add) {
                Err(libc::EINTR) => continue,
                r => return r,
            }
        }
    }

    /// Whether notification `id` is still pending (`SECCOMP_IOCTL_NOTIF_ID_VALID`): its caller
    /// is still waiting for the answer. Checked after reading the caller's memory, so that a
    /// decision is never made on a recycled pid's memory.
    pub(crate) fn id_valid(self, id: u64) -> bool {
        let mut id = id;
        self.ioctl(libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &mut id)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_kernel_abi() {
        // include/uapi/linux/seccomp.h: struct seccomp_notif is 80 bytes, seccomp_notif_resp
        // 24, seccomp_notif_addfd 24.
        assert_eq!(std::mem::size_of::<libc::seccomp_notif>(), 80);
        assert_eq!(std::mem::size_of::<libc::seccomp_notif_resp>(), 24);
        assert_eq!(std::mem::size_of::<libc::seccomp_notif_addfd>(), 24);
    }

    #[test]
    fn a_closed_fd_is_not_a_listener() {
        let l = Listener::from_raw(-1);
        assert_eq!(l.recv().unwrap_err(), libc::EBADF);
        assert_eq!(l.respond(1, Response::Continue), Err(libc::EBADF));
        assert_eq!(l.add_fd(1, 0, true, false), Err(libc::EBADF));
        assert!(!l.id_valid(1));
    }
}
