#!/usr/bin/env bash
# The example function written with #[fnshield::handler] (examples/src/bin/macro_fn.rs), run
# the way Rust Lambda authors run functions locally: `cargo lambda watch` (cargo-lambda's
# Runtime API emulator, which sets AWS_LAMBDA_RUNTIME_API in its URL form) and
# `cargo lambda invoke`. It sends a valid event, an invalid one and a malicious one, and checks
# the responses and the shield's event lines in the function's log.
#
# The shield's tmp root is a private directory, never this machine's /tmp: the wipe removes
# what the function leaves there.
#
# cargo-lambda comes from PyPI (`pip install cargo-lambda`). When it is missing and cannot be
# installed, the script says so and exits 0 (skipped), so that a machine without PyPI access
# still runs the rest of CI.
#
# Usage: examples/cargo-lambda.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-lambda >/dev/null 2>&1; then
    echo "cargo-lambda.sh: installing cargo-lambda from PyPI"
    python3 -m pip install --quiet cargo-lambda >/dev/null 2>&1 ||
        python3 -m pip install --quiet --user cargo-lambda >/dev/null 2>&1 || true
    export PATH="$HOME/.local/bin:$PATH"
fi
if ! command -v cargo-lambda >/dev/null 2>&1; then
    echo "cargo-lambda.sh: SKIPPED: cargo-lambda is not installed and 'pip install cargo-lambda' failed"
    exit 0
fi
echo "cargo-lambda.sh: $(cargo lambda --version)"

work=$(mktemp -d "${TMPDIR:-/tmp}/fnshield-cargo-lambda.XXXXXX")
watch_pid=
cleanup() {
    if [ -n "$watch_pid" ]; then
        kill -- "-$watch_pid" 2>/dev/null || kill "$watch_pid" 2>/dev/null || true
        wait "$watch_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/tmp/cache"

# The policy file: a private tmp root with the quick start's allowed sub-path, the JSON event
# line on stdout, and the body of API Gateway requests validated against a schema.
cat >"$work/fnshield.toml" <<EOF
[read_write_tmp]
root = "$work/tmp"
allow = ["$work/tmp/cache"]

[events]
sinks = ["json"]

[validation]
envelope = "auto"
schema_json = """
{"type": "object",
 "properties": {"action": {"enum": ["echo", "read", "write", "fetch", "exec", "state"]}}}
"""
EOF

# A free port for the emulator's invoke endpoint.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# `cargo lambda watch` builds the function and serves it until killed. It runs in its own
# process group so that the cleanup stops the function too.
set -m
cargo lambda watch --ignore-changes -A 127.0.0.1 -P "$port" -p examples --bin macro_fn \
    --env-var "SHIELD_CONFIG=$work/fnshield.toml" >"$work/watch.log" 2>&1 &
watch_pid=$!
set +m


fail() {
    echo "cargo-lambda.sh: FAIL: $*" >&2
    echo "--- cargo lambda watch log (last 60 lines) ---" >&2
    tail -60 "$work/watch.log" >&2 || true
    exit 1
}

# The emulator is up once it says so and its port accepts connections (bounded).
grep -q -m1 'starting Runtime server' < <(timeout 300 tail -n +1 -F "$work/watch.log" 2>/dev/null) ||
    fail "cargo lambda watch did not start its Runtime server"
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

# Each invoke waits for the function (the first one also for the build); a watchdog bounds it.
invoke() {
    timeout 900 cargo lambda invoke macro_fn -A 127.0.0.1 -P "$port" --data-ascii "$1" \
        2>>"$work/invoke.err" || fail "cargo lambda invoke did not answer for $1 ($(cat "$work/invoke.err"))"
}

# 1. A valid event: the handler echoes it, and the shield reports nothing.
out=$(invoke '{"action": "echo", "hello": "world"}')
echo "valid event     -> $out"
grep -q '"hello":"world"' <<<"$out" || grep -q '"hello": "world"' <<<"$out" ||
    fail "the valid event was not echoed: $out"

# 2. An invalid event: an API Gateway request whose body fails the schema gets a 400.
apigw='{"resource": "/orders", "path": "/orders", "httpMethod": "POST",
 "headers": {"content-type": "application/json"},
 "requestContext": {"requestId": "cl-1", "stage": "prod", "httpMethod": "POST", "resourcePath": "/orders"},
 "body": "{\"action\": 42}", "isBase64Encoded": false}'
out=$(invoke "$apigw")
echo "invalid event   -> $out"
grep -Eq '"statusCode": ?400' <<<"$out" || fail "the invalid event did not get a 400: $out"

# 3. A malicious event: reading the function's secrets is refused with EACCES.
out=$(invoke '{"action": "read", "target": "/proc/self/environ"}')
echo "malicious event -> $out"
grep -q 'Permission denied' <<<"$out" || fail "the read of /proc/self/environ was not refused: $out"

# The event lines reach the function's log before the response is posted.
grep -q '"function_shield":true.*"policy":"input_validation".*"action":"blocked"' "$work/watch.log" ||
    fail "no blocked input_validation event line in the function's log"
grep -q '"function_shield":true.*"policy":"read_handler".*"action":"blocked".*/proc/self/environ' "$work/watch.log" ||
    fail "no blocked read_handler event line for /proc/self/environ in the function's log"
if grep -q '"function_shield":true.*"policy":"\(outbound_connectivity\|read_write_tmp\|create_child_process\)"' "$work/watch.log"; then
    fail "the shield reported a violation the events did not commit"
fi
echo "cargo-lambda.sh: ok (valid event echoed, invalid event 400, malicious read refused, both reported)"
