/* test_scenario_set.c: `--set path=value` overrides replace or add nodes
 * before validation, reach into lists by index, and report bad paths and
 * bad values at their column in the argument as --set:1:COL. */
#include "scn_test.h"

static struct itd_scenario *builtin_with(const struct itd_override *o, size_t n)
{
	struct itd_diags d = {0};
	struct itd_scenario *s = NULL;
	int rc = itd_scenario_load_builtin("spacecraft", o, n, &s, &d);
	itd_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	itd_diags_fini(&d);
	return s;
}

/* The printed diagnostics of a built-in load with overrides that fails. */
static char *builtin_errors(const struct itd_override *o, size_t n)
{
	struct itd_diags d = {0};
	struct itd_scenario *s = (struct itd_scenario *)&d;
	assert_int_equal(itd_scenario_load_builtin("spacecraft", o, n, &s, &d), ITD_ECONFIG);
	assert_null(s);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	itd_diags_print(&d, f);
	fclose(f);
	itd_diags_fini(&d);
	return buf;
}

#define assert_set_errors(want, ...)                                              \
	do {                                                                      \
		struct itd_override o_[] = {__VA_ARGS__};                         \
		char *got_ = builtin_errors(o_, sizeof o_ / sizeof o_[0]);        \
		assert_string_equal(got_, (want));                                \
		free(got_);                                                       \
	} while (0)

static void test_set_replaces_values(void **state)
{
	(void)state;
	struct itd_override o[] = {
		{"state.battery.initial", "24"},
		{"constants.power_draw", "0.7"},
		{"seed", "42"},
		{"scenario", "'renamed craft'"},
	};
	struct itd_scenario *s = builtin_with(o, 4);
	assert_true(s->fields[1].initial.num == 24);
	assert_int_equal(s->seed, 42);
	assert_string_equal(s->name, "renamed craft");
	struct itd_value v;
	assert_int_equal(itd_scenario_constant(s, "power_draw", &v), 0);
	assert_true(v.num == 0.7);
	/* The constant is folded into the dynamics: eclipse drains 0.7. */
	struct itd_value g[5] = {
		{.type = ITD_T_NUM, .num = 0}, {.type = ITD_T_NUM, .num = 50},
		{.type = ITD_T_NUM, .num = 25}, {.type = ITD_T_STR, .str = "NOMINAL"},
		{.type = ITD_T_NUM, .num = 15},
	};
	struct itd_expr_frame f = {.global = g};
	double b;
	assert_int_equal(itd_expr_eval_num(s->dynamics[0].to, &f, &b), 0);
	assert_true(b > 49.29 && b < 49.31);
	itd_scenario_destroy(s);
}

static void test_set_reaches_list_entries_and_adds_keys(void **state)
{
	(void)state;
	struct itd_override o[] = {
		{"safety.0.block_when", "state.battery < 1"},
		{"mode.rules.2.to", "SAFE"},
		{"intents.0.goal.reference", "5"},
		{"state.heater", "{type: bool, initial: true}"},
		{"intent_types.orbit_correction.deadline_ticks", "30"},
		{"telemetry.hmac_key_env", "ITD_KEY"},
		{"domains", "[battery, thermal, position, comms]"},
	};
	struct itd_scenario *s = builtin_with(o, sizeof o / sizeof o[0]);
	assert_string_equal(itd_expr_source(s->safety[0].block_when), "state.battery < 1");
	assert_int_equal(s->mode_rules[2].to, 2);
	assert_true(s->intents[0].goal.reference == 5);
	assert_int_equal(s->n_fields, 4);
	assert_string_equal(s->fields[3].name, "heater");
	assert_int_equal(s->fields[3].type, ITD_T_BOOL);
	assert_true(s->fields[3].initial.b);
	assert_int_equal(s->slots.mode, 4);
	assert_int_equal(s->types[0].deadline_ticks, 30);
	assert_string_equal(s->telemetry.hmac_key_env, "ITD_KEY");
	assert_int_equal(s->n_domains, 4);
	itd_scenario_destroy(s);
}

