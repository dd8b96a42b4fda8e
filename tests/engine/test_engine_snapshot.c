/* test_engine_snapshot.c: a snapshot taken between ticks restores the run
 * exactly (the same hashes, ids, records, history, telemetry and counters
 * for thousands of ticks after, through a full table, evictions and
 * retries with jitter), re-saves to the same bytes, lets a store replay
 * only the journal after it, refuses damaged bytes and other scenarios
 * without changing the engine, and never allocates while saving; reset
 * gives back a fresh engine. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "scenario_fixture.h"

/* The spacecraft with a small table (it fills and evicts), a short
 * history ring, an orbit correction that fails now and then and retries
 * with jitter, string and number parameters and a string var. */
static const struct itd_override base_ovr[] = {
	{"engine.max_intents", "48"},
	{"engine.intake_capacity", "64"},
	{"engine.history_per_intent", "8"},
	{"intent_types.orbit_correction.fail_when", "tick % 5 == 1"},
	{"intent_types.orbit_correction.retry",
	 "{max_attempts: 3, base_ticks: 2, factor: 2, max_ticks: 12, jitter: 0.5}"},
	{"intent_types.orbit_correction.params",
	 "{label: {type: string, default: none}, gain: {type: number}}"},
	{"intent_types.orbit_correction.vars",
	 "{where: \"if(state.battery > 10, mode, intent.type)\"}"},
};
#define N_BASE (sizeof base_ovr / sizeof base_ovr[0])

static struct itd_scenario *scenario_with(const struct itd_override *extra, size_t n_extra)
{
	struct itd_override ovr[N_BASE + 4];
	memcpy(ovr, base_ovr, sizeof base_ovr);
	for (size_t i = 0; i < n_extra; i++)
		ovr[N_BASE + i] = extra[i];
	return fixture_builtin("spacecraft", ovr, N_BASE + n_extra);
}

static struct itd_scenario *scenario(void)
{
	return scenario_with(NULL, 0);
}

/* Every event, folded into a running hash: two engines that report the
 * same telemetry have the same hash. */
struct seen {
	uint64_t hash;
	uint64_t by_kind[ITD_EV_COUNT];
};

static void on_event(void *ctx, const struct itd_engine *e, const struct itd_event *ev)
{
	(void)e;
	struct seen *o = ctx;
	char line[1024];
	int n = snprintf(line, sizeof line, "%d|%llu|%lld|%s|%s|%s|%llu|%.17g|%llu|%d|%s",
			 (int)ev->kind, (unsigned long long)ev->tick, (long long)ev->ts_ms,
			 ev->intent ? ev->intent->id : "-", ev->reason ? ev->reason : "-",
			 ev->detail ? ev->detail : "-", (unsigned long long)ev->n, ev->ms,
			 (unsigned long long)ev->at_tick, ev->suppressed_before,
			 ev->actor ? ev->actor : "-");
	o->hash = itd_hash64(line, (size_t)n, o->hash);
	o->by_kind[ev->kind]++;
}

static struct itd_engine *engine(const struct itd_scenario *s, uint64_t seed,
				 const struct itd_observer *obs)
{
	struct itd_engine_config cfg = {.scn = s, .seed = seed, .clock = ITD_CLOCK_SIM, .obs = obs};
	struct itd_engine *e;
	assert_int_equal(itd_engine_create(&cfg, &e), ITD_OK);
	return e;
}

/* What an input returned, to compare two engines fed alike. */
struct outcome {
	int rc;
	struct itd_receipt r;
};

