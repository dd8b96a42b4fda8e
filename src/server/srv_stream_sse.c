/* srv_stream_sse.c: the Server-Sent Events clients of the live event
 * stream (SPEC §9, GET /api/v1/stream): they read the ring
 * (srv_stream_ring.c) through cursors.
 *
 * Clients.  A client is a cursor (ordinal, and offset inside a message
 * too large for one send) plus its filters.  MHD's content reader copies
 * whole messages from the ring into MHD's send buffer (one copy per
 * client, the only per-client copy), under the ring's mutex.  With
 * nothing to send the reader suspends its connection (MHD's documented
 * pattern: returning 0 without suspending would busy-loop) and marks the
 * client suspended; only the waker thread resumes it.
 *
 *   reader: data to send ------------------> bytes to MHD
 *   reader: nothing ----MHD_suspend, suspended = true--> asleep
 *   waker: asleep, has work (new match, gap, ping due, shutdown)
 *          ----suspended = false, then MHD_resume (outside the mutex)--> reader
 *
 * A suspended connection cannot finish until it is resumed, and only the
 * waker resumes, after claiming the client under the mutex; so the
 * connection it resumes is alive and really suspended.
 *
 * The waker thread.  The sink thread only appends and signals; the waker
 * then resumes the sleeping clients that have work, in rounds spaced by
 * 1 to 10 ms depending on the number of clients (wake_gap: at high tick
 * rates each wake then carries several ticks of events instead of one),
 * and at least every SCAN_NS it sends heartbeat pings (": ping" after
 * HEARTBEAT_NS idle), cuts off blocked clients and checks sleeping
 * sockets for a closed peer (every PROBE_NS). 
 *
 * Gaps.  A client records the seq of the last event it passed (sent or
 * filtered out).  When the next event held is not that seq + 1 (resume
 * from a seq the ring no longer holds, events evicted under a slow
 * client, events telemetry dropped) it first gets
 *   event: gap  data: {"after_seq":N,"resume_seq":FIRST,"missed":FIRST-N-1}
 * Gap and control messages carry no id, so Last-Event-ID stays the seq of
 * the last real event.
 *
 * Backpressure.  A client's backlog is the bytes between its cursor and
 * the ring's head (what MHD has not yet taken).  A client may start
 * behind (a resume); its allowance is its smallest backlog so far, and it
 * is cut off once its backlog exceeds allowance + client_buffer: it gets a
 * gap marker and "event: cut_off" and its stream ends.  A client that
 * stopped reading altogether never calls the reader again; the waker
 * counts it cut off and, after CUT_GRACE_NS, shuts its socket down so MHD
 * closes it.  Nothing here ever waits for a client. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "srv_stream_int.h"

/* ------------------------------------------------------------- clients */

/* Does the event pass c's filters? */
static bool matches(const struct srv_stream *st, const struct client *c, const struct ev *e)
{
	const char *m = srv_stream_msg_at(st, e);
	if (c->intent_id_len &&
	    (e->iid_len != c->intent_id_len || memcmp(m + e->iid, c->intent_id, e->iid_len)))
		return false;
	if (!c->n_prefix)
		return true;
	for (size_t i = 0; i < c->n_prefix; i++)
		if (c->prefix_len[i] <= e->name_len && !memcmp(m + e->name, c->prefix[i], c->prefix_len[i]))
			return true;
	return false;
}

/* Under mu: bytes between c's cursor and the ring's head. */
static uint64_t backlog(const struct srv_stream *st, const struct client *c)
{
	if (c->ord >= st->head)
		return 0;
	if (c->ord < st->tail)
		return st->apos - srv_stream_entry(st, st->tail)->pos;
	return st->apos - (srv_stream_entry(st, c->ord)->pos + c->off);
}

