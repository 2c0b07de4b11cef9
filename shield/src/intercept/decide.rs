//! The decision engine: pure, allocation-free, lock-free decisions over tables compiled from a
//! [`Policy`].
//!
//! These functions are called from the SIGSYS handler, so they never allocate, never lock and
//! never panic on any input. Tables are built once (allocating) by [`Decider::new`]; lookups
//! only read them. Modes live in atomics so that a policy can be *tightened* at run time
//! (allow → alert → block), never loosened.

use crate::policy::{
    canonical, HostPattern, IpNet, Mode, Policy, PolicyKind, PortRange, Target,
    AWS_ENDPOINT_SUFFIXES,
};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::policy::path::is_normal;
pub use crate::policy::path::{is_under, normalize, normalize_proc, pattern_covers, PATH_MAX};

/// Paths shorter than this are normalised in a small stack buffer.
const SMALL: usize = 256;

/// What to do with one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let it through silently.
    Allow,
    /// Let it through and report an alert.
    Alert,
    /// Refuse it and report a block.
    Block,
}

impl Verdict {
    #[inline]
    fn from_mode(m: Mode) -> Self {
        match m {
            Mode::Allow => Verdict::Allow,
            Mode::Alert => Verdict::Alert,
            Mode::Block => Verdict::Block,
        }
    }

    #[inline]
    fn rank(self) -> u8 {
        match self {
            Verdict::Allow => 0,
            Verdict::Alert => 1,
            Verdict::Block => 2,
        }
    }
}

pub use crate::policy::path::Access;

/// The outcome of [`Decider::classify_path`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathDecision {
    /// The policy that decided, or `None` when no policy covers the path.
    pub policy: Option<PolicyKind>,
    /// The verdict.
    pub verdict: Verdict,
}

impl PathDecision {
    const ALLOW: PathDecision = PathDecision {
        policy: None,
        verdict: Verdict::Allow,
    };
}

/// Index of each mode in the atomic mode table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum ModeSlot {
    /// `outbound_connectivity`.
    Outbound = 0,
    /// Reads under the tmp root.
    TmpRead = 1,
    /// Writes under the tmp root.
    TmpWrite = 2,
    /// `create_child_process`.
    Child = 3,
    /// `read_handler`.
    ReadHandler = 4,
}

/// Tables compiled from a [`Policy`].
#[derive(Debug)]
pub struct Decider {
    modes: [AtomicU8; 5],
    tmp_root: Box<[u8]>,
    tmp_allow_read: Vec<Box<[u8]>>,
    tmp_allow_write: Vec<Box<[u8]>>,
    protected: Vec<Pattern>,
    exec_allow: Vec<Box<[u8]>>,
    nets: Vec<(IpNet, PortRange)>,
    hosts: Vec<(HostPattern, PortRange)>,
    always: Vec<(IpNet, PortRange)>,
    aws: Vec<HostPattern>,
    /// Names from `/etc/hosts`, by address (canonical).
    hosts_file: Vec<(IpAddr, crate::intercept::dns::Name)>,
    /// `resolve_names = "any"`: every name may be looked up.
    any_name: bool,
}

fn bytes(p: &std::path::Path) -> Box<[u8]> {
    p.as_os_str().as_encoded_bytes().into()
}

impl Decider {
    /// Compile the tables. This allocates; lookups do not.
    pub fn new(policy: &Policy) -> Self {
        let m = policy.modes();
        let mut nets = Vec::new();
        let mut hosts = Vec::new();
        for d in policy.outbound_allow() {
            match d.target() {
                Target::Net(n) => nets.push((*n, d.ports())),
                Target::Host(h) => hosts.push((h.clone(), d.ports())),
            }
        }
        let always = policy
            .always_reachable()
            .iter()
            .filter_map(|d| match d.target() {
                Target::Net(n) => Some((*n, d.ports())),
                Target::Host(_) => None,
            })
            .collect();
        let aws = if policy.aws_endpoints_allowed() {
            AWS_ENDPOINT_SUFFIXES
                .iter()
                .map(|s| HostPattern::Suffix((*s).to_owned()))
                .collect()
        } else {
            Vec::new()
        };
        Decider {
            modes: [
                AtomicU8::new(m.outbound() as u8),
                AtomicU8::new(m.tmp_read() as u8),
                AtomicU8::new(m.tmp_write() as u8),
                AtomicU8::new(m.child() as u8),
                AtomicU8::new(m.read_handler() as u8),
            ],
            tmp_root: bytes(policy.tmp_root()),
            tmp_allow_read: policy.tmp_allow_read().iter().map(|p| bytes(p)).collect(),
            tmp_allow_write: policy.tmp_allow_write().iter().map(|p| bytes(p)).collect(),
            protected: policy
                .protected()
                .iter()
                .map(|p| Pattern::new(&bytes(p)))
                .collect(),
            exec_allow: policy.exec_allow().iter().map(|p| bytes(p)).collect(),
            nets,
            hosts,
            always,
            aws,
            hosts_file: policy
                .hosts_file()
                .iter()
                .filter_map(|(ip, n)| Some((canonical(*ip), crate::intercept::dns::Name::new(n)?)))
                .collect(),
            any_name: policy.resolve_names() == crate::policy::NameResolution::Any,
        }
    }

