// Export to a real OTLP receiver, across a restart: MCPlatform forwards what the OpenTelemetry
// SDKs send it to a second MCPlatform (a complete OTLP/HTTP receiver with its own key). The
// receiver goes down, the sender is restarted while it is down, and once the receiver is back
// every span has arrived there exactly once.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { launchBrowser, ownerPage, screenshot } from './browser.js';
import { eventually, freePort, sleep, startServer, tempDir } from './harness.js';
import { owner } from './mcp_clients.js';
import { sendWithJs, sendWithPython } from './otel_senders.js';

test('a destination gets every span exactly once, also across a restart while it was down', async (t) => {
  const receiverDir = tempDir();
  const senderDir = tempDir();
  t.after(receiverDir.remove);
  t.after(senderDir.remove);
  const [receiverPort, senderPort] = [await freePort(), await freePort()];

  let receiver = await startServer({ cwd: receiverDir.dir, port: receiverPort });
  t.after(() => receiver.stop());
  const ops = await owner(receiver, 'ops@receiver.test');
  const sink = await ops.createServer({ slug: 'sink', name: 'Sink', auth_mode: 'none' });
  const sinkKey = await ops.call('POST', `/api/v1/orgs/${ops.org}/api-keys`, { name: 'from-acme', scopes: ['telemetry:write'], mcp_server_id: sink.id });
  assert.equal(sinkKey.status, 201);
  const received = async () => (await ops.call('GET', `/api/v1/orgs/${ops.org}/analytics/overview?range=1h`)).body;

  // The sender may reach a receiver on loopback (a production one would be https and public).
  const env = { MCPLATFORM_HTTP__OUTBOUND_ALLOW_PRIVATE_NETWORKS: 'true' };
  let sender = await startServer({ cwd: senderDir.dir, env, port: senderPort });
  t.after(() => sender.stop());
  const acme = await owner(sender);
  const docs = await acme.createServer({ slug: 'acme-docs', name: 'Acme Docs', auth_mode: 'none' });
  const key = await acme.call('POST', `/api/v1/orgs/${acme.org}/api-keys`, { name: 'otel', scopes: ['telemetry:write'], mcp_server_id: docs.id });
  const created = await acme.call('POST', `/api/v1/orgs/${acme.org}/telemetry/destinations`, {
    name: 'Receiver', kind: 'otlp', endpoint: receiver.base, signals: ['traces'],
    headers: { authorization: `Bearer ${sinkKey.body.secret}` },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const destination = `/api/v1/orgs/${acme.org}/telemetry/destinations/${created.body.id}`;
  const status = async () => (await acme.call('GET', destination)).body.status;

  // Up: ten calls from the Python SDK (protobuf) arrive.
  const python = await sendWithPython({
    endpoint: sender.base,
    key: key.body.secret,
    calls: Array.from({ length: 10 }, (_, i) => ({ tool: 'search', ms: (i + 1) * 10, error: null })),
  });
  assert.ok(python.spans_exported.every(Boolean), JSON.stringify(python));
  let overview;
  assert.ok(await eventually(async () => (overview = await received()).calls === 10), JSON.stringify(overview));

  // Down: three calls from the JavaScript SDK (JSON) are accepted and wait.
  await receiver.stop();
  await sendWithJs({ endpoint: sender.base, key: key.body.secret, calls: [{ tool: 'fetch', ms: 5 }, { tool: 'fetch', ms: 15 }, { tool: 'fetch', ms: 25 }] });
  let waiting;
  assert.ok(await eventually(async () => {
    waiting = await status();
    return waiting.backlog_items === 3 && waiting.last_error !== null && waiting.consecutive_failures >= 1;
  }), JSON.stringify(waiting));

  // The sender restarts while the receiver is still down: the queue is in its database.
  await sender.stop();
  sender = await startServer({ cwd: senderDir.dir, env, port: senderPort });
  assert.equal((await status()).backlog_items, 3);

  // Back: the sender is backing off; "send test" tries at once, and on success the queue goes.
  receiver = await startServer({ cwd: receiverDir.dir, port: receiverPort });
  const tested = await acme.call('POST', `${destination}/test`);
  assert.equal(tested.status, 200, JSON.stringify(tested.body));
  assert.deepEqual(tested.body.items.map((r) => [r.signal, r.delivered]), [['traces', true]]);
  assert.ok(await eventually(async () => (overview = await received()).calls === 13), JSON.stringify(overview));
  const done = await status();
  assert.equal(done.backlog_requests, 0);
  assert.equal(done.dropped_requests, 0);

  // Exactly once: nothing more arrives, and the receiver sees each SDK's calls once.
  await sleep(3000);
  overview = await received();
  assert.equal(overview.calls, 13);
  assert.deepEqual(overview.tools.map((tool) => [tool.name, tool.calls]).sort(), [['fetch', 3], ['search', 10]]);
  assert.deepEqual(overview.clients.map((c) => [c.name, c.calls]).sort(), [['js-e2e', 3], ['python-e2e', 10]]);

  // The dashboard shows the destination's status, and a test from there says what it got.
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const { page, consoleErrors } = await ownerPage(browser, sender.publicBase);
  await page.goto(`/orgs/${acme.org}/analytics`);
  await page.getByRole('link', { name: /Export to Datadog/ }).click();
  const row = page.locator(`tr[data-destination="${created.body.id}"]`);
  await row.getByRole('button', { name: 'Send test' }).click();
  await page.locator('#test-results').getByText('delivered').waitFor();
  assert.equal(await row.locator('td.waiting').textContent(), '0');
  assert.equal(await row.locator('td.dropped').textContent(), '0');
  assert.ok(Number(await row.locator('td.delivered').textContent()) >= 2);
  await screenshot(page, 'telemetry-05-export');
  assert.deepEqual(consoleErrors, []);
});
