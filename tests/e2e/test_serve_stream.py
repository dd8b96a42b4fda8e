"""The live event stream (GET /api/v1/stream, SPEC §9) end to end: SSE
framing, reconnect with Last-Event-ID without gap or duplicate, resume by
?after_seq, an explicit gap marker when the ring no longer holds the
resume point, filters by event prefix and intent id, tokens, a slow
client cut off while a normal one keeps everything and the tick rate
holds, and SIGTERM ending every stream with a shutdown event.

Run: python3 test_serve_stream.py /path/to/intentd"""
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Results, Server  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
R = Results()
VIEWER = "viewer-token-for-stream-tests"
ADMIN = "admin-token-for-stream-tests-0"
ENV = {"INTENTD_VIEWER_TOKEN": VIEWER, "INTENTD_ADMIN_TOKEN": ADMIN}


class Stream:
    """An SSE client on a raw socket: sends the request, decodes chunked
    transfer encoding, splits messages.  Each message is a dict with
    'id', 'event', 'data' (text) and 'comment' keys as present."""

    def __init__(self, srv, query="", token=VIEWER, headers=None, rcvbuf=None, timeout=10):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((srv.host, srv.port))
        h = {"Host": f"{srv.host}:{srv.port}", "Accept": "text/event-stream"}
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        req = f"GET /api/v1/stream{query} HTTP/1.1\r\n"
        req += "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        self.sock.sendall(req.encode())
        self.raw = b""      # undecoded bytes
        self.body = b""     # decoded body not yet split into messages
        self.eof = False
        self.status = None
        self.headers = {}
        self.chunked = False
        self.done = False   # the chunked body ended

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
        return d

    def read_headers(self, timeout=10):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            d = self._recv(deadline)
            if not d:
                raise EOFError("closed before headers")
            self.raw += d
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            self.headers.setdefault(k.strip().lower(), []).append(v.strip())
        self.chunked = "chunked" in ",".join(self.headers.get("transfer-encoding", []))
        return self.status

    def _decode(self):
        if not self.chunked:
            self.body += self.raw
            self.raw = b""
            return
        while not self.done:
            nl = self.raw.find(b"\r\n")
            if nl < 0:
                return
            size = int(self.raw[:nl].split(b";")[0], 16)
            if size == 0:
                self.done = True
                return
            if len(self.raw) < nl + 2 + size + 2:
                return
            self.body += self.raw[nl + 2:nl + 2 + size]
            self.raw = self.raw[nl + 2 + size + 2:]

    def _split(self):
        out = []
        while b"\n\n" in self.body:
            m, self.body = self.body.split(b"\n\n", 1)
            msg = {}
            for ln in m.decode().split("\n"):
                if ln.startswith(":"):
                    msg["comment"] = ln[1:].strip()
                    continue
                k, _, v = ln.partition(":")
                msg[k] = v[1:] if v.startswith(" ") else v
            out.append(msg)
        return out

    def read(self, until, timeout=20):
        """Messages until until(all messages so far) is true, the stream
        ends, or the deadline (TimeoutError)."""
        deadline = time.monotonic() + timeout
        msgs = []
        if self.status is None:
            self.read_headers(timeout)
        while True:
            self._decode()
            msgs += self._split()
            if until(msgs) or self.eof or self.done:
                return msgs
            d = self._recv(deadline)
            self.raw += d

    def close(self):
        self.sock.close()


def ids(msgs):
    return [int(m["id"]) for m in msgs if "id" in m]


def events(msgs):
    return [m for m in msgs if "id" in m]


def n_events(k):
    return lambda msgs: len(events(msgs)) >= k


def contiguous(xs):
    return all(b == a + 1 for a, b in zip(xs, xs[1:]))


TMP = tempfile.mkdtemp(prefix="intentd-e2e-stream-")


def serve(*args):
    """A server in its own directory under TMP, with its own data dir."""
    work = tempfile.mkdtemp(dir=TMP)
    return Server(BIN, ["--scenario", "spacecraft", "--data", os.path.join(work, "data"),
                        "-t", "off"] + list(args), env=ENV, workdir=work)


def metric(srv, name):
    st, _, text = srv.request("GET", "/metrics", token=VIEWER)
    if st != 200:
        return None
    for ln in text.splitlines():
        if ln.startswith(name + " "):
            return float(ln.split()[1])
    return None


def status(srv):
    st, _, body = srv.request("POST", "/api/v1/console", body={"command": "status"}, token=ADMIN)
    return body if st == 200 else {}


# ------------------------------------------------------------------ cases

def auth(srv):
    s = Stream(srv, token=None)
    R.check(s.read_headers() == 401, "no token: 401")
    s.close()
    s = Stream(srv, token="not-a-valid-token-at-all")
    R.check(s.read_headers() == 401, "bad token: 401")
    s.close()
    s = Stream(srv, query="?after_seq=12x")
    R.check(s.read_headers() == 400, "bad after_seq: 400")
    s.close()


