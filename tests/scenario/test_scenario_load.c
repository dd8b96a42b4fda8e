/* test_scenario_load.c: the built-in spacecraft scenario loads with the
 * structure SPEC §6 describes (fields, modes, rules, types, safety ids,
 * slot layout), built-ins and files load by name, and loading survives
 * every allocation failure without leaking. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/scenario.h"
#include "test_support.h"

static struct itd_scenario *load_spacecraft(void)
{
	struct itd_diags d = {0};
	struct itd_scenario *s = NULL;
	int rc = itd_scenario_load_builtin("spacecraft", NULL, 0, &s, &d);
	itd_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(d.n, 0);
	assert_non_null(s);
	itd_diags_fini(&d);
	return s;
}

/* Evaluate a number expression against a global frame. */
static double eval_num(const struct itd_expr *e, const struct itd_value *g,
		       const struct itd_value *in)
{
	struct itd_expr_frame f = {.global = g, .intent = in};
	double v = 0;
	assert_int_equal(itd_expr_eval_num(e, &f, &v), 0);
	return v;
}

static bool eval_bool(const struct itd_expr *e, const struct itd_value *g,
		      const struct itd_value *in)
{
	struct itd_expr_frame f = {.global = g, .intent = in};
	bool v = false;
	assert_int_equal(itd_expr_eval_bool(e, &f, &v), 0);
	return v;
}

static void test_spacecraft_header_fields_and_modes(void **state)
{
	(void)state;
	struct itd_scenario *s = load_spacecraft();
	assert_string_equal(s->name, "spacecraft");
	assert_string_equal(s->file, "builtin:spacecraft.yaml");
	assert_non_null(s->description);
	assert_int_equal(s->seed, 1);
	assert_true(s->rate_hz == 1.0);
	assert_int_equal(s->max_intents, 1024);
	assert_int_equal(s->history_per_intent, 64);
	assert_int_equal(s->intake_capacity, 4096);

	assert_int_equal(s->n_fields, 3);
	assert_string_equal(s->fields[0].name, "position");
	assert_string_equal(s->fields[1].name, "battery");
	assert_string_equal(s->fields[2].name, "temperature");
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(s->fields[i].type, ITD_T_NUM);
	assert_true(s->fields[0].initial.num == 0.0);
	assert_true(s->fields[1].initial.num == 4.0);
	assert_true(s->fields[2].initial.num == 120.0);
	assert_true(s->fields[1].has_min && s->fields[1].has_max);
	assert_true(s->fields[1].min == 0 && s->fields[1].max == 100);
	assert_false(s->fields[0].has_min);
	assert_string_equal(s->fields[1].unit, "%");
	assert_true(s->fields[1].has_warn_low && s->fields[1].warn_low == 25);
	assert_true(s->fields[2].has_alarm_high && s->fields[2].alarm_high == 140);
	assert_true(s->fields[0].has_alarm_low && s->fields[0].alarm_low == -10);

	assert_int_equal(s->n_modes, 3);
	assert_string_equal(s->modes[0], "NOMINAL");
	assert_string_equal(s->modes[1], "LOW_POWER");
	assert_string_equal(s->modes[2], "SAFE");
	assert_int_equal(s->initial_mode, 0);
	assert_int_equal(s->n_mode_rules, 4);
	assert_int_equal(s->mode_rules[0].to, 2);
	assert_int_equal(s->mode_rules[1].to, 0);
	assert_int_equal(s->mode_rules[2].to, 1);
	assert_int_equal(s->mode_rules[3].to, 0);
	assert_int_equal(s->n_dynamics, 1);
	assert_int_equal(s->dynamics[0].field, 1);

	assert_int_equal(itd_scenario_field(s, "battery"), 1);
	assert_int_equal(itd_scenario_field(s, "nope"), -1);
	assert_int_equal(itd_scenario_mode(s, "SAFE"), 2);
	assert_int_equal(itd_scenario_domain(s, "thermal"), 1);
	struct itd_value v;
	assert_int_equal(itd_scenario_constant(s, "power_draw", &v), 0);
	assert_int_equal(v.type, ITD_T_NUM);
	assert_true(v.num == 0.6);
	assert_int_equal(itd_scenario_constant(s, "nope", &v), ITD_ENOTFOUND);
	itd_scenario_destroy(s);
}

