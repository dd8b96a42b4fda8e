// test_reconnect.mjs: the dashboard rides out a server crash.  The server
// (durable, --data) is killed with SIGKILL and restarted on the same port
// and data directory; the page reconnects by itself and carries on from
// its last seq: every seq it counted, before and after the restart, comes
// exactly once and in order (window.__intentd.seen), no gap is counted,
// and seq goes on past the point of the crash.

import {
  closeChecks, TOKENS, binaryArg, counters, launch, login, run, sleep, startServer, tempDir, waitFor, watch,
} from './lib.mjs';

const BIN = binaryArg();
const ARGS = ['--rate', '20'];

/** Where a list of seqs is not consecutive: [{at, from, to}]. */
function holes(seqs) {
  const out = [];
  for (let i = 1; i < seqs.length; i++) if (seqs[i] !== seqs[i - 1] + 1) out.push({ at: i, from: seqs[i - 1], to: seqs[i] });
  return out;
}

await run(async (R) => {
  const browser = await launch();
  const dir = tempDir('intentd-browser-');
  const data = `${dir}/data`;
  let srv = await startServer(BIN, { args: [...ARGS, '--data', data], dir });
  try {
    const port = srv.port;
    const origin = new URL(srv.url).origin;
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await ctx.newPage();
    const w = watch(page, origin);
    await login(page, srv.url, TOKENS.viewer);
    await waitFor(async () => (await counters(page)).seq > 60, 10000);

    const before = await counters(page);
    await srv.kill();
    R.check(srv.exited.sig === 'SIGKILL', `the server was killed with SIGKILL at page seq ${before.seq}`);
    const down = await waitFor(async () => !(await counters(page)).connected, 10000, 50);
    R.check(down, 'the page notices the link is down');
    const killedAt = (await counters(page)).seq;
    // The page draws at most ten times a second: wait for the next frame.
    const pill = await waitFor(async () => {
      const t = await page.textContent('[data-testid="link-status"]');
      return t.startsWith('live') ? null : t;
    }, 3000);
    R.check(pill, `the link pill no longer says live (${JSON.stringify(pill)})`);
    await sleep(500);

    srv = await startServer(BIN, { args: [...ARGS, '--data', data], dir, listen: `127.0.0.1:${port}` });
    R.check(srv.port === port, `the server restarted on the same port ${port}`);
    const back = await waitFor(async () => {
      const c = await counters(page);
      return c.connected && c.seq > killedAt + 40 ? c : null;
    }, 20000);
    R.check(back, `the page reconnects and goes on past seq ${killedAt} (now ${back && back.seq})`);
    const after = await counters(page, true);
    const serverSeq = await srv.lastSeq();
    R.check(after.reconnects >= 1, `it counted the reconnection (${after.reconnects})`);
    R.check(after.gaps === 0 && after.missed === 0, `no gap counted (gaps ${after.gaps}, missed ${after.missed})`);
    const seen = after.seen;
    const h = holes(seen);
    R.check(h.length === 0, `every seq the page counted, from ${seen[0]} to ${seen[seen.length - 1]}, ` +
      `came once and in order (${seen.length} seqs; breaks: ${JSON.stringify(h.slice(0, 5))})`);
    R.check(seen.includes(killedAt) && seen.includes(killedAt + 1) && seen[seen.length - 1] > killedAt + 40,
      `the seqs run straight through the crash at ${killedAt}`);
    R.check(after.events === seen.length && after.events >= before.events,
      `the page kept its count across the restart (${before.events} -> ${after.events} events, none twice)`);
    R.check(Math.abs(serverSeq - after.seq) < 40, `the page follows the restarted server (page ${after.seq}, server ${serverSeq})`);
    const health = await waitFor(async () => {
      const n = Number(await page.textContent('[data-health="seq"]'));
      return n > killedAt + 40 ? n : null;
    }, 3000);
    R.check(health, `the health panel shows the seq going on (${health})`);
    const gapsShown = await page.textContent('[data-health="gaps"]');
    R.check(gapsShown.trim() === String(after.gaps), `the health panel shows the gaps counted (${gapsShown})`);
    if (h.length) {
      // Say whose fault a hole is: does the restarted server hold those events at all?
      const r = await srv.api(`/api/v1/events?after_seq=${h[0].from}&limit=1`);
      const first = r.body.events && r.body.events[0] ? r.body.events[0].seq : null;
      if (first !== null && first > h[0].from + 1) {
        R.note(`the restarted server itself holds nothing between ${h[0].from} and ${first} (gap ${r.body.gap}): ` +
          'the events of the last tick before the crash were never streamed, nor are they after the restart');
      } else {
        R.note(`the restarted server holds ${h[0].from + 1} (first after ${h[0].from}: ${first}): the page lost it`);
      }
    }

    // While the server is down, Chromium logs the refused connections.
    await closeChecks(R, { w, ctx, srv, origin, allowed: [/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|ERR_INCOMPLETE_CHUNKED_ENCODING/], allowedWhy: 'the refused connections while the server was down' });
  } finally {
    await browser.close().catch(() => {});
    await srv.stop();
  }
});
