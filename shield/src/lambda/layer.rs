//! The outer layer around lambda_runtime's invocation service: binds the request id, screens
//! the raw event, and after the response is posted wipes the tmp root and flushes the events.

use super::{BoxError, BoxFuture};
use crate::event::invocation;
use crate::shield::{Inner, Shield};
use lambda_runtime::LambdaInvocation;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// The outer layer. Build it with [`Shield::layer`].
#[derive(Clone)]
pub struct ShieldLayer {
    shield: Arc<Inner>,
}

impl<S> Layer<S> for ShieldLayer {
    type Service = ShieldRuntimeService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ShieldRuntimeService {
            inner,
            shield: self.shield.clone(),
        }
    }
}

/// The service [`ShieldLayer`] produces.
#[derive(Clone)]
pub struct ShieldRuntimeService<S> {
    inner: S,
    shield: Arc<Inner>,
}

impl<S> Service<LambdaInvocation> for ShieldRuntimeService<S>
where
    S: Service<LambdaInvocation, Response = (), Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = ();
    type Error = BoxError;
    type Future = BoxFuture<Result<(), BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: LambdaInvocation) -> Self::Future {
        let shield = self.shield.clone();
        let request_id = req.context.request_id.clone();
        shield.adopt_init_tmp();
        let guard = invocation::begin(&request_id);
        shield.screen_event(&request_id, &mut req.body);
        let tmp_gate = shield.tmp_gate.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            // Hold the tmp gate while the invocation runs: a wipe never runs under it.
            let in_use = tmp_gate.clone().read_owned().await;
            let result = guard.bind(fut).await;
            // The response (or error) has been posted. Wipe (when no other invocation is in
            // flight) and flush the invocation's events, including the wipe's, before asking
            // for the next event.
            drop(in_use);
            if let Ok(exclusive) = tmp_gate.try_write_owned() {
                shield.wipe_tmp(&request_id);
                drop(exclusive);
            }
            shield.reporter.flush(Some(&request_id));
            drop(guard);
            result
        })
    }
}

impl Shield {
    /// The outer layer for `lambda_runtime::Runtime::layer`.
    pub fn layer(&self) -> ShieldLayer {
        ShieldLayer {
            shield: self.inner.clone(),
        }
    }
}
