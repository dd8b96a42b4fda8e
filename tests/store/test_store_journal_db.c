/* test_store_journal_db.c: the journal's SQLite side: a ticket reported
 * durable survives a kill -9, a foreign or corrupt database is refused, and
 * a storage fault never reports durability and stops writes until a reopen. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "journal_fault_vfs.h"
#include "journal_fixture.h"
#include "store/store_audit.h"

/* -------------------------------------------------------------- arrivals */

/* Collect arrivals read back into a growable array. */
struct arrivals {
	uint64_t *v;                       /* arrivals in the order read */
	size_t n, cap;                     /* count, capacity */
};

static int collect_arrival(void *ctx, const struct itd_journal_input *rec)
{
	struct arrivals *a = ctx;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 1024;
		a->v = realloc(a->v, a->cap * sizeof *a->v);
		assert_non_null(a->v);
	}
	a->v[a->n++] = rec->arrival;
	return 0;
}

/* ------------------------------------------------------------ kill -9 */

struct child_shared {
	struct itd_journal *j;             /* the child's journal */
	pthread_mutex_t intake;            /* arrival order */
	uint64_t next_arrival;             /* guarded by intake */
	pthread_mutex_t out;               /* serializes pipe writes */
	int fd;                            /* pipe to the parent */
};

static void *child_appender(void *arg)
{
	struct child_shared *cs = arg;
	for (int i = 0; i < 200000; i++) {
		char data[100];
		memset(data, 'd', sizeof data);
		pthread_mutex_lock(&cs->intake);
		uint64_t t, a = ++cs->next_arrival;
		struct itd_journal_input in = {.arrival = a, .kind = 1, .data = data,
					       .len = sizeof data, .actor = "crash"};
		int rc = itd_journal_input(cs->j, &in, &t);
		pthread_mutex_unlock(&cs->intake);
		if (rc || itd_journal_wait(cs->j, t, -1))
			_exit(3);
		/* Durable: tell the parent (an 8-byte write to a pipe is atomic). */
		if (write(cs->fd, &a, sizeof a) != (ssize_t)sizeof a)
			_exit(4);
	}
	return NULL;
}

static void crash_child(const char *dir, int fd)
{
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct child_shared cs = {.intake = PTHREAD_MUTEX_INITIALIZER,
				  .out = PTHREAD_MUTEX_INITIALIZER, .fd = fd};
	char err[256];
	if (itd_journal_open(&cfg, &cs.j, err, sizeof err))
		_exit(2);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, child_appender, &cs);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	_exit(0);
}

static int mark_present(void *ctx, const struct itd_journal_input *r)
{
	struct arrivals *a = ctx;
	return collect_arrival(a, r);
}

/* A child appends and reports each arrival once its wait returned 0; the
 * parent kills it at a random moment and finds every reported arrival in
 * the database, which holds a gapless prefix of arrivals. */
static void test_crash_durability(void **state)
{
	(void)state;
	unsigned seed = 20250101;
	for (int iter = 0; iter < 20; iter++) {
		char *dir = itd_test_tmpdir("journal-crash");
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(dir, fds[1]);
		}
		close(fds[1]);
		size_t kill_after = (size_t)(rand_r(&seed) % 1500);
		struct arrivals told = {0};
		uint64_t a;
		while (told.n < kill_after && read(fds[0], &a, sizeof a) == (ssize_t)sizeof a) {
			struct itd_journal_input r = {.arrival = a};
			collect_arrival(&told, &r);
		}
		kill(pid, SIGKILL);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		/* What it reported before dying is still in the pipe. */
		while (read(fds[0], &a, sizeof a) == (ssize_t)sizeof a) {
			struct itd_journal_input r = {.arrival = a};
			collect_arrival(&told, &r);
		}
		close(fds[0]);

		/* Restart as the server would (creating if the child died
		 * before the database was made). */
		struct itd_journal_config cfg = config(dir, "alpha", scn_a);
		struct itd_journal *j = NULL;
		char err[256];
		int rc = itd_journal_open(&cfg, &j, err, sizeof err);
		if (rc)
			fail_msg("iteration %d: reopen after kill: %s", iter, err);
		struct arrivals have = {0};
		assert_int_equal(itd_journal_read_inputs(j, 0, mark_present, &have), ITD_OK);
		for (size_t i = 0; i < have.n; i++)
			assert_int_equal(have.v[i], i + 1); /* gapless, no duplicates */
		for (size_t i = 0; i < told.n; i++)
			if (told.v[i] > have.n)
				fail_msg("iteration %d: arrival %llu was reported durable but is "
					 "missing (%zu present)",
					 iter, (unsigned long long)told.v[i], have.n);
		assert_int_equal(itd_journal_close(j), ITD_OK);
		free(told.v);
		free(have.v);
		rm_dir(dir);
	}
}

