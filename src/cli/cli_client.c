/* cli_client.c: the client subcommands (submit, intents, explain, cancel,
 * console): their options, the request each sends to a running `intentd serve`
 * (through cli_http.c), and the answer printed readably, or as JSON with --json. */
#include <ctype.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "core/core.h"

#define CELL 80               /* bytes per table cell (longer ones are cut) */
#define LIST_LIMIT_MAX 1000   /* the server's largest page (GET /api/v1/intents) */
#define CONSOLE_USAGE "pause | resume | step [N] | set FIELD VALUE | snapshot | status"

#define CLIENT_OPTS                                                                          \
	{"server", 's', "URL",                                                               \
	 "the server (default $INTENTD_URL, else " ITD_CLI_HTTP_DEFAULT_URL ")", false},     \
	{"token", 0, "TOKEN", "bearer token (default $INTENTD_TOKEN, else the admin token "  \
			      "file)", false},                                               \
	{"data", 'd', "DIR", "the server's data directory: without --server, read its store "  \
			    "offline (intents, explain); else find DIR/admin.token", false},     \
	{"cacert", 0, "FILE", "trust this CA certificate (PEM) for https", false},           \
	{"insecure", 'k', NULL, "do not verify the server's TLS certificate", false},       \
	{"json", 0, NULL, "print the server's JSON answer as it is", false}

#define OPTS_END {NULL, 0, NULL, NULL, false}

const struct itd_opt itd_submit_opts[] = {
	CLIENT_OPTS,
	{"goal", 'g', "METRIC=REF[,TOL]", "the goal, e.g. position=3.0,0.1", false},
	{"param", 'p', "NAME=VALUE", "a parameter; numbers and true/false are sent as such",
	 true},
	{"param-str", 0, "NAME=VALUE", "a parameter sent as a string", true},
	{"priority", 0, "P", "priority (a number; default 0)", false},
	{"deadline", 0, "TICKS", "deadline in ticks from receipt (default: the type's)", false},
	{"source", 0, "SOURCE", "ground (default), playbook or schedule", false},
	{"key", 0, "KEY", "idempotency key: submitting it again returns the same intent", false},
	{"quiet", 'q', NULL, "print only the intent's id", false},
	OPTS_END,
};

const struct itd_opt itd_intents_opts[] = {
	CLIENT_OPTS,
	{"status", 0, "S[,S...]", "only intents in these statuses", false},
	{"type", 0, "T[,T...]", "only intents of these types", false},
	{"limit", 'n', "N", "at most N per page (1..1000)", false},
	{"after", 0, "ID", "start after this id", false},
	{"all", 'a', NULL, "follow the pages to the end", false},
	{"quiet", 'q', NULL, "print only the ids", false},
	OPTS_END,
};

const struct itd_opt itd_explain_opts[] = {
	CLIENT_OPTS,
	{"story", 0, NULL, "the story the server's store recorded (every intent the run ever "
			   "had; needs serve --data)", false},
	{"quiet", 'q', NULL, "print only the explanation", false},
	OPTS_END,
};

const struct itd_opt itd_cancel_opts[] = {
	CLIENT_OPTS,
	{"reason", 0, "TEXT", "why (recorded with the cancel)", false},
	{"quiet", 'q', NULL, "print nothing on success", false},
	OPTS_END,
};

const struct itd_opt itd_console_opts[] = {
	CLIENT_OPTS,
	{"quiet", 'q', NULL, "print nothing on success (but the answer to status)", false},
	OPTS_END,
};

/* ----------------------------------------------------------- output */

void itd_cli_json_text(const cJSON *v, int digits, char *out, size_t cap)
{
	if (cJSON_IsString(v))
		snprintf(out, cap, "%s", v->valuestring);
	else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
		 fabs(v->valuedouble) < 1e15)
		snprintf(out, cap, "%.0f", v->valuedouble);
	else if (cJSON_IsNumber(v))
		snprintf(out, cap, "%.*g", digits, v->valuedouble);
	else if (cJSON_IsBool(v))
		snprintf(out, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
	else if (!v || cJSON_IsNull(v))
		snprintf(out, cap, "-");
	else {
		char *s = cJSON_PrintUnformatted(v);
		snprintf(out, cap, "%s", s ? s : "?");
		cJSON_free(s);
	}
}

/* A JSON value as a table cell: "-" for missing or null, integers without
 * a fraction. */
