//! Network calls carried out for the caller on a duplicate of its socket (`pidfd_getfd`):
//! connect, the send family on copies of their arguments, socket options, and `recvfrom`
//! answers from a configured resolver, from which host names are learnt.

#[allow(unused_imports)]
use super::*;

/// Read the caller's sockaddr at `addr`; decide on the copy as the kernel will read it.
/// Ok(copy) to emulate with.
pub(super) fn check_addr(
    st: &InterceptState,
    n: &Notification,
    addr: u64,
    len: u64,
) -> Result<([u8; SA_MAX], usize), i32> {
    let mut sa = [0u8; SA_MAX];
    let len = (len as usize).min(SA_MAX);
    if read_mem_of(n.pid as i64, addr, &mut sa[..len]) != len {
        return Err(libc::EFAULT);
    }
    if decide_sockaddr(st, n.nr as i64, &sa[..len]) {
        return Err(libc::EPERM);
    }
    Ok((sa, len))
}

/// Duplicate the caller's socket `fd` and tell whether it can reach the network at all. A
/// local socket (AF_UNIX, AF_NETLINK) has no outbound destination whatever the arguments say,
/// so its call continues in the caller (exact: its fds, cwd and credentials are the caller's);
/// `Err(answer)` says how to answer. Otherwise the duplicate, to emulate on.
pub(super) fn network_socket(listener: Listener, n: &Notification) -> Result<i64, Answer> {
    if !EMULATE_NET.load(Relaxed) {
        // No pidfd_getfd: no duplicate (-1); the caller decides on its copies and continues.
        return Ok(-1);
    }
    let sock = match dup_from(n.pid as i64, n.args[0] as i32 as i64) {
        Ok(fd) => fd,
        Err(e) => return Err(Answer::Errno(e)),
    };
    let mut domain: i32 = -1;
    let mut len = 4u32;
    let r = syscall(
        libc::SYS_getsockopt,
        [
            sock as u64,
            libc::SOL_SOCKET as u64,
            libc::SO_DOMAIN as u64,
            &mut domain as *mut i32 as u64,
            &mut len as *mut u32 as u64,
            0,
        ],
    );
    if r == 0 && (domain == libc::AF_UNIX || domain == libc::AF_NETLINK) {
        close(sock);
        return Err(if valid(listener, n.id) {
            Answer::Continue
        } else {
            Answer::Errno(libc::ENOENT)
        });
    }
    Ok(sock)
}

/// `setsockopt` of an option that can route datagrams elsewhere: decided on a copy of the
/// value and performed on a duplicate of the socket with that copy.
pub(super) fn setsockopt(st: &InterceptState, listener: Listener, n: &Notification) -> Answer {
    let a = n.args;
    let len = a[4] as u32 as usize;
    if len > CTL_MAX {
        return if st
            .decider
            .mode(crate::intercept::decide::ModeSlot::Outbound)
            == crate::policy::Mode::Block
        {
            Answer::Errno(libc::ENOBUFS)
        } else {
            Answer::Continue
        };
    }
    let mut val = [0u8; CTL_MAX];
    if len > 0 && read_mem_of(n.pid as i64, a[3], &mut val[..len]) != len {
        return Answer::Errno(libc::EFAULT);
    }
    if let Some(why) =
        crate::intercept::netcheck::sockopt_redirects(a[1] as i32, a[2] as i32, &val[..len])
    {
        if decide_socket_other(st, n.nr as i64, why.as_bytes()) {
            return Answer::Errno(libc::EPERM);
        }
    }
    if !valid(listener, n.id) {
        return Answer::Errno(libc::ENOENT);
    }
    let sock = match dup_from(n.pid as i64, a[0] as i32 as i64) {
        Ok(fd) => fd,
        Err(e) => return Answer::Errno(e),
    };
    let r = syscall(
        libc::SYS_setsockopt,
        [
            sock as u64,
            a[1],
            a[2],
            if len > 0 { val.as_ptr() as u64 } else { a[3] },
            len as u64,
            0,
        ],
    );
    close(sock);
    Answer::Value(r)
}

