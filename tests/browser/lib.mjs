// lib.mjs: what the browser tests of the dashboard share.  Each test is a
// Node script given the intentd binary's path; it starts its own
// `intentd serve` on 127.0.0.1 (port 0, a private temp dir, tokens from
// the environment), drives Debian's /usr/bin/chromium headless through
// playwright-core (never a downloaded browser), prints "ok - ..." or
// "FAIL - ..." per check and "N passed, M failed", and exits 1 on a
// failure.  It exits 77 (CTest's SKIP_RETURN_CODE) when Chromium or
// node_modules/playwright-core is missing, saying which.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
export const CHROMIUM = '/usr/bin/chromium';
export const SKIP = 77;

export const TOKENS = {
  admin: 'admin-token-0123456789abcdef',
  operator: 'operator-token-0123456789abcdef',
  viewer: 'viewer-token-0123456789abcdef',
};
export const TOKEN_ENV = {
  INTENTD_ADMIN_TOKEN: TOKENS.admin,
  INTENTD_OPERATOR_TOKEN: TOKENS.operator,
  INTENTD_VIEWER_TOKEN: TOKENS.viewer,
};

/** The 8 panels every role sees (index.html's data-panel values). */
export const PANELS = ['state', 'policy', 'safety', 'trends', 'intents', 'log', 'raw', 'health'];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The binary from argv[2], or a usage error (exit 2). */
export function binaryArg() {
  const bin = process.argv[2];
  if (!bin || !fs.existsSync(bin)) {
    console.error(`usage: node ${path.basename(process.argv[1])} PATH/TO/intentd (got ${bin})`);
    process.exit(2);
  }
  return path.resolve(bin);
}

