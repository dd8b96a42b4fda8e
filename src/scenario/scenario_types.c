/* scenario_types.c: intent types: declarations first (names, domains,
 * flags, goal use, params, var names, retry), then, once the slot layout
 * is known, their expressions (vars in order, score, effect, completion
 * and failure conditions) compiled in the type's scope. */
#include <math.h>
#include <string.h>

#include "scenario/scenario_int.h"

/* A bit mask of the names in seq (domains or flags), reporting unknowns. */
static uint64_t mask_of(struct scn_ctx *c, const struct scn_node *seq, char *const *names,
			size_t n_names, const char *what)
{
	uint64_t m = 0;
	for (size_t i = 0; i < scn_coll_len(seq, SCN_SEQ); i++) {
		if (seq->vals[i]->bad)
			continue;
		int d = scn_lookup(c, seq->vals[i], names, n_names, what);
		if (d >= 0)
			m |= UINT64_C(1) << d;
	}
	return m;
}

static enum itd_type type_of(const struct scn_node *n)
{
	if (!n)
		return ITD_T_NONE;
	if (strcmp(n->text, "number") == 0)
		return ITD_T_NUM;
	if (strcmp(n->text, "bool") == 0)
		return ITD_T_BOOL;
	return ITD_T_STR;
}

static void build_params(struct scn_ctx *c, struct itd_intent_type *t, const struct scn_node *d)
{
	size_t n = scn_coll_len(d, SCN_MAP);
	if (!n)
		return;
	t->params = itd_calloc(n, sizeof *t->params);
	if (!t->params) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct scn_node *k = d->keys[i], *v = d->vals[i];
		if (v->bad)
			continue;
		struct itd_param_def *p = &t->params[t->n_params];
		const struct scn_node *req = scn_get(v, "required"), *def = scn_get(v, "default");
		p->type = type_of(scn_get(v, "type"));
		if (p->type == ITD_T_NONE)
			continue; /* missing type: reported by the schema check */
		p->required = req && req->b;
		if (def && p->required) {
			scn_error(c, def, "parameter '%.60s' is required, so it cannot have a default",
				  k->text);
		} else if (def) {
			char *owned;
			if (scn_scalar_value(c, def, p->type, &p->def, &owned) == 0)
				p->has_default = true;
		}
		p->def.type = p->type;
		p->name = scn_dup(c, k);
		if (!p->name) {
			if (p->type == ITD_T_STR && p->has_default)
				itd_free((char *)p->def.str);
			memset(p, 0, sizeof *p);
			return;
		}
		t->n_params++;
	}
}

static void build_vars(struct scn_ctx *c, const struct scn_scenario *s, struct itd_intent_type *t,
		       const struct scn_node *d)
{
	size_t n = scn_coll_len(d, SCN_MAP);
	if (!n)
		return;
	t->vars = itd_calloc(n, sizeof *t->vars);
	if (!t->vars) {
		c->nomem = true;
		return;
	}
	t->n_vars = n;
	for (size_t i = 0; i < n; i++) {
		const struct scn_node *k = d->keys[i];
		if (scn_is_reserved(k->text))
			scn_error(c, k, "var name '%.60s' is reserved (state, mode, tick, intent, true, "
				  "false, and, or, not and function names)", k->text);
		for (size_t j = 0; j < s->n_consts; j++)
			if (strcmp(s->consts[j].name, k->text) == 0)
				scn_error(c, k, "var '%.60s' would hide the constant of the same name",
					  k->text);
		t->vars[i].name = scn_dup(c, k);
		if (!t->vars[i].name)
			return;
	}
}

static void build_retry(struct scn_ctx *c, struct itd_retry *r, const struct scn_node *m)
{
	r->max_attempts = (uint32_t)scn_uint_in(c, m, "max_attempts", 1, 1, 1000);
	r->base_ticks = scn_num_in(c, m, "base_ticks", 1, 0, false, 1e9, ">= 0 and <= 1e9");
	r->factor = scn_num_in(c, m, "factor", 2, 1, false, 1e6, ">= 1 and <= 1e6");
	r->max_ticks = scn_num_in(c, m, "max_ticks", 60, 0, false, 1e9, ">= 0 and <= 1e9");
	r->jitter = scn_num_in(c, m, "jitter", 0, 0, false, 1, ">= 0 and <= 1");
	if (r->max_ticks < r->base_ticks) {
		const struct scn_node *at = scn_get(m, "max_ticks");
		scn_error(c, at ? at : m, "retry max_ticks (%g) is less than base_ticks (%g)",
			  r->max_ticks, r->base_ticks);
	}
}

