/* scenario_fingerprint.c: a hash of everything in a scenario that changes
 * what a tick does or how big the state is (itd_scenario_fingerprint):
 * what makes an engine snapshot load only into an engine of the same
 * scenario with the same overrides. */
#include <string.h>

#include "scenario/scenario.h"

/* The scenario as the engine sees it, hashed: everything that changes
 * what a tick does or how big the state is, so that a snapshot loads only
 * into an engine of the same scenario with the same overrides.
 * Expressions count by their source and the value of every constant they
 * name (constants are folded in, so `--set constants.x=...` changes no
 * source).  Left out: descriptions, units, display thresholds, messages,
 * telemetry tags and the default seed (the snapshot carries the RNG). */
typedef struct itd_hash_stream fp_t;

static void fp_u64(fp_t *f, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	itd_hash_stream_update(f, b, 8);
}

static void fp_f64(fp_t *f, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof v);
	fp_u64(f, v);
}

static void fp_str(fp_t *f, const char *s)
{
	fp_u64(f, s ? strlen(s) : UINT64_MAX);
	if (s)
		itd_hash_stream_update(f, s, strlen(s));
}

/* A count, then that many strings. */
static void fp_strs(fp_t *f, char *const *v, size_t n)
{
	fp_u64(f, n);
	for (size_t i = 0; i < n; i++)
		fp_str(f, v[i]);
}

static void fp_value(fp_t *f, const struct itd_value *v)
{
	fp_u64(f, (uint64_t)v->type);
	if (v->type == ITD_T_NUM)
		fp_f64(f, v->num);
	else if (v->type == ITD_T_BOOL)
		fp_u64(f, v->b);
	else if (v->type == ITD_T_STR)
		fp_str(f, v->str);
}

static bool ident_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && ((c >= '0' && c <= '9') || c == '.'));
}

static void fp_expr(fp_t *f, const struct itd_scenario *s, const struct itd_expr *x)
{
	if (!x) {
		fp_u64(f, 0);
		return;
	}
	const char *src = itd_expr_source(x);
	fp_u64(f, (uint64_t)itd_expr_type(x));
	fp_str(f, src);
	/* Every name outside a string literal that is a constant. */
	for (const char *p = src; *p;) {
		if (*p == '\'' || *p == '"') {
			const char *q = strchr(p + 1, *p);
			p = q ? q + 1 : p + strlen(p);
		} else if (ident_char(*p, true) && (p == src || !ident_char(p[-1], false))) {
			size_t n = 1;
			while (ident_char(p[n], false))
				n++;
			char name[128];
			struct itd_value v;
			if (n < sizeof name) {
				memcpy(name, p, n);
				name[n] = '\0';
				if (!itd_scenario_constant(s, name, &v)) {
					fp_str(f, name);
					fp_value(f, &v);
				}
			}
			p += n;
		} else {
			p++;
		}
	}
}

static void fp_goal(fp_t *f, const struct itd_goal *g)
{
	fp_u64(f, g->present);
	fp_u64(f, g->present ? g->metric : 0);
	fp_f64(f, g->present ? g->reference : 0);
	fp_f64(f, g->present ? g->tolerance : 0);
}

static void fp_type(fp_t *f, const struct itd_scenario *s, const struct itd_intent_type *t)
{
	fp_str(f, t->name);
	fp_u64(f, t->domains);
	fp_u64(f, t->flags);
	fp_u64(f, (uint64_t)(int64_t)t->recovers);
	fp_u64(f, (uint64_t)t->goal);
	fp_u64(f, t->n_vars);
	for (size_t v = 0; v < t->n_vars; v++) {
		fp_str(f, t->vars[v].name);
		fp_u64(f, t->vars[v].slot);
		fp_expr(f, s, t->vars[v].expr);
	}
	fp_u64(f, t->n_params);
	for (size_t p = 0; p < t->n_params; p++) {
		const struct itd_param_def *pd = &t->params[p];
		fp_str(f, pd->name);
		fp_u64(f, (uint64_t)pd->type << 2 | (uint64_t)pd->required << 1 | pd->has_default);
		if (pd->has_default)
			fp_value(f, &pd->def);
		fp_u64(f, pd->slot);
	}
	fp_expr(f, s, t->score);
	fp_u64(f, t->n_effect);
	for (size_t i = 0; i < t->n_effect; i++) {
		fp_u64(f, t->effect[i].field);
		fp_expr(f, s, t->effect[i].to);
	}
	fp_expr(f, s, t->complete_when);
	fp_expr(f, s, t->fail_when);
	fp_u64(f, t->retry.max_attempts);
	fp_f64(f, t->retry.base_ticks);
	fp_f64(f, t->retry.factor);
	fp_f64(f, t->retry.max_ticks);
	fp_f64(f, t->retry.jitter);
	fp_u64(f, t->deadline_ticks);
}

