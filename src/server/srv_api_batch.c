/* srv_api_batch.c: POST /api/v1/intents/batch: many submissions in one
 * request, for bulk loads and for clients that would otherwise pipeline
 * (what a redis client does with XADD).  Each item is checked and
 * submitted exactly as POST /api/v1/intents would (same validation, ids,
 * idempotency, errors), in order; one item's failure does not stop the
 * others, except a refusal for capacity (429): the items after it are
 * refused alike without being tried, so what a batch gets accepted is a
 * prefix and a retry of the rest keeps its order (and an overloaded
 * server spends nothing on them).  With --data the answer is sent once
 * the last accepted item is
 * durable (items commit in arrival order, so that covers all of them):
 * a batch costs one wait, and usually one commit. */
#include <inttypes.h>
#include <string.h>

#include "srv_int.h"

/* The most items one batch may carry. */
#define BATCH_MAX 1000

static const char *const batch_keys[] = {"intents"};

/* One item's outcome.  Accepted items and duplicates are written straight
 * into the answer; a refusal keeps the text of its error object (built
 * with cJSON: rare, and its details vary). */
struct item {
	unsigned status;                   /* 202, 200 (duplicate) or the error's */
	char id[ITD_ID_LEN];               /* 202/200: the intent */
	uint64_t received_tick;            /* 202 */
	char *error;                       /* else: {"status":..,"error":{..}} (cJSON_free) */
	const char *same_error;            /* or the same as an earlier item's (429) */
};

/* One item's error, in the shape of the API's error bodies, as text. */
static char *item_error(unsigned status, const char *code, cJSON *details, const char *msg)
{
	cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "status", status);
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	if (details)
		cJSON_AddItemToObject(e, "details", details);
	cJSON_AddItemToObject(o, "error", e);
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* Submit one item: its outcome, and the ticket to wait for.  Returns
 * ITD_ENOMEM if even the error could not be written. */
static int submit_one(struct srv_req *r, const cJSON *item, struct item *res, uint64_t *ticket_out)
{
	struct itd_engine *e = r->srv->engine;
	struct srv_submit sb;
	struct srv_bad bad = {0};
	int rc = srv_submit_check(itd_engine_scenario(e), item, &sb, &bad);
	if (rc) {
		res->status = bad.status ? bad.status : 400;
		res->error = item_error(res->status, bad.code ? bad.code : "invalid_body",
					bad.details, bad.msg);
		bad.details = NULL;
		srv_bad_fini(&bad);
		return res->error ? ITD_OK : ITD_ENOMEM;
	}
	struct itd_receipt rc_;
	char msg[256] = "";
	uint64_t dup;
	rc = srv_submit_engine(r, &sb, &rc_, msg, sizeof msg, &dup);
	switch (rc) {
	case ITD_OK:
		res->status = 202;
		memcpy(res->id, rc_.id, sizeof res->id);
		res->received_tick = rc_.received_tick;
		*ticket_out = rc_.ticket;
		return ITD_OK;
	case ITD_EEXISTS:
		res->status = 200;
		memcpy(res->id, rc_.id, sizeof res->id);
		*ticket_out = dup;
		return ITD_OK;
	default: {
		struct srv_refusal f;
		srv_submit_refusal(rc, msg, rc_.id, &f);
		res->status = f.status;
		res->error = item_error(f.status, f.code, f.details, msg[0] ? msg : itd_err_msg(rc));
		return res->error ? ITD_OK : ITD_ENOMEM;
	}
	}
}

/* Append v in decimal at p; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_lit(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

/* The answer: {"items":[...],"accepted":A,"failed":F}, in the order the
 * items came.  Ids are generated ("i-" and digits): nothing to escape. */
static int write_answer(struct srv_resp *out, unsigned status, const struct item *items, size_t n,
			unsigned accepted, unsigned failed)
{
	size_t cap = 64;
	for (size_t i = 0; i < n; i++) {
		const char *err = items[i].error ? items[i].error : items[i].same_error;
		cap += err ? strlen(err) + 1 : 80 + ITD_ID_LEN;
	}
	char *buf = itd_malloc(cap), *p = buf;
	if (!buf)
		return srv_json(out, 500, NULL);
	p = put_lit(p, "{\"items\":[");
	for (size_t i = 0; i < n; i++) {
		const struct item *it = &items[i];
		if (i)
			*p++ = ',';
		if (it->error || it->same_error) {
			p = put_lit(p, it->error ? it->error : it->same_error);
		} else if (it->status == 202) {
			p = put_lit(p, "{\"status\":202,\"id\":\"");
			p = put_lit(p, it->id);
			p = put_lit(p, "\",\"received_tick\":");
			p = put_u64(p, it->received_tick);
			*p++ = '}';
		} else {
			p = put_lit(p, "{\"status\":200,\"id\":\"");
			p = put_lit(p, it->id);
			p = put_lit(p, "\",\"duplicate\":true}");
		}
	}
	p = put_lit(p, "],\"accepted\":");
	p = put_u64(p, accepted);
	p = put_lit(p, ",\"failed\":");
	p = put_u64(p, failed);
	*p++ = '}';
	*p = '\0';
	out->status = status;
	out->content_type = NULL;
	out->body = buf;
	out->len = (size_t)(p - buf);
	return ITD_OK;
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
	struct item *res = itd_calloc((size_t)n, sizeof *res);
	if (!res) {
		cJSON_Delete(body);
		return srv_error(out, 500, "out_of_memory", NULL, "out of memory");
	}
	uint64_t last_ticket = 0;
	unsigned accepted = 0, failed = 0;
	const char *full = NULL; /* the first capacity refusal's error */
	size_t k = 0;
	int rc = ITD_OK;
	const cJSON *it;
	cJSON_ArrayForEach(it, items)
	{
		uint64_t t = 0;
		struct item *one = &res[k++];
		if (full) {
			*one = (struct item){.status = 429, .same_error = full};
			failed++;
			continue;
		}
		if ((rc = submit_one(r, it, one, &t)))
			break;
		if (!one->error) {
			accepted++;
			if (t > last_ticket)
				last_ticket = t;
		} else {
			failed++;
			if (one->status == 429)
				full = one->error;
		}
	}
	cJSON_Delete(body);
	if (rc) {
		rc = srv_error(out, 500, "out_of_memory", NULL, "out of memory");
	} else {
		if (full)
			snprintf(out->retry_after, sizeof out->retry_after, "1");
		/* 202 when every item was accepted (or was a duplicate); otherwise
		 * still 202 if any was, with the failures itemised; 4xx/503 only
		 * when none was, as the first item's status says. */
		rc = write_answer(out, accepted ? 202 : res[0].status, res, k, accepted, failed);
		if (!rc && last_ticket)
			out->durable_ticket = last_ticket;
	}
	for (size_t i = 0; i < k; i++)
		cJSON_free(res[i].error);
	itd_free(res);
	return rc;
}
