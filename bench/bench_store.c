/* bench_store.c: durable records per second through the journal's group
 * commit, side by side with plain SQLite (1 and 1000 inserts per
 * transaction) and Redis with appendfsync always.  Usage: bench_store [DIR]. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store_journal.h"

#define RUN_SECONDS 2.0
#define MAX_THREADS 64
#define SAMPLES_PER_THREAD (1u << 16)
#define RECORD_BYTES 100
#define TARGET 300000.0

static double now_s(void)
{
	return (double)itd_clock_mono_ns() / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------- journal */

struct jshared {
	struct itd_journal *j;             /* the journal under test */
	pthread_mutex_t intake;            /* arrival order, as the engine's intake lock */
	uint64_t next_arrival;             /* guarded by intake */
	atomic_bool stop;                  /* time is up */
	int window;                        /* tickets in flight per thread */
};

struct jthread {
	struct jshared *sh;                /* shared state */
	uint64_t *lat_ns;                  /* ack latency samples */
	size_t n_lat;                      /* samples taken */
	uint64_t done;                     /* records acknowledged durable */
	int errors;                        /* appends or waits that failed */
};

static void *journal_thread(void *arg)
{
	struct jthread *t = arg;
	struct jshared *sh = t->sh;
	char data[RECORD_BYTES];
	memset(data, 'r', sizeof data);
	uint64_t tickets[64], t0[64];
	while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		int k = 0;
		for (; k < sh->window; k++) {
			pthread_mutex_lock(&sh->intake);
			struct itd_journal_input in = {.arrival = ++sh->next_arrival, .kind = 0,
						       .seq = sh->next_arrival, .wall_ms = 0,
						       .actor = "bench", .data = data, .len = sizeof data};
			t0[k] = itd_clock_mono_ns();
			int rc = itd_journal_input(sh->j, &in, &tickets[k]);
			pthread_mutex_unlock(&sh->intake);
			if (rc) {
				t->errors++;
				break;
			}
		}
		for (int i = 0; i < k; i++) {
			if (itd_journal_wait(sh->j, tickets[i], 60000)) {
				t->errors++;
				continue;
			}
			t->done++;
			if (t->n_lat < SAMPLES_PER_THREAD)
				t->lat_ns[t->n_lat++] = itd_clock_mono_ns() - t0[i];
		}
	}
	return NULL;
}

struct jresult {
	double rate;                       /* durable records per second */
	double p50_ms, p99_ms;             /* ack latency */
	double per_commit;                 /* records per commit */
	int errors;                        /* failed appends or waits */
};

static int bench_journal(const char *base, int n_threads, int window, struct jresult *res)
{
	char dir[PATH_MAX + 32], err[512];
	snprintf(dir, sizeof dir, "%s/journal-%d-%d", base, n_threads, window);
	static const char scn[] = "name: bench\n";
	struct itd_journal_config cfg = {
		.dir = dir, .create = true,
		.meta = {.scenario_name = "bench", .scenario_text = scn, .scenario_len = sizeof scn - 1}};
	struct jshared sh = {.intake = PTHREAD_MUTEX_INITIALIZER, .window = window};
	if (itd_journal_open(&cfg, &sh.j, err, sizeof err)) {
		fprintf(stderr, "bench_store: %s\n", err);
		return -1;
	}
	pthread_t th[MAX_THREADS];
	struct jthread jt[MAX_THREADS];
	memset(jt, 0, sizeof jt);
	double start = now_s();
	for (int i = 0; i < n_threads; i++) {
		jt[i].sh = &sh;
		jt[i].lat_ns = malloc(SAMPLES_PER_THREAD * sizeof(uint64_t));
		if (!jt[i].lat_ns || pthread_create(&th[i], NULL, journal_thread, &jt[i])) {
			fprintf(stderr, "bench_store: cannot start thread\n");
			exit(1);
		}
	}
	sleep_s(RUN_SECONDS);
	atomic_store(&sh.stop, true);
	uint64_t total = 0;
	size_t n_lat = 0;
	memset(res, 0, sizeof *res);
	for (int i = 0; i < n_threads; i++) {
		pthread_join(th[i], NULL);
		total += jt[i].done;
		n_lat += jt[i].n_lat;
		res->errors += jt[i].errors;
	}
	double elapsed = now_s() - start;
	uint64_t *all = malloc((n_lat ? n_lat : 1) * sizeof *all);
	if (!all)
		exit(1);
	size_t k = 0;
	for (int i = 0; i < n_threads; i++) {
		memcpy(all + k, jt[i].lat_ns, jt[i].n_lat * sizeof *all);
		k += jt[i].n_lat;
		free(jt[i].lat_ns);
	}
	qsort(all, n_lat, sizeof *all, cmp_u64);
	struct itd_journal_stats st;
	itd_journal_stats(sh.j, &st);
	itd_journal_close(sh.j);
	res->rate = (double)total / elapsed;
	res->p50_ms = n_lat ? (double)all[n_lat / 2] / 1e6 : 0;
	res->p99_ms = n_lat ? (double)all[n_lat * 99 / 100] / 1e6 : 0;
	res->per_commit = st.commits ? (double)st.records / (double)st.commits : 0;
	free(all);
	return 0;
}