static void cell(const cJSON *v, char *out, size_t cap)
{
	itd_cli_json_text(v, 6, out, cap);
}

/* Print rows x cols cells (row 0 the header) in aligned columns. */
static void table(const char *indent, const char (*cells)[CELL], size_t rows, size_t cols)
{
	size_t w[16] = {0};
	for (size_t i = 0; i < rows; i++)
		for (size_t j = 0; j < cols && j < 16; j++)
			if (strlen(cells[i * cols + j]) > w[j])
				w[j] = strlen(cells[i * cols + j]);
	for (size_t i = 0; i < rows; i++) {
		fputs(indent, stdout);
		for (size_t j = 0; j < cols; j++) {
			if (j + 1 < cols)
				printf("%-*s  ", (int)w[j], cells[i * cols + j]);
			else
				printf("%s\n", cells[i * cols + j]);
		}
	}
}

/* An object as "key: value" lines, nested objects as "a.b: value". */
static void key_values(const cJSON *o, const char *prefix)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, o)
	{
		char key[256], val[1024];
		snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", v->string);
		if (cJSON_IsObject(v) && v->child) {
			key_values(v, key);
			continue;
		}
		cell(v, val, sizeof val);
		printf("%s: %s\n", key, val);
	}
}

/* ----------------------------------------------------------- submit */

/* "NAME=VALUE" into a params object; as_string forces a string. */
static int add_param(cJSON *params, const char *kv, bool as_string, const char *opt)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv || eq - kv > 127) {
		fprintf(stderr, "intentd submit: --%s: expected NAME=VALUE, got '%s'\n", opt, kv);
		return ITD_EXIT_USAGE;
	}
	char name[128];
	snprintf(name, sizeof name, "%.*s", (int)(eq - kv), kv);
	const char *v = eq + 1;
	if (cJSON_GetObjectItemCaseSensitive(params, name)) {
		fprintf(stderr, "intentd submit: parameter '%s' given twice\n", name);
		return ITD_EXIT_USAGE;
	}
	cJSON *item;
	char *end;
	double d = 0;
	bool numeric = false;
	if (!as_string && (isdigit((unsigned char)v[0]) || strchr("+-.", v[0])) && v[0] &&
	    !strpbrk(v, "xXnN")) {
		errno = 0;
		d = strtod(v, &end);
		numeric = !*end && !errno && isfinite(d);
	}
	if (numeric)
		item = cJSON_CreateNumber(d);
	else if (!as_string && (!strcmp(v, "true") || !strcmp(v, "false")))
		item = cJSON_CreateBool(!strcmp(v, "true"));
	else
		item = cJSON_CreateString(v);
	if (!item || !cJSON_AddItemToObject(params, name, item)) {
		cJSON_Delete(item);
		return ITD_EXIT_RUNTIME;
	}
	return 0;
}

/* "METRIC=REF[,TOL]" into a goal object. */
static cJSON *parse_goal(const char *s)
{
	const char *eq = strchr(s, '=');
	char *end, metric[128];
	if (!eq || eq == s || eq - s > 127)
		return NULL;
	snprintf(metric, sizeof metric, "%.*s", (int)(eq - s), s);
	errno = 0;
	double ref = strtod(eq + 1, &end), tol = 0;
	bool ok = end != eq + 1 && !errno && isfinite(ref);
	bool has_tol = ok && *end == ',';
	if (has_tol) {
		const char *t = end + 1;
		tol = strtod(t, &end);
		ok = end != t && !errno && isfinite(tol) && tol >= 0;
	}
	if (!ok || *end)
		return NULL;
	cJSON *g = cJSON_CreateObject();
	if (g) {
		cJSON_AddStringToObject(g, "metric", metric);
		cJSON_AddNumberToObject(g, "reference", ref);
		if (has_tol)
			cJSON_AddNumberToObject(g, "tolerance", tol);
	}
	return g;
}

