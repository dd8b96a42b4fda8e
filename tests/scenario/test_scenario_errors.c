/* test_scenario_errors.c: every class of scenario error is reported once,
 * as FILE:LINE:COL: message, at the offending token: YAML syntax, unknown
 * keys (with did-you-mean), wrong kinds, missing keys, names and types in
 * expressions, undefined references, duplicates, ranges and scopes. */
#include "scn_test.h"

/* A small valid scenario the tests below break one thing at a time. */
#define HEAD                                                        \
	"scenario: t\n"                                             \
	"state:\n"                                                  \
	"  battery: { type: number, initial: 50, min: 0, max: 100 }\n" \
	"  phase: { type: string, initial: a, values: [a, b] }\n"

static void test_minimal_scenario_loads_with_defaults(void **state)
{
	(void)state;
	struct itd_scenario *s = scn_load_ok(HEAD "intent_types:\n  charge: { score: 1 }\n", NULL, 0);
	assert_int_equal(s->seed, 1);
	assert_true(s->rate_hz == 1);
	assert_int_equal(s->max_intents, 1024);
	assert_int_equal(s->history_per_intent, 64);
	assert_int_equal(s->intake_capacity, 4096);
	assert_int_equal(s->n_modes, 1);
	assert_string_equal(s->modes[0], "NOMINAL");
	assert_int_equal(s->recovery_lock_ticks, 0);
	assert_int_equal(s->block_report_every, 10);
	assert_null(s->score_adjust);
	assert_int_equal(s->fields[1].type, ITD_T_STR);
	assert_string_equal(s->fields[1].initial.str, "a");
	assert_int_equal(s->fields[1].n_values, 2);
	assert_int_equal(s->types[0].goal, ITD_GOAL_NONE);
	assert_int_equal(s->types[0].retry.max_attempts, 1);
	assert_true(s->types[0].retry.max_ticks == 60);
	itd_scenario_destroy(s);
}

static void test_yaml_syntax_error(void **state)
{
	(void)state;
	assert_diags("scenario: t\n"
		     "state:\n"
		     "  a: {type: number\n"
		     "intent_types: {}\n",
		     "t.yaml:4:13: YAML syntax error: did not find expected ',' or '}' (while "
		     "parsing a flow mapping at line 3)\n");
	assert_diags("scenario: t\n\tstate: 1\n",
		     "t.yaml:2:1: YAML syntax error: found a tab character that violates "
		     "indentation (while scanning a plain scalar at line 1)\n");
}

static void test_unknown_key_with_and_without_suggestion(void **state)
{
	(void)state;
	assert_diags(HEAD "intent_types:\n"
		     "  charge:\n"
		     "    scor: 1\n",
		     "t.yaml:7:5: unknown key 'scor' in intent type 'charge' (did you mean 'score'?)\n"
		     "t.yaml:7:5: missing required key 'score' in intent type 'charge'\n");
	assert_diags(HEAD "intent_types: { charge: { score: 1 } }\n"
		     "tick: { rate_hz: 2, wobble: 1 }\n",
		     "t.yaml:6:21: unknown key 'wobble' in tick (expected one of: rate_hz)\n");
	assert_diags(HEAD "intent_types: { charge: { score: 1 } }\n"
		     "state_fields: {}\n",
		     "t.yaml:6:1: unknown key 'state_fields' in the scenario (expected one of: "
		     "scenario, description, seed, tick, engine, constants, state, mode, dynamics, "
		     "domains, flags, intent_types, policy, critical, inject, safety, intents, "
		     "telemetry)\n");
	assert_diags(HEAD "  temp: { type: number, initial: 1, uint: degC }\n"
		     "intent_types: { charge: { score: 1 } }\n",
		     "t.yaml:5:37: unknown key 'uint' in state field 'temp' (did you mean 'unit'?)\n");
}

static void test_wrong_kinds(void **state)
{
	(void)state;
	assert_diags(HEAD "intent_types: { charge: { score: 1 } }\n"
		     "tick: { rate_hz: abc }\n",
		     "t.yaml:6:18: expected a number, got 'abc'\n");
	assert_diags(HEAD "intent_types: { charge: { score: 1 } }\n"
		     "tick: { rate_hz: \"5\" }\n",
		     "t.yaml:6:18: expected a number, got the string '5'\n");
	assert_diags(HEAD "intent_types: { charge: { score: 1 } }\n"
		     "engine: { max_intents: 1.5 }\n"
		     "domains: power\n",
		     "t.yaml:6:24: expected a non-negative integer, got '1.5'\n"
		     "t.yaml:7:10: expected a list of names, got 'power'\n");
	assert_diags(HEAD "intent_types:\n"
		     "  charge: { score: 1, goal: maybe, params: { n: { type: nmber } } }\n",
		     "t.yaml:6:29: expected one of none, optional, required, got 'maybe'\n"
		     "t.yaml:6:57: expected one of number, bool, string, got 'nmber' (did you mean "
		     "'number'?)\n");
	assert_diags(HEAD "intent_types: { charge: { score: [1] } }\n",
		     "t.yaml:5:34: expected an expression, got a list\n");
	assert_diags(HEAD "  on: { type: bool, initial: yes }\n"
		     "intent_types: { charge: { score: 1 } }\n",
		     "t.yaml:5:30: expected true or false, got 'yes'\n");
	assert_diags(HEAD "  big: { initial: .inf }\n"
		     "intent_types: { charge: { score: 1 } }\n",
		     "t.yaml:5:19: expected a finite number, got '.inf'\n");
}

