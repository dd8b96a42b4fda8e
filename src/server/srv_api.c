/* srv_api.c: the intents API (SPEC §9): submit (validated by srv_json.c,
 * queued through the engine's thread-safe intake), list with filters and
 * paging, one record with its history and story, cancel. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_int.h"

#define LIST_LIMIT_DEFAULT 100
#define LIST_LIMIT_MAX 1000

/* itd_engine_console keeps at most this many bytes of its arguments
 * (engine.h); a cancel's reason travels in such a note. */
#define NOTE_MAX 63
/* The note of a cancel with a reason: "cancel ID: REASON". */
#define NOTE_FMT "cancel %s: %s"
#define NOTE_FIXED (sizeof "cancel " - 1 + sizeof ": " - 1)

/* Where an intent is. */
enum where {
	W_MEMORY,   /* its record is in memory */
	W_PENDING,  /* accepted, created at the next tick's intake */
	W_GONE,     /* ended and its record was reused (or never created) */
	W_NEVER,    /* no such id was ever given out */
};

/* Find the intent an id names ("i-42" and "i-000042" alike); its canonical
 * id goes to canon.  Caller holds state_lock for reading. */
static enum where find(struct itd_intents *t, const char *id, char canon[ITD_ID_LEN],
		       const struct itd_intent **in_out)
{
	uint64_t seq;
	*in_out = NULL;
	snprintf(canon, ITD_ID_LEN, "%.*s", ITD_ID_LEN - 1, id);
	if (!srv_parse_id(id, &seq))
		return W_NEVER;
	snprintf(canon, ITD_ID_LEN, "i-%06" PRIu64, seq);
	if ((*in_out = itd_intents_at(t, seq)))
		return W_MEMORY;
	if (seq <= t->last_seq)
		return W_GONE;
	pthread_mutex_lock(&t->lock);
	uint64_t handed = t->next_seq;
	pthread_mutex_unlock(&t->lock);
	return seq <= handed ? W_PENDING : W_NEVER;
}

static int not_found(struct srv_resp *out, const char *id, enum where w)
{
	static const char *const why[] = {
		[W_MEMORY] = "is in memory",
		[W_PENDING] = "was accepted and is created at the next tick's intake",
		[W_GONE] = ("is no longer in memory (it ended and its record was reused; "
			    "telemetry has its history) or was never created"),
		[W_NEVER] = "never existed",
	};
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "id", id);
	cJSON_AddStringToObject(d, "reason", w == W_PENDING ? "pending"
					     : w == W_GONE ? "evicted" : "unknown");
	return srv_error(out, 404, "not_found", d, "intent '%s' %s", id, why[w]);
}

/* ------------------------------------------------------------- submit */

