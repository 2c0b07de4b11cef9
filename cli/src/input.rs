//! Finding fnshield's event lines in the shapes in which users get their logs.
//!
//! The input is streamed: one line (or one CSV record, or one element of a JSON array) is in
//! memory at a time. The shape is recognised from the start of each input:
//!
//! | input starts with | read as |
//! |---|---|
//! | `[` | a CloudWatch Logs Insights JSON export: an array of objects whose `@message` holds the line |
//! | a header line naming `@message` | a Logs Insights CSV export |
//! | anything else | lines, each of which may be any of the shapes below |
//!
//! Within a line the event is the first JSON object from which an object with
//! `"function_shield": true` can be reached, directly or through a `message`, `@message`,
//! `msg`, `log` or `fields` member, as an object or as a string holding JSON. That covers:
//! - the bare line the function printed (`cargo lambda watch`, plain stdout);
//! - the text log format `timestamp requestId LEVEL {json}` (tabs or spaces);
//! - the JSON log format, with the event as the `message` object or string;
//! - `aws logs tail` (`timestamp stream {json}`) and `sam logs` (`stream timestamp {json}`);
//! - ANSI colour codes (stripped first).
//!
//! A line that does not mention `function_shield` is skipped without being parsed. A line
//! that mentions it but holds no parseable JSON object is counted as malformed.

use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;
use std::io::{self, BufRead, Read};

/// What reading found, line by line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Lines (CSV records, JSON array elements) read.
    pub lines: u64,
    /// fnshield events found.
    pub events: u64,
    /// Lines that are not fnshield events (other logs, EMF metric lines, blank lines).
    pub skipped: u64,
    /// Lines that mention `function_shield` but hold no event that could be read.
    pub malformed: u64,
}

impl Counts {
    /// Add another input's counts.
    pub fn add(&mut self, o: Counts) {
        self.lines += o.lines;
        self.events += o.events;
        self.skipped += o.skipped;
        self.malformed += o.malformed;
    }
}

/// What one line holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// An fnshield event (the object with `"function_shield": true`).
    Event(Value),
    /// Not an fnshield event.
    Skipped,
    /// Mentions `function_shield` but could not be read.
    Malformed,
}

const MARK: &[u8] = b"function_shield";
/// How many `{` a line may start a parse attempt at.
const MAX_TRIES: usize = 8;
/// How deep `message` wrappers are followed.
const MAX_DEPTH: u8 = 4;
/// Members that wrap the logged line in the shapes above.
const WRAPPERS: [&str; 5] = ["message", "@message", "msg", "log", "fields"];

/// Look for an fnshield event in one line of text.
pub fn find_in_line(line: &str) -> Found {
    if memchr::memmem::find(line.as_bytes(), MARK).is_none() {
        return Found::Skipped;
    }
    let stripped;
    let line = if line.contains('\x1b') {
        stripped = strip_ansi(line);
        stripped.as_str()
    } else {
        line
    };
    find_in_text(line, 0)
}

fn find_in_text(text: &str, depth: u8) -> Found {
    let mut found = Found::Malformed;
    for (i, _) in text.match_indices('{').take(MAX_TRIES) {
        let mut de = serde_json::Deserializer::from_str(&text[i..]);
        // The object may be followed by other text (a trailing field, `\r`): parse one value.
        if let Ok(v) = serde::Deserialize::deserialize(&mut de) {
            match dig(v, depth) {
                Found::Event(e) => return Found::Event(e),
                // A wrapper whose message mentions the mark but is broken stays malformed.
                Found::Malformed => {}
                Found::Skipped => found = Found::Skipped,
            }
        }
    }
    found
}

/// The event inside `v`, following wrapper members.
fn dig(v: Value, depth: u8) -> Found {
    if depth > MAX_DEPTH {
        return Found::Skipped;
    }
    match v {
        Value::Object(mut m) => {
            if m.get("function_shield") == Some(&Value::Bool(true)) {
                return Found::Event(Value::Object(m));
            }
            let mut found = Found::Skipped;
            for k in WRAPPERS {
                if let Some(inner) = m.remove(k) {
                    match dig(inner, depth + 1) {
                        Found::Event(e) => return Found::Event(e),
                        Found::Malformed => found = Found::Malformed,
                        Found::Skipped => {}
                    }
                }
            }
            found
        }
        Value::String(s) if memchr::memmem::find(s.as_bytes(), MARK).is_some() => {
            find_in_text(&s, depth + 1)
        }
        _ => Found::Skipped,
    }
}

