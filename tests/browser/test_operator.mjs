// test_operator.mjs: an operator at the dashboard, in a real Chromium.  A
// submission the server refuses (an orbit correction without its goal's
// reference) is explained inline at the field; a good one appears as a
// lane that goes through its lifecycle to `completed`.  Then a screenshot
// of the running dashboard (1366x768, some intents in the lanes) is saved
// as build/test-artifacts/dashboard.png.

import path from 'node:path';
import {
  closeChecks, TOKENS, artifactDir, binaryArg, launch, login, run, startServer, waitFor, watch,
} from './lib.mjs';

const BIN = binaryArg();
// The spacecraft scenario at 5 Hz, started healthy (a charged battery, a
// cool spacecraft): its own orbit correction to 3 m runs first (6 ticks),
// then ours to 10 m (14 steps of 0.5 m) completes in about 3 s: the
// temperature stays below every limit and 10 m is still in bounds.
const ARGS = ['--rate', '5', '--set', 'state.battery.initial=80', '--set', 'state.temperature.initial=60'];
const TERMINAL = ['completed', 'failed', 'cancelled', 'expired', 'denied'];

/** Fill the submit form for an orbit correction (reference '' leaves it out). */
async function fillOrbit(page, reference, tolerance) {
  await page.selectOption('[data-testid="submit-type"]', 'orbit_correction');
  await page.selectOption('[data-testid="submit-goal-metric"]', 'position');
  await page.fill('[data-testid="submit-goal-reference"]', reference);
  await page.fill('[data-testid="submit-goal-tolerance"]', tolerance);
}

