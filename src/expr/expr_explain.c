/* expr_explain.c: explain a boolean result by the atoms that decided it
 * (SPEC §5), walking the tree kept in the compiled expression with the
 * tree evaluator, so the explanation always agrees with evaluation.
 *
 * Deciding atoms: a true `and` needs both sides, a false one its first
 * false side; a true `or` its first true side, a false one both; `not`
 * passes through; anything else is an atom.  Only subtrees that evaluation
 * itself evaluated are visited, so no new error can appear on the way. */
#include <stdio.h>

#include "expr_int.h"

struct sink {
	char *buf;   /* output */
	size_t cap;  /* bytes in buf including the NUL */
	size_t len;  /* bytes written so far */
	bool cut;    /* something did not fit */
};

struct explainer {
	const struct itd_expr *e;      /* the expression */
	const struct itd_expr_frame *f; /* the values */
	struct sink out;               /* where the text goes */
	bool first;                    /* no atom written yet */
};

static void put(struct sink *s, const char *p, size_t n)
{
	size_t room = s->cap - 1 - s->len;
	if (n > room) {
		n = room;
		s->cut = true;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void puts_(struct sink *s, const char *p)
{
	put(s, p, strlen(p));
}

static void put_value(struct sink *s, const struct itd_value *v)
{
	char buf[64];
	size_t n = itd_value_format(v, buf, sizeof buf);
	put(s, buf, n);
}

static struct itd_value value_of(const struct explainer *x, uint32_t i)
{
	struct itd_value v = { .type = ITD_T_NONE };
	if (expr_tree_eval(x->e->nodes, i, x->f, &v) != 0)
		v.type = ITD_T_NUM; /* cannot happen on a path eval took */
	return v;
}

/* An operand: a literal as its value, anything else as source=value. */
static void operand(struct explainer *x, uint32_t i)
{
	const struct node *n = &x->e->nodes[i];
	struct itd_value v = value_of(x, i);
	/* -5 is a literal too, but (-5) is printed as written. */
	bool literal = n->kind == N_LIT || (n->kind == N_NEG && x->e->text[n->off] == '-' &&
					    x->e->nodes[n->kid].kind == N_LIT);

	if (!literal) {
		put(&x->out, x->e->text + n->off, n->len);
		puts_(&x->out, "=");
	}
	put_value(&x->out, &v);
}

static void atom(struct explainer *x, uint32_t i)
{
	static const char *const ops[] = { " == ", " != ", " < ", " <= ", " > ", " >= " };
	const struct node *n = &x->e->nodes[i];

	if (!x->first)
		puts_(&x->out, " and ");
	x->first = false;
	if (n->kind != N_CMP) {
		operand(x, i);
		return;
	}
	operand(x, n->kid);
	puts_(&x->out, ops[n->op]);
	operand(x, x->e->nodes[n->kid].next);
}

static void explain(struct explainer *x, uint32_t i)
{
	const struct node *n = &x->e->nodes[i];
	uint32_t a = n->kid, b = a == NIL ? NIL : x->e->nodes[a].next;

	switch (n->kind) {
	case N_NOT:
		explain(x, a);
		return;
	case N_AND:
	case N_OR: {
		bool v = value_of(x, i).b;
		bool va = value_of(x, a).b;
		/* The side that alone decides: and=false / or=true. */
		bool decisive = n->kind == N_OR;
		if (v == decisive) {
			explain(x, va == decisive ? a : b);
		} else {
			explain(x, a);
			explain(x, b);
		}
		return;
	}
	default:
		atom(x, i);
		return;
	}
}

size_t itd_expr_explain(const struct itd_expr *e, const struct itd_expr_frame *f, char *buf,
			size_t cap)
{
	struct explainer x = {
		.e = e,
		.f = f,
		.out = { .buf = buf, .cap = cap },
		.first = true,
	};
	struct itd_value v;
	char num[64];
	int rc;

	if (!cap)
		return 0;
	rc = expr_tree_eval(e->nodes, e->root, f, &v);
	if (rc == ITD_ERANGE) {
		itd_value_format(&v, num, sizeof num);
		puts_(&x.out, "arithmetic result not finite: ");
		puts_(&x.out, num);
	} else if (rc) {
		puts_(&x.out, "no frame for the values the expression reads");
	} else {
		explain(&x, e->root);
	}
	if (x.out.cut) {
		/* Mark the cut with "..." in the last bytes that fit. */
		size_t dots = x.out.len < 3 ? x.out.len : 3;
		memset(buf + x.out.len - dots, '.', dots);
	}
	buf[x.out.len] = '\0';
	return x.out.len;
}
