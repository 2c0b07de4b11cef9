//! Host-name rules learnt from DNS: `outbound_connectivity.allow = ["api.test.internal:PORT"]`
//! with the names served by a DNS responder on loopback, resolved through glibc's
//! `getaddrinfo` and through a pure-Rust resolver (hickory).
//!
//! The shield learns IP → name only from answers received with `recvfrom` from a resolver (an
//! always-reachable address on port 53). So each case needs a resolver on port 53 of a loopback
//! address of its own; the test process (the parent, unshielded) binds it and relays the
//! queries to [`DnsResponder`], which listens on an ephemeral port of `127.0.0.1`. Binding port
//! 53 needs root (CI runs as root).
//!
//! Every case installs a seccomp filter, so every case runs in its own process: the test
//! re-executes this binary with `FNSHIELD_CASE=<name>`. The glibc case also needs glibc to ask
//! our resolver: its child makes a private mount namespace (`unshare(CLONE_NEWNS)`, root) and
//! bind-mounts a temporary `resolv.conf` over `/etc/resolv.conf` before its first lookup.
#![allow(missing_docs)]
// The numeric-looking-names case calls getaddrinfo and gethostbyname directly.
#![allow(unsafe_code)]

mod common;
use fnshield::{Action, Details, Event, PolicyKind, Shield};
use fnshield_tests::dns::{DnsRecords, DnsResponder};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

static EVENTS: Mutex<Vec<Event>> = Mutex::new(Vec::new());

const API: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);
const EVIL: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 5);
const DB: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 6);

/// The names every case resolves.
fn records() -> DnsRecords {
    DnsRecords::new()
        .host("api.test.internal", [IpAddr::V4(API)], 300)
        .unwrap()
        .host("evil.test.internal", [IpAddr::V4(EVIL)], 300)
        .unwrap()
        .host("db.test.internal", [IpAddr::V4(DB)], 300)
        .unwrap()
        .cname("alias.test.internal", "api.test.internal", 300)
        .unwrap()
}

// ---- parent side: the resolver on port 53 ----

/// A UDP resolver on `addr:53` that relays every query to a [`DnsResponder`] and sends the
/// answer back from port 53 (the only source the shield learns from).
struct Resolver {
    responder: DnsResponder,
    rt: tokio::runtime::Runtime,
}

impl Resolver {
    fn start(addr: Ipv4Addr) -> Resolver {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let responder =
            rt.block_on(async {
                let responder = DnsResponder::start(records()).await;
                let upstream = responder.addr();
                let listen = SocketAddr::from((addr, 53));
                let sock = Arc::new(tokio::net::UdpSocket::bind(listen).await.unwrap_or_else(
                    |e| {
                        panic!(
                    "cannot bind the test resolver on UDP {listen}: {e}. These tests need root \
                     (CI runs as root) and a free port 53 on {addr}; stop whatever listens there"
                )
                    },
                ));
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    loop {
                        let Ok((n, client)) = sock.recv_from(&mut buf).await else {
                            continue;
                        };
                        let query = buf[..n].to_vec();
                        let sock = sock.clone();
                        // One upstream socket per query: answers cannot be mixed up.
                        tokio::spawn(async move {
                            let up = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
                            up.connect(upstream).await?;
                            up.send(&query).await?;
                            let mut answer = [0u8; 4096];
                            let n = up.recv(&mut answer).await?;
                            sock.send_to(&answer[..n], client).await?;
                            Ok::<_, std::io::Error>(())
                        });
                    }
                });
                responder
            });
        Resolver { responder, rt }
    }

    /// The names queried so far (any type).
    fn queried(&self) -> Vec<String> {
        let _rt = self.rt.enter();
        self.responder
            .queries()
            .iter()
            .map(|q| q.name().to_owned())
            .collect()
    }
}

/// Runs the case `name` in a fresh process while this (unshielded) process serves DNS on
/// `resolver:53`; returns the names the responder was asked.
fn case(name: &str, resolver: Ipv4Addr) -> Vec<String> {
    let dns = Resolver::start(resolver);
    run_child(name, resolver);
    dns.queried()
}

