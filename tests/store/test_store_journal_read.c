/* test_store_journal_read.c: records come back as written and in order,
 * beside the writer and after a reopen, and the newest snapshot that
 * verifies is the one returned. */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "journal_fixture.h"
#include "store/store_audit.h"

/* ----------------------------------------------------------- round trip */

struct seen {
	int n_inputs, n_ticks;             /* records read back */
	bool ok;                           /* every one matched */
};

static int check_input(void *ctx, const struct itd_journal_input *r)
{
	struct seen *s = ctx;
	s->n_inputs++;
	char want[64];
	snprintf(want, sizeof want, "input-%llu", (unsigned long long)r->arrival);
	if (r->arrival == 2) {
		/* The odd one: no actor, no data. */
		s->ok &= r->actor == NULL && r->len == 0 && r->kind == 3;
		return 0;
	}
	s->ok &= r->kind == 1 && r->seq == r->arrival * 10 && r->wall_ms == 1000 + (int64_t)r->arrival &&
		 r->actor && !strcmp(r->actor, "op") && r->len == strlen(want) &&
		 !memcmp(r->data, want, r->len);
	return 0;
}

static int check_tick(void *ctx, const struct itd_journal_tick *r)
{
	struct seen *s = ctx;
	s->n_ticks++;
	s->ok &= r->last_arrival == r->tick && r->state_hash == ~r->tick && r->tel_seq == r->tick * 3 &&
		 r->n_auto_seqs == (uint32_t)(r->tick % 3);
	/* Timing and telemetry start: odd ticks slipped; tick 7 does not
	 * know where its telemetry began, tick 9 not its time. */
	s->ok &= r->slip_ns == (r->tick % 2 ? r->tick * 1000 : 0) &&
		 r->tel_start == (r->tick == 7 ? UINT64_MAX : r->tick * 3 - 2) &&
		 r->time_ms == (r->tick == 9 ? INT64_MIN : 1700000000000 + (int64_t)r->tick * 100);
	for (uint32_t i = 0; i < r->n_auto_seqs; i++)
		s->ok &= r->auto_seqs[i] == r->tick * 100 + i;
	return 0;
}

struct tick_box {
	struct itd_journal_tick *t;        /* room for 2 */
	int *n;
};

static int collect_ticks(void *ctx, const struct itd_journal_tick *r)
{
	struct tick_box *b = ctx;
	if (*b->n < 2)
		b->t[(*b->n)++] = *r;
	return 0;
}

/* Read everything back and compare with what round_trip wrote. */
static void verify_round_trip(struct itd_journal *j)
{
	struct seen s = {.ok = true};
	assert_int_equal(itd_journal_read_inputs(j, 0, check_input, &s), ITD_OK);
	assert_int_equal(itd_journal_read_ticks(j, 0, check_tick, &s), ITD_OK);
	assert_true(s.ok);
	assert_int_equal(s.n_inputs, 50);
	assert_int_equal(s.n_ticks, 20);
	s = (struct seen){.ok = true};
	assert_int_equal(itd_journal_read_inputs(j, 45, check_input, &s), ITD_OK);
	assert_int_equal(s.n_inputs, 5);
	assert_int_equal(itd_journal_read_ticks(j, 18, check_tick, &s), ITD_OK);
	assert_int_equal(s.n_ticks, 2);

	uint64_t tick;
	void *data;
	size_t len;
	assert_int_equal(itd_journal_snapshot_at_most(j, INT64_MAX, &tick, &data, &len, NULL, NULL), ITD_OK);
	assert_int_equal(tick, 20);
	assert_int_equal(len, 5000);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(((uint8_t *)data)[i], (uint8_t)(i * 7 + 20));
	itd_free(data);
	uint64_t lt, la;
	itd_journal_last(j, &lt, &la);
	assert_int_equal(lt, 20);
	assert_int_equal(la, 50);
}

