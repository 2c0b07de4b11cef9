//! Outbound destinations: CIDRs, host names and `*.suffix` wildcards, each with optional ports.
//!
//! The grammar of fnshield's `outbound_connectivity.allow` entries, in its own crate so that
//! the runtime policy loader (`fnshield`) and the `#[fnshield::handler]` attribute
//! (`fnshield-macros`) parse exactly the same language.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An inclusive port range. `PortRange::ANY` matches every port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    lo: u16,
    hi: u16,
}

impl PortRange {
    /// Every port.
    pub const ANY: PortRange = PortRange {
        lo: 0,
        hi: u16::MAX,
    };

    /// A single port.
    pub const fn single(port: u16) -> Self {
        PortRange { lo: port, hi: port }
    }

    /// Whether `port` lies in the range.
    #[inline]
    pub const fn contains(&self, port: u16) -> bool {
        self.lo <= port && port <= self.hi
    }

    fn parse(s: &str) -> Result<Self, String> {
        let parse_one = |p: &str| -> Result<u16, String> {
            p.parse::<u16>()
                .map_err(|_| format!("port `{p}` is not a number between 0 and 65535"))
        };
        match s.split_once('-') {
            Some((a, b)) => {
                let (lo, hi) = (parse_one(a)?, parse_one(b)?);
                if lo > hi {
                    return Err(format!("port range `{s}` is empty; write low-high"));
                }
                Ok(PortRange { lo, hi })
            }
            None => Ok(PortRange::single(parse_one(s)?)),
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == PortRange::ANY {
            Ok(())
        } else if self.lo == self.hi {
            write!(f, ":{}", self.lo)
        } else {
            write!(f, ":{}-{}", self.lo, self.hi)
        }
    }
}

/// An IPv4 or IPv6 network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// A network; `prefix` must not exceed the address width.
    ///
    /// # Errors
    ///
    /// A message naming the prefix and the address family's width when `prefix` exceeds it
    /// (32 for IPv4, 128 for IPv6).
    ///
    /// An IPv4-mapped IPv6 network of at least 96 bits (`::ffff:10.0.0.0/104`) is kept as the
    /// IPv4 network it names (`10.0.0.0/8`): connections are decided on [`canonical`]
    /// addresses, so a mapped network kept as IPv6 would match nothing.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, String> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(format!("prefix /{prefix} is longer than {max} bits"));
        }
        let (addr, prefix) = match canonical(addr) {
            IpAddr::V4(v4) if addr.is_ipv6() && prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
            _ => (addr, prefix),
        };
        Ok(IpNet {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// A single host. An IPv4-mapped IPv6 address (`::ffff:127.0.0.5`) is kept as the IPv4
    /// address it names, as connections are decided (see [`canonical`]).
    pub fn host(addr: IpAddr) -> Self {
        let addr = canonical(addr);
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        IpNet { addr, prefix }
    }

    /// Whether the network contains `ip`. IPv4-mapped IPv6 addresses match IPv4 networks.
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                u32::from(a) & m == u32::from(n)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                u128::from(a) & m == u128::from(n)
            }
            _ => false,
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) become IPv4; everything else is unchanged.
#[inline]
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// A host-name pattern: an exact name or a `*.suffix` wildcard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// Matches exactly this name (lower case, no trailing dot).
    Exact(String),
    /// `*.example.com`: matches any name that ends in `.example.com`, at any depth, but not
    /// `example.com` itself.
    Suffix(String),
}

impl HostPattern {
    /// Whether `name` (lower case, no trailing dot) matches.
    #[inline]
    pub fn matches(&self, name: &[u8]) -> bool {
        match self {
            HostPattern::Exact(e) => e.as_bytes() == name,
            HostPattern::Suffix(s) => {
                let s = s.as_bytes();
                name.len() > s.len() + 1
                    && name.ends_with(s)
                    && name[name.len() - s.len() - 1] == b'.'
            }
        }
    }

    fn parse(s: &str) -> Result<Self, String> {
        let (wild, name) = match s.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() || name.len() > 253 {
            return Err(format!("host name `{s}` must be 1 to 253 characters"));
        }
        if name.contains('*') {
            return Err(format!(
                "host pattern `{s}`: a wildcard is only allowed as a leading `*.` (e.g. `*.example.com`)"
            ));
        }
        for label in name.split('.') {
            let ok = !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(format!(
                    "host name `{s}` has an invalid label `{label}`; labels are 1-63 letters, digits or hyphens"
                ));
            }
        }
        let name = name.to_ascii_lowercase();
        Ok(if wild {
            HostPattern::Suffix(name)
        } else {
            HostPattern::Exact(name)
        })
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(e) => f.write_str(e),
            HostPattern::Suffix(s) => write!(f, "*.{s}"),
        }
    }
}

/// One allowed outbound destination: a network or a host pattern, with a port range.
///
/// Accepted forms:
/// `10.0.0.0/8`, `192.0.2.7`, `192.0.2.7:443`, `10.0.0.0/8:8000-8100`, `2001:db8::/32`,
/// `[2001:db8::1]:443`, `[2001:db8::/32]:443`, `api.example.com`, `api.example.com:443`,
/// `*.example.com`, `*.example.com:443`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    target: Target,
    ports: PortRange,
}

