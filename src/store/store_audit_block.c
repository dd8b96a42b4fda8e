/* store_audit_block.c: the audit chain's storage: entries packed into
 * blocks, one `audit_block` row per block (a tick's entries, written by the
 * journal in one row), their encoding and decoding, and the inserts.  The
 * layout is documented in store_audit.h ("Storage"). */
#include <string.h>

#include "store_audit_int.h"

#define ENTRY_HDR 40u /* index, tick, time_ms, four u32 lengths */

int itd_audit_block_add(uint8_t **buf, size_t *len, size_t *cap, const struct itd_audit_entry *e)
{
	size_t tl[3];
	int rc = itd_audit_check(e, tl);
	if (rc)
		return rc;
	const char *t[3] = {e->kind, e->subject ? e->subject : "", e->actor ? e->actor : ""};
	size_t need = ENTRY_HDR + tl[0] + tl[1] + tl[2] + 3 + e->data_len + 2 * ITD_AUDIT_HASH_LEN;
	if (need > *cap - *len) {
		size_t nc = *cap ? *cap : 16u << 10;
		while (nc - *len < need)
			nc *= 2;
		uint8_t *np = itd_realloc(*buf, nc);
		if (!np)
			return ITD_ENOMEM;
		*buf = np;
		*cap = nc;
	}
	uint8_t *p = *buf + *len;
	itd_le_put64(p, e->index);
	itd_le_put64(p + 8, e->tick);
	itd_le_put64(p + 16, (uint64_t)e->time_ms);
	for (int i = 0; i < 3; i++)
		itd_le_put32(p + 24 + 4 * i, (uint32_t)tl[i]);
	itd_le_put32(p + 36, (uint32_t)e->data_len);
	p += ENTRY_HDR;
	for (int i = 0; i < 3; i++) {
		memcpy(p, t[i], tl[i]);
		p[tl[i]] = '\0';
		p += tl[i] + 1;
	}
	if (e->data_len)
		memcpy(p, e->data, e->data_len);
	p += e->data_len;
	memcpy(p, e->prev_hash, ITD_AUDIT_HASH_LEN);
	memcpy(p + ITD_AUDIT_HASH_LEN, e->hash, ITD_AUDIT_HASH_LEN);
	*len += need;
	return ITD_OK;
}

/* A text of len bytes at p, which must be followed by its NUL and hold
 * no other. */
static bool text_ok(const uint8_t *p, size_t len)
{
	return p[len] == '\0' && !memchr(p, 0, len);
}

int itd_audit_block_next(const uint8_t **pp, const uint8_t *end, struct itd_audit_entry *e)
{
	const uint8_t *p = *pp;
	memset(e, 0, sizeof *e);
	if ((size_t)(end - p) < ENTRY_HDR)
		return ITD_EVERIFY;
	e->index = itd_le_get64(p);
	e->tick = itd_le_get64(p + 8);
	e->time_ms = (int64_t)itd_le_get64(p + 16);
	uint32_t tl[3] = {itd_le_get32(p + 24), itd_le_get32(p + 28), itd_le_get32(p + 32)};
	uint32_t dl = itd_le_get32(p + 36);
	p += ENTRY_HDR;
	const char **t[3] = {&e->kind, &e->subject, &e->actor};
	for (int i = 0; i < 3; i++) {
		if (tl[i] > ITD_AUDIT_MAX_TEXT || (size_t)(end - p) <= tl[i] || !text_ok(p, tl[i]))
			return ITD_EVERIFY;
		*t[i] = (const char *)p;
		p += tl[i] + 1;
	}
	if (dl > ITD_AUDIT_MAX_DATA || (size_t)(end - p) < dl + 2u * ITD_AUDIT_HASH_LEN)
		return ITD_EVERIFY;
	e->data = dl ? p : NULL;
	e->data_len = dl;
	p += dl;
	memcpy(e->prev_hash, p, ITD_AUDIT_HASH_LEN);
	memcpy(e->hash, p + ITD_AUDIT_HASH_LEN, ITD_AUDIT_HASH_LEN);
	*pp = p + 2 * ITD_AUDIT_HASH_LEN;
	return ITD_OK;
}

