// test_access.mjs: the dashboard's accessibility requirement ("keyboard
// navigable, readable contrast, usable on a laptop screen"), in a real
// Chromium, as an operator with the keyboard only.  The token goes in
// without a mouse; Tab reaches every control a user needs, each showing a
// visible focus ring (not cut off by its panel, 3:1 against what is
// behind it); an intent is filled in and submitted, its lane's button
// opens its story, Escape closes it and gives focus back.  Every visible
// text meets WCAG 2.1 AA contrast on its real background, and at 1366x768
// and 1280x720 the panels fit in the window side by side, without
// scrolling or overlap.

import {
  closeChecks, PANELS, TOKENS, binaryArg, launch, run, sleep, startServer, waitFor, watch,
} from './lib.mjs';

const BIN = binaryArg();
// As test_operator: the spacecraft scenario at 5 Hz, started healthy, so
// that an orbit correction to 10 m completes in a few seconds.
const ARGS = ['--rate', '5', '--set', 'state.battery.initial=80', '--set', 'state.temperature.initial=60'];
const MAX_TABS = 200;
const LAPTOPS = [{ width: 1366, height: 768 }, { width: 1280, height: 720 }];
const MIN_PANEL_WIDTH = 250;

// What Tab must reach (a predicate on focusInfo()'s answer, by name).
const TARGETS = {
  'trend window select': (f) => f.testid === 'trend-window',
  'lane button': (f) => f.testid === 'lane-open',
  'raw event filter': (f) => f.testid === 'raw-filter-event',
  'raw intent filter': (f) => f.testid === 'raw-filter-intent',
  'raw pause button': (f) => f.testid === 'raw-pause',
  'raw event list': (f) => f.rawRow,
  'submit type select': (f) => f.testid === 'submit-type',
  'submit button': (f) => f.testid === 'submit-button',
};

/**
 * Measuring helpers, installed in the page before its own scripts (as
 * window.__access): the focused element's description and focus ring, and
 * a WCAG contrast scan of every visible text under a root.
 */
