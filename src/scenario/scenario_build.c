/* scenario_build.c: turn a schema-checked node tree into struct
 * itd_scenario: defaults, ranges, name references, slot layout, and every
 * expression compiled in its scope.  Intent types live in
 * scenario_types.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "scenario/scenario_int.h"

/* ------------------------------------------------------------ helpers */

const struct scn_node *scn_get(const struct scn_node *map, const char *key)
{
	const struct scn_node *v = scn_map_get(map, key);
	if (!v || v->bad || (v->kind == SCN_SCALAR && v->cls == SCN_NULL))
		return NULL;
	return v;
}

char *scn_dup(struct scn_ctx *c, const struct scn_node *n)
{
	if (!n || n->kind != SCN_SCALAR)
		return NULL;
	char *s = itd_strndup(n->text, n->len);
	if (!s)
		c->nomem = true;
	return s;
}

int scn_scalar_value(struct scn_ctx *c, const struct scn_node *n, enum itd_type t,
		     struct itd_value *v, char **owned)
{
	char got[96];
	*owned = NULL;
	memset(v, 0, sizeof *v);
	if (t == ITD_T_NONE && n->kind == SCN_SCALAR)
		t = n->cls == SCN_NUM ? ITD_T_NUM : n->cls == SCN_BOOL ? ITD_T_BOOL : ITD_T_STR;
	v->type = t;
	scn_describe(n, got, sizeof got);
	if (n->kind != SCN_SCALAR || n->cls == SCN_NULL) {
		scn_error(c, n, "expected %s, got %s", t == ITD_T_NUM ? "a number" : t == ITD_T_BOOL ?
			  "true or false" : "a string", got);
		return ITD_ETYPE;
	}
	switch (t) {
	case ITD_T_NUM:
		if (n->cls != SCN_NUM) {
			scn_error(c, n, "expected a number, got %s", got);
			return ITD_ETYPE;
		}
		if (!isfinite(n->num)) {
			scn_error(c, n, "expected a finite number, got %s", got);
			return ITD_ETYPE;
		}
		v->num = n->num;
		return 0;
	case ITD_T_BOOL:
		if (n->cls != SCN_BOOL) {
			scn_error(c, n, "expected true or false, got %s", got);
			return ITD_ETYPE;
		}
		v->b = n->b;
		return 0;
	default:
		if (n->cls != SCN_STR) {
			scn_error(c, n, "expected a string, got %s (quote it to make it a string)", got);
			return ITD_ETYPE;
		}
		*owned = scn_dup(c, n);
		if (!*owned)
			return ITD_ENOMEM;
		v->str = *owned;
		return 0;
	}
}

int scn_lookup(struct scn_ctx *c, const struct scn_node *n, char *const *names, size_t n_names,
	       const char *what)
{
	if (!n || n->kind != SCN_SCALAR)
		return -1;
	for (size_t i = 0; i < n_names; i++)
		if (names[i] && strcmp(names[i], n->text) == 0)
			return (int)i;
	if (!what)
		return -1;
	struct scn_suggest sg;
	scn_suggest_init(&sg, n->text, n->len);
	struct scn_buf b = {.n = 0};
	for (size_t i = 0; i < n_names; i++) {
		if (!names[i])
			continue;
		scn_suggest_try(&sg, names[i]);
		scn_buf_add(&b, "%s%s", b.n ? ", " : "", names[i]);
	}
	if (scn_suggest_best(&sg))
		scn_error(c, n, "unknown %s '%.60s' (did you mean '%s'?)", what, n->text,
			  scn_suggest_best(&sg));
	else if (b.n)
		scn_error(c, n, "unknown %s '%.60s' (declared: %s)", what, n->text, b.s);
	else
		scn_error(c, n, "unknown %s '%.60s' (none are declared)", what, n->text);
	return -1;
}

size_t scn_coll_len(const struct scn_node *n, enum scn_kind kind)
{
	return n && n->kind == kind && !n->bad ? n->n : 0;
}

/* A number key with a default and a range check (lo_open: lo excluded);
 * `range` says the allowed range in words for the message. */
