// The dashboard in headless Chromium (puppeteer-core, Debian's chromium)
// against the real vlad with the README's demo data, on loopback, with a
// tokens file: the login and a refused token; each page loads without
// console errors; the numbers on the page equal vlactl's (the C++
// formatting) and the API's; the watermelon card is marked; a check-in
// moves an objective on the open page; the board at 390 px; keyboard
// navigation. Screenshots of each page go to $SCREENSHOTS. Last, 500 VLAs:
// how long the board takes to draw and a status change to appear (printed,
// not asserted).
//
// Environment (web/CMakeLists.txt sets it): VLAD, VLACTL, EXAMPLES,
// WEB_MODULES (the npm packages), CHROMIUM, SCREENSHOTS, TEST_TMPDIR;
// DASHBOARD_DEBUG=1 also prints the board's marks and resource timings.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

function env(name, fallback) {
  const v = process.env[name] || fallback;
  if (!v) throw new Error(`${name} is not set (web/CMakeLists.txt sets it)`);
  return v;
}

const VLAD = env('VLAD');
const VLACTL = env('VLACTL');
const EXAMPLES = env('EXAMPLES');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const SCREENSHOTS = env('SCREENSHOTS');
const puppeteer = createRequire(path.join(env('WEB_MODULES'), 'noop.js'))('puppeteer-core');

const TOKEN = 'dashboard-test-admin-token';
const VLA = 'vlas/incident-back-to-work';
const OBJECTIVE = 'objectives/back-to-work-faster';
const STREAM = 'valueStreams/incident-to-back-to-work';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let dir;
let vlad;
let grpcAddress;
let base;
let browser;
const figures = [];

async function api(pathname, { method = 'GET', body, token = TOKEN } = {}) {
  const response = await fetch(base + pathname, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${pathname}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function vlactl(...args) {
  const { stdout } = await promisify(execFile)(VLACTL,
    [...args, `--server=${grpcAddress}`, `--token=${TOKEN}`],
    { env: { ...process.env, NO_COLOR: '1' }, timeout: 60000, maxBuffer: 16 << 20 });
  return stdout;
}

// The rows of the first table in vlactl output whose header starts with
// `first`: cells split on runs of two or more spaces.
function table(output, first) {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => l.startsWith(first));
  assert.ok(start >= 0, `no table ${first} in:\n${output}`);
  const rows = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.trim()) break;
    rows.push(line.trim().split(/ {2,}/));
  }
  return rows;
}

async function waitFor(what, check, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// A page that records console errors and uncaught exceptions.
async function newPage({ width = 1280, height = 800, signedIn = true } = {}) {
  const page = await browser.newPage();
  await page.setViewport({ width, height });
  page.errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push(m.text());
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  if (signedIn) {
    await page.evaluateOnNewDocument((t) => sessionStorage.setItem('vla.token', t), TOKEN);
  }
  return page;
}

async function open(page, hash, ready) {
  await page.goto(`${base}/${hash}`);
  await page.waitForSelector(`main[data-ready="${ready}"]`, { timeout: 20000 });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: true });
}

const text = (page, selector) => page.$eval(selector, (e) => e.textContent.trim());
const texts = (page, selector) => page.$$eval(selector, (es) => es.map((e) => e.textContent.trim()));

