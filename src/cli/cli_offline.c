/* cli_offline.c: `intentd intents --data DIR` and `intentd explain ID --data
 * DIR` without a server: read from the store (its intent index and audit
 * chain), read-only, so they also work beside a running server and after
 * it has stopped.  Terminal intents are never deleted from the store, so
 * an intent's story is there long after the live table recycled it. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "server/server.h"
#include "store/store.h"

int itd_cli_open_store(const char *cmd, const char *dir, struct itd_store **st)
{
	char *identity = NULL;
	size_t len;
	uint64_t seed;
	double rate;
	char err[1024];
	int rc = itd_store_open_existing(dir, st, &identity, &len, &seed, &rate, err, sizeof err);
	itd_free(identity);
	if (rc) {
		fprintf(stderr, "intentd %s: %s\n", cmd, err);
		return rc == ITD_ENOMEM || rc == ITD_EIO ? ITD_EXIT_RUNTIME : ITD_EXIT_USAGE;
	}
	return 0;
}

/* ---------------------------------------------------------- intents */

struct list_ctx {
	bool quiet, json;
	uint64_t rows;
	cJSON *arr;              /* --json */
};

static int print_row(void *ctx, const struct itd_store_intent_row *r)
{
	struct list_ctx *l = ctx;
	if (l->json) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(l->arr, o))
			return ITD_ENOMEM;
		cJSON_AddStringToObject(o, "id", r->id);
		cJSON_AddStringToObject(o, "type", r->type);
		cJSON_AddStringToObject(o, "status", r->status);
		cJSON_AddNumberToObject(o, "created_tick", (double)r->created_tick);
		cJSON_AddNumberToObject(o, "updated_tick", (double)r->updated_tick);
		if (r->actor[0])
			cJSON_AddStringToObject(o, "actor", r->actor);
	} else if (l->quiet) {
		printf("%s\n", r->id);
	} else {
		if (!l->rows)
			printf("%-10s %-22s %-10s %9s %9s  %s\n", "ID", "TYPE", "STATUS", "CREATED",
			       "UPDATED", "ACTOR");
		printf("%-10s %-22s %-10s %9" PRIu64 " %9" PRIu64 "  %s\n", r->id, r->type,
		       r->status, r->created_tick, r->updated_tick, r->actor[0] ? r->actor : "-");
	}
	l->rows++;
	return 0;
}

int itd_cli_offline_intents(struct itd_cmd_ctx *c)
{
	const char *dir = itd_cli_opt(c, "data");
	unsigned long long limit = 0;
	const char *v = itd_cli_opt(c, "limit");
	int rc;
	if (v && (rc = itd_cli_u64("limit", v, 1, UINT64_MAX / 2, &limit)))
		return rc;
	uint64_t after = 0;
	if ((v = itd_cli_opt(c, "after"))) {
		char *end;
		unsigned long long n = strtoull(v + (v[0] == 'i' && v[1] == '-' ? 2 : 0), &end, 10);
		if (*end || end == v) {
			fprintf(stderr, "intentd intents: --after: expected an intent id like "
					"i-000042, got '%s'\n", v);
			return ITD_EXIT_USAGE;
		}
		after = n;
	}
	struct itd_store *st = NULL;
	if ((rc = itd_cli_open_store("intents", dir, &st)))
		return rc;
	struct list_ctx l = {.quiet = itd_cli_opt(c, "quiet") != NULL,
			     .json = itd_cli_opt(c, "json") != NULL};
	if (l.json && !(l.arr = cJSON_CreateArray())) {
		itd_store_close(st);
		return ITD_EXIT_RUNTIME;
	}
	rc = itd_store_query_intents(st, itd_cli_opt(c, "status"), itd_cli_opt(c, "type"), after,
				     limit, print_row, &l);
	itd_store_close(st);
	if (rc == ITD_EINVAL) {
		fprintf(stderr, "intentd intents: --status/--type: expected names separated by "
				"commas\n");
		cJSON_Delete(l.arr);
		return ITD_EXIT_USAGE;
	}
	if (rc) {
		fprintf(stderr, "intentd intents: %s: cannot read the store: %s\n", dir,
			itd_err_msg(rc));
		cJSON_Delete(l.arr);
		return ITD_EXIT_RUNTIME;
	}
	if (l.json) {
		cJSON *o = cJSON_CreateObject();
		char *s = NULL;
		if (o && cJSON_AddItemToObject(o, "intents", l.arr))
			s = cJSON_PrintUnformatted(o);
		else
			cJSON_Delete(l.arr);
		if (s)
			printf("%s\n", s);
		cJSON_free(s);
		cJSON_Delete(o);
		return s ? ITD_EXIT_OK : ITD_EXIT_RUNTIME;
	}
	if (!l.rows && !l.quiet)
		printf("no intents\n");
	return ITD_EXIT_OK;
}

