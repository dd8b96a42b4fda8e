/* scenario_diag.c: diagnostics of a scenario load: FILE:LINE:COL positions
 * (including inside YAML scalars, for expression errors), the error cap,
 * did-you-mean suggestions and printing. */
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "scenario/scenario_int.h"

void itd_diags_print(const struct itd_diags *d, void *f)
{
	if (!d || !f)
		return;
	for (size_t i = 0; i < d->n; i++)
		fprintf((FILE *)f, "%s:%u:%u: %s\n", d->items[i].file, d->items[i].line,
			d->items[i].col, d->items[i].msg);
}

void itd_diags_fini(struct itd_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		itd_free(d->items[i].file);
		itd_free(d->items[i].msg);
	}
	itd_free(d->items);
	d->items = NULL;
	d->n = d->cap = 0;
}

/* Append one diagnostic; sets c->nomem if it cannot be stored. */
static void diag_push(struct scn_ctx *c, const char *file, unsigned line, unsigned col,
		      const char *msg)
{
	struct itd_diags *d = c->diags;
	if (!d)
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct itd_diag *items = itd_realloc(d->items, cap * sizeof *items);
		if (!items) {
			c->nomem = true;
			return;
		}
		d->items = items;
		d->cap = cap;
	}
	char *f = itd_strdup(file);
	char *m = itd_strdup(msg);
	if (!f || !m) {
		itd_free(f);
		itd_free(m);
		c->nomem = true;
		return;
	}
	d->items[d->n++] = (struct itd_diag){.file = f, .line = line, .col = col, .msg = m};
}

/* Count an error and store it, up to the cap. */
static void report(struct scn_ctx *c, const char *file, unsigned line, unsigned col,
		   const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void report(struct scn_ctx *c, const char *file, unsigned line, unsigned col,
		   const char *fmt, va_list ap)
{
	c->n_errors++;
	if (c->n_errors > SCN_MAX_ERRORS + 1)
		return;
	if (c->n_errors == SCN_MAX_ERRORS + 1) {
		diag_push(c, file, line, col, "too many errors; stopping here");
		return;
	}
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	diag_push(c, file, line, col, msg);
}

void scn_pos(const struct scn_src *src, struct scn_mark m, unsigned *line, unsigned *col)
{
	*line = m.line + 1;
	*col = m.col + 1 + (m.line == 0 ? src->col_base : 0);
}

void scn_error(struct scn_ctx *c, const struct scn_node *at, const char *fmt, ...)
{
	const struct scn_src *src = at ? at->src : c->main;
	struct scn_mark m = at ? at->start : (struct scn_mark){0, 0};
	unsigned line, col;
	scn_pos(src, m, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	report(c, src->file, line, col, fmt, ap);
	va_end(ap);
}

void scn_error_mark(struct scn_ctx *c, const struct scn_src *src, struct scn_mark m,
		    const char *fmt, ...)
{
	unsigned line, col;
	scn_pos(src, m, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	report(c, src->file, line, col, fmt, ap);
	va_end(ap);
}

void scn_error_pos(struct scn_ctx *c, const char *file, unsigned line, unsigned col,
		   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(c, file, line, col, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------ positions in scalars */

/* Byte offset of a mark (libyaml counts characters, not bytes). */
static size_t mark_byte(const struct scn_src *s, struct scn_mark m)
{
	size_t i = 0;
	unsigned line = 0;
	while (i < s->len && line < m.line) {
		if (s->text[i] == '\n' || (s->text[i] == '\r' && (i + 1 >= s->len || s->text[i + 1] != '\n')))
			line++;
		i++;
	}
	for (unsigned ch = 0; i < s->len && ch < m.col;) {
		i++;
		while (i < s->len && ((unsigned char)s->text[i] & 0xC0) == 0x80)
			i++;
		ch++;
	}
	return i;
}

/* Step over one byte of the source, keeping the line and column. */
static void step(const struct scn_src *s, size_t *i, struct scn_mark *m)
{
	char ch = s->text[*i];
	if (ch == '\n' || (ch == '\r' && (*i + 1 >= s->len || s->text[*i + 1] != '\n'))) {
		m->line++;
		m->col = 0;
	} else if (ch != '\r' && ((unsigned char)ch & 0xC0) != 0x80) {
		m->col++;
	}
	(*i)++;
}

void scn_scalar_pos(const struct scn_node *n, size_t off, unsigned *line, unsigned *col)
{
	const struct scn_src *s = n->src;
	size_t i = mark_byte(s, n->start), end = mark_byte(s, n->end);
	struct scn_mark m = n->start;
	if (end > s->len)
		end = s->len;
	if (n->style == YAML_LITERAL_SCALAR_STYLE || n->style == YAML_FOLDED_SCALAR_STYLE) {
		/* The value starts on the line after the `|` / `>` header. */
		while (i < end && s->text[i] != '\n' && s->text[i] != '\r')
			step(s, &i, &m);
		while (i < end && (s->text[i] == '\n' || s->text[i] == '\r'))
			step(s, &i, &m);
	} else if (n->style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
		   n->style == YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
		if (i < end)
			step(s, &i, &m);
	}
	/* Walk the raw text and the value together: equal bytes match; a
	 * value blank with no raw twin came from folding; any other raw byte
	 * (indentation, line breaks, escapes) has no twin in the value. */
	if (off > n->len)
		off = n->len;
	size_t j = 0;
	while (j < off && i < end) {
		char r = s->text[i], v = n->text[j];
		if (r == v) {
			j++;
			step(s, &i, &m);
		} else if (v == ' ' || v == '\n' || v == '\t') {
			j++;
		} else {
			step(s, &i, &m);
		}
	}
	if (off < n->len) {
		size_t k = i;
		struct scn_mark mk = m;
		while (k < end && s->text[k] != n->text[off])
			step(s, &k, &mk);
		if (k < end)
			m = mk;
	}
	scn_pos(s, m, line, col);
}

/* ------------------------------------------------------- suggestions */

#define SUGGEST_MAX 64

/* Optimal string alignment distance (edits and adjacent swaps). */
static unsigned distance(const char *a, size_t la, const char *b, size_t lb)
{
	unsigned d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
			unsigned v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

void scn_suggest_init(struct scn_suggest *s, const char *word, size_t len)
{
	*s = (struct scn_suggest){.word = word, .len = len, .best = NULL, .best_d = ~0u};
}

void scn_suggest_try(struct scn_suggest *s, const char *cand)
{
	size_t lc = cand ? strlen(cand) : 0;
	if (!cand || s->len > SUGGEST_MAX || lc > SUGGEST_MAX)
		return;
	unsigned limit = s->len <= 3 ? 1 : s->len <= 7 ? 2 : 3;
	unsigned d = distance(s->word, s->len, cand, lc);
	/* An abbreviation ("batt" for "battery") counts as just close enough. */
	if (d > limit && s->len >= 3 && lc > s->len && memcmp(cand, s->word, s->len) == 0)
		d = limit;
	if (d > 0 && d <= limit && d < s->best_d) {
		s->best = cand;
		s->best_d = d;
	}
}

const char *scn_suggest_best(const struct scn_suggest *s)
{
	return s->best;
}

void scn_buf_add(struct scn_buf *b, const char *fmt, ...)
{
	if (b->n + 1 >= sizeof b->s)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	b->n += (size_t)w;
	if (b->n >= sizeof b->s) {
		b->n = sizeof b->s - 1;
		memcpy(b->s + b->n - 3, "...", 3);
	}
}
