/* test_store_audit_sign.c: signed checkpoints catch what the chain alone
 * cannot (truncation, a re-hashed forgery, another key), and the key files
 * that hold their keys are created and loaded safely. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_fixture.h"

/* ---------------------------------------------------------- checkpoints */

/* The data of entry idx, copied into buf. */
static size_t read_data(sqlite3 *db, uint64_t idx, uint8_t *buf, size_t cap)
{
	struct fx_chain ch;
	fx_load(db, &ch);
	const struct itd_audit_entry *e = fx_entry(&ch, idx);
	size_t n = e->data_len;
	assert_true(n <= cap);
	memcpy(buf, e->data, n);
	fx_free(&ch);
	return n;
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
	fx_delete(f.db, 101, UINT64_MAX);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checkpoints),
		cmocka_unit_test(test_key_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
