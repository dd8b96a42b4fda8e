// model.js: everything the dashboard knows, fed by the event stream (and
// the bootstrap requests), with bounded buffers: the last RAW_MAX events,
// lanes of the last LANES_MAX intents, LOG_MAX cycle log rows and the trend
// points of the longest window.  Views read it; `dirty` says which panels
// changed since they last drew.

import { TERMINAL, idSeq, trimRing } from './util.js';

export const RAW_MAX = 2000;
export const LANES_MAX = 200;
export const LOG_MAX = 600;
export const TREND_KEEP_MS = 10 * 60 * 1000 + 20000; // the longest window, and a margin
export const TREND_MAX_POINTS = 12000;               // per field (10 min at 20 Hz)

export class Model {
  constructor() {
    this.reset();
  }

  /** Forget everything (a new run, or another token). */
  reset() {
    this.scenario = null;
    this.fields = [];                 // the scenario's field definitions
    this.fieldMap = new Map();        // name -> definition
    this.typeMap = new Map();         // intent type name -> definition
    this.values = {};                 // field -> value at the last tick
    this.mode = null;
    this.tick = 0;
    this.paused = false;
    this.rateHz = 0;
    this.frame = null;                // the last engine.tick payload
    this.runId = null;
    this.seq = 0;                     // the seq of the last real event
    this.resumeAfter = 0;             // what Last-Event-ID sends (past a known hole)
    this.expectNext = 0;              // the seq expected next, 0 unknown
    this.bootSeq = 0;                 // the newest seq when the page (re)started
    this.lastEvent = null;            // {seq, timestamp, event} of the last real event
    this.lastGap = null;              // the gap marker just received, until the next message
    this.events = 0;
    this.gaps = 0;
    this.missed = 0;
    this.dropped = 0;                 // telemetry.delayed: events dropped by sinks
    this.delayedReports = 0;
    this.slips = 0;
    this.lastSlipMs = null;
    this.newestTs = 0;                // the newest event timestamp (ms)
    this.offsets = [];                // recent (arrival - timestamp) samples
    this.tickTimes = [];              // [cycle, timestamp ms] of recent ticks
    this.raw = [];                    // {n, seq, ts, name, intent, text, kind}
    this.rawN = 0;
    this.log = [];                    // one row per tick
    this.logN = 0;
    this.lanes = new Map();           // intent id -> lane
    this.trends = new Map();          // number field -> [{x, y}]
    this.dirty = new Set(['all']);
  }

  mark(...panels) {
    for (const p of panels) this.dirty.add(p);
  }

  /** The scenario (GET /api/v1/scenario). */
  setScenario(sc) {
    this.scenario = sc;
    this.fields = sc.fields || [];
    this.fieldMap = new Map(this.fields.map((f) => [f.name, f]));
    this.typeMap = new Map((sc.intent_types || []).map((t) => [t.name, t]));
    this.rateHz = sc.rate_hz || this.rateHz;
    for (const f of this.fields) if (f.type === 'number' && !this.trends.has(f.name)) this.trends.set(f.name, []);
    this.mark('all');
  }

  /** The state answer (GET /api/v1/state). */
  setState(st) {
    this.tick = st.tick || 0;
    this.mode = st.mode;
    this.values = { ...(st.state || {}) };
    this.paused = !!st.paused;
    this.rateHz = st.rate_hz || this.rateHz;
    if (st.frame) this.frame = st.frame;
    this.mark('state', 'policy', 'safety', 'header');
  }

  /** Intent summaries (GET /api/v1/intents) for lanes not seen in events. */
  seedIntents(list) {
    for (const s of list) {
      if (this.lanes.has(s.id)) continue;
      const lane = this.lane(s.id, s.created_tick || this.tick);
      lane.type = s.type;
      lane.status = s.status;
      lane.source = s.source;
      lane.blockedTicks = s.blocked_ticks || 0;
      lane.executions = s.executions || 0;
      lane.rule = s.rule || null;
      lane.seeded = true;
    }
    this.boundLanes();
    this.mark('lanes');
  }

  /** Where the stream starts: after seq `after`, with `newest` the newest held. */
  startAt(after, newest) {
    this.seq = after;
    this.resumeAfter = after;
    this.expectNext = after + 1;
    this.bootSeq = newest;
  }

  /** The server's clock now, estimated from recent arrivals. */
  serverNow() {
    if (!this.offsets.length) return Date.now();
    return Date.now() - Math.min(...this.offsets);
  }

