#!/usr/bin/env python3
"""test_store_snapshot.py: snapshots as a user meets them (SPEC 8): a run
journaled with a snapshot every N ticks; `intentd replay --from-snapshot`
starts from the newest one and ends at the same state as a re-run from
tick 0; a corrupted snapshot is reported and skipped, never trusted; a
server killed with SIGKILL restarts from its newest snapshot and replays
only the ticks after it.

Usage: python3 test_store_snapshot.py /path/to/intentd
"""
import os
import re
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Results, Server  # noqa: E402

R = Results()
BIN = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="intentd-e2e-snap-")
SERVERS = []             # every server started, killed in the finally


def check(cond, what, detail=None):
    return R.check(bool(cond), what, detail)


def run(args, timeout=120):
    p = subprocess.run([BIN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, cwd=TMP)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def final_hash(out):
    m = re.search(r"final state_hash ([0-9a-f]{16})", out)
    return m.group(1) if m else None


def main():
    d = os.path.join(TMP, "run")
    rc, out, err = run(["sim", "--data", d, "-n", "20500", "-q", "--telemetry", "off",
                        "--snapshot-every", "1000", "--set", "state.battery.initial=12"])
    check(rc == 0, "sim --data --snapshot-every 1000 journals a run", err)
    c = sqlite3.connect(os.path.join(d, "intentd.db"))
    ticks = [t for (t,) in c.execute("SELECT tick FROM snapshot ORDER BY tick")]
    c.close()
    check(ticks == list(range(13000, 20001, 1000)),
          "a snapshot every 1000 ticks, the newest 8 kept by default", ticks)

    # --keep-snapshots 0 keeps every one; 1 only the newest.
    for keep, want in (("0", list(range(1000, 20001, 1000))), ("1", [20000])):
        k = os.path.join(TMP, "keep" + keep)
        rc, out, err = run(["sim", "--data", k, "-n", "20500", "-q", "--telemetry", "off",
                            "--snapshot-every", "1000", "--keep-snapshots", keep,
                            "--set", "state.battery.initial=12"])
        c = sqlite3.connect(os.path.join(k, "intentd.db"))
        got = [t for (t,) in c.execute("SELECT tick FROM snapshot ORDER BY tick")]
        c.close()
        check(rc == 0 and got == want, f"--keep-snapshots {keep} keeps {len(want)}", (got, err))
    rc, out, err = run(["sim", "--data", os.path.join(TMP, "bad"), "-n", "10",
                        "--keep-snapshots", "-1"])
    check(rc == 2 and "keep-snapshots" in err, "--keep-snapshots -1 is refused (exit 2)", err)

    rc, full, err = run(["replay", "--data", d, "--verify"])
    check(rc == 0 and "20500 ticks re-run" in full, "replay from tick 0", full + err)
    rc, snap, err = run(["replay", "--data", d, "--verify", "--from-snapshot"])
    check(rc == 0 and "from the snapshot of tick 20000" in snap and "500 ticks re-run" in snap,
          "replay --from-snapshot starts at the newest snapshot", snap + err)
    check(final_hash(full) and final_hash(full) == final_hash(snap),
          "both replays end at the same state hash", (final_hash(full), final_hash(snap)))

    # One byte of the newest snapshot changed: reported, skipped, the one
    # before it used, and the end is the same.
    t = os.path.join(TMP, "corrupt")
    shutil.copytree(d, t)
    c = sqlite3.connect(os.path.join(t, "intentd.db"))
    data = bytearray(c.execute("SELECT data FROM snapshot WHERE tick = 20000").fetchone()[0])
    data[len(data) // 2] ^= 0x10
    c.execute("UPDATE snapshot SET data = ? WHERE tick = 20000", (bytes(data),))
    c.commit()
    c.close()
    rc, out, err = run(["replay", "--data", t, "--verify", "--from-snapshot"])
    check(rc == 0 and "snapshot of tick 20000 skipped: checksum mismatch" in err and
          "from the snapshot of tick 19000" in out and "1500 ticks re-run" in out and
          final_hash(out) == final_hash(full),
          "a corrupt snapshot is reported and skipped, the previous one used", out + err)

    # A server killed with SIGKILL restarts from its newest snapshot.
    sd = os.path.join(TMP, "serve")
    env = {"INTENTD_ADMIN_TOKEN": "admin-snap-0123456789abcdef"}
    args = ["--data", sd, "--rate", "500", "--snapshot-every", "100", "--telemetry", "off"]
    os.makedirs(os.path.join(TMP, "w1"))
    os.makedirs(os.path.join(TMP, "w2"))
    s = Server(BIN, args, env, workdir=os.path.join(TMP, "w1"))
    SERVERS.append(s)
    time.sleep(1.5)
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait(10)
    s2 = Server(BIN, args, env, workdir=os.path.join(TMP, "w2"))
    SERVERS.append(s2)
    lines = s2.stderr().splitlines()
    line = next((ln for ln in lines if "recovered to tick" in ln), "")
    m = re.search(r"recovered to tick (\d+) \(snapshot of tick (\d+) \+ (\d+) ticks", line)
    check(m and int(m.group(2)) > 0 and int(m.group(2)) % 100 == 0 and
          int(m.group(3)) < 400 and int(m.group(1)) == int(m.group(2)) + int(m.group(3)),
          "after SIGKILL, serve recovers from its newest snapshot plus the ticks after it",
          "\n".join(lines))
    rc = s2.stop(20)
    check(rc == 0, f"graceful stop ({rc})")
    rc, out, err = run(["replay", "--data", sd, "--verify"])
    check(rc == 0, "the served run replays from tick 0 with every hash matching", out + err)

    # A divergence: the journaled value of a console `set` is changed, so
    # the replay applies another value than the run did.  replay names the
    # tick and, at the first snapshot after it, the fields that differ.
    dd = os.path.join(TMP, "diverge")
    args = ["--data", dd, "--rate", "200", "--snapshot-every", "20", "--telemetry", "off"]
    os.makedirs(os.path.join(TMP, "w3"))
    s3 = Server(BIN, args, env, workdir=os.path.join(TMP, "w3"))
    SERVERS.append(s3)
    time.sleep(0.3)
    st, _, js = s3.request("POST", "/api/v1/console",
                           {"command": "set", "field": "battery", "value": 77.25},
                           token=env["INTENTD_ADMIN_TOKEN"])
    check(st == 202, f"console set battery 77.25 is accepted ({st} {js})")
    time.sleep(0.8)
    check(s3.stop(20) == 0, "graceful stop")
    c = sqlite3.connect(os.path.join(dd, "intentd.db"))
    rows = c.execute("SELECT first, data FROM input_block").fetchall()
    want = struct.pack("<d", 77.25)
    hits = [(a, d) for a, d in rows if want in d]
    check(len(hits) == 1, f"the set is journaled with its value ({len(hits)} input blocks hold it)")
    if hits:
        a, d = hits[0]
        c.execute("UPDATE input_block SET data = ? WHERE first = ?",
                  (d.replace(want, struct.pack("<d", 12.5)), a))
        c.commit()
    c.close()
    rc, out, err = run(["replay", "--data", dd, "--verify"])
    check(rc == 3 and "replay diverged at tick" in err and
          re.search(r"battery\s+recorded 7\d\.\d*, replayed 1\d\.\d*", err) and
          "at the snapshot of tick" in err,
          "a divergence: exit 3 naming the tick and the fields that differ", err)
    R.finish()


if __name__ == "__main__":
    try:
        main()
    finally:
        for srv in SERVERS:
            if srv.proc.poll() is None:
                srv.proc.kill()
                srv.proc.wait(10)
        if os.environ.get("INTENTD_E2E_KEEP") != "1":
            shutil.rmtree(TMP, ignore_errors=True)
