/* expr_parse.c: recursive descent from tokens to a syntax tree held in one
 * array of nodes (children linked by index), following the grammar in
 * expr.h, with the nesting limit ITD_EXPR_MAX_DEPTH enforced as it goes. */
#include <stdio.h>

#include "core/core.h"
#include "expr_int.h"

const char *const expr_fn_names[F_COUNT] = {
	[F_IF] = "if",
	[F_MIN] = "min",
	[F_MAX] = "max",
	[F_CLAMP] = "clamp",
	[F_ABS] = "abs",
	[F_FLOOR] = "floor",
	[F_CEIL] = "ceil",
	[F_ROUND] = "round",
	[F_SQRT] = "sqrt",
	[F_STARTS_WITH] = "starts_with",
	[F_ENDS_WITH] = "ends_with",
};

struct parser {
	struct lexer lx;             /* the token source */
	struct tok tok;              /* the current (not yet consumed) token */
	char *strs;                  /* source copy for NUL-terminated literals */
	struct node *nodes;          /* node array, capacity `cap` */
	uint32_t n;                  /* nodes used */
	uint32_t cap;                /* nodes allocated: the token count bounds it */
	unsigned nest;               /* current recursion depth */
	struct itd_expr_error *err;  /* where errors go */
};

static int parse_expr(struct parser *p, uint32_t *out);

static int advance(struct parser *p)
{
	return expr_lex_next(&p->lx, &p->tok, p->err);
}

/* The current token as error text: 'x' or "end of input". */
static const char *tok_text(const struct parser *p, char *buf, size_t cap)
{
	if (p->tok.kind == TK_EOF)
		return "end of input";
	size_t n = p->tok.len > 40 ? 40 : p->tok.len;
	snprintf(buf, cap, "'%.*s%s'", (int)n, p->lx.src + p->tok.off, n < p->tok.len ? "..." : "");
	return buf;
}

/* A new leaf node of kind k spanning src[off, off + len); its index. */
static uint32_t new_node(struct parser *p, enum node_kind k, size_t off, size_t len)
{
	uint32_t i = p->n++;
	struct node *n = &p->nodes[i];
	memset(n, 0, sizeof *n);
	n->kind = (uint8_t)k;
	n->off = (uint32_t)off;
	n->len = (uint32_t)len;
	n->op_off = (uint32_t)off;
	n->kid = NIL;
	n->next = NIL;
	n->depth = 1;
	return i;
}

/* Hang the sibling list starting at `first` (linked by `next`, ended by
 * NIL) under node i, and check the tree height. */
static int adopt(struct parser *p, uint32_t i, uint32_t first)
{
	struct node *nd = &p->nodes[i];
	uint32_t depth = 0;
	nd->kid = first;
	nd->n_kids = 0;
	for (uint32_t k = first; k != NIL; k = p->nodes[k].next) {
		nd->n_kids++;
		if (p->nodes[k].depth > depth)
			depth = p->nodes[k].depth;
	}
	nd->depth = depth + 1;
	if (nd->depth > ITD_EXPR_MAX_DEPTH)
		return expr_fail(p->err, ITD_ELIMIT, nd->op_off,
				 "expression nested too deeply (limit %d levels)", ITD_EXPR_MAX_DEPTH);
	return 0;
}

/* A binary node of kind k (op) over l and r, its operator token at op_off. */
static int binary(struct parser *p, enum node_kind k, int op, size_t op_off, uint32_t l,
		  uint32_t r, uint32_t *out)
{
	const struct node *ln = &p->nodes[l], *rn = &p->nodes[r];
	uint32_t i = new_node(p, k, ln->off, rn->off + rn->len - ln->off);
	p->nodes[i].op = (uint8_t)op;
	p->nodes[i].op_off = (uint32_t)op_off;
	p->nodes[l].next = r;
	p->nodes[r].next = NIL;
	*out = i;
	return adopt(p, i, l);
}

static int enter(struct parser *p)
{
	if (++p->nest > ITD_EXPR_MAX_DEPTH)
		return expr_fail(p->err, ITD_ELIMIT, p->tok.off,
				 "expression nested too deeply (limit %d levels)", ITD_EXPR_MAX_DEPTH);
	return 0;
}

static int expect_close(struct parser *p, size_t open_off)
{
	if (p->tok.kind != TK_RPAREN)
		return expr_fail(p->err, ITD_EPARSE, p->tok.off,
				 "expected ')' to close '(' at offset %zu", open_off);
	return 0;
}

static int lookup_fn(const char *name, size_t len)
{
	for (int f = 0; f < F_COUNT; f++)
		if (strlen(expr_fn_names[f]) == len && memcmp(expr_fn_names[f], name, len) == 0)
			return f;
	return -1;
}

