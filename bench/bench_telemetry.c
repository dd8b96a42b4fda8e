/* bench_telemetry.c: how fast telemetry is produced: the JSON writer alone,
 * the same events built and printed with cJSON (what a producer would
 * otherwise do), and end to end through itd_tel into a file.  No
 * arguments; median of 5 runs each; about 10 s in all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "telemetry/telemetry.h"

#define RUNS 5

/* The inputs of event i (varied so nothing is a constant). */
struct inputs {
	uint64_t tick;
	double power, battery, temp, altitude, velocity, att_err, score1, score2, before,
		after;
	char hash[17];
};

static void make_inputs(uint64_t i, struct inputs *in)
{
	double k = (double)(i % 1000);
	in->tick = i + 1;
	in->power = 87.25 + k * 0.001;
	in->battery = 4.540000000000001 - k * 1e-6;
	in->temp = 21.375 + k * 0.25;
	in->altitude = 412.00000000000006 + k * 0.1;
	in->velocity = 7.66 + k * 1e-4;
	in->att_err = 0.0123 * (1 + k);
	in->score1 = 0.8123456789 - k * 1e-5;
	in->score2 = 0.25;
	in->before = 87.25;
	in->after = 86.75000000000001 + k * 1e-3;
	static const char hex[] = "0123456789abcdef";
	uint64_t h = i * UINT64_C(0x9e3779b97f4a7c15);
	for (int b = 0; b < 16; b++)
		in->hash[b] = hex[(h >> (4 * b)) & 15];
	in->hash[16] = '\0';
}

/* ------------------------------------------------------------ our writer */

static void jw_payload(struct itd_jw *w, int kind, const struct inputs *in)
{
	switch (kind) {
	case 0: /* engine.tick frame */
		ITD_JW_KEY(w, "state");
		itd_jw_obj_begin(w);
		ITD_JW_KNUM(w, "power", in->power);
		ITD_JW_KNUM(w, "battery", in->battery);
		ITD_JW_KNUM(w, "temp", in->temp);
		ITD_JW_KNUM(w, "altitude", in->altitude);
		ITD_JW_KNUM(w, "velocity", in->velocity);
		ITD_JW_KNUM(w, "attitude_error", in->att_err);
		ITD_JW_KSTR(w, "mode", "NOMINAL");
		ITD_JW_KU64(w, "tick", in->tick);
		itd_jw_obj_end(w);
		ITD_JW_KEY(w, "policy");
		itd_jw_obj_begin(w);
		ITD_JW_KSTR(w, "selected_intent_id", "i-000012");
		ITD_JW_KEY(w, "scores");
		itd_jw_obj_begin(w);
		itd_jw_knum(w, "i-000012", in->score1);
		itd_jw_knum(w, "i-000013", in->score2);
		itd_jw_obj_end(w);
		itd_jw_obj_end(w);
		ITD_JW_KEY(w, "execution");
		itd_jw_obj_begin(w);
		ITD_JW_KSTR(w, "executed_intent_id", "i-000012");
		ITD_JW_KBOOL(w, "override_applied", false);
		ITD_JW_KBOOL(w, "lock_applied", false);
		itd_jw_obj_end(w);
		ITD_JW_KEY(w, "safety");
		itd_jw_obj_begin(w);
		ITD_JW_KBOOL(w, "blocked", false);
		ITD_JW_KSTR(w, "blocked_intent_id", NULL);
		ITD_JW_KEY(w, "critical_domains");
		itd_jw_arr_begin(w);
		itd_jw_str(w, "power");
		itd_jw_arr_end(w);
		ITD_JW_KSTR(w, "reason", NULL);
		itd_jw_obj_end(w);
		ITD_JW_KSTR(w, "state_hash", in->hash);
		break;
	case 1: /* state.updated */
		ITD_JW_KSTR(w, "intent_id", "i-000012");
		ITD_JW_KEY(w, "changed");
		itd_jw_arr_begin(w);
		itd_jw_str(w, "power");
		itd_jw_str(w, "battery");
		itd_jw_arr_end(w);
		ITD_JW_KEY(w, "before");
		itd_jw_obj_begin(w);
		ITD_JW_KNUM(w, "power", in->before);
		ITD_JW_KNUM(w, "battery", in->battery);
		itd_jw_obj_end(w);
		ITD_JW_KEY(w, "after");
		itd_jw_obj_begin(w);
		ITD_JW_KNUM(w, "power", in->after);
		ITD_JW_KNUM(w, "battery", in->battery - 1e-3);
		itd_jw_obj_end(w);
		break;
	default: /* intent.blocked */
		ITD_JW_KSTR(w, "intent_id", "i-000013");
		ITD_JW_KSTR(w, "type", "orbit_correction");
		ITD_JW_KSTR(w, "rule", "safe_mode_mission_blocked");
		ITD_JW_KSTR(w, "explain", "mode == SAFE and battery 4.54 < min_battery 5.0: "
					  "mission intents wait for NOMINAL");
		ITD_JW_KEY(w, "values");
		itd_jw_obj_begin(w);
		ITD_JW_KSTR(w, "mode", "SAFE");
		ITD_JW_KNUM(w, "battery", in->battery);
		itd_jw_obj_end(w);
		break;
	}
}

