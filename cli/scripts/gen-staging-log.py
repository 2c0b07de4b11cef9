#!/usr/bin/env python3
"""Write a synthetic staging log for measuring `fnshield suggest` and `fnshield check`.

Usage: python3 cli/scripts/gen-staging-log.py LINES [events] > FILE

Per invocation, 20 lines: START, two fnshield event lines in Lambda's text log format (an
outbound connection to one of 10 hosts, a write under one of 1000 /tmp directories), an EMF
metric line, 14 handler lines, END and REPORT. About 102 bytes a line: 10,000,000 lines make
1.02 GB with 1,000,000 events. With `events`, only the event lines (about 412 bytes each).
Nothing is read or written but stdout.
"""
import json
import sys

out = sys.stdout
lines = 0
target = int(sys.argv[1])
events_only = sys.argv[2:] == ["events"]
i = 0
while lines < target:
    rid = f"7e57ed00-0000-4000-8000-{i:012d}"
    ts = f"2026-11-18T11:{(i//60)%60:02d}:{i%60:02d}.000Z"
    ev = lambda policy, details, count=1: json.dumps({"function_shield": True, "level": "WARN", "policy": policy, "mode": "alert", "action": "alerted", "details": details, "timestamp": ts, "request_id": rid, "function_name": "orders", "syscall": "openat", "pid": 8, "count": count, "how_to_allow": "add it"}, separators=(",", ":"))
    block = [
        f"START RequestId: {rid} Version: $LATEST",
        f"{ts}\t{rid}\tINFO\t" + ev("outbound_connectivity", {"host": f"api{i%10}.example.com", "ip": f"192.0.2.{i%10}", "port": 443}, 2),
        f"{ts}\t{rid}\tINFO\t" + ev("read_write_tmp", {"path": f"/tmp/cache/{i%1000}/data.json", "access": "write"}),
        '{"_aws":{"Timestamp":1795000000123,"CloudWatchMetrics":[{"Namespace":"fnshield","Dimensions":[["function_name"]],"Metrics":[{"Name":"read_write_tmp_alerted","Unit":"Count"}]}]},"read_write_tmp_alerted":1}',
    ] + [f"handler: step {k} of batch {i} ok in {k*3} ms, retries 0" for k in range(14)] + [
        f"END RequestId: {rid}",
        f"REPORT RequestId: {rid}\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB",
    ]
    if events_only:
        block = block[1:3]
    out.write("\n".join(block) + "\n")
    lines += len(block)
    i += 1
