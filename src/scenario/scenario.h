/* scenario.h: a scenario is data, not C (SPEC §5).  This module loads a
 * YAML scenario (a file or a built-in), applies `--set path=value`
 * overrides, validates it against the schema with FILE:LINE:COL errors,
 * compiles every expression, and hands the engine an immutable definition.
 *
 * The definition (struct itd_scenario) is kept apart from runtime state, as
 * cFS keeps tables apart from results: the engine only reads it.
 *
 * Expression namespace (resolved at compile time, see scenario_env.c):
 *   state.<field>            a state field (global slot)
 *   mode                     the current mode (string enum, global slot)
 *   tick                     the current tick (number, global slot)
 *   <constant>               a `constants:` entry (folded)
 *   intent.type              string      intent.source     string
 *   intent.id                string      intent.priority   number
 *   intent.created_tick      number      intent.age        number (tick - created)
 *   intent.evaluations       number      intent.blocked_ticks number
 *   intent.executions        number      intent.attempts   number
 *   intent.recovery          bool (its type declares `recovers:`)
 *   intent.domains.<d>       bool (its type touches domain d)
 *   intent.flags.<f>         bool (its type carries flag f)
 *   intent.goal.metric       string      intent.goal.reference number
 *   intent.goal.tolerance    number      intent.goal.value number (the goal
 *                                        metric's current state value)
 *   intent.params.<p>        typed; only in the expressions of a type that
 *                                        declares p
 *   <var>                    a `vars:` entry of the intent type, only in that
 *                                        type's expressions (intent slot)
 * Intent-reading names are allowed only where an intent is in scope: intent
 * type expressions, policy.score_adjust, safety rules.  Mode rules,
 * dynamics, critical and inject conditions see state, mode, tick and
 * constants only.
 */
#ifndef ITD_SCENARIO_H
#define ITD_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/embed.h"
#include "expr/expr.h"

/* ----------------------------------------------------------- definitions */

struct itd_field {
	char *name;              /* e.g. "battery" */
	char *description;       /* optional, may be NULL */
	enum itd_type type;      /* number, bool or string */
	struct itd_value initial;/* initial value (strings owned by the scenario) */
	char *unit;              /* optional display unit, may be NULL */
	bool has_min, has_max;   /* clamp bounds present */
	double min, max;         /* number fields: clamp after every assignment */
	char **values;           /* string fields: allowed values (enum), or NULL */
	size_t n_values;         /* number of values */
	/* Display thresholds (number fields), each optional. */
	bool has_warn_low, has_warn_high, has_alarm_low, has_alarm_high;
	double warn_low, warn_high, alarm_low, alarm_high;
};

/* One assignment `set: FIELD, to: EXPR`. */
struct itd_assign {
	uint32_t field;          /* index into itd_scenario.fields */
	struct itd_expr *to;     /* typed like the field */
};

struct itd_mode_rule {
	uint32_t to;             /* index into itd_scenario.modes */
	struct itd_expr *when;   /* bool, global scope */
};

/* A per-type named helper expression, evaluated into an intent slot before
 * the type's other expressions, in declaration order. */
struct itd_var {
	char *name;              /* bare name used in the type's expressions */
	uint32_t slot;           /* intent slot (ITD_SLOT_INTENT | n) */
	struct itd_expr *expr;   /* may read earlier vars */
};

struct itd_param_def {
	char *name;              /* intent.params.<name> */
	enum itd_type type;      /* declared type; submissions are checked */
	bool required;           /* must be present in a submission */
	bool has_default;        /* a default applies when absent */
	struct itd_value def;    /* the default */
	uint32_t slot;           /* intent slot holding the value */
};

enum itd_goal_use {
	ITD_GOAL_NONE = 0,       /* the type takes no goal */
	ITD_GOAL_OPTIONAL,       /* a goal may be given */
	ITD_GOAL_REQUIRED,       /* every intent of the type needs a goal */
};

/* Retry policy after a failed execution: backoff = min(max_ticks,
 * base_ticks * factor^(attempt-1)) with +-jitter fraction drawn from the
 * `retry` RNG stream. */
struct itd_retry {
	uint32_t max_attempts;   /* 1 = no retry */
	double base_ticks;       /* first backoff */
	double factor;           /* growth per attempt */
	double max_ticks;        /* cap */
	double jitter;           /* 0..1: fraction of the backoff drawn at random */
};