static const char *const EVENTS[] = { "engine.tick", "state.updated", "intent.blocked" };
static const char *const SOURCES[] = { "engine", "engine", "policy" };

/* A whole envelope with the standalone writer. */
static void jw_event(struct itd_jw *w, uint64_t i, const struct inputs *in)
{
	int kind = (int)(i % 3);
	itd_jw_obj_begin(w);
	ITD_JW_KSTR(w, "schema_version", "1.0");
	ITD_JW_KSTR(w, "timestamp", "2025-01-01T00:20:34.000Z");
	ITD_JW_KSTR(w, "source", SOURCES[kind]);
	ITD_JW_KSTR(w, "run_id", "spacecraft-s1");
	ITD_JW_KU64(w, "cycle", in->tick);
	ITD_JW_KU64(w, "seq", i + 1);
	ITD_JW_KSTR(w, "event", EVENTS[kind]);
	ITD_JW_KEY(w, "payload");
	itd_jw_obj_begin(w);
	jw_payload(w, kind, in);
	ITD_JW_KEY(w, "redacted_fields");
	itd_jw_arr_begin(w);
	itd_jw_arr_end(w);
	itd_jw_obj_end(w);
	ITD_JW_KEY(w, "tags");
	itd_jw_obj_begin(w);
	ITD_JW_KSTR(w, "scenario", "spacecraft");
	ITD_JW_KSTR(w, "env", "sim");
	itd_jw_obj_end(w);
	itd_jw_obj_end(w);
}

static char sink_buf[1 << 20];
static volatile size_t sink_total; /* keeps the output observable */

static double run_writer(uint64_t n, uint64_t *bytes_out)
{
	struct itd_jw *w = itd_jw_create(sink_buf, sizeof sink_buf);
	uint64_t bytes = 0;
	uint64_t t0 = itd_clock_mono_ns();
	for (uint64_t i = 0; i < n; i++) {
		struct inputs in;
		make_inputs(i, &in);
		char *start = sink_buf + itd_jw_len(w);
		if (sizeof sink_buf - itd_jw_len(w) < 4096) {
			sink_total += itd_jw_len(w);
			bytes += itd_jw_len(w);
			itd_jw_reset(w, sink_buf, sizeof sink_buf);
			start = sink_buf;
		}
		(void)start;
		jw_event(w, i, &in);
	}
	bytes += itd_jw_len(w);
	uint64_t t1 = itd_clock_mono_ns();
	itd_jw_destroy(w);
	*bytes_out = bytes;
	return (double)(t1 - t0) / 1e9;
}

/* ------------------------------------------------------------------ cJSON */

static cJSON *cj_obj(cJSON *parent, const char *key)
{
	return cJSON_AddObjectToObject(parent, key);
}

