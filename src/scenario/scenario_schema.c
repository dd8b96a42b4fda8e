/* scenario_schema.c: the scenario format as tables (every section's keys,
 * their kinds, whether required, and help text with the default), and the
 * generic check of a node tree against them. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "scenario/scenario_int.h"

#define KEYS(a) (a), (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------- scalars */

static const char *const field_types[] = {"number", "bool", "string", NULL};
static const char *const goal_uses[] = {"none", "optional", "required", NULL};
static const char *const redact_hows[] = {"redact", "hmac", NULL};

static const struct scn_type T_SCALAR = {W_SCALAR, "a number, bool or string", NULL, 0, NULL, NULL, false};
static const struct scn_type T_STR = {W_STR, "a string", NULL, 0, NULL, NULL, false};
static const struct scn_type T_NAME = {W_NAME, "a name", NULL, 0, NULL, NULL, false};
static const struct scn_type T_NUM = {W_NUM, "a number", NULL, 0, NULL, NULL, false};
static const struct scn_type T_UINT = {W_UINT, "a non-negative integer", NULL, 0, NULL, NULL, false};
static const struct scn_type T_BOOL = {W_BOOL, "true or false", NULL, 0, NULL, NULL, false};
static const struct scn_type T_EXPR = {W_EXPR, "an expression", NULL, 0, NULL, NULL, false};
static const struct scn_type T_FTYPE = {W_WORD, "a type", NULL, 0, NULL, field_types, false};
static const struct scn_type T_GOALUSE = {W_WORD, "a goal use", NULL, 0, NULL, goal_uses, false};
static const struct scn_type T_HOW = {W_WORD, "a redaction", NULL, 0, NULL, redact_hows, false};
static const struct scn_type T_NAMES = {W_SEQ, "name", NULL, 0, &T_NAME, NULL, false};
static const struct scn_type T_STRS = {W_SEQ, "value", NULL, 0, &T_STR, NULL, false};

/* ------------------------------------------------------------ sections */

static const struct scn_key tick_keys[] = {
	{"rate_hz", &T_NUM, false, "ticks per second when paced (default 1; 0 < rate_hz <= 100000)"},
};
static const struct scn_type T_TICK = {W_MAP, "tick", KEYS(tick_keys), NULL, NULL, false};

static const struct scn_key engine_keys[] = {
	{"max_intents", &T_UINT, false, "intents held in memory, active and archived (default 1024; 1..1000000)"},
	{"history_per_intent", &T_UINT, false, "transitions kept per intent (default 64; 1..65536)"},
	{"intake_capacity", &T_UINT, false, "inputs queued between ticks (default 4096; 1..1000000)"},
};
static const struct scn_type T_ENGINE = {W_MAP, "engine", KEYS(engine_keys), NULL, NULL, false};

static const struct scn_type T_CONSTANTS = {W_DICT, "constant", NULL, 0, &T_SCALAR, NULL, true};

static const struct scn_key field_keys[] = {
	{"type", &T_FTYPE, false, "number, bool or string (default: the type of `initial`)"},
	{"initial", &T_SCALAR, true, "value at tick 0 (required)"},
	{"unit", &T_STR, false, "display unit (default none)"},
	{"description", &T_STR, false, "what the field means (default none)"},
	{"min", &T_NUM, false, "number fields: clamp below (default none)"},
	{"max", &T_NUM, false, "number fields: clamp above (default none)"},
	{"values", &T_STRS, false, "string fields: the allowed values (default any)"},
	{"warn_low", &T_NUM, false, "number fields: display warning below (default none)"},
	{"warn_high", &T_NUM, false, "number fields: display warning above (default none)"},
	{"alarm_low", &T_NUM, false, "number fields: display alarm below (default none)"},
	{"alarm_high", &T_NUM, false, "number fields: display alarm above (default none)"},
};
static const struct scn_type T_FIELD = {W_MAP, "state field", KEYS(field_keys), NULL, NULL, false};
static const struct scn_type T_STATE = {W_DICT, "state field", NULL, 0, &T_FIELD, NULL, true};

static const struct scn_key rule_keys[] = {
	{"to", &T_NAME, true, "the mode to enter (required)"},
	{"when", &T_EXPR, true, "bool condition, global scope (required)"},
};
static const struct scn_type T_RULE = {W_MAP, "mode rule", KEYS(rule_keys), NULL, NULL, false};
static const struct scn_type T_RULES = {W_SEQ, "mode rule", NULL, 0, &T_RULE, NULL, false};

