/* scenario_env.c: the expression namespace of scenarios (see scenario.h)
 * as an itd_expr_env, aware of scope (global, intent, intent type), and
 * the compile step that turns expression errors into FILE:LINE:COL
 * diagnostics pointing at the offending token. */
#include <stdio.h>
#include <string.h>

#include "scenario/scenario_int.h"

static const char *const sources[] = {"ground", "autonomous", "playbook", "schedule"};

/* The fixed intent names (after "intent."): type, slot member, enum. */
struct fixed {
	const char *name;
	enum itd_type type;
	size_t slot_off; /* offset of the slot number in struct itd_slots */
};

#define FIX(n, t, m) {n, t, offsetof(struct itd_slots, m)}
static const struct fixed fixed_names[] = {
	FIX("type", ITD_T_STR, i_type),
	FIX("source", ITD_T_STR, i_source),
	FIX("id", ITD_T_STR, i_id),
	FIX("priority", ITD_T_NUM, i_priority),
	FIX("created_tick", ITD_T_NUM, i_created_tick),
	FIX("age", ITD_T_NUM, i_age),
	FIX("evaluations", ITD_T_NUM, i_evaluations),
	FIX("blocked_ticks", ITD_T_NUM, i_blocked_ticks),
	FIX("executions", ITD_T_NUM, i_executions),
	FIX("attempts", ITD_T_NUM, i_attempts),
	FIX("recovery", ITD_T_BOOL, i_recovery),
	FIX("goal.metric", ITD_T_STR, i_goal_metric),
	FIX("goal.reference", ITD_T_NUM, i_goal_reference),
	FIX("goal.tolerance", ITD_T_NUM, i_goal_tolerance),
	FIX("goal.value", ITD_T_NUM, i_goal_value),
};
#undef FIX
#define N_FIXED (sizeof fixed_names / sizeof fixed_names[0])

static bool eq(const char *a, size_t la, const char *b)
{
	return strlen(b) == la && memcmp(a, b, la) == 0;
}

static bool prefix(const char *a, size_t la, const char *p)
{
	size_t lp = strlen(p);
	return la >= lp && memcmp(a, p, lp) == 0;
}

static int trunc_len(size_t len)
{
	return len > 80 ? 80 : (int)len;
}

static void slot_sym(struct itd_expr_sym *sym, enum itd_type t, uint32_t slot)
{
	sym->kind = ITD_SYM_SLOT;
	sym->type = t;
	sym->slot = slot;
}

/* Look a name up among n strings; fill a did-you-mean or a list. */
static int find_name(const char *name, size_t len, char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (eq(name, len, names[i]))
			return (int)i;
	return -1;
}

static void unknown(char *msg, size_t cap, const char *what, const char *plural,
		    const char *name, size_t len, char *const *names, size_t n)
{
	struct scn_suggest sg;
	scn_suggest_init(&sg, name, len);
	for (size_t i = 0; i < n; i++)
		scn_suggest_try(&sg, names[i]);
	if (scn_suggest_best(&sg)) {
		snprintf(msg, cap, "unknown %s '%.*s' (did you mean '%s'?)", what, trunc_len(len), name,
			 scn_suggest_best(&sg));
		return;
	}
	struct scn_buf b = {.n = 0};
	for (size_t i = 0; i < n; i++)
		scn_buf_add(&b, "%s%s", i ? ", " : "", names[i]);
	if (n)
		snprintf(msg, cap, "unknown %s '%.*s' (%s: %s)", what, trunc_len(len), name, plural,
			 b.s);
	else
		snprintf(msg, cap, "unknown %s '%.*s' (no %s are declared)", what, trunc_len(len),
			 name, plural);
}

static int resolve_state(const struct scn_env *env, const char *f, size_t len,
			 struct itd_expr_sym *sym, char *msg, size_t cap)
{
	const struct itd_scenario *s = &env->s->pub;
	int i = find_name(f, len, env->s->field_names, s->n_fields);
	if (i < 0) {
		unknown(msg, cap, "state field", "fields", f, len, env->s->field_names, s->n_fields);
		return ITD_ENOTFOUND;
	}
	const struct itd_field *fd = &s->fields[i];
	slot_sym(sym, fd->type, (uint32_t)i);
	sym->enum_values = (const char *const *)fd->values;
	sym->n_enum = fd->n_values;
	return 0;
}

static int resolve_intent(const struct scn_env *env, const char *full, size_t flen,
			  struct itd_expr_sym *sym, char *msg, size_t cap)
{
	const struct itd_scenario *s = &env->s->pub;
	const struct itd_slots *sl = &s->slots;
	const char *n = full + 7;
	size_t len = flen - 7;

