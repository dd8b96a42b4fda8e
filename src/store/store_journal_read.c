/* store_journal_read.c: reading the journal back for recovery and replay:
 * inputs and ticks in order, and the newest snapshot that verifies.  Each
 * call uses its own read-only connection, so it may run beside the writer. */
#include <stdio.h>
#include <string.h>

#include "store_journal_int.h"

/* Prepare `sql` on a fresh reader with ?1 bound to `after`. */
static int reader_query(struct itd_journal *j, const char *sql, uint64_t after, sqlite3 **db_out,
			sqlite3_stmt **st_out)
{
	*st_out = NULL;
	int rc = itd_journal_db_reader(j, db_out);
	if (rc)
		return rc;
	int src = sqlite3_prepare_v2(*db_out, sql, -1, st_out, NULL);
	if (src != SQLITE_OK) {
		sqlite3_close(*db_out);
		*db_out = NULL;
		return itd_journal_sqlite_rc(src) ? itd_journal_sqlite_rc(src) : ITD_EIO;
	}
	sqlite3_bind_int64(*st_out, 1, (sqlite3_int64)after);
	return ITD_OK;
}

/* The end of a walk: SQLITE_DONE is success. */
static int walk_rc(int src)
{
	if (src == SQLITE_DONE)
		return ITD_OK;
	int rc = itd_journal_sqlite_rc(src);
	return rc ? rc : ITD_EIO;
}

int itd_journal_db_inputs(sqlite3 *db, uint64_t after_arrival, itd_journal_input_fn fn,
			  void *ctx)
{
	/* From the block holding after_arrival + 1 (the last one starting at
	 * or before it) on. */
	sqlite3_stmt *st = NULL;
	int src = sqlite3_prepare_v2(db,
				     "SELECT first, last, n, data FROM input_block WHERE first >="
				     " (SELECT coalesce(max(first), 0) FROM input_block"
				     " WHERE first <= ?1 + 1) ORDER BY first",
				     -1, &st, NULL);
	if (src != SQLITE_OK)
		return walk_rc(src);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)after_arrival);
	int rc = ITD_OK;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const uint8_t *data = sqlite3_column_blob(st, 3);
		size_t len = (size_t)sqlite3_column_bytes(st, 3);
		if (!data || sqlite3_column_type(st, 3) != SQLITE_BLOB) {
			rc = sqlite3_errcode(db) == SQLITE_NOMEM ? ITD_ENOMEM : ITD_EVERIFY;
			goto out;
		}
		if ((rc = itd_jblock_walk(data, len, (uint64_t)sqlite3_column_int64(st, 0),
					  (uint64_t)sqlite3_column_int64(st, 1),
					  (uint64_t)sqlite3_column_int64(st, 2), after_arrival, fn,
					  ctx)))
			goto out;
	}
	rc = walk_rc(src);
out:
	sqlite3_finalize(st);
	return rc;
}

int itd_journal_read_inputs(struct itd_journal *j, uint64_t after_arrival,
			    itd_journal_input_fn fn, void *ctx)
{
	sqlite3 *db = NULL;
	int rc = itd_journal_db_reader(j, &db);
	if (rc)
		return rc;
	rc = itd_journal_db_inputs(db, after_arrival, fn, ctx);
	sqlite3_close(db);
	return rc;
}

int itd_journal_read_ticks(struct itd_journal *j, uint64_t after_tick, itd_journal_tick_fn fn,
			   void *ctx)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	uint64_t *seqs = NULL;
	size_t seqs_cap = 0;
	int rc = reader_query(j,
			      "SELECT tick, last_arrival, state_hash, tel_seq, auto_seqs, slip_ns, tel_start,"
			      " time_ms FROM tick"
			      " WHERE tick > ?1 ORDER BY tick",
			      after_tick, &db, &st);
	if (rc)
		return rc;
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		struct itd_journal_tick rec = {
			.tick = (uint64_t)sqlite3_column_int64(st, 0),
			.last_arrival = (uint64_t)sqlite3_column_int64(st, 1),
			.state_hash = (uint64_t)sqlite3_column_int64(st, 2),
			.tel_seq = (uint64_t)sqlite3_column_int64(st, 3),
			.slip_ns = (uint64_t)sqlite3_column_int64(st, 5),
			.tel_start = sqlite3_column_type(st, 6) == SQLITE_NULL
					     ? UINT64_MAX
					     : (uint64_t)sqlite3_column_int64(st, 6),
			.time_ms = sqlite3_column_type(st, 7) == SQLITE_NULL
					   ? INT64_MIN
					   : (int64_t)sqlite3_column_int64(st, 7),
		};
		const void *blob = sqlite3_column_blob(st, 4);
		size_t n = (size_t)sqlite3_column_bytes(st, 4);
		if (n % sizeof(uint64_t)) {
			rc = ITD_EVERIFY; /* not a seq array: the row is damaged */
			goto out;
		}
		n /= sizeof(uint64_t);
		if (n > seqs_cap) {
			/* A copy keeps the seqs aligned; it grows to the largest
			 * tick's list and is reused. */
			uint64_t *grown = itd_realloc(seqs, n * sizeof *seqs);
			if (!grown) {
				rc = ITD_ENOMEM;
				goto out;
			}
			seqs = grown;
			seqs_cap = n;
		}
		if (n)
			memcpy(seqs, blob, n * sizeof *seqs);
		rec.auto_seqs = n ? seqs : NULL;
		rec.n_auto_seqs = (uint32_t)n;
		if ((rc = fn(ctx, &rec)))
			goto out;
	}
	rc = walk_rc(src);
