/* test_store_audit_verify.c: the verifier names the first entry that was
 * changed, deleted, moved or malformed in a real SQLite file, and a
 * damaged database file gives errors, never a crash. */
#include <stdio.h>
#include <string.h>

#include "audit_fixture.h"

/* --------------------------------------------------------------- tamper */

/* One byte of any field of a random entry, in its block: verify names
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
	fx_delete(f.db, i, i);
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
	fx_delete(f.db, 120, 135);
	expect_fault(f.db, NULL, ITD_AUDIT_MISSING, 120);
	assert_int_equal(itd_audit_verify(f.db, NULL, &r), ITD_EVERIFY);
	assert_int_equal(r.missing_to, 135);
	assert_string_equal(r.why, "missing entries 120..135 (deleted)");
	fx_delete(f.db, 1, 1);
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
	fx_delete(f.db, 996, UINT64_MAX);
	expect_intact(f.db, NULL, 995);
	struct itd_audit_verify_opts o = {.head = &head};
	expect_fault(f.db, &o, ITD_AUDIT_TRUNCATED, 996);
	struct itd_audit_report r;
	assert_int_equal(itd_audit_verify_with(f.db, &o, &r), ITD_EVERIFY);
	assert_int_equal(r.missing_to, 1000);
	assert_string_equal(r.why, "missing entries 996..1000 (truncated)");
	/* A head the shortened chain still reaches holds. */
	struct fx_chain ch;
	fx_load(f.db, &ch);
	struct itd_audit_head old = {.index = 500};
	memcpy(old.hash, fx_entry(&ch, 500)->hash, 32);
	fx_free(&ch);
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
	fx_swap(f.db, a, b);
	expect_fault(f.db, NULL, ITD_AUDIT_ORDER, a);
	struct itd_audit_report r;
	assert_int_equal(itd_audit_verify(f.db, NULL, &r), ITD_EVERIFY);
	char want[96];
	snprintf(want, sizeof want, "index out of order: holds the entry written as %llu",
		 (unsigned long long)b);
	assert_string_equal(r.why, want);
	/* Swap back: intact. */
	fx_swap(f.db, a, b);
	expect_intact(f.db, NULL, 500);
	/* The first entry moved under index 0. */
	fx_reindex(f.db, 1, 0);
	expect_fault(f.db, NULL, ITD_AUDIT_ORDER, 1);
	fx_fini(&f);
}

/* Blocks no writer could produce: not a BLOB, a NUL inside a text (which
 * would otherwise hide what follows it from the hash), cut short, or with
 * bounds that are not its entries'. */
static void test_malformed(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "audit-malformed");
	fill(&f, 50);
	/* Entries 9..11 are one block (tick 3). */
	exec(f.db, "UPDATE audit_block SET entries = CAST(entries AS TEXT) WHERE first = 9");
	expect_fault(f.db, NULL, ITD_AUDIT_MALFORMED, 9);
	struct itd_audit_report r;
	assert_int_equal(itd_audit_verify(f.db, NULL, &r), ITD_EVERIFY);
	assert_string_equal(r.why, "malformed: entries is not a BLOB");
	exec(f.db, "UPDATE audit_block SET entries = CAST(entries AS BLOB) WHERE first = 9");
	expect_intact(f.db, NULL, 50);
	/* A NUL inside entry 20's subject (entries 18..20 are a block: its
	 * third entry's subject, "i-000020", follows its kind). */
	struct fx_chain ch;
	fx_load(f.db, &ch);
	char *subj = (char *)(uintptr_t)fx_entry(&ch, 20)->subject;
	subj[3] = '\0';
	exec(f.db, "BEGIN");
	sqlite3_stmt *u;
	assert_int_equal(sqlite3_prepare_v2(f.db, "UPDATE audit_block SET entries = ?1"
					    " WHERE first = 18", -1, &u, NULL),
			 SQLITE_OK);
	size_t b = ch.block_of[19];
	sqlite3_bind_blob(u, 1, ch.blobs[b], (int)ch.lens[b], SQLITE_STATIC);
	assert_int_equal(sqlite3_step(u), SQLITE_DONE);
	sqlite3_finalize(u);
	exec(f.db, "COMMIT");
	expect_fault(f.db, NULL, ITD_AUDIT_MALFORMED, 20);
	assert_int_equal(itd_audit_verify(f.db, NULL, &r), ITD_EVERIFY);
	assert_string_equal(r.why, "malformed: entry does not decode");
	subj[3] = '0';
	fx_store(f.db, &ch);
	fx_free(&ch);
	expect_intact(f.db, NULL, 50);
	/* A block cut short: its last entry (32 of 30..32) lacks a byte. */
	exec(f.db, "UPDATE audit_block SET entries = substr(entries, 1, length(entries) - 1)"
		   " WHERE first = 30");
	expect_fault(f.db, NULL, ITD_AUDIT_MALFORMED, 32);
	/* Bounds that are not the entries' (6..8 claiming 6..9). */
	exec(f.db, "UPDATE audit_block SET last = 9 WHERE first = 6");
	expect_fault(f.db, NULL, ITD_AUDIT_MALFORMED, 9);
	assert_int_equal(itd_audit_verify(f.db, NULL, &r), ITD_EVERIFY);
	assert_string_equal(r.why, "malformed: block 6..9 holds entries 6..8");
	fx_fini(&f);
}

/* --------------------------------------------------------- corrupt files */

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
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tamper_one_byte),
		cmocka_unit_test(test_rewrite_recomputed),
		cmocka_unit_test(test_delete_entries),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_corrupt_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
