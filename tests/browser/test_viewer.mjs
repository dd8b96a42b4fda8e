// test_viewer.mjs: the dashboard as a viewer sees it, in a real Chromium.
// The page loads with no console error and no request leaving the origin
// (127.0.0.1); after a viewer token every panel renders and its values
// change as ticks advance; a viewer gets no controls at all, and a
// submission or cancel forged from the page's own context is refused (403).

import {
  closeChecks, PANELS, TOKENS, binaryArg, counters, launch, login, run, sleep, startServer,
  waitFor, watch,
} from './lib.mjs';

const BIN = binaryArg();
// The spacecraft scenario at 20 Hz, started healthy (a charged battery, a
// cool spacecraft) so that its first orbit correction runs at once.
const ARGS = ['--rate', '20', '--set', 'state.battery.initial=80', '--set', 'state.temperature.initial=60'];

/** What a user reads in each panel (the trends: their canvases' pixels). */
function snapshot(page) {
  return page.evaluate((panels) => {
    const out = {};
    for (const p of panels) {
      const el = document.querySelector(`[data-panel="${p}"]`);
      if (!el) continue;
      if (p === 'trends') out[p] = [...el.querySelectorAll('canvas')].map((c) => c.toDataURL()).join('|');
      else out[p] = el.querySelector('.body').innerText;
    }
    return out;
  }, PANELS);
}

const changed = (a, b) => PANELS.filter((p) => a[p] !== b[p]);

