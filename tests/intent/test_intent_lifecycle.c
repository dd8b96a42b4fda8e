/* test_intent_lifecycle.c: the lifecycle transition by transition, history,
 * archive, ids, idempotency, capacity and retry backoff. */
#include <string.h>

#include "intent/intent.h"
#include "scenario_fixture.h"

#define S(x) ITD_ST_##x

/* Every transition the lifecycle diagram draws. */
static const enum itd_status allowed[][2] = {
	{S(RECEIVED), S(QUEUED)},       {S(RECEIVED), S(AWAITING_APPROVAL)},
	{S(RECEIVED), S(DENIED)},       {S(RECEIVED), S(CANCELLED)},
	{S(RECEIVED), S(EXPIRED)},      {S(QUEUED), S(AUTHORIZED)},
	{S(QUEUED), S(BLOCKED)},        {S(QUEUED), S(AWAITING_APPROVAL)},
	{S(QUEUED), S(CANCELLED)},      {S(QUEUED), S(EXPIRED)},
	{S(QUEUED), S(COMPLETED)},      {S(BLOCKED), S(COMPLETED)},
	{S(BLOCKED), S(AUTHORIZED)},    {S(BLOCKED), S(QUEUED)},
	{S(BLOCKED), S(CANCELLED)},     {S(BLOCKED), S(EXPIRED)},
	{S(AUTHORIZED), S(EXECUTING)},  {S(AUTHORIZED), S(QUEUED)},
	{S(AUTHORIZED), S(CANCELLED)},  {S(AUTHORIZED), S(EXPIRED)},
	{S(EXECUTING), S(COMPLETED)},   {S(EXECUTING), S(QUEUED)},
	{S(EXECUTING), S(BACKOFF)},     {S(EXECUTING), S(FAILED)},
	{S(BACKOFF), S(QUEUED)},        {S(BACKOFF), S(CANCELLED)},
	{S(BACKOFF), S(EXPIRED)},       {S(AWAITING_APPROVAL), S(QUEUED)},
	{S(AWAITING_APPROVAL), S(DENIED)}, {S(AWAITING_APPROVAL), S(CANCELLED)},
	{S(AWAITING_APPROVAL), S(EXPIRED)},
};

static void test_transition_table_matches_the_diagram(void **state)
{
	(void)state;
	size_t n = sizeof allowed / sizeof allowed[0];
	for (int from = 0; from < ITD_ST_COUNT; from++) {
		for (int to = 0; to < ITD_ST_COUNT; to++) {
			bool expect = false;
			for (size_t i = 0; i < n; i++)
				expect |= allowed[i][0] == (enum itd_status)from &&
					  allowed[i][1] == (enum itd_status)to;
			if (itd_intent_can(from, to) != expect)
				fail_msg("%s -> %s: expected %s", itd_status_name(from),
					 itd_status_name(to), expect ? "allowed" : "refused");
		}
		if (itd_status_terminal(from))
			for (int to = 0; to < ITD_ST_COUNT; to++)
				assert_false(itd_intent_can(from, to));
	}
	assert_false(itd_intent_can(ITD_ST_COUNT, S(QUEUED)));
}

static void test_status_and_source_names_round_trip(void **state)
{
	(void)state;
	for (int s = 0; s < ITD_ST_COUNT; s++)
		assert_int_equal(itd_status_parse(itd_status_name(s)), s);
	assert_int_equal(itd_status_parse("nope"), -1);
	for (int s = 0; s < ITD_SRC_COUNT; s++)
		assert_int_equal(itd_source_parse(itd_source_name(s)), s);
	assert_string_equal(itd_status_name(S(AWAITING_APPROVAL)), "awaiting_approval");
	assert_string_equal(itd_verdict_name(ITD_VERDICT_BLOCKED), "blocked");
}

struct fx {
	struct itd_scenario *scn;
	struct itd_intents t;
};

