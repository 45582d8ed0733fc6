// A 2xx from the ingest endpoints means stored: MCPlatform is killed with SIGKILL while four
// senders keep posting OTLP/JSON spans, and after a restart every request that was answered
// 2xx is there whole. A request is stored all or nothing, answered or not.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { sleep, startServer, tempDir } from './harness.js';
import { owner } from './mcp_clients.js';

const SPANS = 50;

/** One OTLP/JSON traces request: a trace of SPANS `tools/call` server spans. */
function request(traceId) {
  const now = BigInt(Date.now()) * 1_000_000n;
  const spans = Array.from({ length: SPANS }, (_, i) => ({
    traceId,
    spanId: randomBytes(8).toString('hex'),
    name: 'tools/call search',
    kind: 2,
    startTimeUnixNano: String(now + BigInt(i)),
    endTimeUnixNano: String(now + BigInt(i) + 5_000_000n),
    attributes: [
      { key: 'mcp.method.name', value: { stringValue: 'tools/call' } },
      { key: 'gen_ai.tool.name', value: { stringValue: 'search' } },
    ],
  }));
  return JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] });
}

test('every span answered 2xx survives a kill -9 during sustained ingest', async (t) => {
  const work = tempDir();
  t.after(work.remove);
  let server = await startServer({ cwd: work.dir });
  t.after(() => server.stop());
  const acme = await owner(server);
  const docs = await acme.createServer({ slug: 'acme', name: 'Acme', auth_mode: 'none' });
  const writer = await acme.call('POST', `/api/v1/orgs/${acme.org}/api-keys`, { name: 'otel', scopes: ['telemetry:write'], mcp_server_id: docs.id });
  const reader = await acme.call('POST', `/api/v1/orgs/${acme.org}/api-keys`, { name: 'read', scopes: ['management'] });
  assert.equal(writer.status, 201);

  const acked = [];
  const unanswered = [];
  let sending = true;
  const sender = async () => {
    while (sending) {
      const traceId = randomBytes(16).toString('hex');
      try {
        const response = await fetch(`${server.base}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${writer.body.secret}` },
          body: request(traceId),
        });
        if (response.ok) acked.push(traceId); else unanswered.push(traceId);
      } catch {
        unanswered.push(traceId); // the connection died with the process
        return;
      }
    }
  };
  const senders = [sender(), sender(), sender(), sender()];
  await sleep(1500);
  server.kill();
  sending = false;
  await Promise.all(senders);
  assert.ok(acked.length >= 4, `sustained ingest before the kill: ${acked.length} requests answered`);

  server = await startServer({ cwd: work.dir });
  const spansOf = async (traceId) => {
    const response = await fetch(`${server.base}/api/v1/orgs/${acme.org}/traces/${traceId}`, {
      headers: { authorization: `Bearer ${reader.body.secret}` },
    });
    if (response.status === 404) return 0;
    assert.equal(response.status, 200);
    return (await response.json()).items.length;
  };
  for (const traceId of acked) assert.equal(await spansOf(traceId), SPANS, `acknowledged trace ${traceId}`);
  // What was cut off mid-request is there whole or not at all.
  for (const traceId of unanswered) assert.ok([0, SPANS].includes(await spansOf(traceId)), traceId);
});