/* call := IDENT "(" [expr ("," expr)*] ")"; the current token is "(". */
static int parse_call(struct parser *p, const struct tok *name, uint32_t *out)
{
	uint32_t first = NIL, last = NIL, arg;
	int rc;
	int fn = lookup_fn(p->lx.src + name->off, name->len);

	if (fn < 0)
		return expr_fail(p->err, ITD_ENOTFOUND, name->off,
				 "unknown function '%.*s' (known: if, min, max, clamp, abs, floor, "
				 "ceil, round, sqrt, starts_with, ends_with)",
				 (int)(name->len > 40 ? 40 : name->len), p->lx.src + name->off);
	if ((rc = advance(p)))
		return rc;
	if (p->tok.kind != TK_RPAREN) {
		for (;;) {
			if ((rc = parse_expr(p, &arg)))
				return rc;
			if (last != NIL)
				p->nodes[last].next = arg;
			else
				first = arg;
			last = arg;
			if (p->tok.kind != TK_COMMA)
				break;
			if ((rc = advance(p)))
				return rc;
		}
		if (p->tok.kind != TK_RPAREN)
			return expr_fail(p->err, ITD_EPARSE, p->tok.off,
					 "expected ',' or ')' in call to '%s' at offset %zu",
					 expr_fn_names[fn], name->off);
	}
	uint32_t i = new_node(p, N_CALL, name->off, p->tok.off + 1 - name->off);
	p->nodes[i].op = (uint8_t)fn;
	*out = i;
	if ((rc = adopt(p, i, first)))
		return rc;
	return advance(p);
}

/* primary := NUMBER | STRING | "true" | "false" | name | call | "(" expr ")" */
static int parse_primary(struct parser *p, uint32_t *out)
{
	struct tok t = p->tok;
	char buf[64];
	int rc;

	switch (t.kind) {
	case TK_NUM:
		*out = new_node(p, N_LIT, t.off, t.len);
		p->nodes[*out].value = (struct itd_value){ .type = ITD_T_NUM, .num = t.num };
		p->nodes[*out].flags = NF_CONST;
		return advance(p);
	case TK_STR:
		*out = new_node(p, N_LIT, t.off, t.len);
		p->strs[t.off + t.len - 1] = '\0';
		p->nodes[*out].value = (struct itd_value){ .type = ITD_T_STR, .str = p->strs + t.off + 1 };
		p->nodes[*out].flags = NF_CONST;
		return advance(p);
	case TK_TRUE:
	case TK_FALSE:
		*out = new_node(p, N_LIT, t.off, t.len);
		p->nodes[*out].value = (struct itd_value){ .type = ITD_T_BOOL, .b = t.kind == TK_TRUE };
		p->nodes[*out].flags = NF_CONST;
		return advance(p);
	case TK_NAME:
		if ((rc = advance(p)))
			return rc;
		if (p->tok.kind == TK_LPAREN)
			return parse_call(p, &t, out);
		*out = new_node(p, N_NAME, t.off, t.len);
		p->nodes[*out].op_len = (uint32_t)t.len;
		return 0;
	case TK_LPAREN:
		if ((rc = advance(p)) || (rc = parse_expr(p, out)) || (rc = expect_close(p, t.off)))
			return rc;
		/* The span takes in the parentheses so a parent's span, which
		 * runs from its first to its last child, stays well formed. */
		p->nodes[*out].off = (uint32_t)t.off;
		p->nodes[*out].len = (uint32_t)(p->tok.off + 1 - t.off);
		return advance(p);
	default:
		return expr_fail(p->err, ITD_EPARSE, t.off, "expected an expression, got %s",
				 tok_text(p, buf, sizeof buf));
	}
}

/* unary := "-" unary | primary */
static int parse_unary(struct parser *p, uint32_t *out)
{
	struct tok t = p->tok;
	uint32_t kid;
	int rc;

	if (t.kind != TK_MINUS)
		return parse_primary(p, out);
	if ((rc = enter(p)) || (rc = advance(p)) || (rc = parse_unary(p, &kid)))
		return rc;
	p->nest--;
	const struct node *k = &p->nodes[kid];
	*out = new_node(p, N_NEG, t.off, k->off + k->len - t.off);
	return adopt(p, *out, kid);
}

static int arith_op(enum tok_kind k)
{
	switch (k) {
	case TK_PLUS: return A_ADD;
	case TK_MINUS: return A_SUB;
	case TK_STAR: return A_MUL;
	case TK_SLASH: return A_DIV;
	case TK_PERCENT: return A_MOD;
	default: return -1;
	}
}

/* term := unary (("*" | "/" | "%") unary)* */
static int parse_term(struct parser *p, uint32_t *out)
{
	uint32_t l, r;
	int rc;

	if ((rc = parse_unary(p, &l)))
		return rc;
	while (p->tok.kind == TK_STAR || p->tok.kind == TK_SLASH || p->tok.kind == TK_PERCENT) {
		struct tok op = p->tok;
		if ((rc = advance(p)) || (rc = parse_unary(p, &r)) ||
		    (rc = binary(p, N_ARITH, arith_op(op.kind), op.off, l, r, &l)))
			return rc;
	}
	*out = l;
	return 0;
}

