/* scenario_yaml.c: YAML text to a small node tree with libyaml's event
 * API: maps keep key order, every node keeps its position, scalars keep
 * their style and how they read (null, bool, number, string).  Duplicate
 * keys, anchors, aliases and tags other than !!str are rejected. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "scenario/scenario_int.h"

static struct scn_mark mark_of(yaml_mark_t m)
{
	return (struct scn_mark){.line = (unsigned)m.line, .col = (unsigned)m.column};
}

struct scn_node *scn_node_new(struct scn_ctx *c, enum scn_kind kind, const struct scn_src *src,
			      struct scn_mark at)
{
	struct scn_node *n = itd_calloc(1, sizeof *n);
	if (!n) {
		c->nomem = true;
		return NULL;
	}
	n->kind = kind;
	n->src = src;
	n->start = n->end = at;
	n->style = YAML_PLAIN_SCALAR_STYLE;
	return n;
}

void scn_node_free(struct scn_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			scn_node_free(n->keys[i]);
		scn_node_free(n->vals[i]);
	}
	itd_free(n->keys);
	itd_free(n->vals);
	itd_free(n->text);
	itd_free(n);
}

int scn_node_append(struct scn_ctx *c, struct scn_node *coll, struct scn_node *key,
		    struct scn_node *val)
{
	if (coll->n == coll->cap) {
		size_t cap = coll->cap ? coll->cap * 2 : 4;
		struct scn_node **vals = itd_realloc(coll->vals, cap * sizeof *vals);
		if (!vals)
			goto fail;
		coll->vals = vals;
		if (coll->kind == SCN_MAP) {
			struct scn_node **keys = itd_realloc(coll->keys, cap * sizeof *keys);
			if (!keys)
				goto fail;
			coll->keys = keys;
		}
		coll->cap = cap;
	}
	if (coll->kind == SCN_MAP)
		coll->keys[coll->n] = key;
	coll->vals[coll->n++] = val;
	return 0;
fail:
	c->nomem = true;
	scn_node_free(key);
	scn_node_free(val);
	return ITD_ENOMEM;
}

long scn_map_find(const struct scn_node *n, const char *key, size_t len)
{
	if (!n || n->kind != SCN_MAP)
		return -1;
	for (size_t i = 0; i < n->n; i++)
		if (n->keys[i]->len == len && memcmp(n->keys[i]->text, key, len) == 0)
			return (long)i;
	return -1;
}

struct scn_node *scn_map_get(const struct scn_node *n, const char *key)
{
	long i = scn_map_find(n, key, strlen(key));
	return i < 0 ? NULL : n->vals[i];
}

void scn_describe(const struct scn_node *n, char *buf, size_t cap)
{
	if (!n) {
		snprintf(buf, cap, "nothing");
	} else if (n->kind == SCN_MAP) {
		snprintf(buf, cap, "a map");
	} else if (n->kind == SCN_SEQ) {
		snprintf(buf, cap, "a list");
	} else if (n->cls == SCN_NULL) {
		snprintf(buf, cap, "nothing");
	} else if (n->style != YAML_PLAIN_SCALAR_STYLE) {
		snprintf(buf, cap, "the string '%.60s'", n->text);
	} else {
		snprintf(buf, cap, "'%.60s'", n->text);
	}
}

/* ------------------------------------------------------ plain scalars */

static bool is_one_of(const char *s, const char *a, const char *b, const char *c3)
{
	return strcmp(s, a) == 0 || strcmp(s, b) == 0 || strcmp(s, c3) == 0;
}

