/* srv_api_state.c: the state view, recent events and the admin console
 * (pause, resume, step, set, snapshot, status).  Console commands go
 * through the engine's intake, so each is applied and reported at a tick. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "srv_int.h"

#define EVENTS_LIMIT_DEFAULT 100
#define EVENTS_LIMIT_MAX 1000
#define STEP_MAX 100000
#define FRAME_MAX (64u << 20)

static double rate_of(const struct itd_server *srv)
{
	return srv->cfg.rate_hz > 0 ? srv->cfg.rate_hz : itd_engine_scenario(srv->engine)->rate_hz;
}

static void hash_hex(uint64_t h, char hex[17])
{
	snprintf(hex, 17, "%016" PRIx64, h);
}

/* 429 with the details of a submission's: {"full": "queue"} (console
 * commands take no room in the intent table, so only the queue fills). */
static int intake_full(struct srv_resp *out)
{
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "full", "queue");
	snprintf(out->retry_after, sizeof out->retry_after, "1");
	return srv_error(out, 429, "intake_full", d, "intake queue full; retry later");
}

/* The state fields' definitions. */
static cJSON *fields_json(const struct itd_scenario *s)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; a && i < s->n_fields; i++)
		srv_jpush(a, srv_json_field(&s->fields[i]));
	return a;
}

/* tick, mode, state {field: value} and state_hash of the engine into o.
 * Caller holds state_lock for reading. */
static void add_state(cJSON *o, const struct itd_engine *e)
{
	const struct itd_scenario *s = itd_engine_scenario(e);
	const struct itd_value *st = itd_engine_state(e);
	char hex[17];
	cJSON_AddNumberToObject(o, "tick", (double)itd_engine_tick(e));
	cJSON_AddStringToObject(o, "mode", itd_engine_mode(e));
	cJSON *sj = cJSON_AddObjectToObject(o, "state");
	for (size_t i = 0; sj && i < s->n_fields; i++)
		srv_jadd(sj, s->fields[i].name, srv_json_value(&st[i]));
	hash_hex(itd_engine_state_hash(e), hex);
	cJSON_AddStringToObject(o, "state_hash", hex);
}

/* -------------------------------------------------------------- state */

int srv_h_state(struct srv_req *r, struct srv_resp *out)
{
	struct itd_server *srv = r->srv;
	struct itd_engine *e = srv->engine;
	cJSON *j = cJSON_CreateObject();
	bool paused = srv_loop_paused(srv);
	if (!j)
		return srv_json(out, 500, NULL);
	/* The frame is written with the telemetry encoder, into a buffer that
	 * grows until it fits (scores of many intents make it large). */
	size_t cap = 16384, len = 0;
	char *buf = NULL;
	struct itd_jw *w = NULL;
	uint64_t durable = 0;
	for (;;) {
		buf = itd_malloc(cap);
		w = buf ? itd_jw_create(buf, cap) : NULL;
		if (!w) {
			itd_free(buf);
			cJSON_Delete(j);
			return srv_json(out, 500, NULL);
		}
		pthread_rwlock_rdlock(&srv->state_lock);
		itd_jw_obj_begin(w);
		itd_tel_write_frame(w, e);
		itd_jw_obj_end(w);
		bool over = itd_jw_overflowed(w);
		if (!over)
			add_state(j, e);
		/* Under the lock, so at most the tick shown. */
		if (srv->store)
			itd_store_last(srv->store, &durable, NULL);
		pthread_rwlock_unlock(&srv->state_lock);
		len = itd_jw_len(w);
		itd_jw_destroy(w);
		if (!over)
			break;
		itd_free(buf);
		buf = NULL;
		if (cap >= FRAME_MAX) {
			cJSON_Delete(j);
			return srv_error(out, 500, "internal", NULL, "state frame too large");
		}
		cap *= 2;
	}
	cJSON *frame = cJSON_ParseWithLength(buf, len);
	itd_free(buf);
	srv_jadd(j, "fields", fields_json(itd_engine_scenario(e)));
	cJSON_AddBoolToObject(j, "paused", paused);
	cJSON_AddNumberToObject(j, "rate_hz", rate_of(srv));
	/* The state is answered at once, not held for the disk: say how far
	 * it is durable. */
	if (srv->store) {
		cJSON_AddNumberToObject(j, "durable_tick", (double)durable);
	} else {
		cJSON_AddNullToObject(j, "durable_tick");
	}
	if (frame)
		srv_jadd(j, "frame", frame);
	else
		cJSON_AddNullToObject(j, "frame");
	return srv_json(out, 200, j);
}