/* sum := term (("+" | "-") term)* */
static int parse_sum(struct parser *p, uint32_t *out)
{
	uint32_t l, r;
	int rc;

	if ((rc = parse_term(p, &l)))
		return rc;
	while (p->tok.kind == TK_PLUS || p->tok.kind == TK_MINUS) {
		struct tok op = p->tok;
		if ((rc = advance(p)) || (rc = parse_term(p, &r)) ||
		    (rc = binary(p, N_ARITH, arith_op(op.kind), op.off, l, r, &l)))
			return rc;
	}
	*out = l;
	return 0;
}

static int cmp_op(enum tok_kind k)
{
	switch (k) {
	case TK_EQ: return C_EQ;
	case TK_NE: return C_NE;
	case TK_LT: return C_LT;
	case TK_LE: return C_LE;
	case TK_GT: return C_GT;
	case TK_GE: return C_GE;
	default: return -1;
	}
}

/* cmp := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)? */
static int parse_cmp(struct parser *p, uint32_t *out)
{
	uint32_t l, r;
	int rc;

	if ((rc = parse_sum(p, &l)))
		return rc;
	if (cmp_op(p->tok.kind) < 0) {
		*out = l;
		return 0;
	}
	struct tok op = p->tok;
	if ((rc = advance(p)) || (rc = parse_sum(p, &r)) ||
	    (rc = binary(p, N_CMP, cmp_op(op.kind), op.off, l, r, out)))
		return rc;
	if (cmp_op(p->tok.kind) >= 0)
		return expr_fail(p->err, ITD_EPARSE, p->tok.off,
				 "comparisons do not chain: join them with 'and'");
	return 0;
}

/* not := "not" not | cmp */
static int parse_not(struct parser *p, uint32_t *out)
{
	struct tok t = p->tok;
	uint32_t kid;
	int rc;

	if (t.kind != TK_NOT)
		return parse_cmp(p, out);
	if ((rc = enter(p)) || (rc = advance(p)) || (rc = parse_not(p, &kid)))
		return rc;
	p->nest--;
	const struct node *k = &p->nodes[kid];
	*out = new_node(p, N_NOT, t.off, k->off + k->len - t.off);
	return adopt(p, *out, kid);
}

/* and := not ("and" not)* */
static int parse_and(struct parser *p, uint32_t *out)
{
	uint32_t l, r;
	int rc;

	if ((rc = parse_not(p, &l)))
		return rc;
	while (p->tok.kind == TK_AND) {
		size_t op_off = p->tok.off;
		if ((rc = advance(p)) || (rc = parse_not(p, &r)) ||
		    (rc = binary(p, N_AND, 0, op_off, l, r, &l)))
			return rc;
	}
	*out = l;
	return 0;
}

/* or := and ("or" and)* */
static int parse_or(struct parser *p, uint32_t *out)
{
	uint32_t l, r;
	int rc;

	if ((rc = parse_and(p, &l)))
		return rc;
	while (p->tok.kind == TK_OR) {
		size_t op_off = p->tok.off;
		if ((rc = advance(p)) || (rc = parse_and(p, &r)) ||
		    (rc = binary(p, N_OR, 0, op_off, l, r, &l)))
			return rc;
	}
	*out = l;
	return 0;
}

static int parse_expr(struct parser *p, uint32_t *out)
{
	int rc;

	if ((rc = enter(p)) || (rc = parse_or(p, out)))
		return rc;
	p->nest--;
	return 0;
}

/* Tokens up to the end or the first lexical error: every node consumes at
 * least one token, so this bounds the node count. */
static uint32_t count_tokens(const char *src, size_t len)
{
	struct lexer lx = { .src = src, .len = len, .pos = 0 };
	struct itd_expr_error scratch;
	struct tok t;
	uint32_t n = 0;

	while (expr_lex_next(&lx, &t, &scratch) == 0 && t.kind != TK_EOF)
		n++;
	return n;
}

int expr_parse(const char *src, size_t len, char *strs, struct node **nodes_out,
	       uint32_t *n_out, uint32_t *root_out, struct itd_expr_error *err)
{
	struct parser p = {
		.lx = { .src = src, .len = len, .pos = 0 },
		.strs = strs,
		.err = err,
	};
	char buf[64];
	int rc;

	*nodes_out = NULL;
	*n_out = 0;
	p.cap = count_tokens(src, len) + 1;
	p.nodes = itd_malloc(p.cap * sizeof *p.nodes);
	if (!p.nodes) {
		rc = expr_fail(err, ITD_ENOMEM, 0, "out of memory");
		goto fail;
	}
	if ((rc = advance(&p)) || (rc = parse_expr(&p, root_out)))
		goto fail;
	if (p.tok.kind != TK_EOF) {
		rc = expr_fail(err, ITD_EPARSE, p.tok.off, "unexpected %s after the expression",
			       tok_text(&p, buf, sizeof buf));
		goto fail;
	}
	rc = 0;
fail:
	*nodes_out = p.nodes;
	*n_out = p.n;
	return rc;
}