    /// Call `f` with every name `/etc/hosts` gave `ip` at cold start.
    pub fn hosts_file_names(&self, ip: IpAddr, f: &mut impl FnMut(&crate::intercept::dns::Name)) {
        let ip = canonical(ip);
        for (a, n) in &self.hosts_file {
            if *a == ip {
                f(n);
            }
        }
    }

    /// The current mode of one slot.
    #[inline]
    pub fn mode(&self, slot: ModeSlot) -> Mode {
        Mode::from_u8(self.modes[slot as usize].load(Ordering::Relaxed))
    }

    /// Make a mode stricter. Loosening is impossible: a request for a looser mode leaves the
    /// current one. Returns the mode now in force.
    pub fn tighten(&self, slot: ModeSlot, to: Mode) -> Mode {
        let prev = self.modes[slot as usize].fetch_max(to as u8, Ordering::AcqRel);
        Mode::from_u8(prev.max(to as u8))
    }

    /// The tmp root, normalised.
    pub fn tmp_root(&self) -> &[u8] {
        &self.tmp_root
    }

    /// Classify an access to an absolute path. The path is normalised lexically first
    /// (`.`, `..`, repeated `/`, and `/proc/{self,thread-self,N}/root` prefixes). A relative or
    /// over-long path cannot be classified and is treated as covered by every path policy
    /// (the strictest applicable mode wins), so that it fails closed.
    pub fn classify_path(&self, path: &[u8], access: Access) -> PathDecision {
        // Already normal and no /proc/<who>/root prefix to strip (the common case): decided
        // as given, without copying it (`normalize_proc` would return it unchanged).
        if is_normal(path) && !path.starts_with(b"/proc/") {
            return self.classify_normalized(path, access);
        }
        // Normalising never lengthens a path (except "" → "/"), so short paths use a small
        // buffer: zeroing 4 KiB per decision would cost more than the decision itself.
        if path.len() < SMALL {
            let mut buf = [0u8; SMALL];
            match normalize_proc(path, &mut buf) {
                Some(n) => self.classify_normalized(&buf[..n], access),
                None => self.unresolvable(access),
            }
        } else {
            self.classify_long(path, access)
        }
    }

    /// [`Self::classify_path`] for a long path, in its own frame so that the `PATH_MAX`
    /// buffer is on the (SIGSYS handler's, i.e. the caller's) stack only when it is needed.
    #[inline(never)]
    fn classify_long(&self, path: &[u8], access: Access) -> PathDecision {
        let mut buf = [0u8; PATH_MAX];
        match normalize_proc(path, &mut buf) {
            Some(n) => self.classify_normalized(&buf[..n], access),
            None => self.unresolvable(access),
        }
    }

    /// The decision for a path whose location cannot be known: the strictest mode of every
    /// policy `access` could fall under.
    pub(crate) fn unresolvable(&self, access: Access) -> PathDecision {
        let mut best = PathDecision::ALLOW;
        let mut consider = |policy, mode: Mode| {
            let v = Verdict::from_mode(mode);
            if v.rank() > best.verdict.rank() {
                best = PathDecision {
                    policy: Some(policy),
                    verdict: v,
                };
            }
        };
        if access != Access::Meta {
            consider(PolicyKind::ReadHandler, self.mode(ModeSlot::ReadHandler));
        }
        match access {
            Access::Read | Access::Meta => {
                consider(PolicyKind::ReadWriteTmp, self.mode(ModeSlot::TmpRead))
            }
            Access::Write => consider(PolicyKind::ReadWriteTmp, self.mode(ModeSlot::TmpWrite)),
            Access::ReadWrite => {
                consider(PolicyKind::ReadWriteTmp, self.mode(ModeSlot::TmpRead));
                consider(PolicyKind::ReadWriteTmp, self.mode(ModeSlot::TmpWrite));
            }
        }
        best
    }

