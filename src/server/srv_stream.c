/* srv_stream.c: the live event stream (SPEC §9): a bounded ring of the
 * recent events, fed as a telemetry sink, and the Server-Sent Events
 * clients that read it through cursors (GET /api/v1/stream).
 *
 * The ring.  Each event is stored once, already framed as its SSE message
 * ("id: SEQ\nevent: NAME\ndata: LINE\n\n"), in a byte arena addressed by
 * monotonic positions (a message never wraps: if it does not fit before
 * the arena's end it starts at the beginning), plus an index ring of
 * `ring` entries (seq, position, lengths, where the name and
 * payload.intent_id sit).  Entries are numbered by monotonic ordinals;
 * [tail, head) are held.  Appending evicts the oldest entries when the
 * index is full or their bytes are about to be overwritten.  No
 * allocation per event; memory is the arena (ARENA_PER_EVENT bytes per
 * slot, at least ARENA_MIN) plus the index.
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

#include "srv_int.h"

#define ARENA_PER_EVENT 768               /* arena bytes per ring slot */
#define ARENA_MIN ((size_t)1 << 20)       /* smallest arena */
#define BLOCK_SIZE ((size_t)32 * 1024)     /* MHD's send buffer per client */
#define NS_PER_MS UINT64_C(1000000)
#define HEARTBEAT_NS (15000 * NS_PER_MS)  /* idle time before ": ping" */
#define WAKE_MIN_NS (1 * NS_PER_MS)       /* least time between wake rounds */
#define WAKE_MAX_NS (10 * NS_PER_MS)      /* ... with many clients */
#define SCAN_NS (250 * NS_PER_MS)         /* waker period without events */
#define PROBE_NS (1000 * NS_PER_MS)       /* sleeping sockets checked for EOF */
#define CUT_GRACE_NS (1000 * NS_PER_MS)   /* before a blocked socket is shut */
#define CLOSE_WAIT_NS (2000 * NS_PER_MS)  /* close_all waits for clients */
#define SNDBUF_BYTES (64 * 1024)          /* stream sockets' SO_SNDBUF (doubled by Linux) */
#define MAX_PREFIXES 16                   /* ?event= prefixes per client */
#define FILTER_LEN 64                     /* longest prefix or intent id + 1 */
#define CTL_CAP 256                       /* a client's control messages */

static const char MSG_SHUTDOWN[] = "event: shutdown\ndata: {}\n\n";
static const char MSG_PING[] = ": ping\n\n";
static const char MSG_HELLO[] = "retry: 1000\n\n";

/* An event held in the ring. */
struct ev {
	uint64_t seq;           /* envelope seq */
	uint64_t pos;           /* arena position of its SSE message */
	uint32_t len;           /* message bytes */
	uint32_t data;          /* offset of the JSON line in the message */
	uint32_t line_len;      /* JSON line bytes (without the newline) */
	uint32_t iid;           /* offset of payload.intent_id's value; 0: none */
	uint8_t name;           /* offset of the event name */
	uint8_t name_len;       /* its length */
	uint8_t iid_len;        /* intent id length */
};

struct client {
	struct client *prev, *next;       /* in srv_stream.clients */
	struct srv_stream *st;            /* the stream */
	struct MHD_Connection *conn;      /* its connection (NULL in unit tests) */
	int fd;                           /* its socket, for cutting it off */
	bool linked;                      /* in the list */
	bool suspended;                   /* the reader suspended the connection */
	bool ending;                      /* the last message is queued in ctl */
	bool cut;                         /* counted as cut off */
	bool shut;                        /* its socket was shut down */
	bool gone;                        /* the peer closed while it slept */
	uint64_t ord;                     /* next entry to consider */
	uint32_t off;                     /* bytes of entry ord already sent */
	uint64_t last_seq;                /* last seq passed (sent or filtered) */
	uint64_t allow;                   /* backlog allowance (resume catch-up) */
	uint64_t last_send_ns;            /* when bytes last went to MHD */
	uint64_t cut_ns;                  /* when it was cut off */
	char ctl[CTL_CAP];                /* pending control messages */
	size_t ctl_len, ctl_off;          /* their length, bytes already sent */
	size_t n_prefix;                  /* event name prefixes (0: all) */
	char prefix[MAX_PREFIXES][FILTER_LEN];
	uint8_t prefix_len[MAX_PREFIXES];
	char intent_id[FILTER_LEN];       /* "" : any */
	size_t intent_id_len;
};

