#!/usr/bin/env python3
"""test_serve_api.py: `intentd serve` end to end: the real binary on an
ephemeral port, driven over HTTP.  Roles and tokens, body validation,
idempotency, cancel, list/get/state/events, the console, 429 under a full
intake with nothing accepted lost, and 50 concurrent submitters x 1000
intents all accepted and visible through the list endpoint and in telemetry.

Usage: python3 test_serve_api.py /path/to/intentd
Prints one line per check and a final "N passed, M failed"; exit 1 on failure.
"""
import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

BIN = None
TOKENS = {
    "admin": "admin-secret-0123456789abcdef",
    "operator": "operator-secret-0123456789abcdef",
    "viewer": "viewer-secret-0123456789abcdef",
}
SCENARIO_TYPES = {"orbit_correction", "battery_recovery", "thermal_recovery"}

RESULTS = {"passed": 0, "failed": 0}


def check(name, fn, *args):
    """Run one named check; an exception or failed assert is a failure."""
    t0 = time.monotonic()
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - every failure is reported
        RESULTS["failed"] += 1
        print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        return False
    RESULTS["passed"] += 1
    print(f"ok   {name} ({time.monotonic() - t0:.1f}s)", flush=True)
    return True


def wait_for(what, pred, timeout=20.0, interval=0.02):
    """Poll pred() until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Server:
    """One `intentd serve` process with its own data dir and telemetry file."""

    def __init__(self, tmp, name, extra=(), rate=50):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.tel = os.path.join(self.dir, "telemetry.jsonl")
        env = dict(os.environ)
        env["INTENTD_ADMIN_TOKEN"] = TOKENS["admin"]
        env["INTENTD_OPERATOR_TOKEN"] = TOKENS["operator"]
        env["INTENTD_VIEWER_TOKEN"] = TOKENS["viewer"]
        cmd = [BIN, "serve", "--scenario", "spacecraft", "--listen", "127.0.0.1:0",
               "--rate", str(rate), "--data", self.data, "--telemetry", self.tel,
               "--quiet", *extra]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=env)
        self.lines = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._drain, daemon=True).start()
        self.host, self.port = self._await_url(20.0)

    def _drain(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stderr.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _await_url(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("server did not print its URL: " + " | ".join(self.stderr))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(
                    f"server exited ({self.proc.wait()}): " + " | ".join(self.stderr))
            mark = "listening on http://"
            if mark in line:
                hostport = line.split(mark, 1)[1].strip().rstrip("/")
                host, port = hostport.rsplit(":", 1)
                return host, int(port)

    def conn(self, timeout=30):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def call(self, method, path, body=None, role="operator", token=None, headers=None,
             conn=None):
        """One request; returns (status, headers, parsed JSON or None, raw body)."""
        h = dict(headers or {})
        tok = token if token is not None else (TOKENS[role] if role else None)
        if tok:
            h["Authorization"] = "Bearer " + tok
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        if body is not None:
            h["Content-Type"] = "application/json"
        c = conn or self.conn()
        try:
            try:
                c.request(method, path, body=body, headers=h)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer (413) before reading everything
            r = c.getresponse()
            raw = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            if conn is None:
                c.close()
        try:
            js = json.loads(raw) if raw else None
        except ValueError:
            js = None
        return r.status, hdrs, js, raw

    def stop(self, timeout=30):
        """SIGTERM, wait for a graceful exit; kill if it does not come."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server ignored SIGTERM")
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def telemetry(self):
        with open(self.tel, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]


def err_code(js):
    return (js or {}).get("error", {}).get("code")


def details(js):
    return (js or {}).get("error", {}).get("details") or {}


def expect(got, status, code=None, what=""):
    st, _, js, raw = got
    assert st == status, f"{what}: status {st}, want {status}: {raw[:300]!r}"
    if code is not None:
        assert err_code(js) == code, f"{what}: code {err_code(js)}, want {code}: {raw[:300]!r}"
    return js


def orbit(reference=3.0, **kw):
    body = {"type": "orbit_correction",
            "goal": {"metric": "position", "reference": reference, "tolerance": 0.1}}
    body.update(kw)
    return body


def console(s, command, **args):
    return s.call("POST", "/api/v1/console", {"command": command, **args}, role="admin")


def status_of(s):
    st, _, js, raw = console(s, "status")
    assert st == 200, raw
    return js


def list_all(s, query="", limit=1000):
    """Every intent of the list endpoint, paging with `after`."""
    out, after, pages = [], None, 0
    while True:
        q = f"?limit={limit}" + (f"&after={after}" if after else "") + query
        js = expect(s.call("GET", "/api/v1/intents" + q, role="viewer"), 200, what="list")
        out.extend(js["intents"])
        after = js["next_after"]
        pages += 1
        assert pages < 10000, "paging does not end"
        if not after:
            return out


