/* test_srv_submit.c: the submission parser (srv_submit_parse): every field
 * checked with the right error code and details, canonical body hashes,
 * garbage and allocation failures survived; and intent records as JSON
 * (srv_json_intent, srv_intent_story) on a running engine. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scenario_fixture.h"
#include "server/srv_int.h"

static const char *const typed_yaml =
	"scenario: typed\n"
	"state:\n"
	"  level: { type: number, initial: 50, min: 0, max: 100 }\n"
	"  valve: { type: string, initial: closed, values: [closed, open] }\n"
	"  ok: { type: bool, initial: true }\n"
	"intent_types:\n"
	"  fill:\n"
	"    goal: required\n"
	"    params:\n"
	"      rate: { type: number, required: true }\n"
	"      operator: { type: string, default: auto }\n"
	"      ticket: { type: string }\n"
	"      dry: { type: bool, default: false }\n"
	"    score: intent.params.rate\n"
	"    effect:\n"
	"      - { set: level, to: state.level + intent.params.rate }\n"
	"    complete_when: state.level >= intent.goal.reference\n"
	"  vent:\n"
	"    score: '1'\n"
	"    effect:\n"
	"      - { set: level, to: state.level - 1 }\n"
	"  trim:\n"
	"    goal: optional\n"
	"    score: '1'\n"
	"    effect:\n"
	"      - { set: level, to: state.level }\n";

struct fx {
	struct itd_scenario *craft; /* the built-in spacecraft */
	struct itd_scenario *typed; /* typed parameters */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->craft = fixture_builtin("spacecraft", NULL, 0);
	f->typed = fixture_text(typed_yaml);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	itd_scenario_destroy(f->craft);
	itd_scenario_destroy(f->typed);
	free(f);
	return 0;
}

/* Parse body; on success keep sb for the caller (fini it). */
static int parse(const struct itd_scenario *s, const char *body, struct srv_submit *sb,
		 struct srv_bad *bad)
{
	memset(bad, 0, sizeof *bad);
	return srv_submit_parse(s, body, strlen(body), sb, bad);
}

/* body must be refused with code; returns the details (caller frees). */
static cJSON *refused(const struct itd_scenario *s, const char *body, const char *code)
{
	struct srv_submit sb;
	struct srv_bad bad;
	int rc = parse(s, body, &sb, &bad);
	srv_submit_fini(&sb);
	if (rc != ITD_EINVAL || !bad.code || strcmp(bad.code, code))
		fail_msg("body %s: rc %d code %s (want %s), message: %s", body, rc,
			 bad.code ? bad.code : "(none)", code, bad.msg);
	assert_int_equal(bad.status, 400);
	assert_true(bad.msg[0] != '\0');
	cJSON *d = bad.details;
	bad.details = NULL;
	return d;
}

static const char *dstr(const cJSON *d, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, key);
	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

static bool arr_has(const cJSON *d, const char *key, const char *s)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, key), *it;
	cJSON_ArrayForEach(it, a)
		if (cJSON_IsString(it) && !strcmp(it->valuestring, s))
			return true;
	return false;
}

