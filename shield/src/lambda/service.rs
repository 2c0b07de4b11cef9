//! The handler wrapper: answers events the screening rejected, deserialises the event into the
//! handler's type, runs the handler, checks its response, and enforces `fail_on_block`.

use super::{diagnostic, error_type, BoxFuture};
use crate::shield::{Inner, Shield};
use crate::validate::Screening;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// The handler wrapper. Build it with [`Shield::wrap`].
///
/// `A` is the handler's event type and `R` its response type; the wrapper itself takes and
/// returns JSON values, so that it can validate both and answer rejected events in the
/// trigger's own format.
pub struct ShieldService<S, A, R> {
    inner: S,
    shield: Arc<Inner>,
    _types: PhantomData<fn(A) -> R>,
}

impl<S: Clone, A, R> Clone for ShieldService<S, A, R> {
    fn clone(&self) -> Self {
        ShieldService {
            inner: self.inner.clone(),
            shield: self.shield.clone(),
            _types: PhantomData,
        }
    }
}

impl<S, A, R> Service<LambdaEvent<Value>> for ShieldService<S, A, R>
where
    S: Service<LambdaEvent<A>, Response = R>,
    S::Future: Send + 'static,
    S::Error: Into<Diagnostic>,
    A: DeserializeOwned,
    R: Serialize,
{
    type Response = Value;
    type Error = Diagnostic;
    type Future = BoxFuture<Result<Value, Diagnostic>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, event: LambdaEvent<Value>) -> Self::Future {
        let shield = self.shield.clone();
        let request_id = event.context.request_id.clone();
        // Validation happened on the raw bytes in the outer layer; pick up its verdict.
        let pre = shield.take_screening(&request_id);
        let mut batch_failures = None;
        let payload = match pre {
            Screening::Reject(outcome) => {
                return Box::pin(async move { outcome });
            }
            Screening::Replace(v, failed) => {
                batch_failures = Some(failed);
                v
            }
            Screening::Pass => event.payload,
        };
        let typed: A = match serde_json::from_value(payload) {
            Ok(a) => a,
            Err(e) => {
                let d = diagnostic(
                    error_type::UNDESERIALIZABLE_EVENT,
                    format!("the event does not match the handler's event type: {e}"),
                );
                return Box::pin(async move { Err(d) });
            }
        };
        let fut = self.inner.call(LambdaEvent::new(typed, event.context));
        Box::pin(async move {
            let response = fut.await.map_err(Into::into)?;
            let value = serde_json::to_value(response)
                .map_err(|e| diagnostic(error_type::UNSERIALIZABLE_RESPONSE, e.to_string()))?;
            let value = shield.check_response(&request_id, value)?;
            let value = match batch_failures {
                Some(failed) => failed.merge(Some(value)),
                None => value,
            };
            if shield.policy.fail_on_block() {
                shield.reporter.collect();
                let n = shield.reporter.blocks_for(&request_id);
                if n > 0 {
                    return Err(diagnostic(
                        error_type::BLOCKED,
                        format!("fnshield blocked {n} operation(s) during this invocation; the handler's result was withheld (fail_on_block)"),
                    ));
                }
            }
            Ok(value)
        })
    }
}

impl Shield {
    /// Wrap a handler (`service_fn(...)`).
    pub fn wrap<S, A, R>(&self, handler: S) -> ShieldService<S, A, R>
    where
        S: Service<LambdaEvent<A>, Response = R>,
    {
        ShieldService {
            inner: handler,
            shield: self.inner.clone(),
            _types: PhantomData,
        }
    }
}
