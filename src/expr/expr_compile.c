/* expr_compile.c: code generation from the checked tree to stack bytecode.
 * Jumps only go forward (short-circuit and if()), so evaluation time is
 * bounded by the code length; the deepest stack is computed here. */
#include "expr_int.h"

struct codegen {
	struct insn *code;          /* output, ITD_EXPR_MAX_CODE entries */
	uint32_t n;                 /* instructions emitted */
	int depth;                  /* stack depth after the last instruction */
	int max;                    /* deepest stack so far */
	bool full;                  /* ran out of room */
	const struct node *nodes;   /* the tree */
};

/* Append an instruction that changes the stack depth by delta; returns
 * its index (clamped when full, which the caller reports once). */
static uint32_t emit(struct codegen *cg, enum opcode op, int delta)
{
	cg->depth += delta;
	if (cg->depth > cg->max)
		cg->max = cg->depth;
	if (cg->n >= ITD_EXPR_MAX_CODE) {
		cg->full = true;
		return ITD_EXPR_MAX_CODE - 1;
	}
	struct insn *in = &cg->code[cg->n];
	memset(in, 0, sizeof *in);
	in->op = (uint8_t)op;
	return cg->n++;
}

static void emit_k(struct codegen *cg, enum opcode op, int delta, const struct itd_value *v)
{
	uint32_t at = emit(cg, op, delta);
	union vslot k;
	switch (v->type) {
	case ITD_T_BOOL:
		memset(&k, 0, sizeof k);
		k.b = v->b;
		break;
	case ITD_T_STR:
		k.str = v->str;
		break;
	default:
		k.num = v->num;
		break;
	}
	cg->code[at].k = k;
}

/* Point the jump at `at` to the next instruction to be emitted. */
static void patch(struct codegen *cg, uint32_t at)
{
	cg->code[at].jump = (uint16_t)cg->n;
}

static bool is_const(const struct node *n)
{
	return n->flags & NF_CONST;
}

static bool is_global_slot(const struct node *n)
{
	return (n->flags & NF_SLOT) && !(n->slot & ITD_SLOT_INTENT);
}

static void gen(struct codegen *cg, uint32_t i);

/* Binary number op: operands from the stack, or one folded into k. */
static void gen_binary(struct codegen *cg, uint32_t a, uint32_t b, enum opcode ss,
		       enum opcode sk, enum opcode ks)
{
	const struct node *na = &cg->nodes[a], *nb = &cg->nodes[b];
	if (is_const(nb)) {
		gen(cg, a);
		emit_k(cg, sk, 0, &nb->value);
	} else if (is_const(na)) {
		gen(cg, b);
		emit_k(cg, ks, 0, &na->value);
	} else {
		gen(cg, a);
		gen(cg, b);
		emit(cg, ss, -1);
	}
}

static void gen_arith(struct codegen *cg, const struct node *n, uint32_t a, uint32_t b)
{
	switch (n->op) {
	case A_ADD: /* IEEE addition and multiplication commute exactly */
		gen_binary(cg, a, b, OP_ADD, OP_ADD_K, OP_ADD_K);
		break;
	case A_SUB:
		gen_binary(cg, a, b, OP_SUB, OP_SUB_K, OP_RSUB_K);
		break;
	case A_MUL:
		gen_binary(cg, a, b, OP_MUL, OP_MUL_K, OP_MUL_K);
		break;
	case A_DIV:
		gen_binary(cg, a, b, OP_DIV, OP_DIV_K, OP_RDIV_K);
		break;
	default:
		gen_binary(cg, a, b, OP_MOD, OP_MOD_K, OP_RMOD_K);
		break;
	}
}

/* The comparison a op b with the operands swapped (b op' a). */
static int mirror(int op)
{
	switch (op) {
	case C_LT: return C_GT;
	case C_LE: return C_GE;
	case C_GT: return C_LT;
	case C_GE: return C_LE;
	default: return op;
	}
}

static void gen_cmp(struct codegen *cg, const struct node *n, uint32_t a, uint32_t b)
{
	const struct node *na = &cg->nodes[a], *nb = &cg->nodes[b];
	int op = n->op;
	uint32_t at;

	if (is_const(na) && !is_const(nb)) {
		uint32_t t = a;
		a = b;
		b = t;
		na = &cg->nodes[a];
		nb = &cg->nodes[b];
		op = mirror(op);
	}
	if (na->type == ITD_T_NUM && is_const(nb) && is_global_slot(na)) {
		at = emit(cg, OP_CMP_GK, 1);
		cg->code[at].slot = na->slot;
		cg->code[at].k.num = nb->value.num;
		cg->code[at].aux = (uint8_t)op;
		return;
	}
	if (na->type == ITD_T_STR && is_const(nb) && is_global_slot(na) &&
	    (op == C_EQ || op == C_NE)) {
		at = emit(cg, OP_SEQ_GK, 1);
		cg->code[at].slot = na->slot;
		cg->code[at].k.str = nb->value.str;
		cg->code[at].aux = op == C_NE;
		return;
	}
	if (na->type == ITD_T_NUM && is_const(nb)) {
		gen(cg, a);
		emit_k(cg, OP_CMP_NK, 0, &nb->value);
		cg->code[cg->n - 1].aux = (uint8_t)op;
		return;
	}
	gen(cg, a);
	gen(cg, b);
	at = emit(cg, na->type == ITD_T_NUM ? OP_CMP_N : na->type == ITD_T_STR ? OP_CMP_S : OP_CMP_B,
		  -1);
	cg->code[at].aux = (uint8_t)op;
}

