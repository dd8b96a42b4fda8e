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
 * transaction, a block per tick as the journal writes them (tick k/3, so
 * blocks of three, the first of two); every text and payload is non-empty
 * and varies. */
static inline void fill(struct fx *f, unsigned n)
{
	static const char *const kinds[] = {"intake", "verdict", "mutation", "console",
					    "approval"};
	exec(f->db, "BEGIN");
	uint64_t tick = UINT64_MAX;
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
		if (in.tick != tick) {
			if (tick != UINT64_MAX)
				assert_int_equal(itd_audit_batch_end(&f->st), ITD_OK);
			itd_audit_batch_begin(&f->st);
			tick = in.tick;
		}
		struct itd_audit_entry out;
		assert_int_equal(itd_audit_record(&f->st, &f->c, &in, &out), ITD_OK);
	}
	if (tick != UINT64_MAX)
		assert_int_equal(itd_audit_batch_end(&f->st), ITD_OK);
	exec(f->db, "COMMIT");
}

static inline uint64_t pick(struct fx *f, uint64_t lo, uint64_t hi)
{
	return lo + itd_rng_below(&f->rng, hi - lo + 1);
}

/* Entries stored, by the blocks' bounds. */
static inline uint64_t count_rows(sqlite3 *db)
{
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT coalesce(sum(last - first + 1), 0) FROM audit_block",
					    -1, &s, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	uint64_t n = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* ------------------------------------------------- what an attacker does */

/* Every stored entry, decoded from copies of the blocks it can write back
 * after changing them (texts and payloads edited in place). */
struct fx_chain {
	uint8_t **blobs;                   /* each block's bytes (owned) */
	size_t *lens;                      /* and their lengths */
	size_t n_blocks;
	struct itd_audit_entry *e;         /* the entries, in stored order */
	size_t *block_of;                  /* the block each sits in */
	bool *dropped;                     /* deleted: not written back */
	size_t n;
};

static inline void fx_load(sqlite3 *db, struct fx_chain *ch)
{
	memset(ch, 0, sizeof *ch);
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT entries FROM audit_block ORDER BY first",
					    -1, &s, NULL),
			 SQLITE_OK);
	size_t cap = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(s, 0);
		uint8_t *b = malloc(len + 1);
		assert_non_null(b);
		memcpy(b, sqlite3_column_blob(s, 0), len);
		ch->blobs = realloc(ch->blobs, (ch->n_blocks + 1) * sizeof *ch->blobs);
		ch->lens = realloc(ch->lens, (ch->n_blocks + 1) * sizeof *ch->lens);
		assert_true(ch->blobs && ch->lens);
		ch->blobs[ch->n_blocks] = b;
		ch->lens[ch->n_blocks] = len;
		const uint8_t *p = b;
		while (p < b + len) {
			if (ch->n == cap) {
				cap = cap ? 2 * cap : 256;
				ch->e = realloc(ch->e, cap * sizeof *ch->e);
				ch->block_of = realloc(ch->block_of, cap * sizeof *ch->block_of);
				ch->dropped = realloc(ch->dropped, cap * sizeof *ch->dropped);
				assert_true(ch->e && ch->block_of && ch->dropped);
			}
			assert_int_equal(itd_audit_block_next(&p, b + len, &ch->e[ch->n]), ITD_OK);
			ch->block_of[ch->n] = ch->n_blocks;
			ch->dropped[ch->n++] = false;
		}
		ch->n_blocks++;
	}
	sqlite3_finalize(s);
}

/* Write the chain back, each block with the bounds of what it now holds
 * (as an attacker keeping the rows consistent would); a block left empty
 * goes. */
static inline void fx_store(sqlite3 *db, struct fx_chain *ch)
{
	sqlite3_stmt *u;
	exec(db, "BEGIN; DELETE FROM audit_block");
	assert_int_equal(sqlite3_prepare_v2(db,
					    "INSERT INTO audit_block(first, last, entries)"
					    " VALUES(?1, ?2, ?3)", -1, &u, NULL),
			 SQLITE_OK);
	for (size_t b = 0, i = 0; b < ch->n_blocks; b++) {
		uint8_t *buf = NULL;
		size_t len = 0, cap = 0;
		uint64_t first = 0, last = 0;
		bool any = false;
		for (; i < ch->n && ch->block_of[i] == b; i++) {
			if (ch->dropped[i])
				continue;
			assert_int_equal(itd_audit_block_add(&buf, &len, &cap, &ch->e[i]), ITD_OK);
			if (!any)
				first = ch->e[i].index;
			last = ch->e[i].index;
			any = true;
		}
		if (any) {
			sqlite3_bind_int64(u, 1, (sqlite3_int64)first);
			sqlite3_bind_int64(u, 2, (sqlite3_int64)last);
			sqlite3_bind_blob(u, 3, buf, (int)len, SQLITE_TRANSIENT);
			assert_int_equal(sqlite3_step(u), SQLITE_DONE);
			sqlite3_reset(u);
		}
		free(buf);
	}
	sqlite3_finalize(u);
	exec(db, "COMMIT");
}