double scn_num_in(struct scn_ctx *c, const struct scn_node *map, const char *key, double def,
		     double lo, bool lo_open, double hi, const char *range)
{
	const struct scn_node *v = scn_get(map, key);
	if (!v)
		return def;
	if ((lo_open ? v->num <= lo : v->num < lo) || v->num > hi) {
		scn_error(c, v, "'%s' must be %s, got %.60s", key, range, v->text);
		return def;
	}
	return v->num;
}

/* A non-negative integer key with a default and a range check. */
uint64_t scn_uint_in(struct scn_ctx *c, const struct scn_node *map, const char *key,
			uint64_t def, uint64_t lo, uint64_t hi)
{
	const struct scn_node *v = scn_get(map, key);
	if (!v)
		return def;
	uint64_t u = v->is_uint ? v->u : (uint64_t)v->num;
	if (u < lo || u > hi) {
		scn_error(c, v, "'%s' must be between %llu and %llu, got %.60s", key,
			  (unsigned long long)lo, (unsigned long long)hi, v->text);
		return def;
	}
	return u;
}

/* A list of unique names (domains, flags, modes, enum values). */
char **scn_name_list(struct scn_ctx *c, const struct scn_node *seq, size_t *n_out,
			const char *what, size_t max)
{
	size_t n = scn_coll_len(seq, SCN_SEQ);
	*n_out = 0;
	if (!n)
		return NULL;
	char **names = itd_calloc(n, sizeof *names);
	if (!names) {
		c->nomem = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct scn_node *v = seq->vals[i];
		if (v->bad || v->kind != SCN_SCALAR)
			continue;
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++) {
			if (!seq->vals[j]->bad && strcmp(seq->vals[j]->text, v->text) == 0) {
				scn_error(c, v, "duplicate %s '%.60s' (first at line %u)", what, v->text,
					  seq->vals[j]->start.line + 1);
				dup = true;
			}
		}
		if (dup)
			continue;
		if (*n_out == max) {
			scn_error(c, v, "too many %ss (at most %zu)", what, max);
			break;
		}
		names[*n_out] = scn_dup(c, v);
		if (!names[*n_out])
			break;
		(*n_out)++;
	}
	return names;
}

void scn_build_assigns(struct scn_ctx *c, struct scn_scenario *s, const struct scn_env *env,
		       const struct scn_node *seq, struct itd_assign **out, size_t *n_out)
{
	size_t n = scn_coll_len(seq, SCN_SEQ);
	*out = NULL;
	*n_out = 0;
	if (!n)
		return;
	struct itd_assign *a = itd_calloc(n, sizeof *a);
	if (!a) {
		c->nomem = true;
		return;
	}
	*out = a;
	for (size_t i = 0; i < n; i++) {
		const struct scn_node *item = seq->vals[i];
		const struct scn_node *set = scn_get(item, "set");
		int f = scn_lookup(c, set, s->field_names, s->pub.n_fields, "state field");
		if (f < 0)
			continue;
		for (size_t j = 0; j < *n_out; j++) {
			if (a[j].field == (uint32_t)f) {
				scn_error(c, set, "field '%s' is assigned twice in this list",
					  s->pub.fields[f].name);
				f = -1;
				break;
			}
		}
		if (f < 0)
			continue;
		struct itd_expr *e;
		if (scn_compile(c, env, scn_get(item, "to"), s->pub.fields[f].type, &e))
			continue;
		a[*n_out].field = (uint32_t)f;
		a[*n_out].to = e;
		(*n_out)++;
	}
}

