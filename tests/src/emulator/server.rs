//! The HTTP side of the emulator.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::process::lock;
use super::timeline::{FunctionError, InvocationResult, RequestId, TimelineEvent};
use super::{Progress, Shared};

const PREFIX: &str = "/2018-06-01/runtime/";

/// Accepts connections until the task is aborted. Aborting drops the `JoinSet`,
/// which aborts every connection task with it.
pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => continue,
        };
        // Forget finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
        let shared = shared.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // First record what the function printed before it sent this request.
    shared.drain_processes();

    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = path
        .strip_prefix(shared.base_path.as_str())
        .and_then(|p| p.strip_prefix(PREFIX))
        .map(|rest| rest.split('/').collect::<Vec<_>>());
    let response = match (&method, route.as_deref()) {
        (&Method::GET, Some(["invocation", "next"])) => next(&shared).await,
        (&Method::POST, Some(["invocation", id, kind @ ("response" | "error")])) => {
            let id = RequestId::from_wire(id);
            let is_error = *kind == "error";
            let error_type = header(&req, "lambda-runtime-function-error-type");
            let body = read_body(req).await;
            let result = if is_error {
                InvocationResult::Error(FunctionError::parse(body, error_type))
            } else {
                InvocationResult::Response(body)
            };
            complete(&shared, &method, &path, id, result)
        }
        (&Method::POST, Some(["init", "error"])) => {
            let error_type = header(&req, "lambda-runtime-function-error-type");
            let body = read_body(req).await;
            shared.record(TimelineEvent::InitError {
                error: FunctionError::parse(body, error_type),
            });
            accepted()
        }
        _ => reject(
            &shared,
            &method,
            &path,
            StatusCode::NOT_FOUND,
            "UnknownRoute",
            "the emulator serves /next, /{id}/response, /{id}/error and /init/error only",
        ),
    };
    Ok(response)
}

/// `GET /next`: record the request, then hand over the first queued invocation.
async fn next(shared: &Shared) -> Response<Full<Bytes>> {
    shared.record(TimelineEvent::NextRequested);
    loop {
        let queued = shared.queue_changed.notified();
        tokio::pin!(queued);
        queued.as_mut().enable();
        {
            let mut state = lock(&shared.state);
            if let Some(invocation) = state.queue.pop_front() {
                state
                    .invocations
                    .insert(invocation.id.clone(), Progress::Delivered);
                shared.record_locked(
                    &mut state,
                    TimelineEvent::InvocationDelivered {
                        id: invocation.id.clone(),
                    },
                );
                drop(state);
                shared.timeline_changed.notify_waiters();
                return deliver(shared, &invocation.id, invocation.body);
            }
        }
        queued.await;
    }
}

fn deliver(shared: &Shared, id: &RequestId, body: Bytes) -> Response<Full<Bytes>> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let deadline_ms = (now + shared.invocation_timeout).as_millis();
    let arn = format!(
        "arn:aws:lambda:us-east-1:123456789012:function:{}",
        shared.function_name
    );
    // Deterministic X-Ray trace id derived from the request id's counter.
    let n = id.as_str().rsplit('-').next().unwrap_or("0");
    let trace = format!("Root=1-7e57ed00-{n:0>24};Parent={n:0>16};Sampled=0");
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", id.as_str())
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", arn)
        .header("lambda-runtime-trace-id", trace)
        .body(Full::new(body))
        .expect("static headers are valid")
}

/// `POST /{id}/response` and `/{id}/error`.
fn complete(
    shared: &Shared,
    method: &Method,
    path: &str,
    id: RequestId,
    result: InvocationResult,
) -> Response<Full<Bytes>> {
    let mut state = lock(&shared.state);
    let problem = match state.invocations.get(&id) {
        Some(Progress::Delivered) => None,
        Some(Progress::Queued) => Some("the invocation was never delivered by /next"),
        Some(Progress::Done(_)) => Some("the invocation already has a result"),
        None => Some("no invocation with this id was issued"),
    };
    if let Some(detail) = problem {
        drop(state);
        let error_type = if matches!(detail, "no invocation with this id was issued") {
            "InvalidRequestID"
        } else {
            "InvalidStateTransition"
        };
        return reject(
            shared,
            method,
            path,
            StatusCode::BAD_REQUEST,
            error_type,
            detail,
        );
    }
    let event = match &result {
        InvocationResult::Response(body) => TimelineEvent::ResponsePosted {
            id: id.clone(),
            body: body.clone(),
        },
        InvocationResult::Error(error) => TimelineEvent::ErrorPosted {
            id: id.clone(),
            error: error.clone(),
        },
    };
    state.invocations.insert(id, Progress::Done(result));
    shared.record_locked(&mut state, event);
    drop(state);
    shared.timeline_changed.notify_waiters();
    accepted()
}

fn accepted() -> Response<Full<Bytes>> {
    json_response(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.to_owned())
}

fn reject(
    shared: &Shared,
    method: &Method,
    path: &str,
    status: StatusCode,
    error_type: &str,
    detail: &str,
) -> Response<Full<Bytes>> {
    shared.record(TimelineEvent::ProtocolViolation {
        method: method.to_string(),
        path: path.to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
    });
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": detail });
    json_response(status, body.to_string())
}

fn json_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("static headers are valid")
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The whole request body; a body that breaks off mid-way counts as what arrived.
async fn read_body(req: Request<Incoming>) -> Bytes {
    match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    }
}