static const struct scn_key mode_keys[] = {
	{"values", &T_NAMES, true, "the modes (required, at least one)"},
	{"initial", &T_NAME, false, "mode at tick 0 (default: the first value)"},
	{"rules", &T_RULES, false, "ordered rules; the first that holds sets the mode (default none)"},
};
static const struct scn_type T_MODE = {W_MAP, "mode", KEYS(mode_keys), NULL, NULL, false};

static const struct scn_key assign_keys[] = {
	{"set", &T_NAME, true, "the state field assigned (required)"},
	{"to", &T_EXPR, true, "its new value, typed like the field (required)"},
};
static const struct scn_type T_ASSIGN = {W_MAP, "assignment", KEYS(assign_keys), NULL, NULL, false};
static const struct scn_type T_ASSIGNS = {W_SEQ, "assignment", NULL, 0, &T_ASSIGN, NULL, false};

static const struct scn_key param_keys[] = {
	{"type", &T_FTYPE, true, "number, bool or string (required)"},
	{"required", &T_BOOL, false, "must be given (default false)"},
	{"default", &T_SCALAR, false, "value when not given (default none)"},
	{"description", &T_STR, false, "what the parameter means (default none)"},
};
static const struct scn_type T_PARAM = {W_MAP, "parameter", KEYS(param_keys), NULL, NULL, false};
static const struct scn_type T_PARAMS = {W_DICT, "parameter", NULL, 0, &T_PARAM, NULL, true};
static const struct scn_type T_VARS = {W_DICT, "var", NULL, 0, &T_EXPR, NULL, true};

static const struct scn_key retry_keys[] = {
	{"max_attempts", &T_UINT, false, "executions tried in all (default 1: no retry; 1..1000)"},
	{"base_ticks", &T_NUM, false, "first backoff in ticks (default 1; >= 0)"},
	{"factor", &T_NUM, false, "backoff growth per attempt (default 2; >= 1)"},
	{"max_ticks", &T_NUM, false, "backoff cap in ticks (default 60; >= base_ticks)"},
	{"jitter", &T_NUM, false, "random fraction of the backoff (default 0; 0..1)"},
};
static const struct scn_type T_RETRY = {W_MAP, "retry", KEYS(retry_keys), NULL, NULL, false};

static const struct scn_key itype_keys[] = {
	{"description", &T_STR, false, "what the intent does (default none)"},
	{"domains", &T_NAMES, false, "domains it touches (default none)"},
	{"flags", &T_NAMES, false, "flags it carries (default none)"},
	{"recovers", &T_NAME, false, "the domain it recovers; makes it a recovery (default none)"},
	{"goal", &T_GOALUSE, false, "none, optional or required (default none)"},
	{"params", &T_PARAMS, false, "declared parameters (default none)"},
	{"vars", &T_VARS, false, "named helper expressions, in order (default none)"},
	{"score", &T_EXPR, true, "number expression; the highest score runs (required)"},
	{"effect", &T_ASSIGNS, false, "assignments applied when executed (default none)"},
	{"complete_when", &T_EXPR, false, "bool; completed after an execution when true (default: after one execution)"},
	{"fail_when", &T_EXPR, false, "bool; failed after an execution when true (default: never)"},
	{"retry", &T_RETRY, false, "retry policy after a failure (default: no retry)"},
	{"deadline_ticks", &T_UINT, false, "expires this many ticks after creation (default 0: never)"},
};
static const struct scn_type T_ITYPE = {W_MAP, "intent type", KEYS(itype_keys), NULL, NULL, false};
static const struct scn_type T_ITYPES = {W_DICT, "intent type", NULL, 0, &T_ITYPE, NULL, true};

static const struct scn_key policy_keys[] = {
	{"score_adjust", &T_EXPR, false, "number added to every intent's score, intent scope (default none)"},
	{"recovery_lock_ticks", &T_UINT, false, "ticks a just-executed recovery keeps the slot (default 0)"},
	{"block_report_every", &T_UINT, false, "report a still-blocked intent at most every N ticks (default 10; >= 1)"},
};
static const struct scn_type T_POLICY = {W_MAP, "policy", KEYS(policy_keys), NULL, NULL, false};

