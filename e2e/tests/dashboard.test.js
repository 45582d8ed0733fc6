// The dashboard in a real browser: a newcomer's first steps, as far as they are built.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { launchBrowser, screenshot } from './browser.js';
import { startServer, tempDir } from './harness.js';
import { startIdp } from './idp.js';

test('sign up, create an organization, an MCP server (taken slug explained), an API key, an OpenID Connect provider (with a test sign-in), invite a member who accepts', async (t) => {
  const work = tempDir();
  t.after(work.remove);
  // The identity provider runs on loopback, which the platform refuses to call by default.
  const server = await startServer({ cwd: work.dir, env: { MCPLATFORM_HTTP__OUTBOUND_ALLOW_PRIVATE_NETWORKS: 'true' } });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage({ baseURL: server.publicBase });
  const consoleErrors = [];
  page.on('console', (message) => {
    // Form pages answer 422 on purpose when input is refused, and 502 when the identity
    // provider a form names cannot be reached (below, on purpose); anything else is an error.
    const expected = /status of (422|502)/.test(message.text());
    const ours = (message.location().url || '').startsWith(server.publicBase);
    if (message.type() === 'error' && ours && !expected) consoleErrors.push(message.text());
  });

  await page.goto('/');
  assert.match(page.url(), /\/login$/);
  await screenshot(page, '01-login');

  await page.getByRole('link', { name: 'Sign up' }).first().click();
  await page.getByLabel('Your name').fill('Ada Lovelace');
  await page.getByLabel('Work email').fill('ada@example.com');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  assert.match(await page.locator('#password-error').innerText(), /at least 10 characters/);
  await screenshot(page, '02-signup-error');
  await page.getByLabel('Password').fill('correct horse battery staple');
  await page.getByRole('button', { name: 'Create account' }).click();

  await page.waitForURL('**/orgs/new');
  await screenshot(page, '03-first-organization');
  await page.getByLabel('Organization name').fill('Acme Inc.');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await page.getByRole('heading', { name: 'Acme Inc.' }).waitFor();
  await screenshot(page, '04-overview-empty');

  await page.getByRole('link', { name: 'Create your first MCP server' }).click();
  await page.getByLabel('Slug').fill('acme-docs');
  await page.getByText('acme-docs is available').waitFor();
  await page.getByLabel('Name', { exact: true }).fill('Acme Docs');
  await page.getByRole('button', { name: 'Create MCP server' }).click();
  await page.getByRole('heading', { name: /Acme Docs/ }).waitFor();
  const port = new URL(server.base).port;
  assert.ok(await page.getByText(`http://acme-docs.localhost:${port}/mcp`).first().isVisible());
  assert.ok(await page.getByRole('link', { name: 'Add to Cursor' }).isVisible());
  await screenshot(page, '05-server');

  // A second server may not take the same slug: the live check says so, and so does submit.
  await page.goto(page.url().replace(/\/servers\/.*$/, '/servers/new'));
  await page.getByLabel('Slug').fill('acme-docs');
  await page.getByText('acme-docs is already taken').waitFor();
  await screenshot(page, '06-slug-taken');
  await page.getByLabel('Name', { exact: true }).fill('Duplicate');
  // The live check already shows the same words: the submit's own answer is what counts.
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/servers/new')),
    page.getByRole('button', { name: 'Create MCP server' }).click(),
  ]);
  assert.equal(refused.status(), 422);
  await page.waitForLoadState();
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'Duplicate');
  assert.match(await page.locator('#slug-status').innerText(), /already taken: choose another/);

  // An API key for CI: its secret is shown once, then only its prefix.
  await page.getByRole('link', { name: 'API keys' }).click();
  await page.getByLabel('Name').fill('ci');
  await page.getByRole('checkbox', { name: /management/ }).check();
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.locator('#new-key').innerText()).trim();
  assert.match(secret, /^mcpk_[A-Za-z0-9_-]{43}$/);
  await screenshot(page, '07-api-key-created');
  await page.reload();
  assert.equal(await page.locator('#new-key').count(), 0, 'the secret is not shown again');
  assert.ok((await page.content()).includes(secret.slice(0, 9)), 'its prefix identifies it');
  const viaKey = await fetch(`${server.base}/api/v1/orgs`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(viaKey.status, 200, 'the key works against the API');

  // The organization's own identity provider: an OpenID Connect issuer, checked when saved.
  const callback = `${server.publicBase}/oauth/upstream/callback`;
  const idp = await startIdp({ redirectUri: callback });
  t.after(() => idp.stop());
  await page.getByRole('link', { name: 'Identity providers' }).click();
  await page.getByText('No identity providers yet').waitFor();
  assert.equal((await page.locator('#redirect-uri').innerText()).trim(), callback);
  await page.getByRole('link', { name: 'OpenID Connect' }).click();
  await page.locator('#name').fill('Acme SSO');
  await page.locator('#issuer').fill('http://127.0.0.1:9/');
  await page.locator('#client_id').fill(idp.clientId);
  await page.locator('#client_secret').fill(idp.clientSecret);
  await page.getByRole('button', { name: 'Add provider' }).click();
  assert.match(await page.locator('#issuer-error').innerText(), /discovery failed/);
  await page.locator('#issuer').fill(idp.issuer);
  await page.locator('#client_secret').fill(idp.clientSecret);
  await page.getByRole('button', { name: 'Add provider' }).click();
  await page.getByText('Identity provider saved.').waitFor();
  assert.ok(!(await page.content()).includes(idp.clientSecret), 'the client secret is not shown again');
  await screenshot(page, '07a-identity-provider');

  // A test sign-in goes to the provider, logs in there, and comes back with who signed in.
  await page.getByRole('button', { name: 'Test sign-in' }).click();
  await page.waitForURL(`${idp.issuer}/**`);
  await page.locator('input[name="login"]').fill('ada');
  await page.locator('input[name="password"]').fill('anything');
  await page.locator('button[type="submit"]').click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'It works' }).waitFor();
  assert.equal((await page.locator('#test-subject').innerText()).trim(), 'ada');
  assert.match(await page.locator('#test-email').innerText(), /ada@idp\.example\s+verified/);
  assert.match(await page.locator('#test-name').innerText(), /ada \(from the IdP\)/);
  await screenshot(page, '07b-test-sign-in');
  await page.getByRole('link', { name: 'Acme SSO' }).click();

  // Invite a colleague; with no mail server the invitation waits in the outbox.
  await page.getByRole('link', { name: 'Members' }).click();
  await page.getByLabel('Email').fill('bob@example.com');
  await page.getByRole('button', { name: 'Send invitation' }).click();
  await page.getByText('Invitation sent.').waitFor();
  await screenshot(page, '08-members');
  await page.getByRole('link', { name: 'Outbox' }).first().click();
  const mail = await page.locator('pre.mail').first().innerText();
  const link = mail.match(/http\S+\/invitations\/mcpi_\S+/)[0];
  await screenshot(page, '09-outbox');

  // The colleague opens the link in their own browser, signs up and accepts.
  const bobContext = await browser.newContext({ baseURL: server.publicBase });
  const bob = await bobContext.newPage();
  await bob.goto(link);
  await bob.getByRole('heading', { name: 'Join Acme Inc.' }).waitFor();
  await screenshot(bob, '10-invitation');
  await bob.getByRole('link', { name: 'Create an account' }).click();
  await bob.getByLabel('Your name').fill('Bob Builder');
  await bob.getByLabel('Work email').fill('bob@example.com');
  await bob.getByLabel('Password').fill('another long passphrase');
  await bob.getByRole('button', { name: 'Create account' }).click();
  await bob.getByRole('button', { name: 'Accept invitation' }).click();
  await bob.getByRole('heading', { name: 'Acme Inc.' }).waitFor();
  await bob.goto('/orgs');
  const choices = await bob.locator('.choices li').allInnerTexts();
  assert.equal(choices.length, 1, `Bob sees only the organization he joined: ${choices}`);
  assert.match(choices[0], /Acme Inc\./);
  await bob.goto('/orgs/' + new URL(page.url()).pathname.split('/')[2] + '/members');
  // The page is there (a 404 or 403 page would not list the members either).
  await bob.getByRole('cell', { name: 'bob@example.com' }).first().waitFor();
  assert.equal(await bob.getByText('Invite someone').count(), 0, 'members cannot invite');
  await screenshot(bob, '11-member-view');
  await bobContext.close();

  assert.deepEqual(consoleErrors, [], 'no script or CSP errors in the console');
});
