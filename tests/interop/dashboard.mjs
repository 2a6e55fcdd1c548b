// Drives the web dashboard (/ui) in Debian's Chromium through playwright-core, against a live
// two-node loopback mesh started by tests/ui/dashboard_test.cc. One browser, one page, every view:
// sign in, both nodes on the mesh view, a task submitted from the CLI appearing and finishing in
// the tasks view without a reload, its page and output, a second task cancelled from its page, a
// trace, the models, leases and events views, the keyboard path and a phone-width layout. Any
// console error, page error, failed request or HTTP error answer fails the run. Screenshots go to
// $UI_OUT_DIR. Exit code 0 only when every step passed; each passed step prints an `ok` line.
//
// Environment: UI_URL (the control plane), UI_TOKEN (admin), UI_READ_ONLY_TOKEN, UI_AGENT_NODE,
// UI_OUT_DIR, VOX_BIN and VOX_HOME (the CLI used to submit), CHROMIUM (default /usr/bin/chromium).
//
// `node dashboard.mjs paint N` (bench/dashboard_paint.sh) only signs in and reloads the mesh view
// N times, printing the time to its first paint with data; it needs UI_URL and UI_TOKEN.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  if (!process.env[name]) throw new Error(`${name} is not set`);
  return process.env[name];
};
const paintOnly = process.argv[2] === 'paint';
const base = env('UI_URL');
const token = env('UI_TOKEN');
const agentNode = paintOnly ? '' : env('UI_AGENT_NODE');
const readOnlyToken = paintOnly ? '' : env('UI_READ_ONLY_TOKEN');
const outDir = paintOnly ? '' : env('UI_OUT_DIR');
const STEP_MS = 60_000;  // bounds a hang on a loaded machine; asserts no speed

function vox(args) {
  return execFileSync(env('VOX_BIN'), args, { env: process.env, encoding: 'utf8' }).trim();
}
async function paintTimings(p, n) {
  const drawn = [];
  const fcp = [];
  for (let i = 0; i < n; i += 1) {
    // The event stream is open: the reload aborts nothing but it.
    await p.waitForFunction(() => document.getElementById('live').dataset.state === 'live');
    await navigation(() => p.reload());
    await p.waitForFunction(() => performance.getEntriesByName('populi.mesh.drawn').length > 0);
    const [d, f] = await p.evaluate(() => {
      const paint = performance.getEntriesByName('first-contentful-paint')[0];
      return [performance.getEntriesByName('populi.mesh.drawn')[0].startTime, paint ? paint.startTime : -1];
    });
    drawn.push(d);
    fcp.push(f);
  }
  const at = (xs, q) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];
  console.log(`timing mesh_drawn_ms p50=${at(drawn, 0.5).toFixed(1)} p90=${at(drawn, 0.9).toFixed(1)} ` +
    `first_contentful_paint_ms p50=${at(fcp, 0.5).toFixed(1)} p90=${at(fcp, 0.9).toFixed(1)} (${n} loads)`);
}

function ok(what) { console.log(`ok ${what}`); }