function installAccess() {
  const parse = (s) => {
    const m = /^rgba?\(([^)]*)\)$/.exec(String(s).trim());
    if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    if (p.length < 3 || p.some((x) => !Number.isFinite(x))) return null;
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (fg, bg) => ({
    r: fg.r * fg.a + bg.r * (1 - fg.a),
    g: fg.g * fg.a + bg.g * (1 - fg.a),
    b: fg.b * fg.a + bg.b * (1 - fg.a),
    a: 1,
  });
  const lum = (c) => {
    const ch = (v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const hex = (c) => '#' + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
  const css = (c) => (c.a < 1 ? `${hex(c)}@${Number(c.a.toFixed(2))}` : hex(c));

  /** A short selector-like name: tag#id[data-testid].class "text". */
  const describe = (el) => {
    let d = el.tagName.toLowerCase();
    if (el.id) d += '#' + el.id;
    const tid = el.getAttribute('data-testid');
    if (tid) d += `[${tid}]`;
    if (el.classList.length) d += '.' + [...el.classList].join('.');
    const up = el.closest('[data-panel]');
    if (up && up !== el) d = `[${up.dataset.panel}] ` + d;
    return d;
  };

  /** The opaque colour behind el: its own and its ancestors' backgrounds,
   * blended from the first opaque one down (the page's canvas if none). */
  const background = (el) => {
    const layers = [];
    let image = null;
    for (let e = el; e; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.backgroundImage !== 'none' && !image) image = describe(e);
      const c = parse(cs.backgroundColor);
      if (c && c.a > 0) {
        layers.push(c);
        if (c.a >= 1) break;
      }
    }
    let base = { r: 255, g: 255, b: 255, a: 1 }; // the canvas when nothing is painted
    if (!layers.length || layers[layers.length - 1].a < 1) {
      const root = parse(getComputedStyle(document.documentElement).backgroundColor);
      if (root && root.a >= 1) base = root;
    }
    for (let i = layers.length - 1; i >= 0; i--) base = over(layers[i], base);
    return { color: base, image };
  };

  const opacity = (el) => {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
    return o;
  };

  const shown = (el) => {
    if (el.closest('[aria-hidden="true"], canvas')) return false;
    if (el.checkVisibility && !el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) return false;
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility !== 'visible') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };

  /** The text el shows itself, and the colour it is drawn in. */
  const ownText = (el) => {
    const cs = getComputedStyle(el);
    if (el.tagName === 'SELECT') {
      const o = el.selectedOptions[0];
      return { text: o ? o.textContent.trim() : '', color: cs.color };
    }
    if (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') {
      if (el.type === 'hidden') return { text: '' };
      if (el.value) return { text: el.type === 'password' ? '•'.repeat(el.value.length) : el.value, color: cs.color };
      return { text: (el.placeholder || '').trim(), color: getComputedStyle(el, '::placeholder').color, placeholder: true };
    }
    let text = '';
    for (const n of el.childNodes) if (n.nodeType === Node.TEXT_NODE) text += n.textContent;
    return { text: text.replace(/\s+/g, ' ').trim(), color: cs.color };
  };

  /** A focused element: who it is and how its focus shows. */
  const measureFocus = (el) => {
    const cs = getComputedStyle(el);
    const ow = parseFloat(cs.outlineWidth) || 0;
    const ring = cs.outlineStyle !== 'none' && ow > 0;
    const shadow = cs.boxShadow && cs.boxShadow !== 'none';
    // The ring is drawn outside the element, over its parent's background.
    const behind = background(el.parentElement || el).color;
    const oc = parse(cs.outlineColor);
    const lane = el.closest('[data-testid="lane"]');
    const r = el.getBoundingClientRect();
    // The sides of the ring cut off by the window or by a clipping
    // ancestor (overflow, or contain: paint), whose padding box clips.
    const grow = ring ? (parseFloat(cs.outlineOffset) || 0) + ow : 0;
    const box = { top: r.top - grow, right: r.right + grow, bottom: r.bottom + grow, left: r.left - grow };
    const clip = { top: 0, right: innerWidth, bottom: innerHeight, left: 0 };
    for (let e = el.parentElement; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.overflowX === 'visible' && s.overflowY === 'visible' && !/paint|strict|content/.test(s.contain)) continue;
      const c = e.getBoundingClientRect();
      clip.top = Math.max(clip.top, c.top + parseFloat(s.borderTopWidth));
      clip.right = Math.min(clip.right, c.right - parseFloat(s.borderRightWidth));
      clip.bottom = Math.min(clip.bottom, c.bottom - parseFloat(s.borderBottomWidth));
      clip.left = Math.max(clip.left, c.left + parseFloat(s.borderLeftWidth));
    }
    // A side is cut when it loses more than half the ring's width (less
    // is the rounding of fractional row heights to whole scroll offsets).
    const slack = Math.max(1, ow / 2);
    const cut = [];
    if (box.top < clip.top - slack) cut.push('top');
    if (box.right > clip.right + slack) cut.push('right');
    if (box.bottom > clip.bottom + slack) cut.push('bottom');
    if (box.left < clip.left - slack) cut.push('left');
    return {
      desc: describe(el),
      testid: el.getAttribute('data-testid'),
      rawRow: el.matches('li.ev-row'),
      seq: el.dataset.seq ? Number(el.dataset.seq) : null,
      intent: lane ? lane.dataset.intentId : null,
      inDialog: !!el.closest('dialog'),
      focusVisible: el.matches(':focus-visible'),
      ring,
      shadow: !!shadow,
      indicator: `${cs.outlineStyle} ${cs.outlineWidth} ${oc ? hex(oc) : cs.outlineColor}` +
        (shadow ? `, shadow ${cs.boxShadow}` : ''),
      ringRatio: ring && oc ? ratio(over(oc, behind), behind) : null,
      cut,
      onScreen: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 &&
        r.top < innerHeight && r.left < innerWidth,
    };
  };

  // Measured as focus arrives: Chromium has scrolled the element into view
  // by then (before focusin), and the live lists have not moved it since.
  let atFocus = null;
  document.addEventListener('focusin', (ev) => {
    atFocus = { el: ev.target, info: measureFocus(ev.target) };
  }, true);

  window.__access = {
    /** Contrast of every visible element with its own text under root. */
    contrast(rootSel) {
      const root = document.querySelector(rootSel) || document.body;
      const out = { checked: 0, min: null, minAt: '', offenders: [], unmeasured: [] };
      for (const el of [root, ...root.querySelectorAll('*')]) {
        if (['SCRIPT', 'STYLE', 'OPTION', 'CANVAS', 'TITLE'].includes(el.tagName)) continue;
        const t = ownText(el);
        if (!t.text || !shown(el)) continue;
        const cs = getComputedStyle(el);
        const bg = background(el);
        let fg = parse(t.color);
        if (!fg) {
          out.unmeasured.push(`${describe(el)}: colour ${t.color}`);
          continue;
        }
        fg = { ...fg, a: fg.a * opacity(el) };
        const solid = over(fg, bg.color);
        const r = ratio(solid, bg.color);
        const size = parseFloat(cs.fontSize);
        const bold = Number(cs.fontWeight) >= 700;
        const large = size >= 24 || (size >= 18.66 && bold);
        const need = large ? 3 : 4.5;
        out.checked++;
        const what = `${describe(el)}${t.placeholder ? '::placeholder' : ''} "${t.text.slice(0, 24)}" ` +
          `${css(fg)} on ${hex(bg.color)}${bg.image ? ` (image on ${bg.image})` : ''}: ` +
          `${r.toFixed(2)}:1 (${size}px${bold ? ' bold' : ''}, needs ${need})`;
        if (out.min === null || r < out.min) {
          out.min = r;
          out.minAt = what;
        }
        if (r < need) out.offenders.push(what);
        if (bg.image) out.unmeasured.push(what);
      }
      return out;
    },

    /** The focused element, as it was when the focus arrived. */
    focusInfo() {
      const el = document.activeElement;
      if (!el || el === document.body || el === document.documentElement) return { desc: '(body)', testid: null };
      return atFocus && atFocus.el === el ? atFocus.info : measureFocus(el);
    },

    /** Each panel's box, and whether the page scrolls sideways. */
    layout() {
      const se = document.scrollingElement;
      return {
        innerWidth, innerHeight,
        scrollWidth: se.scrollWidth, scrollHeight: se.scrollHeight,
        panels: [...document.querySelectorAll('[data-panel]')].map((p) => {
          const r = p.getBoundingClientRect();
          return { name: p.dataset.panel, x: r.left, y: r.top, w: r.width, h: r.height };
        }),
      };
    },
  };
}