    /// Classify an already-normalised absolute path.
    pub fn classify_normalized(&self, p: &[u8], access: Access) -> PathDecision {
        let mut best = PathDecision::ALLOW;
        if access != Access::Meta && self.protected.iter().any(|pat| pat.covers(p)) {
            best = PathDecision {
                policy: Some(PolicyKind::ReadHandler),
                verdict: Verdict::from_mode(self.mode(ModeSlot::ReadHandler)),
            };
        }
        if is_under(&self.tmp_root, p) {
            // Looking up the root or a directory on the way to an allowed sub-path reveals
            // nothing a user of that sub-path does not know already.
            let traversal = access == Access::Meta && self.is_passage(p);
            let read =
                !traversal && matches!(access, Access::Read | Access::ReadWrite | Access::Meta);
            let write = matches!(access, Access::Write | Access::ReadWrite);
            let mut v = Verdict::Allow;
            if read && !self.tmp_allow_read.iter().any(|a| is_under(a, p)) {
                v = Verdict::from_mode(self.mode(ModeSlot::TmpRead));
            }
            if write && !self.tmp_allow_write.iter().any(|a| is_under(a, p)) {
                let w = Verdict::from_mode(self.mode(ModeSlot::TmpWrite));
                if w.rank() > v.rank() {
                    v = w;
                }
            }
            if v.rank() > best.verdict.rank() || (best.policy.is_none() && v != Verdict::Allow) {
                best = PathDecision {
                    policy: Some(PolicyKind::ReadWriteTmp),
                    verdict: v,
                };
            }
        }
        best
    }

    /// Whether the normalised path `p` is the tmp root or a directory on the way to an allowed
    /// tmp sub-path (a strict ancestor of an `allow_read` or `allow_write` entry). Passages may
    /// be looked up and traversed (`stat`, `access`, `O_PATH`, `chdir`), never listed, and a
    /// `mkdir` of one that exists fails with `EEXIST` as it would without a shield.
    pub fn is_passage(&self, p: &[u8]) -> bool {
        if !is_under(&self.tmp_root, p) {
            return false;
        }
        *p == *self.tmp_root
            || self
                .tmp_allow_read
                .iter()
                .chain(&self.tmp_allow_write)
                .any(|a| a.len() > p.len() && is_under(p, a))
    }

    /// [`Decider::is_passage`] for an absolute path that is not normalised yet.
    pub fn is_tmp_passage(&self, path: &[u8]) -> bool {
        let mut small = [0u8; SMALL];
        let mut big;
        let buf: &mut [u8] = if path.len() < SMALL {
            &mut small
        } else {
            big = [0u8; PATH_MAX];
            &mut big
        };
        match normalize_proc(path, buf) {
            Some(n) => self.is_passage(&buf[..n]),
            None => false,
        }
    }

    /// Decide an outbound connection to `ip:port`. `names` yields the host names learnt for
    /// `ip` from DNS answers. Returns the verdict and the index into `names` of the name that
    /// allowed it, if a name did.
    pub fn decide_connect(
        &self,
        ip: IpAddr,
        port: u16,
        names: &mut dyn Iterator<Item = &[u8]>,
    ) -> Verdict {
        let ip = canonical(ip);
        if self
            .always
            .iter()
            .any(|(n, p)| p.contains(port) && n.contains(ip))
        {
            return Verdict::Allow;
        }
        let mode = self.mode(ModeSlot::Outbound);
        if mode == Mode::Allow {
            return Verdict::Allow;
        }
        if self
            .nets
            .iter()
            .any(|(n, p)| p.contains(port) && n.contains(ip))
        {
            return Verdict::Allow;
        }
        for name in names {
            if self
                .hosts
                .iter()
                .any(|(h, p)| p.contains(port) && h.matches(name))
                || self.aws.iter().any(|h| h.matches(name))
            {
                return Verdict::Allow;
            }
        }
        Verdict::from_mode(mode)
    }

