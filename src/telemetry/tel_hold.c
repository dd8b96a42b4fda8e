/* tel_hold.c: ticks' events held back from the sinks until the front end
 * releases them (hold_ticks).  A durable server publishes a tick's
 * telemetry only once the tick's journal record is on disk, so nothing is
 * ever reported that a crash could take back; with marks it does so
 * without the loop waiting for the disk: ticks run on time while their
 * events wait here.
 *
 * Chunks that fill up are held, not published (itd_tel_end).  Each tick
 * end leaves a mark: where in the buffer its last event ends
 * (itd_tel_tick_mark).  Releasing through a cycle publishes the held
 * chunks before the newest mark at or below it, and the chunk that mark
 * lies in up to the mark.  Publication is cumulative, so the newest mark
 * covers all older ones.
 *
 * The marks are a ring of MARKS.  A front end bounds how far behind its
 * releases fall (itd_tel_hold_pressed says when to stop and wait); should
 * the ring fill anyway, the oldest mark is released early rather than
 * lost.  If every chunk is held, acquiring a new one publishes them all
 * (tel_buf_acquire): events reach the sinks early, never get dropped
 * unseen. */
#include <assert.h>
#include <string.h>

#include "telemetry/telemetry_int.h"

#define MARKS 1024

int tel_hold_init(struct itd_tel *t)
{
	t->marks = itd_calloc(MARKS, sizeof *t->marks);
	if (!t->marks)
		return ITD_ENOMEM;
	t->marks_cap = MARKS;
	return ITD_OK;
}

void tel_hold_fini(struct itd_tel *t)
{
	itd_free(t->marks);
	t->marks = NULL;
	t->marks_cap = t->m_head = t->m_len = 0;
}

void tel_hold_release_all(struct itd_tel *t)
{
	for (size_t i = 0; i < t->n_held; i++)
		tel_buf_publish(t, t->held[i], true);
	t->n_held = 0;
	t->m_head = t->m_len = 0;
}

/* Publish everything up to the mark m. */
static void release_mark(struct itd_tel *t, const struct tel_mark *m)
{
	size_t k = 0;
	while (k < t->n_held && t->held[k]->serial < m->serial)
		tel_buf_publish(t, t->held[k++], true);
	struct tel_chunk *at = k < t->n_held && t->held[k]->serial == m->serial ? t->held[k] :
			       t->cur && t->cur->serial == m->serial	       ? t->cur :
										 NULL;
	/* No chunk of that serial: published already (every chunk was held
	 * and a new one was needed). */
	if (at && m->len == SIZE_MAX) {
		assert(at != t->cur);
		tel_buf_publish(t, t->held[k++], true);
	} else if (at) {
		tel_buf_publish_to(t, at, m->len, m->events);
	}
	if (k) {
		memmove(t->held, t->held + k, (t->n_held - k) * sizeof *t->held);
		t->n_held -= k;
	}
}

void itd_tel_tick_mark(struct itd_tel *t, uint64_t cycle, int64_t ts_ms)
{
	assert(!t->in_event);
	if (!t->marks) {
		itd_tel_tick_end(t, cycle, ts_ms);
		return;
	}
	tel_report_delays(t, cycle, ts_ms);
	struct tel_mark m = {.cycle = cycle};
	if (t->cur) {
		m.serial = t->cur->serial;
		m.len = t->cur->len;
		m.events = t->cur->n_events;
	} else if (t->n_held) {
		m.serial = t->held[t->n_held - 1]->serial;
		m.len = SIZE_MAX;
	} else {
		return; /* nothing is held: all of it reached the sinks */
	}
	if (t->m_len == t->marks_cap) {
		release_mark(t, &t->marks[t->m_head]);
		t->m_head = (t->m_head + 1) % t->marks_cap;
		t->m_len--;
	}
	t->marks[(t->m_head + t->m_len) % t->marks_cap] = m;
	t->m_len++;
}

void itd_tel_release(struct itd_tel *t, uint64_t through)
{
	assert(!t->in_event);
	size_t n = 0;
	while (n < t->m_len && t->marks[(t->m_head + n) % t->marks_cap].cycle <= through)
		n++;
	if (!n)
		return;
	release_mark(t, &t->marks[(t->m_head + n - 1) % t->marks_cap]);
	t->m_head = (t->m_head + n) % t->marks_cap;
	t->m_len -= n;
}

void itd_tel_release_all(struct itd_tel *t)
{
	assert(!t->in_event);
	tel_hold_release_all(t);
	if (t->cur && t->cur->len > t->cur->pub_len)
		tel_buf_publish(t, t->cur, false);
}

bool itd_tel_hold_pressed(const struct itd_tel *t)
{
	return 2 * t->n_held >= t->n_chunks || 2 * t->m_len >= t->marks_cap;
}