/// `pidfd_getfd`: decided on a duplicate of the caller's pidfd (a racing `dup2` cannot swap
/// it), performed on that duplicate, and the result installed in the caller.
pub(super) fn pidfd_getfd(st: &InterceptState, listener: Listener, n: &Notification) -> Answer {
    let pid = n.pid as i64;
    let a = n.args;
    let pidfd = match dup_from(pid, a[0] as i32 as i64) {
        Ok(fd) => fd,
        Err(e) => return Answer::Errno(e),
    };
    let own = crate::intercept::caller::tgid_of(pid).unwrap_or(pid);
    let target = pidfd_pid(0, pidfd).unwrap_or(-1);
    if decide_other_process(st, n.nr as i64, own, target, Some(a[1] as i32 as i64)) {
        close(pidfd);
        return Answer::Errno(libc::EPERM);
    }
    let fd = syscall(libc::SYS_pidfd_getfd, [pidfd as u64, a[1], a[2], 0, 0, 0]);
    close(pidfd);
    if fd < 0 {
        return Answer::Errno(-fd as i32);
    }
    if !valid(listener, n.id) {
        close(fd);
        return Answer::Errno(libc::ENOENT);
    }
    // pidfd_getfd always sets close-on-exec on the new descriptor.
    Answer::AddFd { fd, cloexec: true }
}

pub(super) fn net(
    st: &InterceptState,
    listener: Listener,
    n: &Notification,
    addr_idx: usize,
    len_idx: usize,
) -> Answer {
    let a = n.args;
    if a[addr_idx] == 0 {
        return Answer::Continue;
    }
    let sock = match network_socket(listener, n) {
        Ok(fd) => fd,
        Err(answer) => return answer,
    };
    let (sa, len) = match check_addr(st, n, a[addr_idx], a[len_idx]) {
        Ok(x) => x,
        Err(e) => {
            close(sock);
            return Answer::Errno(e);
        }
    };
    let pid = n.pid as i64;
    let data = if n.nr as i64 == nr::SENDTO {
        let want = (a[2] as usize).min(65_536);
        let mut buf = vec![0u8; want];
        if read_mem_of(pid, a[1], &mut buf) != want {
            close(sock);
            return Answer::Errno(libc::EFAULT);
        }
        if crate::intercept::shared::to_resolver(st, &sa[..len]) && dns_refused(st, n, &buf) {
            close(sock);
            return Answer::Errno(libc::EPERM);
        }
        Some(buf)
    } else {
        None
    };
    if !valid(listener, n.id) {
        close(sock);
        return Answer::Errno(libc::ENOENT);
    }
    if sock < 0 {
        // No pidfd_getfd: the decision stands on the copy; the call continues.
        return Answer::Continue;
    }
    let key = key_of(&[&sa[..len], data.as_deref().unwrap_or(&[])]);
    let nr_ = n.nr as i64;
    let flags = a[3];
    deferred_once(listener, n, key, sock, move || {
        let r = match &data {
            None => syscall(
                nr::CONNECT,
                [sock as u64, sa.as_ptr() as u64, len as u64, 0, 0, 0],
            ),
            Some(buf) => syscall(
                nr_,
                [
                    sock as u64,
                    buf.as_ptr() as u64,
                    buf.len() as u64,
                    flags,
                    sa.as_ptr() as u64,
                    len as u64,
                ],
            ),
        };
        close(sock);
        r
    })
}

/// Copy a msghdr (address, data, control) from the caller, decide on the copies, and emulate
/// on them, so that what is sent is exactly what was decided. A local socket continues.
pub(super) fn sendmsg(st: &InterceptState, listener: Listener, n: &Notification) -> Answer {
    let pid = n.pid as i64;
    let a = n.args;
    let sock = match network_socket(listener, n) {
        Ok(fd) => fd,
        Err(answer) => return answer,
    };
    let mut hdr = [0u8; MSGHDR];
    let checked = if read_mem_of(pid, a[1], &mut hdr) != MSGHDR {
        Err(libc::EFAULT)
    } else {
        check_msg(st, n, &hdr)
    };
    let (m, sa, salen) = match checked {
        Ok(x) => x,
        Err(e) => {
            close(sock);
            return Answer::Errno(e);
        }
    };
    if !valid(listener, n.id) {
        close(sock);
        return Answer::Errno(libc::ENOENT);
    }
    if sock < 0 {
        // No pidfd_getfd: the decision stands on the copy; the call continues.
        return Answer::Continue;
    }
    let key = key_of(&[&sa[..salen], &m.data, &m.control]);
    let flags = a[2];
    deferred_once(listener, n, key, sock, move || {
        let r = m.send(sock, &sa, salen, flags);
        close(sock);
        r
    })
}

/// A datagram to a resolver that is not a DNS query for an allowed name (see
/// [`crate::intercept::shared::decide_dns_query`]); the data is the supervisor's copy, which is what is sent.
pub(super) fn dns_refused(st: &InterceptState, n: &Notification, data: &[u8]) -> bool {
    let data = if data.len() <= crate::intercept::shared::DNS_MAX {
        data
    } else {
        &[]
    };
    crate::intercept::shared::decide_dns_query(st, n.nr as i64, data)
}