/* One varied input from a small deterministic generator. */
static struct outcome one_input(struct itd_engine *e, const struct itd_scenario *s, uint64_t *x)
{
	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	uint64_t r = *x >> 33;
	struct outcome o = {0};
	char msg[160], id[32], key[16], label[24];
	uint32_t orbit = (uint32_t)itd_scenario_type(s, "orbit_correction");
	switch (r % 10) {
	case 0: case 1: case 2: case 3: {
		snprintf(key, sizeof key, "k%llu", (unsigned long long)(r % 40));
		snprintf(label, sizeof label, "burn-%llu", (unsigned long long)(r % 13));
		struct itd_param_value pv[2] = {
			{.param = 1, .value = {.type = ITD_T_NUM, .num = (double)(r % 9)}},
			{.param = 0, .value = {.type = ITD_T_STR, .str = label}}};
		struct itd_submission sub = {
			.type = orbit, .priority = (double)(r % 3),
			.goal = {.present = true, .metric = 0, .reference = (double)(r % 6),
				 .tolerance = 0.1},
			.params = pv, .n_params = 1 + r % 2, .deadline_ticks = r % 4 ? 0 : 25,
			.idempotency_key = r % 3 ? NULL : key, .body_hash = r % 5, .actor = "op"};
		o.rc = itd_engine_submit(e, &sub, &o.r, msg, sizeof msg);
		break;
	}
	case 4:
		snprintf(id, sizeof id, "i-%06llu", (unsigned long long)(r % 200 + 1));
		o.rc = itd_engine_cancel(e, id, r % 2 ? "operator" : "changed plans", "op", NULL);
		break;
	case 5:
		o.rc = itd_engine_set_field(e, (uint32_t)itd_scenario_field(s, "battery"),
					    (struct itd_value){.type = ITD_T_NUM,
							       .num = (double)(r % 60)},
					    "tester", NULL);
		break;
	case 6:
		o.rc = itd_engine_set_field(e, (uint32_t)itd_scenario_field(s, "temperature"),
					    (struct itd_value){.type = ITD_T_NUM,
							       .num = 90.0 + (double)(r % 70)},
					    NULL, NULL);
		break;
	case 7:
		o.rc = itd_engine_console(e, r % 2 ? ITD_CONSOLE_NOTE : ITD_CONSOLE_SNAPSHOT,
					  "a note", "root", NULL);
		break;
	case 8: /* back within the position limit, so orbit corrections run again */
		o.rc = itd_engine_set_field(e, (uint32_t)itd_scenario_field(s, "position"),
					    (struct itd_value){.type = ITD_T_NUM,
							       .num = (double)(r % 7) - 2},
					    "tester", NULL);
		break;
	default:
		break; /* a quiet moment */
	}
	return o;
}

static void assert_same_intent(const struct itd_intents *ta, const struct itd_intent *a,
			       const struct itd_intents *tb, const struct itd_intent *b)
{
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->source, b->source);
	assert_int_equal(a->status, b->status);
	assert_true(a->priority == b->priority);
	assert_int_equal(a->goal.present, b->goal.present);
	assert_true(a->goal.reference == b->goal.reference);
	assert_int_equal(a->created_tick, b->created_tick);
	assert_int_equal(a->deadline_tick, b->deadline_tick);
	assert_int_equal(a->retry_tick, b->retry_tick);
	assert_int_equal(a->received_ms, b->received_ms);
	assert_int_equal(a->evaluations, b->evaluations);
	assert_int_equal(a->blocked_ticks, b->blocked_ticks);
	assert_int_equal(a->executions, b->executions);
	assert_int_equal(a->attempts, b->attempts);
	assert_true(a->score == b->score);
	assert_int_equal(a->verdict, b->verdict);
	assert_string_equal(a->verdict_rule ? a->verdict_rule : "-",
			    b->verdict_rule ? b->verdict_rule : "-");
	assert_string_equal(a->explain, b->explain);
	assert_int_equal(a->verdict_tick, b->verdict_tick);
	assert_int_equal(a->reported_tick, b->reported_tick);
	assert_int_equal(a->first_exec_tick, b->first_exec_tick);
	assert_string_equal(a->key, b->key);
	assert_string_equal(a->actor, b->actor);
	assert_int_equal(a->n_hist, b->n_hist);
	uint64_t held = itd_intent_n_held(ta, a);
	assert_int_equal(held, itd_intent_n_held(tb, b));
	for (uint64_t k = 0; k < held; k++) {
		const struct itd_transition *x = itd_intent_hist(ta, a, k);
		const struct itd_transition *y = itd_intent_hist(tb, b, k);
		assert_int_equal(x->tick, y->tick);
		assert_int_equal(x->from, y->from);
		assert_int_equal(x->to, y->to);
		assert_string_equal(x->reason, y->reason);
	}
	for (uint32_t p = 0; p < ta->scn->types[a->type].n_params; p++) {
		const struct itd_value *x = itd_intent_param(ta, a, p);
		const struct itd_value *y = itd_intent_param(tb, b, p);
		assert_int_equal(x == NULL, y == NULL);
		if (!x)
			continue;
		assert_int_equal(x->type, y->type);
		if (x->type == ITD_T_STR)
			assert_string_equal(x->str, y->str);
		else
			assert_true(x->num == y->num);
	}
}

