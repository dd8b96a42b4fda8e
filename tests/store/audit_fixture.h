/* audit_fixture.h: the audit suites' shared fixture: a chain written to a
 * real SQLite file, the SQL an attacker would run against it, the verdicts
 * the verifier must reach, and a key pair on disk. */
#ifndef ITD_TEST_AUDIT_FIXTURE_H
#define ITD_TEST_AUDIT_FIXTURE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_audit.h"
#include "test_support.h"

/* ------------------------------------------------------------ fixture */

struct fx {
	char *dir;                  /* private temp dir (strdup'd) */
	char path[512];             /* the database file */
	sqlite3 *db;                /* open connection */
	struct itd_audit_store st;  /* prepared insert */
	struct itd_audit_chain c;   /* the writer */
	struct itd_rng rng;         /* picks the "random" entries, reproducibly */
};

static inline void fx_open_db(struct fx *f)
{
	assert_int_equal(sqlite3_open_v2(f->path, &f->db,
					 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
			 SQLITE_OK);
	assert_int_equal(itd_audit_schema(f->db), ITD_OK);
	assert_int_equal(itd_audit_store_open(f->db, &f->st), ITD_OK);
	assert_int_equal(itd_audit_tail(f->db, &f->c), ITD_OK);
}

static inline void fx_init(struct fx *f, const char *tag)
{
	memset(f, 0, sizeof *f);
	f->dir = itd_test_tmpdir(tag);
	snprintf(f->path, sizeof f->path, "%s/audit.db", f->dir);
	itd_audit_chain_init(&f->c);
	itd_rng_seed(&f->rng, 0xa0d17, tag);
	fx_open_db(f);
}

static inline void fx_close_db(struct fx *f)
{
	itd_audit_store_close(&f->st);
	assert_int_equal(sqlite3_close(f->db), SQLITE_OK);
	f->db = NULL;
}

static inline void fx_fini(struct fx *f)
{
	fx_close_db(f);
	itd_audit_chain_fini(&f->c);
	free(f->dir);
}

static inline void exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int src = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (src != SQLITE_OK)
		fprintf(stderr, "%s: %s\n", sql, err ? err : "?");
	sqlite3_free(err);
	assert_int_equal(src, SQLITE_OK);
}

__attribute__((format(printf, 2, 3))) static inline void execf(sqlite3 *db, const char *fmt, ...)
{
	char sql[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	exec(db, sql);
}

/* Record n ordinary entries (with checkpoints if the chain signs) in one
 * transaction; every text and payload is non-empty and varies. */
static inline void fill(struct fx *f, unsigned n)
{
	static const char *const kinds[] = {"intake", "verdict", "mutation", "console",
					    "approval"};
	exec(f->db, "BEGIN");
	for (unsigned i = 0; i < n; i++) {
		uint64_t k = f->c.index + 1;
		char subject[32], actor[32], data[160];
		snprintf(subject, sizeof subject, "i-%06llu", (unsigned long long)k);
		snprintf(actor, sizeof actor, "op-%u", (unsigned)(k % 7));
		int dl = snprintf(data, sizeof data, "{\"n\":%llu,\"pad\":\"%.*s\"}",
				  (unsigned long long)k, (int)(k % 50),
				  "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
		struct itd_audit_entry in = {.tick = k / 3, .time_ms = ITD_CLOCK_SIM_EPOCH_MS + (int64_t)k,
					     .kind = kinds[k % 5], .subject = subject, .actor = actor,
					     .data = (const uint8_t *)data, .data_len = (size_t)dl};
		struct itd_audit_entry out;
		assert_int_equal(itd_audit_record(&f->st, &f->c, &in, &out), ITD_OK);
	}
	exec(f->db, "COMMIT");
}

static inline uint64_t pick(struct fx *f, uint64_t lo, uint64_t hi)
{
	return lo + itd_rng_below(&f->rng, hi - lo + 1);
}

static inline uint64_t count_rows(sqlite3 *db)
{
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM audit", -1, &s, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	uint64_t n = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* Change one byte of column col of entry idx with an SQL UPDATE that keeps
 * the column's type: an integer's byte `pos` (of the low six, so it stays
 * positive), a text's or blob's byte at pos modulo its length.  XOR, so a
 * second identical call restores it. */
static inline void flip(sqlite3 *db, uint64_t idx, const char *col, uint64_t pos)
{
	char sql[128];
	sqlite3_stmt *s, *u;
	snprintf(sql, sizeof sql, "SELECT %s FROM audit WHERE idx = ?", col);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)idx);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	snprintf(sql, sizeof sql, "UPDATE audit SET %s = ? WHERE idx = ?", col);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &u, NULL), SQLITE_OK);
	int type = sqlite3_column_type(s, 0);
	if (type == SQLITE_INTEGER) {
		uint64_t v = (uint64_t)sqlite3_column_int64(s, 0) ^ (UINT64_C(1) << (8 * (pos % 6)));
		sqlite3_bind_int64(u, 1, (sqlite3_int64)v);
	} else {
		int n = sqlite3_column_bytes(s, 0);
		assert_true(n > 0);
		uint8_t *b = malloc((size_t)n);
		assert_non_null(b);
		memcpy(b, sqlite3_column_blob(s, 0), (size_t)n);
		b[pos % (uint64_t)n] ^= 0x01;
		if (type == SQLITE_TEXT)
			sqlite3_bind_text(u, 1, (const char *)b, n, SQLITE_TRANSIENT);
		else
			sqlite3_bind_blob(u, 1, b, n, SQLITE_TRANSIENT);
		free(b);
	}
	sqlite3_bind_int64(u, 2, (sqlite3_int64)idx);
	assert_int_equal(sqlite3_step(u), SQLITE_DONE);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_finalize(u);
	sqlite3_finalize(s);
}

