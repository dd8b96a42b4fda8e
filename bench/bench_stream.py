#!/usr/bin/env python3
"""bench_stream.py: live stream fan-out.  Starts `intentd serve` at a
tick rate (default 1000 Hz), opens many SSE clients (default 1000) from a
few processes with non-blocking sockets, and for --seconds checks that
every client saw every seq (contiguous, no gap markers, no cut-off) while
measuring events delivered, delivery lag (receive wall time minus the
event's timestamp; the server runs on the real clock), server CPU (from
/proc/PID/stat) and tick slips (console status).

Usage: bench/bench_stream.py [--bin build/intentd] [--clients 1000]
       [--seconds 30] [--rate 1000] [--procs 2]
Prints one summary line (stream_fanout: ...); exits 1 if a client missed
anything."""
import argparse
import calendar
import json
import multiprocessing as mp
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

VIEWER = "bench-viewer-token-0123456789"
ADMIN = "bench-admin-token-0123456789a"
ID = b"\nid: "
TS = b'"timestamp":"'


def spanning(tail, head, pat):
    """Occurrences of pat that straddle the boundary between two reads."""
    j = tail + head
    return j.count(pat) - tail.count(pat) - head.count(pat)


_midnight = {}


def ts_ms(b):
    """Unix ms of an ISO timestamp b'2025-01-01T00:00:01.000Z'."""
    day = b[:10]
    m = _midnight.get(day)
    if m is None:
        m = calendar.timegm(time.strptime(day.decode(), "%Y-%m-%d")) * 1000
        _midnight[day] = m
    return m + int(b[11:13]) * 3600000 + int(b[14:16]) * 60000 + int(b[17:19]) * 1000 + \
        int(b[20:23])


class Client:
    __slots__ = ("sock", "hdr", "status", "n", "first", "last", "tail",
                 "end", "bytes", "reads", "eof")

    def __init__(self, sock):
        self.sock = sock
        self.hdr = b""
        self.status = None
        self.n = self.bytes = self.reads = 0
        self.first = self.last = None
        self.tail = b""     # last 16 bytes (patterns across reads)
        self.end = b""      # last 128 bytes (a half-received id at the end)
        self.eof = False

    def feed(self, d, lags):
        """Count the messages in d (an id line each) and note the first and
        last ids.  A gap marker means a skipped seq and a cut-off ends the
        stream, so n == last - first + 1 without EOF proves every seq
        arrived; the server's counters say how many gaps and cut-offs
        there were."""
        if self.status is None:
            self.hdr += d
            if b"\r\n\r\n" not in self.hdr:
                return
            head, d = self.hdr.split(b"\r\n\r\n", 1)
            self.status = int(head.split(b" ", 2)[1])
            self.hdr = b""
        if not d:
            return
        self.reads += 1
        self.bytes += len(d)
        h = d[:16]
        self.n += d.count(ID) + spanning(self.tail, h, ID)
        self.tail = d[-16:] if len(d) >= 16 else (self.tail + d)[-16:]
        self.end = d[-128:] if len(d) >= 128 else (self.end + d)[-128:]
        j = d.rfind(ID)
        while j >= 0:
            k = d.find(b"\n", j + 5)
            if k >= 0:
                self.last = int(d[j + 5:k])
                break
            j = d.rfind(ID, 0, j)
        if self.first is None:
            j = d.find(ID)
            k = d.find(b"\n", j + 5) if j >= 0 else -1
            if k >= 0:
                self.first = int(d[j + 5:k])
        if self.reads % 8 == 1:
            j = d.find(TS)
            if j >= 0 and len(d) >= j + 13 + 24:
                lags.append(time.time() * 1000 - ts_ms(d[j + 13:j + 13 + 24]))

    def result(self):
        n = self.n
        j = self.end.rfind(ID)
        if j >= 0 and self.end.find(b"\n", j + 5) < 0:
            n -= 1  # counted, but its id line was cut off by the end of the run
        return (self.status, n, self.first, self.last, self.bytes, self.eof)


def worker(port, n, query, t_stop, period, q):
    req = (f"GET /api/v1/stream?{query} HTTP/1.0\r\nHost: 127.0.0.1\r\n"
           f"Authorization: Bearer {VIEWER}\r\n\r\n").encode()
    sel = selectors.EpollSelector()
    # Connect everything first, then ask for the streams all at once, so
    # no client's data waits unread while the others connect.
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]
    clients = []
    for s in socks:
        s.sendall(req)
        s.setblocking(False)
        c = Client(s)
        clients.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    lags = []
    # Read in rounds of `period`: each read then carries several ticks of
    # events (a consumer that batches, and Python's per-read cost stays
    # small next to the server's).
    nxt = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= t_stop:
            break
        nxt += period
        if nxt > now:
            time.sleep(nxt - now)
        else:
            nxt = now
        for key, _ in sel.select(timeout=0):
            c = key.data
            try:
                d = c.sock.recv(1 << 18)
            except BlockingIOError:
                continue
            except ConnectionError:
                d = b""
            if not d:
                c.eof = True
                sel.unregister(c.sock)
                continue
            c.feed(d, lags)
    q.put(([c.result() for c in clients], lags))
    for c in clients:
        c.sock.close()


