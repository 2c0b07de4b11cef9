//! The libc layer: the in-process interceptor.
//!
//! fnshield defines the libc entry points through which Rust std, tokio/mio and C code linked
//! into the function's binary open files, change paths, connect, send, spawn and resolve
//! names (`crate::sys::libc_hooks`). Each hook turns its call into the system call it stands
//! for and asks [`call`] for the result. Once the shield is installed, [`call`] decides it with
//! the same code the SIGSYS trap handler runs (`trap::handle`: copy the pointer arguments,
//! decide on the copies with the [`Decider`](super::decide::Decider), record the same event,
//! issue the call on the copies through the exempt trampoline), so:
//!
//! - where seccomp is installed, the call reaches the kernel through the trampoline and is not
//!   trapped a second time (the fast path), and a racing thread cannot swap an argument after
//!   the decision;
//! - where seccomp is refused (Lambda's `prctl` EPERM with NoNewPrivs unset), the layer is the
//!   only enforcement, for every call that goes through an exported libc symbol.
//!
//! A call the layer does not decide goes to the kernel through a stub the filter does not
//! exempt, so moving a call into the layer never hides it from the kernel.
//!
//! Everything here runs inside a libc hook, possibly in a signal handler: it is
//! async-signal-safe (no allocation, no locks).

use super::arch::nr;
use super::decide::{ModeSlot, Verdict};
use super::dns::Name;
use super::shared::{check_exec, path_table, PathCopy, HOSTS, STATE};
use crate::policy::Mode;
use crate::sys::now_monotonic_secs;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the shield is installed and the layer decides calls (see [`activate`]).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Set by [`keep_off`] (benches only): the layer never activates in this process.
static KEPT_OFF: AtomicBool = AtomicBool::new(false);

/// Keep the layer inactive in this process even where it is built: the calls then go to the
/// kernel filter as without the feature. For the benches' "before" measurement (the
/// `internals` feature); tightening-neutral where seccomp is installed, and never reachable
/// from a production build.
pub fn keep_off() {
    KEPT_OFF.store(true, Ordering::Release);
}

/// Whether the seccomp filter also intercepts `execve` (in the children the spawn creates).
static KERNEL_EXEC: AtomicBool = AtomicBool::new(false);

/// Whether the libc layer is compiled into this build (the `libc-layer` feature, on glibc).
pub(crate) const BUILT: bool = cfg!(all(
    feature = "libc-layer",
    target_os = "linux",
    target_env = "gnu"
));

/// Start deciding calls in the hooks. Called by the install once the interceptors' state is
/// set; `kernel_exec` says whether the seccomp filter also decides `execve`. Returns whether
/// the layer is built into this binary.
pub(crate) fn activate(kernel_exec: bool) -> bool {
    if BUILT && !KEPT_OFF.load(Ordering::Acquire) && STATE.get().is_some() {
        KERNEL_EXEC.store(kernel_exec, Ordering::Release);
        ACTIVE.store(true, Ordering::Release);
        true
    } else {
        false
    }
}

/// Whether the layer decides calls now.
#[inline]
pub(crate) fn active() -> bool {
    ACTIVE.load(Ordering::Acquire)
}

/// The system calls the layer decides (the rest pass through to the kernel).
pub(crate) fn routes(n: i64) -> bool {
    match n {
        nr::OPENAT | nr::OPENAT2 | nr::EXECVE | nr::EXECVEAT => true,
        nr::CONNECT | nr::SENDTO | nr::SENDMSG | nr::SENDMMSG => true,
        // An AF_UNIX bind creates a file (decided as a tmp write); other families pass.
        nr::BIND => true,
        // Through `syscall()`: raw and packet sockets, other processes' memory and
        // descriptors, and path-taking calls the shield does not classify are decided as the
        // trap handler decides them (where seccomp is refused nothing else would).
        nr::SOCKET | nr::PROCESS_VM_READV | nr::PROCESS_VM_WRITEV | nr::PIDFD_GETFD => true,
        // Destination-changing socket options, DNS answers to learn from, and entering
        // another mount or user namespace (decided by the filter where seccomp is installed).
        nr::SETSOCKOPT | nr::RECVFROM | nr::RECVMSG | nr::SETNS | nr::UNSHARE => true,
        #[cfg(target_arch = "x86_64")]
        nr::OPEN | nr::CREAT => true,
        _ => path_table(n).is_some() || super::pathcalls::is_unclassified(n),
    }
}

