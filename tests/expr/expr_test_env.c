/* expr_test_env.c: the environment and frames the expression suites share
 * (included by each test_expr_*.c; not a test of its own).  It mirrors the
 * scenario namespace: state fields, an enum mode, tick, intent fields, a
 * type's vars and folded constants. */
#include <stdio.h>
#include <string.h>

#include "expr/expr.h"

enum {
	G_BATTERY, G_TEMPERATURE, G_POSITION, G_MODE, G_TICK, G_OK, G_NAME, N_GLOBAL
};
enum {
	I_TYPE, I_RECOVERY, I_BLOCKED, I_ENERGY, I_DOM_BATTERY, I_THRESHOLD, I_TARGET, N_INTENT
};

static const char *const test_modes[] = { "NOMINAL", "LOW_POWER", "SAFE" };

struct test_name {
	const char *name;
	enum itd_sym_kind kind;
	enum itd_type type;
	uint32_t slot;
	struct itd_value value;
};

static const struct test_name test_names[] = {
	{ "state.battery", ITD_SYM_SLOT, ITD_T_NUM, G_BATTERY, { 0 } },
	{ "state.temperature", ITD_SYM_SLOT, ITD_T_NUM, G_TEMPERATURE, { 0 } },
	{ "state.position", ITD_SYM_SLOT, ITD_T_NUM, G_POSITION, { 0 } },
	{ "mode", ITD_SYM_SLOT, ITD_T_STR, G_MODE, { 0 } },
	{ "tick", ITD_SYM_SLOT, ITD_T_NUM, G_TICK, { 0 } },
	{ "state.ok", ITD_SYM_SLOT, ITD_T_BOOL, G_OK, { 0 } },
	{ "state.name", ITD_SYM_SLOT, ITD_T_STR, G_NAME, { 0 } },
	{ "intent.type", ITD_SYM_SLOT, ITD_T_STR, ITD_SLOT_INTENT | I_TYPE, { 0 } },
	{ "intent.recovery", ITD_SYM_SLOT, ITD_T_BOOL, ITD_SLOT_INTENT | I_RECOVERY, { 0 } },
	{ "intent.blocked_ticks", ITD_SYM_SLOT, ITD_T_NUM, ITD_SLOT_INTENT | I_BLOCKED, { 0 } },
	{ "intent.flags.energy_intensive", ITD_SYM_SLOT, ITD_T_BOOL, ITD_SLOT_INTENT | I_ENERGY, { 0 } },
	{ "intent.domains.battery", ITD_SYM_SLOT, ITD_T_BOOL, ITD_SLOT_INTENT | I_DOM_BATTERY, { 0 } },
	{ "threshold", ITD_SYM_SLOT, ITD_T_NUM, ITD_SLOT_INTENT | I_THRESHOLD, { 0 } },
	{ "target", ITD_SYM_SLOT, ITD_T_NUM, ITD_SLOT_INTENT | I_TARGET, { 0 } },
	{ "battery_safe", ITD_SYM_CONST, ITD_T_NUM, 0, { .type = ITD_T_NUM, .num = 10 } },
	{ "battery_low", ITD_SYM_CONST, ITD_T_NUM, 0, { .type = ITD_T_NUM, .num = 25 } },
	{ "temp_safe", ITD_SYM_CONST, ITD_T_NUM, 0, { .type = ITD_T_NUM, .num = 120 } },
	{ "position_limit", ITD_SYM_CONST, ITD_T_NUM, 0, { .type = ITD_T_NUM, .num = 10 } },
	{ "greeting", ITD_SYM_CONST, ITD_T_STR, 0, { .type = ITD_T_STR, .str = "hello" } },
	{ "enabled", ITD_SYM_CONST, ITD_T_BOOL, 0, { .type = ITD_T_BOOL, .b = true } },
};

static int test_resolve(void *ctx, const char *name, size_t len, struct itd_expr_sym *sym,
			char *msg, size_t cap)
{
	(void)ctx;
	for (size_t i = 0; i < sizeof test_names / sizeof test_names[0]; i++) {
		const struct test_name *t = &test_names[i];
		if (strlen(t->name) != len || memcmp(t->name, name, len) != 0)
			continue;
		memset(sym, 0, sizeof *sym);
		sym->kind = t->kind;
		sym->type = t->type;
		sym->slot = t->slot;
		sym->value = t->value;
		if (t->slot == G_MODE && t->kind == ITD_SYM_SLOT) {
			sym->enum_values = test_modes;
			sym->n_enum = 3;
		}
		return 0;
	}
	if (len > 6 && memcmp(name, "state.", 6) == 0)
		snprintf(msg, cap, "unknown state field '%.*s'", (int)(len - 6), name + 6);
	return ITD_ENOTFOUND;
}