/* Everything a user can see of two engines is the same. */
static void assert_same_engines(struct itd_engine *a, struct itd_engine *b)
{
	assert_int_equal(itd_engine_tick(a), itd_engine_tick(b));
	assert_int_equal(itd_engine_now_ms(a), itd_engine_now_ms(b));
	assert_int_equal(itd_engine_state_hash(a), itd_engine_state_hash(b));
	assert_string_equal(itd_engine_mode(a), itd_engine_mode(b));
	struct itd_engine_stats sa, sb;
	itd_engine_stats(a, &sa);
	itd_engine_stats(b, &sb);
	assert_memory_equal(&sa, &sb, sizeof sa);
	const struct itd_scenario *s = itd_engine_scenario(a);
	for (size_t i = 0; i < s->n_safety; i++)
		assert_int_equal(itd_engine_blocks_by_rule(a, i), itd_engine_blocks_by_rule(b, i));
	const struct itd_gate *ga = itd_engine_gate(a), *gb = itd_engine_gate(b);
	assert_string_equal(ga->selected ? ga->selected->id : "-",
			    gb->selected ? gb->selected->id : "-");
	assert_string_equal(ga->pick ? ga->pick->id : "-", gb->pick ? gb->pick->id : "-");
	assert_int_equal(ga->verdict, gb->verdict);
	assert_ptr_equal(ga->rule, gb->rule);
	assert_string_equal(ga->explain, gb->explain);
	assert_int_equal(ga->critical, gb->critical);
	assert_int_equal(ga->lock_applied, gb->lock_applied);
	const struct itd_intent *xa = itd_engine_executed(a), *xb = itd_engine_executed(b);
	assert_string_equal(xa ? xa->id : "-", xb ? xb->id : "-");
	struct itd_intents *ta = itd_engine_intents(a), *tb = itd_engine_intents(b);
	assert_int_equal(ta->n, tb->n);
	assert_int_equal(ta->n_active, tb->n_active);
	assert_int_equal(ta->n_evicted, tb->n_evicted);
	assert_int_equal(ta->next_seq, tb->next_seq);
	assert_memory_equal(ta->by_status, tb->by_status, sizeof ta->by_status);
	for (uint64_t q = 1; q <= ta->next_seq; q++) {
		const struct itd_intent *x = itd_intents_at(ta, q), *y = itd_intents_at(tb, q);
		assert_int_equal(x == NULL, y == NULL);
		if (x)
			assert_same_intent(ta, x, tb, y);
	}
}

/* A snapshot in a malloc'd buffer of the engine's bound. */
static uint8_t *save(struct itd_engine *e, size_t *len, uint64_t *arrivals)
{
	size_t cap = itd_engine_snapshot_bound(e);
	uint8_t *buf = malloc(cap);
	assert_int_equal(itd_engine_save(e, buf, cap, len, arrivals), ITD_OK);
	assert_true(*len <= cap);
	return buf;
}

/* Many submissions at once to both engines, more than the table holds:
 * the same receipts, and how many the full table refused. */
static uint64_t burst(struct itd_engine *a, struct itd_engine *b, const struct itd_scenario *s)
{
	uint64_t refused = 0;
	for (int k = 0; k < 60; k++) {
		struct itd_submission sub = {
			.type = (uint32_t)itd_scenario_type(s, "orbit_correction"),
			.goal = {.present = true, .metric = 0, .reference = 50, .tolerance = 0.1},
			.priority = k % 4, .deadline_ticks = 40 + (uint64_t)k};
		struct itd_receipt ra, rb;
		char ma[160] = "", mb[160] = "";
		int rca = itd_engine_submit(a, &sub, &ra, ma, sizeof ma);
		assert_int_equal(rca, itd_engine_submit(b, &sub, &rb, mb, sizeof mb));
		assert_memory_equal(&ra, &rb, sizeof ra);
		assert_string_equal(ma, mb);
		refused += rca == ITD_EFULL && strstr(ma, "intent table full");
	}
	return refused;
}

