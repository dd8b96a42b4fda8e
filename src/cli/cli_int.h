/* cli_int.h: what the subcommand files share: the option tables and their
 * parser, and the subcommands themselves. */
#ifndef ITD_CLI_INT_H
#define ITD_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli.h"
#include "scenario/scenario.h"

struct itd_cmd_ctx;

/* One option of a subcommand.  --help is generated from these tables. */
struct itd_opt {
	const char *name;   /* long name without "--", e.g. "cycles" */
	char short_name;    /* e.g. 'q', or 0 */
	const char *arg;    /* placeholder for its value ("N"), or NULL for a flag */
	const char *help;   /* one line */
	bool repeat;        /* may be given more than once */
};

/* A parsed option value (values point into argv). */
struct itd_optval {
	const char *value;  /* last value, or "" for a flag; NULL if absent */
	const char **all;   /* every value of a repeatable option */
	size_t n;           /* number of times given */
};

struct itd_cmd {
	const char *name;       /* subcommand, e.g. "sim" */
	const char *args;       /* positional usage, e.g. "FILE..." */
	const char *summary;    /* one line */
	const struct itd_opt *opts; /* options, NULL-name terminated */
	int (*run)(struct itd_cmd_ctx *c);
};

/* The parse of one invocation. */
struct itd_cmd_ctx {
	const struct itd_cmd *cmd;  /* the subcommand */
	struct itd_optval *vals;    /* one per option in cmd->opts */
	const char **pos;           /* positional arguments */
	size_t n_pos;
};

/* Parse argv (after the subcommand name) against cmd's options.  Prints a
 * precise error and returns ITD_EXIT_USAGE on bad usage, 0 otherwise (also
 * handles --help: prints and returns -1). */
int itd_cli_parse(const struct itd_cmd *cmd, int argc, char **argv, struct itd_cmd_ctx *c);
void itd_cli_ctx_fini(struct itd_cmd_ctx *c);
/* The value of option `name` (NULL if absent) and how often it was given. */
const char *itd_cli_opt(const struct itd_cmd_ctx *c, const char *name);
const struct itd_optval *itd_cli_optv(const struct itd_cmd_ctx *c, const char *name);
/* Print a subcommand's usage and option table. */
void itd_cli_usage(const struct itd_cmd *cmd, FILE *f);
/* Parse an unsigned / a double option value; prints an error naming the
 * option and returns ITD_EXIT_USAGE if malformed or out of [lo, hi]. */
int itd_cli_u64(const char *opt, const char *s, unsigned long long lo, unsigned long long hi,
		unsigned long long *out);
int itd_cli_double(const char *opt, const char *s, double lo, double hi, double *out);

/* Load the scenario named by --scenario / --config (default: the built-in
 * spacecraft) with --set overrides; prints diagnostics.  Returns 0 or
 * ITD_EXIT_USAGE. */
int itd_cli_load_scenario(const struct itd_cmd_ctx *c, struct itd_scenario **out);
/* The same for an explicit built-in name or file (one of them non-NULL, or
 * both NULL for the default), still with the command's --set overrides. */
int itd_cli_load(const struct itd_cmd_ctx *c, const char *name, const char *file,
		 struct itd_scenario **out);

/* Subcommands. */
int itd_cmd_sim(struct itd_cmd_ctx *c);
int itd_cmd_validate(struct itd_cmd_ctx *c);
int itd_cmd_scenarios(struct itd_cmd_ctx *c);
int itd_cmd_version(struct itd_cmd_ctx *c);
int itd_cmd_telemetry(struct itd_cmd_ctx *c);
int itd_cmd_serve(struct itd_cmd_ctx *c);

/* cli_client.c */
/* The client subcommands, which talk to a running `intentd serve` over
 * HTTP (libcurl), and their option tables. */
extern const struct itd_opt itd_submit_opts[];
extern const struct itd_opt itd_intents_opts[];
extern const struct itd_opt itd_explain_opts[];
extern const struct itd_opt itd_cancel_opts[];
extern const struct itd_opt itd_console_opts[];
int itd_cmd_submit(struct itd_cmd_ctx *c);
int itd_cmd_intents(struct itd_cmd_ctx *c);
int itd_cmd_explain(struct itd_cmd_ctx *c);
int itd_cmd_cancel(struct itd_cmd_ctx *c);
int itd_cmd_console(struct itd_cmd_ctx *c);

#endif