static void test_round_trip(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-rt");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = open_ok(&cfg);
	uint64_t t, last = 0;
	uint8_t snap[5000];
	for (uint64_t a = 1; a <= 50; a++) {
		char buf[64];
		snprintf(buf, sizeof buf, "input-%llu", (unsigned long long)a);
		struct itd_journal_input in = {.arrival = a, .kind = 1, .seq = a * 10,
					       .wall_ms = 1000 + (int64_t)a, .actor = "op",
					       .data = buf, .len = strlen(buf)};
		if (a == 2)
			in = (struct itd_journal_input){.arrival = 2, .kind = 3};
		assert_int_equal(itd_journal_input(j, &in, &t), ITD_OK);
		assert_true(t > last);
		last = t;
		if (a % 5 == 0 && a <= 100) {
			uint64_t tk = a / 5 * 2 - 1;
			for (uint64_t k = tk; k <= tk + 1; k++) {
				uint64_t seqs[2] = {k * 100, k * 100 + 1};
				struct itd_journal_tick tr = {
					.tick = k, .last_arrival = k, .state_hash = ~k, .tel_seq = k * 3,
					.slip_ns = k % 2 ? k * 1000 : 0,
					.tel_start = k == 7 ? UINT64_MAX : k * 3 - 2,
					.time_ms = k == 9 ? INT64_MIN : 1700000000000 + (int64_t)k * 100,
					.auto_seqs = seqs, .n_auto_seqs = (uint32_t)(k % 3)};
				assert_int_equal(itd_journal_tick(j, &tr, &t), ITD_OK);
				if (k % 10 == 0) {
					for (size_t i = 0; i < sizeof snap; i++)
						snap[i] = (uint8_t)(i * 7 + k);
					assert_int_equal(itd_journal_snapshot(j, k, snap, sizeof snap, &t),
							 ITD_OK);
				}
			}
		}
	}
	assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	/* Everything up to the last ticket is durable with it. */
	assert_int_equal(itd_journal_wait(j, 1, 0), ITD_OK);
	/* Read while the writer runs, on a separate connection. */
	verify_round_trip(j);
	struct itd_journal_stats st;
	itd_journal_stats(j, &st);
	assert_int_equal(st.records, 50 + 20 + 2);
	assert_int_equal(st.durable_ticket, t);
	assert_int_equal(st.failures, 0);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	/* And after close and reopen (not creating). */
	cfg.create = false;
	j = open_ok(&cfg);
	verify_round_trip(j);
	/* Arrivals and ticks continue from the database. */
	struct itd_journal_input again = {.arrival = 50, .kind = 1};
	assert_int_equal(itd_journal_input(j, &again, &t), ITD_EINVAL);
	assert_int_equal(t, 0);
	struct itd_journal_tick tk = {.tick = 20};
	assert_int_equal(itd_journal_tick(j, &tk, &t), ITD_EINVAL);
	assert_int_equal(put_input(j, 51, "x"), ITD_OK);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

/* ------------------------------------------------------- format upgrade */

struct input_box {
	uint64_t arrival[4];               /* arrivals read back */
	bool ok;                           /* each as the format 2 row held it */
	int n;
};

static int collect_inputs(void *ctx, const struct itd_journal_input *r)
{
	struct input_box *b = ctx;
	if (b->n < 4)
		b->arrival[b->n++] = r->arrival;
	if (r->arrival == 5)
		b->ok &= r->actor == NULL && r->len == 0 && r->kind == 3 && r->seq == 0;
	else
		b->ok &= r->kind == 1 && r->seq == r->arrival * 10 && r->wall_ms == 99 && r->actor &&
			 !strcmp(r->actor, "op") && r->len == 3 && !memcmp(r->data, "abc", 3);
	return 0;
}

/* A store as format 2 wrote it, in dir: one tick, four inputs as rows, a
 * chain of five entries as rows over two ticks, the old intent indexes. */
static void make_format2(const char *dir)
{
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = open_ok(&cfg);
	uint64_t t;
	struct itd_journal_tick tr = {.tick = 1, .last_arrival = 3, .state_hash = 42, .tel_seq = 5,
				      .slip_ns = 9, .tel_start = 1, .time_ms = 77};
	assert_int_equal(itd_journal_tick(j, &tr, &t), ITD_OK);
	assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	/* The layout as format 2 wrote it: a row per input and per audit
	 * entry, with an index by subject. */
	tamper(dir, "DROP TABLE input_block; DROP TABLE audit_block;"
		    "CREATE TABLE input(arrival INTEGER PRIMARY KEY, kind INTEGER, seq INTEGER,"
		    " wall_ms INTEGER, actor TEXT, data BLOB);"
		    "INSERT INTO input VALUES(2, 1, 20, 99, 'op', X'616263'),"
		    " (3, 1, 30, 99, 'op', X'616263'), (5, 3, 0, 99, NULL, X''),"
		    " (7, 1, 70, 99, 'op', X'616263');"
		    "CREATE TABLE audit(idx INTEGER PRIMARY KEY, tick INTEGER NOT NULL,"
		    " time_ms INTEGER NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,"
		    " actor TEXT NOT NULL, data BLOB NOT NULL, prev_hash BLOB NOT NULL,"
		    " hash BLOB NOT NULL);"
		    "CREATE INDEX audit_by_subject ON audit(subject, idx);"
		    "ALTER TABLE intent DROP COLUMN audit; DROP INDEX intent_live;"
		    "CREATE INDEX intent_by_status ON intent(status, seq);"
		    "CREATE INDEX intent_by_type ON intent(type, seq);"
		    "INSERT INTO intent VALUES(20, 'i-000020', 't', 'completed', 'op', 1, 1),"
		    " (30, 'i-000030', 't', 'queued', 'op', 1, 1);"
		    "ALTER TABLE tick DROP COLUMN slip_ns;"
		    "ALTER TABLE tick DROP COLUMN tel_start;"
		    "ALTER TABLE tick DROP COLUMN time_ms;"
		    "UPDATE meta SET value = 2 WHERE key = 'format_version';");
	/* Its chain: five entries over two ticks; i-000020 in both. */
	{
		static const char *const subj[] = {"i-000020", "i-000030", "i-000020", "",
						   "i-000020"};
		sqlite3 *db = journal_sql(dir);
		sqlite3_stmt *ins = NULL;
		assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO audit VALUES(?1, ?2, ?3, ?4,"
						    " ?5, 'op', ?6, ?7, ?8)", -1, &ins, NULL),
				 SQLITE_OK);
		struct itd_audit_chain c;
		itd_audit_chain_init(&c);
		for (int i = 0; i < 5; i++) {
			struct itd_audit_entry in = {.tick = i < 2 ? 1 : 2, .time_ms = 1000 + i,
						     .kind = "intent.received", .subject = subj[i],
						     .actor = "op", .data = (const uint8_t *)"{}",
						     .data_len = 2}, e;
			assert_int_equal(itd_audit_append(&c, &in, &e), ITD_OK);
			sqlite3_bind_int64(ins, 1, (sqlite3_int64)e.index);
			sqlite3_bind_int64(ins, 2, (sqlite3_int64)e.tick);
			sqlite3_bind_int64(ins, 3, e.time_ms);
			sqlite3_bind_text(ins, 4, e.kind, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 5, e.subject, -1, SQLITE_STATIC);
			sqlite3_bind_blob(ins, 6, e.data, (int)e.data_len, SQLITE_STATIC);
			sqlite3_bind_blob(ins, 7, e.prev_hash, 32, SQLITE_TRANSIENT);
			sqlite3_bind_blob(ins, 8, e.hash, 32, SQLITE_TRANSIENT);
			assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
			sqlite3_reset(ins);
		}
		sqlite3_finalize(ins);
		sqlite3_close(db);
	}
}