/* Under mu: queue a control message (always fits: they are short). */
static void ctl_add(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ctl_add(struct client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->ctl + c->ctl_len, CTL_CAP - c->ctl_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->ctl_len += (size_t)n < CTL_CAP - c->ctl_len ? (size_t)n : CTL_CAP - 1 - c->ctl_len;
}

static void add_gap(struct srv_stream *st, struct client *c, uint64_t resume_seq)
{
	ctl_add(c, "event: gap\ndata: {\"after_seq\":%" PRIu64 ",\"resume_seq\":%" PRIu64
		   ",\"missed\":%" PRIu64 "}\n\n",
		c->last_seq, resume_seq, resume_seq - c->last_seq - 1);
	st->stats.gaps++;
}

/* Under mu: end c's stream for falling behind (gap marker, cut_off). */
static void cut_off(struct srv_stream *st, struct client *c, uint64_t now, uint64_t behind)
{
	if (!c->cut) {
		c->cut = true;
		c->cut_ns = now;
		st->stats.cut_off++;
	}
	if (st->last_seq > c->last_seq)
		add_gap(st, c, st->last_seq + 1);
	ctl_add(c, "event: cut_off\ndata: {\"last_seq\":%" PRIu64 ",\"backlog_bytes\":%" PRIu64
		   ",\"client_buffer\":%zu}\n\n",
		c->last_seq, behind, st->client_buffer);
	c->ending = true;
}

/* Under mu: fill buf (max bytes) with what c should receive next: pending
 * control messages, then whole ring messages from its cursor (a message
 * larger than max goes in pieces).  Returns the bytes written, 0 for
 * nothing now, or MHD_CONTENT_READER_END_OF_STREAM (after the final
 * message) / END_WITH_ERROR (a half-sent message was evicted). */
ssize_t srv_stream_fill(struct srv_stream *st, struct client *c, char *buf, size_t max,
			uint64_t now)
{
	size_t n = 0;
	if (c->gone)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	for (;;) {
		if (c->ctl_off < c->ctl_len) {
			size_t k = c->ctl_len - c->ctl_off;
			if (k > max - n)
				k = max - n;
			memcpy(buf + n, c->ctl + c->ctl_off, k);
			n += k;
			c->ctl_off += k;
			if (c->ctl_off < c->ctl_len)
				break;
			c->ctl_off = c->ctl_len = 0;
		}
		if (c->ending) {
			if (n == 0)
				return MHD_CONTENT_READER_END_OF_STREAM;
			break;
		}
		if (c->off == 0) {
			uint64_t behind = backlog(st, c);
			if (behind < c->allow)
				c->allow = behind;
			if (c->cut || behind > c->allow + st->client_buffer) {
				cut_off(st, c, now, behind);
				continue;
			}
		}
		if (c->ord < st->tail) {
			if (c->off)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			c->ord = st->tail;
		}
		if (c->ord >= st->head) {
			if (!st->closing)
				break;
			/* Caught up with everything before the shutdown. */
			ctl_add(c, "%s", MSG_SHUTDOWN);
			c->ending = true;
			continue;
		}
		if (n == max)
			break;
		const struct ev *e = srv_stream_entry(st, c->ord);
		const char *m = srv_stream_msg_at(st, e);
		if (c->off) {
			size_t k = e->len - c->off;
			if (k > max - n)
				k = max - n;
			memcpy(buf + n, m + c->off, k);
			n += k;
			c->off += (uint32_t)k;
			if (c->off < e->len)
				break;
			c->off = 0;
			c->ord++;
			c->last_seq = e->seq;
			continue;
		}
		if (e->seq <= c->last_seq) { /* already passed (cannot normally happen) */
			c->ord++;
			continue;
		}
		if (e->seq != c->last_seq + 1) {
			if (n && n + 128 > max)
				break; /* the marker goes first in the next read */
			add_gap(st, c, e->seq);
			c->last_seq = e->seq - 1;
			continue;
		}
		if (!matches(st, c, e)) {
			c->ord++;
			c->last_seq = e->seq;
			continue;
		}
		if (e->len > max - n) {
			if (n)
				break;
			memcpy(buf, m, max);
			n = max;
			c->off = (uint32_t)max;
			break;
		}
		memcpy(buf + n, m, e->len);
		n += e->len;
		c->ord++;
		c->last_seq = e->seq;
	}
	if (n == 0 && now - c->last_send_ns >= HEARTBEAT_NS && max >= sizeof MSG_PING - 1) {
		memcpy(buf, MSG_PING, sizeof MSG_PING - 1);
		n = sizeof MSG_PING - 1;
	}
	if (n)
		c->last_send_ns = now;
	return (ssize_t)n;
}

/* Under mu: would c's reader have anything to do?  Skips (and passes)
 * events c's filters reject, so idle filtered clients stay asleep. */
bool srv_stream_has_work(struct srv_stream *st, struct client *c, uint64_t now)
{
	if (st->closing || c->gone || c->ending || c->ctl_len || c->off || c->ord < st->tail ||
	    now - c->last_send_ns >= HEARTBEAT_NS)
		return true;
	for (; c->ord < st->head; c->ord++) {
		const struct ev *e = srv_stream_entry(st, c->ord);
		if (e->seq != c->last_seq + 1 || matches(st, c, e))
			return true;
		c->last_seq = e->seq;
	}
	return false;
}

/* Under mu: place a new client's cursor.  With a resume point it starts
 * after that seq (a gap marker follows if the ring no longer holds the
 * next one); without, at the live edge. */
void srv_stream_client_start(struct srv_stream *st, struct client *c, bool resume, uint64_t after,
			     uint64_t now)
{
	if (resume && after < st->last_seq) {
		c->ord = srv_stream_ring_find(st, after);
		c->last_seq = after;
	} else {
		c->ord = st->head;
		c->last_seq = st->last_seq;
	}
	c->allow = backlog(st, c);
	c->last_send_ns = now;
	ctl_add(c, "%s", MSG_HELLO);
	c->next = st->clients;
	if (st->clients)
		st->clients->prev = c;
	st->clients = c;
	c->linked = true;
	st->stats.clients++;
	st->stats.clients_total++;
}

/* MHD's content reader for one client. */
static ssize_t client_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct client *c = cls;
	struct srv_stream *st = c->st;
	(void)pos;
	pthread_mutex_lock(&st->mu);
	ssize_t n = srv_stream_fill(st, c, buf, max, itd_clock_mono_ns());
	if (n == 0) {
		/* Suspend under the mutex, so the waker's claim (suspended ->
		 * false, then resume) always follows the suspension. */
		MHD_suspend_connection(c->conn);
		c->suspended = true;
	}
	pthread_mutex_unlock(&st->mu);
	return n;
}