static void test_a_loaded_engine_runs_on_exactly_like_the_original(void **state)
{
	(void)state;
	struct itd_scenario *s = scenario();
	struct seen oa = {0}, ob = {0};
	struct itd_observer obs_a = {.event = on_event, .ctx = &oa};
	struct itd_observer obs_b = {.event = on_event, .ctx = &ob};
	struct itd_engine *a = engine(s, 7, &obs_a);
	/* Another seed: the RNG must come from the snapshot. */
	struct itd_engine *b = engine(s, 99, &obs_b);
	uint64_t x = 42;
	while (itd_engine_intents(a)->n_evicted == 0 || itd_engine_tick(a) < 400) {
		for (int k = 0; k < 3; k++)
			one_input(a, s, &x);
		assert_int_equal(itd_engine_step(a), ITD_OK);
	}
	assert_true(oa.by_kind[ITD_EV_INTENT_RETRY_SCHEDULED] > 0);
	/* Inputs still queued at the cut, the last one with a key. */
	for (int k = 0; k < 6; k++)
		one_input(a, s, &x);
	struct itd_submission held = {
		.type = (uint32_t)itd_scenario_type(s, "orbit_correction"),
		.goal = {.present = true, .metric = 0, .reference = 2, .tolerance = 0.1},
		.idempotency_key = "queued-at-the-cut", .body_hash = 5};
	struct itd_receipt rq, ra, rb;
	char msg[160];
	assert_int_equal(itd_engine_submit(a, &held, &rq, msg, sizeof msg), ITD_OK);

	size_t len;
	uint64_t arr_a, arr_b;
	uint8_t *snap = save(a, &len, &arr_a);
	assert_int_equal(arr_a, rq.arrival); /* every input accepted so far */
	assert_int_equal(itd_engine_load(b, snap, len, &arr_b), ITD_OK);
	assert_int_equal(arr_b, arr_a);
	assert_same_engines(a, b);
	/* The key queued at the cut is held in both, by the queued intent. */
	assert_int_equal(itd_engine_submit(a, &held, &ra, msg, sizeof msg), ITD_EEXISTS);
	assert_int_equal(itd_engine_submit(b, &held, &rb, msg, sizeof msg), ITD_EEXISTS);
	assert_string_equal(rb.id, rq.id);
	assert_string_equal(ra.id, rq.id);

	/* Lockstep from the cut: the same inputs, the same everything. */
	oa.hash = ob.hash = 0;
	uint64_t xb = x, full = 0, evicted = itd_engine_intents(a)->n_evicted;
	uint64_t retries = oa.by_kind[ITD_EV_INTENT_RETRY_SCHEDULED];
	for (int t = 0; t < 3000; t++) {
		if (t % 250 == 10)
			full += burst(a, b, s);
		for (int k = 0; k < 3; k++) {
			struct outcome p = one_input(a, s, &x), q = one_input(b, s, &xb);
			assert_int_equal(p.rc, q.rc);
			assert_string_equal(p.r.id, q.r.id);
			assert_int_equal(p.r.seq, q.r.seq);
			assert_int_equal(p.r.received_tick, q.r.received_tick);
			assert_int_equal(p.r.arrival, q.r.arrival);
		}
		assert_int_equal(itd_engine_step(a), ITD_OK);
		assert_int_equal(itd_engine_step(b), ITD_OK);
		assert_int_equal(itd_engine_state_hash(a), itd_engine_state_hash(b));
		assert_int_equal(oa.hash, ob.hash);
		assert_same_engines(a, b);
	}
	/* The run went through what matters: a full table, evictions, retries. */
	assert_true(full > 0);
	assert_true(itd_engine_intents(a)->n_evicted > evicted + 100);
	assert_true(oa.by_kind[ITD_EV_INTENT_RETRY_SCHEDULED] > retries + 10);
	free(snap);
	itd_engine_destroy(a);
	itd_engine_destroy(b);
	itd_scenario_destroy(s);
}