const focusInfo = (page) => page.evaluate(() => window.__access.focusInfo());

/** Press Tab (or Shift+Tab) until pred(focusInfo) holds; the presses, or -1. */
async function tabTo(page, pred, max, back = false) {
  for (let n = 1; n <= max; n++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    if (pred(await focusInfo(page))) return n;
  }
  return -1;
}

/** "a, b x3, c": runs of the same description folded. */
function fold(list) {
  const out = [];
  for (const d of list) {
    const last = out[out.length - 1];
    if (last && last.d === d) last.n++;
    else out.push({ d, n: 1 });
  }
  return out.map((x) => (x.n > 1 ? `${x.d} x${x.n}` : x.d)).join(', ');
}

/** Pairs of panels whose boxes overlap (by more than rounding). */
function overlaps(panels) {
  const out = [];
  for (let i = 0; i < panels.length; i++) {
    for (let j = i + 1; j < panels.length; j++) {
      const a = panels[i];
      const b = panels[j];
      const ox = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
      const oy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
      if (ox > 0.5 && oy > 0.5) out.push(`${a.name}/${b.name} (${Math.round(ox)}x${Math.round(oy)})`);
    }
  }
  return out;
}

const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

/** The toast fully in or out (not mid-transition), so its opacity is real. */
const toastSettled = (page) => waitFor(() => page.evaluate(() => {
  const o = getComputedStyle(document.querySelector('[data-testid="toast"]')).opacity;
  return o === '0' || o === '1';
}), 3000, 50);

function contrastCheck(R, res, where) {
  R.check(res.checked > 0 && res.offenders.length === 0,
    `${where}: ${res.checked - res.offenders.length} of ${res.checked} visible texts meet WCAG AA contrast (lowest ${res.min && res.min.toFixed(2)}:1 at ${res.minAt})` +
    (res.offenders.length ? `; ${res.offenders.length} below: ${res.offenders.join(' | ')}` : ''));
  if (res.unmeasured.length) R.note(`${where}: not measurable (colour format or background image): ${res.unmeasured.join(' | ')}`);
}