def request(port, method, path, token, body=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall((f"{method} {path} HTTP/1.0\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
              + data)
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    return json.loads(out.split(b"\r\n\r\n", 1)[1])


def first_seq(port):
    """The seq of the next live event (read one from a stream)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall((f"GET /api/v1/stream HTTP/1.0\r\nAuthorization: Bearer {VIEWER}\r\n\r\n").encode())
    buf = b""
    while True:
        buf += s.recv(65536)
        j = buf.find(ID)
        if j >= 0 and buf.find(b"\n", j + 5) >= 0:
            s.close()
            return int(buf[j + 5:buf.find(b"\n", j + 5)])


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--bin", default=os.path.join(root, "build", "intentd"))
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--realtime", action="store_true",
                    help="run the server's tick thread real-time (needs privilege)")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--read-ms", type=float, default=10, help="client read period")
    ap.add_argument("--idle", action="store_true",
                    help="clients filter out every event: measures the cost of idle clients")
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.clients + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(want, soft)), hard))

    tmp = tempfile.mkdtemp(prefix="bench-stream-")
    env = dict(os.environ, INTENTD_VIEWER_TOKEN=VIEWER, INTENTD_ADMIN_TOKEN=ADMIN)
    err_path = os.path.join(tmp, "serve.stderr")
    proc = subprocess.Popen([a.bin, "serve", "--rate", str(a.rate), "--listen", "127.0.0.1:0",
                             "--data", os.path.join(tmp, "data"), "--quiet",
                             "-t", os.path.join(tmp, "telemetry.jsonl")]
                            + (["--realtime"] if a.realtime else []),
                            cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(err_path, "w"))
    ok = False
    try:
        port = None
        deadline = time.monotonic() + 20
        while port is None and time.monotonic() < deadline:
            if proc.poll() is not None:
                sys.exit("serve exited: " + open(err_path).read())
            for ln in open(err_path):
                if ln.startswith("intentd: listening on "):
                    port = int(ln.rsplit(":", 1)[1])
            time.sleep(0.02)
        if port is None:
            sys.exit("serve did not start: " + open(err_path).read())

        after = first_seq(port)
        query = "event=idle.nothing" if a.idle else f"after_seq={after}"
        if a.idle:  # the server's own cost first, without clients
            b0, bw = cpu_ticks(proc.pid), time.monotonic()
            time.sleep(min(5, a.seconds))
            base = (cpu_ticks(proc.pid) - b0) / os.sysconf("SC_CLK_TCK") / \
                (time.monotonic() - bw) * 100
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        t0 = time.monotonic()
        t_stop = t0 + a.seconds
        per = [a.clients // a.procs + (1 if i < a.clients % a.procs else 0)
               for i in range(a.procs)]
        s0 = request(port, "POST", "/api/v1/console", ADMIN, {"command": "status"})
        c0, w0 = cpu_ticks(proc.pid), time.monotonic()
        ps = [ctx.Process(target=worker, args=(port, n, query, t_stop, a.read_ms / 1000, q)) for n in per]
        for p in ps:
            p.start()
        results, lags = [], []
        for _ in ps:
            r, lg = q.get(timeout=a.seconds + 120)
            results += r
            lags += lg
        c1, w1 = cpu_ticks(proc.pid), time.monotonic()
        s1 = request(port, "POST", "/api/v1/console", ADMIN, {"command": "status"})
        for p in ps:
            p.join()

        if a.idle:
            fed = sum(r[4] for r in results)
            print(f"stream_idle: {a.clients} idle clients at {a.rate:g} Hz for {a.seconds:g} s: "
                  f"server cpu {(c1 - c0) / os.sysconf('SC_CLK_TCK') / (w1 - w0) * 100:.1f}% "
                  f"(without clients {base:.1f}%), {fed} bytes sent to them, "
                  f"{s1.get('slips', 0) - s0.get('slips', 0)} slips")
            ok = all(r[0] == 200 and r[1] == 0 and not r[5] for r in results)
        else:
            ok = report(a, results, lags, after, s0, s1, c0, c1, w0, w1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


def report(a, results, lags, after, s0, s1, c0, c1, w0, w1):
    """Check every client and print the summary line; True if all complete."""
    bad = []
    total = 0
    lasts = [r[5] for r in results if r[5] is not None]
    newest = max(lasts) if lasts else 0
    for i, (status, n, first, last, nbytes, eof) in enumerate(results):
        total += n
        if status != 200 or first != after + 1 or last is None or n != last - first + 1 \
                or eof or newest - last > 2 * a.rate * 1.7:
            bad.append((i, status, n, first, last, eof))
    gaps = s1["stream"]["gaps"] - s0["stream"]["gaps"]
    cuts = s1["stream"]["cut_off"] - s0["stream"]["cut_off"]
    secs = w1 - w0
    cpu = (c1 - c0) / os.sysconf("SC_CLK_TCK") / secs * 100
    slips = s1.get("slips", 0) - s0.get("slips", 0)
    ticks = s1.get("ticks", 0) - s0.get("ticks", 0)
    lag50, lag99 = pct(lags, 50), pct(lags, 99)
    print(f"stream_fanout: {a.clients} clients, {a.seconds:g} s at {a.rate:g} Hz: "
          f"{total / 1e6:.1f} M events delivered ({total / secs / 1e6:.2f} M/s), "
          f"{gaps} gaps, {cuts} cut off, {len(bad)} incomplete, {slips} slips "
          f"({ticks} ticks, {ticks / secs:.0f}/s), lag p50 {lag50:.0f} ms p99 {lag99:.0f} ms, "
          f"server cpu {cpu:.0f}% (of one core)")
    for b in bad[:5]:
        print("  incomplete client (i, status, events, first, last, eof):", b)
    return not bad


if __name__ == "__main__":
    main()
