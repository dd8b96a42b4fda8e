/* tel_buffer.c: the bounded buffer between the tick and the sinks: fixed
 * chunks allocated at create, one writer thread per sink, drop-oldest or
 * blocking backpressure, and drains.
 *
 * Chunks.  The tick thread fills one chunk at a time (the current chunk),
 * with no lock.  A chunk joins every sink's FIFO when it is acquired and
 * the tick thread *publishes* its committed lines to the sinks: at each
 * tick end with flush_every_tick, at a drain, and when it is full, which
 * also *closes* it.  Each sink writes what has been published of its head
 * chunk (whole lines, one write() per batch) and pops the chunk once it is
 * closed and fully written.  So partial publication wastes no space: a
 * paced run still uses the whole buffer as slack.
 *
 *   free --acquire--> current, queued everywhere (refs = n_sinks)
 *   current --publish(close)--> closed: no new lines
 *   queued --sink wrote all of it, closed--> released by that sink
 *   queued, not being written --drop (drop policy)--> released by that sink
 *   closed and released by all --> free
 *
 * One mutex guards the queues, publication marks, the free list and the
 * counters; sink threads never hold it during write() or flush(), and the
 * tick thread takes it once per publication, never per event.
 *
 * Backpressure.  Acquire needs a free chunk.  With the drop policy it never
 * waits: it drops the globally oldest chunk that some sink has queued and
 * is not writing right now, from every sink for which that chunk is the
 * oldest such, counting its unwritten events as dropped for each, until a
 * chunk comes free.  A sink writes one chunk at a time and fewer than
 * n_chunks sinks may attach, so some closed chunk is always droppable and
 * this ends; if every other chunk is being written, the chunk dropped is
 * the one just filled: the current chunk's events are the ones lost.  With
 * the block policy acquire waits on free_cond instead. */
#include <assert.h>
#include <string.h>

#include "telemetry/telemetry_int.h"

#define CHUNK_TARGET ((size_t)256 * 1024)
#define MIN_CHUNKS 8

int tel_buf_init(struct itd_tel *t, size_t buffer_bytes)
{
	size_t chunk = CHUNK_TARGET;
	if (chunk > buffer_bytes / MIN_CHUNKS)
		chunk = buffer_bytes / MIN_CHUNKS;
	if (chunk < 4 * t->max_event)
		chunk = 4 * t->max_event;
	size_t n = buffer_bytes / chunk;
	if (n < MIN_CHUNKS)
		n = MIN_CHUNKS;
	if (n > SIZE_MAX / chunk)
		return ITD_EINVAL;
	t->arena = itd_malloc(n * chunk);
	t->chunks = itd_calloc(n, sizeof *t->chunks);
	t->held = itd_calloc(n, sizeof *t->held);
	if (!t->arena || !t->chunks || !t->held) {
		tel_buf_fini(t);
		return ITD_ENOMEM;
	}
	t->chunk_bytes = chunk;
	t->n_chunks = n;
	for (size_t i = n; i-- > 0;) {
		t->chunks[i].data = t->arena + i * chunk;
		t->chunks[i].next_free = t->free;
		t->free = &t->chunks[i];
	}
	return ITD_OK;
}

void tel_buf_fini(struct itd_tel *t)
{
	itd_free(t->held);
	t->held = NULL;
	itd_free(t->chunks);
	itd_free(t->arena);
	t->chunks = NULL;
	t->arena = NULL;
	t->free = NULL;
}

/* Under mu: a sink let go of c (it is free once closed and unheld). */
static void release(struct itd_tel *t, struct tel_chunk *c)
{
	assert(c->refs > 0);
	if (--c->refs == 0 && c->closed) {
		c->next_free = t->free;
		t->free = c;
		pthread_cond_signal(&t->free_cond);
	}
}

/* Under mu: s's oldest queued chunk that it is not writing, or NULL. */
static struct tel_chunk *droppable(const struct itd_tel *t, const struct tel_sink *s)
{
	size_t skip = s->writing ? 1 : 0;
	if (s->q_len <= skip)
		return NULL;
	return s->q[(s->q_head + skip) % t->n_chunks];
}

/* Under mu: drop the oldest droppable chunk from every sink for which it
 * is the oldest droppable one.  Only closed chunks are queued here (the
 * tick thread holds no current chunk while acquiring). */