static void test_spacecraft_types_policy_and_rules(void **state)
{
	(void)state;
	struct itd_scenario *s = load_spacecraft();
	assert_int_equal(s->n_domains, 3);
	assert_int_equal(s->n_flags, 1);
	assert_string_equal(s->flags[0], "energy_intensive");
	assert_int_equal(s->n_types, 3);

	const struct itd_intent_type *oc = &s->types[itd_scenario_type(s, "orbit_correction")];
	const struct itd_intent_type *br = &s->types[itd_scenario_type(s, "battery_recovery")];
	const struct itd_intent_type *tr = &s->types[itd_scenario_type(s, "thermal_recovery")];
	assert_int_equal(oc->index, 0);
	assert_int_equal(oc->goal, ITD_GOAL_REQUIRED);
	assert_int_equal(oc->recovers, -1);
	assert_int_equal(oc->domains, 7); /* position, battery, thermal */
	assert_int_equal(oc->flags, 1);
	assert_int_equal(oc->n_effect, 3);
	assert_non_null(oc->complete_when);
	assert_null(oc->fail_when);
	assert_int_equal(oc->retry.max_attempts, 1);
	assert_true(oc->retry.base_ticks == 1 && oc->retry.factor == 2);
	assert_true(oc->retry.max_ticks == 60 && oc->retry.jitter == 0);
	assert_int_equal(oc->deadline_ticks, 0);
	assert_int_equal(br->recovers, 0);
	assert_int_equal(br->goal, ITD_GOAL_NONE);
	assert_int_equal(br->domains, 1);
	assert_int_equal(br->n_vars, 2);
	assert_string_equal(br->vars[0].name, "threshold");
	assert_string_equal(br->vars[1].name, "target");
	assert_int_equal(tr->recovers, 1);
	assert_int_equal(tr->n_vars, 0);

	assert_non_null(s->score_adjust);
	assert_int_equal(s->recovery_lock_ticks, 3);
	assert_int_equal(s->block_report_every, 10);

	static const char *const ids[] = {
		"battery_depleted", "temperature_max_exceeded", "position_bounds_exceeded",
		"safe_mode_mission_blocked", "low_power_energy_intensive_blocked",
		"battery_unsafe_execution_blocked", "thermal_unsafe_execution_blocked",
	};
	assert_int_equal(s->n_safety, 7);
	for (size_t i = 0; i < 7; i++) {
		assert_string_equal(s->safety[i].id, ids[i]);
		assert_non_null(s->safety[i].block_when);
	}

	assert_int_equal(s->n_critical, 2);
	assert_int_equal(s->critical[0].domain, 0);
	assert_int_equal(s->critical[0].recovery, 1);
	assert_int_equal(s->critical[1].domain, 1);
	assert_int_equal(s->critical[1].recovery, 2);
	assert_int_equal(s->n_inject, 2);
	assert_int_equal(s->inject[0].type, 1);
	assert_int_equal(s->inject[1].type, 2);
	assert_false(s->inject[0].goal.present);

	assert_int_equal(s->n_intents, 1);
	assert_int_equal(s->intents[0].type, 0);
	assert_true(s->intents[0].goal.present);
	assert_int_equal(s->intents[0].goal.metric, 0);
	assert_true(s->intents[0].goal.reference == 3.0);
	assert_true(s->intents[0].goal.tolerance == 0.1);
	assert_true(s->intents[0].priority == 0);
	assert_null(s->intents[0].idempotency_key);

	assert_int_equal(s->telemetry.n_tags, 2);
	assert_string_equal(s->telemetry.tags[0].key, "scenario");
	assert_string_equal(s->telemetry.tags[0].value, "spacecraft");
	assert_string_equal(s->telemetry.tags[1].key, "env");
	assert_int_equal(s->telemetry.n_redact, 0);
	assert_null(s->telemetry.hmac_key_env);
	itd_scenario_destroy(s);
}

