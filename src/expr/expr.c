/* expr.c: the public face of the expression module: the compile pipeline
 * (lex+parse, check, codegen), the compiled expression's accessors, and
 * the error and value formatting every stage shares. */
#include <stdarg.h>
#include <stdio.h>

#include "core/core.h"
#include "expr_int.h"

const char *itd_type_name(enum itd_type t)
{
	switch (t) {
	case ITD_T_NUM:
		return "number";
	case ITD_T_BOOL:
		return "bool";
	case ITD_T_STR:
		return "string";
	default:
		return "none";
	}
}

int expr_fail(struct itd_expr_error *err, int rc, size_t off, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	err->offset = off;
	return rc;
}

const char *expr_describe(const struct node *n, const char *src, char *buf, size_t cap)
{
	size_t len = n->len > 40 ? 37 : n->len;
	/* A string literal is already quoted. */
	const char *q = src[n->off] == '\'' || src[n->off] == '"' ? "" : "'";
	snprintf(buf, cap, "%s%.*s%s%s", q, (int)len, src + n->off, len < n->len ? "..." : "", q);
	return buf;
}

int itd_expr_compile(const char *src, size_t len, const struct itd_expr_env *env,
		     enum itd_type want, struct itd_expr **out, struct itd_expr_error *err)
{
	struct itd_expr_error scratch;
	struct insn code[ITD_EXPR_MAX_CODE];
	struct itd_expr *e = NULL;
	struct node *nodes = NULL;
	char *text = NULL;
	uint32_t n_nodes = 0, root = 0;
	uint16_t n_code = 0, max_stack = 0;
	int rc;

	if (!err)
		err = &scratch;
	err->offset = 0;
	err->msg[0] = '\0';
	if (out)
		*out = NULL;
	if (!out || (!src && len)) {
		rc = expr_fail(err, ITD_EINVAL, 0, "invalid argument");
		goto fail;
	}
	if (len > ITD_EXPR_MAX_SOURCE) {
		rc = expr_fail(err, ITD_ELIMIT, ITD_EXPR_MAX_SOURCE,
			       "expression too long: %zu bytes (limit %d)", len, ITD_EXPR_MAX_SOURCE);
		goto fail;
	}
	/* The source, then a second copy the parser cuts string literals out
	 * of: both NUL-terminated, in one allocation. */
	text = itd_malloc(2 * (len + 1));
	if (!text) {
		rc = expr_fail(err, ITD_ENOMEM, 0, "out of memory");
		goto fail;
	}
	if (len) {
		memcpy(text, src, len);
		memcpy(text + len + 1, src, len);
	}
	text[len] = '\0';
	text[2 * len + 1] = '\0';
	if ((rc = expr_parse(text, len, text + len + 1, &nodes, &n_nodes, &root, err)) ||
	    (rc = expr_check(nodes, root, text, env, err)))
		goto fail;
	if (want != ITD_T_NONE && nodes[root].type != want) {
		rc = expr_fail(err, ITD_ETYPE, 0, "expression must be %s, it is %s",
			       itd_type_name(want), itd_type_name((enum itd_type)nodes[root].type));
		goto fail;
	}
	if ((rc = expr_codegen(nodes, root, code, &n_code, &max_stack, err)))
		goto fail;
	e = itd_malloc(sizeof *e + n_code * sizeof code[0]);
	if (!e) {
		rc = expr_fail(err, ITD_ENOMEM, 0, "out of memory");
		goto fail;
	}
	e->type = (enum itd_type)nodes[root].type;
	e->uses_intent = false;
	e->is_const = true;
	e->needs = 0;
	for (uint32_t i = 0; i < n_nodes; i++) {
		if (!(nodes[i].flags & NF_SLOT))
			continue;
		e->is_const = false;
		e->needs |= nodes[i].slot & ITD_SLOT_INTENT ? NEEDS_INTENT : NEEDS_GLOBAL;
	}
	e->uses_intent = e->needs & NEEDS_INTENT;
	e->n_code = n_code;
	e->max_stack = max_stack;
	e->root = root;
	e->n_nodes = n_nodes;
	e->len = len;
	e->text = text;
	e->nodes = nodes;
	memcpy(e->code, code, n_code * sizeof code[0]);
	*out = e;
	return 0;
fail:
	itd_free(nodes);
	itd_free(text);
	return rc;
}

void itd_expr_destroy(struct itd_expr *e)
{
	if (!e)
		return;
	itd_free(e->nodes);
	itd_free(e->text);
	itd_free(e);
}

enum itd_type itd_expr_type(const struct itd_expr *e)
{
	return e->type;
}

const char *itd_expr_source(const struct itd_expr *e)
{
	return e->text;
}

bool itd_expr_uses_intent(const struct itd_expr *e)
{
	return e->uses_intent;
}

bool itd_expr_is_const(const struct itd_expr *e)
{
	return e->is_const;
}

size_t itd_value_format(const struct itd_value *v, char *buf, size_t cap)
{
	char num[32];
	const char *s;
	size_t n;

	if (!cap)
		return 0;
	switch (v->type) {
	case ITD_T_NUM:
		snprintf(num, sizeof num, "%.15g", v->num);
		s = num;
		break;
	case ITD_T_BOOL:
		s = v->b ? "true" : "false";
		break;
	case ITD_T_STR:
		s = v->str ? v->str : "";
		break;
	default:
		s = "none";
		break;
	}
	n = strlen(s);
	if (n > cap - 1)
		n = cap - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return n;
}
