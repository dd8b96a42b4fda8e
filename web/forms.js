// forms.js: what operators may do (submit an intent, cancel one) and the
// intent story dialog everyone may open.  The submit form is built from
// the scenario (GET /api/v1/scenario): the type's parameters as typed
// inputs, its goal when it takes one.  The server validates; its 400
// answers are shown inline, next to the field that details.field names.

import { api, ApiError } from './api.js';
import { h, clear, fmtNum, fmtValue, TERMINAL } from './util.js';

let uid = 0;
const nextId = (p) => `${p}-${++uid}`;

/** A labelled input with its own error line; returns {wrap, input, err}. */
function field(key, label, input, hint) {
  const id = input.id || (input.id = nextId('f'));
  const err = h('span', { class: 'field-error', id: id + '-err', 'data-testid': 'field-error', 'data-field': key });
  input.setAttribute('aria-describedby', id + '-err');
  const wrap = h('div', { class: 'field', 'data-field': key },
    h('label', { for: id, text: label }), input,
    hint ? h('span', { class: 'hint', text: hint }) : null, err);
  return { wrap, input, err };
}

function errorText(e) {
  if (e instanceof ApiError) return `${e.status} ${e.code}: ${e.message}`;
  return `cannot reach the server (${(e && e.message) || e})`;
}

// ------------------------------------------------------------ submit

export class SubmitForm {
  constructor({ toast }) {
    this.toast = toast;
    this.scenario = null;
    this.fields = new Map(); // error key -> {wrap, input, err}
    this.section = null;
  }

