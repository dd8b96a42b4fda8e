/* cli_sim.c: `intentd sim`: run a scenario in batch (or paced), with
 * telemetry to a file or stdout, a progress bar on a terminal, one readable
 * line per tick on request, and a summary at the end. */
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "engine/engine.h"
#include "store/store.h"
#include "telemetry/telemetry_events.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* The CLI's observer: forwards to telemetry and draws lines/progress. */
struct sim_view {
	struct itd_observer tel;  /* telemetry's observer (event may be NULL), or
				     with --data the audit observer in front of it */
	bool lines;               /* one line per tick */
	bool progress;            /* progress bar on stderr */
	uint64_t total;           /* ticks to run (0: unbounded) */
	uint64_t start_ns;        /* run start */
	uint64_t last_draw_ns;    /* last progress update */
};

static void view_event(void *ctx, const struct itd_engine *e, const struct itd_event *ev)
{
	struct sim_view *v = ctx;
	if (v->tel.event)
		v->tel.event(v->tel.ctx, e, ev);
}

static void print_line(const struct itd_engine *e)
{
	const struct itd_scenario *s = itd_engine_scenario(e);
	const struct itd_value *st = itd_engine_state(e);
	const struct itd_gate *g = itd_engine_gate(e);
	const struct itd_intent *x = itd_engine_executed(e);
	char buf[1024];
	size_t n = 0;
	n += (size_t)snprintf(buf + n, sizeof buf - n, "tick %6" PRIu64 "  %-10s",
			      itd_engine_tick(e), itd_engine_mode(e));
	for (size_t i = 0; i < s->n_fields && n < sizeof buf; i++) {
		char val[64];
		itd_value_format(&st[i], val, sizeof val);
		if (st[i].type == ITD_T_NUM)
			snprintf(val, sizeof val, "%.2f", st[i].num);
		n += (size_t)snprintf(buf + n, sizeof buf - n, " %s=%s%s%s", s->fields[i].name, val,
				      s->fields[i].unit ? " " : "",
				      s->fields[i].unit ? s->fields[i].unit : "");
	}
	if (n < sizeof buf && x)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "  | ran %s %s%s", x->id,
				      s->types[x->type].name,
				      g->override_critical >= 0 ? " (override)" :
				      g->lock_applied		? " (lock)" :
								  "");
	if (n < sizeof buf && g->verdict == ITD_VERDICT_BLOCKED)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "  | blocked %s %s: %s",
				      g->pick->id, g->rule->id, g->explain);
	printf("%s\n", buf);
	fflush(stdout);
}

static void draw_progress(struct sim_view *v, uint64_t tick, bool final)
{
	uint64_t now = itd_clock_mono_ns();
	double secs = (double)(now - v->start_ns) / 1e9;
	double rate = secs > 0 ? (double)tick / secs : 0;
	if (v->total) {
		int width = 30, fill = (int)((double)width * (double)tick / (double)v->total);
		fprintf(stderr, "\r[%.*s%*s] %3d%%  tick %" PRIu64 "/%" PRIu64 "  %.0f ticks/s ",
			fill, "##############################", width - fill, "",
			(int)(100.0 * (double)tick / (double)v->total), tick, v->total, rate);
	} else {
		fprintf(stderr, "\rtick %" PRIu64 "  %.0f ticks/s ", tick, rate);
	}
	if (final)
		fputc('\n', stderr);
	v->last_draw_ns = now;
}

static void view_tick_end(void *ctx, const struct itd_engine *e)
{
	struct sim_view *v = ctx;
	if (v->tel.tick_end)
		v->tel.tick_end(v->tel.ctx, e);
	if (v->lines)
		print_line(e);
	uint64_t tick = itd_engine_tick(e);
	if (v->progress && (tick & 1023) == 0 && itd_clock_mono_ns() - v->last_draw_ns > 100000000)
		draw_progress(v, tick, false);
}

