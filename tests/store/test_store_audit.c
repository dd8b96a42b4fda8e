/* test_store_audit.c: the audit chain as an auditor relies on it: a byte
 * layout anyone can recompute, and a verifier that names the first entry
 * that was changed, deleted, moved or forged, in a real SQLite file. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static void fx_open_db(struct fx *f)
{
	assert_int_equal(sqlite3_open_v2(f->path, &f->db,
					 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
			 SQLITE_OK);
	assert_int_equal(itd_audit_schema(f->db), ITD_OK);
	assert_int_equal(itd_audit_store_open(f->db, &f->st), ITD_OK);
	assert_int_equal(itd_audit_tail(f->db, &f->c), ITD_OK);
}

static void fx_init(struct fx *f, const char *tag)
{
	memset(f, 0, sizeof *f);
	f->dir = itd_test_tmpdir(tag);
	snprintf(f->path, sizeof f->path, "%s/audit.db", f->dir);
	itd_audit_chain_init(&f->c);
	itd_rng_seed(&f->rng, 0xa0d17, tag);
	fx_open_db(f);
}

static void fx_close_db(struct fx *f)
{
	itd_audit_store_close(&f->st);
	assert_int_equal(sqlite3_close(f->db), SQLITE_OK);
	f->db = NULL;
}

static void fx_fini(struct fx *f)
{
	fx_close_db(f);
	itd_audit_chain_fini(&f->c);
	free(f->dir);
}

static void exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int src = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (src != SQLITE_OK)
		fprintf(stderr, "%s: %s\n", sql, err ? err : "?");
	sqlite3_free(err);
	assert_int_equal(src, SQLITE_OK);
}

__attribute__((format(printf, 2, 3))) static void execf(sqlite3 *db, const char *fmt, ...)
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
static void fill(struct fx *f, unsigned n)
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

static uint64_t pick(struct fx *f, uint64_t lo, uint64_t hi)
{
	return lo + itd_rng_below(&f->rng, hi - lo + 1);
}

static uint64_t count_rows(sqlite3 *db)
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
static void flip(sqlite3 *db, uint64_t idx, const char *col, uint64_t pos)
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
static void reforge(sqlite3 *db, uint64_t from, uint64_t to)
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

/* The data column of entry idx, copied into buf. */
static size_t read_data(sqlite3 *db, uint64_t idx, uint8_t *buf, size_t cap)
{
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT data FROM audit WHERE idx = ?", -1, &s,
					    NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)idx);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	size_t n = (size_t)sqlite3_column_bytes(s, 0);
	assert_true(n <= cap);
	memcpy(buf, sqlite3_column_blob(s, 0), n);
	sqlite3_finalize(s);
	return n;
}

