//! The policy model: four runtime policies, their allowances, and how configuration from
//! code, a policy file and the environment is merged and validated.
//!
//! Precedence: the builder in code, then the policy file, then `SHIELD_*` environment
//! variables; each overrides the one before, key by key. Within one source, a global `mode`
//! is applied first and per-policy modes after it. Lists (allowed destinations, paths) are
//! replaced, not merged, by a later source that sets the same key.

pub mod hosts;
pub(crate) mod load;
mod mode;
pub(crate) mod path;
pub(crate) mod runtime_api;

pub use fnshield_dest::{canonical, Destination, HostPattern, IpNet, PortRange, Target};
pub use load::Env;
pub use mode::{Mode, PolicyKind, UnknownMode};

use crate::error::{ConfigError, Source};
use std::path::{Path, PathBuf};

/// Which interceptor carries out kernel enforcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum InterceptorChoice {
    /// SIGSYS trap when no child process can run, otherwise seccomp user notification.
    #[default]
    Auto,
    /// Force the SIGSYS trap interceptor.
    Trap,
    /// Force the user-notification interceptor.
    Notify,
}

impl InterceptorChoice {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "trap" => Some(Self::Trap),
            "notify" => Some(Self::Notify),
            _ => None,
        }
    }
}

/// Which host names code may look up through the resolver entry points (`getaddrinfo`,
/// `gethostbyname*`) while `outbound_connectivity` blocks. Key
/// `outbound_connectivity.resolve_names`, variable `SHIELD_RESOLVE_NAMES`, builder
/// [`crate::ShieldBuilder::resolve_names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NameResolution {
    /// `"allowed"` (the default): only names that an allow entry or the AWS suffixes cover, names
    /// from `/etc/hosts` and numeric addresses. Any other lookup fails as "name not found"
    /// (`EAI_NONAME`, `HOST_NOT_FOUND`) and is reported before any query leaves, which closes
    /// DNS-query exfiltration for code that uses the resolver.
    #[default]
    Allowed,
    /// `"any"`: every name resolves (connections are still decided by address). Needed when
    /// CIDR allow entries are reached by names that no host entry lists.
    Any,
}

impl NameResolution {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "allowed" => Some(Self::Allowed),
            "any" => Some(Self::Any),
            _ => None,
        }
    }
}

/// Where events go. Several sinks can be on at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sinks {
    pub(crate) tracing: bool,
    pub(crate) json: bool,
    pub(crate) emf: bool,
}

impl Default for Sinks {
    fn default() -> Self {
        Sinks {
            tracing: false,
            json: true,
            emf: true,
        }
    }
}

impl Sinks {
    /// No sink at all (a user callback may still be set).
    pub const NONE: Sinks = Sinks {
        tracing: false,
        json: false,
        emf: false,
    };

    /// Parse a list of sink names: `tracing`, `json` (FunctionShield-shaped stdout line), `emf`.
    ///
    /// # Errors
    ///
    /// A message naming the first unknown sink and the valid names.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut s = Sinks::NONE;
        for n in names {
            match n {
                "tracing" => s.tracing = true,
                "json" => s.json = true,
                "emf" => s.emf = true,
                other => return Err(format!("unknown sink `{other}`")),
            }
        }
        Ok(s)
    }
}

/// /tmp wipe settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WipeSettings {
    pub(crate) enabled: bool,
    pub(crate) at_cold_start: bool,
    pub(crate) keep: Vec<PathBuf>,
}

impl Default for WipeSettings {
    fn default() -> Self {
        WipeSettings {
            enabled: true,
            at_cold_start: false,
            keep: Vec::new(),
        }
    }
}

/// Per-policy modes. `tmp_read` and `tmp_write` are the two halves of `read_write_tmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Modes {
    pub(crate) outbound: Mode,
    pub(crate) tmp_read: Mode,
    pub(crate) tmp_write: Mode,
    pub(crate) child: Mode,
    pub(crate) read_handler: Mode,
    pub(crate) validation: Mode,
}

impl Modes {
    fn set_all(&mut self, m: Mode) {
        *self = Modes {
            outbound: m,
            tmp_read: m,
            tmp_write: m,
            child: m,
            read_handler: m,
            validation: m,
        };
    }

