#!/usr/bin/env python3
"""test_serve_durable.py: with `intentd serve --data DIR` a submission is
answered only once it is durable, and the wait holds no HTTP thread
(src/server/srv_durable.c): any number of clients wait for one commit.

To make submissions wait as long as the test needs, it holds SQLite's write
lock on the journal (BEGIN IMMEDIATE from another connection; intentd's
writer waits up to its 5 s busy timeout) with the tick loop paused (so the
tick thread does not wait for a commit while holding the state lock and
/metrics stays readable).

1. 200 concurrent submitters all get 202; every acknowledged id is listed by
   GET /api/v1/intents, and still after SIGKILL and a restart on the same
   --data.
2. While commits are held: 128 submissions wait at once (more than the 32
   HTTP threads that used to block in the wait; /metrics
   intentd_durable_waiting), none is answered before it is durable,
   idempotent duplicates of an undurable original wait too, and once the
   lock goes every one gets its 202 (duplicates 200 with the original's id).
3. Clients that disconnect (FIN or RST) while they wait do not crash the
   server: it answers the rest and keeps serving.
4. SIGTERM while 200 wait: every client gets an answer (202 once the lock is
   released during the shutdown grace; those ids survive a restart), none
   hangs; and with the lock held past the grace every client gets 503
   store_unavailable, still none hangs.
4a. While the running loop's tick waits for its commit, GET /api/v1/state
   and /metrics still answer at once (the wait is outside the state lock).
5. A commit that fails (the lock held past intentd's busy timeout) answers
   every waiting client 503 store_unavailable; after the store's repair
   submissions get 202 again.

Run it against the ASan build too: every server's stderr is checked for
sanitizer reports.

Usage: python3 test_serve_durable.py /path/to/intentd
"""
import http.client
import json
import os
import shutil
import socket
import sqlite3
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Results, Server, note, role_tokens  # noqa: E402

TOKENS, OPERATOR, ADMIN, VIEWER = role_tokens("durable")
OLD_POOL = 32             # HTTP threads that used to block in the wait
ANSWER_TIMEOUT = 30       # a client waiting longer than this counts as hung

R = Results()
SERVERS = []
BIN = None
TMP = None


def check(cond, what):
    return R.check(bool(cond), what)


def body(ref=3.0, key=None):
    b = {"type": "orbit_correction",
         "goal": {"metric": "position", "reference": ref, "tolerance": 0.1}}
    if key:
        b["idempotency_key"] = key
    return b


# ------------------------------------------------------------- servers

def start(data, tag, rate="20"):
    wd = os.path.join(TMP, tag)
    os.makedirs(wd, exist_ok=True)
    s = Server(BIN, ["--scenario", "spacecraft", "--data", data, "--rate", rate,
                     "--telemetry", "off", "--set", "engine.max_intents=100000"],
               TOKENS, workdir=wd, timeout=60)
    SERVERS.append(s)
    ok = s.wait_for(lambda: ready(s), timeout=60)
    if not ok:
        raise RuntimeError(f"{tag}: not ready: {s.stderr()[-2000:]}")
    return s


def ready(s):
    try:
        return s.request("GET", "/readyz")[0] == 200
    except (OSError, http.client.HTTPException):
        return False


def sanitizer_clean(s, tag):
    err = s.stderr()
    bad = [ln for ln in err.splitlines()
           if "AddressSanitizer" in ln or "LeakSanitizer" in ln or "runtime error:" in ln]
    check(not bad, f"{tag}: no sanitizer report in the server's stderr"
          + (f" (first: {bad[0]})" if bad else ""))


def metrics(s):
    st, _, text = s.request("GET", "/metrics", token=VIEWER)
    m = {}
    if st == 200:
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                m[k] = float(v)
    return m


def waiting(s):
    return metrics(s).get("intentd_durable_waiting", -1)


def pause(s):
    st, _, js = s.request("POST", "/api/v1/console", {"command": "pause"}, token=ADMIN)
    if st != 202:
        raise RuntimeError(f"pause: {st} {js}")
    if not s.wait_for(lambda: metrics(s).get("intentd_paused") == 1, timeout=20):
        raise RuntimeError("the loop did not pause")


class CommitHold:
    """Hold the journal's write lock: intentd's commits wait (up to its
    5 s busy timeout) until release()."""

    def __init__(self, data):
        self.db = sqlite3.connect(os.path.join(data, "intentd.db"), isolation_level=None,
                                  timeout=10)
        self.db.execute("BEGIN IMMEDIATE")
        self.t0 = time.monotonic()

    def held_s(self):
        return time.monotonic() - self.t0

    def release(self):
        if self.db is not None:
            self.db.execute("ROLLBACK")
            self.db.close()
            self.db = None


