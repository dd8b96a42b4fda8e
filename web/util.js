// util.js: small DOM and formatting helpers shared by the dashboard's
// modules.  Elements are built with createElement and textContent only:
// nothing is parsed as HTML, and no style attribute is ever written (the
// Content-Security-Policy forbids inline styles; geometry is set through
// element.style, which it allows).

/** Build an element: h('td', {class: 'x', 'data-testid': 'y', onclick: f}, child...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Remove every child of el. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** Set el's text only when it changed (keeps layout and selection stable). */
export function setText(el, text) {
  const t = String(text);
  if (el.textContent !== t) el.textContent = t;
}

/** A number for people: at most `digits` decimals, trailing zeros dropped. */
export function fmtNum(v, digits = 3) {
  if (typeof v !== 'number') return v === null || v === undefined ? '–' : String(v);
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e9 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toFixed(digits)));
}

/** Any state value for display. */
export function fmtValue(v) {
  if (typeof v === 'number') return fmtNum(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null || v === undefined) return '–';
  return String(v);
}

/** HH:MM:SS (local time) of a millisecond timestamp. */
export function fmtClock(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** An intent id in its full form ("i-42" -> "i-000042"), or null. */
export function normId(s) {
  const m = /^\s*i-0*(\d+)\s*$/i.exec(s || '');
  if (!m || m[1] === '' || /^0+$/.test(m[1])) return null;
  return 'i-' + m[1].padStart(6, '0');
}

/** The sequence number of a full or short intent id (0 if none). */
export function idSeq(id) {
  const m = /^i-(\d+)$/.exec(id || '');
  return m ? Number(m[1]) : 0;
}

/** Trim an array used as a ring to its last `cap` items, amortised: it is
 * cut only once it holds half as much again, so pushes stay O(1). */
export function trimRing(arr, cap) {
  if (arr.length > cap + (cap >> 1)) arr.splice(0, arr.length - cap);
}

/** One frame's allowance for a costly redraw (a chart, or a list replaced
 * in a burst): app.js resets it before each frame, and a view that finds it
 * taken defers its redraw to a later frame, so that no frame does two. */
const frame = { heavyTaken: false };

export function newFrame() {
  frame.heavyTaken = false;
}

/** Take this frame's costly redraw; false if another view took it. */
export function takeHeavy() {
  if (frame.heavyTaken) return false;
  frame.heavyTaken = true;
  return true;
}

/** Statuses after which an intent never changes again. */
export const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'expired', 'denied']);
