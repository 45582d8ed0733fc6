// The built-in end-user login of a `platform_oauth` server in a real browser: an application
// asks, the person allows it, signs in with a code from their email (read on the organization's
// Outbox page: no mail server here) and sets a password; the organization sees the sign-in and
// the person revokes it on their own page.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { launchBrowser, screenshot } from './browser.js';
import { startServer, tempDir } from './harness.js';

const REDIRECT = 'http://127.0.0.1:43219/callback';

test('an end user allows an application, signs in with an emailed code, and revokes it later', async (t) => {
  const work = tempDir();
  t.after(work.remove);
  const server = await startServer({ cwd: work.dir });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());

  // The organization: an owner with a platform_oauth server.
  const admin = await browser.newPage({ baseURL: server.publicBase });
  await admin.goto('/signup');
  await admin.getByLabel('Your name').fill('Ada Lovelace');
  await admin.getByLabel('Work email').fill('ada@example.com');
  await admin.getByLabel('Password').fill('correct horse battery staple');
  await admin.getByRole('button', { name: 'Create account' }).click();
  await admin.waitForURL('**/orgs/new');
  await admin.getByLabel('Organization name').fill('Acme Inc.');
  await admin.getByRole('button', { name: 'Create organization' }).click();
  await admin.getByRole('link', { name: 'Create your first MCP server' }).click();
  await admin.getByLabel('Slug').fill('acme-docs');
  await admin.getByLabel('Name', { exact: true }).fill('Acme Docs');
  await admin.getByLabel('How users are identified').selectOption('platform_oauth');
  await admin.getByRole('button', { name: 'Create MCP server' }).click();
  await admin.getByRole('heading', { name: /Acme Docs/ }).waitFor();
  const serverPage = admin.url();

  // An application registers itself and sends the person to authorize, with PKCE.
  const issuer = `${server.publicBase}/s/acme-docs`;
  const registered = await fetch(`${issuer}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Editor', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
  });
  assert.equal(registered.status, 201);
  const { client_id: clientId } = await registered.json();
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorize = `${issuer}/oauth/authorize?` + new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, state: 'st-1',
    code_challenge: challenge, code_challenge_method: 'S256',
  });

  // The person, in their own browser. The application's loopback listener is stood in for.
  const personContext = await browser.newContext();
  const person = await personContext.newPage();
  let callback;
  await personContext.route(`${REDIRECT}**`, (route) => {
    callback = new URL(route.request().url());
    return route.fulfill({ status: 200, contentType: 'text/plain', body: 'You can close this window.' });
  });
  await person.goto(authorize);
  await person.getByRole('heading', { name: 'Allow Editor to use Acme Docs?' }).waitFor();
  await screenshot(person, '20-consent');
  await person.getByRole('button', { name: 'Allow' }).click();
  await person.getByRole('heading', { name: 'Sign in to Acme Docs' }).waitFor();
  await screenshot(person, '21-end-user-login');
  await person.locator('#code-email').fill('eve@example.com');
  await person.getByRole('button', { name: 'Email me a sign-in code' }).click();
  await person.getByRole('heading', { name: 'Check your email' }).waitFor();

  // No mail server: the code waits in the organization's outbox.
  await admin.getByRole('link', { name: 'Outbox' }).first().click();
  const mail = await admin.locator('pre.mail').first().innerText();
  const code = mail.match(/\b(\d{6})\b/)[1];

  await person.getByLabel('Code').fill(code);
  await person.getByLabel(/Password for next time/).fill('eve has a long passphrase');
  await screenshot(person, '22-end-user-code');
  await person.getByRole('button', { name: 'Sign in' }).click();
  await person.waitForURL(`${REDIRECT}**`);
  assert.equal(callback.searchParams.get('state'), 'st-1');
  assert.equal(callback.searchParams.get('iss'), issuer);

  const token = await fetch(`${issuer}/oauth/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code', code: callback.searchParams.get('code'),
      redirect_uri: REDIRECT, code_verifier: verifier, client_id: clientId,
    }),
  });
  assert.equal(token.status, 200);
  const { access_token: accessToken } = await token.json();
  const userinfo = async () => (await fetch(`${issuer}/oauth/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } })).status;
  assert.equal(await userinfo(), 200);

  // The organization sees who signed in with what.
  await admin.goto(serverPage);
  await admin.getByRole('link', { name: /Sign-ins/ }).click();
  await admin.getByRole('cell', { name: 'eve@example.com' }).waitFor();
  assert.ok(await admin.getByRole('cell', { name: 'Editor' }).first().isVisible());
  await screenshot(admin, '23-sign-ins');

  // The person revokes the application on their own page: its token stops working.
  await person.goto(`${issuer}/oauth/grants`);
  await person.getByText('Signed in as eve@example.com').waitFor();
  await screenshot(person, '24-end-user-grants');
  await person.getByRole('button', { name: 'Revoke access' }).click();
  await person.getByText('Access revoked').waitFor();
  assert.equal(await userinfo(), 401);
  await personContext.close();
});
