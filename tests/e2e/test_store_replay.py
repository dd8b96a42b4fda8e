"""The store through the binary: serve --data survives SIGKILL with every
acknowledged intent, `intentd replay --data` re-runs the journal with
every state hash matching (exit 0), a tampered journal is caught (exit 3),
and a data dir of another scenario is refused (exit 2)."""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Results, Server  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
R = Results()
ADMIN = "admin-token-0123456789abcdef"
ENV = {"INTENTD_ADMIN_TOKEN": ADMIN}
BODY = {"type": "orbit_correction",
        "goal": {"metric": "position", "reference": 4, "tolerance": 0.1}}


def replay(data):
    return subprocess.run([BIN, "replay", "--data", data], capture_output=True, text=True,
                          timeout=60)


def main():
    work = tempfile.mkdtemp(prefix="intentd-store-")
    data, tel = os.path.join(work, "d"), os.path.join(work, "t.jsonl")
    args = ["--rate", "100", "--data", data, "--telemetry", tel,
            "--set", "engine.max_intents=5000"]
    acked = []
    for round_ in range(3):
        srv = Server(BIN, args, env=ENV)
        try:
            for _ in range(4):
                st, _, body = srv.request("POST", "/api/v1/intents", body=BODY, token=ADMIN)
                if st == 202:
                    acked.append((body["id"], body["received_tick"]))
            srv.wait_for(lambda: False, timeout=0.3)
        finally:
            srv.proc.kill()  # SIGKILL: no chance to flush anything
            srv.proc.wait()
        if round_:
            R.check("recovered" in srv.stderr(), f"round {round_}: the run was recovered")
    R.check(len(acked) == 12, f"12 submissions acknowledged ({len(acked)})")
    srv = Server(BIN, args, env=ENV)
    try:
        missing = [i for i, _ in acked
                   if srv.request("GET", f"/api/v1/intents/{i}", token=ADMIN)[0] != 200]
        R.check(not missing, f"every acknowledged intent survived three SIGKILLs {missing}")
        ticks = [srv.request("GET", f"/api/v1/intents/{i}", token=ADMIN)[2]["created_tick"]
                 for i, _ in acked]
        R.check(ticks == [t for _, t in acked],
                "each was applied at the tick its 202 announced")
    finally:
        R.check(srv.stop() == 0, "a graceful stop")
    r = replay(data)
    R.check(r.returncode == 0 and "every state hash matches" in r.stdout,
            f"replay --data re-runs the journal exactly ({r.stdout.strip() or r.stderr.strip()})")
    seqs = [json.loads(line)["seq"] for line in open(tel)]
    R.check(len(seqs) == len(set(seqs)) and seqs == sorted(seqs),
            f"telemetry across the crashes: no seq twice, in order ({len(seqs)} events)")

    db = sqlite3.connect(os.path.join(data, "intentd.db"))
    (mid,) = db.execute("SELECT tick FROM tick ORDER BY tick LIMIT 1 OFFSET 40").fetchone()
    db.execute("UPDATE tick SET state_hash = state_hash + 1 WHERE tick = ?", (mid,))
    db.commit()
    db.close()
    r = replay(data)
    R.check(r.returncode == 3 and f"tick {mid}" in r.stderr,
            f"a tampered tick is caught at tick {mid} (exit {r.returncode}: {r.stderr.strip()})")

    r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", data,
                        "--set", "state.battery.initial=50"], capture_output=True, text=True,
                       timeout=30, env=dict(os.environ, **ENV))
    R.check(r.returncode == 2 and "scenario" in r.stderr,
            "a data dir of another run's scenario is refused (exit 2)")
    r = replay(os.path.join(work, "nothing-here"))
    R.check(r.returncode == 2, "replay of a missing data dir is a usage error")

    # A batch run journaled with sim --data replays to the same state.
    sd = os.path.join(work, "sim")
    r = subprocess.run([BIN, "sim", "--cycles", "50000", "--data", sd, "--telemetry", "off",
                        "--set", "state.battery.initial=30"],
                       capture_output=True, text=True, timeout=120)
    want = r.stdout.split("state_hash ")[1].split()[0] if "state_hash " in r.stdout else "?"
    R.check(r.returncode == 0, f"sim --data journals a 50,000-tick run (hash {want})")
    r = replay(sd)
    R.check(r.returncode == 0 and "50000 ticks" in r.stdout and want in r.stdout,
            "replay re-runs it, with its --set, to the same final state hash")
    r = subprocess.run([BIN, "sim", "--cycles", "5", "--data", sd, "--telemetry", "off",
                        "--set", "state.battery.initial=30"], capture_output=True,
                       text=True, timeout=60)
    R.check(r.returncode == 2 and "already holds a run" in r.stderr,
            "sim --data refuses a directory that already holds a run")
    R.finish()


if __name__ == "__main__":
    main()