static void test_valid_full(void **state)
{
	struct fx *f = *state;
	struct srv_submit sb;
	struct srv_bad bad;
	const char *body =
		" {\"type\":\"orbit_correction\",\"goal\":{\"metric\":\"position\",\"reference\":3.5,"
		"\"tolerance\":0.25},\"params\":{},\"priority\":-2.5,\"deadline_ticks\":600,"
		"\"idempotency_key\":\"op-42\",\"source\":\"playbook\"}\n";
	assert_int_equal(parse(f->craft, body, &sb, &bad), ITD_OK);
	assert_int_equal(sb.sub.type, itd_scenario_type(f->craft, "orbit_correction"));
	assert_true(sb.sub.goal.present);
	assert_int_equal(sb.sub.goal.metric, itd_scenario_field(f->craft, "position"));
	assert_true(sb.sub.goal.reference == 3.5 && sb.sub.goal.tolerance == 0.25);
	assert_true(sb.sub.priority == -2.5);
	assert_int_equal(sb.sub.deadline_ticks, 600);
	assert_string_equal(sb.sub.idempotency_key, "op-42");
	assert_int_equal(sb.sub.source, ITD_SRC_PLAYBOOK);
	assert_int_equal(sb.sub.n_params, 0);
	assert_null(sb.sub.actor);
	assert_true(sb.sub.body_hash != 0);
	srv_submit_fini(&sb);

	/* Defaults: tolerance 0, priority 0, source ground, no key. */
	assert_int_equal(parse(f->craft,
			       "{\"type\":\"orbit_correction\",\"goal\":{\"metric\":\"position\","
			       "\"reference\":1}}",
			       &sb, &bad),
			 ITD_OK);
	assert_true(sb.sub.goal.tolerance == 0 && sb.sub.priority == 0);
	assert_int_equal(sb.sub.source, ITD_SRC_GROUND);
	assert_null(sb.sub.idempotency_key);
	assert_int_equal(sb.sub.deadline_ticks, 0);
	srv_submit_fini(&sb);

	/* A goal of null is no goal. */
	assert_int_equal(parse(f->craft, "{\"type\":\"battery_recovery\",\"goal\":null}", &sb, &bad),
			 ITD_OK);
	assert_false(sb.sub.goal.present);
	srv_submit_fini(&sb);
}