/* ------------------------------------------------------------- events */

int srv_h_events(struct srv_req *r, struct srv_resp *out)
{
	struct srv_stream *st = r->srv->stream;
	const char *v;
	uint64_t after = 0, limit = EVENTS_LIMIT_DEFAULT;
	bool given = false;
	if ((v = srv_query(r, "limit")) && *v &&
	    (!srv_parse_u64(v, &limit) || limit < 1 || limit > EVENTS_LIMIT_MAX))
		return srv_bad_query(out, "limit", "an integer 1..1000", NULL);
	if ((v = srv_query(r, "after_seq")) && *v) {
		if (!srv_parse_u64(v, &after))
			return srv_bad_query(out, "after_seq", "an integer >= 0", NULL);
		given = true;
	}
	if (!st)
		return srv_error(out, 503, "not_ready", NULL, "the event ring is not running");
	char *arr = NULL;
	size_t n = 0;
	uint64_t first = 0, last = 0;
	int rc;
	if (!given) {
		/* Without after_seq: the most recent `limit` events. */
		rc = srv_stream_recent(st, UINT64_MAX, 1, &arr, &n, &first, &last);
		itd_free(arr);
		arr = NULL;
		if (rc)
			return srv_json(out, 500, NULL);
		after = last > limit ? last - limit : 0;
	}
	rc = srv_stream_recent(st, after, (size_t)limit, &arr, &n, &first, &last);
	if (rc)
		return srv_json(out, 500, NULL);
	bool gap = given && first > 0 && after + 1 < first;
	char tail[160];
	int tl = snprintf(tail, sizeof tail,
			  ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 ",\"gap\":%s}", first,
			  last, gap ? "true" : "false");
	static const char head[] = "{\"events\":";
	size_t total = sizeof head - 1 + n + (size_t)tl;
	char *body = itd_malloc(total + 1);
	if (!body) {
		itd_free(arr);
		return srv_json(out, 500, NULL);
	}
	memcpy(body, head, sizeof head - 1);
	memcpy(body + sizeof head - 1, arr, n);
	memcpy(body + sizeof head - 1 + n, tail, (size_t)tl + 1);
	itd_free(arr);
	out->status = 200;
	out->body = body;
	out->len = total;
	out->content_type = NULL;
	return ITD_OK;
}

/* ------------------------------------------------------------ console */

enum con_cmd { CON_PAUSE, CON_RESUME, CON_STEP, CON_SET, CON_SNAPSHOT, CON_STATUS, N_CMDS };

static const char *const console_cmds[N_CMDS] = {
	[CON_PAUSE] = "pause", [CON_RESUME] = "resume",     [CON_STEP] = "step",
	[CON_SET] = "set",     [CON_SNAPSHOT] = "snapshot", [CON_STATUS] = "status",
};

/* The tick that applies an input queued now. */
static uint64_t next_tick(struct itd_server *srv)
{
	pthread_rwlock_rdlock(&srv->state_lock);
	uint64_t apply = itd_engine_tick(srv->engine) + 1;
	pthread_rwlock_unlock(&srv->state_lock);
	return apply;
}

/* {"command", "apply_tick"} of an accepted command. */
static cJSON *accepted(const char *cmd, uint64_t apply)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "command", cmd);
	cJSON_AddNumberToObject(j, "apply_tick", (double)apply);
	return j;
}

/* The store failed: the command was not accepted. */
static int store_down(struct srv_resp *out, const char *cmd)
{
	return srv_error(out, 503, "store_unavailable", NULL,
			 "%s refused: the store cannot make it durable now (it is being "
			 "repaired); retry later", cmd);
}

/* Answer a loop-control result; the answer waits until `ticket` is durable. */
static int loop_result(struct srv_req *r, struct srv_resp *out, const char *cmd, int rc,
		       uint64_t apply, uint64_t ticket)
{
	if (rc == ITD_EFULL)
		return intake_full(out);
	if (rc == ITD_EIO)
		return store_down(out, cmd);
	if (rc == ITD_ESTATE)
		return srv_error(out, 409, "wrong_state", NULL, "cannot %s now: the loop is %s",
				 cmd, srv_loop_paused(r->srv) ? "paused" : "running");
	if (rc)
		return srv_error(out, 500, "internal", NULL, "%s failed: %s", cmd, itd_err_msg(rc));
	rc = srv_json(out, 202, accepted(cmd, apply));
	if (!rc)
		out->durable_ticket = ticket;
	return rc;
}

