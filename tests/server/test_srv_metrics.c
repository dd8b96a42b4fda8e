/* test_srv_metrics.c: what a Prometheus scrape of /metrics sees: well-formed
 * text exposition (every family declared once with HELP and TYPE before its
 * samples, counters named _total), histogram buckets that are cumulative
 * with exact bounds and +Inf equal to _count, label values escaped, and
 * values that follow the engine, telemetry sinks and requests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario_fixture.h"
#include "server/srv_int.h"
#include "telemetry/telemetry.h"

/* A sink that keeps nothing and fails if told to. */
static int sink_write(void *ctx, const char *d, size_t n)
{
	(void)d;
	(void)n;
	return *(int *)ctx;
}

static const struct itd_sink_ops sink_ops = {"test", sink_write, NULL, NULL};
static int sink_ok = 0, sink_bad = ITD_EIO;

/* The parts of a server /metrics reads, built by hand. */
struct fix {
	struct itd_scenario *scn;
	struct itd_server srv;
	struct itd_observer obs;
};

static void obs_event(void *ctx, const struct itd_engine *e, const struct itd_event *ev)
{
	(void)e;
	srv_metrics_event(ctx, ev);
}

static void fix_init(struct fix *f, const struct itd_override *ovr, size_t n_ovr)
{
	memset(f, 0, sizeof *f);
	f->scn = fixture_builtin("spacecraft", ovr, n_ovr);
	struct itd_server *s = &f->srv;
	assert_int_equal(pthread_rwlock_init(&s->state_lock, NULL), 0);
	assert_int_equal(pthread_mutex_init(&s->loop_lock, NULL), 0);
	assert_int_equal(pthread_cond_init(&s->loop_cond, NULL), 0);
	assert_int_equal(srv_metrics_create(&s->metrics), ITD_OK);
	f->obs = (struct itd_observer){.event = obs_event, .ctx = s->metrics};
	struct itd_engine_config ec = {.scn = f->scn, .seed = 1, .clock = ITD_CLOCK_SIM,
				       .obs = &f->obs, .state_lock = &s->state_lock};
	assert_int_equal(itd_engine_create(&ec, &s->engine), ITD_OK);
	struct itd_tel_config tc = {.run_id = "metrics-test"};
	assert_int_equal(itd_tel_create(&tc, &s->tel), ITD_OK);
	assert_int_equal(itd_tel_add_sink(s->tel, "file", &sink_ops, &sink_ok), ITD_OK);
	assert_int_equal(itd_tel_add_sink(s->tel, "we\"ird\\sink\n", &sink_ops, &sink_bad),
			 ITD_OK);
}

static void fix_fini(struct fix *f)
{
	struct itd_server *s = &f->srv;
	itd_tel_destroy(s->tel);
	itd_engine_destroy(s->engine);
	srv_metrics_destroy(s->metrics);
	pthread_cond_destroy(&s->loop_cond);
	pthread_mutex_destroy(&s->loop_lock);
	pthread_rwlock_destroy(&s->state_lock);
	itd_scenario_destroy(f->scn);
}

/* The route labelled `label` (the table's order is not the tests' business). */
static const struct srv_route *route(const char *label)
{
	for (size_t i = 0; i < srv_n_routes; i++)
		if (!strcmp(srv_routes[i].name, label))
			return &srv_routes[i];
	fail_msg("no route %s", label);
	return NULL;
}

/* GET /metrics through the handler; the caller frees the text. */
static char *scrape(struct fix *f)
{
	struct srv_req r = {.srv = &f->srv, .method = "GET", .path = "/metrics"};
	struct srv_resp out = {0};
	assert_int_equal(srv_h_metrics(&r, &out), ITD_OK);
	assert_int_equal(out.status, 200);
	assert_non_null(out.content_type);
	assert_string_equal(out.content_type, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(out.body);
	assert_int_equal(strlen(out.body), out.len);
	char *text = strdup(out.body);
	itd_free(out.body);
	return text;
}

/* The value of the sample written exactly `series` (name and labels), or
 * fails the test if there is none. */
static double value_of(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		assert_non_null(end);
		if (!strncmp(line, series, n) && line[n] == ' ')
			return strtod(line + n + 1, NULL);
		line = end + 1;
	}
	fail_msg("no sample %s", series);
	return NAN;
}

