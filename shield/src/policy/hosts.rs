//! Names from `/etc/hosts`.
//!
//! seccomp sees addresses only; names learnt from DNS answers cover what a resolver serves.
//! Names that glibc (and most resolvers) take from `/etc/hosts` never cross the network, so
//! the shield reads that file once, at cold start, and lets its names match allowlist entries
//! by name (`svc.internal:18080`). Container images and local tests rely on it.
//!
//! Read once, like every other input of the policy: a later change to `/etc/hosts` is not
//! seen (on Lambda the file is read-only; elsewhere, code inside the function that rewrites it
//! must not be able to make a forbidden address carry an allowed name).

use std::net::IpAddr;

/// The most entries kept (address, name pairs) whose name no allowlist entry matches (they
/// only name hosts in events and hints); more are ignored.
pub const MAX_ENTRIES: usize = 1024;

/// The most entries kept whose name an allowlist entry matches (they decide connections), in
/// addition to [`MAX_ENTRIES`], wherever they are in the file: a large `/etc/hosts` (a
/// blocklist, a generated file) must not push an allowed name out.
pub const MAX_ALLOWED_ENTRIES: usize = 16_384;

/// Parse `hosts(5)` text: `address name [aliases...]`, `#` comments. Names are lowercased;
/// lines with an unparsable address and invalid names are skipped. IPv4-mapped IPv6 addresses
/// are kept as IPv4, as connections are decided.
#[cfg(test)]
pub fn parse(text: &str) -> Vec<(IpAddr, String)> {
    parse_keeping(text, |_| false)
}

/// [`parse`], keeping every entry whose name `allowed` says an allowlist entry matches (up to
/// [`MAX_ALLOWED_ENTRIES`]) past the first [`MAX_ENTRIES`] others.
pub fn parse_keeping(text: &str, allowed: impl Fn(&[u8]) -> bool) -> Vec<(IpAddr, String)> {
    let (mut others, mut kept) = (0usize, 0usize);
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(addr) = words.next() else { continue };
        // `fe80::1%eth0`: the zone does not take part in the decision.
        let Ok(ip) = addr.split('%').next().unwrap_or(addr).parse::<IpAddr>() else {
            continue;
        };
        let ip = super::canonical(ip);
        for name in words {
            if let Some(n) = crate::intercept::dns::Name::new(name) {
                if n.is_empty() {
                    continue;
                }
                let room = if allowed(n.as_bytes()) {
                    kept += 1;
                    kept <= MAX_ALLOWED_ENTRIES
                } else {
                    others += 1;
                    others <= MAX_ENTRIES
                };
                if room {
                    out.push((ip, n.as_str().to_owned()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_aliases_and_comments() {
        let h = parse(
            "127.0.0.1 localhost\n# comment 10.0.0.1 x\n127.0.0.2\tsvc.internal  SVC2.Internal # db\n\
             ::ffff:10.1.2.3 mapped.internal\nnot-an-ip host\nfe80::1%eth0 link.local\n10.0.0.9 bad/name ok.internal\n",
        );
        let want: Vec<(IpAddr, String)> = [
            ("127.0.0.1", "localhost"),
            ("127.0.0.2", "svc.internal"),
            ("127.0.0.2", "svc2.internal"),
            ("10.1.2.3", "mapped.internal"),
            ("fe80::1", "link.local"),
            ("10.0.0.9", "ok.internal"),
        ]
        .into_iter()
        .map(|(i, n)| (i.parse().unwrap(), n.to_owned()))
        .collect();
        assert_eq!(h, want);
    }

    #[test]
    fn allowed_names_are_kept_past_the_cap() {
        let mut text = String::new();
        for i in 0..MAX_ENTRIES + 10 {
            text.push_str(&format!("10.0.{}.{} n{i}.internal\n", i / 250, i % 250));
        }
        text.push_str("127.0.0.7 svc.internal\n");
        let h = parse_keeping(&text, |n| n == b"svc.internal");
        assert_eq!(h.len(), MAX_ENTRIES + 1);
        assert_eq!(
            h.last().unwrap(),
            &("127.0.0.7".parse().unwrap(), "svc.internal".into())
        );
        assert!(!parse(&text).iter().any(|(_, n)| n == "svc.internal"));
    }
}
