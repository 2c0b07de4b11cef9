//! `AWS_LAMBDA_RUNTIME_API` in every form `lambda_runtime` accepts.
//!
//! `lambda_runtime` (through `lambda_runtime_api_client`) turns the variable into an
//! `http::Uri` and sends each request to that URI's scheme and authority, with the URI's path
//! (trailing `/` trimmed) in front of `/2018-06-01/...`. So all of these work:
//!
//! | value | connects to | path prefix |
//! |---|---|---|
//! | `127.0.0.1:9001` (Lambda) | 127.0.0.1 port 9001 | none |
//! | `[::1]:9001` | ::1 port 9001 | none |
//! | `localhost:9001` | what `localhost` resolves to | none |
//! | `http://127.0.0.1:9001` | 127.0.0.1 port 9001 | none |
//! | `http://[::]:9125/.rt/myfn` (cargo-lambda) | :: port 9125 (the local host) | `/.rt/myfn` |
//! | `http://localhost` | `localhost` port 80 | none |
//!
//! [`RuntimeApi::parse`] reads the same shapes; the shield keeps the endpoint reachable in
//! every mode and posts init errors to `<prefix>/2018-06-01/runtime/init/error`.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The Runtime API endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeApi {
    host: Host,
    port: u16,
    base_path: String,
    authority: String,
}

/// The host part of the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IP address (IPv6 given in brackets).
    Ip(IpAddr),
    /// A name, resolved when the endpoint is used.
    Name(String),
}

/// Why `AWS_LAMBDA_RUNTIME_API` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("AWS_LAMBDA_RUNTIME_API `{value}` is not understood ({why}); expected host:port, [v6]:port or http://host:port/optional/prefix")]
pub struct RuntimeApiError {
    value: String,
    why: &'static str,
}

impl RuntimeApi {
    /// Reads the value of `AWS_LAMBDA_RUNTIME_API`.
    ///
    /// # Errors
    /// [`RuntimeApiError`] when the value has an unsupported scheme, no host, a bad port, or
    /// an unterminated IPv6 bracket.
    pub fn parse(value: &str) -> Result<Self, RuntimeApiError> {
        let err = |why| RuntimeApiError {
            value: value.to_owned(),
            why,
        };
        let v = value.trim();
        let (default_port, rest) = match v.find("://") {
            Some(i) => match v[..i].to_ascii_lowercase().as_str() {
                "http" => (80, &v[i + 3..]),
                "https" => (443, &v[i + 3..]),
                _ => return Err(err("the scheme must be http")),
            },
            None => (80, v),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        // The path only: a query or fragment is not part of the prefix.
        let path = &tail[..tail.find(['?', '#']).unwrap_or(tail.len())];
        let base_path = path.trim_end_matches('/').to_owned();
        // user:password@host:port: the userinfo plays no part in the connection.
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
            let (ip, after) = inner
                .split_once(']')
                .ok_or_else(|| err("unterminated `[`"))?;
            let ip: IpAddr = ip
                .split('%')
                .next()
                .unwrap_or(ip)
                .parse()
                .map_err(|_| err("bad IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| err("junk after `]`"))?),
            };
            (Host::Ip(ip), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (host_of(h), Some(p)),
                None => (host_of(hostport), None),
            }
        };
        if matches!(&host, Host::Name(n) if n.is_empty()) {
            return Err(err("no host"));
        }
        let port = match port {
            None | Some("") => default_port,
            Some(p) => p.parse().map_err(|_| err("bad port"))?,
        };
        Ok(Self {
            host,
            port,
            base_path,
            authority: hostport.to_owned(),
        })
    }

    /// The host.
    #[cfg(test)]
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port (80 when none is given).
    #[cfg(test)]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path prefix without a trailing `/` (empty for none), e.g. `/.rt/myfn`.
    #[cfg(test)]
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// `host[:port]` as given, for a `Host` header.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The addresses to connect to: the IP, or what the name resolves to now.
    ///
    /// # Errors
    /// The resolver's error for a name that cannot be resolved.
    pub fn socket_addrs(&self) -> std::io::Result<Vec<SocketAddr>> {
        match &self.host {
            Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, self.port)]),
            Host::Name(n) => Ok((n.as_str(), self.port).to_socket_addrs()?.collect()),
        }
    }

    /// The full path of a Runtime API resource, e.g. `path("/runtime/init/error")` gives
    /// `/.rt/myfn/2018-06-01/runtime/init/error`.
    pub fn path(&self, resource: &str) -> String {
        format!("{}/2018-06-01{resource}", self.base_path)
    }
}

fn host_of(s: &str) -> Host {
    match s.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(s.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Host {
        Host::Ip(s.parse().unwrap())
    }

    #[test]
    fn every_form_lambda_runtime_accepts() {
        for (value, host, port, prefix) in [
            ("127.0.0.1:9001", ip("127.0.0.1"), 9001, ""),
            ("[::1]:9001", ip("::1"), 9001, ""),
            ("localhost:9001", Host::Name("localhost".into()), 9001, ""),
            ("http://127.0.0.1:9001", ip("127.0.0.1"), 9001, ""),
            ("http://127.0.0.1:9001/", ip("127.0.0.1"), 9001, ""),
            ("http://[::]:9125/.rt/myfn", ip("::"), 9125, "/.rt/myfn"),
            ("HTTP://[::]:9125/.rt/myfn/", ip("::"), 9125, "/.rt/myfn"),
            ("http://[fe80::1%eth0]:80/x?y#z", ip("fe80::1"), 80, "/x"),
            ("http://localhost", Host::Name("localhost".into()), 80, ""),
            ("http://user:pw@10.0.0.1:8080/p", ip("10.0.0.1"), 8080, "/p"),
            (
                "https://api.local/p",
                Host::Name("api.local".into()),
                443,
                "/p",
            ),
        ] {
            let api = RuntimeApi::parse(value).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(
                (api.host(), api.port(), api.base_path()),
                (&host, port, prefix),
                "{value}"
            );
        }
        let api = RuntimeApi::parse("http://[::]:9125/.rt/myfn").unwrap();
        assert_eq!(
            api.path("/runtime/init/error"),
            "/.rt/myfn/2018-06-01/runtime/init/error"
        );
        assert_eq!(api.authority(), "[::]:9125");
        assert_eq!(
            RuntimeApi::parse("127.0.0.1:9001")
                .unwrap()
                .path("/runtime/invocation/next"),
            "/2018-06-01/runtime/invocation/next"
        );
    }

    #[test]
    fn bad_values_are_errors_that_say_what_is_expected() {
        for bad in [
            "",
            "ftp://1.2.3.4:1",
            "[::1:9001",
            "[::1]x",
            "host:port",
            "1.2.3.4:99999",
            "http:///x",
        ] {
            let e = RuntimeApi::parse(bad).expect_err(bad);
            assert!(e.to_string().contains("expected host:port"), "{e}");
        }
    }
}