static void test_save_load_save_gives_the_same_bytes(void **state)
{
	(void)state;
	struct itd_scenario *s = scenario();
	struct itd_engine *a = engine(s, 7, NULL), *b = engine(s, 7, NULL);
	uint64_t x = 5;
	for (int t = 0; t <= 900; t++) {
		if (t % 150 == 0) {
			size_t n1, n2;
			uint64_t r1, r2;
			uint8_t *s1 = save(a, &n1, &r1);
			assert_int_equal(itd_engine_load(b, s1, n1, NULL), ITD_OK);
			uint8_t *s2 = save(b, &n2, &r2);
			assert_int_equal(n1, n2);
			assert_int_equal(r1, r2);
			assert_memory_equal(s1, s2, n1);
			free(s1);
			free(s2);
		}
		for (int k = 0; k < 4; k++)
			one_input(a, s, &x);
		if (t % 7)
			assert_int_equal(itd_engine_step(a), ITD_OK);
	}
	itd_engine_destroy(a);
	itd_engine_destroy(b);
	itd_scenario_destroy(s);
}

/* A small state, so every truncation and every byte can be tried. */
static struct itd_scenario *small(void)
{
	static const struct itd_override extra[] = {{"engine.max_intents", "8"},
						    {"engine.intake_capacity", "8"},
						    {"engine.history_per_intent", "4"}};
	return scenario_with(extra, 3);
}

static void assert_unchanged(struct itd_engine *e, const uint8_t *ref, size_t ref_len)
{
	size_t n;
	uint8_t *now = save(e, &n, NULL);
	assert_int_equal(n, ref_len);
	assert_memory_equal(now, ref, n);
	free(now);
}

/* An accepted snapshot leaves an engine that runs, takes input and saves. */
static void exercise(struct itd_engine *e, const struct itd_scenario *s)
{
	uint64_t x = 11;
	for (int t = 0; t < 12; t++) {
		one_input(e, s, &x);
		assert_int_equal(itd_engine_step(e), ITD_OK);
	}
	size_t cap = itd_engine_snapshot_bound(e), n;
	uint8_t *buf = malloc(cap);
	int rc = itd_engine_save(e, buf, cap, &n, NULL);
	assert_true(rc == ITD_OK || rc == ITD_ESTATE);
	free(buf);
}

static void test_damaged_snapshots_are_refused_or_harmless(void **state)
{
	(void)state;
	struct itd_scenario *s = small();
	struct itd_engine *a = engine(s, 3, NULL), *b = engine(s, 3, NULL);
	uint64_t x = 9;
	for (int t = 0; t < 80; t++) {
		one_input(a, s, &x);
		one_input(a, s, &x);
		assert_int_equal(itd_engine_step(a), ITD_OK);
	}
	for (int k = 0; k < 4; k++)
		one_input(a, s, &x);
	size_t len, ref_len;
	uint8_t *snap = save(a, &len, NULL);
	assert_int_equal(itd_engine_load(b, snap, len, NULL), ITD_OK);
	uint8_t *ref = save(b, &ref_len, NULL);

	/* Every truncation is refused and changes nothing. */
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1); /* exactly n bytes: ASan sees over-reads */
		memcpy(cut, snap, n);
		int rc = itd_engine_load(b, cut, n, NULL);
		assert_true(rc == ITD_EINVAL || rc == ITD_EVERIFY);
		free(cut);
	}
	assert_unchanged(b, ref, ref_len);

	/* Every byte changed, in a few ways: refused and nothing changed, or
	 * accepted and the engine still works. */
	static const uint8_t flips[] = {0x01, 0x80, 0xff};
	uint8_t *bad = malloc(len);
	size_t accepted = 0, tried = 0;
	for (size_t i = 0; i < len; i++) {
		for (size_t f = 0; f < sizeof flips; f++) {
			memcpy(bad, snap, len);
			bad[i] ^= flips[f];
			tried++;
			int rc = itd_engine_load(b, bad, len, NULL);
			if (rc) {
				assert_true(rc == ITD_EINVAL || rc == ITD_EVERIFY);
				if (i % 17 == 0)
					assert_unchanged(b, ref, ref_len);
				continue;
			}
			accepted++;
			exercise(b, s);
			assert_int_equal(itd_engine_load(b, snap, len, NULL), ITD_OK);
		}
	}
	/* Random damage over several bytes at once. */
	uint64_t rnd = 77;
	for (int k = 0; k < 3000; k++) {
		memcpy(bad, snap, len);
		for (int j = 0; j < 1 + k % 4; j++) {
			rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
			bad[(rnd >> 20) % len] = (uint8_t)(rnd >> 50);
		}
		if (itd_engine_load(b, bad, len, NULL) == ITD_OK) {
			accepted++;
			exercise(b, s);
			assert_int_equal(itd_engine_load(b, snap, len, NULL), ITD_OK);
		}
	}
	assert_unchanged(b, ref, ref_len);
	/* Counters and doubles take any value: some damage is accepted. */
	assert_true(accepted > 0 && accepted < tried);
	free(bad);
	free(ref);
	free(snap);
	itd_engine_destroy(a);
	itd_engine_destroy(b);
	itd_scenario_destroy(s);
}

