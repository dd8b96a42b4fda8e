/* test_engine_spacecraft.c: the kernel on the spacecraft scenario: the
 * story SPEC §6 tells (override on tick 1, orbit correction completes, back
 * to NOMINAL), determinism, no freezes from many starting points, and the
 * engine's inputs (cancel, fault injection, deadlines) and flood control. */
#include <math.h>
#include <string.h>

#include "engine/engine.h"
#include "scenario_fixture.h"

/* Records what a run reports. */
struct rec {
	uint64_t by_kind[ITD_EV_COUNT];
	uint64_t override_tick1;       /* safety.override events on tick 1 */
	uint64_t blocked_recovery;     /* blocks of a recovery intent */
	uint64_t completed_orbit_tick; /* tick the orbit correction completed */
	uint64_t hashes[1000];         /* state hash per tick */
	uint64_t n_ticks;
};

static void on_event(void *ctx, const struct itd_engine *e, const struct itd_event *ev)
{
	struct rec *r = ctx;
	const struct itd_scenario *s = itd_engine_scenario(e);
	r->by_kind[ev->kind]++;
	if (ev->kind == ITD_EV_SAFETY_OVERRIDE && ev->tick == 1)
		r->override_tick1++;
	if (ev->kind == ITD_EV_INTENT_BLOCKED && s->types[ev->intent->type].recovers >= 0)
		r->blocked_recovery++;
	if (ev->kind == ITD_EV_INTENT_COMPLETED &&
	    !strcmp(s->types[ev->intent->type].name, "orbit_correction"))
		r->completed_orbit_tick = ev->tick;
}

static void on_tick_end(void *ctx, const struct itd_engine *e)
{
	struct rec *r = ctx;
	if (r->n_ticks < 1000)
		r->hashes[r->n_ticks] = itd_engine_state_hash(e);
	r->n_ticks++;
}

static struct itd_engine *start(const struct itd_scenario *s, struct rec *r)
{
	static struct itd_observer obs;
	obs = (struct itd_observer){.event = on_event, .tick_end = on_tick_end, .ctx = r};
	struct itd_engine_config cfg = {.scn = s, .seed = 1, .clock = ITD_CLOCK_SIM,
					.obs = r ? &obs : NULL};
	struct itd_engine *e;
	assert_int_equal(itd_engine_create(&cfg, &e), ITD_OK);
	return e;
}

static double field(const struct itd_engine *e, const char *name)
{
	int f = itd_scenario_field(itd_engine_scenario(e), name);
	assert_true(f >= 0);
	return itd_engine_state(e)[f].num;
}

static void test_the_spacecraft_story(void **state)
{
	(void)state;
	struct itd_scenario *s = fixture_builtin("spacecraft", NULL, 0);
	struct rec *r = calloc(1, sizeof *r);
	struct itd_engine *e = start(s, r);

	assert_int_equal(itd_engine_step(e), ITD_OK);
	/* Tick 1: battery 4 is critical: the override forces battery recovery. */
	const struct itd_gate *g = itd_engine_gate(e);
	assert_int_equal(r->override_tick1, 1);
	assert_true(g->override_critical == 0);
	assert_non_null(itd_engine_executed(e));
	assert_string_equal(s->types[itd_engine_executed(e)->type].name, "battery_recovery");
	assert_string_equal(itd_engine_mode(e), "SAFE");

	assert_int_equal(itd_engine_run(e, 399, NULL), ITD_OK);
	assert_int_equal(itd_engine_tick(e), 400);
	struct itd_intent *orbit = itd_intents_get(itd_engine_intents(e), "i-000001");
	assert_non_null(orbit);
	assert_int_equal(orbit->status, ITD_ST_COMPLETED);
	assert_true(r->completed_orbit_tick > 1);
	assert_true(field(e, "position") >= 2.9);
	assert_string_equal(itd_engine_mode(e), "NOMINAL");
	assert_int_equal(r->blocked_recovery, 0);
	/* It had to wait for the recoveries, and ran only once it could. */
	assert_true(orbit->first_exec_tick > 10);
	assert_int_equal(orbit->executions, 6);
	assert_int_equal(r->by_kind[ITD_EV_ENGINE_TICK], 400);
	assert_int_equal(r->by_kind[ITD_EV_ENGINE_FAULT], 0);

	itd_engine_destroy(e);
	itd_scenario_destroy(s);
	free(r);
}

