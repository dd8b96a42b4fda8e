/* srv_json.c: JSON shared by the API handlers: request bodies checked field
 * by field (the submission parser), intent records as JSON (summary, full
 * record with history) and the human story of an intent. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "srv_int.h"

/* ------------------------------------------------------------ refusals */

int srv_bad_set(struct srv_bad *b, const char *code, cJSON *details, const char *fmt, ...)
{
	va_list ap;
	cJSON_Delete(b->details);
	b->status = 400;
	b->code = code;
	b->details = details;
	va_start(ap, fmt);
	vsnprintf(b->msg, sizeof b->msg, fmt, ap);
	va_end(ap);
	return ITD_EINVAL;
}

int srv_bad_type(struct srv_bad *b, const char *field, const char *expected)
{
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "field", field);
	cJSON_AddStringToObject(d, "expected", expected);
	return srv_bad_set(b, "invalid_field", d, "'%s' must be %s", field, expected);
}

int srv_bad_reply(struct srv_resp *out, struct srv_bad *b)
{
	cJSON *d = b->details;
	b->details = NULL;
	return srv_error(out, b->status ? b->status : 400, b->code ? b->code : "bad_request", d,
			 "%s", b->msg);
}

void srv_bad_fini(struct srv_bad *b)
{
	cJSON_Delete(b->details);
	b->details = NULL;
}

void srv_jpush(cJSON *arr, cJSON *item)
{
	if (!arr || !item || !cJSON_AddItemToArray(arr, item))
		cJSON_Delete(item);
}

void srv_jadd(cJSON *obj, const char *key, cJSON *item)
{
	if (!obj || !item || !cJSON_AddItemToObject(obj, key, item))
		cJSON_Delete(item);
}

cJSON *srv_json_names(char *const *names, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; a && i < n; i++)
		srv_jpush(a, cJSON_CreateString(names[i]));
	return a;
}

/* "a, b, c" of an array of strings, cut to cap. */
static void join(const cJSON *arr, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it) || len >= cap)
			continue;
		int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", it->valuestring);
		len += n > 0 ? (size_t)n : 0;
	}
}

int srv_body_object(const char *body, size_t len, bool optional, cJSON **out,
		    struct srv_bad *bad)
{
	*out = NULL;
	size_t i = 0;
	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	if (i == len) {
		if (optional)
			return ITD_OK;
		return srv_bad_set(bad, "malformed_json", NULL, "empty body: a JSON object expected");
	}
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (!j) {
		size_t at = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
		cJSON *d = cJSON_CreateObject();
		cJSON_AddNumberToObject(d, "offset", (double)at);
		return srv_bad_set(bad, "malformed_json", d, "malformed JSON near byte %zu", at);
	}
	/* Only whitespace may follow the value. */
	size_t at = end ? (size_t)(end - body) : len;
	while (at < len && (body[at] == ' ' || body[at] == '\t' || body[at] == '\r' ||
			    body[at] == '\n'))
		at++;
	if (at < len) {
		cJSON_Delete(j);
		cJSON *d = cJSON_CreateObject();
		cJSON_AddNumberToObject(d, "offset", (double)at);
		return srv_bad_set(bad, "malformed_json", d, "trailing data after the JSON value at byte %zu",
				   at);
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return srv_bad_set(bad, "invalid_body", NULL, "the body must be a JSON object");
	}
	*out = j;
	return ITD_OK;
}

/* Objects we accept have a few members; refusing big ones early keeps the
 * duplicate check (quadratic) cheap whatever the body holds. */
#define MAX_MEMBERS 64

static bool too_many(const cJSON *obj, const char *where, struct srv_bad *bad)
{
	int n = cJSON_GetArraySize(obj);
	if (n <= MAX_MEMBERS)
		return false;
	cJSON *d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "max", MAX_MEMBERS);
	srv_bad_set(bad, "too_many_fields", d, "too many members in %s (%d, at most %d)",
		    *where ? where : "the body", n, MAX_MEMBERS);
	return true;
}