/* A format 2 journal (one `input` row per input; ticks without slip_ns,
 * tel_start, time_ms) opened for writing is upgraded in place to format 4:
 * its inputs become blocks and read back as they were, its ticks with
 * those not known; opened read-only, it is refused with a message saying
 * what upgrades it. */
static void test_format2_upgrade(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-fmt2");
	make_format2(dir);
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j;
	uint64_t t;

	/* What it holds can be told without opening (and so upgrading) it. */
	uint64_t peek_tick = 0;
	bool peek_inputs = false;
	itd_journal_peek(dir, &peek_tick, &peek_inputs);
	assert_int_equal(peek_tick, 1);
	assert_true(peek_inputs);

	struct itd_journal_config ro = cfg;
	ro.create = false;
	ro.readonly = true;
	char err[512];
	struct itd_journal *r = NULL;
	assert_int_equal(itd_journal_open(&ro, &r, err, sizeof err), ITD_ECONFIG);
	assert_non_null(strstr(err, "journal format 2"));
	assert_non_null(strstr(err, "intentd upgrade --data DIR"));

	cfg.create = false;
	j = open_ok(&cfg);
	uint64_t last_arrival = 0;
	itd_journal_last(j, NULL, &last_arrival);
	assert_int_equal(last_arrival, 7);
	struct input_box ib = {.ok = true};
	assert_int_equal(itd_journal_read_inputs(j, 2, collect_inputs, &ib), ITD_OK);
	assert_int_equal(ib.n, 3);
	assert_true(ib.ok);
	assert_true(ib.arrival[0] == 3 && ib.arrival[1] == 5 && ib.arrival[2] == 7);
	struct itd_journal_tick got[2];
	int n = 0;
	assert_int_equal(itd_journal_read_ticks(j, 0, collect_ticks, &(struct tick_box){got, &n}),
			 ITD_OK);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].state_hash, 42);
	assert_int_equal(got[0].slip_ns, 0);
	assert_true(got[0].tel_start == UINT64_MAX);
	assert_true(got[0].time_ms == INT64_MIN);
	/* New ticks and inputs keep everything. */
	struct itd_journal_tick tr = {.tick = 2, .last_arrival = 7, .state_hash = 43, .tel_seq = 9,
				      .slip_ns = 5, .tel_start = 6, .time_ms = 88};
	assert_int_equal(itd_journal_tick(j, &tr, &t), ITD_OK);
	assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	assert_int_equal(put_input(j, 8, "x"), ITD_OK);
	n = 0;
	assert_int_equal(itd_journal_read_ticks(j, 1, collect_ticks, &(struct tick_box){got, &n}),
			 ITD_OK);
	assert_int_equal(n, 1);
	assert_true(got[0].slip_ns == 5 && got[0].tel_start == 6 && got[0].time_ms == 88);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	/* Upgraded: read-only opens now work, and see every input. */
	r = open_ok(&ro);
	ib = (struct input_box){.ok = true};
	assert_int_equal(itd_journal_read_inputs(r, 6, collect_inputs, &ib), ITD_OK);
	assert_true(ib.n == 2 && ib.arrival[0] == 7 && ib.arrival[1] == 8);
	assert_int_equal(itd_journal_close(r), ITD_OK);
	/* The chain is now a block per tick and still verifies; each intent
	 * names the blocks holding its entries. */
	{
		sqlite3 *db = journal_sql(dir);
		struct itd_audit_report rep;
		assert_int_equal(itd_audit_verify(db, NULL, &rep), ITD_OK);
		assert_int_equal(rep.n_verified, 5);
		sqlite3_stmt *q = journal_row(db,
					      "SELECT (SELECT group_concat(first || '-' || last)"
					      " FROM audit_block), (SELECT audit FROM intent"
					      " WHERE seq = 20), (SELECT audit FROM intent"
					      " WHERE seq = 30), (SELECT count(*) FROM"
					      " sqlite_master WHERE name IN ('audit', 'input',"
					      " 'intent_by_status', 'intent_by_type')),"
					      " (SELECT count(*) FROM sqlite_master"
					      " WHERE name = 'intent_live')");
		assert_string_equal((const char *)sqlite3_column_text(q, 0), "1-2,3-5");
		assert_string_equal((const char *)sqlite3_column_text(q, 1), "1,3,");
		assert_string_equal((const char *)sqlite3_column_text(q, 2), "1,");
		assert_int_equal(sqlite3_column_int(q, 3), 0);
		assert_int_equal(sqlite3_column_int(q, 4), 1);
		sqlite3_finalize(q);
		sqlite3_close(db);
	}
	rm_dir(dir);
}

