/* store_journal_db.c: the journal's SQLite side: open and check the
 * database (WAL, synchronous=FULL, integrity, meta), create the schema, and
 * write one batch of queued records in one transaction. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_journal_int.h"

/* The schema (format 4).  Format 2 lacked tick.slip_ns, tick.tel_start and
 * tick.time_ms; format 3 kept one `input` row per input and one `audit` row
 * per audit entry (with an index by subject) where format 4 keeps one
 * `input_block` row per commit (store_journal_block.c) and one
 * `audit_block` row per tick (store_audit_block.c), each intent's row
 * listing the blocks that hold its entries, and indexes intents by status
 * only while they are live (intent_live), not by status and by type for
 * ever; both are upgraded on open.
 * meta holds format_version, scenario_name,
 * scenario_sha256, scenario_text, seed, rate and created_ms.  `intent` is
 * an index for queries, kept by the writer from the audit notes: one row
 * per intent, never deleted; its `audit` column lists the first index of
 * every audit block holding one of its entries ("12,345,"), where its
 * story is (store_audit_block.c creates that table). */
static const char schema_sql[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB);"
	"CREATE TABLE input_block(first INTEGER PRIMARY KEY, last INTEGER NOT NULL,"
	" n INTEGER NOT NULL, data BLOB NOT NULL);"
	"CREATE TABLE tick(tick INTEGER PRIMARY KEY, last_arrival INTEGER,"
	" state_hash INTEGER, tel_seq INTEGER, auto_seqs BLOB,"
	" slip_ns INTEGER NOT NULL DEFAULT 0, tel_start INTEGER, time_ms INTEGER);"
	"CREATE TABLE snapshot(tick INTEGER PRIMARY KEY, data BLOB, checksum INTEGER);"
	"CREATE TABLE intent(seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL,"
	" status TEXT NOT NULL, actor TEXT NOT NULL, created_tick INTEGER NOT NULL,"
	" updated_tick INTEGER NOT NULL, audit TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX intent_live ON intent(status, seq) WHERE " ITD_STORE_LIVE_TERM ";";

/* Past this many WAL frames (4 MiB) the writer checkpoints after
 * publishing.  Smaller checkpoints hold the next batch up for less time:
 * at 16 per request over HTTP, p99 ack latency 45-47 ms against 67-85 ms
 * at 4000 frames, throughput the same (bench_intake, three runs each). */
#define WAL_CHECKPOINT_FRAMES 1000

int itd_journal_sqlite_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return ITD_OK;
	case SQLITE_NOMEM:
		return ITD_ENOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return ITD_EVERIFY;
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_READONLY:
		return ITD_EIO;
	default:
		return ITD_EIO;
	}
}

/* Record an SQLite failure in err ("PATH: what: sqlite's message") and map
 * its code. */
int itd_journal_db_fail(struct itd_journal *j, sqlite3 *db, int src, const char *what, char *err,
			size_t cap)
{
	snprintf(err, cap, "%s: %s: %s", j->path, what, db ? sqlite3_errmsg(db) : sqlite3_errstr(src));
	return itd_journal_sqlite_rc(src);
}

/* Run a statement that returns no rows we need. */
int itd_journal_db_exec(struct itd_journal *j, sqlite3 *db, const char *sql, char *err, size_t cap)
{
	int src = sqlite3_exec(db, sql, NULL, NULL, NULL);
	return src == SQLITE_OK ? ITD_OK : itd_journal_db_fail(j, db, src, sql, err, cap);
}

/* Run a query returning one row: its first column as text in buf. */
static int query_text(struct itd_journal *j, sqlite3 *db, const char *sql, char *buf,
		      size_t bufcap, char *err, size_t cap)
{
	sqlite3_stmt *st = NULL;
	int src = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_step(st);
	int rc = ITD_OK;
	if (src == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(buf, bufcap, "%s", t ? (const char *)t : "");
	} else if (src == SQLITE_DONE) {
		buf[0] = '\0';
	} else {
		rc = itd_journal_db_fail(j, db, src, sql, err, cap);
	}
	sqlite3_finalize(st);
	return rc;
}