/* --------------------------------------------------------- plain SQLite */

/* Single-threaded INSERTs of the same 100-byte input, `per_txn` per
 * transaction, WAL and synchronous=FULL, for RUN_SECONDS. */
static double bench_sqlite(const char *base, int per_txn)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/sqlite-%d.db", base, per_txn);
	sqlite3 *db;
	sqlite3_stmt *ins = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE input(arrival INTEGER PRIMARY KEY, kind INTEGER, seq INTEGER,"
			 " wall_ms INTEGER, actor TEXT, data BLOB);",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO input VALUES(?1, 0, ?1, 0, 'bench', ?2)", -1, &ins,
			       NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_store: sqlite: %s\n", sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	char data[RECORD_BYTES];
	memset(data, 'r', sizeof data);
	uint64_t n = 0;
	double start = now_s(), end = start + RUN_SECONDS, t;
	do {
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		for (int i = 0; i < per_txn; i++) {
			sqlite3_bind_int64(ins, 1, (sqlite3_int64)++n);
			sqlite3_bind_blob(ins, 2, data, sizeof data, SQLITE_STATIC);
			if (sqlite3_step(ins) != SQLITE_DONE)
				fprintf(stderr, "bench_store: sqlite: %s\n", sqlite3_errmsg(db));
			sqlite3_reset(ins);
		}
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	} while ((t = now_s()) < end);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return (double)n / (t - start);
}

/* ---------------------------------------------------------------- redis */

static int redis_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
		close(fd);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* Read one RESP reply (simple, error, integer or bulk); 0 on success. */
static int redis_reply(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = '\0';
		char *eol = strstr(buf, "\r\n");
		if (!eol)
			continue;
		if (buf[0] == '-')
			return -1;
		if (buf[0] != '$')
			return 0;
		long len = strtol(buf + 1, NULL, 10);
		if (len < 0 || (size_t)(eol + 2 - buf) + (size_t)len + 2 <= n)
			return 0;
		if (n >= cap - 1)
			return -1;
	}
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	int port = -1;
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof sa) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &len))
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

struct rthread {
	int port;                          /* redis port */
	atomic_bool *stop;                 /* time is up */
	uint64_t done;                     /* XADDs acknowledged */
	int errors;                        /* failed round trips */
};

static void *redis_thread(void *arg)
{
	struct rthread *t = arg;
	int fd = redis_connect(t->port);
	if (fd < 0) {
		t->errors++;
		return NULL;
	}
	char data[RECORD_BYTES + 1];
	memset(data, 'r', RECORD_BYTES);
	data[RECORD_BYTES] = '\0';
	char cmd[512], reply[256];
	int len = snprintf(cmd, sizeof cmd,
			   "*5\r\n$4\r\nXADD\r\n$5\r\nbench\r\n$1\r\n*\r\n$1\r\nd\r\n$%d\r\n%s\r\n",
			   RECORD_BYTES, data);
	while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
		if (write(fd, cmd, (size_t)len) != len || redis_reply(fd, reply, sizeof reply)) {
			t->errors++;
			break;
		}
		t->done++;
	}
	close(fd);
	return NULL;
}

/* Start redis-server with AOF fsync on every write, 64 connections each
 * with one XADD in flight (as the journal's 64 threads); records/s, or a
 * negative value if redis-server is missing or would not start. */