int srv_check_keys(const cJSON *obj, const char *const *allowed, size_t n_allowed,
		   const char *where, struct srv_bad *bad)
{
	cJSON *unknown = NULL;
	const cJSON *it;
	if (too_many(obj, where, bad))
		return ITD_EINVAL;
	cJSON_ArrayForEach(it, obj) {
		const char *k = it->string ? it->string : "";
		for (const cJSON *p = obj->child; p && p != it; p = p->next)
			if (p->string && !strcmp(p->string, k)) {
				cJSON_Delete(unknown);
				cJSON *d = cJSON_CreateObject();
				cJSON_AddStringToObject(d, "field", k);
				return srv_bad_set(bad, "duplicate_field", d, "'%s%s' given twice",
						   where, k);
			}
		bool ok = false;
		for (size_t i = 0; i < n_allowed && !ok; i++)
			ok = !strcmp(allowed[i], k);
		if (ok)
			continue;
		if (!unknown && !(unknown = cJSON_CreateArray()))
			return ITD_ENOMEM;
		srv_jpush(unknown, cJSON_CreateString(k));
	}
	if (!unknown)
		return ITD_OK;
	cJSON *d = cJSON_CreateObject();
	cJSON *al = srv_json_names((char *const *)allowed, n_allowed);
	char ub[160], ab[160];
	join(unknown, ub, sizeof ub);
	join(al, ab, sizeof ab);
	srv_bad_set(bad, "unknown_field", NULL, "unknown field%s %s%s%s (allowed: %s)",
		    cJSON_GetArraySize(unknown) > 1 ? "s" : "", where, *where ? ": " : "", ub, ab);
	srv_jadd(d, "unknown", unknown);
	srv_jadd(d, "allowed", al);
	if (*where)
		cJSON_AddStringToObject(d, "in", where);
	bad->details = d;
	return ITD_EINVAL;
}

/* --------------------------------------------------------- submissions */

static const char *const submit_keys[] = {
	"type", "goal", "params", "priority", "deadline_ticks", "idempotency_key", "source",
};
static const char *const goal_keys[] = {"metric", "reference", "tolerance"};
static const char *const sources_allowed[] = {"ground", "playbook", "schedule"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static bool is_num(const cJSON *j)
{
	return cJSON_IsNumber(j) && isfinite(j->valuedouble);
}

static int parse_goal(const struct itd_scenario *s, const cJSON *g, struct itd_goal *out,
		      struct srv_bad *bad)
{
	if (!cJSON_IsObject(g))
		return srv_bad_type(bad, "goal", "an object {metric, reference, tolerance}");
	int rc = srv_check_keys(g, goal_keys, N_OF(goal_keys), "goal.", bad);
	if (rc)
		return rc;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(g, "metric");
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(g, "reference");
	const cJSON *tol = cJSON_GetObjectItemCaseSensitive(g, "tolerance");
	if (!m || !ref) {
		cJSON *d = cJSON_CreateObject();
		const char *f = !m ? "goal.metric" : "goal.reference";
		cJSON_AddStringToObject(d, "field", f);
		return srv_bad_set(bad, "missing_field", d, "'%s' is required", f);
	}
	int field = cJSON_IsString(m) ? itd_scenario_field(s, m->valuestring) : -1;
	if (field < 0 || s->fields[field].type != ITD_T_NUM) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "field", "goal.metric");
		cJSON_AddStringToObject(d, "expected", "the name of a number state field");
		cJSON *known = cJSON_AddArrayToObject(d, "known");
		for (size_t i = 0; i < s->n_fields; i++)
			if (s->fields[i].type == ITD_T_NUM)
				srv_jpush(known, cJSON_CreateString(s->fields[i].name));
		return srv_bad_set(bad, "invalid_field", d,
				   "'goal.metric' must name a number state field");
	}
	if (!is_num(ref))
		return srv_bad_type(bad, "goal.reference", "number");
	if (tol && (!is_num(tol) || tol->valuedouble < 0))
		return srv_bad_type(bad, "goal.tolerance", "number >= 0");
	*out = (struct itd_goal){.present = true, .metric = (uint32_t)field,
				 .reference = ref->valuedouble,
				 .tolerance = tol ? tol->valuedouble : 0};
	return ITD_OK;
}