static bool has_series(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *line = text; *line; line = strchr(line, '\n') + 1)
		if (!strncmp(line, series, n) && line[n] == ' ')
			return true;
	return false;
}

static void test_histogram_buckets(void **state)
{
	(void)state;
	struct fix f;
	fix_init(&f, NULL, 0);
	struct srv_metrics *m = f.srv.metrics;
	/* le means <=: 1000 ns lands in the 1 us bucket, 1001 ns in the next;
	 * 2 s is above every bound and only counts in +Inf. */
	srv_metrics_tick(m, 500);
	srv_metrics_tick(m, 1000);
	srv_metrics_tick(m, 1001);
	srv_metrics_tick(m, 1000000000);
	srv_metrics_tick(m, 2000000000);
	struct itd_event lat = {.kind = ITD_EV_EXECUTION_LATENCY, .n = 3, .ms = 1500};
	srv_metrics_event(m, &lat);
	lat.n = 4;
	lat.ms = 1;
	srv_metrics_event(m, &lat);

	char *t = scrape(&f);
	const char *h = "intentd_tick_duration_seconds";
	char key[128];
	static const struct {
		const char *le;
		double want;
	} tick[] = {{"1e-06", 2}, {"2.5e-06", 3}, {"0.5", 3}, {"1", 4}, {"+Inf", 5}};
	for (size_t i = 0; i < sizeof tick / sizeof tick[0]; i++) {
		snprintf(key, sizeof key, "%s_bucket{le=\"%s\"}", h, tick[i].le);
		assert_true(value_of(t, key) == tick[i].want);
	}
	assert_true(value_of(t, "intentd_tick_duration_seconds_count") == 5);
	double sum = value_of(t, "intentd_tick_duration_seconds_sum");
	assert_true(fabs(sum - 3.000002501) < 1e-12);

	assert_true(value_of(t, "intentd_execution_latency_ticks_bucket{le=\"2\"}") == 0);
	assert_true(value_of(t, "intentd_execution_latency_ticks_bucket{le=\"3\"}") == 1);
	assert_true(value_of(t, "intentd_execution_latency_ticks_bucket{le=\"5\"}") == 2);
	assert_true(value_of(t, "intentd_execution_latency_ticks_sum") == 7);
	assert_true(value_of(t, "intentd_execution_latency_seconds_bucket{le=\"0.001\"}") == 1);
	assert_true(value_of(t, "intentd_execution_latency_seconds_bucket{le=\"1\"}") == 1);
	assert_true(value_of(t, "intentd_execution_latency_seconds_bucket{le=\"2.5\"}") == 2);
	assert_true(value_of(t, "intentd_execution_latency_seconds_count") == 2);
	assert_true(fabs(value_of(t, "intentd_execution_latency_seconds_sum") - 1.501) < 1e-12);

	/* Buckets never decrease along le, and +Inf equals _count. */
	const char *hists[] = {"intentd_tick_duration_seconds", "intentd_execution_latency_ticks",
			       "intentd_execution_latency_seconds"};
	for (size_t k = 0; k < 3; k++) {
		double prev = -1;
		size_t n = 0, len = strlen(hists[k]);
		for (const char *line = t; *line; line = strchr(line, '\n') + 1) {
			if (strncmp(line, hists[k], len) || strncmp(line + len, "_bucket{le=\"", 12))
				continue;
			double v = strtod(strchr(line, ' ') + 1, NULL);
			assert_true(v >= prev);
			prev = v;
			n++;
		}
		assert_true(n >= 10);
		snprintf(key, sizeof key, "%s_count", hists[k]);
		assert_true(prev == value_of(t, key));
	}
	free(t);
	fix_fini(&f);
}

