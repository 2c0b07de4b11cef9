//! Resource limits on JSON input: the event and every payload decoded from it.
//!
//! Three limits protect the function from hostile or accidental oversized input:
//!
//! | limit           | default        | checked on                                        |
//! |-----------------|----------------|---------------------------------------------------|
//! | `max_bytes`     | 6 MiB          | the raw event, and every decoded payload (a base64-decoded body, a gunzipped CloudWatch Logs batch) |
//! | `max_depth`     | 64             | nesting of arrays and objects                     |
//! | `max_array_len` | 10 000         | elements in any one array                         |
//!
//! They are enforced in one of two ways, with the same semantics:
//!
//! * a limited parse, used whenever a document is parsed into a `serde_json::Value` (the event
//!   for every non-HTTP envelope, and every decoded payload): the size is checked before reading,
//!   depth and array length by the visitor that builds the value, in the same pass as the
//!   parse. The parse stops at the first container opened past `max_depth` or array element
//!   past `max_array_len`, so no more than the limits allow is ever built, and recursion is
//!   bounded by `max_depth`.
//! * a byte scanner, used where the event is not parsed into a value (the HTTP envelopes
//!   deserialize only `body` and skip the rest; a validator with neither schema nor envelope parses
//!   nothing): a single forward pass over the bytes that knows about strings and escapes (a `[`
//!   inside `"a[b"` or after `\"` is not counted). It keeps one counter per open container
//!   and stops at the first limit crossed, so its memory is bounded by `max_depth` and it never
//!   recurses. It does not validate JSON syntax: malformed input that passes the limits is
//!   caught by the parser right after and reported as malformed.
//!
//! Either way a payload nested 100 000 levels deep is rejected after reading `max_depth + 1`
//! opening brackets, long before `serde_json`'s recursion limit (128 levels) or the schema
//! validator would see it. This is also why `max_depth` cannot exceed [`MAX_DEPTH_CEILING`].

use std::cell::Cell;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

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

/// Why [`parse`] refused a document.
#[derive(Debug)]
pub(crate) enum ParseError {
    /// A limit was crossed (reported before any syntax error further on).
    Limit(LimitExceeded),
    /// Not JSON: `serde_json`'s error, which names the line and column, never the input.
    Json(serde_json::Error),
}

