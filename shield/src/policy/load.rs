//! Loading configuration from a policy file (TOML or JSON) and from `SHIELD_*` variables.

use super::{ModeKey, Raw};
use crate::error::{ConfigError, Source};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A snapshot of environment variables.
///
/// fnshield reads the environment exactly once, at cold start, and never again: code running
/// inside the function cannot loosen the shield with `std::env::set_var`.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Snapshot the process environment.
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made of the given pairs (for tests and embedding).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// One variable.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The environment variables fnshield reads.
pub const ENV_VARS: &[&str] = &[
    "SHIELD_CONFIG",
    "SHIELD_MODE",
    "SHIELD_POLICY_OUTBOUND_CONNECTIVITY",
    "SHIELD_POLICY_READ_WRITE_TMP",
    "SHIELD_POLICY_CREATE_CHILD_PROCESS",
    "SHIELD_POLICY_READ_HANDLER",
    "SHIELD_POLICY_INPUT_VALIDATION",
    "SHIELD_RESOLVE_NAMES",
];

/// Environment overrides, the last and strongest source.
pub(crate) fn from_env(env: &Env) -> Result<Raw, ConfigError> {
    let mut raw = Raw::default();
    for (k, _) in env.iter() {
        if k.starts_with("SHIELD_") && !ENV_VARS.contains(&k) {
            return Err(ConfigError::UnknownKey {
                source_name: "the environment".into(),
                key: k.into(),
                expected: ENV_VARS.join(", "),
            });
        }
    }
    if let Some(v) = env.get("SHIELD_MODE") {
        raw.modes.push((
            ModeKey::All,
            v.trim().to_owned(),
            Source::Env("SHIELD_MODE".into()),
        ));
    }
    for (var, key) in [
        ("SHIELD_POLICY_OUTBOUND_CONNECTIVITY", ModeKey::Outbound),
        ("SHIELD_POLICY_READ_WRITE_TMP", ModeKey::Tmp),
        ("SHIELD_POLICY_CREATE_CHILD_PROCESS", ModeKey::Child),
        ("SHIELD_POLICY_READ_HANDLER", ModeKey::ReadHandler),
        ("SHIELD_POLICY_INPUT_VALIDATION", ModeKey::Validation),
    ] {
        if let Some(v) = env.get(var) {
            raw.modes
                .push((key, v.trim().to_owned(), Source::Env(var.into())));
        }
    }
    if let Some(v) = env.get("SHIELD_RESOLVE_NAMES") {
        raw.resolve_names = Some((
            v.trim().to_owned(),
            Source::Env("SHIELD_RESOLVE_NAMES".into()),
        ));
    }
    Ok(raw)
}

/// Which policy file to read: `SHIELD_CONFIG`, else the builder's `config_file`, else
/// `$LAMBDA_TASK_ROOT/fnshield.toml` if it exists. `SHIELD_CONFIG` naming a missing file is
/// an error; the fallback is optional.
pub(crate) fn config_path(env: &Env, builder_file: Option<&Path>) -> Option<(PathBuf, bool)> {
    let task_root = env
        .get("LAMBDA_TASK_ROOT")
        .filter(|s| !s.is_empty())
        .unwrap_or("/var/task");
    if let Some(p) = env.get("SHIELD_CONFIG").filter(|s| !s.is_empty()) {
        return Some((PathBuf::from(p), true));
    }
    if let Some(p) = builder_file {
        let p = if p.is_relative() {
            Path::new(task_root).join(p)
        } else {
            p.to_owned()
        };
        return Some((p, true));
    }
    let fallback = Path::new(task_root).join("fnshield.toml");
    fallback.exists().then_some((fallback, false))
}

/// Parse a policy file; the format follows the extension (`.json` is JSON, anything else TOML).
pub(crate) fn from_file(path: &Path) -> Result<Raw, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
        path: path.to_owned(),
        error,
    })?;
    from_str(path, &text)
}

