/* tel_core.c: a telemetry instance: configuration, the envelope written
 * around each event, seq numbering, truncation of oversized events, the
 * tick-end report (telemetry.delayed), drains and counters.
 *
 * An event is written in place at the end of the current chunk: begin()
 * writes the envelope up to the payload's brace, the caller writes the
 * payload through the writer, end() appends redacted_fields, the payload's
 * brace, the pre-rendered tags and the newline.  A chunk is published as
 * soon as it cannot hold another max_event_bytes, so an event always fits
 * where it starts and nothing is copied.  See tel_buffer.c for how chunks
 * reach the sinks. */
#include <assert.h>
#include <string.h>

#include "telemetry/telemetry_int.h"

#define DEFAULT_BUFFER ((size_t)8 * 1024 * 1024)
#define DEFAULT_MAX_EVENT ((size_t)64 * 1024)
/* Room an event needs beyond its trailer: the envelope up to the payload
 * and a telemetry.truncated payload, with generous names. */
#define MIN_EVENT_ROOM ((size_t)1024)

static const char HEAD[] = "{\"schema_version\":\"1.0\",\"timestamp\":\"";

/* A JSON rendering built at create: text of at most cap bytes. */
struct render {
	char *buf;
	struct itd_jw w;
};

static int render_open(struct render *r, size_t cap)
{
	r->buf = itd_malloc(cap);
	if (!r->buf)
		return ITD_ENOMEM;
	tel_jw_init(&r->w, r->buf, cap);
	return ITD_OK;
}

/* ,"run_id":"...","cycle": */
static int render_runid(struct itd_tel *t, const char *run_id)
{
	struct render r;
	size_t n = strlen(run_id);
	int rc = render_open(&r, 6 * n + 32);
	if (rc)
		return rc;
	tel_jw_raw(&r.w, ",\"run_id\":", 10);
	tel_jw_rawstr(&r.w, run_id, n);
	tel_jw_raw(&r.w, ",\"cycle\":", 9);
	t->runid_part = r.buf;
	t->runid_part_len = itd_jw_len(&r.w);
	return ITD_OK;
}

/* },"tags":{...}}\n */
static int render_suffix(struct itd_tel *t, const struct itd_tel_config *cfg)
{
	struct render r;
	size_t cap = 32;
	for (size_t i = 0; i < cfg->n_tags; i++) {
		if (!cfg->tag_keys || !cfg->tag_values || !cfg->tag_keys[i])
			return ITD_EINVAL;
		cap += 6 * strlen(cfg->tag_keys[i]) + 8;
		cap += cfg->tag_values[i] ? 6 * strlen(cfg->tag_values[i]) + 4 : 8;
	}
	int rc = render_open(&r, cap);
	if (rc)
		return rc;
	tel_jw_raw(&r.w, "},\"tags\":", 9);
	itd_jw_obj_begin(&r.w);
	for (size_t i = 0; i < cfg->n_tags; i++)
		itd_jw_kstr(&r.w, cfg->tag_keys[i], cfg->tag_values[i]);
	itd_jw_obj_end(&r.w);
	tel_jw_raw(&r.w, "}\n", 2);
	assert(!itd_jw_overflowed(&r.w));
	t->suffix = r.buf;
	t->suffix_len = itd_jw_len(&r.w);
	return ITD_OK;
}

static void tel_free(struct itd_tel *t, bool sync_ok)
{
	tel_hold_fini(t);
	tel_buf_fini(t);
	tel_redactor_destroy(t->rd);
	itd_free(t->suffix);
	itd_free(t->runid_part);
	if (sync_ok) {
		pthread_cond_destroy(&t->drain_cond);
		pthread_cond_destroy(&t->free_cond);
		pthread_mutex_destroy(&t->mu);
	}
	itd_free(t);
}