static void expect_fault(sqlite3 *db, const struct itd_audit_verify_opts *o,
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

static void expect_intact(sqlite3 *db, const struct itd_audit_verify_opts *o, uint64_t n)
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

/* ------------------------------------------------------------ encoding */

static void put_field(uint8_t *buf, size_t *off, const void *p, uint64_t n)
{
	for (int i = 0; i < 8; i++)
		buf[(*off)++] = (uint8_t)(n >> (8 * i));
	memcpy(buf + *off, p, n);
	*off += n;
}

static void put_int(uint8_t *buf, size_t *off, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_field(buf, off, b, 8);
}

/* The golden vectors were computed outside this code base (Python's
 * hashlib over the layout in store_audit.h); the hand-built bytes show the
 * layout and the library agree byte for byte. */
static void test_golden_vector(void **state)
{
	(void)state;
	static const char data[] = "{\"verdict\":\"approved\"}";
	struct itd_audit_entry e = {.index = 7, .tick = 42, .time_ms = INT64_C(1735689600123),
				    .kind = "verdict", .subject = "i-000007", .actor = "operator",
				    .data = (const uint8_t *)data, .data_len = sizeof data - 1};
	for (int i = 0; i < 32; i++)
		e.prev_hash[i] = (uint8_t)i;
	uint8_t want[512], got[512], h[32], h2[32];
	size_t n = 0, len;
	put_field(want, &n, "intentd.audit.v1", 16);
	put_int(want, &n, 7);
	put_int(want, &n, 42);
	put_int(want, &n, UINT64_C(1735689600123));
	put_field(want, &n, "verdict", 7);
	put_field(want, &n, "i-000007", 8);
	put_field(want, &n, "operator", 8);
	put_field(want, &n, data, sizeof data - 1);
	put_field(want, &n, e.prev_hash, 32);
	assert_int_equal(n, 144 + 7 + 8 + 8 + 22);
	assert_int_equal(itd_audit_encode(&e, got, sizeof got, &len), ITD_OK);
	assert_int_equal(len, n);
	assert_memory_equal(got, want, n);
	assert_int_equal(itd_sha256(want, n, h), ITD_OK);
	assert_int_equal(itd_audit_hash(&e, h2), ITD_OK);
	assert_memory_equal(h, h2, 32);
	char hex[65];
	itd_hex(h2, 32, hex);
	assert_string_equal(hex, "c415120f866f5e0a2e8bec749de45565566889bf726e6cdf33aa14e2d117d7ac");

	/* Genesis link, negative time, NULL subject/actor/data encode as empty. */
	struct itd_audit_entry g = {.index = 1, .time_ms = -5, .kind = "intake"};
	n = 0;
	put_field(want, &n, "intentd.audit.v1", 16);
	put_int(want, &n, 1);
	put_int(want, &n, 0);
	put_int(want, &n, (uint64_t)INT64_C(-5));
	put_field(want, &n, "intake", 6);
	put_field(want, &n, "", 0);
	put_field(want, &n, "", 0);
	put_field(want, &n, "", 0);
	put_field(want, &n, g.prev_hash, 32);
	assert_int_equal(itd_audit_encode(&g, got, sizeof got, &len), ITD_OK);
	assert_int_equal(len, 150);
	assert_memory_equal(got, want, n);
	assert_int_equal(itd_audit_hash(&g, h2), ITD_OK);
	itd_hex(h2, 32, hex);
	assert_string_equal(hex, "989a8d7af0da4cf65c47b6c0e7c0e4be5f801d3ed9c73d5701e1bcb88ba28ced");

	/* Errors: short buffer, over the limits, missing kind. */
	assert_int_equal(itd_audit_encode(&g, got, 149, &len), ITD_EFULL);
	assert_int_equal(len, 0);
	g.data = (const uint8_t *)data;
	g.data_len = ITD_AUDIT_MAX_DATA + 1;
	assert_int_equal(itd_audit_hash(&g, h2), ITD_ELIMIT);
	g.data_len = 0;
	g.kind = NULL;
	assert_int_equal(itd_audit_encode(&g, got, sizeof got, &len), ITD_EINVAL);
	g.kind = "intake";
	g.data = NULL;
	g.data_len = 3;
	assert_int_equal(itd_audit_hash(&g, h2), ITD_EINVAL);
}

/* Moving a byte from one field to the next changes the hash: the lengths
 * are part of what is hashed. */
static void test_encoding_unambiguous(void **state)
{
	(void)state;
	struct itd_audit_entry a = {.index = 1, .kind = "ab", .subject = "c", .actor = ""};
	struct itd_audit_entry b = {.index = 1, .kind = "a", .subject = "bc", .actor = ""};
	struct itd_audit_entry c = {.index = 1, .kind = "a", .subject = "b", .actor = "c"};
	uint8_t ha[32], hb[32], hc[32];
	assert_int_equal(itd_audit_hash(&a, ha), ITD_OK);
	assert_int_equal(itd_audit_hash(&b, hb), ITD_OK);
	assert_int_equal(itd_audit_hash(&c, hc), ITD_OK);
	assert_memory_not_equal(ha, hb, 32);
	assert_memory_not_equal(hb, hc, 32);
	assert_memory_not_equal(ha, hc, 32);
}

/* ---------------------------------------------------------------- chain */

static void test_append_contract(void **state)
{
	(void)state;
	struct itd_audit_chain c;
	struct itd_audit_entry in = {.tick = 3, .kind = "intake", .subject = "i-000001"};
	struct itd_audit_entry e1, e2, bad;
	uint8_t zero[32] = {0}, h[32];
	itd_audit_chain_init(&c);
	assert_int_equal(itd_audit_append(&c, &in, &e1), ITD_OK);
	assert_int_equal(e1.index, 1);
	assert_memory_equal(e1.prev_hash, zero, 32);
	assert_int_equal(itd_audit_hash(&e1, h), ITD_OK);
	assert_memory_equal(h, e1.hash, 32);
	assert_ptr_equal(e1.subject, in.subject);
	assert_int_equal(itd_audit_append(&c, &in, &e2), ITD_OK);
	assert_int_equal(e2.index, 2);
	assert_memory_equal(e2.prev_hash, e1.hash, 32);
	assert_memory_equal(c.hash, e2.hash, 32);

	/* Refusals leave the chain as it was and zero the OUT entry. */
	struct itd_audit_entry cp = {.kind = ITD_AUDIT_CHECKPOINT_KIND};
	memset(&bad, 0xff, sizeof bad);
	assert_int_equal(itd_audit_append(&c, &cp, &bad), ITD_EINVAL);
	assert_null(bad.kind);
	assert_int_equal(bad.index, 0);
	static uint8_t big[ITD_AUDIT_MAX_DATA + 1];
	struct itd_audit_entry huge = {.kind = "mutation", .data = big, .data_len = sizeof big};
	assert_int_equal(itd_audit_append(&c, &huge, &bad), ITD_ELIMIT);
	huge.data_len = ITD_AUDIT_MAX_DATA;
	assert_int_equal(c.index, 2);
	assert_memory_equal(c.hash, e2.hash, 32);
	assert_int_equal(itd_audit_append(&c, &huge, &bad), ITD_OK);
	assert_int_equal(bad.index, 3);

	/* No signer: no checkpoint. */
	assert_false(itd_audit_checkpoint_due(&c));
	assert_int_equal(itd_audit_checkpoint(&c, 0, 0, &bad), ITD_ESTATE);
	c.broken = true;
	assert_int_equal(itd_audit_append(&c, &in, &bad), ITD_ESTATE);
	itd_audit_chain_fini(&c);
}

/* 1000 entries verify; the tail comes back after a reopen; the chain goes
 * on from it; a rolled back transaction is recovered with the tail. */
static void test_chain_1000(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "audit-1000");
	expect_intact(f.db, NULL, 0);
	fill(&f, 1000);
	assert_int_equal(count_rows(f.db), 1000);
	struct itd_audit_report r;
	assert_int_equal(itd_audit_verify(f.db, NULL, &r), ITD_OK);
	assert_int_equal(r.n_verified, 1000);
	assert_int_equal(r.n_checkpoints, 0);
	assert_memory_equal(r.last_hash, f.c.hash, 32);

	uint8_t head[32];
	memcpy(head, f.c.hash, 32);
	fx_close_db(&f);
	itd_audit_chain_init(&f.c);
	fx_open_db(&f);
	assert_int_equal(f.c.index, 1000);
	assert_memory_equal(f.c.hash, head, 32);
	fill(&f, 10);
	expect_intact(f.db, NULL, 1010);

	/* A rolled back batch leaves the chain ahead; the tail resets it. */
	struct itd_audit_entry in = {.kind = "console", .subject = "x"}, out;
	exec(f.db, "BEGIN");
	assert_int_equal(itd_audit_record(&f.st, &f.c, &in, &out), ITD_OK);
	assert_int_equal(itd_audit_record(&f.st, &f.c, &in, &out), ITD_OK);
	exec(f.db, "ROLLBACK");
	assert_int_equal(f.c.index, 1012);
	assert_int_equal(itd_audit_tail(f.db, &f.c), ITD_OK);
	assert_int_equal(f.c.index, 1010);
	/* Inserting an index that exists is refused. */
	struct itd_audit_entry dup;
	struct itd_audit_chain back = f.c;
	back.index--;
	assert_int_equal(itd_audit_append(&back, &in, &dup), ITD_OK);
	assert_int_equal(itd_audit_insert(&f.st, &dup), ITD_EEXISTS);
	fill(&f, 1);
	expect_intact(f.db, NULL, 1011);
	fx_fini(&f);
}

