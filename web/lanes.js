// lanes.js: the intent lifecycles, one lane per intent (newest first) from
// its receipt to its terminal state on a shared tick axis, coloured by
// status, with its block periods shaded (the rule and the deciding values
// on hover).  A lane's button opens the intent's story; operators get a
// cancel button on active intents.  Rows are kept and updated in place,
// so focus survives the ten updates a second.

import { h, clear, setText, TERMINAL } from './util.js';

export class LaneView {
  constructor(model, { onOpen, onCancel }) {
    this.model = model;
    this.onOpen = onOpen;
    this.onCancel = onCancel;
    this.operator = false;
    this.list = document.querySelector('[data-testid="lanes"]');
    this.span = document.querySelector('[data-testid="lane-span"]');
    this.axis = h('div', { class: 'axis', 'aria-hidden': 'true' },
      h('span', { class: 'from' }), h('span', { class: 'to' }));
    this.list.before(this.axis);
    this.rows = new Map();
    this.span.addEventListener('change', () => {
      this.model.mark('lanes');
    });
  }

  setOperator(op) {
    this.operator = op;
    this.reset();
  }

  reset() {
    clear(this.list);
    this.rows.clear();
  }

  render() {
    const m = this.model;
    const lanes = [...m.lanes.values()].sort((a, b) => b.seq - a.seq);
    const t1 = Math.max(m.tick, ...lanes.map((l) => l.end ?? l.start)) + 1;
    const span = Number(this.span.value) || 0;
    let t0 = span ? t1 - span : Math.min(t1 - 1, ...lanes.map((l) => l.start));
    if (!Number.isFinite(t0)) t0 = t1 - 1;
    const width = Math.max(1, t1 - t0);
    const pct = (t) => Math.min(100, Math.max(0, ((t - t0) / width) * 100));
    setText(this.axis.firstChild, `tick ${Math.max(0, t0)}`);
    setText(this.axis.lastChild, `tick ${t1 - 1}`);

    let cursor = this.list.firstChild;
    const seen = new Set();
    for (const lane of lanes) {
      seen.add(lane.id);
      const row = this.row(lane);
      if (row.li !== cursor) this.list.insertBefore(row.li, cursor);
      else cursor = cursor.nextSibling;
      this.update(row, lane, pct, m.tick);
    }
    while (cursor) {
      const next = cursor.nextSibling;
      cursor.remove();
      cursor = next;
    }
    for (const id of [...this.rows.keys()]) if (!seen.has(id)) this.rows.delete(id);
  }

  row(lane) {
    let row = this.rows.get(lane.id);
    if (row) return row;
    const open = () => this.onOpen(lane.id);
    const id = h('span', { class: 'id', text: lane.id });
    const type = h('span', { class: 'type' });
    const status = h('span', { class: 'status' });
    const info = h('span', { class: 'info' });
    const btn = h('button', { type: 'button', class: 'lane-open', 'data-testid': 'lane-open', onclick: open },
      id, ' ', type, ' ', status, ' ', info);
    const bar = h('span', { class: 'bar' });
    const track = h('div', { class: 'track', onclick: open }, bar);
    const li = h('li', { class: 'lane', 'data-testid': 'lane', 'data-intent-id': lane.id }, btn, track);
    row = { li, btn, type, status, info, track, bar, blocks: [], cancel: null };
    this.rows.set(lane.id, row);
    return row;
  }

  update(row, lane, pct, tick) {
    const st = lane.status || 'received';
    if (row.li.dataset.status !== st) {
      row.li.dataset.status = st;
      row.status.className = 'status st-' + st;
      row.bar.className = 'bar st-' + st;
    }
    setText(row.status, st);
    setText(row.type, lane.type || '');
    const bits = [];
    if (lane.blockedTicks) bits.push(`${lane.blockedTicks} blocked`);
    if (lane.executions) bits.push(`${lane.executions} exec`);
    setText(row.info, bits.join(', '));
    const end = lane.end ?? tick;
    const l = pct(lane.start);
    row.bar.style.left = `${l}%`;
    row.bar.style.width = `${Math.max(0.5, pct(end + 1) - l)}%`;
    let title = `${lane.id} ${lane.type}: ${st}, from tick ${lane.start}` +
      (lane.end !== null ? ` to tick ${lane.end}` : '');
    const last = lane.blocks[lane.blocks.length - 1];
    if (st === 'blocked' && last) title += `; blocked by ${last.rule}: ${last.explain || ''}`;
    else if (st === 'blocked' && lane.rule) title += `; blocked by ${lane.rule}`;
    if (row.btn.title !== title) row.btn.title = title;

    // Block periods: [from, to) ticks, open ones up to now.
    while (row.blocks.length > lane.blocks.length) row.blocks.pop().remove();
    lane.blocks.forEach((b, i) => {
      let el = row.blocks[i];
      if (!el) {
        el = h('span', { class: 'block' });
        row.track.append(el);
        row.blocks.push(el);
      }
      const to = b.to ?? end + 1;
      const bl = pct(b.from);
      el.style.left = `${bl}%`;
      el.style.width = `${Math.max(0.5, pct(to) - bl)}%`;
      const t = `blocked by ${b.rule} from tick ${b.from}${b.to !== null ? ` to ${b.to}` : ' (ongoing)'}` +
        (b.message ? `: ${b.message}` : '') + (b.explain ? ` — ${b.explain}` : '');
      if (el.title !== t) el.title = t;
    });

    const active = !TERMINAL.has(st);
    if (this.operator && active && !row.cancel) {
      row.cancel = h('button', {
        type: 'button', class: 'cancel quiet', 'data-testid': 'lane-cancel',
        'aria-label': `Cancel ${lane.id}`, onclick: () => this.onCancel(lane.id),
      }, 'Cancel');
      row.li.append(row.cancel);
    } else if (row.cancel && (!active || !this.operator)) {
      row.cancel.remove();
      row.cancel = null;
    }
  }
}