def submit_all(s, bodies, gate=True):
    """POST each body on its own connection, all at once; returns the list of
    answers (status, json) or ("error", text), and the threads (joined by
    join_all)."""
    out = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies)) if gate else None

    def one(i):
        c = None
        try:
            c = s.conn(timeout=ANSWER_TIMEOUT)
            c.connect()
            if barrier:
                barrier.wait(30)
            c.request("POST", "/api/v1/intents", body=json.dumps(bodies[i]),
                      headers={"Authorization": "Bearer " + OPERATOR,
                               "Content-Type": "application/json"})
            r = c.getresponse()
            raw = r.read()
            try:
                out[i] = (r.status, json.loads(raw))
            except ValueError:
                out[i] = (r.status, raw)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            out[i] = ("error", f"{type(e).__name__}: {e}")
        finally:
            if c is not None:
                c.close()

    ts = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(bodies))]
    for t in ts:
        t.start()
    return out, ts


def join_all(ts, timeout):
    """Join the threads by a common deadline; returns how many still run."""
    deadline = time.monotonic() + timeout
    for t in ts:
        t.join(max(0.0, deadline - time.monotonic()))
    return sum(1 for t in ts if t.is_alive())


def listed_ids(s):
    ids, after = set(), None
    while True:
        q = "/api/v1/intents?limit=1000" + (f"&after={after}" if after else "")
        st, _, js = s.request("GET", q, token=VIEWER)
        if st != 200:
            raise RuntimeError(f"list: {st} {js}")
        ids.update(it["id"] for it in js["intents"])
        after = js.get("next_after")
        if not after:
            return ids


def all_listed(s, ids, timeout=20):
    """Wait until every id is listed (accepted ids are created at the next
    tick); returns the ids still missing."""
    missing = set(ids)

    def look():
        missing.difference_update(listed_ids(s))
        return not missing
    s.wait_for(look, timeout=timeout, every=0.1)
    return missing


# ------------------------------------------------------------- parts

def part_concurrent():
    data = os.path.join(TMP, "data-1")
    s = start(data, "concurrent-0")
    n = 200
    answers, ts = submit_all(s, [body(ref=1.0 + i / 100) for i in range(n)])
    hung = join_all(ts, ANSWER_TIMEOUT + 10)
    ok = [a for a in answers if a and a[0] == 202]
    others = [a for a in answers if not a or a[0] != 202]
    check(not hung and len(ok) == n, f"concurrent: {n} concurrent submitters each got 202 "
          f"({len(ok)}; others {others[:3]})")
    acked = {a[1]["id"] for a in ok}
    check(len(acked) == len(ok), f"concurrent: each 202 names a distinct id ({len(acked)})")
    m = metrics(s)
    durable = m.get('intentd_durable_waits_total{outcome="durable"}')
    note(f"concurrent: most waiting at once {m.get('intentd_durable_waiting_max')}, "
         f"waits ended durable {durable}")
    missing = all_listed(s, acked)
    check(not missing, f"concurrent: every acknowledged id is listed by GET /api/v1/intents "
          f"({len(acked) - len(missing)}/{len(acked)})")
    s.proc.kill()
    s.proc.wait(30)
    sanitizer_clean(s, "concurrent")
    s = start(data, "concurrent-1")
    missing = all_listed(s, acked)
    check(not missing, f"concurrent: after SIGKILL and a restart every acknowledged id is "
          f"still listed ({len(acked) - len(missing)}/{len(acked)}"
          + (f"; e.g. {sorted(missing)[:3]}" if missing else "") + ")")
    check(s.stop() == 0, "concurrent: SIGTERM stop exits 0")
    sanitizer_clean(s, "concurrent restart")