/// Runs the case `name` in a fresh process and checks that it succeeded.
fn run_child(name: &str, resolver: Ipv4Addr) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("FNSHIELD_CASE", name)
        .env("FNSHIELD_CASE_RESOLVER", resolver.to_string())
        .env_remove("SHIELD_MODE");
    let out = fnshield_tests::watchdog::output(cmd, &format!("case {name}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("CASE-OK"),
        "case {name} failed: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}

/// In the child: runs `body` and exits if this process is case `name`. Returns `false` in the
/// parent.
fn in_case(name: &str, body: fn(Ipv4Addr)) -> bool {
    if std::env::var("FNSHIELD_CASE").as_deref() != Ok(name) {
        return false;
    }
    let resolver: Ipv4Addr = std::env::var("FNSHIELD_CASE_RESOLVER")
        .unwrap()
        .parse()
        .unwrap();
    body(resolver);
    println!("CASE-OK");
    std::process::exit(0);
}

// ---- child side ----

fn dirs() -> (PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!("fnshield-dns-{}", std::process::id()));
    let task = base.join("task");
    let tmp = base.join("tmp");
    std::fs::create_dir_all(&task).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    (task, tmp)
}

/// Three listeners on the same port: api (allowed by name), evil (not allowed), db (allowed by
/// name). Same port, so only the name can make the difference.
struct Listeners {
    port: u16,
    _l: [TcpListener; 3],
}

fn listeners() -> Listeners {
    for _ in 0..32 {
        let api = TcpListener::bind((API, 0)).unwrap();
        let port = api.local_addr().unwrap().port();
        if let (Ok(evil), Ok(db)) = (
            TcpListener::bind((EVIL, port)),
            TcpListener::bind((DB, port)),
        ) {
            return Listeners {
                port,
                _l: [api, evil, db],
            };
        }
    }
    panic!("no port was free on 127.0.0.4, 127.0.0.5 and 127.0.0.6 at once after 32 tries");
}

/// Installs a trap-mode shield that allows `api.test.internal:PORT` and `db.test.internal:PORT`
/// by name and trusts the `resolvers` as name servers.
fn shield(resolvers: &[Ipv4Addr], port: u16) -> Shield {
    let (task, tmp) = dirs();
    let env = fnshield::Env::from_pairs([
        ("LAMBDA_TASK_ROOT", task.to_str().unwrap()),
        ("AWS_LAMBDA_FUNCTION_NAME", "dns-test"),
    ]);
    let s = Shield::builder()
        .env(env)
        .resolv_conf(
            resolvers
                .iter()
                .map(|r| format!("nameserver {r}\n"))
                .collect::<String>(),
        )
        .tmp_root(tmp.to_str().unwrap())
        .allow_destination(format!("api.test.internal:{port}"))
        .allow_destination(format!("db.test.internal:{port}"))
        .sinks(["json"])
        .on_event(|e| EVENTS.lock().unwrap().push(e.clone()))
        .build()
        .expect("valid config");
    let report = s.install().expect("install");
    assert_eq!(
        report.interceptor,
        fnshield::Mechanism::SeccompTrap,
        "{report}"
    );
    s
}

fn events(s: &Shield) -> Vec<Event> {
    s.reporter().flush(None);
    EVENTS.lock().unwrap().clone()
}

fn connect(ip: Ipv4Addr, port: u16) -> Result<(), i32> {
    TcpStream::connect((ip, port))
        .map(drop)
        .map_err(|e| e.raw_os_error().unwrap_or(-1))
}

/// The blocked connect events to `ip:port`, as (host, count).
fn blocked(evs: &[Event], ip: Ipv4Addr, port: u16) -> Vec<(Option<String>, u64)> {
    evs.iter()
        .filter(|e| e.policy == PolicyKind::OutboundConnectivity && e.action == Action::Blocked)
        .filter_map(|e| match &e.details {
            Details::Connect {
                ip: i,
                port: p,
                host,
            } if *i == IpAddr::V4(ip) && *p == port => Some((host.clone(), e.count)),
            _ => None,
        })
        .collect()
}

/// What both resolver routes must show. `resolve(name)` returns the IPv4 addresses of `name`.
/// `queries_checked`: the resolver sends its queries with an explicit address (`sendto`), so
/// under outbound block a query for a name that is not allowed never leaves (issue 13). glibc
/// connects its socket and sends without an address: its queries are not checked (a residual
/// stated in the README) unless the libc layer decides the name first (`getaddrinfo`).
fn check_host_rules(
    resolver: Ipv4Addr,
    queries_checked: bool,
    resolve: &mut dyn FnMut(&str) -> Option<Vec<Ipv4Addr>>,
) {
    let l = listeners();
    let port = l.port;
    let s = shield(&[resolver], port);

    // Before any lookup the addresses are just addresses: nothing allows them.
    assert_eq!(connect(API, port), Err(libc::EPERM), "127.0.0.4 before DNS");
    assert_eq!(connect(DB, port), Err(libc::EPERM), "127.0.0.6 before DNS");

    if queries_checked {
        // The alias is not an allowed name: its query is refused before it leaves. The
        // allowed name itself resolves and teaches the address.
        assert_eq!(resolve("alias.test.internal"), None);
        assert_eq!(resolve("api.test.internal"), Some(vec![API]));
        connect(API, port).expect("127.0.0.4 is api.test.internal");
    } else {
        // A CNAME of the allowed name: the answer chain alias → api → 127.0.0.4 teaches the
        // allowed name for the address.
        assert_eq!(resolve("alias.test.internal"), Some(vec![API]));
        connect(API, port).expect("127.0.0.4 is api.test.internal (via alias.test.internal)");
    }

    // A plain A answer.
    assert_eq!(resolve("db.test.internal"), Some(vec![DB]));
    connect(DB, port).expect("127.0.0.6 is db.test.internal");
    // The rule has a port: another port of the allowed host is still refused.
    assert_eq!(connect(DB, port.wrapping_add(1).max(1)), Err(libc::EPERM));

    let evs = if queries_checked {
        // A name that is not allowed: its query is refused, and the event names it.
        assert_eq!(resolve("evil.test.internal"), None);
        assert_eq!(connect(EVIL, port), Err(libc::EPERM), "evil.test.internal");
        let evs = events(&s);
        assert!(
            evs.iter().any(|e| e.action == Action::Blocked
                && matches!(&e.details, Details::Bypass { what } if what == "DNS query for evil.test.internal")),
            "{evs:#?}"
        );
        assert_eq!(blocked(&evs, EVIL, port), vec![(None, 1)], "{evs:#?}");
        evs
    } else {
        // A name that is not allowed: refused, and the event names it.
        assert_eq!(resolve("evil.test.internal"), Some(vec![EVIL]));
        assert_eq!(connect(EVIL, port), Err(libc::EPERM), "evil.test.internal");
        let evs = events(&s);
        assert_eq!(
            blocked(&evs, EVIL, port),
            vec![(Some("evil.test.internal".to_owned()), 1)],
            "{evs:#?}"
        );
        evs
    };
    // The attempts before the lookups were blocked without a name; none after.
    assert_eq!(blocked(&evs, API, port), vec![(None, 1)], "{evs:#?}");
    assert_eq!(blocked(&evs, DB, port), vec![(None, 1)], "{evs:#?}");
}

fn assert_queried(queried: &[String], names: &[&str]) {
    for n in names {
        assert!(
            queried.iter().any(|q| q == n),
            "the resolver was never asked for {n}: {queried:?}"
        );
    }
}

// ---- glibc ----

/// Makes glibc in this thread read a `resolv.conf` naming only `resolver`: a private mount
/// namespace with a temporary file bind-mounted over `/etc/resolv.conf`.
fn private_resolv_conf(resolver: Ipv4Addr) {
    use nix::mount::{mount, MsFlags};
    let file = std::env::temp_dir().join(format!("fnshield-dns-resolv-{}", std::process::id()));
    let text = format!("nameserver {resolver}\noptions attempts:1\n");
    std::fs::write(&file, &text).unwrap();
    common::private_mount_namespace();
    mount(
        Some(&file),
        Path::new("/etc/resolv.conf"),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .expect("bind-mount a resolv.conf over /etc/resolv.conf");
    assert_eq!(std::fs::read_to_string("/etc/resolv.conf").unwrap(), text);
}

/// Whether the libc layer is built: it then decides `getaddrinfo`'s name before glibc sends any
/// query (`resolve_names = "allowed"`, the default).
const LAYER: bool = cfg!(feature = "libc-layer");

fn glibc_body(resolver: Ipv4Addr) {
    // Before the first lookup: glibc reads /etc/resolv.conf once, lazily.
    private_resolv_conf(resolver);
    check_host_rules(resolver, LAYER, &mut |name| {
        // std's ToSocketAddrs calls getaddrinfo; a refused name fails as "not found".
        (name, 1).to_socket_addrs().ok().map(|addrs| {
            addrs
                .filter_map(|a| match a.ip() {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                })
                .collect()
        })
    });
}

#[test]
fn host_rules_through_glibc_getaddrinfo() {
    const NAME: &str = "host_rules_through_glibc_getaddrinfo";
    if in_case(NAME, glibc_body) {
        return;
    }
    let queried = case(NAME, Ipv4Addr::new(127, 0, 0, 153));
    if LAYER {
        // The names no allow entry covers never reached the resolver: getaddrinfo refused
        // them in process, before glibc built a query.
        assert_queried(&queried, &["api.test.internal", "db.test.internal"]);
        for never in ["alias.test.internal", "evil.test.internal"] {
            assert!(
                !queried.iter().any(|q| q == never),
                "the resolver was asked for {never}: {queried:?}"
            );
        }
    } else {
        assert_queried(
            &queried,
            &[
                "alias.test.internal",
                "db.test.internal",
                "evil.test.internal",
            ],
        );
    }
}

// ---- hickory (pure Rust, tokio) ----

fn hickory_body(resolver: Ipv4Addr) {
    use hickory_resolver::config::{NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    use hickory_resolver::Resolver;
    // The shield is installed inside check_host_rules, before the tokio runtime exists,
    // as the README asks: create the runtime lazily, at the first lookup.
    let mut rt: Option<(tokio::runtime::Runtime, Resolver<TokioRuntimeProvider>)> = None;
    check_host_rules(resolver, true, &mut |name| {
        let (rt, r) = rt.get_or_insert_with(|| {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let config = ResolverConfig::from_name_servers(vec![NameServerConfig::udp(
                IpAddr::V4(resolver),
            )]);
            let r = {
                let _g = rt.enter();
                Resolver::builder_with_config(config, TokioRuntimeProvider::default())
                    .build()
                    .expect("hickory resolver")
            };
            (rt, r)
        });
        let fqdn = format!("{name}.");
        // A refused query is a failed lookup (None).
        rt.block_on(r.lookup_ip(fqdn.as_str())).ok().map(|ips| {
            ips.iter()
                .filter_map(|a| match a {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                })
                .collect()
        })
    });
}

#[test]
fn host_rules_through_hickory_resolver() {
    const NAME: &str = "host_rules_through_hickory_resolver";
    if in_case(NAME, hickory_body) {
        return;
    }
    let queried = case(NAME, Ipv4Addr::new(127, 0, 0, 154));
    assert_queried(&queried, &["api.test.internal", "db.test.internal"]);
    for refused in ["alias.test.internal", "evil.test.internal"] {
        assert!(
            !queried.iter().any(|q| q == refused),
            "a query for {refused} (not an allowed name) reached the resolver: {queried:?}"
        );
    }
}

// ---- who is trusted ----

/// A DNS answer (as a resolver sends it) saying `name` has the address `ip`.
fn forged_answer(name: &str, ip: Ipv4Addr) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&[0, 1, 0, 1]); // question: A, IN
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4]); // A, IN, TTL 300, 4 bytes
    m.extend_from_slice(&ip.octets());
    m
}