static void build_type(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *k,
		       const struct scn_node *v, struct itd_intent_type *t)
{
	const struct itd_scenario *p = &s->pub;
	const struct scn_node *goal = scn_get(v, "goal");

	t->name = scn_dup(c, k);
	t->description = scn_dup(c, scn_get(v, "description"));
	t->domains = mask_of(c, scn_get(v, "domains"), p->domains, p->n_domains, "domain");
	t->flags = mask_of(c, scn_get(v, "flags"), p->flags, p->n_flags, "flag");
	t->recovers = scn_lookup(c, scn_get(v, "recovers"), p->domains, p->n_domains, "domain");
	/* A goal that is not a scalar (a map, say) was reported by the schema
	 * check; it has no text to compare. */
	t->goal = !goal || !goal->text ? ITD_GOAL_NONE
		: strcmp(goal->text, "required") == 0 ? ITD_GOAL_REQUIRED
		: strcmp(goal->text, "optional") == 0 ? ITD_GOAL_OPTIONAL : ITD_GOAL_NONE;
	t->deadline_ticks = scn_uint_in(c, v, "deadline_ticks", 0, 0, UINT64_MAX);
	build_retry(c, &t->retry, scn_get(v, "retry"));
	build_params(c, t, scn_get(v, "params"));
	build_vars(c, s, t, scn_get(v, "vars"));
}

void scn_build_types(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *types)
{
	size_t n = scn_coll_len(types, SCN_MAP);
	if (!n) {
		if (types)
			scn_error(c, types, "intent_types must declare at least one intent type");
		return;
	}
	s->pub.types = itd_calloc(n, sizeof *s->pub.types);
	s->type_names = itd_calloc(n, sizeof *s->type_names);
	if (!s->pub.types || !s->type_names) {
		c->nomem = true;
		return;
	}
	s->pub.n_types = n;
	for (size_t i = 0; i < n && !c->nomem; i++) {
		struct itd_intent_type *t = &s->pub.types[i];
		t->index = (uint32_t)i;
		t->recovers = -1;
		build_type(c, s, types->keys[i], types->vals[i], t);
		s->type_names[i] = t->name;
	}
}

void scn_compile_types(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *types)
{
	for (size_t i = 0; i < s->pub.n_types && !c->nomem; i++) {
		struct itd_intent_type *t = &s->pub.types[i];
		const struct scn_node *v = types->vals[i];
		const struct scn_node *vars = scn_get(v, "vars");
		struct scn_env env = {.s = s, .scope = SCOPE_TYPE, .where = "intent types", .type = t};
		if (!t->name)
			continue;
		for (size_t j = 0; j < t->n_vars; j++) {
			env.n_vars = j;
			scn_compile(c, &env, vars->vals[j], ITD_T_NONE, &t->vars[j].expr);
		}
		env.n_vars = t->n_vars;
		scn_compile(c, &env, scn_get(v, "score"), ITD_T_NUM, &t->score);
		scn_build_assigns(c, s, &env, scn_get(v, "effect"), &t->effect, &t->n_effect);
		const struct scn_node *cw = scn_get(v, "complete_when"), *fw = scn_get(v, "fail_when");
		if (cw)
			scn_compile(c, &env, cw, ITD_T_BOOL, &t->complete_when);
		if (fw)
			scn_compile(c, &env, fw, ITD_T_BOOL, &t->fail_when);
	}
}

void scn_free_types(struct itd_intent_type *types, size_t n)
{
	for (size_t i = 0; types && i < n; i++) {
		struct itd_intent_type *t = &types[i];
		itd_free(t->name);
		itd_free(t->description);
		for (size_t j = 0; j < t->n_vars; j++) {
			itd_free(t->vars[j].name);
			itd_expr_destroy(t->vars[j].expr);
		}
		itd_free(t->vars);
		for (size_t j = 0; j < t->n_params; j++) {
			itd_free(t->params[j].name);
			if (t->params[j].type == ITD_T_STR && t->params[j].has_default)
				itd_free((char *)t->params[j].def.str);
		}
		itd_free(t->params);
		itd_expr_destroy(t->score);
		for (size_t j = 0; j < t->n_effect; j++)
			itd_expr_destroy(t->effect[j].to);
		itd_free(t->effect);
		itd_expr_destroy(t->complete_when);
		itd_expr_destroy(t->fail_when);
	}
	itd_free(types);
}
