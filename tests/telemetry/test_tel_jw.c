/* test_tel_jw.c: the JSON writer's exact output: structure and commas,
 * string escapes, UTF-8 pass-through and repair, numbers, and a capacity it
 * never writes past. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "telemetry/telemetry.h"
#include "test_support.h"

/* A writer over a fresh buffer; checked and freed by expect(). */
struct fix {
	char buf[4096];
	struct itd_jw *w;
};

static void fix_open(struct fix *f)
{
	f->w = itd_jw_create(f->buf, sizeof f->buf);
	assert_non_null(f->w);
}

static void expect(struct fix *f, const char *want)
{
	assert_false(itd_jw_overflowed(f->w));
	size_t n = itd_jw_len(f->w);
	f->buf[n] = '\0';
	assert_string_equal(f->buf, want);
	itd_jw_destroy(f->w);
	f->w = NULL;
}

static void test_objects_arrays_and_commas(void **state)
{
	(void)state;
	struct fix f;
	fix_open(&f);
	struct itd_jw *w = f.w;
	itd_jw_obj_begin(w);
	itd_jw_ku64(w, "a", 1);
	itd_jw_key(w, "b");
	itd_jw_arr_begin(w);
	itd_jw_bool(w, true);
	itd_jw_bool(w, false);
	itd_jw_null(w);
	itd_jw_str(w, NULL);
	itd_jw_arr_end(w);
	itd_jw_key(w, "c");
	itd_jw_obj_begin(w);
	itd_jw_kstr(w, "d", "x");
	itd_jw_kbool(w, "e", true);
	itd_jw_obj_end(w);
	itd_jw_key(w, "f");
	itd_jw_arr_begin(w);
	itd_jw_arr_end(w);
	itd_jw_key(w, "g");
	itd_jw_obj_begin(w);
	itd_jw_obj_end(w);
	itd_jw_key(w, "h");
	itd_jw_arr_begin(w);
	itd_jw_obj_begin(w);
	itd_jw_obj_end(w);
	itd_jw_arr_begin(w);
	itd_jw_i64(w, -1);
	itd_jw_arr_end(w);
	itd_jw_arr_end(w);
	itd_jw_ki64(w, "i", INT64_MIN);
	itd_jw_ku64(w, "j", UINT64_MAX);
	itd_jw_knum(w, "k", 2.5);
	itd_jw_key(w, "l");
	itd_jw_strn(w, "abcdef", 3);
	itd_jw_obj_end(w);
	expect(&f, "{\"a\":1,\"b\":[true,false,null,null],\"c\":{\"d\":\"x\",\"e\":true},"
		   "\"f\":[],\"g\":{},\"h\":[{},[-1]],\"i\":-9223372036854775808,"
		   "\"j\":18446744073709551615,\"k\":2.5,\"l\":\"abc\"}");
}

static void test_string_escapes(void **state)
{
	(void)state;
	struct fix f;
	fix_open(&f);
	itd_jw_str(f.w, "q\" b\\ n\n t\t r\r b\b f\f c\x01\x1f d\x7f /");
	expect(&f, "\"q\\\" b\\\\ n\\n t\\t r\\r b\\b f\\f c\\u0001\\u001f d\x7f /\"");

	/* Every position of a special byte relative to the 8-byte fast path. */
	for (size_t pos = 0; pos < 24; pos++) {
		char in[32], want[64];
		memset(in, 'a', 24);
		in[24] = '\0';
		in[pos] = '"';
		fix_open(&f);
		itd_jw_str(f.w, in);
		snprintf(want, sizeof want, "\"%.*s\\\"%s\"", (int)pos, in, in + pos + 1);
		expect(&f, want);
	}
	/* Keys are escaped too. */
	fix_open(&f);
	itd_jw_obj_begin(f.w);
	itd_jw_kstr(f.w, "k\"\n", "v");
	itd_jw_obj_end(f.w);
	expect(&f, "{\"k\\\"\\n\":\"v\"}");
}