/** Where test artifacts go: test-artifacts/ beside the binary (build/). */
export function artifactDir(bin) {
  const dir = path.join(path.dirname(bin), 'test-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

// --------------------------------------------------------------- results

/** Counts checks; finish() prints the closing line and exits. */
export class Results {
  constructor() {
    this.passed = 0;
    this.failed = 0;
  }

  check(cond, what) {
    if (cond) {
      this.passed++;
      console.log(`ok   - ${what}`);
    } else {
      this.failed++;
      console.log(`FAIL - ${what}`);
    }
    return !!cond;
  }

  note(what) {
    console.log(`#      ${what}`);
  }

  finish() {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    process.exitCode = this.failed ? 1 : 0;
  }
}

// --------------------------------------------------------------- servers

const live = new Set(); // servers to kill if the script dies

process.on('exit', () => {
  for (const s of live) {
    try {
      s.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => process.exit(1));
}

/** A private temp dir, removed at exit. */
export function tempDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/**
 * Start `intentd serve` and wait for "intentd: listening on URL" on its
 * stderr.  opts: args (more options), listen (default 127.0.0.1:0), dir
 * (its working directory), env (added to the tokens), nice (run it with
 * this nice value).  Resolves to a Server; rejects when it exits or does
 * not listen within 20 s.
 */
export function startServer(bin, { args = [], listen = '127.0.0.1:0', dir, env = {}, nice = 0 } = {}) {
  const cwd = dir || tempDir('intentd-browser-');
  let argv = ['serve', '--listen', listen, '--quiet', '--telemetry', 'off', ...args];
  let exe = bin;
  if (nice) {
    argv = ['-n', String(nice), bin, ...argv];
    exe = 'nice';
  }
  const proc = spawn(exe, argv, {
    cwd,
    env: { ...process.env, ...TOKEN_ENV, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const srv = new Server(proc, cwd);
  live.add(srv);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      srv.kill();
      reject(new Error(`serve did not listen within 20 s: ${srv.stderr}`));
    }, 20000);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      srv.stderr += chunk;
      const m = /intentd: listening on (\S+)/.exec(srv.stderr);
      if (m && !srv.url) {
        srv.url = m[1];
        srv.port = Number(new URL(srv.url).port);
        clearTimeout(timer);
        resolve(srv);
      }
    });
    proc.on('exit', (code, sig) => {
      srv.exited = { code, sig };
      live.delete(srv);
      if (!srv.url) {
        clearTimeout(timer);
        reject(new Error(`serve exited (${code ?? sig}) before listening: ${srv.stderr}`));
      }
    });
  });
}

export class Server {
  constructor(proc, dir) {
    this.proc = proc;
    this.dir = dir;
    this.stderr = '';
    this.url = null;
    this.port = 0;
    this.exited = null;
  }

  /** Resolves once the process has exited. */
  waitExit() {
    if (this.exited) return Promise.resolve(this.exited);
    return new Promise((r) => this.proc.once('exit', (code, sig) => r({ code, sig })));
  }

  /** SIGKILL, and wait for the exit. */
  async kill() {
    if (!this.exited) this.proc.kill('SIGKILL');
    return this.waitExit();
  }

  /** SIGTERM, then SIGKILL after 10 s; resolves with the exit. */
  async stop() {
    if (this.exited) return this.exited;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
    const r = await this.waitExit();
    clearTimeout(t);
    return r;
  }

  /** A JSON request from the test (not the page): {status, body}. */
  async api(pathname, { token = TOKENS.viewer, method = 'GET', body } = {}) {
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(this.url + pathname, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed };
  }

  /** The newest seq the server holds. */
  async lastSeq() {
    const r = await this.api('/api/v1/events?limit=1');
    return r.body.last_seq || 0;
  }
}

// --------------------------------------------------------------- browser

/**
 * playwright-core's chromium, or exit 77 with the reason when Chromium or
 * node_modules/playwright-core is missing.
 */
export async function loadChromium() {
  if (!fs.existsSync(CHROMIUM)) {
    console.log(`skipped: ${CHROMIUM} is not installed (apt-get install chromium)`);
    process.exit(SKIP);
  }
  if (!fs.existsSync(path.join(ROOT, 'node_modules', 'playwright-core', 'package.json'))) {
    console.log(`skipped: ${ROOT}/node_modules/playwright-core is missing (run \`npm ci\` at the top level)`);
    process.exit(SKIP);
  }
  const pw = await import('playwright-core');
  return pw.chromium;
}

/** Debian's Chromium, headless.  Never a downloaded browser. */
export async function launch() {
  const chromium = await loadChromium();
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

/**
 * Watch a page: console errors, uncaught exceptions, and every request
 * (which must all go to `origin`, on 127.0.0.1).
 */
export function watch(page, origin) {
  const w = { consoleErrors: [], pageErrors: [], requests: 0, foreign: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') w.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => w.pageErrors.push(String((e && e.stack) || e)));
  page.on('request', (r) => {
    w.requests++;
    let u = null;
    try {
      u = new URL(r.url());
    } catch {
      // unparsable: foreign
    }
    if (!u || u.hostname !== '127.0.0.1' || u.origin !== origin) w.foreign.push(r.url());
  });
  return w;
}

/** Console errors other than those matching one of the `allowed` patterns. */
export function unexpectedErrors(w, allowed = []) {
  return w.consoleErrors.filter((t) => !allowed.some((re) => re.test(t)));
}

/**
 * The checks every test ends with: no uncaught exception, no console error
 * but those `allowed` (why: `allowedWhy`), no request to another origin;
 * then close the page's context and stop the server, which must exit 0.
 */
export async function closeChecks(R, { w, ctx, srv, origin, allowed = [], allowedWhy = '' }) {
  R.check(w.pageErrors.length === 0, `no uncaught exception (${w.pageErrors.join('; ')})`);
  const errs = unexpectedErrors(w, allowed);
  R.check(errs.length === 0,
    `no console error${allowedWhy ? ' but ' + allowedWhy : ''} (${errs.join('; ')})`);
  R.check(w.foreign.length === 0,
    `all ${w.requests} requests went to ${origin} (others: ${w.foreign.join(', ')})`);
  await ctx.close();
  const ex = await srv.stop();
  R.check(ex.code === 0, `the server stops cleanly on SIGTERM (exit ${ex.code ?? ex.sig})`);
}

/** Poll fn (async) until it returns a truthy value or `ms` pass; returns it or null. */
export async function waitFor(fn, ms, every = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= end) return null;
    await sleep(every);
  }
}

/** window.__intentd, copied (without the seen list unless asked). */
export async function counters(page, withSeen = false) {
  return page.evaluate((ws) => {
    const I = window.__intentd || {};
    const c = { ...I };
    if (ws) c.seen = (I.seen || []).slice();
    else delete c.seen;
    c.seenLength = (I.seen || []).length;
    return c;
  }, withSeen);
}

/** Open the page and connect with `token`; resolves once the stream is live. */
export async function login(page, url, token) {
  await page.goto(url + '/', { waitUntil: 'load' });
  await page.fill('[data-testid="token-input"]', token);
  await page.click('[data-testid="token-submit"]');
  await page.waitForSelector('[data-testid="dashboard"]', { state: 'visible', timeout: 15000 });
  await page.waitForFunction(() => window.__intentd && window.__intentd.connected, null, { timeout: 15000 });
}

/** Run main(R) with a watchdog; always finish() (and let the caller's finally clean up). */
export async function run(main, { budgetMs = 150000 } = {}) {
  const R = new Results();
  const dog = setTimeout(() => {
    R.check(false, `the test finished within ${budgetMs / 1000} s`);
    R.finish();
    process.exit(1);
  }, budgetMs);
  try {
    await main(R);
  } catch (e) {
    R.check(false, `no unexpected exception: ${(e && e.stack) || e}`);
  } finally {
    clearTimeout(dog);
  }
  R.finish();
}
