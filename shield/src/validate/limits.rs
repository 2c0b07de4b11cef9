//! Resource limits applied to raw JSON bytes **before** they are parsed.
//!
//! Three limits protect the function from hostile or accidental oversized input:
//!
//! | limit           | default        | checked on                                        |
//! |-----------------|----------------|---------------------------------------------------|
//! | `max_bytes`     | 6 MiB          | the raw event, and every decoded payload (a base64-decoded body, a gunzipped CloudWatch Logs batch) |
//! | `max_depth`     | 64             | nesting of arrays and objects                     |
//! | `max_array_len` | 10 000         | elements in any one array                         |
//!
//! Depth and array length are checked by a scanner, a single forward pass over the bytes that
//! knows about strings and escapes (a `[` inside `"a[b"` or after `\"` is not counted). It keeps
//! one counter per open container and stops at the first limit crossed, so its memory is bounded
//! by `max_depth` and it never recurses: a payload nested 100 000 levels deep is rejected after
//! reading `max_depth + 1` opening brackets, long before `serde_json` (which refuses 128 levels
//! and more) or the schema validator would see it. This is also why `max_depth` cannot exceed
//! [`MAX_DEPTH_CEILING`].
//!
//! The scanner does not validate JSON syntax: malformed input that passes the limits is caught by
//! the parser right after and reported as malformed.

/// The largest `max_depth` that may be configured. `serde_json`'s recursion limit refuses
/// documents nested 128 levels or more; keeping the scanner's limit at or below it means every document the
/// scanner lets through can be parsed, and a too-deep document is reported as a limit
/// violation rather than a parse error.
pub const MAX_DEPTH_CEILING: usize = 127;

/// Default for `max_bytes`: 6 MiB, Lambda's synchronous invocation payload limit.
pub const DEFAULT_MAX_BYTES: usize = 6 * 1024 * 1024;
/// Default for `max_depth`.
pub const DEFAULT_MAX_DEPTH: usize = 64;
/// Default for `max_array_len`.
pub const DEFAULT_MAX_ARRAY_LEN: usize = 10_000;

/// The three limits, validated (all non-zero, depth within [`MAX_DEPTH_CEILING`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) max_bytes: usize,
    pub(crate) max_depth: usize,
    pub(crate) max_array_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
            max_array_len: DEFAULT_MAX_ARRAY_LEN,
        }
    }
}

/// Which limit a document crossed. The `Display` text is what the client sees; it names the
/// limit and its configured value, never any of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LimitExceeded {
    /// More than `max_bytes` bytes.
    Size { limit: usize },
    /// More than `max_depth` nested containers.
    Depth { limit: usize },
    /// An array with more than `max_array_len` elements.
    ArrayLen { limit: usize },
}

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Size { limit } => write!(f, "payload is larger than the {limit}-byte limit"),
            Self::Depth { limit } => {
                write!(
                    f,
                    "payload is nested deeper than the limit of {limit} levels"
                )
            }
            Self::ArrayLen { limit } => {
                write!(f, "an array has more than the limit of {limit} elements")
            }
        }
    }
}