def get_when(s, iid, pred, what="", timeout=20):
    """The record of iid once it exists and pred(record) holds."""
    def look():
        st, _, js, _ = s.call("GET", "/api/v1/intents/" + iid, role="viewer")
        return js if st == 200 and pred(js) else None
    return wait_for(f"{iid} {what}", look, timeout)


def wait_status(s, iid, want, timeout=20):
    return get_when(s, iid, lambda r: r["status"] == want, want, timeout)


# ------------------------------------------------------------- checks

def t_roles(s):
    body = orbit()
    expect(s.call("GET", "/api/v1/intents", role=None), 401, "unauthorized", "no token")
    expect(s.call("POST", "/api/v1/intents", body, role=None), 401, "unauthorized", "no token")
    expect(s.call("GET", "/api/v1/intents", token="not-a-token"), 401, "unauthorized",
           "bad token")
    expect(s.call("POST", "/api/v1/intents", body, token=TOKENS["operator"] + "x"), 401,
           "unauthorized", "near-miss token")
    expect(s.call("POST", "/api/v1/intents", body, role="viewer"), 403, "forbidden",
           "viewer submit")
    expect(s.call("POST", "/api/v1/intents/i-000001/cancel", None, role="viewer"), 403,
           "forbidden", "viewer cancel")
    expect(s.call("POST", "/api/v1/console", {"command": "status"}, role="operator"), 403,
           "forbidden", "operator console")
    expect(s.call("POST", "/api/v1/console", {"command": "status"}, role="viewer"), 403,
           "forbidden", "viewer console")
    for role in ("viewer", "operator", "admin"):
        expect(s.call("GET", "/api/v1/intents", role=role), 200, what=role + " list")
        expect(s.call("GET", "/api/v1/state", role=role), 200, what=role + " state")
    for role in ("operator", "admin"):
        js = expect(s.call("POST", "/api/v1/intents", body, role=role), 202, what=role)
        assert js["status"] == "queued" and js["id"].startswith("i-"), js
        assert isinstance(js["received_tick"], int), js
    expect(s.call("GET", "/healthz", role=None), 200, what="healthz is open")


def t_malformed(s):
    for raw in ["", "{", "{\"type\":", "{\"type\": 'x'}", "nul", "{\"type\":\"x\"} trailing",
                "\xff\xfe"]:
        expect(s.call("POST", "/api/v1/intents", raw), 400, "malformed_json", repr(raw))
    for raw in ["[]", "3", "\"orbit_correction\"", "null"]:
        expect(s.call("POST", "/api/v1/intents", raw), 400, "invalid_body", raw)


def t_wrong_types(s):
    cases = [
        (orbit(reference="3"), "goal.reference", "number"),
        (orbit(priority="high"), "priority", "number"),
        (orbit(deadline_ticks=-1), "deadline_ticks", None),
        (orbit(deadline_ticks=1.5), "deadline_ticks", None),
        (orbit(idempotency_key=7), "idempotency_key", None),
        (orbit(idempotency_key=""), "idempotency_key", None),
        (orbit(idempotency_key="k" * 64), "idempotency_key", None),
        (orbit(source="autonomous"), "source", None),
        ({"type": 7}, "type", "string"),
        ({"type": "orbit_correction", "goal": [1]}, "goal", None),
        ({"type": "orbit_correction",
          "goal": {"metric": "position", "reference": 1, "tolerance": -1}}, "goal.tolerance",
         None),
        ({"type": "orbit_correction", "goal": {"metric": "mode", "reference": 1}},
         "goal.metric", None),
        ({"type": "battery_recovery", "params": []}, "params", None),
    ]
    for body, field, expected in cases:
        js = expect(s.call("POST", "/api/v1/intents", body), 400, "invalid_field", str(body))
        d = details(js)
        assert d.get("field") == field, (body, d)
        if expected:
            assert d.get("expected") == expected, (body, d)


def t_unknown_type(s):
    js = expect(s.call("POST", "/api/v1/intents", {"type": "warp_drive"}), 400,
                "unknown_intent_type", "unknown type")
    assert set(details(js)["known"]) == SCENARIO_TYPES, js
    assert "warp_drive" in js["error"]["message"], js


def t_unknown_fields(s):
    js = expect(s.call("POST", "/api/v1/intents", orbit(colour="red", size=2)), 400,
                "unknown_field", "unknown top-level")
    d = details(js)
    assert set(d["unknown"]) == {"colour", "size"}, d
    assert "idempotency_key" in d["allowed"] and "type" in d["allowed"], d
    js = expect(s.call("POST", "/api/v1/intents",
                       {"type": "orbit_correction",
                        "goal": {"metric": "position", "reference": 1, "weight": 3}}),
                400, "unknown_field", "unknown goal member")
    assert details(js)["unknown"] == ["weight"], js
    js = expect(s.call("POST", "/api/v1/intents",
                       {"type": "battery_recovery", "params": {"speed": 1}}),
                400, "unknown_param", "unknown param")
    assert details(js)["unknown"] == ["speed"] and details(js)["declared"] == [], js
    expect(s.call("POST", "/api/v1/intents",
                  '{"type":"battery_recovery","type":"battery_recovery"}'),
           400, "duplicate_field", "duplicate")


