// panels.js: the state, policy, safety, health, cycle log and raw event
// panels.  Each render function draws from the model; the log and the raw
// list only add what is new, so rows keep their focus and open details.

import { h, clear, setText, fmtNum, fmtValue, fmtClock, normId, takeHeavy } from './util.js';
import { RAW_MAX } from './model.js';

const $ = (sel) => document.querySelector(sel);

/** 'alarm', 'warn' or 'ok' for a number against its field's thresholds
 * (*_low: bad below, *_high: bad above; docs/scenario-format.md). */
export function level(f, v) {
  if (!f || typeof v !== 'number') return 'ok';
  if ((f.alarm_high !== undefined && v > f.alarm_high) || (f.alarm_low !== undefined && v < f.alarm_low)) return 'alarm';
  if ((f.warn_high !== undefined && v > f.warn_high) || (f.warn_low !== undefined && v < f.warn_low)) return 'warn';
  return 'ok';
}

function limitsText(f) {
  const parts = [];
  if (f.min !== undefined || f.max !== undefined) parts.push(`range ${fmtNum(f.min)}..${fmtNum(f.max)}`);
  if (f.warn_low !== undefined) parts.push(`warn < ${fmtNum(f.warn_low)}`);
  if (f.warn_high !== undefined) parts.push(`warn > ${fmtNum(f.warn_high)}`);
  if (f.alarm_low !== undefined) parts.push(`alarm < ${fmtNum(f.alarm_low)}`);
  if (f.alarm_high !== undefined) parts.push(`alarm > ${fmtNum(f.alarm_high)}`);
  return parts.join(', ');
}

/** A stable colour slot for a mode (its position among the scenario's modes). */
export function modeClass(model, mode) {
  const modes = (model.scenario && model.scenario.modes) || [];
  const i = modes.indexOf(mode);
  return 'badge mode mode-' + (i < 0 ? 'x' : i % 6);
}

// ------------------------------------------------------------- header

export function renderHeader(model) {
  const sc = model.scenario;
  setText($('[data-testid="scenario-name"]'), sc ? `${sc.name} · ${fmtNum(model.rateHz)} Hz` : '');
  const badge = $('[data-testid="mode-badge"]');
  badge.hidden = !model.mode;
  setText(badge, model.mode || '');
  badge.className = modeClass(model, model.mode);
  setText($('[data-testid="tick"]'), model.tick ? `tick ${model.tick}` : '');
  $('[data-testid="paused"]').hidden = !model.paused;
}

// -------------------------------------------------------------- state

let stateRows = null; // field -> {tr, value, tag}

export function renderState(model, rebuild) {
  const body = $('[data-testid="state-rows"]');
  if (rebuild || !stateRows) {
    clear(body);
    stateRows = new Map();
    const modeTr = h('tr', { 'data-field': 'mode' },
      h('th', { scope: 'row', text: 'mode' }),
      h('td', { class: 'val' }, h('span', { class: 'badge mode', 'data-testid': 'state-mode' })),
      h('td', { class: 'unit' }), h('td', { class: 'lvl' }));
    body.append(modeTr);
    stateRows.set('mode', { tr: modeTr, badge: modeTr.querySelector('.badge') });
    for (const f of model.fields) {
      const value = h('span', { class: 'num' });
      const tag = h('span', { class: 'tag' });
      const tr = h('tr', { 'data-field': f.name, 'data-testid': 'state-field', title: [f.description, limitsText(f)].filter(Boolean).join(' — ') || null },
        h('th', { scope: 'row', text: f.name }),
        h('td', { class: 'val' }, value),
        h('td', { class: 'unit', text: f.unit || '' }),
        h('td', { class: 'lvl' }, tag));
      body.append(tr);
      stateRows.set(f.name, { tr, value, tag, f });
    }
  }
  const m = stateRows.get('mode');
  setText(m.badge, model.mode || '–');
  m.badge.className = modeClass(model, model.mode);
  for (const [name, row] of stateRows) {
    if (name === 'mode') continue;
    const v = model.values[name];
    setText(row.value, fmtValue(v));
    const lv = level(row.f, v);
    if (row.tr.dataset.level !== lv) {
      row.tr.dataset.level = lv;
      setText(row.tag, lv === 'ok' ? '' : lv);
    }
  }
}

