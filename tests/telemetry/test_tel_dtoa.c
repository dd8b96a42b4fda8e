/* test_tel_dtoa.c: numbers read back as the very same double, are as short
 * as any decimal that does, and are deterministic. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/telemetry.h"
#include "test_support.h"

static size_t write_num(struct itd_jw *w, char *buf, size_t cap, double v)
{
	itd_jw_reset(w, buf, cap - 1);
	itd_jw_num(w, v);
	assert_false(itd_jw_overflowed(w));
	size_t n = itd_jw_len(w);
	buf[n] = '\0';
	return n;
}

/* The significant digits of a decimal text, without leading or trailing
 * zeros ("0.00120" -> "12"). */
static void sig_digits(const char *s, char *out)
{
	size_t k = 0;
	for (; *s && *s != 'e' && *s != 'E'; s++) {
		if (*s < '0' || *s > '9')
			continue;
		if (k == 0 && *s == '0')
			continue;
		out[k++] = *s;
	}
	while (k > 0 && out[k - 1] == '0')
		k--;
	out[k] = '\0';
}

/* The shortest "%.Ng" that reads back as v: the reference. */
static void reference(double v, char *out, size_t cap)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, cap, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
	fail_msg("no round trip for %a", v);
}

static unsigned n_ties;

static void check(struct itd_jw *w, double v)
{
	char ours[64], ref[64], d1[32], d2[32];
	write_num(w, ours, sizeof ours, v);
	if (!isfinite(v)) {
		assert_string_equal(ours, "null");
		return;
	}
	double back = strtod(ours, NULL);
	if (v == 0) {
		assert_string_equal(ours, "0");
		return;
	}
	if (memcmp(&back, &v, sizeof v) != 0)
		fail_msg("%a written as %s reads back as %a", v, ours, back);
	/* JSON grammar: no leading '+', no leading zeros, no bare '.'. */
	assert_true(ours[0] == '-' || (ours[0] >= '0' && ours[0] <= '9'));
	reference(v, ref, sizeof ref);
	sig_digits(ours, d1);
	sig_digits(ref, d2);
	if (strlen(d1) != strlen(d2))
		fail_msg("%a: ours %s, shortest %s", v, ours, ref);
	if (strcmp(d1, d2) != 0)
		n_ties++; /* same length, both exact: only an exact decimal tie may differ */
	/* Deterministic. */
	char again[64];
	write_num(w, again, sizeof again, v);
	assert_string_equal(ours, again);
}

static void test_random_bit_patterns_round_trip(void **state)
{
	(void)state;
	char buf[64];
	struct itd_jw *w = itd_jw_create(buf, sizeof buf);
	struct itd_rng rng;
	itd_rng_seed(&rng, 7, "dtoa");
	for (int i = 0; i < 100000; i++) {
		uint64_t bits = itd_rng_next(&rng);
		double v;
		memcpy(&v, &bits, sizeof v);
		check(w, v);
	}
	itd_jw_destroy(w);
}

static void test_realistic_values_round_trip_shortest(void **state)
{
	(void)state;
	char buf[64];
	struct itd_jw *w = itd_jw_create(buf, sizeof buf);
	struct itd_rng rng;
	itd_rng_seed(&rng, 8, "dtoa");
	for (int i = 0; i < 100000; i++) {
		double u = itd_rng_uniform(&rng);
		double scale = pow(10, (double)itd_rng_below(&rng, 16) - 6);
		check(w, u * scale);                           /* 15-17 digits */
		check(w, round(u * 1000) / 1000 * scale);      /* few digits */
		check(w, -(round(u * 1e6) / 100));             /* cents */
		check(w, 4.54 + (double)itd_rng_below(&rng, 5) * 1e-15);
	}
	itd_jw_destroy(w);
}

static void test_edges(void **state)
{
	(void)state;
	char buf[64];
	struct itd_jw *w = itd_jw_create(buf, sizeof buf);
	static const double edges[] = {
		DBL_MIN, DBL_MAX, DBL_TRUE_MIN, -DBL_MAX, DBL_EPSILON, 1e-5, 9.999999999999999e-6,
		0x1p52 + 0.5, 0x1p53 - 1, 0x1p53, 0x1p53 + 2, 0x1p-1, 0x1p-16, 0x1p-17,
		1.0000000000000002, 0.9999999999999999, 1e15 + 0.3, 123456789.123456789,
		5e-324, 1e23, 8.41e21, 5.0e-310, 2.2250738585072009e-308,
	};
	for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
		check(w, edges[i]);
		check(w, -edges[i]);
		check(w, nextafter(edges[i], 0));
		check(w, nextafter(edges[i], INFINITY));
	}
	/* Around every power of two, where the lower gap is half the upper. */
	for (int e = -1074; e <= 1023; e++) {
		double p = ldexp(1, e);
		check(w, p);
		check(w, nextafter(p, 0));
		check(w, nextafter(p, INFINITY));
	}
	itd_jw_destroy(w);
	/* Ties between two shortest decimals are the only allowed difference
	 * from printf's choice, and they are rare. */
	assert_true(n_ties < 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_bit_patterns_round_trip),
		cmocka_unit_test(test_realistic_values_round_trip_shortest),
		cmocka_unit_test(test_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
