/* test_expr_check.c: name resolution, type checking (every error class
 * with its offset and message), the enum-literal check, the `want` type,
 * constant folding, and which frames an expression reads. */
#include "expr/expr_int.h"
#include "test_support.h"
#include "expr_test_env.c"

static void expect(const char *src, int rc, size_t off, const char *msg)
{
	struct itd_expr_error err = test_compile_err(src, rc);
	if (err.offset != off || strcmp(err.msg, msg) != 0)
		fail_msg("'%s': got %zu '%s', want %zu '%s'", src, err.offset, err.msg, off, msg);
}

static void test_type_errors(void **state)
{
	(void)state;
	expect("1 + true", ITD_ETYPE, 4, "type mismatch: '+' needs numbers, got bool");
	expect("mode * 2", ITD_ETYPE, 0, "type mismatch: '*' needs numbers, got string");
	expect("tick % state.ok", ITD_ETYPE, 7, "type mismatch: '%' needs numbers, got bool");
	expect("if(\"s\", 1, 2)", ITD_ETYPE, 3, "if() condition must be bool, \"s\" is string");
	expect("1 - 'a'", ITD_ETYPE, 4, "type mismatch: '-' needs numbers, got string");
	expect("4 / intent.recovery", ITD_ETYPE, 4, "type mismatch: '/' needs numbers, got bool");
	expect("-mode", ITD_ETYPE, 1, "type mismatch: '-' needs a number, got string");
	expect("state.battery and true", ITD_ETYPE, 0,
	       "'and' needs bools, 'state.battery' is number");
	expect("true or 1", ITD_ETYPE, 8, "'or' needs bools, '1' is number");
	expect("not tick", ITD_ETYPE, 4, "'not' needs a bool, 'tick' is number");
	expect("state.battery == true", ITD_ETYPE, 14,
	       "type mismatch: 'state.battery' is number, 'true' is bool");
	expect("mode != 3", ITD_ETYPE, 5, "type mismatch: 'mode' is string, '3' is number");
	expect("true < false", ITD_ETYPE, 5, "'<' needs numbers or strings, got bool");
	expect("state.ok >= true", ITD_ETYPE, 9, "'>=' needs numbers or strings, got bool");
	expect("if(1, 2, 3)", ITD_ETYPE, 3, "if() condition must be bool, '1' is number");
	expect("if(true, 1, 'a')", ITD_ETYPE, 12, "if() branches must have one type: number vs string");
	expect("if(true, state.ok, mode)", ITD_ETYPE, 19,
	       "if() branches must have one type: bool vs string");
	expect("if(true, 1)", ITD_ETYPE, 0, "'if' takes 3 arguments, got 2");
	expect("clamp(1, 2)", ITD_ETYPE, 0, "'clamp' takes 3 arguments, got 2");
	expect("min(1)", ITD_ETYPE, 0, "'min' takes at least 2 arguments, got 1");
	expect("2 + max()", ITD_ETYPE, 4, "'max' takes at least 2 arguments, got 0");
	expect("abs()", ITD_ETYPE, 0, "'abs' takes 1 argument, got 0");
	expect("sqrt(1, 2)", ITD_ETYPE, 0, "'sqrt' takes 1 argument, got 2");
	expect("starts_with('a')", ITD_ETYPE, 0, "'starts_with' takes 2 arguments, got 1");
	expect("abs(mode)", ITD_ETYPE, 4, "'abs' needs numbers, 'mode' is string");
	expect("min(1, 2, true)", ITD_ETYPE, 10, "'min' needs numbers, 'true' is bool");
	expect("clamp(1, 2, 'x')", ITD_ETYPE, 12, "'clamp' needs numbers, 'x' is string");
	expect("starts_with(mode, 1)", ITD_ETYPE, 18, "'starts_with' needs strings, '1' is number");
	expect("ends_with(tick, 'a')", ITD_ETYPE, 10, "'ends_with' needs strings, 'tick' is number");
	/* Long operands are cut in messages. */
	expect("state.battery + state.temperature + state.position and true", ITD_ETYPE, 0,
	       "'and' needs bools, 'state.battery + state.temperature + s...' is number");
}