// ------------------------------------------------------------- policy

function intentLabel(model, id) {
  if (!id) return '–';
  const lane = model.lanes.get(id);
  return lane && lane.type ? `${id} (${lane.type})` : id;
}

export function renderPolicy(model) {
  const body = $('[data-testid="policy-body"]');
  const f = model.frame || {};
  const pol = f.policy || {};
  const ex = f.execution || {};
  clear(body);
  const flags = h('span', { class: 'flags' },
    ex.override_applied ? h('span', { class: 'badge warn', text: 'override' }) : null,
    ex.lock_applied ? h('span', { class: 'badge info', text: 'lock' }) : null);
  body.append(h('dl', { class: 'kv' },
    h('dt', { text: 'Selected' }), h('dd', { 'data-testid': 'policy-selected', text: intentLabel(model, pol.selected_intent_id) }),
    h('dt', { text: 'Executed' }), h('dd', { 'data-testid': 'policy-executed' }, intentLabel(model, ex.executed_intent_id), ' ', flags),
    h('dt', { text: 'Override' }), h('dd', { 'data-testid': 'policy-override', text: ex.override_applied ? 'yes: a critical domain forced its recovery' : 'no' }),
    h('dt', { text: 'Lock' }), h('dd', { 'data-testid': 'policy-lock', text: ex.lock_applied ? 'yes: the recovery lock kept the slot' : 'no' })));
  const scores = Object.entries(pol.scores || {}).sort((a, b) => b[1] - a[1]);
  if (!scores.length) {
    body.append(h('p', { class: 'muted', text: 'No candidates.' }));
    return;
  }
  const top = Math.max(...scores.map((s) => Math.abs(s[1])), 1e-9);
  const list = h('ol', { class: 'scores', 'data-testid': 'policy-scores' });
  for (const [id, sc] of scores.slice(0, 12)) {
    const bar = h('span', { class: 'bar' + (sc < 0 ? ' neg' : '') });
    bar.style.width = `${Math.max(1, (Math.abs(sc) / top) * 100)}%`;
    list.append(h('li', { class: id === pol.selected_intent_id ? 'sel' : null },
      h('span', { class: 'id', text: intentLabel(model, id) }),
      h('span', { class: 'track' }, bar),
      h('span', { class: 'score', text: fmtNum(sc, 2) })));
  }
  body.append(h('h3', { text: 'Scores' }), list);
  if (scores.length > 12) body.append(h('p', { class: 'muted', text: `and ${scores.length - 12} more` }));
}

// ------------------------------------------------------------- safety

export function renderSafety(model) {
  const body = $('[data-testid="safety-body"]');
  const sf = (model.frame && model.frame.safety) || {};
  const rules = (model.scenario && model.scenario.safety) || [];
  const rule = rules.find((r) => r.id === sf.reason);
  clear(body);
  body.append(h('p', { class: 'verdict' },
    h('span', { class: 'badge ' + (sf.blocked ? 'alarm' : 'ok'), 'data-testid': 'safety-blocked', text: sf.blocked ? 'BLOCKED' : 'clear' }),
    sf.blocked ? h('span', { text: ' ' + intentLabel(model, sf.blocked_intent_id) }) : null));
  const dl = h('dl', { class: 'kv' });
  if (sf.blocked || sf.reason) {
    dl.append(h('dt', { text: 'Rule' }), h('dd', { 'data-testid': 'safety-reason', text: sf.reason || '–' }));
    if (rule && rule.message) dl.append(h('dt', { text: 'Means' }), h('dd', { text: rule.message }));
    dl.append(h('dt', { text: 'Because' }), h('dd', { class: 'mono', 'data-testid': 'safety-explain', text: sf.explain || '–' }));
  }
  const crit = new Set(sf.critical_domains || []);
  const domains = (model.scenario && model.scenario.domains) || [...crit];
  const chips = h('span', { class: 'chips', 'data-testid': 'safety-critical' });
  for (const d of domains)
    chips.append(h('span', { class: 'chip ' + (crit.has(d) ? 'alarm' : 'ok'), text: crit.has(d) ? `${d}: critical` : d }));
  if (!domains.length) chips.append(h('span', { class: 'muted', text: 'none declared' }));
  dl.append(h('dt', { text: 'Domains' }), h('dd', {}, chips));
  body.append(dl);
}

