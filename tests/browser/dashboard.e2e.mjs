// The dashboard end to end, in real headless Chromium (playwright-core driving
// Debian's /usr/bin/chromium) against the real daemon:
//
//   1. the page loads under its Content-Security-Policy (no violations, no
//      script errors) and the leader panel shows this replica and its epoch;
//   2. a simulated PgDog node registers and uploads metrics over /api/v2 and
//      appears in the nodes table with them; selecting it draws its charts and
//      shows its active queries, query statistics and errors;
//   3. a command issued without a token shows the 401 banner; an admin enters
//      the token, reaches the command button with the keyboard only (Tab) and
//      presses Enter; the node long-polls the command, the page shows it
//      delivered, the node acknowledges it, the page shows it acknowledged;
//   4. a screenshot is saved (PGDC_ARTIFACTS/dashboard.png) and its path
//      printed.
//
// Environment: PGDC_BIN (the daemon), PGDC_TMP (scratch dir), PGDC_ARTIFACTS
// (where the screenshot goes), PGDC_CHROMIUM (default /usr/bin/chromium).
// Exit 0 on success, 1 on failure, 77 when Chromium is not installed (CTest
// reports the test as skipped).
//
// No timed assertions: every wait is a generous liveness bound (the machine
// may be loaded); what is asserted is what the page shows.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BIN = process.env.PGDC_BIN;
const TMP = process.env.PGDC_TMP ?? '/tmp/pgdc-browser';
const ARTIFACTS = process.env.PGDC_ARTIFACTS ?? join(TMP, 'artifacts');
const CHROMIUM = process.env.PGDC_CHROMIUM ?? '/usr/bin/chromium';
const WAIT_MS = 30_000;

// Test-only secrets (never real ones): at least 16 characters, as the config requires.
const DEPLOYMENT = 'shop';
const DEPLOY_TOKEN = 'deploy-token-browser-test-0001';
const ADMIN_TOKEN = 'admin-token-browser-test-00001';
const READ_TOKEN = 'read-token-browser-test-000001';
const NODE_ID = 'pgdog-0';

if (!BIN || !existsSync(BIN)) {
  console.error(`PGDC_BIN must name the pgdog-control binary (got ${BIN ?? 'nothing'})`);
  process.exit(1);
}
if (!existsSync(CHROMIUM)) {
  console.error(`SKIP: no Chromium at ${CHROMIUM}; install Debian's 'chromium' (scripts/setup-deps.sh)`);
  process.exit(77);
}
mkdirSync(TMP, { recursive: true });
mkdirSync(ARTIFACTS, { recursive: true });

const t0 = Date.now();
const step = (msg) => console.log(`[browser] +${((Date.now() - t0) / 1000).toFixed(1)}s ${msg}`);

// --- the daemon --------------------------------------------------------------

