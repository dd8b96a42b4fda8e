/* test_engine_replay.c: a run recorded through the journal hooks replays
 * exactly on a fresh engine: the same state hash at every tick and the same
 * intents with the same ids, even when a submitter thread raced the tick
 * (ids reserved on one thread, taken by autonomy on another). */
#include <pthread.h>
#include <string.h>

#include "engine/engine.h"
#include "scenario_fixture.h"

#define MAX_INPUTS 20000
#define MAX_TICKS 4000
#define MAX_AUTO 8

struct rec_input {
	uint64_t arrival;   /* as journaled */
	uint8_t *data;      /* encoding (malloc'd) */
	size_t len;
};

struct rec_tick {
	uint64_t tick, last_arrival, hash;
	double state[3];        /* position, battery, temperature (diagnosis) */
	char mode[16];
	uint64_t n_intents, n_active;
	uint64_t auto_seqs[MAX_AUTO];
	size_t n_auto;
};

struct journal {
	struct rec_input *in;   /* MAX_INPUTS */
	size_t n_in;
	struct rec_tick *ticks; /* MAX_TICKS */
	size_t n_ticks;
	uint64_t next_ticket;
	int refuse_next;        /* refuse this many inputs (a failing store) */
	const struct itd_engine *engine; /* the recorded engine (for diagnosis) */
};

static int j_input(void *ctx, const struct itd_journal_info *info, const void *data, size_t len,
		   uint64_t *ticket)
{
	uint64_t arrival = info->arrival;
	struct journal *j = ctx;
	if (j->refuse_next) {
		j->refuse_next--;
		return ITD_EIO;
	}
	assert_true(j->n_in < MAX_INPUTS);
	if (j->n_in)
		assert_true(arrival > j->in[j->n_in - 1].arrival); /* arrival order */
	struct rec_input *r = &j->in[j->n_in++];
	r->arrival = arrival;
	r->data = malloc(len);
	memcpy(r->data, data, len);
	r->len = len;
	*ticket = ++j->next_ticket;
	return ITD_OK;
}

static void j_tick(void *ctx, uint64_t tick, uint64_t last_arrival, uint64_t hash,
		   const uint64_t *auto_seqs, size_t n_auto)
{
	struct journal *j = ctx;
	assert_true(j->n_ticks < MAX_TICKS && n_auto <= MAX_AUTO);
	struct rec_tick *t = &j->ticks[j->n_ticks++];
	t->tick = tick;
	t->last_arrival = last_arrival;
	t->hash = hash;
	memcpy(t->auto_seqs, auto_seqs, n_auto * sizeof *auto_seqs);
	t->n_auto = n_auto;
	if (j->engine) {
		const struct itd_value *st = itd_engine_state(j->engine);
		for (int i = 0; i < 3; i++)
			t->state[i] = st[i].num;
		snprintf(t->mode, sizeof t->mode, "%s", itd_engine_mode(j->engine));
		t->n_intents = itd_engine_intents_c(j->engine)->n;
		t->n_active = itd_engine_intents_c(j->engine)->n_active;
	}
}

static struct journal *journal_new(void)
{
	struct journal *j = calloc(1, sizeof *j);
	j->in = calloc(MAX_INPUTS, sizeof *j->in);
	j->ticks = calloc(MAX_TICKS, sizeof *j->ticks);
	return j;
}

static void journal_free(struct journal *j)
{
	for (size_t i = 0; i < j->n_in; i++)
		free(j->in[i].data);
	free(j->in);
	free(j->ticks);
	free(j);
}

static struct itd_scenario *scenario(void)
{
	static const struct itd_override ovr[] = {{"engine.max_intents", "256"},
						  {"engine.intake_capacity", "4096"}};
	return fixture_builtin("spacecraft", ovr, 2);
}