static int con_step(struct srv_req *r, struct srv_resp *out, const cJSON *body)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "n");
	uint64_t steps = 1;
	if (n) {
		double v = n->valuedouble;
		if (!cJSON_IsNumber(n) || !(v >= 1 && v <= STEP_MAX) || v != floor(v)) {
			struct srv_bad bad = {0};
			srv_bad_type(&bad, "n", "an integer 1..100000");
			return srv_bad_reply(out, &bad);
		}
		steps = (uint64_t)v;
	}
	if (!srv_loop_paused(r->srv))
		return srv_error(out, 409, "not_paused", NULL,
				 "step runs ticks of a paused loop: pause first");
	uint64_t apply = next_tick(r->srv), ticket = 0;
	int rc = srv_loop_step(r->srv, steps, srv_actor(r), &ticket);
	if (rc)
		return loop_result(r, out, "step", rc, apply, 0);
	cJSON *j = accepted("step", apply);
	cJSON_AddNumberToObject(j, "n", (double)steps);
	rc = srv_json(out, 202, j);
	if (!rc)
		out->durable_ticket = ticket;
	return rc;
}

static int con_set(struct srv_req *r, struct srv_resp *out, const cJSON *body)
{
	const struct itd_scenario *s = itd_engine_scenario(r->srv->engine);
	const cJSON *fj = cJSON_GetObjectItemCaseSensitive(body, "field");
	const cJSON *vj = cJSON_GetObjectItemCaseSensitive(body, "value");
	struct srv_bad bad = {0};
	if (!cJSON_IsString(fj) || !vj) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "field", !cJSON_IsString(fj) ? "field" : "value");
		srv_bad_set(&bad, "missing_field", d, "set needs {\"field\": NAME, \"value\": VALUE}");
		return srv_bad_reply(out, &bad);
	}
	int fi = itd_scenario_field(s, fj->valuestring);
	if (fi < 0) {
		/* Not an unknown member of the body (unknown_field) but an
		 * unknown name in it: a code of its own. */
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "field", fj->valuestring);
		cJSON *known = cJSON_AddArrayToObject(d, "known");
		for (size_t i = 0; i < s->n_fields; i++)
			srv_jpush(known, cJSON_CreateString(s->fields[i].name));
		srv_bad_set(&bad, "unknown_state_field", d, "unknown state field '%.64s'",
			    fj->valuestring);
		return srv_bad_reply(out, &bad);
	}
	const struct itd_field *f = &s->fields[fi];
	struct itd_value v = {.type = f->type};
	switch (f->type) {
	case ITD_T_NUM:
		if (!cJSON_IsNumber(vj) || !isfinite(vj->valuedouble)) {
			srv_bad_type(&bad, "value", "number");
			return srv_bad_reply(out, &bad);
		}
		v.num = vj->valuedouble;
		break;
	case ITD_T_BOOL:
		if (!cJSON_IsBool(vj)) {
			srv_bad_type(&bad, "value", "bool");
			return srv_bad_reply(out, &bad);
		}
		v.b = cJSON_IsTrue(vj);
		break;
	case ITD_T_STR:
		if (!cJSON_IsString(vj) || !itd_field_value(f, vj->valuestring)) {
			cJSON *d = cJSON_CreateObject();
			cJSON_AddStringToObject(d, "field", "value");
			cJSON_AddStringToObject(d, "expected", "one of the field's values");
			srv_jadd(d, "allowed", srv_json_names(f->values, f->n_values));
			srv_bad_set(&bad, "invalid_field", d, "'%s' takes one of its declared values",
				    f->name);
			return srv_bad_reply(out, &bad);
		}
		v.str = vj->valuestring; /* the engine keeps the scenario's copy */
		break;
	case ITD_T_NONE:
		return srv_error(out, 400, "invalid_field", NULL, "field '%s' cannot be set",
				 f->name);
	}
	uint64_t apply = next_tick(r->srv), ticket = 0;
	int rc = itd_engine_set_field(r->srv->engine, (uint32_t)fi, v, srv_actor(r), &ticket);
	if (rc == ITD_EFULL)
		return intake_full(out);
	if (rc == ITD_EIO)
		return store_down(out, "set");
	if (rc)
		return srv_error(out, 400, "invalid_field", NULL, "cannot set '%s': %s", f->name,
				 itd_err_msg(rc));
	cJSON *j = accepted("set", apply);
	cJSON_AddStringToObject(j, "field", f->name);
	srv_jadd(j, "value", srv_json_value(&v));
	cJSON_AddBoolToObject(j, "fault_injection", true);
	rc = srv_json(out, 202, j);
	if (!rc)
		out->durable_ticket = ticket;
	return rc;
}

