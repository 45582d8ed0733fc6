// Sends MCP-shaped spans and logs with the OpenTelemetry JavaScript SDK over OTLP/HTTP JSON.
// Usage: node otel_js.mjs '{"endpoint": "http://…", "key": "mcpk_…", "calls": [...], "logs": [...]}'
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

const spec = JSON.parse(process.argv[2]);
const headers = { Authorization: `Bearer ${spec.key}` };
const resource = resourceFromAttributes({ 'service.name': 'js-mcp-server' });

const traces = new BasicTracerProvider({
  resource,
  spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${spec.endpoint}/v1/traces`, headers }))],
});
const tracer = traces.getTracer('mcp-e2e');
const start = Date.now() - 30_000;
spec.calls.forEach((call, n) => {
  const attributes = {
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': call.tool,
    'mcp.session.id': 'js-session',
    'user.id': 'js-user',
    'mcp.client.name': 'js-e2e',
  };
  if (call.error) attributes['error.type'] = call.error;
  const begin = start + n * 1000;
  const span = tracer.startSpan(`tools/call ${call.tool}`, { kind: SpanKind.SERVER, attributes, startTime: begin });
  if (call.error) span.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
  span.end(begin + call.ms);
});
await traces.forceFlush();
await traces.shutdown();

const logs = new LoggerProvider({
  resource,
  processors: [new SimpleLogRecordProcessor(new OTLPLogExporter({ url: `${spec.endpoint}/v1/logs`, headers }))],
});
const logger = logs.getLogger('mcp-e2e');
for (const log of spec.logs ?? []) {
  logger.emit({ severityNumber: log.severity, severityText: log.text, body: log.body, attributes: { 'mcp.session.id': 'js-session' } });
}
await logs.forceFlush();
await logs.shutdown();
console.log(JSON.stringify({ ok: true }));