/* PRAGMA quick_check: the first row is "ok" on a sound database. */
int itd_journal_db_integrity(struct itd_journal *j, sqlite3 *db, char *err, size_t cap)
{
	char res[200];
	int rc = query_text(j, db, "PRAGMA quick_check", res, sizeof res, err, cap);
	if (rc)
		return rc;
	if (strcmp(res, "ok")) {
		for (char *c = res; *c; c++)
			if (*c == '\n')
				*c = ' '; /* one line for logs */
		snprintf(err, cap, "%s: database corrupt (integrity check: %s)", j->path, res);
		return ITD_EVERIFY;
	}
	return ITD_OK;
}

/* Insert one meta row. */
static int meta_put(sqlite3_stmt *st, const char *key, int type, const void *v, size_t len,
		    int64_t i, double d)
{
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (type == SQLITE_INTEGER)
		sqlite3_bind_int64(st, 2, i);
	else if (type == SQLITE_FLOAT)
		sqlite3_bind_double(st, 2, d);
	else if (type == SQLITE_TEXT)
		sqlite3_bind_text(st, 2, v, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_blob64(st, 2, len ? v : "", len, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_reset(st);
}

/* A new database: the schema and this run's meta, in one transaction. */
static int create_schema(struct itd_journal *j, sqlite3 *db, char *err, size_t cap)
{
	sqlite3_stmt *st = NULL;
	int rc = itd_journal_db_exec(j, db, "BEGIN IMMEDIATE", err, cap);
	if (rc)
		return rc;
	if ((rc = itd_journal_db_exec(j, db, schema_sql, err, cap)))
		goto fail;
	if ((rc = itd_audit_schema(db))) {
		if (!err[0])
			snprintf(err, cap, "%s: creating the audit table: %s", j->path,
				 sqlite3_errmsg(db));
		goto fail;
	}
	int src = sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES(?1, ?2)", -1, &st,
				     NULL);
	const struct itd_journal_meta *m = &j->meta;
	const char *name = j->scenario_name;
	if (src == SQLITE_OK)
		src = meta_put(st, "format_version", SQLITE_INTEGER, NULL, 0, ITD_JOURNAL_FORMAT, 0);
	if (src == SQLITE_OK)
		src = meta_put(st, "scenario_name", SQLITE_TEXT, name, strlen(name), 0, 0);
	if (src == SQLITE_OK && j->have_sha)
		src = meta_put(st, "scenario_sha256", SQLITE_BLOB, j->sha, sizeof j->sha, 0, 0);
	if (src == SQLITE_OK && m->scenario_text)
		src = meta_put(st, "scenario_text", SQLITE_BLOB, m->scenario_text, m->scenario_len,
			       0, 0);
	if (src == SQLITE_OK)
		src = meta_put(st, "seed", SQLITE_INTEGER, NULL, 0, (int64_t)m->seed, 0);
	if (src == SQLITE_OK)
		src = meta_put(st, "rate", SQLITE_FLOAT, NULL, 0, 0, m->rate);
	if (src == SQLITE_OK)
		src = meta_put(st, "created_ms", SQLITE_INTEGER, NULL, 0, itd_clock_wall_ms(), 0);
	if (src != SQLITE_OK) {
		rc = itd_journal_db_fail(j, db, src, "writing meta", err, cap);
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = itd_journal_db_exec(j, db, "COMMIT", err, cap)))
		goto fail;
	return ITD_OK;
fail:
	sqlite3_finalize(st);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int itd_journal_put_block(sqlite3_stmt *st, struct jblock *b)
{
	sqlite3_bind_int64(st, 1, (sqlite3_int64)b->first);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)b->last);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)b->n);
	sqlite3_bind_blob64(st, 4, b->buf, b->len, SQLITE_STATIC);
	int src = sqlite3_step(st);
	sqlite3_reset(st);
	itd_jblock_reset(b);
	return src == SQLITE_DONE ? SQLITE_OK : src;
}