static void test_set_creates_missing_sections(void **state)
{
	(void)state;
	static const char text[] = "scenario: t\n"
				   "state: { a: { initial: 1 } }\n"
				   "intent_types: { go: { score: 1 } }\n"
				   "policy:\n";
	struct itd_override o[] = {
		{"tick.rate_hz", "1000"},
		{"policy.recovery_lock_ticks", "2"},
		{"engine.max_intents", "10"},
		{"tick.rate_hz", "500"}, /* later overrides win */
	};
	struct itd_scenario *s = scn_load_ok(text, o, 4);
	assert_true(s->rate_hz == 500);
	assert_int_equal(s->recovery_lock_ticks, 2);
	assert_int_equal(s->max_intents, 10);
	itd_scenario_destroy(s);
}

static void test_set_bad_values_are_reported_at_the_argument(void **state)
{
	(void)state;
	assert_set_errors("--set:1:23: expected a number, got 'abc'\n",
			  {"state.battery.initial", "abc"});
	assert_set_errors("--set:1:14: 'rate_hz' must be > 0 and <= 100000, got 0\n",
			  {"tick.rate_hz", "0"});
	assert_set_errors("--set:1:17: unknown mode 'SAFEE' (did you mean 'SAFE'?)\n",
			  {"mode.rules.1.to", "SAFEE"});
	/* An expression error points into the value. */
	assert_set_errors("--set:1:42: unknown state field 'batery' (did you mean 'battery'?)\n",
			  {"safety.0.block_when", "state.battery < 1 or state.batery > 2"});
	assert_set_errors("--set:1:25: YAML syntax error: did not find expected ',' or ']' "
			  "(while parsing a flow sequence at line 1)\n",
			  {"state.battery.initial", "[1"});
	/* A quoted number is a string. */
	assert_set_errors("--set:1:23: expected a number, got the string '24'\n",
			  {"state.battery.initial", "'24'"});
}

static void test_set_unknown_paths(void **state)
{
	(void)state;
	assert_set_errors("--set:1:7: unknown state field 'batery' (did you mean 'battery'?)\n",
			  {"state.batery.initial", "1"});
	assert_set_errors("--set:1:7: unknown state field 'fuel' (to add one, set it whole: "
			  "state.fuel={...})\n",
			  {"state.fuel.initial", "1"});
	assert_set_errors("--set:1:31: unknown key 'scor' in intent type 'orbit_correction' (did "
			  "you mean 'score'?)\n",
			  {"intent_types.orbit_correction.scor", "1"});
	assert_set_errors("--set:1:1: unknown key 'sed' in the scenario (did you mean 'seed'?)\n",
			  {"sed", "1"});
	assert_set_errors("--set:1:8: '9' is not an index of this list (0 to 6)\n",
			  {"safety.9.id", "x"});
	assert_set_errors("--set:1:12: 'x' is not an index of this list (0 to 3)\n",
			  {"mode.rules.x.to", "SAFE"});
	assert_set_errors("--set:1:18: '0' is not an index: the list is empty\n",
			  {"telemetry.redact.0.path", "x"});
	assert_set_errors("--set:1:23: cannot set 'x': 'state.battery.initial' is a single value, "
			  "not a map or list\n",
			  {"state.battery.initial.x", "1"});
	assert_set_errors("--set:1:7: empty name in path 'state..initial'\n",
			  {"state..initial", "1"});
	assert_set_errors("--set:1:1: empty path in --set (expected path=value, e.g. "
			  "state.battery.initial=24)\n",
			  {"", "1"});
	/* Several bad overrides: each reported, in order. */
	assert_set_errors("--set:1:6: unknown key 'rate' in tick (did you mean 'rate_hz'?)\n"
			  "--set:1:6: expected a non-negative integer, got '-1'\n",
			  {"tick.rate", "1"}, {"seed", "-1"});
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_replaces_values),
		cmocka_unit_test(test_set_reaches_list_entries_and_adds_keys),
		cmocka_unit_test(test_set_creates_missing_sections),
		cmocka_unit_test(test_set_bad_values_are_reported_at_the_argument),
		cmocka_unit_test(test_set_unknown_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