/* A varied input from a small deterministic generator. */
static void one_input(struct itd_engine *e, const struct itd_scenario *s, uint64_t *x)
{
	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	uint64_t r = *x >> 33;
	char msg[160], id[32];
	struct itd_receipt rc;
	switch (r % 8) {
	case 0:
	case 1:
	case 2: {
		char key[16];
		snprintf(key, sizeof key, "k%llu", (unsigned long long)(r % 50));
		struct itd_submission sub = {
			.type = (uint32_t)itd_scenario_type(s, "orbit_correction"),
			.goal = {.present = true, .metric = 0,
				 .reference = (double)(r % 7), .tolerance = 0.1},
			.priority = (double)(r % 3), .deadline_ticks = r % 4 ? 0 : 30,
			.idempotency_key = r % 5 ? NULL : key, .body_hash = r % 7,
			.actor = "op"};
		itd_engine_submit(e, &sub, &rc, msg, sizeof msg);
		break;
	}
	case 3:
		snprintf(id, sizeof id, "i-%06llu", (unsigned long long)(r % 40 + 1));
		itd_engine_cancel(e, id, r % 2 ? "operator" : "changed plans", "op", NULL);
		break;
	case 4:
		itd_engine_set_field(e, (uint32_t)itd_scenario_field(s, "battery"),
				     (struct itd_value){.type = ITD_T_NUM, .num = (double)(r % 60)},
				     "tester", NULL);
		break;
	case 5:
		itd_engine_set_field(e, (uint32_t)itd_scenario_field(s, "temperature"),
				     (struct itd_value){.type = ITD_T_NUM,
							.num = 90.0 + (double)(r % 70)},
				     "tester", NULL);
		break;
	case 6:
		itd_engine_console(e, ITD_CONSOLE_NOTE, "a note", "root", NULL);
		break;
	default:
		break; /* a quiet tick */
	}
}

/* Replay journal j on a fresh engine and compare with the original. */
static void replay_and_compare(const struct itd_scenario *s, struct journal *j,
			       struct itd_engine *orig)
{
	struct itd_engine *e;
	struct itd_engine_config cfg = {.scn = s, .seed = 1};
	assert_int_equal(itd_engine_create(&cfg, &e), ITD_OK);
	size_t next = 0;
	for (size_t t = 0; t < j->n_ticks; t++) {
		const struct rec_tick *tk = &j->ticks[t];
		while (next < j->n_in && j->in[next].arrival <= tk->last_arrival) {
			assert_int_equal(itd_engine_replay_input(e, j->in[next].data, j->in[next].len),
					 ITD_OK);
			next++;
		}
		assert_int_equal(itd_engine_replay_seqs(e, tk->auto_seqs, tk->n_auto), ITD_OK);
		assert_int_equal(itd_engine_step(e), ITD_OK);
		if (itd_engine_state_hash(e) != tk->hash) {
			const struct itd_value *st = itd_engine_state(e);
			fail_msg("replay diverged at tick %llu: recorded %g %g %g %s %llu/%llu, "
				 "replayed %g %g %g %s %llu/%llu",
				 (unsigned long long)tk->tick, tk->state[0], tk->state[1], tk->state[2],
				 tk->mode, (unsigned long long)tk->n_intents,
				 (unsigned long long)tk->n_active, st[0].num, st[1].num, st[2].num,
				 itd_engine_mode(e), (unsigned long long)itd_engine_intents_c(e)->n,
				 (unsigned long long)itd_engine_intents_c(e)->n_active);
		}
	}
	/* The same intents, with the same ids, in the same states. */
	const struct itd_intents *a = itd_engine_intents_c(orig), *b = itd_engine_intents_c(e);
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->n_active, b->n_active);
	for (uint64_t q = 1; q <= a->next_seq; q++) {
		const struct itd_intent *x = itd_intents_at((struct itd_intents *)a, q);
		const struct itd_intent *y = itd_intents_at((struct itd_intents *)b, q);
		if (!x) {
			assert_null(y);
			continue;
		}
		assert_non_null(y);
		assert_int_equal(x->type, y->type);
		assert_int_equal(x->status, y->status);
		assert_int_equal(x->executions, y->executions);
		assert_int_equal(x->blocked_ticks, y->blocked_ticks);
		assert_int_equal(x->created_tick, y->created_tick);
		assert_string_equal(x->actor, y->actor);
	}
	itd_engine_destroy(e);
}

