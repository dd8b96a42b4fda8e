/* scenario_int.h: private to the scenario module: the YAML node tree, the
 * load context that collects diagnostics, the schema tables, and the
 * expression environment shared by the loader's files. */
#ifndef ITD_SCENARIO_INT_H
#define ITD_SCENARIO_INT_H

#include <stdarg.h>

#include "scenario/scenario.h"

/* ------------------------------------------------------------- sources */

/* A text that nodes were parsed from: the scenario file or one --set
 * value.  Positions are reported as file:line:col, 1-based. */
struct scn_src {
	const char *file;   /* name in messages ("--set" for overrides) */
	const char *text;   /* the text (borrowed for the load) */
	size_t len;         /* its length in bytes */
	unsigned col_base;  /* added to columns on the first line: a --set value
			       starts after "path=" in its argument */
};

/* A position as libyaml reports it: 0-based line and character column. */
struct scn_mark {
	unsigned line;      /* 0-based line */
	unsigned col;       /* 0-based column in characters */
};

/* ---------------------------------------------------------- node tree */

enum scn_kind {
	SCN_SCALAR,         /* a scalar; see scn_class */
	SCN_MAP,            /* keys[i] -> vals[i], in file order */
	SCN_SEQ,            /* vals[i] */
};

/* How a scalar reads (YAML 1.2 core schema); quoted scalars are strings. */
enum scn_class {
	SCN_NULL,           /* empty, ~, null */
	SCN_BOOL,           /* true / false */
	SCN_NUM,            /* an int or float (maybe not finite) */
	SCN_STR,            /* anything else, or quoted */
};

struct scn_node {
	enum scn_kind kind;        /* scalar, map or sequence */
	enum scn_class cls;        /* scalars: how the value reads */
	int style;                 /* scalars: yaml_scalar_style_t */
	bool bad;                  /* failed a schema check: builders skip it */
	const struct scn_src *src; /* where it was parsed from */
	struct scn_mark start;     /* first character (quote or indicator) */
	struct scn_mark end;       /* just past the last character */
	char *text;                /* scalars: the value, NUL-terminated */
	size_t len;                /* scalars: its length */
	double num;                /* SCN_NUM: the value */
	bool is_uint;              /* SCN_NUM: a non-negative integer literal */
	uint64_t u;                /* is_uint: its exact value */
	bool b;                    /* SCN_BOOL: the value */
	struct scn_node **keys;    /* maps: key scalars */
	struct scn_node **vals;    /* maps: values; sequences: items */
	size_t n;                  /* entries */
	size_t cap;                /* allocated entries */
};

/* ------------------------------------------------------------- context */

#define SCN_MAX_ERRORS 50   /* then "too many errors" and silence */
#define SCN_MAX_DEPTH 64    /* nesting of YAML collections */
#define SCN_MAX_ENTRIES 10000 /* entries of one map or list (keeps the
				 duplicate-key check cheap) */

struct scn_ctx {
	struct itd_diags *diags;   /* where errors go; may be NULL */
	size_t n_errors;           /* errors reported in this load */
	bool nomem;                /* an allocation failed somewhere */
	const struct scn_src *main;/* the scenario text */
};

/* Report an error at a node's first character (NULL: line 1 col 1 of the
 * main source), or at an explicit position.  Formatting and storage never
 * fail loudly: an allocation failure sets c->nomem. */
