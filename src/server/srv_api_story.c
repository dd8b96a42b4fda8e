/* srv_api_story.c: GET /api/v1/intents/{id}/story: an intent's story as the
 * durable store recorded it (its audit entries: receipt, verdict changes
 * with rule and values, executions with the state change each made,
 * completion), for any intent the run ever had, including those the live
 * table has long recycled.  Needs --data. */
#include <inttypes.h>
#include <string.h>

#include "srv_int.h"
#include "store/store.h"

int itd_server_story_add(void *ctx, const struct itd_store_story_entry *e)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddItemToArray(ctx, o)) {
		cJSON_Delete(o);
		return ITD_ENOMEM;
	}
	cJSON_AddNumberToObject(o, "index", (double)e->index);
	cJSON_AddNumberToObject(o, "tick", (double)e->tick);
	cJSON_AddNumberToObject(o, "time_ms", (double)e->time_ms);
	cJSON_AddStringToObject(o, "event", e->kind);
	if (e->actor[0])
		cJSON_AddStringToObject(o, "actor", e->actor);
	cJSON *p = cJSON_ParseWithLength(e->data, e->len);
	cJSON_AddItemToObject(o, "payload", p ? p : cJSON_CreateNull());
	return 0;
}

int srv_h_story(struct srv_req *r, struct srv_resp *out)
{
	struct itd_server *srv = r->srv;
	uint64_t seq;
	if (!srv_parse_id(r->id, &seq)) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "id", r->id);
		cJSON_AddStringToObject(d, "reason", "unknown");
		return srv_error(out, 404, "not_found", d, "intent '%s' never existed", r->id);
	}
	char id[ITD_ID_LEN];
	snprintf(id, sizeof id, "i-%06" PRIu64, seq);
	if (!srv->store)
		return srv_error(out, 404, "no_store", NULL,
				 "the server runs without --data: stories are kept only in "
				 "telemetry; GET /api/v1/intents/%s has what is in memory",
				 id);
	cJSON *j = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	if (!j || !arr) {
		cJSON_Delete(j);
		cJSON_Delete(arr);
		return srv_error(out, 503, "out_of_memory", NULL, "out of memory");
	}
	int rc = itd_store_query_story(srv->store, id, itd_server_story_add, arr);
	if (rc == ITD_ENOTFOUND) {
		cJSON_Delete(j);
		cJSON_Delete(arr);
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "id", id);
		cJSON_AddStringToObject(d, "reason", "not_durable_yet_or_unknown");
		return srv_error(out, 404, "not_found", d,
				 "the store has no entry for intent '%s' (not created yet, not "
				 "durable yet, or never existed)", id);
	}
	if (rc) {
		cJSON_Delete(j);
		cJSON_Delete(arr);
		return srv_error(out, 503, "store_unavailable", NULL, "cannot read the store: %s",
				 itd_err_msg(rc));
	}
	cJSON_AddStringToObject(j, "id", id);
	cJSON_AddItemToObject(j, "story", arr);
	return srv_json(out, 200, j);
}
