/* bench_nats.c: NATS JetStream (file storage) as a peer of the durable
 * journal in bench_store: records/s and publish->ack latency through
 * js_PublishAsync and js_Publish, against a nats-server started here.
 * Usage: bench_nats [DIR [N_ASYNC [N_SYNC]]] (defaults: $TMPDIR or /tmp,
 * 200000, 10000); the server's store lives in a private directory under
 * DIR, removed at the end. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#define RECORD_BYTES 100                /* as bench_store's journal, SQLite and redis runs */
#define REPS 3                          /* each figure is the median of this many runs */
#define MAX_PUBLISHERS 64
#define STREAM "INTENTS"
#define SUBJECT "intents.bench"
#define ACK_WAIT_MS 60000               /* give up on outstanding acks after this */

/* The server and its directory, global so that the signal handler can
 * clean up too. */
static volatile pid_t server_pid = -1;  /* the nats-server we started, or -1 */
static char work_dir[PATH_MAX];         /* its private directory, "" when none */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_s(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* ------------------------------------------------------------- the server */

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

static int port_accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

/* Find nats-server on PATH or in the sbin directories Debian installs it to
 * (not on an ordinary user's PATH); 0 and the path in out, or -1. */
static int find_server(char *out, size_t cap)
{
	const char *path = getenv("PATH");
	char dirs[8192];
	snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/usr/local/sbin:/usr/local/bin", path ? path : "");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		if (!*d)
			continue;
		int n = snprintf(out, cap, "%s/nats-server", d);
		if (n > 0 && (size_t)n < cap && access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* Kill and reap the server, then remove its directory.  Safe to call
 * twice. */
static void stop_server(void)
{
	pid_t pid = server_pid;
	if (pid > 0) {
		/* A clean shutdown first (it flushes its store), then no mercy. */
		kill(pid, SIGTERM);
		uint64_t give_up = now_ns() + 5000000000u;
		while (waitpid(pid, NULL, WNOHANG) == 0) {
			if (now_ns() > give_up) {
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
				break;
			}
			sleep_s(0.02);
		}
		server_pid = -1;
	}
	if (work_dir[0]) {
		nftw(work_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		work_dir[0] = '\0';
	}
}

/* SIGINT/SIGTERM: only async-signal-safe calls (kill, waitpid, fork,
 * execv, _exit), so the directory goes through rm(1). */
static void on_signal(int sig)
{
	pid_t pid = server_pid;
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (work_dir[0]) {
		pid_t rm = fork();
		if (rm == 0) {
			char *const argv[] = {"rm", "-rf", work_dir, NULL};
			execv("/bin/rm", argv);
			_exit(127);
		}
		if (rm > 0)
			waitpid(rm, NULL, 0);
	}
	_exit(128 + sig);
}

/* Start `nats-server -js` on a free loopback port with its store in a new
 * directory under base; waits until the port accepts connections.  0 and
 * the port in port_out, or -1 after saying why. */
static int start_server(const char *exe, const char *base, int *port_out)
{
	char tmpl[PATH_MAX];
	snprintf(tmpl, sizeof tmpl, "%s/bench-nats-XXXXXX", base);
	if (!mkdtemp(tmpl) || !realpath(tmpl, work_dir)) {
		fprintf(stderr, "bench_nats: cannot create a directory under %s: %s\n", base,
			strerror(errno));
		work_dir[0] = '\0';
		return -1;
	}
	char store[PATH_MAX + 16], log[PATH_MAX + 16], port_s[16];
	snprintf(store, sizeof store, "%s/store", work_dir);
	snprintf(log, sizeof log, "%s/nats-server.log", work_dir);
	int port = free_port();
	if (port < 0) {
		fprintf(stderr, "bench_nats: no free port\n");
		return -1;
	}
	snprintf(port_s, sizeof port_s, "%d", port);
	pid_t pid = fork();
	if (pid < 0) {
		perror("bench_nats: fork");
		return -1;
	}
	if (pid == 0) {
		/* Die with the benchmark, whatever kills it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execl(exe, "nats-server", "-js", "-a", "127.0.0.1", "-p", port_s, "-sd", store,
		      (char *)NULL);
		_exit(127);
	}
	server_pid = pid;
	for (uint64_t give_up = now_ns() + 10000000000u; !port_accepts(port);) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid || now_ns() > give_up) {
			if (waitpid(pid, &status, WNOHANG) != pid) {
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
			}
			server_pid = -1;
			fprintf(stderr, "bench_nats: nats-server did not start; its log (%s):\n", log);
			FILE *f = fopen(log, "r");
			char line[512];
			while (f && fgets(line, sizeof line, f))
				fputs(line, stderr);
			if (f)
				fclose(f);
			return -1;
		}
		sleep_s(0.02);
	}
	*port_out = port;
	return 0;
}

/* ----------------------------------------------------------- publishing */

struct publisher {
	jsCtx *js;                         /* its own context, MaxPending = window */
	int window;                        /* acks outstanding at most; 0: js_Publish */
	uint64_t n;                        /* records to publish */
	uint64_t *t0_ns;                   /* publish time of record i (async) */
	uint64_t *lat_ns;                  /* publish->ack time of each acked record */
	uint64_t n_lat;                    /* records acknowledged */
	int errors;                        /* failed publishes, negative or missing acks */
	natsStatus err;                    /* the first failure */
};

/* Runs on the connection's delivery thread, once per async publish. The
 * record's first 8 bytes are its index, which gives its publish time. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	(void)js;
	struct publisher *p = closure;
	uint64_t t = now_ns(), i;
	if (pa && !pae && natsMsg_GetDataLength(msg) >= (int)sizeof i) {
		memcpy(&i, natsMsg_GetData(msg), sizeof i);
		if (i < p->n && p->n_lat < p->n)
			p->lat_ns[p->n_lat++] = t - p->t0_ns[i];
	} else {
		if (!p->errors++ && pae)
			p->err = pae->Err;
	}
	natsMsg_Destroy(msg);
}

static void fail(struct publisher *p, natsStatus s)
{
	if (!p->errors++)
		p->err = s;
}

static void *publish_thread(void *arg)
{
	struct publisher *p = arg;
	char rec[RECORD_BYTES];
	memset(rec, 'r', sizeof rec);
	for (uint64_t i = 0; i < p->n; i++) {
		memcpy(rec, &i, sizeof i);
		natsStatus s;
		if (p->window > 0) {
			/* Stamped before the call, so a publish that the library
			 * holds back for a free slot (MaxPending) counts that
			 * wait: at most the gap to this context's next ack. */
			p->t0_ns[i] = now_ns();
			s = js_PublishAsync(p->js, SUBJECT, rec, (int)sizeof rec, NULL);
		} else {
			jsErrCode jerr = 0;
			uint64_t t0 = now_ns();
			s = js_Publish(NULL, p->js, SUBJECT, rec, (int)sizeof rec, NULL, &jerr);
			if (s == NATS_OK)
				p->lat_ns[p->n_lat++] = now_ns() - t0;
		}
		if (s != NATS_OK) {
			fail(p, s);
			break;
		}
	}
	if (p->window > 0) {
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MaxWait = ACK_WAIT_MS;
		natsStatus s = js_PublishAsyncComplete(p->js, &po);
		if (s != NATS_OK)
			fail(p, s);
	}
	return NULL;
}

static int publisher_open(struct publisher *p, natsConnection *nc, int window, uint64_t n)
{
	memset(p, 0, sizeof *p);
	p->window = window;
	p->n = n;
	p->lat_ns = malloc((n ? n : 1) * sizeof *p->lat_ns);
	p->t0_ns = window > 0 ? malloc((n ? n : 1) * sizeof *p->t0_ns) : NULL;
	if (!p->lat_ns || (window > 0 && !p->t0_ns))
		return -1;
	jsOptions jo;
	jsOptions_Init(&jo);
	if (window > 0) {
		jo.PublishAsync.MaxPending = window;
		jo.PublishAsync.AckHandler = on_ack;
		jo.PublishAsync.AckHandlerClosure = p;
		jo.PublishAsync.StallWait = ACK_WAIT_MS;
	}
	natsStatus s = natsConnection_JetStream(&p->js, nc, &jo);
	if (s != NATS_OK) {
		fprintf(stderr, "bench_nats: JetStream context: %s\n", natsStatus_GetText(s));
		return -1;
	}
	return 0;
}

/* Destroys the context and frees the buffers, except after a failure:
 * an ack still outstanding could then be delivered into them later, so
 * they are left to the process's exit. */
static void publisher_close(struct publisher *p)
{
	jsCtx_Destroy(p->js);
	p->js = NULL;
	if (p->errors)
		return;
	free(p->t0_ns);
	free(p->lat_ns);
	p->t0_ns = p->lat_ns = NULL;
}

/* A fresh file-storage stream for each run, so every run appends to an
 * empty one and the directory does not grow with the repetitions. */
static int reset_stream(jsCtx *admin)
{
	jsErrCode jerr = 0;
	js_DeleteStream(admin, STREAM, NULL, &jerr);
	const char *subjects[] = {"intents.>"};
	jsStreamConfig sc;
	jsStreamConfig_Init(&sc);
	sc.Name = STREAM;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	natsStatus s = NATS_OK;
	/* JetStream may still be starting when the port first accepts. */
	for (uint64_t give_up = now_ns() + 10000000000u;;) {
		jsStreamInfo *si = NULL;
		s = js_AddStream(&si, admin, &sc, NULL, &jerr);
		jsStreamInfo_Destroy(si);
		if (s == NATS_OK || now_ns() > give_up)
			break;
		sleep_s(0.1);
	}
	if (s != NATS_OK) {
		fprintf(stderr, "bench_nats: cannot create stream %s: %s (JetStream error %d)\n",
			STREAM, natsStatus_GetText(s), (int)jerr);
		return -1;
	}
	return 0;
}

struct result {
	double rate;                       /* acknowledged records per second */
	double p50_ms, p99_ms;             /* publish->ack latency */
	int errors;                        /* failed publishes or acks */
	natsStatus err;                    /* the first failure */
};

/* One run: n_pub publisher threads on one fresh connection, each with its
 * own JetStream context and `window` acks outstanding (0: js_Publish one
 * at a time), together publishing n records into a fresh stream.  0 and
 * *res, or -1 if the run could not be set up.  The threads share one
 * connection, as the journal's threads share one journal and as a NATS
 * client is normally used; a connection per thread measured about 30%
 * slower on the 2-core machine this was written on. */
static int run(jsCtx *admin, const char *url, int n_pub, int window, uint64_t n,
	       struct result *res)
{
	pthread_t th[MAX_PUBLISHERS];
	int rc = -1, n_open = 0, n_started = 0, failed = 0;
	memset(res, 0, sizeof *res);
	natsConnection *nc = NULL;
	if (reset_stream(admin))
		return -1;
	/* Leaked, not freed, after a failure: see publisher_close. */
	struct publisher *pub = calloc(MAX_PUBLISHERS, sizeof *pub);
	if (!pub)
		return -1;
	natsStatus s = natsConnection_ConnectTo(&nc, url);
	if (s != NATS_OK) {
		fprintf(stderr, "bench_nats: connect %s: %s\n", url, natsStatus_GetText(s));
		goto out;
	}
	for (; n_open < n_pub; n_open++)
		if (publisher_open(&pub[n_open], nc, window, n / (uint64_t)n_pub)) {
			n_open++;
			goto out;
		}
	uint64_t start = now_ns();
	if (n_pub == 1) {
		publish_thread(&pub[0]);
	} else {
		for (; n_started < n_pub; n_started++)
			if (pthread_create(&th[n_started], NULL, publish_thread, &pub[n_started])) {
				fprintf(stderr, "bench_nats: cannot start thread\n");
				break;
			}
		for (int i = 0; i < n_started; i++)
			pthread_join(th[i], NULL);
		if (n_started < n_pub)
			goto out;
	}
	double elapsed = (double)(now_ns() - start) / 1e9;
	uint64_t n_lat = 0;
	for (int i = 0; i < n_pub; i++) {
		n_lat += pub[i].n_lat;
		if (pub[i].errors && !res->errors++)
			res->err = pub[i].err;
	}
	uint64_t *all = malloc((n_lat ? n_lat : 1) * sizeof *all);
	if (!all)
		goto out;
	uint64_t k = 0;
	for (int i = 0; i < n_pub; i++) {
		memcpy(all + k, pub[i].lat_ns, pub[i].n_lat * sizeof *all);
		k += pub[i].n_lat;
	}
	qsort(all, n_lat, sizeof *all, cmp_u64);
	res->rate = (double)n_lat / elapsed;
	res->p50_ms = n_lat ? (double)all[n_lat / 2] / 1e6 : 0;
	res->p99_ms = n_lat ? (double)all[n_lat * 99 / 100] / 1e6 : 0;
	free(all);
	rc = 0;
out:
	for (int i = 0; i < n_open; i++) {
		failed |= pub[i].errors;
		publisher_close(&pub[i]);
	}
	natsConnection_Destroy(nc);
	if (!failed)
		free(pub);
	return rc;
}

static double median3(double v[REPS])
{
	double s[REPS];
	memcpy(s, v, sizeof s);
	qsort(s, REPS, sizeof *s, cmp_double);
	return s[REPS / 2];
}

/* REPS runs, then one line: each figure is its median over the runs. */
static int report(jsCtx *admin, const char *url, const char *label, int n_pub, int window,
		  uint64_t n)
{
	double rate[REPS], p50[REPS], p99[REPS];
	int errors = 0;
	natsStatus err = NATS_OK;
	for (int r = 0; r < REPS; r++) {
		struct result res;
		if (run(admin, url, n_pub, window, n, &res))
			return -1;
		rate[r] = res.rate;
		p50[r] = res.p50_ms;
		p99[r] = res.p99_ms;
		if (res.errors && !errors++)
			err = res.err;
	}
	char errs[160] = "";
	if (errors)
		snprintf(errs, sizeof errs, " (ERRORS: %s)", natsStatus_GetText(err));
	printf("%s: %.0f records/s, ack p50 %.2f ms p99 %.2f ms (median of %d x %llu records)%s\n",
	       label, median3(rate), median3(p50), median3(p99), REPS,
	       (unsigned long long)(n / (uint64_t)n_pub * (uint64_t)n_pub), errs);
	fflush(stdout);
	return 0;
}

static uint64_t arg_count(const char *s, uint64_t min)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || v < min) {
		fprintf(stderr, "usage: bench_nats [DIR [N_ASYNC [N_SYNC]]] (counts >= %llu)\n",
			(unsigned long long)min);
		exit(2);
	}
	return (uint64_t)v;
}

int main(int argc, char **argv)
{
	const char *base = argc > 1 ? argv[1] : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	uint64_t n_async = argc > 2 ? arg_count(argv[2], MAX_PUBLISHERS) : 200000;
	uint64_t n_sync = argc > 3 ? arg_count(argv[3], 1) : 10000;
	char exe[PATH_MAX];
	if (find_server(exe, sizeof exe)) {
		printf("NATS peer skipped: nats-server not installed\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	int rc = 1, port;
	natsConnection *nc = NULL;
	jsCtx *admin = NULL;
	if (start_server(exe, base, &port))
		goto out;
	char url[64];
	snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
	natsStatus s = natsConnection_ConnectTo(&nc, url);
	if (s == NATS_OK)
		s = natsConnection_JetStream(&admin, nc, NULL);
	if (s != NATS_OK) {
		fprintf(stderr, "bench_nats: connect %s: %s\n", url, natsStatus_GetText(s));
		goto out;
	}
	printf("NATS JetStream 2.9 acknowledges before fsync (syncs every 2 min): "
	       "a non-durable reference\n");
	fflush(stdout);
	if (report(admin, url, "nats jetstream js_PublishAsync, 1 publisher x 1024 in flight", 1,
		   1024, n_async) ||
	    report(admin, url, "nats jetstream js_Publish (sync), 1 publisher x 1 in flight", 1, 0,
		   n_sync) ||
	    report(admin, url, "nats jetstream js_PublishAsync, 64 threads x 16 in flight",
		   MAX_PUBLISHERS, 16, n_async))
		goto out;
	rc = 0;
out:
	jsCtx_Destroy(admin);
	natsConnection_Destroy(nc);
	/* Let the library's threads go before the server does, so that no
	 * reconnect attempt races the shutdown. */
	nats_CloseAndWait(5000);
	stop_server();
	return rc;
}
