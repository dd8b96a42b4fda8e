/* store_audit_verify.c: reading the audit chain back: restoring the
 * writer's tail on open, and verifying every entry, link and checkpoint
 * (what is and is not detectable is listed in store_audit.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "store_audit_int.h"

/* On a hash mismatch, the indexes either side tried to tell a moved entry
 * from a damaged one. */
#define MOVE_WINDOW 64

/* A block row's entries column: ITD_EVERIFY unless it is a non-empty
 * BLOB; ITD_ENOMEM if SQLite could not materialise it. */
static int entries_col(sqlite3_stmt *s, int col, const uint8_t **out, const uint8_t **end)
{
	if (sqlite3_column_type(s, col) != SQLITE_BLOB)
		return ITD_EVERIFY;
	const uint8_t *b = sqlite3_column_blob(s, col);
	size_t n = (size_t)sqlite3_column_bytes(s, col);
	if (!b)
		return sqlite3_errcode(sqlite3_db_handle(s)) == SQLITE_NOMEM ? ITD_ENOMEM
									   : ITD_EVERIFY;
	*out = b;
	*end = b + n;
	return ITD_OK;
}

/* ---------------------------------------------------------------- tail */

int itd_audit_tail(sqlite3 *db, struct itd_audit_chain *c)
{
	static const char sql[] =
		"SELECT entries FROM audit_block ORDER BY first DESC LIMIT 1";
	sqlite3_stmt *s = NULL;
	struct itd_audit_entry e = {0}; /* genesis if the table is empty */
	uint8_t h[ITD_AUDIT_HASH_LEN];
	int rc;
	int src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (src != SQLITE_OK)
		goto fail_sql;
	src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		const uint8_t *p, *end;
		if ((rc = entries_col(s, 0, &p, &end)))
			goto fail;
		rc = ITD_EVERIFY;
		if (p == end)
			goto fail;
		while (p < end)
			if ((rc = itd_audit_block_next(&p, end, &e)))
				goto fail;
		rc = ITD_EVERIFY;
		if (e.index < 1 || e.index > (uint64_t)INT64_MAX)
			goto fail;
		rc = itd_audit_hash(&e, h);
		if (rc)
			goto fail;
		rc = ITD_EVERIFY;
		if (sodium_memcmp(h, e.hash, sizeof h) != 0)
			goto fail;
	} else if (src != SQLITE_DONE) {
		goto fail_sql;
	}
	c->index = e.index;
	memcpy(c->hash, e.hash, sizeof c->hash);
	c->broken = false;
	sqlite3_finalize(s);
	return ITD_OK;
fail_sql:
	rc = itd_audit_sql_err(src);
fail:
	sqlite3_finalize(s);
	c->index = 0;
	memset(c->hash, 0, sizeof c->hash);
	c->broken = true;
	return rc;
}

/* -------------------------------------------------------------- verify */

__attribute__((format(printf, 4, 5))) static int fault(struct itd_audit_report *r,
							enum itd_audit_fault f, uint64_t index,
							const char *fmt, ...)
{
	va_list ap;
	r->fault = f;
	r->bad_index = index;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof r->why, fmt, ap);
	va_end(ap);
	return ITD_EVERIFY;
}

/* Entry e's hash does not hold at its index: if it holds at a nearby
 * index, the entry was moved there; return that index, else 0. */
static uint64_t moved_from(const struct itd_audit_entry *e)
{
	struct itd_audit_entry t = *e;
	uint8_t h[ITD_AUDIT_HASH_LEN];
	uint64_t lo = e->index > MOVE_WINDOW ? e->index - MOVE_WINDOW : 1;
	for (uint64_t j = lo; j <= e->index + MOVE_WINDOW; j++) {
		if (j == e->index)
			continue;
		t.index = j;
		if (itd_audit_hash(&t, h) == ITD_OK && sodium_memcmp(h, e->hash, sizeof h) == 0)
			return j;
	}
	return 0;
}