/* --------------------------------------------------------------- tamper */

/* One byte of any column of a random entry, by SQL UPDATE: verify names
 * that very entry.  (prev_hash is hashed, so a prev_hash-only change is
 * named at the entry itself, not the next.)  Undoing it restores the
 * chain.  A damaged last entry also stops the tail restore. */
static void test_tamper_one_byte(void **state)
{
	(void)state;
	static const char *const cols[] = {"tick", "time_ms", "kind", "subject", "actor",
					   "data", "prev_hash", "hash"};
	struct fx f;
	fx_init(&f, "audit-tamper");
	fill(&f, 300);
	for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
		for (int round = 0; round < 4; round++) {
			uint64_t i = round == 0 ? 1 : round == 1 ? 300 : pick(&f, 2, 299);
			uint64_t pos = pick(&f, 0, 1000);
			flip(f.db, i, cols[c], pos);
			expect_fault(f.db, NULL, ITD_AUDIT_HASH_MISMATCH, i);
			struct itd_audit_report r;
			assert_int_equal(itd_audit_verify(f.db, NULL, &r), ITD_EVERIFY);
			assert_string_equal(r.why, "hash mismatch");
			if (i == 300) {
				struct itd_audit_chain t;
				itd_audit_chain_init(&t);
				assert_int_equal(itd_audit_tail(f.db, &t), ITD_EVERIFY);
				assert_true(t.broken);
				assert_int_equal(t.index, 0);
				struct itd_audit_entry in = {.kind = "intake"}, out;
				assert_int_equal(itd_audit_append(&t, &in, &out), ITD_ESTATE);
			}
			flip(f.db, i, cols[c], pos);
			expect_intact(f.db, NULL, 300);
		}
	}
	fx_fini(&f);
}

/* An entry changed and its hash recomputed (anyone can): the next entry's
 * link names it.  The last entry rewritten this way is invisible to the
 * chain alone; an external head catches it. */