static const struct scn_key critical_keys[] = {
	{"domain", &T_NAME, true, "the domain (required)"},
	{"when", &T_EXPR, true, "bool condition, global scope (required)"},
	{"recovery", &T_NAME, true, "the intent type forced while critical (required)"},
};
static const struct scn_type T_CRIT = {W_MAP, "critical entry", KEYS(critical_keys), NULL, NULL, false};
static const struct scn_type T_CRITS = {W_SEQ, "critical entry", NULL, 0, &T_CRIT, NULL, false};

static const struct scn_key goal_keys[] = {
	{"metric", &T_NAME, true, "the state field driven (required)"},
	{"reference", &T_NUM, true, "the target value (required)"},
	{"tolerance", &T_NUM, false, "accepted distance (default 0; >= 0)"},
};
static const struct scn_type T_GOAL = {W_MAP, "goal", KEYS(goal_keys), NULL, NULL, false};

static const struct scn_key inject_keys[] = {
	{"type", &T_NAME, true, "the intent type created (required)"},
	{"when", &T_EXPR, true, "bool condition, global scope (required)"},
	{"priority", &T_NUM, false, "priority of the created intent (default 0)"},
	{"goal", &T_GOAL, false, "goal of the created intent (default none)"},
};
static const struct scn_type T_INJECT = {W_MAP, "inject entry", KEYS(inject_keys), NULL, NULL, false};
static const struct scn_type T_INJECTS = {W_SEQ, "inject entry", NULL, 0, &T_INJECT, NULL, false};

static const struct scn_key safety_keys[] = {
	{"id", &T_NAME, true, "unique rule id, the reported reason (required)"},
	{"message", &T_STR, false, "human explanation (default none)"},
	{"block_when", &T_EXPR, true, "bool condition, intent scope (required)"},
};
static const struct scn_type T_SAFETY = {W_MAP, "safety rule", KEYS(safety_keys), NULL, NULL, false};
static const struct scn_type T_SAFETIES = {W_SEQ, "safety rule", NULL, 0, &T_SAFETY, NULL, false};

static const struct scn_type T_PVALUES = {W_DICT, "parameter", NULL, 0, &T_SCALAR, NULL, true};
static const struct scn_key intent_keys[] = {
	{"type", &T_NAME, true, "the intent type (required)"},
	{"goal", &T_GOAL, false, "goal (required if the type requires one)"},
	{"params", &T_PVALUES, false, "parameter values (default none)"},
	{"priority", &T_NUM, false, "priority (default 0)"},
	{"deadline_ticks", &T_UINT, false, "expiry after creation (default: the type's)"},
	{"idempotency_key", &T_STR, false, "deduplication key (default none)"},
};
static const struct scn_type T_INTENT = {W_MAP, "initial intent", KEYS(intent_keys), NULL, NULL, false};
static const struct scn_type T_INTENTS = {W_SEQ, "initial intent", NULL, 0, &T_INTENT, NULL, false};

static const struct scn_type T_TAGS = {W_DICT, "tag", NULL, 0, &T_STR, NULL, false};
static const struct scn_key redact_keys[] = {
	{"path", &T_STR, true, "dotted path in the event, e.g. payload.params.operator (required)"},
	{"how", &T_HOW, false, "redact or hmac (default redact)"},
};
static const struct scn_type T_REDACT = {W_MAP, "redact rule", KEYS(redact_keys), NULL, NULL, false};
static const struct scn_type T_REDACTS = {W_SEQ, "redact rule", NULL, 0, &T_REDACT, NULL, false};
static const struct scn_key telemetry_keys[] = {
	{"tags", &T_TAGS, false, "envelope tags, string to string (default none)"},
	{"redact", &T_REDACTS, false, "redaction rules (default none)"},
	{"hmac_key_env", &T_STR, false, "environment variable holding the HMAC key (default: derived from the seed)"},
};
static const struct scn_type T_TELEMETRY = {W_MAP, "telemetry", KEYS(telemetry_keys), NULL, NULL, false};

