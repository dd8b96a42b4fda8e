/* store_query.c: what the offline tools ask the store: the intents it has
 * recorded (the `intent` index the writer keeps) and an intent's story
 * (its audit entries).  Each query uses its own read-only connection, so
 * it may run beside a live writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "store_journal_int.h"

/* Bind a comma-separated list as the JSON array json_each() reads:
 * "a,b" -> ["a","b"].  Names are plain identifiers, so no escaping is
 * needed beyond refusing quotes and backslashes. */
static int list_json(const char *list, char *out, size_t cap)
{
	size_t n = 0;
	out[n++] = '[';
	bool first = true;
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len) {
			if (n + len + 4 >= cap || memchr(p, '"', len) || memchr(p, '\\', len))
				return ITD_EINVAL;
			if (!first)
				out[n++] = ',';
			out[n++] = '"';
			memcpy(out + n, p, len);
			n += len;
			out[n++] = '"';
			first = false;
		}
		p += len + (e ? 1 : 0);
	}
	out[n++] = ']';
	out[n] = '\0';
	return ITD_OK;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? (const char *)t : "";
}

static int done_rc(int src)
{
	if (src == SQLITE_DONE)
		return ITD_OK;
	int rc = itd_journal_sqlite_rc(src);
	return rc ? rc : ITD_EIO;
}

/* Does the comma-separated list name only statuses of live intents? */
static bool only_live(const char *list)
{
	static const char *const done[] = {"completed", "failed", "cancelled", "expired", "denied",
					   "pending"};
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		for (size_t i = 0; i < sizeof done / sizeof done[0]; i++)
			if (len == strlen(done[i]) && !memcmp(p, done[i], len))
				return false;
		p += len + (e ? 1 : 0);
	}
	return true;
}

struct pending_ctx {
	sqlite3_stmt *ins;                 /* INSERT INTO temp.pending */
};

static int add_pending(void *ctx, const struct itd_journal_input *rec)
{
	struct pending_ctx *p = ctx;
	if (rec->kind != ITD_JOURNAL_SUBMIT || !rec->seq)
		return ITD_OK;
	sqlite3_bind_int64(p->ins, 1, (sqlite3_int64)rec->seq);
	if (rec->actor)
		sqlite3_bind_text(p->ins, 2, rec->actor, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(p->ins, 2);
	int src = sqlite3_step(p->ins);
	sqlite3_reset(p->ins);
	return src == SQLITE_DONE ? ITD_OK : done_rc(src);
}

/* The submissions journaled after the last tick's last arrival, into
 * temp.pending (inside the caller's read transaction). */
static int gather_pending(sqlite3 *db)
{
	sqlite3_stmt *q = NULL;
	struct pending_ctx p = {0};
	uint64_t applied = 0;
	int src = sqlite3_prepare_v2(db, "SELECT last_arrival FROM tick ORDER BY tick DESC LIMIT 1",
				     -1, &q, NULL);
	if (src == SQLITE_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
		applied = (uint64_t)sqlite3_column_int64(q, 0);
		src = SQLITE_DONE;
	}
	sqlite3_finalize(q);
	if (src == SQLITE_DONE)
		src = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO temp.pending(seq, actor)"
					     " VALUES(?1, ?2)", -1, &p.ins, NULL);
	int rc = src == SQLITE_OK ? itd_journal_db_inputs(db, applied, add_pending, &p)
				  : done_rc(src);
	sqlite3_finalize(p.ins);
	return rc;
}

