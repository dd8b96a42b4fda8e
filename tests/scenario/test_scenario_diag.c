/* test_scenario_diag.c: diagnostics point at the right line and column
 * inside every kind of YAML scalar (plain, quoted with escapes, literal and
 * folded blocks, multi-line, UTF-8), come out in file order, and are
 * appended to what the caller already holds. */
#include "scn_test.h"

#define HEAD                                  \
	"scenario: t\n"                       \
	"state:\n"                            \
	"  battery: { initial: 50 }\n"

static void test_literal_block_scalar(void **state)
{
	(void)state;
	assert_diags(HEAD "intent_types:\n"
		     "  charge:\n"
		     "    score: |\n"
		     "      1 +\n"
		     "        foo\n",
		     "t.yaml:8:9: unknown name 'foo' (names are state.<field>, mode, tick, "
		     "intent.<attribute>, constants and vars)\n");
}

static void test_multi_line_plain_scalar(void **state)
{
	(void)state;
	assert_diags(HEAD "intent_types:\n"
		     "  charge:\n"
		     "    score: 1 +\n"
		     "      2 + state.batt\n",
		     "t.yaml:7:11: unknown state field 'batt' (did you mean 'battery'?)\n");
}

static void test_double_quoted_with_escapes(void **state)
{
	(void)state;
	assert_diags(HEAD "intent_types:\n"
		     "  charge: { score: \"1 +\\t\\u0020state.x\" }\n",
		     "t.yaml:5:32: unknown state field 'x' (fields: battery)\n");
}

static void test_single_quoted_with_doubled_quote(void **state)
{
	(void)state;
	assert_diags(HEAD "intent_types:\n"
		     "  charge: { score: 'if(mode == ''X'', 1, 2)' }\n",
		     "t.yaml:5:32: 'X' is not a value of 'mode' (allowed: NOMINAL)\n");
}

static void test_utf8_counts_characters(void **state)
{
	(void)state;
	/* "é" is two bytes but one column. */
	assert_diags(HEAD "intent_types:\n"
		     "  charge: { description: \"é\", score: nope }\n",
		     "t.yaml:5:38: unknown name 'nope' (did you mean 'mode'?)\n");
}

static void test_diagnostics_are_in_file_order_and_appended(void **state)
{
	(void)state;
	static const char text[] = HEAD "intent_types:\n"
				   "  charge: { score: x }\n"
				   "tick: { rate_hz: -1 }\n"
				   "bogus: 1\n";
	struct itd_diags d = {0};
	struct itd_scenario *s = NULL;
	assert_int_equal(itd_scenario_load_builtin("nope", NULL, 0, &s, &d), ITD_ENOTFOUND);
	assert_int_equal(d.n, 1);
	assert_int_equal(itd_scenario_load_text(text, strlen(text), "t.yaml", NULL, 0, &s, &d),
			 ITD_ECONFIG);
	assert_int_equal(d.n, 4);
	assert_string_equal(d.items[0].file, "builtin");
	assert_int_equal(d.items[1].line, 5);
	assert_int_equal(d.items[2].line, 6);
	assert_int_equal(d.items[3].line, 7);
	assert_int_equal(d.items[3].col, 1);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	itd_diags_print(&d, f);
	fclose(f);
	assert_non_null(strstr(buf, "\nt.yaml:6:18: 'rate_hz' must be > 0 and <= 100000, got -1\n"));
	free(buf);
	itd_diags_fini(&d);
	assert_int_equal(d.n, 0);
	assert_null(d.items);
	itd_diags_fini(&d); /* twice is harmless */
}

static void test_null_diags_still_fail(void **state)
{
	(void)state;
	struct itd_scenario *s = NULL;
	static const char text[] = "scenario: [\n";
	assert_int_equal(itd_scenario_load_text(text, strlen(text), "t.yaml", NULL, 0, &s, NULL),
			 ITD_ECONFIG);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_block_scalar),
		cmocka_unit_test(test_multi_line_plain_scalar),
		cmocka_unit_test(test_double_quoted_with_escapes),
		cmocka_unit_test(test_single_quoted_with_doubled_quote),
		cmocka_unit_test(test_utf8_counts_characters),
		cmocka_unit_test(test_diagnostics_are_in_file_order_and_appended),
		cmocka_unit_test(test_null_diags_still_fail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