def part_held(s, data):
    """Many waiting at once; duplicates wait with their original."""
    pause(s)
    hold = CommitHold(data)
    try:
        n = 128
        answers, ts = submit_all(s, [body(ref=2.0 + i / 100) for i in range(n)])
        got = s.wait_for(lambda: waiting(s) >= n, timeout=20, every=0.02)
        check(got, f"held: {n} submissions wait for one commit at once, more than the "
              f"{OLD_POOL} threads that used to wait (intentd_durable_waiting "
              f"{waiting(s)})")
        check(all(a is None for a in answers), "held: none is answered before it is durable "
              f"({sum(1 for a in answers if a is not None)} answered)")
        # An idempotent original, then its duplicates, while it is not durable.
        orig, ots = submit_all(s, [body(ref=4.5, key="durable-dup")], gate=False)
        s.wait_for(lambda: waiting(s) >= n + 1, timeout=10, every=0.02)
        dups, dts = submit_all(s, [body(ref=4.5, key="durable-dup") for _ in range(5)])
        got = s.wait_for(lambda: waiting(s) >= n + 6, timeout=10, every=0.02)
        check(got and all(a is None for a in dups),
              f"held: duplicates of an original that is not durable yet wait too "
              f"(waiting {waiting(s)}, dup answers {[a for a in dups if a]})")
        note(f"held: the journal's write lock held {hold.held_s():.2f}s")
    finally:
        hold.release()
    t0 = time.monotonic()
    hung = join_all(ts + ots + dts, ANSWER_TIMEOUT)
    dt = time.monotonic() - t0
    ok = sum(1 for a in answers if a and a[0] == 202)
    check(not hung and ok == n, f"held: once durable all {n} get 202 ({ok}, {hung} hung; "
          f"{dt:.2f}s after the lock went)")
    oid = orig[0][1].get("id") if orig[0] and orig[0][0] == 202 else None
    dup_ok = [a for a in dups if a and a[0] == 200 and a[1].get("duplicate") is True
              and a[1].get("id") == oid]
    check(oid and len(dup_ok) == 5, f"held: the original got 202 ({orig[0]}) and each "
          f"duplicate 200 with its id ({len(dup_ok)}/5)")
    m = metrics(s)
    check(m.get("intentd_durable_waiting_max", 0) > OLD_POOL,
          f"held: /metrics intentd_durable_waiting_max > {OLD_POOL} "
          f"({m.get('intentd_durable_waiting_max')})")
    check(s.wait_for(lambda: waiting(s) == 0, timeout=10), "held: nothing waits afterwards")


def part_readers(s, data):
    """A running loop whose tick waits for its commit does not hold the
    state lock meanwhile: the state and /metrics still answer at once."""
    st, _, js = s.request("POST", "/api/v1/console", {"command": "resume"}, token=ADMIN)
    check(st == 202, f"readers: resume ({st} {js})")
    hold = CommitHold(data)
    try:
        time.sleep(0.5)            # the tick thread is now waiting for a commit
        t0 = time.monotonic()
        st, _, js = s.request("GET", "/api/v1/state", token=VIEWER)
        m = metrics(s)
        dt = time.monotonic() - t0
        check(st == 200 and m and dt < 1.0,
              f"readers: while a tick waits for its commit, GET /api/v1/state and /metrics "
              f"answer in {dt:.3f}s (< 1 s; the commit is held {hold.held_s():.1f}s)")
        check(st == 200 and js.get("durable_tick", -1) < js.get("tick", 0),
              f"readers: the state says its tick is not durable yet "
              f"(tick {js.get('tick')}, durable_tick {js.get('durable_tick')})")
    finally:
        hold.release()


def raw_post(s, payload):
    sk = socket.create_connection((s.host, s.port), timeout=10)
    sk.sendall(payload)
    return sk


def part_disconnect(s, data):
    """Clients leave while they wait."""
    b = json.dumps(body(ref=6.0)).encode()
    req = (f"POST /api/v1/intents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OPERATOR}\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n\r\n").encode() + b
    m0 = metrics(s)
    before = m0.get('intentd_durable_waits_total{outcome="durable"}', 0)
    hold = CommitHold(data)
    socks = []
    try:
        n = 100
        socks = [raw_post(s, req) for _ in range(n)]
        got = s.wait_for(lambda: waiting(s) >= n, timeout=20, every=0.02)
        check(got, f"disconnect: {n} submissions waiting ({waiting(s)})")
        for i, sk in enumerate(socks):
            if i % 2:   # reset instead of a clean close
                sk.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sk.close()
        socks = []
    finally:
        for sk in socks:
            sk.close()
        hold.release()
    done = s.wait_for(lambda: waiting(s) == 0, timeout=20)
    after = metrics(s).get('intentd_durable_waits_total{outcome="durable"}', 0)
    check(done and after - before >= 100, f"disconnect: the waits of the clients that left "
          f"ended durable ({after - before:.0f})")
    check(s.proc.poll() is None and s.request("GET", "/healthz")[0] == 200,
          "disconnect: the server is still up and healthy")
    st, _, js = s.request("POST", "/api/v1/intents", body(ref=6.5), token=OPERATOR)
    check(st == 202, f"disconnect: a later submission gets 202 ({st} {js})")


