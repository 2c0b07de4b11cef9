//! `Shield`: configuration entry point and install.

use crate::error::InstallError;
use crate::error::{ConfigError, Source};
use crate::event::{Callback, Reporter};
use crate::intercept::enforcement::Enforcement;
use crate::policy::{
    load, Env, InterceptorChoice, Mode, ModeKey, NameResolution, Policy, PolicyKind, Raw,
};
use crate::validate::Screening;
use std::path::PathBuf;
use std::sync::Arc;

/// Builds a [`Shield`]. Every setting here can be overridden by the policy file and then by
/// `SHIELD_*` environment variables; see the README's configuration reference.
#[derive(Default, Clone)]
#[must_use]
pub struct ShieldBuilder {
    raw: Raw,
    config_file: Option<PathBuf>,
    env: Option<Env>,
    resolv_conf: Option<String>,
    hosts_file: Option<String>,
    callback: Option<Callback>,
    validator_json: Option<serde_json::Value>,
}

impl std::fmt::Debug for ShieldBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShieldBuilder")
            .field("raw", &self.raw)
            .finish_non_exhaustive()
    }
}

fn mode_entry(key: ModeKey, m: Mode) -> (ModeKey, String, Source) {
    (key, m.as_str().to_owned(), Source::Builder)
}

fn strings<I: IntoIterator<Item = S>, S: Into<String>>(i: I) -> Vec<String> {
    i.into_iter().map(Into::into).collect()
}

