/* test_store_journal.c: what the journal promises: records come back as
 * written and in order, a ticket reported durable survives a kill -9, many
 * appenders share one commit, and a storage fault never reports durability
 * and stops writes until a reopen has checked the database. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store_journal.h"
#include "test_support.h"

/* ------------------------------------------------------------- fixtures */

static const char scn_a[] = "name: alpha\nstate: {}\n";
static const char scn_b[] = "name: bravo\nstate: {}\n";

static struct itd_journal_config config(const char *dir, const char *name, const char *text)
{
	struct itd_journal_config cfg = {
		.dir = dir, .create = true,
		.meta = {.scenario_name = name, .scenario_text = text, .scenario_len = strlen(text),
			 .seed = 7, .rate = 10}};
	return cfg;
}

static struct itd_journal *open_ok(const struct itd_journal_config *cfg)
{
	struct itd_journal *j = NULL;
	char err[512];
	int rc = itd_journal_open(cfg, &j, err, sizeof err);
	if (rc)
		fail_msg("open %s: %s (%s)", cfg->dir, itd_err_name(rc), err);
	return j;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove a test directory and free its name. */
static void rm_dir(char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* Append one input carrying `payload` and wait for it. */
static int put_input(struct itd_journal *j, uint64_t arrival, const char *payload)
{
	struct itd_journal_input in = {.arrival = arrival, .kind = 1, .seq = arrival * 10,
				       .wall_ms = 1000 + (int64_t)arrival, .actor = "op",
				       .data = payload, .len = strlen(payload)};
	uint64_t t;
	int rc = itd_journal_input(j, &in, &t);
	return rc ? rc : itd_journal_wait(j, t, -1);
}

/* Collect arrivals read back into a growable array. */
struct arrivals {
	uint64_t *v;                       /* arrivals in the order read */
	size_t n, cap;                     /* count, capacity */
};

static int collect_arrival(void *ctx, const struct itd_journal_input *rec)
{
	struct arrivals *a = ctx;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 1024;
		a->v = realloc(a->v, a->cap * sizeof *a->v);
		assert_non_null(a->v);
	}
	a->v[a->n++] = rec->arrival;
	return 0;
}

/* A deadline for condition waits in the tests. */
static struct timespec deadline_in(int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* ------------------------------------------------- a fault-injecting VFS */

/* The VFS "itdfault" wraps the default one.  Armed, it fails the Nth xWrite
 * or xSync from arming (or every one from the Nth on: sticky), or holds the
 * next xSync until the test opens the gate. */
struct shim_file {
	sqlite3_file base;                 /* our methods */
	sqlite3_file *real;                /* the wrapped file, right after this struct */
};

static struct {
	pthread_mutex_t m;                 /* guards this struct */
	pthread_cond_t c;                  /* gate state changed */
	long writes, syncs;                /* calls since arming */
	long write_at, sync_at;            /* fail this call (0: never) */
	bool sticky;                       /* fail every call from then on */
	bool fired;                        /* a failure was injected */
	int write_err;                     /* code a failed write returns */
	bool gate_armed;                   /* hold the next xSync */
	bool gate_held;                    /* an xSync is being held */
	bool gate_open;                    /* let it go */
} F = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;

static void fault_arm(long write_at, long sync_at, bool sticky, int write_err)
{
	pthread_mutex_lock(&F.m);
	F.writes = F.syncs = 0;
	F.write_at = write_at;
	F.sync_at = sync_at;
	F.sticky = sticky;
	F.fired = false;
	F.write_err = write_err ? write_err : SQLITE_IOERR_WRITE;
	pthread_mutex_unlock(&F.m);
}

static bool fault_fired(void)
{
	pthread_mutex_lock(&F.m);
	bool f = F.fired;
	pthread_mutex_unlock(&F.m);
	return f;
}

/* Count a call; true if it must fail. */
static bool fault_hit(long *calls, long at)
{
	pthread_mutex_lock(&F.m);
	long n = ++*calls;
	bool hit = at > 0 && (n == at || (F.sticky && n > at));
	if (hit)
		F.fired = true;
	pthread_mutex_unlock(&F.m);
	return hit;
}

#define REAL(f) (((struct shim_file *)(f))->real)

static int shim_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}
static int shim_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}
static int shim_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	if (fault_hit(&F.writes, F.write_at))
		return F.write_err;
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}
static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int shim_sync(sqlite3_file *f, int flags)
{
	pthread_mutex_lock(&F.m);
	if (F.gate_armed) {
		F.gate_armed = false;
		F.gate_held = true;
		pthread_cond_broadcast(&F.c);
		while (!F.gate_open)
			pthread_cond_wait(&F.c, &F.m);
		F.gate_held = false;
	}
	pthread_mutex_unlock(&F.m);
	if (fault_hit(&F.syncs, F.sync_at))
		return SQLITE_IOERR_FSYNC;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int shim_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int shim_lock(sqlite3_file *f, int lk)
{
	return REAL(f)->pMethods->xLock(REAL(f), lk);
}
static int shim_unlock(sqlite3_file *f, int lk)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), lk);
}
static int shim_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int shim_fcntl(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int shim_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int shim_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int shim_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
static int shim_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void shim_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int shim_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int shim_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int shim_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods shim_io = {
	3,          shim_close,    shim_read,        shim_write,     shim_truncate,
	shim_sync,  shim_size,     shim_lock,        shim_unlock,    shim_reserved,
	shim_fcntl, shim_sector,   shim_devchar,     shim_shm_map,   shim_shm_lock,
	shim_shm_barrier, shim_shm_unmap, shim_fetch, shim_unfetch,
};

static int shim_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
		     int *out_flags)
{
	(void)vfs;
	struct shim_file *sf = (struct shim_file *)f;
	sf->real = (sqlite3_file *)(sf + 1);
	int rc = real_vfs->xOpen(real_vfs, name, sf->real, flags, out_flags);
	/* The unix VFS's methods are version 3, which ours forward. */
	sf->base.pMethods = sf->real->pMethods ? &shim_io : NULL;
	return rc;
}
static int shim_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	return real_vfs->xDelete(real_vfs, name, sync_dir);
}
static int shim_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int shim_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}
static int shim_random(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xRandomness(real_vfs, n, out);
}
static int shim_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return real_vfs->xSleep(real_vfs, us);
}
static int shim_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return real_vfs->xCurrentTime(real_vfs, out);
}
static int shim_lasterr(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xGetLastError(real_vfs, n, out);
}
static int shim_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static void shim_register(void)
{
	if (real_vfs)
		return;
	real_vfs = sqlite3_vfs_find(NULL);
	assert_non_null(real_vfs);
	assert_true(real_vfs->iVersion >= 2);
	shim_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile,
		.mxPathname = real_vfs->mxPathname,
		.zName = "itdfault",
		.xOpen = shim_open,
		.xDelete = shim_delete,
		.xAccess = shim_access,
		.xFullPathname = shim_fullpath,
		.xRandomness = shim_random,
		.xSleep = shim_sleep,
		.xCurrentTime = shim_time,
		.xGetLastError = shim_lasterr,
		.xCurrentTimeInt64 = shim_time64,
	};
	assert_int_equal(sqlite3_vfs_register(&shim_vfs, 0), SQLITE_OK);
}

