// Telemetry from the OpenTelemetry SDKs themselves: Python over OTLP/HTTP protobuf, JavaScript
// over OTLP/HTTP JSON, with a server key. The analytics API then shows exactly what was sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { launchBrowser, ownerPage, screenshot } from './browser.js';
import { eventually, startServer, tempDir } from './harness.js';
import { owner } from './mcp_clients.js';
import { sendWithJs, sendWithPython } from './otel_senders.js';

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

  // The dashboard shows the same numbers: totals, the split, the tools with their exact
  // percentiles, the clients, the chart, a session's timeline, a trace and the log search.
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const { page, consoleErrors } = await ownerPage(browser, server.publicBase);
  await page.goto(`/orgs/${acme.org}`);
  await page.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name: 'Analytics' }).click();
  await page.getByLabel('Period').selectOption('1h');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/range=1h/);
  assert.equal(await page.locator('#stat-calls').textContent(), '13');
  assert.equal(await page.locator('#stat-protocol-errors').textContent(), '1');
  assert.equal(await page.locator('#stat-tool-errors').textContent(), '1');
  assert.equal(await page.locator('#stat-users').textContent(), '2');
  const row = (table, name) => page.locator(`#${table} tbody tr`).filter({ has: page.getByRole('rowheader', { name, exact: true }) });
  // search: 10 calls, 1 tool error, 0 protocol errors, 10.0%, p50 50 ms, p95 100 ms, p99 100 ms.
  assert.deepEqual(await row('tools', 'search').locator('td').allTextContents(), ['10', '1', '0', '10.0%', '50 ms', '100 ms', '100 ms']);
  assert.deepEqual(await row('tools', 'fetch').locator('td').allTextContents(), ['3', '0', '1', '33.3%', '15 ms', '25 ms', '25 ms']);
  assert.deepEqual(await row('clients', 'python-e2e').locator('td').allTextContents(), ['10', '76.9%', '1']);
  // ECharts drew the series into a canvas.
  await page.locator('#calls-chart canvas').waitFor();
  await screenshot(page, 'telemetry-01-analytics');

  await page.getByRole('link', { name: 'js-session' }).click();
  assert.equal(await page.locator('table.calls tbody tr').count(), 3);
  await page.locator('table.calls tbody tr.failed').getByRole('link', { name: 'Trace' }).click();
  await page.locator('summary .span-name', { hasText: 'tools/call fetch' }).click();
  await page.getByText('"error.type"').waitFor();
  await screenshot(page, 'telemetry-02-trace');

  await page.goto(`/orgs/${acme.org}/analytics/logs`);
  await page.getByLabel('Words').fill('refused');
  await page.getByRole('button', { name: 'Search' }).click();
  assert.deepEqual(await page.locator('#logs td.log-body').allTextContents(), ['fetch upstream refused the connection']);
  await screenshot(page, 'telemetry-03-logs');

  // The Python SDK's histogram: listed, then charted on its own page.
  await page.goto(`/orgs/${acme.org}/analytics?range=1h`);
  await page.getByRole('link', { name: 'mcp.server.operation.duration' }).click();
  await page.locator('#metric-chart canvas').waitFor();
  assert.match(await page.locator('#points tbody tr').first().innerText(), /count 10, sum 0\.55/);
  await screenshot(page, 'telemetry-04-metric');
  assert.deepEqual(consoleErrors, []);

  // A key of no organization is refused by the SDK's exporter, and nothing more is stored.
  await sendWithPython({ endpoint, key: `mcpk_${'x'.repeat(43)}`, calls: [{ tool: 'search', ms: 1 }] }).then((refused) => {
    assert.deepEqual(refused.spans_exported, [false]);
  });
  const after = (await acme.call('GET', `/api/v1/orgs/${acme.org}/analytics/overview?range=1h`)).body;
  assert.equal(after.calls, 13);
});
