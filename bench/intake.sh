#!/usr/bin/env bash
# bench/intake.sh BUILD_DIR [SECONDS]: intake throughput and latency of
# `intentd serve` (POST /api/v1/intents, 64 keep-alive clients, one request
# in flight each), twice: in memory (intake_http) beside the same load as
# XADD to a redis-server with persistence off (intake_redis_xadd), and
# durable, with --data, where a 202 is sent only once the submission is on
# disk (intake_http_durable) beside redis with appendfsync always
# (intake_redis_xadd_durable); wrk's figure for the durable run as a
# cross-check when wrk is installed.  Each run gets a fresh server.
set -euo pipefail
B=${1:-build}
SECS=${2:-10}
CONNS=64
cd "$(dirname "$0")/.."
BIN=$B/intentd
GEN=$B/bench/bench_intake
WORK=$(mktemp -d "${TMPDIR:-/tmp}/intentd-bench-intake.XXXXXX")
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

INTENTD_OPERATOR_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export INTENTD_OPERATOR_TOKEN

# wait_for SECONDS CMD...: poll CMD until it succeeds or the deadline passes.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}

url_of() { URL=$(sed -n 's/^intentd: listening on \(http:[^ ]*\).*/\1/p' "$1" 2>/dev/null); [ -n "$URL" ]; }

# start_intentd [durable]: a fresh server on a free port (with durable, on
# a fresh data directory); sets URL and IPID.
start_intentd() {
	# The old log goes first: the new server truncates it only once it runs,
	# and url_of must not read the previous server's address.
	rm -rf "$WORK/data" "$WORK/intentd.log"
	local data=()
	[ "${1:-}" = durable ] && data=(--data "$WORK/data")
	# The default spacecraft: once the orbit is corrected, each submitted
	# correction finds its goal met and completes at its first tick, so the
	# active set stays at about one tick's submissions (every tick scores
	# every active intent).  The queue holds a second of load at 100 Hz.
	"$BIN" serve --scenario spacecraft --listen 127.0.0.1:0 --rate 100 --telemetry off \
		--quiet "${data[@]}" \
		--set engine.max_intents=200000 --set engine.intake_capacity=65536 \
		2>"$WORK/intentd.log" &
	IPID=$!
	PIDS+=("$IPID")
	if ! wait_for 20 url_of "$WORK/intentd.log"; then
		echo "intentd did not start:"; cat "$WORK/intentd.log"; exit 1
	fi
}

stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# What the server itself reports about the run, from its /metrics.
server_view() {
	python3 - "$URL/metrics" <<'PY' || echo "  (no /metrics)"
import os, sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={
    "Authorization": "Bearer " + os.environ["INTENTD_OPERATOR_TOKEN"]})
m = {}
for line in urllib.request.urlopen(req, timeout=10).read().decode().splitlines():
    if line and not line.startswith("#"):
        k, v = line.rsplit(" ", 1)
        m[k] = float(v)
b = sorted((float(k.split('"')[1]), v) for k, v in m.items()
           if k.startswith("intentd_tick_duration_seconds_bucket") and "+Inf" not in k)
n = m["intentd_tick_duration_seconds_count"]
p99 = next((le for le, v in b if v >= 0.99 * n), float("inf"))
print("  intentd during the run: %d ticks, %d slips, tick p99 <= %g s, %d intents created, "
      "%d refused (intake full)" % (m["intentd_ticks_total"], m["intentd_tick_slips_total"], p99,
      m["intentd_intents_created_total"], m['intentd_intake_refused_total{reason="full"}']))
PY
}

start_intentd
"$GEN" --http "${URL#http://}" -c "$CONNS" -d "$SECS"
server_view
stop_pid "$IPID"

# Durable: each 202 waits for its group commit (without holding a thread).
start_intentd durable
"$GEN" --http "${URL#http://}" -c "$CONNS" -d "$SECS" -l intake_http_durable \
	-n "durable: 202 once on disk; peer: intake_redis_xadd_durable" | tee "$WORK/durable.out"
server_view
stop_pid "$IPID"

# Batched: 16 submissions per request (POST /api/v1/intents/batch), beside
# redis with 16 XADDs pipelined per round trip below.
start_intentd durable
"$GEN" --http "${URL#http://}" -c "$CONNS" -d "$SECS" -b 16 -l intake_http_durable_batch \
	-n "durable, 16 per request; peer: intake_redis_xadd_durable_pipelined"
server_view
stop_pid "$IPID"

if command -v wrk >/dev/null; then
	start_intentd durable
	BENCH_CONNS=$CONNS wrk -t2 -c"$CONNS" -d"${SECS}s" -s bench/peers/intake.lua "$URL" |
		grep '^intake_http_wrk' || echo "intake_http_wrk: wrk failed"
	stop_pid "$IPID"
else
	echo "intake_http_wrk: skipped (wrk not installed)"
fi

# run_redis LABEL NOTE ARGS...: XADD to a fresh redis-server started with ARGS.
run_redis() {
	local label=$1 note=$2
	shift 2
	RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	rm -rf "$WORK/redis"
	mkdir -p "$WORK/redis"
	redis-server --bind 127.0.0.1 --port "$RPORT" --dir "$WORK/redis" --save '' \
		--daemonize no "$@" >"$WORK/redis.log" 2>&1 &
	RPID=$!
	PIDS+=("$RPID")
	redis_up() { [ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" = PONG ]; }
	wait_for 20 redis_up || { echo "redis-server did not start:"; cat "$WORK/redis.log"; exit 1; }
	"$GEN" --redis "127.0.0.1:$RPORT" -c "$CONNS" -d "$SECS" -b "${BATCH:-1}" -l "$label" -n "$note"
	stop_pid "$RPID"
}

if command -v redis-server >/dev/null; then
	run_redis intake_redis_xadd "the peer, persistence off" --appendonly no
	# Not in a pipe: run_redis records the server's pid for the cleanup.
	run_redis intake_redis_xadd_durable "the durable peer: AOF, appendfsync always" \
		--appendonly yes --appendfsync always >"$WORK/redis_durable.out"
	cat "$WORK/redis_durable.out"
	BATCH=16 run_redis intake_redis_xadd_durable_pipelined \
		"the durable peer, 16 XADDs pipelined per round trip" \
		--appendonly yes --appendfsync always
	awk '/^intake_http_durable:/ { a = $6 } /^intake_redis_xadd_durable:/ { b = $6 }
	     END { if (a && b) printf "intake durable: intentd %d/s vs redis appendfsync always %d/s: %.1fx\n", a, b, a / b }' \
		"$WORK/durable.out" "$WORK/redis_durable.out"
else
	echo "intake_redis_xadd: skipped (redis-server not installed)"
fi
