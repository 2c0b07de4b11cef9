//! The reporter's folding, flushing and late-event tests.
use super::reporter::FlushSummary;
use super::*;
use crate::policy::Sinks;
use std::sync::Arc;
use std::sync::Mutex;

#[derive(Clone, Default)]
struct Out(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Out {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn ev(id: &str, path: &str) -> Event {
    Event::new(
        PolicyKind::ReadWriteTmp,
        Action::Blocked,
        Details::Path {
            path: path.into(),
            access: "write",
        },
        id,
    )
}

#[test]
fn folding_flushing_and_late_events() {
    let out = Out::default();
    let r = Reporter::with_writer(
        Sinks {
            tracing: false,
            json: true,
            emf: false,
        },
        "ns",
        "fn",
        None,
        Box::new(out.clone()),
    );
    r.record(ev("a", "/tmp/x"));
    r.record(ev("a", "/tmp/x"));
    r.record(ev("b", "/tmp/y"));
    assert_eq!(r.blocks_for("a"), 2);
    // Flushing `a` emits a's events (folded, count 2), not b's.
    assert_eq!(
        r.flush(Some("a")),
        FlushSummary {
            blocked: 1,
            alerted: 0
        }
    );
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains("\"count\":2") && text.contains("/tmp/x"));
    // An event of `a` that shows up after a's flush goes out with the next flush.
    r.record(ev("a", "/tmp/late"));
    assert_eq!(
        r.flush(Some("b")),
        FlushSummary {
            blocked: 2,
            alerted: 0
        }
    );
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("/tmp/late") && text.contains("/tmp/y"),
        "{text}"
    );
}

fn lines(out: &Out) -> Vec<serde_json::Value> {
    String::from_utf8(out.0.lock().unwrap().clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn json_and_emf() -> (Reporter, Out) {
    let out = Out::default();
    let sinks = Sinks {
        tracing: false,
        json: true,
        emf: true,
    };
    let r = Reporter::with_writer(sinks, "ns", "fn", None, Box::new(out.clone()));
    (r, out)
}

/// Item 5: an event's attribution is the same in its JSON line and in the EMF line that
/// counts it, also when a flush takes events of `unknown` or of an earlier invocation.
#[test]
fn every_sink_shows_the_same_attribution() {
    let (r, out) = json_and_emf();
    r.record(ev("a", "/tmp/x"));
    r.record(ev("unknown", "/tmp/u"));
    r.flush(Some("a"));
    let got = lines(&out);
    for json in got.iter().filter(|l| l["function_shield"] == true) {
        let path = json["details"]["path"].as_str().unwrap();
        let emf: Vec<_> = got
            .iter()
            .filter(|l| l["_aws"].is_object() && l["request_id"] == json["request_id"])
            .collect();
        assert_eq!(emf.len(), 1, "{path}: {got:?}");
        assert_eq!(emf[0]["read_write_tmp_blocked"], 1, "{got:?}");
    }
    assert_eq!(got.iter().filter(|l| l["_aws"].is_object()).count(), 2);
}

/// Item 4: one EMF line per invocation, carrying the wipe's figures; none when nothing
/// happened; a wipe that removed nothing adds nothing.
#[test]
fn one_emf_line_per_invocation_with_the_wipe() {
    let (r, out) = json_and_emf();
    let nothing = WipeFigures::default();
    r.note_wipe("a", nothing);
    r.flush(Some("a"));
    assert!(lines(&out).is_empty());
    r.record(ev("b", "/tmp/x"));
    r.note_wipe(
        "b",
        WipeFigures {
            files_removed: 1,
            ..nothing
        },
    );
    r.flush(Some("b"));
    let got = lines(&out);
    let emf: Vec<_> = got.iter().filter(|l| l["_aws"].is_object()).collect();
    assert_eq!(emf.len(), 1, "{got:?}");
    assert_eq!(emf[0]["FilesRemoved"], 1);
    assert_eq!(emf[0]["read_write_tmp_blocked"], 1);
    assert_eq!(emf[0]["level"], "ERROR");
    assert_eq!(
        emf[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
        "FunctionName"
    );
    assert_eq!(emf[0]["FunctionName"], "fn");
    // A wipe that removed something, in an invocation without events: its own line.
    r.note_wipe(
        "c",
        WipeFigures {
            files_removed: 2,
            ..nothing
        },
    );
    r.flush(Some("c"));
    let got = lines(&out);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[2]["request_id"], "c");
    assert_eq!(got[2]["FilesRemoved"], 2);
}