await run(async (R) => {
  const browser = await launch();
  const srv = await startServer(BIN, { args: ARGS });
  try {
    const origin = new URL(srv.url).origin;
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await ctx.newPage();
    const w = watch(page, origin);

    // 1. The page, before any token.
    const res = await page.goto(srv.url + '/', { waitUntil: 'load' });
    R.check(res && res.status() === 200, `GET / answers 200 (${res && res.status()})`);
    await sleep(300); // module errors, if any, surface after load
    R.check(await page.isVisible('[data-testid="token-form"]'), 'the token form is shown');
    R.check(await page.isHidden('[data-testid="dashboard"]'), 'no dashboard without a token');
    R.check(w.pageErrors.length === 0, `no uncaught exception on load (${w.pageErrors.join('; ')})`);
    R.check(w.consoleErrors.length === 0, `no console error on load (${w.consoleErrors.join('; ')})`);
    R.check(w.requests >= 5 && w.foreign.length === 0,
      `the page's ${w.requests} requests all go to ${origin} (others: ${w.foreign.join(', ')})`);

    // 2. A viewer: every panel renders.
    await login(page, srv.url, TOKENS.viewer);
    R.check((await page.textContent('[data-testid="whoami"]')).includes('(viewer)'), 'the page says who is connected (viewer)');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="log-rows"] tr').length > 0, null, { timeout: 10000 });
    for (const p of PANELS) {
      const sel = `[data-panel="${p}"]`;
      const box = await page.locator(sel).boundingBox();
      const text = p === 'trends'
        ? String(await page.locator(`${sel} canvas`).count()) + ' charts'
        : (await page.locator(`${sel} .body`).innerText()).trim();
      R.check(box && box.width > 50 && box.height > 50 && text && text !== '0 charts',
        `panel ${p} is rendered (${box ? `${Math.round(box.width)}x${Math.round(box.height)}` : 'no box'}: ${JSON.stringify(text.slice(0, 60))})`);
    }
    const fields = await page.locator('[data-testid="state-field"]').count();
    R.check(fields === 3, `the state panel has a row per field (${fields})`);
    R.check((await page.locator('[data-panel="trends"] canvas').count()) === 3, 'the trends panel has a chart per number field');

    // Values change as ticks advance (no one acting).
    const c0 = await counters(page);
    const s0 = await snapshot(page);
    const seq0 = Number(await page.textContent('[data-health="seq"]'));
    await sleep(1500);
    const s1 = await snapshot(page);
    const c1 = await counters(page);
    const seq1 = Number(await page.textContent('[data-health="seq"]'));
    R.check(seq1 > seq0 + 20, `the health panel's seq advances (${seq0} -> ${seq1} in 1.5 s at 20 Hz)`);
    R.check(c1.events > c0.events && c1.renders > c0.renders, `the page counts events and renders (${c0.events} -> ${c1.events} events)`);
    const ticking = ['state', 'health', 'trends', 'intents', 'log', 'raw'];
    const moved = changed(s0, s1);
    R.check(ticking.every((p) => moved.includes(p)),
      `the ${ticking.join(', ')} panels change as ticks advance (changed: ${moved.join(', ')})`);

    // An operator (through the API) sends an orbit correction past the
    // position limit: it runs, then is blocked for good.  The viewer's
    // policy and safety panels show it.
    const sub = await srv.api('/api/v1/intents', {
      token: TOKENS.operator, method: 'POST',
      body: { type: 'orbit_correction', goal: { metric: 'position', reference: 12, tolerance: 0.1 } },
    });
    R.check(sub.status === 202, `an operator's submission is accepted (${sub.status})`);
    const id = sub.body && sub.body.id;
    const blocked = await waitFor(async () => {
      const t = await page.textContent('[data-testid="safety-body"]');
      return t.includes('BLOCKED') && t.includes('position_bounds_exceeded') ? t : null;
    }, 15000);
    R.check(blocked, `the safety panel shows the pick blocked by position_bounds_exceeded (${JSON.stringify(blocked && blocked.slice(0, 80))})`);
    const s2 = await snapshot(page);
    const moved2 = changed(s1, s2);
    R.check(PANELS.every((p) => moved2.includes(p)), `every panel changed since (changed: ${moved2.join(', ')})`);
    await sleep(1000);
    const s3 = await snapshot(page);
    R.check(s3.policy !== s2.policy, 'the policy panel follows the blocked intent\'s falling score tick by tick');
    const lane = page.locator(`[data-testid="lane"][data-intent-id="${id}"]`);
    R.check((await lane.getAttribute('data-status')) === 'blocked', `the viewer sees ${id}'s lane blocked`);

    // 4. A viewer has no controls, even with an active intent on show.
    R.check((await page.locator('[data-testid="submit-form"]').count()) === 0, 'no submit form in the DOM');
    R.check((await page.locator('[data-panel="control"]').count()) === 0, 'no control panel in the DOM');
    R.check((await page.locator('[data-testid="lane-cancel"]').count()) === 0, 'no cancel button on any lane');
    await lane.locator('[data-testid="lane-open"]').click();
    await page.waitForSelector('[data-testid="story-record"]', { timeout: 10000 });
    R.check((await page.locator('[data-testid="story-cancel"]').count()) === 0, `${id}'s story has no cancel button`);
    await page.click('[data-testid="story-close"]');

    const before = (await srv.api('/api/v1/intents?limit=1')).body.total_in_memory;
    const forged = await page.evaluate(async (intent) => {
      const t = sessionStorage.getItem('intentd.token');
      const post = (p, body) => fetch(p, {
        method: 'POST',
        headers: { Authorization: `Bearer ${t}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => null) }));
      return {
        submit: await post('/api/v1/intents', { type: 'orbit_correction', goal: { metric: 'position', reference: 5, tolerance: 0.1 } }),
        cancel: await post(`/api/v1/intents/${intent}/cancel`, { reason: 'forged' }),
      };
    }, id);
    R.check(forged.submit.status === 403, `a submission forged with the viewer's token is refused (${forged.submit.status} ${JSON.stringify(forged.submit.body)})`);
    R.check(forged.cancel.status === 403, `a cancel forged with the viewer's token is refused (${forged.cancel.status})`);
    const still = await srv.api(`/api/v1/intents/${id}`);
    R.check(still.body && still.body.status === 'blocked', `${id} is still active after the forged cancel (${still.body && still.body.status})`);
    await sleep(300); // a few ticks: an accepted intent would be in memory by now
    const after = (await srv.api('/api/v1/intents?limit=1')).body.total_in_memory;
    R.check(after === before, `no intent was created by the forged submission (${before} -> ${after} in memory)`);

    // The whole session: no exception, no console error but the two 403s
    // the forged requests earned, nothing fetched from another origin.
    await closeChecks(R, { w, ctx, srv, origin, allowed: [/status of 403/], allowedWhy: "the forged requests' 403s" });
  } finally {
    await browser.close().catch(() => {});
    await srv.stop();
  }
});
