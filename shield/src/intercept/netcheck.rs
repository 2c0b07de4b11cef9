//! Where a packet goes: pure decisions on *copied* socket arguments, shared by both
//! interceptors. Nothing here touches the kernel or allocates; everything is async-signal-safe.
//!
//! The destination is what the kernel will use, not what the address argument seems to say:
//! - a sockaddr with family 0 (`AF_UNSPEC`) given to `sendto`/`sendmsg`/`sendmmsg` on an IPv4
//!   socket is read by the kernel as `AF_INET` (`udp_sendmsg`), so it is decided as one. On
//!   `connect` it means "disconnect" (no destination), which is allowed;
//! - families that carry no network destination (`AF_UNIX`, `AF_NETLINK`) are local;
//!   every other family (`AF_PACKET`, `AF_VSOCK`, …) fails closed under outbound block;
//! - routing headers (`IPV6_RTHDR`, `IPV6_2292RTHDR`), next-hop options and IPv4 source routes
//!   (`IP_OPTIONS`/`IP_RETOPTS` with LSRR or SSRR) redirect a datagram whatever its address
//!   says, as socket options and as control messages;
//! - raw IP and packet sockets write their own headers, so they bypass addressing altogether.
//!
//! `IP_PKTINFO`/`IPV6_PKTINFO` control messages choose the *source* address and the outgoing
//! interface, not the destination, and are let through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The destination a socket call names, as the kernel will read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dest {
    /// An IP destination to decide.
    Inet(IpAddr, u16),
    /// A local family (AF_UNIX, AF_NETLINK): not outbound.
    Local,
    /// No destination: the connected peer is used (checked at connect), or the kernel will
    /// reject the address as too short.
    NoAddress,
    /// A family the shield does not know: fails closed.
    Unknown(u16),
}

const AF_UNSPEC: u16 = libc::AF_UNSPEC as u16;
const AF_UNIX: u16 = libc::AF_UNIX as u16;
const AF_INET: u16 = libc::AF_INET as u16;
const AF_INET6: u16 = libc::AF_INET6 as u16;
const AF_NETLINK: u16 = libc::AF_NETLINK as u16;

fn v4(sa: &[u8]) -> Dest {
    Dest::Inet(
        IpAddr::V4(Ipv4Addr::new(sa[4], sa[5], sa[6], sa[7])),
        u16::from_be_bytes([sa[2], sa[3]]),
    )
}

fn family(sa: &[u8]) -> Option<u16> {
    (sa.len() >= 2).then(|| u16::from_ne_bytes([sa[0], sa[1]]))
}

/// The destination of a `sendto`/`sendmsg`/`sendmmsg` address (`sa` is the copy, as long as
/// the caller's length). Family 0 is read as AF_INET, as `udp_sendmsg` does.
pub(crate) fn send_dest(sa: &[u8]) -> Dest {
    match family(sa) {
        None => Dest::NoAddress,
        Some(AF_INET | AF_UNSPEC) if sa.len() >= 8 => v4(sa),
        Some(AF_INET | AF_UNSPEC) => Dest::NoAddress,
        Some(AF_INET6) => inet6(sa),
        Some(AF_UNIX | AF_NETLINK) => Dest::Local,
        Some(f) => Dest::Unknown(f),
    }
}

/// The destination of a `connect` address. Family 0 disconnects (`inet_dgram_connect`,
/// `inet_stream_connect`): no destination.
pub(crate) fn connect_dest(sa: &[u8]) -> Dest {
    match family(sa) {
        Some(AF_UNSPEC) => Dest::NoAddress,
        _ => send_dest(sa),
    }
}

fn inet6(sa: &[u8]) -> Dest {
    if sa.len() < 24 {
        return Dest::NoAddress;
    }
    let mut o = [0u8; 16];
    o.copy_from_slice(&sa[8..24]);
    Dest::Inet(
        IpAddr::V6(Ipv6Addr::from(o)),
        u16::from_be_bytes([sa[2], sa[3]]),
    )
}