/* ---------------------------------------------------------- explain */

struct story {
	bool json, quiet;
	cJSON *entries;          /* every entry, payload parsed */
};

static const char *jstr(const cJSON *o, const char *k, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* A JSON value as short text ("12.5", "true", "name"), precisely. */
static void text(const cJSON *v, char *out, size_t cap)
{
	itd_cli_json_text(v, 10, out, cap);
}

static const char *tk(const cJSON *o, const char *k, char *out, size_t cap)
{
	text(cJSON_GetObjectItemCaseSensitive(o, k), out, cap);
	return out;
}

/* One line saying what an entry decided. */
static void detail(const char *ev, const cJSON *p, char *out, size_t cap)
{
	char a[128], b[128], c[128];
	if (!strcmp(ev, "intent.received"))
		snprintf(out, cap, "received from %s, priority %s", jstr(p, "source", "?"),
			 tk(p, "priority", a, sizeof a));
	else if (!strcmp(ev, "intent.queued") || !strcmp(ev, "intent.authorized"))
		snprintf(out, cap, "%s%s%s", tk(p, "reason", a, sizeof a),
			 cJSON_GetObjectItemCaseSensitive(p, "score") ? ", score " : "",
			 cJSON_GetObjectItemCaseSensitive(p, "score") ? tk(p, "score", b, sizeof b)
								      : "");
	else if (!strcmp(ev, "intent.rejected"))
		snprintf(out, cap, "%s: %s", tk(p, "reason", a, sizeof a),
			 tk(p, "message", b, sizeof b));
	else if (!strcmp(ev, "intent.blocked"))
		snprintf(out, cap, "blocked by rule %s: %s (%s)", tk(p, "rule", a, sizeof a),
			 tk(p, "message", b, sizeof b), tk(p, "explain", c, sizeof c));
	else if (!strcmp(ev, "policy.evaluated"))
		snprintf(out, cap, "selected by policy, score %s", tk(p, "score", a, sizeof a));
	else if (!strcmp(ev, "safety.override"))
		snprintf(out, cap, "critical override for domain %s", tk(p, "domain", a, sizeof a));
	else if (!strcmp(ev, "safety.lock"))
		snprintf(out, cap, "recovery lock holds it, %s ticks left",
			 tk(p, "ticks_left", a, sizeof a));
	else if (!strcmp(ev, "intent.executed")) {
		size_t n = (size_t)snprintf(out, cap, "execution %s:", tk(p, "executions", a, sizeof a));
		const cJSON *ch, *chs = cJSON_GetObjectItemCaseSensitive(p, "changes");
		cJSON_ArrayForEach(ch, chs)
		{
			if (n >= cap)
				break;
			n += (size_t)snprintf(out + n, cap - n, " %s %s -> %s", jstr(ch, "field", "?"),
					      tk(ch, "before", a, sizeof a),
					      tk(ch, "after", b, sizeof b));
		}
		if (!cJSON_GetArraySize(chs) && n < cap)
			snprintf(out + n, cap - n, " no state change");
	} else if (!strcmp(ev, "execution.latency"))
		snprintf(out, cap, "first execution %s ticks (%s ms) after receipt",
			 tk(p, "ticks", a, sizeof a), tk(p, "ms", b, sizeof b));
	else if (!strcmp(ev, "intent.completed"))
		snprintf(out, cap, "completed after %s executions, %s ticks blocked, %s ticks active",
			 tk(p, "executions", a, sizeof a), tk(p, "blocked_ticks", b, sizeof b),
			 tk(p, "active_ticks", c, sizeof c));
	else if (!strcmp(ev, "intent.failed"))
		snprintf(out, cap, "failed (%s: %s) after %s attempts", tk(p, "reason", a, sizeof a),
			 tk(p, "condition", b, sizeof b), tk(p, "attempts", c, sizeof c));
	else if (!strcmp(ev, "intent.retry_scheduled"))
		snprintf(out, cap, "attempt %s failed; retry at tick %s", tk(p, "attempt", a, sizeof a),
			 tk(p, "retry_tick", b, sizeof b));
	else if (!strcmp(ev, "intent.expired"))
		snprintf(out, cap, "expired: deadline tick %s passed",
			 tk(p, "deadline_tick", a, sizeof a));
	else if (!strcmp(ev, "intent.cancelled"))
		snprintf(out, cap, "cancelled (%s)", tk(p, "reason", a, sizeof a));
	else
		text(p, out, cap);
}

static void print_story(const char *id, const cJSON *entries)
{
	const cJSON *first = cJSON_GetArrayItem(entries, 0), *last = NULL, *e;
	const cJSON *p0 = cJSON_GetObjectItemCaseSensitive(first, "payload");
	char a[256], b[256];
	cJSON_ArrayForEach(e, entries)
		last = e;
	const cJSON *pl = cJSON_GetObjectItemCaseSensitive(last, "payload");
	printf("%s  %s  %s\n", id, jstr(p0, "type", "?"), jstr(pl, "status", "?"));
	if (!strcmp(jstr(first, "event", ""), "intent.received")) {
		printf("  source %s, priority %s, created at tick %s, by %s\n",
		       jstr(p0, "source", "?"), tk(p0, "priority", a, sizeof a),
		       tk(p0, "created_tick", b, sizeof b), jstr(p0, "actor", "-"));
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(p0, "goal");
		if (cJSON_IsObject(g))
			printf("  goal: %s to %s (tolerance %s)\n", jstr(g, "metric", "?"),
			       tk(g, "reference", a, sizeof a), tk(g, "tolerance", b, sizeof b));
		const cJSON *v, *params = cJSON_GetObjectItemCaseSensitive(p0, "params");
		if (cJSON_IsObject(params) && params->child) {
			printf("  params:");
			cJSON_ArrayForEach(v, params)
				printf(" %s=%s", v->string, (text(v, a, sizeof a), a));
			printf("\n");
		}
	}
	printf("\nstory (from the audit chain):\n  %-8s %-24s %s\n", "TICK", "EVENT", "WHAT");
	cJSON_ArrayForEach(e, entries)
	{
		char d[1024];
		detail(jstr(e, "event", "?"), cJSON_GetObjectItemCaseSensitive(e, "payload"), d,
		       sizeof d);
		const char *actor = jstr(e, "actor", NULL);
		printf("  %-8s %-24s %s%s%s\n", tk(e, "tick", a, sizeof a), jstr(e, "event", "?"), d,
		       actor ? " by " : "", actor ? actor : "");
	}
	const cJSON *t0 = cJSON_GetObjectItemCaseSensitive(first, "tick");
	const cJSON *t1 = cJSON_GetObjectItemCaseSensitive(last, "tick");
	const cJSON *m0 = cJSON_GetObjectItemCaseSensitive(first, "time_ms");
	const cJSON *m1 = cJSON_GetObjectItemCaseSensitive(last, "time_ms");
	const char *status = jstr(pl, "status", "?");
	bool terminal = !strcmp(status, "completed") || !strcmp(status, "failed") ||
			!strcmp(status, "cancelled") || !strcmp(status, "expired") ||
			!strcmp(status, "denied");
	if (cJSON_IsNumber(t0) && cJSON_IsNumber(t1) && cJSON_IsNumber(m0) && cJSON_IsNumber(m1))
		printf("\n%s %.0f ticks (%.0f ms) after receipt\n",
		       terminal ? "ended" : "last recorded decision",
		       t1->valuedouble - t0->valuedouble, m1->valuedouble - m0->valuedouble);
}

int itd_cli_offline_explain(struct itd_cmd_ctx *c)
{
	const char *dir = itd_cli_opt(c, "data");
	const char *id = c->pos[0];
	struct itd_store *st = NULL;
	int rc = itd_cli_open_store("explain", dir, &st);
	if (rc)
		return rc;
	struct story s = {.json = itd_cli_opt(c, "json") != NULL,
			  .quiet = itd_cli_opt(c, "quiet") != NULL, .entries = cJSON_CreateArray()};
	rc = s.entries ? itd_store_query_story(st, id, itd_server_story_add, s.entries) : ITD_ENOMEM;
	itd_store_close(st);
	if (rc == ITD_ENOTFOUND) {
		fprintf(stderr, "intentd explain: %s: no intent %s in this store\n", dir, id);
		cJSON_Delete(s.entries);
		return ITD_EXIT_USAGE;
	}
	if (rc) {
		fprintf(stderr, "intentd explain: %s: cannot read the store: %s\n", dir,
			itd_err_msg(rc));
		cJSON_Delete(s.entries);
		return ITD_EXIT_RUNTIME;
	}
	rc = itd_cli_show_story(id, s.entries, s.json, s.quiet);
	cJSON_Delete(s.entries);
	return rc;
}

int itd_cli_show_story(const char *id, const cJSON *entries, bool json, bool quiet)
{
	if (json) {
		cJSON *o = cJSON_CreateObject();
		char *txt = NULL;
		if (o && cJSON_AddStringToObject(o, "id", id) &&
		    cJSON_AddItemReferenceToObject(o, "story", (cJSON *)entries))
			txt = cJSON_PrintUnformatted(o);
		if (txt)
			printf("%s\n", txt);
		cJSON_free(txt);
		cJSON_Delete(o);
		return txt ? ITD_EXIT_OK : ITD_EXIT_RUNTIME;
	}
	if (!cJSON_GetArraySize(entries)) {
		printf("%s: no recorded story\n", id);
		return ITD_EXIT_OK;
	}
	if (quiet) {
		const cJSON *e, *last = NULL;
		cJSON_ArrayForEach(e, entries)
			last = e;
		char d[1024];
		detail(jstr(last, "event", "?"), cJSON_GetObjectItemCaseSensitive(last, "payload"),
		       d, sizeof d);
		printf("%s\n", d);
	} else {
		print_story(id, entries);
	}
	return ITD_EXIT_OK;
}


/* ---------------------------------------------------------- upgrade */

int itd_cmd_upgrade(struct itd_cmd_ctx *c)
{
	const char *dir = itd_cli_opt(c, "data");
	if (c->n_pos || !dir) {
		fprintf(stderr, c->n_pos ? "intentd upgrade: unexpected argument '%s'\n"
					 : "intentd upgrade: --data DIR is required\n",
			c->n_pos ? c->pos[0] : "");
		return ITD_EXIT_USAGE;
	}
	int from = 0, to = 0;
	char err[1024];
	int rc = itd_store_upgrade(dir, &from, &to, err, sizeof err);
	if (rc) {
		fprintf(stderr, "intentd upgrade: %s\n", err);
		return rc == ITD_ENOMEM || rc == ITD_EIO ? ITD_EXIT_RUNTIME : ITD_EXIT_USAGE;
	}
	if (!itd_cli_opt(c, "quiet")) {
		if (from == to)
			printf("%s: store format %d, already this build's: nothing to do\n", dir, to);
		else
			printf("%s: store upgraded from format %d to format %d\n", dir, from, to);
	}
	return 0;
}