/// Checks `bytes` against all three limits without parsing or recursing.
///
/// Outside strings it looks at one byte at a time; inside a string it jumps to the next `"` or
/// `\` with `memchr2` (SIMD), since most of a JSON document's bytes are string contents.
pub(crate) fn scan(bytes: &[u8], limits: &Limits) -> Result<(), LimitExceeded> {
    if bytes.len() > limits.max_bytes {
        return Err(LimitExceeded::Size {
            limit: limits.max_bytes,
        });
    }
    let max_depth = limits.max_depth.min(MAX_DEPTH_CEILING);
    // One entry per open container: the commas seen so far for an array, OBJECT for an object.
    // A fixed array: no allocation, and depth can never exceed MAX_DEPTH_CEILING.
    const OBJECT: u32 = u32::MAX;
    let mut stack = [0u32; MAX_DEPTH_CEILING];
    let mut depth = 0usize;
    let mut i = 0;
    let len = bytes.len();
    while i < len {
        match bytes[i] {
            b'"' => {
                // Skip the string body: stop at the first unescaped quote.
                i += 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &bytes[i.min(len)..]) {
                        None => return Ok(()), // unterminated: the parser reports it
                        Some(off) if bytes[i + off] == b'\\' => i += off + 2,
                        Some(off) => {
                            i += off;
                            break;
                        }
                    }
                }
            }
            open @ (b'[' | b'{') => {
                if depth >= max_depth {
                    return Err(LimitExceeded::Depth {
                        limit: limits.max_depth,
                    });
                }
                stack[depth] = if open == b'[' { 0 } else { OBJECT };
                depth += 1;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth > 0 && stack[depth - 1] != OBJECT => {
                // n commas separate n + 1 elements.
                let commas = stack[depth - 1] + 1;
                if commas as usize >= limits.max_array_len {
                    return Err(LimitExceeded::ArrayLen {
                        limit: limits.max_array_len,
                    });
                }
                // Cannot reach OBJECT: a payload would need 4 billion commas in one array.
                stack[depth - 1] = commas.min(OBJECT - 1);
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Depth of an already-built value, computed iteratively (used for handler responses, which
/// arrive as `serde_json::Value` rather than bytes). Stops counting at `cap + 1`.
pub(crate) fn value_depth_exceeds(value: &serde_json::Value, cap: usize) -> bool {
    let mut stack: Vec<(&serde_json::Value, usize)> = vec![(value, 0)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &serde_json::Value>> = match v {
            serde_json::Value::Array(a) => Box::new(a.iter()),
            serde_json::Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        if depth + 1 > cap {
            return true;
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(max_depth: usize, max_array_len: usize) -> Limits {
        Limits {
            max_bytes: 1 << 20,
            max_depth,
            max_array_len,
        }
    }

    #[test]
    fn depth_counts_containers_not_strings() {
        assert!(scan(br#"{"a":[[1]]}"#, &lim(3, 10)).is_ok());
        assert_eq!(
            scan(br#"{"a":[[[1]]]}"#, &lim(3, 10)),
            Err(LimitExceeded::Depth { limit: 3 })
        );
        // Brackets inside strings, including after escaped quotes, do not count.
        assert!(scan(br#"{"a":"[[[[\"[[[[{{{{"}"#, &lim(1, 10)).is_ok());
        assert!(scan(br#"["\\",[1]]"#, &lim(2, 10)).is_ok());
    }

    #[test]
    fn array_len_counts_top_level_commas_only() {
        assert!(scan(b"[1,2,3]", &lim(4, 3)).is_ok());
        assert_eq!(
            scan(b"[1,2,3,4]", &lim(4, 3)),
            Err(LimitExceeded::ArrayLen { limit: 3 })
        );
        // Commas in objects and strings, and in nested arrays, are not counted for the outer one.
        assert!(scan(
            br#"[{"a":1,"b":2,"c":3,"d":4},"x,y,z,w",[1,2]]"#,
            &lim(4, 3)
        )
        .is_ok());
    }

    #[test]
    fn size_is_checked_first() {
        let l = Limits {
            max_bytes: 4,
            ..lim(4, 4)
        };
        assert_eq!(scan(b"12345", &l), Err(LimitExceeded::Size { limit: 4 }));
    }

    #[test]
    fn unterminated_string_and_trailing_backslash_do_not_panic() {
        assert!(scan(b"\"abc\\", &lim(4, 4)).is_ok());
        assert!(scan(b"]]]}}}", &lim(4, 4)).is_ok());
    }

    #[test]
    fn value_depth() {
        let v = serde_json::json!({"a": [[1]]});
        assert!(!value_depth_exceeds(&v, 3));
        assert!(value_depth_exceeds(&v, 2));
        assert!(!value_depth_exceeds(&serde_json::json!(1), 0));
    }
}