static int by_seq(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int put_json(FILE *f, const cJSON *j)
{
	char *text = cJSON_PrintUnformatted(j);
	if (!text)
		return ITD_ENOMEM;
	int rc = fputs(text, f) < 0 ? ITD_EIO : ITD_OK;
	cJSON_free(text);
	return rc;
}

/* Write the snapshot document to f under the read lock: the state, then
 * every intent in memory, in id order.  *tick_out: the tick it shows. */
static int write_snapshot(struct itd_server *srv, FILE *f, uint64_t *seqs, uint64_t *tick_out)
{
	struct itd_engine *e = srv->engine;
	struct itd_intents *t = itd_engine_intents(e);
	int rc = ITD_ENOMEM;
	cJSON *head = cJSON_CreateObject();
	if (!head)
		return ITD_ENOMEM;
	pthread_rwlock_rdlock(&srv->state_lock);
	const struct itd_scenario *s = itd_engine_scenario(e);
	*tick_out = itd_engine_tick(e);
	cJSON_AddNumberToObject(head, "snapshot_version", 1);
	cJSON_AddStringToObject(head, "scenario", s->name);
	cJSON_AddStringToObject(head, "run_id", srv->cfg.run_id ? srv->cfg.run_id : "");
	add_state(head, e);
	cJSON_AddNumberToObject(head, "intents_created", (double)t->n);
	cJSON_AddNumberToObject(head, "intents_evicted", (double)t->n_evicted);
	cJSON_AddNumberToObject(head, "last_seq", (double)t->last_seq);
	char *text = cJSON_PrintUnformatted(head);
	if (!text)
		goto out;
	/* Splice "intents":[...] in before the head's closing brace. */
	size_t n = strlen(text);
	rc = fwrite(text, 1, n - 1, f) == n - 1 && fputs(",\"intents\":[", f) >= 0 ? ITD_OK
										     : ITD_EIO;
	cJSON_free(text);
	size_t m = 0;
	for (uint64_t i = 0; i < t->cap; i++)
		if (t->rec[i].seq)
			seqs[m++] = t->rec[i].seq;
	qsort(seqs, m, sizeof *seqs, by_seq);
	for (size_t i = 0; i < m && !rc; i++) {
		const struct itd_intent *in = itd_intents_at(t, seqs[i]);
		cJSON *j = in ? srv_json_intent(e, in, true) : NULL;
		if (!in)
			continue;
		if (!j) {
			rc = ITD_ENOMEM;
			break;
		}
		if (i && fputc(',', f) == EOF)
			rc = ITD_EIO;
		if (!rc)
			rc = put_json(f, j);
		cJSON_Delete(j);
	}
	if (!rc && fputs("]}\n", f) < 0)
		rc = ITD_EIO;
out:
	pthread_rwlock_unlock(&srv->state_lock);
	cJSON_Delete(head);
	return rc;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return ITD_EIO;
	int rc = fsync(fd) ? ITD_EIO : ITD_OK;
	close(fd);
	return rc;
}

static int con_snapshot(struct srv_req *r, struct srv_resp *out)
{
	static unsigned long counter;
	struct itd_server *srv = r->srv;
	struct itd_intents *t = itd_engine_intents(srv->engine);
	char dir[600], tmp[700], path[700], rel[64];
	if (!srv->run_dir[0])
		return srv_error(out, 500, "no_run_dir", NULL, "the server has no data directory");
	snprintf(dir, sizeof dir, "%s/snapshots", srv->run_dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return srv_error(out, 500, "io_error", NULL, "cannot create %s: %s", dir,
				 strerror(errno));
	snprintf(tmp, sizeof tmp, "%s/.snapshot-%ld-%lu.tmp", dir, (long)getpid(),
		 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
	uint64_t *seqs = itd_malloc((t->cap ? t->cap : 1) * sizeof *seqs);
	int fd = seqs ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		itd_free(seqs);
		unlink(tmp);
		return srv_error(out, 500, "io_error", NULL, "cannot write %s: %s", tmp,
				 strerror(err));
	}
	uint64_t tick = 0;
	int rc = write_snapshot(srv, f, seqs, &tick);
	itd_free(seqs);
	if (fflush(f) || fsync(fileno(f)))
		rc = rc ? rc : ITD_EIO;
	if (fclose(f))
		rc = rc ? rc : ITD_EIO;
	snprintf(rel, sizeof rel, "snapshots/snapshot-%" PRIu64 ".json", tick);
	snprintf(path, sizeof path, "%s/%s", srv->run_dir, rel);
	if (!rc && rename(tmp, path))
		rc = ITD_EIO;
	if (!rc)
		rc = fsync_dir(dir);
	if (rc) {
		unlink(tmp);
		return srv_error(out, 500, "io_error", NULL, "snapshot failed: %s", itd_err_msg(rc));
	}
	uint64_t apply = next_tick(srv), ticket = 0;
	rc = itd_engine_console(srv->engine, ITD_CONSOLE_SNAPSHOT, rel, srv_actor(r), &ticket);
	if (rc == ITD_EIO)
		return store_down(out, "snapshot");
	if (rc == ITD_EFULL) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "full", "queue");
		cJSON_AddStringToObject(d, "path", path);
		snprintf(out->retry_after, sizeof out->retry_after, "1");
		return srv_error(out, 429, "intake_full", d,
				 "snapshot written to %s but the intake is full, so it is not "
				 "reported; retry later",
				 path);
	}
	cJSON *j = accepted("snapshot", apply);
	cJSON_AddStringToObject(j, "path", path);
	cJSON_AddNumberToObject(j, "tick", (double)tick);
	rc = srv_json(out, 202, j);
	if (!rc)
		out->durable_ticket = ticket;
	return rc;
}

