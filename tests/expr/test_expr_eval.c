/* test_expr_eval.c: evaluation construct by construct: every operator and
 * function, floored %, short circuit, if() of each type, strings, frames,
 * ITD_ERANGE on non-finite arithmetic, and the spacecraft's expressions. */
#include <math.h>

#include "test_support.h"
#include "expr_test_env.c"

static struct test_frame fr;

static int setup(void **state)
{
	(void)state;
	test_frame_init(&fr);
	return 0;
}

static void test_arithmetic(void **state)
{
	(void)state;
	assert_true(test_num("1 + 2", &fr) == 3);
	assert_true(test_num("state.battery + 1", &fr) == 4.2 + 1);
	assert_true(test_num("1 + state.battery", &fr) == 1 + 4.2);
	assert_true(test_num("10 - state.battery", &fr) == 10 - 4.2);
	assert_true(test_num("state.battery - 10", &fr) == 4.2 - 10);
	assert_true(test_num("state.battery - tick", &fr) == 4.2 - 7);
	assert_true(test_num("state.battery * tick", &fr) == 4.2 * 7);
	assert_true(test_num("3 * tick", &fr) == 21);
	assert_true(test_num("tick / 2", &fr) == 3.5);
	assert_true(test_num("14 / tick", &fr) == 2);
	assert_true(test_num("tick / state.battery", &fr) == 7 / 4.2);
	assert_true(test_num("-tick", &fr) == -7);
	assert_true(test_num("-(-tick)", &fr) == 7);
	assert_true(test_num("0.1 + 0.2", &fr) == 0.1 + 0.2);
}

static void test_floored_modulo(void **state)
{
	(void)state;
	assert_true(test_num("7 % 3", &fr) == 1);
	assert_true(test_num("-7 % 3", &fr) == 2);  /* sign of the divisor */
	assert_true(test_num("7 % -3", &fr) == -2);
	assert_true(test_num("-7 % -3", &fr) == -1);
	assert_true(test_num("7.5 % 2", &fr) == 1.5);
	assert_true(test_num("-0.5 % 2", &fr) == 1.5);
	assert_true(test_num("6 % 3", &fr) == 0);
	assert_true(test_num("tick % 20", &fr) == 7);
	assert_true(test_num("(tick - 10) % 20", &fr) == 17);
	assert_true(test_num("20 % tick", &fr) == 6);
	assert_true(test_num("tick % state.battery", &fr) == fmod(7, 4.2));
}

static void test_functions(void **state)
{
	(void)state;
	assert_true(test_num("min(3, 1, 2)", &fr) == 1);
	assert_true(test_num("max(3, 1, 2, 5)", &fr) == 5);
	assert_true(test_num("min(state.battery, 10)", &fr) == 4.2);
	assert_true(test_num("min(10, state.battery)", &fr) == 4.2);
	assert_true(test_num("max(0, state.battery)", &fr) == 4.2);
	assert_true(test_num("max(tick, state.battery, 100, 2)", &fr) == 100);
	assert_true(test_num("min(tick, state.battery, tick * 2)", &fr) == 4.2);
	assert_true(test_num("min(tick, 1, state.battery)", &fr) == 1);
	assert_true(test_num("clamp(5, 0, 3)", &fr) == 3);
	assert_true(test_num("clamp(-1, 0, 3)", &fr) == 0);
	assert_true(test_num("clamp(state.battery, 0, 100)", &fr) == 4.2);
	assert_true(test_num("clamp(tick, 10, 5)", &fr) == 5); /* hi wins when lo > hi */
	assert_true(test_num("abs(-2.5)", &fr) == 2.5);
	assert_true(test_num("abs(state.battery - tick)", &fr) == fabs(4.2 - 7));
	assert_true(test_num("floor(-1.5)", &fr) == -2);
	assert_true(test_num("floor(state.battery)", &fr) == 4);
	assert_true(test_num("ceil(-1.5)", &fr) == -1);
	assert_true(test_num("ceil(state.battery)", &fr) == 5);
	assert_true(test_num("round(state.battery)", &fr) == 4);
	assert_true(test_num("round(2.5 + tick * 0)", &fr) == 3);  /* half away from zero */
	assert_true(test_num("round(-2.5 + tick * 0)", &fr) == -3);
	assert_true(test_num("sqrt(tick + 9)", &fr) == 4);
	assert_true(test_bool("starts_with(intent.type, 'battery')", &fr));
	assert_false(test_bool("starts_with(intent.type, 'thermal')", &fr));
	assert_true(test_bool("starts_with(intent.type, '')", &fr));
	assert_true(test_bool("ends_with(intent.type, '_recovery')", &fr));
	assert_false(test_bool("ends_with('a', 'abc')", &fr));
	assert_true(test_bool("ends_with(state.name, state.name)", &fr));
}