uint64_t itd_scenario_fingerprint(const struct itd_scenario *s, uint64_t seed)
{
	/* Zeroed first: XXH3's reset keeps the secret of a state whose seed
	 * already matches, and stack garbage may look like one. */
	fp_t f;
	memset(&f, 0, sizeof f);
	itd_hash_stream_init(&f, seed);
	fp_str(&f, s->name);
	fp_f64(&f, s->rate_hz);
	fp_u64(&f, (uint64_t)s->max_intents << 32 | s->history_per_intent);
	fp_u64(&f, s->intake_capacity);
	fp_u64(&f, s->n_fields);
	for (size_t i = 0; i < s->n_fields; i++) {
		const struct itd_field *fd = &s->fields[i];
		fp_str(&f, fd->name);
		fp_value(&f, &fd->initial);
		fp_u64(&f, (uint64_t)fd->has_min << 1 | fd->has_max);
		fp_f64(&f, fd->has_min ? fd->min : 0);
		fp_f64(&f, fd->has_max ? fd->max : 0);
		fp_strs(&f, fd->values, fd->n_values);
	}
	fp_strs(&f, s->modes, s->n_modes);
	fp_u64(&f, s->initial_mode);
	fp_u64(&f, s->n_mode_rules);
	for (size_t i = 0; i < s->n_mode_rules; i++) {
		fp_u64(&f, s->mode_rules[i].to);
		fp_expr(&f, s, s->mode_rules[i].when);
	}
	fp_u64(&f, s->n_dynamics);
	for (size_t i = 0; i < s->n_dynamics; i++) {
		fp_u64(&f, s->dynamics[i].field);
		fp_expr(&f, s, s->dynamics[i].to);
	}
	fp_strs(&f, s->domains, s->n_domains);
	fp_strs(&f, s->flags, s->n_flags);
	fp_u64(&f, s->n_types);
	for (size_t i = 0; i < s->n_types; i++)
		fp_type(&f, s, &s->types[i]);
	fp_expr(&f, s, s->score_adjust);
	fp_u64(&f, (uint64_t)s->recovery_lock_ticks << 32 | s->block_report_every);
	fp_u64(&f, s->n_critical);
	for (size_t i = 0; i < s->n_critical; i++) {
		fp_u64(&f, (uint64_t)s->critical[i].domain << 32 | s->critical[i].recovery);
		fp_expr(&f, s, s->critical[i].when);
	}
	fp_u64(&f, s->n_inject);
	for (size_t i = 0; i < s->n_inject; i++) {
		fp_u64(&f, s->inject[i].type);
		fp_f64(&f, s->inject[i].priority);
		fp_goal(&f, &s->inject[i].goal);
		fp_expr(&f, s, s->inject[i].when);
	}
	fp_u64(&f, s->n_safety);
	for (size_t i = 0; i < s->n_safety; i++) {
		fp_str(&f, s->safety[i].id);
		fp_expr(&f, s, s->safety[i].block_when);
	}
	fp_u64(&f, s->n_intents);
	for (size_t i = 0; i < s->n_intents; i++) {
		const struct itd_initial_intent *ii = &s->intents[i];
		fp_u64(&f, ii->type);
		fp_f64(&f, ii->priority);
		fp_goal(&f, &ii->goal);
		fp_u64(&f, ii->n_params);
		for (size_t p = 0; p < ii->n_params; p++) {
			fp_u64(&f, ii->params[p].param);
			fp_value(&f, &ii->params[p].value);
		}
		fp_u64(&f, ii->deadline_ticks);
		fp_str(&f, ii->idempotency_key);
	}
	fp_u64(&f, (uint64_t)s->slots.n_global << 32 | s->slots.n_intent);
	return itd_hash_stream_digest(&f);
}