/* `intentd upgrade`: an older store upgraded without running anything;
 * offline readers then read it, and a second upgrade has nothing to do. */
static void test_offline_upgrade(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-upgrade");
	char err[512];
	int64_t from = -1;
	assert_int_equal(itd_journal_upgrade(dir, &from, err, sizeof err), ITD_ENOTFOUND);
	assert_non_null(strstr(err, "no intentd store here"));
	make_format2(dir);
	assert_int_equal(itd_journal_upgrade(dir, &from, err, sizeof err), ITD_OK);
	assert_int_equal(from, 2);
	struct itd_journal_config ro = config(dir, "alpha", scn_a);
	ro.create = false;
	ro.readonly = true;
	struct itd_journal *r = open_ok(&ro);
	struct input_box ib = {.ok = true};
	assert_int_equal(itd_journal_read_inputs(r, 0, collect_inputs, &ib), ITD_OK);
	assert_true(ib.ok && ib.n == 4 && ib.arrival[0] == 2 && ib.arrival[3] == 7);
	assert_int_equal(itd_journal_close(r), ITD_OK);
	assert_int_equal(itd_journal_upgrade(dir, &from, err, sizeof err), ITD_OK);
	assert_int_equal(from, ITD_JOURNAL_FORMAT);

	/* A format it does not know is refused, and left as it was. */
	tamper(dir, "UPDATE meta SET value = 1 WHERE key = 'format_version'");
	assert_int_equal(itd_journal_upgrade(dir, &from, err, sizeof err), ITD_ECONFIG);
	assert_non_null(strstr(err, "journal format 1"));
	sqlite3 *db = journal_sql(dir);
	sqlite3_stmt *q = journal_row(db, "SELECT value FROM meta WHERE key = 'format_version'");
	assert_int_equal(sqlite3_column_int(q, 0), 1);
	sqlite3_finalize(q);
	sqlite3_close(db);
	/* Nor is a database that is not a store. */
	tamper(dir, "DROP TABLE meta");
	assert_int_equal(itd_journal_upgrade(dir, &from, err, sizeof err), ITD_EVERIFY);
	assert_non_null(strstr(err, "not an intentd journal"));
	rm_dir(dir);
}

