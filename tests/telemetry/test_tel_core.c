/* test_tel_core.c: the envelope line byte for byte, seq numbering, the
 * timestamp, oversized events replaced by telemetry.truncated, prompt
 * delivery with flush_every_tick, configuration checks and allocation
 * failures at create. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "telemetry/telemetry.h"
#include "telemetry/telemetry_events.h"
#include "test_support.h"

/* A sink collecting everything in memory; the test owns and frees it. */
struct mem {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	char *data;
	size_t len, cap;
	unsigned writes, flushes;
};

static int mem_write(void *ctx, const char *d, size_t n)
{
	struct mem *m = ctx;
	pthread_mutex_lock(&m->mu);
	if (m->len + n + 1 > m->cap) {
		m->cap = (m->len + n + 1) * 2;
		m->data = realloc(m->data, m->cap);
		assert_non_null(m->data);
	}
	memcpy(m->data + m->len, d, n);
	m->len += n;
	m->data[m->len] = '\0';
	m->writes++;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
	return 0;
}

static int mem_flush(void *ctx)
{
	struct mem *m = ctx;
	pthread_mutex_lock(&m->mu);
	m->flushes++;
	pthread_mutex_unlock(&m->mu);
	return 0;
}

static const struct itd_sink_ops mem_ops = { "mem", mem_write, mem_flush, NULL };

static struct mem *mem_new(void)
{
	struct mem *m = calloc(1, sizeof *m);
	assert_non_null(m);
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cond, NULL);
	return m;
}

static void mem_free(struct mem *m)
{
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->mu);
	free(m->data);
	free(m);
}

static const char *const tag_keys[] = { "scenario", "env" };
static const char *const tag_values[] = { "spacecraft", "sim" };

static struct itd_tel_config base_config(void)
{
	struct itd_tel_config cfg = {
		.run_id = "spacecraft-s1",
		.tag_keys = tag_keys,
		.tag_values = tag_values,
		.n_tags = 2,
	};
	return cfg;
}

static void test_envelope_line_is_exact(void **state)
{
	(void)state;
	struct itd_tel_config cfg = base_config();
	struct itd_tel *t;
	struct mem *m = mem_new();
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	assert_int_equal(itd_tel_add_sink(t, "mem", &mem_ops, m), 0);
	struct itd_jw *w = itd_tel_begin(t, "intent.blocked", "policy", 1,
					 ITD_CLOCK_SIM_EPOCH_MS + 1000);
	itd_jw_kstr(w, "intent_id", "i-000001");
	itd_jw_kstr(w, "type", "orbit_correction");
	itd_jw_kstr(w, "rule", "safe_mode_mission_blocked");
	itd_jw_kstr(w, "explain", "mode=SAFE");
	itd_tel_end(t);
	itd_tel_drain(t);
	assert_string_equal(m->data,
		"{\"schema_version\":\"1.0\",\"timestamp\":\"2025-01-01T00:00:01.000Z\","
		"\"source\":\"policy\",\"run_id\":\"spacecraft-s1\",\"cycle\":1,\"seq\":1,"
		"\"event\":\"intent.blocked\",\"payload\":{\"intent_id\":\"i-000001\","
		"\"type\":\"orbit_correction\",\"rule\":\"safe_mode_mission_blocked\","
		"\"explain\":\"mode=SAFE\",\"redacted_fields\":[]},"
		"\"tags\":{\"scenario\":\"spacecraft\",\"env\":\"sim\"}}\n");
	assert_true(m->flushes >= 1);
	itd_tel_destroy(t);
	mem_free(m);
}

static void test_empty_payload_no_tags_escaped_run_id(void **state)
{
	(void)state;
	struct itd_tel_config cfg = { .run_id = "run \"1\"\n" };
	struct itd_tel *t;
	struct mem *m = mem_new();
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	assert_int_equal(itd_tel_add_sink(t, "mem", &mem_ops, m), 0);
	itd_tel_begin(t, "engine.slip", "engine", 7, 0);
	itd_tel_end(t);
	itd_tel_destroy(t);
	assert_string_equal(m->data,
		"{\"schema_version\":\"1.0\",\"timestamp\":\"1970-01-01T00:00:00.000Z\","
		"\"source\":\"engine\",\"run_id\":\"run \\\"1\\\"\\n\",\"cycle\":7,\"seq\":1,"
		"\"event\":\"engine.slip\",\"payload\":{\"redacted_fields\":[]},\"tags\":{}}\n");
	mem_free(m);
}