struct itd_intent_type {
	char *name;              /* e.g. "orbit_correction" */
	char *description;       /* optional, may be NULL */
	uint32_t index;          /* position in itd_scenario.types */
	uint64_t domains;        /* bit d: touches itd_scenario.domains[d] */
	uint64_t flags;          /* bit f: carries itd_scenario.flags[f] */
	int recovers;            /* domain index it recovers, or -1 */
	enum itd_goal_use goal;  /* whether a goal is taken */
	struct itd_var *vars;    /* helper expressions */
	size_t n_vars;
	struct itd_param_def *params; /* declared parameters */
	size_t n_params;
	struct itd_expr *score;  /* number; required */
	struct itd_assign *effect; /* the mutation when executed */
	size_t n_effect;
	struct itd_expr *complete_when; /* bool; NULL: completes after one execution */
	struct itd_expr *fail_when;     /* bool; NULL: never fails */
	struct itd_retry retry;  /* after failure */
	uint64_t deadline_ticks; /* default deadline after creation; 0 = none */
};

struct itd_safety_rule {
	char *id;                /* the reason reported, e.g. "battery_depleted" */
	char *message;           /* optional human text, may be NULL */
	struct itd_expr *block_when; /* bool, intent scope */
};

struct itd_critical {
	uint32_t domain;         /* index into domains */
	struct itd_expr *when;   /* bool, global scope */
	uint32_t recovery;       /* intent type forced when critical */
};

struct itd_goal {
	bool present;            /* a goal was given */
	uint32_t metric;         /* state field index */
	double reference;        /* target value */
	double tolerance;        /* accepted distance */
};

/* A parameter value of an intent (initial, injected, or submitted). */
struct itd_param_value {
	uint32_t param;          /* index into the type's params */
	struct itd_value value;  /* strings owned by whoever owns the list */
};

struct itd_inject {
	uint32_t type;           /* intent type to create */
	struct itd_expr *when;   /* bool, global scope */
	double priority;         /* of the created intent */
	struct itd_goal goal;    /* optional goal */
};

struct itd_initial_intent {
	uint32_t type;           /* intent type */
	double priority;         /* priority */
	struct itd_goal goal;    /* goal (required if the type requires one) */
	struct itd_param_value *params; /* given parameters */
	size_t n_params;
	uint64_t deadline_ticks; /* 0: the type's default */
	char *idempotency_key;   /* optional, may be NULL */
};

enum itd_redact_how {
	ITD_REDACT_PLAIN,        /* replace by "REDACTED" */
	ITD_REDACT_HMAC,         /* replace by "hmac-sha256:<hex>" (keyed) */
};

struct itd_redact_rule {
	char *path;              /* e.g. "payload.params.operator" */
	enum itd_redact_how how; /* plain or keyed hash */
};

struct itd_tag {
	char *key, *value;       /* envelope tag */
};

struct itd_telemetry_def {
	struct itd_tag *tags;    /* envelope tags, in file order */
	size_t n_tags;
	struct itd_redact_rule *redact; /* redaction rules */
	size_t n_redact;
	char *hmac_key_env;      /* environment variable holding the HMAC key,
				    or NULL (then a key from the run seed is
				    used and a warning printed) */
};

/* Slot layout of the global frame and of each intent frame. */
struct itd_slots {
	uint32_t n_global;       /* fields, then mode, then tick */
	uint32_t mode;           /* global slot of `mode` */
	uint32_t tick;           /* global slot of `tick` */
	uint32_t n_intent;       /* intent slots in use (fixed + domains + flags
				    + params + vars of every type) */
	/* Intent slots (without ITD_SLOT_INTENT) of the fixed intent names. */
	uint32_t i_type, i_source, i_id, i_priority, i_created_tick, i_age;
	uint32_t i_evaluations, i_blocked_ticks, i_executions, i_attempts;
	uint32_t i_recovery, i_goal_metric, i_goal_reference, i_goal_tolerance, i_goal_value;
	uint32_t i_domains;      /* first of n_domains bool slots */
	uint32_t i_flags;        /* first of n_flags bool slots */
};

struct itd_scenario {
	char *name;              /* `scenario:` */
	char *description;       /* optional, may be NULL */
	char *file;              /* where it was loaded from (for messages) */
	uint64_t seed;           /* run seed (overridable with --seed) */
	double rate_hz;          /* paced tick rate */

	uint32_t max_intents;    /* engine.max_intents */
	uint32_t history_per_intent; /* engine.history_per_intent */
	uint32_t intake_capacity;/* engine.intake_capacity */

	struct itd_field *fields;/* state fields, in file order */
	size_t n_fields;
	char **modes;            /* mode values; modes[initial_mode] at start */
	size_t n_modes;
	uint32_t initial_mode;
	struct itd_mode_rule *mode_rules;
	size_t n_mode_rules;
	struct itd_assign *dynamics; /* per-tick assignments */
	size_t n_dynamics;

