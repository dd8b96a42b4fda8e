/* test_engine_intake.c: what a submitter is promised: an id at once, the
 * exact tick that applies it, idempotency before and after that tick, room
 * reserved so an accepted intent is never refused later, and no loss or
 * duplicate under concurrent submitters while the loop ticks. */
#include <pthread.h>
#include <string.h>

#include "engine/engine.h"
#include "scenario_fixture.h"

static struct itd_scenario *calm(const char *max_intents, const char *intake)
{
	struct itd_override ovr[] = {{"engine.max_intents", max_intents},
				     {"engine.intake_capacity", intake},
				     {"intents", "[]"},
				     {"state.battery.initial", "80"},
				     {"state.temperature.initial", "25"},
				     {"state.position.initial", "-50"}};
	return fixture_builtin("spacecraft", ovr, 6);
}

static struct itd_submission orbit(const struct itd_scenario *s, const char *key, double ref)
{
	struct itd_submission sub = {
		.type = (uint32_t)itd_scenario_type(s, "orbit_correction"),
		.goal = {.present = true, .metric = 0, .reference = ref, .tolerance = 0.1},
		.idempotency_key = key, .body_hash = (uint64_t)(ref * 1000)};
	return sub;
}

static void test_receipt_and_idempotency(void **state)
{
	(void)state;
	struct itd_scenario *s = calm("64", "64");
	struct itd_engine *e;
	struct itd_engine_config cfg = {.scn = s, .seed = 1};
	assert_int_equal(itd_engine_create(&cfg, &e), ITD_OK);
	struct itd_receipt r, again;
	char msg[160];
	struct itd_submission a = orbit(s, "op-1", 3);
	assert_int_equal(itd_engine_submit(e, &a, &r, msg, sizeof msg), ITD_OK);
	assert_string_equal(r.id, "i-000001");
	assert_int_equal(r.received_tick, 1);
	/* The same body again, before it is applied: the original. */
	assert_int_equal(itd_engine_submit(e, &a, &again, msg, sizeof msg), ITD_EEXISTS);
	assert_string_equal(again.id, "i-000001");
	struct itd_submission b = orbit(s, "op-1", 4);
	assert_int_equal(itd_engine_submit(e, &b, &again, msg, sizeof msg), ITD_ECONFLICT);
	assert_string_equal(again.id, "i-000001");
	assert_non_null(strstr(msg, "i-000001"));

	assert_int_equal(itd_engine_step(e), ITD_OK);
	struct itd_intents *t = itd_engine_intents(e);
	assert_int_equal(t->n, 1);
	assert_non_null(itd_intents_get(t, "i-000001"));
	/* After it is applied: still the original, still a conflict. */
	assert_int_equal(itd_engine_submit(e, &a, &again, msg, sizeof msg), ITD_EEXISTS);
	assert_string_equal(again.id, "i-000001");
	assert_int_equal(itd_engine_submit(e, &b, &again, msg, sizeof msg), ITD_ECONFLICT);
	/* Submissions now apply at tick 2. */
	struct itd_submission c = orbit(s, NULL, 5);
	assert_int_equal(itd_engine_submit(e, &c, &r, msg, sizeof msg), ITD_OK);
	assert_string_equal(r.id, "i-000002");
	assert_int_equal(r.received_tick, 2);
	assert_int_equal(itd_engine_step(e), ITD_OK);
	assert_int_equal(itd_intents_get(t, "i-000002")->created_tick, 2);
	assert_int_equal(t->n, 2);
	itd_engine_destroy(e);
	itd_scenario_destroy(s);
}

