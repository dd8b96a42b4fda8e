/* store_journal_upgrade.c: older journal formats, upgraded in place when a
 * server or sim opens them, or by `intentd upgrade` (offline tools refuse
 * them and say so):
 *
 *   2 -> 3  the tick's time, slip and first telemetry seq (columns added;
 *           old ticks replay with the state exactly, without those)
 *   3 -> 4  inputs and audit entries as blocks (one `input_block` row per
 *           commit, one `audit_block` row per tick), each intent's row
 *           listing its audit blocks, intents indexed by status only
 *           while live
 *
 * Each step runs in one transaction: a failure leaves the older format. */
#include <stdio.h>
#include <string.h>

#include "store_journal_int.h"

/* Write the audit entries gathered in *st as one block (upgrade_audit),
 * linking the intents they name to it. */
static int upgrade_audit_block(struct itd_audit_store *st, sqlite3_stmt *link)
{
	if (!st->n)
		return ITD_OK;
	uint64_t first = st->first, prev = 0;
	char text[24];
	int n = snprintf(text, sizeof text, "%llu,", (unsigned long long)first);
	const uint8_t *p = st->buf, *end = st->buf + st->len;
	struct itd_audit_entry e;
	int rc = ITD_OK;
	/* Entries are linked in their block's order; an intent named twice
	 * in a row is linked once. */
	while (!rc && p < end && !(rc = itd_audit_block_next(&p, end, &e))) {
		uint64_t seq = itd_journal_subject_seq(e.subject, strlen(e.subject));
		if (!seq || seq == prev)
			continue;
		prev = seq;
		sqlite3_bind_int64(link, 1, (sqlite3_int64)seq);
		sqlite3_bind_text(link, 2, text, n, SQLITE_STATIC);
		int src = sqlite3_step(link);
		sqlite3_reset(link);
		if (src != SQLITE_DONE)
			rc = itd_journal_sqlite_rc(src) ? itd_journal_sqlite_rc(src) : ITD_EIO;
	}
	return rc ? rc : itd_audit_batch_end(st);
}

/* The format 3 `audit` rows as blocks, one per tick (within the caller's
 * transaction).  A row no format 3 writer could have made (a column of
 * another type) stops the upgrade: `audit verify` of the build that wrote
 * it names the entry. */
