/* scenario_set.c: `--set path=value` overrides.  The value is parsed as
 * YAML, the dotted path is walked through the tree (map keys, list
 * indices) with the schema as a guide, and the node found is replaced or
 * added; validation then runs on the result as for the file itself. */
#include <stdio.h>
#include <string.h>

#include "scenario/scenario_int.h"

/* One override being applied: where to report problems in its path. */
struct walk {
	struct scn_ctx *c;
	const struct scn_src *psrc;  /* the path, for positions */
	const char *path;
};

static void path_error(const struct walk *w, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void path_error(const struct walk *w, size_t off, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	scn_error_mark(w->c, w->psrc, (struct scn_mark){0, (unsigned)off}, "%s", msg);
}

/* A key scalar for a path segment (positioned at the segment). */
static struct scn_node *seg_key(const struct walk *w, const char *seg, size_t len, size_t off)
{
	struct scn_node *k = scn_node_new(w->c, SCN_SCALAR, w->psrc, (struct scn_mark){0, (unsigned)off});
	if (!k)
		return NULL;
	k->text = itd_strndup(seg, len);
	if (!k->text) {
		w->c->nomem = true;
		scn_node_free(k);
		return NULL;
	}
	k->len = len;
	k->cls = SCN_STR;
	k->end.col = (unsigned)(off + len);
	return k;
}

static bool is_null(const struct scn_node *n)
{
	return n->kind == SCN_SCALAR && n->cls == SCN_NULL;
}

static bool is_mapish(const struct scn_type *t)
{
	return t && (t->want == W_MAP || t->want == W_DICT);
}

/* Walk the path from the root and put *val there (ownership taken when
 * placed; left in *val otherwise). */
static void place(const struct walk *w, struct scn_node *root, struct scn_node **val)
{
	struct scn_node *cur = root;
	const struct scn_type *t = scn_schema_root();
	char where[128] = "the scenario";
	const char *path = w->path;
	size_t plen = strlen(path), pos = 0;

	for (;;) {
		size_t s0 = pos;
		while (pos < plen && path[pos] != '.')
			pos++;
		const char *seg = path + s0;
		size_t len = pos - s0;
		bool last = pos >= plen;
		int nl = len > 60 ? 60 : (int)len;
		if (len == 0) {
			path_error(w, s0, "empty name in path '%.80s'", path);
			return;
		}
		struct scn_node **slot;
		const struct scn_type *child = NULL;
		if (cur->kind == SCN_MAP) {
			if (t && t->want == W_MAP) {
				const struct scn_key *k = scn_schema_key(t, seg, len);
				if (!k) {
					struct scn_node at = {.src = w->psrc, .start = {0, (unsigned)s0}};
					scn_schema_unknown(w->c, &at, t, seg, len, where);
					return;
				}
				child = k->type;
				snprintf(where, sizeof where, "%s", child->what);
			} else if (t && t->want == W_DICT) {
				child = t->item;
				snprintf(where, sizeof where, "%s '%.*s'", t->what, nl, seg);
			}
			long i = scn_map_find(cur, seg, len);
			if (i < 0 && !last && t && t->want == W_DICT) {
				/* A new entry must be set whole: a deeper path into a
				 * name that does not exist is most likely a typo. */
				struct scn_suggest sg;
				scn_suggest_init(&sg, seg, len);
				for (size_t j = 0; j < cur->n; j++)
					scn_suggest_try(&sg, cur->keys[j]->text);
				if (scn_suggest_best(&sg))
					path_error(w, s0, "unknown %s '%.*s' (did you mean '%s'?)", t->what,
						   nl, seg, scn_suggest_best(&sg));
				else
					path_error(w, s0, "unknown %s '%.*s' (to add one, set it whole: "
						   "%.*s={...})", t->what, nl, seg, (int)(pos > 200 ? 200 : pos),
						   path);
				return;
			}
			if (i < 0) {
				if (!last && !is_mapish(child)) {
					if (child && child->want == W_SEQ)
						path_error(w, s0, "'%.*s' is not in the scenario; a list "
							   "must be set whole, e.g. %.*s=[...]", nl, seg,
							   (int)(pos > 200 ? 200 : pos), path);
					else
						path_error(w, s0, "'%.*s' is not in the scenario", nl, seg);
					return;
				}
				struct scn_node *k = seg_key(w, seg, len, s0);
				struct scn_node *v = last ? *val
					: scn_node_new(w->c, SCN_MAP, w->psrc, (struct scn_mark){0, (unsigned)s0});
				if (last)
					*val = NULL;
				if (!k || !v) {
					scn_node_free(k);
					scn_node_free(v);
					return;
				}
				if (scn_node_append(w->c, cur, k, v))
					return;
				i = (long)cur->n - 1;
			}
			slot = &cur->vals[i];
		} else if (cur->kind == SCN_SEQ) {
			size_t idx = 0;
			bool digits = len <= 9;
			for (size_t j = 0; j < len && digits; j++) {
				digits = seg[j] >= '0' && seg[j] <= '9';
				idx = idx * 10 + (size_t)(seg[j] - '0');
			}
			if (!digits || idx >= cur->n) {
				if (cur->n)
					path_error(w, s0, "'%.*s' is not an index of this list (0 to %zu)",
						   nl, seg, cur->n - 1);
				else
					path_error(w, s0, "'%.*s' is not an index: the list is empty", nl, seg);
				return;
			}
			child = t && t->want == W_SEQ ? t->item : NULL;
			if (child)
				snprintf(where, sizeof where, "%s", child->what);
			slot = &cur->vals[idx];
		} else {
			path_error(w, s0, "cannot set '%.*s': '%.*s' is a single value, not a map or list",
				   nl, seg, (int)(s0 ? s0 - 1 : 0), path);
			return;
		}
		if (last) {
			if (*val) {
				scn_node_free(*slot);
				*slot = *val;
				*val = NULL;
			}
			return;
		}
		if (is_null(*slot) && is_mapish(child)) {
			/* An empty section (`tick:`) becomes a map to descend into. */
			struct scn_node *m = scn_node_new(w->c, SCN_MAP, (*slot)->src, (*slot)->start);
			if (!m)
				return;
			scn_node_free(*slot);
			*slot = m;
		}
		cur = *slot;
		t = child;
		pos++;
	}
}

void scn_apply_overrides(struct scn_ctx *c, struct scn_node *root, const struct itd_override *ovr,
			 size_t n_ovr, struct scn_src *srcs)
{
	for (size_t i = 0; i < n_ovr; i++) {
		const char *path = ovr[i].path ? ovr[i].path : "";
		const char *value = ovr[i].value ? ovr[i].value : "";
		struct scn_src *psrc = &srcs[2 * i], *vsrc = &srcs[2 * i + 1];
		*psrc = (struct scn_src){.file = "--set", .text = path, .len = strlen(path)};
		*vsrc = (struct scn_src){.file = "--set", .text = value, .len = strlen(value),
					 .col_base = (unsigned)strlen(path) + 1};
		struct walk w = {.c = c, .psrc = psrc, .path = path};
		if (!*path) {
			path_error(&w, 0, "empty path in --set (expected path=value, e.g. "
				   "state.battery.initial=24)");
			continue;
		}
		struct scn_node *val = NULL;
		if (scn_yaml_parse(c, vsrc, &val))
			continue;
		if (!val) {
			val = scn_node_new(c, SCN_SCALAR, vsrc, (struct scn_mark){0, 0});
			if (!val)
				continue;
			val->text = itd_strdup("");
			if (!val->text) {
				c->nomem = true;
				scn_node_free(val);
				continue;
			}
			val->cls = SCN_NULL;
		}
		if (root && root->kind == SCN_MAP)
			place(&w, root, &val);
		scn_node_free(val);
	}
}
