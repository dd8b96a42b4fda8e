/* bench_intake.c: intake throughput and latency.  C keep-alive connections
 * (default 64), each with one request in flight, for D seconds after a
 * warm-up: POST /api/v1/intents to a running `intentd serve` (--http), or
 * the same submission as XADD to a redis-server (--redis, the peer).
 * Accepted intents per second and exact per-request latency percentiles
 * (p50, p99, from every recorded sample) are printed on one line, named
 * intake_http / intake_redis_xadd or by -l (e.g. "intake_http_durable"
 * against `intentd serve --data`), with a note in parentheses (-n).
 *
 *   bench_intake --http 127.0.0.1:5050 [--token T] [-c 64] [-d 10] [-t 1]
 *   bench_intake --redis 127.0.0.1:6379 [-c 64] [-d 10] [-t 1]
 *                [-b BATCH] [-l LABEL] [-n NOTE]
 *
 * With -b N each request carries N submissions: one POST of N intents to
 * /api/v1/intents/batch, or N XADDs pipelined to redis (what its clients
 * do); rates count intents, latency is per request.
 *
 * Each worker thread runs its own epoll loop over its share of the
 * connections (non-blocking sockets, TCP_NODELAY).  A closed connection is
 * reopened and counted; its request is counted as an error. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"

#define MAX_THREADS 8
#define RBUF 65536 /* a batch of 200 answers, with refusals, fits */

/* The submission: the spacecraft's orbit correction. */
static const char http_body[] =
	"{\"type\":\"orbit_correction\",\"goal\":{\"metric\":\"position\","
	"\"reference\":3.0,\"tolerance\":0.1}}";
static const char redis_cmd[] =
	"*7\r\n$4\r\nXADD\r\n$6\r\nintake\r\n$1\r\n*\r\n$4\r\ntype\r\n"
	"$16\r\norbit_correction\r\n$4\r\ngoal\r\n$3\r\n3.0\r\n";

struct opts {
	bool redis;                /* RESP XADD instead of HTTP POST */
	struct sockaddr_in addr;   /* the server */
	char host[64];             /* "127.0.0.1:5050" for the Host header */
	const char *token;         /* bearer token (HTTP) */
	unsigned conns;            /* connections */
	unsigned secs;             /* measured seconds */
	unsigned warmup;           /* seconds before measuring */
	unsigned threads;          /* worker threads */
	const char *label;         /* the result line's name (NULL: by mode) */
	const char *note;          /* its note in parentheses (NULL: by mode) */
	unsigned batch;            /* submissions per request (1: plain) */
};

struct conn {
	int fd;                    /* socket, -1 while closed */
	bool busy;                 /* a request is in flight */
	bool want_out;             /* EPOLLOUT is armed (partial write) */
	size_t woff;               /* bytes of the request written */
	unsigned replies;          /* redis replies still due for this request */
	bool failed;               /* one of them was an error */
	uint64_t t0;               /* when the request was sent (mono ns) */
	char rbuf[RBUF];           /* response bytes received */
	size_t rlen;
};

struct worker {
	pthread_t th;              /* the thread */
	int ep;                    /* its epoll instance */
	struct conn *c;            /* its connections */
	size_t n;
	uint64_t *lat;             /* latencies (ns) measured in the window */
	size_t n_lat, cap_lat;
	uint64_t codes[600];       /* answers by status in the window (redis: 200
				      for an id, 500 for an error reply) */
	uint64_t errors;           /* malformed answers, I/O errors */
	uint64_t reconnects;       /* connections reopened */
	bool oom;                  /* latency samples could not be kept */
};

static struct opts O;
static const char *req;          /* the request bytes */
static size_t req_len;
static uint64_t t_begin, t_end;  /* the measured window (mono ns) */

/* ------------------------------------------------------------ sockets */

static int conn_open(struct worker *w, struct conn *c)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (const struct sockaddr *)&O.addr, sizeof O.addr) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->busy = c->want_out = false;
	c->rlen = c->woff = 0;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	return epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Write what is left of the request; arm EPOLLOUT only while a write is
 * partial.  Returns 0 or -1 (the connection failed). */