await run(async (R) => {
  const browser = await launch();
  const srv = await startServer(BIN, { args: ARGS });
  try {
    const origin = new URL(srv.url).origin;
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await ctx.newPage();
    const w = watch(page, origin);
    await login(page, srv.url, TOKENS.operator);
    R.check((await page.textContent('[data-testid="whoami"]')).includes('(operator)'), 'the page says who is connected (operator)');
    await page.waitForSelector('[data-testid="submit-form"]', { state: 'visible', timeout: 10000 });
    const types = await page.locator('[data-testid="submit-type"] option').allTextContents();
    R.check(['orbit_correction', 'battery_recovery', 'thermal_recovery'].every((t) => types.includes(t)),
      `the type list is the scenario's intent types (${types.join(', ')})`);

    // 3a. The server's validation error, inline.
    await fillOrbit(page, '', '0.1');
    await page.click('[data-testid="submit-button"]');
    const err = await waitFor(async () => (await page.textContent('[data-testid="submit-error"]')).trim(), 10000);
    R.check(err && err.includes('400') && err.includes('missing_field'), `the form shows the server's 400 (${JSON.stringify(err)})`);
    const fieldErr = page.locator('[data-testid="field-error"][data-field="goal.reference"]');
    const fieldText = (await fieldErr.textContent()).trim();
    R.check(fieldText.includes('goal.reference') && await fieldErr.isVisible(),
      `the error is shown at the Reference field (${JSON.stringify(fieldText)})`);
    R.check((await page.getAttribute('[data-testid="submit-goal-reference"]', 'aria-invalid')) === 'true',
      'the Reference input is marked invalid');
    R.check((await srv.api('/api/v1/intents?limit=1')).body.total_in_memory === 1, 'nothing was submitted');

    // 3b. A good submission, watched from its lane.  A MutationObserver
    // records every status the lane shows, from the moment it appears.
    await page.evaluate(() => {
      const seen = (window.__laneStatus = {});
      const execs = (window.__laneExecs = {});
      const list = document.querySelector('[data-testid="lanes"]');
      const note = () => {
        for (const li of list.querySelectorAll('[data-testid="lane"]')) {
          const id = li.dataset.intentId;
          const st = li.dataset.status;
          const s = (seen[id] = seen[id] || []);
          if (st && s[s.length - 1] !== st) s.push(st);
          const n = Number((/(\d+) exec/.exec(li.querySelector('.info').textContent) || [0, 0])[1]);
          const e = (execs[id] = execs[id] || []);
          if (e[e.length - 1] !== n) e.push(n);
        }
      };
      new MutationObserver(note).observe(list, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await fillOrbit(page, '10', '0.1');
    const t0 = Date.now();
    await page.click('[data-testid="submit-button"]');
    const result = await waitFor(async () => (await page.textContent('[data-testid="submit-result"]')).trim(), 10000);
    const id = result && (/i-\d+/.exec(result) || [])[0];
    R.check(id, `the form reports the new intent's id (${JSON.stringify(result)})`);
    R.check(!(await page.textContent('[data-testid="submit-error"]')).trim() &&
      (await page.getAttribute('[data-testid="submit-goal-reference"]', 'aria-invalid')) === null,
    'the earlier error is cleared');
    const lane = page.locator(`[data-testid="lane"][data-intent-id="${id}"]`);
    const appeared = await waitFor(async () => (await lane.count()) === 1, 5000);
    R.check(appeared, `${id} has a lane in the intents panel`);
    const done = await waitFor(async () => (await lane.getAttribute('data-status')) === 'completed', 20000);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    const statuses = await page.evaluate((i) => (window.__laneStatus[i] || []), id);
    R.check(done, `${id}'s lane reaches completed (after ${secs} s; it showed ${statuses.join(' -> ')})`);
    R.check(statuses.length >= 2 && !TERMINAL.includes(statuses[0]) && statuses[statuses.length - 1] === 'completed' &&
      statuses.slice(0, -1).every((s) => !TERMINAL.includes(s)),
    `the lane went through active states before completed (${statuses.join(' -> ')})`);
    const execs = await page.evaluate((i) => (window.__laneExecs[i] || []), id);
    R.check(execs.length >= 3 && execs[execs.length - 1] === 14 && execs.every((n, k) => !k || n > execs[k - 1]),
      `the lane's execution count climbed to 14 as it ran (${execs.join(', ')})`);
    R.check((await lane.locator('[data-testid="lane-cancel"]').count()) === 0, 'a completed lane has no cancel button');
    const rec = await srv.api(`/api/v1/intents/${id}`);
    R.check(rec.body.status === 'completed' && rec.body.actor === 'operator',
      `the server agrees: ${id} ${rec.body.status}, submitted by ${rec.body.actor}`);
    const pos = await page.textContent('[data-testid="state-field"][data-field="position"] .num');
    R.check(pos.trim() === '10', `the state panel shows the position reached (${pos} m)`);

    // 6. More intents in the lanes, one of them blocked, then the screenshot.
    await fillOrbit(page, '12', '0.1'); // one step past 10 m, then blocked by the position limit
    await page.click('[data-testid="submit-button"]');
    await page.selectOption('[data-testid="submit-type"]', 'thermal_recovery');
    await page.click('[data-testid="submit-button"]');
    const blockedLane = await waitFor(async () => page.locator('[data-testid="lane"][data-status="blocked"]').count(), 15000);
    R.check(blockedLane, 'an intent past the position limit shows as blocked');
    R.check((await page.locator('[data-testid="lane"][data-status="blocked"] [data-testid="lane-cancel"]').count()) === 1,
      'the operator gets a cancel button on the blocked lane');
    await waitFor(async () => (await page.locator('[data-testid="lane"]').count()) >= 4, 10000);
    const lanes = await page.locator('[data-testid="lane"]').count();
    R.check(lanes >= 4, `the lanes show ${lanes} intents`);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const file = path.join(artifactDir(BIN), 'dashboard.png');
    await page.screenshot({ path: file });
    R.check(true, `screenshot of the running dashboard (1366x768) saved: ${file}`);

    await closeChecks(R, { w, ctx, srv, origin, allowed: [/status of 400/], allowedWhy: "the refused submission's 400" });
  } finally {
    await browser.close().catch(() => {});
    await srv.stop();
  }
});