static void test_room_is_reserved_at_submission(void **state)
{
	(void)state;
	/* Four records; the out-of-bounds orbit intents stay active forever. */
	struct itd_scenario *s = calm("4", "64");
	struct itd_engine *e;
	struct itd_engine_config cfg = {.scn = s, .seed = 1};
	assert_int_equal(itd_engine_create(&cfg, &e), ITD_OK);
	struct itd_receipt r;
	char msg[160];
	struct itd_submission a = orbit(s, NULL, 3);
	for (int i = 0; i < 4; i++)
		assert_int_equal(itd_engine_submit(e, &a, &r, msg, sizeof msg), ITD_OK);
	assert_int_equal(itd_engine_submit(e, &a, &r, msg, sizeof msg), ITD_EFULL);
	assert_non_null(strstr(msg, "max_intents"));
	assert_int_equal(itd_engine_run(e, 3, NULL), ITD_OK);
	assert_int_equal(itd_engine_intents(e)->n, 4);
	assert_int_equal(itd_engine_intents(e)->n_rejected, 0);
	/* Cancelling one makes room for one more. */
	assert_int_equal(itd_engine_cancel(e, "i-000002", "operator", "alice", NULL), ITD_OK);
	assert_int_equal(itd_engine_step(e), ITD_OK);
	assert_int_equal(itd_engine_submit(e, &a, &r, msg, sizeof msg), ITD_OK);
	assert_string_equal(r.id, "i-000005");
	assert_int_equal(itd_engine_step(e), ITD_OK);
	assert_non_null(itd_intents_get(itd_engine_intents(e), "i-000005"));
	itd_engine_destroy(e);
	itd_scenario_destroy(s);
}

#define N_THREADS 4
#define PER_THREAD 3000

struct submitter {
	struct itd_engine *e;
	const struct itd_scenario *s;
	uint64_t seqs[PER_THREAD];
	int n_ok, n_full;
};

static void *submit_many(void *arg)
{
	struct submitter *sb = arg;
	char msg[160];
	for (int i = 0; i < PER_THREAD;) {
		struct itd_submission a = orbit(sb->s, NULL, 3);
		struct itd_receipt r;
		int rc = itd_engine_submit(sb->e, &a, &r, msg, sizeof msg);
		if (rc == ITD_EFULL) {
			sb->n_full++; /* the queue is full until the next tick: retry */
			continue;
		}
		assert_int_equal(rc, ITD_OK);
		sb->seqs[i++] = r.seq;
		sb->n_ok++;
	}
	return NULL;
}

static int stop_ticking; /* read and written with __atomic builtins */

static void *tick_loop(void *arg)
{
	struct itd_engine *e = arg;
	while (!__atomic_load_n(&stop_ticking, __ATOMIC_ACQUIRE))
		itd_engine_step(e);
	return NULL;
}