static void test_typed_params(void **state)
{
	struct fx *f = *state;
	struct srv_submit sb;
	struct srv_bad bad;
	const struct itd_intent_type *ty = &f->typed->types[itd_scenario_type(f->typed, "fill")];
	assert_int_equal(parse(f->typed,
			       "{\"type\":\"fill\",\"goal\":{\"metric\":\"level\",\"reference\":80},"
			       "\"params\":{\"dry\":true,\"rate\":2.5,\"operator\":\"alice\"}}",
			       &sb, &bad),
			 ITD_OK);
	assert_int_equal(sb.sub.n_params, 3);
	for (size_t i = 0; i < sb.sub.n_params; i++) {
		const struct itd_param_value *pv = &sb.sub.params[i];
		const char *name = ty->params[pv->param].name;
		assert_int_equal(pv->value.type, ty->params[pv->param].type);
		if (!strcmp(name, "rate"))
			assert_true(pv->value.num == 2.5);
		else if (!strcmp(name, "operator"))
			assert_string_equal(pv->value.str, "alice");
		else
			assert_true(!strcmp(name, "dry") && pv->value.b);
	}
	srv_submit_fini(&sb);

	const char *pre = "{\"type\":\"fill\",\"goal\":{\"metric\":\"level\",\"reference\":80},";
	char body[1024];
	cJSON *d;
	snprintf(body, sizeof body, "%s\"params\":{\"rate\":\"fast\"}}", pre);
	d = refused(f->typed, body, "invalid_field");
	assert_string_equal(dstr(d, "field"), "params.rate");
	assert_string_equal(dstr(d, "expected"), "number");
	cJSON_Delete(d);

	snprintf(body, sizeof body, "%s\"params\":{\"rate\":1,\"dry\":1}}", pre);
	d = refused(f->typed, body, "invalid_field");
	assert_string_equal(dstr(d, "field"), "params.dry");
	assert_string_equal(dstr(d, "expected"), "bool");
	cJSON_Delete(d);

	snprintf(body, sizeof body, "%s\"params\":{\"rate\":1,\"operator\":7}}", pre);
	d = refused(f->typed, body, "invalid_field");
	assert_string_equal(dstr(d, "expected"), "string");
	cJSON_Delete(d);

	snprintf(body, sizeof body, "%s\"params\":{\"operator\":\"bob\"}}", pre);
	d = refused(f->typed, body, "missing_field");
	assert_string_equal(dstr(d, "field"), "params.rate");
	cJSON_Delete(d);
	snprintf(body, sizeof body, "%s\"params\":{}}", pre);
	cJSON_Delete(refused(f->typed, body, "missing_field"));
	snprintf(body, sizeof body, "%s\"params\":[1]}", pre);
	cJSON_Delete(refused(f->typed, body, "invalid_field"));

	snprintf(body, sizeof body, "%s\"params\":{\"rate\":1,\"speed\":2,\"colour\":\"red\"}}", pre);
	d = refused(f->typed, body, "unknown_param");
	assert_true(arr_has(d, "unknown", "speed") && arr_has(d, "unknown", "colour"));
	assert_true(arr_has(d, "declared", "rate") && arr_has(d, "declared", "operator") &&
		    arr_has(d, "declared", "ticket") && arr_has(d, "declared", "dry"));
	cJSON_Delete(d);

	snprintf(body, sizeof body, "%s\"params\":{\"rate\":1,\"rate\":2}}", pre);
	cJSON_Delete(refused(f->typed, body, "duplicate_field"));
	snprintf(body, sizeof body, "%s\"params\":{\"rate\":1e999}}", pre);
	cJSON_Delete(refused(f->typed, body, "invalid_field"));

	/* String parameters share 256 bytes (with one terminator each). */
	char a[200], b[100];
	memset(a, 'a', sizeof a - 1);
	a[sizeof a - 1] = '\0';
	memset(b, 'b', 55);
	b[55] = '\0';
	snprintf(body, sizeof body, "%s\"params\":{\"rate\":1,\"operator\":\"%s\",\"ticket\":\"%s\"}}",
		 pre, a, b);
	assert_int_equal(parse(f->typed, body, &sb, &bad), ITD_OK); /* 200 + 56 = 256 */
	srv_submit_fini(&sb);
	b[55] = 'b';
	b[56] = '\0';
	snprintf(body, sizeof body, "%s\"params\":{\"rate\":1,\"operator\":\"%s\",\"ticket\":\"%s\"}}",
		 pre, a, b);
	/* The message and max_bytes name the same limit, the one enforced. */
	struct srv_submit sb2;
	struct srv_bad bad2 = {0};
	assert_int_equal(parse(f->typed, body, &sb2, &bad2), ITD_EINVAL);
	srv_submit_fini(&sb2);
	assert_string_equal(bad2.code, "too_long");
	assert_non_null(strstr(bad2.msg, "257 bytes, at most 256 in all"));
	const cJSON *mb = cJSON_GetObjectItemCaseSensitive(bad2.details, "max_bytes");
	assert_true(cJSON_IsNumber(mb) && mb->valuedouble == ITD_PARAM_BYTES);
	assert_string_equal(dstr(bad2.details, "field"), "params");
	srv_bad_fini(&bad2);
}