static void test_spacecraft_slots_and_expressions(void **state)
{
	(void)state;
	struct itd_scenario *s = load_spacecraft();
	const struct itd_slots *sl = &s->slots;
	assert_int_equal(sl->mode, 3);
	assert_int_equal(sl->tick, 4);
	assert_int_equal(sl->n_global, 5);
	assert_int_equal(sl->i_type, 0);
	assert_int_equal(sl->i_goal_value, 14);
	assert_int_equal(sl->i_domains, 15);
	assert_int_equal(sl->i_flags, 18);
	/* 15 fixed + 3 domains + 1 flag + 0 params + 2 vars. */
	assert_int_equal(sl->n_intent, 21);
	const struct itd_intent_type *br = &s->types[1];
	assert_int_equal(br->vars[0].slot, ITD_SLOT_INTENT | 19);
	assert_int_equal(br->vars[1].slot, ITD_SLOT_INTENT | 20);

	/* The compiled expressions read the slots laid out above. */
	struct itd_value g[5] = {
		{.type = ITD_T_NUM, .num = 0}, {.type = ITD_T_NUM, .num = 4.0},
		{.type = ITD_T_NUM, .num = 120.0}, {.type = ITD_T_STR, .str = "NOMINAL"},
		{.type = ITD_T_NUM, .num = 1},
	};
	assert_true(eval_bool(s->mode_rules[0].when, g, NULL)); /* battery <= 10 -> SAFE */
	assert_false(eval_bool(s->mode_rules[2].when, (struct itd_value[5]){
		{.type = ITD_T_NUM, .num = 0}, {.type = ITD_T_NUM, .num = 26},
		{.type = ITD_T_NUM, .num = 20}, {.type = ITD_T_STR, .str = "NOMINAL"},
		{.type = ITD_T_NUM, .num = 1}}, NULL));
	double b = eval_num(s->dynamics[0].to, g, NULL); /* sunlit at tick 1 */
	assert_true(b > 4.53 && b < 4.55);
	g[4].num = 15; /* eclipse */
	b = eval_num(s->dynamics[0].to, g, NULL);
	assert_true(b > 3.39 && b < 3.41);

	struct itd_value in[21];
	memset(in, 0, sizeof in);
	in[sl->i_type] = (struct itd_value){.type = ITD_T_STR, .str = "orbit_correction"};
	in[sl->i_recovery] = (struct itd_value){.type = ITD_T_BOOL, .b = false};
	in[sl->i_blocked_ticks] = (struct itd_value){.type = ITD_T_NUM, .num = 4};
	for (size_t i = 0; i < 3; i++)
		in[sl->i_domains + i] = (struct itd_value){.type = ITD_T_BOOL, .b = true};
	in[sl->i_flags] = (struct itd_value){.type = ITD_T_BOOL, .b = true};
	g[3].str = "SAFE";
	assert_false(eval_bool(s->safety[0].block_when, g, in));
	assert_true(eval_bool(s->safety[3].block_when, g, in)); /* safe_mode_mission_blocked */
	assert_true(eval_num(s->score_adjust, g, in) == -2.0);
	itd_scenario_destroy(s);
}

static const char all_sections[] =
	"scenario: p\n"
	"constants: { gain: 2, label: \"x\", on: true }\n"
	"state:\n"
	"  level: { initial: 0 }\n"
	"  ok: { initial: false }\n"
	"domains: [d1]\n"
	"flags: [f1]\n"
	"intent_types:\n"
	"  fill:\n"
	"    goal: optional\n"
	"    domains: [d1]\n"
	"    flags: [f1]\n"
	"    recovers: d1\n"
	"    params:\n"
	"      rate: { type: number, default: 1 }\n"
	"      who: { type: string, required: true }\n"
	"    vars:\n"
	"      step: intent.params.rate * gain\n"
	"    score: step + intent.goal.reference\n"
	"    effect: [{ set: level, to: state.level + step }, { set: ok, to: 'true' }]\n"
	"    complete_when: state.level >= 10\n"
	"    fail_when: intent.attempts > 3\n"
	"    retry: { max_attempts: 3, base_ticks: 2, factor: 3, max_ticks: 10, jitter: 0.5 }\n"
	"    deadline_ticks: 100\n"
	"policy: { score_adjust: \"-intent.blocked_ticks\", recovery_lock_ticks: 1 }\n"
	"critical: [{ domain: d1, when: state.level < 0, recovery: fill }]\n"
	"inject: [{ type: fill, when: state.level < 1, priority: 2, goal: { metric: level, reference: 5 } }]\n"
	"intents: [{ type: fill, params: { who: ops, rate: 2 }, idempotency_key: k1, priority: -1 }]\n"
	"telemetry: { tags: { a: b }, redact: [{ path: payload.params.who, how: hmac }, { path: x }], hmac_key_env: K }\n";

/* Every section and optional key at once: params, vars, goals, retry,
 * inject goals, initial params, telemetry. */
