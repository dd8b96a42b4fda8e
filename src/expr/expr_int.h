/* expr_int.h: private to the expression module: tokens, the syntax tree,
 * the bytecode, and the arithmetic helpers that the VM and the tree walker
 * share so that eval, folding and explain can never disagree. */
#ifndef ITD_EXPR_INT_H
#define ITD_EXPR_INT_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "expr/expr.h"

/* ---------------------------------------------------------------- tokens */

enum tok_kind {
	TK_EOF,     /* end of input */
	TK_NUM,     /* number literal; tok.num holds its value */
	TK_STR,     /* string literal; the span includes both quotes */
	TK_NAME,    /* identifier or dotted name, e.g. state.battery */
	TK_LPAREN,  /* ( */
	TK_RPAREN,  /* ) */
	TK_COMMA,   /* , */
	TK_PLUS,    /* + */
	TK_MINUS,   /* - */
	TK_STAR,    /* * */
	TK_SLASH,   /* / */
	TK_PERCENT, /* % */
	TK_EQ,      /* == */
	TK_NE,      /* != */
	TK_LT,      /* < */
	TK_LE,      /* <= */
	TK_GT,      /* > */
	TK_GE,      /* >= */
	TK_AND,     /* and */
	TK_OR,      /* or */
	TK_NOT,     /* not */
	TK_TRUE,    /* true */
	TK_FALSE,   /* false */
};

struct tok {
	enum tok_kind kind; /* what it is */
	size_t off;         /* byte offset of its first byte */
	size_t len;         /* bytes in the source */
	double num;         /* TK_NUM: the value */
};

struct lexer {
	const char *src; /* the source, not NUL-terminated */
	size_t len;      /* its length */
	size_t pos;      /* next byte to read */
};

/* Read the next token into *t.  Returns 0, or ITD_EPARSE with *err filled
 * (unterminated string, bad number, stray character). */
int expr_lex_next(struct lexer *lx, struct tok *t, struct itd_expr_error *err);

/* ------------------------------------------------------------ syntax tree */

#define NIL UINT32_MAX /* "no node" in child / sibling links */

enum node_kind {
	N_LIT,   /* number, string or bool literal: value */
	N_NAME,  /* a resolved name: slot, or constant (value) */
	N_NEG,   /* unary minus: one child */
	N_NOT,   /* not: one child */
	N_ARITH, /* op: + - * / %; two children */
	N_CMP,   /* op: == != < <= > >=; two children */
	N_AND,   /* two children, short-circuit */
	N_OR,    /* two children, short-circuit */
	N_CALL,  /* op: enum fn; n_kids children */
};

enum arith_op { A_ADD, A_SUB, A_MUL, A_DIV, A_MOD };
enum cmp_op { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };
enum fn {
	F_IF,
	F_MIN,
	F_MAX,
	F_CLAMP,
	F_ABS,
	F_FLOOR,
	F_CEIL,
	F_ROUND,
	F_SQRT,
	F_STARTS_WITH,
	F_ENDS_WITH,
	F_COUNT /* number of functions */
};

/* Node flags. */
#define NF_SLOT 0x1  /* N_NAME: reads frame slot `slot` (else a constant) */
#define NF_CONST 0x2 /* value is known at compile time (literal, constant
			name, or a subtree of those, folded by the checker) */

struct node {
	uint8_t kind;     /* enum node_kind */
	uint8_t op;       /* arith_op, cmp_op or fn */
	uint8_t type;     /* result type (enum itd_type), set by the checker */
	uint8_t flags;    /* NF_* */
	uint32_t depth;   /* height of the subtree (a leaf is 1) */
	uint32_t off;     /* span of the source text it was parsed from */
	uint32_t len;     /* span length in bytes */
	uint32_t op_off;  /* offset of its operator, function or name token */
	uint32_t op_len;  /* N_NAME: length of the name token */
	uint32_t kid;     /* first child, or NIL */
	uint32_t next;    /* next sibling, or NIL */
	uint32_t n_kids;  /* number of children */
	uint32_t slot;    /* NF_SLOT: the frame slot (may carry ITD_SLOT_INTENT) */
	struct itd_value value;         /* NF_CONST: the value */
	const char *const *enum_values; /* string slot: allowed values, or NULL */
	size_t n_enum;                  /* number of enum_values */
};