static void test_want_type(void **state)
{
	(void)state;
	struct itd_expr *e = (struct itd_expr *)&e;
	struct itd_expr_error err;
	assert_int_equal(itd_expr_compile("1 + 2", 5, &test_env, ITD_T_BOOL, &e, &err), ITD_ETYPE);
	assert_null(e);
	assert_int_equal(err.offset, 0);
	assert_string_equal(err.msg, "expression must be bool, it is number");
	assert_int_equal(itd_expr_compile("mode", 4, &test_env, ITD_T_NUM, &e, &err), ITD_ETYPE);
	assert_string_equal(err.msg, "expression must be number, it is string");
	assert_int_equal(itd_expr_compile("tick > 1", 8, &test_env, ITD_T_STR, &e, &err), ITD_ETYPE);
	assert_string_equal(err.msg, "expression must be string, it is bool");
	/* ITD_T_NONE accepts any type. */
	e = test_compile("mode", ITD_T_NONE);
	assert_int_equal(itd_expr_type(e), ITD_T_STR);
	itd_expr_destroy(e);
	assert_string_equal(itd_type_name(ITD_T_NUM), "number");
	assert_string_equal(itd_type_name(ITD_T_BOOL), "bool");
	assert_string_equal(itd_type_name(ITD_T_STR), "string");
}

static void test_unknown_names(void **state)
{
	(void)state;
	/* The environment's own message is used verbatim. */
	expect("state.batery <= 5", ITD_ENOTFOUND, 0, "unknown state field 'batery'");
	expect("1 + foo", ITD_ENOTFOUND, 4, "unknown name 'foo'");
	expect("min(1, intent.nope)", ITD_ENOTFOUND, 7, "unknown name 'intent.nope'");
	expect("2 * ((nope))", ITD_ENOTFOUND, 6, "unknown name 'nope'");
	struct test_frame fr;
	test_frame_init(&fr);
	assert_true(test_num("(tick) + ((state.battery))", &fr) == 7 + 4.2);
}

static void test_enum_literals(void **state)
{
	(void)state;
	expect("mode == 'SAFEE'", ITD_ETYPE, 8,
	       "'SAFEE' is not a value of 'mode' (allowed: NOMINAL, LOW_POWER, SAFE)");
	expect("'nominal' != mode", ITD_ETYPE, 0,
	       "'nominal' is not a value of 'mode' (allowed: NOMINAL, LOW_POWER, SAFE)");
	expect("mode == greeting", ITD_ETYPE, 8,
	       "'hello' is not a value of 'mode' (allowed: NOMINAL, LOW_POWER, SAFE)");
	expect("true and mode == \"LOW\"", ITD_ETYPE, 17,
	       "'LOW' is not a value of 'mode' (allowed: NOMINAL, LOW_POWER, SAFE)");
	/* Allowed values, non-enum strings and slot-to-slot comparisons pass. */
	struct test_frame fr;
	test_frame_init(&fr);
	assert_true(test_bool("mode == 'SAFE'", &fr));
	assert_false(test_bool("'LOW_POWER' == mode", &fr));
	assert_true(test_bool("mode != \"NOMINAL\"", &fr));
	assert_false(test_bool("mode == state.name", &fr));
	assert_false(test_bool("state.name == 'anything'", &fr));
	assert_false(test_bool("starts_with(mode, 'X')", &fr));
}