/* MHD's free callback: the response (and so the stream) is finished. */
void srv_stream_client_free(void *cls)
{
	struct client *c = cls;
	struct srv_stream *st = c->st;
	pthread_mutex_lock(&st->mu);
	if (c->linked) {
		if (c->prev)
			c->prev->next = c->next;
		else
			st->clients = c->next;
		if (c->next)
			c->next->prev = c->prev;
		st->stats.clients--;
		pthread_cond_broadcast(&st->left);
	}
	pthread_mutex_unlock(&st->mu);
	itd_free(c);
}

/* --------------------------------------------------------------- waker */

/* Is the peer of a sleeping client gone (EOF or reset)?  MHD does not
 * watch suspended sockets, so without this a closed client that filters
 * out everything would linger until a heartbeat fails.  Peeking does not
 * consume anything and MHD is not using the socket while it is
 * suspended. */
static bool peer_gone(int fd)
{
	char b;
	ssize_t r = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Under mu: claim the suspended clients that have work (their
 * connections go to st->wakelist; returns how many), count and shut down
 * blocked ones; with probe, check sleeping sockets for EOF.  If the
 * wakelist could not grow, the rest wait for the next round. */
static size_t collect(struct srv_stream *st, uint64_t now, bool probe)
{
	size_t n_clients = (size_t)st->stats.clients, n = 0;
	if (st->wake_cap < n_clients) {
		struct MHD_Connection **w = itd_realloc(st->wakelist, n_clients * 2 * sizeof *w);
		if (w) {
			st->wakelist = w;
			st->wake_cap = n_clients * 2;
		}
	}
	for (struct client *c = st->clients; c; c = c->next) {
		if (c->suspended) {
			if (probe && c->fd >= 0 && !c->gone && peer_gone(c->fd))
				c->gone = true;
			if (n < st->wake_cap && srv_stream_has_work(st, c, now)) {
				c->suspended = false;
				st->wakelist[n++] = c->conn;
			}
			continue;
		}
		if (!c->cut && !c->ending && c->off == 0) {
			uint64_t behind = backlog(st, c);
			if (behind > c->allow + st->client_buffer) {
				c->cut = true;
				c->cut_ns = now;
				st->stats.cut_off++;
			}
		}
		bool stuck = (c->cut && now - c->cut_ns >= CUT_GRACE_NS) ||
			     (st->closing && now - st->closing_ns >= CUT_GRACE_NS);
		if (stuck && !c->shut && c->fd >= 0) {
			/* MHD's pending send fails and it closes the connection;
			 * the fd stays open until then (the client is linked). */
			shutdown(c->fd, SHUT_RDWR);
			c->shut = true;
		}
	}
	return n;
}

static void wait_until(struct srv_stream *st, uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
			      .tv_nsec = (long)(ns % 1000000000u)};
	pthread_cond_timedwait(&st->wake, &st->mu, &ts);
}