/// Decide and carry out system call `n` with arguments `a`, exactly as the trap interceptor
/// would: `Some(result)` (`-errno` on failure) when the layer is active and decides `n`,
/// `None` when the caller should pass the call through to the kernel.
#[inline]
pub(crate) fn call(n: i64, a: [u64; 6]) -> Option<i64> {
    if !active() || !routes(n) {
        return None;
    }
    let st = STATE.get()?;
    Some(super::trap::handle(st, n, a))
}

/// Decide a spawn (`posix_spawn`, `system`, `popen`, `fork`+`exec` done inside libc) of the
/// executable named by `copy` (the caller's copy of the path, which it then passes to libc,
/// so that a racing thread cannot change the path between the decision and the exec) with
/// argument vector `argv` (NULL-terminated array of C strings, or 0). Records the event with
/// the program and its arguments. Returns `Err(errno)` when the spawn must be refused.
pub(crate) fn decide_spawn(copy: &PathCopy, argv: u64) -> Result<(), i32> {
    if !active() {
        return Ok(());
    }
    let Some(st) = STATE.get() else {
        return Ok(());
    };
    // Where the filter decides the child's execve too, only a refusal is the layer's to make
    // (and to report, with the program and its arguments, before any process is created); an
    // alert would be reported twice.
    if KERNEL_EXEC.load(Ordering::Acquire) && st.decider.mode(ModeSlot::Child) != Mode::Block {
        return Ok(());
    }
    match check_exec(st, 0, nr::EXECVE, libc::AT_FDCWD as i64, copy, argv, 0) {
        Ok(Verdict::Block) => Err(libc::EACCES),
        Ok(_) => Ok(()),
        // The program does not exist: the spawn fails as without a shield, and is no
        // violation.
        Err(e) => Err(e),
    }
}

/// Decide a name lookup through the resolver entry points (`getaddrinfo`, `gethostbyname*`)
/// before libc sends any query: `name` is the caller's node name (no NUL), `numeric` whether
/// libc parses it as an address (no query). Under outbound `block` with `resolve_names =
/// "allowed"`, a name no allow entry, AWS suffix or `/etc/hosts` line covers is refused and
/// reported as a `DNS query for <name>` bypass (the event the kernel path records for a
/// refused query); alert mode reports it and lets it resolve. Returns true when refused.
pub(crate) fn refuse_lookup(name: &[u8], numeric: bool) -> bool {
    if !active() || numeric || name.is_empty() {
        return false;
    }
    let Some(st) = STATE.get() else {
        return false;
    };
    if st.decider.mode(ModeSlot::Outbound) == Mode::Allow {
        return false;
    }
    let parsed = std::str::from_utf8(name).ok().and_then(Name::new);
    if let Some(n) = &parsed {
        if n.is_empty() || st.decider.lookup_allowed(n.as_bytes()) {
            return false;
        }
    }
    let shown = parsed.as_ref().map_or(name, |n| n.as_bytes());
    let shown = &shown[..shown.len().min(253)];
    let mut what = [0u8; 14 + 253];
    what[..14].copy_from_slice(b"DNS query for ");
    what[14..14 + shown.len()].copy_from_slice(shown);
    // No system call stands for the lookup: the event has no syscall name.
    super::shared::decide_socket_other(st, -1, &what[..14 + shown.len()])
}

/// Decide a lookup of an allowed `name` (no NUL) that libc will send with the resolver's search
/// list or aliases applied, when those may have been changed by the function since install
/// (`search_changed`, asked only when it matters): `LOCALDOMAIN=attacker.example
/// RES_OPTIONS=ndots:5`, a rewritten `_res.dnsrch`, or a `HOSTALIASES` file turn the query
/// for an allowed name into a query for a name of the function's choosing. Under outbound
/// `block` with `resolve_names = "allowed"` the lookup is refused and reported (`DNS query for
/// NAME through a search list changed after install`); alert mode reports it. A name ending in
/// a dot is never searched. Returns true when refused.
pub(crate) fn refuse_searched(name: &[u8], search_changed: impl FnOnce() -> bool) -> bool {
    if !active() || name.is_empty() || name.ends_with(b".") {
        return false;
    }
    let Some(st) = STATE.get() else {
        return false;
    };
    if st.decider.mode(ModeSlot::Outbound) == Mode::Allow {
        return false;
    }
    let parsed = std::str::from_utf8(name).ok().and_then(Name::new);
    let shown = parsed.as_ref().map_or(name, |n| n.as_bytes());
    if !st.decider.lookup_may_be_searched(shown) || !search_changed() {
        return false;
    }
    const PRE: &[u8] = b"DNS query for ";
    const POST: &[u8] = b" through a search list changed after install";
    let shown = &shown[..shown.len().min(253)];
    let mut what = [0u8; 14 + 253 + 44];
    let mut n = 0;
    for part in [PRE, shown, POST] {
        what[n..n + part.len()].copy_from_slice(part);
        n += part.len();
    }
    super::shared::decide_socket_other(st, -1, &what[..n])
}

