/* test_tel_redact.c: redaction by dot path before any sink sees the event:
 * "REDACTED" and keyed hashes of the value's JSON text, whole objects and
 * arrays, arrays as transparent levels, and payload.redacted_fields. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/telemetry.h"
#include "test_support.h"

struct mem {
	pthread_mutex_t mu;
	char *data;
	size_t len, cap;
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
	pthread_mutex_unlock(&m->mu);
	return 0;
}

static const struct itd_sink_ops mem_ops = { "mem", mem_write, NULL, NULL };

static const uint8_t KEY[] = "test-key";

struct fix {
	struct itd_tel *t;
	struct mem m;
};

static void fix_open(struct fix *f, const struct itd_tel_redact *rules, size_t n)
{
	memset(f, 0, sizeof *f);
	pthread_mutex_init(&f->m.mu, NULL);
	struct itd_tel_config cfg = {
		.run_id = "r",
		.redact = rules,
		.n_redact = n,
		.hmac_key = KEY,
		.hmac_key_len = sizeof KEY - 1,
	};
	assert_int_equal(itd_tel_create(&cfg, &f->t), 0);
	assert_int_equal(itd_tel_add_sink(f->t, "mem", &mem_ops, &f->m), 0);
}

/* Drain and return line i's payload text (a static copy). */
static const char *payload(struct fix *f, int i)
{
	static char out[4096];
	itd_tel_drain(f->t);
	const char *line = f->m.data;
	assert_non_null(line);
	while (i-- > 0)
		line = strchr(line, '\n') + 1;
	const char *p = strstr(line, "\"payload\":");
	const char *e = strstr(line, ",\"tags\":");
	assert_non_null(p);
	assert_non_null(e);
	p += strlen("\"payload\":");
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return out;
}

static void fix_close(struct fix *f)
{
	itd_tel_destroy(f->t);
	pthread_mutex_destroy(&f->m.mu);
	free(f->m.data);
}

/* "hmac-sha256:<hex>" of text, as the writer must produce it. */
static const char *mac_of(const char *text, char *out)
{
	uint8_t mac[ITD_SHA256_LEN];
	char hex[2 * ITD_SHA256_LEN + 1];
	assert_int_equal(itd_hmac_sha256(KEY, sizeof KEY - 1, text, strlen(text), mac), 0);
	itd_hex(mac, sizeof mac, hex);
	sprintf(out, "\"hmac-sha256:%s\"", hex);
	return out;
}

static void test_plain_redaction_by_full_path(void **state)
{
	(void)state;
	static const struct itd_tel_redact rules[] = { { "payload.params.operator", false } };
	struct fix f;
	fix_open(&f, rules, 1);
	struct itd_jw *w = itd_tel_begin(f.t, "intent.received", "intake", 1, 0);
	itd_jw_kstr(w, "operator", "root-level is another path");
	itd_jw_key(w, "params");
	itd_jw_obj_begin(w);
	itd_jw_kstr(w, "mode", "x");
	itd_jw_kstr(w, "operator", "alice");
	itd_jw_kstr(w, "operator2", "bob");
	itd_jw_obj_end(w);
	itd_jw_key(w, "params2");
	itd_jw_obj_begin(w);
	itd_jw_kstr(w, "operator", "carol");
	itd_jw_obj_end(w);
	itd_tel_end(f.t);
	assert_string_equal(payload(&f, 0),
		"{\"operator\":\"root-level is another path\",\"params\":{\"mode\":\"x\","
		"\"operator\":\"REDACTED\",\"operator2\":\"bob\"},\"params2\":{\"operator\":\"carol\"},"
		"\"redacted_fields\":[\"payload.params.operator\"]}");
	fix_close(&f);
}

static void test_hmac_of_scalars_is_keyed_hash_of_json_text(void **state)
{
	(void)state;
	static const struct itd_tel_redact rules[] = {
		{ "payload.who", true }, { "payload.n", true }, { "payload.ok", true },
	};
	struct fix f;
	char m1[128], m2[128], m3[128], want[1024];
	fix_open(&f, rules, 3);
	for (int i = 0; i < 2; i++) {
		struct itd_jw *w = itd_tel_begin(f.t, "intent.received", "intake", 1, 0);
		itd_jw_kstr(w, "who", "alice \"a\"");
		itd_jw_knum(w, "n", 42.5);
		itd_jw_kbool(w, "ok", true);
		itd_tel_end(f.t);
	}
	snprintf(want, sizeof want,
		 "{\"who\":%s,\"n\":%s,\"ok\":%s,\"redacted_fields\":[\"payload.who\",\"payload.n\","
		 "\"payload.ok\"]}",
		 mac_of("\"alice \\\"a\\\"\"", m1), mac_of("42.5", m2), mac_of("true", m3));
	assert_string_equal(payload(&f, 0), want);
	/* Equal values give equal hashes: joinable across events. */
	assert_string_equal(payload(&f, 1), want);
	fix_close(&f);
}