static int parse_params(const struct itd_intent_type *ty, const cJSON *p, struct srv_submit *sb,
			struct srv_bad *bad)
{
	if (!cJSON_IsObject(p))
		return srv_bad_type(bad, "params", "an object");
	if (too_many(p, "params", bad))
		return ITD_EINVAL;
	cJSON *unknown = NULL;
	const cJSON *it;
	size_t str_bytes = 0;
	cJSON_ArrayForEach(it, p) {
		const char *k = it->string ? it->string : "";
		for (const cJSON *q = p->child; q && q != it; q = q->next)
			if (q->string && !strcmp(q->string, k)) {
				cJSON_Delete(unknown);
				cJSON *d = cJSON_CreateObject();
				cJSON_AddStringToObject(d, "field", k);
				return srv_bad_set(bad, "duplicate_field", d, "'params.%s' given twice", k);
			}
		int idx = itd_scenario_param(ty, k);
		if (idx < 0) {
			if (!unknown && !(unknown = cJSON_CreateArray()))
				return ITD_ENOMEM;
			srv_jpush(unknown, cJSON_CreateString(k));
		}
	}
	if (unknown) {
		cJSON *d = cJSON_CreateObject();
		cJSON *decl = cJSON_CreateArray();
		for (size_t i = 0; i < ty->n_params; i++)
			srv_jpush(decl, cJSON_CreateString(ty->params[i].name));
		char ub[160], db[160];
		join(unknown, ub, sizeof ub);
		join(decl, db, sizeof db);
		srv_bad_set(bad, "unknown_param", NULL,
			    "unknown parameter%s for '%s': %s (declared: %s)",
			    cJSON_GetArraySize(unknown) > 1 ? "s" : "", ty->name, ub,
			    ty->n_params ? db : "none");
		srv_jadd(d, "unknown", unknown);
		srv_jadd(d, "declared", decl);
		cJSON_AddStringToObject(d, "type", ty->name);
		bad->details = d;
		return ITD_EINVAL;
	}
	cJSON_ArrayForEach(it, p) {
		int idx = itd_scenario_param(ty, it->string);
		const struct itd_param_def *pd = &ty->params[idx];
		char field[96];
		snprintf(field, sizeof field, "params.%s", pd->name);
		struct itd_value v = {.type = pd->type};
		switch (pd->type) {
		case ITD_T_NUM:
			if (!is_num(it))
				return srv_bad_type(bad, field, "number");
			v.num = it->valuedouble;
			break;
		case ITD_T_BOOL:
			if (!cJSON_IsBool(it))
				return srv_bad_type(bad, field, "bool");
			v.b = cJSON_IsTrue(it);
			break;
		case ITD_T_STR:
			if (!cJSON_IsString(it))
				return srv_bad_type(bad, field, "string");
			v.str = it->valuestring;
			str_bytes += strlen(v.str) + 1;
			break;
		case ITD_T_NONE:
			return srv_bad_type(bad, field, "a value of the declared type");
		}
		if (sb->sub.n_params == ITD_MAX_PARAMS)
			return srv_bad_set(bad, "invalid_field", NULL,
					   "too many parameters (at most %d)", ITD_MAX_PARAMS);
		sb->params[sb->sub.n_params++] = (struct itd_param_value){.param = (uint32_t)idx,
									  .value = v};
	}
	/* The intent keeps its strings, each with its terminator, in
	 * ITD_PARAM_BYTES: that sum is the limit, in the message and in
	 * max_bytes alike (one string alone: ITD_PARAM_BYTES - 1 bytes). */
	if (str_bytes > ITD_PARAM_BYTES) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "field", "params");
		cJSON_AddNumberToObject(d, "max_bytes", ITD_PARAM_BYTES);
		return srv_bad_set(bad, "too_long", d,
				   "string parameters take %zu bytes, at most %d in all (one "
				   "terminator per string counted)",
				   str_bytes, ITD_PARAM_BYTES);
	}
	return ITD_OK;
}

/* Every required parameter of ty present. */
static int check_required(const struct itd_intent_type *ty, const struct srv_submit *sb,
			  struct srv_bad *bad)
{
	for (size_t p = 0; p < ty->n_params; p++) {
		if (!ty->params[p].required)
			continue;
		bool given = false;
		for (size_t i = 0; i < sb->sub.n_params; i++)
			given |= sb->params[i].param == p;
		if (given)
			continue;
		char field[96];
		snprintf(field, sizeof field, "params.%s", ty->params[p].name);
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "field", field);
		cJSON_AddStringToObject(d, "expected", itd_type_name(ty->params[p].type));
		return srv_bad_set(bad, "missing_field", d, "'%s' is required for '%s'", field,
				   ty->name);
	}
	return ITD_OK;
}

/* The canonical form of a valid submission: fixed key order, defaults
 * filled in, parameters in declaration order.  Two bodies that ask for
 * the same thing hash alike, whatever their key order or spacing. */
