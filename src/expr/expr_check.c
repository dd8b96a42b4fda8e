/* expr_check.c: name resolution through the environment, type checking
 * (with the enum-literal check on string slots), and folding of constant
 * names and wholly constant subtrees into values. */
#include <stdio.h>

#include "expr_int.h"

struct checker {
	struct node *nodes;             /* the tree */
	const char *src;                /* source text, for messages */
	const struct itd_expr_env *env; /* name resolution; may be NULL */
	struct itd_expr_error *err;     /* where errors go */
};

static int check(struct checker *c, uint32_t i);

static const char *desc(const struct checker *c, uint32_t i, char *buf, size_t cap)
{
	return expr_describe(&c->nodes[i], c->src, buf, cap);
}

static const char *tname(const struct node *n)
{
	return itd_type_name((enum itd_type)n->type);
}

static int resolve(struct checker *c, uint32_t i)
{
	struct node *n = &c->nodes[i];
	const char *name = c->src + n->op_off; /* the span may include parentheses */
	struct itd_expr_sym sym;
	char msg[sizeof c->err->msg];
	char buf[64];
	int rc = ITD_ENOTFOUND;

	memset(&sym, 0, sizeof sym);
	msg[0] = '\0';
	if (c->env && c->env->resolve)
		rc = c->env->resolve(c->env->ctx, name, n->op_len, &sym, msg, sizeof msg);
	msg[sizeof msg - 1] = '\0';
	snprintf(buf, sizeof buf, "'%.*s%s'", (int)(n->op_len > 40 ? 37 : n->op_len), name,
		 n->op_len > 40 ? "..." : "");
	if (rc == ITD_ENOTFOUND && msg[0])
		return expr_fail(c->err, rc, n->op_off, "%s", msg);
	if (rc == ITD_ENOTFOUND)
		return expr_fail(c->err, rc, n->op_off, "unknown name %s", buf);
	if (rc)
		return expr_fail(c->err, rc, n->op_off, "cannot resolve %s: %s", buf,
				 msg[0] ? msg : itd_err_msg(rc));
	if (sym.type != ITD_T_NUM && sym.type != ITD_T_BOOL && sym.type != ITD_T_STR)
		return expr_fail(c->err, ITD_EINVAL, n->op_off, "name %s resolved to no type", buf);
	n->type = (uint8_t)sym.type;
	if (sym.kind == ITD_SYM_CONST) {
		if (sym.value.type != sym.type || (sym.type == ITD_T_STR && !sym.value.str))
			return expr_fail(c->err, ITD_EINVAL, n->op_off,
					 "constant %s has a value of the wrong type", buf);
		n->flags = NF_CONST;
		n->value = sym.value;
		return 0;
	}
	n->flags = NF_SLOT;
	n->slot = sym.slot;
	if (sym.type == ITD_T_STR && sym.enum_values && sym.n_enum) {
		n->enum_values = sym.enum_values;
		n->n_enum = sym.n_enum;
	}
	return 0;
}

/* Comparing an enum slot with a string constant outside its values can
 * never be true (or false), which is always a typo in the scenario. */