static void test_missing_required_keys(void **state)
{
	(void)state;
	assert_diags("scenario: t\n"
		     "intent_types: { charge: { score: 1 } }\n",
		     "t.yaml:1:1: missing required key 'state' in the scenario\n");
	assert_diags(HEAD "  temp: { type: number }\n"
		     "intent_types: { charge: { score: 1 } }\n",
		     "t.yaml:5:9: missing required key 'initial' in state field 'temp'\n");
	assert_diags(HEAD "intent_types:\n"
		     "  charge:\n"
		     "    score:\n",
		     "t.yaml:7:5: missing value for 'score' in intent type 'charge'\n");
	assert_diags(HEAD "intent_types: {}\n",
		     "t.yaml:5:15: intent_types must declare at least one intent type\n");
	assert_diags("", "t.yaml:1:1: the scenario is empty (expected a map with scenario, state "
		     "and intent_types)\n");
}

static void test_undefined_names_in_expressions(void **state)
{
	(void)state;
	assert_diags(HEAD "intent_types:\n"
		     "  charge: { score: state.batery + 1 }\n",
		     "t.yaml:6:20: unknown state field 'batery' (did you mean 'battery'?)\n");
	assert_diags(HEAD "constants: { gain: 2 }\n"
		     "intent_types:\n"
		     "  charge: { score: \"state.battery * gian\" }\n",
		     "t.yaml:7:37: unknown name 'gian' (did you mean 'gain'?)\n");
	assert_diags(HEAD "intent_types:\n"
		     "  charge: { score: intent.params.level }\n",
		     "t.yaml:6:20: intent type 'charge' has no parameter 'level'\n");
	assert_diags(HEAD "intent_types:\n"
		     "  charge: { score: intent.goal.reference }\n",
		     "t.yaml:6:20: 'intent.goal.reference' is not available: intent type 'charge' "
		     "takes no goal (add goal: optional or goal: required)\n");
}

static void test_type_mismatch_points_at_the_token(void **state)
{
	(void)state;
	assert_diags(HEAD "intent_types:\n"
		     "  charge: { score: 1, complete_when: state.battery + true }\n",
		     "t.yaml:6:54: type mismatch: '+' needs numbers, got bool\n");
	assert_diags(HEAD "intent_types:\n"
		     "  charge: { score: 1, complete_when: state.battery }\n",
		     "t.yaml:6:38: expression must be bool, it is number\n");
	assert_diags(HEAD "intent_types:\n"
		     "  charge: { score: 1, complete_when: state.phase == 'c' }\n",
		     "t.yaml:6:53: 'c' is not a value of 'state.phase' (allowed: a, b)\n");
	/* Inside a folded block scalar the line is the token's own line. */
	assert_diags(HEAD "intent_types:\n"
		     "  charge:\n"
		     "    score: >-\n"
		     "      state.battery\n"
		     "      + mode\n",
		     "t.yaml:9:9: type mismatch: '+' needs numbers, got string\n");
	/* An assignment is typed like its field. */
	assert_diags(HEAD "dynamics:\n"
		     "  - { set: phase, to: state.battery }\n"
		     "intent_types: { charge: { score: 1 } }\n",
		     "t.yaml:6:23: expression must be string, it is number\n");
}

