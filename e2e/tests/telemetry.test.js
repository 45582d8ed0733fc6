// Telemetry from the OpenTelemetry SDKs themselves: Python over OTLP/HTTP protobuf, JavaScript
// over OTLP/HTTP JSON, with a server key. The analytics API then shows exactly what was sent.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { eventually, startServer, tempDir } from './harness.js';
import { owner } from './mcp_clients.js';

const run = promisify(execFile);
const clients = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'clients');

async function sendWithPython(spec) {
  const python = process.env.E2E_PYTHON ?? 'python3';
  try {
    const { stdout } = await run(python, [path.join(clients, 'otel_python.py'), JSON.stringify(spec)], { timeout: 60_000 });
    return JSON.parse(stdout);
  } catch (err) {
    throw new Error(`the Python OpenTelemetry SDK failed (is opentelemetry-sdk 1.45 installed for ${python}?): ${err.stderr ?? err}`);
  }
}

async function sendWithJs(spec) {
  const { stdout, stderr } = await run(process.execPath, [path.join(clients, 'otel_js.mjs'), JSON.stringify(spec)], { timeout: 60_000 });
  assert.equal(JSON.parse(stdout).ok, true, stderr);
}

test('spans, metrics and logs from the Python and JavaScript SDKs add up in the analytics', async (t) => {
  const work = tempDir();
  t.after(work.remove);
  const server = await startServer({ cwd: work.dir });
  t.after(() => server.stop());
  const acme = await owner(server);
  const docs = await acme.createServer({ slug: 'acme-docs', name: 'Acme Docs', auth_mode: 'none' });
  const key = await acme.call('POST', `/api/v1/orgs/${acme.org}/api-keys`, {
    name: 'otel', scopes: ['telemetry:write'], mcp_server_id: docs.id,
  });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  const endpoint = server.base;

  // Python: `search` 10…100 ms, the third a tool error. JavaScript: `fetch` 5, 15, 25 ms, the
  // last a JSON-RPC error.
  const python = await sendWithPython({
    endpoint,
    key: key.body.secret,
    calls: Array.from({ length: 10 }, (_, i) => ({ tool: 'search', ms: (i + 1) * 10, error: i === 2 ? 'tool_error' : null })),
  });
  assert.ok(python.spans_exported.length === 10 && python.spans_exported.every(Boolean), JSON.stringify(python));
  assert.equal(python.metrics_exported, true);
  await sendWithJs({
    endpoint,
    key: key.body.secret,
    calls: [{ tool: 'fetch', ms: 5 }, { tool: 'fetch', ms: 15 }, { tool: 'fetch', ms: 25, error: '-32603' }],
    logs: [{ severity: 17, text: 'ERROR', body: 'fetch upstream refused the connection' }, { severity: 9, text: 'INFO', body: 'fetch served' }],
  });

  let overview;
  const arrived = await eventually(async () => {
    overview = (await acme.call('GET', `/api/v1/orgs/${acme.org}/analytics/overview?range=1h`)).body;
    return overview.calls === 13;
  });
  assert.ok(arrived, JSON.stringify(overview));
  assert.equal(overview.tool_errors, 1);
  assert.equal(overview.protocol_errors, 1);
  const search = overview.tools.find((tool) => tool.name === 'search');
  assert.equal(search.calls, 10);
  assert.equal(search.tool_errors, 1);
  // Nearest rank over 10, 20 … 100 ms, exact.
  assert.deepEqual([search.latency.p50_ms, search.latency.p95_ms, search.latency.p99_ms], [50, 100, 100]);
  const fetchTool = overview.tools.find((tool) => tool.name === 'fetch');
  assert.equal(fetchTool.calls, 3);
  assert.equal(fetchTool.protocol_errors, 1);
  assert.deepEqual([fetchTool.latency.p50_ms, fetchTool.latency.max_ms], [15, 25]);
  assert.deepEqual(overview.clients.map((c) => [c.name, c.calls]).sort(), [['js-e2e', 3], ['python-e2e', 10]]);
  assert.equal(overview.active_users, 2);
  assert.equal(overview.sessions, 2);

  const logs = (await acme.call('GET', `/api/v1/orgs/${acme.org}/logs?range=1h&q=refused`)).body;
  assert.equal(logs.items.length, 1, JSON.stringify(logs));
  assert.equal(logs.items[0].severity_number, 17);
  assert.equal(logs.items[0].session_id, 'js-session');

  // A key of no organization is refused by the SDK's exporter, and nothing more is stored.
  await sendWithPython({ endpoint, key: `mcpk_${'x'.repeat(43)}`, calls: [{ tool: 'search', ms: 1 }] }).then((refused) => {
    assert.deepEqual(refused.spans_exported, [false]);
  });
  const after = (await acme.call('GET', `/api/v1/orgs/${acme.org}/analytics/overview?range=1h`)).body;
  assert.equal(after.calls, 13);
});
