// Launching the release binary the way an operator would, and waiting on it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const BIN = process.env.MCPLATFORM_BIN;
if (!BIN) {
  throw new Error('MCPLATFORM_BIN must point at the mcplatform binary (e2e/run.sh sets it)');
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'mcplatform-e2e-') {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts `mcplatform serve` (on `port`, or a free one) and resolves once /healthz answers. */
export async function startServer({ cwd, env = {}, args = [], port: wanted }) {
  const port = wanted ?? await freePort();
  // The public base URL names localhost, as in a real local setup; tests talk to 127.0.0.1.
  const child = spawn(BIN, ['serve', '--bind', `127.0.0.1:${port}`, '--base-url', `http://localhost:${port}`, ...args], {
    cwd,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`mcplatform exited early (${child.exitCode}): ${stderr}`);
    }
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`mcplatform did not start: ${stderr}`);
    await sleep(100);
  }
  return {
    base,
    publicBase: `http://localhost:${port}`,
    stderr: () => stderr,
    /** Sends SIGTERM (once) and resolves with the exit status. */
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: () => child.kill('SIGKILL'),
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `fn` until it returns true or the time runs out. */
export async function eventually(fn, { timeoutMs = 15_000, intervalMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

/**
 * Runs psql against the PostgreSQL server of E2E_POSTGRES_URL (in `database` when given);
 * null when no server is configured.
 */
export function psql(sql, database) {
  if (!process.env.E2E_POSTGRES_URL) return null;
  const url = new URL(process.env.E2E_POSTGRES_URL);
  if (database) url.pathname = `/${database}`;
  const result = spawnSync('psql', [url.toString(), '-v', 'ON_ERROR_STOP=1', '-Atc', sql], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`psql failed: ${result.stderr || result.error}`);
  return result.stdout.trim();
}

/**
 * A TCP proxy in front of a server: stopping it drops every connection and refuses new ones,
 * which is exactly what an application sees when its database goes away.
 */
export async function tcpProxy(targetPort, targetHost = '127.0.0.1') {
  const port = await freePort();
  const sockets = new Set();
  let server = null;
  let paused = false;
  const start = () => new Promise((resolve, reject) => {
    paused = false;
    server = net.createServer((client) => {
      if (paused) {
        // A black hole: the connection opens, nothing ever answers.
        sockets.add(client);
        client.pause();
        client.on('error', () => {});
        return;
      }
      const upstream = net.connect(targetPort, targetHost);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => { client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream).pipe(client);
    });
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const stop = () => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    server.close(() => resolve());
  });
  /** Keeps every connection open but forwards nothing: the database hangs instead of failing. */
  const pause = () => {
    paused = true;
    for (const socket of sockets) socket.pause();
  };
  await start();
  return { port, start, stop, pause };
}
