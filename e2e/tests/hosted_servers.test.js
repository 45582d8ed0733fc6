// Hosted MCP servers through the official SDK clients, TypeScript and Python, as an editor
// would use them: by the server's own name and by path, each way of identifying people, and
// the dashboard showing who it was afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import { eventually, startServer, tempDir } from './harness.js';
import { startIdp } from './idp.js';
import { HeadlessOAuth, connectTs, owner, runPython, text, tsTransport } from './mcp_clients.js';

const ticket = (title, email) => ({
  name: 'get_support',
  arguments: { title, problemDescription: 'The build fails with E42.', ...(email ? { email } : {}) },
});

async function platform(t, env = {}) {
  const work = tempDir();
  t.after(work.remove);
  const server = await startServer({ cwd: work.dir, env });
  t.after(() => server.stop());
  const port = new URL(server.publicBase).port;
  return { server, port, acme: await owner(server) };
}

/** The organization's end users (JSON API), once `count` of them have `tool_calls` recorded. */
async function endUsers(acme, count) {
  let users = [];
  const seen = await eventually(async () => {
    users = (await acme.call('GET', `/api/v1/orgs/${acme.org}/end-users`)).body.items;
    return users.filter((u) => u.tool_calls > 0).length >= count;
  });
  assert.ok(seen, `expected ${count} end users with tool calls: ${JSON.stringify(users)}`);
  return users;
}

test('the TypeScript SDK reaches servers by name and by path and each mode identifies its user', async (t) => {
  const { port, acme } = await platform(t);
  const open = await acme.createServer({ slug: 'acme', name: 'Acme Docs', product_name: 'Acme', auth_mode: 'none' });
  const tracked = await acme.createServer({ slug: 'acme-tracked', name: 'Acme Tracked', auth_mode: 'tracking_id' });
  await acme.createServer({ slug: 'acme-mail', name: 'Acme Mail', auth_mode: 'collect_email' });

  // `none`, by the server's own name: tools, then a ticket, which waits for an address.
  const byName = await connectTs(`http://acme.localhost:${port}/mcp`);
  assert.equal(byName.client.getServerVersion().title, 'Acme Docs');
  const { tools } = await byName.client.listTools();
  const support = tools.find((tool) => tool.name === 'get_support');
  assert.match(support.description, /Acme support team/);
  assert.deepEqual(support.inputSchema.required, ['title', 'problemDescription']);
  const asked = await byName.client.callTool(ticket('Anonymous build'));
  assert.ok(!asked.isError, text(asked));
  assert.match(text(asked), /email address/);
  const opened = await byName.client.callTool(ticket('Anonymous build', 'dora@example.com'));
  assert.ok(!opened.isError, text(opened));
  assert.match(text(opened), /dora@example\.com/);
  await byName.transport.terminateSession();
  await byName.client.close();

  // `none`, by path, in the original product's endpoint form.
  const byPath = await connectTs(`http://localhost:${port}/s/acme/api/mcpserver/mcp`);
  assert.ok((await byPath.client.listTools()).tools.some((tool) => tool.name === 'get_support'));
  await byPath.client.close();

  // `tracking_id`: the personal URL an admin made is the person.
  const link = await acme.call('POST', `/api/v1/orgs/${acme.org}/servers/${tracked.id}/tracking-links`,
    { label: 'Ada at Initech', email: 'ada@initech.test' });
  assert.equal(link.status, 201);
  assert.match(link.body.url, /^http:\/\/acme-tracked\.localhost:\d+\/api\/mcpserver\/trk_[0-9a-f]{32}\/mcp$/);
  const ada = await connectTs(link.body.url);
  const adaTicket = await ada.client.callTool(ticket('Ada cannot deploy'));
  assert.ok(!adaTicket.isError, 'no address asked: the link says who it is');
  assert.match(text(adaTicket), /ada@initech\.test/);
  await ada.client.close();

  // `collect_email`: the address given once is remembered for the session.
  const carol = await connectTs(`http://localhost:${port}/s/acme-mail/mcp`);
  assert.ok(!(await carol.client.callTool(ticket('Carol first', 'carol@example.com'))).isError);
  const again = await carol.client.callTool(ticket('Carol again'));
  assert.ok(!again.isError, text(again));
  assert.match(text(again), /carol@example\.com/);
  await carol.client.close();

  // Afterwards the dashboard knows who was who, and how.
  const users = await endUsers(acme, 2);
  const find = (email) => users.find((u) => u.email === email);
  assert.deepEqual(find('ada@initech.test').identified_by, ['tracking']);
  assert.deepEqual(find('carol@example.com').identified_by, ['email']);
  assert.equal(find('carol@example.com').tickets, 2);
  assert.equal(find('dora@example.com'), undefined, 'a `none` server makes nobody of an address');
  const page = await acme.page(`/orgs/${acme.org}/users`);
  assert.match(page, /ada@initech\.test[\s\S]*?tracking URL/);
  assert.match(page, /carol@example\.com[\s\S]*?gave an address/);
  const tickets = await acme.page(`/orgs/${acme.org}/tickets`);
  for (const title of ['Anonymous build', 'Ada cannot deploy', 'Carol first', 'Carol again']) {
    assert.ok(tickets.includes(title), `the tickets page lists "${title}"`);
  }
  const sessions = (await acme.call('GET', `/api/v1/orgs/${acme.org}/servers/${open.id}/sessions`)).body.items;
  assert.ok(sessions.some((s) => s.client_name === 'ts-e2e' && s.protocol_version === '2025-11-25' && s.closed_at),
    `the session the client ended is closed: ${JSON.stringify(sessions)}`);
});

