/* test_expr_random.c: a property test.  Random well-typed expressions
 * (fixed seed) are compiled and evaluated; the result must equal a simple
 * reference evaluation written here, the tree walker behind explain must
 * agree with the VM, and explain must never overflow its buffer. */
#include <math.h>
#include <stdio.h>

#include "expr/expr_int.h"
#include "test_support.h"
#include "expr_test_env.c"

/* A reference value: the type, the value, and whether evaluating it hits
 * non-finite arithmetic (which eval must report as ITD_ERANGE). */
struct ref {
	enum itd_type type;
	double num;
	bool b;
	const char *str;
	bool err;
};

struct gen {
	struct itd_rng rng;          /* fixed-seed stream */
	char buf[16384];             /* the expression being written */
	size_t len;                  /* bytes in buf */
	const struct test_frame *fr; /* the values names read */
};

static unsigned pick(struct gen *g, unsigned n)
{
	return (unsigned)itd_rng_below(&g->rng, n);
}

static void out(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(g->buf + g->len, sizeof g->buf - g->len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof g->buf - g->len);
	g->len += (size_t)n;
}

static struct ref gen(struct gen *g, enum itd_type t, int depth);

static struct ref num(double v, bool err)
{
	return (struct ref){ .type = ITD_T_NUM, .num = v, .err = err || !isfinite(v) };
}

static struct ref boolean(bool v)
{
	return (struct ref){ .type = ITD_T_BOOL, .b = v };
}

static double ref_mod(double a, double b)
{
	/* Python's floored modulo */
	double r = fmod(a, b);
	if (r != 0 && (r < 0) != (b < 0))
		r += b;
	return r;
}

static struct ref gen_num(struct gen *g, int depth)
{
	static const double lits[] = { 0, 1, 2, 3, 0.5, 2.25, 7, 10, 100, 1e300, 0.1 };
	static const struct {
		const char *name;
		int slot; /* >= 0 global, else -1 - intent */
	} names[] = {
		{ "state.battery", G_BATTERY }, { "state.temperature", G_TEMPERATURE },
		{ "state.position", G_POSITION }, { "tick", G_TICK },
		{ "threshold", -1 - I_THRESHOLD }, { "intent.blocked_ticks", -1 - I_BLOCKED },
	};
	unsigned k = pick(g, depth > 0 ? 9 : 3);
	struct ref a, b, c;

	switch (k) {
	case 0:
	case 1: {
		double v = lits[pick(g, sizeof lits / sizeof lits[0])];
		out(g, "%.17g", v);
		return num(v, false);
	}
	case 2: {
		unsigned n = pick(g, sizeof names / sizeof names[0] + 1);
		if (n == sizeof names / sizeof names[0]) {
			out(g, "battery_safe");
			return num(10, false);
		}
		out(g, "%s", names[n].name);
		int s = names[n].slot;
		return num(s >= 0 ? g->fr->g[s].num : g->fr->in[-1 - s].num, false);
	}
	case 3: {
		static const char ops[] = "+-*/%";
		unsigned op = pick(g, 5);
		out(g, "(");
		a = gen(g, ITD_T_NUM, depth - 1);
		out(g, " %c ", ops[op]);
		b = gen(g, ITD_T_NUM, depth - 1);
		out(g, ")");
		double r = op == 0 ? a.num + b.num : op == 1 ? a.num - b.num :
			   op == 2 ? a.num * b.num : op == 3 ? a.num / b.num : ref_mod(a.num, b.num);
		return num(r, a.err || b.err);
	}
	case 4:
		out(g, "-(");
		a = gen(g, ITD_T_NUM, depth - 1);
		out(g, ")");
		return (struct ref){ .type = ITD_T_NUM, .num = -a.num, .err = a.err };
	case 5: {
		bool mn = pick(g, 2);
		unsigned n = 2 + pick(g, 2);
		bool err = false;
		double r = 0;
		out(g, "%s(", mn ? "min" : "max");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				out(g, ", ");
			a = gen(g, ITD_T_NUM, depth - 1);
			err |= a.err;
			if (i == 0)
				r = a.num;
			else if (mn ? a.num < r : a.num > r)
				r = a.num;
		}
		out(g, ")");
		return (struct ref){ .type = ITD_T_NUM, .num = r, .err = err };
	}
	case 6: {
		out(g, "clamp(");
		a = gen(g, ITD_T_NUM, depth - 1);
		out(g, ", ");
		b = gen(g, ITD_T_NUM, depth - 1);
		out(g, ", ");
		c = gen(g, ITD_T_NUM, depth - 1);
		out(g, ")");
		double r = a.num < b.num ? b.num : a.num;
		r = c.num < r ? c.num : r;
		return (struct ref){ .type = ITD_T_NUM, .num = r, .err = a.err || b.err || c.err };
	}
	case 7: {
		static const char *const fns[] = { "abs", "floor", "ceil", "round", "sqrt" };
		unsigned f = pick(g, 5);
		out(g, "%s(", fns[f]);
		a = gen(g, ITD_T_NUM, depth - 1);
		out(g, ")");
		double r = f == 0 ? fabs(a.num) : f == 1 ? floor(a.num) : f == 2 ? ceil(a.num) :
			   f == 3 ? round(a.num) : sqrt(a.num);
		if (f == 4)
			return num(r, a.err);
		return (struct ref){ .type = ITD_T_NUM, .num = r, .err = a.err };
	}
	default:
		out(g, "if(");
		c = gen(g, ITD_T_BOOL, depth - 1);
		out(g, ", ");
		a = gen(g, ITD_T_NUM, depth - 1);
		out(g, ", ");
		b = gen(g, ITD_T_NUM, depth - 1);
		out(g, ")");
		if (c.err)
			return c;
		return c.b ? a : b;
	}
}

