/* test_tel_summarize.c: `telemetry summarize` on a small JSONL fixture:
 * exact counts, outcomes, latency percentiles, blocked rules, sink drops,
 * seq gaps and malformed lines, in both the JSON and the text report. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "telemetry/telemetry.h"
#include "test_support.h"

static uint64_t seq;

static void ev(FILE *f, const char *event, const char *payload)
{
	seq++;
	fprintf(f,
		"{\"schema_version\":\"1.0\",\"timestamp\":\"2025-01-01T00:00:%02llu.000Z\","
		"\"source\":\"engine\",\"run_id\":\"r\",\"cycle\":%llu,\"seq\":%llu,"
		"\"event\":\"%s\",\"payload\":%s,\"tags\":{}}\n",
		(unsigned long long)(seq % 60), (unsigned long long)seq, (unsigned long long)seq,
		event, payload);
}

/* The fixture; line numbers in comments. */
static FILE *fixture(void)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	seq = 0;
	ev(f, "intent.received", "{\"intent_id\":\"i-1\",\"type\":\"a\"}");        /* 1 */
	ev(f, "intent.received", "{\"intent_id\":\"i-2\",\"type\":\"a\"}");        /* 2 */
	ev(f, "intent.received", "{\"intent_id\":\"i-3\",\"type\":\"b\"}");        /* 3 */
	ev(f, "intent.blocked", "{\"intent_id\":\"i-1\",\"type\":\"a\",\"rule\":\"low_power\"}");
	ev(f, "intent.blocked", "{\"intent_id\":\"i-1\",\"type\":\"a\",\"rule\":\"low_power\"}");
	fputs("not json {\n", f);                                                   /* 6 */
	seq += 2;                                                                   /* gap: 6, 7 */
	ev(f, "intent.blocked", "{\"intent_id\":\"i-2\",\"type\":\"a\",\"rule\":\"safe_mode\"}");
	for (int i = 1; i <= 10; i++) {                                             /* 8..17 */
		char p[128];
		snprintf(p, sizeof p, "{\"intent_id\":\"i-1\",\"type\":\"a\",\"ticks\":%d,\"ms\":%d.5}",
			 11 - i, (11 - i) * 1000);
		ev(f, "execution.latency", p);
	}
	ev(f, "intent.completed", "{\"intent_id\":\"i-1\",\"type\":\"a\"}");       /* 18 */
	ev(f, "intent.failed", "{\"intent_id\":\"i-2\",\"type\":\"a\"}");          /* 19 */
	ev(f, "intent.rejected", "{\"type\":\"a\",\"reason\":\"bad param\"}");     /* 20 */
	fputs("[1,2]\n", f);                                                        /* 21 */
	ev(f, "engine.tick", "{}");                                                 /* 22 */
	seq += 5;                                                                   /* gap: 5 */
	ev(f, "telemetry.delayed",                                                  /* 23 */
	   "{\"sinks\":[{\"sink\":\"file\",\"dropped\":5,\"dropped_since_last\":5,"
	   "\"write_errors\":1,\"lag_events\":0,\"lag_bytes\":0}]}");
	fputs("\n", f);                                                             /* 24: blank */
	ev(f, "engine.tick", "{}");                                                 /* 25 */
	fputs("{\"event\":\"engine.tick\",\"seq\":3", f);                          /* 26: cut off */
	rewind(f);
	return f;
}

static double num(const cJSON *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", path);
	const cJSON *cur = o;
	for (char *save = NULL, *k = strtok_r(buf, "/", &save); k; k = strtok_r(NULL, "/", &save))
		cur = cJSON_GetObjectItemCaseSensitive(cur, k);
	if (!cJSON_IsNumber(cur))
		fail_msg("%s is not a number", path);
	return cur->valuedouble;
}

