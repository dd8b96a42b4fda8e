/* expr.h: the typed expression language of scenarios (SPEC §5): parsed and
 * type-checked at load, compiled to compact stack bytecode, evaluated in
 * bounded time with no allocation, and able to explain a boolean result by
 * the comparisons that decided it with their operand values.
 *
 * Grammar (lowest precedence first):
 *   expr    := or
 *   or      := and ("or" and)*
 *   and     := not ("and" not)*
 *   not     := "not" not | cmp
 *   cmp     := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)?
 *   sum     := term (("+" | "-") term)*
 *   term    := unary (("*" | "/" | "%") unary)*
 *   unary   := "-" unary | primary
 *   primary := NUMBER | STRING | "true" | "false" | name | call | "(" expr ")"
 *   name    := IDENT ("." IDENT)*          e.g. state.battery, intent.goal.reference
 *   call    := IDENT "(" [expr ("," expr)*] ")"
 * Strings are 'single' or "double" quoted.  Functions: if(c, a, b),
 * min(a, b, ...), max(a, b, ...), clamp(x, lo, hi), abs, floor, ceil, round,
 * sqrt, starts_with(s, prefix), ends_with(s, suffix).  `%` is the floored
 * modulo (the sign of the divisor, as in Python).  Comparisons do not chain.
 * `and`/`or` short-circuit.  == and != work on any two values of one type;
 * ordering comparisons on numbers (and strings, bytewise).
 *
 * Names are resolved at compile time through an environment callback, which
 * maps each dotted name to a typed slot (read from a frame at evaluation) or
 * to a constant (folded into the bytecode). */
#ifndef ITD_EXPR_H
#define ITD_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

enum itd_type {
	ITD_T_NONE = 0, /* no value / "any type" where a type is asked for */
	ITD_T_NUM,      /* IEEE double */
	ITD_T_BOOL,     /* true / false */
	ITD_T_STR,      /* borrowed NUL-terminated string, compared bytewise */
};

/* Name of a type as written in scenarios: "number", "bool", "string". */
const char *itd_type_name(enum itd_type t);

/* A value.  Strings are borrowed: they point at storage (the scenario's
 * interned strings, an intent's params) that outlives the evaluation. */
struct itd_value {
	enum itd_type type; /* which member is valid */
	union {
		double num;      /* ITD_T_NUM */
		bool b;          /* ITD_T_BOOL */
		const char *str; /* ITD_T_STR */
	};
};

/* Slots: a slot number with ITD_SLOT_INTENT set reads frame->intent,
 * otherwise frame->global.  The engine keeps the global frame (state fields,
 * mode, tick) and one intent frame per intent record. */
#define ITD_SLOT_INTENT UINT32_C(0x80000000)

struct itd_expr_frame {
	const struct itd_value *global; /* state, mode, tick, ... */
	const struct itd_value *intent; /* the intent being evaluated; may be NULL
					   when the expression reads no intent slot */
};

/* What a name resolves to. */
enum itd_sym_kind {
	ITD_SYM_SLOT,  /* read slot `slot` of the frame at evaluation */
	ITD_SYM_CONST, /* a compile-time constant, `value` */
};

struct itd_expr_sym {
	enum itd_sym_kind kind;   /* slot or constant */
	enum itd_type type;       /* the value's type */
	uint32_t slot;            /* ITD_SYM_SLOT: frame slot number */
	struct itd_value value;   /* ITD_SYM_CONST: the value (strings must
				     outlive the compiled expression) */
	const char *const *enum_values; /* optional: a string slot's allowed
					   values; comparing it with a string
					   literal outside them is a compile
					   error */
	size_t n_enum;            /* number of enum_values */
};

/* The compile-time environment.  resolve() looks up a dotted name (not
 * NUL-terminated: `len` bytes) and fills *sym; it returns 0, or
 * ITD_ENOTFOUND for an unknown name, in which case it may write a precise
 * message (e.g. "unknown state field 'batery' (did you mean 'battery'?)")
 * into msg (cap bytes) or leave it empty for a generic one. */
