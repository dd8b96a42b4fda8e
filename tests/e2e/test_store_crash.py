#!/usr/bin/env python3
"""test_store_crash.py: crash safety of `intentd serve --data DIR` (SPEC 8,
docs/design/store.md).

1. A tiny deterministic check: 5 concurrent submissions, SIGKILL right after
   their 202s, restart: all 5 exist, each created at the tick its 202 named,
   and telemetry reports each intent.received exactly once.
2. The crash loop: 8 submitter threads hammer POST /api/v1/intents over
   keep-alive connections while the server is SIGKILLed at random moments
   (0.3 .. 1.5 s after it became ready) and restarted on the same data dir
   and telemetry file, 20 times, with a snapshot every 25 ticks (a restart
   starts from one).  Then, after a graceful stop:
   - telemetry: every line is JSON; seq is unique and increases along the
     file; engine.tick cycles increase (by exactly 1 where no seq is missing
     in between); no (cycle, event, intent_id) twice; at most one
     intent.executed per cycle; per intent, intent.executed `executions`
     rises by 1 each time (a larger step only across a seq gap); no
     intent.rejected (all input is valid and the table never fills);
   - the file was never truncated by a restart;
   - `intentd replay --data D --verify` exits 0;
   - `intentd audit verify --data D` exits 0; the audit chain records each
     intent's executions once each, numbered 1, 2, 3, ...; `intentd
     intents --data D` (offline) lists every acknowledged id;
   - after a final restart every acknowledged id answers 200, created at
     the received_tick of its 202; the store holds at least as many intents
     as were acknowledged, nothing was evicted, no id was acknowledged
     twice, and no record has fewer executions than telemetry reported.

Usage: python3 test_store_crash.py /path/to/intentd
Prints one line per check and a final "N passed, M failed"; exit 1 on failure.
Environment: INTENTD_CRASH_SEED (random seed), INTENTD_CRASH_KILLS (default
20), INTENTD_CRASH_EXEC=1 (many more intent effects, see EXEC_HEAVY),
INTENTD_E2E_KEEP=1 keeps the temporary directory.
"""
import bisect
import http.client
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Results, Server, note, role_tokens  # noqa: E402

TOKENS, OPERATOR, ADMIN, VIEWER = role_tokens("crash")

KILLS = int(os.environ.get("INTENTD_CRASH_KILLS", "20"))
SUBMITTERS = 8
MAX_ACKS = 90000          # stay well under engine.max_intents=100000: no eviction
START_TIMEOUT = 60.0      # a restart includes recovery
LOOP_BUDGET = 110.0       # seconds for the whole kill loop
# The spacecraft's position only rises (+0.5 per orbit_correction) and is
# blocked beyond +10, so with the prescribed arguments only ~100 effects run
# in the whole test.  INTENTD_CRASH_EXEC=1 lifts the bound and spreads the
# references to 2000: an effect nearly every tick (thousands checked), at
# the price of a slower server (thousands of active intents scored per tick).
EXEC_HEAVY = os.environ.get("INTENTD_CRASH_EXEC") == "1"

R = Results()
ALL_SERVERS = []          # every Server started, killed in the finally
BIN = None
TMP = None


def check(cond, what):
    return R.check(bool(cond), what)


# ------------------------------------------------------------- servers

def start_server(args, tag, timeout=START_TIMEOUT, stdout_path=None):
    wd = os.path.join(TMP, tag)
    os.makedirs(wd, exist_ok=True)
    t0 = time.monotonic()
    s = Server(BIN, args, TOKENS, workdir=wd, timeout=timeout, stdout_path=stdout_path)
    ALL_SERVERS.append(s)
    left = max(1.0, timeout - (time.monotonic() - t0))
    if not wait_ready(s, left):
        raise RuntimeError(f"{tag}: /readyz never answered 200 within {timeout:.0f}s; "
                           f"stderr: {s.stderr()[-2000:]}")
    return s, time.monotonic() - t0


def wait_ready(s, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if s.proc.poll() is not None:
            return False
        try:
            st, _, _ = s.request("GET", "/readyz")
            if st == 200:
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.02)
    return False


def kill_server(s):
    """SIGKILL; returns whether it was still running when killed."""
    alive = s.proc.poll() is None
    s.proc.kill()
    s.proc.wait(30)
    return alive


def api(conn, method, path, body=None, token=VIEWER):
    h = {"Authorization": "Bearer " + token}
    if body is not None:
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    raw = r.read()
    try:
        js = json.loads(raw)
    except ValueError:
        js = None
    return r.status, js, raw