static int upgrade_audit(struct itd_journal *j, sqlite3 *db, char *err, size_t cap)
{
	sqlite3_stmt *rd = NULL, *link = NULL;
	struct itd_audit_store st = {0};
	int rc = itd_audit_schema(db);
	if (!rc)
		rc = itd_audit_store_open(db, &st);
	int src = SQLITE_OK;
	if (!rc)
		src = sqlite3_prepare_v2(db,
					 "SELECT idx, tick, time_ms, kind, subject, actor, data,"
					 " prev_hash, hash FROM audit ORDER BY idx", -1, &rd, NULL);
	if (!rc && src == SQLITE_OK)
		src = sqlite3_prepare_v2(db,
					 "UPDATE intent SET audit = audit || ?2 WHERE seq = ?1"
					 " AND audit <> ?2 AND audit NOT LIKE '%,' || ?2", -1, &link,
					 NULL);
	if (rc || src != SQLITE_OK) {
		rc = rc ? rc : itd_journal_sqlite_rc(src);
		snprintf(err, cap, "%s: upgrading the audit chain: %s", j->path, sqlite3_errmsg(db));
		goto out;
	}
	uint64_t tick = 0;
	itd_audit_batch_begin(&st);
	while ((src = sqlite3_step(rd)) == SQLITE_ROW) {
		int64_t idx = sqlite3_column_int64(rd, 0);
		bool typed = sqlite3_column_type(rd, 0) == SQLITE_INTEGER && idx > 0 &&
			     sqlite3_column_type(rd, 1) == SQLITE_INTEGER &&
			     sqlite3_column_type(rd, 2) == SQLITE_INTEGER &&
			     sqlite3_column_bytes(rd, 7) == ITD_AUDIT_HASH_LEN &&
			     sqlite3_column_bytes(rd, 8) == ITD_AUDIT_HASH_LEN;
		for (int c = 3; c <= 5; c++)
			typed &= sqlite3_column_type(rd, c) == SQLITE_TEXT;
		if (!typed) {
			snprintf(err, cap,
				 "%s: cannot upgrade: audit entry %lld is malformed (verify it with"
				 " the build that wrote this journal)", j->path, (long long)idx);
			rc = ITD_EVERIFY;
			goto out;
		}
		struct itd_audit_entry e = {
			.index = (uint64_t)idx,
			.tick = (uint64_t)sqlite3_column_int64(rd, 1),
			.time_ms = sqlite3_column_int64(rd, 2),
			.kind = (const char *)sqlite3_column_text(rd, 3),
			.subject = (const char *)sqlite3_column_text(rd, 4),
			.actor = (const char *)sqlite3_column_text(rd, 5),
			.data = sqlite3_column_blob(rd, 6),
			.data_len = (size_t)sqlite3_column_bytes(rd, 6),
		};
		memcpy(e.prev_hash, sqlite3_column_blob(rd, 7), ITD_AUDIT_HASH_LEN);
		memcpy(e.hash, sqlite3_column_blob(rd, 8), ITD_AUDIT_HASH_LEN);
		if (!e.data_len)
			e.data = NULL;
		if (st.n && (e.tick != tick || st.len >= JBLOCK_FLUSH_BYTES)) {
			if ((rc = upgrade_audit_block(&st, link)))
				break;
			itd_audit_batch_begin(&st);
		}
		tick = e.tick;
		if ((rc = itd_audit_insert(&st, &e)))
			break;
	}
	if (!rc && src == SQLITE_DONE)
		rc = upgrade_audit_block(&st, link);
	else if (!rc)
		rc = itd_journal_sqlite_rc(src) ? itd_journal_sqlite_rc(src) : ITD_EIO;
	if (rc && !err[0])
		snprintf(err, cap, "%s: upgrading the audit chain: %s (%s)", j->path, itd_err_msg(rc),
			 sqlite3_errmsg(db));
out:
	sqlite3_finalize(rd);
	sqlite3_finalize(link);
	itd_audit_store_close(&st);
	return rc;
}

/* Format 3 to 4, in one transaction: the `input` rows become blocks of
 * about JBLOCK_FLUSH_BYTES in arrival order, the `audit` rows blocks of a
 * tick each (upgrade_audit), and the old tables go. */
