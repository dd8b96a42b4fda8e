/* test_store_recover.c: where a recovery starts (store.c).  Without a
 * telemetry watermark it starts at the newest snapshot; told that the
 * sinks hold events only up to some seq (itd_store_replay_since), it
 * starts early enough that the ticks it re-runs cover every event after
 * that seq, as long as the journal ends within reach of it. */
#include <stdlib.h>
#include <string.h>

#include "scenario_fixture.h"
#include "store/store.h"

#define TICKS 10
#define EVERY 4 /* snapshots at ticks 4 and 8 */

struct fx {
	char *dir;                  /* the data directory */
	struct itd_scenario *scn;   /* the built-in spacecraft */
	uint64_t seq[TICKS + 1];    /* each tick's telemetry seq, as journaled */
};

/* What a recovery re-ran. */
struct seen {
	uint64_t first, last;       /* ticks (0: none) */
	uint64_t n;                 /* how many */
};

static void on_replay(void *ctx, uint64_t tick, uint64_t seq_before, uint64_t seq_after,
		      uint64_t seq_end)
{
	struct seen *s = ctx;
	(void)seq_before;
	(void)seq_after;
	(void)seq_end;
	if (!s->first)
		s->first = tick;
	s->last = tick;
	s->n++;
}

/* A telemetry seq that moves 3 per tick, so ticks are told apart by it. */
static uint64_t fake_seq(void *ctx)
{
	return 3 * itd_engine_tick(ctx) + 5;
}

static struct itd_store *open_store(struct fx *f)
{
	struct itd_store_config sc = {.dir = f->dir, .scenario_name = "spacecraft",
				      .identity = "recover-test", .identity_len = 12, .seed = 1,
				      .rate = 1, .snapshot_every = EVERY, .batch = true};
	struct itd_store *st = NULL;
	char err[256];
	assert_int_equal(itd_store_open(&sc, &st, err, sizeof err), ITD_OK);
	return st;
}

static struct itd_engine *new_engine(struct fx *f)
{
	struct itd_engine_config ec = {.scn = f->scn, .seed = 1, .clock = ITD_CLOCK_SIM};
	struct itd_engine *e = NULL;
	assert_int_equal(itd_engine_create(&ec, &e), ITD_OK);
	return e;
}

/* Recover a fresh engine, told (have, reach) unless have is 0; what it
 * re-ran goes to *seen. */
static struct itd_store_recovery recover(struct fx *f, uint64_t have, uint64_t reach,
					 struct seen *seen)
{
	struct itd_store *st = open_store(f);
	struct itd_engine *e = new_engine(f);
	memset(seen, 0, sizeof *seen);
	itd_store_on_replay(st, on_replay, seen);
	if (have)
		itd_store_replay_since(st, have, reach);
	struct itd_store_recovery rec;
	char err[256];
	assert_int_equal(itd_store_recover(st, e, true, &rec, err, sizeof err), ITD_OK);
	assert_int_equal(rec.last_tick, TICKS);
	assert_int_equal(itd_engine_tick(e), TICKS);
	assert_int_equal(itd_store_close(st), ITD_OK);
	itd_engine_destroy(e);
	return rec;
}

/* The store in f->dir opened, recovered into a fresh engine and attached
 * to it, as a front end starts. */
static struct itd_store *open_attached(struct fx *f, struct itd_engine **e_out)
{
	struct itd_store *st = open_store(f);
	struct itd_engine *e = new_engine(f);
	struct itd_store_recovery rec;
	char err[256];
	assert_int_equal(itd_store_recover(st, e, true, &rec, err, sizeof err), ITD_OK);
	itd_store_attach(st, e, fake_seq, e);
	*e_out = e;
	return st;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->dir = itd_test_tmpdir("store-recover");
	f->scn = fixture_builtin("spacecraft", NULL, 0);
	struct itd_engine *e;
	struct itd_store *st = open_attached(f, &e);
	for (uint64_t t = 1; t <= TICKS; t++) {
		assert_int_equal(itd_engine_step(e), ITD_OK);
		f->seq[t] = fake_seq(e);
	}
	assert_int_equal(itd_store_close(st), ITD_OK);
	itd_engine_destroy(e);
	*state = f;
	return 0;
}

/* The audit observer is filled whole: a field left as the caller's bytes
 * (after_tick, say) would be called by the engine. */
static void test_observer_is_whole(void **state)
{
	struct fx *f = *state;
	struct itd_engine *e;
	struct itd_store *st = open_attached(f, &e);
	struct itd_observer obs;
	memset(&obs, 0xa5, sizeof obs);
	assert_int_equal(itd_store_observer(st, NULL, NULL, NULL, &obs), ITD_OK);
	assert_non_null(obs.event);
	assert_null(obs.after_tick);
	assert_int_equal(itd_store_close(st), ITD_OK);
	itd_engine_destroy(e);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	itd_scenario_destroy(f->scn);
	itd_test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* No watermark: the newest snapshot, and the two ticks after it. */
static void test_newest_snapshot(void **state)
{
	struct fx *f = *state;
	struct seen s;
	struct itd_store_recovery rec = recover(f, 0, 0, &s);
	assert_int_equal(rec.snapshot_tick, 8);
	assert_int_equal(rec.tel_seq, f->seq[TICKS]);
	assert_int_equal(s.first, 9);
	assert_int_equal(s.last, 10);
}

/* The file ends with tick 6's events: recovery starts at the snapshot of
 * tick 4 and re-runs ticks 5..10, so ticks 7 and 8 are emitted again too. */
static void test_starts_before_missing_events(void **state)
{
	struct fx *f = *state;
	struct seen s;
	struct itd_store_recovery rec = recover(f, f->seq[6], 1000, &s);
	assert_int_equal(rec.snapshot_tick, 4);
	assert_int_equal(s.first, 5);
	assert_int_equal(s.last, 10);
	assert_int_equal(rec.ticks, 6);
	assert_int_equal(rec.tel_seq, f->seq[TICKS]);
	/* Halfway through tick 8's events: tick 8 is not all there either. */
	rec = recover(f, f->seq[8] - 1, 1000, &s);
	assert_int_equal(rec.snapshot_tick, 4);
	assert_int_equal(s.first, 5);
	/* Exactly through tick 8: the newest snapshot will do. */
	rec = recover(f, f->seq[8], 1000, &s);
	assert_int_equal(rec.snapshot_tick, 8);
}

/* Everything delivered, a watermark past the journal's end, or one out of
 * reach (the front end would not emit those ticks' events anyway): the
 * newest snapshot. */
static void test_no_step_back_needed_or_possible(void **state)
{
	struct fx *f = *state;
	struct seen s;
	assert_int_equal(recover(f, f->seq[TICKS], 1000, &s).snapshot_tick, 8);
	assert_int_equal(recover(f, f->seq[TICKS] + 50, 1000, &s).snapshot_tick, 8);
	uint64_t gap = f->seq[TICKS] - f->seq[6];
	assert_int_equal(recover(f, f->seq[6], gap, &s).snapshot_tick, 8);
	assert_int_equal(recover(f, f->seq[6], gap + 1, &s).snapshot_tick, 4);
	/* Before the first tick's events: from tick 0. */
	struct itd_store_recovery rec = recover(f, 1, 1000, &s);
	assert_int_equal(rec.snapshot_tick, 0);
	assert_int_equal(s.first, 1);
	assert_int_equal(s.n, TICKS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_newest_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_observer_is_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_starts_before_missing_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_step_back_needed_or_possible, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
