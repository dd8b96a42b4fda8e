#!/usr/bin/env python3
"""test_store_fault.py: a storage fault as a user meets it (SPEC 8): the
data directory sits on a small tmpfs that is then filled up.  Intake must
answer 503 store_unavailable (never 202 for what is not on disk), /readyz
503, and nothing already acknowledged may be lost; once space is freed the
server reopens and re-verifies the store, rebuilds its state from it, and
takes intents again.  After a restart every acknowledged intent is there,
the journal replays with every hash matching and the audit chain verifies.

Needs to mount a tmpfs (root); without that privilege it says so and
checks nothing else.

Usage: python3 test_store_fault.py /path/to/intentd
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Results, Server  # noqa: E402

R = Results()
BIN = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="intentd-e2e-fault-")
DISK = os.path.join(TMP, "disk")
OP = "operator-fault-0123456789abcdef"
ENV = {"INTENTD_OPERATOR_TOKEN": OP, "INTENTD_ADMIN_TOKEN": "admin-fault-0123456789abcdef"}
SERVERS = []             # every server started, stopped in the finally
BODY = {"type": "orbit_correction", "goal": {"metric": "position", "reference": -5.0,
                                              "tolerance": 0.1}}


def check(cond, what, detail=None):
    return R.check(bool(cond), what, detail)


def submit(s):
    try:
        st, _, js = s.request("POST", "/api/v1/intents", BODY, token=OP)
    except OSError as e:
        return None, str(e)
    return st, js


def wait(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return None


def fill(path):
    """Write zeros until the file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 512):
            try:
                while os.write(fd, b"\0" * size) > 0:
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)


def main():
    os.makedirs(DISK)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", DISK],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        print("# skipped: cannot mount a tmpfs here (" + p.stdout.decode().strip() + ")")
        R.finish()
    try:
        run_checks()
    finally:
        subprocess.run(["umount", "-l", DISK])


def run_checks():
    data = os.path.join(DISK, "data")
    wd = os.path.join(TMP, "w1")
    os.makedirs(wd)
    args = ["--data", data, "--rate", "100", "--telemetry", os.path.join(TMP, "tel.jsonl")]
    s = Server(BIN, args, ENV, workdir=wd)
    SERVERS.append(s)
    acked = []
    for _ in range(20):
        st, js = submit(s)
        if st == 202:
            acked.append(js["id"])
    check(len(acked) == 20, f"20 submissions acknowledged before the fault ({len(acked)})")

    filler = os.path.join(DISK, "filler")
    fill(filler)
    answers = {}

    def refused():
        st, js = submit(s)
        answers[st] = answers.get(st, 0) + 1
        if st == 202:
            acked.append(js["id"])
        return st == 503 and js

    js = wait(refused, 20)
    check(js and js.get("error", {}).get("code") == "store_unavailable",
          "with the disk full, submissions answer 503 store_unavailable", (answers, js))
    # Closing the failed database may free a little space (SQLite folds its
    # WAL back in), so a repair can succeed and fail again while the disk
    # stays full; /readyz says 503 whenever the store is failed.
    saw = wait(lambda: s.request("GET", "/readyz")[0] == 503, 10)
    check(saw, "/readyz answers 503 while the store is failed")
    time.sleep(1.0)
    st, js = submit(s)
    check(st == 503, f"still 503 while the disk stays full ({st})")
    err = s.stderr()
    check("input is refused (503) and ticking stops" in err,
          "the server says why on stderr", err[-1500:])

    os.remove(filler)
    ok = wait(lambda: "store repaired" in s.stderr(), 30)
    check(ok, "once space is freed the server repairs the store", s.stderr()[-1500:])
    ready = wait(lambda: s.request("GET", "/readyz")[0] == 200, 10)
    check(ready, "/readyz answers 200 again")
    st, js = submit(s)
    if st == 202:
        acked.append(js["id"])
    check(st == 202, f"submissions are acknowledged again ({st}, {js})")
    t0 = s.request("GET", "/api/v1/state", token=OP)[2]["tick"]
    moved = wait(lambda: s.request("GET", "/api/v1/state", token=OP)[2]["tick"] > t0 + 5, 10)
    check(moved, "the loop ticks again")

    missing = [i for i in acked if s.request("GET", "/api/v1/intents/" + i, token=OP)[0] != 200]
    check(not missing, f"every acknowledged intent is there after the repair "
          f"({len(acked) - len(missing)}/{len(acked)})", missing[:5])
    rc = s.stop(20)
    check(rc == 0, f"graceful stop ({rc})")

    wd2 = os.path.join(TMP, "w2")
    os.makedirs(wd2)
    s2 = Server(BIN, args, ENV, workdir=wd2)
    SERVERS.append(s2)
    wait(lambda: s2.request("GET", "/readyz")[0] == 200, 20)
    missing = []
    for i in acked:
        st = wait(lambda: s2.request("GET", "/api/v1/intents/" + i, token=OP)[0] == 200 or None,
                  5)
        if not st:
            missing.append(i)
    check(not missing, f"after a restart every acknowledged intent is there "
          f"({len(acked) - len(missing)}/{len(acked)})", missing[:5])
    s2.stop(20)

    p = subprocess.run([BIN, "replay", "--data", data, "--verify"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    check(p.returncode == 0, "the journal replays with every state hash matching",
          p.stdout.decode())
    p = subprocess.run([BIN, "audit", "verify", "--data", data], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    check(p.returncode == 0, "the audit chain verifies", p.stdout.decode())
    evs = [json.loads(line) for line in open(os.path.join(TMP, "tel.jsonl")) if line.strip()]
    names = [e["event"] for e in evs]
    check("store.failed" in names and "store.repaired" in names,
          "telemetry reports store.failed and store.repaired",
          [n for n in names if n.startswith("store")])


if __name__ == "__main__":
    try:
        main()
        R.finish()
    finally:
        for srv in SERVERS:
            if srv.proc.poll() is None:
                srv.proc.kill()
                srv.proc.wait(10)
        if os.environ.get("INTENTD_E2E_KEEP") != "1":
            subprocess.run(["umount", "-l", DISK], stderr=subprocess.DEVNULL)
            shutil.rmtree(TMP, ignore_errors=True)