    /// The mode of `outbound_connectivity`.
    pub fn outbound(&self) -> Mode {
        self.outbound
    }
    /// The mode for reads under the tmp root.
    pub fn tmp_read(&self) -> Mode {
        self.tmp_read
    }
    /// The mode for writes under the tmp root.
    pub fn tmp_write(&self) -> Mode {
        self.tmp_write
    }
    /// The mode of `create_child_process`.
    pub fn child(&self) -> Mode {
        self.child
    }
    /// The mode of `read_handler`.
    pub fn read_handler(&self) -> Mode {
        self.read_handler
    }
    /// The mode of `input_validation`.
    pub fn validation(&self) -> Mode {
        self.validation
    }
}

/// A validated, immutable policy. Build one with [`crate::Shield::builder`].
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) modes: Modes,
    pub(crate) outbound_allow: Vec<Destination>,
    pub(crate) aws_endpoints: bool,
    pub(crate) resolve_names: NameResolution,
    pub(crate) always_reachable: Vec<Destination>,
    pub(crate) tmp_root: PathBuf,
    pub(crate) tmp_allow_read: Vec<PathBuf>,
    pub(crate) tmp_allow_write: Vec<PathBuf>,
    pub(crate) exec_allow: Vec<PathBuf>,
    pub(crate) task_root: PathBuf,
    pub(crate) protected: Vec<PathBuf>,
    pub(crate) interceptor: InterceptorChoice,
    pub(crate) require_enforcement: bool,
    pub(crate) require_kernel_enforcement: bool,
    pub(crate) fail_on_block: bool,
    pub(crate) runtime_tightening: bool,
    pub(crate) sinks: Sinks,
    pub(crate) emf_namespace: String,
    pub(crate) wipe: WipeSettings,
    pub(crate) validation: Option<serde_json::Value>,
    pub(crate) function_name: String,
    /// Names from `/etc/hosts` (or the builder's `hosts_file` text), read at cold start.
    pub(crate) hosts_file: Vec<(std::net::IpAddr, String)>,
}

/// The AWS service endpoint suffixes allowed by default.
pub const AWS_ENDPOINT_SUFFIXES: [&str; 3] = ["amazonaws.com", "api.aws", "amazonaws.com.cn"];

impl Policy {
    /// The (address, name) pairs read from `/etc/hosts` at cold start: a connection to such an
    /// address matches allowlist entries by that name too. See the `hosts` module.
    pub fn hosts_file(&self) -> &[(std::net::IpAddr, String)] {
        &self.hosts_file
    }
    /// Per-policy modes.
    pub fn modes(&self) -> &Modes {
        &self.modes
    }
    /// Allowed outbound destinations, as configured.
    #[doc(hidden)] // for tests, through `internals::Destination`
    pub fn outbound_allow(&self) -> &[Destination] {
        &self.outbound_allow
    }
    /// Whether `*.amazonaws.com`, `*.api.aws` and `*.amazonaws.com.cn` are allowed.
    pub fn aws_endpoints_allowed(&self) -> bool {
        self.aws_endpoints
    }
    /// Which names the resolver entry points may look up under outbound `block`.
    pub fn resolve_names(&self) -> NameResolution {
        self.resolve_names
    }
    /// Destinations reachable whatever the mode: the Runtime API, the X-Ray daemon, the
    /// resolvers on port 53, `127.0.0.1` and `::1`.
    #[doc(hidden)] // for tests, through `internals::Destination`
    pub fn always_reachable(&self) -> &[Destination] {
        &self.always_reachable
    }
    /// The tmp root (default `/tmp`).
    pub fn tmp_root(&self) -> &Path {
        &self.tmp_root
    }
    /// Sub-paths of the tmp root that may be read.
    pub fn tmp_allow_read(&self) -> &[PathBuf] {
        &self.tmp_allow_read
    }
    /// Sub-paths of the tmp root that may be written.
    pub fn tmp_allow_write(&self) -> &[PathBuf] {
        &self.tmp_allow_write
    }
    /// Executables that may be run.
    pub fn exec_allow(&self) -> &[PathBuf] {
        &self.exec_allow
    }
    /// `$LAMBDA_TASK_ROOT`, default `/var/task`.
    pub fn task_root(&self) -> &Path {
        &self.task_root
    }
    /// Paths protected by `read_handler` (a `*` component matches any one component).
    pub fn protected(&self) -> &[PathBuf] {
        &self.protected
    }
    /// The interceptor choice.
    pub fn interceptor(&self) -> InterceptorChoice {
        self.interceptor
    }
    /// Whether install fails when a policy cannot be enforced.
    pub fn require_enforcement(&self) -> bool {
        self.require_enforcement
    }
    /// Whether install fails unless every policy that is not `allow` is enforced in the kernel
    /// (seccomp), not by the in-process libc layer alone.
    pub fn require_kernel_enforcement(&self) -> bool {
        self.require_kernel_enforcement
    }
    /// Whether an invocation with a block returns `Shield.Blocked`.
    pub fn fail_on_block(&self) -> bool {
        self.fail_on_block
    }
    /// Whether policies in `allow` are still intercepted so they can be tightened at run time.
    pub fn runtime_tightening(&self) -> bool {
        self.runtime_tightening
    }
    /// The event sinks.
    pub(crate) fn sinks(&self) -> Sinks {
        self.sinks
    }
    /// The CloudWatch EMF namespace.
    pub fn emf_namespace(&self) -> &str {
        &self.emf_namespace
    }
    /// /tmp wipe settings.
    pub(crate) fn wipe(&self) -> &WipeSettings {
        &self.wipe
    }
    /// The `[validation]` table as configured, if any.
    pub fn validation_config(&self) -> Option<&serde_json::Value> {
        self.validation.as_ref()
    }
    /// `AWS_LAMBDA_FUNCTION_NAME` at build time.
    pub fn function_name(&self) -> &str {
        &self.function_name
    }
    /// Whether a child process may ever run under this policy.
    pub fn children_may_run(&self) -> bool {
        self.modes.child != Mode::Block || !self.exec_allow.is_empty()
    }
}

