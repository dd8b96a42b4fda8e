-- intake.lua: wrk's view of intentd's intake, to cross-check bench_intake:
-- every connection POSTs the same orbit correction, keep-alive, one request
-- in flight; the token comes from INTENTD_OPERATOR_TOKEN.  Prints one line
-- in bench_intake's format; answers with status >= 400 (429: intake full)
-- are not counted as accepted.
--   INTENTD_OPERATOR_TOKEN=... wrk -t2 -c64 -d10s -s bench/peers/intake.lua http://127.0.0.1:PORT
wrk.method = "POST"
wrk.path = "/api/v1/intents"
wrk.body = '{"type":"orbit_correction","goal":{"metric":"position","reference":3.0,"tolerance":0.1}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("INTENTD_OPERATOR_TOKEN") or "")

function done(summary, latency, requests)
	local secs = summary.duration / 1e6
	local bad = summary.errors.status + summary.errors.connect + summary.errors.read +
		summary.errors.write + summary.errors.timeout
	io.write(string.format(
		"intake_http_wrk: %s connections, %.0f s: %.0f intents/s, p50 %.2f ms, p99 %.2f ms (wrk cross-check%s)\n",
		os.getenv("BENCH_CONNS") or "64", secs, (summary.requests - summary.errors.status) / secs,
		latency:percentile(50) / 1000, latency:percentile(99) / 1000,
		bad > 0 and string.format(", %d errors or answers >= 400", bad) or ""))
end