struct srv_stream {
	struct itd_server *srv;           /* the server (NULL in unit tests) */
	pthread_mutex_t mu;               /* guards everything below */
	pthread_cond_t wake;              /* wakes the waker */
	pthread_cond_t left;              /* a client left */
	pthread_t waker;                  /* the waker thread */
	bool waker_running;               /* started and not yet joined */
	char *arena;                      /* SSE messages */
	size_t arena_cap;                 /* its bytes */
	struct ev *idx;                   /* index ring (power-of-two slots) */
	uint64_t idx_mask;                /* slots - 1 */
	size_t ring;                      /* events held at most */
	uint64_t tail, head;              /* ordinals held: [tail, head) */
	uint64_t apos;                    /* arena position of the next message */
	uint64_t last_seq;                /* newest seq appended (0: none) */
	size_t client_buffer;             /* backlog bytes a client may add */
	struct client *clients;           /* connected clients */
	bool dirty;                       /* events appended since the last wake */
	bool closing;                     /* close_all: streams are ending */
	bool stop;                        /* the waker exits */
	uint64_t closing_ns;              /* when closing began */
	struct MHD_Connection **wakelist; /* waker's resume batch */
	size_t wake_cap;                  /* its capacity */
	uint64_t bad_lines;               /* lines without seq or event */
	struct srv_stream_stats stats;    /* counters */
};

/* ------------------------------------------------------------- parsing */

/* Find needle in [s, s+n); NULL if absent. */
static const char *find(const char *s, size_t n, const char *needle, size_t nn)
{
	return memmem(s, n, needle, nn);
}

/* Split one JSONL line into what the ring indexes.  The envelope's keys
 * come before the payload in a fixed order and string values are JSON
 * escaped, so the first `,"seq":` and `"event":"` are the envelope's and
 * the first `"intent_id":"` after them is the payload's.  Returns false
 * for a line without a seq or event name. */
static bool parse_line(const char *line, size_t n, uint64_t *seq, const char **digits,
		       size_t *n_digits, const char **name, size_t *name_len, const char **iid,
		       size_t *iid_len)
{
	static const char k_seq[] = ",\"seq\":", k_ev[] = "\"event\":\"",
			  k_iid[] = "\"intent_id\":\"";
	const char *p = find(line, n, k_seq, sizeof k_seq - 1), *end = line + n;
	if (!p)
		return false;
	p += sizeof k_seq - 1;
	const char *d = p;
	uint64_t v = 0;
	while (p < end && *p >= '0' && *p <= '9' && p - d < 20)
		v = v * 10 + (uint64_t)(*p++ - '0');
	if (p == d || p == end || (*p != ',' && *p != '}'))
		return false;
	*seq = v;
	*digits = d;
	*n_digits = (size_t)(p - d);
	const char *e = find(p, (size_t)(end - p), k_ev, sizeof k_ev - 1);
	if (!e)
		return false;
	e += sizeof k_ev - 1;
	const char *q = memchr(e, '"', (size_t)(end - e));
	if (!q || q == e || q - e > 255)
		return false;
	*name = e;
	*name_len = (size_t)(q - e);
	*iid = NULL;
	*iid_len = 0;
	const char *i = find(q, (size_t)(end - q), k_iid, sizeof k_iid - 1);
	if (i) {
		i += sizeof k_iid - 1;
		const char *j = memchr(i, '"', (size_t)(end - i));
		if (j && j - i <= 255 && !memchr(i, '\\', (size_t)(j - i))) {
			*iid = i;
			*iid_len = (size_t)(j - i);
		}
	}
	return true;
}