static void test_rewrite_recomputed(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "audit-rewrite");
	fill(&f, 200);
	struct itd_audit_head head = {.index = 200};
	memcpy(head.hash, f.c.hash, 32);
	uint64_t i = pick(&f, 1, 199);
	flip(f.db, i, "data", 3);
	reforge(f.db, i, UINT64_MAX);
	/* The whole suffix is consistent again: the chain alone sees nothing. */
	expect_intact(f.db, NULL, 200);
	/* The head recorded before the rewrite does. */
	struct itd_audit_verify_opts o = {.head = &head};
	expect_fault(f.db, &o, ITD_AUDIT_HEAD_MISMATCH, 200);
	fx_fini(&f);

	/* Entry i alone rewritten and rehashed: entry i+1's link names it. */
	fx_init(&f, "audit-rewrite1");
	fill(&f, 200);
	i = pick(&f, 1, 199);
	flip(f.db, i, "actor", 0);
	reforge(f.db, i, i);
	expect_fault(f.db, NULL, ITD_AUDIT_PREV_MISMATCH, i + 1);
	struct itd_audit_report r;
	assert_int_equal(itd_audit_verify(f.db, NULL, &r), ITD_EVERIFY);
	char want[96];
	snprintf(want, sizeof want, "prev_hash does not match entry %llu", (unsigned long long)i);
	assert_string_equal(r.why, want);
	/* The last entry rewritten and rehashed: only the head tells. */
	flip(f.db, i, "actor", 0);
	reforge(f.db, i, i);
	expect_intact(f.db, NULL, 200);
	head.index = 200;
	memcpy(head.hash, f.c.hash, 32);
	flip(f.db, 200, "kind", 1);
	reforge(f.db, 200, 200);
	expect_intact(f.db, NULL, 200);
	expect_fault(f.db, &o, ITD_AUDIT_HEAD_MISMATCH, 200);
	fx_fini(&f);
}

static void test_delete_entries(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "audit-delete");
	fill(&f, 1000);
	uint64_t i = pick(&f, 2, 999);
	execf(f.db, "DELETE FROM audit WHERE idx = %llu", (unsigned long long)i);
	expect_fault(f.db, NULL, ITD_AUDIT_MISSING, i);
	struct itd_audit_report r;
	assert_int_equal(itd_audit_verify(f.db, NULL, &r), ITD_EVERIFY);
	assert_int_equal(r.missing_to, i);
	char want[96];
	snprintf(want, sizeof want, "missing entries %llu..%llu (deleted)", (unsigned long long)i,
		 (unsigned long long)i);
	assert_string_equal(r.why, want);
	fx_fini(&f);

	/* A range, and the very first entry. */
	fx_init(&f, "audit-delete2");
	fill(&f, 400);
	exec(f.db, "DELETE FROM audit WHERE idx BETWEEN 120 AND 135");
	expect_fault(f.db, NULL, ITD_AUDIT_MISSING, 120);
	assert_int_equal(itd_audit_verify(f.db, NULL, &r), ITD_EVERIFY);
	assert_int_equal(r.missing_to, 135);
	assert_string_equal(r.why, "missing entries 120..135 (deleted)");
	exec(f.db, "DELETE FROM audit WHERE idx = 1");
	expect_fault(f.db, NULL, ITD_AUDIT_MISSING, 1);
	fx_fini(&f);
}

/* Deleting the tail leaves a valid, shorter chain: only a head kept
 * outside the database reveals it. */
static void test_truncation(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "audit-trunc");
	fill(&f, 1000);
	struct itd_audit_head head = {.index = f.c.index};
	memcpy(head.hash, f.c.hash, 32);
	exec(f.db, "DELETE FROM audit WHERE idx > 995");
	expect_intact(f.db, NULL, 995);
	struct itd_audit_verify_opts o = {.head = &head};
	expect_fault(f.db, &o, ITD_AUDIT_TRUNCATED, 996);
	struct itd_audit_report r;
	assert_int_equal(itd_audit_verify_with(f.db, &o, &r), ITD_EVERIFY);
	assert_int_equal(r.missing_to, 1000);
	assert_string_equal(r.why, "missing entries 996..1000 (truncated)");
	/* A head the shortened chain still reaches holds. */
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(f.db, "SELECT hash FROM audit WHERE idx = 500", -1, &s,
					    NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	struct itd_audit_head old = {.index = 500};
	memcpy(old.hash, sqlite3_column_blob(s, 0), 32);
	sqlite3_finalize(s);
	o.head = &old;
	expect_intact(f.db, &o, 995);
	fx_fini(&f);
}

/* Entries under other indexes: a swap, a move, an entry under index 0. */
static void test_reorder(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "audit-order");
	fill(&f, 500);
	uint64_t a = pick(&f, 1, 480), b = a + pick(&f, 1, 10);
	execf(f.db, "UPDATE audit SET idx = -1 WHERE idx = %llu", (unsigned long long)a);
	execf(f.db, "UPDATE audit SET idx = %llu WHERE idx = %llu", (unsigned long long)a,
	      (unsigned long long)b);
	execf(f.db, "UPDATE audit SET idx = %llu WHERE idx = -1", (unsigned long long)b);
	expect_fault(f.db, NULL, ITD_AUDIT_ORDER, a);
	struct itd_audit_report r;
	assert_int_equal(itd_audit_verify(f.db, NULL, &r), ITD_EVERIFY);
	char want[96];
	snprintf(want, sizeof want, "index out of order: holds the entry written as %llu",
		 (unsigned long long)b);
	assert_string_equal(r.why, want);
	/* Swap back: intact. */
	execf(f.db, "UPDATE audit SET idx = -1 WHERE idx = %llu", (unsigned long long)a);
	execf(f.db, "UPDATE audit SET idx = %llu WHERE idx = %llu", (unsigned long long)a,
	      (unsigned long long)b);
	execf(f.db, "UPDATE audit SET idx = %llu WHERE idx = -1", (unsigned long long)b);
	expect_intact(f.db, NULL, 500);
	/* The first entry moved under index 0. */
	exec(f.db, "UPDATE audit SET idx = 0 WHERE idx = 1");
	expect_fault(f.db, NULL, ITD_AUDIT_ORDER, 1);
	fx_fini(&f);
}