int itd_tel_create(const struct itd_tel_config *cfg, struct itd_tel **out)
{
	int rc = ITD_EINVAL;
	int n_sync = 0;
	struct itd_tel *t = NULL;

	if (!out)
		return ITD_EINVAL;
	*out = NULL;
	if (!cfg || (cfg->policy != ITD_TEL_DROP_OLDEST && cfg->policy != ITD_TEL_BLOCK))
		return ITD_EINVAL;
	t = itd_calloc(1, sizeof *t);
	if (!t)
		return ITD_ENOMEM;
	t->policy = cfg->policy;
	t->flush_every_tick = cfg->flush_every_tick;
	t->hold_ticks = cfg->hold_ticks;
	t->max_event = cfg->max_event_bytes ? cfg->max_event_bytes : DEFAULT_MAX_EVENT;
	if (t->max_event > SIZE_MAX / 16)
		goto fail;
	if (cfg->n_redact) {
		if (!cfg->redact)
			goto fail;
		rc = tel_redactor_create(cfg->redact, cfg->n_redact, cfg->hmac_key,
					 cfg->hmac_key_len, &t->rd);
		if (rc)
			goto fail;
	}
	rc = render_runid(t, cfg->run_id ? cfg->run_id : "");
	if (rc)
		goto fail;
	rc = render_suffix(t, cfg);
	if (rc)
		goto fail;
	t->reserve = tel_redact_fields_max(t->rd) + t->suffix_len;
	rc = ITD_EINVAL;
	if (t->max_event < t->reserve + t->runid_part_len + MIN_EVENT_ROOM)
		goto fail; /* the envelope alone would not fit */
	rc = ITD_EINTERNAL;
	if (pthread_mutex_init(&t->mu, NULL) != 0)
		goto fail;
	n_sync++;
	if (pthread_cond_init(&t->free_cond, NULL) != 0)
		goto fail;
	n_sync++;
	if (pthread_cond_init(&t->drain_cond, NULL) != 0)
		goto fail;
	n_sync++;
	rc = tel_buf_init(t, cfg->buffer_bytes ? cfg->buffer_bytes : DEFAULT_BUFFER);
	if (!rc && t->hold_ticks)
		rc = tel_hold_init(t);
	if (rc)
		goto fail;
	*out = t;
	return ITD_OK;
fail:
	if (n_sync > 0 && n_sync < 3) {
		if (n_sync > 1)
			pthread_cond_destroy(&t->free_cond);
		pthread_mutex_destroy(&t->mu);
	}
	tel_free(t, n_sync == 3);
	return rc;
}

int itd_tel_add_sink(struct itd_tel *t, const char *name, const struct itd_sink_ops *ops,
		     void *ctx)
{
	/* A new sink starts at a chunk boundary: close the current chunk so
	 * the next one is queued to it too.  Called on the tick thread. */
	if (t && t->cur) {
		assert(!t->in_event);
		tel_buf_publish(t, t->cur, true);
		t->cur = NULL;
	}
	return tel_buf_add_sink(t, name, ops, ctx);
}

static void raw_u64(struct itd_jw *w, uint64_t v)
{
	char tmp[24];
	tel_jw_raw(w, tmp, (size_t)(tel_utoa(tmp, v) - tmp));
}

/* Write the envelope of event `seq` at the end of the current chunk, up to
 * and including the payload's opening brace; the writer's limit keeps
 * room for the trailer. */
static void write_head(struct itd_tel *t, const char *event, const char *source,
		       uint64_t cycle, int64_t ts_ms, uint64_t seq)
{
	struct itd_jw *w = &t->w;
	tel_jw_init(w, t->cur->data + t->cur->len, t->max_event - t->reserve);
	if (!t->ts_valid || ts_ms != t->ts_ms) {
		itd_clock_iso(ts_ms, t->ts_str);
		t->ts_ms = ts_ms;
		t->ts_valid = true;
	}
	tel_jw_raw(w, HEAD, sizeof HEAD - 1);
	tel_jw_raw(w, t->ts_str, ITD_ISO_LEN);
	tel_jw_raw(w, "\",\"source\":", 11);
	tel_jw_rawstr(w, source, strlen(source));
	tel_jw_raw(w, t->runid_part, t->runid_part_len);
	raw_u64(w, cycle);
	tel_jw_raw(w, ",\"seq\":", 7);
	raw_u64(w, seq);
	tel_jw_raw(w, ",\"event\":", 9);
	tel_jw_rawstr(w, event, strlen(event));
	tel_jw_raw(w, ",\"payload\":{", 12);
	w->comma = false;
}

struct itd_jw *itd_tel_begin(struct itd_tel *t, const char *event, const char *source,
			     uint64_t cycle, int64_t ts_ms)
{
	assert(!t->in_event);
	if (!t->cur)
		t->cur = tel_buf_acquire(t);
	t->in_event = true;
	t->ev_name = event;
	t->ev_source = source;
	t->ev_cycle = cycle;
	t->ev_ts = ts_ms;
	/* Only this thread writes seq; others read it (itd_tel_events). */
	uint64_t seq = t->seq + 1;
	__atomic_store_n(&t->seq, seq, __ATOMIC_RELAXED);
	write_head(t, event, source, cycle, ts_ms, seq);
	if (t->rd)
		tel_redact_begin(&t->w, t->rd);
	return &t->w;
}

/* Replace the event being ended by telemetry.truncated with the same seq;
 * false if even that does not fit (the event is then lost, and counted). */
static bool write_truncated(struct itd_tel *t)
{
	struct itd_jw *w = &t->w;
	write_head(t, "telemetry.truncated", "telemetry", t->ev_cycle, t->ev_ts, t->seq);
	itd_jw_kstr(w, "event", t->ev_name);
	itd_jw_ku64(w, "bytes_needed_over", t->max_event);
	w->end = w->buf + t->max_event;
	tel_redact_write_fields(w, NULL);
	tel_jw_raw(w, t->suffix, t->suffix_len);
	if (!w->overflow)
		return true;
	t->n_lost++;
	return false;
}

