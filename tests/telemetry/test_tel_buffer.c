/* test_tel_buffer.c: backpressure.  A blocked sink never blocks the tick
 * under drop-oldest and the drop counts it reports are exact; the block
 * policy loses nothing; a failing sink is reported while the others get
 * everything; sink limits and ownership. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "telemetry/telemetry.h"
#include "test_support.h"

/* A memory sink whose writes wait while its gate is closed, and which can
 * be made to fail. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool open;          /* writes proceed */
	unsigned entered;   /* write() calls begun */
	int rc;             /* what write() returns */
	char *data;
	size_t len, cap;
	int closes;         /* close() calls */
};

static int gate_write(void *ctx, const char *d, size_t n)
{
	struct gate *g = ctx;
	pthread_mutex_lock(&g->mu);
	g->entered++;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->mu);
	if (g->rc == 0) {
		if (g->len + n + 1 > g->cap) {
			g->cap = (g->len + n + 1) * 2;
			g->data = realloc(g->data, g->cap);
			assert_non_null(g->data);
		}
		memcpy(g->data + g->len, d, n);
		g->len += n;
		g->data[g->len] = '\0';
	}
	int rc = g->rc;
	pthread_mutex_unlock(&g->mu);
	return rc;
}

static void gate_close(void *ctx)
{
	struct gate *g = ctx;
	pthread_mutex_lock(&g->mu);
	g->closes++;
	pthread_mutex_unlock(&g->mu);
}

static const struct itd_sink_ops gate_ops = { "gate", gate_write, NULL, gate_close };

static void gate_init(struct gate *g, bool open, int rc)
{
	memset(g, 0, sizeof *g);
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->open = open;
	g->rc = rc;
}

static void gate_fini(struct gate *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->mu);
	free(g->data);
}

static void gate_set_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->mu);
}