  /** One real event (an envelope) and its JSON text.  False if it was already seen. */
  applyEvent(env, text) {
    this.lastGap = null;
    if (typeof env.seq === 'number') {
      if (env.seq <= this.seq) return false;
      if (this.expectNext && env.seq > this.expectNext) {
        // A hole no marker announced: count it all the same (the part of
        // it newer than the page's start, as for gap markers).
        const lost = env.seq - Math.max(this.expectNext, this.bootSeq + 1);
        if (lost > 0) {
          this.gaps++;
          this.missed += lost;
        }
        this.pushRaw({ kind: 'gap', text: `seq jumped from ${this.expectNext - 1} to ${env.seq}` });
      }
      this.seq = env.seq;
      this.resumeAfter = Math.max(this.resumeAfter, env.seq);
      this.expectNext = env.seq + 1;
    }
    this.events++;
    if (env.run_id) this.runId = env.run_id;
    this.lastEvent = { seq: env.seq, timestamp: env.timestamp, event: env.event };
    const ts = Date.parse(env.timestamp) || Date.now();
    if (ts > this.newestTs) this.newestTs = ts;
    this.offsets.push(Date.now() - ts);
    if (this.offsets.length > 40) this.offsets.shift();
    const p = env.payload || {};
    this.pushRaw({
      kind: 'event', seq: env.seq, ts, name: env.event,
      intent: typeof p.intent_id === 'string' ? p.intent_id : null, text,
    });
    const cycle = typeof env.cycle === 'number' ? env.cycle : this.tick;
    if (typeof p.intent_id === 'string' && (typeof p.status === 'string' || env.event.startsWith('intent.')))
      this.intentEvent(env.event, p, cycle);
    switch (env.event) {
      case 'engine.tick':
        this.tickEvent(p, cycle, ts);
        break;
      case 'engine.slip':
        this.slips++;
        this.lastSlipMs = p.ms_late;
        break;
      case 'telemetry.delayed':
        this.delayedReports++;
        for (const s of p.sinks || []) this.dropped += s.dropped_since_last || 0;
        break;
      case 'console.applied':
        if (p.command === 'pause') this.paused = true;
        else if (p.command === 'resume') this.paused = false;
        this.mark('header');
        break;
      default:
        break;
    }
    this.mark('health', 'raw');
    return true;
  }

  /** A gap marker: {after_seq, resume_seq, missed}.  Returns the events
   * it counts as missed (those newer than the page's start). */
  applyGap(d) {
    const resume = Number(d.resume_seq) || 0;
    const after = Number(d.after_seq) || 0;
    // Events at or below bootSeq only fill the history shown at start:
    // losing them is not a gap of the live view.
    const counted = resume > this.bootSeq + 1 ? resume - Math.max(after, this.bootSeq) - 1 : 0;
    if (counted > 0) {
      this.gaps++;
      this.missed += counted;
    }
    this.lastGap = { counted, resumeBefore: this.resumeAfter };
    this.expectNext = resume;
    this.resumeAfter = Math.max(this.resumeAfter, resume - 1);
    this.pushRaw({
      kind: 'gap',
      text: `gap: ${d.missed} events missed (after seq ${after}, resuming at ${resume})` +
        (counted > 0 ? '' : ', all older than this page'),
    });
    this.mark('health', 'raw');
    return counted;
  }

  /** cut_off: the server dropped us for falling behind (a gap marker came first). */
  applyCutOff(d) {
    if (this.lastGap) {
      // Resume from the last event received: the ring may still hold the
      // rest, and a reconnect announces (and counts) whatever it lost.
      if (this.lastGap.counted > 0) {
        this.gaps--;
        this.missed -= this.lastGap.counted;
      }
      this.resumeAfter = this.lastGap.resumeBefore;
      this.expectNext = this.resumeAfter + 1;
      this.lastGap = null;
    }
    this.pushRaw({ kind: 'cut_off', text: `cut off: ${d.backlog_bytes} bytes behind (limit ${d.client_buffer}); reconnecting` });
    this.mark('health', 'raw');
  }

  applyShutdown() {
    this.lastGap = null;
    this.pushRaw({ kind: 'shutdown', text: 'the server is shutting down' });
    this.mark('health', 'raw');
  }

  pushRaw(item) {
    item.n = ++this.rawN;
    if (item.ts === undefined) item.ts = Date.now();
    this.raw.push(item);
    trimRing(this.raw, RAW_MAX);
  }

