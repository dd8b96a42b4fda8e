/* expr_eval.c: the two evaluators: the bytecode VM (the hot path: a switch
 * over a compact instruction array, a fixed stack on the C stack, no
 * allocation) and the tree walker that folding and explain use.  Both use
 * the helpers of expr_int.h, so they agree on every result.
 *
 * Non-finite results: the arithmetic that can turn finite operands into a
 * non-finite number (+ - * / % and sqrt) is checked; the first such result
 * stops evaluation with ITD_ERANGE and becomes the result. */
#include <stddef.h>

#include "expr_int.h"

_Static_assert(sizeof(union vslot) == sizeof(((struct itd_value *)0)->num),
	       "a stack slot holds exactly a value's payload");

/* Copy a frame value's payload (whatever its type) onto the stack. */
static inline void load(union vslot *dst, const struct itd_value *v)
{
	memcpy(dst, (const char *)v + offsetof(struct itd_value, num), sizeof *dst);
}

#if defined(__GNUC__)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define UNREACHABLE() __builtin_unreachable()
#define ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define unlikely(x) (x)
#define UNREACHABLE() ((void)0)
#define ALWAYS_INLINE inline
#endif

/* One arithmetic result r, checked: on a non-finite value stop. */
#define ARITH(expr)                               \
	do {                                      \
		double r_ = (expr);               \
		if (unlikely(!isfinite(r_))) {    \
			res->num = r_;            \
			return ITD_ERANGE;        \
		}                                 \
		sp[-1].num = r_;                  \
	} while (0)

/* Run the code; *res receives the result payload.  The frame has been
 * checked to hold every pointer the code reads. */
static ALWAYS_INLINE int run(const struct itd_expr *e, const struct itd_expr_frame *f,
		      union vslot *res)
{
	union vslot stack[EXPR_STACK];
	union vslot *sp = stack; /* the next free slot; the top is sp[-1] */
	const struct insn *pc = e->code;
	const struct itd_value *g = f ? f->global : NULL;
	const struct itd_value *in = f ? f->intent : NULL;
	double x;