static void test_runs_are_deterministic(void **state)
{
	(void)state;
	struct itd_scenario *s = fixture_builtin("spacecraft", NULL, 0);
	struct rec *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	struct itd_engine *ea = start(s, a), *eb = start(s, b);
	assert_int_equal(itd_engine_run(ea, 500, NULL), ITD_OK);
	assert_int_equal(itd_engine_run(eb, 500, NULL), ITD_OK);
	assert_memory_equal(a->hashes, b->hashes, sizeof a->hashes);
	assert_memory_equal(a->by_kind, b->by_kind, sizeof a->by_kind);
	/* And the hash really tracks the state: consecutive ticks differ. */
	assert_true(a->hashes[0] != a->hashes[1]);
	itd_engine_destroy(ea);
	itd_engine_destroy(eb);
	itd_scenario_destroy(s);
	free(a);
	free(b);
}

/* From any start the state keeps evolving, recovery is never blocked, and
 * a mission that cannot run stays blocked with a growing count. */
static void test_no_freeze_from_many_starting_points(void **state)
{
	(void)state;
	const char *bats[] = {"0", "4", "12", "50", "100"};
	const char *temps[] = {"-40", "25", "119", "135", "160"};
	const char *poss[] = {"-30", "0", "2.95", "15"};
	for (size_t b = 0; b < 5; b++)
		for (size_t t = 0; t < 5; t++)
			for (size_t p = 0; p < 4; p++) {
				struct itd_override ovr[] = {{"state.battery.initial", bats[b]},
							     {"state.temperature.initial", temps[t]},
							     {"state.position.initial", poss[p]}};
				struct itd_scenario *s = fixture_builtin("spacecraft", ovr, 3);
				struct rec *r = calloc(1, sizeof *r);
				struct itd_engine *e = start(s, r);
				double prev_bat = field(e, "battery");
				uint64_t still = 0, longest_still = 0;
				for (int i = 0; i < 300; i++) {
					assert_int_equal(itd_engine_step(e), ITD_OK);
					double bat = field(e, "battery");
					still = bat == prev_bat ? still + 1 : 0;
					longest_still = still > longest_still ? still : longest_still;
					prev_bat = bat;
				}
				/* The power model moves the battery every tick except
				 * when clamped full in sunlight (at most 14 ticks). */
				if (longest_still > 14)
					fail_msg("battery frozen %llu ticks (start %s/%s/%s)",
						 (unsigned long long)longest_still, bats[b], temps[t],
						 poss[p]);
				assert_int_equal(r->blocked_recovery, 0);
				struct itd_intent *orbit =
					itd_intents_get(itd_engine_intents(e), "i-000001");
				assert_non_null(orbit);
				if (!strcmp(poss[p], "15") || !strcmp(poss[p], "2.95")) {
					/* Goal already met: done without executing. */
					assert_int_equal(orbit->status, ITD_ST_COMPLETED);
					assert_int_equal(orbit->executions, 0);
				}
				if (!strcmp(poss[p], "-30")) {
					/* Out of bounds: the mission may never run. */
					assert_int_equal(orbit->status, ITD_ST_BLOCKED);
					assert_true(orbit->blocked_ticks > 10);
					assert_non_null(orbit->verdict_rule);
					uint64_t before = orbit->blocked_ticks;
					assert_int_equal(itd_engine_run(e, 50, NULL), ITD_OK);
					assert_true(orbit->blocked_ticks > before);
				}
				assert_int_equal(r->by_kind[ITD_EV_ENGINE_FAULT], 0);
				itd_engine_destroy(e);
				itd_scenario_destroy(s);
				free(r);
			}
}

static void test_block_reports_are_flood_controlled(void **state)
{
	(void)state;
	/* A mission out of bounds is blocked every tick for 200 ticks. */
	struct itd_override ovr[] = {{"state.position.initial", "-15"},
				     {"state.battery.initial", "80"},
				     {"state.temperature.initial", "25"},
				     {"policy.block_report_every", "25"}};
	struct itd_scenario *s = fixture_builtin("spacecraft", ovr, 4);
	struct rec *r = calloc(1, sizeof *r);
	struct itd_engine *e = start(s, r);
	assert_int_equal(itd_engine_run(e, 200, NULL), ITD_OK);
	struct itd_intent *orbit = itd_intents_get(itd_engine_intents(e), "i-000001");
	assert_int_equal(orbit->blocked_ticks, 200);
	assert_string_equal(orbit->verdict_rule, "position_bounds_exceeded");
	/* First report, then one every 25 ticks: 8 in 200 ticks. */
	assert_int_equal(r->by_kind[ITD_EV_INTENT_BLOCKED], 8);
	struct itd_engine_stats st;
	itd_engine_stats(e, &st);
	assert_int_equal(st.blocks, 200);
	assert_int_equal(st.events_suppressed, 192);
	itd_engine_destroy(e);
	itd_scenario_destroy(s);
	free(r);
}