fn untrusted_body(_: Ipv4Addr) {
    use std::net::UdpSocket;
    const STRANGER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 77);
    const RESOLVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 78);
    let l = listeners();
    let port = l.port;
    let stranger = UdpSocket::bind((STRANGER, 53))
        .expect("bind 127.0.0.77:53 (needs root, as CI has, and a free port)");
    let resolver = UdpSocket::bind((RESOLVER, 53))
        .expect("bind 127.0.0.78:53 (needs root, as CI has, and a free port)");
    let victim = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let to = victim.local_addr().unwrap();
    let s = shield(&[RESOLVER], port);
    let mut buf = [0u8; 512];

    // Port 53 of an address that is not a resolver: "api.test.internal is 127.0.0.5" is
    // received but not believed.
    stranger
        .send_to(&forged_answer("api.test.internal", EVIL), to)
        .unwrap();
    let (_, from) = victim.recv_from(&mut buf).unwrap();
    assert_eq!(from, SocketAddr::from((STRANGER, 53)));
    assert_eq!(
        connect(EVIL, port),
        Err(libc::EPERM),
        "a stranger taught a name"
    );

    // The same bytes from the configured resolver are believed (the control: the answer is
    // well-formed and the receive path learns).
    resolver
        .send_to(&forged_answer("api.test.internal", EVIL), to)
        .unwrap();
    let (_, from) = victim.recv_from(&mut buf).unwrap();
    assert_eq!(from, SocketAddr::from((RESOLVER, 53)));
    connect(EVIL, port).expect("the resolver's answer teaches api.test.internal");

    let evs = events(&s);
    assert_eq!(blocked(&evs, EVIL, port), vec![(None, 1)], "{evs:#?}");
}