/* ------------------------------------------------ refusing a bad directory */

static void test_meta_mismatch(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-meta");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = open_ok(&cfg);
	assert_int_equal(put_input(j, 1, "a"), ITD_OK);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	char err[512];
	struct itd_journal_config other = config(dir, "bravo", scn_b);
	j = (struct itd_journal *)&err; /* must be reset to NULL */
	assert_int_equal(itd_journal_open(&other, &j, err, sizeof err), ITD_ECONFIG);
	assert_null(j);
	assert_non_null(strstr(err, "'alpha'"));
	assert_non_null(strstr(err, "'bravo'"));

	/* Same scenario, other name: the text is what counts. */
	struct itd_journal_config renamed = config(dir, "renamed", scn_a);
	j = open_ok(&renamed);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	/* A format this build does not know. */
	tamper(dir, "UPDATE meta SET value = 99 WHERE key = 'format_version'");
	assert_int_equal(itd_journal_open(&cfg, &j, err, sizeof err), ITD_ECONFIG);
	assert_null(j);
	assert_non_null(strstr(err, "format 99"));
	rm_dir(dir);
}

static void write_file(const char *path, long off, const void *buf, size_t len, bool trunc)
{
	int fd = open(path, O_WRONLY | O_CREAT | (trunc ? O_TRUNC : 0), 0600);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static void test_corrupt_database(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-corrupt");
	char path[4200], err[512];
	snprintf(path, sizeof path, "%s/%s", dir, ITD_JOURNAL_DB);
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = NULL;

	/* Not a database at all. */
	char junk[8192];
	memset(junk, 'Z', sizeof junk);
	write_file(path, 0, junk, sizeof junk, true);
	assert_int_equal(itd_journal_open(&cfg, &j, err, sizeof err), ITD_EVERIFY);
	assert_null(j);
	assert_non_null(strstr(err, ITD_JOURNAL_DB));
	remove(path);

	/* A sound journal whose table pages are then overwritten. */
	j = open_ok(&cfg);
	char data[300];
	memset(data, 'x', sizeof data - 1);
	data[sizeof data - 1] = '\0';
	for (uint64_t a = 1; a <= 200; a++) {
		uint64_t t;
		struct itd_journal_input in = {.arrival = a, .kind = 1, .data = data,
					       .len = sizeof data};
		assert_int_equal(itd_journal_input(j, &in, &t), ITD_OK);
	}
	assert_int_equal(itd_journal_close(j), ITD_OK); /* checkpoints into the file */
	/* From each page's start: the inputs are one block over overflow
	 * pages, whose only structure is the link at the page's head. */
	for (long page = 2; page < 12; page++)
		write_file(path, page * 4096, junk, 1000, false);
	assert_int_equal(itd_journal_open(&cfg, &j, err, sizeof err), ITD_EVERIFY);
	assert_null(j);
	assert_non_null(strstr(err, "corrupt"));
	print_message("corrupt database refused: %s\n", err);

	/* Some other SQLite database. */
	remove(path);
	tamper(dir, "CREATE TABLE t(x)");
	assert_int_equal(itd_journal_open(&cfg, &j, err, sizeof err), ITD_EVERIFY);
	assert_null(j);
	assert_non_null(strstr(err, "not an intentd journal"));
	rm_dir(dir);
}

/* ------------------------------------------------------- storage faults */

/* What a fault walk step saw. */
struct fault_run {
	struct arrivals acked;             /* arrivals whose wait returned 0 */
	bool saw_eio;                      /* some wait or append returned ITD_EIO */
};

/* The workload a fault hits: rounds of inputs, a tick and (once) a large
 * snapshot, each waited for.  Stops at the first ITD_EIO, after checking
 * that the journal then refuses appends and says why. */
static void fault_workload(struct itd_journal *j, uint64_t *arrival, uint64_t *tick,
			   struct fault_run *fr)
{
	static uint8_t big[20000];
	for (int round = 0; round < 6 && !fr->saw_eio; round++) {
		uint64_t tickets[8], arrivals[8];
		int n = 0, rc = ITD_OK;
		for (int i = 0; i < 3 && !rc; i++) {
			struct itd_journal_input in = {.arrival = ++*arrival, .kind = 1,
						       .data = "fault", .len = 5};
			arrivals[n] = in.arrival;
			rc = itd_journal_input(j, &in, &tickets[n]);
			if (!rc)
				n++;
		}
		/* Each tick carries audit notes: their chain entries and the
		 * intent row they update are written in the tick's transaction. */
		uint8_t notes[1024];
		size_t used = 0;
		struct itd_journal_note n1 = {.time_ms = 1000 + (int64_t)*tick, .seq = *tick + 1,
					      .kind = "intent.received", .subject = "i-000001",
					      .type = "orbit", .status = "queued", .data = "{}",
					      .len = 2};
		struct itd_journal_note n2 = {.kind = "console.applied", .actor = "ops",
					      .data = "{\"command\":\"pause\"}", .len = 19};
		assert_int_equal(itd_journal_note_put(notes, sizeof notes, &used, &n1), ITD_OK);
		assert_int_equal(itd_journal_note_put(notes, sizeof notes, &used, &n2), ITD_OK);
		struct itd_journal_tick tr = {.tick = ++*tick, .notes = notes, .notes_len = used};
		uint64_t tt = 0, ts = 0;
		if (!rc)
			rc = itd_journal_tick(j, &tr, &tt);
		if (!rc && round == 3)
			rc = itd_journal_snapshot(j, *tick, big, sizeof big, &ts);
		if (rc) {
			assert_int_equal(rc, ITD_EIO);
			fr->saw_eio = true;
		}
		for (int i = 0; i < n; i++) {
			int w = itd_journal_wait(j, tickets[i], 10000);
			if (w == ITD_OK) {
				struct itd_journal_input r = {.arrival = arrivals[i]};
				collect_arrival(&fr->acked, &r);
			} else {
				assert_int_equal(w, ITD_EIO);
				fr->saw_eio = true;
			}
		}
		if (tt && itd_journal_wait(j, tt, 10000))
			fr->saw_eio = true;
		if (ts && itd_journal_wait(j, ts, 10000))
			fr->saw_eio = true;
	}
	if (fr->saw_eio) {
		char why[256];
		uint64_t t;
		struct itd_journal_input in = {.arrival = ++*arrival, .kind = 1};
		assert_int_equal(itd_journal_input(j, &in, &t), ITD_EIO);
		assert_int_equal(t, 0);
		assert_int_equal(itd_journal_status(j, why, sizeof why), ITD_EIO);
		assert_true(why[0] != '\0');
		struct itd_journal_stats st;
		itd_journal_stats(j, &st);
		assert_true(st.failures >= 1);
	}
}

/* A tick with more audit notes than the whole queue holds (a huge intake
 * in one tick) is written all the same, its notes read where they are;
 * each intent gets one `intent` row, with its last status. */
static void test_tick_bigger_than_the_queue(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-bigtick");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	cfg.queue_bytes = 64 * 1024;
	struct itd_journal *j = open_ok(&cfg);
	size_t cap = 1u << 20, used = 0;
	uint8_t *notes = malloc(cap);
	char data[400], id[16];
	memset(data, 'd', sizeof data);
	for (int i = 1; i <= 1000; i++) {
		snprintf(id, sizeof id, "i-%06d", i);
		struct itd_journal_note n = {.time_ms = 5, .seq = (uint64_t)i, .kind = "intent.received",
					     .subject = id, .actor = "op", .type = "orbit",
					     .status = "queued", .data = data, .len = sizeof data};
		assert_int_equal(itd_journal_note_put(notes, cap, &used, &n), ITD_OK);
		n.kind = "intent.completed";
		n.status = "completed";
		n.actor = NULL;
		assert_int_equal(itd_journal_note_put(notes, cap, &used, &n), ITD_OK);
	}
	assert_true(used > 10 * cfg.queue_bytes);
	struct itd_journal_tick tr = {.tick = 1, .notes = notes, .notes_len = used,
				      .tel_start = UINT64_MAX, .time_ms = INT64_MIN};
	uint64_t t;
	assert_int_equal(itd_journal_tick(j, &tr, &t), ITD_OK);
	/* Durable on return: the caller may reuse its buffer at once. */
	assert_int_equal(itd_journal_wait(j, t, 0), ITD_OK);
	memset(notes, 0, used);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	sqlite3 *db = journal_sql(dir);
	sqlite3_stmt *st = journal_row(db, "SELECT (SELECT max(last) FROM audit_block),"
					   " (SELECT count(*) FROM intent),"
					   " (SELECT count(*) FROM intent WHERE status = 'completed'"
					   "  AND actor = 'op' AND created_tick = 1 AND audit = '1,'),"
					   " (SELECT count(*) FROM audit_block)");
	assert_int_equal(sqlite3_column_int(st, 0), 2000);
	assert_int_equal(sqlite3_column_int(st, 1), 1000);
	assert_int_equal(sqlite3_column_int(st, 2), 1000);
	/* The tick's entries are one block, which each intent's row names. */
	assert_int_equal(sqlite3_column_int(st, 3), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(notes);
	rm_dir(dir);
}

/* A journal's first notes may name no intent (a safety lock, a console
 * command): the tick's block is written and no intent row is touched.
 * Then a tick naming an intent, by seq and (a policy decision) by
 * subject alone, links its block to the intent's row. */
static void test_notes_naming_no_intent(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-nointent");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = open_ok(&cfg);
	uint8_t notes[4096];
	size_t used = 0;
	struct itd_journal_note lock = {.time_ms = 5, .kind = "safety.lock", .actor = "intentd",
					.data = "{}", .len = 2};
	assert_int_equal(itd_journal_note_put(notes, sizeof notes, &used, &lock), ITD_OK);
	struct itd_journal_tick tr = {.tick = 1, .notes = notes, .notes_len = used,
				      .tel_start = UINT64_MAX, .time_ms = INT64_MIN};
	uint64_t t;
	assert_int_equal(itd_journal_tick(j, &tr, &t), ITD_OK);
	assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	used = 0;
	struct itd_journal_note rec = {.time_ms = 6, .seq = 7, .kind = "intent.received",
				       .subject = "i-000007", .actor = "op", .type = "orbit",
				       .status = "queued", .data = "{}", .len = 2};
	struct itd_journal_note pol = {.time_ms = 6, .kind = "policy.evaluated",
				       .subject = "i-000007", .data = "{}", .len = 2};
	assert_int_equal(itd_journal_note_put(notes, sizeof notes, &used, &rec), ITD_OK);
	assert_int_equal(itd_journal_note_put(notes, sizeof notes, &used, &pol), ITD_OK);
	tr = (struct itd_journal_tick){.tick = 2, .notes = notes, .notes_len = used,
				       .tel_start = UINT64_MAX, .time_ms = INT64_MIN};
	assert_int_equal(itd_journal_tick(j, &tr, &t), ITD_OK);
	assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	used = 0;
	assert_int_equal(itd_journal_note_put(notes, sizeof notes, &used, &pol), ITD_OK);
	tr = (struct itd_journal_tick){.tick = 3, .notes = notes, .notes_len = used,
				       .tel_start = UINT64_MAX, .time_ms = INT64_MIN};
	assert_int_equal(itd_journal_tick(j, &tr, &t), ITD_OK);
	assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	sqlite3 *db = journal_sql(dir);
	sqlite3_stmt *st = journal_row(db, "SELECT (SELECT group_concat(first || '-' || last)"
					   " FROM audit_block), (SELECT count(*) FROM intent),"
					   " (SELECT audit || status FROM intent WHERE seq = 7)");
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "1-1,2-3,4-4");
	assert_int_equal(sqlite3_column_int(st, 1), 1);
	/* Its own entry's block and the policy decision's; its status kept. */
	assert_string_equal((const char *)sqlite3_column_text(st, 2), "2,4,queued");
	sqlite3_finalize(st);
	struct itd_audit_report r;
	assert_int_equal(itd_audit_verify(db, NULL, &r), ITD_OK);
	assert_int_equal(r.n_verified, 4);
	sqlite3_close(db);
	rm_dir(dir);
}

/* The audit chain in dir holds, with two entries per durable tick. */
static void assert_chain_holds(const char *dir, struct itd_journal *j)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, ITD_JOURNAL_DB);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	struct itd_audit_report r;
	int rc = itd_audit_verify(db, NULL, &r);
	if (rc)
		fail_msg("audit chain broken after faults: entry %llu: %s",
			 (unsigned long long)r.bad_index, r.why);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM tick", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	uint64_t ticks = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	assert_int_equal(r.n_verified, 2 * ticks);
	sqlite3_close(db);
	(void)j;
}