static const struct scn_key root_keys[] = {
	{"scenario", &T_STR, true, "the scenario's name (required)"},
	{"description", &T_STR, false, "what it models (default none)"},
	{"seed", &T_UINT, false, "run seed (default 1)"},
	{"tick", &T_TICK, false, "tick settings"},
	{"engine", &T_ENGINE, false, "capacities fixed at load"},
	{"constants", &T_CONSTANTS, false, "named numbers, bools and strings for expressions"},
	{"state", &T_STATE, true, "state fields, in order (required)"},
	{"mode", &T_MODE, false, "modes and mode rules (default: the single mode NOMINAL)"},
	{"dynamics", &T_ASSIGNS, false, "per-tick assignments (default none)"},
	{"domains", &T_NAMES, false, "domain names, at most 64 (default none)"},
	{"flags", &T_NAMES, false, "flag names, at most 64 (default none)"},
	{"intent_types", &T_ITYPES, true, "intent types (required, at least one)"},
	{"policy", &T_POLICY, false, "selection policy"},
	{"critical", &T_CRITS, false, "critical domains in priority order (default none)"},
	{"inject", &T_INJECTS, false, "autonomous intent creation (default none)"},
	{"safety", &T_SAFETIES, false, "ordered block rules (default none)"},
	{"intents", &T_INTENTS, false, "intents present at tick 1 (default none)"},
	{"telemetry", &T_TELEMETRY, false, "telemetry settings"},
};
static const struct scn_type T_ROOT = {W_MAP, "the scenario", KEYS(root_keys), NULL, NULL, false};

const struct scn_type *scn_schema_root(void)
{
	return &T_ROOT;
}

const struct scn_key *scn_schema_key(const struct scn_type *t, const char *name, size_t len)
{
	if (!t || t->want != W_MAP)
		return NULL;
	for (size_t i = 0; i < t->n_keys; i++)
		if (strlen(t->keys[i].name) == len && memcmp(t->keys[i].name, name, len) == 0)
			return &t->keys[i];
	return NULL;
}

/* --------------------------------------------------------------- names */

bool scn_is_ident(const char *s, size_t len)
{
	if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_'))
			return false;
	}
	return true;
}

