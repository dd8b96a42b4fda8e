/* cli_int.h: what the subcommand files share: the option tables and their
 * parser, and the subcommands themselves. */
#ifndef ITD_CLI_INT_H
#define ITD_CLI_INT_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
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

/* The run's seed (--seed, else the scenario's) and run id (--run-id, else
 * SCENARIO-sSEED), shared by every command that runs a scenario.  Returns
 * 0 or ITD_EXIT_USAGE (message printed). */
int itd_cli_run_identity(const struct itd_cmd_ctx *c, const struct itd_scenario *s,
			 unsigned long long *seed_out, char *run_id, size_t cap);

/* What defines the run's scenario for a data directory: the scenario's
 * source text (built-in or file) and the --set overrides.  malloc'd (the
 * caller frees); NULL if it cannot be read. */
char *itd_cli_scenario_identity(const struct itd_cmd_ctx *c, size_t *len_out);

/* Subcommands. */
int itd_cmd_sim(struct itd_cmd_ctx *c);
int itd_cmd_validate(struct itd_cmd_ctx *c);
int itd_cmd_scenarios(struct itd_cmd_ctx *c);
int itd_cmd_version(struct itd_cmd_ctx *c);
int itd_cmd_telemetry(struct itd_cmd_ctx *c);
int itd_cmd_serve(struct itd_cmd_ctx *c);
int itd_cmd_replay(struct itd_cmd_ctx *c);
int itd_cmd_audit(struct itd_cmd_ctx *c);
int itd_cmd_upgrade(struct itd_cmd_ctx *c);
/* Open the store in dir read-only for an offline command; on failure print
 * "intentd CMD: why" and return the exit status (0 on success). */
struct itd_store;
int itd_cli_open_store(const char *cmd, const char *dir, struct itd_store **st);
/* intents / explain read from a store (cli_offline.c): --data DIR, no server. */
int itd_cli_offline_intents(struct itd_cmd_ctx *c);
int itd_cli_offline_explain(struct itd_cmd_ctx *c);
/* Print an intent's story (its audit entries as the store or the server's
 * /story route give them): readable, --json or --quiet; an exit status. */
int itd_cli_show_story(const char *id, const cJSON *entries, bool json, bool quiet);
/* A JSON value as short text for tables: strings as they are, whole
 * numbers without a fraction, others with `digits` significant digits,
 * null or absent as "-", containers as compact JSON (cli_client.c). */
void itd_cli_json_text(const cJSON *v, int digits, char *out, size_t cap);

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

/* cli_http.c */
/* The client subcommands' HTTP plumbing over libcurl: one handle per
 * command, its requests, and the server's answers, errors and exit
 * statuses.  The functions that can fail print their own message (stderr)
 * and return an exit status; callers only pass it on. */

/* The server when neither --server nor $INTENTD_URL names one. */
#define ITD_CLI_HTTP_DEFAULT_URL "http://127.0.0.1:5050"

/* The connection of one client command (caller-allocated; see
 * itd_cli_http_open). */
struct itd_cli_http {
	const char *cmd;              /* subcommand, for messages */
	char url[512];                /* base URL without a trailing '/' */
	bool json, quiet;             /* --json, --quiet */
	CURL *h;                      /* the one handle of this command */
	struct curl_slist *hdrs;      /* request headers (holds the token) */
	char errbuf[CURL_ERROR_SIZE]; /* libcurl's message for a failed transfer */
};

/* One answer of the server. */
struct itd_cli_http_reply {
	long status;   /* HTTP status */
	char *body;    /* the body, NUL-terminated (itd_malloc) */
	size_t len;    /* its length */
	size_t cap;    /* allocated */
	cJSON *json;   /* the body parsed, NULL if not JSON */
};

/* Set up cl for command c from its common options (--server or
 * $INTENTD_URL, the token from --token, $INTENTD_TOKEN or an admin token
 * file, --cacert, --insecure, --json, --quiet).  Returns 0, or
 * ITD_EXIT_USAGE / ITD_EXIT_RUNTIME with the message printed; either way
 * the caller calls itd_cli_http_close(cl). */
int itd_cli_http_open(struct itd_cli_http *cl, const struct itd_cmd_ctx *c);
/* Release cl (wiping the token from memory); cl is zeroed, so closing
 * again is harmless. */
void itd_cli_http_close(struct itd_cli_http *cl);
/* Send body (borrowed; NULL for a GET, else POSTed as JSON) to cl's URL
 * plus path.  Prints the body with --json and the server's error on an
 * HTTP error.  Returns -1 with *r filled (release it with
 * itd_cli_http_reply_fini) for a success the caller prints, else the exit
 * status with nothing left in *r to release. */
int itd_cli_http_call(struct itd_cli_http *cl, const char *path, cJSON *body,
		      struct itd_cli_http_reply *r);
/* Free r's body and JSON and zero it. */
void itd_cli_http_reply_fini(struct itd_cli_http_reply *r);
/* The shape of the one-request commands: open from c, send body (taken:
 * always deleted) to path, show a success with show() (quiet is --quiet;
 * not called with --json), close.  Returns the exit status. */
int itd_cli_http_exchange(const struct itd_cmd_ctx *c, const char *path, cJSON *body,
			  void (*show)(const struct itd_cmd_ctx *c, bool quiet,
				       const struct itd_cli_http_reply *r));
/* o[key] if it is a string (borrowed from o), else dflt; o may be NULL. */
const char *itd_cli_http_jstr(const cJSON *o, const char *key, const char *dflt);
/* Append s percent-encoded (all but RFC 3986's unreserved bytes) to the
 * string in out, of cap bytes; stops short rather than overflow. */
void itd_cli_http_escape(char *out, size_t cap, const char *s);
/* Append "?name=value" or "&name=value" (value escaped) to the query q, of
 * cap bytes, when v is set. */
void itd_cli_http_add_query(char *q, size_t cap, const char *name, const char *v);

#endif
