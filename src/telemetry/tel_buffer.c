/* tel_buffer.c: the bounded buffer between the tick and the sinks: fixed
 * chunks allocated at create, one writer thread per sink, drop-oldest or
 * blocking backpressure, and drains.
 *
 * A chunk is always in exactly one of these places:
 *
 *   free list --acquire--> current (tick thread fills it, no lock)
 *   current --publish--> queued in every sink's FIFO (refs = n_sinks)
 *   queued --sink thread takes it--> being written by that sink
 *   being written --write() returns--> released (refs - 1)
 *   queued --drop (tick thread, drop policy)--> released for that sink
 *   released by the last holder --> free list
 *
 * One mutex guards the queues, the free list and the counters; the sink
 * threads never hold it during write() or flush().  The tick thread takes
 * it once per published chunk, never per event.  With the drop policy it
 * never waits: when no chunk is free it drops the globally oldest chunk that
 * some sink has queued but not started (from every sink whose queue head it
 * is, counting its events as dropped for each) until one comes free.
 * Because a sink writes one chunk at a time and at most n_chunks - 1 sinks
 * may attach, some chunk is always free or merely queued, so this ends;
 * when every other chunk is being written, the chunk dropped is the one
 * just published, i.e. the current chunk's events are the ones lost.  With
 * the block policy the tick waits on free_cond instead. */
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
	if (!t->arena || !t->chunks) {
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
	itd_free(t->chunks);
	itd_free(t->arena);
	t->chunks = NULL;
	t->arena = NULL;
	t->free = NULL;
}

/* Under mu: one holder let go of c. */
static void release(struct itd_tel *t, struct tel_chunk *c)
{
	assert(c->refs > 0);
	if (--c->refs == 0) {
		c->next_free = t->free;
		t->free = c;
		pthread_cond_signal(&t->free_cond);
	}
}

/* Under mu: drop the oldest queued chunk from every queue it heads. */
static void drop_oldest(struct itd_tel *t)
{
	struct tel_chunk *old = NULL;
	for (size_t i = 0; i < t->n_sinks; i++) {
		struct tel_sink *s = t->sinks[i];
		if (s->q_len && (!old || s->q[s->q_head]->serial < old->serial))
			old = s->q[s->q_head];
	}
	assert(old); /* guaranteed by n_sinks < n_chunks, see the file comment */
	for (size_t i = 0; i < t->n_sinks; i++) {
		struct tel_sink *s = t->sinks[i];
		if (!s->q_len || s->q[s->q_head] != old)
			continue;
		s->q_head = (s->q_head + 1) % t->n_chunks;
		s->q_len--;
		s->dropped += old->n_events;
		s->lag_events -= old->n_events;
		s->lag_bytes -= old->len;
		release(t, old);
	}
}

struct tel_chunk *tel_buf_acquire(struct itd_tel *t)
{
	pthread_mutex_lock(&t->mu);
	while (!t->free) {
		if (t->policy == ITD_TEL_BLOCK)
			pthread_cond_wait(&t->free_cond, &t->mu);
		else
			drop_oldest(t);
	}
	struct tel_chunk *c = t->free;
	t->free = c->next_free;
	pthread_mutex_unlock(&t->mu);
	c->next_free = NULL;
	c->len = 0;
	c->n_events = 0;
	return c;
}

void tel_buf_publish(struct itd_tel *t, struct tel_chunk *c)
{
	pthread_mutex_lock(&t->mu);
	c->serial = ++t->serial;
	c->refs = (unsigned)t->n_sinks;
	if (t->n_sinks == 0) {
		c->refs = 1;
		release(t, c);
	}
	for (size_t i = 0; i < t->n_sinks; i++) {
		struct tel_sink *s = t->sinks[i];
		s->q[(s->q_head + s->q_len) % t->n_chunks] = c;
		s->q_len++;
		s->lag_events += c->n_events;
		s->lag_bytes += c->len;
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&t->mu);
}

/* A sink's writer thread: write queued chunks in order, flush when a drain
 * asks, exit when stopped and idle. */
static void *sink_main(void *arg)
{
	struct tel_sink *s = arg;
	struct itd_tel *t = s->t;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		if (s->q_len) {
			struct tel_chunk *c = s->q[s->q_head];
			s->q_head = (s->q_head + 1) % t->n_chunks;
			s->q_len--;
			s->writing = c;
			pthread_mutex_unlock(&t->mu);
			int rc = s->ops->write(s->ctx, c->data, c->len);
			pthread_mutex_lock(&t->mu);
			s->writing = NULL;
			s->events += c->n_events;
			s->lag_events -= c->n_events;
			s->lag_bytes -= c->len;
			if (rc) {
				s->write_errors++;
				s->last_error = rc;
			} else {
				s->bytes += c->len;
			}
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
			done = !s->q_len && !s->writing && s->flushed_gen == gen;
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