/* Rows no writer could produce: a column of the wrong type, a NUL inside
 * a text (which would otherwise hide what follows it from the hash). */
static void test_malformed(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "audit-malformed");
	fill(&f, 50);
	exec(f.db, "UPDATE audit SET kind = CAST(kind AS BLOB) WHERE idx = 10");
	expect_fault(f.db, NULL, ITD_AUDIT_MALFORMED, 10);
	struct itd_audit_report r;
	assert_int_equal(itd_audit_verify(f.db, NULL, &r), ITD_EVERIFY);
	assert_string_equal(r.why, "malformed: bad kind column");
	exec(f.db, "UPDATE audit SET kind = CAST(kind AS TEXT) WHERE idx = 10");
	expect_intact(f.db, NULL, 50);
	exec(f.db, "UPDATE audit SET subject = subject || char(0) || 'x' WHERE idx = 20");
	expect_fault(f.db, NULL, ITD_AUDIT_MALFORMED, 20);
	exec(f.db, "UPDATE audit SET subject = 'i-000020' WHERE idx = 20");
	expect_intact(f.db, NULL, 50);
	exec(f.db, "UPDATE audit SET hash = substr(hash, 1, 31) WHERE idx = 30");
	expect_fault(f.db, NULL, ITD_AUDIT_MALFORMED, 30);
	exec(f.db, "UPDATE audit SET tick = 'x' WHERE idx = 5");
	expect_fault(f.db, NULL, ITD_AUDIT_MALFORMED, 5);
	fx_fini(&f);
}

/* ---------------------------------------------------------- checkpoints */

struct keys {
	char sk_path[600];                 /* secret key file */
	char pk_path[600];                 /* public key file */
	uint8_t sk[ITD_AUDIT_SK_LEN];      /* loaded secret key */
	uint8_t pk[ITD_AUDIT_PK_LEN];      /* loaded public key */
};

static void make_keys(const char *dir, const char *name, struct keys *k)
{
	snprintf(k->sk_path, sizeof k->sk_path, "%s/%s.key", dir, name);
	snprintf(k->pk_path, sizeof k->pk_path, "%s/%s.pub", dir, name);
	assert_int_equal(itd_audit_keygen(k->sk_path, k->pk_path), ITD_OK);
	assert_int_equal(itd_audit_key_load_secret(k->sk_path, k->sk), ITD_OK);
	assert_int_equal(itd_audit_key_load_public(k->pk_path, k->pk), ITD_OK);
}