static void test_top_level_errors(void **state)
{
	struct fx *f = *state;
	const struct itd_scenario *s = f->craft;
	cJSON *d;

	cJSON_Delete(refused(s, "", "malformed_json"));
	cJSON_Delete(refused(s, "   \n", "malformed_json"));
	cJSON_Delete(refused(s, "{\"type\":", "malformed_json"));
	cJSON_Delete(refused(s, "{\"type\":\"battery_recovery\"} x", "malformed_json"));
	cJSON_Delete(refused(s, "{\"type\":'battery_recovery'}", "malformed_json"));
	cJSON_Delete(refused(s, "[1,2]", "invalid_body"));
	cJSON_Delete(refused(s, "\"type\"", "invalid_body"));
	cJSON_Delete(refused(s, "null", "invalid_body"));

	d = refused(s, "{}", "missing_field");
	assert_string_equal(dstr(d, "field"), "type");
	cJSON_Delete(d);
	d = refused(s, "{\"type\":3}", "invalid_field");
	assert_string_equal(dstr(d, "field"), "type");
	assert_string_equal(dstr(d, "expected"), "string");
	cJSON_Delete(d);

	d = refused(s, "{\"type\":\"warp_drive\"}", "unknown_intent_type");
	assert_true(arr_has(d, "known", "orbit_correction") &&
		    arr_has(d, "known", "battery_recovery") &&
		    arr_has(d, "known", "thermal_recovery"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "known")), 3);
	cJSON_Delete(d);

	d = refused(s, "{\"type\":\"battery_recovery\",\"colour\":1,\"size\":2}", "unknown_field");
	assert_true(arr_has(d, "unknown", "colour") && arr_has(d, "unknown", "size"));
	assert_true(arr_has(d, "allowed", "type") && arr_has(d, "allowed", "idempotency_key"));
	cJSON_Delete(d);
	cJSON_Delete(refused(s, "{\"type\":\"battery_recovery\",\"type\":\"battery_recovery\"}",
			     "duplicate_field"));

	/* Hundreds of members are refused before any quadratic work. */
	static char many[8192];
	size_t n = (size_t)snprintf(many, sizeof many, "{\"type\":\"battery_recovery\"");
	for (int i = 0; i < 500; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, ",\"k%d\":1", i);
	snprintf(many + n, sizeof many - n, "}");
	cJSON_Delete(refused(s, many, "too_many_fields"));
	n = (size_t)snprintf(many, sizeof many, "{\"type\":\"battery_recovery\",\"params\":{");
	for (int i = 0; i < 500; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, "%s\"p%d\":1", i ? "," : "", i);
	snprintf(many + n, sizeof many - n, "}}");
	cJSON_Delete(refused(s, many, "too_many_fields"));

	d = refused(s, "{\"type\":\"battery_recovery\",\"priority\":\"high\"}", "invalid_field");
	assert_string_equal(dstr(d, "field"), "priority");
	assert_string_equal(dstr(d, "expected"), "number");
	cJSON_Delete(d);
	cJSON_Delete(refused(s, "{\"type\":\"battery_recovery\",\"priority\":true}", "invalid_field"));
	cJSON_Delete(refused(s, "{\"type\":\"battery_recovery\",\"priority\":-1e400}", "invalid_field"));

	const char *bad_deadlines[] = {"-1", "1.5", "\"10\"", "1e300", "null"};
	for (size_t i = 0; i < sizeof bad_deadlines / sizeof *bad_deadlines; i++) {
		char body[128];
		snprintf(body, sizeof body, "{\"type\":\"battery_recovery\",\"deadline_ticks\":%s}",
			 bad_deadlines[i]);
		d = refused(s, body, "invalid_field");
		assert_string_equal(dstr(d, "field"), "deadline_ticks");
		cJSON_Delete(d);
	}

	char key[200];
	memset(key, 'k', 64);
	key[64] = '\0';
	char body[300];
	snprintf(body, sizeof body, "{\"type\":\"battery_recovery\",\"idempotency_key\":\"%s\"}", key);
	d = refused(s, body, "invalid_field");
	assert_string_equal(dstr(d, "field"), "idempotency_key");
	assert_string_equal(dstr(d, "expected"), "string of 1..63 bytes"); /* ITD_KEY_LEN - 1 */
	cJSON_Delete(d);
	key[63] = '\0';
	struct srv_submit sb;
	struct srv_bad bad;
	snprintf(body, sizeof body, "{\"type\":\"battery_recovery\",\"idempotency_key\":\"%s\"}", key);
	assert_int_equal(parse(s, body, &sb, &bad), ITD_OK);
	srv_submit_fini(&sb);
	cJSON_Delete(refused(s, "{\"type\":\"battery_recovery\",\"idempotency_key\":\"\"}",
			     "invalid_field"));
	cJSON_Delete(refused(s, "{\"type\":\"battery_recovery\",\"idempotency_key\":5}",
			     "invalid_field"));

	d = refused(s, "{\"type\":\"battery_recovery\",\"source\":\"autonomous\"}", "invalid_field");
	assert_string_equal(dstr(d, "field"), "source");
	assert_true(arr_has(d, "allowed", "ground") && !arr_has(d, "allowed", "autonomous"));
	cJSON_Delete(d);
	cJSON_Delete(refused(s, "{\"type\":\"battery_recovery\",\"source\":\"moon\"}", "invalid_field"));
}