static void test_concurrent_submitters_lose_nothing(void **state)
{
	(void)state;
	struct itd_scenario *s = calm("20000", "256");
	struct itd_engine *e;
	struct itd_engine_config cfg = {.scn = s, .seed = 1};
	assert_int_equal(itd_engine_create(&cfg, &e), ITD_OK);
	pthread_t ticker, th[N_THREADS];
	struct submitter *sb = calloc(N_THREADS, sizeof *sb);
	__atomic_store_n(&stop_ticking, 0, __ATOMIC_RELEASE);
	assert_int_equal(pthread_create(&ticker, NULL, tick_loop, e), 0);
	for (int i = 0; i < N_THREADS; i++) {
		sb[i] = (struct submitter){.e = e, .s = s};
		assert_int_equal(pthread_create(&th[i], NULL, submit_many, &sb[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);
	__atomic_store_n(&stop_ticking, 1, __ATOMIC_RELEASE);
	pthread_join(ticker, NULL);
	assert_int_equal(itd_engine_step(e), ITD_OK); /* apply the last queued */

	struct itd_intents *t = itd_engine_intents(e);
	assert_int_equal(t->n, N_THREADS * PER_THREAD);
	static bool seen[N_THREADS * PER_THREAD + 1];
	memset(seen, 0, sizeof seen);
	for (int i = 0; i < N_THREADS; i++)
		for (int k = 0; k < PER_THREAD; k++) {
			uint64_t q = sb[i].seqs[k];
			assert_true(q >= 1 && q <= N_THREADS * PER_THREAD);
			assert_false(seen[q]); /* never the same id twice */
			seen[q] = true;
			assert_non_null(itd_intents_at(t, q));
		}
	free(sb);
	itd_engine_destroy(e);
	itd_scenario_destroy(s);
}

struct console_rec {
	int n_console;
	char last_cmd[16], last_actor[32], last_args[64];
	char cancel_actor[32];
};

static void on_console(void *ctx, const struct itd_engine *e, const struct itd_event *ev)
{
	(void)e;
	struct console_rec *r = ctx;
	if (ev->kind == ITD_EV_CONSOLE_APPLIED) {
		r->n_console++;
		snprintf(r->last_cmd, sizeof r->last_cmd, "%s", ev->reason);
		snprintf(r->last_actor, sizeof r->last_actor, "%s", ev->actor ? ev->actor : "");
		snprintf(r->last_args, sizeof r->last_args, "%s", ev->detail ? ev->detail : "");
	}
	if (ev->kind == ITD_EV_INTENT_CANCELLED)
		snprintf(r->cancel_actor, sizeof r->cancel_actor, "%s", ev->actor);
}

static void test_pause_is_applied_at_a_tick_and_attributed(void **state)
{
	(void)state;
	struct itd_scenario *s = calm("64", "64");
	struct console_rec r = {0};
	struct itd_observer obs = {.event = on_console, .ctx = &r};
	struct itd_engine *e;
	struct itd_engine_config cfg = {.scn = s, .seed = 1, .obs = &obs};
	assert_int_equal(itd_engine_create(&cfg, &e), ITD_OK);
	assert_int_equal(itd_engine_run(e, 3, NULL), ITD_OK);
	assert_int_equal(itd_engine_console(e, ITD_CONSOLE_PAUSE, "", "root", NULL), ITD_OK);
	assert_int_equal(itd_engine_run(e, 100, NULL), ITD_OK);
	/* The pause was applied by tick 4, which completed; nothing after. */
	assert_int_equal(itd_engine_tick(e), 4);
	assert_true(itd_engine_paused(e));
	assert_int_equal(r.n_console, 1);
	assert_string_equal(r.last_cmd, "pause");
	assert_string_equal(r.last_actor, "root");
	assert_int_equal(itd_engine_run(e, 10, NULL), ITD_OK);
	assert_int_equal(itd_engine_tick(e), 4); /* still paused */
	itd_engine_resume(e);
	assert_int_equal(itd_engine_console(e, ITD_CONSOLE_RESUME, "", "root", NULL), ITD_OK);
	assert_int_equal(itd_engine_run(e, 10, NULL), ITD_OK);
	assert_int_equal(itd_engine_tick(e), 14);
	assert_string_equal(r.last_cmd, "resume");

	struct itd_receipt rc;
	char msg[160];
	struct itd_submission a = orbit(s, NULL, 3);
	a.actor = "operator-1";
	assert_int_equal(itd_engine_submit(e, &a, &rc, msg, sizeof msg), ITD_OK);
	assert_int_equal(itd_engine_step(e), ITD_OK);
	assert_string_equal(itd_intents_get(itd_engine_intents(e), rc.id)->actor, "operator-1");
	assert_int_equal(itd_engine_cancel(e, rc.id, "operator", "operator-2", NULL), ITD_OK);
	assert_int_equal(itd_engine_step(e), ITD_OK);
	assert_string_equal(r.cancel_actor, "operator-2");
	assert_int_equal(itd_engine_console(e, 99, "", NULL, NULL), ITD_EINVAL);
	itd_engine_destroy(e);
	itd_scenario_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_receipt_and_idempotency),
		cmocka_unit_test(test_room_is_reserved_at_submission),
		cmocka_unit_test(test_concurrent_submitters_lose_nothing),
		cmocka_unit_test(test_pause_is_applied_at_a_tick_and_attributed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