/* The value of "key": in line as an unsigned number. */
static uint64_t field_u64(const char *line, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(line, pat);
	assert_non_null(p);
	return strtoull(p + strlen(pat), NULL, 10);
}

static void test_seq_and_timestamps(void **state)
{
	(void)state;
	struct itd_tel_config cfg = base_config();
	struct itd_tel *t;
	struct mem *m = mem_new();
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	assert_int_equal(itd_tel_add_sink(t, "mem", &mem_ops, m), 0);
	for (uint64_t tick = 1; tick <= 50; tick++) {
		for (int k = 0; k < 3; k++) {
			struct itd_jw *w = itd_tel_begin(t, "engine.tick", "engine", tick,
							 ITD_CLOCK_SIM_EPOCH_MS + (int64_t)tick * 250);
			itd_jw_ku64(w, "k", (uint64_t)k);
			itd_tel_end(t);
		}
		itd_tel_tick_end(t, tick, ITD_CLOCK_SIM_EPOCH_MS + (int64_t)tick * 250);
	}
	assert_int_equal(itd_tel_events(t), 150);
	itd_tel_drain(t);
	uint64_t seq = 0;
	char stamp[ITD_ISO_LEN + 1];
	for (char *line = m->data, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		assert_int_equal(field_u64(line, "seq"), ++seq);
		uint64_t cycle = field_u64(line, "cycle");
		assert_int_equal(cycle, (seq + 2) / 3);
		itd_clock_iso(ITD_CLOCK_SIM_EPOCH_MS + (int64_t)cycle * 250, stamp);
		assert_non_null(strstr(line, stamp));
		assert_null(strstr(line, "telemetry.delayed")); /* nothing to report */
	}
	assert_int_equal(seq, 150);
	struct itd_tel_sink_stats st;
	itd_tel_sink_stats(t, 0, &st);
	assert_string_equal(st.name, "mem");
	assert_int_equal(st.events, 150);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.write_errors, 0);
	assert_int_equal(st.bytes, m->len);
	assert_int_equal(itd_tel_n_sinks(t), 1);
	itd_tel_destroy(t);
	mem_free(m);
}

