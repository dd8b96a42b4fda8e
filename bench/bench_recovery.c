/* bench_recovery.c: time to ready after a restart, for a store holding
 * 1,000,000 intents and 1,000,000 ticks (target: <= 1 s), beside the same
 * recovery without snapshots (re-running the whole journal from tick 0).
 *
 * The store is built at library level the way `intentd serve --data` fills
 * it: the spacecraft scenario, one submitted intent per tick through the
 * engine's intake, every tick journaled with its audit notes, a snapshot
 * every 10,007 ticks.  Each intent is an orbit_correction whose goal
 * already holds, so it completes the tick it arrives (received, queued,
 * completed: two audit entries) and the live table recycles it, as a
 * long-running server's would.  "Ready" = the store opened and checked, the
 * engine rebuilt with every tick's state hash verified.
 *
 * Usage: bench_recovery [N_TICKS] [DIR]   (default 1000000, a temporary
 * directory under $TMPDIR). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "scenario/scenario.h"
#include "store/store.h"
#include "telemetry/telemetry_events.h"

#define REPS 3
/* Near the default interval (10,000), and prime, so the last snapshot
 * falls short of the last tick and recovery replays ~9,300 ticks: close to
 * the worst case rather than the best. */
#define SNAPSHOT_EVERY 10007
#define TARGET_S 1.0

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static double now_s(void)
{
	return (double)itd_clock_mono_ns() / 1e9;
}