static void test_all_sections_load(void **state)
{
	(void)state;
	struct itd_diags d = {0};
	struct itd_scenario *s = NULL;
	int rc = itd_scenario_load_text(all_sections, strlen(all_sections), "p.yaml", NULL, 0, &s,
					&d);
	itd_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	itd_diags_fini(&d);

	assert_int_equal(s->fields[1].type, ITD_T_BOOL);
	struct itd_value v;
	assert_int_equal(itd_scenario_constant(s, "label", &v), 0);
	assert_string_equal(v.str, "x");
	assert_int_equal(itd_scenario_constant(s, "on", &v), 0);
	assert_true(v.type == ITD_T_BOOL && v.b);

	const struct itd_intent_type *t = &s->types[0];
	assert_int_equal(t->goal, ITD_GOAL_OPTIONAL);
	assert_int_equal(t->recovers, 0);
	assert_int_equal(t->domains, 1);
	assert_int_equal(t->flags, 1);
	assert_int_equal(t->n_params, 2);
	assert_int_equal(itd_scenario_param(t, "who"), 1);
	assert_int_equal(itd_scenario_param(t, "nope"), -1);
	assert_true(t->params[0].has_default && t->params[0].def.num == 1);
	assert_false(t->params[0].required);
	assert_true(t->params[1].required && !t->params[1].has_default);
	assert_int_equal(t->params[1].type, ITD_T_STR);
	/* 15 fixed + 1 domain + 1 flag, then params, then vars. */
	assert_int_equal(s->slots.i_flags, 16);
	assert_int_equal(t->params[0].slot, 17);
	assert_int_equal(t->params[1].slot, 18);
	assert_int_equal(t->vars[0].slot, ITD_SLOT_INTENT | 19);
	assert_int_equal(s->slots.n_intent, 20);
	assert_int_equal(t->retry.max_attempts, 3);
	assert_true(t->retry.base_ticks == 2 && t->retry.factor == 3);
	assert_true(t->retry.max_ticks == 10 && t->retry.jitter == 0.5);
	assert_int_equal(t->deadline_ticks, 100);
	assert_int_equal(t->n_effect, 2);
	assert_int_equal(t->effect[1].field, 1);
	assert_non_null(t->fail_when);

	struct itd_value g[4] = {{.type = ITD_T_NUM, .num = 0}, {.type = ITD_T_BOOL, .b = false},
				 {.type = ITD_T_STR, .str = "NOMINAL"}, {.type = ITD_T_NUM, .num = 1}};
	struct itd_value in[20];
	memset(in, 0, sizeof in);
	in[17] = (struct itd_value){.type = ITD_T_NUM, .num = 2};
	in[s->slots.i_goal_reference] = (struct itd_value){.type = ITD_T_NUM, .num = 1};
	assert_true(eval_num(t->vars[0].expr, g, in) == 4);
	in[19] = (struct itd_value){.type = ITD_T_NUM, .num = 4};
	assert_true(eval_num(t->score, g, in) == 5);

	assert_int_equal(s->recovery_lock_ticks, 1);
	assert_int_equal(s->n_inject, 1);
	assert_true(s->inject[0].priority == 2);
	assert_true(s->inject[0].goal.present && s->inject[0].goal.reference == 5);
	assert_true(s->inject[0].goal.tolerance == 0);
	const struct itd_initial_intent *ii = &s->intents[0];
	assert_true(ii->priority == -1);
	assert_string_equal(ii->idempotency_key, "k1");
	assert_false(ii->goal.present);
	assert_int_equal(ii->n_params, 2);
	assert_int_equal(ii->params[0].param, 1);
	assert_string_equal(ii->params[0].value.str, "ops");
	assert_int_equal(ii->params[1].param, 0);
	assert_true(ii->params[1].value.num == 2);
	assert_int_equal(s->telemetry.n_redact, 2);
	assert_int_equal(s->telemetry.redact[0].how, ITD_REDACT_HMAC);
	assert_string_equal(s->telemetry.redact[0].path, "payload.params.who");
	assert_int_equal(s->telemetry.redact[1].how, ITD_REDACT_PLAIN);
	assert_string_equal(s->telemetry.hmac_key_env, "K");
	itd_scenario_destroy(s);
}

static void test_unknown_builtin_lists_the_builtins(void **state)
{
	(void)state;
	struct itd_diags d = {0};
	struct itd_scenario *s = (struct itd_scenario *)1;
	assert_int_equal(itd_scenario_load_builtin("spacecrafts", NULL, 0, &s, &d), ITD_ENOTFOUND);
	assert_null(s);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.items[0].msg, "unknown scenario 'spacecrafts' (built-in: spacecraft)");
	itd_diags_fini(&d);

	const struct itd_embedded *b = itd_scenario_builtins();
	assert_string_equal(b[0].name, "spacecraft.yaml");
	assert_true(b[0].size == strlen(b[0].data));
}