static void test_goal_errors(void **state)
{
	struct fx *f = *state;
	const struct itd_scenario *s = f->craft;
	cJSON *d;

	d = refused(s, "{\"type\":\"orbit_correction\"}", "missing_field");
	assert_string_equal(dstr(d, "field"), "goal");
	cJSON_Delete(d);
	cJSON_Delete(refused(s, "{\"type\":\"orbit_correction\",\"goal\":null}", "missing_field"));
	d = refused(s, "{\"type\":\"battery_recovery\",\"goal\":{\"metric\":\"battery\","
		       "\"reference\":1}}",
		    "forbidden_field");
	assert_string_equal(dstr(d, "field"), "goal");
	cJSON_Delete(d);

	const char *pre = "{\"type\":\"orbit_correction\",\"goal\":";
	struct {
		const char *goal, *code, *field;
	} cases[] = {
		{"3", "invalid_field", "goal"},
		{"{\"reference\":3}", "missing_field", "goal.metric"},
		{"{\"metric\":\"position\"}", "missing_field", "goal.reference"},
		{"{\"metric\":\"altitude\",\"reference\":3}", "invalid_field", "goal.metric"},
		{"{\"metric\":7,\"reference\":3}", "invalid_field", "goal.metric"},
		{"{\"metric\":\"position\",\"reference\":\"3\"}", "invalid_field", "goal.reference"},
		{"{\"metric\":\"position\",\"reference\":3,\"tolerance\":-0.1}", "invalid_field",
		 "goal.tolerance"},
		{"{\"metric\":\"position\",\"reference\":3,\"tolerance\":null}", "invalid_field",
		 "goal.tolerance"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char body[256];
		snprintf(body, sizeof body, "%s%s}", pre, cases[i].goal);
		d = refused(s, body, cases[i].code);
		assert_string_equal(dstr(d, "field"), cases[i].field);
		cJSON_Delete(d);
	}
	d = refused(s, "{\"type\":\"orbit_correction\",\"goal\":{\"metric\":\"position\","
		       "\"reference\":3,\"weight\":2}}",
		    "unknown_field");
	assert_true(arr_has(d, "unknown", "weight") && arr_has(d, "allowed", "tolerance"));
	cJSON_Delete(d);

	/* A string field is no goal metric: the known list has numbers only. */
	d = refused(f->typed, "{\"type\":\"fill\",\"goal\":{\"metric\":\"valve\",\"reference\":1},"
			      "\"params\":{\"rate\":1}}",
		    "invalid_field");
	assert_true(arr_has(d, "known", "level") && !arr_has(d, "known", "valve"));
	cJSON_Delete(d);

	/* Optional goals may be given or not. */
	struct srv_submit sb;
	struct srv_bad bad;
	assert_int_equal(parse(f->typed, "{\"type\":\"trim\"}", &sb, &bad), ITD_OK);
	srv_submit_fini(&sb);
	assert_int_equal(parse(f->typed, "{\"type\":\"trim\",\"goal\":{\"metric\":\"level\","
					 "\"reference\":4}}",
			       &sb, &bad),
			 ITD_OK);
	assert_true(sb.sub.goal.present);
	srv_submit_fini(&sb);
}

static uint64_t hash_of(const struct itd_scenario *s, const char *body)
{
	struct srv_submit sb;
	struct srv_bad bad;
	assert_int_equal(parse(s, body, &sb, &bad), ITD_OK);
	uint64_t h = sb.sub.body_hash;
	srv_submit_fini(&sb);
	return h;
}

static void test_body_hash(void **state)
{
	struct fx *f = *state;
	const struct itd_scenario *s = f->craft;
	uint64_t h = hash_of(s, "{\"type\":\"orbit_correction\",\"goal\":{\"metric\":\"position\","
				"\"reference\":3,\"tolerance\":0.1},\"idempotency_key\":\"k\"}");
	/* Key order, spacing and spelled-out defaults do not matter. */
	assert_true(h == hash_of(s, "{ \"idempotency_key\" : \"k\", \"goal\": {\"tolerance\":0.1,"
				    "\"reference\":3.0,\"metric\":\"position\"},"
				    "\"type\":\"orbit_correction\", \"priority\": 0,"
				    "\"source\":\"ground\",\"params\":{}}"));
	/* What is asked for does. */
	assert_true(h != hash_of(s, "{\"type\":\"orbit_correction\",\"goal\":{\"metric\":\"position\","
				    "\"reference\":3.5,\"tolerance\":0.1},\"idempotency_key\":\"k\"}"));
	assert_true(h != hash_of(s, "{\"type\":\"orbit_correction\",\"goal\":{\"metric\":\"position\","
				    "\"reference\":3,\"tolerance\":0.1},\"idempotency_key\":\"k\","
				    "\"priority\":1}"));
	assert_true(h != hash_of(s, "{\"type\":\"orbit_correction\",\"goal\":{\"metric\":\"position\","
				    "\"reference\":3,\"tolerance\":0.1},\"idempotency_key\":\"k\","
				    "\"source\":\"schedule\"}"));
	assert_true(h != hash_of(s, "{\"type\":\"orbit_correction\",\"goal\":{\"metric\":\"position\","
				    "\"reference\":3,\"tolerance\":0.1},\"idempotency_key\":\"k\","
				    "\"deadline_ticks\":50}"));
	assert_true(h == hash_of(s, "{\"type\":\"orbit_correction\",\"goal\":{\"metric\":\"position\","
				    "\"reference\":3e0,\"tolerance\":1e-1},\"idempotency_key\":\"k\","
				    "\"priority\":-0}"));
	uint64_t p1 = hash_of(f->typed, "{\"type\":\"fill\",\"goal\":{\"metric\":\"level\","
					"\"reference\":1},\"params\":{\"rate\":1,\"operator\":\"a\"}}");
	assert_true(p1 == hash_of(f->typed, "{\"type\":\"fill\",\"params\":{\"operator\":\"a\","
					    "\"rate\":1},\"goal\":{\"metric\":\"level\","
					    "\"reference\":1}}"));
	assert_true(p1 != hash_of(f->typed, "{\"type\":\"fill\",\"goal\":{\"metric\":\"level\","
					    "\"reference\":1},\"params\":{\"rate\":1,"
					    "\"operator\":\"b\"}}"));
	assert_true(p1 != hash_of(f->typed, "{\"type\":\"fill\",\"goal\":{\"metric\":\"level\","
					    "\"reference\":1},\"params\":{\"rate\":1}}"));
}

/* Every outcome of a parse is 0 or a 400 with a code; nothing leaks. */
static void check_any(const struct itd_scenario *s, const char *body, size_t len)
{
	struct srv_submit sb;
	struct srv_bad bad = {0};
	int rc = srv_submit_parse(s, body, len, &sb, &bad);
	assert_true(rc == ITD_OK || rc == ITD_EINVAL || rc == ITD_ENOMEM);
	if (rc == ITD_EINVAL) {
		assert_non_null(bad.code);
		assert_int_equal(bad.status, 400);
	}
	srv_submit_fini(&sb);
	srv_bad_fini(&bad);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_fuzz(void **state)
{
	struct fx *f = *state;
	static const char *const seeds[] = {
		"{\"type\":\"orbit_correction\",\"goal\":{\"metric\":\"position\",\"reference\":3,"
		"\"tolerance\":0.1},\"params\":{},\"priority\":0,\"deadline_ticks\":600,"
		"\"idempotency_key\":\"op-42\",\"source\":\"ground\"}",
		"{\"type\":\"fill\",\"goal\":{\"metric\":\"level\",\"reference\":80},"
		"\"params\":{\"dry\":true,\"rate\":2.5,\"operator\":\"alice\",\"ticket\":\"T-1\"}}",
	};
	static const char *const tokens[] = {
		"{", "}", "[", "]", ",", ":", "\"type\"", "\"goal\"", "\"params\"", "\"rate\"",
		"\"metric\"", "\"reference\"", "\"level\"", "\"fill\"", "null", "true", "1e999",
		"-0", "\"\\u0000\"", "\"\\ud800\"", "0.5", "\"x\"", " ", "\"source\"",
		"\"deadline_ticks\"", "\"idempotency_key\"", "\"tolerance\"", "\"orbit_correction\"",
	};
	char buf[1024];
	for (int iter = 0; iter < 30000; iter++) {
		const struct itd_scenario *s = iter & 1 ? f->typed : f->craft;
		size_t len = 0;
		switch (iter % 3) {
		case 0: { /* random bytes */
			len = rnd() % 64;
			for (size_t i = 0; i < len; i++)
				buf[i] = (char)(rnd() & 0xff);
			break;
		}
		case 1: { /* a valid body with a few bytes changed, cut or doubled */
			const char *seed = seeds[rnd() % 2];
			len = strlen(seed);
			memcpy(buf, seed, len);
			for (int k = (int)(rnd() % 4); k >= 0; k--) {
				size_t at = rnd() % len;
				switch (rnd() % 3) {
				case 0:
					buf[at] = (char)(rnd() & 0x7f);
					break;
				case 1:
					len = at + 1;
					break;
				default:
					if (len + (len - at) < sizeof buf) {
						memmove(buf + len, buf + at, len - at);
						len += len - at;
					}
					break;
				}
			}
			break;
		}
		default: { /* a soup of JSON tokens */
			size_t n = 1 + rnd() % 40;
			for (size_t i = 0; i < n; i++) {
				const char *t = tokens[rnd() % (sizeof tokens / sizeof *tokens)];
				size_t tl = strlen(t);
				if (len + tl >= sizeof buf)
					break;
				memcpy(buf + len, t, tl);
				len += tl;
			}
			break;
		}
		}
		buf[len] = '\0';
		check_any(s, buf, len);
	}
	/* Deep nesting stays within cJSON's limit and is refused cleanly. */
	static char deep[8192];
	size_t n = 0;
	n += (size_t)snprintf(deep, sizeof deep, "{\"type\":\"fill\",\"params\":");
	for (int i = 0; i < 2000 && n < sizeof deep - 2; i++)
		deep[n++] = '[';
	deep[n] = '\0';
	check_any(f->typed, deep, n);
}

static void *hook_malloc(size_t n)
{
	return itd_malloc(n);
}

static void hook_free(void *p)
{
	itd_free(p);
}

/* Every allocation cJSON and the parser make, failed in turn. */
static void test_alloc_failures(void **state)
{
	struct fx *f = *state;
	cJSON_Hooks hooks = {hook_malloc, hook_free};
	cJSON_InitHooks(&hooks);
	const char *bodies[] = {
		("{\"type\":\"fill\",\"goal\":{\"metric\":\"level\",\"reference\":80},"
		 "\"params\":{\"dry\":true,\"rate\":2.5,\"operator\":\"alice\"},\"idempotency_key\":\"k\"}"),
		"{\"type\":\"warp\"}",
		"{\"type\":\"fill\",\"x\":1,\"y\":2}",
		"{\"type\":\"fill\",\"goal\":{\"metric\":\"level\",\"reference\":1},\"params\":{\"zz\":1}}",
	};
	for (size_t b = 0; b < sizeof bodies / sizeof *bodies; b++) {
		for (long n = 1;; n++) {
			itd_alloc_fail_at(n);
			check_any(f->typed, bodies[b], strlen(bodies[b]));
			bool failed = itd_alloc_failed();
			itd_alloc_fail_at(0);
			if (!failed)
				break;
			assert_true(n < 10000);
		}
	}
	cJSON_InitHooks(NULL);
}

/* Records as JSON, on an engine that ran a few ticks. */
static void test_intent_json(void **state)
{
	struct fx *f = *state;
	struct itd_engine *e = NULL;
	struct itd_engine_config cfg = {.scn = f->typed, .seed = 1, .clock = ITD_CLOCK_SIM};
	assert_int_equal(itd_engine_create(&cfg, &e), ITD_OK);
	struct srv_submit sb;
	struct srv_bad bad;
	assert_int_equal(parse(f->typed,
			       "{\"type\":\"fill\",\"goal\":{\"metric\":\"level\",\"reference\":60},"
			       "\"params\":{\"rate\":4,\"ticket\":\"T-9\"},\"idempotency_key\":\"k1\","
			       "\"deadline_ticks\":50}",
			       &sb, &bad),
			 ITD_OK);
	sb.sub.actor = "alice";
	struct itd_receipt rcpt;
	char msg[256];
	assert_int_equal(itd_engine_submit(e, &sb.sub, &rcpt, msg, sizeof msg), ITD_OK);
	srv_submit_fini(&sb);
	for (int i = 0; i < 5; i++)
		itd_engine_step(e);

	const struct itd_intent *in = itd_intents_get(itd_engine_intents(e), rcpt.id);
	assert_non_null(in);
	cJSON *j = srv_json_intent(e, in, false);
	assert_string_equal(dstr(j, "id"), rcpt.id);
	assert_string_equal(dstr(j, "type"), "fill");
	assert_string_equal(dstr(j, "actor"), "alice");
	assert_null(cJSON_GetObjectItem(j, "history"));
	cJSON_Delete(j);

	j = srv_json_intent(e, in, true);
	assert_string_equal(dstr(j, "status"), "completed");
	assert_string_equal(dstr(j, "idempotency_key"), "k1");
	const cJSON *p = cJSON_GetObjectItem(j, "params");
	assert_true(cJSON_GetObjectItem(p, "rate")->valuedouble == 4);
	assert_string_equal(dstr(p, "ticket"), "T-9");
	assert_string_equal(dstr(p, "operator"), "auto"); /* the default */
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(p, "dry")));
	assert_string_equal(dstr(cJSON_GetObjectItem(j, "goal"), "metric"), "level");
	assert_true(cJSON_GetObjectItem(j, "deadline_tick")->valuedouble == 51);
	const cJSON *h = cJSON_GetObjectItem(j, "history");
	int n = cJSON_GetArraySize(h);
	assert_true(n >= 3);
	assert_true(cJSON_GetObjectItem(j, "history_total")->valuedouble == n);
	assert_string_equal(dstr(cJSON_GetArrayItem(h, 0), "to"), "received");
	assert_string_equal(dstr(cJSON_GetArrayItem(h, n - 1), "to"), "completed");
	const char *story = dstr(j, "explanation");
	assert_non_null(strstr(story, "received at tick 1 from ground by alice"));
	assert_non_null(strstr(story, "Completed at tick"));
	assert_non_null(cJSON_GetObjectItem(j, "last_verdict"));
	cJSON_Delete(j);
	itd_engine_destroy(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_full),      cmocka_unit_test(test_typed_params),
		cmocka_unit_test(test_top_level_errors), cmocka_unit_test(test_goal_errors),
		cmocka_unit_test(test_body_hash),       cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_alloc_failures),  cmocka_unit_test(test_intent_json),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