static int check_enum(struct checker *c, uint32_t slot, uint32_t lit)
{
	const struct node *s = &c->nodes[slot], *l = &c->nodes[lit];
	char buf[64], allowed[sizeof c->err->msg];
	size_t used = 0;

	if (!(s->flags & NF_SLOT) || !s->enum_values || !(l->flags & NF_CONST) ||
	    l->type != ITD_T_STR)
		return 0;
	for (size_t k = 0; k < s->n_enum; k++)
		if (strcmp(s->enum_values[k], l->value.str) == 0)
			return 0;
	allowed[0] = '\0';
	for (size_t k = 0; k < s->n_enum && used < sizeof allowed; k++) {
		int w = snprintf(allowed + used, sizeof allowed - used, "%s%s", k ? ", " : "",
				 s->enum_values[k]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return expr_fail(c->err, ITD_ETYPE, l->off, "'%s' is not a value of %s (allowed: %s)",
			 l->value.str, desc(c, slot, buf, sizeof buf), allowed);
}

static int check_cmp(struct checker *c, uint32_t i)
{
	const struct node *n = &c->nodes[i];
	uint32_t a = n->kid, b = c->nodes[a].next;
	static const char *const ops[] = { "==", "!=", "<", "<=", ">", ">=" };
	char ba[64], bb[64];
	int rc;

	if (c->nodes[a].type != c->nodes[b].type)
		return expr_fail(c->err, ITD_ETYPE, n->op_off, "type mismatch: %s is %s, %s is %s",
				 desc(c, a, ba, sizeof ba), tname(&c->nodes[a]),
				 desc(c, b, bb, sizeof bb), tname(&c->nodes[b]));
	if (n->op != C_EQ && n->op != C_NE && c->nodes[a].type == ITD_T_BOOL)
		return expr_fail(c->err, ITD_ETYPE, n->op_off,
				 "'%s' needs numbers or strings, got bool", ops[n->op]);
	if ((rc = check_enum(c, a, b)) || (rc = check_enum(c, b, a)))
		return rc;
	c->nodes[i].type = ITD_T_BOOL;
	return 0;
}

/* Every child of i must have type t; `what` names the construct. */
static int want_kids(struct checker *c, uint32_t i, enum itd_type t, const char *what)
{
	char buf[64];
	for (uint32_t k = c->nodes[i].kid; k != NIL; k = c->nodes[k].next)
		if (c->nodes[k].type != t)
			return expr_fail(c->err, ITD_ETYPE, c->nodes[k].off, "%s %s, %s is %s", what,
					 t == ITD_T_NUM ? "needs numbers" :
					 t == ITD_T_BOOL ? "needs bools" : "needs strings",
					 desc(c, k, buf, sizeof buf), tname(&c->nodes[k]));
	return 0;
}

static int check_call(struct checker *c, uint32_t i)
{
	struct node *n = &c->nodes[i];
	const char *name = expr_fn_names[n->op];
	uint32_t want = 1, got = n->n_kids;
	char what[32], buf[64];

	snprintf(what, sizeof what, "'%s'", name);
	switch (n->op) {
	case F_MIN:
	case F_MAX:
		if (got < 2)
			return expr_fail(c->err, ITD_ETYPE, n->op_off,
					 "'%s' takes at least 2 arguments, got %u", name, got);
		n->type = ITD_T_NUM;
		return want_kids(c, i, ITD_T_NUM, what);
	case F_IF:
	case F_CLAMP:
		want = 3;
		break;
	case F_STARTS_WITH:
	case F_ENDS_WITH:
		want = 2;
		break;
	default:
		break;
	}
	if (got != want)
		return expr_fail(c->err, ITD_ETYPE, n->op_off, "'%s' takes %u argument%s, got %u",
				 name, want, want == 1 ? "" : "s", got);
	if (n->op == F_STARTS_WITH || n->op == F_ENDS_WITH) {
		n->type = ITD_T_BOOL;
		return want_kids(c, i, ITD_T_STR, what);
	}
	if (n->op != F_IF) {
		n->type = ITD_T_NUM;
		return want_kids(c, i, ITD_T_NUM, what);
	}
	uint32_t cond = n->kid, a = c->nodes[cond].next, b = c->nodes[a].next;
	if (c->nodes[cond].type != ITD_T_BOOL)
		return expr_fail(c->err, ITD_ETYPE, c->nodes[cond].off,
				 "if() condition must be bool, %s is %s", desc(c, cond, buf, sizeof buf),
				 tname(&c->nodes[cond]));
	if (c->nodes[a].type != c->nodes[b].type)
		return expr_fail(c->err, ITD_ETYPE, c->nodes[b].off,
				 "if() branches must have one type: %s vs %s", tname(&c->nodes[a]),
				 tname(&c->nodes[b]));
	n->type = c->nodes[a].type;
	return 0;
}

/* Fold node i if all its children are constant and it evaluates cleanly
 * (a non-finite result is left for evaluation to report). */
static void fold(struct checker *c, uint32_t i)
{
	struct node *n = &c->nodes[i];
	struct itd_value v;

	for (uint32_t k = n->kid; k != NIL; k = c->nodes[k].next)
		if (!(c->nodes[k].flags & NF_CONST))
			return;
	if (expr_tree_eval(c->nodes, i, NULL, &v) == 0) {
		n->flags |= NF_CONST;
		n->value = v;
	}
}

static int check(struct checker *c, uint32_t i)
{
	struct node *n = &c->nodes[i];
	char buf[64];
	int rc;

	if (n->kind == N_LIT) {
		n->type = (uint8_t)n->value.type;
		return 0;
	}
	if (n->kind == N_NAME)
		return resolve(c, i);
	for (uint32_t k = n->kid; k != NIL; k = c->nodes[k].next)
		if ((rc = check(c, k)))
			return rc;
	uint32_t a = n->kid, b = a == NIL ? NIL : c->nodes[a].next;
	switch (n->kind) {
	case N_NEG:
		if (c->nodes[a].type != ITD_T_NUM)
			return expr_fail(c->err, ITD_ETYPE, c->nodes[a].off,
					 "type mismatch: '-' needs a number, got %s", tname(&c->nodes[a]));
		n->type = ITD_T_NUM;
		break;
	case N_NOT:
		if (c->nodes[a].type != ITD_T_BOOL)
			return expr_fail(c->err, ITD_ETYPE, c->nodes[a].off,
					 "'not' needs a bool, %s is %s", desc(c, a, buf, sizeof buf),
					 tname(&c->nodes[a]));
		n->type = ITD_T_BOOL;
		break;
	case N_ARITH: {
		static const char ops[] = "+-*/%";
		uint32_t bad = c->nodes[a].type != ITD_T_NUM ? a :
			       c->nodes[b].type != ITD_T_NUM ? b : NIL;
		if (bad != NIL)
			return expr_fail(c->err, ITD_ETYPE, c->nodes[bad].off,
					 "type mismatch: '%c' needs numbers, got %s", ops[n->op],
					 tname(&c->nodes[bad]));
		n->type = ITD_T_NUM;
		break;
	}
	case N_CMP:
		if ((rc = check_cmp(c, i)))
			return rc;
		break;
	case N_AND:
	case N_OR:
		if ((rc = want_kids(c, i, ITD_T_BOOL, n->kind == N_AND ? "'and'" : "'or'")))
			return rc;
		n->type = ITD_T_BOOL;
		break;
	default:
		if ((rc = check_call(c, i)))
			return rc;
		break;
	}
	fold(c, i);
	return 0;
}

int expr_check(struct node *nodes, uint32_t root, const char *src,
	       const struct itd_expr_env *env, struct itd_expr_error *err)
{
	struct checker c = { .nodes = nodes, .src = src, .env = env, .err = err };
	return check(&c, root);
}