static int build_submit(const struct itd_cmd_ctx *c, cJSON *b)
{
	const char *v;
	int rc;
	cJSON_AddStringToObject(b, "type", c->pos[0]);
	if ((v = itd_cli_opt(c, "goal"))) {
		cJSON *g = parse_goal(v);
		if (!g) {
			fprintf(stderr, "intentd submit: --goal: expected METRIC=REF[,TOL] with "
					"numbers (TOL >= 0), got '%s'\n", v);
			return ITD_EXIT_USAGE;
		}
		cJSON_AddItemToObject(b, "goal", g);
	}
	const struct itd_optval *p = itd_cli_optv(c, "param"), *ps = itd_cli_optv(c, "param-str");
	if (p->n || ps->n) {
		cJSON *params = cJSON_AddObjectToObject(b, "params");
		for (size_t i = 0; i < p->n; i++)
			if ((rc = add_param(params, p->all[i], false, "param")))
				return rc;
		for (size_t i = 0; i < ps->n; i++)
			if ((rc = add_param(params, ps->all[i], true, "param-str")))
				return rc;
	}
	if ((v = itd_cli_opt(c, "priority"))) {
		double prio;
		if ((rc = itd_cli_double("priority", v, -1e15, 1e15, &prio)))
			return rc;
		cJSON_AddNumberToObject(b, "priority", prio);
	}
	if ((v = itd_cli_opt(c, "deadline"))) {
		unsigned long long dl;
		if ((rc = itd_cli_u64("deadline", v, 0, 1ull << 53, &dl)))
			return rc;
		cJSON_AddNumberToObject(b, "deadline_ticks", (double)dl);
	}
	if ((v = itd_cli_opt(c, "source")))
		cJSON_AddStringToObject(b, "source", v);
	if ((v = itd_cli_opt(c, "key")))
		cJSON_AddStringToObject(b, "idempotency_key", v);
	return 0;
}

/* Usage check shared by the commands taking exactly one positional. */
static int one_arg(const struct itd_cmd_ctx *c, const char *what)
{
	if (c->n_pos == 1 && c->pos[0][0])
		return 0;
	fprintf(stderr, "intentd %s: expected one %s (see 'intentd %s --help')\n", c->cmd->name,
		what, c->cmd->name);
	return ITD_EXIT_USAGE;
}

static void show_submit(const struct itd_cmd_ctx *c, bool quiet,
			const struct itd_cli_http_reply *r)
{
	(void)c;
	const char *id = itd_cli_http_jstr(r->json, "id", "?");
	const char *st = itd_cli_http_jstr(r->json, "status", "?");
	const cJSON *tick = cJSON_GetObjectItemCaseSensitive(r->json, "received_tick");
	char t[CELL];
	cell(tick, t, sizeof t);
	if (quiet)
		printf("%s\n", id);
	else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->json, "duplicate")))
		printf("%s %s (duplicate: this key was submitted before)\n", id, st);
	else
		printf("%s %s%s%s%s\n", id, st, tick ? " (applies at tick " : "", tick ? t : "",
		       tick ? ")" : "");
}

int itd_cmd_submit(struct itd_cmd_ctx *c)
{
	int rc = one_arg(c, "intent TYPE");
	cJSON *b = rc ? NULL : cJSON_CreateObject();
	if (rc || !b)
		return rc ? rc : ITD_EXIT_RUNTIME;
	if ((rc = build_submit(c, b))) {
		cJSON_Delete(b);
		return rc;
	}
	return itd_cli_http_exchange(c, "/api/v1/intents", b, show_submit);
}

/* ---------------------------------------------------------- intents */

static void print_intents(const cJSON *list, bool quiet)
{
	static const char *const head[] = {"ID", "TYPE", "STATUS", "SOURCE", "CREATED",
					   "BLOCKED", "EXEC", "VERDICT/RULE", "ACTOR"};
	static const char *const keys[] = {"id", "type", "status", "source", "created_tick",
					   "blocked_ticks", "executions", NULL, "actor"};
	enum { COLS = 9 };
	size_t rows = (size_t)cJSON_GetArraySize(list) + 1;
	if (quiet) {
		const cJSON *it;
		cJSON_ArrayForEach(it, list)
			printf("%s\n", itd_cli_http_jstr(it, "id", "?"));
		return;
	}
	if (rows == 1) {
		printf("no intents\n");
		return;
	}
	char (*cells)[CELL] = itd_calloc(rows * COLS, CELL);
	if (!cells) {
		fprintf(stderr, "intentd intents: out of memory\n");
		return;
	}
	for (size_t j = 0; j < COLS; j++)
		snprintf(cells[j], CELL, "%s", head[j]);
	size_t i = 1;
	const cJSON *it;
	cJSON_ArrayForEach(it, list)
	{
		for (size_t j = 0; j < COLS; j++) {
			char *out = cells[i * COLS + j];
			if (keys[j]) {
				cell(cJSON_GetObjectItemCaseSensitive(it, keys[j]), out, CELL);
				continue;
			}
			const char *verdict = itd_cli_http_jstr(it, "verdict", NULL);
			const char *rule = itd_cli_http_jstr(it, "rule", NULL);
			if (verdict && !strcmp(verdict, "none"))
				verdict = NULL;
			snprintf(out, CELL, "%s%s%s", verdict ? verdict : rule ? "" : "-",
				 verdict && rule ? "/" : "", rule ? rule : "");
		}
		i++;
	}
	table("", (const char (*)[CELL])cells, rows, COLS);
	itd_free(cells);
}