/* Every arrival in `acked` is in the journal. */
static void assert_acked_present(struct itd_journal *j, const struct arrivals *acked)
{
	struct arrivals have = {0};
	assert_int_equal(itd_journal_read_inputs(j, 0, mark_present, &have), ITD_OK);
	for (size_t i = 0; i < acked->n; i++) {
		bool found = false;
		for (size_t k = 0; k < have.n && !found; k++)
			found = have.v[k] == acked->v[i];
		if (!found)
			fail_msg("arrival %llu was reported durable but is missing",
				 (unsigned long long)acked->v[i]);
	}
	for (size_t k = 1; k < have.n; k++)
		assert_true(have.v[k] > have.v[k - 1]);
	free(have.v);
}

/* Fail the Nth write (or fsync) from arming, for N = 1, 2, ... until the
 * workload runs without reaching N: each time, nothing failed is reported
 * durable, the journal refuses writes until reopened, and after reopen
 * every acknowledged record is there and writes work again. */
static void fault_walk(bool on_sync, int write_err)
{
	shim_register();
	long n;
	int failures = 0;
	for (n = 1; n < 1000; n++) {
		fault_arm(0, 0, false, 0);
		char *dir = itd_test_tmpdir("journal-fault");
		struct itd_journal_config cfg = config(dir, "alpha", scn_a);
		cfg.vfs = "itdfault";
		struct itd_journal *j = open_ok(&cfg);
		struct fault_run fr = {0};
		uint64_t arrival = 0, tick = 0;
		for (int i = 0; i < 5; i++) {
			assert_int_equal(put_input(j, ++arrival, "baseline"), ITD_OK);
			struct itd_journal_input r = {.arrival = arrival};
			collect_arrival(&fr.acked, &r);
		}
		fault_arm(on_sync ? 0 : n, on_sync ? n : 0, false, write_err);
		fault_workload(j, &arrival, &tick, &fr);
		bool fired = fault_fired();
		fault_arm(0, 0, false, 0);
		if (fired)
			assert_true(fr.saw_eio); /* an injected fault is never swallowed */
		if (fr.saw_eio) {
			failures++;
			char err[256];
			assert_int_equal(itd_journal_reopen(j, err, sizeof err), ITD_OK);
			assert_int_equal(itd_journal_status(j, NULL, 0), ITD_OK);
			uint64_t lt, la;
			itd_journal_last(j, &lt, &la);
			assert_true(la >= fr.acked.v[fr.acked.n - 1]);
			assert_int_equal(put_input(j, la + 1, "after reopen"), ITD_OK);
			struct itd_journal_input r = {.arrival = la + 1};
			collect_arrival(&fr.acked, &r);
		}
		assert_acked_present(j, &fr.acked);
		/* A tick after the fault (and reopen) chains onto what is
		 * durable: the chain's tail came back with the rollback. */
		uint8_t notes[256];
		size_t used = 0;
		struct itd_journal_note nc = {.kind = "intent.completed", .subject = "i-000001",
					     .seq = 1, .type = "orbit", .status = "completed"};
		assert_int_equal(itd_journal_note_put(notes, sizeof notes, &used, &nc), ITD_OK);
		struct itd_journal_note n2 = {.kind = "console.applied"};
		assert_int_equal(itd_journal_note_put(notes, sizeof notes, &used, &n2), ITD_OK);
		uint64_t lt, tt;
		itd_journal_last(j, &lt, NULL);
		struct itd_journal_tick tr = {.tick = (tick > lt ? tick : lt) + 1, .notes = notes,
					      .notes_len = used};
		assert_int_equal(itd_journal_tick(j, &tr, &tt), ITD_OK);
		assert_int_equal(itd_journal_wait(j, tt, 10000), ITD_OK);
		assert_int_equal(itd_journal_close(j), ITD_OK);
		assert_chain_holds(dir, NULL);
		cfg.create = false;
		j = open_ok(&cfg);
		assert_acked_present(j, &fr.acked);
		assert_int_equal(itd_journal_close(j), ITD_OK);
		free(fr.acked.v);
		rm_dir(dir);
		if (!fired)
			break;
	}
	print_message("%s faults: walked %ld sites, %d failed commits\n", on_sync ? "fsync" : "write",
		      n - 1, failures);
	assert_true(n > 2 && n < 1000);
	assert_true(failures > 0);
}