/// Raw, unvalidated settings; every source writes into one of these.
#[derive(Debug, Clone, Default)]
pub(crate) struct Raw {
    pub modes: Vec<(ModeKey, String, Source)>,
    pub outbound_allow: Option<(Vec<String>, Source)>,
    pub aws_endpoints: Option<bool>,
    pub resolve_names: Option<(String, Source)>,
    pub tmp_root: Option<(String, Source)>,
    pub tmp_allow_read: Option<(Vec<String>, Source)>,
    pub tmp_allow_write: Option<(Vec<String>, Source)>,
    pub exec_allow: Option<(Vec<String>, Source)>,
    pub protect: Option<(Vec<String>, Source)>,
    pub interceptor: Option<(String, Source)>,
    pub require_enforcement: Option<bool>,
    pub require_kernel_enforcement: Option<bool>,
    pub fail_on_block: Option<bool>,
    pub runtime_tightening: Option<bool>,
    pub sinks: Option<(Vec<String>, Source)>,
    pub emf_namespace: Option<String>,
    pub wipe_enabled: Option<bool>,
    pub wipe_cold_start: Option<bool>,
    pub wipe_keep: Option<(Vec<String>, Source)>,
    pub validation: Option<serde_json::Value>,
}

/// Which mode a mode setting targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModeKey {
    All,
    Outbound,
    Tmp,
    TmpRead,
    TmpWrite,
    Child,
    ReadHandler,
    Validation,
}