/// Remove ANSI escape sequences (CSI `ESC [ … final`, and lone `ESC x`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if it.peek() == Some(&'[') {
            it.next();
            for c in it.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            it.next();
        }
    }
    out
}

/// Read one input to its end, calling `on_event` for every event found.
///
/// # Errors
/// An I/O error reading the input. Malformed content is counted, never an error, except that
/// a Logs Insights JSON export that stops being valid JSON ends there (what came before is
/// kept, and the rest is counted as one malformed line).
pub fn read(mut input: impl BufRead, on_event: &mut dyn FnMut(Value)) -> io::Result<Counts> {
    let mut counts = Counts::default();
    // Skip a UTF-8 byte-order mark and leading whitespace to see the first byte.
    let first = loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(counts);
        }
        let n = buf
            .iter()
            .take_while(|b| b.is_ascii_whitespace() || matches!(b, 0xEF | 0xBB | 0xBF))
            .count();
        if n < buf.len() {
            let b = buf[n];
            input.consume(n);
            break b;
        }
        let len = buf.len();
        input.consume(len);
    };
    if first == b'[' && opens_array_of_records(input.fill_buf()?) {
        read_json_array(input, &mut counts, on_event)?;
        return Ok(counts);
    }
    let mut line = Vec::new();
    input.read_until(b'\n', &mut line)?;
    if is_csv_header(&line) {
        read_csv(io::Cursor::new(line).chain(input), &mut counts, on_event);
        return Ok(counts);
    }
    loop {
        if !line.is_empty() {
            counts.lines += 1;
            let text = String::from_utf8_lossy(&line);
            match find_in_line(&text) {
                Found::Event(v) => {
                    counts.events += 1;
                    on_event(v);
                }
                Found::Skipped => counts.skipped += 1,
                Found::Malformed => counts.malformed += 1,
            }
        }
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(counts);
        }
    }
}

/// Whether `buf` (starting at a `[`) opens a JSON array of records (`[ {` or `[ ]`), and not
/// a log line that starts with a bracket (`[INFO] …`, `[2026-11-18 …]`).
fn opens_array_of_records(buf: &[u8]) -> bool {
    match buf[1..].iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b) => matches!(b, b'{' | b']'),
        // Only whitespace in the buffer after `[`: an array is the likelier reading.
        None => true,
    }
}

fn is_csv_header(line: &[u8]) -> bool {
    line.first() != Some(&b'{') && memchr::memmem::find(line, b"@message").is_some()
}

fn read_csv(input: impl Read, counts: &mut Counts, on_event: &mut dyn FnMut(Value)) {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(input);
    let column = rdr
        .byte_headers()
        .ok()
        .and_then(|h| h.iter().position(|f| f == b"@message"));
    let mut record = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(false) => return,
            Ok(true) => {
                counts.lines += 1;
                let field = column.and_then(|c| record.get(c));
                // Without an @message column (or a short row), any field holding the mark.
                let field = field.or_else(|| {
                    record
                        .iter()
                        .find(|f| memchr::memmem::find(f, MARK).is_some())
                });
                let found = match field {
                    Some(f) => find_in_line(&String::from_utf8_lossy(f)),
                    None => Found::Skipped,
                };
                match found {
                    Found::Event(v) => {
                        counts.events += 1;
                        on_event(v);
                    }
                    Found::Skipped => counts.skipped += 1,
                    Found::Malformed => counts.malformed += 1,
                }
            }
            Err(e) if e.is_io_error() => {
                counts.malformed += 1;
                return;
            }
            Err(_) => {
                counts.lines += 1;
                counts.malformed += 1;
            }
        }
    }
}

