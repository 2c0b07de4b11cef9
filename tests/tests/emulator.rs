//! The Runtime API emulator, driven by the real `echo_fn` binary (plain lambda_runtime 1.5).

use std::path::Path;
use std::time::Duration;

use fnshield_tests::emulator::{Emulator, RequestId, TimelineEntry, TimelineEvent, WaitError};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn echo_fn() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_echo_fn"))
}

/// Sequence number of the first entry matching `pred`, panicking with the timeline.
fn seq_of(timeline: &[TimelineEntry], what: &str, pred: impl Fn(&TimelineEvent) -> bool) -> u64 {
    timeline
        .iter()
        .find(|e| pred(e.event()))
        .map(TimelineEntry::seq)
        .unwrap_or_else(|| panic!("no {what} in the timeline:\n{}", render(timeline)))
}

fn render(timeline: &[TimelineEntry]) -> String {
    timeline.iter().map(|e| format!("  {e}\n")).collect()
}

fn delivered(id: &RequestId) -> impl Fn(&TimelineEvent) -> bool + '_ {
    move |e| matches!(e, TimelineEvent::InvocationDelivered { id: i } if i == id)
}

fn responded(id: &RequestId) -> impl Fn(&TimelineEvent) -> bool + '_ {
    move |e| matches!(e, TimelineEvent::ResponsePosted { id: i, .. } if i == id)
}

fn logged(text: String) -> impl Fn(&TimelineEvent) -> bool {
    move |e| matches!(e, TimelineEvent::LogLine { line, .. } if line.contains(&text))
}

#[tokio::test]
async fn benign_event_returns_the_event() {
    let emulator = Emulator::start().await;
    let _function = emulator.spawn_function(echo_fn(), &[]).await;

    let event = json!({"hello": "world", "n": [1, 2, 3]});
    let result = emulator.call(event.clone()).await;

    assert_eq!(result.expect_response(), event);
}

#[tokio::test]
async fn handler_error_arrives_on_the_error_endpoint_with_its_error_type() {
    let emulator = Emulator::start().await;
    let _function = emulator.spawn_function(echo_fn(), &[]).await;

    let result = emulator.call(json!({"fail": "the disk is on fire"})).await;

    let error = result.expect_error();
    assert_eq!(error.error_type(), "EchoFn.Failed");
    assert_eq!(error.error_message(), "the disk is on fire");
    assert_eq!(error.function_error_type(), Some("unhandled"));
    let raw: serde_json::Value = serde_json::from_slice(error.raw()).unwrap();
    assert_eq!(raw["errorType"], "EchoFn.Failed");
}

#[tokio::test]
async fn panic_arrives_as_an_error_and_the_function_keeps_serving() {
    let emulator = Emulator::start().await;
    let function = emulator.spawn_function(echo_fn(), &[]).await;

    let result = emulator.call(json!({"panic": true})).await;
    let error = result.expect_error();
    assert!(
        error.error_message().contains("echo_fn was asked to panic"),
        "{error}"
    );
    // The default panic hook wrote the panic to stderr before the error was posted.
    assert!(
        !function
            .lines_matching("echo_fn was asked to panic")
            .is_empty(),
        "stderr: {:?}",
        function.stderr_lines()
    );

    let after = emulator.call(json!({"still": "alive"})).await;
    assert_eq!(after.expect_response(), json!({"still": "alive"}));
}

#[tokio::test]
async fn the_function_sees_the_request_id_the_emulator_issued() {
    let emulator = Emulator::start().await;
    let function = emulator.spawn_function(echo_fn(), &[]).await;

    let first = emulator.invoke(json!({"k": 1}));
    let second = emulator.invoke(json!({"k": 2}));
    assert_ne!(first, second);
    assert_eq!(
        emulator.result(&second).await.expect_response(),
        json!({"k": 2})
    );
    assert_eq!(
        emulator.result(&first).await.expect_response(),
        json!({"k": 1})
    );

    // echo_fn prints `context.request_id`, which lambda_runtime takes from the
    // Lambda-Runtime-Aws-Request-Id header; it then posts to /{that id}/response.
    for id in [&first, &second] {
        assert_eq!(
            function
                .lines_matching(&format!("echo_fn: handling {id}"))
                .len(),
            1,
            "stdout: {:?}",
            function.stdout_lines()
        );
    }
}

#[tokio::test]
async fn sequential_invocations_are_ordered_and_logs_precede_the_next_poll() {
    let emulator = Emulator::start().await;
    let _function = emulator.spawn_function(echo_fn(), &[]).await;

    let first = emulator.invoke(json!({"i": 1}));
    emulator.result(&first).await.expect_response();
    let second = emulator.invoke(json!({"i": 2}));
    emulator.result(&second).await.expect_response();

    let timeline = emulator.timeline();
    let delivered_1 = seq_of(&timeline, "delivery of 1", delivered(&first));
    let done_line_1 = seq_of(&timeline, "done line of 1", logged(format!("done {first}")));
    let response_1 = seq_of(&timeline, "response of 1", responded(&first));
    let next_after_1 = timeline
        .iter()
        .find(|e| e.seq() > response_1 && matches!(e.event(), TimelineEvent::NextRequested))
        .map(TimelineEntry::seq)
        .unwrap_or_else(|| panic!("no /next after response 1:\n{}", render(&timeline)));
    let delivered_2 = seq_of(&timeline, "delivery of 2", delivered(&second));

    let order = [
        delivered_1,
        done_line_1,
        response_1,
        next_after_1,
        delivered_2,
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "expected delivered(1) < logged(1) < response(1) < /next < delivered(2), got {order:?}:\n{}",
        render(&timeline)
    );
}