/* The names of the functions, indexed by enum fn. */
extern const char *const expr_fn_names[F_COUNT];

/* Parse src[0..len) into a tree.  The nodes are one itd_malloc'd array,
 * which *nodes_out owns (the caller frees it, also on failure; it may be
 * NULL).  `strs` is a copy of the source in which the parser NUL-terminates
 * each string literal in place, so literal values point into it.  Names
 * are left unresolved (N_NAME without NF_SLOT).  Returns 0 with *root_out
 * set, or ITD_EPARSE / ITD_ENOTFOUND (unknown function) / ITD_ELIMIT /
 * ITD_ENOMEM with *err filled. */
int expr_parse(const char *src, size_t len, char *strs, struct node **nodes_out,
	       uint32_t *n_out, uint32_t *root_out, struct itd_expr_error *err);

/* Resolve names through env (NULL: no names), type-check the tree under
 * root, setting every node's type, and fold constant subtrees (NF_CONST).
 * Returns 0, or ITD_ENOTFOUND / ITD_ETYPE with *err filled. */
int expr_check(struct node *nodes, uint32_t root, const char *src,
	       const struct itd_expr_env *env, struct itd_expr_error *err);

/* Describe a node for an error message: its source text in quotes, cut
 * with "..." when long.  Returns buf. */
const char *expr_describe(const struct node *n, const char *src, char *buf, size_t cap);