/// Why creating a socket of this family and type would bypass addressing (raw IP sockets,
/// packet sockets, families the shield does not know), or `None` for ordinary sockets.
pub(crate) fn socket_bypass(family: i32, ty: i32, protocol: i32) -> Option<&'static str> {
    // `SOCK_PACKET` (libc deprecates the constant; the kernel still accepts the type).
    const SOCK_PACKET: i32 = 10;
    let kind = ty & 0xf;
    match family {
        libc::AF_UNIX | libc::AF_NETLINK => None,
        // SCTP names its peers in socket options (SCTP_SOCKOPT_CONNECTX) and control
        // messages (SCTP_DSTADDRV4/V6), not only in connect and sendto.
        libc::AF_INET | libc::AF_INET6 if protocol == libc::IPPROTO_SCTP => {
            Some("SCTP socket (its peers are named in socket options and control messages)")
        }
        libc::AF_INET | libc::AF_INET6 if kind == libc::SOCK_RAW => Some("raw IP socket"),
        libc::AF_INET | libc::AF_INET6 if kind == SOCK_PACKET => {
            Some("packet socket (SOCK_PACKET)")
        }
        libc::AF_INET | libc::AF_INET6 => None,
        libc::AF_PACKET => Some("packet socket (AF_PACKET)"),
        libc::AF_VSOCK => Some("vsock socket (to the host)"),
        _ => Some("socket of an unknown family"),
    }
}

/// IPv6 socket options that route a datagram elsewhere.
pub(crate) const IPV6_2292RTHDR: i32 = 5;
/// `IPV6_2292PKTOPTIONS`: a buffer of control messages, applied to every datagram.
pub(crate) const IPV6_2292PKTOPTIONS: i32 = 6;
/// `IPV6_NEXTHOP` (`IPV6_2292NEXTHOP`): the next hop of every datagram.
pub(crate) const IPV6_NEXTHOP: i32 = 9;
/// `IPV6_RTHDR`.
pub(crate) const IPV6_RTHDR: i32 = 57;
/// `IP_OPTIONS`.
pub(crate) const IP_OPTIONS: i32 = libc::IP_OPTIONS;
/// `IP_RETOPTS` (the control-message form of IP options).
pub(crate) const IP_RETOPTS: i32 = libc::IP_RETOPTS;

/// Whether IPv4 options (`IP_OPTIONS`, `IP_RETOPTS`) hold a source route (LSRR or SSRR).
/// Malformed options count as routing (fail closed; the kernel would refuse them anyway).
pub(crate) fn ip_options_route(opts: &[u8]) -> bool {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return false,
            1 => i += 1,
            t => {
                if t == 0x83 || t == 0x89 {
                    return true;
                }
                let Some(&l) = opts.get(i + 1) else {
                    return true;
                };
                if l < 2 {
                    return true;
                }
                i += l as usize;
            }
        }
    }
    false
}

/// Why `setsockopt(level, name, value)` would change where datagrams go, or `None`.
pub(crate) fn sockopt_redirects(level: i32, name: i32, value: &[u8]) -> Option<&'static str> {
    match (level, name) {
        (libc::IPPROTO_IPV6, IPV6_RTHDR | IPV6_2292RTHDR) if !value.is_empty() => {
            Some("IPv6 routing header (setsockopt IPV6_RTHDR)")
        }
        (libc::IPPROTO_IPV6, IPV6_NEXTHOP) if !value.is_empty() => {
            Some("IPv6 next hop (setsockopt IPV6_NEXTHOP)")
        }
        (libc::IPPROTO_IPV6, IPV6_2292PKTOPTIONS) => control_redirects(value),
        (libc::IPPROTO_IP, IP_OPTIONS) if ip_options_route(value) => {
            Some("IPv4 source route (setsockopt IP_OPTIONS)")
        }
        _ => None,
    }
}

