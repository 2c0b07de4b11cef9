//! DynamoDB's attribute-value JSON (`{"Id": {"N": "101"}, "tags": {"SS": ["a"]}}`), unmarshalled
//! to plain JSON (`{"Id": 101, "tags": ["a"]}`) before a stream image is validated, and the way
//! back: a path in the plain document mapped to the attribute in the original event.
//!
//! | type | plain JSON |
//! |------|------------|
//! | `S`, `B` | string (binary stays base64 text) |
//! | `N` | number (a string that is not a JSON number is malformed) |
//! | `BOOL` | boolean |
//! | `NULL` | `null` |
//! | `M` | object |
//! | `L` | array |
//! | `SS`, `BS` | array of strings |
//! | `NS` | array of numbers |
//!
//! Recursion follows the document's nesting, which the raw event's depth limit already bounds
//! (an attribute value is always deeper in the event than its plain counterpart).

use serde_json::{Map, Number, Value};

use super::super::Violation;
use super::decode::{escape_token, malformed};

/// Where an attribute value sits, as a chain of steps from the image: rendered into a JSON
/// Pointer only when there is an error to report, so a valid image costs no path strings.
#[derive(Clone, Copy)]
enum At<'p> {
    /// The image itself, at this path in the event.
    Image(&'p str),
    /// A member name (attribute name, map key) or a type key (`M`, `L`, ...).
    Key(&'p At<'p>, &'p str),
    /// An index in a list or set.
    Index(&'p At<'p>, usize),
}

impl At<'_> {
    fn render(&self) -> String {
        match self {
            Self::Image(location) => (*location).to_owned(),
            Self::Key(parent, key) => format!("{}/{}", parent.render(), escape_token(key)),
            Self::Index(parent, i) => format!("{}/{i}", parent.render()),
        }
    }
}

/// Unmarshals an image (a map of attribute name to attribute value). `location` is the image's
/// path in the event, used for errors.
pub(crate) fn unmarshal_image(image: &Value, location: &str) -> Result<Value, Violation> {
    unmarshal_map(image, &At::Image(location))
}

fn unmarshal_map(image: &Value, at: &At<'_>) -> Result<Value, Violation> {
    let Value::Object(map) = image else {
        return Err(malformed(
            &at.render(),
            "a DynamoDB image must be an object",
        ));
    };
    let mut out = Map::with_capacity(map.len());
    for (name, attr) in map {
        out.insert(name.clone(), unmarshal(attr, &At::Key(at, name))?);
    }
    Ok(Value::Object(out))
}

fn number(s: &Value, at: &At<'_>) -> Result<Value, Violation> {
    s.as_str()
        .and_then(|s| s.parse::<Number>().ok())
        .map(Value::Number)
        .ok_or_else(|| malformed(&at.render(), "`N` must be a string holding a number"))
}

fn unmarshal(attr: &Value, at: &At<'_>) -> Result<Value, Violation> {
    let bad = || {
        malformed(
            &at.render(),
            "not a DynamoDB attribute value: expected an object with one type key (S, N, B, BOOL, NULL, M, L, SS, NS, BS)",
        )
    };
    let Some((ty, v)) = attr
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
    else {
        return Err(bad());
    };
    let here = At::Key(at, ty);
    match (ty.as_str(), v) {
        ("S" | "B", Value::String(_)) => Ok(v.clone()),
        ("N", _) => number(v, &here),
        ("BOOL", Value::Bool(_)) => Ok(v.clone()),
        ("NULL", Value::Bool(true)) => Ok(Value::Null),
        ("M", m @ Value::Object(_)) => unmarshal_map(m, &here),
        ("L", Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| unmarshal(item, &At::Index(&here, i)))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        ("SS" | "BS", Value::Array(items)) => {
            if let Some(i) = items.iter().position(|s| !s.is_string()) {
                return Err(malformed(
                    &At::Index(&here, i).render(),
                    format!("`{ty}` members must be strings"),
                ));
            }
            Ok(Value::Array(items.clone()))
        }
        ("NS", Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, n)| number(n, &At::Index(&here, i)))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        _ => Err(bad()),
    }
}