def t_goal_rules(s):
    js = expect(s.call("POST", "/api/v1/intents", {"type": "orbit_correction"}), 400,
                "missing_field", "goal required")
    assert details(js)["field"] == "goal", js
    js = expect(s.call("POST", "/api/v1/intents",
                       {"type": "battery_recovery",
                        "goal": {"metric": "battery", "reference": 30}}),
                400, "forbidden_field", "goal forbidden")
    assert details(js)["field"] == "goal", js
    expect(s.call("POST", "/api/v1/intents", {"type": "battery_recovery"}), 202,
           what="no goal where none is taken")


def t_oversize(s):
    big = json.dumps(orbit(idempotency_key="big", pad="x" * (70 * 1024)))
    expect(s.call("POST", "/api/v1/intents", big), 413, "payload_too_large", "70 KiB body")
    # The server still serves afterwards.
    expect(s.call("GET", "/api/v1/intents?limit=1", role="viewer"), 200, what="after 413")


def t_idempotency(s):
    body = orbit(reference=4.0, idempotency_key="op-42", priority=2)
    js1 = expect(s.call("POST", "/api/v1/intents", body), 202, what="first")
    # Same body, other key order and spacing: the original intent.
    same = ('{ "priority": 2, "idempotency_key": "op-42", "goal": {"tolerance": 0.1, '
            '"reference": 4.0, "metric": "position"}, "type": "orbit_correction" }')
    js2 = expect(s.call("POST", "/api/v1/intents", same), 200, what="duplicate")
    assert js2["id"] == js1["id"] and js2["duplicate"] is True, (js1, js2)
    # Pending or created, the original is (or will be) created at the tick
    # the first answer named.
    assert js2["received_tick"] == js1["received_tick"], (js1, js2)
    rec = get_when(s, js1["id"], lambda r: True)
    js3 = expect(s.call("POST", "/api/v1/intents", body), 200, what="duplicate again")
    assert js3["id"] == js1["id"], js3
    assert js3["received_tick"] == rec["created_tick"] == js1["received_tick"], (js3, rec)
    js = expect(s.call("POST", "/api/v1/intents",
                       orbit(reference=5.0, idempotency_key="op-42", priority=2)),
                409, "idempotency_conflict", "other body")
    assert details(js)["intent_id"] == js1["id"], js
    rec = get_when(s, js1["id"], lambda r: True)
    assert rec["idempotency_key"] == "op-42" and rec["priority"] == 2, rec
    assert len([i for i in list_all(s) if i["id"] == js1["id"]]) == 1


def t_batch(s):
    """POST /api/v1/intents/batch: every item checked and submitted like a
    single submission, in order; failures itemised, never fatal to the
    others; idempotency across and within batches."""
    items = [orbit(reference=2.0), {"type": "warp_drive"}, orbit(reference=2.5, idempotency_key="b-1"),
             orbit(reference=2.5, idempotency_key="b-1"), orbit(reference=2.6, idempotency_key="b-1"),
             {"type": "orbit_correction"}]
    js = expect(s.call("POST", "/api/v1/intents/batch", {"intents": items}), 202, what="batch")
    st = [it["status"] for it in js["items"]]
    assert st == [202, 400, 202, 200, 409, 400], js
    assert js["accepted"] == 3 and js["failed"] == 3, js
    assert js["items"][1]["error"]["code"] == "unknown_intent_type", js
    assert js["items"][3]["id"] == js["items"][2]["id"] and js["items"][3]["duplicate"], js
    assert js["items"][5]["error"]["code"] == "missing_field", js
    for it in (js["items"][0], js["items"][2]):
        rec = get_when(s, it["id"], lambda r: True)
        assert rec["created_tick"] == it["received_tick"], (rec, it)
    # Ids are handed out in item order.
    a, b = (int(js["items"][i]["id"][2:]) for i in (0, 2))
    assert b == a + 1, js
    js = expect(s.call("POST", "/api/v1/intents/batch", {"intents": [{"type": "nope"}]}), 400,
                what="all refused")
    assert js["accepted"] == 0 and js["items"][0]["error"]["code"] == "unknown_intent_type", js
    expect(s.call("POST", "/api/v1/intents/batch", {"intents": []}), 400, "invalid_field",
           "empty batch")
    expect(s.call("POST", "/api/v1/intents/batch", {"intents": [{"type": "x"}] * 1001}), 400,
           "invalid_field", "more than 1000 items")
    expect(s.call("POST", "/api/v1/intents/batch", {"intents": [orbit()], "x": 1}), 400,
           "unknown_field", "an unknown key")
    expect(s.call("POST", "/api/v1/intents/batch", {"intents": [orbit()]}, role="viewer"), 403,
           what="viewer")