static bool all_in(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

/* Decimal float per the YAML 1.2 core schema:
 * [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_decimal(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	size_t digits = 0;
	while (*s >= '0' && *s <= '9')
		s++, digits++;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9')
			s++, digits++;
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* Classify a plain scalar: null, bool, number or string. */
static void classify(struct scn_node *n)
{
	const char *s = n->text;
	n->cls = SCN_STR;
	if (n->style != YAML_PLAIN_SCALAR_STYLE)
		return;
	if (!*s || is_one_of(s, "~", "null", "Null") || strcmp(s, "NULL") == 0) {
		n->cls = SCN_NULL;
	} else if (is_one_of(s, "true", "True", "TRUE")) {
		n->cls = SCN_BOOL;
		n->b = true;
	} else if (is_one_of(s, "false", "False", "FALSE")) {
		n->cls = SCN_BOOL;
		n->b = false;
	} else if (is_one_of(s + (*s == '-' || *s == '+'), ".inf", ".Inf", ".INF")) {
		n->cls = SCN_NUM;
		n->num = *s == '-' ? -INFINITY : INFINITY;
	} else if (is_one_of(s, ".nan", ".NaN", ".NAN")) {
		n->cls = SCN_NUM;
		n->num = NAN;
	} else if ((s[0] == '0' && s[1] == 'x' && all_in(s + 2, "0123456789abcdefABCDEF")) ||
		   (s[0] == '0' && s[1] == 'o' && all_in(s + 2, "01234567"))) {
		errno = 0;
		unsigned long long v = strtoull(s + 2, NULL, s[1] == 'x' ? 16 : 8);
		n->cls = SCN_NUM;
		n->num = (double)v;
		n->is_uint = errno == 0;
		n->u = v;
		if (errno)
			n->num = INFINITY;
	} else if (is_decimal(s)) {
		n->cls = SCN_NUM;
		n->num = strtod(s, NULL);
		const char *d = s + (*s == '+');
		if (all_in(d, "0123456789")) {
			errno = 0;
			unsigned long long v = strtoull(d, NULL, 10);
			n->is_uint = errno == 0;
			n->u = v;
		}
	}
}

/* ------------------------------------------------------------- parser */

struct builder {
	struct scn_ctx *c;
	const struct scn_src *src;
	struct scn_node *stack[SCN_MAX_DEPTH]; /* open collections */
	size_t depth;
	struct scn_node *pending_key[SCN_MAX_DEPTH]; /* a map's key awaiting its value */
	struct scn_node *root;
	bool failed;                              /* a reported error */
};

/* Attach a finished node to the open collection (or make it the root). */
static int attach(struct builder *b, struct scn_node *n)
{
	if (b->depth == 0) {
		b->root = n;
		return 0;
	}
	struct scn_node *top = b->stack[b->depth - 1];
	if (top->n >= SCN_MAX_ENTRIES) {
		scn_error(b->c, n, "more than %d entries in one %s", SCN_MAX_ENTRIES,
			  top->kind == SCN_SEQ ? "list" : "map");
		b->failed = true;
		scn_node_free(n);
		return ITD_ECONFIG;
	}
	if (top->kind == SCN_SEQ)
		return scn_node_append(b->c, top, NULL, n);
	struct scn_node *key = b->pending_key[b->depth - 1];
	if (!key) {
		if (n->kind != SCN_SCALAR) {
			scn_error(b->c, n, "a map key must be a plain name, not %s",
				  n->kind == SCN_MAP ? "a map" : "a list");
			b->failed = true;
			scn_node_free(n);
			return ITD_ECONFIG;
		}
		long dup = scn_map_find(top, n->text, n->len);
		if (dup >= 0) {
			scn_error(b->c, n, "duplicate key '%.60s' (first at line %u)", n->text,
				  top->keys[dup]->start.line + 1);
			b->failed = true;
		}
		b->pending_key[b->depth - 1] = n;
		return 0;
	}
	b->pending_key[b->depth - 1] = NULL;
	return scn_node_append(b->c, top, key, n);
}

/* Refuse what this format does not use: anchors, aliases and tags
 * (except !!str, which makes a plain scalar a string). */
static bool refuse_extras(struct builder *b, const yaml_event_t *e, const yaml_char_t *anchor,
			  const yaml_char_t *tag, bool *force_str)
{
	struct scn_mark at = mark_of(e->start_mark);
	if (anchor) {
		scn_error_mark(b->c, b->src, at, "anchors (&%.40s) are not supported",
			       (const char *)anchor);
		b->failed = true;
		return true;
	}
	if (tag) {
		if (force_str && strcmp((const char *)tag, YAML_STR_TAG) == 0) {
			*force_str = true;
			return false;
		}
		scn_error_mark(b->c, b->src, at, "tags (%.60s) are not supported", (const char *)tag);
		b->failed = true;
		return true;
	}
	return false;
}

static int on_scalar(struct builder *b, const yaml_event_t *e)
{
	bool force_str = false;
	if (refuse_extras(b, e, e->data.scalar.anchor, e->data.scalar.tag, &force_str))
		return ITD_ECONFIG;
	struct scn_node *n = scn_node_new(b->c, SCN_SCALAR, b->src, mark_of(e->start_mark));
	if (!n)
		return ITD_ENOMEM;
	n->end = mark_of(e->end_mark);
	n->style = (int)e->data.scalar.style;
	n->len = e->data.scalar.length;
	n->text = itd_strndup((const char *)e->data.scalar.value, n->len);
	if (!n->text) {
		b->c->nomem = true;
		scn_node_free(n);
		return ITD_ENOMEM;
	}
	if (memchr(n->text, '\0', n->len)) {
		scn_error(b->c, n, "NUL characters are not allowed in strings");
		b->failed = true;
		n->len = strlen(n->text);
	}
	if (force_str && n->style == YAML_PLAIN_SCALAR_STYLE)
		n->style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
	classify(n);
	return attach(b, n);
}

static int on_start(struct builder *b, const yaml_event_t *e, enum scn_kind kind)
{
	const yaml_char_t *anchor =
		kind == SCN_MAP ? e->data.mapping_start.anchor : e->data.sequence_start.anchor;
	const yaml_char_t *tag =
		kind == SCN_MAP ? e->data.mapping_start.tag : e->data.sequence_start.tag;
	if (refuse_extras(b, e, anchor, tag, NULL))
		return ITD_ECONFIG;
	if (b->depth == SCN_MAX_DEPTH) {
		scn_error_mark(b->c, b->src, mark_of(e->start_mark),
			       "nesting deeper than %d levels", SCN_MAX_DEPTH);
		b->failed = true;
		return ITD_ECONFIG;
	}
	struct scn_node *n = scn_node_new(b->c, kind, b->src, mark_of(e->start_mark));
	if (!n)
		return ITD_ENOMEM;
	b->stack[b->depth] = n;
	b->pending_key[b->depth] = NULL;
	b->depth++;
	return 0;
}

static int on_end(struct builder *b, const yaml_event_t *e)
{
	struct scn_node *n = b->stack[--b->depth];
	n->end = mark_of(e->end_mark);
	scn_node_free(b->pending_key[b->depth]);
	b->pending_key[b->depth] = NULL;
	return attach(b, n);
}

/* Report libyaml's error at its problem mark. */
static void syntax_error(struct builder *b, const yaml_parser_t *p)
{
	struct scn_mark at = mark_of(p->problem_mark);
	if (p->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset: find its line and column. */
		at = (struct scn_mark){0, 0};
		for (size_t i = 0; i < p->problem_offset && i < b->src->len; i++) {
			if (b->src->text[i] == '\n') {
				at.line++;
				at.col = 0;
			} else if (((unsigned char)b->src->text[i] & 0xC0) != 0x80) {
				at.col++;
			}
		}
	}
	/* libyaml may point one line past the end of input: clamp to the end. */
	struct scn_mark end = {0, 0};
	for (size_t i = 0; i < b->src->len; i++) {
		if (b->src->text[i] == '\n') {
			end.line++;
			end.col = 0;
		} else if (((unsigned char)b->src->text[i] & 0xC0) != 0x80) {
			end.col++;
		}
	}
	if (at.line > end.line || (at.line == end.line && at.col > end.col))
		at = end;
	const char *problem = p->problem ? p->problem : "invalid YAML";
	if (p->context)
		scn_error_mark(b->c, b->src, at, "YAML syntax error: %s (%s at line %u)", problem,
			       p->context, (unsigned)p->context_mark.line + 1);
	else
		scn_error_mark(b->c, b->src, at, "YAML syntax error: %s", problem);
	b->failed = true;
}

int scn_yaml_parse(struct scn_ctx *c, const struct scn_src *src, struct scn_node **out)
{
	struct builder b = {.c = c, .src = src};
	yaml_parser_t p;
	yaml_event_t e;
	int rc = 0, docs = 0;
	bool done = false;

	*out = NULL;
	if (!yaml_parser_initialize(&p)) {
		c->nomem = true;
		return ITD_ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)src->text, src->len);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&p, &e)) {
			if (p.error == YAML_MEMORY_ERROR) {
				c->nomem = true;
				rc = ITD_ENOMEM;
			} else {
				syntax_error(&b, &p);
				rc = ITD_ECONFIG;
			}
			break;
		}
		switch (e.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				scn_error_mark(c, src, mark_of(e.start_mark),
					       "only one YAML document is allowed");
				b.failed = true;
				rc = ITD_ECONFIG;
			}
			break;
		case YAML_SCALAR_EVENT:
			rc = on_scalar(&b, &e);
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = on_start(&b, &e, SCN_SEQ);
			break;
		case YAML_MAPPING_START_EVENT:
			rc = on_start(&b, &e, SCN_MAP);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			rc = on_end(&b, &e);
			break;
		case YAML_ALIAS_EVENT:
			scn_error_mark(c, src, mark_of(e.start_mark),
				       "aliases (*%.40s) are not supported",
				       (const char *)e.data.alias.anchor);
			b.failed = true;
			rc = ITD_ECONFIG;
			break;
		default:
			break;
		}
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&p);

	/* Unwind collections left open by an error. */
	while (b.depth > 0) {
		b.depth--;
		scn_node_free(b.pending_key[b.depth]);
		scn_node_free(b.stack[b.depth]);
	}
	if (c->nomem)
		rc = ITD_ENOMEM;
	else if (b.failed && rc == 0)
		rc = ITD_ECONFIG;
	if (rc) {
		scn_node_free(b.root);
		return rc;
	}
	*out = b.root;
	return 0;
}
