//! Error types.

use std::fmt;
use std::path::PathBuf;

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// The builder in code.
    Builder,
    /// A policy file, with the key inside it (dotted, e.g. `read_write_tmp.allow_write`).
    File {
        /// The policy file's path.
        path: PathBuf,
        /// The dotted key.
        key: String,
    },
    /// An environment variable.
    Env(String),
}

impl Source {
    pub(crate) fn file(path: &std::path::Path, key: impl Into<String>) -> Self {
        Source::File {
            path: path.to_owned(),
            key: key.into(),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Builder => f.write_str("builder"),
            Source::File { path, key } => write!(f, "{} key `{}`", path.display(), key),
            Source::Env(v) => write!(f, "environment variable {v}"),
        }
    }
}

/// A configuration error. Every variant names where the bad value came from and what would
/// be valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A key that fnshield does not know.
    #[error("unknown key `{key}` in {source_name}; expected one of: {expected}")]
    UnknownKey {
        /// Where the value came from: the builder, a file and key, or an environment variable.
        source_name: String,
        /// The unknown key.
        key: String,
        /// The keys that are valid there.
        expected: String,
    },
    /// A mode that is not block, alert or allow.
    #[error("unknown mode `{value}` for {origin}; expected block, alert or allow")]
    UnknownMode {
        /// Where the value came from: the builder, a file and key, or an environment variable.
        origin: Source,
        /// The bad value.
        value: String,
    },
    /// A malformed CIDR, host pattern or port.
    #[error("invalid destination `{value}` in {origin}: {reason}. Expected a CIDR (10.0.0.0/8), an address, a host name (api.example.com) or a wildcard (*.example.com), each optionally with :port or :low-high")]
    BadDestination {
        /// Where the value came from: the builder, a file and key, or an environment variable.
        origin: Source,
        /// The bad value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A path that must be absolute is not.
    #[error("path `{value}` in {origin} is relative; write an absolute path such as `/tmp/cache`")]
    RelativePath {
        /// Where the value came from: the builder, a file and key, or an environment variable.
        origin: Source,
        /// The bad value.
        value: String,
    },
    /// A path is both allowed (by a tmp allowance) and protected (by read_handler).
    #[error("path `{path}` is allowed by {allowed_by} but protected by read_handler path `{protected}`; remove one of them")]
    AllowedAndProtected {
        /// The allowed path.
        path: String,
        /// The key that allows it.
        allowed_by: String,
        /// The protected path that covers it.
        protected: String,
    },
    /// A value of the wrong type or out of range.
    #[error("invalid value `{value}` for {origin}; expected {expected}")]
    BadValue {
        /// Where the value came from: the builder, a file and key, or an environment variable.
        origin: Source,
        /// The bad value, as written.
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// The policy file could not be read.
    #[error("cannot read policy file {}: {error}; fix the path in SHIELD_CONFIG or create the file", path.display())]
    Io {
        /// The policy file's path.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The policy file is not valid TOML or JSON.
    #[error("cannot parse policy file {}: {message}", path.display())]
    Parse {
        /// The policy file's path.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// Event validation could not be set up (bad schema, missing schema file).
    #[error("input validation: {0}")]
    Validation(String),
}

/// Why [`Shield::install`](crate::Shield::install) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// `require_enforcement` is set and a policy cannot be enforced, or
    /// `require_kernel_enforcement` is set and a policy is not enforced in the kernel.
    #[error("fnshield cannot enforce the policy as require_enforcement / require_kernel_enforcement demand:\n{0}")]
    NotEnforced(Box<crate::Enforcement>),
    /// A shield is already installed in this process.
    #[error("a shield is already installed in this process; install exactly one, at cold start")]
    AlreadyInstalled,
    /// Setting up a component failed.
    #[error("{0}")]
    Setup(String),
}