static void test_oversized_event_becomes_truncated(void **state)
{
	(void)state;
	struct itd_tel_config cfg = base_config();
	cfg.max_event_bytes = 2048;
	struct itd_tel *t;
	struct mem *m = mem_new();
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	assert_int_equal(itd_tel_add_sink(t, "mem", &mem_ops, m), 0);
	char big[3000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';

	struct itd_jw *w = itd_tel_begin(t, "state.updated", "engine", 3, 0);
	itd_jw_kstr(w, "small", "fits");
	itd_tel_end(t);
	w = itd_tel_begin(t, "state.updated", "engine", 3, 0);
	itd_jw_key(w, "big");
	itd_jw_obj_begin(w);
	itd_jw_kstr(w, "text", big);
	itd_jw_obj_end(w);
	itd_tel_end(t);
	w = itd_tel_begin(t, "state.updated", "engine", 3, 0);
	itd_jw_kstr(w, "after", "fits");
	itd_tel_end(t);
	itd_tel_drain(t);

	const char *l2 = strchr(m->data, '\n') + 1;
	const char *l3 = strchr(l2, '\n') + 1;
	assert_int_equal(strncmp(l2,
		"{\"schema_version\":\"1.0\",\"timestamp\":\"1970-01-01T00:00:00.000Z\","
		"\"source\":\"telemetry\",\"run_id\":\"spacecraft-s1\",\"cycle\":3,\"seq\":2,"
		"\"event\":\"telemetry.truncated\",\"payload\":{\"event\":\"state.updated\","
		"\"bytes_needed_over\":2048,\"redacted_fields\":[]},"
		"\"tags\":{\"scenario\":\"spacecraft\",\"env\":\"sim\"}}\n", (size_t)(l3 - l2)), 0);
	assert_int_equal(field_u64(l3, "seq"), 3);
	assert_non_null(strstr(l3, "\"after\":\"fits\""));
	assert_int_equal(itd_tel_events(t), 3);
	itd_tel_destroy(t);
	mem_free(m);
}

static void test_flush_every_tick_delivers_without_drain(void **state)
{
	(void)state;
	struct itd_tel_config cfg = base_config();
	cfg.flush_every_tick = true;
	struct itd_tel *t;
	struct mem *m = mem_new();
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	assert_int_equal(itd_tel_add_sink(t, "mem", &mem_ops, m), 0);
	for (uint64_t tick = 1; tick <= 3; tick++) {
		itd_tel_begin(t, "engine.tick", "engine", tick, 0);
		itd_tel_end(t);
		itd_tel_tick_end(t, tick, 0);
		/* The sink thread gets this tick's line on its own. */
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 30;
		pthread_mutex_lock(&m->mu);
		while (m->writes < tick)
			assert_int_equal(pthread_cond_timedwait(&m->cond, &m->mu, &dl), 0);
		pthread_mutex_unlock(&m->mu);
	}
	itd_tel_destroy(t);
	assert_int_equal(m->writes, 3);
	mem_free(m);
}

static void test_without_flush_every_tick_events_wait_for_drain(void **state)
{
	(void)state;
	struct itd_tel_config cfg = base_config();
	struct itd_tel *t;
	struct mem *m = mem_new();
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	assert_int_equal(itd_tel_add_sink(t, "mem", &mem_ops, m), 0);
	itd_tel_begin(t, "engine.tick", "engine", 1, 0);
	itd_tel_end(t);
	itd_tel_tick_end(t, 1, 0);
	pthread_mutex_lock(&m->mu);
	assert_int_equal(m->writes, 0); /* nothing was published */
	pthread_mutex_unlock(&m->mu);
	itd_tel_drain(t);
	assert_int_equal(m->writes, 1);
	itd_tel_destroy(t);
	mem_free(m);
}

/* Lines the sink holds, and how many of them have a cycle above `above`;
 * waits (30 s at most) until it holds at least `want`. */
static size_t mem_lines(struct mem *m, size_t want, uint64_t above, size_t *n_above)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 30;
	pthread_mutex_lock(&m->mu);
	size_t n;
	for (;;) {
		n = 0;
		*n_above = 0;
		for (const char *p = m->data; p && (p = strchr(p, '\n')); p++)
			n++;
		if (n >= want)
			break;
		assert_int_equal(pthread_cond_timedwait(&m->cond, &m->mu, &dl), 0);
	}
	for (const char *p = m->data; p && *p; p = strchr(p, '\n') + 1)
		if (field_u64(p, "cycle") > above)
			(*n_above)++;
	pthread_mutex_unlock(&m->mu);
	return n;
}

/* hold_ticks: a marked tick's events reach the sinks only once released,
 * whole ticks at a time, also when a tick's events fill several chunks;
 * holding half the buffer says so. */
static void test_held_ticks_wait_for_release(void **state)
{
	(void)state;
	struct itd_tel_config cfg = base_config();
	cfg.flush_every_tick = true;
	cfg.hold_ticks = true;
	cfg.max_event_bytes = 4096;           /* chunks of 16 KiB */
	cfg.buffer_bytes = 8 * 16384;         /* eight of them */
	struct itd_tel *t;
	struct mem *m = mem_new();
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	assert_int_equal(itd_tel_add_sink(t, "mem", &mem_ops, m), 0);
	char pad[601];
	memset(pad, 'x', 600);
	pad[600] = '\0';
	enum { PER_TICK = 40 };               /* about 30 KiB a tick */
	size_t n_above;
	for (uint64_t tick = 1; tick <= 30; tick++) {
		for (int i = 0; i < PER_TICK; i++) {
			struct itd_jw *w = itd_tel_begin(t, "engine.tick", "engine", tick, 0);
			itd_jw_kstr(w, "pad", pad);
			itd_tel_end(t);
		}
		itd_tel_tick_mark(t, tick, 0);
		if (tick == 3) {
			/* Three ticks held: over half the chunks. */
			assert_true(itd_tel_hold_pressed(t));
			pthread_mutex_lock(&m->mu);
			assert_int_equal(m->len, 0);
			pthread_mutex_unlock(&m->mu);
		}
		if (tick < 3)
			continue;
		/* A tick behind: the sink gets exactly the ticks released. */
		itd_tel_release(t, tick - 1);
		assert_false(itd_tel_hold_pressed(t));
		size_t n = mem_lines(m, (tick - 1) * PER_TICK, tick - 1, &n_above);
		assert_int_equal(n, (tick - 1) * PER_TICK);
		assert_int_equal(n_above, 0);
	}
	/* Releasing a cycle again, or one not yet marked, publishes nothing new. */
	itd_tel_release(t, 28);
	itd_tel_release(t, 0);
	assert_int_equal(mem_lines(m, 29 * PER_TICK, 29, &n_above), 29 * PER_TICK);
	assert_int_equal(n_above, 0);
	itd_tel_release(t, 30);
	assert_int_equal(mem_lines(m, 30 * PER_TICK, 30, &n_above), 30 * PER_TICK);
	itd_tel_destroy(t);
	mem_free(m);
}