/* ------------------------------------------------------------- snapshots */

struct corrupt_seen {
	uint64_t ticks[8];                 /* ticks reported corrupt */
	int n;                             /* how many */
};

static void on_corrupt(void *ctx, uint64_t tick, const char *why)
{
	struct corrupt_seen *c = ctx;
	assert_non_null(why);
	if (c->n < 8)
		c->ticks[c->n++] = tick;
}

static void test_corrupt_snapshot(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-snap");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = open_ok(&cfg);
	uint64_t t, tick;
	void *data;
	size_t len;
	assert_int_equal(itd_journal_snapshot_at_most(j, INT64_MAX, &tick, &data, &len, NULL, NULL),
			 ITD_ENOTFOUND);
	assert_null(data);
	for (uint64_t k = 10; k <= 30; k += 10) {
		char buf[32];
		snprintf(buf, sizeof buf, "state at %llu", (unsigned long long)k);
		assert_int_equal(itd_journal_snapshot(j, k, buf, strlen(buf), &t), ITD_OK);
	}
	/* A snapshot again at tick 30 replaces the first one. */
	assert_int_equal(itd_journal_snapshot(j, 30, "state at 30!", 12, &t), ITD_OK);
	assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	tamper(dir, "UPDATE snapshot SET data = CAST('state at 31!' AS BLOB) WHERE tick = 30;"
		    "UPDATE snapshot SET checksum = checksum + 1 WHERE tick = 20;");

	cfg.create = false;
	j = open_ok(&cfg);
	struct corrupt_seen c = {0};
	assert_int_equal(itd_journal_snapshot_at_most(j, INT64_MAX, &tick, &data, &len, on_corrupt,
						      &c),
			 ITD_OK);
	assert_int_equal(tick, 10);
	assert_int_equal(len, strlen("state at 10"));
	assert_memory_equal(data, "state at 10", len);
	itd_free(data);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.ticks[0], 30);
	assert_int_equal(c.ticks[1], 20);
	/* Bounded: nothing valid at or before tick 9. */
	assert_int_equal(itd_journal_snapshot_at_most(j, 9, &tick, &data, &len, NULL, NULL),
			 ITD_ENOTFOUND);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