/// Maps a JSON Pointer into the unmarshalled image to the same place in the original
/// attribute-value JSON: `/address/zip` becomes `/address/M/zip/S`. A pointer that leaves the
/// image (it cannot, for pointers the validator reports) maps as far as it goes.
pub(crate) fn original_path(image: &Value, pointer: &str) -> String {
    let mut out = String::new();
    // The image itself is a plain map of attributes; below it every value is `{type: value}`.
    let mut container = image;
    let mut attr: Option<&Value> = None;
    for raw in pointer.split('/').skip(1) {
        let token = raw.replace("~1", "/").replace("~0", "~");
        let next = match attr {
            None => container.get(&token),
            Some(a) => {
                let Some((ty, inner)) = a.as_object().and_then(|m| m.iter().next()) else {
                    break;
                };
                out.push('/');
                out.push_str(ty);
                container = inner;
                match inner {
                    Value::Object(m) => m.get(&token),
                    Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
                    _ => None,
                }
            }
        };
        out.push('/');
        out.push_str(raw);
        match next {
            Some(v) => attr = Some(v),
            None => return out,
        }
    }
    // Point at the value itself (`/quantity/N`, `/address/M`); set members and a missing
    // attribute are already there.
    if let Some((ty, _)) = attr
        .and_then(Value::as_object)
        .and_then(|m| m.iter().next())
    {
        out.push('/');
        out.push_str(ty);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image() -> Value {
        json!({
            "Id": {"N": "101"},
            "name": {"S": "x"},
            "ok": {"BOOL": true},
            "gone": {"NULL": true},
            "address": {"M": {"zip": {"S": "12345"}, "lines": {"L": [{"S": "a"}, {"N": "2.5"}]}}},
            "tags": {"SS": ["a", "b"]},
            "scores": {"NS": ["1", "2"]},
            "blob": {"B": "AAE="}
        })
    }

    #[test]
    fn unmarshals_every_type() {
        assert_eq!(
            unmarshal_image(&image(), "/i").unwrap(),
            json!({"Id": 101, "name": "x", "ok": true, "gone": null,
                   "address": {"zip": "12345", "lines": ["a", 2.5]},
                   "tags": ["a", "b"], "scores": [1, 2], "blob": "AAE="})
        );
    }

    #[test]
    fn bad_attribute_values_are_located() {
        let e = unmarshal_image(&json!({"a": {"N": "12x"}}), "/i").unwrap_err();
        assert_eq!(e.path(), "/i/a/N");
        let e = unmarshal_image(&json!({"a": {"M": {"b": {"X": 1}}}}), "/i").unwrap_err();
        assert_eq!(e.path(), "/i/a/M/b");
        let e = unmarshal_image(&json!({"a": {"S": "x", "N": "1"}}), "/i").unwrap_err();
        assert_eq!(e.path(), "/i/a");
        let e = unmarshal_image(&json!({"a": {"SS": ["x", 1]}}), "/i").unwrap_err();
        assert_eq!(e.path(), "/i/a/SS/1");
        assert!(unmarshal_image(&json!([1]), "/i").is_err());
    }

    #[test]
    fn paths_map_back_to_attribute_values() {
        let img = image();
        assert_eq!(original_path(&img, ""), "");
        assert_eq!(original_path(&img, "/Id"), "/Id/N");
        assert_eq!(original_path(&img, "/address"), "/address/M");
        assert_eq!(original_path(&img, "/address/zip"), "/address/M/zip/S");
        assert_eq!(
            original_path(&img, "/address/lines/1"),
            "/address/M/lines/L/1/N"
        );
        assert_eq!(original_path(&img, "/tags/1"), "/tags/SS/1");
        assert_eq!(original_path(&img, "/missing"), "/missing");
    }
}