/* Read a goal {metric, reference, tolerance} for an intent of type t. */
static void build_goal(struct scn_ctx *c, const struct scn_scenario *s, const struct scn_node *item,
		       const struct itd_intent_type *t, struct itd_goal *g)
{
	const struct scn_node *gn = scn_get(item, "goal");
	memset(g, 0, sizeof *g);
	if (!t)
		return;
	if (!gn) {
		if (t->goal == ITD_GOAL_REQUIRED && !(scn_map_get(item, "goal")))
			scn_error(c, item, "intent type '%s' requires a goal (goal: {metric, reference, "
				  "tolerance})", t->name);
		return;
	}
	if (t->goal == ITD_GOAL_NONE) {
		scn_error(c, gn, "intent type '%s' takes no goal (its goal: is none)", t->name);
		return;
	}
	const struct scn_node *m = scn_get(gn, "metric");
	int f = scn_lookup(c, m, s->field_names, s->pub.n_fields, "state field");
	if (f >= 0 && s->pub.fields[f].type != ITD_T_NUM) {
		scn_error(c, m, "goal metric '%s' is not a number field", s->pub.fields[f].name);
		f = -1;
	}
	const struct scn_node *ref = scn_get(gn, "reference");
	double tol = scn_num_in(c, gn, "tolerance", 0, 0, false, HUGE_VAL, ">= 0");
	if (f < 0 || !ref)
		return;
	g->present = true;
	g->metric = (uint32_t)f;
	g->reference = ref->num;
	g->tolerance = tol;
}

/* -------------------------------------------------------------- parts */

static void build_header(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *root)
{
	struct itd_scenario *p = &s->pub;
	const struct scn_node *name = scn_get(root, "scenario");
	if (name && name->len == 0)
		scn_error(c, name, "the scenario name must not be empty");
	p->name = scn_dup(c, name);
	p->description = scn_dup(c, scn_get(root, "description"));
	p->seed = scn_uint_in(c, root, "seed", 1, 0, UINT64_MAX);
	p->rate_hz = scn_num_in(c, scn_get(root, "tick"), "rate_hz", 1, 0, true, 1e5,
			    "> 0 and <= 100000");
	const struct scn_node *eng = scn_get(root, "engine");
	p->max_intents = (uint32_t)scn_uint_in(c, eng, "max_intents", 1024, 1, 1000000);
	p->history_per_intent = (uint32_t)scn_uint_in(c, eng, "history_per_intent", 64, 1, 65536);
	p->intake_capacity = (uint32_t)scn_uint_in(c, eng, "intake_capacity", 4096, 1, 1000000);
}

static void build_constants(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *d)
{
	size_t n = scn_coll_len(d, SCN_MAP);
	if (!n)
		return;
	s->consts = itd_calloc(n, sizeof *s->consts);
	if (!s->consts) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct scn_node *k = d->keys[i], *v = d->vals[i];
		if (v->bad)
			continue;
		if (scn_is_reserved(k->text)) {
			scn_error(c, k, "constant name '%.60s' is reserved (state, mode, tick, intent, "
				  "true, false, and, or, not and function names)", k->text);
			continue;
		}
		struct scn_const *k2 = &s->consts[s->n_consts];
		if (scn_scalar_value(c, v, ITD_T_NONE, &k2->value, &k2->str))
			continue;
		k2->name = scn_dup(c, k);
		if (!k2->name) {
			itd_free(k2->str);
			k2->str = NULL;
			continue;
		}
		s->n_consts++;
	}
}

static void build_field(struct scn_ctx *c, const struct scn_node *k, const struct scn_node *v,
			struct itd_field *f)
{
	static const char *const num_only[] = {"min", "max", "warn_low", "warn_high", "alarm_low",
					       "alarm_high"};
	const struct scn_node *tn = scn_get(v, "type"), *init = scn_get(v, "initial");
	const struct scn_node *values = scn_get(v, "values");
	char *owned = NULL;

	f->name = scn_dup(c, k);
	f->description = scn_dup(c, scn_get(v, "description"));
	f->unit = scn_dup(c, scn_get(v, "unit"));
	if (tn)
		f->type = strcmp(tn->text, "number") == 0 ? ITD_T_NUM
			: strcmp(tn->text, "bool") == 0 ? ITD_T_BOOL : ITD_T_STR;
	else if (values)
		f->type = ITD_T_STR;
	else if (init)
		f->type = init->cls == SCN_NUM ? ITD_T_NUM : init->cls == SCN_BOOL ? ITD_T_BOOL : ITD_T_STR;
	else
		f->type = ITD_T_NUM;
	if (init)
		scn_scalar_value(c, init, f->type, &f->initial, &owned);
	f->initial.type = f->type;