fn read_json_array(
    input: impl BufRead,
    counts: &mut Counts,
    on_event: &mut dyn FnMut(Value),
) -> io::Result<()> {
    struct Each<'a> {
        counts: &'a mut Counts,
        on_event: &'a mut dyn FnMut(Value),
    }
    impl<'de> Visitor<'de> for Each<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON array of log records")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(v) = seq.next_element::<Value>()? {
                self.counts.lines += 1;
                match dig(v, 0) {
                    Found::Event(v) => {
                        self.counts.events += 1;
                        (self.on_event)(v);
                    }
                    Found::Skipped => self.counts.skipped += 1,
                    Found::Malformed => self.counts.malformed += 1,
                }
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_reader(input);
    let each = Each { counts, on_event };
    match (&mut de).deserialize_seq(each) {
        Ok(()) => Ok(()),
        Err(e) if e.is_io() => Err(io::Error::other(e)),
        Err(_) => {
            // The rest of the array is unreadable: one malformed record.
            counts.malformed += 1;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(line: &str) -> Option<Value> {
        match find_in_line(line) {
            Found::Event(v) => Some(v),
            _ => None,
        }
    }

    const EVENT: &str = r#"{"function_shield":true,"policy":"read_write_tmp","mode":"alert","action":"alerted","details":{"path":"/tmp/a","access":"write"},"timestamp":"2026-11-18T11:06:40.123Z","request_id":"r1","function_name":"f","pid":7,"count":1}"#;

    #[test]
    fn every_line_shape() {
        let escaped = serde_json::to_string(EVENT).unwrap();
        for line in [
            EVENT.to_owned(),
            format!("2026-11-18T11:06:40.123Z r1 INFO {EVENT}"),
            format!("2026-11-18T11:06:40.123Z\tr1\tINFO\t{EVENT}\r"),
            format!(r#"{{"timestamp":"x","level":"INFO","message":{EVENT},"requestId":"r1"}}"#),
            format!(r#"{{"timestamp":"x","level":"INFO","message":{escaped}}}"#),
            format!("2026-11-18T11:06:40.123000+00:00 2026/11/18/[$LATEST]abc {EVENT}"),
            format!("\x1b[2m2026-11-18\x1b[0m \x1b[32mINFO\x1b[0m {EVENT}"),
        ] {
            let v = ev(&line).unwrap_or_else(|| panic!("no event in {line}"));
            assert_eq!(v["details"]["path"], "/tmp/a", "{line}");
        }
    }

    #[test]
    fn noise_and_broken_lines() {
        assert_eq!(find_in_line("START RequestId: r1"), Found::Skipped);
        assert_eq!(find_in_line(r#"{"_aws":{"Timestamp":1}}"#), Found::Skipped);
        assert_eq!(
            find_in_line(r#"{"function_shield":true,"policy":"#),
            Found::Malformed
        );
        assert_eq!(
            find_in_line(r#"{"function_shield":false,"policy":"x"}"#),
            Found::Skipped
        );
        assert_eq!(find_in_line("user says function_shield"), Found::Malformed);
    }

    #[test]
    fn csv_and_json_array() {
        let escaped = EVENT.replace('"', "\"\"");
        let csv = format!("@timestamp,@message\n2026-11-18 11:06:40.123,\"{escaped}\"\n2026-11-18 11:06:41.000,START RequestId: r1\n");
        let mut n = 0;
        let c = read(csv.as_bytes(), &mut |_| n += 1).unwrap();
        assert_eq!((n, c.events, c.skipped, c.lines), (1, 1, 1, 2));
        let js = serde_json::json!([
            {"@timestamp": "t", "@message": EVENT},
            {"@timestamp": "t", "@message": "END RequestId: r1"},
        ])
        .to_string();
        let c = read(js.as_bytes(), &mut |_| {}).unwrap();
        assert_eq!((c.events, c.skipped), (1, 1));
        let broken = format!(
            r#"[{{"@message": {}}}, {{"@mess"#,
            serde_json::to_string(EVENT).unwrap()
        );
        let c = read(broken.as_bytes(), &mut |_| {}).unwrap();
        assert_eq!((c.events, c.malformed), (1, 1));
    }
}
