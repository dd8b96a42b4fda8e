// app.js: the dashboard's entry point (SPEC §10).  It asks for a token,
// learns who the caller is (whoami decides the controls), loads the
// scenario, the state, the active intents and a page of recent events,
// then follows the live stream, resuming from the last seq after a drop
// and starting over when the server restarted.  Events are counted as
// they come; panels are drawn at most ten times a second.
//
// For tests, window.__intentd holds live counters: seq, events, connected,
// reconnects, gaps, missed, renders, and `seen`: the seqs of the events
// counted, in arrival order (the last SEEN_KEEP..2*SEEN_KEEP of them; it
// survives a restart of the page's model, so a test can check that the
// page saw every seq exactly once across reconnects).

import { api, ApiError, authHeaders, setUnauthorizedHandler, token } from './api.js';
import { SseClient } from './sse.js';
import { Model } from './model.js';
import { RawView, renderHeader, renderHealth, renderLog, renderPolicy, renderSafety, renderState } from './panels.js';
import { LaneView } from './lanes.js';
import { TrendView } from './trends.js';
import { StoryDialog, SubmitForm, cancelIntent } from './forms.js';
import { newFrame, setText } from './util.js';

const BACKFILL = 3000;          // recent events replayed at start, for trends and lanes
const RENDER_EVERY_MS = 100;    // at most ten renders a second
const SEEN_KEEP = 5000;         // seqs kept in window.__intentd.seen
const ACTIVE = 'received,queued,blocked,authorized,executing,backoff,awaiting_approval';

const $ = (sel) => document.querySelector(sel);
const model = new Model();
const link = { state: 'idle', reason: '', retryAt: 0, reconnects: 0 };
const I = { seq: 0, events: 0, connected: false, reconnects: 0, gaps: 0, missed: 0, renders: 0, seen: [] };
window.__intentd = I;

let who = null;         // {name, role}
let stream = null;      // SseClient
let session = 0;        // bumped by every (re)start: late answers of an older one are dropped
let retryTimer = null;

// ------------------------------------------------------------ toast

let toastTimer = null;
function toast(msg, bad) {
  const t = $('[data-testid="toast"]');
  t.textContent = msg;
  t.dataset.kind = bad ? 'error' : 'info';
  t.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove('show'), 6000);
}

// ------------------------------------------------------------ views

const raw = new RawView(model);
const trends = new TrendView(model);
trends.warm();
const isOperator = () => !!who && (who.role === 'operator' || who.role === 'admin');
const cancel = (id) => cancelIntent(id, toast);
const story = new StoryDialog({ canCancel: isOperator, onCancel: cancel });
const lanes = new LaneView(model, { onOpen: (id) => story.open(id), onCancel: cancel });
const submit = new SubmitForm({ toast });

function expose() {
  I.seq = model.seq;
  I.events = model.events;
  I.connected = link.state === 'connected';
  I.reconnects = link.reconnects;
  I.gaps = model.gaps;
  I.missed = model.missed;
}

// ----------------------------------------------------------- render

let scheduled = false;
let lastRender = 0;

function schedule() {
  if (scheduled) return;
  scheduled = true;
  const wait = Math.max(0, RENDER_EVERY_MS - (performance.now() - lastRender));
  setTimeout(() => requestAnimationFrame(render), wait);
}

function render() {
  scheduled = false;
  lastRender = performance.now();
  // Take the marks: a view that defers part of its work marks itself
  // again, and is drawn in the next frame.
  const d = model.dirty;
  model.dirty = new Set();
  newFrame();
  const all = d.has('all');
  if (all) {
    trends.rebuild();
    lanes.reset();
    raw.reset();
  }
  try {
    if (all || d.has('header')) renderHeader(model);
    if (all || d.has('state')) renderState(model, all);
    if (all || d.has('policy')) renderPolicy(model);
    if (all || d.has('safety')) renderSafety(model);
    if (all || d.has('trends')) trends.render(all);
    if (all || d.has('lanes')) lanes.render();
    if (all || d.has('log')) renderLog(model, all);
    if (all || d.has('raw')) raw.render();
    renderHealth(model, link);
  } finally {
    I.renders++;
    if (model.dirty.size) schedule();
  }
}

// The lag grows and the trends scroll even when nothing arrives.
setInterval(() => {
  if (!who) return;
  model.mark('health', 'trends');
  schedule();
}, 1000);

// ------------------------------------------------------------ stream

function onMessage(name, data) {
  if (name === 'gap') {
    const d = JSON.parse(data);
    if (model.applyGap(d) > 0) toast(`Gap in the stream: ${d.missed} events missed (telemetry has them).`, true);
  }
  else if (name === 'cut_off') model.applyCutOff(JSON.parse(data));
  else if (name === 'shutdown') model.applyShutdown();
  else {
    const env = JSON.parse(data);
    if (model.applyEvent(env, data) && typeof env.seq === 'number') {
      I.seen.push(env.seq);
      if (I.seen.length >= 2 * SEEN_KEEP) I.seen.splice(0, SEEN_KEEP);
    }
  }
  expose();
  schedule();
}

function onStatus(state, info) {
  if (state === 'reconnecting') link.reconnects++;
  link.state = state;
  link.reason = info.reason || '';
  link.retryAt = info.retryMs ? Date.now() + info.retryMs : 0;
  model.mark('health');
  expose();
  schedule();
}