/* The least time between wake rounds: 10 us per client, between 1 and
 * 10 ms.  A round resumes every sleeping client with work and each
 * resumed client costs a send (per-packet TCP work dominates the
 * server's profile, not the copying), so with many clients rounds are
 * spaced to let each send carry several ticks of events: the same bytes
 * in fewer, larger packets, for a few ms of added latency. */
static uint64_t wake_gap(const struct srv_stream *st)
{
	uint64_t gap = st->stats.clients * 10000;
	if (gap < WAKE_MIN_NS)
		gap = WAKE_MIN_NS;
	if (gap > WAKE_MAX_NS)
		gap = WAKE_MAX_NS;
	return gap;
}

void *srv_stream_waker_main(void *arg)
{
	struct srv_stream *st = arg;
	pthread_setname_np(pthread_self(), "itd-stream");
	uint64_t last_round = 0, next_scan = 0, next_probe = 0;
	pthread_mutex_lock(&st->mu);
	while (!st->stop) {
		uint64_t now = itd_clock_mono_ns(), gap = wake_gap(st);
		bool due = st->dirty && now >= last_round + gap;
		if (!due && now < next_scan) {
			uint64_t until = next_scan;
			if (st->dirty && last_round + gap < until)
				until = last_round + gap;
			wait_until(st, until);
			continue;
		}
		st->dirty = false;
		last_round = now;
		next_scan = now + SCAN_NS;
		bool probe = now >= next_probe;
		if (probe)
			next_probe = now + PROBE_NS;
		size_t n = collect(st, now, probe);
		if (!n)
			continue;
		pthread_mutex_unlock(&st->mu);
		for (size_t i = 0; i < n; i++)
			MHD_resume_connection(st->wakelist[i]);
		pthread_mutex_lock(&st->mu);
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

/* ------------------------------------------------------------ lifecycle */

/* Under mu: wait on `left` until ns (monotonic). */
static void wait_left(struct srv_stream *st, uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
			      .tv_nsec = (long)(ns % 1000000000u)};
	pthread_cond_timedwait(&st->left, &st->mu, &ts);
}

void srv_stream_close_all(struct srv_stream *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&st->mu);
	if (!st->waker_running) {
		pthread_mutex_unlock(&st->mu);
		return;
	}
	uint64_t now = itd_clock_mono_ns();
	if (!st->closing) {
		st->closing = true;
		st->closing_ns = now;
	}
	st->dirty = true;
	pthread_cond_signal(&st->wake);
	/* Clients drain their backlog, get "shutdown" and leave; ones that
	 * stopped reading are shut down by the waker after the grace time. */
	uint64_t deadline = now + CLOSE_WAIT_NS;
	while (st->clients && itd_clock_mono_ns() < deadline)
		wait_left(st, deadline);
	st->stop = true;
	pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->mu);
	pthread_join(st->waker, NULL);
	pthread_mutex_lock(&st->mu);
	st->waker_running = false;
	pthread_mutex_unlock(&st->mu);
}

/* ------------------------------------------------------------- handler */