bool scn_is_reserved(const char *s)
{
	static const char *const reserved[] = {
		"state", "mode", "tick", "intent", "true", "false", "and", "or", "not",
		"if", "min", "max", "clamp", "abs", "floor", "ceil", "round", "sqrt",
		"starts_with", "ends_with",
	};
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
		if (strcmp(s, reserved[i]) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------ checking */

void scn_schema_unknown(struct scn_ctx *c, const struct scn_node *at, const struct scn_type *t,
			const char *name, size_t len, const char *where)
{
	struct scn_suggest sg;
	scn_suggest_init(&sg, name, len);
	for (size_t i = 0; i < t->n_keys; i++)
		scn_suggest_try(&sg, t->keys[i].name);
	int n = len > 60 ? 60 : (int)len;
	if (scn_suggest_best(&sg)) {
		scn_error(c, at, "unknown key '%.*s' in %s (did you mean '%s'?)", n, name, where,
			  scn_suggest_best(&sg));
		return;
	}
	struct scn_buf b = {.n = 0};
	for (size_t i = 0; i < t->n_keys; i++)
		scn_buf_add(&b, "%s%s", i ? ", " : "", t->keys[i].name);
	scn_error(c, at, "unknown key '%.*s' in %s (expected one of: %s)", n, name, where, b.s);
}

static void wrong(struct scn_ctx *c, struct scn_node *n, const char *expected)
{
	char got[96];
	scn_describe(n, got, sizeof got);
	scn_error(c, n, "expected %s, got %s", expected, got);
	n->bad = true;
}

static void check(struct scn_ctx *c, struct scn_node *n, const struct scn_type *t, const char *where);

static void check_map(struct scn_ctx *c, struct scn_node *n, const struct scn_type *t,
		      const char *where)
{
	for (size_t i = 0; i < n->n; i++) {
		struct scn_node *k = n->keys[i], *v = n->vals[i];
		const struct scn_key *key = scn_schema_key(t, k->text, k->len);
		if (!key) {
			scn_schema_unknown(c, k, t, k->text, k->len, where);
			v->bad = true;
			continue;
		}
		bool scalar = key->type->want < W_MAP;
		if (v->kind == SCN_SCALAR && v->cls == SCN_NULL && scalar) {
			if (key->required)
				scn_error(c, k, "missing value for '%s' in %s", key->name, where);
			v->bad = true;
			continue;
		}
		check(c, v, key->type, key->type->want == W_MAP ? key->type->what : where);
	}
	for (size_t i = 0; i < t->n_keys; i++)
		if (t->keys[i].required && !scn_map_get(n, t->keys[i].name))
			scn_error(c, n, "missing required key '%s' in %s", t->keys[i].name, where);
}

static void check_dict(struct scn_ctx *c, struct scn_node *n, const struct scn_type *t)
{
	for (size_t i = 0; i < n->n; i++) {
		struct scn_node *k = n->keys[i], *v = n->vals[i];
		if (t->name_keys && !scn_is_ident(k->text, k->len)) {
			scn_error(c, k, "'%.60s' is not a valid %s name (letters, digits and _, not "
				  "starting with a digit)", k->text, t->item->want == W_MAP ? t->item->what : t->what);
			v->bad = true;
			continue;
		}
		char where[128];
		snprintf(where, sizeof where, "%s '%.60s'", t->what, k->text);
		check(c, v, t->item, where);
	}
}

static void check_scalar(struct scn_ctx *c, struct scn_node *n, const struct scn_type *t)
{
	if (n->kind != SCN_SCALAR || n->cls == SCN_NULL) {
		if (t->want == W_WORD) {
			struct scn_buf b = {.n = 0};
			for (size_t i = 0; t->words[i]; i++)
				scn_buf_add(&b, "%s%s", i ? ", " : "", t->words[i]);
			wrong(c, n, b.s);
		} else {
			wrong(c, n, t->what);
		}
		return;
	}
	switch (t->want) {
	case W_NAME:
		if (!scn_is_ident(n->text, n->len))
			wrong(c, n, "a name (letters, digits and _, not starting with a digit)");
		break;
	case W_NUM:
		if (n->cls != SCN_NUM)
			wrong(c, n, "a number");
		else if (!isfinite(n->num))
			wrong(c, n, "a finite number");
		break;
	case W_UINT:
		if (n->cls != SCN_NUM || !isfinite(n->num) || n->num < 0 || n->num != floor(n->num) ||
		    (!n->is_uint && n->num >= 18446744073709551616.0))
			wrong(c, n, "a non-negative integer");
		break;
	case W_BOOL:
		if (n->cls != SCN_BOOL)
			wrong(c, n, "true or false");
		break;
	case W_WORD: {
		for (size_t i = 0; t->words[i]; i++)
			if (strcmp(n->text, t->words[i]) == 0)
				return;
		struct scn_suggest sg;
		struct scn_buf b = {.n = 0};
		scn_suggest_init(&sg, n->text, n->len);
		for (size_t i = 0; t->words[i]; i++) {
			scn_suggest_try(&sg, t->words[i]);
			scn_buf_add(&b, "%s%s", i ? ", " : "", t->words[i]);
		}
		if (scn_suggest_best(&sg))
			scn_error(c, n, "expected one of %s, got '%.60s' (did you mean '%s'?)", b.s,
				  n->text, scn_suggest_best(&sg));
		else
			scn_error(c, n, "expected one of %s, got '%.60s'", b.s, n->text);
		n->bad = true;
		break;
	}
	default:
		break;
	}
}

static void check(struct scn_ctx *c, struct scn_node *n, const struct scn_type *t, const char *where)
{
	if (t->want < W_MAP) {
		check_scalar(c, n, t);
		return;
	}
	if (n->kind == SCN_SCALAR && n->cls == SCN_NULL)
		return; /* an empty section */
	switch (t->want) {
	case W_MAP:
		if (n->kind != SCN_MAP) {
			char what[96];
			snprintf(what, sizeof what, "a map (%s)", t->what);
			wrong(c, n, what);
			return;
		}
		check_map(c, n, t, where);
		break;
	case W_DICT:
		if (n->kind != SCN_MAP) {
			char what[96];
			snprintf(what, sizeof what, "a map of %ss", t->what);
			wrong(c, n, what);
			return;
		}
		check_dict(c, n, t);
		break;
	default: /* W_SEQ */
		if (n->kind != SCN_SEQ) {
			char what[96];
			snprintf(what, sizeof what, "a list of %ss", t->item->want == W_MAP ? t->item->what : t->what);
			wrong(c, n, what);
			return;
		}
		for (size_t i = 0; i < n->n; i++)
			check(c, n->vals[i], t->item, t->item->what);
		break;
	}
}

void scn_schema_check(struct scn_ctx *c, struct scn_node *root)
{
	if (!root || (root->kind == SCN_SCALAR && root->cls == SCN_NULL)) {
		scn_error(c, NULL, "the scenario is empty (expected a map with scenario, state and "
			  "intent_types)");
		return;
	}
	if (root->kind != SCN_MAP) {
		wrong(c, root, "a map of sections (scenario, state, intent_types, ...)");
		return;
	}
	check_map(c, root, &T_ROOT, "the scenario");
}
