/* test_core.c: the allocator hook, error table, clock stamps, RNG streams
 * and hashes behave as the rest of intentd relies on. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "test_support.h"

static void test_alloc_fail_at_fails_exactly_that_allocation(void **state)
{
	(void)state;
	itd_alloc_fail_at(3);
	void *a = itd_malloc(8), *b = itd_malloc(8), *c = itd_malloc(8), *d = itd_malloc(8);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(c);
	assert_non_null(d);
	assert_true(itd_alloc_failed());
	assert_int_equal(itd_alloc_count(), 4);
	itd_free(a);
	itd_free(b);
	itd_free(d);
	itd_alloc_fail_at(0);
	char *s = itd_strndup("hello world", 5);
	assert_string_equal(s, "hello");
	itd_free(s);
	assert_false(itd_alloc_failed());
}

static void test_error_table_names_and_messages(void **state)
{
	(void)state;
	assert_string_equal(itd_err_name(ITD_ENOMEM), "NOMEM");
	assert_string_equal(itd_err_msg(ITD_ENOMEM), "out of memory");
	assert_string_equal(itd_err_name(ITD_OK), "OK");
	assert_string_equal(itd_err_name(12345), "UNKNOWN");
	assert_string_equal(itd_err_name(ITD_ECONFIG), "CONFIG");
}

static void test_iso_stamps(void **state)
{
	(void)state;
	char buf[ITD_ISO_LEN + 1];
	assert_int_equal(itd_clock_iso(ITD_CLOCK_SIM_EPOCH_MS + 1000, buf), ITD_ISO_LEN);
	assert_string_equal(buf, "2025-01-01T00:00:01.000Z");
	itd_clock_iso(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	itd_clock_iso(INT64_C(951782400123), buf); /* a leap day */
	assert_string_equal(buf, "2000-02-29T00:00:00.123Z");
	itd_clock_iso(INT64_C(1767225599999), buf);
	assert_string_equal(buf, "2025-12-31T23:59:59.999Z");
}

static void test_sim_clock_is_deterministic(void **state)
{
	(void)state;
	struct itd_clock c;
	itd_clock_init(&c, ITD_CLOCK_SIM, 1.0);
	assert_int_equal(itd_clock_tick_ms(&c, 1), ITD_CLOCK_SIM_EPOCH_MS + 1000);
	itd_clock_init(&c, ITD_CLOCK_SIM, 1000.0);
	assert_int_equal(itd_clock_tick_ms(&c, 5), ITD_CLOCK_SIM_EPOCH_MS + 5);
	itd_clock_init(&c, ITD_CLOCK_SIM, 0);
	assert_int_equal(c.period_ns, 0);
	assert_int_equal(itd_clock_tick_ms(&c, 3), ITD_CLOCK_SIM_EPOCH_MS + 3000);
	uint64_t a = itd_clock_mono_ns(), b = itd_clock_mono_ns();
	assert_true(b >= a);
}

static void test_rng_streams_are_named_and_restorable(void **state)
{
	(void)state;
	struct itd_rng a, b, c;
	itd_rng_seed(&a, 42, "retry");
	itd_rng_seed(&b, 42, "retry");
	itd_rng_seed(&c, 42, "faults");
	uint64_t va = itd_rng_next(&a);
	assert_int_equal(va, itd_rng_next(&b));
	assert_true(va != itd_rng_next(&c));

	uint8_t saved[ITD_RNG_STATE_LEN];
	itd_rng_save(&a, saved);
	uint64_t expect[8];
	for (int i = 0; i < 8; i++)
		expect[i] = itd_rng_next(&a);
	struct itd_rng r;
	assert_int_equal(itd_rng_restore(&r, saved), ITD_OK);
	for (int i = 0; i < 8; i++)
		assert_int_equal(itd_rng_next(&r), expect[i]);

	uint8_t zero[ITD_RNG_STATE_LEN] = {0};
	assert_int_equal(itd_rng_restore(&r, zero), ITD_EINVAL);

	double sum = 0;
	for (int i = 0; i < 10000; i++) {
		double u = itd_rng_uniform(&c);
		assert_true(u >= 0.0 && u < 1.0);
		sum += u;
		assert_true(itd_rng_below(&c, 7) < 7);
	}
	assert_true(fabs(sum / 10000 - 0.5) < 0.02);
}

static void test_hashes(void **state)
{
	(void)state;
	uint8_t out[ITD_SHA256_LEN];
	char hex[2 * ITD_SHA256_LEN + 1];
	assert_int_equal(itd_sha256("abc", 3, out), ITD_OK);
	itd_hex(out, sizeof out, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* RFC 4231 test case 2. */
	assert_int_equal(itd_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, out), ITD_OK);
	itd_hex(out, sizeof out, hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

	struct itd_hash_stream h;
	itd_hash_stream_init(&h, 7);
	itd_hash_stream_update(&h, "hello ", 6);
	itd_hash_stream_update(&h, "world", 5);
	assert_int_equal(itd_hash_stream_digest(&h), itd_hash64("hello world", 11, 7));
	assert_true(itd_hash64("a", 1, 0) != itd_hash64("b", 1, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_fail_at_fails_exactly_that_allocation),
		cmocka_unit_test(test_error_table_names_and_messages),
		cmocka_unit_test(test_iso_stamps),
		cmocka_unit_test(test_sim_clock_is_deterministic),
		cmocka_unit_test(test_rng_streams_are_named_and_restorable),
		cmocka_unit_test(test_hashes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
