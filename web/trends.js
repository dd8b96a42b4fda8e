// trends.js: one small chart per number field over the chosen window (30 s,
// 2 min, 10 min), with Chart.js (Debian's UMD build, the global `Chart`):
// no animation, decimation of dense data, the field's limits drawn as
// lines.  The y axis is never fixed: its suggested range covers the
// visible data and the field's limits, and Chart.js widens it further if
// the data goes beyond, so nothing is ever clipped.

import { h, clear, fmtClock, fmtNum, takeHeavy } from './util.js';

const DRAW_EVERY_MS = 500; // a round of chart redraws at most this often

const COLORS = ['#58a6ff', '#3fb950', '#d2a8ff', '#ffa657', '#79c0ff', '#f778ba'];
const LIMIT_STYLE = {
  min: { color: '#8b949e', dash: [2, 3] },
  max: { color: '#8b949e', dash: [2, 3] },
  warn_low: { color: '#d29922', dash: [6, 4] },
  warn_high: { color: '#d29922', dash: [6, 4] },
  alarm_low: { color: '#ff7b72', dash: [6, 4] },
  alarm_high: { color: '#ff7b72', dash: [6, 4] },
};

// Draws the field's limits as horizontal lines with a small label.
const limitLines = {
  id: 'itdLimits',
  afterDatasetsDraw(chart) {
    const lines = chart.$itdLimits || [];
    const y = chart.scales.y;
    const { left, right, top, bottom } = chart.chartArea;
    const ctx = chart.ctx;
    for (const l of lines) {
      const py = Math.round(y.getPixelForValue(l.value)) + 0.5;
      if (py < top - 1 || py > bottom + 1) continue;
      ctx.save();
      ctx.strokeStyle = l.color;
      ctx.fillStyle = l.color;
      ctx.lineWidth = 1;
      ctx.setLineDash(l.dash);
      ctx.beginPath();
      ctx.moveTo(left, py);
      ctx.lineTo(right, py);
      ctx.stroke();
      ctx.font = '10px system-ui, sans-serif';
      ctx.textAlign = 'right';
      ctx.textBaseline = py - 12 < top ? 'top' : 'bottom';
      ctx.fillText(`${l.label} ${fmtNum(l.value)}`, right - 2, py + (py - 12 < top ? 2 : -2));
      ctx.restore();
    }
  },
};

export class TrendView {
  constructor(model) {
    this.model = model;
    this.root = document.querySelector('[data-testid="trends"]');
    this.select = document.querySelector('[data-testid="trend-window"]');
    this.charts = new Map(); // field -> Chart
    this.drawn = -Infinity;  // performance.now() when the last round of redraws began
    this.pending = [];       // the charts still to redraw in this round
    this.unbuilt = [];       // fields whose chart is still to be made
    this.holdFrames = 0;     // frames to wait before making one
    this.select.addEventListener('change', () => {
      this.drawn = -Infinity;
      this.model.mark('trends');
    });
  }