static void test_fault_walk_write(void **state)
{
	(void)state;
	fault_walk(false, SQLITE_IOERR_WRITE);
}

static void test_fault_walk_disk_full(void **state)
{
	(void)state;
	fault_walk(false, SQLITE_FULL);
}

static void test_fault_walk_sync(void **state)
{
	(void)state;
	fault_walk(true, 0);
}

/* A disk that keeps failing: the journal stays failed (a reopen may work,
 * but the next commit fails again); once the disk heals, a reopen brings
 * it back with every acknowledged record. */
static void test_fault_persistent(void **state)
{
	(void)state;
	shim_register();
	fault_arm(0, 0, false, 0);
	char *dir = itd_test_tmpdir("journal-sticky");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	cfg.vfs = "itdfault";
	struct itd_journal *j = open_ok(&cfg);
	struct arrivals acked = {0};
	uint64_t arrival = 0, tick = 0;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(put_input(j, ++arrival, "ok"), ITD_OK);
		struct itd_journal_input r = {.arrival = arrival};
		collect_arrival(&acked, &r);
	}
	fault_arm(2, 0, true, SQLITE_FULL);
	struct fault_run fr = {0};
	fault_workload(j, &arrival, &tick, &fr);
	assert_true(fr.saw_eio);
	assert_int_equal(fr.acked.n, 0);
	char err[256];
	int rc = itd_journal_reopen(j, err, sizeof err);
	if (rc == ITD_OK) {
		/* Reopen only reads; the next commit meets the full disk. */
		uint64_t la;
		itd_journal_last(j, NULL, &la);
		arrival = la;
		assert_int_equal(put_input(j, ++arrival, "still full"), ITD_EIO);
		assert_int_equal(itd_journal_status(j, NULL, 0), ITD_EIO);
	} else {
		assert_int_equal(itd_journal_status(j, NULL, 0), ITD_EIO);
	}
	uint64_t t;
	struct itd_journal_input in = {.arrival = arrival + 100, .kind = 1};
	assert_int_equal(itd_journal_input(j, &in, &t), ITD_EIO);

	fault_arm(0, 0, false, 0); /* the disk heals */
	assert_int_equal(itd_journal_reopen(j, err, sizeof err), ITD_OK);
	uint64_t la;
	itd_journal_last(j, NULL, &la);
	assert_int_equal(put_input(j, la + 1, "healed"), ITD_OK);
	assert_acked_present(j, &acked);
	free(fr.acked.v);
	free(acked.v);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_durability),
		cmocka_unit_test(test_tick_bigger_than_the_queue),
		cmocka_unit_test(test_notes_naming_no_intent),
		cmocka_unit_test(test_meta_mismatch),
		cmocka_unit_test(test_corrupt_database),
		cmocka_unit_test(test_fault_walk_write),
		cmocka_unit_test(test_fault_walk_disk_full),
		cmocka_unit_test(test_fault_walk_sync),
		cmocka_unit_test(test_fault_persistent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
