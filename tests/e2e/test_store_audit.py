#!/usr/bin/env python3
"""test_store_audit.py: the audit chain as a user meets it (SPEC 8):
`intentd audit keygen`, a run journaled with signed checkpoints, `intentd
audit verify` on the intact chain, then on copies tampered with one byte of
each field of an entry, a deleted entry, a truncated tail (caught with
--head), a wrong public key; `audit export`; key-file permissions; and the
offline queries
(`intents --data`, `explain --data`) against the same store.

Usage: python3 test_store_audit.py /path/to/intentd
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Results  # noqa: E402
import audit_blocks  # noqa: E402

R = Results()
BIN = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="intentd-e2e-audit-")


def check(cond, what, detail=None):
    return R.check(bool(cond), what, detail)


def run(args, timeout=120):
    p = subprocess.run([BIN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, cwd=TMP)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def copy_store(src, name):
    dst = os.path.join(TMP, name)
    shutil.copytree(src, dst)
    return dst


def tamper(src, name, fn):
    """A copy of the store with fn applied to every audit entry (see
    audit_blocks.edit)."""
    d = copy_store(src, name)
    audit_blocks.edit(d, fn)
    return d


def flip(b, i):
    b = bytearray(b)
    b[i] ^= 0x01
    return bytes(b)


def main():
    sec, pub = os.path.join(TMP, "audit.key"), os.path.join(TMP, "audit.pub")
    rc, out, err = run(["audit", "keygen", sec, pub])
    check(rc == 0 and os.path.exists(sec) and os.path.exists(pub),
            "audit keygen writes a key pair")
    check(stat.S_IMODE(os.stat(sec).st_mode) == 0o600, "the secret key file is mode 0600")
    rc, out, err = run(["audit", "keygen", sec, pub + "2"])
    check(rc == 2 and "never overwritten" in err, "keygen refuses to overwrite a key", err)

    d = os.path.join(TMP, "run")
    rc, out, err = run(["sim", "--data", d, "-n", "2000", "-q", "--telemetry", "off",
                        "--audit-key", sec, "--audit-every", "10",
                        "--set", "state.battery.initial=8"])
    check(rc == 0, "sim --data with --audit-key journals a run", err)

    chain = audit_blocks.entries(d)
    n = len(chain)
    kinds = {}
    for e in chain:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    check([e["idx"] for e in chain] == list(range(1, n + 1)),
          "the blocks hold entries 1..n in order")
    check(n > 50, f"the run has audit entries ({n})")
    for k in ("intent.received", "intent.executed", "intent.completed", "checkpoint"):
        check(kinds.get(k, 0) > 0, f"the chain records {k} ({kinds.get(k, 0)})")

    # The entries as `audit export` prints them: one JSON line each, the
    # same chain the blocks hold, payloads as JSON.
    rc, out, err = run(["audit", "export", "--data", d])
    lines = [json.loads(x) for x in out.splitlines()] if rc == 0 else []
    check(len(lines) == n and all(
        x["index"] == e["idx"] and x["kind"] == e["kind"] and x["hash"] == e["hash"].hex()
        for x, e in zip(lines, chain)), f"audit export prints every entry ({len(lines)})",
        err)
    rec = [x for x in lines if x["kind"] == "intent.received"]
    check(rec and isinstance(rec[0]["data"], dict) and rec[0]["data"].get("intent_id"),
          "export gives an entry's payload as JSON", rec[:1])
    rc, out, err = run(["audit", "export", "--data", d, "--from", "20"])
    first = json.loads(out.splitlines()[0]) if rc == 0 and out else {}
    check(first.get("index") == 20 and len(out.splitlines()) == n - 19,
          "audit export --from 20 starts at entry 20", out[:200] + err)

    rc, out, err = run(["audit", "verify", "--data", d])
    m = re.search(r"head (\d+):([0-9a-f]{64})", out)
    check(rc == 0 and "audit chain intact" in out and m, "audit verify: intact", out + err)
    head = f"{m.group(1)}:{m.group(2)}" if m else "1:" + "0" * 64
    rc, out, err = run(["audit", "verify", "--data", d, "--public-key", pub,
                        "--checkpoint-every", "10"])
    cps = re.search(r"(\d+) signed checkpoints", out)
    check(rc == 0 and cps and int(cps.group(1)) >= n // 11 - 1,
            "audit verify --public-key: every checkpoint's signature holds", out + err)

    # One byte changed in each column of entry 20: named as entry 20.
    cols = ["tick", "time_ms", "kind", "subject", "actor", "data", "prev_hash", "hash"]
    for col in cols:
        def one_byte(e, col=col):
            if e["idx"] == 20:
                v = e[col]
                if isinstance(v, int):
                    e[col] = v ^ 1
                elif isinstance(v, str):
                    e[col] = (chr(ord(v[0]) ^ 1) + v[1:]) if v else "x"
                else:
                    e[col] = flip(v, len(v) // 2)
            return e
        t = tamper(d, "t-" + col, one_byte)
        rc, out, err = run(["audit", "verify", "--data", t])
        check(rc == 3 and "broken at entry 20" in err,
                f"one byte of {col} changed: verify exits 3 naming entry 20", err)

    t = tamper(d, "t-delete", lambda e: None if e["idx"] == 33 else e)
    rc, out, err = run(["audit", "verify", "--data", t])
    check(rc == 3 and "broken at entry 33" in err and "deleted" in err,
            "a deleted entry: verify exits 3 naming it", err)

    # A block cut short no longer decodes: export refuses it (exit 3)
    # instead of printing what follows the damage.
    t = copy_store(d, "t-cut")
    c = audit_blocks.connect(t)
    c.execute("UPDATE audit_block SET entries = substr(entries, 1, length(entries) - 1)"
              " WHERE first = (SELECT first FROM audit_block ORDER BY first LIMIT 1 OFFSET 2)")
    c.commit()
    c.close()
    rc, out, err = run(["audit", "export", "--data", t])
    check(rc == 3 and "damaged block" in err, "export of a damaged block: exit 3", err)

    t = tamper(d, "t-trunc", lambda e: None if e["idx"] > n - 5 else e)
    rc, out, err = run(["audit", "verify", "--data", t, "--head", head])
    check(rc == 3 and f"broken at entry {n - 4}" in err and "truncated" in err,
            "a truncated tail: verify --head exits 3 naming the first missing entry", err)

    other_sec, other_pub = os.path.join(TMP, "other.key"), os.path.join(TMP, "other.pub")
    run(["audit", "keygen", other_sec, other_pub])
    rc, out, err = run(["audit", "verify", "--data", d, "--public-key", other_pub])
    check(rc == 3 and "broken at entry 11" in err,
            "verify with another public key: exit 3 at the first checkpoint", err)

    # A readable secret key is refused before anything runs.
    loose = os.path.join(TMP, "loose.key")
    shutil.copy(sec, loose)
    os.chmod(loose, 0o644)
    rc, out, err = run(["sim", "--data", os.path.join(TMP, "loose"), "-n", "10", "-q",
                        "--telemetry", "off", "--audit-key", loose])
    check(rc == 2 and "chmod 600" in err, "a group/world-readable audit key is refused",
            err)
    rc, out, err = run(["sim", "-n", "10", "-q", "--telemetry", "off", "--audit-key", sec])
    check(rc == 2 and "needs --data" in err, "--audit-key without --data: usage error", err)

    # Offline queries on the same store.
    rc, out, err = run(["intents", "--data", d, "--json"])
    js = json.loads(out) if rc == 0 else {}
    ids = [i["id"] for i in js.get("intents", [])]
    check(ids and all(i["status"] for i in js["intents"]),
            f"intents --data --json lists the run's intents ({len(ids)})", out + err)
    # Each status's filter (live ones through their index, terminal ones by
    # a scan) lists exactly the intents the full list gives that status,
    # on this run and on one stopped after 3 ticks, its intents still live.
    early = os.path.join(TMP, "early")
    rc, out, err = run(["sim", "--data", early, "-n", "3", "-q", "--telemetry", "off",
                        "--set", "state.battery.initial=8"])
    rc, out, err = run(["intents", "--data", early, "--json"])
    ej = json.loads(out) if rc == 0 else {}
    by_status = {}
    for store, listed in ((d, js), (early, ej)):
        for i in listed.get("intents", []):
            by_status.setdefault((store, i["status"]), []).append(i["id"])
    check(any(s not in ("completed", "failed") for _, s in by_status),
          f"the stores hold live and finished intents ({sorted(s for _, s in by_status)})")
    for (store, status), want in sorted(by_status.items()):
        rc, out, err = run(["intents", "--data", store, "--status", status, "-q"])
        check(rc == 0 and out.split() == want,
              f"intents --data --status {status}: its {len(want)} intents", out + err)
    live = [s for st, s in by_status if st == early and
            s not in ("completed", "failed", "cancelled", "expired", "denied")]
    if live:
        rc, out, err = run(["intents", "--data", early, "--status", ",".join(live), "-q"])
        want = sorted(i for s in live for i in by_status[(early, s)])
        check(rc == 0 and sorted(out.split()) == want,
              f"intents --data --status {','.join(live)}: the live ones together", out + err)
    rc, out, err = run(["intents", "--data", d, "--type", "battery_recovery", "-q"])
    check(rc == 0 and out.split() and all(i in ids for i in out.split()),
            "intents --data --type filters", out + err)
    done = [i["id"] for i in js.get("intents", []) if i["status"] == "completed"]
    if done:
        rc, out, err = run(["explain", done[0], "--data", d, "--json"])
        st = json.loads(out).get("story", []) if rc == 0 else []
        evs = [e["event"] for e in st]
        check(evs and evs[0] == "intent.received" and evs[-1] == "intent.completed",
                "explain --data --json: the story runs from receipt to completion", evs)
        ex = [e["payload"] for e in st if e["event"] == "intent.executed"]
        check(all(p.get("changes") for p in ex),
                "every execution in the story carries the state change it made", ex[:2])
    else:
        check(False, "the run completed an intent to explain")

    R.finish()


if __name__ == "__main__":
    try:
        main()
    finally:
        if os.environ.get("INTENTD_E2E_KEEP") != "1":
            shutil.rmtree(TMP, ignore_errors=True)