	for (size_t i = 0; i < sizeof num_only / sizeof num_only[0]; i++) {
		const struct scn_node *x = scn_get(v, num_only[i]);
		if (x && f->type != ITD_T_NUM)
			scn_error(c, x, "'%s' applies only to number fields; '%s' is a %s field",
				  num_only[i], f->name ? f->name : "?", itd_type_name(f->type));
	}
	if (values && f->type != ITD_T_STR)
		scn_error(c, values, "'values' applies only to string fields; '%s' is a %s field",
			  f->name ? f->name : "?", itd_type_name(f->type));
	if (f->type == ITD_T_NUM) {
		const struct scn_node *mn = scn_get(v, "min"), *mx = scn_get(v, "max");
		f->has_min = mn != NULL;
		f->min = mn ? mn->num : 0;
		f->has_max = mx != NULL;
		f->max = mx ? mx->num : 0;
		if (mn && mx && f->min > f->max)
			scn_error(c, mn, "min (%g) is greater than max (%g)", f->min, f->max);
		else if (init && init->cls == SCN_NUM && isfinite(init->num) &&
			 ((mn && init->num < f->min) || (mx && init->num > f->max)))
			scn_error(c, init, "initial value %.60s is outside [%s, %s]", init->text,
				  mn ? mn->text : "-inf", mx ? mx->text : "inf");
#define THRESH(x)                                          \
	do {                                               \
		const struct scn_node *t_ = scn_get(v, #x);\
		f->has_##x = t_ != NULL;                   \
		f->x = t_ ? t_->num : 0;                   \
	} while (0)
		THRESH(warn_low);
		THRESH(warn_high);
		THRESH(alarm_low);
		THRESH(alarm_high);
#undef THRESH
	}
	if (f->type == ITD_T_STR && values) {
		f->values = scn_name_list(c, values, &f->n_values, "value", SIZE_MAX);
		if (values->n == 0)
			scn_error(c, values, "'values' must list at least one value");
		if (f->n_values && init && owned &&
		    scn_lookup(c, init, f->values, f->n_values, NULL) < 0)
			scn_error(c, init, "initial value '%.60s' is not one of the values of field '%s'",
				  owned, f->name ? f->name : "?");
	}
}

static void build_state(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *root)
{
	const struct scn_node *d = scn_get(root, "state");
	size_t n = scn_coll_len(d, SCN_MAP);
	if (!n) {
		if (d || (scn_map_get(root, "state") && !scn_map_get(root, "state")->bad))
			scn_error(c, d ? d : scn_map_get(root, "state"),
				  "state must declare at least one field");
		return;
	}
	s->pub.fields = itd_calloc(n, sizeof *s->pub.fields);
	s->field_names = itd_calloc(n, sizeof *s->field_names);
	if (!s->pub.fields || !s->field_names) {
		c->nomem = true;
		return;
	}
	s->pub.n_fields = n;
	for (size_t i = 0; i < n; i++) {
		build_field(c, d->keys[i], d->vals[i], &s->pub.fields[i]);
		s->field_names[i] = s->pub.fields[i].name;
	}
}

static void build_modes(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *root)
{
	struct itd_scenario *p = &s->pub;
	const struct scn_node *m = scn_get(root, "mode");
	if (!m) {
		p->modes = itd_calloc(1, sizeof *p->modes);
		if (p->modes)
			p->modes[0] = itd_strdup("NOMINAL");
		if (!p->modes || !p->modes[0]) {
			c->nomem = true;
			return;
		}
		p->n_modes = 1;
		return;
	}
	const struct scn_node *values = scn_get(m, "values");
	p->modes = scn_name_list(c, values, &p->n_modes, "mode", SIZE_MAX);
	if (values && values->n == 0)
		scn_error(c, values, "mode values must list at least one mode");
	const struct scn_node *init = scn_get(m, "initial");
	if (init && p->n_modes) {
		int i = scn_lookup(c, init, p->modes, p->n_modes, "mode");
		p->initial_mode = i < 0 ? 0 : (uint32_t)i;
	}
}

static void compile_mode_rules(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *root)
{
	const struct scn_node *rules = scn_get(scn_get(root, "mode"), "rules");
	size_t n = scn_coll_len(rules, SCN_SEQ);
	struct scn_env env = {.s = s, .scope = SCOPE_GLOBAL, .where = "mode rules"};
	if (!n)
		return;
	s->pub.mode_rules = itd_calloc(n, sizeof *s->pub.mode_rules);
	if (!s->pub.mode_rules) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct scn_node *r = rules->vals[i];
		int to = scn_lookup(c, scn_get(r, "to"), s->pub.modes, s->pub.n_modes, "mode");
		struct itd_expr *e;
		if (scn_compile(c, &env, scn_get(r, "when"), ITD_T_BOOL, &e) || to < 0) {
			itd_expr_destroy(e);
			continue;
		}
		s->pub.mode_rules[s->pub.n_mode_rules++] = (struct itd_mode_rule){(uint32_t)to, e};
	}
}