/* A metric name: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static size_t name_len(const char *s)
{
	size_t n = 0;
	while (s[n] == '_' || s[n] == ':' || (s[n] >= 'a' && s[n] <= 'z') ||
	       (s[n] >= 'A' && s[n] <= 'Z') || (n && s[n] >= '0' && s[n] <= '9'))
		n++;
	return n;
}

/* Check the whole text against the 0.0.4 grammar as Prometheus parses it,
 * plus the naming conventions promtool lints. */
static void check_exposition(const char *t)
{
	char fams[128][96];
	char types[128][16];
	size_t n_fams = 0;
	char cur[96] = "";
	assert_true(strlen(t) > 0 && t[strlen(t) - 1] == '\n');
	for (const char *line = t; *line; line = strchr(line, '\n') + 1) {
		const char *end = strchr(line, '\n');
		if (!strncmp(line, "# HELP ", 7)) {
			size_t n = name_len(line + 7);
			assert_true(n > 0 && n < sizeof cur && line[7 + n] == ' ');
			for (size_t i = 0; i < n_fams; i++)
				assert_false(strlen(fams[i]) == n && !strncmp(fams[i], line + 7, n));
			memcpy(cur, line + 7, n);
			cur[n] = '\0';
			assert_true(n_fams < 128);
			strcpy(fams[n_fams], cur);
			types[n_fams][0] = '\0';
			n_fams++;
			assert_true(end - (line + 8 + n) > 3); /* a real help text */
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			size_t n = strlen(cur);
			assert_true(n > 0 && !strncmp(line + 7, cur, n) && line[7 + n] == ' ');
			const char *ty = line + 8 + n;
			size_t tl = (size_t)(end - ty);
			assert_true(tl < 16);
			memcpy(types[n_fams - 1], ty, tl);
			types[n_fams - 1][tl] = '\0';
			const char *tt = types[n_fams - 1];
			assert_true(!strcmp(tt, "counter") || !strcmp(tt, "gauge") ||
				    !strcmp(tt, "histogram"));
			bool total = n > 6 && !strcmp(cur + n - 6, "_total");
			assert_true(total == !strcmp(tt, "counter"));
			continue;
		}
		assert_true(line[0] != '#');
		/* A sample of the current family. */
		size_t n = name_len(line);
		size_t cl = strlen(cur);
		assert_true(n >= cl && !strncmp(line, cur, cl));
		if (n > cl) {
			assert_string_equal(types[n_fams - 1], "histogram");
			const char *suf = line + cl;
			assert_true(!strncmp(suf, "_bucket{", 8) || !strncmp(suf, "_sum ", 5) ||
				    !strncmp(suf, "_count ", 7));
		}
		const char *p = line + n;
		if (*p == '{') {
			p++;
			for (;;) {
				size_t ln = name_len(p);
				assert_true(ln > 0 && p[ln] == '=' && p[ln + 1] == '"');
				p += ln + 2;
				while (*p != '"') {
					assert_true(*p != '\n' && *p != '\0');
					if (*p == '\\') {
						p++;
						assert_true(*p == '\\' || *p == '"' || *p == 'n');
					}
					p++;
				}
				p++;
				if (*p == '}')
					break;
				assert_true(*p == ',');
				p++;
			}
			p++;
		}
		assert_true(*p == ' ');
		p++;
		char *vend;
		double v = strtod(p, &vend);
		(void)v;
		assert_true(vend == end || !strncmp(p, "+Inf\n", 5) || !strncmp(p, "NaN\n", 4));
	}
}