static void drop_oldest(struct itd_tel *t)
{
	struct tel_chunk *old = NULL;
	for (size_t i = 0; i < t->n_sinks; i++) {
		struct tel_chunk *c = droppable(t, t->sinks[i]);
		if (c && (!old || c->serial < old->serial))
			old = c;
	}
	assert(old); /* guaranteed by n_sinks < n_chunks, see the file comment */
	for (size_t i = 0; i < t->n_sinks; i++) {
		struct tel_sink *s = t->sinks[i];
		if (droppable(t, s) != old)
			continue;
		uint64_t ev = old->pub_events, bytes = old->pub_len;
		if (s->writing) {
			/* Second in line: unlink it, keeping the head in place. */
			size_t at = (s->q_head + 1) % t->n_chunks;
			s->q[at] = s->q[s->q_head];
		} else {
			ev -= s->ev_off; /* the head may be partly written */
			bytes -= s->off;
			s->off = 0;
			s->ev_off = 0;
		}
		s->q_head = (s->q_head + 1) % t->n_chunks;
		s->q_len--;
		s->dropped += ev;
		s->lag_events -= ev;
		s->lag_bytes -= bytes;
		release(t, old);
	}
}

static void publish_locked(struct itd_tel *t, struct tel_chunk *c, bool close);

struct tel_chunk *tel_buf_acquire(struct itd_tel *t)
{
	pthread_mutex_lock(&t->mu);
	while (!t->free) {
		if (t->n_held) {
			/* Every chunk is taken: stop holding this tick back (its
			 * events reach the sinks early) rather than drop what
			 * was never published, which could not be counted. */
			for (size_t i = 0; i < t->n_held; i++)
				publish_locked(t, t->held[i], true);
			t->n_held = 0;
			continue;
		}
		if (t->policy == ITD_TEL_BLOCK)
			pthread_cond_wait(&t->free_cond, &t->mu);
		else
			drop_oldest(t);
	}
	struct tel_chunk *c = t->free;
	t->free = c->next_free;
	c->next_free = NULL;
	c->len = 0;
	c->n_events = 0;
	c->pub_len = 0;
	c->pub_events = 0;
	c->closed = false;
	c->serial = ++t->serial;
	c->refs = (unsigned)t->n_sinks;
	for (size_t i = 0; i < t->n_sinks; i++) {
		struct tel_sink *s = t->sinks[i];
		s->q[(s->q_head + s->q_len) % t->n_chunks] = c;
		s->q_len++;
	}
	pthread_mutex_unlock(&t->mu);
	return c;
}

/* tel_buf_publish with mu held. */
static void publish_locked(struct itd_tel *t, struct tel_chunk *c, bool close)
{
	uint64_t ev = c->n_events - c->pub_events;
	size_t bytes = c->len - c->pub_len;
	c->pub_len = c->len;
	c->pub_events = c->n_events;
	c->closed = close;
	if (close && c->refs == 0) { /* no sinks */
		c->next_free = t->free;
		t->free = c;
		pthread_cond_signal(&t->free_cond);
	}
	for (size_t i = 0; i < t->n_sinks; i++) {
		struct tel_sink *s = t->sinks[i];
		s->lag_events += ev;
		s->lag_bytes += bytes;
		pthread_cond_signal(&s->cond);
	}
}

void tel_buf_publish(struct itd_tel *t, struct tel_chunk *c, bool close)
{
	pthread_mutex_lock(&t->mu);
	publish_locked(t, c, close);
	pthread_mutex_unlock(&t->mu);
}

void tel_buf_publish_to(struct itd_tel *t, struct tel_chunk *c, size_t len, uint64_t events)
{
	pthread_mutex_lock(&t->mu);
	if (len > c->pub_len) {
		uint64_t ev = events - c->pub_events;
		size_t bytes = len - c->pub_len;
		c->pub_len = len;
		c->pub_events = events;
		for (size_t i = 0; i < t->n_sinks; i++) {
			struct tel_sink *s = t->sinks[i];
			s->lag_events += ev;
			s->lag_bytes += bytes;
			pthread_cond_signal(&s->cond);
		}
	}
	pthread_mutex_unlock(&t->mu);
}

/* Under mu: s has written everything published to it. */
static bool caught_up(const struct tel_sink *s)
{
	if (s->writing)
		return false;
	if (s->q_len == 0)
		return true;
	const struct tel_chunk *c = s->q[s->q_head];
	return s->q_len == 1 && !c->closed && s->off == c->pub_len;
}

/* A sink's writer thread: write what is published, in order; pop chunks
 * that are closed and done; flush when a drain asks; exit when stopped. */