  /** Build the control panel (operators only) into the grid. */
  mount(grid, scenario) {
    this.unmount();
    this.scenario = scenario;
    this.typeSel = h('select', { name: 'type', 'data-testid': 'submit-type' });
    for (const t of scenario.intent_types || []) this.typeSel.append(h('option', { value: t.name, text: t.name }));
    this.typeSel.addEventListener('change', () => this.buildType());
    this.desc = h('p', { class: 'muted desc', 'data-testid': 'submit-type-desc' });
    this.typePart = h('div', { class: 'type-part' });
    this.priority = h('input', { type: 'number', step: 'any', name: 'priority', 'data-testid': 'submit-priority', placeholder: '0' });
    this.deadline = h('input', { type: 'number', step: '1', min: '0', name: 'deadline_ticks', 'data-testid': 'submit-deadline', placeholder: 'type default' });
    this.source = h('select', { name: 'source', 'data-testid': 'submit-source' });
    for (const s of scenario.sources || ['ground']) this.source.append(h('option', { value: s, text: s }));
    this.button = h('button', { type: 'submit', class: 'primary', 'data-testid': 'submit-button' }, 'Submit intent');
    this.error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'submit-error' });
    this.result = h('p', { class: 'form-result', role: 'status', 'data-testid': 'submit-result' });
    const type = field('type', 'Type', this.typeSel);
    const common = [
      field('priority', 'Priority', this.priority),
      field('deadline_ticks', 'Deadline (ticks)', this.deadline),
      field('source', 'Source', this.source),
    ];
    this.common = new Map([['type', type], ...common.map((f) => [f.wrap.dataset.field, f])]);
    this.form = h('form', { class: 'submit-form', 'data-testid': 'submit-form', novalidate: true },
      type.wrap, this.desc, this.typePart,
      h('div', { class: 'row3' }, ...common.map((f) => f.wrap)),
      h('div', { class: 'actions' }, this.button), this.error, this.result);
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    });
    this.section = h('section', { class: 'panel', 'data-panel': 'control', 'aria-labelledby': 'h-control' },
      h('h2', { id: 'h-control', text: 'Submit an intent' }),
      h('div', { class: 'body' }, this.form));
    grid.append(this.section);
    grid.classList.add('has-control');
    this.buildType();
  }

  unmount() {
    if (this.section) {
      this.section.parentNode.classList.remove('has-control');
      this.section.remove();
    }
    this.section = null;
  }

  type() {
    return (this.scenario.intent_types || []).find((t) => t.name === this.typeSel.value);
  }

  /** The goal and parameter inputs of the chosen type. */
  buildType() {
    const t = this.type();
    clear(this.typePart);
    this.fields = new Map(this.common);
    this.clearErrors();
    if (!t) return;
    const bits = [];
    if (t.description) bits.push(t.description);
    if (t.recovers) bits.push(`Recovers ${t.recovers}.`);
    if (t.domains && t.domains.length) bits.push(`Domains: ${t.domains.join(', ')}.`);
    this.desc.textContent = bits.join(' ');
    this.goal = null;
    if (t.goal !== 'none') {
      const metric = h('select', { name: 'goal.metric', 'data-testid': 'submit-goal-metric' });
      if (t.goal === 'optional') metric.append(h('option', { value: '', text: '(no goal)' }));
      for (const m of t.goal_metrics || []) metric.append(h('option', { value: m, text: m }));
      const ref = h('input', { type: 'number', step: 'any', name: 'goal.reference', 'data-testid': 'submit-goal-reference' });
      const tol = h('input', { type: 'number', step: 'any', min: '0', name: 'goal.tolerance', 'data-testid': 'submit-goal-tolerance', placeholder: '0' });
      const fm = field('goal.metric', 'Metric', metric);
      const fr = field('goal.reference', 'Reference', ref);
      const ft = field('goal.tolerance', 'Tolerance', tol);
      const fs = h('fieldset', { class: 'goal', 'data-testid': 'submit-goal', 'data-field': 'goal' },
        h('legend', { text: `Goal (${t.goal})` }), h('div', { class: 'row3' }, fm.wrap, fr.wrap, ft.wrap),
        h('span', { class: 'field-error', 'data-testid': 'field-error', 'data-field': 'goal' }));
      this.typePart.append(fs);
      this.goal = { metric, ref, tol };
      for (const f of [fm, fr, ft]) this.fields.set(f.wrap.dataset.field, f);
      this.fields.set('goal', { wrap: fs, input: metric, err: fs.lastChild });
    }
    this.params = [];
    if (t.params && t.params.length) {
      const box = h('div', { class: 'row3' });
      const fs = h('fieldset', { class: 'params', 'data-testid': 'submit-params', 'data-field': 'params' },
        h('legend', { text: 'Parameters' }), box,
        h('span', { class: 'field-error', 'data-testid': 'field-error', 'data-field': 'params' }));
      for (const p of t.params) {
        let input;
        const testid = `submit-param-${p.name}`;
        if (p.type === 'bool') {
          input = h('select', { name: 'params.' + p.name, 'data-testid': testid },
            h('option', { value: '', text: p.required ? '(choose)' : '(default)' }),
            h('option', { value: 'true', text: 'true' }), h('option', { value: 'false', text: 'false' }));
        } else if (p.type === 'number') {
          input = h('input', { type: 'number', step: 'any', name: 'params.' + p.name, 'data-testid': testid });
        } else {
          input = h('input', { type: 'text', maxlength: '255', name: 'params.' + p.name, 'data-testid': testid, spellcheck: 'false' });
        }
        if (p.required) input.setAttribute('aria-required', 'true');
        if (p.default !== undefined && input.tagName === 'INPUT') input.placeholder = `default ${fmtValue(p.default)}`;
        const label = `${p.name} (${p.type}${p.required ? ', required' : ''})`;
        const f = field('params.' + p.name, label, input);
        box.append(f.wrap);
        this.fields.set('params.' + p.name, f);
        this.params.push({ def: p, input });
      }
      this.typePart.append(fs);
      this.fields.set('params', { wrap: fs, input: this.params[0].input, err: fs.lastChild });
    }
  }

  clearErrors() {
    for (const f of this.fields.values()) {
      f.err.textContent = '';
      f.input.removeAttribute('aria-invalid');
      f.wrap.classList.remove('invalid');
    }
    if (this.error) this.error.textContent = '';
  }

  /** Show msg at the field `key` (falling back to the form). */
  fieldError(key, msg) {
    let k = key;
    let f = this.fields.get(k);
    while (!f && k.includes('.')) {
      k = k.slice(0, k.lastIndexOf('.'));
      f = this.fields.get(k);
    }
    if (!f) return false;
    f.err.textContent = msg;
    f.input.setAttribute('aria-invalid', 'true');
    f.wrap.classList.add('invalid');
    return true;
  }

  /** A number input's value: undefined when empty, null (with an error) when not a number. */
  num(key, input) {
    if (input.validity && input.validity.badInput) {
      this.fieldError(key, 'not a number');
      return null;
    }
    if (input.value.trim() === '') return undefined;
    const v = Number(input.value);
    if (!Number.isFinite(v)) {
      this.fieldError(key, 'not a finite number');
      return null;
    }
    return v;
  }

  body() {
    const t = this.type();
    const body = { type: this.typeSel.value };
    let ok = true;
    const put = (obj, k, v) => {
      if (v === null) ok = false;
      else if (v !== undefined) obj[k] = v;
    };
    if (t && this.goal && this.goal.metric.value) {
      const g = { metric: this.goal.metric.value };
      put(g, 'reference', this.num('goal.reference', this.goal.ref));
      put(g, 'tolerance', this.num('goal.tolerance', this.goal.tol));
      body.goal = g;
    }
    const params = {};
    for (const { def, input } of this.params || []) {
      if (def.type === 'number') put(params, def.name, this.num('params.' + def.name, input));
      else if (def.type === 'bool') {
        if (input.value) params[def.name] = input.value === 'true';
      } else if (input.value !== '') params[def.name] = input.value;
    }
    if (Object.keys(params).length) body.params = params;
    put(body, 'priority', this.num('priority', this.priority));
    put(body, 'deadline_ticks', this.num('deadline_ticks', this.deadline));
    if (this.source.value) body.source = this.source.value;
    return ok ? body : null;
  }

  async submit() {
    this.clearErrors();
    this.result.textContent = '';
    const body = this.body();
    if (!body) {
      this.error.textContent = 'Fix the marked fields.';
      return;
    }
    this.button.disabled = true;
    try {
      const r = await api('/api/v1/intents', { method: 'POST', body });
      const b = r.body || {};
      const msg = b.duplicate
        ? `${b.id}: duplicate of an earlier submission (${b.status})`
        : `${b.id} ${b.status} (created at tick ${b.received_tick})`;
      this.result.textContent = msg;
      // The answer is under the fields: on a small screen, bring it into
      // the panel's view (the panel scrolls, the page does not).
      this.result.scrollIntoView({ block: 'nearest' });
      this.toast(msg);
    } catch (e) {
      this.error.textContent = errorText(e);
      const d = (e && e.details) || {};
      let at = false;
      if (typeof d.field === 'string') at = this.fieldError(d.field, e.message);
      else if (e.code === 'unknown_param') at = this.fieldError('params', e.message);
      else if (e.code === 'unknown_intent_type') at = this.fieldError('type', e.message);
      // Show where it went wrong: the field the server named, else the
      // message under the fields.
      const bad = at && this.section.querySelector('[aria-invalid="true"]');
      (bad || this.error).scrollIntoView({ block: 'nearest' });
    } finally {
      this.button.disabled = false;
    }
  }
}