def state_tick(s):
    st, _, js = s.request("GET", "/api/v1/state", token=VIEWER)
    return js["tick"] if st == 200 else None


def wait_ticks_after(s, n=2, timeout=20):
    """Wait until n more ticks have run (so acknowledged inputs queued for
    the first tick after recovery have been applied)."""
    t0 = state_tick(s)
    if t0 is None:
        return False
    return bool(s.wait_for(lambda: (state_tick(s) or 0) >= t0 + n, timeout=timeout))


def get_intent(s, conn_box, iid, timeout=10):
    """GET one intent, waiting while it is 'pending'.  (status, json)"""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if conn_box[0] is None:
                conn_box[0] = s.conn(timeout=10)
            st, js, _ = api(conn_box[0], "GET", "/api/v1/intents/" + iid)
        except (OSError, http.client.HTTPException):
            conn_box[0].close()
            conn_box[0] = None
            if time.monotonic() > deadline:
                return None, None
            time.sleep(0.05)
            continue
        reason = ((js or {}).get("error") or {}).get("details", {}).get("reason")
        if st == 404 and reason == "pending" and time.monotonic() < deadline:
            time.sleep(0.05)
            continue
        return st, js


def list_all(s):
    """Every intent held, paging with after; (dict id -> summary, total_in_memory)."""
    out, after, total = {}, None, None
    c = s.conn(timeout=30)
    try:
        for _ in range(10000):
            q = "/api/v1/intents?limit=1000" + (f"&after={after}" if after else "")
            st, js, raw = api(c, "GET", q)
            if st != 200:
                raise RuntimeError(f"list {q}: {st} {raw[:300]!r}")
            for it in js["intents"]:
                out[it["id"]] = it
            total = js.get("total_in_memory")
            after = js.get("next_after")
            if not after:
                return out, total
        raise RuntimeError("list paging does not end")
    finally:
        c.close()


def console_status(s):
    st, _, js = s.request("POST", "/api/v1/console", {"command": "status"}, token=ADMIN)
    return js if st == 200 else None


def intent_body(rng):
    hi = 2000.0 if EXEC_HEAVY else 9.0
    body = {"type": "orbit_correction",
            "goal": {"metric": "position", "reference": round(rng.uniform(-9.0, hi), 3),
                     "tolerance": 0.1}}
    if rng.random() < 0.3:
        body["deadline_ticks"] = rng.randint(20, 5000)
    if rng.random() < 0.2:
        body["priority"] = rng.randint(0, 5)
    return body


# ------------------------------------------------------------- telemetry

HEAD_RE = re.compile(rb'"cycle":(\d+),"seq":(\d+),"event":"([^"]+)"')
IID_RE = re.compile(rb'"payload":\{"intent_id":"([^"]+)"')
SMALL = 16384


def read_telemetry(path):
    """Parse the telemetry file.  Small lines are parsed as JSON; large ones
    (engine.tick / policy.evaluated with big score maps) get a structural
    check plus their envelope head, which is all the checks need."""
    evs, bad = [], []
    rejected = {}        # "reason: message" -> count, for intent.rejected events
    # events the file sink dropped (drop-oldest under load), as
    # telemetry.delayed reported them: the only seq gaps allowed
    rejected["file sink dropped"] = 0
    with open(path, "rb") as f:
        off = 0
        for line in f:
            lo = off
            off += len(line)
            if not line.strip():
                continue
            if len(line) < SMALL:
                try:
                    e = json.loads(line)
                    p = e.get("payload") or {}
                    evs.append((e["seq"], e["cycle"], e["event"], p.get("intent_id"),
                                p.get("executions"), p.get("event")))
                    if e["event"] == "intent.rejected":
                        k = f"{p.get('reason')}: {p.get('message')}"
                        rejected[k] = rejected.get(k, 0) + 1
                    if e["event"] == "telemetry.delayed":
                        rejected["file sink dropped"] += sum(
                            x.get("dropped_since_last", 0) for x in p.get("sinks", [])
                            if x.get("sink") == "file")
                except (ValueError, KeyError, TypeError, AttributeError):
                    bad.append((lo, line[:200]))
                continue
            m = HEAD_RE.search(line, 0, 400)
            ok = (m is not None and line.startswith(b'{"schema_version"')
                  and line.rstrip().endswith(b"}") and line.count(b'"schema_version"') == 1)
            if not ok:
                bad.append((lo, line[:200]))
                continue
            mi = IID_RE.search(line, 0, 600)
            evs.append((int(m.group(2)), int(m.group(1)), m.group(3).decode(),
                        mi.group(1).decode() if mi else None, None, None))
    return evs, bad, rejected


