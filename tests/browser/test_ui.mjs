// The overview page "Mina ärenden" in headless Chromium, against the real
// local stack: ma-topics, ma-produce (the building-permit process log),
// ma-processor, ma-api with the page, ma-gateway and ma-admin.
//
// Each run creates and drops a PostgreSQL database of its own and uses
// topics with a prefix of its own.  It reads KAFKA_BOOTSTRAP_SERVERS and
// DATABASE_URL from `scripts/stack.sh env`.
//
// node test_ui.mjs --build BUILD_DIR --repo REPO [--data CSV] [--rows N]
//   --out DIR (screenshots; default REPO/tests/out/browser)
//   --chromium PATH (default /usr/bin/chromium)
// Exit status: 0 every check passed, 1 a check failed, 2 bad setup.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const SECRET = 'ui-browser-test-pseudonym-secret-0123';
const SEED = 'ui-browser-test';
const CONSUMER = 'mina-sidor-test';
const failures = [];

function check(condition, what) {
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${what}`);
  if (!condition) failures.push(what);
}

function usage(message) {
  console.error(`test_ui.mjs: ${message}`);
  process.exit(2);
}

function parseArgs() {
  const args = { chromium: '/usr/bin/chromium', rows: 0 };
  for (let i = 2; i < process.argv.length; i += 2) {
    const name = process.argv[i].replace(/^--/, '');
    args[name] = process.argv[i + 1];
  }
  if (!args.build || !args.repo) usage('give --build BUILD_DIR and --repo REPO');
  // The real logs sit beside the clone, as for make demo; MA_DATA_DIR moves them.
  args.data ??= path.join(process.env.MA_DATA_DIR || path.join(args.repo, '..', 'shared', 'data'),
                          'wabo-receipt.csv');
  args.out ??= path.join(args.repo, 'tests/out/browser');
  args.rows = Number(args.rows || 0);
  return args;
}

// ---- test customers ---------------------------------------------------------

function luhnDigit(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = Number(digits[i]) * (i % 2 === 0 ? 2 : 1);
    sum += d > 9 ? d - 9 : d;
  }
  return String((10 - (sum % 10)) % 10);
}

// The personnummer ma-produce generates for a case, as in
// producers/src/customers.c.  HMAC-SHA-256 keyed with the seed over
// "personnummer:" and the case id gives a birth date in 1940-2005 and a
// three-digit serial.
function generatedPersonnummer(seed, caseId) {
  const digest = crypto.createHmac('sha256', seed).update(`personnummer:${caseId}`).digest();
  const first = Date.UTC(1940, 0, 1) / 86400000;
  const last = Date.UTC(2005, 11, 31) / 86400000;
  const day = new Date((first + (digest.readUInt32BE(0) % (last - first + 1))) * 86400000);
  const serial = digest.readUInt32BE(4) % 1000;
  const pad = (n, w) => String(n).padStart(w, '0');
  const year = day.getUTCFullYear();
  const nine = `${pad(year % 100, 2)}${pad(day.getUTCMonth() + 1, 2)}${pad(day.getUTCDate(), 2)}${pad(serial, 3)}`;
  return `${Math.floor(year / 100)}${nine}${luhnDigit(nine)}`;
}

// A personnummer of a test person born on date (YYYYMMDD) with a serial.
function testPersonnummer(date, serial) {
  const nine = `${date.slice(2)}${String(serial).padStart(3, '0')}`;
  return date.slice(0, 2) + nine + luhnDigit(nine);
}

function pseudonym(typ, identifierare) {
  return crypto.createHmac('sha256', SECRET).update(`${typ}:${identifierare}`).digest('hex').slice(0, 32);
}

// The case ids of the log in the order they first appear: ma-produce gives
// each run of cases_per_customer of them the customer of the first.
function caseOrder(csvPath) {
  const lines = fs.readFileSync(csvPath, 'utf8').split('\n');
  const column = lines[0].split(',').indexOf('case:concept:name');
  const seen = [];
  for (const line of lines.slice(1)) {
    const id = line.split(',')[column];
    if (id && !seen.includes(id)) seen.push(id);
  }
  return seen;
}

// ---- processes ----------------------------------------------------------------

class Stack {
  constructor(args) {
    this.args = args;
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ma-ui-test-'));
    this.children = [];
    this.adminUrl = process.env.DATABASE_URL;
    this.brokers = process.env.KAFKA_BOOTSTRAP_SERVERS;
    if (!this.adminUrl || !this.brokers) {
      usage('DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS are not set: load the stack first, '
        + 'eval "$(MA_STACK_NAME=test scripts/stack.sh env)"');
    }
    this.dbname = `ma_ui_test_${process.pid}`;
    const url = new URL(this.adminUrl);
    url.pathname = `/${this.dbname}`;
    this.url = url.toString();
    this.prefix = `uitest${process.pid}.`;
    this.env = { ...process.env, MA_DATABASE_URL: this.url, MA_PSEUDONYM_SECRET: SECRET };
  }

  bin(relative) {
    return path.join(this.args.build, relative);
  }

  run(program, argv, options = {}) {
    const proc = spawnSync(program, argv, {
      cwd: this.args.repo, env: this.env, encoding: 'utf8', ...options,
    });
    if (proc.status !== 0) {
      throw new Error(`${path.basename(program)} ${argv.join(' ')} exited ${proc.status}: ${(proc.stderr || '').slice(-2000)}`);
    }
    return proc.stdout;
  }

  psql(sql, url = this.url) {
    return this.run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql]).trim();
  }

  // Starts a long-running program; resolves with the port it logs as
  // listening when pattern is given.
  start(name, program, argv, pattern) {
    const logPath = path.join(this.tmp, `${name}.log`);
    const log = fs.openSync(logPath, 'w');
    const child = spawn(program, argv, { cwd: this.args.repo, env: this.env, stdio: ['ignore', log, log] });
    this.children.push(child);
    child.logPath = logPath;
    if (!pattern) return Promise.resolve(child);
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + 30000;
      const poll = () => {
        const text = fs.readFileSync(logPath, 'utf8');
        const match = text.match(pattern);
        if (match) { child.port = Number(match[1]); resolve(child); return; }
        if (child.exitCode !== null || Date.now() > deadline) {
          reject(new Error(`${name} did not start: ${text.slice(-2000)}`));
          return;
        }
        setTimeout(poll, 100);
      };
      poll();
    });
  }

  async stop() {
    for (const child of this.children.reverse()) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => {
          const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 15000);
          child.once('exit', () => { clearTimeout(timer); resolve(); });
        });
      }
    }
    try {
      this.psql(`DROP DATABASE IF EXISTS ${this.dbname}`, this.adminUrl);
    } catch (error) {
      console.error(`could not drop ${this.dbname}: ${error.message}`);
    }
  }
}

async function waitFor(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

// ---- the test -------------------------------------------------------------------

async function publishLog(stack) {
  const { args } = stack;
  let input = args.data;
  if (args.rows > 0) {
    input = path.join(stack.tmp, 'subset.csv');
    const lines = fs.readFileSync(args.data, 'utf8').split('\n');
    fs.writeFileSync(input, lines.slice(0, args.rows + 1).join('\n') + '\n');
  }
  stack.run(stack.bin('tools/ma-topics'), [`--bootstrap-servers=${stack.brokers}`, `--topic-prefix=${stack.prefix}`, 'EXK']);
  const summary = path.join(stack.tmp, 'summary.json');
  const started = Date.now();
  stack.run(stack.bin('producers/ma-produce'), [
    '--producer=EXK', `--input=${input}`, '--mapping=producers/mappings/wabo-receipt.json',
    `--seed=${SEED}`, `--bootstrap-servers=${stack.brokers}`, `--topic-prefix=${stack.prefix}`,
    '--progress=never', `--summary-json=${summary}`,
  ]);
  const published = JSON.parse(fs.readFileSync(summary, 'utf8')).published;
  check(published > 0, `ma-produce published the permit log (${published} events in ${Date.now() - started} ms)`);
  return { input, published };
}

async function main() {
  const args = parseArgs();
  if (!fs.existsSync(args.chromium)) usage(`no Chromium at ${args.chromium}: run scripts/setup.sh`);
  // Without the real log the test cannot run, so it is skipped (CTest's
  // SKIP_RETURN_CODE), as the other tests that read it are.
  if (!fs.existsSync(args.data)) {
    console.log(`SKIP test_ui.mjs: no real log at ${args.data} (set MA_DATA_DIR)`);
    process.exit(77);
  }
  fs.mkdirSync(args.out, { recursive: true });
  const stack = new Stack(args);
  let browser;
  try {
    stack.psql(`CREATE DATABASE ${stack.dbname}`, stack.adminUrl);
    const admin = (...argv) => stack.run(stack.bin('tools/ma-admin'), argv);
    admin('migrate');
    admin('consumer', 'add', '--id', CONSUMER, '--name', 'Exempelmyndighetens Mina sidor', '--kind', 'public');
    admin('scope', 'add', '--consumer', CONSUMER, '--scope', 'oversikt');
    admin('scope', 'add', '--consumer', CONSUMER, '--scope', 'fraga');

    const { input, published } = await publishLog(stack);
    await stack.start('processor', stack.bin('processors/ma-processor'), [
      `--kafka.brokers=${stack.brokers}`, `--kafka.topic-prefix=${stack.prefix}`,
      `--kafka.group=${stack.prefix}group`, '--metrics.port=0', '--kafka.metadata-refresh=1s',
      // The log is from 2011, past the catalog's retention period.
      '--retention.interval=0',
    ]);
    await waitFor('the processor to apply the log',
      () => Number(stack.psql('SELECT count(*) FROM kundhandelse')) >= published, 120000);
    check(true, 'ma-processor applied every event of the log');

    // A customer as ma-produce generated it: of the first 200 groups of
    // three cases, the one whose cases show the most of the page (a case
    // where the customer has the ball, a finished one, three cases).
    const cases = caseOrder(input);
    const candidates = new Map();
    for (let i = 0; i < cases.length && i < 600; i += 3) {
      const number = generatedPersonnummer(SEED, cases[i]);
      candidates.set(pseudonym('Personnummer', number), number);
    }
    const scored = stack.psql(`SELECT kund_pseudonym FROM arende WHERE kund_pseudonym IN
      (${[...candidates.keys()].map((p) => `'${p}'`).join(',')}) GROUP BY kund_pseudonym
      ORDER BY bool_or(customer_has_ball AND NOT finished) DESC, bool_or(finished) DESC,
      count(*) DESC, kund_pseudonym LIMIT 1`);
    check(candidates.has(scored), 'a generated customer of the log is found in the views');
    const kund = candidates.get(scored) ?? generatedPersonnummer(SEED, cases[0]);
    const kundPseudonym = pseudonym('Personnummer', kund);
    const caseCount = Number(stack.psql(`SELECT count(*) FROM arende WHERE kund_pseudonym = '${kundPseudonym}'`));
    check(caseCount >= 1 && caseCount <= 3, `the customer has the cases of one group (${caseCount})`);
    const other = testPersonnummer('19640312', 42);
    const usersPath = path.join(stack.tmp, 'users.json');
    fs.writeFileSync(usersPath, JSON.stringify([
      { id: 'sokande', namn: 'Sara Sökande', identitet: kund, beskrivning: 'Sökande i bygglovsärenden hos Exempelstads kommun' },
      { id: 'ovrig', namn: 'Olle Övrig', identitet: other, beskrivning: 'Har inga ärenden' },
    ]));

    // A broken demo users file stops ma-api with a usage error that
    // names the entry but not the number.
    const badPath = path.join(stack.tmp, 'bad-users.json');
    const badNumber = kund.slice(0, 11) + String((Number(kund[11]) + 1) % 10);
    fs.writeFileSync(badPath, JSON.stringify([{ id: 'x', namn: 'X', identitet: badNumber }]));
    const bad = spawnSync(stack.bin('api/ma-api'), ['--listen.port=0', `--ui.demo-users=${badPath}`],
      { cwd: args.repo, env: stack.env, encoding: 'utf8', timeout: 30000 });
    check(bad.status === 2 && bad.stderr.includes('[0]: identitet') && !bad.stderr.includes(badNumber),
      `ma-api rejects an invalid demo user without echoing the number (exit ${bad.status})`);

    const api = await stack.start('api', stack.bin('api/ma-api'), [
      '--listen.port=0', '--http.threads=2', `--ui.consumer=${CONSUMER}`, `--ui.demo-users=${usersPath}`,
    ], /msg=listening .*port=(\d+)/);
    const keysFile = path.join(stack.tmp, 'gateway-keys.jsonl');
    const gatewayKey = stack.run(stack.bin('producers/ma-gateway'), ['keys', 'add', '--producer', 'EXK', '--file', keysFile]).trim();
    const gateway = await stack.start('gateway', stack.bin('producers/ma-gateway'), [
      '--listen.port=0', `--keys.file=${keysFile}`, `--kafka.brokers=${stack.brokers}`, `--kafka.topic-prefix=${stack.prefix}`,
    ], /msg=listening .*port=(\d+)/);

    // A fresh profile per run; Playwright takes it as userDataDir.
    browser = await chromium.launchPersistentContext(path.join(stack.tmp, 'chromium'), {
      executablePath: args.chromium,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1100, height: 900 },
      locale: 'sv-SE',
    });
    const context = browser;
    const page = await context.newPage();
    const consoleErrors = [];
    page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
    const base = `http://127.0.0.1:${api.port}`;

    await page.goto(`${base}/`);
    check(page.url() === `${base}/mina-arenden/`, `"/" redirects to /mina-arenden/ (${page.url()})`);
    await page.getByRole('heading', { level: 1, name: 'Logga in' }).waitFor();
    check(await page.getByText('Sara Sökande').isVisible(), 'sign-in lists the demo users');
    await page.screenshot({ path: path.join(args.out, 'logga-in.png'), fullPage: true });
    check(!(await page.content()).includes(kund), 'sign-in page shows no identity number');
    const noPlaceholders = async (where) => check(
      !/\b(null|undefined|NaN)\b/.test(await page.locator('main').textContent()), `${where} shows no null or undefined`);
    await noPlaceholders('sign-in page');

    await page.getByLabel(/Sara Sökande/).check();
    await page.getByRole('button', { name: 'Logga in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Mina ärenden' }).waitFor();
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'ma_ui_session');
    check(session && session.httpOnly && session.sameSite === 'Strict', 'session cookie is HttpOnly and SameSite=Strict');
    const articles = page.locator('article.case');
    await waitFor('the cases', async () => (await articles.count()) === caseCount, 10000).catch(() => {});
    check(await articles.count() === caseCount, `page shows the customer's ${caseCount} cases (${await articles.count()})`);
    const todoCount = Number(stack.psql(`SELECT count(*) FROM arende WHERE kund_pseudonym = '${kundPseudonym}' AND customer_has_ball AND NOT finished`));
    check(await page.locator('section.cases-todo article.case').count() === todoCount,
      `"Att göra" lists the ${todoCount} cases where the customer has the ball`);

    // The first case's timeline.
    const firstToggle = page.getByRole('button', { name: /Visa händelser/ }).first();
    const expected = Number((await firstToggle.textContent()).match(/\((\d+)\)/)[1]);
    await firstToggle.click();
    await page.locator('.timeline li').first().waitFor();
    check(await page.locator('.timeline li').count() === expected, `timeline shows the case's ${expected} events`);
    await noPlaceholders('overview');

    // A new event through the gateway arrives without a reload.
    // The stream's audit row is written just before the stream starts.
    await waitFor('the live stream', () => Number(stack.psql(
      "SELECT count(*) FROM api_audit WHERE endpoint = '/mina-arenden/api/handelser' AND decision = 'allowed'")) > 0, 10000);
    const loads = await page.evaluate(() => performance.getEntriesByType('navigation').length);
    const rubrik = 'Komplettera din ansökan om bygglov (test)';
    const deadline = new Date(Date.now() + 28 * 86400000).toISOString().slice(0, 10);
    const response = await fetch(`http://127.0.0.1:${gateway.port}/kundhandelser`, {
      method: 'POST',
      headers: { 'X-API-Key': gatewayKey, 'Content-Type': 'application/json' },
      body: JSON.stringify([{
        kundhandelseId: `ui-test-${process.pid}`,
        part: { kund: { identifierare: kund, typ: 'Personnummer' }, arende: { identifierare: 'BN 2026-4711', typ: 'Diarienummer' } },
        rubrik,
        beskrivning: 'Kommunen behöver en situationsplan innan ansökan kan prövas.',
        tidpunkt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        kundhandelseTyp: 'EXK.BYGGLOV.KOMPLETTERING_BEGARD',
        producentarendetKraverKundatgard: true,
        producentarendetKlart: false,
        atgardSenast: deadline,
      }]),
    });
    check(response.status === 201, `gateway accepted the new event (${response.status})`);
    const started = Date.now();
    const card = page.locator('section.cases-todo article.case', { hasText: rubrik });
    await card.waitFor({ timeout: 30000 });
    check(true, `new event shown in "Att göra" after ${Date.now() - started} ms without reload`);
    check(await page.evaluate(() => performance.getEntriesByType('navigation').length) === loads, 'page was not reloaded');
    check(await card.locator('.tag-new').count() === 1, 'new case is marked as new');
    check((await page.locator('#meddelanden').textContent()).includes(rubrik), 'arrival announced in the aria-live region');
    check((await page.locator('section.news').textContent()).includes(rubrik), 'arrival listed under news');
    check(await articles.count() === caseCount + 1, 'page shows one more case');
    await page.screenshot({ path: path.join(args.out, 'mina-arenden.png'), fullPage: true });

    // English, and keyboard use of the language toggle.
    await page.getByRole('button', { name: 'English' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'My cases' }).waitFor();
    check(await page.evaluate(() => document.documentElement.lang) === 'en', 'English toggle sets lang="en"');
    await page.screenshot({ path: path.join(args.out, 'mina-arenden-en.png'), fullPage: true });
    check(consoleErrors.length === 0, `no console errors (${consoleErrors.join(' | ')})`);

    // Authorisation and audit as /v1.
    const rows = stack.psql(`SELECT count(*) FROM api_audit WHERE consumer_id = '${CONSUMER}' AND endpoint LIKE '/mina-arenden/api/%' AND decision = 'allowed' AND user_pseudonym = '${kundPseudonym}'`);
    check(Number(rows) >= 4, `page requests are in api_audit (${rows} rows)`);
    admin('consumer', 'deactivate', '--id', CONSUMER);
    const denied = await page.evaluate(async () => (await fetch('api/arenden')).status);
    check(denied === 403, `a deactivated page consumer is denied (${denied})`);
    admin('consumer', 'activate', '--id', CONSUMER);
    const apiLog = fs.readFileSync(api.logPath, 'utf8');
    check(!apiLog.includes(kund) && !apiLog.includes(other), 'ma-api log holds no identity number');

    // Signing out ends the stream and the session.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    const after = await page.evaluate(async () => (await fetch('api/arenden')).status);
    check(after === 401, `data requests after sign-out are 401 (${after})`);
  } finally {
    if (browser) await browser.close();
    await stack.stop();
  }
  if (failures.length) {
    console.log(`${failures.length} checks failed; logs in ${stack.tmp}`);
    process.exit(1);
  }
  fs.rmSync(stack.tmp, { recursive: true, force: true });
  console.log('all checks passed');
}

main().catch((error) => {
  console.error(`FAIL ${error.stack || error.message} (logs are kept in ${os.tmpdir()}/ma-ui-test-*)`);
  process.exit(1);
});
