//! Loading and compiling a JSON Schema, and turning its errors into masked [`Violation`]s.

use std::path::Path;

use serde_json::Value;

use super::envelope::PathMap;
use super::messages::describe;
use super::{ValidationError, Violation, ViolationKind, MAX_VIOLATIONS};
use jsonschema::error::ValidationErrorKind;

/// Refuses every external `$ref` with a message that says what to do instead.
struct RefuseExternalRefs;

impl jsonschema::Retrieve for RefuseExternalRefs {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!(
            "external $ref `{uri}` refused: fnshield never fetches schemas over the network or \
             from other files; copy the referenced schema under `$defs` (or `definitions`) and \
             point the $ref there"
        )
        .into())
    }
}

/// A compiled schema and where it came from (for messages).
pub(super) struct Compiled {
    pub(super) validator: jsonschema::Validator,
}

/// Loads and compiles one schema (event or response) if configured.
pub(super) fn load_schema(
    file: Option<&Path>,
    json: Option<&str>,
    keys: (&'static str, &'static str),
    task_root: &Path,
) -> Result<Option<Compiled>, ValidationError> {
    let (origin, text, base) = match (file, json) {
        (Some(_), Some(_)) => {
            return Err(ValidationError::ConflictingSchemas {
                file_key: keys.0,
                json_key: keys.1,
            })
        }
        (None, None) => return Ok(None),
        (Some(path), None) => {
            let path = if path.is_absolute() {
                path.to_path_buf()
            } else {
                task_root.join(path)
            };
            let text =
                std::fs::read_to_string(&path).map_err(|source| ValidationError::SchemaRead {
                    key: keys.0,
                    path: path.clone(),
                    source,
                })?;
            let base = file_uri(&path);
            (format!("file {}", path.display()), text, base)
        }
        (None, Some(json)) => (
            format!("`{}` (embedded)", keys.1),
            json.to_owned(),
            file_uri(&task_root.join(keys.1)),
        ),
    };
    let schema: Value =
        serde_json::from_str(&text).map_err(|source| ValidationError::SchemaNotJson {
            origin: origin.clone(),
            source,
        })?;
    let mut options = jsonschema::options();
    if let Some(base) = base {
        // Relative `$ref`s then resolve to a `file:` URI naming the file they would need, which
        // RefuseExternalRefs reports, instead of "No base URI is available".
        options = options.with_base_uri(base);
    }
    let validator = options
        .should_validate_formats(true)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .with_retriever(RefuseExternalRefs)
        .build(&schema)
        .map_err(|e| {
            let mut problem = e.to_string();
            let at = e.instance_path().as_str();
            if !at.is_empty() {
                problem.push_str(&format!(" (at {at})"));
            }
            if matches!(e.kind(), ValidationErrorKind::Format { format } if format == "regex") {
                problem.push_str(
                    "; patterns run on the linear-time `regex` engine, which has no \
                     look-around or back-references",
                );
            }
            ValidationError::InvalidSchema { origin, problem }
        })?;
    Ok(Some(Compiled { validator }))
}

/// `file://` URI of an absolute path, percent-encoding anything but unreserved characters and
/// `/`. `None` for a path that is not absolute or not UTF-8.
fn file_uri(path: &Path) -> Option<String> {
    let s = path.to_str()?;
    if !s.starts_with('/') {
        return None;
    }
    let mut uri = String::from("file://");
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    Some(uri)
}

/// Escapes one JSON Pointer reference token.
fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Converts the schema errors for `value` into masked violations, up to [`MAX_VIOLATIONS`].
pub(super) fn collect_schema_errors(
    validator: &jsonschema::Validator,
    value: &Value,
    location: &str,
    map: PathMap<'_>,
    out: &mut Vec<Violation>,
) {
    for error in validator.iter_errors(value) {
        if out.len() >= MAX_VIOLATIONS {
            return;
        }
        let path = map.map(location, error.instance_path().as_str());
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                for key in unexpected {
                    if out.len() >= MAX_VIOLATIONS {
                        return;
                    }
                    out.push(Violation::new(
                        format!("{path}/{}", escape_token(key)),
                        "property is not allowed by the schema".to_owned(),
                        ViolationKind::Schema,
                    ));
                }
            }
            kind => out.push(Violation::new(path, describe(kind), ViolationKind::Schema)),
        }
    }
}
