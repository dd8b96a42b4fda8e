/* test_policy_gate.c: every spacecraft safety rule blocks what it should,
 * with its explanation; recovery is never blocked by the hard limits;
 * selection ties go to the earliest; the critical override and the
 * recovery lock pick what SPEC §6 says. */
#include <string.h>

#include "policy/policy.h"
#include "scenario_fixture.h"

struct fx {
	struct itd_scenario *s;
	struct itd_intents t;
	struct itd_value g[16];
	struct itd_lock lock;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->s = fixture_builtin("spacecraft", NULL, 0);
	assert_true(f->s->slots.n_global <= 16);
	assert_int_equal(itd_intents_init(&f->t, f->s), ITD_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	itd_intents_fini(&f->t);
	itd_scenario_destroy(f->s);
	free(f);
	return 0;
}

/* Set the global frame: position, battery, temperature, mode, tick. */
static void set_state(struct fx *f, double pos, double bat, double temp, const char *mode)
{
	const struct itd_scenario *s = f->s;
	f->g[itd_scenario_field(s, "position")] = (struct itd_value){.type = ITD_T_NUM, .num = pos};
	f->g[itd_scenario_field(s, "battery")] = (struct itd_value){.type = ITD_T_NUM, .num = bat};
	f->g[itd_scenario_field(s, "temperature")] =
		(struct itd_value){.type = ITD_T_NUM, .num = temp};
	f->g[s->slots.mode] =
		(struct itd_value){.type = ITD_T_STR, .str = s->modes[itd_scenario_mode(s, mode)]};
	f->g[s->slots.tick] = (struct itd_value){.type = ITD_T_NUM, .num = 5};
}

static struct itd_intent *make(struct fx *f, const char *type)
{
	struct itd_intent_spec spec = {.type = (uint32_t)itd_scenario_type(f->s, type)};
	if (!strcmp(type, "orbit_correction"))
		spec.goal = (struct itd_goal){.present = true, .metric = 0, .reference = 3,
					      .tolerance = 0.1};
	struct itd_intent *in;
	char msg[128];
	assert_int_equal(itd_intents_create(&f->t, &spec, 1, &in, msg, sizeof msg), ITD_OK);
	return in;
}

/* The first rule blocking `type` in the given state, or NULL. */
static const char *blocker(struct fx *f, const char *type, char *explain, size_t cap)
{
	struct itd_intent *in = itd_intents_active_of_type(&f->t, (uint32_t)itd_scenario_type(f->s, type));
	if (!in)
		in = make(f, type);
	assert_int_equal(itd_intent_refresh(&f->t, in, f->g, 5), ITD_OK);
	uint32_t faults = 0;
	const struct itd_safety_rule *r = itd_policy_safety(f->s, in, f->g, explain, cap, &faults);
	assert_int_equal(faults, 0);
	return r ? r->id : NULL;
}

static void test_each_safety_rule_blocks_the_mission(void **state)
{
	struct fx *f = *state;
	char ex[ITD_EXPLAIN_LEN];
	static const struct {
		double pos, bat, temp;
		const char *mode, *rule, *explain_has;
	} cases[] = {
		{0, 0, 25, "NOMINAL", "battery_depleted", "state.battery=0"},
		{0, 50, 150, "NOMINAL", "temperature_max_exceeded", "state.temperature=150"},
		{11, 50, 25, "NOMINAL", "position_bounds_exceeded", "state.position=11"},
		{-10.5, 50, 25, "NOMINAL", "position_bounds_exceeded", "state.position=-10.5"},
		{0, 50, 25, "SAFE", "safe_mode_mission_blocked", "mode=SAFE"},
		{0, 50, 25, "LOW_POWER", "low_power_energy_intensive_blocked", "mode=LOW_POWER"},
		{0, 8, 25, "NOMINAL", "battery_unsafe_execution_blocked", "state.battery=8"},
		{0, 50, 125, "NOMINAL", "thermal_unsafe_execution_blocked", "state.temperature=125"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		set_state(f, cases[i].pos, cases[i].bat, cases[i].temp, cases[i].mode);
		const char *r = blocker(f, "orbit_correction", ex, sizeof ex);
		if (!r || strcmp(r, cases[i].rule))
			fail_msg("case %zu: expected %s, got %s", i, cases[i].rule, r ? r : "(none)");
		if (!strstr(ex, cases[i].explain_has))
			fail_msg("case %zu: explanation '%s' lacks '%s'", i, ex, cases[i].explain_has);
	}
	/* Nominal conditions: nothing blocks. */
	set_state(f, 0, 50, 25, "NOMINAL");
	assert_null(blocker(f, "orbit_correction", ex, sizeof ex));
	assert_string_equal(ex, "");
}

static void test_rules_apply_in_order(void **state)
{
	struct fx *f = *state;
	char ex[ITD_EXPLAIN_LEN];
	/* Everything is wrong at once: the first rule wins. */
	set_state(f, 20, 0, 160, "SAFE");
	assert_string_equal(blocker(f, "orbit_correction", ex, sizeof ex), "battery_depleted");
	set_state(f, 20, 3, 160, "SAFE");
	assert_string_equal(blocker(f, "orbit_correction", ex, sizeof ex), "temperature_max_exceeded");
}

static void test_recovery_is_never_blocked_by_hard_limits(void **state)
{
	struct fx *f = *state;
	char ex[ITD_EXPLAIN_LEN];
	const char *modes[] = {"NOMINAL", "LOW_POWER", "SAFE"};
	double bats[] = {0, 3, 8, 50, 100}, temps[] = {-20, 25, 125, 150, 400}, poss[] = {-50, 0, 50};
	for (size_t m = 0; m < 3; m++)
		for (size_t b = 0; b < 5; b++)
			for (size_t t = 0; t < 5; t++)
				for (size_t p = 0; p < 3; p++) {
					set_state(f, poss[p], bats[b], temps[t], modes[m]);
					assert_null(blocker(f, "battery_recovery", ex, sizeof ex));
					assert_null(blocker(f, "thermal_recovery", ex, sizeof ex));
				}
}

static void test_selection_scores_and_ties(void **state)
{
	struct fx *f = *state;
	struct itd_gate g = {0};
	set_state(f, 0, 50, 25, "NOMINAL");
	struct itd_intent *a = make(f, "orbit_correction");
	struct itd_intent *b = make(f, "orbit_correction");
	itd_policy_score(&f->t, f->g, 5, &g);
	assert_ptr_equal(g.selected, a); /* equal scores: the earliest */
	assert_true(a->score == 100 && b->score == 100);
	assert_int_equal(a->evaluations, 1);
	/* A blocked history lowers the score by 0.5 per tick. */
	a->blocked_ticks = 4;
	itd_policy_score(&f->t, f->g, 6, &g);
	assert_ptr_equal(g.selected, b);
	assert_true(a->score == 98.0);
	/* Recovery in LOW_POWER: 1000 * (30 - 20) / 30 + 50. */
	set_state(f, 0, 20, 25, "LOW_POWER");
	struct itd_intent *r = make(f, "battery_recovery");
	itd_policy_score(&f->t, f->g, 7, &g);
	assert_ptr_equal(g.selected, r);
	assert_true(r->score > 383.33 && r->score < 383.34);
}

static void test_critical_override_creates_and_forces_recovery(void **state)
{
	struct fx *f = *state;
	struct itd_gate g = {0};
	set_state(f, 0, 4, 145, "SAFE");
	make(f, "orbit_correction");
	itd_policy_score(&f->t, f->g, 1, &g);
	assert_int_equal(itd_policy_gate(&f->t, &f->lock, f->g, 1, 0, &g), ITD_OK);
	assert_int_equal(g.critical, 3); /* battery and thermal */
	assert_int_equal(g.override_critical, 0); /* battery first */
	assert_true(g.override_created);
	assert_string_equal(f->s->types[g.pick->type].name, "battery_recovery");
	assert_int_equal(g.pick->source, ITD_SRC_AUTONOMOUS);
	assert_int_equal(g.verdict, ITD_VERDICT_AUTHORIZED);
	assert_int_equal(g.pick->status, ITD_ST_AUTHORIZED);
}

static void test_lock_holds_the_slot_for_its_ticks(void **state)
{
	struct fx *f = *state;
	struct itd_gate g = {0};
	set_state(f, 0, 50, 25, "NOMINAL");
	struct itd_intent *orbit = make(f, "orbit_correction");
	struct itd_intent *rec = make(f, "battery_recovery");
	itd_policy_lock_arm(&f->lock, f->s, rec, 10, false);
	for (uint64_t tick = 11; tick <= 14; tick++) {
		itd_policy_score(&f->t, f->g, tick, &g);
		assert_ptr_equal(g.selected, orbit); /* recovery scores -200 in NOMINAL */
		assert_int_equal(itd_policy_gate(&f->t, &f->lock, f->g, tick, 0, &g), ITD_OK);
		if (tick <= 13) {
			assert_true(g.lock_applied);
			assert_ptr_equal(g.pick, rec);
		} else {
			assert_false(g.lock_applied);
			assert_ptr_equal(g.pick, orbit);
		}
		/* Undo the authorization so the next tick competes again. */
		itd_intent_transition(&f->t, g.pick, ITD_ST_QUEUED, tick, "test");
	}
	/* A lock never arms for a mission intent, nor re-arms under a lock. */
	struct itd_lock l = {0};
	itd_policy_lock_arm(&l, f->s, orbit, 20, false);
	assert_int_equal(l.seq, 0);
	itd_policy_lock_arm(&l, f->s, rec, 20, true);
	assert_int_equal(l.seq, 0);
}

static void test_block_records_verdict_and_counts(void **state)
{
	struct fx *f = *state;
	struct itd_gate g = {0};
	set_state(f, 0, 50, 25, "SAFE");
	struct itd_intent *orbit = make(f, "orbit_correction");
	for (uint64_t tick = 1; tick <= 3; tick++) {
		itd_policy_score(&f->t, f->g, tick, &g);
		assert_int_equal(itd_policy_gate(&f->t, &f->lock, f->g, tick, 0, &g), ITD_OK);
		assert_int_equal(g.verdict, ITD_VERDICT_BLOCKED);
	}
	assert_string_equal(g.rule->id, "safe_mode_mission_blocked");
	assert_int_equal(orbit->status, ITD_ST_BLOCKED);
	assert_int_equal(orbit->blocked_ticks, 3);
	assert_int_equal(orbit->verdict_tick, 1); /* unchanged verdict: first tick */
	assert_string_equal(orbit->verdict_rule, "safe_mode_mission_blocked");
	assert_non_null(strstr(orbit->explain, "mode=SAFE"));
	assert_int_equal(f->t.n_active, 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_each_safety_rule_blocks_the_mission),
		T(test_rules_apply_in_order),
		T(test_recovery_is_never_blocked_by_hard_limits),
		T(test_selection_scores_and_ties),
		T(test_critical_override_creates_and_forces_recovery),
		T(test_lock_holds_the_slot_for_its_ticks),
		T(test_block_records_verdict_and_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
