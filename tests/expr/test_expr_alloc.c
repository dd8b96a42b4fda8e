/* test_expr_alloc.c: every allocation of a compile can fail; each failure
 * returns ITD_ENOMEM with *out NULL and leaks nothing (the ASan build's
 * leak check sees to that), and after the walk compiles still succeed. */
#include "test_support.h"
#include "expr_test_env.c"

static void walk(const char *src)
{
	struct test_frame fr;
	test_frame_init(&fr);
	for (long n = 1;; n++) {
		struct itd_expr *e = (struct itd_expr *)&e;
		struct itd_expr_error err;
		itd_alloc_fail_at(n);
		int rc = itd_expr_compile(src, strlen(src), &test_env, ITD_T_NONE, &e, &err);
		bool failed = itd_alloc_failed();
		itd_alloc_fail_at(0);
		if (!failed) {
			/* No injected failure left to hit: this compile must work. */
			assert_int_equal(rc, 0);
			assert_non_null(e);
			char buf[256];
			assert_true(itd_expr_explain(e, &fr.f, buf, sizeof buf) > 0);
			itd_expr_destroy(e);
			assert_true(n > 1);
			return;
		}
		if (rc != ITD_ENOMEM)
			fail_msg("'%s' with allocation %ld failing: %s", src, n, itd_err_name(rc));
		assert_null(e);
		assert_string_equal(err.msg, "out of memory");
	}
}

static void test_every_allocation_failure(void **state)
{
	(void)state;
	walk("if(mode == 'SAFE', min(state.battery, 10) + 1, max(tick, 2)) > threshold and "
	     "starts_with(intent.type, 'b') or not intent.recovery");
	walk("1000 * max(0, (threshold - state.battery) / threshold)");
	walk("1");
}

/* Failures in the middle of a sequence leave earlier expressions intact. */
static void test_failure_does_not_disturb_others(void **state)
{
	(void)state;
	struct test_frame fr;
	test_frame_init(&fr);
	struct itd_expr *a = test_compile("state.battery * 2", ITD_T_NUM), *b = NULL;
	struct itd_expr_error err;
	itd_alloc_fail_at(1);
	assert_int_equal(itd_expr_compile("tick + 1", 8, &test_env, ITD_T_NUM, &b, &err), ITD_ENOMEM);
	itd_alloc_fail_at(0);
	assert_null(b);
	double v = 0;
	assert_int_equal(itd_expr_eval_num(a, &fr.f, &v), 0);
	assert_true(v == 8.4);
	itd_expr_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_allocation_failure),
		cmocka_unit_test(test_failure_does_not_disturb_others),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