static void test_a_snapshot_of_another_scenario_is_refused(void **state)
{
	(void)state;
	struct itd_scenario *s = scenario();
	static const struct itd_override limit[] = {{"engine.max_intents", "49"}};
	static const struct itd_override constant[] = {{"constants.power_draw", "0.7"}};
	static const struct itd_override initial[] = {{"state.battery.initial", "60"}};
	struct itd_scenario *others[] = {scenario_with(limit, 1), scenario_with(constant, 1),
					 scenario_with(initial, 1)};
	struct itd_engine *a = engine(s, 7, NULL);
	uint64_t x = 1;
	for (int t = 0; t < 50; t++) {
		one_input(a, s, &x);
		assert_int_equal(itd_engine_step(a), ITD_OK);
	}
	size_t len;
	uint8_t *snap = save(a, &len, NULL);
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		struct itd_engine *o = engine(others[i], 7, NULL);
		assert_int_equal(itd_engine_step(o), ITD_OK);
		size_t ref_len;
		uint8_t *ref = save(o, &ref_len, NULL);
		assert_int_equal(itd_engine_load(o, snap, len, NULL), ITD_EVERIFY);
		assert_int_equal(itd_engine_tick(o), 1);
		assert_unchanged(o, ref, ref_len);
		/* And the other way round. */
		struct itd_engine *fresh = engine(s, 7, NULL);
		assert_int_equal(itd_engine_load(fresh, ref, ref_len, NULL), ITD_EVERIFY);
		assert_int_equal(itd_engine_tick(fresh), 0);
		itd_engine_destroy(fresh);
		free(ref);
		itd_engine_destroy(o);
		itd_scenario_destroy(others[i]);
	}
	/* Another format version is refused as such; a wrong magic is not a snapshot. */
	snap[8] ^= 1;
	assert_int_equal(itd_engine_load(a, snap, len, NULL), ITD_EVERIFY);
	snap[8] ^= 1;
	snap[0] ^= 1;
	assert_int_equal(itd_engine_load(a, snap, len, NULL), ITD_EINVAL);
	free(snap);
	itd_engine_destroy(a);
	itd_scenario_destroy(s);
}

/* Run n ticks of the input stream from seed x, recording each tick's hash. */
static void run_recording(struct itd_engine *e, const struct itd_scenario *s, uint64_t x,
			  uint64_t *hashes, int n)
{
	for (int t = 0; t < n; t++) {
		for (int k = 0; k < 3; k++)
			one_input(e, s, &x);
		assert_int_equal(itd_engine_step(e), ITD_OK);
		hashes[t] = itd_engine_state_hash(e);
	}
}

static void test_reset_gives_back_a_fresh_engine(void **state)
{
	(void)state;
	enum { N = 800 };
	struct itd_scenario *s = scenario();
	struct seen o = {0};
	struct itd_observer obs = {.event = on_event, .ctx = &o};
	struct itd_engine *a = engine(s, 7, &obs), *fresh = engine(s, 7, NULL);
	size_t fresh_len;
	uint8_t *fresh_snap = save(fresh, &fresh_len, NULL);
	uint64_t *h1 = calloc(N, sizeof *h1), *h2 = calloc(N, sizeof *h2);
	run_recording(a, s, 3, h1, N);
	itd_engine_console(a, ITD_CONSOLE_PAUSE, NULL, NULL, NULL);
	assert_int_equal(itd_engine_step(a), ITD_OK);
	assert_true(itd_engine_paused(a));

	itd_engine_reset(a, 7);
	assert_false(itd_engine_paused(a));
	assert_int_equal(itd_engine_state_hash(a), itd_engine_state_hash(fresh));
	assert_same_engines(a, fresh);
	assert_unchanged(a, fresh_snap, fresh_len); /* every byte of state, RNG included */
	run_recording(a, s, 3, h2, N);
	assert_memory_equal(h1, h2, N * sizeof *h1);
	/* The observer stayed: it saw the second run too. */
	assert_true(o.by_kind[ITD_EV_ENGINE_TICK] == 2 * N + 1);
	run_recording(fresh, s, 3, h2, N);
	assert_memory_equal(h1, h2, N * sizeof *h1);
	assert_same_engines(a, fresh);
	free(h1);
	free(h2);
	free(fresh_snap);
	itd_engine_destroy(a);
	itd_engine_destroy(fresh);
	itd_scenario_destroy(s);
}