int itd_store_query_intents(struct itd_store *st, const char *status, const char *type,
			    uint64_t after_seq, uint64_t limit, itd_store_intent_fn fn, void *ctx)
{
	char sj[2048], tj[2048];
	if ((status && list_json(status, sj, sizeof sj)) || (type && list_json(type, tj, sizeof tj)))
		return ITD_EINVAL;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int rc = itd_journal_db_reader(st->j, &db);
	if (rc)
		return rc;
	/* Submissions acknowledged but not yet applied by a tick (the run
	 * stopped or crashed first) are journaled inputs after the last
	 * tick's last arrival, without an intent row yet: listed as
	 * "pending", their type known once a restart applies them.  They are
	 * gathered into a temporary table in the same read transaction as
	 * the query, so an input is listed once, pending or applied. */
	int src = sqlite3_exec(db, "CREATE TEMP TABLE pending(seq INTEGER PRIMARY KEY, actor TEXT);"
				   " BEGIN",
			       NULL, NULL, NULL);
	if (src != SQLITE_OK) {
		rc = done_rc(src);
		goto out;
	}
	if ((rc = gather_pending(db)))
		goto out;
	/* Statuses an intent keeps while live are indexed (intent_live, a
	 * partial index: the terms below must match its WHERE word for
	 * word); asking only for those, the intent side searches the index,
	 * else it scans in seq order. */
	char sql[1024];
	snprintf(sql, sizeof sql,
		 "SELECT seq, id, type, status, actor, created_tick, updated_tick FROM ("
		 " SELECT seq, id, type, status, actor, created_tick, updated_tick FROM intent"
		 " WHERE seq > ?1 AND (?2 IS NULL OR status IN (SELECT value FROM json_each(?2)))"
		 " AND (?3 IS NULL OR type IN (SELECT value FROM json_each(?3)))%s%s"
		 " UNION ALL"
		 " SELECT p.seq, printf('i-%%06d', p.seq), '', 'pending', coalesce(p.actor, ''), 0, 0"
		 " FROM temp.pending p WHERE p.seq > ?1"
		 " AND NOT EXISTS (SELECT 1 FROM intent n WHERE n.seq = p.seq)"
		 " AND (?2 IS NULL OR 'pending' IN (SELECT value FROM json_each(?2)))"
		 " AND (?3 IS NULL OR '' IN (SELECT value FROM json_each(?3))))"
		 " ORDER BY seq LIMIT ?4",
		 status && only_live(status) ? " AND " : "",
		 status && only_live(status) ? ITD_STORE_LIVE_TERM : "");
	src = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
	if (src != SQLITE_OK) {
		rc = done_rc(src);
		goto out;
	}
	sqlite3_bind_int64(q, 1, (sqlite3_int64)after_seq);
	if (status)
		sqlite3_bind_text(q, 2, sj, -1, SQLITE_STATIC);
	if (type)
		sqlite3_bind_text(q, 3, tj, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, limit ? (sqlite3_int64)limit : -1);
	while ((src = sqlite3_step(q)) == SQLITE_ROW) {
		struct itd_store_intent_row r = {
			.seq = (uint64_t)sqlite3_column_int64(q, 0), .id = col_text(q, 1),
			.type = col_text(q, 2), .status = col_text(q, 3), .actor = col_text(q, 4),
			.created_tick = (uint64_t)sqlite3_column_int64(q, 5),
			.updated_tick = (uint64_t)sqlite3_column_int64(q, 6)};
		if ((rc = fn(ctx, &r)))
			goto out;
	}
	rc = done_rc(src);
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	return rc;
}

/* Hand fn the entries of one block whose subject is id. */
static int story_block(sqlite3_stmt *blk, uint64_t first, const char *id, itd_store_story_fn fn,
		       void *ctx, bool *any)
{
	sqlite3_bind_int64(blk, 1, (sqlite3_int64)first);
	int src = sqlite3_step(blk);
	int rc = ITD_OK;
	if (src == SQLITE_ROW) {
		const uint8_t *p = sqlite3_column_blob(blk, 0);
		const uint8_t *end = p + sqlite3_column_bytes(blk, 0);
		struct itd_audit_entry e;
		if (!p || sqlite3_column_type(blk, 0) != SQLITE_BLOB)
			rc = ITD_EVERIFY;
		while (!rc && p < end && !(rc = itd_audit_block_next(&p, end, &e))) {
			if (strcmp(e.subject, id))
				continue;
			*any = true;
			struct itd_store_story_entry se = {
				.index = e.index, .tick = e.tick, .time_ms = e.time_ms,
				.kind = e.kind, .actor = e.actor,
				.data = e.data ? (const char *)e.data : "", .len = e.data_len};
			rc = fn(ctx, &se);
		}
	} else if (src != SQLITE_DONE) {
		rc = done_rc(src);
	}
	sqlite3_reset(blk);
	return rc;
}