int srv_h_submit(struct srv_req *r, struct srv_resp *out)
{
	struct itd_engine *e = r->srv->engine;
	struct srv_submit sb;
	struct srv_bad bad = {0};
	int rc = srv_submit_parse(itd_engine_scenario(e), r->body, r->body_len, &sb, &bad);
	if (rc) {
		srv_submit_fini(&sb);
		if (rc == ITD_ENOMEM) {
			srv_bad_fini(&bad);
			return srv_error(out, 500, "out_of_memory", NULL, "out of memory");
		}
		return srv_bad_reply(out, &bad);
	}
	struct itd_receipt rcpt;
	char msg[256] = "";
	uint64_t dup_ticket;
	rc = srv_submit_engine(r, &sb, &rcpt, msg, sizeof msg, &dup_ticket);
	srv_submit_fini(&sb);

	/* With a store the answer is sent only once the input is durable
	 * (group commit: concurrent submissions share the fsync); srv_http.c
	 * parks it until then, or answers 503 store_unavailable. */
	snprintf(out->durable_id, sizeof out->durable_id, "%s", rcpt.id);
	cJSON *j;
	switch (rc) {
	case ITD_OK: {
		/* The hot path of intake: a fixed shape, written directly (cJSON
		 * would format the number with printf and re-parse it). */
		char text[128];
		int n = snprintf(text, sizeof text,
				 "{\"id\":\"%s\",\"status\":\"queued\",\"received_tick\":%" PRIu64 "}",
				 rcpt.id, rcpt.received_tick);
		rc = srv_text(out, 202, NULL, text, (size_t)n);
		if (!rc)
			out->durable_ticket = rcpt.ticket;
		return rc;
	}
	case ITD_EEXISTS: {
		/* The original: created (its status and created tick), still
		 * waiting in the intake (queued, created at the next tick, as
		 * the 202 said), or, in a narrow race, ended and its record
		 * reused since the key was found (both unknown: null). */
		const char *status = NULL;
		bool known = true;
		uint64_t tick = 0;
		struct itd_intents *t = itd_engine_intents(e);
		const struct itd_intent *in;
		char id[ITD_ID_LEN];
		pthread_rwlock_rdlock(&r->srv->state_lock);
		switch (find(t, rcpt.id, id, &in)) {
		case W_MEMORY:
			status = itd_status_name(in->status);
			tick = in->created_tick;
			break;
		case W_PENDING:
			status = "queued";
			tick = itd_engine_tick(e) + 1;
			break;
		case W_GONE:
		case W_NEVER:
			known = false;
			break;
		}
		pthread_rwlock_unlock(&r->srv->state_lock);
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "id", rcpt.id);
		if (status)
			cJSON_AddStringToObject(j, "status", status);
		else
			cJSON_AddNullToObject(j, "status");
		if (known)
			cJSON_AddNumberToObject(j, "received_tick", (double)tick);
		else
			cJSON_AddNullToObject(j, "received_tick");
		cJSON_AddBoolToObject(j, "duplicate", true);
		/* The original may not be durable yet: its answer waits too. */
		rc = srv_json(out, 200, j);
		if (!rc)
			out->durable_ticket = dup_ticket;
		return rc;
	}
	default: {
		struct srv_refusal f;
		srv_submit_refusal(rc, msg, rcpt.id, &f);
		if (f.retry_after)
			snprintf(out->retry_after, sizeof out->retry_after, "%d", f.retry_after);
		if (f.status == 500)
			return srv_error(out, 500, f.code, f.details, "submission failed: %s",
					 itd_err_msg(rc));
		return srv_error(out, f.status, f.code, f.details, "%s%s", msg,
				 rc == ITD_EFULL ? "; retry later" : "");
	}
	}
}

int srv_submit_engine(struct srv_req *r, struct srv_submit *sb, struct itd_receipt *rcpt,
		      char *msg, size_t cap, uint64_t *dup_ticket)
{
	struct srv_durable *dw = r->srv->durable;
	sb->sub.actor = srv_actor(r);
	uint64_t entered = srv_durable_key_enter(dw, sb->sub.idempotency_key);
	int rc = itd_engine_submit(r->srv->engine, &sb->sub, rcpt, msg, cap);
	*dup_ticket = srv_durable_key_leave(dw, sb->sub.idempotency_key, rc, rcpt->ticket, entered);
	return rc;
}

void srv_submit_refusal(int rc, const char *msg, const char *id, struct srv_refusal *out)
{
	*out = (struct srv_refusal){.status = 500, .code = "internal"};
	switch (rc) {
	case ITD_ECONFLICT:
		*out = (struct srv_refusal){.status = 409, .code = "idempotency_conflict",
					    .details = cJSON_CreateObject()};
		cJSON_AddStringToObject(out->details, "intent_id", id);
		break;
	case ITD_EFULL:
		*out = (struct srv_refusal){.status = 429, .code = "intake_full",
					    .details = cJSON_CreateObject(), .retry_after = 1};
		cJSON_AddStringToObject(out->details, "full",
					strncmp(msg, "intake queue", 12) ? "table" : "queue");
		break;
	case ITD_EINVAL:
		*out = (struct srv_refusal){.status = 400, .code = "invalid_submission"};
		break;
	case ITD_EIO:
		*out = (struct srv_refusal){.status = 503, .code = "store_unavailable",
					    .retry_after = 5};
		break;
	default:
		break;
	}
}