static void test_exposition_text_format(void **state)
{
	(void)state;
	/* Out of bounds: the orbit correction is picked and blocked by
	 * position_bounds_exceeded every tick. */
	struct itd_override ovr[] = {{"state.position.initial", "-50"},
				     {"state.battery.initial", "80"},
				     {"state.temperature.initial", "25"}};
	struct fix f;
	fix_init(&f, ovr, 3);
	for (int i = 0; i < 30; i++) {
		pthread_rwlock_wrlock(&f.srv.state_lock);
		assert_int_equal(itd_engine_step(f.srv.engine), ITD_OK);
		pthread_rwlock_unlock(&f.srv.state_lock);
		srv_metrics_tick(f.srv.metrics, 12345);
	}
	srv_metrics_request(f.srv.metrics, route("intents_submit"), 202);
	srv_metrics_request(f.srv.metrics, route("intents_submit"), 202);
	srv_metrics_request(f.srv.metrics, route("intents_submit"), 429);
	srv_metrics_request(f.srv.metrics, NULL, 404);
	srv_metrics_request(f.srv.metrics, NULL, 999);

	char *t = scrape(&f);
	check_exposition(t);

	assert_true(value_of(t, "intentd_ticks_total") == 30);
	assert_true(value_of(t, "intentd_events_total{event=\"engine.tick\"}") == 30);
	assert_true(value_of(t, "intentd_tick_duration_seconds_count") == 30);
	/* Every event name and every status is present, counted or not. */
	for (int k = 0; k < ITD_EV_COUNT; k++) {
		char key[96];
		snprintf(key, sizeof key, "intentd_events_total{event=\"%s\"}",
			 itd_event_name((enum itd_event_kind)k));
		assert_true(has_series(t, key));
	}
	double active = 0;
	for (int k = 0; k < ITD_ST_COUNT; k++) {
		char key[96];
		snprintf(key, sizeof key, "intentd_intents{status=\"%s\"}",
			 itd_status_name((enum itd_status)k));
		active += value_of(t, key);
	}
	assert_true(active >= 1);
	assert_true(value_of(t, "intentd_intents_created_total") >= 1);
	/* The state follows the engine; the mode has exactly one 1. */
	pthread_rwlock_rdlock(&f.srv.state_lock);
	double battery = itd_engine_state(f.srv.engine)[itd_scenario_field(f.scn, "battery")].num;
	char mode_key[64];
	snprintf(mode_key, sizeof mode_key, "intentd_mode{mode=\"%s\"}",
		 itd_engine_mode(f.srv.engine));
	pthread_rwlock_unlock(&f.srv.state_lock);
	assert_true(value_of(t, "intentd_state{field=\"battery\"}") == battery);
	assert_true(has_series(t, "intentd_state{field=\"position\"}"));
	assert_true(has_series(t, "intentd_state{field=\"temperature\"}"));
	assert_true(value_of(t, mode_key) == 1);
	assert_true(value_of(t, "intentd_mode{mode=\"NOMINAL\"}") +
			    value_of(t, "intentd_mode{mode=\"LOW_POWER\"}") +
			    value_of(t, "intentd_mode{mode=\"SAFE\"}") ==
		    1);
	/* Blocked ticks are counted by rule. */
	double blocked = 0;
	for (size_t i = 0; i < f.scn->n_safety; i++) {
		char key[128];
		snprintf(key, sizeof key, "intentd_blocked_ticks_total{rule=\"%s\"}",
			 f.scn->safety[i].id);
		blocked += value_of(t, key);
	}
	struct itd_engine_stats st;
	itd_engine_stats(f.srv.engine, &st);
	assert_true(blocked == (double)st.blocks);
	assert_true(value_of(t, "intentd_blocked_ticks_total{rule=\"position_bounds_exceeded\"}") ==
		    30);
	assert_true(value_of(t, "intentd_mode{mode=\"NOMINAL\"}") == 1);

	assert_true(value_of(t, "intentd_http_requests_total{route=\"intents_submit\",code=\"202\"}") == 2);
	assert_true(value_of(t, "intentd_http_requests_total{route=\"intents_submit\",code=\"429\"}") == 1);
	assert_true(value_of(t, "intentd_http_requests_total{route=\"none\",code=\"404\"}") == 1);
	assert_true(value_of(t, "intentd_http_requests_total{route=\"none\",code=\"other\"}") == 1);
	assert_false(has_series(t, "intentd_http_requests_total{route=\"intents_submit\",code=\"200\"}"));
	assert_true(value_of(t, "intentd_paused") == 0);
	assert_true(value_of(t, "intentd_stream_clients") == 0);
	assert_true(value_of(t, "intentd_telemetry_dropped_events_total{sink=\"file\"}") == 0);
	assert_true(has_series(t, "intentd_build_info{version=\"" ITD_VERSION
				  "\",scenario=\"spacecraft\"}"));
	free(t);
	fix_fini(&f);
}