static void test_checkpoints(void **state)
{
	(void)state;
	struct fx f;
	struct keys k, evil;
	fx_init(&f, "audit-cp");
	make_keys(f.dir, "audit", &k);
	assert_int_equal(itd_audit_chain_set_signer(&f.c, k.sk, 10), ITD_OK);
	fill(&f, 100);
	/* A checkpoint after every 10 entries: at 11, 22, ..., 110. */
	assert_int_equal(f.c.index, 110);
	assert_int_equal(count_rows(f.db), 110);
	struct itd_audit_verify_opts o = {.pubkey = k.pk, .checkpoint_every = 10};
	struct itd_audit_report r;
	assert_int_equal(itd_audit_verify_with(f.db, &o, &r), ITD_OK);
	assert_int_equal(r.n_checkpoints, 10);
	assert_int_equal(r.n_verified, 110);
	assert_int_equal(itd_audit_verify(f.db, NULL, &r), ITD_OK);
	assert_int_equal(r.n_checkpoints, 0);
	/* Reopened, the writer carries on with its checkpoints in step. */
	fx_close_db(&f);
	fx_open_db(&f);
	fill(&f, 20);
	assert_int_equal(f.c.index, 132);
	assert_int_equal(itd_audit_verify_with(f.db, &o, &r), ITD_OK);
	assert_int_equal(r.n_checkpoints, 12);

	/* Truncation, caught by the last checkpoint kept outside the db. */
	uint8_t cp[ITD_AUDIT_CHECKPOINT_LEN + 8];
	assert_int_equal(read_data(f.db, 132, cp, sizeof cp), ITD_AUDIT_CHECKPOINT_LEN);
	struct itd_audit_head head;
	assert_int_equal(itd_audit_head_from_checkpoint(k.pk, cp, ITD_AUDIT_CHECKPOINT_LEN, &head),
			 ITD_OK);
	assert_int_equal(head.index, 131);
	cp[50] ^= 1;
	struct itd_audit_head junk;
	assert_int_equal(itd_audit_head_from_checkpoint(k.pk, cp, ITD_AUDIT_CHECKPOINT_LEN, &junk),
			 ITD_EVERIFY);
	assert_int_equal(junk.index, 0);
	exec(f.db, "DELETE FROM audit WHERE idx > 100");
	assert_int_equal(itd_audit_verify_with(f.db, &o, &r), ITD_OK); /* alone: nothing */
	struct itd_audit_verify_opts oh = {.pubkey = k.pk, .checkpoint_every = 10, .head = &head};
	expect_fault(f.db, &oh, ITD_AUDIT_TRUNCATED, 101);
	fx_fini(&f);

	/* A tampered checkpoint, re-chained so its hash holds: bad signature. */
	fx_init(&f, "audit-cp2");
	make_keys(f.dir, "audit", &k);
	assert_int_equal(itd_audit_chain_set_signer(&f.c, k.sk, 10), ITD_OK);
	fill(&f, 100);
	flip(f.db, 33, "data", 70);
	reforge(f.db, 33, UINT64_MAX);
	expect_intact(f.db, NULL, 110);
	o.pubkey = k.pk;
	expect_fault(f.db, &o, ITD_AUDIT_BAD_SIGNATURE, 33);
	flip(f.db, 33, "data", 70);
	reforge(f.db, 33, UINT64_MAX);
	expect_intact(f.db, &o, 110);

	/* A forged chain (entry 5 changed, everything after re-hashed, the
	 * checkpoints copied): the first checkpoint no longer signs it. */
	flip(f.db, 5, "data", 2);
	reforge(f.db, 5, UINT64_MAX);
	expect_intact(f.db, NULL, 110);
	expect_fault(f.db, &o, ITD_AUDIT_BAD_CHECKPOINT, 11);
	fx_fini(&f);

	/* A whole chain forged with another key, or without checkpoints. */
	fx_init(&f, "audit-cp3");
	make_keys(f.dir, "audit", &k);
	make_keys(f.dir, "evil", &evil);
	assert_int_equal(itd_audit_chain_set_signer(&f.c, evil.sk, 10), ITD_OK);
	fill(&f, 30);
	o.pubkey = k.pk;
	expect_fault(f.db, &o, ITD_AUDIT_BAD_SIGNATURE, 11);
	fx_close_db(&f);
	unlink(f.path);
	itd_audit_chain_fini(&f.c);
	itd_audit_chain_init(&f.c);
	fx_open_db(&f);
	fill(&f, 30);
	expect_fault(f.db, &o, ITD_AUDIT_NO_CHECKPOINT, 11);
	o.checkpoint_every = 0; /* without the interval, only the count tells */
	assert_int_equal(itd_audit_verify_with(f.db, &o, &r), ITD_OK);
	assert_int_equal(r.n_checkpoints, 0);
	fx_fini(&f);
	struct itd_audit_chain c;
	itd_audit_chain_init(&c);
	assert_int_equal(itd_audit_chain_set_signer(&c, k.sk, 0), ITD_EINVAL);
	assert_false(itd_audit_checkpoint_due(&c));
	itd_audit_chain_fini(&c);
}