def t_get_one(s):
    js = expect(s.call("POST", "/api/v1/intents", orbit(reference=100.0, deadline_ticks=5000)),
                202, what="submit")
    iid = js["id"]

    rec = get_when(s, iid, lambda r: r["evaluations"] > 0, "evaluated")
    for k in ("id", "type", "source", "status", "priority", "created_tick", "evaluations",
              "blocked_ticks", "executions", "attempts", "verdict", "rule", "actor", "goal",
              "params", "deadline_tick", "idempotency_key", "score", "last_verdict",
              "history", "history_total", "explanation"):
        assert k in rec, (k, rec)
    assert rec["actor"] == "operator" and rec["source"] == "ground", rec
    assert rec["goal"] == {"metric": "position", "reference": 100, "tolerance": 0.1}, rec
    assert rec["created_tick"] >= js["received_tick"], (rec, js)
    assert rec["deadline_tick"] == rec["created_tick"] + 5000, rec
    h = rec["history"]
    assert h[0]["to"] == "received" and h[1]["to"] == "queued", h
    assert rec["history_total"] >= len(h), rec
    assert f"received at tick {rec['created_tick']} from ground by operator" in \
        rec["explanation"], rec["explanation"]
    # Short ids name the same intent.
    short = "i-" + str(int(iid[2:]))
    assert expect(s.call("GET", "/api/v1/intents/" + short, role="viewer"), 200)["id"] == iid
    js = expect(s.call("GET", "/api/v1/intents/i-999999", role="viewer"), 404, "not_found")
    assert "never existed" in js["error"]["message"], js
    expect(s.call("GET", "/api/v1/intents/bogus", role="viewer"), 404, "not_found")


def t_cancel(s):
    js = expect(s.call("POST", "/api/v1/intents", orbit(reference=100.0)), 202, what="submit")
    iid = js["id"]
    c = expect(s.call("POST", f"/api/v1/intents/{iid}/cancel", {"reason": "wrong orbit"}),
               202, what="cancel")
    assert c["id"] == iid and c["status"] == "cancel_requested", c
    assert isinstance(c["apply_tick"], int), c
    rec = wait_status(s, iid, "cancelled")
    assert rec["history"][-1]["to"] == "cancelled", rec["history"]
    assert "Cancelled at tick" in rec["explanation"], rec["explanation"]
    js = expect(s.call("POST", f"/api/v1/intents/{iid}/cancel"), 409, "not_active", "again")
    assert details(js)["status"] == "cancelled", js
    expect(s.call("POST", "/api/v1/intents/i-999999/cancel"), 404, "not_found", "unknown")
    expect(s.call("POST", f"/api/v1/intents/{iid}/cancel", "{bad"), 400, "malformed_json")
    expect(s.call("POST", f"/api/v1/intents/{iid}/cancel", {"why": 1}), 400, "unknown_field")
    # The reason is kept in a 63-byte note "cancel i-000NNN: REASON": 46 bytes
    # of it for a six-digit id, and no more is accepted.
    other = expect(s.call("POST", "/api/v1/intents", orbit(reference=100.0)), 202)["id"]
    assert len(other) == 8, other
    js = expect(s.call("POST", f"/api/v1/intents/{other}/cancel", {"reason": "x" * 47}), 400,
                "too_long", "47-byte reason")
    assert details(js) == {"field": "reason", "max_bytes": 46}, js
    assert "46" in js["error"]["message"], js
    js = expect(s.call("POST", f"/api/v1/intents/{other}/cancel", {"reason": 3}), 400,
                "invalid_field", "a number as reason")
    assert details(js) == {"field": "reason", "expected": "string"}, js
    # The short form of the id gets the same limit (the id is normalized).
    expect(s.call("POST", f"/api/v1/intents/i-{int(other[2:])}/cancel",
                  {"reason": "x" * 47}), 400, "too_long", "short id, 47-byte reason")
    expect(s.call("POST", f"/api/v1/intents/{other}/cancel", {"reason": "r" * 45 + "!"}), 202,
           what="46-byte reason")
    wait_status(s, other, "cancelled")
    listed = list_all(s, "&status=cancelled")
    assert iid in [i["id"] for i in listed], listed