// ------------------------------------------------------------ cancel

/** POST .../cancel; reports through toast.  Resolves to true on 202. */
export async function cancelIntent(id, toast) {
  try {
    const r = await api(`/api/v1/intents/${encodeURIComponent(id)}/cancel`, {
      method: 'POST', body: { reason: 'from the dashboard' },
    });
    const b = r.body || {};
    toast(`${b.id} cancel requested (applies at tick ${b.apply_tick})`);
    return true;
  } catch (e) {
    toast(`cancel ${id}: ${errorText(e)}`, true);
    return false;
  }
}

// ------------------------------------------------------------- story

function kv(pairs) {
  const dl = h('dl', { class: 'kv' });
  for (const [k, v] of pairs) {
    if (v === undefined) continue;
    dl.append(h('dt', { text: k }), h('dd', { text: v === null ? '–' : String(v) }));
  }
  return dl;
}

function goalText(g) {
  return g ? `${g.metric} → ${fmtNum(g.reference)} (±${fmtNum(g.tolerance)})` : null;
}

export class StoryDialog {
  constructor({ canCancel, onCancel }) {
    this.canCancel = canCancel;
    this.onCancel = onCancel;
    this.dialog = document.querySelector('[data-testid="story-dialog"]');
    this.title = this.dialog.querySelector('#story-title');
    this.body = this.dialog.querySelector('[data-testid="story-body"]');
    this.dialog.querySelector('[data-testid="story-close"]').addEventListener('click', () => this.dialog.close());
    this.dialog.addEventListener('click', (ev) => {
      if (ev.target === this.dialog) this.dialog.close(); // a click on the backdrop
    });
    this.current = null;
  }

  async open(id) {
    this.current = id;
    this.title.textContent = id;
    clear(this.body);
    this.body.append(h('p', { class: 'muted', text: 'Loading…' }));
    if (!this.dialog.open) this.dialog.showModal();
    let view;
    try {
      const r = await api(`/api/v1/intents/${encodeURIComponent(id)}`);
      view = this.record(r.body);
    } catch (e) {
      const reason = e && e.details && e.details.reason;
      if (e instanceof ApiError && e.status === 404 && reason === 'evicted') view = await this.stored(id);
      else if (e instanceof ApiError && e.status === 404 && reason === 'pending')
        view = h('p', { text: `${id} was accepted and is created at the next tick; try again in a moment.` });
      else view = h('p', { class: 'form-error', text: errorText(e) });
    }
    if (this.current !== id) return;
    clear(this.body);
    this.body.append(view);
  }