static void test_utf8_passes_through(void **state)
{
	(void)state;
	struct fix f;
	const char *s = "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80 \xe2\x80\xa8 \xf4\x8f\xbf\xbf "
			"\xed\x9f\xbf \xee\x80\x80 long ascii tail to use the fast path";
	fix_open(&f);
	itd_jw_str(f.w, s);
	char want[256];
	snprintf(want, sizeof want, "\"%s\"", s);
	expect(&f, want);
}

static void test_invalid_utf8_is_replaced(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "\xff", "\xef\xbf\xbd" },
		{ "a\xc3", "a\xef\xbf\xbd" },                          /* truncated at end */
		{ "\xe2\x82x", "\xef\xbf\xbdx" },                      /* one maximal subpart */
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },            /* overlong */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
		{ "\xf4\x90\x80\x80",
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* above U+10FFFF */
		{ "\xf0\x9f\x98", "\xef\xbf\xbd" },                    /* truncated emoji */
		{ "\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd" },            /* stray continuations */
		{ "ok\xe0\x80\x80z", "ok\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fix f;
		char want[64];
		fix_open(&f);
		itd_jw_str(f.w, cases[i].in);
		snprintf(want, sizeof want, "\"%s\"", cases[i].out);
		expect(&f, want);
	}
}

/* Strict UTF-8 validation, independent of the writer's. */
static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t k;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + k > n)
			return false;
		for (size_t j = 1; j < k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
		if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k;
	}
	return true;
}

static void test_random_bytes_give_valid_json(void **state)
{
	(void)state;
	struct itd_rng rng;
	itd_rng_seed(&rng, 42, "jw");
	char in[200];
	static char out[2048];
	struct itd_jw *w = itd_jw_create(out, sizeof out);
	assert_non_null(w);
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = itd_rng_below(&rng, sizeof in);
		for (size_t i = 0; i < n; i++) {
			uint64_t r = itd_rng_next(&rng);
			/* Mostly ASCII, some controls, some high bytes. */
			in[i] = (char)(r % 4 == 0 ? (r >> 8) & 0xff : 0x20 + (r >> 8) % 95);
		}
		itd_jw_reset(w, out, sizeof out);
		itd_jw_strn(w, in, n);
		assert_false(itd_jw_overflowed(w));
		size_t len = itd_jw_len(w);
		assert_true(valid_utf8((const unsigned char *)out, len));
		cJSON *j = cJSON_ParseWithLength(out, len);
		assert_non_null(j);
		assert_true(cJSON_IsString(j));
		/* Valid input comes back unchanged. */
		if (valid_utf8((const unsigned char *)in, n) && memchr(in, 0, n) == NULL) {
			assert_int_equal(strlen(j->valuestring), n);
			assert_memory_equal(j->valuestring, in, n);
		}
		cJSON_Delete(j);
	}
	itd_jw_destroy(w);
}

static const char *num(double v, char *buf, size_t cap)
{
	struct itd_jw *w = itd_jw_create(buf, cap - 1);
	assert_non_null(w);
	itd_jw_num(w, v);
	assert_false(itd_jw_overflowed(w));
	buf[itd_jw_len(w)] = '\0';
	itd_jw_destroy(w);
	return buf;
}