struct itd_expr_env {
	int (*resolve)(void *ctx, const char *name, size_t len, struct itd_expr_sym *sym,
		       char *msg, size_t cap);
	void *ctx; /* passed to resolve */
};

/* A compile error: the byte offset of the offending token within the source
 * string (so the caller can turn it into FILE:LINE:COL) and a message. */
struct itd_expr_error {
	size_t offset;  /* byte offset into the source */
	char msg[256];  /* e.g. "type mismatch: 'state.battery' is number, 'true' is bool" */
};

struct itd_expr; /* a compiled expression (opaque) */

/* Limits that bound evaluation time and memory. */
#define ITD_EXPR_MAX_SOURCE 4096 /* bytes of source text */
#define ITD_EXPR_MAX_DEPTH 64    /* nesting depth of the syntax tree */
#define ITD_EXPR_MAX_CODE 1024   /* bytecode instructions */

/* Compile src (len bytes, need not be NUL-terminated).  `want` is the type
 * the context needs (ITD_T_NONE accepts any); a mismatch is a compile
 * error.  On success *out owns a new expression (destroy it with
 * itd_expr_destroy) and 0 is returned.  On failure *out is NULL, *err says
 * where and why, and the code is ITD_EPARSE (syntax), ITD_ETYPE (types),
 * ITD_ENOTFOUND (unknown name or function), ITD_ELIMIT (too long or too
 * deep) or ITD_ENOMEM. */
int itd_expr_compile(const char *src, size_t len, const struct itd_expr_env *env,
		     enum itd_type want, struct itd_expr **out, struct itd_expr_error *err);

/* Free a compiled expression; NULL is a no-op. */
void itd_expr_destroy(struct itd_expr *e);

/* The result type, the source text (NUL-terminated copy) and whether the
 * expression reads any intent slot. */
enum itd_type itd_expr_type(const struct itd_expr *e);
const char *itd_expr_source(const struct itd_expr *e);
bool itd_expr_uses_intent(const struct itd_expr *e);
/* True if the expression reads no slot at all (its value never changes);
 * then itd_expr_eval() may be called with a NULL frame. */
bool itd_expr_is_const(const struct itd_expr *e);

/* Evaluate.  Never allocates; time bounded by the code length.  Returns 0,
 * or ITD_ERANGE if an arithmetic result is not finite (division by zero,
 * overflow): *out then holds that non-finite number and the caller decides
 * (the engine keeps the old value and reports a fault). */
int itd_expr_eval(const struct itd_expr *e, const struct itd_expr_frame *f,
		  struct itd_value *out);

/* Convenience forms for a number or a bool expression (type checked at
 * compile time, so these only fail like itd_expr_eval). */
int itd_expr_eval_num(const struct itd_expr *e, const struct itd_expr_frame *f, double *out);
int itd_expr_eval_bool(const struct itd_expr *e, const struct itd_expr_frame *f, bool *out);

/* Explain a boolean expression's current result: write the comparisons and
 * boolean atoms that decided it, with their operand values, joined by
 * " and ", into buf (at most cap bytes including the NUL, truncated with
 * "..." if it does not fit).  Returns the length that was written.
 * Deciding atoms: for a true `a and b`, both; for a false one, the first
 * false; for a true `a or b`, the first true; for a false one, both; `not`
 * passes through.  An atom is printed as `name=value op literal`, e.g.
 *   state.battery=4.2 <= 5        mode=SAFE == SAFE       intent.recovery=false
 * (a name or non-literal operand as `source=value`, a literal as its value,
 * numbers with up to 15 significant digits).  Never allocates. */
size_t itd_expr_explain(const struct itd_expr *e, const struct itd_expr_frame *f, char *buf,
			size_t cap);

/* Format a value as explain() does (numbers "%.15g"-style, bools
 * true/false, strings bare).  Returns the length; truncates to cap. */
size_t itd_value_format(const struct itd_value *v, char *buf, size_t cap);

#endif
