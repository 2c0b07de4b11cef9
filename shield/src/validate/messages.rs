//! Violation messages, built from the kind of error and the schema only: never from the input.

use jsonschema::error::{TypeKind, ValidationErrorKind};

use super::{Envelope, Violation, ViolationKind};

/// The violation for an event `serde_json` refused. Built from the error's category and
/// position only: serde's own message can quote the input.
pub(super) fn not_json(e: &serde_json::Error, envelope: &Envelope) -> Violation {
    let message = match e.classify() {
        serde_json::error::Category::Data => format!(
            "event does not have the shape of a `{envelope}` event (line {}, column {})",
            e.line(),
            e.column()
        ),
        _ => format!(
            "event is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ),
    };
    Violation::new(String::new(), message, ViolationKind::Malformed)
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn type_names(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(t) => t.to_string(),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// A message for an error kind, from the schema's side only: never the instance value.
pub(super) fn describe(kind: &ValidationErrorKind) -> String {
    use ValidationErrorKind as K;
    match kind {
        K::AdditionalItems { limit } => {
            format!(
                "array has more than the {} the schema allows",
                plural(*limit as u64, "item")
            )
        }
        K::AdditionalProperties { .. } | K::UnevaluatedProperties { .. } => {
            "property is not allowed by the schema".to_owned()
        }
        K::AnyOf { .. } => "does not match any of the allowed alternatives (anyOf)".to_owned(),
        K::BacktrackLimitExceeded { .. } | K::RegexEngineFailure { .. } => {
            "pattern could not be evaluated".to_owned()
        }
        K::Constant { .. } => "must be equal to the constant defined by the schema".to_owned(),
        K::Contains => "array has no item matching the schema (contains)".to_owned(),
        K::ContentEncoding { content_encoding } => {
            format!("is not valid \"{content_encoding}\" content")
        }
        K::ContentMediaType { content_media_type } => {
            format!("is not valid \"{content_media_type}\" content")
        }
        K::Custom { keyword, .. } => format!("fails the `{keyword}` keyword"),
        K::Enum { options } => {
            let listed = options.to_string();
            if listed.len() <= 200 {
                format!("must be one of {listed}")
            } else {
                "must be one of the values the schema allows".to_owned()
            }
        }
        K::ExclusiveMaximum { limit } => format!("must be less than {limit}"),
        K::ExclusiveMinimum { limit } => format!("must be greater than {limit}"),
        K::FalseSchema => "is not allowed by the schema".to_owned(),
        K::Format { format } => format!("is not a valid \"{format}\""),
        K::FromUtf8 { .. } => "decoded content is not valid UTF-8".to_owned(),
        K::MaxItems { limit } => format!("must have at most {}", plural(*limit, "item")),
        K::Maximum { limit } => format!("must be at most {limit}"),
        K::MaxLength { limit } => {
            format!("must be at most {} long", plural(*limit, "character"))
        }
        K::MaxProperties { limit } => {
            format!(
                "must have at most {}",
                plural(*limit, "property").replace("propertys", "properties")
            )
        }
        K::MinItems { limit } => format!("must have at least {}", plural(*limit, "item")),
        K::Minimum { limit } => format!("must be at least {limit}"),
        K::MinLength { limit } => {
            format!("must be at least {} long", plural(*limit, "character"))
        }
        K::MinProperties { limit } => {
            format!(
                "must have at least {}",
                plural(*limit, "property").replace("propertys", "properties")
            )
        }
        K::MultipleOf { multiple_of } => format!("must be a multiple of {multiple_of}"),
        K::Not { .. } => "matches a schema it must not match (not)".to_owned(),
        K::OneOfMultipleValid { .. } => {
            "matches more than one of the alternatives, exactly one is required (oneOf)".to_owned()
        }
        K::OneOfNotValid { .. } => {
            "does not match any of the alternatives, exactly one is required (oneOf)".to_owned()
        }
        K::Pattern { pattern } => format!("does not match the pattern `{pattern}`"),
        K::PropertyNames { .. } => "has a property name the schema does not allow".to_owned(),
        K::Required { property } => match property.as_str() {
            Some(name) => format!("required property `{name}` is missing"),
            None => "a required property is missing".to_owned(),
        },
        K::Type { kind } => format!("must be of type {}", type_names(kind)),
        K::UnevaluatedItems { .. } => "array has items the schema does not allow".to_owned(),
        K::UniqueItems => "array items must be unique".to_owned(),
        K::Referencing(_) => "a schema reference could not be resolved".to_owned(),
    }
}