static const struct itd_expr_env test_env = { .resolve = test_resolve, .ctx = NULL };

/* A frame with the spacecraft's starting values. */
struct test_frame {
	struct itd_value g[N_GLOBAL];
	struct itd_value in[N_INTENT];
	struct itd_expr_frame f;
};

static inline void test_frame_init(struct test_frame *t)
{
	t->g[G_BATTERY] = (struct itd_value){ .type = ITD_T_NUM, .num = 4.2 };
	t->g[G_TEMPERATURE] = (struct itd_value){ .type = ITD_T_NUM, .num = 120 };
	t->g[G_POSITION] = (struct itd_value){ .type = ITD_T_NUM, .num = 0 };
	t->g[G_MODE] = (struct itd_value){ .type = ITD_T_STR, .str = "SAFE" };
	t->g[G_TICK] = (struct itd_value){ .type = ITD_T_NUM, .num = 7 };
	t->g[G_OK] = (struct itd_value){ .type = ITD_T_BOOL, .b = true };
	t->g[G_NAME] = (struct itd_value){ .type = ITD_T_STR, .str = "voyager" };
	t->in[I_TYPE] = (struct itd_value){ .type = ITD_T_STR, .str = "battery_recovery" };
	t->in[I_RECOVERY] = (struct itd_value){ .type = ITD_T_BOOL, .b = true };
	t->in[I_BLOCKED] = (struct itd_value){ .type = ITD_T_NUM, .num = 3 };
	t->in[I_ENERGY] = (struct itd_value){ .type = ITD_T_BOOL, .b = false };
	t->in[I_DOM_BATTERY] = (struct itd_value){ .type = ITD_T_BOOL, .b = true };
	t->in[I_THRESHOLD] = (struct itd_value){ .type = ITD_T_NUM, .num = 20 };
	t->in[I_TARGET] = (struct itd_value){ .type = ITD_T_NUM, .num = 20 };
	t->f.global = t->g;
	t->f.intent = t->in;
}

/* Compile src (NUL-terminated) or fail the test with the error. */
static inline struct itd_expr *test_compile(const char *src, enum itd_type want)
{
	struct itd_expr *e = NULL;
	struct itd_expr_error err;
	int rc = itd_expr_compile(src, strlen(src), &test_env, want, &e, &err);
	if (rc)
		fail_msg("compile '%s': %s at %zu: %s", src, itd_err_name(rc), err.offset, err.msg);
	assert_non_null(e);
	return e;
}

/* Compile src expecting failure rc; returns the error for inspection. */
static inline struct itd_expr_error test_compile_err(const char *src, int want_rc)
{
	struct itd_expr *e = (struct itd_expr *)&e;
	struct itd_expr_error err;
	int rc = itd_expr_compile(src, strlen(src), &test_env, ITD_T_NONE, &e, &err);
	if (rc != want_rc)
		fail_msg("compile '%s': got %s (%s), want %s", src, itd_err_name(rc), err.msg,
			 itd_err_name(want_rc));
	assert_null(e);
	return err;
}

/* Evaluate src on frame t as a number / bool. */
static inline double test_num(const char *src, struct test_frame *t)
{
	struct itd_expr *e = test_compile(src, ITD_T_NUM);
	double v = 0;
	int rc = itd_expr_eval_num(e, &t->f, &v);
	if (rc)
		fail_msg("eval '%s': %s", src, itd_err_name(rc));
	itd_expr_destroy(e);
	return v;
}

static inline bool test_bool(const char *src, struct test_frame *t)
{
	struct itd_expr *e = test_compile(src, ITD_T_BOOL);
	bool v = false;
	int rc = itd_expr_eval_bool(e, &t->f, &v);
	if (rc)
		fail_msg("eval '%s': %s", src, itd_err_name(rc));
	itd_expr_destroy(e);
	return v;
}

/* Evaluate the string expression src on frame t and compare it with want. */
static inline void test_str_is(const char *src, struct test_frame *t, const char *want)
{
	struct itd_expr *e = test_compile(src, ITD_T_STR);
	struct itd_value v;
	int rc = itd_expr_eval(e, &t->f, &v);
	if (rc)
		fail_msg("eval '%s': %s", src, itd_err_name(rc));
	assert_int_equal(v.type, ITD_T_STR);
	assert_string_equal(v.str, want);
	itd_expr_destroy(e);
}