def t_list(s):
    mine = {expect(s.call("POST", "/api/v1/intents", orbit(reference=100.0 + i)), 202)["id"]
            for i in range(5)}
    wait_for("the new intents listed", lambda: mine <= {i["id"] for i in list_all(s)})
    everything = list_all(s)
    ids = [int(i["id"][2:]) for i in everything]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
    paged = list_all(s, limit=2)
    assert [i["id"] for i in paged] == [i["id"] for i in everything][:len(paged)], paged
    assert len(paged) >= len(everything), (len(paged), len(everything))
    js = expect(s.call("GET", "/api/v1/intents?limit=3", role="viewer"), 200)
    assert len(js["intents"]) == 3 and js["next_after"] == js["intents"][-1]["id"], js
    assert js["total_in_memory"] >= len(everything), js
    after = everything[2]["id"]
    js = expect(s.call("GET", f"/api/v1/intents?after={after}&limit=1000", role="viewer"), 200)
    assert all(int(i["id"][2:]) > int(after[2:]) for i in js["intents"]), js
    js2 = expect(s.call("GET", f"/api/v1/intents?after={int(after[2:])}", role="viewer"), 200)
    assert [i["id"] for i in js2["intents"]] == [i["id"] for i in js["intents"]], (js, js2)
    summary_keys = {"id", "type", "source", "status", "priority", "created_tick",
                    "evaluations", "blocked_ticks", "executions", "attempts", "verdict",
                    "rule", "actor"}
    assert summary_keys <= set(everything[0]), everything[0]
    only = list_all(s, "&type=battery_recovery")
    assert only and all(i["type"] == "battery_recovery" for i in only), only
    two = list_all(s, "&status=queued,blocked,completed")
    assert all(i["status"] in ("queued", "blocked", "completed") for i in two), two
    for q, param in (("status=bogus", "status"), ("type=warp", "type"), ("limit=0", "limit"),
                     ("limit=1001", "limit"), ("limit=x", "limit"), ("after=i-x", "after")):
        js = expect(s.call("GET", "/api/v1/intents?" + q, role="viewer"), 400, "invalid_query",
                    q)
        assert details(js)["param"] == param, js
    js = expect(s.call("GET", "/api/v1/intents?status=bogus", role="viewer"), 400)
    assert "queued" in details(js)["valid"] and "cancelled" in details(js)["valid"], js
    js = expect(s.call("GET", "/api/v1/intents?type=warp", role="viewer"), 400)
    assert set(details(js)["valid"]) == SCENARIO_TYPES, js


def t_state(s):
    js = expect(s.call("GET", "/api/v1/state", role="viewer"), 200)
    names = [f["name"] for f in js["fields"]]
    assert names == ["position", "battery", "temperature"], names
    bat = js["fields"][1]
    assert bat["type"] == "number" and bat["min"] == 0 and bat["max"] == 100 and \
        bat["warn_low"] == 25 and bat["unit"] == "%", bat
    assert set(js["state"]) == set(names), js["state"]
    assert js["mode"] in ("NOMINAL", "LOW_POWER", "SAFE"), js
    assert js["tick"] > 0 and js["rate_hz"] == 50 and js["paused"] is False, js
    # With --data: how far the state shown is on disk (never past it).
    assert 0 < js["durable_tick"] <= js["tick"], js
    assert len(js["state_hash"]) == 16 and int(js["state_hash"], 16) >= 0, js
    fr = js["frame"]
    assert set(fr) >= {"state", "policy", "execution", "safety", "state_hash"}, fr
    assert fr["state"]["mode"] == js["mode"], fr


def t_events(s):
    js = expect(s.call("GET", "/api/v1/events?limit=5", role="viewer"), 200)
    ev = js["events"]
    assert 0 < len(ev) <= 5, js
    assert js["last_seq"] >= ev[-1]["seq"], js
    js = expect(s.call("GET", "/api/v1/events?after_seq=2&limit=3", role="viewer"), 200)
    seqs = [e["seq"] for e in js["events"]]
    assert seqs and seqs[0] > 2 and seqs == sorted(seqs) and len(seqs) <= 3, js
    js = expect(s.call("GET", f"/api/v1/events?after_seq={js['last_seq']}", role="viewer"), 200)
    assert all(e["seq"] > 0 for e in js["events"]) and js["gap"] is False, js
    for q in ("limit=0", "limit=1001", "after_seq=-1", "after_seq=x"):
        expect(s.call("GET", "/api/v1/events?" + q, role="viewer"), 400, "invalid_query", q)