/// Decide a reverse lookup of `ip` (`getnameinfo` without `NI_NUMERICHOST`,
/// `gethostbyaddr`): its PTR query names the address, which the function chose (16 bytes a
/// query through `ip6.arpa`), and no allow entry names a `*.arpa` name. Under outbound `block`
/// with `resolve_names = "allowed"` it is refused and reported (`reverse DNS query for IP`)
/// unless `/etc/hosts` listed the address at cold start (answered without a query); alert
/// mode reports it. Returns true when refused.
pub(crate) fn refuse_reverse(ip: IpAddr) -> bool {
    if !active() {
        return false;
    }
    let Some(st) = STATE.get() else {
        return false;
    };
    if st.decider.mode(ModeSlot::Outbound) == Mode::Allow || !st.decider.names_decided() {
        return false;
    }
    let mut listed = false;
    st.decider.hosts_file_names(ip, &mut |_| listed = true);
    if listed {
        return false;
    }
    use std::io::Write;
    let mut what = [0u8; 24 + 46];
    let total = what.len();
    let mut w = &mut what[..];
    let _ = write!(w, "reverse DNS query for {}", crate::policy::canonical(ip));
    let n = total - w.len();
    super::shared::decide_socket_other(st, -1, &what[..n])
}

/// Decide a remote shell connection made inside libc (`rcmd`, `rexec`, which resolve and
/// connect through glibc's internal names): refused under outbound `block` and reported as
/// `what` (alert mode reports it). Returns true when refused.
pub(crate) fn refuse_remote_shell(what: &[u8]) -> bool {
    if !active() {
        return false;
    }
    let Some(st) = STATE.get() else {
        return false;
    };
    super::shared::decide_socket_other(st, -1, what)
}

/// Whether the inputs from which libc's resolver builds its search list and aliases
/// (`/etc/resolv.conf`, `LOCALDOMAIN`, `RES_OPTIONS`, `HOSTALIASES`) differ from install.
pub(crate) fn search_inputs_changed() -> bool {
    let Some(at) = RESOLVER_AT_INSTALL.get() else {
        return false;
    };
    let now = resolver_inputs();
    at.files[2] != now.files[2] || at.env != now.env
}

/// Decide a `fork` or `vfork` made through libc: refused with EPERM (and reported, with
/// `details: {}` as the kernel path reports it) when no child process may ever run under the
/// policy; otherwise let through (the child is decided when it execs). Returns the errno.
pub(crate) fn refuse_fork() -> Option<i32> {
    if !active() {
        return None;
    }
    let st = STATE.get()?;
    if !st.decider.no_child_may_run() {
        return None;
    }
    super::shared::push(crate::event::Record::new(
        crate::policy::PolicyKind::CreateChildProcess,
        true,
        crate::event::RecordKind::Fork,
        nr::CLONE,
    ));
    Some(libc::EPERM)
}

/// Decide an operation on another process made through a libc function that is not a plain
/// system call (`ptrace`): its memory is a `read_handler` violation, as for
/// `process_vm_readv`. Records the event; true when it must be refused with EPERM.
pub(crate) fn refuse_other_process(target: i32) -> bool {
    if !active() {
        return false;
    }
    let Some(st) = STATE.get() else {
        return false;
    };
    let own = crate::sys::syscall(libc::SYS_getpid, [0; 6]);
    super::shared::decide_other_process(st, nr::PTRACE, own, i64::from(target), None)
}

/// Decide a DNS message that libc's resolver will send as it is (`res_send`, `res_nsend`): its
/// question name as [`refuse_lookup`] decides a name; a message that is not a query is decided
/// as the kernel path decides one sent to a resolver. True when refused.
pub(crate) fn refuse_dns_message(msg: &[u8]) -> bool {
    if !active() {
        return false;
    }
    let Some(st) = STATE.get() else {
        return false;
    };
    let mut name = [0u8; 256];
    match super::netcheck::dns_query_name(msg, &mut name) {
        Some(n) => refuse_lookup(&name[..n], false),
        None => super::shared::decide_socket_other(
            st,
            -1,
            b"message to a resolver that is not a DNS query",
        ),
    }
}

