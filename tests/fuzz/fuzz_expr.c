/* fuzz_expr.c: libFuzzer target for the expression language: compile any
 * input against a small fixed environment; whatever compiles is evaluated
 * and explained on a frame of values.  Must never crash or leak. */
#include <stdint.h>
#include <string.h>

#include "expr/expr.h"

static const char *const modes[] = { "NOMINAL", "LOW_POWER", "SAFE" };

static const struct {
	const char *name;
	enum itd_type type;
	uint32_t slot;
} slots[] = {
	{ "state.battery", ITD_T_NUM, 0 },
	{ "state.temperature", ITD_T_NUM, 1 },
	{ "tick", ITD_T_NUM, 2 },
	{ "mode", ITD_T_STR, 3 },
	{ "state.ok", ITD_T_BOOL, 4 },
	{ "intent.type", ITD_T_STR, ITD_SLOT_INTENT | 0 },
	{ "intent.recovery", ITD_T_BOOL, ITD_SLOT_INTENT | 1 },
	{ "intent.blocked_ticks", ITD_T_NUM, ITD_SLOT_INTENT | 2 },
};

static int resolve(void *ctx, const char *name, size_t len, struct itd_expr_sym *sym, char *msg,
		   size_t cap)
{
	(void)ctx;
	(void)msg;
	(void)cap;
	memset(sym, 0, sizeof *sym);
	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
		if (strlen(slots[i].name) != len || memcmp(slots[i].name, name, len) != 0)
			continue;
		sym->kind = ITD_SYM_SLOT;
		sym->type = slots[i].type;
		sym->slot = slots[i].slot;
		if (slots[i].slot == 3) {
			sym->enum_values = modes;
			sym->n_enum = 3;
		}
		return 0;
	}
	if (len == 5 && memcmp(name, "limit", 5) == 0) {
		sym->kind = ITD_SYM_CONST;
		sym->type = ITD_T_NUM;
		sym->value = (struct itd_value){ .type = ITD_T_NUM, .num = 10 };
		return 0;
	}
	if (len == 4 && memcmp(name, "safe", 4) == 0) {
		sym->kind = ITD_SYM_CONST;
		sym->type = ITD_T_STR;
		sym->value = (struct itd_value){ .type = ITD_T_STR, .str = "SAFE" };
		return 0;
	}
	return ITD_ENOTFOUND;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct itd_expr_env env = { .resolve = resolve };
	const struct itd_value g[] = {
		{ .type = ITD_T_NUM, .num = 4.2 },
		{ .type = ITD_T_NUM, .num = 120 },
		{ .type = ITD_T_NUM, .num = 7 },
		{ .type = ITD_T_STR, .str = "SAFE" },
		{ .type = ITD_T_BOOL, .b = true },
	};
	const struct itd_value in[] = {
		{ .type = ITD_T_STR, .str = "battery_recovery" },
		{ .type = ITD_T_BOOL, .b = false },
		{ .type = ITD_T_NUM, .num = 3 },
	};
	const struct itd_expr_frame frame = { .global = g, .intent = in };
	struct itd_expr *e = NULL;
	struct itd_expr_error err;
	char buf[128];

	if (itd_expr_compile((const char *)data, size, &env, ITD_T_NONE, &e, &err) != 0) {
		/* An error always points inside (or just past) the source. */
		if (e || err.offset > size + 1 || !memchr(err.msg, '\0', sizeof err.msg))
			__builtin_trap();
		return 0;
	}
	struct itd_value v;
	int rc = itd_expr_eval(e, &frame, &v);
	if (rc != 0 && rc != ITD_ERANGE)
		__builtin_trap();
	size_t n = itd_expr_explain(e, &frame, buf, sizeof buf);
	if (n >= sizeof buf || strlen(buf) != n)
		__builtin_trap();
	itd_expr_explain(e, &frame, buf, 7);
	itd_expr_destroy(e);
	return 0;
}