/// Copy one message and decide on its destination and control messages.
pub(super) fn check_msg(
    st: &InterceptState,
    n: &Notification,
    hdr: &[u8; MSGHDR],
) -> Result<(CopiedMsg, [u8; SA_MAX], usize), i32> {
    let name = u64::from_ne_bytes(hdr[0..8].try_into().unwrap_or([0; 8]));
    let namelen = u32::from_ne_bytes(hdr[8..12].try_into().unwrap_or([0; 4])) as u64;
    let (sa, salen) = if name == 0 || namelen == 0 {
        ([0u8; SA_MAX], 0)
    } else {
        check_addr(st, n, name, namelen)?
    };
    let m = copy_msg(n.pid as i64, hdr)?;
    if salen > 0
        && crate::intercept::shared::to_resolver(st, &sa[..salen])
        && dns_refused(st, n, &m.data)
    {
        return Err(libc::EPERM);
    }
    if let Some(why) = crate::intercept::netcheck::control_redirects(&m.control) {
        if decide_socket_other(st, n.nr as i64, why.as_bytes()) {
            return Err(libc::EPERM);
        }
    }
    Ok((m, sa, salen))
}

/// A message copied out of the caller.
pub(super) struct CopiedMsg {
    data: Vec<u8>,
    control: Vec<u8>,
    flags: i32,
}

pub(super) const MSG_DATA_MAX: usize = 65_536;

pub(super) fn copy_msg(pid: i64, hdr: &[u8; MSGHDR]) -> Result<CopiedMsg, i32> {
    let word = |o: usize| u64::from_ne_bytes(hdr[o..o + 8].try_into().unwrap_or([0; 8]));
    let (iov, iovlen, control, controllen) = (word(16), word(24), word(32), word(40));
    let flags = i32::from_ne_bytes(hdr[48..52].try_into().unwrap_or([0; 4]));
    if iovlen > 1024 {
        return Err(libc::EMSGSIZE);
    }
    let mut data = Vec::new();
    for i in 0..iovlen {
        let mut v = [0u8; 16];
        if read_mem_of(pid, iov + i * 16, &mut v) != 16 {
            return Err(libc::EFAULT);
        }
        let base = u64::from_ne_bytes(v[0..8].try_into().unwrap_or([0; 8]));
        let len = u64::from_ne_bytes(v[8..16].try_into().unwrap_or([0; 8])) as usize;
        if data.len() + len > MSG_DATA_MAX {
            return Err(libc::EMSGSIZE);
        }
        let at = data.len();
        data.resize(at + len, 0);
        if read_mem_of(pid, base, &mut data[at..]) != len && len > 0 {
            return Err(libc::EFAULT);
        }
    }
    let controllen = (controllen as usize).min(4096);
    let mut ctl = vec![0u8; controllen];
    if controllen > 0 && read_mem_of(pid, control, &mut ctl) != controllen {
        return Err(libc::EFAULT);
    }
    Ok(CopiedMsg {
        data,
        control: ctl,
        flags,
    })
}

impl CopiedMsg {
    fn send(&self, sock: i64, sa: &[u8; SA_MAX], salen: usize, flags: u64) -> i64 {
        let mut iov = libc::iovec {
            iov_base: self.data.as_ptr() as *mut libc::c_void,
            iov_len: self.data.len(),
        };
        let mut hdr = [0u8; MSGHDR];
        if salen > 0 {
            hdr[0..8].copy_from_slice(&(sa.as_ptr() as u64).to_ne_bytes());
            hdr[8..12].copy_from_slice(&(salen as u32).to_ne_bytes());
        }
        hdr[16..24].copy_from_slice(&(&mut iov as *mut libc::iovec as u64).to_ne_bytes());
        hdr[24..32].copy_from_slice(&1u64.to_ne_bytes());
        if !self.control.is_empty() {
            hdr[32..40].copy_from_slice(&(self.control.as_ptr() as u64).to_ne_bytes());
            hdr[40..48].copy_from_slice(&(self.control.len() as u64).to_ne_bytes());
        }
        hdr[48..52].copy_from_slice(&self.flags.to_ne_bytes());
        syscall(
            nr::SENDMSG,
            [sock as u64, hdr.as_ptr() as u64, flags, 0, 0, 0],
        )
    }
}