static void test_if_each_type(void **state)
{
	(void)state;
	assert_true(test_num("if(state.ok, 1, 2)", &fr) == 1);
	assert_true(test_num("if(not state.ok, 1, 2)", &fr) == 2);
	assert_true(test_num("if(mode == 'SAFE', 20, if(mode == 'LOW_POWER', 30, 40))", &fr) == 20);
	assert_true(test_bool("if(tick > 5, intent.recovery, false)", &fr));
	assert_false(test_bool("if(tick > 50, true, state.ok and false)", &fr));
	test_str_is("if(tick > 5, mode, state.name)", &fr, "SAFE");
	test_str_is("if(tick > 50, mode, state.name)", &fr, "voyager");
	test_str_is("if(false, 'a', 'b')", &fr, "b");
	test_str_is("mode", &fr, "SAFE");
}

static void test_comparisons(void **state)
{
	(void)state;
	assert_true(test_bool("state.battery < 5", &fr));
	assert_true(test_bool("state.battery <= 4.2", &fr));
	assert_false(test_bool("state.battery > 4.2", &fr));
	assert_true(test_bool("state.battery >= 4.2", &fr));
	assert_true(test_bool("state.battery == 4.2", &fr));
	assert_true(test_bool("state.battery != 4", &fr));
	assert_true(test_bool("5 > state.battery", &fr));    /* constant on the left */
	assert_false(test_bool("4.2 < state.battery", &fr));
	assert_true(test_bool("4.2 <= state.battery", &fr));
	assert_true(test_bool("tick > state.battery", &fr));
	assert_true(test_bool("tick + 0 >= 7", &fr));
	assert_true(test_bool("threshold == 20", &fr));      /* intent slot */
	assert_true(test_bool("intent.blocked_ticks < threshold", &fr));
	/* strings: ==, != and bytewise ordering */
	assert_true(test_bool("mode == 'SAFE'", &fr));
	assert_false(test_bool("mode != 'SAFE'", &fr));
	assert_true(test_bool("'SAFE' == mode", &fr));
	assert_true(test_bool("intent.type == 'battery_recovery'", &fr));
	assert_true(test_bool("state.name < 'zeta'", &fr));
	assert_true(test_bool("state.name >= 'voyager'", &fr));
	assert_false(test_bool("state.name > 'voyager'", &fr));
	assert_true(test_bool("'abc' < 'abd'", &fr));
	assert_true(test_bool("'B' < 'a'", &fr));
	assert_true(test_bool("'' < 'a'", &fr));
	assert_true(test_bool("state.name != mode", &fr));
	/* bools: == and != */
	assert_true(test_bool("state.ok == true", &fr));
	assert_true(test_bool("intent.recovery != intent.flags.energy_intensive", &fr));
	assert_true(test_bool("(tick > 1) == state.ok", &fr));
	assert_false(test_bool("not state.ok", &fr));
}

static void test_short_circuit(void **state)
{
	(void)state;
	/* tick is 7, so 1 / (tick - 7) would be a range error if evaluated. */
	assert_false(test_bool("state.battery > 100 and 1 / (tick - 7) > 0", &fr));
	assert_true(test_bool("state.ok or 1 / (tick - 7) > 1", &fr));
	assert_true(test_num("if(tick == 7, 0, 1 / (tick - 7))", &fr) == 0);
	assert_true(test_bool("true or 1 / (tick - 7) > 1 and false", &fr));
	assert_false(test_bool("not state.ok and 1 / (tick - 7) > 1", &fr));
	/* and / or result values */
	assert_true(test_bool("state.ok and intent.recovery", &fr));
	assert_false(test_bool("state.ok and intent.flags.energy_intensive", &fr));
	assert_true(test_bool("intent.flags.energy_intensive or state.ok", &fr));
	assert_false(test_bool("intent.flags.energy_intensive or false", &fr));
	assert_true(test_bool("false or false or false or true", &fr));
	assert_false(test_bool("true and true and true and false", &fr));
}

static void expect_range(const char *src, bool nan)
{
	struct itd_expr *e = test_compile(src, ITD_T_NONE);
	struct itd_value v;
	if (itd_expr_eval(e, &fr.f, &v) != ITD_ERANGE)
		fail_msg("'%s' did not report ITD_ERANGE", src);
	assert_int_equal(v.type, ITD_T_NUM);
	assert_true(nan ? isnan(v.num) : isinf(v.num));
	itd_expr_destroy(e);
}

static void test_range_errors(void **state)
{
	(void)state;
	expect_range("1 / (tick - 7)", false);
	expect_range("tick / 0", false);
	expect_range("0 / (tick - 7)", true);
	expect_range("tick % 0", true);
	expect_range("tick % (tick - 7)", true);
	expect_range("sqrt(0 - tick)", true);
	expect_range("1e308 * tick", false);
	expect_range("1e308 + tick * 1e308", false);
	expect_range("-1e308 - tick * 1e308", false);
	expect_range("state.battery / (tick - 7) > 1", false); /* inside a bool */
	expect_range("min(1, 1 / (tick - 7))", false);
	/* The convenience forms report it too. */
	struct itd_expr *e = test_compile("tick / (tick - 7) > 0", ITD_T_BOOL);
	bool b = true;
	assert_int_equal(itd_expr_eval_bool(e, &fr.f, &b), ITD_ERANGE);
	assert_false(b);
	itd_expr_destroy(e);
	e = test_compile("tick / (tick - 7)", ITD_T_NUM);
	double d = 0;
	assert_int_equal(itd_expr_eval_num(e, &fr.f, &d), ITD_ERANGE);
	assert_true(isinf(d));
	itd_expr_destroy(e);
}