function startDaemon() {
  const config = join(TMP, 'dashboard-e2e.yaml');
  writeFileSync(config, [
    'listen: "127.0.0.1:0"',
    'api:',
    '  deployments:',
    `    - name: ${DEPLOYMENT}`,
    `      tokens: ["${DEPLOY_TOKEN}"]`,
    '  web:',
    `    admin_tokens: ["${ADMIN_TOKEN}"]`,
    `    read_tokens: ["${READ_TOKEN}"]`,
    '',
  ].join('\n'));
  const child = spawn(BIN, ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  const port = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`daemon did not listen within ${WAIT_MS} ms:\n${logs}`)), WAIT_MS);
    const onData = (chunk) => {
      logs += chunk.toString();
      const m = logs.match(/listening on [^\s]*:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited (${code}) before listening:\n${logs}`));
    });
  });
  return { child, port, logs: () => logs };
}

async function stopDaemon(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

// --- HTTP helpers (the simulated PgDog node and checks) ----------------------

let base = '';

async function http(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(WAIT_MS + 10_000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, json, text };
}

async function expectStatus(method, path, opts, status) {
  const r = await http(method, path, opts);
  if (r.status !== status) {
    throw new Error(`${method} ${path}: expected HTTP ${status}, got ${r.status}: ${r.text}`);
  }
  return r;
}

async function eventually(what, fn) {
  const deadline = Date.now() + WAIT_MS;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

// --- the test ----------------------------------------------------------------

async function main() {
  const daemon = startDaemon();
  let browser;
  let page;
  let uploader;
  const uploadErrors = [];
  try {
    const port = await daemon.port;
    base = `http://127.0.0.1:${port}`;
    step(`daemon listening on ${base}`);
    await eventually('the replica to be ready (leader)', async () => (await http('GET', '/readyz')).status === 200);
    // Fleet reads need a token by default (query text is fleet data).
    await expectStatus('GET', '/api/web/control', {}, 401);
    const control = (await expectStatus('GET', '/api/web/control', { token: READ_TOKEN }, 200)).json;
    step(`leader ${control.identity}, epoch ${JSON.stringify(control.epoch)}`);

    const root = await expectStatus('GET', '/', {}, 200);
    const csp = root.headers.get('content-security-policy') ?? '';
    assert(csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), `CSP on / is ${csp}`);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      // The 401 and 403 of the commands issued below without an admin token
      // are expected; anything else (a CSP violation, a script error) is a failure.
      if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) problems.push(`console: ${m.text()}`);
    });

    // 1. The page asks for a token and says why; with a read token it shows
    // the leader panel.
    await page.goto(base + '/', { waitUntil: 'load' });
    await eventually('the read-token banner', async () =>
      (await page.isVisible('#banner')) &&
      /Reading fleet data needs a token \(it includes query text/.test(await page.textContent('#banner')));
    step(`no token: "${await page.textContent('#banner')}"`);
    await page.fill('#token', READ_TOKEN);
    await page.press('#token', 'Enter');
    await eventually('the leader panel', async () =>
      (await page.textContent('#leader-identity')) === control.identity);
    const epochText = await page.textContent('#leader-epoch');
    assert(epochText === String(control.epoch) && epochText !== '', `epoch shown: ${epochText}`);
    step(`page shows leader ${control.identity}, epoch ${epochText}`);
    // The replicas panel (GET /api/web/members): the noop plugin lists this
    // replica only, as the leader, and offers no switchover (no button).
    const members = (await expectStatus('GET', '/api/web/members', { token: READ_TOKEN }, 200)).json;
    assert(members.members.length === 1 && members.members[0].identity === control.identity,
      `members: ${JSON.stringify(members)}`);
    await eventually('the replicas panel', async () =>
      (await page.$$('#replicas tbody tr')).length === 1);
    const replica = await page.$$eval('#replicas tbody tr:first-child > *',
      (cs) => cs.map((c) => (c.textContent ?? '').trim()));
    assert(replica[0] === `${control.identity} (this replica)`, `replica identity cell: ${replica[0]}`);
    assert(replica[1] === 'leader', `replica role cell: ${replica[1]}`);
    assert(replica[2] === members.members[0].address && replica[3] === members.members[0].version,
      `replica address/version: ${replica.slice(2, 4)}`);
    assert(replica[4] === members.members[0].backend && /^noop /.test(replica[4]), `replica backend: ${replica[4]}`);
    assert(replica[5] === 'eligible', `replica eligibility: ${replica[5]}`);
    assert((await page.$$('#replicas button')).length === 0, 'no switchover button for the leader');
    step(`replicas panel: ${replica.join(' | ')}`);
    const deployments = await page.$$eval('#deployment option', (os) => os.map((o) => o.value));
    assert(deployments.includes(DEPLOYMENT), `deployment selector lists ${DEPLOYMENT}: ${deployments}`);

    // 2. A simulated PgDog node registers, then uploads metrics every second
    // (as PgDog does) until the end of the test, so it stays live.
    const auth = { token: DEPLOY_TOKEN };
    const reg = await http('POST', '/api/v2/register', {
      ...auth, body: { node_id: NODE_ID, version: '0.1.29', host: '10.0.0.7' },
    });
    assert(reg.status === 200 || reg.status === 201, `register: HTTP ${reg.status} ${reg.text}`);
    let uploads = 0;
    const upload = async () => {
      const r = await http('POST', '/api/v2/metrics', {
        ...auth,
        body: { node_id: NODE_ID, clients: 42, servers: 8, pools: 2, qps: 120 + (uploads % 6) * 1.5,
          tps: 30.25, cpu: 12.5, memory_bytes: 268435456 },
      });
      assert(r.status >= 200 && r.status < 300, `metrics upload: HTTP ${r.status} ${r.text}`);
      uploads++;
    };
    await upload();
    const uploads5s = {
      query_stats: [{ query: 'SELECT * FROM users WHERE id = $1', calls: 1200, total_ms: 840.5, rows: 1200 }],
      active_queries: [{ query: 'SELECT pg_sleep(10)', age_ms: 4200, user: 'app', database: 'shop', state: 'active' }],
      errors: [{ message: 'connection refused: 10.0.0.9:5432', count: 3, last_at_ms: Date.now() }],
    };
    for (const [kind, entries] of Object.entries(uploads5s)) {
      const r = await http('POST', `/api/v2/${kind}`, { ...auth, body: { node_id: NODE_ID, [kind]: entries } });
      assert(r.status >= 200 && r.status < 300, `${kind} upload: HTTP ${r.status} ${r.text}`);
    }
    uploader = setInterval(() => upload().catch((e) => uploadErrors.push(e.message)), 1000);
    const row = `#nodes tr[data-node="${NODE_ID}"]`;
    await eventually('the node in the nodes table with its latest metrics', async () => {
      const cells = await page.$$eval(`${row} > *`, (cs) => cs.map((c) => c.textContent?.trim()));
      return cells.length && cells[4] === '42' ? cells : null;
    }).then((cells) => {
      step(`nodes table row: ${cells.join(' | ')}`);
      assert(cells[0] === NODE_ID, `node id cell ${cells[0]}`);
      assert(cells[1] === '10.0.0.7' && cells[2] === '0.1.29', `host/version ${cells[1]} ${cells[2]}`);
      assert(cells[3] === 'live', `status ${cells[3]}`);
      const qps = Number(cells[6]);
      assert(cells[5] === '8' && qps >= 120 && qps <= 127.5 && cells[7] === '30.3',
        `servers/qps/tps ${cells.slice(5, 8)}`);
      assert(cells[8] === '12.5 %' && cells[9] === '256.0 MiB', `cpu/memory ${cells.slice(8, 10)}`);
    });
    // A new leader starts without telemetry history: the summary says since when.
    const summary = await page.textContent('#nodes-summary');
    assert(/^1 live, 0 stale · telemetry since \d\d:\d\d:\d\d$/.test(summary.trim()),
      `nodes summary ${JSON.stringify(summary)}`);
    await page.click(`${row} button`);
    await eventually('the charts of the selected node', async () =>
      (await page.$$('#charts canvas')).length >= 4 && (await page.isVisible('#charts')));
    assert((await page.getAttribute(`${row} button`, 'aria-pressed')) === 'true', 'selected node is pressed');
    step('charts drawn for the selected node');
    await eventually('the node\'s queries and errors', async () =>
      (await page.textContent('#queries-active tbody'))?.includes('SELECT pg_sleep(10)') &&
      (await page.textContent('#queries-stats tbody'))?.includes('SELECT * FROM users WHERE id = $1') &&
      (await page.textContent('#queries-errors tbody'))?.includes('connection refused: 10.0.0.9:5432'));
    step(`queries panel: ${(await page.textContent('#queries-active tbody')).trim()}`);

    // 3. Commands. A read-only token: 403, the banner says the token was refused.
    const command = '#command-buttons button[data-kind="reload_configuration"]';
    await page.waitForSelector(command, { timeout: WAIT_MS });
    await page.click(command);
    await eventually('the 403 banner', async () =>
      (await page.isVisible('#banner')) && /may not issue commands/.test(await page.textContent('#banner')));
    step(`read token: "${await page.textContent('#banner')}"`);

    // The admin types the token and presses Enter.
    await page.focus('#token');
    await page.keyboard.type(ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await eventually('the token to be taken', async () => /token set/.test(await page.textContent('#token-state')));
    assert((await page.inputValue('#token')) === '', 'the token field is cleared after use');
    assert(!page.url().includes(ADMIN_TOKEN), 'the token is not in the URL');

    // It lasts for the tab: after a reload, keyboard only from the top of the
    // page (Tab) to the command button, then Enter.
    await page.reload({ waitUntil: 'load' });
    await eventually('the command buttons after the reload', async () => (await page.$(command)) !== null);
    assert(/token set/.test(await page.textContent('#token-state')), 'the token survives a reload of the tab');
    await eventually('the selected node and its charts after the reload', async () =>
      (await page.getAttribute(`${row} button`, 'aria-pressed')) === 'true' &&
      (await page.$$('#charts canvas')).length >= 4);
    let reached = false;
    const path = [];
    for (let i = 0; i < 80 && !reached; i++) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const a = document.activeElement;
        if (!a || a === document.body) return 'body';
        const kind = a.dataset?.kind ? `[${a.dataset.kind}]` : '';
        const cls = a.classList.length ? `.${a.classList[0]}` : '';
        return `${a.tagName.toLowerCase()}${a.id ? '#' + a.id : cls}${kind}`;
      });
      path.push(focused);
      reached = focused === 'button.command[reload_configuration]';
    }
    assert(reached, `Tab never reached the reload_configuration button; focus went ${path.join(' > ')}`);
    assert(path[0] === 'a.skip-link', `the first Tab stop is the skip link, not ${path[0]}`);
    step(`keyboard reached the command button in ${path.length} Tabs: ${path.join(' > ')}`);
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert(outline !== 'none', `the focused button shows a focus outline (${outline})`);
    await page.keyboard.press('Enter');

    await eventually('the command in the commands table', async () =>
      (await page.$$('#commands tbody tr')).length === 1);
    await eventually('the banner to clear', async () => !(await page.isVisible('#banner')));
    const listed = (await expectStatus('GET', `/api/web/deployments/${DEPLOYMENT}/commands`, { token: READ_TOKEN }, 200)).json;
    const issued = listed.commands[0];
    assert(issued.name === 'reload_configuration' && issued.target === '*', `issued ${JSON.stringify(issued)}`);
    step(`command issued from the page: #${issued.seq} ${issued.id}`);

    // The node long-polls its commands and gets it.
    const poll = await expectStatus('GET',
      `/api/v2/commands?node_id=${NODE_ID}&after_seq=0&wait_ms=10000`, auth, 200);
    const got = (poll.json.commands ?? []).find((c) => c.id === issued.id);
    assert(got, `the long poll returned the command: ${poll.text}`);
    const cmdRow = `#commands tr[data-command="${issued.id}"]`;
    await eventually('the page to show the command delivered', async () =>
      /delivered/.test(await page.textContent(`${cmdRow} td:last-child`)));
    step(`page: ${await page.textContent(cmdRow)}`);

    // It acknowledges; the page shows it acknowledged (overall and per node).
    const ack = await http('POST', `/api/v2/commands/${encodeURIComponent(issued.id)}/ack`, {
      ...auth, body: { node_id: NODE_ID, status: 'ok', message: 'configuration reloaded' },
    });
    assert(ack.status >= 200 && ack.status < 300, `ack: HTTP ${ack.status} ${ack.text}`);
    await eventually('the page to show the command acknowledged', async () =>
      (await page.getAttribute(cmdRow, 'data-state')) === 'acknowledged' &&
      (await page.$(`${cmdRow} li[data-node="${NODE_ID}"][data-state="acknowledged"]`)) !== null);
    step(`page: ${await page.textContent(cmdRow)}`);
    const announced = await page.textContent('#announcer');
    step(`announced (aria-live): ${announced}`);

    // 4. Screenshot, then the page must have run clean.
    await page.waitForTimeout(4000);  // two more refreshes: charts with several points
    const shot = join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`[browser] screenshot: ${shot}`);
    assert(problems.length === 0, `the page logged problems:\n  ${problems.join('\n  ')}`);
    assert(uploadErrors.length === 0, `metrics uploads failed: ${uploadErrors.join('; ')}`);
    const logs = daemon.logs();
    assert(!logs.includes(ADMIN_TOKEN) && !logs.includes(DEPLOY_TOKEN), 'the daemon log contains a token');
    step('PASS');
  } catch (e) {
    if (page) {
      const shot = join(ARTIFACTS, 'dashboard-failure.png');
      await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
      console.error(`[browser] failure screenshot: ${shot}`);
    }
    console.error(`[browser] FAIL: ${e.stack ?? e}`);
    console.error(`[browser] daemon log:\n${daemon.logs()}`);
    process.exitCode = 1;
  } finally {
    clearInterval(uploader);
    if (browser) await browser.close().catch(() => {});
    await stopDaemon(daemon.child);
  }
}

await main();