await run(async (R) => {
  const browser = await launch();
  const srv = await startServer(BIN, { args: ARGS });
  try {
    const origin = new URL(srv.url).origin;
    const ctx = await browser.newContext({ viewport: LAPTOPS[0] });
    await ctx.addInitScript(installAccess);
    const page = await ctx.newPage();
    const w = watch(page, origin);

    // 1. The token, with the keyboard only.
    await page.goto(srv.url + '/', { waitUntil: 'load' });
    const atToken = (f) => f.testid === 'token-input';
    const autofocus = await waitFor(async () => atToken(await focusInfo(page)), 2000, 50);
    const tabs = autofocus ? 0 : await tabTo(page, atToken, 20);
    R.check(autofocus || tabs > 0,
      `the token input has the focus on a fresh page (${autofocus ? 'at once' : `after ${tabs} Tab presses`})`);
    contrastCheck(R, await page.evaluate(() => window.__access.contrast('body')), 'the token page');
    await page.keyboard.type(TOKENS.operator);
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid="dashboard"]', { state: 'visible', timeout: 15000 });
    await page.waitForFunction(() => window.__intentd && window.__intentd.connected, null, { timeout: 15000 });
    R.check((await page.textContent('[data-testid="whoami"]')).includes('(operator)'),
      'typing the token and pressing Enter connects as the operator');
    // The scenario's own orbit correction gives the lanes a button to reach.
    R.check(await waitFor(async () => (await page.locator('[data-testid="lane-open"]').count()) > 0, 10000),
      'an intent is in the lanes');

    // Tab from where the token form left the focus, noting every stop.
    const order = [];
    const found = {};
    const noRing = [];
    const weakRing = [];
    const offScreen = [];
    const cutRing = [];
    let minRing = Infinity;
    let sample = '';
    for (let n = 1; n <= MAX_TABS && Object.keys(found).length < Object.keys(TARGETS).length; n++) {
      await page.keyboard.press('Tab');
      const f = await focusInfo(page);
      order.push(f.desc);
      if (f.testid === null && f.desc === '(body)') continue;
      sample = sample || `${f.desc}: ${f.indicator}`;
      for (const [name, pred] of Object.entries(TARGETS)) if (!found[name] && pred(f)) found[name] = n;
      if (!f.focusVisible || !(f.ring || f.shadow)) noRing.push(`${f.desc} (focus-visible ${f.focusVisible}, ${f.indicator})`);
      if (f.ringRatio !== null) {
        minRing = Math.min(minRing, f.ringRatio);
        if (f.ringRatio < 3) weakRing.push(`${f.desc} ${f.indicator}: ${f.ringRatio.toFixed(2)}:1`);
      }
      if (!f.onScreen) offScreen.push(f.desc);
      if (f.cut.length) cutRing.push(`${f.desc} (${f.cut.join(', ')})`);
    }
    R.note(`focus order (${order.length} Tab presses): ${fold(order)}`);
    for (const name of Object.keys(TARGETS)) {
      R.check(found[name], `Tab reaches the ${name} (${found[name] ? `press ${found[name]}` : `not in ${order.length} presses`})`);
    }
    // 2. Each stop's focus indicator, as it was when the focus arrived.
    const stops = order.filter((d) => d !== '(body)').length;
    R.check(stops > 0 && noRing.length === 0,
      `each of the ${stops} Tab stops shows a focus indicator under :focus-visible (${noRing.length ? 'without: ' + noRing.join('; ') : 'e.g. ' + sample})`);
    R.check(minRing !== Infinity && weakRing.length === 0,
      `the focus rings contrast at least 3:1 with what is behind them (lowest ${minRing.toFixed(2)}:1${weakRing.length ? '; below: ' + weakRing.join('; ') : ''})`);
    R.check(cutRing.length === 0,
      `no focus ring is cut off by its panel or the window (${cutRing.length ? 'cut: ' + fold(cutRing) : 'none'})`);
    R.check(offScreen.length === 0, `every focused element is scrolled into view (${offScreen.length ? 'not: ' + offScreen.join(', ') : 'all'})`);
    // The raw list is one Tab stop, however many rows it shows; the arrow
    // keys, Home and End move between its rows and Enter opens one.
    const rawStops = order.filter((d) => /ev-row|raw row/.test(d)).length;
    R.check(found['raw event list'] && rawStops === 1,
      `the raw event list is a single Tab stop (${rawStops} of the ${order.length} presses landed on a row)`);
    await page.click('[data-testid="raw-pause"]'); // hold the rows still
    const onRow = await tabTo(page, (f) => f.rawRow, 60, true);
    const r0 = await focusInfo(page);
    await page.keyboard.press('ArrowDown');
    const r1 = await focusInfo(page);
    await page.keyboard.press('End');
    const r2 = await focusInfo(page);
    await page.keyboard.press('Home');
    const r3 = await focusInfo(page);
    await page.keyboard.press('Enter');
    // (focusInfo is what the element was as the focus arrived: ask now.)
    const r4 = await page.evaluate(() => ({ expanded: document.activeElement.getAttribute('aria-expanded') }));
    R.check(onRow > 0 && r1.rawRow && r1.seq < r0.seq && r2.rawRow && r2.seq < r1.seq && r3.seq === r0.seq &&
      r4.expanded === 'true',
      `arrow keys move through the raw rows (seq ${r0.seq} -> ArrowDown ${r1.seq} -> End ${r2.seq} -> Home ${r3.seq}), ` +
      `Enter opens one (aria-expanded ${r4.expanded})`);
    await page.keyboard.press('Enter');
    await page.click('[data-testid="raw-pause"]');

    // 3. An orbit correction, filled in and sent with the keyboard only.
    const back = await tabTo(page, (f) => f.testid === 'submit-type', 40, true);
    R.check(back > 0, `Shift+Tab goes back to the type select (${back} presses)`);
    await page.keyboard.type('orbit');
    await page.keyboard.press('Tab');
    await page.keyboard.type('position');
    await page.keyboard.press('Tab');
    await page.keyboard.type('10');
    await page.keyboard.press('Tab');
    await page.keyboard.type('0.1');
    const form = await page.evaluate(() => {
      const v = (t) => document.querySelector(`[data-testid="${t}"]`).value;
      return { type: v('submit-type'), metric: v('submit-goal-metric'), ref: v('submit-goal-reference'), tol: v('submit-goal-tolerance') };
    });
    R.check(form.type === 'orbit_correction' && form.metric === 'position' && form.ref === '10' && form.tol === '0.1',
      `the form holds what was typed (${JSON.stringify(form)})`);
    const toButton = await tabTo(page, (f) => f.testid === 'submit-button', 10);
    R.check(toButton > 0, `Tab goes on to the submit button (${toButton} presses)`);
    await page.keyboard.press('Enter');
    const result = await waitFor(async () => (await page.textContent('[data-testid="submit-result"]')).trim(), 10000);
    const id = result && (/i-\d+/.exec(result) || [])[0];
    const seen = await page.evaluate(() => {
      // Is the message where a user can read it: within its scrolled
      // panel and the window, or in the toast?
      const vis = (el) => {
        const r = el.getBoundingClientRect();
        if (!r.width || !r.height) return false;
        let top = 0;
        let bottom = innerHeight;
        for (let e = el.parentElement; e; e = e.parentElement) {
          if (getComputedStyle(e).overflowY === 'visible') continue;
          const c = e.getBoundingClientRect();
          top = Math.max(top, c.top);
          bottom = Math.min(bottom, c.bottom);
        }
        return r.top >= top - 1 && r.bottom <= bottom + 1;
      };
      const res = document.querySelector('[data-testid="submit-result"]');
      const toast = document.querySelector('[data-testid="toast"]');
      return {
        inForm: vis(res),
        inToast: toast.classList.contains('show') && toast.textContent === res.textContent,
      };
    });
    // The form brings its answer into its panel's view (the toast goes
    // after a few seconds, and must not be the only place to read it).
    R.check(id && seen.inForm,
      `the result shows in the form's view (${JSON.stringify(result)}; in the form's view: ${seen.inForm}, in the toast: ${seen.inToast})`);
    const overlap = await page.evaluate(() => {
      const a = document.querySelector('[data-testid="toast"]').getBoundingClientRect();
      const b = document.querySelector('[data-testid="submit-button"]').getBoundingClientRect();
      return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    });
    R.check(!overlap, 'the toast does not cover the submit button');
    const laneSel = `[data-testid="lane"][data-intent-id="${id}"]`;
    await waitFor(async () => (await page.locator(laneSel).count()) === 1, 5000);
    const toLane = await tabTo(page, (f) => f.testid === 'lane-open' && f.intent === id, 60);
    R.check(toLane > 0, `Tab reaches ${id}'s lane button (${toLane} presses on from the submit button)`);
    await page.keyboard.press('Enter');
    const dialog = page.locator('[data-testid="story-dialog"]');
    const opened = await waitFor(async () => dialog.evaluate((d) => d.open), 5000, 50);
    await page.waitForSelector('[data-testid="story-record"]', { timeout: 10000 }).catch(() => null);
    const story = await page.evaluate(() => ({
      title: document.querySelector('#story-title').textContent,
      status: (document.querySelector('[data-testid="story-record"]') || { dataset: {} }).dataset.status,
      history: document.querySelectorAll('[data-testid="story-history"] tbody tr').length,
    }));
    R.check(opened && story.title.includes(id) && story.status && story.history > 0,
      `Enter on the lane button opens ${id}'s story (${JSON.stringify(story)})`);
    const inside = await focusInfo(page);
    R.check(inside.inDialog, `the focus moves into the story dialog (${inside.desc})`);
    contrastCheck(R, await page.evaluate(() => window.__access.contrast('[data-testid="story-dialog"]')), 'the story dialog');
    await page.keyboard.press('Escape');
    const closed = await waitFor(async () => !(await dialog.evaluate((d) => d.open)), 3000, 50);
    const after = await focusInfo(page);
    R.check(closed, 'Escape closes the story');
    R.check(after.testid === 'lane-open' && after.intent === id,
      `the focus returns to ${id}'s lane button (${after.desc}${after.intent ? ' of ' + after.intent : ''})`);

    // 4. Contrast of the running dashboard: some ticks on, our intent
    // through its lifecycle, the story closed, the toast gone or fully in.
    await waitFor(async () => (await page.getAttribute(laneSel, 'data-status')) === 'completed', 20000);
    await toastSettled(page);
    await frames(page);
    contrastCheck(R, await page.evaluate(() => window.__access.contrast('body')), 'the running dashboard');

    // 5. Laptop screens.
    for (const vp of LAPTOPS) {
      await page.setViewportSize(vp);
      await frames(page);
      await sleep(300); // the charts follow the new size
      const L = await page.evaluate(() => window.__access.layout());
      const size = `${vp.width}x${vp.height}`;
      R.check(L.scrollWidth <= L.innerWidth,
        `${size}: no horizontal scrolling (scrollWidth ${L.scrollWidth}, innerWidth ${L.innerWidth})`);
      const boxes = L.panels.map((p) => `${p.name} ${Math.round(p.w)}x${Math.round(p.h)}`).join(', ');
      const small = L.panels.filter((p) => p.w < MIN_PANEL_WIDTH || !(p.h > 0));
      const names = L.panels.map((p) => p.name);
      R.check([...PANELS, 'control'].every((p) => names.includes(p)) && small.length === 0,
        `${size}: all ${L.panels.length} panels at least ${MIN_PANEL_WIDTH} px wide and not flat (${boxes})` +
        (small.length ? `; too small: ${small.map((p) => p.name).join(', ')}` : ''));
      const ov = overlaps(L.panels);
      R.check(ov.length === 0, `${size}: no two panels overlap (${ov.length ? ov.join(', ') : 'none'})`);
      const below = L.panels.filter((p) => p.y + p.h > L.innerHeight + 0.5);
      R.check(below.length === 0,
        `${size}: every panel is within the window, no page scrolling needed (scrollHeight ${L.scrollHeight}, ` +
        `innerHeight ${L.innerHeight}${below.length ? '; below the fold: ' + below.map((p) => `${p.name} to ${Math.round(p.y + p.h)}`).join(', ') : ''})`);
    }

    await closeChecks(R, { w, ctx, srv, origin });
  } finally {
    await browser.close().catch(() => {});
    await srv.stop();
  }
}, { budgetMs: 60000 });
