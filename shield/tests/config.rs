//! Configuration: every error path names its source and what would be valid; precedence is
//! builder < file < environment.
#![allow(missing_docs, clippy::type_complexity)]

use fnshield::Env;
use fnshield::{ConfigError, Mode, NameResolution, Shield};

fn dir(name: &str, file: Option<(&str, &str)>) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("fnshield-config-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    if let Some((f, text)) = file {
        std::fs::write(d.join(f), text).unwrap();
    }
    d
}

fn build(
    file: Option<(&str, &str)>,
    env: &[(&str, &str)],
    b: impl FnOnce(fnshield::ShieldBuilder) -> fnshield::ShieldBuilder,
) -> Result<fnshield::Policy, ConfigError> {
    let name = format!(
        "{:x}",
        file.map_or(0, |(_, t)| t.len()) ^ (env.len() * 7919)
    );
    let d = dir(&name, file);
    let mut pairs = vec![("LAMBDA_TASK_ROOT".to_owned(), d.display().to_string())];
    if let Some((f, _)) = file {
        pairs.push(("SHIELD_CONFIG".to_owned(), d.join(f).display().to_string()));
    }
    pairs.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    b(Shield::builder()
        .env(Env::from_pairs(pairs))
        .resolv_conf(""))
    .build_policy()
}

fn err(file: Option<(&str, &str)>, env: &[(&str, &str)]) -> String {
    build(file, env, |b| b).expect_err("must fail").to_string()
}

#[test]
fn every_error_names_source_and_fix() {
    let cases: &[(Option<(&str, &str)>, &[(&str, &str)], &[&str])] = &[
        (
            Some(("p.toml", "bogus = 1\n")),
            &[],
            &["unknown key `bogus`", "p.toml", "outbound_connectivity"],
        ),
        (
            Some(("p.toml", "[read_handler]\nprotekt = []\n")),
            &[],
            &["read_handler.protekt", "protect"],
        ),
        (
            Some(("p.toml", "mode = \"alrt\"\n")),
            &[],
            &["unknown mode `alrt`", "key `mode`", "block, alert or allow"],
        ),
        (
            None,
            &[("SHIELD_MODE", "alrt")],
            &[
                "unknown mode `alrt`",
                "SHIELD_MODE",
                "block, alert or allow",
            ],
        ),
        (
            None,
            &[("SHIELD_POLICY_BOGUS", "block")],
            &["SHIELD_POLICY_BOGUS", "SHIELD_MODE"],
        ),
        (
            Some((
                "p.toml",
                "[outbound_connectivity]\nallow = [\"10.0.0.0/33\"]\n",
            )),
            &[],
            &["10.0.0.0/33", "outbound_connectivity.allow", "/33"],
        ),
        (
            Some((
                "p.toml",
                "[outbound_connectivity]\nallow = [\"ex*ample.com\"]\n",
            )),
            &[],
            &["ex*ample.com", "wildcard"],
        ),
        (
            Some((
                "p.toml",
                "[outbound_connectivity]\nallow = [\"h.com:99999\"]\n",
            )),
            &[],
            &["99999", "port"],
        ),
        (
            Some(("p.toml", "[create_child_process]\nallow = [\"bin/sh\"]\n")),
            &[],
            &["`bin/sh`", "relative", "create_child_process.allow"],
        ),
        (
            Some((
                "p.toml",
                "[read_write_tmp]\nallow = [\"/tmp/x\"]\n[read_handler]\nprotect = [\"/tmp/x\"]\n",
            )),
            &[],
            &["/tmp/x", "allow_read", "protected"],
        ),
        (
            Some((
                "p.toml",
                "[outbound_connectivity]\nresolve_names = \"some\"\n",
            )),
            &[],
            &[
                "`some`",
                "outbound_connectivity.resolve_names",
                "allowed",
                "any",
            ],
        ),
        (
            None,
            &[("SHIELD_RESOLVE_NAMES", "everything")],
            &["`everything`", "SHIELD_RESOLVE_NAMES", "allowed", "any"],
        ),
        (
            Some(("p.json", "{\"mode\": 3}")),
            &[],
            &["p.json", "key `mode`", "a string"],
        ),
        (
            Some(("p.toml", "mode = \n")),
            &[],
            &["cannot parse policy file", "p.toml"],
        ),
    ];
    for (file, env, needles) in cases {
        let msg = err(*file, env);
        for n in *needles {
            assert!(msg.contains(n), "`{msg}` lacks `{n}`");
        }
    }
    let missing = Shield::builder()
        .env(Env::from_pairs([(
            "SHIELD_CONFIG",
            "/nonexistent/fnshield.toml",
        )]))
        .build_policy()
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("/nonexistent/fnshield.toml") && missing.contains("SHIELD_CONFIG"),
        "{missing}"
    );
}