static struct ref gen_str(struct gen *g, int depth)
{
	static const char *const lits[] = { "NOMINAL", "LOW_POWER", "SAFE" };
	unsigned k = pick(g, depth > 0 ? 3 : 2);
	struct ref a, b, c;

	switch (k) {
	case 0: {
		const char *s = lits[pick(g, 3)];
		out(g, pick(g, 2) ? "'%s'" : "\"%s\"", s);
		return (struct ref){ .type = ITD_T_STR, .str = s };
	}
	case 1: {
		unsigned n = pick(g, 3);
		out(g, "%s", n == 0 ? "mode" : n == 1 ? "state.name" : "intent.type");
		return (struct ref){ .type = ITD_T_STR,
				     .str = n == 0 ? g->fr->g[G_MODE].str :
					    n == 1 ? g->fr->g[G_NAME].str : g->fr->in[I_TYPE].str };
	}
	default:
		out(g, "if(");
		c = gen(g, ITD_T_BOOL, depth - 1);
		out(g, ", ");
		a = gen(g, ITD_T_STR, depth - 1);
		out(g, ", ");
		b = gen(g, ITD_T_STR, depth - 1);
		out(g, ")");
		if (c.err)
			return c;
		return c.b ? a : b;
	}
}

static bool cmp(int op, int c)
{
	static const int ok[6][3] = {
		/* c<0, c==0, c>0 */
		{ 0, 1, 0 }, { 1, 0, 1 }, { 1, 0, 0 }, { 1, 1, 0 }, { 0, 0, 1 }, { 0, 1, 1 },
	};
	return ok[op][c < 0 ? 0 : c == 0 ? 1 : 2];
}

static struct ref gen_bool(struct gen *g, int depth)
{
	static const char *const ops[] = { "==", "!=", "<", "<=", ">", ">=" };
	unsigned k = pick(g, depth > 0 ? 10 : 2);
	struct ref a, b, c;

	switch (k) {
	case 0:
		if (pick(g, 2)) {
			bool v = pick(g, 2);
			out(g, v ? "true" : "false");
			return boolean(v);
		}
		/* fall through */
	case 1: {
		unsigned n = pick(g, 4);
		static const int slots[] = { G_OK, -1 - I_RECOVERY, -1 - I_ENERGY, -1 - I_DOM_BATTERY };
		static const char *const names[] = { "state.ok", "intent.recovery",
						     "intent.flags.energy_intensive",
						     "intent.domains.battery" };
		out(g, "%s", names[n]);
		int s = slots[n];
		return boolean(s >= 0 ? g->fr->g[s].b : g->fr->in[-1 - s].b);
	}
	case 2:
	case 3: {
		unsigned op = pick(g, 6);
		out(g, "(");
		a = gen(g, ITD_T_NUM, depth - 1);
		out(g, " %s ", ops[op]);
		b = gen(g, ITD_T_NUM, depth - 1);
		out(g, ")");
		struct ref r = boolean(cmp((int)op, a.num < b.num ? -1 : a.num > b.num ? 1 : 0));
		r.err = a.err || b.err;
		return r;
	}
	case 4: {
		unsigned op = pick(g, 6);
		out(g, "(");
		a = gen(g, ITD_T_STR, depth - 1);
		out(g, " %s ", ops[op]);
		b = gen(g, ITD_T_STR, depth - 1);
		out(g, ")");
		if (a.err || b.err)
			return a.err ? a : b;
		return boolean(cmp((int)op, strcmp(a.str, b.str)));
	}
	case 5: {
		unsigned op = pick(g, 2);
		out(g, "(");
		a = gen(g, ITD_T_BOOL, depth - 1);
		out(g, " %s ", ops[op]);
		b = gen(g, ITD_T_BOOL, depth - 1);
		out(g, ")");
		if (a.err || b.err)
			return a.err ? a : b;
		return boolean((a.b == b.b) == (op == 0));
	}
	case 6:
	case 7: {
		bool and = k == 6;
		out(g, "(");
		a = gen(g, ITD_T_BOOL, depth - 1);
		out(g, and ? " and " : " or ");
		b = gen(g, ITD_T_BOOL, depth - 1);
		out(g, ")");
		if (a.err)
			return a;
		if (a.b != and)
			return a; /* short circuit: b is never evaluated */
		return b;
	}
	case 8:
		out(g, "(not ");
		a = gen(g, ITD_T_BOOL, depth - 1);
		out(g, ")");
		if (!a.err)
			a.b = !a.b;
		return a;
	default: {
		bool starts = pick(g, 2);
		out(g, "%s(", starts ? "starts_with" : "ends_with");
		a = gen(g, ITD_T_STR, depth - 1);
		out(g, ", ");
		b = gen(g, ITD_T_STR, depth - 1);
		out(g, ")");
		if (a.err || b.err)
			return a.err ? a : b;
		size_t la = strlen(a.str), lb = strlen(b.str);
		bool v = lb <= la && memcmp(starts ? a.str : a.str + la - lb, b.str, lb) == 0;
		(void)c;
		return boolean(v);
	}
	}
}