	char **domains;          /* domain names (at most 64) */
	size_t n_domains;
	char **flags;            /* flag names (at most 64) */
	size_t n_flags;

	struct itd_intent_type *types;
	size_t n_types;

	struct itd_expr *score_adjust; /* number, intent scope; may be NULL */
	uint32_t recovery_lock_ticks;
	uint32_t block_report_every;

	struct itd_critical *critical;
	size_t n_critical;
	struct itd_inject *inject;
	size_t n_inject;
	struct itd_safety_rule *safety;
	size_t n_safety;
	struct itd_initial_intent *intents;
	size_t n_intents;

	struct itd_telemetry_def telemetry;
	struct itd_slots slots;
};

/* ------------------------------------------------------------ diagnostics */

/* One error found while loading: where and what.  Loading collects every
 * error it can (up to a limit) rather than stopping at the first. */
struct itd_diag {
	char *file;              /* file name as given */
	unsigned line, col;      /* 1-based */
	char *msg;               /* e.g. "unknown key 'scor' (did you mean 'score'?)" */
};

struct itd_diags {
	struct itd_diag *items;
	size_t n, cap;
};

/* Print every diagnostic as "FILE:LINE:COL: message\n" to f (a FILE *). */
void itd_diags_print(const struct itd_diags *d, void *f);
/* Free the diagnostics' storage (the struct itself is the caller's). */
void itd_diags_fini(struct itd_diags *d);

/* --------------------------------------------------------------- loading */

/* An override `path=value` from the command line, e.g.
 * "state.battery.initial=24" or "constants.power_draw=0.7".  The value is
 * parsed as a YAML scalar (or flow collection) and replaces the node at the
 * path before validation, so it is checked like the file itself.  Unknown
 * paths are errors, reported with the file name "--set". */
struct itd_override {
	const char *path;        /* borrowed */
	const char *value;       /* borrowed */
};

/* Load and compile a scenario from YAML text.  `file` names it in
 * messages.  On success *out owns a new scenario (itd_scenario_destroy) and
 * 0 is returned.  On failure *out is NULL, every problem found is appended
 * to diags, and the code is ITD_ECONFIG (or ITD_ENOMEM). */
int itd_scenario_load_text(const char *text, size_t len, const char *file,
			   const struct itd_override *ovr, size_t n_ovr,
			   struct itd_scenario **out, struct itd_diags *diags);

/* Same, from a file path. */
int itd_scenario_load_file(const char *path, const struct itd_override *ovr, size_t n_ovr,
			   struct itd_scenario **out, struct itd_diags *diags);

/* Same, from a built-in scenario by name ("spacecraft"); unknown names give
 * ITD_ENOTFOUND with a diagnostic listing the built-ins. */
int itd_scenario_load_builtin(const char *name, const struct itd_override *ovr, size_t n_ovr,
			      struct itd_scenario **out, struct itd_diags *diags);

/* Free a scenario; NULL is a no-op. */
void itd_scenario_destroy(struct itd_scenario *s);

/* A hash of everything in s that changes what a tick does or how big the
 * engine's state is: field definitions and limits, modes, every
 * expression's source and the value of each constant it names (constants
 * are folded in, so an override changes no source), types, rules, the
 * initial intents, capacities.  Descriptions, units, messages, display
 * thresholds, telemetry tags and the default seed do not count.  `seed`
 * versions the hash (a snapshot format). */
uint64_t itd_scenario_fingerprint(const struct itd_scenario *s, uint64_t seed);

/* The built-in scenarios, a table terminated by a NULL name. */
const struct itd_embedded *itd_scenario_builtins(void);

/* ---------------------------------------------------------------- lookups */

/* Index of a state field / mode / intent type / domain by name, or -1. */
int itd_scenario_field(const struct itd_scenario *s, const char *name);
int itd_scenario_mode(const struct itd_scenario *s, const char *name);
int itd_scenario_type(const struct itd_scenario *s, const char *name);
int itd_scenario_domain(const struct itd_scenario *s, const char *name);
/* A string field's declared value equal to v, as the scenario's own
 * stable copy (so it may be kept in the state), or NULL if v is not one
 * of the field's values. */
const char *itd_field_value(const struct itd_field *f, const char *v);
/* v clamped to the field's min/max when it is a number; other values are
 * returned unchanged. */
struct itd_value itd_field_clamp(const struct itd_field *f, struct itd_value v);

/* Index of a parameter of a type by name, or -1. */
int itd_scenario_param(const struct itd_intent_type *t, const char *name);
/* The value of a `constants:` entry: 0 and *out (may be NULL; strings
 * owned by the scenario), or ITD_ENOTFOUND. */
int itd_scenario_constant(const struct itd_scenario *s, const char *name, struct itd_value *out);

#endif