impl ShieldBuilder {
    /// Set every policy's mode (the staging switch; `SHIELD_MODE` overrides it).
    pub fn mode(mut self, m: Mode) -> Self {
        self.raw.modes.push(mode_entry(ModeKey::All, m));
        self
    }
    /// `outbound_connectivity` mode.
    pub fn outbound(mut self, m: Mode) -> Self {
        self.raw.modes.push(mode_entry(ModeKey::Outbound, m));
        self
    }
    /// `read_write_tmp` mode for both reads and writes.
    pub fn tmp(mut self, m: Mode) -> Self {
        self.raw.modes.push(mode_entry(ModeKey::Tmp, m));
        self
    }
    /// Mode for reads under the tmp root.
    pub fn tmp_read(mut self, m: Mode) -> Self {
        self.raw.modes.push(mode_entry(ModeKey::TmpRead, m));
        self
    }
    /// Mode for writes under the tmp root.
    pub fn tmp_write(mut self, m: Mode) -> Self {
        self.raw.modes.push(mode_entry(ModeKey::TmpWrite, m));
        self
    }
    /// `create_child_process` mode.
    pub fn child_process(mut self, m: Mode) -> Self {
        self.raw.modes.push(mode_entry(ModeKey::Child, m));
        self
    }
    /// `read_handler` mode.
    pub fn read_handler(mut self, m: Mode) -> Self {
        self.raw.modes.push(mode_entry(ModeKey::ReadHandler, m));
        self
    }
    /// `input_validation` mode.
    pub fn validation_mode(mut self, m: Mode) -> Self {
        self.raw.modes.push(mode_entry(ModeKey::Validation, m));
        self
    }
    /// Allow an outbound destination: a CIDR, an address, a host name or `*.suffix`, each
    /// with an optional `:port` or `:low-high`.
    pub fn allow_destination(mut self, d: impl Into<String>) -> Self {
        let list = &mut self
            .raw
            .outbound_allow
            .get_or_insert_with(|| (Vec::new(), Source::Builder))
            .0;
        list.push(d.into());
        self
    }
    /// Allow several outbound destinations.
    pub fn allow_destinations<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ds: I) -> Self {
        let list = &mut self
            .raw
            .outbound_allow
            .get_or_insert_with(|| (Vec::new(), Source::Builder))
            .0;
        list.extend(strings(ds));
        self
    }
    /// Stop allowing AWS service endpoints (`*.amazonaws.com`, `*.api.aws`,
    /// `*.amazonaws.com.cn`) by default.
    pub fn disallow_aws_endpoints(mut self) -> Self {
        self.raw.aws_endpoints = Some(false);
        self
    }
    /// The tmp root (default `/tmp`).
    pub fn tmp_root(mut self, p: impl Into<String>) -> Self {
        self.raw.tmp_root = Some((p.into(), Source::Builder));
        self
    }
    /// Allow reads under this sub-path of the tmp root.
    pub fn allow_tmp_read(mut self, p: impl Into<String>) -> Self {
        self.raw
            .tmp_allow_read
            .get_or_insert_with(|| (Vec::new(), Source::Builder))
            .0
            .push(p.into());
        self
    }
    /// Allow writes under this sub-path of the tmp root.
    pub fn allow_tmp_write(mut self, p: impl Into<String>) -> Self {
        self.raw
            .tmp_allow_write
            .get_or_insert_with(|| (Vec::new(), Source::Builder))
            .0
            .push(p.into());
        self
    }
    /// Allow reads and writes under this sub-path of the tmp root.
    pub fn allow_tmp(self, p: impl Into<String>) -> Self {
        let p = p.into();
        self.allow_tmp_read(p.clone()).allow_tmp_write(p)
    }
    /// Allow running this executable (absolute path).
    pub fn allow_exec(mut self, p: impl Into<String>) -> Self {
        self.raw
            .exec_allow
            .get_or_insert_with(|| (Vec::new(), Source::Builder))
            .0
            .push(p.into());
        self
    }
    /// Protect one more path from reading (`*` matches one component).
    pub fn protect_path(mut self, p: impl Into<String>) -> Self {
        self.raw
            .protect
            .get_or_insert_with(|| (Vec::new(), Source::Builder))
            .0
            .push(p.into());
        self
    }
    /// Which names the resolver entry points may look up while outbound connectivity blocks
    /// (default [`NameResolution::Allowed`]: only names an allow entry or the AWS suffixes
    /// cover). [`NameResolution::Any`] lets every name resolve, for CIDR allow entries reached
    /// by names no host entry lists; DNS queries are then a channel out (see the README).
    pub fn resolve_names(mut self, r: NameResolution) -> Self {
        let s = match r {
            NameResolution::Any => "any",
            _ => "allowed",
        };
        self.raw.resolve_names = Some((s.into(), Source::Builder));
        self
    }
    /// Choose the interceptor (default: automatic).
    pub fn interceptor(mut self, i: InterceptorChoice) -> Self {
        let s = match i {
            InterceptorChoice::Trap => "trap",
            InterceptorChoice::Notify => "notify",
            _ => "auto",
        };
        self.raw.interceptor = Some((s.into(), Source::Builder));
        self
    }
    /// Fail at cold start if a policy cannot be enforced.
    pub fn require_enforcement(mut self, yes: bool) -> Self {
        self.raw.require_enforcement = Some(yes);
        self
    }
    /// Fail at cold start unless every policy that is not `allow` is enforced in the kernel
    /// (seccomp). Without it, `require_enforcement` accepts the in-process libc layer alone
    /// (where seccomp is refused, as on Lambda with NoNewPrivs unset) as `PartiallyEnforced`.
    pub fn require_kernel_enforcement(mut self, yes: bool) -> Self {
        self.raw.require_kernel_enforcement = Some(yes);
        self
    }
    /// Turn an invocation with any block into a `Shield.Blocked` error.
    pub fn fail_on_block(mut self, yes: bool) -> Self {
        self.raw.fail_on_block = Some(yes);
        self
    }
    /// Keep intercepting policies that start in `allow`, so that they can be tightened later.
    pub fn allow_runtime_tightening(mut self, yes: bool) -> Self {
        self.raw.runtime_tightening = Some(yes);
        self
    }
    /// Event sinks by name: `tracing`, `json`, `emf`.
    pub fn sinks<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.raw.sinks = Some((strings(names), Source::Builder));
        self
    }
    /// The CloudWatch EMF namespace (default `fnshield`).
    pub fn emf_namespace(mut self, ns: impl Into<String>) -> Self {
        self.raw.emf_namespace = Some(ns.into());
        self
    }
    /// A callback that receives every emitted event.
    pub fn on_event(mut self, f: impl Fn(&crate::Event) + Send + Sync + 'static) -> Self {
        self.callback = Some(Arc::new(f));
        self
    }
    /// Wipe the tmp root after every invocation (default true).
    pub fn wipe_tmp(mut self, yes: bool) -> Self {
        self.raw.wipe_enabled = Some(yes);
        self
    }
    /// Also wipe the tmp root at cold start.
    pub fn wipe_tmp_at_cold_start(mut self, yes: bool) -> Self {
        self.raw.wipe_cold_start = Some(yes);
        self
    }
    /// Keep this sub-path of the tmp root when wiping.
    pub fn keep_tmp(mut self, p: impl Into<String>) -> Self {
        self.raw
            .wipe_keep
            .get_or_insert_with(|| (Vec::new(), Source::Builder))
            .0
            .push(p.into());
        self
    }
    /// Event validation settings, as the `[validation]` table of the policy file.
    pub fn validation(mut self, table: serde_json::Value) -> Self {
        self.validator_json = Some(table);
        self
    }
    /// The policy file to read when `SHIELD_CONFIG` is unset (relative paths are relative
    /// to `$LAMBDA_TASK_ROOT`).
    pub fn config_file(mut self, p: impl Into<PathBuf>) -> Self {
        self.config_file = Some(p.into());
        self
    }
    /// Use this environment instead of the process's (tests, embedding).
    pub fn env(mut self, env: Env) -> Self {
        self.env = Some(env);
        self
    }
    /// Use this text instead of `/etc/resolv.conf`.
    pub fn resolv_conf(mut self, text: impl Into<String>) -> Self {
        self.resolv_conf = Some(text.into());
        self
    }

    /// Use this text instead of `/etc/hosts` (the names whose addresses match allowlist
    /// entries by name). The file is read once, when the shield is built.
    pub fn hosts_file(mut self, text: impl Into<String>) -> Self {
        self.hosts_file = Some(text.into());
        self
    }

    /// Merge the builder, the policy file and the environment, and validate the result.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the key, its source (builder, file, environment variable) and
    /// the fix: an unknown key, a mode other than `block`/`alert`/`allow`, a malformed
    /// destination, a relative path, a path both allowed and protected, a value out of range,
    /// an unreadable or unparsable policy file, or an event schema that cannot be loaded.
    pub fn build_policy(&self) -> Result<Policy, ConfigError> {
        let env = self.env.clone().unwrap_or_else(Env::from_process);
        let mut raw = self.raw.clone();
        if let Some(v) = &self.validator_json {
            raw.validation = Some(v.clone());
        }
        if let Some((path, _required)) = load::config_path(&env, self.config_file.as_deref()) {
            raw.overlay(load::from_file(&path)?);
        }
        raw.overlay(load::from_env(&env)?);
        let resolv = match &self.resolv_conf {
            Some(t) => t.clone(),
            None => std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        };
        let hosts = match &self.hosts_file {
            Some(t) => t.clone(),
            None => std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
        };
        let mut policy = raw.into_policy(&env, &resolv)?;
        // Names an allowlist entry matches decide connections: kept wherever they are.
        let aws: Vec<_> = if policy.aws_endpoints_allowed() {
            crate::policy::AWS_ENDPOINT_SUFFIXES
                .iter()
                .map(|s| crate::policy::HostPattern::Suffix((*s).to_owned()))
                .collect()
        } else {
            Vec::new()
        };
        let allowed =
            |name: &[u8]| {
                policy.outbound_allow().iter().any(
                    |d| matches!(d.target(), crate::policy::Target::Host(h) if h.matches(name)),
                ) || aws.iter().any(|h| h.matches(name))
            };
        let hosts_file = crate::policy::hosts::parse_keeping(&hosts, allowed);
        policy.hosts_file = hosts_file;
        Ok(policy)
    }

    /// Build the shield (not yet installed; see [`Shield::install`]).
    ///
    /// # Errors
    ///
    /// Every [`ConfigError`] of [`build_policy`](Self::build_policy), and
    /// [`ConfigError::Validation`] when the event or response schemas cannot be compiled.
    pub fn build(self) -> Result<Shield, ConfigError> {
        let policy = self.build_policy()?;
        Shield::from_policy(policy, self.callback)
    }
}