def t_console(s):
    st = status_of(s)
    for k in ("tick", "paused", "mode", "rate_hz", "slips", "faults", "intents", "stream"):
        assert k in st, (k, st)
    assert st["paused"] is False and st["command"] == "status", st
    assert "queued" in st["intents"] and "completed" in st["intents"], st
    expect(console(s, "step", n=1), 409, "not_paused", "step while running")
    js = expect(console(s, "pause"), 202, what="pause")
    assert js["command"] == "pause" and js["apply_tick"] >= st["tick"], js
    st = wait_for("paused", lambda: (lambda x: x if x["paused"] else None)(status_of(s)))
    t0 = st["tick"]
    js = expect(console(s, "step", n=3), 202, what="step 3")
    assert js["apply_tick"] == t0 + 1 and js["n"] == 3, js
    wait_for("three ticks", lambda: status_of(s)["tick"] >= t0 + 3)
    assert status_of(s)["tick"] == t0 + 3, "step ran more than 3 ticks"
    # A fault injection is applied at the next tick.
    js = expect(console(s, "set", field="battery", value=77.5), 202, what="set")
    assert js["field"] == "battery" and js["value"] == 77.5, js
    expect(console(s, "step"), 202, what="step 1")
    wait_for("the stepped tick", lambda: status_of(s)["tick"] >= t0 + 4)
    state = expect(s.call("GET", "/api/v1/state", role="viewer"), 200)
    assert state["tick"] == t0 + 4 and state["paused"] is True, state
    # Set at the intake, then one tick of dynamics (+-0.6) and maybe an orbit
    # correction's effect (-1) moved it.
    assert 75.5 <= state["state"]["battery"] <= 78.5, state["state"]
    # Snapshot while paused: the state as it is.
    js = expect(console(s, "snapshot"), 202, what="snapshot")
    with open(js["path"], encoding="utf-8") as f:
        snap = json.load(f)
    assert snap["tick"] == t0 + 4 and snap["state_hash"] == state["state_hash"], snap["tick"]
    assert snap["state"] == state["state"], (snap["state"], state["state"])
    ids = [i["id"] for i in snap["intents"]]
    assert ids and ids == sorted(ids) and "history" in snap["intents"][0], ids[:5]
    assert os.path.dirname(js["path"]).endswith("snapshots"), js
    # Refusals.
    for args, code in (({"n": 0}, "invalid_field"), ({"n": 100001}, "invalid_field"),
                       ({"n": "3"}, "invalid_field")):
        expect(console(s, "step", **args), 400, code, str(args))
    js = expect(console(s, "set", field="altitude", value=1), 400, "unknown_state_field")
    assert details(js) == {"field": "altitude",
                           "known": ["position", "battery", "temperature"]}, js
    expect(console(s, "set", field="battery", value="full"), 400, "invalid_field")
    expect(console(s, "set", field="battery"), 400, "missing_field")
    js = expect(console(s, "warp"), 400, "unknown_command")
    assert set(details(js)["commands"]) >= {"pause", "resume", "step", "set", "snapshot",
                                            "status"}, js
    expect(s.call("POST", "/api/v1/console", {}, role="admin"), 400, "missing_field")
    js = expect(console(s, "pause", n=2), 400, "unknown_field")
    assert details(js)["unknown"] == ["n"] and details(js)["allowed"] == ["command"], js
    js = expect(console(s, "step", field="battery"), 400, "unknown_field")
    assert details(js)["unknown"] == ["field"] and details(js)["allowed"] == ["command", "n"], js
    js = expect(console(s, "set", field="battery", value=1, colour=2), 400, "unknown_field")
    assert details(js)["unknown"] == ["colour"], js
    expect(s.call("POST", "/api/v1/console", "{", role="admin"), 400, "malformed_json")
    js = expect(console(s, "resume"), 202, what="resume")
    assert js["command"] == "resume", js
    wait_for("running", lambda: (lambda x: not x["paused"] and x["tick"] > t0 + 6)(status_of(s)))


def t_stop(s):
    rc = s.stop(60)
    assert rc == 0, f"exit status {rc}: {s.stderr[-3:]}"


def t_console_telemetry(s):
    """After the server stopped: console commands reported with their actor."""
    ev = [e for e in s.telemetry() if e["event"] == "console.applied"]
    cmds = [e["payload"]["command"] for e in ev]
    for c in ("pause", "step", "set", "snapshot", "resume"):
        assert c in cmds, cmds
    admin = [e for e in ev if e["payload"]["command"] != "note"]
    assert all(e["payload"]["actor"] == "admin" for e in admin), admin
    # The operator's reason for a cancel is noted in the record.
    notes = [e["payload"] for e in ev if e["payload"]["command"] == "note"]
    assert any(n["actor"] == "operator" and "wrong orbit" in n["args"] for n in notes), notes
    # The longest reason accepted is kept whole.
    assert any(n["args"].endswith(": " + "r" * 45 + "!") for n in notes), notes
    sets = [e["payload"] for e in ev if e["payload"]["command"] == "set"]
    assert sets[0]["fault_injection"] is True and sets[0]["field"] == "battery", sets
    cancels = [e for e in s.telemetry() if e["event"] == "intent.cancelled"]
    assert cancels and cancels[0]["payload"].get("actor") == "operator", cancels[:1]