/* ------------------------------------------------------------ storage */

int itd_audit_schema(sqlite3 *db)
{
	static const char sql[] = "CREATE TABLE IF NOT EXISTS audit_block("
				  "first INTEGER PRIMARY KEY, last INTEGER NOT NULL, "
				  "entries BLOB NOT NULL)";
	int src = sqlite3_exec(db, sql, NULL, NULL, NULL);
	return src == SQLITE_OK ? ITD_OK : itd_audit_sql_err(src);
}

int itd_audit_store_open(sqlite3 *db, struct itd_audit_store *st)
{
	static const char sql[] = "INSERT INTO audit_block(first, last, entries) VALUES(?1, ?2, ?3)";
	static const char tail[] = "SELECT last FROM audit_block ORDER BY first DESC LIMIT 1";
	memset(st, 0, sizeof *st);
	sqlite3_stmt *ins = NULL, *last = NULL;
	int src = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &ins, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_prepare_v3(db, tail, -1, SQLITE_PREPARE_PERSISTENT, &last, NULL);
	if (src != SQLITE_OK) {
		sqlite3_finalize(ins);
		sqlite3_finalize(last);
		return itd_audit_sql_err(src);
	}
	st->db = db;
	st->insert = ins;
	st->tail = last;
	return ITD_OK;
}

void itd_audit_store_close(struct itd_audit_store *st)
{
	sqlite3_finalize(st->insert);
	sqlite3_finalize(st->tail);
	itd_free(st->buf);
	memset(st, 0, sizeof *st);
}

/* Forget the pending entries (the buffer is kept). */
static void empty(struct itd_audit_store *st)
{
	st->len = 0;
	st->n = 0;
}

/* The pending entries as one row: ITD_EEXISTS if a stored block already
 * reaches its first index (blocks only append). */
static int put_row(struct itd_audit_store *st)
{
	int src = sqlite3_step(st->tail);
	bool behind = src == SQLITE_ROW &&
		      sqlite3_column_int64(st->tail, 0) >= (sqlite3_int64)st->first;
	sqlite3_reset(st->tail);
	if (src != SQLITE_ROW && src != SQLITE_DONE)
		return itd_audit_sql_err(src);
	if (behind)
		return ITD_EEXISTS;
	sqlite3_stmt *s = st->insert;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)st->first);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)st->last);
	sqlite3_bind_blob64(s, 3, st->buf, st->len, SQLITE_STATIC);
	src = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return src == SQLITE_DONE ? ITD_OK : itd_audit_sql_err(src);
}

/* Write the pending entries, if any, and empty the block either way. */
static int flush(struct itd_audit_store *st)
{
	int rc = st->n ? put_row(st) : ITD_OK;
	empty(st);
	return rc;
}

void itd_audit_batch_begin(struct itd_audit_store *st)
{
	empty(st);
	st->batching = true;
}

void itd_audit_batch_drop(struct itd_audit_store *st)
{
	empty(st);
	st->batching = false;
}

int itd_audit_batch_end(struct itd_audit_store *st)
{
	st->batching = false;
	return flush(st);
}

int itd_audit_insert(struct itd_audit_store *st, const struct itd_audit_entry *e)
{
	if (e->index == 0 || e->index > (uint64_t)INT64_MAX || e->tick > (uint64_t)INT64_MAX)
		return ITD_EINVAL;
	if (st->n && e->index <= st->last)
		return ITD_EINVAL; /* a block's entries only go up */
	int rc = itd_audit_block_add(&st->buf, &st->len, &st->cap, e);
	if (rc)
		return rc;
	if (!st->n++)
		st->first = e->index;
	st->last = e->index;
	if (st->batching)
		return ITD_OK;
	return flush(st);
}