    /// Whether `ip` is a configured resolver (a `nameserver` of resolv.conf, reachable on port
    /// 53 only), whose DNS answers may teach the host table. `127.0.0.1` and `::1` are always
    /// reachable on every port, but they are resolvers only when resolv.conf names them.
    pub fn is_resolver(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.always
            .iter()
            .any(|(n, p)| *p == PortRange::single(53) && n.contains(ip))
    }

    /// Whether DNS queries for `name` may be sent under outbound block: it is an allowed host
    /// (on any port), or an AWS endpoint while those are allowed.
    pub fn name_allowed(&self, name: &[u8]) -> bool {
        self.hosts.iter().any(|(h, _)| h.matches(name)) || self.aws.iter().any(|h| h.matches(name))
    }

    /// Whether the resolver entry points may look `name` up (lower case, no trailing dot)
    /// while outbound connectivity blocks: `resolve_names = "any"`, a name
    /// [`name_allowed`](Self::name_allowed) covers, or a name `/etc/hosts` gave at cold start
    /// (answered without any query).
    pub fn lookup_allowed(&self, name: &[u8]) -> bool {
        self.any_name
            || self.name_allowed(name)
            || self.hosts_file.iter().any(|(_, n)| n.as_bytes() == name)
    }

    /// Whether a lookup of `name` may send a query that the resolver's search list (or
    /// aliases) could rewrite, while names are decided (`resolve_names = "allowed"`): not a
    /// name `/etc/hosts` gave at cold start (answered without any query).
    pub fn lookup_may_be_searched(&self, name: &[u8]) -> bool {
        self.names_decided() && !self.hosts_file.iter().any(|(_, n)| n.as_bytes() == name)
    }

    /// Whether host names are decided before a lookup (`resolve_names = "allowed"`).
    pub fn names_decided(&self) -> bool {
        !self.any_name
    }

    /// Decide running the executable at `path` (absolute; normalised here).
    ///
    /// A path that is already normal (the common case, and always so for a path the kernel
    /// read back) is compared as it is, with no buffer: this runs in the SIGSYS handler, on the
    /// caller's stack, which in glibc's `posix_spawn` child is about 32 KiB.
    pub fn decide_exec(&self, path: &[u8]) -> Verdict {
        let mode = self.mode(ModeSlot::Child);
        if mode == Mode::Allow {
            return Verdict::Allow;
        }
        let allowed = if is_normal(path) {
            self.exec_allow.iter().any(|a| **a == *path)
        } else if path.len() < SMALL {
            let mut small = [0u8; SMALL];
            normalize(path, &mut small)
                .is_some_and(|n| self.exec_allow.iter().any(|a| **a == small[..n]))
        } else {
            self.exec_allowed_long(path)
        };
        if allowed {
            Verdict::Allow
        } else {
            Verdict::from_mode(mode)
        }
    }

    /// [`Self::decide_exec`]'s match for a long path that is not normal, in its own frame so
    /// that the `PATH_MAX` buffer is on the stack only when it is needed.
    #[inline(never)]
    fn exec_allowed_long(&self, path: &[u8]) -> bool {
        let mut big = [0u8; PATH_MAX];
        normalize(path, &mut big).is_some_and(|n| self.exec_allow.iter().any(|a| **a == big[..n]))
    }

    /// Whether no child process may ever run (child processes `block` with no allowed
    /// executable): then a fork is refused too, as the kernel path refuses it.
    pub fn no_child_may_run(&self) -> bool {
        self.mode(ModeSlot::Child) == Mode::Block && self.exec_allow.is_empty()
    }

    /// Decide creating a process (fork family), which has no path.
    pub fn decide_fork(&self) -> Verdict {
        Verdict::from_mode(self.mode(ModeSlot::Child))
    }
}

/// A protected-path pattern, precompiled: a literal prefix up to the first `*` component,
/// checked with one comparison before any per-component work.
#[derive(Debug)]
struct Pattern {
    /// The whole pattern when it has no `*`; else the part before the first `*` component
    /// (ending in `/`).
    prefix: Box<[u8]>,
    wildcard: bool,
    full: Box<[u8]>,
}