void scn_error(struct scn_ctx *c, const struct scn_node *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void scn_error_mark(struct scn_ctx *c, const struct scn_src *src, struct scn_mark m,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void scn_error_pos(struct scn_ctx *c, const char *file, unsigned line, unsigned col,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The display position (1-based) of a mark in a source. */
void scn_pos(const struct scn_src *src, struct scn_mark m, unsigned *line, unsigned *col);
/* The position of byte `off` of a scalar's value in its source text,
 * accounting for quotes, escapes, block indicators and folded lines. */
void scn_scalar_pos(const struct scn_node *n, size_t off, unsigned *line, unsigned *col);

/* Did-you-mean: feed candidates, get the closest one if close enough. */
struct scn_suggest {
	const char *word;          /* what the user wrote */
	size_t len;                /* its length */
	const char *best;          /* closest candidate so far, or NULL */
	unsigned best_d;           /* its edit distance */
};
void scn_suggest_init(struct scn_suggest *s, const char *word, size_t len);
void scn_suggest_try(struct scn_suggest *s, const char *cand);
const char *scn_suggest_best(const struct scn_suggest *s);

/* A small bounded string builder for messages ("a, b, c"). */
struct scn_buf {
	char s[512];               /* text, always NUL-terminated */
	size_t n;                  /* length */
};
void scn_buf_add(struct scn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ YAML tree */

/* Parse YAML text into a node tree.  Returns 0 with *out the root (NULL
 * for an empty document), or ITD_ECONFIG after reporting syntax errors,
 * duplicate keys, anchors/aliases, tags or too deep nesting, or
 * ITD_ENOMEM. */
int scn_yaml_parse(struct scn_ctx *c, const struct scn_src *src, struct scn_node **out);
void scn_node_free(struct scn_node *n);
/* A new empty node of a kind at a position; NULL (and c->nomem) on failure. */
struct scn_node *scn_node_new(struct scn_ctx *c, enum scn_kind kind, const struct scn_src *src,
			      struct scn_mark at);
/* Append an entry to a map (key != NULL) or a sequence; takes ownership of
 * key and val even on failure. */
int scn_node_append(struct scn_ctx *c, struct scn_node *coll, struct scn_node *key,
		    struct scn_node *val);
/* A map's value for key, or NULL (also when n is not a map). */
struct scn_node *scn_map_get(const struct scn_node *n, const char *key);
/* Index of key in a map, or -1. */
long scn_map_find(const struct scn_node *n, const char *key, size_t len);
/* A short description of a node for messages: "'abc'", "a map", ... */
void scn_describe(const struct scn_node *n, char *buf, size_t cap);

/* -------------------------------------------------------------- schema */

enum scn_want {
	W_SCALAR,  /* any non-null scalar: number, bool or string */
	W_STR,     /* a string (plain scalars are taken as written) */
	W_NAME,    /* an identifier [A-Za-z_][A-Za-z0-9_]* */
	W_NUM,     /* a finite number */
	W_UINT,    /* a non-negative integer */
	W_BOOL,    /* true or false */
	W_EXPR,    /* an expression (any non-null scalar) */
	W_WORD,    /* one of type->words */
	W_MAP,     /* a map with the fixed keys type->keys */
	W_DICT,    /* a map from user names to type->item */
	W_SEQ,     /* a list of type->item */
};

struct scn_key;

struct scn_type {
	enum scn_want want;        /* the node's shape */
	const char *what;          /* for messages: "intent type", "a number" */
	const struct scn_key *keys;/* W_MAP: its keys */
	size_t n_keys;
	const struct scn_type *item; /* W_DICT / W_SEQ: entries */
	const char *const *words;  /* W_WORD: allowed words, NULL-terminated */
	bool name_keys;            /* W_DICT: keys must be identifiers */
};

struct scn_key {
	const char *name;          /* the key */
	const struct scn_type *type; /* what its value must be */
	bool required;             /* missing is an error */
	const char *help;          /* meaning and default (docs, --help) */
};

/* The schema of a whole scenario file. */
const struct scn_type *scn_schema_root(void);
/* A W_MAP type's key by name, or NULL. */
const struct scn_key *scn_schema_key(const struct scn_type *t, const char *name, size_t len);
/* Report an unknown key `name` in a map of type t described as `where`. */
void scn_schema_unknown(struct scn_ctx *c, const struct scn_node *at, const struct scn_type *t,
			const char *name, size_t len, const char *where);
/* Check a tree against the schema: unknown keys, missing required keys,
 * wrong kinds; offending nodes are marked bad. */
void scn_schema_check(struct scn_ctx *c, struct scn_node *root);
/* True if s (len bytes) is an identifier. */
bool scn_is_ident(const char *s, size_t len);
/* True if a name is reserved in expressions (state, mode, and, if...). */
bool scn_is_reserved(const char *s);

/* ----------------------------------------------------------- overrides */

/* Apply --set overrides to the tree (*root may be replaced).  srcs holds
 * n_ovr sources the caller keeps alive as long as the tree. */
void scn_apply_overrides(struct scn_ctx *c, struct scn_node *root, const struct itd_override *ovr,
			 size_t n_ovr, struct scn_src *srcs);

/* ------------------------------------------------------------- building */

/* A named constant (private to the module). */
struct scn_const {
	char *name;                /* bare name in expressions */
	struct itd_value value;    /* strings point at str */
	char *str;                 /* owned string value, or NULL */
};

/* The scenario as allocated: the public part first, then what only the
 * module needs. */
struct scn_scenario {
	struct itd_scenario pub;   /* what the engine reads */
	struct scn_const *consts;  /* `constants:` in file order */
	size_t n_consts;
	char **field_names;        /* field names (borrowed), for intent.goal.metric */
	char **type_names;         /* type names (borrowed), for intent.type */
};

enum scn_scope {
	SCOPE_GLOBAL,              /* state, mode, tick, constants */
	SCOPE_INTENT,              /* + intent.* (no params, no vars) */
	SCOPE_TYPE,                /* + the type's params and vars */
};

/* The compile-time environment of one expression. */
struct scn_env {
	const struct scn_scenario *s; /* the scenario being built */
	enum scn_scope scope;      /* what is visible */
	const char *where;         /* plural context: "mode rules" */
	const struct itd_intent_type *type; /* SCOPE_TYPE: the type */
	size_t n_vars;             /* SCOPE_TYPE: vars visible (earlier ones) */
	bool cascade;              /* set when a name failed only because an
				      earlier error (a broken var) */
};

/* Compile a scalar node's expression in env wanting `want`.  Errors are
 * reported at the exact token; returns 0 or the expr error code (*out
 * NULL). */
int scn_compile(struct scn_ctx *c, const struct scn_env *env, const struct scn_node *n,
		enum itd_type want, struct itd_expr **out);

/* Build the scenario from a checked tree; errors go to c.  Returns the
 * scenario (possibly with errors reported: the caller checks c) or NULL on
 * allocation failure. */
struct scn_scenario *scn_build(struct scn_ctx *c, const struct scn_node *root, const char *file);
/* Build the intent types (scenario_types.c) into s->pub.types. */
void scn_build_types(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *types);
/* Compile the intent types' expressions once slots are assigned. */
void scn_compile_types(struct scn_ctx *c, struct scn_scenario *s, const struct scn_node *types);
/* Free what scn_build_types made. */
void scn_free_types(struct itd_intent_type *t, size_t n);

/* Helpers shared by the builders. */
const struct scn_node *scn_get(const struct scn_node *map, const char *key);
char *scn_dup(struct scn_ctx *c, const struct scn_node *n);
/* Read a scalar as a value of type t; strings are copied into *owned. */
int scn_scalar_value(struct scn_ctx *c, const struct scn_node *n, enum itd_type t,
		     struct itd_value *v, char **owned);
/* Entries of a map / sequence node (0 if n is not one, or bad). */
size_t scn_coll_len(const struct scn_node *n, enum scn_kind kind);
/* A number / non-negative integer key of a map with a default and a range
 * check; out-of-range values are reported and give the default. */
double scn_num_in(struct scn_ctx *c, const struct scn_node *map, const char *key, double def,
		  double lo, bool lo_open, double hi, const char *range);
uint64_t scn_uint_in(struct scn_ctx *c, const struct scn_node *map, const char *key, uint64_t def,
		     uint64_t lo, uint64_t hi);
/* A list of unique names, at most max (duplicates reported). */
char **scn_name_list(struct scn_ctx *c, const struct scn_node *seq, size_t *n_out, const char *what,
		     size_t max);
/* Compile an assignment list (dynamics or an effect) in env. */
void scn_build_assigns(struct scn_ctx *c, struct scn_scenario *s, const struct scn_env *env,
		       const struct scn_node *seq, struct itd_assign **out, size_t *n_out);
/* Index of name in a string array, or -1; with a did-you-mean error if
 * `what` is not NULL. */
int scn_lookup(struct scn_ctx *c, const struct scn_node *n, char *const *names, size_t n_names,
	       const char *what);

#endif
