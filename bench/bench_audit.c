/* bench_audit.c: audit chain throughput: entries appended (hashed and
 * chained) and stored in a temporary SQLite file (WAL, synchronous=FULL) as
 * the journal stores them, a block per tick (10 entries here), in
 * transactions of 1000 entries; then the whole chain verified.
 *
 *   bench_audit [-n ENTRIES] [-d DATA_BYTES] [-k CHECKPOINT_EVERY]
 *
 * -k signs a checkpoint after every K entries (0: none, the default), and
 * the verify pass then checks the signatures too. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_audit.h"

#define BATCH 1000

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int src = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (src != SQLITE_OK)
		fprintf(stderr, "bench_audit: %s: %s\n", sql, err ? err : sqlite3_errstr(src));
	sqlite3_free(err);
	return src == SQLITE_OK ? 0 : -1;
}

static double secs(uint64_t t0)
{
	return (double)(itd_clock_mono_ns() - t0) / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long n = 200000, dlen = 200, every = 0;
	int opt;
	while ((opt = getopt(argc, argv, "n:d:k:")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			dlen = strtoul(optarg, NULL, 10);
			break;
		case 'k':
			every = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: bench_audit [-n N] [-d DATA_BYTES] [-k EVERY]\n");
			return 2;
		}
	}
	if (dlen > ITD_AUDIT_MAX_DATA)
		dlen = ITD_AUDIT_MAX_DATA;

	int status = 1;
	const char *base = getenv("TMPDIR");
	char dir[512], path[600], sk_path[600], pk_path[600];
	snprintf(dir, sizeof dir, "%s/bench-audit-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		perror("bench_audit: mkdtemp");
		return 1;
	}
	snprintf(path, sizeof path, "%s/audit.db", dir);
	snprintf(sk_path, sizeof sk_path, "%s/audit.key", dir);
	snprintf(pk_path, sizeof pk_path, "%s/audit.pub", dir);

	sqlite3 *db = NULL;
	struct itd_audit_store st = {0};
	struct itd_audit_chain c;
	struct itd_audit_report r;
	uint8_t sk[ITD_AUDIT_SK_LEN], pk[ITD_AUDIT_PK_LEN];
	uint8_t *data = malloc(dlen ? dlen : 1);
	itd_audit_chain_init(&c);
	if (!data)
		goto out;
	for (unsigned long i = 0; i < dlen; i++)
		data[i] = (uint8_t)('a' + i % 26);
	if (every && (itd_audit_keygen(sk_path, pk_path) || itd_audit_key_load_secret(sk_path, sk) ||
		      itd_audit_key_load_public(pk_path, pk) ||
		      itd_audit_chain_set_signer(&c, sk, every))) {
		fprintf(stderr, "bench_audit: key setup failed\n");
		goto out;
	}
	if (sqlite3_open(path, &db) != SQLITE_OK || exec(db, "PRAGMA journal_mode=WAL") ||
	    exec(db, "PRAGMA synchronous=FULL") || itd_audit_schema(db) ||
	    itd_audit_store_open(db, &st) || itd_audit_tail(db, &c)) {
		fprintf(stderr, "bench_audit: cannot set up %s\n", path);
		goto out;
	}

	uint64_t t0 = itd_clock_mono_ns();
	for (unsigned long i = 0; i < n; i += BATCH) {
		if (exec(db, "BEGIN"))
			goto out;
		for (unsigned long j = i; j < i + BATCH && j < n; j++) {
			char subject[32];
			snprintf(subject, sizeof subject, "i-%06lu", j / 4 + 1);
			struct itd_audit_entry in = {.tick = j / 10, .time_ms = itd_clock_wall_ms(),
						     .kind = "verdict", .subject = subject,
						     .actor = "operator", .data = data,
						     .data_len = dlen};
			/* A block per tick, as the journal writes them. */
			if (j == i || j % 10 == 0) {
				int brc = j == i ? ITD_OK : itd_audit_batch_end(&st);
				if (brc) {
					fprintf(stderr, "bench_audit: block: %s\n", itd_err_name(brc));
					goto out;
				}
				itd_audit_batch_begin(&st);
			}
			int rc = itd_audit_record(&st, &c, &in, NULL);
			if (rc) {
				fprintf(stderr, "bench_audit: record: %s\n", itd_err_name(rc));
				goto out;
			}
		}
		int brc = itd_audit_batch_end(&st);
		if (brc) {
			fprintf(stderr, "bench_audit: block: %s\n", itd_err_name(brc));
			goto out;
		}
		if (exec(db, "COMMIT"))
			goto out;
	}
	double t_append = secs(t0);

	struct itd_audit_verify_opts o = {.pubkey = every ? pk : NULL, .checkpoint_every = every};
	t0 = itd_clock_mono_ns();
	int rc = itd_audit_verify_with(db, &o, &r);
	double t_verify = secs(t0);
	if (rc) {
		fprintf(stderr, "bench_audit: verify: %s (%s at %llu)\n", itd_err_name(rc), r.why,
			(unsigned long long)r.bad_index);
		goto out;
	}
	printf("audit_append: %.0f entries/s; audit_verify: %.0f entries/s "
	       "(%llu entries, %lu-byte data, %llu checkpoints)\n",
	       (double)c.index / t_append, (double)r.n_verified / t_verify,
	       (unsigned long long)r.n_verified, dlen, (unsigned long long)r.n_checkpoints);
	status = 0;
out:
	itd_audit_store_close(&st);
	sqlite3_close(db);
	itd_audit_chain_fini(&c);
	free(data);
	char wal[620];
	unlink(path);
	snprintf(wal, sizeof wal, "%s-wal", path);
	unlink(wal);
	snprintf(wal, sizeof wal, "%s-shm", path);
	unlink(wal);
	unlink(sk_path);
	unlink(pk_path);
	rmdir(dir);
	return status;
}
