/* test_engine_pacing.c: paced runs keep their rate, and a tick that
 * overruns its period is counted and reported as engine.slip, never
 * absorbed silently. */
#include <time.h>

#include "engine/engine.h"
#include "scenario_fixture.h"

struct rec {
	uint64_t slips;        /* engine.slip events */
	uint64_t ticks_late;   /* from the last one */
	uint64_t ticks;        /* engine.tick events */
};

static void on_event(void *ctx, const struct itd_engine *e, const struct itd_event *ev)
{
	(void)e;
	struct rec *r = ctx;
	if (ev->kind == ITD_EV_ENGINE_SLIP) {
		r->slips++;
		r->ticks_late = ev->n;
	}
	if (ev->kind == ITD_EV_ENGINE_TICK)
		r->ticks++;
}

/* On tick 5 the plant takes 60 ms, six periods of a 100 Hz loop. */
static void slow_dynamics(void *ctx, struct itd_engine *e, uint64_t tick)
{
	(void)ctx;
	(void)e;
	if (tick == 5) {
		struct timespec ts = {.tv_nsec = 60 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static void test_overrun_is_a_slip(void **state)
{
	(void)state;
	struct itd_scenario *s = fixture_builtin("spacecraft", NULL, 0);
	struct rec r = {0};
	struct itd_observer obs = {.event = on_event, .ctx = &r};
	struct itd_engine_config cfg = {.scn = s, .seed = 1, .clock = ITD_CLOCK_REAL,
					.rate_hz = 100, .obs = &obs};
	struct itd_engine *e;
	assert_int_equal(itd_engine_create(&cfg, &e), ITD_OK);
	struct itd_plant plant = {.dynamics = slow_dynamics};
	itd_engine_set_plant(e, &plant);
	uint64_t t0 = itd_clock_mono_ns();
	assert_int_equal(itd_engine_run(e, 20, NULL), ITD_OK);
	double secs = (double)(itd_clock_mono_ns() - t0) / 1e9;
	struct itd_engine_stats st;
	itd_engine_stats(e, &st);
	assert_int_equal(r.ticks, 20);
	/* Tick 6 started ~5 periods late; later ticks catch up on the
	 * original schedule, each counted while still more than a period
	 * behind. */
	assert_true(st.slips >= 1);
	assert_int_equal(st.slips, r.slips);
	assert_true(r.slips <= 6);
	/* The schedule was not stretched: 20 ticks at 100 Hz is ~0.2 s. */
	assert_true(secs >= 0.19 && secs < 0.5);
	itd_engine_destroy(e);
	itd_scenario_destroy(s);
}

static void test_stop_flag_ends_a_paced_run_between_ticks(void **state)
{
	(void)state;
	struct itd_scenario *s = fixture_builtin("spacecraft", NULL, 0);
	struct itd_engine_config cfg = {.scn = s, .seed = 1, .clock = ITD_CLOCK_REAL,
					.rate_hz = 1000};
	struct itd_engine *e;
	assert_int_equal(itd_engine_create(&cfg, &e), ITD_OK);
	volatile int stop = 1;
	assert_int_equal(itd_engine_run(e, 0, &stop), ITD_OK);
	assert_int_equal(itd_engine_tick(e), 0);
	stop = 0;
	assert_int_equal(itd_engine_run(e, 50, &stop), ITD_OK);
	assert_int_equal(itd_engine_tick(e), 50);
	itd_engine_destroy(e);
	itd_scenario_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overrun_is_a_slip),
		cmocka_unit_test(test_stop_flag_ends_a_paced_run_between_ticks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
