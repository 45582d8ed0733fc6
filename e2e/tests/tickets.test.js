// A support ticket's whole life, as its people meet it: the official TypeScript SDK client
// opens it from a personal tracking URL; a team member works on it in Chromium (assigns it,
// replies, writes an internal note); the client's get_ticket shows the reply and not the
// note; the reply is in the outbox, to her; the team's webhook receiver gets messages signed with the secret
// the settings page showed once; and, the binary restarted two days later (a clock offset),
// the ticket that waited on the customer resolves by itself.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { test } from 'node:test';

import { launchBrowser, ownerPage, screenshot } from './browser.js';
import { eventually, startServer, tempDir } from './harness.js';
import { connectTs, owner, text } from './mcp_clients.js';

/** A webhook receiver on a loopback port: the messages it got, with their headers. */
async function receiver() {
  const got = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => {
      got.push({ headers: request.headers, body });
      response.writeHead(200).end('ok');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, got, close: () => server.close() };
}

/** Standard Webhooks: v1,base64(HMAC-SHA256(secret, "id.timestamp.body")). */
function signature(secret, headers, body) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = `${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`;
  return `v1,${createHmac('sha256', key).update(signed).digest('base64')}`;
}

test('a ticket from the editor is worked on in the dashboard, answered, and resolves by itself', async (t) => {
  const work = tempDir();
  t.after(work.remove);
  const hook = await receiver();
  t.after(hook.close);
  const env = { MCPLATFORM_HTTP__OUTBOUND_ALLOW_PRIVATE_NETWORKS: 'true' };
  let server = await startServer({ cwd: work.dir, env });
  t.after(() => server.stop());
  const acme = await owner(server);
  const docs = await acme.createServer({ slug: 'acme', name: 'Acme Docs', product_name: 'Acme', auth_mode: 'tracking_id' });
  // A management key still works after the restart, when the dashboard session may not.
  const key = await acme.call('POST', `/api/v1/orgs/${acme.org}/api-keys`, { name: 'e2e', scopes: ['management'] });
  assert.equal(key.status, 201);
  const api = async (path) => (await fetch(`${server.base}/api/v1${path}`, { headers: { authorization: `Bearer ${key.body.secret}` } })).json();

  // The admin sets up support on the server's settings page and copies the secret.
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const { page, consoleErrors } = await ownerPage(browser, server.publicBase);
  await page.goto(`/orgs/${acme.org}/servers/${docs.id}`);
  await page.getByRole('link', { name: /Support: categories/ }).click();
  await page.getByLabel('Categories (one a line)').fill('Bug\nBilling');
  await page.getByLabel(/Resolve tickets waiting on the customer after/).fill('48');
  await page.getByLabel('Webhook URL').fill(hook.url);
  await page.getByRole('button', { name: 'Save' }).click();
  const secret = (await page.locator('#webhook-secret').textContent()).trim();
  assert.match(secret, /^whsec_/);
  await screenshot(page, 'tickets-01-support-settings');

  // Ada, from her editor, through her personal URL.
  const link = await acme.call('POST', `/api/v1/orgs/${acme.org}/servers/${docs.id}/tracking-links`,
    { label: 'Ada at Initech', email: 'ada@initech.test' });
  assert.equal(link.status, 201);
  const ada = await connectTs(link.body.url);
  const opened = await ada.client.callTool({
    name: 'get_support',
    arguments: { title: 'Deploy fails with E42', problemDescription: 'Every deploy stops at step 3 with E42.', category: 'Bug' },
  });
  assert.ok(!opened.isError, text(opened));
  const ticketId = text(opened).match(/Support ticket (\S+) was opened/)[1];

  // The team: the ticket is in the list; assign it, answer, add a note.
  await page.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name: 'Tickets' }).click();
  await page.getByRole('link', { name: 'Deploy fails with E42' }).click();
  await page.getByLabel('Assignee').selectOption({ label: 'Owner' });
  await page.getByRole('button', { name: 'Assign' }).click();
  await page.getByLabel('Status', { exact: true }).selectOption({ label: 'In progress' });
  await page.getByRole('button', { name: 'Change status' }).click();
  await page.getByLabel('Message (markdown)').fill('Fixed in **1.2.3**: please upgrade and tell us.');
  await page.getByLabel('Then').selectOption({ label: 'Set to Awaiting customer' });
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByLabel('Message (markdown)').fill('She is on the legacy plan <script>alert(1)</script>');
  await page.getByLabel(/Internal note/).check();
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByRole('paragraph').filter({ hasText: 'She is on the legacy plan <script>' }).waitFor();
  assert.equal(await page.locator('script', { hasText: 'alert(1)' }).count(), 0, 'shown as text, never run');
  assert.equal(await page.locator('strong', { hasText: '1.2.3' }).count(), 1, 'markdown rendered');
  await screenshot(page, 'tickets-02-detail');

  // Ada sees the reply, not the note.
  const seen = text(await ada.client.callTool({ name: 'get_ticket', arguments: { ticketId } }));
  assert.match(seen, /Fixed in \*\*1\.2\.3\*\*/);
  assert.doesNotMatch(seen, /legacy plan/);
  assert.match(seen, /"status":"awaiting_customer"/);
  await ada.client.close();

  // The reply went to her address (the outbox: no mail server here).
  const outbox = await api(`/orgs/${acme.org}/outbox`);
  const mail = outbox.items.find((m) => m.to === 'ada@initech.test' && /1\.2\.3/.test(m.body_text));
  assert.ok(mail, JSON.stringify(outbox));
  for (const m of outbox.items.filter((m) => m.to === 'ada@initech.test')) assert.doesNotMatch(m.body_text, /legacy plan/);

  // Webhook messages arrived, each signed with the secret shown once.
  const types = await eventually(() => {
    const seenTypes = hook.got.map((m) => JSON.parse(m.body).type);
    return seenTypes.includes('ticket.created') && seenTypes.length >= 3 ? seenTypes : null;
  });
  assert.ok(types, JSON.stringify(hook.got.map((m) => m.body)));
  for (const message of hook.got) assert.equal(message.headers['webhook-signature'], signature(secret, message.headers, message.body));

  // Two days later (the same database, the clock 49 hours ahead) it has resolved by itself.
  await server.stop();
  server = await startServer({ cwd: work.dir, env: { ...env, MCPLATFORM_TESTING__CLOCK_OFFSET_SECS: String(49 * 3600) } });
  const resolved = await eventually(async () => {
    const detail = await api(`/orgs/${acme.org}/support-tickets/${ticketId}`);
    return detail.ticket?.status === 'resolved' ? detail : null;
  });
  assert.ok(resolved, 'auto-resolved after 48 hours waiting on the customer');
  assert.ok(await eventually(() => hook.got.some((m) => /"resolved"/.test(m.body))), 'the resolution announced');
  // Sent by the restarted process, with the secret it unsealed from the database.
  for (const message of hook.got) assert.equal(message.headers['webhook-signature'], signature(secret, message.headers, message.body));
  assert.deepEqual(consoleErrors, []);
});