static int con_status(struct srv_req *r, struct srv_resp *out)
{
	struct itd_server *srv = r->srv;
	struct itd_engine *e = srv->engine;
	struct itd_intents *t = itd_engine_intents(e);
	struct itd_engine_stats es;
	uint64_t by[ITD_ST_COUNT];
	bool paused = srv_loop_paused(srv);
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return srv_json(out, 500, NULL);
	pthread_rwlock_rdlock(&srv->state_lock);
	uint64_t tick = itd_engine_tick(e);
	cJSON_AddStringToObject(j, "command", "status");
	cJSON_AddNumberToObject(j, "tick", (double)tick);
	cJSON_AddNumberToObject(j, "apply_tick", (double)(tick + 1));
	cJSON_AddBoolToObject(j, "paused", paused);
	cJSON_AddStringToObject(j, "mode", itd_engine_mode(e));
	itd_engine_stats(e, &es);
	memcpy(by, t->by_status, sizeof by);
	uint64_t in_mem = t->n - t->n_evicted, evicted = t->n_evicted;
	pthread_rwlock_unlock(&srv->state_lock);

	cJSON_AddNumberToObject(j, "rate_hz", rate_of(srv));
	cJSON_AddNumberToObject(j, "ticks", (double)es.ticks);
	cJSON_AddNumberToObject(j, "slips", (double)es.slips);
	cJSON_AddNumberToObject(j, "faults", (double)es.faults);
	cJSON_AddNumberToObject(j, "executions", (double)es.executions);
	cJSON_AddNumberToObject(j, "rejected", (double)es.rejected);
	cJSON_AddNumberToObject(j, "intake_full", (double)es.intake_full);
	cJSON *ij = cJSON_AddObjectToObject(j, "intents");
	for (int i = 0; ij && i < ITD_ST_COUNT; i++)
		cJSON_AddNumberToObject(ij, itd_status_name(i), (double)by[i]);
	cJSON_AddNumberToObject(j, "intents_in_memory", (double)in_mem);
	cJSON_AddNumberToObject(j, "intents_evicted", (double)evicted);
	struct srv_stream_stats ss = {0};
	if (srv->stream)
		srv_stream_stats(srv->stream, &ss);
	cJSON *sj = cJSON_AddObjectToObject(j, "stream");
	cJSON_AddNumberToObject(sj, "clients", (double)ss.clients);
	cJSON_AddNumberToObject(sj, "clients_total", (double)ss.clients_total);
	cJSON_AddNumberToObject(sj, "cut_off", (double)ss.cut_off);
	cJSON_AddNumberToObject(sj, "gaps", (double)ss.gaps);
	cJSON_AddNumberToObject(sj, "events", (double)ss.events);
	return srv_json(out, 200, j);
}