/** Before a reconnect: is it still the same run?  A restarted server counts
 * seq from 1 again, so our resume point means nothing there: start over. */
async function verifyRun() {
  const seq = model.seq;
  if (!seq) return;
  const r = await api(`/api/v1/events?after_seq=${seq - 1}&limit=1`);
  const b = r.body || {};
  const e = (b.events || [])[0];
  const last = model.lastEvent;
  // A server that holds no event yet (it has just started, and a durable
  // one goes on counting where it stopped) cannot tell whether it still
  // runs our run: ask again after the backoff rather than starting over.
  if (!b.last_seq) throw new Error('the server holds no events yet');
  let restarted = b.last_seq < seq;
  if (!restarted && e && last && e.seq === seq && (e.timestamp !== last.timestamp || e.event !== last.event)) restarted = true;
  if (restarted) {
    toast('The server restarted: reloading its state.');
    start();
    throw new Error('server restarted');
  }
}

function openStream() {
  if (stream) stream.stop();
  stream = new SseClient({
    url: '/api/v1/stream',
    headers: () => authHeaders(),
    lastId: () => model.resumeAfter,
    beforeConnect: verifyRun,
    onMessage,
    onStatus,
    onAuthError: (status) => {
      if (status === 401) refused('the server no longer accepts this token');
      else toast(`the stream was refused (${status})`, true);
    },
  });
  stream.start();
}

// --------------------------------------------------------- bootstrap

/** Load everything anew (first start, another token, a restarted server). */
async function start() {
  const my = ++session;
  clearTimeout(retryTimer);
  if (stream) stream.stop();
  stream = null;
  try {
    const w = await api('/api/v1/whoami');
    if (my !== session) return;
    const [sc, st, ev] = await Promise.all([
      api('/api/v1/scenario'), api('/api/v1/state'), api('/api/v1/events?limit=1'),
    ]);
    const seeds = [];
    let after = '';
    for (let page = 0; page < 3; page++) {
      const r = await api(`/api/v1/intents?status=${ACTIVE}&limit=1000${after ? '&after=' + after : ''}`);
      seeds.push(...(r.body.intents || []));
      after = r.body.next_after;
      if (!after) break;
    }
    if (my !== session) return;
    model.reset();
    showDashboard(w.body, sc.body);
    model.setScenario(sc.body);
    model.setState(st.body);
    model.seedIntents(seeds);
    const first = ev.body.first_seq || 0;
    const last = ev.body.last_seq || 0;
    const from = last ? Math.max(first - 1, last - BACKFILL, 0) : 0;
    model.startAt(from, last);
    link.retries = 0;
    expose();
    render();
    openStream();
  } catch (e) {
    if (my !== session) return;
    if (e instanceof ApiError && e.status === 401) return; // refused() took over
    const n = (link.retries = (link.retries || 0) + 1);
    const delay = Math.min(10000, 500 * 2 ** Math.min(n, 5)) * (0.75 + Math.random() * 0.5);
    onStatus('disconnected', { reason: e instanceof ApiError ? `${e.status} ${e.code}` : 'server unreachable', retryMs: delay });
    if (!who) setText($('[data-testid="token-error"]'), `Cannot load: ${e.message}. Retrying…`);
    retryTimer = setTimeout(() => start(), delay);
  }
}

// ------------------------------------------------------ token, roles

function showDashboard(w, scenario) {
  const changed = !who || who.role !== w.role || who.name !== w.name;
  who = w;
  $('[data-testid="token-form"]').hidden = true;
  setText($('[data-testid="token-error"]'), '');
  $('[data-testid="identity"]').hidden = false;
  setText($('[data-testid="whoami"]'), `${w.name} (${w.role})`);
  $('[data-testid="intro"]').hidden = true;
  const grid = $('[data-testid="dashboard"]');
  grid.hidden = false;
  // Viewers get no controls at all: the form and cancel buttons are not
  // built, rather than built and disabled.
  if (isOperator()) submit.mount(grid, scenario);
  else submit.unmount();
  if (changed) lanes.setOperator(isOperator());
}

/** Back to the token form (forgotten, or refused by the server). */
function teardown() {
  session++;
  clearTimeout(retryTimer);
  if (stream) stream.stop();
  stream = null;
  who = null;
  submit.unmount();
  lanes.setOperator(false);
  model.reset();
  link.state = 'idle';
  link.reconnects = 0;
  $('[data-testid="dashboard"]').hidden = true;
  $('[data-testid="identity"]').hidden = true;
  $('[data-testid="intro"]').hidden = false;
  $('[data-testid="token-form"]').hidden = false;
  if (story.dialog.open) story.dialog.close();
  render();
  expose();
  $('[data-testid="token-input"]').focus();
}

function refused(why) {
  token.clear();
  teardown();
  setText($('[data-testid="token-error"]'), `Token refused: ${why}.`);
}

setUnauthorizedHandler(() => refused('unknown or revoked token'));

$('[data-testid="token-form"]').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = $('[data-testid="token-input"]');
  const t = input.value.trim();
  if (!t) return;
  input.value = '';
  token.set(t);
  setText($('[data-testid="token-error"]'), 'Connecting…');
  start();
});

$('[data-testid="forget-token"]').addEventListener('click', () => {
  token.clear();
  teardown();
  setText($('[data-testid="token-error"]'), 'Token forgotten.');
});

if (token.value()) start();
else $('[data-testid="token-input"]').focus();
