/* test_expr_lex.c: the lexer yields the right tokens with their byte
 * offsets, never reads past the given length, and reports bad input with
 * the offending offset. */
#include "expr/expr_int.h"
#include "test_support.h"

struct lexed {
	struct tok t[32];
	size_t n;
	int rc;
	struct itd_expr_error err;
};

static struct lexed lex_all(const char *src, size_t len)
{
	struct lexed l = { .n = 0 };
	struct lexer lx = { .src = src, .len = len, .pos = 0 };
	do {
		l.rc = expr_lex_next(&lx, &l.t[l.n], &l.err);
		if (l.rc)
			break;
	} while (l.t[l.n++].kind != TK_EOF && l.n < 32);
	return l;
}

static void test_operators_and_offsets(void **state)
{
	(void)state;
	const char *src = "( ) , + - * / % == != < <= > >=";
	static const enum tok_kind want[] = {
		TK_LPAREN, TK_RPAREN, TK_COMMA, TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_PERCENT,
		TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE, TK_EOF,
	};
	static const size_t off[] = { 0, 2, 4, 6, 8, 10, 12, 14, 16, 19, 22, 24, 27, 29, 31 };
	struct lexed l = lex_all(src, strlen(src));
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 15);
	for (size_t i = 0; i < l.n; i++) {
		assert_int_equal(l.t[i].kind, want[i]);
		assert_int_equal(l.t[i].off, off[i]);
	}
	assert_int_equal(l.t[8].len, 2);
	assert_int_equal(l.t[10].len, 1);
}

static void test_keywords_and_dotted_names(void **state)
{
	(void)state;
	const char *src = "and or not true false android state.battery intent.goal.reference _x1";
	struct lexed l = lex_all(src, strlen(src));
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 10);
	assert_int_equal(l.t[0].kind, TK_AND);
	assert_int_equal(l.t[1].kind, TK_OR);
	assert_int_equal(l.t[2].kind, TK_NOT);
	assert_int_equal(l.t[3].kind, TK_TRUE);
	assert_int_equal(l.t[4].kind, TK_FALSE);
	assert_int_equal(l.t[5].kind, TK_NAME); /* a keyword prefix is still a name */
	assert_int_equal(l.t[6].kind, TK_NAME);
	assert_int_equal(l.t[6].off, 30);
	assert_int_equal(l.t[6].len, strlen("state.battery"));
	assert_int_equal(l.t[7].len, strlen("intent.goal.reference"));
	assert_int_equal(l.t[8].kind, TK_NAME);
	assert_int_equal(l.t[9].kind, TK_EOF);
	assert_int_equal(l.t[9].off, strlen(src));
}

static void test_numbers(void **state)
{
	(void)state;
	const char *src = "0 42 3.25 .5 1e3 2.5E-2 7.";
	static const double want[] = { 0, 42, 3.25, 0.5, 1000, 0.025, 7 };
	struct lexed l = lex_all(src, strlen(src));
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 8);
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(l.t[i].kind, TK_NUM);
		assert_true(l.t[i].num == want[i]);
	}
	assert_int_equal(l.t[5].off, 17);
	assert_int_equal(l.t[5].len, 6);
}

static void test_number_does_not_read_past_len(void **state)
{
	(void)state;
	/* Only "12" is the source; the bytes after it must not be read. */
	char buf[8] = { '1', '2', '3', '4', 'e', '5', '.', '9' };
	struct lexed l = lex_all(buf, 2);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.t[0].kind, TK_NUM);
	assert_true(l.t[0].num == 12);
	assert_int_equal(l.t[1].kind, TK_EOF);
	/* A name cut by len, and a string whose closing quote lies past len. */
	l = lex_all("state.battery", 5);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.t[0].len, 5);
	l = lex_all("'abc'", 4);
	assert_int_equal(l.rc, ITD_EPARSE);
	assert_string_equal(l.err.msg, "unterminated string");
}

static void test_strings(void **state)
{
	(void)state;
	const char *src = "'SAFE' \"it's\" ''";
	struct lexed l = lex_all(src, strlen(src));
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.t[0].kind, TK_STR);
	assert_int_equal(l.t[0].len, 6);
	assert_int_equal(l.t[1].kind, TK_STR);
	assert_int_equal(l.t[1].off, 7);
	assert_int_equal(l.t[1].len, 6);
	assert_int_equal(l.t[2].len, 2);
}

static void expect_error(const char *src, size_t off, const char *msg)
{
	struct lexed l = lex_all(src, strlen(src));
	assert_int_equal(l.rc, ITD_EPARSE);
	assert_int_equal(l.err.offset, off);
	assert_string_equal(l.err.msg, msg);
}

static void test_errors_with_offsets(void **state)
{
	(void)state;
	expect_error("1 + 'abc", 4, "unterminated string");
	expect_error("x = 1", 2, "unexpected '=' (did you mean '=='?)");
	expect_error("!x", 0, "unexpected '!' (use 'not' or '!=')");
	expect_error("a && b", 2, "unexpected '&' (use 'and')");
	expect_error("a || b", 2, "unexpected '|' (use 'or')");
	expect_error("1 # 2", 2, "unexpected character '#'");
	expect_error("1 \x01", 2, "unexpected byte 0x01");
	expect_error("12abc", 0, "malformed number '12abc'");
	expect_error("1.2.3", 0, "malformed number '1.2.3'");
	expect_error("1e+", 0, "malformed number '1e'");
	expect_error("1e999", 0, "number out of range '1e999'");
	expect_error("state.", 5, "expected a field name after '.' in 'state.'");
	expect_error("state..x", 5, "expected a field name after '.' in 'state.'");
	char nul[] = { '\'', 'a', '\0', '\'' };
	struct lexed l = lex_all(nul, sizeof nul);
	assert_int_equal(l.rc, ITD_EPARSE);
	assert_int_equal(l.err.offset, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operators_and_offsets),
		cmocka_unit_test(test_keywords_and_dotted_names),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_number_does_not_read_past_len),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_errors_with_offsets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