/* The observer is filled whole: a field left as the caller's bytes
 * (after_tick, say) would be called by the engine. */
static void test_observer_is_whole(void **state)
{
	(void)state;
	struct itd_tel_config cfg = base_config();
	struct itd_tel *t;
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	struct itd_observer obs;
	memset(&obs, 0xa5, sizeof obs);
	itd_tel_observer(t, &obs);
	assert_non_null(obs.event);
	assert_non_null(obs.tick_end);
	assert_null(obs.after_tick);
	assert_ptr_equal(obs.ctx, t);
	itd_tel_destroy(t);
}

static void test_config_is_checked(void **state)
{
	(void)state;
	struct itd_tel *t = (struct itd_tel *)1;
	struct itd_tel_config cfg = base_config();
	cfg.max_event_bytes = 100; /* cannot hold the envelope */
	assert_int_equal(itd_tel_create(&cfg, &t), ITD_EINVAL);
	assert_null(t);
	cfg = base_config();
	cfg.policy = (enum itd_tel_policy)7;
	assert_int_equal(itd_tel_create(&cfg, &t), ITD_EINVAL);
	assert_int_equal(itd_tel_create(NULL, &t), ITD_EINVAL);
	itd_tel_destroy(NULL);
}

static void test_create_survives_every_allocation_failure(void **state)
{
	(void)state;
	static const struct itd_tel_redact rules[] = { { "payload.a.b", true }, { "payload.c", false } };
	static const uint8_t key[] = "k";
	struct itd_tel_config cfg = base_config();
	cfg.redact = rules;
	cfg.n_redact = 2;
	cfg.hmac_key = key;
	cfg.hmac_key_len = 1;
	cfg.buffer_bytes = 1 << 20;
	long n;
	for (n = 1;; n++) {
		struct itd_tel *t = NULL;
		struct mem *m = mem_new();
		itd_alloc_fail_at(n);
		int rc = itd_tel_create(&cfg, &t);
		if (rc == 0)
			rc = itd_tel_add_sink(t, "mem", &mem_ops, m);
		bool failed = itd_alloc_failed();
		itd_alloc_fail_at(0);
		/* Every failed allocation surfaces as ENOMEM; nothing leaks (ASan). */
		assert_int_equal(rc, failed ? ITD_ENOMEM : 0);
		if (t) {
			struct itd_jw *w = itd_tel_begin(t, "x.y", "engine", 1, 0);
			itd_jw_kstr(w, "c", "secret");
			itd_tel_end(t);
		}
		itd_tel_destroy(t);
		mem_free(m);
		if (!failed)
			break;
	}
	assert_true(n > 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envelope_line_is_exact),
		cmocka_unit_test(test_empty_payload_no_tags_escaped_run_id),
		cmocka_unit_test(test_seq_and_timestamps),
		cmocka_unit_test(test_oversized_event_becomes_truncated),
		cmocka_unit_test(test_flush_every_tick_delivers_without_drain),
		cmocka_unit_test(test_without_flush_every_tick_events_wait_for_drain),
		cmocka_unit_test(test_held_ticks_wait_for_release),
		cmocka_unit_test(test_observer_is_whole),
		cmocka_unit_test(test_config_is_checked),
		cmocka_unit_test(test_create_survives_every_allocation_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