def part_store_fails():
    """The store fails while answers wait: each gets 503 store_unavailable
    (not a hang, not a 202), and once the store is repaired submissions are
    acknowledged again."""
    data = os.path.join(TMP, "data-5")
    s = start(data, "store-fails")
    hold = CommitHold(data)
    n = 20
    try:
        answers, ts = submit_all(s, [body(ref=8.0 + i / 100) for i in range(n)])
        # intentd's writer gives up after its 5 s busy timeout: the commit
        # fails and every waiting answer learns it.
        hung = join_all(ts, ANSWER_TIMEOUT)
        held = hold.held_s()
    finally:
        hold.release()
    bad = [a for a in answers if not a or a[0] != 503
           or (a[1].get("error") or {}).get("code") != "store_unavailable"]
    check(not hung and not bad, f"store-fails: all {n} waiting get 503 store_unavailable when "
          f"the commit fails ({hung} hung, {len(bad)} other; e.g. {bad[:2]}; lock held "
          f"{held:.1f}s)")
    m = metrics(s)
    failed = m.get('intentd_durable_waits_total{outcome="failed"}', 0)
    check(failed >= n, f"store-fails: /metrics counts them as failed waits ({failed:.0f})")

    def accepted():
        try:
            st, _, js = s.request("POST", "/api/v1/intents", body(ref=8.5), token=OPERATOR)
        except (OSError, http.client.HTTPException):
            return None
        return js if st == 202 else None
    js = s.wait_for(accepted, timeout=60, every=0.25)
    check(js, f"store-fails: after the repair a submission gets 202 ({js})")
    check(s.stop() == 0, "store-fails: SIGTERM stop exits 0")
    sanitizer_clean(s, "store-fails")


def part_sigterm(data, release_in_grace):
    tag = "sigterm-202" if release_in_grace else "sigterm-503"
    s = start(data, tag)
    pause(s)
    hold = CommitHold(data)
    n = 200
    try:
        answers, ts = submit_all(s, [body(ref=7.0 + i / 1000) for i in range(n)])
        got = s.wait_for(lambda: waiting(s) >= n, timeout=20, every=0.02)
        check(got, f"{tag}: {n} submissions waiting when SIGTERM arrives ({waiting(s)})")
        t0 = time.monotonic()
        s.proc.terminate()
        if release_in_grace:
            threading.Event().wait(0.5)   # the schedule: release during the grace
            hold.release()
        hung = join_all(ts, ANSWER_TIMEOUT)
        dt = time.monotonic() - t0
    finally:
        hold.release()
    codes = {}
    for a in answers:
        k = a[0] if a else None
        codes[k] = codes.get(k, 0) + 1
    check(not hung, f"{tag}: no client hangs ({hung} still waiting; answered in {dt:.2f}s)")
    if release_in_grace:
        check(codes.get(202) == n, f"{tag}: every waiting client gets 202 when the store "
              f"commits during the shutdown ({codes})")
    else:
        bad = [a for a in answers if not a or a[0] != 503
               or (a[1].get("error") or {}).get("code") != "store_unavailable"]
        check(not bad, f"{tag}: every waiting client gets 503 store_unavailable when nothing "
              f"commits by the end of the grace ({codes}; e.g. {bad[:2]})")
    try:
        rc = s.proc.wait(30)
    except Exception:  # noqa: BLE001
        rc = None
    check(rc == 0, f"{tag}: the server exits 0 ({rc})")
    sanitizer_clean(s, tag)
    if release_in_grace:
        acked = {a[1]["id"] for a in answers if a and a[0] == 202}
        s = start(data, tag + "-restart")
        missing = all_listed(s, acked)
        check(not missing, f"{tag}: after a restart every acknowledged id is listed "
              f"({len(acked) - len(missing)}/{len(acked)})")
        check(s.stop() == 0, f"{tag}: restart stops cleanly")
        sanitizer_clean(s, tag + " restart")


def main():
    global BIN, TMP
    if len(sys.argv) != 2:
        print("usage: test_serve_durable.py /path/to/intentd", file=sys.stderr)
        sys.exit(2)
    BIN = os.path.abspath(sys.argv[1])
    TMP = tempfile.mkdtemp(prefix="intentd-durable-")
    note(f"binary {BIN}, temp dir {TMP}")
    t0 = time.monotonic()
    try:
        def held_and_disconnect():
            data = os.path.join(TMP, "data-2")
            s = start(data, "held")
            part_held(s, data)
            part_readers(s, data)
            part_disconnect(s, data)
            check(s.stop() == 0, "held: SIGTERM stop exits 0")
            sanitizer_clean(s, "held")

        for name, fn in (("concurrent", part_concurrent), ("held", held_and_disconnect),
                         ("sigterm-202", lambda: part_sigterm(os.path.join(TMP, "data-3"), True)),
                         ("sigterm-503", lambda: part_sigterm(os.path.join(TMP, "data-4"), False)),
                         ("store-fails", part_store_fails)):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - every failure is reported
                check(False, f"{name}: {type(e).__name__}: {e}")
            finally:
                for s in SERVERS:
                    if s.proc.poll() is None:
                        s.proc.kill()
                        s.proc.wait(10)
    finally:
        note(f"total {time.monotonic() - t0:.1f}s")
        if os.environ.get("INTENTD_E2E_KEEP") == "1":
            note(f"kept {TMP}")
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    R.finish()


if __name__ == "__main__":
    main()
