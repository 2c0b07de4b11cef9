//! Every input format gives the same answer; noise and malformed lines are skipped and
//! counted; `suggest`'s configuration is valid and `check` replays against it.
#![allow(missing_docs)]

mod common;
use common::{data, fnshield, scratch};

/// The fixtures: the same staging log in every shape (see cli/tests/data/README.md).
const FORMATS: [&str; 8] = [
    "stdout.log",
    "text-format.log",
    "json-format.log",
    "aws-logs-tail.log",
    "sam-logs.log",
    "insights.csv",
    "insights.json",
    "cargo-lambda-watch.log",
];

/// The suggestion without its first line (which names the input).
fn body(s: &str) -> String {
    s.lines().skip(1).collect::<Vec<_>>().join("\n")
}

#[test]
fn every_format_gives_the_same_suggestion_and_counts() {
    let reference = fnshield(&["suggest", data("stdout.log").to_str().unwrap()], b"");
    assert_eq!(reference.code, Some(0), "{reference:?}");
    for f in FORMATS {
        let r = fnshield(&["suggest", data(f).to_str().unwrap()], b"");
        assert_eq!(r.code, Some(0), "{f}: {r:?}");
        // cargo lambda watch adds its own lines: one skipped, one malformed (mentions the
        // mark without JSON).
        let (lines, skipped, malformed) = if f == "cargo-lambda-watch.log" {
            (24, 6, 3)
        } else {
            (22, 5, 2)
        };
        let summary = format!(
            "{lines} lines read: 15 fnshield events, {skipped} other lines skipped, {malformed} malformed"
        );
        assert!(r.stderr.contains(&summary), "{f}: {}", r.stderr);
        let strip = |s: &str| body(s).replace(&summary, "");
        let want = strip(&reference.stdout).replace(
            "22 lines read: 15 fnshield events, 5 other lines skipped, 2 malformed",
            "",
        );
        assert_eq!(strip(&r.stdout), want, "{f}");
    }
}

#[test]
fn stdin_reads_like_a_file() {
    let text = std::fs::read(data("json-format.log")).unwrap();
    let r = fnshield(&["suggest"], &text);
    assert_eq!(r.code, Some(0));
    assert!(r.stdout.contains("from stdin."), "{}", r.stdout);
    assert!(r.stderr.contains("15 fnshield events"));
}