static void summary(const struct itd_engine *e, const struct itd_tel *tel, double secs, FILE *f)
{
	const struct itd_scenario *s = itd_engine_scenario(e);
	const struct itd_intents *t = itd_engine_intents_c(e);
	struct itd_engine_stats st;
	itd_engine_stats(e, &st);
	fprintf(f, "summary: %" PRIu64 " ticks in %.3f s (%.0f ticks/s), final mode %s, state_hash "
		   "%016" PRIx64 "\n",
		st.ticks, secs, secs > 0 ? (double)st.ticks / secs : 0.0, itd_engine_mode(e),
		itd_engine_state_hash(e));
	fprintf(f, "  state:");
	const struct itd_value *v = itd_engine_state(e);
	for (size_t i = 0; i < s->n_fields; i++) {
		char val[64];
		itd_value_format(&v[i], val, sizeof val);
		fprintf(f, " %s=%s", s->fields[i].name, val);
	}
	fprintf(f, "\n  intents: %" PRIu64 " total", t->n);
	for (int k = 0; k < ITD_ST_COUNT; k++)
		if (t->by_status[k])
			fprintf(f, ", %" PRIu64 " %s", t->by_status[k], itd_status_name(k));
	fprintf(f, "\n  executions: %" PRIu64 ", blocked ticks: %" PRIu64 ", faults: %" PRIu64
		   ", slips: %" PRIu64 ", rejected: %" PRIu64 "\n",
		st.executions, st.blocks, st.faults, st.slips, st.rejected);
	for (size_t r = 0; r < s->n_safety; r++) {
		uint64_t n = itd_engine_blocks_by_rule(e, r);
		if (n)
			fprintf(f, "  blocked by %-36s %" PRIu64 " ticks\n", s->safety[r].id, n);
	}
	if (tel) {
		fprintf(f, "  telemetry: %" PRIu64 " events", itd_tel_events(tel));
		for (size_t i = 0; i < itd_tel_n_sinks(tel); i++) {
			struct itd_tel_sink_stats ss;
			itd_tel_sink_stats(tel, i, &ss);
			fprintf(f, "; %s: %" PRIu64 " dropped, %" PRIu64 " write errors", ss.name,
				ss.dropped, ss.write_errors);
		}
		fputc('\n', f);
	}
}

/* Telemetry for this run: envelope tags and redaction from the scenario,
 * one sink.  Returns 0 or an exit status (message printed). */
static int open_telemetry(const struct itd_cmd_ctx *c, const struct itd_scenario *s,
			  const char *run_id, bool sim_clock, struct itd_tel **out)
{
	const char *where = itd_cli_opt(c, "telemetry");
	const char *pol = itd_cli_opt(c, "telemetry-policy");
	*out = NULL;
	if (where && !strcmp(where, "off"))
		return 0;
	struct itd_tel_options o = {.run_id = run_id,
				    .policy = sim_clock ? ITD_TEL_BLOCK : ITD_TEL_DROP_OLDEST,
				    .flush_every_tick = !sim_clock};
	if (pol) {
		if (!strcmp(pol, "block"))
			o.policy = ITD_TEL_BLOCK;
		else if (!strcmp(pol, "drop"))
			o.policy = ITD_TEL_DROP_OLDEST;
		else {
			fprintf(stderr, "intentd sim: --telemetry-policy: expected block or drop, got '%s'\n",
				pol);
			return ITD_EXIT_USAGE;
		}
	}
	char err[512];
	int rc = itd_tel_create_for(s, &o, out, err, sizeof err);
	if (rc) {
		fprintf(stderr, "intentd sim: %s\n", err);
		return rc == ITD_ECONFIG ? ITD_EXIT_USAGE : ITD_EXIT_RUNTIME;
	}
	if (itd_tel_open_sink(*out, where, run_id, false, err, sizeof err)) {
		fprintf(stderr, "intentd sim: cannot open telemetry sink: %s\n", err);
		itd_tel_destroy(*out);
		*out = NULL;
		return ITD_EXIT_RUNTIME;
	}
	return 0;
}

static uint64_t tel_seq(void *ctx)
{
	return ctx ? itd_tel_events(ctx) : 0;
}

/* Audit entries carry their event's telemetry payload. */
static int audit_payload(void *ctx, const struct itd_engine *e, const struct itd_event *ev,
			 const struct itd_value *pre, char *buf, size_t cap, size_t *len_out)
{
	return itd_tel_payload(ctx, e, ev, pre, buf, cap, len_out);
}

