/* test_expr_explain.c: explanations of boolean results name exactly the
 * deciding atoms with their operand values, for and/or/not combinations;
 * truncation never overflows; values format as documented. */
#include "test_support.h"
#include "expr_test_env.c"

static struct test_frame fr;

static int setup(void **state)
{
	(void)state;
	test_frame_init(&fr);
	return 0;
}

static void expect(const char *src, const char *want)
{
	struct itd_expr *e = test_compile(src, ITD_T_NONE);
	char buf[512];
	size_t n = itd_expr_explain(e, &fr.f, buf, sizeof buf);
	if (strcmp(buf, want) != 0)
		fail_msg("explain '%s':\n got  '%s'\n want '%s'", src, buf, want);
	assert_int_equal(n, strlen(want));
	itd_expr_destroy(e);
}

static void test_atoms(void **state)
{
	(void)state;
	expect("state.battery <= 5", "state.battery=4.2 <= 5");
	expect("mode == 'SAFE'", "mode=SAFE == SAFE");
	expect("intent.recovery", "intent.recovery=true");
	expect("state.battery <= battery_safe", "state.battery=4.2 <= battery_safe=10");
	expect("5 >= state.battery", "5 >= state.battery=4.2");
	expect("state.position > -5", "state.position=0 > -5");
	expect("state.position < -position_limit", "state.position=0 < -position_limit=-10");
	expect("state.battery + 1 > 5", "state.battery + 1=5.2 > 5");
	expect("(state.battery + 1) * 2 > 5", "(state.battery + 1) * 2=10.4 > 5");
	expect("starts_with(intent.type, 'battery')", "starts_with(intent.type, 'battery')=true");
	expect("true", "true");
	expect("enabled", "enabled=true");
	expect("tick / 3 > 2", "tick / 3=2.33333333333333 > 2");
	expect("state.name < 'zeta'", "state.name=voyager < zeta");
	expect("if(state.ok, tick, 0) == 7", "if(state.ok, tick, 0)=7 == 7");
	expect("(tick > 1) == state.ok", "(tick > 1)=true == state.ok=true");
	/* A non-boolean expression explains as its value. */
	expect("state.battery * 2", "state.battery * 2=8.4");
	expect("mode", "mode=SAFE");
}

static void test_and_or_not(void **state)
{
	(void)state;
	/* true and: both atoms */
	expect("mode == 'SAFE' and not intent.recovery and state.battery < 5",
	       "intent.recovery=true");
	fr.in[I_RECOVERY].b = false;
	expect("mode == 'SAFE' and not intent.recovery",
	       "mode=SAFE == SAFE and intent.recovery=false");
	/* false and: the first false */
	expect("state.battery > 5 and mode == 'SAFE'", "state.battery=4.2 > 5");
	expect("mode == 'SAFE' and state.battery > 5 and tick > 100", "state.battery=4.2 > 5");
	/* true or: the first true */
	expect("state.battery <= battery_safe or state.temperature >= temp_safe",
	       "state.battery=4.2 <= battery_safe=10");
	expect("state.battery > 50 or state.temperature >= temp_safe",
	       "state.temperature=120 >= temp_safe=120");
	/* false or: all */
	fr.g[G_BATTERY].num = 50;
	fr.g[G_TEMPERATURE].num = 100;
	expect("state.battery <= battery_safe or state.temperature >= temp_safe",
	       "state.battery=50 <= battery_safe=10 and state.temperature=100 >= temp_safe=120");
	/* not passes through, in both directions */
	expect("not (state.battery < 10)", "state.battery=50 < 10");
	expect("not (state.battery > 10 and tick > 1)", "state.battery=50 > 10 and tick=7 > 1");
	expect("not (state.battery < 10 or tick < 1)", "state.battery=50 < 10 and tick=7 < 1");
	/* mixed: an or inside an and */
	fr.g[G_POSITION].num = 11;
	expect("(state.position < -position_limit or state.position > position_limit) and "
	       "not intent.recovery",
	       "state.position=11 > position_limit=10 and intent.recovery=false");
	fr.in[I_RECOVERY].b = true;
	expect("(state.position < -position_limit or state.position > position_limit) and "
	       "not intent.recovery",
	       "intent.recovery=true");
	fr.g[G_POSITION].num = 0;
	expect("(state.position < -position_limit or state.position > position_limit) and "
	       "not intent.recovery",
	       "state.position=0 < -position_limit=-10 and state.position=0 > position_limit=10");
}

static void test_range_error_is_explained(void **state)
{
	(void)state;
	expect("1 / (tick - 7) > 1", "arithmetic result not finite: inf");
	expect("tick < 10 or 1 / (tick - 7) > 1", "tick=7 < 10"); /* never evaluated */
}

static void test_truncation(void **state)
{
	(void)state;
	struct itd_expr *e = test_compile("state.battery <= 5", ITD_T_BOOL);
	char buf[32];
	memset(buf, 'Z', sizeof buf);
	assert_int_equal(itd_expr_explain(e, &fr.f, buf, 10), 9);
	assert_string_equal(buf, "state....");
	assert_int_equal(buf[10], 'Z');
	assert_int_equal(itd_expr_explain(e, &fr.f, buf, 3), 2);
	assert_string_equal(buf, "..");
	assert_int_equal(itd_expr_explain(e, &fr.f, buf, 1), 0);
	assert_string_equal(buf, "");
	buf[0] = 'Z';
	assert_int_equal(itd_expr_explain(e, &fr.f, buf, 0), 0);
	assert_int_equal(buf[0], 'Z');
	/* Exactly fitting is not truncated. */
	assert_int_equal(itd_expr_explain(e, &fr.f, buf, 23), 22);
	assert_string_equal(buf, "state.battery=4.2 <= 5");
	assert_int_equal(itd_expr_explain(e, &fr.f, buf, 22), 21);
	assert_string_equal(buf, "state.battery=4.2 ...");
	itd_expr_destroy(e);
}

static void test_value_format(void **state)
{
	(void)state;
	static const struct {
		double num;
		const char *want;
	} nums[] = {
		{ 4.2, "4.2" }, { 100, "100" }, { -0.5, "-0.5" }, { 0.1 + 0.2, "0.3" },
		{ 1.0 / 3, "0.333333333333333" }, { 1e20, "1e+20" }, { 123456789012345678.0, "1.23456789012346e+17" },
		{ 0, "0" },
	};
	char buf[64];
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		struct itd_value v = { .type = ITD_T_NUM, .num = nums[i].num };
		assert_int_equal(itd_value_format(&v, buf, sizeof buf), strlen(nums[i].want));
		assert_string_equal(buf, nums[i].want);
	}
	struct itd_value b = { .type = ITD_T_BOOL, .b = false };
	itd_value_format(&b, buf, sizeof buf);
	assert_string_equal(buf, "false");
	struct itd_value s = { .type = ITD_T_STR, .str = "LOW_POWER" };
	itd_value_format(&s, buf, sizeof buf);
	assert_string_equal(buf, "LOW_POWER");
	assert_int_equal(itd_value_format(&s, buf, 4), 3);
	assert_string_equal(buf, "LOW");
	assert_int_equal(itd_value_format(&s, buf, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_atoms, setup),
		cmocka_unit_test_setup(test_and_or_not, setup),
		cmocka_unit_test_setup(test_range_error_is_explained, setup),
		cmocka_unit_test_setup(test_truncation, setup),
		cmocka_unit_test(test_value_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