static void test_key_files(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("audit-keys");
	struct keys k;
	struct stat sb;
	uint8_t sk[ITD_AUDIT_SK_LEN], pk[ITD_AUDIT_PK_LEN], zero[ITD_AUDIT_SK_LEN] = {0};
	mode_t old = umask(077); /* the public key still comes out 0644 */
	make_keys(dir, "a", &k);
	umask(old);
	assert_int_equal(stat(k.sk_path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(k.pk_path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	size_t len;
	char *text = itd_test_read_file(k.sk_path, &len);
	assert_int_equal(len, 129);
	free(text);
	/* Never overwritten. */
	assert_int_equal(itd_audit_keygen(k.sk_path, k.pk_path), ITD_EEXISTS);
	assert_int_equal(itd_audit_key_load_secret(k.sk_path, sk), ITD_OK);
	assert_memory_equal(sk, k.sk, sizeof sk);
	/* Readable by group or others: refused, and nothing is returned. */
	static const mode_t open_modes[] = {0640, 0604, 0660, 0644, 0610};
	for (size_t i = 0; i < sizeof open_modes / sizeof open_modes[0]; i++) {
		assert_int_equal(chmod(k.sk_path, open_modes[i]), 0);
		memset(sk, 0xaa, sizeof sk);
		assert_int_equal(itd_audit_key_load_secret(k.sk_path, sk), ITD_ECONFIG);
		assert_memory_equal(sk, zero, sizeof sk);
	}
	assert_int_equal(chmod(k.sk_path, 0400), 0);
	assert_int_equal(itd_audit_key_load_secret(k.sk_path, sk), ITD_OK);
	assert_int_equal(itd_audit_key_load_secret(dir, sk), ITD_ECONFIG);
	char path[600];
	snprintf(path, sizeof path, "%s/none.key", dir);
	assert_int_equal(itd_audit_key_load_secret(path, sk), ITD_ENOTFOUND);
	assert_int_equal(itd_audit_key_load_public(path, pk), ITD_ENOTFOUND);
	/* Damaged contents: not hex, wrong length, inconsistent halves. */
	static const char *const bad[] = {"zz", "00", ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unlink(path);
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		fputs(bad[i], fp);
		fclose(fp);
		assert_int_equal(chmod(path, 0600), 0);
		assert_int_equal(itd_audit_key_load_secret(path, sk), ITD_EPARSE);
		assert_int_equal(itd_audit_key_load_public(path, pk), ITD_EPARSE);
	}
	char hex[2 * ITD_AUDIT_SK_LEN + 1];
	uint8_t mixed[ITD_AUDIT_SK_LEN];
	memcpy(mixed, k.sk, sizeof mixed);
	mixed[40] ^= 1; /* the public half no longer matches the seed */
	itd_hex(mixed, sizeof mixed, hex);
	unlink(path);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(hex, fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(itd_audit_key_load_secret(path, sk), ITD_EPARSE);
	/* keygen refuses when the public file exists and leaves no secret. */
	snprintf(path, sizeof path, "%s/b.key", dir);
	assert_int_equal(itd_audit_keygen(path, k.pk_path), ITD_EEXISTS);
	assert_int_equal(access(path, F_OK), -1);
	free(dir);
}

/* --------------------------------------------------- failure injection */

/* SQLite's allocations routed through itd_malloc (installed in main), so
 * the walk below fails SQLite's own allocations as well as ours.  A
 * 16-byte header keeps the size for xSize and the alignment. */
static void *sq_malloc(int n)
{
	uint8_t *p = itd_malloc((size_t)n + 16);
	if (!p)
		return NULL;
	size_t sz = (size_t)n;
	memcpy(p, &sz, sizeof sz);
	return p + 16;
}

static void sq_free(void *p)
{
	if (p)
		itd_free((uint8_t *)p - 16);
}

static void *sq_realloc(void *p, int n)
{
	uint8_t *q = itd_realloc((uint8_t *)p - 16, (size_t)n + 16);
	if (!q)
		return NULL;
	size_t sz = (size_t)n;
	memcpy(q, &sz, sizeof sz);
	return q + 16;
}

static int sq_size(void *p)
{
	size_t sz;
	memcpy(&sz, (uint8_t *)p - 16, sizeof sz);
	return (int)sz;
}

static int sq_roundup(int n)
{
	return (n + 7) & ~7;
}

static int sq_init(void *arg)
{
	(void)arg;
	return SQLITE_OK;
}

static void sq_shutdown(void *arg)
{
	(void)arg;
}

static bool oom_code(int rc)
{
	return rc == ITD_ENOMEM || rc == ITD_EIO;
}

/* Open, schema, store, tail and a verify with checkpoints, failing the
 * nth allocation for n = 1, 2, ...: every step fails cleanly (never as a
 * verification failure), and once nothing fails the results are right. */
static void test_alloc_failure_walk(void **state)
{
	(void)state;
	struct fx f;
	struct keys k;
	fx_init(&f, "audit-oom");
	make_keys(f.dir, "audit", &k);
	assert_int_equal(itd_audit_chain_set_signer(&f.c, k.sk, 4), ITD_OK);
	fill(&f, 40);
	/* Payloads that spill onto overflow pages, so reading them back
	 * allocates and that failure is walked too. */
	static uint8_t big[20000];
	memset(big, 'b', sizeof big);
	struct itd_audit_entry fat = {.kind = "mutation", .subject = "i-000041", .actor = "big",
				     .data = big, .data_len = sizeof big};
	assert_int_equal(itd_audit_record(&f.st, &f.c, &fat, NULL), ITD_OK);
	assert_int_equal(itd_audit_record(&f.st, &f.c, &fat, NULL), ITD_OK);
	uint64_t n_total = f.c.index;
	uint8_t want_hash[32];
	memcpy(want_hash, f.c.hash, 32);
	fx_close_db(&f);
	struct itd_audit_verify_opts o = {.pubkey = k.pk, .checkpoint_every = 4};
	long n;
	int clean = 0;
	for (n = 1; n < 20000 && clean < 3; n++) {
		sqlite3 *db = NULL;
		struct itd_audit_store st;
		struct itd_audit_chain c;
		struct itd_audit_report r = {0};
		memset(&st, 0, sizeof st);
		itd_audit_chain_init(&c);
		itd_alloc_fail_at(n);
		int rc = sqlite3_open_v2(f.path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK
				 ? ITD_OK
				 : ITD_ENOMEM;
		if (rc == ITD_OK)
			rc = itd_audit_schema(db);
		if (rc == ITD_OK)
			rc = itd_audit_store_open(db, &st);
		if (rc == ITD_OK) {
			rc = itd_audit_tail(db, &c);
			if (rc) {
				assert_true(c.broken);
				assert_int_equal(c.index, 0);
			}
		}
		if (rc == ITD_OK) {
			rc = itd_audit_verify_with(db, &o, &r);
			if (rc) {
				assert_int_equal(r.n_verified, 0);
				assert_int_equal(r.fault, ITD_AUDIT_INTACT);
			}
		}
		bool failed = itd_alloc_failed();
		itd_alloc_fail_at(0);
		if (rc) {
			if (!oom_code(rc))
				fprintf(stderr, "n=%ld: %s\n", n, itd_err_name(rc));
			assert_true(oom_code(rc));
			assert_true(failed);
		} else {
			assert_int_equal(c.index, n_total);
			assert_memory_equal(c.hash, want_hash, 32);
			assert_int_equal(r.n_verified, n_total);
			assert_int_equal(r.n_checkpoints, 10);
			if (!failed)
				clean++;
		}
		itd_audit_store_close(&st);
		sqlite3_close(db);
		itd_audit_chain_fini(&c);
	}
	assert_true(clean >= 3);
	assert_true(n > 50); /* the walk did pass through SQLite's allocations */

	/* The write path: a record that fails leaves the chain matching the
	 * table; after a rollback the tail and the chain still verify. */
	fx_open_db(&f);
	assert_int_equal(itd_audit_chain_set_signer(&f.c, k.sk, 4), ITD_OK);
	for (n = 1, clean = 0; n < 5000 && clean < 3; n++) {
		struct itd_audit_entry in = {.kind = "mutation", .subject = "i-000001",
					     .actor = "oom", .data = (const uint8_t *)"{}",
					     .data_len = 2},
				       out;
		exec(f.db, "BEGIN");
		itd_alloc_fail_at(n);
		int rc = itd_audit_record(&f.st, &f.c, &in, &out);
		rc = rc ? rc : itd_audit_record(&f.st, &f.c, &fat, &out);
		bool failed = itd_alloc_failed();
		itd_alloc_fail_at(0);
		if (rc) {
			assert_true(oom_code(rc));
			assert_null(out.kind);
			/* SQLite may have rolled back already on NOMEM. */
			if (!sqlite3_get_autocommit(f.db))
				exec(f.db, "ROLLBACK");
			assert_int_equal(itd_audit_tail(f.db, &f.c), ITD_OK);
		} else {
			exec(f.db, "COMMIT");
			if (!failed)
				clean++;
		}
	}
	expect_intact(f.db, &o, f.c.index);
	fx_fini(&f);
}

/* Garbage where the database should be: errors, never a crash. */
static void test_corrupt_file(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("audit-corrupt");
	char path[600];
	snprintf(path, sizeof path, "%s/garbage.db", dir);
	struct itd_rng rng;
	itd_rng_seed(&rng, 7, "garbage");
	uint8_t junk[8192];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)itd_rng_next(&rng);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
	fclose(fp);
	sqlite3 *db = NULL;
	int src = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (src == SQLITE_OK) {
		struct itd_audit_report r;
		struct itd_audit_chain c;
		struct itd_audit_store st;
		itd_audit_chain_init(&c);
		assert_int_equal(itd_audit_schema(db), ITD_EIO);
		assert_int_equal(itd_audit_store_open(db, &st), ITD_EIO);
		assert_null(st.insert);
		assert_int_equal(itd_audit_tail(db, &c), ITD_EIO);
		assert_true(c.broken);
		memset(&r, 0xee, sizeof r);
		assert_int_equal(itd_audit_verify(db, NULL, &r), ITD_EIO);
		assert_int_equal(r.n_verified, 0);
		assert_int_equal(r.fault, ITD_AUDIT_INTACT);
		itd_audit_store_close(&st);
	}
	sqlite3_close(db);

	/* A real chain whose pages were overwritten half way through. */
	struct fx f;
	fx_init(&f, "audit-corrupt2");
	fill(&f, 2000);
	fx_close_db(&f);
	fp = fopen(f.path, "r+b");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	long size = ftell(fp);
	assert_true(size > 3 * 8192);
	fseek(fp, size / 2, SEEK_SET);
	assert_int_equal(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
	fclose(fp);
	assert_int_equal(sqlite3_open_v2(f.path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	struct itd_audit_report r;
	int rc = itd_audit_verify(db, NULL, &r);
	assert_true(rc == ITD_EIO || rc == ITD_EVERIFY);
	assert_true(r.n_verified < 2000);
	sqlite3_close(db);
	itd_audit_chain_fini(&f.c);
	free(f.dir);
	free(dir);
}

int main(void)
{
	static const struct sqlite3_mem_methods mem = {
		sq_malloc, sq_free, sq_realloc, sq_size, sq_roundup, sq_init, sq_shutdown, NULL};
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &mem) != SQLITE_OK) {
		fprintf(stderr, "sqlite3_config(SQLITE_CONFIG_MALLOC) failed\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_vector),
		cmocka_unit_test(test_encoding_unambiguous),
		cmocka_unit_test(test_append_contract),
		cmocka_unit_test(test_chain_1000),
		cmocka_unit_test(test_tamper_one_byte),
		cmocka_unit_test(test_rewrite_recomputed),
		cmocka_unit_test(test_delete_entries),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_checkpoints),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_alloc_failure_walk),
		cmocka_unit_test(test_corrupt_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
