// The dashboard in a real browser: a newcomer's first steps, as far as they are built.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { launchBrowser, screenshot } from './browser.js';
import { startServer, tempDir } from './harness.js';

test('sign up, create an organization, an MCP server (taken slug explained) and an API key, invite a member who accepts', async (t) => {
  const work = tempDir();
  t.after(work.remove);
  const server = await startServer({ cwd: work.dir });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage({ baseURL: server.publicBase });
  const consoleErrors = [];
  page.on('console', (message) => {
    // Form pages answer 422 on purpose when input is refused; anything else is a real error.
    const expected = /status of 422/.test(message.text());
    if (message.type() === 'error' && !expected) consoleErrors.push(message.text());
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
  await page.getByRole('button', { name: 'Create MCP server' }).click();
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
  assert.equal(await bob.getByText('Invite someone').count(), 0, 'members cannot invite');
  await screenshot(bob, '11-member-view');
  await bobContext.close();

  assert.deepEqual(consoleErrors, [], 'no script or CSP errors in the console');
});