/// What a [`Destination`] names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A network.
    Net(IpNet),
    /// A host name or wildcard.
    Host(HostPattern),
}

impl Destination {
    /// A network destination.
    pub fn net(net: IpNet, ports: PortRange) -> Self {
        Destination {
            target: Target::Net(net),
            ports,
        }
    }

    /// What this destination names.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The allowed ports.
    pub fn ports(&self) -> PortRange {
        self.ports
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Net(n) if n.addr.is_ipv6() && self.ports != PortRange::ANY => {
                write!(f, "[{n}]{}", self.ports)
            }
            Target::Net(n) => write!(f, "{n}{}", self.ports),
            Target::Host(h) => write!(f, "{h}{}", self.ports),
        }
    }
}

fn parse_net(s: &str) -> Result<Option<IpNet>, String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let Ok(ip) = IpAddr::from_str(addr) else {
        if prefix.is_some() {
            return Err(format!("`{addr}` is not an IPv4 or IPv6 address"));
        }
        return Ok(None);
    };
    match prefix {
        Some(p) => {
            let p: u8 = p
                .parse()
                .map_err(|_| format!("prefix `/{p}` is not a number"))?;
            IpNet::new(ip, p).map(Some)
        }
        None => Ok(Some(IpNet::host(ip))),
    }
}

impl FromStr for Destination {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty destination".into());
        }
        // [v6]:port or [v6/prefix]:port
        if let Some(rest) = s.strip_prefix('[') {
            let (inner, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("`{s}`: missing `]` after an IPv6 address"))?;
            let net =
                parse_net(inner)?.ok_or_else(|| format!("`{inner}` is not an IPv6 address"))?;
            let ports = match after {
                "" => PortRange::ANY,
                p => PortRange::parse(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("`{s}`: expected `:port` after `]`"))?,
                )?,
            };
            return Ok(Destination::net(net, ports));
        }
        // Bare IPv6 (two or more colons) never carries a port.
        if s.matches(':').count() >= 2 {
            let net = parse_net(s)?.ok_or_else(|| {
                format!("`{s}` is not an IPv6 address; write `[addr]:port` for a port")
            })?;
            return Ok(Destination::net(net, PortRange::ANY));
        }
        let (host, ports) = match s.rsplit_once(':') {
            Some((h, p)) => (h, PortRange::parse(p)?),
            None => (s, PortRange::ANY),
        };
        if let Some(net) = parse_net(host)? {
            return Ok(Destination::net(net, ports));
        }
        if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(format!("`{host}` is not a valid IPv4 address"));
        }
        Ok(Destination {
            target: Target::Host(HostPattern::parse(host)?),
            ports,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let ok = [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("192.0.2.7", "192.0.2.7/32"),
            ("192.0.2.7:443", "192.0.2.7/32:443"),
            ("10.0.0.0/8:8000-8100", "10.0.0.0/8:8000-8100"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("[2001:db8::1]:443", "[2001:db8::1/128]:443"),
            ("[2001:db8::/32]:1-2", "[2001:db8::/32]:1-2"),
            ("API.Example.com", "api.example.com"),
            ("api.example.com:443", "api.example.com:443"),
            ("*.example.com", "*.example.com"),
            ("*.example.com:80-81", "*.example.com:80-81"),
        ];
        for (input, shown) in ok {
            let d: Destination = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(d.to_string(), shown, "{input}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.300",
            "::1/129",
            "host:70000",
            "host:90-80",
            "ex*ample.com",
            "*.",
            "-bad.com",
            "[::1",
            "[::1]443",
            "a..b",
            "10.0.0.0/x",
        ] {
            assert!(bad.parse::<Destination>().is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn matching() {
        let n = IpNet::new("127.0.0.0".parse().unwrap(), 8).unwrap();
        assert!(n.contains("127.0.0.2".parse().unwrap()));
        assert!(n.contains("::ffff:127.0.0.2".parse().unwrap()));
        assert!(!n.contains("128.0.0.1".parse().unwrap()));
        let all = IpNet::new("0.0.0.0".parse().unwrap(), 0).unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        // An IPv4-mapped address or network names IPv4 hosts, as connections are decided
        // (on canonical addresses): written either way, it matches them.
        for (entry, inside, outside) in [
            ("::ffff:127.0.0.5", "127.0.0.5", "127.0.0.6"),
            (
                "[::ffff:127.0.0.5]:9001",
                "::ffff:127.0.0.5",
                "::ffff:127.0.0.6",
            ),
            ("::ffff:10.0.0.0/104", "10.200.0.1", "11.0.0.1"),
        ] {
            let Target::Net(n) = *entry.parse::<Destination>().unwrap().target() else {
                panic!("{entry} is a network");
            };
            assert!(n.contains(inside.parse().unwrap()), "{entry} {inside}");
            assert!(!n.contains(outside.parse().unwrap()), "{entry} {outside}");
        }
        assert!(
            IpNet::host("::ffff:127.0.0.5".parse().unwrap()).contains("127.0.0.5".parse().unwrap())
        );
        let s = HostPattern::parse("*.amazonaws.com").unwrap();
        assert!(s.matches(b"s3.amazonaws.com"));
        assert!(s.matches(b"a.b.amazonaws.com"));
        assert!(!s.matches(b"amazonaws.com"));
        assert!(!s.matches(b"evilamazonaws.com"));
    }
}
