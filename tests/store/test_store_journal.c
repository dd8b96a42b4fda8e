/* test_store_journal.c: the journal's queue and writer: wrong uses are
 * refused, many appenders share one commit in arrival order, a full queue
 * says so, and every allocation failure of open is clean. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal_fault_vfs.h"
#include "journal_fixture.h"

/* Wrong uses are refused without touching the queue. */
static void test_bad_arguments(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-args");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = NULL;
	char err[256];
	struct itd_journal_config none = {0};
	assert_int_equal(itd_journal_open(&none, &j, err, sizeof err), ITD_EINVAL);
	assert_null(j);
	j = open_ok(&cfg);
	uint64_t t = 99;
	struct itd_journal_input in = {.arrival = 1, .len = 3};
	assert_int_equal(itd_journal_input(j, &in, &t), ITD_EINVAL); /* len without data */
	assert_int_equal(t, 0);
	assert_int_equal(itd_journal_snapshot(j, 1, NULL, 5, &t), ITD_EINVAL);
	assert_int_equal(itd_journal_wait(j, 0, 0), ITD_EINVAL);
	assert_int_equal(itd_journal_wait(j, 12345, 0), ITD_EINVAL); /* never handed out */
	assert_int_equal(put_input(j, 5, "a"), ITD_OK);
	assert_int_equal(put_input(j, 5, "a"), ITD_EINVAL);
	assert_int_equal(put_input(j, 4, "a"), ITD_EINVAL);
	assert_int_equal(put_input(j, 9, "a"), ITD_OK); /* gaps are allowed */
	/* Larger than the whole queue: a limit, not a transient "full". */
	size_t big = ITD_JOURNAL_QUEUE_DEFAULT + 1;
	void *huge = calloc(1, big);
	assert_non_null(huge);
	assert_int_equal(itd_journal_snapshot(j, 1, huge, big, &t), ITD_ELIMIT);
	free(huge);
	char why[128];
	assert_int_equal(itd_journal_status(j, why, sizeof why), ITD_OK);
	assert_string_equal(why, "");
	assert_int_equal(itd_journal_close(j), ITD_OK);
	assert_int_equal(itd_journal_close(NULL), ITD_OK);
	/* Not creating, and nothing there. */
	cfg.create = false;
	char *missing = itd_test_tmpdir("journal-missing");
	cfg.dir = missing;
	assert_int_equal(itd_journal_open(&cfg, &j, err, sizeof err), ITD_ENOTFOUND);
	assert_null(j);
	rm_dir(missing);
	rm_dir(dir);
}

/* ---------------------------------------------------------- group commit */

struct blocked_tick {
	struct itd_journal *j;
	const struct itd_journal_tick *rec;
	int rc;                            /* what itd_journal_tick said */
	uint64_t ticket;
	int done;                          /* set when it returned */
};