static void gen_call(struct codegen *cg, const struct node *n)
{
	static const enum opcode unary[F_COUNT] = {
		[F_ABS] = OP_ABS, [F_FLOOR] = OP_FLOOR, [F_CEIL] = OP_CEIL,
		[F_ROUND] = OP_ROUND, [F_SQRT] = OP_SQRT,
	};
	uint32_t k = n->kid, jf, jmp;

	switch (n->op) {
	case F_IF:
		gen(cg, k);
		jf = emit(cg, OP_JF_POP, -1);
		gen(cg, cg->nodes[k].next);
		jmp = emit(cg, OP_JMP, -1); /* the else branch starts one lower */
		patch(cg, jf);
		gen(cg, cg->nodes[cg->nodes[k].next].next);
		patch(cg, jmp);
		break;
	case F_MIN:
	case F_MAX: {
		bool mn = n->op == F_MIN;
		uint32_t b = cg->nodes[k].next;
		if (n->n_kids == 2) {
			gen_binary(cg, k, b, mn ? OP_MIN : OP_MAX, mn ? OP_MIN_K : OP_MAX_K,
				   mn ? OP_RMIN_K : OP_RMAX_K);
			break;
		}
		gen(cg, k);
		for (; b != NIL; b = cg->nodes[b].next) {
			if (is_const(&cg->nodes[b])) {
				emit_k(cg, mn ? OP_MIN_K : OP_MAX_K, 0, &cg->nodes[b].value);
				continue;
			}
			gen(cg, b);
			emit(cg, mn ? OP_MIN : OP_MAX, -1);
		}
		break;
	}
	case F_CLAMP:
		for (; k != NIL; k = cg->nodes[k].next)
			gen(cg, k);
		emit(cg, OP_CLAMP, -2);
		break;
	case F_STARTS_WITH:
	case F_ENDS_WITH:
		gen(cg, k);
		gen(cg, cg->nodes[k].next);
		emit(cg, n->op == F_STARTS_WITH ? OP_STARTS : OP_ENDS, -1);
		break;
	default:
		gen(cg, k);
		emit(cg, unary[n->op], 0);
		break;
	}
}

static void gen(struct codegen *cg, uint32_t i)
{
	const struct node *n = &cg->nodes[i];
	uint32_t a = n->kid, b = a == NIL ? NIL : cg->nodes[a].next, j;

	if (is_const(n)) {
		emit_k(cg, OP_PUSH, 1, &n->value);
		return;
	}
	switch (n->kind) {
	case N_NAME:
		j = emit(cg, n->slot & ITD_SLOT_INTENT ? OP_LOAD_I : OP_LOAD_G, 1);
		cg->code[j].slot = n->slot & ~ITD_SLOT_INTENT;
		break;
	case N_NEG:
		gen(cg, a);
		emit(cg, OP_NEG, 0);
		break;
	case N_NOT:
		gen(cg, a);
		emit(cg, OP_NOT, 0);
		break;
	case N_ARITH:
		gen_arith(cg, n, a, b);
		break;
	case N_CMP:
		gen_cmp(cg, n, a, b);
		break;
	case N_AND:
	case N_OR:
		/* a; jump-keeping-a past b if a decides; else pop a; b */
		gen(cg, a);
		j = emit(cg, n->kind == N_AND ? OP_JF_KEEP : OP_JT_KEEP, -1);
		gen(cg, b);
		patch(cg, j);
		break;
	default:
		gen_call(cg, n);
		break;
	}
}

int expr_codegen(const struct node *nodes, uint32_t root, struct insn *code, uint16_t *n_code,
		 uint16_t *max_stack, struct itd_expr_error *err)
{
	struct codegen cg = { .code = code, .nodes = nodes };

	gen(&cg, root);
	emit(&cg, OP_RET, -1);
	if (cg.full)
		return expr_fail(err, ITD_ELIMIT, 0,
				 "expression too large: more than %d instructions",
				 ITD_EXPR_MAX_CODE);
	if (cg.max > EXPR_STACK)
		return expr_fail(err, ITD_ELIMIT, 0, "expression needs too deep a stack (%d)",
				 cg.max);
	*n_code = (uint16_t)cg.n;
	*max_stack = (uint16_t)cg.max;
	return 0;
}