/// Decide a name server that libc's resolver will send to (`_res.nsaddr_list`, which the
/// function may rewrite before `res_query`): a configured resolver on port 53 is always
/// reachable; any other address is decided as a destination (`sa`, a sockaddr copy). Records
/// the event; true when refused.
pub(crate) fn refuse_name_server(sa: &[u8]) -> bool {
    if !active() {
        return false;
    }
    let Some(st) = STATE.get() else {
        return false;
    };
    if super::shared::to_resolver(st, sa) {
        return false;
    }
    super::shared::decide_sockaddr(st, nr::SENDTO, sa)
}

/// Whether hooks must keep SIGSYS deliverable: never blocked, ignored or re-handled.
#[inline]
pub(crate) fn guard_sigsys() -> bool {
    active()
}

/// Whether names may be learnt from libc's resolver answers now (see [`resolver_unchanged`]):
/// asked once per lookup, not per address (it costs three `stat`s), before
/// [`learn_checked`].
pub(crate) fn learning() -> bool {
    active() && resolver_unchanged()
}

/// Learn `name` → `ip` from a resolver answer that libc returned (`getaddrinfo`,
/// `gethostbyname`), once [`learning`] said yes for this lookup: the answer may come from
/// `/etc/hosts`, nscd or DNS, none of which the kernel-level learning sees. The TTL is
/// unknown, so the shortest sensible one is used.
pub(crate) fn learn_checked(name: &[u8], ip: IpAddr) {
    let Ok(s) = std::str::from_utf8(name) else {
        return;
    };
    let Some(n) = Name::new(s) else {
        return;
    };
    if n.is_empty() {
        return;
    }
    HOSTS.insert(
        crate::policy::canonical(ip),
        &n,
        LEARNT_TTL_SECS,
        now_monotonic_secs(),
    );
}

/// The files and environment variables that decide what libc's resolver answers for a name:
/// `/etc/hosts`, `/etc/nsswitch.conf`, `/etc/resolv.conf` (their stamps), and `LOCALDOMAIN`,
/// `RES_OPTIONS`, `HOSTALIASES` (a search domain, `ndots`, aliases: hashes of their values),
/// as they were at install.
#[derive(Debug, PartialEq, Eq)]
struct ResolverInputs {
    files: [Option<[i64; 7]>; 3],
    env: [Option<u64>; 3],
}

const RESOLVER_FILES: [&std::ffi::CStr; 3] = [HOSTS_FILE, NSSWITCH_FILE, c"/etc/resolv.conf"];
const RESOLVER_ENV: [&std::ffi::CStr; 3] = [c"LOCALDOMAIN", c"RES_OPTIONS", c"HOSTALIASES"];

fn resolver_inputs() -> ResolverInputs {
    ResolverInputs {
        files: RESOLVER_FILES.map(crate::sys::file_stamp),
        env: RESOLVER_ENV.map(crate::sys::env_hash),
    }
}

static RESOLVER_AT_INSTALL: std::sync::OnceLock<ResolverInputs> = std::sync::OnceLock::new();

/// Whether libc's resolver still answers from what it had at install. A name learnt from its
/// answer names an address in allowlist decisions, so code inside the function must not be
/// able to steer that answer: a rewritten `/etc/hosts` (glibc reads it live), or
/// `LOCALDOMAIN=attacker.example RES_OPTIONS=ndots:5` set with `setenv` (the query for an
/// allowed name goes to the attacker's zone first). Then nothing is learnt from libc; names
/// still come from the DNS answers the kernel layer parses (the names the answers carry) and
/// from `/etc/hosts` as read at cold start.
fn resolver_unchanged() -> bool {
    RESOLVER_AT_INSTALL
        .get()
        .is_some_and(|at| *at == resolver_inputs())
}

/// How long a name learnt from a libc resolver answer is kept (seconds): libc does not pass
/// the record's TTL on. A connection is normally made right after the lookup.
const LEARNT_TTL_SECS: u32 = 300;

// ---------------------------------------------------------------------------------------------
// `/etc/hosts` answers.