static void assign_slots(struct scn_scenario *s)
{
	struct itd_scenario *p = &s->pub;
	struct itd_slots *sl = &p->slots;
	sl->mode = (uint32_t)p->n_fields;
	sl->tick = sl->mode + 1;
	sl->n_global = sl->tick + 1;
	uint32_t n = 0;
	sl->i_type = n++;
	sl->i_source = n++;
	sl->i_id = n++;
	sl->i_priority = n++;
	sl->i_created_tick = n++;
	sl->i_age = n++;
	sl->i_evaluations = n++;
	sl->i_blocked_ticks = n++;
	sl->i_executions = n++;
	sl->i_attempts = n++;
	sl->i_recovery = n++;
	sl->i_goal_metric = n++;
	sl->i_goal_reference = n++;
	sl->i_goal_tolerance = n++;
	sl->i_goal_value = n++;
	sl->i_domains = n;
	n += (uint32_t)p->n_domains;
	sl->i_flags = n;
	n += (uint32_t)p->n_flags;
	for (size_t t = 0; t < p->n_types; t++)
		for (size_t i = 0; i < p->types[t].n_params; i++)
			p->types[t].params[i].slot = n++;
	for (size_t t = 0; t < p->n_types; t++)
		for (size_t i = 0; i < p->types[t].n_vars; i++)
			p->types[t].vars[i].slot = ITD_SLOT_INTENT | n++;
	sl->n_intent = n;
}

static void build_policy(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *root)
{
	const struct scn_node *pol = scn_get(root, "policy");
	struct scn_env env = {.s = s, .scope = SCOPE_INTENT, .where = "policy"};
	const struct scn_node *adj = scn_get(pol, "score_adjust");
	if (adj)
		scn_compile(c, &env, adj, ITD_T_NUM, &s->pub.score_adjust);
	s->pub.recovery_lock_ticks = (uint32_t)scn_uint_in(c, pol, "recovery_lock_ticks", 0, 0, 1000000);
	s->pub.block_report_every = (uint32_t)scn_uint_in(c, pol, "block_report_every", 10, 1, 1000000);
}

static void build_critical(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *root)
{
	const struct scn_node *seq = scn_get(root, "critical");
	size_t n = scn_coll_len(seq, SCN_SEQ);
	struct scn_env env = {.s = s, .scope = SCOPE_GLOBAL, .where = "critical conditions"};
	if (!n)
		return;
	s->pub.critical = itd_calloc(n, sizeof *s->pub.critical);
	if (!s->pub.critical) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct scn_node *it = seq->vals[i];
		int d = scn_lookup(c, scn_get(it, "domain"), s->pub.domains, s->pub.n_domains, "domain");
		int t = scn_lookup(c, scn_get(it, "recovery"), s->type_names, s->pub.n_types,
				   "intent type");
		struct itd_expr *e;
		if (scn_compile(c, &env, scn_get(it, "when"), ITD_T_BOOL, &e) || d < 0 || t < 0) {
			itd_expr_destroy(e);
			continue;
		}
		s->pub.critical[s->pub.n_critical++] = (struct itd_critical){(uint32_t)d, e, (uint32_t)t};
	}
}

