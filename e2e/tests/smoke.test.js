// The release binary, started for real, answering real HTTP.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { eventually, psql, sleep, startServer, tcpProxy, tempDir } from './harness.js';

/**
 * A server on a fresh PostgreSQL database reached through a TCP proxy the test controls, or null
 * (test skipped) when no PostgreSQL server is configured.
 */
async function postgresServer(t, label) {
  if (psql('SELECT 1') === null) {
    t.skip('E2E_POSTGRES_URL is not set');
    return null;
  }
  const database = `mcp_e2e_${process.pid}_${Date.now()}_${label}`;
  psql(`CREATE DATABASE ${database}`);
  const work = tempDir();
  const admin = new URL(process.env.E2E_POSTGRES_URL);
  const proxy = await tcpProxy(Number(admin.port || 5432));
  const context = { database, work, proxy, server: null };
  t.after(async () => {
    if (context.server) await context.server.stop();
    await proxy.stop().catch(() => {});
    psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    work.remove();
  });
  const url = `postgres://${admin.username}@127.0.0.1:${proxy.port}/${database}`;
  context.server = await startServer({ cwd: work.dir, env: { DATABASE_URL: url } });
  return context;
}

test('embedded default: serves /healthz and /readyz on SQLite and exits 0 on SIGTERM', async (t) => {
  const work = tempDir();
  t.after(work.remove);
  const server = await startServer({ cwd: work.dir });

  const health = await fetch(`${server.base}/healthz`);
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, 'ok');
  assert.match(health.headers.get('x-request-id'), /^[0-9a-f-]{36}$/);

  const ready = await fetch(`${server.base}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: 'ready', database: 'ok' });

  const dataDir = path.join(work.dir, 'mcplatform-data');
  assert.ok(existsSync(path.join(dataDir, 'mcplatform.db')), 'SQLite database created');
  assert.equal(statSync(path.join(dataDir, 'master.key')).mode & 0o777, 0o600);

  const { code, signal } = await server.stop();
  assert.equal(signal, null);
  assert.equal(code, 0, server.stderr());
});

test('PostgreSQL: migrates, serves, and /readyz follows the database going away and back', async (t) => {
  const pg = await postgresServer(t, 'outage');
  if (!pg) return;
  const { server, proxy, database, work } = pg;

  const migrated = psql('SELECT count(*) FROM _sqlx_migrations WHERE success', database);
  assert.ok(Number(migrated) >= 1, 'the binary migrated the new database');
  assert.equal(psql('SELECT count(*) FROM organizations', database), '0');
  assert.ok(!existsSync(path.join(work.dir, 'mcplatform-data', 'mcplatform.db')), 'no SQLite file');
  assert.equal((await fetch(`${server.base}/readyz`)).status, 200);

  await proxy.stop();
  const wentAway = await eventually(async () => (await fetch(`${server.base}/readyz`)).status === 503);
  assert.ok(wentAway, '/readyz turns 503 while the database is unreachable');
  assert.equal((await fetch(`${server.base}/healthz`)).status, 200, 'the process itself is fine');

  await proxy.start();
  const cameBack = await eventually(async () => (await fetch(`${server.base}/readyz`)).status === 200);
  assert.ok(cameBack, '/readyz is 200 again without a restart');
});

test('SIGTERM lets a request in flight finish before the process exits', async (t) => {
  const pg = await postgresServer(t, 'inflight');
  if (!pg) return;
  const { server, proxy } = pg;

  // With the database hanging, /readyz takes its full readiness timeout (2 s) to answer.
  proxy.pause();
  const started = Date.now();
  const inFlight = fetch(`${server.base}/readyz`);
  await sleep(300);
  const exit = server.stop();

  const response = await inFlight;
  assert.equal(response.status, 503, 'the in-flight request got its real answer');
  assert.deepEqual(await response.json(), { status: 'unavailable', database: 'unreachable' });
  assert.ok(Date.now() - started >= 1500, 'it was really in flight when SIGTERM arrived');
  const { code } = await exit;
  assert.equal(code, 0, server.stderr());
  await assert.rejects(fetch(`${server.base}/healthz`), 'no longer listening');
});