static int upgrade_inputs(struct itd_journal *j, sqlite3 *db, char *err, size_t cap)
{
	sqlite3_stmt *rd = NULL, *wr = NULL;
	struct jblock b = {0};
	int rc = itd_journal_db_exec(
		j, db,
		"BEGIN IMMEDIATE; CREATE TABLE input_block(first INTEGER PRIMARY KEY,"
		" last INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL);"
		" ALTER TABLE intent ADD COLUMN audit TEXT NOT NULL DEFAULT '';"
		" DROP INDEX IF EXISTS intent_by_status; DROP INDEX IF EXISTS intent_by_type;"
		" CREATE INDEX IF NOT EXISTS intent_live ON intent(status, seq)"
		" WHERE " ITD_STORE_LIVE_TERM ";",
		err, cap);
	if (rc)
		goto fail;
	int src = sqlite3_prepare_v2(db,
				     "SELECT arrival, kind, seq, wall_ms, actor, data FROM input"
				     " ORDER BY arrival", -1, &rd, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_prepare_v2(db, ITD_JOURNAL_INSERT_BLOCK, -1, &wr, NULL);
	while (src == SQLITE_OK && (src = sqlite3_step(rd)) == SQLITE_ROW) {
		const char *actor = (const char *)sqlite3_column_text(rd, 4);
		rc = itd_jblock_add(&b, (uint64_t)sqlite3_column_int64(rd, 0),
				    (uint64_t)sqlite3_column_int64(rd, 2), sqlite3_column_int64(rd, 3),
				    (uint32_t)sqlite3_column_int64(rd, 1), actor,
				    actor ? strlen(actor) : 0, sqlite3_column_blob(rd, 5),
				    (size_t)sqlite3_column_bytes(rd, 5));
		if (rc) {
			snprintf(err, cap, "%s: upgrading the journal to format %d: input %lld: %s",
				 j->path, ITD_JOURNAL_FORMAT, (long long)sqlite3_column_int64(rd, 0),
				 itd_err_msg(rc));
			goto fail;
		}
		src = b.len >= JBLOCK_FLUSH_BYTES ? itd_journal_put_block(wr, &b) : SQLITE_OK;
	}
	if (src == SQLITE_DONE)
		src = b.n ? itd_journal_put_block(wr, &b) : SQLITE_OK;
	if (src != SQLITE_OK) {
		rc = itd_journal_db_fail(j, db, src, "upgrading the journal's inputs", err, cap);
		goto fail;
	}
	sqlite3_finalize(rd);
	sqlite3_finalize(wr);
	rd = wr = NULL;
	itd_jblock_free(&b);
	if ((rc = upgrade_audit(j, db, err, cap)))
		goto fail;
	rc = itd_journal_db_exec(j, db,
				 "DROP TABLE input; DROP TABLE audit;"
				 " UPDATE meta SET value = 4 WHERE key = 'format_version'; COMMIT;",
				 err, cap);
	if (rc)
		goto fail;
	return ITD_OK;
fail:
	sqlite3_finalize(rd);
	sqlite3_finalize(wr);
	itd_jblock_free(&b);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int itd_journal_db_upgrade(struct itd_journal *j, sqlite3 *db, int64_t format, char *err,
			   size_t cap)
{
	if (format == 2) {
		int rc = itd_journal_db_exec(
			j, db,
			"BEGIN; ALTER TABLE tick ADD COLUMN slip_ns INTEGER NOT NULL DEFAULT 0;"
			" ALTER TABLE tick ADD COLUMN tel_start INTEGER;"
			" ALTER TABLE tick ADD COLUMN time_ms INTEGER;"
			" UPDATE meta SET value = 3 WHERE key = 'format_version'; COMMIT;",
			err, cap);
		if (rc) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
		format = 3;
	}
	return format == 3 ? upgrade_inputs(j, db, err, cap) : ITD_OK;
}

int itd_journal_upgrade(const char *dir, int64_t *from_out, char *err, size_t cap)
{
	*from_out = 0;
	if (cap)
		err[0] = '\0';
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, ITD_JOURNAL_DB) >= sizeof path) {
		snprintf(err, cap, "%s: path too long", dir);
		return ITD_EINVAL;
	}
	/* What format it is, read without opening the journal (which would
	 * create what is missing). */
	sqlite3 *db = NULL;
	int src = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		sqlite3_close(db);
		snprintf(err, cap, "%s: no intentd store here (no %s)", dir, ITD_JOURNAL_DB);
		return ITD_ENOTFOUND;
	}
	sqlite3_stmt *st = NULL;
	int64_t format = -1;
	src = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'format_version'", -1, &st,
				 NULL);
	if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW)
		format = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (format < 0) {
		snprintf(err, cap, "%s: not an intentd journal (%s)", path,
			 src == SQLITE_ROW || src == SQLITE_DONE ? "no format_version in meta"
								 : sqlite3_errmsg(db));
		sqlite3_close(db);
		return ITD_EVERIFY;
	}
	sqlite3_close(db);
	*from_out = format;
	if (format == ITD_JOURNAL_FORMAT)
		return ITD_OK;
	if (format != 2 && format != 3) {
		snprintf(err, cap, "%s: journal format %lld; this build upgrades formats 2 and 3 to %d",
			 path, (long long)format, ITD_JOURNAL_FORMAT);
		return ITD_ECONFIG;
	}
	/* Opening it for writing upgrades it (check_meta), every page checked. */
	struct itd_journal_config cfg = {.dir = dir, .meta = {.scenario_name = "(as recorded)"}};
	struct itd_journal *j = NULL;
	int rc = itd_journal_open(&cfg, &j, err, cap);
	if (rc)
		return rc;
	rc = itd_journal_close(j);
	if (rc)
		snprintf(err, cap, "%s: closing after the upgrade: %s", path, itd_err_msg(rc));
	return rc;
}