/* Hold the writer in its next fsync; returns once it is held. */
static void gate_close(void)
{
	pthread_mutex_lock(&F.m);
	F.gate_armed = true;
	F.gate_open = false;
	pthread_mutex_unlock(&F.m);
}

static void gate_wait_held(void)
{
	struct timespec dl = deadline_in(10000);
	pthread_mutex_lock(&F.m);
	while (!F.gate_held) {
		if (pthread_cond_timedwait(&F.c, &F.m, &dl) == ETIMEDOUT)
			break;
	}
	bool held = F.gate_held;
	pthread_mutex_unlock(&F.m);
	assert_true(held);
}

static void gate_release(void)
{
	pthread_mutex_lock(&F.m);
	F.gate_open = true;
	pthread_cond_broadcast(&F.c);
	pthread_mutex_unlock(&F.m);
}

/* ----------------------------------------------------------- round trip */

struct seen {
	int n_inputs, n_ticks;             /* records read back */
	bool ok;                           /* every one matched */
};

static int check_input(void *ctx, const struct itd_journal_input *r)
{
	struct seen *s = ctx;
	s->n_inputs++;
	char want[64];
	snprintf(want, sizeof want, "input-%llu", (unsigned long long)r->arrival);
	if (r->arrival == 2) {
		/* The odd one: no actor, no data. */
		s->ok &= r->actor == NULL && r->len == 0 && r->kind == 3;
		return 0;
	}
	s->ok &= r->kind == 1 && r->seq == r->arrival * 10 && r->wall_ms == 1000 + (int64_t)r->arrival &&
		 r->actor && !strcmp(r->actor, "op") && r->len == strlen(want) &&
		 !memcmp(r->data, want, r->len);
	return 0;
}

static int check_tick(void *ctx, const struct itd_journal_tick *r)
{
	struct seen *s = ctx;
	s->n_ticks++;
	s->ok &= r->last_arrival == r->tick && r->state_hash == ~r->tick && r->tel_seq == r->tick * 3 &&
		 r->n_auto_seqs == (uint32_t)(r->tick % 3);
	for (uint32_t i = 0; i < r->n_auto_seqs; i++)
		s->ok &= r->auto_seqs[i] == r->tick * 100 + i;
	return 0;
}

/* Read everything back and compare with what round_trip wrote. */
static void verify_round_trip(struct itd_journal *j)
{
	struct seen s = {.ok = true};
	assert_int_equal(itd_journal_read_inputs(j, 0, check_input, &s), ITD_OK);
	assert_int_equal(itd_journal_read_ticks(j, 0, check_tick, &s), ITD_OK);
	assert_true(s.ok);
	assert_int_equal(s.n_inputs, 50);
	assert_int_equal(s.n_ticks, 20);
	s = (struct seen){.ok = true};
	assert_int_equal(itd_journal_read_inputs(j, 45, check_input, &s), ITD_OK);
	assert_int_equal(s.n_inputs, 5);
	assert_int_equal(itd_journal_read_ticks(j, 18, check_tick, &s), ITD_OK);
	assert_int_equal(s.n_ticks, 2);

	uint64_t tick;
	void *data;
	size_t len;
	assert_int_equal(itd_journal_latest_snapshot(j, &tick, &data, &len, NULL, NULL), ITD_OK);
	assert_int_equal(tick, 20);
	assert_int_equal(len, 5000);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(((uint8_t *)data)[i], (uint8_t)(i * 7 + 20));
	itd_free(data);
	uint64_t lt, la;
	itd_journal_last(j, &lt, &la);
	assert_int_equal(lt, 20);
	assert_int_equal(la, 50);
}