# events that may legitimately occur several times in one cycle without an intent id
MULTI_OK = {"intent.rejected", "console.applied", "engine.fault", "telemetry.delayed"}


def check_telemetry(evs, bad):
    """Checks 4b.  Returns {intent_id: max executions seen}."""
    check(not bad, f"every telemetry line is one JSON event ({len(bad)} bad"
          + (f"; first at byte {bad[0][0]}: {bad[0][1]!r}" if bad else "") + ")")
    seqs = [e[0] for e in evs]
    dup_seq = len(seqs) - len(set(seqs))
    check(dup_seq == 0, f"every seq appears at most once ({dup_seq} repeated)")
    back = [(seqs[i - 1], seqs[i]) for i in range(1, len(seqs)) if seqs[i] <= seqs[i - 1]]
    check(not back, f"seq increases along the file ({len(back)} steps back"
          + (f", first {back[0][0]} -> {back[0][1]}" if back else "") + ")")
    sset = sorted(set(seqs))
    missing_total = (sset[-1] - sset[0] + 1 - len(sset)) if sset else 0
    note(f"telemetry: {len(evs)} events, seq {sset[0] if sset else '-'}..{sset[-1] if sset else '-'}, "
         f"{missing_total} seq missing (gaps allowed at crashes)")

    def gap_between(a, b):
        """Is some seq strictly between a and b missing from the file?"""
        if b - a <= 1:
            return False
        present = bisect.bisect_left(sset, b) - bisect.bisect_right(sset, a)
        return present < b - a - 1

    # (cycle, event, intent_id) unique; telemetry.truncated keyed by the event it replaced
    seen, dups = set(), []
    for seq, cyc, ev, iid, _, replaced in evs:
        if ev in MULTI_OK and iid is None:
            continue
        key = (cyc, ev if ev != "telemetry.truncated" else "truncated:" + str(replaced), iid)
        if key in seen:
            dups.append((seq, key))
        seen.add(key)
    check(not dups, f"no (cycle, event, intent_id) appears twice ({len(dups)} repeats"
          + (f", first seq {dups[0][0]} {dups[0][1]}" if dups else "") + ")")

    # engine.tick: cycles increase; +1 exactly where no seq is missing between
    # (an engine.tick over the size limit is written as telemetry.truncated)
    ticks = [(seq, cyc) for seq, cyc, ev, _, _, replaced in evs
             if ev == "engine.tick" or (ev == "telemetry.truncated" and replaced == "engine.tick")]
    tick_back = [(a, b) for a, b in zip(ticks, ticks[1:]) if b[1] <= a[1]]
    check(not tick_back, f"engine.tick cycles increase along the file ({len(tick_back)} repeats"
          " or steps back" + (f", first {tick_back[0]}" if tick_back else "") + ")")
    tick_jump = [(a, b) for a, b in zip(ticks, ticks[1:])
                 if b[1] > a[1] + 1 and not gap_between(a[0], b[0])]
    check(not tick_jump, f"consecutive engine.tick cycles differ by 1 where no seq is missing "
          f"({len(tick_jump)} jumps" + (f", first {tick_jump[0]}" if tick_jump else "") + ")")
    if ticks:
        note(f"telemetry: engine.tick cycles {ticks[0][1]}..{ticks[-1][1]} ({len(ticks)} ticks, "
             "truncated ones included)")

    # one execution per cycle
    per_cycle = {}
    for seq, cyc, ev, iid, *_ in evs:
        if ev == "intent.executed":
            per_cycle.setdefault(cyc, []).append(iid)
    multi = {c: v for c, v in per_cycle.items() if len(v) > 1}
    check(not multi, f"at most one intent.executed per cycle ({len(multi)} cycles with more"
          + (f", e.g. cycle {min(multi)}: {multi[min(multi)]}" if multi else "") + ")")

    # per intent: executions 1, 2, 3, ... (a larger step only across a seq gap)
    first_seq, hist = {}, {}
    for seq, cyc, ev, iid, execs, _ in evs:
        if iid is None:
            continue
        first_seq.setdefault(iid, seq)
        if ev == "intent.executed":
            hist.setdefault(iid, []).append((seq, execs))
    repeats, unexplained, checked, maxexec = [], [], 0, {}
    for iid, h in hist.items():
        prev_seq = first_seq[iid] if first_seq[iid] < h[0][0] else 0
        prev_n = 0
        for seq, n in h:
            checked += 1
            if not isinstance(n, int) or n <= prev_n:
                repeats.append((iid, prev_n, n, seq))
            elif n != prev_n + 1 and not gap_between(prev_seq, seq):
                unexplained.append((iid, prev_n, n, seq))
            if isinstance(n, int):
                prev_n = max(prev_n, n)
            prev_seq = seq
        maxexec[iid] = prev_n
    check(not repeats, f"no intent's execution count repeats or goes back in telemetry "
          f"({len(repeats)} cases" + (f", first {repeats[0]}" if repeats else "") + ")")
    check(not unexplained, f"execution counts rise by 1 (larger steps only across a seq gap) "
          f"({len(unexplained)} cases" + (f", first {unexplained[0]}" if unexplained else "") + ")")
    note(f"executions checked: {checked} intent.executed events of {len(hist)} intents")
    return maxexec, checked