static void test_constants_fold(void **state)
{
	(void)state;
	struct itd_expr *e = test_compile("battery_safe * 2 + 1", ITD_T_NUM);
	assert_true(itd_expr_is_const(e));
	assert_false(itd_expr_uses_intent(e));
	assert_int_equal(e->n_code, 2); /* PUSH 21, RET */
	assert_int_equal(e->code[0].op, OP_PUSH);
	assert_true(e->code[0].k.num == 21);
	double v = 0;
	assert_int_equal(itd_expr_eval_num(e, NULL, &v), 0);
	assert_true(v == 21);
	itd_expr_destroy(e);

	/* Constant operands fold into the instruction that uses them. */
	e = test_compile("state.battery <= battery_safe", ITD_T_BOOL);
	assert_false(itd_expr_is_const(e));
	assert_int_equal(e->n_code, 2);
	assert_int_equal(e->code[0].op, OP_CMP_GK);
	assert_true(e->code[0].k.num == 10);
	itd_expr_destroy(e);
	e = test_compile("state.battery + (temp_safe - battery_low) * 2", ITD_T_NUM);
	assert_int_equal(e->n_code, 3); /* LOAD, ADD_K 190, RET */
	assert_int_equal(e->code[1].op, OP_ADD_K);
	assert_true(e->code[1].k.num == 190);
	itd_expr_destroy(e);

	e = test_compile("greeting == 'hello' and enabled and starts_with(greeting, 'he')",
			 ITD_T_BOOL);
	assert_true(itd_expr_is_const(e));
	assert_int_equal(e->n_code, 2);
	bool b = false;
	assert_int_equal(itd_expr_eval_bool(e, NULL, &b), 0);
	assert_true(b);
	itd_expr_destroy(e);

	/* A non-finite constant is not folded: evaluation reports it. */
	e = test_compile("battery_safe / 0", ITD_T_NUM);
	assert_true(itd_expr_is_const(e));
	assert_int_equal(itd_expr_eval_num(e, NULL, &v), ITD_ERANGE);
	assert_true(isinf(v));
	itd_expr_destroy(e);
}

static void test_intent_and_global_slots(void **state)
{
	(void)state;
	static const struct {
		const char *src;
		bool uses_intent, is_const;
	} cases[] = {
		{ "state.battery > 1", false, false },
		{ "intent.recovery", true, false },
		{ "false and intent.recovery", true, false },
		{ "if(mode == 'SAFE', threshold, 1) > 2", true, false },
		{ "1 + 2 > 2", false, true },
		{ "tick % 20 < 14", false, false },
		{ "enabled", false, true },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct itd_expr *e = test_compile(cases[i].src, ITD_T_BOOL);
		if (itd_expr_uses_intent(e) != cases[i].uses_intent ||
		    itd_expr_is_const(e) != cases[i].is_const)
			fail_msg("'%s': uses_intent %d is_const %d", cases[i].src,
				 itd_expr_uses_intent(e), itd_expr_is_const(e));
		itd_expr_destroy(e);
	}
}

/* An environment that returns another error, and one that lies about a
 * constant's type: both are reported, not trusted. */
static int bad_resolve(void *ctx, const char *name, size_t len, struct itd_expr_sym *sym,
		       char *msg, size_t cap)
{
	(void)ctx;
	(void)cap;
	(void)msg;
	if (len == 1 && name[0] == 'c') {
		sym->kind = ITD_SYM_CONST;
		sym->type = ITD_T_STR;
		sym->value = (struct itd_value){ .type = ITD_T_STR, .str = NULL };
		return 0;
	}
	return ITD_EINTERNAL;
}

static void test_environment_failures(void **state)
{
	(void)state;
	struct itd_expr_env env = { .resolve = bad_resolve };
	struct itd_expr *e = NULL;
	struct itd_expr_error err;
	assert_int_equal(itd_expr_compile("1 + x", 5, &env, ITD_T_NONE, &e, &err), ITD_EINTERNAL);
	assert_int_equal(err.offset, 4);
	assert_string_equal(err.msg, "cannot resolve 'x': internal error");
	assert_int_equal(itd_expr_compile("c", 1, &env, ITD_T_NONE, &e, &err), ITD_EINVAL);
	assert_null(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_want_type),
		cmocka_unit_test(test_unknown_names),
		cmocka_unit_test(test_enum_literals),
		cmocka_unit_test(test_constants_fold),
		cmocka_unit_test(test_intent_and_global_slots),
		cmocka_unit_test(test_environment_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
