//! Network: connect and the send family; name resolution (getaddrinfo, gethostbyname*).

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// Network.

/// Raw, packet and SCTP sockets are refused under outbound block, as the filter refuses them.
#[no_mangle]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, proto: c_int) -> c_int {
    ret(sys(
        libc::SYS_socket,
        [domain as u64, ty as u64, proto as u64, 0, 0, 0],
    )) as c_int
}

/// Destination-changing options (routing headers, next hops, IPv4 source routes) are refused
/// under outbound block; the option is set from a copy.
#[no_mangle]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    ret(sys(
        libc::SYS_setsockopt,
        [fd as u64, level as u64, name as u64, p(val), len as u64, 0],
    )) as c_int
}

/// A DNS answer received with its source address teaches host names, as under the trap
/// interceptor (only from a configured resolver on port 53, only what the kernel reported).
#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> isize {
    ret(sys(
        libc::SYS_recvfrom,
        [
            fd as u64,
            p(buf),
            len as u64,
            flags as u64,
            p(addr),
            p(alen),
        ],
    )) as isize
}

/// As [`recvfrom`], for `recvmsg` with a source address.
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> isize {
    ret(sys(
        libc::SYS_recvmsg,
        [fd as u64, p(msg), flags as u64, 0, 0, 0],
    )) as isize
}

#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    ret(sys(
        libc::SYS_connect,
        [fd as u64, p(addr), len as u64, 0, 0, 0],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> isize {
    ret(sys(
        libc::SYS_sendto,
        [
            fd as u64,
            p(buf),
            len as u64,
            flags as u64,
            p(addr),
            alen as u64,
        ],
    )) as isize
}

#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> isize {
    ret(sys(
        libc::SYS_sendmsg,
        [fd as u64, p(msg), flags as u64, 0, 0, 0],
    )) as isize
}

#[no_mangle]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    msgs: *mut libc::mmsghdr,
    n: libc::c_uint,
    flags: c_int,
) -> c_int {
    ret(sys(
        libc::SYS_sendmmsg,
        [fd as u64, p(msgs), n as u64, flags as u64, 0, 0],
    )) as c_int
}

// ---------------------------------------------------------------------------------------------
// Name resolution.

extern "C" {
    fn inet_aton(cp: *const c_char, inp: *mut libc::in_addr) -> c_int;
    fn inet_pton(af: c_int, src: *const c_char, dst: *mut c_void) -> c_int;
    /// glibc's per-thread `h_errno`.
    fn __h_errno_location() -> *mut c_int;
}

/// `HOST_NOT_FOUND` from `<netdb.h>` (glibc).
pub(super) const HOST_NOT_FOUND: c_int = 1;

/// The caller's node name (`node`, a C string) copied into `buf`: its length, or `None` when
/// it is NULL or longer than the buffer.
pub(super) fn node_name(node: *const c_char, buf: &mut [u8; 256]) -> Option<usize> {
    if node.is_null() {
        return None;
    }
    crate::sys::read_cstr_of(0, p(node), &mut buf[..255])
}

/// Whether libc reads `name` (NUL-terminated in `buf`) as a numeric address, which it answers
/// without any query: `inet_aton` forms (`127.1`, `0x7f000001`) and IPv6, with a `%scope`.
pub(super) fn numeric(buf: &[u8; 256], len: usize) -> bool {
    let mut v4 = libc::in_addr { s_addr: 0 };
    // SAFETY: `buf` holds a NUL-terminated string (read_cstr_of left a NUL after `len`).
    if unsafe { inet_aton(buf.as_ptr().cast(), &mut v4) } != 0 {
        return true;
    }
    let mut v6 = [0u8; 16];
    let mut host = [0u8; 256];
    let end = buf[..len].iter().position(|&b| b == b'%').unwrap_or(len);
    host[..end].copy_from_slice(&buf[..end]);
    // SAFETY: `host` is NUL-terminated; `v6` has room for an in6_addr.
    unsafe { inet_pton(libc::AF_INET6, host.as_ptr().cast(), v6.as_mut_ptr().cast()) == 1 }
}

/// The caller's node name, copied once: decided, passed to libc and learnt from the same copy,
/// so a racing thread cannot swap the name between the decision and the lookup (libc copies
/// what it keeps of its argument, as it must for callers' stack buffers).
pub(super) struct Node {
    buf: [u8; 256],
    len: Option<usize>,
    orig: *const c_char,
}

impl Node {
    pub(super) fn read(node: *const c_char) -> Node {
        let mut buf = [0u8; 256];
        let len = node_name(node, &mut buf);
        Node {
            buf,
            len,
            orig: node,
        }
    }

    /// The name as libc must see it: the copy, or the caller's pointer when there is no copy
    /// (NULL, or a name longer than any DNS name, which the policy decided as such).
    pub(super) fn ptr(&self) -> *const c_char {
        match self.len {
            Some(_) => self.buf.as_ptr().cast(),
            None => self.orig,
        }
    }

    pub(super) fn name(&self) -> Option<&[u8]> {
        self.len.map(|n| &self.buf[..n])
    }

    /// Whether libc may send a DNS query for this name (a name that is not numeric).
    pub(super) fn queries(&self) -> bool {
        match self.len {
            Some(n) => n > 0 && !numeric(&self.buf, n),
            None => !self.orig.is_null(),
        }
    }