// ------------------------------------------------------------- health

export function renderHealth(model, link) {
  const set = (k, v, cls) => {
    const el = document.querySelector(`[data-health="${k}"]`);
    setText(el, v);
    if (cls !== undefined && el.dataset.level !== cls) el.dataset.level = cls;
  };
  let linkText = link.state;
  if (link.state === 'connected') linkText = 'connected';
  else if (link.state === 'disconnected' && link.retryAt) {
    const s = Math.max(0, Math.ceil((link.retryAt - Date.now()) / 1000));
    linkText = `disconnected (${link.reason}); retry in ${s} s`;
  }
  set('connected', linkText, link.state === 'connected' ? 'ok' : 'alarm');
  set('seq', model.seq);
  set('events', model.events);
  if (model.newestTs) {
    const lag = Date.now() - model.newestTs;
    const period = model.rateHz > 0 ? 1000 / model.rateHz : 1000;
    set('lag', `${Math.round(lag)} ms`, lag > 3 * period + 2000 ? 'warn' : 'ok');
  } else set('lag', '–', 'ok');
  set('gaps', model.gaps, model.gaps ? 'warn' : 'ok');
  set('missed', model.missed, model.missed ? 'warn' : 'ok');
  set('dropped', model.dropped, model.dropped ? 'warn' : 'ok');
  const r = model.tickRate();
  set('tick_rate', r === null ? '–' : `${fmtNum(r, 2)}/s`,
    r !== null && model.rateHz && !model.paused && r < model.rateHz * 0.8 ? 'warn' : 'ok');
  set('slips', model.slips, model.slips ? 'warn' : 'ok');
  const rateEl = document.querySelector('[data-health="tick_rate"]');
  const rateTitle = `measured over the last seconds; configured ${fmtNum(model.rateHz)} Hz`;
  if (rateEl.title !== rateTitle) rateEl.title = rateTitle;
  const slipEl = document.querySelector('[data-health="slips"]');
  const slipTitle = model.lastSlipMs !== null ? `the last one ${fmtNum(model.lastSlipMs)} ms late` : '';
  if (slipEl.title !== slipTitle) slipEl.title = slipTitle;
  set('reconnects', link.reconnects);
  const pill = $('[data-testid="link-status"]');
  pill.dataset.state = link.state;
  setText(pill, link.state === 'connected' ? `live · seq ${model.seq}` : link.state);
}

// ---------------------------------------------------------- cycle log

const LOG_ROWS = 120;
// A list that gets more than BURST rows at once redraws at most every
// BURST_MS: at hundreds of events a second nobody reads each frame, and
// building rows is most of the page's work.
const BURST = 50;
const BURST_MS = 250;
// A burst redraw shows only the newest BURST_ROWS rows (more than a panel
// shows), replacing the list: laying out a hundred fresh rows four times a
// second blocks the page for longer than a frame, and nobody scrolls a list
// that is replaced that often.  The list fills up again when it slows down.
const BURST_ROWS = 30;
let logShown = 0;
let logDrawn = 0;

function verdictCell(model, r) {
  if (r.blocked) {
    const t = `blocked by ${r.rule || '?'}`;
    return h('td', { class: 'v-blocked', title: `${r.blockedId || ''} ${t}${r.explain ? ': ' + r.explain : ''}` }, t);
  }
  if (r.executed) {
    const how = r.override ? ' (override)' : r.lock ? ' (lock)' : '';
    const t = (r.executed === r.pick ? 'ran' : `ran ${r.executed}`) + how;
    return h('td', { class: 'v-ok', title: `${intentLabel(model, r.executed)} executed${how}` }, t);
  }
  return h('td', { class: 'muted', text: r.pick ? 'not run' : 'idle' });
}