/* An existing database: its format and scenario must be ours. */
static int check_meta(struct itd_journal *j, sqlite3 *db, char *err, size_t cap)
{
	sqlite3_stmt *st = NULL;
	int64_t format = -1;
	char name[128] = "(unnamed)";
	uint8_t sha[ITD_SHA256_LEN];
	bool have_sha = false;
	int src = sqlite3_prepare_v2(db, "SELECT key, value FROM meta", -1, &st, NULL);
	while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		if (!key)
			continue;
		if (!strcmp(key, "format_version")) {
			format = sqlite3_column_int64(st, 1);
		} else if (!strcmp(key, "scenario_name")) {
			const unsigned char *t = sqlite3_column_text(st, 1);
			snprintf(name, sizeof name, "%s", t ? (const char *)t : "(unnamed)");
		} else if (!strcmp(key, "scenario_sha256")) {
			const void *b = sqlite3_column_blob(st, 1);
			if (b && sqlite3_column_bytes(st, 1) == ITD_SHA256_LEN) {
				memcpy(sha, b, sizeof sha);
				have_sha = true;
			}
		}
		src = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (src != SQLITE_DONE)
		return itd_journal_db_fail(j, db, src, "reading meta", err, cap);
	if ((format == 2 || format == 3) && !j->readonly) {
		int rc = itd_journal_db_upgrade(j, db, format, err, cap);
		if (rc)
			return rc;
		format = ITD_JOURNAL_FORMAT;
	}
	if (format != ITD_JOURNAL_FORMAT) {
		snprintf(err, cap, "%s: journal format %" PRId64 ", this build reads format %d%s",
			 j->path, format, ITD_JOURNAL_FORMAT,
			 format == 2 || format == 3 ? "; upgrade it with `intentd upgrade --data DIR`"
						      " (a server or sim on it upgrades it too)"
						    : "");
		return ITD_ECONFIG;
	}
	if (j->have_sha && (!have_sha || memcmp(sha, j->sha, sizeof sha))) {
		snprintf(err, cap,
			 "%s holds a journal of scenario '%s', not of scenario '%s' "
			 "(SHA-256 differs); use another data directory",
			 j->dir, name, j->scenario_name);
		return ITD_ECONFIG;
	}
	return ITD_OK;
}

/* The highest key of a table (0 when empty). */
static int max_key(struct itd_journal *j, sqlite3 *db, const char *sql, uint64_t *out,
		   char *err, size_t cap)
{
	sqlite3_stmt *st = NULL;
	*out = 0;
	int src = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
		*out = (uint64_t)sqlite3_column_int64(st, 0);
		src = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return src == SQLITE_OK ? ITD_OK : itd_journal_db_fail(j, db, src, "reading the last record", err, cap);
}

/* The WAL hook: remember the WAL's size for the writer's checkpoint. */
static int wal_hook(void *ctx, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	((struct itd_journal *)ctx)->wal_frames = frames;
	return SQLITE_OK;
}

