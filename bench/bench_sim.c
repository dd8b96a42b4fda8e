/* bench_sim.c: ticks per second of the spacecraft scenario through the
 * engine, with telemetry off and with full telemetry written to a file
 * (median of 5 runs each).  Targets: >= 2,000,000 ticks/s without
 * telemetry, >= 1,000,000 with it.  The peer (the Python prototype's loop)
 * is timed by bench/run in the same run. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "scenario/scenario.h"
#include "telemetry/telemetry_events.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One run of n ticks; returns ticks per second.  With path, full
 * telemetry goes to that file (blocking policy: nothing dropped). */
static double run(const struct itd_scenario *s, uint64_t n, const char *path, uint64_t *events,
		  uint64_t *bytes)
{
	struct itd_tel *tel = NULL;
	struct itd_observer obs;
	if (path) {
		const char *tk[] = {"scenario", "env"}, *tv[] = {"spacecraft", "sim"};
		struct itd_tel_config cfg = {.run_id = "bench", .tag_keys = tk, .tag_values = tv,
					     .n_tags = 2, .policy = ITD_TEL_BLOCK};
		const struct itd_sink_ops *ops;
		void *ctx;
		char err[256];
		if (itd_tel_create(&cfg, &tel) || itd_sink_file_open(path, true, &ops, &ctx, err, sizeof err) ||
		    itd_tel_add_sink(tel, "file", ops, ctx)) {
			fprintf(stderr, "bench_sim: telemetry setup failed\n");
			exit(1);
		}
		itd_tel_observer(tel, &obs);
	}
	struct itd_engine_config ec = {.scn = s, .seed = 1, .clock = ITD_CLOCK_SIM,
				       .obs = path ? &obs : NULL};
	struct itd_engine *e;
	if (itd_engine_create(&ec, &e)) {
		fprintf(stderr, "bench_sim: engine creation failed\n");
		exit(1);
	}
	uint64_t t0 = itd_clock_mono_ns();
	itd_engine_run(e, n, NULL);
	if (tel)
		itd_tel_drain(tel);
	uint64_t t1 = itd_clock_mono_ns();
	if (tel) {
		struct itd_tel_sink_stats st;
		itd_tel_sink_stats(tel, 0, &st);
		*events = itd_tel_events(tel);
		*bytes = st.bytes;
	}
	itd_engine_destroy(e);
	itd_tel_destroy(tel);
	return (double)n / ((double)(t1 - t0) / 1e9);
}

/* usage: bench_sim [TICKS [DIR]]: the telemetry file goes in DIR (default
 * the current directory), as a run's logs/telemetry/ file would. */
int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
	const char *dir = argc > 2 ? argv[2] : ".";
	struct itd_scenario *s;
	struct itd_diags d = {0};
	if (itd_scenario_load_builtin("spacecraft", NULL, 0, &s, &d)) {
		itd_diags_print(&d, stderr);
		return 1;
	}
	char path[256];
	snprintf(path, sizeof path, "%s/intentd-bench-%d.jsonl", dir, (int)getpid());
	double off[5], on[5];
	uint64_t events = 0, bytes = 0;
	for (int i = 0; i < 5; i++) {
		off[i] = run(s, n, NULL, NULL, NULL);
		on[i] = run(s, n / 2, path, &events, &bytes);
	}
	unlink(path);
	qsort(off, 5, sizeof off[0], cmp_double);
	qsort(on, 5, sizeof on[0], cmp_double);
	printf("sim_ticks telemetry=off : %10.0f ticks/s (median of 5 x %" PRIu64
	       " ticks; min %.0f, max %.0f; target >= 2000000)\n",
	       off[2], n, off[0], off[4]);
	printf("sim_ticks telemetry=file: %10.0f ticks/s (median of 5 x %" PRIu64
	       " ticks; min %.0f, max %.0f; target >= 1000000; %.1f events/tick, %.0f bytes/tick)\n",
	       on[2], n / 2, on[0], on[4], (double)events / (double)(n / 2),
	       (double)bytes / (double)(n / 2));
	itd_diags_fini(&d);
	itd_scenario_destroy(s);
	return 0;
}