/* ---------------------------------------------------------------- ring */

static struct ev *entry(const struct srv_stream *st, uint64_t ord)
{
	return &st->idx[ord & st->idx_mask];
}

static char *msg_at(const struct srv_stream *st, const struct ev *e)
{
	return st->arena + e->pos % st->arena_cap;
}

/* Under mu: append one line (without its newline) as an SSE message,
 * evicting what it displaces.  Malformed or oversized lines are counted
 * and skipped. */
static void ring_append(struct srv_stream *st, const char *line, size_t n)
{
	uint64_t seq;
	const char *digits, *name, *iid;
	size_t nd, name_len, iid_len;
	if (!parse_line(line, n, &seq, &digits, &nd, &name, &name_len, &iid, &iid_len)) {
		st->bad_lines++;
		return;
	}
	size_t hdr = 4 + nd + 8 + name_len + 7;
	size_t len = hdr + n + 2;
	if (len > st->arena_cap || n > UINT32_MAX / 2) {
		st->bad_lines++;
		return;
	}
	uint64_t pos = st->apos;
	size_t at = (size_t)(pos % st->arena_cap);
	if (at + len > st->arena_cap) {
		pos += st->arena_cap - at;
		at = 0;
	}
	while (st->tail < st->head &&
	       (st->head - st->tail >= st->ring ||
		(pos + len > st->arena_cap && entry(st, st->tail)->pos < pos + len - st->arena_cap)))
		st->tail++;

	char *m = st->arena + at;
	memcpy(m, "id: ", 4);
	memcpy(m + 4, digits, nd);
	memcpy(m + 4 + nd, "\nevent: ", 8);
	memcpy(m + 12 + nd, name, name_len);
	memcpy(m + 12 + nd + name_len, "\ndata: ", 7);
	memcpy(m + hdr, line, n);
	memcpy(m + hdr + n, "\n\n", 2);

	struct ev *e = entry(st, st->head);
	e->seq = seq;
	e->pos = pos;
	e->len = (uint32_t)len;
	e->data = (uint32_t)hdr;
	e->line_len = (uint32_t)n;
	e->name = (uint8_t)(12 + nd);
	e->name_len = (uint8_t)name_len;
	e->iid = iid ? (uint32_t)(hdr + (size_t)(iid - line)) : 0;
	e->iid_len = (uint8_t)iid_len;
	st->head++;
	st->apos = pos + len;
	st->last_seq = seq;
	st->stats.events++;
}

/* Under mu: the first ordinal whose seq > after (head if none). */
static uint64_t ring_find(const struct srv_stream *st, uint64_t after)
{
	uint64_t lo = st->tail, hi = st->head;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (entry(st, mid)->seq <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The sink's write(): whole lines, on the sink's thread.  Appends them and
 * signals the waker; never waits for a client. */
static int sink_write(void *ctx, const char *data, size_t len)
{
	struct srv_stream *st = ctx;
	const char *p = data, *end = data + len;
	pthread_mutex_lock(&st->mu);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n)
			ring_append(st, p, n);
		p += n + 1;
	}
	if (st->clients && !st->dirty) {
		st->dirty = true;
		pthread_cond_signal(&st->wake);
	}
	pthread_mutex_unlock(&st->mu);
	return ITD_OK;
}

static const struct itd_sink_ops sink_ops = {.kind = "stream", .write = sink_write};

const struct itd_sink_ops *srv_stream_sink(void)
{
	return &sink_ops;
}