static void test_label_escaping(void **state)
{
	(void)state;
	/* A scenario name with a quote, a backslash and a line feed. */
	struct itd_override ovr[] = {{"scenario", "\"a\\\"b\\\\c\\nd\""}};
	struct fix f;
	fix_init(&f, ovr, 1);
	assert_string_equal(f.scn->name, "a\"b\\c\nd");
	/* One event through telemetry, so the failing sink counts an error. */
	itd_tel_begin(f.srv.tel, "engine.tick", "engine", 1, 0);
	itd_tel_end(f.srv.tel);
	itd_tel_tick_end(f.srv.tel, 1, 0);
	itd_tel_drain(f.srv.tel);

	char *t = scrape(&f);
	check_exposition(t);
	assert_true(has_series(t, "intentd_build_info{version=\"" ITD_VERSION
				  "\",scenario=\"a\\\"b\\\\c\\nd\"}"));
	assert_true(value_of(t, "intentd_telemetry_write_errors_total{sink=\"we\\\"ird\\\\sink\\n\"}") >= 1);
	assert_true(value_of(t, "intentd_telemetry_write_errors_total{sink=\"file\"}") == 0);
	assert_true(value_of(t, "intentd_telemetry_events_total") == 1);
	free(t);
	fix_fini(&f);
}

/* Requests counted from several threads at once lose nothing. */
struct hammer {
	struct srv_metrics *m;
	int n;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < h->n; i++)
		srv_metrics_request(h->m, route("intents_list"), 200);
	return NULL;
}

static void test_concurrent_requests_are_exact(void **state)
{
	(void)state;
	struct fix f;
	fix_init(&f, NULL, 0);
	struct hammer h = {f.srv.metrics, 100000};
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	char *t = scrape(&f);
	assert_true(value_of(t, "intentd_http_requests_total{route=\"intents_list\",code=\"200\"}") ==
		    400000);
	free(t);
	fix_fini(&f);
}

/* Every allocation of a scrape may fail: the answer is then a 500 with an
 * error body, nothing leaks, and the next scrape works. */
static void test_allocation_failures(void **state)
{
	(void)state;
	struct fix f;
	fix_init(&f, NULL, 0);
	struct srv_req r = {.srv = &f.srv, .method = "GET", .path = "/metrics"};
	int failed = 0;
	for (long n = 1; n < 100; n++) {
		struct srv_resp out = {0};
		itd_alloc_fail_at(n);
		int rc = srv_h_metrics(&r, &out);
		bool hit = itd_alloc_failed();
		itd_alloc_fail_at(0);
		if (!hit) {
			assert_int_equal(rc, ITD_OK);
			assert_int_equal(out.status, 200);
			itd_free(out.body);
			break;
		}
		failed++;
		assert_int_equal(out.status, 500);
		itd_free(out.body);
	}
	assert_true(failed >= 3); /* the snapshot's two arrays and the text */
	char *t = scrape(&f);
	check_exposition(t);
	free(t);
	fix_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_histogram_buckets),
		cmocka_unit_test(test_exposition_text_format),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_concurrent_requests_are_exact),
		cmocka_unit_test(test_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