static char *cj_event(uint64_t i, const struct inputs *in)
{
	int kind = (int)(i % 3);
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "schema_version", "1.0");
	cJSON_AddStringToObject(root, "timestamp", "2025-01-01T00:20:34.000Z");
	cJSON_AddStringToObject(root, "source", SOURCES[kind]);
	cJSON_AddStringToObject(root, "run_id", "spacecraft-s1");
	cJSON_AddNumberToObject(root, "cycle", (double)in->tick);
	cJSON_AddNumberToObject(root, "seq", (double)(i + 1));
	cJSON_AddStringToObject(root, "event", EVENTS[kind]);
	cJSON *p = cj_obj(root, "payload");
	if (kind == 0) {
		cJSON *s = cj_obj(p, "state");
		cJSON_AddNumberToObject(s, "power", in->power);
		cJSON_AddNumberToObject(s, "battery", in->battery);
		cJSON_AddNumberToObject(s, "temp", in->temp);
		cJSON_AddNumberToObject(s, "altitude", in->altitude);
		cJSON_AddNumberToObject(s, "velocity", in->velocity);
		cJSON_AddNumberToObject(s, "attitude_error", in->att_err);
		cJSON_AddStringToObject(s, "mode", "NOMINAL");
		cJSON_AddNumberToObject(s, "tick", (double)in->tick);
		cJSON *po = cj_obj(p, "policy");
		cJSON_AddStringToObject(po, "selected_intent_id", "i-000012");
		cJSON *sc = cj_obj(po, "scores");
		cJSON_AddNumberToObject(sc, "i-000012", in->score1);
		cJSON_AddNumberToObject(sc, "i-000013", in->score2);
		cJSON *ex = cj_obj(p, "execution");
		cJSON_AddStringToObject(ex, "executed_intent_id", "i-000012");
		cJSON_AddFalseToObject(ex, "override_applied");
		cJSON_AddFalseToObject(ex, "lock_applied");
		cJSON *sa = cj_obj(p, "safety");
		cJSON_AddFalseToObject(sa, "blocked");
		cJSON_AddNullToObject(sa, "blocked_intent_id");
		cJSON *cd = cJSON_AddArrayToObject(sa, "critical_domains");
		cJSON_AddItemToArray(cd, cJSON_CreateString("power"));
		cJSON_AddNullToObject(sa, "reason");
		cJSON_AddStringToObject(p, "state_hash", in->hash);
	} else if (kind == 1) {
		cJSON_AddStringToObject(p, "intent_id", "i-000012");
		cJSON *ch = cJSON_AddArrayToObject(p, "changed");
		cJSON_AddItemToArray(ch, cJSON_CreateString("power"));
		cJSON_AddItemToArray(ch, cJSON_CreateString("battery"));
		cJSON *b = cj_obj(p, "before");
		cJSON_AddNumberToObject(b, "power", in->before);
		cJSON_AddNumberToObject(b, "battery", in->battery);
		cJSON *a = cj_obj(p, "after");
		cJSON_AddNumberToObject(a, "power", in->after);
		cJSON_AddNumberToObject(a, "battery", in->battery - 1e-3);
	} else {
		cJSON_AddStringToObject(p, "intent_id", "i-000013");
		cJSON_AddStringToObject(p, "type", "orbit_correction");
		cJSON_AddStringToObject(p, "rule", "safe_mode_mission_blocked");
		cJSON_AddStringToObject(p, "explain", "mode == SAFE and battery 4.54 < min_battery 5.0: "
						      "mission intents wait for NOMINAL");
		cJSON *v = cj_obj(p, "values");
		cJSON_AddStringToObject(v, "mode", "SAFE");
		cJSON_AddNumberToObject(v, "battery", in->battery);
	}
	cJSON_AddArrayToObject(p, "redacted_fields");
	cJSON *tg = cj_obj(root, "tags");
	cJSON_AddStringToObject(tg, "scenario", "spacecraft");
	cJSON_AddStringToObject(tg, "env", "sim");
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

