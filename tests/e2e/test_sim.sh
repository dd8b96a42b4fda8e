#!/usr/bin/env bash
# The batch simulator end to end: valid, byte-identical JSONL across runs,
# the spacecraft story, the default telemetry file, and summarize.
. "$(dirname "$0")/lib.sh"

expect_exit 0 "sim to stdout" -- "$BIN" sim --scenario spacecraft --cycles 400 --clock sim --telemetry - --quiet
cp out run1.jsonl
expect_exit 0 "sim again" -- "$BIN" sim --scenario spacecraft --cycles 400 --clock sim --telemetry - --quiet
cp out run2.jsonl
if cmp -s run1.jsonl run2.jsonl && [ -s run1.jsonl ]; then pass "two runs are byte-identical"; else fail "runs differ"; fi

python3 - run1.jsonl <<'PY' >check.txt 2>&1
import json, sys
keys = ["schema_version", "timestamp", "source", "run_id", "cycle", "seq", "event", "payload", "tags"]
seq = 0
override_t1 = completed = False
last_tick = None
for n, line in enumerate(open(sys.argv[1]), 1):
    ev = json.loads(line)
    assert list(ev.keys()) == keys, f"line {n}: keys {list(ev.keys())}"
    assert ev["schema_version"] == "1.0"
    assert ev["seq"] == seq + 1, f"line {n}: seq {ev['seq']} after {seq}"
    seq = ev["seq"]
    assert ev["cycle"] >= 1
    assert ev["timestamp"].endswith("Z") and len(ev["timestamp"]) == 24
    assert ev["run_id"] == "spacecraft-s1"
    assert ev["tags"] == {"scenario": "spacecraft", "env": "sim"}, ev["tags"]
    assert "redacted_fields" in ev["payload"]
    p = ev["payload"]
    if ev["event"] == "safety.override" and ev["cycle"] == 1 and p["type"] == "battery_recovery":
        override_t1 = True
    if ev["event"] == "intent.completed" and p["intent_id"] == "i-000001":
        assert p["type"] == "orbit_correction"
        completed = True
    if ev["event"] == "engine.tick":
        last_tick = ev
assert ev["timestamp"] == "2025-01-01T00:06:40.000Z", ev["timestamp"]
assert override_t1, "no battery override on tick 1"
assert completed, "orbit_correction never completed"
assert last_tick["cycle"] == 400
st = last_tick["payload"]["state"]
assert st["mode"] == "NOMINAL", st
assert st["position"] >= 2.9, st
assert len(last_tick["payload"]["state_hash"]) == 16
print("envelopes ok", seq)
PY
if [ $? = 0 ]; then pass "envelopes valid, story holds ($(cat check.txt))"; else fail "envelope check"; cat check.txt; fi

expect_exit 0 "sim to the default file" -- "$BIN" sim --cycles 50
if [ -s logs/telemetry/spacecraft-s1.jsonl ]; then pass "default telemetry file written"; else fail "no logs/telemetry/spacecraft-s1.jsonl"; fi
expect_grep "summary: 50 ticks" out "summary printed"
expect_grep "intents: 4 total, 1 queued, 3 completed" out "summary counts intents by status"
expect_exit 0 "an unreachable mission" -- "$BIN" sim --cycles 50 --set state.position.initial=-15 --telemetry off
expect_grep "blocked by position_bounds_exceeded +[0-9]+ ticks" out "summary lists blocks by reason"

expect_exit 0 "summarize" -- "$BIN" telemetry summarize run1.jsonl
expect_grep "intent.completed" out "summary counts completed intents"
expect_exit 0 "summarize --json" -- "$BIN" telemetry summarize --json run1.jsonl
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' out && pass "summarize --json is JSON" || fail "summarize --json not JSON"

expect_exit 0 "seed changes the run id" -- "$BIN" sim --cycles 10 --seed 7 --telemetry t7.jsonl --quiet
expect_grep '"run_id":"spacecraft-s7"' t7.jsonl "run id carries the seed"
expect_exit 0 "telemetry off" -- "$BIN" sim --cycles 1000 --telemetry off
expect_grep "summary: 1000 ticks" out "runs without telemetry"

expect_exit 0 "set override runs" -- "$BIN" sim --cycles 5 --set state.battery.initial=60 --telemetry - --quiet
expect_grep '"battery":60\.5[34]' out "override applied (60 + 0.54 on tick 1)"

expect_exit 0 "lines" -- "$BIN" sim --cycles 3 --lines --telemetry off --quiet
expect_grep "^tick      1  SAFE" out "one readable line per tick"

expect_exit 0 "real clock paced" -- "$BIN" sim --cycles 20 --clock real --rate 200 --telemetry - --quiet
if [ "$(grep -c '"event":"engine.tick"' out)" = 20 ]; then pass "20 paced ticks"; else fail "paced tick count"; fi

expect_exit 0 "scenarios" -- "$BIN" scenarios
expect_grep "^spacecraft" out "lists spacecraft"
expect_exit 0 "scenarios --show" -- "$BIN" scenarios --show spacecraft
expect_grep "^scenario: spacecraft" out "shows the YAML"
cp out mine.yaml
expect_exit 0 "validate the shown YAML" -- "$BIN" validate mine.yaml
expect_exit 0 "version" -- "$BIN" version
expect_grep "^intentd [0-9]" out "version printed"
for c in sim validate scenarios telemetry version; do
	expect_exit 0 "$c --help" -- "$BIN" $c --help
done
expect_exit 0 "--help" -- "$BIN" --help
finish
