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

/// Unmarshals an image (a map of attribute name to attribute value). `location` is the image's
/// path in the event, used for errors.
pub(crate) fn unmarshal_image(image: &Value, location: &str) -> Result<Value, Violation> {
    let Value::Object(map) = image else {
        return Err(malformed(location, "a DynamoDB image must be an object"));
    };
    let mut out = Map::with_capacity(map.len());
    for (name, attr) in map {
        let here = format!("{location}/{}", escape_token(name));
        out.insert(name.clone(), unmarshal(attr, &here)?);
    }
    Ok(Value::Object(out))
}

fn number(s: &Value, location: &str) -> Result<Value, Violation> {
    s.as_str()
        .and_then(|s| s.parse::<Number>().ok())
        .map(Value::Number)
        .ok_or_else(|| malformed(location, "`N` must be a string holding a number"))
}

fn unmarshal(attr: &Value, location: &str) -> Result<Value, Violation> {
    let bad = || {
        malformed(
            location,
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
    let here = format!("{location}/{ty}");
    match (ty.as_str(), v) {
        ("S" | "B", Value::String(_)) => Ok(v.clone()),
        ("N", _) => number(v, &here),
        ("BOOL", Value::Bool(_)) => Ok(v.clone()),
        ("NULL", Value::Bool(true)) => Ok(Value::Null),
        ("M", m @ Value::Object(_)) => unmarshal_image(m, &here),
        ("L", Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| unmarshal(item, &format!("{here}/{i}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        ("SS" | "BS", Value::Array(items)) => {
            if let Some(i) = items.iter().position(|s| !s.is_string()) {
                return Err(malformed(
                    &format!("{here}/{i}"),
                    format!("`{ty}` members must be strings"),
                ));
            }
            Ok(Value::Array(items.clone()))
        }
        ("NS", Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, n)| number(n, &format!("{here}/{i}")))
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