  /** Make and drop a throwaway chart while the page is idle (the token
   * form is up, nothing streams yet): Chart.js's first chart costs about
   * a hundred milliseconds of one-time setup, which would otherwise land in
   * the first frame of a page at full stream. */
  warm() {
    const Chart = window.Chart;
    if (!Chart || this.warmed) return;
    this.warmed = true;
    const idle = window.requestIdleCallback || ((f) => setTimeout(f, 50));
    idle(() => {
      const canvas = document.createElement('canvas');
      canvas.width = 300;
      canvas.height = 150;
      const c = new Chart(canvas, {
        type: 'line',
        data: { datasets: [{ data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], pointRadius: 0 }] },
        options: {
          animation: false, responsive: false, parsing: false, normalized: true,
          plugins: { legend: { display: false }, decimation: { enabled: true, algorithm: 'min-max' } },
          scales: { x: { type: 'linear' }, y: {} },
        },
        plugins: [limitLines],
      });
      c.destroy();
    });
  }

  windowMs() {
    return (Number(this.select.value) || 120) * 1000;
  }

  /** Drop the charts and lay out one per number field of the scenario.
   * Making a chart costs tens of milliseconds, so each is made in a frame
   * of its own (render), never all in the page's first frame. */
  rebuild() {
    for (const c of this.charts.values()) c.destroy();
    this.charts.clear();
    this.unbuilt = [];
    this.pending = [];
    // Not in this frame: the page's first layout comes first, and a
    // chart made now would force it inside its own making.
    this.holdFrames = 1;
    clear(this.root);
    const Chart = window.Chart;
    const numeric = this.model.fields.filter((f) => f.type === 'number');
    if (!Chart) {
      this.root.append(h('p', { class: 'muted', text: 'Charts unavailable (Chart.js did not load).' }));
      return;
    }
    if (!numeric.length) {
      this.root.append(h('p', { class: 'muted', text: 'This scenario has no number fields.' }));
      return;
    }
    Chart.defaults.color = '#c9d1d9';
    Chart.defaults.borderColor = '#30363d';
    Chart.defaults.font.family = 'system-ui, sans-serif';
    numeric.forEach((f, i) => {
      const canvas = h('canvas', { role: 'img', 'aria-label': `${f.name} over time` });
      const box = h('figure', { class: 'trend', 'data-field': f.name, 'data-testid': 'trend' },
        h('figcaption', { text: f.unit ? `${f.name} (${f.unit})` : f.name }),
        h('div', { class: 'canvas-box' }, canvas));
      this.root.append(box);
      this.unbuilt.push({ f, canvas, color: COLORS[i % COLORS.length] });
    });
  }

  /** Make one field's chart. */
  build({ f, canvas, color }) {
    const Chart = window.Chart;
    const chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: [{ label: f.name, data: [], borderColor: color, backgroundColor: color, borderWidth: 1.5, pointRadius: 0, tension: 0, spanGaps: true }] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        normalized: true,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        plugins: {
          legend: { display: false },
          decimation: { enabled: true, algorithm: 'min-max' },
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? fmtClock(items[0].parsed.x) : ''),
              label: (item) => `${f.name} ${fmtNum(item.parsed.y)}${f.unit ? ' ' + f.unit : ''}`,
            },
          },
        },
        scales: {
          x: {
            type: 'linear',
            ticks: { maxTicksLimit: 5, callback: (v) => fmtClock(v) },
            grid: { display: false },
          },
          y: { ticks: { maxTicksLimit: 6, callback: (v) => fmtNum(v) } },
        },
      },
      plugins: [limitLines],
    });
    chart.$itdLimits = Object.keys(LIMIT_STYLE)
      .filter((k) => typeof f[k] === 'number')
      .map((k) => ({ value: f[k], label: k.replace('_', ' '), ...LIMIT_STYLE[k] }));
    this.charts.set(f.name, chart);
    this.draw(f.name, chart);
  }

  /**
   * Redraw the charts one per frame (the frame's costly redraw, util.js
   * takeHeavy), a round every DRAW_EVERY_MS at most; `force` starts a
   * round now (the whole page redrawn).  Redrawing every chart of
   * thousands of points in each frame blocks the page for too long when
   * ticks come fast; a chart redrawn twice a second is smooth for a window
   * of 30 s or more.  The rest of a round comes in later frames (the view
   * marks itself dirty again), and so do charts not made yet.
   */
  render(force) {
    const t = performance.now();
    if (this.unbuilt.length) {
      if (this.holdFrames > 0) this.holdFrames--;
      else if (takeHeavy()) this.build(this.unbuilt.shift());
      this.model.mark('trends');
      return;
    }
    if (force) {
      this.pending = [...this.charts.keys()];
      this.drawn = t;
    }
    if (!this.pending.length) {
      if (t - this.drawn < DRAW_EVERY_MS) {
        this.model.mark('trends'); // not yet: in a later frame
        return;
      }
      this.pending = [...this.charts.keys()];
      this.drawn = t;
    }
    if (takeHeavy()) {
      const name = this.pending.shift();
      const chart = this.charts.get(name);
      if (chart) this.draw(name, chart);
    }
    if (this.pending.length) this.model.mark('trends');
  }

  /** Redraw one field's chart over the chosen window, up to now. */
  draw(name, chart) {
    const now = this.model.serverNow();
    const from = now - this.windowMs();
    const all = this.model.trends.get(name) || [];
    // The visible points (and one before, so the line starts at the
    // edge), as a copy: Chart.js instruments the arrays it is given.
    let a = 0;
    let b = all.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (all[mid].x < from) a = mid + 1;
      else b = mid;
    }
    const pts = all.slice(Math.max(0, a - 1));
    // The visible data's range, then the limits, then a little room.
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = pts.length - 1; i >= 0; i--) {
      const y = pts[i].y;
      if (y < lo) lo = y;
      if (y > hi) hi = y;
    }
    for (const l of chart.$itdLimits) {
      if (l.value < lo) lo = l.value;
      if (l.value > hi) hi = l.value;
    }
    if (lo === Infinity) {
      lo = 0;
      hi = 1;
    }
    // Chart.js rounds the range out to whole ticks, which leaves room
    // above and below; a flat line gets some of its own.
    const pad = hi > lo ? 0 : Math.max(Math.abs(hi) * 0.05, 0.5);
    const y = chart.options.scales.y;
    y.suggestedMin = lo - pad;
    y.suggestedMax = hi + pad;
    // Never clamp to the field's own min/max: a value beyond them (a
    // fault injection) must still be seen.
    delete y.min;
    delete y.max;
    chart.options.scales.x.min = from;
    chart.options.scales.x.max = now;
    // Chart.js replaces `data` by its decimated copy: give it ours each time.
    chart.data.datasets[0].data = pts;
    chart.update('none');
  }
}