static double bench_redis(const char *base)
{
	char dir[PATH_MAX + 16];
	snprintf(dir, sizeof dir, "%s/redis", base);
	if (mkdir(dir, 0700))
		return -1;
	int port = free_port();
	if (port < 0)
		return -1;
	char port_s[16], log[PATH_MAX + 32];
	snprintf(port_s, sizeof port_s, "%d", port);
	snprintf(log, sizeof log, "%s/redis.log", dir);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", port_s,
		       "--dir", dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
		       "--daemonize", "no", "--logfile", log, (char *)NULL);
		_exit(127);
	}
	double rate = -1;
	int fd = -1;
	for (double give_up = now_s() + 10; fd < 0 && now_s() < give_up;) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -1; /* not installed, or refused to start */
		if ((fd = redis_connect(port)) < 0)
			sleep_s(0.02);
	}
	if (fd < 0)
		goto out;
	close(fd);
	atomic_bool stop = false;
	pthread_t th[MAX_THREADS];
	struct rthread rt[MAX_THREADS];
	double start = now_s();
	for (int i = 0; i < MAX_THREADS; i++) {
		rt[i] = (struct rthread){.port = port, .stop = &stop};
		pthread_create(&th[i], NULL, redis_thread, &rt[i]);
	}
	sleep_s(RUN_SECONDS);
	atomic_store(&stop, true);
	uint64_t total = 0;
	int errors = 0;
	for (int i = 0; i < MAX_THREADS; i++) {
		pthread_join(th[i], NULL);
		total += rt[i].done;
		errors += rt[i].errors;
	}
	rate = errors ? -1 : (double)total / (now_s() - start);
out:
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return rate;
}

int main(int argc, char **argv)
{
	char tmpl[4000], base[PATH_MAX];
	snprintf(tmpl, sizeof tmpl, "%s/bench-store-XXXXXX", argc > 1 ? argv[1] : ".");
	/* Absolute, because redis-server changes into its --dir. */
	if (!mkdtemp(tmpl) || !realpath(tmpl, base)) {
		perror("bench_store: mkdtemp");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	static const int threads[] = {1, 8, 64};
	struct jresult jr[3], ceiling;
	for (int i = 0; i < 3; i++) {
		if (bench_journal(base, threads[i], 1, &jr[i]))
			return 1;
		printf("store_journal: %d threads: %.0f durable records/s, ack p50 %.2f ms p99 %.2f ms,"
		       " %.1f records/commit%s\n",
		       threads[i], jr[i].rate, jr[i].p50_ms, jr[i].p99_ms, jr[i].per_commit,
		       jr[i].errors ? " (ERRORS)" : "");
		fflush(stdout);
	}
	/* The library's ceiling: the same 64 threads each keeping 16 records
	 * in flight (a caller that batches, e.g. the tick thread). */
	if (bench_journal(base, 64, 16, &ceiling))
		return 1;
	printf("store_journal: 64 threads x 16 in flight: %.0f durable records/s, ack p50 %.2f ms"
	       " p99 %.2f ms, %.1f records/commit\n",
	       ceiling.rate, ceiling.p50_ms, ceiling.p99_ms, ceiling.per_commit);
	double s1 = bench_sqlite(base, 1);
	printf("sqlite 1/txn (WAL, synchronous=FULL): %.0f records/s\n", s1);
	double s1000 = bench_sqlite(base, 1000);
	printf("sqlite 1000/txn (WAL, synchronous=FULL): %.0f records/s\n", s1000);
	fflush(stdout);
	double r = bench_redis(base);
	if (r >= 0)
		printf("redis appendfsync always, 64 connections: %.0f records/s\n", r);
	else
		printf("redis: skipped (redis-server not found or did not start)\n");

	char redis_s[64];
	if (r >= 0)
		snprintf(redis_s, sizeof redis_s, "%.0f/s", r);
	else
		snprintf(redis_s, sizeof redis_s, "n/a");
	/* The target is throughput under load: records in flight enough to
	 * fill a commit (64 one-at-a-time waiters cannot, by Little's law:
	 * 64 / fsync latency). */
	printf("store_journal: 64 threads x 16 in flight: %.0f durable records/s (target >= %.0f/s: "
	       "%s); 64 threads x 1: %.0f/s, ack p50 %.2f ms p99 %.2f ms | sqlite 1/txn: %.0f/s "
	       "(%.0fx) | sqlite 1000/txn: %.0f/s | redis appendfsync always: %s\n",
	       ceiling.rate, TARGET, ceiling.rate >= TARGET ? "met" : "MISSED", jr[2].rate,
	       jr[2].p50_ms, jr[2].p99_ms, s1, s1 > 0 ? ceiling.rate / s1 : 0.0, s1000, redis_s);
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