/* Seed of the idempotency hash ("itd-body"). */
#define BODY_SEED UINT64_C(0x6974642d626f6479)

static void hash_str(struct itd_hash_stream *h, const char *v)
{
	uint64_t n = v ? strlen(v) : 0;
	itd_hash_stream_update(h, &n, sizeof n);
	itd_hash_stream_update(h, v ? v : "", n);
}

static void hash_num(struct itd_hash_stream *h, double v)
{
	if (v == 0)
		v = 0; /* -0 asks for what 0 asks for */
	itd_hash_stream_update(h, &v, sizeof v);
}

/* What the submission asks for, as a hash: the type, source, priority,
 * deadline, goal, key and the parameters given, in the order the type
 * declares them, each field length-prefixed.  It is taken from the parsed
 * values, so key order, spacing and number spelling (1, 1.0, 1e0) do not
 * matter to idempotency. */
static int body_hash(const struct itd_scenario *s, const struct srv_submit *sb, uint64_t *out)
{
	const struct itd_submission *sub = &sb->sub;
	const struct itd_intent_type *ty = &s->types[sub->type];
	struct itd_hash_stream h;
	itd_hash_stream_init(&h, BODY_SEED);
	hash_str(&h, ty->name);
	hash_str(&h, itd_source_name(sub->source));
	hash_num(&h, sub->priority);
	itd_hash_stream_update(&h, &sub->deadline_ticks, sizeof sub->deadline_ticks);
	uint8_t goal = sub->goal.present;
	itd_hash_stream_update(&h, &goal, 1);
	if (goal) {
		hash_str(&h, s->fields[sub->goal.metric].name);
		hash_num(&h, sub->goal.reference);
		hash_num(&h, sub->goal.tolerance);
	}
	uint8_t keyed = sub->idempotency_key != NULL;
	itd_hash_stream_update(&h, &keyed, 1);
	hash_str(&h, sub->idempotency_key);
	for (size_t d = 0; d < ty->n_params; d++)
		for (size_t i = 0; i < sub->n_params; i++) {
			const struct itd_value *v = &sb->params[i].value;
			if (sb->params[i].param != d)
				continue;
			hash_str(&h, ty->params[d].name);
			uint8_t t = (uint8_t)v->type;
			itd_hash_stream_update(&h, &t, 1);
			if (v->type == ITD_T_NUM)
				hash_num(&h, v->num);
			else if (v->type == ITD_T_BOOL)
				itd_hash_stream_update(&h, &(uint8_t){v->b}, 1);
			else if (v->type == ITD_T_STR)
				hash_str(&h, v->str);
		}
	*out = itd_hash_stream_digest(&h);
	return ITD_OK;
}

int srv_submit_parse(const struct itd_scenario *s, const char *body, size_t len,
		     struct srv_submit *sb, struct srv_bad *bad)
{
	cJSON *root = NULL;
	int rc = srv_body_object(body, len, false, &root, bad);
	if (rc) {
		memset(sb, 0, sizeof *sb);
		return rc;
	}
	rc = srv_submit_check(s, root, sb, bad);
	sb->root = root; /* owned from here: srv_submit_fini frees it */
	return rc;
}

