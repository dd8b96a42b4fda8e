/* journal_fault_vfs.h: "itdfault", an SQLite VFS that fails a chosen write
 * or fsync, holds the writer inside an fsync, or makes every fsync slow,
 * for the journal and server suites. */
#ifndef ITD_TEST_JOURNAL_FAULT_VFS_H
#define ITD_TEST_JOURNAL_FAULT_VFS_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include <sqlite3.h>

#include "test_support.h"

/* A deadline for condition waits in the tests. */
static inline struct timespec deadline_in(int ms)
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
	int sync_delay_ms;                 /* every xSync takes this much longer */
} F = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;

static inline void fault_arm(long write_at, long sync_at, bool sticky, int write_err)
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

/* A slow disk: every fsync from now on takes ms longer (0: as fast as the
 * real one). */
static inline void fault_sync_delay(int ms)
{
	pthread_mutex_lock(&F.m);
	F.sync_delay_ms = ms;
	pthread_mutex_unlock(&F.m);
}

static inline bool fault_fired(void)
{
	pthread_mutex_lock(&F.m);
	bool f = F.fired;
	pthread_mutex_unlock(&F.m);
	return f;
}

/* Count a call; true if it must fail. */
static inline bool fault_hit(long *calls, long at)
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

static inline int shim_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}
static inline int shim_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}
static inline int shim_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	if (fault_hit(&F.writes, F.write_at))
		return F.write_err;
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}
static inline int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static inline int shim_sync(sqlite3_file *f, int flags)
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
	int delay = F.sync_delay_ms;
	pthread_mutex_unlock(&F.m);
	if (delay > 0) {
		struct timespec ts = {.tv_sec = delay / 1000, .tv_nsec = (delay % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	if (fault_hit(&F.syncs, F.sync_at))
		return SQLITE_IOERR_FSYNC;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static inline int shim_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static inline int shim_lock(sqlite3_file *f, int lk)
{
	return REAL(f)->pMethods->xLock(REAL(f), lk);
}
static inline int shim_unlock(sqlite3_file *f, int lk)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), lk);
}
static inline int shim_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static inline int shim_fcntl(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static inline int shim_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static inline int shim_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static inline int shim_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
static inline int shim_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static inline void shim_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static inline int shim_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static inline int shim_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static inline int shim_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods shim_io = {
	3,          shim_close,    shim_read,        shim_write,     shim_truncate,
	shim_sync,  shim_size,     shim_lock,        shim_unlock,    shim_reserved,
	shim_fcntl, shim_sector,   shim_devchar,     shim_shm_map,   shim_shm_lock,
	shim_shm_barrier, shim_shm_unmap, shim_fetch, shim_unfetch,
};

static inline int shim_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
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
static inline int shim_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	return real_vfs->xDelete(real_vfs, name, sync_dir);
}
static inline int shim_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return real_vfs->xAccess(real_vfs, name, flags, out);
}
static inline int shim_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}
static inline int shim_random(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xRandomness(real_vfs, n, out);
}
static inline int shim_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return real_vfs->xSleep(real_vfs, us);
}
static inline int shim_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return real_vfs->xCurrentTime(real_vfs, out);
}
static inline int shim_lasterr(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xGetLastError(real_vfs, n, out);
}
static inline int shim_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static inline void shim_register(void)
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
static inline void gate_close(void)
{
	pthread_mutex_lock(&F.m);
	F.gate_armed = true;
	F.gate_open = false;
	pthread_mutex_unlock(&F.m);
}

static inline void gate_wait_held(void)
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

static inline void gate_release(void)
{
	pthread_mutex_lock(&F.m);
	F.gate_open = true;
	pthread_cond_broadcast(&F.c);
	pthread_mutex_unlock(&F.m);
}

#endif