static void test_round_trip(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-rt");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = open_ok(&cfg);
	uint64_t t, last = 0;
	uint8_t snap[5000];
	for (uint64_t a = 1; a <= 50; a++) {
		char buf[64];
		snprintf(buf, sizeof buf, "input-%llu", (unsigned long long)a);
		struct itd_journal_input in = {.arrival = a, .kind = 1, .seq = a * 10,
					       .wall_ms = 1000 + (int64_t)a, .actor = "op",
					       .data = buf, .len = strlen(buf)};
		if (a == 2)
			in = (struct itd_journal_input){.arrival = 2, .kind = 3};
		assert_int_equal(itd_journal_input(j, &in, &t), ITD_OK);
		assert_true(t > last);
		last = t;
		if (a % 5 == 0 && a <= 100) {
			uint64_t tk = a / 5 * 2 - 1;
			for (uint64_t k = tk; k <= tk + 1; k++) {
				uint64_t seqs[2] = {k * 100, k * 100 + 1};
				struct itd_journal_tick tr = {.tick = k, .last_arrival = k, .state_hash = ~k,
							      .tel_seq = k * 3, .auto_seqs = seqs,
							      .n_auto_seqs = (uint32_t)(k % 3)};
				assert_int_equal(itd_journal_tick(j, &tr, &t), ITD_OK);
				if (k % 10 == 0) {
					for (size_t i = 0; i < sizeof snap; i++)
						snap[i] = (uint8_t)(i * 7 + k);
					assert_int_equal(itd_journal_snapshot(j, k, snap, sizeof snap, &t),
							 ITD_OK);
				}
			}
		}
	}
	assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	/* Everything up to the last ticket is durable with it. */
	assert_int_equal(itd_journal_wait(j, 1, 0), ITD_OK);
	/* Read while the writer runs, on a separate connection. */
	verify_round_trip(j);
	struct itd_journal_stats st;
	itd_journal_stats(j, &st);
	assert_int_equal(st.records, 50 + 20 + 2);
	assert_int_equal(st.durable_ticket, t);
	assert_int_equal(st.failures, 0);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	/* And after close and reopen (not creating). */
	cfg.create = false;
	j = open_ok(&cfg);
	verify_round_trip(j);
	/* Arrivals and ticks continue from the database. */
	struct itd_journal_input again = {.arrival = 50, .kind = 1};
	assert_int_equal(itd_journal_input(j, &again, &t), ITD_EINVAL);
	assert_int_equal(t, 0);
	struct itd_journal_tick tk = {.tick = 20};
	assert_int_equal(itd_journal_tick(j, &tk, &t), ITD_EINVAL);
	assert_int_equal(put_input(j, 51, "x"), ITD_OK);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

/* Wrong uses are refused without touching the queue. */
static void test_bad_arguments(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-args");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = NULL;
	char err[256];
	struct itd_journal_config none = {0};
	assert_int_equal(itd_journal_open(&none, &j, err, sizeof err), ITD_EINVAL);
	assert_null(j);
	j = open_ok(&cfg);
	uint64_t t = 99;
	struct itd_journal_input in = {.arrival = 1, .len = 3};
	assert_int_equal(itd_journal_input(j, &in, &t), ITD_EINVAL); /* len without data */
	assert_int_equal(t, 0);
	assert_int_equal(itd_journal_snapshot(j, 1, NULL, 5, &t), ITD_EINVAL);
	assert_int_equal(itd_journal_wait(j, 0, 0), ITD_EINVAL);
	assert_int_equal(itd_journal_wait(j, 12345, 0), ITD_EINVAL); /* never handed out */
	assert_int_equal(put_input(j, 5, "a"), ITD_OK);
	assert_int_equal(put_input(j, 5, "a"), ITD_EINVAL);
	assert_int_equal(put_input(j, 4, "a"), ITD_EINVAL);
	assert_int_equal(put_input(j, 9, "a"), ITD_OK); /* gaps are allowed */
	/* Larger than the whole queue: a limit, not a transient "full". */
	size_t big = ITD_JOURNAL_QUEUE_DEFAULT + 1;
	void *huge = calloc(1, big);
	assert_non_null(huge);
	assert_int_equal(itd_journal_snapshot(j, 1, huge, big, &t), ITD_ELIMIT);
	free(huge);
	char why[128];
	assert_int_equal(itd_journal_status(j, why, sizeof why), ITD_OK);
	assert_string_equal(why, "");
	assert_int_equal(itd_journal_close(j), ITD_OK);
	assert_int_equal(itd_journal_close(NULL), ITD_OK);
	/* Not creating, and nothing there. */
	cfg.create = false;
	char *missing = itd_test_tmpdir("journal-missing");
	cfg.dir = missing;
	assert_int_equal(itd_journal_open(&cfg, &j, err, sizeof err), ITD_ENOTFOUND);
	assert_null(j);
	rm_dir(missing);
	rm_dir(dir);
}

/* ---------------------------------------------------------- group commit */

/* While a commit is in progress, records accumulate for the next one; a
 * full queue refuses with ITD_EFULL and keeps what it accepted. */
static void test_commit_in_progress(void **state)
{
	(void)state;
	shim_register();
	fault_arm(0, 0, false, 0);
	char *dir = itd_test_tmpdir("journal-gate");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	cfg.vfs = "itdfault";
	cfg.queue_bytes = 64 * 1024;
	struct itd_journal *j = open_ok(&cfg);
	struct itd_journal_stats s0, s1;
	itd_journal_stats(j, &s0);

	gate_close();
	uint64_t first, t, last = 0;
	struct itd_journal_input in = {.arrival = 1, .kind = 1, .data = "first", .len = 5};
	assert_int_equal(itd_journal_input(j, &in, &first), ITD_OK);
	gate_wait_held(); /* the writer is inside the commit's fsync */
	assert_int_equal(itd_journal_wait(j, first, 0), ITD_EAGAIN);
	assert_int_equal(itd_journal_wait(j, first, 20), ITD_EAGAIN);

	char payload[200];
	memset(payload, 'p', sizeof payload);
	uint64_t accepted = 0;
	int rc;
	for (uint64_t a = 2;; a++) {
		struct itd_journal_input r = {.arrival = a, .kind = 1, .data = payload,
					      .len = sizeof payload};
		rc = itd_journal_input(j, &r, &t);
		if (rc)
			break;
		last = t;
		accepted++;
	}
	assert_int_equal(rc, ITD_EFULL);
	assert_true(accepted > 100); /* 64 KiB of ~270-byte records */
	itd_journal_stats(j, &s1);
	assert_int_equal(s1.full, s0.full + 1);
	assert_int_equal(s1.commits, s0.commits);

	gate_release();
	assert_int_equal(itd_journal_wait(j, first, 10000), ITD_OK);
	assert_int_equal(itd_journal_wait(j, last, 10000), ITD_OK);
	itd_journal_stats(j, &s1);
	/* The held commit, then everything that piled up in one more. */
	assert_int_equal(s1.commits, s0.commits + 2);
	assert_int_equal(s1.max_batch, accepted);
	assert_int_equal(s1.records, s0.records + 1 + accepted);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

#define N_THREADS 8
#define PER_THREAD 10000
#define WINDOW 8

struct appender {
	struct itd_journal *j;             /* shared journal */
	pthread_mutex_t *intake;           /* stands in for the engine's intake lock */
	uint64_t *next_arrival;            /* guarded by intake */
	int id;                            /* thread number */
	int n;                             /* records to append */
	int window;                        /* tickets in flight before waiting */
	int failures;                      /* appends or waits that did not return 0 */
};

/* Each record's data: thread id and its per-thread counter. */
struct stamp {
	uint32_t thread;                   /* appender id */
	uint32_t count;                    /* its nth record */
};

static void *appender_main(void *arg)
{
	struct appender *ap = arg;
	uint64_t tickets[64];
	int k = 0;
	for (int i = 0; i < ap->n; i++) {
		struct stamp s = {(uint32_t)ap->id, (uint32_t)i};
		pthread_mutex_lock(ap->intake);
		struct itd_journal_input in = {.arrival = ++*ap->next_arrival, .kind = 1,
					       .data = &s, .len = sizeof s, .actor = "t"};
		int rc = itd_journal_input(ap->j, &in, &tickets[k]);
		pthread_mutex_unlock(ap->intake);
		if (rc) {
			ap->failures++;
			continue;
		}
		if (++k == ap->window || i == ap->n - 1) {
			for (int w = 0; w < k; w++)
				if (itd_journal_wait(ap->j, tickets[w], 30000))
					ap->failures++;
			k = 0;
		}
	}
	return NULL;
}

static void run_appenders(struct itd_journal *j, int n_threads, int per_thread, int window)
{
	pthread_t th[N_THREADS];
	struct appender ap[N_THREADS];
	pthread_mutex_t intake = PTHREAD_MUTEX_INITIALIZER;
	uint64_t last_arrival;
	itd_journal_last(j, NULL, &last_arrival);
	for (int i = 0; i < n_threads; i++) {
		ap[i] = (struct appender){.j = j, .intake = &intake, .next_arrival = &last_arrival,
					  .id = i, .n = per_thread, .window = window};
		assert_int_equal(pthread_create(&th[i], NULL, appender_main, &ap[i]), 0);
	}
	for (int i = 0; i < n_threads; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(ap[i].failures, 0);
	}
}

struct order_check {
	uint32_t next[N_THREADS];          /* each thread's next expected counter */
	uint64_t prev_arrival;             /* arrivals must rise by one */
	size_t n;                          /* records read */
	bool ok;                           /* all in order, none twice */
};

static int check_order(void *ctx, const struct itd_journal_input *r)
{
	struct order_check *c = ctx;
	struct stamp s;
	if (r->len != sizeof s || r->arrival != c->prev_arrival + 1) {
		c->ok = false;
		return 0;
	}
	memcpy(&s, r->data, sizeof s);
	if (s.thread >= N_THREADS || s.count != c->next[s.thread])
		c->ok = false;
	else
		c->next[s.thread]++;
	c->prev_arrival = r->arrival;
	c->n++;
	return 0;
}

/* 8 threads, 10k records each: arrival order is kept, nothing lost or
 * doubled across close and reopen, and commits are shared. */
static void test_concurrent_order(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-order");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = open_ok(&cfg);
	run_appenders(j, N_THREADS, PER_THREAD, WINDOW);
	struct itd_journal_stats st;
	itd_journal_stats(j, &st);
	assert_int_equal(st.records, N_THREADS * PER_THREAD);
	assert_true(st.commits * 8 < st.records);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	cfg.create = false;
	j = open_ok(&cfg);
	struct order_check c = {.ok = true};
	assert_int_equal(itd_journal_read_inputs(j, 0, check_order, &c), ITD_OK);
	assert_true(c.ok);
	assert_int_equal(c.n, N_THREADS * PER_THREAD);
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(c.next[i], PER_THREAD);
	uint64_t la;
	itd_journal_last(j, NULL, &la);
	assert_int_equal(la, N_THREADS * PER_THREAD);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

/* One record in flight per thread, as HTTP submitters are: with 8 threads
 * each commit still carries several records. */
static void test_group_commit_groups(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-group");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = open_ok(&cfg);
	run_appenders(j, N_THREADS, 400, 1);
	struct itd_journal_stats st;
	itd_journal_stats(j, &st);
	print_message("group commit: %llu records in %llu commits (max batch %llu)\n",
		      (unsigned long long)st.records, (unsigned long long)st.commits,
		      (unsigned long long)st.max_batch);
	assert_int_equal(st.records, N_THREADS * 400);
	assert_true(st.commits * 3 <= st.records);
	assert_true(st.max_batch >= 4);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

/* ------------------------------------------------------------ kill -9 */

struct child_shared {
	struct itd_journal *j;             /* the child's journal */
	pthread_mutex_t intake;            /* arrival order */
	uint64_t next_arrival;             /* guarded by intake */
	pthread_mutex_t out;               /* serializes pipe writes */
	int fd;                            /* pipe to the parent */
};

static void *child_appender(void *arg)
{
	struct child_shared *cs = arg;
	for (int i = 0; i < 200000; i++) {
		char data[100];
		memset(data, 'd', sizeof data);
		pthread_mutex_lock(&cs->intake);
		uint64_t t, a = ++cs->next_arrival;
		struct itd_journal_input in = {.arrival = a, .kind = 1, .data = data,
					       .len = sizeof data, .actor = "crash"};
		int rc = itd_journal_input(cs->j, &in, &t);
		pthread_mutex_unlock(&cs->intake);
		if (rc || itd_journal_wait(cs->j, t, -1))
			_exit(3);
		/* Durable: tell the parent (an 8-byte write to a pipe is atomic). */
		if (write(cs->fd, &a, sizeof a) != (ssize_t)sizeof a)
			_exit(4);
	}
	return NULL;
}

static void crash_child(const char *dir, int fd)
{
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct child_shared cs = {.intake = PTHREAD_MUTEX_INITIALIZER,
				  .out = PTHREAD_MUTEX_INITIALIZER, .fd = fd};
	char err[256];
	if (itd_journal_open(&cfg, &cs.j, err, sizeof err))
		_exit(2);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, child_appender, &cs);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	_exit(0);
}

static int mark_present(void *ctx, const struct itd_journal_input *r)
{
	struct arrivals *a = ctx;
	return collect_arrival(a, r);
}

/* A child appends and reports each arrival once its wait returned 0; the
 * parent kills it at a random moment and finds every reported arrival in
 * the database, which holds a gapless prefix of arrivals. */
static void test_crash_durability(void **state)
{
	(void)state;
	unsigned seed = 20250101;
	for (int iter = 0; iter < 20; iter++) {
		char *dir = itd_test_tmpdir("journal-crash");
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(dir, fds[1]);
		}
		close(fds[1]);
		size_t kill_after = (size_t)(rand_r(&seed) % 1500);
		struct arrivals told = {0};
		uint64_t a;
		while (told.n < kill_after && read(fds[0], &a, sizeof a) == (ssize_t)sizeof a) {
			struct itd_journal_input r = {.arrival = a};
			collect_arrival(&told, &r);
		}
		kill(pid, SIGKILL);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		/* What it reported before dying is still in the pipe. */
		while (read(fds[0], &a, sizeof a) == (ssize_t)sizeof a) {
			struct itd_journal_input r = {.arrival = a};
			collect_arrival(&told, &r);
		}
		close(fds[0]);

		/* Restart as the server would (creating if the child died
		 * before the database was made). */
		struct itd_journal_config cfg = config(dir, "alpha", scn_a);
		struct itd_journal *j = NULL;
		char err[256];
		int rc = itd_journal_open(&cfg, &j, err, sizeof err);
		if (rc)
			fail_msg("iteration %d: reopen after kill: %s", iter, err);
		struct arrivals have = {0};
		assert_int_equal(itd_journal_read_inputs(j, 0, mark_present, &have), ITD_OK);
		for (size_t i = 0; i < have.n; i++)
			assert_int_equal(have.v[i], i + 1); /* gapless, no duplicates */
		for (size_t i = 0; i < told.n; i++)
			if (told.v[i] > have.n)
				fail_msg("iteration %d: arrival %llu was reported durable but is "
					 "missing (%zu present)",
					 iter, (unsigned long long)told.v[i], have.n);
		assert_int_equal(itd_journal_close(j), ITD_OK);
		free(told.v);
		free(have.v);
		rm_dir(dir);
	}
}

/* ------------------------------------------------ refusing a bad directory */

static void test_meta_mismatch(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-meta");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = open_ok(&cfg);
	assert_int_equal(put_input(j, 1, "a"), ITD_OK);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	char err[512];
	struct itd_journal_config other = config(dir, "bravo", scn_b);
	j = (struct itd_journal *)&err; /* must be reset to NULL */
	assert_int_equal(itd_journal_open(&other, &j, err, sizeof err), ITD_ECONFIG);
	assert_null(j);
	assert_non_null(strstr(err, "'alpha'"));
	assert_non_null(strstr(err, "'bravo'"));

	/* Same scenario, other name: the text is what counts. */
	struct itd_journal_config renamed = config(dir, "renamed", scn_a);
	j = open_ok(&renamed);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	/* A format this build does not know. */
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, ITD_JOURNAL_DB);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = 99 WHERE key = 'format_version'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(itd_journal_open(&cfg, &j, err, sizeof err), ITD_ECONFIG);
	assert_null(j);
	assert_non_null(strstr(err, "format 99"));
	rm_dir(dir);
}

static void write_file(const char *path, long off, const void *buf, size_t len, bool trunc)
{
	int fd = open(path, O_WRONLY | O_CREAT | (trunc ? O_TRUNC : 0), 0600);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static void test_corrupt_database(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-corrupt");
	char path[4200], err[512];
	snprintf(path, sizeof path, "%s/%s", dir, ITD_JOURNAL_DB);
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = NULL;

	/* Not a database at all. */
	char junk[8192];
	memset(junk, 'Z', sizeof junk);
	write_file(path, 0, junk, sizeof junk, true);
	assert_int_equal(itd_journal_open(&cfg, &j, err, sizeof err), ITD_EVERIFY);
	assert_null(j);
	assert_non_null(strstr(err, ITD_JOURNAL_DB));
	remove(path);

	/* A sound journal whose table pages are then overwritten. */
	j = open_ok(&cfg);
	char data[300];
	memset(data, 'x', sizeof data - 1);
	data[sizeof data - 1] = '\0';
	for (uint64_t a = 1; a <= 200; a++) {
		uint64_t t;
		struct itd_journal_input in = {.arrival = a, .kind = 1, .data = data,
					       .len = sizeof data};
		assert_int_equal(itd_journal_input(j, &in, &t), ITD_OK);
	}
	assert_int_equal(itd_journal_close(j), ITD_OK); /* checkpoints into the file */
	for (long page = 2; page < 12; page++)
		write_file(path, page * 4096 + 100, junk, 1000, false);
	assert_int_equal(itd_journal_open(&cfg, &j, err, sizeof err), ITD_EVERIFY);
	assert_null(j);
	assert_non_null(strstr(err, "corrupt"));
	print_message("corrupt database refused: %s\n", err);

	/* Some other SQLite database. */
	remove(path);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(itd_journal_open(&cfg, &j, err, sizeof err), ITD_EVERIFY);
	assert_null(j);
	assert_non_null(strstr(err, "not an intentd journal"));
	rm_dir(dir);
}

struct corrupt_seen {
	uint64_t ticks[8];                 /* ticks reported corrupt */
	int n;                             /* how many */
};

static void on_corrupt(void *ctx, uint64_t tick, const char *why)
{
	struct corrupt_seen *c = ctx;
	assert_non_null(why);
	if (c->n < 8)
		c->ticks[c->n++] = tick;
}

static void test_corrupt_snapshot(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-snap");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	struct itd_journal *j = open_ok(&cfg);
	uint64_t t, tick;
	void *data;
	size_t len;
	assert_int_equal(itd_journal_latest_snapshot(j, &tick, &data, &len, NULL, NULL),
			 ITD_ENOTFOUND);
	assert_null(data);
	for (uint64_t k = 10; k <= 30; k += 10) {
		char buf[32];
		snprintf(buf, sizeof buf, "state at %llu", (unsigned long long)k);
		assert_int_equal(itd_journal_snapshot(j, k, buf, strlen(buf), &t), ITD_OK);
	}
	/* A snapshot again at tick 30 replaces the first one. */
	assert_int_equal(itd_journal_snapshot(j, 30, "state at 30!", 12, &t), ITD_OK);
	assert_int_equal(itd_journal_wait(j, t, 10000), ITD_OK);
	assert_int_equal(itd_journal_close(j), ITD_OK);

	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, ITD_JOURNAL_DB);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE snapshot SET data = CAST('state at 31!' AS BLOB) WHERE tick = 30;"
				      "UPDATE snapshot SET checksum = checksum + 1 WHERE tick = 20;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	cfg.create = false;
	j = open_ok(&cfg);
	struct corrupt_seen c = {0};
	assert_int_equal(itd_journal_latest_snapshot(j, &tick, &data, &len, on_corrupt, &c), ITD_OK);
	assert_int_equal(tick, 10);
	assert_int_equal(len, strlen("state at 10"));
	assert_memory_equal(data, "state at 10", len);
	itd_free(data);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.ticks[0], 30);
	assert_int_equal(c.ticks[1], 20);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

/* ------------------------------------------------------- storage faults */

/* What a fault walk step saw. */
struct fault_run {
	struct arrivals acked;             /* arrivals whose wait returned 0 */
	bool saw_eio;                      /* some wait or append returned ITD_EIO */
};

/* The workload a fault hits: rounds of inputs, a tick and (once) a large
 * snapshot, each waited for.  Stops at the first ITD_EIO, after checking
 * that the journal then refuses appends and says why. */
static void fault_workload(struct itd_journal *j, uint64_t *arrival, uint64_t *tick,
			   struct fault_run *fr)
{
	static uint8_t big[20000];
	for (int round = 0; round < 6 && !fr->saw_eio; round++) {
		uint64_t tickets[8], arrivals[8];
		int n = 0, rc = ITD_OK;
		for (int i = 0; i < 3 && !rc; i++) {
			struct itd_journal_input in = {.arrival = ++*arrival, .kind = 1,
						       .data = "fault", .len = 5};
			arrivals[n] = in.arrival;
			rc = itd_journal_input(j, &in, &tickets[n]);
			if (!rc)
				n++;
		}
		struct itd_journal_tick tr = {.tick = ++*tick};
		uint64_t tt = 0, ts = 0;
		if (!rc)
			rc = itd_journal_tick(j, &tr, &tt);
		if (!rc && round == 3)
			rc = itd_journal_snapshot(j, *tick, big, sizeof big, &ts);
		if (rc) {
			assert_int_equal(rc, ITD_EIO);
			fr->saw_eio = true;
		}
		for (int i = 0; i < n; i++) {
			int w = itd_journal_wait(j, tickets[i], 10000);
			if (w == ITD_OK) {
				struct itd_journal_input r = {.arrival = arrivals[i]};
				collect_arrival(&fr->acked, &r);
			} else {
				assert_int_equal(w, ITD_EIO);
				fr->saw_eio = true;
			}
		}
		if (tt && itd_journal_wait(j, tt, 10000))
			fr->saw_eio = true;
		if (ts && itd_journal_wait(j, ts, 10000))
			fr->saw_eio = true;
	}
	if (fr->saw_eio) {
		char why[256];
		uint64_t t;
		struct itd_journal_input in = {.arrival = ++*arrival, .kind = 1};
		assert_int_equal(itd_journal_input(j, &in, &t), ITD_EIO);
		assert_int_equal(t, 0);
		assert_int_equal(itd_journal_status(j, why, sizeof why), ITD_EIO);
		assert_true(why[0] != '\0');
		struct itd_journal_stats st;
		itd_journal_stats(j, &st);
		assert_true(st.failures >= 1);
	}
}

/* Every arrival in `acked` is in the journal. */
static void assert_acked_present(struct itd_journal *j, const struct arrivals *acked)
{
	struct arrivals have = {0};
	assert_int_equal(itd_journal_read_inputs(j, 0, mark_present, &have), ITD_OK);
	for (size_t i = 0; i < acked->n; i++) {
		bool found = false;
		for (size_t k = 0; k < have.n && !found; k++)
			found = have.v[k] == acked->v[i];
		if (!found)
			fail_msg("arrival %llu was reported durable but is missing",
				 (unsigned long long)acked->v[i]);
	}
	for (size_t k = 1; k < have.n; k++)
		assert_true(have.v[k] > have.v[k - 1]);
	free(have.v);
}

/* Fail the Nth write (or fsync) from arming, for N = 1, 2, ... until the
 * workload runs without reaching N: each time, nothing failed is reported
 * durable, the journal refuses writes until reopened, and after reopen
 * every acknowledged record is there and writes work again. */
static void fault_walk(bool on_sync, int write_err)
{
	shim_register();
	long n;
	int failures = 0;
	for (n = 1; n < 1000; n++) {
		fault_arm(0, 0, false, 0);
		char *dir = itd_test_tmpdir("journal-fault");
		struct itd_journal_config cfg = config(dir, "alpha", scn_a);
		cfg.vfs = "itdfault";
		struct itd_journal *j = open_ok(&cfg);
		struct fault_run fr = {0};
		uint64_t arrival = 0, tick = 0;
		for (int i = 0; i < 5; i++) {
			assert_int_equal(put_input(j, ++arrival, "baseline"), ITD_OK);
			struct itd_journal_input r = {.arrival = arrival};
			collect_arrival(&fr.acked, &r);
		}
		fault_arm(on_sync ? 0 : n, on_sync ? n : 0, false, write_err);
		fault_workload(j, &arrival, &tick, &fr);
		bool fired = fault_fired();
		fault_arm(0, 0, false, 0);
		if (fired)
			assert_true(fr.saw_eio); /* an injected fault is never swallowed */
		if (fr.saw_eio) {
			failures++;
			char err[256];
			assert_int_equal(itd_journal_reopen(j, err, sizeof err), ITD_OK);
			assert_int_equal(itd_journal_status(j, NULL, 0), ITD_OK);
			uint64_t lt, la;
			itd_journal_last(j, &lt, &la);
			assert_true(la >= fr.acked.v[fr.acked.n - 1]);
			assert_int_equal(put_input(j, la + 1, "after reopen"), ITD_OK);
			struct itd_journal_input r = {.arrival = la + 1};
			collect_arrival(&fr.acked, &r);
		}
		assert_acked_present(j, &fr.acked);
		assert_int_equal(itd_journal_close(j), ITD_OK);
		cfg.create = false;
		j = open_ok(&cfg);
		assert_acked_present(j, &fr.acked);
		assert_int_equal(itd_journal_close(j), ITD_OK);
		free(fr.acked.v);
		rm_dir(dir);
		if (!fired)
			break;
	}
	print_message("%s faults: walked %ld sites, %d failed commits\n", on_sync ? "fsync" : "write",
		      n - 1, failures);
	assert_true(n > 2 && n < 1000);
	assert_true(failures > 0);
}

static void test_fault_walk_write(void **state)
{
	(void)state;
	fault_walk(false, SQLITE_IOERR_WRITE);
}

static void test_fault_walk_disk_full(void **state)
{
	(void)state;
	fault_walk(false, SQLITE_FULL);
}

static void test_fault_walk_sync(void **state)
{
	(void)state;
	fault_walk(true, 0);
}

/* A disk that keeps failing: the journal stays failed (a reopen may work,
 * but the next commit fails again); once the disk heals, a reopen brings
 * it back with every acknowledged record. */
static void test_fault_persistent(void **state)
{
	(void)state;
	shim_register();
	fault_arm(0, 0, false, 0);
	char *dir = itd_test_tmpdir("journal-sticky");
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	cfg.vfs = "itdfault";
	struct itd_journal *j = open_ok(&cfg);
	struct arrivals acked = {0};
	uint64_t arrival = 0, tick = 0;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(put_input(j, ++arrival, "ok"), ITD_OK);
		struct itd_journal_input r = {.arrival = arrival};
		collect_arrival(&acked, &r);
	}
	fault_arm(2, 0, true, SQLITE_FULL);
	struct fault_run fr = {0};
	fault_workload(j, &arrival, &tick, &fr);
	assert_true(fr.saw_eio);
	assert_int_equal(fr.acked.n, 0);
	char err[256];
	int rc = itd_journal_reopen(j, err, sizeof err);
	if (rc == ITD_OK) {
		/* Reopen only reads; the next commit meets the full disk. */
		uint64_t la;
		itd_journal_last(j, NULL, &la);
		arrival = la;
		assert_int_equal(put_input(j, ++arrival, "still full"), ITD_EIO);
		assert_int_equal(itd_journal_status(j, NULL, 0), ITD_EIO);
	} else {
		assert_int_equal(itd_journal_status(j, NULL, 0), ITD_EIO);
	}
	uint64_t t;
	struct itd_journal_input in = {.arrival = arrival + 100, .kind = 1};
	assert_int_equal(itd_journal_input(j, &in, &t), ITD_EIO);

	fault_arm(0, 0, false, 0); /* the disk heals */
	assert_int_equal(itd_journal_reopen(j, err, sizeof err), ITD_OK);
	uint64_t la;
	itd_journal_last(j, NULL, &la);
	assert_int_equal(put_input(j, la + 1, "healed"), ITD_OK);
	assert_acked_present(j, &acked);
	free(fr.acked.v);
	free(acked.v);
	assert_int_equal(itd_journal_close(j), ITD_OK);
	rm_dir(dir);
}