export function renderLog(model, rebuild) {
  const body = $('[data-testid="log-rows"]');
  if (rebuild) {
    clear(body);
    logShown = 0;
  }
  const rows = model.log;
  const fresh = rows.filter((r) => r.n > logShown).slice(-LOG_ROWS);
  if (!fresh.length) return;
  const now = performance.now();
  if (!rebuild && fresh.length > BURST && (now - logDrawn < BURST_MS || !takeHeavy())) {
    model.mark('log'); // draw them next time
    return;
  }
  logDrawn = now;
  const burst = !rebuild && fresh.length > BURST;
  const draw = burst ? fresh.slice(-BURST_ROWS) : fresh;
  const frag = document.createDocumentFragment();
  for (let i = draw.length - 1; i >= 0; i--) {
    const r = draw[i];
    frag.append(h('tr', { 'data-tick': r.tick },
      h('td', { class: 'num', text: r.tick }),
      h('td', {}, h('span', { class: modeClass(model, r.mode), text: r.mode || '–', title: r.mode || null })),
      h('td', { class: 'mono', text: r.pick || '–', title: intentLabel(model, r.pick) }),
      verdictCell(model, r)));
  }
  if (burst || fresh.length >= LOG_ROWS) body.replaceChildren(frag);
  else {
    body.prepend(frag);
    trimChildren(body, LOG_ROWS);
  }
  logShown = fresh[fresh.length - 1].n;
}

/** Remove the children of el past the first `keep`, in one operation. */
function trimChildren(el, keep) {
  if (el.childElementCount <= keep) return;
  const r = document.createRange();
  r.setStartBefore(el.children[keep]);
  r.setEndAfter(el.lastChild);
  r.deleteContents();
}

// ------------------------------------------------------------ raw list

/** The next (or previous) event row from li, skipping opened envelopes. */
function nextRow(li, dir) {
  let el = li[dir];
  while (el && !el.classList.contains('ev-row')) el = el[dir];
  return el;
}

const RAW_ROWS = 100;         // rows while live (the panel shows about ten)
const RAW_ROWS_PAUSED = 500;  // rows to look through while paused