static void test_json_report(void **state)
{
	(void)state;
	FILE *in = fixture();
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_int_equal(itd_tel_summarize(in, "fixture.jsonl", out, true), 0);
	fclose(out);
	fclose(in);
	cJSON *j = cJSON_Parse(text);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "file")->valuestring, "fixture.jsonl");
	assert_int_equal(num(j, "lines"), 26);
	assert_int_equal(num(j, "events"), 22);
	assert_int_equal(num(j, "events_by_name/execution.latency"), 10);
	assert_int_equal(num(j, "events_by_name/intent.received"), 3);
	assert_int_equal(num(j, "events_by_name/engine.tick"), 2);
	assert_int_equal(num(j, "intents/received"), 3);
	assert_int_equal(num(j, "intents/completed"), 1);
	assert_int_equal(num(j, "intents/failed"), 1);
	assert_int_equal(num(j, "intents/expired"), 0);
	assert_int_equal(num(j, "intents/cancelled"), 0);
	assert_int_equal(num(j, "intents/rejected"), 1);
	assert_int_equal(num(j, "intents/active"), 1);
	assert_int_equal(num(j, "latency/count"), 10);
	assert_int_equal(num(j, "latency/ticks/p50"), 5);
	assert_int_equal(num(j, "latency/ticks/p90"), 9);
	assert_int_equal(num(j, "latency/ticks/p99"), 10);
	assert_int_equal(num(j, "latency/ticks/max"), 10);
	assert_true(num(j, "latency/ms/p50") == 5000.5);
	assert_true(num(j, "latency/ms/max") == 10000.5);
	assert_int_equal(num(j, "blocked_rules/low_power"), 2);
	assert_int_equal(num(j, "blocked_rules/safe_mode"), 1);
	assert_int_equal(num(j, "rejected_reasons/bad param"), 1);
	assert_int_equal(num(j, "sinks/file/dropped"), 5);
	assert_int_equal(num(j, "sinks/file/write_errors"), 1);
	assert_int_equal(num(j, "seq/first"), 1);
	assert_int_equal(num(j, "seq/last"), 29);
	assert_int_equal(num(j, "seq/gaps"), 2);
	assert_int_equal(num(j, "seq/missing"), 7);
	assert_int_equal(num(j, "seq/out_of_order"), 0);
	const cJSON *gaps = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "seq"), "gap_list");
	assert_int_equal(cJSON_GetArraySize(gaps), 2);
	assert_int_equal(num(cJSON_GetArrayItem(gaps, 0), "after"), 5);
	assert_int_equal(num(cJSON_GetArrayItem(gaps, 0), "next"), 8);
	assert_int_equal(num(cJSON_GetArrayItem(gaps, 0), "line"), 7);
	assert_int_equal(num(cJSON_GetArrayItem(gaps, 1), "missing"), 5);
	assert_int_equal(num(cJSON_GetArrayItem(gaps, 1), "line"), 23);
	assert_int_equal(num(j, "malformed/count"), 3);
	const cJSON *bad = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "malformed"), "lines");
	assert_int_equal(cJSON_GetArraySize(bad), 3);
	assert_int_equal(num(cJSON_GetArrayItem(bad, 0), "line"), 6);
	assert_int_equal(num(cJSON_GetArrayItem(bad, 1), "line"), 21);
	assert_int_equal(num(cJSON_GetArrayItem(bad, 2), "line"), 26);
	cJSON_Delete(j);
	free(text);
}

static void test_text_report(void **state)
{
	(void)state;
	FILE *in = fixture();
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_int_equal(itd_tel_summarize(in, "fixture.jsonl", out, false), 0);
	fclose(out);
	fclose(in);
	assert_non_null(strstr(text, "telemetry summary: fixture.jsonl\n"));
	assert_non_null(strstr(text, "lines 26, events 22, malformed 3\n"));
	assert_non_null(strstr(text, "  execution.latency         10\n"));
	assert_non_null(strstr(text, "  active              1\n"));
	assert_non_null(strstr(text, "  ticks             5            9           10           10\n"));
	assert_non_null(strstr(text, "  ms         5000.500     9000.500    10000.500    10000.500\n"));
	assert_non_null(strstr(text, "  low_power          2\n"));
	assert_non_null(strstr(text, "seq: 2 gaps, 7 missing, 0 out of order\n"));
	assert_non_null(strstr(text, "           5          8          2          7\n"));
	assert_non_null(strstr(text, "  line 6: invalid JSON\n"));
	assert_non_null(strstr(text, "  line 26: invalid JSON\n"));
	free(text);
}

static void test_nothing_valid_is_a_parse_error(void **state)
{
	(void)state;
	FILE *in = tmpfile();
	fputs("garbage\n{{{\n", in);
	rewind(in);
	FILE *out = tmpfile();
	assert_int_equal(itd_tel_summarize(in, "x", out, false), ITD_EPARSE);
	fclose(in);
	in = tmpfile();
	assert_int_equal(itd_tel_summarize(in, "empty", out, true), ITD_EPARSE);
	fclose(in);
	fclose(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_report),
		cmocka_unit_test(test_text_report),
		cmocka_unit_test(test_nothing_valid_is_a_parse_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