/* What an attacker without the key can do: recompute the hashes and links
 * of entries from..to, so that stretch is self-consistent again. */
static inline void reforge(sqlite3 *db, uint64_t from, uint64_t to)
{
	sqlite3_stmt *s, *u;
	uint8_t prev[32] = {0};
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT idx, tick, time_ms, kind, subject, actor, data, "
					    "hash FROM audit ORDER BY idx", -1, &s, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "UPDATE audit SET prev_hash = ?, hash = ? WHERE idx = ?",
					    -1, &u, NULL),
			 SQLITE_OK);
	exec(db, "BEGIN");
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct itd_audit_entry e = {
			.index = (uint64_t)sqlite3_column_int64(s, 0),
			.tick = (uint64_t)sqlite3_column_int64(s, 1),
			.time_ms = sqlite3_column_int64(s, 2),
			.kind = (const char *)sqlite3_column_text(s, 3),
			.subject = (const char *)sqlite3_column_text(s, 4),
			.actor = (const char *)sqlite3_column_text(s, 5),
			.data = sqlite3_column_blob(s, 6),
			.data_len = (size_t)sqlite3_column_bytes(s, 6)};
		if (e.index < from || e.index > to) {
			memcpy(prev, sqlite3_column_blob(s, 7), 32);
			continue;
		}
		memcpy(e.prev_hash, prev, 32);
		assert_int_equal(itd_audit_hash(&e, e.hash), ITD_OK);
		memcpy(prev, e.hash, 32);
		sqlite3_bind_blob(u, 1, e.prev_hash, 32, SQLITE_TRANSIENT);
		sqlite3_bind_blob(u, 2, e.hash, 32, SQLITE_TRANSIENT);
		sqlite3_bind_int64(u, 3, (sqlite3_int64)e.index);
		assert_int_equal(sqlite3_step(u), SQLITE_DONE);
		sqlite3_reset(u);
	}
	exec(db, "COMMIT");
	sqlite3_finalize(u);
	sqlite3_finalize(s);
}

static inline void expect_fault(sqlite3 *db, const struct itd_audit_verify_opts *o,
			 enum itd_audit_fault f, uint64_t bad)
{
	struct itd_audit_report r;
	int rc = itd_audit_verify_with(db, o, &r);
	if (r.fault != f || r.bad_index != bad)
		fprintf(stderr, "expected %s at %llu, got %s at %llu: %s\n",
			itd_audit_fault_name(f), (unsigned long long)bad,
			itd_audit_fault_name(r.fault), (unsigned long long)r.bad_index, r.why);
	assert_int_equal(rc, ITD_EVERIFY);
	assert_int_equal(r.fault, f);
	assert_int_equal(r.bad_index, bad);
	assert_int_equal(r.n_verified, bad - 1);
	assert_int_equal(r.last_index, bad - 1);
}

static inline void expect_intact(sqlite3 *db, const struct itd_audit_verify_opts *o, uint64_t n)
{
	struct itd_audit_report r;
	int rc = itd_audit_verify_with(db, o, &r);
	if (rc)
		fprintf(stderr, "verify: %s at %llu: %s\n", itd_audit_fault_name(r.fault),
			(unsigned long long)r.bad_index, r.why);
	assert_int_equal(rc, ITD_OK);
	assert_int_equal(r.fault, ITD_AUDIT_INTACT);
	assert_int_equal(r.n_verified, n);
	assert_int_equal(r.last_index, n);
	assert_string_equal(r.why, "");
}

/* ------------------------------------------------------------------ keys */

struct keys {
	char sk_path[600];                 /* secret key file */
	char pk_path[600];                 /* public key file */
	uint8_t sk[ITD_AUDIT_SK_LEN];      /* loaded secret key */
	uint8_t pk[ITD_AUDIT_PK_LEN];      /* loaded public key */
};

static inline void make_keys(const char *dir, const char *name, struct keys *k)
{
	snprintf(k->sk_path, sizeof k->sk_path, "%s/%s.key", dir, name);
	snprintf(k->pk_path, sizeof k->pk_path, "%s/%s.pub", dir, name);
	assert_int_equal(itd_audit_keygen(k->sk_path, k->pk_path), ITD_OK);
	assert_int_equal(itd_audit_key_load_secret(k->sk_path, k->sk), ITD_OK);
	assert_int_equal(itd_audit_key_load_public(k->pk_path, k->pk), ITD_OK);
}

#endif
