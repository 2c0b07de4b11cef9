//! Event screening and response checks: the raw event is checked against the limits and
//! schemas before lambda_runtime deserialises it, and the handler's response after it returns.

use crate::event::{Action, Details, Event, ViolationDetail};
use crate::policy::{Mode, PolicyKind};
use crate::shield::Inner;
use crate::validate::Screening;

impl Inner {
    /// Screen the raw event (limits, schema) before lambda_runtime deserialises it. A
    /// rejected event's body is replaced by `{}` so that deserialisation cannot fail on it.
    pub(crate) fn screen_event(&self, request_id: &str, body: &mut bytes::Bytes) {
        use crate::validate::{EventVerdict as V, Rejection};
        let Some(v) = &self.validator else { return };
        let mode = self.policy.modes().validation();
        let verdict = v.check_event(body);
        let (violations, decided) = match verdict {
            V::Valid => return,
            V::Invalid {
                violations,
                rejection,
            } => {
                let r = match rejection {
                    Rejection::Http400(resp) => Ok(resp),
                    Rejection::InvocationError {
                        error_type,
                        message,
                    } => Err(lambda_runtime::Diagnostic {
                        error_type: error_type.to_owned(),
                        error_message: message,
                    }),
                };
                (violations, Screening::Reject(r))
            }
            V::PartialBatch {
                valid_event,
                failures,
            } => {
                let all = failures.violations().cloned().collect();
                (all, Screening::Replace(valid_event, failures))
            }
        };
        if mode == Mode::Allow {
            return;
        }
        self.reporter.record(Event::new(
            PolicyKind::InputValidation,
            if mode == Mode::Block {
                Action::Blocked
            } else {
                Action::Alerted
            },
            Details::Validation {
                target: "event",
                envelope: violations.first().and_then(|v| v.envelope()),
                violations: violations
                    .iter()
                    .map(|v| ViolationDetail {
                        path: v.path().to_owned(),
                        message: v.message().to_owned(),
                    })
                    .collect(),
            },
            request_id,
        ));
        if mode == Mode::Block {
            if matches!(decided, Screening::Reject(_)) {
                // lambda_runtime must not fail to deserialise an event we reject anyway.
                *body = bytes::Bytes::from_static(b"{}");
            }
            self.screenings
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(request_id.to_owned(), decided);
        }
    }

    pub(crate) fn take_screening(&self, request_id: &str) -> Screening {
        self.screenings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(request_id)
            .unwrap_or(Screening::Pass)
    }

    /// Validate the handler's response.
    pub(crate) fn check_response(
        &self,
        request_id: &str,
        response: serde_json::Value,
    ) -> Result<serde_json::Value, lambda_runtime::Diagnostic> {
        let Some(v) = self.validator.as_ref().filter(|v| v.has_response_schema()) else {
            return Ok(response);
        };
        let mode = self.policy.modes().validation();
        match v.check_response(&response) {
            Ok(()) => Ok(response),
            Err(_) if mode == Mode::Allow => Ok(response),
            Err(violations) => {
                self.reporter.record(Event::new(
                    PolicyKind::InputValidation,
                    if mode == Mode::Block {
                        Action::Blocked
                    } else {
                        Action::Alerted
                    },
                    Details::Validation {
                        target: "response",
                        envelope: None,
                        violations: violations
                            .iter()
                            .map(|v| ViolationDetail {
                                path: v.path().to_owned(),
                                message: v.message().to_owned(),
                            })
                            .collect(),
                    },
                    request_id,
                ));
                if mode == Mode::Block {
                    let list: Vec<String> = violations
                        .iter()
                        .map(|v| format!("{}: {}", v.path(), v.message()))
                        .collect();
                    Err(lambda_runtime::Diagnostic {
                        error_type: crate::error_type::INVALID_RESPONSE.to_owned(),
                        error_message: format!(
                            "the handler's response failed validation: {}",
                            list.join("; ")
                        ),
                    })
                } else {
                    Ok(response)
                }
            }
        }
    }
}