/* An engine whose inputs and ticks go to journal j. */
static struct itd_engine *recording(const struct itd_scenario *s, struct journal *j)
{
	struct itd_journal_hooks h = {.input = j_input, .tick = j_tick, .ctx = j};
	struct itd_engine_config cfg = {.scn = s, .seed = 1};
	struct itd_engine *e;
	assert_int_equal(itd_engine_create(&cfg, &e), ITD_OK);
	itd_engine_set_journal(e, &h);
	j->engine = e;
	return e;
}

static void test_single_thread_replay_is_exact(void **state)
{
	(void)state;
	struct itd_scenario *s = scenario();
	struct journal *j = journal_new();
	struct itd_engine *e = recording(s, j);
	uint64_t x = 42;
	for (int t = 0; t < 1500; t++) {
		for (int k = 0; k < 3; k++)
			one_input(e, s, &x);
		assert_int_equal(itd_engine_step(e), ITD_OK);
	}
	assert_true(j->n_in > 1000);
	size_t autos = 0;
	for (size_t t = 0; t < j->n_ticks; t++)
		autos += j->ticks[t].n_auto;
	assert_true(autos > 5); /* autonomy and overrides took ids too */
	replay_and_compare(s, j, e);
	itd_engine_destroy(e);
	journal_free(j);
	itd_scenario_destroy(s);
}

struct racer {
	struct itd_engine *e;
	const struct itd_scenario *s;
	int stop;   /* __atomic */
};

static void *race_inputs(void *arg)
{
	struct racer *r = arg;
	uint64_t x = 7;
	for (int i = 0; i < 6000 && !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE); i++)
		one_input(r->e, r->s, &x);
	return NULL;
}

static void test_replay_is_exact_when_a_submitter_races_the_tick(void **state)
{
	(void)state;
	struct itd_scenario *s = scenario();
	struct journal *j = journal_new();
	struct itd_engine *e = recording(s, j);
	struct racer r = {.e = e, .s = s};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, race_inputs, &r), 0);
	for (int t = 0; t < 3000; t++)
		assert_int_equal(itd_engine_step(e), ITD_OK);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	replay_and_compare(s, j, e);
	itd_engine_destroy(e);
	journal_free(j);
	itd_scenario_destroy(s);
}

static void test_a_refusing_journal_refuses_the_input(void **state)
{
	(void)state;
	struct itd_scenario *s = scenario();
	struct journal *j = journal_new();
	struct itd_engine *e = recording(s, j);
	struct itd_submission sub = {
		.type = (uint32_t)itd_scenario_type(s, "orbit_correction"),
		.goal = {.present = true, .metric = 0, .reference = 3, .tolerance = 0.1},
		.idempotency_key = "once", .body_hash = 1};
	struct itd_receipt rc;
	char msg[160];
	j->refuse_next = 1;
	assert_int_equal(itd_engine_submit(e, &sub, &rc, msg, sizeof msg), ITD_EIO);
	assert_non_null(strstr(msg, "journal"));
	/* Nothing was taken: not the id, not the key, not the queue slot. */
	assert_int_equal(itd_engine_submit(e, &sub, &rc, msg, sizeof msg), ITD_OK);
	assert_string_equal(rc.id, "i-000001");
	assert_int_equal(rc.arrival, 1);
	assert_int_equal(rc.ticket, 1);
	j->refuse_next = 1;
	assert_int_equal(itd_engine_cancel(e, "i-000001", "operator", NULL, NULL), ITD_EIO);
	assert_int_equal(itd_engine_step(e), ITD_OK);
	/* The refused cancel never reached the tick: still active. */
	assert_false(itd_status_terminal(
		itd_intents_get(itd_engine_intents(e), "i-000001")->status));
	itd_engine_destroy(e);
	journal_free(j);
	itd_scenario_destroy(s);
}