def t_full_intake(s):
    """intake_capacity=8, loop paused: 429 with Retry-After, nothing lost."""
    expect(console(s, "pause"), 202, what="pause")
    wait_for("paused", lambda: status_of(s)["paused"])
    # A duplicate of an intent still waiting in the intake: queued, with
    # the tick that will create it (the paused loop's next tick).
    first = expect(s.call("POST", "/api/v1/intents", orbit(idempotency_key="pend")), 202)
    js = expect(s.call("POST", "/api/v1/intents", orbit(idempotency_key="pend")), 200)
    assert js["status"] == "queued" and js["duplicate"] is True, js
    assert js["received_tick"] == first["received_tick"] == status_of(s)["tick"] + 1, (first, js)
    accepted, refused = [first["id"]], None
    # A batch larger than the room left: a prefix is accepted, the rest
    # refused alike (429, Retry-After), so a retry keeps the batch's order.
    st, hdrs, js, raw = s.call("POST", "/api/v1/intents/batch",
                               {"intents": [orbit(reference=50.0 + i) for i in range(12)]})
    assert st == 202 and hdrs.get("retry-after") == "1", raw
    codes = [it["status"] for it in js["items"]]
    k = codes.count(202)
    assert 1 <= k <= 7 and codes == [202] * k + [429] * (12 - k), codes
    assert all(err_code(it) == "intake_full" for it in js["items"][k:]), js
    assert js["accepted"] == k and js["failed"] == 12 - k, js
    accepted += [it["id"] for it in js["items"][:k]]
    for i in range(64):
        st, hdrs, js, raw = s.call("POST", "/api/v1/intents", orbit(reference=100.0 + i))
        if st == 429:
            refused = (hdrs, js)
            break
        assert st == 202, raw
        accepted.append(js["id"])
    assert refused, "no 429 after 64 submissions into an 8-slot intake"
    hdrs, js = refused
    assert hdrs.get("retry-after") == "1", hdrs
    assert err_code(js) == "intake_full" and "queue" in js["error"]["message"], js
    assert details(js) == {"full": "queue"}, js
    assert 1 <= len(accepted) <= 8, accepted
    # Cancel and console set answer the same 429, with the same details.
    st, hdrs, js, raw = s.call("POST", f"/api/v1/intents/{accepted[0]}/cancel",
                               {"reason": "refused-429"})
    assert st == 429 and err_code(js) == "intake_full", raw
    assert details(js) == {"full": "queue"} and hdrs.get("retry-after") == "1", (hdrs, js)
    st, hdrs, js, raw = console(s, "set", field="battery", value=50)
    assert st == 429 and err_code(js) == "intake_full", raw
    assert details(js) == {"full": "queue"} and hdrs.get("retry-after") == "1", (hdrs, js)
    # Accepted but not yet created: a 404 that says so.
    js = expect(s.call("GET", "/api/v1/intents/" + accepted[0], role="viewer"), 404, "not_found")
    assert details(js)["reason"] == "pending", js
    # Resume must get through even though the queue is full.
    wait_for("resume accepted", lambda: console(s, "resume")[0] == 202, timeout=10,
             interval=0.2)
    want = set(accepted)
    wait_for("every accepted intent listed",
             lambda: want <= {i["id"] for i in list_all(s)})
    for iid in accepted:
        rec = expect(s.call("GET", "/api/v1/intents/" + iid, role="viewer"), 200)
        assert rec["actor"] == "operator", rec


def t_no_orphan_note(s):
    """After the server stopped: the refused cancel left no note."""
    notes = [e["payload"]["args"] for e in s.telemetry() if e["event"] == "console.applied"
             and e["payload"]["command"] == "note"]
    assert not any("refused-429" in n for n in notes), notes


def t_eviction(s):
    """max_intents=16: ended intents leave memory; list and get say so."""
    done, full = [], None
    deadline = time.monotonic() + 30
    while len(done) < 60:
        assert time.monotonic() < deadline, f"only {len(done)} accepted"
        # Reference -100 is met at once: each completes at its first tick.
        st, hdrs, js, raw = s.call("POST", "/api/v1/intents", orbit(reference=-100.0))
        if st == 429:
            full = full or js
            time.sleep(0.02)  # a tick frees the table; bounded by the deadline
            continue
        assert st == 202, raw
        done.append(js["id"])
    if full:
        assert details(full)["full"] in ("table", "queue"), full
    wait_status(s, done[-1], "completed")
    # Paused, so that no tick creates or evicts between the two listings.
    expect(console(s, "pause"), 202, what="pause")
    wait_for("paused", lambda: status_of(s)["paused"])
    listed = list_all(s)
    ids = [int(i["id"][2:]) for i in listed]
    assert ids == sorted(ids) and len(ids) <= 16, ids
    js = expect(s.call("GET", "/api/v1/intents?limit=1", role="viewer"), 200)
    assert js["total_in_memory"] <= 16 and js["next_after"], js
    paged = list_all(s, limit=3)
    assert [i["id"] for i in paged] == [i["id"] for i in listed], (paged, listed)
    expect(console(s, "resume"), 202, what="resume")
    js = expect(s.call("GET", "/api/v1/intents/" + done[0], role="viewer"), 404, "not_found")
    assert details(js)["reason"] == "evicted", js
    expect(s.call("POST", f"/api/v1/intents/{done[0]}/cancel"), 404, "not_found")


N_THREADS, PER_THREAD = 50, 1000


