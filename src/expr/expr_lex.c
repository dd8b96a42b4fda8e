/* expr_lex.c: the expression lexer: turns the source bytes into tokens,
 * each with its byte offset, without reading past the given length (the
 * source need not be NUL-terminated) and without allocating. */
#include <stdio.h>
#include <stdlib.h>

#include "expr_int.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(char c)
{
	return is_ident_start(c) || is_digit(c);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* A number: digits [. digits] [e [+-] digits], or . digits [exponent].
 * The text is copied to a buffer so strtod cannot read past the source. */
static int lex_number(struct lexer *lx, struct tok *t, struct itd_expr_error *err)
{
	const char *s = lx->src;
	size_t i = lx->pos, n = lx->len;
	char buf[ITD_EXPR_MAX_SOURCE + 1];

	while (i < n && is_digit(s[i]))
		i++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t e = i + 1;
		if (e < n && (s[e] == '+' || s[e] == '-'))
			e++;
		if (e >= n || !is_digit(s[e])) {
			while (i < n && is_ident(s[i]))
				i++;
			return expr_fail(err, ITD_EPARSE, lx->pos, "malformed number '%.*s'",
					 (int)(i - lx->pos), s + lx->pos);
		}
		i = e;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (is_ident(s[i]) || s[i] == '.')) {
		while (i < n && (is_ident(s[i]) || s[i] == '.'))
			i++;
		return expr_fail(err, ITD_EPARSE, lx->pos, "malformed number '%.*s'",
				 (int)(i - lx->pos), s + lx->pos);
	}
	size_t len = i - lx->pos;
	if (len >= sizeof buf)
		return expr_fail(err, ITD_ELIMIT, lx->pos, "number too long");
	memcpy(buf, s + lx->pos, len);
	buf[len] = '\0';
	t->num = strtod(buf, NULL);
	if (!isfinite(t->num))
		return expr_fail(err, ITD_EPARSE, lx->pos, "number out of range '%.*s'",
				 (int)(len > 40 ? 40 : len), buf);
	t->kind = TK_NUM;
	t->len = len;
	lx->pos = i;
	return 0;
}

/* A name: IDENT ("." IDENT)*, as one token so the environment sees the
 * whole dotted name.  Bare keywords become their own tokens. */
static int lex_name(struct lexer *lx, struct tok *t, struct itd_expr_error *err)
{
	static const struct {
		const char *word;
		enum tok_kind kind;
	} keywords[] = {
		{ "and", TK_AND }, { "or", TK_OR }, { "not", TK_NOT },
		{ "true", TK_TRUE }, { "false", TK_FALSE },
	};
	const char *s = lx->src;
	size_t i = lx->pos, n = lx->len;

	for (;;) {
		while (i < n && is_ident(s[i]))
			i++;
		if (i >= n || s[i] != '.')
			break;
		if (i + 1 >= n || !is_ident_start(s[i + 1]))
			return expr_fail(err, ITD_EPARSE, i, "expected a field name after '.' in '%.*s'",
					 (int)(i + 1 - lx->pos), s + lx->pos);
		i++;
	}
	t->kind = TK_NAME;
	t->len = i - lx->pos;
	for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++) {
		if (strlen(keywords[k].word) == t->len &&
		    memcmp(keywords[k].word, s + lx->pos, t->len) == 0) {
			t->kind = keywords[k].kind;
			break;
		}
	}
	lx->pos = i;
	return 0;
}

/* A string: 'single' or "double" quoted, no escapes (use the other quote
 * to include one), no NUL bytes. */
static int lex_string(struct lexer *lx, struct tok *t, struct itd_expr_error *err)
{
	const char *s = lx->src;
	char q = s[lx->pos];
	size_t i = lx->pos + 1;

	while (i < lx->len && s[i] != q) {
		if (s[i] == '\0')
			return expr_fail(err, ITD_EPARSE, i, "NUL byte in string");
		i++;
	}
	if (i >= lx->len)
		return expr_fail(err, ITD_EPARSE, lx->pos, "unterminated string");
	t->kind = TK_STR;
	t->len = i + 1 - lx->pos;
	lx->pos = i + 1;
	return 0;
}

static int lex_operator(struct lexer *lx, struct tok *t, struct itd_expr_error *err)
{
	const char *s = lx->src;
	size_t i = lx->pos;
	char c = s[i];
	bool eq_next = i + 1 < lx->len && s[i + 1] == '=';

	t->len = 1;
	switch (c) {
	case '(': t->kind = TK_LPAREN; break;
	case ')': t->kind = TK_RPAREN; break;
	case ',': t->kind = TK_COMMA; break;
	case '+': t->kind = TK_PLUS; break;
	case '-': t->kind = TK_MINUS; break;
	case '*': t->kind = TK_STAR; break;
	case '/': t->kind = TK_SLASH; break;
	case '%': t->kind = TK_PERCENT; break;
	case '<':
		t->kind = eq_next ? TK_LE : TK_LT;
		t->len = eq_next ? 2 : 1;
		break;
	case '>':
		t->kind = eq_next ? TK_GE : TK_GT;
		t->len = eq_next ? 2 : 1;
		break;
	case '=':
		if (!eq_next)
			return expr_fail(err, ITD_EPARSE, i, "unexpected '=' (did you mean '=='?)");
		t->kind = TK_EQ;
		t->len = 2;
		break;
	case '!':
		if (!eq_next)
			return expr_fail(err, ITD_EPARSE, i, "unexpected '!' (use 'not' or '!=')");
		t->kind = TK_NE;
		t->len = 2;
		break;
	case '&':
		return expr_fail(err, ITD_EPARSE, i, "unexpected '&' (use 'and')");
	case '|':
		return expr_fail(err, ITD_EPARSE, i, "unexpected '|' (use 'or')");
	default:
		if ((unsigned char)c >= 0x21 && (unsigned char)c < 0x7f)
			return expr_fail(err, ITD_EPARSE, i, "unexpected character '%c'", c);
		return expr_fail(err, ITD_EPARSE, i, "unexpected byte 0x%02x", (unsigned char)c);
	}
	lx->pos = i + t->len;
	return 0;
}

int expr_lex_next(struct lexer *lx, struct tok *t, struct itd_expr_error *err)
{
	const char *s = lx->src;

	while (lx->pos < lx->len && is_space(s[lx->pos]))
		lx->pos++;
	t->off = lx->pos;
	t->len = 0;
	t->num = 0;
	if (lx->pos >= lx->len) {
		t->kind = TK_EOF;
		return 0;
	}
	char c = s[lx->pos];
	if (is_digit(c) || (c == '.' && lx->pos + 1 < lx->len && is_digit(s[lx->pos + 1])))
		return lex_number(lx, t, err);
	if (is_ident_start(c))
		return lex_name(lx, t, err);
	if (c == '\'' || c == '"')
		return lex_string(lx, t, err);
	return lex_operator(lx, t, err);
}
