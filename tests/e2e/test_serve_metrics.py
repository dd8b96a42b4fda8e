#!/usr/bin/env python3
"""test_serve_metrics.py: GET /metrics of a running `intentd serve`, as a
Prometheus scraper and an operator see it: viewer-only unless
--metrics-open, the text format promtool accepts without a warning, and
values that move with the loop, the requests and the submissions.

Usage: python3 test_serve_metrics.py /path/to/intentd
Prints one line per check and "N passed, M failed" last; exits 1 on failure.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Results, Server  # noqa: E402

VIEWER = "viewer-secret-0123456789"
OPERATOR = "operator-secret-0123456789"
ADMIN = "admin-secret-0123456789"

R = Results()


def check(ok, what, detail=""):
    """One check; the detail is printed only when it fails."""
    return R.check(ok, what + (f": {detail}" if detail and not ok else ""))


def start(binary, workdir, extra=()):
    """`intentd serve` on the spacecraft with a private data dir and the
    three role tokens (serve_util.Server picks the port)."""
    os.makedirs(workdir, exist_ok=True)
    env = {"INTENTD_VIEWER_TOKEN": VIEWER, "INTENTD_OPERATOR_TOKEN": OPERATOR,
           "INTENTD_ADMIN_TOKEN": ADMIN}
    args = ["--scenario", "spacecraft", "--data", os.path.join(workdir, "data"),
            "--rate", "100", *extra]
    return Server(binary, args, env=env, workdir=workdir)


def http(method, url, token=None, body=None, timeout=10):
    """(status, content-type, text) of one request; 4xx/5xx are answers too."""
    headers = {}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode("utf-8", "replace")


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def parse(text):
    """{series: value} of an exposition text, series written as in it."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("bad sample line: " + line)
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def scrape(srv, token=VIEWER):
    st, ctype, text = http("GET", srv.url + "/metrics", token)
    if st != 200:
        raise RuntimeError(f"/metrics answered {st}: {text[:200]}")
    return parse(text)


def wait_for(pred, timeout, every=0.05):
    """Poll pred() until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(every)


def promtool_check(text):
    """(exit status, output) of `promtool check metrics` on text."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace").strip()