static int setup(void **state)
{
	static const struct itd_override ovr[] = {
		{"engine.max_intents", "3"}, {"engine.history_per_intent", "6"}};
	struct fx *f = calloc(1, sizeof *f);
	f->scn = fixture_builtin("spacecraft", ovr, 2);
	assert_int_equal(itd_intents_init(&f->t, f->scn), ITD_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	itd_intents_fini(&f->t);
	itd_scenario_destroy(f->scn);
	free(f);
	return 0;
}

static struct itd_intent_spec orbit_spec(const struct itd_scenario *s)
{
	struct itd_intent_spec spec = {
		.type = (uint32_t)itd_scenario_type(s, "orbit_correction"),
		.source = ITD_SRC_GROUND,
		.goal = {.present = true, .metric = (uint32_t)itd_scenario_field(s, "position"),
			 .reference = 3.0, .tolerance = 0.1}};
	return spec;
}

static void test_create_gives_deterministic_ids_and_history(void **state)
{
	struct fx *f = *state;
	char msg[128];
	struct itd_intent *a, *b;
	struct itd_intent_spec spec = orbit_spec(f->scn);
	assert_int_equal(itd_intents_create(&f->t, &spec, 7, &a, msg, sizeof msg), ITD_OK);
	assert_int_equal(itd_intents_create(&f->t, &spec, 8, &b, msg, sizeof msg), ITD_OK);
	assert_string_equal(a->id, "i-000001");
	assert_string_equal(b->id, "i-000002");
	assert_int_equal(a->status, S(QUEUED));
	assert_int_equal(a->created_tick, 7);
	assert_ptr_equal(itd_intents_get(&f->t, "i-000002"), b);
	assert_null(itd_intents_get(&f->t, "i-000009"));
	assert_null(itd_intents_get(&f->t, "i-00000x"));
	assert_null(itd_intents_get(&f->t, "x-000001"));
	assert_int_equal(itd_intent_n_held(&f->t, a), 2);
	const struct itd_transition *h0 = itd_intent_hist(&f->t, a, 0);
	const struct itd_transition *h1 = itd_intent_hist(&f->t, a, 1);
	assert_int_equal(h0->to, S(RECEIVED));
	assert_string_equal(h0->reason, "ground");
	assert_int_equal(h1->from, S(RECEIVED));
	assert_int_equal(h1->to, S(QUEUED));
	assert_int_equal(h1->tick, 7);
	assert_int_equal(f->t.n_active, 2);
	assert_int_equal(f->t.by_status[S(QUEUED)], 2);
}

static void test_terminal_transition_archives_and_keeps_the_record(void **state)
{
	struct fx *f = *state;
	char msg[128];
	struct itd_intent *a;
	struct itd_intent_spec spec = orbit_spec(f->scn);
	assert_int_equal(itd_intents_create(&f->t, &spec, 1, &a, msg, sizeof msg), ITD_OK);
	assert_int_equal(itd_intent_transition(&f->t, a, S(AUTHORIZED), 2, "selected"), ITD_OK);
	assert_int_equal(itd_intent_transition(&f->t, a, S(EXECUTING), 2, "effect"), ITD_OK);
	/* Not allowed: nothing changes. */
	assert_int_equal(itd_intent_transition(&f->t, a, S(BLOCKED), 2, "x"), ITD_ESTATE);
	assert_int_equal(a->status, S(EXECUTING));
	assert_int_equal(itd_intent_transition(&f->t, a, S(COMPLETED), 2, "complete_when"), ITD_OK);
	assert_int_equal(f->t.n_active, 0);
	assert_int_equal(f->t.by_status[S(COMPLETED)], 1);
	assert_int_equal(f->t.by_status[S(QUEUED)], 0);
	assert_ptr_equal(itd_intents_get(&f->t, "i-000001"), a);
	assert_int_equal(itd_intent_transition(&f->t, a, S(QUEUED), 3, "again"), ITD_ESTATE);
	assert_int_equal(itd_intent_transition(&f->t, a, S(CANCELLED), 3, "late"), ITD_ESTATE);
	assert_int_equal(a->n_hist, 5);
}

/* Deferred deactivation: ended intents stay in the active list, in place,
 * until undefer removes them in one pass, leaving the rest in order. */
static void test_deferred_deactivation(void **state)
{
	struct fx *f = *state;
	char msg[128];
	struct itd_intent *in[3];
	struct itd_intent_spec spec = orbit_spec(f->scn);
	for (int i = 0; i < 3; i++)
		assert_int_equal(itd_intents_create(&f->t, &spec, 1, &in[i], msg, sizeof msg),
				 ITD_OK);
	itd_intents_defer(&f->t);
	assert_int_equal(itd_intent_transition(&f->t, in[2], S(CANCELLED), 2, "x"), ITD_OK);
	assert_int_equal(itd_intent_transition(&f->t, in[0], S(CANCELLED), 2, "x"), ITD_OK);
	assert_int_equal(f->t.n_active, 3);
	assert_ptr_equal(itd_intents_active(&f->t, 0), in[0]);
	assert_int_equal(f->t.by_status[S(CANCELLED)], 2);
	assert_int_equal(f->t.n_live, 1);
	itd_intents_undefer(&f->t);
	assert_int_equal(f->t.n_active, 1);
	assert_ptr_equal(itd_intents_active(&f->t, 0), in[1]);
	/* Off again: an intent that ends leaves the list at once. */
	assert_int_equal(itd_intent_transition(&f->t, in[1], S(CANCELLED), 3, "x"), ITD_OK);
	assert_int_equal(f->t.n_active, 0);
	itd_intents_undefer(&f->t);
	assert_int_equal(f->t.n_active, 0);
}

static void test_history_ring_keeps_receipt_and_the_latest(void **state)
{
	struct fx *f = *state;
	char msg[128];
	struct itd_intent *a;
	struct itd_intent_spec spec = orbit_spec(f->scn);
	assert_int_equal(itd_intents_create(&f->t, &spec, 1, &a, msg, sizeof msg), ITD_OK);
	/* 2 entries so far; add 10 more (ring of 6 keeps 2 + the last 4). */
	for (uint64_t tick = 2; tick < 7; tick++) {
		assert_int_equal(itd_intent_transition(&f->t, a, S(BLOCKED), tick, "r"), ITD_OK);
		assert_int_equal(itd_intent_transition(&f->t, a, S(QUEUED), tick, "r"), ITD_OK);
	}
	assert_int_equal(a->n_hist, 12);
	assert_int_equal(itd_intent_n_held(&f->t, a), 6);
	assert_int_equal(itd_intent_hist(&f->t, a, 0)->to, S(RECEIVED));
	assert_int_equal(itd_intent_hist(&f->t, a, 1)->to, S(QUEUED));
	assert_int_equal(itd_intent_hist(&f->t, a, 1)->tick, 1);
	/* The last four, oldest first: ticks 5,5,6,6. */
	assert_int_equal(itd_intent_hist(&f->t, a, 2)->tick, 5);
	assert_int_equal(itd_intent_hist(&f->t, a, 2)->to, S(BLOCKED));
	assert_int_equal(itd_intent_hist(&f->t, a, 5)->tick, 6);
	assert_int_equal(itd_intent_hist(&f->t, a, 5)->to, S(QUEUED));
	assert_null(itd_intent_hist(&f->t, a, 6));
}

static void test_idempotency_and_capacity(void **state)
{
	struct fx *f = *state;
	char msg[160];
	struct itd_intent *a, *again, *x;
	struct itd_intent_spec spec = orbit_spec(f->scn);
	spec.idempotency_key = "op-42";
	spec.body_hash = 111;
	assert_int_equal(itd_intents_create(&f->t, &spec, 1, &a, msg, sizeof msg), ITD_OK);
	assert_int_equal(itd_intents_create(&f->t, &spec, 2, &again, msg, sizeof msg), ITD_EEXISTS);
	assert_ptr_equal(again, a);
	spec.body_hash = 222;
	assert_int_equal(itd_intents_create(&f->t, &spec, 2, &x, msg, sizeof msg), ITD_ECONFLICT);
	assert_null(x);
	assert_non_null(strstr(msg, "i-000001"));
	assert_ptr_equal(itd_intents_by_key(&f->t, "op-42"), a);
	assert_int_equal(f->t.n, 1);

	spec.idempotency_key = NULL;
	assert_int_equal(itd_intents_create(&f->t, &spec, 3, &x, msg, sizeof msg), ITD_OK);
	assert_int_equal(itd_intents_create(&f->t, &spec, 3, &x, msg, sizeof msg), ITD_OK);
	assert_int_equal(itd_intents_create(&f->t, &spec, 3, &x, msg, sizeof msg), ITD_EFULL);
	assert_null(x);
	assert_non_null(strstr(msg, "max_intents"));
	assert_int_equal(f->t.n, 3);
}

static void test_ring_reuses_terminal_records_only(void **state)
{
	struct fx *f = *state;
	char msg[160];
	struct itd_intent *a, *x;
	struct itd_intent_spec spec = orbit_spec(f->scn);
	spec.idempotency_key = "first";
	assert_int_equal(itd_intents_create(&f->t, &spec, 1, &a, msg, sizeof msg), ITD_OK);
	spec.idempotency_key = NULL;
	assert_int_equal(itd_intents_create(&f->t, &spec, 1, &x, msg, sizeof msg), ITD_OK);
	assert_int_equal(itd_intents_create(&f->t, &spec, 1, &x, msg, sizeof msg), ITD_OK);
	/* Full of active intents: the fourth is refused. */
	assert_int_equal(itd_intents_create(&f->t, &spec, 2, &x, msg, sizeof msg), ITD_EFULL);
	/* Once the oldest is terminal its record is reused. */
	assert_int_equal(itd_intent_transition(&f->t, a, ITD_ST_CANCELLED, 2, "operator"), ITD_OK);
	assert_int_equal(itd_intents_create(&f->t, &spec, 3, &x, msg, sizeof msg), ITD_OK);
	assert_string_equal(x->id, "i-000004");
	assert_ptr_equal(itd_intents_get(&f->t, "i-000004"), x);
	assert_null(itd_intents_get(&f->t, "i-000001"));
	assert_int_equal(f->t.n_evicted, 1);
	assert_null(itd_intents_by_key(&f->t, "first"));
	assert_int_equal(f->t.by_status[ITD_ST_CANCELLED], 1);
	assert_int_equal(f->t.n_active, 3);
}

/* An intent that stays active forever must not stop the table from
 * recycling everything that finished after it. */
static void test_a_stuck_intent_does_not_block_recycling(void **state)
{
	struct fx *f = *state;
	char msg[160];
	struct itd_intent *stuck, *x;
	struct itd_intent_spec spec = orbit_spec(f->scn);
	assert_int_equal(itd_intents_create(&f->t, &spec, 1, &stuck, msg, sizeof msg), ITD_OK);
	for (uint64_t i = 0; i < 50; i++) {
		assert_int_equal(itd_intents_create(&f->t, &spec, 2 + i, &x, msg, sizeof msg), ITD_OK);
		assert_int_equal(itd_intent_transition(&f->t, x, ITD_ST_EXPIRED, 2 + i, "deadline"),
				 ITD_OK);
	}
	assert_int_equal(f->t.n, 51);
	assert_ptr_equal(itd_intents_get(&f->t, "i-000001"), stuck);
	assert_string_equal(itd_intents_get(&f->t, "i-000051")->id, "i-000051");
	assert_null(itd_intents_get(&f->t, "i-000049")); /* evicted: only 3 records */
	assert_int_equal(f->t.n_evicted, 48);
	/* Caller-assigned sequence numbers, and a taken one is refused. */
	spec.seq = 100;
	assert_int_equal(itd_intents_create(&f->t, &spec, 60, &x, msg, sizeof msg), ITD_OK);
	assert_string_equal(x->id, "i-000100");
	assert_int_equal(itd_intents_create(&f->t, &spec, 60, &x, msg, sizeof msg), ITD_EEXISTS);
	spec.seq = 0;
	assert_int_equal(itd_intent_transition(&f->t, itd_intents_get(&f->t, "i-000100"),
					       ITD_ST_CANCELLED, 61, "operator"),
			 ITD_OK);
	assert_int_equal(itd_intents_create(&f->t, &spec, 62, &x, msg, sizeof msg), ITD_OK);
	assert_string_equal(x->id, "i-000101");
}

static void test_validation_messages(void **state)
{
	struct fx *f = *state;
	char msg[160];
	struct itd_intent *x;
	struct itd_intent_spec spec = orbit_spec(f->scn);
	spec.goal.present = false;
	assert_int_equal(itd_intents_create(&f->t, &spec, 1, &x, msg, sizeof msg), ITD_EINVAL);
	assert_string_equal(msg, "intent type 'orbit_correction' requires a goal");
	spec = orbit_spec(f->scn);
	spec.type = (uint32_t)itd_scenario_type(f->scn, "battery_recovery");
	assert_int_equal(itd_intents_create(&f->t, &spec, 1, &x, msg, sizeof msg), ITD_EINVAL);
	assert_string_equal(msg, "intent type 'battery_recovery' takes no goal");
	spec = orbit_spec(f->scn);
	spec.goal.tolerance = -1;
	assert_int_equal(itd_intents_create(&f->t, &spec, 1, &x, msg, sizeof msg), ITD_EINVAL);
	assert_int_equal(f->t.n, 0);
	assert_int_equal(f->t.n_rejected, 3);
}

static void test_backoff_is_exponential_capped_and_seeded(void **state)
{
	(void)state;
	struct itd_retry p = {.max_attempts = 6, .base_ticks = 2, .factor = 2, .max_ticks = 10,
			      .jitter = 0};
	struct itd_rng r;
	itd_rng_seed(&r, 1, "retry");
	assert_int_equal(itd_intent_backoff(&p, 2, &r), 2);
	assert_int_equal(itd_intent_backoff(&p, 3, &r), 4);
	assert_int_equal(itd_intent_backoff(&p, 4, &r), 8);
	assert_int_equal(itd_intent_backoff(&p, 5, &r), 10);
	p.jitter = 0.5;
	struct itd_rng r2;
	itd_rng_seed(&r, 9, "retry");
	itd_rng_seed(&r2, 9, "retry");
	for (int i = 0; i < 200; i++) {
		uint64_t b = itd_intent_backoff(&p, 3, &r);
		assert_int_equal(b, itd_intent_backoff(&p, 3, &r2));
		assert_true(b >= 2 && b <= 6);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transition_table_matches_the_diagram),
		cmocka_unit_test(test_status_and_source_names_round_trip),
		cmocka_unit_test_setup_teardown(test_deferred_deactivation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_gives_deterministic_ids_and_history, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_terminal_transition_archives_and_keeps_the_record,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_ring_keeps_receipt_and_the_latest, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_idempotency_and_capacity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_reuses_terminal_records_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_stuck_intent_does_not_block_recycling, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_validation_messages, setup, teardown),
		cmocka_unit_test(test_backoff_is_exponential_capped_and_seeded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
