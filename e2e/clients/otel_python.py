"""Sends MCP-shaped telemetry with the OpenTelemetry Python SDK over OTLP/HTTP protobuf.

Usage: otel_python.py '{"endpoint": "http://…", "key": "mcpk_…", "calls": [{"tool": "search",
"ms": 12, "error": null}, …]}'. Each call is a SERVER span per the OTel MCP conventions, and a
point of the `mcp.server.operation.duration` histogram. Prints what the exporters reported.
"""

import json
import sys
import time

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

spec = json.loads(sys.argv[1])
headers = {"Authorization": f"Bearer {spec['key']}"}
resource = Resource.create({"service.name": "python-mcp-server"})

results = []


class Recording(OTLPSpanExporter):
    def export(self, spans):
        result = super().export(spans)
        results.append(result == SpanExportResult.SUCCESS)
        return result


traces = TracerProvider(resource=resource)
traces.add_span_processor(
    SimpleSpanProcessor(Recording(endpoint=f"{spec['endpoint']}/v1/traces", headers=headers))
)
tracer = traces.get_tracer("mcp-e2e")

reader = InMemoryMetricReader()
meter = MeterProvider(resource=resource, metric_readers=[reader]).get_meter("mcp-e2e")
duration = meter.create_histogram("mcp.server.operation.duration", unit="s")

start = time.time_ns() - 60 * 1_000_000_000
for n, call in enumerate(spec["calls"]):
    attributes = {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": call["tool"],
        "mcp.session.id": "py-session",
        "user.id": "py-user",
        "mcp.client.name": "python-e2e",
    }
    if call.get("error"):
        attributes["error.type"] = call["error"]
    begin = start + n * 1_000_000_000
    span = tracer.start_span(
        f"tools/call {call['tool']}", kind=SpanKind.SERVER, attributes=attributes, start_time=begin
    )
    if call.get("error"):
        span.set_status(Status(StatusCode.ERROR, "failed"))
    span.end(end_time=begin + call["ms"] * 1_000_000)
    duration.record(call["ms"] / 1000, {"mcp.method.name": "tools/call", "gen_ai.tool.name": call["tool"]})

traces.shutdown()
metrics = reader.get_metrics_data()
exporter = OTLPMetricExporter(endpoint=f"{spec['endpoint']}/v1/metrics", headers=headers)
metrics_ok = exporter.export(metrics) == MetricExportResult.SUCCESS
print(json.dumps({"spans_exported": results, "metrics_exported": metrics_ok}))
