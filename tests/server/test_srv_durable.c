/* test_srv_durable.c: the durability waiter's parts that need no HTTP
 * connection (srv_durable.c): an answer whose input is already durable is
 * sent at once; an idempotent duplicate learns a ticket at least its
 * original's, also while the original is still inside the engine; the 503
 * keeps the API's error shape.  Parking itself (suspended connections) is
 * tested end to end by tests/e2e/test_serve_durable.py. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../store/journal_fault_vfs.h"
#include "scenario_fixture.h"
#include "server/srv_int.h"

/* A spacecraft engine journaling into a fresh store. */
struct fx {
	char *dir;                  /* the data directory */
	struct itd_scenario *scn;   /* the built-in spacecraft */
	struct itd_engine *e;       /* journaled by st */
	struct itd_store *st;       /* the store */
	struct srv_durable *d;      /* the waiter under test */
};

static int setup(void **state)
{
	/* Every store here goes through the fault-injecting VFS (unarmed, it
	 * only forwards). */
	shim_register();
	assert_int_equal(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
	struct fx *f = calloc(1, sizeof *f);
	f->dir = itd_test_tmpdir("srv-durable");
	f->scn = fixture_builtin("spacecraft", NULL, 0);
	struct itd_engine_config ec = {.scn = f->scn, .seed = 1, .clock = ITD_CLOCK_SIM};
	assert_int_equal(itd_engine_create(&ec, &f->e), ITD_OK);
	struct itd_store_config sc = {.dir = f->dir, .scenario_name = "spacecraft",
				      .identity = "durable-test", .identity_len = 12, .seed = 1,
				      .rate = 1};
	char err[256];
	assert_int_equal(itd_store_open(&sc, &f->st, err, sizeof err), ITD_OK);
	struct itd_store_recovery rec;
	assert_int_equal(itd_store_recover(f->st, f->e, false, &rec, err, sizeof err), ITD_OK);
	itd_store_attach(f->st, f->e, NULL, NULL);
	assert_int_equal(srv_durable_create(f->st, &f->d), ITD_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	srv_durable_destroy(f->d);
	assert_int_equal(itd_store_close(f->st), ITD_OK);
	itd_engine_destroy(f->e);
	itd_scenario_destroy(f->scn);
	itd_test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Submit an orbit correction (key may be NULL) the way srv_h_submit does:
 * key_enter, the engine, key_leave.  Returns the engine's result; the
 * receipt goes to *r and what key_leave answered to *dup_ticket. */
static int submit(struct fx *f, const char *key, struct itd_receipt *r, uint64_t *dup_ticket)
{
	struct itd_submission sub = {
		.type = (uint32_t)itd_scenario_type(f->scn, "orbit_correction"),
		.source = ITD_SRC_GROUND, .priority = 1, .idempotency_key = key, .body_hash = 42,
		.goal = {.present = true,
			 .metric = (uint32_t)itd_scenario_field(f->scn, "position"),
			 .reference = 3.0, .tolerance = 0.1}};
	char msg[256];
	uint64_t entered = srv_durable_key_enter(f->d, key);
	int rc = itd_engine_submit(f->e, &sub, r, msg, sizeof msg);
	*dup_ticket = srv_durable_key_leave(f->d, key, rc, r->ticket, entered);
	return rc;
}

/* A durable ticket is answered at once: hold() neither parks nor touches
 * the connection (NULL here). */
static void test_durable_answers_now(void **state)
{
	struct fx *f = *state;
	struct itd_receipt r;
	uint64_t dup;
	assert_int_equal(submit(f, NULL, &r, &dup), ITD_OK);
	assert_true(r.ticket > 0);
	assert_int_equal(dup, 0);
	assert_int_equal(itd_store_wait(f->st, r.ticket, -1), ITD_OK);
	struct srv_durable_wait w;
	assert_int_equal(srv_durable_hold(f->d, &w, NULL, r.ticket), ITD_OK);
	struct srv_durable_stats ds;
	srv_durable_stats(f->d, &ds);
	assert_int_equal(ds.parked, 0);
	assert_int_equal(ds.waiting, 0);
}

/* A duplicate waits for a ticket at least its original's. */
static void test_duplicate_ticket(void **state)
{
	struct fx *f = *state;
	struct itd_receipt r1, r2, r3;
	uint64_t dup1, dup2, dup3;
	assert_int_equal(submit(f, "key-a", &r1, &dup1), ITD_OK);
	assert_int_equal(dup1, 0);
	assert_int_equal(submit(f, "key-b", &r3, &dup3), ITD_OK);
	assert_int_equal(submit(f, "key-a", &r2, &dup2), ITD_EEXISTS);
	assert_string_equal(r2.id, r1.id);
	assert_true(dup2 >= r1.ticket);
	/* Without a key nothing is tracked. */
	assert_int_equal(srv_durable_key_leave(f->d, NULL, ITD_EEXISTS, 0, 0), 0);
	assert_int_equal(srv_durable_key_leave(NULL, "key-a", ITD_EEXISTS, 0, 0), 0);
}

struct dup_arg {
	struct srv_durable *d;      /* the waiter */
	pthread_barrier_t *go;      /* started together with the original */
	uint64_t got;               /* what key_leave answered */
};

static void *dup_main(void *arg)
{
	struct dup_arg *a = arg;
	uint64_t entered = srv_durable_key_enter(a->d, "racing");
	pthread_barrier_wait(a->go);
	a->got = srv_durable_key_leave(a->d, "racing", ITD_EEXISTS, 0, entered);
	return NULL;
}

/* An original still between key_enter and key_leave (inside the engine)
 * when its duplicate finishes: the duplicate waits for it and gets its
 * ticket, whichever thread gets there first. */
static void test_duplicate_of_inflight(void **state)
{
	struct fx *f = *state;
	for (uint64_t i = 1; i <= 50; i++) {
		pthread_barrier_t go;
		pthread_barrier_init(&go, NULL, 2);
		struct dup_arg a = {.d = f->d, .go = &go};
		srv_durable_key_enter(f->d, "racing"); /* the original enters first */
		pthread_t th;
		assert_int_equal(pthread_create(&th, NULL, dup_main, &a), 0);
		pthread_barrier_wait(&go);
		uint64_t ticket = 1000 + i;
		assert_int_equal(srv_durable_key_leave(f->d, "racing", ITD_OK, ticket, 0), 0);
		pthread_join(th, NULL);
		pthread_barrier_destroy(&go);
		assert_true(a.got >= ticket);
	}
}

/* An original that never leaves holds its duplicate back at most about a
 * second. */
static void test_duplicate_wait_is_bounded(void **state)
{
	struct fx *f = *state;
	srv_durable_key_enter(f->d, "stuck");
	srv_durable_key_enter(f->d, "stuck");
	uint64_t t0 = itd_clock_mono_ns();
	assert_int_equal(srv_durable_key_leave(f->d, "stuck", ITD_EEXISTS, 0, 0), 0);
	uint64_t dt = itd_clock_mono_ns() - t0;
	assert_true(dt >= 900000000u && dt < 5000000000u);
	assert_int_equal(srv_durable_key_leave(f->d, "stuck", ITD_OK, 7, 0), 0);
}

/* Fail every fsync until disarmed: the next commit fails and the store
 * refuses writes until reopened. */
static void fail_store(void)
{
	fault_arm(0, 1, true, SQLITE_IOERR_WRITE);
}

static void repair(struct fx *f)
{
	fault_arm(0, 0, false, 0);
	char err[256];
	assert_int_equal(itd_store_reopen(f->st, err, sizeof err), ITD_OK);
	srv_durable_repaired(f->d);
}

/* A retry that reached the engine before a repair finished, while the
 * engine still knew an original the failed commit lost: it is not told
 * "duplicate" (200) for an intent that no longer exists, but gets the lost
 * ticket, which answers 503 so that it is retried after the repair. */
static void test_duplicate_of_lost_original(void **state)
{
	struct fx *f = *state;
	struct itd_receipt r1, r2;
	uint64_t dup;
	fail_store();
	assert_int_equal(submit(f, "lost-key", &r1, &dup), ITD_OK);
	assert_int_equal(itd_store_wait(f->st, r1.ticket, -1), ITD_EIO);
	struct itd_submission sub = {
		.type = (uint32_t)itd_scenario_type(f->scn, "orbit_correction"),
		.source = ITD_SRC_GROUND, .priority = 1, .idempotency_key = "lost-key",
		.body_hash = 42,
		.goal = {.present = true,
			 .metric = (uint32_t)itd_scenario_field(f->scn, "position"),
			 .reference = 3.0, .tolerance = 0.1}};
	char msg[256];
	uint64_t entered = srv_durable_key_enter(f->d, "lost-key");
	assert_int_equal(itd_engine_submit(f->e, &sub, &r2, msg, sizeof msg), ITD_EEXISTS);
	assert_string_equal(r2.id, r1.id);
	repair(f);
	uint64_t t = srv_durable_key_leave(f->d, "lost-key", ITD_EEXISTS, r2.ticket, entered);
	assert_true(t >= r1.ticket);
	assert_int_equal(itd_store_wait(f->st, t, 0), ITD_EIO);
}

/* After a repair, a duplicate of a durable original whose key shares a
 * bucket with a submission the failure lost is still answered as the
 * duplicate it is (no 503): the lost ticket was the other key's. */
static void test_duplicate_after_repair(void **state)
{
	struct fx *f = *state;
	char other[32];
	uint32_t want = srv_durable_key_bucket("kept-key");
	for (unsigned i = 0;; i++) {
		snprintf(other, sizeof other, "other-%u", i);
		if (srv_durable_key_bucket(other) == want)
			break;
	}
	struct itd_receipt r1, r2, r3;
	uint64_t dup;
	assert_int_equal(submit(f, "kept-key", &r1, &dup), ITD_OK);
	assert_int_equal(itd_store_wait(f->st, r1.ticket, -1), ITD_OK);
	fail_store();
	assert_int_equal(submit(f, other, &r2, &dup), ITD_OK);
	assert_int_equal(itd_store_wait(f->st, r2.ticket, -1), ITD_EIO);
	repair(f);
	assert_int_equal(submit(f, "kept-key", &r3, &dup), ITD_EEXISTS);
	assert_string_equal(r3.id, r1.id);
	assert_int_equal(dup, 0);
}

/* The 503 replaces the prepared answer and keeps the error shape. */
static void test_refuse(void **state)
{
	(void)state;
	struct srv_resp out = {0};
	assert_int_equal(srv_text(&out, 202, NULL, "{\"id\":\"i-000007\"}", 17), ITD_OK);
	snprintf(out.durable_id, sizeof out.durable_id, "i-000007");
	out.durable_ticket = 9;
	assert_int_equal(srv_durable_refuse(&out, ITD_EIO), ITD_OK);
	assert_int_equal(out.status, 503);
	assert_int_equal(out.durable_ticket, 0);
	cJSON *j = cJSON_Parse(out.body);
	assert_non_null(j);
	const cJSON *e = cJSON_GetObjectItem(j, "error");
	assert_string_equal(cJSON_GetObjectItem(e, "code")->valuestring, "store_unavailable");
	assert_non_null(strstr(cJSON_GetObjectItem(e, "message")->valuestring, "i-000007"));
	assert_non_null(cJSON_GetObjectItem(e, "details"));
	cJSON_Delete(j);
	itd_free(out.body);
}

/* Stopping twice, and with nothing parked, is quiet; hold() then still
 * answers durable tickets. */
static void test_stop(void **state)
{
	struct fx *f = *state;
	struct itd_receipt r;
	uint64_t dup;
	assert_int_equal(submit(f, NULL, &r, &dup), ITD_OK);
	srv_durable_stop(f->d);
	srv_durable_stop(f->d);
	struct srv_durable_wait w;
	assert_int_equal(srv_durable_hold(f->d, &w, NULL, r.ticket), ITD_OK);
	srv_durable_stop(NULL);
	srv_durable_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_durable_answers_now, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_ticket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_of_inflight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_wait_is_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_of_lost_original, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_after_repair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