static void test_inputs_cancel_fault_and_deadline(void **state)
{
	(void)state;
	struct itd_override ovr[] = {{"state.battery.initial", "80"},
				     {"state.temperature.initial", "25"},
				     {"intents", "[]"}};
	struct itd_scenario *s = fixture_builtin("spacecraft", ovr, 3);
	struct rec *r = calloc(1, sizeof *r);
	struct itd_engine *e = start(s, r);
	uint32_t orbit = (uint32_t)itd_scenario_type(s, "orbit_correction");
	struct itd_submission sub = {
		.type = orbit, .goal = {.present = true, .metric = 0, .reference = 100,
					.tolerance = 0}};
	char msg[160];
	struct itd_receipt rcpt;
	assert_int_equal(itd_engine_submit(e, &sub, &rcpt, msg, sizeof msg), ITD_OK);
	assert_int_equal(rcpt.arrival, 1);
	assert_string_equal(rcpt.id, "i-000001");
	assert_int_equal(rcpt.received_tick, 1);
	sub.deadline_ticks = 3;
	assert_int_equal(itd_engine_submit(e, &sub, &rcpt, msg, sizeof msg), ITD_OK);
	/* A bad submission is refused at once with a reason. */
	struct itd_submission bad = {.type = orbit};
	assert_int_equal(itd_engine_submit(e, &bad, &rcpt, msg, sizeof msg), ITD_EINVAL);
	assert_string_equal(msg, "intent type 'orbit_correction' requires a goal");

	assert_int_equal(itd_engine_step(e), ITD_OK);
	struct itd_intents *t = itd_engine_intents(e);
	assert_int_equal(t->n, 2);
	assert_int_equal(itd_intents_get(t, "i-000002")->deadline_tick, 4);

	assert_int_equal(itd_engine_cancel(e, "i-000001", "operator", "alice", NULL), ITD_OK);
	assert_int_equal(itd_engine_cancel(e, "i-000077", "operator", "alice", NULL), ITD_OK);
	assert_int_equal(itd_engine_set_field(e, 1, (struct itd_value){.type = ITD_T_NUM,
								       .num = 250}, NULL, NULL),
			 ITD_OK);
	assert_int_equal(itd_engine_step(e), ITD_OK);
	assert_int_equal(itd_intents_get(t, "i-000001")->status, ITD_ST_CANCELLED);
	assert_int_equal(r->by_kind[ITD_EV_INTENT_CANCELLED], 1);
	assert_int_equal(r->by_kind[ITD_EV_INTENT_REJECTED], 1); /* unknown id */
	assert_int_equal(r->by_kind[ITD_EV_CONSOLE_APPLIED], 1);
	/* The fault was clamped to the field's max (then dynamics ran). */
	assert_true(field(e, "battery") <= 100.0);

	assert_int_equal(itd_engine_run(e, 5, NULL), ITD_OK);
	assert_int_equal(itd_intents_get(t, "i-000002")->status, ITD_ST_EXPIRED);
	assert_int_equal(r->by_kind[ITD_EV_INTENT_EXPIRED], 1);
	assert_int_equal(t->n_active, 0);
	itd_engine_destroy(e);
	itd_scenario_destroy(s);
	free(r);
}

static void test_intake_full_refuses_and_keeps_the_rest(void **state)
{
	(void)state;
	struct itd_override ovr[] = {{"engine.intake_capacity", "4"}, {"intents", "[]"},
				     {"state.battery.initial", "80"},
				     {"state.temperature.initial", "25"}};
	struct itd_scenario *s = fixture_builtin("spacecraft", ovr, 4);
	struct itd_engine *e = start(s, NULL);
	struct itd_submission sub = {
		.type = (uint32_t)itd_scenario_type(s, "orbit_correction"),
		.goal = {.present = true, .metric = 0, .reference = 3, .tolerance = 0.1}};
	char msg[160];
	struct itd_receipt rcpt;
	for (int i = 0; i < 4; i++)
		assert_int_equal(itd_engine_submit(e, &sub, &rcpt, msg, sizeof msg), ITD_OK);
	assert_int_equal(itd_engine_submit(e, &sub, &rcpt, msg, sizeof msg), ITD_EFULL);
	/* A full queue still takes console commands: a paused loop can always
	 * be resumed or stepped. */
	assert_int_equal(itd_engine_console(e, ITD_CONSOLE_RESUME, "", "root", NULL), ITD_OK);
	assert_int_equal(itd_engine_step(e), ITD_OK);
	assert_int_equal(itd_engine_intents(e)->n, 4);
	struct itd_engine_stats st;
	itd_engine_stats(e, &st);
	assert_int_equal(st.intake_full, 1);
	itd_engine_destroy(e);
	itd_scenario_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_spacecraft_story),
		cmocka_unit_test(test_runs_are_deterministic),
		cmocka_unit_test(test_no_freeze_from_many_starting_points),
		cmocka_unit_test(test_block_reports_are_flood_controlled),
		cmocka_unit_test(test_inputs_cancel_fault_and_deadline),
		cmocka_unit_test(test_intake_full_refuses_and_keeps_the_rest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