test('the TypeScript SDK signs in through OAuth with the organization\'s identity provider', async (t) => {
  const { server, port, acme } = await platform(t, { MCPLATFORM_HTTP__OUTBOUND_ALLOW_PRIVATE_NETWORKS: 'true' });
  const idp = await startIdp({ redirectUri: `${server.publicBase}/oauth/upstream/callback` });
  t.after(() => idp.stop());
  const provider = await acme.call('POST', `/api/v1/orgs/${acme.org}/identity-providers`, {
    kind: 'oidc', name: 'Acme SSO', issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret,
  });
  assert.equal(provider.status, 201, JSON.stringify(provider.body));
  const sso = await acme.createServer({
    slug: 'acme-sso', name: 'Acme SSO Docs', auth_mode: 'custom_oauth', identity_provider_id: provider.body.id,
  });

  // The SDK meets 401, discovers, registers itself (RFC 7591), and sends the person to sign in.
  const url = `http://localhost:${port}/s/acme-sso/mcp`;
  const oauth = new HeadlessOAuth({ redirectUri: 'http://127.0.0.1:43218/callback', login: 'grace' });
  const first = tsTransport(url, oauth);
  await assert.rejects(new Client({ name: 'ts-e2e', version: '1' }).connect(first), UnauthorizedError);
  assert.ok(oauth.code, 'the sign-in came back with a code');
  assert.equal(oauth.issuer, `http://localhost:${port}/s/acme-sso`, 'RFC 9207: the issuer names itself');
  await first.finishAuth(oauth.code);
  assert.ok(oauth.tokens().access_token && oauth.tokens().refresh_token);

  const connected = await connectTs(url, { authProvider: oauth });
  const result = await connected.client.callTool(ticket('Grace signed in'));
  assert.ok(!result.isError, text(result));
  assert.match(text(result), /grace@idp\.example/, 'the address the identity provider vouched for');
  await connected.client.close();

  // A token for another server is refused there (audience), and no token is a 401.
  const other = await acme.createServer({ slug: 'acme-other', name: 'Other', auth_mode: 'custom_oauth', identity_provider_id: provider.body.id });
  const foreign = await fetch(`http://127.0.0.1:${port}/s/acme-other/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${oauth.tokens().access_token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
  });
  assert.equal(foreign.status, 401, 'a token is for the server it was issued for');
  assert.match(foreign.headers.get('www-authenticate'), /resource_metadata=/);
  assert.ok(other.id);

  const users = await endUsers(acme, 1);
  const grace = users.find((u) => u.email === 'grace@idp.example');
  assert.deepEqual(grace.identified_by, ['oauth']);
  assert.equal(grace.email_verified, true);
  const sessions = (await acme.call('GET', `/api/v1/orgs/${acme.org}/servers/${sso.id}/sessions`)).body.items;
  assert.equal(sessions[0].identity_source, 'oauth');
  assert.match(await acme.page(`/orgs/${acme.org}/users`), /grace@idp\.example[\s\S]*?signed in/);
});

test('the Python SDK connects by Host header, statelessly (2026-07-28) and with a session', async (t) => {
  const { server, port, acme } = await platform(t);
  const open = await acme.createServer({ slug: 'acme', name: 'Acme Docs', auth_mode: 'none' });
  const tracked = await acme.createServer({ slug: 'acme-tracked', name: 'Acme Tracked', auth_mode: 'tracking_id' });
  await acme.createServer({ slug: 'acme-mail', name: 'Acme Mail', auth_mode: 'collect_email' });

  // By Host, with the initialize handshake.
  const legacy = await runPython({
    url: `${server.base}/mcp`, host: `acme.localhost:${port}`, mode: 'legacy',
    calls: [ticket('From Python', 'erin@example.com')],
  });
  assert.equal(legacy.protocol_version, '2025-11-25');
  assert.ok(legacy.tools.includes('get_support'));
  assert.equal(legacy.results[0].isError, false, legacy.results[0].text);

  // Through a tracking URL, stateless: server/discover, then requests that carry everything.
  const link = await acme.call('POST', `/api/v1/orgs/${acme.org}/servers/${tracked.id}/tracking-links`, { email: 'frank@initech.test' });
  const modern = await runPython({
    url: link.body.path_url.replace(server.publicBase, server.base), mode: 'auto',
    calls: [ticket('Frank, stateless')],
  });
  assert.equal(modern.protocol_version, '2026-07-28');
  assert.equal(modern.results[0].isError, false, modern.results[0].text);
  assert.match(modern.results[0].text, /frank@initech\.test/);

  // collect_email, by path, with a session: the address is asked, then remembered.
  const mail = await runPython({
    url: `${server.base}/s/acme-mail/mcp`, mode: 'legacy',
    calls: [ticket('Gwen, no address'), ticket('Gwen', 'gwen@example.com'), ticket('Gwen again')],
  });
  assert.deepEqual(mail.results.map((r) => r.isError), [false, false, false]);

  const users = await endUsers(acme, 2);
  assert.deepEqual(users.find((u) => u.email === 'frank@initech.test').identified_by, ['tracking']);
  assert.deepEqual(users.find((u) => u.email === 'gwen@example.com').identified_by, ['email']);
  const page = await acme.page(`/orgs/${acme.org}/users`);
  assert.match(page, /frank@initech\.test[\s\S]*?tracking URL/);
  assert.match(page, /gwen@example\.com[\s\S]*?gave an address/);
  const derived = (await acme.call('GET', `/api/v1/orgs/${acme.org}/servers/${tracked.id}/sessions`)).body.items;
  assert.equal(derived[0].kind, 'derived');
  assert.equal(derived[0].protocol_version, '2026-07-28');
  assert.equal(derived[0].client_name, 'python-e2e', 'the client named itself in _meta');
  const timeline = (await acme.call('GET',
    `/api/v1/orgs/${acme.org}/servers/${tracked.id}/sessions/${encodeURIComponent(derived[0].id)}/requests`)).body.items;
  assert.ok(timeline.some((r) => r.method === 'tools/call' && r.tool_name === 'get_support'), JSON.stringify(timeline));
  const byHost = (await acme.call('GET', `/api/v1/orgs/${acme.org}/servers/${open.id}/sessions`)).body.items;
  assert.equal(byHost[0].client_name, 'python-e2e');
});