static int prepare(struct itd_journal *j, const char *sql, sqlite3_stmt **st, char *err,
		   size_t cap)
{
	int src = sqlite3_prepare_v3(j->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
	return src == SQLITE_OK ? ITD_OK : itd_journal_db_fail(j, j->db, src, sql, err, cap);
}

int itd_journal_db_open(struct itd_journal *j, bool create, uint64_t *last_tick_out,
			uint64_t *last_arrival_out, char *err, size_t cap)
{
	*last_tick_out = *last_arrival_out = 0;
	struct stat st;
	bool exists = stat(j->path, &st) == 0;
	if (!exists && !create) {
		snprintf(err, cap, "%s: no journal here", j->path);
		return ITD_ENOTFOUND;
	}
	int flags = (j->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
		    SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	int src = sqlite3_open_v2(j->path, &j->db, flags, j->vfs);
	int rc;
	if (src != SQLITE_OK) {
		rc = itd_journal_db_fail(j, j->db, src, "open", err, cap);
		goto fail;
	}
	sqlite3_extended_result_codes(j->db, 1);
	sqlite3_busy_timeout(j->db, j->busy_ms);
	/* Small databases are checked now; a large one would hold up the
	 * restart for seconds (the check reads every page), so it is checked
	 * in the background and a fault found fails the journal then. */
	j->check_pending = false;
	if (j->full_check || !exists || st.st_size <= (off_t)ITD_JOURNAL_SYNC_CHECK_BYTES) {
		if ((rc = itd_journal_db_integrity(j, j->db, err, cap)))
			goto fail;
	} else {
		j->check_pending = !j->readonly;
	}
	char mode[32];
	if ((rc = query_text(j, j->db, "PRAGMA journal_mode=WAL", mode, sizeof mode, err, cap)))
		goto fail;
	if (strcmp(mode, "wal")) {
		snprintf(err, cap, "%s: cannot use WAL mode (journal_mode is %s)", j->path, mode);
		rc = ITD_EIO;
		goto fail;
	}
	/* A 64 MiB page cache (SQLite's default is 2 MiB): the audit and
	 * intent indexes grow with the run, and their inserts then stay in
	 * memory; about 5% more durable intake here. */
	if ((rc = itd_journal_db_exec(
		     j, j->db,
		     "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF; PRAGMA cache_size=-65536;",
		     err, cap)))
		goto fail;
	char have[24], objects[24];
	if ((rc = query_text(j, j->db,
			     "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'", have,
			     sizeof have, err, cap)) ||
	    (rc = query_text(j, j->db, "SELECT count(*) FROM sqlite_master", objects,
			     sizeof objects, err, cap)))
		goto fail;
	if (!have[0]) {
		/* Only an empty database becomes a journal. */
		if (strcmp(objects, "0") || !create) {
			snprintf(err, cap, "%s: not an intentd journal (no meta table)", j->path);
			rc = ITD_EVERIFY;
			goto fail;
		}
		if ((rc = create_schema(j, j->db, err, cap)))
			goto fail;
	} else if ((rc = check_meta(j, j->db, err, cap))) {
		goto fail;
	}
	/* After a failure, prove the file takes a commit again before the
	 * writer is trusted with acknowledged records. */
	if (j->full_check &&
	    (rc = itd_journal_db_exec(j, j->db,
				      "INSERT OR REPLACE INTO meta(key, value) VALUES('reopened_ms', "
				      "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
				      err, cap)))
		goto fail;
	if ((rc = max_key(j, j->db, "SELECT max(tick) FROM tick", last_tick_out, err, cap)) ||
	    (rc = max_key(j, j->db, "SELECT last FROM input_block ORDER BY first DESC LIMIT 1",
			  last_arrival_out, err, cap)))
		goto fail;
	if ((rc = prepare(j, ITD_JOURNAL_INSERT_BLOCK, &j->st_input, err, cap)) ||
	    (rc = prepare(j, "INSERT INTO tick(tick, last_arrival, state_hash, tel_seq, auto_seqs,"
			     " slip_ns, tel_start, time_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &j->st_tick, err, cap)) ||
	    (rc = prepare(j, "INSERT OR REPLACE INTO snapshot(tick, data, checksum)"
			     " VALUES(?1, ?2, ?3)", &j->st_snap, err, cap)) ||
	    (rc = prepare(j, "DELETE FROM snapshot WHERE tick < (SELECT tick FROM snapshot"
			     " ORDER BY tick DESC LIMIT 1 OFFSET ?1)", &j->st_snap_prune, err,
			  cap)) ||
	    (rc = prepare(j, "BEGIN", &j->st_begin, err, cap)) ||
	    (rc = prepare(j, "COMMIT", &j->st_commit, err, cap)) ||
	    (rc = prepare(j, "ROLLBACK", &j->st_rollback, err, cap)) ||
	    (rc = prepare(j, "INSERT INTO intent(seq, id, type, status, actor, created_tick,"
			     " updated_tick, audit) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)"
			     " ON CONFLICT(seq) DO UPDATE SET status = excluded.status,"
			     " updated_tick = excluded.updated_tick, audit = audit || excluded.audit",
			     &j->st_intent, err, cap)) ||
	    (rc = prepare(j, "UPDATE intent SET audit = audit || ?2 WHERE seq = ?1",
			  &j->st_intent_link, err, cap)))
		goto fail;
	if ((rc = itd_audit_store_open(j->db, &j->ast))) {
		snprintf(err, cap, "%s: preparing the audit statements: %s", j->path,
			 sqlite3_errmsg(j->db));
		goto fail;
	}
	/* The chain continues from the table's last entry, whose own hash
	 * must hold (the links before it are `audit verify`'s job). */
	if ((rc = itd_audit_tail(j->db, &j->chain))) {
		snprintf(err, cap, "%s: the audit chain's last entry does not verify (%s)",
			 j->path, itd_err_msg(rc));
		goto fail;
	}
	/* The hook replaces SQLite's automatic checkpoint, which would run
	 * inside COMMIT and delay every waiter of that batch. */
	sqlite3_wal_hook(j->db, wal_hook, j);
	j->wal_frames = 0;
	return ITD_OK;
fail:
	*last_tick_out = *last_arrival_out = 0;
	itd_journal_db_close(j);
	return rc;
}

void itd_journal_db_close(struct itd_journal *j)
{
	itd_audit_store_close(&j->ast);
	sqlite3_stmt **sts[] = {&j->st_input,	  &j->st_tick,	   &j->st_snap,
				&j->st_snap_prune, &j->st_begin,    &j->st_commit,
				&j->st_rollback,   &j->st_intent,   &j->st_intent_link};
	for (size_t i = 0; i < sizeof sts / sizeof sts[0]; i++) {
		sqlite3_finalize(*sts[i]);
		*sts[i] = NULL;
	}
	if (j->db)
		sqlite3_close(j->db);
	j->db = NULL;
}

/* Step a prepared statement to completion and reset it. */
static int step(sqlite3_stmt *st)
{
	int src = sqlite3_step(st);
	sqlite3_reset(st);
	return src == SQLITE_DONE || src == SQLITE_ROW ? SQLITE_OK : src;
}

/* A note that concerns an intent: the intent's row follows the notes of
 * its tick. */
struct jnote_ref {
	uint64_t seq;                      /* the intent's seq */
	uint32_t order;                    /* the note's place in the tick */
	bool status;                       /* the note says the intent's status */
	const uint8_t *note;               /* its header in the ring */
};

static int by_seq_then_order(const void *a, const void *b)
{
	const struct jnote_ref *x = a, *y = b;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* A note's kind, subject, actor, type and status (not NUL terminated). */
static void note_fields(const uint8_t *p, struct jnote *h, const char *f[5])
{
	memcpy(h, p, sizeof *h);
	const char *q = (const char *)p + sizeof *h;
	for (int i = 0; i < 5; i++) {
		f[i] = q;
		q += h->len[i];
	}
}

uint64_t itd_journal_subject_seq(const char *s, size_t len)
{
	if (len < 3 || len > 22 || s[0] != 'i' || s[1] != '-')
		return 0;
	uint64_t v = 0;
	for (size_t i = 2; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

/* An intent's `intent` row after the tick: inserted with what its first
 * status note of the tick says (id, type, and the actor who submitted it),
 * or moved on to the status its last one says; either way it gains the
 * tick's audit block (`link`, "FIRST,"). */
static int upsert_intent(struct itd_journal *j, uint64_t tick, const uint8_t *first,
			 const uint8_t *last, const char *link, int link_len)
{
	struct jnote a, z;
	const char *fa[5], *fz[5];
	note_fields(first, &a, fa);
	note_fields(last, &z, fz);
	sqlite3_stmt *st = j->st_intent;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)a.seq);
	sqlite3_bind_text(st, 2, fa[1], (int)a.len[1], SQLITE_STATIC);
	sqlite3_bind_text(st, 3, fa[3], (int)a.len[3], SQLITE_STATIC);
	sqlite3_bind_text(st, 4, fz[4], (int)z.len[4], SQLITE_STATIC);
	sqlite3_bind_text(st, 5, fa[2], (int)a.len[2], SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)tick);
	sqlite3_bind_text(st, 7, link, link_len, SQLITE_STATIC);
	return step(st);
}

/* Record a note that concerns an intent for the pass after the chain. */
static int add_ref(struct itd_journal *j, size_t *n_ref, struct jnote_ref r)
{
	if (*n_ref == j->latest_cap) {
		size_t cap = j->latest_cap ? 2 * j->latest_cap : 256;
		void *np = itd_realloc(j->latest, cap * sizeof *j->latest);
		if (!np)
			return SQLITE_NOMEM;
		j->latest = np;
		j->latest_cap = cap;
	}
	j->latest[(*n_ref)++] = r;
	return SQLITE_OK;
}

/* Append the tick's notes to the audit chain as one block, then bring each
 * intent they name up to date in the `intent` index: once per intent and
 * tick (its last status, and the block), not once per note, since an
 * intent received, authorized, executed and completed in one tick would
 * otherwise rewrite its row and its status index four times. */
static int write_notes(struct itd_journal *j, uint64_t tick, const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	size_t n_ref = 0;
	uint32_t order = 0;
	uint64_t block = j->chain.index + 1;
	itd_audit_batch_begin(&j->ast);
	while (p < end) {
		struct jnote h;
		memcpy(&h, p, sizeof h);
		const char *f[6];
		const uint8_t *q = p + sizeof h;
		for (int i = 0; i < 6; i++) {
			f[i] = (const char *)q;
			q += h.len[i];
		}
		/* kind..actor are not NUL terminated in the ring: copy them. */
		char txt[3][ITD_AUDIT_MAX_TEXT + 1];
		for (int i = 0; i < 3; i++) {
			memcpy(txt[i], f[i], h.len[i]);
			txt[i][h.len[i]] = '\0';
		}
		struct itd_audit_entry in = {.tick = tick, .time_ms = h.time_ms, .kind = txt[0],
					     .subject = txt[1], .actor = txt[2],
					     .data = h.len[5] ? (const uint8_t *)f[5] : NULL,
					     .data_len = h.len[5]};
		int rc = itd_audit_record(&j->ast, &j->chain, &in, NULL);
		if (rc) {
			itd_audit_batch_drop(&j->ast); /* the transaction rolls back */
			return rc == ITD_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
		}
		/* The intent it concerns: the one it is about, or (a policy
		 * decision) the one its subject names. */
		uint64_t seq = h.seq ? h.seq : itd_journal_subject_seq(f[1], h.len[1]);
		if (seq && add_ref(j, &n_ref,
				   (struct jnote_ref){.seq = seq, .order = order,
						      .status = h.seq && h.len[4], .note = p})) {
			itd_audit_batch_drop(&j->ast);
			return SQLITE_NOMEM;
		}
		order++;
		p += jrec_align(sizeof h + h.len[0] + h.len[1] + h.len[2] + h.len[3] + h.len[4] +
				h.len[5]);
	}
	int rc = itd_audit_batch_end(&j->ast);
	if (rc)
		return rc == ITD_ENOMEM ? SQLITE_NOMEM : rc == ITD_EEXISTS ? SQLITE_CONSTRAINT
										 : SQLITE_ERROR;
	char link[24];
	int link_len = snprintf(link, sizeof link, "%llu,", (unsigned long long)block);
	if (n_ref) /* j->latest is NULL until a tick first names an intent */
		qsort(j->latest, n_ref, sizeof *j->latest, by_seq_then_order);
	for (size_t a = 0, z; a < n_ref; a = z + 1) {
		const uint8_t *first = NULL, *last = NULL;
		for (z = a;; z++) {
			if (j->latest[z].status) {
				first = first ? first : j->latest[z].note;
				last = j->latest[z].note;
			}
			if (z + 1 == n_ref || j->latest[z + 1].seq != j->latest[a].seq)
				break;
		}
		int src;
		if (first) {
			src = upsert_intent(j, tick, first, last, link, link_len);
		} else {
			sqlite3_stmt *st = j->st_intent_link;
			sqlite3_bind_int64(st, 1, (sqlite3_int64)j->latest[a].seq);
			sqlite3_bind_text(st, 2, link, link_len, SQLITE_STATIC);
			src = step(st);
		}
		if (src != SQLITE_OK)
			return src;
	}
	return SQLITE_OK;
}

/* Insert one record (at p in the ring) with its prepared statement; the
 * bound bytes stay in the ring until the batch is published. */
static int write_record(struct itd_journal *j, const struct jrec_hdr *h, const uint8_t *p,
			struct jbatch *b)
{
	const uint8_t *v = p + sizeof *h;
	sqlite3_stmt *st;
	if (h->type == JREC_INPUT) {
		/* Into the batch's block, written as one row when full or at
		 * the end of the batch. */
		struct jrec_input f;
		memcpy(&f, v, sizeof f);
		v += sizeof f;
		bool none = f.actor_len == UINT32_MAX;
		size_t alen = none ? 0 : f.actor_len;
		int rc = itd_jblock_add(&j->iblock, f.arrival, f.seq, f.wall_ms, f.kind,
					none ? NULL : (const char *)v, alen, v + alen, f.len);
		if (rc)
			return rc == ITD_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
		if (f.arrival > b->last_arrival)
			b->last_arrival = f.arrival;
		b->records++;
		return j->iblock.len >= JBLOCK_FLUSH_BYTES ? itd_journal_put_block(j->st_input, &j->iblock)
							   : SQLITE_OK;
	} else if (h->type == JREC_TICK) {
		struct jrec_tick f;
		memcpy(&f, v, sizeof f);
		v += sizeof f;
		st = j->st_tick;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)f.tick);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)f.last_arrival);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)f.state_hash);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)f.tel_seq);
		sqlite3_bind_blob64(st, 5, f.n_auto ? (const void *)v : "", f.n_auto * 8,
				    SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)f.slip_ns);
		if (f.tel_start == UINT64_MAX)
			sqlite3_bind_null(st, 7);
		else
			sqlite3_bind_int64(st, 7, (sqlite3_int64)f.tel_start);
		if (f.time_ms == INT64_MIN)
			sqlite3_bind_null(st, 8);
		else
			sqlite3_bind_int64(st, 8, f.time_ms);
		if (f.tick > b->last_tick)
			b->last_tick = f.tick;
		b->records++;
		int src = step(st);
		if (src == SQLITE_OK && f.notes_len)
			src = write_notes(j, f.tick,
					  f.notes_ref ? (const uint8_t *)(uintptr_t)f.notes_ref
						      : v + f.n_auto * 8,
					  f.notes_len);
		return src;
	} else {
		struct jrec_snap f;
		memcpy(&f, v, sizeof f);
		v += sizeof f;
		st = j->st_snap;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)f.tick);
		if (f.ref)
			v = (const uint8_t *)(uintptr_t)f.ref;
		sqlite3_bind_blob64(st, 2, f.len ? (const void *)v : "", f.len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)f.checksum);
		b->records++;
		int src = step(st);
		if (src != SQLITE_OK || !j->keep_snapshots)
			return src;
		/* Older snapshots go in the same transaction as the new one, so
		 * the store never holds fewer than it keeps. */
		sqlite3_bind_int64(j->st_snap_prune, 1, (sqlite3_int64)(j->keep_snapshots - 1));
		src = step(j->st_snap_prune);
		if (src == SQLITE_OK)
			b->snaps_pruned += (uint64_t)sqlite3_changes(j->db);
		return src;
	}
	b->records++;
	return step(st);
}