/// Why a control-message buffer (`msg_control`, as the kernel walks it with `CMSG_NXTHDR`)
/// would change where the datagram goes, or `None`.
pub(crate) fn control_redirects(ctl: &[u8]) -> Option<&'static str> {
    const HDR: usize = std::mem::size_of::<libc::cmsghdr>();
    let mut at = 0usize;
    while ctl.len().saturating_sub(at) >= HDR {
        let word = |o: usize, n: usize| &ctl[at + o..at + o + n];
        let len = usize::from_ne_bytes(word(0, 8).try_into().unwrap_or([0; 8]));
        let level = i32::from_ne_bytes(word(8, 4).try_into().unwrap_or([0; 4]));
        let ty = i32::from_ne_bytes(word(12, 4).try_into().unwrap_or([0; 4]));
        if len < HDR || len > ctl.len() - at {
            // The kernel stops here with EINVAL: nothing is sent.
            return None;
        }
        let data = &ctl[at + HDR..at + len];
        match (level, ty) {
            (libc::IPPROTO_IPV6, IPV6_RTHDR | IPV6_2292RTHDR) => {
                return Some("IPv6 routing header (control message)")
            }
            (libc::IPPROTO_IPV6, IPV6_NEXTHOP) => return Some("IPv6 next hop (control message)"),
            (libc::IPPROTO_IP, IP_RETOPTS) if ip_options_route(data) => {
                return Some("IPv4 source route (control message IP_RETOPTS)")
            }
            _ => {}
        }
        at += (len + 7) & !7;
    }
    None
}

