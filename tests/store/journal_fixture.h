/* journal_fixture.h: the journal suites' shared fixture: a configuration,
 * an open that fails the test, one waited-for append, and cleanup. */
#ifndef ITD_TEST_JOURNAL_FIXTURE_H
#define ITD_TEST_JOURNAL_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store_journal.h"
#include "test_support.h"

/* ------------------------------------------------------------- fixtures */

static const char scn_a[] = "name: alpha\nstate: {}\n";
static const char scn_b[] = "name: bravo\nstate: {}\n";

static inline struct itd_journal_config config(const char *dir, const char *name, const char *text)
{
	struct itd_journal_config cfg = {
		.dir = dir, .create = true,
		.meta = {.scenario_name = name, .scenario_text = text, .scenario_len = strlen(text),
			 .seed = 7, .rate = 10}};
	return cfg;
}

static inline struct itd_journal *open_ok(const struct itd_journal_config *cfg)
{
	struct itd_journal *j = NULL;
	char err[512];
	int rc = itd_journal_open(cfg, &j, err, sizeof err);
	if (rc)
		fail_msg("open %s: %s (%s)", cfg->dir, itd_err_name(rc), err);
	return j;
}

/* Remove a test directory and free its name. */
static inline void rm_dir(char *dir)
{
	itd_test_rmtree(dir);
	free(dir);
}

/* A connection of our own on the journal's database in dir. */
static inline sqlite3 *journal_sql(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, ITD_JOURNAL_DB);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	return db;
}

/* sql prepared on db and stepped to its first row (the caller reads the
 * columns, then finalizes). */
static inline sqlite3_stmt *journal_row(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	return st;
}

/* Run sql on the closed journal in dir, behind its back (damage, an
 * older format), and fail the test if SQLite refuses it. */
static inline void tamper(const char *dir, const char *sql)
{
	sqlite3 *db = journal_sql(dir);
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : "?");
	sqlite3_close(db);
}

/* Append one input carrying `payload` and wait for it. */
static inline int put_input(struct itd_journal *j, uint64_t arrival, const char *payload)
{
	struct itd_journal_input in = {.arrival = arrival, .kind = 1, .seq = arrival * 10,
				       .wall_ms = 1000 + (int64_t)arrival, .actor = "op",
				       .data = payload, .len = strlen(payload)};
	uint64_t t;
	int rc = itd_journal_input(j, &in, &t);
	return rc ? rc : itd_journal_wait(j, t, -1);
}
#endif