#[test]
fn answers_only_count_from_a_configured_resolver() {
    const NAME: &str = "answers_only_count_from_a_configured_resolver";
    if in_case(NAME, untrusted_body) {
        return;
    }
    run_child(NAME, Ipv4Addr::LOCALHOST);
}

// ---- names that look numeric (redteam, issue 13) ----

/// Names glibc's `inet_aton` reads as an address although `getaddrinfo` and `gethostbyname`
/// look them up as names: an address followed by whitespace and anything (inet_aton stops at
/// the whitespace; getaddrinfo uses the exact form and sends a query for the whole string).
const NUMERIC_LOOKING: [&str; 3] = [
    "127.0.0.1 x.evil.test.internal",
    "127.0.0.1\tsecret-data.evil.test.internal",
    "127.1\nmore.evil.test.internal",
];

fn numeric_looking_body(resolver: Ipv4Addr) {
    private_resolv_conf(resolver);
    let l = listeners();
    let _s = shield(&[resolver], l.port);
    for name in NUMERIC_LOOKING {
        let c = std::ffi::CString::new(name).unwrap();
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        // SAFETY: getaddrinfo with a valid node name, no service, no hints; freed if it
        // succeeds.
        let r =
            unsafe { libc::getaddrinfo(c.as_ptr(), std::ptr::null(), std::ptr::null(), &mut res) };
        if r == 0 {
            // SAFETY: the list getaddrinfo returned.
            unsafe { libc::freeaddrinfo(res) };
        }
        assert_ne!(r, 0, "getaddrinfo({name:?}) resolved");
        // SAFETY: gethostbyname with a valid name; the result is static, not freed.
        let h = unsafe { gethostbyname(c.as_ptr()) };
        assert!(h.is_null(), "gethostbyname({name:?}) resolved");
    }
    // The resolver is in use: an allowed name is asked.
    assert!(("api.test.internal", 1).to_socket_addrs().is_ok());
}

extern "C" {
    fn gethostbyname(name: *const libc::c_char) -> *mut libc::c_void;
}

#[test]
fn numeric_looking_names_send_no_query() {
    const NAME: &str = "numeric_looking_names_send_no_query";
    if !LAYER {
        return;
    }
    if in_case(NAME, numeric_looking_body) {
        return;
    }
    let queried = case(NAME, Ipv4Addr::new(127, 0, 0, 157));
    assert!(
        !queried.iter().any(|q| q.contains("evil")),
        "a numeric-looking name reached the resolver: {queried:?}"
    );
    assert_queried(&queried, &["api.test.internal"]);
}