/* --data DIR without --server or $INTENTD_URL: read the store itself. */
static bool offline(const struct itd_cmd_ctx *c)
{
	const char *url = getenv("INTENTD_URL");
	return itd_cli_opt(c, "data") && !itd_cli_opt(c, "server") && !(url && *url);
}

int itd_cmd_intents(struct itd_cmd_ctx *c)
{
	if (c->n_pos) {
		fprintf(stderr, "intentd intents: unexpected argument '%s'\n", c->pos[0]);
		return ITD_EXIT_USAGE;
	}
	if (offline(c))
		return itd_cli_offline_intents(c);
	const char *lim = itd_cli_opt(c, "limit");
	unsigned long long n;
	int rc;
	if (lim && (rc = itd_cli_u64("limit", lim, 1, LIST_LIMIT_MAX, &n)))
		return rc;
	bool all = itd_cli_opt(c, "all") != NULL;
	struct itd_cli_http cl;
	if ((rc = itd_cli_http_open(&cl, c))) {
		itd_cli_http_close(&cl);
		return rc;
	}
	bool json = cl.json;
	cl.json = json && !all; /* --all --json prints the pages joined */
	cJSON *list = cJSON_CreateArray();
	char *after = NULL; /* owned copy of the cursor once it came from a page */
	const char *cur = itd_cli_opt(c, "after");
	rc = list ? -1 : ITD_EXIT_RUNTIME;
	while (rc < 0) {
		char query[1024] = "", path[1200];
		itd_cli_http_add_query(query, sizeof query, "status", itd_cli_opt(c, "status"));
		itd_cli_http_add_query(query, sizeof query, "type", itd_cli_opt(c, "type"));
		itd_cli_http_add_query(query, sizeof query, "limit", lim);
		itd_cli_http_add_query(query, sizeof query, "after", cur);
		snprintf(path, sizeof path, "/api/v1/intents%s", query);
		struct itd_cli_http_reply r;
		if ((rc = itd_cli_http_call(&cl, path, NULL, &r)) >= 0)
			break;
		cJSON *items = cJSON_GetObjectItemCaseSensitive(r.json, "intents"), *it;
		while (cJSON_IsArray(items) && (it = items->child))
			cJSON_AddItemToArray(list, cJSON_DetachItemViaPointer(items, it));
		const char *next = itd_cli_http_jstr(r.json, "next_after", NULL);
		if (!all && next && !json && !cl.quiet)
			fprintf(stderr, "(more after %s: --after %s, or --all)\n", next, next);
		rc = ITD_EXIT_OK;
		/* Follow the cursor while it moves. */
		if (all && next && *next && (!cur || strcmp(next, cur))) {
			char *dup = itd_strdup(next);
			itd_free(after);
			cur = after = dup;
			rc = dup ? -1 : ITD_EXIT_RUNTIME;
		}
		itd_cli_http_reply_fini(&r);
	}
	if (rc == ITD_EXIT_OK && json && all) {
		cJSON *o = cJSON_CreateObject();
		char *s = NULL;
		if (o && cJSON_AddItemToObject(o, "intents", list)) {
			list = o;
			cJSON_AddNullToObject(o, "next_after");
			s = cJSON_PrintUnformatted(o);
		} else {
			cJSON_Delete(o);
		}
		if (s)
			printf("%s\n", s);
		else
			rc = ITD_EXIT_RUNTIME;
		cJSON_free(s);
	} else if (rc == ITD_EXIT_OK && !json) {
		print_intents(list, cl.quiet);
	}
	itd_free(after);
	cJSON_Delete(list);
	itd_cli_http_close(&cl);
	return rc;
}

/* ---------------------------------------------------------- explain */

/* A key's value as a cell (see cell()). */
static const char *cellk(const cJSON *o, const char *key, char *out)
{
	cell(cJSON_GetObjectItemCaseSensitive(o, key), out, CELL);
	return out;
}