void itd_tel_end(struct itd_tel *t)
{
	struct itd_jw *w = &t->w;
	struct tel_chunk *c = t->cur;

	assert(t->in_event);
	t->in_event = false;
	if (!w->overflow) {
		w->end = w->buf + t->max_event; /* release the trailer's reserve */
		tel_redact_write_fields(w, t->rd);
		tel_jw_raw(w, t->suffix, t->suffix_len);
	}
	if (!w->overflow || write_truncated(t)) {
		c->len += itd_jw_len(w);
		c->n_events++;
	}
	if (t->chunk_bytes - c->len < t->max_event) {
		if (t->hold_ticks && t->held && t->n_held < t->n_chunks)
			t->held[t->n_held++] = c; /* closed at the tick end */
		else
			tel_buf_publish(t, c, true);
		t->cur = NULL;
	}
}

/* Emit telemetry.delayed if a sink's drop or error count moved since the
 * last report.  Counters are snapshotted under the lock, written without. */
void tel_report_delays(struct itd_tel *t, uint64_t cycle, int64_t ts_ms)
{
	bool changed = false;

	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->n_sinks; i++) {
		struct tel_sink *s = t->sinks[i];
		s->snap_dropped = s->dropped;
		s->snap_errors = s->write_errors;
		s->snap_lag_events = s->lag_events;
		s->snap_lag_bytes = s->lag_bytes;
		s->snap_last_error = s->last_error;
		changed |= s->dropped != s->rep_dropped || s->write_errors != s->rep_errors;
	}
	pthread_mutex_unlock(&t->mu);
	if (!changed)
		return;
	/* Sinks attach only from this thread, so n_sinks is stable here. */
	struct itd_jw *w = itd_tel_begin(t, "telemetry.delayed", "telemetry", cycle, ts_ms);
	itd_jw_key(w, "sinks");
	itd_jw_arr_begin(w);
	for (size_t i = 0; i < t->n_sinks; i++) {
		struct tel_sink *s = t->sinks[i];
		itd_jw_obj_begin(w);
		itd_jw_kstr(w, "sink", s->name);
		itd_jw_ku64(w, "dropped", s->snap_dropped);
		itd_jw_ku64(w, "dropped_since_last", s->snap_dropped - s->rep_dropped);
		itd_jw_ku64(w, "write_errors", s->snap_errors);
		itd_jw_kstr(w, "last_error",
			    s->snap_last_error ? itd_err_name(s->snap_last_error) : NULL);
		itd_jw_ku64(w, "lag_events", s->snap_lag_events);
		itd_jw_ku64(w, "lag_bytes", s->snap_lag_bytes);
		itd_jw_obj_end(w);
		s->rep_dropped = s->snap_dropped;
		s->rep_errors = s->snap_errors;
	}
	itd_jw_arr_end(w);
	itd_tel_end(t);
}

void itd_tel_tick_end(struct itd_tel *t, uint64_t cycle, int64_t ts_ms)
{
	assert(!t->in_event);
	tel_report_delays(t, cycle, ts_ms);
	tel_hold_release_all(t);
	/* pub_len is written only by this thread, so it is read without mu. */
	if (t->flush_every_tick && t->cur && t->cur->len > t->cur->pub_len)
		tel_buf_publish(t, t->cur, false);
}

void itd_tel_drain(struct itd_tel *t)
{
	itd_tel_release_all(t);
	tel_buf_wait_drained(t);
}

void itd_tel_destroy(struct itd_tel *t)
{
	if (!t)
		return;
	itd_tel_drain(t);
	tel_buf_stop_sinks(t);
	/* The current chunk, if any, is empty; all chunks die with the arena. */
	tel_free(t, true);
}

void itd_tel_skip_through(struct itd_tel *t, const char *sink, uint64_t seq)
{
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->n_sinks; i++)
		if (!strcmp(t->sinks[i]->name, sink) && t->sinks[i]->skip_through < seq)
			t->sinks[i]->skip_through = seq;
	pthread_mutex_unlock(&t->mu);
}

void itd_tel_set_policy(struct itd_tel *t, enum itd_tel_policy policy)
{
	pthread_mutex_lock(&t->mu);
	t->policy = policy;
	pthread_mutex_unlock(&t->mu);
}

void itd_tel_set_seq(struct itd_tel *t, uint64_t seq)
{
	__atomic_store_n(&t->seq, seq, __ATOMIC_RELAXED);
}

uint64_t itd_tel_events(const struct itd_tel *t)
{
	return __atomic_load_n(&t->seq, __ATOMIC_RELAXED);
}

size_t itd_tel_n_sinks(const struct itd_tel *t)
{
	return t->n_sinks;
}

void itd_tel_sink_stats(const struct itd_tel *t, size_t i, struct itd_tel_sink_stats *out)
{
	/* The mutex is not part of the value the const promises to keep. */
	struct itd_tel *mt = (struct itd_tel *)t;
	memset(out, 0, sizeof *out);
	if (i >= t->n_sinks)
		return;
	pthread_mutex_lock(&mt->mu);
	const struct tel_sink *s = t->sinks[i];
	out->name = s->name;
	out->events = s->events;
	out->dropped = s->dropped;
	out->write_errors = s->write_errors;
	out->bytes = s->bytes;
	pthread_mutex_unlock(&mt->mu);
}