def test_protected(binary, work):
    srv = start(binary, os.path.join(work, "protected"),
                ["--snapshot-every", "10", "--keep-snapshots", "3"])
    try:
        st, _, body = http("GET", srv.url + "/metrics")
        check(st == 401, "GET /metrics without a token is 401", f"got {st}")
        check('"error"' in body, "the 401 has a JSON error body", body[:120])
        st, _, _ = http("GET", srv.url + "/metrics", "not-a-token")
        check(st == 401, "GET /metrics with a wrong token is 401", f"got {st}")

        st, ctype, text = http("GET", srv.url + "/metrics", VIEWER)
        check(st == 200, "GET /metrics with the viewer token is 200", f"got {st}")
        check(ctype.replace(" ", "") == "text/plain;version=0.0.4;charset=utf-8",
              "Content-Type is the 0.0.4 text format", ctype)
        for tok, name in ((OPERATOR, "operator"), (ADMIN, "admin")):
            st, _, _ = http("GET", srv.url + "/metrics", tok)
            check(st == 200, f"the {name} token may read /metrics too", f"got {st}")

        if shutil.which("promtool"):
            rc, out = promtool_check(text)
            check(rc == 0 and out == "", "promtool check metrics: exit 0, no output",
                  f"exit {rc}: {out[:500]}")
        else:
            print("skip - promtool not installed")

        m0 = parse(text)
        for fam in ("intentd_ticks_total", "intentd_tick_slips_total",
                    "intentd_engine_faults_total", "intentd_intents_created_total",
                    "intentd_paused", "intentd_stream_clients", "intentd_stream_cut_off_total",
                    "intentd_tick_duration_seconds_count"):
            check(fam in m0, f"{fam} present")
        for field in ("battery", "position", "temperature"):
            check(f'intentd_state{{field="{field}"}}' in m0, f"state gauge for {field}")
        modes = [v for k, v in m0.items() if k.startswith("intentd_mode{")]
        check(len(modes) == 3 and sum(modes) == 1, "exactly one of the 3 modes is 1", modes)
        statuses = [k for k in m0 if k.startswith("intentd_intents{")]
        check(len(statuses) == 12, "every intent status has a gauge", len(statuses))
        check(m0.get('intentd_build_info{version="0.1.0",scenario="spacecraft"}') == 1
              or any(k.startswith("intentd_build_info{") and 'scenario="spacecraft"' in k
                     for k in m0), "build info names the scenario")
        check(any(k.startswith("intentd_telemetry_dropped_events_total{sink=") for k in m0),
              "telemetry drops are reported per sink")
        check(m0.get("intentd_paused") == 0, "not paused")
        for fam in ("intentd_store_commits_total", "intentd_store_records_total",
                    "intentd_store_failures_total", "intentd_store_refused_total",
                    "intentd_store_durable_tick", "intentd_store_snapshots_off"):
            check(fam in m0, f"{fam} present (the server runs with --data)")

        # The loop moves: ticks, tick events and the tick-duration histogram.
        t0 = m0["intentd_ticks_total"]
        m1 = wait_for(lambda: (lambda m: m if m["intentd_ticks_total"] >= t0 + 20 else None)(
            scrape(srv)), 10)
        check(m1 is not None, "intentd_ticks_total increases (20 ticks within 10 s at 100 Hz)")
        if m1:
            check(m1['intentd_events_total{event="engine.tick"}'] >=
                  m0['intentd_events_total{event="engine.tick"}'] + 20,
                  "engine.tick events are counted")
            # A tick's duration is observed just after the tick counts it
            # (outside the state lock): a scrape may fall in between.
            check(m1["intentd_tick_duration_seconds_count"] >=
                  m0["intentd_tick_duration_seconds_count"] + 19,
                  "tick durations are observed",
                  (m0["intentd_tick_duration_seconds_count"], m1["intentd_tick_duration_seconds_count"]))
            check(m1['intentd_tick_duration_seconds_bucket{le="+Inf"}'] ==
                  m1["intentd_tick_duration_seconds_count"], "+Inf bucket equals _count")
            # A spacecraft tick at 100 Hz takes well under a second (a tick
            # timed from the wrong start lands in +Inf only).
            n = m1["intentd_tick_duration_seconds_count"]
            check(m1['intentd_tick_duration_seconds_bucket{le="1"}'] == n and
                  0 < m1["intentd_tick_duration_seconds_sum"] < n * 0.1,
                  "tick durations are real: every tick under 1 s, the mean under 100 ms",
                  (m1['intentd_tick_duration_seconds_bucket{le="1"}'], n,
                   m1["intentd_tick_duration_seconds_sum"]))
            # Every tick is committed: the durable tick follows the loop,
            # one commit at least per tick, no failure.
            check(m1["intentd_store_durable_tick"] >= m0["intentd_store_durable_tick"] + 19 and
                  m1["intentd_store_durable_tick"] <= m1["intentd_ticks_total"] + 1,
                  "intentd_store_durable_tick follows the ticks",
                  (m0["intentd_store_durable_tick"], m1["intentd_store_durable_tick"],
                   m1["intentd_ticks_total"]))
            check(m1["intentd_store_commits_total"] > m0["intentd_store_commits_total"] and
                  m1["intentd_store_failures_total"] == 0,
                  "store commits are counted, none failed")
            # A snapshot every 10 ticks, the newest 3 kept: the older ones
            # are deleted as new ones commit, and said so.
            snaps = {o: m1.get(f'intentd_store_snapshots_total{{outcome="{o}"}}')
                     for o in ("taken", "skipped", "pruned")}
            check(snaps["taken"] is not None and snaps["taken"] >= 2 and
                  snaps["pruned"] is not None and
                  # Up to two snapshots may still be on their way to disk.
                  max(snaps["taken"] - 5, 0) <= snaps["pruned"] <= max(snaps["taken"] - 3, 0),
                  "snapshots taken and pruned down to --keep-snapshots 3", snaps)

        # Requests are counted per route and status, unmatched as "none".
        before = scrape(srv)
        key = 'intentd_http_requests_total{route="metrics",code="200"}'
        for _ in range(5):
            http("GET", srv.url + "/metrics", VIEWER)
        after = scrape(srv)
        check(after.get(key, 0) >= before.get(key, 0) + 6,
              "GET /metrics 200s are counted", f"{before.get(key)} -> {after.get(key)}")
        check(after.get('intentd_http_requests_total{route="metrics",code="401"}', 0) >= 2,
              "401s on /metrics are counted")
        st, _, _ = http("GET", srv.url + "/no/such/route", VIEWER)
        after = scrape(srv)
        check(after.get(f'intentd_http_requests_total{{route="none",code="{st}"}}', 0) >= 1,
              f"an unmatched path is counted as route=\"none\" ({st})")

        # A submission: counted under its route and status; if accepted, an
        # intent is created at the next tick.
        created0 = after["intentd_intents_created_total"]
        st, _, body = http("POST", srv.url + "/api/v1/intents", OPERATOR,
                           {"type": "orbit_correction",
                            "goal": {"metric": "position", "reference": 3.0, "tolerance": 0.1}})
        m2 = scrape(srv)
        check(m2.get(f'intentd_http_requests_total{{route="intents_submit",code="{st}"}}', 0)
              >= 1, f"POST /api/v1/intents ({st}) is counted under intents_submit")
        if st == 202:
            m3 = wait_for(lambda: (lambda m: m if m["intentd_intents_created_total"] >=
                                   created0 + 1 else None)(scrape(srv)), 5)
            check(m3 is not None, "an accepted submission is created (intents_created_total)")
        else:
            print(f"note - submit answered {st} (the API may not be complete): {body[:120]}")

        # Scrapes while the loop runs never see counters go back, and the
        # histograms stay whole.
        prev = scrape(srv)
        ok = True
        detail = ""
        for _ in range(30):
            cur = scrape(srv)
            for k, v in cur.items():
                if (k.endswith("_total") or "_total{" in k or "_bucket{" in k or
                        k.endswith("_count")) and v < prev.get(k, 0):
                    ok, detail = False, f"{k}: {prev.get(k)} -> {v}"
            for h in ("intentd_tick_duration_seconds", "intentd_execution_latency_ticks",
                      "intentd_execution_latency_seconds"):
                if cur[h + '_bucket{le="+Inf"}'] != cur[h + "_count"]:
                    ok, detail = False, h + ": +Inf != _count"
            prev = cur
        check(ok, "30 scrapes during ticking: counters monotonic, +Inf == _count", detail)
        # Once the spacecraft has settled, its ticks decide nothing and
        # share commits (--commit-interval, 100 ms by default): a few a
        # second, not one a tick.
        time.sleep(1.0)
        a = scrape(srv)
        time.sleep(1.0)
        b = scrape(srv)
        commits = b["intentd_store_commits_total"] - a["intentd_store_commits_total"]
        ticks = b["intentd_ticks_total"] - a["intentd_ticks_total"]
        check(1 <= commits and commits * 3 <= ticks,
              "idle ticks share commits: at most one commit per three ticks", (commits, ticks))
        # Once requests of several routes and codes have been counted, the
        # text still passes promtool.
        if shutil.which("promtool"):
            rc, out = promtool_check(http("GET", srv.url + "/metrics", VIEWER)[2])
            check(rc == 0 and out == "", "promtool check metrics after traffic: no output",
                  f"exit {rc}: {out[:500]}")
    finally:
        rc = srv.stop()
    check(rc == 0, "the server exits 0 on SIGTERM", f"exit {rc}")
    db = sqlite3.connect(os.path.join(work, "protected", "data", "intentd.db"))
    kept = [t for (t,) in db.execute("SELECT tick FROM snapshot ORDER BY tick")]
    db.close()
    check(len(kept) == 3 and all(t % 10 == 0 for t in kept),
          "the store holds 3 snapshots (--keep-snapshots 3), of every 10th tick", kept)


def test_open(binary, work):
    srv = start(binary, os.path.join(work, "open"), ["--metrics-open"])
    try:
        st, ctype, text = http("GET", srv.url + "/metrics")
        check(st == 200, "--metrics-open: GET /metrics without a token is 200", f"got {st}")
        if st == 200:
            check("intentd_ticks_total" in parse(text), "--metrics-open: metrics served")
        st, _, _ = http("GET", srv.url + "/api/v1/state")
        check(st == 401, "--metrics-open opens /metrics only (/api/v1/state is 401)",
              f"got {st}")
    finally:
        rc = srv.stop()
    check(rc == 0, "the open server exits 0 on SIGTERM", f"exit {rc}")


def main():
    if len(sys.argv) != 2:
        print("usage: test_serve_metrics.py /path/to/intentd", file=sys.stderr)
        return 2
    binary = os.path.realpath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="intentd-e2e-metrics.")
    for test in (test_protected, test_open):
        try:
            test(binary, work)
        except Exception as e:  # a crash of one test is a failure, not an abort
            check(False, f"{test.__name__} raised", repr(e))
    if R.failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"(kept {work})")
    R.finish()


if __name__ == "__main__":
    sys.exit(main())
