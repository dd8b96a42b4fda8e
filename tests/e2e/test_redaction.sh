#!/usr/bin/env bash
# Redaction through the binary: configured paths are replaced before the
# file is written, keyed hashes are joinable, and a missing key is an error.
. "$(dirname "$0")/lib.sh"
F="$SRC/tests/e2e/fixtures/pump.yaml"

expect_exit 2 "hmac redaction without its key" -- env -u PUMP_TELEMETRY_KEY "$BIN" sim --config "$F" --cycles 5
expect_grep "PUMP_TELEMETRY_KEY" err "the missing key is named"

expect_exit 0 "sim with redaction" -- env PUMP_TELEMETRY_KEY=s3cret "$BIN" sim --config "$F" --cycles 20 --telemetry out.jsonl --quiet
if grep -q "alice\|OPS-17" out.jsonl; then fail "a redacted value leaked"; else pass "no redacted value in the file"; fi
python3 - out.jsonl <<'PY' > check.txt 2>&1
import hashlib, hmac, json, sys
rec = [json.loads(l) for l in open(sys.argv[1])]
got = [e["payload"] for e in rec if e["event"] == "intent.received"]
assert len(got) == 2, got
want = "hmac-sha256:" + hmac.new(b"s3cret", b'"alice"', hashlib.sha256).hexdigest()
for p in got:
    assert p["params"]["operator"] == want, p["params"]["operator"]
    assert p["params"]["ticket"] == "REDACTED", p["params"]
    assert p["redacted_fields"] == ["payload.params.operator", "payload.params.ticket"], p["redacted_fields"]
    assert p["params"]["rate"] in (4, 5)
assert all(e["payload"]["redacted_fields"] == [] for e in rec if e["event"] == "engine.tick")
assert rec[0]["tags"] == {"scenario": "pump", "env": "test"}
print("redaction ok")
PY
if [ $? = 0 ]; then pass "hmac matches, REDACTED, fields listed"; else fail "redaction check"; cat check.txt; fi
finish
