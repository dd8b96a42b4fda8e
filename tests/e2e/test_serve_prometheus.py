#!/usr/bin/env python3
"""test_serve_prometheus.py: a real Prometheus server scrapes a running
`intentd serve` every second with a viewer bearer token (the
`authorization:` block of a scrape config), and its query API then answers
with intentd's series: the target is up, intentd_ticks_total > 0, a rate
and a histogram quantile evaluate, the state gauges are there.  A second
job with a wrong token must see the target down with a 401.

Usage: python3 test_serve_prometheus.py /path/to/intentd
Prints one line per check and "N passed, M failed" last (with ", 1 skipped"
when Prometheus is not installed); exits 1 on failure.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Results, Server  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
VIEWER = "viewer-secret-0123456789"
OPERATOR = "operator-secret-0123456789"

R = Results()


def check(ok, what, detail=""):
    """One check; the detail is printed only when it fails."""
    return R.check(ok, what + (f": {detail}" if detail and not ok else ""))


class Proc:
    """A child process whose stderr goes to a log file; stop() terminates,
    waits, then kills."""

    def __init__(self, cmd, cwd, env, log):
        self.log = log
        self.logf = open(log, "wb")
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)

    def tail(self, n=20):
        try:
            with open(self.log, "rb") as f:
                return "\n  ".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout=15):
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = None
        self.logf.close()
        return rc


def wait_for(pred, timeout, every=0.2):
    """Poll pred() until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = pred()
        except (OSError, ValueError, KeyError, IndexError):
            v = None
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(every)


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode())


def free_port():
    """A port free now on 127.0.0.1 (the kernel's pick; released at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_intentd(binary, work):
    """intentd with viewer and operator tokens: (server, url, port)."""
    srv = Server(binary, ["--scenario", "spacecraft", "--data", os.path.join(work, "data"),
                          "--rate", "100"],
                 env={"INTENTD_VIEWER_TOKEN": VIEWER, "INTENTD_OPERATOR_TOKEN": OPERATOR},
                 workdir=work)
    return srv, srv.url, srv.port


PROM_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: intentd
    authorization:
      type: Bearer
      credentials: {viewer}
    static_configs:
      - targets: ['127.0.0.1:{port}']
  - job_name: intentd_wrong_token
    authorization:
      type: Bearer
      credentials: not-the-token
    static_configs:
      - targets: ['127.0.0.1:{port}']
"""


def query(prom, expr):
    """The instant vector result of a PromQL expression ([] if none)."""
    j = get_json(prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    if j.get("status") != "success":
        raise ValueError(j)
    return j["data"]["result"]


def first_value(prom, expr):
    r = query(prom, expr)
    return float(r[0]["value"][1]) if r else None


def targets_by_job(prom):
    j = get_json(prom + "/api/v1/targets")
    return {t["labels"]["job"]: t for t in j["data"]["activeTargets"]}


def run(binary, work):
    itd, url, port = start_intentd(binary, work)
    prom_proc = None
    try:
        cfg = os.path.join(work, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(PROM_CONFIG.format(viewer=VIEWER, port=port))
        p = subprocess.run(["promtool", "check", "config", cfg], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        check(p.returncode == 0, "promtool check config accepts the scrape config",
              p.stdout.decode()[-300:])

        pport = free_port()
        prom = f"http://127.0.0.1:{pport}"
        prom_proc = Proc([PROMETHEUS, "--config.file=" + cfg,
                          "--storage.tsdb.path=" + os.path.join(work, "tsdb"),
                          "--web.listen-address=127.0.0.1:%d" % pport,
                          "--log.level=warn"], work, dict(os.environ),
                         os.path.join(work, "prometheus.log"))

        def ready():
            if prom_proc.proc.poll() is not None:
                raise RuntimeError("prometheus exited: " + prom_proc.tail())
            with urllib.request.urlopen(prom + "/-/ready", timeout=2) as r:
                return r.status == 200
        check(wait_for(ready, 60), "Prometheus is ready", prom_proc.tail())

        up = wait_for(lambda: targets_by_job(prom)["intentd"]["health"] == "up", 60)
        t = wait_for(lambda: targets_by_job(prom), 5) or {}
        check(bool(up), "Prometheus reports the intentd target up",
              json.dumps(t.get("intentd", {}))[:400])
        ticks = wait_for(lambda: (lambda v: v if v and v > 0 else None)(
            first_value(prom, 'intentd_ticks_total{job="intentd"}')), 60)
        check(ticks is not None and ticks > 0, "intentd_ticks_total > 0 in Prometheus",
              f"{ticks}")

        rate = wait_for(lambda: (lambda v: v if v and v > 0 else None)(
            first_value(prom, 'rate(intentd_ticks_total{job="intentd"}[5s])')), 60)
        check(rate is not None and 20 < rate < 200,
              "rate(intentd_ticks_total[5s]) is about the 100 Hz tick rate", f"{rate}")
        battery = wait_for(lambda: query(prom, 'intentd_state{field="battery"}'), 30)
        check(bool(battery) and 0 <= float(battery[0]["value"][1]) <= 100,
              'intentd_state{field="battery"} is in Prometheus, within 0..100',
              json.dumps(battery)[:200])
        mode = wait_for(lambda: first_value(prom, 'sum(intentd_mode{job="intentd"})'), 30)
        check(mode == 1, "the mode gauges sum to 1", f"{mode}")
        q99 = wait_for(lambda: first_value(
            prom, 'histogram_quantile(0.99, rate(intentd_tick_duration_seconds_bucket'
                  '{job="intentd"}[5s]))'), 30)
        check(q99 is not None and 0 < q99 <= 1,
              "histogram_quantile(0.99, tick duration) evaluates", f"{q99}")
        scraped = wait_for(lambda: first_value(
            prom, 'scrape_samples_scraped{job="intentd"}'), 30)
        check(scraped is not None and scraped > 100, "a scrape yields > 100 samples",
              f"{scraped}")
        statuses = wait_for(lambda: query(prom, 'intentd_intents{job="intentd"}'), 30) or []
        check(len(statuses) == 12, "12 intent status gauges", f"{len(statuses)}")

        bad = wait_for(lambda: (lambda t: t if t["health"] == "down" else None)(
            targets_by_job(prom)["intentd_wrong_token"]), 30)
        check(bool(bad) and "401" in bad.get("lastError", ""),
              "a wrong token: target down with a 401", json.dumps(bad)[:300])
        # No scrape of the good job failed along the way.
        good = targets_by_job(prom)["intentd"]
        check(good["lastError"] == "", "the intentd target has no scrape error",
              good["lastError"])
    finally:
        prc = prom_proc.stop() if prom_proc else 0
        irc = itd.stop()
    check(prc == 0, "Prometheus stops cleanly", f"exit {prc}: {prom_proc and prom_proc.tail()}")
    check(irc == 0, "intentd exits 0 on SIGTERM", f"exit {irc}: {itd.stderr()[-2000:]}")


def main():
    if len(sys.argv) != 2:
        print("usage: test_serve_prometheus.py /path/to/intentd", file=sys.stderr)
        return 2
    if not os.path.exists(PROMETHEUS):
        print("skipped: prometheus not installed")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    binary = os.path.realpath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="intentd-e2e-prom.")
    try:
        run(binary, work)
    except Exception as e:
        check(False, "the test raised", repr(e))
    if R.failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"(kept {work})")
    R.finish()


if __name__ == "__main__":
    sys.exit(main())