/// The shield: a validated policy, its event reporter, and (once installed) its enforcement.
#[derive(Clone, Debug)]
pub struct Shield {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) policy: Policy,
    pub(crate) reporter: Arc<Reporter>,
    pub(crate) enforcement: std::sync::OnceLock<Enforcement>,
    /// Held shared by every invocation in flight; the tmp wipe takes it exclusively.
    pub(crate) tmp_gate: Arc<tokio::sync::RwLock<()>>,
    /// The compiled event validator, if validation is configured.
    pub(crate) validator: Option<crate::validate::Validator>,
    /// The tmp wiper, if wiping is on.
    pub(crate) wiper: Option<crate::wipe::TmpWiper>,
    /// What existed under the tmp root when the shield was installed, and what the function's
    /// cold-start code created after that (never wiped); `None` until installed.
    pub(crate) tmp_before: std::sync::Mutex<Option<crate::wipe::Snapshot>>,
    /// The first invocation has taken what cold start created into `tmp_before`.
    pub(crate) tmp_init_adopted: std::sync::Once,
    /// Verdicts of the outer layer's event screening, by request id.
    pub(crate) screenings: std::sync::Mutex<std::collections::HashMap<String, Screening>>,
}

impl Shield {
    /// Start configuring a shield: every policy `block` unless the builder, the policy file
    /// (`SHIELD_CONFIG` or `$LAMBDA_TASK_ROOT/fnshield.toml`) or the environment
    /// (`SHIELD_MODE`, `SHIELD_POLICY_*`) says otherwise, in increasing precedence.
    pub fn builder() -> ShieldBuilder {
        ShieldBuilder::default()
    }

    /// A shield from the policy file and environment only (all policies `block` by default).
    ///
    /// # Errors
    ///
    /// As [`ShieldBuilder::build`].
    pub fn from_env() -> Result<Shield, ConfigError> {
        Shield::builder().build()
    }