static int conn_flush(struct worker *w, struct conn *c)
{
	while (c->woff < req_len) {
		ssize_t k = write(c->fd, req + c->woff, req_len - c->woff);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			break;
		if (k <= 0)
			return -1;
		c->woff += (size_t)k;
	}
	bool want = c->woff < req_len;
	if (want != c->want_out) {
		struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0u), .data.ptr = c};
		if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev))
			return -1;
		c->want_out = want;
	}
	return 0;
}

static int conn_send(struct worker *w, struct conn *c)
{
	c->busy = true;
	c->woff = 0;
	c->replies = O.batch;
	c->failed = false;
	c->t0 = itd_clock_mono_ns();
	return conn_flush(w, c);
}

/* --------------------------------------------------------- answers */

/* The length of one complete HTTP response at the start of b (0: not yet
 * complete, -1: malformed); *status and *close receive its status and
 * whether the server will close the connection. */
static long http_answer(char *b, size_t n, unsigned *status, bool *close_after)
{
	char *end = memmem(b, n, "\r\n\r\n", 4);
	if (!end)
		return n >= RBUF ? -1 : 0;
	size_t hlen = (size_t)(end - b) + 4;
	if (hlen < 12 || strncmp(b, "HTTP/1.", 7))
		return -1;
	*status = (unsigned)atoi(b + 9);
	char save = b[hlen - 1];
	b[hlen - 1] = '\0';
	const char *cl = strcasestr(b, "\r\ncontent-length:");
	const char *te = strcasestr(b, "\r\ntransfer-encoding:");
	*close_after = strcasestr(b, "\r\nconnection: close") != NULL;
	long body = cl ? atol(cl + 17) : 0;
	b[hlen - 1] = save;
	if (te || body < 0)
		return -1; /* intentd answers with a length; chunked is not expected */
	size_t total = hlen + (size_t)body;
	if (total > RBUF)
		return -1;
	return n >= total ? (long)total : 0;
}

/* The same for one RESP reply: a bulk string (an XADD id) is 200, an error
 * reply 500. */
static long resp_answer(const char *b, size_t n, unsigned *status)
{
	const char *nl = memmem(b, n, "\r\n", 2);
	if (!nl)
		return n >= RBUF ? -1 : 0;
	size_t line = (size_t)(nl - b) + 2;
	switch (b[0]) {
	case '$': {
		long len = atol(b + 1);
		size_t total = len < 0 ? line : line + (size_t)len + 2;
		*status = len < 0 ? 500 : 200;
		return n >= total ? (long)total : 0;
	}
	case '+':
	case ':':
		*status = 200;
		return (long)line;
	case '-':
		*status = 500;
		return (long)line;
	default:
		return -1;
	}
}

static void record(struct worker *w, unsigned status, uint64_t now, uint64_t t0)
{
	if (now < t_begin || now >= t_end)
		return;
	w->codes[status < 600 ? status : 599]++;
	if (w->n_lat == w->cap_lat) {
		size_t cap = w->cap_lat ? w->cap_lat * 2 : 65536;
		uint64_t *p = itd_realloc(w->lat, cap * sizeof *p);
		if (!p) {
			w->oom = true;
			return;
		}
		w->lat = p;
		w->cap_lat = cap;
	}
	w->lat[w->n_lat++] = now - t0;
}

/* Read what arrived; for a complete answer, record it and send the next
 * request.  Returns 0, or -1 when the connection must be reopened. */