/// Parse policy text; `path` names the source in errors and picks the format.
pub(crate) fn from_str(path: &Path, text: &str) -> Result<Raw, ConfigError> {
    let value: Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?
    } else {
        let t: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        serde_json::to_value(t).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?
    };
    let mut w = Walker {
        path,
        raw: Raw::default(),
    };
    w.top(&value)?;
    Ok(w.raw)
}

struct Walker<'a> {
    path: &'a Path,
    raw: Raw,
}

const TOP_KEYS: &[&str] = &[
    "mode",
    "interceptor",
    "require_enforcement",
    "require_kernel_enforcement",
    "fail_on_block",
    "allow_runtime_tightening",
    "policy",
    "outbound_connectivity",
    "read_write_tmp",
    "create_child_process",
    "read_handler",
    "events",
    "tmp_wipe",
    "validation",
];

impl Walker<'_> {
    fn src(&self, key: &str) -> Source {
        Source::file(self.path, key)
    }

    fn table<'v>(
        &self,
        v: &'v Value,
        key: &str,
        allowed: &[&str],
    ) -> Result<&'v serde_json::Map<String, Value>, ConfigError> {
        let Value::Object(map) = v else {
            return Err(self.bad(key, v, "a table"));
        };
        for k in map.keys() {
            if !allowed.contains(&k.as_str()) {
                let full = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                return Err(ConfigError::UnknownKey {
                    source_name: self.path.display().to_string(),
                    key: full,
                    expected: allowed.join(", "),
                });
            }
        }
        Ok(map)
    }

    fn bad(&self, key: &str, v: &Value, expected: &str) -> ConfigError {
        ConfigError::BadValue {
            origin: self.src(key),
            value: v.to_string(),
            expected: expected.into(),
        }
    }

    fn string(&self, key: &str, v: &Value) -> Result<String, ConfigError> {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.bad(key, v, "a string"))
    }

    fn boolean(&self, key: &str, v: &Value) -> Result<bool, ConfigError> {
        v.as_bool().ok_or_else(|| self.bad(key, v, "true or false"))
    }

    fn list(&self, key: &str, v: &Value) -> Result<(Vec<String>, Source), ConfigError> {
        let Value::Array(items) = v else {
            return Err(self.bad(key, v, "a list of strings"));
        };
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            out.push(self.string(key, i)?);
        }
        Ok((out, self.src(key)))
    }

    fn mode(&mut self, key: &str, v: &Value, which: ModeKey) -> Result<(), ConfigError> {
        let s = self.string(key, v)?;
        self.raw.modes.push((which, s, self.src(key)));
        Ok(())
    }

    fn top(&mut self, v: &Value) -> Result<(), ConfigError> {
        let map = self.table(v, "", TOP_KEYS)?.clone();
        // The global mode first, so per-policy keys in the same file override it.
        if let Some(m) = map.get("mode") {
            self.mode("mode", m, ModeKey::All)?;
        }
        if let Some(p) = map.get("policy") {
            // FunctionShield's shape: policy.outbound_connectivity = "block", ...
            let t = self.table(
                p,
                "policy",
                &[
                    "outbound_connectivity",
                    "read_write_tmp",
                    "create_child_process",
                    "read_handler",
                ],
            )?;
            for (k, v) in t {
                let which = match k.as_str() {
                    "outbound_connectivity" => ModeKey::Outbound,
                    "read_write_tmp" => ModeKey::Tmp,
                    "create_child_process" => ModeKey::Child,
                    _ => ModeKey::ReadHandler,
                };
                self.mode(&format!("policy.{k}"), v, which)?;
            }
        }
        for (k, v) in &map {
            match k.as_str() {
                "mode" | "policy" => {}
                "interceptor" => self.raw.interceptor = Some((self.string(k, v)?, self.src(k))),
                "require_enforcement" => self.raw.require_enforcement = Some(self.boolean(k, v)?),
                "require_kernel_enforcement" => {
                    self.raw.require_kernel_enforcement = Some(self.boolean(k, v)?)
                }
                "fail_on_block" => self.raw.fail_on_block = Some(self.boolean(k, v)?),
                "allow_runtime_tightening" => {
                    self.raw.runtime_tightening = Some(self.boolean(k, v)?)
                }
                "outbound_connectivity" => {
                    let t =
                        self.table(v, k, &["mode", "allow", "aws_endpoints", "resolve_names"])?;
                    for (kk, vv) in t {
                        let key = format!("{k}.{kk}");
                        match kk.as_str() {
                            "mode" => self.mode(&key, vv, ModeKey::Outbound)?,
                            "allow" => self.raw.outbound_allow = Some(self.list(&key, vv)?),
                            "resolve_names" => {
                                self.raw.resolve_names =
                                    Some((self.string(&key, vv)?, self.src(&key)))
                            }
                            _ => self.raw.aws_endpoints = Some(self.boolean(&key, vv)?),
                        }
                    }
                }
                "read_write_tmp" => {
                    let t = self.table(
                        v,
                        k,
                        &[
                            "mode",
                            "read",
                            "write",
                            "root",
                            "allow",
                            "allow_read",
                            "allow_write",
                        ],
                    )?;
                    if let Some(m) = t.get("mode") {
                        self.mode("read_write_tmp.mode", m, ModeKey::Tmp)?;
                    }
                    for (kk, vv) in t {
                        let key = format!("{k}.{kk}");
                        match kk.as_str() {
                            "mode" => {}
                            "read" => self.mode(&key, vv, ModeKey::TmpRead)?,
                            "write" => self.mode(&key, vv, ModeKey::TmpWrite)?,
                            "root" => {
                                self.raw.tmp_root = Some((self.string(&key, vv)?, self.src(&key)))
                            }
                            "allow" => {
                                let l = self.list(&key, vv)?;
                                self.raw.tmp_allow_read = Some(l.clone());
                                self.raw.tmp_allow_write = Some(l);
                            }
                            "allow_read" => self.raw.tmp_allow_read = Some(self.list(&key, vv)?),
                            _ => self.raw.tmp_allow_write = Some(self.list(&key, vv)?),
                        }
                    }
                }
                "create_child_process" => {
                    let t = self.table(v, k, &["mode", "allow"])?;
                    for (kk, vv) in t {
                        let key = format!("{k}.{kk}");
                        match kk.as_str() {
                            "mode" => self.mode(&key, vv, ModeKey::Child)?,
                            _ => self.raw.exec_allow = Some(self.list(&key, vv)?),
                        }
                    }
                }
                "read_handler" => {
                    let t = self.table(v, k, &["mode", "protect"])?;
                    for (kk, vv) in t {
                        let key = format!("{k}.{kk}");
                        match kk.as_str() {
                            "mode" => self.mode(&key, vv, ModeKey::ReadHandler)?,
                            _ => self.raw.protect = Some(self.list(&key, vv)?),
                        }
                    }
                }
                "events" => {
                    let t = self.table(v, k, &["sinks", "emf_namespace"])?;
                    for (kk, vv) in t {
                        let key = format!("{k}.{kk}");
                        match kk.as_str() {
                            "sinks" => self.raw.sinks = Some(self.list(&key, vv)?),
                            _ => self.raw.emf_namespace = Some(self.string(&key, vv)?),
                        }
                    }
                }
                "tmp_wipe" => {
                    let t = self.table(v, k, &["enabled", "at_cold_start", "keep"])?;
                    for (kk, vv) in t {
                        let key = format!("{k}.{kk}");
                        match kk.as_str() {
                            "enabled" => self.raw.wipe_enabled = Some(self.boolean(&key, vv)?),
                            "at_cold_start" => {
                                self.raw.wipe_cold_start = Some(self.boolean(&key, vv)?)
                            }
                            _ => self.raw.wipe_keep = Some(self.list(&key, vv)?),
                        }
                    }
                }
                "validation" => {
                    if let Some(m) = v.get("mode") {
                        self.mode("validation.mode", m, ModeKey::Validation)?;
                    }
                    self.raw.validation = Some(v.clone());
                }
                _ => unreachable!("checked against TOP_KEYS"),
            }
        }
        Ok(())
    }
}