static void test_save_never_allocates_and_load_survives_allocation_failures(void **state)
{
	(void)state;
	struct itd_scenario *s = scenario();
	struct itd_engine *a = engine(s, 7, NULL), *b = engine(s, 7, NULL);
	uint64_t x = 8;
	for (int t = 0; t < 300; t++) {
		one_input(a, s, &x);
		one_input(a, s, &x);
		assert_int_equal(itd_engine_step(a), ITD_OK);
	}
	one_input(a, s, &x);
	size_t cap = itd_engine_snapshot_bound(a), len, ref_len;
	uint8_t *buf = malloc(cap);
	itd_alloc_fail_at(1); /* any allocation would fail */
	assert_int_equal(itd_engine_save(a, buf, cap, &len, NULL), ITD_OK);
	assert_int_equal(itd_alloc_count(), 0);
	assert_false(itd_alloc_failed());
	itd_alloc_fail_at(0);
	/* Too little room is said so, never overrun (ASan watches the end). */
	size_t small_len;
	uint8_t *tight = malloc(len - 1);
	assert_int_equal(itd_engine_save(a, tight, len - 1, &small_len, NULL), ITD_ELIMIT);
	assert_int_equal(small_len, 0);
	free(tight);
	assert_true(len <= cap);

	uint8_t *ref = save(b, &ref_len, NULL);
	for (long n = 1;; n++) {
		itd_alloc_fail_at(n);
		int rc = itd_engine_load(b, buf, len, NULL);
		bool fired = itd_alloc_failed();
		itd_alloc_fail_at(0);
		if (!fired) {
			assert_int_equal(rc, ITD_OK);
			break;
		}
		assert_int_equal(rc, ITD_ENOMEM);
		assert_unchanged(b, ref, ref_len);
	}
	assert_same_engines(a, b);
	free(ref);
	free(buf);
	itd_engine_destroy(a);
	itd_engine_destroy(b);
	itd_scenario_destroy(s);
}

/* A journal as a store keeps it: every input, every tick's record. */
struct journal {
	struct {
		uint64_t arrival;
		uint8_t data[2048];
		size_t len;
	} in[4096];
	size_t n_in;
	struct {
		uint64_t tick, last_arrival, hash, auto_seqs[8];
		size_t n_auto;
	} ticks[1024];
	size_t n_ticks;
};

static int j_input(void *ctx, const struct itd_journal_info *info, const void *data, size_t len,
		   uint64_t *ticket)
{
	uint64_t arrival = info->arrival;
	struct journal *j = ctx;
	assert_true(j->n_in < 4096 && len <= 2048);
	j->in[j->n_in].arrival = arrival;
	memcpy(j->in[j->n_in].data, data, len);
	j->in[j->n_in++].len = len;
	*ticket = arrival;
	return ITD_OK;
}

static void j_tick(void *ctx, uint64_t tick, uint64_t last_arrival, uint64_t hash,
		   const uint64_t *auto_seqs, size_t n_auto)
{
	struct journal *j = ctx;
	assert_true(j->n_ticks < 1024 && n_auto <= 8);
	j->ticks[j->n_ticks].tick = tick;
	j->ticks[j->n_ticks].last_arrival = last_arrival;
	j->ticks[j->n_ticks].hash = hash;
	memcpy(j->ticks[j->n_ticks].auto_seqs, auto_seqs, n_auto * sizeof *auto_seqs);
	j->ticks[j->n_ticks++].n_auto = n_auto;
}