static inline void fx_free(struct fx_chain *ch)
{
	for (size_t b = 0; b < ch->n_blocks; b++)
		free(ch->blobs[b]);
	free(ch->blobs);
	free(ch->lens);
	free(ch->e);
	free(ch->block_of);
	free(ch->dropped);
	memset(ch, 0, sizeof *ch);
}

/* The entry stored under index idx. */
static inline struct itd_audit_entry *fx_entry(struct fx_chain *ch, uint64_t idx)
{
	for (size_t i = 0; i < ch->n; i++)
		if (ch->e[i].index == idx && !ch->dropped[i])
			return &ch->e[i];
	fail_msg("no entry %llu", (unsigned long long)idx);
	return NULL;
}

/* Change one byte of field col of entry idx: an integer's byte `pos` (of
 * the low six), a text's, payload's or hash's byte at pos modulo its
 * length.  XOR, so a second identical call restores it. */
static inline void flip(sqlite3 *db, uint64_t idx, const char *col, uint64_t pos)
{
	struct fx_chain ch;
	fx_load(db, &ch);
	struct itd_audit_entry *e = fx_entry(&ch, idx);
	uint64_t bit = UINT64_C(1) << (8 * (pos % 6));
	uint8_t *b = NULL;
	size_t n = 0;
	if (!strcmp(col, "tick")) {
		e->tick ^= bit;
	} else if (!strcmp(col, "time_ms")) {
		e->time_ms = (int64_t)((uint64_t)e->time_ms ^ bit);
	} else if (!strcmp(col, "kind") || !strcmp(col, "subject") || !strcmp(col, "actor")) {
		const char *t = !strcmp(col, "kind") ? e->kind : !strcmp(col, "subject") ? e->subject
											  : e->actor;
		b = (uint8_t *)(uintptr_t)t;
		n = strlen(t);
	} else if (!strcmp(col, "data")) {
		b = (uint8_t *)(uintptr_t)e->data;
		n = e->data_len;
	} else if (!strcmp(col, "prev_hash")) {
		b = e->prev_hash;
		n = 32;
	} else {
		assert_string_equal(col, "hash");
		b = e->hash;
		n = 32;
	}
	if (b) {
		assert_true(n > 0);
		b[pos % n] ^= 0x01;
	}
	fx_store(db, &ch);
	fx_free(&ch);
}

/* Delete entries lo..hi (the blocks keep the rest). */
static inline void fx_delete(sqlite3 *db, uint64_t lo, uint64_t hi)
{
	struct fx_chain ch;
	fx_load(db, &ch);
	for (size_t i = 0; i < ch.n; i++)
		if (ch.e[i].index >= lo && ch.e[i].index <= hi)
			ch.dropped[i] = true;
	fx_store(db, &ch);
	fx_free(&ch);
}

/* Entries a and b trade places: each one's fields under the other's
 * index. */
static inline void fx_swap(sqlite3 *db, uint64_t a, uint64_t b)
{
	struct fx_chain ch;
	fx_load(db, &ch);
	struct itd_audit_entry *x = fx_entry(&ch, a), *y = fx_entry(&ch, b), t = *x;
	*x = *y;
	*y = t;
	x->index = a;
	y->index = b;
	fx_store(db, &ch);
	fx_free(&ch);
}

/* Entry idx stored under index to. */
static inline void fx_reindex(sqlite3 *db, uint64_t idx, uint64_t to)
{
	struct fx_chain ch;
	fx_load(db, &ch);
	fx_entry(&ch, idx)->index = to;
	fx_store(db, &ch);
	fx_free(&ch);
}

/* What an attacker without the key can do: recompute the hashes and links
 * of entries from..to, so that stretch is self-consistent again. */
static inline void reforge(sqlite3 *db, uint64_t from, uint64_t to)
{
	struct fx_chain ch;
	fx_load(db, &ch);
	uint8_t prev[32] = {0};
	for (size_t i = 0; i < ch.n; i++) {
		struct itd_audit_entry *e = &ch.e[i];
		if (e->index >= from && e->index <= to) {
			memcpy(e->prev_hash, prev, 32);
			assert_int_equal(itd_audit_hash(e, e->hash), ITD_OK);
		}
		memcpy(prev, e->hash, 32);
	}
	fx_store(db, &ch);
	fx_free(&ch);
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