before(async () => {
  const tmp = process.env.TEST_TMPDIR || os.tmpdir();
  fs.mkdirSync(tmp, { recursive: true });
  dir = fs.mkdtempSync(path.join(tmp, 'dashboard-'));
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const hash = createHash('sha256').update(TOKEN).digest('hex');
  fs.writeFileSync(path.join(dir, 'tokens'), `admin dashboard-test ${hash}\n`);
  const log = fs.openSync(path.join(dir, 'vlad.log'), 'w');
  vlad = spawn(VLAD, ['--listen=127.0.0.1:0', '--http_listen=127.0.0.1:0',
    `--data_dir=${path.join(dir, 'data')}`, `--port_file=${path.join(dir, 'ports')}`,
    `--auth_tokens_file=${path.join(dir, 'tokens')}`, '--min_free_bytes=0', '--shutdown_grace=3s'],
  { stdio: ['ignore', log, log] });
  const ports = await waitFor('vlad to listen', () => {
    try {
      const lines = fs.readFileSync(path.join(dir, 'ports'), 'utf8').trim().split('\n');
      return lines.length === 2 ? lines : null;
    } catch (e) {
      return null;
    }
  });
  grpcAddress = `127.0.0.1:${ports[0]}`;
  base = `http://127.0.0.1:${ports[1]}`;
  const started = Date.now();
  // The README's demo: the examples, 14 days of incidents, a check-in.
  await vlactl('demo', '--duration=1s', '--seed=2026', `--examples=${EXAMPLES}`);
  await waitFor('the watermelon', async () => (await api(`/v1/${VLA}/status`)).watermelon);
  console.log(`# demo data loaded in ${Date.now() - started} ms`);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--font-render-hinting=none'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (vlad) {
    vlad.kill('SIGTERM');
    await new Promise((r) => vlad.once('exit', r));
  }
  if (figures.length) {
    fs.writeFileSync(path.join(SCREENSHOTS, 'figures.txt'), `${figures.join('\n')}\n`);
  }
});