export class RawView {
  constructor(model) {
    this.model = model;
    this.list = $('[data-testid="raw-rows"]');
    this.status = $('[data-testid="raw-status"]');
    this.eventInput = $('[data-testid="raw-filter-event"]');
    this.intentInput = $('[data-testid="raw-filter-intent"]');
    this.pauseBtn = $('[data-testid="raw-pause"]');
    this.paused = false;
    this.shown = 0;
    this.drawn = 0;
    this.pausedAt = 0;
    this.items = new WeakMap(); // row -> raw item, for expanding it
    const refilter = () => {
      this.reset();
      this.render(true);
    };
    this.eventInput.addEventListener('input', refilter);
    this.intentInput.addEventListener('input', refilter);
    this.pauseBtn.addEventListener('click', () => {
      this.paused = !this.paused;
      this.pauseBtn.setAttribute('aria-pressed', String(this.paused));
      setText(this.pauseBtn, this.paused ? 'Resume' : 'Pause');
      this.pausedAt = this.model.rawN;
      // Paused: the newest rows, more of them, held still.  Resumed: the
      // newest again, without a hole.
      this.reset();
      this.render(true);
    });
    // One listener for every row: a click or Enter/Space shows the envelope.
    // The list is one Tab stop (the current row); the arrow keys, Home and
    // End move between rows, so the keyboard passes it in one press.
    this.list.addEventListener('click', (ev) => this.toggle(ev.target.closest('li.ev-row')));
    this.list.addEventListener('focusin', (ev) => this.makeCurrent(ev.target.closest('li.ev-row')));
    this.list.addEventListener('keydown', (ev) => {
      const li = ev.target.closest('li.ev-row');
      if (!li) return;
      const rows = () => [...this.list.querySelectorAll('li.ev-row')];
      let to = null;
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        this.toggle(li);
        return;
      }
      if (ev.key === 'ArrowDown') to = nextRow(li, 'nextElementSibling');
      else if (ev.key === 'ArrowUp') to = nextRow(li, 'previousElementSibling');
      else if (ev.key === 'Home') to = rows()[0];
      else if (ev.key === 'End') to = rows().pop();
      if (!to) return;
      ev.preventDefault();
      this.makeCurrent(to);
      to.focus();
    });
  }

  /** The row the list's Tab stop is on. */
  makeCurrent(li) {
    if (!li || li === this.current) return;
    if (this.current) this.current.tabIndex = -1;
    this.current = li;
    li.tabIndex = 0;
  }

  /** After rows come and go: keep one Tab stop, on the first row if the
   * current one is gone. */
  keepTabStop() {
    if (this.current && this.current.isConnected) return;
    this.current = null;
    this.makeCurrent(this.list.querySelector('li.ev-row'));
  }

  reset() {
    this.shown = 0;
    this.current = null;
    clear(this.list);
  }

  filter() {
    const ev = this.eventInput.value.trim();
    const rawId = this.intentInput.value.trim();
    const id = rawId ? normId(rawId) || rawId : '';
    return (it) => {
      if (it.kind !== 'event') return !id; // markers show unless filtering by intent
      if (ev && !it.name.startsWith(ev) && !it.name.includes(ev)) return false;
      if (id && it.intent !== id) return false;
      return true;
    };
  }

  render(force) {
    const m = this.model;
    if (this.paused && this.shown) {
      setText(this.status, `paused; ${m.rawN - this.pausedAt} new`);
      return;
    }
    const max = this.paused ? RAW_ROWS_PAUSED : RAW_ROWS;
    const keep = this.filter();
    const fresh = [];
    for (let i = m.raw.length - 1; i >= 0 && fresh.length < max; i--) {
      const it = m.raw[i];
      if (it.n <= this.shown) break;
      if (keep(it)) fresh.push(it);
    }
    setText(this.status, this.paused ? `paused; ${m.rawN - this.pausedAt} new` : `${Math.min(m.raw.length, RAW_MAX)} held`);
    const newest = m.raw.length ? m.raw[m.raw.length - 1].n : 0;
    if (!fresh.length) {
      this.shown = Math.max(this.shown, newest);
      return;
    }
    const now = performance.now();
    if (!force && this.shown && fresh.length > BURST && (now - this.drawn < BURST_MS || !takeHeavy())) {
      m.mark('raw');
      return;
    }
    this.drawn = now;
    const burst = !force && !this.paused && this.shown && fresh.length > BURST;
    const frag = document.createDocumentFragment();
    for (const it of burst ? fresh.slice(0, BURST_ROWS) : fresh) frag.append(this.row(it));
    if (burst || fresh.length >= max) this.list.replaceChildren(frag);
    else {
      this.list.prepend(frag);
      trimChildren(this.list, max);
    }
    this.keepTabStop();
    this.shown = newest;
  }

  row(it) {
    if (it.kind !== 'event')
      return h('li', { class: 'marker ' + it.kind, 'data-kind': it.kind },
        `${fmtClock(it.ts)} ${it.text}`);
    // The envelope's payload as sent (the server writes it after "event").
    const at = it.text.indexOf('"payload":');
    let payload = at < 0 ? it.text : it.text.slice(at + 10, at + 10 + 241);
    if (payload.length > 240) payload = payload.slice(0, 240) + '…';
    const li = h('li', {
      class: 'ev-row', tabindex: '-1', role: 'button', 'aria-expanded': 'false',
      'data-event': it.name, 'data-seq': it.seq,
    },
    h('span', { class: 'seq', text: it.seq }),
    ` ${fmtClock(it.ts)} `,
    h('span', { class: 'ev', text: it.name }),
    ` ${it.intent ? it.intent + ' ' : ''}${payload}`);
    this.items.set(li, it);
    return li;
  }

  /** Show or hide a row's whole envelope, pretty-printed. */
  toggle(li) {
    if (!li) return;
    const open = li.getAttribute('aria-expanded') === 'true';
    li.setAttribute('aria-expanded', String(!open));
    const pre = li.nextElementSibling && li.nextElementSibling.classList.contains('ev-full') ? li.nextElementSibling : null;
    if (open) {
      if (pre) pre.remove();
      return;
    }
    const it = this.items.get(li);
    let pretty = it ? it.text : '';
    try {
      pretty = JSON.stringify(JSON.parse(pretty), null, 2);
    } catch {
      // as it came
    }
    li.after(h('li', { class: 'ev-full' }, h('pre', { text: pretty })));
  }
}