static void print_story(const cJSON *j)
{
	const cJSON *v, *g = cJSON_GetObjectItemCaseSensitive(j, "goal");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "params");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "history");
	char a[CELL], b[CELL];
	printf("%s  %s  %s\n  source %s, priority %s, created at tick %s, by %s\n",
	       itd_cli_http_jstr(j, "id", "?"), itd_cli_http_jstr(j, "type", "?"),
	       itd_cli_http_jstr(j, "status", "?"), itd_cli_http_jstr(j, "source", "-"),
	       cellk(j, "priority", a), cellk(j, "created_tick", b),
	       itd_cli_http_jstr(j, "actor", "-"));
	if (cJSON_IsObject(g))
		printf("  goal: %s to %s (tolerance %s)\n", itd_cli_http_jstr(g, "metric", "?"),
		       cellk(g, "reference", a), cellk(g, "tolerance", b));
	if (cJSON_IsObject(p) && p->child) {
		printf("  params:");
		cJSON_ArrayForEach(v, p)
			printf(" %s=%s", v->string, (cell(v, a, sizeof a), a));
		printf("\n");
	}
	if (itd_cli_http_jstr(j, "explanation", NULL))
		printf("\n%s\n", itd_cli_http_jstr(j, "explanation", NULL));

	size_t rows = (size_t)cJSON_GetArraySize(h) + 1, i = 1;
	char (*cells)[CELL] = rows > 1 ? itd_calloc(rows * 3, CELL) : NULL;
	if (cells) {
		snprintf(cells[0], CELL, "TICK");
		snprintf(cells[1], CELL, "FROM -> TO");
		snprintf(cells[2], CELL, "REASON");
		cJSON_ArrayForEach(v, h)
		{
			cellk(v, "tick", cells[i * 3]);
			snprintf(cells[i * 3 + 1], CELL, "%s -> %s",
				 itd_cli_http_jstr(v, "from", "?"), itd_cli_http_jstr(v, "to", "?"));
			cellk(v, "reason", cells[i * 3 + 2]);
			i++;
		}
		printf("\nhistory:\n");
		table("  ", (const char (*)[CELL])cells, rows, 3);
		itd_free(cells);
		const cJSON *tot = cJSON_GetObjectItemCaseSensitive(j, "history_total");
		if (cJSON_IsNumber(tot) && tot->valuedouble > (double)(rows - 1))
			printf("  (%.0f earlier transitions are not kept)\n",
			       tot->valuedouble - (double)(rows - 1));
	}

	/* The server calls it last_verdict; "verdict" is accepted too. */
	const cJSON *lv = cJSON_GetObjectItemCaseSensitive(j, "last_verdict");
	if (!cJSON_IsObject(lv))
		lv = cJSON_GetObjectItemCaseSensitive(j, "verdict");
	const char *verdict =
		cJSON_IsObject(lv) ? itd_cli_http_jstr(lv, "verdict", "none") : "none";
	if (strcmp(verdict, "none"))
		printf("\nlast verdict: %s%s%s at tick %s%s%s\n", verdict,
		       itd_cli_http_jstr(lv, "rule", NULL) ? " by rule " : "",
		       itd_cli_http_jstr(lv, "rule", ""),
		       cellk(lv, "tick", a), itd_cli_http_jstr(lv, "explain", NULL) ? ": " : "",
		       itd_cli_http_jstr(lv, "explain", ""));
	else
		printf("\nlast verdict: none yet\n");
}

static void show_story(const struct itd_cmd_ctx *c, bool quiet,
		       const struct itd_cli_http_reply *r)
{
	(void)c;
	const char *expl = itd_cli_http_jstr(r->json, "explanation", NULL);
	if (quiet)
		printf("%s\n", expl ? expl : "");
	else
		print_story(r->json);
}

static void show_stored_story(const struct itd_cmd_ctx *c, bool quiet,
			      const struct itd_cli_http_reply *r)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(r->json, "story");
	if (cJSON_IsArray(st))
		itd_cli_show_story(itd_cli_http_jstr(r->json, "id", c->pos[0]), st, false, quiet);
	else if (r->body)
		printf("%s\n", r->body);
}