	if (env->scope == SCOPE_GLOBAL) {
		snprintf(msg, cap, "'%.*s' is not available here: %s see state, mode, tick and "
			 "constants", trunc_len(flen), full, env->where);
		return ITD_ENOTFOUND;
	}
	if (prefix(n, len, "goal.") && env->scope == SCOPE_TYPE && env->type->goal == ITD_GOAL_NONE) {
		snprintf(msg, cap, "'%.*s' is not available: intent type '%s' takes no goal "
			 "(add goal: optional or goal: required)", trunc_len(flen), full, env->type->name);
		return ITD_ENOTFOUND;
	}
	for (size_t i = 0; i < N_FIXED; i++) {
		if (!eq(n, len, fixed_names[i].name))
			continue;
		uint32_t slot;
		memcpy(&slot, (const char *)sl + fixed_names[i].slot_off, sizeof slot);
		slot_sym(sym, fixed_names[i].type, ITD_SLOT_INTENT | slot);
		if (eq(n, len, "type")) {
			sym->enum_values = (const char *const *)env->s->type_names;
			sym->n_enum = s->n_types;
		} else if (eq(n, len, "source")) {
			sym->enum_values = sources;
			sym->n_enum = sizeof sources / sizeof sources[0];
		} else if (eq(n, len, "goal.metric")) {
			sym->enum_values = (const char *const *)env->s->field_names;
			sym->n_enum = s->n_fields;
		}
		return 0;
	}
	if (prefix(n, len, "domains.")) {
		int d = find_name(n + 8, len - 8, s->domains, s->n_domains);
		if (d < 0) {
			unknown(msg, cap, "domain", "domains", n + 8, len - 8, s->domains, s->n_domains);
			return ITD_ENOTFOUND;
		}
		slot_sym(sym, ITD_T_BOOL, ITD_SLOT_INTENT | (sl->i_domains + (uint32_t)d));
		return 0;
	}
	if (prefix(n, len, "flags.")) {
		int f = find_name(n + 6, len - 6, s->flags, s->n_flags);
		if (f < 0) {
			unknown(msg, cap, "flag", "flags", n + 6, len - 6, s->flags, s->n_flags);
			return ITD_ENOTFOUND;
		}
		slot_sym(sym, ITD_T_BOOL, ITD_SLOT_INTENT | (sl->i_flags + (uint32_t)f));
		return 0;
	}
	if (prefix(n, len, "params.")) {
		const char *p = n + 7;
		size_t pl = len - 7;
		if (env->scope != SCOPE_TYPE) {
			snprintf(msg, cap, "'%.*s' is not available here: parameters are only visible "
				 "in the expressions of the intent type that declares them",
				 trunc_len(flen), full);
			return ITD_ENOTFOUND;
		}
		const struct itd_intent_type *t = env->type;
		for (size_t i = 0; i < t->n_params; i++) {
			if (eq(p, pl, t->params[i].name)) {
				slot_sym(sym, t->params[i].type, ITD_SLOT_INTENT | t->params[i].slot);
				return 0;
			}
		}
		struct scn_suggest sg;
		scn_suggest_init(&sg, p, pl);
		for (size_t i = 0; i < t->n_params; i++)
			scn_suggest_try(&sg, t->params[i].name);
		if (scn_suggest_best(&sg))
			snprintf(msg, cap, "intent type '%s' has no parameter '%.*s' (did you mean '%s'?)",
				 t->name, trunc_len(pl), p, scn_suggest_best(&sg));
		else
			snprintf(msg, cap, "intent type '%s' has no parameter '%.*s'", t->name,
				 trunc_len(pl), p);
		return ITD_ENOTFOUND;
	}
	struct scn_suggest sg;
	scn_suggest_init(&sg, n, len);
	for (size_t i = 0; i < N_FIXED; i++)
		scn_suggest_try(&sg, fixed_names[i].name);
	if (scn_suggest_best(&sg))
		snprintf(msg, cap, "unknown intent attribute '%.*s' (did you mean 'intent.%s'?)",
			 trunc_len(flen), full, scn_suggest_best(&sg));
	else
		snprintf(msg, cap, "unknown intent attribute '%.*s' (intent.type, intent.priority, "
			 "intent.recovery, intent.domains.<d>, intent.goal.reference, ...)",
			 trunc_len(flen), full);
	return ITD_ENOTFOUND;
}

