// Debian's Chromium driven by Playwright: no browser download, nothing fetched at run time.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SCREENSHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // This machine has no network beyond the package registries: keep Chromium from trying.
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** Saves a full-page screenshot for reviewers (e2e/screenshots/, not committed). */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/**
 * A page logged in as the owner `owner()` signed up (e2e/tests/mcp_clients.js), and the
 * console errors it collects (those matching `ignore` left out).
 */
export async function ownerPage(browser, baseURL, { email = 'owner@acme.test', ignore = null } = {}) {
  const page = await browser.newPage({ baseURL });
  const consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !(ignore && ignore.test(message.text()))) consoleErrors.push(message.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(String(err)));
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct horse battery staple');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(/\/orgs/);
  return { page, consoleErrors };
}