test('static files: content types, caching, gzip, no token needed', async () => {
  const index = await fetch(`${base}/`);
  assert.equal(index.status, 200);
  assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  assert.match(index.headers.get('content-security-policy'), /default-src 'self'/);
  const html = await index.text();
  const script = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(html)[1];
  const again = await fetch(`${base}/`, { headers: { 'If-None-Match': index.headers.get('etag') } });
  assert.equal(again.status, 304);
  // Raw bytes: as stored, gzip when asked for, never compressed twice.
  const http = await import('node:http');
  const raw = (headers) => new Promise((resolve, reject) => {
    http.get(`${base}${script}`, { headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ res, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
  const plain = await raw({});
  assert.equal(plain.res.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(plain.res.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(plain.res.headers['content-encoding'], undefined);
  const gz = await raw({ 'Accept-Encoding': 'gzip, deflate, br' });
  assert.equal(gz.res.headers['content-encoding'], 'gzip');
  const zlib = await import('node:zlib');
  assert.ok(zlib.gunzipSync(gz.body).equals(plain.body));
  assert.ok(gz.body.length < plain.body.length / 2);
  assert.equal((await fetch(`${base}/assets/nothing.js`)).status, 404);
  assert.equal((await fetch(`${base}/v1/vlas`)).status, 401);  // the API still needs the token
});

test('login, then the board: the watermelon card, numbers as vlactl and the API', async () => {
  const page = await newPage({ signedIn: false });
  await page.goto(`${base}/`);
  await page.waitForSelector('#login #token');
  assert.equal(await page.$('#login-error'), null);  // no token yet: no complaint
  await page.type('#token', TOKEN);
  await page.keyboard.press('Enter');
  await page.waitForSelector('main[data-ready="board"]', { timeout: 20000 });

  const card = '#card-incident-back-to-work';
  assert.equal(await page.$eval(card, (e) => e.classList.contains('watermelon')), true);
  assert.equal(await page.$eval(card, (e) => e.dataset.watermelon), 'true');
  assert.match(await text(page, `${card} .melon`), /Watermelon: the SLA is met, the value is BREACHED/);
  assert.match(await text(page, `${card} .disputed`), /Disputed: .*[Ll]ost/);

  const status = await api(`/v1/${VLA}/status`);
  const row = table(await vlactl('status'), 'NAME').find((r) => r[0] === VLA);
  assert.equal(await text(page, `${card} [data-field=score]`), row[2]);
  assert.equal(await text(page, `${card} [data-field=sla]`), row[3]);
  assert.equal(await page.$eval(card, (e) => e.dataset.state), status.state.replace('COMPLIANCE_STATE_', ''));
  assert.ok(Math.abs(Number(row[2]) - status.score) < 0.05);
  assert.equal(row[4], 'yes');
  // The first call's 401 is how the page learns that the server wants a token.
  assert.deepEqual(page.errors.filter((e) => !/status of 401/.test(e)), []);
  assert.ok(page.errors.length <= 1, page.errors.join('\n'));
  await shot(page, 'board.png');

  // Filters: by state, then back.
  await page.select('select[name=state]', 'MET');
  assert.equal(await page.$eval(card, (e) => e.hidden), true);
  await page.select('select[name=state]', 'WATERMELON');
  assert.equal(await page.$eval(card, (e) => e.hidden), false);
  assert.match(await text(page, '#summary'), /^1 of 1 VLAs shown: 1 BREACHED · 1 watermelon$/);
  await page.close();
});

test('the VLA page: clauses, explanation, timeline, series, report as vlactl prints them', async () => {
  const page = await newPage();
  await open(page, `#/vla/${VLA.split('/')[1]}`, 'vla');
  const status = await api(`/v1/${VLA}/status`);
  assert.equal(await text(page, '[data-field=explanation]'), status.explanation.trim());

  const explain = table(await vlactl('explain', `vla/${VLA.split('/')[1]}`), 'KVI');
  const rows = await page.$$eval('table.clauses tbody tr', (trs) => trs.map((tr) => [
    tr.dataset.kvi, ...['value', 'target', 'warning', 'attainment', 'samples']
      .map((f) => tr.querySelector(`[data-field=${f}]`).textContent.trim())]));
  assert.equal(rows.length, explain.length);
  for (const r of explain) {
    // KVI STATE VALUE TARGET WARNING [ATTAINMENT] SAMPLES (a blank attainment is no cell)
    const ours = rows.find((x) => x[0] === r[0]);
    assert.ok(ours, `clause ${r[0]} on the page`);
    assert.deepEqual([ours[1], ours[2], ours[3]], [r[2], r[3], r[4]], r[0]);
    assert.equal(ours[5], r[r.length - 1], `${r[0]} samples`);
    assert.equal(ours[4], r.length === 7 ? r[5] : '', `${r[0]} attainment`);
  }

  const report = table(await vlactl('report', `vla/${VLA.split('/')[1]}`), 'PERIOD');
  const ourReport = await page.$$eval('table.report tbody tr', (trs) => trs.map((tr) =>
    [...tr.children].map((c) => c.querySelector('.badge')?.dataset.state ?? c.textContent.trim())));
  assert.equal(ourReport.length, report.length);
  report.forEach((r, i) => {
    // PERIOD STATE SCORE: equal; the time shares of the current period move with the clock.
    assert.deepEqual(ourReport[i].slice(0, 3), r.slice(0, 3), `report row ${i}`);
    if (!r[0].includes('to date')) assert.deepEqual(ourReport[i].slice(3, 10), r.slice(3, 10));
  });

  // A chart for the timeline and each clause's KVI, drawn by ECharts (SVG).
  const charts = await page.$$eval('.chart svg', (s) => s.length);
  assert.equal(charts, 1 + rows.length);
  assert.deepEqual(page.errors, []);
  await shot(page, 'vla.png');
  await page.close();
});

test('the value stream map: teams and seams as vlactl flow prints them', async () => {
  const page = await newPage();
  await open(page, `#/stream/${STREAM.split('/')[1]}`, 'stream');
  const out = await vlactl('flow', `valuestream/${STREAM.split('/')[1]}`);
  const figuresLine = /Resolved items: (\d+) +ping-pong items: (\d+) +flow efficiency: (\S+)/.exec(out);
  assert.equal(await text(page, '[data-field=resolved]'), figuresLine[1]);
  assert.equal(await text(page, '[data-field=pingpong]'), figuresLine[2]);
  assert.equal(await text(page, '[data-field=efficiency]'), figuresLine[3]);
  const flow = await api(`/v1/${STREAM}/flow`);
  assert.equal(Number(await text(page, '[data-field=resolved]')), Number(flow.resolvedItems));

  const teams = table(out, 'TEAM');
  const ourTeams = await page.$$eval('table.teams tbody tr', (trs) =>
    trs.map((tr) => [...tr.children].map((c) => c.textContent.trim())));
  assert.equal(ourTeams.length, teams.length);
  teams.forEach((r, i) => assert.deepEqual(ourTeams[i].slice(1), r.slice(1), `team ${r[0]}`));
  const seams = table(out, 'FROM');
  const ourSeams = await page.$$eval('table.seams tbody tr', (trs) =>
    trs.map((tr) => [...tr.children].map((c) => c.textContent.trim())));
  assert.ok(seams.length > 0);
  assert.equal(ourSeams.length, seams.length);
  seams.forEach((r, i) => assert.deepEqual(ourSeams[i].slice(2), r.slice(2), `seam ${r[0]} -> ${r[1]}`));
  assert.equal(await page.$$eval('.chart svg', (s) => s.length), 2);
  assert.deepEqual(page.errors, []);
  await shot(page, 'stream.png');
  await page.close();
});

test('objectives: a check-in moves the objective on the open page, without reload', async () => {
  const page = await newPage();
  await open(page, '#/objectives', 'objectives');
  const section = `section[data-objective="${OBJECTIVE}"]`;
  const score = `${section} [data-field=score]`;
  const before = await text(page, score);
  const row = table(await vlactl('status'), 'NAME').find((r) => r[0] === OBJECTIVE);
  assert.equal(before, row[2]);
  await page.evaluate(() => { window.notReloaded = true; });

  // From another client: progress on the manual key result (the demo checked in 3 of 10).
  await api(`/v1/${OBJECTIVE}:checkIn`, {
    method: 'POST',
    body: { keyResultId: 'joint-runbooks', value: 9, confidence: 0.8, team: 'teams/service-desk' },
  });
  await page.waitForFunction((s, old) => document.querySelector(s)?.textContent.trim() !== old,
    { timeout: 10000 }, score, before);
  assert.equal(await page.evaluate(() => window.notReloaded), true);
  const moved = table(await vlactl('status'), 'NAME').find((r) => r[0] === OBJECTIVE);
  assert.equal(await text(page, score), moved[2]);
  assert.ok(Number.parseFloat(moved[2]) > Number.parseFloat(before));
  assert.equal(await text(page, `${section} tr[data-kr=joint-runbooks] [data-field=current]`), '9');

  // And through the page's own form.
  await page.click(`${section} details.checkin summary`);
  await page.type(`${section} input[name=value]`, '4');
  await page.click(`${section} button[type=submit]`);
  await page.waitForFunction((s) => document.querySelector(`${s} tr[data-kr=joint-runbooks] [data-field=current]`)
    ?.textContent.trim() === '4', { timeout: 10000 }, section);
  assert.equal(await page.evaluate(() => window.notReloaded), true);
  assert.deepEqual(page.errors, []);
  await shot(page, 'objectives.png');
  await page.close();
});

test('a phone screen (390 px) and the keyboard', async () => {
  const page = await newPage({ width: 390, height: 844 });
  await open(page, '', 'board');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling');
  await shot(page, 'board-phone.png');
  await open(page, `#/vla/${VLA.split('/')[1]}`, 'vla');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling');
  await shot(page, 'vla-phone.png');

  // Tab from the top to the first card's link, Enter opens the VLA.
  await open(page, '', 'board');
  await page.evaluate(() => document.activeElement.blur());
  let onCard = false;
  for (let i = 0; i < 30 && !onCard; ++i) {
    await page.keyboard.press('Tab');
    onCard = await page.evaluate(() => !!document.activeElement.closest('.card h2 a'));
  }
  assert.ok(onCard, 'a card link is reachable with Tab');
  await page.keyboard.press('Enter');
  await page.waitForSelector('main[data-ready="vla"]');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a wrong token shows the login again', async () => {
  const page = await newPage();
  await open(page, '', 'board');
  await page.evaluate(() => sessionStorage.setItem('vla.token', 'not-the-token'));
  await page.evaluate(() => { location.hash = '#/streams'; });
  await page.waitForSelector('#login #login-error');
  assert.match(await text(page, '#login-error'), /refused the token/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('vla.token')), null);
  // Typed wrong at the login: refused again; then the right one works.
  await page.type('#token', 'still-wrong');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#login-error') && !document.querySelector('#token').value);
  await page.type('#token', TOKEN);
  await page.keyboard.press('Enter');
  await page.waitForSelector('main[data-ready="streams"]');
  // Only the refused calls may have complained.
  assert.deepEqual(page.errors.filter((e) => !/status of 401/.test(e)), []);
  await shot(page, 'login.png');
  await page.close();
});

test('figures: 500 VLAs drawn after load, a status change shown', async () => {
  const vla = await api(`/v1/${VLA}`);
  const started = Date.now();
  const ids = Array.from({ length: 500 }, (_, i) => `bench-${String(i).padStart(3, '0')}`);
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < ids.length) {
      const id = ids[next++];
      await api(`/v1/vlas?vlaId=${id}`, {
        method: 'POST',
        body: {
          displayName: `Bench ${id}`, valueStream: vla.valueStream, valueOwner: vla.valueOwner,
          consumer: vla.consumer, providers: vla.providers, clauses: vla.clauses,
          passScore: vla.passScore, warningScore: vla.warningScore, sla: vla.sla, state: 'VLA_STATE_ACTIVE',
        },
      });
    }
  }));
  await waitFor('501 statuses', async () =>
    (await api('/v1/vlaStatuses?pageSize=1000')).statuses.length === 501, 60000);
  figures.push(`500 VLAs created and evaluated in ${Date.now() - started} ms`);

  const page = await newPage();
  const draws = [];
  for (let run = 0; run < 3; ++run) {
    await page.goto(`${base}/`);
    await page.waitForSelector('body[data-board-drawn-ms]', { timeout: 20000 });
    draws.push(Number(await page.evaluate(() => document.body.dataset.boardDrawnMs)));
    if (process.env.DASHBOARD_DEBUG) {
      console.log(await page.evaluate(() => JSON.stringify({
        marks: performance.getEntriesByType('mark').map((m) => [m.name, Math.round(m.startTime)]),
        resources: performance.getEntriesByType('resource').map((r) => [r.name.replace(location.origin, ''),
          Math.round(r.startTime), Math.round(r.responseStart), Math.round(r.responseEnd), r.encodedBodySize, r.decodedBodySize]),
      })));
    }
    assert.equal(await page.$$eval('.card', (c) => c.length), 501);
  }
  figures.push(`board with 501 VLAs drawn ${draws.join(', ')} ms after navigation start (3 loads; target 1000)`);

  // The same stream as the page's, followed here: when the server sent each change.
  const seen = [];
  const abort = new AbortController();
  const follow = (async () => {
    const response = await fetch(`${base}/v1/vlaStatuses:watch`, {
      headers: { Authorization: `Bearer ${TOKEN}` }, signal: abort.signal,
    });
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of response.body) {
      const now = Date.now();
      buffered += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        for (const e of line ? JSON.parse(line).events || [] : []) {
          if (e.status?.vla === 'vlas/bench-007' && !e.snapshot) seen.push({ at: now, state: e.status.state });
        }
      }
    }
  })().catch(() => {});

  const total = [];
  const server = [];
  const onPage = [];
  const card = '#card-bench-007';
  for (let run = 0; run < 4; ++run) {
    const easy = run % 2 === 0;  // pass score 10: MET; back to the example's: BREACHED
    const want = easy ? 'MET' : 'BREACHED';
    const t0 = Date.now();
    await api('/v1/vlas/bench-007?updateMask=passScore,warningScore', {
      method: 'PATCH',
      body: easy ? { passScore: 10, warningScore: 5 } : { passScore: vla.passScore, warningScore: vla.warningScore },
    });
    await page.waitForFunction((s, w) => document.querySelector(s)?.dataset.state === w,
      { timeout: 20000, polling: 'mutation' }, card, want);
    const shown = Number(await page.$eval(card, (e) => e.dataset.changedAt));
    const sent = await waitFor('the change on the stream', () =>
      seen.find((x) => x.at >= t0 && x.state === `COMPLIANCE_STATE_${want}`), 5000);
    total.push(shown - t0);
    server.push(sent.at - t0);
    onPage.push(shown - sent.at);
  }
  abort.abort();
  await follow;
  figures.push(`status change: PATCH of a VLA -> event on the stream ${server.join(', ')} ms ` +
    '(the evaluator\'s part)');
  figures.push(`status change: event on the stream -> card redrawn ${onPage.join(', ')} ms (target 1000)`);
  figures.push(`status change: PATCH -> card redrawn ${total.join(', ')} ms`);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'board-500.png') });
  assert.deepEqual(page.errors, []);
  await page.close();
  for (const f of figures) console.log(`# figure: ${f}`);
});