/* A batch run starts a store; it does not continue one (serve does). */
static int refuse_held(const char *dir, uint64_t ticks)
{
	fprintf(stderr, "intentd sim: %s already holds a run (%llu ticks); use an empty "
			"directory, or `intentd serve --data` to continue a run\n",
		dir, (unsigned long long)ticks);
	return ITD_EXIT_USAGE;
}

/* sim --data DIR: journal the run so `intentd replay` can check it. */
static int open_journal(const struct itd_cmd_ctx *c, const struct itd_scenario *s,
			unsigned long long seed, double rate, struct itd_engine *e,
			struct itd_tel *tel, struct itd_tel *enc, struct sim_view *view,
			struct itd_store **out)
{
	const char *dir = itd_cli_opt(c, "data");
	size_t len = 0;
	char *identity = itd_cli_scenario_identity(c, &len);
	if (!identity) {
		fprintf(stderr, "intentd sim: cannot read the scenario for the journal\n");
		return ITD_EXIT_RUNTIME;
	}
	unsigned long long every = 0, snap = 0, keep = 0;
	const char *v = itd_cli_opt(c, "audit-every");
	const char *vs = itd_cli_opt(c, "snapshot-every");
	const char *vk = itd_cli_opt(c, "keep-snapshots");
	int rc;
	if ((v && (rc = itd_cli_u64("audit-every", v, 1, 1ull << 40, &every))) ||
	    (vs && (rc = itd_cli_u64("snapshot-every", vs, 0, 1ull << 40, &snap))) ||
	    (vk && (rc = itd_cli_u64("keep-snapshots", vk, 0, 1ull << 40, &keep)))) {
		free(identity);
		return rc;
	}
	/* Refused before the store is opened, which would upgrade an older
	 * format: a refused command leaves the directory as it was. */
	uint64_t held = 0;
	if (itd_store_holds_run(dir, &held)) {
		free(identity);
		return refuse_held(dir, held);
	}
	struct itd_store_config sc = {.dir = dir, .scenario_name = s->name, .identity = identity,
				      .identity_len = len, .seed = seed,
				      .rate = rate > 0 ? rate : s->rate_hz,
				      .audit_key = itd_cli_opt(c, "audit-key"), .audit_every = every,
				      .snapshot_every = vs && !snap ? UINT64_MAX : snap,
				      .keep_snapshots = vk && !keep ? UINT64_MAX : keep,
				      .batch = true};
	char err[1024];
	rc = itd_store_open(&sc, out, err, sizeof err);
	free(identity);
	if (rc) {
		fprintf(stderr, "intentd sim: %s\n", err);
		return rc == ITD_ENOMEM || rc == ITD_EIO ? ITD_EXIT_RUNTIME : ITD_EXIT_USAGE;
	}
	uint64_t last_tick = 0, last_arrival = 0;
	itd_store_last(*out, &last_tick, &last_arrival);
	if (last_tick || last_arrival) {
		itd_store_close(*out);
		*out = NULL;
		return refuse_held(dir, last_tick);
	}
	itd_store_attach(*out, e, tel ? tel_seq : NULL, tel);
	struct itd_observer next = view->tel;
	if (itd_store_observer(*out, &next, audit_payload, enc, &view->tel)) {
		fprintf(stderr, "intentd sim: out of memory setting up the audit chain\n");
		return ITD_EXIT_RUNTIME;
	}
	return 0;
}