int itd_store_query_story(struct itd_store *st, const char *id, itd_store_story_fn fn,
			  void *ctx)
{
	/* The intent's row lists the blocks holding its entries ("12,345,"),
	 * in chain order. */
	uint64_t seq = itd_journal_subject_seq(id, strlen(id));
	if (!seq)
		return ITD_ENOTFOUND;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL, *blk = NULL;
	int rc = itd_journal_db_reader(st->j, &db);
	if (rc)
		return rc;
	int src = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_prepare_v2(db, "SELECT audit FROM intent WHERE seq = ?1 AND id = ?2", -1,
					 &q, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_prepare_v2(db, "SELECT entries FROM audit_block WHERE first = ?1", -1,
					 &blk, NULL);
	if (src != SQLITE_OK) {
		rc = done_rc(src);
		goto out;
	}
	sqlite3_bind_int64(q, 1, (sqlite3_int64)seq);
	sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
	bool any = false;
	if ((src = sqlite3_step(q)) == SQLITE_ROW) {
		const char *list = col_text(q, 0);
		uint64_t prev = 0;
		for (const char *p = list; *p && !rc;) {
			char *e;
			unsigned long long first = strtoull(p, &e, 10);
			if (e == p || *e != ',') {
				rc = ITD_EVERIFY; /* not a list this writer made */
				break;
			}
			p = e + 1;
			if (first > prev)
				rc = story_block(blk, first, id, fn, ctx, &any);
			prev = first > prev ? first : prev;
		}
		src = SQLITE_DONE;
	}
	if (!rc)
		rc = done_rc(src);
	if (!rc && !any)
		rc = ITD_ENOTFOUND;
out:
	sqlite3_finalize(q);
	sqlite3_finalize(blk);
	sqlite3_close(db);
	return rc;
}

int itd_store_audit_walk(struct itd_store *st, uint64_t from, itd_store_audit_fn fn, void *ctx)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int rc = itd_journal_db_reader(st->j, &db);
	if (rc)
		return rc;
	/* From the block holding `from` (the last starting at or before it). */
	int src = sqlite3_prepare_v2(db,
				     "SELECT entries FROM audit_block WHERE first >="
				     " (SELECT coalesce(max(first), 0) FROM audit_block WHERE first <= ?1)"
				     " ORDER BY first",
				     -1, &q, NULL);
	if (src != SQLITE_OK) {
		rc = done_rc(src);
		goto out;
	}
	sqlite3_bind_int64(q, 1, (sqlite3_int64)(from > INT64_MAX ? INT64_MAX : from));
	while ((src = sqlite3_step(q)) == SQLITE_ROW) {
		const uint8_t *p = sqlite3_column_blob(q, 0);
		const uint8_t *end = p + sqlite3_column_bytes(q, 0);
		struct itd_audit_entry e;
		if (!p || sqlite3_column_type(q, 0) != SQLITE_BLOB) {
			rc = ITD_EVERIFY;
			goto out;
		}
		while (p < end) {
			if ((rc = itd_audit_block_next(&p, end, &e)))
				goto out;
			if (e.index >= from && (rc = fn(ctx, &e)))
				goto out;
		}
	}
	rc = done_rc(src);
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	return rc;
}

int itd_store_audit_verify(struct itd_store *st, const struct itd_audit_verify_opts *opts,
			   struct itd_audit_report *out)
{
	sqlite3 *db = NULL;
	memset(out, 0, sizeof *out);
	int rc = itd_journal_db_reader(st->j, &db);
	if (rc)
		return rc;
	rc = itd_audit_verify_with(db, opts, out);
	sqlite3_close(db);
	return rc;
}

int itd_store_check(struct itd_store *st, char *err, size_t cap)
{
	sqlite3 *db = NULL;
	err[0] = '\0';
	int rc = itd_journal_db_reader(st->j, &db);
	if (!rc)
		rc = itd_journal_db_integrity(st->j, db, err, cap);
	sqlite3_close(db);
	if (rc && !err[0])
		snprintf(err, cap, "cannot read the database: %s", itd_err_msg(rc));
	return rc;
}