static void test_a_store_replays_only_the_journal_after_the_snapshot(void **state)
{
	(void)state;
	struct itd_scenario *s = scenario();
	struct journal *j = calloc(1, sizeof *j);
	struct itd_journal_hooks h = {.input = j_input, .tick = j_tick, .ctx = j};
	struct itd_engine *a = engine(s, 7, NULL);
	itd_engine_set_journal(a, &h);
	uint64_t x = 21, cut = 0, cut_tick = 0;
	uint8_t *snap = NULL;
	size_t len = 0;
	for (int t = 0; t < 700; t++) {
		for (int k = 0; k < 2; k++)
			one_input(a, s, &x);
		if (t == 450) { /* between ticks, with inputs queued on both sides of the cut */
			snap = save(a, &len, &cut);
			cut_tick = itd_engine_tick(a);
			for (int k = 0; k < 3; k++)
				one_input(a, s, &x);
		}
		assert_int_equal(itd_engine_step(a), ITD_OK);
	}
	assert_true(cut > 0 && cut < j->in[j->n_in - 1].arrival);

	struct itd_engine *b = engine(s, 7, NULL);
	uint64_t arrivals;
	assert_int_equal(itd_engine_load(b, snap, len, &arrivals), ITD_OK);
	assert_int_equal(arrivals, cut);
	size_t next = 0;
	while (j->in[next].arrival <= cut)
		next++;
	size_t replayed = 0;
	for (size_t t = 0; t < j->n_ticks; t++) {
		if (j->ticks[t].tick <= cut_tick)
			continue;
		while (next < j->n_in && j->in[next].arrival <= j->ticks[t].last_arrival) {
			const uint8_t *data = j->in[next].data;
			assert_int_equal(itd_engine_replay_input(b, data, j->in[next].len), ITD_OK);
			next++;
		}
		const uint64_t *seqs = j->ticks[t].auto_seqs;
		assert_int_equal(itd_engine_replay_seqs(b, seqs, j->ticks[t].n_auto), ITD_OK);
		assert_int_equal(itd_engine_step(b), ITD_OK);
		assert_int_equal(itd_engine_state_hash(b), j->ticks[t].hash);
		replayed++;
	}
	assert_int_equal(replayed, 700 - cut_tick);
	assert_same_engines(a, b);
	free(snap);
	free(j);
	itd_engine_destroy(a);
	itd_engine_destroy(b);
	itd_scenario_destroy(s);
}

static void test_a_string_the_snapshot_cannot_name_is_refused_at_save(void **state)
{
	(void)state;
	/* A free-form string field assigned a literal that is none of the
	 * scenario's strings: it lives in the compiled expression only. */
	struct itd_scenario *s = fixture_text(
		"scenario: tags\n"
		"state:\n"
		"  n: { type: number, initial: 0 }\n"
		"  label: { type: string, initial: start }\n"
		"dynamics:\n"
		"  - { set: n, to: state.n + 1 }\n"
		"  - { set: label, to: \"if(state.n > 1, 'late', 'start')\" }\n"
		"intent_types:\n"
		"  idle: { score: 1 }\n");
	struct itd_engine *e = engine(s, 1, NULL);
	size_t cap = itd_engine_snapshot_bound(e), len;
	uint8_t *buf = malloc(cap);
	assert_int_equal(itd_engine_step(e), ITD_OK);
	assert_int_equal(itd_engine_save(e, buf, cap, &len, NULL), ITD_OK); /* "start" */
	assert_int_equal(itd_engine_step(e), ITD_OK);
	assert_int_equal(itd_engine_step(e), ITD_OK);
	assert_string_equal(itd_engine_state(e)[1].str, "late");
	assert_int_equal(itd_engine_save(e, buf, cap, &len, NULL), ITD_ESTATE);
	assert_int_equal(len, 0);
	free(buf);
	itd_engine_destroy(e);
	itd_scenario_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_loaded_engine_runs_on_exactly_like_the_original),
		cmocka_unit_test(test_save_load_save_gives_the_same_bytes),
		cmocka_unit_test(test_damaged_snapshots_are_refused_or_harmless),
		cmocka_unit_test(test_a_snapshot_of_another_scenario_is_refused),
		cmocka_unit_test(test_reset_gives_back_a_fresh_engine),
		cmocka_unit_test(test_save_never_allocates_and_load_survives_allocation_failures),
		cmocka_unit_test(test_a_store_replays_only_the_journal_after_the_snapshot),
		cmocka_unit_test(test_a_string_the_snapshot_cannot_name_is_refused_at_save),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
