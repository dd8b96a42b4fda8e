/* scenario.c: the loading pipeline (parse, --set overrides, schema check,
 * build and compile), freeing a scenario, and name lookups. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "scenario/scenario_int.h"

/* The largest scenario file accepted (the format is for hand-written
 * files; this bounds the loader's memory). */
#define SCN_MAX_FILE (16u << 20)

/* Order the diagnostics of this load (from index `from`) by line and
 * column, those of the file before those of --set (which keep their
 * order); a final "too many errors" stays last. */
static void sort_diags(struct itd_diags *d, size_t from, const char *file, bool capped)
{
	size_t end = d ? d->n - (capped && d->n > from ? 1 : 0) : 0;
	for (size_t i = from + 1; i < end; i++) {
		struct itd_diag x = d->items[i];
		bool xs = strcmp(x.file, file) != 0;
		size_t j = i;
		while (j > from) {
			const struct itd_diag *y = &d->items[j - 1];
			bool ys = strcmp(y->file, file) != 0;
			bool before = xs != ys ? ys
				: !xs && (x.line < y->line || (x.line == y->line && x.col < y->col));
			if (!before)
				break;
			d->items[j] = d->items[j - 1];
			j--;
		}
		d->items[j] = x;
	}
}

int itd_scenario_load_text(const char *text, size_t len, const char *file,
			   const struct itd_override *ovr, size_t n_ovr,
			   struct itd_scenario **out, struct itd_diags *diags)
{
	struct scn_src src = {.file = file ? file : "<text>", .text = text ? text : "", .len = text ? len : 0};
	struct scn_ctx c = {.diags = diags, .main = &src};
	struct scn_src *srcs = NULL;
	struct scn_node *root = NULL;
	struct scn_scenario *s = NULL;
	int rc;

	size_t from = diags ? diags->n : 0;

	*out = NULL;
	if (n_ovr && !ovr)
		n_ovr = 0;
	if (n_ovr) {
		srcs = itd_calloc(2 * n_ovr, sizeof *srcs);
		if (!srcs) {
			rc = ITD_ENOMEM;
			goto fail;
		}
	}
	rc = scn_yaml_parse(&c, &src, &root);
	if (rc)
		goto fail;
	if (root && root->kind == SCN_MAP)
		scn_apply_overrides(&c, root, ovr, n_ovr, srcs);
	if (c.nomem) {
		rc = ITD_ENOMEM;
		goto fail;
	}
	scn_schema_check(&c, root);
	/* Build even after schema errors, to report the semantic ones too:
	 * the builders skip nodes the check marked bad. */
	if (root && root->kind == SCN_MAP)
		s = scn_build(&c, root, src.file);
	if (c.nomem) {
		rc = ITD_ENOMEM;
		goto fail;
	}
	if (c.n_errors) {
		rc = ITD_ECONFIG;
		goto fail;
	}
	scn_node_free(root);
	itd_free(srcs);
	*out = &s->pub;
	return 0;
fail:
	if (c.nomem)
		rc = ITD_ENOMEM;
	sort_diags(diags, from, src.file, c.n_errors > SCN_MAX_ERRORS);
	itd_scenario_destroy(s ? &s->pub : NULL);
	scn_node_free(root);
	itd_free(srcs);
	return rc;
}

int itd_scenario_load_file(const char *path, const struct itd_override *ovr, size_t n_ovr,
			   struct itd_scenario **out, struct itd_diags *diags)
{
	struct scn_src src = {.file = path, .text = "", .len = 0};
	struct scn_ctx c = {.diags = diags, .main = &src};
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (!f) {
		scn_error(&c, NULL, "cannot open: %s", strerror(errno));
		return c.nomem ? ITD_ENOMEM : ITD_EIO;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *nb = itd_realloc(buf, cap);
			if (!nb) {
				rc = ITD_ENOMEM;
				goto out;
			}
			buf = nb;
		}
		size_t got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (len > SCN_MAX_FILE) {
			scn_error(&c, NULL, "file larger than %u bytes", SCN_MAX_FILE);
			rc = c.nomem ? ITD_ENOMEM : ITD_ECONFIG;
			goto out;
		}
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		scn_error(&c, NULL, "cannot read: %s", strerror(errno));
		rc = c.nomem ? ITD_ENOMEM : ITD_EIO;
		goto out;
	}
	buf[len] = '\0';
	rc = itd_scenario_load_text(buf, len, path, ovr, n_ovr, out, diags);
out:
	fclose(f);
	itd_free(buf);
	return rc;
}

int itd_scenario_load_builtin(const char *name, const struct itd_override *ovr, size_t n_ovr,
			      struct itd_scenario **out, struct itd_diags *diags)
{
	const struct itd_embedded *b = itd_scenario_builtins();
	size_t nl = name ? strlen(name) : 0;

	*out = NULL;
	for (; b->name; b++) {
		if (strncmp(b->name, name ? name : "", nl) == 0 && strcmp(b->name + nl, ".yaml") == 0) {
			char file[256];
			snprintf(file, sizeof file, "builtin:%s", b->name);
			return itd_scenario_load_text(b->data, b->size, file, ovr, n_ovr, out, diags);
		}
	}
	struct scn_src src = {.file = "builtin", .text = "", .len = 0};
	struct scn_ctx c = {.diags = diags, .main = &src};
	struct scn_buf list = {.n = 0};
	for (b = itd_scenario_builtins(); b->name; b++) {
		size_t l = strlen(b->name);
		int base = (int)(l > 5 && strcmp(b->name + l - 5, ".yaml") == 0 ? l - 5 : l);
		scn_buf_add(&list, "%s%.*s", list.n ? ", " : "", base, b->name);
	}
	scn_error(&c, NULL, "unknown scenario '%.60s' (built-in: %s)", name ? name : "", list.s);
	return c.nomem ? ITD_ENOMEM : ITD_ENOTFOUND;
}