static void build_inject(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *root)
{
	const struct scn_node *seq = scn_get(root, "inject");
	size_t n = scn_coll_len(seq, SCN_SEQ);
	struct scn_env env = {.s = s, .scope = SCOPE_GLOBAL, .where = "inject conditions"};
	if (!n)
		return;
	s->pub.inject = itd_calloc(n, sizeof *s->pub.inject);
	if (!s->pub.inject) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct scn_node *it = seq->vals[i];
		int t = scn_lookup(c, scn_get(it, "type"), s->type_names, s->pub.n_types, "intent type");
		struct itd_inject inj = {.priority = scn_num_in(c, it, "priority", 0, -HUGE_VAL, false, HUGE_VAL, "finite")};
		if (t >= 0)
			build_goal(c, s, it, &s->pub.types[t], &inj.goal);
		if (scn_compile(c, &env, scn_get(it, "when"), ITD_T_BOOL, &inj.when) || t < 0) {
			itd_expr_destroy(inj.when);
			continue;
		}
		inj.type = (uint32_t)t;
		s->pub.inject[s->pub.n_inject++] = inj;
	}
}

static void build_safety(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *root)
{
	const struct scn_node *seq = scn_get(root, "safety");
	size_t n = scn_coll_len(seq, SCN_SEQ);
	struct scn_env env = {.s = s, .scope = SCOPE_INTENT, .where = "safety rules"};
	if (!n)
		return;
	s->pub.safety = itd_calloc(n, sizeof *s->pub.safety);
	if (!s->pub.safety) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct scn_node *it = seq->vals[i], *id = scn_get(it, "id");
		if (id) {
			for (size_t j = 0; j < i; j++) {
				const struct scn_node *prev = scn_get(seq->vals[j], "id");
				if (prev && strcmp(prev->text, id->text) == 0) {
					scn_error(c, id, "duplicate safety rule id '%.60s' (first at line %u)",
						  id->text, prev->start.line + 1);
					id = NULL;
					break;
				}
			}
		}
		struct itd_safety_rule r = {0};
		if (scn_compile(c, &env, scn_get(it, "block_when"), ITD_T_BOOL, &r.block_when) || !id) {
			itd_expr_destroy(r.block_when);
			continue;
		}
		r.id = scn_dup(c, id);
		r.message = scn_dup(c, scn_get(it, "message"));
		s->pub.safety[s->pub.n_safety++] = r;
	}
}

static void build_intent(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *it,
			 struct itd_initial_intent *ii)
{
	int t = scn_lookup(c, scn_get(it, "type"), s->type_names, s->pub.n_types, "intent type");
	const struct itd_intent_type *ty = t >= 0 ? &s->pub.types[t] : NULL;
	ii->type = t < 0 ? 0 : (uint32_t)t;
	ii->priority = scn_num_in(c, it, "priority", 0, -HUGE_VAL, false, HUGE_VAL, "finite");
	ii->deadline_ticks = scn_uint_in(c, it, "deadline_ticks", 0, 0, UINT64_MAX);
	ii->idempotency_key = scn_dup(c, scn_get(it, "idempotency_key"));
	build_goal(c, s, it, ty, &ii->goal);
	const struct scn_node *pv = scn_get(it, "params");
	size_t n = scn_coll_len(pv, SCN_MAP);
	if (n && ty) {
		ii->params = itd_calloc(n, sizeof *ii->params);
		if (!ii->params) {
			c->nomem = true;
			return;
		}
		for (size_t i = 0; i < n; i++) {
			const struct scn_node *k = pv->keys[i], *v = pv->vals[i];
			int p = itd_scenario_param(ty, k->text);
			if (p < 0) {
				struct scn_suggest sg;
				scn_suggest_init(&sg, k->text, k->len);
				for (size_t j = 0; j < ty->n_params; j++)
					scn_suggest_try(&sg, ty->params[j].name);
				if (scn_suggest_best(&sg))
					scn_error(c, k, "intent type '%s' has no parameter '%.60s' (did "
						  "you mean '%s'?)", ty->name, k->text, scn_suggest_best(&sg));
				else
					scn_error(c, k, "intent type '%s' has no parameter '%.60s'",
						  ty->name, k->text);
				continue;
			}
			if (v->bad)
				continue;
			struct itd_param_value *dst = &ii->params[ii->n_params];
			char *owned;
			if (scn_scalar_value(c, v, ty->params[p].type, &dst->value, &owned))
				continue;
			dst->param = (uint32_t)p;
			ii->n_params++;
		}
	}
	for (size_t j = 0; ty && j < ty->n_params; j++)
		if (ty->params[j].required && scn_map_find(pv, ty->params[j].name,
							   strlen(ty->params[j].name)) < 0)
			scn_error(c, it, "missing required parameter '%s' of intent type '%s'",
				  ty->params[j].name, ty->name);
}