int itd_cmd_sim(struct itd_cmd_ctx *c)
{
	struct itd_scenario *s = NULL;
	struct itd_tel *tel = NULL;
	struct itd_engine *e = NULL;
	struct itd_store *st = NULL;
	struct itd_tel *enc = NULL; /* --data with telemetry off: encodes audit payloads */
	int rc;
	if (c->n_pos) {
		fprintf(stderr, "intentd sim: unexpected argument '%s'\n", c->pos[0]);
		return ITD_EXIT_USAGE;
	}
	unsigned long long cycles = 400, seed;
	double rate = 0;
	const char *v;
	if ((v = itd_cli_opt(c, "cycles")) && (rc = itd_cli_u64("cycles", v, 0, UINT64_MAX / 2, &cycles)))
		return rc;
	if ((v = itd_cli_opt(c, "rate")) && (rc = itd_cli_double("rate", v, 1e-6, 1e6, &rate)))
		return rc;
	bool real = false;
	if ((v = itd_cli_opt(c, "clock"))) {
		if (!strcmp(v, "real"))
			real = true;
		else if (strcmp(v, "sim")) {
			fprintf(stderr, "intentd sim: --clock: expected sim or real, got '%s'\n", v);
			return ITD_EXIT_USAGE;
		}
	}
	if ((rc = itd_cli_load_scenario(c, &s)))
		return rc;
	char run_id[256];
	if ((rc = itd_cli_run_identity(c, s, &seed, run_id, sizeof run_id)))
		goto out;
	if (!cycles && !real) {
		fprintf(stderr, "intentd sim: --cycles 0 (run until interrupted) needs --clock real\n");
		rc = ITD_EXIT_USAGE;
		goto out;
	}
	if ((rc = open_telemetry(c, s, run_id, !real, &tel)))
		goto out;
	bool data = itd_cli_opt(c, "data") != NULL;
	if (itd_cli_opt(c, "audit-key") && !data) {
		fprintf(stderr, "intentd sim: --audit-key needs --data (the audit chain lives in "
				"the data directory)\n");
		rc = ITD_EXIT_USAGE;
		goto out;
	}
	if (data && !tel) {
		/* No telemetry, but the audit payloads still follow its
		 * redaction rules. */
		struct itd_tel_options eo = {.run_id = run_id};
		char err[512];
		if (itd_tel_create_for(s, &eo, &enc, err, sizeof err)) {
			fprintf(stderr, "intentd sim: %s\n", err);
			rc = ITD_EXIT_USAGE;
			goto out;
		}
	}

	bool quiet = itd_cli_opt(c, "quiet") != NULL;
	const char *where = itd_cli_opt(c, "telemetry");
	bool tel_stdout = where && !strcmp(where, "-");
	struct sim_view view = {
		.lines = itd_cli_opt(c, "lines") != NULL,
		.progress = !quiet && isatty(2) && (cycles == 0 || cycles >= 100000 || real),
		.total = cycles, .start_ns = itd_clock_mono_ns()};
	if (tel)
		itd_tel_observer(tel, &view.tel);
	if (view.lines && tel_stdout) {
		fprintf(stderr, "intentd sim: --lines and --telemetry - both write to stdout\n");
		rc = ITD_EXIT_USAGE;
		goto out;
	}
	view.progress &= !view.lines;
	struct itd_observer obs = {.event = tel || data ? view_event : NULL,
				   .tick_end = view_tick_end, .ctx = &view};
	struct itd_engine_config ec = {.scn = s, .seed = seed,
				       .clock = real ? ITD_CLOCK_REAL : ITD_CLOCK_SIM,
				       .rate_hz = rate,
				       .obs = (tel || data || view.lines || view.progress) ? &obs : NULL};
	if (itd_engine_create(&ec, &e)) {
		fprintf(stderr, "intentd sim: out of memory creating the engine\n");
		rc = ITD_EXIT_RUNTIME;
		goto out;
	}
	if (data && (rc = open_journal(c, s, seed, rate, e, tel, tel ? tel : enc, &view, &st)))
		goto out;
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!quiet && !tel_stdout && !view.lines && tel && !where)
		fprintf(stderr, "intentd sim: telemetry to logs/telemetry/%s.jsonl\n", run_id);

	uint64_t t0 = itd_clock_mono_ns();
	int erc = itd_engine_run(e, cycles, &stop_flag);
	if (st && itd_store_close(st)) {
		fprintf(stderr, "intentd sim: the journal could not be made durable\n");
		erc = ITD_EIO;
	}
	st = NULL;
	double secs = (double)(itd_clock_mono_ns() - t0) / 1e9;
	if (tel)
		itd_tel_drain(tel);
	if (view.progress)
		draw_progress(&view, itd_engine_tick(e), true);
	if (!quiet)
		summary(e, tel, secs, tel_stdout || view.lines ? stderr : stdout);
	rc = erc ? ITD_EXIT_RUNTIME : ITD_EXIT_OK;
out:
	itd_store_close(st);
	itd_engine_destroy(e);
	itd_tel_destroy(tel);
	itd_tel_destroy(enc);
	itd_scenario_destroy(s);
	return rc;
}
