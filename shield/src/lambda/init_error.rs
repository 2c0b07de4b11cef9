//! Reporting a cold-start failure to the Runtime API.

/// Report a cold-start failure to the Runtime API (`POST /2018-06-01/runtime/init/error`), so
/// that Lambda shows the shield's message instead of a bare `Runtime.ExitError`. Call it when
/// building or installing the shield fails; [`run`](crate::run) and the attribute macro do.
///
/// A plain HTTP/1.1 POST on loopback with no runtime and no client library, so it also works
/// before any runtime exists; the Runtime API is always reachable through the shield. Blocking,
/// bounded by a 2 s timeout per step.
pub fn report_init_error(error_type: &str, message: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "AWS_LAMBDA_RUNTIME_API is not set",
        )
    })?;
    let addr = api.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "AWS_LAMBDA_RUNTIME_API has no address",
        )
    })?;
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: {error_type}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // A bound on how long a broken Runtime API can delay the exit, not a synchronisation.
    let limit = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&addr, limit)?;
    stream.set_read_timeout(Some(limit))?;
    stream.set_write_timeout(Some(limit))?;
    stream.write_all(request.as_bytes())?;
    // Wait for the answer, so that the report is in before the process exits.
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    Ok(())
}