static void test_damaged_encodings_are_refused(void **state)
{
	(void)state;
	struct itd_scenario *s = scenario();
	struct journal *j = journal_new();
	struct itd_engine *e = recording(s, j), *f;
	struct itd_engine_config cfg = {.scn = s, .seed = 1};
	assert_int_equal(itd_engine_create(&cfg, &f), ITD_OK);
	uint64_t x = 3;
	for (int k = 0; k < 60; k++)
		one_input(e, s, &x);
	assert_true(j->n_in > 20);
	for (size_t i = 0; i < j->n_in; i++) {
		struct rec_input *r = &j->in[i];
		uint8_t bad[4096];
		memcpy(bad, r->data, r->len);
		/* Truncated, extended, wrong version: never accepted. */
		assert_int_equal(itd_engine_replay_input(f, bad, r->len - 1), ITD_EINVAL);
		bad[r->len] = 0;
		assert_int_equal(itd_engine_replay_input(f, bad, r->len + 1), ITD_EINVAL);
		bad[0] ^= 0x40;
		assert_int_equal(itd_engine_replay_input(f, bad, r->len), ITD_EINVAL);
	}
	/* And out of arrival order is refused too. */
	assert_int_equal(itd_engine_replay_input(f, j->in[1].data, j->in[1].len), ITD_OK);
	assert_int_equal(itd_engine_replay_input(f, j->in[0].data, j->in[0].len), ITD_EINVAL);
	itd_engine_destroy(e);
	itd_engine_destroy(f);
	journal_free(j);
	itd_scenario_destroy(s);
}

/* A crash can lose tick T after the inputs it took and those accepted
 * while it ran (promised to T + 1) were durable: a full queue for T and
 * another for T + 1.  Recovery queues both, and each input is still
 * created at the tick its receipt named. */
static void test_recovery_holds_two_full_queues(void **state)
{
	(void)state;
	static const struct itd_override ovr[] = {{"engine.max_intents", "256"},
						  {"engine.intake_capacity", "16"}};
	struct itd_scenario *s = fixture_builtin("spacecraft", ovr, 2);
	struct journal *j = journal_new();
	struct itd_engine *e = recording(s, j);
	struct itd_submission sub = {
		.type = (uint32_t)itd_scenario_type(s, "orbit_correction"),
		.goal = {.present = true, .metric = 0, .reference = 1, .tolerance = 0.1},
		.actor = "op"};
	struct itd_receipt rc;
	char msg[160], ids[32][ITD_ID_LEN];
	for (int i = 0; i < 16; i++) {
		assert_int_equal(itd_engine_submit(e, &sub, &rc, msg, sizeof msg), ITD_OK);
		assert_int_equal(rc.received_tick, 1);
		memcpy(ids[i], rc.id, sizeof ids[i]);
	}
	assert_int_equal(itd_engine_submit(e, &sub, &rc, msg, sizeof msg), ITD_EFULL);
	assert_int_equal(itd_engine_step(e), ITD_OK); /* tick 1: the one lost */
	for (int i = 16; i < 32; i++) {
		assert_int_equal(itd_engine_submit(e, &sub, &rc, msg, sizeof msg), ITD_OK);
		assert_int_equal(rc.received_tick, 2);
		memcpy(ids[i], rc.id, sizeof ids[i]);
	}
	assert_int_equal(j->n_in, 32);

	/* Recovery from nothing: tick 1 never became durable. */
	struct itd_engine_config cfg = {.scn = s, .seed = 1};
	struct itd_engine *f;
	assert_int_equal(itd_engine_create(&cfg, &f), ITD_OK);
	for (size_t i = 0; i < j->n_in; i++)
		assert_int_equal(itd_engine_replay_input(f, j->in[i].data, j->in[i].len), ITD_OK);
	/* Live intake still stops at the capacity. */
	assert_int_equal(itd_engine_submit(f, &sub, &rc, msg, sizeof msg), ITD_EFULL);
	assert_int_equal(itd_engine_step(f), ITD_OK);
	assert_int_equal(itd_engine_step(f), ITD_OK);
	for (int i = 0; i < 32; i++) {
		const struct itd_intent *in = itd_intents_get(itd_engine_intents(f), ids[i]);
		if (!in)
			fail_msg("%s missing after the recovery", ids[i]);
		assert_int_equal(in->created_tick, i < 16 ? 1 : 2);
	}
	itd_engine_destroy(f);
	itd_engine_destroy(e);
	journal_free(j);
	itd_scenario_destroy(s);
}