/// Which parts of a document [`parse_projected`] builds into the [`Value`]. Everything else is
/// still parsed (the document must be valid JSON) and held to the limits, but not built: no
/// strings copied, no maps filled. A value whose type does not fit its shape (an array where
/// [`Keep::Fields`] expects an object) is built whole, so that whoever reads it sees the real
/// value and can report it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keep {
    /// The whole value.
    All,
    /// An object: only these members, each with its shape; the others are skipped.
    Fields(&'static [(&'static str, Keep)]),
    /// An array: every element, with this shape.
    Each(&'static Keep),
    /// An object: every member, with this shape.
    Values(&'static Keep),
    /// Nothing (a member not listed in [`Keep::Fields`]).
    Skip,
}

/// Parses `bytes` into a [`Value`] while enforcing all three limits in the same pass.
///
/// The size is checked before anything is read. Depth and array length are checked by the
/// visitor that builds the value: a container opened at depth `max_depth + 1` or an array
/// element past `max_array_len` stops the parse at once, so no more than the limits allow is
/// ever built. Recursion is bounded by `max_depth` (at most [`MAX_DEPTH_CEILING`]; serde_json's
/// own limit is turned off so that this one always answers), so a document nested 100 000
/// levels deep is refused after `max_depth + 1` opening brackets, as [`scan`] does, without a
/// separate pass over the bytes first.
///
/// Which error wins when a document is both malformed and over a limit depends on which comes
/// first in the text; either way the document is refused.
pub(crate) fn parse(bytes: &[u8], limits: &Limits) -> Result<Value, ParseError> {
    parse_projected(bytes, limits, Keep::All)
}

/// [`parse`], building only the parts of the document that `keep` names. The skipped parts are
/// parsed and checked against the limits exactly like the kept ones.
pub(crate) fn parse_projected(
    bytes: &[u8],
    limits: &Limits,
    keep: Keep,
) -> Result<Value, ParseError> {
    if bytes.len() > limits.max_bytes {
        return Err(ParseError::Limit(LimitExceeded::Size {
            limit: limits.max_bytes,
        }));
    }
    let hit = Cell::new(None);
    let node = Node {
        depth: 0,
        past_array_len: false,
        keep,
        max_depth: limits.max_depth.min(MAX_DEPTH_CEILING),
        limits,
        hit: &hit,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // The visitor's depth limit (at most MAX_DEPTH_CEILING) is the only one: serde_json's own
    // (128 levels) would refuse a 128-deep container as malformed before the visitor sees it.
    // The recursion stays bounded: every container, built or skipped, passes `Node::child`.
    de.disable_recursion_limit();
    let parsed = node.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match (parsed, hit.into_inner()) {
        (_, Some(limit)) => Err(ParseError::Limit(limit)),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(ParseError::Json(e)),
    }
}

/// The seed and visitor of [`parse_projected`]: one value `depth` containers deep, built as
/// `keep` says.
#[derive(Clone, Copy)]
struct Node<'l> {
    /// Containers enclosing this value.
    depth: usize,
    /// This value would be an array element past `max_array_len`.
    past_array_len: bool,
    keep: Keep,
    max_depth: usize,
    limits: &'l Limits,
    /// The limit crossed, if any (the visitor's error then only unwinds the parse).
    hit: &'l Cell<Option<LimitExceeded>>,
}

impl Node<'_> {
    fn refuse<E: de::Error>(&self, limit: LimitExceeded) -> E {
        self.hit.set(Some(limit));
        E::custom("limit exceeded")
    }

    /// The seed for a child, with shape `keep`, of a container opened here, or the depth error.
    fn child<E: de::Error>(&self, keep: Keep) -> Result<Self, E> {
        if self.depth >= self.max_depth {
            return Err(self.refuse(LimitExceeded::Depth {
                limit: self.limits.max_depth,
            }));
        }
        Ok(Self {
            depth: self.depth + 1,
            past_array_len: false,
            keep,
            ..*self
        })
    }

    fn skipping(&self) -> bool {
        matches!(self.keep, Keep::Skip)
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.past_array_len {
            // An array element past the limit: refused before it is read, as the scanner
            // refuses at its comma (a limit inside the element is never reached first).
            return Err(self.refuse(LimitExceeded::ArrayLen {
                limit: self.limits.max_array_len,
            }));
        }
        d.deserialize_any(self)
    }
}

/// An object key, matched against the names of a [`Keep::Fields`] without being copied.
struct FieldKey(&'static [(&'static str, Keep)]);