/// The ordering guarantee under repetition: every line printed while handling
/// invocation k is recorded before the `/next` that follows k's response.
// Two worker threads: the background reader and the server race for real.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_log_line_precedes_the_following_next_request() {
    log_lines_precede_next_requests(true).await;
}

/// The same without the background reader: the order must come from the drain at
/// the start of each request, not from the reader usually winning the race.
// Two worker threads: the background reader and the server race for real.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_order_does_not_depend_on_the_background_reader() {
    log_lines_precede_next_requests(false).await;
}

async fn log_lines_precede_next_requests(background_capture: bool) {
    let emulator = Emulator::builder()
        .background_capture(background_capture)
        .start()
        .await;
    let _function = emulator.spawn_function(echo_fn(), &[]).await;

    let mut ids = Vec::new();
    for i in 0..30 {
        let id = emulator.invoke(json!({ "i": i }));
        emulator.result(&id).await.expect_response();
        ids.push(id);
    }
    // The /next after the last response may still be in flight: wait for it.
    let last = ids.last().unwrap().clone();
    emulator
        .wait_timeline("the /next after the last response", |timeline| {
            let response = timeline.iter().position(|e| responded(&last)(e.event()))?;
            timeline[response..]
                .iter()
                .any(|e| matches!(e.event(), TimelineEvent::NextRequested))
                .then_some(())
        })
        .await;

    let timeline = emulator.timeline();
    for id in &ids {
        let done = seq_of(&timeline, "done line", logged(format!("done {id}")));
        let response = seq_of(&timeline, "response", responded(id));
        let next = timeline
            .iter()
            .find(|e| e.seq() > response && matches!(e.event(), TimelineEvent::NextRequested))
            .map(TimelineEntry::seq)
            .expect("a /next after every response");
        assert!(
            done < response && response < next,
            "{id}: done line #{done}, response #{response}, next #{next}:\n{}",
            render(&timeline)
        );
    }
}

// Two worker threads: the background reader and the server race for real.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_concurrent_keeps_four_invocations_in_flight() {
    let emulator = Emulator::builder()
        .wait_timeout(Duration::from_secs(30))
        .start()
        .await;
    let _function = emulator
        .spawn_function(
            echo_fn(),
            &[
                ("ECHO_FN_CONCURRENT", "1"),
                ("AWS_LAMBDA_MAX_CONCURRENCY", "4"),
            ],
        )
        .await;

    // run_concurrent opens one long poll per concurrency slot.
    emulator
        .wait_timeline("four open /next polls", |timeline| {
            let polls = timeline
                .iter()
                .filter(|e| matches!(e.event(), TimelineEvent::NextRequested))
                .count();
            (polls >= 4).then_some(())
        })
        .await;

    // Each handler waits on a barrier of 4: none can answer until all four are in
    // flight at once. Sequential handling would hang (and hit the wait timeout).
    let events: Vec<_> = (0..4).map(|n| json!({"wait_for": 4, "n": n})).collect();
    let ids: Vec<_> = events.iter().map(|e| emulator.invoke(e.clone())).collect();
    for (id, event) in ids.iter().zip(&events) {
        assert_eq!(&emulator.result(id).await.expect_response(), event);
    }

    let timeline = emulator.timeline();
    let last_delivery = ids
        .iter()
        .map(|id| seq_of(&timeline, "delivery", delivered(id)))
        .max()
        .unwrap();
    let first_response = ids
        .iter()
        .map(|id| seq_of(&timeline, "response", responded(id)))
        .min()
        .unwrap();
    assert!(
        last_delivery < first_response,
        "all four must be delivered before any answers:\n{}",
        render(&timeline)
    );
}

#[tokio::test]
async fn init_error_is_recorded() {
    let emulator = Emulator::start().await;
    let function = emulator
        .spawn_function(
            echo_fn(),
            &[
                ("ECHO_FN_INIT_FAIL", "cannot load the policy"),
                ("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start"),
            ],
        )
        .await;

    let error = emulator.wait_init_error().await;
    assert_eq!(error.error_message(), "cannot load the policy");
    assert_eq!(error.function_error_type(), Some("Runtime.InitError"));
    assert!(!function.exit_status().await.success());
}

