"""Writes one OTLP/HTTP traces request of MCP-shaped server spans, as protobuf and as JSON.

Usage: otlp_payload.py <spans> <out prefix>  → <prefix>.pb and <prefix>.json

Each span is a `tools/call` (or, one in ten, another method) per the OTel MCP semantic
conventions: 8 tools, 50 sessions, 40 users, 3 clients, log-normal durations around 20 ms,
3% tool errors and 1% JSON-RPC errors, all in the 10 minutes before now. Built with the
`opentelemetry-proto` package the OTLP exporters use; the JSON is the OTLP/JSON mapping (hex
ids, integers as strings).
"""

import json
import random
import sys
import time

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

count, prefix = int(sys.argv[1]), sys.argv[2]
rng = random.Random(7)
tools = ["search_docs", "get_page", "list_examples", "run_query", "get_support",
         "start_walkthrough", "get_next_step", "fetch_changelog"]
clients = [("cursor", "1.7.2"), ("claude-code", "2.0.1"), ("Visual Studio Code", "1.105.0")]
methods = ["tools/list", "resources/read", "prompts/get", "initialize"]


def attr(key, value):
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


now = time.time_ns()
spans = []
for n in range(count):
    start = now - rng.randrange(600 * 10**9)
    duration = int(rng.lognormvariate(3.0, 0.8) * 1_000_000)
    client = rng.choice(clients)
    method = "tools/call" if rng.random() < 0.9 else rng.choice(methods)
    attributes = [
        attr("mcp.method.name", method),
        attr("mcp.session.id", f"session-{rng.randrange(50)}"),
        attr("user.id", f"user-{rng.randrange(40)}"),
        attr("mcp.client.name", client[0]),
        attr("mcp.client.version", client[1]),
        attr("mcp.protocol.version", "2025-11-25"),
        attr("jsonrpc.request.id", str(n)),
        attr("network.transport", "tcp"),
        attr("server.address", "docs.example.com"),
    ]
    name = method
    if method == "tools/call":
        tool = rng.choice(tools)
        attributes.append(attr("gen_ai.tool.name", tool))
        name = f"tools/call {tool}"
    status = Status()
    roll = rng.random()
    if roll < 0.03:
        attributes.append(attr("error.type", "tool_error"))
        status = Status(code=Status.STATUS_CODE_ERROR, message="the tool reported an error")
    elif roll < 0.04:
        attributes.append(attr("error.type", "-32603"))
        attributes.append(attr("rpc.response.status_code", -32603))
        status = Status(code=Status.STATUS_CODE_ERROR, message="internal error")
    spans.append(Span(
        trace_id=rng.randbytes(16), span_id=rng.randbytes(8), name=name,
        kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=start,
        end_time_unix_nano=start + duration, attributes=attributes, status=status,
    ))

request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
    resource=Resource(attributes=[attr("service.name", "docs-mcp"),
                                  attr("service.version", "3.2.1"),
                                  attr("telemetry.sdk.language", "python")]),
    scope_spans=[ScopeSpans(spans=spans)],
)])
with open(f"{prefix}.pb", "wb") as out:
    out.write(request.SerializeToString())

# OTLP/JSON: ids are hex, not protobuf JSON's base64.
body = MessageToDict(request)
for rs in body["resourceSpans"]:
    for ss in rs["scopeSpans"]:
        for span in ss["spans"]:
            for key in ("traceId", "spanId"):
                span[key] = __import__("base64").b64decode(span[key]).hex()
with open(f"{prefix}.json", "w") as out:
    json.dump(body, out, separators=(",", ":"))