#[test]
fn precedence_builder_then_file_then_env() {
    // Default: block everywhere.
    let p = build(None, &[], |b| b).unwrap();
    assert_eq!(p.modes().outbound(), Mode::Block);
    // Builder alone.
    let p = build(None, &[], |b| b.outbound(Mode::Alert)).unwrap();
    assert_eq!(p.modes().outbound(), Mode::Alert);
    // The file overrides the builder.
    let f = Some(("p.toml", "[outbound_connectivity]\nmode = \"allow\"\n"));
    let p = build(f, &[], |b| b.outbound(Mode::Alert)).unwrap();
    assert_eq!(p.modes().outbound(), Mode::Allow);
    // SHIELD_MODE overrides both, for every policy.
    let p = build(f, &[("SHIELD_MODE", "alert")], |b| b.outbound(Mode::Block)).unwrap();
    assert_eq!(
        (
            p.modes().outbound(),
            p.modes().read_handler(),
            p.modes().validation()
        ),
        (Mode::Alert, Mode::Alert, Mode::Alert)
    );
    // SHIELD_POLICY_* overrides SHIELD_MODE for its policy.
    let p = build(
        f,
        &[
            ("SHIELD_MODE", "alert"),
            ("SHIELD_POLICY_READ_HANDLER", "block"),
        ],
        |b| b,
    )
    .unwrap();
    assert_eq!(
        (p.modes().outbound(), p.modes().read_handler()),
        (Mode::Alert, Mode::Block)
    );
    // Within the file, per-policy keys beat the file's global mode.
    let f2 = Some((
        "q.toml",
        "mode = \"alert\"\n[read_write_tmp]\nwrite = \"block\"\n",
    ));
    let p = build(f2, &[], |b| b).unwrap();
    assert_eq!(
        (p.modes().tmp_read(), p.modes().tmp_write()),
        (Mode::Alert, Mode::Block)
    );
    // FunctionShield's shape.
    let f3 = Some((
        "r.json",
        "{\"policy\": {\"outbound_connectivity\": \"alert\", \"create_child_process\": \"allow\"}}",
    ));
    let p = build(f3, &[], |b| b).unwrap();
    assert_eq!(
        (p.modes().outbound(), p.modes().child()),
        (Mode::Alert, Mode::Allow)
    );
    // Lists from a later source replace earlier ones.
    let f4 = Some((
        "s.toml",
        "[outbound_connectivity]\nallow = [\"10.0.0.0/8\"]\n",
    ));
    let p = build(f4, &[], |b| b.allow_destination("api.example.com")).unwrap();
    assert_eq!(
        p.outbound_allow()
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>(),
        ["10.0.0.0/8"]
    );
    // Name resolution: "allowed" by default; builder < file < environment.
    assert_eq!(
        build(None, &[], |b| b).unwrap().resolve_names(),
        NameResolution::Allowed
    );
    let any = |b: fnshield::ShieldBuilder| b.resolve_names(NameResolution::Any);
    assert_eq!(
        build(None, &[], any).unwrap().resolve_names(),
        NameResolution::Any
    );
    let f5 = Some((
        "t.toml",
        "[outbound_connectivity]\nresolve_names = \"allowed\"\n",
    ));
    assert_eq!(
        build(f5, &[], any).unwrap().resolve_names(),
        NameResolution::Allowed
    );
    assert_eq!(
        build(f5, &[("SHIELD_RESOLVE_NAMES", "any")], |b| b)
            .unwrap()
            .resolve_names(),
        NameResolution::Any
    );
    // Lambda facts.
    let p = build(
        None,
        &[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000"),
        ],
        |b| b.disallow_aws_endpoints(),
    )
    .unwrap();
    assert!(!p.aws_endpoints_allowed());
    assert!(p
        .always_reachable()
        .iter()
        .any(|d| d.to_string() == "169.254.79.129/32:2000"));
}