static void build_intents(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *root)
{
	const struct scn_node *seq = scn_get(root, "intents");
	size_t n = scn_coll_len(seq, SCN_SEQ);
	if (!n)
		return;
	s->pub.intents = itd_calloc(n, sizeof *s->pub.intents);
	if (!s->pub.intents) {
		c->nomem = true;
		return;
	}
	s->pub.n_intents = n;
	for (size_t i = 0; i < n && !c->nomem; i++)
		build_intent(c, s, seq->vals[i], &s->pub.intents[i]);
}

static void build_telemetry(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *root)
{
	struct itd_telemetry_def *td = &s->pub.telemetry;
	const struct scn_node *tel = scn_get(root, "telemetry");
	const struct scn_node *tags = scn_get(tel, "tags"), *red = scn_get(tel, "redact");
	size_t nt = scn_coll_len(tags, SCN_MAP), nr = scn_coll_len(red, SCN_SEQ);

	td->hmac_key_env = scn_dup(c, scn_get(tel, "hmac_key_env"));
	if (nt) {
		td->tags = itd_calloc(nt, sizeof *td->tags);
		if (!td->tags) {
			c->nomem = true;
			return;
		}
		for (size_t i = 0; i < nt; i++) {
			if (tags->vals[i]->bad || tags->vals[i]->cls == SCN_NULL)
				continue;
			struct itd_tag *t = &td->tags[td->n_tags++];
			t->key = scn_dup(c, tags->keys[i]);
			t->value = scn_dup(c, tags->vals[i]);
		}
	}
	if (nr) {
		td->redact = itd_calloc(nr, sizeof *td->redact);
		if (!td->redact) {
			c->nomem = true;
			return;
		}
		for (size_t i = 0; i < nr; i++) {
			const struct scn_node *path = scn_get(red->vals[i], "path");
			const struct scn_node *how = scn_get(red->vals[i], "how");
			if (!path)
				continue;
			struct itd_redact_rule *r = &td->redact[td->n_redact++];
			r->path = scn_dup(c, path);
			r->how = how && strcmp(how->text, "hmac") == 0 ? ITD_REDACT_HMAC : ITD_REDACT_PLAIN;
		}
	}
}

struct scn_scenario *scn_build(struct scn_ctx *c, const struct scn_node *root, const char *file)
{
	struct scn_scenario *s = itd_calloc(1, sizeof *s);
	if (!s) {
		c->nomem = true;
		return NULL;
	}
	struct itd_scenario *p = &s->pub;
	p->file = itd_strdup(file);
	if (!p->file)
		c->nomem = true;

	build_header(c, s, root);
	build_constants(c, s, scn_get(root, "constants"));
	build_state(c, s, root);
	build_modes(c, s, root);
	p->domains = scn_name_list(c, scn_get(root, "domains"), &p->n_domains, "domain", 64);
	p->flags = scn_name_list(c, scn_get(root, "flags"), &p->n_flags, "flag", 64);
	if (c->nomem)
		return s;
	scn_build_types(c, s, scn_get(root, "intent_types"));
	if (c->nomem)
		return s;
	assign_slots(s);

	struct scn_env dyn = {.s = s, .scope = SCOPE_GLOBAL, .where = "dynamics"};
	compile_mode_rules(c, s, root);
	scn_build_assigns(c, s, &dyn, scn_get(root, "dynamics"), &p->dynamics, &p->n_dynamics);
	scn_compile_types(c, s, scn_get(root, "intent_types"));
	if (c->nomem)
		return s;
	build_policy(c, s, root);
	build_critical(c, s, root);
	build_inject(c, s, root);
	build_safety(c, s, root);
	build_intents(c, s, root);
	build_telemetry(c, s, root);
	return s;
}