static int conn_read(struct worker *w, struct conn *c, uint64_t now)
{
	for (;;) {
		ssize_t k = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			break;
		if (k <= 0)
			return -1;
		c->rlen += (size_t)k;
		if (c->rlen == RBUF)
			break;
	}
	while (c->rlen && c->busy) {
		unsigned status = 0;
		bool close_after = false;
		long n = O.redis ? resp_answer(c->rbuf, c->rlen, &status)
				 : http_answer(c->rbuf, c->rlen, &status, &close_after);
		if (n < 0) {
			w->errors++;
			return -1;
		}
		if (n == 0)
			return 0;
		if (O.redis && O.batch > 1) {
			/* A pipelined request completes with its last reply. */
			c->failed |= status != 200;
			if (--c->replies) {
				memmove(c->rbuf, c->rbuf + n, c->rlen - (size_t)n);
				c->rlen -= (size_t)n;
				continue;
			}
			status = c->failed ? 500 : 200;
		} else if (!O.redis && O.batch > 1 && status == 202 &&
			   !memmem(c->rbuf, (size_t)n, "\"failed\":0", 10)) {
			status = 207; /* some items were refused: reported, not counted */
		}
		record(w, status, now, c->t0);
		memmove(c->rbuf, c->rbuf + n, c->rlen - (size_t)n);
		c->rlen -= (size_t)n;
		c->busy = false;
		if (close_after)
			return -1;
		if (now < t_end && conn_send(w, c))
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ workers */

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[64];
	for (size_t i = 0; i < w->n; i++)
		if (conn_send(w, &w->c[i]))
			w->errors++;
	for (;;) {
		uint64_t now = itd_clock_mono_ns();
		if (now >= t_end)
			break;
		int n = epoll_wait(w->ep, evs, 64, 10);
		now = itd_clock_mono_ns();
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			int rc = 0;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				rc = -1;
			if (!rc && (evs[i].events & EPOLLOUT))
				rc = conn_flush(w, c);
			if (!rc && (evs[i].events & EPOLLIN))
				rc = conn_read(w, c, now);
			if (!rc)
				continue;
			/* Reopen it and send again; the lost request is an error. */
			if (c->busy)
				w->errors++;
			conn_close(c);
			w->reconnects++;
			if (now < t_end && (conn_open(w, c) || conn_send(w, c)))
				w->errors++;
		}
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
static double pct_ms(const uint64_t *s, size_t n, double p)
{
	if (!n)
		return 0;
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)s[rank - 1] / 1e6;
}

static int parse_addr(const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof host)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	long port = atol(colon + 1);
	if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &O.addr.sin_addr) != 1)
		return -1;
	O.addr.sin_family = AF_INET;
	O.addr.sin_port = htons((uint16_t)port);
	snprintf(O.host, sizeof O.host, "%s", s);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_intake (--http|--redis) HOST:PORT [--token T] [-c CONNS] "
			"[-d SECONDS] [-w WARMUP] [-t THREADS] [-b BATCH<=200] [-l LABEL] "
			"[-n NOTE]\n");
	return 2;
}

