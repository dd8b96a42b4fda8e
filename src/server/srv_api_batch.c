/* srv_api_batch.c: POST /api/v1/intents/batch: many submissions in one
 * request, for bulk loads and for clients that would otherwise pipeline
 * (what a redis client does with XADD).  Each item is checked and
 * submitted exactly as POST /api/v1/intents would (same validation, ids,
 * idempotency, errors), in order; one item's failure does not stop the
 * others.  With --data the answer is sent once the last accepted item is
 * durable (items commit in arrival order, so that covers all of them):
 * a batch costs one wait, and usually one commit. */
#include <inttypes.h>
#include <string.h>

#include "srv_int.h"

/* The most items one batch may carry. */
#define BATCH_MAX 1000

static const char *const batch_keys[] = {"intents"};

/* One item's error, in the shape of the API's error bodies. */
static cJSON *item_error(unsigned status, const char *code, cJSON *details, const char *msg)
{
	cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "status", status);
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	if (details)
		cJSON_AddItemToObject(e, "details", details);
	cJSON_AddItemToObject(o, "error", e);
	return o;
}

/* Submit one item; its result object, and the ticket to wait for. */
static cJSON *submit_one(struct srv_req *r, const cJSON *item, uint64_t *ticket_out, bool *ok)
{
	struct itd_engine *e = r->srv->engine;
	struct srv_submit sb;
	struct srv_bad bad = {0};
	*ok = false;
	int rc = srv_submit_check(itd_engine_scenario(e), item, &sb, &bad);
	if (rc) {
		cJSON *res = item_error(bad.status ? bad.status : 400, bad.code ? bad.code : "invalid_body",
					bad.details, bad.msg);
		bad.details = NULL;
		srv_bad_fini(&bad);
		return res;
	}
	struct itd_receipt rc_;
	char msg[256] = "";
	uint64_t dup;
	rc = srv_submit_engine(r, &sb, &rc_, msg, sizeof msg, &dup);
	cJSON *res = NULL;
	switch (rc) {
	case ITD_OK:
		res = cJSON_CreateObject();
		cJSON_AddNumberToObject(res, "status", 202);
		cJSON_AddStringToObject(res, "id", rc_.id);
		cJSON_AddNumberToObject(res, "received_tick", (double)rc_.received_tick);
		*ticket_out = rc_.ticket;
		*ok = true;
		break;
	case ITD_EEXISTS:
		res = cJSON_CreateObject();
		cJSON_AddNumberToObject(res, "status", 200);
		cJSON_AddStringToObject(res, "id", rc_.id);
		cJSON_AddBoolToObject(res, "duplicate", true);
		*ticket_out = dup;
		*ok = true;
		break;
	default: {
		struct srv_refusal f;
		srv_submit_refusal(rc, msg, rc_.id, &f);
		res = item_error(f.status, f.code, f.details, msg[0] ? msg : itd_err_msg(rc));
		break;
	}
	}
	return res;
}

int srv_h_submit_batch(struct srv_req *r, struct srv_resp *out)
{
	struct srv_bad bad = {0};
	cJSON *body = NULL;
	if (srv_body_object(r->body, r->body_len, false, &body, &bad) ||
	    srv_check_keys(body, batch_keys, 1, "", &bad)) {
		cJSON_Delete(body);
		return srv_bad_reply(out, &bad);
	}
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(body, "intents");
	int n = cJSON_GetArraySize(items);
	if (!cJSON_IsArray(items) || n < 1 || n > BATCH_MAX) {
		cJSON_Delete(body);
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "field", "intents");
		cJSON_AddNumberToObject(d, "max_items", BATCH_MAX);
		return srv_error(out, 400, "invalid_field", d,
				 "'intents' must be an array of 1..%d submissions", BATCH_MAX);
	}
	cJSON *j = cJSON_CreateObject();
	cJSON *res = cJSON_AddArrayToObject(j, "items");
	uint64_t last_ticket = 0;
	unsigned accepted = 0, failed = 0;
	bool full = false;
	const cJSON *it;
	cJSON_ArrayForEach(it, items)
	{
		uint64_t t = 0;
		bool ok;
		cJSON *one = submit_one(r, it, &t, &ok);
		if (!one) {
			cJSON_Delete(j);
			cJSON_Delete(body);
			return srv_error(out, 500, "out_of_memory", NULL, "out of memory");
		}
		cJSON_AddItemToArray(res, one);
		if (ok) {
			accepted++;
			if (t > last_ticket)
				last_ticket = t;
		} else {
			failed++;
			const cJSON *st = cJSON_GetObjectItemCaseSensitive(one, "status");
			full |= cJSON_IsNumber(st) && st->valueint == 429;
		}
	}
	cJSON_Delete(body);
	cJSON_AddNumberToObject(j, "accepted", accepted);
	cJSON_AddNumberToObject(j, "failed", failed);
	if (full)
		snprintf(out->retry_after, sizeof out->retry_after, "1");
	/* 202 when every item was accepted (or was a duplicate); otherwise
	 * still 202 if any was, with the failures itemised; 4xx/503 only
	 * when none was, as the first item's status says. */
	unsigned status = 202;
	if (!accepted) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(res, 0), "status");
		status = cJSON_IsNumber(st) ? (unsigned)st->valueint : 400;
	}
	int rc = srv_json(out, status, j);
	if (!rc && last_ticket)
		out->durable_ticket = last_ticket;
	return rc;
}
