/* test_expr_parse.c: the grammar: precedence and associativity of every
 * operator, parentheses, calls, every syntax error with its offset and
 * message, and the limits on length, nesting and code size. */
#include <stdlib.h>

#include "test_support.h"
#include "expr_test_env.c"

static struct test_frame fr;

static int setup(void **state)
{
	(void)state;
	test_frame_init(&fr);
	return 0;
}

static void test_arithmetic_precedence(void **state)
{
	(void)state;
	assert_true(test_num("1 + 2 * 3", &fr) == 7);
	assert_true(test_num("(1 + 2) * 3", &fr) == 9);
	assert_true(test_num("10 - 4 - 3", &fr) == 3);      /* left associative */
	assert_true(test_num("100 / 10 / 5", &fr) == 2);
	assert_true(test_num("2 * 3 % 4", &fr) == 2);       /* (2 * 3) % 4 */
	assert_true(test_num("2 + 3 % 4", &fr) == 5);       /* % binds like * */
	assert_true(test_num("-2 * 3", &fr) == -6);
	assert_true(test_num("- -2", &fr) == 2);
	assert_true(test_num("-(2 + 3) * 2", &fr) == -10);
	assert_true(test_num("2 - -3", &fr) == 5);
	assert_true(test_num("((((7))))", &fr) == 7);
	assert_true(test_num(" \t\n1\n+\r\n2 ", &fr) == 3);
}

static void test_boolean_precedence(void **state)
{
	(void)state;
	assert_true(test_bool("1 + 2 == 3", &fr));
	assert_true(test_bool("not 1 == 2", &fr));            /* not (1 == 2) */
	assert_true(test_bool("true or false and false", &fr)); /* and binds tighter */
	assert_false(test_bool("(true or false) and false", &fr));
	assert_true(test_bool("not true or true", &fr));      /* (not true) or true */
	assert_false(test_bool("not (true or true)", &fr));
	assert_true(test_bool("not not true", &fr));
	assert_true(test_bool("(1 < 2) == true", &fr));
	assert_true(test_bool("1 < 2 and 2 < 3 or false", &fr));
}

static void test_calls_parse(void **state)
{
	(void)state;
	assert_true(test_num("min(3, 1, 2)", &fr) == 1);
	assert_true(test_num("max ( 1 , 2 )", &fr) == 2);
	assert_true(test_num("if(true, min(1, 2), max(3, 4)) + 1", &fr) == 2);
	assert_true(test_num("abs(-(3))", &fr) == 3);
}

static void expect(const char *src, int rc, size_t off, const char *msg)
{
	struct itd_expr_error err = test_compile_err(src, rc);
	if (err.offset != off || strcmp(err.msg, msg) != 0)
		fail_msg("'%s': got %zu '%s', want %zu '%s'", src, err.offset, err.msg, off, msg);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect("", ITD_EPARSE, 0, "expected an expression, got end of input");
	expect("   ", ITD_EPARSE, 3, "expected an expression, got end of input");
	expect("1 +", ITD_EPARSE, 3, "expected an expression, got end of input");
	expect(")", ITD_EPARSE, 0, "expected an expression, got ')'");
	expect("1 * * 2", ITD_EPARSE, 4, "expected an expression, got '*'");
	expect("(1 + 2", ITD_EPARSE, 6, "expected ')' to close '(' at offset 0");
	expect("2 * (4 + (1 + 2)", ITD_EPARSE, 16, "expected ')' to close '(' at offset 4");
	expect("1 2", ITD_EPARSE, 2, "unexpected '2' after the expression");
	expect("(1) )", ITD_EPARSE, 4, "unexpected ')' after the expression");
	expect("1 < 2 < 3", ITD_EPARSE, 6, "comparisons do not chain: join them with 'and'");
	expect("1 == 1 != true", ITD_EPARSE, 7, "comparisons do not chain: join them with 'and'");
	expect("min(1, 2", ITD_EPARSE, 8, "expected ',' or ')' in call to 'min' at offset 0");
	expect("1 + max(1 2)", ITD_EPARSE, 10, "expected ',' or ')' in call to 'max' at offset 4");
	expect("max(, 1)", ITD_EPARSE, 4, "expected an expression, got ','");
	expect("max(1,)", ITD_EPARSE, 6, "expected an expression, got ')'");
	expect("not", ITD_EPARSE, 3, "expected an expression, got end of input");
	expect("1 + 'abc", ITD_EPARSE, 4, "unterminated string");
	expect("and", ITD_EPARSE, 0, "expected an expression, got 'and'");
	expect("mx(1, 2)", ITD_ENOTFOUND, 0,
	       "unknown function 'mx' (known: if, min, max, clamp, abs, floor, ceil, round, "
	       "sqrt, starts_with, ends_with)");
	expect("1 + state.battery(2)", ITD_ENOTFOUND, 4,
	       "unknown function 'state.battery' (known: if, min, max, clamp, abs, floor, ceil, "
	       "round, sqrt, starts_with, ends_with)");
}