static void test_undefined_references(void **state)
{
	(void)state;
	assert_diags(HEAD "mode:\n"
		     "  values: [NOMINAL, SAFE]\n"
		     "  initial: NOMNAL\n"
		     "  rules:\n"
		     "    - { to: SAVE, when: state.battery < 5 }\n"
		     "intent_types: { charge: { score: 1 } }\n",
		     "t.yaml:7:12: unknown mode 'NOMNAL' (did you mean 'NOMINAL'?)\n"
		     "t.yaml:9:13: unknown mode 'SAVE' (did you mean 'SAFE'?)\n");
	assert_diags(HEAD "domains: [power]\n"
		     "intent_types:\n"
		     "  charge: { score: 1, domains: [powr], recovers: heat }\n"
		     "critical:\n"
		     "  - { domain: power, when: state.battery < 5, recovery: charger }\n"
		     "inject:\n"
		     "  - { type: discharge, when: 'true' }\n"
		     "intents:\n"
		     "  - type: charge\n"
		     "    goal: { metric: battery, reference: 1 }\n",
		     "t.yaml:7:33: unknown domain 'powr' (did you mean 'power'?)\n"
		     "t.yaml:7:50: unknown domain 'heat' (declared: power)\n"
		     "t.yaml:9:57: unknown intent type 'charger' (did you mean 'charge'?)\n"
		     "t.yaml:11:13: unknown intent type 'discharge' (did you mean 'charge'?)\n"
		     "t.yaml:14:11: intent type 'charge' takes no goal (its goal: is none)\n");
	assert_diags(HEAD "intent_types:\n"
		     "  move: { score: 1, goal: required, params: { speed: { type: number, required: true } } }\n"
		     "intents:\n"
		     "  - { type: move, params: { sped: 1 } }\n",
		     "t.yaml:8:5: intent type 'move' requires a goal (goal: {metric, reference, "
		     "tolerance})\n"
		     "t.yaml:8:5: missing required parameter 'speed' of intent type 'move'\n"
		     "t.yaml:8:29: intent type 'move' has no parameter 'sped' (did you mean 'speed'?)\n");
}

static void test_duplicates(void **state)
{
	(void)state;
	assert_diags(HEAD "  battery: { initial: 1 }\n"
		     "intent_types: { charge: { score: 1 } }\n",
		     "t.yaml:5:3: duplicate key 'battery' (first at line 3)\n");
	assert_diags(HEAD "intent_types: { charge: { score: 1 } }\n"
		     "domains: [a, b, a]\n"
		     "safety:\n"
		     "  - { id: low, block_when: state.battery < 5 }\n"
		     "  - { id: low, block_when: state.battery < 2 }\n",
		     "t.yaml:6:17: duplicate domain 'a' (first at line 6)\n"
		     "t.yaml:9:11: duplicate safety rule id 'low' (first at line 8)\n");
	assert_diags(HEAD "intent_types: { charge: { score: 1 } }\n"
		     "dynamics:\n"
		     "  - { set: battery, to: 1 }\n"
		     "  - { set: battery, to: 2 }\n",
		     "t.yaml:8:12: field 'battery' is assigned twice in this list\n");
}

static void test_out_of_range_numbers(void **state)
{
	(void)state;
	assert_diags(HEAD "intent_types: { charge: { score: 1 } }\n"
		     "tick: { rate_hz: 0 }\n"
		     "engine: { max_intents: 0, intake_capacity: 2000000 }\n"
		     "policy: { block_report_every: 0 }\n",
		     "t.yaml:6:18: 'rate_hz' must be > 0 and <= 100000, got 0\n"
		     "t.yaml:7:24: 'max_intents' must be between 1 and 1000000, got 0\n"
		     "t.yaml:7:44: 'intake_capacity' must be between 1 and 1000000, got 2000000\n"
		     "t.yaml:8:31: 'block_report_every' must be between 1 and 1000000, got 0\n");
	assert_diags("scenario: t\n"
		     "state:\n"
		     "  a: { initial: 5, min: 10, max: 1 }\n"
		     "  b: { initial: 500, min: 0, max: 100 }\n"
		     "  c: { type: string, initial: z, values: [x, y] }\n"
		     "  d: { type: bool, initial: true, min: 1 }\n"
		     "intent_types:\n"
		     "  go:\n"
		     "    score: 1\n"
		     "    goal: optional\n"
		     "    retry: { jitter: 2, base_ticks: 10, max_ticks: 5 }\n"
		     "intents:\n"
		     "  - { type: go, goal: { metric: c, reference: 1, tolerance: -1 } }\n",
		     "t.yaml:3:25: min (10) is greater than max (1)\n"
		     "t.yaml:4:17: initial value 500 is outside [0, 100]\n"
		     "t.yaml:5:31: initial value 'z' is not one of the values of field 'c'\n"
		     "t.yaml:6:40: 'min' applies only to number fields; 'd' is a bool field\n"
		     "t.yaml:11:22: 'jitter' must be >= 0 and <= 1, got 2\n"
		     "t.yaml:11:52: retry max_ticks (5) is less than base_ticks (10)\n"
		     "t.yaml:13:33: goal metric 'c' is not a number field\n"
		     "t.yaml:13:61: 'tolerance' must be >= 0, got -1\n");
}