    /// Decide looking the name up (see [`layer::refuse_lookup`]): true when it must fail as
    /// "name not found" before libc sends any query.
    pub(super) fn refused(&self, numeric_only: bool) -> bool {
        if !layer::active() || numeric_only {
            return false;
        }
        match self.len {
            Some(n) => {
                let numeric = numeric(&self.buf, n);
                layer::refuse_lookup(&self.buf[..n], numeric)
                    || (!numeric && layer::refuse_searched(&self.buf[..n], search_list_changed))
            }
            // Longer than any DNS name: refused by the policy as not covered.
            None if !self.orig.is_null() => {
                layer::refuse_lookup(b"(a name longer than 255 bytes)", false)
            }
            None => false,
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> c_int {
    type GaiFn = unsafe extern "C" fn(
        *const c_char,
        *const c_char,
        *const libc::addrinfo,
        *mut *mut libc::addrinfo,
    ) -> c_int;
    let Some(f) = real::<GaiFn>(&REAL.getaddrinfo) else {
        return libc::EAI_SYSTEM;
    };
    if !layer::active() {
        // SAFETY: libc's getaddrinfo with the caller's arguments.
        return unsafe { f(node, service, hints, res) };
    }
    // The hints, copied once: decided and passed on as one value, so a racing thread cannot
    // clear AI_NUMERICHOST after the decision.
    // SAFETY: `hints` is NULL or the caller's valid addrinfo (plain data).
    let hints_copy: Option<libc::addrinfo> = (!hints.is_null()).then(|| unsafe { *hints });
    let hints = hints_copy
        .as_ref()
        .map_or(std::ptr::null(), |h| h as *const libc::addrinfo);
    let numeric_only = hints_copy.is_some_and(|h| h.ai_flags & libc::AI_NUMERICHOST != 0);
    let node = Node::read(node);
    if node.refused(numeric_only) {
        return libc::EAI_NONAME;
    }
    // A name that /etc/hosts answers with one address: libc's answer for that address in
    // numeric form is the same list, without glibc's file reads (which the filter would trap).
    let mut numeric_ip = [0u8; 48];
    let mut node_ptr = node.ptr();
    if let (Some(name), Some(h)) = (node.name(), hints_copy.as_ref()) {
        if h.ai_flags == 0 {
            if let Some(ip) = layer::hosts_answer(name, h.ai_family) {
                if write_ip(ip, &mut numeric_ip) {
                    node_ptr = numeric_ip.as_ptr().cast();
                }
            }
        }
    }
    // A name libc may look up in DNS goes to the name servers of the thread's resolver state,
    // which the function can rewrite (`_res.nsaddr_list`): each is decided as a destination.
    if node_ptr == node.ptr()
        && !numeric_only
        && node.queries()
        && name_servers_refused(std::ptr::null())
    {
        return libc::EAI_NONAME;
    }
    // SAFETY: libc's getaddrinfo with the caller's arguments, the node name as copied (a
    // NUL-terminated string that outlives the call).
    let r = unsafe { f(node_ptr, service, hints, res) };
    if let (0, Some(name), false) = (r, node.name(), res.is_null() || !layer::learning()) {
        // SAFETY: on success getaddrinfo stored a valid list head in *res; the list is the
        // caller's until freeaddrinfo, and we only read it.
        let mut ai = unsafe { *res };
        while !ai.is_null() {
            // SAFETY: `ai` is a node of the list getaddrinfo built.
            let a = unsafe { &*ai };
            let mut sa = [0u8; 28];
            let len = (a.ai_addrlen as usize).min(sa.len());
            if !a.ai_addr.is_null() {
                // SAFETY: libc built this node: `ai_addr` points to `ai_addrlen` bytes of the
                // same allocation.
                unsafe {
                    std::ptr::copy_nonoverlapping(a.ai_addr.cast::<u8>(), sa.as_mut_ptr(), len)
                };
                if let Some((ip, _)) = crate::intercept::shared::inet(&sa[..len]) {
                    layer::learn_checked(name, ip);
                }
            }
            ai = a.ai_next;
        }
    }
    r
}

/// `ip` in its numeric form, NUL-terminated, into `buf`; false if it does not fit.
fn write_ip(ip: std::net::IpAddr, buf: &mut [u8; 48]) -> bool {
    use std::fmt::Write;
    struct W<'a>(&'a mut [u8], usize);
    impl Write for W<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let end = self.1 + s.len();
            // Keep room for the NUL.
            if end >= self.0.len() {
                return Err(std::fmt::Error);
            }
            self.0[self.1..end].copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    let mut w = W(buf, 0);
    if write!(w, "{ip}").is_err() {
        return false;
    }
    let n = w.1;
    buf[n] = 0;
    true
}

/// Learn every address of a `hostent` that libc returned for `node`.
pub(super) fn learn_hostent(node: *const c_char, h: *const libc::hostent) {
    if h.is_null() || !layer::learning() {
        return;
    }
    let mut name = [0u8; 256];
    let Some(n) = node_name(node, &mut name) else {
        return;
    };
    // SAFETY: `h` is the hostent libc just returned (static or the caller's buffer), valid
    // until the next call in this thread; we only read it.
    let h = unsafe { &*h };
    let len = h.h_length as usize;
    if h.h_addr_list.is_null() || !(len == 4 || len == 16) {
        return;
    }
    for i in 0..64 {
        // SAFETY: h_addr_list is a NULL-terminated array of pointers to `len`-byte addresses.
        let a = unsafe { *h.h_addr_list.add(i) };
        if a.is_null() {
            break;
        }
        let mut b = [0u8; 16];
        if crate::sys::read_mem(p(a), &mut b[..len]) != len {
            break;
        }
        let ip = if len == 4 {
            std::net::IpAddr::from([b[0], b[1], b[2], b[3]])
        } else {
            std::net::IpAddr::from(b)
        };
        layer::learn_checked(&name[..n], ip);
    }
}

/// Refuse a `gethostbyname*` lookup: `h_errno = HOST_NOT_FOUND`.
pub(super) fn host_not_found() {
    // SAFETY: glibc's per-thread h_errno slot.
    unsafe { *__h_errno_location() = HOST_NOT_FOUND };
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname(name: *const c_char) -> *mut libc::hostent {
    let node = Node::read(name);
    if node.refused(false) || (node.queries() && name_servers_refused(std::ptr::null())) {
        host_not_found();
        return std::ptr::null_mut();
    }
    type F = unsafe extern "C" fn(*const c_char) -> *mut libc::hostent;
    let Some(f) = real::<F>(&REAL.gethostbyname) else {
        host_not_found();
        return std::ptr::null_mut();
    };
    // SAFETY: libc's gethostbyname with the caller's argument (the name as copied).
    let h = unsafe { f(node.ptr()) };
    learn_hostent(node.ptr(), h);
    h
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname2(name: *const c_char, af: c_int) -> *mut libc::hostent {
    let node = Node::read(name);
    if node.refused(false) || (node.queries() && name_servers_refused(std::ptr::null())) {
        host_not_found();
        return std::ptr::null_mut();
    }
    type F = unsafe extern "C" fn(*const c_char, c_int) -> *mut libc::hostent;
    let Some(f) = real::<F>(&REAL.gethostbyname2) else {
        host_not_found();
        return std::ptr::null_mut();
    };
    // SAFETY: libc's gethostbyname2 with the caller's arguments (the name as copied).
    let h = unsafe { f(node.ptr(), af) };
    learn_hostent(node.ptr(), h);
    h
}

pub(super) type HostR = unsafe extern "C" fn(
    *const c_char,
    *mut libc::hostent,
    *mut c_char,
    size_t,
    *mut *mut libc::hostent,
    *mut c_int,
) -> c_int;

/// A refused reentrant lookup: no result, `*h_errnop = HOST_NOT_FOUND`, and the return value
/// glibc gives for a name that does not exist (0: not a system error).
///
/// # Safety
/// `result` and `h_errnop` are NULL or the caller's valid pointers.
pub(super) unsafe fn refused_r(result: *mut *mut libc::hostent, h_errnop: *mut c_int) -> c_int {
    // SAFETY: the caller's out-pointers (checked for NULL).
    unsafe {
        if !result.is_null() {
            *result = std::ptr::null_mut();
        }
        if !h_errnop.is_null() {
            *h_errnop = HOST_NOT_FOUND;
        }
    }
    0
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname_r(
    name: *const c_char,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    len: size_t,
    result: *mut *mut libc::hostent,
    h_errnop: *mut c_int,
) -> c_int {
    let node = Node::read(name);
    if node.refused(false) || (node.queries() && name_servers_refused(std::ptr::null())) {
        // SAFETY: the caller's out-pointers.
        return unsafe { refused_r(result, h_errnop) };
    }
    let Some(f) = real::<HostR>(&REAL.gethostbyname_r) else {
        return libc::ENOSYS;
    };
    // SAFETY: libc's gethostbyname_r with the caller's arguments (the name as copied).
    let r = unsafe { f(node.ptr(), ret, buf, len, result, h_errnop) };
    if r == 0 && !result.is_null() {
        // SAFETY: on return *result is NULL or `ret`.
        learn_hostent(node.ptr(), unsafe { *result });
    }
    r
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname2_r(
    name: *const c_char,
    af: c_int,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    len: size_t,
    result: *mut *mut libc::hostent,
    h_errnop: *mut c_int,
) -> c_int {
    let node = Node::read(name);
    if node.refused(false) || (node.queries() && name_servers_refused(std::ptr::null())) {
        // SAFETY: the caller's out-pointers.
        return unsafe { refused_r(result, h_errnop) };
    }
    type F = unsafe extern "C" fn(
        *const c_char,
        c_int,
        *mut libc::hostent,
        *mut c_char,
        size_t,
        *mut *mut libc::hostent,
        *mut c_int,
    ) -> c_int;
    let Some(f) = real::<F>(&REAL.gethostbyname2_r) else {
        return libc::ENOSYS;
    };
    // SAFETY: libc's gethostbyname2_r with the caller's arguments (the name as copied).
    let r = unsafe { f(node.ptr(), af, ret, buf, len, result, h_errnop) };
    if r == 0 && !result.is_null() {
        // SAFETY: on return *result is NULL or `ret`.
        learn_hostent(node.ptr(), unsafe { *result });
    }
    r
}

#[no_mangle]
pub unsafe extern "C" fn bind(
    fd: c_int,
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
) -> c_int {
    ret(sys(
        libc::SYS_bind,
        [fd as u64, p(addr), len as u64, 0, 0, 0],
    )) as c_int
}

// ---------------------------------------------------------------------------------------------
// The resolver's query functions (issue 13, a red-team round): `res_query` and its relatives
// send a query for any name through glibc's internal sockets, to the name servers listed in
// the caller's resolver state, which the function may rewrite (`_res.nsaddr_list`). Each is
// decided before libc sends anything: the name as `getaddrinfo`'s (`resolve_names`), and every
// name server the state lists as a destination (a configured resolver on port 53 is always
// reachable; any other address is decided as a `sendto` to it would be).

extern "C" {
    /// glibc's per-thread resolver state (`_res`).
    fn __res_state() -> *mut c_void;
}

/// Offsets in glibc's `struct __res_state` (x86_64 and aarch64, LP64; unchanged since glibc
/// 2.3): `nscount`, `nsaddr_list[3]` (`sockaddr_in`), `_u._ext.nsaddrs[3]` (pointers to
/// `sockaddr_in6`, used instead of the IPv4 entry when set).
const RES_NSCOUNT: u64 = 16;
const RES_NSADDR_LIST: u64 = 20;
const RES_EXT_NSADDRS: u64 = 536;
const RES_MAXNS: usize = 3;

extern "C" {
    fn __res_ninit(statp: *mut c_void) -> c_int;
    fn __res_nclose(statp: *mut c_void);
}

/// What glibc's resolver reads from its own configuration (`/etc/resolv.conf` and the
/// environment at install), read once at install (outside any hook) by initialising a private
/// resolver state: its name servers (`sockaddr` bytes), search list and `ndots`. A resolver
/// state that differs was changed by the function.
struct LibcResolver {
    servers: Vec<[u8; 28]>,
    search: Vec<Vec<u8>>,
    ndots: u32,
}

static LIBC_RESOLVER: std::sync::OnceLock<LibcResolver> = std::sync::OnceLock::new();

/// Offsets in `struct __res_state` (see [`RES_NSCOUNT`]): `options`, `dnsrch[7]` (pointers to
/// C strings, NULL-terminated), and the word whose low 4 bits are `ndots`.
const RES_OPTIONS: u64 = 8;
const RES_DNSRCH: u64 = 72;
const RES_DNSRCH_MAX: usize = 7;
const RES_NDOTS_WORD: u64 = 392;
/// `RES_INIT` in `options`: the state was initialised.
const RES_INIT: u64 = 1;

/// Read [`LIBC_RESOLVER`] (at install; idempotent).
pub(crate) fn snapshot_name_servers() {
    LIBC_RESOLVER.get_or_init(|| {
        let mut state = vec![0u64; RES_STATE_SIZE / 8];
        let statp = state.as_mut_ptr().cast::<c_void>();
        let mut out = LibcResolver {
            servers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
        };
        // SAFETY: res_ninit on a zeroed private state of glibc's size (LP64); it reads the
        // configuration and may allocate (we are at install, not in a hook).
        if unsafe { __res_ninit(statp) } != 0 {
            return out;
        }
        let base = p(statp.cast_const());
        let _ = each_name_server(base, false, |sa| {
            let mut s = [0u8; 28];
            s[..sa.len()].copy_from_slice(sa);
            out.servers.push(s);
            false
        });
        let mut name = [0u8; 256];
        let _ = each_search_domain(base, |d| {
            name[..d.len()].copy_from_slice(d);
            out.search.push(name[..d.len()].to_vec());
            false
        });
        out.ndots = ndots_of(base);
        // SAFETY: the state res_ninit initialised above.
        unsafe { __res_nclose(statp) };
        out
    });
}

/// The `ndots` of the resolver state at `base` (glibc's own or ours: read directly).
fn ndots_of(base: u64) -> u32 {
    // SAFETY: inside a `struct __res_state` that glibc or we own (568 bytes).
    let w = unsafe { std::ptr::read_unaligned((base + RES_NDOTS_WORD) as usize as *const u32) };
    w & 0xf
}

/// Call `f` with each search domain (no NUL) of the resolver state at `base` (glibc's own or
/// ours: the pointer array is read directly, the strings with the checked copy) until it
/// returns true. `None` when a domain cannot be read.
fn each_search_domain(base: u64, mut f: impl FnMut(&[u8]) -> bool) -> Option<bool> {
    for i in 0..RES_DNSRCH_MAX {
        // SAFETY: inside a `struct __res_state` that glibc or we own (568 bytes).
        let ptr = unsafe {
            std::ptr::read_unaligned((base + RES_DNSRCH + 8 * i as u64) as usize as *const u64)
        };
        if ptr == 0 {
            break;
        }
        let mut name = [0u8; 256];
        let n = crate::sys::read_cstr_of(0, ptr, &mut name[..255])?;
        if f(&name[..n]) {
            return Some(true);
        }
    }
    Some(false)
}

/// Whether the thread's resolver state searches differently from libc's own configuration:
/// initialised, with another search list or `ndots` (written by the function), or about to be
/// initialised from inputs that changed since install.
fn search_list_changed() -> bool {
    if layer::search_inputs_changed() {
        return true;
    }
    let Some(known) = LIBC_RESOLVER.get() else {
        return false;
    };
    // SAFETY: glibc's accessor for the calling thread's resolver state.
    let base = p(unsafe { __res_state() }.cast_const());
    // SAFETY: inside the thread's `struct __res_state` (glibc's TLS).
    let options = unsafe { std::ptr::read_unaligned((base + RES_OPTIONS) as usize as *const u64) };
    if options & RES_INIT == 0 {
        // glibc initialises it from the configuration, unchanged (checked above).
        return false;
    }
    if ndots_of(base) != known.ndots {
        return true;
    }
    let mut k = 0;
    let differs = each_search_domain(base, |d| {
        let same = known.search.get(k).is_some_and(|s| s.as_slice() == d);
        k += 1;
        !same
    });
    !matches!(differs, Some(false)) || k != known.search.len()
}

/// Whether `sa` (a name server entry) is one libc read from its configuration: the same
/// family, port and address.
fn libc_configured(sa: &[u8]) -> bool {
    let Some(known) = LIBC_RESOLVER.get() else {
        return false;
    };
    known
        .servers
        .iter()
        .any(|k| match i32::from(u16::from_ne_bytes([sa[0], sa[1]])) {
            libc::AF_INET if sa.len() >= 8 => k[..8] == sa[..8],
            libc::AF_INET6 if sa.len() >= 28 => k[..4] == sa[..4] && k[8..28] == sa[8..28],
            _ => false,
        })
}

/// `size_of::<struct __res_state>()` on LP64 glibc.
const RES_STATE_SIZE: usize = 568;

/// Call `f` with each name server entry of the resolver state at `base` (read with the checked
/// copy when `checked`, else directly: glibc's own `_res` or our private state) until it
/// returns true. `None` when
/// the state cannot be read; else whether `f` returned true.
fn each_name_server(base: u64, checked: bool, mut f: impl FnMut(&[u8]) -> bool) -> Option<bool> {
    let read = |addr: u64, buf: &mut [u8]| -> bool {
        if checked {
            crate::sys::read_mem(addr, buf) == buf.len()
        } else {
            // SAFETY: `addr..addr + buf.len()` lies inside a `struct __res_state` that glibc
            // owns (the thread's `_res`, in its TLS) or that we allocated: the offsets used
            // are inside its 568 bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    addr as usize as *const u8,
                    buf.as_mut_ptr(),
                    buf.len(),
                )
            };
            true
        }
    };
    let mut count = [0u8; 4];
    if !read(base + RES_NSCOUNT, &mut count) {
        return None;
    }
    let n = (i32::from_ne_bytes(count).max(0) as usize).min(RES_MAXNS);
    for i in 0..n {
        let mut ptr = [0u8; 8];
        if !read(base + RES_EXT_NSADDRS + 8 * i as u64, &mut ptr) {
            return None;
        }
        let v6 = u64::from_ne_bytes(ptr);
        let mut sa = [0u8; 28];
        let len = if v6 != 0 {
            if crate::sys::read_mem(v6, &mut sa) != 28 {
                return None;
            }
            28
        } else {
            if !read(base + RES_NSADDR_LIST + 16 * i as u64, &mut sa[..16]) {
                return None;
            }
            16
        };
        if f(&sa[..len]) {
            return Some(true);
        }
    }
    Some(false)
}

/// Whether a name server in resolver state `statp` (NULL: the thread's `_res`) is refused as
/// a destination. The thread's `_res` is glibc's own memory and read directly; a state the
/// caller passes, and every IPv6 entry (a pointer), is read with the checked copy, and an
/// unreadable one is refused (libc would fault on it).
fn name_servers_refused(statp: *const c_void) -> bool {
    if !layer::active() {
        return false;
    }
    let own = statp.is_null();
    let base = if own {
        // SAFETY: glibc's accessor for the calling thread's resolver state.
        p(unsafe { __res_state() }.cast_const())
    } else {
        p(statp)
    };
    each_name_server(base, !own, |sa| {
        !libc_configured(sa) && layer::refuse_name_server(sa)
    })
    .unwrap_or(true)
}

/// A refused `res_*` call: -1 with `h_errno` (and the state's) set to HOST_NOT_FOUND, and
/// errno ECONNREFUSED for a refused name server (libc's answer when no server answers).
fn res_refused(server: bool) -> c_int {
    host_not_found();
    if server {
        ret(-(libc::ECONNREFUSED as i64));
    }
    -1
}

/// Decide `name` (NULL-terminated; `domain` appended with a dot when given) and the name
/// servers of `statp`. Returns `Some(-1)` when refused.
fn res_decide(statp: *const c_void, name: *const c_char, domain: *const c_char) -> Option<c_int> {
    if !layer::active() {
        return None;
    }
    let node = Node::read(name);
    let refused = if domain.is_null() {
        node.refused(false)
    } else {
        let dom = Node::read(domain);
        let mut full = [0u8; 256];
        match (node.name(), dom.name()) {
            (Some(a), Some(b)) if a.len() + 1 + b.len() < 256 => {
                full[..a.len()].copy_from_slice(a);
                full[a.len()] = b'.';
                full[a.len() + 1..a.len() + 1 + b.len()].copy_from_slice(b);
                let n = a.len() + 1 + b.len();
                layer::refuse_lookup(&full[..n], numeric(&full, n))
            }
            _ => layer::refuse_lookup(b"(a name longer than 255 bytes)", false),
        }
    };
    if refused {
        return Some(res_refused(false));
    }
    if name_servers_refused(statp) {
        return Some(res_refused(true));
    }
    None
}

type ResQuery = unsafe extern "C" fn(*const c_char, c_int, c_int, *mut u8, c_int) -> c_int;
type ResNQuery =
    unsafe extern "C" fn(*mut c_void, *const c_char, c_int, c_int, *mut u8, c_int) -> c_int;
type ResQueryDomain =
    unsafe extern "C" fn(*const c_char, *const c_char, c_int, c_int, *mut u8, c_int) -> c_int;
type ResNQueryDomain = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    c_int,
    c_int,
    *mut u8,
    c_int,
) -> c_int;

fn res_query_common(
    slot: &AtomicUsize,
    name: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    if let Some(r) = res_decide(std::ptr::null(), name, std::ptr::null()) {
        return r;
    }
    match real::<ResQuery>(slot) {
        // SAFETY: libc's function with the caller's arguments.
        Some(f) => unsafe { f(name, class, ty, answer, len) },
        None => res_refused(true),
    }
}

fn res_nquery_common(
    slot: &AtomicUsize,
    statp: *mut c_void,
    name: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    if statp.is_null() && layer::active() {
        return res_refused(true);
    }
    if let Some(r) = res_decide(statp, name, std::ptr::null()) {
        return r;
    }
    match real::<ResNQuery>(slot) {
        // SAFETY: libc's function with the caller's arguments.
        Some(f) => unsafe { f(statp, name, class, ty, answer, len) },
        None => res_refused(true),
    }
}

#[no_mangle]
pub unsafe extern "C" fn res_query(
    name: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    res_query_common(&REAL.res_query, name, class, ty, answer, len)
}

#[no_mangle]
pub unsafe extern "C" fn __res_query(
    name: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    res_query_common(&REAL.res_query, name, class, ty, answer, len)
}

#[no_mangle]
pub unsafe extern "C" fn res_search(
    name: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    res_query_common(&REAL.res_search, name, class, ty, answer, len)
}

#[no_mangle]
pub unsafe extern "C" fn __res_search(
    name: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    res_query_common(&REAL.res_search, name, class, ty, answer, len)
}

#[no_mangle]
pub unsafe extern "C" fn res_nquery(
    statp: *mut c_void,
    name: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    res_nquery_common(&REAL.res_nquery, statp, name, class, ty, answer, len)
}

#[no_mangle]
pub unsafe extern "C" fn __res_nquery(
    statp: *mut c_void,
    name: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    res_nquery_common(&REAL.res_nquery, statp, name, class, ty, answer, len)
}

#[no_mangle]
pub unsafe extern "C" fn res_nsearch(
    statp: *mut c_void,
    name: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    res_nquery_common(&REAL.res_nsearch, statp, name, class, ty, answer, len)
}

#[no_mangle]
pub unsafe extern "C" fn __res_nsearch(
    statp: *mut c_void,
    name: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    res_nquery_common(&REAL.res_nsearch, statp, name, class, ty, answer, len)
}

#[no_mangle]
pub unsafe extern "C" fn res_querydomain(
    name: *const c_char,
    domain: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    if let Some(r) = res_decide(std::ptr::null(), name, domain) {
        return r;
    }
    match real::<ResQueryDomain>(&REAL.res_querydomain) {
        // SAFETY: libc's function with the caller's arguments.
        Some(f) => unsafe { f(name, domain, class, ty, answer, len) },
        None => res_refused(true),
    }
}

#[no_mangle]
pub unsafe extern "C" fn __res_querydomain(
    name: *const c_char,
    domain: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    res_querydomain(name, domain, class, ty, answer, len)
}

#[no_mangle]
pub unsafe extern "C" fn res_nquerydomain(
    statp: *mut c_void,
    name: *const c_char,
    domain: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    if statp.is_null() && layer::active() {
        return res_refused(true);
    }
    if let Some(r) = res_decide(statp, name, domain) {
        return r;
    }
    match real::<ResNQueryDomain>(&REAL.res_nquerydomain) {
        // SAFETY: libc's function with the caller's arguments.
        Some(f) => unsafe { f(statp, name, domain, class, ty, answer, len) },
        None => res_refused(true),
    }
}

#[no_mangle]
pub unsafe extern "C" fn __res_nquerydomain(
    statp: *mut c_void,
    name: *const c_char,
    domain: *const c_char,
    class: c_int,
    ty: c_int,
    answer: *mut u8,
    len: c_int,
) -> c_int {
    res_nquerydomain(statp, name, domain, class, ty, answer, len)
}

/// `res_send`/`res_nsend`: the message is sent as it is, so its question is decided (see
/// [`layer::refuse_dns_message`]) on a copy that libc then sends (a racing thread cannot
/// change the name after the decision), with the name servers as for `res_query`.
fn res_send_common(
    statp: *mut c_void,
    msg: *const u8,
    len: c_int,
    answer: *mut u8,
    alen: c_int,
    n: bool,
) -> c_int {
    let mut copy = [0u8; 512];
    let mut msg_ptr = msg;
    if layer::active() {
        if n && statp.is_null() {
            return res_refused(true);
        }
        let l = len.max(0) as usize;
        if l > copy.len() || crate::sys::read_mem(p(msg), &mut copy[..l]) != l {
            // Larger than any UDP query (or unreadable): decided as a message that is not a
            // query.
            if layer::refuse_dns_message(&[]) {
                return res_refused(false);
            }
        } else {
            if layer::refuse_dns_message(&copy[..l]) {
                return res_refused(false);
            }
            msg_ptr = copy.as_ptr();
        }
        if name_servers_refused(statp) {
            return res_refused(true);
        }
    }
    if n {
        type F = unsafe extern "C" fn(*mut c_void, *const u8, c_int, *mut u8, c_int) -> c_int;
        match real::<F>(&REAL.res_nsend) {
            // SAFETY: libc's res_nsend with the caller's arguments (the message as copied).
            Some(f) => unsafe { f(statp, msg_ptr, len, answer, alen) },
            None => res_refused(true),
        }
    } else {
        type F = unsafe extern "C" fn(*const u8, c_int, *mut u8, c_int) -> c_int;
        match real::<F>(&REAL.res_send) {
            // SAFETY: libc's res_send with the caller's arguments (the message as copied).
            Some(f) => unsafe { f(msg_ptr, len, answer, alen) },
            None => res_refused(true),
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn res_send(
    msg: *const u8,
    len: c_int,
    answer: *mut u8,
    alen: c_int,
) -> c_int {
    res_send_common(std::ptr::null_mut(), msg, len, answer, alen, false)
}

#[no_mangle]
pub unsafe extern "C" fn __res_send(
    msg: *const u8,
    len: c_int,
    answer: *mut u8,
    alen: c_int,
) -> c_int {
    res_send_common(std::ptr::null_mut(), msg, len, answer, alen, false)
}

#[no_mangle]
pub unsafe extern "C" fn res_nsend(
    statp: *mut c_void,
    msg: *const u8,
    len: c_int,
    answer: *mut u8,
    alen: c_int,
) -> c_int {
    res_send_common(statp, msg, len, answer, alen, true)
}

#[no_mangle]
pub unsafe extern "C" fn __res_nsend(
    statp: *mut c_void,
    msg: *const u8,
    len: c_int,
    answer: *mut u8,
    alen: c_int,
) -> c_int {
    res_send_common(statp, msg, len, answer, alen, true)
}

// ---------------------------------------------------------------------------------------------
// Reverse lookups, asynchronous lookups and the remote-shell functions: glibc sends their
// queries (and connections) through its internal names.

/// A `sockaddr` the caller passed (`len` bytes, at most 28 read) as an address, if IPv4/IPv6.
fn sockaddr_ip(sa: *const sockaddr, len: socklen_t) -> Option<std::net::IpAddr> {
    let mut b = [0u8; 28];
    let n = (len as usize).min(b.len());
    if sa.is_null() || crate::sys::read_mem(p(sa), &mut b[..n]) != n {
        return None;
    }
    crate::intercept::shared::inet(&b[..n]).map(|(ip, _)| ip)
}

/// The address of `len` bytes at `addr` (`gethostbyaddr`'s form), if 4 or 16 bytes.
fn raw_ip(addr: *const c_void, len: socklen_t) -> Option<std::net::IpAddr> {
    let mut b = [0u8; 16];
    match len {
        4 if crate::sys::read_mem(p(addr), &mut b[..4]) == 4 => {
            Some(std::net::IpAddr::from([b[0], b[1], b[2], b[3]]))
        }
        16 if crate::sys::read_mem(p(addr), &mut b) == 16 => Some(std::net::IpAddr::from(b)),
        _ => None,
    }
}

/// `getnameinfo`: a refused reverse lookup answers as a PTR lookup that finds nothing does:
/// the numeric host (`NI_NUMERICHOST`), or `EAI_NONAME` under `NI_NAMEREQD`.
#[no_mangle]
pub unsafe extern "C" fn getnameinfo(
    sa: *const sockaddr,
    salen: socklen_t,
    host: *mut c_char,
    hostlen: socklen_t,
    serv: *mut c_char,
    servlen: socklen_t,
    flags: c_int,
) -> c_int {
    type F = unsafe extern "C" fn(
        *const sockaddr,
        socklen_t,
        *mut c_char,
        socklen_t,
        *mut c_char,
        socklen_t,
        c_int,
    ) -> c_int;
    let Some(f) = real::<F>(&REAL.getnameinfo) else {
        return libc::EAI_SYSTEM;
    };
    let mut flags = flags;
    if layer::active() && !host.is_null() && hostlen > 0 && flags & libc::NI_NUMERICHOST == 0 {
        if let Some(ip) = sockaddr_ip(sa, salen) {
            if layer::refuse_reverse(ip) {
                if flags & libc::NI_NAMEREQD != 0 {
                    return libc::EAI_NONAME;
                }
                flags |= libc::NI_NUMERICHOST;
            }
        }
    }
    // SAFETY: libc's getnameinfo with the caller's arguments (flags maybe narrowed).
    unsafe { f(sa, salen, host, hostlen, serv, servlen, flags) }
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyaddr(
    addr: *const c_void,
    len: socklen_t,
    ty: c_int,
) -> *mut libc::hostent {
    if raw_ip(addr, len).is_some_and(layer::refuse_reverse) {
        host_not_found();
        return std::ptr::null_mut();
    }
    type F = unsafe extern "C" fn(*const c_void, socklen_t, c_int) -> *mut libc::hostent;
    match real::<F>(&REAL.gethostbyaddr) {
        // SAFETY: libc's gethostbyaddr with the caller's arguments.
        Some(f) => unsafe { f(addr, len, ty) },
        None => {
            host_not_found();
            std::ptr::null_mut()
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyaddr_r(
    addr: *const c_void,
    len: socklen_t,
    ty: c_int,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut libc::hostent,
    h_errnop: *mut c_int,
) -> c_int {
    if raw_ip(addr, len).is_some_and(layer::refuse_reverse) {
        // SAFETY: the caller's out-pointers.
        return unsafe { refused_r(result, h_errnop) };
    }
    type F = unsafe extern "C" fn(
        *const c_void,
        socklen_t,
        c_int,
        *mut libc::hostent,
        *mut c_char,
        size_t,
        *mut *mut libc::hostent,
        *mut c_int,
    ) -> c_int;
    match real::<F>(&REAL.gethostbyaddr_r) {
        // SAFETY: libc's gethostbyaddr_r with the caller's arguments.
        Some(f) => unsafe { f(addr, len, ty, ret, buf, buflen, result, h_errnop) },
        None => libc::ENOSYS,
    }
}

/// Hints that make `getaddrinfo` answer "name not found" without any query (a name that is
/// not numeric, with `AI_NUMERICHOST`): given to a refused `getaddrinfo_a` request, which
/// glibc's helper thread reads after the hook has returned (so it is static).
struct NumericOnly(libc::addrinfo);
// SAFETY: immutable plain data; its null pointers are never dereferenced.
unsafe impl Sync for NumericOnly {}
static NUMERIC_ONLY: NumericOnly = NumericOnly(libc::addrinfo {
    ai_flags: libc::AI_NUMERICHOST,
    ai_family: libc::AF_UNSPEC,
    ai_socktype: 0,
    ai_protocol: 0,
    ai_addrlen: 0,
    ai_addr: std::ptr::null_mut(),
    ai_canonname: std::ptr::null_mut(),
    ai_next: std::ptr::null_mut(),
});

/// `getaddrinfo_a`: glibc's helper thread looks each request up with its internal
/// `getaddrinfo`, with every signal blocked (a trapped call there would kill the process
/// under the trap interceptor).
/// - `GAI_WAIT`: the requests are looked up here, one after the other, by the `getaddrinfo`
///   hook (decided, learnt, no helper thread); `gai_error` reads each result as libc's.
/// - `GAI_NOWAIT`: each request's name is decided here, as `getaddrinfo`'s, when it is
///   submitted; a refused request gets hints that make it fail as "name not found"
///   (`gai_error` = `EAI_NONAME`) without any query, and notifications work as libc's. The
///   helper reads the name when it runs: a thread that rewrites the name string after
///   submitting races the decision, and the answers are not learnt (README: residuals).
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo_a(
    mode: c_int,
    list: *mut *mut c_void,
    n: c_int,
    sevp: *mut c_void,
) -> c_int {
    type F = unsafe extern "C" fn(c_int, *mut *mut c_void, c_int, *mut c_void) -> c_int;
    let Some(f) = real::<F>(&REAL.getaddrinfo_a) else {
        return libc::EAI_SYSTEM;
    };
    const GAI_WAIT: c_int = 0;
    if layer::active() && !list.is_null() && mode == GAI_WAIT {
        for i in 0..n.max(0) as usize {
            let mut slot = [0u8; 8];
            // SAFETY: `list` has `n` entries (libc's contract); read with the checked copy.
            if crate::sys::read_mem(p(unsafe { list.add(i) }), &mut slot) != 8 {
                return libc::EAI_SYSTEM;
            }
            let req = u64::from_ne_bytes(slot);
            let mut head = [0u8; 36];
            if req == 0 || crate::sys::read_mem(req, &mut head) != head.len() {
                continue;
            }
            let word =
                |k: usize| u64::from_ne_bytes(head[k * 8..k * 8 + 8].try_into().unwrap_or([0; 8]));
            let req = req as usize;
            // SAFETY: the caller's gaicb (readable, checked above): ar_name (0), ar_service
            // (8), ar_request (16) are passed to the getaddrinfo hook, which stores the list
            // in ar_result (24); the result goes to __return (32), where gai_error reads it.
            unsafe {
                let r = getaddrinfo(
                    word(0) as usize as *const c_char,
                    word(1) as usize as *const c_char,
                    word(2) as usize as *const libc::addrinfo,
                    (req + 24) as *mut *mut libc::addrinfo,
                );
                std::ptr::write_unaligned((req + 32) as *mut c_int, r);
            }
        }
        return 0;
    }
    if layer::active() && !list.is_null() {
        for i in 0..n.max(0) as usize {
            let mut slot = [0u8; 8];
            // SAFETY: `list` has `n` entries (libc's contract); read with the checked copy.
            if crate::sys::read_mem(p(unsafe { list.add(i) }), &mut slot) != 8 {
                break;
            }
            let req = u64::from_ne_bytes(slot);
            if req == 0 {
                continue;
            }
            // struct gaicb: ar_name (0), ar_service (8), ar_request (16), ar_result (24).
            let mut head = [0u8; 24];
            if crate::sys::read_mem(req, &mut head) != 24 {
                continue;
            }
            let word =
                |k: usize| u64::from_ne_bytes(head[k * 8..k * 8 + 8].try_into().unwrap_or([0; 8]));
            let (name, hints) = (word(0), word(2));
            let mut flags = [0u8; 4];
            let numeric_only = hints != 0
                && crate::sys::read_mem(hints, &mut flags) == 4
                && i32::from_ne_bytes(flags) & libc::AI_NUMERICHOST != 0;
            let node = Node::read(name as usize as *const c_char);
            if node.refused(numeric_only) {
                // SAFETY: `req` is the caller's gaicb (read above); its ar_request field now
                // points at static hints that outlive the request.
                unsafe {
                    std::ptr::write_unaligned(
                        (req as usize + 16) as *mut *const libc::addrinfo,
                        &NUMERIC_ONLY.0,
                    )
                };
            }
        }
    }
    // SAFETY: libc's getaddrinfo_a with the caller's arguments.
    unsafe { f(mode, list, n, sevp) }
}

/// `rcmd`, `rcmd_af`, `rexec`, `rexec_af`: a connection to a remote shell made inside libc.
fn remote_shell_refused(what: &[u8]) -> bool {
    if layer::refuse_remote_shell(what) {
        ret(-(libc::EPERM as i64));
        return true;
    }
    false
}

#[no_mangle]
pub unsafe extern "C" fn rcmd_af(
    host: *mut *mut c_char,
    port: u16,
    locuser: *const c_char,
    remuser: *const c_char,
    cmd: *const c_char,
    fd2p: *mut c_int,
    af: libc::sa_family_t,
) -> c_int {
    if remote_shell_refused(b"rcmd: a remote shell connection made inside libc") {
        return -1;
    }
    type F = unsafe extern "C" fn(
        *mut *mut c_char,
        u16,
        *const c_char,
        *const c_char,
        *const c_char,
        *mut c_int,
        libc::sa_family_t,
    ) -> c_int;
    match real::<F>(&REAL.rcmd_af) {
        // SAFETY: libc's rcmd_af with the caller's arguments.
        Some(f) => unsafe { f(host, port, locuser, remuser, cmd, fd2p, af) },
        None => ret(-(libc::ENOSYS as i64)) as c_int,
    }
}

#[no_mangle]
pub unsafe extern "C" fn rcmd(
    host: *mut *mut c_char,
    port: u16,
    locuser: *const c_char,
    remuser: *const c_char,
    cmd: *const c_char,
    fd2p: *mut c_int,
) -> c_int {
    rcmd_af(
        host,
        port,
        locuser,
        remuser,
        cmd,
        fd2p,
        libc::AF_INET as libc::sa_family_t,
    )
}

#[no_mangle]
pub unsafe extern "C" fn rexec_af(
    host: *mut *mut c_char,
    port: c_int,
    user: *const c_char,
    pass: *const c_char,
    cmd: *const c_char,
    fd2p: *mut c_int,
    af: libc::sa_family_t,
) -> c_int {
    if remote_shell_refused(b"rexec: a remote shell connection made inside libc") {
        return -1;
    }
    type F = unsafe extern "C" fn(
        *mut *mut c_char,
        c_int,
        *const c_char,
        *const c_char,
        *const c_char,
        *mut c_int,
        libc::sa_family_t,
    ) -> c_int;
    match real::<F>(&REAL.rexec_af) {
        // SAFETY: libc's rexec_af with the caller's arguments.
        Some(f) => unsafe { f(host, port, user, pass, cmd, fd2p, af) },
        None => ret(-(libc::ENOSYS as i64)) as c_int,
    }
}

#[no_mangle]
pub unsafe extern "C" fn rexec(
    host: *mut *mut c_char,
    port: c_int,
    user: *const c_char,
    pass: *const c_char,
    cmd: *const c_char,
    fd2p: *mut c_int,
) -> c_int {
    rexec_af(
        host,
        port,
        user,
        pass,
        cmd,
        fd2p,
        libc::AF_INET as libc::sa_family_t,
    )
}