/* Write an error message at offset off; returns rc. */
int expr_fail(struct itd_expr_error *err, int rc, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* -------------------------------------------------------------- bytecode */

enum opcode {
	OP_RET,       /* return the top of the stack (typed by the expression) */
	OP_PUSH,      /* push k */
	OP_LOAD_G,    /* push global slot `slot` */
	OP_LOAD_I,    /* push intent slot `slot` */
	/* Binary number ops: ss = both on the stack, sk = right operand k,
	 * ks = left operand k. */
	OP_ADD, OP_ADD_K,
	OP_SUB, OP_SUB_K, OP_RSUB_K,
	OP_MUL, OP_MUL_K,
	OP_DIV, OP_DIV_K, OP_RDIV_K,
	OP_MOD, OP_MOD_K, OP_RMOD_K,
	OP_MIN, OP_MIN_K, OP_RMIN_K,
	OP_MAX, OP_MAX_K, OP_RMAX_K,
	OP_NEG, OP_ABS, OP_FLOOR, OP_CEIL, OP_ROUND, OP_SQRT,
	OP_CLAMP,     /* x lo hi -> clamped */
	OP_NOT,
	OP_CMP_N,     /* numbers; aux = cmp_op */
	OP_CMP_S,     /* strings; aux = cmp_op */
	OP_CMP_B,     /* bools; aux = C_EQ or C_NE */
	OP_CMP_NK,    /* number vs k (right); aux = cmp_op */
	OP_CMP_GK,    /* global number slot vs k; aux = cmp_op */
	OP_SEQ_GK,    /* global string slot == k.str; aux 1 negates */
	OP_STARTS,    /* starts_with */
	OP_ENDS,      /* ends_with */
	OP_JF_KEEP,   /* and: if top is false jump (keeping it), else pop */
	OP_JT_KEEP,   /* or: if top is true jump (keeping it), else pop */
	OP_JF_POP,    /* if(): pop; jump if it was false */
	OP_JMP,       /* unconditional forward jump */
};

union vslot {
	double num;      /* number */
	const char *str; /* string */
	bool b;          /* bool */
};

struct insn {
	uint8_t op;      /* enum opcode */
	uint8_t aux;     /* comparison kind, or a negation bit */
	uint16_t jump;   /* jumps: absolute target index (always forward) */
	uint32_t slot;   /* loads: slot number without ITD_SLOT_INTENT */
	union vslot k;   /* constant operand */
};

/* The VM's stack, on the C stack of itd_expr_eval.  The checker's depth
 * limit bounds the stack a compiled expression needs well below this. */
#define EXPR_STACK (2 * ITD_EXPR_MAX_DEPTH + 8)

/* Compile the checked tree into code[] (ITD_EXPR_MAX_CODE entries).
 * Returns 0 with *n_code and *max_stack set, or ITD_ELIMIT with *err. */
int expr_codegen(const struct node *nodes, uint32_t root, struct insn *code, uint16_t *n_code,
		 uint16_t *max_stack, struct itd_expr_error *err);

#define NEEDS_GLOBAL 0x1 /* reads frame->global */
#define NEEDS_INTENT 0x2 /* reads frame->intent */

struct itd_expr {
	enum itd_type type;  /* result type */
	bool uses_intent;    /* some slot read has ITD_SLOT_INTENT */
	bool is_const;       /* no slot read at all */
	uint8_t needs;       /* NEEDS_* bits: which frame pointers eval reads */
	uint16_t n_code;     /* instructions in code[] */
	uint16_t max_stack;  /* deepest stack the code reaches */
	uint32_t root;       /* root node index */
	uint32_t n_nodes;    /* nodes in `nodes` */
	size_t len;          /* source length */
	char *text;          /* the source (NUL-terminated) then, at len + 1,
				the string-literal area nodes point into */
	struct node *nodes;  /* the checked tree, kept for explain */
	struct insn code[];  /* the bytecode */
};

/* The tree walker: evaluate node i with the same semantics as the VM.
 * Never allocates.  Returns 0, ITD_ERANGE (non-finite arithmetic; *out is
 * that number) or ITD_EINVAL (a slot read without a frame). */
int expr_tree_eval(const struct node *nodes, uint32_t i, const struct itd_expr_frame *f,
		   struct itd_value *out);

/* ------------------------------------------------- shared arithmetic */

/* Floored modulo: the result has the sign of the divisor (as in Python).
 * A zero divisor gives NaN, which the callers report as ITD_ERANGE. */
static inline double expr_mod(double a, double b)
{
	/* Whole numbers (the common `tick % period`) take the integer path,
	 * which gives fmod's exact result without its cost. */
	if (a > -9007199254740992.0 && a < 9007199254740992.0 && b > -9007199254740992.0 &&
	    b < 9007199254740992.0 && b != 0) {
		int64_t ia = (int64_t)a, ib = (int64_t)b;
		if ((double)ia == a && (double)ib == b) {
			int64_t ir = ia % ib;
			if (ir != 0 && ((ir < 0) != (ib < 0)))
				ir += ib;
			return (double)ir;
		}
	}
	double r = fmod(a, b);
	if (r != 0 && ((r < 0) != (b < 0)))
		r += b;
	return r;
}

/* min/max keep the first operand on ties, so -0 and 0 behave predictably. */
static inline double expr_min(double a, double b)
{
	return b < a ? b : a;
}

static inline double expr_max(double a, double b)
{
	return b > a ? b : a;
}

/* clamp(x, lo, hi) is min(max(x, lo), hi): hi wins when lo > hi. */
static inline double expr_clamp(double x, double lo, double hi)
{
	return expr_min(expr_max(x, lo), hi);
}

static inline bool expr_cmp_num(int op, double a, double b)
{
	switch (op) {
	case C_EQ: return a == b;
	case C_NE: return a != b;
	case C_LT: return a < b;
	case C_LE: return a <= b;
	case C_GT: return a > b;
	default: return a >= b;
	}
}

static inline bool expr_cmp_str(int op, const char *a, const char *b)
{
	int c = a == b ? 0 : strcmp(a, b);
	switch (op) {
	case C_EQ: return c == 0;
	case C_NE: return c != 0;
	case C_LT: return c < 0;
	case C_LE: return c <= 0;
	case C_GT: return c > 0;
	default: return c >= 0;
	}
}

static inline bool expr_starts_with(const char *s, const char *p)
{
	size_t n = strlen(p);
	return strncmp(s, p, n) == 0;
}

static inline bool expr_ends_with(const char *s, const char *p)
{
	size_t ns = strlen(s), np = strlen(p);
	return np <= ns && memcmp(s + ns - np, p, np) == 0;
}

#endif