def query_errors(srv):
    """Refusals have the shape of every query refusal: 400 invalid_query,
    details {"param", "expected"}."""
    many = ",".join(f"p{i}." for i in range(17))
    cases = [("?after_seq=12x", None, "after_seq"),
             ("?after_seq=-1", None, "after_seq"),
             ("", {"Last-Event-ID": "x"}, "Last-Event-ID"),
             ("?event=" + many, None, "event"),
             ("?event=" + "e" * 64, None, "event"),
             ("?intent_id=bogus", None, "intent_id"),
             ("?intent_id=i-0", None, "intent_id"),
             ("?intent_id=i-" + "9" * 64, None, "intent_id")]
    for query, headers, param in cases:
        st, _, js = srv.request("GET", "/api/v1/stream" + query, token=VIEWER,
                                headers=headers)
        err = js.get("error", {}) if isinstance(js, dict) else {}
        d = err.get("details", {})
        ok = (st == 400 and err.get("code") == "invalid_query" and d.get("param") == param
              and isinstance(d.get("expected"), str) and param in err.get("message", ""))
        R.check(ok, f"{query or headers}: 400 invalid_query, details.param {param}"
                + ("" if ok else f" (got {st} {js})"))


def framing_and_reconnect(srv):
    a = Stream(srv)
    msgs = a.read(n_events(40))
    R.check(a.status == 200, "stream: 200")
    R.check(a.headers.get("content-type") == ["text/event-stream"], "content type text/event-stream")
    R.check("no-cache" in a.headers.get("cache-control", []), "Cache-Control: no-cache")
    R.check(a.headers.get("x-accel-buffering") == ["no"], "X-Accel-Buffering: no")
    ev = events(msgs)
    ok = all(json.loads(m["data"])["seq"] == int(m["id"]) and
             json.loads(m["data"])["event"] == m["event"] for m in ev)
    R.check(ok, "each message: id = seq, event = name, data = the JSON line")
    first = ids(msgs)
    R.check(contiguous(first), f"live ids contiguous ({first[0]}..{first[-1]})")
    R.check(not any(m.get("event") == "gap" for m in msgs), "no gap marker live")
    # Cut mid-stream: drop the socket with unread data, then resume.
    a.close()
    last = first[-1]
    b = Stream(srv, headers={"Last-Event-ID": str(last)})
    got = ids(b.read(n_events(40)))
    b.close()
    R.check(got[0] == last + 1, f"Last-Event-ID {last}: resumes at {got[0]}")
    union = first + got
    R.check(contiguous(union) and len(set(union)) == len(union),
            f"reconnect: {len(union)} events, contiguous, no duplicate")
    # Last-Event-ID wins over a stale ?after_seq in the URL (EventSource
    # reconnects with its original URL).
    c = Stream(srv, query=f"?after_seq={first[0]}", headers={"Last-Event-ID": str(got[-1])})
    got2 = ids(c.read(n_events(5)))
    c.close()
    R.check(got2[0] == got[-1] + 1, "Last-Event-ID takes precedence over after_seq")
    return first[0]


def after_seq(srv, held):
    n = held + 5
    s = Stream(srv, query=f"?after_seq={n}")
    got = ids(s.read(n_events(30)))
    s.close()
    R.check(got[0] == n + 1 and contiguous(got), f"?after_seq={n}: {got[0]}.. contiguous")
    s = Stream(srv, query="?after_seq=0")
    msgs = s.read(n_events(30))
    s.close()
    R.check(ids(msgs)[0] == 1 and not any(m.get("event") == "gap" for m in msgs),
            "?after_seq=0: everything from seq 1, no gap")


def filters(srv):
    s = Stream(srv, query="?after_seq=0&event=intent.,state.")
    msgs = events(s.read(n_events(60)))
    s.close()
    names = {m["event"] for m in msgs}
    R.check(all(n.startswith(("intent.", "state.")) for n in names) and "state.updated" in names,
            f"?event=intent.,state.: only those ({sorted(names)})")
    s = Stream(srv, query="?after_seq=0&event=engine.tick&event=intent.queued")
    msgs = events(s.read(n_events(30)))
    s.close()
    names = {m["event"] for m in msgs}
    R.check(names == {"engine.tick", "intent.queued"}, f"repeated ?event=: {sorted(names)}")
    s = Stream(srv, query="?after_seq=0&intent_id=i-000001")
    msgs = events(s.read(n_events(3)))
    s.close()
    iids = {json.loads(m["data"])["payload"].get("intent_id") for m in msgs}
    R.check(len(msgs) >= 3 and iids == {"i-000001"}, f"?intent_id=i-000001: {len(msgs)} events, all its own")
    # The short form names the same intent, as in GET, cancel and ?after=.
    s = Stream(srv, query="?after_seq=0&intent_id=i-1")
    short = events(s.read(n_events(len(msgs))))
    s.close()
    R.check([m["id"] for m in short[:len(msgs)]] == [m["id"] for m in msgs],
            f"?intent_id=i-1: the same {len(msgs)} events as i-000001")


