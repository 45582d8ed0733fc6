// The OpenTelemetry SDKs as telemetry senders: e2e/clients/otel_python.py (the Python SDK over
// OTLP/HTTP protobuf) and e2e/clients/otel_js.mjs (the JavaScript SDK over OTLP/HTTP JSON).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const clients = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'clients');

/** MCP-shaped spans and a metric from the Python SDK; what it reports it exported. */
export async function sendWithPython(spec) {
  const python = process.env.E2E_PYTHON ?? 'python3';
  try {
    const { stdout } = await run(python, [path.join(clients, 'otel_python.py'), JSON.stringify(spec)], { timeout: 60_000 });
    return JSON.parse(stdout);
  } catch (err) {
    throw new Error(`the Python OpenTelemetry SDK failed (is opentelemetry-sdk 1.45 installed for ${python}?): ${err.stderr ?? err}`);
  }
}

/** MCP-shaped spans and logs from the JavaScript SDK. */
export async function sendWithJs(spec) {
  const { stdout, stderr } = await run(process.execPath, [path.join(clients, 'otel_js.mjs'), JSON.stringify(spec)], { timeout: 60_000 });
  assert.equal(JSON.parse(stdout).ok, true, stderr);
}