/// The question name of a DNS query (`QR = 0`, at least one question), lower-cased and
/// dotted, written to `out`; its length. `None` for anything that is not a well-formed query.
pub(crate) fn dns_query_name(msg: &[u8], out: &mut [u8; 256]) -> Option<usize> {
    if msg.len() < 12 || msg[2] & 0x80 != 0 || u16::from_be_bytes([msg[4], msg[5]]) == 0 {
        return None;
    }
    let mut i = 12;
    let mut n = 0;
    loop {
        let l = *msg.get(i)? as usize;
        if l == 0 {
            break;
        }
        if l > 63 {
            return None; // compression or reserved label types have no place in a question
        }
        let label = msg.get(i + 1..i + 1 + l)?;
        if n + l + 1 > out.len() {
            return None;
        }
        if n > 0 {
            out[n] = b'.';
            n += 1;
        }
        for &b in label {
            out[n] = b.to_ascii_lowercase();
            n += 1;
        }
        i += 1 + l;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa4(family: u16, ip: [u8; 4], port: u16) -> [u8; 16] {
        let mut s = [0u8; 16];
        s[..2].copy_from_slice(&family.to_ne_bytes());
        s[2..4].copy_from_slice(&port.to_be_bytes());
        s[4..8].copy_from_slice(&ip);
        s
    }

    #[test]
    fn destinations_as_the_kernel_reads_them() {
        let d = Dest::Inet("127.0.0.2".parse().unwrap(), 9);
        assert_eq!(send_dest(&sa4(0, [127, 0, 0, 2], 9)), d);
        assert_eq!(send_dest(&sa4(2, [127, 0, 0, 2], 9)), d);
        assert_eq!(connect_dest(&sa4(0, [127, 0, 0, 2], 9)), Dest::NoAddress);
        assert_eq!(connect_dest(&sa4(2, [127, 0, 0, 2], 9)), d);
        assert_eq!(send_dest(&sa4(1, [0; 4], 0)), Dest::Local);
        assert_eq!(send_dest(&sa4(16, [0; 4], 0)), Dest::Local);
        assert_eq!(send_dest(&sa4(17, [0; 4], 0)), Dest::Unknown(17));
        assert_eq!(connect_dest(&sa4(40, [0; 4], 0)), Dest::Unknown(40));
        assert_eq!(send_dest(&[2]), Dest::NoAddress);
        assert_eq!(send_dest(&sa4(2, [1, 2, 3, 4], 5)[..6]), Dest::NoAddress);
        let mut s6 = [0u8; 28];
        s6[..2].copy_from_slice(&10u16.to_ne_bytes());
        s6[2..4].copy_from_slice(&53u16.to_be_bytes());
        s6[23] = 1;
        assert_eq!(send_dest(&s6), Dest::Inet("::1".parse().unwrap(), 53));
        assert_eq!(send_dest(&s6[..20]), Dest::NoAddress);
    }

    #[test]
    fn sockets_that_bypass_addressing() {
        assert!(socket_bypass(libc::AF_PACKET, libc::SOCK_RAW, 0).is_some());
        assert!(socket_bypass(libc::AF_PACKET, libc::SOCK_DGRAM, 0).is_some());
        assert!(socket_bypass(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0).is_some());
        assert!(socket_bypass(libc::AF_INET6, libc::SOCK_RAW, 0).is_some());
        assert!(socket_bypass(libc::AF_INET, 10, 0).is_some());
        assert!(socket_bypass(libc::AF_VSOCK, libc::SOCK_STREAM, 0).is_some());
        assert!(socket_bypass(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, 0).is_none());
        assert!(socket_bypass(libc::AF_INET6, libc::SOCK_STREAM, 0).is_none());
        assert!(socket_bypass(libc::AF_UNIX, libc::SOCK_RAW, 0).is_none());
        assert!(socket_bypass(libc::AF_NETLINK, libc::SOCK_RAW, 0).is_none());
        for fam in [libc::AF_INET, libc::AF_INET6] {
            for ty in [libc::SOCK_STREAM, libc::SOCK_SEQPACKET] {
                assert!(socket_bypass(fam, ty, libc::IPPROTO_SCTP).is_some());
            }
            assert!(socket_bypass(fam, libc::SOCK_STREAM, libc::IPPROTO_TCP).is_none());
        }
    }

    #[test]
    fn routing_options() {
        assert!(ip_options_route(&[0x83, 7, 4, 1, 2, 3, 4, 0]));
        assert!(ip_options_route(&[1, 1, 0x89, 7, 4, 1, 2, 3, 4]));
        assert!(ip_options_route(&[7, 1])); // malformed length
        assert!(!ip_options_route(&[1, 1, 1, 0]));
        assert!(!ip_options_route(&[0, 0x83, 7]));
        assert!(!ip_options_route(&[7, 7, 4, 0, 0, 0, 0, 0])); // record route
        assert!(sockopt_redirects(libc::IPPROTO_IPV6, IPV6_RTHDR, &[0, 2, 2, 1]).is_some());
        assert!(sockopt_redirects(libc::IPPROTO_IPV6, IPV6_RTHDR, &[]).is_none());
        assert!(sockopt_redirects(libc::IPPROTO_IP, IP_OPTIONS, &[1, 0]).is_none());
        assert!(sockopt_redirects(libc::IPPROTO_IP, libc::IP_TTL, &[1, 0, 0, 0]).is_none());
    }

    fn cmsg(level: i32, ty: i32, data: &[u8]) -> Vec<u8> {
        let mut c = Vec::new();
        c.extend_from_slice(&(16 + data.len()).to_ne_bytes());
        c.extend_from_slice(&level.to_ne_bytes());
        c.extend_from_slice(&ty.to_ne_bytes());
        c.extend_from_slice(data);
        while c.len() % 8 != 0 {
            c.push(0);
        }
        c
    }

    #[test]
    fn control_messages() {
        let pktinfo = cmsg(libc::IPPROTO_IP, libc::IP_PKTINFO, &[0; 12]);
        assert_eq!(control_redirects(&pktinfo), None);
        let mut two = pktinfo.clone();
        two.extend(cmsg(libc::IPPROTO_IPV6, IPV6_RTHDR, &[0, 2, 2, 1]));
        assert!(control_redirects(&two).is_some());
        assert!(control_redirects(&cmsg(
            libc::IPPROTO_IP,
            IP_RETOPTS,
            &[0x83, 7, 4, 1, 2, 3, 4]
        ))
        .is_some());
        assert!(control_redirects(&cmsg(libc::IPPROTO_IP, IP_RETOPTS, &[1, 1, 1, 0])).is_none());
        assert!(control_redirects(&cmsg(libc::IPPROTO_IPV6, IPV6_NEXTHOP, &[0; 28])).is_some());
        // A truncated header ends the walk (the kernel refuses the message).
        assert_eq!(control_redirects(&two[..10]), None);
    }

    #[test]
    fn query_names() {
        let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in ["Api", "Example", "com"] {
            q.push(l.len() as u8);
            q.extend_from_slice(l.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut out = [0u8; 256];
        let n = dns_query_name(&q, &mut out).unwrap();
        assert_eq!(&out[..n], b"api.example.com");
        let mut answer = q.clone();
        answer[2] |= 0x80;
        assert_eq!(dns_query_name(&answer, &mut out), None);
        assert_eq!(dns_query_name(&q[..14], &mut out), None);
        let mut ptr = q.clone();
        ptr[12] = 0xc0;
        assert_eq!(dns_query_name(&ptr, &mut out), None);
    }
}