static void test_scopes(void **state)
{
	(void)state;
	assert_diags(HEAD "mode:\n"
		     "  values: [A, B]\n"
		     "  rules:\n"
		     "    - { to: B, when: intent.priority > 1 }\n"
		     "dynamics:\n"
		     "  - { set: battery, to: intent.age }\n"
		     "intent_types: { charge: { score: 1, params: { n: { type: number } } } }\n"
		     "safety:\n"
		     "  - { id: x, block_when: intent.params.n > 1 }\n",
		     "t.yaml:8:22: 'intent.priority' is not available here: mode rules see state, "
		     "mode, tick and constants\n"
		     "t.yaml:10:25: 'intent.age' is not available here: dynamics see state, mode, "
		     "tick and constants\n"
		     "t.yaml:13:26: 'intent.params.n' is not available here: parameters are only "
		     "visible in the expressions of the intent type that declares them\n");
	assert_diags(HEAD "intent_types:\n"
		     "  a: { score: x, vars: { x: y, y: 2 } }\n"
		     "  b: { score: y }\n",
		     "t.yaml:6:29: var 'y' is used before it is defined (a var may only read the "
		     "vars above it)\n"
		     "t.yaml:7:15: 'y' is a var of intent type 'a'; vars are only visible in their "
		     "own type's expressions\n");
}

static void test_reserved_names(void **state)
{
	(void)state;
	assert_diags(HEAD "constants: { tick: 1, max: 2 }\n"
		     "intent_types: { charge: { score: 1, vars: { mode: 1 } } }\n"
		     "domains: [1x]\n",
		     "t.yaml:5:14: constant name 'tick' is reserved (state, mode, tick, intent, "
		     "true, false, and, or, not and function names)\n"
		     "t.yaml:5:23: constant name 'max' is reserved (state, mode, tick, intent, true, "
		     "false, and, or, not and function names)\n"
		     "t.yaml:6:45: var name 'mode' is reserved (state, mode, tick, intent, true, "
		     "false, and, or, not and function names)\n"
		     "t.yaml:7:11: expected a name (letters, digits and _, not starting with a "
		     "digit), got '1x'\n");
}

static void test_yaml_features_refused(void **state)
{
	(void)state;
	assert_diags(HEAD "intent_types:\n"
		     "  a: &t { score: 1 }\n"
		     "  b: *t\n",
		     "t.yaml:6:6: anchors (&t) are not supported\n");
	assert_diags(HEAD "intent_types: { a: { score: !!float 1 } }\n",
		     "t.yaml:5:29: tags (tag:yaml.org,2002:float) are not supported\n");
	assert_diags("a: b\n---\nc: d\n", "t.yaml:2:1: only one YAML document is allowed\n");
	char deep[200];
	memset(deep, '[', 100);
	deep[100] = '\0';
	assert_diags(deep, "t.yaml:1:65: nesting deeper than 64 levels\n");
	/* !!str keeps a plain scalar a string. */
	struct itd_scenario *s = scn_load_ok(HEAD "constants: { v: !!str 12 }\n"
					     "intent_types: { a: { score: 1 } }\n", NULL, 0);
	struct itd_value v;
	assert_int_equal(itd_scenario_constant(s, "v", &v), 0);
	assert_int_equal(v.type, ITD_T_STR);
	assert_string_equal(v.str, "12");
	itd_scenario_destroy(s);
}

static void test_too_many_errors_are_capped(void **state)
{
	(void)state;
	char text[8192] = HEAD "intent_types:\n";
	for (int i = 0; i < 80; i++)
		snprintf(text + strlen(text), sizeof text - strlen(text), "  t%d: { score: x%d }\n", i, i);
	struct itd_diags d = {0};
	struct itd_scenario *s = NULL;
	assert_int_equal(itd_scenario_load_text(text, strlen(text), "t.yaml", NULL, 0, &s, &d),
			 ITD_ECONFIG);
	assert_int_equal(d.n, 51);
	assert_string_equal(d.items[50].msg, "too many errors; stopping here");
	assert_int_equal(d.items[0].line, 6);
	itd_diags_fini(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_scenario_loads_with_defaults),
		cmocka_unit_test(test_yaml_syntax_error),
		cmocka_unit_test(test_unknown_key_with_and_without_suggestion),
		cmocka_unit_test(test_wrong_kinds),
		cmocka_unit_test(test_missing_required_keys),
		cmocka_unit_test(test_undefined_names_in_expressions),
		cmocka_unit_test(test_type_mismatch_points_at_the_token),
		cmocka_unit_test(test_undefined_references),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_out_of_range_numbers),
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_reserved_names),
		cmocka_unit_test(test_yaml_features_refused),
		cmocka_unit_test(test_too_many_errors_are_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