/* -------------------------------------------------- allocation failures */

static void alloc_walk(const char *dir, bool existing)
{
	struct itd_journal_config cfg = config(dir, "alpha", scn_a);
	cfg.create = !existing;
	long n;
	for (n = 1; n < 100; n++) {
		struct itd_journal *j = NULL;
		char err[256] = "";
		itd_alloc_fail_at(n);
		int rc = itd_journal_open(&cfg, &j, err, sizeof err);
		bool fired = itd_alloc_failed();
		itd_alloc_fail_at(0);
		if (rc == ITD_OK) {
			assert_false(fired); /* a failed allocation is never ignored */
			assert_int_equal(put_input(j, (uint64_t)n + (existing ? 1000 : 0), "a"), ITD_OK);
			assert_int_equal(itd_journal_close(j), ITD_OK);
			break;
		}
		assert_true(fired);
		assert_int_equal(rc, ITD_ENOMEM);
		assert_null(j);
		assert_true(err[0] != '\0');
	}
	assert_true(n > 1 && n < 100);
}

static void test_alloc_failures_open(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("journal-alloc");
	alloc_walk(dir, false);
	alloc_walk(dir, true);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_commit_in_progress),
		cmocka_unit_test(test_concurrent_order),
		cmocka_unit_test(test_group_commit_groups),
		cmocka_unit_test(test_crash_durability),
		cmocka_unit_test(test_meta_mismatch),
		cmocka_unit_test(test_corrupt_database),
		cmocka_unit_test(test_corrupt_snapshot),
		cmocka_unit_test(test_fault_walk_write),
		cmocka_unit_test(test_fault_walk_disk_full),
		cmocka_unit_test(test_fault_walk_sync),
		cmocka_unit_test(test_fault_persistent),
		cmocka_unit_test(test_alloc_failures_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
