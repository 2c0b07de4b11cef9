//! Decoding steps shared by the envelopes: field access, base64, decompression and limited
//! parsing. Every failure is a masked [`Violation`] located in the original event.

use std::io::Read;

use base64::Engine as _;
use serde_json::Value;

use super::super::limits::{self, Limits};
use super::super::{Violation, ViolationKind};

pub(crate) fn malformed(location: &str, message: impl Into<String>) -> Violation {
    Violation::new(
        location.to_owned(),
        message.into(),
        ViolationKind::Malformed,
    )
}

/// Parses JSON bytes within the limits, checked in the same pass ([`limits::parse`]).
pub(crate) fn parse_limited(
    bytes: &[u8],
    location: &str,
    what: &str,
    limits: &Limits,
) -> Result<Value, Violation> {
    limits::parse(bytes, limits).map_err(|e| match e {
        limits::ParseError::Limit(e) => {
            Violation::new(location.to_owned(), e.to_string(), ViolationKind::Limit)
        }
        // serde_json's messages name the position and category, never the input text.
        limits::ParseError::Json(e) => malformed(
            location,
            format!(
                "{what} is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        ),
    })
}

/// `v[key]`, which must be present and not `null`.
pub(crate) fn field<'a>(v: &'a Value, key: &str, location: &str) -> Result<&'a Value, Violation> {
    match v.get(key) {
        Some(Value::Null) | None => Err(malformed(
            location,
            format!("missing `{key}`: the event does not have the shape this envelope expects"),
        )),
        Some(x) => Ok(x),
    }
}

/// `v[key]`, which must be a string.
pub(crate) fn string_field<'a>(
    v: &'a Value,
    key: &str,
    location: &str,
) -> Result<&'a str, Violation> {
    field(v, key, location)?.as_str().ok_or_else(|| {
        malformed(
            &format!("{location}/{}", escape_token(key)),
            format!("`{key}` must be a string"),
        )
    })
}

pub(crate) fn decode_base64(s: &str, location: &str) -> Result<Vec<u8>, Violation> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim_end())
        .map_err(|_| malformed(location, "payload is not valid base64"))
}

/// The compression a payload's first bytes announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    Gzip,
    Zlib,
}

/// Recognises gzip (`1f 8b`) and zlib (`78` then a valid check byte) by their magic bytes. No
/// JSON text starts with either byte, so plain JSON is never taken for compressed data.
pub(crate) fn compression(bytes: &[u8]) -> Option<Compression> {
    match bytes {
        [0x1f, 0x8b, ..] => Some(Compression::Gzip),
        [0x78, flg, ..] if (0x7800u16 | u16::from(*flg)).is_multiple_of(31) => {
            Some(Compression::Zlib)
        }
        _ => None,
    }
}

/// Inflates with the output capped at `limits.max_bytes`.
pub(crate) fn inflate_limited(
    bytes: &[u8],
    kind: Compression,
    location: &str,
    limits: &Limits,
) -> Result<Vec<u8>, Violation> {
    let cap = limits.max_bytes as u64;
    // A guess at the inflated size (JSON compresses 4-10x), capped: fewer reallocations while
    // reading, and never more than `max_bytes + 1` reserved up front.
    let guess = bytes.len().saturating_mul(4).clamp(256, 64 * 1024);
    let mut out = Vec::with_capacity(guess.min(limits.max_bytes.saturating_add(1)));
    // The `bufread` decoders read the slice in place (a `&[u8]` is `BufRead`): no 32 KiB
    // intermediate buffer, as the `read` decoders allocate and zero for every payload.
    let read = match kind {
        Compression::Gzip => flate2::bufread::MultiGzDecoder::new(bytes)
            .take(cap.saturating_add(1))
            .read_to_end(&mut out),
        Compression::Zlib => flate2::bufread::ZlibDecoder::new(bytes)
            .take(cap.saturating_add(1))
            .read_to_end(&mut out),
    };
    read.map_err(|_| {
        let name = match kind {
            Compression::Gzip => "gzip",
            Compression::Zlib => "zlib",
        };
        malformed(location, format!("payload is not valid {name}"))
    })?;
    if out.len() as u64 > cap {
        return Err(Violation::new(
            location.to_owned(),
            limits::LimitExceeded::Size {
                limit: limits.max_bytes,
            }
            .to_string(),
            ViolationKind::Limit,
        ));
    }
    Ok(out)
}

/// Gunzips (CloudWatch Logs always compresses).
pub(crate) fn gunzip_limited(
    bytes: &[u8],
    location: &str,
    limits: &Limits,
) -> Result<Vec<u8>, Violation> {
    if compression(bytes) != Some(Compression::Gzip) {
        return Err(malformed(location, "payload is not valid gzip"));
    }
    inflate_limited(bytes, Compression::Gzip, location, limits)
}

/// A base64 stream payload (Kinesis, Firehose, Kafka): decoded, decompressed when its magic
/// bytes say gzip or zlib, then parsed as JSON within the limits.
pub(crate) fn base64_json(
    data: &str,
    location: &str,
    what: &str,
    limits: &Limits,
) -> Result<Value, Violation> {
    let bytes = decode_base64(data, location)?;
    match compression(&bytes) {
        Some(kind) => {
            let inflated = inflate_limited(&bytes, kind, location, limits)?;
            parse_limited(&inflated, location, what, limits)
        }
        None => parse_limited(&bytes, location, what, limits),
    }
}

/// Escapes one JSON Pointer reference token.
pub(crate) fn escape_token(token: &str) -> String {
    if token.contains(['~', '/']) {
        token.replace('~', "~0").replace('/', "~1")
    } else {
        token.to_owned()
    }
}

/// Resolves an RFC 6901 pointer (already syntax-checked by [`super::Envelope::pointer`]).
pub(crate) fn resolve_pointer<'a>(event: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut cur = event;
    for raw in pointer.split('/').skip(1) {
        let token = raw.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            Value::Object(m) => m.get(&token)?,
            Value::Array(a) => {
                // RFC 6901: decimal digits, no leading zeros (except "0" itself), no sign.
                if token.is_empty()
                    || !token.bytes().all(|b| b.is_ascii_digit())
                    || (token.len() > 1 && token.starts_with('0'))
                {
                    return None;
                }
                a.get(token.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lim(max_bytes: usize) -> Limits {
        Limits {
            max_bytes,
            ..Limits::default()
        }
    }

    #[test]
    fn magic_bytes() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"{}").unwrap();
        let gz = gz.finish().unwrap();
        let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        zl.write_all(b"{}").unwrap();
        let zl = zl.finish().unwrap();
        assert_eq!(compression(&gz), Some(Compression::Gzip));
        assert_eq!(compression(&zl), Some(Compression::Zlib));
        for json in [&b"{}"[..], b"[1]", b"\"x\"", b"  {}", b"1", b"true", b"x"] {
            assert_eq!(compression(json), None, "{json:?}");
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(&zl);
        assert_eq!(
            base64_json(&b64, "/d", "data", &lim(100)).unwrap(),
            serde_json::json!({})
        );
    }

    #[test]
    fn inflation_stops_at_the_cap() {
        let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        zl.write_all(&[b' '; 1 << 20]).unwrap();
        let zl = zl.finish().unwrap();
        let v = inflate_limited(&zl, Compression::Zlib, "/d", &lim(1000)).unwrap_err();
        assert_eq!(v.kind(), ViolationKind::Limit);
        assert_eq!(v.path(), "/d");
    }
}