int srv_stream_recent(struct srv_stream *st, uint64_t after_seq, size_t limit, char **out,
		      size_t *len, uint64_t *first, uint64_t *last)
{
	*out = NULL;
	*len = 0;
	pthread_mutex_lock(&st->mu);
	*first = st->tail < st->head ? entry(st, st->tail)->seq : 0;
	*last = st->tail < st->head ? entry(st, st->head - 1)->seq : 0;
	uint64_t from = ring_find(st, after_seq), to = st->head;
	if (limit && to - from > limit)
		to = from + limit;
	size_t n = 2;
	for (uint64_t o = from; o < to; o++)
		n += entry(st, o)->line_len + 1;
	char *buf = itd_malloc(n + 1);
	if (!buf) {
		pthread_mutex_unlock(&st->mu);
		return ITD_ENOMEM;
	}
	size_t w = 0;
	buf[w++] = '[';
	for (uint64_t o = from; o < to; o++) {
		const struct ev *e = entry(st, o);
		if (o > from)
			buf[w++] = ',';
		memcpy(buf + w, msg_at(st, e) + e->data, e->line_len);
		w += e->line_len;
	}
	pthread_mutex_unlock(&st->mu);
	buf[w++] = ']';
	buf[w] = '\0';
	*out = buf;
	*len = w;
	return ITD_OK;
}

/* ------------------------------------------------------------- clients */