static void test_objects_and_arrays_are_redacted_whole(void **state)
{
	(void)state;
	static const struct itd_tel_redact rules[] = {
		{ "payload.goal", true },
		{ "payload.goal.metric", false }, /* inside a redacted value: never fires */
		{ "payload.list", false },
	};
	struct fix f;
	char m1[128], want[1024];
	fix_open(&f, rules, 3);
	struct itd_jw *w = itd_tel_begin(f.t, "intent.received", "intake", 1, 0);
	itd_jw_key(w, "goal");
	itd_jw_obj_begin(w);
	itd_jw_kstr(w, "metric", "power");
	itd_jw_knum(w, "reference", 1.5);
	itd_jw_key(w, "deep");
	itd_jw_arr_begin(w);
	itd_jw_u64(w, 1);
	itd_jw_obj_begin(w);
	itd_jw_obj_end(w);
	itd_jw_arr_end(w);
	itd_jw_obj_end(w);
	itd_jw_key(w, "list");
	itd_jw_arr_begin(w);
	itd_jw_str(w, "a");
	itd_jw_arr_begin(w);
	itd_jw_arr_end(w);
	itd_jw_arr_end(w);
	itd_jw_kstr(w, "after", "kept");
	itd_tel_end(f.t);
	snprintf(want, sizeof want,
		 "{\"goal\":%s,\"list\":\"REDACTED\",\"after\":\"kept\","
		 "\"redacted_fields\":[\"payload.goal\",\"payload.list\"]}",
		 mac_of("{\"metric\":\"power\",\"reference\":1.5,\"deep\":[1,{}]}", m1));
	assert_string_equal(payload(&f, 0), want);
	fix_close(&f);
}

static void test_arrays_are_transparent_and_fields_listed_once_in_order(void **state)
{
	(void)state;
	static const struct itd_tel_redact rules[] = {
		{ "payload.z", false },
		{ "payload.items.token", false },
	};
	struct fix f;
	fix_open(&f, rules, 2);
	struct itd_jw *w = itd_tel_begin(f.t, "x.y", "engine", 1, 0);
	itd_jw_key(w, "items");
	itd_jw_arr_begin(w);
	for (int i = 0; i < 3; i++) {
		itd_jw_obj_begin(w);
		itd_jw_kstr(w, "token", "t");
		itd_jw_ku64(w, "i", (uint64_t)i);
		itd_jw_obj_end(w);
	}
	itd_jw_arr_end(w);
	itd_jw_kstr(w, "z", "zz");
	itd_jw_kstr(w, "token", "not under items");
	itd_tel_end(f.t);
	/* A later event with no match lists nothing. */
	w = itd_tel_begin(f.t, "x.y", "engine", 1, 0);
	itd_jw_kstr(w, "a", "b");
	itd_tel_end(f.t);
	assert_string_equal(payload(&f, 0),
		"{\"items\":[{\"token\":\"REDACTED\",\"i\":0},{\"token\":\"REDACTED\",\"i\":1},"
		"{\"token\":\"REDACTED\",\"i\":2}],\"z\":\"REDACTED\",\"token\":\"not under items\","
		"\"redacted_fields\":[\"payload.items.token\",\"payload.z\"]}");
	assert_string_equal(payload(&f, 1), "{\"a\":\"b\",\"redacted_fields\":[]}");
	fix_close(&f);
}

static void test_bad_rules_are_refused(void **state)
{
	(void)state;
	static const char *const bad[] = { "params.x", "payload", "payload.", "payload..x",
					   "payload.x.", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct itd_tel_redact r = { bad[i], false };
		struct itd_tel_config cfg = { .run_id = "r", .redact = &r, .n_redact = 1 };
		struct itd_tel *t = NULL;
		assert_int_equal(itd_tel_create(&cfg, &t), ITD_EINVAL);
		assert_null(t);
	}
	/* A keyed hash needs a key. */
	struct itd_tel_redact r = { "payload.x", true };
	struct itd_tel_config cfg = { .run_id = "r", .redact = &r, .n_redact = 1 };
	struct itd_tel *t = NULL;
	assert_int_equal(itd_tel_create(&cfg, &t), ITD_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_redaction_by_full_path),
		cmocka_unit_test(test_hmac_of_scalars_is_keyed_hash_of_json_text),
		cmocka_unit_test(test_objects_and_arrays_are_redacted_whole),
		cmocka_unit_test(test_arrays_are_transparent_and_fields_listed_once_in_order),
		cmocka_unit_test(test_bad_rules_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