static void *append_tick(void *arg)
{
	struct blocked_tick *b = arg;
	b->rc = itd_journal_tick(b->j, b->rec, &b->ticket);
	__atomic_store_n(&b->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* While a commit is in progress, records accumulate for the next one; a
 * full queue refuses inputs with ITD_EFULL and keeps what it accepted.
 * Inputs leave a quarter of the queue to tick records, and a tick record
 * that still does not fit waits for the writer (inputs are refused
 * meanwhile) rather than fail: the run depends on its ticks. */
static void test_commit_in_progress(void **state)
{
	(void)state;
	shim_register();
	fault_arm(0, 0, false, 0);
	char *dir = itd_test_tmpdir("journal-gate");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	cfg.vfs = "itdfault";
	cfg.queue_bytes = 64 * 1024;
	struct itd_journal *j = open_ok(&cfg);
	struct itd_journal_stats s0, s1;
	itd_journal_stats(j, &s0);

	gate_close();
	uint64_t first, t, last = 0;
	struct itd_journal_input in = {.arrival = 1, .kind = 1, .data = "first", .len = 5};
	assert_int_equal(itd_journal_input(j, &in, &first), ITD_OK);
	gate_wait_held(); /* the writer is inside the commit's fsync */
	assert_int_equal(itd_journal_wait(j, first, 0), ITD_EAGAIN);
	assert_int_equal(itd_journal_wait(j, first, 20), ITD_EAGAIN);

	char payload[200];
	memset(payload, 'p', sizeof payload);
	uint64_t accepted = 0;
	int rc;
	for (uint64_t a = 2;; a++) {
		struct itd_journal_input r = {.arrival = a, .kind = 1, .data = payload,
					      .len = sizeof payload};
		rc = itd_journal_input(j, &r, &t);
		if (rc)
			break;
		last = t;
		accepted++;
	}
	assert_int_equal(rc, ITD_EFULL);
	assert_true(accepted > 100); /* 3/4 of 64 KiB of ~270-byte records */
	assert_true(accepted * sizeof payload < 48 * 1024); /* the last quarter left */
	itd_journal_stats(j, &s1);
	assert_int_equal(s1.full, s0.full + 1);
	assert_int_equal(s1.commits, s0.commits);

	/* A tick record still goes in (the quarter left to ticks)... */
	uint64_t tk_ticket;
	struct itd_journal_tick tk = {.tick = 1, .last_arrival = accepted + 1, .tel_start = UINT64_MAX,
				      .time_ms = INT64_MIN};
	assert_int_equal(itd_journal_tick(j, &tk, &tk_ticket), ITD_OK);
	/* ... and one too big for what is left waits for the writer. */
	static uint64_t seqs[2500];
	struct itd_journal_tick big = {.tick = 2, .last_arrival = accepted + 1, .auto_seqs = seqs,
				       .n_auto_seqs = 2500, .tel_start = UINT64_MAX,
				       .time_ms = INT64_MIN};
	struct blocked_tick b = {.j = j, .rec = &big};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, append_tick, &b), 0);
	struct timespec ms10 = {0, 10 * 1000 * 1000};
	nanosleep(&ms10, NULL);
	nanosleep(&ms10, NULL);
	assert_int_equal(__atomic_load_n(&b.done, __ATOMIC_ACQUIRE), 0);
	/* While it waits, inputs are refused even where they would fit. */
	struct itd_journal_input small = {.arrival = accepted + 2, .kind = 1, .data = "x", .len = 1};
	assert_int_equal(itd_journal_input(j, &small, &t), ITD_EFULL);

	gate_release();
	pthread_join(th, NULL);
	assert_int_equal(b.rc, ITD_OK);
	assert_int_equal(itd_journal_wait(j, first, 10000), ITD_OK);
	assert_int_equal(itd_journal_wait(j, last, 10000), ITD_OK);
	assert_int_equal(itd_journal_wait(j, b.ticket, 10000), ITD_OK);
	itd_journal_stats(j, &s1);
	/* The held commit, then everything that piled up, then the big tick. */
	assert_int_equal(s1.max_batch, accepted + 1);
	assert_int_equal(s1.records, s0.records + 1 + accepted + 2);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

/* A writer far behind the load (its oldest record waiting over 20 ms,
 * over 256 KiB queued) refuses submissions, not control inputs or tick
 * records, until it catches up; a slow commit with little queued refuses
 * nothing. */
static void test_lagging_writer_refuses_inputs(void **state)
{
	(void)state;
	shim_register();
	fault_arm(0, 0, false, 0);
	char *dir = itd_test_tmpdir("journal-lag");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	cfg.vfs = "itdfault";
	cfg.queue_bytes = 4u << 20;
	struct itd_journal *j = open_ok(&cfg);
	struct timespec ms30 = {0, 30 * 1000 * 1000};

	gate_close();
	uint64_t first, t, last = 0, a = 1;
	struct itd_journal_input in = {.arrival = a++, .kind = 1, .data = "first", .len = 5};
	assert_int_equal(itd_journal_input(j, &in, &first), ITD_OK);
	gate_wait_held();
	/* Slow, but little waits: still accepted. */
	nanosleep(&ms30, NULL);
	static char payload[1024];
	memset(payload, 'p', sizeof payload);
	struct itd_journal_input r = {.kind = 1, .data = payload, .len = sizeof payload};
	r.arrival = a++;
	assert_int_equal(itd_journal_input(j, &r, &last), ITD_OK);
	/* Past 256 KiB queued behind a commit held over 20 ms: refused, with
	 * most of the 4 MiB queue still free. */
	int accepted = 0, rc;
	for (;;) {
		r.arrival = a;
		if ((rc = itd_journal_input(j, &r, &t)))
			break;
		a++;
		accepted++;
	}
	assert_int_equal(rc, ITD_EFULL);
	assert_in_range(accepted, 200, 260); /* records of ~1.1 KiB */
	/* An operator's control input still goes in, and so does a tick record. */
	struct itd_journal_input ctl = {.arrival = a++, .kind = 2, .data = "pause", .len = 5,
					.control = true};
	assert_int_equal(itd_journal_input(j, &ctl, &t), ITD_OK);
	r.arrival = a;
	assert_int_equal(itd_journal_input(j, &r, &t), ITD_EFULL);
	uint64_t tk_ticket;
	struct itd_journal_tick tk = {.tick = 1, .last_arrival = a - 1, .tel_start = UINT64_MAX,
				      .time_ms = INT64_MIN};
	assert_int_equal(itd_journal_tick(j, &tk, &tk_ticket), ITD_OK);

	gate_release();
	assert_int_equal(itd_journal_wait(j, first, 10000), ITD_OK);
	assert_int_equal(itd_journal_wait(j, tk_ticket, 10000), ITD_OK);
	/* Caught up: accepted again. */
	assert_int_equal(itd_journal_input(j, &r, &t), ITD_OK);
	assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

#define N_THREADS 8
#define PER_THREAD 10000
#define WINDOW 8

struct appender {
	struct itd_journal *j;             /* shared journal */
	pthread_mutex_t *intake;           /* stands in for the engine's intake lock */
	uint64_t *next_arrival;            /* guarded by intake */
	int id;                            /* thread number */
	int n;                             /* records to append */
	int window;                        /* tickets in flight before waiting */
	int failures;                      /* appends or waits that did not return 0 */
};

/* Each record's data: thread id and its per-thread counter. */
struct stamp {
	uint32_t thread;                   /* appender id */
	uint32_t count;                    /* its nth record */
};

static void *appender_main(void *arg)
{
	struct appender *ap = arg;
	uint64_t tickets[64];
	int k = 0;
	for (int i = 0; i < ap->n; i++) {
		struct stamp s = {(uint32_t)ap->id, (uint32_t)i};
		pthread_mutex_lock(ap->intake);
		struct itd_journal_input in = {.arrival = ++*ap->next_arrival, .kind = 1,
					       .data = &s, .len = sizeof s, .actor = "t"};
		int rc = itd_journal_input(ap->j, &in, &tickets[k]);
		pthread_mutex_unlock(ap->intake);
		if (rc) {
			ap->failures++;
			continue;
		}
		if (++k == ap->window || i == ap->n - 1) {
			for (int w = 0; w < k; w++)
				if (itd_journal_wait(ap->j, tickets[w], 30000))
					ap->failures++;
			k = 0;
		}
	}
	return NULL;
}

static void run_appenders(struct itd_journal *j, int n_threads, int per_thread, int window)
{
	pthread_t th[N_THREADS];
	struct appender ap[N_THREADS];
	pthread_mutex_t intake = PTHREAD_MUTEX_INITIALIZER;
	uint64_t last_arrival;
	itd_journal_last(j, NULL, &last_arrival);
	for (int i = 0; i < n_threads; i++) {
		ap[i] = (struct appender){.j = j, .intake = &intake, .next_arrival = &last_arrival,
					  .id = i, .n = per_thread, .window = window};
		assert_int_equal(pthread_create(&th[i], NULL, appender_main, &ap[i]), 0);
	}
	for (int i = 0; i < n_threads; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(ap[i].failures, 0);
	}
}

struct order_check {
	uint32_t next[N_THREADS];          /* each thread's next expected counter */
	uint64_t prev_arrival;             /* arrivals must rise by one */
	size_t n;                          /* records read */
	bool ok;                           /* all in order, none twice */
};

static int check_order(void *ctx, const struct itd_journal_input *r)
{
	struct order_check *c = ctx;
	struct stamp s;
	if (r->len != sizeof s || r->arrival != c->prev_arrival + 1) {
		c->ok = false;
		return 0;
	}
	memcpy(&s, r->data, sizeof s);
	if (s.thread >= N_THREADS || s.count != c->next[s.thread])
		c->ok = false;
	else
		c->next[s.thread]++;
	c->prev_arrival = r->arrival;
	c->n++;
	return 0;
}

/* 8 threads, 10k records each: arrival order is kept, nothing lost or
 * doubled across close and reopen, and commits are shared. */
static void test_concurrent_order(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-order");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = open_ok(&cfg);
	run_appenders(j, N_THREADS, PER_THREAD, WINDOW);
	struct itd_journal_stats st;
	itd_journal_stats(j, &st);
	assert_int_equal(st.records, N_THREADS * PER_THREAD);
	assert_true(st.commits * 8 < st.records);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	cfg.create = false;
	j = open_ok(&cfg);
	struct order_check c = {.ok = true};
	assert_int_equal(itd_journal_read_inputs(j, 0, check_order, &c), ITD_OK);
	assert_true(c.ok);
	assert_int_equal(c.n, N_THREADS * PER_THREAD);
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(c.next[i], PER_THREAD);
	uint64_t la;
	itd_journal_last(j, NULL, &la);
	assert_int_equal(la, N_THREADS * PER_THREAD);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

/* One record in flight per thread, as HTTP submitters are: with 8 threads
 * each commit still carries several records. */
static void test_group_commit_groups(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-group");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = open_ok(&cfg);
	run_appenders(j, N_THREADS, 400, 1);
	struct itd_journal_stats st;
	itd_journal_stats(j, &st);
	print_message("group commit: %llu records in %llu commits (max batch %llu)\n",
		      (unsigned long long)st.records, (unsigned long long)st.commits,
		      (unsigned long long)st.max_batch);
	assert_int_equal(st.records, N_THREADS * 400);
	assert_true(st.commits * 3 <= st.records);
	assert_true(st.max_batch >= 4);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

/* linger_ms: an idle tick record nobody waits for lingers for company; an
 * input, a tick that decided something, or a wait that needs it, ends
 * that at once; unhurried, it commits once the interval has passed.
 * (Bounds are loose: a loaded machine may be late, never early.) */
static void test_ticks_linger(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-linger");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	cfg.linger_ms = 2000;
	struct itd_journal *j = open_ok(&cfg);
	uint64_t t, tick = 0;

	/* An input ends the lingering of the ticks before it. */
	struct itd_journal_tick tr = {.tick = ++tick};
	assert_int_equal(itd_journal_tick(j, &tr, &t), ITD_OK);
	uint64_t t0 = itd_clock_mono_ns();
	assert_int_equal(itd_journal_wait_until(j, t, t0 + 100000000u), ITD_EAGAIN);
	struct itd_journal_input in = {.arrival = 1, .kind = 1, .seq = 10, .data = "a", .len = 1};
	uint64_t ti;
	assert_int_equal(itd_journal_input(j, &in, &ti), ITD_OK);
	assert_int_equal(itd_journal_wait_until(j, t, t0 + 1500000000u), ITD_OK);

	/* So does a tick with audit notes: what it decided is reported once it
	 * is durable, promptly. */
	tr.tick = ++tick;
	assert_int_equal(itd_journal_tick(j, &tr, &t), ITD_OK);
	uint8_t notes[256];
	size_t used = 0;
	struct itd_journal_note n = {.time_ms = 5, .kind = "console.paused", .actor = "op"};
	assert_int_equal(itd_journal_note_put(notes, sizeof notes, &used, &n), ITD_OK);
	struct itd_journal_tick busy = {.tick = ++tick, .notes = notes, .notes_len = used};
	t0 = itd_clock_mono_ns();
	assert_int_equal(itd_journal_tick(j, &busy, &t), ITD_OK);
	assert_int_equal(itd_journal_wait_until(j, t, t0 + 1500000000u), ITD_OK);

	/* So does a wait that needs it (the loop catching up, a stop). */
	tr.tick = ++tick;
	assert_int_equal(itd_journal_tick(j, &tr, &t), ITD_OK);
	t0 = itd_clock_mono_ns();
	assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	assert_true(itd_clock_mono_ns() - t0 < 1500000000u);

	/* Unhurried, ticks share one commit once the interval has passed. */
	struct itd_journal_stats s0, s1;
	itd_journal_stats(j, &s0);
	t0 = itd_clock_mono_ns();
	for (int i = 0; i < 5; i++) {
		tr.tick = ++tick;
		assert_int_equal(itd_journal_tick(j, &tr, &t), ITD_OK);
	}
	assert_int_equal(itd_journal_wait_until(j, t, t0 + 10000000000u), ITD_OK);
	uint64_t waited = itd_clock_mono_ns() - t0;
	itd_journal_stats(j, &s1);
	assert_true(waited >= 1900000000u);
	assert_int_equal(s1.commits - s0.commits, 1);
	assert_int_equal(s1.records - s0.records, 5);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

/* -------------------------------------------------- allocation failures */

static void alloc_walk(const char *dir, bool existing)
{
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	cfg.create = !existing;
	long n;
	for (n = 1; n < 100; n++) {
		struct itd_journal *j = NULL;
		char err[256] = "";
		itd_alloc_fail_at(n);
		int rc = itd_journal_open(&cfg, &j, err, sizeof err);
		bool fired = itd_alloc_failed();
		itd_alloc_fail_at(0);
		if (rc == ITD_OK) {
			assert_false(fired); /* a failed allocation is never ignored */
			assert_int_equal(put_input(j, (uint64_t)n + (existing ? 1000 : 0), "a"), ITD_OK);
			assert_int_equal(itd_journal_close(j), ITD_OK);
			break;
		}
		assert_true(fired);
		assert_int_equal(rc, ITD_ENOMEM);
		assert_null(j);
		assert_true(err[0] != '\0');
	}
	assert_true(n > 1 && n < 100);
}

static void test_alloc_failures_open(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-alloc");
	alloc_walk(dir, false);
	alloc_walk(dir, true);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_commit_in_progress),
		cmocka_unit_test(test_lagging_writer_refuses_inputs),
		cmocka_unit_test(test_concurrent_order),
		cmocka_unit_test(test_group_commit_groups),
		cmocka_unit_test(test_ticks_linger),
		cmocka_unit_test(test_alloc_failures_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