/// sendmmsg: every message's destination and control messages are checked; at most 8
/// messages are sent (a short count, which sendmmsg's contract allows), and like the kernel,
/// the messages before a refused one are sent and counted. Their `msg_len` is written back.
pub(super) fn sendmmsg(st: &InterceptState, listener: Listener, n: &Notification) -> Answer {
    const ENTRY: usize = std::mem::size_of::<libc::mmsghdr>();
    let pid = n.pid as i64;
    let a = n.args;
    let sock = match network_socket(listener, n) {
        Ok(fd) => fd,
        Err(answer) => return answer,
    };
    let vlen = (a[2] as usize).min(8);
    let mut msgs = Vec::with_capacity(vlen);
    for i in 0..vlen {
        let mut hdr = [0u8; MSGHDR];
        let checked = if read_mem_of(pid, a[1] + (i * ENTRY) as u64, &mut hdr) != MSGHDR {
            Err(libc::EFAULT)
        } else {
            check_msg(st, n, &hdr)
        };
        match checked {
            Ok(m) => msgs.push(m),
            Err(e) if i == 0 => {
                close(sock);
                return Answer::Errno(e);
            }
            Err(_) => break,
        }
    }
    if !valid(listener, n.id) {
        close(sock);
        return Answer::Errno(libc::ENOENT);
    }
    if sock < 0 {
        // No pidfd_getfd: the decisions stand on the copies; the call continues.
        return Answer::Continue;
    }
    let (vec, flags) = (a[1], a[3]);
    let parts: Vec<&[u8]> = msgs
        .iter()
        .flat_map(|(m, sa, salen)| [&sa[..*salen], &m.data[..], &m.control[..]])
        .collect();
    let key = key_of(&parts);
    deferred_once(listener, n, key, sock, move || {
        let mut sent = 0i64;
        for (i, (m, sa, salen)) in msgs.iter().enumerate() {
            let r = m.send(sock, sa, *salen, flags);
            if r < 0 {
                close(sock);
                return if sent > 0 { sent } else { r };
            }
            if write_mem_of(
                pid,
                vec + (i * ENTRY + MSGHDR) as u64,
                &(r as u32).to_ne_bytes(),
            ) != 4
            {
                close(sock);
                return if sent > 0 {
                    sent
                } else {
                    -(libc::EFAULT as i64)
                };
            }
            sent += 1;
        }
        close(sock);
        sent
    })
}

/// recvfrom with a source address: emulated on a duplicate so that DNS answers from a
/// resolver can be learnt; data, address and length are written back.
pub(super) fn recvfrom(listener: Listener, n: &Notification) -> Answer {
    let pid = n.pid as i64;
    let a = n.args;
    if a[4] == 0 || a[5] == 0 {
        return Answer::Continue;
    }
    let mut lenb = [0u8; 4];
    if read_mem_of(pid, a[5], &mut lenb) != 4 {
        return Answer::Errno(libc::EFAULT);
    }
    if !EMULATE_NET.load(Relaxed) {
        // No pidfd_getfd: the call continues (its DNS answer is not learnt).
        return Answer::Continue;
    }
    let sock = match dup_from(pid, a[0] as i32 as i64) {
        Ok(fd) => fd,
        Err(e) => return Answer::Errno(e),
    };
    let cap = (a[2] as usize).min(65_536);
    let addr_cap = (u32::from_ne_bytes(lenb) as usize).min(SA_MAX);
    let (buf_addr, flags, addr_addr, len_addr) = (a[1], a[3], a[4], a[5]);
    // A restart gets the first result: the data is already in the same buffer.
    let key = key_of(&[&buf_addr.to_ne_bytes(), &(cap as u64).to_ne_bytes()]);
    deferred_once(listener, n, key, sock, move || {
        let mut buf = vec![0u8; cap];
        let mut sa = [0u8; SA_MAX];
        let mut salen = addr_cap as u32;
        let r = syscall(
            nr::RECVFROM,
            [
                sock as u64,
                buf.as_mut_ptr() as u64,
                cap as u64,
                flags,
                sa.as_mut_ptr() as u64,
                &mut salen as *mut u32 as u64,
            ],
        );
        close(sock);
        if r < 0 {
            return r;
        }
        let got = (r as usize).min(cap);
        if write_mem_of(pid, buf_addr, &buf[..got]) != got && got > 0 {
            return -(libc::EFAULT as i64);
        }
        let _ = write_mem_of(pid, addr_addr, &sa[..(salen as usize).min(addr_cap)]);
        let _ = write_mem_of(pid, len_addr, &salen.to_ne_bytes());
        if let Some((ip, 53)) = inet(&sa[..(salen as usize).min(SA_MAX)]) {
            if let Some(st) = STATE.get() {
                if st.decider.is_resolver(crate::policy::canonical(ip)) {
                    crate::intercept::shared::HOSTS
                        .learn_from_response(&buf[..got], crate::sys::now_monotonic_secs());
                }
            }
        }
        r
    })
}
