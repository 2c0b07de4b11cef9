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

    /// [`Listener::recv`] with the kernel writing the notification straight into `slot`: ten
    /// words of memory another process may read (the stand-by's shared mapping), laid out as
    /// `struct seccomp_notif`. The slot is zeroed first (the kernel requires it). Once the
    /// ioctl has taken a notification, its id and contents are in `slot` even if this thread
    /// is ended before it returns to the caller (an exec ends every other thread).
    ///
    /// # Errors
    ///
    /// As [`Listener::recv`]; `EINVAL` also when `slot` is shorter than ten words.
    pub(crate) fn recv_into(
        self,
        slot: &[std::sync::atomic::AtomicU64],
    ) -> Result<Notification, i32> {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        const WORDS: usize = std::mem::size_of::<libc::seccomp_notif>() / 8;
        if slot.len() < WORDS {
            return Err(libc::EINVAL);
        }
        for w in &slot[..WORDS] {
            w.store(0, Relaxed);
        }
        // The kernel writes one `struct seccomp_notif` (80 bytes, checked above) into the
        // slot's words, which stay live ('static mapping or borrowed for this call).
        let r = syscall(
            libc::SYS_ioctl,
            [
                self.0 as u64,
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                slot.as_ptr() as u64,
                0,
                0,
                0,
            ],
        );
        if r < 0 {
            return Err(-r as i32);
        }
        let w = |i: usize| slot[i].load(Acquire);
        Ok(decode_notif([
            w(0),
            w(1),
            w(2),
            w(3),
            w(4),
            w(5),
            w(6),
            w(7),
            w(8),
            w(9),
        ]))
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

/// A `struct seccomp_notif` read as ten little-endian words (x86_64 and aarch64): id; pid
/// and flags; nr and arch; the instruction pointer; the six arguments.
pub(crate) fn decode_notif(w: [u64; 10]) -> Notification {
    let mut args = [0u64; 6];
    args.copy_from_slice(&w[4..10]);
    Notification {
        id: w[0],
        pid: w[1] as u32,
        nr: w[2] as u32 as i32,
        arch: (w[2] >> 32) as u32,
        ip: w[3],
        args,
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
        let slot: Vec<std::sync::atomic::AtomicU64> = (0..10)
            .map(|_| std::sync::atomic::AtomicU64::new(7))
            .collect();
        assert_eq!(l.recv_into(&slot).unwrap_err(), libc::EBADF);
        assert_eq!(l.recv_into(&slot[..9]).unwrap_err(), libc::EINVAL);
    }

    /// [`decode_notif`] reads each field at the offset `struct seccomp_notif` gives it.
    #[test]
    fn decoded_words_follow_the_kernel_layout() {
        use std::mem::offset_of;
        let mut bytes = [0u8; 80];
        let data = offset_of!(libc::seccomp_notif, data);
        let mut put = |at: usize, v: &[u8]| bytes[at..at + v.len()].copy_from_slice(v);
        put(
            offset_of!(libc::seccomp_notif, id),
            &0x1122_3344_5566_7788u64.to_ne_bytes(),
        );
        put(offset_of!(libc::seccomp_notif, pid), &4242u32.to_ne_bytes());
        put(
            offset_of!(libc::seccomp_notif, flags),
            &0xffff_ffffu32.to_ne_bytes(),
        );
        put(
            data + offset_of!(libc::seccomp_data, nr),
            &(-5i32).to_ne_bytes(),
        );
        put(
            data + offset_of!(libc::seccomp_data, arch),
            &0xc000_003eu32.to_ne_bytes(),
        );
        put(
            data + offset_of!(libc::seccomp_data, instruction_pointer),
            &0xdead_beefu64.to_ne_bytes(),
        );
        for k in 0..6 {
            let at = data + offset_of!(libc::seccomp_data, args) + 8 * k;
            put(at, &(100 + k as u64).to_ne_bytes());
        }
        let mut w = [0u64; 10];
        for (k, x) in w.iter_mut().enumerate() {
            *x = u64::from_ne_bytes(bytes[8 * k..8 * k + 8].try_into().unwrap());
        }
        assert_eq!(
            decode_notif(w),
            Notification {
                id: 0x1122_3344_5566_7788,
                pid: 4242,
                nr: -5,
                arch: 0xc000_003e,
                ip: 0xdead_beef,
                args: [100, 101, 102, 103, 104, 105],
            }
        );
    }
}