int srv_submit_check(const struct itd_scenario *s, const cJSON *root, struct srv_submit *sb,
		     struct srv_bad *bad)
{
	memset(sb, 0, sizeof *sb);
	sb->sub.params = sb->params;
	sb->sub.source = ITD_SRC_GROUND;
	int rc;
	if (!cJSON_IsObject(root)) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "expected", "object");
		return srv_bad_set(bad, "invalid_body", d, "a submission must be a JSON object");
	}
	if ((rc = srv_check_keys(root, submit_keys, N_OF(submit_keys), "", bad)))
		return rc;

	const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (!type) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "field", "type");
		return srv_bad_set(bad, "missing_field", d, "'type' is required");
	}
	if (!cJSON_IsString(type))
		return srv_bad_type(bad, "type", "string");
	int ti = itd_scenario_type(s, type->valuestring);
	if (ti < 0) {
		cJSON *d = cJSON_CreateObject();
		cJSON *known = cJSON_AddArrayToObject(d, "known");
		for (size_t i = 0; i < s->n_types; i++)
			srv_jpush(known, cJSON_CreateString(s->types[i].name));
		char kb[200];
		join(known, kb, sizeof kb);
		return srv_bad_set(bad, "unknown_intent_type", d,
				   "unknown intent type '%.64s' (known: %s)", type->valuestring, kb);
	}
	const struct itd_intent_type *ty = &s->types[ti];
	sb->sub.type = (uint32_t)ti;

	const cJSON *goal = cJSON_GetObjectItemCaseSensitive(root, "goal");
	if (goal && !cJSON_IsNull(goal)) {
		if (ty->goal == ITD_GOAL_NONE) {
			cJSON *d = cJSON_CreateObject();
			cJSON_AddStringToObject(d, "field", "goal");
			cJSON_AddStringToObject(d, "type", ty->name);
			return srv_bad_set(bad, "forbidden_field", d,
					   "intent type '%s' takes no goal", ty->name);
		}
		if ((rc = parse_goal(s, goal, &sb->sub.goal, bad)))
			return rc;
	} else if (ty->goal == ITD_GOAL_REQUIRED) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "field", "goal");
		cJSON_AddStringToObject(d, "type", ty->name);
		return srv_bad_set(bad, "missing_field", d,
				   "intent type '%s' requires a goal {metric, reference, tolerance}",
				   ty->name);
	}

	const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
	if (params && (rc = parse_params(ty, params, sb, bad)))
		return rc;
	if ((rc = check_required(ty, sb, bad)))
		return rc;

	const cJSON *prio = cJSON_GetObjectItemCaseSensitive(root, "priority");
	if (prio) {
		if (!is_num(prio))
			return srv_bad_type(bad, "priority", "number");
		sb->sub.priority = prio->valuedouble;
	}
	const cJSON *dl = cJSON_GetObjectItemCaseSensitive(root, "deadline_ticks");
	if (dl) {
		double v = dl->valuedouble;
		if (!is_num(dl) || v < 0 || v != floor(v) || v > 9007199254740992.0)
			return srv_bad_type(bad, "deadline_ticks", "integer >= 0");
		sb->sub.deadline_ticks = (uint64_t)v;
	}
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(root, "idempotency_key");
	if (key) {
		size_t n = cJSON_IsString(key) ? strlen(key->valuestring) : 0;
		if (n < 1 || n >= ITD_KEY_LEN) {
			char expected[48];
			snprintf(expected, sizeof expected, "string of 1..%d bytes", ITD_KEY_LEN - 1);
			return srv_bad_type(bad, "idempotency_key", expected);
		}
		sb->sub.idempotency_key = key->valuestring;
	}
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(root, "source");
	if (src) {
		int si = -1;
		for (size_t i = 0; cJSON_IsString(src) && i < N_OF(sources_allowed); i++)
			if (!strcmp(src->valuestring, sources_allowed[i]))
				si = itd_source_parse(sources_allowed[i]);
		if (si < 0) {
			cJSON *d = cJSON_CreateObject();
			cJSON_AddStringToObject(d, "field", "source");
			cJSON_AddStringToObject(d, "expected", "one of ground, playbook, schedule");
			srv_jadd(d, "allowed",
				 srv_json_names((char *const *)sources_allowed,
						N_OF(sources_allowed)));
			return srv_bad_set(bad, "invalid_field", d,
					   "'source' must be one of ground, playbook, schedule "
					   "(autonomous intents come from the scenario's rules)");
		}
		sb->sub.source = (enum itd_source)si;
	}
	return body_hash(s, sb, &sb->sub.body_hash);
}

void srv_submit_fini(struct srv_submit *sb)
{
	cJSON_Delete(sb->root);
	sb->root = NULL;
}

/* ------------------------------------------------------------- intents */

cJSON *srv_json_value(const struct itd_value *v)
{
	switch (v->type) {
	case ITD_T_NUM:
		return cJSON_CreateNumber(v->num);
	case ITD_T_BOOL:
		return cJSON_CreateBool(v->b);
	case ITD_T_STR:
		return cJSON_CreateString(v->str ? v->str : "");
	case ITD_T_NONE:
		break;
	}
	return cJSON_CreateNull();
}