/* Does the event pass c's filters? */
static bool matches(const struct srv_stream *st, const struct client *c, const struct ev *e)
{
	const char *m = msg_at(st, e);
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
		return st->apos - entry(st, st->tail)->pos;
	return st->apos - (entry(st, c->ord)->pos + c->off);
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
static ssize_t fill(struct srv_stream *st, struct client *c, char *buf, size_t max, uint64_t now)
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
		const struct ev *e = entry(st, c->ord);
		const char *m = msg_at(st, e);
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
static bool has_work(struct srv_stream *st, struct client *c, uint64_t now)
{
	if (st->closing || c->gone || c->ending || c->ctl_len || c->off || c->ord < st->tail ||
	    now - c->last_send_ns >= HEARTBEAT_NS)
		return true;
	for (; c->ord < st->head; c->ord++) {
		const struct ev *e = entry(st, c->ord);
		if (e->seq != c->last_seq + 1 || matches(st, c, e))
			return true;
		c->last_seq = e->seq;
	}
	return false;
}

/* Under mu: place a new client's cursor.  With a resume point it starts
 * after that seq (a gap marker follows if the ring no longer holds the
 * next one); without, at the live edge. */
static void client_start(struct srv_stream *st, struct client *c, bool resume, uint64_t after,
			 uint64_t now)
{
	if (resume && after < st->last_seq) {
		c->ord = ring_find(st, after);
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
	ssize_t n = fill(st, c, buf, max, itd_clock_mono_ns());
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
static void client_free(void *cls)
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
			if (n < st->wake_cap && has_work(st, c, now)) {
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

static void *waker_main(void *arg)
{
	struct srv_stream *st = arg;
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

int srv_stream_create(struct itd_server *s, size_t ring, size_t client_buffer,
		      struct srv_stream **out)
{
	*out = NULL;
	if (!ring || ring > ((size_t)1 << 30))
		return ITD_EINVAL;
	struct srv_stream *st = itd_calloc(1, sizeof *st);
	if (!st)
		return ITD_ENOMEM;
	st->srv = s;
	st->ring = ring;
	st->client_buffer = client_buffer ? client_buffer : (size_t)1 << 20;
	size_t slots = 1;
	while (slots < ring)
		slots <<= 1;
	st->idx_mask = slots - 1;
	st->arena_cap = ring * ARENA_PER_EVENT;
	if (st->arena_cap < ARENA_MIN)
		st->arena_cap = ARENA_MIN;
	st->idx = itd_calloc(slots, sizeof *st->idx);
	st->arena = itd_malloc(st->arena_cap);
	int rc = ITD_ENOMEM;
	if (!st->idx || !st->arena)
		goto fail_mem;
	rc = ITD_EINTERNAL;
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca))
		goto fail_mem;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&st->mu, NULL)) {
		pthread_condattr_destroy(&ca);
		goto fail_mem;
	}
	if (pthread_cond_init(&st->wake, &ca)) {
		pthread_condattr_destroy(&ca);
		goto fail_mu;
	}
	if (pthread_cond_init(&st->left, &ca)) {
		pthread_condattr_destroy(&ca);
		goto fail_wake;
	}
	pthread_condattr_destroy(&ca);
	if (pthread_create(&st->waker, NULL, waker_main, st))
		goto fail_left;
	st->waker_running = true;
	*out = st;
	return ITD_OK;
fail_left:
	pthread_cond_destroy(&st->left);
fail_wake:
	pthread_cond_destroy(&st->wake);
fail_mu:
	pthread_mutex_destroy(&st->mu);
fail_mem:
	itd_free(st->arena);
	itd_free(st->idx);
	itd_free(st);
	return rc;
}

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

void srv_stream_destroy(struct srv_stream *st)
{
	if (!st)
		return;
	if (st->waker_running) {
		pthread_mutex_lock(&st->mu);
		st->stop = true;
		pthread_cond_signal(&st->wake);
		pthread_mutex_unlock(&st->mu);
		pthread_join(st->waker, NULL);
	}
	/* The HTTP daemon is stopped: every response, and so every client,
	 * has been freed; unlink any left from a test. */
	while (st->clients) {
		struct client *c = st->clients;
		st->clients = c->next;
		c->linked = false;
	}
	pthread_cond_destroy(&st->left);
	pthread_cond_destroy(&st->wake);
	pthread_mutex_destroy(&st->mu);
	itd_free(st->wakelist);
	itd_free(st->arena);
	itd_free(st->idx);
	itd_free(st);
}

void srv_stream_stats(struct srv_stream *st, struct srv_stream_stats *out)
{
	pthread_mutex_lock(&st->mu);
	*out = st->stats;
	pthread_mutex_unlock(&st->mu);
}

/* ------------------------------------------------------------- handler */

struct parse_ctx {
	struct client *c;     /* gets the prefixes */
	bool bad;             /* too many or too long */
};

/* Add the comma-separated prefixes of one ?event= value. */
static enum MHD_Result add_prefixes(void *cls, enum MHD_ValueKind kind, const char *key,
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
static bool parse_seq(const char *s, uint64_t *out)
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

	struct parse_ctx pc = {.c = c};
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_prefixes, &pc);
	const char *iid = srv_query(r, "intent_id");
	if (pc.bad || (iid && strlen(iid) >= FILTER_LEN)) {
		itd_free(c);
		return srv_error(out, 400, "bad_request", NULL,
				 "at most %d event prefixes and ids of at most %d bytes",
				 MAX_PREFIXES, FILTER_LEN - 1);
	}
	if (iid && *iid) {
		c->intent_id_len = strlen(iid);
		memcpy(c->intent_id, iid, c->intent_id_len);
	}
	/* Last-Event-ID (a reconnecting EventSource) wins over ?after_seq. */
	const char *lei = srv_header(r, "Last-Event-ID"), *as = srv_query(r, "after_seq");
	const char *from = lei && *lei ? lei : as;
	uint64_t after = 0;
	if (from && !parse_seq(from, &after)) {
		itd_free(c);
		return srv_error(out, 400, "bad_request", NULL, "%s must be a seq (a number)",
				 from == lei ? "Last-Event-ID" : "after_seq");
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
		MHD_SIZE_UNKNOWN, BLOCK_SIZE, client_read, c, client_free);
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
		client_start(st, c, from != NULL, after, itd_clock_mono_ns());
	pthread_mutex_unlock(&st->mu);
	if (closing) {
		MHD_destroy_response(resp); /* frees c */
		return srv_error(out, 503, "shutting_down", NULL, "the server is shutting down");
	}
	out->status = 200;
	out->raw = resp;
	return ITD_OK;
}