static int payload(void *ctx, const struct itd_engine *e, const struct itd_event *ev,
		   const struct itd_value *pre, char *buf, size_t cap, size_t *len_out)
{
	return itd_tel_payload(ctx, e, ev, pre, buf, cap, len_out);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct ctx {
	const struct itd_scenario *s;
	const char *identity;
	size_t identity_len;
	const char *dir;
};

static int open_store(const struct ctx *c, struct itd_store **st)
{
	char err[512];
	struct itd_store_config sc = {.dir = c->dir, .scenario_name = c->s->name,
				      .identity = c->identity, .identity_len = c->identity_len,
				      .seed = c->s->seed, .rate = c->s->rate_hz, .batch = true,
				      .snapshot_every = SNAPSHOT_EVERY};
	int rc = itd_store_open(&sc, st, err, sizeof err);
	if (rc)
		fprintf(stderr, "bench_recovery: %s\n", err);
	return rc;
}

/* Fill the store: n ticks, one intent each. */
static int build(const struct ctx *c, uint64_t n)
{
	struct itd_engine *e = NULL;
	struct itd_store *st = NULL;
	struct itd_observer obs;
	struct itd_engine_config ec = {.scn = c->s, .seed = c->s->seed, .clock = ITD_CLOCK_SIM,
				       .obs = NULL};
	int rc = itd_engine_create(&ec, &e);
	if (!rc)
		rc = open_store(c, &st);
	if (rc)
		goto out;
	itd_store_attach(st, e, NULL, NULL);
	if ((rc = itd_store_observer(st, NULL, payload, NULL, &obs)))
		goto out;
	itd_engine_destroy(e);
	/* The observer must be the engine's from its creation. */
	ec.obs = &obs;
	if ((rc = itd_engine_create(&ec, &e)))
		goto out;
	itd_store_attach(st, e, NULL, NULL);
	int type = itd_scenario_type(c->s, "orbit_correction");
	int pos = itd_scenario_field(c->s, "position");
	struct itd_submission sub = {.type = (uint32_t)type, .source = ITD_SRC_GROUND,
				     .goal = {.present = true, .metric = (uint32_t)pos,
					      .reference = -1000, .tolerance = 0.1},
				     .actor = "bench"};
	double t0 = now_s();
	for (uint64_t i = 0; i < n && !rc; i++) {
		struct itd_receipt r;
		char msg[256];
		rc = itd_engine_submit(e, &sub, &r, msg, sizeof msg);
		if (rc == ITD_EFULL) {
			/* The writer is behind (a batch fill outruns fsync): let it
			 * catch up, as a server's 503 would make clients do. */
			itd_store_wait_tick(st, -1);
			rc = itd_engine_submit(e, &sub, &r, msg, sizeof msg);
		}
		if (rc)
			fprintf(stderr, "bench_recovery: submit at tick %llu: %s\n",
				(unsigned long long)i, msg);
		if (!rc)
			rc = itd_engine_step(e);
	}
	if (!rc && itd_store_wait_tick(st, -1))
		rc = ITD_EIO;
	printf("  built: %llu ticks, %llu intents, journaled with audit in %.1f s\n",
	       (unsigned long long)itd_engine_tick(e), (unsigned long long)n, now_s() - t0);
out:
	if (itd_store_close(st) && !rc)
		rc = ITD_EIO;
	itd_engine_destroy(e);
	return rc;
}

/* One restart: open, recover; seconds to ready, or < 0 on error. */
static double restart(const struct ctx *c, bool from_snapshot, struct itd_store_recovery *rec)
{
	struct itd_engine *e = NULL;
	struct itd_store *st = NULL;
	struct itd_engine_config ec = {.scn = c->s, .seed = c->s->seed, .clock = ITD_CLOCK_SIM};
	char err[512];
	double t0 = now_s();
	int rc = itd_engine_create(&ec, &e);
	if (!rc)
		rc = open_store(c, &st);
	if (!rc && (rc = itd_store_recover(st, e, from_snapshot, rec, err, sizeof err)))
		fprintf(stderr, "bench_recovery: %s\n", err);
	double dt = now_s() - t0;
	itd_store_close(st);
	itd_engine_destroy(e);
	return rc ? -1 : dt;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	char tmpl[4096];
	const char *tmp = getenv("TMPDIR");
	snprintf(tmpl, sizeof tmpl, "%s/bench-recovery-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	const char *dir = argc > 2 ? argv[2] : mkdtemp(tmpl);
	if (!dir) {
		perror("bench_recovery: mkdtemp");
		return 1;
	}
	struct itd_diags d = {0};
	struct itd_scenario *s = NULL;
	if (itd_scenario_load_builtin("spacecraft", NULL, 0, &s, &d)) {
		itd_diags_print(&d, stderr);
		return 1;
	}
	itd_diags_fini(&d);
	const char *identity = NULL;
	size_t identity_len = 0;
	for (const struct itd_embedded *b = itd_scenario_builtins(); b->name; b++)
		if (!strcmp(b->name, "spacecraft.yaml")) {
			identity = b->data;
			identity_len = b->size;
		}
	struct ctx c = {.s = s, .identity = identity, .identity_len = identity_len, .dir = dir};
	int rc = build(&c, n);
	double snap[REPS], full[REPS];
	struct itd_store_recovery rec = {0}, rec_full = {0};
	for (int i = 0; !rc && i < REPS; i++) {
		snap[i] = restart(&c, true, &rec);
		full[i] = restart(&c, false, &rec_full);
		if (snap[i] < 0 || full[i] < 0)
			rc = 1;
	}
	if (!rc) {
		qsort(snap, REPS, sizeof snap[0], cmp_d);
		qsort(full, REPS, sizeof full[0], cmp_d);
		struct stat sb;
		char db[4200];
		snprintf(db, sizeof db, "%s/intentd.db", dir);
		double mb = stat(db, &sb) ? 0 : (double)sb.st_size / 1e6;
		printf("  store: %.0f MB on disk\n", mb);
		printf("  recovery from the newest snapshot (tick %llu) + %llu ticks: %.3f s to "
		       "ready (median of %d)  target <= %.1f s: %s\n",
		       (unsigned long long)rec.snapshot_tick, (unsigned long long)rec.ticks,
		       snap[REPS / 2], REPS, TARGET_S, snap[REPS / 2] <= TARGET_S ? "met" : "NOT met");
		printf("  peer: the same store re-run from tick 0 without snapshots (%llu ticks): "
		       "%.3f s (%.1fx slower)\n",
		       (unsigned long long)rec_full.ticks, full[REPS / 2],
		       full[REPS / 2] / snap[REPS / 2]);
	}
	if (argc <= 2)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	itd_scenario_destroy(s);
	return rc ? 1 : 0;
}