static struct timespec deadline_in(long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

static bool gate_entered(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	bool entered = g->entered > 0;
	pthread_mutex_unlock(&g->mu);
	return entered;
}

/* Wait (30 s at most) until the sink's write() has been entered. */
static void wait_entered(struct gate *g)
{
	struct timespec dl = deadline_in(30000);
	pthread_mutex_lock(&g->mu);
	while (!g->entered)
		assert_int_equal(pthread_cond_timedwait(&g->cond, &g->mu, &dl), 0);
	pthread_mutex_unlock(&g->mu);
}

static void emit(struct itd_tel *t, uint64_t tick, uint64_t i)
{
	struct itd_jw *w = itd_tel_begin(t, "engine.tick", "engine", tick, 0);
	itd_jw_ku64(w, "i", i);
	itd_jw_knum(w, "power", 87.25 + (double)i * 1e-3);
	itd_jw_kstr(w, "mode", "NOMINAL");
	itd_tel_end(t);
}

/* What a sink received: seqs strictly increasing, and the last
 * telemetry.delayed report for `sink` (or -1 if none). */
struct received {
	uint64_t n_lines, last_seq;
	double last_dropped, last_errors;
	char last_error[16];
};

static void parse(const char *data, const char *sink, struct received *r)
{
	memset(r, 0, sizeof *r);
	r->last_dropped = r->last_errors = -1;
	for (const char *line = data, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
		cJSON *j = cJSON_ParseWithLength(line, (size_t)(nl - line));
		assert_non_null(j);
		uint64_t seq = (uint64_t)cJSON_GetObjectItem(j, "seq")->valuedouble;
		assert_true(seq > r->last_seq);
		r->last_seq = seq;
		r->n_lines++;
		const char *ev = cJSON_GetObjectItem(j, "event")->valuestring;
		if (strcmp(ev, "telemetry.delayed") == 0) {
			assert_string_equal(cJSON_GetObjectItem(j, "source")->valuestring, "telemetry");
			cJSON *s;
			cJSON_ArrayForEach(s, cJSON_GetObjectItem(cJSON_GetObjectItem(j, "payload"), "sinks")) {
				if (strcmp(cJSON_GetObjectItem(s, "sink")->valuestring, sink) != 0)
					continue;
				r->last_dropped = cJSON_GetObjectItem(s, "dropped")->valuedouble;
				r->last_errors = cJSON_GetObjectItem(s, "write_errors")->valuedouble;
				cJSON *le = cJSON_GetObjectItem(s, "last_error");
				snprintf(r->last_error, sizeof r->last_error, "%s",
					 cJSON_IsString(le) ? le->valuestring : "");
			}
		}
		cJSON_Delete(j);
	}
}

static struct itd_tel_config tiny(enum itd_tel_policy policy)
{
	struct itd_tel_config cfg = {
		.run_id = "bp",
		.policy = policy,
		.buffer_bytes = 64 * 1024,
		.max_event_bytes = 2048,
	};
	return cfg;
}

static void test_drop_oldest_never_blocks_and_counts_exactly(void **state)
{
	(void)state;
	struct itd_tel_config cfg = tiny(ITD_TEL_DROP_OLDEST);
	struct itd_tel *t;
	struct gate g;
	gate_init(&g, false, 0);
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	assert_int_equal(itd_tel_add_sink(t, "gate", &gate_ops, &g), 0);

	/* Fill chunks until the sink is stuck inside write(). */
	uint64_t i = 0, tick = 1;
	while (!gate_entered(&g) && i < 1000000) {
		emit(t, tick, i++);
		if (i % 10 == 0)
			itd_tel_tick_end(t, tick++, 0);
	}
	wait_entered(&g);
	/* 100k more events while it stays stuck: the tick must not wait. */
	uint64_t t0 = itd_clock_mono_ns();
	for (uint64_t k = 0; k < 100000; k++) {
		emit(t, tick, i++);
		if (i % 10 == 0)
			itd_tel_tick_end(t, tick++, 0);
	}
	uint64_t elapsed = itd_clock_mono_ns() - t0;
	assert_true(elapsed < UINT64_C(20000000000));

	gate_set_open(&g);
	itd_tel_drain(t);
	itd_tel_tick_end(t, tick, 0); /* the final report */
	itd_tel_drain(t);

	struct received r;
	parse(g.data, "gate", &r);
	uint64_t missing = r.last_seq - r.n_lines;
	assert_int_equal(r.last_seq, itd_tel_events(t)); /* the report is the last line */
	assert_true(missing > 90000);
	assert_true(r.last_dropped >= 0);
	assert_int_equal((uint64_t)r.last_dropped, missing);
	struct itd_tel_sink_stats st;
	itd_tel_sink_stats(t, 0, &st);
	assert_int_equal(st.dropped, missing);
	assert_int_equal(st.events, r.n_lines);
	itd_tel_destroy(t);
	assert_int_equal(g.closes, 1);
	gate_fini(&g);
}

struct producer {
	struct itd_tel *t;
	uint64_t n;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool done;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	for (uint64_t i = 0; i < p->n; i++) {
		emit(p->t, i / 10 + 1, i);
		if (i % 10 == 9)
			itd_tel_tick_end(p->t, i / 10 + 1, 0);
	}
	pthread_mutex_lock(&p->mu);
	p->done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void test_block_policy_waits_and_loses_nothing(void **state)
{
	(void)state;
	struct itd_tel_config cfg = tiny(ITD_TEL_BLOCK);
	struct producer p = { .n = 20000 };
	struct gate g;
	gate_init(&g, false, 0);
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cond, NULL);
	assert_int_equal(itd_tel_create(&cfg, &p.t), 0);
	assert_int_equal(itd_tel_add_sink(p.t, "gate", &gate_ops, &g), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
	wait_entered(&g);
	/* 20000 events are ~100 times the buffer: the producer cannot finish
	 * while the sink is stuck.  (Under drop-oldest it would.) */
	struct timespec dl = deadline_in(300);
	pthread_mutex_lock(&p.mu);
	int rc = 0;
	while (!p.done && rc == 0)
		rc = pthread_cond_timedwait(&p.cond, &p.mu, &dl);
	assert_int_equal(rc, ETIMEDOUT);
	assert_false(p.done);
	pthread_mutex_unlock(&p.mu);
	gate_set_open(&g);
	pthread_join(th, NULL);
	itd_tel_drain(p.t);

	struct received r;
	parse(g.data, "gate", &r);
	assert_int_equal(r.n_lines, 20000);
	assert_int_equal(r.last_seq, 20000);
	assert_true(r.last_dropped < 0); /* no telemetry.delayed at all */
	struct itd_tel_sink_stats st;
	itd_tel_sink_stats(p.t, 0, &st);
	assert_int_equal(st.dropped, 0);
	itd_tel_destroy(p.t);
	pthread_cond_destroy(&p.cond);
	pthread_mutex_destroy(&p.mu);
	gate_fini(&g);
}

static void test_failing_sink_is_reported_others_get_everything(void **state)
{
	(void)state;
	/* A buffer far larger than the run: the good sink never falls behind. */
	struct itd_tel_config cfg = { .run_id = "bp" };
	struct itd_tel *t;
	struct gate bad, good;
	gate_init(&bad, true, ITD_EIO);
	gate_init(&good, true, 0);
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	assert_int_equal(itd_tel_add_sink(t, "bad", &gate_ops, &bad), 0);
	assert_int_equal(itd_tel_add_sink(t, "good", &gate_ops, &good), 0);
	for (uint64_t i = 0; i < 2000; i++) {
		emit(t, i / 10 + 1, i);
		if (i % 10 == 9) {
			itd_tel_tick_end(t, i / 10 + 1, 0);
			if (i % 500 == 499)
				itd_tel_drain(t); /* let failures reach the next report */
		}
	}
	itd_tel_drain(t);
	itd_tel_tick_end(t, 1000, 0);
	itd_tel_drain(t);

	struct received r;
	parse(good.data, "bad", &r);
	assert_int_equal(r.n_lines, r.last_seq); /* no gap */
	assert_int_equal(r.last_seq, itd_tel_events(t));
	assert_true(r.last_seq > 2000);           /* reports were emitted */
	assert_true(r.last_errors > 0);
	assert_string_equal(r.last_error, "IO");
	struct itd_tel_sink_stats sb, sg;
	itd_tel_sink_stats(t, 0, &sb);
	itd_tel_sink_stats(t, 1, &sg);
	assert_string_equal(sb.name, "bad");
	/* The chunk carrying the last report failed too, after it was taken. */
	assert_int_equal((uint64_t)r.last_errors + 1, sb.write_errors);
	assert_int_equal(sb.bytes, 0);
	assert_int_equal(sb.events + sb.dropped, itd_tel_events(t));
	assert_int_equal(sg.write_errors, 0);
	assert_int_equal(sg.dropped, 0);
	assert_int_equal(sg.bytes, good.len);
	itd_tel_destroy(t);
	gate_fini(&bad);
	gate_fini(&good);
}

static void test_sink_limit_and_ownership(void **state)
{
	(void)state;
	struct itd_tel_config cfg = tiny(ITD_TEL_BLOCK);
	struct itd_tel *t;
	struct gate g[16];
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	size_t added = 0;
	int rc = 0;
	for (size_t i = 0; i < 16 && rc == 0; i++) {
		gate_init(&g[i], true, 0);
		rc = itd_tel_add_sink(t, "g", &gate_ops, &g[i]);
		if (rc == 0)
			added++;
	}
	assert_int_equal(rc, ITD_EFULL);
	assert_int_equal(g[added].closes, 1); /* a refused sink is closed, not leaked */
	assert_int_equal(itd_tel_n_sinks(t), added);
	assert_true(added >= 4);
	assert_int_equal(itd_tel_add_sink(t, "x", NULL, NULL), ITD_EINVAL);
	for (uint64_t i = 0; i < 5000; i++)
		emit(t, 1, i);
	itd_tel_destroy(t);
	for (size_t i = 0; i <= added; i++) {
		assert_int_equal(g[i].closes, 1);
		if (i < added) {
			struct received r;
			parse(g[i].data, "g", &r);
			assert_int_equal(r.n_lines, 5000);
		}
		gate_fini(&g[i]);
	}
}

static void test_no_sinks(void **state)
{
	(void)state;
	struct itd_tel_config cfg = tiny(ITD_TEL_BLOCK);
	struct itd_tel *t;
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	for (uint64_t i = 0; i < 10000; i++)
		emit(t, 1, i);
	itd_tel_drain(t);
	assert_int_equal(itd_tel_events(t), 10000);
	assert_int_equal(itd_tel_n_sinks(t), 0);
	itd_tel_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_oldest_never_blocks_and_counts_exactly),
		cmocka_unit_test(test_block_policy_waits_and_loses_nothing),
		cmocka_unit_test(test_failing_sink_is_reported_others_get_everything),
		cmocka_unit_test(test_sink_limit_and_ownership),
		cmocka_unit_test(test_no_sinks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