/* Check one row (at the expected index) against the chain so far. */
static int check_entry(const struct itd_audit_entry *e, const struct itd_audit_verify_opts *o,
		       struct itd_audit_report *r)
{
	uint8_t h[ITD_AUDIT_HASH_LEN];
	unsigned long long i = e->index;
	int rc = itd_audit_hash(e, h);
	if (rc)
		return rc;
	if (sodium_memcmp(h, e->hash, sizeof h) != 0) {
		uint64_t j = moved_from(e);
		if (j)
			return fault(r, ITD_AUDIT_ORDER, i,
				     "index out of order: holds the entry written as %llu",
				     (unsigned long long)j);
		return fault(r, ITD_AUDIT_HASH_MISMATCH, i, "hash mismatch");
	}
	if (sodium_memcmp(e->prev_hash, r->last_hash, sizeof h) != 0) {
		if (i == 1)
			return fault(r, ITD_AUDIT_PREV_MISMATCH, i, "prev_hash of entry 1 is not zero");
		return fault(r, ITD_AUDIT_PREV_MISMATCH, i, "prev_hash does not match entry %llu",
			     i - 1);
	}
	if (o->pubkey && strcmp(e->kind, ITD_AUDIT_CHECKPOINT_KIND) == 0) {
		enum itd_audit_fault f = itd_audit_checkpoint_check(o->pubkey, i, e->prev_hash,
								    e->data, e->data_len);
		if (f == ITD_AUDIT_BAD_SIGNATURE)
			return fault(r, f, i, "bad checkpoint signature");
		if (f != ITD_AUDIT_INTACT)
			return fault(r, f, i, "checkpoint does not sign entry %llu", i - 1);
		r->n_checkpoints++;
	} else if (o->pubkey && o->checkpoint_every && i % (o->checkpoint_every + 1) == 0) {
		return fault(r, ITD_AUDIT_NO_CHECKPOINT, i, "a checkpoint is due here, found \"%s\"",
			     e->kind);
	}
	if (o->head && o->head->index == i &&
	    sodium_memcmp(o->head->hash, e->hash, sizeof h) != 0)
		return fault(r, ITD_AUDIT_HEAD_MISMATCH, i, "hash differs from the recorded head");
	return ITD_OK;
}

/* Check one block's entries (p..end, from row `first`..`last`) in
 * order, moving r on past each that holds. */
static int check_block(const uint8_t *p, const uint8_t *end, uint64_t first, uint64_t last,
		       const struct itd_audit_verify_opts *o, struct itd_audit_report *r)
{
	struct itd_audit_entry e;
	uint64_t expect = r->last_index + 1, head = 0;
	if (p == end)
		return fault(r, ITD_AUDIT_MALFORMED, expect, "malformed: an empty block");
	while (p < end) {
		if (itd_audit_block_next(&p, end, &e))
			return fault(r, ITD_AUDIT_MALFORMED, expect,
				     "malformed: entry does not decode");
		if (!head)
			head = e.index;
		if (e.index < expect)
			return fault(r, ITD_AUDIT_ORDER, expect,
				     "index out of order: an entry is stored under index %llu",
				     (unsigned long long)e.index);
		if (e.index > expect) {
			r->missing_to = e.index - 1;
			return fault(r, ITD_AUDIT_MISSING, expect, "missing entries %llu..%llu (deleted)",
				     (unsigned long long)expect, (unsigned long long)r->missing_to);
		}
		int rc = check_entry(&e, o, r);
		if (rc)
			return rc;
		r->n_verified++;
		r->last_index = expect++;
		memcpy(r->last_hash, e.hash, sizeof r->last_hash);
	}
	/* The row's bounds locate entries (explain): they must be the truth. */
	if (first != head || last != e.index)
		return fault(r, ITD_AUDIT_MALFORMED, expect,
			     "malformed: block %llu..%llu holds entries %llu..%llu",
			     (unsigned long long)first, (unsigned long long)last,
			     (unsigned long long)head, (unsigned long long)e.index);
	return ITD_OK;
}

int itd_audit_verify_with(sqlite3 *db, const struct itd_audit_verify_opts *opts,
			  struct itd_audit_report *out)
{
	static const char sql[] = "SELECT first, last, entries FROM audit_block ORDER BY first";
	static const struct itd_audit_verify_opts none;
	const struct itd_audit_verify_opts *o = opts ? opts : &none;
	struct itd_audit_report r = {0};
	sqlite3_stmt *s = NULL;
	int rc, src;
	memset(out, 0, sizeof *out);
	src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (src != SQLITE_OK)
		goto fail_sql;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		const uint8_t *p, *end;
		rc = entries_col(s, 2, &p, &end);
		if (rc == ITD_EVERIFY)
			rc = fault(&r, ITD_AUDIT_MALFORMED, r.last_index + 1,
				   "malformed: entries is not a BLOB");
		if (!rc)
			rc = check_block(p, end, (uint64_t)sqlite3_column_int64(s, 0),
					 (uint64_t)sqlite3_column_int64(s, 1), o, &r);
		if (rc)
			goto done;
	}
	if (src != SQLITE_DONE)
		goto fail_sql;
	rc = ITD_OK;
	if (o->head && r.last_index < o->head->index) {
		r.missing_to = o->head->index;
		rc = fault(&r, ITD_AUDIT_TRUNCATED, r.last_index + 1,
			   "missing entries %llu..%llu (truncated)",
			   (unsigned long long)r.last_index + 1, (unsigned long long)r.missing_to);
	}
done:
	if (rc && rc != ITD_EVERIFY)
		goto fail;
	sqlite3_finalize(s);
	*out = r;
	return rc;
fail_sql:
	rc = itd_audit_sql_err(src);
fail:
	sqlite3_finalize(s);
	return rc;
}

int itd_audit_verify(sqlite3 *db, const uint8_t *pubkey, struct itd_audit_report *out)
{
	struct itd_audit_verify_opts o = {.pubkey = pubkey};
	return itd_audit_verify_with(db, &o, out);
}