	for (;; pc++) {
		switch ((enum opcode)pc->op) {
		case OP_RET:
			*res = sp[-1];
			return 0;
		case OP_PUSH:
			*sp++ = pc->k;
			break;
		case OP_LOAD_G:
			load(sp++, &g[pc->slot]);
			break;
		case OP_LOAD_I:
			load(sp++, &in[pc->slot]);
			break;
		case OP_ADD:
			sp--;
			ARITH(sp[-1].num + sp[0].num);
			break;
		case OP_ADD_K:
			ARITH(sp[-1].num + pc->k.num);
			break;
		case OP_SUB:
			sp--;
			ARITH(sp[-1].num - sp[0].num);
			break;
		case OP_SUB_K:
			ARITH(sp[-1].num - pc->k.num);
			break;
		case OP_RSUB_K:
			ARITH(pc->k.num - sp[-1].num);
			break;
		case OP_MUL:
			sp--;
			ARITH(sp[-1].num * sp[0].num);
			break;
		case OP_MUL_K:
			ARITH(sp[-1].num * pc->k.num);
			break;
		case OP_DIV:
			sp--;
			ARITH(sp[-1].num / sp[0].num);
			break;
		case OP_DIV_K:
			ARITH(sp[-1].num / pc->k.num);
			break;
		case OP_RDIV_K:
			ARITH(pc->k.num / sp[-1].num);
			break;
		case OP_MOD:
			sp--;
			ARITH(expr_mod(sp[-1].num, sp[0].num));
			break;
		case OP_MOD_K:
			ARITH(expr_mod(sp[-1].num, pc->k.num));
			break;
		case OP_RMOD_K:
			ARITH(expr_mod(pc->k.num, sp[-1].num));
			break;
		case OP_MIN:
			sp--;
			sp[-1].num = expr_min(sp[-1].num, sp[0].num);
			break;
		case OP_MIN_K:
			sp[-1].num = expr_min(sp[-1].num, pc->k.num);
			break;
		case OP_RMIN_K:
			sp[-1].num = expr_min(pc->k.num, sp[-1].num);
			break;
		case OP_MAX:
			sp--;
			sp[-1].num = expr_max(sp[-1].num, sp[0].num);
			break;
		case OP_MAX_K:
			sp[-1].num = expr_max(sp[-1].num, pc->k.num);
			break;
		case OP_RMAX_K:
			sp[-1].num = expr_max(pc->k.num, sp[-1].num);
			break;
		case OP_NEG:
			sp[-1].num = -sp[-1].num;
			break;
		case OP_ABS:
			sp[-1].num = fabs(sp[-1].num);
			break;
		case OP_FLOOR:
			sp[-1].num = floor(sp[-1].num);
			break;
		case OP_CEIL:
			sp[-1].num = ceil(sp[-1].num);
			break;
		case OP_ROUND:
			sp[-1].num = round(sp[-1].num);
			break;
		case OP_SQRT:
			ARITH(sqrt(sp[-1].num));
			break;
		case OP_CLAMP:
			sp -= 2;
			sp[-1].num = expr_clamp(sp[-1].num, sp[0].num, sp[1].num);
			break;
		case OP_NOT:
			sp[-1].b = !sp[-1].b;
			break;
		case OP_CMP_N:
			sp--;
			sp[-1].b = expr_cmp_num(pc->aux, sp[-1].num, sp[0].num);
			break;
		case OP_CMP_S:
			sp--;
			sp[-1].b = expr_cmp_str(pc->aux, sp[-1].str, sp[0].str);
			break;
		case OP_CMP_B:
			sp--;
			sp[-1].b = (sp[-1].b == sp[0].b) == (pc->aux == C_EQ);
			break;
		case OP_CMP_NK:
			x = sp[-1].num;
			sp[-1].b = expr_cmp_num(pc->aux, x, pc->k.num);
			break;
		case OP_CMP_GK:
			sp++->b = expr_cmp_num(pc->aux, g[pc->slot].num, pc->k.num);
			break;
		case OP_SEQ_GK: {
			const char *s = g[pc->slot].str;
			bool eq = s == pc->k.str || strcmp(s, pc->k.str) == 0;
			sp++->b = eq != (pc->aux != 0);
			break;
		}
		case OP_STARTS:
			sp--;
			sp[-1].b = expr_starts_with(sp[-1].str, sp[0].str);
			break;
		case OP_ENDS:
			sp--;
			sp[-1].b = expr_ends_with(sp[-1].str, sp[0].str);
			break;
		case OP_JF_KEEP:
			if (!sp[-1].b)
				pc = e->code + pc->jump - 1;
			else
				sp--;
			break;
		case OP_JT_KEEP:
			if (sp[-1].b)
				pc = e->code + pc->jump - 1;
			else
				sp--;
			break;
		case OP_JF_POP:
			if (!(--sp)->b)
				pc = e->code + pc->jump - 1;
			break;
		case OP_JMP:
			pc = e->code + pc->jump - 1;
			break;
		default:
			UNREACHABLE();
		}
	}
}

/* The frame holds every pointer the expression reads. */
static inline bool frame_ok(const struct itd_expr *e, const struct itd_expr_frame *f)
{
	if (!e->needs)
		return true;
	if (!f)
		return false;
	if ((e->needs & NEEDS_GLOBAL) && !f->global)
		return false;
	return !(e->needs & NEEDS_INTENT) || f->intent;
}

int itd_expr_eval(const struct itd_expr *e, const struct itd_expr_frame *f,
		  struct itd_value *out)
{
	union vslot r;
	int rc;

	if (unlikely(!frame_ok(e, f)))
		return ITD_EINVAL;
	rc = run(e, f, &r);
	out->type = rc ? ITD_T_NUM : e->type;
	switch (out->type) {
	case ITD_T_BOOL:
		out->b = r.b;
		break;
	case ITD_T_STR:
		out->str = r.str;
		break;
	default:
		out->num = r.num;
		break;
	}
	return rc;
}

int itd_expr_eval_num(const struct itd_expr *e, const struct itd_expr_frame *f, double *out)
{
	union vslot r;
	int rc;

	if (unlikely(!frame_ok(e, f) || e->type != ITD_T_NUM))
		return ITD_EINVAL;
	rc = run(e, f, &r);
	*out = r.num;
	return rc;
}

int itd_expr_eval_bool(const struct itd_expr *e, const struct itd_expr_frame *f, bool *out)
{
	union vslot r;
	int rc;

	if (unlikely(!frame_ok(e, f) || e->type != ITD_T_BOOL))
		return ITD_EINVAL;
	rc = run(e, f, &r);
	*out = rc ? false : r.b;
	return rc;
}

/* ------------------------------------------------------------ tree walker */

