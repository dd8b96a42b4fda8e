// sse.js: the live stream (GET /api/v1/stream, docs/api.md §7) read with
// fetch() and a ReadableStream, because EventSource cannot send the
// Authorization header and the token must never travel in a URL.  It
// parses Server-Sent Events, resumes after a drop with Last-Event-ID (the
// seq of the last real event: gap, cut_off and shutdown messages carry no
// id), and reconnects with jittered exponential backoff (0.5 s .. 10 s).
// A connection silent for longer than the server's 15 s ping is dropped
// and reopened.  A burst (a resume from far back, or the page catching up
// after the machine kept it waiting) is parsed in slices of SLICE_MS,
// giving the page back in between, so input and drawing never wait long.

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;
const SILENCE_MS = 40000; // the server pings after 15 s without events
const STABLE_MS = 3000;   // a connection this old resets the backoff
const SLICE_MS = 8;       // parse at most this long before yielding

/** Let the page run (input, a frame) before going on: a new task. */
function yieldToPage() {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    ch.port2.postMessage(0);
  });
}

export class SseClient {
  /**
   * opts: url; headers() -> the request headers (Authorization);
   * lastId() -> the seq to resume after (null: the live edge);
   * beforeConnect() -> a promise run before each reconnect (may throw);
   * onMessage(name, data, id) for each message; onStatus(state, info);
   * onAuthError(status) when the server refuses the token (no retry).
   */
  constructor(opts) {
    this.opts = opts;
    this.running = false;
    this.attempt = 0;
    this.ctrl = null;
    this.timer = null;
    this.generation = 0;
    this.connects = 0;
  }

  start() {
    this.stop();
    this.running = true;
    this.attempt = 0;
    this.connects = 0;
    this.connect(++this.generation);
  }

  stop() {
    this.running = false;
    this.generation++;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = null;
  }

  async connect(gen) {
    if (!this.running || gen !== this.generation) return;
    const o = this.opts;
    const reconnect = this.connects++ > 0;
    o.onStatus(reconnect ? 'reconnecting' : 'connecting', { attempt: this.attempt });
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    let opened = 0;
    let why = 'closed';
    try {
      if (reconnect && o.beforeConnect) await o.beforeConnect();
      if (gen !== this.generation) return;
      const headers = { ...o.headers(), Accept: 'text/event-stream' };
      const last = o.lastId();
      if (last !== null && last !== undefined) headers['Last-Event-ID'] = String(last);
      const res = await fetch(o.url, {
        headers,
        signal: ctrl.signal,
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
      if (res.status === 401 || res.status === 403) {
        this.running = false;
        o.onStatus('refused', { status: res.status });
        o.onAuthError(res.status);
        return;
      }
      if (!res.ok || !res.body) {
        why = `HTTP ${res.status}`;
        try {
          const body = await res.json();
          if (body && body.error) why += ' ' + body.error.code;
        } catch {
          // not JSON
        }
      } else {
        opened = performance.now();
        o.onStatus('connected', {});
        why = await this.read(res.body, ctrl, gen);
      }
    } catch (e) {
      why = e && e.name === 'AbortError' ? 'aborted' : (e && e.message) || 'network error';
    }
    if (!this.running || gen !== this.generation) return;
    if (opened && performance.now() - opened >= STABLE_MS) this.attempt = 0;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, base * (0.75 + Math.random() * 0.5)));
    this.attempt = Math.min(this.attempt + 1, 16);
    o.onStatus('disconnected', { reason: why, retryMs: delay, at: Date.now() });
    this.timer = setTimeout(() => this.connect(gen), delay);
  }

  /** Read and parse one response body until it ends; returns why it ended. */
  async read(body, ctrl, gen) {
    const reader = body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    let last = performance.now();
    const watchdog = setInterval(() => {
      if (performance.now() - last > SILENCE_MS) ctrl.abort();
    }, 5000);
    const msg = { event: '', data: [], id: null };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return 'the server ended the stream';
        if (gen !== this.generation) return 'replaced';
        last = performance.now();
        buf += dec.decode(value, { stream: true });
        buf = await this.lines(buf, msg, gen);
        if (gen !== this.generation) return 'replaced';
      }
    } catch (e) {
      return e && e.name === 'AbortError' ? 'no data for 40 s' : (e && e.message) || 'read error';
    } finally {
      clearInterval(watchdog);
      try {
        reader.releaseLock();
      } catch {
        // already released
      }
    }
  }

  /** Feed complete lines of buf to the message parser, yielding to the
   * page every SLICE_MS; resolves to the rest (an incomplete line). */
  async lines(buf, msg, gen) {
    const re = /\r\n|\n|\r/g;
    let start = 0;
    let t0 = performance.now();
    for (let n = 1; ; n++) {
      re.lastIndex = start;
      const m = re.exec(buf);
      if (!m) break;
      // A CR at the very end may be the first half of a CRLF.
      if (m[0] === '\r' && m.index === buf.length - 1) break;
      this.line(buf.slice(start, m.index), msg);
      start = m.index + m[0].length;
      if (n % 16 === 0 && performance.now() - t0 > SLICE_MS) {
        buf = buf.slice(start);
        start = 0;
        await yieldToPage();
        if (gen !== this.generation) return '';
        t0 = performance.now();
      }
    }
    return buf.slice(start);
  }

  /** One SSE line (the WHATWG event-stream rules, minus what we never use). */
  line(line, msg) {
    if (line === '') {
      if (msg.data.length || msg.event) {
        const name = msg.event || 'message';
        const data = msg.data.join('\n');
        const id = msg.id;
        msg.event = '';
        msg.data = [];
        msg.id = null;
        try {
          this.opts.onMessage(name, data, id);
        } catch (e) {
          // A rendering bug must not cost the connection.
          console.error('intentd: event handler failed', e);
        }
      }
      return;
    }
    if (line[0] === ':') return; // a comment: the server's ping
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? '' : line.slice(c + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'event') msg.event = value;
    else if (field === 'data') msg.data.push(value);
    else if (field === 'id' && !value.includes('\0')) msg.id = value;
    // `retry` is ignored: the backoff above decides.
  }
}
