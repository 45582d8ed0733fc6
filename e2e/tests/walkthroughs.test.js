// Walkthroughs as a customer and their users meet them: authored in the dashboard (Chromium,
// with drag-and-drop and the live preview), published and assigned, followed to the end by the
// official TypeScript SDK client (and partly by the Python one, stateless), then seen on the
// analytics page; the exported file imports back to the same walkthrough.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { launchBrowser, ownerPage, screenshot } from './browser.js';
import { startServer, tempDir } from './harness.js';
import { connectTs, owner, runPython, text } from './mcp_clients.js';

const currentStep = (body) => body.match(/- Current Step ID: (\S+)/)?.[1];

test('a walkthrough authored in the dashboard is followed to the end by SDK clients and shows in its analytics', async (t) => {
  const work = tempDir();
  t.after(work.remove);
  const server = await startServer({ cwd: work.dir });
  t.after(() => server.stop());
  const port = new URL(server.publicBase).port;
  const acme = await owner(server);
  await acme.createServer({ slug: 'acme', name: 'Acme Docs', product_name: 'Acme', auth_mode: 'none' });

  const browser = await launchBrowser();
  t.after(() => browser.close());
  // A refused form answers 422, which Chromium logs as a console error.
  const { page, consoleErrors } = await ownerPage(browser, server.publicBase, { ignore: /status of 422/ });

  // Author: create, add three steps, watch the live preview, reorder by dragging, publish.
  await page.goto(`/orgs/${acme.org}/walkthroughs`);
  await page.getByLabel('Title').fill('Acme quick start');
  await page.getByLabel('Type').selectOption('quickstart');
  await page.getByRole('button', { name: 'Create and add steps' }).click();
  await page.waitForURL(/step=new/);
  for (const [title, content] of [['Install', 'Run `npm i -g acme`.'], ['Configure', 'Run `acme init`.'], ['Deploy', 'Run `acme deploy`.']]) {
    if (!page.url().includes('step=new')) await page.getByRole('link', { name: '+ Add step' }).click();
    await page.locator('#step-title').fill(title);
    await page.getByLabel('Content for the user').fill(content);
    await page.getByLabel('Operations for the agent').fill(`Help the user: ${title.toLowerCase()}.`);
    await page.getByRole('button', { name: 'Add step' }).click();
    await page.waitForURL(/step=[0-9a-f-]{36}/);
  }
  const preview = page.locator('#preview');
  assert.match(await preview.innerText(), /## Step 3 of 3: Deploy/);
  await page.getByLabel('Content for the user').fill('Run `acme deploy --prod`.');
  await page.waitForFunction(() => document.getElementById('preview').textContent.includes('--prod'));
  assert.match(await preview.innerText(), /VERBATIM/);
  await screenshot(page, 'walkthrough-01-editor');
  await page.getByRole('button', { name: 'Save step' }).click();
  await page.waitForLoadState();

  // Drag "Deploy" onto "Configure": it moves before it, saved through the API at once.
  const reordered = page.waitForResponse((r) => r.url().endsWith('/step-order') && r.status() === 200);
  await page.locator('ol.steps li', { hasText: 'Deploy' }).dragTo(page.locator('ol.steps li', { hasText: 'Configure' }));
  await reordered;
  await page.reload();
  const order = await page.locator('ol.steps li a').allInnerTexts();
  assert.deepEqual(order.map((s) => s.replace(/^\d+\.\s*/, '')), ['Install', 'Deploy', 'Configure']);

  await page.getByLabel('Status').selectOption('published');
  await page.getByRole('button', { name: 'Save walkthrough' }).click();
  await page.locator('h1 .badge', { hasText: 'Published' }).waitFor();
  await page.getByLabel('Assign to').selectOption({ label: 'Acme Docs' });
  await page.getByRole('button', { name: 'Assign' }).click();
  await page.getByRole('heading', { name: 'Walkthroughs of Acme Docs' }).waitFor();
  assert.ok(await page.getByRole('cell', { name: 'yes' }).isVisible());
  await screenshot(page, 'walkthrough-02-server');

  // The TypeScript SDK client follows it from the first step to the end.
  const { client } = await connectTs(`http://acme.localhost:${port}/mcp`);
  t.after(() => client.close());
  const tools = (await client.listTools()).tools.map((tool) => tool.name);
  assert.deepEqual(tools, ['get_support', 'list_my_tickets', 'get_ticket', 'reply_to_ticket', 'start_walkthrough', 'get_next_step']);
  let answer = text(await client.callTool({ name: 'start_walkthrough', arguments: {} }));
  const seen = [];
  while (!answer.startsWith('# Walkthrough Complete!')) {
    seen.push(answer.match(/## Step \d of 3: (.+)/)[1]);
    assert.match(answer, /<step_content>/);
    answer = text(await client.callTool({ name: 'get_next_step', arguments: { currentStepId: currentStep(answer) } }));
  }
  assert.deepEqual(seen, ['Install', 'Deploy', 'Configure']);
  assert.match(answer, /Progress: 100% \(3 of 3 steps completed\)/);

  // The Python SDK client, stateless (2026-07-28): one step done, progress kept between calls.
  const python = await runPython({
    url: `http://127.0.0.1:${port}/mcp`,
    host: `acme.localhost:${port}`,
    mode: 'auto',
    calls: [
      { name: 'start_walkthrough', arguments: { name: 'Acme quick start' } },
      { name: 'get_next_step', arguments: { currentStepId: '$current_step' } },
    ],
  });
  assert.equal(python.protocol_version, '2026-07-28');
  assert.match(python.results[0].text, /## Step 1 of 3: Install/);
  assert.match(python.results[1].text, /## Step 2 of 3: Deploy/);
  assert.match(python.results[1].text, /Progress: 33%/);

  // The analytics page: two people, one completion, the funnel and the Sankey of their paths.
  await page.goto(`/orgs/${acme.org}/walkthroughs`);
  await page.getByRole('main').getByRole('link', { name: 'Analytics' }).click();
  await page.getByRole('heading', { name: 'Analytics: Acme quick start' }).waitFor();
  assert.equal(await page.locator('#stat-users').innerText(), '2');
  assert.equal(await page.locator('#stat-completions').innerText(), '1');
  assert.equal(await page.locator('#stat-rate').innerText(), '50%');
  const funnel = await page.locator('#funnel-table tbody tr').allInnerTexts();
  assert.match(funnel[0], /1\. Install\s+2\s+2/);
  assert.match(funnel[1], /2\. Deploy\s+2\s+1/);
  assert.match(funnel[2], /3\. Configure\s+1\s+1/);
  await page.locator('#flow-chart canvas').waitFor();
  await page.locator('#funnel-chart canvas').waitFor();
  const flow = JSON.parse(await page.locator('#report-data').textContent()).flow;
  const link = (source, target) => flow.links.find((l) => l.source === source && l.target === target)?.value;
  assert.equal(link('Start', '1. Install'), 2);
  assert.equal(link('2. Deploy', '3. Configure'), 1);
  assert.equal(link('3. Configure', 'Completed'), 1);
  assert.equal(link('1. Install', 'In progress'), 1);
  await screenshot(page, 'walkthrough-03-analytics');
  assert.equal(await page.locator('#people tbody tr').count(), 2);
  await page.getByRole('link', { name: 'Session timeline' }).first().click();
  await page.getByRole('heading', { name: /Session of/ }).waitFor();
  await page.locator('td strong', { hasText: 'start_walkthrough' }).first().waitFor();

  // Export, then import: the same walkthrough again.
  const walkthroughs = (await acme.call('GET', `/api/v1/orgs/${acme.org}/walkthroughs`)).body.items;
  const id = walkthroughs[0].id;
  const file = (await acme.call('GET', `/api/v1/orgs/${acme.org}/walkthroughs/${id}/export`)).body;
  const imported = await acme.call('POST', `/api/v1/orgs/${acme.org}/walkthroughs/import`, file);
  assert.equal(imported.status, 201, JSON.stringify(imported.body));
  const original = (await acme.call('GET', `/api/v1/orgs/${acme.org}/walkthroughs/${id}`)).body;
  const strip = (w) => ({
    ...w, id: undefined, created_at: undefined, updated_at: undefined, assignments: undefined,
    steps: w.steps.map((s) => ({ ...s, id: undefined, created_at: undefined, updated_at: undefined })),
  });
  assert.deepEqual(strip(imported.body), strip(original));
  assert.deepEqual(consoleErrors, []);
});