/* --------------------------------------------------------------- list */

struct list_query {
	uint64_t after;          /* seq > after */
	size_t limit;            /* at most this many */
	bool status[ITD_ST_COUNT]; /* wanted statuses (all when !any_status) */
	bool any_status;
	bool *type_ok;           /* per type, when any_type */
	bool any_type;
};

/* "a,b,c" into wanted flags with lookup(name) -> index or -1. */
static bool parse_set(const char *v, bool *flags, size_t n, int (*lookup)(const void *, const char *),
		      const void *ctx)
{
	char name[64];
	while (*v) {
		const char *c = strchr(v, ',');
		size_t len = c ? (size_t)(c - v) : strlen(v);
		if (!len || len >= sizeof name)
			return false;
		memcpy(name, v, len);
		name[len] = '\0';
		int i = lookup(ctx, name);
		if (i < 0 || (size_t)i >= n)
			return false;
		flags[i] = true;
		v += len + (c ? 1 : 0);
		if (c && !*v)
			return false;
	}
	return true;
}

static int status_lookup(const void *ctx, const char *name)
{
	(void)ctx;
	return itd_status_parse(name);
}

static int type_lookup(const void *ctx, const char *name)
{
	return itd_scenario_type(ctx, name);
}

static bool wanted(const struct list_query *q, const struct itd_intent *in)
{
	return (!q->any_status || q->status[in->status]) && (!q->any_type || q->type_ok[in->type]);
}