int main(int argc, char **argv)
{
	O.conns = 64;
	O.secs = 10;
	O.warmup = 1;
	O.threads = 1;
	O.batch = 1;
	O.token = getenv("INTENTD_OPERATOR_TOKEN");
	const char *addr = NULL;
	/* Every option takes a value: walk them in pairs. */
	if ((argc - 1) % 2)
		return usage();
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--http") || !strcmp(a, "--redis")) {
			O.redis = a[2] == 'r';
			addr = v;
		} else if (!strcmp(a, "--token")) {
			O.token = v;
		} else if (!strcmp(a, "-c")) {
			O.conns = (unsigned)atoi(v);
		} else if (!strcmp(a, "-d")) {
			O.secs = (unsigned)atoi(v);
		} else if (!strcmp(a, "-w")) {
			O.warmup = (unsigned)atoi(v);
		} else if (!strcmp(a, "-t")) {
			O.threads = (unsigned)atoi(v);
		} else if (!strcmp(a, "-l")) {
			O.label = v;
		} else if (!strcmp(a, "-n")) {
			O.note = v;
		} else if (!strcmp(a, "-b")) {
			O.batch = (unsigned)atoi(v);
		} else {
			return usage();
		}
	}
	if (!addr || parse_addr(addr) || !O.conns || !O.secs || !O.threads ||
	    O.threads > MAX_THREADS || (!O.redis && !O.token) || !O.batch || O.batch > 200)
		return usage();

	char *http_req = NULL;
	if (O.redis) {
		size_t one = sizeof redis_cmd - 1;
		http_req = itd_malloc(one * O.batch);
		if (!http_req)
			return 1;
		for (unsigned i = 0; i < O.batch; i++)
			memcpy(http_req + one * i, redis_cmd, one);
		req = http_req;
		req_len = one * O.batch;
	} else {
		/* The body: one submission, or {"intents":[...]} of O.batch. */
		size_t one = sizeof http_body - 1, blen = O.batch == 1 ? one : 14 + (one + 1) * O.batch;
		char *body = itd_malloc(blen + 1);
		size_t cap = 512 + strlen(O.token) + blen;
		http_req = itd_malloc(cap);
		if (!body || !http_req)
			return 1;
		size_t b = 0;
		if (O.batch > 1)
			b += (size_t)sprintf(body, "{\"intents\":[");
		for (unsigned i = 0; i < O.batch; i++)
			b += (size_t)sprintf(body + b, "%s%s", i ? "," : "", http_body);
		if (O.batch > 1)
			b += (size_t)sprintf(body + b, "]}");
		int n = snprintf(http_req, cap,
				 "POST /api/v1/intents%s HTTP/1.1\r\nHost: %s\r\n"
				 "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\n\r\n%s",
				 O.batch > 1 ? "/batch" : "", O.host, O.token, b, body);
		itd_free(body);
		req = http_req;
		req_len = (size_t)n;
	}

	struct worker *ws = itd_calloc(O.threads, sizeof *ws);
	struct conn *cs = itd_calloc(O.conns, sizeof *cs);
	if (!ws || !cs)
		return 1;
	int rc = 0;
	for (unsigned t = 0; t < O.threads; t++) {
		struct worker *w = &ws[t];
		w->ep = epoll_create1(0);
		w->c = cs + (size_t)O.conns * t / O.threads;
		w->n = (size_t)O.conns * (t + 1) / O.threads - (size_t)O.conns * t / O.threads;
		for (size_t i = 0; i < w->n; i++) {
			w->c[i].fd = -1;
			if (conn_open(w, &w->c[i])) {
				fprintf(stderr, "bench_intake: cannot connect to %s: %s\n", O.host,
					strerror(errno));
				return 1;
			}
		}
	}
	t_begin = itd_clock_mono_ns() + (uint64_t)O.warmup * 1000000000u;
	t_end = t_begin + (uint64_t)O.secs * 1000000000u;
	for (unsigned t = 0; t < O.threads; t++)
		pthread_create(&ws[t].th, NULL, worker_run, &ws[t]);

	uint64_t codes[600] = {0}, errors = 0, reconnects = 0;
	size_t n_lat = 0;
	for (unsigned t = 0; t < O.threads; t++) {
		pthread_join(ws[t].th, NULL);
		for (int k = 0; k < 600; k++)
			codes[k] += ws[t].codes[k];
		errors += ws[t].errors;
		reconnects += ws[t].reconnects;
		n_lat += ws[t].n_lat;
		if (ws[t].oom)
			rc = 1;
	}
	uint64_t *all = itd_malloc((n_lat + 1) * sizeof *all);
	if (!all)
		return 1;
	size_t k = 0;
	for (unsigned t = 0; t < O.threads; t++) {
		memcpy(all + k, ws[t].lat, ws[t].n_lat * sizeof *all);
		k += ws[t].n_lat;
	}
	qsort(all, n_lat, sizeof *all, cmp_u64);

	unsigned ok = O.redis ? 200 : 202;
	double per_s = (double)codes[ok] * O.batch / (double)O.secs;
	const char *label = O.label ? O.label : O.redis ? "intake_redis_xadd" : "intake_http";
	const char *note = O.note    ? O.note
			   : O.redis ? "the peer"
				     : "target >= 50000/s, p99 <= 5 ms";
	char per[48] = "";
	if (O.batch > 1)
		snprintf(per, sizeof per, " x %u per request", O.batch);
	printf("%s: %u clients%s, %u s: %.0f intents/s, p50 %.2f ms, p99 %.2f ms (%s)\n", label,
	       O.conns, per, O.secs, per_s, pct_ms(all, n_lat, 50), pct_ms(all, n_lat, 99), note);
	/* Anything but acceptance is reported, never folded into the rate. */
	bool other = errors || reconnects;
	for (int c = 0; c < 600; c++)
		other |= c != (int)ok && codes[c];
	if (other) {
		printf("  answers:");
		for (int c = 0; c < 600; c++)
			if (codes[c])
				printf(" %d x %llu", c, (unsigned long long)codes[c]);
		printf(", errors %llu, reconnects %llu\n", (unsigned long long)errors,
		       (unsigned long long)reconnects);
	}

	for (unsigned t = 0; t < O.threads; t++) {
		for (size_t i = 0; i < ws[t].n; i++)
			conn_close(&ws[t].c[i]);
		close(ws[t].ep);
		itd_free(ws[t].lat);
	}
	itd_free(all);
	itd_free(cs);
	itd_free(ws);
	itd_free(http_req);
	return rc;
}
