// The dashboard in a real browser: a newcomer's first steps, as far as they are built.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { launchBrowser, screenshot } from './browser.js';
import { startServer, tempDir } from './harness.js';

test('sign up, create an organization and an MCP server, with a taken slug explained', async (t) => {
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

  assert.deepEqual(consoleErrors, [], 'no script or CSP errors in the console');
});