/* A bare name: a constant or (in a type's expressions) a var. */
static int resolve_bare(const struct scn_env *env, const char *n, size_t len,
			struct itd_expr_sym *sym, char *msg, size_t cap)
{
	const struct scn_scenario *s = env->s;
	for (size_t i = 0; i < s->n_consts; i++) {
		if (eq(n, len, s->consts[i].name)) {
			sym->kind = ITD_SYM_CONST;
			sym->type = s->consts[i].value.type;
			sym->value = s->consts[i].value;
			return 0;
		}
	}
	if (env->scope == SCOPE_TYPE) {
		const struct itd_intent_type *t = env->type;
		for (size_t i = 0; i < t->n_vars; i++) {
			if (!eq(n, len, t->vars[i].name))
				continue;
			if (i >= env->n_vars) {
				snprintf(msg, cap, "var '%s' is used before it is defined (a var may "
					 "only read the vars above it)", t->vars[i].name);
				return ITD_ENOTFOUND;
			}
			if (!t->vars[i].expr) {
				/* Its own error is reported; do not report it again. */
				snprintf(msg, cap, "var '%s' has errors", t->vars[i].name);
				((struct scn_env *)env)->cascade = true;
				return ITD_ENOTFOUND;
			}
			slot_sym(sym, itd_expr_type(t->vars[i].expr), ITD_SLOT_INTENT | t->vars[i].slot);
			return 0;
		}
	}
	/* A var of another type, or used where no type is in scope? */
	for (size_t ti = 0; ti < s->pub.n_types; ti++) {
		const struct itd_intent_type *t = &s->pub.types[ti];
		for (size_t i = 0; i < t->n_vars; i++) {
			if (eq(n, len, t->vars[i].name)) {
				snprintf(msg, cap, "'%s' is a var of intent type '%s'; vars are only "
					 "visible in their own type's expressions", t->vars[i].name, t->name);
				return ITD_ENOTFOUND;
			}
		}
	}
	if (eq(n, len, "state")) {
		snprintf(msg, cap, "'state' needs a field name, e.g. state.%s",
			 s->pub.n_fields ? s->pub.fields[0].name : "x");
		return ITD_ENOTFOUND;
	}
	if (eq(n, len, "intent")) {
		snprintf(msg, cap, "'intent' needs an attribute, e.g. intent.type");
		return ITD_ENOTFOUND;
	}
	struct scn_suggest sg;
	scn_suggest_init(&sg, n, len);
	for (size_t i = 0; i < s->n_consts; i++)
		scn_suggest_try(&sg, s->consts[i].name);
	if (env->scope == SCOPE_TYPE)
		for (size_t i = 0; i < env->n_vars; i++)
			scn_suggest_try(&sg, env->type->vars[i].name);
	scn_suggest_try(&sg, "mode");
	scn_suggest_try(&sg, "tick");
	if (scn_suggest_best(&sg))
		snprintf(msg, cap, "unknown name '%.*s' (did you mean '%s'?)", trunc_len(len), n,
			 scn_suggest_best(&sg));
	else
		snprintf(msg, cap, "unknown name '%.*s' (names are state.<field>, mode, tick, "
			 "intent.<attribute>, constants and vars)", trunc_len(len), n);
	return ITD_ENOTFOUND;
}

static int resolve(void *ctx, const char *name, size_t len, struct itd_expr_sym *sym, char *msg,
		   size_t cap)
{
	const struct scn_env *env = ctx;
	const struct itd_slots *sl = &env->s->pub.slots;

	memset(sym, 0, sizeof *sym);
	if (cap)
		msg[0] = '\0';
	if (prefix(name, len, "state."))
		return resolve_state(env, name + 6, len - 6, sym, msg, cap);
	if (eq(name, len, "mode")) {
		slot_sym(sym, ITD_T_STR, sl->mode);
		sym->enum_values = (const char *const *)env->s->pub.modes;
		sym->n_enum = env->s->pub.n_modes;
		return 0;
	}
	if (eq(name, len, "tick")) {
		slot_sym(sym, ITD_T_NUM, sl->tick);
		return 0;
	}
	if (prefix(name, len, "intent."))
		return resolve_intent(env, name, len, sym, msg, cap);
	if (!memchr(name, '.', len))
		return resolve_bare(env, name, len, sym, msg, cap);
	snprintf(msg, cap, "unknown name '%.*s' (dotted names start with state. or intent.)",
		 trunc_len(len), name);
	return ITD_ENOTFOUND;
}

int scn_compile(struct scn_ctx *c, const struct scn_env *env, const struct scn_node *n,
		enum itd_type want, struct itd_expr **out)
{
	struct scn_env local = *env; /* resolve() may set local.cascade */
	struct itd_expr_env e = {.resolve = resolve, .ctx = &local};
	struct itd_expr_error err;

	*out = NULL;
	local.cascade = false;
	if (!n || n->kind != SCN_SCALAR || n->bad)
		return ITD_EINVAL; /* missing or malformed: already reported */
	memset(&err, 0, sizeof err);
	int rc = itd_expr_compile(n->text, n->len, &e, want, out, &err);
	if (rc == ITD_ENOMEM) {
		c->nomem = true;
	} else if (rc == ITD_ENOTFOUND && local.cascade) {
		c->n_errors++; /* counted, but said once already */
	} else if (rc && c->n_errors > SCN_MAX_ERRORS) {
		c->n_errors++; /* past the cap: not worth locating */
	} else if (rc) {
		unsigned line, col;
		scn_scalar_pos(n, err.offset, &line, &col);
		err.msg[sizeof err.msg - 1] = '\0';
		scn_error_pos(c, n->src->file, line, col, "%s",
			      err.msg[0] ? err.msg : itd_err_msg(rc));
	}
	if (rc)
		*out = NULL;
	return rc;
}
