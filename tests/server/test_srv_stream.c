/* test_srv_stream.c: the live stream without HTTP: envelope parsing, the
 * ring (eviction by count and by bytes, recent events as JSON), and a
 * client's reader (SSE framing, resume, gap markers, filters, partial
 * sends, cut-off of a slow client, shutdown).  The stream's private
 * header gives access to its internals (srv_stream_fill,
 * srv_stream_has_work) so they can be driven directly; MHD is never called
 * because no client here suspends. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server/srv_stream_int.h"
#include "test_support.h"

/* ------------------------------------------------------------- helpers */

/* One envelope line (with its newline) into buf; iid NULL for none. */
static size_t line(char *buf, size_t cap, uint64_t seq, const char *event, const char *iid,
		   size_t pad)
{
	char payload[512];
	if (iid)
		snprintf(payload, sizeof payload,
			 "{\"selected_intent_id\":\"i-999\",\"intent_id\":\"%s\",\"x\":1", iid);
	else
		snprintf(payload, sizeof payload, "{\"selected_intent_id\":\"i-999\",\"x\":1");
	int n = snprintf(buf, cap,
			 "{\"schema_version\":\"1.0\",\"timestamp\":\"2025-01-01T00:00:01.000Z\","
			 "\"source\":\"engine\",\"run_id\":\"r\",\"cycle\":%" PRIu64 ",\"seq\":%" PRIu64
			 ",\"event\":\"%s\",\"payload\":%s,\"pad\":\"%*s\",\"redacted_fields\":[]},"
			 "\"tags\":{}}\n",
			 seq, seq, event, payload, (int)pad, "");
	assert_true(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

/* Feed events from..to (inclusive) through the sink, several per write. */
static void feed(struct srv_stream *st, uint64_t from, uint64_t to, const char *event,
		 const char *iid, size_t pad)
{
	size_t cap = (pad + 1024) * 4;
	char *batch = malloc(cap);
	assert_non_null(batch);
	size_t n = 0;
	for (uint64_t s = from; s <= to; s++) {
		n += line(batch + n, cap - n, s, event, iid, pad);
		if (s % 3 == 0 || s == to) {
			assert_int_equal(srv_stream_sink()->write(st, batch, n), 0);
			n = 0;
		}
	}
	free(batch);
}

static struct srv_stream *make(size_t ring, size_t client_buffer)
{
	struct srv_stream *st;
	assert_int_equal(srv_stream_create(NULL, ring, client_buffer, &st), 0);
	return st;
}

static struct client *client(struct srv_stream *st, bool resume, uint64_t after,
			     const char *prefixes, const char *iid)
{
	struct client *c = itd_calloc(1, sizeof *c);
	assert_non_null(c);
	c->st = st;
	c->fd = -1;
	if (prefixes) {
		struct parse_ctx pc = {.c = c};
		srv_stream_add_prefixes(&pc, MHD_GET_ARGUMENT_KIND, "event", prefixes);
		assert_false(pc.bad);
	}
	if (iid) {
		c->intent_id_len = strlen(iid);
		memcpy(c->intent_id, iid, c->intent_id_len);
	}
	pthread_mutex_lock(&st->mu);
	srv_stream_client_start(st, c, resume, after, itd_clock_mono_ns());
	pthread_mutex_unlock(&st->mu);
	return c;
}

/* Everything the reader gives now, max bytes per call, as a string;
 * *end says whether the stream ended (END_OF_STREAM). */
static char *drain(struct srv_stream *st, struct client *c, size_t max, bool *end)
{
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap), *buf = malloc(max);
	assert_non_null(out);
	assert_non_null(buf);
	*end = false;
	for (;;) {
		pthread_mutex_lock(&st->mu);
		ssize_t n = srv_stream_fill(st, c, buf, max, itd_clock_mono_ns());
		pthread_mutex_unlock(&st->mu);
		assert_true(n != MHD_CONTENT_READER_END_WITH_ERROR);
		if (n == MHD_CONTENT_READER_END_OF_STREAM) {
			*end = true;
			break;
		}
		if (n == 0)
			break;
		assert_true((size_t)n <= max);
		if (len + (size_t)n + 1 > cap) {
			cap = (len + (size_t)n + 1) * 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		memcpy(out + len, buf, (size_t)n);
		len += (size_t)n;
	}
	out[len] = '\0';
	free(buf);
	return out;
}

/* The ids of the messages in an SSE text, in order, into ids (count). */
static size_t ids(const char *sse, uint64_t *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = sse; (p = strstr(p, "id: ")); p += 4) {
		if (p != sse && p[-1] != '\n')
			continue;
		assert_true(n < cap);
		out[n++] = strtoull(p + 4, NULL, 10);
	}
	return n;
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* ------------------------------------------------------------- parsing */

static void test_parse_line(void **state)
{
	(void)state;
	char buf[2048];
	size_t n = line(buf, sizeof buf, 12345, "intent.blocked", "i-000007", 0) - 1;
	uint64_t seq;
	const char *d, *name, *iid;
	size_t nd, nl, ni;
	assert_true(srv_stream_parse_line(buf, n, &seq, &d, &nd, &name, &nl, &iid, &ni));
	assert_int_equal(seq, 12345);
	assert_int_equal(nd, 5);
	assert_memory_equal(name, "intent.blocked", nl);
	assert_int_equal(nl, strlen("intent.blocked"));
	/* payload.intent_id, not selected_intent_id which comes first. */
	assert_int_equal(ni, 8);
	assert_memory_equal(iid, "i-000007", 8);

	n = line(buf, sizeof buf, 3, "engine.tick", NULL, 0) - 1;
	assert_true(srv_stream_parse_line(buf, n, &seq, &d, &nd, &name, &nl, &iid, &ni));
	assert_int_equal(seq, 3);
	assert_null(iid);
	assert_int_equal(ni, 0);

	static const char *bad[] = {
		"{\"cycle\":1,\"event\":\"x.y\"}",                 /* no seq */
		"{\"cycle\":1,\"seq\":,\"event\":\"x.y\"}",        /* empty seq */
		"{\"cycle\":1,\"seq\":12x,\"event\":\"x.y\"}",     /* junk after digits */
		"{\"cycle\":1,\"seq\":12,\"payload\":{}}",         /* no event */
		"{\"cycle\":1,\"seq\":12,\"event\":\"\"}",         /* empty name */
		"{\"cycle\":1,\"seq\":12,\"event\":\"unterminated", /* no closing quote */
		"{\"cycle\":1,\"seq\":123456789012345678901,\"event\":\"x\"}", /* > 20 digits */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(srv_stream_parse_line(bad[i], strlen(bad[i]), &seq, &d, &nd, &name, &nl,
						   &iid, &ni));
}

static void test_parse_seq_and_prefixes(void **state)
{
	(void)state;
	uint64_t v;
	assert_true(srv_stream_parse_seq("0", &v));
	assert_int_equal(v, 0);
	assert_true(srv_stream_parse_seq("18446744073709551600", &v));
	assert_int_equal(v, UINT64_C(18446744073709551600));
	assert_false(srv_stream_parse_seq("", &v));
	assert_false(srv_stream_parse_seq("-1", &v));
	assert_false(srv_stream_parse_seq("12a", &v));
	assert_false(srv_stream_parse_seq("99999999999999999999", &v));

	struct client c = {0};
	struct parse_ctx pc = {.c = &c};
	srv_stream_add_prefixes(&pc, MHD_GET_ARGUMENT_KIND, "event", "intent.,,engine.tick");
	srv_stream_add_prefixes(&pc, MHD_GET_ARGUMENT_KIND, "other", "ignored");
	srv_stream_add_prefixes(&pc, MHD_GET_ARGUMENT_KIND, "event", "state.");
	assert_false(pc.bad);
	assert_int_equal(c.n_prefix, 3);
	assert_memory_equal(c.prefix[0], "intent.", c.prefix_len[0]);
	assert_memory_equal(c.prefix[1], "engine.tick", c.prefix_len[1]);
	assert_memory_equal(c.prefix[2], "state.", c.prefix_len[2]);
	for (int i = 0; i < MAX_PREFIXES; i++)
		srv_stream_add_prefixes(&pc, MHD_GET_ARGUMENT_KIND, "event", "a");
	assert_true(pc.bad);
}

/* ---------------------------------------------------------------- ring */

/* recent() as parsed JSON; checks it holds seqs first..last in order. */
static void check_recent(struct srv_stream *st, uint64_t after, size_t limit, uint64_t first,
			 uint64_t last)
{
	char *out;
	size_t len;
	uint64_t f, l;
	assert_int_equal(srv_stream_recent(st, after, limit, &out, &len, &f, &l), 0);
	assert_int_equal(strlen(out), len);
	cJSON *a = cJSON_Parse(out);
	assert_non_null(a);
	assert_true(cJSON_IsArray(a));
	int n = cJSON_GetArraySize(a);
	assert_int_equal(n, last >= first ? last - first + 1 : 0);
	for (int i = 0; i < n; i++) {
		cJSON *seq = cJSON_GetObjectItem(cJSON_GetArrayItem(a, i), "seq");
		assert_non_null(seq);
		assert_int_equal((uint64_t)seq->valuedouble, first + (uint64_t)i);
	}
	cJSON_Delete(a);
	itd_free(out);
}

static void test_ring_recent_and_count_eviction(void **state)
{
	(void)state;
	struct srv_stream *st = make(8, 0);
	check_recent(st, 0, 0, 1, 0); /* empty: [] */
	feed(st, 1, 5, "engine.tick", NULL, 10);
	check_recent(st, 0, 0, 1, 5);
	check_recent(st, 3, 0, 4, 5);
	check_recent(st, 0, 2, 1, 2);
	check_recent(st, 5, 0, 1, 0);
	feed(st, 6, 20, "engine.tick", NULL, 10);
	/* Only the last 8 are held. */
	check_recent(st, 0, 0, 13, 20);
	char *out;
	size_t len;
	uint64_t f, l;
	assert_int_equal(srv_stream_recent(st, 0, 0, &out, &len, &f, &l), 0);
	assert_int_equal(f, 13);
	assert_int_equal(l, 20);
	itd_free(out);

	/* Malformed lines are skipped; a partial batch without a final
	 * newline still counts as one line. */
	const char junk[] = "not json\n{\"seq\":1}\n";
	assert_int_equal(srv_stream_sink()->write(st, junk, sizeof junk - 1), 0);
	char one[2048];
	size_t n = line(one, sizeof one, 21, "x.y", NULL, 0);
	assert_int_equal(srv_stream_sink()->write(st, one, n - 1), 0);
	check_recent(st, 0, 0, 14, 21);
	struct srv_stream_stats s;
	srv_stream_stats(st, &s);
	assert_int_equal(s.events, 21);
	assert_int_equal(st->bad_lines, 2);
	srv_stream_destroy(st);
}

static void test_ring_byte_eviction_never_wraps_a_message(void **state)
{
	(void)state;
	/* 64 slots but a 1 MiB arena: 150 KB events, at most 6 fit. */
	struct srv_stream *st = make(64, 0);
	assert_int_equal(st->arena_cap, ARENA_MIN);
	for (uint64_t s = 1; s <= 40; s++) {
		feed(st, s, s, "engine.tick", NULL, 150000);
		pthread_mutex_lock(&st->mu);
		uint64_t held = st->head - st->tail;
		assert_true(held >= 1 && held <= 7);
		for (uint64_t o = st->tail; o < st->head; o++) {
			const struct ev *e = srv_stream_entry(st, o);
			assert_true(e->pos % st->arena_cap + e->len <= st->arena_cap);
			assert_true(e->pos + e->len <= st->apos);
			assert_true(st->apos - e->pos <= st->arena_cap);
			const char *m = srv_stream_msg_at(st, e);
			assert_memory_equal(m, "id: ", 4);
			assert_memory_equal(m + e->len - 2, "\n\n", 2);
		}
		uint64_t first = srv_stream_entry(st, st->tail)->seq;
		pthread_mutex_unlock(&st->mu);
		check_recent(st, 0, 0, first, s);
	}
	srv_stream_destroy(st);
}

/* --------------------------------------------------------------- reader */

static void test_live_client_gets_framed_messages(void **state)
{
	(void)state;
	struct srv_stream *st = make(1024, 0);
	feed(st, 1, 3, "engine.tick", NULL, 0);
	struct client *c = client(st, false, 0, NULL, NULL);
	bool end;
	char *out = drain(st, c, BLOCK_SIZE, &end);
	/* Starts at the live edge: only the hello. */
	assert_string_equal(out, MSG_HELLO);
	free(out);
	feed(st, 4, 5, "intent.queued", "i-1", 0);
	out = drain(st, c, BLOCK_SIZE, &end);
	assert_false(end);
	char l4[2048];
	size_t n4 = line(l4, sizeof l4, 4, "intent.queued", "i-1", 0);
	l4[n4 - 1] = '\0';
	char want[4096];
	snprintf(want, sizeof want, "id: 4\nevent: intent.queued\ndata: %s\n\n", l4);
	assert_memory_equal(out, want, strlen(want));
	uint64_t got[8];
	assert_int_equal(ids(out, got, 8), 2);
	assert_int_equal(got[1], 5);
	free(out);
	srv_stream_client_free(c);
	srv_stream_destroy(st);
}

static void test_resume_without_gap_and_in_pieces(void **state)
{
	(void)state;
	struct srv_stream *st = make(1024, 0);
	feed(st, 1, 200, "engine.tick", NULL, 50);
	struct client *c = client(st, true, 120, NULL, NULL);
	bool end;
	/* 37-byte reads: messages go in pieces and reassemble exactly. */
	char *out = drain(st, c, 37, &end);
	assert_int_equal(count(out, "event: gap"), 0);
	uint64_t got[128];
	size_t n = ids(out, got, 128);
	assert_int_equal(n, 80);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i], 121 + i);
	free(out);
	/* Whole messages per read otherwise (chunks align with events). */
	struct client *d = client(st, true, 0, NULL, NULL);
	char buf[BLOCK_SIZE];
	pthread_mutex_lock(&st->mu);
	ssize_t k = srv_stream_fill(st, d, buf, sizeof buf, itd_clock_mono_ns());
	pthread_mutex_unlock(&st->mu);
	assert_true(k > 4);
	assert_memory_equal(buf + k - 2, "\n\n", 2);
	srv_stream_client_free(c);
	srv_stream_client_free(d);
	srv_stream_destroy(st);
}

static void test_gap_marker_when_ring_no_longer_holds_the_resume_point(void **state)
{
	(void)state;
	struct srv_stream *st = make(16, 0);
	feed(st, 1, 100, "engine.tick", NULL, 0);
	struct client *c = client(st, true, 1, NULL, NULL);
	bool end;
	char *out = drain(st, c, BLOCK_SIZE, &end);
	const char *g = strstr(out, "event: gap\ndata: ");
	assert_non_null(g);
	static const char want[] = "{\"after_seq\":1,\"resume_seq\":85,\"missed\":83}\n\n";
	assert_memory_equal(g + 17, want, sizeof want - 1);
	uint64_t got[32];
	size_t n = ids(out, got, 32);
	assert_int_equal(n, 16);
	assert_int_equal(got[0], 85);
	/* The marker precedes the first event. */
	assert_true(g < strstr(out, "id: 85"));
	free(out);

	/* after_seq=0 on a full ring: a gap from 0; on a ring still holding
	 * seq 1: none. */
	struct client *z = client(st, true, 0, NULL, NULL);
	out = drain(st, z, BLOCK_SIZE, &end);
	assert_non_null(strstr(out, "{\"after_seq\":0,\"resume_seq\":85,\"missed\":84}"));
	free(out);
	struct srv_stream *st2 = make(16, 0);
	feed(st2, 1, 10, "engine.tick", NULL, 0);
	struct client *y = client(st2, true, 0, NULL, NULL);
	out = drain(st2, y, BLOCK_SIZE, &end);
	assert_int_equal(count(out, "event: gap"), 0);
	assert_int_equal(ids(out, got, 32), 10);
	free(out);

	/* Events telemetry dropped (seq jumps) are marked too. */
	feed(st2, 14, 15, "engine.tick", NULL, 0);
	out = drain(st2, y, BLOCK_SIZE, &end);
	assert_non_null(strstr(out, "{\"after_seq\":10,\"resume_seq\":14,\"missed\":3}"));
	assert_int_equal(ids(out, got, 32), 2);
	free(out);
	struct srv_stream_stats s;
	srv_stream_stats(st, &s);
	assert_int_equal(s.gaps, 2);
	assert_int_equal(s.clients, 2);
	assert_int_equal(s.clients_total, 2);
	srv_stream_client_free(c);
	srv_stream_client_free(z);
	srv_stream_client_free(y);
	srv_stream_stats(st, &s);
	assert_int_equal(s.clients, 0);
	srv_stream_destroy(st);
	srv_stream_destroy(st2);
}

static void test_filters(void **state)
{
	(void)state;
	struct srv_stream *st = make(1024, 0);
	struct client *pre = client(st, false, 0, "intent.,state.", NULL);
	struct client *iid = client(st, false, 0, NULL, "i-2");
	struct client *both = client(st, false, 0, "intent.comp", "i-2");
	bool end;
	free(drain(st, pre, BLOCK_SIZE, &end));
	free(drain(st, iid, BLOCK_SIZE, &end));
	free(drain(st, both, BLOCK_SIZE, &end));
	feed(st, 1, 1, "engine.tick", NULL, 0);
	feed(st, 2, 2, "intent.queued", "i-1", 0);
	feed(st, 3, 3, "intent.completed", "i-2", 0);
	feed(st, 4, 4, "state.updated", NULL, 0);
	feed(st, 5, 5, "intent.cancelled", "i-2", 0);
	feed(st, 6, 6, "intent.completed", "i-20", 0);
	uint64_t got[8];
	char *out = drain(st, pre, BLOCK_SIZE, &end);
	assert_int_equal(ids(out, got, 8), 5);
	assert_int_equal(got[0], 2);
	assert_int_equal(got[2], 4);
	assert_int_equal(count(out, "event: gap"), 0); /* filtered seqs are no gap */
	free(out);
	out = drain(st, iid, BLOCK_SIZE, &end);
	assert_int_equal(ids(out, got, 8), 2);
	assert_int_equal(got[0], 3);
	assert_int_equal(got[1], 5);
	free(out);
	out = drain(st, both, BLOCK_SIZE, &end);
	assert_int_equal(ids(out, got, 8), 1);
	assert_int_equal(got[0], 3);
	free(out);

	/* A sleeping filtered client has no work for events it rejects. */
	feed(st, 7, 9, "engine.tick", NULL, 0);
	pthread_mutex_lock(&st->mu);
	assert_false(srv_stream_has_work(st, both, itd_clock_mono_ns()));
	assert_int_equal(both->ord, st->head);
	assert_int_equal(both->last_seq, 9);
	pthread_mutex_unlock(&st->mu);
	feed(st, 10, 10, "intent.completed", "i-2", 0);
	pthread_mutex_lock(&st->mu);
	assert_true(srv_stream_has_work(st, both, itd_clock_mono_ns()));
	pthread_mutex_unlock(&st->mu);
	srv_stream_client_free(pre);
	srv_stream_client_free(iid);
	srv_stream_client_free(both);
	srv_stream_destroy(st);
}

static void test_slow_client_is_cut_off_others_unaffected(void **state)
{
	(void)state;
	struct srv_stream *st = make(4096, 4096);
	struct client *slow = client(st, false, 0, NULL, NULL);
	struct client *fast = client(st, false, 0, NULL, NULL);
	bool end;
	free(drain(st, slow, BLOCK_SIZE, &end));
	free(drain(st, fast, BLOCK_SIZE, &end));
	uint64_t got[256];
	for (uint64_t s = 1; s <= 100; s += 10) {
		feed(st, s, s + 9, "engine.tick", NULL, 100);
		char *out = drain(st, fast, BLOCK_SIZE, &end);
		assert_int_equal(ids(out, got, 256), 10);
		free(out);
	}
	/* The slow one is >4 KiB behind: a gap marker, cut_off, the end. */
	char *out = drain(st, slow, BLOCK_SIZE, &end);
	assert_true(end);
	assert_int_equal(ids(out, got, 256), 0);
	assert_non_null(strstr(out, "event: gap\ndata: {\"after_seq\":0,\"resume_seq\":101,\"missed\":100}"));
	assert_non_null(strstr(out, "event: cut_off\ndata: {\"last_seq\":0,"));
	free(out);
	struct srv_stream_stats s;
	srv_stream_stats(st, &s);
	assert_int_equal(s.cut_off, 1);

	/* A resume that starts far behind is not cut off while it catches
	 * up (its allowance is its starting backlog). */
	struct client *late = client(st, true, 0, NULL, NULL);
	out = drain(st, late, 1000, &end);
	assert_false(end);
	assert_int_equal(ids(out, got, 256), 100);
	free(out);
	srv_stream_stats(st, &s);
	assert_int_equal(s.cut_off, 1);
	srv_stream_client_free(slow);
	srv_stream_client_free(fast);
	srv_stream_client_free(late);
	srv_stream_destroy(st);
}

static void test_shutdown_after_backlog(void **state)
{
	(void)state;
	struct srv_stream *st = make(1024, 0);
	struct client *c = client(st, false, 0, NULL, NULL);
	bool end;
	free(drain(st, c, BLOCK_SIZE, &end));
	feed(st, 1, 4, "engine.tick", NULL, 0);
	pthread_mutex_lock(&st->mu);
	st->closing = true;
	pthread_mutex_unlock(&st->mu);
	char *out = drain(st, c, BLOCK_SIZE, &end);
	assert_true(end);
	uint64_t got[8];
	assert_int_equal(ids(out, got, 8), 4);
	size_t n = strlen(out);
	assert_true(n > sizeof MSG_SHUTDOWN);
	assert_string_equal(out + n - (sizeof MSG_SHUTDOWN - 1), MSG_SHUTDOWN);
	free(out);
	srv_stream_client_free(c);
	srv_stream_close_all(st);
	srv_stream_close_all(st); /* idempotent */
	srv_stream_destroy(st);
}

static void test_allocation_failures(void **state)
{
	(void)state;
	for (long i = 1; i <= 3; i++) {
		struct srv_stream *st = NULL;
		itd_alloc_fail_at(i);
		int rc = srv_stream_create(NULL, 128, 0, &st);
		itd_alloc_fail_at(0);
		assert_int_equal(rc, ITD_ENOMEM);
		assert_null(st);
	}
	struct srv_stream *st = make(128, 0);
	feed(st, 1, 3, "engine.tick", NULL, 0);
	char *out = (char *)1;
	size_t len = 7;
	uint64_t f, l;
	itd_alloc_fail_at(1);
	assert_int_equal(srv_stream_recent(st, 0, 0, &out, &len, &f, &l), ITD_ENOMEM);
	itd_alloc_fail_at(0);
	assert_null(out);
	assert_int_equal(len, 0);
	struct srv_stream *bad = (struct srv_stream *)1;
	assert_int_equal(srv_stream_create(NULL, 0, 0, &bad), ITD_EINVAL);
	assert_null(bad);
	srv_stream_destroy(st);
	srv_stream_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_parse_seq_and_prefixes),
		cmocka_unit_test(test_ring_recent_and_count_eviction),
		cmocka_unit_test(test_ring_byte_eviction_never_wraps_a_message),
		cmocka_unit_test(test_live_client_gets_framed_messages),
		cmocka_unit_test(test_resume_without_gap_and_in_pieces),
		cmocka_unit_test(test_gap_marker_when_ring_no_longer_holds_the_resume_point),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_slow_client_is_cut_off_others_unaffected),
		cmocka_unit_test(test_shutdown_after_backlog),
		cmocka_unit_test(test_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