static void test_frames(void **state)
{
	(void)state;
	struct itd_value v;
	/* A constant needs no frame. */
	struct itd_expr *e = test_compile("1 + 2", ITD_T_NUM);
	assert_int_equal(itd_expr_eval(e, NULL, &v), 0);
	assert_int_equal(v.type, ITD_T_NUM);
	assert_true(v.num == 3);
	itd_expr_destroy(e);
	/* A global-only expression runs with no intent frame. */
	e = test_compile("state.battery * 2", ITD_T_NUM);
	struct itd_expr_frame g = { .global = fr.g, .intent = NULL };
	assert_int_equal(itd_expr_eval(e, &g, &v), 0);
	assert_true(v.num == 8.4);
	assert_int_equal(itd_expr_eval(e, NULL, &v), ITD_EINVAL); /* misuse is caught */
	itd_expr_destroy(e);
	e = test_compile("intent.recovery", ITD_T_BOOL);
	assert_int_equal(itd_expr_eval(e, &g, &v), ITD_EINVAL);
	assert_int_equal(itd_expr_eval(e, &fr.f, &v), 0);
	assert_int_equal(v.type, ITD_T_BOOL);
	assert_true(v.b);
	double d;
	assert_int_equal(itd_expr_eval_num(e, &fr.f, &d), ITD_EINVAL); /* not a number */
	itd_expr_destroy(e);
	/* Values change between evaluations of one compiled expression. */
	e = test_compile("state.battery <= 5 and mode == 'SAFE'", ITD_T_BOOL);
	bool b = false;
	assert_int_equal(itd_expr_eval_bool(e, &fr.f, &b), 0);
	assert_true(b);
	fr.g[G_BATTERY].num = 5.5;
	assert_int_equal(itd_expr_eval_bool(e, &fr.f, &b), 0);
	assert_false(b);
	fr.g[G_BATTERY].num = 1;
	fr.g[G_MODE].str = "NOMINAL";
	assert_int_equal(itd_expr_eval_bool(e, &fr.f, &b), 0);
	assert_false(b);
	itd_expr_destroy(e);
}

/* The spacecraft scenario's expressions give the values SPEC §6 says. */
static void test_spacecraft_expressions(void **state)
{
	(void)state;
	fr.g[G_BATTERY].num = 4;
	fr.g[G_TEMPERATURE].num = 120;
	fr.g[G_MODE].str = "NOMINAL";
	fr.g[G_TICK].num = 3;
	assert_true(test_bool("state.battery <= battery_safe or state.temperature >= temp_safe", &fr));
	assert_true(test_num("state.battery + if(tick % 20 < 14, 1.2 * 0.95 - 0.6, -0.6)", &fr) ==
		    4 + (1.2 * 0.95 - 0.6));
	fr.g[G_TICK].num = 15;
	assert_true(test_num("state.battery + if(tick % 20 < 14, 1.2 * 0.95 - 0.6, -0.6)", &fr) ==
		    4 + -0.6);
	assert_true(test_num("1000 * max(0, (threshold - state.battery) / threshold)", &fr) ==
		    1000 * ((20 - 4.0) / 20));
	assert_true(test_num("if(mode == 'SAFE', 20, if(mode == 'LOW_POWER', 30, "
			     "if(state.battery < 30, 30, 20)))", &fr) == 30);
	assert_true(test_num("if(ends_with(intent.type, '_recovery') and mode == 'LOW_POWER', 50, 0)"
			     " + if(ends_with(intent.type, '_recovery') and mode == 'NOMINAL', -200, 0)"
			     " - 0.5 * intent.blocked_ticks", &fr) == -200 - 1.5);
	assert_false(test_bool("(state.position < -position_limit or state.position > "
			       "position_limit) and not intent.recovery", &fr));
	fr.g[G_POSITION].num = -11;
	fr.in[I_RECOVERY].b = false;
	assert_true(test_bool("(state.position < -position_limit or state.position > "
			      "position_limit) and not intent.recovery", &fr));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_arithmetic, setup),
		cmocka_unit_test_setup(test_floored_modulo, setup),
		cmocka_unit_test_setup(test_functions, setup),
		cmocka_unit_test_setup(test_if_each_type, setup),
		cmocka_unit_test_setup(test_comparisons, setup),
		cmocka_unit_test_setup(test_short_circuit, setup),
		cmocka_unit_test_setup(test_range_errors, setup),
		cmocka_unit_test_setup(test_frames, setup),
		cmocka_unit_test_setup(test_spacecraft_expressions, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