impl<'de> DeserializeSeed<'de> for FieldKey {
    /// The index of the key in the list, if it is listed.
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldKey {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|(name, _)| *name == key))
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json's parser never yields a non-finite number; `Value` does the same.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        if self.skipping() {
            return Ok(Value::Null);
        }
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let child = self.child(match self.keep {
            Keep::Skip => Keep::Skip,
            Keep::Each(keep) => *keep,
            // Not the container the shape expects: built whole.
            Keep::All | Keep::Fields(_) | Keep::Values(_) => Keep::All,
        })?;
        let mut items = Vec::new();
        let mut len = 0usize;
        loop {
            let seed = Self {
                past_array_len: len >= self.limits.max_array_len,
                ..child
            };
            match seq.next_element_seed(seed)? {
                Some(item) => {
                    len += 1;
                    if !self.skipping() {
                        items.push(item);
                    }
                }
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        match self.keep {
            Keep::Fields(fields) => {
                let skip = self.child(Keep::Skip)?;
                while let Some(found) = map.next_key_seed(FieldKey(fields))? {
                    match found {
                        Some(i) => {
                            let (name, keep) = fields[i];
                            let value = map.next_value_seed(Self { keep, ..skip })?;
                            out.insert(name.to_owned(), value);
                        }
                        None => {
                            map.next_value_seed(skip)?;
                        }
                    }
                }
            }
            Keep::Skip => {
                let skip = self.child(Keep::Skip)?;
                while map.next_key_seed(FieldKey(&[]))?.is_some() {
                    map.next_value_seed(skip)?;
                }
            }
            Keep::All | Keep::Each(_) | Keep::Values(_) => {
                let child = self.child(match self.keep {
                    Keep::Values(keep) => *keep,
                    _ => Keep::All,
                })?;
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value_seed(child)?;
                    out.insert(key, value);
                }
            }
        }
        Ok(Value::Object(out))
    }
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

    fn parse_limit(bytes: &[u8], limits: &Limits) -> Option<LimitExceeded> {
        match parse(bytes, limits) {
            Err(ParseError::Limit(e)) => Some(e),
            _ => None,
        }
    }

    #[test]
    fn parse_enforces_the_limits_in_the_same_pass() {
        assert_eq!(
            parse(br#"{"a":[[1]]}"#, &lim(3, 10)).unwrap(),
            serde_json::json!({"a": [[1]]})
        );
        assert_eq!(
            parse_limit(br#"{"a":[[[1]]]}"#, &lim(3, 10)),
            Some(LimitExceeded::Depth { limit: 3 })
        );
        // An empty container past the depth limit counts too, as for the scanner.
        assert_eq!(
            parse_limit(br#"[[[[]]]]"#, &lim(3, 10)),
            Some(LimitExceeded::Depth { limit: 3 })
        );
        assert!(parse(b"[1,2,3]", &lim(4, 3)).is_ok());
        assert_eq!(
            parse_limit(b"[1,2,3,4]", &lim(4, 3)),
            Some(LimitExceeded::ArrayLen { limit: 3 })
        );
        // Objects have no element limit; strings hide brackets.
        assert!(parse(br#"{"a":1,"b":2,"c":3,"d":4,"e":"[[[["}"#, &lim(1, 3)).is_ok());
        let l = Limits {
            max_bytes: 4,
            ..lim(4, 4)
        };
        assert_eq!(
            parse_limit(b"12345", &l),
            Some(LimitExceeded::Size { limit: 4 })
        );
    }

    #[test]
    fn parse_stops_deep_and_unterminated_input_without_recursing_past_the_limit() {
        let deep = "[".repeat(100_000);
        assert_eq!(
            parse_limit(deep.as_bytes(), &lim(64, 10)),
            Some(LimitExceeded::Depth { limit: 64 })
        );
        // At the ceiling, serde_json's recursion limit (128) is never what refuses.
        let at = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(parse(at.as_bytes(), &lim(127, 10)).is_ok());
        let over = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert_eq!(
            parse_limit(over.as_bytes(), &lim(127, 10)),
            Some(LimitExceeded::Depth { limit: 127 })
        );
    }

    #[test]
    fn parse_reports_malformed_input_as_json_errors() {
        for bad in [&b"{"[..], b"[1,]", b"\"abc", b"1 2", b"", b"]"] {
            assert!(
                matches!(parse(bad, &lim(8, 8)), Err(ParseError::Json(_))),
                "{bad:?}"
            );
        }
        assert_eq!(parse(b" 1.5 ", &lim(8, 8)).unwrap(), serde_json::json!(1.5));
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[\\[\\]{}\",\\\\a-z]{0,6}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(10, 200, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z\\[{\"]{0,3}", inner, 0..5)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// On JSON text, the one-pass parse and the byte scanner refuse exactly the same
        /// documents, for the same limit, and the parse yields the document itself.
        #[test]
        fn parse_and_scan_agree(
            doc in arb_json(),
            max_depth in 1usize..8,
            max_array_len in 1usize..6,
            pretty in proptest::bool::ANY,
        ) {
            let text = if pretty {
                serde_json::to_vec_pretty(&doc).unwrap()
            } else {
                serde_json::to_vec(&doc).unwrap()
            };
            let limits = lim(max_depth, max_array_len);
            match (scan(&text, &limits), parse(&text, &limits)) {
                (Ok(()), Ok(v)) => proptest::prop_assert_eq!(v, doc),
                (Err(a), Err(ParseError::Limit(b))) => proptest::prop_assert_eq!(a, b),
                (a, b) => proptest::prop_assert!(false, "scan {:?} but parse {:?}", a, b),
            }
        }
    }
}