#[tokio::test]
async fn waiting_fails_fast_with_the_timeline_when_the_function_exits() {
    let emulator = Emulator::start().await;
    let function = emulator
        .spawn_function(Path::new("/bin/sh"), &[("GREETING", "bye")])
        .await;
    // sh with stdin at /dev/null exits at once, without ever polling /next.
    let status = function.exit_status().await;
    assert!(status.success());

    let id = emulator.invoke(json!({}));
    match emulator.try_result(&id).await {
        Err(WaitError::FunctionExited { timeline, .. }) => {
            assert!(timeline.contains("exited"), "{timeline}");
        }
        other => panic!("expected FunctionExited, got {other:?}"),
    }
}

#[tokio::test]
async fn spawned_environment_is_lambda_like_and_isolated() {
    let emulator = Emulator::builder().function_name("env-probe").start().await;
    // `cargo test` runs this process with CARGO_* variables set; none may leak.
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    let function = emulator
        .spawn_function(
            Path::new("/usr/bin/env"),
            &[("LAMBDA_TASK_ROOT", "/srv/task")],
        )
        .await;
    function.exit_status().await;

    let lines = function.stdout_lines();
    let expected = [
        format!("AWS_LAMBDA_RUNTIME_API={}", emulator.addr()),
        "AWS_LAMBDA_FUNCTION_NAME=env-probe".to_owned(),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128".to_owned(),
        "AWS_LAMBDA_FUNCTION_VERSION=$LATEST".to_owned(),
        "AWS_REGION=us-east-1".to_owned(),
        "_HANDLER=bootstrap".to_owned(),
        "LAMBDA_TASK_ROOT=/srv/task".to_owned(),
    ];
    for line in &expected {
        assert!(lines.contains(line), "missing {line} in {lines:?}");
    }
    assert!(!lines.iter().any(|l| l.starts_with("CARGO_")), "{lines:?}");
    assert!(!lines
        .iter()
        .any(|l| l.starts_with("LAMBDA_TASK_ROOT=/var/task")));
}

/// Sends one raw HTTP/1.1 request and returns the status code and body.
async fn raw_request(emulator: &Emulator, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(emulator.addr())
        .await
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        emulator.addr(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[tokio::test]
async fn protocol_violations_are_rejected_and_recorded() {
    let emulator = Emulator::start().await;

    let (status, body) = raw_request(
        &emulator,
        "POST",
        "/2018-06-01/runtime/invocation/not-an-id/response",
        "{}",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("InvalidRequestID"), "{body}");

    // Queued but never delivered: a result for it is out of order.
    let id = emulator.invoke(json!({}));
    let path = format!("/2018-06-01/runtime/invocation/{id}/response");
    let (status, _) = raw_request(&emulator, "POST", &path, "{}").await;
    assert_eq!(status, 400);

    let (status, _) = raw_request(&emulator, "GET", "/2018-06-01/runtime/nope", "").await;
    assert_eq!(status, 404);

    let violations = emulator
        .timeline()
        .iter()
        .filter(|e| matches!(e.event(), TimelineEvent::ProtocolViolation { .. }))
        .count();
    assert_eq!(violations, 3, "{}", emulator.render_timeline());
}

#[tokio::test]
async fn next_delivers_the_protocol_headers() {
    let emulator = Emulator::builder().function_name("headers").start().await;
    let id = emulator.invoke(json!({"a": 1}));

    let mut stream = tokio::net::TcpStream::connect(emulator.addr())
        .await
        .unwrap();
    stream
        .write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let lower = response.to_ascii_lowercase();

    assert!(lower.starts_with("http/1.1 200"), "{response}");
    assert!(
        lower.contains(&format!("lambda-runtime-aws-request-id: {id}")),
        "{response}"
    );
    assert!(lower.contains(
        "lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:headers"
    ));
    assert!(
        lower.contains("lambda-runtime-trace-id: root=1-"),
        "{response}"
    );
    assert!(
        lower.contains("content-type: application/json"),
        "{response}"
    );
    let deadline: u128 = lower
        .lines()
        .find_map(|l| l.strip_prefix("lambda-runtime-deadline-ms: "))
        .expect("deadline header")
        .trim()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(deadline > now, "deadline {deadline} is not in the future");
    assert!(response.ends_with(r#"{"a":1}"#), "{response}");

    // The raw client never answers: the invocation stays delivered, not done.
    assert!(matches!(
        emulator.timeline().last().unwrap().event(),
        TimelineEvent::InvocationDelivered { .. }
    ));
}

#[tokio::test]
async fn dropping_the_handle_kills_the_function() {
    use std::os::unix::process::ExitStatusExt;

    let emulator = Emulator::start().await;
    let function = emulator.spawn_function(echo_fn(), &[]).await;
    let pid = function.pid();
    // Make sure it is up and polling before it is killed.
    emulator.call(json!({"up": true})).await.expect_response();
    drop(function);

    let status = emulator
        .wait_timeline("the function's exit", |timeline| {
            timeline.iter().find_map(|e| match e.event() {
                TimelineEvent::ProcessExited { pid: p, status } if *p == pid => Some(*status),
                _ => None,
            })
        })
        .await;
    assert_eq!(status.signal(), Some(9), "{status}");
}