static void add_str_or_null(cJSON *o, const char *k, const char *v)
{
	if (v && *v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static void add_goal(cJSON *o, const struct itd_scenario *s, const struct itd_goal *g)
{
	if (!g->present) {
		cJSON_AddNullToObject(o, "goal");
		return;
	}
	cJSON *j = cJSON_AddObjectToObject(o, "goal");
	cJSON_AddStringToObject(j, "metric", s->fields[g->metric].name);
	cJSON_AddNumberToObject(j, "reference", g->reference);
	cJSON_AddNumberToObject(j, "tolerance", g->tolerance);
}

/* A tiny appender for the story text; it truncates silently. */
struct story {
	char *buf;
	size_t cap, len;
};

static void say(struct story *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct story *st, const char *fmt, ...)
{
	if (st->len + 1 >= st->cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(st->buf + st->len, st->cap - st->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		st->len = st->len + (size_t)n < st->cap ? st->len + (size_t)n : st->cap - 1;
}

size_t srv_intent_story(const struct itd_engine *e, const struct itd_intent *in, char *buf,
			size_t cap)
{
	const struct itd_scenario *s = itd_engine_scenario(e);
	const struct itd_intents *t = itd_engine_intents_c(e);
	struct story st = {buf, cap, 0};
	if (!cap)
		return 0;
	buf[0] = '\0';
	say(&st, "%s (%s) was received at tick %" PRIu64 " from %s", in->id,
	    s->types[in->type].name, in->created_tick, itd_source_name(in->source));
	if (in->actor[0])
		say(&st, " by %s", in->actor);
	say(&st, " with priority %g", in->priority);
	if (in->goal.present)
		say(&st, " and goal %s -> %g (+-%g)", s->fields[in->goal.metric].name,
		    in->goal.reference, in->goal.tolerance);
	say(&st, ".");
	if (in->evaluations)
		say(&st, " Scored %" PRIu64 " time%s.", in->evaluations,
		    in->evaluations == 1 ? "" : "s");
	if (in->status == ITD_ST_BLOCKED || (in->verdict == ITD_VERDICT_BLOCKED &&
					     !itd_status_terminal(in->status))) {
		say(&st, " Blocked by %s since tick %" PRIu64 " (%" PRIu64 " blocked tick%s)",
		    in->verdict_rule ? in->verdict_rule : "a safety rule", in->verdict_tick,
		    in->blocked_ticks, in->blocked_ticks == 1 ? "" : "s");
		say(&st, in->explain[0] ? ": %s." : ".", in->explain);
	} else if (in->blocked_ticks) {
		say(&st, " Blocked for %" PRIu64 " tick%s", in->blocked_ticks,
		    in->blocked_ticks == 1 ? "" : "s");
		if (in->verdict_rule)
			say(&st, " (last by %s)", in->verdict_rule);
		say(&st, ".");
	}
	if (in->executions)
		say(&st, " Executed %" PRIu64 " time%s (first at tick %" PRIu64 ", %" PRIu64
			 " attempt%s).",
		    in->executions, in->executions == 1 ? "" : "s", in->first_exec_tick,
		    in->attempts, in->attempts == 1 ? "" : "s");
	uint64_t held = itd_intent_n_held(t, in);
	const struct itd_transition *last = held ? itd_intent_hist(t, in, held - 1) : NULL;
	uint64_t at = last ? last->tick : in->created_tick;
	const char *why = last && last->reason ? last->reason : "";
	switch (in->status) {
	case ITD_ST_COMPLETED:
		say(&st, " Completed at tick %" PRIu64 " (%s).", at, why);
		break;
	case ITD_ST_FAILED:
		say(&st, " Failed at tick %" PRIu64 " after %" PRIu64 " attempt%s (%s).", at,
		    in->attempts, in->attempts == 1 ? "" : "s", why);
		break;
	case ITD_ST_CANCELLED:
		say(&st, " Cancelled at tick %" PRIu64 " (%s).", at, why);
		break;
	case ITD_ST_EXPIRED:
		say(&st, " Expired at tick %" PRIu64 ", its deadline being tick %" PRIu64 ".", at,
		    in->deadline_tick);
		break;
	case ITD_ST_DENIED:
		say(&st, " Denied at tick %" PRIu64 " (%s).", at, why);
		break;
	case ITD_ST_BACKOFF:
		say(&st, " Failed its last attempt; retried at tick %" PRIu64 ".", in->retry_tick);
		break;
	case ITD_ST_BLOCKED:
		break;
	default:
		say(&st, " Now %s since tick %" PRIu64 ".", itd_status_name(in->status), at);
		if (in->deadline_tick)
			say(&st, " Expires after tick %" PRIu64 ".", in->deadline_tick);
		break;
	}
	if (in->n_hist > held)
		say(&st, " %" PRIu64 " earlier transition%s are no longer held in memory "
			 "(telemetry has every one).",
		    in->n_hist - held, in->n_hist - held == 1 ? "" : "s");
	return st.len;
}

cJSON *srv_json_intent(const struct itd_engine *e, const struct itd_intent *in, bool full)
{
	const struct itd_scenario *s = itd_engine_scenario(e);
	const struct itd_intents *t = itd_engine_intents_c(e);
	const struct itd_intent_type *ty = &s->types[in->type];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "id", in->id);
	cJSON_AddStringToObject(o, "type", ty->name);
	cJSON_AddStringToObject(o, "source", itd_source_name(in->source));
	cJSON_AddStringToObject(o, "status", itd_status_name(in->status));
	cJSON_AddNumberToObject(o, "priority", in->priority);
	cJSON_AddNumberToObject(o, "created_tick", (double)in->created_tick);
	cJSON_AddNumberToObject(o, "evaluations", (double)in->evaluations);
	cJSON_AddNumberToObject(o, "blocked_ticks", (double)in->blocked_ticks);
	cJSON_AddNumberToObject(o, "executions", (double)in->executions);
	cJSON_AddNumberToObject(o, "attempts", (double)in->attempts);
	cJSON_AddStringToObject(o, "verdict", itd_verdict_name(in->verdict));
	add_str_or_null(o, "rule", in->verdict_rule);
	add_str_or_null(o, "actor", in->actor);
	if (!full)
		return o;

	add_goal(o, s, &in->goal);
	cJSON *p = cJSON_AddObjectToObject(o, "params");
	for (uint32_t i = 0; i < ty->n_params; i++) {
		const struct itd_value *v = itd_intent_param(t, in, i);
		if (v)
			srv_jadd(p, ty->params[i].name, srv_json_value(v));
	}
	if (in->deadline_tick)
		cJSON_AddNumberToObject(o, "deadline_tick", (double)in->deadline_tick);
	else
		cJSON_AddNullToObject(o, "deadline_tick");
	add_str_or_null(o, "idempotency_key", in->key);
	cJSON_AddNumberToObject(o, "score", in->score);
	if (in->status == ITD_ST_BACKOFF)
		cJSON_AddNumberToObject(o, "retry_tick", (double)in->retry_tick);
	if (in->first_exec_tick)
		cJSON_AddNumberToObject(o, "first_exec_tick", (double)in->first_exec_tick);

	cJSON *lv = cJSON_AddObjectToObject(o, "last_verdict");
	cJSON_AddStringToObject(lv, "verdict", itd_verdict_name(in->verdict));
	add_str_or_null(lv, "rule", in->verdict_rule);
	add_str_or_null(lv, "explain", in->explain);
	if (in->verdict == ITD_VERDICT_NONE)
		cJSON_AddNullToObject(lv, "tick");
	else
		cJSON_AddNumberToObject(lv, "tick", (double)in->verdict_tick);

	cJSON *h = cJSON_AddArrayToObject(o, "history");
	uint64_t held = itd_intent_n_held(t, in);
	for (uint64_t k = 0; h && k < held; k++) {
		const struct itd_transition *tr = itd_intent_hist(t, in, k);
		cJSON *x = cJSON_CreateObject();
		if (!x)
			break;
		cJSON_AddNumberToObject(x, "tick", (double)tr->tick);
		cJSON_AddStringToObject(x, "from", itd_status_name(tr->from));
		cJSON_AddStringToObject(x, "to", itd_status_name(tr->to));
		add_str_or_null(x, "reason", tr->reason);
		srv_jpush(h, x);
	}
	cJSON_AddNumberToObject(o, "history_total", (double)in->n_hist);
	char story[1024];
	srv_intent_story(e, in, story, sizeof story);
	cJSON_AddStringToObject(o, "explanation", story);
	return o;
}

bool srv_parse_id(const char *id, uint64_t *seq_out)
{
	return id && id[0] == 'i' && id[1] == '-' && srv_parse_u64(id + 2, seq_out) && *seq_out;
}

int srv_bad_query(struct srv_resp *out, const char *param, const char *expected, cJSON *valid)
{
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "param", param);
	cJSON_AddStringToObject(d, "expected", expected);
	if (valid)
		srv_jadd(d, "valid", valid);
	return srv_error(out, 400, "invalid_query", d, "query parameter '%s' must be %s", param,
			 expected);
}

const char *srv_actor(const struct srv_req *r)
{
	return r->who ? r->who->name : NULL;
}

bool srv_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}
