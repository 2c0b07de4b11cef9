//! Reporting a cold-start failure to the Runtime API.

/// Report a cold-start failure to the Runtime API (`POST /2018-06-01/runtime/init/error`), so
/// that Lambda shows the shield's message instead of a bare `Runtime.ExitError`. Call it when
/// building or installing the shield fails; [`run`](crate::run) and the attribute macro do.
///
/// A plain HTTP/1.1 POST on loopback with no runtime and no client library, so it also works
/// before any runtime exists; the Runtime API is always reachable through the shield. Blocking,
/// bounded by a 2 s timeout per step. `AWS_LAMBDA_RUNTIME_API` may take every form
/// lambda_runtime accepts (`host:port`, `[v6]:port`, `http://host:port/prefix`, a host name);
/// a path prefix is honoured.
///
/// # Errors
/// The variable is unset or not understood, its host does not resolve, no address accepts the
/// connection, or writing the request fails.
pub fn report_init_error(error_type: &str, message: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;
    let value = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "AWS_LAMBDA_RUNTIME_API is not set",
        )
    })?;
    // Every form lambda_runtime accepts, path prefix included (cargo-lambda's
    // `http://[::]:9125/.rt/myfn`).
    let api = crate::policy::runtime_api::RuntimeApi::parse(&value)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let addrs = api.socket_addrs()?;
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string();
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\n\
         Lambda-Runtime-Function-Error-Type: {error_type}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        api.path("/runtime/init/error"),
        api.authority(),
        body.len()
    );
    // A bound on how long a broken Runtime API can delay the exit, not a synchronisation.
    let limit = Duration::from_secs(2);
    let mut last = std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "AWS_LAMBDA_RUNTIME_API has no address",
    );
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, limit) {
            Ok(mut stream) => {
                stream.set_read_timeout(Some(limit))?;
                stream.set_write_timeout(Some(limit))?;
                stream.write_all(request.as_bytes())?;
                // Wait for the answer, so that the report is in before the process exits.
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
                return Ok(());
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}