int itd_journal_db_write(struct itd_journal *j, struct jbatch *b, char *err, size_t cap)
{
	b->records = b->last_arrival = b->last_tick = b->snaps_pruned = 0;
	const char *what = "begin";
	int src = step(j->st_begin);
	size_t pos = b->start, left = b->bytes;
	what = "insert";
	while (src == SQLITE_OK && left) {
		size_t to_end = j->cap - pos;
		struct jrec_hdr h;
		if (to_end < sizeof h) {
			left -= to_end; /* implied gap at the ring's end */
			pos = 0;
			continue;
		}
		memcpy(&h, j->ring + pos, sizeof h);
		if (h.type != JREC_PAD)
			src = write_record(j, &h, j->ring + pos, b);
		left -= h.size;
		pos = h.type == JREC_PAD || pos + h.size == j->cap ? 0 : pos + h.size;
	}
	if (src == SQLITE_OK && j->iblock.n)
		src = itd_journal_put_block(j->st_input, &j->iblock);
	itd_jblock_reset(&j->iblock);
	if (src == SQLITE_OK) {
		what = "commit";
		src = step(j->st_commit);
	}
	if (src == SQLITE_OK)
		return ITD_OK;
	int rc = itd_journal_db_fail(j, j->db, src, what, err, cap);
	if (!sqlite3_get_autocommit(j->db))
		step(j->st_rollback);
	/* The chain ran ahead of the rolled-back table: bring it back (if
	 * even that fails it is marked broken and refuses until a reopen). */
	itd_audit_tail(j->db, &j->chain);
	return rc == ITD_OK ? ITD_EIO : rc;
}

int itd_journal_db_checkpoint(struct itd_journal *j, char *err, size_t cap)
{
	if (j->wal_frames < WAL_CHECKPOINT_FRAMES)
		return ITD_OK;
	int src = sqlite3_wal_checkpoint_v2(j->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	if (src == SQLITE_OK || (src & 0xff) == SQLITE_BUSY || (src & 0xff) == SQLITE_LOCKED) {
		j->wal_frames = 0;
		return ITD_OK;
	}
	return itd_journal_db_fail(j, j->db, src, "checkpoint", err, cap);
}

int itd_journal_db_reader(struct itd_journal *j, sqlite3 **out)
{
	*out = NULL;
	sqlite3 *db = NULL;
	int src = sqlite3_open_v2(j->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, j->vfs);
	if (src == SQLITE_OK) {
		sqlite3_extended_result_codes(db, 1);
		sqlite3_busy_timeout(db, j->busy_ms);
		*out = db;
		return ITD_OK;
	}
	sqlite3_close(db);
	return itd_journal_sqlite_rc(src) ? itd_journal_sqlite_rc(src) : ITD_EIO;
}