static void *sink_main(void *arg)
{
	struct tel_sink *s = arg;
	pthread_setname_np(pthread_self(), "itd-telemetry");
	struct itd_tel *t = s->t;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		struct tel_chunk *c = s->q_len ? s->q[s->q_head] : NULL;
		if (c && s->off < c->pub_len) {
			size_t off = s->off, len = c->pub_len - off;
			uint64_t ev = c->pub_events - s->ev_off;
			uint64_t skip = s->skip_through;
			s->writing = true;
			pthread_mutex_unlock(&t->mu);
			const char *data = c->data + off;
			size_t n = len;
			bool more = skip && tel_skip_lines(&data, &n, skip);
			int rc = n ? s->ops->write(s->ctx, data, n) : ITD_OK;
			pthread_mutex_lock(&t->mu);
			if (skip && !more && s->skip_through == skip)
				s->skip_through = 0; /* past it: nothing more to look at */
			s->writing = false;
			s->off += len;
			s->ev_off += ev;
			s->events += ev;
			s->lag_events -= ev;
			s->lag_bytes -= len;
			if (rc) {
				s->write_errors++;
				s->last_error = rc;
			} else {
				s->bytes += n;
			}
			continue;
		}
		if (c && c->closed) {
			s->q_head = (s->q_head + 1) % t->n_chunks;
			s->q_len--;
			s->off = 0;
			s->ev_off = 0;
			release(t, c);
			continue;
		}
		if (s->flushed_gen != t->drain_gen) {
			uint64_t gen = t->drain_gen;
			pthread_mutex_unlock(&t->mu);
			int rc = s->ops->flush ? s->ops->flush(s->ctx) : ITD_OK;
			pthread_mutex_lock(&t->mu);
			if (rc) {
				s->write_errors++;
				s->last_error = rc;
			}
			s->flushed_gen = gen;
			pthread_cond_broadcast(&t->drain_cond);
			continue;
		}
		if (t->stop)
			break;
		pthread_cond_wait(&s->cond, &t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

static void sink_free(struct tel_sink *s)
{
	if (!s)
		return;
	if (s->ops && s->ops->close)
		s->ops->close(s->ctx);
	itd_free(s->q);
	itd_free(s->name);
	itd_free(s);
}

/* Ownership of ctx passes to the telemetry instance even when this fails:
 * on error the sink is closed here, so callers never leak it. */
int tel_buf_add_sink(struct itd_tel *t, const char *name, const struct itd_sink_ops *ops,
		     void *ctx)
{
	int rc = ITD_EINVAL;
	bool cond_ok = false;
	struct tel_sink *s = NULL, **grown;

	if (!t || !name || !ops || !ops->write) {
		if (ops && ops->close)
			ops->close(ctx);
		return rc;
	}
	rc = ITD_ENOMEM;
	s = itd_calloc(1, sizeof *s);
	if (!s) {
		if (ops->close)
			ops->close(ctx);
		return rc;
	}
	s->t = t;
	s->ops = ops;
	s->ctx = ctx;
	rc = ITD_EFULL;
	if (t->n_sinks + 1 >= t->n_chunks)
		goto fail; /* keep a chunk free of every sink, see the file comment */
	rc = ITD_ENOMEM;
	s->name = itd_strdup(name);
	s->q = itd_calloc(t->n_chunks, sizeof *s->q);
	if (!s->name || !s->q)
		goto fail;
	grown = itd_realloc(t->sinks, (t->n_sinks + 1) * sizeof *t->sinks);
	if (!grown)
		goto fail;
	t->sinks = grown;
	rc = ITD_EINTERNAL;
	if (pthread_cond_init(&s->cond, NULL) != 0)
		goto fail;
	cond_ok = true;
	pthread_mutex_lock(&t->mu);
	s->flushed_gen = t->drain_gen;
	pthread_mutex_unlock(&t->mu);
	if (pthread_create(&s->thread, NULL, sink_main, s) != 0)
		goto fail;
	pthread_mutex_lock(&t->mu);
	t->sinks[t->n_sinks++] = s;
	pthread_mutex_unlock(&t->mu);
	return ITD_OK;
fail:
	if (cond_ok)
		pthread_cond_destroy(&s->cond);
	sink_free(s);
	return rc;
}

void tel_buf_wait_drained(struct itd_tel *t)
{
	pthread_mutex_lock(&t->mu);
	uint64_t gen = ++t->drain_gen;
	for (size_t i = 0; i < t->n_sinks; i++)
		pthread_cond_signal(&t->sinks[i]->cond);
	for (;;) {
		bool done = true;
		for (size_t i = 0; i < t->n_sinks && done; i++) {
			const struct tel_sink *s = t->sinks[i];
			done = caught_up(s) && s->flushed_gen == gen;
		}
		if (done)
			break;
		pthread_cond_wait(&t->drain_cond, &t->mu);
	}
	pthread_mutex_unlock(&t->mu);
}

void tel_buf_stop_sinks(struct itd_tel *t)
{
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	for (size_t i = 0; i < t->n_sinks; i++)
		pthread_cond_signal(&t->sinks[i]->cond);
	pthread_mutex_unlock(&t->mu);
	for (size_t i = 0; i < t->n_sinks; i++) {
		struct tel_sink *s = t->sinks[i];
		pthread_join(s->thread, NULL);
		pthread_cond_destroy(&s->cond);
		sink_free(s);
	}
	itd_free(t->sinks);
	t->sinks = NULL;
	t->n_sinks = 0;
}