int srv_h_console(struct srv_req *r, struct srv_resp *out)
{
	static const char *const keys[] = {"command", "n", "field", "value"};
	struct srv_bad bad = {0};
	cJSON *body = NULL;
	int rc;
	if (srv_body_object(r->body, r->body_len, false, &body, &bad) ||
	    srv_check_keys(body, keys, sizeof keys / sizeof keys[0], "", &bad)) {
		cJSON_Delete(body);
		return srv_bad_reply(out, &bad);
	}
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(body, "command");
	enum con_cmd c = N_CMDS;
	for (int i = 0; cJSON_IsString(cmd) && i < N_CMDS; i++)
		if (!strcmp(cmd->valuestring, console_cmds[i]))
			c = (enum con_cmd)i;
	/* Arguments belong to their command only. */
	static const char *const args_of[N_CMDS][2] = {
		[CON_STEP] = {"n", NULL}, [CON_SET] = {"field", "value"}};
	const cJSON *it;
	if (c < N_CMDS)
		cJSON_ArrayForEach(it, body) {
			if (!strcmp(it->string, "command"))
				continue;
			if ((args_of[c][0] && !strcmp(it->string, args_of[c][0])) ||
			    (args_of[c][1] && !strcmp(it->string, args_of[c][1])))
				continue;
			/* unknown_field's usual details (unknown, allowed: the
			 * members this command takes), plus field and command. */
			cJSON *d = cJSON_CreateObject();
			cJSON *unknown = cJSON_AddArrayToObject(d, "unknown");
			srv_jpush(unknown, cJSON_CreateString(it->string));
			cJSON *allowed = cJSON_AddArrayToObject(d, "allowed");
			srv_jpush(allowed, cJSON_CreateString("command"));
			for (int k = 0; k < 2 && args_of[c][k]; k++)
				srv_jpush(allowed, cJSON_CreateString(args_of[c][k]));
			cJSON_AddStringToObject(d, "field", it->string);
			cJSON_AddStringToObject(d, "command", console_cmds[c]);
			srv_bad_set(&bad, "unknown_field", d, "'%s' takes no '%s'", console_cmds[c],
				    it->string);
			cJSON_Delete(body);
			return srv_bad_reply(out, &bad);
		}
	uint64_t apply = next_tick(r->srv);
	switch (c) {
	case CON_PAUSE: {
		uint64_t t = 0;
		int lrc = srv_loop_pause(r->srv, srv_actor(r), &t);
		rc = loop_result(r, out, "pause", lrc, apply, t);
		break;
	}
	case CON_RESUME: {
		uint64_t t = 0;
		int lrc = srv_loop_resume(r->srv, srv_actor(r), &t);
		rc = loop_result(r, out, "resume", lrc, apply, t);
		break;
	}
	case CON_STEP:
		rc = con_step(r, out, body);
		break;
	case CON_SET:
		rc = con_set(r, out, body);
		break;
	case CON_SNAPSHOT:
		rc = con_snapshot(r, out);
		break;
	case CON_STATUS:
		rc = con_status(r, out);
		break;
	case N_CMDS:
	default: {
		cJSON *d = cJSON_CreateObject();
		srv_jadd(d, "commands", srv_json_names((char *const *)console_cmds, N_CMDS));
		if (!cmd)
			srv_bad_set(&bad, "missing_field", d,
				    "'command' is required (pause, resume, step, set, snapshot, "
				    "status)");
		else
			srv_bad_set(&bad, "unknown_command", d,
				    "unknown console command (known: pause, resume, step, set, "
				    "snapshot, status)");
		rc = srv_bad_reply(out, &bad);
		break;
	}
	}
	cJSON_Delete(body);
	return rc;
}