impl Pattern {
    fn new(p: &[u8]) -> Self {
        match p
            .windows(3)
            .position(|w| w == b"/*/")
            .or_else(|| p.ends_with(b"/*").then(|| p.len() - 2))
        {
            Some(at) => Pattern {
                prefix: p[..at + 1].into(),
                wildcard: true,
                full: p.into(),
            },
            None => Pattern {
                prefix: p.into(),
                wildcard: false,
                full: p.into(),
            },
        }
    }

    #[inline]
    fn covers(&self, path: &[u8]) -> bool {
        if self.wildcard {
            path.starts_with(&self.prefix) && pattern_covers(&self.full, path)
        } else {
            is_under(&self.prefix, path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Env;
    use proptest::prelude::*;

    fn decider(file: &str, env: &[(&str, &str)]) -> Decider {
        let env = Env::from_pairs(env.iter().map(|(a, b)| (*a, *b)));
        let mut raw = crate::policy::load::from_str(std::path::Path::new("t.toml"), file).unwrap();
        raw.overlay(crate::policy::load::from_env(&env).unwrap());
        Decider::new(&raw.into_policy(&env, "nameserver 169.254.78.1\n").unwrap())
    }

    #[test]
    fn path_table() {
        let d = decider(
            r#"
            [read_write_tmp]
            read = "alert"
            write = "block"
            allow_write = ["/tmp/cache"]
            [read_handler]
            protect = ["/etc/secret"]
            "#,
            &[("LAMBDA_TASK_ROOT", "/var/task")],
        );
        use Access::*;
        use PolicyKind::*;
        use Verdict::*;
        let cases: &[(&str, Access, Option<PolicyKind>, Verdict)] = &[
            ("/tmp/x", Read, Some(ReadWriteTmp), Alert),
            ("/tmp/x", Write, Some(ReadWriteTmp), Block),
            ("/tmp/cache/x", Write, None, Allow),
            ("/tmp/cache/x", Read, Some(ReadWriteTmp), Alert),
            ("/tmp/cache/x", ReadWrite, Some(ReadWriteTmp), Alert),
            ("/tmp/cachex", Write, Some(ReadWriteTmp), Block),
            ("/tmpx/a", Write, None, Allow),
            ("/tmp/../var/task/bootstrap", Read, Some(ReadHandler), Block),
            ("/var/task", Read, Some(ReadHandler), Block),
            ("/var/task", Meta, None, Allow),
            ("/var/taskforce", Read, None, Allow),
            ("/opt/lib/x.so", Read, Some(ReadHandler), Block),
            ("/proc/self/environ", Read, Some(ReadHandler), Block),
            ("/proc/42/task/43/environ", Read, Some(ReadHandler), Block),
            (
                "/proc/self/root/proc/self/environ",
                Read,
                Some(ReadHandler),
                Block,
            ),
            ("/proc/self/mem", ReadWrite, Some(ReadHandler), Block),
            ("/proc/self/exe", Read, Some(ReadHandler), Block),
            ("/proc/self/status", Read, None, Allow),
            ("/etc/secret/key", Read, Some(ReadHandler), Block),
            ("/etc/passwd", Read, None, Allow),
            ("relative/path", Read, Some(ReadHandler), Block),
        ];
        for (p, a, pol, v) in cases {
            let got = d.classify_path(p.as_bytes(), *a);
            assert_eq!((got.policy, got.verdict), (*pol, *v), "{p} {a:?}");
        }
    }

    #[test]
    fn connect_table() {
        let d = decider(
            r#"
            [outbound_connectivity]
            allow = ["10.0.0.0/8:443", "api.example.com", "*.example.org:8000-8100"]
            "#,
            &[
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000"),
            ],
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let none = |d: &Decider, a: &str, p| d.decide_connect(ip(a), p, &mut std::iter::empty());
        assert_eq!(none(&d, "10.1.2.3", 443), Verdict::Allow);
        assert_eq!(none(&d, "10.1.2.3", 80), Verdict::Block);
        assert_eq!(none(&d, "127.0.0.1", 1234), Verdict::Allow);
        assert_eq!(none(&d, "::1", 1234), Verdict::Allow);
        assert_eq!(none(&d, "::ffff:127.0.0.1", 1), Verdict::Allow);
        assert_eq!(none(&d, "127.0.0.2", 80), Verdict::Block);
        assert_eq!(none(&d, "169.254.79.129", 2000), Verdict::Allow);
        assert_eq!(none(&d, "169.254.79.129", 2001), Verdict::Block);
        assert_eq!(none(&d, "169.254.78.1", 53), Verdict::Allow);
        assert_eq!(none(&d, "169.254.78.1", 54), Verdict::Block);
        let with = |d: &Decider, a: &str, p, n: &[&str]| {
            d.decide_connect(ip(a), p, &mut n.iter().map(|s| s.as_bytes()))
        };
        assert_eq!(
            with(&d, "127.0.0.9", 80, &["api.example.com"]),
            Verdict::Allow
        );
        assert_eq!(
            with(&d, "127.0.0.9", 80, &["evil.com", "x.example.org"]),
            Verdict::Block
        );
        assert_eq!(
            with(&d, "127.0.0.9", 8050, &["evil.com", "x.example.org"]),
            Verdict::Allow
        );
        assert_eq!(
            with(&d, "127.0.0.9", 443, &["sts.us-east-1.amazonaws.com"]),
            Verdict::Allow
        );
        let no_aws = decider("[outbound_connectivity]\naws_endpoints = false\n", &[]);
        assert_eq!(
            with(&no_aws, "127.0.0.9", 443, &["sts.amazonaws.com"]),
            Verdict::Block
        );
    }

    /// Issue 15 item 2: the Runtime API at an IPv4-mapped IPv6 address (`lambda_runtime`
    /// connects an IPv6 socket to it; the kernel reaches the IPv4 host). Connections are
    /// decided on the IPv4 address, so the endpoint must be reachable under it, and only it.
    #[test]
    fn a_runtime_api_at_a_mapped_address_is_reachable() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for value in [
            "[::ffff:127.0.0.5]:9001",
            "http://[::ffff:127.0.0.5]:9001/.rt/fn",
            "http://[::ffff:7f00:5]:9001",
        ] {
            let d = decider("", &[("AWS_LAMBDA_RUNTIME_API", value)]);
            let go = |a: &str, p| d.decide_connect(ip(a), p, &mut std::iter::empty());
            assert_eq!(go("127.0.0.5", 9001), Verdict::Allow, "{value}");
            assert_eq!(go("::ffff:127.0.0.5", 9001), Verdict::Allow, "{value}");
            assert_eq!(go("127.0.0.5", 9002), Verdict::Block, "{value}");
            assert_eq!(go("127.0.0.6", 9001), Verdict::Block, "{value}");
        }
    }

    #[test]
    fn exec_and_tighten() {
        let d = decider(
            "[create_child_process]\nmode = \"alert\"\nallow = [\"/usr/bin/ffmpeg\"]\n",
            &[],
        );
        assert_eq!(d.decide_exec(b"/usr/bin/ffmpeg"), Verdict::Allow);
        assert_eq!(d.decide_exec(b"/usr/bin/../bin/ffmpeg"), Verdict::Allow);
        assert_eq!(d.decide_exec(b"/bin/sh"), Verdict::Alert);
        assert_eq!(d.tighten(ModeSlot::Child, Mode::Block), Mode::Block);
        assert_eq!(d.decide_exec(b"/bin/sh"), Verdict::Block);
        // Loosening is impossible.
        assert_eq!(d.tighten(ModeSlot::Child, Mode::Allow), Mode::Block);
        assert_eq!(d.decide_exec(b"/bin/sh"), Verdict::Block);
    }

    proptest! {
        #[test]
        fn nothing_outside_the_root_is_tmp(parts in proptest::collection::vec("(\\.\\.|\\.|tmp|tmpx|t|cache|x|)", 0..10)) {
            let d = decider("", &[]);
            let p = format!("/{}", parts.join("/"));
            let mut b = [0u8; PATH_MAX];
            let n = normalize_proc(p.as_bytes(), &mut b).unwrap();
            let under = b[..n] == *b"/tmp" || b[..n].starts_with(b"/tmp/");
            let got = d.classify_path(p.as_bytes(), Access::Write);
            prop_assert_eq!(got.policy == Some(PolicyKind::ReadWriteTmp), under, "{}", p);
        }
    }
}