/* keep_snapshots: each commit that writes a snapshot deletes all but the
 * newest N, so a long run's snapshots take bounded room; what is kept
 * still stands in for a damaged newest one. */
static void test_keep_snapshots(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-keep");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	cfg.keep_snapshots = 3;
	struct itd_journal *j = open_ok(&cfg);
	uint64_t t = 0;
	char buf[32];
	/* One per commit, then five in one commit. */
	for (uint64_t k = 10; k <= 50; k += 10) {
		snprintf(buf, sizeof buf, "state at %llu", (unsigned long long)k);
		assert_int_equal(itd_journal_snapshot(j, k, buf, strlen(buf), &t), ITD_OK);
		assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	}
	struct itd_journal_stats js;
	itd_journal_stats(j, &js);
	assert_int_equal(js.snapshots_pruned, 2);
	for (uint64_t k = 60; k <= 100; k += 10) {
		snprintf(buf, sizeof buf, "state at %llu", (unsigned long long)k);
		assert_int_equal(itd_journal_snapshot(j, k, buf, strlen(buf), &t), ITD_OK);
	}
	assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	itd_journal_stats(j, &js);
	assert_int_equal(js.snapshots_pruned, 7);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	sqlite3 *db = journal_sql(dir);
	sqlite3_stmt *st = journal_row(db, "SELECT count(*), min(tick), max(tick) FROM snapshot");
	assert_int_equal(sqlite3_column_int64(st, 0), 3);
	assert_int_equal(sqlite3_column_int64(st, 1), 80);
	assert_int_equal(sqlite3_column_int64(st, 2), 100);
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* The two newest damaged: the oldest kept one is used. */
	tamper(dir, "UPDATE snapshot SET checksum = checksum + 1 WHERE tick >= 90");
	cfg.create = false;
	j = open_ok(&cfg);
	uint64_t tick = 0;
	void *data = NULL;
	size_t len = 0;
	assert_int_equal(itd_journal_snapshot_at_most(j, INT64_MAX, &tick, &data, &len, NULL, NULL),
			 ITD_OK);
	assert_int_equal(tick, 80);
	assert_memory_equal(data, "state at 80", len);
	itd_free(data);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	/* 0 keeps every one. */
	cfg.keep_snapshots = 0;
	j = open_ok(&cfg);
	for (uint64_t k = 110; k <= 150; k += 10)
		assert_int_equal(itd_journal_snapshot(j, k, "s", 1, &t), ITD_OK);
	assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	itd_journal_stats(j, &js);
	assert_int_equal(js.snapshots_pruned, 0);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	db = journal_sql(dir);
	st = journal_row(db, "SELECT count(*) FROM snapshot");
	assert_int_equal(sqlite3_column_int64(st, 0), 8);
	sqlite3_finalize(st);
	sqlite3_close(db);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_format2_upgrade),
		cmocka_unit_test(test_offline_upgrade),
		cmocka_unit_test(test_corrupt_snapshot),
		cmocka_unit_test(test_keep_snapshots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