/// The file glibc's `files` source reads, and the switch configuration that orders it first.
const HOSTS_FILE: &std::ffi::CStr = c"/etc/hosts";
const NSSWITCH_FILE: &std::ffi::CStr = c"/etc/nsswitch.conf";
/// nscd's socket: when nscd runs, glibc asks it before the `files` source.
const NSCD_SOCKETS: [&str; 2] = ["/var/run/nscd/socket", "/run/nscd/socket"];

/// A name of `/etc/hosts` as glibc's `files` source would answer it: how many lines give it an
/// IPv4 and an IPv6 address, and the first of each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct HostsName {
    v4: u32,
    v6: u32,
    first_v4: Option<std::net::Ipv4Addr>,
    first_v6: Option<std::net::Ipv6Addr>,
    /// A line names it with an address this parser does not read exactly as glibc does (a
    /// zone, a v4-mapped or a non-canonical form): never answered here.
    unsure: bool,
}

/// `/etc/hosts` as read at install, with the stamps of the two files it depends on.
#[derive(Debug)]
struct HostsAnswers {
    /// Sorted by name (lower-cased ASCII) for a binary search.
    names: Vec<(Vec<u8>, HostsName)>,
    stamps: [[i64; 7]; 2],
}

static HOSTS_ANSWERS: std::sync::OnceLock<Option<HostsAnswers>> = std::sync::OnceLock::new();

/// How many lookups [`hosts_answer`] answered (tests and benches: `internals`).
static HOSTS_ANSWERED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many `getaddrinfo` lookups the layer answered from `/etc/hosts` itself so far.
pub fn hosts_answers_given() -> u64 {
    HOSTS_ANSWERED.load(Ordering::Relaxed)
}

/// Read `/etc/hosts` and `/etc/nsswitch.conf` for [`hosts_answer`]. Called at install, before
/// any filter (outside any hook); idempotent.
pub(crate) fn prepare_hosts_answers() {
    if BUILT {
        HOSTS_ANSWERS.get_or_init(read_hosts_answers);
        RESOLVER_AT_INSTALL.get_or_init(resolver_inputs);
    }
}

fn read_hosts_answers() -> Option<HostsAnswers> {
    if NSCD_SOCKETS
        .iter()
        .any(|p| std::path::Path::new(p).exists())
    {
        return None;
    }
    let stamp = || {
        Some([
            crate::sys::file_stamp(HOSTS_FILE)?,
            crate::sys::file_stamp(NSSWITCH_FILE)?,
        ])
    };
    let before = stamp()?;
    let hosts = std::fs::read("/etc/hosts").ok()?;
    let nsswitch = std::fs::read_to_string("/etc/nsswitch.conf").ok()?;
    // A file that changed while it was read is not trusted.
    if stamp()? != before || !files_first(&nsswitch) {
        return None;
    }
    Some(HostsAnswers {
        names: parse_hosts_answers(&hosts),
        stamps: before,
    })
}

/// Whether the `hosts:` line of `nsswitch.conf` starts with the `files` source (and no action
/// follows it): then glibc answers a name that `/etc/hosts` lists from that file alone.
fn files_first(nsswitch: &str) -> bool {
    let mut lines = nsswitch
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| l.starts_with("hosts:"));
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return false;
    };
    let mut sources = line["hosts:".len()..].split_whitespace();
    sources.next() == Some("files") && !sources.next().is_some_and(|s| s.starts_with('['))
}

/// `/etc/hosts` per name, as glibc's `files` source reads it for `getaddrinfo`: every line
/// naming it (canonical name or alias, compared without case) contributes its address.
fn parse_hosts_answers(text: &[u8]) -> Vec<(Vec<u8>, HostsName)> {
    let mut names: std::collections::BTreeMap<Vec<u8>, HostsName> = Default::default();
    for line in text.split(|&b| b == b'\n') {
        let line = line.split(|&b| b == b'#').next().unwrap_or(&[]);
        let mut words = line
            .split(|&b| b == b' ' || b == b'\t' || b == b'\r')
            .filter(|w| !w.is_empty());
        let Some(addr) = words.next() else { continue };
        let ip = std::str::from_utf8(addr)
            .ok()
            .and_then(|a| a.parse::<IpAddr>().ok())
            // Only the forms glibc and Rust read alike, and that print back the same way.
            .filter(|ip| {
                !matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some())
                    && ip.to_string().as_bytes() == addr
            });
        for w in words {
            let e = names.entry(w.to_ascii_lowercase()).or_default();
            match ip {
                Some(IpAddr::V4(a)) => {
                    e.v4 += 1;
                    e.first_v4.get_or_insert(a);
                }
                Some(IpAddr::V6(a)) => {
                    e.v6 += 1;
                    e.first_v6.get_or_insert(a);
                }
                None => e.unsure = true,
            }
        }
    }
    // BTreeMap order: sorted by name.
    names.into_iter().collect()
}

