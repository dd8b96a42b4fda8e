/* test_engine_plant.c: the plant API (C dynamics and effects), failure and
 * retry with backoff, typed parameters, and string state fields, on a small
 * scenario written for the purpose. */
#include <string.h>

#include "engine/engine.h"
#include "scenario_fixture.h"

static const char *const pump_yaml =
	"scenario: pump\n"
	"seed: 7\n"
	"tick: { rate_hz: 10 }\n"
	"state:\n"
	"  level: { type: number, initial: 50, min: 0, max: 100 }\n"
	"  pump_ok: { type: bool, initial: true }\n"
	"  valve: { type: string, initial: closed, values: [closed, open] }\n"
	"dynamics:\n"
	"  - { set: level, to: state.level - 1 }\n"
	"intent_types:\n"
	"  fill:\n"
	"    goal: required\n"
	"    params:\n"
	"      rate: { type: number, required: true }\n"
	"      operator: { type: string, default: auto }\n"
	"    score: intent.params.rate\n"
	"    effect:\n"
	"      - { set: level, to: state.level + intent.params.rate }\n"
	"    complete_when: state.level >= intent.goal.reference\n"
	"    fail_when: not state.pump_ok\n"
	"    retry: { max_attempts: 3, base_ticks: 2, factor: 2, max_ticks: 10, jitter: 0 }\n";

struct rec {
	uint64_t by_kind[ITD_EV_COUNT];
	uint64_t retry_at[8];
	size_t n_retry;
	char last_operator[32];
};

static void on_event(void *ctx, const struct itd_engine *e, const struct itd_event *ev)
{
	struct rec *r = ctx;
	r->by_kind[ev->kind]++;
	if (ev->kind == ITD_EV_INTENT_RETRY_SCHEDULED && r->n_retry < 8)
		r->retry_at[r->n_retry++] = ev->at_tick;
	if (ev->kind == ITD_EV_INTENT_RECEIVED) {
		const struct itd_value *op = itd_intent_param(itd_engine_intents_c(e), ev->intent, 1);
		snprintf(r->last_operator, sizeof r->last_operator, "%s", op ? op->str : "(none)");
	}
}