/* The engine's events, for the timing test. */
struct timing_seen {
	int slips;              /* engine.slip events */
	uint64_t slip_n;        /* the last one's ticks late */
	int64_t tick_ms;        /* the last engine.tick's time */
};

static void timing_event(void *ctx, const struct itd_engine *e, const struct itd_event *ev)
{
	struct timing_seen *t = ctx;
	if (ev->kind == ITD_EV_ENGINE_SLIP) {
		t->slips++;
		t->slip_n = ev->n;
	} else if (ev->kind == ITD_EV_ENGINE_TICK) {
		t->tick_ms = itd_engine_now_ms(e);
	}
}

/* A replayed tick runs at the time its record names and reports the slip
 * it had, so its events are the ones first reported; the next tick, given
 * nothing, runs on the clock again, on time. */
static void test_replay_restores_a_ticks_time_and_slip(void **state)
{
	(void)state;
	struct itd_scenario *s = scenario();
	struct timing_seen seen = {0};
	struct itd_observer obs = {.event = timing_event, .ctx = &seen};
	struct itd_engine_config cfg = {.scn = s, .seed = 1, .rate_hz = 10, .obs = &obs};
	struct itd_engine *e;
	assert_int_equal(itd_engine_create(&cfg, &e), ITD_OK);
	itd_engine_replay_timing(e, 1700000000123, 250000000); /* 2.5 periods late */
	assert_int_equal(itd_engine_step(e), ITD_OK);
	assert_int_equal(itd_engine_now_ms(e), 1700000000123);
	assert_int_equal(seen.tick_ms, 1700000000123);
	assert_int_equal(seen.slips, 1);
	assert_int_equal(seen.slip_n, 2);
	assert_int_equal(itd_engine_tick_slip_ns(e), 250000000);
	struct itd_engine_stats st;
	itd_engine_stats(e, &st);
	assert_int_equal(st.slips, 1);
	assert_int_equal(itd_engine_step(e), ITD_OK);
	assert_true(itd_engine_now_ms(e) != 1700000000123);
	assert_int_equal(seen.slips, 1);
	assert_int_equal(itd_engine_tick_slip_ns(e), 0);
	/* INT64_MIN: the clock's time, even with a slip. */
	itd_engine_replay_timing(e, INT64_MIN, 300000000);
	assert_int_equal(itd_engine_step(e), ITD_OK);
	assert_int_equal(seen.slips, 2);
	assert_int_equal(seen.slip_n, 3);
	assert_true(itd_engine_now_ms(e) != 1700000000123);
	itd_engine_destroy(e);
	itd_scenario_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_thread_replay_is_exact),
		cmocka_unit_test(test_replay_is_exact_when_a_submitter_races_the_tick),
		cmocka_unit_test(test_a_refusing_journal_refuses_the_input),
		cmocka_unit_test(test_damaged_encodings_are_refused),
		cmocka_unit_test(test_replay_restores_a_ticks_time_and_slip),
		cmocka_unit_test(test_recovery_holds_two_full_queues),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