/// The one address glibc's `getaddrinfo` would return for `name` (the caller's node name, as
/// decided) with address family `family` (`AF_INET`, `AF_INET6` or `AF_UNSPEC`) and no flags,
/// when `/etc/hosts` answers it: `nsswitch.conf` puts `files` first, no nscd runs, exactly one
/// line of `/etc/hosts` gives the name an address of that family, and neither file changed
/// since install (device, inode, size, mtime and ctime, checked now). `None` otherwise: libc
/// answers. With one address glibc neither sorts nor consults `gai.conf`, so its answer for
/// the address's numeric form is the same list. Async-signal-safe (no allocation, no lock).
pub(crate) fn hosts_answer(name: &[u8], family: i32) -> Option<IpAddr> {
    if !active() || name.is_empty() || name.len() > 253 {
        return None;
    }
    let answers = HOSTS_ANSWERS.get()?.as_ref()?;
    let mut key = [0u8; 253];
    for (k, &c) in key.iter_mut().zip(name) {
        // ASCII host-name bytes only: their case folds the same in every locale glibc
        // compares names in that matters here.
        if !(c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_') {
            return None;
        }
        *k = c.to_ascii_lowercase();
    }
    let key = &key[..name.len()];
    let i = answers
        .names
        .binary_search_by(|(n, _)| n.as_slice().cmp(key))
        .ok()?;
    let e = &answers.names[i].1;
    if e.unsure {
        return None;
    }
    let ip = match family {
        libc::AF_INET if e.v4 == 1 => IpAddr::V4(e.first_v4?),
        libc::AF_INET6 if e.v6 == 1 => IpAddr::V6(e.first_v6?),
        libc::AF_UNSPEC if e.v4 + e.v6 == 1 => match (e.first_v4, e.first_v6) {
            (Some(a), None) => IpAddr::V4(a),
            (None, Some(a)) => IpAddr::V6(a),
            _ => return None,
        },
        _ => return None,
    };
    let now = [
        crate::sys::file_stamp(HOSTS_FILE)?,
        crate::sys::file_stamp(NSSWITCH_FILE)?,
    ];
    if now != answers.stamps {
        return None;
    }
    HOSTS_ANSWERED.fetch_add(1, Ordering::Relaxed);
    Some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lines_per_name_as_glibc_files_reads_them() {
        let t = b"127.0.0.1 localhost Local.Test\n::1 localhost ip6-localhost\n\
                  10.0.0.1 twice\n10.0.0.2 twice # again\n127.1 short\n\
                  fe80::1%eth0 zoned\n::ffff:10.1.2.3 mapped\n10.0.0.3\tTAB.internal\n";
        let names = parse_hosts_answers(t);
        let get = |n: &str| {
            names
                .iter()
                .find(|(k, _)| k == n.as_bytes())
                .map(|(_, e)| *e)
                .unwrap_or_default()
        };
        let lh = get("localhost");
        assert_eq!((lh.v4, lh.v6, lh.unsure), (1, 1, false));
        assert_eq!(lh.first_v4, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(get("local.test").v4, 1);
        assert_eq!(get("twice").v4, 2);
        assert!(
            get("short").unsure,
            "127.1: glibc and Rust may read it differently"
        );
        assert!(get("zoned").unsure);
        assert!(get("mapped").unsure);
        assert_eq!(
            get("tab.internal").first_v4,
            Some("10.0.0.3".parse().unwrap())
        );
        assert!(names.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
    }

    #[test]
    fn nsswitch_files_first_only() {
        assert!(files_first("# c\nhosts:          files dns\n"));
        assert!(files_first("hosts: files\n"));
        assert!(!files_first("hosts: dns files\n"));
        assert!(!files_first("hosts: files [SUCCESS=continue] dns\n"));
        assert!(!files_first("hosts: files\nhosts: dns\n"));
        assert!(!files_first("passwd: files\n"));
        assert!(!files_first("hosts: myhostname files\n"));
    }
}