struct fx {
	struct itd_scenario *s;
	struct itd_engine *e;
	struct rec r;
	struct itd_observer obs;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->s = fixture_text(pump_yaml);
	f->obs = (struct itd_observer){.event = on_event, .ctx = &f->r};
	struct itd_engine_config cfg = {.scn = f->s, .seed = 7, .clock = ITD_CLOCK_SIM,
					.obs = &f->obs};
	assert_int_equal(itd_engine_create(&cfg, &f->e), ITD_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	itd_engine_destroy(f->e);
	itd_scenario_destroy(f->s);
	free(f);
	return 0;
}

static void submit_fill(struct fx *f, double rate, const char *operator, double reference)
{
	const struct itd_intent_type *ty = &f->s->types[0];
	struct itd_param_value pv[2] = {
		{.param = (uint32_t)itd_scenario_param(ty, "rate"),
		 .value = {.type = ITD_T_NUM, .num = rate}},
		{.param = (uint32_t)itd_scenario_param(ty, "operator"),
		 .value = {.type = ITD_T_STR, .str = operator}}};
	struct itd_submission sub = {.type = 0, .params = pv, .n_params = operator ? 2 : 1,
				     .goal = {.present = true, .metric = 0, .reference = reference}};
	char msg[160];
	struct itd_receipt rcpt;
	assert_int_equal(itd_engine_submit(f->e, &sub, &rcpt, msg, sizeof msg), ITD_OK);
}

static double level(const struct fx *f)
{
	return itd_plant_get(f->e, 0).num;
}

static void test_params_score_and_effect(void **state)
{
	struct fx *f = *state;
	char op[64];
	snprintf(op, sizeof op, "%s", "alice");
	submit_fill(f, 5, op, 60);
	memset(op, 'x', 8); /* the queue kept its own copy */
	assert_int_equal(itd_engine_step(f->e), ITD_OK);
	assert_string_equal(f->r.last_operator, "alice");
	/* 50 - 1 (dynamics) + 5 (effect) */
	assert_true(level(f) == 54);
	assert_int_equal(itd_engine_run(f->e, 5, NULL), ITD_OK);
	struct itd_intent *in = itd_intents_get(itd_engine_intents(f->e), "i-000001");
	assert_int_equal(in->status, ITD_ST_COMPLETED);
	assert_int_equal(in->executions, 3); /* 54, 58, 62 >= 60 */
	/* A missing optional param takes its default; a missing required one is refused. */
	submit_fill(f, 1, NULL, 100);
	assert_int_equal(itd_engine_step(f->e), ITD_OK);
	assert_string_equal(f->r.last_operator, "auto");
	struct itd_submission bad = {.type = 0, .goal = {.present = true, .reference = 1}};
	char msg[160];
	struct itd_receipt rcpt;
	assert_int_equal(itd_engine_submit(f->e, &bad, &rcpt, msg, sizeof msg), ITD_EINVAL);
	assert_non_null(strstr(msg, "'rate' is required"));
}

static void test_fail_when_retries_with_backoff_then_fails(void **state)
{
	struct fx *f = *state;
	assert_int_equal(itd_engine_set_field(f->e, 1, (struct itd_value){.type = ITD_T_BOOL,
									  .b = false}, NULL, NULL),
			 ITD_OK);
	submit_fill(f, 5, "bob", 90);
	assert_int_equal(itd_engine_run(f->e, 30, NULL), ITD_OK);
	struct itd_intent *in = itd_intents_get(itd_engine_intents(f->e), "i-000001");
	assert_int_equal(in->status, ITD_ST_FAILED);
	assert_int_equal(in->attempts, 3);
	assert_int_equal(f->r.by_kind[ITD_EV_INTENT_FAILED], 3);
	assert_int_equal(f->r.by_kind[ITD_EV_INTENT_RETRY_SCHEDULED], 2);
	/* Executed at tick 1; retry after 2 ticks (tick 3), executed at 3;
	 * retry after 4 (tick 7). */
	assert_int_equal(f->r.n_retry, 2);
	assert_int_equal(f->r.retry_at[0], 3);
	assert_int_equal(f->r.retry_at[1], 7);
}

/* The plant: dynamics add inflow; the effect fails while a flag says so. */
struct plant_ctx {
	int fail_left;
	uint64_t dyn_calls;
};

static void plant_dyn(void *ctx, struct itd_engine *e, uint64_t tick)
{
	struct plant_ctx *p = ctx;
	(void)tick;
	p->dyn_calls++;
	struct itd_value v = itd_plant_get(e, 0);
	v.num += 3;
	assert_int_equal(itd_plant_set(e, 0, v), ITD_OK);
	/* Bad writes are refused and change nothing. */
	assert_int_equal(itd_plant_set(e, 0, (struct itd_value){.type = ITD_T_BOOL}), ITD_EINVAL);
	assert_int_equal(itd_plant_set(e, 2, (struct itd_value){.type = ITD_T_STR, .str = "ajar"}),
			 ITD_EINVAL);
	assert_int_equal(itd_plant_set(e, 2, (struct itd_value){.type = ITD_T_STR, .str = "open"}),
			 ITD_OK);
}

static int plant_effect(void *ctx, struct itd_engine *e, const struct itd_intent *in)
{
	struct plant_ctx *p = ctx;
	(void)e;
	(void)in;
	return p->fail_left-- > 0;
}

static void test_plant_callbacks(void **state)
{
	struct fx *f = *state;
	struct plant_ctx pc = {.fail_left = 1};
	struct itd_plant plant = {.dynamics = plant_dyn, .effect = plant_effect, .ctx = &pc};
	itd_engine_set_plant(f->e, &plant);
	assert_int_equal(itd_engine_step(f->e), ITD_OK);
	assert_true(level(f) == 52); /* 50 - 1 + 3 */
	assert_string_equal(itd_plant_get(f->e, 2).str, "open");
	submit_fill(f, 5, "carol", 95);
	assert_int_equal(itd_engine_run(f->e, 20, NULL), ITD_OK);
	struct itd_intent *in = itd_intents_get(itd_engine_intents(f->e), "i-000001");
	assert_int_equal(f->r.by_kind[ITD_EV_INTENT_FAILED], 1); /* the plant failed once */
	assert_int_equal(f->r.by_kind[ITD_EV_INTENT_RETRY_SCHEDULED], 1);
	assert_int_equal(in->status, ITD_ST_COMPLETED);
	assert_true(level(f) <= 100.0); /* clamped */
	assert_int_equal(pc.dyn_calls, 21);
	itd_engine_set_plant(f->e, NULL);
	assert_int_equal(itd_engine_step(f->e), ITD_OK);
	assert_int_equal(pc.dyn_calls, 21);
}

static void test_string_field_faults_use_declared_values(void **state)
{
	struct fx *f = *state;
	assert_int_equal(itd_engine_set_field(f->e, 2, (struct itd_value){.type = ITD_T_STR,
									  .str = "ajar"}, NULL, NULL),
			 ITD_EINVAL);
	char v[8];
	snprintf(v, sizeof v, "open");
	assert_int_equal(itd_engine_set_field(f->e, 2, (struct itd_value){.type = ITD_T_STR,
									  .str = v}, NULL, NULL),
			 ITD_OK);
	memset(v, 0, sizeof v);
	assert_int_equal(itd_engine_step(f->e), ITD_OK);
	assert_string_equal(itd_plant_get(f->e, 2).str, "open");
	assert_int_equal(itd_engine_set_field(f->e, 0, (struct itd_value){.type = ITD_T_NUM,
									  .num = 1.0 / 0.0}, NULL, NULL),
			 ITD_EINVAL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_params_score_and_effect),
		T(test_fail_when_retries_with_backoff_then_fails),
		T(test_plant_callbacks),
		T(test_string_field_faults_use_declared_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
