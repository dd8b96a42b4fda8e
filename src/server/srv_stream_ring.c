/* srv_stream_ring.c: the ring of the live event stream (SPEC §9): a
 * bounded ring of the recent events, fed as a telemetry sink, that the SSE
 * clients (srv_stream_sse.c) and srv_stream_recent read.
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
 * slot, at least ARENA_MIN) plus the index. */
#include <string.h>
#include <time.h>

#include "srv_stream_int.h"

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
bool srv_stream_parse_line(const char *line, size_t n, uint64_t *seq, const char **digits,
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

/* Under mu: append one line (without its newline) as an SSE message,
 * evicting what it displaces.  Malformed or oversized lines are counted
 * and skipped. */
static void ring_append(struct srv_stream *st, const char *line, size_t n)
{
	uint64_t seq;
	const char *digits, *name, *iid;
	size_t nd, name_len, iid_len;
	if (!srv_stream_parse_line(line, n, &seq, &digits, &nd, &name, &name_len, &iid, &iid_len)) {
		st->bad_lines++;
		return;
	}
	if (seq <= st->last_seq)
		return; /* held already (a restart refilled the ring from the file) */
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
		(pos + len > st->arena_cap &&
		 srv_stream_entry(st, st->tail)->pos < pos + len - st->arena_cap)))
		st->tail++;

	char *m = st->arena + at;
	memcpy(m, "id: ", 4);
	memcpy(m + 4, digits, nd);
	memcpy(m + 4 + nd, "\nevent: ", 8);
	memcpy(m + 12 + nd, name, name_len);
	memcpy(m + 12 + nd + name_len, "\ndata: ", 7);
	memcpy(m + hdr, line, n);
	memcpy(m + hdr + n, "\n\n", 2);

	struct ev *e = srv_stream_entry(st, st->head);
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

void srv_stream_preload(void *ctx, const char *line, size_t n)
{
	struct srv_stream *st = ctx;
	pthread_mutex_lock(&st->mu);
	ring_append(st, line, n);
	pthread_mutex_unlock(&st->mu);
}

uint64_t srv_stream_last_seq(struct srv_stream *st)
{
	pthread_mutex_lock(&st->mu);
	uint64_t seq = st->last_seq;
	pthread_mutex_unlock(&st->mu);
	return seq;
}

size_t srv_stream_arena_bytes(const struct srv_stream *st)
{
	return st->arena_cap;
}

void srv_stream_resume_at(struct srv_stream *st, uint64_t seq)
{
	pthread_mutex_lock(&st->mu);
	if (st->last_seq < seq)
		st->last_seq = seq;
	pthread_mutex_unlock(&st->mu);
}

/* Under mu: the first ordinal whose seq > after (head if none). */
uint64_t srv_stream_ring_find(const struct srv_stream *st, uint64_t after)
{
	uint64_t lo = st->tail, hi = st->head;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (srv_stream_entry(st, mid)->seq <= after)
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
	*first = st->tail < st->head ? srv_stream_entry(st, st->tail)->seq : 0;
	*last = st->tail < st->head ? srv_stream_entry(st, st->head - 1)->seq : 0;
	uint64_t from = srv_stream_ring_find(st, after_seq), to = st->head;
	if (limit && to - from > limit)
		to = from + limit;
	size_t n = 2;
	for (uint64_t o = from; o < to; o++)
		n += srv_stream_entry(st, o)->line_len + 1;
	char *buf = itd_malloc(n + 1);
	if (!buf) {
		pthread_mutex_unlock(&st->mu);
		return ITD_ENOMEM;
	}
	size_t w = 0;
	buf[w++] = '[';
	for (uint64_t o = from; o < to; o++) {
		const struct ev *e = srv_stream_entry(st, o);
		if (o > from)
			buf[w++] = ',';
		memcpy(buf + w, srv_stream_msg_at(st, e) + e->data, e->line_len);
		w += e->line_len;
	}
	pthread_mutex_unlock(&st->mu);
	buf[w++] = ']';
	buf[w] = '\0';
	*out = buf;
	*len = w;
	return ITD_OK;
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
	if (pthread_create(&st->waker, NULL, srv_stream_waker_main, st))
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