const problems = [];
// Set while the test itself reloads or leaves the page: a fetch in flight then is aborted by
// the browser, not failed.
let navigating = false;
// Set while the test signs in with a wrong token on purpose: that one 401 is expected.
let expectRefusal = false;
const refusal = (text) => expectRefusal && /\b401\b/.test(text);
async function navigation(fn) {
  navigating = true;
  try { return await fn(); } finally { navigating = false; }
}
let page = null;
const profile = mkdtempSync(join(tmpdir(), 'populi-ui-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('console', (m) => {
    if (m.type() === 'error' && !refusal(m.text())) problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // The page closes its own log and event streams when it leaves a view or reloads.
    if (r.failure()?.errorText === 'net::ERR_ABORTED' && (navigating || r.url().includes('follow=1'))) return;
    problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    const what = `HTTP ${r.status()}: ${r.request().method()} ${r.url()}`;
    if (r.status() >= 400 && !(refusal(what) && r.url().endsWith('/v1/populi/version'))) problems.push(what);
  });
  const shot = async (name) => page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
  const check = () => {
    if (problems.length) throw new Error(`the page reported problems:\n${problems.join('\n')}`);
  };

  // One labelled block: the paint-only mode leaves it early and still closes the browser.
  steps: {
    if (paintOnly) {
      await navigation(() => page.goto(`${base}/ui`));
      await page.getByLabel('Mesh token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('article.node').first().waitFor();
      await paintTimings(page, Number(process.argv[3] || 20));
      check();
      break steps;
    }

    // Sign in; both nodes on the mesh view, their state as words.
    const first = await navigation(() => page.goto(`${base}/ui`));
    if (!first.headers()['content-type'].startsWith('text/html')) throw new Error('/ui is not HTML');
    await page.getByLabel('Mesh token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForFunction(() => document.querySelectorAll('article.node').length === 2);
    await page.waitForFunction(() => [...document.querySelectorAll('article.node')]
      .every((n) => n.querySelector('.state')?.textContent.endsWith('alive')));
    if (!(await page.locator(`article[data-node="${agentNode}"] meter`).count())) {
      throw new Error('the agent node shows no GPU bar');
    }
    if (await page.evaluate(() => sessionStorage.getItem('populi.token')) !== token ||
        await page.evaluate(() => localStorage.length) !== 0) {
      throw new Error('the token is not kept in session storage alone');
    }
    await page.waitForFunction(() => document.getElementById('live').dataset.state === 'live');
    await shot('mesh');
    ok('signed in; the mesh view shows both nodes alive with GPU bars');

    // First paint of the mesh view, reloaded with the token in the session (printed, not
    // asserted: a bench number, see docs/dashboard.md).
    await paintTimings(page, 2);

    // A task submitted from the CLI appears and finishes in the tasks view, without a reload.
    await page.getByRole('link', { name: 'Tasks', exact: true }).click();
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    await page.evaluate(() => { window.populiNoReload = true; });
    const done = vox(['populi', 'submit', '--detach', '--node', agentNode, '--', 'sh', '-c',
      'echo hello from the dashboard test; echo to stderr >&2']);
    await page.locator(`tr[data-task="${done}"]`).waitFor();
    await page.locator(`tr[data-task="${done}"][data-state="succeeded"]`).waitFor();
    if (!(await page.evaluate(() => window.populiNoReload === true))) throw new Error('the page reloaded');
    await shot('tasks');
    ok('the CLI task appeared and succeeded in the tasks view without a reload');

    // Its page: attempts with the placement reason, the output, the trace link.
    await page.locator(`tr[data-task="${done}"] a`).click();
    await page.locator('#log-state[data-ended="true"]').waitFor();
    const logs = await page.locator('#logs').textContent();
    if (!logs.includes('hello from the dashboard test') || !logs.includes('to stderr')) {
      throw new Error(`the output is not shown: ${logs}`);
    }
    const attempts = await page.getByRole('table', { name: 'Attempts' }).textContent();
    if (!attempts.includes(agentNode)) throw new Error(`no attempt on ${agentNode}: ${attempts}`);
    await shot('task');
    ok('the task page shows its attempt, placement and output');

    // The trace of that task: the agent's spans arrive after the result, so read again until in.
    await page.locator('#trace-link').click();
    await page.getByRole('heading', { name: /^Trace/ }).waitFor();
    for (let i = 0; i < 60 && !(await page.locator('tr[data-span="task.run"]').count()); i += 1) {
      await page.waitForTimeout(500);
      await page.getByRole('button', { name: 'Read again' }).click();
    }
    await page.locator('tr[data-span="POST /v1/populi/tasks"]').waitFor();
    await page.locator('tr[data-span="task.run"]').waitFor();
    await shot('trace');
    ok('the trace waterfall shows the control plane and the agent spans');

    // Another task, cancelled from its page.
    const slow = vox(['populi', 'submit', '--detach', '--node', agentNode, '--', 'sh', '-c', 'sleep 120']);
    await navigation(() => page.goto(`${base}/ui#/tasks`));
    await page.locator(`tr[data-task="${slow}"][data-state="running"]`).waitFor();
    // The mesh view lists it under the node that runs it.
    await page.getByRole('link', { name: 'Mesh' }).click();
    const runningLink = page.locator(`article[data-node="${agentNode}"] a[href="#/tasks/${slow}"]`);
    await runningLink.waitFor();
    await shot('mesh-running');
    await runningLink.click();
    await page.getByRole('button', { name: 'Cancel task' }).click();
    await page.locator('#task-state', { hasText: 'cancelled' }).waitFor();
    await page.locator('#log-state[data-ended="true"]').waitFor();
    await shot('task-cancelled');
    ok('a running task shows on its node and was cancelled from its page');

    // Filter the tasks by state: only the cancelled one.
    await page.getByRole('link', { name: 'Tasks', exact: true }).click();
    await page.getByLabel('State').selectOption('cancelled');
    await page.waitForFunction(() => location.hash === '#/tasks?state=cancelled');
    await page.locator(`tr[data-task="${slow}"]`).waitFor();
    if (await page.locator(`tr[data-task="${done}"]`).count()) throw new Error('the filter kept a succeeded task');
    ok('the state filter keeps only matching tasks');

    // Models, leases (with ended ones), events (live, with a kind filter).
    await page.getByRole('link', { name: 'Models' }).click();
    await page.getByRole('heading', { name: 'By node' }).waitFor();
    const tiny = page.locator('tr', { hasText: 'Tiny Llama' });
    await tiny.waitFor();
    if (!(await tiny.textContent()).includes(`${agentNode}: `)) throw new Error('the model has no holder');
    await shot('models');
    await page.getByRole('link', { name: 'Leases' }).click();
    await page.getByLabel('Show ended leases').check();
    await page.locator('td', { hasText: `task:${done}` }).first().waitFor();
    await shot('leases');
    await page.getByRole('link', { name: 'Events' }).click();
    await page.locator(`tr[data-kind="task.cancelled"]`).first().waitFor();
    await page.getByLabel('Kinds').fill('node.');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('tr[data-kind="node.joined"]').first().waitFor();
    if (await page.locator('tr[data-kind^="task."]').count()) throw new Error('the kind filter kept task events');
    await shot('events');
    ok('the models view shows the agent\'s model; leases and events render; the events filter works');

    // Keyboard: from the top of the page, Tab reaches the navigation and Enter opens a view.
    await navigation(() => page.goto(`${base}/ui#/mesh`));
    await page.waitForFunction(() => document.getElementById('live').dataset.state === 'live');
    await navigation(() => page.reload());  // focus starts at the top of a freshly loaded page
    await page.locator('article.node').first().waitFor();
    let reached = false;
    for (let i = 0; i < 10 && !reached; i += 1) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.textContent === 'Leases');
    }
    if (!reached) throw new Error('Tab does not reach the Leases link');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => location.hash === '#/leases' &&
      document.activeElement?.id === 'view-title');
    ok('the views are reachable by keyboard and focus moves to the new view');

    // Sign-out forgets the token; a wrong token is refused with the server's hint and kept
    // nowhere; a read_only token may look.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Mesh token').waitFor();
    if (await page.evaluate(() => sessionStorage.length) !== 0) throw new Error('sign-out kept the token');
    expectRefusal = true;
    await page.getByLabel('Mesh token').fill('not-a-token-of-this-mesh-0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Hint:' }).waitFor();
    expectRefusal = false;
    if (await page.evaluate(() => sessionStorage.length) !== 0) throw new Error('a refused token was kept');
    await page.getByLabel('Mesh token').fill(readOnlyToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForFunction(() => document.querySelectorAll('article.node').length === 2);
    ok('sign-out forgets the token; a wrong one is refused with a hint; a read_only token may look');

    // Phone width: nothing wider than the screen (tables scroll inside their own region).
    await page.setViewportSize({ width: 390, height: 844 });
    for (const view of ['mesh', 'tasks']) {
      await navigation(() => page.goto(`${base}/ui#/${view}`));
      await page.locator(view === 'mesh' ? 'article.node' : 'tr[data-task]').first().waitFor();
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (wide > 0) throw new Error(`the ${view} view is ${wide}px wider than a phone screen`);
      await shot(`${view}-phone`);
    }
    ok('the mesh and tasks views fit a phone-width screen');

    check();
    ok('no console error, page error or failed request');
  }
} catch (err) {
  console.error(err.stack || String(err));
  if (problems.length) console.error(problems.join('\n'));
  // What the page showed when it failed.
  if (page) {
    await page.screenshot({ path: join(outDir, 'failure.png'), fullPage: true }).catch(() => {});
    console.error(`the page at ${page.url()}:\n${await page.locator('body').innerText().catch(() => '')}`);
  }
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