out:
	itd_free(seqs);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* The first snapshot the query yields whose checksum verifies. */
static int find_snapshot(struct itd_journal *j, const char *sql, uint64_t arg, uint64_t *tick_out,
			 void **data_out, size_t *len_out, itd_journal_corrupt_fn corrupt,
			 void *ctx)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	*tick_out = 0;
	*data_out = NULL;
	*len_out = 0;
	int rc = reader_query(j, sql, arg, &db, &st);
	if (rc)
		return rc;
	int src;
	rc = ITD_ENOTFOUND;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t tick = (uint64_t)sqlite3_column_int64(st, 0);
		const void *data = sqlite3_column_blob(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);
		uint64_t sum = (uint64_t)sqlite3_column_int64(st, 2);
		if (itd_hash64(len ? data : "", len, JSNAP_SEED) != sum) {
			if (corrupt)
				corrupt(ctx, tick, "checksum mismatch");
			continue;
		}
		void *copy = NULL;
		if (len) {
			if (!(copy = itd_malloc(len))) {
				rc = ITD_ENOMEM;
				break;
			}
			memcpy(copy, data, len);
		}
		*tick_out = tick;
		*data_out = copy;
		*len_out = len;
		rc = ITD_OK;
		break;
	}
	if (rc == ITD_ENOTFOUND && src != SQLITE_DONE)
		rc = walk_rc(src);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

int itd_journal_snapshot_at_most(struct itd_journal *j, uint64_t tick, uint64_t *tick_out,
				 void **data_out, size_t *len_out, itd_journal_corrupt_fn corrupt,
				 void *ctx)
{
	return find_snapshot(j,
			     "SELECT tick, data, checksum FROM snapshot WHERE tick <= ?1"
			     " ORDER BY tick DESC",
			     tick, tick_out, data_out, len_out, corrupt, ctx);
}

/* The first column of the query's first row, or 0 with no row. */
static int first_u64(struct itd_journal *j, const char *sql, uint64_t arg, uint64_t *out)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	*out = 0;
	int rc = reader_query(j, sql, arg, &db, &st);
	if (rc)
		return rc;
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	else
		rc = walk_rc(src);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

int itd_journal_tick_at_seq(struct itd_journal *j, uint64_t seq, uint64_t *tick_out,
			    uint64_t *end_seq_out)
{
	*tick_out = 0;
	/* From the end backwards: the rows read are the ticks after seq. */
	int rc = first_u64(j, "SELECT tel_seq FROM tick WHERE tick > ?1 ORDER BY tick DESC LIMIT 1",
			   0, end_seq_out);
	if (!rc)
		rc = first_u64(j,
			       "SELECT tick FROM tick WHERE tel_seq <= ?1 ORDER BY tick DESC LIMIT 1",
			       seq, tick_out);
	return rc;
}

int itd_journal_snapshot_from(struct itd_journal *j, uint64_t from, uint64_t *tick_out,
			      void **data_out, size_t *len_out)
{
	return find_snapshot(j,
			     "SELECT tick, data, checksum FROM snapshot WHERE tick >= ?1"
			     " ORDER BY tick ASC",
			     from, tick_out, data_out, len_out, NULL, NULL);
}

int itd_journal_read_meta(struct itd_journal *j, char **text_out, size_t *len_out,
			  uint64_t *seed_out, double *rate_out)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	*text_out = NULL;
	*len_out = 0;
	*seed_out = 0;
	*rate_out = 0;
	int rc = reader_query(j, "SELECT key, value FROM meta WHERE ?1 >= 0", 0, &db, &st);
	if (rc)
		return rc;
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		if (!key)
			continue;
		if (!strcmp(key, "seed")) {
			*seed_out = (uint64_t)sqlite3_column_int64(st, 1);
		} else if (!strcmp(key, "rate")) {
			*rate_out = sqlite3_column_double(st, 1);
		} else if (!strcmp(key, "scenario_text")) {
			const void *b = sqlite3_column_blob(st, 1);
			size_t n = (size_t)sqlite3_column_bytes(st, 1);
			itd_free(*text_out);
			*text_out = itd_malloc(n + 1);
			if (!*text_out) {
				rc = ITD_ENOMEM;
				break;
			}
			if (n)
				memcpy(*text_out, b, n);
			(*text_out)[n] = '\0';
			*len_out = n;
		}
	}
	if (!rc)
		rc = walk_rc(src);
	if (!rc && !*text_out)
		rc = ITD_ENOTFOUND;
	if (rc) {
		itd_free(*text_out);
		*text_out = NULL;
		*len_out = 0;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* The first column of the first row of sql on db as a u64; false if the
 * query fails (e.g. a table an older format lacks). */
static bool peek_u64(sqlite3 *db, const char *sql, uint64_t *out)
{
	sqlite3_stmt *st = NULL;
	bool ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
		  sqlite3_step(st) == SQLITE_ROW;
	if (ok)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return ok;
}

void itd_journal_peek(const char *dir, uint64_t *last_tick_out, bool *inputs_out)
{
	*last_tick_out = 0;
	*inputs_out = false;
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, ITD_JOURNAL_DB) >= sizeof path)
		return;
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(db);
		return;
	}
	uint64_t any = 0;
	peek_u64(db, "SELECT coalesce(max(tick), 0) FROM tick", last_tick_out);
	/* Inputs in blocks (format 4) or in rows (older formats). */
	if (peek_u64(db, "SELECT EXISTS(SELECT 1 FROM input_block)", &any) ||
	    peek_u64(db, "SELECT EXISTS(SELECT 1 FROM input)", &any))
		*inputs_out = any != 0;
	sqlite3_close(db);
}