impl Raw {
    /// Overlay `other` (a later source) onto `self`.
    pub fn overlay(&mut self, other: Raw) {
        self.modes.extend(other.modes);
        macro_rules! over {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        over!(
            outbound_allow,
            aws_endpoints,
            resolve_names,
            tmp_root,
            tmp_allow_read,
            tmp_allow_write,
            exec_allow,
            protect,
            interceptor,
            require_enforcement,
            require_kernel_enforcement,
            fail_on_block,
            runtime_tightening,
            sinks,
            emf_namespace,
            wipe_enabled,
            wipe_cold_start,
            wipe_keep,
            validation
        );
    }

    /// Validate into a [`Policy`]. `env` supplies the Lambda facts (task root, Runtime API,
    /// X-Ray daemon, function name) and `resolv_conf` the resolver list.
    ///
    /// # Errors
    ///
    /// As [`ShieldBuilder::build_policy`](crate::ShieldBuilder::build_policy).
    pub fn into_policy(self, env: &Env, resolv_conf: &str) -> Result<Policy, ConfigError> {
        let mut modes = Modes::default();
        for (key, value, source) in &self.modes {
            let m: Mode = value.parse().map_err(|_| ConfigError::UnknownMode {
                origin: source.clone(),
                value: value.clone(),
            })?;
            match key {
                ModeKey::All => modes.set_all(m),
                ModeKey::Outbound => modes.outbound = m,
                ModeKey::Tmp => {
                    modes.tmp_read = m;
                    modes.tmp_write = m;
                }
                ModeKey::TmpRead => modes.tmp_read = m,
                ModeKey::TmpWrite => modes.tmp_write = m,
                ModeKey::Child => modes.child = m,
                ModeKey::ReadHandler => modes.read_handler = m,
                ModeKey::Validation => modes.validation = m,
            }
        }

        let mut outbound_allow = Vec::new();
        if let Some((list, source)) = &self.outbound_allow {
            for v in list {
                outbound_allow.push(v.parse::<Destination>().map_err(|reason| {
                    ConfigError::BadDestination {
                        origin: source.clone(),
                        value: v.clone(),
                        reason,
                    }
                })?);
            }
        }

        let task_root = PathBuf::from(
            env.get("LAMBDA_TASK_ROOT")
                .filter(|s| !s.is_empty())
                .unwrap_or("/var/task"),
        );
        let tmp_root = match &self.tmp_root {
            Some((v, source)) => {
                let p = absolute(v, source)?;
                if p == Path::new("/") {
                    return Err(ConfigError::BadValue {
                        origin: source.clone(),
                        value: v.clone(),
                        expected: "a directory other than `/`, such as `/tmp`".into(),
                    });
                }
                p
            }
            None => PathBuf::from("/tmp"),
        };
        let under_root =
            |list: &Option<(Vec<String>, Source)>| -> Result<Vec<PathBuf>, ConfigError> {
                let mut out = Vec::new();
                if let Some((l, source)) = list {
                    for v in l {
                        let p = absolute(v, source)?;
                        if !p.starts_with(&tmp_root) {
                            return Err(ConfigError::BadValue {
                                origin: source.clone(),
                                value: v.clone(),
                                expected: format!(
                                    "a path under the tmp root {}",
                                    tmp_root.display()
                                ),
                            });
                        }
                        out.push(p);
                    }
                }
                Ok(out)
            };
        let tmp_allow_read = under_root(&self.tmp_allow_read)?;
        let tmp_allow_write = under_root(&self.tmp_allow_write)?;
        let wipe_keep = under_root(&self.wipe_keep)?;

        let abs_list = |list: &Option<(Vec<String>, Source)>| -> Result<Vec<PathBuf>, ConfigError> {
            let mut out = Vec::new();
            if let Some((l, source)) = list {
                for v in l {
                    out.push(absolute(v, source)?);
                }
            }
            Ok(out)
        };
        let exec_allow = abs_list(&self.exec_allow)?;
        let mut protected = vec![
            task_root.clone(),
            PathBuf::from("/opt"),
            PathBuf::from("/proc/self/exe"),
            PathBuf::from("/proc/*/exe"),
            PathBuf::from("/proc/*/task/*/exe"),
            PathBuf::from("/proc/*/environ"),
            PathBuf::from("/proc/*/task/*/environ"),
            PathBuf::from("/proc/*/mem"),
            PathBuf::from("/proc/*/task/*/mem"),
        ];
        protected.extend(abs_list(&self.protect)?);

        for (list, key) in [
            (&tmp_allow_read, "read_write_tmp.allow_read"),
            (&tmp_allow_write, "read_write_tmp.allow_write"),
        ] {
            for p in list {
                for prot in &protected {
                    if path::pattern_covers(
                        prot.as_os_str().as_encoded_bytes(),
                        p.as_os_str().as_encoded_bytes(),
                    ) || path::pattern_covers(
                        p.as_os_str().as_encoded_bytes(),
                        prot.as_os_str().as_encoded_bytes(),
                    ) {
                        return Err(ConfigError::AllowedAndProtected {
                            path: p.display().to_string(),
                            allowed_by: key.into(),
                            protected: prot.display().to_string(),
                        });
                    }
                }
            }
        }

        let interceptor = match &self.interceptor {
            Some((v, source)) => {
                InterceptorChoice::parse(v).ok_or_else(|| ConfigError::BadValue {
                    origin: source.clone(),
                    value: v.clone(),
                    expected: "auto, trap or notify".into(),
                })?
            }
            None => InterceptorChoice::Auto,
        };
        let resolve_names = match &self.resolve_names {
            Some((v, source)) => {
                NameResolution::parse(v.trim()).ok_or_else(|| ConfigError::BadValue {
                    origin: source.clone(),
                    value: v.clone(),
                    expected: "allowed (only names an allow entry or the AWS suffixes cover) or any (every name; connections are still decided by address)".into(),
                })?
            }
            None => NameResolution::default(),
        };
        let sinks =
            match &self.sinks {
                Some((names, source)) => Sinks::from_names(names.iter().map(String::as_str))
                    .map_err(|_| ConfigError::BadValue {
                        origin: source.clone(),
                        value: names.join(","),
                        expected: "a list of: tracing, json, emf".into(),
                    })?,
                None => Sinks::default(),
            };

        Ok(Policy {
            modes,
            outbound_allow,
            aws_endpoints: self.aws_endpoints.unwrap_or(true),
            resolve_names,
            always_reachable: always_reachable(env, resolv_conf),
            tmp_root,
            tmp_allow_read,
            tmp_allow_write,
            exec_allow,
            task_root,
            protected,
            interceptor,
            require_enforcement: self.require_enforcement.unwrap_or(false),
            require_kernel_enforcement: self.require_kernel_enforcement.unwrap_or(false),
            fail_on_block: self.fail_on_block.unwrap_or(false),
            runtime_tightening: self.runtime_tightening.unwrap_or(false),
            sinks,
            emf_namespace: self.emf_namespace.unwrap_or_else(|| "fnshield".into()),
            wipe: WipeSettings {
                enabled: self.wipe_enabled.unwrap_or(true),
                at_cold_start: self.wipe_cold_start.unwrap_or(false),
                keep: wipe_keep,
            },
            validation: self.validation,
            function_name: env
                .get("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or("unknown")
                .to_owned(),
            hosts_file: Vec::new(),
        })
    }
}

fn absolute(v: &str, source: &Source) -> Result<PathBuf, ConfigError> {
    if !v.starts_with('/') {
        return Err(ConfigError::RelativePath {
            origin: source.clone(),
            value: v.to_owned(),
        });
    }
    let mut buf = [0u8; path::PATH_MAX];
    match path::normalize(v.as_bytes(), &mut buf) {
        Some(n) => Ok(PathBuf::from(
            String::from_utf8_lossy(&buf[..n]).into_owned(),
        )),
        None => Err(ConfigError::BadValue {
            origin: source.clone(),
            value: v.to_owned(),
            expected: "a path shorter than 4096 bytes".into(),
        }),
    }
}

/// The destinations that stay reachable whatever the mode.
fn always_reachable(env: &Env, resolv_conf: &str) -> Vec<Destination> {
    let mut out = vec![
        Destination::net(
            IpNet::host("127.0.0.1".parse().expect("literal")),
            PortRange::ANY,
        ),
        Destination::net(IpNet::host("::1".parse().expect("literal")), PortRange::ANY),
    ];
    // The Runtime API in any form lambda_runtime accepts (host:port, [v6]:port, a URL with a
    // path prefix, a name), resolved now, at cold start.
    if let Some(v) = env.get("AWS_LAMBDA_RUNTIME_API") {
        if let Ok(api) = runtime_api::RuntimeApi::parse(v) {
            for sa in api.socket_addrs().unwrap_or_default() {
                out.push(Destination::net(
                    IpNet::host(sa.ip()),
                    PortRange::single(sa.port()),
                ));
            }
        }
    }
    for var in ["AWS_XRAY_DAEMON_ADDRESS"] {
        if let Some(v) = env.get(var) {
            // AWS_XRAY_DAEMON_ADDRESS may hold "tcp:ip:port udp:ip:port" or "ip:port".
            for part in v.split_whitespace() {
                let part = part
                    .strip_prefix("tcp:")
                    .or_else(|| part.strip_prefix("udp:"))
                    .unwrap_or(part);
                if let Ok(sa) = part.parse::<std::net::SocketAddr>() {
                    out.push(Destination::net(
                        IpNet::host(sa.ip()),
                        PortRange::single(sa.port()),
                    ));
                }
            }
        }
    }
    for line in resolv_conf.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            if let Some(ip) = words.next().and_then(|w| w.split('%').next()?.parse().ok()) {
                out.push(Destination::net(IpNet::host(ip), PortRange::single(53)));
            }
        }
    }
    out
}