  /** The in-memory record (GET /api/v1/intents/{id}). */
  record(r) {
    const frag = h('div', { 'data-testid': 'story-record', 'data-status': r.status });
    this.title.textContent = `${r.id} · ${r.type} · ${r.status}`;
    frag.append(h('p', { class: 'explanation', 'data-testid': 'story-explanation', text: r.explanation || '' }));
    frag.append(kv([
      ['status', r.status], ['source', r.source], ['actor', r.actor], ['priority', fmtNum(r.priority)],
      ['created at tick', r.created_tick], ['goal', goalText(r.goal)],
      ['params', r.params && Object.keys(r.params).length ? JSON.stringify(r.params) : null],
      ['deadline tick', r.deadline_tick], ['score', fmtNum(r.score)],
      ['evaluations', r.evaluations], ['blocked ticks', r.blocked_ticks],
      ['executions / attempts', `${r.executions} / ${r.attempts}`],
      ['first execution at tick', r.first_exec_tick], ['retry at tick', r.retry_tick],
      ['idempotency key', r.idempotency_key],
    ]));
    const lv = r.last_verdict || {};
    if (lv.verdict && lv.verdict !== 'none') {
      frag.append(h('h3', { text: 'Last verdict' }),
        h('p', {}, `${lv.verdict}${lv.rule ? ' by ' + lv.rule : ''}${lv.tick !== null ? ' at tick ' + lv.tick : ''}`,
          lv.explain ? h('code', { class: 'explain', text: lv.explain }) : null));
    }
    if (this.canCancel() && !TERMINAL.has(r.status)) {
      frag.append(h('p', {}, h('button', {
        type: 'button', class: 'danger', 'data-testid': 'story-cancel',
        onclick: async () => {
          if (await this.onCancel(r.id)) this.open(r.id);
        },
      }, `Cancel ${r.id}`)));
    }
    const hist = r.history || [];
    frag.append(h('h3', { text: `History (${hist.length} of ${r.history_total} transitions in memory)` }));
    const tb = h('tbody');
    for (const t of hist)
      tb.append(h('tr', {}, h('td', { class: 'num', text: t.tick }), h('td', { text: `${t.from} → ${t.to}` }), h('td', { text: t.reason || '' })));
    frag.append(h('table', { class: 'history', 'data-testid': 'story-history' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Tick' }), h('th', { scope: 'col', text: 'Transition' }), h('th', { scope: 'col', text: 'Reason' }))), tb));
    return frag;
  }

  /** The stored story (GET /api/v1/intents/{id}/story), for an evicted intent. */
  async stored(id) {
    try {
      const r = await api(`/api/v1/intents/${encodeURIComponent(id)}/story`);
      const entries = (r.body && r.body.story) || [];
      const tb = h('tbody');
      for (const e of entries) {
        const p = e.payload || {};
        let what = '';
        if (e.event === 'intent.blocked') what = `${p.rule}: ${p.explain || ''}`;
        else if (p.changes) what = p.changes.map((c) => `${c.field} ${fmtValue(c.before)} → ${fmtValue(c.after)}`).join(', ');
        else if (p.reason) what = String(p.reason);
        else if (e.event === 'intent.received') what = `from ${p.source}${e.actor ? ' by ' + e.actor : ''}`;
        tb.append(h('tr', {}, h('td', { class: 'num', text: e.tick }), h('td', { text: e.event }), h('td', { text: what })));
      }
      return h('div', { 'data-testid': 'story-stored' },
        h('p', { class: 'muted', text: `${id} is no longer in memory; this is its story as the store recorded it (${entries.length} entries).` }),
        h('table', { class: 'history' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Tick' }), h('th', { scope: 'col', text: 'Event' }), h('th', { scope: 'col', text: 'Detail' }))), tb));
    } catch (e) {
      if (e instanceof ApiError && e.code === 'no_store')
        return h('p', { text: `${id} is no longer in memory, and this server keeps no store (it runs without --data): its history is in the telemetry file.` });
      return h('p', { class: 'form-error', text: errorText(e) });
    }
  }
}