# ------------------------------------------------------------- part 1

def small_check(rng):
    """5 submissions, SIGKILL at once after their 202s, restart."""
    d = os.path.join(TMP, "small-data")
    tel = os.path.join(TMP, "small-telemetry.jsonl")
    args = ["--scenario", "spacecraft", "--data", d, "--rate", "5", "--telemetry", tel]
    s, _ = start_server(args, "small-0")
    bodies = [intent_body(rng) for _ in range(5)]
    for i, b in enumerate(bodies):
        b["goal"]["reference"] = 1.5 + i   # distinct, to check the content survives
    answers = [None] * 5
    gate = threading.Barrier(5)

    def one(i):
        c = s.conn(timeout=10)
        try:
            gate.wait(10)
            answers[i] = api(c, "POST", "/api/v1/intents", bodies[i], token=OPERATOR)
        except Exception as e:  # noqa: BLE001 - reported below
            answers[i] = (None, None, repr(e).encode())
        finally:
            c.close()

    ts = [threading.Thread(target=one, args=(i,)) for i in range(5)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    alive = kill_server(s)
    ok = all(a is not None and a[0] == 202 for a in answers)
    check(ok, "small: 5 concurrent submissions answered 202"
          + ("" if ok else f" (got {[(a[0], a[2][:120]) if a else None for a in answers]})"))
    check(alive, "small: server was running when SIGKILLed")
    if not ok:
        return
    acked = {a[1]["id"]: (a[1]["received_tick"], bodies[i]) for i, a in enumerate(answers)}
    note(f"small: acknowledged {sorted(acked)} received_tick "
         f"{sorted({v[0] for v in acked.values()})}")

    s, dt = start_server(args, "small-1")
    note(f"small: restarted in {dt:.2f}s")
    box = [None]
    present, tick_ok, body_ok, problems = 0, 0, 0, []
    for iid, (rtick, body) in sorted(acked.items()):
        st, js = get_intent(s, box, iid, timeout=15)
        if st != 200:
            problems.append(f"{iid}: {st} {js}")
            continue
        present += 1
        if js.get("created_tick") == rtick:
            tick_ok += 1
        else:
            problems.append(f"{iid}: created_tick {js.get('created_tick')} != received_tick {rtick}")
        g = js.get("goal") or {}
        if g.get("reference") == body["goal"]["reference"] and js.get("actor") == "operator":
            body_ok += 1
        else:
            problems.append(f"{iid}: goal {g} actor {js.get('actor')} (sent {body['goal']})")
    if box[0]:
        box[0].close()
    check(present == 5, f"small: all 5 acknowledged intents present after SIGKILL + restart "
          f"({present}/5)")
    check(tick_ok == 5, f"small: each created at the received_tick its 202 named ({tick_ok}/5)")
    check(body_ok == 5, f"small: each kept its goal and actor ({body_ok}/5)")
    for p in problems:
        note("small: " + p)
    # The restarted server's live stream holds the run's events from before
    # the crash too, each with the seq, cycle and time it had.
    st, _, ring = s.request("GET", "/api/v1/events?after_seq=0&limit=1000", token=VIEWER)
    ring = (ring or {}).get("events") or [] if st == 200 else []
    rc = s.stop()
    check(rc == 0, f"small: SIGTERM stop exits 0 ({rc})")
    by_seq = {}
    with open(tel, "rb") as f:
        for line in f:
            try:
                e = json.loads(line)
                by_seq[e["seq"]] = (e["event"], e["cycle"], e["timestamp"])
            except (ValueError, KeyError):
                pass
    rseqs = [e.get("seq") for e in ring]
    straight = bool(rseqs) and rseqs == list(range(rseqs[0], rseqs[0] + len(rseqs)))
    differ = [e["seq"] for e in ring if by_seq.get(e["seq"]) != (e["event"], e["cycle"], e["timestamp"])]
    check(st == 200 and straight and rseqs[0] == 1 and not differ,
          f"small: after the restart the stream holds seq 1..{rseqs[-1] if rseqs else '-'} without a "
          f"break, each event as the file has it ({len(differ)} differ"
          + (f", e.g. seq {differ[:3]}" if differ else "") + ")")
    evs, bad, _ = read_telemetry(tel)
    rec = {}
    for seq, cyc, ev, iid, *_ in evs:
        if ev == "intent.received" and iid in acked:
            rec.setdefault(iid, []).append(cyc)
    seqs = sorted(e[0] for e in evs)
    holes = (seqs[-1] - len(seqs)) if seqs else 0    # seq starts at 1
    # The restart re-emits the events of the ticks it replays (those the
    # crash kept from the file), so each intent.received is there, once, at
    # the promised cycle, and no seq is missing.
    once = all(len(rec.get(i, [])) == 1 for i in acked) and holes == 0
    at_tick = all(rec.get(i, [acked[i][0]]) == [acked[i][0]] for i in acked)
    check(not bad and once, f"small: telemetry reports each intent.received once "
          f"(cycles { {i: rec.get(i) for i in sorted(acked)} }, {holes} seq missing, "
          f"{len(bad)} bad lines)")
    check(at_tick, "small: ... at the cycle of its received_tick")


def stdout_check(rng):
    """Telemetry on stdout, SIGKILL, restart: stdout cannot tell what it
    printed, so the restarted server prints none of the events it re-emits
    (no seq twice across the two runs), while its live stream has them all."""
    d = os.path.join(TMP, "stdout-data")
    args = ["--scenario", "spacecraft", "--data", d, "--rate", "50", "--telemetry", "-"]
    out1, out2 = os.path.join(TMP, "stdout-1.jsonl"), os.path.join(TMP, "stdout-2.jsonl")
    s, _ = start_server(args, "stdout-0", stdout_path=out1)
    c = s.conn(timeout=10)
    for _ in range(5):
        api(c, "POST", "/api/v1/intents", intent_body(rng), token=OPERATOR)
    c.close()
    time.sleep(0.5 + rng.random())
    check(kill_server(s), "stdout: the server was running when SIGKILLed")
    s, _ = start_server(args, "stdout-1", stdout_path=out2)
    st, _, ring = s.request("GET", "/api/v1/events?after_seq=0&limit=1000", token=VIEWER)
    time.sleep(0.5)
    rc = s.stop()
    check(rc == 0, f"stdout: SIGTERM stop exits 0 ({rc})")

    def seqs(path):
        out = []
        with open(path, "rb") as f:
            for line in f:
                try:
                    out.append(json.loads(line)["seq"])
                except (ValueError, KeyError):
                    pass  # a line the kill tore
        return out
    a, b = seqs(out1), seqs(out2)
    again = sorted(set(a) & set(b))
    check(a and b and not again and b == sorted(b),
          f"stdout: no seq printed twice across the restart ({len(a)} then {len(b)} events, "
          f"first run up to {max(a) if a else '-'}, second from {min(b) if b else '-'}; "
          f"repeated {again[:5]})")
    rseqs = [e.get("seq") for e in (ring or {}).get("events") or []] if st == 200 else []
    check(rseqs[:1] == [1] and rseqs == list(range(1, len(rseqs) + 1)),
          f"stdout: the restarted stream still holds the run from seq 1 without a break "
          f"({rseqs[:1]}..{rseqs[-1:]}, {len(rseqs)} events)")


# ------------------------------------------------------------- part 2

class Target:
    """The server the submitters talk to; `up` is clear while it is down."""

    def __init__(self):
        self.lock = threading.Lock()
        self.addr = None
        self.gen = 0
        self.up = threading.Event()

    def set(self, s):
        with self.lock:
            self.addr = (s.host, s.port)
            self.gen += 1
        self.up.set()

    def get(self):
        with self.lock:
            return self.addr, self.gen


def submitter(k, target, stop, acked, stats, seed):
    """POST intents as fast as the server answers until stop is set (or
    MAX_ACKS are acknowledged); record every 202."""
    rng = random.Random(seed)
    conn, gen = None, -1
    local = {"sent": 0, "202": 0, "errors": 0, "other": {}}
    try:
        while not stop.is_set():
            if not target.up.wait(0.2):
                continue
            addr, g = target.get()
            if conn is None or g != gen:
                if conn is not None:
                    conn.close()
                conn = http.client.HTTPConnection(addr[0], addr[1], timeout=10)
                gen = g
            body = intent_body(rng)
            try:
                local["sent"] += 1
                st, js, raw = api(conn, "POST", "/api/v1/intents", body, token=OPERATOR)
            except (OSError, http.client.HTTPException):
                local["errors"] += 1     # expected around a kill
                conn.close()
                conn = None
                continue
            if st == 202 and js and "id" in js:
                local["202"] += 1
                with stats["lock"]:
                    if js["id"] in acked:
                        stats["dup_ids"].append((js["id"], acked[js["id"]][1], g))
                    acked[js["id"]] = (js.get("received_tick"), g)
                    if len(acked) >= MAX_ACKS:
                        stats["enough"] = True
                        return
            else:
                key = f"{st} {((js or {}).get('error') or {}).get('code')}"
                local["other"][key] = local["other"].get(key, 0) + 1
    finally:
        if conn is not None:
            conn.close()
        with stats["lock"]:
            for key in ("sent", "202", "errors"):
                stats[key] = stats.get(key, 0) + local[key]
            for key, n in local["other"].items():
                stats["other"][key] = stats["other"].get(key, 0) + n


def check_store_executions(d):
    """From the store's audit chain: per intent, the intent.executed entries
    number its executions 1, 2, 3, ... with none repeated or skipped (an
    effect applied twice after a crash would repeat a number)."""
    import audit_blocks
    rows = [(e["subject"], e["data"]) for e in audit_blocks.entries(d)
            if e["kind"] == "intent.executed"]
    last, bad = {}, []
    for subject, data in rows:
        n = json.loads(data)["executions"]
        if n != last.get(subject, 0) + 1:
            bad.append((subject, last.get(subject, 0), n))
        last[subject] = n
    check(not bad, f"store: every intent's executions are recorded once each, in order "
          f"({len(rows)} executions of {len(last)} intents; bad {bad[:3]})")


def crash_loop(rng, seed):
    d = os.path.join(TMP, "data")
    tel = os.path.join(TMP, "telemetry.jsonl")
    # A snapshot every 25 ticks (8 per second): kills land at every point of
    # a snapshot's life, and restarts start from snapshots, not tick 0.
    args = ["--scenario", "spacecraft", "--data", d, "--rate", "200", "--telemetry", tel,
            "--snapshot-every", "25",
            "--set", "engine.max_intents=100000", "--set", "engine.intake_capacity=4096"]
    if EXEC_HEAVY:
        args += ["--set", "constants.position_limit=1000000"]
    target = Target()
    stop = threading.Event()
    acked = {}
    stats = {"lock": threading.Lock(), "other": {}, "dup_ids": []}
    pace = threading.Event()      # never set: waits on it are the kill schedule
    threads = []
    kills, died_alone, shrunk, restart_times = 0, [], [], []
    loop_ok = True

    s, dt = start_server(args, "run-00")
    restart_times.append(dt)
    target.set(s)
    for k in range(SUBMITTERS):
        t = threading.Thread(target=submitter,
                             args=(k, target, stop, acked, stats, seed * 100 + k), daemon=True)
        t.start()
        threads.append(t)
    t_loop = time.monotonic()
    try:
        for i in range(1, KILLS + 1):
            if time.monotonic() - t_loop > LOOP_BUDGET:
                note(f"kill loop over its {LOOP_BUDGET:.0f}s budget after {kills} kills")
                break
            pace.wait(rng.uniform(0.3, 1.5))   # the schedule, not a condition
            target.up.clear()
            if not kill_server(s):
                died_alone.append((i, s.proc.returncode, s.stderr()[-500:]))
            kills += 1
            size_before = os.path.getsize(tel) if os.path.exists(tel) else 0
            try:
                s, dt = start_server(args, f"run-{i:02d}")
            except RuntimeError as e:
                check(False, f"restart {i} after SIGKILL: {e}")
                loop_ok = False
                break
            restart_times.append(dt)
            size_after = os.path.getsize(tel) if os.path.exists(tel) else 0
            if size_after < size_before:
                shrunk.append((i, size_before, size_after))
            target.set(s)
        if loop_ok:
            pace.wait(1.0)                    # run ~1 s after the last restart
    finally:
        stop.set()
        target.up.set()
        for t in threads:
            t.join(30)
    loop_s = time.monotonic() - t_loop
    note(f"kill loop: {kills} kills in {loop_s:.1f}s (seed {seed}); restart to ready "
         f"min {min(restart_times):.2f}s max {max(restart_times):.2f}s")
    if stats.get("enough"):
        note(f"submitters stopped at {MAX_ACKS} acknowledged intents")
    note(f"submissions: sent {stats.get('sent', 0)}, 202 {stats.get('202', 0)}, connection "
         f"errors {stats.get('errors', 0)}, other answers {stats['other']}")
    check(kills >= KILLS, f"at least {KILLS} SIGKILLs during the load ({kills})")
    check(not died_alone, f"the server was running at every kill (died on its own: "
          f"{[(i, rc) for i, rc, _ in died_alone]})")
    for i, rc, err in died_alone[:2]:
        note(f"run before kill {i} exited {rc}: {err}")
    bad_answers = {k: v for k, v in stats["other"].items() if not k.startswith("429")}
    check(not bad_answers, f"no submission answered other than 202/429 ({bad_answers})")
    dup = stats["dup_ids"]
    check(not dup, f"no id was acknowledged twice ({len(dup)}"
          + (f", e.g. (id, run, run) {dup[:3]}" if dup else "") + ")")
    check(not shrunk, f"the telemetry file never shrank across a restart ({shrunk[:3]})")
    check(len(acked) > 1000, f"load: {len(acked)} acknowledged intents")
    if not loop_ok:
        kill_server(s)
        return

    rc = s.stop(30)
    check(rc == 0, f"SIGTERM stop after the loop exits 0 ({rc})")

    # b. telemetry
    t0 = time.monotonic()
    tel_size = os.path.getsize(tel)
    evs, bad, rejected = read_telemetry(tel)
    dropped = rejected.pop("file sink dropped")
    note(f"telemetry file {tel_size / 1e6:.1f} MB read in {time.monotonic() - t0:.1f}s")
    maxexec, checked = check_telemetry(evs, bad)
    # Every submission is valid and the table (100000) never fills, so the
    # intake has nothing to reject -- before or after a restart.
    check(not rejected, f"no input rejected at intake ({sum(rejected.values())} "
          f"intent.rejected events: {rejected})")
    received = {e[3] for e in evs if e[2] == "intent.received"}
    # An input acknowledged after the last tick before the stop is applied
    # by the next run: the store lists it as pending, with no event yet.
    p = subprocess.run([BIN, "intents", "--data", d, "--status", "pending", "-q"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    pending = set(p.stdout.decode().split())
    check(p.returncode == 0, f"intentd intents --data D --status pending exits 0 ({p.returncode})")
    not_reported = [i for i in acked if i not in received and i not in pending]
    sset = sorted({e[0] for e in evs})
    holes = (sset[-1] - len(sset)) if sset else 0
    note(f"{len(pending)} acknowledged intents still pending at the stop")
    # A restarted server re-emits the events of the ticks it replays, with
    # the seqs they had, so what was durable is reported, crash or not.
    check(len(not_reported) <= dropped and holes <= dropped,
          f"every acknowledged intent not pending at the stop has its intent.received event "
          f"({len(not_reported)} without" + (f", e.g. {not_reported[:3]}" if not_reported else "")
          + f"), and no seq is missing from the file ({holes} missing) but what the file sink "
          f"dropped under load ({dropped}, reported by telemetry.delayed)")
    del sset
    n_events = len(evs)
    del evs

    # c. offline replay
    t0 = time.monotonic()
    try:
        p = subprocess.run([BIN, "replay", "--data", d, "--verify"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        out, rrc = p.stdout.decode("utf-8", "replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        out, rrc = (e.stdout or b"").decode("utf-8", "replace"), "timeout"
    check(rrc == 0, f"intentd replay --data D --verify exits 0 ({rrc}, "
          f"{time.monotonic() - t0:.1f}s)")
    tail = out.strip().splitlines()[-6:]
    for line in tail:
        note("replay: " + line)

    # e. the audit chain, and exactly-once effects as the store recorded them
    p = subprocess.run([BIN, "audit", "verify", "--data", d], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    out = p.stdout.decode("utf-8", "replace")
    check(p.returncode == 0 and "audit chain intact" in out,
          f"intentd audit verify --data D exits 0 ({p.returncode}: {out.strip()[-300:]})")
    check_store_executions(d)
    p = subprocess.run([BIN, "intents", "--data", d, "-q"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    stored = set(p.stdout.decode().split())
    lost = [i for i in acked if i not in stored]
    check(p.returncode == 0 and not lost,
          f"intentd intents --data D (offline) lists every acknowledged intent "
          f"({len(acked) - len(lost)}/{len(acked)})")

    # a, d. final restart: everything acknowledged is there
    s, dt = start_server(args, "run-final")
    note(f"final restart ready in {dt:.2f}s")
    check(wait_ticks_after(s, 2), "final restart: the loop runs ticks")
    listed, total = list_all(s)
    missing = [i for i in acked if i not in listed]
    box, reasons, still = [None], {}, []
    for iid in missing[:3000]:
        st, js = get_intent(s, box, iid, timeout=5)
        if st == 200:
            listed[iid] = js
            continue
        r = ((js or {}).get("error") or {}).get("details", {}).get("reason")
        reasons[f"{st} {r}"] = reasons.get(f"{st} {r}", 0) + 1
        still.append(iid)
    if box[0]:
        box[0].close()
    still += missing[3000:]
    check(not still, f"every acknowledged intent answers 200 after the final restart "
          f"({len(acked) - len(still)}/{len(acked)}; missing by answer {reasons}"
          + (f"; e.g. {sorted(still)[:5]}" if still else "") + ")")
    status = console_status(s) or {}
    in_mem = status.get("intents_in_memory")
    check(total is not None and total >= len(acked),
          f"the store holds at least the acknowledged intents (total_in_memory {total}, "
          f"status {in_mem}, acknowledged {len(acked)})")
    check(status.get("intents_evicted") == 0,
          f"nothing evicted (intents_evicted {status.get('intents_evicted')})")
    fewer = [(i, listed[i].get("executions"), n) for i, n in maxexec.items()
             if i in listed and isinstance(listed[i].get("executions"), int)
             and listed[i]["executions"] < n]
    check(not fewer, f"no record has fewer executions than telemetry reported "
          f"({len(fewer)}" + (f", e.g. {fewer[:3]}" if fewer else "") + ")")
    # A 202 is sent once its input is durable, and its input is journaled
    # after the record of the tick it saw completed, so after any crash the
    # intent is still created at the tick its 202 named (api.md 5.1).
    off = sorted((i, rt, listed[i].get("created_tick")) for i, (rt, _) in acked.items()
                 if i in listed and listed[i].get("created_tick") != rt)
    early = sum(1 for _, rt, ct in off if isinstance(ct, int) and ct < rt)
    check(not off, f"every acknowledged intent was created at its 202's received_tick "
          f"({len(off)} not: {early} earlier, {len(off) - early} later"
          + (f"; e.g. (id, received_tick, created_tick) {off[:3]}" if off else "") + ")")
    rc = s.stop(30)
    check(rc == 0, f"final SIGTERM stop exits 0 ({rc})")
    print(f"# counts: acknowledged {len(acked)}, kills {kills}, telemetry events {n_events}, "
          f"executions checked {checked}", flush=True)


# ------------------------------------------------------------- main

def main():
    global BIN, TMP
    if len(sys.argv) != 2:
        print("usage: test_store_crash.py /path/to/intentd", file=sys.stderr)
        sys.exit(2)
    BIN = os.path.abspath(sys.argv[1])
    seed = int(os.environ.get("INTENTD_CRASH_SEED", str(int(time.time()) % 100000)))
    rng = random.Random(seed)
    TMP = tempfile.mkdtemp(prefix="intentd-crash-")
    note(f"binary {BIN}, temp dir {TMP}, seed {seed}")
    t0 = time.monotonic()
    try:
        for name, fn in (("small", small_check), ("stdout", stdout_check),
                         ("crash loop", crash_loop)):
            try:
                if fn is crash_loop:
                    fn(rng, seed)
                else:
                    fn(rng)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                check(False, f"{name}: {type(e).__name__}: {e}")
            finally:
                for s in ALL_SERVERS:
                    if s.proc.poll() is None:
                        s.proc.kill()
                        s.proc.wait(10)
    finally:
        for s in ALL_SERVERS:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait(10)
        note(f"total {time.monotonic() - t0:.1f}s")
        if os.environ.get("INTENTD_E2E_KEEP") == "1":
            note(f"kept {TMP}")
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    R.finish()


if __name__ == "__main__":
    main()