def gap_marker():
    srv = serve("--rate", "1000", "--stream-ring", "256")
    try:
        probe = Stream(srv)
        probe.read(lambda m: any(x > 2000 for x in ids(m)), timeout=30)
        probe.close()
        s = Stream(srv, query="?after_seq=1")
        msgs = s.read(n_events(20))
        s.close()
        g = msgs[1] if len(msgs) > 1 else {}
        R.check(msgs[0].get("retry") is not None, "stream opens with a retry hint")
        R.check(g.get("event") == "gap" and "id" not in g, "resume from 1 with ring 256: gap marker first")
        d = json.loads(g.get("data", "{}"))
        got = ids(msgs)
        R.check(d.get("after_seq") == 1 and d.get("resume_seq") == got[0] and
                d.get("missed") == got[0] - 2 and got[0] > 1700,
                f"gap marker {d}, then seq {got[0]}")
        R.check(contiguous(got), "contiguous after the gap")
        R.check((metric(srv, "intentd_stream_gaps_total") or 0) >= 1, "gaps counted in /metrics")
    finally:
        srv.stop()


def slow_client():
    srv = serve("--rate", "100", "--stream-client-buffer", "65536")
    try:
        t0, s0 = time.monotonic(), status(srv)
        # Never reads: a tiny receive window so the server's socket fills.
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect((srv.host, srv.port))
        slow.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {VIEWER}"
                     f"\r\n\r\n".encode())
        good = Stream(srv)
        msgs = []
        deadline = time.monotonic() + 60
        cut = 0
        while time.monotonic() < deadline:
            msgs += good.read(n_events(50), timeout=10)
            cut = metric(srv, "intentd_stream_cut_off_total") or 0
            if cut >= 1:
                break
        msgs += good.read(n_events(100))
        R.check(cut >= 1, "the client that never reads is cut off (counted)")
        # Its socket is closed by the server: drain it and see the end.
        slow.settimeout(1)
        tail = b""
        end = time.monotonic() + 20
        closed = False
        while time.monotonic() < end:
            try:
                d = slow.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                closed = True
                break
            if not d:
                closed = True
                break
            tail = (tail + d)[-4096:]
        slow.close()
        R.check(closed, "its connection is closed")
        got = ids(msgs)
        marks = [m for m in msgs if m.get("event") in ("gap", "cut_off")]
        holes = [(a, b) for a, b in zip(got, got[1:]) if b != a + 1][:3]
        R.check(contiguous(got) and not marks,
                f"the normal client got every seq meanwhile ({got[0]}..{got[-1]})"
                + (f": {marks[:2]} {holes}" if marks or holes else ""))
        good.close()
        s1, t1 = status(srv), time.monotonic()
        ticks = s1.get("ticks", 0) - s0.get("ticks", 0)
        want = 100 * (t1 - t0)
        R.check(ticks >= 0.9 * want,
                f"tick rate held: {ticks} ticks in {t1 - t0:.1f} s at 100 Hz, slips "
                f"{s1.get('slips', 0) - s0.get('slips', 0)}")
    finally:
        srv.stop()


def shutdown():
    srv = serve("--rate", "200")
    streams = []
    try:
        streams = [Stream(srv), Stream(srv, query="?event=nothing.matches"),
                   Stream(srv, query="?after_seq=0")]
        for s in streams:
            s.read(lambda m: len(m) >= 1)
        srv.proc.send_signal(signal.SIGTERM)
        for i, s in enumerate(streams):
            msgs = s.read(lambda m: any(x.get("event") == "shutdown" for x in m), timeout=15)
            R.check(any(m.get("event") == "shutdown" and m.get("data") == "{}" for m in msgs),
                    f"stream {i}: shutdown event")
            rest = s.read(lambda m: False, timeout=10)
            R.check((s.eof or s.done) and not events(rest), f"stream {i}: then the stream ends")
        rc = srv.proc.wait(20)
        R.check(rc == 0, f"server exits 0 after SIGTERM (got {rc})")
    finally:
        for s in streams:
            s.close()
        srv.stop()


def main():
    srv = serve("--rate", "200")
    try:
        auth(srv)
        query_errors(srv)
        held = framing_and_reconnect(srv)
        after_seq(srv, held)
        filters(srv)
        R.check((metric(srv, "intentd_stream_clients_total") or 0) >= 8, "clients counted")
    finally:
        srv.stop()
    gap_marker()
    slow_client()
    shutdown()
    if not R.failed:
        shutil.rmtree(TMP, ignore_errors=True)
    else:
        print(f"(kept {TMP})")
    R.finish()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure, with the reason
        R.check(False, f"unexpected {type(e).__name__}: {e}")
        R.finish()