#[test]
fn the_suggestion_allows_what_was_seen() {
    let r = fnshield(&["suggest", data("stdout.log").to_str().unwrap()], b"");
    let doc: toml_edit::DocumentMut = r.stdout.parse().expect("the suggestion is TOML");
    let list = |section: &str, key: &str| -> Vec<String> {
        doc[section][key]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    // By learnt name where the event has one (two IPs, one entry), else by IP; with ports.
    assert_eq!(
        list("outbound_connectivity", "allow"),
        [
            "api.example.com:443",
            "198.51.100.7:5432",
            "cdn.example.net:53"
        ]
    );
    // /tmp/cache/a.json and /tmp/cache/sub/b.json collapse to /tmp/cache; a file directly
    // in the root stays itself; a child process's path counts like the function's.
    assert_eq!(
        list("read_write_tmp", "allow_read"),
        ["/tmp/cache", "/tmp/repo"]
    );
    assert_eq!(
        list("read_write_tmp", "allow_write"),
        ["/tmp/cache", "/tmp/repo", "/tmp/report.txt"]
    );
    assert_eq!(list("create_child_process", "allow"), ["/usr/bin/git"]);
    for section in [
        "outbound_connectivity",
        "read_write_tmp",
        "create_child_process",
        "read_handler",
    ] {
        assert_eq!(doc[section]["mode"].as_str(), Some("block"), "{section}");
    }
    // Each entry's comment: count (folded counts summed), first and last seen, a request id.
    assert!(r.stdout.contains(
        "# 4 times, first 2026-11-18T11:06:01.000Z, last 2026-11-18T11:06:06.000Z, e.g. request req-1; seen at 192.0.2.10, 192.0.2.11\n    \"api.example.com:443\","
    ), "{}", r.stdout);
    assert!(r.stdout.contains("by child process /usr/bin/git"));
    assert!(r
        .stdout
        .contains("# Rule: each path is allowed through the directory"));
    // read_handler stays in block with a warning; lost events warn of an incomplete answer.
    assert!(r
        .stdout
        .contains("# WARNING: read_handler fired on /proc/self/environ"));
    assert!(r.stdout.contains(
        "# WARNING: 5 events were lost (the event ring was full): this answer may be incomplete"
    ));
}

#[test]
fn nothing_observed_stays_block() {
    let line = r#"{"function_shield":true,"policy":"outbound_connectivity","mode":"alert","action":"alerted","details":{"ip":"192.0.2.1","port":80},"timestamp":"2026-11-18T11:06:01.000Z","request_id":"r","count":1}"#;
    let r = fnshield(&["suggest"], line.as_bytes());
    let doc: toml_edit::DocumentMut = r.stdout.parse().unwrap();
    assert_eq!(doc["read_write_tmp"]["mode"].as_str(), Some("block"));
    assert!(doc["read_write_tmp"].get("allow_read").is_none());
    assert!(doc["create_child_process"].get("allow").is_none());
    assert_eq!(
        r.stdout
            .matches("# Nothing was observed for this policy: it stays in block.")
            .count(),
        3
    );
}

#[test]
fn check_reports_what_would_still_be_blocked_and_fails() {
    let dir = scratch("check");
    let suggested = dir.join("fnshield.toml");
    let s = fnshield(&["suggest", data("stdout.log").to_str().unwrap()], b"");
    std::fs::write(&suggested, &s.stdout).unwrap();
    let r = fnshield(
        &[
            "check",
            "--config",
            suggested.to_str().unwrap(),
            data("insights.csv").to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    // What no entry can allow: the protected path and the packet socket.
    assert!(
        r.stdout
            .contains("would block: 2 operations, 2 occurrences"),
        "{}",
        r.stdout
    );
    assert!(r
        .stdout
        .contains("  read_handler read /proc/self/environ  [1 time"));
    assert!(r
        .stdout
        .contains("  outbound_connectivity packet socket (AF_PACKET)  [1 time"));
    assert!(r.stdout.contains("would alert: 0 operations"));
    assert!(r
        .stdout
        .contains("result: FAIL: 2 occurrences of 2 operations would be blocked"));
    assert!(r.stdout.contains("WARNING: 5 events were lost"));

    // Allowing read_handler and alerting on outbound: nothing would be blocked, exit 0.
    let relaxed = dir.join("relaxed.toml");
    std::fs::write(
        &relaxed,
        s.stdout
            .replace(
                "[read_handler]\nmode = \"block\"",
                "[read_handler]\nmode = \"allow\"",
            )
            .replace(
                "[outbound_connectivity]\nmode = \"block\"",
                "[outbound_connectivity]\nmode = \"alert\"",
            ),
    )
    .unwrap();
    let r = fnshield(
        &[
            "check",
            "--config",
            relaxed.to_str().unwrap(),
            data("stdout.log").to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.contains("result: nothing would be blocked"));
    assert!(
        r.stdout
            .contains("would alert: 1 operations, 1 occurrences"),
        "{}",
        r.stdout
    );

    // Alert mode for outbound: reported as alerts, still exit 0.
    let empty = dir.join("alert.toml");
    std::fs::write(
        &empty,
        "mode = \"allow\"\n[outbound_connectivity]\nmode = \"alert\"\n",
    )
    .unwrap();
    let r = fnshield(
        &[
            "check",
            "--config",
            empty.to_str().unwrap(),
            data("stdout.log").to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    // Two entries for api.example.com (two addresses), one by IP, three bypasses.
    assert!(
        r.stdout
            .contains("would alert: 6 operations, 9 occurrences"),
        "{}",
        r.stdout
    );
}

#[test]
fn bad_configuration_and_input_fail_with_status_2() {
    let dir = scratch("bad");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[outbound_connectivity]\nmode = \"blok\"\n").unwrap();
    let r = fnshield(&["check", "--config", bad.to_str().unwrap()], b"");
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("unknown mode `blok`"), "{}", r.stderr);
    let r = fnshield(&["suggest", dir.join("missing.log").to_str().unwrap()], b"");
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("missing.log"), "{}", r.stderr);
    // Binary garbage is skipped, never a crash.
    let r = fnshield(&["suggest"], &[0xff, 0xfe, b'{', 0, b'\n', b'[', b'\n']);
    assert_eq!(r.code, Some(0), "{r:?}");
}

#[test]
fn logged_text_cannot_write_configuration() {
    // A path with a newline must not end the comment or the string it appears in.
    let line = serde_json::json!({
        "function_shield": true, "policy": "read_write_tmp", "mode": "alert", "action": "alerted",
        "details": {"path": "/tmp/x\nmode = \"allow\"\n[y]", "access": "write"},
        "timestamp": "2026-11-18T11:06:01.000Z", "request_id": "r\n[outbound_connectivity]",
        "count": 1
    })
    .to_string();
    let r = fnshield(&["suggest"], line.as_bytes());
    let doc: toml_edit::DocumentMut = r.stdout.parse().expect("still TOML");
    assert!(
        doc.get("mode").is_none() && doc.get("y").is_none(),
        "{}",
        r.stdout
    );
    assert_eq!(doc["read_write_tmp"]["mode"].as_str(), Some("block"));
    assert_eq!(
        doc["read_write_tmp"]["allow_write"][0].as_str(),
        Some("/tmp/x\nmode = \"allow\"\n[y]")
    );
}

#[test]
fn config_prints_only_the_additions_as_a_diff() {
    let dir = scratch("diff");
    let existing = dir.join("fnshield.toml");
    let text = "# our production policy\n[outbound_connectivity]\nallow = [\"api.example.com:443\"] # the API\n\n[read_handler]\nmode = \"block\"\n";
    std::fs::write(&existing, text).unwrap();
    let r = fnshield(
        &[
            "suggest",
            "--config",
            existing.to_str().unwrap(),
            data("stdout.log").to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let name = existing.to_str().unwrap();
    assert!(
        r.stdout.starts_with(&format!("--- {name}\n+++ {name}\n")),
        "{}",
        r.stdout
    );
    let added: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    let values: Vec<&str> = added
        .iter()
        .map(|l| l[1..].trim())
        .filter(|l| l.starts_with('"'))
        .collect();
    // Already allowed: api.example.com:443 (its inline list is laid out one item per line).
    // Everything else is an addition.
    assert_eq!(
        values,
        [
            "\"api.example.com:443\",",
            "\"198.51.100.7:5432\",",
            "\"cdn.example.net:53\",",
            "\"/tmp/cache\",",
            "\"/tmp/repo\",",
            "\"/tmp/cache\",",
            "\"/tmp/repo\",",
            "\"/tmp/report.txt\",",
            "\"/usr/bin/git\","
        ],
        "{}",
        r.stdout
    );
    // Nothing of the user's file is removed: the one changed line is the inline list.
    let removed: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with('-') && !l.starts_with("---"))
        .collect();
    assert_eq!(
        removed,
        ["-allow = [\"api.example.com:443\"] # the API"],
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\n+] # the API\n"), "{}", r.stdout);
    // A configuration that already allows everything: an empty diff.
    let full = dir.join("full.toml");
    let s = fnshield(&["suggest", data("stdout.log").to_str().unwrap()], b"");
    std::fs::write(&full, &s.stdout).unwrap();
    let r = fnshield(
        &[
            "suggest",
            "--config",
            full.to_str().unwrap(),
            data("stdout.log").to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(r.code, Some(0));
    assert!(
        !r.stdout
            .lines()
            .any(|l| l.starts_with("+ ") || l.starts_with("+\"")),
        "{}",
        r.stdout
    );
}

#[test]
fn the_diff_applies_with_patch_and_then_nothing_is_missing() {
    // `patch` is part of the machine image CI runs on; say so plainly if it is not.
    let Ok(status) = std::process::Command::new("patch")
        .arg("--version")
        .output()
    else {
        panic!("this test needs `patch` (GNU patch) on PATH");
    };
    assert!(status.status.success());
    let dir = scratch("patch");
    let existing = dir.join("fnshield.toml");
    std::fs::write(
        &existing,
        "# ours\n[outbound_connectivity]\nallow = [\"api.example.com:443\"]\n\n[read_write_tmp]\nallow = [\"/tmp/cache\"]\n",
    )
    .unwrap();
    let log = data("aws-logs-tail.log");
    let r = fnshield(
        &[
            "suggest",
            "--config",
            existing.to_str().unwrap(),
            log.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let out = std::process::Command::new("patch")
        .arg(&existing)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(r.stdout.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        r.stdout
    );
    // With `allow` (both lists) in the file, reads and writes are added to it, once each.
    let patched = std::fs::read_to_string(&existing).unwrap();
    assert_eq!(patched.matches("\"/tmp/repo\",").count(), 1, "{patched}");
    // The patched file lacks only what no entry can allow: the environ read, the packet socket.
    let r = fnshield(
        &[
            "check",
            "--config",
            existing.to_str().unwrap(),
            log.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stdout
            .contains("would block: 2 operations, 2 occurrences"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("read_handler read /proc/self/environ"));
}