/* n copies of a, then s, then n copies of b, as a malloc'd string. */
static char *repeat(const char *a, int n, const char *s, const char *b)
{
	size_t len = strlen(a) * (size_t)n + strlen(s) + strlen(b) * (size_t)n + 1;
	char *p = malloc(len);
	assert_non_null(p);
	p[0] = '\0';
	for (int i = 0; i < n; i++)
		strcat(p, a);
	strcat(p, s);
	for (int i = 0; i < n; i++)
		strcat(p, b);
	return p;
}

static void test_limits(void **state)
{
	(void)state;
	struct itd_expr *e = NULL;
	struct itd_expr_error err;

	/* Length: ITD_EXPR_MAX_SOURCE bytes are fine, one more is not. */
	char *src = malloc(ITD_EXPR_MAX_SOURCE + 2);
	assert_non_null(src);
	memset(src, ' ', ITD_EXPR_MAX_SOURCE + 1);
	src[0] = '1';
	assert_int_equal(itd_expr_compile(src, ITD_EXPR_MAX_SOURCE, &test_env, ITD_T_NUM, &e, &err), 0);
	itd_expr_destroy(e);
	assert_int_equal(itd_expr_compile(src, ITD_EXPR_MAX_SOURCE + 1, &test_env, ITD_T_NUM, &e, &err),
			 ITD_ELIMIT);
	assert_null(e);
	assert_string_equal(err.msg, "expression too long: 4097 bytes (limit 4096)");
	free(src);

	/* Nesting through parentheses, unary operators, not and calls. */
	src = repeat("(", 60, "1", ")");
	assert_true(test_num(src, &fr) == 1);
	free(src);
	src = repeat("(", 70, "1", ")");
	err = test_compile_err(src, ITD_ELIMIT);
	assert_string_equal(err.msg, "expression nested too deeply (limit 64 levels)");
	assert_int_equal(err.offset, 64);
	free(src);
	src = repeat("-", 70, "1", "");
	test_compile_err(src, ITD_ELIMIT);
	free(src);
	src = repeat("not ", 70, "true", "");
	test_compile_err(src, ITD_ELIMIT);
	free(src);
	src = repeat("abs(", 70, "1", ")");
	test_compile_err(src, ITD_ELIMIT);
	free(src);
	/* A long left-deep chain is a deep tree too. */
	src = repeat("1 + ", 63, "1", "");
	assert_true(test_num(src, &fr) == 64);
	free(src);
	src = repeat("1 + ", 64, "1", "");
	err = test_compile_err(src, ITD_ELIMIT);
	assert_string_equal(err.msg, "expression nested too deeply (limit 64 levels)");
	free(src);

	/* Code size: a flat call with hundreds of arguments. */
	src = repeat("tick, ", 600, "tick)", "");
	char *call = repeat("", 0, "max(", "");
	char *both = malloc(strlen(call) + strlen(src) + 1);
	assert_non_null(both);
	strcpy(both, call);
	strcat(both, src);
	err = test_compile_err(both, ITD_ELIMIT);
	assert_string_equal(err.msg, "expression too large: more than 1024 instructions");
	free(both);
	free(call);
	free(src);
}

static void test_source_is_a_copy(void **state)
{
	(void)state;
	char buf[] = { '1', '+', '2', 'X', 'Y' }; /* not NUL-terminated */
	struct itd_expr *e = NULL;
	struct itd_expr_error err;
	assert_int_equal(itd_expr_compile(buf, 3, &test_env, ITD_T_NUM, &e, &err), 0);
	buf[0] = '9';
	assert_string_equal(itd_expr_source(e), "1+2");
	assert_int_equal(itd_expr_type(e), ITD_T_NUM);
	double v = 0;
	assert_int_equal(itd_expr_eval_num(e, NULL, &v), 0);
	assert_true(v == 3);
	itd_expr_destroy(e);
	itd_expr_destroy(NULL);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	struct itd_expr *e = (struct itd_expr *)&e;
	struct itd_expr_error err;
	assert_int_equal(itd_expr_compile(NULL, 3, &test_env, ITD_T_NONE, &e, &err), ITD_EINVAL);
	assert_null(e);
	assert_int_equal(itd_expr_compile("1", 1, &test_env, ITD_T_NONE, NULL, &err), ITD_EINVAL);
	/* err may be NULL; a NULL env knows no names. */
	assert_int_equal(itd_expr_compile("1 +", 3, NULL, ITD_T_NONE, &e, NULL), ITD_EPARSE);
	assert_int_equal(itd_expr_compile("x", 1, NULL, ITD_T_NONE, &e, &err), ITD_ENOTFOUND);
	assert_string_equal(err.msg, "unknown name 'x'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_arithmetic_precedence, setup),
		cmocka_unit_test_setup(test_boolean_precedence, setup),
		cmocka_unit_test_setup(test_calls_parse, setup),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test_setup(test_limits, setup),
		cmocka_unit_test(test_source_is_a_copy),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