static void test_load_file_reports_the_path(void **state)
{
	(void)state;
	struct itd_diags d = {0};
	struct itd_scenario *s = NULL;
	assert_int_equal(itd_scenario_load_file(ITD_SOURCE_DIR "/scenarios/spacecraft.yaml", NULL, 0,
						&s, &d), 0);
	assert_non_null(s);
	assert_string_equal(s->file, ITD_SOURCE_DIR "/scenarios/spacecraft.yaml");
	itd_scenario_destroy(s);

	char *dir = itd_test_tmpdir("scn");
	char path[4096];
	snprintf(path, sizeof path, "%s/bad.yaml", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("scenario: x\nstate: {}\nintent_types: {}\nbogus: 1\n", f);
	fclose(f);
	assert_int_equal(itd_scenario_load_file(path, NULL, 0, &s, &d), ITD_ECONFIG);
	assert_null(s);
	assert_true(d.n >= 1);
	assert_string_equal(d.items[0].file, path);
	itd_diags_fini(&d);

	snprintf(path, sizeof path, "%s/missing.yaml", dir);
	assert_int_equal(itd_scenario_load_file(path, NULL, 0, &s, &d), ITD_EIO);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.items[0].file, path);
	assert_non_null(strstr(d.items[0].msg, "cannot open"));
	itd_diags_fini(&d);
	free(dir);
}

/* Fail allocation n = 1, 2, ... until a load needs no more: every failure
 * must give ITD_ENOMEM and no scenario; ASan catches leaks. */
static void test_every_allocation_failure_is_clean(void **state)
{
	(void)state;
	struct itd_override ovr[] = {{"state.battery.initial", "24"}, {"constants.power_draw", "0.7"}};
	for (int with_ovr = 0; with_ovr < 2; with_ovr++) {
		long n;
		for (n = 1;; n++) {
			struct itd_diags d = {0};
			struct itd_scenario *s = (struct itd_scenario *)1;
			itd_alloc_fail_at(n);
			int rc = itd_scenario_load_builtin("spacecraft", with_ovr ? ovr : NULL,
							   with_ovr ? 2 : 0, &s, &d);
			bool failed = itd_alloc_failed();
			itd_alloc_fail_at(0);
			if (!failed) {
				assert_int_equal(rc, 0);
				assert_non_null(s);
				itd_scenario_destroy(s);
				itd_diags_fini(&d);
				break;
			}
			if (rc != ITD_ENOMEM)
				fail_msg("allocation %ld failed but rc = %d", n, rc);
			assert_null(s);
			itd_diags_fini(&d);
		}
		assert_true(n > 100);
	}
	for (long n = 1;; n++) {
		struct itd_diags d = {0};
		struct itd_scenario *s = (struct itd_scenario *)1;
		itd_alloc_fail_at(n);
		int rc = itd_scenario_load_text(all_sections, strlen(all_sections), "p.yaml", NULL, 0,
						&s, &d);
		bool failed = itd_alloc_failed();
		itd_alloc_fail_at(0);
		itd_diags_fini(&d);
		if (!failed) {
			assert_int_equal(rc, 0);
			itd_scenario_destroy(s);
			break;
		}
		assert_int_equal(rc, ITD_ENOMEM);
		assert_null(s);
	}
}

/* A scenario with errors also survives allocation failures while its
 * diagnostics are being recorded. */
static void test_allocation_failures_while_reporting(void **state)
{
	(void)state;
	static const char text[] =
		"scenario: t\n"
		"state:\n"
		"  a: { type: number, initial: 1 }\n"
		"intent_types:\n"
		"  go: { score: state.b + 1, scor: 1 }\n";
	for (long n = 1;; n++) {
		struct itd_diags d = {0};
		struct itd_scenario *s = NULL;
		itd_alloc_fail_at(n);
		int rc = itd_scenario_load_text(text, strlen(text), "t.yaml", NULL, 0, &s, &d);
		bool failed = itd_alloc_failed();
		itd_alloc_fail_at(0);
		assert_null(s);
		itd_diags_fini(&d);
		if (!failed) {
			assert_int_equal(rc, ITD_ECONFIG);
			break;
		}
		assert_int_equal(rc, ITD_ENOMEM);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spacecraft_header_fields_and_modes),
		cmocka_unit_test(test_spacecraft_types_policy_and_rules),
		cmocka_unit_test(test_spacecraft_slots_and_expressions),
		cmocka_unit_test(test_all_sections_load),
		cmocka_unit_test(test_unknown_builtin_lists_the_builtins),
		cmocka_unit_test(test_load_file_reports_the_path),
		cmocka_unit_test(test_every_allocation_failure_is_clean),
		cmocka_unit_test(test_allocation_failures_while_reporting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