static int by_seq(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Parse the list query; 0, or a refusal already answered in out (rc 1). */
static int list_query(struct srv_req *r, const struct itd_scenario *s, struct list_query *q,
		      struct srv_resp *out, int *rc)
{
	const char *v;
	q->limit = LIST_LIMIT_DEFAULT;
	if ((v = srv_query(r, "limit")) && *v) {
		uint64_t n;
		if (!srv_parse_u64(v, &n) || n < 1 || n > LIST_LIMIT_MAX) {
			*rc = srv_bad_query(out, "limit", "an integer 1..1000", NULL);
			return 1;
		}
		q->limit = (size_t)n;
	}
	if ((v = srv_query(r, "after")) && *v) {
		if (!(v[0] == 'i' && v[1] == '-' ? srv_parse_u64(v + 2, &q->after)
						  : srv_parse_u64(v, &q->after))) {
			*rc = srv_bad_query(out, "after", "an intent id (i-000042) or a sequence number",
					NULL);
			return 1;
		}
	}
	if ((v = srv_query(r, "status")) && *v) {
		q->any_status = true;
		if (!parse_set(v, q->status, ITD_ST_COUNT, status_lookup, NULL)) {
			cJSON *valid = cJSON_CreateArray();
			for (int i = 0; i < ITD_ST_COUNT; i++)
				srv_jpush(valid, cJSON_CreateString(itd_status_name(i)));
			*rc = srv_bad_query(out, "status", "a status or a comma-separated list of them",
					valid);
			return 1;
		}
	}
	if ((v = srv_query(r, "type")) && *v) {
		q->any_type = true;
		if (!parse_set(v, q->type_ok, s->n_types, type_lookup, s)) {
			cJSON *valid = cJSON_CreateArray();
			for (size_t i = 0; i < s->n_types; i++)
				srv_jpush(valid, cJSON_CreateString(s->types[i].name));
			*rc = srv_bad_query(out, "type",
					"an intent type or a comma-separated list of them", valid);
			return 1;
		}
	}
	return 0;
}

int srv_h_list(struct srv_req *r, struct srv_resp *out)
{
	struct itd_server *srv = r->srv;
	struct itd_engine *e = srv->engine;
	const struct itd_scenario *s = itd_engine_scenario(e);
	struct list_query q = {0};
	int rc = 0;
	q.type_ok = itd_calloc(s->n_types ? s->n_types : 1, sizeof *q.type_ok);
	struct itd_intents *t = itd_engine_intents(e);
	uint64_t *seqs = NULL;
	cJSON *j = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(j, "intents");
	if (!q.type_ok || !arr) {
		rc = srv_error(out, 500, "out_of_memory", NULL, "out of memory");
		goto done;
	}
	if (list_query(r, s, &q, out, &rc))
		goto done;

	size_t n = 0;
	const struct itd_intent *last = NULL;
	bool more = false;
	pthread_rwlock_rdlock(&srv->state_lock);
	uint64_t top = t->last_seq;
	if (q.after < top && top - q.after <= 2 * t->cap) {
		/* Walk the ids in order: at most 2 * cap lookups. */
		for (uint64_t seq = q.after + 1; seq <= top; seq++) {
			const struct itd_intent *in = itd_intents_at(t, seq);
			if (!in || !wanted(&q, in))
				continue;
			if (n == q.limit) {
				more = true;
				break;
			}
			srv_jpush(arr, srv_json_intent(e, in, false));
			last = in;
			n++;
		}
	} else if (q.after < top) {
		/* Many ids were evicted: collect what memory holds, in order. */
		size_t m = 0;
		seqs = itd_malloc((t->cap ? t->cap : 1) * sizeof *seqs);
		if (!seqs) {
			pthread_rwlock_unlock(&srv->state_lock);
			rc = srv_error(out, 500, "out_of_memory", NULL, "out of memory");
			goto done;
		}
		for (uint64_t i = 0; i < t->cap; i++) {
			const struct itd_intent *in = &t->rec[i];
			if (in->seq > q.after && wanted(&q, in))
				seqs[m++] = in->seq;
		}
		qsort(seqs, m, sizeof *seqs, by_seq);
		for (size_t i = 0; i < m; i++) {
			if (n == q.limit) {
				more = true;
				break;
			}
			const struct itd_intent *in = itd_intents_at(t, seqs[i]);
			if (!in)
				continue;
			srv_jpush(arr, srv_json_intent(e, in, false));
			last = in;
			n++;
		}
	}
	if (more && last)
		cJSON_AddStringToObject(j, "next_after", last->id);
	else
		cJSON_AddNullToObject(j, "next_after");
	cJSON_AddNumberToObject(j, "total_in_memory", (double)(t->n - t->n_evicted));
	pthread_rwlock_unlock(&srv->state_lock);
	rc = srv_json(out, 200, j);
	j = NULL;
done:
	cJSON_Delete(j);
	itd_free(seqs);
	itd_free(q.type_ok);
	return rc;
}

/* ---------------------------------------------------------------- get */

int srv_h_get(struct srv_req *r, struct srv_resp *out)
{
	struct itd_server *srv = r->srv;
	struct itd_intents *t = itd_engine_intents(srv->engine);
	const struct itd_intent *in;
	char id[ITD_ID_LEN];
	pthread_rwlock_rdlock(&srv->state_lock);
	enum where w = find(t, r->id, id, &in);
	cJSON *j = in ? srv_json_intent(srv->engine, in, true) : NULL;
	pthread_rwlock_unlock(&srv->state_lock);
	if (w != W_MEMORY)
		return not_found(out, id, w);
	return srv_json(out, 200, j);
}

/* ------------------------------------------------------------- cancel */

int srv_h_cancel(struct srv_req *r, struct srv_resp *out)
{
	static const char *const keys[] = {"reason"};
	struct itd_server *srv = r->srv;
	struct itd_engine *e = srv->engine;
	struct srv_bad bad = {0};
	cJSON *body = NULL;
	if (srv_body_object(r->body, r->body_len, true, &body, &bad) ||
	    (body && srv_check_keys(body, keys, 1, "", &bad))) {
		cJSON_Delete(body);
		return srv_bad_reply(out, &bad);
	}
	const cJSON *reason = body ? cJSON_GetObjectItemCaseSensitive(body, "reason") : NULL;
	if (reason && !cJSON_IsString(reason)) {
		cJSON_Delete(body);
		srv_bad_type(&bad, "reason", "string");
		return srv_bad_reply(out, &bad);
	}

	struct itd_intents *t = itd_engine_intents(e);
	const struct itd_intent *in;
	char id[ITD_ID_LEN];
	pthread_rwlock_rdlock(&srv->state_lock);
	enum where w = find(t, r->id, id, &in);
	enum itd_status st = in ? in->status : ITD_ST_RECEIVED;
	uint64_t apply = itd_engine_tick(e) + 1;
	pthread_rwlock_unlock(&srv->state_lock);

	/* An intent still waiting in the intake can be cancelled: the cancel
	 * is applied after it, in arrival order. */
	int rc;
	if (w != W_MEMORY && w != W_PENDING) {
		rc = not_found(out, id, w);
		goto done;
	}
	/* The reason is kept only in the note, so accept no more of it than
	 * the note holds after "cancel ID: " (46 bytes for ids up to
	 * i-999999). */
	size_t reason_max = NOTE_MAX - NOTE_FIXED - strlen(id);
	if (reason && strlen(reason->valuestring) > reason_max) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "field", "reason");
		cJSON_AddNumberToObject(d, "max_bytes", (double)reason_max);
		srv_bad_set(&bad, "too_long", d,
			    "'reason' takes at most %zu bytes for %s (%zu given): it is kept in "
			    "a %d-byte note \"cancel ID: REASON\"",
			    reason_max, id, strlen(reason->valuestring), NOTE_MAX);
		rc = srv_bad_reply(out, &bad);
		goto done;
	}
	if (itd_status_terminal(st)) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "id", id);
		cJSON_AddStringToObject(d, "status", itd_status_name(st));
		rc = srv_error(out, 409, "not_active", d, "intent %s is already %s", id,
			       itd_status_name(st));
		goto done;
	}
	uint64_t ticket = 0;
	rc = itd_engine_cancel(e, id, "cancelled_by_operator", srv_actor(r), &ticket);
	/* The engine keeps static reasons only; an operator's words go into
	 * the record as a console note applied with the cancel.  It is queued
	 * after the cancel, so a refused cancel (429) leaves no note behind
	 * (notes have the console's reserved room and get through). */
	if (!rc && reason && *reason->valuestring) {
		char note[NOTE_MAX + 1];
		snprintf(note, sizeof note, NOTE_FMT, id, reason->valuestring);
		uint64_t nt = 0;
		if (!itd_engine_console(e, ITD_CONSOLE_NOTE, note, srv_actor(r), &nt))
			ticket = nt; /* later, so its durability covers the cancel's */
	}
	if (rc == ITD_EFULL) {
		snprintf(out->retry_after, sizeof out->retry_after, "1");
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "full", "queue");
		rc = srv_error(out, 429, "intake_full", d, "intake queue full; retry later");
		goto done;
	}
	if (rc == ITD_EIO) {
		rc = srv_error(out, 503, "store_unavailable", NULL,
			       "cannot cancel %s now: the store cannot make it durable (it is "
			       "being repaired); retry later", id);
		goto done;
	}
	if (rc) {
		rc = srv_error(out, 400, "invalid_id", NULL, "cannot cancel '%s': %s", id,
			       itd_err_msg(rc));
		goto done;
	}
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "id", id);
	cJSON_AddStringToObject(j, "status", "cancel_requested");
	cJSON_AddNumberToObject(j, "apply_tick", (double)apply);
	rc = srv_json(out, 202, j);
	if (!rc)
		out->durable_ticket = ticket;
done:
	cJSON_Delete(body);
	return rc;
}