  tickEvent(f, cycle, ts) {
    this.tick = cycle;
    this.frame = f;
    const st = f.state || {};
    for (const [k, v] of Object.entries(st)) if (k !== 'mode') this.values[k] = v;
    if (st.mode !== undefined) this.mode = st.mode;
    for (const [name, pts] of this.trends) {
      const v = st[name];
      if (typeof v !== 'number') continue;
      if (pts.length && pts[pts.length - 1].x > ts) continue; // keep x sorted
      pts.push({ x: ts, y: v });
      if (pts.length > TREND_MAX_POINTS + 1000) pts.splice(0, pts.length - TREND_MAX_POINTS);
      if ((pts.length & 255) === 0) this.trimTrend(pts, ts);
    }
    const pol = f.policy || {};
    const ex = f.execution || {};
    const sf = f.safety || {};
    this.log.push({
      n: ++this.logN, tick: cycle, ts, mode: st.mode,
      pick: pol.selected_intent_id || null,
      executed: ex.executed_intent_id || null,
      override: !!ex.override_applied, lock: !!ex.lock_applied,
      blocked: !!sf.blocked, blockedId: sf.blocked_intent_id || null,
      rule: sf.reason || null, explain: sf.explain || null,
    });
    trimRing(this.log, LOG_MAX);
    this.tickTimes.push([cycle, ts]);
    if (this.tickTimes.length > 256) this.tickTimes.splice(0, 128);
    // authorized -> executing -> queued happen inside one tick, and only
    // the first two have events: an intent still "running" at the end of
    // its tick went back to the queue.
    for (const lane of this.lanes.values())
      if ((lane.status === 'executing' || lane.status === 'authorized') && lane.lastCycle <= cycle) {
        lane.status = 'queued';
      }
    this.mark('state', 'policy', 'safety', 'trends', 'log', 'lanes', 'header');
  }

  trimTrend(pts, now) {
    const cut = now - TREND_KEEP_MS;
    let i = 0;
    while (i < pts.length && pts[i].x < cut) i++;
    if (i) pts.splice(0, i);
  }

  lane(id, start) {
    let lane = this.lanes.get(id);
    if (!lane) {
      lane = {
        id, seq: idSeq(id), type: '', status: 'received', source: null, start,
        end: null, lastCycle: start, blocks: [], blockedTicks: 0, executions: 0,
        rule: null, explain: null, seeded: false,
      };
      this.lanes.set(id, lane);
    }
    return lane;
  }

  intentEvent(name, p, cycle) {
    const lane = this.lane(p.intent_id, typeof p.created_tick === 'number' ? p.created_tick : cycle);
    if (p.type) lane.type = p.type;
    if (name === 'intent.received') {
      if (typeof p.created_tick === 'number') lane.start = p.created_tick;
      lane.source = p.source || lane.source;
    }
    if (typeof p.status === 'string') lane.status = p.status;
    lane.lastCycle = cycle;
    const open = lane.blocks.length ? lane.blocks[lane.blocks.length - 1] : null;
    const isOpen = open && open.to === null;
    if (name === 'intent.blocked') {
      if (isOpen && open.rule !== p.rule) open.to = cycle;
      if (!isOpen || open.rule !== p.rule) {
        lane.blocks.push({ from: cycle, to: null, rule: p.rule, explain: p.explain, message: p.message });
        if (lane.blocks.length > 64) lane.blocks.splice(0, lane.blocks.length - 64);
      } else {
        open.explain = p.explain;
      }
      lane.rule = p.rule;
      lane.explain = p.explain;
      if (typeof p.blocked_ticks === 'number') lane.blockedTicks = p.blocked_ticks;
    } else if (isOpen && lane.status !== 'blocked') {
      open.to = cycle;
    }
    if (typeof p.executions === 'number') lane.executions = p.executions;
    if (TERMINAL.has(lane.status)) {
      lane.end = cycle;
      const b = lane.blocks[lane.blocks.length - 1];
      if (b && b.to === null) b.to = cycle;
    }
    if (this.lanes.size > LANES_MAX) this.boundLanes();
    this.mark('lanes');
  }

  /** Keep the newest LANES_MAX lanes, dropping finished ones first. */
  boundLanes() {
    if (this.lanes.size <= LANES_MAX) return;
    const ids = [...this.lanes.values()].sort((a, b) => a.seq - b.seq);
    let over = this.lanes.size - LANES_MAX;
    for (const l of ids) {
      if (!over) break;
      if (l.end !== null || TERMINAL.has(l.status)) {
        this.lanes.delete(l.id);
        over--;
      }
    }
    for (const l of ids) {
      if (!over) break;
      if (this.lanes.delete(l.id)) over--;
    }
  }

  /** Ticks per second over the last few seconds of event time, or null. */
  tickRate() {
    const t = this.tickTimes;
    if (t.length < 2) return null;
    const last = t[t.length - 1];
    const now = this.serverNow();
    const period = this.rateHz > 0 ? 1000 / this.rateHz : 1000;
    if (now - last[1] > Math.max(3000, 3 * period)) return 0;
    const horizon = last[1] - Math.max(5000, 4 * period);
    let i = t.length - 1;
    while (i > 0 && t[i - 1][1] >= horizon) i--;
    const first = t[i];
    if (last[1] === first[1]) return null;
    return ((last[0] - first[0]) * 1000) / (last[1] - first[1]);
  }
}