    fn from_policy(policy: Policy, callback: Option<Callback>) -> Result<Shield, ConfigError> {
        let validator = match policy.validation_config() {
            None => None,
            Some(table) => {
                let cfg: crate::validate::ValidationConfig = serde_json::from_value(table.clone())
                    .map_err(|e| ConfigError::Validation(format!("[validation] table: {e}")))?;
                let mode = match policy.modes().validation() {
                    Mode::Block => crate::validate::Mode::Block,
                    Mode::Alert => crate::validate::Mode::Alert,
                    Mode::Allow => crate::validate::Mode::Allow,
                };
                let cfg = cfg.mode(mode);
                Some(
                    crate::validate::Validator::new(&cfg, policy.task_root())
                        .map_err(|e| ConfigError::Validation(e.to_string()))?,
                )
            }
        };
        let wiper = if policy.wipe().enabled {
            let wipe_err = |e: crate::wipe::WipeError| ConfigError::BadValue {
                origin: Source::Builder,
                value: policy.tmp_root().display().to_string(),
                expected: format!("a usable tmp root and keep-list for tmp_wipe ({e})"),
            };
            let mut cfg = crate::wipe::WipeConfig::new(policy.tmp_root()).map_err(wipe_err)?;
            for k in &policy.wipe().keep {
                cfg = cfg.keep(k).map_err(wipe_err)?;
            }
            Some(crate::wipe::TmpWiper::new(cfg))
        } else {
            None
        };
        let reporter = Arc::new(Reporter::new(
            policy.sinks(),
            policy.emf_namespace(),
            policy.function_name(),
            callback,
        ));
        Ok(Shield {
            inner: Arc::new(Inner {
                policy,
                reporter,
                enforcement: std::sync::OnceLock::new(),
                tmp_gate: Arc::new(tokio::sync::RwLock::new(())),
                screenings: Default::default(),
                validator,
                wiper,
                tmp_before: std::sync::Mutex::new(None),
                tmp_init_adopted: std::sync::Once::new(),
            }),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The event reporter.
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn reporter(&self) -> &Arc<Reporter> {
        &self.inner.reporter
    }

    /// The enforcement report, once installed.
    pub fn enforcement(&self) -> Option<&Enforcement> {
        self.inner.enforcement.get()
    }

    /// Make a policy stricter at run time. Loosening is impossible; asking for a looser mode
    /// keeps the current one. Returns the mode now in force, or `None` if the shield is not
    /// installed or the policy's syscalls are not intercepted.
    pub fn tighten(&self, policy: PolicyKind, to: Mode) -> Option<Mode> {
        crate::intercept::tighten(policy, to)
    }
}

impl Shield {
    /// Install the shield in this process: probe the kernel, install one seccomp filter and
    /// arm the interceptor. Returns the [`Enforcement`] report. Call it once, at cold start,
    /// ideally before any other thread exists ([`crate::run`] and the attribute macro do).
    ///
    /// # Errors
    ///
    /// - [`InstallError::NotEnforced`] with the full report when `require_enforcement` is set
    ///   and a policy that is not `allow` is not enforced at all, or `require_kernel_enforcement`
    ///   is set and one is not enforced by seccomp (for example where `prctl` is refused, as on
    ///   Lambda with NoNewPrivs unset). Nothing is left half-installed.
    /// - [`InstallError::AlreadyInstalled`] when a shield is already installed in this process.
    /// - [`InstallError::Setup`] when a component the shield needs cannot start (the event
    ///   reporter thread, the notify supervisor); the message names it and the OS error.
    ///
    /// A kernel that refuses seccomp is not an error by itself: the report says what is
    /// enforced, by which mechanism, and why not.
    pub fn install(&self) -> Result<&Enforcement, InstallError> {
        if let Some(e) = self.inner.enforcement.get() {
            return Ok(e);
        }
        if let Some(w) = &self.inner.wiper {
            if self.inner.policy.wipe().at_cold_start {
                // Explicitly asked for: everything under the root goes, once.
                let report = w.wipe();
                if !report.is_clean() {
                    tracing::warn!(target: "fnshield", "cold-start wipe: {report}");
                }
            }
            // What exists now is never the function's to remove.
            let before = crate::wipe::Snapshot::take(w.root());
            if !before.is_complete() {
                tracing::warn!(
                    target: "fnshield",
                    entries = before.len(),
                    "the tmp root is too large or partly unreadable to record in full; entries not recorded are not protected from the wipe if the function writes to them"
                );
            }
            *self
                .inner
                .tmp_before
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(before);
            crate::wipe::journal::JOURNAL.arm(w.root());
        }
        // Before the filter: panics symbolize their backtrace on the shield's own thread.
        crate::intercept::panic::install();
        let report = crate::intercept::install(&self.inner.policy, &self.inner.reporter)?;
        let _ = self.inner.enforcement.set(report);
        Ok(self.inner.enforcement.get().expect("just set"))
    }
}