int itd_cmd_explain(struct itd_cmd_ctx *c)
{
	int rc = one_arg(c, "intent ID");
	if (rc)
		return rc;
	if (offline(c))
		return itd_cli_offline_explain(c);
	if (itd_cli_opt(c, "story")) {
		char path[512] = "/api/v1/intents/";
		itd_cli_http_escape(path, sizeof path, c->pos[0]);
		snprintf(path + strlen(path), sizeof path - strlen(path), "/story");
		return itd_cli_http_exchange(c, path, NULL, show_stored_story);
	}
	char path[512] = "/api/v1/intents/";
	itd_cli_http_escape(path, sizeof path, c->pos[0]);
	return itd_cli_http_exchange(c, path, NULL, show_story);
}

/* ----------------------------------------------------------- cancel */

static void show_cancel(const struct itd_cmd_ctx *c, bool quiet,
			const struct itd_cli_http_reply *r)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(r->json, "apply_tick");
	char tick[CELL];
	cell(t, tick, sizeof tick);
	if (!quiet)
		printf("%s %s%s%s%s\n", itd_cli_http_jstr(r->json, "id", c->pos[0]),
		       itd_cli_http_jstr(r->json, "status", "cancel requested"),
		       t ? " (applies at tick " : "", t ? tick : "", t ? ")" : "");
}

int itd_cmd_cancel(struct itd_cmd_ctx *c)
{
	int rc = one_arg(c, "intent ID");
	cJSON *b = rc ? NULL : cJSON_CreateObject();
	if (rc || !b)
		return rc ? rc : ITD_EXIT_RUNTIME;
	const char *reason = itd_cli_opt(c, "reason");
	if (reason)
		cJSON_AddStringToObject(b, "reason", reason);
	char path[512] = "/api/v1/intents/";
	itd_cli_http_escape(path, sizeof path, c->pos[0]);
	snprintf(path + strlen(path), sizeof path - strlen(path), "/cancel");
	return itd_cli_http_exchange(c, path, b, show_cancel);
}

/* ---------------------------------------------------------- console */

/* The console request for CMD [ARGS] into b; returns 0 or an exit
 * status.  Unknown commands go to the server as they are, so it can say
 * what it knows. */
static int build_console(const struct itd_cmd_ctx *c, cJSON *b)
{
	const char *cmd = c->pos[0];
	size_t want_lo = 0, want_hi = 0;
	if (!strcmp(cmd, "step"))
		want_hi = 1;
	else if (!strcmp(cmd, "set"))
		want_lo = want_hi = 2;
	else if (strcmp(cmd, "pause") && strcmp(cmd, "resume") && strcmp(cmd, "snapshot") &&
		 strcmp(cmd, "status"))
		want_hi = c->n_pos - 1;
	if (c->n_pos - 1 < want_lo || c->n_pos - 1 > want_hi) {
		fprintf(stderr, "intentd console: usage: console " CONSOLE_USAGE "\n");
		return ITD_EXIT_USAGE;
	}
	cJSON_AddStringToObject(b, "command", cmd);
	if (!strcmp(cmd, "step") && c->n_pos == 2) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(c->pos[1], &end, 10);
		if (!isdigit((unsigned char)c->pos[1][0]) || *end || errno || n < 1 || n > 100000) {
			fprintf(stderr, "intentd console: step N: expected a whole number in "
					"[1, 100000], got '%s'\n", c->pos[1]);
			return ITD_EXIT_USAGE;
		}
		cJSON_AddNumberToObject(b, "n", (double)n);
	} else if (!strcmp(cmd, "set")) {
		char kv[1024];
		snprintf(kv, sizeof kv, "value=%s", c->pos[2]);
		cJSON_AddStringToObject(b, "field", c->pos[1]);
		return add_param(b, kv, false, "set");
	}
	return 0;
}

static void show_console(const struct itd_cmd_ctx *c, bool quiet,
			 const struct itd_cli_http_reply *r)
{
	if (quiet && strcmp(c->pos[0], "status"))
		return;
	if (cJSON_IsObject(r->json))
		key_values(r->json, "");
	else if (r->body)
		printf("%s\n", r->body);
}

int itd_cmd_console(struct itd_cmd_ctx *c)
{
	if (!c->n_pos) {
		fprintf(stderr, "intentd console: expected a command: " CONSOLE_USAGE "\n");
		return ITD_EXIT_USAGE;
	}
	cJSON *b = cJSON_CreateObject();
	if (!b)
		return ITD_EXIT_RUNTIME;
	int rc = build_console(c, b);
	if (rc) {
		cJSON_Delete(b);
		return rc;
	}
	return itd_cli_http_exchange(c, "/api/v1/console", b, show_console);
}