/* Add the comma-separated prefixes of one ?event= value. */
enum MHD_Result srv_stream_add_prefixes(void *cls, enum MHD_ValueKind kind, const char *key,
					const char *value)
{
	struct parse_ctx *p = cls;
	(void)kind;
	if (strcmp(key, "event") || !value)
		return MHD_YES;
	while (*value) {
		size_t n = strcspn(value, ",");
		if (n) {
			if (p->c->n_prefix == MAX_PREFIXES || n >= FILTER_LEN) {
				p->bad = true;
				return MHD_NO;
			}
			memcpy(p->c->prefix[p->c->n_prefix], value, n);
			p->c->prefix_len[p->c->n_prefix++] = (uint8_t)n;
		}
		value += n;
		if (*value == ',')
			value++;
	}
	return MHD_YES;
}

/* A decimal seq ("" or junk: false). */
bool srv_stream_parse_seq(const char *s, uint64_t *out)
{
	if (!s || !*s || strlen(s) > 20)
		return false;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

int srv_h_stream(struct srv_req *r, struct srv_resp *out)
{
	struct srv_stream *st = r->srv->stream;
	struct client *c = itd_calloc(1, sizeof *c);
	if (!c)
		return srv_error(out, 500, "out_of_memory", NULL, "out of memory");
	c->st = st;
	c->conn = r->conn;
	c->fd = -1;

	/* Refusals have the shape of every query refusal (invalid_query,
	 * srv_bad_query); Last-Event-ID, a header, is named like a parameter. */
	struct parse_ctx pc = {.c = c};
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, srv_stream_add_prefixes, &pc);
	if (pc.bad) {
		char expected[96];
		snprintf(expected, sizeof expected,
			 "at most %d comma-separated event name prefixes, each under %d bytes",
			 MAX_PREFIXES, FILTER_LEN);
		itd_free(c);
		return srv_bad_query(out, "event", expected, NULL);
	}
	/* Events carry the full id ("i-000042"): the short form "i-42"
	 * (accepted by GET, cancel and ?after=) is normalized to it. */
	const char *iid = srv_query(r, "intent_id");
	uint64_t iseq;
	if (iid && *iid) {
		if (!srv_parse_id(iid, &iseq)) {
			itd_free(c);
			return srv_bad_query(out, "intent_id", "an intent id (i-000042 or i-42)",
					     NULL);
		}
		int n = snprintf(c->intent_id, sizeof c->intent_id, "i-%06" PRIu64, iseq);
		c->intent_id_len = (size_t)n;
	}
	/* Last-Event-ID (a reconnecting EventSource) wins over ?after_seq. */
	const char *lei = srv_header(r, "Last-Event-ID"), *as = srv_query(r, "after_seq");
	const char *from = lei && *lei ? lei : as;
	uint64_t after = 0;
	if (from && !srv_stream_parse_seq(from, &after)) {
		static const char expected[] = "a seq (an integer >= 0)";
		itd_free(c);
		if (from == as)
			return srv_bad_query(out, "after_seq", expected, NULL);
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "param", "Last-Event-ID");
		cJSON_AddStringToObject(d, "expected", expected);
		return srv_error(out, 400, "invalid_query", d, "header 'Last-Event-ID' must be %s",
				 expected);
	}
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		c->fd = ci->connect_fd;
	if (c->fd >= 0) {
		/* A fixed kernel send buffer: bounded kernel memory per client
		 * (autotuning would grow it to megabytes), and the backlog limit
		 * then measures how far behind the client really is. */
		int sndbuf = SNDBUF_BYTES;
		setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	}

	struct MHD_Response *resp = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, BLOCK_SIZE, client_read, c, srv_stream_client_free);
	if (!resp) {
		itd_free(c);
		return srv_error(out, 500, "out_of_memory", NULL, "out of memory");
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");

	pthread_mutex_lock(&st->mu);
	bool closing = st->closing;
	if (!closing)
		srv_stream_client_start(st, c, from != NULL, after, itd_clock_mono_ns());
	pthread_mutex_unlock(&st->mu);
	if (closing) {
		MHD_destroy_response(resp); /* frees c */
		return srv_error(out, 503, "shutting_down", NULL, "the server is shutting down");
	}
	out->status = 200;
	out->raw = resp;
	return ITD_OK;
}