static struct ref gen(struct gen *g, enum itd_type t, int depth)
{
	if (t == ITD_T_NUM)
		return gen_num(g, depth);
	if (t == ITD_T_STR)
		return gen_str(g, depth);
	return gen_bool(g, depth);
}

static void check_one(struct gen *g, const struct test_frame *fr, enum itd_type t,
		      unsigned *n_err)
{
	g->len = 0;
	struct ref want = gen(g, t, (int)pick(g, 5));
	struct itd_expr *e = NULL;
	struct itd_expr_error err;
	int rc = itd_expr_compile(g->buf, g->len, &test_env, ITD_T_NONE, &e, &err);
	if (rc)
		fail_msg("compile '%s': %s at %zu", g->buf, err.msg, err.offset);
	assert_int_equal(itd_expr_type(e), t);

	struct itd_value v;
	rc = itd_expr_eval(e, &fr->f, &v);
	if ((rc == ITD_ERANGE) != want.err || (rc && rc != ITD_ERANGE))
		fail_msg("'%s': rc %s, reference err %d", g->buf, itd_err_name(rc), want.err);
	*n_err += want.err;
	if (!rc) {
		bool same = t == ITD_T_NUM ? v.num == want.num :
			    t == ITD_T_BOOL ? v.b == want.b : strcmp(v.str, want.str) == 0;
		if (!same)
			fail_msg("'%s': eval %.17g/%d, reference %.17g/%d", g->buf, v.num, v.b,
				 want.num, want.b);
	}
	/* The tree walker behind explain agrees with the VM. */
	struct itd_value w;
	int rc2 = expr_tree_eval(e->nodes, e->root, &fr->f, &w);
	assert_int_equal(rc2, rc);
	assert_int_equal(w.type, v.type);
	if (v.type == ITD_T_NUM)
		assert_true(v.num == w.num || (isnan(v.num) && isnan(w.num)));
	else if (v.type == ITD_T_BOOL)
		assert_int_equal(v.b, w.b);
	else
		assert_string_equal(v.str, w.str);

	/* Explain into a random small buffer fenced by canaries. */
	char buf[96 + 16];
	size_t cap = pick(g, 96);
	memset(buf, 0x5a, sizeof buf);
	size_t n = itd_expr_explain(e, &fr->f, buf, cap);
	for (size_t i = cap; i < sizeof buf; i++)
		assert_int_equal((unsigned char)buf[i], 0x5a);
	if (cap) {
		assert_true(n < cap);
		assert_int_equal(strlen(buf), n);
	} else {
		assert_int_equal(n, 0);
	}
	itd_expr_destroy(e);
}

static void test_random_expressions_match_reference(void **state)
{
	(void)state;
	static struct gen g;
	struct test_frame fr;
	unsigned n_err = 0;

	test_frame_init(&fr);
	g.fr = &fr;
	itd_rng_seed(&g.rng, 42, "test_expr_random");
	for (int i = 0; i < 30000; i++) {
		/* Vary the frame now and then so comparisons go both ways. */
		if (i % 100 == 0) {
			fr.g[G_BATTERY].num = (double)pick(&g, 400) / 4 - 10;
			fr.g[G_TICK].num = (double)pick(&g, 40);
			fr.g[G_OK].b = pick(&g, 2);
			fr.in[I_RECOVERY].b = pick(&g, 2);
			static const char *const modes[] = { "NOMINAL", "LOW_POWER", "SAFE" };
			fr.g[G_MODE].str = modes[pick(&g, 3)];
		}
		check_one(&g, &fr, (enum itd_type)(ITD_T_NUM + i % 3), &n_err);
	}
	/* The generator does reach the range errors it means to test. */
	assert_true(n_err > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_expressions_match_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