def t_concurrent(s, accepted_out):
    """50 threads x 1000 submissions, all accepted (retrying on 429)."""
    errors, ids = [], [[] for _ in range(N_THREADS)]
    stats = {"retries": 0}
    lock = threading.Lock()

    def worker(t):
        c = s.conn(timeout=60)
        try:
            for i in range(PER_THREAD):
                body = json.dumps(orbit(reference=3.0, priority=t,
                                        idempotency_key=f"c{t}-{i}"))
                for attempt in range(200):
                    try:
                        st, hdrs, js, raw = s.call("POST", "/api/v1/intents", body, conn=c)
                    except (OSError, http.client.HTTPException):
                        # The key makes a retry safe.
                        c.close()
                        c = s.conn(timeout=60)
                        with lock:
                            stats["retries"] += 1
                        continue
                    if st == 429:
                        with lock:
                            stats["retries"] += 1
                        time.sleep(float(hdrs.get("retry-after", "1")))
                        continue
                    if st not in (200, 202):
                        raise AssertionError(f"thread {t} #{i}: {st} {raw[:200]!r}")
                    ids[t].append(js["id"])
                    break
                else:
                    raise AssertionError(f"thread {t} #{i}: never accepted")
        except Exception as e:  # noqa: BLE001
            errors.append(f"{type(e).__name__}: {e}")
        finally:
            c.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(N_THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(300)
    assert not any(th.is_alive() for th in threads), "submitters hung"
    assert not errors, errors[:3]
    flat = [i for per in ids for i in per]
    dt = time.monotonic() - t0
    print(f"     {len(flat)} submissions in {dt:.1f}s ({len(flat) / dt:.0f}/s), "
          f"{stats['retries']} retries", flush=True)
    assert len(flat) == N_THREADS * PER_THREAD, len(flat)
    assert len(set(flat)) == len(flat), "ids not distinct"
    accepted_out.update(flat)


def t_concurrent_listed(s, accepted):
    def all_listed():
        listed = list_all(s)
        return accepted <= {i["id"] for i in listed}
    wait_for("all 50,000 listed", all_listed, timeout=60, interval=0.5)
    mine = list_all(s, "&type=orbit_correction")
    got = {i["id"] for i in mine} & accepted
    assert len(got) == len(accepted), len(got)
    assert all(i["actor"] == "operator" for i in mine if i["id"] in accepted), "actor"


def t_concurrent_telemetry(s, accepted):
    received = set()
    with open(s.tel, encoding="utf-8") as f:
        for line in f:
            if '"intent.received"' not in line:
                continue
            e = json.loads(line)
            if e["event"] == "intent.received" and e["payload"]["source"] == "ground":
                received.add(e["payload"]["intent_id"])
    missing = accepted - received
    assert not missing, f"{len(missing)} accepted intents missing from telemetry"
    assert len(received & accepted) == N_THREADS * PER_THREAD


def main():
    global BIN
    if len(sys.argv) != 2:
        print("usage: test_serve_api.py /path/to/intentd", file=sys.stderr)
        return 2
    BIN = os.path.abspath(sys.argv[1])
    servers = []
    with tempfile.TemporaryDirectory(prefix="intentd-serve-api-") as tmp:
        try:
            a = Server(tmp, "api")
            servers.append(a)
            for name, fn in (("roles and tokens", t_roles), ("malformed JSON", t_malformed),
                             ("wrong types", t_wrong_types),
                             ("unknown intent type", t_unknown_type),
                             ("unknown fields", t_unknown_fields),
                             ("goal required/forbidden", t_goal_rules),
                             ("oversize body", t_oversize), ("idempotency", t_idempotency),
                             ("batch submission", t_batch),
                             ("get one", t_get_one), ("cancel", t_cancel),
                             ("list, filters, paging", t_list), ("state", t_state),
                             ("recent events", t_events), ("console", t_console)):
                check(name, fn, a)
            check("graceful stop", t_stop, a)
            check("console and cancel in telemetry", t_console_telemetry, a)

            b = Server(tmp, "full", ["--set", "engine.intake_capacity=8",
                                     "--set", "engine.max_intents=16"])
            servers.append(b)
            if check("429 under a full intake, nothing lost", t_full_intake, b):
                check("eviction: list and get", t_eviction, b)
            if check("stop (small tables)", t_stop, b):
                check("a refused cancel leaves no note", t_no_orphan_note, b)

            c = Server(tmp, "load", ["--set", "engine.max_intents=100000",
                                     "--set", "engine.intake_capacity=65536",
                                     "--set", "engine.history_per_intent=8",
                                     "--set", "state.position.initial=-50"], rate=1000)
            servers.append(c)
            accepted = set()
            if check("50 submitters x 1000 intents accepted", t_concurrent, c, accepted):
                check("all 50,000 visible through the list", t_concurrent_listed, c, accepted)
                check("stop after load", t_stop, c)
                check("all 50,000 received in telemetry", t_concurrent_telemetry, c,
                      accepted)
        except Exception as e:  # noqa: BLE001 - a server that would not start
            RESULTS["failed"] += 1
            print(f"FAIL setup: {type(e).__name__}: {e}", flush=True)
        finally:
            for srv in servers:
                srv.kill()
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed", flush=True)
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
