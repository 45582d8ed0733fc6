// MCPlatform's own traces, exported with the standard OTEL_* variables: one MCPlatform (on a
// fresh PostgreSQL database, so the test can read what arrived) collects, a second one sends
// a span for each request it serves, with a telemetry key of the first in the headers.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { eventually, psql, startServer, tempDir } from './harness.js';
import { owner } from './mcp_clients.js';

test('OTEL_EXPORTER_OTLP_ENDPOINT sends MCPlatform\'s own request spans to an OTLP endpoint', async (t) => {
  if (psql('SELECT 1') === null) {
    t.skip('E2E_POSTGRES_URL is not set');
    return;
  }
  const database = `mcp_e2e_${process.pid}_${Date.now()}_otel`;
  psql(`CREATE DATABASE ${database}`);
  t.after(() => psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  const admin = new URL(process.env.E2E_POSTGRES_URL);
  admin.pathname = `/${database}`;
  const collectorDir = tempDir();
  t.after(collectorDir.remove);
  const collector = await startServer({ cwd: collectorDir.dir, env: { DATABASE_URL: admin.toString() } });
  t.after(() => collector.stop());
  const acme = await owner(collector);
  const ops = await acme.createServer({ slug: 'ops', name: 'Our own MCPlatform', auth_mode: 'none' });
  const key = await acme.call('POST', `/api/v1/orgs/${acme.org}/api-keys`, { name: 'self', scopes: ['telemetry:write'], mcp_server_id: ops.id });
  assert.equal(key.status, 201);

  const senderDir = tempDir();
  t.after(senderDir.remove);
  const sender = await startServer({
    cwd: senderDir.dir,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.base,
      OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer%20${key.body.secret}`,
      OTEL_SERVICE_NAME: 'mcplatform-e2e',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    },
  });
  for (let i = 0; i < 3; i += 1) assert.equal((await fetch(`${sender.base}/healthz`)).status, 200);
  assert.equal((await fetch(`${sender.base}/api/v1/orgs`)).status, 401);
  // The rest is sent as it stops.
  await sender.stop();

  const query = `SELECT name || ' ' || kind || ' ' || service_name FROM telemetry_spans WHERE organization_id = '${acme.org}' ORDER BY start_ns`;
  const arrived = await eventually(() => (psql(query, database) ?? '').split('\n').length >= 4);
  const rows = psql(query, database).split('\n');
  assert.ok(arrived, rows.join('\n'));
  // The harness's own readiness polls are requests too: at least the three made here.
  assert.ok(rows.filter((r) => r === 'GET /healthz server mcplatform-e2e').length >= 3, rows.join('\n'));
  assert.ok(rows.includes('GET /api/v1/orgs server mcplatform-e2e'), rows.join('\n'));
});