static void test_numbers(void **state)
{
	(void)state;
	char b[64];
	assert_string_equal(num(4, b, sizeof b), "4");
	assert_string_equal(num(-3, b, sizeof b), "-3");
	assert_string_equal(num(0.0, b, sizeof b), "0");
	assert_string_equal(num(-0.0, b, sizeof b), "0");
	assert_string_equal(num(NAN, b, sizeof b), "null");
	assert_string_equal(num(INFINITY, b, sizeof b), "null");
	assert_string_equal(num(-INFINITY, b, sizeof b), "null");
	assert_string_equal(num(4.540000000000001, b, sizeof b), "4.540000000000001");
	assert_string_equal(num(0.1, b, sizeof b), "0.1");
	assert_string_equal(num(0.1 + 0.2, b, sizeof b), "0.30000000000000004");
	assert_string_equal(num(-12.5, b, sizeof b), "-12.5");
	assert_string_equal(num(0.61, b, sizeof b), "0.61");
	assert_string_equal(num(99.87, b, sizeof b), "99.87");
	assert_string_equal(num(1e-5, b, sizeof b), "0.00001");
	assert_string_equal(num(1.5e-7, b, sizeof b), "1.5e-07");
	assert_string_equal(num(1e300, b, sizeof b), "1e+300");
	assert_string_equal(num(5e-324, b, sizeof b), "5e-324");
	assert_string_equal(num(9007199254740991.0, b, sizeof b), "9007199254740991");
	assert_string_equal(num(4503599627370495.5, b, sizeof b), "4503599627370495.5");
	assert_string_equal(num(1.0 / 3, b, sizeof b), "0.3333333333333333");
	assert_string_equal(num(2.0 / 3, b, sizeof b), "0.6666666666666666");
	assert_string_equal(num(1e21, b, sizeof b), "1e+21");
	assert_string_equal(num(123456.789, b, sizeof b), "123456.789");
}

static void test_integers(void **state)
{
	(void)state;
	char buf[64], want[64];
	struct itd_jw *w = itd_jw_create(buf, sizeof buf - 1);
	uint64_t p = 1;
	for (int e = 0; e < 20; e++, p *= 10) {
		for (int d = -1; d <= 1; d++) {
			uint64_t v = p + (uint64_t)(int64_t)d;
			itd_jw_reset(w, buf, sizeof buf - 1);
			itd_jw_u64(w, v);
			buf[itd_jw_len(w)] = '\0';
			snprintf(want, sizeof want, "%llu", (unsigned long long)v);
			assert_string_equal(buf, want);
			itd_jw_reset(w, buf, sizeof buf - 1);
			itd_jw_i64(w, -(int64_t)(v >> 1));
			buf[itd_jw_len(w)] = '\0';
			snprintf(want, sizeof want, "%lld", -(long long)(v >> 1));
			assert_string_equal(buf, want);
		}
	}
	itd_jw_destroy(w);
}

static void test_overflow_never_writes_past_cap(void **state)
{
	(void)state;
	/* The full text is 66 bytes; every smaller capacity overflows without
	 * touching the byte after it, the exact one does not overflow. */
	const char *full = "{\"name\":\"a long enough string value\",\"n\":-1234567,\"x\":0.25,\"t\":true}";
	size_t full_len = strlen(full);
	for (size_t cap = 0; cap <= full_len + 1; cap++) {
		char buf[128];
		memset(buf, '#', sizeof buf);
		struct itd_jw *w = itd_jw_create(buf, cap);
		assert_non_null(w);
		itd_jw_obj_begin(w);
		itd_jw_kstr(w, "name", "a long enough string value");
		itd_jw_ki64(w, "n", -1234567);
		itd_jw_knum(w, "x", 0.25);
		itd_jw_kbool(w, "t", true);
		itd_jw_obj_end(w);
		assert_int_equal(itd_jw_overflowed(w), cap < full_len);
		assert_true(itd_jw_len(w) <= cap);
		assert_int_equal(buf[cap], '#');
		if (cap >= full_len)
			assert_memory_equal(buf, full, full_len);
		itd_jw_destroy(w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objects_arrays_and_commas),
		cmocka_unit_test(test_string_escapes),
		cmocka_unit_test(test_utf8_passes_through),
		cmocka_unit_test(test_invalid_utf8_is_replaced),
		cmocka_unit_test(test_random_bytes_give_valid_json),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_overflow_never_writes_past_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