/* Evaluate child k into v; on an error pass it and its value up. */
#define CHILD(k, v)                                                     \
	do {                                                            \
		int rc_ = expr_tree_eval(nodes, (k), f, &(v));          \
		if (rc_) {                                              \
			*out = (v);                                     \
			return rc_;                                     \
		}                                                       \
	} while (0)

static int arith(int op, double a, double b, struct itd_value *out)
{
	double r;
	switch (op) {
	case A_ADD: r = a + b; break;
	case A_SUB: r = a - b; break;
	case A_MUL: r = a * b; break;
	case A_DIV: r = a / b; break;
	default: r = expr_mod(a, b); break;
	}
	out->type = ITD_T_NUM;
	out->num = r;
	return isfinite(r) ? 0 : ITD_ERANGE;
}

static int call(const struct node *nodes, const struct node *n, const struct itd_expr_frame *f,
		struct itd_value *out)
{
	struct itd_value a, b, c;
	uint32_t k = n->kid;

	if (n->op == F_IF) {
		CHILD(k, a);
		k = nodes[k].next;
		return expr_tree_eval(nodes, a.b ? k : nodes[k].next, f, out);
	}
	CHILD(k, a);
	out->type = (enum itd_type)n->type;
	switch (n->op) {
	case F_MIN:
	case F_MAX:
		for (k = nodes[k].next; k != NIL; k = nodes[k].next) {
			CHILD(k, b);
			a.num = n->op == F_MIN ? expr_min(a.num, b.num) : expr_max(a.num, b.num);
		}
		out->num = a.num;
		return 0;
	case F_CLAMP:
		CHILD(nodes[k].next, b);
		CHILD(nodes[nodes[k].next].next, c);
		out->num = expr_clamp(a.num, b.num, c.num);
		return 0;
	case F_ABS:
		out->num = fabs(a.num);
		return 0;
	case F_FLOOR:
		out->num = floor(a.num);
		return 0;
	case F_CEIL:
		out->num = ceil(a.num);
		return 0;
	case F_ROUND:
		out->num = round(a.num);
		return 0;
	case F_SQRT:
		out->num = sqrt(a.num);
		return isfinite(out->num) ? 0 : ITD_ERANGE;
	default:
		CHILD(nodes[k].next, b);
		out->b = n->op == F_STARTS_WITH ? expr_starts_with(a.str, b.str) :
						  expr_ends_with(a.str, b.str);
		return 0;
	}
}

int expr_tree_eval(const struct node *nodes, uint32_t i, const struct itd_expr_frame *f,
		   struct itd_value *out)
{
	const struct node *n = &nodes[i];
	struct itd_value a, b;

	if (n->flags & NF_CONST) {
		*out = n->value;
		return 0;
	}
	if (n->kind == N_NAME) {
		const struct itd_value *base = NULL;
		if (f)
			base = n->slot & ITD_SLOT_INTENT ? f->intent : f->global;
		if (!base)
			return ITD_EINVAL;
		out->type = (enum itd_type)n->type;
		union vslot v;
		load(&v, &base[n->slot & ~ITD_SLOT_INTENT]);
		if (n->type == ITD_T_NUM)
			out->num = v.num;
		else if (n->type == ITD_T_BOOL)
			out->b = v.b;
		else
			out->str = v.str;
		return 0;
	}
	if (n->kind == N_CALL)
		return call(nodes, n, f, out);
	CHILD(n->kid, a);
	out->type = (enum itd_type)n->type;
	switch (n->kind) {
	case N_NEG:
		out->num = -a.num;
		return 0;
	case N_NOT:
		out->b = !a.b;
		return 0;
	case N_AND:
	case N_OR:
		if (a.b == (n->kind == N_OR)) {
			out->b = a.b;
			return 0;
		}
		return expr_tree_eval(nodes, nodes[n->kid].next, f, out);
	default:
		break;
	}
	CHILD(nodes[n->kid].next, b);
	if (n->kind == N_ARITH)
		return arith(n->op, a.num, b.num, out);
	/* N_CMP */
	out->type = ITD_T_BOOL;
	switch (a.type) {
	case ITD_T_NUM:
		out->b = expr_cmp_num(n->op, a.num, b.num);
		break;
	case ITD_T_STR:
		out->b = expr_cmp_str(n->op, a.str, b.str);
		break;
	default:
		out->b = (a.b == b.b) == (n->op == C_EQ);
		break;
	}
	return 0;
}