static void free_param_values(struct itd_param_value *pv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pv[i].value.type == ITD_T_STR)
			itd_free((char *)pv[i].value.str);
	itd_free(pv);
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		itd_free(v[i]);
	itd_free(v);
}

void itd_scenario_destroy(struct itd_scenario *p)
{
	if (!p)
		return;
	struct scn_scenario *s = (struct scn_scenario *)p;
	itd_free(p->name);
	itd_free(p->description);
	itd_free(p->file);
	for (size_t i = 0; p->fields && i < p->n_fields; i++) {
		struct itd_field *f = &p->fields[i];
		itd_free(f->name);
		itd_free(f->description);
		itd_free(f->unit);
		if (f->type == ITD_T_STR)
			itd_free((char *)f->initial.str);
		free_strs(f->values, f->n_values);
	}
	itd_free(p->fields);
	free_strs(p->modes, p->n_modes);
	for (size_t i = 0; i < p->n_mode_rules; i++)
		itd_expr_destroy(p->mode_rules[i].when);
	itd_free(p->mode_rules);
	for (size_t i = 0; i < p->n_dynamics; i++)
		itd_expr_destroy(p->dynamics[i].to);
	itd_free(p->dynamics);
	itd_expr_destroy(p->score_adjust);
	for (size_t i = 0; i < p->n_critical; i++)
		itd_expr_destroy(p->critical[i].when);
	itd_free(p->critical);
	for (size_t i = 0; i < p->n_inject; i++)
		itd_expr_destroy(p->inject[i].when);
	itd_free(p->inject);
	for (size_t i = 0; i < p->n_safety; i++) {
		itd_free(p->safety[i].id);
		itd_free(p->safety[i].message);
		itd_expr_destroy(p->safety[i].block_when);
	}
	itd_free(p->safety);
	for (size_t i = 0; i < p->n_intents; i++) {
		struct itd_initial_intent *ii = &p->intents[i];
		free_param_values(ii->params, ii->n_params);
		itd_free(ii->idempotency_key);
	}
	itd_free(p->intents);
	scn_free_types(p->types, p->n_types);
	free_strs(p->domains, p->n_domains);
	free_strs(p->flags, p->n_flags);
	for (size_t i = 0; i < p->telemetry.n_tags; i++) {
		itd_free(p->telemetry.tags[i].key);
		itd_free(p->telemetry.tags[i].value);
	}
	itd_free(p->telemetry.tags);
	for (size_t i = 0; i < p->telemetry.n_redact; i++)
		itd_free(p->telemetry.redact[i].path);
	itd_free(p->telemetry.redact);
	itd_free(p->telemetry.hmac_key_env);
	for (size_t i = 0; i < s->n_consts; i++) {
		itd_free(s->consts[i].name);
		itd_free(s->consts[i].str);
	}
	itd_free(s->consts);
	itd_free(s->field_names);
	itd_free(s->type_names);
	itd_free(s);
}

/* ------------------------------------------------------------ lookups */

static int index_of(char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

int itd_scenario_field(const struct itd_scenario *s, const char *name)
{
	for (size_t i = 0; s && name && i < s->n_fields; i++)
		if (s->fields[i].name && strcmp(s->fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

int itd_scenario_mode(const struct itd_scenario *s, const char *name)
{
	return s ? index_of(s->modes, s->n_modes, name) : -1;
}

int itd_scenario_type(const struct itd_scenario *s, const char *name)
{
	for (size_t i = 0; s && name && i < s->n_types; i++)
		if (s->types[i].name && strcmp(s->types[i].name, name) == 0)
			return (int)i;
	return -1;
}

int itd_scenario_domain(const struct itd_scenario *s, const char *name)
{
	return s ? index_of(s->domains, s->n_domains, name) : -1;
}

int itd_scenario_param(const struct itd_intent_type *t, const char *name)
{
	for (size_t i = 0; t && name && i < t->n_params; i++)
		if (t->params[i].name && strcmp(t->params[i].name, name) == 0)
			return (int)i;
	return -1;
}

int itd_scenario_constant(const struct itd_scenario *p, const char *name, struct itd_value *out)
{
	const struct scn_scenario *s = (const struct scn_scenario *)p;
	for (size_t i = 0; s && name && i < s->n_consts; i++) {
		if (strcmp(s->consts[i].name, name) == 0) {
			if (out)
				*out = s->consts[i].value;
			return 0;
		}
	}
	return ITD_ENOTFOUND;
}

const char *itd_field_value(const struct itd_field *f, const char *v)
{
	for (size_t i = 0; v && i < f->n_values; i++)
		if (strcmp(f->values[i], v) == 0)
			return f->values[i];
	return NULL;
}

struct itd_value itd_field_clamp(const struct itd_field *f, struct itd_value v)
{
	if (v.type == ITD_T_NUM) {
		if (f->has_min && v.num < f->min)
			v.num = f->min;
		if (f->has_max && v.num > f->max)
			v.num = f->max;
	}
	return v;
}