static double run_cjson(uint64_t n, uint64_t *bytes_out)
{
	uint64_t bytes = 0;
	uint64_t t0 = itd_clock_mono_ns();
	for (uint64_t i = 0; i < n; i++) {
		struct inputs in;
		make_inputs(i, &in);
		char *text = cj_event(i, &in);
		bytes += strlen(text);
		cJSON_free(text);
	}
	uint64_t t1 = itd_clock_mono_ns();
	*bytes_out = bytes;
	return (double)(t1 - t0) / 1e9;
}

/* ------------------------------------------------------------- end to end */

static double run_e2e(const char *path, uint64_t n, uint64_t *bytes_out)
{
	static const char *const keys[] = { "scenario", "env" };
	static const char *const values[] = { "spacecraft", "sim" };
	struct itd_tel_config cfg = {
		.run_id = "spacecraft-s1",
		.tag_keys = keys,
		.tag_values = values,
		.n_tags = 2,
		.policy = ITD_TEL_BLOCK, /* measure sustained throughput, nothing dropped */
	};
	const struct itd_sink_ops *ops;
	void *ctx;
	char err[256];
	struct itd_tel *t;
	if (itd_tel_create(&cfg, &t) != 0 ||
	    itd_sink_file_open(path, true, &ops, &ctx, err, sizeof err) != 0 ||
	    itd_tel_add_sink(t, "file", ops, ctx) != 0) {
		fprintf(stderr, "bench_telemetry: cannot set up %s\n", path);
		exit(1);
	}
	uint64_t t0 = itd_clock_mono_ns();
	for (uint64_t i = 0; i < n; i++) {
		struct inputs in;
		make_inputs(i, &in);
		int kind = (int)(i % 3);
		struct itd_jw *w = itd_tel_begin(t, EVENTS[kind], SOURCES[kind], in.tick,
						 ITD_CLOCK_SIM_EPOCH_MS + (int64_t)(i / 3) * 1000);
		jw_payload(w, kind, &in);
		itd_tel_end(t);
		if (kind == 2)
			itd_tel_tick_end(t, in.tick, 0);
	}
	itd_tel_drain(t);
	uint64_t t1 = itd_clock_mono_ns();
	struct itd_tel_sink_stats st;
	itd_tel_sink_stats(t, 0, &st);
	*bytes_out = st.bytes;
	itd_tel_destroy(t);
	return (double)(t1 - t0) / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof *v, cmp_double);
	return v[RUNS / 2];
}

int main(void)
{
	const uint64_t n_writer = 600000, n_cjson = 150000, n_e2e = 300000;
	double tw[RUNS], tc[RUNS], te[RUNS];
	uint64_t bw = 0, bc = 0, be = 0;
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/bench_telemetry_%ld.jsonl", tmp && *tmp ? tmp : "/tmp",
		 (long)getpid());

	for (int r = 0; r < RUNS; r++) {
		tw[r] = run_writer(n_writer, &bw);
		tc[r] = run_cjson(n_cjson, &bc);
		te[r] = run_e2e(path, n_e2e, &be);
	}
	unlink(path);
	double w = median(tw), c = median(tc), e = median(te);
	double w_eps = (double)n_writer / w, c_eps = (double)n_cjson / c, e_eps = (double)n_e2e / e;
	printf("telemetry_writer: %.2f M events/s, %.2f GB/s (%.0f B/event) | cJSON: %.2f M "
	       "events/s, %.0f MB/s (%.0f B/event) | ratio %.1fx\n",
	       w_eps / 1e6, (double)bw / w / 1e9, (double)bw / (double)n_writer, c_eps / 1e6,
	       (double)bc / c / 1e6, (double)bc / (double)n_cjson, w_eps / c_eps);
	printf("telemetry_e2e_file: %.2f M events/s, %.2f GB/s (tick thread + file sink "
	       "thread, block policy, drained)\n",
	       e_eps / 1e6, (double)be / e / 1e9);
	return 0;
}
